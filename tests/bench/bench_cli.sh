#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/bench_cli.sh BUILD - what a change costs, one-shot, with a million
# prefixes loaded (issue 15, items 1-3): wall time and maximum RSS of the real
# CLI (`/usr/bin/time -f '%e %M'`), process start to exit, on pinned maps in a
# private bpffs, in the root namespace (no `ip netns exec`):
#   - the first load of 1,000,000 prefixes of lengths spread /16../32, into
#     maps made with the default settings (median of 3, each into maps made
#     afresh); if they refuse it, again into maps
#     made by `attach --tbl8-groups 524288` (on a veth of a lab of its own),
#     so that what follows runs with the million loaded either way;
#   - `ban add`, `ban del`, `allow add`, `allow del` of one prefix (median of 5; RSS: max);
#   - a reload of the feed with 1% changed (0.5% gone, 0.5% new), `--direct` (median of 6,
#     each with lines never loaded before);
#   - `ban add -` of 10,000 lines from stdin, then `ban del -` of them.
# It measures whatever the code does: a command that fails is reported with
# its exit code. Lines starting "@ " are figures for tests/bench/run.sh.
set -eu
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
. scripts/lab.sh
lab_names "xfcli$$"
tmp=$(mktemp -d /tmp/xdpfence-bench-cli.XXXXXX)
trap 'lab_down "$LAB" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
lab_up "$LAB" >/dev/null || { echo "bench_cli: the lab did not come up" >&2; exit 1; }
pin=$BPFFS/cli
XF=("$build/xdpfence" --pin-dir "$pin")
xf() { "${XF[@]}" "$@"; }

