#!/usr/bin/env bats
#
# The command line: help, version, command lookup, usage errors, and the
# agreement between "netkit ... --help" and the manual page. Nothing here
# opens a socket that stays open.
#
# stderr and stderr_lines are set by bats' run --separate-stderr.
# shellcheck disable=SC2154

load helpers

bats_require_minimum_version 1.5.0

COMMANDS="listen connect echo scan forward isip"

# cli_usage_error CMD...: run netkit; it must exit 2 with nothing on
# stdout and exactly one line on stderr, starting with "netkit: ".
cli_usage_error() {
	run --separate-stderr timeout 10 "$NETKIT" "$@"
	if [ "$status" -ne 2 ] || [ -n "$output" ] ||
	    [ "${#stderr_lines[@]}" -ne 1 ] ||
	    [[ "$stderr" != "netkit: "* ]]; then
		{
			echo "netkit $*: expected exit 2 and one 'netkit: ' line on stderr"
			echo "status: $status"
			echo "stdout: $output"
			echo "stderr: $stderr"
		} >&2
		return 1
	fi
}

# cli_help_synopsis ARGS...: the synopsis lines that "netkit ARGS" prints
# (the "usage: " line and its continuation lines), as "netkit ..." lines.
cli_help_synopsis() {
	"$NETKIT" "$@" | awk '
		NR == 1 { if (!sub(/^usage: /, "")) exit 1; print; next }
		/^ +netkit / { sub(/^ +/, ""); print; next }
		{ exit }'
}

# cli_help_options CMD: the option column of "netkit CMD --help", one
# option per line: "-p", "--port", "-4", ...
cli_help_options() {
	"$NETKIT" "$1" --help | awk '
		/^Options:/ { on = 1; next }
		on && /^ +-/ {
			sub(/^ +/, "")
			split($0, col, /  +/)
			n = split(col[1], w, /[ ,]+/)
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^--[a-z]/) {
					sub(/[[=].*/, "", w[i])
					print w[i]
				} else if (w[i] ~ /^-[A-Za-z0-9]$/)
					print w[i]
		}'
}

