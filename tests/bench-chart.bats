#!/usr/bin/env bats
#
# scripts/bench-chart: a table of scripts/bench drawn as an SVG chart, on
# small sample tables (the bench itself is not run), and doc/bench.svg,
# the README's chart, made from the README's table.

load helpers

bats_require_minimum_version 1.5.0

top=$BATS_TEST_DIRNAME/..

setup() {
	command -v gnuplot >/dev/null ||
	    skip "gnuplot is not installed (scripts/bootstrap installs gnuplot-nox)"
	CHART=$top/scripts/bench-chart
}

# well_formed SVG: an SVG document that parses as XML.
well_formed() {
	head -c 200 "$1" | grep -q '<?xml'
	grep -q '<svg' "$1"
	if command -v xmllint >/dev/null; then
		xmllint --noout "$1"
	else
		python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$1"
	fi
}

# sample: a table as scripts/bench prints it: met and missed rows, a
# lower-is-better row, an absolute limit, NO DATA and detail lines.
sample() {
	cat <<'TABLE'

netkit 0.1.0 benchmark, 2026-11-30, 2 cores, Linux 6.1.0
medians of 3 runs; ratio = netkit / best peer

cell                                           netkit     best         peer   ratio   target  verdict
bulk tcp up stdin=pipe (GB/s)                   1.462    socat        1.143    1.28    >=1.3  MISSED
bulk unix down stdin=file (GB/s)                6.276    socat        2.942    2.13    >=1.3  met
echo c=1 s=64 (p99 ms)                          0.063     ncat        0.085    0.74      <=1  met
idle RSS per connection (bytes)              669.0000     node    6522.0000    0.10   <=2048  met
tls handshakes per second                         nan     node         1234       -      1.2  NO DATA
udp echo c=16 w=1 (msg/s)                   4.2e+04     node     2.1e+04    2.00       >=2  met
    c=16    netkit=42000 node=21000 socat-rf=20000
isip batch (lines/s)                        3.246e+07     node    1.269e+06   25.58     >=20  met
TABLE
}

@test "a sample table: a well-formed SVG with a bar per row that has a ratio" {
	sample >"$BATS_TEST_TMPDIR/t.txt"
	run "$CHART" "$BATS_TEST_TMPDIR/t.txt" "$BATS_TEST_TMPDIR/t.svg"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	well_formed "$BATS_TEST_TMPDIR/t.svg"
	# Each row's label, with its peer and target; the title line.
	grep -qF 'bulk tcp up stdin=pipe (GB/s) vs socat (&gt;=1.3)' \
	    "$BATS_TEST_TMPDIR/t.svg" ||
	    grep -qF 'bulk tcp up stdin=pipe (GB/s) vs socat (>=1.3)' \
	    "$BATS_TEST_TMPDIR/t.svg"
	grep -qF 'echo c=1 s=64 (p99 ms) vs ncat' "$BATS_TEST_TMPDIR/t.svg"
	grep -qF 'idle RSS per connection (bytes) vs node' "$BATS_TEST_TMPDIR/t.svg"
	grep -qF 'isip batch (lines/s) vs node' "$BATS_TEST_TMPDIR/t.svg"
	grep -qF 'netkit 0.1.0 benchmark, 2026-11-30' "$BATS_TEST_TMPDIR/t.svg"
	# The ratios are written by their bars.
	grep -qF '>25.58<' "$BATS_TEST_TMPDIR/t.svg"
	grep -qF '>0.74<' "$BATS_TEST_TMPDIR/t.svg"
	# No bar for NO DATA, nothing from the detail line.
	run ! grep -qF 'tls handshakes' "$BATS_TEST_TMPDIR/t.svg"
	run ! grep -qF 'socat-rf' "$BATS_TEST_TMPDIR/t.svg"
}

# bars SVG RGB: the filled shapes of colour RGB ("46,139,87"), the
# key's sample among them.
bars() {
	sed 's/ //g' "$1" | grep -c "fill='rgb($2)'"
}

@test "met and missed rows get their own colours" {
	sample >"$BATS_TEST_TMPDIR/t.txt"
	"$CHART" "$BATS_TEST_TMPDIR/t.txt" "$BATS_TEST_TMPDIR/t.svg"
	# 5 met rows and 1 missed, each colour once more in the key.
	[ "$(bars "$BATS_TEST_TMPDIR/t.svg" 46,139,87)" -eq 6 ]
	[ "$(bars "$BATS_TEST_TMPDIR/t.svg" 192,57,43)" -eq 2 ]
	sample | grep -v MISSED >"$BATS_TEST_TMPDIR/m.txt"
	"$CHART" "$BATS_TEST_TMPDIR/m.txt" "$BATS_TEST_TMPDIR/m.svg"
	well_formed "$BATS_TEST_TMPDIR/m.svg"
	[ "$(bars "$BATS_TEST_TMPDIR/m.svg" 46,139,87)" -eq 6 ]
	[ "$(bars "$BATS_TEST_TMPDIR/m.svg" 192,57,43)" -eq 1 ]
}

@test "no row with a ratio, an unreadable table, bad arguments: no chart" {
	sample | sed -n '1,5p' >"$BATS_TEST_TMPDIR/empty.txt"
	run "$CHART" "$BATS_TEST_TMPDIR/empty.txt" "$BATS_TEST_TMPDIR/e.svg"
	[ "$status" -eq 1 ]
	[[ "$output" == "bench-chart: "* ]]
	[ ! -e "$BATS_TEST_TMPDIR/e.svg" ]
	run "$CHART" "$BATS_TEST_TMPDIR/nosuch.txt" "$BATS_TEST_TMPDIR/e.svg"
	[ "$status" -eq 1 ]
	[ ! -e "$BATS_TEST_TMPDIR/e.svg" ]
	run "$CHART" "$BATS_TEST_TMPDIR/empty.txt"
	[ "$status" -eq 2 ]
	[[ "$output" == "usage: "* ]]
}

@test "doc/bench.txt is the README's table, and doc/bench.svg draws every row of it" {
	local readme row n=0
	readme=$(awk '/^## Performance/ { on = 1 } on && /^```$/ { if (in_) exit;
	    in_ = 1; next } in_' "$top/README.md")
	[ -n "$readme" ]
	[ "$readme" = "$(cat "$top/doc/bench.txt")" ]
	grep -qF '](doc/bench.svg)' "$top/README.md"
	well_formed "$top/doc/bench.svg"
	while IFS= read -r row; do
		n=$((n + 1))
		grep -qF "$row vs " "$top/doc/bench.svg" || {
			echo "no bar for: $row" >&2
			return 1
		}
	done < <(awk '/^cell/ { on = 1; next } on && NF && /^[^ ]/' \
	    "$top/doc/bench.txt" | sed -E 's/  +.*//')
	[ "$n" -ge 20 ]
}
