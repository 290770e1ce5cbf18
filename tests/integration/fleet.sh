#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/fleet.sh BUILD - three gateways sharing bans over a NATS JetStream cluster.
#
# Its own lab, in namespaces this test makes: three nats-server processes
# (Debian's, JetStream, clustered, the bucket R3) on 192.0.2.11-13, three
# gateways (own namespaces, pin dirs and `xdpfence run` daemons) on
# 192.0.2.21-23 of the same bridge, and a client namespace with a link to
# each gateway; real TCP connections from 198.18.N.10 to a server on each
# gateway's client-facing address go through its XDP program.
#
#  - a promotion at A blocks the prefix at B and C (owner fleet, origin gw-a)
#  - one NATS node killed: what is enforced stays, new promotions still go out
#  - C cut off for 10 s while A promotes, a prefix is deleted fleet-wide and
#    C promotes on its own: C keeps enforcing, then converges (adds what it
#    missed, drops what was deleted, without flapping the rest) and its own
#    promotion reaches A and B
#  - traffic split over the three gateways, below every local rule, is
#    caught by a rule of scope fleet everywhere, with the strongest action
#  - the API tier's reports shared: 3 accounts reported at A and 3 at B,
#    each below every local rule, ban the prefix by a rule of scope fleet
#  - an offender banned at A and seen later at B escalates at B
#  - NATS down entirely: a gateway keeps enforcing and promoting, and
#    publishes once NATS is back
#  - a burst from the bucket larger than a gateway's tables: they grow
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FLOOD="python3 $HERE/conn_flood.py"
NS_CL=$LAB-cl
GWS="a b c"
declare -A K=([a]=1 [b]=2 [c]=3) DPID NPID
bg=()

fleet_cleanup() {
	local p
	for p in "${DPID[@]}" "${NPID[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.5
	lab_fleet_down "$LAB"
	cleanup
}
trap fleet_cleanup EXIT
trap 'exit 1' INT TERM

gw() { local g=$1; shift; ip netns exec "$LAB-g$g" "$@"; }
xfg() { local g=$1; shift; gw "$g" "$XF" --pin-dir "$BPFFS/$g" "$@"; }
cl() { ip netns exec "$NS_CL" "$@"; }
# flood SRC GW RATE SECONDS: real TCP connections from SRC to gateway GW
flood() { cl $FLOOD flood "$1" "198.19.${K[$2]}.1" 8080 "$3" "$4"; }
connect() { flood "$1" "$2" 1 1 | grep -q '\[0.0[0-9]*, true\]'; }
# entry GW PREFIX: the deny entry as `ban list --json` shows it, or nothing
entry() {
	xfg "$1" ban list --json | python3 -c "
import json, sys
for e in json.load(sys.stdin):
    if e['prefix'] == sys.argv[1]: print(json.dumps(e))" "$2"
}
# has GW PREFIX OWNER [ORIGIN]
has() {
	local e
	e=$(entry "$1" "$2")
	[ -n "$e" ] && python3 -c "
import json, sys
e = json.loads(sys.argv[1])
assert sys.argv[2] in e['owners'], e
assert len(sys.argv) < 4 or e.get('origin') == sys.argv[3], e" "$e" "${@:3}"
}
lacks() { [ -z "$(entry "$1" "$2")" ]; }
fstatus() {	# GW KEY: a field of the fleet's status
	xfg "$1" status --json | python3 -c "
import json, sys
f = json.load(sys.stdin)['fleet']
print(f[sys.argv[1]] if f else '')" "$2"
}
synced() { [ "$(fstatus "$1" synced)" = True ]; }
connected() { [ "$(fstatus "$1" connected)" = "$2" ]; }	# GW True|False
pending() { [ "$(fstatus "$1" pending)" -ge "$2" ]; }
action_is() { entry "$1" "$2" | grep -q "\"action\": \"$3\""; }
status_shows() { xfg "$1" status | grep -A2 '^fleet' | grep -q "$2"; }
list_shows() { xfg "$1" ban list | grep "^$2" | grep -q "$3"; }
expired_at() { grep '"event":"expire"' "$TMP/$1.events" | grep -q "\"prefix\":\"$2\""; }
events() { cat "$TMP/$1.events"; }
count_events() {	# GW TYPE PREFIX
	grep "\"event\":\"$2\"" "$TMP/$1.events" | grep -c "\"prefix\":\"$3\""
}

