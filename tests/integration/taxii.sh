#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/taxii.sh BUILD - the TAXII 2.1 server of `xdpfence run`, and a
# second gateway that polls it.
#
# Gateway A promotes a scraper on real traffic and serves its promotions and
# bans over TAXII 2.1 (TLS, tokens): status codes, media types, auth, paging,
# filters, manifest, versions, history across a restart; an update is a new
# version, a removal a revoked one, an expiry stays visible. Gateway B (a
# second pin dir) loads A's collection as a feed, with the CLI and from its
# config: A's promotion appears at B with the same expiry and A's identity
# as the reason, and leaves when A revokes it.
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
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &
PINB=$BPFFS/fenceb
xb() { G "$XF" --pin-dir "$PINB" "$@"; }

TOK=0123456789abcdef0123456789abcdef
printf '# name token\npeer-b %s\n' "$TOK" >"$TMP/tokens"
printf 'peer-b %s\n' "$TOK" >"$TMP/b.token"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
mkdir -p "$TMP/a" "$TMP/b" "$TMP/bd"
EV=$TMP/events.jsonl
cat >"$TMP/a.conf" <<EOT
[daemon]
tick = 1s
events = $EV
state_file = $TMP/a/state.json

[interface $VG]
mode = native

[rule burst]
metric = new_conns
rate = 20/s
window = 2s
action = ban
ttl = 30m
jitter = 0

[taxii]
listen = 127.0.0.1:9470
token_file = $TMP/tokens
tls_cert = $TMP/cert.pem
tls_key = $TMP/key.pem
identity = Example AI, edge team
tlp = amber
EOT
daemon_start() {
	ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/a.conf" 2>>"$TMP/daemon.err" &
	DPID=$!
	for _ in $(seq 100); do
		[ "$(grep -c '"event":"start"' "$EV" 2>/dev/null)" -gt "${1:-0}" ] && return 0
		sleep 0.1
	done
	return 1
}
check "gateway A starts with [taxii]" daemon_start 0
BASE=https://127.0.0.1:9470
# get PATH [curl args...]: body to $TMP/body, headers to $TMP/hdr, prints the status
get() {
	local p=$1
	shift
	G curl -sg --cacert "$TMP/cert.pem" -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' "$@" "$BASE$p"
}
A=(-H "Accept: application/taxii+json;version=2.1")
AUTH=(-H "Authorization: Bearer $TOK")
hdr() { grep -i "^$1:" "$TMP/hdr" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }
jq_() { python3 -c "import json,sys; d=json.load(open('$TMP/body')); print($1)"; }

check "no credentials: 401" test "$(get /taxii2/ "${A[@]}")" = 401
check "401 asks for credentials (WWW-Authenticate)" grep -qi '^WWW-Authenticate: Bearer' "$TMP/hdr"
check "a wrong token: 401" test "$(get /taxii2/ "${A[@]}" -H 'Authorization: Bearer nope-nope-nope-nope')" = 401
check "discovery with the token: 200" test "$(get /taxii2/ "${A[@]}" "${AUTH[@]}")" = 200
check "media type application/taxii+json;version=2.1" test "$(hdr Content-Type)" = "application/taxii+json;version=2.1"
check "discovery names the API root" sh -c "grep -q '\"api_roots\":\\[\"https://127.0.0.1:9470/xdpfence/\"\\]' $TMP/body"
check "basic auth NAME:TOKEN: 200" test "$(get /taxii2/ "${A[@]}" -u "peer-b:$TOK")" = 200
check "basic auth, wrong name: 401" test "$(get /taxii2/ "${A[@]}" -u "peer-c:$TOK")" = 401
check "Accept: application/json: 406" test "$(get /taxii2/ -H 'Accept: application/json' "${AUTH[@]}")" = 406
check "Accept: TAXII 2.0: 406" test "$(get /taxii2/ -H 'Accept: application/taxii+json;version=2.0' "${AUTH[@]}")" = 406
check "API root: 200" test "$(get /xdpfence/ "${A[@]}" "${AUTH[@]}")" = 200
check "API root lists version 2.1" sh -c "grep -q 'application/taxii+json;version=2.1' $TMP/body"
check "collections: 200" test "$(get /xdpfence/collections/ "${A[@]}" "${AUTH[@]}")" = 200
CP=$(jq_ '[c["id"] for c in d["collections"] if c["title"]=="promoted"][0]')
CM=$(jq_ '[c["id"] for c in d["collections"] if c["title"]=="manual"][0]')
check "collections promoted and manual, read-only" python3 -c "
import json; d = json.load(open('$TMP/body'))['collections']
assert sorted(c['title'] for c in d) == ['manual', 'promoted']
assert all(c['can_read'] and not c['can_write'] for c in d)
assert all(c['media_types'] == ['application/stix+json;version=2.1'] for c in d)"
check "one collection: 200" test "$(get /xdpfence/collections/$CP/ "${A[@]}" "${AUTH[@]}")" = 200
check "an unknown collection: 404" test "$(get /xdpfence/collections/nope/objects/ "${A[@]}" "${AUTH[@]}")" = 404
check "POST objects to a read-only collection: 403" test "$(get /xdpfence/collections/$CP/objects/ "${A[@]}" "${AUTH[@]}" -X POST -H 'Content-Type: application/taxii+json;version=2.1' -d '{}')" = 403

