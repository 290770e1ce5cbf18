#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/crowdsec.sh BUILD - xdpfence beside a real CrowdSec local API.
#
# The test runs Debian's crowdsec (1.4.6) as a LAPI only (`crowdsec -no-cs`,
# no central API) in the gateway's namespace on a port of its own, with a
# bouncer key and a machine made by cscli. A ban decision added with cscli
# is enforced on real traffic within one poll, for an Ip and a Range; its
# deletion lifts it; a promotion of ours shows in `cscli decisions list`
# (origin xdpfence) and is not imported back as a CrowdSec decision.
. "$(dirname "$0")/lib.sh"
FLOOD="python3 $(cd "$(dirname "$0")" && pwd)/conn_flood.py"

if ! command -v crowdsec >/dev/null || ! command -v cscli >/dev/null; then
	fail "crowdsec and cscli installed (scripts/install-deps.sh)"
	finish
	exit 1
fi
if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &

# a LAPI of the test's own: its config, database and logs under $TMP
CS=$TMP/cs
PORT=18480
mkdir -p "$CS/data" "$CS/notifications"
: >"$CS/acquis.yaml"
cat >"$CS/profiles.yaml" <<'EOT'
name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
EOT
cat >"$CS/config.yaml" <<EOT
common:
  daemonize: false
  log_media: file
  log_level: info
  log_dir: $CS/
  working_dir: .
config_paths:
  config_dir: $CS/
  data_dir: $CS/data/
  simulation_path: $CS/simulation.yaml
  hub_dir: /var/lib/crowdsec/hub/
  index_path: /var/lib/crowdsec/hub/.index.json
  notification_dir: $CS/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: $CS/acquis.yaml
cscli:
  output: human
  color: no
db_config:
  log_level: info
  type: sqlite
  db_path: $CS/data/crowdsec.db
  use_wal: false
api:
  client:
    insecure_skip_verify: false
    credentials_path: $CS/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:$PORT
    profiles_path: $CS/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
EOT
printf 'simulation: off\n' >"$CS/simulation.yaml"
cscli() { G /usr/bin/cscli -c "$CS/config.yaml" "$@"; }
cscli machines add -a -f "$CS/local_api_credentials.yaml" >/dev/null 2>&1
check "the test's LAPI credentials for cscli" grep -q "url: http://127.0.0.1:$PORT" "$CS/local_api_credentials.yaml"
ip netns exec "$NS_G" crowdsec -c "$CS/config.yaml" -no-cs >"$CS/crowdsec.out" 2>&1 &
CSPID=$!
stop_all() {
	[ -n "${DPID:-}" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID"
	kill -TERM "$CSPID" 2>/dev/null
	wait "$CSPID" 2>/dev/null
	cleanup
}
trap stop_all EXIT
for _ in $(seq 100); do
	G curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/decisions" && break
	sleep 0.1
done
check "crowdsec LAPI answers (no central API)" grep -q "CrowdSec Local API listening on 127.0.0.1:$PORT" "$CS/crowdsec.log"
cscli bouncers add xdpfence-gw1 -o raw 2>/dev/null | tr -d '\n' >"$TMP/bouncer.key"
check "a bouncer key from cscli" test -s "$TMP/bouncer.key"
cscli machines add xdpfence-gw1 --password 'gw1-secret-password-1234' -f "$TMP/machine.yaml" >/dev/null 2>&1
check "machine credentials from cscli" grep -q '^login: xdpfence-gw1' "$TMP/machine.yaml"

EV=$TMP/events.jsonl
cat >"$TMP/run.conf" <<EOT
[daemon]
tick = 1s
events = $EV

[interface $VG]
mode = native

[rule burst]
metric = new_conns
rate = 20/s
window = 2s
action = ban
ttl = 30m
jitter = 0

[crowdsec]
lapi_url = http://127.0.0.1:$PORT
api_key_file = $TMP/bouncer.key
machine_credentials = $TMP/machine.yaml
scopes = ip,range
poll = 1s
EOT
ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/run.conf" 2>>"$TMP/daemon.err" &
DPID=$!
for _ in $(seq 100); do grep -q '"event":"start"' "$EV" 2>/dev/null && break; sleep 0.1; done
check "xdpfence run starts with [crowdsec]" grep -q '"event":"start"' "$EV"
check "a client reaches the server" reach 198.18.3.10

# decisions added with cscli are enforced within one poll (1 s) and a tick
cscli decisions add -i 198.18.3.10 -d 1h -R "test ban" >/dev/null 2>&1
cscli decisions add -r 198.18.4.0/24 -d 30m -R "test range" >/dev/null 2>&1
t0=$(date +%s.%N)
for _ in $(seq 40); do reach 198.18.3.10 >/dev/null 2>&1 || break; sleep 0.1; done
t1=$(date +%s.%N)
check_not "an Ip decision drops real traffic" reach 198.18.3.10
check "... within a poll and a tick of cscli" python3 -c "assert $t1 - $t0 < 3.5, $t1 - $t0"
check_not "a Range decision drops real traffic" reach 198.18.4.10
check "another client still gets through" reach 198.18.5.10
check "the decisions are the crowdsec feed's entries" sh -c \
	"ip netns exec $NS_G $XF --pin-dir $PIN ban list --owner feed:crowdsec | grep -q '198.18.3.10/32' && ip netns exec $NS_G $XF --pin-dir $PIN ban list --owner feed:crowdsec | grep -q '198.18.4.0/24'"
check "each lives as long as its decision" python3 - "$(ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" --json ban list --owner feed:crowdsec 2>/dev/null)" <<'PY'
import json, sys
e = {x["prefix"]: x for x in json.loads(sys.argv[1])}
assert 3600 - 10 <= e["198.18.3.10/32"]["expires_in_s"] <= 3600, e
assert 1800 - 10 <= e["198.18.4.0/24"]["expires_in_s"] <= 1800, e
PY

