#!/usr/bin/env bats
#
# netkit isip: net.isIP(), net.isIPv4() and net.isIPv6() of Node 20.

load helpers

bats_require_minimum_version 1.5.0

# The bash -c snippets below run it too.
export NETKIT

# The hand-picked cases: the answer of Node 20's net.isIP(), a space, then
# the address as printf %b reads it (\r, \t, \x20, \x00, \\). The answers
# were taken from node and are hard-coded, so these tests need no node.
isip_table() {
	cat <<-'EOF'
	4 127.0.0.1
	4 0.0.0.0
	4 255.255.255.255
	0 256.0.0.0
	0 1.2.3.256
	0 01.2.3.4
	0 1.02.3.4
	0 1.2.03.4
	0 1.2.3.00
	4 1.2.3.0
	4 10.0.0.1
	4 192.168.1.1
	0 1.2.3
	0 1.2.3.4.
	0 .1.2.3.4
	0 1.2.3.4.5
	0 \x201.2.3.4
	0 1.2.3.4\x20
	0 1..2.3
	0 1.2.3.4\r
	0 1.2.3.4\t
	0 1.2.3.-1
	0 1.2.3.+1
	0 0x1.2.3.4
	0 1.2.3.4/24
	0 1.2.3.4:80
	0 1e1.2.3.4
	0 999.1.1.1
	0 1000.1.1.1
	4 25.5.25.5
	4 249.250.251.252
	4 199.200.201.209
	0 255.255.255.256
	0 1.2.3.4%eth0
	0 ١.٢.٣.٤
	0 １.２.３.４
	0 0.0.0.00
	0 00.0.0.0
	0 127.1
	0 4294967295
	6 ::
	6 ::1
	6 1::
	0 :::
	6 1:2:3:4:5:6:7:8
	0 1:2:3:4:5:6:7:8:9
	0 1:2:3:4:5:6:7
	6 1:2:3:4:5:6:7::
	0 1:2:3:4:5:6:7:8::
	6 ::1:2:3:4:5:6:7
	0 ::1:2:3:4:5:6:7:8
	6 1::2:3:4:5:6:7
	0 1::2::3
	6 ::ffff:1.2.3.4
	6 ::FFFF:1.2.3.4
	6 ::1.2.3.4
	0 ::ffff:01.2.3.4
	6 ::ffff:255.255.255.255
	0 ::ffff:256.0.0.0
	6 1:2:3:4:5:6:1.2.3.4
	0 1:2:3:4:5:6:7:1.2.3.4
	6 1:2:3:4:5::1.2.3.4
	0 1:2:3:4:5:6::1.2.3.4
	6 1:2:3:4::5:1.2.3.4
	6 1::1.2.3.4
	6 a:b:c:d:e:f:1.2.3.4
	0 1.2.3.4::
	0 1.2.3.4::1
	0 ::1.2.3.4:1
	0 ::1.2.3
	0 ::1.2.3.4.5
	0 ::1.2.3.04
	6 fe80::1%eth0
	0 fe80::1%
	0 fe80::1%%
	0 fe80::1%eth0%1
	0 fe80::1%eth_0
	0 fe80::1%eth 0
	6 fe80::1%ETH0
	6 fe80::1%-
	6 fe80::1%:
	6 fe80::1%.
	0 fe80::1%é
	0 fe80::1%eth0\r
	6 ::%eth0
	6 ::1%1
	6 ::1%a.b-c:d
	6 1:2:3:4:5:6:7:8%eth0
	6 1:2:3:4:5:6:1.2.3.4%z
	0 %eth0
	0 [::1]
	0 [::1]:80
	6 ABCD:EF01:2345:6789:abcd:ef01:2345:6789
	6 FFFF::
	6 fFfF::fFfF
	0 12345::
	0 1:2:3:4:5:6:7:12345
	6 0000:0000:0000:0000:0000:0000:0000:0001
	0 00000::1
	0 g::1
	0 ::g
	0 :1
	0 1:
	0 :1::
	0 ::1:
	0 1:::2
	0 \x20::1
	0 ::1\x20
	0 ::1\r
	6 2001:db8::
	6 2001:db8:0:0:0:0:2:1
	6 2001:0db8:85a3:0000:0000:8a2e:0370:7334
	0 1:2:3:4:5:6:7:8:
	0 :1:2:3:4:5:6:7:8
	0 ::1\\
	0 1.2.3.4\\
	0 1.2.3.4\x00
	0 \x00::1
	0 fe80::1%eth\x000
	EOF
}

