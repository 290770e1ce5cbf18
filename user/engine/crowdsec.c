// SPDX-License-Identifier: GPL-2.0
/* user/engine/crowdsec.c - see crowdsec.h. */
#define _GNU_SOURCE		/* pipe2, strptime, timegm */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cli/cli.h"
#include "engine/crowdsec.h"
#include "engine/daemon.h"
#include "feeds/export.h"
#include "feeds/http.h"
#include "lib/log.h"
#include "lib/util.h"

#define ORIGIN		"xdpfence"
#define PUSH_BATCH	100
/* a renewal is pushed when it moves the expiry by at least this */
#define PUSH_RENEW_MS	(60 * 1000)

struct decision {
	int64_t id;
	struct cidr c;
	int64_t expires_ms;		/* wall clock */
};

struct pushed {
	struct cidr c;
	int64_t expires_ms;
};

struct crowdsec {
	pthread_t th;
	bool started;
	volatile sig_atomic_t stop;
	int stop_fd[2];			/* a pipe: wakes the thread to stop */
	int wake_fd;			/* the daemon's: a decision set is ready */
	struct config_crowdsec cfg;
	char api_key[256];
	char login[128], password[256];
	pthread_mutex_t lock;

	/* bouncer (thread) */
	struct decision *dec;
	size_t n_dec, cap_dec;
	bool pulled;			/* the startup pull is done */
	/* handed to the main loop, under lock */
	atomic_bool ready;
	struct feed_entry *set;
	size_t n_set;
	uint64_t set_ns;		/* CLOCK_MONOTONIC of the set's ttls */

	/* watcher: our promotions (main loop, under lock), what was pushed (thread) */
	struct export_entry *want;
	size_t n_want;
	bool want_new;
	struct pushed *pushed;
	size_t n_pushed, cap_pushed;
	char token[2048];
	int64_t token_exp_ms;

