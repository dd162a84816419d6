# -e, --exec CMD on listen and connect: the command's I/O is the
# connection, its exit status is netkit's, its environment names the
# addresses, it inherits no other descriptor, and it is reaped and killed.

load helpers

@test "listen -e: the command talks to the client, exit 0 with it" {
	nk_listen srv -e 'tr a-z A-Z'
	nk_client c1 send:hello shut-wr read-all
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = HELLO ]
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out srv)")" = "" ]
	run nk_events srv socket.close
	assert_output --regexp '^event=socket\.close id=1 had_error=false'
}

@test "connect -e: netkit exits with the command's status" {
	nk_peer_listen peer send:ping shut-wr expect-eof
	run timeout 10 "$NETKIT" connect -e 'read x; [ "$x" = ping ] || exit 9; exit 3' 127.0.0.1 "$PORT"
	assert_failure 3
	assert_output ""
	nk_ok peer
}

@test "listen -e: netkit exits with the command's status" {
	nk_listen srv -e 'exit 4'
	nk_client c1 expect-eof
	nk_ok c1
	nk_wait srv
	[ "$NK_STATUS" = 4 ]
}

@test "listen -e: NETKIT_* name both ends of the connection" {
	local want
	nk_listen srv -e 'echo "$NETKIT_REMOTE_ADDR $NETKIT_REMOTE_PORT $NETKIT_LOCAL_ADDR $NETKIT_LOCAL_PORT"'
	nk_client c1 read-all
	nk_ok c1
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	want=$(nk_events srv server.connection |
	    sed -E 's/.* remote=127\.0\.0\.1:([0-9]+) .*/127.0.0.1 \1/')
	[ "$(cat "$(nk_out c1)")" = "$want 127.0.0.1 $PORT" ]
}

@test "connect -e: NETKIT_* name both ends of the connection, IPv6 too" {
	local local_port
	nk_peer_listen peer read-all
	run bash -c "timeout 10 '$NETKIT' connect --events -e 'echo \"\$NETKIT_REMOTE_ADDR \$NETKIT_REMOTE_PORT \$NETKIT_LOCAL_ADDR \$NETKIT_LOCAL_PORT\"' 127.0.0.1 $PORT 2>&1"
	assert_success
	local_port=$(sed -nE 's/^event=socket\.connect .* local=127\.0\.0\.1:([0-9]+) .*/\1/p' <<<"$output")
	[ -n "$local_port" ]
	nk_ok peer
	[ "$(cat "$(nk_out peer)")" = "127.0.0.1 $PORT 127.0.0.1 $local_port" ]

	NK_STDIN=/dev/null nk_start srv6 "$NETKIT" listen -6 -H ::1 --events \
	    -e 'echo "$NETKIT_REMOTE_ADDR $NETKIT_LOCAL_ADDR $NETKIT_LOCAL_PORT"' 0
	PORT=$(nk_port srv6)
	run timeout 10 "$NETKIT" connect ::1 "$PORT" </dev/null
	assert_success
	assert_output "::1 ::1 $PORT"
}

@test "-e: the command sees EOF at the peer's FIN and all it writes arrives" {
	nk_listen srv -e 'cat; echo after-eof'
	nk_client c1 send:hello shut-wr read-all
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = helloafter-eof ]
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
}

@test "listen -e: 8 MiB written by a command that then exits all reach a slow client" {
	local big=$BATS_TEST_TMPDIR/big
	nk_random "$big" 8M
	nk_listen srv -e "cat '$big'"
	nk_client c1 slowread:16000000
	nk_ok c1
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ "$(nk_sha "$(nk_out c1)")" = "$(nk_sha "$big")" ]
}

@test "connect -e: 8 MiB from head | tee all reach the peer, exit 0" {
	local big=$BATS_TEST_TMPDIR/big
	nk_peer_listen peer read-all
	run timeout 20 "$NETKIT" connect -e "head -c 8M /dev/urandom | tee '$big'" 127.0.0.1 "$PORT"
	assert_success
	nk_ok peer
	[ "$(stat -c %s "$big")" = 8388608 ]
	[ "$(nk_sha "$(nk_out peer)")" = "$(nk_sha "$big")" ]
}

