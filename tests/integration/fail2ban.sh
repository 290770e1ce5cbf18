#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/fail2ban.sh BUILD - Debian's fail2ban enforcing at XDP
# through contrib/fail2ban/action.d/xdpfence.conf, on real traffic in a
# netns lab.
#
# A fail2ban server, started here in the gateway's namespace with its own
# config dir, watches an auth log the test writes (Debian's sshd filter, a
# jail with maxretry 3). Two failures ban nothing; the third bans the
# address through `xdpfence ban add` with the jail's bantime as TTL and its
# name as reason: the client can no longer open a TCP connection to the
# server behind the gateway, a clean client still can. IPv6 too.
# `fail2ban-client set JAIL unbanip` lets it back in; a ban whose fail2ban
# died is lifted on time by the data path; `fail2ban-client stop` lifts the
# bans it holds.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FLOOD="python3 $ROOT/tests/integration/conn_flood.py"
F2B=$TMP/fail2ban
LOG=$TMP/auth.log
LOG2=$TMP/auth-short.log

command -v fail2ban-client >/dev/null || "$ROOT/scripts/install-deps.sh" >/dev/null

if ! lab_up "$LAB"; then
	fail "lab up"
	finish
	exit 1
fi
ok "lab up"
S $FLOOD serve 192.0.2.1 8080 >/dev/null 2>&1 &
S $FLOOD serve 2001:db8:ff::1 8080 >/dev/null 2>&1 &
check "attach" xf attach "$VG" --max-rules 4096 --prefix-entries 4096

# connect SRC: one TCP handshake to the server from SRC
connect() {
	local dst=192.0.2.1
	[[ $1 == *:* ]] && dst=2001:db8:ff::1
	C $FLOOD flood "$1" "$dst" 8080 1 1 | grep -q 'true'
}
check "attacker connects before" connect 198.18.4.10
check "clean client connects before" connect 198.18.1.10

# ---- fail2ban: its own config dir, Debian's filters, our action -------------------
mkdir -p "$F2B/action.d" "$F2B/jail.d"
ln -s /etc/fail2ban/filter.d "$F2B/filter.d"
cp "$ROOT/contrib/fail2ban/action.d/xdpfence.conf" "$F2B/action.d/"
cat >"$F2B/fail2ban.conf" <<EOT
[Definition]
loglevel = INFO
logtarget = $TMP/fail2ban.log
socket = $TMP/f2b.sock
pidfile = $TMP/f2b.pid
dbfile = :memory:
EOT
: >"$LOG"
: >"$LOG2"
cat >"$F2B/jail.conf" <<EOT
[DEFAULT]
backend = polling
findtime = 10m
maxretry = 3
banaction = xdpfence
action = xdpfence[xdpfence="$XF", xdpfence_opts="--pin-dir $PIN"]

[lab-sshd]
enabled = true
filter = sshd
logpath = $LOG
bantime = 10m

[lab-short]
enabled = true
filter = sshd
logpath = $LOG2
bantime = 4
EOT
f2b() { G fail2ban-client -c "$F2B" -s "$TMP/f2b.sock" "$@"; }
check "fail2ban configuration is valid (fail2ban-client -t)" f2b -t
# the server stays in the gateway's namespace: ip netns exec execs it
ip netns exec "$NS_G" fail2ban-server -c "$F2B" -s "$TMP/f2b.sock" -p "$TMP/f2b.pid" -x -f \
	>"$TMP/fail2ban.out" 2>&1 &
F2BPID=$!
for _ in $(seq 100); do f2b ping >/dev/null 2>&1 && break; sleep 0.1; done
check "fail2ban server up" f2b ping
for _ in $(seq 50); do f2b status lab-short >/dev/null 2>&1 && break; sleep 0.1; done
check "both jails running" sh -c "fail2ban-client -c '$F2B' -s '$TMP/f2b.sock' status | grep -q 'lab-short' && ip netns exec $NS_G fail2ban-client -c '$F2B' -s '$TMP/f2b.sock' status | grep -q 'lab-sshd'"

