# Socket and server options, each proven by what it does: idle timeouts
# (-t, --on-timeout), --no-delay and --keepalive read back from the
# sockets, -m (--max-connections), --fd (inherited sockets, with python3
# and systemd-socket-activate as launchers), and --retry on EADDRINUSE.
#
# stderr and stderr_lines are set by bats' run --separate-stderr.
# shellcheck disable=SC2154

load helpers

bats_require_minimum_version 1.5.0

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# opt_count NAME REGEX: how many lines of NAME's stderr match REGEX.
opt_count() { grep -Ec -- "$2" "$(nk_err "$1")" || true; }

# --- idle timeouts: connect and listen --------------------------------------

@test "connect -t, --on-timeout end: socket.timeout, a FIN, still reads, exit 1 (ETIMEDOUT)" {
	nk_fifo
	# The peer stays silent until it sees our FIN, then answers and ends.
	nk_peer_listen peer expect-eof send:late shut-wr
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events -t 200 \
	    --on-timeout end 127.0.0.1 "$PORT"
	nk_wait cli 5
	nk_fifo_close
	[ "$NK_STATUS" = 1 ]
	[ "$(cat "$(nk_out cli)")" = late ]
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
	run nk_events cli socket.timeout
	assert_output "event=socket.timeout id=1"
	run grep '^netkit: ' "$(nk_err cli)"
	assert_output "netkit: connect 127.0.0.1:$PORT: idle for 200 ms (ETIMEDOUT)"
	run tail -n 1 "$(nk_err cli)"
	assert_output "event=socket.close id=1 had_error=false bytes_read=4 bytes_written=0"
}

@test "connect -t, end is the default: idle once more after the FIN, closed" {
	nk_fifo
	# The peer sees the FIN (as EOF, no data) and then keeps its side open
	# until the gate opens.
	nk_peer_listen peer expect-eof "sendfile:$(nk_gate end)"
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events -t 200 127.0.0.1 "$PORT"
	nk_wait cli 5
	nk_fifo_close
	[ "$NK_STATUS" = 1 ]
	# netkit closed on its own: the peer had not ended yet.
	nk_running peer
	[ "$(opt_count cli '^event=socket\.timeout id=1$')" = 2 ]
	[ "$(opt_count cli '^event=socket\.end ')" = 0 ]
	run grep -c "^netkit: connect 127\.0\.0\.1:$PORT: idle for 200 ms (ETIMEDOUT)\$" "$(nk_err cli)"
	assert_output 1
	nk_open_gate end
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
}

@test "connect -t, --on-timeout destroy: closed at once, exit 1 (ETIMEDOUT)" {
	nk_fifo
	# The peer stays silent until the gate opens (never, here).
	nk_peer_listen peer "sendfile:$(nk_gate late)" send:late
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events -t 200 \
	    --on-timeout destroy 127.0.0.1 "$PORT"
	nk_wait cli 5
	nk_fifo_close
	[ "$NK_STATUS" = 1 ]
	nk_running peer
	[ ! -s "$(nk_out cli)" ]
	run nk_events cli socket.timeout
	assert_output "event=socket.timeout id=1"
	run grep '^netkit: ' "$(nk_err cli)"
	assert_output "netkit: connect 127.0.0.1:$PORT: idle for 200 ms (ETIMEDOUT)"
	run tail -n 1 "$(nk_err cli)"
	assert_output "event=socket.close id=1 had_error=false bytes_read=0 bytes_written=0"
}

@test "connect -t, --on-timeout ignore: data after the timeout flows both ways, exit 0" {
	nk_fifo
	nk_peer_listen peer sleep:600 send:late read:5 shut-wr expect-eof
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --events -t 200 \
	    --on-timeout ignore 127.0.0.1 "$PORT"
	nk_wait_line cli '^event=socket\.timeout id=1$'
	printf after >&7
	nk_fifo_close
	nk_wait cli
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out cli)")" = late ]
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out peer)")" = after ]
	run grep '^netkit: ' "$(nk_err cli)"
	assert_output ""
	run tail -n 1 "$(nk_err cli)"
	assert_output "event=socket.close id=1 had_error=false bytes_read=4 bytes_written=5"
}