nats_start() { lab_fleet_nats "$LAB" "$1" "$TMP"; NPID[$1]=$LAB_PID; }
nats_healthy() { gw a curl -sf "http://192.0.2.1$1:8222/healthz" | grep -q ok; }

# per gateway: the fleet rule's action differs, to see the strongest win
declare -A SPREAD=([a]=throttle [b]=monitor [c]=ban)
daemon_start() {	# GW
	local g=$1 k=${K[$1]}
	cat >"$TMP/$g.conf" <<EOT
[daemon]
tick = 1s
events = $TMP/$g.events
state_file = $TMP/$g.state
metrics = 127.0.0.1:9469

[interface $LAB-d$k]
mode = native

[rule burst]
metric = new_conns
rate = 25/s
window = 3s
action = ban
ttl = 40s
escalate = 2
max_ttl = 10m
jitter = 0

[rule spread]
scope = fleet
metric = new_conns
rate = 50/s
window = 3s
action = ${SPREAD[$g]}
ttl = 60s
jitter = 0

[rule reported-here]
metric = accounts
count = 4
window = 1m
action = ban

[rule reported]
scope = fleet
metric = accounts
count = 6
window = 1m
action = ban
ttl = 60s

[fleet]
servers = nats://192.0.2.11:4222, nats://192.0.2.12:4222, nats://192.0.2.13:4222
bucket = xftest
replicas = 3
node = gw-$g
share = promoted, manual
EOT
	# -v: the fleet client's trace goes to the errors file, shown on failure
	ip netns exec "$LAB-g$g" "$XF" -v --pin-dir "$BPFFS/$g" run --config "$TMP/$g.conf" \
		2>>"$TMP/$g.err" &
	DPID[$g]=$!
	wait_for 10 grep -q '"event":"start"' "$TMP/$g.events"
}

if ! lab_fleet_up "$LAB"; then
	fail "fleet lab up"
	finish
	exit 1
fi
ok "fleet lab up (3 NATS nodes, 3 gateways, a client)"
for i in 1 2 3; do nats_start "$i"; done
all_healthy() { nats_healthy 1 && nats_healthy 2 && nats_healthy 3; }
check "NATS JetStream cluster healthy" wait_for 30 all_healthy
for g in $GWS; do
	# C starts small: section 7 makes its tables grow from the fleet's side
	xfg "$g" attach "$LAB-d${K[$g]}" --max-rules "$([ "$g" = c ] && echo 1024 || echo 65536)" \
		--tbl8-groups 64 --prefix-entries 65536 >/dev/null
	gw "$g" $FLOOD serve "198.19.${K[$g]}.1" 8080 >/dev/null 2>&1 &
done
for g in $GWS; do
	check "gateway $g: daemon starts" daemon_start "$g"
done
for g in $GWS; do
	check "gateway $g: connected and synced with the bucket" wait_for 30 synced "$g"
done
check "status shows the fleet (server, last sync, lag, entries)" status_shows b 'entries here 0, keys in the bucket 0, last sync now' 
check "metrics export the fleet" sh -c \
	"ip netns exec $LAB-gb curl -s http://127.0.0.1:9469/metrics | grep -q '^xdpfence_fleet_connected{server=\"nats://192.0.2.1[123]:4222\"} 1'"
check "clean client reaches B" connect 198.18.1.10 b

