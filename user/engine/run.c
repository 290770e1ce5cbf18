/* user/engine/run.c - `xdpfence run --config FILE`: the behaviour engine daemon.
 *
 * Glue between the data path and the pure policy engine (policy.c): attach
 * the configured interfaces, load and refresh feeds, and every tick read the
 * per-prefix counters (batch lookups), let the policy decide, apply its
 * decisions to the entries in one commit, and log each decision as one JSON
 * line. SIGHUP reloads the config and feeds; SIGTERM leaves the data path and
 * the pinned maps enforcing and saves the engine's state for the next start.
 * The pin dir is locked only while a tick commits, so the CLI works beside it.
 */
#define _GNU_SOURCE		/* ppoll */
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
#include "engine/config.h"
#include "engine/control.h"
#include "core/counters.h"
#include "feeds/feed.h"
#include "lib/log.h"
#include "engine/metrics.h"
#include "policy/policy.h"
#include "lib/util.h"

static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

struct daemon {
	struct config cfg;
	struct pinned s;
	struct policy *p;
	struct fence_meta meta;
	struct metrics *mt;
	struct metrics_snapshot snap;
	FILE *events;
	int lock_fd;
	__u64 next_refresh[CONFIG_MAX_FEEDS];	/* CLOCK_MONOTONIC ns */
	bool feed_ok[CONFIG_MAX_FEEDS];		/* the last load of each configured feed */
	unsigned feed_fails[CONFIG_MAX_FEEDS];	/* failed loads in a row */
	/* feeds a reloaded config no longer lists: deleted once every feed
	 * it does list has loaded (a renamed feed whose new source fails
	 * keeps the old one enforcing) */
	char gone[CONFIG_MAX_FEEDS][sizeof(((struct config_feed *)0)->name)];
	unsigned n_gone;
	/* allowlist of the current tick, for the policy's callback */
	struct cidr *allows;
	size_t n_allows;
	/* prefixes promoted after the last commit: one missing at the next tick
	 * was unbanned by the operator, and the policy is told to forget it */
	struct cidr *promoted;
	size_t n_promoted, cap_promoted;
	__u64 ticks_limit;			/* --ticks N: exit after N (tests) */
	struct control ctl;			/* the CLI's socket (control.h); fd -1: none */
	char served[32];			/* feed of the command being served */
	__u64 refused, refused_logged_ns;	/* clients turned away; when last logged */
	/* kept between ticks: a million prefixes' buffers cost page faults */
	struct counters_reader *reader;
	struct policy_sample *ps;
	size_t ps_cap;
};

/* The pin dir's writer lock; gives up when asked to stop while waiting. */
static int lock(struct daemon *d)
{
	while (flock(d->lock_fd, LOCK_EX)) {
		if (errno != EINTR || got_term)
			return -errno;
	}
	return 0;
}

static void unlock(struct daemon *d)
{
	flock(d->lock_fd, LOCK_UN);
}

/* The lock, and the entries re-read under it: the CLI may have changed
 * them since we last looked. Unlocked again on failure. */
static int lock_fresh(struct daemon *d)
{
	int ret = lock(d);

	if (ret)
		return ret;
	table_close(d->s.t);
	d->s.t = NULL;
	ret = table_open(&d->s.t, &d->s.m);
	if (!ret) {
		struct pin_repair rep;
		char err[256];

		ret = pin_repair(&d->s, &rep, err, sizeof(err));
		if (ret)
			pr_err("%s", err);
		else
			state_repair_print(&rep);
	}
	if (ret)
		unlock(d);
	return ret;
}

/* --- events ------------------------------------------------------------- */

static void event_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