# fail LOG IP: one failed sshd login from IP, as sshd logs it, now
n=0
fail_login() {
	n=$((n + 1))
	printf '%s gw sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n' \
		"$(date '+%b %e %H:%M:%S')" $((4000 + n)) "$2" $((50000 + n)) >>"$1"
}
banned() { f2b status "$1" | grep 'Banned IP list' | grep -qw -- "$2"; }
in_xdpfence() { xf ban list --json | python3 -c "
import json, sys
e = [x for x in json.load(sys.stdin) if x['prefix'] == sys.argv[1]]
assert e and 'manual' in e[0]['owners'] and e[0]['action'] == 'drop', e
print(e[0]['reason'], e[0]['expires_in_s'])" "$1"; }

# ---- two failures: nothing; the third bans ------------------------------------------
fail_login "$LOG" 198.18.4.10
fail_login "$LOG" 198.18.4.10
sleep 3	# fail2ban polls the file every second
check "2 failures: fail2ban saw them" sh -c "ip netns exec $NS_G fail2ban-client -c '$F2B' -s '$TMP/f2b.sock' status lab-sshd | grep -q 'Total failed:.*2'"
check_not "2 failures: not banned (maxretry 3)" banned lab-sshd 198.18.4.10
check_not "2 failures: no xdpfence entry" in_xdpfence 198.18.4.10/32
check "2 failures: the attacker still connects" connect 198.18.4.10
fail_login "$LOG" 198.18.4.10
check "3rd failure: fail2ban bans it" wait_for 12 banned lab-sshd 198.18.4.10
check "3rd failure: xdpfence holds a drop entry for it" wait_for 12 in_xdpfence 198.18.4.10/32
entry=$(in_xdpfence 198.18.4.10/32 2>&1)
check "with the jail as reason and bantime as TTL (600 s): $entry" python3 -c "
r, ttl = '''$entry'''.rsplit(' ', 1); assert r == 'fail2ban lab-sshd' and 590 <= float(ttl) <= 600, (r, ttl)"
check_not "the banned client can no longer connect" connect 198.18.4.10
check "the clean client still connects" connect 198.18.1.10
check "the banned client's other traffic is dropped at XDP too (ping)" sh -c "! ip netns exec $NS_C ping -c2 -i0.2 -W1 -I 198.18.4.10 192.0.2.1"

# IPv6
for _ in 1 2 3; do fail_login "$LOG" 2001:db8:4::10; done
check "IPv6: banned" wait_for 12 in_xdpfence 2001:db8:4::10/128
check_not "IPv6: the banned client can no longer connect" connect 2001:db8:4::10
check "IPv6: a clean client still connects" connect 2001:db8:1::10
check "IPv6: unbanip" f2b set lab-sshd unbanip 2001:db8:4::10
check "IPv6: unbanned, connects again" wait_for 12 connect 2001:db8:4::10

# ---- unban ---------------------------------------------------------------------------
check "fail2ban-client unbanip" f2b set lab-sshd unbanip 198.18.4.10
check "unbanned: the entry is gone" wait_for 12 sh -c "! ip netns exec $NS_G $XF --pin-dir $PIN ban list | grep -q 198.18.4.10"
check "unbanned: the client connects again" connect 198.18.4.10

# ---- a short ban outlives its fail2ban: the data path lifts it on time -------------------
for _ in 1 2 3; do fail_login "$LOG2" 198.18.3.10; done
check "short jail bans (bantime 4 s)" wait_for 12 in_xdpfence 198.18.3.10/32
check_not "short ban enforced" connect 198.18.3.10
kill -KILL "$F2BPID"
wait "$F2BPID" 2>/dev/null
sleep 4.5
check "fail2ban gone, the TTL ran out: the client connects again" connect 198.18.3.10

# ---- fail2ban stop lifts what it holds ------------------------------------------------
rm -f "$TMP/f2b.sock" "$TMP/f2b.pid"
ip netns exec "$NS_G" fail2ban-server -c "$F2B" -s "$TMP/f2b.sock" -p "$TMP/f2b.pid" -x -f \
	>>"$TMP/fail2ban.out" 2>&1 &
F2BPID=$!
for _ in $(seq 100); do f2b status lab-sshd >/dev/null 2>&1 && break; sleep 0.1; done
check "fail2ban again" f2b ping
check "a manual fail2ban ban goes through the action" f2b set lab-sshd banip 198.18.5.10
check "in xdpfence" wait_for 12 in_xdpfence 198.18.5.10/32
check_not "enforced" connect 198.18.5.10
check "fail2ban-client stop" f2b stop
wait "$F2BPID" 2>/dev/null
# (the short ban of the killed server is listed as expired: enforcing nothing)
check "stop lifted its bans: no fail2ban entry left enforcing" sh -c "ip netns exec $NS_G $XF --pin-dir $PIN ban list --json | python3 -c \"
import json, sys
live = [e['prefix'] for e in json.load(sys.stdin) if e['reason'].startswith('fail2ban') and not e['expired']]
assert not live, live\""
check "and the client connects again" connect 198.18.5.10
check "no action errors in fail2ban's log" sh -c "! grep -E 'ERROR|returned [1-9]' '$TMP/fail2ban.log'"
grep -E 'ERROR|returned [1-9]' "$TMP/fail2ban.log" | head -n 5 | sed 's/^/    /'

finish
