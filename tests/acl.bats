#!/usr/bin/env bats
#
# Access control (SPEC.md, "Access control (listen, echo, forward,
# connect)"): --allow, --deny, --allow-file and --deny-file, Node's
# BlockList as flags. Servers (listen, echo, forward; -u datagrams) refuse
# clients by their address: accepted and reset, server.drop reason=blocked
# and nothing else. connect never attempts a refused destination:
# ERR_IP_BLOCKED when none is left.
#
# Clients choose their address with -s (127.0.0.0/8 is all local here);
# ::1 is the IPv6 client. A dual-stack listener (no -H: [::]) receives an
# IPv4 client as an IPv4-mapped address (::ffff:127.0.0.2), which matches
# IPv4 rules. A name with two addresses (dual.test: ::1 and 127.0.0.1)
# comes from a private /etc/hosts in a mount namespace, as in
# connect-phase.bats.
#
# stderr is set by bats' run --separate-stderr.
# shellcheck disable=SC2154

load helpers

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR
}

# try SRC [DST]: one client from SRC to DST (127.0.0.1) $PORT that sends
# "x" to an echo server: "in" when x comes back, "out" when the connection
# is refused (exit 1 on a reset, nothing received), else what happened.
try() {
	local out st=0
	out=$(printf x | timeout 10 "$NETKIT" connect -s "$1" \
	    "${2:-127.0.0.1}" "$PORT" 2>"$T/try.err") || st=$?
	if [ "$st" = 0 ] && [ "$out" = x ]; then
		echo in
	elif [ "$st" = 1 ] && [ -z "$out" ] &&
	    grep -Eq '\((ECONNRESET|EPIPE)\)$' "$T/try.err"; then
		echo out
	else
		echo "odd ($1: exit $st, stdout '$out', stderr '$(cat "$T/try.err")')"
	fi
}

# verdicts SRC...: try each SRC (to 127.0.0.1) in turn; the verdicts on
# one line, such as "in out in".
verdicts() {
	local src v=()
	for src in "$@"; do
		v+=("$(try "$src")")
	done
	echo "${v[*]}"
}

# udp_try SRC [DST]: one datagram "x" from SRC to an echo -u server at DST
# (127.0.0.1) $PORT: "in" when it comes back, "out" when nothing does.
udp_try() {
	local out st=0
	out=$(printf x | timeout 10 "$NETKIT" connect -u -t 300 -s "$1" \
	    "${2:-127.0.0.1}" "$PORT" 2>"$T/try.err") || st=$?
	if [ "$st" = 0 ] && [ "$out" = x ]; then
		echo in
	elif [ "$st" = 0 ] && [ -z "$out" ]; then
		echo out
	else
		echo "odd ($1: exit $st, stdout '$out', stderr '$(cat "$T/try.err")')"
	fi
}

# usage_error CMD ARGS...: exit 2, one "netkit: CMD: " line on stderr,
# nothing on stdout; the line is in $stderr.
usage_error() {
	local cmd=$1
	run --separate-stderr timeout 10 "$NETKIT" "$@"
	[ "$status" -eq 2 ] && [ -z "$output" ] &&
	    [ "${#stderr_lines[@]}" -eq 1 ] &&
	    [[ "$stderr" == "netkit: $cmd: "* ]] ||
	    fail "netkit $*: status $status, stdout '$output', stderr '$stderr'"
}

# drops NAME: NAME's server.drop lines with the port of each remote cut
# off ("remote=127.0.0.2 connections=0 reason=blocked").
drops() {
	nk_events "$1" server.drop |
	    sed -E 's/^event=server\.drop //; s/(remote=[^ ]*):[0-9]+ /\1 /'
}

# ---------------------------------------------------------------------
# Servers: listen, echo, forward

