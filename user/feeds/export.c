// SPDX-License-Identifier: GPL-2.0
/* user/feeds/export.c - see export.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feeds/export.h"

int export_format_parse(const char *s)
{
	static const char *const names[] = { [EXPORT_STIX] = "stix", [EXPORT_PLAIN] = "plain",
					     [EXPORT_NETSET] = "netset", [EXPORT_CROWDSEC] = "crowdsec" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* The latest expiry among the selected owners (CLOCK_MONOTONIC ns; 0 none),
 * and whether one of them is still in force at now. */
static uint64_t owners_expiry(const struct fence_rule_info *in, uint8_t owners, bool feed,
			      uint64_t now, bool *live)
{
	const uint64_t e[3] = { in->manual_expires_ns, in->promoted_expires_ns, in->feed_expires_ns };
	const bool sel[3] = { owners & FENCE_OWN_MANUAL, owners & FENCE_OWN_PROMOTED, feed };
	uint64_t latest = 0;
	bool never = false;

	*live = false;
	for (int k = 0; k < 3; k++) {
		if (!sel[k])
			continue;
		if (!e[k])
			never = true;
		else if (e[k] > latest)
			latest = e[k];
		if (!e[k] || e[k] > now)
			*live = true;
	}
	return never ? 0 : latest;
}

int export_collect(struct pinned *s, const struct export_filter *f, int64_t now_ms, uint64_t now_ns,
		   struct export_entry **out, size_t *n, char *err, size_t errlen)
{
	struct cidr *allows = NULL;
	size_t n_allows = 0, cap_allows = 0, cap = 0;
	struct export_entry *v = NULL;
	int ret = 0;

	*out = NULL;
	*n = 0;
	for (uint32_t slot = table_next(s->t, 0); slot; slot = table_next(s->t, slot)) {
		if (s->m.rules[slot].kind != FENCE_KIND_ALLOW)
			continue;
		if (n_allows == cap_allows) {
			struct cidr *a = realloc(allows, (cap_allows = cap_allows ? cap_allows * 2 : 64) *
						 sizeof(*a));

			if (!a)
				goto nomem;
			allows = a;
		}
		table_info_cidr(&s->m.info[slot], &allows[n_allows++]);
	}
	for (uint32_t slot = table_next(s->t, 0); slot; slot = table_next(s->t, slot)) {
		const struct fence_rule_info *in = &s->m.info[slot];
		uint8_t own = in->owners & f->owners & (FENCE_OWN_MANUAL | FENCE_OWN_PROMOTED);
		bool feed = (in->owners & FENCE_OWN_FEED) && (in->feeds & f->feeds), live, hit = false;
		struct export_entry *e;
		uint64_t exp;
		struct cidr c;

		if (s->m.rules[slot].kind != FENCE_KIND_DENY || (!own && !feed))
			continue;
		if (in->offences < f->min_offences)
			continue;
		exp = owners_expiry(in, own, feed, now_ns, &live);
		if (!live)
			continue;	/* ended, not yet swept */
		table_info_cidr(in, &c);
		for (size_t i = 0; i < n_allows && !hit; i++)
			hit = cidr_overlaps(&allows[i], &c);
		if (hit)
			continue;	/* never tell others to block what we let through */
		if (*n == cap) {
			e = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*e));
			if (!e)
				goto nomem;
			v = e;
		}
		e = &v[(*n)++];
		memset(e, 0, sizeof(*e));
		e->prefix = c;
		e->owners = own | (feed ? FENCE_OWN_FEED : 0);
		e->action = s->m.rules[slot].action;
		e->offences = in->offences;
		e->created_unix = in->created_unix ? (int64_t)in->created_unix : now_ms / 1000;
		e->expires_ms = exp ? now_ms + (int64_t)((exp - now_ns) / 1000000) : 0;
		memcpy(e->reason, in->reason, sizeof(e->reason));
		e->reason[sizeof(e->reason) - 1] = 0;
	}
	*out = v;
	free(allows);
	return ret;
nomem:
	free(allows);
	free(v);
	*n = 0;
	snprintf(err, errlen, "out of memory collecting the entries");
	return -ENOMEM;
}

int export_confidence(const struct export_entry *e)
{
	int c = 50 + 15 * e->offences;

	return c > 100 ? 100 : c;
}

static const char *action_word(int a)
{
	return a == FENCE_ACT_THROTTLE ? "throttle" : a == FENCE_ACT_MONITOR ? "monitor" : "drop";
}

void export_description(const struct export_entry *e, char *buf, size_t len)
{
	char pfx[CIDR_STR_MAX];
	size_t n;

	cidr_str(&e->prefix, pfx, sizeof(pfx));
	if (e->owners & FENCE_OWN_PROMOTED)
		n = snprintf(buf, len, "%s promoted by xdpfence's behaviour engine: %s; offences %u; "
			     "action %s", pfx,
			     e->reason[0] ? e->reason : "?", e->offences, action_word(e->action));
	else if (e->owners & FENCE_OWN_MANUAL)
		n = snprintf(buf, len, "%s banned by the operator: %s; action %s", pfx,
			     e->reason[0] ? e->reason : "no reason given", action_word(e->action));
	else
		n = snprintf(buf, len, "%s listed by a threat feed (%s); action %s", pfx, e->reason,
			     action_word(e->action));
	(void)n;
}

