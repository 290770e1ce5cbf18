/* user/core/table/table.c - stage, validate and publish allow/deny entries. See table.h.
 *
 * A commit sorts the live IPv4 entries by address and sweeps them once,
 * keeping a stack of the open (enclosing) allow and deny prefixes; inside
 * the /24s that the commit's added or removed prefixes cover it recomputes
 * every leaf (allow above deny, longest first) and every deny's parent,
 * diffs them against the mmap-ed table and writes only what differs.
 * Elsewhere the sweep only opens and closes prefixes. A repaint (asked for,
 * or after a writer died half way: see fence_meta.writing) sweeps all /24s,
 * which is also what a commit of very many changes does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "core/table.h"
#include "core/keyload.h"
#include "lib/util.h"


/* A staged change: the key, and the rest of the record as an index into
 * the table's bodies (a million feed entries share one: 32 bytes an op, not
 * a 128-byte record each, which on this kind of VM is mostly the cost of
 * touching fresh memory). */
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

struct table {
	struct fence_maps *m;
	struct hindex idx;		/* committed entries: value = slot; built on first use */
	struct op *ops;			/* staged changes */
	size_t n_ops, cap_ops;
	struct hindex op_idx;		/* value = op number + 1 */
	struct fence_rule_info *bodies;	/* what ops set, less their keys */
	size_t n_bodies, cap_bodies;
	struct fence_rule_info scratch;	/* table_get's answer when out of memory */
	size_t n_indexed;		/* ops [0, n_indexed) are in op_idx */
	/* scratch, kept between commits */
	bool repaint;			/* next commit repaints the whole IPv4 table */
	struct keyload *kl;		/* bulk deny_v4/allow_v4 keys; see keyloader() */
	bool kl_tried;
	__u32 *parent;			/* per slot */
};

struct key {
	__u8 kind, family, len;
	const __u8 *addr;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static __u32 key_hash(const struct key *k)
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
	const struct fence_rule_info *in = &t->m->info[slot];

	return t->m->rules[slot].kind == k->kind && in->family == k->family &&
	       in->prefixlen == k->len && memcmp(in->addr, k->addr, 16) == 0;
}

static bool key_eq_op(const struct op *o, const struct key *k)
{
	return o->kind == k->kind && o->family == k->family && o->len == k->len &&
	       memcmp(o->addr, k->addr, 16) == 0;
}

static void key_of_slot(const struct table *t, __u32 slot, struct key *k)
{
	const struct fence_rule_info *in = &t->m->info[slot];

	k->kind = t->m->rules[slot].kind;
	k->family = in->family;
	k->len = in->prefixlen;
	k->addr = in->addr;
}

/* Does an IPv4 entry have a key in deny_v4/allow_v4? Every allow does
 * (for inspection: allows are painted in the table); of the denies only
 * /32s, the one length the data path probes there. Shorter denies live in
 * tbl24/tbl8 alone: keying them too cost a first load ~40% more kernel
 * hash inserts for keys nothing reads. */
static bool v4_keyed(__u8 kind, __u8 len)
{
	return kind == FENCE_KIND_ALLOW || len == 32;
}

static void key_of_cidr(const struct cidr *c, enum fence_kind kind, struct key *k)
{
	k->kind = kind;
	k->family = c->family == AF_INET ? 4 : 6;
	k->len = c->len;
	k->addr = c->addr;
}

/* --- indexes ---------------------------------------------------------- */

typedef bool (*hx_eq_fn)(const struct table *t, __u32 val, const struct key *k);

