#!/usr/bin/env bats
#
# The connect phase (SPEC.md, "The connect phase"): Happy Eyeballs over a
# name with an IPv6 and an IPv4 address, -s/--source and --source-port,
# and --proxy (socks5, socks5h, http) through proxies nobody here wrote:
# microsocks, danted (dante-server) and tinyproxy. Replies those never give
# (each SOCKS5 reply code, bytes in the same segment as the reply, a close
# before the reply, a proxy that never answers, what the client sent
# before the tunnel was up) come from scripted stand-ins,
# tests/proxy-script.py; each such test says so.
#
# The real proxies cannot bind port 0: they get a port bound and released
# here, and are waited for until they listen (another one is tried when
# the port was taken meanwhile). Happy Eyeballs needs a name with two
# addresses: netkit runs in a private mount namespace (unshare -m) with
# its own /etc/hosts ("dual.test": ::1 and 127.0.0.1); those tests skip
# where that cannot be done. An address that never answers is a listener
# whose accept queue is full (listen backlog 0, filled by connections
# nobody accepts): the kernel drops further SYNs. The Happy Eyeballs
# target is an echo server, not a one-connection peer: a port scan of
# loopback run alongside (netkit scan 127.0.0.1 1-65535 in another
# suite) would take a one-connection peer's only accept and make the
# attempt fail.

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export CERTS=$BATS_FILE_TMPDIR/certs
	bash "$BATS_TEST_DIRNAME/tls-certs" "$CERTS"

	# The private hosts files: dual.test for netkit, onlyproxy.test for
	# a proxy (a name only the proxy can resolve). files-only.nss: no
	# DNS, so that a name not in the file fails at once.
	export HOSTS=$BATS_FILE_TMPDIR/hosts
	printf '::1 dual.test\n127.0.0.1 dual.test\n' >"$HOSTS"
	export PHOSTS=$BATS_FILE_TMPDIR/proxy-hosts
	printf '127.0.0.1 localhost onlyproxy.test\n' >"$PHOSTS"
	export NSS=$BATS_FILE_TMPDIR/files-only.nss
	printf 'hosts: files\n' >"$NSS"

	# stamp.py CMD...: run CMD; each line of its stderr is copied to
	# stderr after the time it was read (monotonic seconds, "12.345 ").
	# stdout and the exit status are CMD's.
	export STAMP=$BATS_FILE_TMPDIR/stamp.py
	cat >"$STAMP" <<-'EOF'
	import subprocess, sys, time
	p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE)
	for line in iter(p.stderr.readline, b""):
	    sys.stderr.buffer.write(b"%.3f " % time.monotonic() + line)
	    sys.stderr.flush()
	sys.exit(p.wait())
	EOF

	# unanswered.py PORT FAMILY...: listeners on PORT (0: a free one, the
	# same for every family) on ::1 (family 6, IPV6_V6ONLY) and/or
	# 127.0.0.1 (4), with listen backlog 0 and their accept queue filled
	# by connections nobody accepts. One more connect to each is checked
	# to stay unanswered for 300 ms (exit 3 if not: this kernel answers
	# SYNs beyond the backlog); then the port is announced as netkit does
	# and it waits to be killed.
	export UNANSWERED=$BATS_FILE_TMPDIR/unanswered.py
	cat >"$UNANSWERED" <<-'EOF'
	import select, socket, sys, time
	want, fams = int(sys.argv[1]), sys.argv[2:]
	for attempt in range(20):
	    port, ls = want, []
	    try:
	        for f in fams:
	            if f == "6":
	                s = socket.socket(socket.AF_INET6)
	                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
	                addr = "::1"
	            else:
	                s = socket.socket()
	                addr = "127.0.0.1"
	            ls.append((s, addr))
	            s.bind((addr, port))
	            s.listen(0)
	            port = s.getsockname()[1]
	        break
	    except OSError as e:
	        for s, _ in ls:
	            s.close()
	        if want != 0:
	            sys.exit("unanswered: bind port %d: %s" % (want, e))
	else:
	    sys.exit("unanswered: no port free on every family")
	held = []
	def connect(s, addr):
	    c = socket.socket(s.family)
	    c.setblocking(False)
	    c.connect_ex((addr, port))
	    held.append(c)
	    return c
	for s, addr in ls:
	    for i in range(3):
	        connect(s, addr)
	time.sleep(0.1)
	probes = [connect(s, addr) for s, addr in ls]
	_, w, _ = select.select([], probes, [], 0.3)
	if w:
	    sys.exit(print("unanswered: SYNs beyond the backlog are answered here",
	        file=sys.stderr) or 3)
	print("event=server.listening address=%s port=%d" % (ls[0][1], port),
	    file=sys.stderr, flush=True)
	time.sleep(3600)
	EOF
}

setup() {
	T=$BATS_TEST_TMPDIR
	need_python
	SCRIPT=$BATS_TEST_DIRNAME/proxy-script.py
	FED_FDS=()
}

need() { command -v "$1" >/dev/null || skip "$1 not installed"; }

# tstart NAME CMD...: nk_start, without the test's ends of the fed
# fifos (so that closing one is its reader's EOF, whatever started later).
tstart() {
	local fd closes=''
	for fd in "${FED_FDS[@]}"; do
		closes+=" $fd>&-"
	done
	eval "nk_start \"\$@\" $closes"
}

# fed NAME CMD...: tstart CMD with its stdin from a new fifo; the test's
# end of it is $FED_FD (write to it; close it for EOF).
fed() {
	local name=$1 fifo=$T/$1.fifo
	shift
	mkfifo "$fifo"
	NK_STDIN=$fifo tstart "$name" "$@"
	exec {FED_FD}>"$fifo"
	FED_FDS+=("$FED_FD")
}

# free_port: a loopback TCP port that was just bound and released.
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# free_port_both: a port free on both ::1 and 127.0.0.1 (a dual-stack
# socket on :: bound it).
free_port_both() {
	"$PY" -c 'import socket; s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", 0)); print(s.getsockname()[1])'
}

listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }
up_or_gone() { listening "$2" || ! nk_running "$1"; }

