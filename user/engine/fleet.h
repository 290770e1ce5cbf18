/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/fleet.h - a fleet of gateways sharing bans, promotions and
 * offender counts over NATS JetStream (nats.c, Debian's libnats).
 *
 * The fleet's state is a replicated Key-Value bucket, never a store of our
 * own: one key per prefix ("v4.198.18.2.0/24", "v6.<32 hex digits>/48": no
 * ':' in keys), its value the ban (action, rate, absolute wall-clock expiry,
 * offences, origin node, rule, reason). Server 2.9 ages keys out only
 * bucket-wide and silently, so the bucket has no TTL: every gateway expires
 * entries itself by the expiry in the value, and a key is deleted (by a
 * compare-and-swap on its revision) only once its offences are forgotten.
 * Writes are compare-and-swap on the key's revision and merge with what the
 * bucket holds: the stronger action, the later expiry, the most offences
 * (fleet_merge); a write that would change nothing is not made, so no two
 * gateways echo each other.
 *
 * Two parts:
 *  - fleet.c, the client: its own threads (a watcher that owns the
 *    connection and a publisher), so `xdpfence run`'s tick never waits on
 *    the network. The watcher reads the whole bucket at every (re)connect
 *    and hands each change to the daemon, then a "synced" mark: what the
 *    daemon enforces from the fleet and the snapshot did not list was
 *    deleted meanwhile. Local decisions queue until the bucket is read, and
 *    go out (merged) once connected: a gateway cut off keeps deciding and
 *    publishes when back. Per-tick counts go over a core NATS subject (not
 *    persisted) for rules of scope fleet.
 *  - fleet_apply.c, the daemon's side (main thread only): applies changes
 *    to the entries under owner FENCE_OWN_FLEET, expires them, teaches the
 *    policy other gateways' offenders, publishes the shared decisions,
 *    adds the other gateways' counts to the samples, writes the status
 *    file `xdpfence status` reads.
 */
#ifndef XDPFENCE_FLEET_H
#define XDPFENCE_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "lib/cidr.h"
#include "engine/config.h"

#define FLEET_KEY_MAX	64
#define FLEET_VALUE_MAX	256

/* A ban as the bucket holds it. Times are wall clock (Unix ms): the
 * gateways share no monotonic clock. */
struct fleet_value {
	__u8 action;			/* enum fence_action */
	__u8 manual;			/* an operator's ban (1) or a promotion (0) */
	__u32 rate, burst;		/* throttle */
	__u32 offences;
	__u64 expires_ms;		/* 0 = never */
	__u64 decay_ms;			/* offences forgotten then (0: with the ban) */
	__u64 decided_ms;		/* when the origin decided it (lag) */
	__u64 ttl_s;			/* the TTL of its last offence */
	char origin[32];		/* node */
	char rule[32];			/* "" = none */
	char reason[48];
};

/* --- codec and merge (pure) --------------------------------------------- */

/* The key of c; -EINVAL if c is not a canonical prefix. */
int fleet_key(const struct cidr *c, char *key, size_t len);
int fleet_key_parse(const char *key, struct cidr *c);
/* One line of text ("xf1 drop 0 0 2 ..."); the length, or -ENOSPC. */
int fleet_value_encode(const struct fleet_value *v, char *buf, size_t len);
int fleet_value_decode(const char *buf, size_t len, struct fleet_value *v);
/* cur (what the bucket holds) with mine merged in: the stronger action
 * (with its rate), the later expiry (0 = never beats any), the most
 * offences, the later decay, the longer TTL. Where mine changes any of
 * these, origin, rule, reason and decided_ms are mine. Returns whether
 * out differs from cur. */
bool fleet_merge(const struct fleet_value *cur, const struct fleet_value *mine,
		 struct fleet_value *out);
/* Is v's ban over at now_ms? Is v forgotten (ban over, offences decayed)? */
bool fleet_value_ended(const struct fleet_value *v, __u64 now_ms);
bool fleet_value_forgotten(const struct fleet_value *v, __u64 now_ms);

/* A prefix-keyed hash to an index (open addressing, no deletes). */
struct fleet_map {
	struct fleet_map_slot {
		struct cidr c;
		__u32 idx;		/* 0 = empty; else the entry's index + 1 */
	} *s;
	size_t cap, n;
};

/* The index + 1 stored for c, or 0. */
__u32 fleet_map_get(const struct fleet_map *m, const struct cidr *c);
/* Store (or replace) c's index + 1; 0 or -ENOMEM. */
int fleet_map_put(struct fleet_map *m, const struct cidr *c, __u32 idx);
void fleet_map_free(struct fleet_map *m);

/* --- the client (fleet.c) ----------------------------------------------- */

enum fleet_op {
	FLEET_PUT,			/* the key holds v now (rev) */
	FLEET_DEL,			/* the key was deleted (rev) */
	FLEET_SYNCED,			/* the snapshot of generation gen is complete */
};

struct fleet_change {
	enum fleet_op op;
	__u32 gen;			/* snapshot generation the change belongs to */
	__u64 rev;
	__u64 recv_ms;			/* wall clock it was received */
	struct cidr c;
	struct fleet_value v;		/* FLEET_PUT */
};

/* One prefix's rates at one gateway over its last tick. */
struct fleet_count {
	struct cidr c;
	float new_conns, packets, bytes;	/* per second */
};

/* A report of an API tier, shared between the gateways (a rule of scope
 * fleet counts the reports of every gateway's API tier). */
#define FLEET_KIND_MAX	32
struct fleet_signal {
	struct cidr c;			/* the counted prefix of the reported address */
	__u64 account;			/* its hash (every gateway hashes alike); 0 = none */
	__u32 weight;
	char kind[FLEET_KIND_MAX + 1];	/* "" = none */
	char origin[32];		/* the gateway that took it (received ones) */
};

struct fleet_status {
	bool connected;
	bool synced;			/* the bucket read since the last (re)connect */
	char server[128];		/* the URL connected to, "" if none */
	char error[128];		/* the last error, "" if none */
	__u64 last_sync_ms;		/* wall clock it was last known in sync: now while
					 * connected and following the bucket */
	__u64 keys;			/* keys in the bucket as last seen (live ones) */
	__u64 published, conflicts, received, deleted, pending;
	__u64 signals_sent, signals_received, signals_dropped;
	__u64 reconnects;
	__u32 gen;
};

struct fleet;

/* Start the client's threads (the first connect happens on them: NATS may
 * be down). 0 or -errno with err. */
int fleet_start(struct fleet **fp, const struct config_fleet *cfg, char *err, size_t errlen);
void fleet_stop(struct fleet *f);
/* Readable when changes wait (eventfd): the daemon's loop polls it. */
int fleet_wake_fd(const struct fleet *f);
/* The changes received since the last call, in order: *out is the
 * caller's to free. */
size_t fleet_take(struct fleet *f, struct fleet_change **out);
/* Publish c's ban, merged with the bucket's by compare-and-swap; queued
 * (merged with anything queued for c) while not connected. */
void fleet_offer(struct fleet *f, const struct cidr *c, const struct fleet_value *v);
/* This tick's counts (copied); sent by the publisher thread. */
void fleet_counts_send(struct fleet *f, const struct fleet_count *v, size_t n, __u64 tick_ms);
/* The other gateways' latest counts, each not older than max_age_ms, in
 * one array the caller frees; how many. */
size_t fleet_counts_get(struct fleet *f, __u64 max_age_ms, struct fleet_count **out,
			unsigned *gateways);
/* Reports this gateway took (copied); the publisher sends them on the
 * signals subject, not persisted: a gateway away misses them, as it misses
 * the counts. Dropped when NATS is away. */
void fleet_signals_send(struct fleet *f, const struct fleet_signal *v, size_t n);
/* The other gateways' reports received since the last call: *out is the
 * caller's to free. */
size_t fleet_signals_take(struct fleet *f, struct fleet_signal **out);
void fleet_status_get(struct fleet *f, struct fleet_status *st);
/* Read the bucket whole again (the daemon lost track of what it applied). */
void fleet_resync(struct fleet *f);

/* The CLI's `ban del --fleet`: connect, delete c's key, disconnect. 0, or
 * -errno with err. */
int fleet_delete_now(const struct config_fleet *cfg, const struct cidr *c, char *err,
		     size_t errlen);

/* --- the daemon's side (fleet_apply.c) ---------------------------------- */

struct daemon;
struct policy_decision;
struct policy_sample;

/* The status file `xdpfence status` reads, for a pin dir. */
int fleet_status_path(const char *pin_dir, char *path, size_t len);

/* What [fleet] needs of the system beyond its syntax (its TLS and creds
 * files readable); 0 or -errno with err. */
int engine_fleet_usable(const struct config *c, char *err, size_t errlen);
int engine_fleet_start(struct daemon *d);
void engine_fleet_stop(struct daemon *d);
/* SIGHUP, d->cfg the new config: a changed [fleet] restarts the client. */
void engine_fleet_reload(struct daemon *d, const struct config_fleet *was);
/* Between ticks, when fleet_wake_fd is readable: apply the changes. */
void engine_fleet_apply(struct daemon *d);
/* In the tick, after the samples are read (may grow d->ps): counts out,
 * the other gateways' counts in, other gateways' offenders learned.
 * Returns the new number of samples. */
size_t engine_fleet_samples(struct daemon *d, size_t n, __u64 sample_ns);
/* In the tick, decisions staged, before the commit: the fleet's term kept
 * on the entries the decisions touched, fleet entries expired. */
int engine_fleet_stage(struct daemon *d, const struct policy_decision *dec, size_t n, __u64 now);
/* In the tick, after the commit: the shared decisions published, the
 * status written. */
void engine_fleet_after_tick(struct daemon *d, const struct policy_decision *dec, size_t n);

#endif
