# listen -k: clients at once around one stdin and one stdout (one test per
# row of the table at the top of src/hub.c, plus -m, signals and errors).

load helpers

# nk_unread: the bytes written to the stdin fifo (fd 7) not read yet.
nk_unread() {
	python3 -c 'import fcntl, struct, termios
print(struct.unpack("i", fcntl.ioctl(7, termios.FIONREAD, b"\0" * 4))[0])'
}

# nk_unread_stays BYTES: for 0.4 s, the stdin fifo keeps BYTES unread.
nk_unread_stays() {
	python3 -c '
import fcntl, struct, sys, termios, time
end = time.monotonic() + 0.4
while time.monotonic() < end:
    n = struct.unpack("i", fcntl.ioctl(7, termios.FIONREAD, b"\0" * 4))[0]
    if n != int(sys.argv[1]):
        sys.exit("stdin has %d bytes unread, want %s" % (n, sys.argv[1]))
    time.sleep(0.01)' "$1"
}

# nk_wait_unread BYTES [SECONDS]: wait until the stdin fifo has BYTES unread.
nk_wait_unread() {
	local n deadline=$((SECONDS + ${2:-10}))
	while n=$(nk_unread); [ "$n" != "$1" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "stdin fifo: $n bytes unread after ${2:-10}s, want $1" >&2
			return 1
		fi
		sleep 0.02
	done
}

@test "-k: three clients at once, all their data on stdout, each chunk whole" {
	local i j chunk
	NK_STDIN=/dev/null nk_listen srv -k
	for i in 1 2 3; do
		chunk=
		for j in $(seq -w 40); do
			chunk+="client $i says line $j of its one write\\n"
		done
		echo "$chunk" >"$BATS_TEST_TMPDIR/chunk$i"
		# Connect, wait at the gate, then send the chunk in one write.
		nk_client c$i "sendfile:$(nk_gate g$i)" "send:$chunk" shut-wr read-all
	done
	nk_wait_line srv '^event=server\.connection id=3 .* connections=3$'
	run nk_events srv server.connection
	assert_line --index 0 --regexp '^event=server\.connection id=1 remote=127\.0\.0\.1:[0-9]+ connections=1$'
	assert_line --index 1 --regexp '^event=server\.connection id=2 remote=127\.0\.0\.1:[0-9]+ connections=2$'
	assert_line --index 2 --regexp '^event=server\.connection id=3 remote=127\.0\.0\.1:[0-9]+ connections=3$'
	for i in 3 1 2; do nk_open_gate g$i; done
	for i in 1 2 3; do nk_ok c$i; done
	nk_wait_count srv '^event=socket\.close ' 3
	for i in 1 2 3; do
		run nk_events srv socket.close
		assert_line "event=socket.close id=$i had_error=false bytes_read=1560 bytes_written=0"
	done
	nk_signal srv TERM
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	# Every line is there once; each client's one write is contiguous.
	run bash -c "sort '$(nk_out srv)' | uniq -c | awk '\$1 != 1' | wc -l; wc -l <'$(nk_out srv)'"
	assert_output $'0\n120'
	local out
	out=$(tr '\n' '|' <"$(nk_out srv)")
	for i in 1 2 3; do
		chunk=$(printf '%b' "$(cat "$BATS_TEST_TMPDIR/chunk$i")" | tr '\n' '|')
		[[ "$out" == *"$chunk"* ]]
	done
}

@test "-k: stdin is copied to every connected client" {
	nk_random "$BATS_TEST_TMPDIR/in" 4M
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k
	nk_client c1 read:14 read:4194304 expect-eof
	nk_client c2 read:14 read:4194304 expect-eof
	nk_wait_line srv '^event=server\.connection id=2 .* connections=2$'
	printf 'to everyone!\r\n' >&7
	nk_wait_size "$(nk_out c1)" 14
	nk_wait_size "$(nk_out c2)" 14
	[ "$(cat "$(nk_out c1)")" = $'to everyone!\r' ]
	[ "$(cat "$(nk_out c2)")" = $'to everyone!\r' ]
	timeout 20 cat "$BATS_TEST_TMPDIR/in" >&7
	nk_fifo_close
	nk_ok c1
	nk_ok c2
	{ printf 'to everyone!\r\n'; cat "$BATS_TEST_TMPDIR/in"; } >"$BATS_TEST_TMPDIR/want"
	[ "$(nk_sha "$(nk_out c1)")" = "$(nk_sha "$BATS_TEST_TMPDIR/want")" ]
	[ "$(nk_sha "$(nk_out c2)")" = "$(nk_sha "$BATS_TEST_TMPDIR/want")" ]
	nk_wait_count srv '^event=socket\.close ' 2
	run nk_events srv socket.close
	assert_line "event=socket.close id=1 had_error=false bytes_read=0 bytes_written=4194318"
	assert_line "event=socket.close id=2 had_error=false bytes_read=0 bytes_written=4194318"
}

@test "-k: stdin is not read while no client is connected" {
	command -v python3 >/dev/null || skip "python3 not installed"
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k
	# Written before any client: the first client gets it.
	printf 'early\n' >&7
	nk_client c1 read:6 shut-wr expect-eof
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = early ]
	nk_wait_line srv '^event=socket\.close id=1 '
	# Written after the only client left: stays in the fifo for the next.
	printf 'between\n' >&7
	nk_unread_stays 8
	nk_client c2 read:8 shut-wr expect-eof
	nk_ok c2
	[ "$(cat "$(nk_out c2)")" = between ]
	nk_fifo_close
}

