// SPDX-License-Identifier: GPL-2.0
/* user/policy/signals.c - the reports of the API tier (policy_signals) and
 * the rules that count them: metric signals (the sum of the weights) and
 * accounts (distinct accounts) within a rule's window, at least its count.
 *
 * Owns the reports: per prefix, in an open-addressing table (linear
 * probing, deletion by backward shift), each prefix's reports oldest first,
 * kept while the longest window of such a rule holds them, at most
 * max_signals in all and POLICY_PREFIX_SIGNALS a prefix. A rule that fires
 * uses up the prefix's reports: the next firing needs count new ones, as a
 * rate rule's streak starts again. Reports of other gateways' API tiers
 * (remote, through the fleet) count for rules of scope fleet only. What a
 * firing does is decide.c's (policy_fire). Must not read a clock, touch a
 * map or do any I/O.
 */
#include <errno.h>

#include "policy/internal.h"

#define NSEC		1000000000ULL
#define SIG_MIN_CAP	256

static size_t sig_probe(const struct policy *p, const struct cidr *c)
{
	size_t mask = p->sig_cap - 1;

	for (size_t i = cidr_hash(c) & mask;; i = (i + 1) & mask)
		if (!p->sig[i].pfx.family || cidr_key_eq(&p->sig[i].pfx, c))
			return i;
}

static int sig_grow(struct policy *p)
{
	size_t cap = p->sig_cap ? p->sig_cap * 2 : SIG_MIN_CAP;
	struct policy_sigpfx *old = p->sig, *v = calloc(cap, sizeof(*v));
	size_t old_cap = p->sig_cap;

	if (!v)
		return -ENOMEM;
	p->sig = v;
	p->sig_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].pfx.family)
			p->sig[sig_probe(p, &old[i].pfx)] = old[i];
	free(old);
	return 0;
}

/* Remove slot i, shifting back the entries of its probe run. */
static void sig_remove(struct policy *p, size_t i)
{
	size_t mask = p->sig_cap - 1, j = i;

	p->sig_events -= p->sig[i].n;
	free(p->sig[i].ev);
	p->sig[i] = (struct policy_sigpfx){};
	p->sig_count--;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!p->sig[j].pfx.family)
			return;
		home = cidr_hash(&p->sig[j].pfx) & mask;
		/* j may move to i unless its home lies cyclically in (i, j] */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		p->sig[i] = p->sig[j];
		p->sig[j] = (struct policy_sigpfx){};
		i = j;
	}
}

/* "" or the name of kind k, interned; beyond POLICY_MAX_KINDS, "other". */
static __u16 kind_id(struct policy *p, const char *kind)
{
	__u16 id = 0;

	if (!kind || !*kind)
		return 0;
	for (__u32 i = 1; i < p->n_names; i++)
		if (!strcmp(p->names[i], kind))
			return (__u16)i;
	if (p->n_kinds >= POLICY_MAX_KINDS)
		kind = "other";
	else
		p->n_kinds++;
	policy_name_intern(p, kind, &id);
	return id;
}

static __u64 signal_window_ns(const struct policy *p)
{
	__u64 w = 0;

	for (unsigned i = 0; i < p->cfg.n_rules; i++) {
		const struct policy_rule *r = &p->cfg.rules[i];

		if ((r->metric == POLICY_SIGNALS || r->metric == POLICY_ACCOUNTS) &&
		    (__u64)r->window_s * NSEC > w)
			w = (__u64)r->window_s * NSEC;
	}
	return w;
}

static bool signal_ok(const struct policy_signal *s)
{
	const struct cidr *c = &s->prefix;

	return s->weight && ((c->family == AF_INET && c->len <= 32) ||
			     (c->family == AF_INET6 && c->len <= 128));
}

int policy_signals(struct policy *p, __u64 now, const struct policy_signal *v, size_t n)
{
	size_t max = p->cfg.max_signals ? p->cfg.max_signals : POLICY_MAX_SIGNALS;

	if (!p || (n && !v) || now < p->clock_ns)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!signal_ok(&v[i]))
			return -EINVAL;
	if (!signal_window_ns(p))
		return 0;	/* no rule counts them */
	for (size_t i = 0; i < n; i++) {
		struct policy_sigpfx *sp;
		size_t k;

		if (p->sig_events >= max) {
			p->st.signals_dropped += n - i;
			return 0;
		}
		if ((p->sig_count + 1) * 2 > p->sig_cap && sig_grow(p))
			return -ENOMEM;
		k = sig_probe(p, &v[i].prefix);
		sp = &p->sig[k];
		if (sp->n == sp->cap) {
			if (sp->cap >= POLICY_PREFIX_SIGNALS) {
				/* a flood of one prefix: the oldest makes room */
				memmove(sp->ev, sp->ev + 1, (sp->n - 1) * sizeof(*sp->ev));
				sp->n--;
				p->sig_events--;
				p->st.signals_dropped++;
			} else {
				__u32 cap = sp->cap ? sp->cap * 2 : 4;
				struct policy_sigev *ev = realloc(sp->ev, cap * sizeof(*ev));

				if (!ev)
					return -ENOMEM;
				sp->ev = ev;
				sp->cap = cap;
			}
		}
		if (!sp->pfx.family) {
			sp->pfx = v[i].prefix;
			p->sig_count++;
		}
		sp->dirty = 1;
		sp->ev[sp->n++] = (struct policy_sigev){
			.t_ns = now, .account = v[i].account, .weight = v[i].weight,
			.kind = kind_id(p, v[i].kind), .remote = v[i].remote,
		};
		p->sig_events++;
	}
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Rule r's count on sp's reports after `from` (its window). */
static __u64 sig_count(struct policy *p, const struct policy_sigpfx *sp, const struct policy_rule *r,
		       __u64 from)
{
	__u64 sum = 0, n_acc = 0;

	for (__u32 i = 0; i < sp->n; i++) {
		const struct policy_sigev *e = &sp->ev[i];

		if (e->t_ns <= from || (e->remote && r->scope == POLICY_LOCAL))
			continue;
		sum += e->weight;
		if (e->account)
			p->acc[n_acc++] = e->account;
	}
	if (r->metric == POLICY_SIGNALS)
		return sum;
	qsort(p->acc, n_acc, sizeof(*p->acc), u64_cmp);
	sum = 0;
	for (__u64 i = 0; i < n_acc; i++)
		sum += !i || p->acc[i] != p->acc[i - 1];
	return sum;
}

