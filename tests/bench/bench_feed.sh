#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/bench_feed.sh BUILD - end-to-end `xdpfence feed load` timings:
# a 1,000,000-prefix feed loaded into fresh maps, reloaded unchanged, and
# reloaded with 1% changed (0.5% removed, 0.5% new: each reload drops the
# 5,000 oldest lines and adds 5,000 never loaded, as a feed moves on).
# Wall clock of the CLI, process start to exit, on pinned maps in a
# private bpffs.
set -eu
build=$(cd "${1:-build}" && pwd)
tmp=$(mktemp -d /tmp/xdpfence-bench.XXXXXX)
bpffs=$tmp/bpf
mkdir -p "$bpffs"
mount -t bpf bpf "$bpffs"
dpid=
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid"; umount "$bpffs" 2>/dev/null; rm -rf "$tmp"' EXIT
xf() { "$build/xdpfence" --pin-dir "$bpffs/fence" "$@"; }

# the same feed-like mix as bench_lookup: 60% /32, 30% /24, 9% /16-/23, 1% /25-/31
python3 - "$tmp" <<'PY'
import random, sys
random.seed(42)
d = sys.argv[1]
seen, lines = set(), []
while len(lines) < 1_045_000:
    r = random.random()
    ln = 32 if r < .6 else 24 if r < .9 else random.randint(16, 23) if r < .99 else random.randint(25, 31)
    a = random.getrandbits(32) & ((0xffffffff << (32 - ln)) & 0xffffffff)
    if a >> 24 in (0, 127, 198, 224) or a >> 24 >= 224 or (a, ln) in seen:
        continue
    seen.add((a, ln))
    lines.append("%d.%d.%d.%d/%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, ln))
open(d + "/feed-1m.txt", "w").write("\n".join(lines[:1_000_000]) + "\n")
# 1% changed from the one before: the 5,000 oldest lines gone, 5,000 new
for i in range(1, 10):
    open(d + "/feed-1m-%d.txt" % i, "w").write("\n".join(lines[5_000 * i:1_000_000 + 5_000 * i]) + "\n")
PY

t() {	# label, command...: prints the time, keeps it in $last
	local label=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	last=$(echo "$t1 - $t0" | bc -l)
	printf '%-44s %6.2f s\n' "$label" "$last"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
xf ban add 192.0.2.1 >/dev/null 2>&1	# creates and pins the maps, so loads below time the load alone
echo "feed load, end to end (CLI start to exit), 1,000,000 prefixes:"
t "first load into empty maps" xf feed load big "$tmp/feed-1m.txt" --format plain --direct
first=$last
t "reload, unchanged file" xf feed load big "$tmp/feed-1m.txt" --format plain --direct
cli=()
for i in 1 2 3 4; do	# each a 1% change from the one before
	t "reload, 1% changed (+5000 -5000)" xf feed load big "$tmp/feed-1m-$i.txt" --format plain --direct
	cli+=("$last")
done
t "feed load --check only (parse + guardrails)" xf feed load big "$tmp/feed-1m-5.txt" --format plain --check

# the same CLI command served by an `xdpfence run` of the pin dir (no
# interfaces, no rules: it only serves); its first load warms it up
printf '[daemon]\ntick = 1s\nevents = %s/events.jsonl\n' "$tmp" >"$tmp/run.conf"
"$build/xdpfence" --pin-dir "$bpffs/fence" run --config "$tmp/run.conf" >/dev/null 2>"$tmp/run.err" &
dpid=$!
for _ in $(seq 100); do grep -q '"event":"start"' "$tmp/events.jsonl" 2>/dev/null && break; sleep 0.1; done
echo
echo "feed load, CLI start to exit, served by a running \`xdpfence run\`:"
t "reload, 1% changed (first in the daemon)" xf feed load big "$tmp/feed-1m-5.txt" --format plain
served=()
for i in 6 7 8 9; do
	t "reload, 1% changed (+5000 -5000)" xf feed load big "$tmp/feed-1m-$i.txt" --format plain
	served+=("$last")
done
n_served=$(grep -c '"event":"control".*"exit":0' "$tmp/events.jsonl")
kill "$dpid" && wait "$dpid"
dpid=
[ "$n_served" = 5 ] || { echo "bench_feed: the daemon served $n_served of 5 loads" >&2; exit 1; }

# the same in one long-lived process (as `xdpfence run` refreshes its feeds),
# on fresh maps of their own
"$build/xdpfence" --pin-dir "$bpffs/resident" ban add 192.0.2.1 >/dev/null 2>&1
echo
"$build/bench_feed_resident" "$bpffs/resident" "$tmp/feed-1m.txt" "$tmp"/feed-1m-[1-4].txt |
	tee "$tmp/resident.txt"
echo
"$build/bench_commit" "$bpffs/resident" | tee "$tmp/commit.txt"
t "ban add /32, one-shot CLI, on the 1M set" "$build/xdpfence" --pin-dir "$bpffs/resident" ban add 198.19.255.1
t "ban del /32, one-shot CLI, on the 1M set" "$build/xdpfence" --pin-dir "$bpffs/resident" ban del 198.19.255.1
mapfile -t res < <(awk '/reload, 1% changed/ { print $(NF - 3) }' "$tmp/resident.txt")
echo
printf 'targets (issue 3): first load <= 1 s: %.2f s; 1%% reload <= 0.2 s: CLI median %s s one-shot (--direct), %s s served by xdpfence run; resident median %s s\n' \
	"$first" "$(median "${cli[@]}")" "$(median "${served[@]}")" "$(median "${res[@]}")"
# figures for tests/bench/run.sh
printf '@ feed_first_s %.2f\n@ feed_reload_cli_s %s\n@ feed_reload_served_s %s\n@ feed_reload_resident_s %s\n' \
	"$first" "$(median "${cli[@]}")" "$(median "${served[@]}")" "$(median "${res[@]}")"
