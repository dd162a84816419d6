#!/usr/bin/env bats
#
# More server modes (SPEC.md, "More server modes (listen, echo)"):
# listen -k --broker, where what a client sends goes to every other client
# as well as to stdout, and abstract UNIX sockets (-U @NAME, Linux),
# interoperable with socat's ABSTRACT-* addresses.
#
# Abstract names are per test (nk_name), so parallel runs do not collide;
# a server on one is ready at its server.listening line, a socat listener
# once /proc/net/unix shows the name.

load helpers

bats_require_minimum_version 1.5.0

# nk_name: an abstract name of this test's own.
nk_name() {
	echo "nk-$(printf '%s' "$BATS_TEST_TMPDIR" | sha256sum | cut -c1-16)"
}

# nk_bound NAME: whether the abstract name NAME is bound, exactly (an
# address padded with NUL bytes shows as "@NAME@@@...").
nk_bound() { grep -Eq " @$1\$" /proc/net/unix; }

# nk_wait_bound NAME: wait until the abstract name NAME is bound.
nk_wait_bound() { nk_until 10 "@$1 bound" nk_bound "$1"; }

# An empty directory as the current directory of the servers: an abstract
# socket leaves no file there.
setup() {
	CWD=$BATS_TEST_TMPDIR/cwd
	mkdir "$CWD"
}

need_socat() {
	command -v socat >/dev/null || skip "socat not installed"
}

@test "abstract: listen -U @NAME, socat ABSTRACT-CONNECT both ways, no file" {
	need_socat
	local name
	name=$(nk_name)
	printf 'from netkit\n' >"$BATS_TEST_TMPDIR/in"
	# A file named like the socket: neither used nor touched.
	printf 'keep me\n' >"$CWD/@$name"
	NK_STDIN=$BATS_TEST_TMPDIR/in nk_start srv sh -c \
	    'cd "$1" && exec "$0" listen --events -U "@$2"' "$NETKIT" "$CWD" "$name"
	nk_wait_line srv "^event=server\\.listening path=@$name protocol=unix\$"
	# Bound unpadded: exactly the name.
	nk_bound "$name"
	run timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$name" <<<"from socat"
	assert_success
	assert_output "from netkit"
	nk_ok srv
	[ "$(cat "$(nk_out srv)")" = "from socat" ]
	run nk_events srv server.connection
	assert_output "event=server.connection id=1 remote=@$name connections=1"
	[ "$(ls -A "$CWD")" = "@$name" ]
	[ "$(cat "$CWD/@$name")" = "keep me" ]
	run ! nk_bound "$name"
}

@test "abstract: connect -U @NAME to socat ABSTRACT-LISTEN, both ways" {
	need_socat
	local name
	name=$(nk_name)
	printf 'from socat\n' >"$BATS_TEST_TMPDIR/peer.in"
	NK_STDIN=$BATS_TEST_TMPDIR/peer.in nk_start peer socat -t 5 "ABSTRACT-LISTEN:$name" -
	nk_wait_bound "$name"
	run --separate-stderr timeout 10 "$NETKIT" connect --events -U "@$name" <<<"from netkit"
	assert_success
	assert_output "from socat"
	[[ "$stderr" == *"event=socket.connect id=1 local=\"\" remote=@$name"* ]]
	nk_ok peer
	[ "$(cat "$(nk_out peer)")" = "from netkit" ]
}

@test "abstract: echo -U @NAME serves socat and netkit connect, no file" {
	need_socat
	local name
	name=$(nk_name)
	NK_STDIN=/dev/null nk_start srv sh -c \
	    'cd "$1" && exec "$0" echo --events -U "@$2"' "$NETKIT" "$CWD" "$name"
	nk_wait_line srv "^event=server\\.listening path=@$name protocol=unix\$"
	run timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$name" <<<"ping"
	assert_success
	assert_output "ping"
	nk_random "$BATS_TEST_TMPDIR/in" 1M
	timeout 10 "$NETKIT" connect -U "@$name" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/got"
	[ "$(nk_sha "$BATS_TEST_TMPDIR/got")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
	[ -z "$(ls -A "$CWD")" ]
	nk_signal srv TERM
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ -z "$(ls -A "$CWD")" ]
	run ! nk_bound "$name"
}

@test "abstract: a name in use is EADDRINUSE, exit 1; the server goes on" {
	local name
	name=$(nk_name)
	NK_STDIN=/dev/null nk_start srv "$NETKIT" echo --events -U "@$name"
	nk_wait_line srv '^event=server\.listening '
	run timeout 10 "$NETKIT" listen -U "@$name"
	assert_failure 1
	assert_output "netkit: listen @$name: Address already in use (EADDRINUSE)"
	run timeout 10 "$NETKIT" connect -U "@$name" <<<"still here"
	assert_success
	assert_output "still here"
}

