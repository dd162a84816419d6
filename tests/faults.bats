#!/usr/bin/env bats
#
# Faults: a peer killed mid-transfer, a reset, stdout and stdin closed or
# full, a server short of descriptors under a flood, clients that never
# speak, a UNIX server killed under its client, and SIGTERM during
# transfers. Each ends with a clear outcome and no hang; where netkit
# could spin, its CPU time is measured.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR
	FED_FDS=()
}

# fed NAME CMD...: start CMD (as nk_start) with its stdin from a new fifo;
# the test's end of it is in $FED_FD (write to it; close it for EOF).
# CMD does not inherit the ends of earlier fed processes, so closing one
# is that process's EOF whatever was started after it.
fed() {
	# shellcheck disable=SC2034 # name is used in the eval
	local name=$1 fifo=$T/$1.fifo fd closes=''
	shift
	mkfifo "$fifo"
	for fd in "${FED_FDS[@]}"; do
		closes+=" $fd>&-"
	done
	eval "NK_STDIN=\$fifo nk_start \"\$name\" \"\$@\" $closes"
	exec {FED_FD}>"$fifo"
	FED_FDS+=("$FED_FD")
}

# cpu_ms PID: the CPU time (user + system) PID has used, in ms.
cpu_ms() {
	local stat f
	stat=$(cat "/proc/$1/stat") || return 1
	# shellcheck disable=SC2206
	f=(${stat##*) })
	echo $(((f[11] + f[12]) * 1000 / $(getconf CLK_TCK)))
}

# no_spin NAME: NAME's command uses under 300 ms of CPU in the next second.
no_spin() {
	local pid c0 c1
	pid=$(nk_child "$1") || return 1
	c0=$(cpu_ms "$pid")
	sleep 1 # the measurement window, not a wait
	c1=$(cpu_ms "$pid") || { echo "$1 exited while measured" >&2; return 1; }
	[ $((c1 - c0)) -lt 300 ] ||
	    { echo "$1 used $((c1 - c0)) ms of CPU in 1 s" >&2; return 1; }
}

# error_lines NAME: NAME's stderr lines that are not events.
error_lines() { grep -v '^event=' "$(nk_err "$1")" || true; }

# is_prefix FILE BYTES SEED: FILE is a prefix of "nkpeer rand BYTES SEED".
is_prefix() {
	local n
	n=$(stat -c %s "$1")
	cmp -n "$n" "$1" <("$NKPEER" rand "$2" "$3" 2>/dev/null)
}

# killed_peer_transfer: connect receives 100 MB from a scripted peer
# into a fifo that nothing reads yet (opened read-write, so the open does
# not wait), so the transfer stalls mid-way; the peer is SIGKILLed, then
# a reader drains the fifo. Sets $OUT (what reached stdout) and
# NK_STATUS (connect's exit).
killed_peer_transfer() {
	local fifo=$T/out.fifo st
	mkfifo "$fifo"
	nk_peer_listen peer sendrand:100000000:1
	nk_start cli bash -c "exec \"\$NETKIT\" connect --events 127.0.0.1 $PORT 1<>'$fifo'"
	nk_wait_line cli '^event=socket\.data '
	nk_signal peer KILL
	nk_wait peer
	nk_start reader cat "$fifo"
	nk_wait cli 10
	st=$NK_STATUS
	nk_wait reader 10
	NK_STATUS=$st
	OUT=$(nk_out reader)
}

@test "peer SIGKILLed mid-transfer, nothing unread on its side (FIN): exit 0, a prefix arrived" {
	killed_peer_transfer
	local n
	n=$(stat -c %s "$OUT")
	echo "# $n bytes arrived" >&3
	[ "$NK_STATUS" -eq 0 ] ||
	    fail "exit $NK_STATUS: $(cat "$(nk_err cli)")"
	[ -z "$(error_lines cli)" ]
	[ "$n" -gt 0 ] && [ "$n" -lt 100000000 ] || fail "$n bytes arrived"
	is_prefix "$OUT" 100000000 1
	# Every byte netkit read reached stdout.
	nk_events cli socket.close | grep -qx "event=socket.close id=1 had_error=false bytes_read=$n bytes_written=0"
}

@test "peer SIGKILLed mid-transfer with our bytes unread (RST): exit 1, ECONNRESET, a prefix arrived" {
	printf 'never read\n' >"$T/in"
	NK_STDIN=$T/in killed_peer_transfer
	local n
	n=$(stat -c %s "$OUT")
	echo "# $n bytes arrived" >&3
	[ "$NK_STATUS" -eq 1 ] ||
	    fail "exit $NK_STATUS: $(cat "$(nk_err cli)")"
	run error_lines cli
	assert_output --regexp "^netkit: connect 127\.0\.0\.1:$PORT: .*\(ECONNRESET\)$"
	[ "$n" -gt 0 ] && [ "$n" -lt 100000000 ] || fail "$n bytes arrived"
	is_prefix "$OUT" 100000000 1
	nk_events cli socket.close | grep -qx "event=socket.close id=1 had_error=true bytes_read=$n bytes_written=11"
}

@test "peer SIGKILLed while we send: one line (ECONNRESET or EPIPE), exit 1, no hang" {
	nk_peer_listen peer read:1000000 sleep:10000
	NK_STDIN=/dev/zero nk_start cli "$NETKIT" connect --events 127.0.0.1 "$PORT"
	nk_wait_size "$(nk_out peer)" 1000000
	nk_signal peer KILL
	nk_wait cli 5
	[ "$NK_STATUS" -eq 1 ]
	run error_lines cli
	assert_output --regexp "^netkit: connect 127\.0\.0\.1:$PORT: .*\((ECONNRESET|EPIPE)\)$"
	run tail -n 1 "$(nk_err cli)"
	assert_output --regexp '^event=socket\.close id=1 had_error=true '
}

@test "connection reset: listen and connect exit 1 with one ECONNRESET line, data kept" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv
	run timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" send:before sleep:200 rst
	assert_success
	nk_wait srv 5
	nk_fifo_close
	[ "$NK_STATUS" -eq 1 ]
	[ "$(cat "$(nk_out srv)")" = before ]
	run error_lines srv
	assert_output --regexp "^netkit: listen 127\.0\.0\.1:[0-9]+: .*\(ECONNRESET\)$"

	nk_peer_listen peer send:early sleep:200 rst
	fed cli "$NETKIT" connect 127.0.0.1 "$PORT"
	nk_wait cli 5
	[ "$NK_STATUS" -eq 1 ]
	[ "$(cat "$(nk_out cli)")" = early ]
	run cat "$(nk_err cli)"
	assert_output --regexp "^netkit: connect 127\.0\.0\.1:$PORT: .*\(ECONNRESET\)$"
}

# --- stdout and stdin --------------------------------------------------------

@test "stdout closed (>&-): bytes discarded but counted, idle without spinning, exit 0" {
	# The peer sends its second word once the spin was measured.
	nk_peer_listen peer send:hello "sendfile:$(nk_gate bye)" send:bye shut-wr expect-eof
	fed cli bash -c "exec \"\$NETKIT\" connect --events 127.0.0.1 $PORT >&-"
	nk_wait_line cli '^event=socket\.data '
	no_spin cli
	nk_open_gate bye
	nk_wait cli 10
	[ "$NK_STATUS" -eq 0 ]
	[ -z "$(error_lines cli)" ]
	nk_events cli socket.close | grep -qx 'event=socket.close id=1 had_error=false bytes_read=8 bytes_written=0'
	nk_wait peer
	[ "$NK_STATUS" -eq 0 ]
}

@test "stdout /dev/full: one ENOSPC line, the connection closed at once, exit 1" {
	# The peer would keep the connection open for 30 s: netkit closing it
	# is what ends the peer (stdin stays open, so nothing else could).
	nk_start peer "$NKPEER" -T 50 script listen 0 sendrand:10000000:3 \
	    expect-open:30000
	PORT=$(nk_port peer)
	fed cli bash -c "exec \"\$NETKIT\" connect --events 127.0.0.1 $PORT >/dev/full"
	nk_wait cli 25
	[ "$NK_STATUS" -eq 1 ]
	run error_lines cli
	assert_output "netkit: connect stdout: No space left on device (ENOSPC)"
	# The peer sees the end before its 30 s: netkit closed first.
	nk_wait peer 25
	[ "$NK_STATUS" -eq 1 ]
	grep -Eq '(EOF|ECONNRESET|EPIPE)' "$(nk_err peer)"
}

@test "listen -k, stdout /dev/full: one ENOSPC line, clients closed, exit 1" {
	nk_fifo
	NK_STDIN=$FIFO nk_start srv bash -c "exec \"\$NETKIT\" listen -k --events 0 >/dev/full"
	PORT=$(nk_port srv)
	run timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" send:data expect-eof
	nk_wait srv 5
	nk_fifo_close
	[ "$NK_STATUS" -eq 1 ]
	run error_lines srv
	assert_output "netkit: listen stdout: No space left on device (ENOSPC)"
}

@test "stdin closed (<&-): FIN at once, the reply still arrives, idle without spinning, exit 0" {
	nk_peer_listen peer expect-eof send:hello "sendfile:$(nk_gate bye)" send:bye shut-wr
	nk_start cli bash -c "exec \"\$NETKIT\" connect --events 127.0.0.1 $PORT <&-"
	nk_wait_line cli '^event=socket\.data '
	no_spin cli
	nk_open_gate bye
	nk_wait cli 10
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out cli)")" = hellobye ]
	[ -z "$(error_lines cli)" ]
	nk_wait peer
	[ "$NK_STATUS" -eq 0 ]

	# listen too: the client gets the FIN and its data still comes out.
	nk_start srv bash -c "exec \"\$NETKIT\" listen --events 0 <&-"
	PORT=$(nk_port srv)
	run timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" expect-eof send:up shut-wr
	assert_success
	nk_wait srv 5
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out srv)")" = up ]
}

