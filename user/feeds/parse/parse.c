/* user/feeds/parse/parse.c - threat feed formats to prefixes. See feeds/parse.h.
 *
 * Owns each format's parser and the format table that names them. The
 * helpers they share are in common.c (results, messages), lines.c, json.c
 * and time.c. Pure: takes a buffer, fills a feed_result; no files, maps,
 * clocks or globals. buf is not NUL terminated and may be anything (fuzzed
 * with ASan/UBSan): every read is bounded by len.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "feeds/parse/internal.h"

#define PATTERN_DEPTH	32	/* STIX '(' nesting we follow */
#define PLAIN_HALVES_MIN	(4u << 20)	/* bytes: parsed in two halves from here */

/* ---- plain and netset ----------------------------------------------------- */

/* The usual line, "a.b.c.d" or "a.b.c.d/len" and nothing after it but
 * blanks or a comment, read in place. Anything else (IPv6, leading zeros,
 * host bits, junk) is left to the general path, which words the errors;
 * what this accepts, cidr_parse accepts the same way. */
static bool plain_v4_fast(const char *s, size_t n, struct cidr *c)
{
	const char *p = s, *e = s + n, *d;
	uint32_t a = 0, v, len = 32;

	while (p < e && is_ws(*p))
		p++;
	for (int i = 0; i < 4; i++) {
		if (i && (p == e || *p++ != '.'))
			return false;
		for (d = p, v = 0; p < e && p - d < 3 && is_digit(*p); p++)
			v = v * 10 + (uint32_t)(*p - '0');
		if (p == d || v > 255 || (p - d > 1 && *d == '0'))
			return false;
		a = a << 8 | v;
	}
	if (p < e && *p == '/') {
		for (d = ++p, len = 0; p < e && p - d < 2 && is_digit(*p); p++)
			len = len * 10 + (uint32_t)(*p - '0');
		if (p == d || len > 32 || (p - d > 1 && *d == '0'))
			return false;
	}
	while (p < e && is_ws(*p))
		p++;
	if ((p < e && *p != '#' && *p != ';') || (len < 32 && (a & (0xffffffffU >> len))))
		return false;
	memset(c, 0, sizeof(*c));
	c->family = AF_INET;
	c->len = (uint8_t)len;
	c->addr[0] = a >> 24;
	c->addr[1] = a >> 16;
	c->addr[2] = a >> 8;
	c->addr[3] = a;
	return true;
}

static int plain_line(struct feed_ctx *ctx, void *arg, const char *s, size_t n, uint32_t line)
{
	const char *p = s, *e = s + n, *tok, *tok_end, *rest, *rest_end;
	char q1[QUOTE_BUF], q2[QUOTE_BUF];
	struct cidr c;
	int ret;

	(void)arg;
	if (plain_v4_fast(s, n, &c))
		return feed_add_entry(ctx, &c, line, 0);
	for (const char *x = s; x < e; x++) {
		if (*x == '#' || *x == ';') {
			e = x;
			break;
		}
	}
	if (!feed_next_word(&p, e, &tok, &tok_end)) {
		ctx->res->n_skipped++;
		return 0;
	}
	rest = p;
	rest_end = e;
	feed_trim(&rest, &rest_end);
	if (rest < rest_end)
		return feed_add_error(ctx, line, "unexpected text after \"%s\": \"%s\"",
				      feed_quote(q1, tok, (size_t)(tok_end - tok)),
				      feed_quote(q2, rest, (size_t)(rest_end - rest)));
	ret = feed_parse_prefix(ctx, tok, (size_t)(tok_end - tok), line, &c);
	if (ret <= 0)
		return ret;
	return feed_add_entry(ctx, &c, line, 0);
}

/* The second half of a big plain feed, parsed on a second thread. */
struct half {
	struct feed_ctx ctx;
	struct feed_result res;
	const char *buf;
	size_t len;
	uint32_t line0;
	int ret;
};

static void *half_run(void *arg)
{
	struct half *h = arg;

	h->ret = feed_parse_lines(&h->ctx, h->buf, h->len, plain_line, NULL, h->line0);
	return NULL;
}