@test "abstract: -u datagrams with socat ABSTRACT-SENDTO and ABSTRACT-RECV" {
	need_socat
	local name
	name=$(nk_name)
	NK_STDIN=/dev/null nk_start srv sh -c \
	    'cd "$1" && exec "$0" listen -u --events -U "@$2"' "$NETKIT" "$CWD" "$name"
	nk_wait_line srv "^event=server\\.listening path=@$name protocol=unixgram\$"
	printf 'one datagram' | timeout 10 socat -u - "ABSTRACT-SENDTO:$name"
	nk_wait_size "$(nk_out srv)" 12
	[ "$(cat "$(nk_out srv)")" = "one datagram" ]
	nk_wait_line srv '^event=socket\.message .*bytes=12$'
	nk_signal srv TERM
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ -z "$(ls -A "$CWD")" ]

	nk_start peer socat -u "ABSTRACT-RECV:$name" -
	nk_wait_bound "$name"
	run timeout 10 "$NETKIT" connect -u -t 100 -U "@$name" < <(printf 'to socat')
	assert_success
	nk_wait_size "$(nk_out peer)" 8
	[ "$(cat "$(nk_out peer)")" = "to socat" ]
}

@test "abstract: forward unix:@FROM unix:@TO" {
	need_socat
	local name
	name=$(nk_name)
	printf 'from upstream\n' >"$BATS_TEST_TMPDIR/up.in"
	NK_STDIN=$BATS_TEST_TMPDIR/up.in nk_start up socat -t 5 "ABSTRACT-LISTEN:$name-to" -
	nk_wait_bound "$name-to"
	NK_STDIN=/dev/null nk_start fwd sh -c \
	    'cd "$1" && exec "$0" forward --events "unix:@$2-from" "unix:@$2-to"' \
	    "$NETKIT" "$CWD" "$name"
	nk_wait_line fwd "^event=server\\.listening path=@$name-from protocol=unix\$"
	run timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$name-from" <<<"from client"
	assert_success
	assert_output "from upstream"
	nk_ok up
	[ "$(cat "$(nk_out up)")" = "from client" ]
	nk_wait_line fwd "^event=socket\\.connect id=1 .*remote=@$name-to\$"
	[ -z "$(ls -A "$CWD")" ]
}

@test "abstract: -U @ is a usage error, a name of 108 bytes ENAMETOOLONG" {
	local cmd long
	for cmd in listen connect echo; do
		run timeout 10 "$NETKIT" "$cmd" -U @
		assert_failure 2
		assert_output "netkit: $cmd: -U @: empty abstract name (see 'netkit $cmd --help')"
	done
	run timeout 10 "$NETKIT" forward unix:@ 127.0.0.1:9
	assert_failure 2
	run timeout 10 "$NETKIT" forward 0 unix:@
	assert_failure 2
	long=$(printf 'n%.0s' $(seq 108))
	run timeout 10 "$NETKIT" listen -U "@$long"
	assert_failure 1
	assert_output "netkit: listen @$long: File name too long (ENAMETOOLONG)"
	run timeout 10 "$NETKIT" connect -U "@$long"
	assert_failure 1
	assert_output "netkit: connect @$long: File name too long (ENAMETOOLONG)"
	# 107 bytes, the most sun_path holds after its NUL, is a name.
	long=${long:1}-$(nk_name)
	long=${long: -107}
	NK_STDIN=/dev/null nk_start srv "$NETKIT" echo --events -U "@$long"
	nk_wait_line srv "^event=server\\.listening path=@$long protocol=unix\$"
	run timeout 10 "$NETKIT" connect -U "@$long" <<<"long name"
	assert_success
	assert_output "long name"
}

# nk_size_steady FILE: FILE is not empty and keeps its size for 0.5 s.
nk_size_steady() {
	local size i
	size=$(stat -c %s "$1")
	[ "$size" -gt 0 ] || return 1
	for i in $(seq 25); do
		sleep 0.02
		[ "$(stat -c %s "$1")" = "$size" ] || return 1
	done
}

# nk_letters FILE SIZE CLASS: SIZE random letters of CLASS (a-z, A-Z).
nk_letters() {
	head -c $(($2 * 3)) /dev/urandom | base64 -w0 | tr -dc "$3" |
	    head -c "$2" >"$1"
	[ "$(stat -c %s "$1")" = "$2" ]
}