static bool eq_slot(const struct table *t, __u32 slot, const struct key *k)
{
	return key_eq_slot(t, k, slot);
}

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

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void hx_remove(struct hindex *h, __u64 *slotp)
{
	__u32 i = slotp - h->e, j;

	h->e[i] = 0;
	for (j = (i + 1) & h->mask; h->e[j]; j = (j + 1) & h->mask) {
		__u32 home = (__u32)(h->e[j] >> 32) & h->mask;

		/* move j back to i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			h->e[i] = h->e[j];
			h->e[j] = 0;
			i = j;
		}
	}
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

static void idx_insert(struct table *t, __u32 slot)
{
	struct key k;
	__u32 hash;

	key_of_slot(t, slot, &k);
	hash = key_hash(&k);
	*hx_find(t, &t->idx, hash, eq_slot, &k) = hx_entry(hash, slot);
}

/* Call while info[slot] still holds the entry's key. */
static void idx_remove(struct table *t, __u32 slot)
{
	struct key k;
	__u64 *e;

	key_of_slot(t, slot, &k);
	e = hx_find(t, &t->idx, key_hash(&k), eq_slot, &k);
	if ((__u32)*e != slot)
		return;
	hx_remove(&t->idx, e);
}

/* The index of committed entries, built the first time a lookup needs it:
 * bulk diffs that scan the slots themselves (table_put_at) never pay for it. */
static int idx_ready(struct table *t)
{
	if (t->idx.e)
		return 0;
	if (hx_init(&t->idx, t->m->n_slots))
		return -ENOMEM;
	for (__u32 slot = 1; slot < t->m->n_slots; slot++)
		if (t->m->rules[slot].kind != FENCE_KIND_FREE)
			idx_insert(t, slot);
	return 0;
}

static __u32 idx_lookup(const struct table *t, const struct key *k, __u32 hash)
{
	return (__u32)*hx_find(t, &t->idx, hash, eq_slot, k);
}

/* --- staged ops ------------------------------------------------------- */

/* Large buffers come pre-faulted: one populate is far cheaper than a page
 * fault per 4 KiB, which costs microseconds on a paravirtualised guest. */
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

/* Ops staged by table_put_at go into op_idx only when a lookup needs it. */
static void op_catch_up(struct table *t)
{
	for (; t->n_indexed < t->n_ops; t->n_indexed++) {
		const struct op *o = &t->ops[t->n_indexed];
		struct key k = { o->kind, o->family, o->len, o->addr };
		__u32 hash = key_hash(&k);

		*hx_find(t, &t->op_idx, hash, eq_op, &k) = hx_entry(hash, (__u32)t->n_indexed + 1);
	}
}

static int op_grow_to(struct table *t, size_t cap)
{
	struct op *ops = big_realloc(t->ops, t->cap_ops * sizeof(*ops), cap * sizeof(*ops));

	if (!ops)
		return -ENOMEM;
	t->ops = ops;
	t->cap_ops = cap;
	/* an index that exists grows with the ops, so a lookup never fails
	 * for room once one has succeeded */
	if (t->op_idx.e) {
		free(t->op_idx.e);
		t->op_idx.e = NULL;
		if (hx_init(&t->op_idx, (__u32)t->cap_ops))
			return -ENOMEM;
		t->n_indexed = 0;
		op_catch_up(t);
	}
	return 0;
}

static int op_grow(struct table *t)
{
	return op_grow_to(t, t->cap_ops ? t->cap_ops * 2 : 1024);
}

int table_reserve(struct table *t, size_t n)
{
	return n > t->cap_ops ? op_grow_to(t, n) : 0;
}

/* The index of staged ops, sized for cap_ops and up to date. */
static int op_index_ready(struct table *t)
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
	__u32 hash;
	__u64 *p;

	key_of_cidr(c, kind, &k);
	hash = key_hash(&k);
	if (t->n_ops) {
		if (op_index_ready(t))
			return NULL;
		p = hx_find(t, &t->op_idx, hash, eq_op, &k);
		if (*p)
			return &t->ops[(__u32)*p - 1];
	}
	if (!create || idx_ready(t))
		return NULL;
	return op_new(t, &k, idx_lookup(t, &k, hash));	/* indexed at the next lookup */
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

/* The record an op sets, less its key, as a body: the last one again when
 * it is the same (a feed's new entries all are), else a new one. NO_BODY
 * when out of memory. */
static __u32 body_add(struct table *t, const struct fence_rule_info *info)
{
	struct fence_rule_info b = *info, last;

	body_unkey(&b);
	if (t->n_bodies) {
		last = t->bodies[t->n_bodies - 1];
		body_unkey(&last);
		if (!memcmp(&last, &b, sizeof(b)))
			return (__u32)t->n_bodies - 1;
	}
	return body_push(t, &b);
}

/* The whole record an op sets (with no body: the committed one, or zeros). */
static void op_info(const struct table *t, const struct op *o, struct fence_rule_info *out)
{
	if (o->body != NO_BODY)
		*out = t->bodies[o->body];
	else if (o->slot)
		*out = t->m->info[o->slot];
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
	op_info(t, o, &in);
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
#undef OWNER
	r->action = action < FENCE_ACT_MAX ? action : FENCE_ACT_DROP;
	r->expires_ns = forever ? 0 : exp;
	r->rate = in->rate;
	r->burst = in->burst;
	if (in->owners & FENCE_OWN_MANUAL)
		r->stat = FENCE_STAT_DROP_MANUAL;
	else if (in->owners & FENCE_OWN_PROMOTED)
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
	t->parent = big_calloc(m->n_slots, sizeof(*t->parent));
	if (!t->parent) {
		table_close(t);
		return -ENOMEM;
	}
	*tp = t;
	return 0;
}

void table_close(struct table *t)
{
	if (!t)
		return;
	free(t->idx.e);
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
	key_of_cidr(c, kind, &k);
	s = idx_ready(t) ? 0 : idx_lookup(t, &k, key_hash(&k));
	if (slot)
		*slot = s;
	return s ? &t->m->info[s] : NULL;
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
		key_of_cidr(c, kind, &k);
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
	t->n_indexed = 0;
	if (t->op_idx.e)
		memset(t->op_idx.e, 0, ((size_t)t->op_idx.mask + 1) * sizeof(*t->op_idx.e));
}

__u32 table_next(const struct table *t, __u32 after)
{
	for (__u32 s = after + 1; s < t->m->n_slots; s++)
		if (t->m->rules[s].kind != FENCE_KIND_FREE)
			return s;
	return 0;
}

/* --- IPv4 image ---------------------------------------------------------- */

/* A live IPv4 entry, sortable: by address, then length (an enclosing prefix
 * before what it encloses), deny before allow at the same prefix. */
struct v4e {
	__u64 key;			/* addr << 7 | len << 1 | allow */
	__u32 slot;
	__u32 pad;
};

static __u32 e_addr(const struct v4e *e) { return (__u32)(e->key >> 7); }
static __u32 e_len(const struct v4e *e) { return (__u32)(e->key >> 1) & 63; }
static bool e_allow(const struct v4e *e) { return e->key & 1; }
static __u32 e_start24(const struct v4e *e) { return e_addr(e) >> 8; }
/* first /24 after the entry; entries of /0../24 only */
static __u32 e_end24(const struct v4e *e) { return e_start24(e) + (1U << (24 - e_len(e))); }

static __u64 v4e_key(__u32 addr, __u32 len, bool allow)
{
	return (__u64)addr << 7 | len << 1 | allow;
}

/* LSD radix sort on the 39 key bits, three passes of 13. */
static int v4e_sort(struct v4e **ep, size_t n)
{
	struct v4e *e = *ep, *tmp;
	size_t *cnt;

	if (n < 2)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	cnt = malloc(8192 * sizeof(*cnt));
	if (!tmp || !cnt) {
		free(tmp);
		free(cnt);
		return -ENOMEM;
	}
	prefault(tmp, n * sizeof(*tmp));
	for (int shift = 0; shift < 39; shift += 13) {
		size_t sum = 0;

		memset(cnt, 0, 8192 * sizeof(*cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(e[i].key >> shift) & 8191]++;
		if (cnt[(e[0].key >> shift) & 8191] == n)
			continue;	/* one digit for all: already in order */
		for (size_t d = 0; d < 8192; d++) {
			size_t c = cnt[d];

			cnt[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[cnt[(e[i].key >> shift) & 8191]++] = e[i];
		struct v4e *x = e;

		e = tmp;
		tmp = x;
	}
	free(cnt);
	free(tmp);	/* whichever buffer does not hold the result */
	*ep = e;
	return 0;
}

/* A range of /24s whose leaves must be recomputed: [lo, hi). */
struct span {
	__u32 lo, hi;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The /24s an IPv4 prefix paints. */
static struct span v4_span(__u32 addr, __u32 len)
{
	struct span s = { addr >> 8, (addr >> 8) + 1 };

	if (len < 24)
		s.hi = s.lo + (1U << (24 - len));
	return s;
}

/* Sort and merge spans in place; returns how many are left. */
static size_t spans_merge(struct span *s, size_t n)
{
	size_t k = 0;

	qsort(s, n, sizeof(*s), span_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && s[i].lo <= s[k - 1].hi) {
			if (s[i].hi > s[k - 1].hi)
				s[k - 1].hi = s[i].hi;
		} else {
			s[k++] = s[i];
		}
	}
	return k;
}

/* Set the bits of the /24s in the (merged) spans. */
static void spans_mark(__u64 *bits, const struct span *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		__u32 x = s[i].lo;

		for (; x < s[i].hi && (x & 63); x++)
			bits[x >> 6] |= 1ULL << (x & 63);
		for (; x + 64 <= s[i].hi; x += 64)
			bits[x >> 6] = ~0ULL;
		for (; x < s[i].hi; x++)
			bits[x >> 6] |= 1ULL << (x & 63);
	}
}

/* Does the IPv4 prefix paint or enclose a /24 of the merged spans (whose
 * bits are marked)? /24 and longer: its bit; shorter: the first span that
 * ends after its start must begin before its end. */
static bool in_spans(const __u64 *bits, const struct span *s, size_t n, __u32 addr, __u32 len)
{
	struct span p = v4_span(addr, len);
	size_t lo = 0, hi = n;

	if (len >= 24)
		return bits[p.lo >> 6] >> (p.lo & 63) & 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s[mid].hi <= p.lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && s[lo].lo < p.hi;
}

#define NO_GROUP	0xffffffffU
#define SPANS_MAX	65536	/* more changed prefixes than this: repaint all */

/* What the sweep found: leaves to write, groups, parents. */
struct sweep {
	/* leaves [x, x + n) of tbl24 become v (never an EXT leaf) */
	struct run { __u32 x, n, v; } *runs;
	size_t n_runs, cap_runs;
	/* /24s that need /25../32 detail: their leaves, in local groups */
	struct ext { __u32 x, lg, ph, host; bool fresh; } *ext;	/* ph: physical group */
	size_t n_ext, cap_ext;
	__u32 *g;
	size_t ng, cap_g;
	__u32 *freed;			/* physical groups no leaf will name */
	size_t n_freed, cap_freed;
	__u32 *par;			/* deny slots whose parent was computed (t->parent) */
	size_t n_par, cap_par;
	__u32 n_fresh;
};

static void sweep_free(struct sweep *w)
{
	free(w->runs);
	free(w->ext);
	free(w->g);
	free(w->freed);
	free(w->par);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 1024;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*p, c * size);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

#define PUSH(w, arr, n, cap, val) \
	(grow((void **)&(w)->arr, &(w)->cap, (w)->n + 1, sizeof(*(w)->arr)) ? -ENOMEM : \
	 ((w)->arr[(w)->n++] = (val), 0))

/* Room for what a sweep over n entries writes, reserved at once: room
 * never written costs nothing, while growing by doubling writes (copies)
 * about twice the final size into fresh memory, dear on this kind of VM. */
static int sweep_reserve(struct sweep *w, size_t n, __u32 n_groups)
{
	size_t groups = n < n_groups ? n : n_groups;

	if (grow((void **)&w->runs, &w->cap_runs, 2 * n + 2, sizeof(*w->runs)) ||
	    grow((void **)&w->ext, &w->cap_ext, groups + 1, sizeof(*w->ext)) ||
	    grow((void **)&w->g, &w->cap_g, (groups + 1) * FENCE_TBL8_GROUP, sizeof(*w->g)) ||
	    grow((void **)&w->par, &w->cap_par, n + 1, sizeof(*w->par)))
		return -ENOMEM;
	return 0;
}

static int note_parent(struct table *t, struct sweep *w, __u32 slot, __u32 parent)
{
	t->parent[slot] = parent;
	return PUSH(w, par, n_par, cap_par, slot);
}

/* Leaves [x, y) become v; note what differs from the live table. */
static int sweep_set(struct table *t, struct sweep *w, __u32 x, __u32 y, __u32 v)
{
	const struct fence_maps *m = t->m;

	for (; x < y; x++) {
		__u32 cur = m->tbl24[x];

		if (cur == v)
			continue;
		if ((cur & FENCE_LEAF_EXT) && (cur & FENCE_LEAF_IDX) < m->n_groups &&
		    PUSH(w, freed, n_freed, cap_freed, cur & FENCE_LEAF_IDX))
			return -ENOMEM;
		if (w->n_runs && w->runs[w->n_runs - 1].v == v &&
		    w->runs[w->n_runs - 1].x + w->runs[w->n_runs - 1].n == x) {
			w->runs[w->n_runs - 1].n++;
			continue;
		}
		if (PUSH(w, runs, n_runs, cap_runs, ((struct run){ x, 1, v })))
			return -ENOMEM;
	}
	return 0;
}

static void fill(__u32 *leaf, __u32 n, __u32 v)
{
	for (__u32 i = 0; i < n; i++)
		leaf[i] = v;
}

/* The /24 x holds entries longer than /24: e[0..n). Below them, the
 * longest covering deny and allow of /24 or shorter (slots, 0 = none). */
static int sweep_detail(struct table *t, struct sweep *w, __u32 x, const struct v4e *e, size_t n,
			__u32 deny, __u32 allow)
{
	const struct fence_maps *m = t->m;
	bool host = false, detail = false;
	__u32 v, *g, cur = m->tbl24[x];
	size_t i;

	for (i = 0; i < n; i++) {
		if (e_allow(&e[i]) || e_len(&e[i]) < 32)
			detail = true;
		else
			host = true;
	}
	if (!detail) {
		for (i = 0; i < n; i++)
			if (note_parent(t, w, e[i].slot, deny))
				return -ENOMEM;
		v = allow ? allow : deny;
		return sweep_set(t, w, x, x + 1, v | (host ? FENCE_LEAF_HOST : 0));
	}
	if (grow((void **)&w->g, &w->cap_g, (w->ng + 1) * FENCE_TBL8_GROUP, sizeof(*w->g)))
		return -ENOMEM;
	g = &w->g[w->ng * FENCE_TBL8_GROUP];
	/* denies in order: an enclosing one first, so the longest wins; what
	 * lies under a deny's first address before it is painted is its parent */
	fill(g, FENCE_TBL8_GROUP, deny);
	for (i = 0; i < n; i++) {
		__u32 off = e_addr(&e[i]) & 0xff, len = e_len(&e[i]);

		if (e_allow(&e[i]))
			continue;
		if (note_parent(t, w, e[i].slot, g[off]))
			return -ENOMEM;
		if (len < 32)
			fill(g + off, 1U << (32 - len), e[i].slot);
	}
	/* allows above every deny */
	if (allow)
		fill(g, FENCE_TBL8_GROUP, allow);
	for (i = 0; i < n; i++)
		if (e_allow(&e[i]))
			fill(g + (e_addr(&e[i]) & 0xff), 1U << (32 - e_len(&e[i])), e[i].slot);
	for (i = 1; i < FENCE_TBL8_GROUP && g[i] == g[0]; i++)
		;
	if (i == FENCE_TBL8_GROUP)	/* uniform: no group needed */
		return sweep_set(t, w, x, x + 1, g[0] | (host ? FENCE_LEAF_HOST : 0));
	struct ext xe = { x, w->ng++, NO_GROUP, host ? FENCE_LEAF_HOST : 0, false };

	if ((cur & FENCE_LEAF_EXT) && (cur & FENCE_LEAF_IDX) < m->n_groups)
		xe.ph = cur & FENCE_LEAF_IDX;	/* the /24 keeps its group */
	else
		w->n_fresh++;
	return PUSH(w, ext, n_ext, cap_ext, xe);
}

/* Open entries of /0../24, one stack per kind: nested, longest on top. */
struct stack {
	const struct v4e *e[33];
	int n;
};

static void stack_pop(struct stack *s, __u32 x)
{
	while (s->n && e_end24(s->e[s->n - 1]) <= x)
		s->n--;
}

static __u32 stack_top(const struct stack *s)
{
	return s->n ? s->e[s->n - 1]->slot : 0;
}

/* Recompute the leaves of the spans (sorted, disjoint) from the entries
 * (sorted) and the parents of the denies that start in them. */
static int sweep_run(struct table *t, struct sweep *w, const struct v4e *e, size_t n,
		     const struct span *sp, size_t n_sp)
{
	struct stack st[2] = {};	/* deny, allow */
	size_t i = 0;
	int ret;

	ret = sweep_reserve(w, n, t->m->n_groups);
	if (ret)
		return ret;
	for (size_t k = 0; k < n_sp; k++) {
		__u32 x = sp[k].lo, hi = sp[k].hi;

		/* entries before the span only open and close */
		for (; i < n && e_start24(&e[i]) < x; i++) {
			struct stack *s = &st[e_allow(&e[i])];

			if (e_len(&e[i]) > 24)
				continue;
			stack_pop(s, e_start24(&e[i]));
			s->e[s->n++] = &e[i];
		}
		while (x < hi) {
			__u32 y = hi;

			stack_pop(&st[0], x);
			stack_pop(&st[1], x);
			for (; i < n && e_start24(&e[i]) == x && e_len(&e[i]) <= 24; i++) {
				struct stack *s = &st[e_allow(&e[i])];

				if (!e_allow(&e[i]) && note_parent(t, w, e[i].slot, stack_top(s)))
					return -ENOMEM;
				s->e[s->n++] = &e[i];
			}
			if (i < n && e_start24(&e[i]) == x) {
				size_t j = i;

				while (j < n && e_start24(&e[j]) == x)
					j++;
				ret = sweep_detail(t, w, x, &e[i], j - i, stack_top(&st[0]),
						   stack_top(&st[1]));
				if (ret)
					return ret;
				i = j;
				x++;
				continue;
			}
			/* nothing starts here: the leaf holds until something
			 * starts or an open entry ends */
			if (i < n && e_start24(&e[i]) < y)
				y = e_start24(&e[i]);
			for (int s = 0; s < 2; s++)
				if (st[s].n && e_end24(st[s].e[st[s].n - 1]) < y)
					y = e_end24(st[s].e[st[s].n - 1]);
			ret = sweep_set(t, w, x, y, st[1].n ? stack_top(&st[1]) : stack_top(&st[0]));
			if (ret)
				return ret;
			x = y;
		}
	}
	return 0;
}

static __u32 v4_host(const __u8 *addr)
{
	__u32 a;

	memcpy(&a, addr, 4);
	return ntohl(a);
}

/* --- commit ------------------------------------------------------------ */

static bool quarantined(__u64 freed, __u64 now)
{
	return freed && now - freed < FENCE_QUARANTINE_NS;
}

/* Pick n free slots; waits out the quarantine of recently freed ones when
 * only they are left. Slots in the current stage's deletions are not free
 * yet (they are released after this commit). */
static int alloc_slots(struct table *t, __u32 n, __u32 *out, char *err, size_t errlen)
{
	struct fence_maps *m = t->m;
	__u32 got = 0, waiting = 0;
	__u64 now = fence_now_ns(), wake = 0;

	if (!n)
		return 0;
	for (__u32 s = 1; s < m->n_slots && got < n; s++) {
		if (m->rules[s].kind != FENCE_KIND_FREE)
			continue;
		if (quarantined(m->info[s].freed_ns, now)) {
			waiting++;
			if (!wake || m->info[s].freed_ns + FENCE_QUARANTINE_NS > wake)
				wake = m->info[s].freed_ns + FENCE_QUARANTINE_NS;
			continue;
		}
		out[got++] = s;
	}
	if (got == n)
		return 0;
	if (got + waiting < n) {
		seterr(err, errlen, "no room: %u entries requested, %u rule slots free of %u "
		       "(raise the capacity at first attach)", n, got + waiting, m->n_slots - 1);
		return -ENOSPC;
	}
	now = fence_now_ns();
	if (wake > now) {
		struct timespec ts = { (wake - now) / 1000000000ULL, (wake - now) % 1000000000ULL };

		nanosleep(&ts, NULL);
	}
	return alloc_slots(t, n, out, err, errlen);
}

static void store32(__u32 *p, __u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void store64(__u64 *p, __u64 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Existing slot: change the fields the data path reads that differ, each
 * atomically, in an order where every intermediate state is a policy
 * someone asked for; true if any did. */
static bool rule_update(struct fence_rule *cur, const struct fence_rule *r)
{
	bool changed = cur->rate != r->rate || cur->burst != r->burst ||
		       cur->expires_ns != r->expires_ns || cur->stat != r->stat ||
		       cur->action != r->action;

	if (cur->rate != r->rate)
		store32(&cur->rate, r->rate);
	if (cur->burst != r->burst)
		store32(&cur->burst, r->burst);
	if (cur->expires_ns != r->expires_ns)
		store64(&cur->expires_ns, r->expires_ns);
	if (cur->stat != r->stat)
		__atomic_store_n(&cur->stat, r->stat, __ATOMIC_RELEASE);
	if (cur->action != r->action)
		__atomic_store_n(&cur->action, r->action, __ATOMIC_RELEASE);
	return changed;
}

/* Map-wide batch update in as few syscalls as the kernel allows. vsz is
 * the size of one element's value as the syscall wants it (per-CPU maps:
 * one 8-byte-aligned slot per possible CPU). */
static int batch_update_one(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
			    __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	__u32 done = 0;

	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_update_batch(fd, (const char *)keys + done * ksz,
					 (const char *)vals + done * vsz, &cnt, &o))
			return -errno;
		done += cnt;
	}
	return 0;
}

static int batch_delete(int fd, void *keys, size_t ksz, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 done = 0;

	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_delete_batch(fd, (char *)keys + done * ksz, &cnt, &o)) {
			if (errno != ENOENT)
				return -errno;
			/* an entry already gone: skip it and go on */
			cnt++;
		}
		done += cnt;
	}
	return 0;
}

/* Bulk deny_v4/allow_v4 keys go through the key loader (bpf/keyload.bpf.c:
 * a third less kernel work than the batch syscalls) when this kernel runs
 * it and there are enough of them to pay for it: loading it (the verifier)
 * takes ~25 ms here, what the batch syscalls take for ~60k keys; once
 * loaded (for as long as t is open: `xdpfence run` opens t afresh for
 * each commit) it pays from a few thousand. Called first on the thread
 * that owns t: threads it starts then find it ready. */
#define KEYLOAD_MIN_OPEN	65536
#define KEYLOAD_MIN		4096

static struct keyload *keyloader(struct table *t, size_t n)
{
	if (n < (t->kl ? KEYLOAD_MIN : KEYLOAD_MIN_OPEN))
		return NULL;
	if (!t->kl_tried) {
		t->kl = keyload_open(t->m);
		t->kl_tried = true;
	}
	return t->kl;
}

/* A bulk put (vals != NULL) or delete of n keys of one map: by the key
 * loader when kl is set (deny_v4/allow_v4, map = FENCE_KEYLOAD_*), else by
 * the batch syscalls. */
struct bulk {
	struct keyload *kl;
	int map, fd;
	const void *keys, *vals;
	size_t ksz, vsz;
	__u32 n;
	int ret;
};

static void *bulk_run(void *arg)
{
	struct bulk *b = arg;

	if (b->kl)
		b->ret = keyload_run(b->kl, b->map, b->keys, b->vals, b->n);
	else if (b->vals)
		b->ret = batch_update_one(b->fd, b->keys, b->ksz, b->vals, b->vsz, b->n);
	else
		b->ret = batch_delete(b->fd, (void *)b->keys, b->ksz, b->n);
	return NULL;
}

/* Big batches go half to a second thread: hash inserts cost about a
 * microsecond each in the kernel (bucket lock, allocation) and the buckets
 * lock independently, so two CPUs nearly halve a million-entry load. */
static int bulk_split(struct bulk a)
{
	struct bulk b = a;
	pthread_t th;

	if (a.n >= 65536) {
		a.n /= 2;
		b.keys = (const char *)a.keys + (size_t)a.n * a.ksz;
		b.vals = a.vals ? (const char *)a.vals + (size_t)a.n * a.vsz : NULL;
		b.n -= a.n;
		if (!pthread_create(&th, NULL, bulk_run, &b)) {
			bulk_run(&a);
			pthread_join(th, NULL);
			return a.ret ? a.ret : b.ret;
		}
		a.n += b.n;	/* no thread: all of it here */
	}
	bulk_run(&a);
	return a.ret;
}

static int batch_update(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, __u32 n)
{
	return bulk_split((struct bulk){ .fd = fd, .keys = keys, .vals = vals, .ksz = ksz,
					 .vsz = vsz, .n = n });
}

/* Put (v != NULL) or delete n keys of deny_v4 or allow_v4 (FENCE_KEYLOAD_*). */
static int v4_keys(struct table *t, int map, const struct fence_v4_key *k,
		   const struct fence_slot *v, __u32 n)
{
	if (!n)
		return 0;	/* t may be NULL then (early keys never started) */
	return bulk_split((struct bulk){
		.kl = keyloader(t, n), .map = map,
		.fd = t->m->fd[map == FENCE_KEYLOAD_ALLOW_V4 ? FM_ALLOW_V4 : FM_DENY_V4],
		.keys = k, .vals = v, .ksz = sizeof(*k), .vsz = sizeof(*v), .n = n });
}

struct v6ent {
	__u8 addr[16];
	__u8 len;
	__u32 slot;
};

static int v6_cmp(const void *a, const void *b)
{
	const struct v6ent *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : (int)x->len - (int)y->len;
}

static struct v6ent v6_ent(const struct fence_rule_info *in, __u32 slot)
{
	struct v6ent e = { .len = in->prefixlen, .slot = slot };

	memcpy(e.addr, in->addr, 16);
	return e;
}

static bool v6_contains(const struct v6ent *o, const struct v6ent *i)
{
	int full = o->len / 8, rem = o->len % 8;

	if (o->len > i->len || memcmp(o->addr, i->addr, full))
		return false;
	return !rem || ((o->addr[full] ^ i->addr[full]) & (0xff << (8 - rem))) == 0;
}

/* Which tbl8 groups a tbl24 leaf names now: a calloc-ed byte per group
 * (the caller frees it; NULL when out of memory), *used of them named. */
static __u8 *groups_named(const struct fence_maps *m, __u32 *used)
{
	__u8 *gref = calloc(m->n_groups + 1, 1);

	*used = 0;
	for (__u32 i = 0; gref && i < FENCE_TBL24_ENTRIES; i++) {
		__u32 g = m->tbl24[i] & FENCE_LEAF_IDX;

		if ((m->tbl24[i] & FENCE_LEAF_EXT) && g < m->n_groups && !gref[g]) {
			gref[g] = 1;
			(*used)++;
		}
	}
	return gref;
}

/* Give each /24 that needs a fresh group one that no leaf names now and
 * that is out of quarantine (waiting it out if only quarantined ones are
 * left). Groups freed by this commit are not reused by it. */
static int groups_assign(struct table *t, struct sweep *w, char *err, size_t errlen)
{
	const struct fence_maps *m = t->m;
	__u32 used, next;
	__u8 *gref;
	__u64 now, wake;
	int ret = 0;

	if (!w->n_fresh)
		return 0;
	gref = groups_named(m, &used);
	if (!gref)
		return -ENOMEM;
	if (used - w->n_freed + w->n_fresh > m->n_groups) {
		seterr(err, errlen, "no room: %zu /24s need /25../31 detail, the table has %u groups "
		       "(raise the capacity at first attach)", used - w->n_freed + w->n_fresh,
		       m->n_groups);
		ret = -ENOSPC;
		goto out;
	}
retry:
	now = fence_now_ns();
	wake = 0;
	next = 0;
	for (size_t k = 0; k < w->n_ext; k++) {
		struct ext *xe = &w->ext[k];

		if (xe->ph != NO_GROUP && !xe->fresh)
			continue;
		while (next < m->n_groups &&
		       (gref[next] || quarantined(m->tbl8_state[next].freed_ns, now))) {
			if (!gref[next] && (!wake || m->tbl8_state[next].freed_ns < wake))
				wake = m->tbl8_state[next].freed_ns;
			next++;
		}
		if (next == m->n_groups) {
			if (!wake) {
				if (w->n_freed)
					seterr(err, errlen, "no room: out of tbl8 groups (%u); this commit "
					       "frees %zu, which it cannot reuse while /24s still name "
					       "them: apply the removals first", m->n_groups, w->n_freed);
				else
					seterr(err, errlen, "no room: out of tbl8 groups (%u)", m->n_groups);
				ret = -ENOSPC;
				goto out;
			}
			wake += FENCE_QUARANTINE_NS;
			now = fence_now_ns();
			if (wake > now) {
				struct timespec ts = { (wake - now) / 1000000000ULL,
						       (wake - now) % 1000000000ULL };

				nanosleep(&ts, NULL);
			}
			goto retry;
		}
		xe->ph = next++;
		xe->fresh = 1;
	}
out:
	free(gref);
	return ret;
}

/* Did a writer die half way through a commit (it left the mark below)? */
bool table_interrupted(struct table *t)
{
	struct fence_meta meta;

	return !fence_read_meta(t->m, &meta) && meta.writing;
}

bool table_outdated(struct table *t)
{
	struct fence_meta meta;

	return !fence_read_meta(t->m, &meta) && meta.version < FENCE_META_VERSION;
}

/* The commit mark; a repair that ends (on == 0, upgrade) also records
 * that the maps now follow this build's layout (fence_meta.version). */
static int mark_writing(struct table *t, __u8 on, bool upgrade)
{
	struct fence_meta meta;
	__u32 key = 0;
	int ret;

	ret = fence_read_meta(t->m, &meta);
	if (ret)
		return ret;
	if (upgrade && meta.version < FENCE_META_VERSION)
		meta.version = FENCE_META_VERSION;
	else if (meta.writing == on)
		return 0;
	meta.writing = on;
	return bpf_map_update_elem(t->m->fd[FM_META], &key, &meta, BPF_ANY) ? -errno : 0;
}

/* Is slot s a live entry of this kind and family, keyed by (len, addr)? */
static bool slot_keyed(const struct fence_maps *m, __u32 s, __u8 kind, __u8 family, __u32 len,
		       const __u8 *addr)
{
	return s && s < m->n_slots && m->rules[s].kind == kind && m->rules[s].family == family &&
	       m->info[s].prefixlen == len && !memcmp(m->info[s].addr, addr, family == 4 ? 4 : 16);
}

/* Delete the keys of map fd (ksz bytes each) that keep() refuses, each
 * counted in *fixed. Deletes after the walk: deleting the key a hash walk
 * stands on restarts it from the first bucket. */
static int map_prune(int fd, size_t ksz, bool (*keep)(const void *key, void *ctx), void *ctx,
		     __u32 *fixed)
{
	__u8 key[32], next[32], *stale = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int ret = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		if (keep(key, ctx))
			continue;
		if (n == cap) {
			void *p = realloc(stale, (cap = cap ? cap * 2 : 64) * ksz);

			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			stale = p;
		}
		memcpy(stale + n++ * ksz, key, ksz);
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_delete_elem(fd, stale + i * ksz) && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		(*fixed)++;
	}
out:
	free(stale);
	return ret;
}

struct resync {
	const struct fence_maps *m;
	int fd;
	__u8 kind, family;
	__u8 *seen;			/* per slot: a key names it */
};

/* A key that names a live slot of the map's kind and family under its own
 * prefix stays (the first one for each slot). */
static bool key_live(const void *key, void *ctx)
{
	struct resync *r = ctx;
	struct fence_slot v;
	__u32 len;

	memcpy(&len, key, 4);
	if (r->family == 4 && !v4_keyed(r->kind, len))
		return false;	/* maps of an older layout keyed every deny */
	if (bpf_map_lookup_elem(r->fd, key, &v))
		return true;	/* gone under us: no other writer, so cannot be */
	if (!slot_keyed(r->m, v.slot, r->kind, r->family, len, (const __u8 *)key + 4) ||
	    r->seen[v.slot])
		return false;
	r->seen[v.slot] = 1;
	return true;
}

/* Make one exact-prefix map (hash or trie) name exactly the live slots of
 * its kind and family: keys whose slot is free or holds another entry go,
 * live slots it lacks come in. A writer that dies between publishing a slot
 * and keying it (or between unkeying and freeing one) leaves such gaps. */
static int keys_resync(struct table *t, int fd, __u8 kind, __u8 family, struct table_stats *st)
{
	const struct fence_maps *m = t->m;
	size_t ksz = family == 4 ? sizeof(struct fence_v4_key) : sizeof(struct fence_v6_key);
	struct resync r = { m, fd, kind, family, calloc(m->n_slots, 1) };
	__u8 key[sizeof(struct fence_v6_key)];
	int ret;

	if (!r.seen)
		return -ENOMEM;
	ret = map_prune(fd, ksz, key_live, &r, &st->keys_fixed);
	for (__u32 s = 1; !ret && s < m->n_slots; s++) {
		struct fence_slot v = { s };
		__u32 len;

		if (r.seen[s] || m->rules[s].kind != kind || m->rules[s].family != family ||
		    (family == 4 && !v4_keyed(kind, m->info[s].prefixlen)))
			continue;
		memset(key, 0, sizeof(key));
		len = m->info[s].prefixlen;
		memcpy(key, &len, 4);
		memcpy(key + 4, m->info[s].addr, family == 4 ? 4 : 16);
		if (bpf_map_update_elem(fd, key, &v, BPF_ANY))
			ret = -errno;
		else
			st->keys_fixed++;
	}
	free(r.seen);
	return ret;
}

/* A throttle bucket stays while its slot is a throttling deny. */
static bool bucket_live(const void *key, void *ctx)
{
	const struct fence_maps *m = ctx;
	__u32 slot;

	memcpy(&slot, key, sizeof(slot));
	return slot < m->n_slots && m->rules[slot].kind == FENCE_KIND_DENY &&
	       m->rules[slot].action == FENCE_ACT_THROTTLE;
}

/* After a writer died half way: the exact-prefix maps again name exactly
 * the live slots; throttle buckets of slots no longer throttled go; tbl8
 * groups no leaf names are quarantined as if just freed (the dead writer
 * may have unlinked some without stamping them). The commit that follows
 * repaints the whole IPv4 table from the slots. */
static int recover(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	struct fence_maps *m = t->m;
	static const struct { int map; __u8 kind, family; } km[] = {
		{ FM_DENY_V4, FENCE_KIND_DENY, 4 }, { FM_ALLOW_V4, FENCE_KIND_ALLOW, 4 },
		{ FM_DENY_V6, FENCE_KIND_DENY, 6 }, { FM_ALLOW_V6, FENCE_KIND_ALLOW, 6 },
	};
	__u8 *gref;
	__u32 used;
	__u64 now = fence_now_ns();
	int ret;

	ret = mark_writing(t, 1, false);
	if (ret) {
		seterr(err, errlen, "marking the tables as being written: %s", strerror(-ret));
		return ret;
	}
	/* Entries a dead writer was removing (no owner left, not freed yet)
	 * go; every other live entry's rule is derived again from its record
	 * (a writer killed between writing one and the other leaves them
	 * apart). Freeing waits for a repair with nothing staged: a staged
	 * change may name the slot. */
	for (__u32 s = 1; s < m->n_slots; s++) {
		__u8 kind = m->rules[s].kind;
		struct fence_rule r;

		if (kind == FENCE_KIND_FREE)
			continue;
		if (!m->info[s].owners) {
			if (t->n_ops)
				continue;
			if (t->idx.e)
				idx_remove(t, s);
			m->info[s].freed_ns = now;
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			__atomic_store_n(&m->rules[s].kind, FENCE_KIND_FREE, __ATOMIC_RELEASE);
			st->entries_fixed++;
			continue;
		}
		table_rule_from_info(&m->info[s], kind, &r);
		if (rule_update(&m->rules[s], &r))
			st->entries_fixed++;
	}
	for (size_t i = 0; i < sizeof(km) / sizeof(km[0]); i++) {
		ret = keys_resync(t, m->fd[km[i].map], km[i].kind, km[i].family, st);
		if (ret) {
			seterr(err, errlen, "repairing %s after an interrupted commit: %s",
			       fence_map_names[km[i].map], strerror(-ret));
			return ret;
		}
	}
	ret = map_prune(m->fd[FM_THROTTLE], sizeof(__u32), bucket_live, m, &st->keys_fixed);
	if (ret) {
		seterr(err, errlen, "repairing %s after an interrupted commit: %s",
		       fence_map_names[FM_THROTTLE], strerror(-ret));
		return ret;
	}
	gref = groups_named(m, &used);
	if (!gref)
		return -ENOMEM;
	/* unlinked, unstamped and not blank: the dead writer's; a group
	 * never used is all zeros and stays free to take at once */
	for (__u32 g = 0; g < m->n_groups; g++) {
		const __u32 *leaf = &m->tbl8[(size_t)g * FENCE_TBL8_GROUP];
		int j = 0;

		if (gref[g] || m->tbl8_state[g].freed_ns)
			continue;
		while (j < FENCE_TBL8_GROUP && !leaf[j])
			j++;
		if (j < FENCE_TBL8_GROUP)
			m->tbl8_state[g].freed_ns = now;
	}
	free(gref);
	st->recovered = 1;
	return 0;
}

void table_repaint(struct table *t)
{
	t->repaint = true;
}

int table_repair(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	table_abort(t);
	table_repaint(t);
	return table_commit(t, st, err, errlen);
}

/* Write the records of the new slots among ops [from, to), kinds FREE
 * (the caller publishes them). A first load writes a million of them:
 * two threads, as each first touch of a map page costs microseconds on a
 * paravirtualised guest and the two CPUs take them side by side. */
struct slot_job {
	struct table *t;
	size_t from, to;
	__u64 created;
};

static void *slots_write(void *arg)
{
	struct slot_job *j = arg;
	struct fence_maps *m = j->t->m;

	for (size_t n = j->from; n < j->to; n++) {
		const struct op *o = &j->t->ops[n];
		struct fence_rule_info in;
		struct fence_rule r;

		if (o->del || !o->fresh)
			continue;
		op_info(j->t, o, &in);
		table_rule_from_info(&in, o->kind, &r);
		r.parent = o->kind == FENCE_KIND_DENY ? j->t->parent[o->slot] : 0;
		if (!in.created_unix)
			in.created_unix = j->created;
		m->info[o->slot] = in;
		r.kind = FENCE_KIND_FREE;
		m->rules[o->slot] = r;
	}
	return NULL;
}

/* Keys no packet can reach before the switch go into the hashes at the
 * start of a commit, on a thread of their own (two for a big batch, see
 * bulk_split), while the rest is computed: half a million kernel hash
 * inserts take as long as the whole build. Which keys those are: see
 * commit_publish. */
struct early {
	struct table *t;
	struct fence_v4_key *k, *ka;
	struct fence_slot *v, *va;
	__u32 n, na;
	pthread_t th;
	bool started;
	int ret;
};

static void *early_thread(void *arg)
{
	struct early *e = arg;

	e->ret = v4_keys(e->t, FENCE_KEYLOAD_DENY_V4, e->k, e->v, e->n);
	if (!e->ret)
		e->ret = v4_keys(e->t, FENCE_KEYLOAD_ALLOW_V4, e->ka, e->va, e->na);
	return NULL;
}

static int early_start(struct table *t, struct early *e)
{
	const struct fence_maps *m = t->m;
	size_t n_max = 0;

	e->t = t;
	for (size_t n = 0; n < t->n_ops; n++)
		n_max += t->ops[n].fresh && t->ops[n].family == 4;
	if (!n_max)
		return 0;
	e->k = malloc(n_max * sizeof(*e->k));
	e->v = malloc(n_max * sizeof(*e->v));
	e->ka = malloc(n_max * sizeof(*e->ka));
	e->va = malloc(n_max * sizeof(*e->va));
	if (!e->k || !e->v || !e->ka || !e->va)
		return -ENOMEM;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];
		bool allow = o->kind == FENCE_KIND_ALLOW;
		struct fence_v4_key *kk;

		if (!o->fresh || o->family != 4 || !v4_keyed(o->kind, o->len))
			continue;
		if (!allow && (m->tbl24[v4_host(o->addr) >> 8] & FENCE_LEAF_HOST))
			continue;
		kk = allow ? &e->ka[e->na] : &e->k[e->n];
		kk->prefixlen = o->len;
		memcpy(&kk->addr, o->addr, 4);
		(allow ? &e->va[e->na++] : &e->v[e->n++])->slot = o->slot;
		o->early = 1;
	}
	keyloader(t, e->n);	/* here, not on the thread */
	keyloader(t, e->na);
	if (e->n + e->na < 4096) {	/* not worth a thread */
		early_thread(e);
		return e->ret;
	}
	e->started = !pthread_create(&e->th, NULL, early_thread, e);
	return e->started ? 0 : (early_thread(e), e->ret);
}

