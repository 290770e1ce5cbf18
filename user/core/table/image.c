// SPDX-License-Identifier: GPL-2.0
/* user/core/table/image.c - build the image a commit publishes: the /24s it
 * touches, its tbl24 and tbl8 leaves, tbl8 groups and every deny's parent.
 *
 * A commit sorts the live IPv4 entries by address and sweeps them once,
 * keeping a stack of the open (enclosing) allow and deny prefixes; inside
 * the /24s that the commit's added or removed prefixes cover it recomputes
 * every leaf (allow above deny, longest first) and every deny's parent,
 * diffs them against the mmap-ed table and keeps only what differs.
 * Elsewhere the sweep only opens and closes prefixes. A repaint (asked for,
 * or after a writer died half way: see fence_meta.writing) sweeps all /24s,
 * which is also what a commit of very many changes does. The IPv6 side
 * (tbl6 and the IPv6 parents) is v6.c's; a commit with IPv6 changes asks it.
 *
 * Owns the sweep and the choice of tbl8 groups. Reads the maps (to diff
 * against them) and writes only memory of its own and t->parent, with one
 * exception: on a table that never used a tbl8 group, the groups are built
 * in tbl8 itself (sweep_direct), where no leaf can reach them. Every other
 * write to the maps is publish.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/table/internal.h"
#include "core/table/v6.h"
#include "lib/util.h"

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

static int v4e_cmp(const void *a, const void *b)
{
	const struct v4e *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
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

static void sweep_free(struct sweep *w)
{
	free(w->runs);
	free(w->ext);
	if (!w->direct)
		free(w->g);
	free(w->freed);
	free(w->par);
}

int tbl_grow(void **p, size_t *cap, size_t need, size_t size)
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

#define PUSH PUSHW

/* Room in w->g for local group w->ng: -ENOSPC when g is tbl8 and full
 * (groups_assign says what was needed). */
static int sweep_room(struct sweep *w)
{
	if (w->direct)
		return (w->ng + 1) * FENCE_TBL8_GROUP <= w->cap_g ? 0 : -ENOSPC;
	return tbl_grow((void **)&w->g, &w->cap_g, (w->ng + 1) * FENCE_TBL8_GROUP, sizeof(*w->g));
}

/* A fresh local group in w->g: its number in *lg. */
int tbl_sweep_group(struct sweep *w, __u32 *lg)
{
	int ret = sweep_room(w);

	if (ret)
		return ret;
	*lg = (__u32)w->ng++;
	return 0;
}

/* Room for what a sweep over n entries writes, reserved at once: room
 * never written costs nothing, while growing by doubling writes (copies)
 * about twice the final size into fresh memory. */
int tbl_sweep_reserve(struct sweep *w, size_t n, __u32 n_groups)
{
	size_t groups = n < n_groups ? n : n_groups;

	if (tbl_grow((void **)&w->runs, &w->cap_runs, 2 * n + 2, sizeof(*w->runs)) ||
	    tbl_grow((void **)&w->ext, &w->cap_ext, groups + 1, sizeof(*w->ext)) ||
	    tbl_grow((void **)&w->par, &w->cap_par, n + 1, sizeof(*w->par)))
		return -ENOMEM;
	if (w->direct)
		return 0;
	if (tbl_grow((void **)&w->g, &w->cap_g, (groups + 1) * FENCE_TBL8_GROUP, sizeof(*w->g)))
		return -ENOMEM;
	huge_pages(w->g, w->cap_g * sizeof(*w->g));
	return 0;
}

/* Build the groups in tbl8 itself when that is safe: the table mapped
 * whole (not a small build) and the store sure that no group was ever
 * used, so that no leaf names one, none is in quarantine, and the fresh
 * ones are picked as 0, 1, 2... in the order the sweep makes them
 * (tbl_store_pick_groups). Saves writing every group twice. */
static void sweep_direct(struct table *t, struct sweep *w)
{
	const struct fence_maps *m = t->m;

	if (!m->tbl8 || !tbl_store_valid(t) || t->st.hdr->group_hwm || t->st.hdr->gfree_n)
		return;
	w->direct = true;
	w->g = m->tbl8;
	w->cap_g = (size_t)m->n_groups * FENCE_TBL8_GROUP;
}

