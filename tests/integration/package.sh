#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# tests/integration/package.sh BUILD - the Debian package: built, linted,
# installed on this machine, used as the service would be, removed, purged.
#
# `make deb` runs in a copy of the source tree (dpkg-buildpackage writes to
# the parent directory: the copy keeps other worktrees' builds apart) and
# must leave it as it was; lintian must have nothing to say but the
# explained overrides. Installed, /usr/sbin/xdpfence must work, the man
# pages, completion, rules, dashboard and fail2ban action be in place, the
# unit pass `systemd-analyze verify`, and the config ship commented out.
#
# Purge, in a private bpffs mounted on /sys/fs/bpf (a mount namespace of
# this test's own, so the machine's pins are never seen or touched) and on
# veth pairs this test creates in the root network namespace:
#   1. the service's command (the unit's ExecStart) attaches its configured
#      interface; the operator attaches another interface by hand from a
#      pin dir of their own. Purge detaches the service's interface and
#      removes its pins; the operator's attachment and pins stay.
#   2. the operator attaches an interface by hand from the service's pin
#      dir. Remove leaves it attached and says how to detach it; purge
#      leaves the pins in use and says so; the command it gives works.
# Refuses to run (fails) where xdpfence is installed already or its
# directories exist: this test purges the package and them.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${XF_PKG_NS:-}" != 1 ]; then
	# again, in a mount namespace of our own with a private /sys/fs/bpf
	# and /run/xdpfence (the daemon's lock is named after the pin dir)
	exec env XF_PKG_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
