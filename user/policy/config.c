// SPDX-License-Identifier: GPL-2.0
/* user/policy/config.c - a policy's config and names: policy_new, policy_free,
 * policy_config_check, policy_set_config, the interned rule names that
 * decisions point at, and the names of events and metrics.
 *
 * Owns the check of a config and its change on SIGHUP (which streaks carry
 * over, when promotions are relinked to their parents). Must not read a
 * clock, touch a map or do any I/O.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "policy/internal.h"

const char *policy_event_name(enum policy_event e)
{
	static const char *const names[] = {
		[POLICY_PROMOTE] = "promote",
		[POLICY_EXTEND] = "extend",
		[POLICY_EXPIRE] = "expire",
		[POLICY_AGGREGATE] = "aggregate",
		[POLICY_UNBAN] = "unban",
	};

	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}

const char *policy_metric_name(enum policy_metric m)
{
	static const char *const names[] = {
		[POLICY_NEW_CONNS] = "new_conns",
		[POLICY_PACKETS] = "packets",
		[POLICY_BYTES] = "bytes",
		[POLICY_CHILDREN] = "children",
		[POLICY_HOSTS] = "hosts",
		[POLICY_SIGNALS] = "signals",
		[POLICY_ACCOUNTS] = "accounts",
	};

	return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

/* Names are never freed before policy_free: decisions point at them. */
int policy_name_intern(struct policy *p, const char *name, __u16 *id)
{
	size_t old_cap = p->names_cap;
	char *s;

	*id = 0;
	if (!*name)
		return 0;
	for (__u32 i = 1; i < p->n_names; i++)
		if (!strcmp(p->names[i], name)) {
			*id = (__u16)i;
			return 0;
		}
	if (p->n_names > UINT16_MAX)
		return -ENOSPC;
	if (!p->n_names)
		p->n_names = 1;		/* id 0 is "" */
	if (!GROW(p, names, names_cap, p->n_names + 1))
		return -ENOMEM;
	for (size_t i = old_cap; i < p->names_cap; i++)
		p->names[i] = NULL;
	s = strdup(name);
	if (!s)
		return -ENOMEM;
	p->names[p->n_names] = s;
	*id = (__u16)p->n_names++;
	return 0;
}

#define CHECK(cond, ...) do {							\
	if (!(cond)) {								\
		if (err && errlen)						\
			snprintf(err, errlen, __VA_ARGS__);			\
		return -EINVAL;							\
	}									\
} while (0)

int policy_config_check(const struct policy_config *cfg, char *err, size_t errlen)
{
	CHECK(cfg, "no config");
	CHECK(cfg->n_rules <= POLICY_MAX_RULES, "%u rules, at most %d", cfg->n_rules, POLICY_MAX_RULES);
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		const struct policy_rule *r = &cfg->rules[i];
		size_t len = strnlen(r->name, sizeof(r->name));

		CHECK(len && len < sizeof(r->name), "rule %u: name empty or too long", i);
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(cfg->rules[j].name, r->name), "rule \"%s\": appears twice", r->name);
		CHECK((unsigned)r->metric < POLICY_METRICS && r->metric != POLICY_CHILDREN,
		      "rule \"%s\": bad metric", r->name);
		if (r->metric <= POLICY_BYTES)
			CHECK(isfinite(r->rate) && r->rate > 0 && !r->count,
			      "rule \"%s\": a rate above 0 and no count", r->name);
		else
			CHECK(r->count && !r->rate, "rule \"%s\": a count of 1 or more and no rate",
			      r->name);
		CHECK(!(r->min_hosts || r->max_hosts) ||
		      (r->metric != POLICY_SIGNALS && r->metric != POLICY_ACCOUNTS),
		      "rule \"%s\": min_hosts/max_hosts are for new_conns, packets, bytes, hosts",
		      r->name);
		CHECK(!r->min_hosts || !r->max_hosts || r->min_hosts <= r->max_hosts,
		      "rule \"%s\": min_hosts above max_hosts", r->name);
		CHECK(r->window_s, "rule \"%s\": window_s is 0", r->name);
		CHECK(r->action < FENCE_ACT_MAX, "rule \"%s\": bad action", r->name);
		CHECK(r->ttl_s, "rule \"%s\": ttl_s is 0", r->name);
		CHECK(r->max_ttl_s >= r->ttl_s && r->max_ttl_s <= POLICY_MAX_TTL_S,
		      "rule \"%s\": max_ttl_s must be ttl_s..%llu", r->name, POLICY_MAX_TTL_S);
		CHECK(isfinite(r->escalate) && r->escalate >= 1 && r->escalate <= 1000,
		      "rule \"%s\": escalate must be 1..1000", r->name);
		CHECK(r->jitter >= 0 && r->jitter < 1, "rule \"%s\": jitter must be in [0, 1)", r->name);
		CHECK(r->scope <= POLICY_FLEET, "rule \"%s\": bad scope", r->name);
		CHECK(r->scope == POLICY_LOCAL || r->metric != POLICY_HOSTS,
		      "rule \"%s\": scope fleet is not for hosts", r->name);
	}
	CHECK(!cfg->v4_children || (cfg->v4_children >= 2 && cfg->v4_parent_len >= 1 &&
				    cfg->v4_parent_len < 32), "v4 aggregation: want 2+ children within /1../31");
	CHECK(!cfg->v6_children || (cfg->v6_children >= 2 && cfg->v6_parent_len >= 1 &&
				    cfg->v6_parent_len < 128), "v6 aggregation: want 2+ children within /1../127");
	return 0;
}

