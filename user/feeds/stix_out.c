// SPDX-License-Identifier: GPL-2.0
/* user/feeds/stix_out.c - see stix_out.h. */
#define _GNU_SOURCE		/* strptime, timegm */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <gnutls/crypto.h>

#include "feeds/stix_out.h"

/* The TLP 2.0 marking definitions OASIS publishes (cti-stix-common-objects,
 * extension-definition-specifications/tlp-2.0): fixed ids, created
 * 2022-10-01, declared through the TLP 2.0 extension definition. */
#define TLP2_EXTENSION	"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define TLP2_CREATED	"2022-10-01T00:00:00.000Z"

static const struct {
	const char *word, *name, *id;
} tlps[STIX_TLP_COUNT] = {
	[STIX_TLP_CLEAR] = { "clear", "TLP:CLEAR",
			     "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487" },
	[STIX_TLP_GREEN] = { "green", "TLP:GREEN",
			     "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" },
	[STIX_TLP_AMBER] = { "amber", "TLP:AMBER",
			     "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" },
	[STIX_TLP_AMBER_STRICT] = { "amber+strict", "TLP:AMBER+STRICT",
				    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" },
	[STIX_TLP_RED] = { "red", "TLP:RED",
			   "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" },
};

/* xdpfence's own namespace for name-based ids: uuid5(NAMESPACE_URL,
 * "https://xdpfence/stix") = 20eb798d-ff66-5fcb-aeaf-8620f51ac84d */
static const uint8_t xdpfence_ns[16] = {
	0x20, 0xeb, 0x79, 0x8d, 0xff, 0x66, 0x5f, 0xcb, 0xae, 0xaf, 0x86, 0x20, 0xf5, 0x1a, 0xc8, 0x4d,
};

/* The identity never changes but with its name (which changes its id), so
 * its one version has a fixed time. */
#define IDENTITY_CREATED "2026-01-01T00:00:00.000Z"

int stix_tlp_parse(const char *s)
{
	if (!strncasecmp(s, "TLP:", 4))
		s += 4;
	for (int i = 0; i < STIX_TLP_COUNT; i++)
		if (!strcasecmp(s, tlps[i].word))
			return i;
	return -1;
}

const char *stix_tlp_name(int tlp)
{
	return tlp >= 0 && tlp < STIX_TLP_COUNT ? tlps[tlp].name : "?";
}

const char *stix_tlp_marking_id(int tlp)
{
	return tlp >= 0 && tlp < STIX_TLP_COUNT ? tlps[tlp].id : tlps[STIX_TLP_AMBER].id;
}

void stix_uuid5(const uint8_t ns[16], const void *name, size_t n, uint8_t out[16])
{
	uint8_t digest[20];
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA1) == 0) {
		gnutls_hash(h, ns, 16);
		gnutls_hash(h, name, n);
		gnutls_hash_deinit(h, digest);
	} else {
		memset(digest, 0, sizeof(digest));
	}
	memcpy(out, digest, 16);
	out[6] = (out[6] & 0x0f) | 0x50;
	out[8] = (out[8] & 0x3f) | 0x80;
}

void stix_uuid4(uint8_t out[16])
{
	size_t got = 0;

	while (got < 16) {
		ssize_t r = getrandom(out + got, 16 - got, 0);

		if (r > 0)
			got += r;
		else if (errno != EINTR)
			break;
	}
	out[6] = (out[6] & 0x0f) | 0x40;
	out[8] = (out[8] & 0x3f) | 0x80;
}

void stix_uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

static void time_frac(int64_t sec, const char *frac, char *buf, size_t len)
{
	time_t t = sec;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%sZ", frac);
}

void stix_time_ms(int64_t ms, char *buf, size_t len)
{
	char f[8];

	if (ms < 0)
		ms = 0;
	snprintf(f, sizeof(f), "%03d", (int)(ms % 1000));
	time_frac(ms / 1000, f, buf, len);
}

void stix_time_us(int64_t us, char *buf, size_t len)
{
	char f[8];

	if (us < 0)
		us = 0;
	snprintf(f, sizeof(f), "%06d", (int)(us % 1000000));
	time_frac(us / 1000000, f, buf, len);
}

int stix_time_parse_us(const char *s, int64_t *us)
{
	struct tm tm = {};
	const char *p;
	int64_t frac = 0, scale = 1000000;

	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	if (*p != 'Z' || p[1])
		return -EINVAL;
	*us = (int64_t)timegm(&tm) * 1000000 + frac;
	return 0;
}

void stix_producer_init(struct stix_producer *p, const char *name, int tlp)
{
	char buf[160];
	uint8_t u[16];
	char s[37];

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->tlp = tlp;
	snprintf(buf, sizeof(buf), "identity:%s", p->name);
	stix_uuid5(xdpfence_ns, buf, strlen(buf), u);
	stix_uuid_str(u, s);
	snprintf(p->identity_id, sizeof(p->identity_id), "identity--%s", s);
	/* indicator ids are the producer's: two operators banning the same
	 * prefix publish two objects, not two versions of one */
	snprintf(buf, sizeof(buf), "indicators:%s", p->name);
	stix_uuid5(xdpfence_ns, buf, strlen(buf), p->ns);
}