static void event_write(struct daemon *d, json_object *o)
{
	fprintf(d->events, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(d->events);
	json_object_put(o);
	d->snap.events++;
}

static json_object *event_new(const char *type, const struct cidr *c)
{
	json_object *o = json_object_new_object();
	char buf[CIDR_STR_MAX], t[64];

	event_time(t, sizeof(t));
	json_object_object_add(o, "time", json_object_new_string(t));
	json_object_object_add(o, "event", json_object_new_string(type));
	if (c)
		json_object_object_add(o, "prefix", json_object_new_string(cidr_str(c, buf, sizeof(buf))));
	return o;
}

static void event_decision(struct daemon *d, const struct policy_decision *x, __u64 now)
{
	json_object *o = event_new(policy_event_name(x->type), &x->prefix);

	if (x->rule && x->rule[0])
		json_object_object_add(o, "rule", json_object_new_string(x->rule));
	if (x->type != POLICY_EXPIRE && x->type != POLICY_UNBAN) {
		json_object_object_add(o, "metric", json_object_new_string(x->metric ? x->metric : ""));
		json_object_object_add(o, "value", json_object_new_double(round(x->value * 100) / 100));
		json_object_object_add(o, "threshold", json_object_new_double(round(x->threshold * 100) / 100));
		json_object_object_add(o, "action", json_object_new_string(action_name(x->action)));
		json_object_object_add(o, "ttl_s", json_object_new_int64(x->ttl_s));
		json_object_object_add(o, "expires_in_s", json_object_new_int64(
			x->expires_ns > now ? (x->expires_ns - now) / 1000000000ULL : 0));
	}
	json_object_object_add(o, "offences", json_object_new_int64(x->offences));
	if (x->why && x->why[0])
		json_object_object_add(o, "why", json_object_new_string(x->why));
	if (x->n_children) {
		json_object *a = json_object_new_array();
		char buf[CIDR_STR_MAX];

		for (unsigned i = 0; i < x->n_children && i < 64; i++)
			json_object_array_add(a, json_object_new_string(cidr_str(&x->children[i], buf,
										 sizeof(buf))));
		json_object_object_add(o, "children", a);
	}
	event_write(d, o);
}

/* --- policy <-> entries --------------------------------------------------- */

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
			snprintf(info.reason, sizeof(info.reason), "%s: %s %.1f/s > %.1f/s", x->rule,
				 x->metric ? x->metric : "", x->value, x->threshold);
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

static void snapshot_entries(struct daemon *d)
{
	d->n_promoted = 0;
	memset(d->snap.entries, 0, sizeof(d->snap.entries));
	for (__u32 slot = table_next(d->s.t, 0); slot; slot = table_next(d->s.t, slot)) {
		const struct fence_rule_info *in = &d->s.m.info[slot];
		int k = d->s.m.rules[slot].kind == FENCE_KIND_DENY;

		if (in->owners & FENCE_OWN_MANUAL)
			d->snap.entries[k][0]++;
		if (in->owners & FENCE_OWN_PROMOTED) {
			d->snap.entries[k][1]++;
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
		if (in->owners & FENCE_OWN_FEED)
			d->snap.entries[k][2]++;
	}
}

/* --- one tick ----------------------------------------------------------- */

static int tick(struct daemon *d)
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
		pr_err("reading per-prefix counters: %s", strerror(-ret));
		return ret;
	}
	for (unsigned k = 0; k < n_seg; k++)
		n += seg_n[k];
	if (n + 1 > d->ps_cap) {
		size_t cap = (n + 1) + (n + 1) / 4;

		ps = realloc(d->ps, cap * sizeof(*ps));
		if (!ps)
			return -ENOMEM;
		d->ps = ps;
		d->ps_cap = cap;
	}
	ps = d->ps;
	n = 0;
	for (unsigned k = 0; k < n_seg; k++) {
		for (size_t i = 0; i < seg_n[k]; i++, n++) {
			const struct pfx_sample *v = &seg[k][i];
			struct cidr *c = &ps[n].prefix;

			c->family = v->family == 4 ? AF_INET : AF_INET6;
			c->len = v->family == 4 ? d->meta.v4_agg_len : d->meta.v6_agg_len;
			c->pad[0] = c->pad[1] = 0;
			memcpy(c->addr, v->addr, 16);
			ps[n].packets = v->c.packets;
			ps[n].bytes = v->c.bytes;
			ps[n].new_conns = v->c.new_conns;
		}
	}

	ret = lock_fresh(d);
	if (ret)
		return ret;
	ret = collect_allows(d);
	if (!ret)
		forget_removed(d);
	now = fence_now_ns();
	if (!ret)
		ret = policy_tick(d->p, sample_ns, ps, n, allowed, d, &dec, &n_dec);
	if (!ret) {
		for (size_t i = 0; i < n_dec && !ret; i++)
			ret = stage(d, &dec[i]);
		if (!ret)
			ret = stage_sweep(d, now);
		if (!ret && table_staged(d->s.t))
			ret = table_commit(d->s.t, NULL, err, sizeof(err));
		if (ret)
			pr_err("applying decisions: %s", err[0] ? err : strerror(-ret));
	}
	if (!ret)
		snapshot_entries(d);
	unlock(d);
	if (ret)
		return ret;
	for (size_t i = 0; i < n_dec; i++)
		event_decision(d, &dec[i], now);

	dt = now_s() - t0;
	d->snap.tick_seconds = dt;
	if (dt > d->snap.tick_seconds_max)
		d->snap.tick_seconds_max = dt;
	d->snap.ticks++;
	metrics_publish(d->mt, &d->snap);
	return 0;
}

