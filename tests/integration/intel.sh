#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/intel.sh BUILD - `xdpfence feed export`: our entries as intelligence.
#
# A promotion made by the engine on real traffic, the operator's bans, an
# allowlisted range and a feed's entries; then every export format: the STIX
# bundle validates against OASIS's schemas (bundle, indicator, identity,
# marking definition), says what the issue asks (patterns, validity,
# confidence, why, TLP 2.0 marking, ids from the prefix), leaves out the
# allowlist and feed-only entries unless asked, and each format loads back
# into xdpfence as a feed.
. "$(dirname "$0")/lib.sh"
FLOOD="python3 $(cd "$(dirname "$0")" && pwd)/conn_flood.py"
VALIDATE="python3 $(cd "$(dirname "$0")" && pwd)/stix_validate.py"
SCHEMAS=${STIX_SCHEMAS:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/stix2-json-schemas/schemas}
[ -d "$SCHEMAS" ] || SCHEMAS=/work/shared/stix2-json-schemas/schemas

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
check "STIX schemas at $SCHEMAS" test -f "$SCHEMAS/sdos/indicator.json"
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &

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
EOT
ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/run.conf" 2>>"$TMP/daemon.err" &
DPID=$!
for _ in $(seq 100); do grep -q '"event":"start"' "$EV" 2>/dev/null && break; sleep 0.1; done
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 60 5 >/dev/null
for _ in $(seq 30); do grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV" && break; sleep 0.1; done
check "the engine promoted the scraper /24" grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV"
kill -TERM "$DPID"; wait "$DPID"

# the operator's bans, an allowlisted range with a ban over it, a feed
xf ban add 203.0.113.0/24 --ttl 1h --reason "scraper farm" >/dev/null 2>&1
xf ban add 198.51.100.7 --reason "key abuse" >/dev/null 2>&1
xf ban add 2001:db8:bad::/48 --ttl 2h --action throttle --rate 5/s >/dev/null 2>&1
xf ban add 2001:db8:1::7 >/dev/null 2>&1
xf allow add 198.51.100.192/26 --reason partner >/dev/null 2>&1
xf ban add 198.51.100.128/25 --reason "over the partner" >/dev/null 2>&1
printf '192.0.2.64/26\n198.51.100.7\n' >"$TMP/intel.txt"
check "a feed loads" xf feed load intel "$TMP/intel.txt" --format plain --direct

ID="Example AI, edge team"
check "export stix to a file" xf feed export -o "$TMP/a.json" --identity "$ID"
check "the bundle validates against the STIX 2.1 schemas" $VALIDATE "$SCHEMAS" "$TMP/a.json"
check "bundle: identity, marking and one indicator per exported prefix" python3 - "$TMP/a.json" "$ID" <<'PY'
import json, sys, uuid
b = json.load(open(sys.argv[1])); name = sys.argv[2]
objs = b["objects"]
ids = [o for o in objs if o["type"] == "identity"]
marks = [o for o in objs if o["type"] == "marking-definition"]
ind = {o["pattern"]: o for o in objs if o["type"] == "indicator"}
assert len(ids) == 1 and ids[0]["name"] == name, ids
assert len(marks) == 1 and marks[0]["id"] == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
assert marks[0]["name"] == "TLP:AMBER"
assert marks[0]["extensions"]["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"]["tlp_2_0"] == "amber"
want = {"[ipv4-addr:value ISSUBSET '198.18.2.0/24']", "[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
        "[ipv4-addr:value = '198.51.100.7']", "[ipv6-addr:value ISSUBSET '2001:db8:bad::/48']",
        "[ipv6-addr:value = '2001:db8:1::7']"}
assert set(ind) == want, sorted(ind)
for o in ind.values():
    assert o["created_by_ref"] == ids[0]["id"]
    assert o["object_marking_refs"] == [marks[0]["id"]]
    assert o["indicator_types"] == ["malicious-activity"] and o["pattern_type"] == "stix"
# ids: UUIDv5 of the prefix in the producer's namespace
base = uuid.uuid5(uuid.NAMESPACE_URL, "https://xdpfence/stix")
assert ids[0]["id"] == "identity--%s" % uuid.uuid5(base, "identity:" + name)
ns = uuid.uuid5(base, "indicators:" + name)
for pat, pfx in (("[ipv4-addr:value ISSUBSET '198.18.2.0/24']", "198.18.2.0/24"),
                 ("[ipv4-addr:value = '198.51.100.7']", "198.51.100.7/32"),
                 ("[ipv6-addr:value = '2001:db8:1::7']", "2001:db8:1::7/128")):
    assert ind[pat]["id"] == "indicator--%s" % uuid.uuid5(ns, pfx), (pat, ind[pat]["id"])
