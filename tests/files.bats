#!/usr/bin/env bats
#
# UNIX socket file safety: what listen -U and echo -U do with what is
# already at the path (a file, a symlink, a directory, a stale or a live
# socket), the mode of the socket file they make, and when they remove it.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR
}

# ident PATH: what must not change about PATH (not following a symlink):
# type, inode, links, size, mode, mtime and ctime to the nanosecond, and
# a symlink's target or a regular file's sha256.
ident() {
	local extra=
	if [ -L "$1" ]; then
		extra=$(readlink "$1")
	elif [ -f "$1" ]; then
		extra=$(nk_sha "$1")
	elif [ -d "$1" ]; then
		extra=$(ls -A "$1" | tr '\n' ' ')
	fi
	echo "$(stat -c '%F %i %h %s %A %y %z' "$1") $extra"
}

# refused CMD PATH: "netkit CMD -U PATH" exits 1 with one line naming
# PATH, within 5 s, and makes nothing.
refused() {
	run --separate-stderr timeout 5 "$NETKIT" "$1" -U "$2"
	[ "$status" -eq 1 ] && [ -z "$output" ] &&
	    [ "${#stderr_lines[@]}" -eq 1 ] &&
	    [[ "${stderr_lines[0]}" == "netkit: $1 $2: "* ]] ||
	    fail "$1 -U $2: status $status, stdout '$output', stderr '$stderr'"
}

# serves PATH: an echo at PATH answers.
serves() {
	run -0 timeout 5 "$NKPEER" script connect -U "$1" send:ping shut-wr read-all
	[ "$output" = ping ]
}

# start_echo NAME PATH [OPTIONS...]: an echo server on PATH, listening.
start_echo() {
	local name=$1 path=$2
	shift 2
	nk_start "$name" "$NETKIT" echo -U "$path" --events "$@"
	nk_wait_line "$name" '^event=server\.listening '
}

@test "a regular file at the path: refused by listen and echo, untouched (content, inode, times)" {
	local f=$T/file before
	printf 'precious\n' >"$f"
	touch -d '2001-02-03 04:05:06.789' "$f"
	before=$(ident "$f")
	refused listen "$f"
	refused echo "$f"
	[ "$(ident "$f")" = "$before" ]
	# An empty file and a fifo too.
	: >"$T/empty"
	mkfifo "$T/fifo"
	before=$(ident "$T/empty")$(ident "$T/fifo")
	refused listen "$T/empty"
	refused echo "$T/fifo"
	[ "$(ident "$T/empty")$(ident "$T/fifo")" = "$before" ]
}

@test "a symlink to a regular file: refused, neither the link nor its target touched" {
	local f=$T/target l=$T/link b1 b2
	printf 'target data\n' >"$f"
	ln -s "$f" "$l"
	b1=$(ident "$l")
	b2=$(ident "$f")
	refused listen "$l"
	refused echo "$l"
	[ "$(ident "$l")" = "$b1" ]
	[ "$(ident "$f")" = "$b2" ]
}

@test "a dangling symlink: refused, the link kept, its target not created" {
	local l=$T/dangling b
	ln -s "$T/nowhere.sock" "$l"
	b=$(ident "$l")
	refused listen "$l"
	refused echo "$l"
	[ "$(ident "$l")" = "$b" ]
	[ ! -e "$T/nowhere.sock" ] && [ ! -L "$T/nowhere.sock" ]
}

@test "a symlink to someone else's socket (live or stale): refused, socket and server untouched" {
	need_python
	local live=$T/live.sock stale=$T/stale.sock b1 b2 b3 b4
	start_echo other "$live"
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$stale"
	[ -S "$stale" ]
	ln -s "$live" "$T/to-live"
	ln -s "$stale" "$T/to-stale"
	b1=$(ident "$T/to-live") b2=$(ident "$live")
	b3=$(ident "$T/to-stale") b4=$(ident "$stale")
	refused listen "$T/to-live"
	refused echo "$T/to-live"
	refused listen "$T/to-stale"
	refused echo "$T/to-stale"
	[ "$(ident "$T/to-live")" = "$b1" ] && [ "$(ident "$live")" = "$b2" ]
	[ "$(ident "$T/to-stale")" = "$b3" ] && [ "$(ident "$stale")" = "$b4" ]
	serves "$live"
	[ "$(nk_events other server.connection | wc -l)" -eq 1 ]
}

