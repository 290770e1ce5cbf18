// SPDX-License-Identifier: GPL-2.0
/* user/engine/config.c - see config.h. */
#include <ctype.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>
#include <arpa/inet.h>

#include "engine/config.h"
#include "lib/util.h"
#include "maps/keys.h"
#include "feeds/feed.h"
#include "feeds/fetch.h"
#include "feeds/stix_out.h"

#define CONFIG_ERRORS_MAX	20	/* errors listed; more are counted */

struct parse_ctx {
	struct config *cfg;
	const char *path;
	char *err;			/* every error, one "FILE:LINE: what" a line */
	size_t errlen, errused;
	unsigned n_errors;
	unsigned line;			/* of the line inih is parsing (the reader's count) */
	char section[64];		/* the [section] of the last call, for messages */
	bool dropped;			/* the current section was refused: skip its keys */
	/* the text, handed to inih a line at a time */
	const char *pos, *end;
	/* every section header seen: repeats are errors */
	struct seen_section {
		char name[64];
		unsigned line;
	} *seen;
	size_t n_seen, cap_seen;
};

/* Record one error at line (0: the file as a whole). */
static void add_error(struct parse_ctx *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_error(struct parse_ctx *p, unsigned line, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int n;

	if (p->n_errors++ >= CONFIG_ERRORS_MAX || p->errused >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line)
		n = snprintf(p->err + p->errused, p->errlen - p->errused, "%s%s:%u: %s",
			     p->errused ? "\n" : "", p->path, line, what);
	else
		n = snprintf(p->err + p->errused, p->errlen - p->errused, "%s%s: %s",
			     p->errused ? "\n" : "", p->path, what);
	p->errused += n > 0 ? (size_t)n : 0;
	if (p->errused > p->errlen)
		p->errused = p->errlen;
}

static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A bad key or value: the error names the line it is on. */
static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	add_error(p, p->line, "[%s] %s: %s", section, key, what);
	return 1;	/* recorded here: inih goes on to the next line */
}

/* "[kind NAME]" -> NAME, if section starts with kind and a blank */
static const char *named(const char *section, const char *kind)
{
	size_t n = strlen(kind);

	if (strncmp(section, kind, n) || section[n] != ' ')
		return NULL;
	section += n;
	while (*section == ' ')
		section++;
	return *section ? section : NULL;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return false;
	return true;
}

/* "200/s", "0.5/s", "30/m", "1000/h", "200" -> per second */
static bool parse_rate_f(const char *v, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (errno || end == v || !isfinite(x) || x < 0 || !isdigit((unsigned char)*v))
		return false;
	if (!*end || !strcmp(end, "/s"))
		*out = x;
	else if (!strcmp(end, "/m"))
		*out = x / 60;
	else if (!strcmp(end, "/h"))
		*out = x / 3600;
	else
		return false;
	return true;
}

/* "10%" or "0.1" -> 0.1 */
static bool parse_fraction(const char *v, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (errno || end == v || !isfinite(x) || x < 0)
		return false;
	if (!strcmp(end, "%"))
		x /= 100;
	else if (*end)
		return false;
	if (x >= 1)
		return false;
	*out = x;
	return true;
}

/* "4 within /16": every number whole and in range (no wrapping) */
static bool parse_children(const char *v, int max_len, __u8 *n, __u8 *len)
{
	char a[16], b[8], tail;
	__u32 x, y;

	if (sscanf(v, "%15[0-9] within /%7[0-9]%c", a, b, &tail) != 2 || parse_u32(a, 2, 64, &x) ||
	    parse_u32(b, 1, max_len, &y))
		return false;
	*n = x;
	*len = y;
	return true;
}

/* "ADDRESS:PORT": an IPv4 address or a bracketed IPv6 one, a port 1..65535 */
static bool parse_listen(const char *v)
{
	char host[64];
	const char *colon = strrchr(v, ':');
	unsigned char buf[16];
	size_t n;
	__u32 port;

	if (!colon || parse_u32(colon + 1, 1, 65535, &port))
		return false;
	n = colon - v;
	if (n >= sizeof(host))
		return false;
	memcpy(host, v, n);
	host[n] = 0;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = 0;
		return inet_pton(AF_INET6, host + 1, buf) == 1;
	}
	return inet_pton(AF_INET, host, buf) == 1;
}

static bool copy(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return false;
	strcpy(dst, v);
	return true;
}

