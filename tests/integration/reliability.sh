#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/reliability.sh BUILD - what an attacker or a careless operator
# tries (issue 14), in a netns lab, each against the real binary:
#   1. no lock across the network: a trickling feed server holds up neither
#      `ban add` nor the daemon's start, ticks or SIGTERM; size cap, timeout,
#      no redirect to ftp://
#   2. ticks survive churn: a spoofed IPv6 flood churning the per-prefix
#      LRU while the daemon ticks every 250 ms; `status` counts stay bounded
#   3. no orphans: kill -9 at random points of first loads, reloads,
#      deletes and daemon commits, then every entry has a feed to own it
#   4. one daemon per pin dir; the pin dir removed under the daemon, and
#      under an attached program with no daemon
#   5. files the daemon writes: symlinks, FIFOs, open directories, modes,
#      a corrupt state file kept aside
#   6. SIGHUP with a config that cannot be applied keeps the old one whole
#   7. TTLs past the maximum
#   9. --check runs the load's checks; a big feed parsed off the tick's path
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
S python3 "$HERE/feed_server.py" 192.0.2.1 8081 >/dev/null 2>&1 &
for _ in $(seq 50); do G curl -sf http://192.0.2.1:8081/ok >/dev/null && break; sleep 0.1; done
check "feed server up" G curl -sf http://192.0.2.1:8081/ok

EV=$TMP/events.jsonl
daemon_start() {	# config: the daemon, $DPID; waits for its start event in $EV
	ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$1" 2>>"$TMP/daemon.err" &
	DPID=$!
	for _ in $(seq 100); do
		grep -q '"event":"start"' "$EV" 2>/dev/null && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
daemon_stop() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID"
}
metric() {	# NAME [PORT]: its value on the daemon's metrics endpoint
	G curl -s "http://127.0.0.1:${2:-9479}/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$2"; }
lt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }

