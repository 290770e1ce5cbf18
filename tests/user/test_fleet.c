// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_fleet.c - the fleet's keys, values and merge (engine/fleet.h):
 * the parts every gateway must agree on byte for byte. The client itself
 * runs against real nats-server processes in tests/integration/fleet.sh. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "engine/fleet.h"
#include "maps/keys.h"

static struct cidr pfx(const char *s)
{
	struct cidr c;
	char err[128];

	memset(&c, 0, sizeof(c));
	if (cidr_parse(s, &c, 0, err, sizeof(err)))
		ASSERT_STREQ(err, "", s);
	return c;
}

/* Keys: IPv4 dotted, IPv6 in hex (no ':' in a KV key), and back. */
static void test_fleet_keys(void)
{
	static const struct {
		const char *pfx, *key;
	} cases[] = {
		{ "198.18.2.0/24", "v4.198.18.2.0/24" },
		{ "203.0.113.7", "v4.203.0.113.7/32" },
		{ "0.0.0.0/0", "v4.0.0.0.0/0" },
		{ "2001:db8:bad::/48", "v6.20010db80bad00000000000000000000/48" },
		{ "2001:db8::1", "v6.20010db8000000000000000000000001/128" },
	};
	char key[FLEET_KEY_MAX], a[CIDR_STR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c = pfx(cases[i].pfx), back;

		ASSERT_EQ(fleet_key(&c, key, sizeof(key)), 0, cases[i].pfx);
		ASSERT_STREQ(key, cases[i].key, cases[i].pfx);
		ASSERT_TRUE(!strchr(key, ':'), "no colon");
		ASSERT_EQ(fleet_key_parse(key, &back), 0, key);
		ASSERT_STREQ(cidr_str(&back, a, sizeof(a)), cidr_str(&c, key, sizeof(key)), "round trip");
	}
	{
		static const char *const bad[] = {
			"v4.198.18.2.1/24",		/* host bits */
			"v4.198.18.2.0/33", "v4.256.0.0.0/8", "v4.1.2.3/8", "v4.1.2.3.4/8x",
			"v6.2001/48", "v6.20010db80bad0000000000000000000g/48",
			"v6.20010db80bad00000000000000000000/129", "x4.1.2.3.4/32", "",
		};
		struct cidr c;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ASSERT_EQ(fleet_key_parse(bad[i], &c), -EINVAL, bad[i]);
	}
}

static struct fleet_value val(__u8 action, __u64 expires_ms, __u32 offences, const char *origin)
{
	struct fleet_value v;

	memset(&v, 0, sizeof(v));
	v.action = action;
	v.expires_ms = expires_ms;
	v.offences = offences;
	v.decided_ms = 1000;
	v.ttl_s = 600;
	snprintf(v.origin, sizeof(v.origin), "%s", origin);
	snprintf(v.rule, sizeof(v.rule), "syn-burst");
	snprintf(v.reason, sizeof(v.reason), "syn-burst: new_conns 35.7/s > 20.0/s");
	return v;
}

static bool same(const struct fleet_value *a, const struct fleet_value *b)
{
	return a->action == b->action && a->manual == b->manual && a->rate == b->rate &&
	       a->burst == b->burst && a->offences == b->offences && a->expires_ms == b->expires_ms &&
	       a->decay_ms == b->decay_ms && a->decided_ms == b->decided_ms && a->ttl_s == b->ttl_s &&
	       !strcmp(a->origin, b->origin) && !strcmp(a->rule, b->rule) &&
	       !strcmp(a->reason, b->reason);
}

