#!/usr/bin/env bats
#
# netkit echo: a concurrent, flow-controlled echo server.

load helpers

bats_require_minimum_version 1.5.0

# fifo_client NAME ADDR...: start "nc -N ADDR..." with its stdin from a
# fifo; the test's end of the fifo is in $FIFO_FD (close it to send EOF).
# The client does not inherit the ends of earlier fifo clients, so closing
# one sends its EOF whatever was started after it.
FIFO_FDS=()
fifo_client() {
	local name=$1 fifo=$BATS_TEST_TMPDIR/$1.fifo fd closes=
	shift
	mkfifo "$fifo"
	for fd in "${FIFO_FDS[@]}"; do
		closes+=" $fd>&-"
	done
	eval "NK_STDIN=\$fifo nk_start \"\$name\" nc -N \"\$@\" $closes"
	exec {FIFO_FD}>"$fifo"
	FIFO_FDS+=("$FIFO_FD")
}

# The stderr lines of NAME that are not event lines.
non_event_lines() { grep -v '^event=' "$(nk_err "$1")" || true; }

# usage_error ARGS...: "netkit echo ARGS" is a usage error: exit 2, one
# line on stderr, nothing on stdout.
usage_error() {
	run --separate-stderr timeout 5 "$NETKIT" echo "$@"
	[ "$status" -eq 2 ] && [ -z "$output" ] &&
	    [ "${#stderr_lines[@]}" -eq 1 ] &&
	    [[ "${stderr_lines[0]}" == "netkit: echo: "* ]] ||
	    fail "echo $(printf "'%s' " "$@"): status $status, stdout '$output', stderr '$stderr'"
}

@test "echo: nc -N gets hello back; netkit connect too; stdout stays empty" {
	nk_echo_server srv
	run -0 bash -c "printf hello | timeout 10 nc -N 127.0.0.1 $PORT"
	[ "$output" = hello ]
	run -0 bash -c "printf hello | timeout 10 \"\$NETKIT\" connect 127.0.0.1 $PORT"
	[ "$output" = hello ]
	nk_wait_count srv '^event=socket\.close ' 2
	[ "$(nk_events srv socket.close | grep -c 'bytes_read=5 bytes_written=5')" -eq 2 ]
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -s "$(nk_out srv)" ]
	[ -z "$(non_event_lines srv)" ]
}

