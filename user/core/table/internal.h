/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/table/internal.h - what the table writer's files share; no one else includes it.
 *
 * Owns the table's private structs (staged ops, the hash indexes, the
 * sweep's result, one commit's state) and the declarations of the helpers
 * one file of user/core/table/ lends another (tbl_*, commit_*). The public
 * API is user/core/table.h. Must not grow functions of its own beyond tiny
 * inline predicates that several files need on their hot loops.
 */
#ifndef XDPFENCE_TABLE_INTERNAL_H
#define XDPFENCE_TABLE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <arpa/inet.h>

#include "core/lazymap.h"
#include "core/pin.h"
#include "core/table.h"

/* A staged change: the key, and the rest of the record as an index into
 * the table's bodies. A feed's entries all share one, so a bulk stage
 * writes 32 bytes an op, not a 128-byte record each: fresh memory is what
 * staging pays for. */
struct op {
	__u8 addr[16];
	__u32 slot;			/* committed slot, 0 = new entry */
	__u32 body;			/* t->bodies, or NO_BODY: as committed (or zero) */
	__u8 len, family;
	__u8 kind;			/* enum fence_kind */
	__u8 del;
	__u8 fresh;			/* slot allocated by the commit under way */
	__u8 early;			/* its key went in ahead of its slot (see early_start) */
	__u8 own;			/* body is this op's alone, key included (table_get) */
};

#define NO_BODY	0xffffffffU

/* Open addressing with linear probing. An entry is the key's 32-bit hash
 * (high half) and a value (low half, 0 = empty): the hash spares a cache
 * miss on the key for most mismatches, and lets deletion find each entry's
 * home without recomputing it. */
struct hindex {
	__u64 *e;
	__u32 mask;
};

/* A small open-addressing map, __u32 key (never 0) -> __u32 value. */
struct umap {
	__u32 *k, *v;
	__u32 mask, n;
};

/* The writer's bookkeeping maps (store.c), mapped: see struct fence_store. */
enum {
#define X(id, name) FS_##id,
	FENCE_STORE_MAPS(X)
#undef X
	FS_COUNT
};

struct tbl_store {
	bool on;			/* attached (a writer's table) */
	int fd[FS_COUNT];
	struct lazymap lz[FS_COUNT];	/* mapped a window at a time */
	struct fence_store *hdr;
	__u32 cells;
	bool blank[FS_COUNT];		/* made by this attach, never written yet */
	/* what the commit under way picked, taken when it publishes */
	__u32 pick_ring, pick_hwm, pick_gring, pick_ghwm;
};

struct table {
	struct fence_maps *m;
	struct hindex idx;		/* committed entries: value = slot; built in memory
					 * on first use, unless the store's is (idx_store) */
	bool idx_store;
	struct tbl_store st;
	struct op *ops;			/* staged changes */
	size_t n_ops, cap_ops;
	struct hindex op_idx;		/* value = op number + 1 */
	struct fence_rule_info *bodies;	/* what ops set, less their keys */
	size_t n_bodies, cap_bodies;
	struct fence_rule_info scratch;	/* table_get's answer when out of memory */
	size_t n_indexed;		/* ops [0, n_indexed) are in op_idx */
	/* kept between commits */
	bool repaint;			/* next commit repaints the whole IPv4 table */
	bool keep_crowded;		/* a commit tbl6 is too crowded for keeps its ops */
	struct keyload *kl;		/* bulk deny_v4/allow_v4 keys; see keyloader() */
	bool kl_tried;
	__u32 *parent;			/* per slot: its parent as the last full build computed it */
	struct umap sparent;		/* a small build's parents (small.c); k NULL otherwise */
};

/* What identifies an entry: (kind, family, prefix); addr is not copied. */
struct key {
	__u8 kind, family, len;
	const __u8 *addr;
};

/* Does an IPv4 entry have a key in deny_v4/allow_v4? Every allow does
 * (for inspection: allows are painted in the table); of the denies only
 * /32s, the one length the data path probes there. Shorter denies live in
 * tbl24/tbl8 alone: keying them too would cost kernel hash inserts for
 * keys nothing reads. */
static inline bool tbl_v4_keyed(__u8 kind, __u8 len)
{
	return kind == FENCE_KIND_ALLOW || len == 32;
}

