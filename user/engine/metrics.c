// SPDX-License-Identifier: GPL-2.0
/* user/engine/metrics.c - see metrics.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <microhttpd.h>

#include "engine/config.h"
#include "engine/metrics.h"

/* Upper bounds of the tick histogram, seconds: a tick reads every source
 * prefix's counters, from a few hundred (milliseconds) to a million
 * (a third of a second on a 2-vCPU VM). */
static const double tick_bounds[METRICS_TICK_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct metrics_feed_cfg {
	char name[32];
	__u64 refresh_s;
};

struct metrics {
	struct MHD_Daemon *d;
	const struct fence_maps *m;
	pthread_mutex_t lock;
	struct metrics_snapshot snap;
	/* metrics_configure */
	__u64 tick_ms;
	struct metrics_feed_cfg feeds[METRICS_MAX_FEEDS];
	unsigned n_feeds;
	/* metrics_observe_samples: the ranking (main thread only), and its
	 * result as served (under lock) */
	struct metrics_top *top;
	struct metrics_top_entry top_served[METRICS_TOP];
	unsigned n_top_served;
};

/* ---- the rate ranking ------------------------------------------------------ */

/* A prefix's last sample: its hash (0 = empty slot) and the low 32 bits of
 * its counters (a tick's increase fits: 4 billion packets a tick). */
struct top_slot {
	__u64 tag;
	__u32 packets, new_conns;
};

struct metrics_top {
	struct top_slot *prev, *cur;	/* open addressing, load <= 1/2 */
	size_t prev_cap, cur_cap;	/* slots, powers of two */
	__u64 prev_ns;			/* when prev was sampled; 0 = never */
	struct metrics_top_entry top[METRICS_TOP];
	unsigned n_top;
};

static __u64 mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static __u64 prefix_tag(const struct cidr *c)
{
	__u64 a, b, h;

	memcpy(&a, c->addr, 8);
	memcpy(&b, c->addr + 8, 8);
	h = mix64(mix64(a ^ ((__u64)c->family << 8 | c->len)) ^ b);
	return h ? h : 1;
}

struct metrics_top *metrics_top_new(void)
{
	return calloc(1, sizeof(struct metrics_top));
}

void metrics_top_free(struct metrics_top *t)
{
	if (!t)
		return;
	free(t->prev);
	free(t->cur);
	free(t);
}

/* Increase of a counter whose last value had low 32 bits last; a counter
 * that went back (its LRU entry was recycled) counts from 0. */
static __u32 increase(__u64 now, __u32 last)
{
	__u32 d = (__u32)now - last;

	return d > 0x80000000u ? (__u32)now : d;
}

/* Into the ranking, busiest first, if it is among the METRICS_TOP busiest. */
static void top_insert(struct metrics_top *t, const struct metrics_top_entry *e)
{
	unsigned i;

	if (t->n_top == METRICS_TOP) {
		if (t->top[METRICS_TOP - 1].packets_per_s >= e->packets_per_s)
			return;
		i = METRICS_TOP - 1;
	} else {
		i = t->n_top++;
	}
	for (; i && t->top[i - 1].packets_per_s < e->packets_per_s; i--)
		t->top[i] = t->top[i - 1];
	t->top[i] = *e;
}

int metrics_top_update(struct metrics_top *t, const struct policy_sample *ps, size_t n,
		       __u64 sample_ns)
{
	size_t need = 64, pmask = t->prev_cap - 1, cmask;
	double dt = t->prev_ns && sample_ns > t->prev_ns ? (sample_ns - t->prev_ns) / 1e9 : 0;
	struct top_slot *sw;

	t->n_top = 0;
	while (need < 2 * n)
		need *= 2;
	if (t->cur_cap != need) {
		free(t->cur);
		t->cur = calloc(need, sizeof(*t->cur));
		t->cur_cap = t->cur ? need : 0;
		if (!t->cur) {
			t->prev_ns = 0;
			return -ENOMEM;
		}
	} else {
		memset(t->cur, 0, need * sizeof(*t->cur));
	}
	cmask = need - 1;
	for (size_t i = 0; i < n; i++) {
		__u64 tag = prefix_tag(&ps[i].prefix);
		size_t k;

		if (dt > 0 && t->prev) {
			for (k = tag & pmask; t->prev[k].tag && t->prev[k].tag != tag; k = (k + 1) & pmask)
				;
			if (t->prev[k].tag == tag) {
				struct metrics_top_entry e = { .prefix = ps[i].prefix };
				__u32 dp = increase(ps[i].packets, t->prev[k].packets);

				e.packets_per_s = dp / dt;
				e.new_conns_per_s = increase(ps[i].new_conns, t->prev[k].new_conns) / dt;
				if (dp)
					top_insert(t, &e);
			}
		}
		for (k = tag & cmask; t->cur[k].tag && t->cur[k].tag != tag; k = (k + 1) & cmask)
			;
		t->cur[k] = (struct top_slot){ tag, (__u32)ps[i].packets, (__u32)ps[i].new_conns };
	}
	sw = t->prev;
	t->prev = t->cur;
	t->cur = sw;
	need = t->prev_cap;
	t->prev_cap = t->cur_cap;
	t->cur_cap = need;
	t->prev_ns = sample_ns;
	return 0;
}

unsigned metrics_top_get(const struct metrics_top *t, struct metrics_top_entry *out)
{
	memcpy(out, t->top, t->n_top * sizeof(*out));
	return t->n_top;
}

void metrics_observe_samples(struct metrics *mt, const struct policy_sample *ps, size_t n,
			     __u64 sample_ns)
{
	if (!mt)
		return;
	if (!mt->top && !(mt->top = metrics_top_new()))
		return;
	metrics_top_update(mt->top, ps, n, sample_ns);
	pthread_mutex_lock(&mt->lock);
	mt->n_top_served = metrics_top_get(mt->top, mt->top_served);
	pthread_mutex_unlock(&mt->lock);
}

/* ---- what the daemon's loop records ---------------------------------------- */

void metrics_observe_tick(struct metrics_snapshot *s, double seconds)
{
	for (int i = 0; i < METRICS_TICK_BUCKETS; i++)
		if (seconds <= tick_bounds[i])
			s->tick_buckets[i]++;
	s->tick_seconds_sum += seconds;
	s->tick_seconds = seconds;
	if (seconds > s->tick_seconds_max)
		s->tick_seconds_max = seconds;
	s->ticks++;
}

void metrics_count_entry(struct metrics_snapshot *s, bool deny, const struct fence_rule_info *in)
{
	static const __u8 bit[METRICS_OWNERS] = { FENCE_OWN_MANUAL, FENCE_OWN_PROMOTED,
						  FENCE_OWN_FEED, FENCE_OWN_FLEET };
	/* a fleet entry's term is the engine's (maps/keys.h) */
	__u8 act[METRICS_OWNERS] = { in->manual_action, in->promoted_action, in->feed_action,
				     in->promoted_action };

	for (int o = 0; o < METRICS_OWNERS; o++) {
		if (!(in->owners & bit[o]))
			continue;
		if (!deny || act[o] >= FENCE_ACT_MAX)
			act[o] = FENCE_ACT_DROP;
		s->entries[deny][o][act[o]]++;
	}
}

void metrics_configure(struct metrics *mt, const struct config *cfg)
{
	if (!mt)
		return;
	pthread_mutex_lock(&mt->lock);
	mt->tick_ms = cfg->tick_ms;
	mt->n_feeds = 0;
	for (unsigned i = 0; i < cfg->n_feeds && mt->n_feeds < METRICS_MAX_FEEDS; i++) {
		struct metrics_feed_cfg *f = &mt->feeds[mt->n_feeds++];

		snprintf(f->name, sizeof(f->name), "%s", cfg->feeds[i].name);
		f->refresh_s = cfg->feeds[i].refresh_s;
	}
	pthread_mutex_unlock(&mt->lock);
}

/* ---- the page ---------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->p && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		char *p = realloc(b->p, (b->cap = (b->cap ? b->cap : 4096) * 2 + n));

		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
	}
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static const char *esc(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = 0;
	return out;
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_packets(struct buf *b, const struct fence_maps *m)
{
	struct fence_stat_val v[FENCE_STAT_MAX];

	if (fence_read_stats(m, v))
		return;
	family(b, "xdpfence_packets_total", "counter",
	       "Packets seen by the XDP program, by the one reason each was counted under.");
	for (int i = 0; i < FENCE_STAT_MAX; i++)
		put(b, "xdpfence_packets_total{reason=\"%s\"} %llu\n", fence_stat_name(i),
		    (unsigned long long)v[i].packets);
	family(b, "xdpfence_bytes_total", "counter", "Bytes seen by the XDP program, by reason.");
	for (int i = 0; i < FENCE_STAT_MAX; i++)
		put(b, "xdpfence_bytes_total{reason=\"%s\"} %llu\n", fence_stat_name(i),
		    (unsigned long long)v[i].bytes);
}

static void render_entries(struct buf *b, const struct metrics_snapshot *s)
{
	static const char *const owners[METRICS_OWNERS] = { "manual", "promoted", "feed", "fleet" };
	static const char *const actions[FENCE_ACT_MAX] = { "drop", "throttle", "monitor" };

	family(b, "xdpfence_entries", "gauge",
	       "Allow and deny entries by owner and action (an entry with several owners counts "
	       "once for each).");
	for (int o = 0; o < METRICS_OWNERS; o++)
		put(b, "xdpfence_entries{kind=\"allow\",owner=\"%s\",action=\"pass\"} %llu\n",
		    owners[o], (unsigned long long)s->entries[0][o][FENCE_ACT_DROP]);
	for (int o = 0; o < METRICS_OWNERS; o++)
		for (int a = 0; a < FENCE_ACT_MAX; a++)
			put(b, "xdpfence_entries{kind=\"deny\",owner=\"%s\",action=\"%s\"} %llu\n",
			    owners[o], actions[a], (unsigned long long)s->entries[1][o][a]);
}

static void render_ticks(struct buf *b, const struct metrics_snapshot *s, __u64 tick_ms)
{
	family(b, "xdpfence_tick_duration_seconds", "histogram",
	       "Duration of engine ticks: reading every source prefix's counters, deciding, "
	       "committing.");
	for (int i = 0; i < METRICS_TICK_BUCKETS; i++)
		put(b, "xdpfence_tick_duration_seconds_bucket{le=\"%g\"} %llu\n", tick_bounds[i],
		    (unsigned long long)s->tick_buckets[i]);
	put(b, "xdpfence_tick_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	       "xdpfence_tick_duration_seconds_sum %.6f\n"
	       "xdpfence_tick_duration_seconds_count %llu\n",
	    (unsigned long long)s->ticks, s->tick_seconds_sum, (unsigned long long)s->ticks);
	family(b, "xdpfence_tick_interval_seconds", "gauge",
	       "The configured tick ([daemon] tick): a tick taking this long runs late.");
	put(b, "xdpfence_tick_interval_seconds %g\n", tick_ms / 1000.0);
	family(b, "xdpfence_ticks_total", "counter", "Engine ticks completed since start.");
	put(b, "xdpfence_ticks_total %llu\n", (unsigned long long)s->ticks);
	family(b, "xdpfence_ticks_degraded_total", "counter",
	       "Ticks that could read no counters and only expired bans.");
	put(b, "xdpfence_ticks_degraded_total %llu\n", (unsigned long long)s->ticks_degraded);
	family(b, "xdpfence_prefix_read_fallbacks_total", "counter",
	       "Counter reads done by batch lookups because the kernel walk was cut short (the "
	       "maps changed under it) or could not run.");
	put(b, "xdpfence_prefix_read_fallbacks_total %llu\n", (unsigned long long)s->read_fallbacks);
}

static void render_decisions(struct buf *b, const struct metrics_snapshot *s)
{
	char name[2 * sizeof(s->rule_names[0])];

	family(b, "xdpfence_promotions_total", "counter",
	       "Prefixes promoted, extended or aggregated by each behaviour rule.");
	for (unsigned r = 0; r < s->n_rules && r < METRICS_MAX_RULES; r++)
		put(b, "xdpfence_promotions_total{rule=\"%s\"} %llu\n",
		    esc(s->rule_names[r], name, sizeof(name)), (unsigned long long)s->promotions[r]);
	family(b, "xdpfence_events_total", "counter", "Decisions and notices logged since start.");
	put(b, "xdpfence_events_total %llu\n", (unsigned long long)s->events);
	family(b, "xdpfence_signals_received_total", "counter",
	       "Reports of abuse from the API tier taken in, by how they came.");
	for (int i = 0; i < 3; i++)
		put(b, "xdpfence_signals_received_total{source=\"%s\"} %llu\n",
		    (const char *[]){ "http", "socket", "cli" }[i],
		    (unsigned long long)s->signals_received[i]);
	family(b, "xdpfence_signals_refused_total", "counter",
	       "Requests of the API tier's intake refused (nothing of them recorded), by why.");
	for (int i = 0; i < 5; i++)
		put(b, "xdpfence_signals_refused_total{reason=\"%s\"} %llu\n",
		    (const char *[]){ "bad_request", "unauthorized", "too_large", "rate_limited",
				      "busy" }[i],
		    (unsigned long long)s->signals_refused[i]);
}

/* Feeds: every record of the `feeds` map (loaded by the daemon or by the
 * CLI), and every configured feed, loaded or not (a feed that never
 * loaded shows a last success of 0, which a staleness alert catches). */
static void render_feeds(struct buf *b, const struct metrics *mt)
{
	struct { char name[32]; __u64 loaded; __u32 entries; } f[FENCE_FEEDS_MAX + METRICS_MAX_FEEDS];
	unsigned n = 0;
	char name[64];

	for (__u32 id = 0; id < FENCE_FEEDS_MAX; id++) {
		struct fence_feed rec;

		if (bpf_map_lookup_elem(mt->m->fd[FM_FEEDS], &id, &rec) || !rec.name[0])
			continue;
		snprintf(f[n].name, sizeof(f[n].name), "%.*s", (int)sizeof(rec.name), rec.name);
		f[n].loaded = rec.loaded_unix;
		f[n++].entries = rec.entries;
	}
	for (unsigned i = 0; i < mt->n_feeds; i++) {
		unsigned k = 0;

		while (k < n && strcmp(f[k].name, mt->feeds[i].name))
			k++;
		if (k == n) {
			snprintf(f[n].name, sizeof(f[n].name), "%s", mt->feeds[i].name);
			f[n].loaded = 0;
			f[n++].entries = 0;
		}
	}
	family(b, "xdpfence_feed_last_success_timestamp_seconds", "gauge",
	       "When each feed last loaded (Unix time; 0: never).");
	for (unsigned i = 0; i < n; i++)
		put(b, "xdpfence_feed_last_success_timestamp_seconds{feed=\"%s\"} %llu\n",
		    esc(f[i].name, name, sizeof(name)), (unsigned long long)f[i].loaded);
	family(b, "xdpfence_feed_entries", "gauge", "Prefixes each feed holds after its last load.");
	for (unsigned i = 0; i < n; i++)
		put(b, "xdpfence_feed_entries{feed=\"%s\"} %u\n", esc(f[i].name, name, sizeof(name)),
		    f[i].entries);
	family(b, "xdpfence_feed_refresh_interval_seconds", "gauge",
	       "The configured refresh of each feed the daemon reloads ([feed] refresh).");
	for (unsigned i = 0; i < mt->n_feeds; i++)
		if (mt->feeds[i].refresh_s)
			put(b, "xdpfence_feed_refresh_interval_seconds{feed=\"%s\"} %llu\n",
			    esc(mt->feeds[i].name, name, sizeof(name)),
			    (unsigned long long)mt->feeds[i].refresh_s);
}

/* The busiest source prefixes of the last tick: METRICS_TOP series at
 * most, whatever the traffic (bounded cardinality). */
static void render_top(struct buf *b, const struct metrics_top_entry *top, unsigned n)
{
	char pfx[CIDR_STR_MAX];

	family(b, "xdpfence_top_source_packets_per_second", "gauge",
	       "Packet rate of the busiest source prefixes over the last tick (dropped packets "
	       "included).");
	for (unsigned i = 0; i < n; i++)
		put(b, "xdpfence_top_source_packets_per_second{prefix=\"%s\"} %.3f\n",
		    cidr_str(&top[i].prefix, pfx, sizeof(pfx)), top[i].packets_per_s);
	family(b, "xdpfence_top_source_new_connections_per_second", "gauge",
	       "New connection rate (TCP SYN, QUIC Initial) of the same prefixes.");
	for (unsigned i = 0; i < n; i++)
		put(b, "xdpfence_top_source_new_connections_per_second{prefix=\"%s\"} %.3f\n",
		    cidr_str(&top[i].prefix, pfx, sizeof(pfx)), top[i].new_conns_per_s);
}

/* [fleet]: the connection, the last full read of the bucket, the lag and
 * the entries, as `xdpfence status` shows them; nothing without [fleet]. */
static void render_fleet(struct buf *b, const struct metrics_snapshot *s)
{
	char srv[2 * sizeof(s->fleet_server)];

	if (!s->fleet_on)
		return;
	family(b, "xdpfence_fleet_connected", "gauge", "1 while connected to a NATS server of the fleet.");
	put(b, "xdpfence_fleet_connected{server=\"%s\"} %d\n",
	    esc(s->fleet_server, srv, sizeof(srv)), s->fleet_connected);
	family(b, "xdpfence_fleet_synced", "gauge",
	       "1 once the bucket was read whole since the last (re)connect.");
	put(b, "xdpfence_fleet_synced %d\n", s->fleet_synced);
	family(b, "xdpfence_fleet_last_sync_timestamp_seconds", "gauge",
	       "When the bucket was last read whole (Unix time).");
	put(b, "xdpfence_fleet_last_sync_timestamp_seconds %.3f\n", s->fleet_last_sync_unix);
	family(b, "xdpfence_fleet_lag_seconds", "gauge",
	       "The largest lag, another gateway's decision to its entry here, of the changes "
	       "applied in the last minute (0: none).");
	put(b, "xdpfence_fleet_lag_seconds %.3f\n", s->fleet_lag_seconds);
	family(b, "xdpfence_fleet_entries", "gauge", "Deny entries the fleet owns here (enforced).");
	put(b, "xdpfence_fleet_entries %llu\n", (unsigned long long)s->fleet_entries);
	family(b, "xdpfence_fleet_keys", "gauge", "Keys holding a value in the bucket, as last seen.");
	put(b, "xdpfence_fleet_keys %llu\n", (unsigned long long)s->fleet_keys);
	family(b, "xdpfence_fleet_published_total", "counter",
	       "Writes of this gateway's decisions to the bucket.");
	put(b, "xdpfence_fleet_published_total %llu\n", (unsigned long long)s->fleet_published);
	family(b, "xdpfence_fleet_conflicts_total", "counter",
	       "Writes refused because another gateway wrote first (merged and retried).");
	put(b, "xdpfence_fleet_conflicts_total %llu\n", (unsigned long long)s->fleet_conflicts);
	family(b, "xdpfence_fleet_received_total", "counter", "Changes read from the bucket.");
	put(b, "xdpfence_fleet_received_total %llu\n", (unsigned long long)s->fleet_received);
	family(b, "xdpfence_fleet_pending", "gauge",
	       "Decisions waiting to be published (NATS away, or in flight).");
	put(b, "xdpfence_fleet_pending %llu\n", (unsigned long long)s->fleet_pending);
	family(b, "xdpfence_fleet_reconnects_total", "counter", "Reconnections to the fleet's servers.");
	put(b, "xdpfence_fleet_reconnects_total %llu\n", (unsigned long long)s->fleet_reconnects);
	family(b, "xdpfence_fleet_signals_total", "counter",
	       "Reports of the API tier shared with the other gateways (sent) and taken from them "
	       "(received).");
	put(b, "xdpfence_fleet_signals_total{direction=\"sent\"} %llu\n"
	       "xdpfence_fleet_signals_total{direction=\"received\"} %llu\n",
	    (unsigned long long)s->fleet_signals_sent, (unsigned long long)s->fleet_signals_received);
}

char *metrics_render(struct metrics *mt)
{
	struct metrics_top_entry top[METRICS_TOP];
	struct metrics_snapshot s;
	struct buf b = {};
	__u64 tick_ms;
	unsigned n_top;

	pthread_mutex_lock(&mt->lock);
	s = mt->snap;
	tick_ms = mt->tick_ms;
	n_top = mt->n_top_served;
	memcpy(top, mt->top_served, sizeof(top));
	render_packets(&b, mt->m);
	render_entries(&b, &s);
	render_decisions(&b, &s);
	render_ticks(&b, &s, tick_ms);
	render_feeds(&b, mt);
	pthread_mutex_unlock(&mt->lock);
	render_top(&b, top, n_top);
	render_fleet(&b, &s);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- HTTP ------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	struct metrics *mt = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *page;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		static const char nf[] = "try /metrics\n";

		r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
		MHD_destroy_response(r);
		return ret;
	}
	page = metrics_render(mt);
	if (!page)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int metrics_start(struct metrics **mp, const char *listen, const struct fence_maps *m)
{
	struct sockaddr_storage ss = {};
	struct metrics *mt;
	char host[64];
	const char *colon = strrchr(listen, ':');
	unsigned port;
	size_t hl;

	if (!colon || sscanf(colon + 1, "%u", &port) != 1 || !port || port > 65535)
		return -EINVAL;
	hl = colon - listen;
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (void *)&ss;

		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
	}
	mt = calloc(1, sizeof(*mt));
	if (!mt)
		return -ENOMEM;
	mt->m = m;
	pthread_mutex_init(&mt->lock, NULL);
	mt->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				 port, NULL, NULL, on_request, mt, MHD_OPTION_SOCK_ADDR, &ss,
				 MHD_OPTION_CONNECTION_LIMIT, 16, MHD_OPTION_CONNECTION_TIMEOUT, 10,
				 MHD_OPTION_END);
	if (!mt->d) {
		pthread_mutex_destroy(&mt->lock);
		free(mt);
		return -EADDRINUSE;
	}
	*mp = mt;
	return 0;
}

void metrics_publish(struct metrics *mt, const struct metrics_snapshot *s)
{
	if (!mt)
		return;
	pthread_mutex_lock(&mt->lock);
	mt->snap = *s;
	pthread_mutex_unlock(&mt->lock);
}

void metrics_stop(struct metrics *mt)
{
	if (!mt)
		return;
	MHD_stop_daemon(mt->d);
	pthread_mutex_destroy(&mt->lock);
	metrics_top_free(mt->top);
	free(mt);
}
