# The relay of listen and connect: bytes, half-close rules (one test per
# row of the table at the top of src/relay.c), stdin/stdout kinds, flow
# control, events and errors.

load helpers

@test "connect: hello through an echo server, exit 0" {
	nk_echo_server srv
	run bash -c "printf hello | timeout 10 '$NETKIT' connect 127.0.0.1 $PORT"
	assert_success
	assert_output "hello"
}

@test "connect: PORT alone means localhost" {
	nk_echo_server srv
	run bash -c "printf hello | timeout 10 '$NETKIT' connect $PORT"
	assert_success
	assert_output "hello"
}

@test "connect -U: hello through a UNIX echo server" {
	local sock=$BATS_TEST_TMPDIR/echo.sock
	nk_start srv "$NETKIT" echo -U "$sock" --events
	nk_wait_line srv 'server\.listening'
	run bash -c "printf hello | timeout 10 '$NETKIT' connect -U '$sock'"
	assert_success
	assert_output "hello"
}

@test "rule stdin EOF: FIN after the pending bytes, then keep reading" {
	nk_random "$BATS_TEST_TMPDIR/in" 1M
	nk_peer_listen peer read-all send:late shut-wr
	run timeout 10 "$NETKIT" connect 127.0.0.1 "$PORT" <"$BATS_TEST_TMPDIR/in"
	assert_success
	assert_output "late"
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
	[ "$(nk_sha "$(nk_out peer)")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
}

@test "rule stdin EOF with --no-shutdown: no FIN, the write half stays open" {
	nk_peer_listen peer read:5 expect-open:400 send:bye shut-wr expect-eof
	run bash -c "printf hello | timeout 10 '$NETKIT' connect --no-shutdown 127.0.0.1 $PORT"
	assert_success
	assert_output "bye"
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out peer)")" = "hello" ]
}

@test "rule peer FIN (default): stop reading stdin, end, exit 0" {
	nk_fifo
	nk_peer_listen peer send:hi shut-wr expect-eof
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events 127.0.0.1 "$PORT"
	nk_wait cli 10
	nk_fifo_close
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out cli)")" = "hi" ]
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
	run nk_events cli socket.end
	assert_output "event=socket.end id=1"
}

@test "rule peer FIN with --allow-half-open: keep sending stdin until EOF" {
	nk_fifo
	nk_peer_listen peer send:hi shut-wr read-all
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --allow-half-open \
	    --events 127.0.0.1 "$PORT"
	nk_wait_line cli 'socket\.end'
	printf 'after the FIN' >&7
	nk_fifo_close
	nk_wait cli
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out cli)")" = "hi" ]
	nk_wait peer
	[ "$(cat "$(nk_out peer)")" = "after the FIN" ]
}

@test "rule both done: socket.close last, with byte counts, exit 0" {
	nk_peer_listen peer read-all send:12345678 shut-wr
	run bash -c "printf abc | timeout 10 '$NETKIT' connect --events 127.0.0.1 $PORT 2>&1 >/dev/null"
	assert_success
	assert_line --index 0 "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
	assert_line --index 1 --regexp '^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:[0-9]+$'
	assert_line --regexp '^event=socket\.end id=1$'
	assert_equal "${lines[-1]}" "event=socket.close id=1 had_error=false bytes_read=8 bytes_written=3"
}

@test "rule socket read error: received bytes reach stdout, ECONNRESET, exit 1" {
	nk_fifo
	nk_peer_listen peer send:abc sleep:200 rst
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events 127.0.0.1 "$PORT"
	nk_wait cli 10
	nk_fifo_close
	[ "$NK_STATUS" = 1 ]
	[ "$(cat "$(nk_out cli)")" = "abc" ]
	run grep -c '^netkit: ' "$(nk_err cli)"
	assert_output 1
	run grep '^netkit: ' "$(nk_err cli)"
	assert_output --regexp "^netkit: connect 127\.0\.0\.1:$PORT: .* \(ECONNRESET\)$"
	run nk_events cli socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ECONNRESET message='
	run tail -n 1 "$(nk_err cli)"
	assert_output --regexp '^event=socket\.close id=1 had_error=true bytes_read=3 '
}

