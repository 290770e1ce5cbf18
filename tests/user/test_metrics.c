// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_metrics.c - what the engine's metrics compute: the top
 * source prefixes by rate, the tick histogram, entries by owner and action.
 * The page itself is checked live (promtool, a real Prometheus) by
 * tests/integration/prometheus.sh. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "engine/metrics.h"

#define SEC 1000000000ULL

static void sample(struct policy_sample *s, unsigned i, __u64 packets, __u64 conns)
{
	char text[32];
	char err[64];

	memset(s, 0, sizeof(*s));
	snprintf(text, sizeof(text), "198.18.%u.0/24", i);
	cidr_parse(text, &s->prefix, 0, err, sizeof(err));
	s->packets = packets;
	s->new_conns = conns;
	s->bytes = packets * 64;
}

static bool near(double a, double b)
{
	return fabs(a - b) < 1e-6 * (fabs(b) + 1);
}

static void test_metrics_top_rank(void)
{
	struct metrics_top *t = metrics_top_new();
	struct metrics_top_entry top[METRICS_TOP];
	struct policy_sample s[30];
	char buf[CIDR_STR_MAX], want[32];
	unsigned n;

	if (!ASSERT_TRUE(t, "new"))
		return;
	for (unsigned i = 0; i < 30; i++)
		sample(&s[i], i, 1000000 + i, 50);
	ASSERT_EQ(metrics_top_update(t, s, 30, 100 * SEC), 0, "baseline");
	ASSERT_EQ(metrics_top_get(t, top), 0, "a first sample ranks nothing");
	/* 2 s later: prefix i sent 10*i packets and i connections more */
	for (unsigned i = 0; i < 30; i++)
		sample(&s[i], i, 1000000 + i + 10 * i, 50 + i);
	ASSERT_EQ(metrics_top_update(t, s, 30, 102 * SEC), 0, "update");
	n = metrics_top_get(t, top);
	ASSERT_EQ(n, METRICS_TOP, "the top METRICS_TOP");
	for (unsigned r = 0; r < n; r++) {
		snprintf(want, sizeof(want), "198.18.%u.0/24", 29 - r);
		ASSERT_STREQ(cidr_str(&top[r].prefix, buf, sizeof(buf)), want, "busiest first");
		ASSERT_TRUE(near(top[r].packets_per_s, 10.0 * (29 - r) / 2), "packets/s");
		ASSERT_TRUE(near(top[r].new_conns_per_s, (29.0 - r) / 2), "new conns/s");
	}
	metrics_top_free(t);
}

/* A prefix missing for a tick starts again from a baseline; a counter
 * that went back (its LRU entry recycled) counts from 0; prefixes that
 * sent nothing are not ranked. */
static void test_metrics_top_gaps(void)
{
	struct metrics_top *t = metrics_top_new();
	struct metrics_top_entry top[METRICS_TOP];
	struct policy_sample s[3];
	char buf[CIDR_STR_MAX];
	unsigned n;

	if (!ASSERT_TRUE(t, "new"))
		return;
	sample(&s[0], 1, 500, 0);
	sample(&s[1], 2, 500, 0);
	sample(&s[2], 3, 500, 0);
	metrics_top_update(t, s, 3, 10 * SEC);
	sample(&s[0], 1, 600, 0);	/* +100 */
	sample(&s[1], 2, 40, 0);	/* went back: 40 since the restart */
	metrics_top_update(t, s, 2, 11 * SEC);	/* prefix 3 absent */
	n = metrics_top_get(t, top);
	if (ASSERT_EQ(n, 2, "two ranked")) {
		ASSERT_STREQ(cidr_str(&top[0].prefix, buf, sizeof(buf)), "198.18.1.0/24", "first");
		ASSERT_TRUE(near(top[0].packets_per_s, 100), "+100 in 1 s");
		ASSERT_TRUE(near(top[1].packets_per_s, 40), "a reset counts from 0");
	}
	sample(&s[0], 1, 600, 0);	/* idle */
	sample(&s[1], 3, 900, 0);	/* back after a gap: a baseline */
	metrics_top_update(t, s, 2, 12 * SEC);
	ASSERT_EQ(metrics_top_get(t, top), 0, "idle and returning prefixes are not ranked");
	metrics_top_free(t);
}

/* The table follows the number of prefixes up and down without losing
 * the rates across the resize. */