@test "echo --deny 127.0.0.2: that client is reset with server.drop reason=blocked and nothing else; 127.0.0.3 is echoed" {
	nk_echo_server srv -H 127.0.0.1 --deny 127.0.0.2
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3)" "out in"
	nk_wait_count srv '^event=socket\.close ' 1
	run nk_events srv server.drop
	assert_output --regexp '^event=server\.drop remote=127\.0\.0\.2:[0-9]+ connections=0 reason=blocked$'
	run nk_events srv server.connection
	assert_output --regexp '^event=server\.connection id=1 remote=127\.0\.0\.3:[0-9]+ connections=1$'
	# Between the drop and the allowed client's connection, nothing.
	run grep -v '^event=server\.listening ' "$(nk_err srv)"
	assert_line --index 0 --partial 'event=server.drop '
	assert_line --index 1 --partial 'event=server.connection id=1 '
}

@test "echo --allow only: the addresses allowed and no other; refused clients are not counted against -m" {
	nk_echo_server srv -H 127.0.0.1 -m 1 --allow 127.0.0.3 --allow 127.0.0.5
	assert_equal "$(verdicts 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5)" \
	    "out out in out in"
	nk_wait_count srv '^event=socket\.close ' 2
	run drops srv
	assert_output "remote=127.0.0.1 connections=0 reason=blocked
remote=127.0.0.2 connections=0 reason=blocked
remote=127.0.0.4 connections=0 reason=blocked"
	run nk_events srv server.connection
	assert_equal "${#lines[@]}" 2
}

@test "--allow and --deny together: a --deny wins whatever the order" {
	nk_echo_server a -H 127.0.0.1 --deny 127.0.0.3 --allow 127.0.0.0/29
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3 127.0.0.7 127.0.0.8)" \
	    "in out in out"
	nk_echo_server b -H 127.0.0.1 --allow 127.0.0.0/29 --deny 127.0.0.3
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3 127.0.0.7 127.0.0.8)" \
	    "in out in out"
}

@test "CIDR and A-B ranges at their edges: first and last address in, one past either end out" {
	nk_echo_server cidr -H 127.0.0.1 --allow 127.0.0.4/30
	assert_equal "$(verdicts 127.0.0.3 127.0.0.4 127.0.0.7 127.0.0.8)" \
	    "out in in out"
	nk_echo_server range -H 127.0.0.1 --allow 127.0.0.10-127.0.0.12
	assert_equal "$(verdicts 127.0.0.9 127.0.0.10 127.0.0.12 127.0.0.13)" \
	    "out in in out"
	nk_echo_server dcidr -H 127.0.0.1 --deny 127.0.0.20/31
	assert_equal "$(verdicts 127.0.0.19 127.0.0.20 127.0.0.21 127.0.0.22)" \
	    "in out out in"
	# Bits past the prefix are ignored: 127.0.0.33/30 is .32 to .35.
	nk_echo_server host -H 127.0.0.1 --deny 127.0.0.33/30
	assert_equal "$(verdicts 127.0.0.31 127.0.0.32 127.0.0.35 127.0.0.36)" \
	    "in out out in"
	# A range of one address, and /32.
	nk_echo_server one -H 127.0.0.1 --deny 127.0.0.40-127.0.0.40 \
	    --deny 127.0.0.42/32
	assert_equal "$(verdicts 127.0.0.39 127.0.0.40 127.0.0.41 127.0.0.42)" \
	    "in out in out"
}

@test "IPv6: ::1 refused by --deny ::1 and by an --allow it is not in; allowed by ::1/128 and a range" {
	local opts n=0
	for opts in "--deny ::1" "--allow fd00::/8" "--deny ::/0" \
	    "--allow ::1/128" "--allow ::-::2" "--deny 127.0.0.1"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		nk_echo_server "srv$n" -H ::1 $opts
		case $n in
		[1-3]) assert_equal "$(try ::1 ::1)" out ;;
		*) assert_equal "$(try ::1 ::1)" in ;;
		esac
	done
	run drops srv1
	assert_output "remote=[::1] connections=0 reason=blocked"
}

