#!/usr/bin/env bats
#
# The bash completion (completion/netkit.bash), driven as bash drives it:
# a clean bash sources the file, COMP_WORDS, COMP_CWORD, COMP_LINE and
# COMP_POINT are set for a line typed up to its last word, and the
# function that "complete -p netkit" names is called; COMPREPLY is the
# answer. Its lists come from "netkit --complete", which these tests hold
# to --help and to the parser.

load helpers

bats_require_minimum_version 1.5.0

: "${NETKIT_COMPLETION:=$BATS_TEST_DIRNAME/../completion/netkit.bash}"

setup() {
	[ -f "$NETKIT_COMPLETION" ]
	# "netkit" on the command line is the netkit under test.
	PATH=$(dirname "$NETKIT"):$PATH
	export PATH NETKIT_COMPLETION
}

# comp WORD...: the completions of the last WORD of the line "WORD...",
# one a line in $output, sorted.
comp() {
	run --separate-stderr bash --norc --noprofile -c '
		source "$NETKIT_COMPLETION" || exit 3
		fn=$(complete -p netkit | sed -nE "s/.* -F ([^ ]+) .*/\1/p")
		[ -n "$fn" ] || exit 4
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD - 1]}" || exit 5
		[ "${#COMPREPLY[@]}" -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
	' comp "$@"
	[ "$status" -eq 0 ] || {
		echo "completing '$*': status $status, stderr: $stderr" >&2
		return 1
	}
	[ -z "$stderr" ] || {
		echo "completing '$*': stderr: $stderr" >&2
		return 1
	}
	output=$(printf '%s\n' "$output" | sed '/^$/d' | sort)
}

# expect WORD...: $output is exactly the WORDs (in any order).
expect() {
	local want
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
	if [ "$output" != "$want" ]; then
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$output") >&2 ||
		    true
		return 1
	fi
}

# help_commands: the commands "netkit --help" lists under Commands:.
help_commands() {
	"$NETKIT" --help | awk '/^Commands:/ { on = 1; next }
	    on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'
}

# help_options CMD: the option names of "netkit CMD --help", one a line.
help_options() {
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
		}' | sort -u
}

@test "the file names its function for netkit" {
	run bash --norc --noprofile -c \
	    'source "$NETKIT_COMPLETION" && complete -p netkit'
	[ "$status" -eq 0 ]
	[[ "$output" == "complete -F "*" netkit" ]]
}

@test "netkit <TAB>: every command of --help, and help" {
	local cmds
	cmds=$(help_commands)
	[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 6 ]
	comp netkit ''
	# shellcheck disable=SC2086 # one word a line
	expect $cmds help
	comp netkit co
	expect connect
	comp netkit -
	expect --help --version
}

@test "netkit help <TAB>: the commands" {
	local cmds
	cmds=$(help_commands)
	comp netkit help ''
	# shellcheck disable=SC2086 # one word a line
	expect $cmds
	comp netkit help connect ''
	expect
}

@test "netkit connect --tl<TAB>: connect's --tls options only" {
	comp netkit connect --tl
	expect --tls --tls-cert --tls-key --tls-ca --tls-servername \
	    --tls-insecure --tls-alpn --tls-min-version
	# forward has --tls-to; listen has --tls-verify-client, no
	# --tls-servername.
	comp netkit forward --tls-t
	expect --tls-to
	comp netkit listen --tls-
	expect --tls-cert --tls-key --tls-ca --tls-verify-client --tls-alpn \
	    --tls-min-version
}

@test "netkit echo --enc<TAB>: nothing (echo has no --encoding)" {
	comp netkit echo --enc
	expect
	comp netkit isip --e
	expect
	comp netkit nosuch --e
	expect
}

@test "each command's options are those of its --help" {
	local cmd want
	for cmd in $(help_commands); do
		want=$(help_options "$cmd")
		[ "$(printf '%s\n' "$want" | wc -l)" -ge 4 ]
		comp netkit "$cmd" -
		if [ "$output" != "$want" ]; then
			echo "$cmd:" >&2
			diff <(printf '%s\n' "$want") <(printf '%s\n' "$output") >&2 ||
			    true
			return 1
		fi
	done
}

@test "netkit connect --encoding <TAB>: the encodings; --write-encoding has no ascii" {
	comp netkit connect --encoding ''
	expect binary utf8 ascii base64 hex
	comp netkit listen --encoding b
	expect binary base64
	comp netkit connect --write-encoding ''
	expect binary utf8 base64 hex
}

@test "the words of --on-timeout, --tls-min-version and --events" {
	comp netkit listen --on-timeout ''
	expect end destroy ignore
	comp netkit forward --on-timeout d
	expect destroy
	comp netkit connect --tls-min-version ''
	expect 1.2 1.3
	# --events takes its value after "=": bash splits the word there ...
	comp netkit scan --events = ''
	expect text json
	comp netkit echo --events = j
	expect json
	# ... or, without "=" in COMP_WORDBREAKS, it is one word.
	comp netkit listen --events=
	expect --events=text --events=json
	comp netkit connect --encoding=h
	expect --encoding=hex
	# Not in the next word: it would be an operand.
	comp netkit listen --events ''
	expect
}

@test "every word offered is one the parser takes" {
	local cmd opt val n=0 bad=
	for cmd in $(help_commands); do
		while read -r opt kind vals; do
			[ "$kind" != none ] || continue
			for val in $vals; do
				[ "$val" != @file ] || continue
				n=$((n + 1))
				run timeout 10 "$NETKIT" "$cmd" "$opt=$val" --help
				[ "$status" -eq 0 ] || bad="$bad $cmd:$opt=$val"
			done
		done < <("$NETKIT" --complete "$cmd")
	done
	[ "$n" -ge 20 ]
	[ -z "$bad" ] || {
		echo "refused:$bad" >&2
		false
	}
}

@test "netkit listen -U <TAB>: file names; so for the other path options" {
	mkdir "$BATS_TEST_TMPDIR/files"
	cd "$BATS_TEST_TMPDIR/files"
	mkdir certs
	: >echo.sock
	: >cert.pem
	: >key.pem
	comp netkit listen -U ''
	expect cert.pem certs echo.sock key.pem
	comp netkit listen -U e
	expect echo.sock
	comp netkit connect --unix c
	expect cert.pem certs
	comp netkit connect --send-fd k
	expect key.pem
	comp netkit forward --tls-cert cert
	expect cert.pem certs
	comp netkit echo --tls-key k
	expect key.pem
	comp netkit listen --tls-ca certs/
	expect
	: >certs/ca.pem
	comp netkit listen --tls-ca certs/
	expect certs/ca.pem
}

@test "a value that is not a word or a file, and operands: nothing" {
	comp netkit connect -p ''
	expect
	comp netkit connect --host ''
	expect
	comp netkit connect 127.0.0.1 ''
	expect
	comp netkit forward 8080 ''
	expect
}

@test "netkit typed as a path completes with that netkit" {
	PATH=/usr/bin:/bin
	comp "$NETKIT" ''
	[ -n "$output" ]
	printf '%s\n' "$output" | grep -qx connect
	comp "$NETKIT" connect --tls-m
	expect --tls-min-version
}

@test "--complete is not in --help or the man page, and refuses bad uses" {
	run "$NETKIT" --help
	[[ "$output" != *--complete* ]]
	run grep -cF -- '\-complete' "$NETKIT_MAN"
	[ "$output" = 0 ]
	run --separate-stderr "$NETKIT" --complete nosuch
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	run --separate-stderr "$NETKIT" --complete listen connect
	[ "$status" -eq 2 ]
}
