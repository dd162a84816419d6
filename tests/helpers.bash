# Helpers shared by every test file: load with "load helpers".
#
# Processes are started in the background under timeout(1) with their
# stdout and stderr in files under $BATS_TEST_TMPDIR, their PIDs recorded;
# teardown kills them one by one. Waits poll with a deadline, never a bare
# sleep.

nk_load_lib() {
	local dir
	for dir in ${BATS_LIB_PATH//:/ } /usr/lib/bats /usr/local/lib/bats \
	    /usr/lib /usr/local/lib /opt/homebrew/lib; do
		if [ -f "$dir/$1/load.bash" ]; then
			# shellcheck disable=SC1090
			source "$dir/$1/load.bash"
			return 0
		fi
	done
	echo "helpers.bash: $1 not found (Debian package $1)" >&2
	return 1
}
nk_load_lib bats-support
nk_load_lib bats-assert

: "${NETKIT:=$BATS_TEST_DIRNAME/../src/netkit}"
: "${NKPEER:=$BATS_TEST_DIRNAME/nkpeer}"
: "${NETKIT_MAN:=$BATS_TEST_DIRNAME/../man/netkit.1}"
export NETKIT NKPEER NETKIT_MAN

# Seconds any one background process may run.
: "${NK_TIMEOUT:=60}"

declare -gA NK_PID=()

# nk_start NAME CMD...: run CMD in the background; stdin from $NK_STDIN
# (default /dev/null; fd 7, where tests hold fifos open, is closed), stdout to $(nk_out NAME), stderr to $(nk_err NAME).
nk_start() {
	local name=$1
	shift
	timeout -k 5 "$NK_TIMEOUT" "$@" >"$BATS_TEST_TMPDIR/$name.out" \
	    2>"$BATS_TEST_TMPDIR/$name.err" <"${NK_STDIN:-/dev/null}" 7>&- &
	NK_PID[$name]=$!
}

nk_out() { echo "$BATS_TEST_TMPDIR/$1.out"; }
nk_err() { echo "$BATS_TEST_TMPDIR/$1.err"; }
nk_pid() { echo "${NK_PID[$1]}"; }

# nk_wait_line NAME REGEX [SECONDS]: wait until NAME's stderr has a line
# matching the extended REGEX; fail (with the stderr shown) at the deadline.
nk_wait_line() {
	local name=$1 re=$2 secs=${3:-10} file deadline
	file=$(nk_err "$name")
	deadline=$((SECONDS + secs))
	while ! grep -Eq -- "$re" "$file" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "no line matching '$re' from $name within ${secs}s:" >&2
			cat "$file" >&2
			return 1
		fi
		sleep 0.02
	done
}

# nk_port NAME: wait for NAME's server.listening event and print its port.
nk_port() {
	nk_wait_line "$1" 'event.{0,3}server\.listening' "${2:-10}" || return 1
	grep -Em1 'server\.listening' "$(nk_err "$1")" |
	    sed -E 's/.*"?port"?[=:]([0-9]+).*/\1/'
}

# nk_wait NAME [SECONDS]: wait for NAME to exit; its status is in $NK_STATUS.
nk_wait() {
	local pid=${NK_PID[$1]} secs=${2:-20} deadline
	deadline=$((SECONDS + secs))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$1 (pid $pid) still running after ${secs}s" >&2
			return 1
		fi
		sleep 0.02
	done
	NK_STATUS=0
	wait "$pid" || NK_STATUS=$?
	unset "NK_PID[$1]"
}

# nk_running NAME: whether NAME is still running.
nk_running() { kill -0 "${NK_PID[$1]}" 2>/dev/null; }

# nk_kill NAME [SIGNAL]: send one signal (default TERM) to NAME's command
# itself, not to timeout(1): timeout relays a signal to its child and again
# to its process group, so the command could get it twice.
nk_kill() {
	local pid=${NK_PID[$1]} child
	child=$(pgrep -P "$pid" | head -n 1)
	kill -"${2:-TERM}" "${child:-$pid}" 2>/dev/null || true
}

# nk_events NAME EVENT: the text event lines of one kind from NAME.
nk_events() { grep -E "^event=$2( |\$)" "$(nk_err "$1")" || true; }

# nk_echo_server NAME [OPTIONS...]: start an echo server on port 0 and
# set $PORT.
nk_echo_server() {
	local name=$1
	shift
	nk_start "$name" "$NETKIT" echo -p 0 --events "$@"
	PORT=$(nk_port "$name") || return 1
}

# nk_listen NAME [OPTIONS...]: start listen on port 0 and set $PORT.
nk_listen() {
	local name=$1
	shift
	nk_start "$name" "$NETKIT" listen --events "$@" 0
	PORT=$(nk_port "$name") || return 1
}

# nk_sha FILE: the sha256 of a file.
nk_sha() { sha256sum <"$1" | cut -d' ' -f1; }

# nk_random FILE SIZE: a file of SIZE random bytes (head -c sizes: 64M...).
nk_random() { head -c "$2" /dev/urandom >"$1"; }

# nk_fifo: a fifo ($FIFO) for a process's stdin, held open by the test on
# fd 7 (opened read-write, so the open does not wait for a reader; nk_start
# closes fd 7 in what it starts) until nk_fifo_close: the process sees EOF
# only then.
nk_fifo() {
	FIFO=$BATS_TEST_TMPDIR/stdin.fifo
	mkfifo "$FIFO"
	exec 7<>"$FIFO"
}
nk_fifo_close() { exec 7>&-; }

# nk_peer_listen NAME ACTION...: a scripted peer (tests/nkpeer.c) listening
# on port 0; sets $PORT.
nk_peer_listen() {
	local name=$1
	shift
	nk_start "$name" "$NKPEER" script listen 0 "$@"
	PORT=$(nk_port "$name") || return 1
}

# nk_client NAME ACTION...: a scripted client (tests/nkpeer.c) of $PORT.
nk_client() {
	local name=$1
	shift
	nk_start "$name" "$NKPEER" -T 30 script connect 127.0.0.1 "$PORT" "$@"
}

# nk_ok NAME [SECONDS]: wait for NAME and require exit 0 (its stderr shown
# if not).
nk_ok() {
	nk_wait "$1" "${2:-20}" || return 1
	if [ "$NK_STATUS" != 0 ]; then
		echo "$1 exited $NK_STATUS:" >&2
		cat "$(nk_err "$1")" >&2
		return 1
	fi
}

# nk_gate NAME: a fifo a client opens with sendfile:$(nk_gate NAME); the
# client waits there until nk_open_gate NAME (it reads no bytes from it).
nk_gate() {
	local g=$BATS_TEST_TMPDIR/$1.gate
	[ -p "$g" ] || mkfifo "$g"
	echo "$g"
}
nk_open_gate() { timeout 5 sh -c ': >"$1"' sh "$(nk_gate "$1")"; }

# nk_until SECONDS WHAT COMMAND...: run COMMAND every 20 ms until it
# succeeds; at the deadline say what was awaited and fail.
nk_until() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "not within ${secs}s: $what" >&2
			return 1
		fi
		sleep 0.02
	done
}