# nk_chunks EVENTS ID=FILE...: the bytes of the FILEs cut into the chunks
# the socket.data events of EVENTS say were read from each ID, in the
# order read: what every receiver of those chunks must hold.
nk_chunks() {
	python3 - "$@" <<'PY'
import re, sys
events, pairs = sys.argv[1], sys.argv[2:]
src = {}
for p in pairs:
    i, f = p.split("=", 1)
    src[i] = open(f, "rb")
out = sys.stdout.buffer
for line in open(events):
    m = re.match(r"event=socket\.data id=(\d+) bytes=(\d+)$", line)
    if m and m.group(1) in src:
        out.write(src[m.group(1)].read(int(m.group(2))))
PY
}

@test "--broker: three clients, each one's message reaches the two others and stdout, not itself" {
	local i j msg
	NK_STDIN=/dev/null nk_listen srv -k --broker
	for i in 1 2 3; do
		msg=
		for j in $(seq -w 40); do
			msg+="client $i says line $j of its one write\\n"
		done
		printf '%b' "$msg" >"$BATS_TEST_TMPDIR/m$i"
		# Each reads the two others' messages (1560 bytes each), then ends.
		nk_client c$i "sendfile:$(nk_gate g$i)" "send:$msg" read:3120 shut-wr expect-eof
		nk_wait_line srv "^event=server\\.connection id=$i "
	done
	# One at a time: each message whole at stdout before the next is sent.
	for i in 1 2 3; do
		nk_open_gate g$i
		nk_wait_size "$(nk_out srv)" $((1560 * i))
	done
	for i in 1 2 3; do nk_ok c$i; done
	cd "$BATS_TEST_TMPDIR"
	cat m1 m2 m3 >want.srv
	cat m2 m3 >want.c1
	cat m1 m3 >want.c2
	cat m1 m2 >want.c3
	cmp want.c1 c1.out
	cmp want.c2 c2.out
	cmp want.c3 c3.out
	nk_wait_count srv '^event=socket\.close ' 3
	cmp want.srv srv.out
	for i in 1 2 3; do
		run nk_events srv socket.close
		assert_line "event=socket.close id=$i had_error=false bytes_read=1560 bytes_written=3120"
	done
	nk_running srv
}

@test "--broker: 1 MiB from each of two clients at once reaches the others in whole chunks, in order" {
	command -v python3 >/dev/null || skip "python3 not installed"
	local d=$BATS_TEST_TMPDIR
	nk_letters "$d/a" 1048576 a-z
	nk_letters "$d/b" 1048576 A-Z
	NK_STDIN=/dev/null nk_listen srv -k --broker
	# A receiver only (id 1), then two senders that read as they send.
	nk_client c read:2097152 shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=1 '
	NK_STDIN=$d/a nk_start a "$NETKIT" connect 127.0.0.1 "$PORT"
	nk_wait_line srv '^event=server\.connection id=2 '
	NK_STDIN=$d/b nk_start b "$NETKIT" connect 127.0.0.1 "$PORT"
	nk_ok c 30
	nk_ok a
	nk_ok b
	nk_wait_count srv '^event=socket\.close ' 3
	# Each sender's bytes, in its order, at the receiver and stdout.
	tr -cd a-z <"$d/c.out" | cmp - "$d/a"
	tr -cd A-Z <"$d/c.out" | cmp - "$d/b"
	# Both hold the chunks whole, in the order they were read.
	nk_chunks "$(nk_err srv)" 2="$d/a" 3="$d/b" >"$d/want"
	[ "$(stat -c %s "$d/want")" = 2097152 ]
	cmp "$d/want" "$d/c.out"
	cmp "$d/want" "$d/srv.out"
	# A sender gets the other's bytes only (up to its own end).
	[ -z "$(tr -d A-Z <"$d/a.out")" ]
	[ -z "$(tr -d a-z <"$d/b.out")" ]
	cmp -n "$(stat -c %s "$d/a.out")" "$d/a.out" "$d/b"
	cmp -n "$(stat -c %s "$d/b.out")" "$d/b.out" "$d/a"
	echo "socket.data events: $(grep -c '^event=socket\.data' "$d/srv.err")"
}

