// SPDX-License-Identifier: GPL-2.0
/* user/core/table/v6.c - the IPv6 lookup table (tbl6, tbl6_meta) and the
 * IPv6 parents. See v6.h for the interface and maps/keys.h for the layout.
 *
 * Owns which keys tbl6 holds (each entry's own prefix, and the markers the
 * binary search on lengths needs), the slot each key carries, where a key
 * lies, and writing them through the mmaps in the commit's order. A commit
 * that changes IPv6 entries reads the live IPv6 entries out of tbl6 itself
 * (a full one, from the rule slots), works out every key again and writes
 * only what differs; one that changes none costs nothing here. Must not
 * write any other map, nor write before v6_plan has checked everything fits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/table.h"
#include "core/table/v6.h"
#include "lib/util.h"

static inline __u64 mask_hi(__u32 len)
{
	return len >= 64 ? ~0ULL : len ? ~0ULL << (64 - len) : 0;
}

static inline __u64 mask_lo(__u32 len)
{
	return len >= 128 ? ~0ULL : len > 64 ? ~0ULL << (128 - len) : 0;
}

static __u64 be64(const __u8 *p)
{
	__u64 v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void v6_ent_of(const __u8 addr[16], __u8 len, __u8 kind, __u32 slot, struct v6_ent *e)
{
	memset(e, 0, sizeof(*e));
	e->hi = be64(addr) & mask_hi(len);
	e->lo = be64(addr + 8) & mask_lo(len);
	e->len = len;
	e->kind = kind;
	e->slot = slot;
}

/* Prefix order: by address, then length, so that a prefix comes before
 * every prefix it encloses. */
static int cmp3(__u64 ah, __u64 al, __u8 alen, __u64 bh, __u64 bl, __u8 blen)
{
	if (ah != bh)
		return ah < bh ? -1 : 1;
	if (al != bl)
		return al < bl ? -1 : 1;
	return (int)alen - (int)blen;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct v6_ent *x = a, *y = b;
	int c = cmp3(x->hi, x->lo, x->len, y->hi, y->lo, y->len);

	return c ? c : (int)x->kind - (int)y->kind;
}

static int key_cmp(const void *a, const void *b)
{
	const struct v6_key *x = a, *y = b;

	return cmp3(x->hi, x->lo, x->len, y->hi, y->lo, y->len);
}

/* Does the prefix (h, l, len) hold the address (xh, xl) of a prefix of
 * length xlen? */
static bool holds(__u64 h, __u64 l, __u8 len, __u64 xh, __u64 xl, __u8 xlen)
{
	return len <= xlen && (xh & mask_hi(len)) == h && (xl & mask_lo(len)) == l;
}

/* What the sweep keeps per open (enclosing) entry: the longest allow and
 * the longest deny among it and those enclosing it (an allow covering an
 * address wins over any deny, as in the IPv4 table), as the commit will leave
 * them (final: without the entries it removes) and as they stand in
 * between (with them). */
struct open {
	const struct v6_ent *e;
	__u32 fa, fd, ia, id;
};

/* Keys carry this until v6_plan knows the interim slot. */
struct key_build {
	struct v6_key *k;
	size_t n, cap;
};

static int key_push(struct key_build *b, __u64 hi, __u64 lo, __u8 len, __u8 own)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct v6_key *k = realloc(b->k, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		b->k = k;
		b->cap = cap;
	}
	b->k[b->n++] = (struct v6_key){ .hi = hi, .lo = lo, .len = len, .own = own };
	return 0;
}