static int on_daemon(struct parse_ctx *p, const char *key, const char *v)
{
	struct config *c = p->cfg;
	__u64 s;

	if (!strcmp(key, "tick")) {
		char *end;
		double x = strtod(v, &end);

		/* "1s", "500ms", "2" */
		if (end == v || x <= 0)
			return fail(p, "daemon", key, "\"%s\": want a duration like 1s or 500ms", v);
		if (!strcmp(end, "ms"))
			c->tick_ms = x;
		else if (!*end || !strcmp(end, "s"))
			c->tick_ms = x * 1000;
		else if (!parse_duration(v, &s))
			c->tick_ms = s * 1000;
		else
			return fail(p, "daemon", key, "\"%s\": want a duration like 1s or 500ms", v);
		if (c->tick_ms < 100 || c->tick_ms > 60000)
			return fail(p, "daemon", key, "\"%s\": want 100ms..60s", v);
	} else if (!strcmp(key, "state_file")) {
		if (!copy(c->state_file, sizeof(c->state_file), v))
			return fail(p, "daemon", key, "path too long");
	} else if (!strcmp(key, "events")) {
		if (!copy(c->events, sizeof(c->events), v))
			return fail(p, "daemon", key, "path too long");
	} else if (!strcmp(key, "memory_limit")) {
		if (parse_size(v, &c->memory_limit) || (c->memory_limit && c->memory_limit < (64ULL << 20)))
			return fail(p, "daemon", key, "\"%s\": want a size like 512M or 4G (at least 64M; "
				    "0 for none)", v);
		c->memory_limit_set = true;
	} else if (!strcmp(key, "metrics")) {
		if (!parse_listen(v) || !copy(c->metrics, sizeof(c->metrics), v))
			return fail(p, "daemon", key, "\"%s\": want ADDRESS:PORT, e.g. 127.0.0.1:9469 "
				    "or [::1]:9469", v);
	} else {
		return fail(p, "daemon", key, "unknown key (tick, state_file, events, metrics, memory_limit)");
	}
	return 1;
}

static int on_iface(struct parse_ctx *p, struct config_iface *i, const char *key, const char *v)
{
	if (!strcmp(key, "mode")) {
		if (!strcmp(v, "native") || !strcmp(v, "skb"))
			i->skb = !strcmp(v, "skb");
		else
			return fail(p, p->section, key, "\"%s\": want native or skb", v);
		return 1;
	}
	return fail(p, p->section, key, "unknown key (mode)");
}

/* throttle_rate and throttle_burst, in [feed] and [rule] alike: as an inih
 * handler answers (1 taken, 0 bad value), or -1 for another key. */
static int on_throttle(struct parse_ctx *p, const char *key, const char *v, __u32 *rate,
		       __u32 *burst)
{
	if (!strcmp(key, "throttle_rate")) {
		if (parse_rate(v, rate))
			return fail(p, p->section, key, "\"%s\": want a rate like 5/s", v);
	} else if (!strcmp(key, "throttle_burst")) {
		if (parse_u32(v, 1, 1000000, burst))
			return fail(p, p->section, key, "\"%s\": want 1..1000000", v);
	} else {
		return -1;
	}
	return 1;
}

static int on_feed(struct parse_ctx *p, struct config_feed *f, const char *key, const char *v)
{
	__u32 n;
	int x;

	if (!strcmp(key, "source")) {
		if (!copy(f->source, sizeof(f->source), v))
			return fail(p, p->section, key, "longer than %zu characters", sizeof(f->source) - 1);
	} else if (!strcmp(key, "format")) {
		x = feed_format_parse(v);
		if (x < 0)
			return fail(p, p->section, key, "\"%s\": want auto, plain, netset, spamhaus-json, "
				    "ipset, crowdsec or stix", v);
		f->format = x;
	} else if (!strcmp(key, "refresh")) {
		if (parse_duration(v, &f->refresh_s) || (f->refresh_s && f->refresh_s < 10))
			return fail(p, p->section, key, "\"%s\": want a duration of 10s or more, or 0", v);
	} else if (!strcmp(key, "action")) {
		x = parse_action(v);
		if (x < 0)
			return fail(p, p->section, key, "\"%s\": want drop, throttle or monitor", v);
		f->action = x;
	} else if (!strcmp(key, "ttl")) {
		if (parse_duration(v, &f->ttl_s))
			return fail(p, p->section, key, "\"%s\": want a duration like 1h (at most 3650d)", v);
	} else if (!strcmp(key, "lenient")) {
		if (!parse_bool(v, &f->lenient))
			return fail(p, p->section, key, "\"%s\": want yes or no", v);
	} else if (!strcmp(key, "min_len_v4")) {
		if (parse_u32(v, 0, 32, &n))
			return fail(p, p->section, key, "\"%s\": want 0..32", v);
		f->min_len_v4 = n;
	} else if (!strcmp(key, "min_len_v6")) {
		if (parse_u32(v, 0, 128, &n))
			return fail(p, p->section, key, "\"%s\": want 0..128", v);
		f->min_len_v6 = n;
	} else if (!strcmp(key, "timeout")) {
		__u64 t;

		if (parse_duration(v, &t) || !t || t > 86400)
			return fail(p, p->section, key, "\"%s\": want a duration from 1s to 1d", v);
		f->timeout_s = t;
	} else if (!strcmp(key, "max_size")) {
		if (parse_size(v, &f->max_bytes) || !f->max_bytes || f->max_bytes > (1ULL << 40))
			return fail(p, p->section, key, "\"%s\": want a size like 64M or 2G (at most 1T)",
				    v);
	} else if (!strcmp(key, "token_file")) {
		if (!copy(f->token_file, sizeof(f->token_file), v))
			return fail(p, p->section, key, "path too long");
	} else if (!strcmp(key, "ca_file")) {
		if (!copy(f->ca_file, sizeof(f->ca_file), v))
			return fail(p, p->section, key, "path too long");
	} else if ((x = on_throttle(p, key, v, &f->throttle_rate, &f->throttle_burst)) >= 0) {
		return x;
	} else {
		return fail(p, p->section, key, "unknown key (source, format, refresh, action, ttl, "
			    "lenient, min_len_v4, min_len_v6, throttle_rate, throttle_burst, timeout, "
			    "max_size, token_file, ca_file)");
	}
	return 1;
}

