/* user/engine/config.c - see config.h. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

#include "engine/config.h"
#include "lib/util.h"
#include "maps/keys.h"
#include "feeds/feed.h"

struct parse_ctx {
	struct config *cfg;
	char err[256];
	char section[64];		/* the [section] of the last call, for messages */
};

static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->err, sizeof(p->err), "[%s] %s: %s", section, key, what);
	return 0;	/* inih: stop, report this line */
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

/* "4 within /16" */
static bool parse_children(const char *v, int max_len, __u8 *n, __u8 *len)
{
	unsigned a, b;
	char tail;

	if (sscanf(v, "%u within /%u%c", &a, &b, &tail) != 2 || a < 2 || a > 64 || !b ||
	    b > (unsigned)max_len)
		return false;
	*n = a;
	*len = b;
	return true;
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
	} else if (!strcmp(key, "metrics")) {
		if (!copy(c->metrics, sizeof(c->metrics), v) || !strrchr(v, ':'))
			return fail(p, "daemon", key, "\"%s\": want ADDRESS:PORT, e.g. 127.0.0.1:9469", v);
	} else {
		return fail(p, "daemon", key, "unknown key (tick, state_file, events, metrics)");
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
			return fail(p, p->section, key, "\"%s\": want a duration like 1h", v);
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
	} else if ((x = on_throttle(p, key, v, &f->throttle_rate, &f->throttle_burst)) >= 0) {
		return x;
	} else {
		return fail(p, p->section, key, "unknown key (source, format, refresh, action, ttl, "
			    "lenient, min_len_v4, min_len_v6, throttle_rate, throttle_burst)");
	}
	return 1;
}

static int on_rule(struct parse_ctx *p, struct config_rule *r, const char *key, const char *v)
{
	__u64 d;
	int x;

	if (!strcmp(key, "metric")) {
		if (!strcmp(v, "new_conns"))
			r->metric = CONFIG_NEW_CONNS;
		else if (!strcmp(v, "packets"))
			r->metric = CONFIG_PACKETS;
		else if (!strcmp(v, "bytes"))
			r->metric = CONFIG_BYTES;
		else
			return fail(p, p->section, key, "\"%s\": want new_conns, packets or bytes", v);
	} else if (!strcmp(key, "rate")) {
		if (!parse_rate_f(v, &r->rate) || r->rate <= 0)
			return fail(p, p->section, key, "\"%s\": want a rate like 200/s, 30/m", v);
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
			return fail(p, p->section, key, "\"%s\": want a duration like 10m", v);
	} else if (!strcmp(key, "max_ttl")) {
		if (parse_duration(v, &r->max_ttl_s) || !r->max_ttl_s)
			return fail(p, p->section, key, "\"%s\": want a duration like 24h", v);
	} else if (!strcmp(key, "escalate")) {
		char *end;

		r->escalate = strtod(v, &end);
		if (end == v || *end || !isfinite(r->escalate) || r->escalate < 1 || r->escalate > 100)
			return fail(p, p->section, key, "\"%s\": want a factor from 1 to 100", v);
	} else if (!strcmp(key, "jitter")) {
		if (!parse_fraction(v, &r->jitter))
			return fail(p, p->section, key, "\"%s\": want a fraction like 10%% or 0.1", v);
	} else if ((x = on_throttle(p, key, v, &r->throttle_rate, &r->throttle_burst)) >= 0) {
		return x;
	} else {
		return fail(p, p->section, key, "unknown key (metric, rate, window, action, ttl, "
			    "max_ttl, escalate, jitter, throttle_rate, throttle_burst)");
	}
	return 1;
}

