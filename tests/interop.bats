# netkit's relay and echo server against programs nobody here wrote:
# OpenBSD netcat (nc), nmap's ncat, socat and bash's /dev/tcp. For each
# peer, bytes in every direction (netkit listening or connecting, sending
# or receiving), checked by sha256, and both directions at once.
#
# The peers cannot bind port 0 and report it, so a peer's listener gets a
# port that netkit bound (port 0) and released, and the test waits until
# that port is in LISTEN state in /proc/net/tcp (connecting to find out
# would use up the peer's only accept).
#
# When netkit receives, its stdin is a fifo held open by the test: at the
# peer's FIN it stops reading stdin and exits (SPEC.md, "The relay").

load helpers

# Random data shared by every test: 64 MiB one way, 16 MiB each way.
setup_file() {
	export IN64=$BATS_FILE_TMPDIR/in64 A16=$BATS_FILE_TMPDIR/a16 \
	    B16=$BATS_FILE_TMPDIR/b16
	nk_random "$IN64" 64M
	nk_random "$A16" 16M
	nk_random "$B16" 16M
	SHA64=$(nk_sha "$IN64")
	SHAA=$(nk_sha "$A16")
	SHAB=$(nk_sha "$B16")
	export SHA64 SHAA SHAB
}

# need PEER: skip unless the peer program is installed.
need() {
	case $1 in
	devtcp) [ -n "$BASH_VERSION" ] || skip "bash not available" ;;
	*) command -v "$1" >/dev/null || skip "$1 not installed" ;;
	esac
}

# nk_free_port: set $PORT to a loopback port that netkit just bound and
# released.
nk_free_port() {
	nk_start probe "$NETKIT" listen --events -H 127.0.0.1 0
	PORT=$(nk_port probe) || return 1
	nk_kill probe
	nk_wait probe 5
}

# nk_wait_listening NAME PORT [SECONDS]: wait until something listens on
# TCP PORT; fail at the deadline or if NAME exits first.
nk_wait_listening() {
	local name=$1 hex deadline=$((SECONDS + ${3:-10})) f files=()
	hex=$(printf '%04X' "$2")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] && files+=("$f")
	done
	until awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
	    END { exit !f }' "${files[@]}"; do
		if ! nk_running "$name"; then
			echo "$name exited before listening on port $2:" >&2
			cat "$(nk_err "$name")" >&2
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "nothing listens on port $2 after ${3:-10}s" >&2
			return 1
		fi
		sleep 0.02
	done
}

# peer_cmd PEER ROLE: set CMD to PEER's command line for ROLE, toward or
# on 127.0.0.1:$PORT:
#   send   connect, send stdin, end the write side, exit at the peer's end
#   recv   connect, copy what arrives to stdout, send nothing
#   both   connect, both ways at once
#   lsend, lrecv, lboth   the same, listening for one connection
peer_cmd() {
	local a=127.0.0.1 p=$PORT
	local listen="TCP-LISTEN:$p,reuseaddr,bind=$a"
	case $1:$2 in
	nc:send) CMD=(nc -N "$a" "$p") ;;
	nc:recv) CMD=(nc -d "$a" "$p") ;;
	nc:both) CMD=(nc -N "$a" "$p") ;;
	nc:lsend) CMD=(nc -N -l "$a" "$p") ;;
	nc:lrecv) CMD=(nc -d -l "$a" "$p") ;;
	nc:lboth) CMD=(nc -N -l "$a" "$p") ;;
	ncat:send) CMD=(ncat --send-only "$a" "$p") ;;
	ncat:recv) CMD=(ncat --recv-only "$a" "$p") ;;
	ncat:both) CMD=(ncat "$a" "$p") ;;
	ncat:lsend) CMD=(ncat -l --send-only "$a" "$p") ;;
	ncat:lrecv) CMD=(ncat -l --recv-only "$a" "$p") ;;
	ncat:lboth) CMD=(ncat -l "$a" "$p") ;;
	# -t: after one direction's EOF, wait that long for the other.
	socat:send) CMD=(socat -u - "TCP:$a:$p") ;;
	socat:recv) CMD=(socat -u "TCP:$a:$p" -) ;;
	socat:both) CMD=(socat -t 30 - "TCP:$a:$p") ;;
	socat:lsend) CMD=(socat -u - "$listen") ;;
	socat:lrecv) CMD=(socat -u "$listen" -) ;;
	socat:lboth) CMD=(socat -t 30 "$listen" -) ;;
	# bash cannot half-close: the socket closes (FIN) when bash exits.
	devtcp:send) CMD=(bash -c 'exec 3<>"/dev/tcp/$0/$1" && cat >&3' "$a" "$p") ;;
	devtcp:recv) CMD=(bash -c 'exec 3<>"/dev/tcp/$0/$1" && cat <&3' "$a" "$p") ;;
	devtcp:both) CMD=(bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit
		cat <&3 &
		cat >&3 && wait $!' "$a" "$p") ;;
	*) echo "peer_cmd: no $2 for $1" >&2; return 1 ;;
	esac
}