/* Wait for the early keys; 0 once they are all in. */
static int early_join(struct early *e)
{
	if (e->started) {
		pthread_join(e->th, NULL);
		e->started = false;
	}
	return e->ret;
}

/* The commit failed: the early keys go again. Not 0: some may be left. */
static int early_undo(struct early *e)
{
	int ret;

	early_join(e);
	ret = v4_keys(e->t, FENCE_KEYLOAD_DENY_V4, e->k, NULL, e->n);
	if (!ret)
		ret = v4_keys(e->t, FENCE_KEYLOAD_ALLOW_V4, e->ka, NULL, e->na);
	e->n = e->na = 0;
	return ret;
}

static void early_free(struct early *e)
{
	early_join(e);
	free(e->k);
	free(e->v);
	free(e->ka);
	free(e->va);
}

/* One commit's state, carried from phase to phase (see table_commit). */
struct commit {
	struct table *t;
	struct fence_maps *m;
	struct table_stats s;
	char *err;
	size_t errlen;
	struct timespec t0;		/* start of what build_ms/write_ms time */
	bool full;			/* sweep every /24 (repair, repaint, many changes) */
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
	struct v6ent *v6;		/* live IPv6 denies */
	__u32 n_v6;
	struct sweep w;
};

/* Plan: classify the ops (new, deleted, changed), give the new ones free
 * slots and check that every map will have room. Writes nothing. */
