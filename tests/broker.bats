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