/* Interns the rule names; nothing else of p changes. */
static int policy_intern_rules(struct policy *p, const struct policy_config *cfg, __u16 *ids)
{
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		int err = policy_name_intern(p, cfg->rules[i].name, &ids[i]);

		if (err)
			return err;
	}
	return 0;
}

static void policy_apply_config(struct policy *p, const struct policy_config *cfg, const __u16 *ids)
{
	memcpy(p->rule_name, ids, sizeof(ids[0]) * cfg->n_rules);
	p->cfg = *cfg;
	p->max_tracked = cfg->max_tracked ? cfg->max_tracked : POLICY_MAX_TRACKED;
}

int policy_new(struct policy **pp, const struct policy_config *cfg, __u64 seed)
{
	__u16 ids[POLICY_MAX_RULES];
	struct policy *p;
	int err;

	*pp = NULL;
	err = policy_config_check(cfg, NULL, 0);
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->rng = seed;
	p->tick = 1;
	if (policy_table_init(p, cfg->n_rules)) {
		free(p);
		return -ENOMEM;
	}
	err = policy_intern_rules(p, cfg, ids);
	if (err) {
		policy_free(p);
		return err;
	}
	policy_apply_config(p, cfg, ids);
	*pp = p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (__u32 i = 1; i < p->n_names; i++)
		free(p->names[i]);
	free(p->names);
	policy_signals_free(p);
	free(p->tmp);
	free(p->whys);
	free(p->kids);
	free(p->dec);
	free(p->pending);
	free(p->heap);
	free(p->recs);
	free(p->slots);
	free(p);
}

int policy_set_config(struct policy *p, const struct policy_config *cfg)
{
	const struct policy_config old = p->cfg;
	__u16 ids[POLICY_MAX_RULES];
	int map[POLICY_MAX_RULES];
	bool same = cfg->n_rules == old.n_rules;
	int err;

	err = policy_config_check(cfg, NULL, 0);
	if (!err)
		err = policy_intern_rules(p, cfg, ids);
	if (err)
		return err;
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		const struct policy_rule *r = &cfg->rules[i];

		map[i] = -1;
		for (unsigned j = 0; j < old.n_rules; j++)
			if (!strcmp(old.rules[j].name, r->name) && old.rules[j].metric == r->metric &&
			    old.rules[j].rate == r->rate && old.rules[j].count == r->count)
				map[i] = (int)j;
		same &= map[i] == (int)i;
	}
	if (!same) {
		err = policy_table_remap(p, map, cfg->n_rules);
		if (err)
			return err;
	}
	policy_apply_config(p, cfg, ids);
	policy_signals_dirty(p);
	if (old.v4_children != cfg->v4_children || old.v4_parent_len != cfg->v4_parent_len ||
	    old.v6_children != cfg->v6_children || old.v6_parent_len != cfg->v6_parent_len ||
	    !same)
		return policy_relink(p);
	return 0;
}