static int commit_plan(struct commit *c)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	__u32 cnt[2][3] = {};		/* [v6][kind] */
	__u32 i, k, slot;
	int ret;

	c->dead = big_calloc(m->n_slots, 1);
	if (!c->dead)
		return -ENOMEM;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del && o->slot)
			c->dead[o->slot] = 1, c->n_del++;
		if (!o->del && !o->slot)
			c->n_new++;
	}
	c->new_slots = calloc(c->n_new + 1, sizeof(__u32));
	if (!c->new_slots)
		return -ENOMEM;
	ret = alloc_slots(t, c->n_new, c->new_slots, c->err, c->errlen);
	if (ret)
		return ret;
	/* hit counters: a slot that was never used still has the zeros the
	 * map was created with; one used before is reset (commit_publish) */
	c->reused = malloc((c->n_new + 1) * sizeof(__u32));
	if (!c->reused)
		return -ENOMEM;
	for (i = 0; i < c->n_new; i++)
		if (m->info[c->new_slots[i]].freed_ns)
			c->reused[c->n_reused++] = c->new_slots[i];

	/* Count what every map will hold (capacity), from the data path's
	 * records: committed entries that stay, plus new ones. */
	for (slot = 1; slot < m->n_slots; slot++) {
		const struct fence_rule *r = &m->rules[slot];

		if (r->kind != FENCE_KIND_FREE && !c->dead[slot])
			cnt[r->family == 6][r->kind == FENCE_KIND_DENY ? 2 : 1]++;
	}
	k = 0;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del || o->slot)
			continue;
		o->slot = c->new_slots[k++];
		o->fresh = 1;
		cnt[o->family == 6][o->kind == FENCE_KIND_DENY ? 2 : 1]++;
	}
	c->n_v4_deny = cnt[0][2], c->n_v4_allow = cnt[0][1];
	c->n_v6_deny = cnt[1][2], c->n_v6_allow = cnt[1][1];
	c->s.slots_used = c->n_v4_deny + c->n_v4_allow + c->n_v6_deny + c->n_v6_allow;
	if (c->n_v4_deny > m->max_entries[FM_DENY_V4] ||
	    c->n_v4_allow > m->max_entries[FM_ALLOW_V4] ||
	    c->n_v6_deny > m->max_entries[FM_DENY_V6] ||
	    c->n_v6_allow > m->max_entries[FM_ALLOW_V6]) {
		seterr(c->err, c->errlen, "no room: %u/%u IPv4 deny, %u/%u IPv4 allow, "
		       "%u/%u IPv6 deny, %u/%u IPv6 allow entries",
		       c->n_v4_deny, m->max_entries[FM_DENY_V4], c->n_v4_allow,
		       m->max_entries[FM_ALLOW_V4], c->n_v6_deny, m->max_entries[FM_DENY_V6],
		       c->n_v6_allow, m->max_entries[FM_ALLOW_V6]);
		return -ENOSPC;
	}
	return 0;
}

