#!/usr/bin/env bats
#
# netkit scan: open, closed and filtered ports told apart, stdout (the open
# ports, ascending, once each), -v, --events, exit codes and usage errors,
# IPv6, a scan of every port (found, nothing left in TIME_WAIT or
# CLOSE_WAIT, never EMFILE), --concurrency 1, and -u.
#
# Every server binds port 0 and its port is learned from its
# server.listening event. A closed port is one a listener bound and then
# gave back. A filtered port is a listener whose accept queue is full (a
# python3 socket, listen(0), whose queue is filled by connects it never
# accepts): the kernel drops further SYNs, so an attempt hears nothing.
# Tests that need a port range no other process uses run in a network
# namespace of their own (unshare -n; skipped where that is not allowed).
#
# stderr and stderr_lines are set by bats' run --separate-stderr.
# shellcheck disable=SC2154,SC2016

load helpers

bats_require_minimum_version 1.5.0

# Scans of every port may take a few seconds on a loaded machine.
: "${SCAN_SECS:=60}"

# scan_open NAME: a TCP server that accepts every connection (echo); sets
# PORT.
scan_open() { nk_echo_server "$1"; }

# scan_closed NAME [-u]: a port that a listener bound and gave back; sets
# PORT (nothing listens there any more).
scan_closed() {
	local name=$1
	shift
	nk_start "$name" "$NETKIT" listen "$@" --events 0
	PORT=$(nk_port "$name") || return 1
	nk_kill "$name"
	nk_wait "$name" || return 1
	if [ "${1:-}" = -u ]; then
		nk_until 10 "UDP port $PORT free" scan_udp_free "$PORT"
	else
		nk_wait_unlistened
	fi
}
scan_udp_free() { [ -z "$(ss -Hlun "sport = :$1")" ]; }

# The filtered port: 127.0.0.1, listen(0), its accept queue filled by one
# connect that completes and two more whose SYNs the kernel drops; then
# the usual server.listening line on stderr, and a wait to be killed.
SCAN_FULL_PY='
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
held = [socket.create_connection(("127.0.0.1", port))]
for i in range(2):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    held.append(c)
print("event=server.listening address=127.0.0.1 port=%d family=IPv4 "
      "protocol=tcp" % port, file=sys.stderr, flush=True)
time.sleep(300)
'

# scan_filtered NAME: start that listener; sets PORT.
scan_filtered() {
	need_python
	nk_start "$1" "$PY" -c "$SCAN_FULL_PY"
	PORT=$(nk_port "$1" 20) || return 1
}

# scan_results FILE: the scan.result lines of a file, ms removed
# (the ms values are checked on their own).
scan_results() { grep -E '^event=scan\.result ' "$1" | sed -E 's/ ms=-?[0-9]+$//'; }

# scan_ascending: stdin is numbers, one a line, strictly ascending.
scan_ascending() { sort -n -u -c; }

# need_netns: skip unless this user may make a network namespace (and
# bring its loopback up in it).
need_netns() {
	command -v unshare >/dev/null || skip "unshare not installed"
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
	unshare -n ip link set lo up 2>/dev/null ||
	    skip "cannot make a network namespace here (unshare -n)"
}

# need_ipv6: skip unless ::1 can be bound.
need_ipv6() {
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' ||
	    skip "no ::1 on lo"
}

@test "scan: open, closed and filtered told apart; stdout the open port, -v counts, exit 0" {
	scan_open open
	local o=$PORT
	scan_closed gone
	local c=$PORT
	scan_filtered full
	local f=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan -v --events -w 500 \
	    127.0.0.1 "$f,$c" "$o"
	assert_success
	assert_output "$o"
	run scan_results <(printf '%s\n' "${stderr_lines[@]}")
	assert_line "event=scan.result remote=127.0.0.1:$o port=$o state=open"
	assert_line "event=scan.result remote=127.0.0.1:$c port=$c state=closed"
	assert_line "event=scan.result remote=127.0.0.1:$f port=$f state=filtered"
	[ "${#lines[@]}" -eq 3 ]
	assert_regex "${stderr_lines[-1]}" \
	    '^netkit: scanned 3 ports in [0-9]+ ms: 1 open, 1 closed, 1 filtered$'
	# Nothing else on stderr: three events and the summary.
	[ "${#stderr_lines[@]}" -eq 4 ]
}

