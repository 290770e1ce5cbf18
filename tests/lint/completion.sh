#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/lint/completion.sh [BUILD] - bash completion (contrib/bash-completion/
# xdpfence) offers what the binary takes.
#
# Loads bash-completion and our script, and completes as bash would:
#   xdpfence <TAB>            every object of `xdpfence --help`
#   xdpfence -<TAB>           every global option
#   xdpfence OBJ <TAB>        every verb of `xdpfence OBJ --help`
#   xdpfence OBJ [VERB] -<TAB> every option of that --help text (abbreviated
#                             objects and verbs too, as the CLI takes them)
#   --action, --format, --mode, --malformed, --by <TAB>: the values the
#                             binary's own error message says it wants
#   attach <TAB>              the interfaces
# Nothing is listed here by hand (tests/lint/help_texts.bash).
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
XF=$build/xdpfence
COMP=contrib/bash-completion/xdpfence
n_pass=0 n_fail=0
ok() { n_pass=$((n_pass + 1)); }
fail() { n_fail=$((n_fail + 1)); echo "FAIL $*"; }
finish() { echo "$n_pass passed, $n_fail failed"; [ "$n_fail" = 0 ]; exit; }
tmp=$(mktemp -d /tmp/xdpfence-comp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
nopin=$tmp/no-such-pin-dir

[ -f /usr/share/bash-completion/bash_completion ] ||
	{ fail "bash-completion missing: scripts/install-deps.sh installs it"; finish; }
[ -x "$XF" ] || { fail "$XF missing: make $XF"; finish; }
. tests/lint/help_texts.bash

# complete WORD...: what our completion offers for the command line WORD...
# (the last word is the one being completed), one a line
complete() {
	bash --norc --noprofile -c '
		. /usr/share/bash-completion/bash_completion
		. "$0"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_xdpfence xdpfence "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' "$COMP" "$@" 2>&1
}
# offers WHAT WORDS... -- CMDLINE...: each of WORDS is offered for CMDLINE
offers() {
	local what=$1 w missing=
	shift
	local want=()
	while [ "$1" != -- ]; do want+=("$1"); shift; done
	shift
	complete "$@" >"$tmp/offered"
	for w in "${want[@]}"; do
		grep -qxF -- "$w" "$tmp/offered" || missing+=" $w"
	done
	if [ -z "$missing" ]; then ok; else fail "$what: not offered:$missing (offered: $(tr '\n' ' ' <"$tmp/offered"))"; fi
}

objects=$(help_objects)
[ -n "$objects" ] && ok || fail "no objects in xdpfence --help"
# shellcheck disable=SC2086
offers "xdpfence <TAB>" $objects -- xdpfence ""
help_text | awk 'NR == 1 || /^Global options:/ { on = 1 } on && /^$/ && NR > 1 { on = 0 } on' >"$tmp/global"
# shellcheck disable=SC2046
offers "xdpfence -<TAB>" $(help_options <"$tmp/global") -- xdpfence -
n_verbs=0
for obj in $objects; do
	verbs=$(help_verbs "$obj")
	if [ -z "$verbs" ]; then
		# shellcheck disable=SC2046
		offers "xdpfence $obj -<TAB>" $(help_text "$obj" | help_options) -- xdpfence "$obj" -
		continue
	fi
	# shellcheck disable=SC2086
	offers "xdpfence $obj <TAB>" $verbs -- xdpfence "$obj" ""
	for v in $verbs; do
		n_verbs=$((n_verbs + 1))
		opts=$(help_text "$obj" "$v" | help_options)
		# shellcheck disable=SC2086
		offers "xdpfence $obj $v -<TAB>" $opts -- xdpfence --pin-dir "$nopin" "$obj" "$v" -
		# the CLI takes unique prefixes: so does the completion
		# shellcheck disable=SC2086
		offers "xdpfence ${obj:0:3} ${v:0:3} -<TAB>" $opts -- xdpfence "${obj:0:3}" "${v:0:3}" -
	done
done
[ "$n_verbs" -gt 0 ] && ok || fail "no object listed any verb: the help format changed?"

# values: what the binary says it wants after a bad one ("want a, b or c")
wants() {	# ARGS...: the values of the "want ..." message of xdpfence ARGS
	timeout 10 "$XF" --pin-dir "$nopin" "$@" 2>&1 | grep -oE 'want [a-z, -]+' | head -n 1 |
		sed -E 's/^want //; s/,? or /, /; s/, / /g'
}
value_case() {	# OPTION CMDLINE-BEFORE-OPTION... -- PROBE-ARGS...
	local opt=$1 cmd=() vals
	shift
	while [ "$1" != -- ]; do cmd+=("$1"); shift; done
	shift
	vals=$(wants "$@")
	[ -n "$vals" ] || { fail "$opt: the binary named no values ($*)"; return; }
	# shellcheck disable=SC2086
	offers "${cmd[*]} $opt <TAB>" $vals -- "${cmd[@]}" "$opt" ""
}
value_case --action xdpfence ban add 192.0.2.1 -- ban add 192.0.2.1 --action zz
value_case --action xdpfence feed load x f -- feed load x /dev/null --check --action zz
value_case --format xdpfence feed load x f -- feed load x /dev/null --check --format zz
value_case --mode xdpfence attach if0 -- attach no-such-if0 --mode zz
value_case --malformed xdpfence attach if0 -- attach no-such-if0 --malformed zz
value_case --by xdpfence top -- top --by zz
offers "xdpfence ban list --owner <TAB>" manual promoted feed -- xdpfence --pin-dir "$nopin" ban list --owner ""
# shellcheck disable=SC2046
offers "xdpfence attach <TAB>" $(ls /sys/class/net) -- xdpfence attach ""
finish