/* Begin: from here on the maps change. The mark tells a successor if this
 * process dies before the end; the early keys start going in. */
static int commit_begin(struct commit *c)
{
	int ret;

	ret = mark_writing(c->t, 1, false);
	if (ret) {
		seterr(c->err, c->errlen, "marking the tables as being written: %s",
		       strerror(-ret));
		return ret;
	}
	ret = early_start(c->t, &c->ek);
	if (ret)
		seterr(c->err, c->errlen, "updating lookup maps: %s", strerror(-ret));
	return ret;
}

/* The /24s the changes touch (entries that only change fields keep their
 * leaves and parents); with many changes, simply all of them. */
static int build_spans(struct commit *c)
{
	const struct table *t = c->t;
	size_t n_sp = 0;

	for (size_t n = 0; n < t->n_ops && !c->full; n++) {
		const struct op *o = &t->ops[n];

		if (((o->del && o->slot) || o->fresh) && o->family != 6)
			n_sp++;
	}
	if (c->full || n_sp > SPANS_MAX) {
		n_sp = 0;
		c->full = true;
	}
	c->sp = malloc((n_sp + 1) * sizeof(*c->sp));
	c->touched = c->full ? NULL : big_calloc(FENCE_TBL24_ENTRIES / 64, sizeof(*c->touched));
	if (!c->sp || (!c->full && !c->touched))
		return -ENOMEM;
	if (c->full) {
		c->sp[c->n_sp++] = (struct span){ 0, FENCE_TBL24_ENTRIES };
		return 0;
	}
	for (size_t n = 0; n < t->n_ops; n++) {
		const struct op *o = &t->ops[n];

		if ((o->del ? !o->slot : !o->fresh) || o->family == 6)
			continue;
		c->sp[c->n_sp++] = v4_span(v4_host(o->addr), o->len);
	}
	c->n_sp = spans_merge(c->sp, c->n_sp);
	spans_mark(c->touched, c->sp, c->n_sp);
	return 0;
}

