// SPDX-License-Identifier: GPL-2.0
/* user/core/table/small.c - the build of a small commit: the image it publishes,
 * worked out from the live table and the changes alone.
 *
 * A full build (image.c) sorts every live entry and sweeps the /24s the
 * changes touch; its cost follows the table. Here each change transforms
 * the leaves it covers as they are now (DIR-24-8's incremental update, as in
 * DPDK's rte_lpm), and the entries it needs to know of are found through
 * the store's index by prefix: a ban of one /32 among a million entries
 * reads a handful of pages. Given the live leaves right, the result is what
 * a full build would paint (tests/bpf/test_table.c checks the two agree):
 *   - a new deny P takes every leaf it covers whose entry is a shorter deny
 *     or none (an allow, or a longer deny, stays);
 *   - a removed deny's leaves go to the longest deny still covering it;
 *   - a new allow takes every leaf it covers but those of longer allows;
 *   - a /32 deny is a key under a HOST leaf, with no parent (bpf/lookup.h).
 *   - a removed allow's leaves go to the allow around it, else to the deny
 *     around it, and the denies it hid are painted again (below).
 * Parents (the next shorter deny, for when an entry has expired) are found
 * by probing the index at every shorter length. A deny's children are found
 * among the denies its leaves show and their parents; denies an allow hides
 * entirely are found no other way, but no packet reaches them while it does:
 * removing the allow finds them by probing the index at every prefix inside
 * it.
 *
 * What it cannot do, the full build does (tbl_small_ok says which): a
 * removed allow shorter than /SMALL_UNALLOW_MIN, or removed allows with more
 * prefixes inside than SMALL_UNALLOW_PROBES (too many to probe), IPv6
 * entries added or removed (tbl6's keys and markers and the IPv6 parents
 * are v6.c's, which the full build asks), many changes; and it returns
 * -EAGAIN for a deny added or removed where an allow lies over part of its
 * range (denies the allow hides may need new parents, and nothing here can
 * find them), and for an allow removed with another inside it (which still
 * hides part of the range). Owns nothing the full build does not: it fills
 * the same struct sweep, and publish.c writes it in the same order. Must
 * not write the maps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/table/internal.h"
#include "lib/util.h"

#define SMALL_OPS_MAX	65536	/* more changes: the full build */
#define SMALL_SPAN_MAX	1048576	/* /24s the ops may cover (sixteen /8s) */
#define NO_GROUP	0xffffffffU
#define SMALL_UNALLOW_MIN 16	/* a removed allow: 2^(32 - len) - 1 probes */
#define SMALL_UNALLOW_PROBES 131072	/* the removed allows of a commit, at most */

bool tbl_small_ok(const struct table *t)
{
	size_t span = 0, probes = 0;

	if (t->n_ops > SMALL_OPS_MAX || t->repaint)
		return false;
	for (size_t n = 0; n < t->n_ops; n++) {
		const struct op *o = &t->ops[n];
		bool add = !o->del && !o->slot, gone = o->del && o->slot;

		if (o->family == 6) {
			if (add || gone)	/* tbl6's keys: v6.c, in the full build */
				return false;
			continue;
		}
		if (o->kind == FENCE_KIND_ALLOW && gone) {
			if (o->len < SMALL_UNALLOW_MIN)
				return false;
			probes += 1U << (32 - o->len);
			if (probes > SMALL_UNALLOW_PROBES)
				return false;
		}
		if ((add || gone) && o->len < 24) {
			span += 1U << (24 - o->len);
			if (span > SMALL_SPAN_MAX)
				return false;
		}
	}
	return true;
}

/* --- small open-addressing maps ---------------------------------------- */

static int umap_init(struct umap *m, __u32 want)
{
	__u32 cap = 64;

	while (cap < want * 2)
		cap <<= 1;
	m->k = calloc(cap, sizeof(*m->k));
	m->v = calloc(cap, sizeof(*m->v));
	m->mask = cap - 1;
	m->n = 0;
	return m->k && m->v ? 0 : -ENOMEM;
}

static void umap_free(struct umap *m)
{
	free(m->k);
	free(m->v);
	m->k = m->v = NULL;
}

