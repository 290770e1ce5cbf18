// SPDX-License-Identifier: GPL-2.0
/* tests/user/bench_policy.c - time policy_tick() at 100k and 1M prefixes a tick.
 *
 * Not a test (no test_ prefix: the Makefile does not run it). Feeds sorted
 * samples, as counters_reader_copy() returns them: v4 /32s of 198.18.0.0/15 and v6
 * /64s of 2001:db8::/32, 1% of them above the rule's rate so promotions and
 * aggregations happen at the tick closing the window. A churn case replaces
 * half the prefixes every tick (a spoofed flood); the last case has every
 * prefix above the rate (a million promotions in one tick).
 * Prints ms per tick; the budget is 250 ms at 1M.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maps/keys.h"
#include "policy/policy.h"

#define TICKS 14

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static long rss_mib(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024;
}

static __u64 xorshift(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* sample i of generation g: v4 for the first 128k, then v6 */
static void make_prefix(struct cidr *c, __u64 i, __u64 g)
{
	memset(c, 0, sizeof(*c));
	if (i < 131072 && !g) {
		__u32 a = htonl(0xc6120000u + (__u32)i);	/* 198.18.0.0/15 */

		c->family = AF_INET;
		c->len = 32;
		memcpy(c->addr, &a, 4);
		return;
	}
	c->family = AF_INET6;
	c->len = 64;
	c->addr[0] = 0x20;
	c->addr[1] = 0x01;
	c->addr[2] = 0x0d;
	c->addr[3] = 0xb8;
	c->addr[4] = (__u8)(i >> 8);	/* i: 16 bits of /48, 16 of /64 */
	c->addr[5] = (__u8)i;
	c->addr[6] = (__u8)(i >> 24);
	c->addr[7] = (__u8)(i >> 16);
	c->addr[8] = (__u8)(g >> 8);	/* churn generation: 16 bits of /80 */
	c->addr[9] = (__u8)g;
}

/* 1% of the prefixes, by address (all of them with every_one) */
static bool is_hot(const struct cidr *c, bool every_one)
{
	__u32 h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ c->addr[i]) * 16777619u;
	return every_one || h % 100 == 0;
}

static int cmp_sample(const void *a, const void *b)
{
	const struct policy_sample *x = a, *y = b;

	if (x->prefix.family != y->prefix.family)
		return x->prefix.family < y->prefix.family ? -1 : 1;
	return memcmp(x->prefix.addr, y->prefix.addr, 16);
}

static void run(size_t n, bool churn, bool all_hot)
{
	struct policy_config cfg;
	struct policy_sample *s = calloc(n, sizeof(*s));
	const struct policy_decision *d;
	struct policy_stats st;
	struct policy *p;
	double total = 0, worst = 0;
	__u64 rng = 0x9e3779b97f4a7c15ULL, gen = 0;
	size_t nd, counts[5];

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.rules[0].name, sizeof(cfg.rules[0].name), "conns");
	cfg.rules[0].metric = POLICY_NEW_CONNS;
	cfg.rules[0].rate = 100;
	cfg.rules[0].window_s = 10;
	cfg.rules[0].action = FENCE_ACT_DROP;
	cfg.rules[0].ttl_s = 600;
	cfg.rules[0].max_ttl_s = 86400;
	cfg.rules[0].escalate = 2;
	cfg.rules[0].jitter = 0.1;
	cfg.rules[1] = cfg.rules[0];
	snprintf(cfg.rules[1].name, sizeof(cfg.rules[1].name), "bytes");
	cfg.rules[1].metric = POLICY_BYTES;
	cfg.rules[1].rate = 50e6;
	cfg.rules[1].action = FENCE_ACT_THROTTLE;
	cfg.n_rules = 2;
	cfg.v4_children = 4;
	cfg.v4_parent_len = 24;
	cfg.v6_children = 4;
	cfg.v6_parent_len = 48;
	cfg.max_tracked = POLICY_MAX_TRACKED;
	if (!s || policy_new(&p, &cfg, 1)) {
		fprintf(stderr, "setup failed\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		make_prefix(&s[i].prefix, i, 0);
	qsort(s, n, sizeof(*s), cmp_sample);

	printf("%s%zu prefixes a tick, %s above the rate, 2 rules, aggregation on:\n",
	       churn ? "churn (half new each tick): " : "", n, all_hot ? "all" : "1%");
	for (unsigned t = 0; t < TICKS; t++) {
		struct timespec t0;
		double ms;

		if (churn && t) {
			/* half the prefixes are new this tick */
			gen++;
			for (size_t i = 0; i < n; i += 2) {
				make_prefix(&s[i].prefix, i, gen);
				s[i].new_conns = s[i].packets = s[i].bytes = 0;
			}
			qsort(s, n, sizeof(*s), cmp_sample);
		}
		for (size_t i = 0; i < n; i++) {
			bool hot = is_hot(&s[i].prefix, all_hot);

			s[i].new_conns += hot ? 150 : xorshift(&rng) % 20;
			s[i].packets += 10 + xorshift(&rng) % 1000;
			s[i].bytes += 1000 + xorshift(&rng) % 100000;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (policy_tick(p, (__u64)(t + 1) * 1000000000ULL, s, n, NULL, NULL, &d, &nd)) {
			fprintf(stderr, "policy_tick failed\n");
			exit(1);
		}
		ms = ms_since(&t0);
		memset(counts, 0, sizeof(counts));
		for (size_t i = 0; i < nd; i++)
			counts[d[i].type]++;
		policy_get_stats(p, &st);
		printf("  tick %2u: %7.1f ms  decisions %zu (promote %zu, extend %zu, aggregate %zu, "
		       "unban %zu)  tracked %zu active %zu\n", t + 1, ms, nd, counts[POLICY_PROMOTE],
		       counts[POLICY_EXTEND], counts[POLICY_AGGREGATE], counts[POLICY_UNBAN],
		       st.tracked, st.active);
		if (t) {
			total += ms;
			worst = ms > worst ? ms : worst;
		}
	}
	printf("  => %.1f ms per tick on average after the first, worst %.1f ms; RSS %ld MiB\n\n",
	       total / (TICKS - 1), worst, rss_mib());
	policy_free(p);
	free(s);
}

int main(void)
{
	run(100000, false, false);
	run(1000000, false, false);
	run(1000000, true, false);
	run(1000000, false, true);
	return 0;
}
