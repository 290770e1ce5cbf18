// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bpf/bench_lpm.bpf.c - yardsticks for `make bench`, never attached by xdpfence.
 *
 * xdp_drop_all: the ceiling (a program that drops without looking).
 * xdp_count_drop: the live-traffic ceiling (counts in lpm_stats[1], drops).
 * xdp_lpm: the plain approach xdpfence's table replaces: same Ethernet/VLAN/
 * IPv4 parse, one BPF LPM trie lookup of the source, drop on a hit.
 * xdp_lpm6: the same for IPv6, over a BPF LPM trie (what xdpfence searched
 * until layout 3).
 * xdp_tbl6 / xdp_hash6: IPv6 by binary search on lengths over the same keys
 * and markers as xdpfence's tbl6, kept in an array probed by the program
 * (as xdpfence does) or in a BPF hash map: the alternatives side by side.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "parse.h"
#include "tbl6.h"

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

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct fence_v6_key);
	__type(value, __u32);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lpm_v6 SEC(".maps");

/* tbl6's layout, filled by the benchmark */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_v6_ent);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_MMAPABLE);
} arr6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_v6_meta);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
} meta6 SEC(".maps");

/* the same keys in a BPF hash map: {len, pad, hi, lo} -> slot */
struct hkey6 {
	__u32 len;
	__u32 pad;
	__u64 hi, lo;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct hkey6);
	__type(value, __u32);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} hash6 SEC(".maps");

static __always_inline int parse_src6(struct xdp_md *ctx, __u8 *saddr)
{
	struct cursor c = { (void *)(long)ctx->data, (void *)(long)ctx->data_end };
	struct pkt_info pi;
	__u8 nh;

	if (parse_eth(&c) != ETH_P_IPV6 || parse_ipv6(&c, &pi, &nh) < 0)
		return -1;
	__builtin_memcpy(saddr, pi.saddr6, 16);
	return 0;
}

static __always_inline int count_verdict(__u32 hit)
{
	__u32 idx = !!hit;
	__u64 *cnt = bpf_map_lookup_elem(&lpm_stats, &idx);

	if (cnt)
		(*cnt)++;
	return hit ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_lpm6(struct xdp_md *ctx)
{
	struct fence_v6_key key = { .prefixlen = 128 };

	if (parse_src6(ctx, key.addr) < 0)
		return XDP_PASS;
	return count_verdict(bpf_map_lookup_elem(&lpm_v6, &key) != NULL);
}

SEC("xdp")
int xdp_tbl6(struct xdp_md *ctx)
{
	__u8 saddr[16];

	if (parse_src6(ctx, saddr) < 0)
		return XDP_PASS;
	return count_verdict(tbl6_lookup(&arr6, &meta6, NULL, saddr));
}

SEC("xdp")
int xdp_hash6(struct xdp_md *ctx)
{
	struct fence_v6_meta *mt;
	__u64 a_hi, a_lo, act, n;
	__u32 zero = 0, best = 0;
	__u8 saddr[16];
	int i;

	if (parse_src6(ctx, saddr) < 0)
		return XDP_PASS;
	mt = bpf_map_lookup_elem(&meta6, &zero);
	if (!mt)
		return XDP_PASS;
	act = mt->active & 1;
	n = mt->root[act];
	__builtin_memcpy(&a_hi, saddr, 8);
	__builtin_memcpy(&a_lo, saddr + 8, 8);
	a_hi = bpf_be64_to_cpu(a_hi);
	a_lo = bpf_be64_to_cpu(a_lo);
	for (i = 0; i < FENCE_V6_SEARCH_STEPS; i++) {
		struct fence_v6_node *nd;
		struct hkey6 k = {};
		__u32 *v;

		if (n >= FENCE_V6_LENS_MAX)
			break;
		nd = &mt->node[act][n];
		k.len = nd->len;
		k.hi = a_hi & nd->mask_hi;
		k.lo = a_lo & nd->mask_lo;
		v = bpf_map_lookup_elem(&hash6, &k);
		if (v) {
			best = *v;
			n = nd->hit;
		} else {
			n = nd->miss;
		}
	}
	return count_verdict(best);
}

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