static __u32 umap_h(__u32 k)
{
	return (k * 0x9e3779b9U) ^ (k >> 16);
}

/* The cell of key k: found, or the empty one where it goes. */
static __u32 umap_cell(const struct umap *m, __u32 k)
{
	__u32 i = umap_h(k) & m->mask;

	while (m->k[i] && m->k[i] != k)
		i = (i + 1) & m->mask;
	return i;
}

static int umap_grow(struct umap *m)
{
	struct umap b;

	if (umap_init(&b, (m->mask + 1)))
		return -ENOMEM;
	for (__u32 i = 0; i <= m->mask; i++)
		if (m->k[i]) {
			__u32 c = umap_cell(&b, m->k[i]);

			b.k[c] = m->k[i];
			b.v[c] = m->v[i];
			b.n++;
		}
	umap_free(m);
	*m = b;
	return 0;
}

static bool umap_get(const struct umap *m, __u32 k, __u32 *v)
{
	__u32 c = umap_cell(m, k);

	if (!m->k[c])
		return false;
	*v = m->v[c];
	return true;
}

static int umap_put(struct umap *m, __u32 k, __u32 v)
{
	__u32 c;

	if ((m->n + 1) * 2 > m->mask + 1 && umap_grow(m))
		return -ENOMEM;
	c = umap_cell(m, k);
	if (!m->k[c]) {
		m->k[c] = k;
		m->n++;
	}
	m->v[c] = v;
	return 0;
}

/* --- /24 -> its ov, in two levels ------------------------------------- */

/* A reload's changes may cover a few hundred thousand /24s, a /16 of them
 * at a time: a page of 256 cells per /16 touched keeps the /24s of one
 * prefix side by side (a hash scattered them, a cache miss or two each). */
struct ovidx {
	__u32 *top;			/* /16 -> its page + 1, 0: none */
	__u32 (*pg)[256];		/* cells: ov index + 1, 0: none */
	size_t n_pg, cap_pg;
};

static int ovidx_init(struct ovidx *ix, size_t want_pages)
{
	memset(ix, 0, sizeof(*ix));
	ix->top = calloc(65536, sizeof(*ix->top));	/* mapped: pages fault in as touched */
	ix->cap_pg = want_pages ? want_pages : 1;
	ix->pg = malloc(ix->cap_pg * sizeof(*ix->pg));
	return ix->top && ix->pg ? 0 : -ENOMEM;
}

static void ovidx_free(struct ovidx *ix)
{
	free(ix->top);
	free(ix->pg);
	ix->top = NULL;
	ix->pg = NULL;
}

/* The cell of /24 x, its page made if need be (NULL: no memory). */
static __u32 *ovidx_cell(struct ovidx *ix, __u32 x)
{
	__u32 p = ix->top[x >> 8];

	if (!p) {
		if (ix->n_pg == ix->cap_pg) {
			__u32 (*n)[256] = realloc(ix->pg, 2 * ix->cap_pg * sizeof(*n));

			if (!n)
				return NULL;
			ix->pg = n;
			ix->cap_pg *= 2;
		}
		memset(ix->pg[ix->n_pg], 0, sizeof(ix->pg[0]));
		p = ix->top[x >> 8] = (__u32)++ix->n_pg;
	}
	return &ix->pg[p - 1][x & 0xff];
}

/* --- one small build ------------------------------------------------- */

/* A /24 the commit touches: its leaf as it will be, and its group (a local
 * one in w->g) when it has or gets /25../32 detail. */
struct ov {
	__u32 x;
	__u32 live;			/* the tbl24 leaf now */
	__u32 leaf;			/* the leaf to be (for a plain one), flags included */
	__u32 lg;			/* local group, NO_GROUP while plain */
};

struct small {
	struct commit *c;
	struct table *t;
	const struct fence_maps *m;
	struct umap fresh;		/* slot of a new entry -> its op + 1 */
	struct umap gone;		/* slot of an entry this commit removes -> 1 */
	struct ovidx ovx;		/* /24 -> ov index + 1 */
	struct ov *ov;
	size_t n_ov, cap_ov;
	struct umap seen;		/* slots an op's leaves show (its scratch) */
	__u32 *shown;
	size_t n_shown, cap_shown;
	struct umap par;		/* slot -> parent as this commit sets it */
	struct umap hostx;		/* /24 + 1 whose HOST flag was settled */
	struct umap hostd;		/* /24 + 1 -> /32 denies this commit adds less those
					 * it removes (two's complement), once needed */
	bool hostd_ready;
	int err;
};

