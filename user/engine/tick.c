// SPDX-License-Identifier: GPL-2.0
/* user/engine/tick.c - one tick of the daemon: read the per-prefix counters,
 * hand them to the policy, apply its decisions and the expiries to the
 * entries in one commit under the pin dir's lock, log each decision. The
 * policy decides (policy/); this file only carries samples in and
 * decisions out. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#include "cli/cli.h"
#include "engine/daemon.h"
#include "engine/fleet.h"
#include "lib/log.h"
#include "core/counters.h"
#include "policy/policy.h"
#include "lib/util.h"

static bool allowed(void *ctx, const struct cidr *c)
{
	struct daemon *d = ctx;

	for (size_t i = 0; i < d->n_allows; i++)
		if (cidr_overlaps(&d->allows[i], c))
			return true;
	return false;
}

static int collect_allows(struct daemon *d)
{
	size_t cap = d->n_allows;

	d->n_allows = 0;
	for (__u32 slot = table_next(d->s.t, 0); slot; slot = table_next(d->s.t, slot)) {
		if (d->s.m.rules[slot].kind != FENCE_KIND_ALLOW)
			continue;
		if (d->n_allows == cap) {
			struct cidr *v = realloc(d->allows, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			d->allows = v;
		}
		table_info_cidr(&d->s.m.info[slot], &d->allows[d->n_allows++]);
	}
	return 0;
}

static int rule_index(const struct daemon *d, const char *name)
{
	for (unsigned i = 0; i < d->cfg.n_rules; i++)
		if (name && !strcmp(d->cfg.rules[i].name, name))
			return i;
	return -1;
}

/* Why a rule promoted, in the entry's reason (47 characters): "farm:
 * new_conns 41.2/s > 30.0/s, 64 hosts", "reported: 7 accounts reported:
 * distillation". */
static void decision_reason(const struct policy_decision *x, char *buf, size_t len)
{
	const char *m = x->metric ? x->metric : "";
	size_t n;

	if (!strcmp(m, "signals") || !strcmp(m, "accounts"))
		n = snprintf(buf, len, "%s: %.0f %s reported%s%s", x->rule, x->value, m,
			     x->kind && x->kind[0] ? ": " : "", x->kind ? x->kind : "");
	else if (!strcmp(m, "hosts"))
		n = snprintf(buf, len, "%s: %.0f hosts >= %.0f", x->rule, x->value, x->threshold);
	else
		n = snprintf(buf, len, "%s: %s %.1f/s > %.1f/s", x->rule, m, x->value, x->threshold);
	if (x->hosts && strcmp(m, "hosts") && n < len)
		snprintf(buf + n, len - n, ", %u host%s", x->hosts, x->hosts == 1 ? "" : "s");
}

/* Stage one decision on the entries. 0 or -errno. */
static int stage(struct daemon *d, const struct policy_decision *x)
{
	const struct fence_rule_info *cur = table_get(d->s.t, &x->prefix, FENCE_KIND_DENY, NULL);
	struct fence_rule_info info = {};
	int r;

	if (cur)
		info = *cur;
	switch (x->type) {
	case POLICY_PROMOTE:
	case POLICY_EXTEND:
	case POLICY_AGGREGATE:
		info.owners |= FENCE_OWN_PROMOTED;
		info.promoted_action = x->action;
		info.promoted_expires_ns = x->expires_ns;
		info.offences = x->offences > 0xffff ? 0xffff : x->offences;
		r = rule_index(d, x->rule);
		info.rule_id = r < 0 ? 0 : r;
		if (x->action == FENCE_ACT_THROTTLE && !(info.owners & FENCE_OWN_MANUAL)) {
			info.rate = x->throttle_rate;
			info.burst = x->throttle_burst;
		}
		if (x->type == POLICY_AGGREGATE)
			snprintf(info.reason, sizeof(info.reason), "%s: %u children aggregated",
				 x->rule && x->rule[0] ? x->rule : "aggregate", x->n_children);
		else
			decision_reason(x, info.reason, sizeof(info.reason));
		if (r >= 0 && r < METRICS_MAX_RULES)
			d->snap.promotions[r]++;
		break;
	case POLICY_EXPIRE:
	case POLICY_UNBAN:
		if (!cur || !(cur->owners & FENCE_OWN_PROMOTED))
			return 0;
		info.owners &= ~FENCE_OWN_PROMOTED;
		break;
	}
	return table_put(d->s.t, &x->prefix, FENCE_KIND_DENY, &info);
}

