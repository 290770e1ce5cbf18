#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/bench_fleet.sh BUILD - the fleet's figures: three `xdpfence run`
# gateways and a three-node NATS JetStream cluster (R3 bucket), each in its
# own namespace of the fleet lab (scripts/lab.sh), on one machine.
#
#  1. propagation: gateway A promotes 1,000 prefixes, 10 every 100 ms (its
#     own engine deciding on counters written into its prefix_v6 map); the
#     latency from A's decision (its "promote" event) to the entry enforced
#     in B's and C's data path (deny_v6), p50 and p99 (target p99 200 ms);
#  2. burst: A promotes 100,000 prefixes in one tick; the time until every
#     one is enforced at B and at C (target 5 s);
#  3. resync: B (alone now, on maps of the default size) is cut off from
#     NATS, 1,000,000 keys are written to the bucket meanwhile, B is let
#     back: the time from the link up to all of them enforced at B.
# Every gateway attached with the defaults (tables grow as entries need).
# Addresses: 2001:db8::/32 only. Needs root.
# For diagnosis: BENCH_FLEET_V=1 runs the daemons with -v (each apply's parts in
# their stderr), BENCH_FLEET_KEEP=1 keeps the tmp dir (stderr, events, NATS
# logs), BENCH_FLEET_NO_RESYNC=1 stops after the burst.
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lab.sh"
XF=$build/xdpfence
BF=$build/bench_fleet
lab_fleet_names "xfb$$"
tmp=$(mktemp -d /tmp/xdpfence-bench-fleet.XXXXXX)
declare -A DPID NPID
daemons_alive() {
	local p
	for p in "${DPID[@]}"; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}
stop() {
	local p
	for p in "${DPID[@]}" "${NPID[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	# a daemon holding a million entries takes a few seconds to exit:
	# let it, rather than have lab_fleet_down kill it (and say so)
	for _ in $(seq 50); do
		daemons_alive || break
		sleep 0.2
	done
	sleep 0.5
	lab_fleet_down "$LAB"
	if [ "${BENCH_FLEET_KEEP:-0}" = 1 ]; then
		echo "bench_fleet: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap stop EXIT
trap 'exit 1' INT TERM
synced() {	# GW PIN_DIR
	ip netns exec "$LAB-g$1" "$XF" --pin-dir "$2" status --json | python3 -c "
import json, sys; f = json.load(sys.stdin)['fleet']; sys.exit(not (f and f['synced']))"
}
healthy() { ip netns exec "$LAB-ga" curl -sf "http://192.0.2.1$1:8222/healthz" | grep -q ok; }
bucket_seq() {	# the bucket's last sequence (writes so far), as node 1 has it
	ip netns exec "$LAB-ga" curl -sf "http://192.0.2.11:8222/jsz?streams=true" | python3 -c "
import json, sys
j = json.load(sys.stdin)
print(sum(s['state']['last_seq'] for a in j.get('account_details', [])
          for s in a.get('stream_detail', []) if s['name'] == 'KV_bench'))"
}

lab_fleet_up "$LAB" || { echo "bench_fleet: lab up failed" >&2; exit 1; }
for i in 1 2 3; do
	lab_fleet_nats "$LAB" "$i" "$tmp"
	NPID[$i]=$LAB_PID
done
for i in 1 2 3; do
	wait_for 30 healthy "$i" || { echo "bench_fleet: NATS node $i not healthy" >&2; exit 1; }
done
for g in $FLEET_GWS; do
	cat >"$tmp/$g.conf" <<EOT
[daemon]
tick = 1s
events = $tmp/$g.events

[rule flood]
metric = new_conns
rate = 20/s
window = 1s
action = ban
ttl = 1h
max_ttl = 2h
jitter = 0

[fleet]
servers = nats://192.0.2.11:4222, nats://192.0.2.12:4222, nats://192.0.2.13:4222
bucket = bench
replicas = 3
node = gw-$g
EOT
done
verbose=
[ "${BENCH_FLEET_V:-0}" = 1 ] && verbose=-v
start() {	# GW PIN_DIR
	ip netns exec "$LAB-g$1" "$XF" $verbose --pin-dir "$2" run --config "$tmp/$1.conf" 2>>"$tmp/$1.err" &
	DPID[$1]=$!
	wait_for 60 synced "$1" "$2" || { echo "bench_fleet: gateway $1 never synced" >&2; exit 1; }
}
# default attach settings: the tables grow as the entries need
k=0
for g in $FLEET_GWS; do
	k=$((k + 1))
	ip netns exec "$LAB-g$g" "$XF" --pin-dir "$BPFFS/$g" attach "$LAB-d$k" --mode skb \
		>/dev/null 2>&1 || exit 1
	start "$g" "$BPFFS/$g"
done

echo "fleet (3 gateways, 3 NATS nodes, R3 bucket, one 2-vCPU machine):"
echo "propagation, 1,000 promotions at A (10 every 100 ms), decision -> enforced:"
"$BF" promote "$BPFFS/a" "$tmp/a.events" "$BPFFS/b,$BPFFS/c" 1000 10 100 || exit 1
echo "burst, 100,000 promotions at A in one tick:"
seq0=$(bucket_seq)
"$BF" promote "$BPFFS/a" "$tmp/a.events" "$BPFFS/b,$BPFFS/c" 100000 100000 100 || {
	for g in b c; do	# what the gateways said, and what they hold
		echo "gateway $g:" >&2
		grep -v '^\[debug\]\|^xdpfence: fleet:' "$tmp/$g.err" | tail -n 5 >&2
		ip netns exec "$LAB-g$g" "$XF" --pin-dir "$BPFFS/$g" status >&2
	done
	exit 1
}
sleep 2	# writes still in flight (extensions) count too
echo "  the bucket took $(($(bucket_seq) - seq0)) writes for them"

[ "${BENCH_FLEET_NO_RESYNC:-0}" = 1 ] && exit 0
echo "resync of 1,000,000 keys after a reconnect (B alone, default maps):"
for g in $FLEET_GWS; do
	kill -TERM "${DPID[$g]}" && wait "${DPID[$g]}"
	unset "DPID[$g]"
done
start b "$BPFFS/b-big"
base=$(ip netns exec "$LAB-gb" "$XF" --pin-dir "$BPFFS/b-big" status --json | python3 -c "
import json, sys; print(json.load(sys.stdin)['fleet']['entries'])")
ip -n "$LAB-gb" link set "$LAB-M2" down
ip netns exec "$LAB-ga" "$BF" fill "nats://192.0.2.11:4222,nats://192.0.2.12:4222,nats://192.0.2.13:4222" \
	bench 1000000 gw-bench || exit 1
ip -n "$LAB-gb" link set "$LAB-M2" up
took=$("$BF" count "$BPFFS/b-big" $((base + 1000000)) 600) || exit 1
printf '  gateway 2: link up -> all 1,000,000 enforced: %s s\n' "$took"
