// SPDX-License-Identifier: GPL-2.0
/* user/engine/fleet_apply.c - the daemon's side of the fleet (see fleet.h):
 * what the bucket says, applied to this gateway's entries.
 *
 * Owns the daemon's record of the fleet's keys ("held": the last value of
 * each, whether this gateway enforces it under FENCE_OWN_FLEET, whether the
 * operator removed it here), the fleet's term on the entries (shared with
 * the engine's: promoted_action/promoted_expires_ns hold the later and
 * stronger of this gateway's promotion and the fleet's), the expiry of
 * fleet entries (the bucket never ages keys out), teaching the policy the
 * other gateways' offenders, publishing this gateway's shared decisions,
 * the per-tick counts in and out, and the status file. Main thread only;
 * the network is fleet.c's. Must not decide policy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cli/cli.h"
#include "engine/daemon.h"
#include "engine/fleet.h"
#include "feeds/feed.h"
#include "lib/log.h"
#include "lib/util.h"

#define NSEC 1000000000ULL
#define FLEET_APPLY_HOLD_MAX_MS	250	/* the longest a change waits for the next apply */

/* A key of the bucket as the daemon knows it. */
struct held {
	struct cidr c;
	struct fleet_value v;		/* its last value */
	__u64 rev;
	__u64 exp_ns;			/* v.expires_ms on CLOCK_MONOTONIC; 0 = never */
	__u64 dismissed_rev;		/* removed here by the operator at this revision */
	__u64 learned_rev;		/* told to the policy at this revision */
	__u32 gen;			/* the snapshot it was last seen in */
	bool live;			/* the bucket holds a value for it */
	bool enforced;			/* FENCE_OWN_FLEET on the entry here */
	bool own;			/* its origin is this gateway */
};

/* A counter's previous reading, for this gateway's per-tick rates. */
struct prev {
	struct cidr c;
	__u64 nc, pk, by;
};

/* The last manual ban offered, so each is offered once per change. */
struct offered {
	struct cidr c;
	__u64 expires_ns;
	__u8 action;
	__u32 rate;
};

struct fleet_local {
	struct held *h;
	size_t n_h, cap_h;
	struct fleet_map by_pfx;
	__u32 synced_gen;
	/* counts */
	struct prev *prev, *prev_next;
	size_t n_prev, n_prev_next, cap_prev;
	struct fleet_map prev_map;
	__u64 prev_ns;			/* sample time of the previous tick, 0 = none */
	bool any_fleet_rule;
	/* this tick's bans to publish, offered at once */
	struct fleet_offer *offers;
	size_t n_offers, cap_offers;
	/* manual bans shared */
	struct offered *man;
	size_t n_man, cap_man;
	struct fleet_map man_map;
	__u64 hold_until;		/* no apply before (CLOCK_MONOTONIC ns), 0 = none */
	/* status */
	__u64 lag_ms, lag_max_ms, lag_max_at;	/* lag_max over the last minute */
	__u64 lag_at;			/* when lag_ms was measured */
	__u64 applied;			/* changes applied */
	__u64 enforced;			/* entries owned by the fleet here */
	__u64 refused;			/* keys refused by the guardrails */
	unsigned gateways;		/* that sent counts lately */
	char status_path[PATH_MAX];
	__u64 status_written_ns;
};

static __u64 wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (__u64)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A wall-clock time (Unix ms, 0 = never) on CLOCK_MONOTONIC, and back. */
static __u64 mono_of(__u64 ms, __u64 now_ns, __u64 now_ms)
{
	if (!ms)
		return 0;
	if (ms >= now_ms)
		return now_ns + (ms - now_ms) * 1000000ULL;
	return (now_ms - ms) * 1000000ULL < now_ns ? now_ns - (now_ms - ms) * 1000000ULL : 1;
}

static __u64 wall_of(__u64 ns, __u64 now_ns, __u64 now_ms)
{
	if (!ns)
		return 0;
	if (ns >= now_ns)
		return now_ms + (ns - now_ns) / 1000000ULL;
	return (now_ns - ns) / 1000000ULL < now_ms ? now_ms - (now_ns - ns) / 1000000ULL : 1;
}

/* 0 = never: later than any time */
static bool later_ns(__u64 a, __u64 b)
{
	return b && (!a || a > b);
}

static struct held *held_get(struct fleet_local *fl, const struct cidr *c, bool create)
{
	__u32 i = fleet_map_get(&fl->by_pfx, c);

	if (i)
		return &fl->h[i - 1];
	if (!create)
		return NULL;
	if (fl->n_h == fl->cap_h) {
		size_t cap = fl->cap_h ? fl->cap_h * 2 : 1024;
		struct held *h = realloc(fl->h, cap * sizeof(*h));

		if (!h)
			return NULL;
		fl->h = h;
		fl->cap_h = cap;
	}
	if (fleet_map_put(&fl->by_pfx, c, fl->n_h + 1))
		return NULL;
	memset(&fl->h[fl->n_h], 0, sizeof(fl->h[0]));
	fl->h[fl->n_h].c = *c;
	return &fl->h[fl->n_h++];
}

