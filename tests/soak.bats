# Nothing lost: a few hundred transfers of random sizes (0 bytes to 32 MiB)
# with random stdin and stdout kinds and random write chunking, through
# connect -> listen, listen -> connect and an echo server, over TCP and
# UNIX sockets; every sha256 must match and every process exit 0.
#
# Deterministic: transfer I's parameters and bytes come from a PRNG seeded
# with $NETKIT_SOAK_SEED and I, so a failure reproduces with the same seed,
# and NETKIT_SOAK_ONLY=I replays that one transfer. The loop stops after
# $NETKIT_SOAK_COUNT transfers or $NETKIT_SOAK_SECONDS seconds, whichever
# comes first (make check runs it three times in CI: keep the default short;
# raise both for a longer soak).

load helpers

: "${NETKIT_SOAK_SEED:=20240601}"
: "${NETKIT_SOAK_COUNT:=300}"
: "${NETKIT_SOAK_SECONDS:=60}"

setup_file() {
	# chunk SEED PAUSES: copy stdin to stdout in random-sized reads and
	# writes, with up to PAUSES pauses of under 5 ms.
	cat >"$BATS_FILE_TMPDIR/chunk" <<-'EOF'
	import os, random, sys, time
	r = random.Random(int(sys.argv[1]))
	pauses = int(sys.argv[2])
	maxc = r.choice([512, 8192, 65536, 1 << 20])
	p = r.choice([0.0, 0.02, 0.2])
	while True:
	    b = os.read(0, r.randint(1, maxc))
	    if not b:
	        break
	    mv = memoryview(b)
	    while mv:
	        mv = mv[os.write(1, mv):]
	    if pauses > 0 and r.random() < p:
	        pauses -= 1
	        time.sleep(r.uniform(0, 0.005))
	EOF
	# side IN_KIND IN OUT_KIND OUT SEED CMD...: run CMD with its stdin
	# and stdout of the kinds named (in: file, null, closed, pipe, chunk;
	# out: file, pipe, slow); exit with CMD's status, or 100 when CMD
	# succeeded but a feeder or drainer did not.
	cat >"$BATS_FILE_TMPDIR/side" <<-'EOF'
	#!/usr/bin/env bash
	in_kind=$1 in=$2 out_kind=$3 out=$4 seed=$5
	shift 5
	chunk=$(dirname "$0")/chunk
	feed() {
		case $in_kind in
		pipe) cat "$in" ;;
		chunk) python3 "$chunk" "$seed" 50 <"$in" ;;
		esac
	}
	drain() {
		case $out_kind in
		pipe) cat >"$out" ;;
		slow) python3 "$chunk" "$((seed + 1))" 200 >"$out" ;;
		esac
	}
	cmd() {
		case $in_kind in
		file) "$@" <"$in" ;;
		null) "$@" </dev/null ;;
		closed) "$@" <&- ;;
		*) "$@" ;;
		esac
	}
	case $in_kind/$out_kind in
	pipe/file | chunk/file)
		feed | cmd "$@" >"$out"
		st=("${PIPESTATUS[1]}" "${PIPESTATUS[0]}") ;;
	pipe/* | chunk/*)
		feed | cmd "$@" | drain
		st=("${PIPESTATUS[1]}" "${PIPESTATUS[0]}" "${PIPESTATUS[2]}") ;;
	*/file)
		cmd "$@" >"$out"
		st=("${PIPESTATUS[0]}") ;;
	*)
		cmd "$@" | drain
		st=("${PIPESTATUS[0]}" "${PIPESTATUS[1]}") ;;
	esac
	[ "${st[0]}" != 0 ] && exit "${st[0]}"
	for s in "${st[@]}"; do
		[ "$s" = 0 ] || { echo "side: a feeder or drainer exited $s (${st[*]})" >&2; exit 100; }
	done
	exit 0
	EOF
	chmod +x "$BATS_FILE_TMPDIR/side"
}

# The PRNG: drand48's generator in bash arithmetic. soak_srand SEED I
# starts the stream of transfer I; rnd N sets R to a number from 0 to N-1.
soak_srand() {
	_S=$(((($1 * 2654435761) ^ ($2 * 40503 + 0x5DEECE66D)) & 0xFFFFFFFFFFFF))
	rnd 2
	rnd 2
}
rnd() {
	_S=$(((_S * 0x5DEECE66D + 0xB) & 0xFFFFFFFFFFFF))
	R=$(((_S >> 17) % $1))
}

