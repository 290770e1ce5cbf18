/* SPDX-License-Identifier: GPL-2.0 */
/* user/policy/policy.h - the behaviour engine's decisions: which source prefixes to
 * promote to the deny table, for how long, when to widen them to a parent
 * prefix and when to let them go.
 *
 * Pure: no clock (the caller passes CLOCK_MONOTONIC ns), no maps, no syscalls,
 * no I/O except policy_save/policy_load on the caller's FILE. Deterministic
 * given the seed. The controller reads the per-prefix counters, calls
 * policy_tick() once per tick and applies the decisions to the maps; it must
 * not second-guess them (the engine's state assumes every decision applied).
 *
 * Rates: per interval between two ticks that both carried the prefix, delta
 * of the cumulative counter over the actual elapsed time; strictly above the
 * rule's rate counts. A prefix's first sample, and its first after a tick
 * without it, is only a baseline. A counter below its last value restarts
 * from 0. A rule fires when its above-rate intervals cover window_s without
 * a break (to within a quarter tick, at most 100 ms, for timer jitter); value
 * is the average rate over them. One decision per prefix per tick: of the
 * rules firing together, the strongest action (drop, throttle, monitor),
 * then config order. Every PROMOTE/AGGREGATE is an offence; the ttl
 * escalates per offence up to max_ttl_s. A prefix still over a rule while
 * banned is EXTENDed: renewed to now + its current TTL (or the firing
 * rule's for its offences, if longer), keeping the later expiry and the
 * stronger action; no new offence, so no escalation until it offends
 * again after its ban has ended.
 *
 * Counts: metric hosts fires when a prefix's distinct hosts (sample.hosts)
 * stay at or above the rule's count for window_s, as a rate does. Metrics
 * signals and accounts count the reports of the API tier (policy_signals):
 * the sum of their weights, or the distinct accounts, within the last
 * window_s; at count or more the rule fires, and the reports it counted are
 * used up (the next firing, an EXTEND while banned, needs count new ones).
 * min_hosts/max_hosts make a rate or hosts rule fire only while the
 * prefix's hosts are at least/at most that many; a rule with max_hosts
 * promotes the hosts themselves (each /32 of sample.host_bits) where the
 * sample lists them, and leaves their neighbours alone.
 */
#ifndef XDPFENCE_POLICY_H
#define XDPFENCE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "lib/cidr.h"

#define POLICY_MAX_RULES	16
#define POLICY_MAX_CHILDREN	64		/* children listed in one AGGREGATE */
#define POLICY_MAX_TRACKED	2000000		/* default of policy_config.max_tracked */
#define POLICY_MAX_TTL_S	(10ULL * 365 * 86400)	/* longest ttl/max_ttl accepted */
#define POLICY_MAX_SIGNALS	1000000		/* default of policy_config.max_signals */
#define POLICY_PREFIX_SIGNALS	4096		/* reports kept per prefix, oldest dropped */
#define POLICY_MAX_KINDS	256		/* distinct kinds named; then "other" */
#define POLICY_HOST_TARGETS	16		/* max_hosts above this promotes the prefix */

enum policy_metric {
	POLICY_NEW_CONNS,		/* TCP SYN without ACK, QUIC Initial */
	POLICY_PACKETS,
	POLICY_BYTES,
	POLICY_CHILDREN,		/* AGGREGATE only: value = promoted children */
	POLICY_HOSTS,			/* distinct hosts opening connections (count) */
	POLICY_SIGNALS,			/* reports of the API tier, by weight (count) */
	POLICY_ACCOUNTS,		/* distinct accounts in those reports (count) */
	POLICY_METRICS
};

enum policy_scope {
	POLICY_LOCAL,			/* this gateway's counts */
	POLICY_FLEET,			/* this gateway's plus the other gateways' (see
					 * policy_sample.fleet_*) */
};

struct policy_rule {
	char name[32];			/* unique, non-empty */
	enum policy_metric metric;	/* any but children */
	double rate;			/* new_conns, packets, bytes: per second;
					 * strictly above it counts; else 0 */
	__u32 count;			/* hosts, signals, accounts: at least this
					 * many counts; else 0 */
	__u32 min_hosts, max_hosts;	/* 0 = no condition; not for signals/accounts */
	__u32 window_s;			/* rate sustained this long promotes */
	__u8 action;			/* enum fence_action */
	__u32 throttle_rate, throttle_burst;
	__u64 ttl_s;			/* ttl of a first offence */
	__u64 max_ttl_s;		/* cap of the escalated ttl; also, offences are
					 * forgotten max_ttl_s after the prefix's last
					 * ban ended, if it did not offend since */
	double escalate;		/* ttl multiplier per repeat offence, >= 1 */
	double jitter;			/* expiry = ttl * (1 + u), u in [-jitter, +jitter) */
	__u8 scope;			/* enum policy_scope */
};

