// SPDX-License-Identifier: GPL-2.0
/* user/engine/run.c - `xdpfence run --config FILE`: the behaviour engine daemon.
 *
 * Glue between the data path and the pure policy engine (policy/): attach
 * the configured interfaces, load and refresh feeds (refresh.c), and every
 * tick (tick.c) read the per-prefix counters (the kernel-side walk of
 * core/counters.c), let the policy decide, apply its decisions to the
 * entries in one commit, and log each decision as one JSON line (events.c).
 * SIGHUP reloads the config and feeds; SIGTERM leaves the data path and the
 * pinned maps enforcing and saves the engine's state for the next start.
 * The pin dir is locked only while a tick commits, so the CLI works beside
 * it; between ticks the daemon serves the CLI's feed loads (serve.c).
 *
 * This file owns the daemon's life: arguments, start, the loop, reload,
 * stop. It must not decide policy nor write entries itself.
 */
#define _GNU_SOURCE		/* ppoll */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <math.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#include "cli/cli.h"
#include "engine/daemon.h"
#include "engine/taxii.h"
#include "feeds/export.h"
#include "engine/fleet.h"
#include "lib/log.h"
#include "lib/util.h"

volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}


/* The pin dir's writer lock; gives up when asked to stop while waiting. */
int engine_lock(struct daemon *d)
{
	while (flock(d->lock_fd, LOCK_EX)) {
		if (errno != EINTR || got_term)
			return -errno;
	}
	return 0;
}

void engine_unlock(struct daemon *d)
{
	flock(d->lock_fd, LOCK_UN);
}

/* The lock, and the entries re-read under it: the CLI may have changed
 * them since we last looked. Unlocked again on failure. */
int engine_lock_fresh(struct daemon *d)
{
	int ret = engine_lock(d);

	if (ret)
		return ret;
	{
		char err[256];

		/* a writer beside us may have grown the tables */
		ret = fence_maps_refresh(&d->s.m, g_opts.pin_dir);
		if (ret > 0)
			pr_info("the tables grew: now %u rule slots, %u tbl8 groups", d->s.m.n_slots - 1,
				d->s.m.n_groups);
		if (ret >= 0)
			ret = pin_table_reopen(&d->s, g_opts.pin_dir, true, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "reopening the grown tables: %s", strerror(-ret));
		if (ret)
			pr_err("%s", err);
	}
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
		engine_unlock(d);
	return ret;
}

/* --- config, feeds, state --------------------------------------------------- */

static void policy_config_from(const struct config *c, struct policy_config *pc)
{
	static const enum policy_metric metric[] = {
		[CONFIG_NEW_CONNS] = POLICY_NEW_CONNS, [CONFIG_PACKETS] = POLICY_PACKETS,
		[CONFIG_BYTES] = POLICY_BYTES, [CONFIG_HOSTS] = POLICY_HOSTS,
		[CONFIG_SIGNALS] = POLICY_SIGNALS, [CONFIG_ACCOUNTS] = POLICY_ACCOUNTS,
	};

	memset(pc, 0, sizeof(*pc));
	for (unsigned i = 0; i < c->n_rules; i++) {
		const struct config_rule *r = &c->rules[i];
		struct policy_rule *p = &pc->rules[i];

		snprintf(p->name, sizeof(p->name), "%s", r->name);
		p->metric = metric[r->metric];
		p->rate = r->rate;
		p->count = r->count;
		p->min_hosts = r->min_hosts;
		p->max_hosts = r->max_hosts;
		p->window_s = r->window_s;
		p->action = r->action;
		p->throttle_rate = r->throttle_rate;
		p->throttle_burst = r->throttle_burst;
		p->ttl_s = r->ttl_s;
		p->max_ttl_s = r->max_ttl_s;
		p->escalate = r->escalate;
		p->jitter = r->jitter;
		p->scope = r->fleet ? POLICY_FLEET : POLICY_LOCAL;
	}
	pc->n_rules = c->n_rules;
	pc->max_signals = c->signals.max_signals;
	pc->v4_children = c->v4_children;
	pc->v4_parent_len = c->v4_parent_len;
	pc->v6_children = c->v6_children;
	pc->v6_parent_len = c->v6_parent_len;
	pc->max_tracked = 2000000;
}

/* The signals that stop or reload us: they wake the wait between ticks. */
static void wake_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Sleep until next (CLOCK_MONOTONIC), serving clients and applying the
 * feeds fetched meanwhile; early on a signal (blocked but in ppoll, so
 * none slips in between). */