@test "dual-stack listener: 127.0.0.2 arrives as ::ffff:127.0.0.2 and matches IPv4 rules; an IPv6 rule outside ::ffff:0:0/96 does not match it" {
	nk_echo_server v4 --deny 127.0.0.2
	nk_wait_line v4 '^event=server\.listening address=:: .*family=IPv6'
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3)" "out in"
	assert_equal "$(try ::1 ::1)" in
	run drops v4
	assert_output "remote=127.0.0.2 connections=0 reason=blocked"
	nk_echo_server net --allow 127.0.0.0/8
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3)" "in in"
	assert_equal "$(try ::1 ::1)" out
	nk_echo_server all4 --deny 0.0.0.0/0
	assert_equal "$(verdicts 127.0.0.2)" out
	assert_equal "$(try ::1 ::1)" in
	nk_echo_server all6 --deny ::/0
	assert_equal "$(verdicts 127.0.0.2)" in
	assert_equal "$(try ::1 ::1)" out
}

@test "a rule written as ::ffff:127.0.0.2 is the IPv4 address: on an IPv4 listener and on a dual-stack one" {
	nk_echo_server v4 -H 127.0.0.1 --deny ::ffff:127.0.0.2
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3)" "out in"
	nk_echo_server dual --deny ::ffff:127.0.0.2
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3)" "out in"
	nk_echo_server net -H 127.0.0.1 --allow ::ffff:127.0.0.0/120
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3)" "in in"
	nk_echo_server mixed -H 127.0.0.1 --deny 127.0.0.2-::ffff:127.0.0.3
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3 127.0.0.4)" "out out in"
}

@test "listen --deny 127.0.0.2: the refused client does not take the one connection; 127.0.0.3 is relayed, exit 0" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -H 127.0.0.1 --deny 127.0.0.2
	run bash -c "printf bad | timeout 10 '$NETKIT' connect -s 127.0.0.2 127.0.0.1 $PORT"
	assert_failure 1
	assert_output --regexp "^netkit: connect 127\.0\.0\.1:$PORT: .* \((ECONNRESET|EPIPE)\)\$"
	nk_wait_line srv '^event=server\.drop '
	run bash -c "printf good | timeout 10 '$NETKIT' connect -s 127.0.0.3 127.0.0.1 $PORT"
	assert_success
	nk_fifo_close
	nk_ok srv
	assert_equal "$(cat "$(nk_out srv)")" good
	run drops srv
	assert_output "remote=127.0.0.2 connections=0 reason=blocked"
	run nk_events srv server.connection
	assert_output --regexp '^event=server\.connection id=1 remote=127\.0\.0\.3:[0-9]+ connections=1$'
}

@test "listen -k -e: a refused client runs no command; an allowed one does" {
	local ran=$T/ran
	nk_listen srv -H 127.0.0.1 -k -e "echo ran >>'$ran'; cat" --deny 127.0.0.2
	assert_equal "$(try 127.0.0.2)" out
	nk_wait_line srv '^event=server\.drop '
	assert_equal "$(try 127.0.0.3)" in
	nk_wait_line srv '^event=socket\.close id=1 '
	assert_equal "$(cat "$ran")" ran
	run nk_events srv server.connection
	assert_output --regexp '^event=server\.connection id=1 remote=127\.0\.0\.3:'
}

@test "forward --deny: the refused client is reset and TO sees no connection; the lists are about clients, not TO" {
	local up
	nk_echo_server up -H 127.0.0.1
	up=$PORT
	# 127.0.0.1, TO's address, is denied too: it does not matter.
	nk_start fwd "$NETKIT" forward --events --deny 127.0.0.2 \
	    --deny 127.0.0.1 127.0.0.1:0 "127.0.0.1:$up"
	PORT=$(nk_port fwd)
	assert_equal "$(try 127.0.0.2)" out
	nk_wait_line fwd '^event=server\.drop '
	assert_equal "$(try 127.0.0.3)" in
	nk_wait_line fwd '^event=socket\.close id=1 '
	run grep -v '^event=server\.listening ' "$(nk_err fwd)"
	assert_line --index 0 --regexp '^event=server\.drop remote=127\.0\.0\.2:[0-9]+ connections=0 reason=blocked$'
	assert_line --index 1 --regexp '^event=server\.connection id=1 remote=127\.0\.0\.3:'
	assert_line --index 2 "event=socket.attempt id=1 remote=127.0.0.1:$up"
	refute_line --regexp '^event=server\.connection .*remote=127\.0\.0\.2:'
	refute_line --regexp '^event=socket\.attempt id=2 '
	# TO's first connection is the allowed client's.
	nk_wait_line up '^event=server\.connection '
	run nk_events up server.connection
	assert_output --regexp '^event=server\.connection id=1 remote=127\.0\.0\.1:[0-9]+ connections=1$'
}