/* The origin a fleet entry's reason carries ("@gw-a ..."), or "". */
static void origin_of(const struct fence_rule_info *in, char *node, size_t len)
{
	size_t n = 0;

	node[0] = 0;
	if (in->reason[0] != '@')
		return;
	while (n + 1 < sizeof(in->reason) && in->reason[n + 1] && in->reason[n + 1] != ' ' &&
	       n + 1 < len) {
		node[n] = in->reason[n + 1];
		n++;
	}
	node[n] = 0;
}

static json_object *fleet_event(const char *type, const struct held *h, const char *why)
{
	json_object *o = event_new(type, &h->c);

	json_object_object_add(o, "owners", json_object_new_string("fleet"));
	if (h->v.origin[0])
		json_object_object_add(o, "origin", json_object_new_string(h->v.origin));
	if (why)
		json_object_object_add(o, "why", json_object_new_string(why));
	return o;
}

/* --- the fleet's term on an entry --------------------------------------- */

/* Stage c owned by the fleet with h's term, merged with this gateway's
 * promotion if it has one. */
static int stage_hold(struct daemon *d, const struct held *h)
{
	const struct fence_rule_info *cur = table_get(d->s.t, &h->c, FENCE_KIND_DENY, NULL);
	struct fence_rule_info info = {};

	if (cur) {
		info = *cur;
	} else {
		info.created_unix = time(NULL);
	}
	if ((info.owners & FENCE_OWN_PROMOTED) && info.promoted_action < FENCE_ACT_MAX) {
		if (h->v.action < info.promoted_action)
			info.promoted_action = h->v.action;
		if (later_ns(h->exp_ns, info.promoted_expires_ns))
			info.promoted_expires_ns = h->exp_ns;
	} else {
		info.promoted_action = h->v.action;
		info.promoted_expires_ns = h->exp_ns;
	}
	if (h->v.action == FENCE_ACT_THROTTLE && !(info.owners & FENCE_OWN_MANUAL)) {
		info.rate = h->v.rate;
		info.burst = h->v.burst;
	}
	if (h->v.offences > info.offences)
		info.offences = h->v.offences > 0xffff ? 0xffff : h->v.offences;
	if (!(info.owners & (FENCE_OWN_MANUAL | FENCE_OWN_PROMOTED))) {
		/* "@gw-a syn-burst: ..." (cut to fit): ban list shows the origin */
		char text[sizeof(h->v.origin) + sizeof(h->v.reason) + 2];

		snprintf(text, sizeof(text), "@%s %s", h->v.origin, h->v.reason);
		snprintf(info.reason, sizeof(info.reason), "%.*s", (int)sizeof(info.reason) - 1, text);
	}
	info.owners |= FENCE_OWN_FLEET;
	return table_put(d->s.t, &h->c, FENCE_KIND_DENY, &info);
}

/* Stage c without the fleet's ownership; `shared` also drops the owners
 * this gateway shares (a delete fleet-wide removes them everywhere). */
static int unstage_hold(struct daemon *d, const struct held *h, bool shared)
{
	const struct fence_rule_info *cur = table_get(d->s.t, &h->c, FENCE_KIND_DENY, NULL);
	struct fence_rule_info info;
	__u64 exp = 0;

	if (!cur)
		return 0;
	info = *cur;
	info.owners &= ~FENCE_OWN_FLEET;
	if (shared)
		info.owners &= ~(d->cfg.fleet.share & (FENCE_OWN_PROMOTED | FENCE_OWN_MANUAL));
	if ((info.owners & FENCE_OWN_PROMOTED) && !policy_lookup(d->p, &h->c, NULL, &exp) && exp)
		info.promoted_expires_ns = exp;		/* this gateway's own term again */
	if (info.reason[0] == '@' && !(info.owners & (FENCE_OWN_MANUAL | FENCE_OWN_PROMOTED)))
		info.reason[0] = 0;
	if (info.owners == cur->owners && info.promoted_expires_ns == cur->promoted_expires_ns)
		return 0;
	return table_put(d->s.t, &h->c, FENCE_KIND_DENY, &info);
}

/* The guardrails of feeds apply: nothing shorter than /8 or /19 from the
 * fleet (one bad key must not black out a gateway). */
static bool acceptable(const struct cidr *c)
{
	return c->len >= (c->family == AF_INET ? FEED_MIN_LEN_V4 : FEED_MIN_LEN_V6);
}

/* --- applying changes ---------------------------------------------------- */

/* A key deleted from the bucket (or missing from a snapshot). An
 * operator's delete (its ban not over) removes it here with the owners
 * this gateway shares, and the policy forgets it. */
static int apply_gone(struct daemon *d, struct held *h, __u64 wall, const char *why)
{
	bool deleted = h->live && !fleet_value_ended(&h->v, wall);
	int ret = 0;

	h->live = false;
	if (deleted) {
		const struct fence_rule_info *in = table_get(d->s.t, &h->c, FENCE_KIND_DENY, NULL);
		__u8 gone = in ? in->owners & (FENCE_OWN_FLEET |
					       (d->cfg.fleet.share & (FENCE_OWN_PROMOTED |
								      FENCE_OWN_MANUAL))) : 0;

		ret = unstage_hold(d, h, true);
		if (!ret && gone) {
			json_object *o = fleet_event("unban", h, why);
			char own[40];

			snprintf(own, sizeof(own), "%s%s%s", gone & FENCE_OWN_MANUAL ? "manual " : "",
				 gone & FENCE_OWN_PROMOTED ? "promoted " : "",
				 gone & FENCE_OWN_FLEET ? "fleet" : "");
			json_object_object_add(o, "owners", json_object_new_string(own));
			policy_forget(d->p, &h->c);
			if (gone & FENCE_OWN_MANUAL) {	/* offered again if re-added */
				__u32 k = fleet_map_get(&d->fl->man_map, &h->c);

				if (k)
					d->fl->man[k - 1].expires_ns = ~0ULL;
			}
			event_write(d, o);
		}
	} else if (h->enforced) {
		ret = unstage_hold(d, h, false);
	}
	if (!ret && h->enforced) {
		h->enforced = false;
		d->fl->enforced--;
	}
	return ret;
}

