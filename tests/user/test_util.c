// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_util.c - durations, rates, actions, prefix matching. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "lib/util.h"

static void test_util_durations(void)
{
	static const struct { const char *in; __u64 want; } good[] = {
		{ "0", 0 }, { "45", 45 }, { "90s", 90 }, { "10m", 600 }, { "1h30m", 5400 },
		{ "2d", 172800 }, { "1w", 604800 }, { "1h0m5s", 3605 }, { "24h", 86400 },
	};
	static const char *const bad[] = { "", "m", "10x", "1h30", "-5s", "1.5h", " 10m", "10m ",
					   "99999999999999999999s", "1h-1m" };
	char buf[32];
	__u64 v;

	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = ~0ULL;
		ASSERT_EQ(parse_duration(good[i].in, &v), 0, good[i].in);
		ASSERT_EQ(v, good[i].want, good[i].in);
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(parse_duration(bad[i], &v), -EINVAL, bad[i]);
	ASSERT_STREQ(format_duration(0, buf, sizeof(buf)), "-", "zero");
	ASSERT_STREQ(format_duration(59, buf, sizeof(buf)), "59s", "59s");
	ASSERT_STREQ(format_duration(3605, buf, sizeof(buf)), "1h5s", "1h5s");
	ASSERT_STREQ(format_duration(90061, buf, sizeof(buf)), "1d1h1m1s", "1d1h1m1s");
	ASSERT_STREQ(format_duration(600, buf, sizeof(buf)), "10m", "10m");
}

static void test_util_rates(void)
{
	__u32 r = 0;

	ASSERT_EQ(parse_rate("200/s", &r), 0, "200/s");
	ASSERT_EQ(r, 200, "200/s value");
	ASSERT_EQ(parse_rate("200", &r), 0, "bare");
	ASSERT_EQ(r, 200, "bare value");
	ASSERT_EQ(parse_rate("90/m", &r), 0, "90/m");
	ASSERT_EQ(r, 2, "90/m rounds up to 2/s");
	ASSERT_EQ(parse_rate("1/h", &r), 0, "1/h");
	ASSERT_EQ(r, 1, "1/h is at least 1/s");
	ASSERT_EQ(parse_rate("0/s", &r), 0, "0/s");
	ASSERT_EQ(r, 0, "0/s value");
	ASSERT_EQ(parse_rate("5/d", &r), -EINVAL, "unit d");
	ASSERT_EQ(parse_rate("/s", &r), -EINVAL, "no number");
	ASSERT_EQ(parse_rate("x/s", &r), -EINVAL, "not a number");
}

static void test_util_actions_and_matches(void)
{
	__u32 v;

	ASSERT_EQ(parse_action("drop"), 0, "drop");
	ASSERT_EQ(parse_action("throttle"), 1, "throttle");
	ASSERT_EQ(parse_action("monitor"), 2, "monitor");
	ASSERT_EQ(parse_action("ban"), -1, "ban is not an action name here");
	ASSERT_STREQ(action_name(1), "throttle", "name");
	ASSERT_TRUE(matches("li", "list"), "prefix");
	ASSERT_TRUE(!matches("lists", "list"), "longer");
	ASSERT_TRUE(!matches("", "list"), "empty");
	ASSERT_EQ(parse_u32("42", 1, 100, &v), 0, "u32");
	ASSERT_EQ(v, 42, "u32 value");
	ASSERT_EQ(parse_u32("101", 1, 100, &v), -EINVAL, "over max");
	ASSERT_EQ(parse_u32("4x", 1, 100, &v), -EINVAL, "junk");
	ASSERT_EQ(parse_u32("-1", 0, 100, &v), -EINVAL, "negative");
}

struct sortee {
	__u64 key;
	__u32 tie, pad;
};

static int sortee_cmp(const void *a, const void *b)
{
	const struct sortee *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->tie < y->tie ? -1 : x->tie > y->tie;
}

/* sort_by_u64 against qsort: numbers of every width it picks digits for
 * (a few bits, 39 as the IPv4 entries, all 64, top bits only), ties
 * broken by cmp, and too few to radix-sort. */
static void test_util_sort_by_u64(void)
{
	static const struct { __u64 mask; size_t n; const char *what; } cases[] = {
		{ 0x7ULL, 5000, "3-bit numbers, many ties" },
		{ (1ULL << 39) - 1, 200000, "39-bit numbers" },
		{ ~0ULL, 200000, "64-bit numbers" },
		{ 0xffff000000000000ULL, 50000, "the top 16 bits only" },
		{ 0, 3000, "all equal" },
		{ ~0ULL, 700, "fewer than 1,024" },
	};
	__u64 rng = 0x9e3779b97f4a7c15ULL;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].n;
		struct sortee *v = malloc(n * sizeof(*v)), *w = malloc(n * sizeof(*w));

		if (!ASSERT_TRUE(v && w, "memory")) {
			free(v);
			free(w);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			v[i] = (struct sortee){ rng & cases[c].mask, (__u32)(rng >> 20) };
		}
		memcpy(w, v, n * sizeof(*v));
		qsort(w, n, sizeof(*w), sortee_cmp);
		sort_by_u64(v, n, sizeof(*v), sortee_cmp);
		ASSERT_TRUE(!memcmp(v, w, n * sizeof(*v)), cases[c].what);
		free(v);
		free(w);
	}
}

TEST_MAIN(T(test_util_durations), T(test_util_rates), T(test_util_actions_and_matches),
	  T(test_util_sort_by_u64))
