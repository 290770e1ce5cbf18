// SPDX-License-Identifier: GPL-2.0
/* user/core/table/api.c - the table's public face: open and close, stage (put,
 * put_at, del, get, abort), walk the committed slots, and the rule the data
 * path reads derived from an entry's record. See table.h.
 *
 * Owns the staged ops and their bodies (the records they set). Must not
 * write the maps: only a commit does (publish.c), in its order.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>

#include "core/table/internal.h"
#include "core/keyload.h"
#include "lib/util.h"

/* The message for a caller's err buffer (may be NULL): the core never prints. */
void tbl_seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* --- staged ops ------------------------------------------------------- */

/* Large buffers come pre-faulted: one populate is far cheaper than a page
 * fault per 4 KiB. */
static void *big_realloc(void *old, size_t old_len, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	prefault(p, len);
	if (old) {
		memcpy(p, old, old_len);
		munmap(old, old_len);
	}
	return p;
}

static int op_grow_to(struct table *t, size_t cap)
{
	struct op *ops = big_realloc(t->ops, t->cap_ops * sizeof(*ops), cap * sizeof(*ops));

	if (!ops)
		return -ENOMEM;
	t->ops = ops;
	t->cap_ops = cap;
	return tbl_op_index_grow(t);
}

static int op_grow(struct table *t)
{
	return op_grow_to(t, t->cap_ops ? t->cap_ops * 2 : 1024);
}

int table_reserve(struct table *t, size_t n)
{
	return n > t->cap_ops ? op_grow_to(t, n) : 0;
}

/* A new op for key k whose committed slot is known (0 = none), as committed
 * (or deleted). */
static struct op *op_new(struct table *t, const struct key *k, __u32 slot)
{
	struct op *o;

	if (t->n_ops == t->cap_ops && op_grow(t))
		return NULL;
	o = &t->ops[t->n_ops++];
	o->kind = k->kind;
	o->fresh = 0;
	o->early = 0;
	o->own = 0;
	o->slot = slot;
	o->del = !slot;		/* nothing there until put */
	o->body = NO_BODY;
	o->family = k->family;
	o->len = k->len;
	memcpy(o->addr, k->addr, 16);
	return o;
}

static struct op *op_get(struct table *t, const struct cidr *c, enum fence_kind kind, bool create)
{
	struct key k;
	__u32 hash, op1;

	tbl_key_of_cidr(c, kind, &k);
	hash = tbl_key_hash(&k);
	if (t->n_ops) {
		if (tbl_op_index_ready(t))
			return NULL;
		op1 = tbl_op_lookup(t, &k, hash);
		if (op1)
			return &t->ops[op1 - 1];
	}
	if (!create || tbl_idx_ready(t))
		return NULL;
	return op_new(t, &k, tbl_idx_lookup(t, &k, hash));	/* indexed at the next lookup */
}

/* --- op bodies ---------------------------------------------------------- */

static __u32 body_push(struct table *t, const struct fence_rule_info *b)
{
	if (t->n_bodies == t->cap_bodies) {
		size_t cap = t->cap_bodies ? t->cap_bodies * 2 : 64;
		struct fence_rule_info *nb;

		if (cap >= NO_BODY)
			return NO_BODY;
		nb = realloc(t->bodies, cap * sizeof(*nb));
		if (!nb)
			return NO_BODY;
		t->bodies = nb;
		t->cap_bodies = cap;
	}
	t->bodies[t->n_bodies] = *b;
	return (__u32)t->n_bodies++;
}

static void body_unkey(struct fence_rule_info *b)
{
	memset(b->addr, 0, sizeof(b->addr));
	b->prefixlen = b->family = 0;
	b->freed_ns = 0;
}

/* Is body b (unkeyed) what info sets, its key aside? Compared in place,
 * around the key's fields: copies unkeyed on the stack and compared whole
 * were read back across the stores that unkeyed them (a first load of 1M
 * entries spent ~20 ms here). */
static bool body_same(const struct fence_rule_info *b, const struct fence_rule_info *info)
{
	const size_t after_key = offsetof(struct fence_rule_info, family) + 1,
		     freed = offsetof(struct fence_rule_info, freed_ns),
		     after_freed = freed + sizeof(info->freed_ns);

	return !memcmp((const char *)b + after_key, (const char *)info + after_key,
		       freed - after_key) &&
	       !memcmp((const char *)b + after_freed, (const char *)info + after_freed,
		       sizeof(*info) - after_freed);
}

/* The record an op sets, less its key, as a body: the last one again when
 * it is the same (a feed's new entries all are), else a new one. NO_BODY
 * when out of memory. */
static __u32 body_add(struct table *t, const struct fence_rule_info *info)
{
	struct fence_rule_info b;

	if (t->n_bodies && body_same(&t->bodies[t->n_bodies - 1], info))
		return (__u32)t->n_bodies - 1;
	b = *info;
	body_unkey(&b);
	return body_push(t, &b);
}

/* The whole record an op sets (with no body: the committed one, or zeros). */
void tbl_op_info(const struct table *t, const struct op *o, struct fence_rule_info *out)
{
	const struct fence_rule_info *in;

	if (o->body != NO_BODY)
		*out = t->bodies[o->body];
	else if (o->slot && (in = fence_info_at(t->m, o->slot)))
		*out = *in;
	else
		memset(out, 0, sizeof(*out));
	memcpy(out->addr, o->addr, 16);
	out->prefixlen = o->len;
	out->family = o->family;
	out->freed_ns = 0;
}

/* The op's record where a caller can read it until the next put or commit:
 * a body of its own, key included. */
