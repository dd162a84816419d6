#!/usr/bin/env bats
#
# forward (SPEC.md, "forward"; the termination rules are the table at the
# top of src/cmd-forward.c): FROM as a TCP port, a UNIX socket and an
# inherited descriptor (systemd-socket-activate); TO as TCP, UNIX and
# IPv6; 64 MiB each way at once; each half-close order; a reset on either
# side; TO down, then up; -m, -t, --keepalive, -s; --tls in front of a
# plain server (openssl s_client) and clients whose handshake fails,
# --tls-to to openssl s_server and to servers that do not verify, both at
# once; --proxy through microsocks; --events=json; 200 pairs at once and
# the descriptors they leave; SIGTERM once and twice; usage errors.
#
# The peers behind and in front of the forwarder are netkit's echo, listen
# and connect, and tests/nkpeer.c (scripted, with exact byte counts, FINs
# and resets). Peers that cannot bind port 0 (openssl s_server, microsocks,
# systemd-socket-activate) get a port that netkit bound and released, and
# another one when something else took it first.
#
# Every background process is started without bats' descriptor 3.
#
# stderr is set by bats' run --separate-stderr.
# shellcheck disable=SC2154

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export CERTS=$BATS_FILE_TMPDIR/certs
	bash "$BATS_TEST_DIRNAME/tls-certs" "$CERTS"
	SERVER_FP=$(openssl x509 -noout -fingerprint -sha256 \
	    -in "$CERTS/server.pem" | sed 's/.*=//')
	export SERVER_FP
}

setup() {
	T=$BATS_TEST_TMPDIR
	HELP="(see 'netkit forward --help')"
}

# fstart NAME CMD...: nk_start, without bats' descriptor 3.
fstart() { nk_start "$@" 3>&-; }

# fwd NAME OPTIONS... FROM TO: netkit forward --events from a TCP FROM;
# sets $FPORT from its server.listening event.
fwd() {
	local name=$1
	shift
	fstart "$name" "$NETKIT" forward --events "$@"
	FPORT=$(nk_port "$name") || return 1
}

# echo_up NAME [OPTIONS...]: netkit echo on 127.0.0.1 port 0; sets $UP.
echo_up() {
	local name=$1
	shift
	nk_echo_server "$name" -H 127.0.0.1 "$@" 3>&- || return 1
	UP=$PORT
}

# peer_up NAME ACTION...: a scripted peer (nkpeer) listening on
# 127.0.0.1 port 0, one connection; sets $UP.
peer_up() {
	nk_peer_listen "$@" 3>&- || return 1
	UP=$PORT
}

# client NAME ACTION...: a scripted client (nkpeer) of the forwarder.
client() {
	local name=$1
	shift
	fstart "$name" "$NKPEER" -T 30 script connect 127.0.0.1 "$FPORT" "$@"
}

# free_port: set $PORT to a loopback port that netkit just bound and
# released.
free_port() {
	fstart probe "$NETKIT" echo --events -H 127.0.0.1 -p 0
	PORT=$(nk_port probe) || return 1
	nk_kill probe
	nk_wait probe 10
}

# listening PORT: whether something listens on TCP PORT.
listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }
up_or_gone() { listening "$2" || ! nk_running "$1"; }

# on_free_port NAME CMD...: start a peer that cannot bind port 0 on a
# free port ("@PORT@" in CMD) and wait until it listens; when it exits
# first (the port was taken meanwhile), try another, three times in all.
# Sets $PORT.
on_free_port() {
	local name=$1 try a args
	shift
	for try in 1 2 3; do
		free_port || return 1
		args=()
		for a in "$@"; do
			args+=("${a//@PORT@/$PORT}")
		done
		fstart "$name" "${args[@]}"
		nk_until 20 "$name listening on $PORT" up_or_gone "$name" "$PORT" ||
			return 1
		nk_running "$name" && return 0
		echo "$name exited before listening on $PORT (try $try):" >&2
		cat "$(nk_err "$name")" >&2
		nk_wait "$name" 5
	done
	return 1
}

# errors NAME: NAME's stderr lines that are not events.
errors() { grep -v '^event=' "$(nk_err "$1")" || true; }

# count NAME REGEX: how many of NAME's stderr lines match REGEX.
count() { grep -Ec -- "$2" "$(nk_err "$1")" || true; }

# closed NAME ID: wait for the socket.close of pair ID, and set $CLOSE to
# the one such line (failing if there are more).
closed() {
	nk_wait_line "$1" "^event=socket\.close id=$2 " 20 || return 1
	CLOSE=$(grep -E "^event=socket\.close id=$2 " "$(nk_err "$1")")
	[ "$(printf '%s\n' "$CLOSE" | wc -l)" = 1 ] || {
		echo "more than one socket.close for id=$2:" >&2
		cat "$(nk_err "$1")" >&2
		return 1
	}
}