# pick WORD...: set P to one of the words.
pick() {
	local a=("$@")
	rnd $#
	P=${a[R]}
}

# soak_size: set SIZE, skewed toward small, sometimes up to 32 MiB.
soak_size() {
	rnd 100
	if [ "$R" -lt 8 ]; then SIZE=0
	elif [ "$R" -lt 12 ]; then SIZE=1
	elif [ "$R" -lt 16 ]; then SIZE=4095
	elif [ "$R" -lt 20 ]; then SIZE=4096
	elif [ "$R" -lt 24 ]; then SIZE=65537
	elif [ "$R" -lt 56 ]; then rnd 4096; SIZE=$((R + 1))
	elif [ "$R" -lt 80 ]; then rnd 262144; SIZE=$((R + 1))
	elif [ "$R" -lt 92 ]; then rnd 4194304; SIZE=$((R + 1))
	else rnd 33554432; SIZE=$((R + 1))
	fi
}

# soak_fail WHAT: print what failed about transfer $I, both sides'
# stderr, how to replay it, and fail.
soak_fail() {
	{
		echo "transfer $I: $1"
		echo "  $DESC"
		echo "  replay: NETKIT_SOAK_SEED=$NETKIT_SOAK_SEED NETKIT_SOAK_ONLY=$I"
		for n in snd rcv; do
			[ -f "$(nk_err "$n")" ] || continue
			echo "  $n stderr:"
			tail -n 15 "$(nk_err "$n")" | sed 's/^/    /'
		done
	} >&2
	return 1
}

# soak_ok NAME: wait for NAME (under the transfer's deadline) and require
# exit 0.
soak_ok() {
	nk_wait "$1" "$((NK_TIMEOUT + 10))" || soak_fail "$1 hung" || return 1
	[ "$NK_STATUS" = 0 ] || soak_fail "$1 exited $NK_STATUS" || return 1
}

# soak_one I: transfer I, its parameters drawn from the seed and I.
soak_one() {
	local d=$BATS_TEST_TMPDIR in out back mode fam sin sout rin rout
	local addr srv_addr port ho=() hr=()
	I=$1
	in=$d/in out=$d/out back=$d/back
	rm -f "$in" "$out" "$back" "$d"/snd.* "$d"/rcv.*
	soak_srand "$NETKIT_SOAK_SEED" "$I"
	soak_size
	pick up down echo up down echo
	mode=$P
	pick tcp unix
	fam=$P
	# The sender's stdin and stdout.
	if [ "$SIZE" = 0 ]; then
		pick file null closed pipe chunk
	else
		pick file file pipe chunk chunk
	fi
	sin=$P
	pick file pipe slow
	sout=$P
	[ "$mode" = echo ] || sout="file"
	# The receiver's stdin: /dev/null (an immediate FIN: the sender needs
	# --allow-half-open) or the fifo held open (no FIN until the end).
	pick null fifo
	rin=$P
	pick file pipe slow
	rout=$P
	[ "$rin" = null ] && ho=(--allow-half-open)
	rnd 2
	[ "$rin" = fifo ] && [ "$R" = 1 ] && ho=(--allow-half-open)
	# The receiver may allow half-open too when its stdin ends (with the
	# fifo it would wait for stdin's EOF after the sender's FIN).
	rnd 2
	[ "$rin" = null ] && [ "$R" = 1 ] && hr=(--allow-half-open)
	DESC="mode=$mode family=$fam size=$SIZE sender(stdin=$sin stdout=$sout ${ho[*]}) receiver(stdin=$rin stdout=$rout ${hr[*]})"
	[ "$mode" = echo ] && DESC="mode=echo family=$fam size=$SIZE connect(stdin=$sin stdout=$sout)"

	"$NKPEER" rand "$SIZE" "$((NETKIT_SOAK_SEED + I))" >"$in"
	local NK_TIMEOUT=$((20 + SIZE / 1048576))
	local side=$BATS_FILE_TMPDIR/side rfile=$FIFO
	[ "$rin" = null ] && rfile=/dev/null
	local rkind=file
	[ "$rin" = null ] && rkind=null

	if [ "$fam" = tcp ]; then
		srv_addr=(0)
	else
		srv_addr=(-U "$d/t$I.sock")
		addr=(-U "$d/t$I.sock")
	fi
	case $mode in
	echo)
		if [ "$fam" = tcp ]; then
			addr=(127.0.0.1 "$ECHO_PORT")
		else
			addr=(-U "$ECHO_SOCK")
		fi
		nk_start snd "$side" "$sin" "$in" "$sout" "$back" "$I" \
		    "$NETKIT" connect --events "${addr[@]}"
		soak_ok snd || return 1
		;;
	up)
		# listen receives, connect sends.
		nk_start rcv "$side" "$rkind" "$rfile" "$rout" "$out" "$I" \
		    "$NETKIT" listen --events "${hr[@]}" "${srv_addr[@]}"
		if [ "$fam" = tcp ]; then
			port=$(nk_port rcv) || soak_fail "no listening" || return 1
			addr=(127.0.0.1 "$port")
		else
			nk_wait_line rcv 'server\.listening' || soak_fail "no listening" || return 1
		fi
		nk_start snd "$side" "$sin" "$in" file "$back" "$I" \
		    "$NETKIT" connect --events "${ho[@]}" "${addr[@]}"
		soak_ok snd || return 1
		soak_ok rcv || return 1
		;;
	down)
		# listen sends, connect receives.
		nk_start snd "$side" "$sin" "$in" file "$back" "$I" \
		    "$NETKIT" listen --events "${ho[@]}" "${srv_addr[@]}"
		if [ "$fam" = tcp ]; then
			port=$(nk_port snd) || soak_fail "no listening" || return 1
			addr=(127.0.0.1 "$port")
		else
			nk_wait_line snd 'server\.listening' || soak_fail "no listening" || return 1
		fi
		nk_start rcv "$side" "$rkind" "$rfile" "$rout" "$out" "$I" \
		    "$NETKIT" connect --events "${hr[@]}" "${addr[@]}"
		soak_ok rcv || return 1
		soak_ok snd || return 1
		;;
	esac
	if [ "$mode" = echo ]; then
		mv "$back" "$out"
	elif [ -s "$back" ]; then
		soak_fail "the sender got $(stat -c %s "$back") bytes back, want 0" || return 1
	fi
	local got
	got=$(stat -c %s "$out")
	[ "$got" = "$SIZE" ] || soak_fail "$got bytes arrived, want $SIZE" || return 1
	[ "$(nk_sha "$out")" = "$(nk_sha "$in")" ] ||
	    soak_fail "the bytes differ (sha256)" || return 1
	BYTES=$((BYTES + SIZE))
}

