// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bpf/bench_lpm.bpf.c - yardsticks for `make bench`, never attached by xdpfence.
 *
 * xdp_drop_all: the ceiling (a program that drops without looking).
 * xdp_count_drop: the live-traffic ceiling (counts in lpm_stats[1], drops).
 * xdp_lpm: the plain approach xdpfence's table replaces: same Ethernet/VLAN/
 * IPv4 parse, one BPF LPM trie lookup of the source, drop on a hit.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct fence_v4_key);
	__type(value, __u32);
	__uint(max_entries, 1 << 21);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lpm_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} lpm_stats SEC(".maps");

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

/* The ceiling for live traffic: count, drop, look at nothing else. */
SEC("xdp")
int xdp_count_drop(struct xdp_md *ctx)
{
	__u32 idx = 1;
	__u64 *cnt = bpf_map_lookup_elem(&lpm_stats, &idx);

	if (cnt)
		(*cnt)++;
	return XDP_DROP;
}

SEC("xdp")
int xdp_lpm(struct xdp_md *ctx)
{
	struct cursor c = { (void *)(long)ctx->data, (void *)(long)ctx->data_end };
	struct pkt_info pi = {};
	struct fence_v4_key key;
	__u32 verdict = XDP_PASS, idx;
	__u64 *cnt;
	int l4;

	if (parse_eth(&c) != ETH_P_IP || parse_ipv4(&c, &pi, &l4) < 0)
		return XDP_PASS;
	key.prefixlen = 32;
	key.addr = pi.saddr4;
	if (bpf_map_lookup_elem(&lpm_v4, &key))
		verdict = XDP_DROP;
	idx = verdict == XDP_DROP;
	cnt = bpf_map_lookup_elem(&lpm_stats, &idx);
	if (cnt)
		(*cnt)++;
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
