/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/daemon.h - what the daemon's files share: its state and the
 * steps each file provides. Private to user/engine/. */
#ifndef XDPFENCE_DAEMON_H
#define XDPFENCE_DAEMON_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>

#include "core/counters.h"
#include "core/pin.h"
#include "engine/config.h"
#include "engine/control.h"
#include "engine/metrics.h"
#include "feeds/feed.h"
#include "policy/policy.h"

/* A configured feed being fetched and parsed on a thread of its own (no
 * lock held, no tick waiting); the main loop applies it once done. */
struct feed_job {
	pthread_t th;
	bool running;			/* started, not yet applied or cancelled */
	bool joined;			/* ran on the main thread: nothing to join */
	atomic_bool done;		/* set by the thread: p is ready */
	volatile sig_atomic_t cancel;	/* stop the download (reload, SIGTERM) */
	int wake_fd;			/* written once done: wakes the main loop */
	__u64 started_ns;
	char name[32], source[192];	/* copies: a reload replaces the config */
	char token_file[256], ca_file[256], cache_dir[256];	/* taxii+ sources */
	struct feed_load_opts o;
	struct fence_feed rec;		/* the record before the fetch (conditional) */
	bool have_rec;
	struct feed_prepared p;
};

/* set by the signal handler, read by the loop and the waits */
extern volatile sig_atomic_t got_term, got_hup;

struct daemon {
	struct config cfg;
	struct pinned s;
	struct policy *p;
	struct fence_meta meta;
	struct metrics *mt;
	struct metrics_snapshot snap;
	FILE *events;
	unsigned events_held;			/* events_hold nesting: no flush per event */
	int lock_fd;
	__u64 next_refresh[CONFIG_MAX_FEEDS];	/* CLOCK_MONOTONIC ns */
	bool feed_ok[CONFIG_MAX_FEEDS];		/* the last load of each configured feed */
	unsigned feed_fails[CONFIG_MAX_FEEDS];	/* failed loads in a row */
	struct feed_job jobs[CONFIG_MAX_FEEDS];	/* of cfg.feeds[i], by index */
	int wake_fd;				/* eventfd: a job is done */
	int pins_last;				/* enum pins_state at the last check */
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
	/* tick.c: the drop entries the engine (or the fleet, whose term is
	 * the engine's) put there: their packets are counted on the entry,
	 * not on the prefix, so the policy gets the entry's counters for
	 * them; and the prefixes it got them for last tick (one joining or
	 * leaving is a gap to the policy) */
	struct engine_drop_entry {
		struct cidr c;
		__u32 slot;
	} *drop_entries;
	size_t n_drop_entries, cap_drop_entries;
	struct cidr *esampled;
	size_t n_esampled, cap_esampled;
	__u64 ticks_limit;			/* --ticks N: exit after N (tests) */
	struct control ctl;			/* the CLI's socket (control.h); fd -1: none */
	char served[32];			/* feed of the command being served */
	__u64 refused, refused_logged_ns;	/* clients turned away; when last logged */
	/* kept between ticks: a million prefixes' buffers cost page faults */
	struct counters_reader *reader;
	struct policy_sample *ps;
	size_t ps_cap;
	/* intelligence exchange (taxii.c, crowdsec.c): NULL when not configured */
	struct taxii *taxii;
	struct crowdsec *cs;
	/* reports of the API tier (signals.h): always there, listening as
	 * [signals] says (the CLI's `signal add` needs no section) */
	struct signals *sig;
	/* [fleet] (fleet.h): the NATS client and the daemon's side; NULL without */
	struct fleet *fleet;
	struct fleet_local *fl;
};

/* run.c: the pin dir's writer lock (gives up when asked to stop while
 * waiting); engine_lock_fresh also re-reads the entries under it (the CLI
 * may have changed them) and repairs. Unlocked again on failure. */
int engine_lock(struct daemon *d);
void engine_unlock(struct daemon *d);
int engine_lock_fresh(struct daemon *d);

/* run.c: are the maps pinned under the pin dir the ones this daemon
 * holds? (Someone may have removed the pin dir, or made a new set.) */
enum pins_state { PINS_OURS, PINS_GONE, PINS_REPLACED };
enum pins_state engine_pins(const struct daemon *d);

/* events.c: open an events file ("stderr", or a regular file appended to,
 * created 0640, never through a symlink); -errno with err */
int events_open(const char *path, FILE **out, char *err, size_t errlen);
void engine_set_events(struct daemon *d, FILE *f);
json_object *event_new(const char *type, const struct cidr *c);
void event_write(struct daemon *d, json_object *o);
/* Many events at once (a tick's decisions, an apply of the fleet's
 * changes): buffered, and flushed together at the last release. */
void events_hold(struct daemon *d);
void events_release(struct daemon *d);
void event_decision(struct daemon *d, const struct policy_decision *x, __u64 now);

/* tick.c: one tick; 0, or -errno when it could not complete */
int engine_tick(struct daemon *d);

/* refresh.c: apply the feeds fetched and parsed meanwhile, start those
 * that are due (all: every one); cancel the ones in flight (stop, reload) */
void engine_refresh_feeds(struct daemon *d, bool all);
void engine_feeds_cancel(struct daemon *d);
bool engine_config_feed_named(const struct config *c, const char *name);
bool engine_gone_named(const struct daemon *d, const char *name);

/* serve.c: serve the CLI's clients waiting on the control socket */
int engine_serve_clients(struct daemon *d);

/* crowdsec.c: the [crowdsec] bouncer and watcher. Start (or restart, on a
 * reload that changed the section); apply the decisions fetched meanwhile
 * (the main loop, between ticks); hand it our promotions after a tick. */
struct export_entry;
int engine_crowdsec_start(struct daemon *d, char *err, size_t errlen);
void engine_crowdsec_apply(struct daemon *d);
void engine_crowdsec_promotions(struct daemon *d, const struct export_entry *v, size_t n);
void engine_crowdsec_stop(struct daemon *d);

/* intake.c: the API tier's reports. Start as [signals] says; stop (what
 * waits goes to the policy first); hand the reports taken to the policy
 * at now, logging each; serve `signal add` (its JSON in src_fd; the exit
 * code, or -1 when there is no intake). */
int engine_signals_start(struct daemon *d, char *err, size_t errlen);
void engine_signals_stop(struct daemon *d);
void engine_signals_drain(struct daemon *d, __u64 now);
int engine_signal_serve(struct daemon *d, int src_fd);

#endif
