#!/usr/bin/env bats
#
# Seeing the bytes (SPEC.md, "Seeing the bytes"): --hexdump[=FILE] on
# connect, listen (and -k) and forward, compared line for line with
# hexdump -C of the bytes really moved, each direction on its own
# (partial last lines, squeezed runs of zeros, 0 to 17 bytes, both
# directions at once, 8 MiB each way unchanged); --stats, its exit line
# and SIGUSR1, and socket.stats with --events (connect, listen, forward);
# --progress silent off a terminal, and its meter in a pseudo-terminal
# read as a one-line screen; --crlf; usage errors and an unwritable FILE.
#
# Every background process is started without bats' descriptor 3.
#
# stderr is set by bats' run --separate-stderr.
# shellcheck disable=SC2154

load helpers

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR
}

# start NAME CMD...: nk_start, without bats' descriptor 3.
start() { nk_start "$@" 3>&-; }

# srv NAME STDIN [OPTIONS...]: netkit listen --events on 127.0.0.1 port 0
# with STDIN on its stdin; sets $PORT.
srv() {
	local name=$1 in=$2
	shift 2
	NK_STDIN=$in nk_listen "$name" "$@" 127.0.0.1 3>&-
}

# cli NAME STDIN [OPTIONS...]: netkit connect to 127.0.0.1 $PORT with
# STDIN on its stdin.
cli() {
	local name=$1 in=$2
	shift 2
	NK_STDIN=$in start "$name" "$NETKIT" connect "$@" 127.0.0.1 "$PORT"
}

# pair CIN SIN [CONNECT OPTIONS...]: listen with SIN on stdin and connect
# with CIN, both --allow-half-open (each sends all of its stdin whoever
# ends first); both exit 0 and each got exactly the other's bytes.
pair() {
	local cin=$1 sin=$2
	shift 2
	srv srv "$sin" --allow-half-open || return 1
	cli cli "$cin" --allow-half-open "$@"
	nk_ok cli 30 || return 1
	nk_ok srv 30 || return 1
	cmp "$(nk_out srv)" "$cin" || return 1
	cmp "$(nk_out cli)" "$sin"
}

# mixed FILE SIZE: SIZE (> 4099) bytes: random, 4099 zero bytes (full
# lines that hexdump -C squeezes to "*"), random.
mixed() {
	local half=$((($2 - 4099) / 2))
	{
		head -c "$half" /dev/urandom
		head -c 4099 /dev/zero
		head -c $(($2 - 4099 - half)) /dev/urandom
	} >"$1"
}

# side DUMP DIR: the lines of direction DIR (">" or "<") of a dump,
# without the prefix.
side() {
	if [ "$2" = ">" ]; then
		sed -n 's/^> //p' "$1"
	else
		sed -n 's/^< //p' "$1"
	fi
}

# dump_is DUMP DIR FILE: direction DIR of DUMP is exactly hexdump -C FILE.
dump_is() {
	if ! cmp -s <(side "$1" "$2") <(hexdump -C "$3"); then
		echo "'$2' lines of $1 are not hexdump -C $3:" >&2
		diff <(side "$1" "$2") <(hexdump -C "$3") | head -n 20 >&2
		return 1
	fi
}

# only_dump FILE: every line of FILE is a dump line ("> " or "< ").
only_dump() {
	if grep -Evq '^[<>] ' "$1"; then
		echo "lines of $1 that are not dump lines:" >&2
		grep -Ev '^[<>] ' "$1" | head -n 5 >&2
		return 1
	fi
}

# text NAME: NAME's stderr lines that are not events.
text() { grep -v '^event=' "$(nk_err "$1")" || true; }

# vport NAME: wait for NAME's -v line "listening on 127.0.0.1:PORT" (for
# runs without --events, which replace the --stats line) and set $PORT.
vport() {
	nk_wait_line "$1" '^netkit: listening on 127\.0\.0\.1:[0-9]+$' || return 1
	PORT=$(sed -En 's/^netkit: listening on 127\.0\.0\.1:([0-9]+)$/\1/p' \
	    "$(nk_err "$1")")
}

# stats_re SENT RECEIVED: the --stats line.
stats_re() {
	echo "^netkit: sent $1 bytes, received $2 bytes in [0-9]+\.[0-9]{3} s\$"
}