/* Owner classes whose expiry has passed (a manual --ttl ban, a promotion the
 * engine no longer tracks) lose their ownership; the data path stopped
 * enforcing them on time already, this frees their slots. */
static __u8 expired_owners(const struct fence_rule_info *in, __u64 now)
{
	__u8 gone = 0;

	if ((in->owners & FENCE_OWN_MANUAL) && in->manual_expires_ns && in->manual_expires_ns <= now)
		gone |= FENCE_OWN_MANUAL;
	if ((in->owners & FENCE_OWN_PROMOTED) && in->promoted_expires_ns &&
	    in->promoted_expires_ns <= now)
		gone |= FENCE_OWN_PROMOTED;
	if ((in->owners & FENCE_OWN_FEED) && in->feed_expires_ns && in->feed_expires_ns <= now)
		gone |= FENCE_OWN_FEED;
	return gone;
}

static int stage_sweep(struct daemon *d, __u64 now)
{
	for (__u32 slot = table_next(d->s.t, 0); slot; slot = table_next(d->s.t, slot)) {
		const struct fence_rule_info *cur;
		struct fence_rule_info info;
		__u8 gone;
		struct cidr c;
		int ret;

		if (d->s.m.rules[slot].kind != FENCE_KIND_DENY ||
		    !expired_owners(&d->s.m.info[slot], now))
			continue;
		/* as this tick's decisions staged it, if they touched it */
		table_info_cidr(&d->s.m.info[slot], &c);
		cur = table_get(d->s.t, &c, FENCE_KIND_DENY, NULL);
		if (!cur)
			continue;	/* staged for removal already */
		info = *cur;
		gone = expired_owners(&info, now);
		if (!gone)
			continue;	/* a decision renewed it */
		if (gone & FENCE_OWN_FEED)
			info.feeds = 0;
		info.owners &= ~gone;
		ret = table_put(d->s.t, &c, FENCE_KIND_DENY, &info);
		if (ret)
			return ret;
		{
			json_object *o = event_new("expire", &c);
			char own[64];

			snprintf(own, sizeof(own), "%s%s%s", gone & FENCE_OWN_MANUAL ? "manual " : "",
				 gone & FENCE_OWN_PROMOTED ? "promoted " : "", gone & FENCE_OWN_FEED ? "feed" : "");
			json_object_object_add(o, "owners", json_object_new_string(own));
			json_object_object_add(o, "why", json_object_new_string("ttl ran out"));
			event_write(d, o);
		}
	}
	return 0;
}

/* Promotions the operator removed since the last tick (`ban del`). */
static void forget_removed(struct daemon *d)
{
	for (size_t i = 0; i < d->n_promoted; i++) {
		const struct fence_rule_info *in = table_get(d->s.t, &d->promoted[i], FENCE_KIND_DENY, NULL);
		json_object *o;

		if (in && (in->owners & FENCE_OWN_PROMOTED))
			continue;
		if (policy_forget(d->p, &d->promoted[i]))
			continue;	/* the policy had let it go already */
		o = event_new("unban", &d->promoted[i]);
		json_object_object_add(o, "why", json_object_new_string("removed by the operator"));
		event_write(d, o);
	}
}

/* A drop entry of the engine's or the fleet's, for entry_samples. */
static void note_drop_entry(struct daemon *d, const struct fence_rule_info *in, __u32 slot)
{
	if (d->n_drop_entries == d->cap_drop_entries) {
		size_t cap = d->cap_drop_entries ? d->cap_drop_entries * 2 : 256;
		struct engine_drop_entry *v = realloc(d->drop_entries, cap * sizeof(*v));

		if (!v)
			return;
		d->drop_entries = v;
		d->cap_drop_entries = cap;
	}
	d->drop_entries[d->n_drop_entries].slot = slot;
	table_info_cidr(in, &d->drop_entries[d->n_drop_entries++].c);
}