@test "echo: 1 MiB of binary data comes back intact through netkit connect" {
	nk_echo_server srv
	"$NKPEER" rand 1048576 5 > "$BATS_TEST_TMPDIR/in"
	timeout 10 "$NETKIT" connect 127.0.0.1 "$PORT" < "$BATS_TEST_TMPDIR/in" \
	    > "$BATS_TEST_TMPDIR/got"
	[ "$(nk_sha "$BATS_TEST_TMPDIR/got")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
	# The same through nkpeer, which writes it all before reading.
	run -0 bash -c "timeout 10 \"\$NKPEER\" script connect 127.0.0.1 $PORT \
	    sendrand:100000:9 shut-wr read-all expect-eof | sha256sum"
	[ "${output%% *}" = "$("$NKPEER" rand 100000 9 | sha256sum | cut -d' ' -f1)" ]
}

@test "echo: 200 concurrent clients of 64 KiB each all get their own bytes" {
	nk_echo_server srv
	run -0 timeout 30 "$NKPEER" clients 127.0.0.1 "$PORT" 200 65536
	[ "$output" = "ok 200 65536" ]
	nk_wait_count srv '^event=socket\.close ' 200
	[ "$(nk_events srv server.connection | wc -l)" -eq 200 ]
	[ "$(nk_events srv socket.close |
	    grep -c 'had_error=false bytes_read=65536 bytes_written=65536$')" -eq 200 ]
	[ "$(nk_events srv socket.end | wc -l)" -eq 200 ]
}

@test "echo: 200 clients with EVENT_NOEPOLL=1 (libevent's poll backend)" {
	EVENT_NOEPOLL=1 EVENT_SHOW_METHOD=1 nk_echo_server srv
	grep -q 'libevent using: \(poll\|select\)' "$(nk_err srv)"
	run -0 timeout 30 "$NKPEER" clients 127.0.0.1 "$PORT" 200 65536
	[ "$output" = "ok 200 65536" ]
	nk_wait_count srv '^event=socket\.close ' 200
	[ "$(nk_events srv socket.close |
	    grep -c 'had_error=false bytes_read=65536 bytes_written=65536$')" -eq 200 ]
}

@test "echo -U: 50 clients over a UNIX socket; the socket file goes at exit" {
	local sock=$BATS_TEST_TMPDIR/e.sock
	nk_start srv "$NETKIT" echo -U "$sock" --events
	nk_wait_line srv '^event=server\.listening '
	[ "$(nk_events srv server.listening)" = "event=server.listening path=$sock protocol=unix" ]
	[ -S "$sock" ]
	run -0 timeout 30 "$NKPEER" clients -U "$sock" 50 65536
	[ "$output" = "ok 50 65536" ]
	nk_wait_count srv '^event=socket\.close ' 50
	[ "$(nk_events srv socket.close |
	    grep -c 'had_error=false bytes_read=65536 bytes_written=65536$')" -eq 50 ]
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$sock" ]
}

@test "echo --events: listening, connection ids and counts, data, end, close" {
	nk_echo_server srv
	nk_events srv server.listening |
	    grep -Eq "^event=server\.listening address=[^ ]+ port=$PORT family=IPv[46] protocol=tcp\$"

	fifo_client a 127.0.0.1 "$PORT"
	local fa=$FIFO_FD
	nk_wait_line srv '^event=server\.connection id=1 '
	fifo_client b 127.0.0.1 "$PORT"
	local fb=$FIFO_FD
	nk_wait_line srv '^event=server\.connection id=2 '
	printf 'a\n' >&"$fa"
	exec {fa}>&-
	nk_wait a
	[ "$NK_STATUS" -eq 0 ] && [ "$(cat "$(nk_out a)")" = a ]
	nk_wait_line srv '^event=socket\.close id=1 '
	run -0 timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    send:ccc shut-wr read-all expect-eof
	[ "$output" = ccc ]
	printf 'bb\n' >&"$fb"
	exec {fb}>&-
	nk_wait b
	[ "$NK_STATUS" -eq 0 ] && [ "$(cat "$(nk_out b)")" = bb ]
	nk_wait_line srv '^event=socket\.close id=2 '
	run -0 timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    send:dddd shut-wr read:4 expect-eof
	[ "$output" = dddd ]
	nk_wait_line srv '^event=socket\.close id=4 '

	# connections= counts the one just accepted: up, up, after one left, alone.
	[ "$(nk_events srv server.connection |
	    sed -E 's/.* id=([0-9]+) remote=[^ ]+:[0-9]+ connections=([0-9]+)$/\1:\2/' |
	    xargs)" = "1:1 2:2 3:2 4:1" ]
	# Each socket: its data, its end, then its close with the byte counts.
	local id bytes
	for id in 1 2 3 4; do
		bytes=$(( id == 1 ? 2 : id == 2 ? 3 : id ))
		[ "$(grep -E "^event=socket\.[a-z]+ id=$id( |\$)" "$(nk_err srv)" |
		    cut -d' ' -f1 | uniq | xargs)" = \
		    "event=socket.data event=socket.end event=socket.close" ]
		[ "$(nk_events srv socket.data | grep "id=$id " |
		    awk -F'bytes=' '{ s += $2 } END { print s + 0 }')" -eq "$bytes" ]
		nk_events srv socket.end | grep -qx "event=socket.end id=$id"
		nk_events srv socket.close | grep -qx "event=socket.close id=$id had_error=false bytes_read=$bytes bytes_written=$bytes"
	done
	# No server.close while the server still listens.
	[ -z "$(nk_events srv server.close)" ]
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ "$(tail -n 1 "$(nk_err srv)")" = "event=server.close" ]
	[ "$(nk_events srv server.close | wc -l)" -eq 1 ]
}