# cli_help_option_args CMD: the options of "netkit CMD --help" with the
# kind of their argument, one per line: "--port|req", "-4|none",
# "--retry|opt".
cli_help_option_args() {
	"$NETKIT" "$1" --help | awk '
		/^Options:/ { on = 1; next }
		on && /^ +-/ {
			sub(/^ +/, "")
			split($0, col, /  +/)
			arg = "none"
			if (col[1] ~ /\[=/)
				arg = "opt"
			else if (col[1] ~ / [A-Z]+$/)
				arg = "req"
			n = split(col[1], w, /[ ,]+/)
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^--[a-z]/) {
					sub(/[[=].*/, "", w[i])
					print w[i] "|" arg
				} else if (w[i] ~ /^-[A-Za-z0-9]$/)
					print w[i] "|" arg
		}'
}

# cli_man_synopsis: the SYNOPSIS of the manual page as plain text, one
# "netkit ..." line per .Nm, by a small mdoc-to-text conversion: .Op
# brackets to the end of its line, Fl prefixes a dash, Ns joins, the other
# macros are dropped and their arguments kept.
cli_man_synopsis() {
	awk '
	function emit(s) {
		if (fl) { s = "-" s; fl = 0 }
		cur = cur (ns ? "" : " ") s
		ns = 0
	}
	function flush(s) {
		if (cur == "")
			return
		s = cur
		gsub(/  +/, " ", s)
		gsub(/\[ /, "[", s)
		gsub(/ \]/, "]", s)
		sub(/^ /, "", s)
		sub(/ $/, "", s)
		print s
		cur = ""
	}
	BEGIN {
		split("Ar Cm Em Ic Li No Pa Sy", m)
		for (i in m)
			drop[m[i]] = 1
	}
	/^\.Sh / { if (syn) flush(); syn = ($2 == "SYNOPSIS"); next }
	!syn || /^\.\\"/ { next }
	{
		n = split($0, w, /[ \t]+/)
		macro = (substr(w[1], 1, 1) == ".")
		if (macro)
			w[1] = substr(w[1], 2)
		close_n = 0
		for (i = 1; i <= n; i++) {
			t = w[i]
			if (macro && t == "Nm") {
				flush()
				cur = "netkit"
				if (i < n && w[i + 1] == "netkit")
					i++
			} else if (macro && t == "Op") {
				if (fl) emit("")
				emit("[")
				ns = 1
				close_n++
			} else if (macro && t == "Oo") {
				emit("[")
				ns = 1
			} else if (macro && t == "Oc") {
				ns = 1
				emit("]")
			} else if (macro && t == "Fl") {
				if (fl) emit("")
				fl = 1
			} else if (macro && t == "Ns") {
				if (fl) emit("")
				ns = 1
			} else if (macro && (t in drop)) {
				if (fl) emit("")
			} else {
				gsub(/\\-/, "-", t)
				gsub(/\\&/, "", t)
				emit(t)
			}
		}
		if (fl) emit("")
		for (; close_n > 0; close_n--) {
			ns = 1
			emit("]")
		}
	}
	END { flush() }' "$NETKIT_MAN"
}

# cli_man_options: the items of the manual page's OPTIONS section, one line
# each: "SHORTS|LONGS|ARG|COMMANDS|NI", where SHORTS and LONGS are
# space-separated names without dashes, ARG is req, opt or none, COMMANDS
# are those the item's ".Pq Cm ..." line names, and NI is 1 when it says
# "not implemented yet".
cli_man_options() {
	awk '
	function out() {
		if (item != "")
			print item "|" cmds "|" ni
		item = ""
	}
	/^\.Sh / { out(); sec = substr($0, 5); next }
	sec != "OPTIONS" { next }
	/^\.Bl / { depth++ }
	/^\.El/ { depth--; out(); next }
	depth == 1 && /^\.It / {
		out()
		shorts = longs = ""
		n = split($0, w, /[ \t]+/)
		for (i = 2; i < n; i++) {
			if (w[i] != "Fl")
				continue
			t = w[i + 1]
			if (t ~ /^\\-[a-z]/)
				longs = longs (longs == "" ? "" : " ") substr(t, 3)
			else if (t ~ /^[A-Za-z0-9]$/)
				shorts = shorts (shorts == "" ? "" : " ") t
		}
		arg = "none"
		if ($0 ~ /Op = Ns Ar/)
			arg = "opt"
		else if ($0 ~ / Ar /)
			arg = "req"
		item = shorts "|" longs "|" arg
		cmds = ""
		ni = 0
		want = 1
		next
	}
	want {
		want = 0
		if ($0 ~ /^\.Pq Cm /) {
			n = split($0, w, /[ \t]+/)
			for (i = 3; i <= n; i++)
				if (w[i] ~ /^(listen|connect|echo|scan|forward|isip)$/)
					cmds = cmds (cmds == "" ? "" : " ") w[i]
			ni = ($0 ~ /not implemented yet/)
		}
	}
	END { out() }' "$NETKIT_MAN"
}

# cli_man_has CMD OPTION: whether an OPTIONS item names OPTION ("-p",
# "--port") and says that CMD takes it.
cli_man_has() {
	local cmd=$1 opt=$2
	cli_man_options | awk -F'|' -v cmd="$cmd" -v opt="$opt" '
		{
			names = ""
			n = split($1, s, " ")
			for (i = 1; i <= n; i++) names = names " -" s[i]
			n = split($2, l, " ")
			for (i = 1; i <= n; i++) names = names " --" l[i]
			if ((names " ") ~ (" " opt " ") && (" " $4 " ") ~ (" " cmd " "))
				found = 1
		}
		END { exit !found }'
}

# cli_value NAME: a valid value for an option that takes one.
cli_value() {
	case $1 in
	port | p) echo 0 ;;
	host | H) echo 127.0.0.1 ;;
	unix | U) echo "$BATS_TEST_TMPDIR/no/such.sock" ;;
	fd) echo 3 ;;
	on-timeout) echo end ;;
	encoding | write-encoding) echo hex ;;
	send-fd) echo /dev/null ;;
	exec | e) echo true ;;
	events) echo json ;;
	buffer-size) echo 4096 ;;
	tls-min-version) echo 1.3 ;;
	tls-alpn) echo h2 ;;
	proxy) echo socks5://127.0.0.1:1080 ;;
	source | s) echo 127.0.0.1 ;;
	hexdump) echo "$BATS_TEST_TMPDIR/hexdump.txt" ;;
	allow | deny) echo 127.0.0.1 ;;
	allow-file | deny-file) echo /dev/null ;;
	*) echo 1000 ;;
	esac
}