# rand_sha BYTES SEED: the sha256 of nkpeer's sendrand:BYTES:SEED.
rand_sha() { "$NKPEER" rand "$1" "$2" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------------
# FROM and TO: TCP, UNIX, an inherited descriptor

@test "TCP to TCP: bytes both ways, the events in order, one socket.close with bytes_up and bytes_down, no socket.data" {
	peer_up up read:11 send:from-target! shut-wr expect-eof
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	client cli send:from-client shut-wr read-all
	nk_ok cli
	nk_ok up
	assert_equal "$(cat "$(nk_out up)")" "from-client"
	assert_equal "$(cat "$(nk_out cli)")" "from-target!"
	closed fwd 1
	run cat "$(nk_err fwd)"
	assert_equal "${#lines[@]}" 5
	assert_line --index 0 "event=server.listening address=127.0.0.1 port=$FPORT family=IPv4 protocol=tcp"
	assert_line --index 1 --regexp '^event=server\.connection id=1 remote=127\.0\.0\.1:[0-9]+ connections=1$'
	assert_line --index 2 "event=socket.attempt id=1 remote=127.0.0.1:$UP"
	assert_line --index 3 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$UP\$"
	assert_line --index 4 "event=socket.close id=1 had_error=false bytes_read=11 bytes_written=12 bytes_up=11 bytes_down=12"
	# Forwarding goes on after a pair.
	nk_running fwd
}

@test "TCP to UNIX (unix:PATH, netkit echo -U): 100000 bytes back, socket.connect names the path" {
	fstart up "$NETKIT" echo --events -U "$T/up.sock"
	nk_wait_line up '^event=server\.listening '
	fwd fwd 127.0.0.1:0 "unix:$T/up.sock"
	nk_random "$T/in" 100000
	NK_STDIN=$T/in fstart cli "$NETKIT" connect 127.0.0.1 "$FPORT"
	nk_ok cli
	cmp "$T/in" "$(nk_out cli)"
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=100000 bytes_written=100000 bytes_up=100000 bytes_down=100000"
	run nk_events fwd socket.attempt
	assert_output "event=socket.attempt id=1 remote=$T/up.sock"
	run nk_events fwd socket.connect
	assert_output "event=socket.connect id=1 local=\"\" remote=$T/up.sock"
	nk_wait_line up '^event=socket\.close id=1 '
	run nk_events up socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=100000 bytes_written=100000"
}

@test "UNIX to TCP (FROM unix:PATH, netkit connect -U): bytes back; SIGTERM removes the socket file, exit 0" {
	echo_up up
	fstart fwd "$NETKIT" forward --events "unix:$T/f.sock" "127.0.0.1:$UP"
	nk_wait_line fwd '^event=server\.listening '
	run nk_events fwd server.listening
	assert_output "event=server.listening path=$T/f.sock protocol=unix"
	[ -S "$T/f.sock" ]
	nk_random "$T/in" 100000
	NK_STDIN=$T/in fstart cli "$NETKIT" connect -U "$T/f.sock"
	nk_ok cli
	cmp "$T/in" "$(nk_out cli)"
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=100000 bytes_written=100000 bytes_up=100000 bytes_down=100000"
	run nk_events fwd server.connection
	assert_output "event=server.connection id=1 remote=$T/f.sock connections=1"
	run nk_events fwd socket.connect
	assert_output --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$UP\$"
	nk_signal fwd TERM
	nk_ok fwd
	[ ! -e "$T/f.sock" ]
	assert_equal "$(tail -n 1 "$(nk_err fwd)")" "event=server.close"
}

@test "FROM unix:PATH follows listen's file rules: a regular file is refused and left intact, a stale socket is replaced, a live one is EADDRINUSE" {
	need_python
	printf 'keep me\n' >"$T/reg"
	run --separate-stderr timeout 10 "$NETKIT" forward "unix:$T/reg" 127.0.0.1:9
	assert_equal "$status" 1
	assert_equal "$stderr" "netkit: forward $T/reg: File exists (EEXIST)"
	assert_equal "$(cat "$T/reg")" "keep me"

	# A socket file nobody listens on.
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale.sock"
	[ -S "$T/stale.sock" ]
	echo_up up
	fstart fwd "$NETKIT" forward --events "unix:$T/stale.sock" "127.0.0.1:$UP"
	nk_wait_line fwd '^event=server\.listening '
	run timeout 20 "$NKPEER" script connect -U "$T/stale.sock" send:fresh read:5 shut-wr expect-eof
	assert_success
	assert_output fresh

	# The path is in use by the forwarder: a second one gets EADDRINUSE.
	run --separate-stderr timeout 10 "$NETKIT" forward "unix:$T/stale.sock" "127.0.0.1:$UP"
	assert_equal "$status" 1
	assert_equal "$stderr" "netkit: forward $T/stale.sock: Address already in use (EADDRINUSE)"
	[ -S "$T/stale.sock" ]
	nk_signal fwd TERM
	nk_ok fwd
	[ ! -e "$T/stale.sock" ]
}

@test "FROM fd:3 from systemd-socket-activate: the inherited listener serves two clients" {
	command -v systemd-socket-activate >/dev/null ||
	    skip "systemd-socket-activate not installed"
	echo_up up
	on_free_port sa systemd-socket-activate -l "127.0.0.1:@PORT@" \
	    "$NETKIT" forward --events fd:3 "127.0.0.1:$UP"
	# systemd-socket-activate starts netkit at the first client.
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    send:activated read:9 shut-wr expect-eof
	assert_success
	assert_output activated
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    send:again read:5 shut-wr expect-eof
	assert_success
	assert_output again
	closed sa 2
	run nk_events sa server.listening
	assert_output "event=server.listening address=127.0.0.1 port=$PORT family=IPv4 protocol=tcp"
	run nk_events sa socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=9 bytes_written=9 bytes_up=9 bytes_down=9
event=socket.close id=2 had_error=false bytes_read=5 bytes_written=5 bytes_up=5 bytes_down=5"
}

@test "64 MiB each way at once (netkit listen behind, netkit connect in front): sha256 on both sides, the byte counts" {
	nk_random "$T/down" 64M
	nk_random "$T/up" 64M
	NK_STDIN=$T/down nk_listen srv -H 127.0.0.1 --allow-half-open 3>&-
	UP=$PORT
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	NK_STDIN=$T/up fstart cli "$NETKIT" connect --allow-half-open \
	    127.0.0.1 "$FPORT"
	nk_ok cli 60
	nk_ok srv 60
	assert_equal "$(nk_sha "$(nk_out srv)")" "$(nk_sha "$T/up")"
	assert_equal "$(nk_sha "$(nk_out cli)")" "$(nk_sha "$T/down")"
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=67108864 bytes_written=67108864 bytes_up=67108864 bytes_down=67108864"
	[ "$(count fwd '^event=socket\.data ')" = 0 ]
}

# ---------------------------------------------------------------------
# Half-closes and resets

@test "half-close, the client ends first: TO sees the FIN, then sends 1 MiB, and the client gets all of it" {
	# TO reads the 4 bytes, waits for the FIN, and only then sends.
	peer_up up read:4 expect-eof sendrand:1048576:7 shut-wr
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	client cli send:ping shut-wr read-all
	nk_ok cli
	nk_ok up
	assert_equal "$(cat "$(nk_out up)")" ping
	assert_equal "$(nk_sha "$(nk_out cli)")" "$(rand_sha 1048576 7)"
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=4 bytes_written=1048576 bytes_up=4 bytes_down=1048576"
	[ -z "$(errors fwd)" ]
}

@test "half-close, TO ends first: the client sees the FIN, then sends 1 MiB, and TO gets all of it" {
	peer_up up send:banner shut-wr read-all
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	client cli read:6 expect-eof sendrand:1048576:9 shut-wr
	nk_ok cli
	nk_ok up
	assert_equal "$(cat "$(nk_out cli)")" banner
	assert_equal "$(nk_sha "$(nk_out up)")" "$(rand_sha 1048576 9)"
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=1048576 bytes_written=6 bytes_up=1048576 bytes_down=6"
	[ -z "$(errors fwd)" ]
}

# ended NAME: NAME (an nkpeer reading to the end) has ended: by the EOF
# (exit 0) or by the reset (exit 1, ECONNRESET), not by its deadline.
ended() {
	nk_wait "$1" 30 || return 1
	[ "$NK_STATUS" = 0 ] && return 0
	grep -q 'read-all: read: Connection reset by peer (ECONNRESET)' "$(nk_err "$1")" || {
		echo "$1 exited $NK_STATUS:" >&2
		cat "$(nk_err "$1")" >&2
		return 1
	}
}

@test "the client resets: socket.error ECONNRESET, TO's connection ends, socket.close had_error=true, forwarding goes on" {
	peer_up up read:5 send:ack read-all
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	# The reset comes after TO's answer has arrived: nothing is pending.
	client cli send:hello read:3 rst
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" ack
	ended up
	assert_equal "$(cat "$(nk_out up)")" hello
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=true bytes_read=5 bytes_written=3 bytes_up=5 bytes_down=3"
	run nk_events fwd socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ECONNRESET message='
	nk_running fwd
}

@test "TO resets: socket.error ECONNRESET, the client's connection ends, socket.close had_error=true, forwarding goes on" {
	peer_up up read:5 send:ack rst
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	client cli send:hello read:3 read-all
	nk_ok up
	assert_equal "$(cat "$(nk_out up)")" hello
	ended cli
	assert_equal "$(cat "$(nk_out cli)")" ack
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=true bytes_read=5 bytes_written=3 bytes_up=5 bytes_down=3"
	run nk_events fwd socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ECONNRESET message='
	nk_running fwd
}

@test "a reset on one side reaches the other as a reset (ECONNRESET), with no FIN before it" {
	# The client resets: TO's read-all fails with ECONNRESET.
	peer_up up read:5 send:ack read-all
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	client cli send:hello read:3 rst
	nk_ok cli
	nk_wait up 30
	assert_equal "$NK_STATUS" 1
	run cat "$(nk_err up)"
	assert_output --partial 'read-all: read: Connection reset by peer (ECONNRESET)'

	# TO resets: the client's read-all fails with ECONNRESET.
	peer_up up2 read:5 send:ack rst
	fwd fwd2 127.0.0.1:0 "127.0.0.1:$UP"
	client cli2 send:hello read:3 read-all
	nk_ok up2
	nk_wait cli2 30
	assert_equal "$NK_STATUS" 1
	run cat "$(nk_err cli2)"
	assert_output --partial 'read-all: read: Connection reset by peer (ECONNRESET)'
}

@test "TO down, then up: the first client is reset with socket.error ECONNREFUSED, forwarding goes on, the second client is served" {
	free_port
	local to=$PORT
	fwd fwd 127.0.0.1:0 "127.0.0.1:$to"
	run timeout 30 "$NKPEER" script connect 127.0.0.1 "$FPORT" read-all
	assert_failure 1
	assert_output --partial 'Connection reset by peer (ECONNRESET)'
	closed fwd 1
	run cat "$(nk_err fwd)"
	assert_line --index 1 --regexp '^event=server\.connection id=1 remote=127\.0\.0\.1:[0-9]+ connections=1$'
	assert_line --index 2 "event=socket.attempt id=1 remote=127.0.0.1:$to"
	assert_line --index 3 "event=socket.attempt_failed id=1 remote=127.0.0.1:$to code=ECONNREFUSED"
	assert_line --index 4 'event=socket.error id=1 code=ECONNREFUSED message="Connection refused"'
	assert_line --index 5 'event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0 bytes_up=0 bytes_down=0'
	refute_line --partial 'socket.connect'
	nk_running fwd

	fstart up "$NETKIT" echo --events -H 127.0.0.1 -p "$to"
	assert_equal "$(nk_port up)" "$to"
	run timeout 30 "$NKPEER" script connect 127.0.0.1 "$FPORT" \
	    send:again read:5 shut-wr expect-eof
	assert_success
	assert_output again
	closed fwd 2
	assert_equal "$CLOSE" "event=socket.close id=2 had_error=false bytes_read=5 bytes_written=5 bytes_up=5 bytes_down=5"
	run nk_events fwd socket.connect
	assert_output --regexp "^event=socket\.connect id=2 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$to\$"
	[ -z "$(errors fwd)" ]
}

# ---------------------------------------------------------------------
# Options: -m, -t, --keepalive, -s

@test "-m 1: a second client while one pair is open is closed at once (server.drop) and TO never sees it; the next one is served" {
	echo_up up
	fwd fwd -m 1 127.0.0.1:0 "127.0.0.1:$UP"
	client a send:one read:3 "sendfile:$(nk_gate a)" send:two read:3 shut-wr expect-eof
	nk_wait_size "$(nk_out a)" 3
	run timeout 20 "$NKPEER" -T 10 script connect 127.0.0.1 "$FPORT" expect-eof
	assert_success
	nk_wait_line fwd '^event=server\.drop '
	run nk_events fwd server.drop
	assert_output --regexp '^event=server\.drop remote=127\.0\.0\.1:[0-9]+ connections=1$'
	[ "$(count fwd '^event=server\.connection ')" = 1 ]
	[ "$(count fwd '^event=socket\.attempt ')" = 1 ]
	[ "$(count up '^event=server\.connection ')" = 1 ]
	nk_open_gate a
	nk_ok a
	assert_equal "$(cat "$(nk_out a)")" onetwo
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=6 bytes_written=6 bytes_up=6 bytes_down=6"
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$FPORT" send:hi read:2 shut-wr expect-eof
	assert_success
	assert_output hi
	run nk_events fwd server.connection
	assert_line --index 1 --regexp '^event=server\.connection id=2 remote=127\.0\.0\.1:[0-9]+ connections=1$'
	[ "$(count fwd '^event=server\.drop ')" = 1 ]
}

@test "-t 500: an idle pair gets socket.timeout, both directions end (FINs), one socket.close had_error=false" {
	echo_up up
	fwd fwd -t 500 127.0.0.1:0 "127.0.0.1:$UP"
	client cli send:hi read:2 expect-eof
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" hi
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=2 bytes_written=2 bytes_up=2 bytes_down=2"
	run nk_events fwd socket.timeout
	assert_output "event=socket.timeout id=1"
	# The timeout comes before the close; TO got a FIN, not a reset.
	run grep -nE '^event=socket\.(timeout|close) ' "$(nk_err fwd)"
	assert_line --index 0 --regexp ':event=socket\.timeout '
	assert_line --index 1 --regexp ':event=socket\.close '
	nk_wait_line up '^event=socket\.close id=1 '
	run nk_events up socket.end
	assert_output "event=socket.end id=1"
	run nk_events up socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=2 bytes_written=2"
	nk_running fwd
}

@test "-t 300 --on-timeout ignore: socket.timeout, and the pair goes on" {
	echo_up up
	fwd fwd -t 300 --on-timeout ignore 127.0.0.1:0 "127.0.0.1:$UP"
	client cli send:hi read:2 "sendfile:$(nk_gate cli)" send:more read:4 shut-wr expect-eof
	nk_wait_line fwd '^event=socket\.timeout id=1$'
	nk_open_gate cli
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" himore
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=6 bytes_written=6 bytes_up=6 bytes_down=6"
}

@test "--keepalive=60000: both sockets of a pair (the client's and TO's) have the keepalive timer" {
	command -v ss >/dev/null || skip "ss not installed"
	echo_up up
	fwd fwd --keepalive=60000 --no-delay 127.0.0.1:0 "127.0.0.1:$UP"
	client cli send:hi read:2 expect-open:15000
	nk_wait_size "$(nk_out cli)" 2
	# The forwarder's side of each: the accepted socket (source FPORT),
	# the one it opened to TO (destination UP).
	run ss -tnoH state established "( sport = :$FPORT )"
	assert_output --regexp 'timer:\(keepalive,(5[0-9]|60)sec,0\)'
	run ss -tnoH state established "( dport = :$UP )"
	assert_output --regexp 'timer:\(keepalive,(5[0-9]|60)sec,0\)'
}

@test "-s 127.0.0.2: TO sees the connection from that address" {
	echo_up up
	fwd fwd -s 127.0.0.2 127.0.0.1:0 "127.0.0.1:$UP"
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$FPORT" send:src read:3 shut-wr expect-eof
	assert_success
	assert_output src
	run nk_events fwd socket.connect
	assert_output --regexp "^event=socket\.connect id=1 local=127\.0\.0\.2:[0-9]+ remote=127\.0\.0\.1:$UP\$"
	local src=${output#*local=127.0.0.2:}
	src=${src%% *}
	run nk_events up server.connection
	assert_output "event=server.connection id=1 remote=127.0.0.2:$src connections=1"
}

@test "--events=json: the pair's events parse, bytes_up and bytes_down are numbers" {
	need_python
	echo_up up
	fstart fwd "$NETKIT" forward --events=json 127.0.0.1:0 "127.0.0.1:$UP"
	FPORT=$(nk_port fwd)
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$FPORT" send:json read:4 shut-wr expect-eof
	assert_success
	nk_wait_line fwd '"event":"socket\.close"'
	run "$PY" -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
names = [e["event"] for e in ev]
assert names == ["server.listening", "server.connection", "socket.attempt",
    "socket.connect", "socket.close"], names
c = ev[-1]
assert c == {"event": "socket.close", "id": 1, "had_error": False,
    "bytes_read": 4, "bytes_written": 4, "bytes_up": 4, "bytes_down": 4}, c
assert ev[0]["port"] == int(sys.argv[2]), ev[0]
print("ok")
' "$(nk_err fwd)" "$FPORT"
	assert_success
	assert_output ok
}

# ---------------------------------------------------------------------
# IPv6, -4, -6

@test "IPv6: -6 [::1]:0 to [::1]:PORT works; -4 to [::1]:PORT resets the client with EAI_ADDRFAMILY" {
	nk_echo_server up -H ::1 3>&-
	UP=$PORT
	fstart fwd "$NETKIT" forward --events -6 "[::1]:0" "[::1]:$UP"
	FPORT=$(nk_port fwd)
	run nk_events fwd server.listening
	assert_output "event=server.listening address=::1 port=$FPORT family=IPv6 protocol=tcp"
	printf 'over v6' >"$T/in"
	NK_STDIN=$T/in fstart cli "$NETKIT" connect ::1 "$FPORT"
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" "over v6"
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=7 bytes_written=7 bytes_up=7 bytes_down=7"
	run cat "$(nk_err fwd)"
	assert_line --index 1 --regexp '^event=server\.connection id=1 remote=\[::1\]:[0-9]+ connections=1$'
	assert_line --index 2 "event=socket.attempt id=1 remote=[::1]:$UP"
	assert_line --index 3 --regexp "^event=socket\.connect id=1 local=\[::1\]:[0-9]+ remote=\[::1\]:$UP\$"

	fwd fwd4 -4 127.0.0.1:0 "[::1]:$UP"
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$FPORT" read-all
	assert_failure 1
	assert_output --partial ECONNRESET
	closed fwd4 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0 bytes_up=0 bytes_down=0"
	run nk_events fwd4 socket.error
	assert_output --regexp '^event=socket\.error id=1 code=EAI_ADDRFAMILY '
	nk_running fwd4
}

# ---------------------------------------------------------------------
# TLS

@test "--tls in front of a plain echo: openssl s_client verifies the certificate and gets its line back; netkit connect --tls too, with close_notify" {
	echo_up up
	fwd fwd --tls --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
	    127.0.0.1:0 "127.0.0.1:$UP"
	nk_fifo
	# -quiet ignores its stdin's EOF: it is stopped once the line is back.
	NK_STDIN=$FIFO fstart sc openssl s_client -connect "127.0.0.1:$FPORT" \
	    -CAfile "$CERTS/ca.pem" -verify_return_error -verify_ip 127.0.0.1 \
	    -quiet
	printf 'hello through tls\n' >&7
	nk_wait_size "$(nk_out sc)" 18 20
	assert_equal "$(cat "$(nk_out sc)")" "hello through tls"
	nk_kill sc
	nk_wait sc
	nk_fifo_close
	closed fwd 1
	assert_regex "$CLOSE" '^event=socket\.close id=1 had_error=(true|false) bytes_read=18 bytes_written=18 bytes_up=18 bytes_down=18$'
	run nk_events fwd socket.secure
	assert_output --regexp '^event=socket\.secure id=1 protocol=TLSv1\.[23] cipher=[^ ]+ alpn="" servername="" authorized=false peer="" fingerprint256="" ktls=(none|tx|rx|both)$'
	# The handshake with the client comes before TO is dialled.
	run grep -nE '^event=socket\.(secure|attempt) ' "$(nk_err fwd)"
	assert_line --index 0 --regexp ':event=socket\.secure id=1 '
	assert_line --index 1 --regexp ':event=socket\.attempt id=1 '
	# TO got plaintext.
	run nk_events up socket.data
	assert_output "event=socket.data id=1 bytes=18"

	printf 'from netkit\n' >"$T/in"
	NK_STDIN=$T/in fstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$FPORT"
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" "from netkit"
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=true"
	closed fwd 2
	assert_equal "$CLOSE" "event=socket.close id=2 had_error=false bytes_read=12 bytes_written=12 bytes_up=12 bytes_down=12"
}

@test "--tls: clients whose handshake fails (plain HTTP; a client that does not trust the CA) are reset, TO is never dialled, forwarding goes on" {
	echo_up up
	fwd fwd --tls --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
	    127.0.0.1:0 "127.0.0.1:$UP"
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$FPORT" \
	    'send:GET / HTTP/1.0\r\n\r\n' read-all
	assert_failure 1
	assert_output --partial ECONNRESET
	closed fwd 1
	assert_regex "$CLOSE" '^event=socket\.close id=1 had_error=true bytes_read=0 bytes_written=0( |$)'
	run nk_events fwd socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ERR_SSL_HTTP_REQUEST '

	run timeout 20 openssl s_client -connect "127.0.0.1:$FPORT" \
	    -CAfile "$CERTS/other-ca.pem" -verify_return_error -quiet </dev/null
	assert_failure
	closed fwd 2
	assert_regex "$CLOSE" '^event=socket\.close id=2 had_error=true bytes_read=0 bytes_written=0( |$)'
	run nk_events fwd socket.error
	assert_line --index 1 --regexp '^event=socket\.error id=2 code=ERR_SSL_[A-Z0-9_]+ '

	[ "$(count fwd '^event=socket\.(attempt|secure|connect) ')" = 0 ]
	[ "$(count up '^event=server\.connection ')" = 0 ]
	printf 'after\n' >"$T/in"
	NK_STDIN=$T/in fstart cli "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1 "$FPORT"
	nk_ok cli
	assert_equal "$(cat "$(nk_out cli)")" after
	closed fwd 3
	assert_equal "$CLOSE" "event=socket.close id=3 had_error=false bytes_read=6 bytes_written=6 bytes_up=6 bytes_down=6"
}

@test "--tls: a client whose handshake fails or times out still gets forward's socket.close, with bytes_up=0 bytes_down=0" {
	echo_up up
	fwd fwd --tls -t 500 --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" 127.0.0.1:0 "127.0.0.1:$UP"
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$FPORT" \
	    'send:GET / HTTP/1.0\r\n\r\n' read-all
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0 bytes_up=0 bytes_down=0"
	# A client that never speaks: the handshake is bounded by -t.
	run timeout 20 "$NKPEER" script connect 127.0.0.1 "$FPORT" read-all
	closed fwd 2
	run nk_events fwd socket.error
	assert_line --index 1 --regexp '^event=socket\.error id=2 code=ETIMEDOUT '
	assert_equal "$CLOSE" "event=socket.close id=2 had_error=true bytes_read=0 bytes_written=0 bytes_up=0 bytes_down=0"
}

@test "--tls-to to openssl s_server (verified with --tls-ca): lines both ways, socket.secure authorized=true after socket.connect" {
	on_free_port peer openssl s_server -accept "127.0.0.1:@PORT@" \
	    -cert "$CERTS/server.pem" -key "$CERTS/server.key" -rev -naccept 1
	UP=$PORT
	fwd fwd --tls-to --tls-ca "$CERTS/ca.pem" 127.0.0.1:0 "127.0.0.1:$UP"
	printf 'hello netkit\nsecond line\n' >"$T/in"
	NK_STDIN=$T/in fstart cli "$NETKIT" connect 127.0.0.1 "$FPORT"
	nk_ok cli 30
	nk_ok peer 30
	assert_equal "$(cat "$(nk_out cli)")" "$(printf 'tikten olleh\nenil dnoces')"
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=25 bytes_written=25 bytes_up=25 bytes_down=25"
	run cat "$(nk_err fwd)"
	assert_line --index 2 "event=socket.attempt id=1 remote=127.0.0.1:$UP"
	assert_line --index 3 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$UP\$"
	assert_line --index 4 --regexp "^event=socket\.secure id=1 protocol=TLSv1\.3 cipher=[^ ]+ alpn=\"\" servername=\"\" authorized=true peer=localhost fingerprint256=$SERVER_FP ktls=(none|tx|rx|both)\$"
	[ -z "$(errors fwd)" ]
}

@test "--tls-to to servers that do not verify: the client is reset, socket.error with the TLS code, no socket.connect; --tls-insecure goes on with a warning" {
	fstart self "$NETKIT" echo --events --tls --tls-cert "$CERTS/self.pem" \
	    --tls-key "$CERTS/self.key" -H 127.0.0.1 -p 0
	local selfp
	selfp=$(nk_port self)
	fstart good "$NETKIT" echo --events --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" -H 127.0.0.1 -p 0
	UP=$(nk_port good)

	# fails NAME CODE OPTIONS...: a forwarder with OPTIONS resets its
	# client, and its socket.error has CODE.
	fails() {
		local name=$1 code=$2
		shift 2
		fwd "$name" "$@"
		run timeout 30 "$NKPEER" script connect 127.0.0.1 "$FPORT" read-all
		assert_failure 1
		assert_output --partial ECONNRESET
		closed "$name" 1
		assert_equal "$CLOSE" "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0 bytes_up=0 bytes_down=0"
		run nk_events "$name" socket.error
		assert_output --regexp "^event=socket\.error id=1 code=$code message="
		run grep -E '^event=socket\.(connect|secure) ' "$(nk_err "$name")"
		assert_output ""
		nk_running "$name"
	}
	fails f1 DEPTH_ZERO_SELF_SIGNED_CERT --tls-to --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1:0 "127.0.0.1:$selfp"
	run nk_events f1 socket.error
	assert_output 'event=socket.error id=1 code=DEPTH_ZERO_SELF_SIGNED_CERT message="certificate verify failed: self-signed certificate"'
	fails f2 UNABLE_TO_VERIFY_LEAF_SIGNATURE --tls-to \
	    --tls-ca "$CERTS/other-ca.pem" 127.0.0.1:0 "127.0.0.1:$UP"
	fails f3 ERR_TLS_CERT_ALTNAME_INVALID --tls-to --tls-ca "$CERTS/ca.pem" \
	    --tls-servername other.example 127.0.0.1:0 "127.0.0.1:$UP"
	# The self-signed server saw no plaintext.
	[ "$(count self '^event=socket\.data ')" = 0 ]

	fwd f4 --tls-to --tls-insecure 127.0.0.1:0 "127.0.0.1:$selfp"
	run timeout 30 "$NKPEER" script connect 127.0.0.1 "$FPORT" send:insecure read:8 shut-wr expect-eof
	assert_success
	assert_output insecure
	run errors f4
	assert_output "netkit: forward: --tls-insecure: TO's certificate is not verified"
	run nk_events f4 socket.secure
	assert_output --regexp '^event=socket\.secure id=1 .* authorized=false authorization_error=DEPTH_ZERO_SELF_SIGNED_CERT peer=localhost '
	closed f4 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=8 bytes_written=8 bytes_up=8 bytes_down=8"
}

@test "--tls and --tls-to at once (a forwarder between two TLS ends, chained to a --tls forwarder in front of echo): 16 MiB back byte for byte" {
	echo_up up
	fwd front --tls --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
	    127.0.0.1:0 "127.0.0.1:$UP"
	local front=$FPORT
	fwd mid --tls --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
	    --tls-to --tls-ca "$CERTS/ca.pem" 127.0.0.1:0 "127.0.0.1:$front"
	nk_random "$T/in" 16M
	NK_STDIN=$T/in fstart cli "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1 "$FPORT"
	nk_ok cli 60
	assert_equal "$(nk_sha "$(nk_out cli)")" "$(nk_sha "$T/in")"
	closed mid 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=16777216 bytes_written=16777216 bytes_up=16777216 bytes_down=16777216"
	closed front 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=16777216 bytes_written=16777216 bytes_up=16777216 bytes_down=16777216"
	# The middle one: a session with its client, then one with TO.
	run nk_events mid socket.secure
	assert_equal "${#lines[@]}" 2
	assert_line --index 0 --regexp '^event=socket\.secure id=1 .* authorized=false peer="" '
	assert_line --index 1 --regexp "^event=socket\.secure id=1 .* authorized=true peer=localhost fingerprint256=$SERVER_FP "
	[ -z "$(errors mid)" ]
	[ -z "$(errors front)" ]
}

# ---------------------------------------------------------------------
# --proxy

@test "--proxy socks5 (microsocks): bytes both ways; socket.attempt to the proxy, socket.proxy, socket.connect naming TO" {
	command -v microsocks >/dev/null || skip "microsocks not installed"
	on_free_port ms microsocks -i 127.0.0.1 -p @PORT@
	local ms=$PORT
	echo_up up
	fwd fwd --proxy "socks5://127.0.0.1:$ms" 127.0.0.1:0 "127.0.0.1:$UP"
	# microsocks passes no half-close: the FIN only after the answer.
	run timeout 30 "$NKPEER" script connect 127.0.0.1 "$FPORT" \
	    send:through-socks read:13 shut-wr expect-eof
	assert_success
	assert_output through-socks
	closed fwd 1
	assert_equal "$CLOSE" "event=socket.close id=1 had_error=false bytes_read=13 bytes_written=13 bytes_up=13 bytes_down=13"
	run cat "$(nk_err fwd)"
	assert_line --index 2 "event=socket.attempt id=1 remote=127.0.0.1:$ms"
	assert_line --index 3 "event=socket.proxy id=1 proxy=127.0.0.1:$ms type=socks5"
	assert_line --index 4 --regexp "^event=socket\.connect id=1 local=127\.0\.0\.1:[0-9]+ remote=127\.0\.0\.1:$UP\$"
	run nk_events up socket.data
	assert_output "event=socket.data id=1 bytes=13"
}

# ---------------------------------------------------------------------
# Many pairs, descriptors

@test "200 pairs at once (nkpeer clients, 64 KiB each way each): every byte back, 200 socket.close, the descriptors back to the start" {
	echo_up up
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	local pid before
	pid=$(nk_child fwd)
	before=$("$NKPEER" fds "$pid")
	run timeout 120 "$NKPEER" -T 100 clients 127.0.0.1 "$FPORT" 200 65536
	assert_success
	nk_wait_count fwd '^event=socket\.close ' 200 60
	[ "$(count fwd '^event=server\.connection ')" = 200 ]
	[ "$(count fwd '^event=socket\.close ')" = 200 ]
	[ "$(count fwd '^event=socket\.close id=[0-9]+ had_error=false bytes_read=65536 bytes_written=65536 bytes_up=65536 bytes_down=65536$')" = 200 ]
	# One socket.close per id, ids 1 to 200.
	[ "$(grep -Eo '^event=socket\.close id=[0-9]+' "$(nk_err fwd)" | sort -u | wc -l)" = 200 ]
	[ "$(count fwd '^event=(socket\.error|server\.drop) ')" = 0 ]
	# Pairs were open at the same time.
	local most
	most=$(grep -Eo '^event=server\.connection .* connections=[0-9]+' "$(nk_err fwd)" |
	    sed 's/.*=//' | sort -n | tail -n 1)
	[ "$most" -gt 1 ]
	nk_wait_fds fwd "$before"
	nk_running fwd
}

# ---------------------------------------------------------------------
# Signals

@test "SIGTERM with a pair open: no more clients (refused), the pair still relays, then exit 0 with server.close" {
	echo_up up
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	client a send:one read:3 "sendfile:$(nk_gate a)" send:two read:3 shut-wr expect-eof
	nk_wait_size "$(nk_out a)" 3
	nk_signal fwd TERM
	PORT=$FPORT nk_wait_unlistened
	run --separate-stderr timeout 20 "$NETKIT" connect 127.0.0.1 "$FPORT" </dev/null
	assert_equal "$status" 1
	assert_equal "$stderr" "netkit: connect 127.0.0.1:$FPORT: Connection refused (ECONNREFUSED)"
	nk_running fwd
	nk_open_gate a
	nk_ok a
	assert_equal "$(cat "$(nk_out a)")" onetwo
	nk_wait fwd
	assert_equal "$NK_STATUS" 0
	run cat "$(nk_err fwd)"
	assert_equal "${lines[-2]}" "event=socket.close id=1 had_error=false bytes_read=6 bytes_written=6 bytes_up=6 bytes_down=6"
	assert_equal "${lines[-1]}" "event=server.close"
	[ "$(count fwd '^event=server\.connection ')" = 1 ]
	[ -z "$(errors fwd)" ]
}

@test "a second SIGTERM closes the open pairs at once: both clients and TO see them end, exit 1" {
	echo_up up
	fwd fwd 127.0.0.1:0 "127.0.0.1:$UP"
	client a send:one read:3 read-all
	client b send:two read:3 read-all
	nk_wait_size "$(nk_out a)" 3
	nk_wait_size "$(nk_out b)" 3
	nk_signal fwd TERM
	PORT=$FPORT nk_wait_unlistened
	nk_running fwd
	nk_running a
	nk_signal fwd TERM
	nk_wait fwd
	assert_equal "$NK_STATUS" 1
	# The clients' read-all ends: an EOF (or a reset), not their deadline.
	local c
	for c in a b; do
		nk_wait "$c"
		[ "$NK_STATUS" = 0 ] || grep -q ECONNRESET "$(nk_err "$c")"
	done
	assert_equal "$(cat "$(nk_out a)")" one
	assert_equal "$(cat "$(nk_out b)")" two
	[ "$(count fwd '^event=socket\.close ')" = 2 ]
	closed fwd 1
	assert_regex "$CLOSE" '^event=socket\.close id=1 had_error=(true|false) bytes_read=3 bytes_written=3 bytes_up=3 bytes_down=3$'
	closed fwd 2
	assert_equal "$(tail -n 1 "$(nk_err fwd)")" "event=server.close"
	nk_wait_count up '^event=socket\.close ' 2
}

# ---------------------------------------------------------------------
# Usage errors

@test "usage errors: exit 2, one line, nothing on stdout" {
	check() {
		local want=$1
		shift
		run --separate-stderr timeout 10 "$NETKIT" forward "$@" </dev/null
		assert_equal "$status" 2
		assert_equal "$output" ""
		assert_equal "$stderr" "$want"
	}
	check "netkit: forward: FROM and TO are required $HELP"
	check "netkit: forward: FROM and TO are required $HELP" 127.0.0.1:0
	check "netkit: forward: too many arguments $HELP" 127.0.0.1:0 127.0.0.1:80 x
	check "netkit: forward: bad TO 'bad' (HOST:PORT or unix:PATH) $HELP" \
	    127.0.0.1:0 bad
	check "netkit: forward: bad TO '80' (HOST:PORT or unix:PATH) $HELP" \
	    127.0.0.1:0 80
	check "netkit: forward: bad TO '::1:80' (HOST:PORT or unix:PATH) $HELP" \
	    127.0.0.1:0 ::1:80
	check "netkit: forward: TO: empty path $HELP" 127.0.0.1:0 unix:
	check "netkit: forward: bad FROM 'fd:2' (fd:N, N 3 or more) $HELP" \
	    fd:2 127.0.0.1:80
	check "netkit: forward: --tls needs --tls-cert and --tls-key $HELP" \
	    --tls 127.0.0.1:0 127.0.0.1:80
	check "netkit: forward: --tls-servername and --tls-insecure need --tls-to $HELP" \
	    --tls-insecure 127.0.0.1:0 127.0.0.1:80
	check "netkit: forward: --udp does not apply to forward $HELP" \
	    -u 127.0.0.1:0 127.0.0.1:80
	# TO's port 0 (and out of range): the exact text is the next test's.
	local to
	for to in 127.0.0.1:0 127.0.0.1:65536 '[::1]:0'; do
		run --separate-stderr timeout 10 "$NETKIT" forward 127.0.0.1:0 "$to" </dev/null
		assert_equal "$status" 2
		assert_equal "$output" ""
		assert_equal "${#stderr_lines[@]}" 1
		assert_regex "$stderr" "^netkit: forward: bad TO '.*' \(HOST:PORT or unix:PATH\) "
	done
}

@test "usage errors name FROM and TO as given: bad TO '127.0.0.1:0', bad FROM '127.0.0.1:x'" {
	check() {
		local want=$1
		shift
		run --separate-stderr timeout 10 "$NETKIT" forward "$@" </dev/null
		assert_equal "$status" 2
		assert_equal "$stderr" "$want"
	}
	check "netkit: forward: bad TO '127.0.0.1:0' (HOST:PORT or unix:PATH) $HELP" \
	    127.0.0.1:0 127.0.0.1:0
	check "netkit: forward: bad TO '[::1]:0' (HOST:PORT or unix:PATH) $HELP" \
	    127.0.0.1:0 '[::1]:0'
	check "netkit: forward: bad FROM '127.0.0.1:x' ([HOST:]PORT, unix:PATH or fd:N) $HELP" \
	    127.0.0.1:x 127.0.0.1:80
}
