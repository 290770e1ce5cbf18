/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/parse.h - threat feed parsers: text in, prefixes out.
 *
 * Owns the on-the-wire formats of threat feeds, one file per format in
 * feeds/parse/ behind the format table in feeds/parse/parse.c. Pure: no
 * maps, no network, no files (the caller hands in a buffer), no clock (the
 * caller hands in the time), no global state, so the parsers can be fuzzed
 * and unit tested. The caller decides what to do with errors (reject the
 * whole load, or apply the good lines with --lenient).
 */
#ifndef XDPFENCE_FEED_PARSE_H
#define XDPFENCE_FEED_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/cidr.h"

enum feed_format {
	FEED_FMT_AUTO,		/* sniff: see feed_detect() */
	FEED_FMT_PLAIN,		/* one CIDR or address per line, '#' and ';' comments */
	FEED_FMT_SPAMHAUS_JSON,	/* JSON lines {"cidr":"...","sblid":...}; metadata line skipped */
	FEED_FMT_NETSET,	/* FireHOL .netset: plain with '#' header block */
	FEED_FMT_IPSET,		/* `ipset save`: "create ..." and "add SET CIDR [opts]" */
	FEED_FMT_CROWDSEC,	/* CrowdSec LAPI decisions stream JSON {"new":[...],"deleted":[...]} */
	FEED_FMT_STIX,		/* STIX 2.1 bundle, array of objects, or one object */
	FEED_FMT_COUNT,
};

struct feed_entry {
	struct cidr cidr;
	uint32_t line;		/* 1-based line of the source text it came from (0 if unknown) */
	uint64_t ttl_s;		/* per-entry lifetime from the feed (ipset timeout, CrowdSec
				 * duration, STIX valid_until - now); 0 = use the feed's default */
};

struct feed_error {
	uint32_t line;		/* 1-based line number */
	char msg[160];		/* e.g. "bad prefix \"10.0.0.0/33\": prefix length 33 out of range for IPv4" */
};

struct feed_result {
	enum feed_format format;	/* format actually used (after auto-detection) */
	struct feed_entry *entries;
	size_t n_entries, cap_entries;
	struct feed_error *errors;
	size_t n_errors, cap_errors;
	size_t n_skipped;		/* input ignored on purpose: comments, blanks, metadata,
					 * what is not an IP block or has expired (each format's
					 * file in feeds/parse/ says what) */
};

/* Line formats (plain, netset, ipset, spamhaus-json): a longer line is one
 * error. CrowdSec and STIX documents have no line limit (minified JSON is
 * one line). */
#define FEED_LINE_MAX 4096

/* At most this many errors are stored; one more entry then says how many
 * further errors were not listed (its line is the first of them), so
 * garbage input cannot grow errors[] without bound. Entries are unaffected. */
#define FEED_ERRORS_MAX 10000

/* Name <-> enum, names as on the command line: auto plain spamhaus-json netset
 * ipset crowdsec stix. feed_format_parse returns -1 for an unknown name. */
const char *feed_format_name(enum feed_format f);
int feed_format_parse(const char *name);

/* Guess the format from the content (a leading UTF-8 BOM is ignored). A
 * JSON array is stix. For JSON objects the root keys of the first decide,
 * the first fit winning: "new" or "deleted" -> crowdsec; "type" "bundle" or
 * "indicator" -> stix; "cidr", or "type" "metadata" -> spamhaus-json (JSON
 * lines); none of these -> plain. Otherwise, when the first line that is not
 * blank or a '#' comment starts with the word "create" or "add" -> ipset;
 * else plain (netset is plain, so it is never the guess). */
enum feed_format feed_detect(const char *buf, size_t len);

/* res must be zeroed (or feed_result_free-d) before the first call; a
 * further call appends to it. A leading UTF-8 BOM is ignored.
 *
 * Parse buf (need not be NUL terminated). now_unix is the wall clock used to
 * turn STIX valid_until into a TTL (injected so tests are exact). Every bad
 * line is recorded in res->errors and parsing continues; every good entry is
 * appended to res->entries. Returns 0 when parsing ran (even with line errors),
 * -ENOMEM on allocation failure, -EINVAL if fmt is not a format or the
 * document as a whole cannot be read (e.g. malformed JSON for crowdsec/stix:
 * one error with the line). */
int feed_parse(const char *buf, size_t len, enum feed_format fmt, int64_t now_unix,
	       struct feed_result *res);

void feed_result_free(struct feed_result *res);

#endif