	char last_err[256];		/* the last failure reported: said once */
	atomic_bool again;		/* the main loop could not apply a set: publish anew */
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int crowdsec_duration(const char *s, double *seconds)
{
	static const struct {
		const char *u;
		double f;
	} units[] = { { "ns", 1e-9 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "ms", 1e-3 },
		      { "h", 3600 }, { "m", 60 }, { "s", 1 } };
	double total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!*s)
		return -EINVAL;
	if (!strcmp(s, "0")) {
		*seconds = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double x = strtod(s, &end);
		size_t k;

		if (end == s || !isfinite(x))
			return -EINVAL;
		s = end;
		for (k = 0; k < sizeof(units) / sizeof(units[0]); k++)
			if (!strncmp(s, units[k].u, strlen(units[k].u)))
				break;
		if (k == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		total += x * units[k].f;
		s += strlen(units[k].u);
	}
	*seconds = neg ? -total : total;
	return 0;
}

/* "changed once": print a failure the first time it happens, and when it
 * clears. */
static void say(struct crowdsec *cs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct crowdsec *cs, const char *fmt, ...)
{
	char buf[sizeof(cs->last_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!strcmp(buf, cs->last_err))
		return;
	snprintf(cs->last_err, sizeof(cs->last_err), "%s", buf);
	if (buf[0])
		pr_warn("crowdsec: %s", buf);
	else
		pr_info("crowdsec: %s answers again", cs->cfg.lapi_url);
}

/* --- bouncer: the decisions stream -------------------------------------------- */

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
}

static bool dec_take(struct crowdsec *cs, json_object *o, int64_t now_ms, struct decision *out)
{
	const char *origin = jstr(o, "origin"), *type = jstr(o, "type"), *scope = jstr(o, "scope"),
		   *value = jstr(o, "value"), *dur = jstr(o, "duration");
	json_object *id;
	double secs;
	bool ip;

	if (!scope || !value || !json_object_object_get_ex(o, "id", &id))
		return false;
	ip = !strcasecmp(scope, "ip");
	if ((!ip && strcasecmp(scope, "range")) || (ip && !cs->cfg.scope_ip) ||
	    (!ip && !cs->cfg.scope_range))
		return false;
	if (origin && !strcasecmp(origin, ORIGIN))
		return false;	/* ours, pushed as alerts: never back in */
	if (type && strcasecmp(type, "ban"))
		return false;	/* captcha, throttle...: for other bouncers */
	if (cidr_parse(value, &out->c, CIDR_ALLOW_HOST_BITS, NULL, 0))
		return false;
	if ((ip && out->c.len != (out->c.family == AF_INET ? 32 : 128)))
		return false;
	if (!dur || crowdsec_duration(dur, &secs))
		secs = 0;
	out->id = json_object_get_int64(id);
	out->expires_ms = now_ms + (int64_t)(secs * 1000);
	return true;
}

static void dec_del(struct crowdsec *cs, int64_t id)
{
	for (size_t i = 0; i < cs->n_dec; i++)
		if (cs->dec[i].id == id) {
			cs->dec[i] = cs->dec[--cs->n_dec];
			return;
		}
}

static int dec_put(struct crowdsec *cs, const struct decision *d)
{
	dec_del(cs, d->id);
	if (cs->n_dec == cs->cap_dec) {
		size_t cap = cs->cap_dec ? cs->cap_dec * 2 : 256;
		struct decision *v = realloc(cs->dec, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		cs->dec = v;
		cs->cap_dec = cap;
	}
	cs->dec[cs->n_dec++] = *d;
	return 0;
}

/* The live decisions as feed entries (one per prefix, the longest
 * expiry), handed to the main loop. */
static void dec_publish(struct crowdsec *cs, int64_t now_ms)
{
	struct feed_entry *v = cs->n_dec ? calloc(cs->n_dec, sizeof(*v)) : NULL;
	size_t n = 0, w = 0;
	uint64_t now_ns = fence_now_ns();
	__u64 one = 1;

	if (cs->n_dec && !v)
		return;
	for (size_t i = 0; i < cs->n_dec; i++) {
		struct decision *d = &cs->dec[i];
		size_t k;

		if (d->expires_ms <= now_ms)
			continue;	/* ran out: gone (the stream may not say so) */
		cs->dec[w++] = *d;
		for (k = 0; k < n; k++)
			if (!memcmp(&v[k].cidr, &d->c, sizeof(d->c)))
				break;
		if (k == n) {
			v[n].cidr = d->c;
			v[n].line = n + 1;
			n++;
		}
		if ((uint64_t)(d->expires_ms - now_ms + 999) / 1000 > v[k].ttl_s)
			v[k].ttl_s = (d->expires_ms - now_ms + 999) / 1000;
	}
	cs->n_dec = w;
	pthread_mutex_lock(&cs->lock);
	free(cs->set);
	cs->set = v;
	cs->n_set = n;
	cs->set_ns = now_ns;
	atomic_store(&cs->ready, true);
	pthread_mutex_unlock(&cs->lock);
	(void)!write(cs->wake_fd, &one, sizeof(one));
}

static void bouncer_poll(struct crowdsec *cs)
{
	char url[512], key[300], err[256];
	struct http_req req = { .url = url, .ca_file = cs->cfg.ca_file, .cancel = &cs->stop,
				.timeout_s = 30 };
	struct http_resp resp;
	json_object *root, *arr;
	int64_t now = wall_ms();
	bool changed = !cs->pulled || atomic_exchange(&cs->again, false);
	int n;

	n = snprintf(url, sizeof(url), "%s/v1/decisions/stream?startup=%s&scopes=%s%s%s",
		     cs->cfg.lapi_url, cs->pulled ? "false" : "true",
		     cs->cfg.scope_ip && cs->cfg.scope_range ? "ip,range" : cs->cfg.scope_ip ? "ip" :
											  "range",
		     cs->cfg.origins[0] ? "&origins=" : "", cs->cfg.origins);
	(void)n;
	snprintf(key, sizeof(key), "X-Api-Key: %s", cs->api_key);
	req.headers[0] = key;
	req.headers[1] = "Accept: application/json";
	if (http_request(&req, &resp, err, sizeof(err))) {
		say(cs, "decisions stream: %s: %s", cs->cfg.lapi_url, err);
		fetch_result_free(&resp.body);
		return;
	}
	if (resp.body.status != 200) {
		say(cs, "decisions stream: HTTP %ld%s", resp.body.status,
		    resp.body.status == 403 ? " (the API key was refused: `cscli bouncers add`)" : "");
		fetch_result_free(&resp.body);
		return;
	}
	root = json_tokener_parse(resp.body.data);
	fetch_result_free(&resp.body);
	if (!root || !json_object_is_type(root, json_type_object)) {
		say(cs, "decisions stream: not a JSON object");
		json_object_put(root);
		return;
	}
	say(cs, "%s", "");
	if (json_object_object_get_ex(root, "deleted", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *id, *o = json_object_array_get_idx(arr, i);

			if (json_object_object_get_ex(o, "id", &id)) {
				size_t before = cs->n_dec;

				dec_del(cs, json_object_get_int64(id));
				changed |= cs->n_dec != before;
			}
		}
	if (json_object_object_get_ex(root, "new", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct decision d;

			if (dec_take(cs, json_object_array_get_idx(arr, i), now, &d) && d.expires_ms > now &&
			    !dec_put(cs, &d))
				changed = true;
		}
	json_object_put(root);
	cs->pulled = true;
	for (size_t i = 0; i < cs->n_dec && !changed; i++)
		changed = cs->dec[i].expires_ms <= now;
	if (changed)
		dec_publish(cs, now);
}

/* --- watcher: our promotions as alerts ----------------------------------------- */

static int watcher_login(struct crowdsec *cs)
{
	char url[300], err[256], *body;
	struct http_req req = { .url = url, .method = "POST", .ca_file = cs->cfg.ca_file,
				.cancel = &cs->stop, .timeout_s = 30 };
	struct http_resp resp;
	json_object *j = json_object_new_object(), *sc = json_object_new_array(), *r;
	const char *tok, *exp;
	int ret = -EIO;

	json_object_object_add(j, "machine_id", json_object_new_string(cs->login));
	json_object_object_add(j, "password", json_object_new_string(cs->password));
	json_object_array_add(sc, json_object_new_string("xdpfence/promotion"));
	json_object_object_add(j, "scenarios", sc);
	body = strdup(json_object_to_json_string(j));
	json_object_put(j);
	snprintf(url, sizeof(url), "%s/v1/watchers/login", cs->cfg.lapi_url);
	req.body = body;
	req.headers[0] = "Content-Type: application/json";
	if (!body || http_request(&req, &resp, err, sizeof(err))) {
		say(cs, "watcher login: %s", body ? err : "out of memory");
		free(body);
		fetch_result_free(&resp.body);
		return -EIO;
	}
	free(body);
	r = resp.body.status == 200 ? json_tokener_parse(resp.body.data) : NULL;
	tok = r ? jstr(r, "token") : NULL;
	exp = r ? jstr(r, "expire") : NULL;
	if (tok && strlen(tok) < sizeof(cs->token)) {
		struct tm tm = {};

		snprintf(cs->token, sizeof(cs->token), "%s", tok);
		/* "2026-12-05T14:38:23Z"; if unreadable, an hour less a margin */
		cs->token_exp_ms = exp && strptime(exp, "%Y-%m-%dT%H:%M:%S", &tm) ?
			(int64_t)timegm(&tm) * 1000 : wall_ms() + 3600 * 1000;
		ret = 0;
	} else {
		say(cs, "watcher login as %s: HTTP %ld (`cscli machines add`, and machine_credentials)",
		    cs->login, resp.body.status);
	}
	json_object_put(r);
	fetch_result_free(&resp.body);
	return ret;
}

static struct pushed *pushed_find(struct crowdsec *cs, const struct cidr *c)
{
	for (size_t i = 0; i < cs->n_pushed; i++)
		if (!memcmp(&cs->pushed[i].c, c, sizeof(*c)))
			return &cs->pushed[i];
	return NULL;
}

static json_object *alert_json(const struct export_entry *e, int64_t now_ms)
{
	json_object *a = json_object_new_object(), *src = json_object_new_object(),
		    *ds = json_object_new_array(), *d = json_object_new_object();
	char pfx[CIDR_STR_MAX], scen[96], msg[160], t[40], dur[32], rule[48], *colon;
	bool host = e->prefix.len == (e->prefix.family == AF_INET ? 32 : 128);
	int64_t left = e->expires_ms ? (e->expires_ms - now_ms + 999) / 1000 : 365LL * 86400;

	cidr_str(&e->prefix, pfx, sizeof(pfx));
	if (host && (colon = strchr(pfx, '/')))
		*colon = 0;
	snprintf(rule, sizeof(rule), "%s", e->reason[0] ? e->reason : "promotion");
	if ((colon = strchr(rule, ':')))
		*colon = 0;
	snprintf(scen, sizeof(scen), "xdpfence/%s", rule);
	snprintf(msg, sizeof(msg), "xdpfence promoted %s: %s", pfx, e->reason);
	stix_time_ms(now_ms, t, sizeof(t));
	snprintf(dur, sizeof(dur), "%llds", (long long)(left > 0 ? left : 1));
	json_object_object_add(a, "scenario", json_object_new_string(scen));
	json_object_object_add(a, "scenario_hash", json_object_new_string(""));
	json_object_object_add(a, "scenario_version", json_object_new_string(""));
	json_object_object_add(a, "message", json_object_new_string(msg));
	json_object_object_add(a, "events_count", json_object_new_int(e->offences ? e->offences : 1));
	json_object_object_add(a, "start_at", json_object_new_string(t));
	json_object_object_add(a, "stop_at", json_object_new_string(t));
	json_object_object_add(a, "capacity", json_object_new_int(0));
	json_object_object_add(a, "leakspeed", json_object_new_string("0"));
	json_object_object_add(a, "simulated", json_object_new_boolean(false));
	json_object_object_add(a, "events", json_object_new_array());
	json_object_object_add(src, "scope", json_object_new_string(host ? "Ip" : "Range"));
	json_object_object_add(src, "value", json_object_new_string(pfx));
	json_object_object_add(src, host ? "ip" : "range", json_object_new_string(pfx));
	json_object_object_add(a, "source", src);
	json_object_object_add(d, "origin", json_object_new_string(ORIGIN));
	json_object_object_add(d, "type", json_object_new_string("ban"));
	json_object_object_add(d, "scope", json_object_new_string(host ? "Ip" : "Range"));
	json_object_object_add(d, "value", json_object_new_string(pfx));
	json_object_object_add(d, "duration", json_object_new_string(dur));
	json_object_object_add(d, "scenario", json_object_new_string(scen));
	json_object_array_add(ds, d);
	json_object_object_add(a, "decisions", ds);
	return a;
}

static int post_alerts(struct crowdsec *cs, json_object *arr)
{
	char url[300], auth[2100], err[256];
	struct http_req req = { .url = url, .method = "POST", .ca_file = cs->cfg.ca_file,
				.cancel = &cs->stop, .timeout_s = 30 };
	struct http_resp resp;
	int ret = 0;

	snprintf(url, sizeof(url), "%s/v1/alerts", cs->cfg.lapi_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cs->token);
	req.headers[0] = auth;
	req.headers[1] = "Content-Type: application/json";
	req.body = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	if (http_request(&req, &resp, err, sizeof(err))) {
		say(cs, "pushing alerts: %s", err);
		ret = -EIO;
	} else if (resp.body.status == 401) {
		cs->token[0] = 0;	/* log in again */
		ret = -EACCES;
	} else if (resp.body.status != 200 && resp.body.status != 201) {
		say(cs, "pushing alerts: HTTP %ld: %.120s", resp.body.status,
		    resp.body.data ? resp.body.data : "");
		ret = -EIO;
	}
	fetch_result_free(&resp.body);
	return ret;
}

static void watcher_push(struct crowdsec *cs)
{
	struct export_entry *want = NULL;
	size_t n = 0, batch = 0;
	json_object *arr = NULL;
	int64_t now = wall_ms();
	bool ok = true;

	pthread_mutex_lock(&cs->lock);
	if (cs->want_new && cs->n_want) {
		want = malloc(cs->n_want * sizeof(*want));
		if (want) {
			memcpy(want, cs->want, cs->n_want * sizeof(*want));
			n = cs->n_want;
		}
	}
	cs->want_new = false;
	pthread_mutex_unlock(&cs->lock);
	if (!n)
		return;
	if ((!cs->token[0] || cs->token_exp_ms - now < 60000) && watcher_login(cs)) {
		pthread_mutex_lock(&cs->lock);
		cs->want_new = true;	/* try again at the next poll */
		pthread_mutex_unlock(&cs->lock);
		free(want);
		return;
	}
	for (size_t i = 0; i <= n && ok; i++) {
		if (i < n) {
			struct pushed *p = pushed_find(cs, &want[i].prefix);

			if (p && p->expires_ms > now &&
			    llabs(p->expires_ms - want[i].expires_ms) < PUSH_RENEW_MS)
				continue;	/* CrowdSec has it */
			if (!arr)
				arr = json_object_new_array();
			json_object_array_add(arr, alert_json(&want[i], now));
			batch++;
		}
		if (!arr || (batch < PUSH_BATCH && i < n))
			continue;
		ok = !post_alerts(cs, arr);
		json_object_put(arr);
		arr = NULL;
		batch = 0;
	}
	if (!ok) {
		pthread_mutex_lock(&cs->lock);
		cs->want_new = true;
		pthread_mutex_unlock(&cs->lock);
		free(want);
		return;
	}
	/* what CrowdSec now has: every promotion as of now */
	free(cs->pushed);
	cs->pushed = calloc(n, sizeof(*cs->pushed));
	cs->n_pushed = cs->pushed ? n : 0;
	for (size_t i = 0; i < cs->n_pushed; i++) {
		cs->pushed[i].c = want[i].prefix;
		cs->pushed[i].expires_ms = want[i].expires_ms ? want[i].expires_ms :
								now + 365LL * 86400 * 1000;
	}
	free(want);
}

/* --- the thread, start, stop --------------------------------------------------- */

static void *cs_run(void *arg)
{
	struct crowdsec *cs = arg;

	while (!cs->stop) {
		struct pollfd p = { cs->stop_fd[0], POLLIN, 0 };

		if (cs->api_key[0])
			bouncer_poll(cs);
		if (cs->login[0] && cs->cfg.push)
			watcher_push(cs);
		if (poll(&p, 1, cs->cfg.poll_ms) > 0)
			break;
	}
	return NULL;
}

/* "login: NAME" and "password: SECRET" of `cscli machines add -f FILE`. */
static int read_machine(struct crowdsec *cs, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (!f) {
		snprintf(err, errlen, "[crowdsec] machine_credentials %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char k[32], v[300];

		if (sscanf(line, " %31[a-z_]: %299s", k, v) != 2)
			continue;
		if (!strcmp(k, "login") && strlen(v) < sizeof(cs->login))
			memcpy(cs->login, v, strlen(v) + 1);
		else if (!strcmp(k, "password") && strlen(v) < sizeof(cs->password))
			memcpy(cs->password, v, strlen(v) + 1);
	}
	fclose(f);
	if (!cs->login[0] || !cs->password[0]) {
		snprintf(err, errlen, "%s: want \"login: NAME\" and \"password: SECRET\" lines (the file "
			 "`cscli machines add NAME --password P -f FILE` writes)", path);
		return -EINVAL;
	}
	return 0;
}

int engine_crowdsec_start(struct daemon *d, char *err, size_t errlen)
{
	struct crowdsec *cs = calloc(1, sizeof(*cs));
	sigset_t block, old;
	int ret = 0;

	if (!cs)
		return -ENOMEM;
	cs->cfg = d->cfg.crowdsec;
	cs->wake_fd = d->wake_fd;
	cs->stop_fd[0] = cs->stop_fd[1] = -1;
	pthread_mutex_init(&cs->lock, NULL);
	if (cs->cfg.api_key_file[0])
		ret = http_read_secret(cs->cfg.api_key_file, cs->api_key, sizeof(cs->api_key), err,
				       errlen);
	if (!ret && cs->cfg.machine_credentials[0])
		ret = read_machine(cs, cs->cfg.machine_credentials, err, errlen);
	if (!ret && pipe2(cs->stop_fd, O_CLOEXEC))
		ret = -errno;
	if (!ret) {
		/* the thread leaves our signals to the main loop */
		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		ret = -pthread_create(&cs->th, NULL, cs_run, cs);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (ret)
			snprintf(err, errlen, "[crowdsec]: cannot start its thread: %s", strerror(-ret));
	}
	if (ret) {	/* err says which file, or why */
		if (cs->stop_fd[0] >= 0) {
			close(cs->stop_fd[0]);
			close(cs->stop_fd[1]);
		}
		pthread_mutex_destroy(&cs->lock);
		free(cs);
		return ret;
	}
	cs->started = true;
	d->cs = cs;
	return 0;
}

void engine_crowdsec_stop(struct daemon *d)
{
	struct crowdsec *cs = d->cs;

	if (!cs)
		return;
	cs->stop = 1;
	(void)!write(cs->stop_fd[1], "x", 1);
	pthread_join(cs->th, NULL);
	close(cs->stop_fd[0]);
	close(cs->stop_fd[1]);
	pthread_mutex_destroy(&cs->lock);
	free(cs->dec);
	free(cs->set);
	free(cs->want);
	free(cs->pushed);
	free(cs);
	d->cs = NULL;
}

void engine_crowdsec_promotions(struct daemon *d, const struct export_entry *v, size_t n)
{
	struct crowdsec *cs = d->cs;
	struct export_entry *w;
	size_t k = 0;

	if (!cs || !cs->login[0] || !cs->cfg.push)
		return;
	w = n ? malloc(n * sizeof(*w)) : NULL;
	if (n && !w)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i].owners & FENCE_OWN_PROMOTED)
			w[k++] = v[i];
	pthread_mutex_lock(&cs->lock);
	free(cs->want);
	cs->want = w;
	cs->n_want = k;
	cs->want_new = true;
	pthread_mutex_unlock(&cs->lock);
}

/* Load the decision set the thread handed over as the crowdsec feed. */
void engine_crowdsec_apply(struct daemon *d)
{
	struct crowdsec *cs = d->cs;
	struct feed_prepared p = {};
	struct feed_load_report rep = {};
	struct feed_load_opts o;
	char source[192];
	json_object *ev;
	int ret;

	if (!cs || !atomic_load(&cs->ready))
		return;
	pthread_mutex_lock(&cs->lock);
	p.res.entries = cs->set;
	p.res.n_entries = p.res.cap_entries = cs->n_set;
	p.parsed_ns = cs->set_ns;
	cs->set = NULL;
	cs->n_set = 0;
	atomic_store(&cs->ready, false);
	pthread_mutex_unlock(&cs->lock);
	p.res.format = FEED_FMT_CROWDSEC;
	snprintf(source, sizeof(source), "%s", cs->cfg.lapi_url);
	o = (struct feed_load_opts){ .name = cs->cfg.feed, .source = source,
				     .format = FEED_FMT_CROWDSEC, .action = FENCE_ACT_DROP,
				     .min_len_v4 = FEED_MIN_LEN_V4, .min_len_v6 = FEED_MIN_LEN_V6,
				     .lenient = true, .max_errors_shown = 20, .prepared = &p };
	ret = engine_lock_fresh(d);
	if (!ret) {
		ret = feed_load(&d->s, &o, &rep);
		engine_unlock(d);
		feed_load_print_errors(&o, &rep, ret);
	} else {
		snprintf(rep.why, sizeof(rep.why), "taking the pin dir's lock: %s", strerror(-ret));
	}
	feed_prepared_free(&p);
	ev = event_new("crowdsec", NULL);
	json_object_object_add(ev, "feed", json_object_new_string(cs->cfg.feed));
	json_object_object_add(ev, "ok", json_object_new_boolean(!ret));
	if (ret) {
		json_object_object_add(ev, "why", json_object_new_string(rep.why));
		atomic_store(&cs->again, true);
	} else {
		json_object_object_add(ev, "entries", json_object_new_int64(rep.entries));
		json_object_object_add(ev, "added", json_object_new_int64(rep.added));
		json_object_object_add(ev, "removed", json_object_new_int64(rep.removed));
		json_object_object_add(ev, "refused", json_object_new_int64(rep.errors));
	}
	event_write(d, ev);
	feed_load_report_free(&rep);
}