# nk_wait_size FILE BYTES [SECONDS]: wait until FILE holds BYTES bytes.
nk_wait_size() {
	nk_until "${3:-10}" "$1 holding $2 bytes" nk_size_ge "$1" "$2"
}
nk_size_ge() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }

# nk_wait_lines FILE N [SECONDS]: wait until FILE holds N complete lines.
nk_wait_lines() {
	nk_until "${3:-10}" "$1 holding $2 lines" nk_lines_ge "$1" "$2"
}
nk_lines_ge() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]; }

# nk_wait_gone PID [SECONDS]: wait until PID has ended (a zombie left to an
# ancestor that reaps it later counts as ended).
nk_wait_gone() {
	nk_until "${2:-10}" "process $1 gone" nk_gone "$1"
}
nk_gone() { [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != [^Z]* ]]; }

# nk_wait_unlistened [SECONDS]: wait until nothing listens on $PORT.
nk_wait_unlistened() {
	nk_until "${1:-10}" "port $PORT not listening" nk_unlistened
}
nk_unlistened() { [ -z "$(ss -Hltn "sport = :$PORT")" ]; }

# nk_wait_fds NAME COUNT: wait until NAME's command has COUNT descriptors.
nk_wait_fds() {
	local pid
	pid=$(nk_child "$1") || return 1
	nk_until 10 "$1 with $2 descriptors" nk_fds_are "$pid" "$2"
}
nk_fds_are() { [ "$("$NKPEER" fds "$1")" = "$2" ]; }