@test "echo --events: a client's reset is socket.error ECONNRESET, then close" {
	nk_echo_server srv
	run -0 timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    send:xyz read:3 rst
	[ "$output" = xyz ]
	nk_wait_line srv '^event=socket\.close id=1 '
	nk_events srv socket.error | grep -qx 'event=socket.error id=1 code=ECONNRESET message="Connection reset by peer"'
	nk_events srv socket.close | grep -qx 'event=socket.close id=1 had_error=true bytes_read=3 bytes_written=3'
	# socket.close is the last event of the socket.
	[ "$(grep -E ' id=1( |$)' "$(nk_err srv)" | tail -n 1 | cut -d' ' -f1)" = event=socket.close ]
}

@test "echo --events=json: every line is a JSON object with typed values" {
	local py
	if command -v python3 > /dev/null; then
		py=python3
	elif ! command -v node > /dev/null; then
		skip "neither python3 nor node is installed"
	fi
	nk_start srv "$NETKIT" echo -p 0 --events=json
	# (nk_port's pattern does not match the JSON form: '"event":"'.)
	nk_wait_line srv '^\{"event":"server\.listening"'
	PORT=$(sed -nE '1s/.*"port":([0-9]+)[,}].*/\1/p' "$(nk_err srv)")
	[ -n "$PORT" ] && [ "$PORT" -gt 0 ]
	run -0 timeout 10 "$NKPEER" clients 127.0.0.1 "$PORT" 3 1000
	run -0 timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" send:x read:1 rst
	nk_wait_count srv '"socket\.close"' 4
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	local check='
	    const lines = require("fs").readFileSync(process.argv[1], "utf8").trimEnd().split("\n");
	    const num = ["port", "id", "connections", "bytes", "bytes_read", "bytes_written", "fd"];
	    const seen = new Set();
	    for (const l of lines) {
	        const o = JSON.parse(l);
	        if (Object.keys(o)[0] !== "event") throw new Error("event not first: " + l);
	        seen.add(o.event);
	        for (const [k, v] of Object.entries(o)) {
	            const want = num.includes(k) ? "number" : k === "had_error" ? "boolean" : "string";
	            if (typeof v !== want || (want === "number" && !Number.isInteger(v)))
	                throw new Error(k + " is not a " + want + ": " + l);
	        }
	    }
	    for (const e of ["server.listening", "server.connection", "socket.data", "socket.end",
	        "socket.error", "socket.close", "server.close"])
	        if (!seen.has(e)) throw new Error("no " + e + " event");
	    const c = lines.map(JSON.parse).filter(o => o.event === "socket.close");
	    if (c.filter(o => o.had_error === false && o.bytes_read === 1000 && o.bytes_written === 1000).length !== 3 ||
	        c.filter(o => o.had_error === true).length !== 1)
	        throw new Error("wrong socket.close events");
	    if (lines[lines.length - 1] !== "{\"event\":\"server.close\"}") throw new Error("server.close not last");'
	if [ -n "$py" ]; then
		python3 - "$(nk_err srv)" <<-'EOF'
		import json, sys
		lines = open(sys.argv[1]).read().rstrip("\n").split("\n")
		num = {"port", "id", "connections", "bytes", "bytes_read", "bytes_written", "fd"}
		seen = set()
		objs = []
		for l in lines:
		    o = json.loads(l)
		    assert isinstance(o, dict) and list(o)[0] == "event", l
		    seen.add(o["event"])
		    objs.append(o)
		    for k, v in o.items():
		        if k in num:
		            assert type(v) is int, (k, l)
		        elif k == "had_error":
		            assert type(v) is bool, (k, l)
		        else:
		            assert type(v) is str, (k, l)
		for e in ("server.listening", "server.connection", "socket.data", "socket.end",
		          "socket.error", "socket.close", "server.close"):
		    assert e in seen, "no " + e + " event"
		c = [o for o in objs if o["event"] == "socket.close"]
		assert len([o for o in c if o["had_error"] is False and o["bytes_read"] == 1000
		            and o["bytes_written"] == 1000]) == 3, c
		assert len([o for o in c if o["had_error"] is True]) == 1, c
		assert objs[-1] == {"event": "server.close"}, objs[-1]
		EOF
	fi
	if command -v node > /dev/null; then
		node -e "$check" "$(nk_err srv)"
	fi
}

