#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/datapath.sh BUILD - where the data path counts, on real traffic.
#
# A packet a drop entry drops is counted on that entry, every other on its
# source prefix: a scraper banned by the engine keeps opening connections
# and its ban is extended (at the same TTL, no new offence) from the
# entry's counters alone, then expires once it stops; `top` shows the
# entry's drops and `ban list` its hits. IPv6 entries of several lengths,
# with an allow inside a deny, are enforced on real ping traffic through
# tbl6 and stop being enforced once removed.
. "$(dirname "$0")/lib.sh"
FLOOD="python3 $(cd "$(dirname "$0")" && pwd)/conn_flood.py"

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &

# --- IPv6 through tbl6 ------------------------------------------------------
check "attach" xf attach "$VG"
check "clean v6 source passes" reach 2001:db8:3::10
check "ban a /48" xf ban add 2001:db8:3::/48
check "ban a /64 elsewhere" xf ban add 2001:db8:4::/64
check "ban a /128" xf ban add 2001:db8:5::10
check "allow a /128 inside the /48" xf allow add 2001:db8:3::10
check "the allow wins over the /48" reach 2001:db8:3::10
check "remove the allow" xf allow del 2001:db8:3::10
check_not "the /48 drops" reach 2001:db8:3::10
check_not "the /64 drops" reach 2001:db8:4::10
check_not "the /128 drops" reach 2001:db8:5::10
check "another /64 of the lab passes" reach 2001:db8:1::10
check "ban list: the /48's hits" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list --json |
	python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x[\"prefix\"]==\"2001:db8:3::/48\"]; sys.exit(not (e and e[0][\"hits\"] >= 2))'"
no_prefix_counters() {	# the /64 of 2001:db8:5::10: only ever dropped by an entry
	G bpftool -j map dump pinned "$PIN/prefix_v6" | python3 -c '
import json, sys
keys = [[int(b, 16) for b in e["key"]] for e in json.load(sys.stdin)]
sys.exit(any(k[:8] == [0x20, 0x01, 0x0d, 0xb8, 0, 5, 0, 0] for k in keys))'
}
check "no prefix counters for what an entry dropped" no_prefix_counters
check "unban the /48" xf ban del 2001:db8:3::/48
check "unban the /128" xf ban del 2001:db8:5::10
check "the /48's source passes again" reach 2001:db8:3::10
check "the /128's source passes again" reach 2001:db8:5::10
check_not "the /64 still drops" reach 2001:db8:4::10
check "unban the /64" xf ban del 2001:db8:4::/64
check "detach" xf detach "$VG"

# --- a promoted ban extended from its entry's counters ------------------------
EV=$TMP/events.jsonl
cat >"$TMP/run.conf" <<EOT
[daemon]
tick = 1s
events = $EV
state_file = $TMP/state.json

[interface $VG]
mode = native

[rule burst]
metric = new_conns
rate = 20/s
window = 3s
action = ban
ttl = 6s
escalate = 2
max_ttl = 2m
jitter = 0
EOT
ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/run.conf" 2>>"$TMP/daemon.err" &
DPID=$!
for _ in $(seq 100); do grep -q '"event":"start"' "$EV" 2>/dev/null && break; sleep 0.1; done
check "daemon starts" grep -q '"event":"start"' "$EV"
event() { grep "\"event\":\"$1\"" "$EV" | grep "\"prefix\":\"$2\""; }

# 16 s at 60 new connections a second: banned 3-5 s in, then every SYN is
# dropped (counted on the entry only) for 11 s more: longer than the 6 s TTL
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 60 16 >"$TMP/scraper.json" &
FPID=$!
sleep 9
G "$XF" --pin-dir "$PIN" top --interval 1 -n 50 --json >"$TMP/top.json" 2>/dev/null
wait $FPID
check "promoted" test -n "$(event promote 198.18.2.0/24)"
check "extended while it kept offending" test -n "$(event extend 198.18.2.0/24)"
check "extends are no new offence: same TTL" python3 - "$EV" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ev = [e for e in ev if e.get("prefix") == "198.18.2.0/24" and e["event"] in ("promote", "extend")]
assert ev and all(e["offences"] == 1 and e["ttl_s"] == 6 for e in ev), ev
PY
check "banned throughout: nothing got through after the ban" python3 - "$TMP/scraper.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["attempts"]
fails = [t for t, ok in a if not ok]
assert fails and fails[0] <= 3 + 2 + 0.5, fails[:3]
late = [t for t, ok in a if ok and t > fails[0] + 0.6]
assert not late, late[:5]
PY
check "top: the entry's drops" python3 - "$TMP/top.json" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["prefix"] == "198.18.2.0/24"]
assert rows and rows[0]["entry"] and rows[0]["drops_per_s"] > 20, rows
PY
check "ban list: the promoted entry's hits" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list --json |
	python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x[\"prefix\"]==\"198.18.2.0/24\"]; sys.exit(not (e and e[0][\"hits\"] > 100 and e[0][\"hit_new_conns\"] > 100))'"
for _ in $(seq 150); do [ -n "$(event expire 198.18.2.0/24)" ] && break; sleep 0.1; done
check "expires once it stopped" test -n "$(event expire 198.18.2.0/24)"
connect() { C $FLOOD flood "$1" 192.0.2.1 8080 1 1 | grep -q '\[0.0[0-9]*, true\]'; }
check "unbanned" connect 198.18.2.10
kill -TERM "$DPID" 2>/dev/null
wait "$DPID"
check "daemon stops" test $? = 0
finish