static const struct fence_rule_info *op_own(struct table *t, struct op *o)
{
	struct fence_rule_info in;
	__u32 b;

	if (o->own)
		return &t->bodies[o->body];
	tbl_op_info(t, o, &in);
	b = body_push(t, &in);
	if (b == NO_BODY) {
		t->scratch = in;	/* no memory: good until the next call */
		return &t->scratch;
	}
	o->body = b;
	o->own = 1;
	return &t->bodies[b];
}

/* --- derived rule ----------------------------------------------------- */

void table_rule_from_info(const struct fence_rule_info *in, enum fence_kind kind,
			  struct fence_rule *r)
{
	__u8 action = FENCE_ACT_MAX;
	__u64 exp = 0;
	bool forever = false;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->family = in->family;
	if (kind != FENCE_KIND_DENY)
		return;
#define OWNER(bit, act, expires)					\
	if (in->owners & (bit)) {					\
		if ((act) < action)					\
			action = (act);					\
		if (!(expires))						\
			forever = true;					\
		else if ((expires) > exp)				\
			exp = (expires);				\
	}
	OWNER(FENCE_OWN_MANUAL, in->manual_action, in->manual_expires_ns)
	OWNER(FENCE_OWN_PROMOTED, in->promoted_action, in->promoted_expires_ns)
	OWNER(FENCE_OWN_FEED, in->feed_action, in->feed_expires_ns)
	OWNER(FENCE_OWN_FLEET, in->promoted_action, in->promoted_expires_ns)
#undef OWNER
	r->action = action < FENCE_ACT_MAX ? action : FENCE_ACT_DROP;
	r->expires_ns = forever ? 0 : exp;
	r->rate = in->rate;
	r->burst = in->burst;
	if (in->owners & FENCE_OWN_MANUAL)
		r->stat = FENCE_STAT_DROP_MANUAL;
	else if (in->owners & (FENCE_OWN_PROMOTED | FENCE_OWN_FLEET))
		r->stat = FENCE_STAT_DROP_PROMOTED;
	else
		r->stat = FENCE_STAT_DROP_FEED;
}

void table_info_cidr(const struct fence_rule_info *in, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = in->family == 4 ? AF_INET : AF_INET6;
	c->len = in->prefixlen;
	memcpy(c->addr, in->addr, 16);
}

/* --- public: open/close/stage ------------------------------------------ */

int table_open(struct table **tp, struct fence_maps *m)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->m = m;
	for (int i = 0; i < FS_COUNT; i++)
		t->st.fd[i] = -1;
	*tp = t;
	return 0;
}

void table_close(struct table *t)
{
	if (!t)
		return;
	if (!t->idx_store)
		free(t->idx.e);
	tbl_store_close(t);
	if (t->ops)
		munmap(t->ops, t->cap_ops * sizeof(*t->ops));
	free(t->op_idx.e);
	free(t->bodies);
	free(t->parent);
	keyload_close(t->kl);
	free(t);
}

const struct fence_rule_info *table_get(struct table *t, const struct cidr *c,
					enum fence_kind kind, __u32 *slot)
{
	struct op *o = op_get(t, c, kind, false);
	struct key k;
	__u32 s;

	if (o) {
		if (slot)
			*slot = o->slot;
		return o->del ? NULL : op_own(t, o);
	}
	tbl_key_of_cidr(c, kind, &k);
	s = tbl_idx_ready(t) ? 0 : tbl_idx_lookup(t, &k, tbl_key_hash(&k));
	if (slot)
		*slot = s;
	return s ? fence_info_at(t->m, s) : NULL;
}

/* The staged entry becomes info at c (no owners: deleted). */
static int op_set(struct table *t, struct op *o, const struct cidr *c,
		  const struct fence_rule_info *info)
{
	__u32 b = body_add(t, info);

	if (b == NO_BODY)
		return -ENOMEM;
	o->body = b;
	o->own = 0;
	o->family = c->family == AF_INET ? 4 : 6;
	o->len = c->len;
	memcpy(o->addr, c->addr, 16);
	o->del = !info->owners;
	return 0;
}

int table_put(struct table *t, const struct cidr *c, enum fence_kind kind,
	      const struct fence_rule_info *info)
{
	struct op *o;

	if (!info->owners)
		return table_del(t, c, kind);
	o = op_get(t, c, kind, true);
	if (!o)
		return -ENOMEM;
	return op_set(t, o, c, info);
}

int table_put_at(struct table *t, __u32 slot, const struct cidr *c, enum fence_kind kind,
		 const struct fence_rule_info *info)
{
	struct op *o = NULL;
	struct key k;

	if (t->op_idx.e)	/* lookups staged ops too: the key may be staged already */
		o = op_get(t, c, kind, false);
	if (!o) {
		tbl_key_of_cidr(c, kind, &k);
		o = op_new(t, &k, slot);
	}
	if (!o)
		return -ENOMEM;
	return op_set(t, o, c, info);
}

int table_del(struct table *t, const struct cidr *c, enum fence_kind kind)
{
	struct op *o = op_get(t, c, kind, true);

	if (!o)
		return -ENOMEM;
	o->del = 1;
	return 0;
}

size_t table_staged(const struct table *t)
{
	return t->n_ops;
}

void table_abort(struct table *t)
{
	t->n_ops = 0;
	t->n_bodies = 0;
	tbl_op_index_clear(t);
}

__u32 table_next(const struct table *t, __u32 after)
{
	if (!t->m->rules && fence_maps_slots(t->m))
		return 0;	/* a walk of every slot: the slots whole */
	for (__u32 s = after + 1; s < t->m->n_slots; s++)
		if (t->m->rules[s].kind != FENCE_KIND_FREE)
			return s;
	return 0;
}
