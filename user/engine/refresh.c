// SPDX-License-Identifier: GPL-2.0
/* user/engine/refresh.c - the configured feeds: loaded at start and on
 * SIGHUP, refreshed when due, retried after a failure with a growing wait,
 * and deleted once the config no longer lists them (only after every feed
 * it does list has loaded). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "lib/log.h"
#include "feeds/feed.h"
#include "feeds/fetch.h"

bool engine_config_feed_named(const struct config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_feeds; i++)
		if (!strcmp(c->feeds[i].name, name))
			return true;
	return false;
}

bool engine_gone_named(const struct daemon *d, const char *name)
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
		int ret = engine_lock_fresh(d);

		if (ret == -EINTR)
			return;
		if (!ret) {
			char err[256];

			ret = feed_delete(&d->s, name, &removed, err, sizeof(err));
			engine_unlock(d);
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

/* --- fetching and parsing off the main thread ------------------------------- */

static void *job_run(void *arg)
{
	struct feed_job *j = arg;
	__u64 one = 1;

	feed_prepare(&j->o, j->have_rec ? &j->rec : NULL, &j->p);
	atomic_store(&j->done, true);
	/* a failed write is harmless: the main loop checks the flag each tick */
	(void)!write(j->wake_fd, &one, sizeof(one));
	return NULL;
}

/* A taxii+ source's credentials, CA and poll cache (beside the state
 * file, else the default directory). */
static void job_taxii_opts(const struct daemon *d, const struct config_feed *f, struct feed_job *j)
{
	const char *slash = strrchr(d->cfg.state_file, '/');

	snprintf(j->token_file, sizeof(j->token_file), "%s", f->token_file);
	snprintf(j->ca_file, sizeof(j->ca_file), "%s", f->ca_file);
	if (d->cfg.state_file[0])
		snprintf(j->cache_dir, sizeof(j->cache_dir), "%.*s", slash ?
			 (int)(slash - d->cfg.state_file) : 1, slash ? d->cfg.state_file : ".");
	j->o.token_file = j->token_file;
	j->o.ca_file = j->ca_file;
	j->o.cache_dir = d->cfg.state_file[0] ? j->cache_dir : NULL;
}

/* Start fetching and parsing feed i of the config on a thread of its own:
 * the download and the parse never hold the lock nor delay a tick. */
static void job_start(struct daemon *d, unsigned i)
{
	const struct config_feed *f = &d->cfg.feeds[i];
	struct feed_job *j = &d->jobs[i];

	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", f->name);
	snprintf(j->source, sizeof(j->source), "%s", f->source);
	j->o = (struct feed_load_opts){
		.name = j->name, .source = j->source, .format = f->format, .action = f->action,
		.ttl_s = f->ttl_s, .rate = f->throttle_rate, .burst = f->throttle_burst,
		.min_len_v4 = f->min_len_v4, .min_len_v6 = f->min_len_v6, .lenient = f->lenient,
		.max_errors_shown = 20, .timeout_s = f->timeout_s, .max_bytes = f->max_bytes,
		.cancel = &j->cancel,
	};
	job_taxii_opts(d, f, j);
	j->have_rec = !feed_record_get(g_opts.pin_dir, f->name, &j->rec);
	j->wake_fd = d->wake_fd;
	j->started_ns = fence_now_ns();
	if (pthread_create(&j->th, NULL, job_run, j)) {
		job_run(j);	/* no thread to be had: here, this once */
		j->joined = true;
	}
	j->running = true;
}

static void job_end(struct feed_job *j)
{
	if (!j->joined)
		pthread_join(j->th, NULL);
	feed_prepared_free(&j->p);
	j->running = false;
}

void engine_feeds_cancel(struct daemon *d)
{
	for (unsigned i = 0; i < CONFIG_MAX_FEEDS; i++)
		if (d->jobs[i].running) {
			d->jobs[i].cancel = 1;
			job_end(&d->jobs[i]);
		}
}

/* Apply feed i's prepared load under the lock, log it, and schedule the
 * next one. */
static void job_apply(struct daemon *d, unsigned i)
{
	const struct config_feed *f = &d->cfg.feeds[i];
	struct feed_job *j = &d->jobs[i];
	struct feed_load_report rep = {};
	__u64 now = fence_now_ns(), wait_s;
	json_object *o_ev;
	int ret;

	__u64 took_ms = (now - j->started_ns) / 1000000;	/* fetch and parse, off the lock */

	j->o.prepared = &j->p;
	ret = engine_lock_fresh(d);
	if (ret == -EINTR) {
		job_end(j);
		return;
	}
	if (!ret) {
		ret = feed_load(&d->s, &j->o, &rep);
		engine_unlock(d);
		feed_load_print_errors(&j->o, &rep, ret);
	} else {
		snprintf(rep.why, sizeof(rep.why), "taking the pin dir's lock: %s", strerror(-ret));
	}
	job_end(j);
	if (ret == -EAGAIN) {	/* the record changed while it was fetched: again, now */
		d->next_refresh[i] = now;
		feed_load_report_free(&rep);
		return;
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
		json_object_object_add(o_ev, "fetch_parse_s", json_object_new_double(took_ms / 1e3));
		json_object_object_add(o_ev, "retry_in_s", json_object_new_int64(wait_s));
	} else {
		json_object_object_add(o_ev, "not_modified", json_object_new_boolean(rep.not_modified));
		json_object_object_add(o_ev, "entries", json_object_new_int64(rep.entries));
		json_object_object_add(o_ev, "added", json_object_new_int64(rep.added));
		json_object_object_add(o_ev, "removed", json_object_new_int64(rep.removed));
		json_object_object_add(o_ev, "fetch_parse_s", json_object_new_double(took_ms / 1e3));
	}
	event_write(d, o_ev);
	feed_load_report_free(&rep);
}

void engine_refresh_feeds(struct daemon *d, bool all)
{
	__u64 now = fence_now_ns(), one;

	if (d->wake_fd >= 0)
		(void)!read(d->wake_fd, &one, sizeof(one));	/* empty (EAGAIN) is fine */
	for (unsigned i = 0; i < d->cfg.n_feeds; i++) {
		const struct config_feed *f = &d->cfg.feeds[i];
		struct feed_job *j = &d->jobs[i];

		if (j->running && atomic_load(&j->done)) {
			job_apply(d, i);
			if (got_term)
				return;
			continue;
		}
		/* due: its refresh interval is up, or it failed and its retry is */
		if (j->running || (!all && ((!f->refresh_s && d->feed_ok[i]) || now < d->next_refresh[i])))
			continue;
		job_start(d, i);
	}
	if (d->n_gone)
		delete_gone(d);
}