/* --- config, feeds, state --------------------------------------------------- */

static void policy_config_from(const struct config *c, struct policy_config *pc)
{
	static const enum policy_metric metric[] = {
		[CONFIG_NEW_CONNS] = POLICY_NEW_CONNS, [CONFIG_PACKETS] = POLICY_PACKETS,
		[CONFIG_BYTES] = POLICY_BYTES,
	};

	memset(pc, 0, sizeof(*pc));
	for (unsigned i = 0; i < c->n_rules; i++) {
		const struct config_rule *r = &c->rules[i];
		struct policy_rule *p = &pc->rules[i];

		snprintf(p->name, sizeof(p->name), "%s", r->name);
		p->metric = metric[r->metric];
		p->rate = r->rate;
		p->window_s = r->window_s;
		p->action = r->action;
		p->throttle_rate = r->throttle_rate;
		p->throttle_burst = r->throttle_burst;
		p->ttl_s = r->ttl_s;
		p->max_ttl_s = r->max_ttl_s;
		p->escalate = r->escalate;
		p->jitter = r->jitter;
	}
	pc->n_rules = c->n_rules;
	pc->v4_children = c->v4_children;
	pc->v4_parent_len = c->v4_parent_len;
	pc->v6_children = c->v6_children;
	pc->v6_parent_len = c->v6_parent_len;
	pc->max_tracked = 2000000;
}

static bool config_feed_named(const struct config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_feeds; i++)
		if (!strcmp(c->feeds[i].name, name))
			return true;
	return false;
}

static bool gone_named(const struct daemon *d, const char *name)
{
	for (unsigned j = 0; j < d->n_gone; j++)
		if (!strcmp(d->gone[j], name))
			return true;
	return false;
}

static void delete_gone(struct daemon *d)
{
	for (unsigned i = 0; i < d->cfg.n_feeds; i++)
		if (!d->feed_ok[i])
			return;
	while (d->n_gone) {
		const char *name = d->gone[d->n_gone - 1];
		size_t removed = 0;
		json_object *o_ev;
		int ret = lock_fresh(d);

		if (ret == -EINTR)
			return;
		if (!ret) {
			char err[256];

			ret = feed_delete(&d->s, name, &removed, err, sizeof(err));
			unlock(d);
			if (ret)
				pr_err("%s", err);
		}
		o_ev = event_new("feed_delete", NULL);
		json_object_object_add(o_ev, "feed", json_object_new_string(name));
		json_object_object_add(o_ev, "ok", json_object_new_boolean(ret == 0));
		json_object_object_add(o_ev, "removed", json_object_new_int64(removed));
		json_object_object_add(o_ev, "why", json_object_new_string("no longer in the config"));
		event_write(d, o_ev);
		d->n_gone--;
	}
}

/* Seconds until a feed is loaded again: its refresh interval after a good
 * load (0: never again); after a failed one a retry, a tenth of the
 * interval (30 s for a feed loaded once) doubling with each failure in a
 * row, never longer than the interval (an hour for a feed loaded once). */
static __u64 feed_wait_s(__u64 refresh_s, unsigned fails)
{
	__u64 base = refresh_s ? refresh_s / 10 : 30, cap = refresh_s ? refresh_s : 3600;

	if (!fails)
		return refresh_s;
	if (base < 1)
		base = 1;
	base <<= fails - 1 < 10 ? fails - 1 : 10;
	return base < cap ? base : cap;
}

