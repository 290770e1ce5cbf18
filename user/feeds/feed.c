// SPDX-License-Identifier: GPL-2.0
/* user/feeds/feed.c - see feed.h. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "feeds/feed.h"
#include "feeds/fetch.h"
#include "feeds/taxii.h"
#include "lib/log.h"
#include "lib/util.h"

bool feed_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= sizeof(((struct fence_feed *)0)->name))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

int feed_find(struct pinned *s, const char *name, struct fence_feed *rec)
{
	for (__u32 k = 0; k < FENCE_FEEDS_MAX; k++) {
		struct fence_feed f;

		if (bpf_map_lookup_elem(s->m.fd[FM_FEEDS], &k, &f))
			continue;
		if (f.name[0] && !strncmp(f.name, name, sizeof(f.name))) {
			if (rec)
				*rec = f;
			return k;
		}
	}
	return -1;
}

static int feed_alloc(struct pinned *s)
{
	for (__u32 k = 0; k < FENCE_FEEDS_MAX; k++) {
		struct fence_feed f;

		if (!bpf_map_lookup_elem(s->m.fd[FM_FEEDS], &k, &f) && !f.name[0])
			return k;
	}
	return -1;
}

/* Strongest action among the feeds in mask (drop < throttle < monitor). */
static __u8 feeds_action(const __u8 *actions, __u32 mask)
{
	__u8 a = FENCE_ACT_MAX;

	for (; mask; mask &= mask - 1)
		if (actions[__builtin_ctz(mask)] < a)
			a = actions[__builtin_ctz(mask)];
	return a == FENCE_ACT_MAX ? FENCE_ACT_DROP : a;
}

static int read_actions(struct pinned *s, __u8 *actions)
{
	for (__u32 k = 0; k < FENCE_FEEDS_MAX; k++) {
		struct fence_feed f;

		if (bpf_map_lookup_elem(s->m.fd[FM_FEEDS], &k, &f))
			return -errno;
		actions[k] = f.name[0] ? f.action : FENCE_ACT_DROP;
	}
	return 0;
}

/* --- allowlist overlap, fast enough for a million feed lines ----------- */

struct allows {
	struct cidr *v;
	size_t n;
	__u64 lens[2][3];		/* bitmap of prefix lengths present, per family */
};

static int cidr_cmp(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;
	int c = x->family - y->family;

	if (!c)
		c = memcmp(x->addr, y->addr, 16);
	return c ? c : x->len - y->len;
}

