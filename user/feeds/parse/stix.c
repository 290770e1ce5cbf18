// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/stix.c - STIX 2.1 indicators.
 *
 * Owns the stix format: a bundle, an array of STIX objects, or one object.
 * An indicator whose STIX pattern is a disjunction of comparisons gives an
 * entry per ipv4-addr/ipv6-addr value in it, its valid_until the TTL. Other
 * objects, revoked or expired indicators, and patterns that name no address
 * or would block more than the indicator says are skipped. Pure: no files,
 * maps, clocks or globals (valid_until is compared with the time feed_parse
 * was handed); buf is not NUL terminated, so every read is bounded by len.
 */
#include <errno.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "feeds/parse/internal.h"

#define PATTERN_DEPTH	32	/* STIX '(' nesting we follow */

enum pat_tok {
	PT_END, PT_LBRACK, PT_RBRACK, PT_LPAREN, PT_RPAREN, PT_OR,
	PT_PATH,	/* object path: ipv4-addr:value, file:hashes.'SHA-256' */
	PT_EQ,		/* = and ISSUBSET: the value is the indicator */
	PT_STRING,	/* '...': tok/n is the raw text between the quotes */
	PT_LITERAL,	/* number, true/false, h'..', b'..', t'..' */
	PT_OTHER,	/* valid STIX we do not turn into prefixes (AND, !=, ...) */
	PT_BAD,
};

struct pat_lex {
	const char *p, *end;
	const char *tok;
	size_t n;
};

static bool pat_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       c == '_' || c == '-' || c == ':' || c == '.';
}

/* At '\'': to past the closing quote; \' and \\ are the escapes. */
static bool pat_skip_string(struct pat_lex *l)
{
	for (l->p++; l->p < l->end; l->p++) {
		if (*l->p == '\\') {
			if (++l->p >= l->end)
				return false;
		} else if (*l->p == '\'') {
			l->p++;
			return true;
		}
	}
	return false;
}

static enum pat_tok pat_next(struct pat_lex *l)
{
	const char *w;
	size_t n;
	char c;

	while (l->p < l->end && (is_ws(*l->p) || *l->p == '\n'))
		l->p++;
	if (l->p >= l->end)
		return PT_END;
	w = l->p;
	l->tok = w;
	c = *l->p++;
	switch (c) {
	case '[':
		return PT_LBRACK;
	case ']':
		return PT_RBRACK;
	case '(':
		return PT_LPAREN;
	case ')':
		return PT_RPAREN;
	case '=':
		return PT_EQ;
	case '!':
		if (l->p < l->end && *l->p == '=') {
			l->p++;
			return PT_OTHER;
		}
		return PT_BAD;
	case '<':
	case '>':
		if (l->p < l->end && *l->p == '=')
			l->p++;
		return PT_OTHER;
	case '\'':
		l->p = w;
		if (!pat_skip_string(l))
			return PT_BAD;
		l->tok = w + 1;
		l->n = (size_t)(l->p - w - 2);
		return PT_STRING;
	}
	if (is_digit(c) || c == '-' || c == '+') {
		while (l->p < l->end && (is_digit(*l->p) || *l->p == '.' || *l->p == 'e' ||
					 *l->p == 'E' || *l->p == '-' || *l->p == '+'))
			l->p++;
		return PT_LITERAL;
	}
	if (!pat_word_char(c) || c == '.' || c == ':' || c == '-' || c == '_' || is_digit(c))
		return PT_BAD;
	for (;;) {
		while (l->p < l->end && pat_word_char(*l->p))
			l->p++;
		if (l->p < l->end && *l->p == '\'' && l->p[-1] == '.') {
			/* file:hashes.'SHA-256' */
			if (!pat_skip_string(l))
				return PT_BAD;
			continue;
		}
		if (l->p + 2 < l->end && *l->p == '[' && (l->p[1] == '*' || is_digit(l->p[1]))) {
			/* list index: x_refs[*].value, x_refs[0] */
			const char *q = l->p + 1;

			while (q < l->end && (*q == '*' || is_digit(*q)))
				q++;
			if (q < l->end && *q == ']') {
				l->p = q + 1;
				continue;
			}
		}
		break;
	}
	n = (size_t)(l->p - w);
	l->n = n;
	if (n == 1 && (c == 'h' || c == 'b' || c == 't') && l->p < l->end && *l->p == '\'') {
		if (!pat_skip_string(l))
			return PT_BAD;
		return PT_LITERAL;
	}
	if (memchr(w, ':', n))
		return PT_PATH;
	if (str_is(w, n, "OR", false))
		return PT_OR;
	if (str_is(w, n, "ISSUBSET", false))
		return PT_EQ;
	if (str_is(w, n, "true", false) || str_is(w, n, "false", false))
		return PT_LITERAL;
	return PT_OTHER;
}

