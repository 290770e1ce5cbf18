#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/lint/manpages.sh [BUILD] - the manual pages cover what the program takes.
#
# Renders man/xdpfence.8.scd and man/xdpfence.conf.5.scd with scdoc and
# reads them as man(1) shows them. Nothing is listed here by hand:
#   - objects, verbs and options come from the binary's own --help texts
#     (`xdpfence --help`, `xdpfence OBJECT --help`, `xdpfence OBJECT VERB
#     --help`): every object and verb must have its synopsis in xdpfence(8),
#     every option must appear in its object's subsection (the global ones
#     under GLOBAL OPTIONS);
#   - config sections and keys come from the parser's source
#     (user/engine/config*.c: strcmp(key, "..."), named(section, "..."),
#     strcmp(section, "...")) and from the binary's own "unknown key (...)"
#     answers for each section: every one must appear in xdpfence.conf(5).
# The help commands run with a pin dir that does not exist, so none of them
# can touch a real instance.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
XF=$build/xdpfence
n_pass=0 n_fail=0
ok() { n_pass=$((n_pass + 1)); }
fail() { n_fail=$((n_fail + 1)); echo "FAIL $*"; }
finish() { echo "$n_pass passed, $n_fail failed"; [ "$n_fail" = 0 ]; exit; }