# --- 1. a promotion at A blocks the prefix at B and C ---------------------
xfg a ban add 198.18.7.0/24 --ttl 10m --reason "shared by hand" >/dev/null
flood 198.18.9.10 a 40 5 >/dev/null &
bg+=($!)
flood 198.18.2.10 a 40 5 >/dev/null
wait "${bg[@]}"
bg=()
check "A promoted 198.18.2.0/24" wait_for 5 has a 198.18.2.0/24 promoted
check "B enforces it, owner fleet, origin gw-a" wait_for 3 has b 198.18.2.0/24 fleet gw-a
check "C enforces it, owner fleet, origin gw-a" wait_for 3 has c 198.18.2.0/24 fleet gw-a
check_not "the scraper cannot connect through B" connect 198.18.2.10 b
check_not "nor through C" connect 198.18.2.10 c
check "the clean client still can" connect 198.18.1.10 c
check "ban list (text) names the origin" list_shows b 198.18.2.0/24 'fleet:gw-a .*burst: new_conns' 
check "A's manual ban (share = manual) is enforced at C" wait_for 3 has c 198.18.7.0/24 fleet gw-a
check_not "  and blocks there" connect 198.18.7.10 c
check "B logged the fleet entry with its lag (under 1 s)" python3 - "$TMP/b.events" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
e = [x for x in ev if x["event"] == "fleet" and x["prefix"] == "198.18.2.0/24"]
assert e and e[0]["origin"] == "gw-a" and 0 <= e[0]["lag_ms"] < 1000, e
PY

# --- 2. one NATS node killed: nothing changes --------------------------------
kill -KILL "${NPID[1]}"
wait "${NPID[1]}" 2>/dev/null
sleep 2
for g in b c; do
	check "n1 down: $g still enforces 198.18.2.0/24" has "$g" 198.18.2.0/24 fleet gw-a
done
flood 198.18.3.10 a 40 5 >/dev/null
check "n1 down: A promoted 198.18.3.0/24" wait_for 3 has a 198.18.3.0/24 promoted
# a gateway that was on n1 reconnects to n2 or n3; if n1 led the cluster or
# the bucket's stream, JetStream elects another leader first (seconds)
check "n1 down: the promotion reaches B" wait_for 20 has b 198.18.3.0/24 fleet gw-a
check "n1 down: and C" wait_for 20 has c 198.18.3.0/24 fleet gw-a
for g in $GWS; do
	check "n1 down: $g connected (to n2 or n3)" wait_for 10 connected "$g" True
done
nats_start 1
check "n1 back" wait_for 30 nats_healthy 1

# --- 3. C cut off for 10 s while A promotes -----------------------------------
fleet_c_before=$(count_events c fleet 198.18.3.0/24)
ip -n "$LAB-gc" link set "$LAB-M3" down
t_cut=$(date +%s)
flood 198.18.4.10 a 40 5 >/dev/null &
bg+=($!)
flood 198.18.5.10 c 40 5 >/dev/null
wait "${bg[@]}"
bg=()
check "cut off: A promoted 198.18.4.0/24" wait_for 5 has a 198.18.4.0/24 promoted
check "cut off: C promoted 198.18.5.0/24 on its own" wait_for 5 has c 198.18.5.0/24 promoted
check "cut off: ban del --fleet at A of 198.18.2.0/24" xfg a ban del 198.18.2.0/24 --fleet --config "$TMP/a.conf"
check "cut off: B dropped 198.18.2.0/24" wait_for 3 lacks b 198.18.2.0/24
check "cut off: C says it is not connected" wait_for 6 connected c False
check "cut off: C keeps enforcing what it has" has c 198.18.3.0/24 fleet gw-a
check_not "  and blocks it" connect 198.18.3.10 c
check "cut off: C has not heard of 198.18.4.0/24" lacks c 198.18.4.0/24
sleep $((10 - ($(date +%s) - t_cut) > 0 ? 10 - ($(date +%s) - t_cut) : 0))
ip -n "$LAB-gc" link set "$LAB-M3" up
check "healed: C enforces 198.18.4.0/24 from A" wait_for 20 has c 198.18.4.0/24 fleet gw-a
check "healed: C dropped 198.18.2.0/24 (deleted fleet-wide meanwhile)" wait_for 5 lacks c 198.18.2.0/24
check "healed: C's own promotion reached A" wait_for 10 has a 198.18.5.0/24 fleet gw-c
check "healed: and B" wait_for 5 has b 198.18.5.0/24 fleet gw-c
check_not "healed: the scraper C promoted cannot connect through B" connect 198.18.5.10 b
check "healed: no flapping of what C kept (no unban, no second add)" python3 - \
	"$TMP/c.events" "$fleet_c_before" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