static void snapshot_entries(struct daemon *d)
{
	d->n_promoted = 0;
	d->n_drop_entries = 0;
	memset(d->snap.entries, 0, sizeof(d->snap.entries));
	for (__u32 slot = table_next(d->s.t, 0); slot; slot = table_next(d->s.t, slot)) {
		const struct fence_rule_info *in = &d->s.m.info[slot];
		int k = d->s.m.rules[slot].kind == FENCE_KIND_DENY;

		metrics_count_entry(&d->snap, k, in);
		if (k && (in->owners & (FENCE_OWN_PROMOTED | FENCE_OWN_FLEET)) &&
		    d->s.m.rules[slot].action == FENCE_ACT_DROP)
			note_drop_entry(d, in, slot);
		if (in->owners & FENCE_OWN_PROMOTED) {
			if (k && d->n_promoted == d->cap_promoted) {
				size_t cap = d->cap_promoted ? d->cap_promoted * 2 : 256;
				struct cidr *v = realloc(d->promoted, cap * sizeof(*v));

				if (!v)
					continue;
				d->promoted = v;
				d->cap_promoted = cap;
			}
			if (k)
				table_info_cidr(in, &d->promoted[d->n_promoted++]);
		}
	}
}

/* --- samples of promoted drop entries ------------------------------------ */

static int cidr_cmp(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	if (x->len != y->len)
		return x->len - y->len;
	return memcmp(x->addr, y->addr, 16);
}

/* A packet a drop entry drops is counted on the entry, not on its source
 * prefix: for each drop entry the engine promoted (or the fleet put there,
 * whose term is the engine's: see fleet_apply.c), the policy gets
 * the entry's counters (read now, beside the prefixes'), ahead of the
 * prefixes' samples so that they win over the prefix's own (frozen since
 * the ban). That is how a ban still offended against is extended. A prefix
 * that gains or loses such a sample since the last tick changes counters:
 * the policy takes that sample as a baseline. Writes the samples to ps (room
 * for d->n_drop_entries), returns how many. */
static size_t entry_samples(struct daemon *d, struct policy_sample *ps)
{
	size_t n = 0, i = 0, j = 0;

	for (size_t k = 0; k < d->n_drop_entries; k++) {
		struct fence_entry_counters e;

		if (counters_entry(&d->s.m, d->drop_entries[k].slot, &e))
			continue;
		memset(&ps[n], 0, sizeof(ps[n]));
		ps[n].hosts_unknown = true;	/* what a drop entry drops marks no hosts */
		ps[n].prefix = d->drop_entries[k].c;
		ps[n].packets = e.packets;
		ps[n].bytes = e.bytes;
		ps[n++].new_conns = e.new_conns;
	}
	/* gaps: prefixes in this tick's set or the last one's, not both */
	if (n > 1)
		qsort(ps, n, sizeof(*ps), cidr_cmp);	/* prefix is the first member */
	while (i < n || j < d->n_esampled) {
		int c = i == n ? 1 : j == d->n_esampled ? -1 : cidr_cmp(&ps[i].prefix, &d->esampled[j]);

		if (c)
			policy_gap(d->p, c < 0 ? &ps[i].prefix : &d->esampled[j]);
		i += c <= 0;
		j += c >= 0;
	}
	if (n > d->cap_esampled) {
		struct cidr *v = realloc(d->esampled, n * sizeof(*v));

		if (!v) {
			d->n_esampled = 0;
			return n;
		}
		d->esampled = v;
		d->cap_esampled = n;
	}
	for (i = 0; i < n; i++)
		d->esampled[i] = ps[i].prefix;
	d->n_esampled = n;
	return n;
}

/* --- one tick ----------------------------------------------------------- */

