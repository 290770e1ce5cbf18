#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/run.sh BUILD - `make bench`: every benchmark, one run, one machine.
# Prints the tables and keeps them in bench-results/ (the previous run's file
# stays beside it, to compare). Needs root.
set -eu
build=${1:-build}
cd "$(dirname "$0")/../.."
mkdir -p bench-results
out=bench-results/lookup.txt
[ -f "$out" ] && cp "$out" bench-results/lookup.prev.txt
{
	echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	"$build"/bench_lookup
	echo
	tests/bench/bench_feed.sh "$build"
	echo
	"$build"/bench_tick
	echo
	tests/bench/bench_live.sh "$build"
	echo
	tests/bench/bench_fleet.sh "$build"
} | tee "$out"
if [ -f bench-results/lookup.prev.txt ]; then
	echo
	echo "previous run (bench-results/lookup.prev.txt):"
	sed -n '2,$p' bench-results/lookup.prev.txt
fi
