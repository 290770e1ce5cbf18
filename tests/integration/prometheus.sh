#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/prometheus.sh BUILD - the metrics of `xdpfence run` as
# Prometheus sees them, on real traffic in a netns lab.
#
# promtool checks the alert rules and runs their unit tests; the daemon runs
# in the lab's gateway with a feed and a behaviour rule while a clean client,
# a feed-listed one and a scraper send real TCP traffic; promtool lints a
# live scrape; a real Prometheus (Debian's), started here in the gateway's
# namespace with the shipped rules, scrapes the daemon, and its HTTP API must
# return the expected series and values, the rules must evaluate without
# error, and every query of the Grafana dashboard must run and the main
# panels return data.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FLOOD="python3 $ROOT/tests/integration/conn_flood.py"
RULES=$ROOT/contrib/prometheus/xdpfence.rules.yml
DASH=$ROOT/contrib/grafana/xdpfence.json
MPORT=9469
PPORT=9090

command -v prometheus >/dev/null && command -v promtool >/dev/null || "$ROOT/scripts/install-deps.sh" >/dev/null

# ---- the rules, offline ------------------------------------------------------
check "promtool check rules" promtool check rules "$RULES"
if (cd "$ROOT/contrib/prometheus" && promtool test rules xdpfence.rules.test.yml) >"$TMP/rules-test.out" 2>&1; then
	ok "promtool test rules (every alert fires on its case, and only there)"
else
	fail "promtool test rules"
	sed 's/^/    /' "$TMP/rules-test.out"
fi

# ---- the lab, the daemon, Prometheus ------------------------------------------
if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &

# an IPsum-style feed: an address or prefix, a tab, a count
printf '# IPsum-style\n198.18.3.0/24\t7\n203.0.113.9\t3\n198.51.100.0/24\t2\n' >"$TMP/feed.txt"
EV=$TMP/events.jsonl
cat >"$TMP/run.conf" <<EOT
[daemon]
tick = 1s
events = $EV
state_file = $TMP/state.json
metrics = 127.0.0.1:$MPORT

[interface $VG]
mode = native

[feed lab]
source = $TMP/feed.txt
format = plain
refresh = 30s

[rule burst]
metric = new_conns
rate = 20/s
window = 2s
action = ban
ttl = 10m
jitter = 0
EOT
ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/run.conf" 2>>"$TMP/daemon.err" &
DPID=$!
for _ in $(seq 100); do grep -q '"event":"feed","feed":"lab","ok":true' "$EV" 2>/dev/null && break; sleep 0.1; done
check "daemon up, feed loaded" grep -q '"event":"feed","feed":"lab","ok":true' "$EV"

cat >"$TMP/prom.yml" <<EOT
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: xdpfence
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOT
ip netns exec "$NS_G" prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PPID_=$!
# api PATH [curl args]: Prometheus's HTTP API, from inside the gateway
api() { G curl -s --max-time 5 "http://127.0.0.1:$PPORT$1" "${@:2}"; }
# query EXPR: the instant vector as "labels value" lines, sorted
query() {
	api /api/v1/query --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
for s in sorted(r["data"]["result"], key=lambda s: str(s["metric"])):
    m = {k: v for k, v in s["metric"].items() if k not in ("job", "instance")}
    print(",".join("%s=%s" % kv for kv in sorted(m.items())), s["value"][1])'
}
# value EXPR: the single value of EXPR ("" when none)
value() { query "$1" | awk 'NR == 1 { print $NF }'; }
for _ in $(seq 100); do [ "$(value 'up{job="xdpfence"}' 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "Prometheus up and scraping the daemon (up == 1)" test "$(value 'up{job="xdpfence"}')" = 1

# ---- traffic -------------------------------------------------------------------
C $FLOOD flood 198.18.1.10 192.0.2.1 8080 2 8 >"$TMP/clean.json" &
CPID=$!
C $FLOOD flood 198.18.3.10 192.0.2.1 8080 5 3 >/dev/null &	# feed-listed: dropped
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 60 8 >"$TMP/scraper.json"
wait $CPID
for _ in $(seq 30); do grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV" && break; sleep 0.1; done
check "the scraper /24 was promoted" grep -q '"event":"promote","prefix":"198.18.2.0/24"' "$EV"
check "the clean client was served throughout" python3 -c "
import json; a = json.load(open('$TMP/clean.json'))['attempts']; assert a and all(ok for t, ok in a), a"
# a trickle from the clean client from here on: the top prefixes rank the
# last tick's traffic, and the dashboard's top panel must have some
C ping -q -i 0.2 -I 198.18.1.10 192.0.2.1 >/dev/null 2>&1 &
sleep 3	# scrapes after the flood, with the trickle in them

# ---- a live scrape, linted ------------------------------------------------------
G curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$TMP/scrape.txt"
check "live scrape has samples" grep -q '^xdpfence_packets_total{' "$TMP/scrape.txt"
if promtool check metrics <"$TMP/scrape.txt" >"$TMP/lint.out" 2>&1 && [ ! -s "$TMP/lint.out" ]; then
	ok "promtool check metrics: the live scrape is clean"
else
	fail "promtool check metrics on the live scrape"
	sed 's/^/    /' "$TMP/lint.out"
fi
check "every family has HELP and TYPE before its samples" python3 - "$TMP/scrape.txt" <<'PY'
import re, sys
help_, type_ = set(), {}
for line in open(sys.argv[1]):
    if line.startswith("# HELP "):
        help_.add(line.split()[2])
    elif line.startswith("# TYPE "):
        type_[line.split()[2]] = line.split()[3]
    elif line.strip():
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in type_ and type_[re.sub(r"_(bucket|sum|count)$", "", name)] == "histogram" else name
        assert fam in help_ and fam in type_, "no HELP/TYPE before " + name
        assert (type_[fam] == "counter") == fam.endswith("_total"), "counter naming: " + fam
PY

# ---- what Prometheus stored ------------------------------------------------------
gt0() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }
check "packets dropped by the feed (drop_feed > 0)" gt0 "$(value 'xdpfence_packets_total{reason="drop_feed"}')"
check "packets dropped by the promotion (drop_promoted > 0)" gt0 "$(value 'xdpfence_packets_total{reason="drop_promoted"}')"
check "packets passed (pass > 0), bytes too" gt0 "$(value 'xdpfence_bytes_total{reason="pass"}')"
check "promotions of rule burst >= 1" gt0 "$(value 'xdpfence_promotions_total{rule="burst"}')"
check "entries: 3 feed drops" test "$(value 'xdpfence_entries{kind="deny",owner="feed",action="drop"}')" = 3
check "entries: 1 promoted drop" test "$(value 'xdpfence_entries{kind="deny",owner="promoted",action="drop"}')" = 1
check "entries: every owner and action has a series" test "$(query 'xdpfence_entries' | wc -l)" = 16
check "feed entry count (3)" test "$(value 'xdpfence_feed_entries{feed="lab"}')" = 3
check "feed last success within the last minute" gt0 "$(value 'xdpfence_feed_last_success_timestamp_seconds{feed="lab"} > time() - 60')"
check "feed refresh interval 30 s" test "$(value 'xdpfence_feed_refresh_interval_seconds{feed="lab"}')" = 30
check "tick histogram counts every tick" test "$(value 'xdpfence_tick_duration_seconds_count - xdpfence_ticks_total')" = 0
check "tick histogram p99 is a duration under the tick" python3 -c "
v = float('$(value 'histogram_quantile(0.99, rate(xdpfence_tick_duration_seconds_bucket[1m]))')'); assert 0 < v < 1, v"
check "tick interval 1 s" test "$(value 'xdpfence_tick_interval_seconds')" = 1
check "signals received: by source, 0" test "$(value 'sum(xdpfence_signals_received_total)')" = 0
check "signals refused: by reason (5 series)" test "$(value 'count(xdpfence_signals_refused_total)')" = 5
check "the scraper was among the top prefixes while it flooded" gt0 \
	"$(value 'max_over_time(xdpfence_top_source_packets_per_second{prefix="198.18.2.0/24"}[2m])')"