static int apply_put(struct daemon *d, struct held *h, const struct fleet_change *x, __u64 now,
		     __u64 wall)
{
	struct fleet_local *fl = d->fl;
	bool was_live = h->live;
	int ret = 0;

	h->v = x->v;
	h->rev = x->rev;
	h->live = true;
	h->own = !strcmp(x->v.origin, d->cfg.fleet.node);
	h->exp_ns = mono_of(x->v.expires_ms, now, wall);
	/* the lag of live changes only: a snapshot re-reads keys decided
	 * long ago */
	if (!h->own && x->v.decided_ms && x->v.decided_ms <= wall &&
	    (!x->gen || x->gen == fl->synced_gen)) {
		fl->lag_ms = wall - x->v.decided_ms;
		fl->lag_at = now;
		if (fl->lag_ms >= fl->lag_max_ms || now - fl->lag_max_at > 60 * NSEC) {
			fl->lag_max_ms = fl->lag_ms;
			fl->lag_max_at = now;
		}
	}
	if (fleet_value_ended(&h->v, wall) || h->rev == h->dismissed_rev ||
	    (h->own && !h->enforced)) {
		/* over, removed here by the operator, or this gateway's own */
		if (h->enforced && fleet_value_ended(&h->v, wall)) {
			ret = unstage_hold(d, h, false);
			if (!ret) {
				h->enforced = false;
				fl->enforced--;
			}
		}
		return ret;
	}
	if (!acceptable(&h->c)) {
		if (!was_live)
			fl->refused++;
		return 0;
	}
	ret = stage_hold(d, h);
	if (!ret && !h->enforced) {
		h->enforced = true;
		fl->enforced++;
		if (!x->gen || x->gen == fl->synced_gen) {	/* live, not a resync */
			json_object *o = fleet_event("fleet", h, NULL);

			json_object_object_add(o, "action", json_object_new_string(action_name(h->v.action)));
			json_object_object_add(o, "offences", json_object_new_int64(h->v.offences));
			json_object_object_add(o, "lag_ms", json_object_new_int64(fl->lag_ms));
			event_write(d, o);
		}
	}
	return ret;
}

/* The end of a snapshot: what it did not list was deleted meanwhile. */
static int apply_synced(struct daemon *d, __u32 gen, __u64 wall)
{
	struct fleet_local *fl = d->fl;
	int ret = 0;

	fl->synced_gen = gen;
	for (size_t i = 0; i < fl->n_h && !ret; i++)
		if (fl->h[i].gen != gen && (fl->h[i].live || fl->h[i].enforced))
			ret = apply_gone(d, &fl->h[i], wall, "deleted fleet-wide (while away)");
	return ret;
}

static int apply_one(struct daemon *d, const struct fleet_change *x, __u64 now, __u64 wall)
{
	struct held *h;

	if (x->op == FLEET_SYNCED)
		return apply_synced(d, x->gen, wall);
	h = held_get(d->fl, &x->c, x->op == FLEET_PUT);
	if (!h)
		return x->op == FLEET_PUT ? -ENOMEM : 0;
	if (x->rev < h->rev && x->gen == h->gen)
		return 0;	/* older than what we have */
	h->gen = x->gen;
	if (x->op == FLEET_DEL) {
		h->rev = x->rev;
		return apply_gone(d, h, wall, "deleted fleet-wide");
	}
	return apply_put(d, h, x, now, wall);
}

/* A commit failed (no room?): what this gateway enforces is what its
 * entries say; the keys not applied are applied when they change again.
 * (Reading the bucket again at once would fail the same way.) */
static void held_resync(struct daemon *d)
{
	struct fleet_local *fl = d->fl;

	fl->enforced = 0;
	for (size_t i = 0; i < fl->n_h; i++) {
		const struct fence_rule_info *in = table_get(d->s.t, &fl->h[i].c, FENCE_KIND_DENY, NULL);

		fl->h[i].enforced = in && (in->owners & FENCE_OWN_FLEET);
		fl->enforced += fl->h[i].enforced;
	}
}

static void status_write(struct daemon *d, bool force);