python3 - "$tmp" <<'PY'
import random, sys
random.seed(15)
d = sys.argv[1]
seen, lines = set(), []
while len(lines) < 1_030_000:
    ln = random.randint(16, 32)
    a = random.getrandbits(32) & ((0xffffffff << (32 - ln)) & 0xffffffff)
    # clear of the lab's, the documentation's and the batch's ranges
    if a >> 24 in (0, 10, 127, 192, 198, 203) or a >> 24 >= 224 or (a, ln) in seen:
        continue
    seen.add((a, ln))
    lines.append("%d.%d.%d.%d/%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, ln))
open(d + "/spread.txt", "w").write("\n".join(lines[:1_000_000]) + "\n")
# reload i: the 5,000 oldest lines gone, 5,000 never loaded new (a feed
# moves on; going back and forth between two files would change the same
# /24s each time, whose groups the reload before had just laid side by side)
for i in range(1, 7):
    open(d + "/spread-%d.txt" % i, "w").write("\n".join(lines[5_000 * i:1_000_000 + 5_000 * i]) + "\n")
open(d + "/batch.txt", "w").write("".join("10.%d.%d.%d\n" % (i >> 16, i >> 8 & 255, i & 255)
                                           for i in range(1, 10_001)))
PY

# timed LABEL COMMAND...: wall s, max RSS kB and exit code of one run, in $w $r $rc
# (the wall clock in ns around /usr/bin/time, whose %e counts in 10 ms)
timed() {
	local label=$1 t0 t1 e
	shift
	set +e
	t0=$(date +%s%N)
	/usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" <"${STDIN:-/dev/null}"
	rc=$?
	t1=$(date +%s%N)
	set -e
	# a failed command's first line says so; the figures are on the last
	read -r e r < <(tail -n 1 "$tmp/time") || { e=0 r=0; }
	w=$(python3 -c "print('%.4f' % (($t1 - $t0) / 1e9))")
	printf '  %-52s %8.4f s %8.1f MB   exit %d\n' "$label" "$w" "$(echo "$r / 1024" | bc -l)" "$rc"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

echo "one-shot CLI, wall and max RSS (/usr/bin/time), 1,000,000 prefixes /16../32 loaded"
# three first loads, each into maps made afresh: the median (one run on
# a shared host is one draw of its noise)
firsts=()
for i in 1 2 3; do
	[ "$i" = 1 ] || rm -rf "$pin"
	xf ban add 192.0.2.250 >/dev/null 2>&1	# makes the maps, default settings
	xf ban del 192.0.2.250 >/dev/null 2>&1
	timed "first load, 1M /16../32, default settings" "${XF[@]}" feed load spread "$tmp/spread.txt" \
		--format plain --direct
	firsts+=("$w")
	first_rc=$rc
	[ "$rc" = 0 ] || break
done
first=$(median "${firsts[@]}")
if [ "$rc" != 0 ]; then
	sed -n '1,2p' "$tmp/err" | sed 's/^/    /'
	# the same again where the maps have room for it, so the rest runs with the million
	xf detach "$VG" >/dev/null 2>&1 || true
	rm -rf "$pin"
	ip netns exec "$NS_G" "$build/xdpfence" --pin-dir "$pin" attach "$VG" --tbl8-groups 524288 \
		>/dev/null 2>&1 && ip netns exec "$NS_G" "$build/xdpfence" --pin-dir "$pin" detach "$VG" >/dev/null 2>&1
	timed "first load again, maps from attach --tbl8-groups 524288" "${XF[@]}" feed load spread "$tmp/spread.txt" \
		--format plain --direct
	first_big=$w
	[ "$rc" = 0 ] || { echo "bench_cli: the feed does not load" >&2; exit 1; }
fi

declare -A W R
for cmd in "ban add" "ban del" "allow add" "allow del"; do
	W[$cmd]="" R[$cmd]=""
done
for i in 1 2 3 4 5; do
	timed "ban add 203.0.113.$i" "${XF[@]}" ban add "203.0.113.$i"
	W["ban add"]+=" $w" R["ban add"]+=" $r" rc_add=$rc
	timed "ban del 203.0.113.$i" "${XF[@]}" ban del "203.0.113.$i"
	W["ban del"]+=" $w" R["ban del"]+=" $r" rc_del=$rc
	timed "allow add 192.0.2.$i" "${XF[@]}" allow add "192.0.2.$i"
	W["allow add"]+=" $w" R["allow add"]+=" $r" rc_allow=$rc
	timed "allow del 192.0.2.$i" "${XF[@]}" allow del "192.0.2.$i"
	W["allow del"]+=" $w" R["allow del"]+=" $r" rc_allow_del=$rc
done
reload=()
for i in 1 2 3 4 5 6; do
	timed "reload, 1% changed (+5000 -5000), --direct" "${XF[@]}" feed load spread "$tmp/spread-$i.txt" \
		--format plain --direct
	reload+=("$w")
done
STDIN=$tmp/batch.txt timed "ban add - (10,000 lines on stdin)" "${XF[@]}" ban add -
batch=$w batch_rc=$rc
[ "$rc" = 0 ] || sed -n '1,2p' "$tmp/err" | sed 's/^/    /'
STDIN=$tmp/batch.txt timed "ban del - (10,000 lines on stdin)" "${XF[@]}" ban del -
batch_del=$w batch_del_rc=$rc

ms() { python3 -c "print('%.1f' % ($1 * 1000))"; }
mb() { python3 -c "print('%.1f' % ($1 / 1024))"; }
echo "medians of 5: ban add $(ms "$(median ${W["ban add"]})") ms, ban del $(ms "$(median ${W["ban del"]})") ms," \
	"allow add $(ms "$(median ${W["allow add"]})") ms, allow del $(ms "$(median ${W["allow del"]})") ms;" \
	"max RSS $(mb "$(maxof ${R["ban add"]})") / $(mb "$(maxof ${R["ban del"]})") /" \
	"$(mb "$(maxof ${R["allow add"]})") / $(mb "$(maxof ${R["allow del"]})") MB"
echo "targets: one change <= 15 ms and <= 64 MB; 1% reload <= 0.2 s; ban add - of 10k <= 0.3 s;" \
	"first load of 1M /16../32 <= 1 s"
fig() {	# name value exit-code: a failed run is no figure
	if [ "$3" = 0 ]; then echo "@ $1 $2"; else echo "@ $1 failed(exit $3)"; fi
}
fig first_load_spread_s "$first" "$first_rc"
[ -n "${first_big:-}" ] && echo "@ first_load_spread_big_s $first_big"
fig ban_add_ms "$(ms "$(median ${W["ban add"]})")" "$rc_add"
fig ban_add_rss_mb "$(mb "$(maxof ${R["ban add"]})")" "$rc_add"
fig ban_del_ms "$(ms "$(median ${W["ban del"]})")" "$rc_del"
fig ban_del_rss_mb "$(mb "$(maxof ${R["ban del"]})")" "$rc_del"
fig allow_add_ms "$(ms "$(median ${W["allow add"]})")" "$rc_allow"
fig allow_add_rss_mb "$(mb "$(maxof ${R["allow add"]})")" "$rc_allow"
fig allow_del_ms "$(ms "$(median ${W["allow del"]})")" "$rc_allow_del"
fig allow_del_rss_mb "$(mb "$(maxof ${R["allow del"]})")" "$rc_allow_del"
fig reload_1pct_s "$(median "${reload[@]}")" 0
fig ban_batch_10k_s "$batch" "$batch_rc"
fig ban_batch_del_10k_s "$batch_del" "$batch_del_rc"