@test "connect -t, --on-timeout ignore: one socket.timeout per idle period" {
	# 1 s of silence with -t 200: five timer periods, one idle period.
	nk_peer_listen peer sleep:1000 send:late shut-wr
	run --separate-stderr timeout 10 "$NETKIT" connect --events -t 200 \
	    --on-timeout ignore 127.0.0.1 "$PORT"
	assert_success
	assert_output late
	[ "$(grep -c '^event=socket\.timeout id=1$' <<<"$stderr")" = 1 ]
}

@test "connect -t 0 disables the timeout" {
	nk_peer_listen peer sleep:500 send:late shut-wr
	run --separate-stderr timeout 10 "$NETKIT" connect --events -t 0 \
	    127.0.0.1 "$PORT"
	assert_success
	assert_output late
	[[ "$stderr" != *socket.timeout* ]]
}

@test "connect -t: a byte every 100 ms keeps a 1000 ms timer from firing" {
	# 1.5 s in all, never close to 1 s idle (10x the pauses: a loaded
	# machine may stretch them).
	nk_peer_listen peer send:a sleep:100 send:b sleep:100 send:c sleep:100 \
	    send:d sleep:100 send:e sleep:100 send:f sleep:100 send:g \
	    sleep:100 send:h sleep:100 send:i sleep:100 send:j sleep:100 \
	    send:k sleep:100 send:l sleep:100 send:m sleep:100 send:n \
	    sleep:100 send:o sleep:100 send:p shut-wr
	run --separate-stderr timeout 30 "$NETKIT" connect --events -t 1000 \
	    127.0.0.1 "$PORT"
	assert_success
	assert_output abcdefghijklmnop
	[[ "$stderr" != *socket.timeout* ]]
}

@test "listen -t, --on-timeout destroy: an idle client is closed, exit 1 (ETIMEDOUT)" {
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -H 127.0.0.1 -t 200 --on-timeout destroy
	nk_start cli "$NKPEER" script connect 127.0.0.1 "$PORT" expect-eof
	nk_wait srv 5
	nk_fifo_close
	[ "$NK_STATUS" = 1 ]
	run grep '^netkit: ' "$(nk_err srv)"
	assert_output --regexp "^netkit: listen 127\.0\.0\.1:[0-9]+: idle for 200 ms \(ETIMEDOUT\)$"
	run nk_events srv socket.timeout
	assert_output "event=socket.timeout id=1"
	nk_wait cli
	[ "$NK_STATUS" = 0 ]
}

# --- idle timeouts: echo ----------------------------------------------------

@test "echo -t: an idle client is cut after the timeout, a busy one is not" {
	local t0 t1
	nk_echo_server srv -t 1000
	# Busy for 1.2 s, never close to 1 s idle (a pause of 100 ms: 10x
	# apart, as a loaded machine may stretch the pauses).
	run timeout 30 "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    send:a read:1 sleep:100 send:b read:1 sleep:100 send:c read:1 \
	    sleep:100 send:d read:1 sleep:100 send:e read:1 sleep:100 \
	    send:f read:1 sleep:100 send:g read:1 sleep:100 send:h read:1 \
	    sleep:100 send:i read:1 sleep:100 send:j read:1 sleep:100 \
	    send:k read:1 sleep:100 send:l read:1 sleep:100 send:m read:1 \
	    shut-wr expect-eof
	assert_success
	assert_output abcdefghijklm
	nk_wait_line srv '^event=socket\.close id=1 '
	run nk_events srv socket.timeout
	assert_output ""
	# Idle: it sees EOF, after the timeout, not before.
	t0=$(now_ms)
	run timeout 30 "$NKPEER" script connect 127.0.0.1 "$PORT" expect-eof
	t1=$(now_ms)
	assert_success
	[ $((t1 - t0)) -ge 950 ]
	nk_wait_line srv '^event=socket\.close id=2 '
	run grep -E '^event=socket\.(timeout|close) id=2( |$)' "$(nk_err srv)"
	assert_line --index 0 "event=socket.timeout id=2"
	assert_line --index 1 "event=socket.close id=2 had_error=false bytes_read=0 bytes_written=0"
	[ "${#lines[@]}" = 2 ]
	# The server goes on.
	run bash -c "printf more | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT"
	assert_output more
}

