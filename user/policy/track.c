// SPDX-License-Identifier: GPL-2.0
/* user/policy/track.c - where the engine keeps per-prefix state: an
 * open-addressing table (linear probing, entries inline in one allocation, no
 * allocation per sample) keyed by prefix, holding the last counters and, per
 * rule, the running streak; a side array of records (promotion and offence
 * history), which pin their table entry; a lazy min-heap of expiry times.
 *
 * Owns room and lifetime: growing, settling and evicting under max_tracked,
 * records and their parent/child links, the heap. What the state means
 * (streaks, offences, expiries) is decide.c's. Must not read a clock (now is
 * passed in), touch a map or do any I/O.
 */
#include <errno.h>
#include <sys/mman.h>

#include "policy/internal.h"

#define POLICY_MIN_CAP		1024		/* table slots, a power of two */
#define POLICY_AGE_MAX		511		/* eviction ages are clamped here */
#define POLICY_SCORE_PLAIN	512		/* scores >= this: no record to lose */

/* --- records, heap ------------------------------------------------------- */

__u32 policy_rec_alloc(struct policy *p, const struct cidr *c)
{
	struct policy_rec *r;
	__u32 i, gen;

	if (p->free_rec) {
		i = p->free_rec;
		p->free_rec = p->recs[i].next;
	} else {
		if (p->n_recs == UINT32_MAX)
			return 0;
		if (!GROW(p, recs, recs_cap, (size_t)p->n_recs + 2))
			return 0;
		if (!p->n_recs)
			memset(&p->recs[p->n_recs++], 0, sizeof(*p->recs));	/* 0 = none */
		i = p->n_recs++;
		p->recs[i].gen = 0;
	}
	r = &p->recs[i];
	gen = r->gen;
	memset(r, 0, sizeof(*r));
	r->gen = gen;
	r->pfx = *c;
	r->used = 1;
	r->trigger = POLICY_NO_RULE;
	p->recs_used++;
	return i;
}

static void rec_free(struct policy *p, __u32 i)
{
	struct policy_rec *r = &p->recs[i];

	r->used = 0;
	r->gen++;
	r->next = p->free_rec;
	p->free_rec = i;
	p->recs_used--;
}

static void heap_up(struct policy_heap_item *h, size_t i)
{
	struct policy_heap_item it = h[i];

	while (i) {
		size_t up = (i - 1) / 2;

		if (h[up].expires_ns <= it.expires_ns)
			break;
		h[i] = h[up];
		i = up;
	}
	h[i] = it;
}

static void heap_down(struct policy_heap_item *h, size_t n, size_t i)
{
	struct policy_heap_item it = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1].expires_ns < h[c].expires_ns)
			c++;
		if (it.expires_ns <= h[c].expires_ns)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = it;
}

/* Capacity is reserved at the start of each tick: this cannot fail there. */
int policy_heap_push(struct policy *p, __u32 rec)
{
	if (!GROW(p, heap, heap_cap, p->heap_n + 1))
		return -ENOMEM;
	p->heap[p->heap_n] = (struct policy_heap_item){
		.expires_ns = p->recs[rec].expires_ns, .rec = rec, .gen = p->recs[rec].gen,
	};
	heap_up(p->heap, p->heap_n++);
	return 0;
}

static bool heap_live(const struct policy *p, const struct policy_heap_item *it)
{
	const struct policy_rec *r = &p->recs[it->rec];

	return r->used && r->gen == it->gen && r->expires_ns == it->expires_ns;
}

/* The next promotion whose expiry is at or before now, taken off the heap
 * (stale items on the way are dropped); 0 when there is none. */
__u32 policy_heap_pop(struct policy *p, __u64 now)
{
	while (p->heap_n && p->heap[0].expires_ns <= now) {
		struct policy_heap_item it = p->heap[0];

		p->heap[0] = p->heap[--p->heap_n];
		if (p->heap_n)
			heap_down(p->heap, p->heap_n, 0);
		if (heap_live(p, &it))
			return it.rec;
	}
	return 0;
}