struct policy_config {
	struct policy_rule rules[POLICY_MAX_RULES];
	unsigned n_rules;
	__u8 v4_children, v4_parent_len;	/* N promoted within /P -> /P; 0 = off */
	__u8 v6_children, v6_parent_len;
	size_t max_tracked;			/* prefixes with state; 0 = POLICY_MAX_TRACKED */
	size_t max_signals;			/* reports held; 0 = POLICY_MAX_SIGNALS */
};

/* One source prefix's CUMULATIVE counters, as read from prefix_v4/prefix_v6.
 * prefix.family is AF_INET/AF_INET6 (struct cidr's convention, not 4/6) and
 * the prefix must be canonical (host bits and unused bytes zero, cidr_mask). */
struct policy_sample {
	struct cidr prefix;
	__u64 packets, bytes, new_conns;
	__u32 hosts;			/* distinct hosts that opened connections lately */
	const __u64 *host_bits;		/* IPv4 only, or NULL: bit i of the 256 = the
					 * host whose last byte is i did (the caller's
					 * memory, read during policy_tick only) */
	/* the other gateways' counts over the interval since the previous
	 * tick (not cumulative), which rules of scope POLICY_FLEET add to this
	 * gateway's; read only when such a rule exists */
	__u64 fleet_packets, fleet_bytes, fleet_new_conns;
	/* true: counted only by other gateways this tick (a sample of the
	 * fleet's counts alone): this gateway's own counters are not in it,
	 * and stay where its last sample of its own left them. Needed once a
	 * tick carries only the prefixes counted here since the last one
	 * (POLICY_TICK_CHANGED): one counted here before is not gone. */
	bool no_local;
	/* true: hosts and host_bits are not known (a drop entry's counters:
	 * what it drops marks no hosts). The hosts of the prefix's last
	 * promotion stand in; without one, rules on hosts (metric hosts,
	 * min_hosts, max_hosts) skip the sample. */
	bool hosts_unknown;
};

/* One report of the API tier. prefix is the counted source prefix of the
 * reported address (canonical, as a sample's). */
struct policy_signal {
	struct cidr prefix;
	__u64 account;			/* a hash of the account; 0 = none given */
	__u32 weight;			/* >= 1 */
	const char *kind;		/* "distillation"; "" = none */
	bool remote;			/* another gateway's API tier's (the fleet's):
					 * counted by rules of scope fleet only */
};

enum policy_event {
	POLICY_PROMOTE,			/* add a promoted deny entry */
	POLICY_EXTEND,			/* still offending while promoted: new expiry */
	POLICY_EXPIRE,			/* expiry passed: remove the promoted entry */
	POLICY_AGGREGATE,		/* add the parent (children follow as UNBAN) */
	POLICY_UNBAN,			/* remove the promoted entry now (see why) */
};

struct policy_decision {
	enum policy_event type;
	__u64 time_ns;			/* the tick's now_ns */
	struct cidr prefix;
	const char *rule;		/* rule name ("" when none); owned by the policy */
	const char *metric;		/* policy_metric_name() */
	double value;			/* average rate over the window; AGGREGATE: all
					 * children (also those past the 64 listed) */
	double threshold;		/* the rule's rate or count; AGGREGATE: N of
					 * "N within /P" */
	__u32 hosts;			/* the prefix's hosts when the rule fired
					 * (0: not a sample's rule, or none seen) */
	const char *kind;		/* signals, accounts: the kind reported most
					 * (by weight) among the reports counted; "" */
	__u8 action;			/* enum fence_action */
	__u32 throttle_rate, throttle_burst;
	__u64 ttl_s;			/* escalated, before jitter; AGGREGATE: or the
					 * longest remaining term of a child */
	__u64 expires_ns;		/* CLOCK_MONOTONIC, jitter included;
					 * EXPIRE/UNBAN: the expiry it had */
	__u32 offences;			/* of this prefix, this one included */
	const char *why;		/* "" or "aggregated into 198.51.0.0/16" (UNBAN) */
	unsigned n_children;		/* AGGREGATE: children listed (<= 64), sorted */
	const struct cidr *children;	/* AGGREGATE: the first n_children; else NULL */
};

struct policy_stats {
	size_t tracked;			/* prefixes in the table (sampled, promoted, parents) */
	size_t active;			/* active promotions */
	size_t records;			/* promotions plus offence history */
	__u64 ticks;
	__u64 evicted;			/* prefixes dropped to stay under max_tracked */
	__u64 untracked;		/* samples ignored: table full of this tick's prefixes */
	__u64 nomem;			/* steps skipped for want of memory (retried later) */
	size_t signals;			/* reports held (within a rule's window) */
	size_t signal_prefixes;		/* prefixes they name */
	__u64 signals_dropped;		/* reports not kept: max_signals reached, or
					 * the prefix's oldest past POLICY_PREFIX_SIGNALS */
};

typedef bool (*policy_allowed_fn)(void *ctx, const struct cidr *c);

struct policy;