# A promotes a scraper; the operator bans two more (one for 4 s)
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 60 5 >/dev/null
for _ in $(seq 30); do grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV" && break; sleep 0.1; done
check "A promoted the scraper" grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV"
xf ban add 203.0.113.0/24 --ttl 1h --reason "scraper farm" >/dev/null 2>&1
xf ban add 198.51.100.9 --ttl 4s --reason "short" >/dev/null 2>&1
sleep 2.5
OBJS=/xdpfence/collections/$CP/objects/
check "promoted objects: 200" test "$(get $OBJS "${A[@]}" "${AUTH[@]}")" = 200
cp "$TMP/body" "$TMP/promoted.json"
FIRST=$(hdr X-TAXII-Date-Added-First) LAST=$(hdr X-TAXII-Date-Added-Last)
check "X-TAXII-Date-Added-First and -Last" sh -c "[ -n '$FIRST' ] && [ -n '$LAST' ] && [ '$FIRST' \\< '$LAST' ]"
check "the envelope's objects validate against the STIX 2.1 schemas" $VALIDATE "$SCHEMAS" "$TMP/promoted.json"
check "identity, marking and the promotion's indicator" python3 - "$TMP/promoted.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["more"] is False
t = sorted(o["type"] for o in d["objects"])
assert t == ["identity", "indicator", "marking-definition"], t
i = [o for o in d["objects"] if o["type"] == "indicator"][0]
assert i["pattern"] == "[ipv4-addr:value ISSUBSET '198.18.2.0/24']" and "burst: new_conns" in i["description"]
PY
IND=$(python3 -c "import json; print([o['id'] for o in json.load(open('$TMP/promoted.json'))['objects'] if o['type']=='indicator'][0])")
get "$OBJS?limit=1" "${A[@]}" "${AUTH[@]}" >/dev/null
check "limit=1: one object, more, next" python3 -c "
import json; d = json.load(open('$TMP/body')); assert len(d['objects']) == 1 and d['more'] and d['next']"
check "paging with next returns every object once, in order" python3 - "$BASE" "$OBJS" "$TMP/cert.pem" "$TOK" "$NS_G" "$TMP/promoted.json" <<'PY'
import json, subprocess, sys
base, path, ca, tok, ns, full = sys.argv[1:7]
seen, nxt = [], None
for _ in range(10):
    url = base + path + "?limit=1" + ("&next=" + nxt if nxt else "")
    out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sg", "--cacert", ca, "-H",
                          "Accept: application/taxii+json;version=2.1", "-H", "Authorization: Bearer " + tok,
                          url], capture_output=True, text=True).stdout
    d = json.loads(out)
    seen += [o["id"] for o in d["objects"]]
    if not d["more"]:
        break
    nxt = d["next"]
