#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/run.sh [--no-root] BUILD_DIR - run every test suite, print one summary line.
#
# Runs the C test binaries (BPF_PROG_TEST_RUN and unit tests), each libFuzzer
# harness for a short while, and the netns integration scripts. Every suite
# prints "N passed, N failed" as its last line; this adds them up. A suite
# that crashes or prints no summary counts as one failure. Needs root.
# --no-root (`make check`): only what needs no root: the unit tests of
# tests/user, the lint checks, a short fuzz run.
set -u
no_root=0
if [ "${1:-}" = --no-root ]; then
	no_root=1
	shift
fi
build=${1:-build}
fuzz_secs=${FUZZ_SECONDS:-20}
[ "$no_root" = 1 ] && fuzz_secs=${FUZZ_SECONDS:-3}
cd "$(dirname "$0")/.."

if [ "$no_root" = 0 ] && [ "$(id -u)" != 0 ]; then
	echo "tests need root (BPF, bpffs, network namespaces): run as root," >&2
	echo "or \`make check\` for the tests that do not" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

total_pass=0 total_fail=0
log=$(mktemp -d /tmp/xdpfence-tests.XXXXXX)
trap 'rm -rf "$log"' EXIT

suite() {	# name, command...
	local name=$1 out=$log/${1//[^A-Za-z0-9_.-]/_}.out rc line p f
	shift
	printf '%-34s ' "$name"
	"$@" >"$out" 2>&1
	rc=$?
	line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	else
		p=0 f=0
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1	# crashed, or failed without saying so
	fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
	if [ "$f" = 0 ]; then
		echo "$p passed"
	else
		echo "$p passed, $f FAILED (exit $rc)"
		grep -E 'FAIL|error|Error|ERROR|panic|Sanitizer' "$out" | head -n 40 | sed 's/^/    /'
		echo "    (full log: last 20 lines)"
		tail -n 20 "$out" | sed 's/^/    /'
	fi
}

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	[ "$no_root" = 1 ] && [ ! -f "tests/user/$(basename "$t").c" ] && continue
	suite "$(basename "$t")" "$t"
done
for l in tests/lint/*.sh; do
	[ -f "$l" ] || continue
	suite "lint/$(basename "$l" .sh)" bash "$l" "$build"
done

# libFuzzer: a short run of each harness from its seed corpus; any crash,
# leak or sanitizer report fails the suite.
fuzz_run() {
	local bin=$1 name corpus work
	name=$(basename "$bin")
	corpus=tests/fuzz/corpus/${name#fuzz_}
	work=$log/corpus-$name
	mkdir -p "$work"
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	if "$bin" -max_total_time="$fuzz_secs" -print_final_stats=1 -artifact_prefix="$log/" "$work" \
		>"$log/$name.fuzz" 2>&1; then
		echo "$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log/$name.fuzz" | grep -o '[0-9]*$') runs, no finding"
		echo "1 passed, 0 failed"
	else
		tail -n 40 "$log/$name.fuzz"
		echo "0 passed, 1 failed"
		return 1
	fi
}
for f in "$build"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	suite "$(basename "$f") (${fuzz_secs}s)" fuzz_run "$f"
done

[ "$no_root" = 1 ] && { echo "$total_pass passed, $total_fail failed"; [ "$total_fail" = 0 ]; exit; }
for s in tests/integration/*.sh; do
	[ -f "$s" ] && [ "$(basename "$s")" != lib.sh ] || continue
	suite "$(basename "$s" .sh)" bash "$s" "$build"
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