/* The live entries after the commit, IPv4 ones in address order
 * (committed ones read from info[], new ones from their op), IPv6 denies
 * for their parents. Of the IPv4 ones a commit that sweeps only some /24s
 * needs only those that paint or enclose one of them: a 1% reload sorts
 * thousands of entries, not a million. */
static int build_entries(struct commit *c)
{
	const struct table *t = c->t;
	const struct fence_maps *m = c->m;

	c->es = malloc((c->n_v4_deny + c->n_v4_allow + 1) * sizeof(*c->es));
	c->v6 = malloc((c->n_v6_deny + 1) * sizeof(*c->v6));
	if (!c->es || !c->v6)
		return -ENOMEM;
	if (c->full)
		prefault(c->es, (c->n_v4_deny + c->n_v4_allow) * sizeof(*c->es));
	for (__u32 slot = 1; slot < m->n_slots; slot++) {
		const struct fence_rule *r = &m->rules[slot];
		const struct fence_rule_info *in = &m->info[slot];

		if (r->kind == FENCE_KIND_FREE || c->dead[slot])
			continue;
		if (r->family != 6) {
			if (c->full || in_spans(c->touched, c->sp, c->n_sp, v4_host(in->addr),
						in->prefixlen))
				c->es[c->n_es++] = (struct v4e){
					v4e_key(v4_host(in->addr), in->prefixlen,
						r->kind == FENCE_KIND_ALLOW), slot };
		} else if (r->kind == FENCE_KIND_DENY) {
			c->v6[c->n_v6++] = v6_ent(in, slot);
		}
	}
	for (size_t n = 0; n < t->n_ops; n++) {
		const struct op *o = &t->ops[n];

		if (!o->fresh)
			continue;
		if (o->family != 6) {
			if (c->full ||
			    in_spans(c->touched, c->sp, c->n_sp, v4_host(o->addr), o->len))
				c->es[c->n_es++] = (struct v4e){
					v4e_key(v4_host(o->addr), o->len,
						o->kind == FENCE_KIND_ALLOW), o->slot };
		} else if (o->kind == FENCE_KIND_DENY) {
			struct v6ent e = { .len = o->len, .slot = o->slot };

			memcpy(e.addr, o->addr, 16);
			c->v6[c->n_v6++] = e;
		}
	}
	return 0;
}