/* Drops stale items (extended, forgotten, unbanned) once they dominate. */
void policy_heap_compact(struct policy *p)
{
	size_t n = 0;

	if (p->heap_n <= 2 * p->n_active + 1024)
		return;
	for (size_t i = 0; i < p->heap_n; i++)
		if (heap_live(p, &p->heap[i]))
			p->heap[n++] = p->heap[i];
	p->heap_n = n;
	for (size_t i = n / 2; i-- > 0;)
		heap_down(p->heap, n, i);
}

static void rec_unlink(struct policy *p, __u32 i)
{
	struct policy_rec *r = &p->recs[i], *par = &p->recs[r->parent];

	if (!r->parent)
		return;
	if (r->prev)
		p->recs[r->prev].next = r->next;
	else
		par->child = r->next;
	if (r->next)
		p->recs[r->next].prev = r->prev;
	par->n_children--;
	r->parent = r->next = r->prev = 0;
}

void policy_rec_link(struct policy *p, __u32 i, __u32 parent)
{
	struct policy_rec *r = &p->recs[i], *par = &p->recs[parent];

	r->parent = parent;
	r->prev = 0;
	r->next = par->child;
	if (par->child)
		p->recs[par->child].prev = i;
	par->child = i;
	par->n_children++;
}

/* Ended at now: early (forget, aggregation) moves the decay time along. */
void policy_rec_deactivate(struct policy *p, __u32 i, __u64 now)
{
	struct policy_rec *r = &p->recs[i];

	if (r->expires_ns > now)
		r->decay_ns = now + (r->decay_ns - r->expires_ns);
	r->expires_ns = 0;
	p->n_active--;
	rec_unlink(p, i);
}

/* --- the table ----------------------------------------------------------- */

static struct policy_entry *table_find(const struct policy *p, const struct cidr *c)
{
	struct policy_entry *e;

	if (!p->count)
		return NULL;
	e = entry_at(p, table_probe(p, c, cidr_hash(c)));
	return e->pfx.family ? e : NULL;
}

static size_t table_cap_for(size_t count)
{
	size_t cap = POLICY_MIN_CAP;

	while (cap * 3 < (count + 1) * 4)
		cap *= 2;
	return cap;
}

/* Zeroed room for a table. A big one asks for huge pages: a million
 * prefixes are a hundred megabytes touched at random every tick, and each
 * 4 KiB page is a TLB entry (on a paravirtualised guest, a shadow page
 * table entry the hypervisor keeps too). */
static void *slots_alloc(size_t cap, size_t stride)
{
	const size_t huge = 2u << 20;
	size_t len = cap * stride;
	void *m;

	if (len < 2 * huge)
		return calloc(cap, stride);
	len = (len + huge - 1) & ~(huge - 1);
	m = aligned_alloc(huge, len);
	if (!m)
		return NULL;
	madvise(m, len, MADV_HUGEPAGE);
	memset(m, 0, len);
	return m;
}

/* Moves every entry into a fresh table of cap slots and stride bytes. map
 * gives, for each rule of the new layout, the old rule whose streak it keeps
 * (-1: none); NULL keeps the layout. */
static int table_resize(struct policy *p, size_t cap, size_t stride, const int *map, unsigned n_rules)
{
	size_t head = offsetof(struct policy_entry, st);
	char *slots = slots_alloc(cap, stride);

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < p->cap; i++) {
		const struct policy_entry *e = entry_at(p, i);
		struct policy_entry *d;
		size_t j;

		if (!e->pfx.family)
			continue;
		for (j = cidr_hash(&e->pfx) & (cap - 1);; j = (j + 1) & (cap - 1))
			if (!((struct policy_entry *)(slots + j * stride))->pfx.family)
				break;
		d = (struct policy_entry *)(slots + j * stride);
		if (!map) {
			memcpy(d, e, stride);
			continue;
		}
		memcpy(d, e, head);
		for (unsigned r = 0; r < n_rules; r++)
			if (map[r] >= 0)
				d->st[r] = e->st[map[r]];
	}
	free(p->slots);
	p->slots = slots;
	p->cap = cap;
	p->stride = stride;
	return 0;
}