@test "echo -u --deny 127.0.0.2 (dual-stack): its datagrams get no reply, one server.drop each, no socket.message; 127.0.0.3 and ::1 get theirs" {
	nk_echo_server srv -u --deny 127.0.0.2
	assert_equal "$(udp_try 127.0.0.2)" out
	assert_equal "$(udp_try 127.0.0.2)" out
	assert_equal "$(udp_try 127.0.0.3)" in
	assert_equal "$(udp_try ::1 ::1)" in
	run drops srv
	assert_output "remote=127.0.0.2 connections=0 reason=blocked
remote=127.0.0.2 connections=0 reason=blocked"
	run nk_events srv socket.message
	refute_output --partial 'remote=127.0.0.2:'
	assert_line --index 0 --regexp '^event=socket\.message remote=127\.0\.0\.3:[0-9]+ bytes=1$'
	assert_line --index 1 --regexp '^event=socket\.message remote=\[::1\]:[0-9]+ bytes=1$'
}

@test "-v: a refused client or datagram is one 'dropped ADDR (blocked)' line (echo, echo -u)" {
	local u
	for u in '' -u; do
		# shellcheck disable=SC2086
		nk_start "srv$u" "$NETKIT" echo -v $u -p 0 -H 127.0.0.1 --deny 127.0.0.2
		nk_wait_line "srv$u" '^netkit: listening on '
		PORT=$(sed -nE 's/^netkit: listening on 127\.0\.0\.1:([0-9]+).*/\1/p' \
		    "$(nk_err "srv$u")")
		if [ -z "$u" ]; then
			assert_equal "$(try 127.0.0.2)" out
		else
			assert_equal "$(udp_try 127.0.0.2)" out
		fi
		nk_wait_line "srv$u" '^netkit: dropped '
		run grep -v '^netkit: listening on ' "$(nk_err "srv$u")"
		assert_output --regexp '^netkit: dropped 127\.0\.0\.2:[0-9]+ \(blocked\)$'
	done
}

@test "listen -u --deny 127.0.0.2: its datagrams are dropped (server.drop reason=blocked each) and it never becomes the peer; 127.0.0.3 does" {
	nk_listen srv -u -t 500 -H 127.0.0.1 --deny 127.0.0.2
	run bash -c "printf 'a\nb\n' | timeout 10 '$NETKIT' connect -u --lines -t 100 -s 127.0.0.2 127.0.0.1 $PORT"
	assert_success
	nk_wait_count srv 'reason=blocked' 2
	run bash -c "printf good | timeout 10 '$NETKIT' connect -u -t 100 -s 127.0.0.3 127.0.0.1 $PORT"
	assert_success
	nk_ok srv
	assert_equal "$(cat "$(nk_out srv)")" good
	run drops srv
	assert_output "remote=127.0.0.2 connections=0 reason=blocked
remote=127.0.0.2 connections=0 reason=blocked"
	run nk_events srv server.connection
	assert_output --regexp '^event=server\.connection id=1 remote=127\.0\.0\.3:[0-9]+ connections=1$'
}

@test "echo --fd 3 (an inherited TCP listener): the lists apply to its clients" {
	need_python
	nk_start srv python3 -c '
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
os.dup2(s.fileno(), 3)
os.execv(sys.argv[1], [sys.argv[1], "echo", "--fd", "3", "--events",
    "--deny", "127.0.0.2"])
' "$NETKIT"
	PORT=$(nk_port srv)
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3)" "out in"
}