/* The interim slot of each key goes here (NULL: not wanted). */
static int keys_build(struct v6_ent *e, size_t n, const __u8 *gone, struct v6_key **keys,
		      size_t *n_keys, __u32 **interim, __u8 *lens, __u8 *n_lens,
		      int (*parent)(void *, __u32, __u32), void *ctx)
{
	struct key_build b = {};
	bool present[FENCE_V6_LENS_MAX] = {};
	__u8 idx[FENCE_V6_LENS_MAX];
	struct open *st = NULL;
	__u32 *inter = NULL;
	size_t depth = 0, i, j, w;
	unsigned k = 0;
	int ret = 0;

	*keys = NULL;
	*n_keys = 0;
	if (interim)
		*interim = NULL;
	/* gone[] follows e[] through the sort: carry it in kind's high bit */
	for (i = 0; i < n; i++)
		if (gone && gone[i])
			e[i].kind |= 0x80;
	sort_by_u64(e, n, sizeof(*e), ent_cmp);
	for (i = 0; i < n; i++)
		if (!(e[i].kind & 0x80))
			present[e[i].len] = true;
	for (i = 0; i < FENCE_V6_LENS_MAX; i++)
		if (present[i]) {
			idx[i] = (__u8)k;
			lens[k++] = (__u8)i;
		}
	*n_lens = (__u8)k;

	/* each entry's own key, and a marker at every length the search
	 * passes on its way to the entry's length and goes longer from */
	for (i = 0; i < n && !ret; i++) {
		int lo = 0, hi = (int)k - 1, want;

		if (e[i].kind & 0x80)
			continue;
		want = idx[e[i].len];
		ret = key_push(&b, e[i].hi, e[i].lo, e[i].len, 1);
		while (!ret && lo <= hi) {
			int mid = (lo + hi) / 2;
			__u8 ml = lens[mid];

			if (mid == want)
				break;
			if (mid < want) {
				ret = key_push(&b, e[i].hi & mask_hi(ml), e[i].lo & mask_lo(ml), ml, 0);
				lo = mid + 1;
			} else {
				hi = mid - 1;
			}
		}
	}
	if (ret)
		goto out;
	if (b.n > 1)
		sort_by_u64(b.k, b.n, sizeof(*b.k), key_cmp);
	for (i = 0, w = 0; i < b.n; i++) {
		if (w && !key_cmp(&b.k[w - 1], &b.k[i])) {
			b.k[w - 1].own |= b.k[i].own;
			continue;
		}
		b.k[w++] = b.k[i];
	}
	b.n = w;

	/* slots: one sweep over entries and keys in prefix order, entries
	 * first on a tie, with a stack of the open entries */
	st = malloc((n + 1) * sizeof(*st));
	inter = interim ? malloc((b.n + 1) * sizeof(*inter)) : NULL;
	if (!st || (interim && !inter)) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0, j = 0; i < n || j < b.n;) {
		bool ent = j == b.n || (i < n && cmp3(e[i].hi, e[i].lo, e[i].len, b.k[j].hi,
						      b.k[j].lo, b.k[j].len) <= 0);
		__u64 h = ent ? e[i].hi : b.k[j].hi, l = ent ? e[i].lo : b.k[j].lo;
		__u8 len = ent ? e[i].len : b.k[j].len;

		while (depth && !holds(st[depth - 1].e->hi, st[depth - 1].e->lo, st[depth - 1].e->len,
				       h, l, len))
			depth--;
		if (ent) {
			const struct v6_ent *x = &e[i++];
			struct open o = depth ? st[depth - 1] : (struct open){};
			bool allow = (x->kind & 0x7f) == FENCE_KIND_ALLOW;

			if (!(x->kind & 0x80)) {
				if (!allow && parent && (ret = parent(ctx, x->slot, o.fd)))
					goto out;
				if (allow)
					o.fa = x->slot;
				else
					o.fd = x->slot;
			}
			if (allow)
				o.ia = x->slot;
			else
				o.id = x->slot;
			o.e = x;
			st[depth++] = o;
		} else {
			struct open o = depth ? st[depth - 1] : (struct open){};
			struct v6_key *x = &b.k[j];

			/* whose own prefix it is: the entries on top with its prefix */
			for (size_t d = depth; d && x->own; d--) {
				const struct v6_ent *y = st[d - 1].e;

				if (y->len != x->len || y->hi != x->hi || y->lo != x->lo)
					break;
				if (y->kind & 0x80)
					continue;
				if ((y->kind & 0x7f) == FENCE_KIND_ALLOW)
					x->allow = y->slot;
				else
					x->deny = y->slot;
			}
			x->slot = o.fa ? o.fa : o.fd;
			if (inter)
				inter[j] = o.ia ? o.ia : o.id;
			j++;
		}
	}
	*keys = b.k;
	*n_keys = b.n;
	b.k = NULL;
	if (interim) {
		*interim = inter;
		inter = NULL;
	}