/* IPv6 deny parents: sort by (address, length); an enclosing prefix sorts
 * before what it encloses, so a stack of open ancestors works. */
static int build_v6_parents(struct commit *c)
{
	__u32 *stack, depth = 0;
	int ret = 0;

	qsort(c->v6, c->n_v6, sizeof(*c->v6), v6_cmp);
	stack = malloc((c->n_v6 + 1) * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	for (__u32 i = 0; i < c->n_v6; i++) {
		while (depth && !v6_contains(&c->v6[stack[depth - 1]], &c->v6[i]))
			depth--;
		ret = note_parent(c->t, &c->w, c->v6[i].slot,
				  depth ? c->v6[stack[depth - 1]].slot : 0);
		if (ret)
			break;
		stack[depth++] = i;
	}
	free(stack);
	return ret;
}

/* Build: the image the commit will publish, in memory of its own: the
 * leaves of the /24s it touches, their tbl8 groups, every parent. */
static int commit_build(struct commit *c)
{
	int ret;

	ret = build_spans(c);
	if (!ret)
		ret = build_entries(c);
	if (!ret)
		ret = v4e_sort(&c->es, c->n_es);
	if (!ret)
		ret = sweep_run(c->t, &c->w, c->es, c->n_es, c->sp, c->n_sp);
	if (!ret)
		ret = groups_assign(c->t, &c->w, c->err, c->errlen);
	if (!ret)
		ret = build_v6_parents(c);
	return ret;
}

/* Keys and values for the batch writes of steps 3 and 6 (deny and allow,
 * IPv4 and IPv6), and the zeros that reset hit counters. */
struct keys {
	struct fence_v4_key *k4, *k4a;
	struct fence_v6_key *k6, *k6a;
	struct fence_slot *vs, *vsa, *v6s, *v6sa;
	__u32 n4, n4a, n6, n6a;
	void *zeros;
};

static int keys_alloc(struct keys *k, __u32 n_keys, __u32 n_zeros, int ncpus)
{
	k->k4 = calloc(n_keys, sizeof(*k->k4));
	k->k4a = calloc(n_keys, sizeof(*k->k4a));
	k->k6 = calloc(n_keys, sizeof(*k->k6));
	k->k6a = calloc(n_keys, sizeof(*k->k6a));
	k->vs = calloc(n_keys, sizeof(*k->vs));
	k->vsa = calloc(n_keys, sizeof(*k->vsa));
	k->v6s = calloc(n_keys, sizeof(*k->v6s));
	k->v6sa = calloc(n_keys, sizeof(*k->v6sa));
	k->zeros = calloc(n_zeros, (size_t)ncpus * sizeof(__u64));
	if (!k->k4 || !k->k4a || !k->k6 || !k->k6a || !k->vs || !k->vsa || !k->v6s || !k->v6sa ||
	    !k->zeros)
		return -ENOMEM;
	return 0;
}

static void keys_free(struct keys *k)
{
	free(k->k4);
	free(k->k4a);
	free(k->k6);
	free(k->k6a);
	free(k->vs);
	free(k->vsa);
	free(k->v6s);
	free(k->v6sa);
	free(k->zeros);
}

/* 1. New slots; the keys of step 3 are gathered on the way. */
static int publish_slots(struct commit *c, struct keys *k)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	struct slot_job job = { t, 0, t->n_ops / 2, (__u64)time(NULL) };
	struct slot_job job2 = { t, t->n_ops / 2, t->n_ops, job.created };
	pthread_t th;

	if (c->n_new < 65536 || pthread_create(&th, NULL, slots_write, &job2)) {
		job.to = t->n_ops;
		slots_write(&job);
	} else {
		slots_write(&job);
		pthread_join(th, NULL);
	}
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del || !o->fresh || o->early)
			continue;
		if (o->family == 4 && !v4_keyed(o->kind, o->len))
			continue;
		if (o->family == 4) {
			bool d = o->kind == FENCE_KIND_DENY;
			struct fence_v4_key *kk = d ? &k->k4[k->n4] : &k->k4a[k->n4a];
			struct fence_slot *vv = d ? &k->vs[k->n4++] : &k->vsa[k->n4a++];

			kk->prefixlen = o->len;
			memcpy(&kk->addr, o->addr, 4);
			vv->slot = o->slot;
		} else {
			bool d = o->kind == FENCE_KIND_DENY;
			struct fence_v6_key *kk = d ? &k->k6[k->n6] : &k->k6a[k->n6a];
			struct fence_slot *vv = d ? &k->v6s[k->n6++] : &k->v6sa[k->n6a++];

			kk->prefixlen = o->len;
			memcpy(kk->addr, o->addr, 16);
			vv->slot = o->slot;
		}
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (size_t n = 0; n < t->n_ops; n++)
		if (!t->ops[n].del && t->ops[n].fresh)
			__atomic_store_n(&m->rules[t->ops[n].slot].kind, t->ops[n].kind,
					 __ATOMIC_RELEASE);
	if (!c->n_reused)
		return 0;
	return batch_update(m->fd[FM_RULE_HITS], c->reused, sizeof(__u32), k->zeros,
			    (size_t)m->ncpus * sizeof(__u64), c->n_reused);
}

/* 2. Fresh groups, whole. */
static void publish_groups(struct commit *c)
{
	struct fence_maps *m = c->m;
	const struct sweep *w = &c->w;

	for (size_t n = 0; n < w->n_ext; n++) {
		const struct ext *xe = &w->ext[n];

		if (!xe->fresh)
			continue;
		for (int j = 0; j < FENCE_TBL8_GROUP; j++)
			store32(&m->tbl8[(size_t)xe->ph * FENCE_TBL8_GROUP + j],
				w->g[(size_t)xe->lg * FENCE_TBL8_GROUP + j]);
		m->tbl8_state[xe->ph].freed_ns = 0;
		c->s.tbl8_writes += FENCE_TBL8_GROUP;
	}
}

/* 3. The new entries' keys, after the early ones. */
static int publish_keys(struct commit *c, const struct keys *k)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	int ret;

	ret = early_join(&c->ek);
	if (!ret)
		ret = v4_keys(t, FENCE_KEYLOAD_DENY_V4, k->k4, k->vs, k->n4);
	if (!ret)
		ret = v4_keys(t, FENCE_KEYLOAD_ALLOW_V4, k->k4a, k->vsa, k->n4a);
	if (!ret)
		ret = batch_update(m->fd[FM_DENY_V6], k->k6, sizeof(*k->k6), k->v6s,
				   sizeof(*k->v6s), k->n6);
	if (!ret)
		ret = batch_update(m->fd[FM_ALLOW_V6], k->k6a, sizeof(*k->k6a), k->v6sa,
				   sizeof(*k->v6sa), k->n6a);
	return ret;
}

/* Steps 1 to 3 failed: their keys go and their slots are freed again. */
static void publish_undo(struct commit *c, const struct keys *k, int ret)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;

	c->undone = !early_undo(&c->ek);
	v4_keys(t, FENCE_KEYLOAD_DENY_V4, k->k4, NULL, k->n4);
	v4_keys(t, FENCE_KEYLOAD_ALLOW_V4, k->k4a, NULL, k->n4a);
	batch_delete(m->fd[FM_DENY_V6], k->k6, sizeof(*k->k6), k->n6);
	batch_delete(m->fd[FM_ALLOW_V6], k->k6a, sizeof(*k->k6a), k->n6a);
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (!o->del && o->fresh) {
			m->info[o->slot].freed_ns = fence_now_ns();
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			__atomic_store_n(&m->rules[o->slot].kind, FENCE_KIND_FREE,
					 __ATOMIC_RELEASE);
		}
	}
	seterr(c->err, c->errlen, "updating lookup maps: %s", strerror(-ret));
}

