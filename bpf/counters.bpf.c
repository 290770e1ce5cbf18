// SPDX-License-Identifier: GPL-2.0
/* bpf/counters.bpf.c - the behaviour engine's reader of the per-prefix
 * counters, run by the controller with BPF_PROG_TEST_RUN, never attached.
 *
 * A batch lookup of a per-CPU LRU hash takes each bucket's lock, dear on a
 * paravirtualised guest. This program walks the maps with
 * bpf_for_each_map_elem instead, which takes no bucket locks, and copies
 * each prefix with the counters of the CPU it runs on into that CPU's
 * region of an mmap-able array. The controller runs it once on every CPU at
 * the same time and adds the regions up (user/core/counters.c). prefix_v4 and
 * prefix_v6 are the pinned maps of the filter (reused by fd before load).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../maps/keys.h"
#include "map_defs.h"

struct bpf_map;

/* The filter's maps, not pinned here: the controller hands their fds in. */
struct {
	MAP_DEF_PREFIX_V4(FENCE_PREFIX_MAX);
} prefix_v4 SEC(".maps");

struct {
	MAP_DEF_PREFIX_V6(FENCE_PREFIX_MAX);
} prefix_v6 SEC(".maps");

/* Region of CPU c: elements [c * per_cpu_v4, (c + 1) * per_cpu_v4). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_pfx_rec);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
} out_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_pfx_rec);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
} out_v6 SEC(".maps");

const volatile __u32 per_cpu_v4 = 1;	/* region sizes: the prefix maps' max_entries */
const volatile __u32 per_cpu_v6 = 1;

__u64 gen;				/* set by the controller before each walk */
__u64 ran[FENCE_WALK_CPUS_MAX];		/* gen, once the walk on CPU c is done */
__u32 n_v4[FENCE_WALK_CPUS_MAX];	/* records written per CPU */
__u32 n_v6[FENCE_WALK_CPUS_MAX];
__u8 cut[FENCE_WALK_CPUS_MAX];		/* 1: a region filled up, the walk stopped short */

struct walk {
	__u32 base, n, lim;
	__u8 family, cut;
};

static __always_inline long put(void *outmap, struct walk *w, const void *key, __u32 ksz,
				const struct fence_counters *val)
{
	__u32 i = w->base + w->n;
	struct fence_pfx_rec *r;

	if (w->n >= w->lim) {
		w->cut = 1;
		return 1;
	}
	r = bpf_map_lookup_elem(outmap, &i);
	if (!r) {
		w->cut = 1;
		return 1;
	}
	r->family = w->family;
	__builtin_memset(r->addr, 0, sizeof(r->addr));
	__builtin_memcpy(r->addr, key, ksz);
	r->c = *val;
	w->n++;
	return 0;
}

static long cb_v4(struct bpf_map *map, struct fence_pfx_v4 *key, struct fence_counters *val,
		  struct walk *w)
{
	return put(&out_v4, w, key, sizeof(*key), val);
}

static long cb_v6(struct bpf_map *map, struct fence_pfx_v6 *key, struct fence_counters *val,
		  struct walk *w)
{
	return put(&out_v6, w, key, sizeof(*key), val);
}

SEC("xdp")
int counters_walk(struct xdp_md *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct walk w = { .family = 4 };

	if (cpu >= FENCE_WALK_CPUS_MAX)
		return XDP_ABORTED;
	w.base = cpu * per_cpu_v4;
	w.lim = per_cpu_v4;
	bpf_for_each_map_elem(&prefix_v4, cb_v4, &w, 0);
	n_v4[cpu] = w.n;
	w.family = 6;
	w.base = cpu * per_cpu_v6;
	w.lim = per_cpu_v6;
	w.n = 0;
	bpf_for_each_map_elem(&prefix_v6, cb_v6, &w, 0);
	n_v6[cpu] = w.n;
	cut[cpu] = w.cut;
	ran[cpu] = gen;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
