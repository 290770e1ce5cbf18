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
	# libFuzzer runtime for clang
	libclang-rt-14-dev
	# lab, integration tests, comparisons
	iproute2 iputils-ping ethtool xdp-tools nftables ipset iptables hping3 curl procps python3
	# intel exchange: SHA-1 for STIX ids (gnutls), a CrowdSec LAPI and a
	# certificate for the TAXII tests
	libgnutls28-dev openssl crowdsec
)
# crowdsec: offline. A non-empty online_api_credentials.yaml written before
# the package installs makes its postinst skip registering with the central
# API, which the test machines cannot reach (README.Debian); the tests run
# their own LAPI (`crowdsec -c CONFIG -no-cs`) with no online_client.
crowdsec_offline() {
	local f=/etc/crowdsec/online_api_credentials.yaml
	[ -s "$f" ] && return 0
	mkdir -p /etc/crowdsec
	printf '# xdpfence: no central API (offline); see scripts/install-deps.sh\n' >"$f"
}
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#pkgs[@]} packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
case " ${missing[*]} " in *" crowdsec "*) crowdsec_offline ;; esac
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