/* Does an IPv4 entry need a tbl8 group for its /24? One longer than /24
 * does if it is an allow or a deny shorter than /32 (a /32 deny is a key
 * under a HOST leaf instead). The sweep, its split in halves and the
 * sizing of tbl8 must agree on this. */
static inline bool tbl_v4_detail(bool allow, __u8 len)
{
	return len > 24 && (allow || len < 32);
}

/* An IPv4 entry's address, host order. */
static inline __u32 tbl_v4_host(const __u8 *addr)
{
	__u32 a;

	memcpy(&a, addr, 4);
	return ntohl(a);
}

/* Freed too recently to be reused (a reader may still hold an old leaf). */
static inline bool tbl_quarantined(__u64 freed, __u64 now)
{
	return freed && now - freed < FENCE_QUARANTINE_NS;
}

/* What the sweep found: leaves to write, groups, parents. */
struct sweep {
	/* leaves [x, x + n) of tbl24 become v (never an EXT leaf) */
	struct run { __u32 x, n, v; } *runs;
	size_t n_runs, cap_runs;
	/* /24s that need /25../32 detail: their leaves, in local group lg of
	 * g, bound for tbl8 group ph: the one the /24 names now, or a fresh
	 * one (NO_GROUP until groups_assign picks it and sets fresh); host:
	 * FENCE_LEAF_HOST or 0 */
	struct ext { __u32 x, lg, ph, host; bool fresh; } *ext;
	size_t n_ext, cap_ext;
	__u32 *g;			/* local groups, FENCE_TBL8_GROUP leaves each */
	size_t ng, cap_g;
	/* g is tbl8 itself, local group n being group n: a full build on a
	 * table that has never used a group, whose fresh groups are picked
	 * from 0 in order (no leaf can reach them before the switch) */
	bool direct;
	__u32 gap_lo, gap_hi;		/* direct, in halves: groups between them, blank */
	__u32 *freed;			/* physical groups no leaf will name */
	size_t n_freed, cap_freed;
	__u32 *par;			/* deny slots whose parent was computed (t->parent) */
	size_t n_par, cap_par;
	__u32 n_fresh;			/* exts that need a fresh group */
};

/* Keys no packet can reach before the switch go into the hashes at the
 * start of a commit, on a thread of their own (two for a big batch, see
 * bulk_split), so that the kernel's hash inserts overlap the build rather
 * than follow it. Which keys those are: see commit_publish. */
struct early {
	struct table *t;
	struct fence_v4_key *k, *ka;
	struct fence_slot *v, *va;
	__u32 n, na;
	pthread_t th;
	bool started;
	int ret;
};

struct span;
struct v4e;
struct v6_plan;

/* One commit's state, carried from phase to phase (see table_commit). */
struct commit {
	struct table *t;
	struct fence_maps *m;
	struct table_stats s;
	char *err;
	size_t errlen;
	struct timespec t0;		/* start of what build_ms/write_ms time */
	bool full;			/* sweep every /24 (repair, repaint, many changes) */
	bool small;			/* built by small.c, from the live table and the changes */
	bool repairing;			/* the mark stays unless the commit ends well */
	bool undone;			/* on failure: no key of this commit is left */
	/* plan */
	__u8 *dead;			/* slots deleted by this commit */
	__u32 *new_slots;		/* slot of each new op, in op order */
	__u32 *reused;			/* those used before: hit counters to reset */
	__u32 n_new, n_del, n_reused;
	__u32 n_v4_deny, n_v4_allow, n_v6_deny, n_v6_allow;	/* live after the commit */
	/* begin */
	struct early ek;
	/* build */
	struct span *sp;		/* the /24s to sweep, merged */
	size_t n_sp;
	__u64 *touched;			/* bitmap of the /24s a partial commit sweeps */
	struct v4e *es;			/* live IPv4 entries that paint or enclose them */
	size_t n_es;
	struct v6_plan *v6p;		/* the IPv6 side (v6.c), NULL: no IPv6 change */
	struct sweep w;
};