@test "rule socket write error: a peer that resets while we send, exit 1" {
	nk_peer_listen peer read:1000 rst
	run timeout 10 "$NETKIT" connect --events 127.0.0.1 "$PORT" </dev/zero
	assert_failure 1
	assert_line --regexp '^event=socket\.error id=1 code=(ECONNRESET|EPIPE) '
	assert_line --regexp "^netkit: connect 127\.0\.0\.1:$PORT: .* \((ECONNRESET|EPIPE)\)$"
	assert_regex "${lines[-1]}" '^event=socket\.close id=1 had_error=true '
}

@test "rule stdin read error: one line naming stdin, exit 1" {
	nk_peer_listen peer read-all shut-wr
	run timeout 10 "$NETKIT" connect 127.0.0.1 "$PORT" </
	assert_failure 1
	assert_output "netkit: connect stdin: Is a directory (EISDIR)"
}

@test "rule stdout write error: /dev/full gives one line, exit 1" {
	nk_peer_listen peer send:data shut-wr read-all
	run bash -c "timeout 10 '$NETKIT' connect 127.0.0.1 $PORT </dev/null >/dev/full"
	assert_failure 1
	assert_output "netkit: connect stdout: No space left on device (ENOSPC)"
}

@test "rule stdout write error: a closed pipe gives EPIPE, exit 1, no hang" {
	nk_peer_listen peer sendrand:8000000:1 shut-wr read-all
	run bash -c "timeout 10 '$NETKIT' connect 127.0.0.1 $PORT </dev/null | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}"
	assert_output --partial "netkit: connect stdout: Broken pipe (EPIPE)"
	assert_equal "${lines[-1]}" 1
}

@test "rule signal: connect closes at once on SIGTERM, exit 1" {
	nk_fifo
	nk_peer_listen peer expect-open:5000
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events 127.0.0.1 "$PORT"
	nk_wait_line cli 'socket\.connect'
	nk_kill cli TERM
	nk_wait cli 5
	nk_fifo_close
	[ "$NK_STATUS" = 1 ]
	run tail -n 1 "$(nk_err cli)"
	assert_output --regexp '^event=socket\.close id=1 '
}

# 64 MiB each way, stdin and stdout as files and as pipes.
nk_transfer() {
	local dir=$1 kind=$2 in=$BATS_TEST_TMPDIR/in out=$BATS_TEST_TMPDIR/out
	nk_random "$in" 64M
	nk_fifo
	if [ "$dir" = up ]; then
		# connect sends, listen receives (listen's stdin stays open).
		NK_STDIN=$FIFO nk_listen srv
			if [ "$kind" = file ]; then
			timeout 30 "$NETKIT" connect 127.0.0.1 "$PORT" <"$in"
		else
			cat "$in" | timeout 30 "$NETKIT" connect 127.0.0.1 "$PORT"
		fi
		nk_wait srv 30
		nk_fifo_close
		[ "$NK_STATUS" = 0 ]
		cp "$(nk_out srv)" "$out"
	else
		# listen sends, connect receives.
		NK_STDIN=$in nk_listen srv
		if [ "$kind" = file ]; then
			timeout 30 "$NETKIT" connect 127.0.0.1 "$PORT" <"$FIFO" >"$out" 7>&- &
			local pid=$!
					wait "$pid"
		else
			timeout 30 "$NETKIT" connect 127.0.0.1 "$PORT" <"$FIFO" 7>&- | cat >"$out" &
			local pid=$!
					wait "$pid"
		fi
		nk_fifo_close
		nk_wait srv 30
		[ "$NK_STATUS" = 0 ]
	fi
	[ "$(nk_sha "$out")" = "$(nk_sha "$in")" ]
}

@test "transfer: 64 MiB connect -> listen, stdin a file" {
	nk_transfer up file
}

@test "transfer: 64 MiB connect -> listen, stdin a pipe" {
	nk_transfer up pipe
}

@test "transfer: 64 MiB listen -> connect, stdout a file" {
	nk_transfer down file
}

@test "transfer: 64 MiB listen -> connect, stdout a pipe" {
	nk_transfer down pipe
}