mount -t bpf bpf /sys/fs/bpf || { echo "FAIL mount a private bpffs"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p /run/xdpfence && mount -t tmpfs -o mode=0700 tmpfs /run/xdpfence

. "$(dirname "$0")/lib.sh"
unset LIBXDP_BPFFS	# libxdp's default, /sys/fs/bpf: the private one
PIN=/sys/fs/bpf/xdpfence
OPIN=/sys/fs/bpf/operator
V=xfp$$
installed=0 DPID=
command -v dpkg-buildpackage >/dev/null && command -v lintian >/dev/null || "$ROOT/scripts/install-deps.sh" >/dev/null

cleanup_pkg() {
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	for i in a c e; do
		ip link show "$V$i" >/dev/null 2>&1 || continue
		"$XF" --pin-dir "$PIN" detach "$V$i" >/dev/null 2>&1
		"$XF" --pin-dir "$OPIN" detach "$V$i" >/dev/null 2>&1
		ip link del "$V$i" 2>/dev/null
	done
	[ "$installed" = 1 ] && DEBIAN_FRONTEND=noninteractive dpkg --purge xdpfence >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup_pkg EXIT

for p in /usr/sbin/xdpfence /etc/xdpfence /var/lib/xdpfence /var/log/xdpfence \
	/etc/fail2ban/action.d/xdpfence.conf; do
	if [ -e "$p" ]; then
		fail "$p exists: this test installs and purges the package, remove xdpfence first"
		finish
		exit 1
	fi
done
if dpkg -s xdpfence >/dev/null 2>&1; then
	fail "xdpfence is installed: this test installs and purges its own build, remove it first"
	finish
	exit 1
fi

# ---- build, in a copy of the tree -------------------------------------------------
SRC=$TMP/src/xdpfence
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$ROOT" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | tar --null -T - -cf -) | tar -xf - -C "$SRC"
else
	(cd "$ROOT" && tar --exclude=./build -cf - .) | tar -xf - -C "$SRC"
fi
tree() { (cd "$SRC" && find . -path ./build -prune -o -print | sort); }
tree >"$TMP/tree.before"
if make -C "$SRC" deb >"$TMP/deb.log" 2>&1; then
	ok "make deb"
else
	fail "make deb"
	tail -n 30 "$TMP/deb.log" | sed 's/^/    /'
	finish
	exit 1
fi
DEB=$(ls "$SRC"/build/deb/xdpfence_*_*.deb | head -n 1)
check "the .deb is in build/deb/" test -f "$DEB"
tree >"$TMP/tree.after"
check "make deb leaves the source tree as it was" cmp -s "$TMP/tree.before" "$TMP/tree.after"
diff "$TMP/tree.before" "$TMP/tree.after" | head -n 10 | sed 's/^/    /'
check "nothing left in the parent directory" test -z "$(ls "$TMP/src" | grep -v '^xdpfence$')"
lintian -I -E --pedantic "$DEB" 2>&1 | grep -v 'running with root privileges' >"$TMP/lintian.out"
if [ ! -s "$TMP/lintian.out" ]; then
	ok "lintian: nothing but the explained overrides"
else
	fail "lintian"
	sed 's/^/    /' "$TMP/lintian.out"
fi
check "each override is explained (a comment above it)" awk '
	/^#/ { c = 1; next } /^[^#]/ && NF { if (!c) exit 1; next } { c = 0 }' "$ROOT/debian/xdpfence.lintian-overrides"

# ---- install --------------------------------------------------------------------
if DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$TMP/install.log" 2>&1; then
	installed=1
	ok "dpkg -i"
else
	fail "dpkg -i"
	sed 's/^/    /' "$TMP/install.log"
	finish
	exit 1
fi
check "xdpfence --help from /usr/sbin" sh -c '/usr/sbin/xdpfence --help | grep -q "^usage: xdpfence"'
check "xdpfence on PATH is the package's" test "$(command -v xdpfence)" = /usr/sbin/xdpfence
check "xdpfence --version is the package's" test "$(/usr/sbin/xdpfence --version)" = "xdpfence $(dpkg-query -W -f='${Version}' xdpfence)"
check "man xdpfence" sh -c 'MANWIDTH=80 man 8 xdpfence 2>/dev/null | grep -q "xdpfence ban add"'
check "man xdpfence.conf" sh -c 'MANWIDTH=80 man 5 xdpfence.conf 2>/dev/null | grep -q "state_file"'
check "bash completion loads" bash -c '. /usr/share/bash-completion/bash_completion &&
	. /usr/share/bash-completion/completions/xdpfence && complete -p xdpfence'
check "Prometheus rules in /usr/share/xdpfence, valid" promtool check rules /usr/share/xdpfence/prometheus/xdpfence.rules.yml
check "Grafana dashboard in /usr/share/xdpfence, valid JSON" python3 -m json.tool /usr/share/xdpfence/grafana/xdpfence.json
check "fail2ban action in /etc/fail2ban/action.d" grep -q '^actionban' /etc/fail2ban/action.d/xdpfence.conf
conffiles=$(dpkg-query -W -f='${Conffiles}' xdpfence)
check "conffiles: the config and the fail2ban action" sh -c "echo '$conffiles' | grep -q ' /etc/xdpfence/xdpfence.conf ' &&
	echo '$conffiles' | grep -q ' /etc/fail2ban/action.d/xdpfence.conf '"
check "the config ships commented out (no setting active)" sh -c "! grep -qvE '^[[:space:]]*(;|#|$)' /etc/xdpfence/xdpfence.conf"
check "the config's example is the complete one, commented" bash -c "
	diff <(sed -n 's/^;\([^ ;].*\)/\1/p' /etc/xdpfence/xdpfence.conf) \
	     <(grep -vE '^[[:space:]]*(;|$)' $ROOT/scripts/xdpfence.conf.example)"
UNIT=/lib/systemd/system/xdpfence.service
if systemd-analyze verify "$UNIT" >"$TMP/verify.out" 2>&1 && [ ! -s "$TMP/verify.out" ]; then
	ok "systemd-analyze verify $UNIT"
else
	fail "systemd-analyze verify $UNIT"
	sed 's/^/    /' "$TMP/verify.out"
fi
check "unit: Type=notify, reload by SIGHUP" sh -c "grep -qx 'Type=notify' $UNIT && grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' $UNIT"
check "unit: runs the installed binary on the installed config" \
	grep -qx 'ExecStart=/usr/sbin/xdpfence run --config /etc/xdpfence/xdpfence.conf' "$UNIT"
check_not "the service is not enabled by the package" test -e /etc/systemd/system/multi-user.target.wants/xdpfence.service

# ---- 1. purge: the service's attachment goes, the operator's stays ----------------
ip link add "${V}a" type veth peer name "${V}b" && ip link add "${V}c" type veth peer name "${V}d" &&
	ip link set "${V}a" up && ip link set "${V}b" up && ip link set "${V}c" up && ip link set "${V}d" up
check "veth pairs for the service and the operator" ip link show "${V}c"
cat >/etc/xdpfence/xdpfence.conf <<EOT
[daemon]
tick = 1s
state_file = /var/lib/xdpfence/state.json
events = /var/log/xdpfence/events.jsonl

[interface ${V}a]
mode = skb
EOT
# what systemd would run (the unit's ExecStart), and the directories it
# would make (StateDirectory, LogsDirectory)
mkdir -p /var/lib/xdpfence /var/log/xdpfence
read -r -a cmd <<<"$(sed -n 's/^ExecStart=//p' "$UNIT")"
service_start() {
	"${cmd[@]}" 2>>"$TMP/daemon.err" &
	DPID=$!
	for _ in $(seq 300); do
		grep -q '"event":"start"' /var/log/xdpfence/events.jsonl 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
service_stop() { kill -TERM "$DPID" && wait "$DPID"; DPID=; }
attached() { ip -d link show dev "$1" | grep -q 'prog/xdp'; }
check "the service's command starts (attaches ${V}a)" service_start
check "the service's interface runs XDP" attached "${V}a"
check "the operator attaches ${V}c by hand, from a pin dir of their own" \
	/usr/sbin/xdpfence --pin-dir "$OPIN" attach "${V}c" --mode skb --max-rules 4096
check "the service stops (SIGTERM)" service_stop
check "its XDP program keeps enforcing" attached "${V}a"
if DEBIAN_FRONTEND=noninteractive dpkg --purge xdpfence >"$TMP/purge1.log" 2>&1; then
	installed=0
	ok "dpkg --purge"
else
	fail "dpkg --purge"
fi
sed 's/^/    | /' "$TMP/purge1.log"
check_not "purge detached the service's interface" attached "${V}a"
check "and said so" grep -q "detached from ${V}a" "$TMP/purge1.log"
check_not "purge removed the service's pins" test -e "$PIN"
check "the operator's attachment stays" attached "${V}c"
check "the operator's pins stay" test -e "$OPIN/stats"
check_not "state, events, config and binary are gone" sh -c "ls -d /var/lib/xdpfence /var/log/xdpfence /etc/xdpfence /usr/sbin/xdpfence 2>/dev/null | grep -q ."
"$XF" --pin-dir "$OPIN" detach "${V}c" >/dev/null 2>&1
rm -rf "$OPIN"

# ---- 2. remove, then purge: a hand-made attachment on the service's pin dir ---------
if DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$TMP/install2.log" 2>&1; then
	installed=1
	ok "dpkg -i again"
else
	fail "dpkg -i again"
fi
cat >/etc/xdpfence/xdpfence.conf <<EOT
[daemon]
events = /var/log/xdpfence/events.jsonl
[interface ${V}a]
mode = skb
EOT
mkdir -p /var/lib/xdpfence /var/log/xdpfence
check "the service's command starts" service_start
check "the operator attaches ${V}c by hand from the service's pin dir" \
	/usr/sbin/xdpfence attach "${V}c" --mode skb
check "the service stops" service_stop
if DEBIAN_FRONTEND=noninteractive dpkg -r xdpfence >"$TMP/remove.log" 2>&1; then
	ok "dpkg -r"
else
	fail "dpkg -r"
fi
sed 's/^/    | /' "$TMP/remove.log"
check_not "remove detached the service's interface" attached "${V}a"
check "remove left the hand-made attachment enforcing" attached "${V}c"
check "and said how to detach it" grep -q "${V}c still runs the xdpfence filter.*xdp-loader unload ${V}c --id [0-9]" "$TMP/remove.log"
check "remove kept the config (a conffile) and the pins" sh -c "test -f /etc/xdpfence/xdpfence.conf && test -e $PIN/stats"
if DEBIAN_FRONTEND=noninteractive dpkg --purge xdpfence >"$TMP/purge2.log" 2>&1; then
	installed=0
	ok "dpkg --purge after remove"
else
	fail "dpkg --purge after remove"
fi
sed 's/^/    | /' "$TMP/purge2.log"
check "purge left the pins in use and said so" sh -c "test -e $PIN/stats && grep -q 'left the pinned maps under $PIN: ${V}c' $TMP/purge2.log"
# the way out the removal gave, word for word
how=$(grep -o "'xdp-loader unload ${V}c --id [0-9]*'" "$TMP/remove.log" | tr -d "'")
check "its detach command works: $how" sh -c "$how >/dev/null 2>&1 && ! ip -d link show dev ${V}c | grep -q prog/xdp"
rm -rf "$PIN"
finish
