#!/usr/bin/env bats
#
# UDP (-u): connect, listen and echo over datagrams, IP and UNIX
# (SPEC.md, "UDP (connect, listen, echo)"). Datagram boundaries (0, 1,
# 1472 and 65,507 bytes, stdin split at 65,507, --lines), the connected
# client's ECONNREFUSED and its wait for replies after stdin's EOF, the
# first peer of listen and the peers of listen -k (ids, -t expiry, -m),
# replies from the address a datagram came to, echo -u, interop with
# OpenBSD nc, socat and Node's dgram, UNIX datagram sockets, usage errors.
#
# The UDP peer written here (udppeer.py, Python) binds port 0 and prints a
# server.listening line as netkit does, so nk_port works for it; it logs
# every datagram it receives (peer.message, with its source address) to
# stderr. Peers that cannot bind port 0 and report it (nc -l, socat) get a
# port that netkit bound and released.
#
# stderr is set by bats' run --separate-stderr.
# shellcheck disable=SC2154

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export D=$BATS_FILE_TMPDIR PY=
	if command -v python3 >/dev/null; then
		PY=$(python3 -c 'import sys; print(sys.executable)')
	fi
	: >"$D/f0"
	nk_random "$D/f1" 1
	nk_random "$D/f1472" 1472
	nk_random "$D/f65507" 65507
	nk_random "$D/f100000" 100000
	head -c 65507 "$D/f100000" >"$D/f100000.a"
	tail -c 34493 "$D/f100000" >"$D/f100000.b"
	cat "$D/f1" "$D/f1472" "$D/f65507" >"$D/sizes.cat"

	# python3 udppeer.py FAMILY BIND TARGET ACTION...
	#   FAMILY 4, 6 or unix; BIND an address (port 0) or, for unix, a
	#   path ("-": 127.0.0.1 or ::1; for unix an autobind name); TARGET
	#   HOST:PORT ([ADDR]:PORT) or a path, "-" for none: a server, which
	#   prints server.listening and answers whoever sent last.
	# Actions: send:TEXT (backslash escapes), file:PATH (one datagram),
	#   zero (an empty datagram), recv (one datagram to stdout), sum (one
	#   datagram as "BYTES SHA256"), cat:MS (datagrams to stdout until MS
	#   ms pass without one), echo (one datagram back to its sender),
	#   wait:PATH (until PATH exists), touch:PATH, sleep:MS, quiet:MS (exit 4
	#   if a datagram comes within MS ms). A receive waits 10 s at most
	#   (exit 3). stderr: peer.bound local=ADDR, then peer.message
	#   remote=ADDR bytes=N for each datagram received.
	# python3 udppeer.py pending FIFO: the bytes waiting in FIFO.
	cat >"$D/udppeer.py" <<-'EOF'
	import hashlib, os, socket, sys, time

	def addr_str(a):
	    if isinstance(a, bytes):
	        return "@" + a[1:].decode("latin-1") if a[:1] == b"\0" else a.decode()
	    if isinstance(a, str):
	        return a
	    return ("[%s]:%d" if ":" in a[0] else "%s:%d") % (a[0], a[1])

	def ev(line):
	    sys.stderr.write(line + "\n")
	    sys.stderr.flush()

	def unescape(t):
	    return t.encode("latin-1").decode("unicode_escape").encode("latin-1")

	def main(argv):
	    if argv[0] == "pending":
	        import fcntl, struct, termios
	        fd = os.open(argv[1], os.O_RDONLY | os.O_NONBLOCK)
	        b = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
	        print(struct.unpack("i", b)[0])
	        return 0
	    fam, bind, target, acts = argv[0], argv[1], argv[2], argv[3:]
	    if fam == "unix":
	        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	        s.bind(b"" if bind == "-" else bind)
	        dest = None if target == "-" else target
	    else:
	        af = socket.AF_INET6 if fam == "6" else socket.AF_INET
	        s = socket.socket(af, socket.SOCK_DGRAM)
	        if bind == "-":
	            bind = "::1" if fam == "6" else "127.0.0.1"
	        s.bind((bind, 0))
	        dest = None
	        if target != "-":
	            h, p = target.rsplit(":", 1)
	            dest = (h.strip("[]"), int(p))
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
	    local = s.getsockname()
	    ev("event=peer.bound local=%s" % addr_str(local))
	    if dest is None and fam != "unix":
	        ev("event=server.listening address=%s port=%d family=IPv%s"
	           % (local[0], local[1], fam))
	    last = [dest]
	    out = sys.stdout.buffer

	    def recv(secs):
	        s.settimeout(max(secs, 0.001))
	        try:
	            data, src = s.recvfrom(1 << 17)
	        except socket.timeout:
	            return None
	        ev("event=peer.message remote=%s bytes=%d" % (addr_str(src), len(data)))
	        last[0] = src
	        return data

	    def must_recv():
	        d = recv(10)
	        if d is None:
	            ev("udppeer: no datagram within 10 s")
	            sys.exit(3)
	        return d

	    def send(data):
	        s.sendto(data, last[0])

	    for a in acts:
	        verb, _, arg = a.partition(":")
	        if verb == "send":
	            send(unescape(arg))
	        elif verb == "file":
	            with open(arg, "rb") as f:
	                send(f.read())
	        elif verb == "zero":
	            send(b"")
	        elif verb == "recv":
	            out.write(must_recv())
	            out.flush()
	        elif verb == "sum":
	            d = must_recv()
	            out.write(b"%d %s\n" % (len(d), hashlib.sha256(d).hexdigest().encode()))
	            out.flush()
	        elif verb == "cat":
	            d = must_recv()
	            while d is not None:
	                out.write(d)
	                out.flush()
	                d = recv(int(arg) / 1000)
	        elif verb == "echo":
	            send(must_recv())
	        elif verb == "wait":
	            end = time.monotonic() + 20
	            while not os.path.exists(arg):
	                if time.monotonic() > end:
	                    ev("udppeer: %s never appeared" % arg)
	                    return 5
	                time.sleep(0.01)
	        elif verb == "touch":
	            open(arg, "w").close()
	        elif verb == "sleep":
	            time.sleep(int(arg) / 1000)
	        elif verb == "quiet":
	            d = recv(int(arg) / 1000)
	            if d is not None:
	                ev("udppeer: unexpected datagram of %d bytes" % len(d))
	                return 4
	        else:
	            ev("udppeer: bad action " + a)
	            return 2
	    return 0

	sys.exit(main(sys.argv[1:]))
	EOF

	# node dgram.js client PORT FILE...: each FILE as one datagram to
	# 127.0.0.1:PORT, the next after the reply; "BYTES SHA256 FROM" for
	# each reply. node dgram.js server COUNT: on 127.0.0.1 port 0
	# (server.listening on stderr), each datagram answered upper-cased and
	# printed as "BYTES SHA256"; ends after COUNT.
	cat >"$D/dgram.js" <<-'EOF'
	const dgram = require('dgram'), crypto = require('crypto'), fs = require('fs');
	const [mode, arg, ...files] = process.argv.slice(2);
	const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
	const s = dgram.createSocket('udp4');
	if (mode === 'client') {
		const bufs = files.map((f) => fs.readFileSync(f));
		let i = 0;
		s.on('message', (m, r) => {
			process.stdout.write(`${m.length} ${sha(m)} ${r.address}:${r.port}\n`);
			if (++i < bufs.length) s.send(bufs[i], +arg, '127.0.0.1');
			else s.close();
		});
		s.send(bufs[0], +arg, '127.0.0.1');
	} else {
		let n = 0;
		s.on('listening', () => {
			const a = s.address();
			process.stderr.write(`event=server.listening address=${a.address} port=${a.port} family=IPv4\n`);
		});
		s.on('message', (m, r) => {
			process.stdout.write(`${m.length} ${sha(m)}\n`);
			const up = Buffer.from(m.toString('latin1').toUpperCase(), 'latin1');
			s.send(up, r.port, r.address, () => { if (++n === +arg) s.close(); });
		});
		s.bind(0, '127.0.0.1');
	}
	setTimeout(() => {
		process.stderr.write('dgram.js: timed out\n');
		process.exit(3);
	}, 15000).unref();
	EOF
}