@test "transfer: both directions at once over a UNIX socket, 16 MiB each" {
	local sock=$BATS_TEST_TMPDIR/relay.sock
	nk_random "$BATS_TEST_TMPDIR/a" 16M
	nk_random "$BATS_TEST_TMPDIR/b" 16M
	NK_STDIN=$BATS_TEST_TMPDIR/a nk_start srv "$NETKIT" listen --allow-half-open --events -U "$sock"
	nk_wait_line srv 'server\.listening'
	timeout 30 "$NETKIT" connect --allow-half-open -U "$sock" <"$BATS_TEST_TMPDIR/b" >"$BATS_TEST_TMPDIR/b.out"
	nk_wait srv 30
	[ "$NK_STATUS" = 0 ]
	[ "$(nk_sha "$(nk_out srv)")" = "$(nk_sha "$BATS_TEST_TMPDIR/b")" ]
	[ "$(nk_sha "$BATS_TEST_TMPDIR/b.out")" = "$(nk_sha "$BATS_TEST_TMPDIR/a")" ]
	[ ! -e "$sock" ]
}

@test "stdin /dev/null: an immediate FIN; stdout /dev/null: bytes discarded" {
	nk_peer_listen peer expect-eof send:xyz shut-wr
	run bash -c "timeout 10 '$NETKIT' connect --events 127.0.0.1 $PORT </dev/null 2>&1 >/dev/null | tail -n 1"
	assert_success
	assert_output "event=socket.close id=1 had_error=false bytes_read=3 bytes_written=0"
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
}

@test "stdin closed: an immediate FIN; stdout closed: bytes discarded" {
	nk_peer_listen peer expect-eof send:xyz shut-wr
	run bash -c "timeout 10 '$NETKIT' connect --events 127.0.0.1 $PORT 2>'$BATS_TEST_TMPDIR/err' <&- >&-"
	assert_success
	run tail -n 1 "$BATS_TEST_TMPDIR/err"
	assert_output "event=socket.close id=1 had_error=false bytes_read=3 bytes_written=0"
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
}

@test "stdin and stdout a tty" {
	command -v script >/dev/null || skip "script(1) not installed"
	nk_peer_listen peer read:5 send:world shut-wr
	run timeout 10 script -qec "printf hello | '$NETKIT' connect 127.0.0.1 $PORT" /dev/null
	assert_success
	assert_output --partial "world"
	nk_wait peer
	[ "$(cat "$(nk_out peer)")" = "hello" ]
}

@test "flow control: 256 MiB into a slow reader keeps netkit's memory small" {
	nk_peer_listen peer slowread:150000000
	timeout 60 "$NETKIT" connect 127.0.0.1 "$PORT" </dev/zero &
	local pid=$! max=0 rss i
	for i in $(seq 40); do
		rss=$("$NKPEER" rss "$pid" 2>/dev/null) || break
		[ "$rss" -gt "$max" ] && max=$rss
		sleep 0.05
	done
	kill "$pid"
	wait "$pid" || true
	echo "max VmRSS ${max} KiB"
	[ "$max" -gt 0 ]
	[ "$max" -lt 16384 ]
}

@test "events: --events=json lines are JSON with typed values" {
	command -v python3 >/dev/null || skip "python3 not installed"
	nk_peer_listen peer read-all send:abc shut-wr
	run bash -c "printf hello | timeout 10 '$NETKIT' connect --events=json 127.0.0.1 $PORT 2>&1 >/dev/null"
	assert_success
	run python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin.read().splitlines()]
assert [e["event"] for e in ev][:2] == ["socket.attempt", "socket.connect"], ev
assert ev[-1] == {"event": "socket.close", "id": 1, "had_error": False,
    "bytes_read": 3, "bytes_written": 5}, ev[-1]
assert all(isinstance(e["id"], int) for e in ev)
print("ok")' <<<"$output"
	assert_output ok
}

@test "errors: refused connect is one line, socket.error then socket.close, exit 1" {
	nk_listen gone
	nk_kill gone
	nk_wait gone
	run timeout 10 "$NETKIT" connect --events 127.0.0.1 "$PORT"
	assert_failure 1
	assert_line --index 0 "event=socket.attempt id=1 remote=127.0.0.1:$PORT"
	assert_line --index 1 "event=socket.attempt_failed id=1 remote=127.0.0.1:$PORT code=ECONNREFUSED"
	assert_line --index 2 "event=socket.error id=1 code=ECONNREFUSED message=\"Connection refused\""
	assert_line --index 3 "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0"
	assert_line --index 4 "netkit: connect 127.0.0.1:$PORT: Connection refused (ECONNREFUSED)"
	[ "${#lines[@]}" = 5 ]
}