@test "-k stdin EOF: FIN to connected clients after their data, at once to later ones" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k
	nk_client c1 read:8 expect-eof send:from-c1 shut-wr
	nk_wait_line srv '^event=server\.connection id=1 '
	printf 'pending\n' >&7
	nk_fifo_close
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = pending ]
	nk_wait_line srv '^event=socket\.close id=1 '
	# A client arriving after stdin's EOF: FIN at once, can still send.
	nk_client c2 expect-eof send:from-c2 shut-wr expect-eof
	nk_ok c2
	[ "$(cat "$(nk_out c2)")" = "" ]
	nk_wait_line srv '^event=socket\.close id=2 '
	[ "$(cat "$(nk_out srv)")" = from-c1from-c2 ]
	run nk_events srv socket.close
	assert_line "event=socket.close id=1 had_error=false bytes_read=7 bytes_written=8"
	assert_line "event=socket.close id=2 had_error=false bytes_read=7 bytes_written=0"
	nk_running srv
}

# Under scripts/valgrind-run the client keeps up with netkit: there this
# also catches a hub that reads a regular-file stdin without returning to
# the poll (it would send all 32 MiB before seeing the FIN).
@test "-k client FIN (default): its backlog, then FIN and close; the rest waits for the next" {
	local size=33554432
	nk_random "$BATS_TEST_TMPDIR/in" 32M
	NK_STDIN=$BATS_TEST_TMPDIR/in nk_listen srv -k
	nk_client c1 read:1000 shut-wr read-all
	nk_ok c1
	run nk_events srv socket.end
	assert_output "event=socket.end id=1"
	nk_wait_line srv '^event=socket\.close id=1 '
	[ "$(grep -n 'socket\.end id=1' "$(nk_err srv)" | cut -d: -f1)" -lt \
	    "$(grep -n 'socket\.close id=1' "$(nk_err srv)" | cut -d: -f1)" ]
	local got1
	got1=$(stat -c %s "$(nk_out c1)")
	echo "client 1 got $got1 bytes"
	[ "$got1" -lt "$size" ]
	# The next client gets the rest of stdin: nothing was thrown away.
	nk_client c2 read-all
	nk_ok c2 30
	cat "$(nk_out c1)" "$(nk_out c2)" >"$BATS_TEST_TMPDIR/got"
	[ "$(nk_sha "$BATS_TEST_TMPDIR/got")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
}

@test "-k client FIN (default) with a backlog: stdin written after it waits for the next client" {
	command -v python3 >/dev/null || skip "python3 not installed"
	nk_random "$BATS_TEST_TMPDIR/in" 16M
	nk_fifo
	# A high mark: stdin stays readable while client 1 holds a backlog.
	NK_STDIN=$FIFO nk_listen srv -k --buffer-size 67108864
	nk_client c1 "sendfile:$(nk_gate fin)" shut-wr "sendfile:$(nk_gate read)" read-all
	nk_wait_line srv '^event=server\.connection id=1 '
	# Client 1 reads nothing yet: most of this waits in netkit for it.
	timeout 20 cat "$BATS_TEST_TMPDIR/in" >&7
	nk_wait_unread 0
	nk_open_gate fin
	nk_wait_line srv '^event=socket\.end id=1$'
	# No client takes stdin now: it must not be read.
	printf 'written after the FIN\n' >&7
	nk_unread_stays 22
	nk_open_gate read
	nk_ok c1
	[ "$(nk_sha "$(nk_out c1)")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
	nk_wait_line srv '^event=socket\.close id=1 '
	nk_client c2 read:22 shut-wr expect-eof
	nk_ok c2
	[ "$(cat "$(nk_out c2)")" = "written after the FIN" ]
	nk_fifo_close
}

@test "-k client FIN with --allow-half-open: it keeps getting stdin until EOF" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k --allow-half-open
	nk_client c1 send:bye shut-wr read-all
	nk_wait_line srv '^event=socket\.end id=1$'
	printf 'after your FIN\n' >&7
	nk_wait_size "$(nk_out c1)" 15
	nk_running c1
	nk_fifo_close
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = "after your FIN" ]
	nk_wait_line srv '^event=socket\.close id=1 '
	run nk_events srv socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=3 bytes_written=15"
	[ "$(cat "$(nk_out srv)")" = bye ]
}

