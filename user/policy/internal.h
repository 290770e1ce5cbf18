/* SPDX-License-Identifier: GPL-2.0 */
/* user/policy/internal.h - what the policy engine's files share, and nothing
 * outside user/policy/ may include: struct policy, its table entries, records
 * and heap items, the small helpers every file uses, and the functions one
 * file offers the others. The API is policy.h.
 *
 * Who owns what: track.c the table, records and heap; decide.c the ticks and
 * their decisions; signals.c the reports of the API tier and their rules;
 * config.c the config and the interned names; statefile.c the state file. Like them, nothing here reads a clock, touches a map or
 * does I/O.
 */
#ifndef XDPFENCE_POLICY_INTERNAL_H
#define XDPFENCE_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maps/keys.h"
#include "policy/policy.h"

#define POLICY_NO_RULE		0xff		/* policy_rec.trigger: none */
#define POLICY_E_GAP		1U		/* policy_entry.flags: next sample is a baseline */

struct policy_streak {
	__u64 covered_ns;		/* time of the consecutive above-rate intervals */
	__u64 sum;			/* metric delta over them */
};

struct policy_entry {
	struct cidr pfx;		/* family 0 = empty slot */
	__u32 seen_tick;		/* p->tick of the last sample; 0 = never */
	__u64 prev[3];			/* cumulative counters at seen_tick, by metric */
	__u32 rec;			/* index into p->recs; 0 = none */
	__u32 flags;			/* POLICY_E_* */
	struct policy_streak st[];	/* one per rule of the config */
};
_Static_assert(sizeof(struct policy_entry) == 56, "policy_entry stays small");

/* A prefix that was promoted at least once, or a parent with promoted
 * children. While used it pins its table entry. */
struct policy_rec {
	struct cidr pfx;
	__u32 gen;			/* bumped on free: stale heap items */
	__u64 expires_ns;		/* 0 = not promoted now */
	__u64 decay_ns;			/* offences fall to 0 here: the ban's end + max_ttl */
	__u64 ttl_s;
	double value, threshold;
	__u32 offences;
	__u32 throttle_rate, throttle_burst;
	__u16 rule;			/* index into p->names; 0 = "" */
	__u8 action;			/* enum fence_action */
	__u8 metric;			/* enum policy_metric */
	__u32 parent;			/* active child: the /P parent's record */
	__u32 child;			/* parent: first active child */
	__u32 next, prev;		/* siblings; next also chains the free list */
	__u32 n_children;		/* parent: active children linked */
	__u8 used;
	__u8 pending;			/* parent: on p->pending for this tick's aggregation */
	__u8 trigger;			/* parent: rule of the last child linked */
	__u8 learned;			/* active by policy_learn only: expires silently */
	__u16 kind;			/* interned name: signals, accounts */
	__u16 pad2;
	__u32 hosts;			/* at the last firing */
	__u32 fired_tick;		/* p->tick of the last decision on it */
};

/* A report of the API tier, kept in its prefix's list (oldest first). */
struct policy_sigev {
	__u64 t_ns;
	__u64 account;
	__u32 weight;
	__u16 kind;			/* interned name; 0 = none */
	__u8 remote;			/* policy_signal.remote */
	__u8 pad;
};

/* A prefix with reports; open addressing, linear probing, family 0 = empty. */
struct policy_sigpfx {
	struct cidr pfx;
	__u32 n, cap;
	__u32 dirty;			/* reports came since it was last counted */
	struct policy_sigev *ev;
};

/* What fires a rule on a prefix (policy_fire). */
struct policy_fire_how {
	unsigned rule;			/* index into cfg.rules */
	double value;
	__u32 hosts;
	__u16 kind;
};

struct policy_heap_item {
	__u64 expires_ns;
	__u32 rec;
	__u32 gen;
};

struct policy_kid {
	struct cidr pfx;
	__u32 rec;
};

struct policy {
	struct policy_config cfg;
	__u16 rule_name[POLICY_MAX_RULES];	/* interned name of each rule */
	size_t max_tracked;
	__u64 rng;
	__u64 clock_ns;			/* latest time seen: last tick or load */
	__u64 prev_now;
	bool have_prev;
	__u32 tick;			/* >= 2 while ticking, so tick - 1 is never 0 */
	__u32 full_tick;		/* tick in which eviction could not make room */
	__u32 whole_tick;		/* last tick whose samples were every prefix (not
					 * POLICY_TICK_CHANGED); 0: none yet */
	size_t seen_now;		/* prefixes sampled this tick */
	size_t tick_left;		/* samples of this tick not yet processed */