@test "errors: a missing UNIX socket is ENOENT, exit 1" {
	run timeout 10 "$NETKIT" connect -U "$BATS_TEST_TMPDIR/nothing.sock"
	assert_failure 1
	assert_output "netkit: connect $BATS_TEST_TMPDIR/nothing.sock: No such file or directory (ENOENT)"
}

@test "errors: a host that does not resolve is ENOTFOUND, exit 1" {
	run timeout 20 "$NETKIT" connect nosuchhost.invalid 80
	assert_failure 1
	assert_output --regexp '^netkit: connect nosuchhost\.invalid:80: .* \((ENOTFOUND|EAI_AGAIN)\)$'
}

@test "connect --retry: waits for a peer that is not up yet" {
	nk_listen probe
	nk_kill probe
	nk_wait probe
	NK_STDIN=/dev/null nk_start cli "$NETKIT" connect --retry=20 127.0.0.1 "$PORT"
	nk_wait_line cli 'retrying'
	nk_start srv "$NKPEER" script listen "$PORT" send:late shut-wr
	nk_wait cli 10
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out cli)")" = "late" ]
}

@test "connect --retry=N: N more attempts, then the error" {
	nk_listen probe
	nk_kill probe
	nk_wait probe
	run timeout 10 "$NETKIT" connect -q --retry=1 127.0.0.1 "$PORT"
	assert_failure 1
	assert_output "netkit: connect 127.0.0.1:$PORT: Connection refused (ECONNREFUSED)"
}

@test "connect -w: a peer that never answers is ETIMEDOUT, exit 1" {
	command -v python3 >/dev/null || skip "python3 not installed"
	# A listener whose backlog is full drops further SYNs.
	nk_start full python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
held = []
for i in range(8):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    held.append(c)
time.sleep(0.3)
print("event=server.listening address=127.0.0.1 port=%d family=IPv4" % port, file=sys.stderr, flush=True)
time.sleep(30)'
	PORT=$(nk_port full)
	run timeout 10 "$NETKIT" connect -w 300 127.0.0.1 "$PORT"
	assert_failure 1
	assert_output "netkit: connect 127.0.0.1:$PORT: Connection timed out (ETIMEDOUT)"
}

@test "listen: accepts one connection, stops listening, exits with it" {
	NK_STDIN=/dev/null nk_listen srv
	run bash -c "printf one | timeout 10 '$NETKIT' connect --allow-half-open 127.0.0.1 $PORT"
	assert_success
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out srv)")" = "one" ]
	run timeout 5 "$NETKIT" connect 127.0.0.1 "$PORT" </dev/null
	assert_failure 1
	run nk_events srv server.close
	assert_output "event=server.close"
}

@test "listen: SIGTERM before any connection exits 0 and removes the socket file" {
	local sock=$BATS_TEST_TMPDIR/l.sock
	nk_start srv "$NETKIT" listen --events -U "$sock"
	nk_wait_line srv 'server\.listening'
	[ -S "$sock" ]
	nk_kill srv TERM
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ ! -e "$sock" ]
}

@test "listen: the first SIGTERM lets the connection finish, exit 0" {
	nk_fifo
	NK_STDIN=/dev/null nk_listen srv
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --allow-half-open 127.0.0.1 "$PORT"
	nk_wait_line srv 'server\.connection'
	nk_kill srv TERM
	printf 'still flowing' >&7
	nk_fifo_close
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out srv)")" = "still flowing" ]
}

@test "listen -U: a regular file at the path is refused and left intact" {
	local f=$BATS_TEST_TMPDIR/file
	echo precious >"$f"
	run timeout 5 "$NETKIT" listen -U "$f"
	assert_failure 1
	assert_output "netkit: listen $f: File exists (EEXIST)"
	[ "$(cat "$f")" = precious ]
}

