#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/install-deps.sh - install every Debian 12 package xdpfence needs to
# build, test, benchmark and run its demo. Idempotent; needs root.
set -eu
pkgs=(
	# build
	make gcc clang llvm libc6-dev linux-libc-dev gcc-multilib pkg-config bc
	libbpf-dev libxdp-dev libelf-dev zlib1g-dev bpftool
	libjson-c-dev libcurl4-openssl-dev libinih-dev libmicrohttpd-dev libsystemd-dev
	# fleet: the NATS client library (JetStream KV) and, for tests, the server
	libnats-dev nats-server
	# libFuzzer runtime for clang
	libclang-rt-14-dev
	# lab, integration tests, comparisons
	iproute2 iputils-ping ethtool xdp-tools nftables ipset iptables hping3 curl procps python3
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#pkgs[@]} packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