@test "netkit --help, -h and help: every command, to stdout, exit 0" {
	local args cmd
	for args in --help -h help; do
		run --separate-stderr "$NETKIT" "$args"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		[[ "${lines[0]}" == "usage: netkit "* ]]
		for cmd in $COMMANDS help; do
			printf '%s\n' "$output" | grep -Eq "^(usage:| +)netkit $cmd( |\$)"
		done
		for cmd in $COMMANDS; do
			printf '%s\n' "$output" | grep -Eq "^  $cmd +[a-z]"
		done
	done
}

@test "netkit --version prints one 'netkit X.Y.Z' line, exit 0" {
	run --separate-stderr "$NETKIT" --version
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^netkit\ [0-9]+\.[0-9]+(\.[0-9]+)?$ ]]
}

@test "help CMD, CMD --help and CMD -h print the same usage to stdout, exit 0" {
	local cmd args first
	for cmd in $COMMANDS; do
		first=
		for args in "help $cmd" "$cmd --help" "$cmd -h"; do
			# shellcheck disable=SC2086 # two words
			run --separate-stderr "$NETKIT" $args
			[ "$status" -eq 0 ]
			[ -z "$stderr" ]
			[[ "${lines[0]}" == "usage: netkit $cmd "* ]]
			printf '%s\n' "$output" | grep -q '^Options:$'
			[ -z "$first" ] || [ "$output" = "$first" ]
			first=$output
		done
	done
}

@test "--help after other options still prints the usage" {
	run --separate-stderr "$NETKIT" connect -v --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: netkit connect "* ]]
	run --separate-stderr "$NETKIT" isip -q --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: netkit isip "* ]]
}

@test "netkit help nosuch, help with two commands: usage errors" {
	cli_usage_error help nosuch
	cli_usage_error help listen connect
}

@test "netkit without arguments: the usage on stderr, exit 2" {
	run --separate-stderr "$NETKIT"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "${stderr_lines[0]}" == "usage: netkit "* ]]
}

@test "unknown command: one line, exit 2" {
	cli_usage_error nosuch
	cli_usage_error nosuch 80
	cli_usage_error ''
	[[ "$stderr" == *"unknown command"* ]]
}

@test "command names are exact: no prefixes, no other case" {
	local name
	for name in l lis liste con conn ech e isi i hel Listen ECHO \
	    listen2 connects; do
		cli_usage_error "$name" 1
	done
}

@test "unknown options: one line, exit 2" {
	cli_usage_error -x
	cli_usage_error --nosuch
	cli_usage_error listen --nosuch 0
	cli_usage_error listen -Z 0
	cli_usage_error connect --bogus 127.0.0.1 1
	cli_usage_error echo -x -p 0
	cli_usage_error echo --portx 0
	cli_usage_error isip -x 1.2.3.4
	cli_usage_error isip --nosuch 1.2.3.4
}

@test "options that do not apply to the command: one line, exit 2" {
	cli_usage_error echo -w 5 -p 0
	[[ "$stderr" == *"does not apply"* ]]
	cli_usage_error connect -m 3 1234
	[[ "$stderr" == *"does not apply"* ]]
	cli_usage_error connect -k 1234
	cli_usage_error echo -k -p 0
	cli_usage_error echo --no-shutdown -p 0
	cli_usage_error echo -e true -p 0
	cli_usage_error echo --encoding hex -p 0
	cli_usage_error echo --recv-fd -p 0
	cli_usage_error listen -w 5 0
	cli_usage_error isip -p 1 1.2.3.4
	cli_usage_error isip --events 1.2.3.4
}

@test "an option without its value: one line, exit 2" {
	cli_usage_error listen -p
	cli_usage_error connect 127.0.0.1 1 -w
	cli_usage_error echo -U
	cli_usage_error listen --buffer-size
}

