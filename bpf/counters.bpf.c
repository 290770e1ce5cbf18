// SPDX-License-Identifier: GPL-2.0
/* bpf/counters.bpf.c - the behaviour engine's reader of the per-prefix
 * counters, run by the controller with BPF_PROG_TEST_RUN, never attached.
 *
 * counters_walk reads every prefix (below); counters_sum reads only those
 * the controller lists (the ones the data path logged in active_log since
 * the last read), every CPU's counters of each with
 * bpf_map_lookup_percpu_elem, summed, so a tick where a tenth of the
 * prefixes saw traffic reads a tenth of them.
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

/* Region of CPU c: elements [c * per_cpu_v4, (c + 1) * per_cpu_v4) of
 * out_v4, and of hosts_v4 for the records with hosts. */
#define WALK_OUT(name, val_type)			\
struct {						\
	__uint(type, BPF_MAP_TYPE_ARRAY);		\
	__type(key, __u32);				\
	__type(value, val_type);			\
	__uint(max_entries, 1);				\
	__uint(map_flags, BPF_F_MMAPABLE);		\
} name SEC(".maps")

WALK_OUT(out_v4, struct fence_walk_rec);
WALK_OUT(out_v6, struct fence_walk_rec);
WALK_OUT(hosts_v4, struct fence_walk_hosts);
WALK_OUT(hosts_v6, struct fence_walk_hosts);

const volatile __u32 per_cpu_v4 = 1;	/* region sizes: the prefix maps' max_entries */
const volatile __u32 per_cpu_v6 = 1;

__u64 gen;				/* set by the controller before each walk */
__u32 hosts_from;			/* set likewise: the oldest host epoch whose sets
					 * are still of use (the one before the read's) */
__u64 ran[FENCE_WALK_CPUS_MAX];		/* gen, once the walk on CPU c is done */
__u32 n_v4[FENCE_WALK_CPUS_MAX];	/* records written per CPU */
__u32 n_v6[FENCE_WALK_CPUS_MAX];
__u8 cut[FENCE_WALK_CPUS_MAX];		/* 1: a region filled up, the walk stopped short */

struct walk {
	__u32 base, n, lim;
	__u8 family, cut;
};

/* The counters of val into r, and its host sets into *h when they are of
 * use (looked up only then). */
static __always_inline void rec_put(struct fence_walk_rec *r, void *hostsmap, __u32 i,
				    const struct fence_counters *val)
{
	__u32 e = val->host_epoch;
	struct fence_walk_hosts *h;

	r->packets = val->packets;
	r->bytes = val->bytes;
	r->new_conns = val->new_conns;
	r->drops = val->drops;
	r->last_seen_ns = val->last_seen_ns;
	r->hosts = 0;
	r->host_epoch = 0;
	if (e < hosts_from)
		return;
	h = bpf_map_lookup_elem(hostsmap, &i);
	if (!h)
		return;
	__builtin_memcpy(h->hosts, val->hosts, sizeof(h->hosts));
	r->hosts = 1;
	r->host_epoch = e;
}

static __always_inline long put(void *outmap, void *hostsmap, struct walk *w, const void *key,
				__u32 ksz, const struct fence_counters *val)
{
	__u32 i = w->base + w->n;
	struct fence_walk_rec *r;

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
	rec_put(r, hostsmap, i, val);
	w->n++;
	return 0;
}

static long cb_v4(struct bpf_map *map, struct fence_pfx_v4 *key, struct fence_counters *val,
		  struct walk *w)
{
	return put(&out_v4, &hosts_v4, w, key, sizeof(*key), val);
}

static long cb_v6(struct bpf_map *map, struct fence_pfx_v6 *key, struct fence_counters *val,
		  struct walk *w)
{
	return put(&out_v6, &hosts_v6, w, key, sizeof(*key), val);
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

/* The prefixes to sum (the controller's list, one record each) and their
 * sums, at the same index; sized by the controller. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_active_rec);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
} sum_in SEC(".maps");

WALK_OUT(sum_out, struct fence_walk_rec);
WALK_OUT(sum_hosts, struct fence_walk_hosts);

const volatile __u32 n_cpus = 1;	/* possible CPUs: the per-CPU values to add */

struct fence_sum_arg sum_arg[FENCE_WALK_CPUS_MAX];
__u64 sum_ran[FENCE_WALK_CPUS_MAX];	/* gen, once this CPU's share is done */

/* v's hosts into the sum (*se, s), as user/core/counters.c joins them:
 * both as of the later host epoch; a CPU one epoch behind gives its
 * current hosts as the sum's previous; older ones are too old to count. */
static __always_inline void sum_hosts_add(__u32 *se, struct fence_walk_hosts *s,
					  const struct fence_counters *v)
{
	int i;

	if (v->host_epoch > *se) {
		__u8 shift = v->host_epoch == *se + 1;

#pragma unroll
		for (i = 0; i < 4; i++) {
			s->hosts[1][i] = shift ? s->hosts[0][i] : 0;
			s->hosts[0][i] = 0;
		}
		*se = v->host_epoch;
	}
	if (v->host_epoch == *se) {
#pragma unroll
		for (i = 0; i < 4; i++) {
			s->hosts[0][i] |= v->hosts[0][i];
			s->hosts[1][i] |= v->hosts[1][i];
		}
	} else if (v->host_epoch + 1 == *se) {
#pragma unroll
		for (i = 0; i < 4; i++)
			s->hosts[1][i] |= v->hosts[0][i];
	}
}

static long sum_one(__u64 i, __u32 *start)
{
	__u32 idx = *start + (__u32)i;
	struct fence_active_rec *in = bpf_map_lookup_elem(&sum_in, &idx);
	struct fence_walk_rec *out = bpf_map_lookup_elem(&sum_out, &idx);
	struct fence_walk_hosts *h = bpf_map_lookup_elem(&sum_hosts, &idx);
	__u32 c, found = 0, se = 0;

	if (!in || !out || !h)
		return 1;
	__builtin_memset(out, 0, sizeof(*out));
	for (c = 0; c < FENCE_WALK_CPUS_MAX && c < n_cpus; c++) {
		struct fence_counters *v;

		if (in->family == 4)
			v = bpf_map_lookup_percpu_elem(&prefix_v4, in->addr, c);
		else
			v = bpf_map_lookup_percpu_elem(&prefix_v6, in->addr, c);
		if (!v)
			continue;
		out->packets += v->packets;
		out->bytes += v->bytes;
		out->new_conns += v->new_conns;
		out->drops += v->drops;
		if (v->last_seen_ns > out->last_seen_ns)
			out->last_seen_ns = v->last_seen_ns;
		if (v->host_epoch >= hosts_from) {
			if (!out->hosts) {
				__builtin_memset(h, 0, sizeof(*h));
				se = v->host_epoch;
				out->hosts = 1;
			}
			sum_hosts_add(&se, h, v);
		}
		found = 1;
	}
	if (found) {
		__builtin_memcpy(out->addr, in->addr, sizeof(out->addr));
		out->host_epoch = se;
		out->family = in->family;	/* 0: gone since it was logged */
	}
	return 0;
}

SEC("xdp")
int counters_sum(struct xdp_md *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id(), start;

	if (cpu >= FENCE_WALK_CPUS_MAX)
		return XDP_ABORTED;
	start = sum_arg[cpu].start;
	bpf_loop(sum_arg[cpu].n, sum_one, &start, 0);
	sum_ran[cpu] = gen;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