/* The value of one ipv4-addr/ipv6-addr comparison, to an entry or an error. */
static int stix_emit(struct feed_ctx *ctx, const char *s, size_t n, int family,
		     uint32_t line, uint64_t ttl)
{
	char buf[FEED_TOKEN_MAX], q[QUOTE_BUF];
	struct cidr c;
	size_t o = 0;
	int ret;

	for (size_t i = 0; i < n && o < sizeof(buf); i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		buf[o++] = s[i];
	}
	if (o >= sizeof(buf))
		ret = feed_parse_prefix(ctx, s, n, line, &c);	/* reports "too long" */
	else
		ret = feed_parse_prefix(ctx, buf, o, line, &c);
	if (ret <= 0)
		return ret;
	/* an IPv4-mapped ipv6-addr value comes back as the IPv4 address it is */
	if (c.family != family && !(family == AF_INET6 && memchr(buf, ':', o)))
		return feed_add_error(ctx, line, "bad prefix \"%s\": not an %s address",
				      feed_quote(q, buf, o), family == AF_INET ? "IPv4" : "IPv6");
	return feed_add_entry(ctx, &c, line, ttl);
}

enum pat_cmp {
	CMP_IP,		/* an address comparison: emitted */
	CMP_NOT_IP,	/* a comparison on another object: ignored */
	CMP_UNUSABLE,	/* valid, but not an equality: the pattern is not used */
	CMP_BAD,
};

/* After an object path: "= value" or "ISSUBSET value". Returns enum pat_cmp
 * or -ENOMEM. */
static int pat_comparison(struct feed_ctx *ctx, bool emit, struct pat_lex *l,
			  uint32_t line, uint64_t ttl, const char **why)
{
	int family = str_is(l->tok, l->n, "ipv4-addr:value", false) ? AF_INET :
		     str_is(l->tok, l->n, "ipv6-addr:value", false) ? AF_INET6 : 0;
	enum pat_tok t;
	int ret;

	t = pat_next(l);
	if (t == PT_OTHER)
		return CMP_UNUSABLE;
	if (t != PT_EQ) {
		*why = t == PT_BAD ? "unterminated string or stray character" :
				     "expected an operator after the object path";
		return CMP_BAD;
	}
	t = pat_next(l);
	if (t == PT_OTHER)
		return CMP_UNUSABLE;
	if (t == PT_BAD) {
		*why = "unterminated string or stray character";
		return CMP_BAD;
	}
	if (t != PT_STRING && t != PT_LITERAL) {
		*why = "expected a value after the operator";
		return CMP_BAD;
	}
	if (!family)
		return CMP_NOT_IP;
	if (t != PT_STRING) {
		*why = "address is not a string";
		return CMP_BAD;
	}
	if (emit) {
		ret = stix_emit(ctx, l->tok, l->n, family, line, ttl);
		if (ret < 0)
			return ret;
	}
	return CMP_IP;
}