static int on_rule(struct parse_ctx *p, struct config_rule *r, const char *key, const char *v)
{
	__u64 d;
	int x;

	static const char *const metrics[] = {
		[CONFIG_NEW_CONNS] = "new_conns", [CONFIG_PACKETS] = "packets",
		[CONFIG_BYTES] = "bytes", [CONFIG_HOSTS] = "hosts",
		[CONFIG_SIGNALS] = "signals", [CONFIG_ACCOUNTS] = "accounts",
	};

	if (!strcmp(key, "metric")) {
		for (x = 0; x < (int)(sizeof(metrics) / sizeof(metrics[0])); x++)
			if (!strcmp(v, metrics[x]))
				break;
		if (x == (int)(sizeof(metrics) / sizeof(metrics[0])))
			return fail(p, p->section, key, "\"%s\": want new_conns, packets, bytes (a rate), "
				    "hosts, signals or accounts (a count)", v);
		r->metric = x;
	} else if (!strcmp(key, "rate")) {
		if (!parse_rate_f(v, &r->rate) || r->rate <= 0)
			return fail(p, p->section, key, "\"%s\": want a rate like 200/s, 30/m", v);
	} else if (!strcmp(key, "count")) {
		if (parse_u32(v, 1, 1000000000, &r->count))
			return fail(p, p->section, key, "\"%s\": want a whole number from 1", v);
	} else if (!strcmp(key, "min_hosts")) {
		if (parse_u32(v, 1, 1000000000, &r->min_hosts))
			return fail(p, p->section, key, "\"%s\": want a whole number of hosts from 1", v);
	} else if (!strcmp(key, "max_hosts")) {
		if (parse_u32(v, 1, 1000000000, &r->max_hosts))
			return fail(p, p->section, key, "\"%s\": want a whole number of hosts from 1", v);
	} else if (!strcmp(key, "window")) {
		if (parse_duration(v, &d) || !d || d > 86400)
			return fail(p, p->section, key, "\"%s\": want a duration from 1s to 1d", v);
		r->window_s = d;
	} else if (!strcmp(key, "action")) {
		if (!strcmp(v, "ban") || !strcmp(v, "drop"))
			r->action = FENCE_ACT_DROP;
		else if (!strcmp(v, "throttle"))
			r->action = FENCE_ACT_THROTTLE;
		else if (!strcmp(v, "monitor"))
			r->action = FENCE_ACT_MONITOR;
		else
			return fail(p, p->section, key, "\"%s\": want ban, throttle or monitor", v);
	} else if (!strcmp(key, "ttl")) {
		if (parse_duration(v, &r->ttl_s) || !r->ttl_s)
			return fail(p, p->section, key, "\"%s\": want a duration like 10m (at most 3650d)", v);
	} else if (!strcmp(key, "max_ttl")) {
		if (parse_duration(v, &r->max_ttl_s) || !r->max_ttl_s)
			return fail(p, p->section, key, "\"%s\": want a duration like 24h (at most 3650d)", v);
	} else if (!strcmp(key, "escalate")) {
		char *end;

		r->escalate = strtod(v, &end);
		if (end == v || *end || !isfinite(r->escalate) || r->escalate < 1 || r->escalate > 100)
			return fail(p, p->section, key, "\"%s\": want a factor from 1 to 100", v);
	} else if (!strcmp(key, "jitter")) {
		if (!parse_fraction(v, &r->jitter))
			return fail(p, p->section, key, "\"%s\": want a fraction like 10%% or 0.1", v);
	} else if (!strcmp(key, "scope")) {
		if (strcmp(v, "local") && strcmp(v, "fleet"))
			return fail(p, p->section, key, "\"%s\": want local or fleet", v);
		r->fleet = !strcmp(v, "fleet");
	} else if ((x = on_throttle(p, key, v, &r->throttle_rate, &r->throttle_burst)) >= 0) {
		return x;
	} else {
		return fail(p, p->section, key, "unknown key (metric, rate, count, window, min_hosts, "
			    "max_hosts, action, ttl, max_ttl, escalate, jitter, throttle_rate, "
			    "throttle_burst, scope)");
	}
	return 1;
}

/* [taxii] */
static int on_taxii(struct parse_ctx *p, struct config_taxii *t, const char *key, const char *v)
{
	struct {
		const char *key;
		char *dst;
		size_t len;
	} paths[] = {
		{ "token_file", t->token_file, sizeof(t->token_file) },
		{ "tls_cert", t->tls_cert, sizeof(t->tls_cert) },
		{ "tls_key", t->tls_key, sizeof(t->tls_key) },
		{ "history_file", t->history_file, sizeof(t->history_file) },
	};
	int x;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!strcmp(key, paths[i].key)) {
			if (!copy(paths[i].dst, paths[i].len, v))
				return fail(p, "taxii", key, "path too long");
			return 1;
		}
	if (!strcmp(key, "listen")) {
		if (!parse_listen(v) || !copy(t->listen, sizeof(t->listen), v))
			return fail(p, "taxii", key, "\"%s\": want ADDRESS:PORT, e.g. 127.0.0.1:9470", v);
	} else if (!strcmp(key, "identity")) {
		if (!*v || !copy(t->identity, sizeof(t->identity), v))
			return fail(p, "taxii", key, "want 1..%zu characters", sizeof(t->identity) - 1);
	} else if (!strcmp(key, "tlp")) {
		x = stix_tlp_parse(v);
		if (x < 0)
			return fail(p, "taxii", key, "\"%s\": want clear, green, amber, amber+strict or red",
				    v);
		t->tlp = x;
	} else if (!strcmp(key, "history_max")) {
		if (parse_u32(v, 100, 10000000, &t->history_max))
			return fail(p, "taxii", key, "\"%s\": want 100..10000000 objects", v);
	} else if (!strcmp(key, "history_keep")) {
		if (parse_duration(v, &t->history_keep_s) || !t->history_keep_s)
			return fail(p, "taxii", key, "\"%s\": want a duration like 7d", v);
	} else {
		return fail(p, "taxii", key, "unknown key (listen, token_file, tls_cert, tls_key, "
			    "identity, tlp, history_file, history_max, history_keep)");
	}
	return 1;
}