@test "echo: a client that never reads neither grows the server nor slows others" {
	nk_echo_server srv
	local pid rss0 rss1 n
	pid=$(nk_child srv)
	rss0=$("$NKPEER" rss "$pid")
	# It writes until SIGTERM (50 s at most).
	nk_start noread "$NKPEER" noread 127.0.0.1 "$PORT" 50
	nk_wait_line srv '^event=socket\.data id=1 '
	# Others still get their echo meanwhile: done while it still writes.
	run -0 timeout 40 "$NKPEER" -T 30 clients 127.0.0.1 "$PORT" 20 262144
	[ "$output" = "ok 20 262144" ]
	nk_running noread
	rss1=$("$NKPEER" rss "$pid")
	[ "$((rss1 - rss0))" -lt 20480 ] || fail "server RSS grew from $rss0 to $rss1 KiB"
	nk_signal noread TERM
	nk_wait noread
	[ "$NK_STATUS" -eq 0 ]
	n=$(cat "$(nk_out noread)")
	# Bounded by the socket buffers and the echo backlog, not by time.
	[ "$n" -gt 0 ] && [ "$n" -lt $((64 * 1024 * 1024)) ] ||
	    fail "the non-reading client wrote $n bytes"
	# It went away with unread data: a reset, and the server lets it go.
	nk_wait_line srv '^event=socket\.close id=1 had_error=true '
	nk_running srv
	run -0 timeout 10 "$NKPEER" clients 127.0.0.1 "$PORT" 1 1000
}

@test "echo: SIGTERM mid-transfer stops accepting, finishes the client, exits 0" {
	nk_echo_server srv
	"$NKPEER" rand 524288 11 > "$BATS_TEST_TMPDIR/in"
	fifo_client a 127.0.0.1 "$PORT"
	local fa=$FIFO_FD nfds
	head -c 262144 "$BATS_TEST_TMPDIR/in" >&"$fa"
	nk_wait_size "$(nk_out a)" 262144
	nfds=$("$NKPEER" fds "$(nk_child srv)")
	nk_signal srv
	# The listening socket closes: one descriptor fewer, new connects refused.
	nk_wait_fds srv $((nfds - 1))
	run -1 timeout 10 "$NKPEER" script connect 127.0.0.1 "$PORT" send:x
	[[ "$output" == *ECONNREFUSED* ]]
	[ -z "$(nk_events srv server.close)" ]
	nk_running srv
	tail -c +262145 "$BATS_TEST_TMPDIR/in" >&"$fa"
	exec {fa}>&-
	nk_wait a
	[ "$NK_STATUS" -eq 0 ]
	[ "$(nk_sha "$(nk_out a)")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	nk_events srv socket.close | grep -qx 'event=socket.close id=1 had_error=false bytes_read=524288 bytes_written=524288'
	[ "$(tail -n 1 "$(nk_err srv)")" = "event=server.close" ]
	[ "$(nk_events srv server.connection | wc -l)" -eq 1 ]
}

@test "echo -U: SIGTERM removes the socket at once, the client still finishes" {
	local sock=$BATS_TEST_TMPDIR/e.sock
	nk_start srv "$NETKIT" echo -U "$sock" --events
	nk_wait_line srv '^event=server\.listening '
	"$NKPEER" rand 300000 12 > "$BATS_TEST_TMPDIR/in"
	fifo_client a -U "$sock"
	local fa=$FIFO_FD
	head -c 100000 "$BATS_TEST_TMPDIR/in" >&"$fa"
	nk_wait_size "$(nk_out a)" 100000
	nk_signal srv
	nk_wait_file_gone "$sock"
	run -1 timeout 10 "$NKPEER" script connect -U "$sock" send:x
	[[ "$output" == *ENOENT* ]]
	nk_running srv
	tail -c +100001 "$BATS_TEST_TMPDIR/in" >&"$fa"
	exec {fa}>&-
	nk_wait a
	[ "$NK_STATUS" -eq 0 ]
	[ "$(nk_sha "$(nk_out a)")" = "$(nk_sha "$BATS_TEST_TMPDIR/in")" ]
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ "$(tail -n 1 "$(nk_err srv)")" = "event=server.close" ]
}

