#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/lab.sh up|down|env|fleet-up|fleet-down [NAME] - a network-namespace lab for xdpfence.
#
#   NAME-c  "internet" clients: 198.18.1..5.10/24 and 2001:db8:1..5::10/64
#           on veth NAME-vc (plus any address added later from 198.18.0.0/15),
#           routed to the servers through the gateway
#   NAME-g  the gateway, a router: NAME-vg faces the clients (198.18.0.1/15,
#           2001:db8::1) and is where xdpfence attaches; NAME-vgs faces the
#           server network (192.0.2.254/24, 2001:db8:ff::fe/64)
#   NAME-s  the server: 192.0.2.1 and 2001:db8:ff::1 on NAME-vs, behind the
#           gateway; tests and the demo run their TCP services here
#   a private bpffs at /run/xdpfence-lab/NAME/bpf holds the pins (`ip netns
#   exec` remounts /sys, so /sys/fs/bpf would not last between commands);
#   LIBXDP_BPFFS points libxdp there too.
#
# `up` is idempotent (a lab already up is left as it is), `down` removes
# everything `up` made. Sourced, it only defines the functions and names.
# Only documentation/benchmark ranges are used, and only inside the lab.

# wait_for SECONDS COMMAND...: poll every 0.2 s until the command succeeds
# (for the tests and benchmarks that run in a lab)
wait_for() {
	local n=$(($1 * 5))
	shift
	for _ in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

lab_names() {
	LAB=${1:-xflab}
	NS_C=$LAB-c
	NS_G=$LAB-g
	NS_S=$LAB-s
	VC=$LAB-vc
	VG=$LAB-vg
	VGS=$LAB-vgs
	VS=$LAB-vs
	LAB_DIR=/run/xdpfence-lab/$LAB
	BPFFS=$LAB_DIR/bpf
	PIN=$BPFFS/fence
	export LIBXDP_BPFFS=$BPFFS
}

lab_is_up() {
	ip netns list 2>/dev/null | grep -qw "$NS_S" &&
		ip netns exec "$NS_G" ip link show "$VG" >/dev/null 2>&1 &&
		ip netns exec "$NS_S" ip link show "$VS" >/dev/null 2>&1
}

lab_up() {
	lab_names "${1:-${LAB:-}}"
	if lab_is_up; then
		return 0
	fi
	lab_down "$LAB"
	lab_names "$LAB"
	mkdir -p "$BPFFS" || return 1
	mountpoint -q "$BPFFS" || mount -t bpf bpf "$BPFFS" || return 1
	ip netns add "$NS_C" && ip netns add "$NS_G" && ip netns add "$NS_S" || return 1
	ip link add "$VC" netns "$NS_C" type veth peer name "$VG" netns "$NS_G" || return 1
	ip link add "$VGS" netns "$NS_G" type veth peer name "$VS" netns "$NS_S" || return 1
	for ns in "$NS_C" "$NS_G" "$NS_S"; do
		ip -n "$ns" link set lo up
	done
	# clients
	for i in 1 2 3 4 5; do
		ip -n "$NS_C" addr add "198.18.$i.10/24" dev "$VC"
		ip -n "$NS_C" -6 addr add "2001:db8:$i::10/64" dev "$VC" nodad
	done
	ip -n "$NS_C" link set "$VC" up
	ip -n "$NS_C" route add 198.18.0.1/32 dev "$VC"
	ip -n "$NS_C" route add 192.0.2.0/24 via 198.18.0.1 dev "$VC"
	ip -n "$NS_C" -6 route add 2001:db8::1/128 dev "$VC"
	ip -n "$NS_C" -6 route add 2001:db8:ff::/64 via 2001:db8::1 dev "$VC"
	# gateway: forwards between the two sides
	ip -n "$NS_G" addr add 198.18.0.1/15 dev "$VG"
	ip -n "$NS_G" -6 addr add 2001:db8::1/128 dev "$VG" nodad
	ip -n "$NS_G" addr add 192.0.2.254/24 dev "$VGS"
	ip -n "$NS_G" -6 addr add 2001:db8:ff::fe/64 dev "$VGS" nodad
	ip -n "$NS_G" link set "$VG" up
	ip -n "$NS_G" link set "$VGS" up
	ip -n "$NS_G" -6 route add 2001:db8::/40 dev "$VG"
	ip netns exec "$NS_G" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	# server
	ip -n "$NS_S" addr add 192.0.2.1/24 dev "$VS"
	ip -n "$NS_S" -6 addr add 2001:db8:ff::1/64 dev "$VS" nodad
	ip -n "$NS_S" link set "$VS" up
	ip -n "$NS_S" route add 198.18.0.0/15 via 192.0.2.254
	ip -n "$NS_S" -6 route add 2001:db8::/40 via 2001:db8:ff::fe
	# a veth peer receiving XDP-transmitted frames needs GRO on
	ip netns exec "$NS_C" ethtool -K "$VC" gro on >/dev/null 2>&1
	ip netns exec "$NS_G" ethtool -K "$VG" gro on >/dev/null 2>&1
	for _ in $(seq 50); do
		ip netns exec "$NS_C" ping -c1 -W1 -I 198.18.1.10 192.0.2.1 >/dev/null 2>&1 &&
			ip netns exec "$NS_C" ping -6 -c1 -W1 -I 2001:db8:1::10 2001:db8:ff::1 >/dev/null 2>&1 &&
			return 0
		sleep 0.1
	done
	echo "lab $LAB: no connectivity from the clients to the server" >&2
	return 1
}

lab_down() {
	lab_names "${1:-${LAB:-}}"
	local pids="" p alive
	for ns in "$NS_S" "$NS_G" "$NS_C"; do
		pids+=" $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
	done
	# SIGTERM, and a few seconds to exit: a daemon removes its control
	# socket and lock in /run/xdpfence on the way out, and its pins must
	# not be unmounted under it
	[ -n "${pids// /}" ] && { kill $pids 2>/dev/null || true; }
	for _ in $(seq 50); do
		alive=0
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for ns in "$NS_S" "$NS_G" "$NS_C"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if mountpoint -q "$BPFFS" 2>/dev/null; then
		umount "$BPFFS" || true
	fi
	rm -rf "$LAB_DIR"
	rmdir /run/xdpfence-lab 2>/dev/null || true	# the last lab out takes the parent
	return 0
}

# --- a fleet lab: three NATS nodes and three gateways (tests, benchmarks) ---
#
#   NAME-net  a bridge (no address) joining, on 192.0.2.0/24:
#   NAME-n1..n3  one nats-server each, on 192.0.2.11..13 (lab_fleet_nats)
#   NAME-ga..gc  the gateways, on 192.0.2.21..23 (their link NAME-M1..M3:
#             down = that gateway cut off from NATS); each also faces
#   NAME-cl   the clients: a link to each gateway (198.19.K.2 <-> 198.19.K.1
#             on NAME-cK <-> NAME-dK, where xdpfence attaches), sources
#             198.18.1..9.10 on its loopback, routed to any gateway
#   a private bpffs at /run/xdpfence-lab/NAME/bpf (pin dirs bpf/a, b, c).
lab_fleet_names() {
	lab_names "$1"
	FLEET_GWS="a b c"
}

lab_fleet_up() {
	local g k i
	lab_fleet_names "$1"
	lab_fleet_down "$LAB"
	lab_fleet_names "$1"
	mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS" || return 1
	ip netns add "$LAB-net" && ip netns add "$LAB-cl" || return 1
	ip -n "$LAB-net" link add br0 type bridge && ip -n "$LAB-net" link set br0 up || return 1
	for i in 1 2 3; do
		ip netns add "$LAB-n$i" && lab_fleet_join "$LAB-n$i" "$LAB-m$i" "192.0.2.1$i" || return 1
	done
	ip -n "$LAB-cl" link set lo up
	for i in 1 2 3 4 5 6 7 8 9; do
		ip -n "$LAB-cl" addr add "198.18.$i.10/32" dev lo
	done
	k=0
	for g in $FLEET_GWS; do
		k=$((k + 1))
		ip netns add "$LAB-g$g" && lab_fleet_join "$LAB-g$g" "$LAB-M$k" "192.0.2.2$k" || return 1
		ip link add "$LAB-c$k" netns "$LAB-cl" type veth peer name "$LAB-d$k" netns "$LAB-g$g" ||
			return 1
		ip -n "$LAB-cl" addr add "198.19.$k.2/24" dev "$LAB-c$k"
		ip -n "$LAB-cl" link set "$LAB-c$k" up
		ip -n "$LAB-g$g" addr add "198.19.$k.1/24" dev "$LAB-d$k"
		ip -n "$LAB-g$g" link set "$LAB-d$k" up
		ip -n "$LAB-g$g" route add 198.18.0.0/16 via "198.19.$k.2"
		ip netns exec "$LAB-g$g" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0
	done
	ip netns exec "$LAB-cl" sysctl -qw net.ipv4.conf.all.rp_filter=0
	for k in 1 2 3; do
		for _ in $(seq 25); do
			ip netns exec "$LAB-cl" ping -c1 -W1 -I 198.18.1.10 "198.19.$k.1" >/dev/null 2>&1 &&
				break
			sleep 0.2
		done || return 1
	done
}

# NS IF ADDR: a port of the lab's bridge, ADDR/24 on IF in NS
lab_fleet_join() {
	ip link add "$2" netns "$1" type veth peer name "$2p" netns "$LAB-net" || return 1
	ip -n "$LAB-net" link set "$2p" master br0 up
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" up
	ip -n "$1" link set lo up
}

# NAME I DIR: start NATS node I (JetStream, cluster of three) with its
# store and log under DIR; its pid in LAB_PID. Stop it with kill.
lab_fleet_nats() {
	local i=$2 dir=$3
	lab_fleet_names "$1"
	mkdir -p "$dir/n$i"
	cat >"$dir/n$i.conf" <<EOT
server_name: n$i
listen: 192.0.2.1$i:4222
http: 192.0.2.1$i:8222
jetstream { store_dir: "$dir/n$i", max_memory_store: 256MB, max_file_store: 4GB }
cluster {
  name: xflab
  listen: 192.0.2.1$i:6222
  routes: [nats-route://192.0.2.11:6222, nats-route://192.0.2.12:6222, nats-route://192.0.2.13:6222]
}
EOT
	ip netns exec "$LAB-n$i" nats-server -c "$dir/n$i.conf" >>"$dir/n$i.log" 2>&1 &
	LAB_PID=$!
}

lab_fleet_down() {
	local ns
	lab_fleet_names "$1"
	for ns in "$LAB-cl" "$LAB-ga" "$LAB-gb" "$LAB-gc" "$LAB-n1" "$LAB-n2" "$LAB-n3" "$LAB-net"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	lab_down "$LAB"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	up)
		lab_up "${2:-xflab}" && echo "lab ${2:-xflab} up: ip netns exec $NS_G ..., pins under $PIN (export LIBXDP_BPFFS=$BPFFS)"
		;;
	down)
		lab_down "${2:-xflab}" && echo "lab ${2:-xflab} down"
		;;
	fleet-up)
		lab_fleet_up "${2:-xflab}" && echo "fleet lab ${2:-xflab} up: NATS nodes in $LAB-n1..3 (lab_fleet_nats), gateways in $LAB-ga..gc, clients in $LAB-cl"
		;;
	fleet-down)
		lab_fleet_down "${2:-xflab}" && echo "fleet lab ${2:-xflab} down"
		;;
	env)
		lab_names "${2:-xflab}"
		echo "NS_C=$NS_C NS_G=$NS_G NS_S=$NS_S VC=$VC VG=$VG VGS=$VGS VS=$VS PIN=$PIN LIBXDP_BPFFS=$BPFFS"
		;;
	*)
		echo "usage: scripts/lab.sh up|down|env|fleet-up|fleet-down [NAME]" >&2
		exit 2
		;;
	esac
fi