@test "bad ports: one line, exit 2" {
	local port
	for port in abc 65536 99999 -1 +80 0x50 " 80" "80 " "" 123456 000080 \
	    1.5 8o 4294967376; do
		cli_usage_error connect 127.0.0.1 "$port"
		cli_usage_error connect -H 127.0.0.1 -p "$port"
		cli_usage_error listen -p "$port"
		cli_usage_error listen 127.0.0.1 "$port"
		cli_usage_error echo -p "$port"
	done
}

@test "connect to port 0: one line, exit 2" {
	cli_usage_error connect 127.0.0.1 0
	cli_usage_error connect 0
	cli_usage_error connect -p 0 -H 127.0.0.1
}

@test "-4 with -6: one line, exit 2" {
	cli_usage_error connect -4 -6 127.0.0.1 1
	cli_usage_error listen -4 -6 0
	cli_usage_error echo -4 -6 -p 0
	cli_usage_error isip -4 -6 1.2.3.4
}

@test "-U with a host or a port, or with -4/-6: one line, exit 2" {
	local cmd
	for cmd in listen connect echo; do
		cli_usage_error "$cmd" -U "$BATS_TEST_TMPDIR/x" -p 1
		cli_usage_error "$cmd" -U "$BATS_TEST_TMPDIR/x" -H 127.0.0.1
		cli_usage_error "$cmd" -U "$BATS_TEST_TMPDIR/x" -4
		cli_usage_error "$cmd" -U ''
	done
	cli_usage_error listen -U "$BATS_TEST_TMPDIR/x" 1
	cli_usage_error connect -U "$BATS_TEST_TMPDIR/x" 127.0.0.1 1
	[ ! -e "$BATS_TEST_TMPDIR/x" ]
}

@test "no address: one line, exit 2" {
	cli_usage_error listen
	cli_usage_error listen -H 127.0.0.1
	cli_usage_error connect
	cli_usage_error connect -H 127.0.0.1
	cli_usage_error echo
	cli_usage_error echo -H 127.0.0.1
	cli_usage_error echo -v --events
}

@test "too many operands: one line, exit 2" {
	cli_usage_error listen 127.0.0.1 1 2
	cli_usage_error connect 127.0.0.1 1 2
	cli_usage_error echo 8124
	cli_usage_error echo -p 0 extra
}

@test "bad --buffer-size, --retry, -w: one line, exit 2" {
	local v
	for v in 0 -1 abc 1k " 1" 99999999999999999999; do
		cli_usage_error listen --buffer-size "$v" 0
		cli_usage_error connect --buffer-size="$v" 127.0.0.1 1
		cli_usage_error echo --buffer-size "$v" -p 0
		# -w 0 (no connect timeout) and --retry=0 are valid.
		[ "$v" = 0 ] && continue
		cli_usage_error connect -w "$v" 127.0.0.1 1
		cli_usage_error connect --retry="$v" 127.0.0.1 1
	done
}

@test "bad --events format: one line, exit 2" {
	local f
	for f in xml JSON txt '' 'text ' json,text; do
		cli_usage_error listen "--events=$f" 0
		cli_usage_error connect "--events=$f" 127.0.0.1 1
		cli_usage_error echo "--events=$f" -p 0
	done
}