setup() {
	T=$BATS_TEST_TMPDIR
}

need_py() { [ -n "$PY" ] || skip "python3 not installed"; }
need() { command -v "$1" >/dev/null || skip "$1 not installed"; }
need_ipv6() {
	"${PY:-python3}" -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' \
	    2>/dev/null || skip "no IPv6 loopback"
}

# upeer NAME ARGS...: start udppeer.py (above) as NAME.
upeer() {
	local name=$1
	shift
	nk_start "$name" "$PY" "$D/udppeer.py" "$@"
}

# upeer_local NAME: the address NAME's socket is bound to.
upeer_local() {
	nk_wait_line "$1" '^event=peer\.bound ' || return 1
	sed -nE 's/^event=peer\.bound local=//p' "$(nk_err "$1")"
}

# peer_sizes NAME: the sizes of the datagrams NAME received, in order.
peer_sizes() {
	sed -nE 's/^event=peer\.message remote=[^ ]+ bytes=([0-9]+)$/\1/p' \
	    "$(nk_err "$1")" | xargs
}

# sumline FILE: "BYTES SHA256" of FILE, as udppeer's sum prints it.
sumline() { echo "$(stat -c %s "$1") $(nk_sha "$1")"; }

# pending_is N: $FIFO holds N unread bytes.
pending_is() { [ "$("$PY" "$D/udppeer.py" pending "$FIFO")" = "$1" ]; }

# has_line NAME LINE: NAME's stderr has exactly LINE (shown if not).
has_line() {
	grep -Fxq -- "$2" "$(nk_err "$1")" && return 0
	echo "$1: no line '$2' in:" >&2
	cat "$(nk_err "$1")" >&2
	return 1
}

# last_lines NAME N: the last N lines of NAME's stderr, space-joined.
last_lines() { tail -n "$2" "$(nk_err "$1")" | paste -sd' '; }

# term_ok NAME: SIGTERM to NAME, which must exit 0 with server.close as
# its last line.
term_ok() {
	nk_signal "$1"
	nk_ok "$1" 10
	[ "$(tail -n 1 "$(nk_err "$1")")" = event=server.close ]
}

# free_udp_port: set $PORT to a UDP loopback port that netkit just bound
# and released (SIGTERM: exit 0, server.close).
free_udp_port() {
	nk_listen probe -u -H 127.0.0.1
	term_ok probe
}

# wait_udp_bound NAME: wait until a UDP socket is bound to $PORT; fail if
# NAME exits first.
wait_udp_bound() {
	local deadline=$((SECONDS + 10))
	until [ -n "$(ss -Hlun "sport = :$PORT")" ]; do
		if ! nk_running "$1" || [ "$SECONDS" -ge "$deadline" ]; then
			echo "$1 never bound UDP port $PORT:" >&2
			cat "$(nk_err "$1")" >&2
			return 1
		fi
		sleep 0.02
	done
}

# usage_errors: each line of stdin is the arguments of one netkit command
# (split at spaces); all run at once, and each must exit 2 with nothing on
# stdout and one "netkit: " line on stderr.
usage_errors() {
	local i=0 n line args cmds=() pids=() bad=0 status
	while read -r line; do
		[ -n "$line" ] || continue
		i=$((i + 1))
		cmds[i]=$line
		read -ra args <<<"$line"
		timeout 3 "$NETKIT" "${args[@]}" >"$T/usage$i.out" 2>"$T/usage$i.err" &
		pids[i]=$!
	done
	for n in $(seq "$i"); do
		wait "${pids[n]}" && status=0 || status=$?
		if [ "$status" -ne 2 ] || [ -s "$T/usage$n.out" ] ||
		    [ "$(wc -l <"$T/usage$n.err")" -ne 1 ] ||
		    [ "$(head -c 8 "$T/usage$n.err")" != "netkit: " ]; then
			echo "netkit ${cmds[n]}: expected exit 2 and one 'netkit: ' line on stderr"
			echo "status: $status"
			echo "stdout: $(cat "$T/usage$n.out")"
			echo "stderr: $(cat "$T/usage$n.err")"
			bad=1
		fi >&2
	done
	[ "$i" -gt 0 ] && [ "$bad" = 0 ]
}

# ---------------------------------------------------------------- events

@test "server.listening ends with protocol: udp, unixgram, and tcp and unix for streams" {
	nk_start lu "$NETKIT" listen -u --events -H 127.0.0.1 0
	nk_start eu "$NETKIT" echo -u --events -p 0
	nk_start lg "$NETKIT" listen -u --events -U "$T/lg.sock"
	nk_start eg "$NETKIT" echo -u --events -U "$T/eg.sock"
	nk_start et "$NETKIT" echo --events -H 127.0.0.1 -p 0
	nk_start es "$NETKIT" echo --events -U "$T/es.sock"
	local n
	for n in lu eu lg eg et es; do
		nk_wait_line "$n" 'server\.listening'
	done
	PORT=$(nk_port lu)
	run nk_events lu server.listening
	assert_output "event=server.listening address=127.0.0.1 port=$PORT family=IPv4 protocol=udp"
	PORT=$(nk_port eu)
	run nk_events eu server.listening
	assert_output "event=server.listening address=:: port=$PORT family=IPv6 protocol=udp"
	run nk_events lg server.listening
	assert_output "event=server.listening path=$T/lg.sock protocol=unixgram"
	run nk_events eg server.listening
	assert_output "event=server.listening path=$T/eg.sock protocol=unixgram"
	PORT=$(nk_port et)
	run nk_events et server.listening
	assert_output "event=server.listening address=127.0.0.1 port=$PORT family=IPv4 protocol=tcp"
	run nk_events es server.listening
	assert_output "event=server.listening path=$T/es.sock protocol=unix"
	for n in lu eu lg eg et es; do
		nk_signal "$n"
	done
	for n in lu eu lg eg et es; do
		nk_ok "$n" 10
		[ "$(tail -n 1 "$(nk_err "$n")")" = event=server.close ]
	done
	[ ! -e "$T/lg.sock" ] && [ ! -e "$T/eg.sock" ] && [ ! -e "$T/es.sock" ]
}

