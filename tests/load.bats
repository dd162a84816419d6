#!/usr/bin/env bats
#
# scripts/nkload, the benchmark's load client: short bounded runs that show
# it measures, and that it checks every echoed byte (a corrupting, silent
# or closing server makes it fail).
#
# stderr and stderr_lines are set by bats' run --separate-stderr.
# shellcheck disable=SC2154

load helpers

bats_require_minimum_version 1.5.0

: "${NKLOAD:=$BATS_TEST_DIRNAME/../scripts/nkload}"

setup() {
	[ -x "$NKLOAD" ] || {
		echo "$NKLOAD not built (make, or set NKLOAD)" >&2
		return 1
	}
}

# field NAME: the value of NAME=VALUE in nkload's summary line ($output).
field() {
	awk -v k="$1" '{
		for (i = 1; i <= NF; i++) {
			n = index($i, "=")
			if (n > 0 && substr($i, 1, n - 1) == k)
				print substr($i, n + 1)
		}
	}' <<<"$output"
}

# nkload ARGS...: run nkload under a deadline; stdout in $output, stderr in
# $stderr, exit status in $status.
nkload() {
	run --separate-stderr timeout 30 "$NKLOAD" "$@"
}

# pingpong_ok CONNS SIZE: a 1 s pingpong against netkit echo passes with
# every message echoed whole.
pingpong_ok() {
	nk_echo_server srv || return 1
	nkload pingpong -p "$PORT" -c "$1" -s "$2" -d 1
	echo "status=$status stdout: $output" >&2
	echo "stderr: $stderr" >&2
	[ "$status" -eq 0 ] &&
	    [[ "$output" == "pingpong conns=$1 size=$2 msgs="* ]] &&
	    [ "$(field errors)" = 0 ] &&
	    [ "$(field msgs)" -gt 0 ] &&
	    [[ "$(field p99)" =~ ^[0-9]+\.[0-9]{3}ms$ ]] &&
	    [ -z "$stderr" ]
}

@test "pingpong: 1 connection, 64 B" {
	pingpong_ok 1 64
}

@test "pingpong: 1 connection, 16 KiB" {
	pingpong_ok 1 16384
}

@test "pingpong: 50 connections, 64 B" {
	pingpong_ok 50 64
}

@test "pingpong: 50 connections, 16 KiB" {
	pingpong_ok 50 16384
}

@test "pingpong: a UNIX socket" {
	local sock=$BATS_TEST_TMPDIR/echo.sock
	nk_start srv "$NETKIT" echo -U "$sock" --events
	nk_wait_line srv 'server\.listening'
	nkload pingpong -U "$sock" -c 10 -s 1000 -d 1
	[ "$status" -eq 0 ]
	[ "$(field errors)" = 0 ]
	[ "$(field msgs)" -gt 0 ]
}

@test "pingpong --json: one object, numbers as numbers" {
	command -v python3 >/dev/null || skip "python3 not installed"
	nk_echo_server srv
	nkload pingpong -p "$PORT" -c 2 -s 64 -d 0.5 -w 0.2 --json
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["mode"] == "pingpong" and d["conns"] == 2 and d["size"] == 64, d
assert d["connected"] == 2 and d["errors"] == 0 and d["msgs"] > 0, d
for k in ("msg_per_s", "mb_per_s", "p50_ms", "p99_ms", "p999_ms", "max_ms"):
	assert isinstance(d[k], (int, float)), k
assert 0 < d["p50_ms"] <= d["p99_ms"] <= d["p999_ms"] <= d["max_ms"], d
' "$output"
}

@test "connrate: connect, echo, close, over and over" {
	nk_echo_server srv
	nkload connrate -p "$PORT" -c 10 -s 100 -d 1
	[ "$status" -eq 0 ]
	[[ "$output" == "connrate concurrency=10 size=100 conns="* ]]
	[ "$(field errors)" = 0 ]
	[ "$(field conns)" -gt 10 ]
	[ "$(field conn/s)" -gt 0 ]
}

