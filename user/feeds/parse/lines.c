// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/lines.c - walking text a line and a word at a time.
 *
 * Owns what a line is for the line formats (LF or CRLF, at most
 * FEED_LINE_MAX bytes, numbered from 1) and what a word is (blank
 * separated), reserving an entry per line, and turning a byte offset into a
 * line number for the JSON formats. Knows no format. Pure: no files, maps,
 * clocks or globals; buf is not NUL terminated, so every read is bounded by
 * len.
 */
#include <stdlib.h>

#include "feeds/parse/internal.h"
#include "lib/util.h"

uint32_t feed_line_after(uint32_t line, const char *p, size_t len)
{
	size_t n = feed_count_lines(p, len);

	return n >= UINT32_MAX - line ? UINT32_MAX : line + (uint32_t)n;
}

uint32_t feed_line_at(const char *buf, size_t off)
{
	return feed_line_after(1, buf, off);
}

void feed_trim(const char **p, const char **e)
{
	while (*p < *e && is_ws(**p))
		(*p)++;
	while (*e > *p && is_ws((*e)[-1]))
		(*e)--;
}

bool feed_next_word(const char **p, const char *e, const char **w, const char **we)
{
	const char *s = *p;

	while (s < e && is_ws(*s))
		s++;
	if (s == e)
		return false;
	*w = s;
	while (s < e && !is_ws(*s))
		s++;
	*we = s;
	*p = s;
	return true;
}

int feed_parse_lines(struct feed_ctx *ctx, const char *buf, size_t len, feed_line_fn fn,
		     void *arg, uint32_t line0)
{
	const char *p = buf, *end = buf + len;
	uint32_t line = line0;
	int ret;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (line < UINT32_MAX)
			line++;
		if (n && p[n - 1] == '\r')
			n--;
		if (n > FEED_LINE_MAX)
			ret = feed_add_error(ctx, line, "line too long (%zu bytes, limit %d)",
					     n, FEED_LINE_MAX);
		else
			ret = fn(ctx, arg, p, n, line);
		if (ret < 0)
			return ret;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

size_t feed_count_lines(const char *buf, size_t len)
{
	const uint64_t ones = 0x0101010101010101ULL, nl = ones * '\n', low7 = ~(ones << 7),
		       lanes16 = 0x00ff00ff00ff00ffULL;
	size_t n = 0, i = 0;

	/* eight bytes at a time: a byte of x ^ nl is zero where buf has '\n'
	 * (the exact zero-byte test: no carry from one byte to the next), and
	 * its top bit, shifted down, adds one to that byte of acc; every 255
	 * words (no byte of acc can pass 255) acc's bytes are summed */
	while (i + 8 <= len) {
		uint64_t acc = 0;

		for (int k = 0; k < 255 && i + 8 <= len; k++, i += 8) {
			uint64_t x, y;

			memcpy(&x, buf + i, 8);
			x ^= nl;
			y = (x & low7) + low7;
			acc += ~(y | x | low7) >> 7;
		}
		acc = (acc & lanes16) + (acc >> 8 & lanes16);	/* four 16-bit sums */
		n += (size_t)((acc * 0x0001000100010001ULL) >> 48);
	}
	for (; i < len; i++)
		n += buf[i] == '\n';
	return n;
}

/* A line makes one entry at most, so the entries of a line format are
 * reserved up front and mapped in at once: grown by doubling, a big feed
 * would cost copies and a page fault at a time. Best effort:
 * feed_add_entry still grows if this fails. */
bool feed_reserve(struct feed_result *res, size_t lines, bool populate)
{
	size_t want = res->n_entries + lines;
	void *p;

	if (want <= res->cap_entries)
		return true;
	if (want > SIZE_MAX / sizeof(*res->entries))
		return false;
	p = realloc(res->entries, want * sizeof(*res->entries));
	if (!p)
		return false;
	res->entries = p;
	res->cap_entries = want;
	if (populate)
		prefault(res->entries + res->n_entries, lines * sizeof(*res->entries));
	return true;
}

void feed_reserve_lines(struct feed_result *res, const char *buf, size_t len)
{
	feed_reserve(res, 1 + feed_count_lines(buf, len), true);
}
