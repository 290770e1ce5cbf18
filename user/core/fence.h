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
};

struct fence_maps {
	int fd[FM_COUNT];
	__u32 max_entries[FM_COUNT];
	int ncpus;			/* possible CPUs: per-CPU value stride */
	__u32 n_slots;			/* rules/rule_info entries */
	__u32 n_groups;			/* tbl8 groups */
	__u32 n_tbl6;			/* tbl6 positions (a power of two) */
	/* mmap-ed arrays, shared with the data path */
	__u32 *tbl24;
	__u32 *tbl8;
	struct fence_group_state *tbl8_state;
	struct fence_rule *rules;
	struct fence_rule_info *info;
	struct fence_v6_ent *tbl6;
	struct fence_v6_meta *tbl6_meta;
	struct fence_active_meta *active;	/* the engine's epoch (counters.c) */
	struct fence_active_rec *active_log;
	__u32 n_active_log;			/* active_log records (two halves) */
};

/* Open the skeleton and size its maps and settings from opts; when opts->pin_dir
 * already holds a pinned set, its sizes and settings win (so the maps are
 * reused, not replaced). Does not load. */
int fence_skel_open(struct xdpfence **skel, const struct fence_opts *opts);

/* After load: take the skeleton's map fds (dup-ed) and mmap the arrays, and
 * write the `meta` record. */
int fence_maps_from_skel(struct fence_maps *m, struct xdpfence *skel, const struct fence_opts *opts);

/* Open every map pinned under pin_dir. -ENOENT (with a hint printed by the
 * caller) when nothing is pinned there. */
int fence_maps_from_pins(struct fence_maps *m, const char *pin_dir);

void fence_maps_close(struct fence_maps *m);

/* The `meta` record: aggregation lengths and settings of this pinned set. */
int fence_read_meta(const struct fence_maps *m, struct fence_meta *meta);

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