@test "-k: 32 MiB from each of two clients at once into a slow stdout" {
	command -v python3 >/dev/null || skip "python3 not installed"
	local a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b out=$BATS_TEST_TMPDIR/stdout
	head -c 32M /dev/zero | tr '\0' A >"$a"
	head -c 32M /dev/zero | tr '\0' B >"$b"
	mkfifo "$BATS_TEST_TMPDIR/out.fifo"
	# About 40 MB/s, well below what the clients send.
	nk_start reader python3 -c '
import os, sys, time
out = open(sys.argv[2], "wb", buffering=0)
fd = os.open(sys.argv[1], os.O_RDONLY)
while True:
    b = os.read(fd, 16384)
    if not b:
        break
    out.write(b)
    time.sleep(0.0004)' "$BATS_TEST_TMPDIR/out.fifo" "$out"
	NK_STDIN=/dev/null nk_start srv sh -c 'exec "$0" listen -k --events 0 >"$1"' \
	    "$NETKIT" "$BATS_TEST_TMPDIR/out.fifo"
	PORT=$(nk_port srv)
	nk_client ca "sendfile:$(nk_gate ga)" "sendfile:$a" shut-wr expect-eof
	nk_client cb "sendfile:$(nk_gate gb)" "sendfile:$b" shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=2 '
	nk_open_gate ga
	nk_open_gate gb
	nk_ok ca 30
	nk_ok cb 30
	nk_wait_size "$out" 67108864 30
	[ "$(stat -c %s "$out")" = 67108864 ]
	[ "$(tr -cd A <"$out" | wc -c)" = 33554432 ]
	[ "$(tr -cd B <"$out" | wc -c)" = 33554432 ]
	nk_wait_count srv '^event=socket\.close ' 2
	run nk_events srv socket.close
	assert_line "event=socket.close id=1 had_error=false bytes_read=33554432 bytes_written=0"
	assert_line "event=socket.close id=2 had_error=false bytes_read=33554432 bytes_written=0"
}