void engine_fleet_apply(struct daemon *d)
{
	struct fleet_change *ch = NULL;
	size_t n;
	__u64 now, wall, t0, t1, t2;
	struct table_stats tst = {};
	char err[256] = "";
	int ret = 0;

	if (!d->fleet)
		return;
	n = fleet_take(d->fleet, &ch);
	if (!n)
		return;
	t0 = fence_now_ns();
	if (engine_lock_fresh(d)) {
		free(ch);
		fleet_resync(d->fleet);	/* stopping, most likely: read again next time */
		return;
	}
	now = fence_now_ns();
	wall = wall_ms();
	events_hold(d);
	for (size_t i = 0; i < n && !ret; i++)
		ret = apply_one(d, &ch[i], now, wall);
	d->fl->applied += n;
	t1 = fence_now_ns();
	if (!ret && table_staged(d->s.t))
		ret = pin_commit(&d->s, &tst, err, sizeof(err));	/* grows the tables if need be */
	if (ret) {
		pr_err("fleet: %zu changes from the bucket not applied: %s", n,
		       err[0] ? err : strerror(-ret));
		table_abort(d->s.t);
		held_resync(d);
	}
	engine_unlock(d);
	events_release(d);
	t2 = fence_now_ns();
	pr_debug("fleet: %zu changes applied in %.1f ms (lock and reopen %.1f ms, stage %.1f ms, "
		 "commit build %.1f write %.1f ms)", n, (t2 - t0) / 1e6, (now - t0) / 1e6,
		 (t1 - now) / 1e6, tst.build_ms, tst.write_ms);
	free(ch);
	status_write(d, false);
	/* a commit costs a part that follows the table (its IPv6 parents, a
	 * scan of its slots) however few the changes: while they stream in,
	 * let them gather as long as the last apply took, so at most half of
	 * the time goes to applying and a burst takes a few large commits */
	d->fl->hold_until = t2 + (t2 - t0 < FLEET_APPLY_HOLD_MAX_MS * 1000000ULL ?
				  t2 - t0 : FLEET_APPLY_HOLD_MAX_MS * 1000000ULL);
}

__u64 engine_fleet_hold_until(const struct daemon *d)
{
	return d->fl ? d->fl->hold_until : 0;
}

/* --- in the tick ---------------------------------------------------------- */

/* Other gateways' offenders this gateway sees traffic from: the policy
 * learns their offences and bans, so it extends rather than promotes a
 * new offence while the fleet's ban lasts, and escalates from them. */
static void learn(struct daemon *d, const struct cidr *c, __u64 now, __u64 wall)
{
	struct held *h = held_get(d->fl, c, false);
	struct policy_offender o;

	if (!h || !h->live || h->own || h->learned_rev == h->rev)
		return;
	o = (struct policy_offender){
		.offences = h->v.offences,
		.decay_ns = mono_of(h->v.decay_ms, now, wall),
		.expires_ns = h->exp_ns ? h->exp_ns : now + POLICY_MAX_TTL_S * NSEC,
		.ttl_s = h->v.ttl_s,
		.action = h->v.action,
		.throttle_rate = h->v.rate,
		.throttle_burst = h->v.burst,
		.rule = h->v.rule,
	};
	if (fleet_value_ended(&h->v, wall))
		o.expires_ns = 0;
	if (!policy_learn(d->p, c, &o, now))
		h->learned_rev = h->rev;
}

/* This tick's rates of the prefixes at or above the floor, sent to the
 * others; the readings kept for the next tick. */
static void counts_out(struct daemon *d, size_t n, __u64 sample_ns)
{
	struct fleet_local *fl = d->fl;
	double dt = fl->prev_ns && sample_ns > fl->prev_ns ? (sample_ns - fl->prev_ns) / 1e9 : 0;
	double floor = d->cfg.fleet.count_floor;
	struct fleet_count *out = NULL;
	size_t n_out = 0, cap_out = 0;
	struct fleet_map next = {};

	if (fl->cap_prev < n) {
		struct prev *a = realloc(fl->prev, n * sizeof(*a)), *b;

		if (!a)
			return;
		fl->prev = a;
		b = realloc(fl->prev_next, n * sizeof(*b));
		if (!b)
			return;
		fl->prev_next = b;
		fl->cap_prev = n;
	}
	fl->n_prev_next = 0;
	for (size_t i = 0; i < n; i++) {
		const struct policy_sample *s = &d->ps[i];
		__u32 k = dt > 0 ? fleet_map_get(&fl->prev_map, &s->prefix) : 0;
		struct prev *p = &fl->prev_next[fl->n_prev_next];

		if (k) {
			const struct prev *q = &fl->prev[k - 1];
			double nc = s->new_conns >= q->nc ? (s->new_conns - q->nc) / dt : 0;
			double pk = s->packets >= q->pk ? (s->packets - q->pk) / dt : 0;
			double by = s->bytes >= q->by ? (s->bytes - q->by) / dt : 0;

			if (nc >= floor || pk >= floor) {
				if (n_out == cap_out) {
					size_t cap = cap_out ? cap_out * 2 : 256;
					struct fleet_count *v = realloc(out, cap * sizeof(*v));

					if (!v)
						break;
					out = v;
					cap_out = cap;
				}
				out[n_out++] = (struct fleet_count){
					.c = s->prefix, .new_conns = nc, .packets = pk, .bytes = by,
				};
			}
		}
		*p = (struct prev){ .c = s->prefix, .nc = s->new_conns, .pk = s->packets, .by = s->bytes };
		if (fleet_map_put(&next, &s->prefix, fl->n_prev_next + 1))
			break;
		fl->n_prev_next++;
	}
	{
		struct prev *t = fl->prev;

		fl->prev = fl->prev_next;
		fl->prev_next = t;
		fl->n_prev = fl->n_prev_next;
		fleet_map_free(&fl->prev_map);
		fl->prev_map = next;
	}
	if (dt > 0)
		fleet_counts_send(d->fleet, out, n_out, wall_ms());
	free(out);
}

