#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/farms.sh BUILD - distinct hosts on real TCP traffic in
# the lab: 64 hosts of one /24, each at 1 connection a second (64/s in
# all), are a farm and the /24 is banned; one host of another /24 at 10
# a second is throttled alone, its /32, and its neighbour still connects.
. "$(dirname "$0")/lib.sh"
FLOOD="python3 $(cd "$(dirname "$0")" && pwd)/conn_flood.py"

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &
for h in $(seq 1 64); do
	ip -n "$NS_C" addr add "198.18.7.$h/24" dev "$VC"
done
ip -n "$NS_C" addr add 198.18.2.11/24 dev "$VC"

EV=$TMP/events.jsonl
cat >"$TMP/run.conf" <<EOT
[daemon]
tick = 1s
events = $EV

[interface $VG]
mode = native

[rule farm]
metric = new_conns
rate = 30/s
window = 3s
min_hosts = 20
action = ban
ttl = 10m
jitter = 0

[rule heavy-host]
metric = new_conns
rate = 8/s
window = 3s
max_hosts = 2
action = throttle
throttle_rate = 2/s
throttle_burst = 2
ttl = 10m
jitter = 0
EOT

ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/run.conf" 2>>"$TMP/daemon.err" &
DPID=$!
for _ in $(seq 100); do
	grep -q '"event":"start"' "$EV" 2>/dev/null && break
	sleep 0.1
done
check "daemon starts" grep -q '"event":"start"' "$EV"
connects() { C $FLOOD flood "$1" 192.0.2.1 8080 1 1 | grep -q '\[0.0[0-9]*, true\]'; }
check "a farm host connects before" connects 198.18.7.5
check "the heavy host connects before" connects 198.18.2.10

C $FLOOD flood 198.18.7.1-64 192.0.2.1 8080 64 8 >"$TMP/farm.json" &
FPID=$!
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 10 8 >"$TMP/heavy.json"
wait $FPID
ev_farm=$(grep '"event":"promote","prefix":"198.18.7.0/24"' "$EV" | head -n 1)
ev_heavy=$(grep '"event":"promote","prefix":"198.18.2.10/32"' "$EV" | head -n 1)
echo "farm event:  $ev_farm"
echo "heavy event: $ev_heavy"
check "the farm's /24 is promoted" test -n "$ev_farm"
check "by the farm rule: banned, with its hosts" python3 - "$ev_farm" <<'PY'
import json, sys
e = json.loads(sys.argv[1])
assert e["rule"] == "farm" and e["action"] == "drop", e
assert 40 <= e["hosts"] <= 64, e
assert e["value"] > 30, e
PY
check "the heavy host is promoted alone, its /32" test -n "$ev_heavy"
check "by heavy-host: throttled, one host" python3 - "$ev_heavy" <<'PY'
import json, sys
e = json.loads(sys.argv[1])
assert e["rule"] == "heavy-host" and e["action"] == "throttle" and e["hosts"] == 1, e
PY
check_not "its /24 is not promoted" grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV"
check_not "the farm is not throttled as a heavy host" grep -q '"prefix":"198.18.7.[0-9]*/32"' "$EV"
check_not "a farm host is dropped" connects 198.18.7.5
check "the heavy host's neighbour connects" connects 198.18.2.11
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 10 3 >"$TMP/heavy2.json"
check "the heavy host gets at most the throttle through (2/s, burst 2)" python3 - "$TMP/heavy2.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["attempts"]
ok = sum(1 for t, good in a if good)
assert 1 <= ok <= 2 * 3 + 2 + 1, (ok, len(a))
PY
# the heavy host (and its neighbour, a few seconds ago) are the hosts of
# 198.18.2.0/24 lately: at most 2; the farm's /24 is dropped on its entry
check "top shows the hosts of a source prefix" python3 -c "
import json, sys
r = [x for x in json.loads(sys.argv[1]) if x['prefix'] == '198.18.2.0/24']
assert r and 1 <= r[0]['hosts'] <= 2, r" "$(xf top --interval 0 -n 100 --json)"
check "top's table has a hosts column" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN top --interval 0 | head -n 1 | grep -qw hosts"
check "ban list: the farm's reason names its hosts" python3 -c "
import json, sys
e = [x for x in json.loads(sys.argv[1]) if x['prefix'] == '198.18.7.0/24'][0]
assert e['reason'].startswith('farm: new_conns') and e['reason'].endswith(' hosts'), e" "$(xf ban list --json)"
kill -TERM "$DPID" && wait "$DPID"
finish