@test "-k SIGTERM after the last client left: what it sent still reaches stdout, exit 0" {
	command -v python3 >/dev/null || skip "python3 not installed"
	local out=$BATS_TEST_TMPDIR/stdout
	# More than the stdout pipe holds (netkit makes it 1 MiB), less than
	# that plus netkit's buffer: the client can finish while stdout stalls.
	nk_random "$BATS_TEST_TMPDIR/in" 1152K
	mkfifo "$BATS_TEST_TMPDIR/out.fifo"
	# A stdout that reads nothing until the gate opens.
	nk_start reader python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[3]).read()
out = open(sys.argv[2], "wb", buffering=0)
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    out.write(b)' "$BATS_TEST_TMPDIR/out.fifo" "$out" "$(nk_gate stdout)"
	NK_STDIN=/dev/null nk_start srv sh -c 'exec "$0" listen -k --events 0 >"$1"' \
	    "$NETKIT" "$BATS_TEST_TMPDIR/out.fifo"
	PORT=$(nk_port srv)
	nk_client c1 "sendfile:$BATS_TEST_TMPDIR/in" shut-wr expect-eof
	nk_ok c1
	nk_wait_line srv '^event=socket\.close id=1 '
	nk_signal srv TERM
	nk_wait_unlistened
	nk_open_gate stdout
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	nk_ok reader
	echo "stdout got $(stat -c %s "$out") of $(stat -c %s "$BATS_TEST_TMPDIR/in") bytes"
	[ "$(nk_sha "$out")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
}

@test "-k -m 2: a third client at once is dropped, the two others are served" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k -m 2
	nk_client c1 read:6 send:one shut-wr expect-eof
	nk_client c2 read:6 send:two shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=2 .* connections=2$'
	nk_client c3 expect-eof
	nk_ok c3
	[ "$(cat "$(nk_out c3)")" = "" ]
	run nk_events srv server.drop
	assert_output --regexp '^event=server\.drop remote=127\.0\.0\.1:[0-9]+ connections=2$'
	printf 'hello\n' >&7
	nk_ok c1
	nk_ok c2
	[ "$(cat "$(nk_out c1)")" = hello ]
	[ "$(cat "$(nk_out c2)")" = hello ]
	nk_wait_count srv '^event=socket\.close ' 2
	run cat "$(nk_out srv)"
	[[ "$output" = onetwo || "$output" = twoone ]]
	run nk_events srv server.connection
	[ "${#lines[@]}" = 2 ]
	nk_fifo_close
}

@test "-k signals: the first stops accepting, the second closes everything, exit 1" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k
	nk_client c1 read:7 send:from-c1 expect-eof
	nk_wait_line srv '^event=server\.connection id=1 '
	nk_signal srv TERM
	nk_wait_unlistened
	run timeout 5 "$NETKIT" connect 127.0.0.1 "$PORT" </dev/null
	assert_failure 1
	assert_output "netkit: connect 127.0.0.1:$PORT: Connection refused (ECONNREFUSED)"
	# The connected client goes on, both ways.
	printf 'stdin!\n' >&7
	nk_wait_size "$(nk_out c1)" 7
	nk_wait_size "$(nk_out srv)" 7
	[ "$(cat "$(nk_out srv)")" = from-c1 ]
	nk_running srv
	nk_signal srv TERM
	nk_wait srv 5
	[ "$NK_STATUS" = 1 ]
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = 'stdin!' ]
	run tail -n 2 "$(nk_err srv)"
	assert_line --index 0 --regexp '^event=socket\.close id=1 had_error=false bytes_read=7 bytes_written=7$'
	assert_line --index 1 'event=server.close'
	nk_fifo_close
}

@test "-k stdout write error: /dev/full gives one line, exit 1" {
	NK_STDIN=/dev/null nk_start srv sh -c 'exec "$0" listen -k --events 0 >/dev/full' "$NETKIT"
	PORT=$(nk_port srv)
	nk_client c1 send:data shut-wr
	nk_wait srv
	[ "$NK_STATUS" = 1 ]
	run grep -v '^event=' "$(nk_err srv)"
	assert_output "netkit: listen stdout: No space left on device (ENOSPC)"
}