/* An empty table for n_rules rules. */
int policy_table_init(struct policy *p, unsigned n_rules)
{
	p->stride = sizeof(struct policy_entry) + n_rules * sizeof(struct policy_streak);
	p->cap = POLICY_MIN_CAP;
	p->slots = slots_alloc(p->cap, p->stride);
	return p->slots ? 0 : -ENOMEM;
}

/* Lays the table out for n_rules rules, rule r keeping the streaks of the
 * old rule map[r] (-1: none). Nothing changes on -ENOMEM. */
int policy_table_remap(struct policy *p, const int *map, unsigned n_rules)
{
	return table_resize(p, p->cap, sizeof(struct policy_entry) + n_rules * sizeof(struct policy_streak),
			    map, n_rules);
}

/* Grows the table once for the prefixes a tick of n samples adds (as far as
 * can be told from the last tick's) rather than doubling along the way:
 * every new table is paid in page faults. */
void policy_table_presize(struct policy *p, size_t n)
{
	size_t want = p->count + (n > p->seen_now ? n - p->seen_now : 0);

	if (want > p->max_tracked && p->count < p->max_tracked)
		want = p->max_tracked;
	if (want * 4 > p->cap * 3 && table_resize(p, table_cap_for(want), p->stride, NULL, 0))
		p->st.nomem++;
}

/* Room for one more entry under the load factor. */
static int table_reserve(struct policy *p)
{
	if ((p->count + 1) * 4 <= p->cap * 3)
		return 0;
	return table_resize(p, p->cap * 2, p->stride, NULL, 0);
}

/* --- eviction ------------------------------------------------------------ */

/* Higher = evicted first; 0 = never. Plain entries (nothing to lose but a
 * streak) go before offence history, each least recently seen first. */
static unsigned evict_score(const struct policy *p, const struct policy_entry *e, __u64 now)
{
	__u32 age = e->seen_tick ? p->tick - e->seen_tick : POLICY_AGE_MAX;

	if (e->seen_tick == p->tick)
		return 0;
	if (age > POLICY_AGE_MAX)
		age = POLICY_AGE_MAX;
	if (e->rec) {
		const struct policy_rec *r = &p->recs[e->rec];

		if (r->expires_ns || r->n_children)
			return 0;
		if (r->offences && now < r->decay_ns)
			return 1 + (age < POLICY_AGE_MAX ? age : POLICY_AGE_MAX - 1);
	}
	return POLICY_SCORE_PLAIN + age;
}

/* After slots were emptied in bulk: moves every entry to the first free slot
 * of its probe path, cluster by cluster from a free slot on, so no lookup
 * meets a hole before its key. In place: no allocation, no page faults. */
static void table_settle(struct policy *p)
{
	size_t mask = p->cap - 1, start = 0;

	while (entry_at(p, start)->pfx.family)
		start++;			/* the load factor leaves free slots */
	for (size_t k = 1; k <= p->cap; k++) {
		size_t i = (start + k) & mask, j;
		struct policy_entry *e = entry_at(p, i);

		if (!e->pfx.family)
			continue;
		for (j = cidr_hash(&e->pfx) & mask; j != i; j = (j + 1) & mask)
			if (!entry_at(p, j)->pfx.family)
				break;
		if (j != i) {
			memcpy(entry_at(p, j), e, p->stride);
			e->pfx.family = 0;
		}
	}
}

/* Drops the entries scoring above min, and `quota` of those scoring min.
 * Records of dropped entries are freed. Returns how many went. */
static size_t table_drop(struct policy *p, __u64 now, unsigned min, size_t quota)
{
	size_t dropped = 0;

	for (size_t i = 0; i < p->cap; i++) {
		struct policy_entry *e = entry_at(p, i);
		unsigned s;

		if (!e->pfx.family)
			continue;
		s = evict_score(p, e, now);
		if (!s || s < min || (s == min && !quota))
			continue;
		if (s == min)
			quota--;
		if (e->rec)
			rec_free(p, e->rec);
		e->pfx.family = 0;
		dropped++;
	}
	if (!dropped)
		return 0;
	p->count -= dropped;
	table_settle(p);
	/* give memory back once the table is mostly empty */
	if (p->cap > 4 * table_cap_for(p->count) && table_resize(p, 2 * table_cap_for(p->count),
								    p->stride, NULL, 0))
		p->st.nomem++;
	return dropped;
}

