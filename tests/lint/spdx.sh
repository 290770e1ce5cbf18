#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/lint/spdx.sh - every source file says its licence (an SPDX line in
# its first three lines): C, headers, BPF programs, shell, Python, the
# Makefile, CI. Data files, documents and corpora are not sources.
set -u
cd "$(dirname "$0")/../.."
n_pass=0 n_fail=0
while IFS= read -r f; do
	if head -n 3 "$f" | grep -q 'SPDX-License-Identifier: '; then
		n_pass=$((n_pass + 1))
	else
		n_fail=$((n_fail + 1))
		echo "FAIL $f: no SPDX-License-Identifier line in its first three lines"
	fi
done < <(git ls-files '*.c' '*.h' '*.sh' '*.py' Makefile .ci/run 2>/dev/null)
echo "$n_pass passed, $n_fail failed"
[ "$n_fail" = 0 ]