# deleting a decision lifts it
cscli decisions delete -i 198.18.3.10 >/dev/null 2>&1
for _ in $(seq 40); do reach 198.18.3.10 >/dev/null 2>&1 && break; sleep 0.1; done
check "deleting the decision lifts the ban" reach 198.18.3.10
check_not "... and its entry" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list --owner feed:crowdsec | grep -q '198.18.3.10/32'"
check_not "the range is still banned" reach 198.18.4.10

# our promotion goes to CrowdSec as an alert with a decision, origin xdpfence
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 60 5 >/dev/null
for _ in $(seq 30); do grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV" && break; sleep 0.1; done
check "xdpfence promoted the scraper /24" grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV"
for _ in $(seq 50); do
	cscli decisions list --origin xdpfence -o json 2>/dev/null | grep -q '198.18.2.0/24' && break
	sleep 0.1
done
check "the promotion shows in \`cscli decisions list\`" sh -c \
	"ip netns exec $NS_G /usr/bin/cscli -c $CS/config.yaml decisions list --origin xdpfence | grep -q 'Range:198.18.2.0/24'"
check "as a ban of origin xdpfence, for the promotion's time" python3 - "$(cscli decisions list --origin xdpfence -o json 2>/dev/null)" <<'PY'
import json, re, sys
alerts = json.loads(sys.argv[1])
d = [x for a in alerts for x in a["decisions"] if x["value"] == "198.18.2.0/24"]
assert len(d) == 1 and d[0]["origin"] == "xdpfence" and d[0]["type"] == "ban" and d[0]["scope"] == "Range", d
m = re.match(r"(\d+)m", d[0]["duration"])
assert m and 25 <= int(m.group(1)) <= 30, d[0]["duration"]
assert alerts[0]["scenario"].startswith("xdpfence/burst"), alerts[0]["scenario"]
PY
sleep 2.5
check_not "our own decision is not imported back" sh -c \
	"ip netns exec $NS_G $XF --pin-dir $PIN ban list --owner feed:crowdsec | grep -q '198.18.2.0/24'"
check "the entry stays the engine's" sh -c \
	"ip netns exec $NS_G $XF --pin-dir $PIN ban list --owner promoted | grep -q '198.18.2.0/24'"
check "pushed once, not again every tick" python3 - "$(cscli decisions list --origin xdpfence -o json 2>/dev/null)" <<'PY'
import json, sys
alerts = [a for a in json.loads(sys.argv[1]) if a["scenario"].startswith("xdpfence/")]
assert len(alerts) == 1, len(alerts)
PY

# a LAPI that goes away: enforcement goes on, the daemon says so once
kill -TERM "$CSPID"; wait "$CSPID" 2>/dev/null
sleep 2.5
check_not "with the LAPI gone the range stays banned" reach 198.18.4.10
check "the daemon says the LAPI is unreachable" grep -q 'crowdsec: decisions stream' "$TMP/daemon.err"
check "the daemon is still running" kill -0 "$DPID"

# config errors name their line
printf '[daemon]\ntick = 1s\n[crowdsec]\nlapi_url = ftp://x\nscopes = country\n' >"$TMP/bad.conf"
out=$(ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/bad.conf" 2>&1); rc=$?
check "a bad [crowdsec]: exit 2" test "$rc" = 2
check "... lapi_url named at its line" grep -q 'bad.conf:4: \[crowdsec\] lapi_url' <<<"$out"
check "... scopes named at its line" grep -q 'bad.conf:5: \[crowdsec\] scopes' <<<"$out"

finish