@test "scan: stdout is exactly the open ports, ascending, once each, whatever order given" {
	scan_open a
	local p1=$PORT
	scan_open b
	local p2=$PORT
	scan_open c
	local p3=$PORT
	scan_closed gone
	local c=$PORT
	scan_filtered full
	local f=$PORT
	# Answers come back in any order (the filtered port last of all);
	# stdout is still in port order.
	run --separate-stderr timeout 20 "$NETKIT" scan -v -w 300 127.0.0.1 \
	    "$p3,$p1" "$c" "$p2" "$p1,$p1" "$f" "$p2-$p2"
	assert_success
	assert_output "$(printf '%s\n' "$p1" "$p2" "$p3" | sort -n)"
	assert_regex "$stderr" \
	    '^netkit: scanned 5 ports in [0-9]+ ms: 3 open, 1 closed, 1 filtered$'
}

@test "scan: nothing open: stdout empty, exit 1, the summary still printed" {
	scan_closed gone1
	local c1=$PORT
	scan_closed gone2
	local c2=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan -v 127.0.0.1 "$c1,$c2"
	assert_failure 1
	assert_output ""
	assert_regex "$stderr" \
	    '^netkit: scanned 2 ports in [0-9]+ ms: 0 open, 2 closed, 0 filtered$'
	# Without -v, nothing at all on stderr.
	run --separate-stderr timeout 20 "$NETKIT" scan 127.0.0.1 "$c1" "$c2"
	assert_failure 1
	assert_output ""
	[ -z "$stderr" ]
}

@test "scan --events: one scan.result line per port, exact" {
	scan_open open
	local o=$PORT
	scan_closed gone
	local c=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan --events 127.0.0.1 "$c" "$o"
	assert_success
	assert_output "$o"
	[ "${#stderr_lines[@]}" -eq 2 ]
	run scan_results <(printf '%s\n' "${stderr_lines[@]}")
	assert_line "event=scan.result remote=127.0.0.1:$o port=$o state=open"
	assert_line "event=scan.result remote=127.0.0.1:$c port=$c state=closed"
}

@test "scan --events: ms is a whole number of milliseconds, never negative, at least -w when filtered" {
	scan_open open
	local o=$PORT
	scan_closed gone
	local c=$PORT
	scan_filtered full
	local f=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan --events -w 400 \
	    127.0.0.1 "$o,$c,$f"
	assert_success
	[ "${#stderr_lines[@]}" -eq 3 ]
	local l ms
	for l in "${stderr_lines[@]}"; do
		[[ "$l" =~ \ ms=([0-9]+)$ ]] || {
			echo "bad ms in: $l" >&2
			return 1
		}
		ms=${BASH_REMATCH[1]}
		if [[ "$l" == *" port=$f "* ]] && [ "$ms" -lt 400 ]; then
			echo "filtered after $ms ms, before -w 400: $l" >&2
			return 1
		fi
	done
}