/* 4. Entries that stay: changed fields, then parents. */
static void publish_updates(struct commit *c)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;

	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];
		struct fence_rule_info in;
		struct fence_rule r;

		if (o->del || o->fresh)
			continue;
		op_info(t, o, &in);
		table_rule_from_info(&in, o->kind, &r);
		m->info[o->slot] = in;
		rule_update(&m->rules[o->slot], &r);
		c->s.updated++;
	}
	for (size_t n = 0; n < c->w.n_par; n++) {
		__u32 slot = c->w.par[n];

		if (m->rules[slot].parent != t->parent[slot]) {
			store32(&m->rules[slot].parent, t->parent[slot]);
			c->s.parent_writes++;
		}
	}
}

/* 5. The switch. */
static void publish_switch(struct commit *c)
{
	struct fence_maps *m = c->m;
	const struct sweep *w = &c->w;

	for (size_t n = 0; n < w->n_ext; n++) {
		const struct ext *xe = &w->ext[n];
		const __u32 *want = &w->g[(size_t)xe->lg * FENCE_TBL8_GROUP];
		__u32 *have = &m->tbl8[(size_t)xe->ph * FENCE_TBL8_GROUP];

		if (xe->fresh)
			continue;
		for (int j = 0; j < FENCE_TBL8_GROUP; j++) {
			if (have[j] != want[j]) {
				store32(&have[j], want[j]);
				c->s.tbl8_writes++;
			}
		}
	}
	for (size_t n = 0; n < w->n_runs; n++) {
		for (__u32 i = 0; i < w->runs[n].n; i++)
			store32(&m->tbl24[w->runs[n].x + i], w->runs[n].v);
		c->s.tbl24_writes += w->runs[n].n;
	}
	for (size_t n = 0; n < w->n_ext; n++) {
		const struct ext *xe = &w->ext[n];
		__u32 v = FENCE_LEAF_EXT | xe->ph | xe->host;

		if (m->tbl24[xe->x] != v) {
			store32(&m->tbl24[xe->x], v);
			c->s.tbl24_writes++;
		}
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* 6. Removed entries and the groups no leaf names any more. */
static void publish_removals(struct commit *c, struct keys *k)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	__u64 now;

	k->n4 = k->n4a = k->n6 = k->n6a = 0;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];
		const struct fence_rule_info *in;
		bool d = o->kind == FENCE_KIND_DENY;

		if (!o->del || !o->slot)
			continue;
		in = &m->info[o->slot];
		/* a shorter deny has no key in this layout, but an older
		 * controller running beside this one may have put one: its
		 * delete finds that or nothing (which is no error) */
		if (in->family == 4) {
			struct fence_v4_key *kk = d ? &k->k4[k->n4++] : &k->k4a[k->n4a++];

			kk->prefixlen = in->prefixlen;
			memcpy(&kk->addr, in->addr, 4);
		} else {
			struct fence_v6_key *kk = d ? &k->k6[k->n6++] : &k->k6a[k->n6a++];

			kk->prefixlen = in->prefixlen;
			memcpy(kk->addr, in->addr, 16);
		}
	}
	v4_keys(t, FENCE_KEYLOAD_DENY_V4, k->k4, NULL, k->n4);
	v4_keys(t, FENCE_KEYLOAD_ALLOW_V4, k->k4a, NULL, k->n4a);
	batch_delete(m->fd[FM_DENY_V6], k->k6, sizeof(*k->k6), k->n6);
	batch_delete(m->fd[FM_ALLOW_V6], k->k6a, sizeof(*k->k6a), k->n6a);
	now = fence_now_ns();
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (!o->del || !o->slot)
			continue;
		if (t->idx.e)
			idx_remove(t, o->slot);
		if (m->rules[o->slot].action == FENCE_ACT_THROTTLE)
			bpf_map_delete_elem(m->fd[FM_THROTTLE], &o->slot);
		m->info[o->slot].owners = 0;
		m->info[o->slot].freed_ns = now;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&m->rules[o->slot].kind, FENCE_KIND_FREE, __ATOMIC_RELEASE);
		c->s.removed++;
	}
	for (size_t n = 0; n < c->w.n_freed; n++)
		m->tbl8_state[c->w.freed[n]].freed_ns = now;
}

/* Publish: write what plan and build made ready, in an order that never
 * shows the data path a half-written state. This comment is where that
 * order is stated; the steps' functions carry its numbers.
 *
 * Before: commit_begin sets fence_meta.writing, so that a writer that dies
 * half way leaves its successor a repair (recover, then a full repaint),
 * and puts in the early keys, those no packet can reach before the switch
 * (5). The data path probes deny_v4 for /32s only, and only under a /24
 * leaf with the HOST flag; allow_v4 it never probes. So every allow key and
 * every /32 whose /24 has no HOST flag yet goes in before its slot is
 * written. A /32 under a HOST leaf waits for its slot (3): there a key
 * naming a slot not yet published would hide the deny covering it.
 *
 * 1. New slots, complete before anything names them: record and rule (kind
 *    FREE, parent already computed), then one fence, then the kinds. Then
 *    the hit counters of reused slots go back to zero.
 * 2. Fresh tbl8 groups, whole, and unstamped: no leaf names them yet.
 * 3. The exact-prefix hashes and IPv6 tries learn the new entries (those
 *    not in early), once the early keys are in. The tries are live: the
 *    new slots answer from here on. If 1-3 fail, undo: nothing that was
 *    there before has changed yet. The keys go, and the new slots go back
 *    to FREE, freed_ns first: a slot that shows FREE with freed_ns 0 is one
 *    never used (no hits to reset).
 * 4. Entries that stay: each changed field of a rule atomically, in an order
 *    where every intermediate state is a policy someone asked for (rate,
 *    burst, expiry, stat, action: see rule_update); then parents (a new or
 *    removed deny in between changes them).
 * 5. The switch: changed leaves of tbl8 groups that stay, then tbl24 (plain
 *    leaves, then those that name a group), then a fence.
 * 6. Removed entries: out of the hashes and tries, throttle buckets gone,
 *    no owners, then freed: freed_ns before FREE (as in the undo), each
 *    behind a fence. Groups no leaf names any more are stamped freed. Freed
 *    slots and groups are quarantined (FENCE_QUARANTINE_NS) before reuse: a
 *    reader may still hold an old leaf.
 * After: the mark is cleared (a repair also records this build's layout);
 * if it stays, the next commit repairs, which is harmless. A commit that
 * fails before 4 applies nothing: its early keys go again, and the mark
 * with them unless a repair is due or a key may be left over. */
static int commit_publish(struct commit *c)
{
	struct keys k = {};
	int ret;

	ret = keys_alloc(&k, c->n_new + c->n_del + 1, c->n_reused + 1, c->m->ncpus);
	if (ret)
		goto out;
	ret = publish_slots(c, &k);
	if (!ret)
		publish_groups(c);
	if (!ret)
		ret = publish_keys(c, &k);
	if (ret) {
		publish_undo(c, &k, ret);
		goto out;
	}
	publish_updates(c);
	publish_switch(c);
	publish_removals(c, &k);
	for (size_t n = 0; c->t->idx.e && n < c->t->n_ops; n++)
		if (!c->t->ops[n].del && c->t->ops[n].fresh)
			idx_insert(c->t, c->t->ops[n].slot);
	c->s.added = c->n_new;
out:
	keys_free(&k);
	if (!ret) {
		mark_writing(c->t, 0, c->repairing);
		c->t->repaint = false;
	}
	return ret;
}

/* The commit failed: nothing is applied. */
static void commit_unwind(struct commit *c)
{
	if (early_undo(&c->ek))
		c->undone = false;
	if (!c->repairing && c->undone)
		mark_writing(c->t, 0, false);
}

static void commit_free(struct commit *c)
{
	early_free(&c->ek);
	free(c->dead);
	free(c->v6);
	free(c->es);
	free(c->sp);
	free(c->touched);
	sweep_free(&c->w);
	free(c->new_slots);
	free(c->reused);
}

int table_commit(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	struct commit c = { .t = t, .m = t->m, .err = err, .errlen = errlen, .undone = true };
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &c.t0);
	c.full = c.repairing = t->repaint || table_interrupted(t) || table_outdated(t);
	if (!t->n_ops && !c.full)
		goto done;
	if (c.full)
		ret = recover(t, &c.s, err, errlen);
	if (!ret)
		ret = commit_plan(&c);
	if (!ret)
		ret = commit_begin(&c);
	if (!ret)
		ret = commit_build(&c);
	if (!ret) {
		c.s.build_ms = ms_since(&c.t0);
		clock_gettime(CLOCK_MONOTONIC, &c.t0);
		ret = commit_publish(&c);
		c.s.write_ms = ms_since(&c.t0);
	}
	if (ret)
		commit_unwind(&c);
	commit_free(&c);
done:
	table_abort(t);
	if (st)
		*st = c.s;
	return ret;
}