# on_free_port NAME CMD...: start a server that cannot bind port 0 on a
# free port: "@PORT@" in CMD, and in the file $TEMPLATE (when set, written
# to $CONF) is that port. Wait until it listens; when it exits first (the
# port was taken meanwhile), try another, three times in all. Sets $PPORT.
on_free_port() {
	local name=$1 try a args
	shift
	for try in 1 2 3; do
		PPORT=$(free_port) || return 1
		args=()
		for a in "$@"; do
			args+=("${a//@PORT@/$PPORT}")
		done
		[ -z "${TEMPLATE:-}" ] || sed "s/@PORT@/$PPORT/g" "$TEMPLATE" >"$CONF"
		tstart "$name" "${args[@]}"
		nk_until 20 "$name listening on $PPORT" up_or_gone "$name" "$PPORT" ||
			return 1
		nk_running "$name" && return 0
		echo "$name exited before listening on $PPORT (try $try):" >&2
		cat "$(nk_err "$name")" "$(nk_out "$name")" >&2
		nk_wait "$name" 5 || return 1
	done
	return 1
}

# microsocks_start NAME [OPTIONS...]: microsocks on 127.0.0.1; sets $MS.
microsocks_start() {
	local name=$1
	shift
	need microsocks
	on_free_port "$name" microsocks -i 127.0.0.1 -p @PORT@ "$@" || return 1
	MS=$PPORT
}

