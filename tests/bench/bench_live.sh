#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/bench_live.sh BUILD - received-and-dropped Mpps on a veth in the lab, for
#   (a) a bare counting XDP_DROP program (the ceiling)
#   (b) xdpfence with 1,000,000 prefixes loaded and the sources banned
#   (c) xdp-filter (Debian's xdp-tools) with the same source addresses denied (no CIDR)
#   (d) nftables netdev ingress, an interval set of the same 1M prefixes + the sources
#   (e) iptables raw PREROUTING + ipset hash:net of the same prefixes + the sources
# all fed in one run by build/trafficgen (live frames from the client namespace,
# 64-byte TCP, 512 sources: one in each /24 of 198.18.0.0/15, so xdp-filter can
# hold them). Mpps = packets the receiver counted as dropped / generator time;
# best of ROUNDS runs for each. Ratios to (a) and to (d).
set -eu
build=$(cd "${1:-build}" && pwd)
packets=${PACKETS:-10000000}
rounds=${ROUNDS:-3}
cd "$(dirname "$0")/../.."
. scripts/lab.sh
lab_names xfbench
trap 'lab_down xfbench >/dev/null 2>&1' EXIT
lab_down xfbench >/dev/null 2>&1
lab_up xfbench >/dev/null
G() { ip netns exec "$NS_G" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
# frames go to the documentation MAC the generator writes: make it the
# gateway's, so the stack (d, e) takes them as its own
G ip link set dev "$VG" address 00:00:5e:00:53:01
XF="$build/xdpfence --pin-dir $PIN"

gen() { C "$build/trafficgen" --ifname "$VC" --packets "$1" --prefixes 512 --hosts 1 --syn-pct 10; }
mpps() { python3 -c "print('%.2f' % ($1 / $2 / 1e6))"; }
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }
secs() { python3 -c "import time; print(time.monotonic())"; }

# run_case NAME COUNTER-COMMAND N: gen N packets ROUNDS times, print the best Mpps
run_case() {
	local counter=$1 n=$2 all=() before after sent t
	for _ in $(seq "$rounds"); do
		before=$($counter)
		read -r sent t < <(gen "$n")
		after=$($counter)
		all+=("$(mpps $((after - before)) "$t")")
	done
	echo "$(best "${all[@]}") (${all[*]})"
}

# the prefixes: 1M random /24s and /32s outside 198.0.0.0/8, plus the sources
python3 - "$LAB_DIR" <<'PY'
import ipaddress, random, sys
random.seed(7)
out = set()
while len(out) < 1_000_000:
    ln = random.choice((24, 32, 32))
    a = random.getrandbits(32) & ((0xffffffff << (32 - ln)) & 0xffffffff)
    if a >> 24 in (0, 127, 198) or a >> 24 >= 224:
        continue
    out.add((a, ln))
d = sys.argv[1]
lines = ["%s/%d" % (ipaddress.IPv4Address(a), ln) for a, ln in out]
open(d + "/feed.txt", "w").write("\n".join(lines) + "\n")
open(d + "/ipset.txt", "w").write(
    "create xfdeny hash:net family inet hashsize 1048576 maxelem 2000000\n"
    + "".join("add xfdeny %s\n" % l for l in lines) + "add xfdeny 198.18.0.0/15\n")
# nft refuses overlapping intervals: merge first
iv = sorted((a, a + (1 << (32 - ln)) - 1) for a, ln in out)
iv.append((0xc6120000, 0xc613ffff))
iv.sort()
merged = []
for lo, hi in iv:
    if merged and lo <= merged[-1][1] + 1:
        merged[-1][1] = max(merged[-1][1], hi)
    else:
        merged.append([lo, hi])
els = ",\n".join("%s-%s" % (ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi)) for lo, hi in merged)
open(d + "/nft.txt", "w").write(
    "table netdev xfbench {\n set deny { type ipv4_addr; flags interval; elements = {\n"
    + els + "\n } }\n chain ingress { type filter hook ingress device \"%s\" priority -500;"
    " ip saddr @deny counter drop; }\n}\n" % "DEVICE")
PY
sed -i "s/device \"[^\"]*\"/device \"$VG\"/" "$LAB_DIR/nft.txt"