/* Values: one line of text, every field back as it was. */
static void test_fleet_values(void)
{
	struct fleet_value v = val(FENCE_ACT_THROTTLE, 1733412945000ULL, 3, "gw-a"), w;
	char buf[FLEET_VALUE_MAX];
	int n;

	v.rate = 20;
	v.burst = 40;
	v.decay_ms = 1733499345000ULL;
	v.manual = 1;
	n = fleet_value_encode(&v, buf, sizeof(buf));
	ASSERT_TRUE(n > 0, "encodes");
	ASSERT_STREQ(buf, "xf1 throttle 20 40 3 1733412945000 1733499345000 1000 600 manual gw-a "
		     "syn-burst syn-burst: new_conns 35.7/s > 20.0/s", "text");
	ASSERT_EQ(fleet_value_decode(buf, n, &w), 0, "decodes");
	ASSERT_TRUE(same(&v, &w), "round trip");
	v.rule[0] = v.reason[0] = v.origin[0] = 0;
	n = fleet_value_encode(&v, buf, sizeof(buf));
	ASSERT_EQ(fleet_value_decode(buf, n, &w), 0, "empty strings decode");
	ASSERT_TRUE(same(&v, &w), "empty strings round trip");
	ASSERT_EQ(fleet_value_encode(&v, buf, 10), -ENOSPC, "too small");
	{
		static const char *const bad[] = {
			"", "xf2 drop 0 0 1 0 0 0 0 promoted a r", "xf1 block 0 0 1 0 0 0 0 promoted a r",
			"xf1 drop 0 0 1 0 0 0 promoted a r", "xf1 drop 0 0 x 0 0 0 0 promoted a r",
			"xf1 drop 0 0 1 0 0 0 0 feed a r", "xf1 drop 0 0 99999999999 0 0 0 0 promoted a r",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ASSERT_EQ(fleet_value_decode(bad[i], strlen(bad[i]), &w), -EINVAL, bad[i]);
	}
}

/* Convergence: the stronger action, the later expiry (never beats any),
 * the most offences; a merge that changes nothing says so (no echo). */
static void test_fleet_merge(void)
{
	struct fleet_value a = val(FENCE_ACT_MONITOR, 5000, 1, "gw-a"), b, out;

	b = val(FENCE_ACT_DROP, 4000, 1, "gw-b");
	ASSERT_TRUE(fleet_merge(&a, &b, &out), "stronger action changes");
	ASSERT_EQ(out.action, FENCE_ACT_DROP, "drop wins");
	ASSERT_EQ(out.expires_ms, 5000, "later expiry kept");
	ASSERT_STREQ(out.origin, "gw-b", "origin: the one that changed it");
	ASSERT_TRUE(!fleet_merge(&out, &b, &out), "merging the same again: no change");
	ASSERT_TRUE(!fleet_merge(&out, &a, &out), "the weaker one: no change");
	b = val(FENCE_ACT_MONITOR, 9000, 1, "gw-c");
	ASSERT_TRUE(fleet_merge(&out, &b, &out), "later expiry changes");
	ASSERT_EQ(out.action, FENCE_ACT_DROP, "action kept");
	ASSERT_EQ(out.expires_ms, 9000, "expiry moved");
	b = val(FENCE_ACT_MONITOR, 0, 1, "gw-d");
	ASSERT_TRUE(fleet_merge(&out, &b, &out), "never changes");
	ASSERT_EQ(out.expires_ms, 0, "never beats any time");
	b = val(FENCE_ACT_DROP, 99999, 1, "gw-e");
	ASSERT_TRUE(!fleet_merge(&out, &b, &out), "no time beats never");
	b = val(FENCE_ACT_DROP, 1, 4, "gw-f");
	ASSERT_TRUE(fleet_merge(&out, &b, &out), "more offences change");
	ASSERT_EQ(out.offences, 4, "offences");
	/* order does not matter: both orders end at the same numbers */
	{
		struct fleet_value x = val(FENCE_ACT_THROTTLE, 7000, 2, "x"), y = val(FENCE_ACT_DROP, 6000, 3, "y");
		struct fleet_value xy, yx;

		x.rate = 5;
		fleet_merge(&x, &y, &xy);
		fleet_merge(&y, &x, &yx);
		ASSERT_EQ(xy.action, yx.action, "action commutes");
		ASSERT_EQ(xy.expires_ms, yx.expires_ms, "expiry commutes");
		ASSERT_EQ(xy.offences, yx.offences, "offences commute");
		ASSERT_EQ(xy.expires_ms, 7000, "the later");
		ASSERT_EQ(xy.action, FENCE_ACT_DROP, "the stronger");
	}
	ASSERT_TRUE(fleet_value_ended(&a, 5000), "ended at its expiry");
	ASSERT_TRUE(!fleet_value_ended(&a, 4999), "not before");
	a.decay_ms = 8000;
	ASSERT_TRUE(!fleet_value_forgotten(&a, 7999), "offences remembered until decay");
	ASSERT_TRUE(fleet_value_forgotten(&a, 8000), "forgotten at decay");
	a.expires_ms = 0;
	ASSERT_TRUE(!fleet_value_ended(&a, 1ULL << 60), "never ends");
}

TEST_MAIN(T(test_fleet_keys), T(test_fleet_values), T(test_fleet_merge))