check "top prefixes stay bounded (<= 10 series at a time)" python3 -c "
assert 0 < int('$(value 'max_over_time(count(xdpfence_top_source_packets_per_second)[2m:1s])')') <= 10"
check "no fleet series without a fleet" test -z "$(query 'xdpfence_fleet_lag_seconds')"
check "every family of the scrape is stored" python3 - "$TMP/scrape.txt" "$(api '/api/v1/label/__name__/values')" <<'PY'
import json, sys
names = {l.split()[2] for l in open(sys.argv[1]) if l.startswith("# TYPE ")}
types = {l.split()[2]: l.split()[3] for l in open(sys.argv[1]) if l.startswith("# TYPE ")}
stored = set(json.loads(sys.argv[2])["data"])
want = set()
for n in names:
    want |= {n + "_bucket", n + "_sum", n + "_count"} if types[n] == "histogram" else {n}
missing = want - stored
# families with no sample yet (the fleet, the top while idle) are not stored
empty = {n for n in want if not any(l.startswith(n + "{") or l.startswith(n + " ") for l in open(sys.argv[1]))}
assert not (missing - empty), sorted(missing - empty)
PY

# ---- the shipped rules and dashboard against live data -----------------------------
check "the rules loaded, and every rule evaluates without error" python3 - "$(api /api/v1/rules)" <<'PY'
import json, sys
groups = json.loads(sys.argv[1])["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
assert {g["name"] for g in groups} == {"xdpfence.recording", "xdpfence.alerts"}, groups
assert len(rules) == 11 and all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
PY
check "the drop ratio recording rule has a value" gt0 "$(value 'instance:xdpfence_drop_ratio:rate5m')"
python3 - "$DASH" >"$TMP/dash.exprs" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def walk(ps):
    for p in ps:
        yield p
        yield from walk(p.get("panels", []))
for p in walk(d["panels"]):
    for t in p.get("targets", []):
        print(p["title"] + "\t" + t["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*"))
PY
check "the dashboard has queries" test "$(wc -l <"$TMP/dash.exprs")" -ge 15
bad=0
while IFS=$'\t' read -r title expr; do
	if ! out=$(query "$expr" 2>&1); then
		fail "dashboard \"$title\": $expr: $out"
		bad=1
	fi
	case $title in
	"Drops by reason"|"Promotions by rule"|"Top prefixes by packet rate"|"Feed health"|"Deny entries by owner and action"|"Tick duration")
		[ -n "$out" ] || { fail "dashboard \"$title\" returns no data: $expr"; bad=1; } ;;
	esac
done <"$TMP/dash.exprs"
[ $bad = 0 ] && ok "every dashboard query runs; drops, promotions, top prefixes, entries, ticks and feed health return data"

kill -TERM "$PPID_" "$DPID" 2>/dev/null
wait "$PPID_" "$DPID" 2>/dev/null
finish