static void refresh_feeds(struct daemon *d, bool all)
{
	__u64 now = fence_now_ns();

	for (unsigned i = 0; i < d->cfg.n_feeds; i++) {
		const struct config_feed *f = &d->cfg.feeds[i];
		struct feed_load_opts o = {
			.name = f->name, .source = f->source, .format = f->format, .action = f->action,
			.ttl_s = f->ttl_s, .rate = f->throttle_rate, .burst = f->throttle_burst,
			.min_len_v4 = f->min_len_v4,
			.min_len_v6 = f->min_len_v6, .lenient = f->lenient, .max_errors_shown = 20,
		};
		struct feed_load_report rep = {};
		json_object *o_ev;
		__u64 wait_s;
		int ret;

		/* due: its refresh interval is up, or it failed and its retry is */
		if (!all && ((!f->refresh_s && d->feed_ok[i]) || now < d->next_refresh[i]))
			continue;
		ret = lock_fresh(d);
		if (ret == -EINTR)
			return;
		if (!ret) {
			ret = feed_load(&d->s, &o, &rep);
			unlock(d);
			feed_load_print_errors(&o, &rep, ret);
		} else {
			snprintf(rep.why, sizeof(rep.why), "taking the pin dir's lock: %s",
				 strerror(-ret));
		}
		d->feed_ok[i] = !ret;
		d->feed_fails[i] = ret ? d->feed_fails[i] + 1 : 0;
		wait_s = feed_wait_s(f->refresh_s, d->feed_fails[i]);
		d->next_refresh[i] = now + wait_s * 1000000000ULL;
		o_ev = event_new("feed", NULL);
		json_object_object_add(o_ev, "feed", json_object_new_string(f->name));
		json_object_object_add(o_ev, "ok", json_object_new_boolean(!ret));
		if (ret) {
			json_object_object_add(o_ev, "why", json_object_new_string(rep.why));
			json_object_object_add(o_ev, "retry_in_s", json_object_new_int64(wait_s));
		} else {
			json_object_object_add(o_ev, "not_modified", json_object_new_boolean(rep.not_modified));
			json_object_object_add(o_ev, "entries", json_object_new_int64(rep.entries));
			json_object_object_add(o_ev, "added", json_object_new_int64(rep.added));
			json_object_object_add(o_ev, "removed", json_object_new_int64(rep.removed));
		}
		event_write(d, o_ev);
		feed_load_report_free(&rep);
	}
	if (d->n_gone)
		delete_gone(d);
}

/* Are the pinned maps still the ones we hold? Someone may have removed
 * the pin dir (a fresh set is then the CLI's to create). */
static bool pins_ours(const struct daemon *d)
{
	struct bpf_map_info a = {}, b = {};
	__u32 la = sizeof(a), lb = sizeof(b);
	char path[PATH_MAX];
	int fd;
	bool same;

	snprintf(path, sizeof(path), "%s/%s", g_opts.pin_dir, FENCE_MAP_RULES);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &a, &la) &&
	       !bpf_obj_get_info_by_fd(d->s.m.fd[FM_RULES], &b, &lb) && a.id == b.id;
	close(fd);
	return same;
}

/* A command of the one-shot CLI, run here on its behalf (control.h): only
 * `feed load` for now, the one whose cost is the fresh process. The file
 * is read and parsed before the lock: a client gone by then (interrupted)
 * cancels it, as it would have cancelled its own load. */
static int serve(void *ctx, const char *command, int argc, char **argv, int src_fd, int conn)
{
	struct daemon *d = ctx;
	struct feed_load_opts o;
	struct feed_prepared p;
	int ret;

	if (strcmp(command, "feed load") || !pins_ours(d))
		return -1;
	ret = feed_load_args(argc, argv, &o, NULL);
	if (ret >= 0)
		return ret;
	snprintf(d->served, sizeof(d->served), "%s", o.name);
	o.from_fd = true;
	o.source_fd = src_fd;
	feed_prepare(&o, &p);
	o.prepared = &p;
	if (control_gone(conn)) {
		feed_prepared_free(&p);
		return -1;
	}
	ret = lock_fresh(d);
	if (ret == -EINTR || (!ret && control_gone(conn))) {
		/* stopping while it waited, or the client gave up waiting:
		 * nothing done (the client, if still there, loads it itself) */
		if (!ret)
			unlock(d);
		feed_prepared_free(&p);
		return -1;
	}
	if (ret) {
		pr_err("feed %s: taking the pin dir's lock: %s", o.name, strerror(-ret));
		feed_prepared_free(&p);
		return EXIT_RUNTIME;
	}
	ret = feed_load_run(&d->s, &o);
	unlock(d);
	feed_prepared_free(&p);
	return ret;
}