@test "echo -t, --on-timeout destroy and ignore" {
	nk_echo_server srv -t 200 --on-timeout destroy
	run timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" expect-eof
	assert_success
	nk_wait_line srv '^event=socket\.close id=1 '
	run nk_events srv socket.timeout
	assert_output "event=socket.timeout id=1"

	nk_echo_server ign -t 200 --on-timeout ignore
	run timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" sleep:600 \
	    send:x read:1 shut-wr expect-eof
	assert_success
	assert_output x
	nk_wait_line ign '^event=socket\.close id=1 '
	run nk_events ign socket.timeout
	assert_output "event=socket.timeout id=1"
	run nk_events ign socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=1 bytes_written=1"
}

# --- --no-delay, --keepalive ------------------------------------------------

# opt_connect_sockopts PORT FLAGS...: connect a python socket to PORT, run
# "netkit connect --fd 3 FLAGS" on it, and print TCP_NODELAY, SO_KEEPALIVE
# and TCP_KEEPIDLE as read on python's copy of the same socket, then what
# netkit echoed to stdout and its exit status.
opt_connect_sockopts() {
	python3 - "$NETKIT" "$@" <<'EOF'
import os, socket, subprocess, sys
netkit, port, flags = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port))
os.dup2(s.fileno(), 3)
p = subprocess.Popen([netkit, "connect", "--fd", "3", "--events"] + flags,
    pass_fds=(3,), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    stderr=subprocess.PIPE)
os.close(3)
line = p.stderr.readline().decode()
assert line.startswith("event=socket.connect id=1 "), line
print(int(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0),
    int(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0),
    s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))
out, _ = p.communicate(b"hi", timeout=10)
print(out.decode(), p.returncode)
EOF
}

@test "connect --no-delay, --keepalive=MS: read back on the socket (--fd 3)" {
	need_python
	local idle
	idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
	nk_echo_server srv
	run timeout 10 bash -c "$(declare -f opt_connect_sockopts); NETKIT='$NETKIT' opt_connect_sockopts $PORT"
	assert_success
	assert_output "0 0 $idle
hi 0"
	run timeout 10 bash -c "$(declare -f opt_connect_sockopts); NETKIT='$NETKIT' opt_connect_sockopts $PORT --no-delay --keepalive=7000"
	assert_success
	assert_output "1 1 7
hi 0"
	# Whole seconds, rounded up.
	run timeout 10 bash -c "$(declare -f opt_connect_sockopts); NETKIT='$NETKIT' opt_connect_sockopts $PORT --keepalive=1500"
	assert_output "0 1 2
hi 0"
	run timeout 10 bash -c "$(declare -f opt_connect_sockopts); NETKIT='$NETKIT' opt_connect_sockopts $PORT --keepalive=1"
	assert_output "0 1 1
hi 0"
	# Without MS: the system's delay.
	run timeout 10 bash -c "$(declare -f opt_connect_sockopts); NETKIT='$NETKIT' opt_connect_sockopts $PORT --keepalive"
	assert_output "0 1 $idle
hi 0"
}

# opt_accepted_sockopts FLAGS...: run "netkit echo --fd 3 FLAGS" on a
# python listener, connect a client, take netkit's accepted socket with
# pidfd_getfd(2) and print its TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE;
# "skip REASON" where the kernel does not allow it.
opt_accepted_sockopts() {
	python3 - "$NETKIT" "$@" <<'EOF'
import ctypes, errno, os, socket, stat, subprocess, sys
netkit, flags = sys.argv[1], sys.argv[2:]
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(8)
os.dup2(l.fileno(), 3)
p = subprocess.Popen([netkit, "echo", "--fd", "3", "--events"] + flags,
    pass_fds=(3,), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
os.close(3)
try:
    line = p.stderr.readline().decode()
    assert line.startswith("event=server.listening "), line
    c = socket.create_connection(l.getsockname())
    line = p.stderr.readline().decode()
    assert line.startswith("event=server.connection id=1 "), line
    if not hasattr(os, "pidfd_open"):
        print("skip no os.pidfd_open")
        sys.exit(0)
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(p.pid)
    for name in os.listdir("/proc/%d/fd" % p.pid):
        fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
        if fd < 0:
            e = ctypes.get_errno()
            if e in (errno.EPERM, errno.ENOSYS, errno.EACCES):
                print("skip pidfd_getfd: " + os.strerror(e))
                sys.exit(0)
            continue
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            os.close(fd)
            continue
        s = socket.socket(fileno=fd)
        try:
            peer = s.getpeername()
        except OSError:
            s.close()
            continue
        if peer == c.getsockname():
            print(int(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0),
                int(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0),
                s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))
            sys.exit(0)
        s.close()
    print("no accepted socket found")
    sys.exit(1)
finally:
    p.kill()
    p.wait()
EOF
}

