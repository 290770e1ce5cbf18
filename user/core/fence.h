/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/fence.h - the controller's handle on the data path's maps.
 *
 * Owns opening the BPF object (skeleton) with load-time settings, finding the
 * maps either in a freshly loaded skeleton or under the pin dir, and mapping
 * the mmap-able arrays (tables, rule slots) into this process. It does not
 * attach programs (attach.c) and does not decide policy (table.c).
 */
#ifndef XDPFENCE_FENCE_H
#define XDPFENCE_FENCE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "core/lazymap.h"
#include "maps/keys.h"
#include "maps/stats.h"
#include "maps/names.h"

struct xdpfence;	/* the generated skeleton */

/* One id per pinned map, in the order of FENCE_MAPS (maps/names.h). */
enum fence_map_id {
#define X(id, name) FM_##id,
	FENCE_MAPS(X)
#undef X
	FM_COUNT
};

/* Pinned name of each map: fence_map_names[FM_STATS] is "stats". */
extern const char *const fence_map_names[FM_COUNT];

struct fence_opts {
	const char *pin_dir;		/* NULL: do not pin (tests, benchmarks) */
	__u32 max_rules;		/* 0 = FENCE_RULES_MAX */
	__u32 tbl8_groups;		/* 0 = FENCE_TBL8_GROUPS */
	__u32 prefix_entries;		/* 0 = FENCE_PREFIX_MAX; active_log holds twice as many */
	__u32 v6_rules;			/* 0 = FENCE_V6_RULES_MAX: deny_v6 entries, and tbl6
					 * positions (rounded up to a power of two) */
	__u8 v4_agg_len;		/* 0 = FENCE_V4_AGG_LEN_DEFAULT */
	__u8 v6_agg_len;		/* 0 = FENCE_V6_AGG_LEN_DEFAULT */
	bool malformed_drop;		/* verdict for frames we cannot judge */
	bool no_prefix_counters;
	bool no_host_counting;		/* benchmarks: distinct hosts off */
};

/* The mmap-able arrays, each a lazymap (core/lazymap.h). */
enum {
	FL_TBL24, FL_TBL8, FL_TBL8_STATE, FL_RULES, FL_INFO, FL_TBL6, FL_TBL6_META,
	FL_ACTIVE_META, FL_ACTIVE_LOG, FL_ENTRY_HITS, FL_COUNT
};

struct fence_maps {
	int fd[FM_COUNT];
	__u32 max_entries[FM_COUNT];
	int ncpus;			/* possible CPUs: per-CPU value stride */
	__u32 n_slots;			/* rules/rule_info entries */
	__u32 n_groups;			/* tbl8 groups */
	__u32 n_tbl6;			/* tbl6 positions (a power of two) */
	/* mmap-ed arrays, shared with the data path: mapped whole (these
	 * pointers), or, for a set opened lazily, NULL until fence_maps_full
	 * maps them; fence_*_at reach an element either way (tbl6 and
	 * active_log have no _at: fence_maps_full before using them) */
	__u32 *tbl24;
	__u32 *tbl8;
	struct fence_group_state *tbl8_state;
	struct fence_rule *rules;
	struct fence_rule_info *info;
	struct fence_v6_ent *tbl6;
	struct fence_active_rec *active_log;
	__u32 n_active_log;		/* active_log records (two halves) */
	bool full;			/* all of the above mapped (fence_maps_full) */
	/* one element each, always mapped */
	struct fence_v6_meta *tbl6_meta;
	struct fence_active_meta *active;	/* the engine's epoch (counters.c) */
	struct lazymap *lz;		/* [FL_COUNT] */
};

/* Open the skeleton and size its maps and settings from opts; when opts->pin_dir
 * already holds a pinned set, its sizes and settings win (so the maps are
 * reused, not replaced). Does not load. */
int fence_skel_open(struct xdpfence **skel, const struct fence_opts *opts);

/* After load: take the skeleton's map fds (dup-ed) and mmap the arrays, and
 * write the `meta` record. */
int fence_maps_from_skel(struct fence_maps *m, struct xdpfence *skel, const struct fence_opts *opts);

/* Open every map pinned under pin_dir. -ENOENT (with a hint printed by the
 * caller) when nothing is pinned there. The arrays are mapped whole (and
 * populated); _lazy maps them a window at a time as they are reached
 * (fence_*_at), or whole on fence_maps_full: for commands that change a
 * few entries of a big table. */
int fence_maps_from_pins(struct fence_maps *m, const char *pin_dir);
int fence_maps_from_pins_lazy(struct fence_maps *m, const char *pin_dir);

/* FM_* of a map by its pinned name; -1 for none. */
int fence_map_id(const char *name);

/* After another process replaced pinned maps with bigger ones (core/grow.c):
 * take the pinned ones, each under the descriptor number it had. 1 when
 * something changed, 0 when nothing did, -errno. */