@test "an inherited UNIX listener: its clients have no address and match no rule (refused with --allow, allowed with --deny alone)" {
	need_python
	local opt n=0 sock
	for opt in --allow --deny; do
		n=$((n + 1))
		sock=$T/inh$n.sock
		nk_start "srv$n" python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[2])
s.listen(4)
os.dup2(s.fileno(), 3)
os.execv(sys.argv[1], [sys.argv[1], "echo", "--fd", "3", "--events",
    sys.argv[3], "127.0.0.1"])
' "$NETKIT" "$sock" "$opt"
		nk_wait_line "srv$n" '^event=server\.listening '
		run bash -c "printf u | timeout 5 '$NETKIT' connect -U '$sock' 2>/dev/null"
		if [ "$opt" = --allow ]; then
			# A reset or an end, as the close meets the client's
			# data or not: nothing comes back.
			assert_output ''
			nk_wait_line "srv$n" '^event=server\.drop '
			run drops "srv$n"
			assert_output "remote=$sock connections=0 reason=blocked"
		else
			assert_success
			assert_output u
		fi
	done
}

# ---------------------------------------------------------------------
# Files

@test "--deny-file and --allow-file: comments (also after a SPEC), blank lines and spaces ignored" {
	printf '%s\n' '# refused' '' '   127.0.0.2   # one host' \
	    "$(printf '\t')127.0.0.8/30" '127.0.0.20-127.0.0.21# no space' \
	    '  # an indented comment' '::1' >"$T/list"
	printf '\r\n' >>"$T/list"
	nk_echo_server deny -H 127.0.0.1 --deny-file "$T/list"
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3 127.0.0.7 127.0.0.8 \
	    127.0.0.11 127.0.0.12 127.0.0.20 127.0.0.21 127.0.0.22)" \
	    "out in in out out in out out in"
	nk_echo_server allow -H 127.0.0.1 --allow-file "$T/list"
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3 127.0.0.8 127.0.0.21 127.0.0.22)" \
	    "in out in in out"
	# Files and options add up.
	nk_echo_server both -H 127.0.0.1 --allow-file "$T/list" \
	    --allow 127.0.0.3 --deny 127.0.0.9
	assert_equal "$(verdicts 127.0.0.2 127.0.0.3 127.0.0.8 127.0.0.9 127.0.0.22)" \
	    "in in in out out"
}

@test "an --allow-file without a SPEC allows nobody; an empty --deny-file refuses nobody" {
	printf '# nobody yet\n\n' >"$T/empty"
	nk_echo_server a -H 127.0.0.1 --allow-file "$T/empty"
	assert_equal "$(verdicts 127.0.0.1 127.0.0.2)" "out out"
	nk_echo_server d -H 127.0.0.1 --deny-file /dev/null
	assert_equal "$(verdicts 127.0.0.1 127.0.0.2)" "in in"
}

