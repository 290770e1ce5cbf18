/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/metrics.h - the Prometheus text endpoint of `xdpfence run` (libmicrohttpd).
 *
 * The daemon's loop fills a snapshot during each tick and publishes it; the
 * HTTP thread only reads published snapshots (under a mutex), the
 * per-reason counters of the `stats` map and the feed records of the
 * `feeds` map, so a scrape never waits for a tick. Names follow
 * Prometheus conventions (counters end in _total, units in the name, a
 * HELP and TYPE line for every family); the list, and what each is for,
 * is in man/xdpfence.8.scd (METRICS). Must not decide anything or write
 * to the maps.
 */
#ifndef XDPFENCE_METRICS_H
#define XDPFENCE_METRICS_H

#include <stdbool.h>

#include "core/fence.h"
#include "policy/policy.h"

#define METRICS_MAX_RULES	16
#define METRICS_MAX_FEEDS	32	/* configured feeds with a refresh interval */
#define METRICS_TOP		10	/* source prefixes in the top-prefix gauges */
#define METRICS_TICK_BUCKETS	13	/* upper bounds in metrics.c, +Inf aside */

/* Entry owners and actions, as the entries gauge labels them. */
enum { METRICS_OWN_MANUAL, METRICS_OWN_PROMOTED, METRICS_OWN_FEED, METRICS_OWN_FLEET, METRICS_OWNERS };

struct metrics_snapshot {
	/* [allow=0/deny=1][owner][action]: an entry with several owners counts
	 * once for each, under that owner's action; allow entries under drop's
	 * index (they have no action, and are labelled action="pass") */
	__u64 entries[2][METRICS_OWNERS][FENCE_ACT_MAX];
	__u64 promotions[METRICS_MAX_RULES];	/* promote, extend, aggregate */
	char rule_names[METRICS_MAX_RULES][32];
	unsigned n_rules;
	double tick_seconds;		/* last tick */
	double tick_seconds_max;
	__u64 tick_buckets[METRICS_TICK_BUCKETS];	/* ticks that took <= bound */
	double tick_seconds_sum;
	__u64 ticks;
	__u64 ticks_degraded;		/* no counters read: expiries only */
	__u64 read_fallbacks;		/* counters read by batch lookups, the walk cut short */
	__u64 events;

	/* Hooks for what other parts of the engine will feed; exported now,
	 * so dashboards and alerts can be written against them. */

	/* reports of the API tier taken in, by source (http, socket, cli),
	 * and requests refused, by why (engine/signals.h) */
	__u64 signals_received[3];
	__u64 signals_refused[5];
	/* [fleet] (engine/fleet.h), rendered when fleet_on */
	bool fleet_on, fleet_connected, fleet_synced;
	double fleet_last_sync_unix;	/* wall clock of the last full read of the bucket */
	double fleet_lag_seconds;	/* a change's origin decision to its entry here */
	__u64 fleet_entries;		/* deny entries the fleet owns here */
	__u64 fleet_keys, fleet_published, fleet_conflicts, fleet_received, fleet_pending;
	__u64 fleet_reconnects;
	__u64 fleet_signals_sent, fleet_signals_received;	/* the API tier's reports */
	char fleet_server[128];
};

struct metrics;
struct config;

/* listen is "ADDRESS:PORT" (IPv4 or [IPv6]:PORT). */
int metrics_start(struct metrics **mp, const char *listen, const struct fence_maps *m);
void metrics_publish(struct metrics *mt, const struct metrics_snapshot *s);
void metrics_stop(struct metrics *mt);

/* What the config says that the metrics show: the tick interval and each
 * feed's refresh interval (for staleness alerts). At start and reload. */
void metrics_configure(struct metrics *mt, const struct config *cfg);

/* One tick took seconds: the histogram, the last and longest tick, the
 * tick count. */
void metrics_observe_tick(struct metrics_snapshot *s, double seconds);

/* One deny (deny true) or allow entry into s->entries. */
void metrics_count_entry(struct metrics_snapshot *s, bool deny, const struct fence_rule_info *in);

/* This tick's per-prefix samples (cumulative counters, as the policy gets
 * them) taken at sample_ns: ranks the prefixes by packet rate since the
 * last call and keeps the top METRICS_TOP for the top-prefix gauges.
 * Nothing when mt is NULL (metrics off). */
void metrics_observe_samples(struct metrics *mt, const struct policy_sample *ps, size_t n,
			     __u64 sample_ns);

/* The page, as served (exposed for tests). Caller frees. */
char *metrics_render(struct metrics *mt);

/* The rate ranking alone (exposed for tests): keeps the last samples of
 * every prefix in a table sized to the number of prefixes, so a tick costs
 * a hash lookup per prefix. */
struct metrics_top_entry {
	struct cidr prefix;
	double packets_per_s, new_conns_per_s, bytes_per_s;
};
struct metrics_top;
struct metrics_top *metrics_top_new(void);
void metrics_top_free(struct metrics_top *t);
/* -ENOMEM (the ranking of this tick is empty) or 0. */
int metrics_top_update(struct metrics_top *t, const struct policy_sample *ps, size_t n,
		       __u64 sample_ns);
/* The ranking of the last update, busiest first; its length. */
unsigned metrics_top_get(const struct metrics_top *t, struct metrics_top_entry *out);

#endif
