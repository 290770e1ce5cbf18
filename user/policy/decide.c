// SPDX-License-Identifier: GPL-2.0
/* user/policy/decide.c - the behaviour engine's decisions (see policy.h): a
 * tick's samples into streaks, rules firing, promotions and extensions with
 * their escalated, jittered ttl, aggregation into parents, expiries, and the
 * operator's forget.
 *
 * Owns what the state means: the streaks, offences, expiries and actions of
 * the records, and the decisions a tick returns. Where state lives and when
 * it is evicted is track.c's; the config is config.c's, the state file
 * statefile.c's. Must not read a clock (the caller passes now), touch a map
 * or do any I/O.
 *
 * A streak is the time and the metric delta of the consecutive intervals whose
 * rate was above the rule's rate, ending at the last tick: two numbers per
 * rule and prefix instead of a ring of samples. Any interval at or below the
 * rate, a tick that did not carry the prefix (no traffic, or the LRU dropped
 * it) and the first sample of a prefix all restart it.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "policy/internal.h"

#define NSEC			1000000000ULL
#define POLICY_SLACK_NS		(100ULL * 1000000)	/* window may fall short by timer jitter */
#define POLICY_PREFETCH		16		/* samples hashed ahead of use */

/* --- small helpers ------------------------------------------------------- */