# tinyproxy_start NAME [CONFIG LINE...]: tinyproxy in the foreground on
# 127.0.0.1 with these lines added to its configuration; sets $TP.
tinyproxy_start() {
	local name=$1 line
	shift
	need tinyproxy
	TEMPLATE=$T/$name.conf.in CONF=$T/$name.conf
	{
		printf 'Port @PORT@\nListen 127.0.0.1\nTimeout 30\nLogLevel Info\n'
		[ "$(id -u)" != 0 ] || printf 'User nobody\nGroup nogroup\n'
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$TEMPLATE"
	on_free_port "$name" tinyproxy -d -c "$CONF" || return 1
	TEMPLATE=
	TP=$PPORT
}

# dante_start NAME [RULE...]: danted in the foreground on 127.0.0.1, no
# authentication, the RULEs (socks block/pass lines) before a final
# "socks pass" for everything; sets $DANTE. With DANTE_NS=1 it runs with
# its own /etc/hosts ($PHOSTS) and no DNS.
dante_start() {
	local name=$1 line cmd
	shift
	need danted
	TEMPLATE=$T/$name.conf.in CONF=$T/$name.conf
	{
		printf 'logoutput: stderr\n'
		printf 'internal: 127.0.0.1 port = @PORT@\nexternal: 127.0.0.1\n'
		printf 'clientmethod: none\nsocksmethod: none\n'
		printf 'user.privileged: root\nuser.unprivileged: nobody\n'
		printf 'client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n'
		for line in "$@"; do
			printf '%s\n' "$line"
		done
		printf 'socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 log: error connect }\n'
	} >"$TEMPLATE"
	cmd=(danted -f "$CONF" -p "$T/$name.pid")
	if [ "${DANTE_NS:-}" = 1 ]; then
		cmd=(unshare -m sh -c 'mount --bind "$0" /etc/hosts &&
		    mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"' \
		    "$PHOSTS" "$NSS" "${cmd[@]}")
	fi
	on_free_port "$name" "${cmd[@]}" || return 1
	TEMPLATE=
	DANTE=$PPORT
}

# scripted NAME ARGS...: a stand-in proxy (tests/proxy-script.py ARGS)
# on port 0; sets $SP.
scripted() {
	local name=$1
	shift
	tstart "$name" "$PY" "$SCRIPT" "$@"
	SP=$(nk_port "$name") || return 1
}

# said NAME: what a stand-in proxy wrote about the client ("proxy: ...").
said() { sed -n 's/^proxy: //p' "$(nk_err "$1")"; }

# errors NAME: NAME's stderr lines that are not events.
errors() { grep -v '^event=' "$(nk_err "$1")" || true; }

# status_is NAME STATUS: NAME exits with STATUS (its stderr shown if not).
status_is() {
	nk_wait "$1" 20 || return 1
	if [ "$NK_STATUS" != "$2" ]; then
		echo "$1 exited $NK_STATUS, want $2:" >&2
		cat "$(nk_err "$1")" >&2
		return 1
	fi
}

# fails_with NAME LINE: NAME exits 1 and its one non-event line is LINE.
fails_with() {
	status_is "$1" 1 || return 1
	run errors "$1"
	assert_output "$2"
}

# ---------------------------------------------------------------------
# Private /etc/hosts, Happy Eyeballs

# need_hosts: skip unless a private /etc/hosts works here (unshare -m,
# a bind mount): dual.test must resolve to ::1 and 127.0.0.1.
need_hosts() {
	need unshare
	local got
	got=$(timeout 10 unshare -m sh -c \
	    'mount --bind "$0" /etc/hosts && getent ahosts dual.test' \
	    "$HOSTS" 2>/dev/null | awk '$2 == "STREAM" { print $1 }' |
	    LC_ALL=C sort -u | tr '\n' ' ')
	[ "$got" = "127.0.0.1 ::1 " ] ||
	    skip "no private /etc/hosts here (unshare -m, mount --bind): '$got'"
}

# he_start NAME OPTIONS...: netkit connect --events OPTIONS with the
# private /etc/hosts, its stderr lines time-stamped (stamp.py).
he_start() {
	local name=$1
	shift
	tstart "$name" "$PY" "$STAMP" unshare -m sh -c \
	    'mount --bind "$0" /etc/hosts && exec "$@"' \
	    "$HOSTS" "$NETKIT" connect --events "$@"
}

# lines NAME: NAME's stderr without the time stamps.
lines() { sed -E 's/^[0-9]+\.[0-9]+ //' "$(nk_err "$1")"; }

# at NAME REGEX: the time stamp of NAME's first line matching REGEX.
at() {
	grep -Em1 "^[0-9]+\.[0-9]+ $2" "$(nk_err "$1")" | cut -d' ' -f1
}

# at_least A B SECONDS: B is at least SECONDS after A.
at_least() {
	awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { exit !(b - a >= s) }' || {
		echo "$2 - $1 < $3" >&2
		return 1
	}
}

# unanswered NAME PORT FAMILY...: listeners that never answer (see
# unanswered.py); sets $PORT. Skips if this kernel answers anyway.
unanswered() {
	local name=$1
	shift
	tstart "$name" "$PY" "$UNANSWERED" "$@"
	nk_until 10 "$name ready" up_or_exited "$name" || return 1
	if ! nk_running "$name"; then
		nk_wait "$name" 5
		grep -q 'answered here' "$(nk_err "$name")" &&
		    skip "$(cat "$(nk_err "$name")")"
		cat "$(nk_err "$name")" >&2
		return 1
	fi
	PORT=$(nk_port "$name") || return 1
}
up_or_exited() {
	grep -q 'server\.listening' "$(nk_err "$1")" || ! nk_running "$1"
}

@test "Happy Eyeballs: [::1] unanswered, 127.0.0.1 attempted after the delay wins; the loser closes without events" {
	need_hosts
	nk_echo_server srv -H 127.0.0.1
	unanswered hole "$PORT" 6
	printf 'hello' >"$T/in"
	NK_STDIN=$T/in he_start cli dual.test "$PORT"
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" "hello"
	run lines cli
	assert_line --index 0 "event=socket.attempt id=1 remote=[::1]:$PORT"
	assert_line --index 1 "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
	assert_line --index 2 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$PORT\$"
	assert_line --index 3 "event=socket.data id=1 bytes=5"
	assert_equal "${lines[-1]}" "event=socket.close id=1 had_error=false bytes_read=5 bytes_written=5"
	refute_line --partial "socket.attempt_failed"
	refute_line --partial "socket.error"
	# The default --attempt-delay, 250 ms (a lower bound only).
	at_least "$(at cli 'event=socket\.attempt .*\[::1\]')" \
	    "$(at cli 'event=socket\.attempt .*127\.0\.0\.1')" 0.2
}

@test "Happy Eyeballs: --attempt-delay 1500, the second attempt no earlier than 1.5 s after the first" {
	need_hosts
	nk_echo_server srv -H 127.0.0.1
	unanswered hole "$PORT" 6
	printf 'hello' >"$T/in"
	NK_STDIN=$T/in he_start cli --attempt-delay 1500 dual.test "$PORT"
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" "hello"
	run lines cli
	assert_line --index 0 "event=socket.attempt id=1 remote=[::1]:$PORT"
	assert_line --index 1 "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
	assert_line --index 2 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$PORT\$"
	at_least "$(at cli 'event=socket\.attempt .*\[::1\]')" \
	    "$(at cli 'event=socket\.attempt .*127\.0\.0\.1')" 1.45
}

@test "Happy Eyeballs: -w 500 with both addresses unanswered, ETIMEDOUT, exit 1" {
	need_hosts
	unanswered hole 0 6 4
	he_start cli -w 500 dual.test "$PORT"
	status_is cli 1
	[ -z "$(cat "$(nk_out cli)")" ]
	run lines cli
	assert_equal "${#lines[@]}" 5
	assert_line --index 0 "event=socket.attempt id=1 remote=[::1]:$PORT"
	assert_line --index 1 "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
	assert_line --index 2 --regexp '^event=socket\.error id=1 code=ETIMEDOUT message='
	assert_line --index 3 "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0"
	# Which address the line names is the contract's "last address" rule
	# stretched to a timeout: the name or the last address tried.
	assert_line --index 4 --regexp "^netkit: connect (dual\.test|127\.0\.0\.1):$PORT: Connection timed out \(ETIMEDOUT\)\$"
	at_least "$(at cli 'event=socket\.attempt .*\[::1\]')" \
	    "$(at cli 'netkit: connect')" 0.45
}

@test "Happy Eyeballs: both refused, two attempt_failed, the error names the last address; a refusal starts the next attempt at once" {
	need_hosts
	PORT=$(free_port_both)
	he_start cli --attempt-delay 5000 dual.test "$PORT"
	status_is cli 1
	run lines cli
	assert_output "event=socket.attempt id=1 remote=[::1]:$PORT
event=socket.attempt_failed id=1 remote=[::1]:$PORT code=ECONNREFUSED
event=socket.attempt id=1 remote=127.0.0.1:$PORT
event=socket.attempt_failed id=1 remote=127.0.0.1:$PORT code=ECONNREFUSED
event=socket.error id=1 code=ECONNREFUSED message=\"Connection refused\"
event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0
netkit: connect 127.0.0.1:$PORT: Connection refused (ECONNREFUSED)"
	# Not 5 s later but at once (a loose bound: within 1 s).
	run at_least "$(at cli 'event=socket\.attempt .*\[::1\]')" \
	    "$(at cli 'event=socket\.attempt .*127\.0\.0\.1')" 1
	assert_failure
}

@test "Happy Eyeballs: -4, -6 and -s restrict a name to one family" {
	need_hosts
	local opt n=0
	PORT=$(free_port_both)
	for opt in -4 "-s 127.0.0.1"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		he_start "cli$n" $opt dual.test "$PORT"
		status_is "cli$n" 1
		run lines "cli$n"
		assert_line --index 0 "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
		refute_line --partial '[::1]'
		assert_equal "${lines[-1]}" "netkit: connect 127.0.0.1:$PORT: Connection refused (ECONNREFUSED)"
	done
	for opt in -6 "-s ::1"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		he_start "cli$n" $opt dual.test "$PORT"
		status_is "cli$n" 1
		run lines "cli$n"
		assert_output "event=socket.attempt id=1 remote=[::1]:$PORT
event=socket.attempt_failed id=1 remote=[::1]:$PORT code=ECONNREFUSED
event=socket.error id=1 code=ECONNREFUSED message=\"Connection refused\"
event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0
netkit: connect [::1]:$PORT: Connection refused (ECONNREFUSED)"
	done
}

# ---------------------------------------------------------------------
# -s, --source-port

@test "-s 127.0.0.2: the peer sees that source address" {
	nk_listen srv -H 127.0.0.1
	run timeout 10 "$NETKIT" connect --events -s 127.0.0.2 127.0.0.1 "$PORT" </dev/null
	assert_success
	assert_line --index 0 "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
	assert_line --index 1 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.2:[0-9]+ remote=127\.0\.0\.1:$PORT\$"
	local src=${lines[1]#*local=127.0.0.2:}
	src=${src%% *}
	nk_wait_line srv '^event=server\.connection '
	run nk_events srv server.connection
	assert_output "event=server.connection id=1 remote=127.0.0.2:$src connections=1"
}

@test "--source-port (alone and with -s 127.0.0.2): the peer sees that port" {
	local sp
	nk_listen srv -H 127.0.0.1 -k
	sp=$(free_port)
	run timeout 10 "$NETKIT" connect --events --source-port "$sp" 127.0.0.1 "$PORT" </dev/null
	assert_success
	assert_line --index 1 "event=socket.connect id=1 local=127.0.0.1:$sp remote=127.0.0.1:$PORT"
	nk_wait_line srv "^event=server\.connection id=1 remote=127\.0\.0\.1:$sp "
	sp=$(free_port)
	run timeout 10 "$NETKIT" connect --events -s 127.0.0.2 --source-port "$sp" 127.0.0.1 "$PORT" </dev/null
	assert_success
	assert_line --index 1 "event=socket.connect id=1 local=127.0.0.2:$sp remote=127.0.0.1:$PORT"
	nk_wait_line srv "^event=server\.connection id=2 remote=127\.0\.0\.2:$sp "
}

@test "-s ::1 to an IPv6 target: the peer sees [::1]" {
	nk_listen srv -H ::1
	run timeout 10 "$NETKIT" connect --events -s ::1 ::1 "$PORT" </dev/null
	assert_success
	assert_line --index 1 --regexp "^event=socket\.connect id=1 local=\[::1\]:[0-9]+ remote=\[::1\]:$PORT\$"
	nk_wait_line srv '^event=server\.connection id=1 remote=\[::1\]:[0-9]+ '
}

@test "--source-port busy (a listening socket holds it): EADDRINUSE, exit 1, the target sees nothing" {
	nk_listen srv -H 127.0.0.1
	local target=$PORT
	nk_listen holder
	tstart cli "$NETKIT" connect --events --source-port "$PORT" 127.0.0.1 "$target"
	fails_with cli "netkit: connect 127.0.0.1:$target: Address already in use (EADDRINUSE)"
	run nk_events cli socket.error
	assert_output --regexp '^event=socket\.error id=1 code=EADDRINUSE '
	run nk_events cli socket.close
	assert_output "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0"
	run nk_events cli socket.connect
	assert_output ""
	run nk_events srv server.connection
	assert_output ""
}

@test "usage errors, exit 2, nothing attempted: -s a name or the other family, with -U; --proxy bad URLs, with -U, --fd or -u; --source-port out of range" {
	local sock=$T/none.sock help="(see 'netkit connect --help')"
	local need="netkit: connect: -s, --source-port and --proxy need HOST PORT $help"
	local bad="(socks5://, socks5h:// or http://[USER:PASS@]HOST:PORT) $help"
	check() {
		local want=$1
		shift
		run --separate-stderr timeout 10 "$NETKIT" connect --events "$@" </dev/null
		assert_equal "$status" 2
		assert_equal "$output" ""
		assert_equal "$stderr" "$want"
	}
	check "netkit: connect: -s: 'localhost' is not an IP address $help" \
	    -s localhost 127.0.0.1 9
	check "netkit: connect: -s ::1: not of the target's family $help" \
	    -s ::1 127.0.0.1 9
	check "netkit: connect: -s 127.0.0.1: not of the target's family $help" \
	    -s 127.0.0.1 ::1 9
	check "netkit: connect: -s 127.0.0.1: not of the target's family $help" \
	    -6 -s 127.0.0.1 localhost 9
	check "netkit: connect: -s ::1: not of the target's family $help" \
	    -4 -s ::1 localhost 9
	check "$need" -s 127.0.0.1 -U "$sock"
	check "$need" --source-port 4000 -U "$sock"
	check "$need" --proxy socks5://127.0.0.1:1080 -U "$sock"
	check "$need" --proxy socks5://127.0.0.1:1080 --fd 3
	check "netkit: connect: --proxy does not go with -u $help" \
	    --proxy socks5://127.0.0.1:1080 -u 127.0.0.1 9
	local url
	for url in ftp://127.0.0.1:21 socks5:// socks5://127.0.0.1:99999 \
	    127.0.0.1:1080 'socks5://u:p%zz@127.0.0.1:1080' \
	    http://127.0.0.1:8080/path socks4://127.0.0.1:1080; do
		check "netkit: connect: --proxy: bad URL '$url' $bad" \
		    --proxy "$url" 127.0.0.1 9
	done
	check "netkit: connect: --source-port: bad port '0' $help" \
	    --source-port 0 127.0.0.1 9
	check "netkit: connect: --source-port: bad port '65536' $help" \
	    --source-port 65536 127.0.0.1 9
}

# ---------------------------------------------------------------------
# socks5 and socks5h: microsocks, danted

@test "socks5 (microsocks): bytes both ways; socket.attempt to the proxy, socket.proxy, socket.connect naming the target; exit 0" {
	microsocks_start ms
	nk_peer_listen peer read:11 send:from-target shut-wr expect-eof
	# microsocks passes no half-close (a FIN ends both ways): stdin stays
	# open until the target has ended.
	fed cli "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$MS" \
	    127.0.0.1 "$PORT"
	printf 'from client' >&"$FED_FD"
	nk_ok cli
	exec {FED_FD}>&-
	nk_ok peer
	assert_equal "$(cat "$(nk_out peer)")" "from client"
	assert_equal "$(cat "$(nk_out cli)")" "from-target"
	run cat "$(nk_err cli)"
	assert_line --index 0 "event=socket.attempt id=1 remote=127.0.0.1:$MS"
	assert_line --index 1 "event=socket.proxy id=1 proxy=127.0.0.1:$MS type=socks5"
	assert_line --index 2 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$PORT\$"
	assert_line --index 3 "event=socket.data id=1 bytes=11"
	assert_equal "${lines[-1]}" "event=socket.close id=1 had_error=false bytes_read=11 bytes_written=11"
	refute_line --regexp '^netkit: '
}

@test "socks5 (microsocks) to an IPv6 target, and --events=json" {
	microsocks_start ms
	# The target's stdin stays open: its end would end the tunnel.
	fed srv "$NETKIT" listen --events -H ::1 0
	PORT=$(nk_port srv)
	fed cli "$NETKIT" connect --events=json --proxy "socks5://127.0.0.1:$MS" ::1 "$PORT"
	printf 'to v6' >&"$FED_FD"
	nk_wait_size "$(nk_out srv)" 5
	assert_equal "$(cat "$(nk_out srv)")" "to v6"
	nk_wait_line srv '^event=server\.connection id=1 remote=\[::1\]:[0-9]+ '
	exec {FED_FD}>&-
	nk_wait cli
	run cat "$(nk_err cli)"
	assert_line --index 0 "{\"event\":\"socket.attempt\",\"id\":1,\"remote\":\"127.0.0.1:$MS\"}"
	assert_line --index 1 "{\"event\":\"socket.proxy\",\"id\":1,\"proxy\":\"127.0.0.1:$MS\",\"type\":\"socks5\"}"
	assert_line --index 2 --regexp "^\{\"event\":\"socket\.connect\",\"id\":1,\"local\":\"127\.0\.0\.1:[0-9]+\",\"remote\":\"\[::1\]:$PORT\"\}\$"
}

@test "socks5h (microsocks with its own /etc/hosts): the name is resolved by the proxy; socks5 resolves it here and fails" {
	need_hosts
	need microsocks
	on_free_port ms unshare -m sh -c \
	    'mount --bind "$0" /etc/hosts && exec "$@"' "$PHOSTS" \
	    microsocks -i 127.0.0.1 -p @PORT@
	MS=$PPORT
	nk_peer_listen peer read:2 send:from-target shut-wr expect-eof
	fed cli "$NETKIT" connect --events --proxy "socks5h://127.0.0.1:$MS" \
	    onlyproxy.test "$PORT"
	printf 'hi' >&"$FED_FD"
	nk_ok cli
	exec {FED_FD}>&-
	assert_equal "$(cat "$(nk_out cli)")" "from-target"
	nk_ok peer
	assert_equal "$(cat "$(nk_out peer)")" "hi"
	run cat "$(nk_err cli)"
	assert_line --index 1 "event=socket.proxy id=1 proxy=127.0.0.1:$MS type=socks5h"
	assert_line --index 2 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=onlyproxy\.test:$PORT\$"

	# socks5://: names are resolved here, where onlyproxy.test is unknown.
	run --separate-stderr timeout 20 "$NETKIT" connect \
	    --proxy "socks5://127.0.0.1:$MS" onlyproxy.test "$PORT" </dev/null
	assert_equal "$status" 1
	assert_regex "$stderr" "^netkit: connect onlyproxy\.test:$PORT via socks5 127\.0\.0\.1:$MS: .+ \((ENOTFOUND|EAI_AGAIN)\)\$"
}

@test "socks5 (microsocks -u -P): %XX-escaped credentials pass; a wrong password and none are ERR_PROXY_AUTH" {
	microsocks_start ms -u 'nk user' -P 'p@ss:w/rd%'
	nk_peer_listen peer read:2 send:authorized shut-wr expect-eof
	fed cli "$NETKIT" connect --events \
	    --proxy "socks5://nk%20user:p%40ss%3Aw%2Frd%25@127.0.0.1:$MS" \
	    127.0.0.1 "$PORT"
	printf 'hi' >&"$FED_FD"
	nk_ok cli
	exec {FED_FD}>&-
	assert_equal "$(cat "$(nk_out cli)")" "authorized"
	run nk_events cli socket.proxy
	assert_output "event=socket.proxy id=1 proxy=127.0.0.1:$MS type=socks5"
	nk_ok peer

	tstart wrong "$NETKIT" connect --events \
	    --proxy "socks5://nk%20user:wrong@127.0.0.1:$MS" 127.0.0.1 9
	fails_with wrong "netkit: connect 127.0.0.1:9 via socks5 127.0.0.1:$MS: proxy authentication failed (ERR_PROXY_AUTH)"
	run nk_events wrong socket.error
	assert_output "event=socket.error id=1 code=ERR_PROXY_AUTH message=\"proxy authentication failed\""
	tstart none "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$MS" 127.0.0.1 9
	fails_with none "netkit: connect 127.0.0.1:9 via socks5 127.0.0.1:$MS: no acceptable authentication method (ERR_PROXY_AUTH)"
}

@test "socks5 (microsocks): a refused target is reply 5, ECONNREFUSED, with the proxy's message; no socket.proxy" {
	microsocks_start ms
	local port
	port=$(free_port)
	tstart cli "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$MS" 127.0.0.1 "$port"
	status_is cli 1
	run cat "$(nk_err cli)"
	assert_output "event=socket.attempt id=1 remote=127.0.0.1:$MS
event=socket.error id=1 code=ECONNREFUSED message=\"connection refused\"
event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0
netkit: connect 127.0.0.1:$port via socks5 127.0.0.1:$MS: connection refused (ECONNREFUSED)"
}

@test "an unreachable proxy: the usual connect error for the proxy's address, naming target and proxy" {
	local port
	port=$(free_port)
	tstart cli "$NETKIT" connect --events --proxy "socks5h://127.0.0.1:$port" example.org 80
	status_is cli 1
	run cat "$(nk_err cli)"
	assert_output "event=socket.attempt id=1 remote=127.0.0.1:$port
event=socket.attempt_failed id=1 remote=127.0.0.1:$port code=ECONNREFUSED
event=socket.error id=1 code=ECONNREFUSED message=\"Connection refused\"
event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0
netkit: connect example.org:80 via socks5h 127.0.0.1:$port: Connection refused (ECONNREFUSED)"
}

@test "default proxy ports: socks5 1080, http 8080" {
	local port url
	for port in 1080 8080; do
		! listening "$port" || skip "something listens on port $port"
		url=socks5://127.0.0.1
		[ "$port" = 1080 ] || url=http://127.0.0.1
		tstart "cli$port" "$NETKIT" connect --events --proxy "$url" 127.0.0.1 9
		fails_with "cli$port" "netkit: connect 127.0.0.1:9 via ${url%%:*} 127.0.0.1:$port: Connection refused (ECONNREFUSED)"
		run nk_events "cli$port" socket.attempt
		assert_output "event=socket.attempt id=1 remote=127.0.0.1:$port"
	done
}

@test "socks5 (danted): a 'socks block' rule is reply 2, EACCES; the target sees nothing" {
	nk_peer_listen peer expect-open:100
	dante_start dante "socks block { from: 0.0.0.0/0 to: 127.0.0.1/32 port = $PORT log: error connect }"
	tstart cli "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$DANTE" 127.0.0.1 "$PORT"
	fails_with cli "netkit: connect 127.0.0.1:$PORT via socks5 127.0.0.1:$DANTE: connection not allowed by ruleset (EACCES)"
	run nk_events cli socket.error
	assert_output "event=socket.error id=1 code=EACCES message=\"connection not allowed by ruleset\""
	# The blocked target is still waiting for its first connection.
	nk_running peer
}

@test "socks5 (danted): a refused target is reply 5, ECONNREFUSED; a passed one relays" {
	dante_start dante
	local port
	port=$(free_port)
	tstart cli "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$DANTE" 127.0.0.1 "$port"
	fails_with cli "netkit: connect 127.0.0.1:$port via socks5 127.0.0.1:$DANTE: connection refused (ECONNREFUSED)"
	nk_peer_listen peer read:2 send:through-dante shut-wr read-all
	fed ok "$NETKIT" connect --events --proxy "socks5h://127.0.0.1:$DANTE" localhost "$PORT"
	printf 'hi' >&"$FED_FD"
	nk_ok ok
	exec {FED_FD}>&-
	assert_equal "$(cat "$(nk_out ok)")" "through-dante"
	nk_ok peer
	assert_equal "$(cat "$(nk_out peer)")" "hi"
	run nk_events ok socket.proxy
	assert_output "event=socket.proxy id=1 proxy=127.0.0.1:$DANTE type=socks5h"
}

@test "socks5h (danted, no DNS): a name it cannot resolve is reply 4, EHOSTUNREACH" {
	need_hosts
	DANTE_NS=1 dante_start dante
	tstart cli "$NETKIT" connect --events --proxy "socks5h://127.0.0.1:$DANTE" nosuch.test 80
	fails_with cli "netkit: connect nosuch.test:80 via socks5h 127.0.0.1:$DANTE: host unreachable (EHOSTUNREACH)"
}

# ---------------------------------------------------------------------
# socks5: scripted stand-ins

@test "socks5 replies 1 to 8 (stand-in: no real proxy here gives them all): each its message and code" {
	local rep code msg
	local -a msgs=("" "general SOCKS server failure" "connection not allowed by ruleset"
	    "network unreachable" "host unreachable" "connection refused"
	    "TTL expired" "command not supported" "address type not supported")
	local -a codes=("" EPROTO EACCES ENETUNREACH EHOSTUNREACH ECONNREFUSED
	    ETIMEDOUT EPROTO EPROTO)
	for rep in 1 2 3 4 5 6 7 8; do
		msg=${msgs[$rep]} code=${codes[$rep]}
		scripted "px$rep" socks5 --pause 0 --rep "$rep"
		tstart "cli$rep" "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$SP" 127.0.0.1 80
		status_is "cli$rep" 1
		run cat "$(nk_err "cli$rep")"
		assert_output "event=socket.attempt id=1 remote=127.0.0.1:$SP
event=socket.error id=1 code=$code message=\"$msg\"
event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0
netkit: connect 127.0.0.1:80 via socks5 127.0.0.1:$SP: $msg ($code)"
	done
}

@test "socks5: bytes right after the success reply, in the same segment, come first on stdout (stand-in; BND.ADDR IPv4, a name, IPv6)" {
	# Real proxies send nothing of the target before the client has
	# sent something after the reply.
	local bnd
	printf 'stdin bytes' >"$T/in"
	for bnd in 1 3 4; do
		scripted "px$bnd" socks5 --pause 0 --bnd "$bnd" --extra 'first bytes'
		NK_STDIN=$T/in tstart "cli$bnd" "$NETKIT" connect --events \
		    --proxy "socks5://127.0.0.1:$SP" 127.0.0.1 80
		nk_ok "cli$bnd"
		assert_equal "$(cat "$(nk_out "cli$bnd")")" "first bytes"
		nk_ok "px$bnd"
		assert_equal "$(cat "$(nk_out "px$bnd")")" "stdin bytes"
		run nk_events "cli$bnd" socket.data
		assert_output "event=socket.data id=1 bytes=11"
	done
}

@test "socks5, socks5h: the request as sent, nothing of stdin before the tunnel is up (stand-in: it records what came before its replies)" {
	printf 'stdin bytes' >"$T/in"
	check() {
		local want=$1 url=$2
		shift 2
		scripted px socks5 --extra X
		NK_STDIN=$T/in tstart cli "$NETKIT" connect --events \
		    --proxy "$url://127.0.0.1:$SP" "$@"
		nk_ok cli
		nk_ok px
		run said px
		assert_line --index 0 --regexp '^client 127\.0\.0\.1:[0-9]+$'
		lines=("${lines[@]:1}")
		output=$(printf '%s\n' "${lines[@]}")
		assert_output "greeting 050100
request cmd=1 $want
early 0
replied"
		assert_equal "$(cat "$(nk_out px)")" "stdin bytes"
		assert_equal "$(cat "$(nk_out cli)")" "X"
	}
	check "atyp=1 host=127.0.0.1 port=80" socks5 127.0.0.1 80
	check "atyp=4 host=::1 port=81" socks5 ::1 81
	# socks5: localhost is resolved here (to 127.0.0.1 in /etc/hosts).
	check "atyp=1 host=127.0.0.1 port=82" socks5 -4 localhost 82
	check "atyp=3 host=localhost port=83" socks5h localhost 83
}

@test "socks5, http: replies in one-byte segments (stand-in): the tunnel comes up, the bytes after the reply come first" {
	local kind
	printf 'stdin bytes' >"$T/in"
	for kind in socks5 http; do
		if [ "$kind" = socks5 ]; then
			scripted "px$kind" socks5 --pause 0 --bnd 3 --drip 5 --extra 'first bytes'
		else
			scripted "px$kind" http --pause 0 --header 'Proxy-Agent: stand-in' \
			    --drip 5 --extra 'first bytes'
		fi
		NK_STDIN=$T/in tstart "cli$kind" "$NETKIT" connect --events \
		    --proxy "$kind://127.0.0.1:$SP" 127.0.0.1 80
		nk_ok "cli$kind"
		assert_equal "$(cat "$(nk_out "cli$kind")")" "first bytes"
		nk_ok "px$kind"
		assert_equal "$(cat "$(nk_out "px$kind")")" "stdin bytes"
		run nk_events "cli$kind" socket.proxy
		assert_output "event=socket.proxy id=1 proxy=127.0.0.1:$SP type=$kind"
	done
}

@test "-s and --source-port with --proxy bind the connection to the proxy: the proxy sees that source (stand-in: it says its client's address)" {
	local sp
	sp=$(free_port)
	scripted px socks5 --pause 0
	tstart cli "$NETKIT" connect --events -s 127.0.0.2 --source-port "$sp" \
	    --proxy "socks5://127.0.0.1:$SP" 127.0.0.1 80
	nk_ok cli
	run said px
	assert_line --index 0 "client 127.0.0.2:$sp"
	run nk_events cli socket.connect
	assert_output "event=socket.connect id=1 local=127.0.0.2:$sp remote=127.0.0.1:80"
}

@test "socks5: a proxy that closes before its reply (stand-in), and one that answers something else (nkpeer): EPROTO" {
	local when
	for when in greeting request; do
		scripted "px$when" socks5 --pause 0 --close-after "$when"
		tstart "cli$when" "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$SP" 127.0.0.1 80
		fails_with "cli$when" "netkit: connect 127.0.0.1:80 via socks5 127.0.0.1:$SP: proxy closed the connection before its reply (EPROTO)"
		run nk_events "cli$when" socket.error
		assert_output "event=socket.error id=1 code=EPROTO message=\"proxy closed the connection before its reply\""
	done
	# An HTTP server's answer to the greeting.
	printf 'HTTP/1.0 400 Bad Request\r\n\r\n' >"$T/http400"
	nk_peer_listen notsocks read:3 sendfile:"$T/http400" close
	tstart cli "$NETKIT" connect --events --proxy "socks5://127.0.0.1:$PORT" 127.0.0.1 80
	fails_with cli "netkit: connect 127.0.0.1:80 via socks5 127.0.0.1:$PORT: not a SOCKS5 proxy (EPROTO)"
}

@test "-w bounds the proxy handshake: a proxy that never answers (stand-in), ETIMEDOUT, exit 1" {
	scripted px socks5 --pause 0 --close-after never
	tstart cli "$NETKIT" connect --events -w 500 --proxy "socks5://127.0.0.1:$SP" 127.0.0.1 80
	fails_with cli "netkit: connect 127.0.0.1:80 via socks5 127.0.0.1:$SP: Connection timed out (ETIMEDOUT)"
	run nk_events cli socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ETIMEDOUT '
	scripted hpx http --pause 0 --close-after never
	tstart hcli "$NETKIT" connect --events -w 500 --proxy "http://127.0.0.1:$SP" 127.0.0.1 80
	fails_with hcli "netkit: connect 127.0.0.1:80 via http 127.0.0.1:$SP: Connection timed out (ETIMEDOUT)"
}

# ---------------------------------------------------------------------
# http: tinyproxy, stand-ins

@test "http (tinyproxy): CONNECT, bytes both ways, socket.proxy type=http; an IPv6 target goes as [::1]:PORT" {
	tinyproxy_start tp
	nk_peer_listen peer read:11 send:from-target shut-wr expect-eof
	fed cli "$NETKIT" connect --events --proxy "http://127.0.0.1:$TP" 127.0.0.1 "$PORT"
	printf 'from client' >&"$FED_FD"
	nk_ok cli
	exec {FED_FD}>&-
	nk_ok peer
	assert_equal "$(cat "$(nk_out peer)")" "from client"
	assert_equal "$(cat "$(nk_out cli)")" "from-target"
	run cat "$(nk_err cli)"
	assert_line --index 0 "event=socket.attempt id=1 remote=127.0.0.1:$TP"
	assert_line --index 1 "event=socket.proxy id=1 proxy=127.0.0.1:$TP type=http"
	assert_line --index 2 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$PORT\$"
	assert_equal "${lines[-1]}" "event=socket.close id=1 had_error=false bytes_read=11 bytes_written=11"

	fed srv6 "$NETKIT" listen --events -H ::1 0
	PORT=$(nk_port srv6)
	fed cli6 "$NETKIT" connect --events --proxy "http://127.0.0.1:$TP" ::1 "$PORT"
	printf 'to v6' >&"$FED_FD"
	nk_wait_size "$(nk_out srv6)" 5
	assert_equal "$(cat "$(nk_out srv6)")" "to v6"
	nk_wait_line srv6 '^event=server\.connection id=1 remote=\[::1\]:[0-9]+ '
	grep -q "CONNECT \[::1\]:$PORT HTTP/1\.1" "$(nk_out tp)" "$(nk_err tp)"
	nk_wait_line cli6 "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=\[::1\]:$PORT\$"
}

@test "http (tinyproxy BasicAuth): %XX-escaped credentials pass; none is its 407, a wrong one its 401, both ERR_PROXY_AUTH" {
	tinyproxy_start tp 'BasicAuth nkuser s3cret'
	nk_peer_listen peer read:2 send:authorized shut-wr expect-eof
	fed cli "$NETKIT" connect --events \
	    --proxy "http://nk%75ser:s3cr%65t@127.0.0.1:$TP" 127.0.0.1 "$PORT"
	printf 'hi' >&"$FED_FD"
	nk_ok cli
	exec {FED_FD}>&-
	assert_equal "$(cat "$(nk_out cli)")" "authorized"
	nk_ok peer

	tstart none "$NETKIT" connect --events --proxy "http://127.0.0.1:$TP" 127.0.0.1 9
	fails_with none "netkit: connect 127.0.0.1:9 via http 127.0.0.1:$TP: HTTP/1.0 407 Proxy Authentication Required (ERR_PROXY_AUTH)"
	run nk_events none socket.error
	assert_output "event=socket.error id=1 code=ERR_PROXY_AUTH message=\"HTTP/1.0 407 Proxy Authentication Required\""
	tstart wrong "$NETKIT" connect --events --proxy "http://nkuser:wrong@127.0.0.1:$TP" 127.0.0.1 9
	fails_with wrong "netkit: connect 127.0.0.1:9 via http 127.0.0.1:$TP: HTTP/1.0 401 Unauthorized (ERR_PROXY_AUTH)"
}

@test "http (tinyproxy): a port outside ConnectPort is 403, an unreachable target 500: ERR_PROXY_STATUS with the status line" {
	local port
	port=$(free_port)
	tinyproxy_start tp "ConnectPort $port"
	tstart cli "$NETKIT" connect --events --proxy "http://127.0.0.1:$TP" 127.0.0.1 9
	status_is cli 1
	run errors cli
	assert_output --regexp "^netkit: connect 127\.0\.0\.1:9 via http 127\.0\.0\.1:$TP: HTTP/1\.[01] 403 Access violation \(ERR_PROXY_STATUS\)\$"
	run nk_events cli socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ERR_PROXY_STATUS message="HTTP/1\.[01] 403 Access violation"$'
	# The allowed port, with nothing listening there.
	tstart cli2 "$NETKIT" connect --events --proxy "http://127.0.0.1:$TP" 127.0.0.1 "$port"
	status_is cli2 1
	run errors cli2
	assert_output --regexp "^netkit: connect 127\.0\.0\.1:$port via http 127\.0\.0\.1:$TP: HTTP/1\.[01] 500 Unable to connect \(ERR_PROXY_STATUS\)\$"
}

@test "http (microsocks, which is no HTTP proxy): it closes before a reply, EPROTO" {
	microsocks_start ms
	tstart cli "$NETKIT" connect --events --proxy "http://127.0.0.1:$MS" 127.0.0.1 9
	fails_with cli "netkit: connect 127.0.0.1:9 via http 127.0.0.1:$MS: proxy closed the connection before its reply (EPROTO)"
}

@test "http: bytes right after the 200 and its headers, in the same segment, come first on stdout (stand-in)" {
	printf 'stdin bytes' >"$T/in"
	scripted px http --pause 0 --header 'Proxy-Agent: stand-in' \
	    --extra 'first bytes'
	NK_STDIN=$T/in tstart cli "$NETKIT" connect --events \
	    --proxy "http://127.0.0.1:$SP" 127.0.0.1 80
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" "first bytes"
	nk_ok px
	assert_equal "$(cat "$(nk_out px)")" "stdin bytes"
	run nk_events cli socket.proxy
	assert_output "event=socket.proxy id=1 proxy=127.0.0.1:$SP type=http"
}

@test "http: the CONNECT request as sent, Basic credentials, nothing of stdin before the 200 (stand-in: it records what came first)" {
	printf 'stdin bytes' >"$T/in"
	scripted px http --extra X
	NK_STDIN=$T/in tstart cli "$NETKIT" connect --events \
	    --proxy "http://nk%20user:p%40ss%3A@127.0.0.1:$SP" localhost 80
	nk_ok cli
	nk_ok px
	run said px
	# base64 of "nk user:p@ss:"
	assert_line --index 1 "> CONNECT localhost:80 HTTP/1.1"
	assert_line "> Host: localhost:80"
	assert_line "> Proxy-Authorization: Basic $(printf 'nk user:p@ss:' | base64)"
	assert_line "early 0"
	assert_equal "${lines[-1]}" "replied"
	assert_equal "$(cat "$(nk_out px)")" "stdin bytes"
	assert_equal "$(cat "$(nk_out cli)")" "X"
	run nk_events cli socket.connect
	assert_output --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=localhost:80\$"
}

@test "http: a 407 with a body (stand-in: HTTP/1.1 and a body, which tinyproxy's 407 has not) is ERR_PROXY_AUTH, the status line its message" {
	scripted px http --pause 0 --status 'HTTP/1.1 407 Proxy Authentication Required' \
	    --header 'Proxy-Authenticate: Basic realm="netkit"' \
	    --header 'Content-Length: 6' --extra 'denied'
	tstart cli "$NETKIT" connect --events --proxy "http://127.0.0.1:$SP" 127.0.0.1 80
	fails_with cli "netkit: connect 127.0.0.1:80 via http 127.0.0.1:$SP: HTTP/1.1 407 Proxy Authentication Required (ERR_PROXY_AUTH)"
	[ -z "$(cat "$(nk_out cli)")" ]
}

# ---------------------------------------------------------------------
# TLS through the tunnel

@test "TLS through socks5h (microsocks): verified against the target's name, SNI the target's; bytes both ways" {
	microsocks_start ms
	fed srv "$NETKIT" listen --events --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" -H 127.0.0.1 0
	local srv_fd=$FED_FD
	PORT=$(nk_port srv)
	fed cli "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
	    --proxy "socks5h://127.0.0.1:$MS" localhost "$PORT"
	printf 'from client' >&"$FED_FD"
	nk_wait_size "$(nk_out srv)" 11
	printf 'from target' >&"$srv_fd"
	nk_wait_size "$(nk_out cli)" 11
	# The target ends first (microsocks passes no half-close).
	exec {srv_fd}>&-
	nk_ok cli
	exec {FED_FD}>&-
	assert_equal "$(cat "$(nk_out srv)")" "from client"
	assert_equal "$(cat "$(nk_out cli)")" "from target"
	run cat "$(nk_err cli)"
	assert_line --index 1 "event=socket.proxy id=1 proxy=127.0.0.1:$MS type=socks5h"
	assert_line --index 2 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=localhost:$PORT\$"
	assert_line --index 3 --regexp '^event=socket\.secure id=1 protocol=TLSv1\.[23] cipher=[^ ]+ alpn="" servername=localhost authorized=true peer=localhost '
	# The server got the target's name as SNI (the proxy is 127.0.0.1).
	run nk_events srv socket.secure
	assert_output --regexp '^event=socket\.secure id=1 .* servername=localhost '
}

@test "TLS through socks5 (microsocks): a target (127.0.0.2) the certificate does not name fails, though the proxy's 127.0.0.1 is named" {
	microsocks_start ms
	fed srv "$NETKIT" listen --events --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" -H 127.0.0.2 0
	PORT=$(nk_port srv)
	tstart cli "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
	    --proxy "socks5://127.0.0.1:$MS" 127.0.0.2 "$PORT"
	status_is cli 1
	run errors cli
	assert_output --regexp "^netkit: connect 127\.0\.0\.2:$PORT( via socks5 127\.0\.0\.1:$MS)?: .*127\.0\.0\.2.* \(ERR_TLS_CERT_ALTNAME_INVALID\)\$"
	run nk_events cli socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ERR_TLS_CERT_ALTNAME_INVALID '

	# A --tls-servername that does not match is checked, too.
	fed srv2 "$NETKIT" listen --events --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" -H 127.0.0.1 0
	PORT=$(nk_port srv2)
	tstart cli2 "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
	    --tls-servername other.example --proxy "socks5h://127.0.0.1:$MS" \
	    localhost "$PORT"
	status_is cli2 1
	run errors cli2
	assert_output --regexp "^netkit: connect localhost:$PORT( via socks5h 127\.0\.0\.1:$MS)?: .*other\.example.* \(ERR_TLS_CERT_ALTNAME_INVALID\)\$"
}

@test "TLS through http (tinyproxy): a certificate naming only other.example verifies with --tls-servername other.example" {
	tinyproxy_start tp
	fed srv "$NETKIT" listen --events --tls --tls-cert "$CERTS/wrongname.pem" \
	    --tls-key "$CERTS/server.key" -H 127.0.0.1 0
	local srv_fd=$FED_FD
	PORT=$(nk_port srv)
	fed cli "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
	    --tls-servername other.example --proxy "http://127.0.0.1:$TP" \
	    127.0.0.1 "$PORT"
	printf 'from target' >&"$srv_fd"
	nk_wait_size "$(nk_out cli)" 11
	exec {srv_fd}>&-
	nk_ok cli
	exec {FED_FD}>&-
	assert_equal "$(cat "$(nk_out cli)")" "from target"
	run nk_events cli socket.secure
	assert_output --regexp '^event=socket\.secure id=1 .* servername=other\.example authorized=true peer=other\.example '
	run nk_events srv socket.secure
	assert_output --regexp ' servername=other\.example '
}