# --- 1. no lock across the network ------------------------------------------
check "ban add creates the pins" xf ban add 198.18.200.1
( xf feed load slow http://192.0.2.1:8081/slow --timeout 4s >"$TMP/slow.out" 2>&1; echo $? >"$TMP/slow.rc" ) &
SLOW=$!
sleep 1
t0=$(date +%s.%N)
xf ban add 198.18.200.2 >/dev/null 2>&1; rc=$?
t1=$(date +%s.%N)
check "ban add during a trickling download: exit 0" test "$rc" = 0
check "and at once (under 2 s: the download holds no lock)" lt "$(elapsed "$t0" "$t1")" 2
wait $SLOW
check "the download gives up at its --timeout: exit 1" test "$(cat "$TMP/slow.rc")" = 1
check "saying so" grep -q 'timed out after 4 s' "$TMP/slow.out"
check_not "and applies nothing" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN feed list | grep -q '^slow '"
out=$(xf feed load big http://192.0.2.1:8081/big --max-size 1K 2>&1); rc=$?
check "a feed over --max-size: exit 1" test "$rc" = 1
check "naming the cap" grep -q 'larger than the size cap of 1024 bytes' <<<"$out"
out=$(xf feed load ftp http://192.0.2.1:8081/toftp 2>&1); rc=$?
check "a redirect to ftp:// is not followed" sh -c "test $rc = 1 && grep -qi 'ftp.*\(not supported\|disabled\)' <<'EOF'
$out
EOF"

cat >"$TMP/slow.conf" <<EOT
[daemon]
tick = 500ms
events = $EV
metrics = 127.0.0.1:9479

[feed slow]
source = http://192.0.2.1:8081/slow
timeout = 60s
EOT
t0=$(date +%s.%N)
check "daemon with a trickling feed starts" daemon_start "$TMP/slow.conf"
t1=$(date +%s.%N)
check "without waiting for the feed (start event within 3 s)" lt "$(elapsed "$t0" "$t1")" 3
n0=$(metric xdpfence_ticks_total)
sleep 3
n1=$(metric xdpfence_ticks_total)
check "ticks go on while the feed downloads (>= 4 in 3 s at 500 ms)" test "$((${n1:-0} - ${n0:-0}))" -ge 4
t0=$(date +%s.%N)
xf ban add 198.18.200.3 >/dev/null 2>&1; rc=$?
t1=$(date +%s.%N)
check "ban add beside it: at once" sh -c "test $rc = 0 && python3 -c 'import sys; sys.exit(0 if $(elapsed "$t0" "$t1") < 2 else 1)'"
t0=$(date +%s.%N)
daemon_stop; rc=$?
t1=$(date +%s.%N)
check "SIGTERM during the download: exit 0" test "$rc" = 0
check "within 3 s (the download is cancelled)" lt "$(elapsed "$t0" "$t1")" 3

# --- 2. ticks survive churn --------------------------------------------------
cat >"$TMP/flood.conf" <<EOT
[daemon]
tick = 250ms
events = $EV
metrics = 127.0.0.1:9479

[interface $VG]
mode = native

[rule syn]
metric = new_conns
rate = 100000/s
window = 2s
action = ban
EOT
: >"$TMP/daemon.err"
check "daemon for the flood" daemon_start "$TMP/flood.conf"
C ethtool -K "$VC" gro on >/dev/null 2>&1
n0=$(metric xdpfence_ticks_total)
t0=$(date +%s.%N)
C "$BUILD/trafficgen" --ifname "$VC" --packets 20000000 --prefixes 2000000 --hosts 1 --syn-pct 100 \
	--v6 >"$TMP/flood.out" 2>&1 &
GEN=$!
over=0
for _ in $(seq 8); do
	sleep 1
	line=$(xf status 2>/dev/null | grep '^prefixes')
	set -- $(sed -E "s/.*v4 ([0-9]+) of ([0-9]+), v6 ([0-9]+) of ([0-9]+).*/\1 \2 \3 \4/" <<<"$line")
	[ $# -ge 4 ] && { [ "$1" -le "$2" ] && [ "$3" -le "$4" ] || over=1; }
	kill -0 $GEN 2>/dev/null || break
done
wait $GEN
t1=$(date +%s.%N)
n1=$(metric xdpfence_ticks_total)
check "the flood ran (spoofed IPv6 sources churning prefix_v6)" grep -Eq '^[0-9]+ [0-9.]+$' "$TMP/flood.out"
check "status never counts more prefixes than the map holds" test "$over" = 0
echo "     flood: $(cat "$TMP/flood.out") (packets, s); ticks $((${n1:-0} - ${n0:-0})) in $(elapsed "$t0" "$t1") s; counter reads by batch fallback: $(metric xdpfence_prefix_read_fallbacks_total)"
check "ticks went on through the flood" test "$((${n1:-0} - ${n0:-0}))" -ge 5
check_not "no tick failed to read the counters" grep -q 'reading per-prefix counters' "$TMP/daemon.err"
check "no tick degraded" test "$(metric xdpfence_ticks_degraded_total)" = 0
check "SIGTERM" daemon_stop

# --- 3. no orphans: kill -9 at random points -------------------------------
# a million prefixes (the mix of bench_feed.sh): a commit that writes long
# enough for a kill to land in it
python3 - "$TMP" <<'PY'
import random, sys
random.seed(7)
d = sys.argv[1]
seen, lines = set(), []
while len(lines) < 1_000_000:
    r = random.random()
    ln = 32 if r < .6 else 24 if r < .9 else random.randint(16, 23)
    a = random.getrandbits(32) & ((0xffffffff << (32 - ln)) & 0xffffffff)
    if a >> 24 in (0, 127, 192, 198, 203) or a >> 24 >= 224 or (a, ln) in seen:
        continue
    seen.add((a, ln))
    lines.append("%d.%d.%d.%d/%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, ln))
open(d + "/ka.txt", "w").write("\n".join(lines) + "\n")
open(d + "/kb.txt", "w").write("\n".join(lines[10_000:]) + "\n")
PY
xf feed del ka >/dev/null 2>&1
# once untimed: the tables grow to a million entries the first time
xf feed load ka "$TMP/ka.txt" --direct >/dev/null 2>&1
xf feed del ka >/dev/null 2>&1
# where a first load spends its time: the commit writes last, then the
# feed is recorded; kills aim at the write and just before it
t0=$(date +%s.%N); out=$(xf -v feed load ka "$TMP/ka.txt" --direct 2>&1); t1=$(date +%s.%N)
dur=$(elapsed "$t0" "$t1")
wr=$(sed -nE 's/.*write ([0-9]+) ms.*/\1/p' <<<"$out" | head -n 1)
t0=$(date +%s.%N); xf feed load ka "$TMP/kb.txt" --direct >/dev/null 2>&1; t1=$(date +%s.%N)
dur_re=$(elapsed "$t0" "$t1")
t0=$(date +%s.%N); xf feed del ka >/dev/null 2>&1; t1=$(date +%s.%N)
dur_del=$(elapsed "$t0" "$t1")
orphans=0 lost=0 kills=0
# ownership is whole: no entry owned by a feed id that no record names
no_orphan() { ! xf ban list 2>/dev/null | grep -q 'feed:?'; }
# a kill that comes after the command finished lands nowhere: go on (at
# most 16 rounds) until 8 have landed, each kind in turn
rounds=0
while [ "$kills" -lt 8 ] && [ "$rounds" -lt 16 ]; do
	rounds=$((rounds + 1))
	case $(((rounds - 1) % 8 + 1)) in
	1|2|3|4|5) xf feed del ka >/dev/null 2>&1; cmd=(feed load ka "$TMP/ka.txt" --direct)	# first load
		delay=$(python3 -c "import random; d, w = $dur, ${wr:-50} / 1000; print(round(max(0.01, d - 0.02 - w * random.uniform(0, 1.5)), 3))") ;;
	6|7) xf feed load ka "$TMP/ka.txt" --direct >/dev/null 2>&1
	   cmd=(feed load ka "$TMP/kb.txt" --direct)						# reload
	   delay=$(python3 -c "import random; print(round($dur_re * random.uniform(0.3, 0.9), 3))") ;;
	8) xf feed load ka "$TMP/ka.txt" --direct >/dev/null 2>&1; cmd=(feed del ka)		# delete
	   delay=$(python3 -c "import random; print(round($dur_del * random.uniform(0.3, 0.9), 3))") ;;
	esac
	ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" "${cmd[@]}" >/dev/null 2>&1 &
	p=$!
	sleep "$delay"
	kill -9 $p 2>/dev/null && kills=$((kills + 1))
	wait $p 2>/dev/null
	xf status >/dev/null 2>&1
	no_orphan || orphans=$((orphans + 1))
	# whatever was cut off, the feed can be deleted whole
	xf feed del ka >/dev/null 2>&1
	xf ban list 2>/dev/null | grep -q 'feed:' && lost=$((lost + 1))
done
check "kill -9 landed in $kills of $rounds commands" test "$kills" -ge 4
check "no entry left owned by a feed nobody names ($rounds rounds)" test "$orphans" = 0
check "after each, feed del leaves no feed entry behind" test "$lost" = 0
# the daemon applying a feed, killed at random points
cat >"$TMP/kfeed.conf" <<EOT
[daemon]
tick = 1s
events = $EV

[feed ka]
source = $TMP/ka.txt
EOT
dorph=0
for round in 1 2 3; do
	: >"$EV"
	ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/kfeed.conf" 2>>"$TMP/daemon.err" &
	p=$!
	sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 0.3 + $dur), 3))")"
	kill -9 $p 2>/dev/null
	wait $p 2>/dev/null
	xf status >/dev/null 2>&1
	no_orphan || dorph=$((dorph + 1))
	xf feed del ka >/dev/null 2>&1
