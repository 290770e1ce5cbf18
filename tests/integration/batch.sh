#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/batch.sh BUILD - `ban add -` and `ban del -` (scripts,
# fail2ban) on real traffic in the lab: lines with their own options, the
# command line's as defaults, one commit; a bad line applies nothing; an
# unban of what is not banned is skipped. And one-shot bans of one entry
# among many are small commits (built from the live table).
. "$(dirname "$0")/lib.sh"

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
check "attach" xf attach "$VG"
check "198.18.2.10 gets through before" reach 198.18.2.10
check "198.18.3.10 gets through before" reach 198.18.3.10

cat >"$TMP/good.txt" <<'EOT'
# fail2ban-style: one address a line
198.18.2.10 --reason "sshd: 5 failures"
198.18.3.10/32 --ttl 1h --action drop
203.0.113.0/24 --action monitor   # a whole range, watched only
2001:db8:3::10
EOT
out=$(xf --json ban add - --ttl 30m <"$TMP/good.txt" 2>&1); rc=$?
check "ban add - applies the lines: exit 0" test "$rc" = 0
check "and says how many (--json)" python3 -c "import json,sys; j=json.loads(sys.argv[1]); assert j['banned']==4 and j['new']==4, j" "$out"
check_not "198.18.2.10 is dropped" reach 198.18.2.10
check_not "198.18.3.10 is dropped" reach 198.18.3.10
check_not "2001:db8:3::10 is dropped" reach 2001:db8:3::10
list=$(xf ban list --json)
check "a line's own reason" python3 -c "import json,sys; e=[x for x in json.loads(sys.argv[1]) if x['prefix']=='198.18.2.10/32'][0]; assert e['reason']=='sshd: 5 failures', e" "$list"
check "the command line's --ttl as default (30m)" python3 -c "import json,sys; e=[x for x in json.loads(sys.argv[1]) if x['prefix']=='198.18.2.10/32'][0]; assert 1700 < e['expires_in_s'] <= 1800, e" "$list"
check "a line's own --ttl over it (1h)" python3 -c "import json,sys; e=[x for x in json.loads(sys.argv[1]) if x['prefix']=='198.18.3.10/32'][0]; assert 3500 < e['expires_in_s'] <= 3600, e" "$list"
check "a line's own --action" python3 -c "import json,sys; e=[x for x in json.loads(sys.argv[1]) if x['prefix']=='203.0.113.0/24'][0]; assert e['action']=='monitor', e" "$list"

printf '198.18.4.10\n198.18.4.11 --ttl soon\n198.18.4.12 --colour red\n300.1.2.3\n' >"$TMP/bad.txt"
out=$(xf ban add - <"$TMP/bad.txt" 2>&1); rc=$?
check "bad lines: exit 2" test "$rc" = 2
check "each named -:LINE (a bad --ttl)" grep -q -- '-:2: --ttl "soon"' <<<"$out"
check "each named -:LINE (an unknown option)" grep -q -- '-:3: "--colour": not an option' <<<"$out"
check "each named -:LINE (a bad prefix)" grep -q -- '-:4: bad prefix "300.1.2.3"' <<<"$out"
check "nothing applied (the good first line either)" reach 198.18.4.10

printf '198.18.2.10\n198.18.9.9\n' >"$TMP/unban.txt"
out=$(xf ban del - <"$TMP/unban.txt" 2>&1); rc=$?
check "ban del -: exit 0" test "$rc" = 0
check "what was not banned is said and skipped" grep -q '198.18.9.9/32: not banned (skipped)' <<<"$out"
check "198.18.2.10 passes again" reach 198.18.2.10
check_not "198.18.3.10 still dropped" reach 198.18.3.10
printf '198.18.3.10 extra\n' | xf ban del - >/dev/null 2>&1; rc=$?
check "ban del - with more than a CIDR on a line: exit 2" test "$rc" = 2
check_not "and nothing applied" reach 198.18.3.10

# a thousand feed entries around, then one-shot bans: each a small commit
python3 -c "
for i in range(1, 255):
    for j in (1, 2, 3, 4): print('198.19.%d.%d' % (i, j))" >"$TMP/feed.txt"
check "a feed of 1016 entries" xf feed load bg "$TMP/feed.txt"
out=$(xf -v ban add 198.18.5.10 2>&1)
check "a one-shot ban among them is a small commit (-v)" grep -q 'small commit' <<<"$out"
check_not "and drops" reach 198.18.5.10
out=$(xf -v ban del 198.18.5.10 2>&1)
check "its removal too" grep -q 'small commit' <<<"$out"
check "and it passes again" reach 198.18.5.10
finish