@test "echo --no-delay, --keepalive=MS: set on the accepted socket" {
	need_python
	local idle
	idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
	run timeout 10 bash -c "$(declare -f opt_accepted_sockopts); NETKIT='$NETKIT' opt_accepted_sockopts"
	assert_success
	[[ "$output" != skip* ]] || skip "${output#skip }"
	assert_output "0 0 $idle"
	run timeout 10 bash -c "$(declare -f opt_accepted_sockopts); NETKIT='$NETKIT' opt_accepted_sockopts --no-delay --keepalive=7000"
	assert_success
	assert_output "1 1 7"
}

# opt_ss PORT: ss's line for the server side of the connection on PORT.
opt_ss() { ss -tnoH state established "( sport = :$1 )"; }

@test "echo and listen --keepalive=60000: ss shows the server side's keepalive timer" {
	command -v ss >/dev/null || skip "ss not installed"
	nk_echo_server srv --keepalive=60000
	nk_start c1 "$NKPEER" script connect 127.0.0.1 "$PORT" expect-open:10000
	nk_wait_line srv '^event=server\.connection id=1 '
	run opt_ss "$PORT"
	assert_output --regexp 'timer:\(keepalive,(5[0-9]|60)sec,0\)'

	nk_echo_server plain
	nk_start c2 "$NKPEER" script connect 127.0.0.1 "$PORT" expect-open:10000
	nk_wait_line plain '^event=server\.connection id=1 '
	run opt_ss "$PORT"
	assert_output --regexp "127\.0\.0\.1\]?:$PORT "
	refute_output --partial keepalive

	nk_fifo
	NK_STDIN=$FIFO nk_listen lsn --keepalive=60000
	nk_start c3 "$NKPEER" script connect 127.0.0.1 "$PORT" expect-open:10000
	nk_wait_line lsn '^event=server\.connection id=1 '
	run opt_ss "$PORT"
	assert_output --regexp 'timer:\(keepalive,(5[0-9]|60)sec,0\)'
	nk_fifo_close
}

# --- -m, --max-connections --------------------------------------------------

@test "echo -m 2: a third client is accepted and closed at once, server.drop" {
	nk_echo_server srv -m 2
	nk_start a "$NKPEER" script connect 127.0.0.1 "$PORT" expect-open:15000
	nk_wait_line srv '^event=server\.connection id=1 remote=127\.0\.0\.1:[0-9]+ connections=1$'
	nk_start b "$NKPEER" script connect 127.0.0.1 "$PORT" expect-open:15000
	nk_wait_line srv '^event=server\.connection id=2 remote=127\.0\.0\.1:[0-9]+ connections=2$'
	# Connected (not refused), then EOF at once, well within 2 s.
	run timeout 5 "$NKPEER" -T 2 script connect 127.0.0.1 "$PORT" expect-eof
	assert_success
	nk_wait_line srv '^event=server\.drop '
	run nk_events srv server.drop
	assert_output --regexp '^event=server\.drop remote=127\.0\.0\.1:[0-9]+ connections=2$'
	[ "$(opt_count srv '^event=server\.connection ')" = 2 ]
	# One leaves: the next client is served, as the second of two.
	nk_kill b
	nk_wait_line srv '^event=socket\.close id=2 '
	run timeout 5 "$NKPEER" script connect 127.0.0.1 "$PORT" send:hi read:2 shut-wr expect-eof
	assert_success
	assert_output hi
	run nk_events srv server.connection
	assert_line --index 2 --regexp '^event=server\.connection id=3 remote=127\.0\.0\.1:[0-9]+ connections=2$'
	[ "$(opt_count srv '^event=server\.drop ')" = 1 ]
}

@test "-m 0 is a usage error" {
	run --separate-stderr timeout 5 "$NETKIT" echo -m 0 -p 0
	[ "$status" = 2 ]
	[ "${#stderr_lines[@]}" = 1 ]
	[[ "$stderr" == "netkit: echo: "*-m* ]]
	run --separate-stderr timeout 5 "$NETKIT" listen --max-connections=0 0
	[ "$status" = 2 ]
	[ "${#stderr_lines[@]}" = 1 ]
}