/* A feed of PLAIN_HALVES_MIN bytes or more is parsed in two halves at once,
 * the second half writing its entries where the first half's lines end
 * (a line makes one entry at most). When either half finds a bad line,
 * the text is parsed again in one piece, so errors come out exactly as a
 * single pass reports them. */
static int parse_halves(struct feed_ctx *ctx, const char *buf, size_t len)
{
	struct feed_result *res = ctx->res;
	size_t n0 = res->n_entries, e0 = res->n_errors, s0 = res->n_skipped, sup0 = ctx->suppressed;
	const char *mid = len >= PLAIN_HALVES_MIN ? memchr(buf + len / 2, '\n', len - len / 2) : NULL;
	struct half h = { .ctx = { .res = &h.res, .now = ctx->now } };
	uint32_t lines1 = 0;
	pthread_t th;
	int ret;

	if (!mid || mid + 1 == buf + len)
		return feed_parse_lines(ctx, buf, len, plain_line, NULL, 0);
	mid++;
	for (const char *q = buf; (q = memchr(q, '\n', (size_t)(mid - q))); q++)
		lines1++;
	h.buf = mid;
	h.len = (size_t)(buf + len - mid);
	h.line0 = lines1;
	/* the second half's lines fit after the first half's (feed_reserve_lines) */
	for (const char *q = mid; (q = memchr(q, '\n', (size_t)(buf + len - q))); q++)
		h.res.cap_entries++;
	h.res.cap_entries++;
	if (res->cap_entries < n0 + lines1 + h.res.cap_entries)
		return feed_parse_lines(ctx, buf, len, plain_line, NULL, 0);
	h.res.entries = res->entries + n0 + lines1;
	if (pthread_create(&th, NULL, half_run, &h))
		return feed_parse_lines(ctx, buf, len, plain_line, NULL, 0);
	ret = feed_parse_lines(ctx, buf, (size_t)(mid - buf), plain_line, NULL, 0);
	pthread_join(th, NULL);
	if (ret || h.ret || res->n_errors != e0 || ctx->suppressed != sup0 || h.res.n_errors) {
		free(h.res.errors);
		res->n_entries = n0;
		res->n_errors = e0;
		res->n_skipped = s0;
		ctx->suppressed = sup0;
		if (ret == -ENOMEM || h.ret == -ENOMEM)
			return -ENOMEM;
		return feed_parse_lines(ctx, buf, len, plain_line, NULL, 0);
	}
	memmove(res->entries + res->n_entries, h.res.entries, h.res.n_entries * sizeof(*res->entries));
	res->n_entries += h.res.n_entries;
	res->n_skipped += h.res.n_skipped;
	return 0;
}


static int feed_plain_parse(struct feed_ctx *ctx, const char *buf, size_t len)
{
	feed_reserve_lines(ctx->res, buf, len);
	return parse_halves(ctx, buf, len);
}

/* Any text is a plain feed, with an error for each line that is not a
 * prefix: the table asks plain last. */
static bool feed_plain_detect(const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	return true;
}

/* ---- ipset save ----------------------------------------------------------- */

/* Like feed_next_word, but a word starting with '"' runs to the closing
 * quote (ipset prints comment "text with blanks"). -1 on an unterminated
 * quote. */
static int ipset_word(const char **p, const char *e, const char **w, const char **we)
{
	const char *s = *p;

	while (s < e && is_ws(*s))
		s++;
	if (s == e)
		return 0;
	*w = s;
	if (*s == '"') {
		const char *q = memchr(s + 1, '"', (size_t)(e - s - 1));

		if (!q)
			return -1;
		s = q + 1;
	} else {
		while (s < e && !is_ws(*s))
			s++;
	}
	*we = s;
	*p = s;
	return 1;
}