@test "echo: a second SIGTERM closes every connection and exits 1" {
	nk_echo_server srv
	# A client that never ends its side: only the server can end this.
	nk_start a "$NKPEER" script connect 127.0.0.1 "$PORT" 'send:one\n' read:4 \
	    expect-eof
	local nfds
	nk_wait_size "$(nk_out a)" 4
	nfds=$("$NKPEER" fds "$(nk_child srv)")
	nk_signal srv
	nk_wait_fds srv $((nfds - 1))
	nk_running srv && nk_running a
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 1 ]
	nk_wait a
	[ "$NK_STATUS" -eq 0 ]
	[ "$(cat "$(nk_out a)")" = one ]
	nk_events srv socket.close | grep -q '^event=socket.close id=1 '
}

@test "echo -U: a stale socket file is replaced" {
	local sock=$BATS_TEST_TMPDIR/e.sock
	nk_start old "$NETKIT" echo -U "$sock" --events
	nk_wait_line old '^event=server\.listening '
	nk_signal old KILL
	nk_wait old
	[ -S "$sock" ]
	run -1 timeout 10 "$NKPEER" script connect -U "$sock" send:x
	[[ "$output" == *ECONNREFUSED* ]]
	nk_start srv "$NETKIT" echo -U "$sock" --events
	nk_wait_line srv '^event=server\.listening '
	run -0 timeout 10 "$NKPEER" script connect -U "$sock" send:fresh shut-wr read-all
	[ "$output" = fresh ]
	[ -z "$(non_event_lines srv)" ]
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$sock" ]
}

@test "echo -U: a regular file at the path is refused and left intact" {
	local path=$BATS_TEST_TMPDIR/not-a-socket sum
	printf 'precious data\n' > "$path"
	sum=$(nk_sha "$path")
	run --separate-stderr timeout 10 "$NETKIT" echo -U "$path"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: echo $path: "* ]]
	[ -f "$path" ] && [ ! -L "$path" ]
	[ "$(nk_sha "$path")" = "$sum" ]
}

@test "echo -U: a live server at the path: EADDRINUSE, the first keeps serving" {
	local sock=$BATS_TEST_TMPDIR/e.sock
	nk_start srv "$NETKIT" echo -U "$sock" --events
	nk_wait_line srv '^event=server\.listening '
	run --separate-stderr timeout 10 "$NETKIT" echo -U "$sock"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: echo $sock: "*"(EADDRINUSE)" ]]
	[ -S "$sock" ]
	run -0 timeout 10 "$NKPEER" script connect -U "$sock" send:still shut-wr read-all
	[ "$output" = still ]
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$sock" ]
}

@test "echo: a TCP port in use is EADDRINUSE: exit 1, one line, server.error" {
	nk_echo_server srv
	run --separate-stderr timeout 10 "$NETKIT" echo -p "$PORT"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: echo "*":$PORT: "*"(EADDRINUSE)" ]]
	run --separate-stderr timeout 10 "$NETKIT" echo --port "$PORT" --events
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	printf '%s\n' "${stderr_lines[@]}" | grep -Eq '^event=server\.error code=EADDRINUSE message='
	[ "$(printf '%s\n' "${stderr_lines[@]}" | grep -v '^event=' | grep -c '(EADDRINUSE)$')" -eq 1 ]
	[ -z "$(printf '%s\n' "${stderr_lines[@]}" | grep '^event=server\.listening')" ]
	# The first server is untouched.
	run -0 timeout 10 "$NKPEER" clients 127.0.0.1 "$PORT" 1 1000
}

