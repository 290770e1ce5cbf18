#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/signals.sh BUILD - the API tier's reports in the lab:
# 6 accounts reported from one /24 over HTTP ban it (and its traffic is
# dropped); the same from an allowlisted /24 bans nothing; malformed,
# oversized, unauthenticated and over-the-rate requests are refused with
# nothing recorded; the datagram socket and `xdpfence signal add` feed the
# same count, each report an event.
. "$(dirname "$0")/lib.sh"

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"

EV=$TMP/events.jsonl
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$TMP/signals.token"
cat >"$TMP/run.conf" <<EOT
[daemon]
tick = 1s
events = $EV
metrics = 127.0.0.1:9479

[interface $VG]
mode = native

[rule reported]
metric = accounts
count = 5
window = 10m
action = ban
ttl = 1h

[signals]
listen = 127.0.0.1:9472
token_file = $TMP/signals.token
socket = $TMP/signals.sock
client_burst = 50
max_body = 4K
EOT

check "allow 198.18.4.0/24" xf allow add 198.18.4.0/24
ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/run.conf" 2>>"$TMP/daemon.err" &
DPID=$!
for _ in $(seq 100); do
	grep -q '"event":"start"' "$EV" 2>/dev/null && break
	sleep 0.1
done
check "daemon starts with [signals]" grep -q '"event":"start"' "$EV"
check "198.18.3.10 gets through before" reach 198.18.3.10