PY
check "validity, confidence and why come from the entries" python3 - "$TMP/a.json" <<'PY'
import datetime, json, sys, time
b = json.load(open(sys.argv[1]))
ind = {o["pattern"]: o for o in b["objects"] if o["type"] == "indicator"}
ts = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
now = time.time()
p = ind["[ipv4-addr:value ISSUBSET '198.18.2.0/24']"]
assert abs(ts(p["valid_until"]) - (ts(p["valid_from"]) + 1800)) < 15, p
assert p["confidence"] == 65, p["confidence"]          # one offence
assert "burst: new_conns" in p["description"] and "> 20.0/s" in p["description"], p["description"]
m = ind["[ipv4-addr:value ISSUBSET '203.0.113.0/24']"]
assert abs(ts(m["valid_until"]) - (now + 3600)) < 30, m["valid_until"]
assert m["confidence"] == 50 and "scraper farm" in m["description"], m
perm = ind["[ipv4-addr:value = '198.51.100.7']"]
assert "valid_until" not in perm and abs(ts(perm["valid_from"]) - now) < 300, perm
PY
check "the allowlisted range and the ban over it are left out" sh -c "! grep -q '198.51.100.128\|198.51.100.192' $TMP/a.json"
check "feed-only entries are left out" sh -c "! grep -q '192.0.2.64' $TMP/a.json"
check "--owner feed:intel exports the feed's entries" sh -c \
	"ip netns exec $NS_G $XF --pin-dir $PIN feed export --owner feed:intel --format plain | grep -qx 192.0.2.64/26"
check "--owner promoted: the promotion only" sh -c \
	"[ \"\$(ip netns exec $NS_G $XF --pin-dir $PIN feed export --owner promoted --format plain | grep -v '^#')\" = 198.18.2.0/24 ]"
check "--min-offences 1: the promotion only" sh -c \
	"[ \"\$(ip netns exec $NS_G $XF --pin-dir $PIN feed export --min-offences 1 --format plain | grep -v '^#')\" = 198.18.2.0/24 ]"
xf feed export --min-offences 2 -o "$TMP/none.json" >/dev/null 2>&1
check "--min-offences 2: no indicator, still a valid bundle" $VALIDATE "$SCHEMAS" "$TMP/none.json"
check_not "... with no indicator in it" grep -q '"indicator"' "$TMP/none.json"

# an update is a new version of the same object
sleep 1
xf ban add 203.0.113.0/24 --ttl 2h --reason "scraper farm" >/dev/null 2>&1
xf feed export -o "$TMP/b.json" --identity "$ID" --tlp red
check "tlp red: the official TLP 2.0 red marking" python3 - "$TMP/a.json" "$TMP/b.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[2]))
m = [o for o in b["objects"] if o["type"] == "marking-definition"]
assert m[0]["id"] == "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" and m[0]["name"] == "TLP:RED"
PY
check "same prefix, same id; a later modified and the new valid_until" python3 - "$TMP/a.json" "$TMP/b.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
pa = {o["pattern"]: o for o in a["objects"] if o["type"] == "indicator"}
pb = {o["pattern"]: o for o in b["objects"] if o["type"] == "indicator"}
k = "[ipv4-addr:value ISSUBSET '203.0.113.0/24']"
assert pa[k]["id"] == pb[k]["id"] and pa[k]["created"] == pb[k]["created"]
assert pb[k]["modified"] > pa[k]["modified"] and pb[k]["valid_until"] > pa[k]["valid_until"]
assert {o["id"] for o in pa.values()} == {o["id"] for o in pb.values()}
assert a["id"] != b["id"]
PY
check "the red bundle validates too" $VALIDATE "$SCHEMAS" "$TMP/b.json"

# every format loads back into xdpfence as a feed (the same five prefixes)
for fmt in stix plain netset crowdsec; do
	xf feed export --format $fmt -o "$TMP/x.$fmt" >/dev/null 2>&1
	check "$fmt export loads back: 5 prefixes" sh -c \
		"ip netns exec $NS_G $XF --pin-dir $PIN --json feed load back $TMP/x.$fmt --format $fmt --check | grep -q '\"entries\":5'"
done
check "crowdsec export: origin xdpfence, Ip and Range scopes" python3 - "$TMP/x.crowdsec" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["new"]
assert {x["origin"] for x in d} == {"xdpfence"} and {x["type"] for x in d} == {"ban"}
sc = {x["value"]: x["scope"] for x in d}
assert sc["198.51.100.7"] == "Ip" and sc["2001:db8:1::7"] == "Ip" and sc["203.0.113.0/24"] == "Range", sc
PY
check "netset export has the FireHOL header" grep -q '^# ipv4 and ipv6 hash:net ipset' "$TMP/x.netset"

# bad input: exit 2, named; a failed write: exit 1, nothing left behind
rc() { "$@" >/dev/null 2>&1; echo $?; }
check "--format xml: exit 2" test "$(rc xf feed export --format xml)" = 2
check "--owner feed:nosuch: exit 2" test "$(rc xf feed export --owner feed:nosuch)" = 2
check "--tlp purple: exit 2" test "$(rc xf feed export --tlp purple)" = 2
check "-o into a missing dir: exit 1" test "$(rc xf feed export -o "$TMP/no/such/x.json")" = 1
check "the message names the file" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN feed export -o $TMP/no/x.json 2>&1 | grep -q 'no/x.json.tmp'"
check "--help teaches" sh -c "ip netns exec $NS_G $XF feed export --help 2>&1 | grep -q 'ISSUBSET'"

finish