/* The other gateways' counts over this tick's interval into the samples
 * (rules of scope fleet add them); prefixes only they see become samples
 * of their own, with no count here. Returns the number of samples. */
static size_t counts_in(struct daemon *d, size_t n, double dt)
{
	struct fleet_local *fl = d->fl;
	struct fleet_count *v = NULL;
	size_t m = fleet_counts_get(d->fleet, 3 * d->cfg.tick_ms + 500, &v, &fl->gateways);
	struct fleet_map sum = {};
	struct fleet_count *acc = NULL;
	size_t n_acc = 0, extra = 0;

	if (!m || dt <= 0) {
		free(v);
		return n;
	}
	acc = malloc(m * sizeof(*acc));
	if (!acc) {
		free(v);
		return n;
	}
	for (size_t i = 0; i < m; i++) {
		__u32 k = fleet_map_get(&sum, &v[i].c);

		if (k) {
			acc[k - 1].new_conns += v[i].new_conns;
			acc[k - 1].packets += v[i].packets;
			acc[k - 1].bytes += v[i].bytes;
		} else if (!fleet_map_put(&sum, &v[i].c, n_acc + 1)) {
			acc[n_acc++] = v[i];
		}
	}
	free(v);
	for (size_t i = 0; i < n; i++) {
		__u32 k = fleet_map_get(&sum, &d->ps[i].prefix);

		if (!k)
			continue;
		d->ps[i].fleet_new_conns = (__u64)(acc[k - 1].new_conns * dt + 0.5);
		d->ps[i].fleet_packets = (__u64)(acc[k - 1].packets * dt + 0.5);
		d->ps[i].fleet_bytes = (__u64)(acc[k - 1].bytes * dt + 0.5);
		acc[k - 1].c.family = 0;	/* taken */
	}
	for (size_t i = 0; i < n_acc; i++)
		extra += acc[i].c.family != 0;
	if (n + extra > d->ps_cap) {
		size_t cap = n + extra + (n + extra) / 4;
		struct policy_sample *ps = realloc(d->ps, cap * sizeof(*ps));

		if (!ps)
			extra = 0;
		else {
			d->ps = ps;
			d->ps_cap = cap;
		}
	}
	for (size_t i = 0; i < n_acc && extra; i++) {
		struct policy_sample *s;

		if (!acc[i].c.family)
			continue;
		s = &d->ps[n++];
		memset(s, 0, sizeof(*s));
		s->prefix = acc[i].c;
		s->no_local = true;	/* (it may be idle here, not unknown) */
		s->fleet_new_conns = (__u64)(acc[i].new_conns * dt + 0.5);
		s->fleet_packets = (__u64)(acc[i].packets * dt + 0.5);
		s->fleet_bytes = (__u64)(acc[i].bytes * dt + 0.5);
		extra--;
	}
	fleet_map_free(&sum);
	free(acc);
	return n;
}

size_t engine_fleet_samples(struct daemon *d, size_t n, __u64 sample_ns)
{
	struct fleet_local *fl = d->fl;
	__u64 now = fence_now_ns(), wall = wall_ms();
	double dt;

	if (!fl)
		return n;
	dt = fl->prev_ns && sample_ns > fl->prev_ns ? (sample_ns - fl->prev_ns) / 1e9 : 0;
	for (size_t i = 0; i < n; i++) {
		d->ps[i].fleet_new_conns = d->ps[i].fleet_packets = d->ps[i].fleet_bytes = 0;
		learn(d, &d->ps[i].prefix, now, wall);
	}
	counts_out(d, n, sample_ns);
	if (fl->any_fleet_rule)
		n = counts_in(d, n, dt);
	fl->prev_ns = sample_ns;
	return n;
}

/* The operator removed fleet entries here (`ban del` without --fleet):
 * not enforced again until the fleet changes them. */
static void find_dismissed(struct daemon *d)
{
	struct fleet_local *fl = d->fl;
	__u64 owned = 0;

	for (__u32 slot = table_next(d->s.t, 0); slot; slot = table_next(d->s.t, slot))
		owned += d->s.m.rules[slot].kind == FENCE_KIND_DENY &&
			 (d->s.m.info[slot].owners & FENCE_OWN_FLEET);
	if (owned >= fl->enforced)
		return;
	for (size_t i = 0; i < fl->n_h; i++) {
		struct held *h = &fl->h[i];
		const struct fence_rule_info *in;

		if (!h->enforced)
			continue;
		in = table_get(d->s.t, &h->c, FENCE_KIND_DENY, NULL);
		if (in && (in->owners & FENCE_OWN_FLEET))
			continue;
		h->enforced = false;
		h->dismissed_rev = h->rev;
		fl->enforced--;
		event_write(d, fleet_event("unban", h, "removed here by the operator: the fleet "
					   "still lists it"));
	}
}

