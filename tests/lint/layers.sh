#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/lint/layers.sh - the controller's folders are layers; each includes
# only its own folder and those below it:
#
#   cli -> engine -> policy -> feeds -> core -> lib   (and maps/ from anywhere)
#
# The CLI header (cli/*.h) is included by cli/ and engine/ only. Core, feeds
# and policy never print to stdout or stderr and never return exit codes:
# they return -errno and a message (printf into buffers, and policy's state
# file, are their business). One check per source file; a failure names the
# file, the line and the include or call that breaks the rule.
set -u
cd "$(dirname "$0")/../.."
order=(lib core feeds policy engine cli)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }

n_pass=0 n_fail=0
while IFS= read -r f; do
	layer=${f#user/}; layer=${layer%%/*}
	r=$(rank "$layer")
	bad=""
	if [ "$r" -lt 0 ]; then
		bad="$f: folder $layer is not a layer (${order[*]})"
	fi
	while IFS=: read -r line inc; do
		[ -n "$line" ] || continue
		to=${inc%%/*}
		[ "$to" = maps ] && continue
		rt=$(rank "$to")
		if [ "$rt" -lt 0 ]; then
			continue	# a local or generated header (skeletons)
		fi
		if [ "$to" = cli ]; then
			# engine/ serves CLI commands for the one-shot client
			[ "$layer" = cli ] || [ "$layer" = engine ] ||
				bad+="$f:$line: includes the CLI header \"$inc\""$'\n'
		elif [ "$rt" -gt "$r" ]; then
			bad+="$f:$line: $layer/ includes \"$inc\" from $to/, a layer above it"$'\n'
		fi
	done < <(grep -n -oE '^#include "[^"]+"' "$f" | sed -E 's/:#include "/:/; s/"$//')
	case $layer in core|feeds|policy)
		# code lines only (comments dropped); pr_debug traces are allowed
		while IFS=: read -r line what; do
			[ -n "$line" ] || continue
			bad+="$f:$line: $layer/ must not print or return exit codes: $what"$'\n'
		done < <(sed -E 's@/\*.*\*/@@g; s@^[[:space:]]*(/\*|\*).*$@@' "$f" | grep -n -oE \
			'(^|[^a-z_])(printf|puts|putchar|perror|pr_err|pr_warn|pr_info)[[:space:]]*\(|\bEXIT_[A-Z]+\b|\bstd(out|err)\b' |
			grep -v 'format[[:space:]]*(printf')
		;;
	esac
	if [ -z "$bad" ]; then
		n_pass=$((n_pass + 1))
	else
		n_fail=$((n_fail + 1))
		printf 'FAIL %s' "$bad"
	fi
done < <(find user -name '*.[ch]' | sort)
echo "$n_pass passed, $n_fail failed"
[ "$n_fail" = 0 ]
