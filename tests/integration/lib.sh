# tests/integration/lib.sh - sourced by the netns integration tests.
#
# Builds a two-namespace lab joined by one veth pair: a client namespace with
# source addresses from 198.18.0.0/15 and 2001:db8::/32, and a gateway/server
# namespace (192.0.2.1, 2001:db8:ff::1) whose veth end runs xdpfence. A
# private bpffs in the root namespace holds the pins (`ip netns exec` remounts
# /sys, so /sys/fs/bpf would not survive from one command to the next). Every
# name carries the PID; the EXIT trap removes all of it.

set -u
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
XF=$BUILD/xdpfence
ID=$$
NS_C=xf$ID-c
NS_G=xf$ID-g
VC=xfc$ID
VG=xfg$ID
TMP=$(mktemp -d /tmp/xdpfence-it.XXXXXX)
BPFFS=$TMP/bpf
PIN=$BPFFS/fence
export LIBXDP_BPFFS=$BPFFS

n_pass=0 n_fail=0

ok() { n_pass=$((n_pass + 1)); echo "ok   $*"; }
fail() { n_fail=$((n_fail + 1)); echo "FAIL $*"; }
check() {	# description, command...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}
check_not() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then fail "$what"; else ok "$what"; fi
}
finish() {
	echo "$n_pass passed, $n_fail failed"
	[ "$n_fail" = 0 ]
}

lab_down() {
	ip netns pids "$NS_G" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns pids "$NS_C" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_G" 2>/dev/null
	umount "$BPFFS" 2>/dev/null
	rm -rf "$TMP"
}
trap lab_down EXIT

C() { ip netns exec "$NS_C" "$@"; }
G() { ip netns exec "$NS_G" "$@"; }
xf() { G "$XF" --pin-dir "$PIN" "$@"; }

lab_up() {
	mkdir -p "$BPFFS"
	mount -t bpf bpf "$BPFFS" || return 1
	ip netns add "$NS_C" && ip netns add "$NS_G" || return 1
	ip link add "$VC" netns "$NS_C" type veth peer name "$VG" netns "$NS_G" || return 1
	C ip link set lo up
	G ip link set lo up
	for i in 1 2 3 4 5; do
		C ip addr add 198.18.$i.10/24 dev "$VC"
		C ip -6 addr add 2001:db8:$i::10/64 dev "$VC" nodad
	done
	G ip addr add 192.0.2.1/24 dev "$VG"
	G ip -6 addr add 2001:db8:ff::1/64 dev "$VG" nodad
	C ip link set "$VC" up
	G ip link set "$VG" up
	C ip route add 192.0.2.0/24 dev "$VC"
	C ip -6 route add 2001:db8:ff::/64 dev "$VC"
	G ip route add 198.18.0.0/15 dev "$VG"
	G ip -6 route add 2001:db8::/40 dev "$VG"
	# a veth peer receiving XDP-redirected frames needs GRO; harmless otherwise
	C ethtool -K "$VC" gro on >/dev/null 2>&1
	G ethtool -K "$VG" gro on >/dev/null 2>&1
	# wait for the link
	for _ in $(seq 50); do
		C ping -c1 -W1 -I 198.18.1.10 192.0.2.1 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# reach SRC: can the client, sourcing from SRC, get an answer from the server?
reach() {
	if [[ $1 == *:* ]]; then
		C ping -6 -c2 -i0.2 -W1 -I "$1" 2001:db8:ff::1
	else
		C ping -c2 -i0.2 -W1 -I "$1" 192.0.2.1
	fi
}
