// SPDX-License-Identifier: GPL-2.0
/* user/core/table/index.c - the table's hash indexes: committed entries by key
 * (value: slot) and staged ops by key (value: op number + 1).
 *
 * Owns the key hash, the open-addressing tables and when each index is
 * built, grown or caught up. Reads the committed keys from info[] and
 * rules[]; must not write the maps, nor decide what an op means (api.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/table/internal.h"
#include "lib/util.h"

__u32 tbl_key_hash(const struct key *k)
{
	__u64 a, b, h;

	memcpy(&a, k->addr, 8);
	memcpy(&b, k->addr + 8, 8);
	h = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
	h ^= (__u64)k->len << 40 | (__u64)k->family << 48 | (__u64)k->kind << 56;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (__u32)h;
}

static bool key_eq_slot(const struct table *t, const struct key *k, __u32 slot)
{
	const struct fence_rule_info *in = fence_info_at(t->m, slot);
	const struct fence_rule *r = fence_rule_at(t->m, slot);

	return in && r && r->kind == k->kind && in->family == k->family &&
	       in->prefixlen == k->len && memcmp(in->addr, k->addr, 16) == 0;
}

static bool key_eq_op(const struct op *o, const struct key *k)
{
	return o->kind == k->kind && o->family == k->family && o->len == k->len &&
	       memcmp(o->addr, k->addr, 16) == 0;
}

/* false when the slot's pages cannot be mapped (out of memory) */
static bool key_of_slot(const struct table *t, __u32 slot, struct key *k)
{
	const struct fence_rule_info *in = fence_info_at(t->m, slot);
	const struct fence_rule *r = fence_rule_at(t->m, slot);

	if (!in || !r)
		return false;
	k->kind = r->kind;
	k->family = in->family;
	k->len = in->prefixlen;
	k->addr = in->addr;
	return true;
}

void tbl_key_of_cidr(const struct cidr *c, enum fence_kind kind, struct key *k)
{
	k->kind = kind;
	k->family = c->family == AF_INET ? 4 : 6;
	k->len = c->len;
	k->addr = c->addr;
}

typedef bool (*hx_eq_fn)(const struct table *t, __u32 val, const struct key *k);

static bool eq_op(const struct table *t, __u32 op1, const struct key *k)
{
	return key_eq_op(&t->ops[op1 - 1], k);
}

static __u64 *hx_find(const struct table *t, const struct hindex *h, __u32 hash, hx_eq_fn eq,
		      const struct key *k)
{
	for (__u32 i = hash & h->mask;; i = (i + 1) & h->mask) {
		__u64 e = h->e[i];

		if (!e || ((__u32)(e >> 32) == hash && eq(t, (__u32)e, k)))
			return &h->e[i];
	}
}

static __u64 hx_entry(__u32 hash, __u32 val)
{
	return (__u64)hash << 32 | val;
}

static int hx_init(struct hindex *h, __u32 want)
{
	__u32 cap = 1024;

	while (cap < want * 2)
		cap <<= 1;
	h->e = big_calloc(cap, sizeof(*h->e));
	h->mask = cap - 1;
	return h->e ? 0 : -ENOMEM;
}

/* The committed index: in memory (t->idx.e), or the store's, a cell at a
 * time (tbl_idx_cell); same layout, same probing as hx_find. */
static __u64 *idx_find(const struct table *t, __u32 hash, const struct key *k)
{
	for (__u32 i = hash & t->idx.mask;; i = (i + 1) & t->idx.mask) {
		__u64 *c = tbl_idx_cell(t, i), e = *c;

		if (!e || ((__u32)(e >> 32) == hash && key_eq_slot(t, k, (__u32)e)))
			return c;
	}
}

void tbl_idx_insert(struct table *t, __u32 slot)
{
	struct key k;
	__u32 hash;

	if (!key_of_slot(t, slot, &k))
		return;
	hash = tbl_key_hash(&k);
	*idx_find(t, hash, &k) = hx_entry(hash, slot);
}