@test "--events=json: server.listening and socket.message of echo -u, typed; SIGINT ends it, exit 0" {
	need_py
	nk_start srv "$NETKIT" echo -u -H 127.0.0.1 -p 0 --events=json
	PORT=$(nk_port srv)
	upeer cli 4 - "127.0.0.1:$PORT" send:hello recv
	nk_ok cli
	[ "$(cat "$(nk_out cli)")" = hello ]
	local c
	c=$(upeer_local cli)
	nk_wait_line srv 'socket\.message'
	# SIGINT ends echo -u as SIGTERM does.
	nk_signal srv INT
	nk_ok srv 10
	run "$PY" -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
want = [
    {"event": "server.listening", "address": "127.0.0.1", "port": int(sys.argv[2]),
     "family": "IPv4", "protocol": "udp"},
    {"event": "socket.message", "remote": sys.argv[3], "bytes": 5},
    {"event": "server.close"},
]
if ev != want:
    print("got ", ev)
    print("want", want)
    sys.exit(1)
' "$(nk_err srv)" "$PORT" "$c"
	assert_success
}

# ------------------------------------------------------ datagram boundaries

@test "listen -u: datagrams of 1, 0, 1472 and 65507 bytes reach stdout whole, one socket.message each" {
	need_py
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -u -H 127.0.0.1
	upeer cli 4 - "127.0.0.1:$PORT" file:"$D/f1" zero file:"$D/f1472" file:"$D/f65507"
	nk_ok cli
	local c
	c=$(upeer_local cli)
	nk_wait_count srv '^event=socket\.message ' 4
	nk_wait_size "$(nk_out srv)" 66980
	[ "$(nk_sha "$(nk_out srv)")" = "$(nk_sha "$D/sizes.cat")" ]
	run nk_events srv server.connection
	assert_output "event=server.connection id=1 remote=$c connections=1"
	run nk_events srv socket.message
	assert_output "$(printf "event=socket.message id=1 remote=$c bytes=%s\n" 1 0 1472 65507)"
	term_ok srv
	nk_fifo_close
	[ "$(last_lines srv 2)" = "event=socket.close id=1 had_error=false bytes_read=66980 bytes_written=0 event=server.close" ]
	[ "$(stat -c %s "$(nk_out srv)")" = 66980 ]
}

@test "connect -u: datagrams of 1, 0, 1472 and 65507 bytes from the peer reach stdout whole" {
	need_py
	upeer srv 4 127.0.0.1 - recv file:"$D/f1" zero file:"$D/f1472" file:"$D/f65507"
	PORT=$(nk_port srv)
	run --separate-stderr bash -c "printf go | timeout 10 '$NETKIT' connect -u -t 500 --events 127.0.0.1 $PORT >'$T/out'"
	assert_success
	nk_ok srv
	[ "$(cat "$(nk_out srv)")" = go ]
	[ "$(nk_sha "$T/out")" = "$(nk_sha "$D/sizes.cat")" ]
	local c
	c=$(sed -nE 's/^event=peer\.message remote=([^ ]+) .*/\1/p' "$(nk_err srv)")
	[ "$(grep '^event=' <<<"$stderr")" = "$(
		echo "event=socket.connect id=1 local=$c remote=127.0.0.1:$PORT"
		printf "event=socket.message id=1 remote=127.0.0.1:$PORT bytes=%s\n" 1 0 1472 65507
		echo "event=socket.timeout id=1"
		echo "event=socket.close id=1 had_error=false bytes_read=66980 bytes_written=2")" ]
}

@test "connect -u: one 65507-byte write into the stdin pipe is one datagram; 100000 bytes are 65507 + 34493 (a file) or pieces of at most 65507 (a pipe)" {
	need_py
	# Three receivers that read only once their sender has exited, so
	# that every datagram sent is waiting in their queue.
	local i port
	for i in 1 2 3; do
		upeer "r$i" 4 127.0.0.1 - wait:"$T/sent$i" cat:200
	done
	port=$(nk_port r1)
	nk_start c1 bash -c "cat '$D/f65507' | exec '$NETKIT' connect -u -t 200 127.0.0.1 $port"
	port=$(nk_port r2)
	NK_STDIN=$D/f100000 nk_start c2 "$NETKIT" connect -u -t 200 --events 127.0.0.1 "$port"
	port=$(nk_port r3)
	nk_start c3 bash -c "cat '$D/f100000' | exec '$NETKIT' connect -u -t 200 127.0.0.1 $port"
	for i in 1 2 3; do
		nk_ok "c$i"
		[ ! -s "$(nk_out "c$i")" ]
		touch "$T/sent$i"
		nk_ok "r$i"
	done

	[ "$(peer_sizes r1)" = 65507 ]
	[ "$(nk_sha "$(nk_out r1)")" = "$(nk_sha "$D/f65507")" ]

	[ "$(peer_sizes r2)" = "65507 34493" ]
	[ "$(nk_sha "$(nk_out r2)")" = "$(nk_sha "$D/f100000")" ]
	has_line c2 "event=socket.close id=1 had_error=false bytes_read=0 bytes_written=100000"

	local n total=0
	for n in $(peer_sizes r3); do
		[ "$n" -gt 0 ] && [ "$n" -le 65507 ]
		total=$((total + n))
	done
	[ "$total" = 100000 ]
	[ "$(nk_sha "$(nk_out r3)")" = "$(nk_sha "$D/f100000")" ]
}

@test "listen -u: one 65507-byte write into stdin is one datagram to the peer" {
	need_py
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -u -H 127.0.0.1
	upeer cli 4 - "127.0.0.1:$PORT" send:hi cat:300
	nk_wait_line srv '^event=server\.connection id=1 '
	cat "$D/f65507" >&7
	nk_ok cli
	[ "$(peer_sizes cli)" = 65507 ]
	[ "$(nk_sha "$(nk_out cli)")" = "$(nk_sha "$D/f65507")" ]
	[ "$(cat "$(nk_out srv)")" = hi ]
	term_ok srv
	nk_fifo_close
	has_line srv "event=socket.close id=1 had_error=false bytes_read=2 bytes_written=65507"
}

# ------------------------------------------------------------------ --lines