int engine_fleet_stage(struct daemon *d, const struct policy_decision *dec, size_t n, __u64 now)
{
	struct fleet_local *fl = d->fl;
	int ret = 0;

	if (!fl)
		return 0;
	find_dismissed(d);
	/* the decisions wrote this gateway's own term: the fleet's stays on top */
	for (size_t i = 0; i < n && !ret; i++) {
		struct held *h = held_get(fl, &dec[i].prefix, false);

		if (h && h->enforced)
			ret = stage_hold(d, h);
	}
	/* the bucket never ages keys out: each gateway expires them itself */
	for (size_t i = 0; i < fl->n_h && !ret; i++) {
		struct held *h = &fl->h[i];

		if (!h->enforced || !h->exp_ns || h->exp_ns > now)
			continue;
		ret = unstage_hold(d, h, false);
		if (!ret) {
			h->enforced = false;
			fl->enforced--;
			event_write(d, fleet_event("expire", h, "ttl ran out"));
		}
	}
	return ret;
}

/* --- publishing ----------------------------------------------------------- */

static const struct config_rule *rule_named(const struct daemon *d, const char *name)
{
	for (unsigned i = 0; i < d->cfg.n_rules; i++)
		if (name && !strcmp(d->cfg.rules[i].name, name))
			return &d->cfg.rules[i];
	return NULL;
}

/* A slot for one more offer (zeroed), or NULL for no memory: then what is
 * there goes out now and the slot is taken again. */
static struct fleet_offer *offer_push(struct daemon *d)
{
	struct fleet_local *fl = d->fl;

	if (fl->n_offers == fl->cap_offers) {
		size_t cap = fl->cap_offers ? fl->cap_offers * 2 : 256;
		struct fleet_offer *o = realloc(fl->offers, cap * sizeof(*o));

		if (!o) {
			fleet_offer(d->fleet, fl->offers, fl->n_offers);
			fl->n_offers = 0;
			if (!fl->cap_offers)
				return NULL;
		} else {
			fl->offers = o;
			fl->cap_offers = cap;
		}
	}
	memset(&fl->offers[fl->n_offers], 0, sizeof(fl->offers[0]));
	return &fl->offers[fl->n_offers++];
}

static void offer_decision(struct daemon *d, const struct policy_decision *x, __u64 now,
			   __u64 wall)
{
	const struct config_rule *r = rule_named(d, x->rule);
	struct fleet_offer *o = offer_push(d);
	struct fleet_value *v;

	if (!o)
		return;		/* offered again while the prefix stays over its rule */
	o->c = x->prefix;
	v = &o->v;
	v->action = x->action;
	v->offences = x->offences;
	v->expires_ms = wall_of(x->expires_ns, now, wall);
	v->decided_ms = wall;
	v->ttl_s = x->ttl_s;
	if (x->action == FENCE_ACT_THROTTLE) {
		v->rate = x->throttle_rate;
		v->burst = x->throttle_burst;
	}
	v->decay_ms = v->expires_ms && r ? v->expires_ms + r->max_ttl_s * 1000 : 0;
	snprintf(v->origin, sizeof(v->origin), "%s", d->cfg.fleet.node);
	snprintf(v->rule, sizeof(v->rule), "%s", x->rule ? x->rule : "");
	if (x->type == POLICY_AGGREGATE)
		snprintf(v->reason, sizeof(v->reason), "%s: %u children aggregated",
			 x->rule && x->rule[0] ? x->rule : "aggregate", x->n_children);
	else
		snprintf(v->reason, sizeof(v->reason), "%s: %s %.1f/s > %.1f/s", x->rule,
			 x->metric ? x->metric : "", x->value, x->threshold);
}

/* Manual bans, when shared: each offered once per change of its term. */
static void offer_manual(struct daemon *d, __u64 now, __u64 wall)
{
	struct fleet_local *fl = d->fl;

	for (__u32 slot = table_next(d->s.t, 0); slot; slot = table_next(d->s.t, slot)) {
		const struct fence_rule_info *in = &d->s.m.info[slot];
		struct fleet_offer *x;
		struct offered *o;
		struct fleet_value *v;
		struct cidr c;
		__u32 k;

		if (d->s.m.rules[slot].kind != FENCE_KIND_DENY || !(in->owners & FENCE_OWN_MANUAL) ||
		    (in->manual_expires_ns && in->manual_expires_ns <= now))
			continue;
		table_info_cidr(in, &c);
		k = fleet_map_get(&fl->man_map, &c);
		if (k) {
			o = &fl->man[k - 1];
			if (o->expires_ns == in->manual_expires_ns && o->action == in->manual_action &&
			    o->rate == in->rate)
				continue;
		} else {
			if (fl->n_man == fl->cap_man) {
				size_t cap = fl->cap_man ? fl->cap_man * 2 : 256;
				struct offered *m = realloc(fl->man, cap * sizeof(*m));

				if (!m)
					return;
				fl->man = m;
				fl->cap_man = cap;
			}
			if (fleet_map_put(&fl->man_map, &c, fl->n_man + 1))
				return;
			o = &fl->man[fl->n_man++];
			o->c = c;
			o->expires_ns = ~0ULL;	/* not offered yet */
		}
		x = offer_push(d);
		if (!x)
			return;		/* offered at the next tick */
		o->expires_ns = in->manual_expires_ns;
		o->action = in->manual_action;
		o->rate = in->rate;
		x->c = c;
		v = &x->v;
		v->action = in->manual_action;
		v->manual = 1;
		if (v->action == FENCE_ACT_THROTTLE) {
			v->rate = in->rate;
			v->burst = in->burst;
		}
		v->expires_ms = wall_of(in->manual_expires_ns, now, wall);
		v->decided_ms = wall;
		snprintf(v->origin, sizeof(v->origin), "%s", d->cfg.fleet.node);
		snprintf(v->reason, sizeof(v->reason), "%s", in->reason[0] == '@' ? "" : in->reason);
	}
}