@test "scan: exit 2 with one line on stderr for bad ports and missing operands" {
	local bad args
	for bad in 0 70000 65536 5-1 a '' 1,,2 ',1' '1,' 5- 1-2-3 0x50 +80 ' 80' 1-65536; do
		run --separate-stderr timeout 10 "$NETKIT" scan 127.0.0.1 "$bad"
		if [ "$status" -ne 2 ] || [ -n "$output" ] ||
		    [ "${#stderr_lines[@]}" -ne 1 ] ||
		    [[ "$stderr" != "netkit: scan: "* ]]; then
			echo "scan 127.0.0.1 '$bad': status $status, stdout '$output', stderr:" >&2
			echo "$stderr" >&2
			return 1
		fi
		# A bad list among good ones is as bad.
		run --separate-stderr timeout 10 "$NETKIT" scan 127.0.0.1 80 "$bad" 81
		[ "$status" -eq 2 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
	done
	for args in "127.0.0.1" "" "-v 127.0.0.1" "--concurrency 0 127.0.0.1 80" \
	    "--concurrency x 127.0.0.1 80" "-w x 127.0.0.1 80"; do
		# shellcheck disable=SC2086
		run --separate-stderr timeout 10 "$NETKIT" scan $args
		if [ "$status" -ne 2 ] || [ -n "$output" ] ||
		    [ "${#stderr_lines[@]}" -ne 1 ] ||
		    [[ "$stderr" != "netkit: "* ]]; then
			echo "scan $args: status $status, stdout '$output', stderr:" >&2
			echo "$stderr" >&2
			return 1
		fi
	done
	# An empty host.
	run --separate-stderr timeout 10 "$NETKIT" scan '' 80
	assert_failure 2
	assert_output ""
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "scan -s of the other family than the target: a usage error, as for connect" {
	need_ipv6
	scan_open open
	local o=$PORT
	run --separate-stderr timeout 10 "$NETKIT" scan -s ::1 127.0.0.1 "$o"
	assert_failure 2
	assert_output ""
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: scan: "* ]]
	# What connect says for the same.
	run --separate-stderr timeout 10 "$NETKIT" connect -s ::1 127.0.0.1 "$o" </dev/null
	assert_failure 2
}

@test "scan: the bounds 1 and 65535 are ports; ranges and lists mix over operands" {
	scan_closed gone
	local c=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan -v 127.0.0.1 "$c-$c" "$c,$c"
	[ "$status" -eq 1 ]
	assert_regex "$stderr" '^netkit: scanned 1 ports in [0-9]+ ms: 0 open, 1 closed, 0 filtered$'
	# 1 and 65535 parse (what they hold is not ours to know).
	run --separate-stderr timeout 20 "$NETKIT" scan -v 127.0.0.1 1,65535 1-1
	[ "$status" -le 1 ]
	assert_regex "$stderr" '^netkit: scanned 2 ports in [0-9]+ ms: '
}

@test "scan: options after the operands" {
	scan_open open
	local o=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan 127.0.0.1 "$o" -v --events -w 300
	assert_success
	assert_output "$o"
	assert_equal "$(scan_results <(printf '%s\n' "${stderr_lines[@]}"))" \
	    "event=scan.result remote=127.0.0.1:$o port=$o state=open"
	assert_regex "${stderr_lines[-1]}" \
	    '^netkit: scanned 1 ports in [0-9]+ ms: 1 open, 0 closed, 0 filtered$'
}

@test "scan ::1: open and closed over IPv6, remote in brackets" {
	need_ipv6
	scan_open open
	local o=$PORT
	scan_closed gone
	local c=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan -v --events ::1 "$c,$o"
	assert_success
	assert_output "$o"
	run scan_results <(printf '%s\n' "${stderr_lines[@]}")
	assert_line "event=scan.result remote=[::1]:$o port=$o state=open"
	assert_line "event=scan.result remote=[::1]:$c port=$c state=closed"
	assert_regex "${stderr_lines[-1]}" \
	    '^netkit: scanned 2 ports in [0-9]+ ms: 1 open, 1 closed, 0 filtered$'
}

@test "scan -6 NAME and -4 NAME: the name's address of that family" {
	need_ipv6
	local name
	name=$(getent ahostsv6 localhost ip6-localhost ip6-loopback 2>/dev/null |
	    awk '$1 == "::1" && $3 != "" { print $3; exit }')
	[ -n "$name" ] || skip "no name resolves to ::1 here (/etc/hosts)"
	scan_open open
	local o=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan -6 --events "$name" "$o"
	assert_success
	assert_output "$o"
	assert_equal "$(scan_results <(printf '%s\n' "${stderr_lines[@]}"))" \
	    "event=scan.result remote=[::1]:$o port=$o state=open"
	run --separate-stderr timeout 20 "$NETKIT" scan -4 --events localhost "$o"
	assert_success
	assert_output "$o"
	assert_equal "$(scan_results <(printf '%s\n' "${stderr_lines[@]}"))" \
	    "event=scan.result remote=127.0.0.1:$o port=$o state=open"
}

# A scan of every port of 127.0.0.1 on the host would reach the listeners
# of tests running at the same time (a one-connection peer would take the
# scanner's attempt for its client): full-range scans run in a network
# namespace of their own.

# scan_netns SCRIPT ARGS...: run bash SCRIPT in a new network namespace
# with lo up, an echo server started ($port, its events in $dir/srv.err)
# and stopped after; $0 is netkit, $1 the test's directory.
scan_netns() {
	local script=$1
	shift
	run --separate-stderr timeout "$SCAN_SECS" unshare -n bash -c '
		ip link set lo up || exit 99
		nk=$0 dir=$1
		shift 2
		"$nk" echo -p 0 --events </dev/null >/dev/null \
		    2>"$dir/srv.err" 3>&- &
		srv=$!
		trap "kill -KILL $srv 2>/dev/null" EXIT
		for i in $(seq 250); do
			grep -q server.listening "$dir/srv.err" && break
			sleep 0.02
		done
		port=$(sed -nE "s/.*server\.listening.* port=([0-9]+) .*/\1/p" \
		    "$dir/srv.err")
		echo "port=$port" >&2
		'"$script"'
		st=$?
		kill "$srv"
		wait "$srv"
		exit "$st"' "$NETKIT" "$BATS_TEST_TMPDIR" "$@"
	[ "$status" -ne 99 ] || skip "cannot bring lo up in the namespace"
}

@test "netns: scan 1-65535 finds the listener; no TIME_WAIT or CLOSE_WAIT left on either side" {
	need_netns
	scan_netns '"$nk" scan -v 127.0.0.1 1-65535 || exit $?
		# A loaded machine (sanitizers, -j2) may be slow to accept.
		for i in $(seq 1500); do
			grep -q "socket\.close" "$dir/srv.err" && break
			sleep 0.02
		done
		ss -Htan | grep -v LISTEN | sed "s/^/ss: /" >&2
		exit 0'
	local port=${stderr_lines[0]#port=}
	[ -n "$port" ]
	assert_success
	assert_output "$port"
	assert_equal "${stderr_lines[1]}" \
	    "$(printf 'netkit: scanned 65535 ports in %s ms: 1 open, 65534 closed, 0 filtered' \
		"$(sed -nE 's/^netkit: scanned 65535 ports in ([0-9]+) ms.*/\1/p' <<<"${stderr_lines[1]}")")"
	# ss printed every socket that is not listening: none is left.
	[ -z "$(printf '%s\n' "${stderr_lines[@]}" | grep '^ss: ')" ]
	grep -q '^event=socket\.close id=1 had_error=true' "$BATS_TEST_TMPDIR/srv.err"
}

@test "netns: scan -s 127.0.0.2 1-65535: the listener sees that source; no socket left behind" {
	need_netns
	scan_netns '"$nk" scan -v -s 127.0.0.2 127.0.0.1 1-65535 || exit $?
		# A loaded machine (sanitizers, -j2) may be slow to accept, and
		# the scan resets an open port at once: a connection reset
		# before the server accepted it may never be accepted. Then
		# the one port is scanned again (to /dev/null), a few times,
		# until the server has seen a connection.
		for try in 1 2 3 4 5 6 7 8; do
			for i in $(seq 150); do
				grep -q "socket\.close" "$dir/srv.err" && break 2
				sleep 0.02
			done
			"$nk" scan -s 127.0.0.2 127.0.0.1 "$port" >/dev/null
		done
		ss -Htan | grep -v LISTEN | sed "s/^/ss: /" >&2
		exit 0'
	local port=${stderr_lines[0]#port=}
	assert_success
	assert_output "$port"
	[ -z "$(printf '%s\n' "${stderr_lines[@]}" | grep '^ss: ')" ]
	grep -Eq '^event=server\.connection id=1 remote=127\.0\.0\.2:[0-9]+ ' \
	    "$BATS_TEST_TMPDIR/srv.err"
}

@test "netns: scan 1-65535 under ulimit -n 64: no EMFILE, the listener found" {
	need_netns
	scan_netns '(ulimit -n 64 && exec "$nk" scan -v 127.0.0.1 1-65535)'
	local port=${stderr_lines[0]#port=}
	assert_success
	assert_output "$port"
	[[ "$stderr" != *EMFILE* ]]
	[[ "$stderr" != *"Too many open files"* ]]
	assert_regex "${stderr_lines[1]}" \
	    '^netkit: scanned 65535 ports in [0-9]+ ms: 1 open, 65534 closed, 0 filtered$'
}

@test "scan --concurrency 1: one attempt at a time, the same answers" {
	scan_open a
	local p1=$PORT
	scan_open b
	local p2=$PORT
	scan_closed gone
	local c=$PORT
	scan_filtered full
	local f=$PORT
	run --separate-stderr timeout 20 "$NETKIT" scan --concurrency 1 -v \
	    --events -w 300 127.0.0.1 "$p2,$c,$f,$p1"
	assert_success
	assert_output "$(printf '%s\n' "$p1" "$p2" | sort -n)"
	assert_regex "${stderr_lines[-1]}" \
	    '^netkit: scanned 4 ports in [0-9]+ ms: 2 open, 1 closed, 1 filtered$'
	# One at a time: the events come in port order.
	run scan_results <(printf '%s\n' "${stderr_lines[@]}")
	[ "${#lines[@]}" -eq 4 ]
	printf '%s\n' "${lines[@]}" | sed -E 's/.* port=([0-9]+) .*/\1/' | scan_ascending
	assert_line "event=scan.result remote=127.0.0.1:$f port=$f state=filtered"
	assert_line "event=scan.result remote=127.0.0.1:$c port=$c state=closed"
}

@test "scan -u: open (an echo), closed (a freed port), open|filtered (silence)" {
	nk_echo_server uecho -u
	local u=$PORT
	scan_closed ugone -u
	local c=$PORT
	# listen -u with nothing on stdin answers nothing.
	nk_start usilent "$NETKIT" listen -u --events 0
	local s
	s=$(nk_port usilent)
	run --separate-stderr timeout 20 "$NETKIT" scan -u -v --events -w 500 \
	    127.0.0.1 "$s,$c,$u"
	assert_success
	assert_output "$u"
	local ev
	ev=$(scan_results <(printf '%s\n' "${stderr_lines[@]}"))
	run echo "$ev"
	assert_line "event=scan.result remote=127.0.0.1:$u port=$u state=open"
	assert_line "event=scan.result remote=127.0.0.1:$c port=$c state=closed"
	assert_line "event=scan.result remote=127.0.0.1:$s port=$s state=open|filtered"
	[ "${#lines[@]}" -eq 3 ]
	run printf '%s\n' "${stderr_lines[@]}"
	assert_line "netkit: $s open|filtered"
	assert_regex "${lines[-1]}" \
	    '^netkit: scanned 3 ports in [0-9]+ ms: 1 open, 1 closed, 1 open\|filtered$'
	# The silent one got the empty datagram.
	nk_wait_line usilent '^event=socket\.message .*bytes=0$'
}

@test "scan -u: nothing open: exit 1, open|filtered on stderr only with -v" {
	scan_closed ugone -u
	local c=$PORT
	nk_start usilent "$NETKIT" listen -u --events 0
	local s
	s=$(nk_port usilent)
	run --separate-stderr timeout 20 "$NETKIT" scan -u -v -w 400 127.0.0.1 "$c" "$s"
	assert_failure 1
	assert_output ""
	assert_equal "${stderr_lines[0]}" "netkit: $s open|filtered"
	assert_regex "${stderr_lines[1]}" \
	    '^netkit: scanned 2 ports in [0-9]+ ms: 0 open, 1 closed, 1 open\|filtered$'
	[ "${#stderr_lines[@]}" -eq 2 ]
	# Without -v: nothing on either.
	run --separate-stderr timeout 20 "$NETKIT" scan -u -w 400 127.0.0.1 "$c" "$s"
	assert_failure 1
	assert_output ""
	[ -z "$stderr" ]
}

@test "scan: stdout /dev/full: one ENOSPC line, exit 1" {
	[ -w /dev/full ] || skip "no /dev/full"
	scan_open open
	local o=$PORT
	run --separate-stderr bash -c \
	    'exec timeout 20 "$0" scan 127.0.0.1 "$1" >/dev/full' "$NETKIT" "$o"
	assert_failure 1
	assert_equal "$stderr" "netkit: scan stdout: No space left on device (ENOSPC)"
}

# --- in a network namespace of its own: no other process's ports -----------

@test "netns: a scan of every port finds exactly the one listener" {
	need_netns
	run --separate-stderr timeout "$SCAN_SECS" unshare -n bash -c '
		ip link set lo up || exit 99
		"$0" echo -p 0 --events </dev/null >/dev/null 2>"$1/srv.err" 3>&- &
		srv=$!
		trap "kill -KILL $srv 2>/dev/null" EXIT
		for i in $(seq 250); do
			grep -q server.listening "$1/srv.err" && break
			sleep 0.02
		done
		port=$(sed -nE "s/.*server\.listening.* port=([0-9]+) .*/\1/p" "$1/srv.err")
		echo "port=$port" >&2
		"$0" scan -v 127.0.0.1 1-65535
		st=$?
		kill "$srv"
		wait "$srv"
		exit "$st"' "$NETKIT" "$BATS_TEST_TMPDIR"
	local port=${stderr_lines[0]#port=}
	[ -n "$port" ]
	assert_success
	assert_output "$port"
	assert_regex "${stderr_lines[1]}" \
	    '^netkit: scanned 65535 ports in [0-9]+ ms: 1 open, 65534 closed, 0 filtered$'
}

@test "netns: a refused port is closed however many attempts are in flight (-w 300, 30000 ports)" {
	need_netns
	# Nothing listens in the namespace: every port refuses at once.
	run --separate-stderr timeout "$SCAN_SECS" unshare -n bash -c \
	    'ip link set lo up && exec "$0" scan -v -w 300 127.0.0.1 1-30000' "$NETKIT"
	assert_failure 1
	assert_output ""
	assert_regex "$stderr" \
	    '^netkit: scanned 30000 ports in [0-9]+ ms: 0 open, 30000 closed, 0 filtered$'
}

@test "netns: a connection to itself (source port = port scanned) is not an open port" {
	need_netns
	# One ephemeral port, 40000: the attempt on 40000 leaves from 40000.
	run --separate-stderr timeout 20 unshare -n bash -c '
		ip link set lo up || exit 99
		echo "40000 40000" >/proc/sys/net/ipv4/ip_local_port_range || exit 99
		exec "$0" scan -v 127.0.0.1 39999-40001' "$NETKIT"
	[ "$status" -ne 99 ] || skip "cannot set ip_local_port_range in the namespace"
	assert_failure 1
	assert_output ""
	assert_regex "$stderr" \
	    '^netkit: scanned 3 ports in [0-9]+ ms: 0 open, 3 closed, 0 filtered$'
}