# Print each address of the table, decoded, one per line.
isip_table_addresses() {
	local line

	isip_table | while IFS= read -r line; do
		printf '%b\n' "${line#* }"
	done
}

# Print the expected answer for each address of the table; $1 is "", -4 or -6.
isip_table_answers() {
	local line

	isip_table | while IFS= read -r line; do
		case "$1:${line%% *}" in
		-4:4 | -6:6) echo true ;;
		-4:* | -6:*) echo false ;;
		*) echo "${line%% *}" ;;
		esac
	done
}

@test "isip: the table has enough cases of each kind" {
	run isip_table_answers
	[ "${#lines[@]}" -ge 80 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^4$')" -ge 5 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^6$')" -ge 20 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^0$')" -ge 40 ]
}

@test "isip: the table from stdin, one answer per line" {
	local mode

	isip_table_addresses > "$BATS_TEST_TMPDIR/in"
	for mode in "" -4 -6; do
		isip_table_answers $mode > "$BATS_TEST_TMPDIR/want"
		run timeout 10 "$NETKIT" isip $mode < "$BATS_TEST_TMPDIR/in"
		assert_failure 1
		diff <(paste -d' ' "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/in") \
		    <(printf '%s\n' "$output" | paste -d' ' - "$BATS_TEST_TMPDIR/in")
	done
}

# Run "netkit isip $1 $2" and check its output is $3 and its status $4.
isip_expect() {
	local out st=0

	out=$("$NETKIT" isip $1 "$2") || st=$?
	[ "$out" = "$3" ] && [ "$st" -eq "$4" ] ||
	    fail "isip $1 '$2': got '$out' exit $st, want '$3' exit $4"
}

@test "isip: the table as operands, one at a time, with exit status" {
	local line addr want

	while IFS= read -r line; do
		case "$line" in *'\x00'*) continue ;; esac
		addr=$(printf '%b.' "${line#* }")
		addr=${addr%.}
		want=${line%% *}
		case $want in
		4)
			isip_expect "" "$addr" 4 0
			isip_expect -4 "$addr" true 0
			isip_expect -6 "$addr" false 1
			;;
		6)
			isip_expect "" "$addr" 6 0
			isip_expect -4 "$addr" false 1
			isip_expect -6 "$addr" true 0
			;;
		*)
			isip_expect "" "$addr" 0 1
			isip_expect -4 "$addr" false 1
			isip_expect -6 "$addr" false 1
			;;
		esac
	done < <(isip_table)
}

@test "isip 127.0.0.1 prints 4 and exits 0" {
	run --separate-stderr "$NETKIT" isip 127.0.0.1
	assert_success
	assert_output 4
	[ -z "$stderr" ]
}

@test "isip -6 ::1 prints true" {
	run "$NETKIT" isip -6 ::1
	assert_success
	assert_output true
}

@test "isip -4 ::1 prints false and exits 1" {
	run "$NETKIT" isip -4 ::1
	assert_failure 1
	assert_output false
}

@test "isip 01.2.3.4 prints 0 and exits 1 (no leading zeros)" {
	run --separate-stderr "$NETKIT" isip 01.2.3.4
	assert_failure 1
	assert_output 0
	[ -z "$stderr" ]
}

@test "isip -- -1 prints 0" {
	run "$NETKIT" isip -- -1
	assert_failure 1
	assert_output 0
}

@test "isip with several operands: one line each, exit 1 if any is invalid" {
	run "$NETKIT" isip 1.2.3.4 ::1 fe80::1%eth0 x
	assert_failure 1
	assert_output "$(printf '4\n6\n6\n0')"
	run "$NETKIT" isip 1.2.3.4 ::1
	assert_success
	assert_output "$(printf '4\n6')"
	run "$NETKIT" isip -6 ::1 1.2.3.4
	assert_failure 1
	assert_output "$(printf 'true\nfalse')"
}