@test "no option is 'not implemented yet': in the man page or from netkit" {
	local shorts longs arg cmds ni cmd name opt listed n=0 bad=
	# No OPTIONS item is marked so ...
	while IFS='|' read -r shorts longs arg cmds ni; do
		if [ "$ni" = 1 ]; then
			bad="$bad
the man page marks '$shorts $longs' not implemented yet"
		fi
	done < <(cli_man_options)
	# ... and no NOT YET IMPLEMENTED section lists an option.
	listed=$(awk '/^\.Sh /{ on = ($0 == ".Sh NOT YET IMPLEMENTED"); next }
	    on' "$NETKIT_MAN" | grep -E 'Fl ' || true)
	[ -z "$listed" ] || bad="$bad
NOT YET IMPLEMENTED lists: $listed"
	# netkit takes every option of every command's --help (the option
	# table): given with a valid value before --help, it prints the usage.
	for cmd in $COMMANDS; do
		while IFS='|' read -r name arg; do
			n=$((n + 1))
			case $name:$arg in
			--*:none) opt=("$name") ;;
			--*:*) opt=("$name=$(cli_value "${name#--}")") ;;
			*:req) opt=("$name" "$(cli_value "${name#-}")") ;;
			*) opt=("$name") ;;
			esac
			run timeout 10 "$NETKIT" "$cmd" "${opt[@]}" --help
			[ "$status" -eq 0 ] &&
			    [[ "$output" == "usage: netkit $cmd "* ]] &&
			    [[ "$output" != *"not implemented"* ]] ||
			    bad="$bad
$cmd ${opt[*]} --help: $status $output"
		done < <(cli_help_option_args "$cmd")
	done
	[ "$n" -ge 60 ]
	if [ -n "$bad" ]; then
		echo "not implemented, or refused:$bad" >&2
		false
	fi
}

@test "the man page has no mandoc warnings" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run mandoc -T lint -W warning "$NETKIT_MAN"
	local left
	left=$(printf '%s\n' "$output" | grep -v 'mandoc\.db' || true)
	[ -z "$left" ]
}

@test "man: the SYNOPSIS is the usage of netkit --help, line for line" {
	local help man
	help=$(cli_help_synopsis --help)
	man=$(cli_man_synopsis)
	[ -n "$help" ]
	[ "$(printf '%s\n' "$man" | wc -l)" -ge 7 ]
	if [ "$help" != "$man" ]; then
		diff <(printf '%s\n' "$help") <(printf '%s\n' "$man") >&2 || true
		false
	fi
}

@test "man: every synopsis line of CMD --help is in the SYNOPSIS" {
	local cmd line man n
	man=$(cli_man_synopsis)
	for cmd in $COMMANDS; do
		n=0
		while IFS= read -r line; do
			n=$((n + 1))
			if ! printf '%s\n' "$man" | grep -qxF -- "$line"; then
				echo "not in the man page's SYNOPSIS: $line" >&2
				return 1
			fi
		done < <(cli_help_synopsis "$cmd" --help)
		[ "$n" -ge 1 ]
	done
}

@test "man: every option of listen/connect/echo --help is documented for that command" {
	local cmd opt n bad=
	for cmd in listen connect echo forward; do
		n=0
		while IFS= read -r opt; do
			n=$((n + 1))
			cli_man_has "$cmd" "$opt" ||
			    bad="$bad $cmd:$opt"
		done < <(cli_help_options "$cmd")
		[ "$n" -ge 10 ]
	done
	if [ -n "$bad" ]; then
		echo "in --help but not under OPTIONS for the command:$bad" >&2
		false
	fi
}

@test "man: every option of isip --help is in the isip subsection" {
	local opt items n=0
	items=$(awk '/^\.Ss /{ on = ($2 == "isip"); next }
	    /^\.S[hs] /{ on = 0 } on && /^\.It /' "$NETKIT_MAN")
	while IFS= read -r opt; do
		n=$((n + 1))
		if [[ "$opt" == --* ]]; then
			printf '%s\n' "$items" | grep -Eq "Fl \\\\-${opt#--}( |\$)"
		else
			printf '%s\n' "$items" | grep -Eq "Fl ${opt#-}( |\$)"
		fi
	done < <(cli_help_options isip)
	[ "$n" -ge 4 ]
}

@test "man: every option of the contract is under OPTIONS" {
	local opt bad=
	# SPEC.md's option table, and the options its relay section names.
	for opt in -p --port -H --host -U --unix --fd -4 -6 \
	    --allow-half-open -t --timeout --on-timeout --no-delay \
	    --keepalive -m --max-connections --retry -w --connect-timeout \
	    --encoding --write-encoding --send-fd --recv-fd -v --verbose \
	    --events -q --quiet --no-shutdown --buffer-size -k --keep-open \
	    -e --exec -h --help; do
		cli_man_options | awk -F'|' -v o="$opt" '
		    { n = split($1, s, " "); for (i = 1; i <= n; i++)
			if ("-" s[i] == o) f = 1
		      n = split($2, l, " "); for (i = 1; i <= n; i++)
			if ("--" l[i] == o) f = 1 }
		    END { exit !f }' || bad="$bad $opt"
	done
	if [ -n "$bad" ]; then
		echo "not under OPTIONS in the man page:$bad" >&2
		false
	fi
}

@test "man: every long option the parser knows (src/opts.c) is under OPTIONS" {
	local src=$BATS_TEST_DIRNAME/../src/opts.c name bad='' n=0
	[ -f "$src" ] || skip "no src/opts.c next to the tests"
	# The long names of the rows of the option table, each once: a row
	# starts with '{ "name", ' (or '{ NULL, ' when it has none).
	while IFS= read -r name; do
		n=$((n + 1))
		cli_man_options | cut -d'|' -f2 | tr ' ' '\n' |
		    grep -qxF -- "$name" || bad="$bad --$name"
	done < <(awk '/^static const struct opts_row opts_table\[\]/ { on = 1 }
	    on && /^\};/ { exit }
	    on' "$src" |
	    sed -nE 's/^[[:space:]]*\{ "([a-z][a-z0-9-]*)", .*/\1/p' | sort -u)
	[ "$n" -ge 20 ]
	if [ -n "$bad" ]; then
		echo "parsed by src/opts.c but not under OPTIONS:$bad" >&2
		false
	fi
}