# --- servers under load ------------------------------------------------------

@test "echo with 64 descriptors: 200 concurrent clients all served, no descriptor leaked" {
	nk_start srv bash -c "ulimit -n 64 && exec \"\$NETKIT\" echo -p 0 --events"
	PORT=$(nk_port srv)
	local base
	base=$("$NKPEER" fds "$(nk_child srv)")
	run -0 timeout 40 "$NKPEER" -T 30 clients 127.0.0.1 "$PORT" 200 65536
	[ "$output" = "ok 200 65536" ]
	nk_wait_count srv '^event=socket\.close ' 200
	[ "$(nk_events srv socket.close |
	    grep -c 'had_error=false bytes_read=65536 bytes_written=65536$')" -eq 200 ]
	nk_wait_fds srv "$base"
	nk_running srv
}

@test "echo short of descriptors under an idle flood: no spin, still serves, recovers" {
	need_python
	nk_start srv bash -c "ulimit -n 64 && exec \"\$NETKIT\" echo -p 0 --events"
	PORT=$(nk_port srv)
	local pid base
	pid=$(nk_child srv)
	base=$("$NKPEER" fds "$pid")
	# The flood: 200 connections that never speak, held until stdin ends;
	# the first one is an early client that must still get its echo.
	fed flood "$PY" -c '
import socket, sys
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5)
        for i in range(200)]
