/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/metrics.h - the Prometheus text endpoint of `xdpfence run` (libmicrohttpd).
 *
 * The daemon's loop publishes a snapshot after each tick; the HTTP thread
 * only reads snapshots (under a mutex) and the per-reason counters from
 * the `stats` map, so a scrape never waits for a tick. */
#ifndef XDPFENCE_METRICS_H
#define XDPFENCE_METRICS_H

#include "core/fence.h"

#define METRICS_MAX_RULES 16

struct metrics_snapshot {
	__u64 entries[2][3];		/* [allow=0/deny=1][manual, promoted, feed] */
	__u64 promotions[METRICS_MAX_RULES];
	char rule_names[METRICS_MAX_RULES][32];
	unsigned n_rules;
	double tick_seconds;		/* last tick */
	double tick_seconds_max;
	__u64 ticks;
	__u64 ticks_degraded;		/* no counters read: expiries only */
	__u64 read_fallbacks;		/* counters read by batch lookups, the walk cut short */
	__u64 events;
	/* [fleet] (engine/fleet.h), rendered when fleet_on */
	bool fleet_on, fleet_connected, fleet_synced;
	double fleet_last_sync_unix;	/* wall clock of the last full read of the bucket */
	double fleet_lag_seconds;	/* a change's origin decision to its entry here */
	__u64 fleet_entries;		/* deny entries the fleet owns here */
	__u64 fleet_keys, fleet_published, fleet_conflicts, fleet_received, fleet_pending;
	__u64 fleet_reconnects;
	char fleet_server[128];
};

struct metrics;

/* listen is "ADDRESS:PORT" (IPv4 or [IPv6]:PORT). */
int metrics_start(struct metrics **mp, const char *listen, const struct fence_maps *m);
void metrics_publish(struct metrics *mt, const struct metrics_snapshot *s);
void metrics_stop(struct metrics *mt);

/* The page, as served (exposed for tests). Caller frees. */
char *metrics_render(struct metrics *mt);

#endif
