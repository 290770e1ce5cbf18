/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/export.h - our deny entries as intelligence for others: which
 * entries go out, and the formats they go out in (STIX 2.1 bundle, plain,
 * FireHOL netset, CrowdSec decisions stream).
 *
 * Owns the rules of sharing: allowlisted ranges never go out (nor a deny
 * that overlaps one), and only the owner classes asked for (the engine's
 * promotions and the operator's bans by default; a feed's entries only
 * when that feed is named). Reads the committed entries through the table
 * API; writes to a FILE it is handed. Never prints: -errno and a message.
 */
#ifndef XDPFENCE_EXPORT_H
#define XDPFENCE_EXPORT_H

#include <stdio.h>
#include <stdint.h>

#include "core/pin.h"
#include "feeds/stix_out.h"

enum export_format { EXPORT_STIX, EXPORT_PLAIN, EXPORT_NETSET, EXPORT_CROWDSEC };

/* "stix" "plain" "netset" "crowdsec" -> enum export_format, or -1 */
int export_format_parse(const char *s);

struct export_filter {
	uint8_t owners;			/* FENCE_OWN_MANUAL | FENCE_OWN_PROMOTED */
	uint32_t feeds;			/* feed ids whose entries go out too */
	unsigned min_offences;		/* 0: any */
};

struct export_entry {
	struct cidr prefix;
	uint8_t owners;			/* the selected owner classes holding it (FENCE_OWN_*) */
	uint8_t action;			/* enum fence_action in force */
	uint16_t offences;
	int64_t created_unix;		/* when the entry was made */
	int64_t expires_ms;		/* wall clock, ms; 0: none (the latest expiry of its
					 * selected owners, none if one has none) */
	char reason[48];
};

/* The committed deny entries that pass f, in slot order; now_ms and now_ns
 * are the wall and monotonic clocks of the same moment (expiries turn from
 * one to the other). Entries all of whose selected owners have expired are
 * left out. Free *out. */
int export_collect(struct pinned *s, const struct export_filter *f, int64_t now_ms, uint64_t now_ns,
		   struct export_entry **out, size_t *n, char *err, size_t errlen);

/* 0..100: 50 for an entry with no offence counted (an operator's ban),
 * then 15 more per offence. */
int export_confidence(const struct export_entry *e);

/* Why the entry is there, for a STIX description. */
void export_description(const struct export_entry *e, char *buf, size_t len);

/* The indicator (its current version) for e; desc holds its description. */
void export_indicator(const struct export_entry *e, int64_t modified_ms, char *desc, size_t desclen,
		      struct stix_ind *out);

/* Write entries v[0..n) to f. p: the STIX producer (identity and TLP);
 * now_ms: the time written in headers and as STIX modified. */
int export_write(FILE *f, enum export_format fmt, const struct export_entry *v, size_t n,
		 const struct stix_producer *p, int64_t now_ms, char *err, size_t errlen);

#endif