void engine_fleet_after_tick(struct daemon *d, const struct policy_decision *dec, size_t n)
{
	__u64 now = fence_now_ns(), wall = wall_ms();
	size_t offered;

	if (!d->fl)
		return;
	if (d->cfg.fleet.share & FENCE_OWN_PROMOTED)
		for (size_t i = 0; i < n; i++)
			if (dec[i].type == POLICY_PROMOTE || dec[i].type == POLICY_EXTEND ||
			    dec[i].type == POLICY_AGGREGATE)
				offer_decision(d, &dec[i], now, wall);
	if (d->cfg.fleet.share & FENCE_OWN_MANUAL)
		offer_manual(d, now, wall);
	offered = d->fl->n_offers;
	fleet_offer(d->fleet, d->fl->offers, d->fl->n_offers);
	d->fl->n_offers = 0;
	if (offered >= 1000)
		pr_debug("fleet: %zu offers queued in %.1f ms", offered, (fence_now_ns() - now) / 1e6);
	status_write(d, true);
}

/* --- status -------------------------------------------------------------- */

int fleet_status_path(const char *pin_dir, char *path, size_t len)
{
	char real[PATH_MAX];
	__u64 h = 1469598103934665603ULL;	/* FNV-1a, as control.c names its socket */

	if (!realpath(pin_dir, real))
		return -errno;
	for (const char *p = real; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(path, len, "%s/fleet-%016llx.json", CONTROL_DIR, (unsigned long long)h);
	return 0;
}

/* The fleet's state for `xdpfence status` and the metrics: at most one
 * file write a second unless forced (after a tick). */
static void status_write(struct daemon *d, bool force)
{
	struct fleet_local *fl = d->fl;
	struct fleet_status st;
	json_object *o, *a;
	char tmp[PATH_MAX + 8];
	__u64 now = fence_now_ns();
	int fd;

	fleet_status_get(d->fleet, &st);
	d->snap.fleet_on = true;
	d->snap.fleet_connected = st.connected;
	d->snap.fleet_synced = st.synced;
	d->snap.fleet_last_sync_unix = st.last_sync_ms / 1000.0;
	/* for alerts: the worst lag of the last minute's changes, 0 without
	 * any (a slow change long ago is no lag now) */
	d->snap.fleet_lag_seconds = now - fl->lag_at > 60 * NSEC ? 0 :
				    (now - fl->lag_max_at <= 60 * NSEC ? fl->lag_max_ms : fl->lag_ms) / 1000.0;
	d->snap.fleet_entries = fl->enforced;
	d->snap.fleet_keys = st.keys;
	d->snap.fleet_published = st.published;
	d->snap.fleet_conflicts = st.conflicts;
	d->snap.fleet_received = st.received;
	d->snap.fleet_pending = st.pending;
	d->snap.fleet_reconnects = st.reconnects;
	d->snap.fleet_signals_sent = st.signals_sent;
	d->snap.fleet_signals_received = st.signals_received;
	snprintf(d->snap.fleet_server, sizeof(d->snap.fleet_server), "%s", st.server);
	if (!force && now - fl->status_written_ns < NSEC)
		return;
	metrics_publish(d->mt, &d->snap);
	fl->status_written_ns = now;
	if (!fl->status_path[0])
		return;
	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "node", json_object_new_string(d->cfg.fleet.node));
	json_object_object_add(o, "bucket", json_object_new_string(d->cfg.fleet.bucket));
	a = json_object_new_array();
	for (unsigned i = 0; i < d->cfg.fleet.n_servers; i++)
		json_object_array_add(a, json_object_new_string(d->cfg.fleet.servers[i]));
	json_object_object_add(o, "servers", a);
	json_object_object_add(o, "connected", json_object_new_boolean(st.connected));
	json_object_object_add(o, "server", st.server[0] ? json_object_new_string(st.server) : NULL);
	json_object_object_add(o, "synced", json_object_new_boolean(st.synced));
	json_object_object_add(o, "last_sync_unix_ms", json_object_new_int64(st.last_sync_ms));
	json_object_object_add(o, "lag_ms", json_object_new_int64(fl->lag_ms));
	json_object_object_add(o, "lag_max_ms", json_object_new_int64(fl->lag_max_ms));
	json_object_object_add(o, "entries", json_object_new_int64(fl->enforced));
	json_object_object_add(o, "keys", json_object_new_int64(st.keys));
	json_object_object_add(o, "published", json_object_new_int64(st.published));
	json_object_object_add(o, "conflicts", json_object_new_int64(st.conflicts));
	json_object_object_add(o, "received", json_object_new_int64(st.received));
	json_object_object_add(o, "pending", json_object_new_int64(st.pending));
	json_object_object_add(o, "reconnects", json_object_new_int64(st.reconnects));
	json_object_object_add(o, "refused", json_object_new_int64(fl->refused));
	json_object_object_add(o, "signals_sent", json_object_new_int64(st.signals_sent));
	json_object_object_add(o, "signals_received", json_object_new_int64(st.signals_received));
	json_object_object_add(o, "signals_dropped", json_object_new_int64(st.signals_dropped));
	json_object_object_add(o, "gateways_counting", json_object_new_int(fl->gateways));
	json_object_object_add(o, "error", st.error[0] ? json_object_new_string(st.error) : NULL);
	json_object_object_add(o, "updated_unix_ms", json_object_new_int64(wall_ms()));
	snprintf(tmp, sizeof(tmp), "%s.tmp", fl->status_path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		size_t len = strlen(s);
		bool ok = write(fd, s, len) == (ssize_t)len && write(fd, "\n", 1) == 1;

		close(fd);
		if (!ok || rename(tmp, fl->status_path))
			unlink(tmp);
	}
	json_object_put(o);
}