# --- --fd -------------------------------------------------------------------

# OPT_LAUNCH CMD ARGS...: a python launcher that binds 127.0.0.1:0, listens,
# prints the port to stderr, puts the socket on descriptor 3, and becomes
# "netkit CMD --fd 3 ARGS".
OPT_LAUNCH=(python3 -c '
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print("launcher port=%d" % s.getsockname()[1], file=sys.stderr, flush=True)
os.dup2(s.fileno(), 3)
os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], "--fd", "3"] + sys.argv[3:])
' "$NETKIT")

@test "echo --fd 3 from a python launcher: the inherited address, an echo for each client" {
	need_python
	local lport
	nk_start srv "${OPT_LAUNCH[@]}" echo --events
	PORT=$(nk_port srv)
	lport=$(sed -nE 's/^launcher port=([0-9]+)$/\1/p' "$(nk_err srv)")
	[ "$PORT" = "$lport" ]
	run nk_events srv server.listening
	assert_output "event=server.listening address=127.0.0.1 port=$PORT family=IPv4 protocol=tcp"
	run timeout 20 "$NKPEER" clients 127.0.0.1 "$PORT" 8 200000
	assert_success
	run bash -c "printf hi | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT"
	assert_output hi
}

@test "listen --fd 3 from a python launcher: relays one connection" {
	need_python
	# stdin stays open: a FIN from listen could beat the client's data.
	nk_fifo
	NK_STDIN=$FIFO nk_start srv "${OPT_LAUNCH[@]}" listen --events
	PORT=$(nk_port srv)
	run bash -c "printf one | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT"
	assert_success
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out srv)")" = one ]
}

@test "listen --fd: an inherited UNIX listener's socket file is left in place" {
	need_python
	local sock=$BATS_TEST_TMPDIR/inh.sock
	nk_fifo
	NK_STDIN=$FIFO nk_start srv python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[2])
s.listen(4)
os.dup2(s.fileno(), 3)
os.execv(sys.argv[1], [sys.argv[1], "listen", "--fd", "3", "--events"])
' "$NETKIT" "$sock"
	nk_wait_line srv '^event=server\.listening '
	run nk_events srv server.listening
	assert_output "event=server.listening path=$sock protocol=unix"
	run bash -c "printf u | timeout 5 '$NETKIT' connect -U '$sock'"
	assert_success
	nk_wait srv
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out srv)")" = u ]
	[ -S "$sock" ]
}

@test "echo and listen --fd 3 under systemd-socket-activate" {
	command -v systemd-socket-activate >/dev/null ||
	    skip "systemd-socket-activate not installed"
	need_python
	local cmd
	nk_fifo
	for cmd in echo listen; do
		# It cannot bind port 0: take a free port, release it, and try
		# again should another process grab it in between.
		for _ in 1 2 3; do
			PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
			NK_STDIN=$FIFO nk_start "sa$cmd" systemd-socket-activate \
			    -l "127.0.0.1:$PORT" "$NETKIT" "$cmd" --fd 3 --events
			nk_wait_line "sa$cmd" '^(Listening on|Failed)'
			grep -q '^Listening on' "$(nk_err "sa$cmd")" && break
			nk_wait "sa$cmd"
		done
		# systemd-socket-activate starts netkit at the first client.
		run bash -c "printf hi | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT"
		assert_success
		nk_wait_line "sa$cmd" '^event=server\.listening '
		run nk_events "sa$cmd" server.listening
		assert_output "event=server.listening address=127.0.0.1 port=$PORT family=IPv4 protocol=tcp"
		if [ "$cmd" = echo ]; then
			assert_equal "$(printf hi | timeout 5 "$NETKIT" connect 127.0.0.1 "$PORT")" hi
			run bash -c "printf again | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT"
			assert_output again
		else
			nk_wait "sa$cmd"
			[ "$NK_STATUS" = 0 ]
			[ "$(cat "$(nk_out "sa$cmd")")" = hi ]
		fi
	done
}

