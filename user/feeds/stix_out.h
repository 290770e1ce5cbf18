/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/stix_out.h - STIX 2.1 objects written by xdpfence: the
 * producer's identity, TLP 2.0 markings, one indicator per prefix, bundles.
 *
 * Owns how our entries look in STIX: ids derived from the producer and the
 * prefix (UUIDv5), so the same prefix is always the same object and an
 * update is a new version of it; patterns ([ipv4-addr:value = 'a'] for a
 * single address, ISSUBSET 'p/len' for a range); timestamps in RFC 3339 UTC
 * with milliseconds; the official TLP 2.0 marking definitions. Builds
 * json-c objects; the caller serialises them. No clock, no I/O.
 */
#ifndef XDPFENCE_STIX_OUT_H
#define XDPFENCE_STIX_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "lib/cidr.h"

enum stix_tlp { STIX_TLP_CLEAR, STIX_TLP_GREEN, STIX_TLP_AMBER, STIX_TLP_AMBER_STRICT, STIX_TLP_RED,
		STIX_TLP_COUNT };

/* "clear" "green" "amber" "amber+strict" "red" (any case, "TLP:" prefix
 * allowed) -> enum stix_tlp, or -1. */
int stix_tlp_parse(const char *s);
const char *stix_tlp_name(int tlp);		/* "TLP:AMBER" */
const char *stix_tlp_marking_id(int tlp);	/* "marking-definition--55d920b0-..." */

/* RFC 4122 name-based UUID, SHA-1 (version 5). */
void stix_uuid5(const uint8_t ns[16], const void *name, size_t n, uint8_t out[16]);
/* Random UUID (version 4), from getrandom(). */
void stix_uuid4(uint8_t out[16]);
void stix_uuid_str(const uint8_t u[16], char out[37]);

/* Milliseconds since the epoch -> "2026-12-05T13:38:23.123Z" (len >= 32);
 * with micro, microseconds -> "...23.123456Z" (TAXII date_added). */
void stix_time_ms(int64_t ms, char *buf, size_t len);
void stix_time_us(int64_t us, char *buf, size_t len);
/* The reverse, for both forms (any fraction): 0, or -EINVAL. */
int stix_time_parse_us(const char *s, int64_t *us);

struct stix_producer {
	char name[128];			/* the identity's name */
	char identity_id[64];		/* "identity--<uuid5>" */
	uint8_t ns[16];			/* namespace of this producer's indicator ids */
	int tlp;			/* enum stix_tlp */
};

void stix_producer_init(struct stix_producer *p, const char *name, int tlp);

/* "indicator--<uuid5(producer, canonical prefix)>" (out >= 64). */
void stix_indicator_id(const struct stix_producer *p, const struct cidr *c, char *out, size_t len);

struct stix_ind {
	struct cidr prefix;
	int64_t created_ms;		/* first version (the entry's creation) */
	int64_t modified_ms;		/* this version */
	int64_t valid_from_ms;
	int64_t valid_until_ms;		/* 0: none */
	int confidence;			/* 0..100 */
	const char *description;
	bool revoked;
};

/* "[ipv4-addr:value = '198.51.100.7']", "[ipv6-addr:value ISSUBSET '2001:db8::/48']" */
void stix_pattern(const struct cidr *c, char *buf, size_t len);

json_object *stix_identity(const struct stix_producer *p);
json_object *stix_marking(int tlp);
json_object *stix_indicator(const struct stix_producer *p, const struct stix_ind *ind);
/* {"type":"bundle","id":"bundle--<uuid4>","objects":objects} (takes objects). */
json_object *stix_bundle(json_object *objects);

#endif