# peer_listen PEER ROLE: start PEER listening (ROLE lsend, lrecv or lboth)
# on a free port, stdin from $NK_STDIN; set $PORT.
peer_listen() {
	nk_free_port
	peer_cmd "$1" "$2"
	nk_start peer "${CMD[@]}"
	nk_wait_listening peer "$PORT"
}

# Each wait below has a deadline; exit statuses are checked on both sides.
nk_done() {
	nk_wait "$1" 30
	assert_equal "$1 exit $NK_STATUS" "$1 exit 0"
}

# netkit listen receives 64 MiB that PEER connects and sends.
xfer_listen_recv() {
	need "$1"
	nk_fifo
	NK_STDIN=$FIFO nk_listen srv -H 127.0.0.1
	peer_cmd "$1" send
	NK_STDIN=$IN64 nk_start peer "${CMD[@]}"
	nk_done srv
	nk_done peer
	nk_fifo_close
	assert_equal "$(nk_sha "$(nk_out srv)")" "$SHA64"
	[ ! -s "$(nk_out peer)" ]
}

# netkit listen sends 64 MiB to PEER, which connects and receives.
xfer_listen_send() {
	need "$1"
	NK_STDIN=$IN64 nk_listen srv -H 127.0.0.1
	peer_cmd "$1" recv
	nk_start peer "${CMD[@]}"
	nk_done peer
	nk_done srv
	assert_equal "$(nk_sha "$(nk_out peer)")" "$SHA64"
	[ ! -s "$(nk_out srv)" ]
}

# netkit connect [OPTIONS] sends 64 MiB to PEER listening.
xfer_connect_send() {
	need "$1"
	peer_listen "$1" lrecv
	NK_STDIN=$IN64 nk_start cli "$NETKIT" connect "${@:2}" 127.0.0.1 "$PORT"
	nk_done cli
	nk_done peer
	assert_equal "$(nk_sha "$(nk_out peer)")" "$SHA64"
	[ ! -s "$(nk_out cli)" ]
}

# netkit connect receives 64 MiB from PEER listening.
xfer_connect_recv() {
	need "$1"
	NK_STDIN=$IN64 peer_listen "$1" lsend
	nk_fifo
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect 127.0.0.1 "$PORT"
	nk_done cli
	nk_done peer
	nk_fifo_close
	assert_equal "$(nk_sha "$(nk_out cli)")" "$SHA64"
	[ ! -s "$(nk_out peer)" ]
}

# 16 MiB each way at once, PEER listening, netkit connecting with
# --allow-half-open. A listening nc quits at the peer's FIN even with stdin
# left to send ("listen and net in gone" in its readwrite loop), so netkit's
# stdin stays open until netkit has seen the peer's FIN (sent after all of
# the peer's bytes): netkit ends its side last, and keeps sending after the
# peer's FIN.
xfer_both_connect() {
	need "$1"
	NK_STDIN=$A16 peer_listen "$1" lboth
	nk_fifo
	NK_STDIN=$FIFO nk_start cli "$NETKIT" connect --allow-half-open --events \
	    127.0.0.1 "$PORT"
	timeout 30 cat "$B16" >&7 &
	local writer=$!
	nk_wait_line cli '^event=socket\.end ' 30
	wait "$writer"
	nk_fifo_close
	nk_done cli
	nk_done peer
	assert_equal "$(nk_sha "$(nk_out cli)")" "$SHAA"
	assert_equal "$(nk_sha "$(nk_out peer)")" "$SHAB"
}

# 16 MiB each way at once, netkit listening, PEER connecting.
xfer_both_listen() {
	need "$1"
	NK_STDIN=$A16 nk_listen srv --allow-half-open -H 127.0.0.1
	peer_cmd "$1" both
	NK_STDIN=$B16 nk_start peer "${CMD[@]}"
	nk_done srv
	nk_done peer
	assert_equal "$(nk_sha "$(nk_out srv)")" "$SHAB"
	assert_equal "$(nk_sha "$(nk_out peer)")" "$SHAA"
}