void export_indicator(const struct export_entry *e, int64_t modified_ms, char *desc, size_t desclen,
		      struct stix_ind *out)
{
	export_description(e, desc, desclen);
	memset(out, 0, sizeof(*out));
	out->prefix = e->prefix;
	out->created_ms = e->created_unix * 1000;
	out->modified_ms = modified_ms;
	out->valid_from_ms = e->created_unix * 1000;
	out->valid_until_ms = e->expires_ms;
	out->confidence = export_confidence(e);
	out->description = desc;
}

/* "1h2m3s" as CrowdSec (Go) writes durations; at least 1s */
static void go_duration(int64_t s, char *buf, size_t len)
{
	if (s < 1)
		s = 1;
	snprintf(buf, len, "%lldh%lldm%llds", (long long)(s / 3600), (long long)(s / 60 % 60),
		 (long long)(s % 60));
}

static int write_stix(FILE *f, const struct export_entry *v, size_t n, const struct stix_producer *p,
		      int64_t now_ms)
{
	json_object *objs = json_object_new_array(), *b;
	char desc[256];

	json_object_array_add(objs, stix_identity(p));
	json_object_array_add(objs, stix_marking(p->tlp));
	for (size_t i = 0; i < n; i++) {
		struct stix_ind ind;

		export_indicator(&v[i], now_ms, desc, sizeof(desc), &ind);
		json_object_array_add(objs, stix_indicator(p, &ind));
	}
	b = stix_bundle(objs);
	fprintf(f, "%s\n", json_object_to_json_string_ext(b, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(b);
	return 0;
}

static int write_crowdsec(FILE *f, const struct export_entry *v, size_t n, int64_t now_ms)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char pfx[CIDR_STR_MAX], dur[48];

	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_new_object();
		bool host = v[i].prefix.len == (v[i].prefix.family == AF_INET ? 32 : 128);
		char *slash;

		cidr_str(&v[i].prefix, pfx, sizeof(pfx));
		if (host && (slash = strchr(pfx, '/')))
			*slash = 0;
		/* no expiry: a year, the longest a decision usefully lasts */
		go_duration(v[i].expires_ms ? (v[i].expires_ms - now_ms) / 1000 : 365 * 86400, dur,
			    sizeof(dur));
		json_object_object_add(d, "duration", json_object_new_string(dur));
		json_object_object_add(d, "origin", json_object_new_string("xdpfence"));
		json_object_object_add(d, "scenario", json_object_new_string(
			v[i].reason[0] ? v[i].reason : "xdpfence"));
		json_object_object_add(d, "scope", json_object_new_string(host ? "Ip" : "Range"));
		json_object_object_add(d, "type", json_object_new_string("ban"));
		json_object_object_add(d, "value", json_object_new_string(pfx));
		json_object_array_add(arr, d);
	}
	json_object_object_add(o, "new", arr);
	json_object_object_add(o, "deleted", json_object_new_array());
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

static int write_lines(FILE *f, bool netset, const struct export_entry *v, size_t n,
		       const struct stix_producer *p, int64_t now_ms)
{
	char t[40], pfx[CIDR_STR_MAX];

	stix_time_ms(now_ms, t, sizeof(t));
	if (netset)
		fprintf(f, "#\n# xdpfence\n#\n# ipv4 and ipv6 hash:net ipset\n#\n"
			"# Ranges banned by %s (xdpfence export), %s.\n# Marking: %s.\n#\n"
			"# Source URL: xdpfence feed export --format netset\n# Entries: %zu\n#\n",
			p->name, t, stix_tlp_name(p->tlp), n);
	else
		fprintf(f, "# xdpfence export by %s, %s, %s, %zu entries\n", p->name, t,
			stix_tlp_name(p->tlp), n);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", cidr_str(&v[i].prefix, pfx, sizeof(pfx)));
	return 0;
}

int export_write(FILE *f, enum export_format fmt, const struct export_entry *v, size_t n,
		 const struct stix_producer *p, int64_t now_ms, char *err, size_t errlen)
{
	int ret;

	switch (fmt) {
	case EXPORT_STIX:
		ret = write_stix(f, v, n, p, now_ms);
		break;
	case EXPORT_CROWDSEC:
		ret = write_crowdsec(f, v, n, now_ms);
		break;
	case EXPORT_PLAIN:
	case EXPORT_NETSET:
		ret = write_lines(f, fmt == EXPORT_NETSET, v, n, p, now_ms);
		break;
	default:
		snprintf(err, errlen, "unknown export format %d", fmt);
		return -EINVAL;
	}
	if (!ret && (fflush(f) || ferror(f))) {
		ret = -errno;
		snprintf(err, errlen, "writing: %s", strerror(errno));
	}
	return ret;
}
