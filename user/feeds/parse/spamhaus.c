// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/spamhaus.c - Spamhaus DROP as JSON lines.
 *
 * Owns the spamhaus-json format: one JSON object per line, each
 * {"cidr":"...", ...} an entry, the {"type":"metadata", ...} line skipped.
 * Each line is a JSON document of its own, so a bad line is one error and
 * the next line still counts. Pure: no files, maps, clocks or globals; buf
 * is not NUL terminated, so every read is bounded by len.
 */
#include <errno.h>
#include <json-c/json.h>

#include "feeds/parse/internal.h"

static int spamhaus_line(struct feed_ctx *ctx, void *arg, const char *s, size_t n, uint32_t line)
{
	struct json_tokener *tok = arg;
	const char *p = s, *e = s + n, *v;
	enum json_tokener_error jerr;
	struct json_object *obj;
	struct cidr c;
	size_t vn;
	int ret, st;

	feed_trim(&p, &e);
	if (p == e) {
		ctx->res->n_skipped++;
		return 0;
	}
	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, p, (int)(e - p));
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
		return feed_add_error(ctx, line, "bad JSON: line ends inside a value");
	if (jerr != json_tokener_success)
		return feed_add_error(ctx, line, "bad JSON: %s", json_tokener_error_desc(jerr));
	if (json_tokener_get_parse_end(tok) < (size_t)(e - p)) {
		json_object_put(obj);
		return feed_add_error(ctx, line, "trailing data after JSON object");
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return feed_add_error(ctx, line, "not a JSON object");
	}
	if (feed_json_str(obj, "type", &v, &vn) == JSTR_OK && str_is(v, vn, "metadata", false)) {
		ctx->res->n_skipped++;
		ret = 0;
		goto out;
	}
	st = feed_json_str(obj, "cidr", &v, &vn);
	if (st != JSTR_OK) {
		ret = feed_json_field_error(ctx, line, "cidr", st);
		goto out;
	}
	ret = feed_parse_prefix(ctx, v, vn, line, &c);
	if (ret > 0)
		ret = feed_add_entry(ctx, &c, line, 0);
out:
	json_object_put(obj);
	return ret;
}

int feed_spamhaus_parse(struct feed_ctx *ctx, const char *buf, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	int ret;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	ret = feed_parse_lines(ctx, buf, len, spamhaus_line, tok, 0);
	json_tokener_free(tok);
	return ret;
}

static bool spamhaus_member(const char *k, size_t kn, const char *v, const char *end)
{
	return str_is(k, kn, "cidr", false) ||
	       (str_is(k, kn, "type", false) && feed_json_string_is(v, end, "metadata"));
}

/* The first line's object has a "cidr" key, or is the metadata line. */
bool feed_spamhaus_detect(const char *buf, size_t len)
{
	return feed_json_any_member(buf, len, spamhaus_member);
}