int engine_tick(struct daemon *d)
{
	const struct policy_decision *dec = NULL;
	struct pfx_sample *const *seg;
	const size_t *seg_n;
	unsigned n_seg;
	struct policy_sample *ps;
	size_t n = 0, n_dec = 0;
	double t0 = now_s(), dt;
	__u64 now, sample_ns;
	char err[256] = "";
	int ret;

	/* the counters' time: the middle of the read, not after the lock
	 * below (a feed load can hold it for seconds) */
	sample_ns = fence_now_ns();
	ret = counters_reader_read(d->reader, &seg, &seg_n, &n_seg);
	sample_ns += (fence_now_ns() - sample_ns) / 2;
	if (ret) {
		/* no sample this tick: the policy waits for the next one (its
		 * rates come from the actual interval), expiries go on */
		pr_warn("reading per-prefix counters: %s: this tick expires bans only",
			strerror(-ret));
		d->snap.ticks_degraded++;
		n_seg = 0;
	}
	for (unsigned k = 0; k < n_seg; k++)
		n += seg_n[k];
	n += d->n_drop_entries;
	if (n + 1 > d->ps_cap) {
		size_t cap = (n + 1) + (n + 1) / 4;

		ps = realloc(d->ps, cap * sizeof(*ps));
		if (!ps)
			return -ENOMEM;
		d->ps = ps;
		d->ps_cap = cap;
	}
	ps = d->ps;
	n = n_seg ? entry_samples(d, ps) : 0;
	for (unsigned k = 0; k < n_seg; k++) {
		for (size_t i = 0; i < seg_n[k]; i++, n++) {
			struct pfx_sample *v = &seg[k][i];
			struct cidr *c = &ps[n].prefix;

			c->family = v->family == 4 ? AF_INET : AF_INET6;
			c->len = v->family == 4 ? d->meta.v4_agg_len : d->meta.v6_agg_len;
			c->pad[0] = c->pad[1] = 0;
			memcpy(c->addr, v->addr, 16);
			ps[n].packets = v->c.packets;
			ps[n].bytes = v->c.bytes;
			ps[n].new_conns = v->c.new_conns;
			ps[n].hosts = counters_sample_hosts(v, sample_ns);
			ps[n].host_bits = v->family == 4 && ps[n].hosts ? v->c.hosts[0] : NULL;
			ps[n].no_local = ps[n].hosts_unknown = false;
		}
	}
	n = engine_fleet_samples(d, n, sample_ns);	/* the fleet's counts in, ours out */
	ps = d->ps;

	metrics_observe_samples(d->mt, ps, n, sample_ns);
	ret = engine_lock_fresh(d);
	if (ret)
		return ret;
	ret = collect_allows(d);
	if (!ret)
		forget_removed(d);
	now = fence_now_ns();
	if (!ret)
		engine_signals_drain(d, sample_ns);
	if (!ret && n_seg)
		ret = policy_tick_ex(d->p, sample_ns, ps, n,
				     counters_reader_changes_only(d->reader) ? POLICY_TICK_CHANGED : 0,
				     allowed, d, &dec, &n_dec);
	if (!ret) {
		for (size_t i = 0; i < n_dec && !ret; i++)
			ret = stage(d, &dec[i]);
		if (!ret)
			ret = stage_sweep(d, now);
		if (!ret)
			ret = engine_fleet_stage(d, dec, n_dec, now);
		if (!ret && table_staged(d->s.t))
			ret = pin_commit(&d->s, NULL, err, sizeof(err));
		if (ret)
			pr_err("applying decisions: %s", err[0] ? err : strerror(-ret));
	}
	if (!ret)
		snapshot_entries(d);
	engine_unlock(d);
	if (ret)
		return ret;
	/* the other gateways wait on the shared decisions, nobody on the log:
	 * a burst's events take longer to write than its offers to queue */
	engine_fleet_after_tick(d, dec, n_dec);
	events_hold(d);
	for (size_t i = 0; i < n_dec; i++)
		event_decision(d, &dec[i], now);
	events_release(d);

	{
		struct counters_stats cs;

		counters_reader_stats(d->reader, &cs);
		d->snap.read_fallbacks = cs.fallbacks;
	}
	dt = now_s() - t0;
	metrics_observe_tick(&d->snap, dt);
	metrics_publish(d->mt, &d->snap);
	return 0;
}