int fence_maps_refresh(struct fence_maps *m, const char *pin_dir);

/* Drop every mapping of the set and map it lazily again, as a one-shot
 * command opens it (tests of the window-at-a-time paths). 0 or -errno. */
int fence_maps_lazy(struct fence_maps *m);

/* Map the arrays of a lazily opened set whole, for a scan. 0 or -errno. */
int fence_maps_full(struct fence_maps *m);
/* Only rules and rule_info whole (m->rules, m->info), for a walk of the
 * slots that reads no table: the rest stays as it was. */
int fence_maps_slots(struct fence_maps *m);

/* An element of an mmap-ed array, mapping it first if need be: NULL only
 * when that fails (out of memory). Stores through it reach the map. */
static inline struct fence_rule *fence_rule_at(const struct fence_maps *m, __u32 s)
{
	return m->rules ? &m->rules[s] :
	       (struct fence_rule *)lazymap_at(&m->lz[FL_RULES], (size_t)s * sizeof(*m->rules),
					      sizeof(*m->rules));
}

static inline struct fence_rule_info *fence_info_at(const struct fence_maps *m, __u32 s)
{
	return m->info ? &m->info[s] :
	       (struct fence_rule_info *)lazymap_at(&m->lz[FL_INFO], (size_t)s * sizeof(*m->info),
						   sizeof(*m->info));
}

/* tbl24 leaf x (one per /24) */
static inline __u32 *fence_leaf_at(const struct fence_maps *m, __u32 x)
{
	return m->tbl24 ? &m->tbl24[x] :
	       (__u32 *)lazymap_at(&m->lz[FL_TBL24], (size_t)x * sizeof(__u32), sizeof(__u32));
}

/* tbl8 group g: FENCE_TBL8_GROUP leaves */
static inline __u32 *fence_group_at(const struct fence_maps *m, __u32 g)
{
	size_t len = FENCE_TBL8_GROUP * sizeof(__u32);

	return m->tbl8 ? &m->tbl8[(size_t)g * FENCE_TBL8_GROUP] :
	       (__u32 *)lazymap_at(&m->lz[FL_TBL8], (size_t)g * len, len);
}

static inline struct fence_group_state *fence_gstate_at(const struct fence_maps *m, __u32 g)
{
	return m->tbl8_state ? &m->tbl8_state[g] :
	       (struct fence_group_state *)lazymap_at(&m->lz[FL_TBL8_STATE],
						      (size_t)g * sizeof(*m->tbl8_state),
						      sizeof(*m->tbl8_state));
}

/* CPU cpu's counters of slot s in entry_hits (mapped a window at a time,
 * never whole by fence_maps_full: only what is read is mapped). */
static inline struct fence_entry_counters *fence_hits_at(const struct fence_maps *m, int cpu,
							  __u32 s)
{
	size_t i = (size_t)cpu * m->n_slots + s;

	return (struct fence_entry_counters *)lazymap_at(&m->lz[FL_ENTRY_HITS],
							 i * sizeof(struct fence_entry_counters),
							 sizeof(struct fence_entry_counters));
}

void fence_maps_close(struct fence_maps *m);

/* The `meta` record: aggregation lengths and settings of this pinned set. */
int fence_read_meta(const struct fence_maps *m, struct fence_meta *meta);
/* The same from the set pinned under pin_dir, without opening it: -errno
 * when none is pinned there, -ENOENT when its meta was never written. */
int fence_read_pinned_meta(const char *pin_dir, struct fence_meta *meta);

/* A fresh tbl6 (empty): its size in tbl6_meta and a hash seed of its own,
 * so that nobody can choose addresses whose keys pile up in one place. */
void fence_tbl6_init(struct fence_maps *m);

/* Sum per-CPU `stats` into out[FENCE_STAT_MAX]. */
int fence_read_stats(const struct fence_maps *m, struct fence_stat_val *out);

/* Name of a reason as printed by `xdpfence stats` ("drop_feed", ...). */
const char *fence_stat_name(unsigned int reason);

/* Make sure pin_dir can hold pins: mount bpffs on /sys/fs/bpf when nothing
 * is mounted there (as xdp-tools does), then create pin_dir (and parents).
 * -ENOTSUP if pin_dir is not on a bpffs. */
int fence_prepare_pin_dir(const char *pin_dir);

/* The id of a pin dir (a hash of its real path, or of its parent's real
 * path and its name once it is gone), which the program carries in its
 * rodata (pin_dir_id); never 0. */
__u64 fence_pin_dir_id(const char *pin_dir);
/* The pin_dir_id an xdpfence program was loaded with (0: a build that
 * did not record one). -errno when the program cannot be read. */
int fence_prog_pin_dir_id(__u32 prog_id, __u64 *id);

/* CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads. */
__u64 fence_now_ns(void);

#endif
