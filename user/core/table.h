/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/table.h - the allow/deny entries and the lookup tables built from them.
 *
 * Owns the only writer's side of the data path's policy maps: rule slots
 * (`rules`, `rule_info`), the IPv4 DIR-24-8 table (`tbl24`, `tbl8`), the
 * exact-prefix hashes (`deny_v4`, `allow_v4`) and the IPv6 tries. Callers
 * stage changes (table_put/table_del) and commit them at once. A commit
 * validates everything (capacity, groups) before it writes anything, then
 * writes in an order that never shows the data path a half-written state,
 * and quarantines freed slots and groups before reuse (that order is
 * stated in core/table/publish.c, above commit_publish).
 *
 * Who owns an entry and why (manual, feeds, promoted) is the caller's
 * business: it passes a complete fence_rule_info and the table derives what
 * the data path reads (fence_rule) from it.
 */
#ifndef XDPFENCE_TABLE_H
#define XDPFENCE_TABLE_H

#include <stddef.h>

#include "lib/cidr.h"
#include "core/fence.h"

struct table;

struct table_stats {
	__u32 added, updated, removed;	/* entries */
	__u32 tbl24_writes, tbl8_writes;	/* leaves written */
	__u32 parent_writes;		/* deny entries given a new parent */
	__u32 slots_used;		/* rule slots live after the commit */
	__u32 keys_fixed;		/* repair: lookup-map keys added or removed */
	__u32 entries_fixed;		/* repair: rules derived again, ownerless entries freed */
	bool recovered;			/* repaired what an interrupted commit left */
	bool small;			/* built from the live table and the changes alone */
	bool direct;			/* tbl8 groups built in place (none was ever used) */
	double build_ms, write_ms;	/* time to compute, time to write */
};

int table_open(struct table **tp, struct fence_maps *m);
void table_close(struct table *t);

/* A writer's table (the pin dir's lock held) keeps its bookkeeping in maps
 * pinned under pin_dir (NULL: unpinned, for tests), created when missing:
 * the index of entries and the free slots and groups, so that a small
 * commit need not scan every slot. writer false: nothing (a reader indexes
 * in memory when it must). Rebuilt from the slots when stale, by the next
 * commit or table_store_rebuild. */
int table_store_attach(struct table *t, const char *pin_dir, bool writer);

/* Does what is staged need more than the maps hold (rule slots, tbl8
 * groups, IPv6 denies, tbl6 positions)? 1 with the sizes to grow to in *g, 0, -errno.
 * Groups are counted at most (one per /24 a new detail entry lies in). */
struct grow_to;
int table_needs(struct table *t, struct grow_to *g);

/* tbl6 (the IPv6 search table, core/table/v6.c) for n_adds more IPv6
 * entries, of the lengths add_lens has bits for (129 bits): *positions 0
 * when it holds them, else the bigger size it needs (a power of two), an
 * upper bound (markers counted at most). Maps m whole. 0 or -errno. */
int table_tbl6_needs(struct fence_maps *m, const __u8 *add_lens, __u32 n_adds, __u32 *positions);

/* Fill a new, bigger tbl6 and its tbl6_meta (by fd, n_tbl6 positions, a
 * power of two) with every key of m's: placed again under a seed of their
 * own (positions follow the size), the search tree rebuilt for it. Writes
 * nothing of m's. 0, -ENOSPC (keys pile up: bigger still), -errno. */
int table_tbl6_regrow(struct fence_maps *m, int tbl6_fd, __u32 n_tbl6, int meta_fd);

/* Fill a new, bigger host_v4 (new_fd) with the cells of the old (old_fd,
 * -1 for none), each placed again for the new size. 0 or -errno. */
int table_host_regrow(int old_fd, int new_fd);

/* The maps under t were replaced by bigger ones (fence_maps_refresh):
 * its bookkeeping again, for their sizes. */
int table_maps_changed(struct table *t, const char *pin_dir);
bool table_store_stale(struct table *t);
int table_store_rebuild(struct table *t);

/* The entry for (prefix, kind) as it will be after commit (staged changes
 * included); NULL if there is none (or if, with changes staged, memory for
 * the first index of them ran out). *slot (may be NULL) is its committed slot,
 * 0 if not committed yet. The pointer is valid until the next put, get or
 * commit. */
const struct fence_rule_info *table_get(struct table *t, const struct cidr *c,
					enum fence_kind kind, __u32 *slot);

/* Stage: create or replace the entry. info->addr/prefixlen/family are taken
 * from c; everything else from info. owners == 0 means delete. */
int table_put(struct table *t, const struct cidr *c, enum fence_kind kind,
	      const struct fence_rule_info *info);
int table_del(struct table *t, const struct cidr *c, enum fence_kind kind);

/* table_put for bulk diffs that walk the committed slots themselves: the
 * caller knows (c, kind) is committed at slot (0 = not committed at all) and
 * stages each key once, so no index of the committed entries is needed. */
int table_put_at(struct table *t, __u32 slot, const struct cidr *c, enum fence_kind kind,
		 const struct fence_rule_info *info);

/* Make room to stage n changes without regrowing (bulk loads). */
int table_reserve(struct table *t, size_t n);

/* Number of staged changes. */
size_t table_staged(const struct table *t);

/* Apply what is staged. On error nothing is applied (and err says why).
 * Either way the stage is empty afterwards. st may be NULL. */
int table_commit(struct table *t, struct table_stats *st, char *err, size_t errlen);
/* table_commit, but when tbl6 has room for the keys, just none near the
 * place of one (a run of more than FENCE_V6_PROBES under its seed), it
 * returns -EXFULL and keeps what is staged, so that the caller can grow
 * tbl6 (a new size and seed) and commit again. */
int table_commit_or_crowded(struct table *t, struct table_stats *st, char *err, size_t errlen);
void table_abort(struct table *t);

/* Make the next commit (even one with nothing staged) repair: bring the
 * exact-prefix maps and throttle buckets back in line with the live slots
 * and recompute every IPv4 leaf and parent, not only those its changes
 * touch. A commit does this by itself when it finds that the one before it
 * was interrupted (fence_meta.writing). */
void table_repaint(struct table *t);

/* Was the last commit on these maps cut off half way (by a kill, a crash)?
 * Then the next commit repairs first; table_repair() does it now. */
bool table_interrupted(struct table *t);
/* Were the maps written by an older xdpfence whose layout differs
 * (fence_meta.version)? The next commit repairs them into this one's;
 * table_repair() does it now. */
bool table_outdated(struct table *t);
int table_repair(struct table *t, struct table_stats *st, char *err, size_t errlen);

/* Committed entries: first live slot > after (0 starts), 0 at the end. */
__u32 table_next(const struct table *t, __u32 after);

/* What the data path reads, derived from the controller's record:
 * strongest action among owners, latest expiry (never beats any time),
 * the drop reason of the most specific owner (manual > promoted > feed). */
void table_rule_from_info(const struct fence_rule_info *info, enum fence_kind kind,
			  struct fence_rule *out);

void table_info_cidr(const struct fence_rule_info *info, struct cidr *c);

#endif