/* Serve the clients waiting (a few at a time: ticks come first), each
 * logged as a `control` event; clients turned away are counted, and
 * logged at most every 10 s. <0: accepting fails, leave it for a tick. */
static int serve_clients(struct daemon *d)
{
	struct control_request r;
	json_object *o;
	int ret = 0;

	for (int k = 0; k < 8 && !got_term && d->ctl.fd >= 0; k++) {
		d->served[0] = 0;
		ret = control_serve(&d->ctl, serve, d, &r);
		if (ret)
			break;
		if (r.refused && !r.command[0]) {	/* not even heard */
			__u64 now = fence_now_ns();

			d->refused++;
			if (now - d->refused_logged_ns < 10000000000ULL)
				continue;
			d->refused_logged_ns = now;
		}
		o = event_new("control", NULL);
		json_object_object_add(o, "command", json_object_new_string(r.command));
		if (d->served[0])
			json_object_object_add(o, "feed", json_object_new_string(d->served));
		json_object_object_add(o, "pid", json_object_new_int(r.pid));
		json_object_object_add(o, "uid", json_object_new_int64(r.uid));
		json_object_object_add(o, "refused", json_object_new_boolean(r.refused));
		if (r.refused && !r.command[0])
			json_object_object_add(o, "refused_total", json_object_new_int64(d->refused));
		if (!r.refused)
			json_object_object_add(o, "exit", json_object_new_int(r.code));
		event_write(d, o);
	}
	return ret == -EAGAIN ? 0 : ret;
}

/* The signals that stop or reload us: they wake the wait between ticks. */
static void wake_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Sleep until next (CLOCK_MONOTONIC), serving clients meanwhile; early
 * on a signal (blocked but in ppoll, so none slips in between). */
static void wait_until(struct daemon *d, const struct timespec *next)
{
	bool listen = d->ctl.fd >= 0;
	sigset_t block, old;

	wake_signals(&block);
	for (;;) {
		struct timespec now, left;
		struct pollfd p = { d->ctl.fd, POLLIN, 0 };
		int n;

		sigprocmask(SIG_BLOCK, &block, &old);
		if (got_term || got_hup) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = next->tv_sec - now.tv_sec;
		left.tv_nsec = next->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			return;
		}
		n = ppoll(&p, listen, &left, &old);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (n > 0 && serve_clients(d))
			listen = false;		/* accept fails (no fds?): after this tick */
	}
}