out:
	for (i = 0; i < n; i++)
		e[i].kind &= 0x7f;
	free(b.k);
	free(st);
	free(inter);
	return ret;
}

int v6_keys_build(struct v6_ent *e, size_t n, struct v6_key **keys, size_t *n_keys, __u8 *lens,
		  __u8 *n_lens, int (*parent)(void *ctx, __u32 slot, __u32 parent), void *ctx)
{
	return keys_build(e, n, NULL, keys, n_keys, NULL, lens, n_lens, parent, ctx);
}

/* --- the commit's side ---------------------------------------------------- */

/* The search tree over the lengths lens[lo..hi]: its root's rank, each
 * node's children; the same tree keys_build places markers for. */
static __u8 tree_build(struct fence_v6_node *nd, const __u8 *lens, int lo, int hi, __u64 seed)
{
	int mid;

	if (lo > hi)
		return FENCE_V6_NONE;
	mid = (lo + hi) / 2;
	nd[mid] = (struct fence_v6_node){ .mask_hi = mask_hi(lens[mid]), .mask_lo = mask_lo(lens[mid]),
					  .salt = seed ^ lens[mid], .len = lens[mid] };
	nd[mid].hit = tree_build(nd, lens, mid + 1, hi, seed);
	nd[mid].miss = tree_build(nd, lens, lo, mid - 1, seed);
	return (__u8)mid;
}

/* A key tbl6 holds now, and where. */
struct cur {
	__u64 hi, lo;
	__u32 pos, slot, deny, allow;
	__u8 len;
};

struct v6_plan {
	struct fence_maps *m;
	struct v6_key *keys;		/* every key after the commit */
	__u32 *interim;			/* each key's slot between steps 3 and 5 */
	size_t n_keys;
	__u32 *ins, *ins_pos;		/* new keys (index into keys) and their positions */
	size_t n_ins;
	struct { __u32 pos, key; } *upd;	/* keys that stay, with a new slot or owners */
	size_t n_upd;
	__u32 *kill;			/* positions of keys no longer wanted */
	size_t n_kill;
	__u8 lens[FENCE_V6_LENS_MAX], n_lens;
	bool lens_changed;
	__u32 writes;
};

static int cur_cmp(const void *a, const void *b)
{
	const struct cur *x = a, *y = b;

	return cmp3(x->hi, x->lo, x->len, y->hi, y->lo, y->len);
}

void v6_plan_free(struct v6_plan *p)
{
	if (!p)
		return;
	free(p->keys);
	free(p->interim);
	free(p->ins);
	free(p->ins_pos);
	free(p->upd);
	free(p->kill);
	free(p);
}

__u32 v6_plan_writes(const struct v6_plan *p)
{
	return p ? p->writes : 0;
}

#define GROW(arr, n, cap) ({						\
	int _r = 0;							\
	if ((n) == (cap)) {						\
		size_t _c = (cap) ? (cap) * 2 : 256;			\
		void *_p = realloc((arr), _c * sizeof(*(arr)));		\
		if (_p) {						\
			(arr) = _p;					\
			(cap) = _c;					\
		} else {						\
			_r = -ENOMEM;					\
		}							\
	}								\
	_r; })

/* A table made before tbl6 existed (an older layout's set): give it its
 * size and hash seed. Only while it holds nothing. */
static void meta_init(struct fence_maps *m)
{
	const struct fence_v6_meta *mt = m->tbl6_meta;

	if (mt->mask == m->n_tbl6 - 1 && mt->seed && (1U << mt->bits) == m->n_tbl6 &&
	    mt->shift == 64 - mt->bits)
		return;
	/* keys placed under another seed could not be found: none stay */
	memset(m->tbl6, 0, (size_t)m->n_tbl6 * sizeof(*m->tbl6));
	fence_tbl6_init(m);
}

/* The keys tbl6 holds now (sorted) and, unless full, the live entries
 * they are the own prefixes of. */
static int read_table(const struct fence_maps *m, bool entries, struct cur **cur, size_t *n_cur,
		      struct v6_ent **e, size_t *n_e, size_t *cap_e)
{
	size_t cap = 0;