mine = [x for x in ev if x.get("prefix") == "198.18.3.0/24"]
# its 40 s ban may end on time by now on a slow run (an expire); what
# would be flapping is an unban, or the entry added again
assert not [x for x in mine if x["event"] == "unban"], mine
assert len([x for x in mine if x["event"] == "fleet"]) == int(sys.argv[2]), mine
PY
check "healed: C status connected and synced" wait_for 5 synced c

# --- 4. traffic split over three gateways: a fleet-scope rule ----------------
flood 198.18.6.10 a 20 7 >/dev/null &
bg+=($!)
flood 198.18.6.10 b 20 7 >/dev/null &
bg+=($!)
flood 198.18.6.10 c 20 7 >/dev/null
wait "${bg[@]}"
bg=()
for g in $GWS; do
	check "split traffic: $g enforces 198.18.6.0/24 (drop)" wait_for 5 action_is "$g" 198.18.6.0/24 drop
done
check "split traffic: the fleet rule fired, no local rule did" python3 - "$TMP"/a.events \
	"$TMP"/b.events "$TMP"/c.events <<'PY'
import json, sys
fired = []
for f in sys.argv[1:]:
    for l in open(f):
        x = json.loads(l)
        if x.get("prefix") == "198.18.6.0/24" and x["event"] in ("promote", "extend"):
            fired.append(x["rule"])
assert fired and set(fired) == {"spread"}, fired
PY
check "split traffic: one entry, the strongest action (ban at C) everywhere" python3 - \
	"$(entry a 198.18.6.0/24)" "$(entry b 198.18.6.0/24)" "$(entry c 198.18.6.0/24)" <<'PY'
import json, sys
es = [json.loads(x) for x in sys.argv[1:]]
assert all(e["action"] == "drop" for e in es), es
PY
check_not "split traffic: blocked at B" connect 198.18.6.10 b

# --- 4b. the API tier's reports shared: a rule of scope fleet -----------------
cat >"$TMP/reports.json" <<'EOT'
[{"ip": "198.18.10.10", "account": "acct-1", "kind": "distillation"},
 {"ip": "198.18.10.11", "account": "acct-2", "kind": "distillation"},
 {"ip": "198.18.10.12", "account": "acct-3", "kind": "distillation"}]
EOT
check "reports: 3 accounts at A" xfg a signal add --file "$TMP/reports.json"
for i in 4 5 6; do
	check "reports: account acct-$i at B" xfg b signal add "198.18.10.2$i" --account "acct-$i" \
		--kind distillation
done
for g in $GWS; do
	check "reports: $g enforces 198.18.10.0/24" wait_for 10 action_is "$g" 198.18.10.0/24 drop
done
check "reports: the fleet rule fired on 6 accounts, no local rule on 3" python3 - "$TMP"/a.events \
	"$TMP"/b.events "$TMP"/c.events <<'PY'
import json, sys
fired = []
for f in sys.argv[1:]:
    for l in open(f):
        x = json.loads(l)
        if x.get("prefix") == "198.18.10.0/24" and x["event"] in ("promote", "extend"):
            fired.append((x["rule"], x["metric"], x["value"]))
assert fired and all(r == ("reported", "accounts", 6.0) for r in fired), fired
PY
check "reports: C logged the others' reports (source fleet, origins gw-a and gw-b)" python3 - \
	"$TMP"/c.events <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
