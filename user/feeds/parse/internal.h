/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/parse/internal.h - what the feed parser files share.
 *
 * Owns the parse context, each format's {detect, parse} pair (the table that
 * holds them is in parse.c) and the helpers more than one format uses. Only
 * files in user/feeds/parse/ include it; everyone else uses feeds/parse.h.
 * Must not hold state or reach outside the parsers: the fuzz harness links
 * the .c files of user/feeds/parse/ with lib/cidr.c and lib/util.c alone.
 */
#ifndef XDPFENCE_FEED_PARSE_INTERNAL_H
#define XDPFENCE_FEED_PARSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "feeds/parse.h"

struct json_object;

#define FEED_TOKEN_MAX	64	/* longest valid prefix text is 49 bytes */
#define QUOTE_MAX	52	/* bytes of input quoted in one message */
#define QUOTE_BUF	(QUOTE_MAX + 4)

/* One feed_parse call. */
struct feed_ctx {
	struct feed_result *res;
	size_t suppressed;	/* errors past FEED_ERRORS_MAX: counted, not stored */
	int64_t now;		/* Unix seconds, injected by the caller */
};

/* ---- the formats (one file each) ----------------------------------------- */

/* detect: buf (no BOM, need not be NUL terminated) looks like this format.
 * parse: feed_parse for this format; 0, -EINVAL or -ENOMEM as feed_parse. */
bool feed_plain_detect(const char *buf, size_t len);
int feed_plain_parse(struct feed_ctx *ctx, const char *buf, size_t len);
bool feed_ipset_detect(const char *buf, size_t len);
int feed_ipset_parse(struct feed_ctx *ctx, const char *buf, size_t len);
bool feed_spamhaus_detect(const char *buf, size_t len);
int feed_spamhaus_parse(struct feed_ctx *ctx, const char *buf, size_t len);
bool feed_crowdsec_detect(const char *buf, size_t len);
int feed_crowdsec_parse(struct feed_ctx *ctx, const char *buf, size_t len);
bool feed_stix_detect(const char *buf, size_t len);
int feed_stix_parse(struct feed_ctx *ctx, const char *buf, size_t len);

/* ---- results (common.c) ---------------------------------------------------- */

int feed_add_entry(struct feed_ctx *ctx, const struct cidr *c, uint32_t line, uint64_t ttl);
/* Record an error; past FEED_ERRORS_MAX only counted. 0 or -ENOMEM. */
__attribute__((format(printf, 3, 4)))
int feed_add_error(struct feed_ctx *ctx, uint32_t line, const char *fmt, ...);
/* s[0..n) made printable in dst[QUOTE_BUF], for a message. */
const char *feed_quote(char *dst, const char *s, size_t n);
/* Parse one prefix token. 1: *c is set; 0: an error was recorded; <0: -errno. */
int feed_parse_prefix(struct feed_ctx *ctx, const char *tok, size_t n, uint32_t line,
		      struct cidr *c);

/* ---- text ------------------------------------------------------------------ */

/* Inline: tiny, and called for every byte or word. feed_trim and
 * feed_next_word are bigger and stay in lines.c: inlined into every caller,
 * they made plain_line bigger and its fast path slower. */

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool word_is(const char *w, const char *we, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(we - w) == n && !memcmp(w, lit, n);
}

/* Length-aware compare: JSON strings may hold NUL bytes. */
static inline bool str_is(const char *s, size_t n, const char *lit, bool icase)
{
	size_t l = strlen(lit);

	if (n != l)
		return false;
	return icase ? !strncasecmp(s, lit, l) : !memcmp(s, lit, l);
}

/* ---- lines (lines.c) ------------------------------------------------------- */

typedef int (*feed_line_fn)(struct feed_ctx *ctx, void *arg, const char *s, size_t n,
			    uint32_t line);

/* Split buf into lines (LF or CRLF), numbered from line0 + 1, and hand each
 * to fn; a line over FEED_LINE_MAX is an error instead. Stops at fn's first
 * negative return. */
int feed_parse_lines(struct feed_ctx *ctx, const char *buf, size_t len, feed_line_fn fn,
		     void *arg, uint32_t line0);
/* Room for one more entry per line of buf, best effort. */
void feed_reserve_lines(struct feed_result *res, const char *buf, size_t len);
/* Room for lines more entries, their pages populated now if populate:
 * false when there is none. */
bool feed_reserve(struct feed_result *res, size_t lines, bool populate);
/* The '\n' bytes in buf[0..len). */
size_t feed_count_lines(const char *buf, size_t len);
/* 1-based line of byte off. */
uint32_t feed_line_at(const char *buf, size_t off);
/* The line len bytes on from p, p being on line (at most UINT32_MAX). */
uint32_t feed_line_after(uint32_t line, const char *p, size_t len);
/* [*p, *e) without blanks at either end. */
void feed_trim(const char **p, const char **e);
/* The next blank-separated word in [*p, e): [*w, *we); false at the end. */
bool feed_next_word(const char **p, const char *e, const char **w, const char **we);

/* ---- JSON (json.c) --------------------------------------------------------- */

enum { JSTR_ABSENT, JSTR_OK, JSTR_BAD };

/* o[key], NULL when absent or JSON null. */
struct json_object *feed_json_get(struct json_object *o, const char *key);
/* o[key] as a string: JSTR_OK, JSTR_ABSENT, or JSTR_BAD when not a string. */
int feed_json_str(struct json_object *o, const char *key, const char **s, size_t *n);
/* Record why o[key] is unusable (st: JSTR_ABSENT or JSTR_BAD). */
int feed_json_field_error(struct feed_ctx *ctx, uint32_t line, const char *key, int st);
/* Offset of the first byte that is not JSON white space (len if none). */
size_t feed_json_first_char(const char *buf, size_t len);
/* One JSON value spanning all of buf. NULL and *ret = -EINVAL (error
 * recorded) or -ENOMEM when it cannot be had. */
struct json_object *feed_json_document(struct feed_ctx *ctx, const char *buf, size_t len,
				       int *ret);
/* Where the value of root member key starts in buf, or NULL. */
const char *feed_json_member(const char *buf, size_t len, const char *key);
/* n line numbers, one per element of the array at arr (all 0 where unsure);
 * NULL when out of memory. The caller frees it. */
uint32_t *feed_json_element_lines(const char *buf, size_t len, const char *arr, size_t n);

/* For detection: hand fn each member of the JSON object buf starts with (its
 * raw key, and the text from its value to the end) until fn says yes. */
typedef bool (*feed_json_member_fn)(const char *k, size_t kn, const char *v, const char *end);
bool feed_json_any_member(const char *buf, size_t len, feed_json_member_fn fn);
/* The raw JSON string at p is "lit" (no escapes in the words we look for). */
bool feed_json_string_is(const char *p, const char *end, const char *lit);

/* ---- time (time.c) --------------------------------------------------------- */

/* RFC 3339 to Unix seconds (see time.c). NULL or the reason it is bad. */
const char *feed_rfc3339(const char *s, size_t n, int64_t *t, bool *frac);
/* Go's time.ParseDuration to nanoseconds. NULL or the reason it is bad. */
const char *feed_go_duration(const char *s, size_t n, int64_t *out);

#endif