/* [signals] */
static int on_signals(struct parse_ctx *p, struct config_signals *g, const char *key, const char *v)
{
	if (!strcmp(key, "listen")) {
		if (!parse_listen(v) || !copy(g->listen, sizeof(g->listen), v))
			return fail(p, "signals", key, "\"%s\": want ADDRESS:PORT, e.g. 127.0.0.1:9472", v);
	} else if (!strcmp(key, "token_file")) {
		if (!copy(g->token_file, sizeof(g->token_file), v))
			return fail(p, "signals", key, "path too long");
	} else if (!strcmp(key, "socket")) {
		if (v[0] != '/' || !copy(g->socket, sizeof(g->socket), v))
			return fail(p, "signals", key, "\"%s\": want an absolute path of at most %zu "
				    "characters", v, sizeof(g->socket) - 1);
	} else if (!strcmp(key, "socket_group")) {
		if (!*v || !copy(g->socket_group, sizeof(g->socket_group), v))
			return fail(p, "signals", key, "\"%s\": want a group name", v);
	} else if (!strcmp(key, "client_rate")) {
		if (!parse_rate_f(v, &g->client_rate) || g->client_rate <= 0)
			return fail(p, "signals", key, "\"%s\": want a rate of reports like 100/s", v);
	} else if (!strcmp(key, "client_burst")) {
		if (parse_u32(v, 1, 10000000, &g->client_burst))
			return fail(p, "signals", key, "\"%s\": want 1..10000000 reports", v);
	} else if (!strcmp(key, "max_pending")) {
		if (parse_u32(v, 1, 10000000, &g->max_pending))
			return fail(p, "signals", key, "\"%s\": want 1..10000000 reports", v);
	} else if (!strcmp(key, "max_signals")) {
		if (parse_u32(v, 1, 100000000, &g->max_signals))
			return fail(p, "signals", key, "\"%s\": want 1..100000000 reports", v);
	} else if (!strcmp(key, "max_body")) {
		__u64 b;

		if (parse_size(v, &b) || b < 256 || b > (64 << 20))
			return fail(p, "signals", key, "\"%s\": want a size from 256 to 64M", v);
		g->max_body = b;
	} else {
		return fail(p, "signals", key, "unknown key (listen, token_file, socket, socket_group, "
			    "client_rate, client_burst, max_pending, max_signals, max_body)");
	}
	return 1;
}

/* [crowdsec] */
static int on_crowdsec(struct parse_ctx *p, struct config_crowdsec *c, const char *key, const char *v)
{
	__u64 d;

	if (!strcmp(key, "lapi_url")) {
		if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) ||
		    !copy(c->lapi_url, sizeof(c->lapi_url), v))
			return fail(p, "crowdsec", key, "\"%s\": want an http(s) URL, e.g. "
				    "http://127.0.0.1:8080", v);
		while (strlen(c->lapi_url) > 8 && c->lapi_url[strlen(c->lapi_url) - 1] == '/')
			c->lapi_url[strlen(c->lapi_url) - 1] = 0;
	} else if (!strcmp(key, "api_key_file")) {
		if (!copy(c->api_key_file, sizeof(c->api_key_file), v))
			return fail(p, "crowdsec", key, "path too long");
	} else if (!strcmp(key, "machine_credentials")) {
		if (!copy(c->machine_credentials, sizeof(c->machine_credentials), v))
			return fail(p, "crowdsec", key, "path too long");
	} else if (!strcmp(key, "ca_file")) {
		if (!copy(c->ca_file, sizeof(c->ca_file), v))
			return fail(p, "crowdsec", key, "path too long");
	} else if (!strcmp(key, "origins")) {
		for (const char *q = v; *q; q++)
			if (!isalnum((unsigned char)*q) && !strchr(",-_", *q))
				return fail(p, "crowdsec", key, "\"%s\": want origins separated by commas, "
					    "e.g. cscli,crowdsec", v);
		if (!copy(c->origins, sizeof(c->origins), v))
			return fail(p, "crowdsec", key, "too long");
	} else if (!strcmp(key, "scopes")) {
		char buf[64], *save = NULL, *w;

		if (!copy(buf, sizeof(buf), v))
			return fail(p, "crowdsec", key, "too long");
		c->scope_ip = c->scope_range = false;
		for (w = strtok_r(buf, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
			if (!strcasecmp(w, "ip"))
				c->scope_ip = true;
			else if (!strcasecmp(w, "range"))
				c->scope_range = true;
			else
				return fail(p, "crowdsec", key, "\"%s\": want ip, range or both "
					    "(ip,range)", w);
		}
		if (!c->scope_ip && !c->scope_range)
			return fail(p, "crowdsec", key, "want ip, range or both (ip,range)");
	} else if (!strcmp(key, "poll")) {
		char *end;
		double x = strtod(v, &end);

		if (end != v && !strcmp(end, "ms") && x >= 200)
			c->poll_ms = x;
		else if (!parse_duration(v, &d) && d >= 1 && d <= 3600)
			c->poll_ms = d * 1000;
		else
			return fail(p, "crowdsec", key, "\"%s\": want a duration from 200ms to 1h", v);
	} else if (!strcmp(key, "feed")) {
		if (!feed_name_valid(v) || !copy(c->feed, sizeof(c->feed), v))
			return fail(p, "crowdsec", key, "\"%s\": want 1..31 of [A-Za-z0-9_.-]", v);
	} else if (!strcmp(key, "push")) {
		if (!parse_bool(v, &c->push))
			return fail(p, "crowdsec", key, "\"%s\": want yes or no", v);
	} else {
		return fail(p, "crowdsec", key, "unknown key (lapi_url, api_key_file, origins, scopes, "
			    "poll, feed, machine_credentials, push, ca_file)");
	}
	return 1;
}

