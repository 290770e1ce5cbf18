#!/usr/bin/env bash
# scripts/demo.sh - `make demo`: xdpfence at the edge of a namespace lab, end to end.
#
# Installs what is missing, builds, brings up scripts/lab.sh, serves HTTP on
# the gateway, attaches xdpfence, loads two bundled feeds (Spamhaus JSON and
# a FireHOL netset), shows clean clients served and banned ranges dropped,
# spots a scraper prefix in `xdpfence top` and throttles it, shows the
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
C() { ip netns exec "$NS_C" "$@"; }
xf() { printf '$ xdpfence %s\n' "$*"; G $XF "$@"; }

mkdir -p "$LAB_DIR/www" && echo "model output" >"$LAB_DIR/www/index.html"
G sh -c "cd $LAB_DIR/www && exec python3 -m http.server 8080 --bind 192.0.2.1" >/dev/null 2>&1 &
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

step "a scraper: 198.18.2.0/24 opens connections as fast as it can"
for i in $(seq 60); do get 198.18.2.10 >/dev/null; done
xf top -n 5 --by conns --interval 0
echo "(the behaviour engine, \`xdpfence run\`, will promote such prefixes on its own;"
echo " until it lands, the operator acts on what top shows)"
xf ban add 198.18.2.0/24 --action throttle --rate 2/s --burst 2 --ttl 10m --reason "scraper: 60 conns in a burst"
# 20 connections at once: the burst passes, the rest wait for tokens
pids=()
for i in $(seq 20); do get 198.18.2.10 >"$LAB_DIR/conn.$i" & pids+=($!); done
wait "${pids[@]}"
ok=$(cat "$LAB_DIR"/conn.* | grep -c 200 || true)
echo "  throttled: $ok of 20 simultaneous connections from 198.18.2.10 got through (burst 2, 2/s)"
result[throttled]="$ok/20"

step "the bans, and the counters"
xf ban list
xf stats
printf '$ bpftool map dump pinned %s/stats   (first entries)\n' "$PIN"
bpftool map dump pinned "$PIN/stats" | head -n 24

step "summary"
printf '  %-34s %s\n' "client 198.18.1.10 (clean)" "${result[198.18.1.10]}"
printf '  %-34s %s\n' "client 198.18.3.10 (spamhaus feed)" "${result[198.18.3.10]}"
printf '  %-34s %s\n' "client 198.18.4.10 (firehol feed)" "${result[198.18.4.10]}"
printf '  %-34s %s\n' "scraper 198.18.2.10 throttled" "${result[throttled]} passed"
G $XF stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  %-34s %d" % ("packets dropped by feeds", d["drop_feed"]["packets"])); print("  %-34s %d" % ("new connections throttled", d["drop_throttle"]["packets"]))'
echo
echo "demo done; the lab is torn down on exit"