tmp=$(mktemp -d /tmp/xdpfence-man.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
nopin=$tmp/no-such-pin-dir

command -v scdoc >/dev/null || { fail "scdoc missing: scripts/install-deps.sh installs it"; finish; }
[ -x "$XF" ] || { fail "$XF missing: make $XF"; finish; }

# page NAME SECTION: render, and show it as man does (no hyphenation, no
# justification, ASCII, wide lines so nothing is broken across lines)
page() {
	if ! scdoc <"man/$1.$2.scd" >"$tmp/$1.$2" 2>"$tmp/scdoc.err"; then
		fail "scdoc man/$1.$2.scd: $(cat "$tmp/scdoc.err")"
		return 1
	fi
	LC_ALL=C MANWIDTH=400 man --nh --nj -l "$tmp/$1.$2" 2>/dev/null | col -b >"$tmp/$1.$2.txt"
	[ -s "$tmp/$1.$2.txt" ] || { fail "man -l $1.$2 shows nothing"; return 1; }
	ok
}
page xdpfence 8 || finish
page xdpfence.conf 5 || finish

# ---- xdpfence(8) against the --help texts ---------------------------------------
. tests/lint/help_texts.bash
# section TITLE: the lines of the rendered page's subsection TITLE of
# OBJECTS AND VERBS (or of the section TITLE)
section() {
	awk -v t="$1" '
		/^[A-Z][A-Z ]+$/ { top = $0; inside = (top == t); next }
		top == "OBJECTS AND VERBS" && /^   [a-z]+$/ { sub(/^ +/, ""); inside = ($0 == t); next }
		inside' "$tmp/xdpfence.8.txt"
}
has() {	# TEXT-FILE WORD: WORD appears, as a whole word
	grep -qE -- "(^|[^a-zA-Z0-9-])$(printf '%s' "$2" | sed 's/[.[\*^$]/\\&/g')([^a-zA-Z0-9-]|$)" "$1"
}

help_text >"$tmp/help"
objects=$(help_objects)
[ -n "$objects" ] && ok || fail "no objects in xdpfence --help"
# the usage line and the "Global options:" block: under GLOBAL OPTIONS;
# the rest (objects' synopses, examples): anywhere
awk 'NR == 1 || /^Global options:/ { on = 1 } on && /^$/ && NR > 1 { on = 0 } on' "$tmp/help" >"$tmp/help.global"
section "GLOBAL OPTIONS" >"$tmp/sec"
for o in $(help_options <"$tmp/help.global"); do
	has "$tmp/sec" "$o" && ok || fail "xdpfence(8) GLOBAL OPTIONS: no $o (xdpfence --help)"
done
for o in $(help_options <"$tmp/help"); do
	has "$tmp/xdpfence.8.txt" "$o" && ok || fail "xdpfence(8): no $o (xdpfence --help)"
done
n_verbs=0
for obj in $objects; do
	section "$obj" >"$tmp/sec"
	if [ ! -s "$tmp/sec" ]; then
		fail "xdpfence(8): no subsection for object $obj"
		continue
	fi
	help_text "$obj" >"$tmp/help.$obj"
	verbs=$(help_verbs "$obj")
	if [ -z "$verbs" ]; then
		grep -qE "^ *xdpfence $obj( |$)" "$tmp/sec" && ok ||
			fail "xdpfence(8) $obj: no synopsis \"xdpfence $obj ...\""
		texts=$tmp/help.$obj
	else
		texts=
		for v in $verbs; do
			n_verbs=$((n_verbs + 1))
			grep -qE "^ *xdpfence $obj $v( |$)" "$tmp/sec" && ok ||
				fail "xdpfence(8) $obj: no synopsis \"xdpfence $obj $v ...\""
			help_text "$obj" "$v" >"$tmp/help.$obj.$v"
			texts+=" $tmp/help.$obj.$v"
		done
		texts+=" $tmp/help.$obj"
	fi
	# shellcheck disable=SC2086
	for o in $(cat $texts | help_options); do
		[ "$o" = --help ] || [ "$o" = -h ] && continue	# every command takes it
		has "$tmp/sec" "$o" && ok || fail "xdpfence(8) $obj: no $o (xdpfence $obj ... --help)"
	done
done
[ "$n_verbs" -gt 0 ] && ok || fail "no object listed any verb: the help format changed?"

# ---- xdpfence.conf(5) against the parser -------------------------------------------
src=$(ls user/engine/config*.c)
# shellcheck disable=SC2086
keys_src=$(grep -ohE 'strcmp\(key, "[a-z0-9_]+"\)' $src | sed -E 's/.*"(.*)".*/\1/' | sort -u)
# shellcheck disable=SC2086
named=$(grep -ohE 'named\(section, "[a-z0-9_]+"\)' $src | sed -E 's/.*"(.*)".*/\1/' | sort -u)
# shellcheck disable=SC2086
plain=$(grep -ohE 'strcmp\(section, "[a-z0-9_]+"\)' $src | sed -E 's/.*"(.*)".*/\1/' | sort -u)
[ "$(wc -w <<<"$keys_src")" -gt 10 ] && ok || fail "found only $(wc -w <<<"$keys_src") keys in $src"
[ -n "$named" ] && [ -n "$plain" ] && ok || fail "found no sections in $src"
# what the binary says each section takes, when given a key it does not
keys_bin=
for s in $plain $named; do
	hdr=$s
	grep -qx "$s" <<<"$named" && hdr="$s x"
	printf '[%s]\nzz_not_a_key = 1\n' "$hdr" >"$tmp/probe.conf"
	out=$(timeout 10 "$XF" --pin-dir "$nopin" run --config "$tmp/probe.conf" 2>&1)
	list=$(grep -oE "zz_not_a_key: unknown key \([^)]*\)" <<<"$out" | sed -E 's/.*\((.*)\)/\1/')
	if [ -z "$list" ]; then
		fail "xdpfence run: [$hdr] with an unknown key: no \"unknown key (...)\" list: $out"
		continue
	fi
	keys_bin+=" ${list//,/ }"
done
for s in $plain; do
	grep -qE "^\[$s\]" "$tmp/xdpfence.conf.5.txt" && ok || fail "xdpfence.conf(5): no section [$s]"
done
for s in $named; do
	grep -qE "^\[$s [A-Z]+\]" "$tmp/xdpfence.conf.5.txt" && ok || fail "xdpfence.conf(5): no section [$s NAME]"
done
for k in $(printf '%s\n' $keys_src $keys_bin | sort -u); do
	# documented as a definition: "key = ..." at the start of a line
	grep -qE "^ *([a-z0-9_]+ = [^,]*, )*$k = " "$tmp/xdpfence.conf.5.txt" && ok ||
		fail "xdpfence.conf(5): no \"$k = ...\" (a key the parser takes)"
done
finish