static void state_save(struct daemon *d)
{
	char tmp[300];
	FILE *f;

	if (!d->cfg.state_file[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg.state_file);
	f = fopen(tmp, "w");
	if (!f) {
		pr_warn("state file %s: %s", tmp, strerror(errno));
		return;
	}
	if (policy_save(d->p, f) || fflush(f) || fsync(fileno(f))) {
		pr_warn("writing %s: %s", tmp, strerror(errno));
		fclose(f);
		return;
	}
	fclose(f);
	if (rename(tmp, d->cfg.state_file))
		pr_warn("renaming %s: %s", tmp, strerror(errno));
}

static int open_events(struct daemon *d)
{
	FILE *f;

	if (!strcmp(d->cfg.events, "stderr")) {
		f = stderr;
	} else {
		f = fopen(d->cfg.events, "a");
		if (!f) {
			pr_err("events file %s: %s", d->cfg.events, strerror(errno));
			return -errno;
		}
	}
	if (d->events && d->events != stderr)
		fclose(d->events);
	d->events = f;
	return 0;
}

static int reload(struct daemon *d)
{
	struct policy_config pc;
	struct config fresh;
	char err[300];
	int ret = config_load(d->cfg.path, &fresh, err, sizeof(err));

	if (ret) {
		pr_err("reload: %s (keeping the running config)", err);
		return ret;
	}
	policy_config_from(&fresh, &pc);
	if (policy_config_check(&pc, err, sizeof(err))) {
		pr_err("reload: %s: %s (keeping the running config)", fresh.path, err);
		return -EINVAL;
	}
	ret = policy_set_config(d->p, &pc);
	if (ret) {
		pr_err("reload: policy: %s (keeping the running config)", strerror(-ret));
		return ret;
	}
	/* feeds that left the config (now, or before and still waiting) go
	 * once the ones it lists have loaded (see delete_gone) */
	{
		char was[2 * CONFIG_MAX_FEEDS][sizeof(d->gone[0])];
		unsigned n_was = 0;

		for (unsigned j = 0; j < d->n_gone; j++)
			memcpy(was[n_was++], d->gone[j], sizeof(was[0]));
		for (unsigned i = 0; i < d->cfg.n_feeds; i++)
			memcpy(was[n_was++], d->cfg.feeds[i].name, sizeof(was[0]));
		d->n_gone = 0;
		for (unsigned j = 0; j < n_was; j++)
			if (!config_feed_named(&fresh, was[j]) && !gone_named(d, was[j]) &&
			    d->n_gone < CONFIG_MAX_FEEDS)
				memcpy(d->gone[d->n_gone++], was[j], sizeof(d->gone[0]));
	}
	memset(d->feed_ok, 0, sizeof(d->feed_ok));
	memset(d->feed_fails, 0, sizeof(d->feed_fails));
	d->cfg = fresh;
	for (unsigned i = 0; i < d->cfg.n_ifaces; i++) {
		struct fence_opts o = {};

		fence_attach(d->cfg.ifaces[i].name, d->cfg.ifaces[i].skb, &o);
	}
	open_events(d);
	refresh_feeds(d, true);
	d->snap.n_rules = d->cfg.n_rules;
	for (unsigned i = 0; i < d->cfg.n_rules && i < METRICS_MAX_RULES; i++)
		snprintf(d->snap.rule_names[i], sizeof(d->snap.rule_names[i]), "%s", d->cfg.rules[i].name);
	return 0;
}

static void run_usage(void)
{
	fprintf(stderr,
"usage: xdpfence run --config FILE [--ticks N]\n"
"  Runs the behaviour engine in the foreground (systemd Type=notify): attaches\n"
"  the configured interfaces, loads and refreshes feeds, and every tick\n"
"  promotes prefixes whose traffic stays above a rule's rate for its window\n"
"  into timed bans or throttles, escalating repeat offenders; expired bans are\n"
"  removed. Every decision is one JSON line on the events output.\n"
"  SIGHUP reloads the config and feeds; SIGTERM exits, leaving the data path\n"
"  and pinned maps enforcing. See scripts/xdpfence.conf.example.\n"
"  --ticks N  exit after N ticks (tests)\n");
}

int do_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "ticks", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	struct policy_config pc;
	struct daemon d = { .lock_fd = -1, .ctl = { .fd = -1, .lock_fd = -1 } };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *path = NULL;
	char err[300];
	int c, ret = EXIT_RUNTIME;
	__u32 n;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			if (parse_u32(optarg, 1, 1U << 30, &n)) {
				pr_err("--ticks \"%s\": want a count", optarg);
				return EXIT_USAGE;
			}
			d.ticks_limit = n;
			break;
		case 'h':
			run_usage();
			return EXIT_OK;
		default:
			run_usage();
			return EXIT_USAGE;
		}
	}
	if (!path || optind != argc) {
		run_usage();
		return EXIT_USAGE;
	}
	if (config_load(path, &d.cfg, err, sizeof(err))) {
		pr_err("%s", err);
		return EXIT_USAGE;
	}
	keep_freed_memory();	/* feed refreshes reuse the last one's buffers */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	policy_config_from(&d.cfg, &pc);
	if (policy_config_check(&pc, err, sizeof(err))) {
		pr_err("%s: %s", path, err);
		return EXIT_USAGE;
	}
	if (open_events(&d))
		return EXIT_RUNTIME;
	for (unsigned i = 0; i < d.cfg.n_ifaces; i++) {
		struct fence_opts o = {};

		if (fence_attach(d.cfg.ifaces[i].name, d.cfg.ifaces[i].skb, &o))
			return EXIT_RUNTIME;
	}
	if (state_open(&d.s, false, true))
		return EXIT_RUNTIME;
	/* state_open held the pin dir's lock to create the maps; the daemon
	 * takes it only around its commits, so the CLI can work in between */
	if (d.s.lock_fd >= 0) {
		close(d.s.lock_fd);
		d.s.lock_fd = -1;
	}
	d.lock_fd = open(g_opts.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d.lock_fd < 0) {
		pr_err("%s: %s", g_opts.pin_dir, strerror(errno));
		goto out;
	}
	if (fence_read_meta(&d.s.m, &d.meta)) {
		d.meta.v4_agg_len = 24;
		d.meta.v6_agg_len = 64;
	}
	if ((c = counters_reader_new(&d.reader, &d.s.m, 0, 0))) {
		pr_err("counter reader: %s", strerror(-c));
		goto out;
	}
	if (policy_new(&d.p, &pc, fence_now_ns() ^ (__u64)getpid())) {
		pr_err("policy: out of memory");
		goto out;
	}
	if (d.cfg.state_file[0]) {
		FILE *f = fopen(d.cfg.state_file, "r");

		if (f) {
			if (policy_load(d.p, f, fence_now_ns()))
				pr_warn("state file %s unreadable: starting without offence history",
					d.cfg.state_file);
			fclose(f);
		}
	}
	d.snap.n_rules = d.cfg.n_rules;
	for (unsigned i = 0; i < d.cfg.n_rules && i < METRICS_MAX_RULES; i++)
		snprintf(d.snap.rule_names[i], sizeof(d.snap.rule_names[i]), "%s", d.cfg.rules[i].name);
	if (d.cfg.metrics[0]) {
		sigset_t block, old;

		/* its thread leaves our signals to us (they wake the wait) */
		wake_signals(&block);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		ret = metrics_start(&d.mt, d.cfg.metrics, &d.s.m);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (ret) {
			pr_err("metrics on %s: %s", d.cfg.metrics, strerror(-ret));
			ret = EXIT_RUNTIME;
			goto out;
		}
	}
	refresh_feeds(&d, true);
	/* after the first loads: a client is not kept waiting for them */
	c = control_listen(&d.ctl, g_opts.pin_dir);
	if (c == -EADDRINUSE)
		pr_warn("another process answers on the control socket of %s: this one does not "
			"serve the CLI", g_opts.pin_dir);
	else if (c)
		pr_warn("control socket in %s: %s: the CLI loads feeds itself", CONTROL_DIR,
			strerror(-c));

	{
		json_object *o = event_new("start", NULL);

		json_object_object_add(o, "config", json_object_new_string(d.cfg.path));
		json_object_object_add(o, "rules", json_object_new_int(d.cfg.n_rules));
		json_object_object_add(o, "interfaces", json_object_new_int(d.cfg.n_ifaces));
		event_write(&d, o);
	}
	sd_notify(0, "READY=1\nSTATUS=running");

	{
		struct timespec next;
		__u64 done = 0;

		clock_gettime(CLOCK_MONOTONIC, &next);
		while (!got_term) {
			next.tv_nsec += (d.cfg.tick_ms % 1000) * 1000000L;
			next.tv_sec += d.cfg.tick_ms / 1000 + next.tv_nsec / 1000000000L;
			next.tv_nsec %= 1000000000L;
			wait_until(&d, &next);
			{
				struct timespec now;

				/* late by half a tick or more (a long tick, a load,
				 * a stall): the next one counts from now, not back to
				 * back to catch up */
				clock_gettime(CLOCK_MONOTONIC, &now);
				if ((now.tv_sec - next.tv_sec) * 1000 +
				    (now.tv_nsec - next.tv_nsec) / 1000000 >= (long)d.cfg.tick_ms / 2)
					next = now;
			}
			if (got_term)
				break;
			if (got_hup) {
				got_hup = 0;
				sd_notify(0, "RELOADING=1");
				reload(&d);
				sd_notify(0, "READY=1");
			}
			tick(&d);
			refresh_feeds(&d, false);
			if (d.snap.events)
				state_save(&d);
			if (d.ticks_limit && ++done >= d.ticks_limit)
				break;
		}
	}
	sd_notify(0, "STOPPING=1");
	state_save(&d);
	{
		json_object *o = event_new("stop", NULL);

		json_object_object_add(o, "why", json_object_new_string(
			got_term ? "signal: the data path keeps enforcing" : "tick limit"));
		event_write(&d, o);
	}
	ret = EXIT_OK;
out:
	metrics_stop(d.mt);
	counters_reader_free(d.reader);
	free(d.ps);
	policy_free(d.p);
	free(d.allows);
	free(d.promoted);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	control_close(&d.ctl);
	pin_close(&d.s);
	if (d.events && d.events != stderr)
		fclose(d.events);
	return ret;
}