want = [o["id"] for o in json.load(open(full))["objects"]]
assert seen == want, (seen, want)
PY
get "$OBJS?added_after=$LAST" "${A[@]}" "${AUTH[@]}" >/dev/null
check "added_after the last date: nothing new" jq_ "'ok' if d == {'more': False, 'objects': []} else exit(1)"
get "$OBJS?added_after=$FIRST" "${A[@]}" "${AUTH[@]}" >/dev/null
check "added_after the first date: all but the first" jq_ "'ok' if len(d['objects']) == 2 else exit(1)"
get "$OBJS?match[type]=indicator" "${A[@]}" "${AUTH[@]}" >/dev/null
check "match[type]=indicator" jq_ "'ok' if [o['type'] for o in d['objects']] == ['indicator'] else exit(1)"
get "$OBJS?match[id]=$IND" "${A[@]}" "${AUTH[@]}" >/dev/null
check "match[id]" jq_ "'ok' if [o['id'] for o in d['objects']] == ['$IND'] else exit(1)"
check "bad added_after: 400" test "$(get "$OBJS?added_after=yesterday" "${A[@]}" "${AUTH[@]}")" = 400
check "manifest: 200" test "$(get /xdpfence/collections/$CP/manifest/ "${A[@]}" "${AUTH[@]}")" = 200
check "manifest: id, date_added, version, media_type" python3 -c "
import json; d = json.load(open('$TMP/body'))['objects']
assert len(d) == 3 and all(set(m) == {'id', 'date_added', 'version', 'media_type'} for m in d), d"
check "one object: 200" test "$(get "$OBJS$IND/" "${A[@]}" "${AUTH[@]}")" = 200
check "an unknown object: 404" test "$(get "${OBJS}indicator--00000000-0000-4000-8000-000000000000/" "${A[@]}" "${AUTH[@]}")" = 404
check "DELETE an object: 403" test "$(get "$OBJS$IND/" "${A[@]}" "${AUTH[@]}" -X DELETE)" = 403