	*cur = NULL;
	*n_cur = 0;
	for (__u32 pos = 0; pos < m->n_tbl6; pos++) {
		const struct fence_v6_ent *t = &m->tbl6[pos];

		if (t->state != FENCE_V6_LIVE)
			continue;
		if (GROW(*cur, *n_cur, cap))
			return -ENOMEM;
		(*cur)[(*n_cur)++] = (struct cur){ t->hi, t->lo, pos, t->slot, t->deny, t->allow, t->len };
		for (int k = 0; entries && k < 2; k++) {
			__u32 slot = k ? t->allow : t->deny;

			if (!slot)
				continue;
			if (GROW(*e, *n_e, *cap_e))
				return -ENOMEM;
			(*e)[(*n_e)++] = (struct v6_ent){ t->hi, t->lo, slot, t->len,
							  k ? FENCE_KIND_ALLOW : FENCE_KIND_DENY };
		}
	}
	if (*n_cur > 1)
		sort_by_u64(*cur, *n_cur, sizeof(**cur), cur_cmp);
	return 0;
}

/* The live entries of a full commit: every IPv6 slot in use. */
static int read_slots(const struct fence_maps *m, struct v6_ent **e, size_t *n_e, size_t *cap_e)
{
	for (__u32 s = 1; s < m->n_slots; s++) {
		const struct fence_rule *r = &m->rules[s];

		if (r->kind == FENCE_KIND_FREE || r->family != 6)
			continue;
		if (GROW(*e, *n_e, *cap_e))
			return -ENOMEM;
		v6_ent_of(m->info[s].addr, m->info[s].prefixlen, r->kind, s, &(*e)[(*n_e)++]);
	}
	return 0;
}

/* Where each new key goes: the first position from its home that is
 * empty, or dead for longer than the quarantine, and not taken. */
static int place(struct v6_plan *p, const struct fence_v6_meta *mt, __u8 *taken, char *err,
		 size_t errlen)
{
	const struct fence_maps *m = p->m;
	__u64 now = fence_now_ns();

	for (size_t i = 0; i < p->n_ins; i++) {
		const struct v6_key *k = &p->keys[p->ins[i]];
		__u32 pos = fence_v6_home(k->hi, k->lo, mt->seed ^ k->len,
					  fence_v6_lo_mul(mt->keyed, mt->seed), mt->shift);
		int j;

		for (j = 0; j < FENCE_V6_PROBES; j++, pos = (pos + 1) & mt->mask) {
			const struct fence_v6_ent *t = &m->tbl6[pos];

			if (taken[pos >> 3] & (1 << (pos & 7)))
				continue;
			if (t->state == FENCE_V6_EMPTY ||
			    (t->state == FENCE_V6_DEAD && now - t->freed_ns >= FENCE_QUARANTINE_NS))
				break;
		}
		if (j == FENCE_V6_PROBES) {
			snprintf(err, errlen, "no room: the IPv6 table (%u positions) has none free "
				 "near a new key's place", m->n_tbl6);
			return -EXFULL;	/* a bigger table under another seed has */
		}
		taken[pos >> 3] |= 1 << (pos & 7);
		p->ins_pos[i] = pos;
	}
	return 0;
}

/* Compare the keys wanted with those tbl6 holds. */
static int diff(struct v6_plan *p, const struct cur *cur, size_t n_cur)
{
	size_t i = 0, j = 0, cap_upd = 0, cap_kill = 0;

	p->ins = malloc((p->n_keys + 1) * sizeof(*p->ins));
	p->ins_pos = malloc((p->n_keys + 1) * sizeof(*p->ins_pos));
	if (!p->ins || !p->ins_pos)
		return -ENOMEM;
	while (i < p->n_keys || j < n_cur) {
		const struct v6_key *k = i < p->n_keys ? &p->keys[i] : NULL;
		const struct cur *c = j < n_cur ? &cur[j] : NULL;
		int d = !k ? 1 : !c ? -1 : cmp3(k->hi, k->lo, k->len, c->hi, c->lo, c->len);

		if (d < 0) {
			p->ins[p->n_ins++] = (__u32)i++;
			continue;
		}
		if (d > 0 || (j && !cur_cmp(&cur[j - 1], c))) {
			/* not wanted, or the same key twice (a repair's finding) */
			if (GROW(p->kill, p->n_kill, cap_kill))
				return -ENOMEM;
			p->kill[p->n_kill++] = c->pos;
			j++;
			continue;
		}
		if (k->slot != c->slot || k->deny != c->deny || k->allow != c->allow) {
			if (GROW(p->upd, p->n_upd, cap_upd))
				return -ENOMEM;
			p->upd[p->n_upd].pos = c->pos;
			p->upd[p->n_upd++].key = (__u32)i;
		}
		i++;
		j++;
	}
	return 0;
}