/* splitmix64: small, seedable, and its whole state is one number to save */
static __u64 rng_next(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static double rng_sym(__u64 *s)
{
	return (double)(rng_next(s) >> 11) * 0x1p-52 - 1.0;
}

static int cidr_key_cmp(const void *x, const void *y)
{
	const struct cidr *a = x, *b = y;
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, 16);
	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Offences are forgotten max_ttl after the last ban ended. */
static void rec_decay(struct policy_rec *r, __u64 now)
{
	if (!r->expires_ns && r->offences && now >= r->decay_ns)
		r->offences = 0;
}

/* --- decisions ----------------------------------------------------------- */

static bool parent_of(const struct policy *p, const struct cidr *c, struct cidr *par, unsigned *n)
{
	unsigned len;

	if (c->family == AF_INET) {
		*n = p->cfg.v4_children;
		len = p->cfg.v4_parent_len;
	} else {
		*n = p->cfg.v6_children;
		len = p->cfg.v6_parent_len;
	}
	if (!*n || c->len <= len)
		return false;
	*par = *c;
	par->len = (__u8)len;
	cidr_mask(par);
	return true;
}

static __u64 policy_ttl(const struct policy_rule *r, __u32 offences)
{
	double t = (double)r->ttl_s;

	for (__u32 i = 1; i < offences && r->escalate > 1 && t < (double)r->max_ttl_s; i++)
		t *= r->escalate;
	if (t >= (double)r->max_ttl_s)
		return r->max_ttl_s;
	return (__u64)(t + 0.5);
}

/* now + ttl * (1 + u), u uniform in [-jitter, +jitter): a batch promoted
 * together does not expire together. The generator advances either way. */
static __u64 policy_expiry(struct policy *p, const struct policy_rule *r, __u64 now, __u64 ttl_s)
{
	double u = rng_sym(&p->rng);
	__u64 ns = ttl_s * NSEC;

	if (r->jitter > 0)
		ns = (__u64)((double)ns * (1 + u * r->jitter));
	return now + (ns ? ns : 1);
}

/* Capacity was reserved by the caller. */
static struct policy_decision *dec_push(struct policy *p, enum policy_event type, __u64 now,
					const struct policy_rec *r)
{
	struct policy_decision *d = &p->dec[p->n_dec++];

	*d = (struct policy_decision){
		.type = type,
		.time_ns = now,
		.prefix = r->pfx,
		.rule = name_of(p, r->rule),
		.metric = policy_metric_name(r->metric),
		.value = r->value,
		.threshold = r->threshold,
		.action = r->action,
		.throttle_rate = r->throttle_rate,
		.throttle_burst = r->throttle_burst,
		.ttl_s = r->ttl_s,
		.expires_ns = r->expires_ns,
		.offences = r->offences,
		.why = "",
		.hosts = r->hosts,
		.kind = name_of(p, r->kind),
	};
	return d;
}

static void policy_expire(struct policy *p, __u64 now)
{
	__u32 i;

	while ((i = policy_heap_pop(p, now))) {
		if (!p->recs[i].learned)
			dec_push(p, POLICY_EXPIRE, now, &p->recs[i]);
		p->recs[i].learned = 0;
		policy_rec_deactivate(p, i, now);
	}
}

/* A parent holding enough promoted children goes on p->pending: the end of
 * the tick (of the next one, after policy_relink) aggregates it. Room on
 * p->pending was reserved. */
static void pending_mark(struct policy *p, __u32 pr, unsigned need)
{
	struct policy_rec *pa = &p->recs[pr];

	if (pa->n_children >= need && !pa->pending) {
		pa->pending = 1;
		p->pending[p->n_pending++] = pr;
	}
}

/* Still offending while promoted: one more offence, and the later of the
 * two expiries. */
static void fire_extend(struct policy *p, __u32 i, const struct policy_rule *rule, __u64 now)
{
	struct policy_rec *r = &p->recs[i];
	__u64 exp, ttl;

	/* renewed at its current TTL (or the firing rule's for this many
	 * offences, if longer): still offending while banned is the same
	 * offence, not a new one; escalation comes with an offence after the
	 * ban has ended (fire_promote) */
	ttl = policy_ttl(rule, r->offences ? r->offences : 1);
	if (ttl > r->ttl_s)
		r->ttl_s = ttl;
	exp = policy_expiry(p, rule, now, r->ttl_s);
	if (exp > r->expires_ns) {
		r->expires_ns = exp;
		policy_heap_push(p, i);
	}
}

/* A new promotion of record i by rule ri, linked to its parent par (record
 * pr, or created here; par NULL: no aggregation). Everything that can fail
 * comes first: false, and nothing changed, when memory runs short; the rule
 * fires again while the prefix stays over it. */
static bool fire_promote(struct policy *p, __u32 i, unsigned ri, const struct cidr *par, __u32 pr,
			 unsigned need, __u64 now)
{
	const struct policy_rule *rule = &p->cfg.rules[ri];
	struct policy_rec *r;

	if (par && !pr) {
		pr = policy_rec_get(p, par, now);
		if (!pr)
			return false;
	}
	if (par && !GROW(p, pending, pending_cap, p->n_pending + 1)) {
		p->st.nomem++;
		return false;
	}
	r = &p->recs[i];
	rec_decay(r, now);
	r->offences++;
	r->ttl_s = policy_ttl(rule, r->offences);
	r->expires_ns = policy_expiry(p, rule, now, r->ttl_s);
	r->action = rule->action;
	r->throttle_rate = rule->throttle_rate;
	r->throttle_burst = rule->throttle_burst;
	p->n_active++;
	policy_heap_push(p, i);
	if (par) {
		policy_rec_link(p, i, pr);
		p->recs[pr].trigger = (__u8)ri;
		pending_mark(p, pr, need);
	}
	return true;
}

/* Rule f->rule fires on pfx (sampled, reported, or a host of a sample):
 * promote it, or extend its promotion. 1 when it did; 0 when it must not
 * (allowlisted, or under a promoted parent); -EAGAIN when pfx had its
 * decision this tick already; -ENOMEM when memory ran short (nothing
 * changed: the rule fires again while the prefix stays over it). */
int policy_fire(struct policy *p, const struct cidr *pfx, const struct policy_fire_how *f, __u64 now,
		policy_allowed_fn allowed, void *ctx)
{
	const struct policy_rule *rule = &p->cfg.rules[f->rule];
	struct policy_rec *r;
	struct cidr par;
	__u32 ri_rec, pr = 0;
	unsigned n_kids = 0;
	bool has_par, extend;

	if (allowed && allowed(ctx, pfx))
		return 0;
	has_par = parent_of(p, pfx, &par, &n_kids);
	if (has_par) {
		pr = policy_rec_find(p, &par);
		if (pr && p->recs[pr].expires_ns)
			return 0;	/* covered by the promoted parent */
	}
	if (!GROW(p, dec, dec_cap, p->n_dec + 1) || !GROW(p, heap, heap_cap, p->heap_n + 2)) {
		p->st.nomem++;
		return -ENOMEM;
	}
	ri_rec = policy_rec_get(p, pfx, now);
	if (!ri_rec)
		return -ENOMEM;
	if (p->recs[ri_rec].fired_tick == p->tick)
		return -EAGAIN;
	extend = p->recs[ri_rec].expires_ns != 0;
	if (extend)
		fire_extend(p, ri_rec, rule, now);
	else if (!fire_promote(p, ri_rec, f->rule, has_par ? &par : NULL, pr, n_kids, now))
		return -ENOMEM;
	r = &p->recs[ri_rec];
	r->learned = 0;		/* this gateway's own from now on */
	/* extend: the stronger action wins (drop < throttle < monitor) */
	if (rule->action <= r->action) {
		r->action = rule->action;
		r->throttle_rate = rule->throttle_rate;
		r->throttle_burst = rule->throttle_burst;
	}
	r->decay_ns = r->expires_ns + rule->max_ttl_s * NSEC;
	r->value = f->value;
	r->threshold = rule->count ? rule->count : rule->rate;
	r->rule = p->rule_name[f->rule];
	r->metric = (__u8)rule->metric;
	r->hosts = f->hosts;
	r->kind = f->kind;
	r->fired_tick = p->tick;
	dec_push(p, extend ? POLICY_EXTEND : POLICY_PROMOTE, now, r);
	return 1;
}

static bool hosts_ok(const struct policy_rule *r, __u32 hosts)
{
	return (!r->min_hosts || hosts >= r->min_hosts) && (!r->max_hosts || hosts <= r->max_hosts);
}

/* A rule with max_hosts on a sample that lists its hosts: each host its own
 * /32, its neighbours left alone. false when the prefix itself is to fire
 * (no list, or more hosts than POLICY_HOST_TARGETS). */
static bool fire_hosts(struct policy *p, const struct policy_sample *s, const struct policy_fire_how *f,
		       __u64 now, policy_allowed_fn allowed, void *ctx)
{
	const struct policy_rule *rule = &p->cfg.rules[f->rule];
	unsigned shift = 32 - s->prefix.len;

	if (!rule->max_hosts || !s->host_bits || s->prefix.family != AF_INET || s->prefix.len > 32 ||
	    s->prefix.len < 24 || !s->hosts || s->hosts > POLICY_HOST_TARGETS)
		return false;
	for (unsigned i = 0; i < 256; i++) {
		struct cidr h = s->prefix;
		__u32 net, a;

		if (!(s->host_bits[i / 64] >> (i % 64) & 1))
			continue;
		memcpy(&net, h.addr, 4);
		net = ntohl(net);
		a = (net & ~0xffU) | i;
		if (shift < 32 && a >> shift != net >> shift)
			continue;	/* outside the prefix: not a host of it */
		a = htonl(a);
		memcpy(h.addr, &a, 4);
		h.len = 32;
		policy_fire(p, &h, f, now, allowed, ctx);
	}
	return true;
}

/* One sample: update the streaks; a completed window fires the rule with the
 * strongest action (first in config order on a tie). */
static void policy_sample(struct policy *p, const struct policy_sample *s, __u64 h, __u64 now,
			  __u64 dt, policy_allowed_fn allowed, void *ctx)
{
	__u64 cur[3] = {
		[POLICY_NEW_CONNS] = s->new_conns,
		[POLICY_PACKETS] = s->packets,
		[POLICY_BYTES] = s->bytes,
	};
	const __u64 fleet[3] = {
		[POLICY_NEW_CONNS] = s->fleet_new_conns,
		[POLICY_PACKETS] = s->fleet_packets,
		[POLICY_BYTES] = s->fleet_bytes,
	};
	__u64 slack = dt / 4 < POLICY_SLACK_NS ? dt / 4 : POLICY_SLACK_NS;
	bool hosts_known = !s->hosts_unknown;
	__u32 hosts = s->hosts;
	struct policy_entry *e;
	double best_value = 0;
	int best = -1;

	if ((s->prefix.family != AF_INET || s->prefix.len > 32) &&
	    (s->prefix.family != AF_INET6 || s->prefix.len > 128))
		return;
	e = policy_table_get(p, &s->prefix, h, now, false);
	if (!e || e->seen_tick == p->tick)
		return;		/* no room, or the prefix came twice */
	if (s->no_local && e->seen_tick)
		memcpy(cur, e->prev, sizeof(cur));	/* nothing of its own since */
	if (!hosts_known) {	/* a ban's own counters: its hosts when it fired */
		__u32 ri = policy_rec_find(p, &s->prefix);

		if (ri && p->recs[ri].hosts) {
			hosts = p->recs[ri].hosts;
			hosts_known = true;
		}
	}
	p->seen_now++;
	if (!p->have_prev || e->seen_tick != p->tick - 1 || (e->flags & POLICY_E_GAP)) {
		if (p->have_prev && e->seen_tick && p->whole_tick && e->seen_tick >= p->whole_tick &&
		    !(e->flags & POLICY_E_GAP)) {
			/* missing only from ticks of changed prefixes since its
			 * last sample: idle until the last tick (its streaks
			 * broke there), its delta all in this interval */
			memset(e->st, 0, p->cfg.n_rules * sizeof(e->st[0]));
		} else {
			/* no interval to measure: first sample, or a gap */
			memcpy(e->prev, cur, sizeof(cur));
			memset(e->st, 0, p->cfg.n_rules * sizeof(e->st[0]));
			e->seen_tick = p->tick;
			e->flags &= ~POLICY_E_GAP;
			return;
		}
	}
	e->seen_tick = p->tick;
	for (unsigned i = 0; i < p->cfg.n_rules; i++) {
		const struct policy_rule *r = &p->cfg.rules[i];
		struct policy_streak *st = &e->st[i];
		__u64 d;
		bool over;

		if (!hosts_known && (r->metric == POLICY_HOSTS || r->min_hosts || r->max_hosts)) {
			st->covered_ns = st->sum = 0;
			continue;	/* hosts unseen: a rule on them cannot tell */
		}
		if (r->metric == POLICY_HOSTS) {
			d = hosts;
			over = hosts >= r->count;
		} else if (r->metric <= POLICY_BYTES) {
			__u64 c = cur[r->metric];

			/* a smaller counter is a recycled LRU entry: counted from 0 */
			d = c >= e->prev[r->metric] ? c - e->prev[r->metric] : c;
			if (r->scope == POLICY_FLEET)
				d += fleet[r->metric];	/* the sum over the gateways */
			over = (double)d * 1e9 > r->rate * (double)dt;
		} else {
			continue;	/* signals, accounts: policy_signals_tick */
		}
		if (!over) {
			st->covered_ns = st->sum = 0;
			continue;
		}
		st->covered_ns += dt;
		st->sum += d;
		if (st->covered_ns + slack < (__u64)r->window_s * NSEC)
			continue;
		if (!hosts_ok(r, hosts))
			continue;	/* the streak stays: it fires once the hosts fit */
		if (best < 0 || r->action < p->cfg.rules[best].action) {
			best = (int)i;
			best_value = r->metric == POLICY_HOSTS ? (double)hosts :
				     (double)st->sum * 1e9 / (double)st->covered_ns;
		}
		st->covered_ns = st->sum = 0;
	}
	memcpy(e->prev, cur, sizeof(cur));
	if (best >= 0) {
		struct policy_fire_how f = { .rule = (unsigned)best, .value = best_value,
					     .hosts = hosts };

		if (!fire_hosts(p, s, &f, now, allowed, ctx))
			policy_fire(p, &s->prefix, &f, now, allowed, ctx);
	}
}

/* Every sample in order. The table is far bigger than the caches: hash
 * POLICY_PREFETCH samples ahead and prefetch their slots. */
static void policy_sample_all(struct policy *p, const struct policy_sample *s, size_t n, __u64 now,
			      __u64 dt, policy_allowed_fn allowed, void *ctx)
{
	__u64 hs[POLICY_PREFETCH];

	for (size_t i = 0; i < n && i < POLICY_PREFETCH; i++) {
		hs[i] = cidr_hash(&s[i].prefix);
		__builtin_prefetch(entry_at(p, hs[i] & (p->cap - 1)), 1);
	}
	for (size_t i = 0; i < n; i++) {
		__u64 h = hs[i % POLICY_PREFETCH];

		if (i + POLICY_PREFETCH < n) {
			__u64 hn = cidr_hash(&s[i + POLICY_PREFETCH].prefix);
			const char *a = (const char *)entry_at(p, hn & (p->cap - 1));

			hs[i % POLICY_PREFETCH] = hn;
			__builtin_prefetch(a, 1);
			__builtin_prefetch(a + p->stride - 1, 1);
		}
		p->tick_left = n - i;
		policy_sample(p, &s[i], h, now, dt, allowed, ctx);
	}
}

/* Room for parent pa's aggregation, listing `listed` of its children. */
static bool aggregate_reserve(struct policy *p, const struct policy_rec *pa, size_t listed)
{
	return GROW(p, tmp, tmp_cap, pa->n_children) &&
	       GROW(p, dec, dec_cap, p->n_dec + 1 + pa->n_children) &&
	       GROW(p, kids, kids_cap, p->n_kids + listed) &&
	       GROW(p, whys, whys_cap, p->n_whys + CIDR_STR_MAX + 20) &&
	       GROW(p, heap, heap_cap, p->heap_n + 1);
}

/* Parent pi's children into p->tmp, sorted, and how many; the one with the
 * strongest action (on a tie, the last linked) and the latest expiry. */
static __u32 aggregate_collect(struct policy *p, __u32 pi, __u32 *best, __u64 *max_exp)
{
	__u32 n = 0;

	for (__u32 c = p->recs[pi].child; c; c = p->recs[c].next) {
		const struct policy_rec *r = &p->recs[c];

		p->tmp[n++] = (struct policy_kid){ .pfx = r->pfx, .rec = c };
		if (!*best || r->action < p->recs[*best].action)
			*best = c;
		if (r->expires_ns > *max_exp)
			*max_exp = r->expires_ns;
	}
	if (n > 1)
		qsort(p->tmp, n, sizeof(p->tmp[0]), cidr_key_cmp);
	return n;
}

/* Parent pi's own promotion, an offence of its own: the escalated ttl of
 * the rule that linked its last child, but no earlier end than a child's;
 * the strongest action of its children. */
static void aggregate_promote(struct policy *p, __u32 pi, unsigned need, __u32 n, __u32 best,
			      __u64 max_exp, __u64 now)
{
	struct policy_rec *pa = &p->recs[pi];
	const struct policy_rule *rule = &p->cfg.rules[pa->trigger];
	__u64 esc;

	rec_decay(pa, now);
	pa->offences++;
	esc = policy_ttl(rule, pa->offences);
	pa->ttl_s = esc;
	pa->expires_ns = policy_expiry(p, rule, now, esc);
	if (max_exp > now && (max_exp - now + NSEC - 1) / NSEC > esc)
		pa->ttl_s = (max_exp - now + NSEC - 1) / NSEC;
	if (max_exp > pa->expires_ns)
		pa->expires_ns = max_exp;
	pa->decay_ns = pa->expires_ns + rule->max_ttl_s * NSEC;
	pa->action = p->recs[best].action;
	pa->throttle_rate = p->recs[best].throttle_rate;
	pa->throttle_burst = p->recs[best].throttle_burst;
	pa->rule = p->rule_name[pa->trigger];
	pa->metric = POLICY_CHILDREN;
	pa->value = n;
	pa->threshold = need;
	p->n_active++;
	policy_heap_push(p, pi);
}

/* The AGGREGATE decision listing the first `listed` of the n children in
 * p->tmp, then an UNBAN for each of them, which ends its promotion. */
static void aggregate_unban(struct policy *p, __u32 pi, size_t listed, __u32 n, __u64 now)
{
	struct policy_decision *d = dec_push(p, POLICY_AGGREGATE, now, &p->recs[pi]);
	char *why;

	d->n_children = (unsigned)listed;
	for (size_t i = 0; i < listed; i++)
		p->kids[p->n_kids++] = p->tmp[i].pfx;
	why = p->whys + p->n_whys;
	memcpy(why, "aggregated into ", 16);
	cidr_str(&p->recs[pi].pfx, why + 16, CIDR_STR_MAX);
	p->n_whys += strlen(why) + 1;
	for (__u32 i = 0; i < n; i++) {
		dec_push(p, POLICY_UNBAN, now, &p->recs[p->tmp[i].rec]);
		policy_rec_deactivate(p, p->tmp[i].rec, now);
	}
}

/* Promote each pending parent holding enough promoted children; its children
 * are unbanned. Nothing changes for a parent when memory runs short. */
static void policy_aggregate(struct policy *p, __u64 now, policy_allowed_fn allowed, void *ctx)
{
	for (size_t k = 0; k < p->n_pending; k++) {
		__u32 pi = p->pending[k], best = 0, n;
		struct policy_rec *pa = &p->recs[pi];
		unsigned need = pa->pfx.family == AF_INET ? p->cfg.v4_children : p->cfg.v6_children;
		__u64 max_exp = 0;
		size_t listed;

		if (!pa->used || !pa->pending)
			continue;	/* freed since, or listed twice */
		pa->pending = 0;
		if (pa->expires_ns || !need || pa->n_children < need || pa->trigger >= p->cfg.n_rules)
			continue;
		if (allowed && allowed(ctx, &pa->pfx))
			continue;
		listed = pa->n_children < POLICY_MAX_CHILDREN ? pa->n_children : POLICY_MAX_CHILDREN;
		if (!aggregate_reserve(p, pa, listed)) {
			p->st.nomem++;
			continue;
		}
		n = aggregate_collect(p, pi, &best, &max_exp);
		aggregate_promote(p, pi, need, n, best, max_exp, now);
		aggregate_unban(p, pi, listed, n, now);
	}
	p->n_pending = 0;
}

/* Children and reasons live in side arrays that may move while the tick
 * runs: point the decisions at them once it is over. */
static void policy_fixup(struct policy *p)
{
	size_t kid = 0, why = 0;
	const char *cur = "";

	for (size_t i = 0; i < p->n_dec; i++) {
		struct policy_decision *d = &p->dec[i];

		if (d->type == POLICY_AGGREGATE) {
			d->children = p->kids + kid;
			kid += d->n_children;
			cur = p->whys + why;
			why += strlen(cur) + 1;
		} else if (d->type == POLICY_UNBAN) {
			d->why = cur;
		}
	}
}

int policy_tick(struct policy *p, __u64 now, const struct policy_sample *s, size_t n,
		policy_allowed_fn allowed, void *ctx,
		const struct policy_decision **out, size_t *n_out)
{
	return policy_tick_ex(p, now, s, n, 0, allowed, ctx, out, n_out);
}

int policy_tick_ex(struct policy *p, __u64 now, const struct policy_sample *s, size_t n,
		   unsigned flags, policy_allowed_fn allowed, void *ctx,
		   const struct policy_decision **out, size_t *n_out)
{
	__u64 dt;

	if (!p || (n && !s) || !out || !n_out)
		return -EINVAL;
	*out = NULL;
	*n_out = 0;
	if (p->have_prev && now <= p->prev_now)
		return -EINVAL;
	/* expiries + promotions cannot fail for room; aggregations reserve their own */
	if (!GROW(p, dec, dec_cap, p->n_active + n + 1) ||
	    !GROW(p, heap, heap_cap, p->heap_n + n + 1))
		return -ENOMEM;
	p->n_dec = p->n_kids = p->n_whys = 0;

	if (p->tick == UINT32_MAX) {
		for (size_t i = 0; i < p->cap; i++)
			entry_at(p, i)->seen_tick = 0;
		p->tick = 1;
		p->whole_tick = 0;
		p->have_prev = false;
	}
	p->tick++;
	dt = p->have_prev ? now - p->prev_now : 0;

	policy_table_presize(p, n);
	p->seen_now = 0;
	policy_expire(p, now);
	policy_sample_all(p, s, n, now, dt, allowed, ctx);
	policy_signals_tick(p, now, allowed, ctx);
	policy_aggregate(p, now, allowed, ctx);
	policy_heap_compact(p);
	policy_table_gc(p, now);
	policy_fixup(p);

	p->prev_now = p->clock_ns = now;
	p->have_prev = true;
	if (!(flags & POLICY_TICK_CHANGED))
		p->whole_tick = p->tick;
	p->st.ticks++;
	*out = p->dec;
	*n_out = p->n_dec;
	return 0;
}

/* --- between ticks ------------------------------------------------------- */

int policy_gap(struct policy *p, const struct cidr *c)
{
	struct policy_entry *e;

	if (!p || !p->cap)
		return -ENOENT;
	e = entry_at(p, table_probe(p, c, cidr_hash(c)));
	if (!e->pfx.family)
		return -ENOENT;
	e->flags |= POLICY_E_GAP;
	return 0;
}

int policy_forget(struct policy *p, const struct cidr *c)
{
	__u32 i = policy_rec_find(p, c);

	if (!i || !p->recs[i].expires_ns)
		return -ENOENT;
	p->recs[i].learned = 0;
	policy_rec_deactivate(p, i, p->clock_ns);
	return 0;
}

int policy_learn(struct policy *p, const struct cidr *c, const struct policy_offender *o,
		 __u64 now)
{
	struct policy_rec *r;
	bool activate;
	__u16 rule;
	__u32 i;

	if (!p || !c || !o || o->action >= FENCE_ACT_MAX ||
	    ((c->family != AF_INET || c->len > 32) && (c->family != AF_INET6 || c->len > 128)))
		return -EINVAL;
	if (policy_name_intern(p, o->rule ? o->rule : "", &rule))
		return -ENOMEM;
	i = policy_rec_get(p, c, now);
	if (!i || !GROW(p, heap, heap_cap, p->heap_n + 1))
		return -ENOMEM;
	r = &p->recs[i];
	rec_decay(r, now);
	if (o->offences > r->offences)
		r->offences = o->offences;
	if (o->decay_ns > r->decay_ns)
		r->decay_ns = o->decay_ns;
	if (o->ttl_s > r->ttl_s)
		r->ttl_s = o->ttl_s > POLICY_MAX_TTL_S ? POLICY_MAX_TTL_S : o->ttl_s;
	if (o->expires_ns <= now || o->expires_ns <= r->expires_ns)
		return 0;	/* not banned there, or here for longer */
	activate = !r->expires_ns;
	if (activate || o->action < r->action) {
		r->action = o->action;
		r->throttle_rate = o->throttle_rate;
		r->throttle_burst = o->throttle_burst;
	}
	if (activate) {
		r->learned = 1;
		r->rule = rule;
		r->metric = POLICY_NEW_CONNS;
		r->value = r->threshold = 0;
		p->n_active++;
	}
	r->expires_ns = o->expires_ns;
	policy_heap_push(p, i);		/* room reserved above */
	return 0;
}

/* Links every promoted child to its parent under the current aggregation
 * config; parents already holding enough are aggregated next tick. */
int policy_relink(struct policy *p)
{
	for (__u32 i = 1; i < p->n_recs; i++) {
		struct policy_rec *r = &p->recs[i];

		r->parent = r->child = r->next = r->prev = r->n_children = 0;
		r->pending = 0;
		r->trigger = POLICY_NO_RULE;
	}
	p->n_pending = 0;
	for (__u32 i = 1; i < p->n_recs; i++) {
		struct policy_rec *r = &p->recs[i];
		struct cidr par;
		unsigned need;
		__u32 pr;

		if (!r->used || !r->expires_ns || !parent_of(p, &r->pfx, &par, &need))
			continue;
		pr = policy_rec_get(p, &par, p->clock_ns);
		if (!pr || !GROW(p, pending, pending_cap, p->n_pending + 1))
			return -ENOMEM;
		r = &p->recs[i];
		if (p->recs[pr].expires_ns)
			continue;	/* both promoted: leave the child alone */
		policy_rec_link(p, i, pr);
		for (unsigned k = 0; k < p->cfg.n_rules; k++)
			if (!strcmp(p->cfg.rules[k].name, name_of(p, r->rule)))
				p->recs[pr].trigger = (__u8)k;
		pending_mark(p, pr, need);
	}
	return 0;
}

