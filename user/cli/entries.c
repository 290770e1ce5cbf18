// SPDX-License-Identifier: GPL-2.0
/* user/cli/entries.c - see entries.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "cli/entries.h"
#include "core/counters.h"
#include "lib/log.h"
#include "lib/util.h"

int feed_names_read(const struct fence_maps *m, struct feed_names *fn)
{
	memset(fn, 0, sizeof(*fn));
	for (__u32 k = 0; k < FENCE_FEEDS_MAX; k++) {
		struct fence_feed f;

		if (bpf_map_lookup_elem(m->fd[FM_FEEDS], &k, &f))
			return -errno;
		memcpy(fn->name[k], f.name, sizeof(fn->name[k]));
		fn->name[k][sizeof(fn->name[k]) - 1] = 0;
	}
	return 0;
}

const char *entry_reason(const struct fence_rule_info *in, char *origin, size_t len)
{
	const char *sp;
	size_t n;

	if (origin && len)
		origin[0] = 0;
	if (!(in->owners & FENCE_OWN_FLEET) || in->reason[0] != '@')
		return in->reason;
	sp = memchr(in->reason, ' ', strnlen(in->reason, sizeof(in->reason)));
	n = sp ? (size_t)(sp - in->reason - 1) : strnlen(in->reason + 1, sizeof(in->reason) - 1);
	if (origin && len)
		snprintf(origin, len, "%.*s", (int)n, in->reason + 1);
	return sp ? sp + 1 : "";
}

const char *owners_str(const struct fence_rule_info *in, const struct feed_names *fn,
		       char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	if (in->owners & FENCE_OWN_MANUAL)
		n += snprintf(buf + n, len - n, "manual");
	if ((in->owners & FENCE_OWN_PROMOTED) && n < len)
		n += snprintf(buf + n, len - n, "%spromoted", n ? "," : "");
	if ((in->owners & FENCE_OWN_FLEET) && n < len) {
		char origin[48];

		entry_reason(in, origin, sizeof(origin));
		n += snprintf(buf + n, len - n, "%sfleet%s%s", n ? "," : "", origin[0] ? ":" : "",
			      origin);
	}
	for (int k = 0; k < FENCE_FEEDS_MAX && n < len; k++)
		if (in->feeds & (1U << k))
			n += snprintf(buf + n, len - n, "%sfeed:%s", n ? "," : "",
				      fn->name[k][0] ? fn->name[k] : "?");
	return buf;
}

static json_object *entry_json(const struct fence_rule_info *in, const struct fence_rule *r,
			       const struct feed_names *fn, const struct fence_entry_counters *hits,
			       __u64 now)
{
	json_object *o = json_object_new_object(), *own = json_object_new_array();
	char buf[CIDR_STR_MAX];
	struct cidr c;

	table_info_cidr(in, &c);
	json_object_object_add(o, "prefix", json_object_new_string(cidr_str(&c, buf, sizeof(buf))));
	if (in->owners & FENCE_OWN_MANUAL)
		json_object_array_add(own, json_object_new_string("manual"));
	if (in->owners & FENCE_OWN_PROMOTED)
		json_object_array_add(own, json_object_new_string("promoted"));
	if (in->owners & FENCE_OWN_FLEET)
		json_object_array_add(own, json_object_new_string("fleet"));
	for (int k = 0; k < FENCE_FEEDS_MAX; k++)
		if (in->feeds & (1U << k)) {
			char name[48];

			snprintf(name, sizeof(name), "feed:%s", fn->name[k][0] ? fn->name[k] : "?");
			json_object_array_add(own, json_object_new_string(name));
		}
	json_object_object_add(o, "owners", own);
	if (r->kind == FENCE_KIND_DENY) {
		json_object_object_add(o, "action", json_object_new_string(action_name(r->action)));
		if (r->action == FENCE_ACT_THROTTLE) {
			json_object_object_add(o, "rate", json_object_new_int64(r->rate));
			json_object_object_add(o, "burst", json_object_new_int64(r->burst));
		}
		json_object_object_add(o, "expires_in_s", r->expires_ns ?
			json_object_new_int64(r->expires_ns > now ? (r->expires_ns - now) / 1000000000ULL : 0) :
			NULL);
		json_object_object_add(o, "expired", json_object_new_boolean(r->expires_ns && r->expires_ns <= now));
		json_object_object_add(o, "hits", json_object_new_int64(hits->packets));
		json_object_object_add(o, "hit_bytes", json_object_new_int64(hits->bytes));
		json_object_object_add(o, "hit_new_conns", json_object_new_int64(hits->new_conns));
		json_object_object_add(o, "offences", json_object_new_int64(in->offences));
	}
	{
		char origin[48];
		const char *why = entry_reason(in, origin, sizeof(origin));

		json_object_object_add(o, "reason", json_object_new_string(why));
		if (in->owners & FENCE_OWN_FLEET)
			json_object_object_add(o, "origin", origin[0] ?
					       json_object_new_string(origin) : NULL);
	}
	json_object_object_add(o, "created_unix", json_object_new_int64(in->created_unix));
	return o;
}

int entries_list(struct pinned *s, enum fence_kind kind, __u8 owner_filter, int feed_id)
{
	struct feed_names fn;
	json_object *arr = NULL;
	struct fence_entry_counters *hits = NULL, none = {};
	__u64 now = fence_now_ns();
	__u32 shown = 0;

	if (feed_names_read(&s->m, &fn)) {
		pr_err("reading feed names: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (kind == FENCE_KIND_DENY) {
		int err = counters_entries_read(&s->m, &hits);

		if (err) {
			pr_err("reading the entries' counters: %s", strerror(-err));
			return EXIT_RUNTIME;
		}
	}
	if (g_opts.json)
		arr = json_object_new_array();
	else if (kind == FENCE_KIND_DENY)
		printf("%-43s %-13s %-9s %12s  %-24s %s\n", "prefix", "action", "expires", "hits",
		       "owners", "reason");
	else
		printf("%-43s %-24s %s\n", "prefix", "owners", "reason");

	for (__u32 slot = table_next(s->t, 0); slot; slot = table_next(s->t, slot)) {
		const struct fence_rule_info *in = &s->m.info[slot];
		const struct fence_rule *r = &s->m.rules[slot];
		char pfx[CIDR_STR_MAX], own[256], ttl[32], act[32];
		struct cidr c;

		if (r->kind != kind || (owner_filter && !(in->owners & owner_filter)))
			continue;
		if (feed_id >= 0 && !(in->feeds & (1U << feed_id)))
			continue;
		shown++;
		if (arr) {
			json_object_array_add(arr, entry_json(in, r, &fn, hits ? &hits[slot] : &none, now));
			continue;
		}
		table_info_cidr(in, &c);
		cidr_str(&c, pfx, sizeof(pfx));
		owners_str(in, &fn, own, sizeof(own));
		if (kind != FENCE_KIND_DENY) {
			printf("%-43s %-24s %s\n", pfx, own, entry_reason(in, NULL, 0));
			continue;
		}
		if (!r->expires_ns)
			snprintf(ttl, sizeof(ttl), "never");
		else if (r->expires_ns <= now)
			snprintf(ttl, sizeof(ttl), "expired");
		else
			format_duration((r->expires_ns - now + 999999999ULL) / 1000000000ULL, ttl, sizeof(ttl));
		if (r->action == FENCE_ACT_THROTTLE)
			snprintf(act, sizeof(act), "throttle %u/s", r->rate);
		else
			snprintf(act, sizeof(act), "%s", action_name(r->action));
		printf("%-43s %-13s %-9s %12llu  %-24s %s\n", pfx, act, ttl,
		       (unsigned long long)hits[slot].packets, own, entry_reason(in, NULL, 0));
	}
	if (arr) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else if (!shown) {
		printf("(none)\n");
	}
	free(hits);
	return EXIT_OK;
}

__u32 entries_allow_overlap(struct pinned *s, const struct cidr *c)
{
	/* every allow has its key (allow_v4 hash, allow_v6 trie): a walk of
	 * those, however big the table of denies */
	bool v4 = c->family == AF_INET;
	int fd = s->m.fd[v4 ? FM_ALLOW_V4 : FM_ALLOW_V6];
	__u8 key[sizeof(struct fence_v6_key)], next[sizeof(key)];
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		struct fence_slot v;
		struct cidr a = { .family = c->family };
		__u32 len;

		memcpy(key, next, sizeof(key));
		prev = key;
		memcpy(&len, key, 4);
		a.len = len;
		memcpy(a.addr, key + 4, v4 ? 4 : 16);
		if (cidr_overlaps(&a, c) && !bpf_map_lookup_elem(fd, key, &v))
			return v.slot;
	}
	return 0;
}