@test "a bad line of a file is a usage error naming the file and the line (exit 2)" {
	local cmd
	printf '# ok\n127.0.0.1\nxyz\n' >"$T/bad"
	usage_error listen --deny-file "$T/bad" 0
	assert_equal "$stderr" "netkit: listen: --deny-file $T/bad:3: bad address 'xyz' (see 'netkit listen --help')"
	printf '\n  10.0.0.0/33 # too long a prefix\n' >"$T/bad2"
	usage_error echo -p 0 --allow-file "$T/bad2"
	assert_equal "$stderr" "netkit: echo: --allow-file $T/bad2:2: bad prefix length in '10.0.0.0/33' (0 to 32) (see 'netkit echo --help')"
	printf '127.0.0.1\n1.2.3.4-::1\n' >"$T/bad3"
	usage_error connect --deny-file "$T/bad3" 127.0.0.1 1
	assert_equal "$stderr" "netkit: connect: --deny-file $T/bad3:2: range '1.2.3.4-::1' mixes IPv4 and IPv6 (see 'netkit connect --help')"
	printf '1.2.3.4 1.2.3.5\n' >"$T/bad4"
	usage_error forward --allow-file "$T/bad4" 0 127.0.0.1:1
	assert_equal "$stderr" "netkit: forward: --allow-file $T/bad4:1: bad address '1.2.3.4 1.2.3.5' (see 'netkit forward --help')"
	# A line of binary: unprintable bytes are shown as '?'.
	printf 'ok\001\n' >"$T/bad5"
	usage_error listen --deny-file "$T/bad5" 0
	assert_equal "$stderr" "netkit: listen: --deny-file $T/bad5:1: bad address 'ok?' (see 'netkit listen --help')"
	for cmd in listen echo connect forward; do
		case $cmd in
		listen) set -- 0 ;;
		echo) set -- -p 0 ;;
		connect) set -- 127.0.0.1 1 ;;
		forward) set -- 0 127.0.0.1:1 ;;
		esac
		usage_error "$cmd" --deny-file "$T/bad" "$@"
	done
}

@test "an unreadable file is a usage error with the errno name (exit 2)" {
	usage_error listen --deny-file "$T/none" 0
	assert_equal "$stderr" "netkit: listen: --deny-file $T/none: No such file or directory (ENOENT) (see 'netkit listen --help')"
	usage_error echo -p 0 --allow-file "$T"
	assert_equal "$stderr" "netkit: echo: --allow-file $T: Is a directory (EISDIR) (see 'netkit echo --help')"
}

# ---------------------------------------------------------------------
# Usage errors

@test "bad specs are usage errors (exit 2) for every command" {
	local spec cmd
	for spec in 10.0.0.0/33 1.2.3.4-1.2.3.1 1.2.3.4-::1 foo '' \
	    10.0.0.0/ /8 ::1/129 10.0.0.0/-1 10.0.0.0/8/9 1.2.3.4- -1.2.3.4 \
	    10.0.0.0/8-10.0.0.9 '[::1]' '10.0.0.1 ' 1.2.3 fe80::1%lo \
	    ::2-::1 10.0.0.0/0008; do
		for cmd in listen echo connect forward; do
			case $cmd in
			listen) set -- 0 ;;
			echo) set -- -p 0 ;;
			connect) set -- 127.0.0.1 1 ;;
			forward) set -- 0 127.0.0.1:1 ;;
			esac
			usage_error "$cmd" --deny "$spec" "$@"
			usage_error "$cmd" "--allow=$spec" "$@"
		done
	done
	usage_error listen --deny 10.0.0.0/33 0
	assert_equal "$stderr" "netkit: listen: --deny: bad prefix length in '10.0.0.0/33' (0 to 32) (see 'netkit listen --help')"
	usage_error listen --deny 1.2.3.4-1.2.3.1 0
	assert_equal "$stderr" "netkit: listen: --deny: range '1.2.3.4-1.2.3.1' ends below its start (see 'netkit listen --help')"
	usage_error listen --allow 1.2.3.4-::1 0
	assert_equal "$stderr" "netkit: listen: --allow: range '1.2.3.4-::1' mixes IPv4 and IPv6 (see 'netkit listen --help')"
	usage_error listen --deny foo 0
	assert_equal "$stderr" "netkit: listen: --deny: bad address 'foo' (see 'netkit listen --help')"
	usage_error listen --deny ::1/129 0
	assert_equal "$stderr" "netkit: listen: --deny: bad prefix length in '::1/129' (0 to 128) (see 'netkit listen --help')"
}

@test "valid edge specs are taken: /0, /32, /128, ::/0, A-A" {
	local spec
	for spec in 0.0.0.0/0 10.0.0.1/32 ::/0 ::1/128 10.0.0.1-10.0.0.1 \
	    ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 255.255.255.255 \
	    ::ffff:10.0.0.0/104 10.0.0.0/08; do
		run timeout 5 "$NETKIT" listen --deny "$spec" --help
		assert_success
	done
}