@test "a directory at the path: refused, left as it was" {
	local d=$T/dir b
	mkdir "$d"
	: >"$d/inside"
	b=$(ident "$d")
	refused listen "$d"
	refused echo "$d"
	[ "$(ident "$d")" = "$b" ]
	[ -f "$d/inside" ]
}

@test "a stale socket (bound, never listened, left by python3) is replaced" {
	need_python
	local s=$T/stale.sock
	# Its maker gone...
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$s"
	[ -S "$s" ]
	start_echo srv "$s"
	serves "$s"
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$s" ]
	# ...or still running, holding it bound without listening.
	nk_fifo
	NK_STDIN=$FIFO nk_start holder "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
print("bound", file=sys.stderr, flush=True)
sys.stdin.read()
' "$s"
	nk_wait_line holder '^bound$'
	nk_start srv2 "$NETKIT" listen -U "$s" --events
	nk_wait_line srv2 '^event=server\.listening '
	run -0 timeout 5 "$NKPEER" script connect -U "$s" send:over shut-wr read-all
	nk_wait srv2
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out srv2)")" = over ]
	[ ! -e "$s" ]
	nk_fifo_close
}

@test "a stale socket left by a SIGKILLed listen is replaced" {
	local s=$T/l.sock
	nk_start old "$NETKIT" listen -U "$s" --events
	nk_wait_line old '^event=server\.listening '
	nk_signal old KILL
	nk_wait old
	[ -S "$s" ]
	nk_start new "$NETKIT" listen -U "$s" --events
	nk_wait_line new '^event=server\.listening '
	run -0 timeout 5 "$NKPEER" script connect -U "$s" send:fresh shut-wr read-all
	nk_wait new
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out new)")" = fresh ]
	[ -z "$(grep -v '^event=' "$(nk_err new)")" ]
	[ ! -e "$s" ]
}

@test "a live socket: EADDRINUSE for listen and echo, the live server unaffected" {
	local s=$T/live.sock b
	start_echo srv "$s"
	b=$(ident "$s")
	run --separate-stderr timeout 5 "$NETKIT" listen -U "$s"
	[ "$status" -eq 1 ] && [ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: listen $s: "*"(EADDRINUSE)" ]]
	run --separate-stderr timeout 5 "$NETKIT" echo -U "$s" --events
	[ "$status" -eq 1 ]
	printf '%s\n' "${stderr_lines[@]}" | grep -q '^event=server\.error code=EADDRINUSE '
	[ "$(ident "$s")" = "$b" ]
	serves "$s"
	serves "$s"
	# The probes were connections too, but nothing broke.
	nk_running srv
	[ -z "$(grep -v '^event=' "$(nk_err srv)")" ]
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$s" ]
}

@test "a live socket whose backlog is full: EADDRINUSE at once, no hang" {
	need_python
	local s=$T/busy.sock
	# A server that listens with the smallest backlog, fills it, and
	# never accepts.
	nk_fifo
	NK_STDIN=$FIFO nk_start busy "$PY" -c '
import socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(p)
s.listen(0)
held = []
while True:
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(p)
    except BlockingIOError:
        break
    held.append(c)
print("full", len(held), file=sys.stderr, flush=True)
sys.stdin.read()
' "$s"
	nk_wait_line busy '^full '
	run --separate-stderr timeout 5 "$NETKIT" echo -U "$s"
	[ "$status" -eq 1 ] ||
	    fail "echo -U on a live socket with a full backlog: status $status (124: hung), stderr '$stderr'"
	[[ "$stderr" == "netkit: echo $s: "*"(EADDRINUSE)" ]]
	[ -S "$s" ]
	nk_fifo_close
}

@test "the socket file respects the umask: 077 gives srwx------, 022 srwxr-xr-x" {
	local m s
	for m in 077:srwx------ 022:srwxr-xr-x 027:srwxr-x---; do
		s=$T/u${m%%:*}.sock
		nk_start "srv${m%%:*}" bash -c "umask ${m%%:*} && exec \"\$NETKIT\" echo -U '$s' --events"
		nk_wait_line "srv${m%%:*}" '^event=server\.listening '
		[ "$(stat -c %A "$s")" = "${m#*:}" ] ||
		    fail "umask ${m%%:*}: $(stat -c %A "$s"), want ${m#*:}"
		serves "$s"
	done
	# listen too.
	s=$T/l077.sock
	nk_start lsrv bash -c "umask 077 && exec \"\$NETKIT\" listen -U '$s' --events"
	nk_wait_line lsrv '^event=server\.listening '
	[ "$(stat -c %A "$s")" = srwx------ ]
}

@test "the socket file is removed at exit: SIGTERM (echo, listen -k) and the normal end (listen)" {
	local s=$T/e.sock
	start_echo srv "$s"
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$s" ]

	nk_start k "$NETKIT" listen -k -U "$s" --events
	nk_wait_line k '^event=server\.listening '
	run -0 timeout 5 "$NKPEER" script connect -U "$s" send:k shut-wr read-all
	nk_signal k
	nk_wait k
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$s" ]

	nk_start l "$NETKIT" listen -U "$s" --events
	nk_wait_line l '^event=server\.listening '
	run -0 timeout 5 "$NKPEER" script connect -U "$s" send:one shut-wr read-all
	nk_wait l
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out l)")" = one ]
	[ ! -e "$s" ]
}