@test "connect -u --lines: each line with its LF one datagram, the unterminated last line one too" {
	need_py
	upeer rcv 4 127.0.0.1 - wait:"$T/sent" cat:200
	PORT=$(nk_port rcv)
	run bash -c "printf 'one\ntwo two\n\nlast' | timeout 10 '$NETKIT' connect -u --lines -t 200 127.0.0.1 $PORT"
	assert_success
	touch "$T/sent"
	nk_ok rcv
	[ "$(peer_sizes rcv)" = "4 8 1 4" ]
	[ "$(cat "$(nk_out rcv)")" = "$(printf 'one\ntwo two\n\nlast')" ]

	# Without --lines the same input (one read) is one datagram.
	upeer rcv2 4 127.0.0.1 - wait:"$T/sent2" cat:200
	PORT=$(nk_port rcv2)
	run bash -c "printf 'one\ntwo two\n\nlast' | timeout 10 '$NETKIT' connect -u -t 200 127.0.0.1 $PORT"
	assert_success
	touch "$T/sent2"
	nk_ok rcv2
	[ "$(peer_sizes rcv2)" = 17 ]
}

@test "connect -u --lines: a line that spans stdin reads is one datagram" {
	need_py
	upeer rcv 4 127.0.0.1 - wait:"$T/sent" cat:200
	PORT=$(nk_port rcv)
	nk_fifo
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect -u --lines -t 200 --events 127.0.0.1 "$PORT"
	nk_wait_line cli '^event=socket\.connect '
	printf ab >&7
	nk_until 10 "netkit read 'ab'" pending_is 0
	printf 'c\nd' >&7
	nk_until 10 "netkit read 'c\\nd'" pending_is 0
	nk_fifo_close
	nk_ok cli
	touch "$T/sent"
	nk_ok rcv
	[ "$(peer_sizes rcv)" = "4 1" ]
	[ "$(cat "$(nk_out rcv)")" = "$(printf 'abc\nd')" ]
}

@test "connect -u --lines: a line longer than 65507 bytes is split at 65507" {
	need_py
	{ printf 'a\n'; head -c 70000 /dev/zero | tr '\0' x; printf '\nz\n'; } >"$T/in"
	upeer rcv 4 127.0.0.1 - wait:"$T/sent" cat:200
	PORT=$(nk_port rcv)
	run timeout 10 "$NETKIT" connect -u --lines -t 200 127.0.0.1 "$PORT" <"$T/in"
	assert_success
	touch "$T/sent"
	nk_ok rcv
	[ "$(peer_sizes rcv)" = "2 65507 4494 2" ]
	[ "$(nk_sha "$(nk_out rcv)")" = "$(nk_sha "$T/in")" ]
}

@test "listen -u --lines: stdin's lines go to the peer one datagram each" {
	need_py
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -u --lines -H 127.0.0.1
	upeer cli 4 - "127.0.0.1:$PORT" send:hi cat:300
	nk_wait_line srv '^event=server\.connection id=1 '
	printf 'a\nbb\nccc' >&7
	nk_fifo_close
	nk_ok cli
	[ "$(peer_sizes cli)" = "2 3 3" ]
	[ "$(cat "$(nk_out cli)")" = "$(printf 'a\nbb\nccc')" ]
	term_ok srv
}

# ------------------------------------------------------------ connect -u

@test "connect -u to a port just freed: ECONNREFUSED, the exact line, socket.error, socket.close had_error=true, exit 1" {
	free_udp_port
	run --separate-stderr bash -c "printf hi | timeout 10 '$NETKIT' connect -u 127.0.0.1 $PORT"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "netkit: connect 127.0.0.1:$PORT: Connection refused (ECONNREFUSED)" ]

	run --separate-stderr bash -c "printf hi | timeout 10 '$NETKIT' connect -u --events 127.0.0.1 $PORT"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(grep -v '^event=' <<<"$stderr")" = "netkit: connect 127.0.0.1:$PORT: Connection refused (ECONNREFUSED)" ]
	grep '^event=' <<<"$stderr" | sed -n 1p |
	    grep -Eqx "event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$PORT"
	grep -Fxq 'event=socket.error id=1 code=ECONNREFUSED message="Connection refused"' <<<"$stderr"
	[ "$(grep '^event=' <<<"$stderr" | tail -n 1)" = "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=2" ]
	[ "$(grep -c '^event=' <<<"$stderr")" = 3 ]
}

@test "connect -u: after stdin's EOF a reply 400 ms later is printed; exit 0 once 1000 ms pass without one (the default)" {
	need_py
	# "late" would come 6 s after the client exits, if it did not.
	upeer srv 4 127.0.0.1 - recv sleep:400 send:pong sleep:6000 send:late
	PORT=$(nk_port srv)
	local t0 t1
	t0=$(date +%s%N)
	run --separate-stderr bash -c "printf ping | timeout 20 '$NETKIT' connect -u --events 127.0.0.1 $PORT"
	t1=$(date +%s%N)
	assert_success
	[ "$output" = pong ]
	[ "$(cat "$(nk_out srv)")" = ping ]
	local c
	c=$(sed -nE 's/^event=peer\.message remote=([^ ]+) .*/\1/p' "$(nk_err srv)")
	[ "$stderr" = "$(
		echo "event=socket.connect id=1 local=$c remote=127.0.0.1:$PORT"
		echo "event=socket.message id=1 remote=127.0.0.1:$PORT bytes=4"
		echo "event=socket.timeout id=1"
		echo "event=socket.close id=1 had_error=false bytes_read=4 bytes_written=4")" ]
	# The idle time counts from the last datagram (400 + 1000 ms).
	[ $(((t1 - t0) / 1000000)) -ge 1300 ]
}

@test "connect -u -t: -t 1600 waits for a reply 1100 ms after EOF, -t 200 does not, -t 0 waits for ever" {
	need_py
	printf ping >"$T/ping"
	local p1 p2 p3
	upeer s1 4 127.0.0.1 - recv sleep:1100 send:pong
	upeer s2 4 127.0.0.1 - recv sleep:1100 send:pong
	upeer s3 4 127.0.0.1 - recv sleep:1500 send:pong
	p1=$(nk_port s1)
	p2=$(nk_port s2)
	p3=$(nk_port s3)
	NK_STDIN=$T/ping nk_start c1 "$NETKIT" connect -u -t 1600 127.0.0.1 "$p1"
	NK_STDIN=$T/ping nk_start c2 "$NETKIT" connect -u -t 200 --events 127.0.0.1 "$p2"
	NK_STDIN=$T/ping nk_start c3 "$NETKIT" connect -u -t 0 127.0.0.1 "$p3"
	nk_ok c2
	[ ! -s "$(nk_out c2)" ]
	[ "$(last_lines c2 2)" = "event=socket.timeout id=1 event=socket.close id=1 had_error=false bytes_read=0 bytes_written=4" ]
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = pong ]
	nk_ok s1
	nk_wait_size "$(nk_out c3)" 4
	[ "$(cat "$(nk_out c3)")" = pong ]
	nk_running c3
}