@test "--broker: stdin still goes to every client; its end sends no FIN, the clients go on" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k --broker
	nk_client c1 read:6 "sendfile:$(nk_gate send)" send:after-eof read:2 shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=1 '
	nk_client c2 read:6 "sendfile:$(nk_gate check)" expect-open:500 send:ok read:9 shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=2 '
	printf 'hello\n' >&7
	nk_wait_size "$(nk_out c1)" 6
	nk_wait_size "$(nk_out c2)" 6
	nk_fifo_close
	# Nothing (no FIN) reaches c2 for 0.5 s after stdin's end; then it
	# speaks, and c1 answers.
	nk_open_gate check
	nk_wait_size "$(nk_out srv)" 2
	nk_open_gate send
	nk_ok c1
	nk_ok c2
	[ "$(cat "$(nk_out c1)")" = $'hello\nok' ]
	[ "$(cat "$(nk_out c2)")" = $'hello\nafter-eof' ]
	nk_wait_count srv '^event=socket\.close ' 2
	[ "$(cat "$(nk_out srv)")" = okafter-eof ]
	run nk_events srv socket.close
	assert_line "event=socket.close id=1 had_error=false bytes_read=9 bytes_written=8"
	assert_line "event=socket.close id=2 had_error=false bytes_read=2 bytes_written=15"
	nk_running srv
}

@test "--broker: a client that does not read holds back the others, not itself; nothing is dropped" {
	command -v python3 >/dev/null || skip "python3 not installed"
	local d=$BATS_TEST_TMPDIR size=33554432 msg="the stalled one says hi" at
	nk_random "$d/big" 32M
	NK_STDIN=/dev/null nk_listen srv -k --broker --buffer-size 65536
	# r reads nothing until its second gate; f reads all along; s sends.
	nk_client r "sendfile:$(nk_gate say)" "send:$msg" "sendfile:$(nk_gate read)" \
	    read:$size shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=1 '
	nk_client f read:$((size + ${#msg})) shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=2 '
	nk_client s "sendfile:$d/big" read:${#msg} shut-wr expect-eof
	# s is read until r's backlog is full, then no more.
	nk_until 20 "stdout stalls" nk_size_steady "$d/srv.out"
	at=$(stat -c %s "$d/srv.out")
	echo "stdout stalled at $at of $size bytes"
	[ "$at" -lt "$size" ]
	nk_running s
	# r's own full backlog does not stop r from being read.
	nk_open_gate say
	nk_wait_size "$d/srv.out" $((at + ${#msg}))
	nk_size_steady "$d/srv.out"
	[ "$(stat -c %s "$d/srv.out")" = $((at + ${#msg})) ]
	run nk_events srv socket.drain
	assert_output ""
	# r reads: everything flows again, whole.
	nk_open_gate read
	nk_ok r 30
	nk_ok f 30
	nk_ok s 30
	cmp "$d/big" "$d/r.out"
	[ "$(cat "$d/s.out")" = "$msg" ]
	{ head -c "$at" "$d/big"; printf '%s' "$msg"; tail -c +$((at + 1)) "$d/big"; } >"$d/want"
	cmp "$d/want" "$d/f.out"
	nk_wait_count srv '^event=socket\.close ' 3
	cmp "$d/want" "$d/srv.out"
	run nk_events srv socket.drain
	assert_line "event=socket.drain id=1"
}

@test "--broker: without -k, with -e or -u a usage error; only listen takes it" {
	run timeout 10 "$NETKIT" listen --broker 0
	assert_failure 2
	assert_output "netkit: listen: --broker needs -k (see 'netkit listen --help')"
	run timeout 10 "$NETKIT" listen -k --broker -e cat 0
	assert_failure 2
	assert_output "netkit: listen: --broker does not go with -e (see 'netkit listen --help')"
	run timeout 10 "$NETKIT" listen -k -u --broker 0
	assert_failure 2
	assert_output "netkit: listen: --broker does not go with -u (see 'netkit listen --help')"
	for cmd in connect echo forward; do
		run timeout 10 "$NETKIT" "$cmd" --broker 0
		assert_failure 2
		assert_output "netkit: $cmd: --broker does not apply to $cmd (see 'netkit $cmd --help')"
	done
}

@test "--broker over abstract sockets: socat clients talk to each other" {
	command -v socat >/dev/null || skip "socat not installed"
	local name
	name=$(nk_name)
	NK_STDIN=/dev/null nk_start srv "$NETKIT" listen -k --broker --events -U "@$name"
	nk_wait_line srv "^event=server\\.listening path=@$name protocol=unix\$"
	nk_fifo
	NK_STDIN=$FIFO nk_start c1 socat -t 5 - "ABSTRACT-CONNECT:$name"
	nk_wait_line srv '^event=server\.connection id=1 remote=@'"$name"' connections=1$'
	run timeout 10 socat -t 1 - "ABSTRACT-CONNECT:$name" <<<"hi from 2"
	assert_success
	nk_wait_size "$(nk_out c1)" 10
	[ "$(cat "$(nk_out c1)")" = "hi from 2" ]
	[ "$(cat "$(nk_out srv)")" = "hi from 2" ]
	nk_fifo_close
	nk_ok c1
}
