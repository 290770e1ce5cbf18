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
	# intel exchange: SHA-1 for STIX ids (gnutls), a CrowdSec LAPI and a
	# certificate for the TAXII tests
	libgnutls28-dev openssl crowdsec
	# make deb, man pages, completion (tests/integration/package.sh, tests/lint/manpages.sh)
	debhelper dpkg-dev fakeroot lintian scdoc man-db bash-completion systemd
)
# Servers the integration tests start themselves (tests/integration/
# prometheus.sh, fail2ban.sh): see install_servers below.
servers=(prometheus fail2ban)

absent() {	# the packages of "$@" not installed
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
	done
}

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

# Installed with their services kept from starting (policy-rc.d, as in a
# chroot), then disabled: a test box should not run a Prometheus open on
# :9090, or a fail2ban banning with iptables, that nobody asked for. Only
# servers this script installs are touched; ones already there stay as
# the operator has them.
install_servers() {
	local policy=/usr/sbin/policy-rc.d made=0 s
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# install-deps.sh: no service starts while it installs\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made=1
	fi
	apt-get install -y -qq --no-install-recommends "$@" || { [ $made = 0 ] || rm -f "$policy"; return 1; }
	[ $made = 0 ] || rm -f "$policy"
	for s in "$@"; do
		if [ -d /run/systemd/system ]; then
			systemctl disable --now "$s" >/dev/null 2>&1 || true
		else
			[ ! -x "/etc/init.d/$s" ] || "/etc/init.d/$s" stop >/dev/null 2>&1 || true
			update-rc.d "$s" disable >/dev/null 2>&1 || true
		fi
	done
}

mapfile -t missing < <(absent "${pkgs[@]}")
mapfile -t missing_servers < <(absent "${servers[@]}")
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_servers[@]} -eq 0 ]; then
	echo "install-deps: all $(( ${#pkgs[@]} + ${#servers[@]} )) packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]} ${missing_servers[*]}"
case " ${missing[*]} " in *" crowdsec "*) crowdsec_offline ;; esac
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ ${#missing_servers[@]} -eq 0 ] || install_servers "${missing_servers[@]}"