/* What an entry is: from its op when new in this commit, else as live. */
static bool slot_desc(struct small *s, __u32 slot, __u8 *kind, __u8 *len)
{
	__u32 op1;

	if (!slot)
		return false;
	if (umap_get(&s->fresh, slot, &op1)) {
		*kind = s->t->ops[op1 - 1].kind;
		*len = s->t->ops[op1 - 1].len;
		return true;
	}
	const struct fence_rule *r = fence_rule_at(s->m, slot);
	const struct fence_rule_info *in = fence_info_at(s->m, slot);

	if (!r || !in) {
		s->err = -ENOMEM;
		return false;
	}
	*kind = r->kind;
	*len = in->prefixlen;
	return true;
}

static __u32 parent_now(struct small *s, __u32 slot)
{
	__u32 p;
	const struct fence_rule *r;

	if (umap_get(&s->par, slot, &p))
		return p;
	if (umap_get(&s->fresh, slot, &p))
		return 0;
	r = fence_rule_at(s->m, slot);
	return r ? r->parent : 0;
}

/* The deny (kind) entry of exactly addr/len after this commit: staged, or
 * as committed unless changes_only. 0: none. */
static __u32 entry_after(struct small *s, __u32 addr, __u8 len, __u8 kind, bool changes_only)
{
	__u8 a[16] = {};
	__be32 na = htonl(len ? addr & (~0U << (32 - len)) : 0);
	struct key k = { kind, 4, len, a };
	__u32 h, op1;

	memcpy(a, &na, 4);
	h = tbl_key_hash(&k);
	op1 = tbl_op_lookup(s->t, &k, h);
	if (op1)
		return s->t->ops[op1 - 1].del ? 0 : s->t->ops[op1 - 1].slot;
	return changes_only ? 0 : tbl_idx_lookup(s->t, &k, h);
}

/* The longest entry of kind shorter than addr/len covering it after this
 * commit, asking every shorter length: for a deny, its parent. */
static __u32 around_probed(struct small *s, __u32 addr, __u8 len, __u8 kind)
{
	for (int l = (int)len - 1; l >= 0; l--) {
		__u32 p = entry_after(s, addr, (__u8)l, kind, false);

		if (p)
			return p;
	}
	return 0;
}

#define NOT_READ	0xffffffffU

/* The entry the live table shows for address addr (its leaf), 0 none,
 * NOT_READ when the maps could not be mapped. */
static __u32 live_entry(struct small *s, __u32 addr)
{
	const __u32 *leaf = fence_leaf_at(s->m, addr >> 8), *g;

	if (!leaf)
		return NOT_READ;
	if (!(*leaf & FENCE_LEAF_EXT))
		return *leaf & FENCE_LEAF_IDX;
	g = fence_group_at(s->m, *leaf & FENCE_LEAF_IDX);
	return g ? g[addr & 0xff] & FENCE_LEAF_IDX : NOT_READ;
}

/* Does the entry in (an IPv4 prefix) cover address addr? */
static bool covers(const struct fence_rule_info *in, __u32 addr)
{
	__u32 mask = in->prefixlen ? ~0U << (32 - in->prefixlen) : 0;

	return in->family == 4 && in->prefixlen <= 32 && ((tbl_v4_host(in->addr) ^ addr) & mask) == 0;
}

/* The parent after this commit of a deny addr/len: the longest deny
 * covering it, shorter. The live denies covering addr are the one its
 * leaf shows and that one's parents, longest first (a parent is the
 * longest deny around its child): the first shorter than len that this
 * commit keeps is the parent, unless the commit adds a longer one, which
 * the changes alone are asked for. Where the leaf shows an allow, or the
 * chain is not what it should be (an entry not covering addr, no end), or
 * the maps cannot be read, every length is asked, as around_probed does. */
