/* SPDX-License-Identifier: GPL-2.0 */
/* bpf/lookup.h - source address -> rule slot, for IPv4 and IPv6.
 *
 * IPv4: one tbl24 leaf, maybe one tbl8 leaf, maybe a /32 probe of host_v4
 * (and of deny_v4 when that finds nothing).
 * IPv6: a binary search on the lengths present in tbl6 (tbl6.h), unless
 * this CPU searched the same source under the same table just before.
 * Returns a slot (0 = no entry). Verdicts are not decided here.
 */
#ifndef XDPFENCE_BPF_LOOKUP_H
#define XDPFENCE_BPF_LOOKUP_H

#include "maps.h"
#include "tbl6.h"

static __always_inline struct fence_rule *rule_at(__u32 slot)
{
	if (!slot)
		return NULL;
	return bpf_map_lookup_elem(&rules, &slot);
}

/* The slot of the /32 deny saddr, if its bucket of host_v4 holds it; 0
 * when it does not (deny_v4 may still: maps/keys.h). Each cell is read
 * whole, so its address and slot are of one moment. */
static __always_inline __u32 host_v4_slot(__be32 saddr)
{
	struct fence_host_bucket *b;
	__u32 i = 0, n;
	int j;

	b = bpf_map_lookup_elem(&host_v4, &i);
	if (!b)
		return 0;
	n = (__u32)b->cell[0];
	if (!n)
		return 0;
	i = fence_host_index(saddr, n);
	b = bpf_map_lookup_elem(&host_v4, &i);
	if (!b)
		return 0;
#pragma unroll
	for (j = 0; j < FENCE_HOST_CELLS; j++) {
		__u64 c = *(volatile __u64 *)&b->cell[j];

		if ((__u32)c == saddr && c >> 32)
			return c >> 32;
	}
	return 0;
}

/* The entry for saddr. A /32 deny found in host_v4 or deny_v4 is returned, and what
 * the table holds beneath it goes to *under (0 otherwise): that is what
 * applies once the /32 has expired (a /32 has no parent of its own). */
static __always_inline __u32 lookup_v4(__be32 saddr, __u32 *under)
{
	__u32 host = bpf_ntohl(saddr);
	__u32 idx = host >> 12, leaf, slot, found;
	struct fence_tbl24_line *line;
	struct fence_tbl8_group *grp;
	struct fence_v4_key key;
	struct fence_slot *s;
	struct fence_rule *r;

	*under = 0;
	line = bpf_map_lookup_elem(&tbl24, &idx);
	if (!line)
		return 0;
	leaf = line->leaf[(host >> 8) & (FENCE_TBL24_LINE - 1)];
	slot = leaf & FENCE_LEAF_IDX;
	if (leaf & FENCE_LEAF_EXT) {
		grp = bpf_map_lookup_elem(&tbl8, &slot);
		slot = grp ? grp->leaf[host & (FENCE_TBL8_GROUP - 1)] & FENCE_LEAF_IDX : 0;
	}
	if (!(leaf & FENCE_LEAF_HOST))
		return slot;

	/* An allow painted in the table beats any /32 deny; a /32 deny is
	 * the longest deny there is, so it beats what the table found. */
	r = rule_at(slot);
	if (r && r->kind == FENCE_KIND_ALLOW)
		return slot;
	found = host_v4_slot(saddr);
	if (!found) {
		key.prefixlen = 32;
		key.addr = saddr;
		s = bpf_map_lookup_elem(&deny_v4, &key);
		if (!s)
			return slot;
		found = s->slot;
	}
	*under = slot;
	return found;
}

/* A global function: the verifier checks the search (its loops of probes)
 * once, on its own, not again for each path of its callers that reaches it
 * (which made the program take ~0.7 s to load). */
__noinline int fence_v6_slot(__u64 a_hi, __u64 a_lo)
{
	return tbl6_find(&tbl6, &tbl6_meta, &v6_cache, a_hi, a_lo);
}

static __always_inline __u32 lookup_v6(const __u8 *saddr)
{
	__u64 a_hi, a_lo;

	__builtin_memcpy(&a_hi, saddr, 8);
	__builtin_memcpy(&a_lo, saddr + 8, 8);
	return (__u32)fence_v6_slot(bpf_be64_to_cpu(a_hi), bpf_be64_to_cpu(a_lo));
}

#endif