# post BODY [curl options...]: prints "STATUS BODY"
post() {
	local body=$1
	shift
	G curl -s -o "$TMP/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $TOKEN" --data-binary "$body" "$@" \
		http://127.0.0.1:9472/v1/signals
	echo " $(cat "$TMP/resp")"
}
reports() {	# /24 base, n accounts, kind
	python3 -c "
import json, sys
b, n, k = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(json.dumps([{'ip': '%s.%d' % (b, 10 + i), 'account': 'acct-%d' % i, 'kind': k} for i in range(n)]))" "$@"
}
wait_event() {	# grep pattern, seconds
	for _ in $(seq $(($2 * 10))); do
		grep -q "$1" "$EV" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
n_events() { grep -c "$1" "$EV"; }

out=$(post "$(reports 198.18.3 6 distillation)")
check "6 reports from 198.18.3.0/24: 202, all accepted" test "$out" = '202 {"accepted":6}'
check "promoted within 3 ticks" wait_event '"event":"promote","prefix":"198.18.3.0/24"' 4
ev=$(grep '"event":"promote","prefix":"198.18.3.0/24"' "$EV" | tail -n 1)
echo "$ev" >"$TMP/promote.json"
check "the event says why: 6 accounts reported: distillation" python3 - "$ev" <<'PY'
import json, sys
e = json.loads(sys.argv[1])
assert e["rule"] == "reported" and e["metric"] == "accounts" and e["action"] == "drop", e
assert e["value"] == 6 and e["threshold"] == 5 and e["kind"] == "distillation", e
assert e["why"] == "6 accounts reported: distillation" and e["ttl_s"] == 3600, e
PY
check "each report an event (source http)" test "$(grep '"event":"signal"' "$EV" | grep -c '"source":"http"')" = 6
check_not "198.18.3.10 is dropped" reach 198.18.3.10
check "198.18.2.10 still gets through" reach 198.18.2.10
check "ban list shows why" python3 -c "
import json, sys
e = [x for x in json.loads(sys.argv[1]) if x['prefix'] == '198.18.3.0/24'][0]
assert e['reason'] == 'reported: 6 accounts reported: distillation', e" "$(xf ban list --json)"

out=$(post "$(reports 198.18.4 8 distillation)")
check "8 reports from the allowlisted 198.18.4.0/24: accepted" test "$out" = '202 {"accepted":8}'
sleep 2.5
check_not "and nothing promoted" grep -q '"prefix":"198.18.4.0/24".*"event":"promote"\|"event":"promote","prefix":"198.18.4.0/24"' "$EV"
check "198.18.4.10 still gets through" reach 198.18.4.10

# refused, with nothing recorded
before=$(n_events '"event":"signal"')
out=$(post 'not json')
check "not JSON: 400 with the reason" grep -q '^400 {"error":"not JSON' <<<"$out"
out=$(post '[{"ip":"198.18.5.1","account":"a"},{"ip":"198.18.5.0/24","account":"b"}]')
check "a bad report: 400 naming it" grep -q '^400 {"error":"report 2: ip 198.18.5.0\\/24: want an IPv4 or IPv6 address' <<<"$out"
out=$(post '{"ip":"198.18.5.1","acount":"a"}')
check "an unknown key: 400 naming it" grep -q 'report 1: unknown key \\"acount\\"' <<<"$out"
big=$(python3 -c "import json; print(json.dumps([{'ip': '198.18.5.%d' % (i % 250), 'account': 'x' * 40} for i in range(100)]))")
out=$(post "$big")
check "over max_body (4K): 413" grep -q '^413 ' <<<"$out"
out=$(post "$(python3 -c "import json; print(json.dumps([{'ip': '198.18.5.9', 'account': 'a%d' % i} for i in range(60)]))")")
check "60 reports over a burst of 50: 429" grep -q '^429 {"error":"over the rate of a client' <<<"$out"
out=$(G curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	--data-binary '{"ip":"198.18.5.1"}' http://127.0.0.1:9472/v1/signals)
check "no token: 401" test "$out" = 401
out=$(G curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer wrong-token-of-some-length' \
	--data-binary '{"ip":"198.18.5.1"}' http://127.0.0.1:9472/v1/signals)
check "a wrong token: 401" test "$out" = 401
out=$(G curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
	-H "Authorization: Bearer $TOKEN" --data-binary '{"ip":"198.18.5.1"}' http://127.0.0.1:9472/v1/signals)
check "not application/json: 415" test "$out" = 415
out=$(G curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9472/v1/signals)
check "GET: 405" test "$out" = 405
sleep 1.5
check "none of them recorded (no signal event)" test "$(n_events '"event":"signal"')" = "$before"
check_not "nothing of 198.18.5.0/24" grep -q '"prefix":"198.18.5.0/24"' "$EV"
check "refusals are events (too_large, rate_limited, unauthorized)" python3 - "$EV" <<'PY'
import json, sys
seen = {json.loads(l)["refusal"] for l in open(sys.argv[1]) if '"signal_refused"' in l}
assert {"bad_request", "too_large", "rate_limited", "unauthorized"} <= seen, seen
PY

metrics=$(G curl -s http://127.0.0.1:9479/metrics)
check "metrics: 14 reports taken over http" grep -q '^xdpfence_signals_received_total{source="http"} 14$' <<<"$metrics"
check "metrics: refusals by reason" grep -q '^xdpfence_signals_refused_total{reason="rate_limited"} 1$' <<<"$metrics"

# the datagram socket: root only
check "the socket is root's, 0600" test "$(stat -c '%a %U' "$TMP/signals.sock")" = "600 root"
python3 - "$TMP/signals.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'{"ip":"2001:db8:5::10","account":"acct-s","kind":"scraping","weight":2}', sys.argv[1])
s.sendto(b'{"ip":"2001:db8:5::11","weight":0}', sys.argv[1])
PY
check "a datagram: a signal event, source socket, its /64" wait_event '"event":"signal","prefix":"2001:db8:5::/64".*"source":"socket"' 3
check "a bad datagram: refused, an event" wait_event '"signal_refused".*"source":"socket".*weight' 3

# the CLI, through the daemon
out=$(xf signal add 198.18.5.10 --account acct-c --kind scraping 2>&1); rc=$?
check "signal add: exit 0" test "$rc" = 0
check "signal add: says the daemon took it" grep -q '1 report taken by xdpfence run' <<<"$out"
check "signal add: an event, source cli" wait_event '"event":"signal","prefix":"198.18.5.0/24".*"account":"acct-c".*"source":"cli"' 3
out=$(xf signal add 198.18.5.0/24 2>&1); rc=$?
check "signal add of a prefix: exit 2" test "$rc" = 2
check "and why" grep -q 'ip 198.18.5.0/24: want an IPv4 or IPv6 address' <<<"$out"
printf '[{"ip":"198.18.6.1","account":"f1"},{"ip":"198.18.6.2","account":"f2"}]' >"$TMP/rep.json"
check "signal add --file" xf signal add --file "$TMP/rep.json"
check "signal add --file: both reports" wait_event '"event":"signal".*"account":"f2"' 3

kill -TERM "$DPID" && wait "$DPID"
check "the socket is gone with the daemon" test ! -e "$TMP/signals.sock"
out=$(xf signal add 198.18.5.10 2>&1); rc=$?
check "signal add with no daemon: exit 1" test "$rc" = 1
check "and says so" grep -q 'no `xdpfence run` serves' <<<"$out"
finish
