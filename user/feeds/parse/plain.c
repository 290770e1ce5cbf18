// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/plain.c - plain CIDR lists and FireHOL netsets.
 *
 * Owns the plain format: one address or prefix per line, '#' and ';' start a
 * comment, blank lines are skipped. A number after the address is taken as
 * a count and ignored (IPsum: "address<TAB>lists it is on"); any other text
 * after it is an error. A netset is a plain list with a '#'
 * header block, so netset uses this parser too. Plain is what auto-detection
 * falls back to. Pure: no files, maps, clocks or globals (a second thread
 * may parse half of a big feed, writing only its own half); buf is not NUL
 * terminated, so every read is bounded by len.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "feeds/parse/internal.h"
#include "lib/util.h"

#define PLAIN_HALVES_MIN	(4u << 20)	/* bytes: parsed in two halves from here */

/* The end of a count at p ("10", "0.75"), or p when none starts there. */
static const char *count_end(const char *p, const char *e)
{
	const char *q = p;

	while (q < e && is_digit(*q))
		q++;
	if (q > p && q + 1 < e && *q == '.' && is_digit(q[1]))
		for (q++; q < e && is_digit(*q); q++)
			;
	return q;
}

/* *c = a/len (a in host order), the address in one store. */
static inline void v4_cidr(struct cidr *c, uint32_t a, uint32_t len)
{
	uint32_t be = htonl(a);

	memset(c, 0, sizeof(*c));
	c->family = AF_INET;
	c->len = (uint8_t)len;
	memcpy(c->addr, &be, 4);
}

/* "a.b.c.d" or "a.b.c.d/len" at p, as cidr_parse reads it (no leading
 * zeros, no host bits), into *c: where it ends, or NULL when p holds
 * anything else there (which the general path words). */
static const char *v4_prefix(const char *p, const char *e, struct cidr *c)
{
	const char *d;
	uint32_t a = 0, v, len = 32;

	for (int i = 0; i < 4; i++) {
		if (i && (p == e || *p++ != '.'))
			return NULL;
		for (d = p, v = 0; p < e && p - d < 3 && is_digit(*p); p++)
			v = v * 10 + (uint32_t)(*p - '0');
		if (p == d || v > 255 || (p - d > 1 && *d == '0'))
			return NULL;
		a = a << 8 | v;
	}
	if (p < e && *p == '/') {
		for (d = ++p, len = 0; p < e && p - d < 2 && is_digit(*p); p++)
			len = len * 10 + (uint32_t)(*p - '0');
		if (p == d || len > 32 || (p - d > 1 && *d == '0'))
			return NULL;
	}
	if (len < 32 && (a & (0xffffffffU >> len)))
		return NULL;
	v4_cidr(c, a, len);
	return p;
}

/* Up to three digits at p as an octet (v4_prefix's rules), without a
 * branch on how many: where they end. *bad is set if they are not one
 * (none, over 255, a leading zero). Reads p[0..2]. */
static inline const char *octet_at(const char *p, uint32_t *v, uint32_t *bad)
{
	uint32_t d0 = (uint32_t)(unsigned char)p[0] - '0', d1 = (uint32_t)(unsigned char)p[1] - '0',
		 d2 = (uint32_t)(unsigned char)p[2] - '0';
	uint32_t ok0 = d0 < 10, ok1 = ok0 & (d1 < 10), ok2 = ok1 & (d2 < 10);
	uint32_t m1 = 0u - ok1, m2 = 0u - ok2, v1 = d0 * 10 + d1;

	/* masks, not a conditional: the compiler would branch on it */
	*v = (d0 & ~m1) | (v1 & m1 & ~m2) | ((v1 * 10 + d2) & m2);
	*bad |= !ok0 | (*v > 255) | (ok1 & (d0 == 0));
	return p + ok0 + ok1 + ok2;
}

/* v4_prefix where at least V4_FAST_ROOM bytes follow p, the digits read
 * without a branch on their number (a random feed's octets have one, two
 * or three at random, which the loop of v4_prefix mispredicts). The same
 * answer as v4_prefix for every text. */
#define V4_FAST_ROOM	20
static const char *v4_prefix_fast(const char *p, struct cidr *c)
{
	uint32_t a, v, bad = 0, len = 32;

	p = octet_at(p, &a, &bad);
	for (int i = 0; i < 3; i++) {
		bad |= *p++ != '.';
		p = octet_at(p, &v, &bad);
		a = a << 8 | v;
	}
	if (*p == '/') {
		uint32_t d0 = (uint32_t)(unsigned char)p[1] - '0', d1 = (uint32_t)(unsigned char)p[2] - '0';
		uint32_t ok0 = d0 < 10, ok1 = ok0 & (d1 < 10), m1 = 0u - ok1;

		len = (d0 & ~m1) | ((d0 * 10 + d1) & m1);
		bad |= !ok0 | (len > 32) | (ok1 & (d0 == 0));
		p += 1 + ok0 + ok1;
	}
	if (bad || (len < 32 && (a & (0xffffffffU >> len))))
		return NULL;
	v4_cidr(c, a, len);
	return p;
}

/* The usual line, a v4_prefix and nothing after it but blanks, a count
 * after a blank, or a comment, read in place. Anything else (IPv6,
 * leading zeros, host bits, junk) is left to the general path, which
 * words the errors; what this accepts, cidr_parse accepts the same way. */