	char *slots;
	size_t cap, count, stride;

	struct policy_rec *recs;
	__u32 n_recs, free_rec;
	size_t recs_cap;
	size_t recs_used, n_active;

	struct policy_heap_item *heap;
	size_t heap_n, heap_cap;

	char **names;
	__u32 n_names;
	size_t names_cap;

	__u32 *pending;
	size_t n_pending, pending_cap;

	struct policy_decision *dec;
	size_t n_dec, dec_cap;
	struct cidr *kids;
	size_t n_kids, kids_cap;
	char *whys;
	size_t n_whys, whys_cap;
	struct policy_kid *tmp;
	size_t tmp_cap;

	struct policy_sigpfx *sig;	/* signals.c */
	size_t sig_cap, sig_count, sig_events;
	__u64 *acc;			/* scratch: one prefix's accounts */
	size_t acc_cap;
	__u16 n_kinds;			/* distinct kinds interned */

	struct policy_stats st;
};

/* Returns buf grown to hold need elements (or buf if it does), NULL on failure. */
static inline void *grow_to(void *buf, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *b;

	if (need <= *cap)
		return buf;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / size)
		return NULL;
	b = realloc(buf, n * size);
	if (b)
		*cap = n;
	return b;
}

#define GROW(p, arr, cap, need) ({						\
	void *_b = grow_to((p)->arr, &(p)->cap, (need), sizeof(*(p)->arr));	\
	if (_b)									\
		(p)->arr = _b;							\
	_b != NULL; })

static inline __u64 cidr_hash(const struct cidr *c)
{
	__u64 a, b, h;

	memcpy(&a, c->addr, 8);
	memcpy(&b, c->addr + 8, 8);
	h = a * 0x9e3779b97f4a7c15ULL ^ (b + ((__u64)c->family << 8 | c->len)) * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 29);
}

static inline bool cidr_key_eq(const struct cidr *a, const struct cidr *b)
{
	__u64 a0, a1, b0, b1;

	memcpy(&a0, a->addr, 8);
	memcpy(&a1, a->addr + 8, 8);
	memcpy(&b0, b->addr, 8);
	memcpy(&b1, b->addr + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0 && a->family == b->family && a->len == b->len;
}

static inline struct policy_entry *entry_at(const struct policy *p, size_t i)
{
	return (struct policy_entry *)(p->slots + i * p->stride);
}

/* The slot holding c, or the empty slot where it would go. */
static inline size_t table_probe(const struct policy *p, const struct cidr *c, __u64 h)
{
	size_t mask = p->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct policy_entry *e = entry_at(p, i);

		if (!e->pfx.family || cidr_key_eq(&e->pfx, c))
			return i;
	}
}

/* The name interned as id; "" for 0 and for an unknown id. */
static inline const char *name_of(const struct policy *p, __u16 id)
{
	return id && id < p->n_names ? p->names[id] : "";
}

/* track.c */
int policy_table_init(struct policy *p, unsigned n_rules);
int policy_table_remap(struct policy *p, const int *map, unsigned n_rules);
void policy_table_presize(struct policy *p, size_t n);
struct policy_entry *policy_table_get(struct policy *p, const struct cidr *c, __u64 h,
				      __u64 now, bool pinned);
void policy_table_gc(struct policy *p, __u64 now);
__u32 policy_rec_alloc(struct policy *p, const struct cidr *c);
__u32 policy_rec_get(struct policy *p, const struct cidr *c, __u64 now);
__u32 policy_rec_find(const struct policy *p, const struct cidr *c);
void policy_rec_link(struct policy *p, __u32 i, __u32 parent);
void policy_rec_deactivate(struct policy *p, __u32 i, __u64 now);
int policy_heap_push(struct policy *p, __u32 rec);
__u32 policy_heap_pop(struct policy *p, __u64 now);
void policy_heap_compact(struct policy *p);

/* decide.c */
int policy_relink(struct policy *p);
int policy_fire(struct policy *p, const struct cidr *pfx, const struct policy_fire_how *f, __u64 now,
		policy_allowed_fn allowed, void *ctx);

/* signals.c */
void policy_signals_tick(struct policy *p, __u64 now, policy_allowed_fn allowed, void *ctx);
void policy_signals_free(struct policy *p);
void policy_signals_dirty(struct policy *p);

/* config.c */
int policy_name_intern(struct policy *p, const char *name, __u16 *id);

#endif
