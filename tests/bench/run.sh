#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/run.sh BUILD - `make bench`: every benchmark, one run, one machine.
#
# Runs the benchmarks one after the other (needs root), prints each one's
# tables, then one summary of issue 15's figures, each next to its target
# and to the same figure of the previous run. Keeps the whole output in
# bench-results/bench.txt and the figures in bench-results/figures.txt; the
# previous run's are moved to *.prev.txt first. The benchmarks print their
# figures as "@ NAME VALUE" lines; a figure of a command that failed reads
# "failed(exit N)". BENCH_ONLY="lookup tick" runs some of them.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
build=$(cd "$build" && pwd)
mkdir -p bench-results
out=bench-results/bench.txt figs=bench-results/figures.txt
for f in "$out" "$figs"; do
	[ -f "$f" ] && mv "$f" "${f%.txt}.prev.txt"
done
only=${BENCH_ONLY:-lookup tick live cli feed fleet}
machine="$(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo |
	cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
fails=0

part() {	# name command...: run it, keep its output, count a failure
	local name=$1
	shift
	case " $only " in *" $name "*) ;; *) return 0 ;; esac
	echo
	echo "=== $name: $*"
	if ! "$@" 2>&1; then
		echo "=== $name failed"
		fails=$((fails + 1))
	fi
}

{
	echo "# make bench: $machine"
	part lookup "$build/bench_lookup"
	part tick "$build/bench_tick"
	part live tests/bench/bench_live.sh "$build"
	part cli tests/bench/bench_cli.sh "$build"
	part feed tests/bench/bench_feed.sh "$build"
	part fleet tests/bench/bench_fleet.sh "$build"
} | tee "$out"
{
	echo "# $machine"
	sed -n 's/^@ //p' "$out"
} >"$figs"

# The summary: figure, this run, target, previous run. A target is
# "<= N" or ">= N"; the verdict only where this run has a number.
python3 - "$figs" bench-results/figures.prev.txt <<'PY'
import os, re, sys

def load(path):
    if not os.path.exists(path):
        return None, {}
    head, vals = "", {}
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# "):
            head = line[2:]
        elif line:
            k, _, v = line.partition(" ")
            vals[k] = v
    return head, vals

head, cur = load(sys.argv[1])
prev_head, prev = load(sys.argv[2])
rows = [
    ("issue 15, item 4: drop path near bare XDP_DROP", None, None, None),
    ("live: drop, 1M IPv4 prefixes, 1 thread (x bare)", "live_v4_1t", ">=", 0.85),
    ("live: drop, 1M IPv4 prefixes, 2 threads (x bare)", "live_v4_2t", ">=", 0.85),
    ("  live: plain LPM trie 1M, 1 / 2 threads (x bare)", "live_lpm_1t", None, None),
    ("", "live_lpm_2t", None, None),
    ("  live: bare XDP_DROP ceiling, 1 / 2 threads (Mpps)", "live_ceiling_1t", None, None),
    ("", "live_ceiling_2t", None, None),
    ("test_run: drop from a banned /24, 1M (ns)", "testrun_drop24_1m", "<=", 12),
    ("test_run: drop from a banned /32, 1M (ns)", "testrun_drop32_1m", "<=", 12),
    ("  test_run: bare XDP_DROP (ns)", "testrun_bare", None, None),
    ("  test_run: pass, 1M (ns)", "testrun_pass_1m", None, None),
    ("issue 15, item 5: IPv6", None, None, None),
    ("live: drop, 100k IPv6 prefixes, 1 thread (x bare)", "live_v6_1t", ">=", 0.60),
    ("live: drop, 100k IPv6 prefixes, 2 threads (x bare)", "live_v6_2t", ">=", 0.60),
    ("  test_run: IPv6 drop, xdpfence (ns)", "testrun_v6_drop", None, None),
    ("  test_run: IPv6 search: array / hash / LPM (ns)", "testrun_v6_array", None, None),
    ("", "testrun_v6_hash", None, None),
    ("", "testrun_v6_lpm", None, None),
    ("issue 15, item 6: ticks", None, None, None),
    ("tick, 1M prefixes all active (ms)", "tick_1m_all", "<=", 250),
    ("tick, 1M prefixes, 10% active (ms)", "tick_1m_tenth", "<=", 100),
    ("  tick reading every prefix: all / 10% active (ms)", "tick_1m_all_walk", None, None),
    ("", "tick_1m_tenth_walk", None, None),
    ("issue 17: distinct hosts, ns added to a frame (test_run)", None, None, None),
    ("hosts: IPv4 / IPv6 SYN (ns added)", "hosts_v4_syn_added", "<=", 3),
    ("", "hosts_v6_syn_added", None, None),
    ("  hosts: IPv4 / IPv6 ACK (ns added)", "hosts_v4_ack_added", None, None),
    ("", "hosts_v6_ack_added", None, None),
    ("issue 15, items 1-3: changes (one-shot CLI, 1M /16../32 loaded)", None, None, None),
    ("ban add (ms)", "ban_add_ms", "<=", 15),
    ("ban add, max RSS (MB)", "ban_add_rss_mb", "<=", 64),
    ("ban del (ms)", "ban_del_ms", "<=", 15),
    ("ban del, max RSS (MB)", "ban_del_rss_mb", "<=", 64),
    ("allow add (ms)", "allow_add_ms", "<=", 15),
    ("allow add, max RSS (MB)", "allow_add_rss_mb", "<=", 64),
    ("  allow del (ms)", "allow_del_ms", None, None),
    ("  allow del, max RSS (MB)", "allow_del_rss_mb", None, None),
    ("reload of the 1M feed, 1% changed (s)", "reload_1pct_s", "<=", 0.2),
    ("ban add - of 10,000 lines (s)", "ban_batch_10k_s", "<=", 0.3),
    ("first load, 1M /16../32, default settings (s)", "first_load_spread_s", "<=", 1.0),
    ("  first load, maps with room for it (s)", "first_load_spread_big_s", None, None),
    ("feed loads, 1M feed-like mix (bench_feed.sh)", None, None, None),
    ("  first load, one-shot (s)", "feed_first_s", None, None),
    ("  1% reload: one-shot / served / resident (s)", "feed_reload_cli_s", None, None),
    ("", "feed_reload_served_s", None, None),
    ("", "feed_reload_resident_s", None, None),
]

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None

print()
print("=" * 100)
print("issue 15, one run:", head)
print("previous run:     ", prev_head or "(none kept)")
print("%-52s %14s %10s %5s %14s" % ("figure", "this run", "target", "", "previous"))
i = 0
while i < len(rows):
    label, key, op, target = rows[i]
    if key is None:
        print(label)
        i += 1
        continue
    keys = [key]
    while i + 1 < len(rows) and rows[i + 1][0] == "":
        keys.append(rows[i + 1][1])
        i += 1
    i += 1
    this = " / ".join(cur.get(k, "-") for k in keys)
    before = " / ".join(prev.get(k, "-") for k in keys)
    verdict = ""
    if op and num(cur.get(key)) is not None:
        v = num(cur.get(key))
        verdict = "ok" if (v <= target if op == "<=" else v >= target) else "MISS"
    print("%-52s %14s %10s %5s %14s" % (label, this, "%s %g" % (op, target) if op else "",
                                         verdict, before))
PY
echo "(whole output: $out; figures: $figs; the previous run's beside them as *.prev.txt)"
[ "$fails" = 0 ]