# before_close NAME ID: the line right before NAME's socket.close of ID is
# its socket.stats with the same bytes_read and bytes_written; sets $READ
# and $WRITTEN from them.
before_close() {
	local err prev close
	err=$(nk_err "$1")
	close=$(grep -E "^event=socket\.close id=$2 " "$err")
	[ "$(grep -Ec "^event=socket\.close id=$2 " "$err")" = 1 ] || {
		echo "$1: not one socket.close id=$2:" >&2
		cat "$err" >&2
		return 1
	}
	prev=$(grep -B1 -E "^event=socket\.close id=$2 " "$err" | head -n 1)
	READ=$(sed -E 's/.* bytes_read=([0-9]+).*/\1/' <<<"$close")
	WRITTEN=$(sed -E 's/.* bytes_written=([0-9]+).*/\1/' <<<"$close")
	if ! [[ "$prev" =~ ^event=socket\.stats\ id=$2\ bytes_read=$READ\ bytes_written=$WRITTEN\ ms=[0-9]+$ ]]; then
		echo "$1: before '$close' comes '$prev'" >&2
		cat "$err" >&2
		return 1
	fi
	[ "$(grep -Ec "^event=socket\.stats id=$2 " "$err")" -ge 1 ]
}

# ---------------------------------------------------------------- --hexdump

@test "connect --hexdump=FILE: each direction is hexdump -C of its bytes (partial lines, squeezed zeros, both at once)" {
	mixed "$T/up" 100003
	mixed "$T/down" 70001
	pair "$T/up" "$T/down" --hexdump="$T/dump"
	only_dump "$T/dump"
	dump_is "$T/dump" ">" "$T/up"
	dump_is "$T/dump" "<" "$T/down"
	# the runs of zeros were squeezed, and the last lines are partial
	[ "$(grep -c '^> \*$' "$T/dump")" = 1 ]
	[ "$(grep -c '^< \*$' "$T/dump")" = 1 ]
	grep -q '^> 000186a3$' "$T/dump"
	grep -q '^< 00011171$' "$T/dump"
	# nothing but the bytes on the other streams
	[ ! -s "$(nk_err cli)" ]

	# large, both ways at once, and a stream of nothing but zeros
	rm -f "$T/dump"
	mixed "$T/up" $((3 * 1024 * 1024 + 7))
	head -c $((2 * 1024 * 1024 + 9)) /dev/zero >"$T/down"
	pair "$T/up" "$T/down" --hexdump="$T/dump"
	only_dump "$T/dump"
	dump_is "$T/dump" ">" "$T/up"
	dump_is "$T/dump" "<" "$T/down"
	[ "$(side "$T/dump" "<" | wc -l)" = 4 ]
}