print("held", len(held), file=sys.stderr, flush=True)
sys.stdin.read()
held[0].sendall(b"still served")
data = b""
while len(data) < 12:
    data += held[0].recv(64)
print(data.decode(), flush=True)
for s in held:
    s.close()
' "$PORT"
	nk_wait_line flood '^held 200$'
	nk_wait_line srv 'EMFILE'
	no_spin srv
	exec {FED_FD}>&-
	nk_wait flood 10
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out flood)")" = "still served" ]
	# Recovered: every flood connection closed, new clients served.
	nk_wait_count srv '^event=socket\.close ' 200 15
	run -0 timeout 20 "$NKPEER" clients 127.0.0.1 "$PORT" 50 65536
	[ "$output" = "ok 50 65536" ]
	nk_wait_fds srv "$base"
	# One warning per episode of running out, not one per attempt.
	[ "$(grep -c EMFILE "$(nk_err srv)")" -le 5 ]
}

@test "echo -t 300: clients that connect and never speak get EOF; the server lets them go" {
	nk_echo_server srv -t 300
	local base t0 ms
	base=$("$NKPEER" fds "$(nk_child srv)")
	t0=$(date +%s%N)
	for i in $(seq 20); do
		nk_start "idle$i" "$NKPEER" -T 30 script connect 127.0.0.1 "$PORT" expect-eof
	done
	for i in $(seq 20); do
		nk_wait "idle$i" 40
		[ "$NK_STATUS" -eq 0 ] || fail "idle client $i: $(cat "$(nk_err "idle$i")")"
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	# Not before the 300 ms; the upper bound is only a generous backstop
	# (the timeouts, not the clients' own deadlines, ended them: below).
	[ "$ms" -ge 280 ] && [ "$ms" -lt 30000 ] || fail "the idle clients took $ms ms"
	[ "$(nk_events srv socket.timeout | wc -l)" -ge 20 ]
	nk_wait_fds srv "$base"
	# A client that speaks is still echoed.
	run -0 timeout 5 "$NKPEER" script connect 127.0.0.1 "$PORT" send:hi shut-wr read-all
	[ "$output" = hi ]
}