static int find_gone(struct v6_ent *e, size_t n, const struct v6_change *c, __u8 *gone)
{
	struct v6_ent x;
	size_t lo = 0, hi = n;

	v6_ent_of(c->addr, c->len, c->kind, c->slot, &x);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = ent_cmp(&e[mid], &x);

		if (!d) {
			gone[mid] = 1;
			return 0;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;	/* not there: nothing to take away */
}

int v6_plan(struct fence_maps *m, const struct v6_change *ch, size_t n_ch, bool full,
	    int (*parent)(void *ctx, __u32 slot, __u32 parent), void *ctx, struct v6_plan **out,
	    char *err, size_t errlen)
{
	struct v6_plan *p = calloc(1, sizeof(*p));
	struct v6_ent *e = NULL;
	struct cur *cur = NULL;
	__u8 *gone = NULL, *taken = NULL;
	size_t n_e = 0, cap_e = 0, n_cur = 0, n_old;
	const struct fence_v6_meta *mt = m->tbl6_meta;
	int ret;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->m = m;
	ret = fence_maps_full(m);	/* tbl6 read whole */
	if (ret)
		goto out;
	meta_init(m);
	ret = read_table(m, !full, &cur, &n_cur, &e, &n_e, &cap_e);
	if (!ret && full)
		ret = read_slots(m, &e, &n_e, &cap_e);
	if (ret)
		goto out;
	/* the removed ones stay in for the slots between steps 3 and 5 */
	n_old = n_e;
	gone = calloc(n_e + n_ch + 1, 1);
	if (!gone) {
		ret = -ENOMEM;
		goto out;
	}
	if (n_old > 1)
		sort_by_u64(e, n_old, sizeof(*e), ent_cmp);
	for (size_t i = 0; i < n_ch; i++)
		if (ch[i].del)
			find_gone(e, n_old, &ch[i], gone);
	for (size_t i = 0; i < n_ch && !ret; i++) {
		if (ch[i].del)
			continue;
		if ((ret = GROW(e, n_e, cap_e)))
			break;
		v6_ent_of(ch[i].addr, ch[i].len, ch[i].kind, ch[i].slot, &e[n_e++]);
	}
	if (!ret)
		ret = keys_build(e, n_e, gone, &p->keys, &p->n_keys, &p->interim, p->lens, &p->n_lens,
				 parent, ctx);
	if (!ret && p->n_keys > (size_t)m->n_tbl6 / 4 * 3) {
		snprintf(err, errlen, "no room: %zu IPv6 keys (entries and the markers that lead to "
			 "them) for an IPv6 table of %u positions, at most 3/4 full", p->n_keys,
			 m->n_tbl6);
		ret = -ENOSPC;
	}
	if (!ret)
		ret = diff(p, cur, n_cur);
	if (ret)
		goto out;
	taken = calloc(m->n_tbl6 / 8 + 1, 1);
	if (!taken) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < n_cur; j++)
		taken[cur[j].pos >> 3] |= 1 << (cur[j].pos & 7);
	ret = place(p, mt, taken, err, errlen);
	if (ret)
		goto out;
	{
		__u32 act = mt->active & 1;

		p->lens_changed = p->n_lens != mt->n[act];
		for (unsigned i = 0; i < p->n_lens && !p->lens_changed; i++)
			p->lens_changed = mt->node[act][i].len != p->lens[i];
	}
	*out = p;
	p = NULL;
out:
	free(e);
	free(cur);
	free(gone);
	free(taken);
	v6_plan_free(p);
	return ret;
}

