// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/json.c - JSON for the formats that use it.
 *
 * Owns reading a whole document with json-c (and where its errors are),
 * typed member access, and a small skipper (js_*) over the raw text. json-c
 * keeps no source positions, so the skipper walks text json-c has already
 * accepted to find where array elements start, only to report line numbers;
 * it also lets detection look at root keys of text not yet parsed. It never
 * produces values. Pure: no files, maps, clocks or globals; buf is not NUL
 * terminated and may be anything, so every read is bounded by len.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "feeds/parse/internal.h"

/* ---- json-c wrappers ------------------------------------------------------- */

struct json_object *feed_json_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;	/* NULL for a JSON null: same as absent */
}

int feed_json_str(struct json_object *o, const char *key, const char **s, size_t *n)
{
	struct json_object *v = feed_json_get(o, key);

	if (!v)
		return JSTR_ABSENT;
	if (!json_object_is_type(v, json_type_string))
		return JSTR_BAD;
	*s = json_object_get_string(v);
	*n = (size_t)json_object_get_string_len(v);
	return JSTR_OK;
}

int feed_json_field_error(struct feed_ctx *ctx, uint32_t line, const char *key, int st)
{
	if (st == JSTR_ABSENT)
		return feed_add_error(ctx, line, "missing \"%s\"", key);
	return feed_add_error(ctx, line, "\"%s\" is not a string", key);
}

/* ---- positions (see the file comment) -------------------------------------- */

static bool is_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t feed_json_first_char(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && is_json_ws(buf[i]))
		i++;
	return i;
}

struct jscan {
	const char *p, *end;
};

static void js_ws(struct jscan *s)
{
	while (s->p < s->end && is_json_ws(*s->p))
		s->p++;
}

/* At '"': step past the closing quote. */
static bool js_string(struct jscan *s)
{
	s->p++;
	while (s->p < s->end) {
		char c = *s->p++;

		if (c == '\\') {
			if (s->p < s->end)
				s->p++;
		} else if (c == '"') {
			return true;
		}
	}
	return false;
}

/* Step over one value of any kind. */
static bool js_value(struct jscan *s)
{
	size_t depth = 0;
	char c;

	js_ws(s);
	if (s->p >= s->end)
		return false;
	c = *s->p;
	if (c == '"')
		return js_string(s);
	if (c == '{' || c == '[') {
		while (s->p < s->end) {
			c = *s->p;
			if (c == '"') {
				if (!js_string(s))
					return false;
				continue;
			}
			s->p++;
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				return true;
		}
		return false;
	}
	if (c == '}' || c == ']' || c == ',' || c == ':')
		return false;
	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' &&
	       !is_json_ws(*s->p))
		s->p++;
	return true;
}

static bool js_open(struct jscan *s, char c)
{
	js_ws(s);
	if (s->p >= s->end || *s->p != c)
		return false;
	s->p++;
	return true;
}

/* At a member: its raw key, and s left at the value. false at '}' or junk. */
static bool js_key(struct jscan *s, const char **k, size_t *kn)
{
	js_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return false;
	*k = s->p + 1;
	if (!js_string(s))
		return false;
	*kn = (size_t)(s->p - 1 - *k);
	if (!js_open(s, ':'))
		return false;
	js_ws(s);
	return true;
}

/* After a value: true past a ',', false at the closing bracket. */
static bool js_next(struct jscan *s)
{
	return js_open(s, ',');
}

/* The last root member named key wins, as json-c keeps the last of duplicate
 * keys too. NULL too if any key has an escape: it might spell key, and a
 * guess could name the wrong lines. */
const char *feed_json_member(const char *buf, size_t len, const char *key)
{
	struct jscan s = { buf, buf + len };
	const char *k, *found = NULL;
	size_t kn;

	if (!js_open(&s, '{'))
		return NULL;
	while (js_key(&s, &k, &kn)) {
		if (memchr(k, '\\', kn))
			return NULL;
		if (str_is(k, kn, key, false))
			found = s.p;
		if (!js_value(&s) || !js_next(&s))
			break;
	}
	return found;
}

/* Line of each element of the array at p. Fills lines[] only if exactly n
 * elements are found, so a disagreement with json-c (an escaped key, say)
 * leaves 0s rather than wrong lines. */
static void js_element_lines(const char *buf, size_t len, const char *p, uint32_t *lines, size_t n)
{
	struct jscan s = { p, buf + len };
	const char *at = buf;
	uint32_t line = 1;
	size_t i = 0;

	if (!p || !js_open(&s, '['))
		return;
	js_ws(&s);
	if (s.p < s.end && *s.p == ']')
		return;
	for (;;) {
		js_ws(&s);
		if (i == n) {
			i++;	/* more than json-c saw */
			break;
		}
		if (at < s.p)
			line = feed_line_after(line, at, (size_t)(s.p - at));
		at = s.p;
		lines[i++] = line;
		if (!js_value(&s) || !js_next(&s))
			break;
	}
	if (i != n)
		memset(lines, 0, n * sizeof(*lines));
}

uint32_t *feed_json_element_lines(const char *buf, size_t len, const char *arr, size_t n)
{
	uint32_t *lines = calloc(n ? n : 1, sizeof(*lines));

	if (lines)
		js_element_lines(buf, len, arr, lines, n);
	return lines;
}

/* ---- detection ----------------------------------------------------------------- */

/* The walk stops at the first text it cannot follow: for JSON lines, after
 * the first line's object. */
bool feed_json_any_member(const char *buf, size_t len, feed_json_member_fn fn)
{
	struct jscan s = { buf, buf + len };
	const char *k;
	size_t kn;

	if (!js_open(&s, '{'))
		return false;
	while (js_key(&s, &k, &kn)) {
		if (fn(k, kn, s.p, s.end))
			return true;
		if (!js_value(&s) || !js_next(&s))
			break;
	}
	return false;
}

bool feed_json_string_is(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(end - p) >= n + 2 && p[0] == '"' && !memcmp(p + 1, lit, n) &&
	       p[n + 1] == '"';
}

/* ---- whole documents ------------------------------------------------------------- */

struct json_object *feed_json_document(struct feed_ctx *ctx, const char *buf, size_t len,
				       int *ret)
{
	struct json_object *obj = NULL;
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	size_t end;

	*ret = -EINVAL;
	if (len > INT_MAX - 1) {
		if (feed_add_error(ctx, 1, "document too large for the JSON parser") < 0)
			*ret = -ENOMEM;
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		*ret = -ENOMEM;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* the terminating NUL json-c wants to hear at end of input */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		/* an error at the end belongs to the last line with text */
		end = len;
		while (end && is_json_ws(buf[end - 1]))
			end--;
	}
	if (jerr != json_tokener_success) {
		if (end > len)
			end = len;
		if (feed_add_error(ctx, feed_line_at(buf, end), "bad JSON: %s",
				   json_tokener_error_desc(jerr)) < 0)
			*ret = -ENOMEM;
		json_object_put(obj);
		obj = NULL;
	} else if (end < len && feed_json_first_char(buf + end, len - end) < len - end) {
		/* json-c stops at a NUL byte as if the input ended there */
		if (feed_add_error(ctx, feed_line_at(buf, end),
				   "trailing data after JSON document") < 0)
			*ret = -ENOMEM;
		json_object_put(obj);
		obj = NULL;
	} else if (!obj) {
		if (feed_add_error(ctx, feed_line_at(buf, feed_json_first_char(buf, len)),
				   "document is JSON null") < 0)
			*ret = -ENOMEM;
	}
	json_tokener_free(tok);
	if (obj)
		*ret = 0;
	return obj;
}