@test "listen -U: a stale socket is replaced" {
	command -v python3 >/dev/null || skip "python3 not installed"
	local sock=$BATS_TEST_TMPDIR/stale.sock
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock"
	[ -S "$sock" ]
	NK_STDIN=/dev/null nk_start srv "$NETKIT" listen --events -U "$sock"
	nk_wait_line srv 'server\.listening'
	run bash -c "printf x | timeout 5 '$NETKIT' connect --allow-half-open -U '$sock'"
	assert_success
	nk_wait srv
	[ "$(cat "$(nk_out srv)")" = x ]
}

@test "listen: EADDRINUSE is one line and server.error, exit 1" {
	nk_listen first
	run timeout 5 "$NETKIT" listen --events -H 127.0.0.1 "$PORT"
	assert_failure 1
	assert_line --index 0 --regexp '^event=server\.error code=EADDRINUSE message='
	assert_line --index 1 "netkit: listen 127.0.0.1:$PORT: Address already in use (EADDRINUSE)"
}

@test "listen -v: human lines for listening and the connection" {
	NK_STDIN=/dev/null nk_start srv "$NETKIT" listen -v --events 0
	PORT=$(nk_port srv)
	run bash -c "printf x | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT"
	nk_wait srv
	run grep -v '^event=' "$(nk_err srv)"
	assert_line --index 0 --regexp '^netkit: listening on \[::\]:[0-9]+$'
	assert_line --index 1 --regexp '^netkit: connection from 127\.0\.0\.1:[0-9]+$'
}

@test "both libevent backends: a transfer with EVENT_NOEPOLL=1" {
	nk_random "$BATS_TEST_TMPDIR/in" 8M
	export EVENT_NOEPOLL=1
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv
	cat "$BATS_TEST_TMPDIR/in" | timeout 20 "$NETKIT" connect 127.0.0.1 "$PORT"
	nk_wait srv 20
	nk_fifo_close
	[ "$NK_STATUS" = 0 ]
	[ "$(nk_sha "$(nk_out srv)")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
}

@test "flow control: socket.drain after the buffer toward a slow peer empties" {
	nk_peer_listen peer slowread:20000000
	run bash -c "head -c 8M /dev/zero | timeout 20 '$NETKIT' connect --buffer-size 65536 --events 127.0.0.1 $PORT 2>&1 >/dev/null"
	assert_success
	assert_line --regexp '^event=socket\.drain id=1$'
	assert_equal "${lines[-1]}" "event=socket.close id=1 had_error=false bytes_read=0 bytes_written=8388608"
	nk_wait peer
	[ "$(stat -c %s "$(nk_out peer)")" = 8388608 ]
}

@test "addresses: -p and -H, -4 and -6" {
	NK_STDIN=/dev/null nk_start srv4 "$NETKIT" listen -4 --events -p 0
	nk_wait_line srv4 'server\.listening'
	run nk_events srv4 server.listening
	assert_output --regexp '^event=server\.listening address=0\.0\.0\.0 port=[0-9]+ family=IPv4 protocol=tcp$'
	PORT=$(nk_port srv4)
	run bash -c "printf v4 | timeout 5 '$NETKIT' connect --allow-half-open -4 -H localhost -p $PORT"
	assert_success
	nk_wait srv4
	[ "$(cat "$(nk_out srv4)")" = v4 ]

	NK_STDIN=/dev/null nk_start srv6 "$NETKIT" listen -6 --events -H ::1 0
	nk_wait_line srv6 'server\.listening'
	run nk_events srv6 server.listening
	assert_output --regexp '^event=server\.listening address=::1 port=[0-9]+ family=IPv6 protocol=tcp$'
	PORT=$(nk_port srv6)
	run bash -c "printf v6 | timeout 5 '$NETKIT' connect --allow-half-open --events -6 ::1 $PORT 2>&1"
	assert_success
	assert_line --regexp "^event=socket\.connect id=1 local=\[::1\]:[0-9]+ remote=\[::1\]:$PORT$"
	nk_wait srv6
	[ "$(cat "$(nk_out srv6)")" = v6 ]
}

@test "addresses: no host binds one dual-stack socket (IPv4 and IPv6 clients)" {
	nk_echo_server srv
	run nk_events srv server.listening
	assert_output --regexp '^event=server\.listening address=:: port=[0-9]+ family=IPv6 protocol=tcp$'
	run bash -c "printf a | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT && printf b | timeout 5 '$NETKIT' connect ::1 $PORT"
	assert_success
	assert_output "ab"
}
