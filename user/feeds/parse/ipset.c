// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/ipset.c - `ipset save` files.
 *
 * Owns the ipset format: "create ..." lines are skipped, each "add SET
 * ELEMENT [options]" is an entry, "timeout N" its TTL, and a "nomatch"
 * element (an exception carved out of a wider set) is never a block. Pure:
 * no files, maps, clocks or globals; buf is not NUL terminated, so every
 * read is bounded by len.
 */
#include "feeds/parse/internal.h"

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

int feed_ipset_parse(struct feed_ctx *ctx, const char *buf, size_t len)
{
	feed_reserve_lines(ctx->res, buf, len);
	return feed_parse_lines(ctx, buf, len, ipset_line, NULL, 0);
}

/* The first line that is not blank or a comment is an ipset command. */
bool feed_ipset_detect(const char *buf, size_t len)
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