# need_python: skip without python3; $PY is its path.
need_python() {
	command -v python3 >/dev/null || skip "python3 not installed"
	PY=$(python3 -c 'import sys; print(sys.executable)')
}

# Kill everything still running, one recorded PID at a time: a TERM, a
# second TERM (netkit closes everything at once), then KILL for the
# process and its children.
nk_teardown() {
	local name pid i
	for name in "${!NK_PID[@]}"; do
		pid=${NK_PID[$name]}
		kill -TERM "$pid" 2>/dev/null || continue
		for i in $(seq 25); do
			kill -0 "$pid" 2>/dev/null || break
			[ "$i" = 5 ] && kill -TERM "$pid" 2>/dev/null
			sleep 0.02
		done
		if kill -0 "$pid" 2>/dev/null; then
			pkill -KILL -P "$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null || true
	done
	NK_PID=()
}

teardown() {
	nk_teardown
}

# nk_child NAME: the PID of the command NAME runs under timeout(1) (for
# /proc measurements and signals meant for it alone).
nk_child() {
	local pid=${NK_PID[$1]} child deadline=$((SECONDS + 5))
	while :; do
		child=$(pgrep -P "$pid" | head -n 1)
		[ -n "$child" ] && { echo "$child"; return 0; }
		if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "no child process under $1 (pid $pid)" >&2
			return 1
		fi
		sleep 0.01
	done
}

# nk_signal NAME [SIGNAL]: send one signal (default TERM) to the command
# itself (as nk_kill does), failing when there is no such process.
nk_signal() {
	local child
	child=$(nk_child "$1") || return 1
	kill -"${2:-TERM}" "$child"
}

# nk_wait_count NAME REGEX COUNT [SECONDS]: wait until NAME's stderr has at
# least COUNT lines matching the extended REGEX.
nk_wait_count() {
	local name=$1 re=$2 count=$3 secs=${4:-10} file deadline n
	file=$(nk_err "$name")
	deadline=$((SECONDS + secs))
	while n=$(grep -Ec -- "$re" "$file" 2>/dev/null); [ "${n:-0}" -lt "$count" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$name: ${n:-0} lines matching '$re' after ${secs}s, want $count:" >&2
			tail -n 20 "$file" >&2
			return 1
		fi
		sleep 0.02
	done
}

# nk_wait_file_gone PATH [SECONDS]: wait until PATH no longer exists.
nk_wait_file_gone() {
	local deadline=$((SECONDS + ${2:-10}))
	while [ -e "$1" ] || [ -L "$1" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$1 still exists after ${2:-10}s" >&2
			return 1
		fi
		sleep 0.02
	done
}

# nk_built NAME [PATH]: the path of a program that make check builds in
# tests/ (a unit driver): PATH when given, else next to this file, else in
# the build tree (make check runs from the top build directory).
nk_built() {
	local t
	for t in "${2:-}" "$BATS_TEST_DIRNAME/$1" "$PWD/tests/$1"; do
		if [ -n "$t" ] && [ -x "$t" ]; then
			echo "$t"
			return 0
		fi
	done
	echo "$1 not built" >&2
	return 1
}