/* The kind reported most, by weight, after `from` (in the reports rule r
 * counts); ties go to the smaller id (the one named first). */
static __u16 sig_kind(struct policy *p, const struct policy_sigpfx *sp, const struct policy_rule *r,
		      __u64 from)
{
	__u64 n = 0, best_w = 0, w = 0;
	__u16 best = 0;

	for (__u32 i = 0; i < sp->n; i++)
		if (sp->ev[i].t_ns > from && sp->ev[i].kind &&
		    !(sp->ev[i].remote && r->scope == POLICY_LOCAL))
			p->acc[n++] = (__u64)sp->ev[i].kind << 32 | sp->ev[i].weight;
	qsort(p->acc, n, sizeof(*p->acc), u64_cmp);
	for (__u64 i = 0; i < n; i++) {
		w = (i && p->acc[i] >> 32 == p->acc[i - 1] >> 32 ? w : 0) + (p->acc[i] & 0xffffffff);
		if (w > best_w) {
			best_w = w;
			best = (__u16)(p->acc[i] >> 32);
		}
	}
	return best;
}

/* Drop sp's reports older than `from`. */
static void sig_prune(struct policy *p, struct policy_sigpfx *sp, __u64 from)
{
	__u32 k = 0;

	while (k < sp->n && sp->ev[k].t_ns <= from)
		k++;
	if (!k)
		return;
	memmove(sp->ev, sp->ev + k, (sp->n - k) * sizeof(*sp->ev));
	sp->n -= k;
	p->sig_events -= k;
}

/* One prefix at a tick: the rule with the strongest action among those at
 * their count fires. true when its reports are spent (or all expired). Only
 * a prefix with new reports (sp->dirty) can reach a count it had not. */
static bool sig_eval(struct policy *p, struct policy_sigpfx *sp, __u64 now, __u64 wmax,
		     policy_allowed_fn allowed, void *ctx)
{
	struct policy_fire_how f = {};
	__u64 from = 0;
	int best = -1, ret;

	sig_prune(p, sp, now > wmax ? now - wmax : 0);
	if (!sp->n)
		return true;
	if (!sp->dirty)
		return false;
	if (!GROW(p, acc, acc_cap, sp->n)) {
		p->st.nomem++;
		return false;
	}
	for (unsigned i = 0; i < p->cfg.n_rules; i++) {
		const struct policy_rule *r = &p->cfg.rules[i];
		__u64 w = (__u64)r->window_s * NSEC, c;

		if (r->metric != POLICY_SIGNALS && r->metric != POLICY_ACCOUNTS)
			continue;
		c = sig_count(p, sp, r, now > w ? now - w : 0);
		if (c < r->count || (best >= 0 && r->action >= p->cfg.rules[best].action))
			continue;
		best = (int)i;
		from = now > w ? now - w : 0;
		f = (struct policy_fire_how){ .rule = i, .value = (double)c };
	}
	if (best < 0) {
		sp->dirty = 0;
		return false;
	}
	f.kind = sig_kind(p, sp, &p->cfg.rules[best], from);
	ret = policy_fire(p, &sp->pfx, &f, now, allowed, ctx);
	/* fired, or never to fire (allowlisted, under a promoted parent):
	 * spent; decided already this tick, or no memory: next tick */
	return ret >= 0;
}

void policy_signals_tick(struct policy *p, __u64 now, policy_allowed_fn allowed, void *ctx)
{
	__u64 wmax = signal_window_ns(p);

	for (size_t i = 0; i < p->sig_cap;) {
		if (!p->sig[i].pfx.family || !(wmax ? sig_eval(p, &p->sig[i], now, wmax, allowed, ctx) : true)) {
			i++;
			continue;
		}
		/* the entry that shifts into i is looked at next */
		sig_remove(p, i);
	}
	p->st.signals = p->sig_events;
	p->st.signal_prefixes = p->sig_count;
}

/* The rules changed: every prefix is looked at again. */
void policy_signals_dirty(struct policy *p)
{
	for (size_t i = 0; i < p->sig_cap; i++)
		p->sig[i].dirty = 1;
}

void policy_signals_free(struct policy *p)
{
	for (size_t i = 0; i < p->sig_cap; i++)
		free(p->sig[i].ev);
	free(p->sig);
	free(p->acc);
	p->sig = NULL;
	p->acc = NULL;
	p->sig_cap = p->sig_count = p->sig_events = 0;
}
