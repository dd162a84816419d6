# --encoding and --write-encoding: the codec unit checks (tests/codec-test,
# built from tests/codec-test.c and src/encoding.c), then each encoding end
# to end through an echo server or a scripted peer, data split across reads
# and TCP segments, malformed stdin, and bad encoding names.

load helpers

# The unit driver: $CODEC_TEST, or tests/codec-test of the build.
codec_test() { nk_built codec-test "${CODEC_TEST:-}"; }

# enc_in FORMAT: printf FORMAT into $IN; enc_want FORMAT: into $WANT.
enc_in() { IN=$BATS_TEST_TMPDIR/in; printf "$1" >"$IN"; }
enc_want() { WANT=$BATS_TEST_TMPDIR/want; printf "$1" >"$WANT"; }

# enc_connect OPTIONS...: netkit connect OPTIONS 127.0.0.1 $PORT with stdin
# from $IN (default /dev/null); stdout in $OUT, stderr in $ERR, the exit
# status in $status.
enc_connect() {
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
	status=0
	timeout 10 "$NETKIT" connect "$@" 127.0.0.1 "$PORT" \
	    <"${IN:-/dev/null}" >"$OUT" 2>"$ERR" || status=$?
}

# assert_bytes FILE WANTFILE: the two files hold the same bytes; on a
# difference, show both in hex.
assert_bytes() {
	if ! cmp -s "$1" "$2"; then
		echo "bytes differ; got:" >&2
		od -An -tx1 -v "$1" | head -n 20 >&2
		echo "want:" >&2
		od -An -tx1 -v "$2" | head -n 20 >&2
		[ ! -s "${ERR:-/dev/null}" ] || { echo "stderr:" >&2; cat "$ERR" >&2; }
		return 1
	fi
}

# enc_echo INPUT WANT OPTIONS...: INPUT (printf format) through the echo
# server at $PORT with netkit connect OPTIONS gives exactly WANT, exit 0,
# nothing on stderr.
enc_echo() {
	enc_in "$1"
	enc_want "$2"
	shift 2
	enc_connect "$@"
	assert_bytes "$OUT" "$WANT"
	[ "$status" = 0 ] || { cat "$ERR" >&2; echo "exit $status" >&2; return 1; }
	[ ! -s "$ERR" ] || { cat "$ERR" >&2; return 1; }
}

# enc_malformed ENC INPUT SENT OFFSET: with --write-encoding ENC, INPUT
# (printf format) sends exactly SENT (printf format) to a peer, then netkit
# ends the connection and exits 1 with one line naming the offset.
enc_malformed() {
	local enc=$1 in=$2 sent=$3 off=$4
	nk_peer_listen peer read-all
	enc_in "$in"
	enc_want "$sent"
	enc_connect --write-encoding "$enc"
	nk_wait peer
	[ "$NK_STATUS" = 0 ] || { cat "$(nk_err peer)" >&2; return 1; }
	assert_bytes "$(nk_out peer)" "$WANT"
	[ "$status" = 1 ] || { cat "$ERR" >&2; echo "exit $status" >&2; return 1; }
	[ "$(wc -l <"$ERR")" = 1 ] || { cat "$ERR" >&2; return 1; }
	grep -Eq "^netkit: .*invalid $enc at byte $off( |\$)" "$ERR" ||
	    { cat "$ERR" >&2; return 1; }
}

@test "codec unit checks: every codec, every split, random chunking" {
	local t
	t=$(codec_test)
	run "$t"
	assert_success
	refute_line --partial FAIL
	assert_line --regexp '^codec-test: [0-9]+ checks, 0 failed$'
}

@test "--encoding binary (the default) passes bytes as they are" {
	nk_echo_server srv
	enc_echo 'a\000\351\377\n' 'a\000\351\377\n'
	enc_echo 'a\000\351\377\n' 'a\000\351\377\n' --encoding binary
	enc_echo 'a\000\351\377\n' 'a\000\351\377\n' --encoding latin1
}

@test "--encoding ascii strips the high bit" {
	nk_echo_server srv
	enc_echo '\351A\377\200\177\303\251' 'iA\177\000\177\103\051' \
	    --encoding ascii
}

@test "--encoding hex: lowercase, two digits a byte, no newline" {
	nk_echo_server srv
	enc_echo '\000\377\020A\n' '00ff10410a' --encoding hex
	enc_echo '' '' --encoding hex
}

@test "--encoding hex of 1 MiB is what od gives" {
	nk_echo_server srv
	IN=$BATS_TEST_TMPDIR/in
	WANT=$BATS_TEST_TMPDIR/want
	nk_random "$IN" 1M
	od -An -v -tx1 "$IN" | tr -d ' \n' >"$WANT"
	enc_connect --encoding hex
	[ "$status" = 0 ]
	assert_bytes "$OUT" "$WANT"
}

