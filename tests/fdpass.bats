# --send-fd and --recv-fd: descriptors over UNIX sockets (SCM_RIGHTS).

load helpers

# A listen -U --recv-fd whose stdin stays open; sets SOCK.
nk_fd_listener() {
	SOCK=$BATS_TEST_TMPDIR/fd.sock
	mkfifo "$BATS_TEST_TMPDIR/in.fifo"
	exec 7<>"$BATS_TEST_TMPDIR/in.fifo"
	NK_STDIN=$BATS_TEST_TMPDIR/in.fifo nk_start srv "$NETKIT" listen \
	    --events --recv-fd "$@" -U "$SOCK"
	nk_wait_line srv 'server\.listening'
}

teardown() {
	exec 7>&- 2>/dev/null || true
	nk_teardown
}

@test "fd passing: the receiver gets socket.fd and the file's content" {
	printf 'the content of the file\n' >"$BATS_TEST_TMPDIR/f"
	nk_fd_listener
	run bash -c "printf data | timeout 10 '$NETKIT' connect --send-fd '$BATS_TEST_TMPDIR/f' -U '$SOCK'"
	assert_success
	exec 7>&-
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out srv)")" = "datathe content of the file" ]
	run nk_events srv socket.fd
	assert_output --regexp '^event=socket\.fd id=1 fd=[0-9]+$'
}

@test "fd passing: a large file's content arrives intact (sha256)" {
	nk_random "$BATS_TEST_TMPDIR/big" 8M
	nk_fd_listener
	timeout 20 "$NETKIT" connect --send-fd "$BATS_TEST_TMPDIR/big" -U "$SOCK" </dev/null
	exec 7>&-
	nk_wait srv 20
	[ "$NK_STATUS" = 0 ]
	# Empty stdin: the descriptor travels with one NUL byte, first.
	head -c 1 "$(nk_out srv)" | od -An -tx1 | grep -qx ' 00'
	tail -c +2 "$(nk_out srv)" >"$BATS_TEST_TMPDIR/got"
	[ "$(nk_sha "$BATS_TEST_TMPDIR/got")" = "$(nk_sha "$BATS_TEST_TMPDIR/big")" ]
}

@test "fd passing: listen sends, connect receives" {
	printf 'from the listener\n' >"$BATS_TEST_TMPDIR/f"
	local sock=$BATS_TEST_TMPDIR/l.sock
	NK_STDIN=/dev/null nk_start srv "$NETKIT" listen --events \
	    --send-fd "$BATS_TEST_TMPDIR/f" -U "$sock"
	nk_wait_line srv 'server\.listening'
	run bash -c "timeout 10 '$NETKIT' connect --recv-fd --events -U '$sock' </dev/null 2>'$BATS_TEST_TMPDIR/err' | od -An -c | tr -d ' \n'"
	assert_success
	assert_output '\0fromthelistener\n'
	run grep -c '^event=socket\.fd ' "$BATS_TEST_TMPDIR/err"
	assert_output 1
}

@test "fd passing: without --recv-fd the descriptor is not copied" {
	printf 'hidden\n' >"$BATS_TEST_TMPDIR/f"
	local sock=$BATS_TEST_TMPDIR/p.sock
	mkfifo "$BATS_TEST_TMPDIR/in.fifo"
	exec 7<>"$BATS_TEST_TMPDIR/in.fifo"
	NK_STDIN=$BATS_TEST_TMPDIR/in.fifo nk_start srv "$NETKIT" listen --events -U "$sock"
	nk_wait_line srv 'server\.listening'
	printf x | timeout 10 "$NETKIT" connect --send-fd "$BATS_TEST_TMPDIR/f" -U "$sock"
	exec 7>&-
	nk_wait srv
	[ "$(cat "$(nk_out srv)")" = x ]
	run nk_events srv socket.fd
	assert_output ""
}

@test "fd passing: over TCP is a usage error" {
	run timeout 5 "$NETKIT" connect --send-fd /etc/hostname 127.0.0.1 9
	assert_failure 2
	run timeout 5 "$NETKIT" listen --recv-fd 0
	assert_failure 2
	assert_output --partial "UNIX socket"
}

@test "fd passing: a missing file is one line, exit 1" {
	nk_fd_listener
	run timeout 10 "$NETKIT" connect --send-fd "$BATS_TEST_TMPDIR/none" -U "$SOCK" </dev/null
	assert_failure 1
	assert_output "netkit: connect $BATS_TEST_TMPDIR/none: No such file or directory (ENOENT)"
}