/* Every write to tbl6 or its trees ends with this: what a program's cache
 * remembers of its searches until then is stale. */
static void gen_bump(struct fence_maps *m)
{
	__u32 g = m->tbl6_meta->gen + 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&m->tbl6_meta->gen, g ? g : 1, __ATOMIC_RELEASE);
}

void v6_put(struct v6_plan *p)
{
	for (size_t i = 0; i < p->n_ins; i++) {
		const struct v6_key *k = &p->keys[p->ins[i]];
		struct fence_v6_ent *t = &p->m->tbl6[p->ins_pos[i]];

		t->hi = k->hi;
		t->lo = k->lo;
		t->len = k->len;
		t->slot = p->interim[p->ins[i]];
		t->deny = k->deny;
		t->allow = k->allow;
		__atomic_store_n(&t->state, FENCE_V6_LIVE, __ATOMIC_RELEASE);
		p->writes++;
	}
	if (p->n_ins)
		gen_bump(p->m);
}

static void kill_at(struct fence_maps *m, __u32 pos, __u64 now)
{
	struct fence_v6_ent *t = &m->tbl6[pos];

	__atomic_store_n(&t->state, FENCE_V6_DEAD, __ATOMIC_RELEASE);
	t->freed_ns = now;
}

void v6_undo(struct v6_plan *p)
{
	__u64 now = fence_now_ns();

	for (size_t i = 0; i < p->n_ins; i++)
		kill_at(p->m, p->ins_pos[i], now);
	if (p->n_ins)
		gen_bump(p->m);
	p->n_ins = 0;
}

void v6_switch(struct v6_plan *p)
{
	struct fence_v6_meta *mt = p->m->tbl6_meta;

	for (size_t i = 0; i < p->n_upd; i++) {
		const struct v6_key *k = &p->keys[p->upd[i].key];
		struct fence_v6_ent *t = &p->m->tbl6[p->upd[i].pos];

		if (t->slot != k->slot) {
			__atomic_store_n(&t->slot, k->slot, __ATOMIC_RELEASE);
			p->writes++;
		}
		t->deny = k->deny;
		t->allow = k->allow;
	}
	for (size_t i = 0; i < p->n_ins; i++) {
		const struct v6_key *k = &p->keys[p->ins[i]];
		struct fence_v6_ent *t = &p->m->tbl6[p->ins_pos[i]];

		if (t->slot != k->slot) {
			__atomic_store_n(&t->slot, k->slot, __ATOMIC_RELEASE);
			p->writes++;
		}
	}
	if (p->lens_changed) {
		__u32 next = (mt->active & 1) ^ 1;

		mt->root[next] = tree_build(mt->node[next], p->lens, 0, (int)p->n_lens - 1, mt->seed);
		mt->n[next] = p->n_lens;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&mt->active, next, __ATOMIC_RELEASE);
		p->writes++;
	}
	gen_bump(p->m);
}

void v6_remove(struct v6_plan *p)
{
	__u64 now = fence_now_ns();

	for (size_t i = 0; i < p->n_kill; i++)
		kill_at(p->m, p->kill[i], now);
	p->writes += p->n_kill;
	if (p->n_kill)
		gen_bump(p->m);
}

/* --- a bigger tbl6 (core/grow.c) ------------------------------------------- */