@test "echo --retry=1: one more try a second later, then EADDRINUSE" {
	nk_echo_server srv
	local t0 ms
	t0=$(date +%s%N)
	run --separate-stderr timeout 60 "$NETKIT" echo -p "$PORT" --retry=1
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$status" -eq 1 ]
	# The retry waited its second (a lower bound only: how much longer
	# depends on the machine, and the count of tries is checked below).
	[ "$ms" -ge 900 ] || fail "took ${ms} ms"
	# Exactly one retry: one warning for it, then the error.
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ "${stderr_lines[0]}" == *"address in use, retrying" ]]
	[[ "${stderr_lines[1]}" == *"(EADDRINUSE)" ]]
	# --retry=0 makes no retry (so no wait): no warning, just the error.
	run --separate-stderr timeout 60 "$NETKIT" echo -p "$PORT" --retry=0
	[ "$status" -eq 1 ] && [ "${#stderr_lines[@]}" -eq 1 ]
	[[ "${stderr_lines[0]}" == *"(EADDRINUSE)" ]]
	# -q drops the warning of a retry, not the error.
	run --separate-stderr timeout 60 "$NETKIT" echo -q -p "$PORT" --retry=1
	[ "$status" -eq 1 ] && [ "${#stderr_lines[@]}" -eq 1 ]
	[[ "${stderr_lines[0]}" == *"(EADDRINUSE)" ]]
}

@test "echo --retry: the port freed meanwhile is taken on a retry" {
	nk_echo_server first
	local port=$PORT
	nk_start second "$NETKIT" echo -p "$port" --retry=5 --events
	nk_wait_line second 'retrying'
	nk_signal first
	nk_wait first
	[ "$NK_STATUS" -eq 0 ]
	[ "$(nk_port second)" = "$port" ]
	run -0 timeout 10 "$NKPEER" clients 127.0.0.1 "$port" 2 4096
	[ "$(nk_events second server.error)" = "" ]
}

@test "echo: usage errors exit 2 with one line on stderr" {
	usage_error
	usage_error --events
	usage_error -U "$BATS_TEST_TMPDIR/x.sock" -p 0
	usage_error -p 0 -U "$BATS_TEST_TMPDIR/x.sock"
	usage_error -U "$BATS_TEST_TMPDIR/x.sock" -H 127.0.0.1
	usage_error -p 0 extra
	usage_error -p 0 127.0.0.1 0
	usage_error --bogus -p 0
	usage_error -p 0 -z
	usage_error -p
	local bad
	for bad in abc 65536 -1 +80 " 80" "80 " 0x50 "" 99999 1e3 008080; do
		usage_error -p "$bad"
		usage_error "--port=$bad"
	done
	[ ! -e "$BATS_TEST_TMPDIR/x.sock" ]
}

@test "echo: port forms that are valid are accepted (--port, leading zeros within 5 digits)" {
	nk_start srv "$NETKIT" echo --port 00000 --events
	PORT=$(nk_port srv)
	[ "$PORT" -gt 0 ]
	run -0 timeout 10 "$NKPEER" clients 127.0.0.1 "$PORT" 1 10
}

@test "echo: out of descriptors it keeps serving, does not spin, and recovers" {
	command -v python3 >/dev/null || skip "python3 not installed"
	nk_start srv bash -c "ulimit -n 40 && exec '$NETKIT' echo -p 0 --events"
	PORT=$(nk_port srv)
	local pid
	pid=$(nk_child srv)
	run timeout 30 python3 - "$PORT" "$pid" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
held = []
for i in range(80):                       # far more than 40 descriptors
    held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
time.sleep(0.3)
c0 = cpu()
time.sleep(1.0)
spent = cpu() - c0
assert spent < 0.3, "server used %.2fs of CPU in 1s while out of descriptors" % spent
# An early client still gets its echo while the server is full.
held[0].sendall(b"still served")
assert held[0].recv(64) == b"still served"
for s in held:                            # free the descriptors
    s.close()
deadline = time.time() + 10
while True:                               # a new client is served again
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"recovered")
        s.settimeout(2)
        if s.recv(64) == b"recovered":
            break
    except OSError:
        pass
    assert time.time() < deadline, "no echo 10s after descriptors were freed"
    time.sleep(0.1)
print("ok %.3f" % spent)
PY
	assert_success
	assert_output --regexp '^ok '
	# One warning per episode of running out, not one per attempt.
	local warnings
	warnings=$(grep -c 'EMFILE' "$(nk_err srv)")
	[ "$warnings" -ge 1 ] && [ "$warnings" -le 5 ]
}
