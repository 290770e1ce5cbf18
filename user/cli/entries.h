/* SPDX-License-Identifier: GPL-2.0 */
/* user/cli/entries.h - listing and describing allow/deny entries (ban list,
 * allow list, feed guardrails): owners by name, hits (the packets a deny
 * entry matched: for a drop entry, what it dropped), remaining TTL. */
#ifndef XDPFENCE_ENTRIES_H
#define XDPFENCE_ENTRIES_H

#include <json-c/json.h>

#include "cli/cli.h"

/* Feed names by id, read once from the `feeds` map. */
struct feed_names {
	char name[FENCE_FEEDS_MAX][32];
};
int feed_names_read(const struct fence_maps *m, struct feed_names *fn);

/* The reason to show: a fleet entry's ("@gw-a syn-burst: ...") without
 * its origin, which goes to origin (may be NULL) when asked, "" if none. */
const char *entry_reason(const struct fence_rule_info *in, char *origin, size_t len);

/* "manual,promoted,fleet:gw-a,feed:spamhaus" */
const char *owners_str(const struct fence_rule_info *in, const struct feed_names *fn,
		       char *buf, size_t len);

/* Print the committed entries of one kind, optionally only those with an
 * owner bit (0 = all) or one feed (feed_id >= 0). */
int entries_list(struct pinned *s, enum fence_kind kind, __u8 owner_filter, int feed_id);

/* The first allow entry overlapping c (either contains the other), or 0. */
__u32 entries_allow_overlap(struct pinned *s, const struct cidr *c);

#endif
