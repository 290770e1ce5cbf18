// SPDX-License-Identifier: GPL-2.0
/* user/engine/metrics.c - see metrics.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "engine/metrics.h"

struct metrics {
	struct MHD_Daemon *d;
	const struct fence_maps *m;
	pthread_mutex_t lock;
	struct metrics_snapshot snap;
};

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		b->cap = (b->cap ? b->cap : 4096) * 2 + n;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			return;
	}
}

/* [fleet]: the connection, the last full read of the bucket, the lag and
 * the entries, as `xdpfence status` shows them. */
static void render_fleet(struct buf *b, const struct metrics_snapshot *s)
{
	put(b, "# HELP xdpfence_fleet_connected 1 while connected to a NATS server of the fleet.\n"
	       "# TYPE xdpfence_fleet_connected gauge\n"
	       "xdpfence_fleet_connected{server=\"%s\"} %d\n"
	       "# HELP xdpfence_fleet_synced 1 once the bucket was read whole since the last (re)connect.\n"
	       "# TYPE xdpfence_fleet_synced gauge\n"
	       "xdpfence_fleet_synced %d\n"
	       "# HELP xdpfence_fleet_last_sync_timestamp_seconds When the bucket was last read whole (Unix time).\n"
	       "# TYPE xdpfence_fleet_last_sync_timestamp_seconds gauge\n"
	       "xdpfence_fleet_last_sync_timestamp_seconds %.3f\n"
	       "# HELP xdpfence_fleet_lag_seconds From another gateway's decision to its entry here, for the last change.\n"
	       "# TYPE xdpfence_fleet_lag_seconds gauge\n"
	       "xdpfence_fleet_lag_seconds %.3f\n"
	       "# HELP xdpfence_fleet_entries Deny entries the fleet owns here (enforced).\n"
	       "# TYPE xdpfence_fleet_entries gauge\n"
	       "xdpfence_fleet_entries %llu\n"
	       "# HELP xdpfence_fleet_keys Keys holding a value in the bucket, as last seen.\n"
	       "# TYPE xdpfence_fleet_keys gauge\n"
	       "xdpfence_fleet_keys %llu\n"
	       "# HELP xdpfence_fleet_published_total Writes of this gateway's decisions to the bucket.\n"
	       "# TYPE xdpfence_fleet_published_total counter\n"
	       "xdpfence_fleet_published_total %llu\n"
	       "# HELP xdpfence_fleet_conflicts_total Writes refused because another gateway wrote first (merged and retried).\n"
	       "# TYPE xdpfence_fleet_conflicts_total counter\n"
	       "xdpfence_fleet_conflicts_total %llu\n"
	       "# HELP xdpfence_fleet_received_total Changes read from the bucket.\n"
	       "# TYPE xdpfence_fleet_received_total counter\n"
	       "xdpfence_fleet_received_total %llu\n"
	       "# HELP xdpfence_fleet_pending Decisions waiting to be published (NATS away, or in flight).\n"
	       "# TYPE xdpfence_fleet_pending gauge\n"
	       "xdpfence_fleet_pending %llu\n"
	       "# HELP xdpfence_fleet_reconnects_total Reconnections to the fleet's servers.\n"
	       "# TYPE xdpfence_fleet_reconnects_total counter\n"
	       "xdpfence_fleet_reconnects_total %llu\n",
	    s->fleet_server, s->fleet_connected, s->fleet_synced, s->fleet_last_sync_unix,
	    s->fleet_lag_seconds, (unsigned long long)s->fleet_entries,
	    (unsigned long long)s->fleet_keys, (unsigned long long)s->fleet_published,
	    (unsigned long long)s->fleet_conflicts, (unsigned long long)s->fleet_received,
	    (unsigned long long)s->fleet_pending, (unsigned long long)s->fleet_reconnects);
}

char *metrics_render(struct metrics *mt)
{
	static const char *const owners[3] = { "manual", "promoted", "feed" };
	struct fence_stat_val v[FENCE_STAT_MAX];
	struct metrics_snapshot s;
	struct buf b = {};

	pthread_mutex_lock(&mt->lock);
	s = mt->snap;
	pthread_mutex_unlock(&mt->lock);

	if (!fence_read_stats(mt->m, v)) {
		put(&b, "# HELP xdpfence_packets_total Packets seen by the XDP program, by the reason they were counted under.\n"
			"# TYPE xdpfence_packets_total counter\n");
		for (int i = 0; i < FENCE_STAT_MAX; i++)
			put(&b, "xdpfence_packets_total{reason=\"%s\"} %llu\n", fence_stat_name(i),
			    (unsigned long long)v[i].packets);
		put(&b, "# HELP xdpfence_bytes_total Bytes seen by the XDP program, by reason.\n"
			"# TYPE xdpfence_bytes_total counter\n");
		for (int i = 0; i < FENCE_STAT_MAX; i++)
			put(&b, "xdpfence_bytes_total{reason=\"%s\"} %llu\n", fence_stat_name(i),
			    (unsigned long long)v[i].bytes);
	}
	put(&b, "# HELP xdpfence_entries Allow and deny entries by owner (an entry with several owners counts for each).\n"
		"# TYPE xdpfence_entries gauge\n");
	for (int k = 0; k < 2; k++)
		for (int o = 0; o < 3; o++)
			put(&b, "xdpfence_entries{kind=\"%s\",owner=\"%s\"} %llu\n", k ? "deny" : "allow",
			    owners[o], (unsigned long long)s.entries[k][o]);
	put(&b, "# HELP xdpfence_promotions_total Prefixes promoted (or extended) by each behaviour rule.\n"
		"# TYPE xdpfence_promotions_total counter\n");
	for (unsigned r = 0; r < s.n_rules; r++)
		put(&b, "xdpfence_promotions_total{rule=\"%s\"} %llu\n", s.rule_names[r],
		    (unsigned long long)s.promotions[r]);
	put(&b, "# HELP xdpfence_tick_seconds Duration of the last engine tick.\n"
		"# TYPE xdpfence_tick_seconds gauge\n"
		"xdpfence_tick_seconds %.6f\n"
		"# HELP xdpfence_tick_seconds_max Longest engine tick since start.\n"
		"# TYPE xdpfence_tick_seconds_max gauge\n"
		"xdpfence_tick_seconds_max %.6f\n"
		"# HELP xdpfence_ticks_total Engine ticks since start.\n"
		"# TYPE xdpfence_ticks_total counter\n"
		"xdpfence_ticks_total %llu\n"
		"# HELP xdpfence_ticks_degraded_total Ticks that could read no counters and only expired bans.\n"
		"# TYPE xdpfence_ticks_degraded_total counter\n"
		"xdpfence_ticks_degraded_total %llu\n"
		"# HELP xdpfence_counter_read_fallbacks_total Counter reads done by batch lookups because the kernel walk was cut short (the maps changed under it) or could not run.\n"
		"# TYPE xdpfence_counter_read_fallbacks_total counter\n"
		"xdpfence_counter_read_fallbacks_total %llu\n"
		"# HELP xdpfence_events_total Decisions logged since start.\n"
		"# TYPE xdpfence_events_total counter\n"
		"xdpfence_events_total %llu\n",
		s.tick_seconds, s.tick_seconds_max, (unsigned long long)s.ticks,
		(unsigned long long)s.ticks_degraded, (unsigned long long)s.read_fallbacks,
		(unsigned long long)s.events);
	if (s.fleet_on)
		render_fleet(&b, &s);
	return b.p;
}

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
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
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
	free(mt);
}