int table_tbl6_needs(struct fence_maps *m, const __u8 *add_lens, __u32 n_adds, __u32 *positions)
{
	const struct fence_v6_meta *mt = m->tbl6_meta;
	bool present[FENCE_V6_LENS_MAX] = {}, new_len = false;
	__u64 keys = 0, entries = 0, want;
	unsigned k = 0, per = 1;
	int ret;

	*positions = 0;
	if (!n_adds)
		return 0;
	ret = fence_maps_full(m);	/* tbl6 read whole */
	if (ret)
		return ret;
	for (unsigned i = 0; i < mt->n[mt->active & 1] && i < FENCE_V6_LENS_MAX; i++)
		present[mt->node[mt->active & 1][i].len] = true;
	for (unsigned l = 0; l < FENCE_V6_LENS_MAX; l++)
		if (add_lens[l / 8] & (1 << (l % 8)) && !present[l])
			present[l] = new_len = true;
	for (unsigned l = 0; l < FENCE_V6_LENS_MAX; l++)
		k += present[l];
	/* the search passes at most log2(k) lengths before an entry's own, a
	 * marker at each at most */
	while ((2U << (per - 1)) <= k)
		per++;
	for (__u32 pos = 0; pos < m->n_tbl6; pos++) {
		const struct fence_v6_ent *t = &m->tbl6[pos];

		if (t->state != FENCE_V6_LIVE)
			continue;
		keys++;
		entries += !!t->deny + !!t->allow;
	}
	/* a new length reshapes the search: every entry's markers may move */
	want = new_len ? (entries + n_adds) * per : keys + (__u64)n_adds * per;
	if (want <= (__u64)m->n_tbl6 / 4 * 3)
		return 0;
	want = (want + want / 4) * 4 / 3;
	for (*positions = m->n_tbl6; *positions < want && *positions < (1U << 30);)
		*positions <<= 1;
	return 0;
}

static size_t page_round(size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	return (len + ps - 1) & ~(ps - 1);
}

int table_tbl6_regrow(struct fence_maps *m, int tbl6_fd, __u32 n_tbl6, int meta_fd)
{
	size_t len = page_round((size_t)n_tbl6 * sizeof(struct fence_v6_ent)),
	       mlen = page_round(sizeof(struct fence_v6_meta));
	const struct fence_v6_meta *old = m->tbl6_meta;
	__u8 lens[FENCE_V6_LENS_MAX], n_lens = 0;
	struct fence_v6_ent *tbl;
	struct fence_v6_meta *mt;
	__u32 bits = 0, act = old->active & 1;
	__u64 seed = 0;
	int ret = fence_maps_full(m);

	if (ret)
		return ret;
	if (n_tbl6 < m->n_tbl6 || (n_tbl6 & (n_tbl6 - 1)))
		return -EINVAL;
	while ((1U << bits) < n_tbl6)
		bits++;
	for (unsigned i = 0; i < old->n[act] && i < FENCE_V6_LENS_MAX; i++)
		lens[n_lens++] = old->node[act][i].len;
	tbl = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, tbl6_fd, 0);
	if (tbl == MAP_FAILED)
		return -errno;
	mt = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, meta_fd, 0);
	if (mt == MAP_FAILED) {
		ret = -errno;
		munmap(tbl, len);
		return ret;
	}
	/* every key again, at its home under a seed of the new table's own
	 * (a few tries: a seed may pile keys up past FENCE_V6_PROBES) */
	for (int attempt = 0; attempt < 4; attempt++) {
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || !seed)
			seed = fence_now_ns() * 0x9e3779b97f4a7c15ULL | 1;
		memset(tbl, 0, (size_t)n_tbl6 * sizeof(*tbl));
		ret = 0;
		for (__u32 pos = 0; pos < m->n_tbl6 && !ret; pos++) {
			const struct fence_v6_ent *t = &m->tbl6[pos];
			__u32 at;
			int p;

			if (t->state != FENCE_V6_LIVE)
				continue;
			at = fence_v6_home(t->hi, t->lo, seed ^ t->len, fence_v6_lo_mul(1, seed),
					   64 - bits);
			for (p = 0; p < FENCE_V6_PROBES && tbl[at].state == FENCE_V6_LIVE; p++)
				at = (at + 1) & (n_tbl6 - 1);
			if (p == FENCE_V6_PROBES)
				ret = -ENOSPC;
			else
				tbl[at] = *t;
		}
		if (!ret)
			break;
	}
	if (!ret) {
		memset(mt, 0, sizeof(*mt));
		mt->mask = n_tbl6 - 1;
		mt->bits = (__u8)bits;
		mt->shift = (__u8)(64 - bits);
		mt->seed = seed;
		mt->keyed = 1;	/* made anew: keyed, whatever the old one was */
		mt->gen = 1;
		mt->n[0] = n_lens;
		mt->root[0] = tree_build(mt->node[0], lens, 0, (int)n_lens - 1, seed);
		mt->root[1] = FENCE_V6_NONE;
		mt->active = 0;
	}
	munmap(mt, mlen);
	munmap(tbl, len);
	return ret;
}
