#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/fleet_failover.sh BUILD - a gateway keeps following the
# bucket when the NATS node that serves its watcher dies.
#
# The lab of fleet.sh (scripts/lab.sh: three nats-server processes, the
# bucket R3), one gateway, C, following the bucket; writes come straight
# from bench_fleet fill, as another gateway's would. A watcher's consumer is
# R1 on one node the server picks, not always the node C is connected to.
# Each round (once the cluster settled) kills (SIGKILL) the node that holds
# C's watcher, writes a key once the cluster has its leaders again, and wants
# C to enforce it within FAILOVER_S of wall clock (docs/design.md, "When a
# NATS node dies": a quiet watcher is checked every 2 s, confirmed stuck
# 2 s later, a creation waits 1 s): when that node was not C's, nothing
# tells C its watcher went silent (nats.c notices missing heartbeats after
# 10 to 20 s); when it was, C reconnects, and the new watcher's consumer
# may be placed on the dead node again (server 2.9 does not skip it),
# where its creation is never answered (it waited 30 s). Either way a
# round can pass by luck without the fix; five rounds rarely all do. The
# node is started again before the next round.
. "$(dirname "$0")/lib.sh"
ROUNDS=${XF_FAILOVER_ROUNDS:-5}
FAILOVER_S=10
URLS=nats://192.0.2.11:4222,nats://192.0.2.12:4222,nats://192.0.2.13:4222
declare -A NPID
DPID=

failover_cleanup() {
	local p
	for p in $DPID "${NPID[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.5
	lab_fleet_down "$LAB"
	cleanup
}
trap failover_cleanup EXIT
trap 'exit 1' INT TERM

gw() { local g=$1; shift; ip netns exec "$LAB-g$g" "$@"; }
xfc() { gw c "$XF" --pin-dir "$BPFFS/c" "$@"; }
within() {	# SECONDS COMMAND...: until SECONDS of wall clock have passed
	local end=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	until "$@" >/dev/null 2>&1; do
		((${EPOCHREALTIME/./} < end)) || return 1
		sleep 0.2
	done
}
nats_start() { lab_fleet_nats "$LAB" "$1" "$TMP"; NPID[$1]=$LAB_PID; }
nats_healthy() { gw a curl -sf "http://192.0.2.1$1:8222/healthz" | grep -q ok; }
all_healthy() { nats_healthy 1 && nats_healthy 2 && nats_healthy 3; }
fstatus() {	# KEY: a field of C's fleet status
	xfc status --json | python3 -c "
import json, sys
f = json.load(sys.stdin)['fleet']
print(f[sys.argv[1]] if f else '')" "$1"
}
synced() { [ "$(fstatus synced)" = True ]; }
# has PREFIX: C enforces it, owner fleet, from the writer
has() {
	xfc ban list --json | python3 -c "
import json, sys
sys.exit(not [e for e in json.load(sys.stdin) if e['prefix'] == sys.argv[1] and
              'fleet' in e['owners'] and e.get('origin') == 'gw-w'])" "$1"
}
# watcher_node: the node (1-3) holding the consumer that delivers to C
watcher_node() {
	gw a python3 - <<'PY'
import json, sys, urllib.request

def get(i, path):
    try:
        with urllib.request.urlopen("http://192.0.2.1%d:8222/%s" % (i, path), timeout=2) as r:
            return json.load(r)
    except OSError:
        return {}

subs = set()
for i in (1, 2, 3):
    for c in get(i, "connz?subs=1").get("connections") or []:
        if c.get("name") == "xdpfence gw-c":
            subs.update(c.get("subscriptions_list") or [])
for i in (1, 2, 3):
    j = get(i, "jsz?accounts=true&streams=true&consumers=true&config=true")
    for a in j.get("account_details") or []:
        for st in a.get("stream_detail") or []:
            for c in st.get("consumer_detail") or []:
                if c.get("push_bound") and c["config"].get("deliver_subject") in subs:
                    print(i)
                    sys.exit(0)
sys.exit(1)
PY
}
# settled: every node knows the meta leader, and the bucket's stream has a
# leader whose two replicas are current (a node just started catches up
# first: killing another one then is two failures, not one)
settled() {
	gw a python3 - <<'PY'
import json, sys, urllib.request

ok = 0
for i in (1, 2, 3):
    try:
        with urllib.request.urlopen("http://192.0.2.1%d:8222/jsz?accounts=true&streams=true" % i,
                                    timeout=2) as r:
            j = json.load(r)
    except OSError:
        sys.exit(1)
    if not (j.get("meta_cluster") or {}).get("leader"):
        sys.exit(1)
    for a in j.get("account_details") or []:
        for st in a.get("stream_detail") or []:
            cl = st.get("cluster") or {}
            if st["name"] == "KV_xftest" and cl.get("leader") == "n%d" % i:
                reps = cl.get("replicas") or []
                ok = len(reps) == 2 and all(x.get("current") for x in reps)
sys.exit(not ok)
PY
}
# leaders_back DEAD: the cluster's meta leader and the bucket's stream
# leader are known again, neither node DEAD (their elections are the
# servers' business: the time C takes is counted from there)
leaders_back() {
	local i
	for i in 1 2 3; do
		[ "$i" = "$1" ] && continue
		gw a curl -sf "http://192.0.2.1$i:8222/jsz?accounts=true&streams=true" 2>/dev/null |
			python3 -c "
import json, sys
j = json.load(sys.stdin)
dead = 'n' + sys.argv[1]
meta = (j.get('meta_cluster') or {}).get('leader')
l = [st.get('cluster', {}).get('leader') for a in j.get('account_details') or []
     for st in a.get('stream_detail') or [] if st['name'] == 'KV_xftest']
sys.exit(not (meta and meta != dead and l and l[0] and l[0] != dead))" "$1" && return 0
	done
	return 1
}