@test "--encoding base64: padding at the end, no newline" {
	nk_echo_server srv
	enc_echo 'hello' 'aGVsbG8=' --encoding base64
	enc_echo 'hello!' 'aGVsbG8h' --encoding base64
	enc_echo '\373\377' '+/8=' --encoding base64
	enc_echo '' '' --encoding base64
}

@test "--encoding base64 of 1 MiB is one valid stream, whatever the reads" {
	nk_echo_server srv
	IN=$BATS_TEST_TMPDIR/in
	WANT=$BATS_TEST_TMPDIR/want
	nk_random "$IN" 1M
	base64 -w 0 "$IN" >"$WANT"
	enc_connect --encoding base64
	[ "$status" = 0 ]
	assert_bytes "$OUT" "$WANT"
}

@test "--encoding utf8: one U+FFFD per maximal invalid subsequence" {
	nk_echo_server srv
	# valid é; E0 80: two; F0 9F 98 then A: one; ED A0 80: three; C0: one;
	# F5 FF: two; an unfinished character at the end: one.
	enc_echo 'h\303\251 \340\200 \360\237\230A \355\240\200 \300 \365\377 ok\342\202' \
	    'h\303\251 \357\277\275\357\277\275 \357\277\275A \357\277\275\357\277\275\357\277\275 \357\277\275 \357\277\275\357\277\275 ok\357\277\275' \
	    --encoding utf8
	enc_echo '\360\237\230\200 \357\277\275' '\360\237\230\200 \357\277\275' \
	    --encoding utf-8
}

@test "--encoding utf8 of 256 KiB of mangled UTF-8 is what Node gives" {
	command -v node >/dev/null || skip "node is not installed"
	nk_echo_server srv
	IN=$BATS_TEST_TMPDIR/in
	WANT=$BATS_TEST_TMPDIR/want
	node -e '
	    const pool = [0x41, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2,
	        0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x0a];
	    const b = Buffer.from("h\u00e9 \u20ac \u{1f600} ".repeat(8192));
	    for (let i = 0; i < b.length; i += 1 + Math.floor(Math.random() * 8))
	        b[i] = pool[Math.floor(Math.random() * pool.length)];
	    require("fs").writeFileSync(process.argv[1], b);
	    require("fs").writeFileSync(process.argv[2], b.toString("utf8"));
	' "$IN" "$WANT"
	enc_connect --encoding utf8
	[ "$status" = 0 ]
	assert_bytes "$OUT" "$WANT"
}

@test "--encoding utf8: characters split across TCP segments stay whole" {
	nk_peer_listen peer 'send:h\xc3' sleep:100 'send:\xa9 \xf0' sleep:100 \
	    'send:\x9f' sleep:100 'send:\x98' sleep:100 'send:\x80 \xe2\x82' \
	    sleep:100 'send:\xac!' shut-wr
	enc_want 'h\303\251 \360\237\230\200 \342\202\254!'
	enc_connect --encoding utf8
	[ "$status" = 0 ]
	assert_bytes "$OUT" "$WANT"
	nk_wait peer
}

@test "--encoding utf8: a sequence cut short across segments, and at the end" {
	nk_peer_listen peer 'send:\xf0\x9f\x98' sleep:100 'send:A\xe2' \
	    sleep:100 'send:\x82' shut-wr
	enc_want '\357\277\275A\357\277\275'
	enc_connect --encoding utf8
	[ "$status" = 0 ]
	assert_bytes "$OUT" "$WANT"
	nk_wait peer
}

@test "--encoding base64: quanta split across TCP segments" {
	nk_peer_listen peer send:a sleep:100 send:bc sleep:100 send:de \
	    sleep:100 send:fgh shut-wr
	enc_want 'YWJjZGVmZ2g='
	enc_connect --encoding base64
	[ "$status" = 0 ]
	assert_bytes "$OUT" "$WANT"
	nk_wait peer
}

@test "--encoding hex on listen" {
	nk_listen lis --encoding hex
	nk_start peer "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    'send:\xff' sleep:50 'send:\x00A' shut-wr
	nk_wait lis
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out lis)")" = "ff0041" ]
	nk_wait peer
}

@test "--write-encoding binary and utf8 send valid input unchanged" {
	nk_echo_server srv
	enc_echo 'a\000\351\377' 'a\000\351\377' --write-encoding binary
	enc_echo 'h\303\251 \342\202\254 \360\237\230\200 \364\217\277\277' \
	    'h\303\251 \342\202\254 \360\237\230\200 \364\217\277\277' \
	    --write-encoding utf8
	enc_echo '' '' --write-encoding utf-8
}