/* Call while info[slot] still holds the entry's key. Backward-shift
 * deletion, as hx_remove. */
void tbl_idx_remove(struct table *t, __u32 slot)
{
	__u32 mask = t->idx.mask, i, j;
	struct key k;
	__u64 *c;

	if (!key_of_slot(t, slot, &k))
		return;
	c = idx_find(t, tbl_key_hash(&k), &k);
	if ((__u32)*c != slot)
		return;
	*c = 0;
	/* i: the hole; find its cell number again */
	for (i = tbl_key_hash(&k) & mask; tbl_idx_cell(t, i) != c; i = (i + 1) & mask)
		;
	for (j = (i + 1) & mask; *tbl_idx_cell(t, j); j = (j + 1) & mask) {
		__u64 e = *tbl_idx_cell(t, j);
		__u32 home = (__u32)(e >> 32) & mask;

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			*tbl_idx_cell(t, i) = e;
			*tbl_idx_cell(t, j) = 0;
			i = j;
		}
	}
}

/* The index of committed entries: the store's when it is valid; else built
 * in memory the first time a lookup needs it: bulk diffs that scan the
 * slots themselves (table_put_at) never pay for it. */
int tbl_idx_ready(struct table *t)
{
	if (t->idx.e || tbl_store_index(t))
		return 0;
	if (fence_maps_full(t->m))
		return -ENOMEM;
	if (hx_init(&t->idx, t->m->n_slots))
		return -ENOMEM;
	for (__u32 slot = 1; slot < t->m->n_slots; slot++)
		if (t->m->rules[slot].kind != FENCE_KIND_FREE)
			tbl_idx_insert(t, slot);
	return 0;
}

__u32 tbl_idx_lookup(const struct table *t, const struct key *k, __u32 hash)
{
	return (__u32)*idx_find(t, hash, k);
}

/* Ops staged by table_put_at go into op_idx only when a lookup needs it. */
static void op_catch_up(struct table *t)
{
	for (; t->n_indexed < t->n_ops; t->n_indexed++) {
		const struct op *o = &t->ops[t->n_indexed];
		struct key k = { o->kind, o->family, o->len, o->addr };
		__u32 hash = tbl_key_hash(&k);

		*hx_find(t, &t->op_idx, hash, eq_op, &k) = hx_entry(hash, (__u32)t->n_indexed + 1);
	}
}

/* The index of staged ops, sized for cap_ops and up to date. */
int tbl_op_index_ready(struct table *t)
{
	if (!t->op_idx.e || (size_t)t->op_idx.mask + 1 < t->cap_ops * 2) {
		free(t->op_idx.e);
		t->op_idx.e = NULL;
		if (hx_init(&t->op_idx, (__u32)t->cap_ops))
			return -ENOMEM;
		t->n_indexed = 0;
	}
	op_catch_up(t);
	return 0;
}

/* The staged op for key k: its number + 1, 0 if none. */
__u32 tbl_op_lookup(const struct table *t, const struct key *k, __u32 hash)
{
	return (__u32)*hx_find(t, &t->op_idx, hash, eq_op, k);
}

/* The ops have grown: an index that exists grows with them, so a lookup
 * never fails for room once one has succeeded. */
int tbl_op_index_grow(struct table *t)
{
	if (!t->op_idx.e)
		return 0;
	free(t->op_idx.e);
	t->op_idx.e = NULL;
	if (hx_init(&t->op_idx, (__u32)t->cap_ops))
		return -ENOMEM;
	t->n_indexed = 0;
	op_catch_up(t);
	return 0;
}

/* The stage is empty again, and so is its index (which keeps its size). */
void tbl_op_index_clear(struct table *t)
{
	t->n_indexed = 0;
	if (t->op_idx.e)
		memset(t->op_idx.e, 0, ((size_t)t->op_idx.mask + 1) * sizeof(*t->op_idx.e));
}