@test "connect --hexdump=FILE: 0, 1, 15, 16, 17 and 48 zero bytes, each way, exactly" {
	local up down
	for sizes in 0:17 1:16 15:15 16:1 17:0 0:0 48z:33; do
		up=${sizes%:*}
		down=${sizes#*:}
		rm -f "$T/dump"
		if [ "$up" = 48z ]; then
			head -c 48 /dev/zero >"$T/up"
		else
			head -c "$up" /dev/urandom >"$T/up"
		fi
		head -c "$down" /dev/urandom >"$T/down"
		pair "$T/up" "$T/down" --hexdump="$T/dump"
		touch "$T/dump"
		only_dump "$T/dump"
		dump_is "$T/dump" ">" "$T/up"
		dump_is "$T/dump" "<" "$T/down"
	done
	# the last run: 48 zero bytes are a line, "*" and the offset
	run side "$T/dump" ">"
	assert_output "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
*
00000030"
}

@test "connect --hexdump: the dump on stderr, the bytes on stdout unchanged" {
	mixed "$T/up" 200009
	mixed "$T/down" 150001
	pair "$T/up" "$T/down" --hexdump
	only_dump "$(nk_err cli)"
	dump_is "$(nk_err cli)" ">" "$T/up"
	dump_is "$(nk_err cli)" "<" "$T/down"
	[ "$(nk_sha "$(nk_out cli)")" = "$(nk_sha "$T/down")" ]

	# with --events: whole event lines and whole dump lines
	pair "$T/up" "$T/down" --hexdump --events
	grep -v '^event=' "$(nk_err cli)" >"$T/dump"
	only_dump "$T/dump"
	dump_is "$T/dump" ">" "$T/up"
	dump_is "$T/dump" "<" "$T/down"
	[ "$(grep -c '^event=' "$(nk_err cli)")" -ge 3 ]
	grep '^event=' "$(nk_err cli)" | grep -Evq '^event=[a-z_.]+( [a-z_]+=[^ ]+)*$' &&
		return 1
	tail -n 1 "$(nk_err cli)" | grep -q '^event=socket\.close id=1 '
}

@test "--hexdump: a line is written once its 16 bytes are known, the rest when the direction ends" {
	nk_peer_listen peer read:5 send:abc read:11 read-all 3>&-
	nk_fifo
	NK_STDIN=$FIFO start cli "$NETKIT" connect --hexdump="$T/dump" \
	    127.0.0.1 "$PORT"
	printf 01234 >&7
	nk_wait_size "$(nk_out cli)" 3
	# 5 bytes sent and 3 received: no line yet
	[ ! -s "$T/dump" ]
	printf 56789abcdef >&7
	nk_wait_size "$(nk_out peer)" 16
	nk_wait_lines "$T/dump" 1
	run cat "$T/dump"
	assert_output "> 00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|"
	printf X >&7
	nk_fifo_close
	nk_ok cli
	nk_ok peer
	run cat "$T/dump"
	assert_output "> 00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|
> 00000010  58                                                |X|
> 00000011
< 00000000  61 62 63                                          |abc|
< 00000003"
}

@test "listen --hexdump=FILE: the server's side, appended to FILE run after run" {
	mixed "$T/up" 100003
	mixed "$T/down" 70001
	srv srv "$T/down" --allow-half-open --hexdump="$T/dump"
	cli cli "$T/up" --allow-half-open
	nk_ok cli 30
	nk_ok srv 30
	cmp "$(nk_out srv)" "$T/up"
	only_dump "$T/dump"
	dump_is "$T/dump" ">" "$T/down"
	dump_is "$T/dump" "<" "$T/up"
	cp "$T/dump" "$T/first"

	# a second run appends its dump after the first's lines
	head -c 33 /dev/urandom >"$T/up2"
	head -c 1000 /dev/urandom >"$T/down2"
	srv srv "$T/down2" --allow-half-open --hexdump="$T/dump"
	cli cli "$T/up2" --allow-half-open
	nk_ok cli 30
	nk_ok srv 30
	local n
	n=$(wc -l <"$T/first")
	cmp <(head -n "$n" "$T/dump") "$T/first"
	tail -n +$((n + 1)) "$T/dump" >"$T/second"
	dump_is "$T/second" ">" "$T/down2"
	dump_is "$T/second" "<" "$T/up2"
}

@test "listen -k --hexdump=FILE: each client its own dump, offsets from 0" {
	head -c 1000 /dev/urandom >"$T/a"
	mixed "$T/b" 20011
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k --hexdump="$T/dump" 127.0.0.1 3>&-
	cli c1 "$T/a"
	nk_ok c1
	nk_wait_line srv '^event=socket\.close id=1 '
	cli c2 "$T/b"
	nk_ok c2
	nk_wait_line srv '^event=socket\.close id=2 '
	nk_fifo_close
	nk_kill srv
	nk_wait srv
	cat "$T/a" "$T/b" | cmp - "$(nk_out srv)"
	only_dump "$T/dump"
	# nothing was sent: no '>' line; the two dumps one after the other
	[ -z "$(side "$T/dump" ">")" ]
	cmp <(side "$T/dump" "<") <(hexdump -C "$T/a"; hexdump -C "$T/b")

	# two clients at once, both sent all of stdin: two whole dumps of
	# it, their lines interleaved
	rm -f "$T/dump" "$FIFO"
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -k --hexdump="$T/dump" 127.0.0.1 3>&-
	cli c1 /dev/null --no-shutdown
	cli c2 /dev/null --no-shutdown
	nk_wait_count srv '^event=server\.connection ' 2
	cat "$T/b" >&7
	nk_fifo_close
	nk_ok c1
	nk_ok c2
	cmp "$(nk_out c1)" "$T/b"
	cmp "$(nk_out c2)" "$T/b"
	nk_wait_count srv '^event=socket\.close ' 2
	nk_kill srv
	nk_wait srv
	only_dump "$T/dump"
	[ -z "$(side "$T/dump" "<")" ]
	cmp <(side "$T/dump" ">" | sort) \
	    <({ hexdump -C "$T/b"; hexdump -C "$T/b"; } | sort)
}

@test "forward --hexdump=FILE: the client's side, '<' what it sent, '>' what it was sent" {
	mixed "$T/up" 300007
	mixed "$T/down" 100003
	srv up "$T/down" --allow-half-open
	local up=$PORT
	start fwd "$NETKIT" forward --events --hexdump="$T/dump" \
	    127.0.0.1:0 127.0.0.1:"$up"
	PORT=$(nk_port fwd)
	cli cli "$T/up" --allow-half-open
	nk_ok cli 30
	nk_ok up 30
	cmp "$(nk_out up)" "$T/up"
	cmp "$(nk_out cli)" "$T/down"
	nk_wait_line fwd '^event=socket\.close id=1 '
	nk_kill fwd
	nk_ok fwd
	only_dump "$T/dump"
	dump_is "$T/dump" "<" "$T/up"
	dump_is "$T/dump" ">" "$T/down"

	# through an echo server: the same bytes both ways
	rm -f "$T/dump"
	nk_echo_server echo -H 127.0.0.1 3>&-
	up=$PORT
	start fwd "$NETKIT" forward --events --hexdump="$T/dump" \
	    127.0.0.1:0 127.0.0.1:"$up"
	PORT=$(nk_port fwd)
	cli cli "$T/up"
	nk_ok cli 30
	cmp "$(nk_out cli)" "$T/up"
	nk_wait_line fwd '^event=socket\.close id=1 '
	nk_kill fwd
	nk_ok fwd
	dump_is "$T/dump" "<" "$T/up"
	dump_is "$T/dump" ">" "$T/up"
}

@test "--hexdump never changes the bytes: 8 MiB each way, both ends dumping" {
	nk_random "$T/up" 8M
	nk_random "$T/down" 8M
	srv srv "$T/down" --allow-half-open --hexdump="$T/sdump"
	cli cli "$T/up" --allow-half-open --hexdump="$T/cdump"
	nk_ok cli 60
	nk_ok srv 60
	[ "$(nk_sha "$(nk_out srv)")" = "$(nk_sha "$T/up")" ]
	[ "$(nk_sha "$(nk_out cli)")" = "$(nk_sha "$T/down")" ]
	dump_is "$T/cdump" ">" "$T/up"
	dump_is "$T/sdump" ">" "$T/down"
	# each end's '<' is the other end's '>'
	cmp <(side "$T/cdump" "<") <(side "$T/sdump" ">")
	cmp <(side "$T/sdump" "<") <(side "$T/cdump" ">")
}

@test "--hexdump with --crlf: '>' shows the bytes on the wire (CR LF)" {
	printf 'a\nb\r\nc' >"$T/in"
	srv srv /dev/null
	cli cli "$T/in" --crlf --allow-half-open --hexdump="$T/dump"
	nk_ok cli
	nk_ok srv
	printf 'a\r\nb\r\r\nc' >"$T/want"
	cmp "$(nk_out srv)" "$T/want"
	dump_is "$T/dump" ">" "$T/want"
}

# ---------------------------------------------------------------- --stats

@test "--stats: one exit line with the bytes moved each way (connect, listen)" {
	head -c 100000 /dev/urandom >"$T/up"
	head -c 70001 /dev/urandom >"$T/down"
	# listen without --events (they replace the line): its port from -v
	NK_STDIN=$T/down start srv "$NETKIT" listen -v --stats \
	    --allow-half-open 127.0.0.1 0
	vport srv
	cli cli "$T/up" --stats --allow-half-open
	nk_ok cli 30
	nk_ok srv 30
	cmp "$(nk_out srv)" "$T/up"
	cmp "$(nk_out cli)" "$T/down"
	run cat "$(nk_err cli)"
	assert_output --regexp "$(stats_re 100000 70001)"
	[ "${#lines[@]}" = 1 ]
	run grep '^netkit: sent' "$(nk_err srv)"
	assert_output --regexp "$(stats_re 70001 100000)"
	[ "${#lines[@]}" = 1 ]
	# the last line
	tail -n 1 "$(nk_err srv)" | grep -Eq "$(stats_re 70001 100000)"
}

@test "--stats with SIGUSR1: the counts so far, the relay goes on, the final line at exit" {
	head -c 100000 /dev/urandom >"$T/up"
	head -c 70001 /dev/urandom >"$T/down"
	srv srv "$T/down"
	nk_fifo
	NK_STDIN=$FIFO start cli "$NETKIT" connect --stats --allow-half-open \
	    127.0.0.1 "$PORT"
	head -c 1000 "$T/up" >&7
	nk_wait_size "$(nk_out srv)" 1000
	nk_wait_size "$(nk_out cli)" 70001
	nk_signal cli USR1
	nk_wait_line cli '^netkit: sent'
	run cat "$(nk_err cli)"
	assert_output --regexp "$(stats_re 1000 70001)"
	nk_running cli
	# once more, later, with more sent
	tail -c +1001 "$T/up" | head -c 4000 >&7
	nk_wait_size "$(nk_out srv)" 5000
	nk_signal cli USR1
	nk_wait_count cli '^netkit: sent' 2
	nk_running cli
	tail -c +5001 "$T/up" >&7
	nk_fifo_close
	nk_ok cli 30
	nk_ok srv 30
	cmp "$(nk_out srv)" "$T/up"
	run cat "$(nk_err cli)"
	[ "${#lines[@]}" = 3 ]
	[[ "${lines[0]}" =~ $(stats_re 1000 70001) ]]
	[[ "${lines[1]}" =~ $(stats_re 5000 70001) ]]
	[[ "${lines[2]}" =~ $(stats_re 100000 70001) ]]
}

@test "--stats --events: socket.stats right before socket.close, no text line; SIGUSR1 gives socket.stats" {
	head -c 100000 /dev/urandom >"$T/up"
	head -c 70001 /dev/urandom >"$T/down"
	srv srv "$T/down" --stats
	nk_fifo
	NK_STDIN=$FIFO start cli "$NETKIT" connect --events --stats \
	    --allow-half-open 127.0.0.1 "$PORT"
	head -c 1000 "$T/up" >&7
	nk_wait_size "$(nk_out srv)" 1000
	nk_wait_size "$(nk_out cli)" 70001
	nk_signal cli USR1
	nk_wait_line cli '^event=socket\.stats '
	run nk_events cli socket.stats
	assert_output --regexp '^event=socket\.stats id=1 bytes_read=70001 bytes_written=1000 ms=[0-9]+$'
	nk_running cli
	tail -c +1001 "$T/up" >&7
	nk_fifo_close
	nk_ok cli 30
	nk_ok srv 30
	cmp "$(nk_out srv)" "$T/up"
	before_close cli 1
	[ "$READ" = 70001 ] && [ "$WRITTEN" = 100000 ]
	# socket.close stays last, and there is no text line
	tail -n 1 "$(nk_err cli)" | grep -q '^event=socket\.close id=1 '
	[ -z "$(text cli)" ]
	[ "$(nk_events cli socket.stats | wc -l)" = 2 ]
	# the server's side
	before_close srv 1
	[ "$READ" = 100000 ] && [ "$WRITTEN" = 70001 ]
	[ -z "$(text srv)" ]
}

@test "forward --stats --events: socket.stats of each pair right before its socket.close" {
	head -c 5555 /dev/urandom >"$T/b"
	nk_echo_server echo -H 127.0.0.1 3>&-
	local up=$PORT
	start fwd "$NETKIT" forward --events --stats 127.0.0.1:0 127.0.0.1:"$up"
	PORT=$(nk_port fwd)
	# pair 1 stays open through a SIGUSR1
	nk_fifo
	NK_STDIN=$FIFO start c1 "$NETKIT" connect 127.0.0.1 "$PORT"
	printf hello >&7
	nk_wait_size "$(nk_out c1)" 5
	nk_signal fwd USR1
	nk_wait_line fwd '^event=socket\.stats '
	run nk_events fwd socket.stats
	assert_output --regexp '^event=socket\.stats id=1 bytes_read=5 bytes_written=5 ms=[0-9]+$'
	nk_fifo_close
	nk_ok c1
	nk_wait_line fwd '^event=socket\.close id=1 '
	cli c2 "$T/b"
	nk_ok c2
	cmp "$(nk_out c2)" "$T/b"
	nk_wait_line fwd '^event=socket\.close id=2 '
	nk_kill fwd
	nk_ok fwd
	before_close fwd 1
	[ "$READ" = 5 ] && [ "$WRITTEN" = 5 ]
	before_close fwd 2
	[ "$READ" = 5555 ] && [ "$WRITTEN" = 5555 ]
	[ "$(nk_events fwd socket.stats | wc -l)" = 3 ]
	[ -z "$(text fwd)" ]
}

@test "forward --stats: the line counts the clients' side" {
	head -c 1000 /dev/urandom >"$T/up"
	head -c 3000 /dev/urandom >"$T/down"
	srv up "$T/down" --allow-half-open
	local up=$PORT
	start fwd "$NETKIT" forward -v --stats 127.0.0.1:0 127.0.0.1:"$up"
	vport fwd
	cli cli "$T/up" --allow-half-open
	nk_ok cli
	nk_ok up
	cmp "$(nk_out cli)" "$T/down"
	nk_signal fwd USR1
	nk_wait_line fwd '^netkit: sent'
	nk_kill fwd
	nk_ok fwd
	run grep '^netkit: sent' "$(nk_err fwd)"
	[ "${#lines[@]}" = 2 ]
	[[ "${lines[0]}" =~ $(stats_re 3000 1000) ]]
	[[ "${lines[1]}" =~ $(stats_re 3000 1000) ]]
}

@test "socket.stats: ms is never negative, even for a connection of no time at all" {
	nk_echo_server echo -H 127.0.0.1 3>&-
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		run --separate-stderr bash -c 'printf x | timeout 10 "$1" connect --events --stats 127.0.0.1 "$2" 3>&-' \
		    sh "$NETKIT" "$PORT"
		assert_success
		[[ "$stderr" =~ event=socket\.stats\ id=1\ bytes_read=1\ bytes_written=1\ ms=[0-9]+ ]] || {
			echo "$stderr" >&2
			false
		}
	done
	# refused (ms=-1 most times with the bug): a socket.stats all the
	# same, before its socket.close
	for i in 1 2 3 4 5; do
		run --separate-stderr timeout 10 "$NETKIT" connect --events \
		    --stats 127.0.0.1 1
		[ "$status" = 1 ]
		[[ "$stderr" =~ event=socket\.stats\ id=1\ bytes_read=0\ bytes_written=0\ ms=[0-9]+ ]] || {
			echo "$stderr" >&2
			false
		}
	done
}

# ---------------------------------------------------------------- --progress

@test "--progress with stderr not a terminal: nothing at all" {
	mixed "$T/up" 300007
	mixed "$T/down" 200003
	# no other output: an empty stderr on both ends
	srv srv "$T/down" --allow-half-open
	cli cli "$T/up" --progress --allow-half-open
	nk_ok cli 30
	nk_ok srv 30
	cmp "$(nk_out cli)" "$T/down"
	[ ! -s "$(nk_err cli)" ]
	# with --events and --stats: the same lines as without --progress
	local run
	for run in with without; do
		srv srv "$T/down" --allow-half-open --stats \
		    $([ $run = with ] && echo --progress)
		cli cli "$T/up" --events --stats --allow-half-open \
		    $([ $run = with ] && echo --progress)
		nk_ok cli 30
		nk_ok srv 30
		# addresses, times and the chunks of socket.data differ
		# from run to run
		grep -v '^event=socket\.data ' "$(nk_err cli)" |
		    sed -E 's/(local|remote)=[^ ]*//g; s/ms=-?[0-9]+//' \
		    >"$T/cli.$run"
		grep -v '^event=socket\.data ' "$(nk_err srv)" |
		    sed -E 's/(local|remote|port)=[^ ]*//g; s/ms=-?[0-9]+//' \
		    >"$T/srv.$run"
		! grep -q $'[\r\033]' "$(nk_err cli)" "$(nk_err srv)"
	done
	cmp "$T/cli.with" "$T/cli.without"
	cmp "$T/srv.with" "$T/srv.without"
	grep -q '^event=socket\.stats id=1 bytes_read=200003 bytes_written=300007' \
	    "$T/cli.with"
}

# pty.py OUT SCREENS CMD...: run CMD with stderr on a pseudo-terminal (raw:
# no newline translation), stdin inherited, stdout to /dev/null; keep all
# it writes to the terminal in OUT; read it as a one-line screen (CR: to
# column 0, ESC [ K: clear to the end of the line, other bytes overwrite)
# and write to SCREENS the screen after each ESC [ K, one per line. Prints
# rc=, seconds= (the run time), redraws= (the ESC [ K before the last),
# bad= (bytes a one-line meter does not write: LF, other escapes) and
# final= (the screen at the end).
write_pty_py() {
	cat >"$T/pty.py" <<'EOF'
import os, subprocess, sys, time, tty

out, screens_path, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
master, slave = os.openpty()
tty.setraw(slave)
t0 = time.monotonic()
p = subprocess.Popen(cmd, stderr=slave, stdout=subprocess.DEVNULL)
os.close(slave)
data = bytearray()
while True:
    try:
        b = os.read(master, 65536)
    except OSError:  # EIO: no process has the terminal open any more
        break
    if not b:
        break
    data += b
rc = p.wait()
seconds = time.monotonic() - t0
with open(out, "wb") as f:
    f.write(data)

line, col, screens, bad, i = [], 0, [], 0, 0
while i < len(data):
    c = data[i]
    if c == 0x0D:
        col = 0
        i += 1
    elif data[i:i + 3] == b"\x1b[K":
        del line[col:]
        screens.append("".join(line))
        i += 3
    elif c < 0x20 or c >= 0x7F:
        bad += 1
        i += 1
    else:
        if col < len(line):
            line[col] = chr(c)
        else:
            line.append(chr(c))
        col += 1
        i += 1
with open(screens_path, "w") as f:
    for s in screens:
        f.write(s + "\n")
print("rc=%d" % rc)
print("seconds=%.3f" % seconds)
print("redraws=%d" % max(len(screens) - 1, 0))
print("bad=%d" % bad)
print("final=%s" % "".join(line))
EOF
}

# value KEY: KEY's value in $output (pty.py's report).
value() { sed -n "s/^$1=//p" <<<"$output"; }

UNIT='[0-9]+(\.[0-9])? (B|KiB|MiB|GiB)'
METER="^> $UNIT $UNIT/s  < $UNIT $UNIT/s  [0-9]{2}:[0-9]{2}"

@test "--progress on a terminal: a meter at most 10 times a second, with percent and ETA for a file; erased at exit" {
	need_python
	write_pty_py
	local size=$((20 * 1024 * 1024))
	nk_random "$T/in" "$size"
	# a reader of 12 MiB/s: the transfer lasts more than a second
	nk_peer_listen peer slowread:12582912 3>&-
	run timeout 60 "$PY" "$T/pty.py" "$T/raw" "$T/screens" \
	    timeout -k 5 40 "$NETKIT" connect --progress 127.0.0.1 "$PORT" \
	    <"$T/in" 3>&-
	assert_success
	echo "$output"
	nk_ok peer
	[ "$(nk_sha "$(nk_out peer)")" = "$(nk_sha "$T/in")" ]
	[ "$(value rc)" = 0 ]
	[ "$(value bad)" = 0 ]
	# after the exit the line is empty: erased, as the last thing written
	[ "$(value final)" = "" ]
	[ -z "$(tail -n 1 "$T/screens")" ]
	[ "$(tail -c 4 "$T/raw" | od -An -tx1 | tr -d ' \n')" = 0d1b5b4b ]
	# every draw before it is the meter, with the percent and the ETA
	local draws=$(value redraws) secs=$(value seconds)
	head -n "$draws" "$T/screens" >"$T/draws"
	run grep -Evc "$METER  +[0-9]+% ETA ([0-9]{2}:[0-9]{2}|--:--)\$" \
	    "$T/draws"
	[ "$output" = 0 ] || { grep -Ev "$METER  +[0-9]+% ETA" "$T/draws" | head -n 5; false; }
	# at most 10 a second (+2), and a meter that kept being redrawn
	awk -v d="$draws" -v s="$secs" 'BEGIN { exit !(s >= 1 && d <= 10 * s + 2 && d >= 3) }'
	# the percent is what was sent of the file, never going back
	awk -v size="$size" '
		{
			n = $2; u = $3
			if (u == "KiB") n *= 1024
			else if (u == "MiB") n *= 1048576
			else if (u == "GiB") n *= 1073741824
			match($0, /[0-9]+% ETA/)
			pct = substr($0, RSTART, RLENGTH - 5) + 0
			want = 100 * n / size
			if (pct < want - 1.5 || pct > want + 1.5) {
				print "percent " pct " for " $2 " " $3 > "/dev/stderr"; bad = 1
			}
			if (pct < last || n < lastn) {
				print "went back: " $0 > "/dev/stderr"; bad = 1
			}
			last = pct; lastn = n
		}
		END { exit bad }' "$T/draws"
}

@test "--progress on a terminal with stdin a pipe: no percent, no ETA; erased at exit" {
	need_python
	write_pty_py
	nk_random "$T/in" 6M
	nk_peer_listen peer slowread:6291456 3>&-
	run bash -c 'cat "$1" | timeout 60 "$2" "$3" "$4" "$5" timeout -k 5 40 \
	    "$6" connect --progress 127.0.0.1 "$7"' sh "$T/in" "$PY" \
	    "$T/pty.py" "$T/raw" "$T/screens" "$NETKIT" "$PORT" 3>&-
	assert_success
	echo "$output"
	nk_ok peer
	[ "$(nk_sha "$(nk_out peer)")" = "$(nk_sha "$T/in")" ]
	[ "$(value rc)" = 0 ]
	[ "$(value bad)" = 0 ]
	[ "$(value final)" = "" ]
	local draws=$(value redraws)
	[ "$draws" -ge 3 ]
	run grep -Evc "$METER\$" <(head -n "$draws" "$T/screens")
	[ "$output" = 0 ]
}

# ---------------------------------------------------------------- --crlf

@test "--crlf: every LF of stdin is sent as CR LF, even after a CR; received bytes unchanged" {
	printf 'a\nb\r\nc' >"$T/in"
	printf 'x\ny\r\n' >"$T/back"
	srv srv "$T/back" --allow-half-open
	cli cli "$T/in" --crlf --allow-half-open
	nk_ok cli
	nk_ok srv
	cmp "$(nk_out srv)" <(printf 'a\r\nb\r\r\nc')
	cmp "$(nk_out cli)" "$T/back"

	# without --crlf: unchanged
	srv srv /dev/null
	cli cli "$T/in" --allow-half-open
	nk_ok cli
	nk_ok srv
	cmp "$(nk_out srv)" "$T/in"

	# listen --crlf, and 1 MiB with LFs everywhere (across chunks)
	head -c 1048576 /dev/urandom | tr '\000-\077' '\n' >"$T/big"
	perl -pe 's/\n/\r\n/g' "$T/big" >"$T/want"
	srv srv "$T/big" --crlf --allow-half-open
	cli cli /dev/null
	nk_ok cli 30
	nk_ok srv 30
	cmp "$(nk_out cli)" "$T/want"
}

# ---------------------------------------------------------------- errors

# usage_error CMD...: exit 2, nothing on stdout, one "netkit: " line.
usage_error() {
	run --separate-stderr timeout 10 "$NETKIT" "$@"
	if [ "$status" -ne 2 ] || [ -n "$output" ] ||
	    [ "${#stderr_lines[@]}" -ne 1 ] ||
	    [[ "$stderr" != "netkit: "* ]]; then
		{
			echo "netkit $*: expected exit 2 and one 'netkit: ' line"
			echo "status: $status"
			echo "stdout: $output"
			echo "stderr: $stderr"
		} >&2
		return 1
	fi
}

@test "usage errors: --crlf with -k, -e, --write-encoding, -u; --hexdump with -e, -u, empty; --progress -u; options that do not apply" {
	usage_error listen --crlf -k 0
	usage_error listen -k --crlf 0
	usage_error connect --crlf -e cat 127.0.0.1 1
	usage_error listen --crlf -e cat 0
	usage_error connect --crlf --write-encoding hex 127.0.0.1 1
	usage_error connect --crlf -u 127.0.0.1 1
	usage_error connect --hexdump -e cat 127.0.0.1 1
	usage_error listen --hexdump="$T/d" -e cat 0
	usage_error connect --hexdump -u 127.0.0.1 1
	usage_error listen --hexdump="$T/d" -u 0
	usage_error connect --progress -u 127.0.0.1 1
	usage_error listen --progress -u 0
	usage_error connect --hexdump= 127.0.0.1 1
	usage_error echo --hexdump -p 0
	usage_error echo --stats -p 0
	usage_error echo --progress -p 0
	usage_error scan --stats 127.0.0.1 1
	usage_error scan --hexdump 127.0.0.1 1
	usage_error forward --crlf 127.0.0.1:0 127.0.0.1:1
	usage_error isip --stats 127.0.0.1
	# the file was never made
	[ ! -e "$T/d" ]
}

@test "--hexdump=FILE that cannot be opened: one line naming FILE and the code, exit 1" {
	run --separate-stderr timeout 10 "$NETKIT" connect \
	    --hexdump=/nonexistent/dir/f 127.0.0.1 1
	[ "$status" = 1 ]
	[ -z "$output" ]
	[ "$stderr" = "netkit: connect /nonexistent/dir/f: No such file or directory (ENOENT)" ]

	run --separate-stderr timeout 10 "$NETKIT" listen --events \
	    --hexdump="$T" 127.0.0.1 0
	[ "$status" = 1 ]
	[ "$stderr" = "netkit: listen $T: Is a directory (EISDIR)" ]

	run --separate-stderr timeout 10 "$NETKIT" forward --events \
	    --hexdump=/nonexistent/dir/f 127.0.0.1:0 127.0.0.1:1
	[ "$status" = 1 ]
	[ "$stderr" = "netkit: forward /nonexistent/dir/f: No such file or directory (ENOENT)" ]
}