static void wait_until(struct daemon *d, const struct timespec *next)
{
	bool listen = d->ctl.fd >= 0;
	sigset_t block, old;

	wake_signals(&block);
	for (;;) {
		struct timespec now, left;
		__u64 now_ns = fence_now_ns(), hold = engine_fleet_hold_until(d);
		/* the fleet's changes gather while the last apply's hold lasts */
		bool fleet = d->fleet && hold <= now_ns;
		struct pollfd p[3] = { { d->wake_fd, POLLIN, 0 }, { listen ? d->ctl.fd : -1, POLLIN, 0 },
				       { fleet ? fleet_wake_fd(d->fleet) : -1, POLLIN, 0 } };
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
		if (d->fleet && !fleet && (__u64)left.tv_sec * 1000000000ULL + left.tv_nsec > hold - now_ns) {
			left.tv_sec = (hold - now_ns) / 1000000000ULL;
			left.tv_nsec = (hold - now_ns) % 1000000000ULL;
		}
		n = ppoll(p, 3, &left, &old);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (n > 0 && (p[0].revents & POLLIN)) {
			engine_refresh_feeds(d, false);
			engine_crowdsec_apply(d);
		}
		if (n > 0 && (p[1].revents & POLLIN) && engine_serve_clients(d))
			listen = false;		/* accept fails (no fds?): after this tick */
		if (n > 0 && (p[2].revents & POLLIN))
			engine_fleet_apply(d);	/* another gateway's ban: now, not next tick */
	}
}

/* The state file: written to a temp file beside it (created afresh, 0600,
 * never through a symlink) and renamed over it, so a crash leaves the old
 * one or the new one whole. */
static void state_save(struct daemon *d)
{
	char tmp[sizeof(d->cfg.state_file) + 8];
	FILE *f;
	int fd;

	if (!d->cfg.state_file[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg.state_file);
	unlink(tmp);	/* a crash's leftover; O_EXCL below refuses whatever else is put there */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		pr_warn("state file %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (policy_save(d->p, f) || fflush(f) || fsync(fileno(f))) {
		pr_warn("writing %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return;
	}
	fclose(f);
	if (rename(tmp, d->cfg.state_file))
		pr_warn("renaming %s: %s", tmp, strerror(errno));
}

/* The offence history and promotions of the last run. A file that does
 * not parse is kept aside (FILE.corrupt-TIME), not overwritten by the
 * next save: it may be all there is of that history. */
static void state_load(struct daemon *d)
{
	const char *path = d->cfg.state_file;
	char aside[sizeof(d->cfg.state_file) + 32];
	FILE *f;
	int fd, ret;

	if (!path[0])
		return;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			pr_warn("state file %s: %s: starting without offence history", path,
				strerror(errno));
		return;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return;
	}
	ret = policy_load(d->p, f, fence_now_ns());
	fclose(f);
	if (!ret)
		return;
	snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path, (long long)time(NULL));
	if (rename(path, aside))
		pr_warn("state file %s unreadable (%s), and keeping it aside failed: %s: starting "
			"without offence history", path, strerror(-ret), strerror(errno));
	else
		pr_warn("state file %s unreadable (%s): kept aside as %s; starting without offence "
			"history", path, strerror(-ret), aside);
}

/* Print a multi-line message (config errors), each line as one error. */
static void pr_err_lines(const char *prefix, const char *lines)
{
	const char *p = lines;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		pr_err("%s%.*s", prefix, n, p);
		p += n + (nl != NULL);
	}
}

/* What a config needs of the system beyond its syntax: interfaces that
 * exist, an events file it can open, a state file it can write. Checked
 * before anything of it is applied, so a reload is all or nothing. The
 * events file, opened here, goes to *events. */