/* Walk a STIX pattern. Only a disjunction of comparisons ('[a] OR [b]',
 * '[a OR b]') is used: each ipv4-addr:value/ipv6-addr:value = or ISSUBSET
 * comparison is a prefix, others (domain-name, file hashes) are ignored. With
 * AND, FOLLOWEDBY, qualifiers or other operators, blocking the address alone
 * would be wider than the indicator, so such a pattern is not used.
 * Returns the number of IP comparisons (emitted when emit), 0 when there is
 * nothing to use, -EINVAL with *why for a malformed pattern, or -ENOMEM. */
static int stix_pattern(struct feed_ctx *ctx, bool emit, const char *pat, size_t n,
			uint32_t line, uint64_t ttl, const char **why)
{
	struct pat_lex l = { pat, pat + n, NULL, 0 };
	bool operand = true, in_brackets = false;
	char stack[PATTERN_DEPTH];
	int depth = 0, ips = 0, ret;
	enum pat_tok t;

	for (;;) {
		t = pat_next(&l);
		if (t == PT_BAD) {
			*why = "unterminated string or stray character";
			return -EINVAL;
		}
		if (t == PT_OTHER)
			return 0;
		if (!operand) {
			switch (t) {
			case PT_OR:
				operand = true;
				continue;
			case PT_RBRACK:
			case PT_RPAREN:
				if (!depth || stack[depth - 1] != (t == PT_RBRACK ? '[' : '(')) {
					*why = "unbalanced brackets";
					return -EINVAL;
				}
				depth--;
				if (t == PT_RBRACK)
					in_brackets = false;
				continue;
			case PT_END:
				if (depth) {
					*why = "unbalanced brackets";
					return -EINVAL;
				}
				return ips;
			default:
				*why = "expected OR or a closing bracket";
				return -EINVAL;
			}
		}
		if (t == PT_LBRACK || t == PT_LPAREN) {
			if (t == PT_LBRACK && in_brackets) {
				*why = "'[' inside '[ ]'";
				return -EINVAL;
			}
			if (depth == PATTERN_DEPTH) {
				*why = "nested too deeply";
				return -EINVAL;
			}
			stack[depth++] = t == PT_LBRACK ? '[' : '(';
			in_brackets |= t == PT_LBRACK;
			continue;
		}
		if (t != PT_PATH) {
			*why = t == PT_END ? "ends where a comparison is expected" :
					     "expected a comparison";
			return -EINVAL;
		}
		if (!in_brackets) {
			*why = "comparison outside '[ ]'";
			return -EINVAL;
		}
		ret = pat_comparison(ctx, emit, &l, line, ttl, why);
		if (ret < 0)
			return ret;
		if (ret == CMP_UNUSABLE)
			return 0;
		if (ret == CMP_BAD)
			return -EINVAL;
		ips += ret == CMP_IP;
		operand = false;
	}
}