static __u32 parent_after(struct small *s, __u32 addr, __u8 len)
{
	__u32 v = live_entry(s, addr), best = 0;
	int bl = -1, steps = 0;

	if (v == NOT_READ)
		return around_probed(s, addr, len, FENCE_KIND_DENY);
	while (v) {
		const struct fence_rule *r = fence_rule_at(s->m, v);
		const struct fence_rule_info *in = fence_info_at(s->m, v);

		if (!r || !in || r->kind != FENCE_KIND_DENY || !covers(in, addr) || ++steps > 33)
			return around_probed(s, addr, len, FENCE_KIND_DENY);
		if (in->prefixlen < len && !umap_get(&s->gone, v, &(__u32){ 0 })) {
			best = v;
			bl = in->prefixlen;
			break;
		}
		v = r->parent;
	}
	for (int l = (int)len - 1; l > bl; l--) {
		__u32 p = entry_after(s, addr, (__u8)l, FENCE_KIND_DENY, true);

		if (p)
			return p;
	}
	return best;
}

static int set_parent(struct small *s, __u32 slot, __u32 parent)
{
	__u32 have;

	if (umap_get(&s->par, slot, &have))
		return umap_put(&s->par, slot, parent);
	if (umap_put(&s->par, slot, parent))
		return -ENOMEM;
	return PUSHW(&s->c->w, par, n_par, cap_par, slot);
}

static struct ov *ov_get(struct small *s, __u32 x)
{
	__u32 *cell = ovidx_cell(&s->ovx, x);