# ---------------------------------------------------------------- listen -u

@test "listen -u: stdin is not read before the first peer has sent; what was written early goes to it" {
	need_py
	nk_fifo
	printf 'early\n' >&7
	NK_STDIN=$FIFO nk_listen srv -u -H 127.0.0.1
	pending_is 6
	upeer cli 4 - "127.0.0.1:$PORT" send:hi recv
	nk_ok cli
	[ "$(cat "$(nk_out cli)")" = early ]
	term_ok srv
	nk_fifo_close
}

@test "listen -u: the first sender is the one peer; another's datagram is dropped (server.drop reason=peer), stdin goes to the first only" {
	need_py
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -u -H 127.0.0.1
	upeer a 4 - "127.0.0.1:$PORT" 'send:from-a\n' wait:"$T/a2" 'send:again-a\n' recv
	nk_wait_line srv '^event=server\.connection id=1 '
	upeer b 4 - "127.0.0.1:$PORT" 'send:from-b\n' wait:"$T/b2" quiet:300
	local a b
	a=$(upeer_local a)
	b=$(upeer_local b)
	nk_wait_line srv '^event=server\.drop '
	touch "$T/a2"
	nk_wait_count srv '^event=socket\.message ' 2
	printf 'to-a\n' >&7
	nk_ok a
	[ "$(cat "$(nk_out a)")" = to-a ]
	# b gets nothing, not even in the 300 ms after a got its datagram.
	touch "$T/b2"
	nk_ok b
	[ "$(peer_sizes b)" = "" ]

	[ "$(cat "$(nk_out srv)")" = "$(printf 'from-a\nagain-a')" ]
	run nk_events srv server.connection
	assert_output "event=server.connection id=1 remote=$a connections=1"
	run nk_events srv server.drop
	assert_output "event=server.drop remote=$b connections=1 reason=peer"
	run nk_events srv socket.message
	assert_output "event=socket.message id=1 remote=$a bytes=7
event=socket.message id=1 remote=$a bytes=8"
	term_ok srv
	nk_fifo_close
	[ "$(last_lines srv 2)" = "event=socket.close id=1 had_error=false bytes_read=15 bytes_written=5 event=server.close" ]
}

@test "listen -u -t without -k: runs until a peer came, exits 0 once stdin has ended and the peer is idle" {
	need_py
	nk_listen srv -u -t 500 -H 127.0.0.1
	# The peer comes later than -t: no peer yet is no reason to end.
	upeer cli 4 - "127.0.0.1:$PORT" sleep:800 send:x
	nk_ok srv 10
	nk_ok cli
	local c
	c=$(upeer_local cli)
	[ "$(cat "$(nk_out srv)")" = x ]
	[ "$(grep -v '^event=server\.listening' "$(nk_err srv)")" = "$(
		echo "event=server.connection id=1 remote=$c connections=1"
		echo "event=socket.message id=1 remote=$c bytes=1"
		echo "event=socket.timeout id=1"
		echo "event=socket.close id=1 had_error=false bytes_read=1 bytes_written=0"
		echo "event=server.close")" ]
}

@test "listen -u -k: three peers, ids 1 to 3, stdin to each; with -t each expires; exit 0 after stdin's EOF" {
	need_py
	nk_fifo
	# -t leaves a loaded machine time to start all three peers before
	# the first one's idle time is up.
	NK_STDIN=$FIFO nk_listen srv -u -k -t 6000 -H 127.0.0.1
	local i p=()
	for i in 1 2 3; do
		upeer "p$i" 4 - "127.0.0.1:$PORT" "send:hello-$i\\n" recv
		p[i]=$(upeer_local "p$i")
		nk_wait_line srv "^event=server\\.connection id=$i "
	done
	printf 'all\n' >&7
	nk_fifo_close
	for i in 1 2 3; do
		nk_ok "p$i"
		[ "$(cat "$(nk_out "p$i")")" = all ]
	done
	nk_ok srv 15
	[ "$(cat "$(nk_out srv)")" = "$(printf 'hello-1\nhello-2\nhello-3')" ]
	run nk_events srv server.connection
	assert_output "event=server.connection id=1 remote=${p[1]} connections=1
event=server.connection id=2 remote=${p[2]} connections=2
event=server.connection id=3 remote=${p[3]} connections=3"
	for i in 1 2 3; do
		[ "$(grep -E "^event=socket\.[a-z]+ id=$i( |\$)" "$(nk_err srv)")" = "$(
			echo "event=socket.message id=$i remote=${p[i]} bytes=8"
			echo "event=socket.timeout id=$i"
			echo "event=socket.close id=$i had_error=false bytes_read=8 bytes_written=4")" ]
	done
	[ "$(tail -n 1 "$(nk_err srv)")" = event=server.close ]
}

@test "listen -u -k -t 500: a peer that comes back after it expired is a new peer" {
	need_py
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -u -k -t 500 -H 127.0.0.1
	upeer a 4 - "127.0.0.1:$PORT" send:a wait:"$T/again" send:b
	local a
	a=$(upeer_local a)
	nk_wait_line srv '^event=socket\.close id=1 '
	touch "$T/again"
	nk_ok a
	nk_wait_line srv '^event=socket\.message id=2 '
	[ "$(cat "$(nk_out srv)")" = ab ]
	term_ok srv
	nk_fifo_close
	# The second peer may idle out too before the signal on a loaded
	# machine: its socket.timeout is not what this test is about.
	[ "$(grep -v -e '^event=server\.listening' \
	    -e '^event=socket\.timeout id=2$' "$(nk_err srv)")" = "$(
		echo "event=server.connection id=1 remote=$a connections=1"
		echo "event=socket.message id=1 remote=$a bytes=1"
		echo "event=socket.timeout id=1"
		echo "event=socket.close id=1 had_error=false bytes_read=1 bytes_written=0"
		echo "event=server.connection id=2 remote=$a connections=1"
		echo "event=socket.message id=2 remote=$a bytes=1"
		echo "event=socket.close id=2 had_error=false bytes_read=1 bytes_written=0"
		echo "event=server.close")" ]
}