static int note_parent(struct table *t, struct sweep *w, __u32 slot, __u32 parent)
{
	/* t->parent is allocated by commit_build */
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
	int ret;

	for (i = 0; i < n; i++) {
		if (tbl_v4_detail(e_allow(&e[i]), (__u8)e_len(&e[i])))
			detail = true;
		else
			host = true;
	}
	/* a /32 deny has no parent: once it has expired, the data path takes
	 * what the table holds beneath it (bpf/lookup.h) */
	if (!detail) {
		for (i = 0; i < n; i++)
			if (note_parent(t, w, e[i].slot, 0))
				return -ENOMEM;
		v = allow ? allow : deny;
		return sweep_set(t, w, x, x + 1, v | (host ? FENCE_LEAF_HOST : 0));
	}
	ret = sweep_room(w);
	if (ret)
		return ret;
	g = &w->g[w->ng * FENCE_TBL8_GROUP];
	/* denies in order: an enclosing one first, so the longest wins; what
	 * lies under a deny's first address before it is painted is its parent */
	fill(g, FENCE_TBL8_GROUP, deny);
	for (i = 0; i < n; i++) {
		__u32 off = e_addr(&e[i]) & 0xff, len = e_len(&e[i]);

		if (e_allow(&e[i]))
			continue;
		if (note_parent(t, w, e[i].slot, len < 32 ? g[off] : 0))
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

	ret = tbl_sweep_reserve(w, n, t->m->n_groups);
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

/* --- tbl8 groups -------------------------------------------------------- */

/* Which tbl8 groups a tbl24 leaf names now: a calloc-ed byte per group
 * (the caller frees it; NULL when out of memory), *used of them named. */
__u8 *tbl_groups_named(const struct fence_maps *m, __u32 *used)
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

/* groups_assign from the store's ring of freed groups and its never used
 * ones (no scan of tbl24). */
static int groups_assign_store(struct table *t, struct sweep *w, char *err, size_t errlen)
{
	__u32 *pick = malloc((w->n_fresh + 1) * sizeof(*pick)), k = 0;
	__u64 now, wake;
	int ret;

	if (!pick)
		return -ENOMEM;
	for (;;) {
		now = fence_now_ns();
		ret = tbl_store_pick_groups(t, w->n_fresh, pick, now, &wake);
		if (!ret || !wake || tbl_store_free_groups(t) < w->n_fresh)
			break;
		if (wake > now) {
			struct timespec ts = { (wake - now) / 1000000000ULL,
					       (wake - now) % 1000000000ULL };

			nanosleep(&ts, NULL);
		}
	}
	if (ret) {
		tbl_seterr(err, errlen, "no room: %u /24s need /25../31 detail, %u tbl8 groups free of "
		           "%u (raise the capacity at first attach)", w->n_fresh,
		           tbl_store_free_groups(t), t->m->n_groups);
		free(pick);
		return -ENOSPC;
	}
	for (size_t n = 0; n < w->n_ext; n++) {
		struct ext *xe = &w->ext[n];

		if (xe->ph != NO_GROUP && !xe->fresh)
			continue;
		xe->ph = pick[k++];
		xe->fresh = 1;
	}
	free(pick);
	return 0;
}

/* Give each /24 that needs a fresh group one that no leaf names now and
 * that is out of quarantine (waiting it out if only quarantined ones are
 * left). Groups freed by this commit are not reused by it. */
int tbl_groups_assign(struct table *t, struct sweep *w, char *err, size_t errlen)
{
	const struct fence_maps *m = t->m;
	__u32 used, next;
	__u8 *gref;
	__u64 now, wake;
	int ret = 0;

	if (!w->n_fresh)
		return 0;
	if (tbl_store_valid(t))
		return groups_assign_store(t, w, err, errlen);
	gref = tbl_groups_named(m, &used);
	if (!gref)
		return -ENOMEM;
	if (used - w->n_freed + w->n_fresh > m->n_groups) {
		tbl_seterr(err, errlen, "no room: %zu /24s need /25../31 detail, the table has "
		           "%u groups (raise the capacity at first attach)",
		           used - w->n_freed + w->n_fresh, m->n_groups);
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
		       (gref[next] || tbl_quarantined(m->tbl8_state[next].freed_ns, now))) {
			if (!gref[next] && (!wake || m->tbl8_state[next].freed_ns < wake))
				wake = m->tbl8_state[next].freed_ns;
			next++;
		}
		if (next == m->n_groups) {
			if (!wake) {
				if (w->n_freed)
					tbl_seterr(err, errlen, "no room: out of tbl8 groups (%u); "
					           "this commit frees %zu, which it cannot reuse "
					           "while /24s still name them: apply the removals "
					           "first", m->n_groups, w->n_freed);
				else
					tbl_seterr(err, errlen, "no room: out of tbl8 groups (%u)",
					           m->n_groups);
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

/* --- the build phase ---------------------------------------------------- */

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
		c->sp[c->n_sp++] = v4_span(tbl_v4_host(o->addr), o->len);
	}
	c->n_sp = spans_merge(c->sp, c->n_sp);
	spans_mark(c->touched, c->sp, c->n_sp);
	return 0;
}

/* The live IPv4 entries after the commit, in address order (committed
 * ones read from info[], new ones from their op). A commit that sweeps
 * only some /24s needs only those that paint or enclose one of them: a 1%
 * reload sorts thousands of entries, not a million. */
static int build_entries(struct commit *c)
{
	const struct table *t = c->t;
	const struct fence_maps *m = c->m;

	c->es = malloc((c->n_v4_deny + c->n_v4_allow + 1) * sizeof(*c->es));
	if (!c->es)
		return -ENOMEM;
	if (c->full)
		prefault(c->es, (c->n_v4_deny + c->n_v4_allow) * sizeof(*c->es));
	for (__u32 slot = 1; slot < m->n_slots; slot++) {
		const struct fence_rule *r = &m->rules[slot];
		const struct fence_rule_info *in = &m->info[slot];

		if (r->kind == FENCE_KIND_FREE || c->dead[slot])
			continue;
		if (r->family != 6) {
			if (c->full || in_spans(c->touched, c->sp, c->n_sp, tbl_v4_host(in->addr),
						in->prefixlen))
				c->es[c->n_es++] = (struct v4e){
					v4e_key(tbl_v4_host(in->addr), in->prefixlen,
						r->kind == FENCE_KIND_ALLOW), slot };
		}
	}
	for (size_t n = 0; n < t->n_ops; n++) {
		const struct op *o = &t->ops[n];

		if (!o->fresh)
			continue;
		if (o->family != 6) {
			if (c->full ||
			    in_spans(c->touched, c->sp, c->n_sp, tbl_v4_host(o->addr), o->len))
				c->es[c->n_es++] = (struct v4e){
					v4e_key(tbl_v4_host(o->addr), o->len,
						o->kind == FENCE_KIND_ALLOW), o->slot };
		}
	}
	return 0;
}

static int v6_parent(void *ctx, __u32 slot, __u32 parent)
{
	struct commit *c = ctx;

	return note_parent(c->t, &c->w, slot, parent);
}

/* The IPv6 side, when the commit changes IPv6 entries (or repairs): the
 * keys of tbl6 and every IPv6 deny's parent (v6.c). */
static int build_v6(struct commit *c)
{
	const struct table *t = c->t;
	struct v6_change *ch;
	size_t n = 0;
	int ret;

	for (size_t i = 0; i < t->n_ops; i++)
		n += t->ops[i].family == 6 && ((t->ops[i].del && t->ops[i].slot) || t->ops[i].fresh);
	if (!n && !c->full)
		return 0;
	ch = malloc((n + 1) * sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < t->n_ops; i++) {
		const struct op *o = &t->ops[i];

		if (o->family != 6 || !((o->del && o->slot) || o->fresh))
			continue;
		memcpy(ch[n].addr, o->addr, 16);
		ch[n].slot = o->slot;
		ch[n].len = o->len;
		ch[n].kind = o->kind;
		ch[n++].del = o->del;
	}
	ret = v6_plan(c->m, ch, n, c->full, v6_parent, c, &c->v6p, c->err, c->errlen);
	free(ch);
	return ret;
}

/* After a direct sweep: the scratch group past the last one made (a /24
 * that turned out uniform) blank again, as never used groups are; each
 * group is its own fresh one, and the store takes them up to the last
 * (tbl_store_take), the gap between two halves given back by publish. */
static void direct_assign(struct commit *c)
{
	struct sweep *w = &c->w;

	if (w->ng < c->m->n_groups)
		memset(&w->g[w->ng * FENCE_TBL8_GROUP], 0, FENCE_TBL8_GROUP * sizeof(*w->g));
	for (size_t n = 0; n < w->n_ext; n++) {
		w->ext[n].ph = w->ext[n].lg;
		w->ext[n].fresh = true;
	}
	c->t->st.pick_ghwm = (__u32)w->ng;
}

/* A direct build that failed: the groups it wrote in tbl8, and the
 * scratch group past them, blank again (no leaf names them, and groups
 * never used are blank). */
static void direct_blank(struct sweep *w)
{
	size_t n = w->ng + 1 < w->cap_g / FENCE_TBL8_GROUP ? w->ng + 1 : w->cap_g / FENCE_TBL8_GROUP;

	memset(w->g, 0, n * FENCE_TBL8_GROUP * sizeof(*w->g));
	w->ng = 0;
}

/* --- a direct sweep in two halves --------------------------------------- */

#define HALVES_MIN	65536	/* entries: a direct sweep runs in two halves from here */

struct half_sweep {
	struct table *t;
	struct sweep *w;
	const struct v4e *e;
	size_t n;
	struct span sp;
	pthread_t th;
	int ret;
};

static void *half_run(void *arg)
{
	struct half_sweep *h = arg;

	h->ret = sweep_run(h->t, h->w, h->e, h->n, &h->sp, 1);
	return NULL;
}

static int append(void **to, size_t *n, size_t *cap, const void *from, size_t more, size_t size)
{
	if (tbl_grow(to, cap, *n + more, size))
		return -ENOMEM;
	memcpy((char *)*to + *n * size, from, more * size);
	*n += more;
	return 0;
}

/* A direct full sweep, split at the /8 boundary that halves the /24s
 * needing detail: the second half on a thread, building its groups from
 * group u on, u the /24s needing detail in the first half (each takes a
 * group at most). Then the second half's work after the first's. */
static int sweep_halves(struct commit *c)
{
	struct sweep *wa = &c->w, wb = { .direct = true };
	__u32 per8[256] = {}, total = 0, u = 0, x8, last = NO_GROUP;
	struct half_sweep b = { c->t, &wb, c->es, c->n_es };
	struct span sa;
	size_t cap = wa->cap_g;
	int ret;

	/* the /24s that need detail, as sweep_detail tells them */
	for (size_t i = 0; i < c->n_es; i++) {
		const struct v4e *e = &c->es[i];

		if (tbl_v4_detail(e_allow(e), (__u8)e_len(e)) && e_start24(e) != last) {
			last = e_start24(e);
			per8[last >> 16]++;
			total++;
		}
	}
	for (x8 = 0; x8 < 256 && 2 * (u + per8[x8]) <= total; x8++)
		u += per8[x8];
	if (!x8 || x8 == 256 || (size_t)u * FENCE_TBL8_GROUP >= cap)
		return sweep_run(c->t, wa, c->es, c->n_es, c->sp, c->n_sp);
	sa = (struct span){ 0, x8 << 16 };
	b.sp = (struct span){ x8 << 16, FENCE_TBL24_ENTRIES };
	wb.g = wa->g + (size_t)u * FENCE_TBL8_GROUP;
	wb.cap_g = cap - (size_t)u * FENCE_TBL8_GROUP;
	wa->cap_g = (size_t)u * FENCE_TBL8_GROUP;
	if (pthread_create(&b.th, NULL, half_run, &b)) {
		wa->cap_g = cap;
		return sweep_run(c->t, wa, c->es, c->n_es, c->sp, c->n_sp);
	}
	ret = sweep_run(c->t, wa, c->es, c->n_es, &sa, 1);
	pthread_join(b.th, NULL);
	if (!ret)
		ret = b.ret;
	if (ret) {
		/* the first half never passes u; out of groups in the second
		 * (the /24s that come out uniform in the first are left
		 * unused), one sweep may still fit */
		direct_blank(wa);	/* within its u groups */
		wa->cap_g = cap;
		direct_blank(&wb);
		sweep_free(&wb);
		if (ret != -ENOSPC)
			return ret;
		wa->n_runs = wa->n_ext = wa->n_par = wa->n_freed = 0;
		wa->n_fresh = 0;
		return sweep_run(c->t, wa, c->es, c->n_es, c->sp, c->n_sp);
	}
	wa->cap_g = cap;
	for (size_t i = 0; i < wb.n_ext; i++)
		wb.ext[i].lg += u;
	if (wa->ng < u)	/* the first half's scratch group, and the gap */
		memset(&wa->g[wa->ng * FENCE_TBL8_GROUP], 0, FENCE_TBL8_GROUP * sizeof(*wa->g));
	wa->gap_lo = (__u32)wa->ng;
	wa->gap_hi = u;
	wa->ng = u + wb.ng;
	wa->n_fresh += wb.n_fresh;
	ret = append((void **)&wa->runs, &wa->n_runs, &wa->cap_runs, wb.runs, wb.n_runs,
		     sizeof(*wb.runs));
	if (!ret)
		ret = append((void **)&wa->ext, &wa->n_ext, &wa->cap_ext, wb.ext, wb.n_ext,
			     sizeof(*wb.ext));
	if (!ret)
		ret = append((void **)&wa->par, &wa->n_par, &wa->cap_par, wb.par, wb.n_par,
			     sizeof(*wb.par));
	if (!ret)
		ret = append((void **)&wa->freed, &wa->n_freed, &wa->cap_freed, wb.freed, wb.n_freed,
			     sizeof(*wb.freed));
	sweep_free(&wb);
	return ret;
}

/* Build: the image the commit will publish, in memory of its own: the
 * leaves of the /24s it touches, their tbl8 groups, every parent. */
int commit_build(struct commit *c)
{
	int ret;

	if (!c->t->parent) {
		c->t->parent = big_calloc(c->m->n_slots, sizeof(*c->t->parent));
		if (!c->t->parent)
			return -ENOMEM;
	}
	ret = build_spans(c);
	if (!ret)
		ret = build_entries(c);
	if (!ret)
		sort_by_u64(c->es, c->n_es, sizeof(*c->es), v4e_cmp);	/* key leads */
	if (!ret) {
		sweep_direct(c->t, &c->w);
		if (c->w.direct && c->full && c->n_es >= HALVES_MIN)
			ret = sweep_halves(c);
		else
			ret = sweep_run(c->t, &c->w, c->es, c->n_es, c->sp, c->n_sp);
	}
	if (ret == -ENOSPC && c->w.direct)	/* tbl8 itself is full */
		tbl_seterr(c->err, c->errlen, "no room: more /24s need /25../31 detail than the "
		           "table's %u tbl8 groups (raise the capacity at first attach)",
		           c->m->n_groups);
	if (!ret && c->w.direct)
		direct_assign(c);
	else if (!ret)
		ret = tbl_groups_assign(c->t, &c->w, c->err, c->errlen);
	if (!ret)
		ret = build_v6(c);
	if (ret && c->w.direct)
		direct_blank(&c->w);
	return ret;
}

/* What commit_build allocated, freed with the rest of the commit. */
void commit_build_free(struct commit *c)
{
	v6_plan_free(c->v6p);
	free(c->es);
	free(c->sp);
	free(c->touched);
	sweep_free(&c->w);
}