@test "a socket file replaced by a regular file while running is not removed at exit" {
	local s=$T/e.sock
	start_echo srv "$s"
	rm "$s"
	printf 'not yours\n' >"$s"
	local b
	b=$(ident "$s")
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ "$(ident "$s")" = "$b" ]

	# listen, replaced while it relays its one connection, at its end.
	rm "$s"
	nk_fifo
	NK_STDIN=$FIFO nk_start l "$NETKIT" listen -U "$s" --events
	nk_wait_line l '^event=server\.listening '
	nk_start cli "$NKPEER" script connect -U "$s" read:3 send:x shut-wr read-all
	nk_wait_line l '^event=server\.connection '
	rm -f "$s"
	printf 'not yours either\n' >"$s"
	b=$(ident "$s")
	printf abc >&7
	nk_fifo_close
	nk_wait l
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out l)")" = x ]
	[ "$(ident "$s")" = "$b" ]
	nk_wait cli
	[ "$NK_STATUS" -eq 0 ]

	# listen -k, replaced by a symlink, at SIGTERM.
	rm "$s"
	nk_start l2 "$NETKIT" listen -k -U "$s" --events
	nk_wait_line l2 '^event=server\.listening '
	rm "$s"
	ln -s /etc/hostname "$s"
	b=$(ident "$s")
	nk_signal l2
	nk_wait l2
	[ "$NK_STATUS" -eq 0 ]
	[ "$(ident "$s")" = "$b" ]
}

@test "a socket file taken over by a second server is not removed by the first" {
	local s=$T/e.sock
	start_echo first "$s"
	rm "$s"
	start_echo second "$s"
	nk_signal first
	nk_wait first
	[ "$NK_STATUS" -eq 0 ]
	[ -S "$s" ]
	serves "$s"
	[ "$(nk_events second server.connection | wc -l)" -eq 1 ]
	nk_signal second
	nk_wait second
	[ ! -e "$s" ]
}

@test "an inherited --fd UNIX listener's file is not removed (echo, SIGTERM)" {
	need_python
	local s=$T/inh.sock
	nk_start srv "$PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[2])
s.listen(8)
os.dup2(s.fileno(), 3)
os.execv(sys.argv[1], [sys.argv[1], "echo", "--fd", "3", "--events"])
' "$NETKIT" "$s"
	nk_wait_line srv '^event=server\.listening '
	run nk_events srv server.listening
	assert_output "event=server.listening path=$s protocol=unix"
	serves "$s"
	local b
	b=$(ident "$s")
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ "$(ident "$s")" = "$b" ]
}
