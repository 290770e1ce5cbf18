/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/taxii.h - the read-only TAXII 2.1 server of `xdpfence run`.
 *
 * Serves our promotions and the operator's bans as STIX 2.1 indicators in
 * two collections, `promoted` and `manual`, under one API root
 * (/xdpfence/), discovery at /taxii2/: objects (added_after, limit, next,
 * match[id], match[type], match[version]), one object, its versions, the
 * manifest. Every request needs credentials (Bearer TOKEN, or basic auth
 * NAME:TOKEN, from the token file); responses are
 * application/taxii+json;version=2.1 (406 for an Accept that wants
 * something else). libmicrohttpd runs it on a thread of its own, with TLS
 * when given a certificate.
 *
 * Owns the history of what it published: each entry is an object whose
 * versions record every change (a new expiry, a repeat offence); an entry
 * that expires stays with its valid_until in the past, one removed early
 * gets a last version with revoked true. Bounded (history_max objects,
 * ended ones kept history_keep), and kept in a file so a restart publishes
 * the same objects and versions. Must not change entries.
 */
#ifndef XDPFENCE_TAXII_H
#define XDPFENCE_TAXII_H

#include <stdint.h>

#include "engine/config.h"
#include "feeds/export.h"

struct taxii;

/* Start serving per c (history file beside state_file unless c names
 * one). 0, or -errno with err saying why (a token file naming its line). */
int taxii_start(struct taxii **tp, const struct config_taxii *c, const char *state_file,
		char *err, size_t errlen);

/* The entries as they are now (owners promoted and manual; see
 * export_collect): new ones become objects, changed ones new versions,
 * gone ones end (expired, or revoked when removed early). */
void taxii_update(struct taxii *t, const struct export_entry *v, size_t n, int64_t now_ms);

/* Write the history file if it changed: 0 or -errno. */
int taxii_save(struct taxii *t, char *err, size_t errlen);

void taxii_stop(struct taxii *t);

/* Collection ids, for tests and the README: "promoted" or "manual". */
const char *taxii_collection_id(const struct taxii *t, const char *title);

#endif
