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

/* Is the key (len, hi, lo) in the table? *slot is its slot if so. At most
 * FENCE_V6_PROBES positions from its home; an empty one ends the probe. */
static __always_inline int tbl6_probe(void *tbl, __u32 mask, __u64 seed, __u32 len, __u64 hi,
				      __u64 lo, __u32 *slot)
{
	__u32 pos = fence_v6_hash(hi, lo, len, seed) & mask;
	int j;

	for (j = 0; j < FENCE_V6_PROBES; j++) {
		struct fence_v6_ent *e = bpf_map_lookup_elem(tbl, &pos);

		if (!e || e->state == FENCE_V6_EMPTY)
			return 0;
		if (e->state == FENCE_V6_LIVE && e->hi == hi && e->lo == lo && e->len == len) {
			*slot = e->slot;
			return 1;
		}
		pos = (pos + 1) & mask;
	}
	return 0;
}

/* The slot in force for saddr (network byte order), 0 for none. */
static __always_inline __u32 tbl6_lookup(void *tbl, void *meta_map, const __u8 *saddr)
{
	struct fence_v6_meta *mt;
	__u64 a_hi, a_lo, seed;
	__u32 zero = 0, best = 0, act, mask;
	int lo = 0, hi, i;

	mt = bpf_map_lookup_elem(meta_map, &zero);
	if (!mt)
		return 0;
	act = mt->active & 1;
	hi = (int)mt->n[act] - 1;
	mask = mt->mask;
	seed = mt->seed;
	__builtin_memcpy(&a_hi, saddr, 8);
	__builtin_memcpy(&a_lo, saddr + 8, 8);
	a_hi = bpf_be64_to_cpu(a_hi);
	a_lo = bpf_be64_to_cpu(a_lo);

	for (i = 0; i < FENCE_V6_SEARCH_STEPS; i++) {
		__u32 mid, len, slot;
		__u64 kh, kl;

		if (lo > hi)
			break;
		mid = (__u32)(lo + hi) >> 1;
		if (mid >= FENCE_V6_LENS_MAX)
			break;
		len = mt->lens[act][mid];
		if (len >= 64) {
			kh = a_hi;
			kl = len >= 128 ? a_lo : len == 64 ? 0 : a_lo & (~0ULL << (128 - len));
		} else {
			kh = len ? a_hi & (~0ULL << (64 - len)) : 0;
			kl = 0;
		}
		if (tbl6_probe(tbl, mask, seed, len, kh, kl, &slot)) {
			best = slot;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

#endif