@test "--write-encoding hex: either case, whitespace anywhere" {
	nk_echo_server srv
	enc_echo '68 65\n6C6c\t6\r\nf\n' 'hello' --write-encoding hex
	enc_echo '00FF10' '\000\377\020' --write-encoding hex
	enc_echo ' \n' '' --write-encoding hex
}

@test "--write-encoding base64: whitespace ignored, padding optional" {
	nk_echo_server srv
	enc_echo 'aGVs\nbG8=\n' 'hello' --write-encoding base64
	enc_echo 'aGVsbG8' 'hello' --write-encoding base64
	enc_echo 'a G V s\r\nb G 8 = \n' 'hello' --write-encoding base64
	enc_echo '+/8=' '\373\377' --write-encoding base64
}

@test "--write-encoding base64 with --encoding hex" {
	nk_echo_server srv
	enc_echo 'AP8QQQ==' '00ff1041' --write-encoding base64 --encoding hex
}

@test "--write-encoding: units split across stdin reads" {
	nk_echo_server srv
	OUT=$BATS_TEST_TMPDIR/out
	{ printf 'aG'; sleep 0.1; printf 'VsbG8'; sleep 0.1; printf '='; } |
	    timeout 10 "$NETKIT" connect --write-encoding base64 127.0.0.1 \
	    "$PORT" >"$OUT"
	[ "$(cat "$OUT")" = "hello" ]
	{ printf '6'; sleep 0.1; printf '8 6'; sleep 0.1; printf '9'; } |
	    timeout 10 "$NETKIT" connect --write-encoding hex 127.0.0.1 \
	    "$PORT" >"$OUT"
	[ "$(cat "$OUT")" = "hi" ]
	enc_want 'h\303\251\360\237\230\200'
	{ printf 'h\303'; sleep 0.1; printf '\251\360\237'; sleep 0.1;
	    printf '\230\200'; } |
	    timeout 10 "$NETKIT" connect --write-encoding utf8 127.0.0.1 \
	    "$PORT" >"$OUT"
	assert_bytes "$OUT" "$WANT"
}

@test "--write-encoding base64, malformed: what came before is sent, exit 1" {
	enc_malformed base64 'aGVsbG8h!QUJD' 'hello!' 8
}

@test "--write-encoding base64, a last quantum of one character: exit 1" {
	enc_malformed base64 'aGVsbG8h\nI\n' 'hello!' 9
}

@test "--write-encoding base64, data after the padding: exit 1" {
	enc_malformed base64 'aGk=\naGk=' 'hi' 5
}

@test "--write-encoding hex, malformed: what came before is sent, exit 1" {
	enc_malformed hex '68656c6c6f zz' 'hello' 11
}

@test "--write-encoding hex, an odd number of digits: exit 1" {
	enc_malformed hex '6869 7\n' 'hi' 5
}

@test "--write-encoding utf8, invalid: what came before is sent, exit 1" {
	enc_malformed utf8 'ok\377!' 'ok' 2
}

@test "--write-encoding utf8, a character cut short at the end: exit 1" {
	enc_malformed utf8 'h\303\251\342\202' 'h\303\251' 3
}

@test "--write-encoding hex on listen, malformed: exit 1" {
	NK_STDIN=$BATS_TEST_TMPDIR/in
	printf '4142x' >"$NK_STDIN"
	nk_listen lis --write-encoding hex
	nk_start peer "$NKPEER" script connect 127.0.0.1 "$PORT" read-all
	nk_wait lis
	[ "$NK_STATUS" = 1 ]
	grep -Eq '^netkit: .*invalid hex at byte 4( |$)' "$(nk_err lis)"
	nk_wait peer
	[ "$NK_STATUS" = 0 ]
	[ "$(cat "$(nk_out peer)")" = "AB" ]
}

@test "unknown encoding names are usage errors (exit 2)" {
	local bad
	for bad in utf16 UTF8 '' base64url ucs2 'hex '; do
		run timeout 10 "$NETKIT" connect --encoding "$bad" 127.0.0.1 9
		[ "$status" = 2 ] || { echo "--encoding '$bad': $status" >&2; return 1; }
		run timeout 10 "$NETKIT" connect --write-encoding "$bad" 127.0.0.1 9
		[ "$status" = 2 ] || { echo "--write-encoding '$bad': $status" >&2; return 1; }
	done
	# ascii is an output encoding only
	run timeout 10 "$NETKIT" connect --write-encoding ascii 127.0.0.1 9
	assert_failure 2
	run timeout 10 "$NETKIT" listen --encoding nope 0
	assert_failure 2
}

@test "--encoding and --write-encoding do not apply to echo (exit 2)" {
	run timeout 10 "$NETKIT" echo -p 0 --encoding hex
	assert_failure 2
	run timeout 10 "$NETKIT" echo -p 0 --write-encoding hex
	assert_failure 2
}
