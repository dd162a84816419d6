#!/usr/bin/env bats
#
# Bad input on the command line, table-driven: every option that takes a
# value, on listen, connect, echo and isip, given junk. Each case must end
# within 5 s (no hang), by an exit status (no signal), with nothing on
# stdout and exactly one line on stderr starting with "netkit: ": exit 2
# for a usage error, 1 for a runtime failure (a host that does not
# resolve, a path whose directory is missing).
#
# A table is data, one case per line: the expected exit status (an
# extended regex: 2, 1, 1|2), then the arguments of netkit in shell
# quoting ($'..' for odd bytes; $T, $H300 and the like are expanded).
# A "@" in the arguments stands for each value of a list in turn.

load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	H300=$(printf 'a%.0s' {1..300})
	H2000=$(printf 'b%.0s' {1..2000})
	# UNIX paths of 108 (one more than sun_path holds) and 200 bytes.
	P108=$T/$(printf 's%.0s' $(seq $((107 - ${#T}))))
	P200=$T/$(printf 's%.0s' $(seq $((199 - ${#T}))))
	printf 'a regular file\n' >"$T/file"
	WRAP=()
	FAILS=()
	NCASES=0
}

# try_case WANT ARGS...: run "netkit ARGS" (under "${WRAP[@]}" when set)
# with stdin from /dev/null and a 5 s timeout; on a wrong outcome, add a
# description to FAILS.
try_case() {
	local want=$1 status=0 why='' err=''
	shift
	NCASES=$((NCASES + 1))
	timeout -k 1 5 "${WRAP[@]}" "$NETKIT" "$@" </dev/null \
	    >"$T/case.out" 2>"$T/case.err" || status=$?
	IFS= read -r -d '' err <"$T/case.err" || true
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		why="hung (killed after 5 s)"
	elif [ "$status" -ge 128 ]; then
		why="killed by signal $((status - 128))"
	elif ! [[ "$status" =~ ^($want)$ ]]; then
		why="exit $status, want $want"
	elif [[ "$err" != *$'\n' || "${err%$'\n'}" == *$'\n'* ]]; then
		why="not exactly one line on stderr"
	elif [[ "$err" != "netkit: "* ]]; then
		why="stderr does not start with 'netkit: '"
	elif [ -s "$T/case.out" ]; then
		why="output on stdout"
	fi
	[ -z "$why" ] && return 0
	FAILS+=("netkit $(printf '%q ' "$@")
    -> $why; status $status; stderr $(printf '%q' "${err:0:300}")")
}

# check_table [VALUE...]: run each case of the table on stdin; a case
# with "@" runs once for each VALUE, "@" replaced by it.
check_table() {
	local line want v i
	local -a args cur
	while IFS= read -r line; do
		[[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
		want=${line%%[[:space:]]*}
		eval "args=(${line#"$want"})"
		if [[ "$line" != *@* ]]; then
			try_case "$want" "${args[@]}"
			continue
		fi
		for v in "$@"; do
			cur=()
			for i in "${args[@]}"; do
				cur+=("${i//@/$v}")
			done
			try_case "$want" "${cur[@]}"
		done
	done
}

# report: fail with every wrong case, one per paragraph.
report() {
	if [ "${#FAILS[@]}" -gt 0 ]; then
		printf '%s\n' "${#FAILS[@]} of $NCASES cases wrong:" "${FAILS[@]}" >&2
		return 1
	fi
	echo "# $NCASES cases" >&3
}

# --- ports -----------------------------------------------------------------

BAD_PORTS=('' abc -1 65536 99999 +80 0x50 ' 80' '80 ' 8O 123456 1.5 '8 0')

@test "bad ports on listen, connect and echo: exit 2, one line" {
	check_table "${BAD_PORTS[@]}" <<'EOF'
2 listen @
2 listen 127.0.0.1 @
2 listen -p @
2 listen --port @
2 listen --port=@
2 listen -H 127.0.0.1 -p @
2 connect @
2 connect 127.0.0.1 @
2 connect -p @
2 connect -H 127.0.0.1 --port=@
2 echo -p @
2 echo --port @
2 echo --port=@
2 echo -H 127.0.0.1 -p @
EOF
	check_table <<'EOF'
# Port 0 is for binding only.
2 connect 0
2 connect 127.0.0.1 0
2 connect -p 0
2 connect -H 127.0.0.1 -p 00000
EOF
	report
}

# --- numbers ---------------------------------------------------------------

BAD_NUMBERS=(abc 12abc 99999999999999999999 -1 '' ' 5' '5 ' +5 0x10 1e3
    1.5 9223372036854775808)

@test "bad numbers (-t, -w, -m, --retry=, --keepalive=, --buffer-size, --fd): exit 2" {
	check_table "${BAD_NUMBERS[@]}" <<'EOF'
2 listen -t @ 0
2 listen --timeout=@ 0
2 listen --keepalive=@ 0
2 listen -m @ 0
2 listen --max-connections=@ 0
2 listen --retry=@ 0
2 listen --buffer-size @ 0
2 listen --buffer-size=@ 0
2 listen --fd @
2 connect -t @ 127.0.0.1 1
2 connect -w @ 127.0.0.1 1
2 connect --connect-timeout=@ 127.0.0.1 1
2 connect --keepalive=@ 127.0.0.1 1
2 connect --retry=@ 127.0.0.1 1
2 connect --buffer-size @ 127.0.0.1 1
2 connect --fd @
2 echo -t @ -p 0
2 echo --keepalive=@ -p 0
2 echo -m @ -p 0
2 echo --retry=@ -p 0
2 echo --buffer-size=@ -p 0
2 echo --fd @
EOF
	check_table <<'EOF'
# Zero where zero means nothing sensible.
2 listen -m 0 0
2 echo -m 0 -p 0
2 listen --buffer-size 0 0
2 connect --buffer-size 0 127.0.0.1 1
2 echo --buffer-size 0 -p 0
EOF
	report
}

# --- hosts -----------------------------------------------------------------

@test "hosts that do not resolve, too long, with odd bytes: exit 1, one line" {
	check_table nosuch.invalid "$H300" "$H2000" $'\xff\xfe' $'a\tb' \
	    $'a\rb' $'\e[31mred' <<'EOF'
1 connect @ 80
1 connect -H @ -p 80
1 listen @ 0
1 listen -H @ -p 0
1 echo -H @ -p 0
EOF
	check_table <<'EOF'
# An address of the other family, an address this host does not have.
1 connect -4 ::1 80
1 connect -6 127.0.0.1 80
1 listen -6 127.0.0.1 0
1 echo -4 -H ::1 -p 0
1 listen 192.0.2.1 0
1 echo -H 192.0.2.1 -p 0
# The empty host.
2 connect '' 80
2 listen -H '' 0
2 echo -H '' -p 0
EOF
	report
}

# --- UNIX paths ------------------------------------------------------------

@test "UNIX paths: longer than sun_path, missing directory, under a file, nowhere to write" {
	# Too long: ENAMETOOLONG at runtime or a usage error, either way one
	# line and no socket made.
	check_table <<'EOF'
1|2 listen -U $P108
1|2 listen -U $P200
1|2 echo -U $P108
1|2 connect -U $P108
1|2 connect -U $P200
1 listen -U $T/missing/x.sock
1 echo -U $T/missing/x.sock
1 connect -U $T/missing/x.sock
1 listen -U $T/file/x.sock
1 echo -U $T/file/x.sock
1 connect -U $T/file/x.sock
# A directory where not even root may make a file.
1 listen -U /proc/1/netkit-test.sock
1 echo -U /proc/1/netkit-test.sock
# Something that is not a listening socket.
1 connect -U $T/file
1 connect -U $T
1 connect -U /dev/null
2 listen -U ''
2 echo -U ''
2 connect -U ''
EOF
	report
	[ ! -e "$P108" ] && [ ! -e "$P200" ]
}

@test "UNIX paths: the longest path that fits (107 bytes) works" {
	local p107
	p107=$T/$(printf 'k%.0s' $(seq $((106 - ${#T}))))
	[ "${#p107}" -eq 107 ]
	nk_start srv "$NETKIT" echo -U "$p107" --events
	nk_wait_line srv '^event=server\.listening '
	run timeout 5 "$NKPEER" script connect -U "$p107" send:fits shut-wr read-all
	assert_success
	assert_output fits
	nk_signal srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
	[ ! -e "$p107" ]
}

@test "UNIX paths: a directory without permission (as an unprivileged user)" {
	local d
	if [ "$(id -u)" -eq 0 ]; then
		command -v setpriv >/dev/null ||
		    skip "running as root and setpriv is not installed"
		WRAP=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		# nobody must reach netkit and the directories.
		"${WRAP[@]}" test -x "$NETKIT" ||
		    skip "nobody cannot run $NETKIT"
	fi
	d=$(mktemp -d /tmp/nk-badinput.XXXXXX)
	chmod 755 "$d"
	mkdir "$d/locked" "$d/readonly"
	chmod 000 "$d/locked"
	chmod 555 "$d/readonly"
	check_table <<EOF
1 listen -U $d/locked/x.sock
1 echo -U $d/locked/x.sock
1 connect -U $d/locked/x.sock
1 listen -U $d/readonly/x.sock
1 echo -U $d/readonly/x.sock
EOF
	local ok=0
	report || ok=1
	grep -q EACCES "$T/case.err" || { echo "no EACCES: $(cat "$T/case.err")" >&2; ok=1; }
	chmod 755 "$d/locked" "$d/readonly"
	[ -z "$(find "$d" -mindepth 2)" ] || { find "$d" >&2; ok=1; }
	rm -rf "$d"
	[ "$ok" -eq 0 ]
}

# --- descriptors -----------------------------------------------------------

@test "--fd on closed, non-socket and wrong-kind descriptors: exit 2, one line" {
	need_python
	# withfds CMD...: CMD with descriptors of each kind: 4 a listening
	# TCP socket, 5 a regular file, 6 a connected TCP socket, 8 a UDP
	# socket, 9 closed, 10 an unbound TCP socket, 11 a pipe, 12 a
	# bound, unlistened UNIX socket.
	{
		echo "#!$PY"
		cat <<'PY'
import fcntl, os, socket, sys
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen()
con = socket.create_connection(lst.getsockname())
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
tcp = socket.socket()
r, w = os.pipe()
f = os.open("/etc/hostname", os.O_RDONLY)
un = socket.socket(socket.AF_UNIX); un.bind(sys.argv[1])
kinds = {4: lst, 5: f, 6: con, 8: udp, 10: tcp, 11: r, 12: un}
high = {k: fcntl.fcntl(v if isinstance(v, int) else v.fileno(),
                       fcntl.F_DUPFD_CLOEXEC, 50) for k, v in kinds.items()}
for k, v in high.items():
    os.dup2(v, k)
try:
    os.close(9)
except OSError:
    pass
os.execvp(sys.argv[2], sys.argv[2:])
PY
	} >"$T/withfds"
	chmod +x "$T/withfds"
	# A fresh UNIX path for each case: the wrapper binds it.
	# shellcheck disable=SC2016
	WRAP=(bash -c 'exec "$0" "$(mktemp -u "$1/u.XXXXXX")" "${@:2}"' "$T/withfds" "$T")
	check_table <<'EOF'
2 listen --fd 5
2 listen --fd 6
2 listen --fd 8
2 listen --fd 9
2 listen --fd 10
2 listen --fd 11
2 listen --fd 12
2 echo --fd 5
2 echo --fd 6
2 echo --fd 8
2 echo --fd 9
2 echo --fd 10
2 echo --fd 11
2 echo --fd 12
2 connect --fd 4
2 connect --fd 5
2 connect --fd 8
2 connect --fd 9
2 connect --fd 10
2 connect --fd 11
2 connect --fd 12
2 listen --fd 1000000
2 connect --fd 2147483647
EOF
	report
}

# --- conflicts, encodings, flags, missing values, unknown words -------------

@test "conflicting options: exit 2, one line, nothing made" {
	check_table <<'EOF'
2 listen -U $T/x.sock -p 0
2 listen -p 0 -U $T/x.sock
2 listen -U $T/x.sock 0
2 listen -U $T/x.sock 127.0.0.1 0
2 listen -U $T/x.sock -H 127.0.0.1
2 echo -U $T/x.sock -p 0
2 echo -U $T/x.sock -H 127.0.0.1
2 connect -U $T/x.sock 80
2 connect -U $T/x.sock 127.0.0.1 80
2 connect -U $T/x.sock -H localhost
2 listen -4 -6 0
2 listen -6 -4 0
2 connect -4 -6 127.0.0.1 80
2 echo -4 -6 -p 0
2 listen -4 -U $T/x.sock
2 connect -6 -U $T/x.sock
2 listen --fd 3 -U $T/x.sock
2 echo -U $T/x.sock --fd 3
2 connect --fd 3 -U $T/x.sock
2 listen --fd 3 -p 0
2 listen --fd 3 127.0.0.1 0
2 echo --fd 3 -p 0
2 connect --fd 3 127.0.0.1 80
2 connect -k 127.0.0.1 80
2 connect --keep-open 127.0.0.1 80
2 connect -m 1 127.0.0.1 80
2 listen -w 100 0
2 echo -w 100 -p 0
2 echo -e cat -p 0
2 echo -k -p 0
2 echo --encoding hex -p 0
2 echo --write-encoding hex -p 0
2 echo --no-shutdown -p 0
2 echo --send-fd /etc/hostname -U $T/x.sock
2 echo --recv-fd -U $T/x.sock
2 listen -e cat --encoding hex 0
2 listen --encoding hex -e cat 0
2 listen -e cat --write-encoding base64 0
2 connect -e cat --encoding utf8 127.0.0.1 80
2 connect --write-encoding hex -e cat 127.0.0.1 80
2 listen -k --encoding base64 0
2 listen -e cat --recv-fd -U $T/x.sock
2 listen --send-fd /etc/hostname 0
2 connect --recv-fd 127.0.0.1 80
2 connect --send-fd /etc/hostname 127.0.0.1 80
EOF
	report
	[ ! -e "$T/x.sock" ]
}

@test "unknown encodings and formats, values given to flags, missing values: exit 2" {
	check_table <<'EOF'
2 listen --encoding bogus 0
2 listen --encoding '' 0
2 listen --encoding 'utf8 ' 0
2 connect --encoding base65 127.0.0.1 80
2 connect --write-encoding bogus 127.0.0.1 80
2 connect --write-encoding '' 127.0.0.1 80
2 connect --write-encoding ascii 127.0.0.1 80
2 listen --write-encoding $'\xff' 0
2 listen --on-timeout bogus 0
2 listen --on-timeout '' 0
2 echo --on-timeout END -p 0
2 echo --events=xml -p 0
2 echo --events= -p 0
2 connect --events=json5 127.0.0.1 80
2 listen --no-delay=1 0
2 listen --no-delay= 0
2 listen --allow-half-open=yes 0
2 listen --no-shutdown=1 0
2 listen --keep-open=1 0
2 listen --recv-fd=1 -U $T/x.sock
2 connect --no-delay=1 127.0.0.1 80
2 connect --no-shutdown=0 127.0.0.1 80
2 echo --no-delay=1 -p 0
2 echo --verbose=1 -p 0
2 echo --quiet=1 -p 0
2 echo --help=1
2 listen -p
2 listen 127.0.0.1 -H
2 connect 127.0.0.1 80 -w
2 connect 127.0.0.1 80 -t
2 connect --encoding
2 echo --fd
2 echo -p 0 -m
2 listen -e
2 listen 0 --on-timeout
2 connect -U
2 listen --bogus 0
2 listen --bogus=1 0
2 connect -z 127.0.0.1 80
2 echo -p 0 -x
2 echo -p 0 -
2 listen 127.0.0.1 0 extra
2 echo extra -p 0
2 echo -- -p 0
2 lis
2 LISTEN
2 listen2
2 ''
2 $'\xff'
2 --bogus
2 -x
EOF
	report
}

@test "values with a newline are reported on one line" {
	check_table <<'EOF'
1 connect $'a\nb' 80
1 listen -H $'a\nb' 0
1 echo -H $'a\nb' -p 0
1 listen -U "$T"$'/missing\n/x.sock'
2 connect --encoding $'hex\n' 127.0.0.1 80
2 listen -p $'8\n0'
2 listen -t $'1\n2' 0
2 echo --retry=$'1\n' -p 0
2 connect --encoding $'a\nb' 127.0.0.1 80
2 listen --on-timeout $'end\n' 0
2 echo -p 0 --events=$'json\n'
2 listen $'--bo\ngus' 0
2 $'lis\nten'
2 echo -p 0 $'x\ny'
EOF
	report
}

# --- isip ------------------------------------------------------------------

@test "isip usage errors: exit 2, one line" {
	check_table <<'EOF'
2 isip -4 -6
2 isip -6 -4 ::1
2 isip -x
2 isip --bogus
2 isip --quiet=1
2 isip -q=1
2 isip -p 80
2 isip -U /tmp/x
EOF
	report
}

@test "isip: odd addresses are not IPs (0, exit 1), no stderr, no hang" {
	local a status
	for a in '' ' ' "$H300" "$H2000" $'\xff\xfe' $'1.2.3.4\t' $'::1\n' \
	    $'1.2.3.4\r' ' 1.2.3.4' '1.2.3.4 ' 99999999999999999999 \
	    '1.2.3.4.5' '256.1.1.1' '::1::' '[::1]' $'\e[31m'; do
		status=0
		timeout 5 "$NETKIT" isip "$a" >"$T/o" 2>"$T/e" || status=$?
		if [ "$status" -ne 1 ] || [ "$(cat "$T/o")" != 0 ] || [ -s "$T/e" ]; then
			FAILS+=("isip $(printf '%q' "$a"): status $status, stdout $(od -An -c "$T/o" | head -c 80), stderr $(head -c 200 "$T/e")")
		fi
	done
	# The same on stdin, as a batch: one 0 per line, exit 1.
	status=0
	printf '%s\n' "$H2000" $'\xff\xfe' $'a\tb' '' |
	    timeout 5 "$NETKIT" isip >"$T/o" 2>"$T/e" || status=$?
	[ "$status" -eq 1 ] && [ "$(cat "$T/o")" = $'0\n0\n0\n0' ] && [ ! -s "$T/e" ] ||
	    FAILS+=("isip on stdin: status $status, stdout $(tr '\n' ' ' <"$T/o"), stderr $(cat "$T/e")")
	# A line of 1 MiB without a newline ends too.
	status=0
	head -c 1048576 /dev/zero | tr '\0' 1 |
	    timeout 5 "$NETKIT" isip >"$T/o" 2>"$T/e" || status=$?
	[ "$status" -eq 1 ] && [ "$(cat "$T/o")" = 0 ] ||
	    FAILS+=("isip, one 1 MiB line: status $status, stdout $(head -c 50 "$T/o"), stderr $(head -c 200 "$T/e")")
	NCASES=19
	report
}
