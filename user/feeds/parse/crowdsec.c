// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/crowdsec.c - CrowdSec LAPI decisions streams.
 *
 * Owns the crowdsec format: {"new":[...],"deleted":[...]} as the LAPI
 * /v1/decisions/stream endpoint sends it to a bouncer. A "ban" decision of
 * scope Ip or Range is an entry, its "duration" the TTL; other scopes and
 * types are a bouncer's own call and skipped, and so are an expired ban and
 * a ban the same stream deletes. Pure: no files, maps, clocks or globals;
 * buf is not NUL terminated, so every read is bounded by len.
 */
#include <errno.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "feeds/parse/internal.h"

static int cidr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct cidr));
}

struct crowdsec_deleted {
	struct cidr *v;
	size_t n;
};

/* The prefix a decision names, without recording errors: for "deleted". */
static bool decision_cidr(struct json_object *d, struct cidr *c)
{
	char buf[FEED_TOKEN_MAX];
	const char *v, *scope;
	size_t vn, sn;

	if (!json_object_is_type(d, json_type_object) ||
	    feed_json_str(d, "scope", &scope, &sn) != JSTR_OK ||
	    (!str_is(scope, sn, "ip", true) && !str_is(scope, sn, "range", true)) ||
	    feed_json_str(d, "value", &v, &vn) != JSTR_OK ||
	    vn >= sizeof(buf) || memchr(v, '\0', vn))
		return false;
	memcpy(buf, v, vn);
	buf[vn] = '\0';
	return cidr_parse(buf, c, 0, NULL, 0) == 0;
}

static int crowdsec_decision(struct feed_ctx *ctx, struct json_object *d, uint32_t line,
			     const struct crowdsec_deleted *del)
{
	const char *scope, *type, *v, *dur;
	size_t sn, tn, vn, dn;
	char q[QUOTE_BUF];
	const char *why;
	bool is_ip;
	int64_t ns;
	uint64_t ttl = 0;
	struct cidr c;
	int st, ret;

	if (!json_object_is_type(d, json_type_object))
		return feed_add_error(ctx, line, "decision is not a JSON object");
	st = feed_json_str(d, "scope", &scope, &sn);
	if (st != JSTR_OK)
		return feed_json_field_error(ctx, line, "scope", st);
	is_ip = str_is(scope, sn, "ip", true);
	if (!is_ip && !str_is(scope, sn, "range", true)) {
		ctx->res->n_skipped++;	/* Country, AS, Username: not ours */
		return 0;
	}
	st = feed_json_str(d, "type", &type, &tn);
	if (st != JSTR_OK)
		return feed_json_field_error(ctx, line, "type", st);
	if (!str_is(type, tn, "ban", true)) {
		ctx->res->n_skipped++;	/* captcha, throttle: a bouncer's call */
		return 0;
	}
	st = feed_json_str(d, "value", &v, &vn);
	if (st != JSTR_OK)
		return feed_json_field_error(ctx, line, "value", st);
	if (is_ip && memchr(v, '/', vn))
		return feed_add_error(ctx, line,
				      "bad address \"%s\": scope Ip takes an address, not a range",
				      feed_quote(q, v, vn));
	ret = feed_parse_prefix(ctx, v, vn, line, &c);
	if (ret <= 0)
		return ret;

	st = feed_json_str(d, "duration", &dur, &dn);
	if (st == JSTR_BAD)
		return feed_json_field_error(ctx, line, "duration", st);
	if (st == JSTR_OK) {
		why = feed_go_duration(dur, dn, &ns);
		if (why)
			return feed_add_error(ctx, line, "bad duration \"%s\": %s",
					      feed_quote(q, dur, dn), why);
		if (ns <= 0) {
			ctx->res->n_skipped++;	/* already expired */
			return 0;
		}
		ttl = (uint64_t)ns / 1000000000ULL;
		if (!ttl)
			ttl = 1;
	}
	if (del->n && bsearch(&c, del->v, del->n, sizeof(c), cidr_cmp)) {
		ctx->res->n_skipped++;
		return 0;
	}
	return feed_add_entry(ctx, &c, line, ttl);
}

int feed_crowdsec_parse(struct feed_ctx *ctx, const char *buf, size_t len)
{
	struct crowdsec_deleted del = { NULL, 0 };
	struct json_object *root, *nw, *dl;
	uint32_t *lines = NULL, root_line;
	size_t n = 0;
	int ret;

	root = feed_json_document(ctx, buf, len, &ret);
	if (!root)
		return ret;
	root_line = feed_line_at(buf, feed_json_first_char(buf, len));
	if (!json_object_is_type(root, json_type_object)) {
		ret = feed_add_error(ctx, root_line,
				     "not a CrowdSec decisions stream (want a JSON object)");
		ret = ret < 0 ? ret : -EINVAL;
		goto out;
	}
	if (!json_object_object_get_ex(root, "new", NULL) &&
	    !json_object_object_get_ex(root, "deleted", NULL)) {
		ret = feed_add_error(ctx, root_line,
				     "not a CrowdSec decisions stream (no \"new\" or \"deleted\")");
		ret = ret < 0 ? ret : -EINVAL;
		goto out;
	}
	nw = feed_json_get(root, "new");
	dl = feed_json_get(root, "deleted");
	if ((nw && !json_object_is_type(nw, json_type_array)) ||
	    (dl && !json_object_is_type(dl, json_type_array))) {
		ret = feed_add_error(ctx, root_line, "\"%s\" is not an array",
				     nw && !json_object_is_type(nw, json_type_array) ?
				     "new" : "deleted");
		ret = ret < 0 ? ret : -EINVAL;
		goto out;
	}
	ret = 0;
	if (!nw)
		goto out;

	if (dl && json_object_array_length(dl)) {
		del.v = calloc(json_object_array_length(dl), sizeof(*del.v));
		if (!del.v) {
			ret = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(dl); i++)
			if (decision_cidr(json_object_array_get_idx(dl, i), &del.v[del.n]))
				del.n++;
		qsort(del.v, del.n, sizeof(*del.v), cidr_cmp);
	}

	n = json_object_array_length(nw);
	lines = feed_json_element_lines(buf, len, feed_json_member(buf, len, "new"), n);
	if (!lines) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && ret >= 0; i++)
		ret = crowdsec_decision(ctx, json_object_array_get_idx(nw, i), lines[i], &del);
out:
	free(lines);
	free(del.v);
	json_object_put(root);
	return ret;
}

static bool crowdsec_member(const char *k, size_t kn, const char *v, const char *end)
{
	(void)v;
	(void)end;
	return str_is(k, kn, "new", false) || str_is(k, kn, "deleted", false);
}

/* A JSON object with a "new" or "deleted" key. */
bool feed_crowdsec_detect(const char *buf, size_t len)
{
	return feed_json_any_member(buf, len, crowdsec_member);
}