static void test_metrics_top_resize(void)
{
	struct metrics_top *t = metrics_top_new();
	struct metrics_top_entry top[METRICS_TOP];
	struct policy_sample *s = calloc(5000, sizeof(*s));
	char buf[CIDR_STR_MAX], want[32];

	if (!ASSERT_TRUE(t && s, "alloc"))
		goto out;
	for (unsigned i = 0; i < 5; i++)
		sample(&s[i], i, 10, 0);
	metrics_top_update(t, s, 5, 1 * SEC);
	for (unsigned i = 0; i < 5000; i++) {
		sample(&s[i], 0, 10 + i, 0);
		s[i].prefix.addr[1] = 18 + (i >> 8) % 2;	/* 198.18-19.x.0/24 */
		s[i].prefix.addr[2] = i & 255;
		s[i].prefix.addr[0] = 198 + i / 512;
	}
	metrics_top_update(t, s, 5000, 2 * SEC);
	/* only the five seen before have a rate: 198.18.0-4.0/24 */
	ASSERT_EQ(metrics_top_get(t, top), 4, "the four that sent more (one sent +0)");
	for (unsigned i = 0; i < 5000; i++)
		s[i].packets += i % 7 == 0 ? 1000 + i : 0;
	metrics_top_update(t, s, 5000, 3 * SEC);
	ASSERT_EQ(metrics_top_get(t, top), METRICS_TOP, "ranked after growing");
	snprintf(want, sizeof(want), "%u.%u.%u.0/24", 198 + 4998 / 512, 18 + (4998 >> 8) % 2,
		 4998 & 255);
	ASSERT_STREQ(cidr_str(&top[0].prefix, buf, sizeof(buf)), want, "busiest");
	ASSERT_TRUE(near(top[0].packets_per_s, 1000 + 4998), "its rate");
	metrics_top_update(t, s, 3, 4 * SEC);
	metrics_top_update(t, s, 3, 5 * SEC);
	ASSERT_EQ(metrics_top_get(t, top), 0, "shrunk: nothing moved");
out:
	metrics_top_free(t);
	free(s);
}

static void test_metrics_tick_histogram(void)
{
	static const double seen[] = { 0.0005, 0.003, 0.3, 20 };
	struct metrics_snapshot s = {};

	for (unsigned i = 0; i < 4; i++)
		metrics_observe_tick(&s, seen[i]);
	ASSERT_EQ(s.ticks, 4, "count");
	ASSERT_TRUE(near(s.tick_seconds_sum, 20.3035), "sum");
	ASSERT_TRUE(near(s.tick_seconds_max, 20), "max");
	ASSERT_TRUE(near(s.tick_seconds, 20), "last");
	/* cumulative: le 0.001, 0.0025 -> 1; 0.005 .. 0.25 -> 2; 0.5 .. 10 -> 3 */
	ASSERT_EQ(s.tick_buckets[0], 1, "le 0.001");
	ASSERT_EQ(s.tick_buckets[1], 1, "le 0.0025");
	ASSERT_EQ(s.tick_buckets[2], 2, "le 0.005");
	ASSERT_EQ(s.tick_buckets[7], 2, "le 0.25");
	ASSERT_EQ(s.tick_buckets[8], 3, "le 0.5");
	ASSERT_EQ(s.tick_buckets[METRICS_TICK_BUCKETS - 1], 3, "le 10 (20 s only in +Inf)");
}

static void test_metrics_entries(void)
{
	struct metrics_snapshot s = {};
	struct fence_rule_info in = {};

	in.owners = FENCE_OWN_MANUAL | FENCE_OWN_FEED;
	in.manual_action = FENCE_ACT_THROTTLE;
	in.feed_action = FENCE_ACT_MONITOR;
	metrics_count_entry(&s, true, &in);
	in.owners = FENCE_OWN_PROMOTED;
	in.promoted_action = FENCE_ACT_DROP;
	metrics_count_entry(&s, true, &in);
	in.owners = FENCE_OWN_MANUAL;
	metrics_count_entry(&s, false, &in);	/* allow: no action */
	ASSERT_EQ(s.entries[1][METRICS_OWN_MANUAL][FENCE_ACT_THROTTLE], 1, "manual throttle");
	ASSERT_EQ(s.entries[1][METRICS_OWN_FEED][FENCE_ACT_MONITOR], 1, "feed monitor");
	ASSERT_EQ(s.entries[1][METRICS_OWN_PROMOTED][FENCE_ACT_DROP], 1, "promoted drop");
	ASSERT_EQ(s.entries[1][METRICS_OWN_MANUAL][FENCE_ACT_DROP], 0, "not manual drop");
	ASSERT_EQ(s.entries[0][METRICS_OWN_MANUAL][FENCE_ACT_DROP], 1, "allow, manual");
	ASSERT_EQ(s.entries[0][METRICS_OWN_MANUAL][FENCE_ACT_THROTTLE], 0, "allow has no action");
}

TEST_MAIN(T(test_metrics_top_rank), T(test_metrics_top_gaps), T(test_metrics_top_resize),
	  T(test_metrics_tick_histogram), T(test_metrics_entries));