/* max_tracked reached: free room for the rest of this tick's samples, and
 * for at least an eighth of max_tracked, least recently seen first. */
static void table_evict(struct policy *p, __u64 now)
{
	size_t hist[2 * POLICY_SCORE_PLAIN] = { 0 };
	size_t target = p->max_tracked / 8, acc = 0;
	unsigned min = 1;
	size_t quota = 0;

	if (target < p->tick_left)
		target = p->tick_left;
	if (target > p->max_tracked)
		target = p->max_tracked;
	if (!target)
		target = 1;
	if (p->count >= p->max_tracked)
		target += p->count - p->max_tracked;
	for (size_t i = 0; i < p->cap; i++) {
		const struct policy_entry *e = entry_at(p, i);

		if (e->pfx.family)
			hist[evict_score(p, e, now)]++;
	}
	for (unsigned s = 2 * POLICY_SCORE_PLAIN; s-- > 1;) {
		if (acc + hist[s] >= target) {
			min = s;
			quota = target - acc;
			break;
		}
		acc += hist[s];
		quota = hist[s];
		min = s;
	}
	if (acc + quota)
		p->st.evicted += table_drop(p, now, min, quota);
	if (p->count >= p->max_tracked)
		p->full_tick = p->tick;
}

/* --- entries and records by prefix --------------------------------------- */

/* The entry for c, inserted if new and there is room: may evict or grow, so
 * any entry pointer taken before is stale. pinned entries (records) ignore
 * max_tracked. NULL when there is no room. */
struct policy_entry *policy_table_get(struct policy *p, const struct cidr *c, __u64 h,
				      __u64 now, bool pinned)
{
	size_t i = table_probe(p, c, h);
	struct policy_entry *e = entry_at(p, i);

	if (e->pfx.family)
		return e;
	if (!pinned && p->count >= p->max_tracked) {
		if (p->full_tick != p->tick)
			table_evict(p, now);
		if (p->count >= p->max_tracked) {
			p->st.untracked++;
			return NULL;
		}
		i = table_probe(p, c, h);
	}
	if ((p->count + 1) * 4 > p->cap * 3) {
		if (table_reserve(p)) {
			p->st.nomem++;
			return NULL;
		}
		i = table_probe(p, c, h);
	}
	e = entry_at(p, i);
	memset(e, 0, p->stride);
	e->pfx = *c;
	p->count++;
	return e;
}

/* The record of c, created (with its entry) if needed; 0 on failure. */
__u32 policy_rec_get(struct policy *p, const struct cidr *c, __u64 now)
{
	struct policy_entry *e = policy_table_get(p, c, cidr_hash(c), now, true);
	__u32 i;

	if (!e)
		return 0;
	if (e->rec)
		return e->rec;
	i = policy_rec_alloc(p, c);
	if (!i) {
		p->st.nomem++;
		return 0;
	}
	e->rec = i;
	return i;
}

/* The record of c; 0 if none. */
__u32 policy_rec_find(const struct policy *p, const struct cidr *c)
{
	const struct policy_entry *e = table_find(p, c);

	return e ? e->rec : 0;
}

/* Entries not sampled this tick have no usable counters (the next sample
 * restarts them): drop them once they are a quarter of the table, before
 * they push live prefixes out through max_tracked. Not counted as evicted. */
void policy_table_gc(struct policy *p, __u64 now)
{
	size_t live = p->seen_now + p->recs_used;

	if (p->count > live + POLICY_MIN_CAP && p->count - live > p->count / 4)
		table_drop(p, now, POLICY_SCORE_PLAIN + 1, SIZE_MAX);
}

int policy_lookup(const struct policy *p, const struct cidr *c, __u32 *offences, __u64 *expires_ns)
{
	__u32 i = policy_rec_find(p, c);

	if (!i)
		return -ENOENT;
	if (offences)
		*offences = p->recs[i].offences;
	if (expires_ns)
		*expires_ns = p->recs[i].expires_ns;
	return 0;
}

void policy_get_stats(const struct policy *p, struct policy_stats *st)
{
	*st = p->st;
	st->tracked = p->count;
	st->active = p->n_active;
	st->records = p->recs_used;
}