if ! lab_fleet_up "$LAB"; then
	fail "fleet lab up"
	finish
	exit 1
fi
ok "fleet lab up (3 NATS nodes, gateway C)"
for i in 1 2 3; do nats_start "$i"; done
check "NATS JetStream cluster healthy" wait_for 30 all_healthy
xfc attach "$LAB-d3" --max-rules 1024 --tbl8-groups 64 --prefix-entries 4096 >/dev/null 2>&1
cat >"$TMP/c.conf" <<EOT
[daemon]
tick = 1s
events = $TMP/c.events
state_file = $TMP/c.state

[interface $LAB-d3]
mode = native

[rule burst]
metric = new_conns
rate = 25/s
window = 3s
action = ban
ttl = 40s

[fleet]
servers = nats://192.0.2.11:4222, nats://192.0.2.12:4222, nats://192.0.2.13:4222
bucket = xftest
replicas = 3
node = gw-c
share = promoted, manual
EOT
ip netns exec "$LAB-gc" "$XF" -v --pin-dir "$BPFFS/c" run --config "$TMP/c.conf" 2>>"$TMP/c.err" &
DPID=$!
check "gateway C: connected and synced with the bucket" wait_for 30 synced

for r in $(seq "$ROUNDS"); do
	pfx="2001:db8:f000:$(printf %x "$r")::/64"
	check "round $r: the cluster settled" wait_for 60 settled
	if ! wait_for 20 watcher_node; then
		fail "round $r: C's watcher found on a node"
		continue
	fi
	x=$(watcher_node)
	server=$(fstatus server)
	kind=$([ "$server" = "nats://192.0.2.1$x:4222" ] && echo "C's own server" || echo "not C's server")
	kill -KILL "${NPID[$x]}"
	wait "${NPID[$x]}" 2>/dev/null
	check "round $r: n$x down: meta and stream leaders again" wait_for 30 leaders_back "$x"
	check "round $r: a key written" timeout 20 ip netns exec "$LAB-ga" "$BUILD/bench_fleet" fill \
		"$URLS" xftest 1 gw-w "$r"
	t=${EPOCHREALTIME/./}
	check "round $r: n$x held C's watcher ($kind): C enforces the key within $FAILOVER_S s" \
		within "$FAILOVER_S" has "$pfx"
	t=$((${EPOCHREALTIME/./} - t))
	echo "     round $r: C's watcher on n$x ($kind): $((t / 1000000)).$((t / 100000 % 10)) s" >>"$TMP/rounds"
	nats_start "$x"
	check "round $r: n$x back" wait_for 30 all_healthy
	check "round $r: C synced" wait_for 30 synced
done
cat "$TMP/rounds"

if [ "$n_fail" != 0 ]; then
	grep 'fleet:' "$TMP/c.err" | tail -n 40
fi
kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
check "gateway C: SIGTERM exits 0 (got $rc)" [ "$rc" = 0 ]
finish