static int config_usable(const struct config *c, const struct config *cur, FILE **events,
			 char *err, size_t errlen)
{
	char dir[sizeof(c->state_file)], *slash;

	*events = NULL;
	for (unsigned i = 0; i < c->n_ifaces; i++)
		if (!if_nametoindex(c->ifaces[i].name)) {
			snprintf(err, errlen, "%s:%u: [interface %s]: %s", c->path, c->ifaces[i].line,
				 c->ifaces[i].name, strerror(errno));
			return -ENODEV;
		}
	if (c->state_file[0]) {
		snprintf(dir, sizeof(dir), "%s", c->state_file);
		slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = 0;
		struct stat st;

		if (access(slash ? dir : ".", W_OK | X_OK)) {
			snprintf(err, errlen, "%s: [daemon] state_file %s: %s", c->path, c->state_file,
				 strerror(errno));
			return -errno;
		}
		/* others who may write the directory could put a link or a FIFO
		 * where the state goes */
		if (!stat(slash ? dir : ".", &st) && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
			snprintf(err, errlen, "%s: [daemon] state_file %s: its directory is writable by "
				 "anyone: put it in one only root can write (e.g. /var/lib/xdpfence)",
				 c->path, c->state_file);
			return -EPERM;
		}
		if (!lstat(c->state_file, &st) && !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: [daemon] state_file %s: not a regular file%s", c->path,
				 c->state_file, S_ISLNK(st.st_mode) ? " (a symlink: give the real path)" : "");
			return -EINVAL;
		}
	}
	if (engine_fleet_usable(c, err, errlen))
		return -EINVAL;
	if (!cur || strcmp(cur->events, c->events)) {
		int ret = events_open(c->events, events, err, errlen);

		if (ret)
			return ret;
	}
	return 0;
}

/* --- intelligence exchange: [taxii], [crowdsec], [signals] ------------------ */

/* Start what the config asks for; 0 or -errno (printed). */
static int intel_start(struct daemon *d)
{
	char err[512];
	int ret;

	if (d->cfg.taxii.line) {
		sigset_t block, old;

		wake_signals(&block);	/* its thread leaves our signals to us */
		pthread_sigmask(SIG_BLOCK, &block, &old);
		ret = taxii_start(&d->taxii, &d->cfg.taxii, d->cfg.state_file, err, sizeof(err));
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (ret) {
			pr_err("%s", err);
			return ret;
		}
	}
	if (d->cfg.crowdsec.line) {
		ret = engine_crowdsec_start(d, err, sizeof(err));
		if (ret) {
			pr_err("%s", err);
			return ret;
		}
	}
	ret = engine_signals_start(d, err, sizeof(err));
	if (ret) {
		pr_err("%s", err);
		return ret;
	}
	return 0;
}

static void intel_stop(struct daemon *d)
{
	char err[512];

	if (taxii_save(d->taxii, err, sizeof(err)))
		pr_warn("%s", err);
	taxii_stop(d->taxii);
	d->taxii = NULL;
	engine_crowdsec_stop(d);
	engine_signals_stop(d);
}

/* After a tick: the entries as they are now go to the TAXII history and
 * to CrowdSec (our promotions as alerts). */
static void intel_tick(struct daemon *d)
{
	struct export_filter f = { .owners = FENCE_OWN_PROMOTED | FENCE_OWN_MANUAL };
	struct export_entry *v = NULL;
	struct timespec ts;
	char err[512];
	int64_t now_ms;
	size_t n = 0;

	if (!d->taxii && !d->cs)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (export_collect(&d->s, &f, now_ms, fence_now_ns(), &v, &n, err, sizeof(err))) {
		pr_warn("intel: %s", err);
		return;
	}
	taxii_update(d->taxii, v, n, now_ms);
	if (taxii_save(d->taxii, err, sizeof(err)))
		pr_warn("%s", err);
	engine_crowdsec_promotions(d, v, n);
	free(v);
}

/* A reload that changed [taxii], [crowdsec] or [signals] restarts them. */
static void intel_reload(struct daemon *d, const struct config *was)
{
	if (!memcmp(&was->taxii, &d->cfg.taxii, sizeof(was->taxii)) &&
	    !memcmp(&was->crowdsec, &d->cfg.crowdsec, sizeof(was->crowdsec)) &&
	    !memcmp(&was->signals, &d->cfg.signals, sizeof(was->signals)) &&
	    !strcmp(was->state_file, d->cfg.state_file))
		return;
	intel_stop(d);
	if (intel_start(d))
		pr_err("reload: [taxii]/[crowdsec]/[signals] could not start again: see above");
}