@test "soak: random transfers connect->listen, listen->connect and echo, TCP and UNIX, every sha256 equal" {
	local start=$SECONDS i=0 n=0 last=$((NETKIT_SOAK_COUNT - 1))
	command -v python3 >/dev/null || skip "python3 is not installed"
	echo "# soak: seed $NETKIT_SOAK_SEED (NETKIT_SOAK_SEED)" >&3
	echo "soak: seed $NETKIT_SOAK_SEED"
	nk_fifo
	ECHO_SOCK=$BATS_TEST_TMPDIR/echo.sock
	# The echo servers serve the whole run: their deadline is the run's.
	NK_TIMEOUT=$((NETKIT_SOAK_SECONDS + 600)) nk_echo_server echo
	ECHO_PORT=$PORT
	NK_TIMEOUT=$((NETKIT_SOAK_SECONDS + 600)) \
	    nk_start echou "$NETKIT" echo --events -U "$ECHO_SOCK"
	nk_wait_line echou 'server\.listening'
	if [ -n "${NETKIT_SOAK_ONLY:-}" ]; then
		i=$NETKIT_SOAK_ONLY last=$NETKIT_SOAK_ONLY
	fi
	BYTES=0
	while [ "$i" -le "$last" ] &&
	    [ $((SECONDS - start)) -lt "$NETKIT_SOAK_SECONDS" ]; do
		soak_one "$i"
		i=$((i + 1)) n=$((n + 1))
	done
	nk_fifo_close
	# The echo servers served every client and end cleanly at SIGTERM.
	nk_signal echo TERM
	nk_signal echou TERM
	nk_wait echo 10
	[ "$NK_STATUS" = 0 ]
	nk_wait echou 10
	[ "$NK_STATUS" = 0 ]
	run grep -h 'had_error=true' "$(nk_err echo)" "$(nk_err echou)"
	assert_output ""
	echo "# soak: $n transfers, $BYTES bytes, $((SECONDS - start)) s (seed $NETKIT_SOAK_SEED)" >&3
	[ "$n" -gt 0 ]
}