# --- a server killed, servers signalled ---------------------------------------

@test "listen -U SIGKILLed under a connected UNIX client: the client exits 0 or 1, no hang" {
	local sock=$T/l.sock
	fed srv "$NETKIT" listen --events -U "$sock"
	nk_wait_line srv '^event=server\.listening '
	fed cli "$NETKIT" connect --events -U "$sock"
	local fc=$FED_FD
	nk_wait_line cli '^event=socket\.connect '
	nk_wait_line srv '^event=server\.connection '
	printf 'to the server\n' >&"$fc"
	nk_wait_size "$(nk_out srv)" 14
	nk_signal srv KILL
	nk_wait srv
	nk_wait cli 5
	case $NK_STATUS in
	0) [ -z "$(error_lines cli)" ] ;;
	1) [ "$(error_lines cli | wc -l)" -eq 1 ] && [[ "$(error_lines cli)" == "netkit: connect $sock: "* ]] ;;
	*) fail "client exit $NK_STATUS" ;;
	esac
	tail -n 1 "$(nk_err cli)" | grep -q '^event=socket\.close id=1 '
}

@test "SIGTERM to listen mid-transfer: both directions complete (sha256), exit 0" {
	"$NKPEER" rand 4000000 21 >"$T/to_srv"
	"$NKPEER" rand 3000000 22 >"$T/to_cli"
	fed srv "$NETKIT" listen --events 0
	local fs=$FED_FD
	PORT=$(nk_port srv)
	fed cli "$NETKIT" connect 127.0.0.1 "$PORT"
	local fc=$FED_FD
	head -c 1000000 "$T/to_srv" >&"$fc"
	nk_wait_size "$(nk_out srv)" 1000000
	head -c 1000000 "$T/to_cli" >&"$fs"
	nk_wait_size "$(nk_out cli)" 1000000
	nk_signal srv TERM
	tail -c +1000001 "$T/to_srv" >&"$fc"
	tail -c +1000001 "$T/to_cli" >&"$fs"
	exec {fc}>&- {fs}>&-
	nk_wait srv 10
	[ "$NK_STATUS" -eq 0 ]
	nk_wait cli 10
	[ "$NK_STATUS" -eq 0 ]
	[ "$(nk_sha "$(nk_out srv)")" = "$(nk_sha "$T/to_srv")" ]
	[ "$(nk_sha "$(nk_out cli)")" = "$(nk_sha "$T/to_cli")" ]
	[ -z "$(error_lines srv)" ]
	nk_events srv socket.close | grep -qx 'event=socket.close id=1 had_error=false bytes_read=4000000 bytes_written=3000000'
}

@test "SIGTERM to echo with three clients mid-transfer: all complete (sha256), exit 0" {
	nk_echo_server srv
	local i fd fds=()
	for i in 1 2 3; do
		"$NKPEER" rand $((i * 700000)) "$i" >"$T/in$i"
		fed "c$i" "$NETKIT" connect 127.0.0.1 "$PORT"
		fds[i]=$FED_FD
		head -c 300000 "$T/in$i" >&"${fds[i]}"
	done
	for i in 1 2 3; do
		nk_wait_size "$(nk_out "c$i")" 300000
	done
	nk_signal srv TERM
	# Stops accepting: a new client is refused, soon.
	local deadline=$((SECONDS + 5))
	until ! timeout 5 "$NKPEER" script connect 127.0.0.1 "$PORT" send:x shut-wr read-all >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || fail "still accepting 5 s after SIGTERM"
		sleep 0.05
	done
	nk_running srv
	for i in 1 2 3; do
		fd=${fds[i]}
		tail -c +300001 "$T/in$i" >&"$fd"
		exec {fd}>&-
	done
	for i in 1 2 3; do
		nk_wait "c$i" 10
		[ "$NK_STATUS" -eq 0 ]
		[ "$(nk_sha "$(nk_out "c$i")")" = "$(nk_sha "$T/in$i")" ] ||
		    fail "client $i got other bytes"
	done
	nk_wait srv 10
	[ "$NK_STATUS" -eq 0 ]
	[ "$(tail -n 1 "$(nk_err srv)")" = event=server.close ]
}