/* --- life ---------------------------------------------------------------- */

/* What the pinned entries say the fleet gave this gateway (a restart with
 * NATS away keeps expiring them; the first snapshot corrects them). */
static void held_seed(struct daemon *d)
{
	struct fleet_local *fl = d->fl;
	__u64 now = fence_now_ns(), wall = wall_ms();

	for (__u32 slot = table_next(d->s.t, 0); slot; slot = table_next(d->s.t, slot)) {
		const struct fence_rule_info *in = &d->s.m.info[slot];
		struct held *h;
		struct cidr c;

		if (d->s.m.rules[slot].kind != FENCE_KIND_DENY || !(in->owners & FENCE_OWN_FLEET))
			continue;
		table_info_cidr(in, &c);
		h = held_get(fl, &c, true);
		if (!h)
			return;
		h->live = h->enforced = true;
		h->v.action = in->promoted_action < FENCE_ACT_MAX ? in->promoted_action : FENCE_ACT_DROP;
		h->v.rate = in->rate;
		h->v.burst = in->burst;
		h->v.offences = in->offences;
		h->exp_ns = in->promoted_expires_ns;
		h->v.expires_ms = wall_of(in->promoted_expires_ns, now, wall);
		origin_of(in, h->v.origin, sizeof(h->v.origin));
		if (in->reason[0] == '@') {
			const char *sp = strchr(in->reason, ' ');

			snprintf(h->v.reason, sizeof(h->v.reason), "%s", sp ? sp + 1 : "");
		}
		fl->enforced++;
	}
}

int engine_fleet_usable(const struct config *c, char *err, size_t errlen)
{
	const struct config_fleet *f = &c->fleet;
	const char *const files[] = { f->tls_ca, f->tls_cert, f->tls_key, f->creds };
	const char *const keys[] = { "tls_ca", "tls_cert", "tls_key", "creds" };

	if (!f->on)
		return 0;
	for (int i = 0; i < 4; i++)
		if (files[i][0] && access(files[i], R_OK)) {
			snprintf(err, errlen, "%s:%u: [fleet] %s %s: %s", c->path, f->line, keys[i],
				 files[i], strerror(errno));
			return -errno;
		}
	return 0;
}

void engine_fleet_reload(struct daemon *d, const struct config_fleet *was)
{
	if (!memcmp(was, &d->cfg.fleet, sizeof(*was))) {
		if (d->fl) {
			d->fl->any_fleet_rule = false;
			for (unsigned i = 0; i < d->cfg.n_rules; i++)
				d->fl->any_fleet_rule |= d->cfg.rules[i].fleet;
		}
		return;
	}
	engine_fleet_stop(d);
	if (engine_fleet_start(d))
		pr_err("fleet: not restarted with the new [fleet]: this gateway decides alone now");
}

int engine_fleet_start(struct daemon *d)
{
	char err[256];
	int ret;

	if (!d->cfg.fleet.on)
		return 0;
	d->fl = calloc(1, sizeof(*d->fl));
	if (!d->fl)
		return -ENOMEM;
	for (unsigned i = 0; i < d->cfg.n_rules; i++)
		d->fl->any_fleet_rule |= d->cfg.rules[i].fleet;
	if (fleet_status_path(g_opts.pin_dir, d->fl->status_path, sizeof(d->fl->status_path)))
		d->fl->status_path[0] = 0;
	ret = engine_lock_fresh(d);
	if (!ret) {
		held_seed(d);
		engine_unlock(d);
	}
	ret = fleet_start(&d->fleet, &d->cfg.fleet, err, sizeof(err));
	if (ret) {
		pr_err("fleet: %s", err);
		engine_fleet_stop(d);
		return ret;
	}
	status_write(d, true);
	return 0;
}

void engine_fleet_stop(struct daemon *d)
{
	struct fleet_local *fl = d->fl;

	fleet_stop(d->fleet);
	d->fleet = NULL;
	if (!fl)
		return;
	if (fl->status_path[0])
		unlink(fl->status_path);
	fleet_map_free(&fl->by_pfx);
	fleet_map_free(&fl->prev_map);
	fleet_map_free(&fl->man_map);
	free(fl->h);
	free(fl->prev);
	free(fl->prev_next);
	free(fl->man);
	free(fl->offers);
	free(fl);
	d->fl = NULL;
}