@test "man: each option is taken by exactly the commands its item names" {
	local shorts longs arg cmds ni cmd name opt val items=0 bad=
	while IFS='|' read -r shorts longs arg cmds ni; do
		items=$((items + 1))
		if [ -z "$cmds" ]; then
			bad="$bad
no '.Pq Cm COMMAND ...' line under the item '$shorts $longs'"
			continue
		fi
		for cmd in listen connect echo forward; do
			for name in $longs $shorts; do
				val=$(cli_value "$name")
				if [ "${#name}" -gt 1 ]; then
					case $arg in
					req | opt) opt=("--$name=$val") ;;
					*) opt=("--$name") ;;
					esac
				else
					case $arg in
					req) opt=("-$name" "$val") ;;
					*) opt=("-$name") ;;
					esac
				fi
				# --help last: the option is judged before it.
				run timeout 10 "$NETKIT" "$cmd" "${opt[@]}" --help
				if [[ " $cmds " != *" $cmd "* ]]; then
					[ "$status" -eq 2 ] &&
					    [[ "$output" == *"does not apply"* ]] ||
					    bad="$bad
$cmd ${opt[*]}: the man page says it does not apply, netkit: $status $output"
				elif [ "$ni" = 1 ]; then
					[ "$status" -eq 2 ] &&
					    [[ "$output" == *"not implemented yet"* ]] ||
					    bad="$bad
$cmd ${opt[*]}: the man page says not implemented yet, netkit: $status $output"
				else
					[ "$status" -eq 0 ] &&
					    [[ "$output" == "usage: netkit $cmd "* ]] ||
					    bad="$bad
$cmd ${opt[*]}: the man page says it works, netkit: $status $output"
				fi
			done
		done
	done < <(cli_man_options)
	[ "$items" -ge 20 ]
	if [ -n "$bad" ]; then
		echo "man page and program disagree:$bad" >&2
		false
	fi
}

@test "man: NOT YET IMPLEMENTED lists exactly the options marked so under OPTIONS" {
	local listed marked
	listed=$(awk '/^\.Sh /{ on = ($0 == ".Sh NOT YET IMPLEMENTED"); next }
	    on' "$NETKIT_MAN" | grep -oE 'Fl \\-[a-z][a-z-]*' |
	    sed 's/^Fl \\-//' | sort -u)
	marked=$(cli_man_options | awk -F'|' '$5 == 1 { print $2 }' |
	    tr ' ' '\n' | sed '/^$/d' | sort -u)
	if [ "$listed" != "$marked" ]; then
		diff <(printf '%s\n' "$marked") <(printf '%s\n' "$listed") >&2 ||
		    true
		false
	fi
}

@test "a value given to a flag option: one printable line, exit 2" {
	cli_usage_error listen --allow-half-open=1 0
	[[ "$stderr" != *[[:cntrl:]]* ]]
	[[ "$stderr" == *"--allow-half-open"* ]]
	cli_usage_error listen --verbose=1 0
	[[ "$stderr" == *"--verbose"* ]]
}