static int stix_object(struct feed_ctx *ctx, struct json_object *o, uint32_t line)
{
	const char *type, *pt, *vu, *pat, *why = NULL;
	size_t tn, ptn, vun, patn;
	struct json_object *rv;
	char q[QUOTE_BUF];
	uint64_t ttl = 0;
	bool frac;
	int64_t t, left;
	int st, ret;

	if (!json_object_is_type(o, json_type_object))
		return feed_add_error(ctx, line, "STIX object is not a JSON object");
	st = feed_json_str(o, "type", &type, &tn);
	if (st != JSTR_OK)
		return feed_json_field_error(ctx, line, "type", st);
	if (!str_is(type, tn, "indicator", false))
		goto skip;
	st = feed_json_str(o, "pattern_type", &pt, &ptn);
	if (st == JSTR_BAD)
		return feed_json_field_error(ctx, line, "pattern_type", st);
	if (st == JSTR_OK && !str_is(pt, ptn, "stix", false))
		goto skip;	/* snort, yara, sigma, ... */
	rv = feed_json_get(o, "revoked");
	if (rv && !json_object_is_type(rv, json_type_boolean))
		return feed_add_error(ctx, line, "\"revoked\" is not a boolean");
	if (rv && json_object_get_boolean(rv))
		goto skip;
	st = feed_json_str(o, "valid_until", &vu, &vun);
	if (st == JSTR_BAD)
		return feed_json_field_error(ctx, line, "valid_until", st);
	if (st == JSTR_OK) {
		why = feed_rfc3339(vu, vun, &t, &frac);
		if (why)
			return feed_add_error(ctx, line, "bad valid_until \"%s\": %s",
					      feed_quote(q, vu, vun), why);
		if (__builtin_sub_overflow(t, ctx->now, &left))
			left = t < 0 ? -1 : INT64_MAX;
		if (left < 0 || (left == 0 && !frac))
			goto skip;	/* expired */
		ttl = left ? (uint64_t)left : 1;
	}
	st = feed_json_str(o, "pattern", &pat, &patn);
	if (st != JSTR_OK)
		return feed_json_field_error(ctx, line, "pattern", st);
	ret = stix_pattern(ctx, false, pat, patn, line, ttl, &why);
	if (ret == -EINVAL)
		return feed_add_error(ctx, line, "bad pattern \"%s\": %s",
				      feed_quote(q, pat, patn), why);
	if (ret < 0)
		return ret;
	if (!ret)
		goto skip;	/* domain-name, url, file hashes, AND, ... */
	ret = stix_pattern(ctx, true, pat, patn, line, ttl, &why);
	return ret < 0 ? ret : 0;
skip:
	ctx->res->n_skipped++;
	return 0;
}

int feed_stix_parse(struct feed_ctx *ctx, const char *buf, size_t len)
{
	struct json_object *root, *objs = NULL;
	const char *arr = NULL, *type;
	uint32_t *lines = NULL, root_line;
	size_t n, tn;
	int ret;

	root = feed_json_document(ctx, buf, len, &ret);
	if (!root)
		return ret;
	root_line = feed_line_at(buf, feed_json_first_char(buf, len));
	if (json_object_is_type(root, json_type_array)) {
		objs = root;
		arr = buf + feed_json_first_char(buf, len);
	} else if (json_object_is_type(root, json_type_object)) {
		if (feed_json_str(root, "type", &type, &tn) != JSTR_OK ||
		    !str_is(type, tn, "bundle", false)) {
			ret = stix_object(ctx, root, root_line);
			goto out;
		}
		objs = feed_json_get(root, "objects");
		if (!objs) {
			ret = 0;	/* an empty bundle */
			goto out;
		}
		if (!json_object_is_type(objs, json_type_array)) {
			ret = feed_add_error(ctx, root_line, "bundle \"objects\" is not an array");
			ret = ret < 0 ? ret : -EINVAL;
			goto out;
		}
		arr = feed_json_member(buf, len, "objects");
	} else {
		ret = feed_add_error(ctx, root_line, "not a STIX bundle, object or array");
		ret = ret < 0 ? ret : -EINVAL;
		goto out;
	}
	n = json_object_array_length(objs);
	lines = feed_json_element_lines(buf, len, arr, n);
	if (!lines) {
		ret = -ENOMEM;
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < n && ret >= 0; i++)
		ret = stix_object(ctx, json_object_array_get_idx(objs, i), lines[i]);
out:
	free(lines);
	json_object_put(root);
	return ret;
}

static bool stix_member(const char *k, size_t kn, const char *v, const char *end)
{
	return str_is(k, kn, "type", false) && (feed_json_string_is(v, end, "bundle") ||
						feed_json_string_is(v, end, "indicator"));
}

/* A JSON array, or an object of "type" bundle or indicator. */
bool feed_stix_detect(const char *buf, size_t len)
{
	size_t i = feed_json_first_char(buf, len);

	return (i < len && buf[i] == '[') || feed_json_any_member(buf, len, stix_member);
}
