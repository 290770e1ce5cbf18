#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/grow.sh BUILD - tables that grow while traffic flows.
#
# The pin dir starts tiny (256 rule slots, 4 tbl8 groups); a banned range
# is flooded with live frames while feeds that need more room load: the
# maps grow (twice), the interface's program is switched to the bigger
# ones at once, and no packet of the banned range gets through meanwhile
# (its per-prefix counters: every packet a drop), nor is any counter reset.
. "$(dirname "$0")/lib.sh"

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
check "attach, tiny" xf attach "$VG" --max-rules 256 --tbl8-groups 4
check "ban 198.18.0.0/22" xf ban add 198.18.0.0/22
prog_id() { G ip -d link show "$VG" | sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p'; }
max_of() { G bpftool map show pinned "$PIN/$1" | sed -nE 's/.*max_entries ([0-9]+).*/\1/p'; }
drops() { xf stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['drop_manual']['packets'])"; }
id0=$(prog_id)
check "rules start at 256 slots" test "$(max_of rules)" = 256

# feeds that need room: 5000 /32s and 600 /25s in 198.19.0.0/16, then more
python3 - "$TMP" <<'PY'
import sys
d = sys.argv[1]
a = ["198.19.%d.%d" % (i // 250, i % 250 + 1) for i in range(5000)]
b = ["198.19.%d.128/25" % (100 + i % 150) for i in range(150)] + \
    ["198.19.%d.0/25" % (100 + i % 150) for i in range(150)]
open(d + "/g1.txt", "w").write("\n".join(a + b) + "\n")
c = ["198.19.%d.%d/32" % (i // 200, i % 200 + 1) for i in range(40000)]
open(d + "/g2.txt", "w").write("\n".join(c) + "\n")
PY
C ethtool -K "$VC" gro on >/dev/null 2>&1
C "$BUILD/trafficgen" --ifname "$VC" --packets 40000000 --prefixes 4 --hosts 200 --syn-pct 50 \
	>"$TMP/gen.out" 2>&1 &
GEN=$!
sleep 1
d0=$(drops)
check "first feed loads (slots and groups grow)" xf feed load g1 "$TMP/g1.txt"
id1=$(prog_id)
check "second feed loads (slots grow again)" xf feed load g2 "$TMP/g2.txt"
id2=$(prog_id)
sleep 0.5
d1=$(drops)
kill $GEN 2>/dev/null
wait $GEN 2>/dev/null
check "the program was switched at each growth" sh -c "test '$id0' != '$id1' && test '$id1' != '$id2'"
check "rules grew (now $(max_of rules) slots)" test "$(max_of rules)" -ge 65536
check "tbl8 grew (now $(max_of tbl8) groups)" test "$(max_of tbl8)" -ge 300
check "traffic flowed through the growth ($d0 -> $d1 drops)" test "$((d1 - d0))" -gt 10000
top=$(xf top --interval 0 -n 100 --json)
check "no packet of the banned range got through: packets == drops" python3 - "$top" <<'PY'
import json, sys
rows = [r for r in json.loads(sys.argv[1]) if r["prefix"].startswith(("198.18.0.", "198.18.1.", "198.18.2.", "198.18.3."))]
assert rows, "no counters for the flooded range"
for r in rows:
    assert r["packets"] == r["drops"] and r["packets"] > 0, r
PY
check "counters carried over (drops never went back)" test "$(drops)" -ge "$d1"
check "the feeds' entries are enforced on the grown maps" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN feed list | grep -q '^g2  *40000 '"
check "a ban after the growth is enforced" xf ban add 198.18.4.10
check_not "198.18.4.10 is dropped" reach 198.18.4.10
check "198.18.5.10 passes" reach 198.18.5.10
out=$(xf status)
check "status shows the grown capacity" grep -q 'of 65535 rule slots\|of 131071 rule slots' <<<"$out"
check "and the kernel memory the tables take" grep -q '^memory  *[0-9]* MiB of kernel memory' <<<"$out"

# a limit: growth that would pass it is refused whole
check "a memory limit of 128M" xf attach "$VG" --memory-limit 128M
check "status shows the limit" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN status | grep -q 'limit 128 MiB'"
python3 -c "
for i in range(300000): print('198.18.%d.%d/32' % (128 + i // 250 % 120, i % 250 + 1) if i < 30000 else '%d.%d.%d.1' % (60 + i // 65536, (i >> 8) & 255, i & 255))" >"$TMP/g3.txt"
out=$(xf feed load g3 "$TMP/g3.txt" 2>&1); rc=$?
check "a feed that needs more is refused: exit 1" test "$rc" = 1
check "saying it would pass the limit" grep -q 'over the limit of 128 MiB' <<<"$out"
check_not "nothing applied" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN feed list | grep -q '^g3 '"
check "without the limit it loads" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN attach $VG --memory-limit 0 >/dev/null && ip netns exec $NS_G $XF --pin-dir $PIN feed load g3 $TMP/g3.txt"
finish