@test "UNIX sockets have no address: the lists with -U, forward's unix:FROM and connect --fd are usage errors; scan takes none" {
	usage_error listen -U "$T/s.sock" --deny 127.0.0.1
	assert_equal "$stderr" "netkit: listen: --allow and --deny need IP addresses, not a UNIX socket (see 'netkit listen --help')"
	usage_error echo -U "$T/s.sock" --allow-file /dev/null
	usage_error connect -U "$T/s.sock" --allow 127.0.0.1
	usage_error listen -u -U "$T/s.sock" --deny 127.0.0.1
	usage_error forward --deny 127.0.0.1 "unix:$T/s.sock" 127.0.0.1:1
	usage_error connect --fd 3 --deny 127.0.0.1
	assert_equal "$stderr" "netkit: connect: --allow and --deny need HOST PORT, not --fd (see 'netkit connect --help')"
	usage_error scan --deny 127.0.0.1 127.0.0.1 1
	assert_equal "$stderr" "netkit: scan: --deny does not apply to scan (see 'netkit scan --help')"
	[ ! -e "$T/s.sock" ]
	# forward to a UNIX socket is fine: the lists are about clients.
	run timeout 5 "$NETKIT" forward --deny 127.0.0.2 0 "unix:$T/s.sock" --help
	assert_success
}

# ---------------------------------------------------------------------
# connect

@test "connect to a denied address: never attempted, ERR_IP_BLOCKED, the exact lines, exit 1; the target sees no connection" {
	nk_listen srv -H 127.0.0.1 -k
	run --separate-stderr timeout 10 "$NETKIT" connect --events \
	    --deny 127.0.0.0/8 127.0.0.1 "$PORT" </dev/null
	assert_failure 1
	assert_output ''
	assert_equal "$stderr" "event=socket.error id=1 code=ERR_IP_BLOCKED message=blocked
event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0
netkit: connect 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
	# Without --events: the one line.
	run --separate-stderr timeout 10 "$NETKIT" connect --allow 127.0.0.2 \
	    127.0.0.1 "$PORT" </dev/null
	assert_failure 1
	assert_equal "$stderr" "netkit: connect 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
	# A rule as the mapped address; a target as the mapped address.
	run --separate-stderr timeout 10 "$NETKIT" connect \
	    --deny ::ffff:127.0.0.1 127.0.0.1 "$PORT" </dev/null
	assert_failure 1
	run --separate-stderr timeout 10 "$NETKIT" connect --deny 127.0.0.1 \
	    ::ffff:127.0.0.1 "$PORT" </dev/null
	assert_failure 1
	assert_equal "$stderr" "netkit: connect 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
	# Nothing reached the target: the first connection it sees is this.
	run timeout 10 "$NETKIT" connect --deny 127.0.0.2 127.0.0.1 "$PORT" </dev/null
	assert_success
	nk_wait_line srv '^event=server\.connection '
	run nk_events srv server.connection
	assert_output --regexp '^event=server\.connection id=1 '
}

@test "connect -u to a denied address: ERR_IP_BLOCKED, exit 1, nothing sent" {
	nk_echo_server srv -u -H 127.0.0.1
	run --separate-stderr timeout 10 "$NETKIT" connect -u --deny 127.0.0.1 \
	    127.0.0.1 "$PORT" <<<hi
	assert_failure 1
	assert_equal "$stderr" "netkit: connect 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
	run nk_events srv socket.message
	assert_output ''
}

# need_hosts: skip unless a private /etc/hosts works here (unshare -m, a
# bind mount): dual.test must resolve to ::1 and 127.0.0.1. As in
# connect-phase.bats.
need_hosts() {
	command -v unshare >/dev/null || skip "unshare not installed"
	HOSTS=$T/hosts
	printf '::1 dual.test\n127.0.0.1 dual.test\n' >"$HOSTS"
	local got
	got=$(timeout 10 unshare -m sh -c \
	    'mount --bind "$0" /etc/hosts && getent ahosts dual.test' \
	    "$HOSTS" 2>/dev/null | awk '$2 == "STREAM" { print $1 }' |
	    LC_ALL=C sort -u | tr '\n' ' ')
	[ "$got" = "127.0.0.1 ::1 " ] ||
	    skip "no private /etc/hosts here (unshare -m, mount --bind): '$got'"
}