	if (!cell)
		return NULL;
	if (*cell)
		return &s->ov[*cell - 1];
	if (s->n_ov == s->cap_ov) {
		size_t cap = s->cap_ov ? s->cap_ov * 2 : 64;
		struct ov *n = realloc(s->ov, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->ov = n;
		s->cap_ov = cap;
	}
	__u32 *leaf = fence_leaf_at(s->m, x);

	if (!leaf)
		return NULL;
	*cell = (__u32)s->n_ov + 1;
	struct ov *o = &s->ov[s->n_ov++];

	o->x = x;
	o->live = *leaf;
	o->leaf = o->live;
	o->lg = NO_GROUP;
	if (o->live & FENCE_LEAF_EXT) {
		const __u32 *g = fence_group_at(s->m, o->live & FENCE_LEAF_IDX);

		if (!g || tbl_sweep_group(&s->c->w, &o->lg))
			return NULL;
		memcpy(&s->c->w.g[(size_t)o->lg * FENCE_TBL8_GROUP], g,
		       FENCE_TBL8_GROUP * sizeof(__u32));
	}
	return o;
}

/* The /24's leaves as a group: its own, or one made from its plain leaf. */
static __u32 *ov_group(struct small *s, struct ov *o)
{
	if (o->lg == NO_GROUP) {
		if (tbl_sweep_group(&s->c->w, &o->lg))
			return NULL;
		__u32 *g = &s->c->w.g[(size_t)o->lg * FENCE_TBL8_GROUP];

		for (int j = 0; j < FENCE_TBL8_GROUP; j++)
			g[j] = o->leaf & FENCE_LEAF_IDX;
	}
	return &s->c->w.g[(size_t)o->lg * FENCE_TBL8_GROUP];
}

enum xf { XF_DENY, XF_UNDENY, XF_ALLOW, XF_UNALLOW };

/* A deny the leaves of a change show: its parent chain may pass the
 * changed prefix (reparent_under). */
static void note_shown(struct small *s, __u32 v)
{
	__u8 kind, vl;

	if (!v || !slot_desc(s, v, &kind, &vl) || kind != FENCE_KIND_DENY ||
	    umap_get(&s->seen, v, &(__u32){ 0 }))
		return;
	if (umap_put(&s->seen, v, 1) || PUSHA(s->shown, s->n_shown, s->cap_shown, v))
		s->err = -ENOMEM;
}

/* One leaf's entry v under a change by slot (length len): a new deny takes
 * leaves of no entry or of a shorter deny; a new allow all but those of a
 * longer allow; a removed deny's or allow's leaves go to to. */
static __u32 xf_leaf(struct small *s, enum xf how, __u32 v, __u32 slot, __u8 len, __u32 to)
{
	__u8 kind, vl;

	if (how == XF_UNALLOW) {
		/* an allow shows on every leaf of its range but those of a
		 * longer allow, which may hide denies this one hid too */
		if (v == slot)
			return to;
		s->err = -EAGAIN;
		return v;
	}
	if (how == XF_UNDENY) {
		if (v == slot)
			return to;
		if (v && slot_desc(s, v, &kind, &vl) && kind == FENCE_KIND_ALLOW)
			s->err = -EAGAIN;	/* as above */
		note_shown(s, v);
		return v;
	}
	if (!v)
		return slot;
	if (!slot_desc(s, v, &kind, &vl))
		return v;	/* out of memory: s->err says so */
	if (how == XF_ALLOW)
		return kind == FENCE_KIND_ALLOW && vl >= len ? v : slot;
	if (kind == FENCE_KIND_ALLOW) {
		/* an allow over part of a deny's range may hide denies whose
		 * parents would change: the full build finds those */
		s->err = -EAGAIN;
		return v;
	}
	if (vl > len) {
		note_shown(s, v);
		return v;
	}
	return slot;
}

/* xf_leaf over leaves g[0..n): a leaf is mostly what the one before it
 * is, and xf_leaf's answer (and what it notes) depends on the leaf alone,
 * so it is asked once per run of equal leaves. */
static void xf_leaves(struct small *s, enum xf how, __u32 *g, __u32 n, __u32 slot, __u8 len,
		      __u32 to)
{
	__u32 was = g[0], now = xf_leaf(s, how, was, slot, len, to);

	for (__u32 j = 0; j < n; j++) {
		if (g[j] != was) {
			was = g[j];
			now = xf_leaf(s, how, was, slot, len, to);
		}
		g[j] = now;
	}
}

/* Apply a change to the leaves of addr/len. */
static int xf_range(struct small *s, enum xf how, __u32 addr, __u8 len, __u32 slot, __u32 to)
{
	__u32 lo = addr >> 8, hi = len >= 24 ? lo + 1 : lo + (1U << (24 - len));

	for (__u32 x = lo; x < hi && !s->err; x++) {
		struct ov *o = ov_get(s, x);

		if (!o)
			return -ENOMEM;
		if (len > 24) {
			__u32 *g = ov_group(s, o), off = addr & 0xff, n = 1U << (32 - len);

			if (!g)
				return -ENOMEM;
			xf_leaves(s, how, g + off, n, slot, len, to);
		} else if (o->lg != NO_GROUP) {
			xf_leaves(s, how, &s->c->w.g[(size_t)o->lg * FENCE_TBL8_GROUP],
				  FENCE_TBL8_GROUP, slot, len, to);
		} else {
			o->leaf = (o->leaf & FENCE_LEAF_HOST) |
				  xf_leaf(s, how, o->leaf & FENCE_LEAF_IDX, slot, len, to);
		}
	}
	return s->err;
}

/* The denies shown under addr/len whose parent chain passes it: their
 * parents after the commit (each found again by probing). */
static int reparent_under(struct small *s, __u8 len)
{
	for (size_t i = 0; i < s->n_shown && !s->err; i++) {
		__u32 u = s->shown[i];
		__u8 kind, ul;

		while (u && slot_desc(s, u, &kind, &ul) && ul > len) {
			const struct fence_rule_info *in;
			__u32 p, a;

			if (umap_get(&s->fresh, u, &p)) {
				const struct op *o = &s->t->ops[p - 1];

				a = tbl_v4_host(o->addr);
			} else {
				in = fence_info_at(s->m, u);
				if (!in)
					return -ENOMEM;
				a = tbl_v4_host(in->addr);
			}
			p = parent_after(s, a, ul);
			if (p != parent_now(s, u) && set_parent(s, u, p))
				return -ENOMEM;
			u = p;
		}
	}
	s->n_shown = 0;
	memset(s->seen.k, 0, ((size_t)s->seen.mask + 1) * sizeof(*s->seen.k));
	s->seen.n = 0;
	return s->err;
}

/* The /32 denies of this commit, less the ones it removes, by /24. */
static int hostd_fill(struct small *s)
{
	for (size_t n = 0; n < s->t->n_ops; n++) {
		const struct op *o = &s->t->ops[n];
		__u32 x, d = 0;

		if (o->family != 4 || o->len != 32 || o->kind != FENCE_KIND_DENY ||
		    !((!o->del && o->fresh) || (o->del && o->slot)))
			continue;
		x = (tbl_v4_host(o->addr) >> 8) + 1;
		umap_get(&s->hostd, x, &d);
		if (umap_put(&s->hostd, x, d + (o->del ? -1U : 1U)))
			return -ENOMEM;
	}
	s->hostd_ready = true;
	return 0;
}

/* Are there /32 denies left in /24 x after this commit? 1 or 0 (-errno):
 * the count kept in the store and this commit's own (tbl_hosts), or, where
 * that count is not kept or saturated, a look for each of the 256. */
static int hosts_left(struct small *s, __u32 x)
{
	int have = tbl_store_hosts(s->t, x);
	__u32 d = 0;

	if (have >= 0 && have < FENCE_HOSTS_MANY) {
		if (!s->hostd_ready && hostd_fill(s))
			return -ENOMEM;
		umap_get(&s->hostd, x + 1, &d);
		return (int)(have + (int)d) > 0;
	}
	for (__u32 j = 0; j < 256; j++)
		if (entry_after(s, x << 8 | j, 32, FENCE_KIND_DENY, false))
			return 1;
	return 0;
}

/* A removed allow addr/len (slot): its leaves go to the longest allow
 * around it, which hides all it hid; else to the longest deny around it,
 * and then each deny inside it is found by probing the index (shortest
 * first, the /32s aside: they are keys, and the leaves kept their HOST
 * flag) and painted as if new. Their parents are right already: while an
 * allow hides a deny, a deny added or removed over its range takes the
 * full build (-EAGAIN), which sets every parent. */
static int unallow(struct small *s, __u32 addr, __u8 len, __u32 slot)
{
	__u32 outer = around_probed(s, addr, len, FENCE_KIND_ALLOW);
	int ret;

	if (outer)
		return xf_range(s, XF_UNALLOW, addr, len, slot, outer);
	ret = xf_range(s, XF_UNALLOW, addr, len, slot, parent_after(s, addr, len));
	for (__u8 l = len; l < 32 && !ret; l++) {
		for (__u32 i = 0; i < 1U << (l - len) && !ret; i++) {
			__u32 a = addr | i << (32 - l);	/* l >= 16: no shift by 32 */
			__u32 d = entry_after(s, a, l, FENCE_KIND_DENY, false);

			if (d)
				ret = xf_range(s, XF_DENY, a, l, d, 0);
		}
	}
	return ret;
}

static int small_op(struct small *s, const struct op *o)
{
	__u32 addr = tbl_v4_host(o->addr);
	bool add = !o->del && o->fresh, gone = o->del && o->slot;
	int ret = 0;

	if (o->family == 6 || (!add && !gone))
		return 0;	/* IPv6 keys and field changes: publish alone */
	if (o->kind == FENCE_KIND_ALLOW)
		return add ? xf_range(s, XF_ALLOW, addr, o->len, o->slot, 0)
			   : unallow(s, addr, o->len, o->slot);
	if (o->len == 32) {
		if (add) {
			struct ov *ov = ov_get(s, addr >> 8);

			if (!ov)
				return -ENOMEM;
			ov->leaf |= FENCE_LEAF_HOST;
			return set_parent(s, o->slot, 0);
		}
		/* the last /32 of its /24 gone: the leaf sends no more lookups
		 * to deny_v4 (once per /24: the answer is the commit's end state) */
		if (umap_get(&s->hostx, (addr >> 8) + 1, &(__u32){ 0 }))
			return 0;
		if (umap_put(&s->hostx, (addr >> 8) + 1, 1))
			return -ENOMEM;
		ret = hosts_left(s, addr >> 8);
		if (ret < 0)
			return ret;
		if (ret)
			return 0;
		struct ov *ov = ov_get(s, addr >> 8);

		if (!ov)
			return -ENOMEM;
		ov->leaf &= ~FENCE_LEAF_HOST;
		return 0;
	}
	if (add) {
		ret = set_parent(s, o->slot, parent_after(s, addr, o->len));
		if (!ret)
			ret = xf_range(s, XF_DENY, addr, o->len, o->slot, 0);
	} else {
		ret = xf_range(s, XF_UNDENY, addr, o->len, o->slot, parent_after(s, addr, o->len));
	}
	return ret ? ret : reparent_under(s, o->len);
}

/* Each touched /24 as the sweep would have left it: runs of plain leaves,
 * groups (kept, fresh, or freed when they fall uniform). */
static int small_emit(struct small *s)
{
	struct sweep *w = &s->c->w;

	for (size_t i = 0; i < s->n_ov; i++) {
		struct ov *o = &s->ov[i];
		__u32 host = o->leaf & FENCE_LEAF_HOST, v;

		if (o->lg != NO_GROUP) {
			const __u32 *g = &w->g[(size_t)o->lg * FENCE_TBL8_GROUP];
			int j = 1;

			while (j < FENCE_TBL8_GROUP && g[j] == g[0])
				j++;
			if (j < FENCE_TBL8_GROUP) {
				struct ext xe = { o->x, o->lg, NO_GROUP, host, false };

				if (o->live & FENCE_LEAF_EXT)
					xe.ph = o->live & FENCE_LEAF_IDX;
				else
					w->n_fresh++;
				if (PUSHW(w, ext, n_ext, cap_ext, xe))
					return -ENOMEM;
				continue;
			}
			o->leaf = g[0] | host;	/* uniform: no group */
		}
		v = (o->leaf & FENCE_LEAF_IDX) | host;
		if (v == o->live)
			continue;
		if ((o->live & FENCE_LEAF_EXT) &&
		    PUSHW(w, freed, n_freed, cap_freed, o->live & FENCE_LEAF_IDX))
			return -ENOMEM;
		if (PUSHW(w, runs, n_runs, cap_runs, ((struct run){ o->x, 1, v })))
			return -ENOMEM;
	}
	return 0;
}

int commit_build_small(struct commit *c)
{
	struct small s = { .c = c, .t = c->t, .m = c->m };
	struct table *t = c->t;
	int ret;

	/* sized for what the changes touch at the least: growing rehashes */
	if (umap_init(&s.fresh, c->n_new + 1) || umap_init(&s.gone, c->n_del + 1) ||
	    ovidx_init(&s.ovx, t->n_ops < 65536 ? t->n_ops + 1 : 65536) || umap_init(&s.seen, 64) ||
	    umap_init(&s.par, c->n_new + 1) || umap_init(&s.hostx, 64) ||
	    umap_init(&s.hostd, 64) || tbl_sweep_reserve(&c->w, t->n_ops, c->m->n_groups)) {
		ret = -ENOMEM;
		goto out;
	}
	ret = tbl_op_index_ready(t);
	for (size_t n = 0; n < t->n_ops && !ret; n++)
		if (!t->ops[n].del && t->ops[n].fresh)
			ret = umap_put(&s.fresh, t->ops[n].slot, (__u32)n + 1);
		else if (t->ops[n].del && t->ops[n].slot)
			ret = umap_put(&s.gone, t->ops[n].slot, 1);
	for (size_t n = 0; n < t->n_ops && !ret; n++)
		ret = small_op(&s, &t->ops[n]);
	if (!ret)
		ret = s.err;
	if (!ret)
		ret = small_emit(&s);
	if (!ret)
		ret = tbl_groups_assign(t, &c->w, c->err, c->errlen);
	if (!ret) {
		/* parents as publish reads them (tbl_parent_of) */
		t->sparent = s.par;
		s.par.k = s.par.v = NULL;
	}
out:
	umap_free(&s.fresh);
	umap_free(&s.gone);
	ovidx_free(&s.ovx);
	umap_free(&s.seen);
	umap_free(&s.par);
	umap_free(&s.hostx);
	umap_free(&s.hostd);
	free(s.ov);
	free(s.shown);
	return ret;
}

__u32 tbl_parent_of(const struct table *t, __u32 slot)
{
	__u32 v = 0;

	if (t->sparent.k)
		umap_get(&t->sparent, slot, &v);
	else if (t->parent)
		v = t->parent[slot];
	return v;
}

void tbl_sparent_free(struct table *t)
{
	umap_free(&t->sparent);
}
