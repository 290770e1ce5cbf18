#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/bench_live.sh BUILD - received-and-dropped Mpps on a veth in the lab, for
#   (a) a bare counting XDP_DROP program (the ceiling), IPv4 frames
#   (b) xdpfence with 1,000,000 IPv4 prefixes loaded and the sources banned
#   (c) a plain BPF LPM trie holding the same prefixes and the sources
#   (d) the bare ceiling again, IPv6 frames
#   (e) xdpfence with 100,000 IPv6 prefixes (/33../64 and /128, inside
#       2001:db8::/32) loaded and the sources' /64s banned, IPv6 frames
#   (f) xdp-filter (Debian's xdp-tools) with the IPv4 source addresses denied (no CIDR)
#   (g) nftables netdev ingress, an interval set of the same 1M prefixes + the sources
#   (h) iptables raw PREROUTING + ipset hash:net of the same prefixes + the sources
# all fed in one run by build/trafficgen (live frames from the client namespace,
# TCP, 10% SYN, 512 sources: one in each /24 of 198.18.0.0/15, or each /64 of
# 2001:db8:db8::/55), with 1 and with 2 generator threads (f-h: 1).
# The ceiling runs all along on a second veth pair between the same two
# namespaces, and every run of a case is paired with a run of the ceiling
# right before it: a shared host's speed drifts by more than the differences
# measured, so each case's ratio is the median of ROUNDS paired ratios.
# Mpps = packets the receiver counted as dropped / generator time (the best
# run is shown with all the runs). Ratios to the ceiling of the same family
# and thread count. Lines starting "@ " are figures for tests/bench/run.sh.
set -eu
build=$(cd "${1:-build}" && pwd)
packets=${PACKETS:-10000000}
rounds=${ROUNDS:-5}
compare=${BENCH_COMPARE:-1}	# 0: skip (f)-(h)
cd "$(dirname "$0")/../.."
. scripts/lab.sh
lab_names xfbench
trap 'lab_down xfbench >/dev/null 2>&1' EXIT
lab_down xfbench >/dev/null 2>&1 || true
# (lab.sh is not written for set -e: its functions run unchecked)
lab_up xfbench >/dev/null || { echo "bench_live: the lab did not come up" >&2; exit 1; }
G() { ip netns exec "$NS_G" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
# frames go to the documentation MAC the generator writes: make it the
# gateway's, so the stack (g, h) takes them as its own
G ip link set dev "$VG" address 00:00:5e:00:53:01
# the ceiling's own veth pair, beside the lab's
VC2=$LAB-vc2 VG2=$LAB-vg2
ip link add "$VC2" netns "$NS_C" type veth peer name "$VG2" netns "$NS_G"
C ip link set "$VC2" up
G ip link set "$VG2" address 00:00:5e:00:53:02 up
C ethtool -K "$VC2" gro on >/dev/null 2>&1
G ethtool -K "$VG2" gro on >/dev/null 2>&1
XF="$build/xdpfence --pin-dir $PIN"

gen() {	# ifname packets threads [--v6]
	C "$build/trafficgen" --ifname "$1" --packets "$2" --threads "$3" --prefixes 512 \
		--hosts 1 --syn-pct 10 ${4:-}
}
mpps() { python3 -c "print('%.2f' % ($1 / $2 / 1e6))"; }
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
secs() { python3 -c "import time; print(time.monotonic())"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

# one COUNTER IFNAME N THREADS [--v6]: Mpps of one run
one() {
	local before after sent t
	before=$($1)
	read -r sent t < <(gen "$2" "$3" "$4" ${5:-})
	after=$($1)
	mpps $((after - before)) "$t"
}

# run_case COUNTER-COMMAND N THREADS [--v6]: ROUNDS pairs of a ceiling run
# and a run of the case; prints the median paired ratio, the case's best
# Mpps, the ceiling's best Mpps, then the case's runs. COUNTER "-": the
# ceiling alone (ratio 1).
run_case() {
	local counter=$1 n=$2 th=$3 v6=${4:-} all=() ceil=() r=() x y
	for _ in $(seq "$rounds"); do
		y=$(one ceiling_count "$VC2" "$n" "$th" $v6)
		ceil+=("$y")
		[ "$counter" = - ] && continue
		x=$(one "$counter" "$VC" "$n" "$th" $v6)
		all+=("$x")
		r+=("$(ratio "$x" "$y")")
	done
	if [ "$counter" = - ]; then
		echo "1.00 $(best "${ceil[@]}") $(best "${ceil[@]}") (${ceil[*]})"
	else
		echo "$(median "${r[@]}") $(best "${all[@]}") $(best "${ceil[@]}") (${all[*]})"
	fi
}

# the prefixes: 1M random /24s and /32s outside 198.0.0.0/8, plus the sources;
# 100k IPv6 prefixes inside 2001:db8::/32, none covering or inside the sources'
# 2001:db8:db8::/48
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
open(d + "/lpm.txt", "w").write("\n".join(lines) + "\n198.18.0.0/15\n")
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
base = int(ipaddress.IPv6Address("2001:db8::")) >> 96	# the /32, as 32 bits
src48 = 0x0db8	# bits 32..47 of the sources' /48
v6 = set()
while len(v6) < 100_000:
    ln = 128 if random.random() < 0.1 else random.randint(33, 64)
    low = random.getrandbits(96) if ln == 128 else random.getrandbits(ln - 32) << (96 - (ln - 32))
    if ((low >> 80) >> max(0, 48 - ln)) == (src48 >> max(0, 48 - ln)):
        continue	# covers, or lies inside, the sources' /48
    v6.add((base << 96 | low, ln))
open(d + "/feed6.txt", "w").write(
    "".join("%s/%d\n" % (ipaddress.IPv6Address(a), ln) for a, ln in v6))
open(d + "/bans6.txt", "w").write(
    "".join("2001:db8:db8:%x::/64\n" % p for p in range(512)))
PY
sed -i "s/device \"[^\"]*\"/device \"$VG\"/" "$LAB_DIR/nft.txt"

# (a, d) the ceiling, on its own pair all along
G bpftool prog loadall "$build/bench_lpm.bpf.o" "$BPFFS/ceiling" pinmaps "$BPFFS/ceiling_maps"
G bpftool net attach xdpdrv pinned "$BPFFS/ceiling/xdp_count_drop" dev "$VG2"
ceiling_count() {
	G bpftool map lookup pinned "$BPFFS/ceiling_maps/lpm_stats" key 1 0 0 0 -j |
		python3 -c 'import json,sys; print(sum(x["value"] for x in json.load(sys.stdin)["formatted"]["values"]))'
}
A1=$(run_case - "$packets" 1)
A2=$(run_case - "$packets" 2)
D1=$(run_case - "$packets" 1 --v6)
D2=$(run_case - "$packets" 2 --v6)

# (b, e) xdpfence: the v4 feed, the v6 feed, the sources banned
t0=$(secs)
G $XF feed load million "$LAB_DIR/feed.txt" --format plain >/dev/null
load_b=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
G $XF ban add 198.18.0.0/15 >/dev/null
t0=$(secs)
G $XF feed load v6 "$LAB_DIR/feed6.txt" --format plain >/dev/null
load_e=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
G $XF feed load v6bans "$LAB_DIR/bans6.txt" --format plain >/dev/null
G $XF attach "$VG" >/dev/null
fence_count() {
	G $XF stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["drop_manual"]["packets"] + d["drop_feed"]["packets"])'
}
B1=$(run_case fence_count "$packets" 1)
B2=$(run_case fence_count "$packets" 2)
E1=$(run_case fence_count "$packets" 1 --v6)
E2=$(run_case fence_count "$packets" 2 --v6)
G $XF detach "$VG" >/dev/null

# (c) a plain LPM trie of the same prefixes
load_c=$(G "$build/bench_lpm_load" "$BPFFS" "$LAB_DIR/lpm.txt")
G bpftool net attach xdpdrv pinned "$BPFFS/xdp_lpm" dev "$VG"
lpm_count() {
	G bpftool map lookup pinned "$BPFFS/lpm_stats" key 1 0 0 0 -j |
		python3 -c 'import json,sys; print(sum(x["value"] for x in json.load(sys.stdin)["formatted"]["values"]))'
}
C1=$(run_case lpm_count "$packets" 1)
C2=$(run_case lpm_count "$packets" 2)
G bpftool net detach xdpdrv dev "$VG"

small=$((packets / 5))
F="- - - -" Gn="- - - -" H="- - - -" load_f=- load_g=- load_h=-
if [ "$compare" = 1 ]; then
	# (f) xdp-filter: exact addresses only
	G xdp-filter load --mode native "$VG" >/dev/null
	t0=$(secs)
	for i in $(seq 0 511); do G xdp-filter ip "198.$((18 + i / 256)).$((i % 256)).1" --mode src; done
	load_f=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
	filter_count() {
		G xdp-filter status 2>/dev/null | awk '/XDP_DROP/ { print $2; f = 1 } END { if (!f) print 0 }' | head -n 1
	}
	F=$(run_case filter_count "$packets" 1)
	G xdp-filter unload "$VG" >/dev/null

	# (g) nftables netdev ingress, interval set
	t0=$(secs)
	G nft -f "$LAB_DIR/nft.txt"
	load_g=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
	nft_count() {
		G nft -t -j list chain netdev xfbench ingress |
			python3 -c 'import json,sys; d=json.load(sys.stdin)["nftables"]; print(sum(e["counter"]["packets"] for r in d if "rule" in r for e in r["rule"]["expr"] if "counter" in e))'
	}
	Gn=$(run_case nft_count "$small" 1)
	G nft delete table netdev xfbench

	# (h) iptables raw + ipset hash:net
	t0=$(secs)
	G ipset restore <"$LAB_DIR/ipset.txt"
	load_h=$(python3 -c "print('%.2f' % ($(secs) - $t0))")
	G iptables -t raw -A PREROUTING -i "$VG" -m set --match-set xfdeny src -j DROP
	ipt_count() { G iptables -t raw -L PREROUTING -v -x -n | awk '/match-set xfdeny/ { print $1 }'; }
	H=$(run_case ipt_count "$small" 1)
	G iptables -t raw -F PREROUTING
	G ipset destroy xfdeny
fi

ratio_of() { echo "$1" | cut -d' ' -f1; }
mpps_of() { echo "$1" | cut -d' ' -f2; }
ceil_of() { echo "$1" | cut -d' ' -f3; }
runs_of() { echo "$1" | cut -d' ' -f4-; }
row() {	# label, result with 1 thread, result with 2 (or -), load s
	local r2=- m2=- runs
	runs=$(runs_of "$2")
	if [ "$3" != - ]; then
		r2=$(ratio_of "$3") m2=$(mpps_of "$3") runs="$runs $(runs_of "$3")"
	fi
	printf '  %-48s %7s %6s %7s %6s %8s   %s\n' "$1" "$(mpps_of "$2")" "$(ratio_of "$2")" \
		"$m2" "$r2" "$4" "$runs"
}
echo "live frames over a veth pair: TCP from 512 sources, 10% SYN, 1 and 2 generator threads"
echo "sharing the 2 vCPUs with the receiver; $rounds runs of each, each paired with a run of the"
echo "ceiling on a second veth pair ($packets frames, $small for g-h); Mpps: the best run;"
echo "x: the median of the ratios to the paired ceiling run (same family, same threads)"
printf '  %-48s %7s %6s %7s %6s %8s   %s\n' "" "Mpps 1" "x" "Mpps 2" "x" "load s" "runs"
row "(a) bare XDP_DROP, counting (ceiling), IPv4" "$A1" "$A2" -
row "(b) xdpfence, 1M IPv4 prefixes + sources banned" "$B1" "$B2" "$load_b"
row "(c) plain LPM trie, the same 1M + sources" "$C1" "$C2" "$load_c"
row "(d) bare XDP_DROP, counting (ceiling), IPv6" "$D1" "$D2" -
row "(e) xdpfence, 100k IPv6 prefixes + sources banned" "$E1" "$E2" "$load_e"
if [ "$compare" = 1 ]; then
	row "(f) xdp-filter, the 512 IPv4 addresses" "$F" - "$load_f"
	row "(g) nftables netdev ingress, interval set" "$Gn" - "$load_g"
	row "(h) iptables raw + ipset hash:net" "$H" - "$load_h"
fi
echo "targets: (b) >= 0.85 x (a); (e) >= 0.60 x (d)"
echo "@ live_v4_1t $(ratio_of "$B1")"
echo "@ live_v4_2t $(ratio_of "$B2")"
echo "@ live_v6_1t $(ratio_of "$E1")"
echo "@ live_v6_2t $(ratio_of "$E2")"
echo "@ live_lpm_1t $(ratio_of "$C1")"
echo "@ live_lpm_2t $(ratio_of "$C2")"
echo "@ live_ceiling_1t $(mpps_of "$A1")"
echo "@ live_ceiling_2t $(mpps_of "$A2")"