/* Growing arrays of a struct (image.c): 0 or -ENOMEM. */
int tbl_grow(void **p, size_t *cap, size_t need, size_t size);
#define PUSHW(w, arr, n, cap, val) \
	(tbl_grow((void **)&(w)->arr, &(w)->cap, (w)->n + 1, sizeof(*(w)->arr)) ? -ENOMEM : \
	 ((w)->arr[(w)->n++] = (val), 0))
#define PUSHA(arr, n, cap, val) \
	(tbl_grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))) ? -ENOMEM : \
	 ((arr)[(n)++] = (val), 0))

/* api.c */
void tbl_seterr(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tbl_op_info(const struct table *t, const struct op *o, struct fence_rule_info *out);

/* index.c */
__u32 tbl_key_hash(const struct key *k);
void tbl_key_of_cidr(const struct cidr *c, enum fence_kind kind, struct key *k);
void tbl_idx_insert(struct table *t, __u32 slot);
void tbl_idx_remove(struct table *t, __u32 slot);
int tbl_idx_ready(struct table *t);
__u32 tbl_idx_lookup(const struct table *t, const struct key *k, __u32 hash);
int tbl_op_index_ready(struct table *t);
__u32 tbl_op_lookup(const struct table *t, const struct key *k, __u32 hash);
int tbl_op_index_grow(struct table *t);
void tbl_op_index_clear(struct table *t);

/* image.c */
int commit_build(struct commit *c);
void commit_build_free(struct commit *c);
__u8 *tbl_groups_named(const struct fence_maps *m, __u32 *used);
int tbl_sweep_group(struct sweep *w, __u32 *lg);
/* Room reserved at once for what a build of n changes or entries writes. */
int tbl_sweep_reserve(struct sweep *w, size_t n, __u32 n_groups);
int tbl_groups_assign(struct table *t, struct sweep *w, char *err, size_t errlen);

/* small.c */
bool tbl_small_ok(const struct table *t);
int commit_build_small(struct commit *c);
__u32 tbl_parent_of(const struct table *t, __u32 slot);
void tbl_sparent_free(struct table *t);

/* publish.c */
bool tbl_rule_update(struct fence_rule *cur, const struct fence_rule *r);

/* store.c */
void tbl_store_close(struct table *t);
bool tbl_store_valid(const struct table *t);
/* The store's index and /32 counts mapped whole (what a second thread may
 * then read and write without mapping anything): false if they cannot be. */
bool tbl_store_map_whole(struct table *t);
void tbl_store_invalidate(struct table *t);
int tbl_store_rebuild(struct table *t);
bool tbl_store_index(struct table *t);
__u64 *tbl_idx_cell(const struct table *t, __u32 i);
void tbl_store_pick_reset(struct table *t);
int tbl_store_pick_slots(struct table *t, __u32 n, __u32 *out, __u64 now, __u64 *wake_ns);
int tbl_store_pick_groups(struct table *t, __u32 n, __u32 *out, __u64 now, __u64 *wake_ns);
__u32 tbl_store_free_slots(const struct table *t);
__u32 tbl_store_free_groups(const struct table *t);
void tbl_store_take(struct table *t);
void tbl_store_free_slot(struct table *t, __u32 s);
void tbl_store_free_group(struct table *t, __u32 g);
int tbl_store_hosts(struct table *t, __u32 x);
void tbl_store_hosts_add(struct table *t, __u32 x, int d);

/* repair.c */
int tbl_mark_writing(struct table *t, __u8 on, bool upgrade);
int tbl_recover(struct table *t, struct table_stats *st, char *err, size_t errlen);

/* host.c: host_v4, the /32 denies' mirror (maps/keys.h). Cells for n
 * keys of deny_v4: put (after the keys went in) or cleared (before they go);
 * every /32 key is both in the end (not 0: a cell may still name a key
 * that is to go, which must stay). reset wipes them (a repair: slots and
 * keys may disagree until recovered); fill, once the slots are in line
 * with deny_v4 and before the commit writes, fills a wiped or fresh map. */
int tbl_host_keys(struct table *t, const struct fence_v4_key *k, const struct fence_slot *v,
		  __u32 n, bool put);
int tbl_host_reset(struct table *t);
int tbl_host_fill(struct table *t);
/* repair.c: this build's layout recorded in meta at once. */
int tbl_mark_layout(struct table *t);

#endif
