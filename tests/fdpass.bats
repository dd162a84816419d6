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

# fd_pending MODE FILE: a UNIX socketpair (a, b) whose a side has a full
# send queue (b reads nothing yet); "timeout 30 netkit connect --fd 3
# --send-fd FILE --events" runs on a (as fd 3) with stdin /dev/null, so
# the descriptor, having no byte to ride with, is pending from stdin's EOF
# on. MODE term: b sends "ping", which must reach netkit's stdout (the
# loop still runs), then netkit gets SIGTERM and must exit 1. MODE read:
# b reads everything; the descriptor must arrive (SCM_RIGHTS) with one NUL
# byte after the queued bytes, FILE's content must read through it, and
# netkit must exit 0 once b closes. Each wait has a 10 s deadline.
fd_pending() {
	timeout -k 5 60 "$PY" - "$NETKIT" "$1" "$2" "$BATS_TEST_TMPDIR" <<'PY'
import os, signal, socket, subprocess, sys, time

netkit, mode, path, tmp = sys.argv[1:5]
out, err = os.path.join(tmp, "nk.out"), os.path.join(tmp, "nk.err")

def until(what, cond, secs=10):
    end = time.monotonic() + secs
    while not cond():
        if time.monotonic() > end:
            sys.exit("not within %d s: %s; netkit said:\n%s"
                     % (secs, what, open(err).read()))
        time.sleep(0.02)

a, b = socket.socketpair()
a.setblocking(False)
queued = 0
try:
    while True:
        queued += a.send(b"q" * 65536)
except BlockingIOError:
    pass
a.setblocking(True)
os.dup2(a.fileno(), 3)
a.close()
p = subprocess.Popen(["timeout", "30", netkit, "connect", "--fd", "3",
                      "--send-fd", path, "--events"], pass_fds=[3],
                     stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                     stderr=open(err, "wb"))
os.close(3)
kids = "/proc/%d/task/%d/children" % (p.pid, p.pid)
try:
    until("netkit started", lambda: open(kids).read().split())
    nk = int(open(kids).read().split()[0])
    until("socket.connect", lambda: "socket.connect" in open(err).read())
    if mode == "term":
        # Both checks are made (and reported) even when the first fails.
        failed = []
        b.sendall(b"ping")
        end = time.monotonic() + 10
        while open(out, "rb").read() != b"ping":
            if time.monotonic() > end:
                failed.append("the peer's bytes not on stdout within 10 s"
                              " while the descriptor waits")
                break
            time.sleep(0.02)
        os.kill(nk, signal.SIGTERM)
        try:
            status = p.wait(10)
            if status != 1:
                failed.append("netkit exited %d after SIGTERM, not 1" % status)
        except subprocess.TimeoutExpired:
            failed.append("netkit still running 10 s after SIGTERM")
        if failed:
            sys.exit("\n".join(failed))
    else:
        data, fds = b"", []
        b.settimeout(10)
        while len(data) < queued + 1:
            chunk, got, _, _ = socket.recv_fds(b, 1 << 20, 4)
            if not chunk:
                sys.exit("EOF after %d bytes" % len(data))
            data += chunk
            fds += got
        if data != b"q" * queued + b"\0":
            sys.exit("wrong bytes: %d of them, last %r" % (len(data), data[-1:]))
        if len(fds) != 1:
            sys.exit("%d descriptors arrived, want 1" % len(fds))
        with os.fdopen(fds[0], "rb") as f:
            if f.read() != open(path, "rb").read():
                sys.exit("the descriptor reads something else than the file")
        b.close()
        try:
            status = p.wait(10)
        except subprocess.TimeoutExpired:
            sys.exit("netkit still running 10 s after the peer closed")
        if status != 0:
            sys.exit("netkit exited %d, not 0:\n%s" % (status, open(err).read()))
finally:
    if p.poll() is None:
        try:
            os.kill(nk, signal.SIGKILL)
        except (NameError, ProcessLookupError):
            p.kill()
        p.wait()
print("ok")
PY
}

@test "--send-fd: a pending descriptor never blocks the loop: the peer's bytes still arrive, SIGTERM ends it (exit 1)" {
	need_python
	printf 'the content of the file\n' >"$BATS_TEST_TMPDIR/f"
	run fd_pending term "$BATS_TEST_TMPDIR/f"
	assert_success
	assert_output ok
}

@test "--send-fd: a pending descriptor goes once the peer reads, with one NUL byte; the file reads through it" {
	need_python
	printf 'the content of the file\n' >"$BATS_TEST_TMPDIR/f"
	run fd_pending read "$BATS_TEST_TMPDIR/f"
	assert_success
	assert_output ok
}
