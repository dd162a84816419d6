# Descriptor and process hygiene: servers hold the same descriptors after
# a thousand connections as before; --exec commands inherit nothing but
# their socket and stdio, are reaped, and are killed with their process
# group when their connection goes away. (Memory: scripts/valgrind-run.)

load helpers

# fd_list PID: PID's descriptors, one "N -> TARGET" a line.
fd_list() {
	local f
	for f in /proc/"$1"/fd/*; do
		echo "${f##*/} -> $(readlink "$f")"
	done | sort -n
}

# fd_count PID: how many descriptors PID has open.
fd_count() { "$NKPEER" fds "$1"; }

# fd_wait PID N BEFORE [SECONDS]: wait until PID has N descriptors again;
# at the deadline fail showing BEFORE (the list then) and the list now.
fd_wait() {
	local pid=$1 want=$2 before=$3 deadline=$((SECONDS + ${4:-10})) n
	while n=$(fd_count "$pid"); [ "$n" != "$want" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "pid $pid: $n descriptors, $want before" >&2
			echo "before:" >&2
			echo "$before" >&2
			echo "now:" >&2
			fd_list "$pid" >&2
			return 1
		fi
		sleep 0.05
	done
}

# clients_batches BATCHES N SIZE ADDR...: BATCHES rounds of N concurrent
# nkpeer clients of ADDR (HOST PORT or -U PATH), each echoed SIZE bytes.
clients_batches() {
	local batches=$1 n=$2 size=$3 b
	shift 3
	for b in $(seq "$batches"); do
		timeout 30 "$NKPEER" clients "$@" "$n" "$size" || {
			echo "batch $b of $batches failed" >&2
			return 1
		}
	done
}

# wait_no_children PID [SECONDS]: wait until PID has no child process.
wait_no_children() {
	local deadline=$((SECONDS + ${2:-10}))
	while [ -n "$(ps --ppid "$1" -o pid= 2>/dev/null)" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "children of $1 still there after ${2:-10}s:" >&2
			ps --ppid "$1" -o pid,pgid,stat,args >&2
			return 1
		fi
		sleep 0.05
	done
}

@test "echo: the same descriptors after 1,000 connections as before (TCP)" {
	local pid before n
	nk_echo_server srv
	pid=$(nk_child srv)
	before=$(fd_list "$pid")
	n=$(fd_count "$pid")
	clients_batches 10 100 4096 127.0.0.1 "$PORT"
	nk_wait_count srv '^event=socket\.close ' 1000 30
	fd_wait "$pid" "$n" "$before"
	run grep -c 'had_error=true' "$(nk_err srv)"
	assert_output 0
}

@test "echo -U: the same descriptors after 1,000 connections as before (UNIX)" {
	local pid before n sock=$BATS_TEST_TMPDIR/echo.sock
	nk_start srv "$NETKIT" echo --events -U "$sock"
	nk_wait_line srv 'server\.listening'
	pid=$(nk_child srv)
	before=$(fd_list "$pid")
	n=$(fd_count "$pid")
	clients_batches 10 100 4096 -U "$sock"
	nk_wait_count srv '^event=socket\.close ' 1000 30
	fd_wait "$pid" "$n" "$before"
}

@test "listen -k: the same descriptors after 1,000 clients in turn as before, all data on stdout" {
	local pid before n i
	nk_fifo
	# 1,000 clients one after another take minutes on a loaded machine:
	# the server's own deadline (timeout(1)'s SIGTERM) must not end it.
	NK_TIMEOUT=600 NK_STDIN=$FIFO nk_listen srv -k
	pid=$(nk_child srv)
	before=$(fd_list "$pid")
	n=$(fd_count "$pid")
	for i in $(seq 1000); do
		timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" \
		    "send:client $i\n" shut-wr expect-eof 7>&- ||
		    { echo "client $i failed" >&2; return 1; }
	done
	nk_wait_count srv '^event=socket\.close ' 1000 30
	fd_wait "$pid" "$n" "$before"
	run sort -u "$(nk_out srv)"
	[ "${#lines[@]}" = 1000 ]
	[ "$(grep -c '^client [0-9]*$' "$(nk_out srv)")" = 1000 ]
	# -k keeps listening after stdin's EOF; a SIGTERM ends it, exit 0.
	nk_fifo_close
	nk_signal srv TERM
	nk_wait srv 10
	[ "$NK_STATUS" = 0 ]
}

@test "listen -k -e cat: 200 connections leave no child, no zombie, no descriptor" {
	local pid before n
	nk_listen srv -k -e cat
	pid=$(nk_child srv)
	before=$(fd_list "$pid")
	n=$(fd_count "$pid")
	clients_batches 10 20 10000 127.0.0.1 "$PORT"
	nk_wait_count srv '^event=socket\.close ' 200 30
	wait_no_children "$pid"
	fd_wait "$pid" "$n" "$before"
	nk_running srv
}

@test "listen -U -k -e: the command has no descriptor but 0, 1 and 2" {
	local sock=$BATS_TEST_TMPDIR/l.sock
	nk_start srv "$NETKIT" listen --events -k -U "$sock" \
	    -e 'ls /proc/$$/fd; readlink /proc/$$/fd/0 /proc/$$/fd/1; cat >/dev/null'
	nk_wait_line srv 'server\.listening'
	run timeout 10 "$NKPEER" script connect -U "$sock" shut-wr read-all
	assert_success
	assert_equal "${lines[*]:0:3}" "0 1 2"
	assert_regex "${lines[3]}" '^socket:\[[0-9]+\]$'
	assert_equal "${lines[4]}" "${lines[3]}"
	assert_equal "${#lines[@]}" 5
}

@test "listen -U -e: a reset connection kills the command's process group" {
	local sock=$BATS_TEST_TMPDIR/l.sock pids=$BATS_TEST_TMPDIR/pids sh_pid sleep_pid
	nk_start srv "$NETKIT" listen --events -U "$sock" \
	    -e "sleep 30 & echo \"\$\$ \$!\" >'$pids'; echo started; wait"
	nk_wait_line srv 'server\.listening'
	nk_start cli "$NKPEER" script connect -U "$sock" read:8 rst
	nk_wait cli 10
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out cli)")" = started ]
	nk_wait_lines "$pids" 1
	read -r sh_pid sleep_pid <"$pids"
	[ -n "$sleep_pid" ]
	# The command and its background sleep are killed, netkit exits.
	nk_wait_gone "$sh_pid" 10
	nk_wait_gone "$sleep_pid" 10
	# listen -e exits with the command's status: killed by SIGTERM.
	nk_wait srv 10
	[ "$NK_STATUS" = 143 ]
	run nk_events srv socket.close
	assert_output --regexp '^event=socket\.close id=1 had_error=true '
	[ ! -e "$sock" ]
}

@test "connect -U -e: a peer that goes away kills the command's process group" {
	local sock=$BATS_TEST_TMPDIR/p.sock pids=$BATS_TEST_TMPDIR/pids sh_pid sleep_pid
	nk_start peer "$NKPEER" script listen -U "$sock" read:8 close
	nk_wait_line peer 'server\.listening'
	nk_start cli "$NETKIT" connect --events -U "$sock" \
	    -e "sleep 30 & echo \"\$\$ \$!\" >'$pids'; echo started; wait"
	nk_wait peer 10
	[ "$NK_STATUS" = 0 ]
	nk_wait_lines "$pids" 1
	read -r sh_pid sleep_pid <"$pids"
	[ -n "$sleep_pid" ]
	nk_wait_gone "$sh_pid" 10
	nk_wait_gone "$sleep_pid" 10
	nk_wait cli 10
	[ "$NK_STATUS" = 143 ]
	run nk_events cli socket.close
	assert_output --regexp '^event=socket\.close id=1 '
}