static int allows_collect(struct pinned *s, struct allows *al)
{
	size_t cap = 0;

	memset(al, 0, sizeof(*al));
	for (__u32 slot = table_next(s->t, 0); slot; slot = table_next(s->t, slot)) {
		struct cidr c;

		if (s->m.rules[slot].kind != FENCE_KIND_ALLOW)
			continue;
		if (al->n == cap) {
			struct cidr *v = realloc(al->v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			al->v = v;
		}
		table_info_cidr(&s->m.info[slot], &c);
		al->v[al->n++] = c;
		al->lens[c.family == AF_INET6][c.len / 64] |= 1ULL << (c.len % 64);
	}
	if (al->n)
		qsort(al->v, al->n, sizeof(*al->v), cidr_cmp);
	return 0;
}

struct allows_job {
	struct pinned *s;
	struct allows *al;
	pthread_t th;
	int ret;
};

static void *allows_run(void *arg)
{
	struct allows_job *j = arg;

	j->ret = allows_collect(j->s, j->al);
	return NULL;
}

/* An allow entry overlapping c: one containing it (probe each allow length
 * up to c's), or one inside it (the first allow at or after c's address). */
static const struct cidr *allows_overlap(const struct allows *al, const struct cidr *c)
{
	int fam = c->family == AF_INET6;
	struct cidr probe;
	size_t lo = 0, hi = al->n;

	if (!al->n)
		return NULL;
	for (int len = 0; len <= c->len; len++) {
		const struct cidr *hit;

		if (!(al->lens[fam][len / 64] & (1ULL << (len % 64))))
			continue;
		probe = *c;
		probe.len = len;
		cidr_mask(&probe);
		hit = bsearch(&probe, al->v, al->n, sizeof(*al->v), cidr_cmp);
		if (hit)
			return hit;
	}
	probe = *c;
	while (lo < hi) {	/* first allow >= (c.addr, c.len) */
		size_t mid = (lo + hi) / 2;

		if (cidr_cmp(&al->v[mid], &probe) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < al->n && cidr_contains(c, &al->v[lo]))
		return &al->v[lo];
	return NULL;
}

/* --- load ------------------------------------------------------------------ */

/* Keep a bad line for the caller to print as SOURCE:LINE: what (the first
 * max_errors_shown of them, all if 0); count every one. */
static void report_error(const struct feed_load_opts *o, struct feed_load_report *rep,
			 unsigned line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report_error(const struct feed_load_opts *o, struct feed_load_report *rep,
			 unsigned line, const char *fmt, ...)
{
	struct feed_error *e;
	va_list ap;

	rep->errors++;
	if (o->max_errors_shown && rep->n_lines >= (size_t)o->max_errors_shown)
		return;
	if (rep->n_lines == rep->cap_lines) {
		size_t cap = rep->cap_lines ? rep->cap_lines * 2 : 16;

		e = realloc(rep->lines, cap * sizeof(*e));
		if (!e)
			return;		/* counted, not listed */
		rep->lines = e;
		rep->cap_lines = cap;
	}
	e = &rep->lines[rep->n_lines++];
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void feed_load_report_free(struct feed_load_report *rep)
{
	free(rep->lines);
	rep->lines = NULL;
	rep->n_lines = rep->cap_lines = 0;
}

/* Stage the release of feed bit from the deny entry at slot; an entry
 * nobody else owns then goes. */
static int release_slot(struct pinned *s, __u32 slot, __u32 bit, const __u8 *actions)
{
	struct fence_rule_info info = s->m.info[slot];
	struct cidr c;

	info.feeds &= ~bit;
	if (!info.feeds)
		info.owners &= ~FENCE_OWN_FEED;
	else
		info.feed_action = feeds_action(actions, info.feeds);
	table_info_cidr(&info, &c);
	return table_put_at(s->t, slot, &c, FENCE_KIND_DENY, &info);
}

/* Stage the release of feed bit from every deny entry it owns. */
static int stage_release(struct pinned *s, __u32 bit, const __u8 *actions, size_t *released)
{
	if (fence_maps_slots(&s->m))
		return -ENOMEM;
	for (__u32 slot = 1; slot < s->m.n_slots; slot++) {
		if (s->m.rules[slot].kind != FENCE_KIND_DENY || !(s->m.info[slot].feeds & bit))
			continue;
		if (release_slot(s, slot, bit, actions))
			return -ENOMEM;
		(*released)++;
	}
	return 0;
}

/* --- the diff of a load ------------------------------------------------------ */

/* The feed's entries by prefix, open addressing. A cell is 64 bits: the high
 * half an IPv4 address (or, for IPv6, a hash of the prefix), the low half a
 * tag byte (the IPv4 length, or PI_HASHED) over the entry number + 1 (24
 * bits: a feed holds at most PI_IDX_MAX prefixes). IPv4
 * cells hold their whole key, so the walk over a million committed entries
 * compares them without touching the entries at all. */
#define PI_HASHED	0xffu
#define PI_IDX_MAX	((1u << 24) - 1)

struct pindex {
	__u64 *e;
	__u32 mask;
};

static __u32 pindex_hash(const struct cidr *c)
{
	__u64 a, b, h;

	memcpy(&a, c->addr, 8);
	memcpy(&b, c->addr + 8, 8);
	h = (a ^ (__u64)c->len << 56 ^ (__u64)c->family << 48) * 0x9e3779b97f4a7c15ULL;
	h ^= b * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return (__u32)(h ^ (h >> 32));
}

static bool same_prefix(const struct cidr *x, const struct cidr *y)
{
	return x->family == y->family && x->len == y->len && !memcmp(x->addr, y->addr, 16);
}

static __u64 pindex_key(const struct cidr *c, __u32 h)
{
	__u32 a;

	if (c->family != AF_INET)
		return (__u64)h << 32 | PI_HASHED << 24;
	memcpy(&a, c->addr, 4);
	return (__u64)a << 32 | (__u32)c->len << 24;
}

/* Where c (hashed h) is, or the empty cell where it would go. */
static __u64 *pindex_find_h(const struct pindex *pi, const struct feed_entry *v, const struct cidr *c,
			    __u32 h)
{
	__u64 key = pindex_key(c, h), *e;

	for (__u32 i = h & pi->mask;; i = (i + 1) & pi->mask) {
		e = &pi->e[i];
		if (!*e)
			return e;
		if ((*e & ~(__u64)PI_IDX_MAX) != key)
			continue;
		if ((key >> 24 & 0xff) != PI_HASHED || same_prefix(&v[(*e & PI_IDX_MAX) - 1].cidr, c))
			return e;
	}
}

static __u32 pindex_at(__u64 cell)
{
	return (__u32)(cell & PI_IDX_MAX) - 1;
}

/* Double the index, the distinct entries v[0..u) in it again. */
static int pindex_grow(struct pindex *pi, const struct feed_entry *v, size_t u)
{
	size_t cap = ((size_t)pi->mask + 1) * 2;
	__u64 *e = big_calloc(cap, sizeof(*e));

	if (!e)
		return -ENOMEM;
	free(pi->e);
	pi->e = e;
	pi->mask = (__u32)(cap - 1);
	for (size_t k = 0; k < u; k++) {
		__u32 h = pindex_hash(&v[k].cidr), i = h & pi->mask;

		while (pi->e[i])
			i = (i + 1) & pi->mask;
		pi->e[i] = pindex_key(&v[k].cidr, h) | (k + 1);
	}
	return 0;
}

/* Index v[0..*n), merging entries listed twice into the first (one entry:
 * the longest lifetime wins, no lifetime beats any); *n becomes the number
 * of distinct ones, (*expp)[i] the expiry of v[i] (0 = none). *expp stays
 * NULL while no entry has a lifetime (most feeds: 8 MB less fresh memory
 * for a million entries); see exp_of(). With distinct, an entry listed
 * twice ends it with -EEXIST instead, v unchanged (the index and *expp
 * are then the caller's to free). */
static int pindex_build(struct pindex *pi, struct feed_entry *v, size_t *n, __u64 **expp,
			__u64 ttl_default, __u64 now, bool distinct)
{
	enum { AHEAD = 16 };
	size_t cap = 1024, u = 0;
	__u64 *exp = NULL;
	__u32 hs[AHEAD];

	/* twice the lines, up to 32M cells: a feed that lists a few prefixes
	 * many times over needs few cells; the index doubles as it fills */
	while (cap < *n * 2 && cap < (1U << 25))
		cap *= 2;
	pi->e = big_calloc(cap, sizeof(*pi->e));
	if (!pi->e)
		return -ENOMEM;
	pi->mask = (__u32)(cap - 1);
	/* the cells are hit at random: hash AHEAD entries ahead and prefetch
	 * their cells (v[i + AHEAD] is not yet overwritten by the compaction) */
	for (size_t i = 0; i < *n && i < AHEAD; i++) {
		hs[i] = pindex_hash(&v[i].cidr);
		__builtin_prefetch(&pi->e[hs[i] & pi->mask]);
	}
	for (size_t i = 0; i < *n; i++) {
		__u64 ttl = v[i].ttl_s ? v[i].ttl_s : ttl_default;
		/* beyond the longest lifetime anything takes (a STIX valid_until
		 * in 9999, say): none, rather than a wrapped clock */
		__u64 e = ttl && ttl <= DURATION_MAX_S ? now + ttl * 1000000000ULL : 0;
		__u32 h = hs[i % AHEAD];
		__u64 *cell;

		if (i + AHEAD < *n) {
			hs[i % AHEAD] = pindex_hash(&v[i + AHEAD].cidr);
			__builtin_prefetch(&pi->e[hs[i % AHEAD] & pi->mask]);
		}
		cell = pindex_find_h(pi, v, &v[i].cidr, h);

		if (*cell && distinct)
			return -EEXIST;	/* v as it was: the caller merges them */
		if (*cell) {
			__u64 *x = exp ? &exp[pindex_at(*cell)] : NULL;

			if (x && *x && (!e || e > *x))
				*x = e;
			continue;
		}
		if (u == PI_IDX_MAX)
			return -E2BIG;
		if (u + 1 > ((size_t)pi->mask + 1) / 2) {
			if (pindex_grow(pi, v, u))
				return -ENOMEM;
			cell = pindex_find_h(pi, v, &v[i].cidr, h);
		}
		if (e && !exp) {
			exp = big_calloc(*n + 1, sizeof(*exp));
			if (!exp)
				return -ENOMEM;
			*expp = exp;
		}
		v[u] = v[i];
		if (exp)
			exp[u] = e;
		*cell = pindex_key(&v[u].cidr, h) | (u + 1);
		u++;
	}
	*n = u;
	return 0;
}

static __u64 exp_of(const __u64 *exp, size_t i)
{
	return exp ? exp[i] : 0;
}

/* The feed (bit) lists the committed entry cur, with expiry expires: is
 * there nothing to change? (Ours already, same action and lifetime.) */
static bool entry_kept(const struct feed_load_opts *o, const struct fence_rule_info *cur,
		       __u64 expires, __u32 bit, const __u8 *actions)
{
	__u8 act;

	if (!(cur->feeds & bit))
		return false;
	act = feeds_action(actions, cur->feeds);
	/* throttle parameters are the throttling feed's: compare them only
	 * when this feed is one */
	return cur->feed_action == act && !expires && !cur->feed_expires_ns &&
	       (o->action != FENCE_ACT_THROTTLE || (cur->rate == o->rate && cur->burst == o->burst));
}

/* Stage entry c of the feed (bit) with expiry expires, given what is
 * committed for it now (cur at slot; NULL, 0 if nothing). */
static int stage_entry(struct pinned *s, const struct feed_load_opts *o, const struct cidr *c,
		       __u32 slot, const struct fence_rule_info *cur, __u64 expires, __u32 bit,
		       const __u8 *actions, struct feed_load_report *rep)
{
	struct fence_rule_info info = {};

	if (cur)
		info = *cur;
	if (cur && (cur->feeds & bit)) {
		if (entry_kept(o, cur, expires, bit, actions)) {
			rep->kept++;
			return 0;
		}
		rep->updated++;
	} else {
		rep->added++;
	}
	/* one expiry for all feeds: this feed's alone, or the later of its
	 * and the others' (never beats any time) */
	if (!(info.owners & FENCE_OWN_FEED) || (cur && cur->feeds == bit))
		info.feed_expires_ns = expires;
	else if (!expires || !info.feed_expires_ns)
		info.feed_expires_ns = 0;
	else if (expires > info.feed_expires_ns)
		info.feed_expires_ns = expires;
	info.owners |= FENCE_OWN_FEED;
	info.feeds |= bit;
	info.feed_action = feeds_action(actions, info.feeds);
	if (o->action == FENCE_ACT_THROTTLE && !(info.owners & FENCE_OWN_MANUAL)) {
		info.rate = o->rate;
		info.burst = o->burst;
	}
	if (!cur && o->prepared && o->prepared->reason[0]) {	/* a TAXII peer's identity */
		snprintf(info.reason, sizeof(info.reason), "%s", o->prepared->reason);
	} else if (!cur) {	/* "feed NAME", truncated: a million of them on a first load */
		memcpy(info.reason, "feed ", 5);
		strncpy(info.reason + 5, o->name, sizeof(info.reason) - 6);
	}
	return table_put_at(s->t, slot, c, FENCE_KIND_DENY, &info);
}

#define TODO_RELEASE	0xffffffffU

/* One thread's share of the walk over the committed slots: what it cannot
 * decide alone (changes to stage) goes to todo, in slot order. */
struct diff_job {
	struct pinned *s;
	const struct feed_load_opts *o;
	const struct feed_entry *v;
	const struct pindex *pi;
	const __u64 *exp;
	const __u8 *actions;
	__u8 *seen;
	__u32 bit, from, to;
	struct todo {
		__u32 slot, idx;	/* idx: feed entry, or TODO_RELEASE */
	} *todo;
	size_t n_todo, cap_todo, kept;
	int ret;
};

static int todo_add(struct diff_job *j, __u32 slot, __u32 idx)
{
	if (j->n_todo == j->cap_todo) {
		size_t cap = j->cap_todo ? j->cap_todo * 2 : 4096;
		struct todo *t = realloc(j->todo, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		j->todo = t;
		j->cap_todo = cap;
	}
	j->todo[j->n_todo++] = (struct todo){ slot, idx };
	return 0;
}

static void *diff_walk(void *arg)
{
	/* the slots come in order, their cells at random: hash a batch of
	 * them and prefetch the cells before looking at any */
	enum { BATCH = 32 };
	struct diff_job *j = arg;
	const struct fence_maps *m = &j->s->m;
	struct {
		__u32 slot, h;
		struct cidr c;
	} b[BATCH];
	__u32 slot = j->from;

	while (slot < j->to && !j->ret) {
		unsigned nb = 0;

		for (; slot < j->to && nb < BATCH; slot++) {
			if (m->rules[slot].kind != FENCE_KIND_DENY)
				continue;
			b[nb].slot = slot;
			table_info_cidr(&m->info[slot], &b[nb].c);
			b[nb].h = pindex_hash(&b[nb].c);
			__builtin_prefetch(&j->pi->e[b[nb].h & j->pi->mask]);
			nb++;
		}
		for (unsigned k = 0; k < nb && !j->ret; k++) {
			const struct fence_rule_info *in = &m->info[b[k].slot];
			__u64 *cell = pindex_find_h(j->pi, j->v, &b[k].c, b[k].h);

			if (*cell) {
				__u32 i = pindex_at(*cell);

				j->seen[i] = 1;
				if (entry_kept(j->o, in, exp_of(j->exp, i), j->bit, j->actions))
					j->kept++;
				else
					j->ret = todo_add(j, b[k].slot, i);
			} else if (in->feeds & j->bit) {
				j->ret = todo_add(j, b[k].slot, TODO_RELEASE);
			}
		}
	}
	return NULL;
}

/* Stage the feed's n distinct entries against what is committed: a
 * committed deny entry the feed lists is updated or kept, one the feed
 * owned and no longer lists is released; what is left is new. The walk
 * over the committed slots (in order, never at random) runs on a thread
 * per CPU over ranges of slots; the changes are staged after it, in slot
 * order. */
static int stage_diff(struct pinned *s, const struct feed_load_opts *o, const struct feed_entry *v,
		      size_t n, const struct pindex *pi, const __u64 *exp, __u32 bit,
		      const __u8 *actions, struct feed_load_report *rep)
{
	enum { MAX_JOBS = 4 };
	struct diff_job j[MAX_JOBS];
	pthread_t th[MAX_JOBS];
	bool started[MAX_JOBS] = {};
	__u8 *seen = big_calloc(n + 1, 1);
	int nj = s->m.ncpus < MAX_JOBS ? s->m.ncpus : MAX_JOBS, ret = 0;
	__u32 per;

	if (!seen || fence_maps_slots(&s->m)) {	/* the walk reads the slots whole */
		free(seen);
		return -ENOMEM;
	}
	if (nj < 1 || s->m.n_slots < 65536)
		nj = 1;
	per = s->m.n_slots / nj + 1;
	for (int k = 0; k < nj; k++) {
		j[k] = (struct diff_job){ .s = s, .o = o, .v = v, .pi = pi, .exp = exp,
					  .actions = actions, .seen = seen, .bit = bit };
		j[k].from = k ? k * per : 1;
		j[k].to = (k + 1) * per < s->m.n_slots ? (k + 1) * per : s->m.n_slots;
		if (k)
			started[k] = !pthread_create(&th[k], NULL, diff_walk, &j[k]);
	}
	diff_walk(&j[0]);
	for (int k = 1; k < nj; k++) {
		if (started[k])
			pthread_join(th[k], NULL);
		else
			diff_walk(&j[k]);	/* no thread: walk it here */
	}
	for (int k = 0; k < nj; k++) {
		ret = ret ? ret : j[k].ret;
		rep->kept += j[k].kept;
		for (size_t t = 0; t < j[k].n_todo && !ret; t++) {
			__u32 slot = j[k].todo[t].slot, i = j[k].todo[t].idx;
			const struct fence_rule_info *in = &s->m.info[slot];
			struct cidr c;

			if (i == TODO_RELEASE) {
				ret = release_slot(s, slot, bit, actions);
				rep->removed++;
				continue;
			}
			table_info_cidr(in, &c);
			ret = stage_entry(s, o, &c, slot, in, exp_of(exp, i), bit, actions, rep);
		}
		free(j[k].todo);
	}
	for (size_t i = 0; i < n && !ret; i++)
		if (!seen[i])
			ret = stage_entry(s, o, &v[i].cidr, 0, NULL, exp_of(exp, i), bit, actions, rep);
	free(seen);
	return ret;
}

/* May this load ask the server for "not modified since the last load"?
 * Only when a 304 would leave the same state a full load would: the same
 * source and options, and no lifetimes relative to the load (a refresh of
 * a feed with --ttl renews its entries' lifetimes, so it reads them all;
 * one that drops --ttl must rewrite them). Throttle parameters are not
 * recorded: a throttling feed reads them all; nor is --lenient, whose
 * result also depends on the allowlist of the moment. */
static bool conditional_ok(const struct fence_feed *rec, const struct feed_load_opts *o)
{
	return !o->refetch && !o->check && !o->ttl_s && !rec->ttl_s && !o->lenient &&
	       !strncmp(rec->source, o->source, sizeof(rec->source)) &&
	       rec->action == o->action && o->action != FENCE_ACT_THROTTLE &&
	       rec->min_len_v4 == o->min_len_v4 && rec->min_len_v6 == o->min_len_v6 &&
	       (o->format == FEED_FMT_AUTO || (int)rec->format == (int)o->format);
}

static void fetch_opts_of(const struct feed_load_opts *o, const struct fence_feed *rec,
			  struct fetch_opts *fo)
{
	bool cond = rec && conditional_ok(rec, o);

	*fo = (struct fetch_opts){ .etag = cond ? rec->etag : NULL,
				   .last_modified = cond ? rec->last_modified : NULL,
				   .timeout_s = o->timeout_s, .max_bytes = o->max_bytes,
				   .cancel = o->cancel };
}

/* A taxii+ source: poll the collection (feeds/taxii.h); the bundle it
 * hands back is parsed as stix. */
static int fetch_taxii(const struct feed_load_opts *o, struct fetch_result *r, char *reason,
		       size_t rlen, char *err, size_t errlen)
{
	struct taxii_poll_opts to = { .source = o->source, .token_file = o->token_file,
				      .ca_file = o->ca_file, .cache_dir = o->cache_dir,
				      .full = o->refetch, .timeout_s = o->timeout_s,
				      .max_bytes = o->max_bytes, .cancel = o->cancel };

	return taxii_poll(&to, r, reason, rlen, err, errlen);
}

static enum feed_format format_of(const struct feed_load_opts *o)
{
	return taxii_is_source(o->source) ? FEED_FMT_STIX : o->format;
}

void feed_prepare(const struct feed_load_opts *o, const struct fence_feed *rec,
		  struct feed_prepared *p)
{
	struct fetch_opts fo;
	double t0 = now_s();

	memset(p, 0, sizeof(*p));
	fetch_opts_of(o, rec, &fo);
	if (fo.etag || fo.last_modified) {
		p->conditional = true;
		snprintf(p->etag, sizeof(p->etag), "%s", rec->etag);
		snprintf(p->last_modified, sizeof(p->last_modified), "%s", rec->last_modified);
	}
	if (o->from_fd)
		p->fetch_ret = fetch_fd(o->source_fd, o->max_bytes, &p->fr, p->err, sizeof(p->err));
	else if (taxii_is_source(o->source))
		p->fetch_ret = fetch_taxii(o, &p->fr, p->reason, sizeof(p->reason), p->err,
					   sizeof(p->err));
	else
		p->fetch_ret = fetch_source(o->source, &fo, &p->fr, p->err, sizeof(p->err));
	p->fetch_s = now_s() - t0;
	if (p->fetch_ret || p->fr.not_modified)
		return;
	t0 = now_s();
	p->parsed_ns = fence_now_ns();
	p->parse_ret = feed_parse(p->fr.data, p->fr.len, format_of(o), time(NULL), &p->res);
	p->parse_s = now_s() - t0;
}

int feed_record_get(const char *pin_dir, const char *name, struct fence_feed *rec)
{
	char path[PATH_MAX];
	int fd, ret = -ENOENT;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, fence_map_names[FM_FEEDS]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -ENOENT;
	for (__u32 k = 0; k < FENCE_FEEDS_MAX && ret; k++)
		if (!bpf_map_lookup_elem(fd, &k, rec) && rec->name[0] &&
		    !strncmp(rec->name, name, sizeof(rec->name)))
			ret = 0;
	close(fd);
	return ret;
}

/* Lifetimes in the feed count from its parse: take off the time since
 * (rounded up), and drop what expired meanwhile. */
static void age_entries(struct feed_result *res, __u64 parsed_ns, __u64 now)
{
	__u64 gone = now > parsed_ns ? (now - parsed_ns + 999999999ULL) / 1000000000ULL : 0;
	size_t n = 0;

	if (!gone)
		return;
	for (size_t i = 0; i < res->n_entries; i++) {
		struct feed_entry *e = &res->entries[i];

		if (e->ttl_s && e->ttl_s <= gone) {
			res->n_skipped++;
			continue;
		}
		if (e->ttl_s)
			e->ttl_s -= gone;
		res->entries[n++] = *e;
	}
	res->n_entries = n;
}

void feed_prepared_free(struct feed_prepared *p)
{
	fetch_result_free(&p->fr);
	feed_result_free(&p->res);
}

/* Say why this load failed, in the report (the caller prints it; the
 * daemon's feed event carries it); returns err. */
static __attribute__((format(printf, 3, 4)))
int load_failed(struct feed_load_report *rep, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->why, sizeof(rep->why), fmt, ap);
	va_end(ap);
	return err;
}

/* What one load carries from phase to phase. */
struct load {
	struct pinned *s;
	const struct feed_load_opts *o;
	struct feed_load_report *rep;
	struct fence_feed rec;		/* the feed's record: as loaded last, then as now */
	int id;
	__u32 bit;
	struct fetch_result fr;
	struct feed_result res;
	size_t n;			/* res.entries[0..n): the entries that passed the checks */
	struct allows al;
	struct pindex pi;
	__u64 *exp;
	__u8 actions[FENCE_FEEDS_MAX];
	__u64 now;
};

/* The feed's id: its own, a free one for a new feed, any for --check. */
static int load_id(struct load *l)
{
	l->id = l->s ? feed_find(l->s, l->o->name, &l->rec) : -1;
	if (l->id < 0) {
		memset(&l->rec, 0, sizeof(l->rec));
		l->id = l->o->check ? 0 : feed_alloc(l->s);	/* checks apply nothing */
		if (l->id < 0)
			return load_failed(l->rep, -ENOSPC, "feed %s: all %d feed ids are in use "
					   "(`xdpfence feed del` one)", l->o->name, FENCE_FEEDS_MAX);
	}
	l->bit = 1U << l->id;
	return 0;
}

/* The feed's bytes and, where prepared, its parse: taken over from
 * o->prepared, or fetched now (conditionally, when a 304 would leave the
 * state a full load would). */
static int load_fetch(struct load *l)
{
	const struct feed_load_opts *o = l->o;
	char err[256] = "";
	double t0 = now_s();
	bool same_source = conditional_ok(&l->rec, o);
	int ret;

	if (o->prepared) {
		struct feed_prepared *pp = o->prepared;

		/* "not modified" since a record that changed meanwhile (another
		 * load of this feed got in first) says nothing: fetch again */
		if (pp->fr.not_modified && (!pp->conditional || !same_source ||
					    strcmp(pp->etag, l->rec.etag) ||
					    strcmp(pp->last_modified, l->rec.last_modified)))
			return load_failed(l->rep, -EAGAIN, "feed %s: %s: changed while it was fetched: "
					   "fetch it again", o->name, o->source);
		l->fr = pp->fr;
		l->res = pp->res;
		snprintf(err, sizeof(err), "%s", pp->err);
		ret = pp->fetch_ret;
		l->rep->fetch_s = pp->fetch_s;
		memset(&pp->fr, 0, sizeof(pp->fr));
		memset(&pp->res, 0, sizeof(pp->res));
		if (!ret && !l->fr.not_modified)
			age_entries(&l->res, pp->parsed_ns, l->now);
	} else {
		struct fetch_opts fo;

		fetch_opts_of(o, same_source ? &l->rec : NULL, &fo);
		if (taxii_is_source(o->source)) {
			char reason[48];	/* kept only by feed_prepare's callers */

			ret = fetch_taxii(o, &l->fr, reason, sizeof(reason), err, sizeof(err));
		} else {
			ret = fetch_source(o->source, &fo, &l->fr, err, sizeof(err));
		}
		l->rep->fetch_s = now_s() - t0;
	}
	if (ret)
		return load_failed(l->rep, ret < 0 && ret != -EINVAL ? ret : -EIO, "feed %s: %s: %s", o->name,
				   o->source, err);
	return 0;
}

/* Parse (unless prepared) and check every entry: bad lines, too short,
 * overlapping the allowlist. -EINVAL when the feed is refused. */
static int load_check(struct load *l)
{
	const struct feed_load_opts *o = l->o;
	struct feed_load_report *rep = l->rep;
	double t0 = now_s();
	bool indexed;
	int ret;

	if (o->prepared) {
		ret = o->prepared->parse_ret;
		t0 -= o->prepared->parse_s;
	} else {
		ret = feed_parse(l->fr.data, l->fr.len, format_of(o), time(NULL), &l->res);
	}
	if (ret == -ENOMEM)
		return load_failed(rep, -ENOMEM, "feed %s: out of memory parsing %s", o->name,
				   o->source);
	for (size_t i = 0; i < l->res.n_errors; i++)
		report_error(o, rep, l->res.errors[i].line, "%s", l->res.errors[i].msg);
	if (ret == -EINVAL) {	/* the document as a whole is unreadable */
		rep->why_listed = rep->n_lines > 0;
		return load_failed(rep, -EINVAL, "%s:%u: %s", o->source,
				   l->res.n_errors ? l->res.errors[0].line : 0,
				   l->res.n_errors ? l->res.errors[0].msg : "unreadable");
	}

	/* the allowlist is read (no pinned maps, --check: none) on a thread
	 * while the entries are indexed as they are: when none is listed
	 * twice and the checks below refuse none, that is the index the load
	 * needs (one refused fails the load, unless --lenient) */
	{
		struct allows_job aj = { .s = l->s, .al = &l->al };
		size_t n_all = l->res.n_entries;
		bool threaded = l->s && !pthread_create(&aj.th, NULL, allows_run, &aj);

		indexed = !pindex_build(&l->pi, l->res.entries, &n_all, &l->exp, o->ttl_s, l->now,
					true);
		if (threaded)
			pthread_join(aj.th, NULL);
		else if (l->s)
			allows_run(&aj);
		if (aj.ret)
			return load_failed(rep, -ENOMEM, "reading the allowlist failed");
	}
	for (size_t i = 0; i < l->res.n_entries; i++) {
		struct feed_entry *e = &l->res.entries[i];
		int v4 = e->cidr.family == AF_INET;
		__u8 min = v4 ? o->min_len_v4 : o->min_len_v6;
		char buf[CIDR_STR_MAX], abuf[CIDR_STR_MAX];
		const struct cidr *a;

		if (e->cidr.len < min) {
			report_error(o, rep, e->line, "%s is shorter than /%u: refused (--min-len-v%d)",
				     cidr_str(&e->cidr, buf, sizeof(buf)), min, v4 ? 4 : 6);
			continue;
		}
		a = allows_overlap(&l->al, &e->cidr);
		if (a) {
			report_error(o, rep, e->line, "%s overlaps allowlisted %s: refused",
				     cidr_str(&e->cidr, buf, sizeof(buf)), cidr_str(a, abuf, sizeof(abuf)));
			continue;
		}
		if (e != &l->res.entries[l->n])	/* in place until one is refused */
			l->res.entries[l->n] = *e;
		l->n++;
	}
	rep->skipped = l->res.n_skipped;
	if (rep->errors && !o->lenient)
		return load_failed(rep, -EINVAL, "feed %s: %zu bad line%s in %s: nothing applied "
				   "(--lenient applies the good ones)", o->name, rep->errors,
				   rep->errors == 1 ? "" : "s", o->source);
	/* entries listed twice merge (the longest lifetime wins); a feed
	 * holds at most PI_IDX_MAX distinct prefixes. --check runs this too:
	 * it runs every check a load runs */
	ret = 0;
	if (!indexed || l->n != l->res.n_entries) {
		free(l->pi.e);
		free(l->exp);
		l->pi.e = NULL;
		l->exp = NULL;
		ret = pindex_build(&l->pi, l->res.entries, &l->n, &l->exp, o->ttl_s, l->now, false);
	}
	if (ret == -E2BIG)
		return load_failed(rep, -EINVAL, "feed %s: more than %u distinct prefixes in %s, "
				   "more than one feed holds: split it", o->name, PI_IDX_MAX, o->source);
	if (ret)
		return load_failed(rep, -ENOMEM, "feed %s: out of memory indexing %zu prefixes",
				   o->name, l->n);
	rep->entries = l->n;
	rep->parse_s = now_s() - t0;
	return 0;
}

/* Stage the difference against what the feed owned before, commit it, and
 * record the feed. */
static int load_apply(struct load *l)
{
	const struct feed_load_opts *o = l->o;
	struct feed_load_report *rep = l->rep;
	struct table_stats ts = {};
	char err[256] = "";
	double t0 = now_s(), stage_s;
	struct fence_feed *rec = &l->rec;

	if (read_actions(l->s, l->actions))
		return load_failed(rep, -EIO, "reading the feed records failed");
	l->actions[l->id] = o->action;
	/* room for what looks new: everything on a first load, little on a reload */
	if (table_reserve(l->s->t, (l->n > rec->entries ? l->n - rec->entries : 0) + 1024))
		return load_failed(rep, -ENOMEM, "feed %s: out of memory staging %zu prefixes",
				   o->name, l->n);
	if (stage_diff(l->s, o, l->res.entries, l->n, &l->pi, l->exp, l->bit, l->actions, rep))
		return load_failed(rep, -ENOMEM, "feed %s: out of memory staging %zu prefixes",
				   o->name, l->n);
	stage_s = now_s() - t0;
	/* the record first: entries owned by a feed id that no record names
	 * would be nobody's to delete if this process died during the commit
	 * (a first load's record then says it never completed: loaded 0) */
	struct fence_feed before = *rec;

	if (!before.name[0]) {
		snprintf(rec->name, sizeof(rec->name), "%s", o->name);
		snprintf(rec->source, sizeof(rec->source), "%s", o->source);
		rec->action = o->action;
		if (bpf_map_update_elem(l->s->m.fd[FM_FEEDS], &(__u32){ l->id }, rec, BPF_ANY))
			return load_failed(rep, -errno, "feed %s: recording the feed: %s: nothing "
					   "applied", o->name, strerror(errno));
	}
	if (pin_commit(l->s, &ts, err, sizeof(err))) {
		rep->entries = 0;
		if (!before.name[0])	/* a refused first load leaves no record */
			bpf_map_update_elem(l->s->m.fd[FM_FEEDS], &(__u32){ l->id }, &before, BPF_ANY);
		return load_failed(rep, -EIO, "feed %s: %s: nothing applied", o->name, err);
	}
	snprintf(rec->name, sizeof(rec->name), "%s", o->name);
	snprintf(rec->source, sizeof(rec->source), "%s", o->source);
	snprintf(rec->etag, sizeof(rec->etag), "%s", l->fr.etag);
	snprintf(rec->last_modified, sizeof(rec->last_modified), "%s", l->fr.last_modified);
	rec->loaded_unix = time(NULL);
	rec->ttl_s = o->ttl_s;
	rec->entries = rep->entries;
	rec->action = o->action;
	rec->min_len_v4 = o->min_len_v4;
	rec->min_len_v6 = o->min_len_v6;
	rec->format = l->res.format;
	if (bpf_map_update_elem(l->s->m.fd[FM_FEEDS], &(__u32){ l->id }, rec, BPF_ANY))
		return load_failed(rep, -errno, "feed %s: entries applied, but recording the feed "
				   "failed: %s", o->name, strerror(errno));
	rep->apply_s = now_s() - t0;
	pr_debug("feed %s: parse %.0f ms, diff %.0f ms, %s commit: build %.0f ms, write %.0f ms "
		 "(%u tbl24 + %u tbl8 leaves)", o->name, rep->parse_s * 1e3, stage_s * 1e3,
		 ts.small ? "small" : "full", ts.build_ms, ts.write_ms, ts.tbl24_writes, ts.tbl8_writes);
	return 0;
}

int feed_load(struct pinned *s, const struct feed_load_opts *o, struct feed_load_report *rep)
{
	struct load l = { .s = s, .o = o, .rep = rep, .now = fence_now_ns() };
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (!s && !o->check)
		return load_failed(rep, -EINVAL, "feed %s: no pinned maps to load it into", o->name);
	ret = load_id(&l);
	if (!ret)
		ret = load_fetch(&l);
	if (!ret && l.fr.not_modified) {
		rep->not_modified = true;
		rep->entries = l.rec.entries;
	} else if (!ret) {
		ret = load_check(&l);
		if (!ret && !o->check)
			ret = load_apply(&l);
	}
	if (s)
		table_abort(s->t);
	free(l.exp);
	free(l.pi.e);
	free(l.al.v);
	feed_result_free(&l.res);
	fetch_result_free(&l.fr);
	return ret;
}

int feed_delete(struct pinned *s, const char *name, size_t *removed, char *err, size_t errlen)
{
	struct fence_feed rec;
	__u8 actions[FENCE_FEEDS_MAX];
	char why[256] = "";
	int id = feed_find(s, name, &rec);
	__u32 bit;

	*removed = 0;
	if (id < 0) {
		snprintf(err, errlen, "no feed named \"%s\" (`xdpfence feed list`)", name);
		return -ENOENT;
	}
	bit = 1U << id;
	if (read_actions(s, actions)) {
		snprintf(err, errlen, "feed del %s: reading the feed records: %s", name,
			 strerror(errno));
		return -EIO;
	}
	if (stage_release(s, bit, actions, removed)) {
		table_abort(s->t);
		snprintf(err, errlen, "feed del %s: out of memory", name);
		return -ENOMEM;
	}
	if (pin_commit(s, NULL, why, sizeof(why))) {
		snprintf(err, errlen, "feed del %s: %s", name, why);
		return -EIO;
	}
	memset(&rec, 0, sizeof(rec));
	if (bpf_map_update_elem(s->m.fd[FM_FEEDS], &(__u32){ id }, &rec, BPF_ANY)) {
		snprintf(err, errlen, "feed del %s: %s", name, strerror(errno));
		return -errno;
	}
	return 0;
}
