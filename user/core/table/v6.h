/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/table/v6.h - the IPv6 side of the table writer: the keys of
 * `tbl6` (maps/keys.h), the IPv6 parents, and writing them in the commit's
 * order. Included by the table's own files (and the benchmarks that time
 * the structure); nothing else.
 *
 * A commit hands v6.c the live IPv6 entries after it (v6_plan), and calls
 * it at three of its steps (see commit_publish in publish.c): keys that are
 * new go in at step 3 (v6_put), keys whose slot changed and the list of
 * lengths switch at step 5 (v6_switch), keys no longer needed die at step
 * 6 (v6_remove). v6_undo takes step 3 back when a commit fails before 4.
 * The exact-prefix maps deny_v6/allow_v6 are written by publish.c with the
 * IPv4 ones; v6.c writes only tbl6 and tbl6_meta, through their mmaps.
 */
#ifndef XDPFENCE_TABLE_V6_H
#define XDPFENCE_TABLE_V6_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "core/fence.h"

/* A live IPv6 entry. hi/lo: the address in host byte order. */
struct v6_ent {
	__u64 hi, lo;
	__u32 slot;
	__u8 len, kind;			/* enum fence_kind */
};

/* A key of tbl6: the slot in force under it, and whether it is an entry's
 * own prefix (else only a marker) and whose. */
struct v6_key {
	__u64 hi, lo;
	__u32 slot;
	__u32 deny, allow;		/* the entries whose own prefix it is, 0 = none */
	__u8 len, own;
};

/* The address of a rule_info record, as a v6_ent wants it. */
void v6_ent_of(const __u8 addr[16], __u8 len, __u8 kind, __u32 slot, struct v6_ent *e);

/* The keys for a set of entries (sorted here, by address then length),
 * sorted the same way, and the lengths present, ascending. parent (may be
 * NULL) is called for every deny with the next shorter deny covering it
 * (0: none), for expiry to fall back on. *keys is malloc-ed. 0 or -ENOMEM. */
int v6_keys_build(struct v6_ent *e, size_t n, struct v6_key **keys, size_t *n_keys, __u8 *lens,
		  __u8 *n_lens, int (*parent)(void *ctx, __u32 slot, __u32 parent), void *ctx);

/* --- the commit's side ---------------------------------------------------- */

struct v6_plan;

/* A commit's change to an IPv6 entry: a new one (its new slot) or one
 * removed (its committed slot). Entries that only change fields keep their
 * keys and are not changes here. */
struct v6_change {
	__u8 addr[16];
	__u32 slot;
	__u8 len, kind, del;
};

/* Plan a commit's IPv6 side: the live IPv6 entries after it (read out of
 * tbl6 and changed by ch; full: read from the rule slots, for a repair),
 * every key again, what differs from tbl6 and where new keys go, and each
 * deny's parent through parent(). Writes nothing. -ENOSPC with a message
 * when tbl6 cannot hold the keys; -EXFULL with one when it could but has
 * no free position near a new key's place (a bigger tbl6 under another
 * seed has). */
int v6_plan(struct fence_maps *m, const struct v6_change *ch, size_t n_ch, bool full,
	    int (*parent)(void *ctx, __u32 slot, __u32 parent), void *ctx, struct v6_plan **out,
	    char *err, size_t errlen);
void v6_put(struct v6_plan *p);		/* step 3 */
void v6_undo(struct v6_plan *p);	/* step 3 taken back */
void v6_switch(struct v6_plan *p);	/* step 5 */
void v6_remove(struct v6_plan *p);	/* step 6 */
void v6_plan_free(struct v6_plan *p);

/* What the last plan changed, for the commit's statistics. */
__u32 v6_plan_writes(const struct v6_plan *p);

#endif