@test "connect --fd 3 over a socket bash opened (/dev/tcp)" {
	nk_echo_server srv
	run --separate-stderr bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf hi | timeout 5 '$NETKIT' connect --events --fd 3"
	assert_success
	assert_output hi
	[[ "${stderr_lines[0]}" =~ ^event=socket\.connect\ id=1\ local=127\.0\.0\.1:[0-9]+\ remote=127\.0\.0\.1:$PORT$ ]]
	[ "${stderr_lines[-1]}" = "event=socket.close id=1 had_error=false bytes_read=2 bytes_written=2" ]
}

# opt_fd_error EXPECTED CMD...: run netkit; it must exit 2 with nothing on
# stdout and exactly the line EXPECTED on stderr.
opt_fd_error() {
	local want=$1
	shift
	run --separate-stderr timeout 5 "$@"
	if [ "$status" != 2 ] || [ -n "$output" ] || [ "$stderr" != "$want" ]; then
		echo "$*: want exit 2 and '$want', got $status '$output' '$stderr'" >&2
		return 1
	fi
}

@test "--fd errors: closed, not a socket, wrong kind, 0-2, with an address: one line, exit 2" {
	need_python
	local f=$BATS_TEST_TMPDIR/file cmd
	echo data >"$f"
	for cmd in listen echo connect; do
		opt_fd_error "netkit: $cmd --fd 9: Bad file descriptor (EBADF)" \
		    bash -c "exec 9>&-; exec '$NETKIT' $cmd --fd 9"
		opt_fd_error "netkit: $cmd --fd 3: Socket operation on non-socket (ENOTSOCK)" \
		    bash -c "exec 3<'$f'; exec '$NETKIT' $cmd --fd 3"
		run --separate-stderr timeout 5 "$NETKIT" "$cmd" --fd 2
		[ "$status" = 2 ] && [ "${#stderr_lines[@]}" = 1 ]
		[[ "$stderr" == "netkit: $cmd: --fd"* ]]
		run --separate-stderr bash -c "exec 3<'$f'; exec timeout 5 '$NETKIT' $cmd --fd 3 -p 5"
		[ "$status" = 2 ] && [ "${#stderr_lines[@]}" = 1 ]
		[[ "$stderr" == "netkit: $cmd: --fd conflicts"* ]]
	done
	run python3 -c '
import os, socket, subprocess, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
c = socket.create_connection(l.getsockname())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for cmd, s in (("listen", c), ("echo", c), ("connect", l), ("listen", u)):
    os.dup2(s.fileno(), 3)
    r = subprocess.run([sys.argv[1], cmd, "--fd", "3"], pass_fds=(3,),
        stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
    print(r.returncode, r.stdout.decode() + r.stderr.decode(), end="")
' "$NETKIT"
	assert_success
	assert_output "2 netkit: listen --fd 3: not a listening socket (EINVAL)
2 netkit: echo --fd 3: not a listening socket (EINVAL)
2 netkit: connect --fd 3: not a connected socket (EINVAL)
2 netkit: listen --fd 3: not a stream socket (EINVAL)"
}

# --- --retry on EADDRINUSE --------------------------------------------------

@test "echo --retry=1: one retry on EADDRINUSE, then the error, exit 1" {
	local t0 t1
	nk_echo_server holder
	t0=$(now_ms)
	run --separate-stderr timeout 10 "$NETKIT" echo --events -p "$PORT" --retry=1
	t1=$(now_ms)
	echo "stderr: $stderr"
	echo "holder: $(nk_running holder && echo running || echo gone)"
	cat "$(nk_err holder)"
	assert_failure 1
	[ $((t1 - t0)) -ge 900 ]
	[ "$(grep -c 'retrying' <<<"$stderr")" = 1 ]
	assert_equal "${stderr_lines[-1]}" "netkit: echo [::]:$PORT: Address already in use (EADDRINUSE)"
	assert_equal "${stderr_lines[-2]}" "event=server.error code=EADDRINUSE message=\"Address already in use\""
}

@test "echo --retry: binds once the port's holder goes away" {
	nk_echo_server holder
	nk_start srv "$NETKIT" echo --events -p "$PORT" --retry
	nk_wait_line srv 'retrying'
	nk_kill holder
	nk_wait holder
	nk_wait_line srv '^event=server\.listening ' 5
	run nk_events srv server.listening
	assert_output "event=server.listening address=:: port=$PORT family=IPv6 protocol=tcp"
	run bash -c "printf back | timeout 5 '$NETKIT' connect 127.0.0.1 $PORT"
	assert_output back
}