@test "listen -u -k -m 2: a third address is dropped (server.drop without reason), its data never reaches stdout; SIGTERM closes each peer" {
	need_py
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -u -k -m 2 -H 127.0.0.1
	local i p=()
	for i in 1 2; do
		upeer "p$i" 4 - "127.0.0.1:$PORT" "send:peer-$i\\n" recv
		p[i]=$(upeer_local "p$i")
		nk_wait_line srv "^event=server\\.connection id=$i "
	done
	upeer p3 4 - "127.0.0.1:$PORT" 'send:peer-3\n' wait:"$T/p3" quiet:300
	p[3]=$(upeer_local p3)
	nk_wait_line srv '^event=server\.drop '
	printf 'all\n' >&7
	nk_ok p1
	nk_ok p2
	[ "$(cat "$(nk_out p1)")" = all ]
	[ "$(cat "$(nk_out p2)")" = all ]
	touch "$T/p3"
	nk_ok p3
	run nk_events srv server.drop
	assert_output "event=server.drop remote=${p[3]} connections=2"
	[ "$(cat "$(nk_out srv)")" = "$(printf 'peer-1\npeer-2')" ]
	[ -z "$(grep -F "remote=${p[3]}" "$(nk_err srv)" | grep -v '^event=server\.drop ')" ]
	term_ok srv
	nk_fifo_close
	[ "$(tail -n 3 "$(nk_err srv)" | sort | paste -sd' ')" = "event=server.close event=socket.close id=1 had_error=false bytes_read=7 bytes_written=4 event=socket.close id=2 had_error=false bytes_read=7 bytes_written=4" ]
}

# --------------------------------------------- the reply's source address

@test "listen -u on the wildcard answers from the address the datagram came to: connect -u 127.0.0.2 gets stdin" {
	# stdin waits in the pipe for the first peer (a test above): the
	# answer does not wait for this test to see the peer.
	nk_fifo
	printf pong >&7
	NK_STDIN=$FIFO nk_listen srv -u
	has_line srv "event=server.listening address=:: port=$PORT family=IPv6 protocol=udp"
	printf ping >"$T/ping"
	NK_STDIN=$T/ping nk_start cli "$NETKIT" connect -u -t 500 --events 127.0.0.2 "$PORT"
	nk_ok cli
	[ "$(cat "$(nk_out cli)")" = pong ]
	[ "$(cat "$(nk_out srv)")" = ping ]
	local c
	c=$(sed -nE 's/^event=socket\.connect id=1 local=([^ ]+) remote=127\.0\.0\.2:[0-9]+$/\1/p' "$(nk_err cli)")
	[ -n "$c" ]
	has_line srv "event=server.connection id=1 remote=$c connections=1"
	has_line cli "event=socket.message id=1 remote=127.0.0.2:$PORT bytes=4"
	term_ok srv
	nk_fifo_close
}

@test "echo -u on the wildcard answers from the address the datagram came to: 127.0.0.2 and ::1" {
	need_py
	nk_echo_server srv -u
	has_line srv "event=server.listening address=:: port=$PORT family=IPv6 protocol=udp"
	run bash -c "printf ping | timeout 10 '$NETKIT' connect -u -t 300 127.0.0.2 $PORT"
	assert_success
	assert_output ping
	# An unconnected socket takes any source: the echo came from 127.0.0.2.
	upeer p 4 - "127.0.0.2:$PORT" send:hello recv
	nk_ok p
	[ "$(cat "$(nk_out p)")" = hello ]
	has_line p "event=peer.message remote=127.0.0.2:$PORT bytes=5"
	if "$PY" -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
		run bash -c "printf ping6 | timeout 10 '$NETKIT' connect -u -t 300 ::1 $PORT"
		assert_success
		assert_output ping6
		nk_wait_line srv 'remote=\[::1\]:[0-9]+ bytes=5$'
	fi
	term_ok srv
}

@test "-6: listen -u and echo -u on ::1 with connect -u ::1, remote [::1]:PORT" {
	need_ipv6
	nk_echo_server e6 -u -6 -H ::1
	has_line e6 "event=server.listening address=::1 port=$PORT family=IPv6 protocol=udp"
	run --separate-stderr bash -c "printf ping | timeout 10 '$NETKIT' connect -u -6 -t 300 --events ::1 $PORT"
	assert_success
	assert_output ping
	local c
	c=$(sed -nE 's/^event=socket\.connect id=1 local=(\[::1\]:[0-9]+) remote=\[::1\]:[0-9]+$/\1/p' <<<"$stderr")
	[ -n "$c" ]
	grep -Fxq "event=socket.message id=1 remote=[::1]:$PORT bytes=4" <<<"$stderr"
	nk_wait_line e6 '^event=socket\.message '
	has_line e6 "event=socket.message remote=$c bytes=4"
	term_ok e6

	nk_fifo
	printf pong >&7
	NK_STDIN=$FIFO nk_listen l6 -u -6
	has_line l6 "event=server.listening address=:: port=$PORT family=IPv6 protocol=udp"
	printf ping >"$T/ping"
	NK_STDIN=$T/ping nk_start cli "$NETKIT" connect -u -6 -t 500 --events ::1 "$PORT"
	nk_ok cli
	[ "$(cat "$(nk_out cli)")" = pong ]
	[ "$(cat "$(nk_out l6)")" = ping ]
	c=$(sed -nE 's/^event=socket\.connect id=1 local=([^ ]+) .*/\1/p' "$(nk_err cli)")
	has_line l6 "event=server.connection id=1 remote=$c connections=1"
	term_ok l6
	nk_fifo_close
}

# ------------------------------------------------------------------ echo -u

@test "echo -u: datagrams of 1, 0, 1472 and 65507 bytes come back whole; socket.message per datagram, no id, no per-peer state" {
	need_py
	nk_echo_server srv -u -H 127.0.0.1
	upeer p 4 - "127.0.0.1:$PORT" file:"$D/f1" sum zero sum file:"$D/f1472" sum file:"$D/f65507" sum
	nk_ok p
	[ "$(cat "$(nk_out p)")" = "$(for f in f1 f0 f1472 f65507; do sumline "$D/$f"; done)" ]
	[ "$(peer_sizes p)" = "1 0 1472 65507" ]
	[ "$(grep -c "remote=127.0.0.1:$PORT " "$(nk_err p)")" = 4 ]
	local c
	c=$(upeer_local p)
	nk_wait_count srv '^event=socket\.message ' 4
	term_ok srv
	[ "$(cat "$(nk_err srv)")" = "$(
		echo "event=server.listening address=127.0.0.1 port=$PORT family=IPv4 protocol=udp"
		printf "event=socket.message remote=$c bytes=%s\n" 1 0 1472 65507
		echo "event=server.close")" ]
	[ ! -s "$(nk_out srv)" ]
}

@test "echo -u: several senders at once each get their own datagrams back" {
	need_py
	nk_echo_server srv -u -H 127.0.0.1
	local i
	for i in 1 2 3 4; do
		upeer "p$i" 4 - "127.0.0.1:$PORT" "send:one-$i" recv "send:two-$i" recv file:"$D/f1472" sum
	done
	for i in 1 2 3 4; do
		nk_ok "p$i"
		[ "$(cat "$(nk_out "p$i")")" = "one-${i}two-$i$(sumline "$D/f1472")" ]
	done
	term_ok srv
	[ "$(nk_events srv socket.message | wc -l)" = 12 ]
}

# ---------------------------------------------------------------- interop