/* Returns 0, -EINVAL for a bad config (see policy_config_check), -ENOMEM. */
int policy_new(struct policy **p, const struct policy_config *cfg, __u64 seed);
void policy_free(struct policy *p);

/* 0 or -EINVAL with a short reason in err ("rule \"x\": window_s is 0"). */
int policy_config_check(const struct policy_config *cfg, char *err, size_t errlen);

/* Runs one tick at now_ns (strictly after the previous tick). allowed(ctx, c)
 * says whether c overlaps the allowlist; NULL = nothing is allowlisted. The
 * decisions (expiries, then promotions in sample order, then aggregations
 * each followed by its UNBANs) stay valid until the next call on p. Returns
 * 0, -EINVAL (bad arguments, time not moving forward) or -ENOMEM (nothing
 * changed: the call may be repeated). */
int policy_tick(struct policy *p, __u64 now_ns, const struct policy_sample *s, size_t n,
		policy_allowed_fn allowed, void *ctx,
		const struct policy_decision **out, size_t *n_out);

/* policy_tick with flags: POLICY_TICK_CHANGED says s holds only the
 * prefixes counted since the previous tick's samples were read (the engine
 * reads only those when it can), and every tracked prefix missing from s
 * was not counted in between: its counters are still what they were when
 * it was last sampled. Such a prefix was idle (its streaks break), and when
 * it comes back its whole delta since then falls in the interval that just
 * ended, as its counters say. A tick without the flag carries every prefix
 * there is: one missing from it is gone, and its next sample a baseline. */
#define POLICY_TICK_CHANGED	1U
int policy_tick_ex(struct policy *p, __u64 now_ns, const struct policy_sample *s, size_t n,
		   unsigned flags, policy_allowed_fn allowed, void *ctx,
		   const struct policy_decision **out, size_t *n_out);

/* c's counters will come from elsewhere from the next tick on (the engine
 * switches between a prefix's own counters and its drop entry's): take
 * c's next sample as a baseline, as after a tick without it. 0, or -ENOENT
 * if c is not tracked (its next sample is a baseline anyway). */
int policy_gap(struct policy *p, const struct cidr *c);

/* Reports of the API tier, at now_ns (at or after the last tick, at or
 * before the next): counted by the signals and accounts rules from the next
 * tick on, for their windows; kept while a rule's window holds them (none
 * are kept without such a rule). 0, -EINVAL (a bad prefix or weight: none
 * of v kept) or -ENOMEM (some kept). */
int policy_signals(struct policy *p, __u64 now_ns, const struct policy_signal *v, size_t n);

/* The operator removed c's promotion (`xdpfence ban del`): forget it as
 * active, keep its offence history. 0, or -ENOENT if c is not promoted. */
int policy_forget(struct policy *p, const struct cidr *c);

/* What another gateway decided about c (the fleet): its offences, when
 * they are forgotten, and its ban. */
struct policy_offender {
	__u32 offences;
	__u64 decay_ns;			/* CLOCK_MONOTONIC: offences forgotten then */
	__u64 expires_ns;		/* its ban's end; at or before now: not banned */
	__u64 ttl_s;			/* the TTL its last offence got */
	__u8 action;			/* enum fence_action of its ban */
	__u32 throttle_rate, throttle_burst;
	const char *rule;		/* the rule that promoted it there, or NULL */
};

/* Between ticks: learn another gateway's view of c, so that an offender
 * seen there is judged here as if seen here. c's offences become at least
 * o's (its next promotion here escalates from them), and while o's ban
 * lasts c counts as promoted here: a rule firing on it extends it (no new
 * offence). A ban learned so makes no decision of its own, not even an
 * EXPIRE: the caller enforces it. 0, -EINVAL, -ENOMEM (nothing changed). */
int policy_learn(struct policy *p, const struct cidr *c, const struct policy_offender *o,
		 __u64 now_ns);

/* SIGHUP: new rules, same state. Streaks of a rule carry over when a rule of
 * the same name, metric and rate remains; promotions and offences always do. */
int policy_set_config(struct policy *p, const struct policy_config *cfg);

/* Offence history and active promotions, as text; exact round trip. */
int policy_save(const struct policy *p, FILE *f);
/* Replaces p's state with the file's (nothing changes on error: -EINVAL,
 * -ENOMEM, -EIO). Times are CLOCK_MONOTONIC as saved; if now_ns is before the
 * save time (another boot), they are rebased to keep each remaining time. The
 * next tick is a baseline (rates need two samples). */
int policy_load(struct policy *p, FILE *f, __u64 now_ns);

/* 0 and c's offences and expiry (0 = not promoted now), or -ENOENT. */
int policy_lookup(const struct policy *p, const struct cidr *c, __u32 *offences, __u64 *expires_ns);
void policy_get_stats(const struct policy *p, struct policy_stats *st);

const char *policy_event_name(enum policy_event e);
const char *policy_metric_name(enum policy_metric m);

#endif