static bool plain_v4_fast(const char *s, size_t n, struct cidr *c)
{
	const char *p = s, *e = s + n, *d;

	while (p < e && is_ws(*p))
		p++;
	p = v4_prefix(p, e, c);
	if (!p)
		return false;
	for (d = p; p < e && is_ws(*p); p++)
		;
	if (p > d && count_end(p, e) > p)
		for (p = count_end(p, e); p < e && is_ws(*p); p++)
			;
	return p == e || *p == '#' || *p == ';';
}

/* The most usual line of all, read where it starts: a v4_prefix and its
 * end of line (LF, CRLF, or the end of buf) right after. Where it ends
 * (past the LF), or NULL for any other line, which the line by line path
 * then reads. */
static const char *plain_v4_line(const char *p, const char *e, struct cidr *c)
{
	p = e - p >= V4_FAST_ROOM ? v4_prefix_fast(p, c) : v4_prefix(p, e, c);
	if (!p)
		return NULL;
	if (p < e && *p == '\r' && (p + 1 == e || p[1] == '\n'))
		p++;
	if (p < e && *p != '\n')
		return NULL;
	return p < e ? p + 1 : e;
}

static int plain_line(struct feed_ctx *ctx, void *arg, const char *s, size_t n, uint32_t line);

/* feed_parse_lines with plain_line, the usual line read in one pass
 * (plain_v4_line) into the entries reserved for it, any other line by
 * line as feed_parse_lines reads it. */
static int plain_lines(struct feed_ctx *ctx, const char *buf, size_t len, uint32_t line0)
{
	struct feed_result *res = ctx->res;
	const char *p = buf, *end = buf + len, *q;
	uint32_t line = line0;
	int ret;

	while (p < end) {
		if (line < UINT32_MAX)
			line++;
		/* read straight into the next entry (taken only if the line is
		 * one): through a temporary, its byte stores would be loaded
		 * back whole before they reach the cache, which stalls */
		if (res->n_entries < res->cap_entries) {
			struct feed_entry *e = &res->entries[res->n_entries];

			q = plain_v4_line(p, end, &e->cidr);
			if (q) {
				e->line = line;
				e->ttl_s = 0;
				res->n_entries++;
				p = q;
				continue;
			}
		}
		q = memchr(p, '\n', (size_t)(end - p));
		ret = feed_parse_lines(ctx, p, (size_t)((q ? q + 1 : end) - p), plain_line, NULL,
				       line - 1);
		if (ret < 0)
			return ret;
		p = q ? q + 1 : end;
	}
	return 0;
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
	if (rest < rest_end && count_end(rest, rest_end) != rest_end)
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

	prefault(h->res.entries, h->res.cap_entries * sizeof(*h->res.entries));
	h->ret = plain_lines(&h->ctx, h->buf, h->len, h->line0);
	return NULL;
}

/* A feed of PLAIN_HALVES_MIN bytes or more is parsed in two halves at once,
 * the second half writing its entries where the first half's lines end
 * (a line makes one entry at most), each half mapping in the entries it
 * writes. When either half finds a bad line, the text is parsed again in
 * one piece, so errors come out exactly as a single pass reports them. */
int feed_plain_parse(struct feed_ctx *ctx, const char *buf, size_t len)
{
	struct feed_result *res = ctx->res;
	size_t n0 = res->n_entries, e0 = res->n_errors, s0 = res->n_skipped, sup0 = ctx->suppressed;
	const char *mid = len >= PLAIN_HALVES_MIN ? memchr(buf + len / 2, '\n', len - len / 2) : NULL;
	struct half h = { .ctx = { .res = &h.res, .now = ctx->now } };
	size_t lines1, lines2;
	pthread_t th;
	int ret;

	if (!mid || mid + 1 == buf + len)
		goto whole;
	mid++;
	lines1 = feed_count_lines(buf, (size_t)(mid - buf));
	lines2 = feed_count_lines(mid, (size_t)(buf + len - mid)) + 1;
	if (lines1 >= UINT32_MAX || !feed_reserve(res, lines1 + lines2, false))
		goto whole;
	h.buf = mid;
	h.len = (size_t)(buf + len - mid);
	h.line0 = (uint32_t)lines1;
	h.res.entries = res->entries + n0 + lines1;
	h.res.cap_entries = lines2;
	if (pthread_create(&th, NULL, half_run, &h)) {
		prefault(res->entries + n0, (lines1 + lines2) * sizeof(*res->entries));
		return plain_lines(ctx, buf, len, 0);
	}
	prefault(res->entries + n0, lines1 * sizeof(*res->entries));
	ret = plain_lines(ctx, buf, (size_t)(mid - buf), 0);
	pthread_join(th, NULL);
	if (ret || h.ret || res->n_errors != e0 || ctx->suppressed != sup0 || h.res.n_errors) {
		free(h.res.errors);
		res->n_entries = n0;
		res->n_errors = e0;
		res->n_skipped = s0;
		ctx->suppressed = sup0;
		if (ret == -ENOMEM || h.ret == -ENOMEM)
			return -ENOMEM;
		return plain_lines(ctx, buf, len, 0);
	}
	/* in place already when every line of the first half made an entry */
	if (res->entries + res->n_entries != h.res.entries)
		memmove(res->entries + res->n_entries, h.res.entries,
			h.res.n_entries * sizeof(*res->entries));
	res->n_entries += h.res.n_entries;
	res->n_skipped += h.res.n_skipped;
	return 0;
whole:	/* in one piece */
	feed_reserve_lines(res, buf, len);
	return plain_lines(ctx, buf, len, 0);
}

/* Any text is a plain feed, with an error for each line that is not a
 * prefix: the table asks plain last. */
bool feed_plain_detect(const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	return true;
}