# the manual collection: an update is a new version, a removal a revoked one
MOBJS=/xdpfence/collections/$CM/objects/
get "$MOBJS?match[type]=indicator" "${A[@]}" "${AUTH[@]}" >/dev/null
MID=$(jq_ "[o['id'] for o in d['objects'] if '203.0.113.0/24' in o['pattern']][0]")
SID=$(jq_ "[o['id'] for o in d['objects'] if '198.51.100.9' in o['pattern']][0]")
xf ban add 203.0.113.0/24 --ttl 2h --reason "scraper farm" >/dev/null 2>&1
sleep 2.5
get "$MOBJS$MID/versions/" "${A[@]}" "${AUTH[@]}" >/dev/null
check "a renewed ban is a second version of the same object" jq_ "'ok' if len(d['versions']) == 2 and d['versions'][0] < d['versions'][1] else exit(1)"
xf ban del 203.0.113.0/24 >/dev/null 2>&1
sleep 2.5
get "$MOBJS$MID/" "${A[@]}" "${AUTH[@]}" >/dev/null
check "a removed ban stays, revoked, valid_until in the past" python3 - "$TMP/body" <<'PY'
import datetime, json, sys, time
o = json.load(open(sys.argv[1]))["objects"][-1]
until = datetime.datetime.strptime(o["valid_until"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
assert o["revoked"] is True and until.timestamp() < time.time(), o
PY
get "$MOBJS$SID/" "${A[@]}" "${AUTH[@]}" >/dev/null
check "an expired ban stays, not revoked, valid_until in the past" python3 - "$TMP/body" <<'PY'
import datetime, json, sys, time
o = json.load(open(sys.argv[1]))["objects"][-1]
until = datetime.datetime.strptime(o["valid_until"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
assert not o.get("revoked") and until.timestamp() < time.time(), o
PY
get "$MOBJS$MID/versions/" "${A[@]}" "${AUTH[@]}" >/dev/null
cp "$TMP/body" "$TMP/versions.before"
get "$MOBJS?match[version]=all" "${A[@]}" "${AUTH[@]}" >/dev/null
check "every version validates (match[version]=all)" $VALIDATE "$SCHEMAS" "$TMP/body"

# a restart keeps the history: same objects, same versions
kill -TERM "$DPID"; wait "$DPID"
check "the history file is kept beside the state file" test -s "$TMP/a/taxii-history.json"
check "gateway A restarts" daemon_start 1
sleep 1.5
get "$MOBJS$MID/versions/" "${A[@]}" "${AUTH[@]}" >/dev/null
check "after a restart: the same versions" cmp -s "$TMP/body" "$TMP/versions.before"

# gateway B: A's promotion, by the CLI, over https with a token
SRC="taxii+https://127.0.0.1:9470/xdpfence/collections/$CP/"
check "B loads A's collection" xb feed load peer "$SRC" --token-file "$TMP/b.token" --ca-file "$TMP/cert.pem" --cache-dir "$TMP/b"
xb --json ban list >"$TMP/b.json" 2>/dev/null
xf --json ban list >"$TMP/a.json" 2>/dev/null
check "A's promotion is at B, with the same expiry and A's identity as the reason" python3 - "$TMP/a.json" "$TMP/b.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
pa = [e for e in a if e["prefix"] == "198.18.2.0/24"][0]
pb = [e for e in b if e["prefix"] == "198.18.2.0/24"]
assert len(pb) == 1 and pb[0]["owners"] == ["feed:peer"], b
assert pb[0]["reason"] == "Example AI, edge team", pb[0]["reason"]
assert abs(pb[0]["expires_in_s"] - pa["expires_in_s"]) <= 2, (pa["expires_in_s"], pb[0]["expires_in_s"])
assert len(b) == 1, b   # only the promoted collection
PY
check "the poll cache keeps where it stopped" python3 -c "
import glob, json; c = json.load(open(glob.glob('$TMP/b/taxii-*.json')[0])); assert c['added_last'], c"
ip netns exec "$NS_G" "$XF" --pin-dir "$PINB" --json feed load peer "$SRC" --token-file "$TMP/b.token" \
	--ca-file "$TMP/cert.pem" --cache-dir "$TMP/b" >"$TMP/poll2.json" 2>/dev/null
check "a second poll (added_after, from the cache) keeps it" python3 -c "
import json; r = json.load(open('$TMP/poll2.json')); assert r['entries'] == 1 and r['added'] == 0 and r['removed'] == 0, r"
check_not "a wrong token is refused" xb feed load peer2 "$SRC" --token-file "$TMP/tokens.bad" --ca-file "$TMP/cert.pem"
printf 'wrong-token-wrong-token\n' >"$TMP/bad.token"
check "... and says so (HTTP 401)" sh -c "ip netns exec $NS_G $XF --pin-dir $PINB feed load peer2 '$SRC' --token-file $TMP/bad.token --ca-file $TMP/cert.pem 2>&1 | grep -q 'HTTP status 401'"
check_not "an untrusted certificate is refused" xb feed load peer2 "$SRC" --token-file "$TMP/b.token"

# B's daemon polls A from its config
cat >"$TMP/b.conf" <<EOT
[daemon]
tick = 1s
events = $TMP/b-events.jsonl
state_file = $TMP/bd/state.json

[feed peer-cfg]
source = $SRC
token_file = $TMP/b.token
ca_file = $TMP/cert.pem
refresh = 10s
EOT
ip netns exec "$NS_G" "$XF" --pin-dir "$PINB" run --config "$TMP/b.conf" 2>>"$TMP/daemonb.err" &
BPID=$!
for _ in $(seq 100); do grep -q '"feed":"peer-cfg","ok":true' "$TMP/b-events.jsonl" 2>/dev/null && break; sleep 0.1; done
check "B's daemon loads the [feed] taxii source" grep -q '"feed":"peer-cfg","ok":true' "$TMP/b-events.jsonl"
check "B's [feed] owns A's promotion" sh -c "ip netns exec $NS_G $XF --pin-dir $PINB ban list --owner feed:peer-cfg | grep -q 198.18.2.0/24"

# A revokes its promotion: B lets it go at its next poll
xf ban del 198.18.2.0/24 >/dev/null 2>&1
sleep 2.5
get "$OBJS$IND/" "${A[@]}" "${AUTH[@]}" >/dev/null
check "A's promotion is revoked in its collection" jq_ "'ok' if d['objects'][-1].get('revoked') else exit(1)"
check "B's poll releases the revoked indicator" sh -c "ip netns exec $NS_G $XF --pin-dir $PINB --json feed load peer '$SRC' --token-file $TMP/b.token --ca-file $TMP/cert.pem --cache-dir $TMP/b | grep -q '\"removed\":1'"
check_not "... it is gone from B's feed" sh -c "ip netns exec $NS_G $XF --pin-dir $PINB ban list --owner feed:peer | grep -q 198.18.2.0/24"
for _ in $(seq 150); do
	ip netns exec "$NS_G" "$XF" --pin-dir "$PINB" ban list --owner feed:peer-cfg 2>/dev/null | grep -q 198.18.2.0/24 || break
	sleep 0.1
done
check_not "... and from B's [feed] at its refresh" sh -c "ip netns exec $NS_G $XF --pin-dir $PINB ban list --owner feed:peer-cfg | grep -q 198.18.2.0/24"
kill -TERM "$BPID"; wait "$BPID"
kill -TERM "$DPID"; wait "$DPID"

# config errors name their line
printf '[daemon]\ntick = 1s\n[taxii]\nlisten = 127.0.0.1:9470\ntls_cert = %s\n' "$TMP/cert.pem" >"$TMP/bad.conf"
out=$(ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/bad.conf" 2>&1); rc=$?
check "a [taxii] without token_file or tls_key: exit 2" test "$rc" = 2
check "... naming the section's line" grep -q "bad.conf:3: \[taxii\] needs token_file" <<<"$out"
check "... and tls_key" grep -q "tls_cert and tls_key go together" <<<"$out"

finish