/* SIGHUP: the config file again, applied whole or not at all. */
static int reload(struct daemon *d)
{
	struct policy_config pc;
	struct config fresh;
	FILE *events = NULL;
	char err[4096];
	json_object *o;
	int ret = config_load(d->cfg.path, &fresh, err, sizeof(err));

	if (!ret) {
		policy_config_from(&fresh, &pc);
		int n = snprintf(err, sizeof(err), "%s: ", fresh.path);

		ret = policy_config_check(&pc, err + n, sizeof(err) - n);
	}
	if (!ret)
		ret = config_usable(&fresh, &d->cfg, &events, err, sizeof(err));
	if (!ret) {
		ret = policy_set_config(d->p, &pc);
		if (ret)
			snprintf(err, sizeof(err), "policy: %s", strerror(-ret));
	}
	o = event_new("reload", NULL);
	json_object_object_add(o, "ok", json_object_new_boolean(!ret));
	if (ret) {
		if (events && events != stderr)
			fclose(events);
		pr_err_lines("reload (keeping the running config): ", err);
		json_object_object_add(o, "why", json_object_new_string(err));
		event_write(d, o);
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
			if (!engine_config_feed_named(&fresh, was[j]) && !engine_gone_named(d, was[j]) &&
			    d->n_gone < CONFIG_MAX_FEEDS)
				memcpy(d->gone[d->n_gone++], was[j], sizeof(d->gone[0]));
	}
	engine_feeds_cancel(d);	/* fetches of the old config's feeds */
	memset(d->feed_ok, 0, sizeof(d->feed_ok));
	memset(d->feed_fails, 0, sizeof(d->feed_fails));
	{
		static struct config was;	/* large */

		was = d->cfg;
		d->cfg = fresh;
		intel_reload(d, &was);
		engine_fleet_reload(d, &was.fleet);
	}
	if (events)
		engine_set_events(d, events);
	for (unsigned i = 0; i < d->cfg.n_ifaces; i++) {
		struct fence_opts fo = {};

		fence_attach(d->cfg.ifaces[i].name, d->cfg.ifaces[i].skb, &fo);
	}
	event_write(d, o);
	engine_refresh_feeds(d, true);
	metrics_configure(d->mt, &d->cfg);
	d->snap.n_rules = d->cfg.n_rules;
	for (unsigned i = 0; i < d->cfg.n_rules && i < METRICS_MAX_RULES; i++)
		snprintf(d->snap.rule_names[i], sizeof(d->snap.rule_names[i]), "%s", d->cfg.rules[i].name);
	return 0;
}

static void run_usage(bool asked)
{
	fprintf(usage_out(asked),
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

/* Arguments and config: -1 to go on, else the exit code (usage printed). */
static int run_args(struct daemon *d, int argc, char **argv, struct policy_config *pc)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "ticks", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	const char *path = NULL;
	char err[4096];
	int c;
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
			d->ticks_limit = n;
			break;
		case 'h':
			run_usage(true);
			return EXIT_OK;
		default:
			run_usage(false);
			return EXIT_USAGE;
		}
	}
	if (!path || optind != argc) {
		run_usage(false);
		return EXIT_USAGE;
	}
	if (config_load(path, &d->cfg, err, sizeof(err))) {
		pr_err_lines("", err);
		return EXIT_USAGE;
	}
	policy_config_from(&d->cfg, pc);
	if (policy_config_check(pc, err, sizeof(err))) {
		pr_err("%s: %s", path, err);
		return EXIT_USAGE;
	}
	/* what it needs of the system too, before anything starts */
	if (config_usable(&d->cfg, NULL, &d->events, err, sizeof(err))) {
		pr_err("%s", err);
		return EXIT_USAGE;
	}
	return -1;
}

/* Everything up to the first tick: events, interfaces, the pinned maps
 * (created if need be), the counter reader, the policy and its saved
 * state, metrics, the first feed loads, the control socket. 0 or -errno
 * (printed). */