static int ipset_line(struct feed_ctx *ctx, void *arg, const char *s, size_t n, uint32_t line)
{
	const char *p = s, *e = s + n, *w, *we, *elem, *elem_end, *o, *oe, *v, *ve;
	char q[QUOTE_BUF];
	bool nomatch = false;
	uint64_t ttl = 0;
	struct cidr c;
	int ret;

	(void)arg;
	if (!feed_next_word(&p, e, &w, &we) || *w == '#') {
		ctx->res->n_skipped++;
		return 0;
	}
	if (word_is(w, we, "create")) {
		ctx->res->n_skipped++;
		return 0;
	}
	if (!word_is(w, we, "add"))
		return feed_add_error(ctx, line, "unexpected ipset command \"%s\"",
				      feed_quote(q, w, (size_t)(we - w)));
	if (!feed_next_word(&p, e, &w, &we) || !feed_next_word(&p, e, &elem, &elem_end))
		return feed_add_error(ctx, line, "\"add\" needs a set name and an element");

	for (;;) {
		ret = ipset_word(&p, e, &o, &oe);
		if (!ret)
			break;
		if (ret < 0)
			return feed_add_error(ctx, line, "unterminated quote");
		if (word_is(o, oe, "nomatch")) {
			nomatch = true;
			continue;
		}
		if (!word_is(o, oe, "timeout") && !word_is(o, oe, "comment") &&
		    !word_is(o, oe, "packets") && !word_is(o, oe, "bytes") &&
		    !word_is(o, oe, "skbmark") && !word_is(o, oe, "skbprio") &&
		    !word_is(o, oe, "skbqueue"))
			continue;	/* a flag we do not use */
		ret = ipset_word(&p, e, &v, &ve);
		if (ret < 0)
			return feed_add_error(ctx, line, "unterminated quote");
		if (!ret)
			return feed_add_error(ctx, line, "option \"%s\" needs a value",
					      feed_quote(q, o, (size_t)(oe - o)));
		if (!word_is(o, oe, "timeout"))
			continue;
		/* ipset's own limit is 2^31/1000 s; ten digits cannot overflow */
		ttl = 0;
		for (const char *d = v; d < ve; d++) {
			if (!is_digit(*d) || ve - v > 10)
				return feed_add_error(ctx, line, "bad timeout \"%s\"",
						      feed_quote(q, v, (size_t)(ve - v)));
			ttl = ttl * 10 + (uint64_t)(*d - '0');
		}
	}
	ret = feed_parse_prefix(ctx, elem, (size_t)(elem_end - elem), line, &c);
	if (ret <= 0)
		return ret;
	if (nomatch) {
		/* an exception carved out of a wider net: never a block */
		ctx->res->n_skipped++;
		return 0;
	}
	return feed_add_entry(ctx, &c, line, ttl);
}

static int feed_ipset_parse(struct feed_ctx *ctx, const char *buf, size_t len)
{
	feed_reserve_lines(ctx->res, buf, len);
	return feed_parse_lines(ctx, buf, len, ipset_line, NULL, 0);
}

/* The first line that is not blank or a comment is an ipset command. */
static bool feed_ipset_detect(const char *buf, size_t len)
{
	const char *p, *e, *end = buf + len, *w, *we;

	for (p = buf; p < end; p = e + 1) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		e = nl ? nl : end;
		if (!feed_next_word(&p, e, &w, &we) || *w == '#')
			continue;
		return word_is(w, we, "create") || word_is(w, we, "add");
	}
	return false;
}

/* ---- spamhaus-json -------------------------------------------------------- */

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

static int feed_spamhaus_parse(struct feed_ctx *ctx, const char *buf, size_t len)
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
static bool feed_spamhaus_detect(const char *buf, size_t len)
{
	return feed_json_any_member(buf, len, spamhaus_member);
}

/* ---- crowdsec ------------------------------------------------------------- */

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

static int feed_crowdsec_parse(struct feed_ctx *ctx, const char *buf, size_t len)
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
static bool feed_crowdsec_detect(const char *buf, size_t len)
{
	return feed_json_any_member(buf, len, crowdsec_member);
}

/* ---- stix ----------------------------------------------------------------- */

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