@test "nc: netkit listen receives 64 MiB from nc -N" { xfer_listen_recv nc; }
@test "nc: netkit listen sends 64 MiB to nc -d" { xfer_listen_send nc; }
@test "nc: netkit connect sends 64 MiB to nc -l" { xfer_connect_send nc; }
@test "nc: netkit connect receives 64 MiB from nc -N -l" { xfer_connect_recv nc; }
@test "nc: both ways at once, 16 MiB each, nc -N -l and netkit connect" { xfer_both_connect nc; }
@test "nc: both ways at once, 16 MiB each, netkit listen and nc -N" { xfer_both_listen nc; }

@test "ncat: netkit listen receives 64 MiB from ncat --send-only" { xfer_listen_recv ncat; }
@test "ncat: netkit listen sends 64 MiB to ncat --recv-only" { xfer_listen_send ncat; }
# ncat -l --recv-only ends its write side at once: without
# --allow-half-open netkit would stop sending there (SPEC.md).
@test "ncat: netkit connect --allow-half-open sends 64 MiB to ncat -l --recv-only" {
	xfer_connect_send ncat --allow-half-open
}
@test "ncat: netkit connect receives 64 MiB from ncat -l --send-only" { xfer_connect_recv ncat; }
@test "ncat: both ways at once, 16 MiB each, ncat -l and netkit connect" { xfer_both_connect ncat; }

@test "socat: netkit listen receives 64 MiB from socat -u - TCP:" { xfer_listen_recv socat; }
@test "socat: netkit listen sends 64 MiB to socat -u TCP: -" { xfer_listen_send socat; }
@test "socat: netkit connect sends 64 MiB to socat -u TCP-LISTEN: -" { xfer_connect_send socat; }
@test "socat: netkit connect receives 64 MiB from socat -u - TCP-LISTEN:" { xfer_connect_recv socat; }
@test "socat: both ways at once, 16 MiB each, socat -t TCP-LISTEN: and netkit connect" { xfer_both_connect socat; }

@test "/dev/tcp: netkit listen receives 64 MiB from bash" { xfer_listen_recv devtcp; }
@test "/dev/tcp: netkit listen sends 64 MiB to bash" { xfer_listen_send devtcp; }
@test "/dev/tcp: both ways at once, 16 MiB each, netkit listen and bash" { xfer_both_listen devtcp; }

@test "echo: nc -N, ncat, socat and /dev/tcp clients at once each get their bytes back" {
	local p missing=()
	for p in nc ncat socat; do
		command -v "$p" >/dev/null || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] || skip "${missing[*]} not installed"
	nk_echo_server srv -H 127.0.0.1
	for p in nc ncat socat devtcp; do
		nk_random "$BATS_TEST_TMPDIR/$p.in" 4M
	done
	NK_STDIN=$BATS_TEST_TMPDIR/nc.in nk_start nc nc -N 127.0.0.1 "$PORT"
	NK_STDIN=$BATS_TEST_TMPDIR/ncat.in nk_start ncat ncat 127.0.0.1 "$PORT"
	NK_STDIN=$BATS_TEST_TMPDIR/socat.in nk_start socat socat -t 30 - "TCP:127.0.0.1:$PORT"
	# No half-close in bash: read exactly what was sent, then close.
	NK_STDIN=$BATS_TEST_TMPDIR/devtcp.in nk_start devtcp bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$0" || exit
		head -c 4194304 <&3 &
		cat >&3 && wait $!' "$PORT"
	for p in nc ncat socat devtcp; do
		nk_done "$p"
		assert_equal "$p $(nk_sha "$(nk_out "$p")")" "$p $(nk_sha "$BATS_TEST_TMPDIR/$p.in")"
	done
	# Each connection ends cleanly with every byte echoed.
	local deadline=$((SECONDS + 10))
	while [ "$(nk_events srv socket.close | wc -l)" -lt 4 ] &&
	    [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.02
	done
	run nk_events srv socket.close
	assert_equal "${#lines[@]}" 4
	for p in 0 1 2 3; do
		assert_regex "${lines[$p]}" '^event=socket\.close id=[0-9]+ had_error=false bytes_read=4194304 bytes_written=4194304$'
	done
	[ ! -s "$(nk_out srv)" ]
}