@test "-e: the command has no descriptor but 0, 1 and 2 (listen -k, two at once; connect)" {
	# No pipeline here: the shell would hold the pipe while ls looks.
	local fds='ls /proc/$$/fd; cat >/dev/null'
	nk_listen srv -k -e "$fds"
	nk_client c1 read:6 "sendfile:$(nk_gate c1)" shut-wr expect-eof
	nk_wait_line srv '^event=server\.connection id=1 '
	nk_client c2 read:6 shut-wr expect-eof
	nk_ok c2
	nk_open_gate c1
	nk_ok c1
	[ "$(cat "$(nk_out c1)")" = $'0\n1\n2' ]
	[ "$(cat "$(nk_out c2)")" = $'0\n1\n2' ]
	# fds 0 and 1 are the connection itself.
	nk_peer_listen peer read-all
	run timeout 10 "$NETKIT" connect -e 'readlink /proc/$$/fd/0 /proc/$$/fd/1; ls /proc/$$/fd' \
	    127.0.0.1 "$PORT" </dev/null
	assert_success
	nk_ok peer
	run cat "$(nk_out peer)"
	assert_line --index 0 --regexp '^socket:\[[0-9]+\]$'
	assert_equal "${lines[1]}" "${lines[0]}"
	assert_equal "${lines[*]:2}" "0 1 2"
}

@test "listen -k -e: 20 clients in turn all echoed, no zombie left" {
	local i pid
	nk_listen srv -k -e cat
	pid=$(nk_child srv)
	for i in $(seq 20); do
		run timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" "send:client $i" shut-wr read-all
		assert_success
		assert_output "client $i"
	done
	nk_wait_count srv '^event=socket\.close ' 20
	run ps --ppid "$pid" -o pid=,stat=
	refute_output --regexp 'Z'
	nk_running srv
}

@test "listen -k -e: two SIGTERMs kill the command's process group, exit 1" {
	local pid sh_pid sleep_pid
	nk_listen srv -k -e 'sleep 30 & echo "$$ $!"; wait'
	pid=$(nk_child srv)
	nk_client c1 read-all
	nk_wait_lines "$(nk_out c1)" 1
	read -r sh_pid sleep_pid <"$(nk_out c1)"
	[ -n "$sleep_pid" ]
	[ "$(ps -o ppid= -p "$sh_pid" | tr -d ' ')" = "$pid" ]
	nk_signal srv TERM
	nk_wait_unlistened
	# The first signal lets the command run on.
	kill -0 "$sh_pid"
	kill -0 "$sleep_pid"
	nk_running srv
	nk_signal srv TERM
	nk_wait srv 5
	[ "$NK_STATUS" = 1 ]
	nk_wait_gone "$sh_pid" 5
	nk_wait_gone "$sleep_pid" 5
	nk_ok c1
}

@test "listen -U -e: NETKIT_LOCAL_ADDR is the socket path" {
	local sock=$BATS_TEST_TMPDIR/exec.sock
	NK_STDIN=/dev/null nk_start srv "$NETKIT" listen --events -U "$sock" \
	    -e 'echo "local=$NETKIT_LOCAL_ADDR"; tr a-z A-Z'
	nk_wait_line srv 'server\.listening'
	run timeout 10 "$NKPEER" script connect -U "$sock" send:unix shut-wr read-all
	assert_success
	assert_output "local=$sock
UNIX"
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ ! -e "$sock" ]
}

@test "connect -U -e: the command talks over the UNIX socket, exit with it" {
	local sock=$BATS_TEST_TMPDIR/peer.sock
	nk_start peer "$NKPEER" script listen -U "$sock" send:abc shut-wr read-all
	nk_wait_line peer 'server\.listening'
	run timeout 10 "$NETKIT" connect -U "$sock" -e 'tr a-z A-Z; exit 5'
	assert_failure 5
	nk_ok peer
	[ "$(cat "$(nk_out peer)")" = ABC ]
}

@test "listen -e: a reset connection kills the command's process group" {
	nk_listen srv -e 'sleep 30 & echo started; wait'
	nk_start cli "$NKPEER" script connect 127.0.0.1 "$PORT" read:8 rst
	nk_wait cli 10
	[ "$NK_STATUS" = 0 ]
	# The command and its background sleep are killed, netkit exits.
	nk_wait srv 10
	run nk_events srv socket.close
	assert_output --regexp '^event=socket\.close id=1 had_error=true '
	run pgrep -f 'sleep 30 & echo started'
	assert_failure
}