done
check "daemon commits killed at random: no orphans (3 rounds)" test "$dorph" = 0

# --- 4. one daemon per pin dir; the pin dir is the truth ----------------------
cat >"$TMP/one.conf" <<EOT
[daemon]
tick = 500ms
events = $EV

[interface $VG]
mode = native
EOT
: >"$EV"
check "a daemon" daemon_start "$TMP/one.conf"
out=$(timeout 20 ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/one.conf" 2>&1); rc=$?
check "a second daemon on the same pin dir is refused" test "$rc" = 1
check "naming the first one's pid" grep -q "another xdpfence run (pid $DPID) already runs on" <<<"$out"
lockf=$(grep -lx "$DPID" /run/xdpfence/ctl-*.lock 2>/dev/null | head -n 1)
check "its lock file holds its pid" test -n "$lockf"
xf ban add 198.18.201.1 >/dev/null 2>&1
rm -rf "$PIN"
for _ in $(seq 40); do grep -q '"event":"pins"' "$EV" && break; sleep 0.1; done
check "the pin dir removed under the daemon: it says so" grep -q '"event":"pins","state":"removed","ok":true' "$EV"
check "and pins its maps again: the CLI sees the same entries" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list | grep -q '198.18.201.1/32'"
check "SIGTERM" daemon_stop
check "the lock file goes with its daemon" test ! -e "$lockf"
# no daemon: the pin dir removed under an attached program
rm -rf "$PIN"
out=$(xf ban add 198.18.201.2 2>&1); rc=$?
check "with our program still attached on the old maps, ban add refuses" test "$rc" != 0
check "and says why and what to do" grep -q "$VG runs xdpfence (program [0-9]*) on maps that were pinned under" <<<"$out"
out=$(xf attach "$VG" 2>&1); rc=$?
check "so does attach (no second copy in front of the first)" sh -c "test $rc != 0 && grep -q 'not any more' <<'EOF'
$out
EOF"
check "detach finds that program (by its pin dir)" xf detach "$VG"
check "then a fresh start works" xf ban add 198.18.201.2
xf ban del 198.18.201.2 >/dev/null 2>&1

# --- 5. files the daemon writes ---------------------------------------------
mkdir -p "$TMP/files"
ln -s "$TMP/files/real.jsonl" "$TMP/files/link.jsonl"
printf '[daemon]\nevents = %s\n' "$TMP/files/link.jsonl" >"$TMP/f1.conf"
out=$(timeout 20 ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/f1.conf" 2>&1); rc=$?
check "an events file that is a symlink: refused (exit 2)" sh -c "test $rc = 2 && grep -q 'symlink' <<'EOF'
$out
EOF"
mkfifo "$TMP/files/state.fifo"
printf '[daemon]\nevents = %s\nstate_file = %s\n' "$EV" "$TMP/files/state.fifo" >"$TMP/f2.conf"
out=$(timeout 20 ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/f2.conf" 2>&1); rc=$?
check "a FIFO at the state path: refused at once, not waited on (exit 2)" sh -c "test $rc = 2 && grep -q 'not a regular file' <<'EOF'
$out
EOF"
mkdir -m 0777 "$TMP/files/open"
chmod 0777 "$TMP/files/open"
printf '[daemon]\nevents = %s\nstate_file = %s\n' "$EV" "$TMP/files/open/state.json" >"$TMP/f3.conf"
out=$(timeout 20 ip netns exec "$NS_G" "$XF" --pin-dir "$PIN" run --config "$TMP/f3.conf" 2>&1); rc=$?
check "a state file in a directory anyone may write: refused (exit 2)" sh -c "test $rc = 2 && grep -q 'writable by anyone' <<'EOF'
$out
EOF"
echo 'not a state file' >"$TMP/files/state.json"
printf '[daemon]\ntick = 500ms\nevents = %s\nstate_file = %s\n' "$TMP/files/ev.jsonl" \
	"$TMP/files/state.json" >"$TMP/f4.conf"
EVSAVE=$EV; EV=$TMP/files/ev.jsonl
check "a daemon with a corrupt state file starts" daemon_start "$TMP/f4.conf"
check "and keeps the corrupt file aside" sh -c "ls $TMP/files/state.json.corrupt-* >/dev/null 2>&1"
check "saying so" grep -q 'kept aside as' "$TMP/daemon.err"
check "SIGTERM" daemon_stop
check "the state file it wrote is 0600" test "$(stat -c %a "$TMP/files/state.json")" = 600
check "the events file it made is 0640" test "$(stat -c %a "$TMP/files/ev.jsonl")" = 640
check "the old state is still aside" grep -q 'not a state file' "$TMP"/files/state.json.corrupt-*
EV=$EVSAVE

# --- 6. SIGHUP with a config that cannot be applied ---------------------------
printf '198.18.202.0/24\n' >"$TMP/hup.txt"
printf '[daemon]\ntick = 500ms\nevents = %s\n' "$EV" >"$TMP/hup.conf"
: >"$EV"
check "a daemon to reload" daemon_start "$TMP/hup.conf"
printf '[daemon]\ntick = 500ms\nevents = %s\n\n[interface nosuch0]\n\n[feed hup]\nsource = %s\n' \
	"$EV" "$TMP/hup.txt" >"$TMP/hup.conf"
kill -HUP "$DPID"
for _ in $(seq 40); do grep -q '"event":"reload"' "$EV" && break; sleep 0.1; done
check "a reload naming an interface that does not exist fails" grep -q '"event":"reload","ok":false' "$EV"
check "saying which (file:line)" grep -q 'hup.conf:5: \[interface nosuch0\]' "$EV"
sleep 2
check_not "and none of it is applied: its feed is not loaded" grep -q '"event":"feed","feed":"hup"' "$EV"
printf '[daemon]\ntick = 500ms\nevents = %s\n\n[feed hup]\nsource = %s\n' "$EV" "$TMP/hup.txt" >"$TMP/hup.conf"
kill -HUP "$DPID"
for _ in $(seq 50); do grep -q '"event":"feed","feed":"hup","ok":true' "$EV" && break; sleep 0.1; done
check "mended, the reload applies (its feed loads)" grep -q '"event":"feed","feed":"hup","ok":true' "$EV"
check "SIGTERM" daemon_stop
xf feed del hup >/dev/null 2>&1

# --- 7. numbers that cannot wrap --------------------------------------------
out=$(xf ban add 198.18.203.1 --ttl 18446744074s 2>&1); rc=$?
check "--ttl 18446744074s: exit 2" test "$rc" = 2
check "naming the maximum" grep -q 'at most 3650d' <<<"$out"
check "--ttl 3651d: exit 2" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban add 198.18.203.1 --ttl 3651d; test \$? = 2"
check "--ttl 3650d is taken" xf ban add 198.18.203.1 --ttl 3650d
check "and lasts (expires in about 3650 days)" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list --json | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x[\"prefix\"]==\"198.18.203.1/32\"][0]; assert 3649*86400 < e[\"expires_in_s\"] <= 3650*86400, e'"
cat >"$TMP/far.json" <<'EOT'
{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56e", "objects": [
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd40",
  "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
  "pattern": "[ipv4-addr:value = '198.18.204.0/24']", "pattern_type": "stix",
  "valid_from": "2026-01-01T00:00:00Z", "valid_until": "9999-12-31T23:59:59Z"}]}
EOT
check "a STIX indicator valid until 9999 loads" xf feed load far "$TMP/far.json" --format stix
check "as an entry with no expiry (not a wrapped clock)" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list | grep '198.18.204.0/24' | grep -q never"
xf feed del far >/dev/null 2>&1
xf ban del 198.18.203.1 >/dev/null 2>&1

# --- 9. --check runs every check; a big feed parsed off the tick's path ------
yes 198.18.205.0/24 | head -n 17000000 >"$TMP/same.txt"
xf feed load same "$TMP/same.txt" --check >/dev/null 2>&1; rc1=$?
xf feed load same "$TMP/same.txt" --direct >/dev/null 2>&1; rc2=$?
check "17M lines of one prefix: --check and the load agree (both 0)" test "$rc1:$rc2" = 0:0
check "as one entry" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN feed list | grep -q '^same  *1 '"
xf feed del same >/dev/null 2>&1
rm -f "$TMP/same.txt"
python3 - "$TMP/huge.txt" <<'PY'
import sys
pad = "#" + "x" * 180
with open(sys.argv[1], "w") as f:
    for r in range(8):
        for i in range(1, 120000):
            f.write("198.%d.%d.%d/32 %s\n" % (18 + (i >> 16), (i >> 8) & 255, i & 255, pad))
PY
printf '[daemon]\ntick = 250ms\nevents = %s\nmetrics = 127.0.0.1:9479\n\n[feed huge]\nsource = %s\n' \
	"$EV" "$TMP/huge.txt" >"$TMP/huge.conf"
: >"$EV"
check "a daemon loading a $(($(stat -c %s "$TMP/huge.txt") / 1000000)) MB feed" daemon_start "$TMP/huge.conf"
gap=0 last=$(metric xdpfence_ticks_total) tl=$(date +%s.%N)
for _ in $(seq 60); do
	sleep 0.2
	n=$(metric xdpfence_ticks_total)
	now=$(date +%s.%N)
	if [ "${n:-0}" != "${last:-0}" ]; then
		lt "$(elapsed "$tl" "$now")" 2.5 || gap=1
		last=$n tl=$now
	fi
	grep -q '"event":"feed","feed":"huge"' "$EV" && break
done
check "it loads" grep -q '"event":"feed","feed":"huge","ok":true' "$EV"
check "and no tick waited 2.5 s meanwhile (parsed off the tick's path)" test "$gap" = 0
check "SIGTERM" daemon_stop
xf feed del huge >/dev/null 2>&1
finish