@test "idle: 500 connections held, memory per connection, all still echo" {
	local pid
	nk_echo_server srv
	pid=$(nk_child srv)
	nkload idle -p "$PORT" -n 500 -t 0.5 --pid "$pid"
	[ "$status" -eq 0 ]
	[ "$(field connected)" = 500 ]
	[ "$(field verified)" = 500 ]
	[ "$(field errors)" = 0 ]
	[[ "$(field bytes/conn)" =~ ^-?[0-9]+$ ]]
	[[ "$(field rss_after)" =~ ^[0-9]+kB$ ]]
}

@test "pingpong fails on a server that corrupts the echo" {
	# One tr per connection, unbuffered: every "a" comes back as "b".
	nk_listen srv -k -e 'exec stdbuf -o0 tr a b'
	nkload pingpong -p "$PORT" -c 2 -s 64 -d 1
	[ "$status" -eq 1 ]
	[ "$(field errors)" -gt 0 ]
	[[ "$stderr" == *"wrong echo: message "*" is 0x62, sent 0x61"* ]]
}

@test "connrate fails on a server that corrupts the echo" {
	nk_listen srv -k -e 'exec stdbuf -o0 tr a b'
	nkload connrate -p "$PORT" -c 2 -s 1000 -d 1
	[ "$status" -eq 1 ]
	[ "$(field errors)" -gt 0 ]
	[[ "$stderr" == *"wrong echo"* ]]
}

@test "pingpong fails on a server that echoes part and closes" {
	nk_listen srv -k -e 'exec head -c 10'
	nkload pingpong -p "$PORT" -c 3 -s 64 -d 1
	[ "$status" -eq 1 ]
	[ "$(field errors)" = 3 ]
	# The server closes with bytes unread: a reset, or else the end of
	# the stream, after at most the 10 bytes.
	[[ "$stderr" == *"conn 0: "*"of 64 bytes of message 1 "* ]]
	[[ "$stderr" != *"wrong echo"* ]]
}

@test "a server that never answers: the run ends at its deadline, failed" {
	local start=$SECONDS
	nk_listen srv -k -e 'exec cat >/dev/null'
	nkload pingpong -p "$PORT" -c 4 -s 64 -d 0.5
	[ "$status" -eq 1 ]
	[ "$(field errors)" = 4 ]
	[ "$(field msgs)" = 0 ]
	[[ "$stderr" == *"0 of 64 bytes of message 1 echoed by the end"* ]]
	# 0.5 s of run and 2 s for the last echoes: it ended on its own (status
	# 1, not timeout's 124); the bound is a generous backstop, 10x that.
	[ $((SECONDS - start)) -le 25 ]
}

@test "idle fails when the server has gone" {
	nk_echo_server srv
	nkload idle -p "$PORT" -n 20 -t 0.2 --pid 999999999
	[ "$status" -eq 1 ]
	[[ "$stderr" == "nkload: --pid 999999999: no VmRSS"* ]]
	nk_signal srv KILL
	nk_wait srv
	nkload idle -p "$PORT" -n 20 -t 0.2
	[ "$status" -eq 1 ]
	[ "$(field connected)" = 0 ]
	[[ "$stderr" == *"ECONNREFUSED"* ]]
}

@test "loopback only, and usage errors exit 2" {
	local args
	for args in "pingpong -H 192.0.2.1 -p 9" \
	    "pingpong -H example.com -p 9" "pingpong -H ::2 -p 9" \
	    "pingpong" "bogus -p 9" "pingpong -p 9 -n 3" "idle -p 9 -c 3" \
	    "pingpong -p 9 -s 0" "pingpong -U /nonexistent -p 9"; do
		# shellcheck disable=SC2086
		nkload $args
		echo "nkload $args: status $status, stderr: $stderr" >&2
		[ "$status" -eq 2 ]
		[ -z "$output" ]
		[[ "${stderr_lines[0]}" == "nkload: "* ]]
	done
	nkload pingpong -H 192.0.2.1 -p 9
	[[ "$stderr" == *"loopback only"* ]]
}