@test "isip -4 -6 is a usage error: exit 2, one line on stderr" {
	run --separate-stderr "$NETKIT" isip -4 -6 1.2.3.4
	assert_failure 2
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: isip: "* ]]
	run --separate-stderr "$NETKIT" isip -46 < /dev/null
	assert_failure 2
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "isip: an unknown option is a usage error" {
	run --separate-stderr "$NETKIT" isip -x 1.2.3.4
	assert_failure 2
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	run --separate-stderr "$NETKIT" isip --bogus
	assert_failure 2
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "isip --help prints the usage and exits 0" {
	run --separate-stderr "$NETKIT" isip --help
	assert_success
	assert_line --index 0 "usage: netkit isip [-4 | -6] [-q] [ADDRESS ...]"
	assert_output --partial -- "-q"
	[ -z "$stderr" ]
	run "$NETKIT" isip -h
	assert_success
	assert_line --index 0 "usage: netkit isip [-4 | -6] [-q] [ADDRESS ...]"
}

@test "isip -q prints nothing but keeps the exit status" {
	run --separate-stderr "$NETKIT" isip -q 1.2.3.4 ::1
	assert_success
	[ -z "$output" ] && [ -z "$stderr" ]
	run --separate-stderr "$NETKIT" isip -q 1.2.3.4 01.2.3.4
	assert_failure 1
	[ -z "$output" ] && [ -z "$stderr" ]
	run -1 "$NETKIT" isip -q -4 ::1
	[ -z "$output" ]
	run bash -c 'printf "::1\n1.2.3.4\n" | timeout 10 "$NETKIT" isip -q'
	assert_success
	[ -z "$output" ]
	run bash -c 'printf "::1\nnope\n" | timeout 10 "$NETKIT" isip -q'
	assert_failure 1
	[ -z "$output" ]
}

@test "isip: stdin lines with CRLF endings are invalid (\\r is part of the address)" {
	run bash -c 'printf "1.2.3.4\r\n::1\r\n1.2.3.4\n" | timeout 10 "$NETKIT" isip'
	assert_failure 1
	assert_output "$(printf '0\n0\n4')"
}

@test "isip: stdin, all valid, exits 0; one invalid line makes it 1" {
	run bash -c 'printf "1.2.3.4\n::1\nfe80::1%%lo\n" | timeout 10 "$NETKIT" isip'
	assert_success
	assert_output "$(printf '4\n6\n6')"
	run bash -c 'printf "::1\n::1\n" | timeout 10 "$NETKIT" isip -6'
	assert_success
	assert_output "$(printf 'true\ntrue')"
	run bash -c 'printf "1.2.3.4\n::1\n" | timeout 10 "$NETKIT" isip -4'
	assert_failure 1
	assert_output "$(printf 'true\nfalse')"
}

@test "isip: an empty line is the address \"\" and a last line without newline counts" {
	run bash -c 'printf "\n::1\n\n1.2.3.4" | timeout 10 "$NETKIT" isip'
	assert_failure 1
	assert_output "$(printf '0\n6\n0\n4')"
	run bash -c 'printf "\n" | timeout 10 "$NETKIT" isip'
	assert_failure 1
	assert_output 0
	run "$NETKIT" isip ""
	assert_failure 1
	assert_output 0
}

@test "isip: no input at all exits 0 with no output" {
	run --separate-stderr bash -c 'printf "" | timeout 10 "$NETKIT" isip'
	assert_success
	[ -z "$output" ] && [ -z "$stderr" ]
	run --separate-stderr timeout 10 "$NETKIT" isip < /dev/null
	assert_success
	[ -z "$output" ] && [ -z "$stderr" ]
	# bash -c: bats' run would hand a descriptor of its own on as fd 0.
	run --separate-stderr bash -c 'timeout 10 "$NETKIT" isip -4 <&-'
	assert_success
	[ -z "$output" ] && [ -z "$stderr" ]
}

@test "isip: a 3 MiB line is one answer" {
	local tmp=$BATS_TEST_TMPDIR

	{ echo 1.2.3.4; head -c 3145728 /dev/zero | tr '\0' 1; echo; echo ::1; } > "$tmp/in"
	run timeout 10 "$NETKIT" isip < "$tmp/in"
	assert_failure 1
	assert_output "$(printf '4\n0\n6')"
	# The same without the final newline.
	{ echo ::1; head -c 3145728 /dev/zero | tr '\0' 1; } > "$tmp/in"
	run timeout 10 "$NETKIT" isip -6 < "$tmp/in"
	assert_failure 1
	assert_output "$(printf 'true\nfalse')"
}

@test "isip: a 3 MiB zone id is still a valid IPv6 address, as in Node" {
	local tmp=$BATS_TEST_TMPDIR

	{ printf 'fe80::1%%'; head -c 3145728 /dev/zero | tr '\0' a; echo; } > "$tmp/in"
	{ printf 'fe80::1%%'; head -c 3145728 /dev/zero | tr '\0' a; echo _; } >> "$tmp/in"
	{ head -c 3145728 /dev/zero | tr '\0' a; echo ::1%a; } >> "$tmp/in"
	{ printf 'fe80::1%%'; head -c 1048576 /dev/zero | tr '\0' a; } >> "$tmp/in"
	run timeout 10 "$NETKIT" isip < "$tmp/in"
	assert_failure 1
	assert_output "$(printf '6\n0\n0\n6')"
	run timeout 10 "$NETKIT" isip -4 < "$tmp/in"
	assert_output "$(printf 'false\nfalse\nfalse\nfalse')"
	run timeout 10 "$NETKIT" isip -6 < "$tmp/in"
	assert_output "$(printf 'true\nfalse\nfalse\ntrue')"
}

@test "isip: lines split across reads are answered whole" {
	run bash -c '{ printf "1.2."; sleep 0.2; printf "3.4\n::"; sleep 0.2; printf "1\n"; } |
	    timeout 10 "$NETKIT" isip'
	assert_success
	assert_output "$(printf '4\n6')"
}

@test "isip: answers come as lines arrive, not only at the end of input" {
	local fifo=$BATS_TEST_TMPDIR/fifo line pid feed

	mkfifo "$fifo"
	coproc ISIP { timeout 10 "$NETKIT" isip < "$fifo"; }
	pid=$ISIP_PID
	exec {feed}> "$fifo"
	echo ::1 >&"$feed"
	IFS= read -r -t 5 line <&"${ISIP[0]}"
	[ "$line" = 6 ]
	echo 1.2.3.4 >&"$feed"
	IFS= read -r -t 5 line <&"${ISIP[0]}"
	[ "$line" = 4 ]
	exec {feed}>&-
	wait "$pid"
}

@test "isip: a broken pipe on stdout is one error line and exit 1" {
	run --separate-stderr bash -c 'yes ::1 2> /dev/null | head -c 20000000 2> /dev/null |
	    { timeout 10 "$NETKIT" isip; echo "status=$?" >&2; } | head -n 1'
	assert_output 6
	assert_equal "${#stderr_lines[@]}" 2
	assert_equal "${stderr_lines[0]}" "netkit: isip stdout: Broken pipe (EPIPE)"
	assert_equal "${stderr_lines[1]}" "status=1"
}

@test "isip: a write error on stdout is one error line and exit 1" {
	[ -w /dev/full ] || skip "no /dev/full"
	run --separate-stderr bash -c '"$NETKIT" isip ::1 > /dev/full'
	assert_failure 1
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "netkit: isip stdout: "*"(ENOSPC)" ]]
	run --separate-stderr bash -c 'seq 100000 | timeout 10 "$NETKIT" isip > /dev/full'
	assert_failure 1
	assert_equal "$stderr" "netkit: isip stdout: No space left on device (ENOSPC)"
	# Nothing to write, nothing to fail.
	run --separate-stderr bash -c '"$NETKIT" isip -q ::1 < /dev/null > /dev/full'
	assert_success
	[ -z "$stderr" ]
}

@test "isip: the generated corpus agrees with node's net.isIP, isIPv4, isIPv6" {
	command -v node > /dev/null || skip "node not installed"
	local tmp=$BATS_TEST_TMPDIR corpus=$BATS_TEST_DIRNAME/isip-corpus.js mode

	node "$corpus" > "$tmp/corpus"
	[ "$(wc -l < "$tmp/corpus")" -ge 20000 ]
	for mode in "" -4 -6; do
		node "$corpus" --node $mode < "$tmp/corpus" > "$tmp/want"
		status=0
		timeout 30 "$NETKIT" isip $mode < "$tmp/corpus" > "$tmp/got" ||
		    status=$?
		assert_equal "$status" 1
		cmp -s "$tmp/want" "$tmp/got" || {
			paste "$tmp/want" "$tmp/got" "$tmp/corpus" |
			    awk -F'\t' '$1 != $2' | head -n 20
			fail "netkit isip $mode disagrees with node"
		}
	done
	# The corpus exercises every answer, not mostly one.
	node "$corpus" --node < "$tmp/corpus" | sort | uniq -c > "$tmp/counts"
	awk '$1 < 2000 { exit 1 }' "$tmp/counts"
	[ "$(wc -l < "$tmp/counts")" -eq 3 ]
}