static int on_key(void *user, const char *section, const char *key, const char *v)
{
	struct parse_ctx *p = user;
	struct config *c = p->cfg;
	const char *name;
	bool fresh = strcmp(section, p->section) != 0;

	snprintf(p->section, sizeof(p->section), "%s", section);
	if (!strcmp(section, "daemon"))
		return on_daemon(p, key, v);
	if (!strcmp(section, "aggregate")) {
		if (!strcmp(key, "v4_children") && parse_children(v, 32, &c->v4_children, &c->v4_parent_len))
			return 1;
		if (!strcmp(key, "v6_children") && parse_children(v, 128, &c->v6_children, &c->v6_parent_len))
			return 1;
		if (strcmp(key, "v4_children") && strcmp(key, "v6_children"))
			return fail(p, section, key, "unknown key (v4_children, v6_children)");
		return fail(p, section, key, "\"%s\": want \"N within /LEN\", e.g. 4 within /16", v);
	}
	if ((name = named(section, "interface"))) {
		if (fresh) {
			if (c->n_ifaces == CONFIG_MAX_IFACES)
				return fail(p, section, key, "more than %d interfaces", CONFIG_MAX_IFACES);
			if (!copy(c->ifaces[c->n_ifaces].name, sizeof(c->ifaces[0].name), name))
				return fail(p, section, key, "interface name too long");
			c->n_ifaces++;
		}
		return on_iface(p, &c->ifaces[c->n_ifaces - 1], key, v);
	}
	if ((name = named(section, "feed"))) {
		if (fresh) {
			struct config_feed *f = &c->feeds[c->n_feeds];

			if (c->n_feeds == CONFIG_MAX_FEEDS)
				return fail(p, section, key, "more than %d feeds", CONFIG_MAX_FEEDS);
			if (!feed_name_valid(name))
				return fail(p, section, key, "feed name \"%s\": want 1..31 of [A-Za-z0-9_.-]", name);
			memset(f, 0, sizeof(*f));
			strcpy(f->name, name);
			f->min_len_v4 = FEED_MIN_LEN_V4;
			f->min_len_v6 = FEED_MIN_LEN_V6;
			f->throttle_rate = 10;	/* as `feed load` */
			f->throttle_burst = 20;
			c->n_feeds++;
		}
		return on_feed(p, &c->feeds[c->n_feeds - 1], key, v);
	}
	if ((name = named(section, "rule"))) {
		if (fresh) {
			struct config_rule *r = &c->rules[c->n_rules];

			if (c->n_rules == CONFIG_MAX_RULES)
				return fail(p, section, key, "more than %d rules", CONFIG_MAX_RULES);
			if (!copy(r->name, sizeof(r->name), name))
				return fail(p, section, key, "rule name too long");
			/* defaults a rule may leave out */
			r->metric = CONFIG_NEW_CONNS;
			r->action = FENCE_ACT_DROP;
			r->ttl_s = 600;
			r->max_ttl_s = 86400;
			r->escalate = 2;
			r->jitter = 0.1;
			r->throttle_rate = 10;
			r->throttle_burst = 20;
			c->n_rules++;
		}
		return on_rule(p, &c->rules[c->n_rules - 1], key, v);
	}
	return fail(p, section, key, "unknown section (daemon, interface NAME, feed NAME, rule NAME, "
		    "aggregate)");
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct parse_ctx p = { .cfg = cfg };
	FILE *f;
	int line;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	cfg->tick_ms = 1000;
	snprintf(cfg->events, sizeof(cfg->events), "stderr");
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	line = ini_parse_file(f, on_key, &p);
	fclose(f);
	if (line) {
		snprintf(err, errlen, "%s:%d: %s", path, line, p.err[0] ? p.err : "not an INI line");
		return -EINVAL;
	}
	/* inih calls back on keys only: an [interface NAME] with no keys
	 * would go unseen, so look for section lines once more */
	f = fopen(path, "r");
	if (f) {
		char buf[512], name[32];

		while (fgets(buf, sizeof(buf), f)) {
			char *s = buf;
			bool known = false;

			while (isspace((unsigned char)*s))
				s++;
			if (sscanf(s, "[interface %31[^] ]]", name) != 1)
				continue;
			for (unsigned i = 0; i < cfg->n_ifaces; i++)
				known |= !strcmp(cfg->ifaces[i].name, name);
			if (!known && cfg->n_ifaces < CONFIG_MAX_IFACES)
				snprintf(cfg->ifaces[cfg->n_ifaces++].name, sizeof(cfg->ifaces[0].name), "%s", name);
		}
		fclose(f);
	}
	/* whole-file checks: each names the section's key */
	for (unsigned i = 0; i < cfg->n_rules; i++)
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(cfg->rules[i].name, cfg->rules[j].name)) {
				snprintf(err, errlen, "%s: [rule %s] appears twice", path, cfg->rules[i].name);
				return -EINVAL;
			}
	for (unsigned i = 0; i < cfg->n_feeds; i++)
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(cfg->feeds[i].name, cfg->feeds[j].name)) {
				snprintf(err, errlen, "%s: [feed %s] appears twice", path, cfg->feeds[i].name);
				return -EINVAL;
			}
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		struct config_rule *r = &cfg->rules[i];

		if (!r->rate || !r->window_s) {
			snprintf(err, errlen, "%s: [rule %s] needs rate and window", path, r->name);
			return -EINVAL;
		}
		if (r->max_ttl_s < r->ttl_s) {
			snprintf(err, errlen, "%s: [rule %s] max_ttl is shorter than ttl", path, r->name);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < cfg->n_feeds; i++)
		if (!cfg->feeds[i].source[0]) {
			snprintf(err, errlen, "%s: [feed %s] needs a source", path, cfg->feeds[i].name);
			return -EINVAL;
		}
	return 0;
}