@test "nc -u (OpenBSD): a client of echo -u and of listen -u" {
	need nc
	nk_echo_server srv -u -H 127.0.0.1
	printf 'ping\n' >"$T/ping"
	NK_STDIN=$T/ping nk_start nce nc -u -w1 127.0.0.1 "$PORT"

	nk_fifo
	NK_STDIN=$FIFO nk_listen lsn -u -H 127.0.0.1
	printf 'hello\n' >"$T/hello"
	NK_STDIN=$T/hello nk_start ncl nc -u -w1 127.0.0.1 "$PORT"
	nk_wait_line lsn '^event=server\.connection id=1 '
	printf 'world\n' >&7
	nk_ok ncl
	[ "$(cat "$(nk_out ncl)")" = world ]
	[ "$(cat "$(nk_out lsn)")" = hello ]
	term_ok lsn
	nk_fifo_close

	nk_ok nce
	[ "$(cat "$(nk_out nce)")" = ping ]
	term_ok srv
}

@test "nc -u -l (OpenBSD): connect -u sends to it and prints its answer" {
	need nc
	free_udp_port
	nk_fifo
	NK_STDIN=$FIFO nk_start nc nc -u -l 127.0.0.1 "$PORT"
	wait_udp_bound nc
	printf 'hello\n' >"$T/hello"
	NK_STDIN=$T/hello nk_start cli "$NETKIT" connect -u -t 1500 127.0.0.1 "$PORT"
	nk_wait_size "$(nk_out nc)" 6
	printf 'world\n' >&7
	nk_ok cli
	[ "$(cat "$(nk_out cli)")" = world ]
	[ "$(cat "$(nk_out nc)")" = hello ]
	nk_fifo_close
}

@test "socat: UDP client of echo -u and listen -u; UDP-RECVFROM gets a 65507-byte datagram whole; UDP-LISTEN answers connect -u" {
	need socat
	nk_echo_server srv -u -H 127.0.0.1
	run bash -c "printf 'ping\n' | timeout 10 socat -t 0.5 - UDP:127.0.0.1:$PORT"
	assert_success
	assert_output ping
	term_ok srv

	nk_listen lsn -u -H 127.0.0.1
	run bash -c "printf 'hi\n' | timeout 10 socat -t 0.1 - UDP:127.0.0.1:$PORT"
	assert_success
	nk_wait_size "$(nk_out lsn)" 3
	[ "$(cat "$(nk_out lsn)")" = hi ]
	term_ok lsn

	free_udp_port
	nk_start rf socat -b 70000 -u "UDP-RECVFROM:$PORT,bind=127.0.0.1" -
	wait_udp_bound rf
	run bash -c "cat '$D/f65507' | timeout 10 '$NETKIT' connect -u -t 200 127.0.0.1 $PORT"
	assert_success
	nk_ok rf
	[ "$(nk_sha "$(nk_out rf)")" = "$(nk_sha "$D/f65507")" ]

	free_udp_port
	nk_start ul socat -T 10 "UDP-LISTEN:$PORT,bind=127.0.0.1" PIPE
	wait_udp_bound ul
	run bash -c "printf 'hello\n' | timeout 10 '$NETKIT' connect -u -t 300 127.0.0.1 $PORT"
	assert_success
	assert_output hello
}

@test "node dgram: a client of echo -u (0, 1, 1472, 65507 bytes), and a server connect -u --lines talks to" {
	need node
	nk_echo_server srv -u -H 127.0.0.1
	run -0 timeout 20 node "$D/dgram.js" client "$PORT" "$D/f0" "$D/f1" "$D/f1472" "$D/f65507"
	[ "$output" = "$(for f in f0 f1 f1472 f65507; do echo "$(sumline "$D/$f") 127.0.0.1:$PORT"; done)" ]
	[ "$(nk_events srv socket.message | sed 's/.* bytes=//' | xargs)" = "0 1 1472 65507" ]
	term_ok srv

	nk_start js node "$D/dgram.js" server 2
	PORT=$(nk_port js)
	run bash -c "printf 'abc\nde\n' | timeout 10 '$NETKIT' connect -u --lines -t 300 127.0.0.1 $PORT"
	assert_success
	assert_output "$(printf 'ABC\nDE')"
	nk_ok js
	printf 'abc\n' >"$T/l1"
	printf 'de\n' >"$T/l2"
	[ "$(cat "$(nk_out js)")" = "$(sumline "$T/l1"; sumline "$T/l2")" ]
}

# ----------------------------------------------------------- UNIX datagram

@test "listen -u -U with connect -u -U: both ways, remote @autobind, unixgram, the file removed at exit" {
	local sock=$T/s.sock
	nk_fifo
	printf world >&7
	NK_STDIN=$FIFO nk_start srv "$NETKIT" listen -u --events -U "$sock"
	nk_wait_line srv 'server\.listening'
	[ -S "$sock" ]
	printf hello >"$T/hello"
	NK_STDIN=$T/hello nk_start cli "$NETKIT" connect -u -t 500 --events -U "$sock"
	nk_ok cli
	[ "$(cat "$(nk_out cli)")" = world ]
	[ "$(cat "$(nk_out srv)")" = hello ]
	local c
	c=$(sed -nE 's/^event=server\.connection id=1 remote=([^ ]+) connections=1$/\1/p' "$(nk_err srv)")
	[[ "$c" == @?* ]]
	has_line srv "event=socket.message id=1 remote=$c bytes=5"
	[ "$(cat "$(nk_err cli)")" = "$(
		echo "event=socket.connect id=1 local=$c remote=$sock"
		echo "event=socket.message id=1 remote=$sock bytes=5"
		echo "event=socket.timeout id=1"
		echo "event=socket.close id=1 had_error=false bytes_read=5 bytes_written=5")" ]
	term_ok srv
	nk_fifo_close
	[ "$(last_lines srv 2)" = "event=socket.close id=1 had_error=false bytes_read=5 bytes_written=5 event=server.close" ]
	[ ! -e "$sock" ]
}

@test "UNIX datagram with socat: UNIX-SENDTO to echo -u -U and listen -u -U, connect -u -U to UNIX-RECVFROM" {
	need socat
	nk_start srv "$NETKIT" echo -u --events -U "$T/e.sock"
	nk_wait_line srv 'server\.listening'
	run bash -c "printf 'ping\n' | timeout 10 socat -t 0.5 - 'UNIX-SENDTO:$T/e.sock,bind=$T/c1.sock'"
	assert_success
	assert_output ping
	has_line srv "event=socket.message remote=$T/c1.sock bytes=5"
	term_ok srv
	[ ! -e "$T/e.sock" ]

	nk_fifo
	NK_STDIN=$FIFO nk_start lsn "$NETKIT" listen -u --events -U "$T/l.sock"
	nk_wait_line lsn 'server\.listening'
	printf 'hi\n' >"$T/hi"
	NK_STDIN=$T/hi nk_start sc socat -t 30 - "UNIX-SENDTO:$T/l.sock,bind=$T/c2.sock"
	nk_wait_line lsn '^event=server\.connection id=1 '
	has_line lsn "event=server.connection id=1 remote=$T/c2.sock connections=1"
	printf 'yo\n' >&7
	nk_wait_size "$(nk_out sc)" 3
	[ "$(cat "$(nk_out sc)")" = yo ]
	[ "$(cat "$(nk_out lsn)")" = hi ]
	term_ok lsn
	nk_fifo_close
	[ ! -e "$T/l.sock" ]

	nk_start rf socat "UNIX-RECVFROM:$T/r.sock" PIPE
	nk_until 10 "socat bound $T/r.sock" test -S "$T/r.sock"
	run bash -c "printf 'hello\n' | timeout 10 '$NETKIT' connect -u -t 500 -U '$T/r.sock'"
	assert_success
	assert_output hello
}