void stix_indicator_id(const struct stix_producer *p, const struct cidr *c, char *out, size_t len)
{
	char pfx[CIDR_STR_MAX], s[37];
	uint8_t u[16];

	cidr_str(c, pfx, sizeof(pfx));
	stix_uuid5(p->ns, pfx, strlen(pfx), u);
	stix_uuid_str(u, s);
	snprintf(out, len, "indicator--%s", s);
}

void stix_pattern(const struct cidr *c, char *buf, size_t len)
{
	char pfx[CIDR_STR_MAX];
	bool host = c->len == (c->family == AF_INET ? 32 : 128);
	char *slash;

	cidr_str(c, pfx, sizeof(pfx));
	if (host && (slash = strchr(pfx, '/')))
		*slash = 0;
	snprintf(buf, len, "[%s:value %s '%s']", c->family == AF_INET ? "ipv4-addr" : "ipv6-addr",
		 host ? "=" : "ISSUBSET", pfx);
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

json_object *stix_identity(const struct stix_producer *p)
{
	json_object *o = json_object_new_object();

	add_str(o, "type", "identity");
	add_str(o, "spec_version", "2.1");
	add_str(o, "id", p->identity_id);
	add_str(o, "created", IDENTITY_CREATED);
	add_str(o, "modified", IDENTITY_CREATED);
	add_str(o, "name", p->name);
	add_str(o, "identity_class", "organization");
	return o;
}

json_object *stix_marking(int tlp)
{
	json_object *o = json_object_new_object(), *ext = json_object_new_object(),
		    *e = json_object_new_object();

	if (tlp < 0 || tlp >= STIX_TLP_COUNT)
		tlp = STIX_TLP_AMBER;
	add_str(o, "type", "marking-definition");
	add_str(o, "spec_version", "2.1");
	add_str(o, "id", tlps[tlp].id);
	add_str(o, "created", TLP2_CREATED);
	add_str(o, "name", tlps[tlp].name);
	add_str(e, "extension_type", "property-extension");
	add_str(e, "tlp_2_0", tlps[tlp].word);
	json_object_object_add(ext, TLP2_EXTENSION, e);
	json_object_object_add(o, "extensions", ext);
	return o;
}

json_object *stix_indicator(const struct stix_producer *p, const struct stix_ind *ind)
{
	json_object *o = json_object_new_object(), *a;
	char id[64], t[40], pat[160], pfx[CIDR_STR_MAX], name[96];
	int64_t until = ind->valid_until_ms;

	stix_indicator_id(p, &ind->prefix, id, sizeof(id));
	add_str(o, "type", "indicator");
	add_str(o, "spec_version", "2.1");
	add_str(o, "id", id);
	add_str(o, "created_by_ref", p->identity_id);
	stix_time_ms(ind->created_ms, t, sizeof(t));
	add_str(o, "created", t);
	/* a version is never older than the object */
	stix_time_ms(ind->modified_ms > ind->created_ms ? ind->modified_ms : ind->created_ms, t,
		     sizeof(t));
	add_str(o, "modified", t);
	snprintf(name, sizeof(name), "xdpfence: %s", cidr_str(&ind->prefix, pfx, sizeof(pfx)));
	add_str(o, "name", name);
	if (ind->description && *ind->description)
		add_str(o, "description", ind->description);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("malicious-activity"));
	json_object_object_add(o, "indicator_types", a);
	stix_pattern(&ind->prefix, pat, sizeof(pat));
	add_str(o, "pattern", pat);
	add_str(o, "pattern_type", "stix");
	add_str(o, "pattern_version", "2.1");
	stix_time_ms(ind->valid_from_ms, t, sizeof(t));
	add_str(o, "valid_from", t);
	if (until) {
		/* STIX: valid_until is later than valid_from */
		if (until <= ind->valid_from_ms)
			until = ind->valid_from_ms + 1;
		stix_time_ms(until, t, sizeof(t));
		add_str(o, "valid_until", t);
	}
	json_object_object_add(o, "confidence", json_object_new_int(ind->confidence < 0 ? 0 :
								     ind->confidence > 100 ? 100 :
								     ind->confidence));
	if (ind->revoked)
		json_object_object_add(o, "revoked", json_object_new_boolean(true));
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(stix_tlp_marking_id(p->tlp)));
	json_object_object_add(o, "object_marking_refs", a);
	return o;
}

json_object *stix_bundle(json_object *objects)
{
	json_object *o = json_object_new_object();
	uint8_t u[16];
	char s[37], id[48];

	stix_uuid4(u);
	stix_uuid_str(u, s);
	snprintf(id, sizeof(id), "bundle--%s", s);
	add_str(o, "type", "bundle");
	add_str(o, "id", id);
	json_object_object_add(o, "objects", objects);
	return o;
}