static int run_start(struct daemon *d, const struct policy_config *pc)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	keep_freed_memory();	/* feed refreshes reuse the last one's buffers */
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wake_fd < 0) {
		ret = -errno;
		pr_err("eventfd: %s", strerror(errno));
		return ret;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	/* one daemon per pin dir, for its life: two would both promote and
	 * take each other's expiries for the operator's unbans */
	ret = fence_prepare_pin_dir(g_opts.pin_dir);
	if (ret) {
		pr_err("pin dir %s: %s", g_opts.pin_dir, strerror(-ret));
		return ret;
	}
	{
		pid_t holder;

		ret = control_lock(&d->ctl, g_opts.pin_dir, &holder);
		if (ret == -EADDRINUSE) {
			pr_err("another xdpfence run (pid %d) already runs on %s: one daemon per "
			       "pin dir (stop it, or give this one its own --pin-dir)", (int)holder,
			       g_opts.pin_dir);
			return ret;
		}
		if (ret) {
			pr_err("taking the daemon lock of %s in %s: %s", g_opts.pin_dir, CONTROL_DIR,
			       strerror(-ret));
			return ret;
		}
	}

	for (unsigned i = 0; i < d->cfg.n_ifaces; i++) {
		struct fence_opts o = {};

		if (fence_attach(d->cfg.ifaces[i].name, d->cfg.ifaces[i].skb, &o))
			return -EIO;
	}
	if ((ret = state_open(&d->s, false, true)))
		return ret;
	if (d->cfg.memory_limit_set && (ret = pin_set_memory_limit(g_opts.pin_dir, d->cfg.memory_limit))) {
		pr_err("[daemon] memory_limit: %s", strerror(-ret));
		return ret;
	}
	/* state_open held the pin dir's lock to create the maps; the daemon
	 * takes it only around its commits, so the CLI can work in between */
	if (d->s.lock_fd >= 0) {
		close(d->s.lock_fd);
		d->s.lock_fd = -1;
	}
	d->lock_fd = open(g_opts.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->lock_fd < 0) {
		ret = -errno;
		pr_err("%s: %s", g_opts.pin_dir, strerror(errno));
		return ret;
	}
	if (fence_read_meta(&d->s.m, &d->meta)) {
		d->meta.v4_agg_len = FENCE_V4_AGG_LEN_DEFAULT;
		d->meta.v6_agg_len = FENCE_V6_AGG_LEN_DEFAULT;
	}
	/* the one daemon of the pin dir (control_lock): it turns the data
	 * path's epochs and reads only the prefixes counted since its last read */
	if ((ret = counters_reader_new(&d->reader, &d->s.m, 0, COUNTERS_CHANGES))) {
		pr_err("counter reader: %s", strerror(-ret));
		return ret;
	}
	if (policy_new(&d->p, pc, fence_now_ns() ^ (__u64)getpid())) {
		pr_err("policy: out of memory");
		return -ENOMEM;
	}
	state_load(d);
	if ((ret = engine_fleet_start(d)))
		return ret;
	d->snap.n_rules = d->cfg.n_rules;
	for (unsigned i = 0; i < d->cfg.n_rules && i < METRICS_MAX_RULES; i++)
		snprintf(d->snap.rule_names[i], sizeof(d->snap.rule_names[i]), "%s", d->cfg.rules[i].name);
	if (d->cfg.metrics[0]) {
		sigset_t block, old;

		/* its thread leaves our signals to us (they wake the wait) */
		wake_signals(&block);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		ret = metrics_start(&d->mt, d->cfg.metrics, &d->s.m);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (ret) {
			pr_err("metrics on %s: %s", d->cfg.metrics, strerror(-ret));
			return ret;
		}
		metrics_configure(d->mt, &d->cfg);
	}
	ret = intel_start(d);
	if (ret)
		return ret;
	engine_refresh_feeds(d, true);	/* starts fetching them; the loop applies them */
	ret = control_listen(&d->ctl);
	if (ret)
		pr_warn("control socket in %s: %s: the CLI loads feeds itself", CONTROL_DIR,
			strerror(-ret));

	json_object *o = event_new("start", NULL);

	json_object_object_add(o, "config", json_object_new_string(d->cfg.path));
	json_object_object_add(o, "rules", json_object_new_int(d->cfg.n_rules));
	json_object_object_add(o, "interfaces", json_object_new_int(d->cfg.n_ifaces));
	event_write(d, o);
	sd_notify(0, "READY=1\nSTATUS=running");
	return 0;
}

/* The pinned set is ours while its `meta` map is ours: tables that grew
 * (core/grow.c) are new maps of the same set, taken up under the lock. */
enum pins_state engine_pins(const struct daemon *d)
{
	__u32 id = pin_map_id(g_opts.pin_dir, FM_META);
	struct bpf_map_info b = {};
	__u32 lb = sizeof(b);

	if (!id)
		return PINS_GONE;
	return !bpf_obj_get_info_by_fd(d->s.m.fd[FM_META], &b, &lb) && b.id == id ? PINS_OURS :
											  PINS_REPLACED;
}

/* The pin dir is the operators' view of the state: the CLI, bpftool and
 * `xdpfence status` read it. Removed under us, it is pinned again (the
 * data path and this daemon go on with the same maps, and the CLI sees
 * them again); replaced by another set, there are two states and this
 * daemon says so, loudly, until it is mended. */