static int feed_stix_parse(struct feed_ctx *ctx, const char *buf, size_t len)
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
static bool feed_stix_detect(const char *buf, size_t len)
{
	size_t i = feed_json_first_char(buf, len);

	return (i < len && buf[i] == '[') || feed_json_any_member(buf, len, stix_member);
}

/* ---- the format table and the entry points -------------------------------- */

struct feed_format_ops {
	enum feed_format format;
	const char *name;	/* as on the command line and in the config */
	bool (*detect)(const char *buf, size_t len);	/* NULL: never auto-detected */
	int (*parse)(struct feed_ctx *ctx, const char *buf, size_t len);	/* NULL: auto */
};

/* Auto-detection asks in this order and takes the first yes: a JSON object
 * with a "new" or "deleted" key is CrowdSec whatever else it holds, one of
 * type bundle or indicator is STIX even with a "cidr" key, and plain takes
 * anything, so it is asked last. */
static const struct feed_format_ops formats[] = {
	{ FEED_FMT_CROWDSEC,      "crowdsec",      feed_crowdsec_detect, feed_crowdsec_parse },
	{ FEED_FMT_STIX,          "stix",          feed_stix_detect,     feed_stix_parse },
	{ FEED_FMT_SPAMHAUS_JSON, "spamhaus-json", feed_spamhaus_detect, feed_spamhaus_parse },
	{ FEED_FMT_IPSET,         "ipset",         feed_ipset_detect,    feed_ipset_parse },
	{ FEED_FMT_PLAIN,         "plain",         feed_plain_detect,    feed_plain_parse },
	{ FEED_FMT_NETSET,        "netset",        NULL,                 feed_plain_parse },
	{ FEED_FMT_AUTO,          "auto",          NULL,                 NULL },
};
_Static_assert(sizeof(formats) / sizeof(formats[0]) == FEED_FMT_COUNT,
	       "one row per enum feed_format");

static const struct feed_format_ops *format_ops(enum feed_format f)
{
	for (size_t i = 0; i < FEED_FMT_COUNT; i++)
		if (formats[i].format == f)
			return &formats[i];
	return NULL;
}

const char *feed_format_name(enum feed_format f)
{
	const struct feed_format_ops *ops = format_ops(f);

	return ops ? ops->name : "unknown";
}

int feed_format_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < FEED_FMT_COUNT; i++)
		if (!strcmp(name, formats[i].name))
			return formats[i].format;
	return -1;
}

static size_t skip_bom(const char **buf, size_t len)
{
	if (len >= 3 && !memcmp(*buf, "\xef\xbb\xbf", 3)) {
		*buf += 3;
		return len - 3;
	}
	return len;
}

enum feed_format feed_detect(const char *buf, size_t len)
{
	if (!buf) {
		buf = "";
		len = 0;
	}
	len = skip_bom(&buf, len);
	for (size_t i = 0; i < FEED_FMT_COUNT; i++)
		if (formats[i].detect && formats[i].detect(buf, len))
			return formats[i].format;
	return FEED_FMT_PLAIN;
}

int feed_parse(const char *buf, size_t len, enum feed_format fmt, int64_t now_unix,
	       struct feed_result *res)
{
	struct feed_ctx ctx = { .res = res, .now = now_unix };
	const struct feed_format_ops *ops;
	int ret;

	if (!buf || !len) {
		buf = "";
		len = 0;
	}
	len = skip_bom(&buf, len);
	if (res->n_errors > FEED_ERRORS_MAX)	/* appending past the cap */
		ctx.suppressed = strtoull(res->errors[FEED_ERRORS_MAX].msg, NULL, 10);
	if (fmt == FEED_FMT_AUTO)
		fmt = feed_detect(buf, len);
	ops = format_ops(fmt);
	if (!ops || !ops->parse)
		return -EINVAL;
	ret = ops->parse(&ctx, buf, len);
	res->format = fmt;
	if (ctx.suppressed && res->n_errors > FEED_ERRORS_MAX)
		snprintf(res->errors[FEED_ERRORS_MAX].msg, sizeof(res->errors[0].msg),
			 "%zu more errors not listed", ctx.suppressed);
	return ret;
}
