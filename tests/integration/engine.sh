#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/engine.sh BUILD - `xdpfence run` on real TCP traffic in a netns lab.
#
# Clients open real TCP connections to a server behind the gateway: the /24
# that opens them above the rule's rate is banned within window + 2 ticks
# while the other /24 keeps working; the ban holds with the daemon stopped,
# the daemon resumes from its state file, the ban expires on time, a repeat
# offence gets a doubled TTL; a throttled prefix gets at most the configured
# rate of new connections through; every decision is a JSON event line and
# the Prometheus endpoint counts the promotions.
. "$(dirname "$0")/lib.sh"
FLOOD="python3 $(cd "$(dirname "$0")" && pwd)/conn_flood.py"

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &

EV=$TMP/events.jsonl
cat >"$TMP/run.conf" <<EOT
[daemon]
tick = 1s
events = $EV
state_file = $TMP/state.json
metrics = 127.0.0.1:9469

[interface $VG]
mode = native

[rule burst]
metric = new_conns
rate = 20/s
window = 4s
action = ban
ttl = 8s
escalate = 2
max_ttl = 2m
jitter = 0
EOT

daemon_start() {	# config
	# not through G(): $! must be the daemon itself (ip netns exec execs it)
	ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$1" 2>>"$TMP/daemon.err" &
	DPID=$!
	for _ in $(seq 100); do
		grep -q '"event":"start"' "$EV" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
daemon_stop() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID"
}
# event TYPE PREFIX: the last matching event line
event() { grep "\"event\":\"$1\"" "$EV" | grep "\"prefix\":\"$2\"" | tail -n 1; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
connect() { C $FLOOD flood "$1" 192.0.2.1 8080 1 1 | grep -q '\[0.0[0-9]*, true\]'; }

check "daemon starts (attaches, Type=notify ready)" daemon_start "$TMP/run.conf"
check "clean client connects" connect 198.18.1.10

# a scraper in 198.18.2.0/24 at 60 new connections/s, a normal client at 2/s
C $FLOOD flood 198.18.1.10 192.0.2.1 8080 2 9 >"$TMP/normal.json" &
NPID=$!
# 7 s: the ban lands 4 to 6 s in (window + up to 2 ticks), so what is left
# of the flood is always shorter than a window and it is not extended
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 60 7 >"$TMP/scraper.json"
wait $NPID
ev=$(event promote 198.18.2.0/24)
check "promote event for the scraper /24" test -n "$ev"
check "event says why (rule, metric, value over threshold)" python3 - "$ev" <<'PY'
import json, sys
e = json.loads(sys.argv[1])
assert e["rule"] == "burst" and e["metric"] == "new_conns" and e["action"] == "drop"
assert e["value"] > e["threshold"] == 20 and e["ttl_s"] == 8 and e["offences"] == 1
PY
check "banned within window + 2 ticks, then nothing got through" python3 - "$TMP/scraper.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["attempts"]
fails = [t for t, ok in a if not ok]
assert fails, "never banned"
first = fails[0]
assert first <= 4 + 2 + 0.5, "banned at %.2fs" % first
late_ok = [t for t, ok in a if ok and t > first + 0.6]
assert not late_ok, "got through after the ban: %s" % late_ok[:5]
PY
check "the other /24 kept working throughout" python3 -c "
import json; a = json.load(open('$TMP/normal.json'))['attempts']
assert len(a) == 18 and all(ok for t, ok in a), a"
check "ban list explains the promoted entry" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list --owner promoted | grep '198.18.2.0/24' | grep -q 'burst: new_conns'"
check "metrics count the promotion" sh -c "ip netns exec $NS_G curl -s http://127.0.0.1:9469/metrics | grep -q 'xdpfence_promotions_total{rule=\"burst\"} 1'"
check "metrics export per-reason packets" sh -c "ip netns exec $NS_G curl -s http://127.0.0.1:9469/metrics | grep -q 'xdpfence_packets_total{reason=\"drop_promoted\"} [1-9]'"

# SIGTERM leaves the data path enforcing; a restart resumes from the state file
check "SIGTERM exits 0" daemon_stop
check_not "ban holds with no daemon" connect 198.18.2.10
check "restart resumes" daemon_start "$TMP/run.conf"
# the ban lasts 8 s from promotion: wait for its expiry event
for _ in $(seq 150); do [ -n "$(event expire 198.18.2.0/24)" ] && break; sleep 0.1; done
check "expire event" test -n "$(event expire 198.18.2.0/24)"
check "expired on time (8 s after promotion, +- 2 ticks)" python3 - "$ev" "$(event expire 198.18.2.0/24)" <<'PY'
import datetime, json, sys
p, e = (json.loads(x) for x in sys.argv[1:3])
ts = lambda s: datetime.datetime.strptime(s["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
d = ts(e) - ts(p)
assert 8 - 0.5 <= d <= 8 + 2.5, "expired %.2fs after promotion" % d
PY
check "unbanned after expiry" connect 198.18.2.10

# a repeat offence: the restarted daemon remembers, the TTL doubles
C $FLOOD flood 198.18.2.10 192.0.2.1 8080 60 6 >/dev/null
# the promotion may land a tick after the flood ends
for _ in $(seq 30); do
	[ "$(event promote 198.18.2.0/24)" != "$ev" ] && break
	sleep 0.1
done
ev2=$(event promote 198.18.2.0/24)
check "repeat offence doubles the TTL (state survived the restart)" python3 - "$ev2" <<'PY'
import json, sys
e = json.loads(sys.argv[1])
assert e["offences"] == 2 and e["ttl_s"] == 16, e
PY
check "SIGTERM again" daemon_stop

# a throttle rule: at most rate + burst new connections get through
cat >"$TMP/throttle.conf" <<EOT
[daemon]
tick = 1s
events = $EV

[rule slow-down]
metric = new_conns
rate = 15/s
window = 2s
action = throttle
throttle_rate = 5/s
throttle_burst = 5
ttl = 1m
jitter = 0
EOT
check "daemon with a throttle rule" daemon_start "$TMP/throttle.conf"
C $FLOOD flood 198.18.3.10 192.0.2.1 8080 40 10 >"$TMP/throttled.json"
evt=$(event promote 198.18.3.0/24)
check "throttle promotion" grep -q '"action":"throttle"' <<<"$evt"
check "after promotion, at most 5/s (+ burst 5) got through" python3 - "$TMP/throttled.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["attempts"]
fails = [t for t, ok in a if not ok]
assert fails, "never throttled"
start = fails[0]
passed = [t for t, ok in a if ok and t >= start]
span = a[-1][0] - start
limit = 5 * span + 5 + 2
assert len(passed) <= limit, "%d passed in %.1fs (limit %.1f)" % (len(passed), span, limit)
assert len(passed) >= 5 * span * 0.5, "throttle let too few through: %d in %.1fs" % (len(passed), span)
PY
check "operator ban del of a promotion" xf ban del 198.18.3.0/24
for _ in $(seq 40); do grep -q '"event":"unban","prefix":"198.18.3.0/24"' "$EV" && break; sleep 0.1; done
check "the engine forgets it (unban event)" grep -q '"event":"unban","prefix":"198.18.3.0/24".*removed by the operator' "$EV"
check "SIGTERM" daemon_stop

# feeds in the config: a feed renamed to a source that fails to load keeps
# the old one enforcing; once the new one loads, the old one goes
printf '198.18.4.0/24\n' >"$TMP/f1.txt"
printf '198.18.4.0/24\n198.18.5.0/33\n' >"$TMP/f2.txt"	# a bad line
feed_conf() {	# NAME FILE
	printf '[daemon]\ntick = 1s\nevents = %s\n\n[feed %s]\nsource = %s\nformat = plain\n' \
		"$EV" "$1" "$2" >"$TMP/feeds.conf"
}
feed_conf intel "$TMP/f1.txt"
check "daemon with a feed" daemon_start "$TMP/feeds.conf"
for _ in $(seq 50); do grep -q '"event":"feed","feed":"intel","ok":true' "$EV" && break; sleep 0.1; done
check_not "the feed drops" reach 198.18.4.10
feed_conf intel2 "$TMP/f2.txt"
kill -HUP "$DPID"
for _ in $(seq 50); do grep -q '"feed":"intel2","ok":false' "$EV" && break; sleep 0.1; done
check "renamed feed with a bad line: load fails" grep -q '"feed":"intel2","ok":false' "$EV"
sleep 1
check_not "the old feed still drops" reach 198.18.4.10
check "and is still listed" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN feed list | grep -q '^intel '"
printf '198.18.4.0/24\n' >"$TMP/f2.txt"
kill -HUP "$DPID"
for _ in $(seq 50); do grep -q '"event":"feed_delete","feed":"intel"' "$EV" && break; sleep 0.1; done
check "once the new one loads, the old one is deleted (event)" grep -q '"event":"feed_delete","feed":"intel","ok":true' "$EV"
check_not "the new feed drops" reach 198.18.4.10
check_not "the old feed is gone" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN feed list | grep -q '^intel '"
check "SIGTERM" daemon_stop

# a feed that fails to load says why and is tried again soon (a tenth of its
# refresh, doubling), not only after its whole refresh interval
printf '198.18.6.0/24\n198.18.6.0/33\n' >"$TMP/f3.txt"
printf '[daemon]\ntick = 1s\nevents = %s\n\n[feed retry]\nsource = %s\nformat = plain\nrefresh = 20s\n' \
	"$EV" "$TMP/f3.txt" >"$TMP/retry.conf"
check "daemon with a failing feed" daemon_start "$TMP/retry.conf"
for _ in $(seq 50); do grep -q '"feed":"retry","ok":false' "$EV" && break; sleep 0.1; done
check "the failed load's event says why" grep -q '"feed":"retry","ok":false,"why":"feed retry: 1 bad line in' "$EV"
check "and when it is tried again" grep -q '"feed":"retry","ok":false,"why":.*"retry_in_s":2}' "$EV"
printf '198.18.6.0/24\n' >"$TMP/f3.txt"
for _ in $(seq 80); do grep -q '"feed":"retry","ok":true' "$EV" && break; sleep 0.1; done
check "mended, it loads on a retry within seconds (refresh is 20 s)" grep -q '"feed":"retry","ok":true' "$EV"
check "SIGTERM" daemon_stop

# the CLI's `feed load` of a file is served by the running daemon (it runs
# in a warm process): same messages, exit codes and --json; the daemon logs
# a `control` event; --direct, or no daemon, loads in the CLI's own process
EV=$TMP/ctl-events.jsonl	# daemon_start waits for a start event: this daemon's
printf '[daemon]\ntick = 1s\nevents = %s\n\n[interface %s]\nmode = native\n' "$EV" "$VG" >"$TMP/ctl.conf"
check "daemon for CLI loads" daemon_start "$TMP/ctl.conf"
check "198.18.5.10 gets through before" reach 198.18.5.10
check "198.18.3.10 gets through before" reach 198.18.3.10
printf '198.18.5.0/24\n' >"$TMP/c1.txt"
out=$(xf -v feed load viacli "$TMP/c1.txt" 2>&1); rc=$?
check "feed load via the daemon: exit 0" test "$rc" = 0
check "it says the daemon loaded it (-v)" grep -q "loaded by xdpfence run (pid $DPID)" <<<"$out"
check "with the load's own report" grep -q "feed viacli: 1 prefixes (+1 -0" <<<"$out"
check "the daemon logs a control event" grep -q '"event":"control","command":"feed load","feed":"viacli",.*"exit":0' "$EV"
check_not "the feed drops" reach 198.18.5.10
printf '198.18.5.0/24\n198.18.3.0/33\n' >"$TMP/c2.txt"
out=$(xf feed load viacli "$TMP/c2.txt" 2>&1); rc=$?
check "a bad line via the daemon: exit 2" test "$rc" = 2
check "naming file:line on the CLI's stderr" grep -q 'c2.txt:2: bad prefix "198.18.3.0/33"' <<<"$out"
check "the daemon logs it with exit 2" grep -q '"event":"control","command":"feed load","feed":"viacli",.*"exit":2' "$EV"
check_not "nothing applied: the feed still drops" reach 198.18.5.10
printf '198.18.3.0/24\n' >"$TMP/c3.txt"
out=$(xf -v --json feed load viacli - <"$TMP/c3.txt" 2>"$TMP/c3.err"); rc=$?
check "stdin (a file) and --json via the daemon" python3 -c "import json,sys; j=json.loads(sys.argv[1]); assert j['added']==1 and j['removed']==1" "$out"
check "stdin (a file) was loaded by the daemon" grep -q "loaded by xdpfence run" "$TMP/c3.err"
out=$(printf '198.18.3.0/24\n' | xf -v feed load viacli - 2>&1); rc=$?
check "stdin (a pipe) is read by the CLI itself, never by the daemon" sh -c "test $rc = 0 && ! grep -q 'loaded by xdpfence run' <<'EOF'
$out
EOF"
check "the reload applied the difference: the old prefix passes" reach 198.18.5.10
check_not "and the new one drops" reach 198.18.3.10
out=$(xf -v feed load procf /proc/version 2>&1); rc=$?
check "a file that is not on a local filesystem (procfs) is read by the CLI itself" sh -c "test $rc = 2 && ! grep -q 'loaded by xdpfence run' <<'EOF'
$out
EOF"
out=$(xf -v feed load viacli "$TMP/c1.txt" --direct 2>&1); rc=$?
check "--direct loads in the CLI's process" sh -c "test $rc = 0 && ! grep -q 'loaded by xdpfence run' <<'EOF'
$out
EOF"
check_not "and applies it" reach 198.18.5.10
# a user other than root (or the daemon's) cannot reach the socket (its
# directory is root's, 0700); the CLI then tries on its own, and fails as
# it would without a daemon (no access to the pins)
check "the control socket's directory is root's alone" sh -c "test \"\$(stat -c %U:%a /run/xdpfence)\" = root:700"
chmod 755 "$TMP"
chmod 644 "$TMP/c2.txt"
G setpriv --reuid 65534 --regid 65534 --clear-groups "$XF" --pin-dir "$PIN" feed load viacli \
	"$TMP/c2.txt" --lenient >/dev/null 2>&1; rc=$?
chmod 700 "$TMP"
check "another user: not served, not loaded" sh -c "test $rc != 0 && ! grep -q '\"uid\":65534' '$EV'"
check_not "and the feed still drops" reach 198.18.5.10
check "SIGTERM" daemon_stop
out=$(xf -v feed load viacli "$TMP/c2.txt" --lenient 2>&1); rc=$?
check "no daemon: the CLI loads itself" sh -c "test $rc = 0 && ! grep -q 'loaded by xdpfence run' <<'EOF'
$out
EOF"
xf feed del viacli >/dev/null 2>&1
check "feed deleted: 198.18.5.10 passes again" reach 198.18.5.10

out=$(G "$XF" --pin-dir "$PIN" run --config /nonexistent.conf 2>&1); rc=$?
check "missing config: exit 2" test "$rc" = 2
printf '[rule x]\nrate = lots\n' >"$TMP/bad.conf"
out=$(G "$XF" --pin-dir "$PIN" run --config "$TMP/bad.conf" 2>&1); rc=$?
check "bad config: exit 2 naming file:line and key" sh -c "test $rc = 2 && echo '$out' | grep -q 'bad.conf:2: \[rule x\] rate'"
finish