# ------------------------------------------------------- addresses in use

@test "listen -u and echo -u on a UDP port in use: EADDRINUSE, exit 1, server.error; the first keeps every datagram" {
	need_py
	nk_echo_server srv -u -H 127.0.0.1
	run --separate-stderr timeout 2 "$NETKIT" listen -u --events -H 127.0.0.1 "$PORT"
	[ "$status" -eq 1 ] || fail "a second listen -u on 127.0.0.1:$PORT: status $status (124: it ran), stderr: $stderr"
	run --separate-stderr timeout 2 "$NETKIT" listen -u -H 127.0.0.1 "$PORT"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: listen 127.0.0.1:$PORT: "*"(EADDRINUSE)" ]]
	run --separate-stderr timeout 2 "$NETKIT" echo -u --events -H 127.0.0.1 -p "$PORT"
	[ "$status" -eq 1 ]
	grep -Eq '^event=server\.error code=EADDRINUSE message=' <<<"$stderr"
	[ "$(grep -v '^event=' <<<"$stderr" | grep -c "^netkit: echo 127\.0\.0\.1:$PORT: .*(EADDRINUSE)\$")" = 1 ]
	[ -z "$(grep 'server\.listening' <<<"$stderr")" ]
	upeer p 4 - "127.0.0.1:$PORT" send:a recv send:b recv send:c recv
	nk_ok p
	[ "$(cat "$(nk_out p)")" = abc ]
	term_ok srv
}

@test "listen -u -U, echo -u -U: a stale socket file is replaced, a live one is EADDRINUSE, a regular file is refused untouched" {
	need_py
	local st=$T/stale.sock live=$T/live.sock f=$T/file sum cmd
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])' "$st"
	[ -S "$st" ]
	nk_start srv "$NETKIT" listen -u --events -U "$st"
	nk_wait_line srv '^event=server\.listening '
	upeer p unix - "$st" send:fresh
	nk_ok p
	nk_wait_size "$(nk_out srv)" 5
	[ "$(cat "$(nk_out srv)")" = fresh ]
	term_ok srv
	[ ! -e "$st" ]

	nk_start live "$NETKIT" echo -u --events -U "$live"
	nk_wait_line live '^event=server\.listening '
	for cmd in listen echo; do
		run --separate-stderr timeout 2 "$NETKIT" "$cmd" -u -U "$live"
		[ "$status" -eq 1 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "netkit: $cmd $live: "*"(EADDRINUSE)" ]]
	done
	upeer p2 unix - "$live" send:still recv
	nk_ok p2
	[ "$(cat "$(nk_out p2)")" = still ]
	term_ok live
	[ ! -e "$live" ]

	printf 'precious\n' >"$f"
	sum=$(nk_sha "$f")
	for cmd in listen echo; do
		run --separate-stderr timeout 2 "$NETKIT" "$cmd" -u -U "$f"
		[ "$status" -eq 1 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "netkit: $cmd $f: "* ]]
		[ -f "$f" ] && [ ! -L "$f" ] && [ "$(nk_sha "$f")" = "$sum" ]
	done
}

# ------------------------------------------------------------ usage errors

@test "connect -u: stream-only options are usage errors (exit 2)" {
	# Each of these, without -u, is a valid command.
	usage_errors <<-EOF
	connect -u --tls 127.0.0.1 9
	connect -u -e cat 127.0.0.1 9
	connect -u --exec cat 127.0.0.1 9
	connect -u --no-delay 127.0.0.1 9
	connect -u --keepalive=1000 127.0.0.1 9
	connect -u --allow-half-open 127.0.0.1 9
	connect -u --no-shutdown 127.0.0.1 9
	connect -u --encoding hex 127.0.0.1 9
	connect -u --write-encoding hex 127.0.0.1 9
	connect -u --on-timeout destroy 127.0.0.1 9
	connect -u --retry=2 127.0.0.1 9
	connect -u -w 1000 127.0.0.1 9
	connect -u --send-fd /dev/null -U $T/none.sock
	connect -u --recv-fd -U $T/none.sock
	EOF
}

@test "listen -u: stream-only options are usage errors (exit 2); --retry is not" {
	usage_errors <<-EOF
	listen -u --exec cat -H 127.0.0.1 0
	listen -u --no-delay -H 127.0.0.1 0
	listen -u --keepalive -H 127.0.0.1 0
	listen -u --allow-half-open -H 127.0.0.1 0
	listen -u --no-shutdown -H 127.0.0.1 0
	listen -u --encoding hex -H 127.0.0.1 0
	listen -u --write-encoding hex -H 127.0.0.1 0
	listen -u --on-timeout destroy -H 127.0.0.1 0
	listen -u --tls --tls-cert $T/none.pem --tls-key $T/none.key -H 127.0.0.1 0
	listen -u --send-fd /dev/null -U $T/none.sock
	listen -u --recv-fd -U $T/none.sock
	EOF
	nk_listen srv -u --retry=1 -H 127.0.0.1
	term_ok srv
}

@test "echo -u: -m, -t, --on-timeout and stream-only options are usage errors (exit 2)" {
	usage_errors <<-EOF
	echo -u -m 5 -H 127.0.0.1 -p 0
	echo -u -t 1000 -H 127.0.0.1 -p 0
	echo -u --on-timeout end -H 127.0.0.1 -p 0
	echo -u --allow-half-open -H 127.0.0.1 -p 0
	echo -u --no-delay -H 127.0.0.1 -p 0
	echo -u --keepalive -H 127.0.0.1 -p 0
	echo -u --lines -H 127.0.0.1 -p 0
	echo -u --tls --tls-cert $T/none.pem --tls-key $T/none.key -H 127.0.0.1 -p 0
	EOF
}

@test "--lines without -u is a usage error (exit 2)" {
	usage_errors <<-EOF
	connect --lines 127.0.0.1 9
	listen --lines -H 127.0.0.1 0
	echo --lines -H 127.0.0.1 -p 0
	EOF
}
