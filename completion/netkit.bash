# bash completion for netkit(1)
#
# The commands, and each command's options with the values they take,
# come from netkit itself: "netkit --complete" prints the commands, and
# "netkit --complete COMMAND" a line per option, "NAME KIND [VALUE...]"
# (KIND none, required or optional; VALUE a word, or @file for a file
# name), from the option table of src/opts.c. This file keeps no list of
# its own, and needs nothing from the bash-completion package.

# _netkit_match CUR WORD...: the WORDs that start with CUR, into COMPREPLY.
_netkit_match()
{
	local cur=$1 w
	shift
	COMPREPLY=()
	for w in "$@"; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
}

# _netkit_values PREFIX CUR VALUE...: complete CUR among the values of an
# option (@file: file names); PREFIX ("--name=" when the option and its
# value are one word) goes before each.
_netkit_values()
{
	local prefix=$1 cur=$2 i
	shift 2
	if [[ ${1:-} == @file ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	else
		_netkit_match "$cur" "$@"
	fi
	for i in "${!COMPREPLY[@]}"; do
		COMPREPLY[i]=$prefix${COMPREPLY[i]}
	done
}

_netkit()
{
	local nk=$1 cur prev cmd opt='' prefix='' w
	local -a names=() words=() fields
	local -A kind=() values=()

	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# The netkit that was typed, if it runs; else the one on PATH.
	command -v -- "$nk" >/dev/null 2>&1 || nk=netkit

	# The first word: a command, or --help and --version.
	if ((COMP_CWORD == 1)) || [[ ${COMP_WORDS[1]} == help ]]; then
		((COMP_CWORD <= 2)) || return 0
		mapfile -t words < <("$nk" --complete 2>/dev/null)
		for w in "${words[@]}"; do
			# After help: a command. First: --help and --version
			# for a dash, the commands otherwise.
			if ((COMP_CWORD == 2)); then
				[[ $w == -* || $w == help ]] && continue
			elif [[ $w == -* ]]; then
				[[ $cur == -* ]] || continue
			else
				[[ $cur == -* ]] && continue
			fi
			names+=("$w")
		done
		_netkit_match "$cur" "${names[@]}"
		return 0
	fi

	cmd=${COMP_WORDS[1]}
	[[ $cmd == -* ]] && return 0
	while read -r -a fields; do
		((${#fields[@]} >= 2)) || continue
		names+=("${fields[0]}")
		kind[${fields[0]}]=${fields[1]}
		values[${fields[0]}]=${fields[*]:2}
	done < <("$nk" --complete "$cmd" 2>/dev/null)
	((${#names[@]} > 0)) || return 0

	# Is a value being completed: "--name=V", "--name" "=" "V" (bash splits
	# words at "="), or a required value in the word after its option?
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*} prefix=$opt= cur=${cur#*=}
	elif [[ $cur == = && $prev == --* ]]; then
		opt=$prev cur=
	elif [[ $prev == = ]] && ((COMP_CWORD >= 3)) &&
	    [[ ${COMP_WORDS[COMP_CWORD - 2]} == --* ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $prev == -* && ${kind[$prev]:-} == required ]]; then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		[[ ${kind[$opt]:-none} != none ]] || return 0
		# shellcheck disable=SC2086 # the values are words
		_netkit_values "$prefix" "$cur" ${values[$opt]}
		return 0
	fi

	# An option of the command; operands are left alone.
	[[ $cur == -* ]] && _netkit_match "$cur" "${names[@]}"
	return 0
}

complete -F _netkit netkit
