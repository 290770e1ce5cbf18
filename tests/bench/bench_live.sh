#!/usr/bin/env bash
# tests/bench/bench_live.sh BUILD - received-and-dropped Mpps on a veth in the lab:
# (a) a bare counting XDP_DROP program (the ceiling) and (b) xdpfence with
# 1,000,000 prefixes loaded and the generator's 198.18.0.0/15 banned, both fed
# by build/trafficgen (live frames from the client namespace), same run.
# Mpps = packets the receiver counted / generator wall time.
set -eu
build=$(cd "${1:-build}" && pwd)
packets=${PACKETS:-20000000}
cd "$(dirname "$0")/../.."
. scripts/lab.sh
lab_names xfbench
trap 'lab_down xfbench >/dev/null 2>&1' EXIT
lab_down xfbench >/dev/null 2>&1
lab_up xfbench >/dev/null
G() { ip netns exec "$NS_G" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }

gen() { C "$build/trafficgen" --ifname "$VC" --packets "$packets" --prefixes 512 --syn-pct 10; }
sum_percpu() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(x["value"] for x in d["formatted"]["values"]))'; }

mpps() { python3 -c "print('%.2f' % ($1 / $2 / 1e6))"; }
stat() { G $XF stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["drop_manual"]["packets"])'; }
XF="$build/xdpfence --pin-dir $PIN"

# (b)'s state: 1M prefixes loaded, the generator's range banned
python3 - "$LAB_DIR/feed.txt" <<'PY'
import random, sys
random.seed(7)
out = set()
while len(out) < 1_000_000:
    ln = random.choice((24, 32, 32))
    a = random.getrandbits(32) & ((0xffffffff << (32 - ln)) & 0xffffffff)
    if a >> 24 in (0, 127, 198) or a >> 24 >= 224:
        continue
    out.add("%d.%d.%d.%d/%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, ln))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
G $XF feed load million "$LAB_DIR/feed.txt" --format plain >/dev/null 2>&1
G $XF ban add 198.18.0.0/15 >/dev/null 2>&1
G bpftool prog loadall "$build/bench_lpm.bpf.o" "$BPFFS/ceiling" pinmaps "$BPFFS/ceiling_maps"

# alternate (a) and (b), three rounds each; the machine is shared, keep the best
A=() B=()
for round in 1 2 3; do
	G bpftool net attach xdpdrv pinned "$BPFFS/ceiling/xdp_count_drop" dev "$VG"
	before=$(G bpftool map lookup pinned "$BPFFS/ceiling_maps/lpm_stats" key 1 0 0 0 -j | sum_percpu)
	read -r sent secs < <(gen)
	after=$(G bpftool map lookup pinned "$BPFFS/ceiling_maps/lpm_stats" key 1 0 0 0 -j | sum_percpu)
	G bpftool net detach xdpdrv dev "$VG"
	A+=("$(mpps $((after - before)) "$secs")")

	G $XF attach "$VG" >/dev/null 2>&1
	before=$(stat)
	read -r sent secs < <(gen)
	after=$(stat)
	G $XF detach "$VG" >/dev/null 2>&1
	B+=("$(mpps $((after - before)) "$secs")")
done
a=$(printf '%s\n' "${A[@]}" | sort -g | tail -n 1)
b=$(printf '%s\n' "${B[@]}" | sort -g | tail -n 1)

echo "live frames over a veth pair, 64-byte TCP from 512 /24s of 198.18.0.0/15, 10% SYN,"
echo "1 generator thread, $packets packets per run, best of 3 alternating runs (all: a ${A[*]}; b ${B[*]});"
echo "receiver counts what it dropped; sender and receiver share the 2 vCPUs:"
printf '  %-44s %6s Mpps\n' "(a) bare XDP_DROP (ceiling)" "$a"
printf '  %-44s %6s Mpps  (%s of a)\n' "(b) xdpfence, 1M prefixes, sources banned" "$b" \
	"$(python3 -c "print('%.0f%%' % (100 * $b / $a))")"