# (a) the ceiling
G bpftool prog loadall "$build/bench_lpm.bpf.o" "$BPFFS/ceiling" pinmaps "$BPFFS/ceiling_maps"
G bpftool net attach xdpdrv pinned "$BPFFS/ceiling/xdp_count_drop" dev "$VG"
ceiling_count() {
	G bpftool map lookup pinned "$BPFFS/ceiling_maps/lpm_stats" key 1 0 0 0 -j |
		python3 -c 'import json,sys; print(sum(x["value"] for x in json.load(sys.stdin)["formatted"]["values"]))'
}
A=$(run_case ceiling_count "$packets")
G bpftool net detach xdpdrv dev "$VG"

# (b) xdpfence
t0=$(secs)
G $XF feed load million "$LAB_DIR/feed.txt" --format plain >/dev/null 2>&1
load_b=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
G $XF ban add 198.18.0.0/15 >/dev/null 2>&1
G $XF attach "$VG" >/dev/null 2>&1
fence_count() { G $XF stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["drop_manual"]["packets"])'; }
B=$(run_case fence_count "$packets")
G $XF detach "$VG" >/dev/null 2>&1

# (c) xdp-filter: exact addresses only
G xdp-filter load --mode native "$VG" >/dev/null
t0=$(secs)
for i in $(seq 0 511); do G xdp-filter ip "198.$((18 + i / 256)).$((i % 256)).1" --mode src; done
load_c=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
filter_count() {
	G xdp-filter status 2>/dev/null | awk '/XDP_DROP/ { print $2; f = 1 } END { if (!f) print 0 }' | head -n 1
}
Cr=$(run_case filter_count "$packets")
G xdp-filter unload "$VG" >/dev/null

# (d) nftables netdev ingress, interval set
t0=$(secs)
G nft -f "$LAB_DIR/nft.txt"
load_d=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
nft_count() {
	G nft -t -j list chain netdev xfbench ingress |
		python3 -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print(sum(e["counter"]["packets"] for r in d if "rule" in r for e in r["rule"]["expr"] if "counter" in e))'
}
small=$((packets / 5))
D=$(run_case nft_count "$small")
G nft delete table netdev xfbench

# (e) iptables raw + ipset hash:net
t0=$(secs)
G ipset restore <"$LAB_DIR/ipset.txt"
load_e=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
G iptables -t raw -A PREROUTING -i "$VG" -m set --match-set xfdeny src -j DROP
ipt_count() { G iptables -t raw -L PREROUTING -v -x -n | awk '/match-set xfdeny/ { print $1 }'; }
E=$(run_case ipt_count "$small")
G iptables -t raw -F PREROUTING
G ipset destroy xfdeny

a=${A%% *} b=${B%% *} c=${Cr%% *} d=${D%% *} e=${E%% *}
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo "live frames over a veth pair: 64-byte TCP from 512 sources in 198.18.0.0/15, 10% SYN, 1 generator"
echo "thread sharing the 2 vCPUs with the receiver; best of $rounds runs ($packets frames, $small for d/e)"
printf '  %-46s %7s %8s %8s %9s   %s\n' "" "Mpps" "x (a)" "x (d)" "load s" "runs"
printf '  %-46s %7s %8s %8s %9s   %s\n' "(a) bare XDP_DROP, counting (ceiling)" "$a" "1.00" "$(ratio "$a" "$d")" "-" "${A#* }"
printf '  %-46s %7s %8s %8s %9s   %s\n' "(b) xdpfence, 1M prefixes + sources banned" "$b" "$(ratio "$b" "$a")" "$(ratio "$b" "$d")" "$load_b" "${B#* }"
printf '  %-46s %7s %8s %8s %9s   %s\n' "(c) xdp-filter, the 512 addresses" "$c" "$(ratio "$c" "$a")" "$(ratio "$c" "$d")" "$load_c" "${Cr#* }"
printf '  %-46s %7s %8s %8s %9s   %s\n' "(d) nftables netdev ingress, interval set" "$d" "$(ratio "$d" "$a")" "1.00" "$load_d" "${D#* }"
printf '  %-46s %7s %8s %8s %9s   %s\n' "(e) iptables raw + ipset hash:net" "$e" "$(ratio "$e" "$a")" "$(ratio "$e" "$d")" "$load_e" "${E#* }"
echo "targets: (b) >= 0.90 x (a); (b) >= 3 x (d)"
