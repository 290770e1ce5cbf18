#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/demo.sh - `make demo`: xdpfence at the edge of a namespace lab, end to end.
#
# Installs what is missing, builds, brings up scripts/lab.sh (clients, a
# gateway, a server behind it), serves HTTP on the server, attaches xdpfence
# to the gateway's client-facing veth, loads two bundled feeds (Spamhaus JSON and
# a FireHOL netset), shows clean clients served and banned ranges dropped,
# runs the behaviour engine, which throttles a scraper /24 on its own, shows the
# counters through xdpfence and bpftool, prints a summary and tears down.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (namespaces, XDP)" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "dependencies and build"
scripts/install-deps.sh
make -s -j2 build/xdpfence

. scripts/lab.sh
lab_names xfdemo
trap 'lab_down xfdemo >/dev/null 2>&1' EXIT
lab_down xfdemo >/dev/null 2>&1
lab_up xfdemo
XF="$PWD/build/xdpfence --pin-dir $PIN"
G() { ip netns exec "$NS_G" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
xf() { printf '$ xdpfence %s\n' "$*"; G $XF "$@"; }

mkdir -p "$LAB_DIR/www" && echo "model output" >"$LAB_DIR/www/index.html"
S sh -c "cd $LAB_DIR/www && exec python3 -m http.server 8080 --bind 192.0.2.1" >/dev/null 2>&1 &
for _ in $(seq 50); do C curl -s -o /dev/null --max-time 1 http://192.0.2.1:8080/ && break; sleep 0.1; done

# get SRC: one HTTP request from SRC; prints the status (000 = no answer)
get() { C curl -s -o /dev/null -w '%{http_code}' --max-time 1 --interface "$1" http://192.0.2.1:8080/ || true; }

step "lab: clients 198.18.1-5.10 -> gateway 192.0.2.1 (HTTP on :8080), xdpfence on $VG"
xf attach "$VG"
xf status

step "threat feeds in two formats"
xf feed load spamhaus examples/drop_v4.json
xf feed load firehol examples/scrapers.netset
xf feed list

step "traffic: clean clients are served, feed-listed ranges are dropped at XDP"
declare -A result
for src in 198.18.1.10 198.18.2.10 198.18.3.10 198.18.4.10; do
	code=$(get "$src")
	result[$src]=$code
	printf '  GET from %-12s -> %s\n' "$src" "$([ "$code" = 200 ] && echo "200 served" || echo "no answer (dropped)")"
done

step "the behaviour engine: xdpfence run promotes a scraper /24"
cat >"$LAB_DIR/run.conf" <<EOT
[daemon]
tick = 1s
events = $LAB_DIR/events.jsonl

[rule syn-burst]
metric = new_conns
rate = 20/s
window = 3s
action = throttle
throttle_rate = 2/s
throttle_burst = 2
ttl = 10m
jitter = 0
EOT
sed 's/^/  /' "$LAB_DIR/run.conf"
G $XF run --config "$LAB_DIR/run.conf" 2>/dev/null &
for _ in $(seq 100); do grep -q '"event":"start"' "$LAB_DIR/events.jsonl" 2>/dev/null && break; sleep 0.1; done
echo "  198.18.2.10 opens 40 connections/s for 6 s; 198.18.1.10 browses at 2/s"
S python3 tests/integration/conn_flood.py serve 192.0.2.1 8081 >/dev/null 2>&1 &
sleep 0.5
C python3 tests/integration/conn_flood.py flood 198.18.1.10 192.0.2.1 8081 2 6 >"$LAB_DIR/normal.json" &
npid=$!
C python3 tests/integration/conn_flood.py flood 198.18.2.10 192.0.2.1 8081 40 6 >"$LAB_DIR/scraper.json"
wait $npid
echo "  the engine's decision (events.jsonl):"
grep '"event":"promote"' "$LAB_DIR/events.jsonl" | sed 's/^/  /'
python3 - "$LAB_DIR" <<'PY'
import json, sys
d = sys.argv[1]
for who, f in (("normal 198.18.1.10", "normal.json"), ("scraper 198.18.2.10", "scraper.json")):
    a = json.load(open(d + "/" + f))["attempts"]
    fails = [t for t, ok in a if not ok]
    cut = fails[0] if fails else a[-1][0] + 1
    before = [ok for t, ok in a if t < cut]
    after = [ok for t, ok in a if t >= cut]
    print("  %-20s %3d of %3d connections completed" % (who, sum(ok for t, ok in a), len(a)), end="")
    if after:
        span = a[-1][0] - cut
        print("; after the promotion at %.1fs: %d of %d in %.1fs (throttle 2/s, burst 2)"
              % (cut, sum(after), len(after), span))
    else:
        print()
PY
xf top -n 5 --by conns --interval 0
result[throttled]=$(python3 -c "import json; a=json.load(open('$LAB_DIR/scraper.json'))['attempts']; print('%d/%d' % (sum(ok for t, ok in a), len(a)))")

step "the bans, and the counters"
xf ban list
xf stats
printf '$ bpftool map dump pinned %s/stats   (first entries)\n' "$PIN"
bpftool map dump pinned "$PIN/stats" | head -n 24

step "summary"
printf '  %-34s %s\n' "client 198.18.1.10 (clean)" "${result[198.18.1.10]}"
printf '  %-34s %s\n' "client 198.18.3.10 (spamhaus feed)" "${result[198.18.3.10]}"
printf '  %-34s %s\n' "client 198.18.4.10 (firehol feed)" "${result[198.18.4.10]}"
printf '  %-34s %s\n' "scraper 198.18.2.10 (promoted)" "${result[throttled]} connections completed"
G $XF stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  %-34s %d" % ("packets dropped by feeds", d["drop_feed"]["packets"])); print("  %-34s %d" % ("new connections throttled", d["drop_throttle"]["packets"]))'
echo
echo "demo done; the lab is torn down on exit"
