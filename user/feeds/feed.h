/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/feed.h - loading a threat feed into the deny entries, as a diff.
 *
 * Owns what a feed means for the entries: fetch, parse, guardrails (minimum
 * prefix length, no overlap with the allowlist), dedupe, then stage only the
 * difference against what the feed owned before: new prefixes gain the
 * feed's bit, gone ones lose it (and disappear when nobody else owns them),
 * the rest keep their slots and counters. Nothing is staged unless the whole
 * feed is good, or --lenient says to apply the good lines.
 */
#ifndef XDPFENCE_FEED_H
#define XDPFENCE_FEED_H

#include <signal.h>
#include <stdbool.h>

#include "core/pin.h"
#include "feeds/parse.h"
#include "feeds/fetch.h"

#define FEED_MIN_LEN_V4 8
#define FEED_MIN_LEN_V6 19

struct feed_load_opts {
	const char *name;
	const char *source;
	enum feed_format format;
	int action;			/* enum fence_action */
	__u64 ttl_s;			/* default lifetime of entries; 0 = until the feed drops them */
	__u32 rate, burst;		/* for action throttle */
	__u8 min_len_v4, min_len_v6;
	bool lenient;			/* apply the good lines of a feed with bad ones */
	bool check;			/* parse and check only, apply nothing */
	bool refetch;			/* ignore ETag/Last-Modified of the last load */
	int max_errors_shown;		/* 0 = all */
	unsigned timeout_s;		/* a download's time cap; 0 = FETCH_TIMEOUT_DEFAULT */
	size_t max_bytes;		/* size cap; 0 = FETCH_MAX_BYTES_DEFAULT */
	const volatile sig_atomic_t *cancel;	/* raised: stop fetching (may be NULL) */
	struct feed_prepared *prepared;	/* the source already fetched and parsed, or NULL */
	/* taxii+http(s):// sources (feeds/taxii.h) */
	const char *token_file, *ca_file;
	const char *cache_dir;		/* NULL: TAXII_CACHE_DIR_DEFAULT, "": none */
	bool from_fd;			/* feed_prepare reads the file source from source_fd,
					 * opened by the caller (a CLI that `xdpfence run`
					 * serves; it always prepares) */
	int source_fd;
};

/* A source fetched and parsed ahead of feed_load (feed_prepare), with no
 * lock held: a download, however slow, never holds the pin dir's lock,
 * and a one-shot CLI reads a file while it opens the pinned maps. For a
 * conditional request it takes the feed's record as it was (read without
 * the lock); feed_load, under the lock, refuses a "not modified" that the
 * record no longer backs (-EAGAIN: prepare again). Lifetimes in the feed
 * count from the parse: feed_load ages them by the time since. */
struct feed_prepared {
	struct fetch_result fr;
	struct feed_result res;
	int fetch_ret, parse_ret;
	char err[256];
	double fetch_s, parse_s;
	__u64 parsed_ns;		/* CLOCK_MONOTONIC of the parse */
	bool conditional;		/* asked "not modified since" etag/last_modified */
	char etag[96], last_modified[40];
	char reason[48];		/* new entries' reason ("" = "feed NAME"): a TAXII
					 * peer's identity */
};

/* rec: the feed's record read beforehand (feed_record_get), or NULL. */
void feed_prepare(const struct feed_load_opts *o, const struct fence_feed *rec,
		  struct feed_prepared *p);
void feed_prepared_free(struct feed_prepared *p);

/* The record of feed name under pin_dir, read without the lock (for a
 * conditional fetch). 0, or -ENOENT when there is no such feed (or no
 * pinned maps). */
int feed_record_get(const char *pin_dir, const char *name, struct fence_feed *rec);

struct feed_load_report {
	size_t entries;			/* distinct prefixes in the feed after checks */
	size_t added, removed, kept, updated;
	size_t skipped;			/* lines ignored on purpose (comments, metadata) */
	size_t errors;			/* bad or refused lines, all of them */
	struct feed_error *lines;	/* the first max_errors_shown of them (all if 0),
					 * for the caller to print as SOURCE:LINE: msg */
	size_t n_lines, cap_lines;
	bool not_modified;
	double fetch_s, parse_s, apply_s;
	char why[512];			/* a failed load: what went wrong */
	bool why_listed;		/* why is lines[0] (an unreadable document) */
};

/* Fetch, parse, check and apply one feed, s held for writing (for
 * o->check, only read, or NULL when nothing is pinned: no allowlist). 0; -EINVAL when the feed is refused (a bad line,
 * an unreadable document: the operator's input), other -errno when the
 * system failed; rep->why says why, rep->lines lists bad lines. Nothing is
 * applied unless the load succeeds. Free rep with feed_load_report_free. */
int feed_load(struct pinned *s, const struct feed_load_opts *o, struct feed_load_report *rep);
void feed_load_report_free(struct feed_load_report *rep);

/* Drop the feed's ownership from every entry and forget the feed. -ENOENT
 * when there is no such feed; err says what went wrong. */
int feed_delete(struct pinned *s, const char *name, size_t *removed, char *err, size_t errlen);

/* Feed id for a name, -1 if none. */
int feed_find(struct pinned *s, const char *name, struct fence_feed *rec);

bool feed_name_valid(const char *name);

#endif
