/* SPDX-License-Identifier: GPL-2.0 */
/* maps/stats.h - the reasons every packet is counted under, shared by bpf/ and user/.
 *
 * Each packet is counted under exactly one reason in the `stats` map, so the
 * sum over reasons is the number of packets seen. The values are ABI for the
 * pinned `stats` map and the names are what operators' dashboards match on:
 * only append to FENCE_STATS; retire a value as X(UNUSED_n, unused_n) and
 * never renumber (cilium does the same with drop reasons).
 */
#ifndef XDPFENCE_MAPS_STATS_H
#define XDPFENCE_MAPS_STATS_H

/* X(ID, name): FENCE_STAT_ID, and `name` is what `xdpfence stats` and
 * the metrics print for it. */
#define FENCE_STATS(X)											\
	X(PASS, pass)			/* no rule matched: passed */					\
	X(ALLOW, allow)			/* source in the allowlist: passed, even if also denied */	\
	X(DROP_FEED, drop_feed)		/* dropped: deny entry owned by a threat feed only */		\
	X(DROP_MANUAL, drop_manual)	/* dropped: deny entry added by an operator */			\
	X(DROP_PROMOTED, drop_promoted)	/* dropped: deny entry promoted by the behaviour engine */	\
	X(DROP_THROTTLE, drop_throttle)	/* dropped: new connection over a throttled prefix's rate */	\
	X(MONITOR, monitor)		/* would have been dropped, passed (action monitor) */		\
	X(THROTTLE_PASS, throttle_pass)	/* throttled prefix, not a new connection or within rate */	\
	X(EXPIRED_PASS, expired_pass)	/* matched only expired deny entries: passed */			\
	X(NON_IP, non_ip)		/* not IPv4/IPv6 (ARP, LLDP, ...): passed */			\
	X(ERR_ETH, err_eth)		/* truncated Ethernet header */					\
	X(ERR_VLAN, err_vlan)		/* truncated VLAN tag, or more than two tags */			\
	X(ERR_IPV4, err_ipv4)		/* truncated IPv4 header, IHL < 5, options past the end */	\
	X(ERR_IPV6, err_ipv6)		/* truncated IPv6 fixed header */				\
	X(ERR_IPV6_EXT, err_ipv6_ext)	/* truncated extension header, or more than FENCE_V6_EXT_MAX */	\
	X(ERR_L4, err_l4)		/* truncated TCP/UDP header (source known, not denied) */

enum fence_stat {
#define X(id, name) FENCE_STAT_##id,
	FENCE_STATS(X)
#undef X
	FENCE_STAT_MAX			/* array size; keep last */
};
_Static_assert(FENCE_STAT_ERR_L4 == 15, "fence_stat ABI: append only");

/* Value of the per-CPU `stats` array. */
struct fence_stat_val {
	__u64 packets;
	__u64 bytes;			/* frame length as XDP sees it (from the MAC header) */
};
_Static_assert(sizeof(struct fence_stat_val) == 16, "fence_stat_val ABI");

#endif
