# SPDX-License-Identifier: GPL-2.0
# tests/integration/lib.sh - sourced by the netns integration tests.
#
# A lab from scripts/lab.sh named after the PID, check helpers that count
# passes and failures, and the EXIT trap that removes the lab.

set -u
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
XF=$BUILD/xdpfence
TMP=$(mktemp -d /tmp/xdpfence-it.XXXXXX)
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lab.sh"
lab_names "xf$$"

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

cleanup() {
	lab_down "$LAB"
	if [ "${XF_KEEP_TMP:-0}" = 1 ] && [ "$n_fail" != 0 ]; then
		echo "kept $TMP (XF_KEEP_TMP=1)" >&2	# for diagnosis: the daemons' logs
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

C() { ip netns exec "$NS_C" "$@"; }
G() { ip netns exec "$NS_G" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }
xf() { G "$XF" --pin-dir "$PIN" "$@"; }

# reach SRC: can the client, sourcing from SRC, get an answer from the server?
reach() {
	if [[ $1 == *:* ]]; then
		C ping -6 -c2 -i0.2 -W1 -I "$1" 2001:db8:ff::1
	else
		C ping -c2 -i0.2 -W1 -I "$1" 192.0.2.1
	fi
}