static void check_pins(struct daemon *d)
{
	enum pins_state st = engine_pins(d);
	json_object *o;
	char path[PATH_MAX];
	int pinned = 0, ret = 0;

	if (st == PINS_GONE) {
		ret = fence_prepare_pin_dir(g_opts.pin_dir);
		for (int i = 0; i < FM_COUNT && !ret; i++) {
			snprintf(path, sizeof(path), "%s/%s", g_opts.pin_dir, fence_map_names[i]);
			if (!bpf_obj_pin(d->s.m.fd[i], path))
				pinned++;
			else if (errno != EEXIST)
				ret = -errno;
		}
		o = event_new("pins", NULL);
		json_object_object_add(o, "state", json_object_new_string("removed"));
		json_object_object_add(o, "ok", json_object_new_boolean(!ret));
		json_object_object_add(o, "repinned", json_object_new_int(pinned));
		if (ret) {
			json_object_object_add(o, "why", json_object_new_string(strerror(-ret)));
			pr_err("the maps under %s were removed and pinning them again failed: %s: the "
			       "data path and this daemon go on, the CLI cannot see them",
			       g_opts.pin_dir, strerror(-ret));
		} else {
			pr_warn("the maps under %s were removed while this daemon ran: pinned again "
				"(%d maps)", g_opts.pin_dir, pinned);
		}
		event_write(d, o);
		st = engine_pins(d);
	}
	if (st == PINS_REPLACED && d->pins_last != PINS_REPLACED) {
		pr_err("the maps under %s are not the ones this daemon and its interfaces use (the "
		       "pin dir was replaced): two separate states now. Stop this daemon, detach, "
		       "and attach again on one set", g_opts.pin_dir);
		o = event_new("pins", NULL);
		json_object_object_add(o, "state", json_object_new_string("replaced"));
		json_object_object_add(o, "ok", json_object_new_boolean(false));
		event_write(d, o);
	}
	d->pins_last = st;
}

/* Tick every tick_ms until told to stop (or --ticks are done), serving
 * the CLI in between; SIGHUP reloads before the next tick. */
static void run_loop(struct daemon *d)
{
	struct timespec next, now;
	__u64 done = 0;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!got_term) {
		next.tv_nsec += (d->cfg.tick_ms % 1000) * 1000000L;
		next.tv_sec += d->cfg.tick_ms / 1000 + next.tv_nsec / 1000000000L;
		next.tv_nsec %= 1000000000L;
		wait_until(d, &next);
		/* late by half a tick or more (a long tick, a load, a stall):
		 * the next one counts from now, not back to back to catch up */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - next.tv_sec) * 1000 + (now.tv_nsec - next.tv_nsec) / 1000000 >=
		    (long)d->cfg.tick_ms / 2)
			next = now;
		if (got_term)
			break;
		if (got_hup) {
			got_hup = 0;
			sd_notify(0, "RELOADING=1");
			reload(d);
			sd_notify(0, "READY=1");
		}
		check_pins(d);
		engine_tick(d);
		intel_tick(d);
		engine_refresh_feeds(d, false);
		engine_crowdsec_apply(d);
		if (d->snap.events)
			state_save(d);
		if (d->ticks_limit && ++done >= d->ticks_limit)
			break;
	}
}

/* Save the policy's state, say why we stop, free everything. The data
 * path and the pinned maps stay as they are, enforcing. */
static void run_stop(struct daemon *d, bool started)
{
	if (started) {
		json_object *o;

		sd_notify(0, "STOPPING=1");
		state_save(d);
		o = event_new("stop", NULL);
		json_object_object_add(o, "why", json_object_new_string(
			got_term ? "signal: the data path keeps enforcing" : "tick limit"));
		event_write(d, o);
	}
	intel_stop(d);
	engine_feeds_cancel(d);
	engine_fleet_stop(d);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	metrics_stop(d->mt);
	counters_reader_free(d->reader);
	free(d->ps);
	policy_free(d->p);
	free(d->allows);
	free(d->promoted);
	free(d->drop_entries);
	free(d->esampled);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	control_close(&d->ctl);
	pin_close(&d->s);
	if (d->events && d->events != stderr)
		fclose(d->events);
}

int do_run(int argc, char **argv)
{
	static struct daemon d;	/* large (its feed jobs): not on the stack */
	d = (struct daemon){ .lock_fd = -1, .wake_fd = -1, .ctl = { .fd = -1, .lock_fd = -1 },
			     .s = { .lock_fd = -1 } };
	struct policy_config pc;
	int ret = run_args(&d, argc, argv, &pc);

	if (ret >= 0) {
		run_stop(&d, false);
		return ret;
	}
	ret = run_start(&d, &pc);
	if (!ret)
		run_loop(&d);
	run_stop(&d, !ret);
	return ret ? EXIT_RUNTIME : EXIT_OK;
}
