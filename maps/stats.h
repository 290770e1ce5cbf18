/* maps/stats.h - the reasons every packet is counted under, shared by bpf/ and user/.
 *
 * Each packet is counted under exactly one reason in the `stats` map, so the
 * sum over reasons is the number of packets seen. This enum is ABI for the
 * pinned `stats` map: only append; retire a value as FENCE_STAT_UNUSED_n and
 * never renumber (cilium does the same with drop reasons).
 */
#ifndef XDPFENCE_MAPS_STATS_H
#define XDPFENCE_MAPS_STATS_H

enum fence_stat {
	FENCE_STAT_PASS = 0,		/* no rule matched: passed */
	FENCE_STAT_ALLOW,		/* source in the allowlist: passed, even if also denied */
	FENCE_STAT_DROP_FEED,		/* dropped: deny entry owned by a threat feed only */
	FENCE_STAT_DROP_MANUAL,		/* dropped: deny entry added by an operator */
	FENCE_STAT_DROP_PROMOTED,	/* dropped: deny entry promoted by the behaviour engine */
	FENCE_STAT_DROP_THROTTLE,	/* dropped: new connection over a throttled prefix's rate */
	FENCE_STAT_MONITOR,		/* would have been dropped, passed (action monitor) */
	FENCE_STAT_THROTTLE_PASS,	/* throttled prefix, not a new connection or within rate */
	FENCE_STAT_EXPIRED_PASS,	/* matched only expired deny entries: passed */
	FENCE_STAT_NON_IP,		/* not IPv4/IPv6 (ARP, LLDP, ...): passed */
	FENCE_STAT_ERR_ETH,		/* truncated Ethernet header */
	FENCE_STAT_ERR_VLAN,		/* truncated VLAN tag, or more than two tags */
	FENCE_STAT_ERR_IPV4,		/* truncated IPv4 header, IHL < 5, options past the end */
	FENCE_STAT_ERR_IPV6,		/* truncated IPv6 fixed header */
	FENCE_STAT_ERR_IPV6_EXT,	/* truncated extension header, or more than FENCE_V6_EXT_MAX */
	FENCE_STAT_ERR_L4,		/* truncated TCP/UDP header (source known, not denied) */
	FENCE_STAT_MAX			/* array size; keep last */
};

/* Value of the per-CPU `stats` array. */
struct fence_stat_val {
	__u64 packets;
	__u64 bytes;			/* frame length as XDP sees it (from the MAC header) */
};
_Static_assert(sizeof(struct fence_stat_val) == 16, "fence_stat_val ABI");

#endif
