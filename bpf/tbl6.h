/* SPDX-License-Identifier: GPL-2.0 */
/* bpf/tbl6.h - IPv6 source -> rule slot: binary search on the prefix lengths
 * present over the open-addressing table `tbl6` (maps/keys.h says how keys,
 * markers and slots work). Takes the maps as arguments, so the benchmark's
 * yardsticks can search a table of their own. Reads only.
 */
#ifndef XDPFENCE_BPF_TBL6_H
#define XDPFENCE_BPF_TBL6_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../maps/keys.h"

/* Is the key of node nd (its length, the address masked) in the table?
 * *slot is its slot if so. At most FENCE_V6_PROBES positions from its
 * home; an empty one ends the probe. */
static __always_inline int tbl6_probe(void *tbl, const struct fence_v6_meta *mt,
				      const struct fence_v6_node *nd, __u64 lo_mul, __u64 a_hi,
				      __u64 a_lo, __u32 *slot)
{
	__u64 hi = a_hi & nd->mask_hi, lo = a_lo & nd->mask_lo, mask = mt->mask;
	__u32 pos = fence_v6_home(hi, lo, nd->salt, lo_mul, mt->shift);
	__u8 len = nd->len;
	int j;

	for (j = 0; j < FENCE_V6_PROBES; j++) {
		struct fence_v6_ent *e = bpf_map_lookup_elem(tbl, &pos);

		if (!e || e->state == FENCE_V6_EMPTY)
			return 0;
		if (e->hi == hi && e->lo == lo && e->len == len && e->state == FENCE_V6_LIVE) {
			*slot = e->slot;
			return 1;
		}
		pos = (pos + 1) & mask;
	}
	return 0;
}

/* The slot in force for the source a_hi:a_lo (host byte order), 0 for
 * none. cache (NULL: none) is a per-CPU array of FENCE_V6_CACHE
 * fence_v6_cached: a source searched under the table's current generation
 * is answered from it. The generation is read before the search, so a
 * search that ran into a write is never trusted after that write. */
static __always_inline __u32 tbl6_find(void *tbl, void *meta_map, void *cache, __u64 a_hi,
				       __u64 a_lo)
{
	struct fence_v6_cached *ce = NULL;
	struct fence_v6_meta *mt;
	__u64 n, act, lo_mul;
	__u32 zero = 0, best = 0, gen, ci;
	int i;

	mt = bpf_map_lookup_elem(meta_map, &zero);
	if (!mt)
		return 0;
	gen = mt->gen;
	if (cache) {
		ci = ((a_hi ^ a_lo) * 0x9e3779b97f4a7c15ULL) >> 52;	/* FENCE_V6_CACHE */
		ce = bpf_map_lookup_elem(cache, &ci);
		if (ce && ce->gen == gen && ce->lo == a_lo && ce->hi == a_hi)
			return ce->slot;
	}
	act = mt->active & 1;
	n = mt->root[act];
	lo_mul = fence_v6_lo_mul(mt->keyed, mt->seed);

	for (i = 0; i < FENCE_V6_SEARCH_STEPS; i++) {
		struct fence_v6_node *nd;
		__u32 slot;

		if (n >= FENCE_V6_LENS_MAX)
			break;
		nd = &mt->node[act][n];
		if (tbl6_probe(tbl, mt, nd, lo_mul, a_hi, a_lo, &slot)) {
			best = slot;
			n = nd->hit;
		} else {
			n = nd->miss;
		}
	}
	if (ce) {
		ce->hi = a_hi;
		ce->lo = a_lo;
		ce->slot = best;
		ce->gen = gen;
	}
	return best;
}

/* The same for saddr in network byte order. */
static __always_inline __u32 tbl6_lookup(void *tbl, void *meta_map, void *cache, const __u8 *saddr)
{
	__u64 a_hi, a_lo;

	__builtin_memcpy(&a_hi, saddr, 8);
	__builtin_memcpy(&a_lo, saddr + 8, 8);
	return tbl6_find(tbl, meta_map, cache, bpf_be64_to_cpu(a_hi), bpf_be64_to_cpu(a_lo));
}

#endif
