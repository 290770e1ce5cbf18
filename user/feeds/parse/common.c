// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/common.c - results and messages every format shares.
 *
 * Owns how entries and errors enter a feed_result (growth, the error cap and
 * its summary slot), how input is quoted in a message, and the one wording of
 * a bad prefix. Pure: no files, maps, clocks or globals; input may be
 * anything, so every read is bounded by the length given.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "feeds/parse/internal.h"

void feed_result_free(struct feed_result *res)
{
	if (!res)
		return;
	free(res->entries);
	free(res->errors);
	memset(res, 0, sizeof(*res));
}

/* Make room for one more element: geometric growth, overflow checked. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	if (ncap <= n || ncap > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int feed_add_entry(struct feed_ctx *ctx, const struct cidr *c, uint32_t line, uint64_t ttl)
{
	struct feed_result *res = ctx->res;
	struct feed_entry *e;
	int ret;

	ret = grow((void **)&res->entries, &res->cap_entries, res->n_entries, sizeof(*e));
	if (ret)
		return ret;
	e = &res->entries[res->n_entries++];
	e->cidr = *c;
	e->line = line;
	e->ttl_s = ttl;
	return 0;
}

int feed_add_error(struct feed_ctx *ctx, uint32_t line, const char *fmt, ...)
{
	struct feed_result *res = ctx->res;
	struct feed_error *e;
	va_list ap;
	int ret;

	if (res->n_errors > FEED_ERRORS_MAX) {
		ctx->suppressed++;
		return 0;
	}
	ret = grow((void **)&res->errors, &res->cap_errors, res->n_errors, sizeof(*e));
	if (ret)
		return ret;
	e = &res->errors[res->n_errors++];
	e->line = line;
	if (res->n_errors > FEED_ERRORS_MAX) {
		/* the summary slot; feed_parse writes its final text */
		ctx->suppressed++;
		snprintf(e->msg, sizeof(e->msg), "more errors not listed");
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return 0;
}

/* \" \\ \xNN escapes, cut with "..." past QUOTE_MAX bytes. */
const char *feed_quote(char *dst, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = c < 0x20 || c >= 0x7f ? 4 : c == '"' || c == '\\' ? 2 : 1;

		if (o + need > QUOTE_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 4) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else {
			if (need == 2)
				dst[o++] = '\\';
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return dst;
}

int feed_parse_prefix(struct feed_ctx *ctx, const char *tok, size_t n, uint32_t line,
		      struct cidr *c)
{
	char buf[FEED_TOKEN_MAX], q[QUOTE_BUF], why[96];
	int ret;

	if (n >= sizeof(buf)) {
		snprintf(why, sizeof(why), "too long");
	} else if (memchr(tok, '\0', n)) {
		snprintf(why, sizeof(why), "NUL byte inside");
	} else {
		memcpy(buf, tok, n);
		buf[n] = '\0';
		if (!cidr_parse(buf, c, 0, why, sizeof(why)))
			return 1;
	}
	ret = feed_add_error(ctx, line, "bad prefix \"%s\": %s", feed_quote(q, tok, n), why);
	return ret < 0 ? ret : 0;
}