# dual ARGS...: netkit connect --events ARGS with the private /etc/hosts.
dual() {
	timeout 20 unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
	    "$HOSTS" "$NETKIT" connect --events "$@"
}

@test "connect to a name with two addresses, one denied: only the other is attempted, and it works" {
	need_hosts
	nk_echo_server srv
	run --separate-stderr dual --deny ::1 dual.test "$PORT" <<<hello
	assert_success
	assert_output hello
	assert_equal "${stderr_lines[0]}" "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
	[[ "$stderr" != *'[::1]'* ]]
	run --separate-stderr dual --deny 127.0.0.1 dual.test "$PORT" <<<hello
	assert_success
	assert_output hello
	assert_equal "${stderr_lines[0]}" "event=socket.attempt id=1 remote=[::1]:$PORT"
	[[ "$stderr" != *'127.0.0.1'* ]]
	# Both denied: no attempt; the line names the last in the order
	# (IPv6 first, then IPv4).
	run --separate-stderr dual --deny ::1 --deny 127.0.0.0/8 dual.test "$PORT" </dev/null
	assert_failure 1
	assert_equal "$stderr" "event=socket.error id=1 code=ERR_IP_BLOCKED message=blocked
event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0
netkit: connect 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
	# The same with --allow for neither.
	run --separate-stderr dual --allow 10.0.0.0/8 dual.test "$PORT" </dev/null
	assert_failure 1
	assert_equal "${stderr_lines[-1]}" "netkit: connect 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
}

@test "connect --proxy: the lists apply to the proxy's address (blocked: no connection to it, the line names target and proxy)" {
	nk_listen proxy -H 127.0.0.1 -k
	run --separate-stderr timeout 10 "$NETKIT" connect --deny 127.0.0.1 \
	    --proxy "socks5://127.0.0.1:$PORT" example.org 80 </dev/null
	assert_failure 1
	assert_equal "$stderr" "netkit: connect example.org:80 via socks5 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
	run --separate-stderr timeout 10 "$NETKIT" connect --allow 10.0.0.1 \
	    --proxy "http://127.0.0.1:$PORT" example.org 80 </dev/null
	assert_failure 1
	assert_equal "$stderr" "netkit: connect example.org:80 via http 127.0.0.1:$PORT: blocked (ERR_IP_BLOCKED)"
	run nk_events proxy server.connection
	assert_output ''
}

@test "connect --proxy (microsocks): a denied target is reached through an allowed proxy" {
	command -v microsocks >/dev/null || skip "microsocks not installed"
	need_python
	local try ms
	# The target speaks first and ends; the client's standard input
	# stays open until it has: microsocks does not pass a half-close on.
	printf hello >"$T/hello"
	NK_STDIN=$T/hello nk_listen srv -H 127.0.0.2
	# microsocks cannot bind port 0: a port just freed, three tries.
	for try in 1 2 3; do
		ms=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		nk_start "ms$try" microsocks -i 127.0.0.1 -p "$ms"
		nk_until 10 "microsocks on $ms" ms_up "ms$try" "$ms" || return 1
		nk_running "ms$try" && break
	done
	nk_fifo
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events --deny 127.0.0.2 \
	    --proxy "socks5://127.0.0.1:$ms" 127.0.0.2 "$PORT"
	nk_wait_size "$(nk_out cli)" 5
	nk_fifo_close
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" hello
	nk_wait_line cli "^event=socket\.proxy "
	run nk_events cli socket.attempt
	assert_output "event=socket.attempt id=1 remote=127.0.0.1:$ms"
}
ms_up() { [ -n "$(ss -Hltn "sport = :$2")" ] || ! nk_running "$1"; }