o = sorted(x["origin"] for x in ev if x["event"] == "signal" and x.get("source") == "fleet")
assert o == ["gw-a"] * 3 + ["gw-b"] * 3, o
PY
check_not "reports: blocked at C, which was told nothing itself" connect 198.18.10.10 c
check "reports: status counts them" wait_for 5 status_shows a 'API tier reports shared 3, received 3'

# --- 5. offence history shared: banned at A, later seen at B ------------------
check "A's first ban of 198.18.9.0/24 expired at B" wait_for 30 expired_at b 198.18.9.0/24
flood 198.18.9.10 b 40 5 >/dev/null
check "B promotes it as a repeat offence (2, TTL doubled)" wait_for 5 python3 - \
	"$TMP/b.events" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
p = [x for x in ev if x["event"] == "promote" and x["prefix"] == "198.18.9.0/24"]
assert p and p[-1]["offences"] == 2 and p[-1]["ttl_s"] == 80, p
PY

# --- 6. NATS down entirely ----------------------------------------------------
for i in 1 2 3; do kill -KILL "${NPID[$i]}"; done
wait "${NPID[1]}" "${NPID[2]}" "${NPID[3]}" 2>/dev/null
check "NATS down: B says not connected" wait_for 8 connected b False
check_not "NATS down: B still blocks the shared manual ban" connect 198.18.7.10 b
check_not "NATS down: and the fleet-scope promotion" connect 198.18.6.10 b
flood 198.18.8.10 b 40 5 >/dev/null
check "NATS down: B promotes on its own" wait_for 5 has b 198.18.8.0/24 promoted
check_not "NATS down: and blocks" connect 198.18.8.10 b
check "NATS down: B holds the promotion to publish" pending b 1
for i in 1 2 3; do nats_start "$i"; done
# the whole cluster restarts: JetStream recovers the bucket from disk and
# elects its leaders before anything is written (tens of seconds here)
check "NATS back: B's promotion reaches A" wait_for 90 has a 198.18.8.0/24 fleet gw-b
check "NATS back: and C" wait_for 5 has c 198.18.8.0/24 fleet gw-b
check "NATS back: B still enforces A's manual ban" has b 198.18.7.0/24 fleet gw-a

# --- 7. more than a table holds at first: C (1,024 rule slots) grows ---------
filled() {	# GW: it enforces all 3,000 keys of the fill
	xfg "$1" ban list --json --owner fleet | python3 -c "
import json, sys
sys.exit(sum(e.get('origin') == 'gw-fill' for e in json.load(sys.stdin)) != 3000)"
}
check "3,000 keys written to the bucket at once" gw a "$BUILD/bench_fleet" fill \
	nats://192.0.2.11:4222,nats://192.0.2.12:4222,nats://192.0.2.13:4222 xftest 3000 gw-fill
check "C enforces all 3,000 (its tables grew from 1,024 slots)" wait_for 60 filled c
check "  status says so" sh -c "ip netns exec $LAB-gc $XF --pin-dir $BPFFS/c status |
	grep -E 'of [0-9]+ rule slots' | grep -vq 'of 1023 rule slots'"
check "A enforces them too" wait_for 30 filled a
check "and B" wait_for 30 filled b

if [ "$n_fail" != 0 ]; then	# what a failure needs to be understood
	for g in $GWS; do
		echo "--- gateway $g: status, errors, last events"
		xfg "$g" status --json 2>&1 | python3 -c "import json,sys; print(json.load(sys.stdin).get('fleet'))"
		tail -n 25 "$TMP/$g.err"
		grep -v '"event":"expire"' "$TMP/$g.events" | tail -n 12
	done
	for i in 1 2 3; do
		echo "--- n$i"
		grep -v 'Duplicate Route' "$TMP/n$i.log" | tail -n 6
	done
fi
for g in $GWS; do
	kill -TERM "${DPID[$g]}"
	check "gateway $g: SIGTERM exits 0" wait "${DPID[$g]}"
	unset "DPID[$g]"
done
check_not "daemons' errors: none fatal" grep -qi "fatal\|assert\|sanitizer" "$TMP"/a.err "$TMP"/b.err "$TMP"/c.err
finish