/* "nats://HOST:PORT" or "tls://HOST:PORT" (HOST a name, an IPv4 address or
 * a bracketed IPv6 one); no user or password in it (use creds) */
static bool parse_server(const char *v)
{
	const char *h = !strncmp(v, "nats://", 7) ? v + 7 : !strncmp(v, "tls://", 6) ? v + 6 : NULL;
	const char *colon;
	__u32 port;

	if (!h || !*h || strchr(h, '@') || strchr(h, '/'))
		return false;
	colon = strrchr(h, ':');
	if (!colon || colon == h || parse_u32(colon + 1, 1, 65535, &port))
		return false;
	if (*h == '[')
		return colon[-1] == ']';
	for (const char *c = h; c < colon; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-')
			return false;
	return true;
}

/* Names that go into NATS subjects and KV keys: no blanks, dots where
 * they would split a token, wildcards or ':'. */
static bool fleet_name_ok(const char *v, size_t max, bool dots)
{
	size_t n = strlen(v);

	if (!n || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-' && !(dots && v[i] == '.'))
			return false;
	return true;
}

static int on_fleet(struct parse_ctx *p, const char *key, const char *v)
{
	struct config_fleet *f = &p->cfg->fleet;

	if (!strcmp(key, "servers")) {
		char list[1024], *save = NULL;

		if (!copy(list, sizeof(list), v))
			return fail(p, "fleet", key, "longer than %zu characters", sizeof(list) - 1);
		f->n_servers = 0;
		for (char *t = strtok_r(list, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
			if (f->n_servers == CONFIG_MAX_SERVERS)
				return fail(p, "fleet", key, "more than %d servers", CONFIG_MAX_SERVERS);
			if (!parse_server(t) || !copy(f->servers[f->n_servers], sizeof(f->servers[0]), t))
				return fail(p, "fleet", key, "\"%s\": want nats://HOST:PORT or "
					    "tls://HOST:PORT, comma-separated", t);
			f->n_servers++;
		}
		if (!f->n_servers)
			return fail(p, "fleet", key, "no server listed");
	} else if (!strcmp(key, "bucket")) {
		if (!fleet_name_ok(v, sizeof(f->bucket), false))
			return fail(p, "fleet", key, "\"%s\": want 1..%zu of [A-Za-z0-9_-]", v,
				    sizeof(f->bucket) - 1);
		strcpy(f->bucket, v);
	} else if (!strcmp(key, "replicas")) {
		if (parse_u32(v, 1, 5, &f->replicas))
			return fail(p, "fleet", key, "\"%s\": want 1..5", v);
	} else if (!strcmp(key, "node")) {
		if (!fleet_name_ok(v, sizeof(f->node), true))
			return fail(p, "fleet", key, "\"%s\": want 1..%zu of [A-Za-z0-9_.-]", v,
				    sizeof(f->node) - 1);
		strcpy(f->node, v);
	} else if (!strcmp(key, "share")) {
		char list[128], *save = NULL;

		if (!copy(list, sizeof(list), v))
			return fail(p, "fleet", key, "too long");
		f->share = 0;
		for (char *t = strtok_r(list, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
			if (!strcmp(t, "promoted"))
				f->share |= FENCE_OWN_PROMOTED;
			else if (!strcmp(t, "manual"))
				f->share |= FENCE_OWN_MANUAL;
			else if (strcmp(t, "none"))
				return fail(p, "fleet", key, "\"%s\": want promoted, manual (a comma "
					    "list) or none", t);
		}
	} else if (!strcmp(key, "count_floor")) {
		if (!parse_rate_f(v, &f->count_floor) || f->count_floor <= 0)
			return fail(p, "fleet", key, "\"%s\": want a rate like 1/s", v);
	} else if (!strcmp(key, "tls_ca") || !strcmp(key, "tls_cert") || !strcmp(key, "tls_key") ||
		   !strcmp(key, "creds")) {
		char *dst = key[4] == 'c' && key[5] == 'a' ? f->tls_ca : key[4] == 'c' ? f->tls_cert :
			    key[4] == 'k' ? f->tls_key : f->creds;

		if (!copy(dst, sizeof(f->tls_ca), v))
			return fail(p, "fleet", key, "path too long");
	} else {
		return fail(p, "fleet", key, "unknown key (servers, bucket, replicas, node, share, "
			    "count_floor, tls_ca, tls_cert, tls_key, creds)");
	}
	return 1;
}

/* A section header at p->line: start its entry (defaults in), or refuse it
 * (a repeat, an unknown kind, one too many) and skip its keys. */
static void on_section(struct parse_ctx *p, const char *section)
{
	struct config *c = p->cfg;
	const char *name;

	p->dropped = true;
	snprintf(p->section, sizeof(p->section), "%s", section);
	for (size_t i = 0; i < p->n_seen; i++)
		if (!strcmp(p->seen[i].name, section)) {
			add_error(p, p->line, "[%s] appears twice (first at line %u)", section,
				  p->seen[i].line);
			return;
		}
	if (p->n_seen == p->cap_seen) {
		size_t cap = p->cap_seen ? p->cap_seen * 2 : 16;
		struct seen_section *v = realloc(p->seen, cap * sizeof(*v));

		if (!v) {
			add_error(p, p->line, "out of memory");
			return;
		}
		p->seen = v;
		p->cap_seen = cap;
	}
	snprintf(p->seen[p->n_seen].name, sizeof(p->seen[0].name), "%s", section);
	p->seen[p->n_seen++].line = p->line;

	if (!strcmp(section, "daemon") || !strcmp(section, "aggregate")) {
		p->dropped = false;
	} else if (!strcmp(section, "taxii")) {
		c->taxii.line = p->line;
		p->dropped = false;
	} else if (!strcmp(section, "crowdsec")) {
		c->crowdsec.line = p->line;
		p->dropped = false;
	} else if (!strcmp(section, "signals")) {
		c->signals.line = p->line;
		p->dropped = false;
	} else if (!strcmp(section, "fleet")) {
		struct config_fleet *f = &c->fleet;

		f->on = true;
		f->line = p->line;
		strcpy(f->bucket, "xdpfence");
		f->share = FENCE_OWN_PROMOTED;
		f->count_floor = 1;
		p->dropped = false;
	} else if ((name = named(section, "interface"))) {
		if (c->n_ifaces == CONFIG_MAX_IFACES)
			add_error(p, p->line, "[%s]: more than %d interfaces", section, CONFIG_MAX_IFACES);
		else if (!copy(c->ifaces[c->n_ifaces].name, sizeof(c->ifaces[0].name), name))
			add_error(p, p->line, "[%s]: interface name too long", section);
		else
			c->ifaces[c->n_ifaces++].line = p->line, p->dropped = false;
	} else if ((name = named(section, "feed"))) {
		struct config_feed *f = &c->feeds[c->n_feeds];

		if (c->n_feeds == CONFIG_MAX_FEEDS) {
			add_error(p, p->line, "[%s]: more than %d feeds", section, CONFIG_MAX_FEEDS);
		} else if (!feed_name_valid(name)) {
			add_error(p, p->line, "[%s]: feed name \"%s\": want 1..31 of [A-Za-z0-9_.-]",
				  section, name);
		} else {
			memset(f, 0, sizeof(*f));
			strcpy(f->name, name);
			f->line = p->line;
			f->min_len_v4 = FEED_MIN_LEN_V4;
			f->min_len_v6 = FEED_MIN_LEN_V6;
			f->throttle_rate = 10;	/* as `feed load` */
			f->throttle_burst = 20;
			c->n_feeds++;
			p->dropped = false;
		}
	} else if ((name = named(section, "rule"))) {
		struct config_rule *r = &c->rules[c->n_rules];

		if (c->n_rules == CONFIG_MAX_RULES) {
			add_error(p, p->line, "[%s]: more than %d rules", section, CONFIG_MAX_RULES);
		} else if (!copy(r->name, sizeof(r->name), name)) {
			add_error(p, p->line, "[%s]: rule name too long", section);
		} else {
			/* defaults a rule may leave out */
			r->line = p->line;
			r->metric = CONFIG_NEW_CONNS;
			r->action = FENCE_ACT_DROP;
			r->ttl_s = 600;
			r->max_ttl_s = 86400;
			r->escalate = 2;
			r->jitter = 0.1;
			r->throttle_rate = 10;
			r->throttle_burst = 20;
			c->n_rules++;
			p->dropped = false;
		}
	} else {
		add_error(p, p->line, "[%s]: unknown section (daemon, interface NAME, feed NAME, "
			  "rule NAME, aggregate, taxii, crowdsec, signals, fleet)", section);
	}
}

static int on_key(void *user, const char *section, const char *key, const char *v)
{
	struct parse_ctx *p = user;
	struct config *c = p->cfg;

	if (p->dropped)
		return 1;	/* its header was refused, with the reason */
	if (!strcmp(section, "daemon"))
		return on_daemon(p, key, v);
	if (!strcmp(section, "fleet"))
		return on_fleet(p, key, v);
	if (!strcmp(section, "aggregate")) {
		if (!strcmp(key, "v4_children") && parse_children(v, 32, &c->v4_children, &c->v4_parent_len))
			return 1;
		if (!strcmp(key, "v6_children") && parse_children(v, 128, &c->v6_children, &c->v6_parent_len))
			return 1;
		if (strcmp(key, "v4_children") && strcmp(key, "v6_children"))
			return fail(p, section, key, "unknown key (v4_children, v6_children)");
		return fail(p, section, key, "\"%s\": want \"N within /LEN\" (N 2..64), e.g. 4 within /16",
			    v);
	}
	if (!strcmp(section, "taxii"))
		return on_taxii(p, &c->taxii, key, v);
	if (!strcmp(section, "crowdsec"))
		return on_crowdsec(p, &c->crowdsec, key, v);
	if (!strcmp(section, "signals"))
		return on_signals(p, &c->signals, key, v);
	if (named(section, "interface"))
		return on_iface(p, &c->ifaces[c->n_ifaces - 1], key, v);
	if (named(section, "feed"))
		return on_feed(p, &c->feeds[c->n_feeds - 1], key, v);
	return on_rule(p, &c->rules[c->n_rules - 1], key, v);
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* inih's reader: the next line, prepared so that its line limit
 * (INI_MAX_LINE) bites only on what matters: comments are dropped (a whole
 * comment line becomes empty, an inline one after " ;" goes) and the blanks
 * around the first '=' or ':' are squeezed out. A line whose key and value
 * still do not fit is an error at its line, never split in two. Section
 * headers are taken here (on_section), since inih reports only keys. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	const char *b, *e, *nl;
	char line[4096], *q;
	size_t n;

	if (p->pos >= p->end)
		return NULL;
	b = p->pos;
	nl = memchr(b, '\n', p->end - b);
	e = nl ? nl : p->end;
	p->pos = nl ? nl + 1 : p->end;
	p->line++;
	if (p->line == 1 && e - b >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3))
		b += 3;		/* a UTF-8 BOM */
	while (e > b && is_blank(e[-1]))
		e--;
	n = e - b;
	if (n >= sizeof(line)) {
		add_error(p, p->line, "line longer than %zu characters", sizeof(line) - 1);
		n = 0;
	}
	memcpy(line, b, n);
	line[n] = 0;
	q = line;
	while (is_blank(*q))
		q++;
	if (*q == ';' || *q == '#') {
		line[0] = 0;
	} else if (*q) {
		char *c;

		/* an inline comment: ';' after a blank, as inih takes it */
		for (c = q + 1; *c; c++)
			if (*c == ';' && is_blank(c[-1])) {
				*c = 0;
				break;
			}
		n = strlen(line);
		while (n && is_blank(line[n - 1]))
			line[--n] = 0;
		if (*q == '[') {
			char *close = strchr(q, ']');

			if (!close || close[1]) {
				add_error(p, p->line, "\"%s\": want a section header like [rule NAME]", q);
				line[0] = 0;
			} else {
				*close = 0;
				on_section(p, q + 1);
				*close = ']';
			}
		} else if (q == line) {		/* key = value (indented: a continuation) */
			char *sep = strpbrk(line, "=:"), *k = sep, *v = sep ? sep + 1 : NULL;

			if (!sep) {
				add_error(p, p->line, "\"%s\": want key = value, [section] or a comment",
					  line);
				line[0] = 0;
			} else {
				char sepc = *sep;

				while (k > line && is_blank(k[-1]))
					k--;
				while (is_blank(*v))
					v++;
				k[0] = sepc;
				memmove(k + 1, v, strlen(v) + 1);
			}
		}
	}
	n = strlen(line);
	if (n + 2 > (size_t)num) {
		add_error(p, p->line, "line too long: at most %d characters of key and value "
			  "(comments and blanks aside)", num - 2);
		n = 0;
	}
	memcpy(str, line, n);
	str[n] = '\n';
	str[n + 1] = 0;
	return str;
}

/* [taxii], [crowdsec] and [signals] as a whole. */
static void check_intel(struct parse_ctx *p)
{
	const struct config_taxii *t = &p->cfg->taxii;
	const struct config_crowdsec *c = &p->cfg->crowdsec;
	const struct config_signals *g = &p->cfg->signals;

	if (t->line && !t->listen[0])
		add_error(p, t->line, "[taxii] needs listen (ADDRESS:PORT)");
	if (t->line && !t->token_file[0])
		add_error(p, t->line, "[taxii] needs token_file (lines \"NAME TOKEN\"): the server "
			  "never serves without credentials");
	if (t->line && !t->tls_cert[0] != !t->tls_key[0])
		add_error(p, t->line, "[taxii] tls_cert and tls_key go together");
	if (g->line && !g->listen[0] && !g->socket[0])
		add_error(p, g->line, "[signals] needs listen (ADDRESS:PORT), socket (a path), or both");
	if (g->line && g->listen[0] && !g->token_file[0])
		add_error(p, g->line, "[signals] listen needs token_file: the server never takes "
			  "reports without credentials");
	if (g->line && g->socket_group[0] && !g->socket[0])
		add_error(p, g->line, "[signals] socket_group needs socket");
	if (c->line && !c->lapi_url[0])
		add_error(p, c->line, "[crowdsec] needs lapi_url");
	if (c->line && !c->api_key_file[0] && !c->machine_credentials[0])
		add_error(p, c->line, "[crowdsec] needs api_key_file (bouncer), machine_credentials "
			  "(push), or both");
	for (unsigned i = 0; c->line && c->api_key_file[0] && i < p->cfg->n_feeds; i++)
		if (!strcmp(p->cfg->feeds[i].name, c->feed))
			add_error(p, c->line, "[crowdsec] feed = %s: also a [feed %s] (line %u): give "
				  "one of them another name", c->feed, c->feed, p->cfg->feeds[i].line);
}

/* [fleet] as a whole: servers given, a node name (the host's by default),
 * TLS files in pairs; a rule of scope fleet needs it. */
static void check_fleet(struct parse_ctx *p)
{
	struct config_fleet *f = &p->cfg->fleet;
	char host[256] = "";

	for (unsigned i = 0; i < p->cfg->n_rules; i++)
		if (p->cfg->rules[i].fleet && !f->on)
			add_error(p, p->cfg->rules[i].line, "[rule %s] scope = fleet needs a [fleet] "
				  "section", p->cfg->rules[i].name);
	if (!f->on)
		return;
	if (!f->n_servers)
		add_error(p, f->line, "[fleet] needs servers (nats://HOST:PORT, ...)");
	if (!f->replicas)
		f->replicas = f->n_servers >= 3 ? 3 : 1;
	if (!!f->tls_cert[0] != !!f->tls_key[0])
		add_error(p, f->line, "[fleet] tls_cert and tls_key go together");
	if (!f->node[0]) {
		if (gethostname(host, sizeof(host) - 1) || !fleet_name_ok(host, sizeof(f->node), true))
			add_error(p, f->line, "[fleet] node: the host name \"%.64s\" will not do as a "
				  "node name (1..31 of [A-Za-z0-9_.-]): set node", host);
		else
			strcpy(f->node, host);
	}
}

/* Checks of the file as a whole, each at the line of the section at fault. */
static void check_whole(struct parse_ctx *p)
{
	struct config *cfg = p->cfg;

	for (unsigned i = 0; i < cfg->n_rules; i++) {
		struct config_rule *r = &cfg->rules[i];

		bool counted = r->metric >= CONFIG_HOSTS;

		if (!r->window_s)
			add_error(p, r->line, "[rule %s] needs a window", r->name);
		if (!counted && (!r->rate || r->count))
			add_error(p, r->line, "[rule %s] metric %s takes a rate (and no count)", r->name,
				  r->metric == CONFIG_PACKETS ? "packets" : r->metric == CONFIG_BYTES ?
				  "bytes" : "new_conns");
		if (counted && (!r->count || r->rate))
			add_error(p, r->line, "[rule %s] metric %s takes a count (and no rate)", r->name,
				  r->metric == CONFIG_HOSTS ? "hosts" : r->metric == CONFIG_SIGNALS ?
				  "signals" : "accounts");
		if ((r->min_hosts || r->max_hosts) && r->metric >= CONFIG_SIGNALS)
			add_error(p, r->line, "[rule %s] min_hosts and max_hosts are for the traffic's "
				  "metrics (new_conns, packets, bytes, hosts)", r->name);
		if (r->fleet && r->metric == CONFIG_HOSTS)
			add_error(p, r->line, "[rule %s] scope = fleet is not for hosts (the gateways' "
				  "counts add up, their hosts do not)", r->name);
		if (r->min_hosts && r->max_hosts && r->min_hosts > r->max_hosts)
			add_error(p, r->line, "[rule %s] min_hosts %u is above max_hosts %u", r->name,
				  r->min_hosts, r->max_hosts);
		if (r->max_ttl_s < r->ttl_s)
			add_error(p, r->line, "[rule %s] max_ttl is shorter than ttl", r->name);
	}
	for (unsigned i = 0; i < cfg->n_feeds; i++)
		if (!cfg->feeds[i].source[0])
			add_error(p, cfg->feeds[i].line, "[feed %s] needs a source", cfg->feeds[i].name);
	check_intel(p);
	check_fleet(p);
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct parse_ctx p = { .cfg = cfg, .path = path, .err = err, .errlen = errlen };
	struct fetch_result text = {};
	char why[256];
	int fd, ret;

	memset(cfg, 0, sizeof(*cfg));
	if (errlen)
		err[0] = 0;
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	cfg->tick_ms = 1000;
	snprintf(cfg->events, sizeof(cfg->events), "stderr");
	cfg->taxii.tlp = STIX_TLP_AMBER;
	cfg->taxii.history_max = 100000;
	cfg->taxii.history_keep_s = 7 * 86400;
	cfg->crowdsec.scope_ip = cfg->crowdsec.scope_range = true;
	cfg->crowdsec.poll_ms = 10000;
	cfg->crowdsec.push = true;
	snprintf(cfg->crowdsec.feed, sizeof(cfg->crowdsec.feed), "crowdsec");
	cfg->signals.client_rate = 100;
	cfg->signals.client_burst = 1000;
	cfg->signals.max_pending = 100000;
	cfg->signals.max_signals = 1000000;
	cfg->signals.max_body = 1 << 20;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = fetch_fd(fd, 1 << 20, &text, why, sizeof(why));
	close(fd);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, why);
		return ret;
	}
	p.pos = text.data;
	p.end = text.data + text.len;
	ini_parse_stream(read_line, &p, on_key, &p);
	check_whole(&p);
	fetch_result_free(&text);
	free(p.seen);
	if (p.n_errors > CONFIG_ERRORS_MAX)
		add_error(&p, 0, "%u more errors not listed", p.n_errors - CONFIG_ERRORS_MAX);
	return p.n_errors ? -EINVAL : 0;
}
