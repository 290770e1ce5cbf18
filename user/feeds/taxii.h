/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/taxii.h - a TAXII 2.1 collection as a feed source:
 * taxii+https://HOST/API-ROOT/collections/ID/ (or taxii+http://).
 *
 * Owns polling a collection incrementally: the first poll reads it whole,
 * later ones ask only for what was added after the last one (added_after,
 * paging with next), with Bearer credentials from a token file. What the
 * peer said is kept in a cache file (the newest version of each object,
 * the peer's identities, where the last poll stopped); revoked and expired
 * indicators leave it. Each poll hands back the live indicators as one
 * STIX bundle for the stix parser, so a load is the usual diff: what the
 * peer revoked or let expire is released, the rest keeps its expiry
 * (valid_until). No cache (no directory for it): every poll reads whole.
 * Never prints: -errno and a message.
 */
#ifndef XDPFENCE_FEEDS_TAXII_H
#define XDPFENCE_FEEDS_TAXII_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "feeds/fetch.h"

#define TAXII_CACHE_DIR_DEFAULT	"/var/lib/xdpfence"

bool taxii_is_source(const char *source);

struct taxii_poll_opts {
	const char *source;		/* taxii+http(s)://.../collections/ID/ */
	const char *token_file;		/* "TOKEN" or "NAME TOKEN" (first line); NULL: none */
	const char *ca_file;		/* https: trust this CA bundle; NULL: the system's */
	const char *cache_dir;		/* NULL: TAXII_CACHE_DIR_DEFAULT; "" none */
	bool full;			/* read the collection whole (--refetch) */
	unsigned timeout_s;		/* each request */
	size_t max_bytes;		/* the whole of what is fetched */
	const volatile sig_atomic_t *cancel;
};

/* r->data: a STIX bundle of the peer's live indicators; reason: the name
 * of the identity that created them ("" if the peer sent none). 0, or
 * -errno with err (HTTP status, refused credentials, a bad answer). */
int taxii_poll(const struct taxii_poll_opts *o, struct fetch_result *r, char *reason, size_t rlen,
	       char *err, size_t errlen);

#endif
