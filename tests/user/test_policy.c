// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_policy.c - unit tests for user/policy/, the behaviour engine.
 *
 * Scripted cumulative counter series with exact expectations: every decision
 * of a run goes to a text log ("110 promote 198.18.2.0/24 off=1 ttl=600
 * exp=710") compared whole, so an extra, missing or mistimed decision fails.
 * Jitter is 0 except in the jitter test. No clock, no maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps/keys.h"
#include "policy/policy.h"
#include "test.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define SIM_FLOWS 1100

struct allow {
	struct cidr list[4];
	unsigned n;
	unsigned calls;
};

/* A scripted run: flows (one sample each while on), the time, the log. */
struct sim {
	struct policy *p;
	struct allow allow;
	__u64 now;
	struct policy_sample flow[SIM_FLOWS];
	bool on[SIM_FLOWS];
	unsigned n_flows;
	struct policy_sample buf[SIM_FLOWS];
	const struct policy_decision *d;
	size_t nd;
	int err;
	char log[16384];
	size_t len;
};

static struct cidr pfx(const char *s)
{
	struct cidr c;
	char err[128];

	memset(&c, 0, sizeof(c));
	if (cidr_parse(s, &c, 0, err, sizeof(err)))
		ASSERT_STREQ(err, "", s);
	return c;
}

static bool allow_fn(void *ctx, const struct cidr *c)
{
	struct allow *a = ctx;

	a->calls++;
	for (unsigned i = 0; i < a->n; i++)
		if (cidr_overlaps(&a->list[i], c))
			return true;
	return false;
}

static const char *fmt_t(__u64 ns, char *buf, size_t len)
{
	if (ns % SEC)
		snprintf(buf, len, "%llu.%09llu", ns / SEC, ns % SEC);
	else
		snprintf(buf, len, "%llu", ns / SEC);
	return buf;
}

static void sim_logf(struct sim *m, const struct policy_decision *d)
{
	char t[32], e[32], a[CIDR_STR_MAX];
	size_t room = sizeof(m->log) - m->len;
	int n;

	n = snprintf(m->log + m->len, room, "%s %s %s off=%u ttl=%llu exp=%s",
		     fmt_t(d->time_ns, t, sizeof(t)), policy_event_name(d->type),
		     cidr_str(&d->prefix, a, sizeof(a)), d->offences,
		     (unsigned long long)d->ttl_s, fmt_t(d->expires_ns, e, sizeof(e)));
	m->len += (size_t)n < room ? (size_t)n : room - 1;
	for (unsigned i = 0; i < d->n_children; i++) {
		room = sizeof(m->log) - m->len;
		n = snprintf(m->log + m->len, room, "%s%s", i ? "," : " kids=",
			     cidr_str(&d->children[i], a, sizeof(a)));
		m->len += (size_t)n < room ? (size_t)n : room - 1;
	}
	room = sizeof(m->log) - m->len;
	n = snprintf(m->log + m->len, room, "%s%s\n", d->why[0] ? " why=" : "", d->why);
	m->len += (size_t)n < room ? (size_t)n : room - 1;
}

static struct policy_rule rule(const char *name, enum policy_metric metric, double rate,
			       __u32 window_s, __u8 action)
{
	struct policy_rule r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.metric = metric;
	r.rate = rate;
	r.window_s = window_s;
	r.action = action;
	r.throttle_rate = 10;
	r.throttle_burst = 20;
	r.ttl_s = 600;
	r.max_ttl_s = 2000;
	r.escalate = 2;
	r.jitter = 0;
	return r;
}

/* one rule: more than 100 new connections per second for 10 s -> drop 600 s */
static struct policy_config base_cfg(void)
{
	struct policy_config c;

	memset(&c, 0, sizeof(c));
	c.rules[0] = rule("conns", POLICY_NEW_CONNS, 100, 10, FENCE_ACT_DROP);
	c.n_rules = 1;
	return c;
}

static bool sim_init(struct sim *m, const struct policy_config *cfg, __u64 seed)
{
	memset(m, 0, sizeof(*m));
	return ASSERT_EQ(policy_new(&m->p, cfg, seed), 0, "policy_new");
}

static unsigned sim_flow(struct sim *m, const char *s)
{
	unsigned i = m->n_flows++;

	m->flow[i].prefix = pfx(s);
	m->on[i] = true;
	return i;
}

/* Advance to `at` ns and run a tick with the flows that are on. */
static size_t sim_tick_at(struct sim *m, __u64 at)
{
	size_t n = 0;

	for (unsigned i = 0; i < m->n_flows; i++)
		if (m->on[i])
			m->buf[n++] = m->flow[i];
	m->now = at;
	m->err = policy_tick(m->p, m->now, m->buf, n, allow_fn, &m->allow, &m->d, &m->nd);
	if (!ASSERT_EQ(m->err, 0, "policy_tick"))
		m->nd = 0;
	for (size_t i = 0; i < m->nd; i++)
		sim_logf(m, &m->d[i]);
	return m->nd;
}

static size_t sim_tick(struct sim *m, __u64 dt)
{
	return sim_tick_at(m, m->now + dt);
}

/* `ticks` ticks of 1 s during which flow f opens `per_s` connections a second. */
static void sim_run(struct sim *m, unsigned f, __u64 per_s, unsigned ticks)
{
	for (unsigned k = 0; k < ticks; k++) {
		m->flow[f].new_conns += per_s;
		sim_tick(m, SEC);
	}
}

static void sim_done(struct sim *m)
{
	policy_free(m->p);
	m->p = NULL;
}

static void expect_dbl(double got, double want, const char *name)
{
	if (!ASSERT_TRUE(got == want, name))
		TEST_FAIL_AT("  %s: got %.17g, want %.17g", name, got, want);
}

/* --- cases --------------------------------------------------------------- */

static void test_policy_names(void)
{
	ASSERT_STREQ(policy_event_name(POLICY_PROMOTE), "promote", "promote");
	ASSERT_STREQ(policy_event_name(POLICY_EXTEND), "extend", "extend");
	ASSERT_STREQ(policy_event_name(POLICY_EXPIRE), "expire", "expire");
	ASSERT_STREQ(policy_event_name(POLICY_AGGREGATE), "aggregate", "aggregate");
	ASSERT_STREQ(policy_event_name(POLICY_UNBAN), "unban", "unban");
	ASSERT_STREQ(policy_metric_name(POLICY_NEW_CONNS), "new_conns", "new_conns");
	ASSERT_STREQ(policy_metric_name(POLICY_PACKETS), "packets", "packets");
	ASSERT_STREQ(policy_metric_name(POLICY_BYTES), "bytes", "bytes");
	ASSERT_STREQ(policy_metric_name(POLICY_CHILDREN), "children", "children");
}

static void test_policy_bad_config(void)
{
	struct policy_config c;
	struct policy *p = NULL;
	char err[128] = "";

	c = base_cfg();
	c.rules[0].window_s = 0;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "window 0");
	ASSERT_EQ(policy_config_check(&c, err, sizeof(err)), -EINVAL, "check window 0");
	ASSERT_STREQ(err, "rule \"conns\": window_s is 0", "reason");
	c = base_cfg();
	c.rules[0].max_ttl_s = 599;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "max_ttl < ttl");
	c = base_cfg();
	c.rules[0].jitter = 1;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "jitter 1");
	c = base_cfg();
	c.rules[0].escalate = 0.5;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "escalate < 1");
	c = base_cfg();
	c.rules[0].rate = 0;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "rate 0");
	c = base_cfg();
	c.rules[1] = c.rules[0];
	c.n_rules = 2;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "same name twice");
	c = base_cfg();
	c.v4_children = 4;
	c.v4_parent_len = 32;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "parent /32");
	ASSERT_TRUE(p == NULL, "nothing allocated");
	c = base_cfg();
	ASSERT_EQ(policy_new(&p, &c, 1), 0, "good config");
	policy_free(p);
}

/* Time must move forward; a refused tick changes nothing. */
static void test_policy_bad_tick(void)
{
	struct sim m;

	if (!sim_init(&m, &(struct policy_config){ .n_rules = 0 }, 1))
		return;
	ASSERT_EQ(policy_tick(m.p, 5 * SEC, NULL, 0, NULL, NULL, &m.d, &m.nd), 0, "first");
	ASSERT_EQ(policy_tick(m.p, 5 * SEC, NULL, 0, NULL, NULL, &m.d, &m.nd), -EINVAL, "same time");
	ASSERT_EQ(policy_tick(m.p, 4 * SEC, NULL, 0, NULL, NULL, &m.d, &m.nd), -EINVAL, "backwards");
	ASSERT_EQ(policy_tick(m.p, 6 * SEC, NULL, 1, NULL, NULL, &m.d, &m.nd), -EINVAL, "n without s");
	ASSERT_EQ(policy_tick(m.p, 6 * SEC, NULL, 0, NULL, NULL, &m.d, &m.nd), 0, "forward");
	sim_done(&m);
}

/* 9 s above the rate, then below: a burst shorter than the window. */
static void test_policy_burst_short(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick(&m, SEC);			/* baseline */
	sim_run(&m, a, 500, 9);
	sim_run(&m, a, 50, 5);
	sim_run(&m, a, 500, 9);
	sim_run(&m, a, 100, 20);		/* exactly the rate is not above it */
	ASSERT_STREQ(m.log, "", "no decision");
	sim_done(&m);
}

/* Sustained: promoted at the tick completing the window, every field exact. */
static void test_policy_sustained(void)
{
	struct policy_config c = base_cfg();
	const struct policy_decision *d;
	char buf[CIDR_STR_MAX];
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick(&m, SEC);			/* t=1: baseline */
	for (unsigned k = 1; k <= 9; k++) {
		m.flow[a].new_conns += 100 + 10 * k;
		ASSERT_EQ(sim_tick(&m, SEC), 0, "nothing before the window is covered");
	}
	m.flow[a].new_conns += 200;		/* sum 1550 over 10 s */
	if (!ASSERT_EQ(sim_tick(&m, SEC), 1, "one decision at t=11"))
		return sim_done(&m);
	d = &m.d[0];
	ASSERT_EQ(d->type, POLICY_PROMOTE, "type");
	ASSERT_EQ(d->time_ns, 11 * SEC, "time");
	ASSERT_STREQ(cidr_str(&d->prefix, buf, sizeof(buf)), "198.51.100.0/24", "prefix");
	ASSERT_STREQ(d->rule, "conns", "rule");
	ASSERT_STREQ(d->metric, "new_conns", "metric");
	expect_dbl(d->value, 155.0, "value: average over the window");
	expect_dbl(d->threshold, 100.0, "threshold");
	ASSERT_EQ(d->action, FENCE_ACT_DROP, "action");
	ASSERT_EQ(d->throttle_rate, 10, "throttle_rate");
	ASSERT_EQ(d->throttle_burst, 20, "throttle_burst");
	ASSERT_EQ(d->ttl_s, 600, "ttl");
	ASSERT_EQ(d->expires_ns, 611 * SEC, "expires");
	ASSERT_EQ(d->offences, 1, "offences");
	ASSERT_STREQ(d->why, "", "why");
	ASSERT_EQ(d->n_children, 0, "children");
	ASSERT_TRUE(d->children == NULL, "children NULL");
	sim_run(&m, a, 0, 599);			/* t=610 */
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, NULL, NULL), 0, "still known");
	sim_run(&m, a, 0, 1);			/* t=611 */
	ASSERT_STREQ(m.log,
		     "11 promote 198.51.100.0/24 off=1 ttl=600 exp=611\n"
		     "611 expire 198.51.100.0/24 off=1 ttl=600 exp=611\n", "log");
	sim_done(&m);
}

/* A dip below the rate in the middle restarts the window. */
static void test_policy_dip_resets(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick(&m, SEC);			/* t=1 */
	sim_run(&m, a, 150, 6);			/* t=7 */
	sim_run(&m, a, 80, 1);			/* t=8: the dip */
	sim_run(&m, a, 150, 9);			/* t=17 */
	ASSERT_STREQ(m.log, "", "not yet: 9 s since the dip");
	sim_run(&m, a, 150, 1);			/* t=18 */
	ASSERT_STREQ(m.log, "18 promote 198.51.100.0/24 off=1 ttl=600 exp=618\n", "log");
	expect_dbl(m.d[0].value, 150.0, "value");
	sim_done(&m);
}

/* One baseline tick, then 10 s above the rate: promoted at at_s. */
static void offend_at(struct sim *m, unsigned f, __u64 at_s)
{
	m->on[f] = true;
	sim_tick_at(m, (at_s - 10) * SEC);
	sim_run(m, f, 150, 10);
	m->on[f] = false;
}

/* Repeat offences after expiry: 600, 1200, 2000 (2400 capped), 2000 again. */
static void test_policy_escalate(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "203.0.113.0/24");
	offend_at(&m, a, 10);
	sim_tick_at(&m, 610 * SEC);
	offend_at(&m, a, 700);
	sim_tick_at(&m, 1899 * SEC);
	sim_tick_at(&m, 1900 * SEC);
	offend_at(&m, a, 2000);
	sim_tick_at(&m, 4000 * SEC);
	offend_at(&m, a, 4011);			/* right after a capped ban: still capped */
	sim_tick_at(&m, 6011 * SEC);
	ASSERT_STREQ(m.log,
		     "10 promote 203.0.113.0/24 off=1 ttl=600 exp=610\n"
		     "610 expire 203.0.113.0/24 off=1 ttl=600 exp=610\n"
		     "700 promote 203.0.113.0/24 off=2 ttl=1200 exp=1900\n"
		     "1900 expire 203.0.113.0/24 off=2 ttl=1200 exp=1900\n"
		     "2000 promote 203.0.113.0/24 off=3 ttl=2000 exp=4000\n"
		     "4000 expire 203.0.113.0/24 off=3 ttl=2000 exp=4000\n"
		     "4011 promote 203.0.113.0/24 off=4 ttl=2000 exp=6011\n"
		     "6011 expire 203.0.113.0/24 off=4 ttl=2000 exp=6011\n", "log");
	sim_done(&m);
}

/* Offences are forgotten max_ttl (2000 s) after the ban ended, not before. */
static void test_policy_decay(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;
	__u32 off = 0;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "203.0.113.0/24");
	offend_at(&m, a, 10);			/* ends at 610: remembered until 2610 */
	sim_tick_at(&m, 610 * SEC);
	offend_at(&m, a, 2609);
	sim_tick_at(&m, 3809 * SEC);		/* ends at 3809: remembered until 5809 */
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, &off, NULL), 0, "history kept");
	ASSERT_EQ(off, 2, "offences after expiry");
	offend_at(&m, a, 5809);
	ASSERT_STREQ(m.log,
		     "10 promote 203.0.113.0/24 off=1 ttl=600 exp=610\n"
		     "610 expire 203.0.113.0/24 off=1 ttl=600 exp=610\n"
		     "2609 promote 203.0.113.0/24 off=2 ttl=1200 exp=3809\n"
		     "3809 expire 203.0.113.0/24 off=2 ttl=1200 exp=3809\n"
		     "5809 promote 203.0.113.0/24 off=1 ttl=600 exp=6409\n", "log");
	sim_done(&m);
}

/* Still offending while promoted: EXTEND, escalated, counted; stale expiries
 * of the shorter terms produce nothing. */
static void test_policy_extend(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_at(&m, 0);
	sim_run(&m, a, 150, 30);		/* t=30 */
	m.on[a] = false;
	sim_tick_at(&m, 610 * SEC);
	sim_tick_at(&m, 629 * SEC);
	sim_tick_at(&m, 630 * SEC);
	/* a prefix still over its rule while banned renews the ban at its
	 * current TTL: no new offence, no escalation (DESIGN: engine
	 * semantics); escalation comes when it offends again after the ban */
	ASSERT_STREQ(m.log,
		     "10 promote 198.51.100.0/24 off=1 ttl=600 exp=610\n"
		     "20 extend 198.51.100.0/24 off=1 ttl=600 exp=620\n"
		     "30 extend 198.51.100.0/24 off=1 ttl=600 exp=630\n"
		     "630 expire 198.51.100.0/24 off=1 ttl=600 exp=630\n", "log");
	sim_done(&m);
}

/* A false positive that keeps retrying while banned (an hour over its rule
 * here, window 10 s) is renewed at the same TTL again and again: it never
 * escalates to max_ttl before its ban has ended once. */
static void test_policy_extend_no_runaway(void)
{
	struct policy_config c = base_cfg();
	const struct policy_decision *last = NULL;
	struct sim m;
	unsigned a, extends = 0;
	__u32 off = 0;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_at(&m, 0);
	for (unsigned t = 1; t <= 3600; t++) {
		m.flow[a].new_conns += 150;
		sim_tick_at(&m, t * SEC);
		for (unsigned i = 0; i < m.nd; i++) {
			if (m.d[i].type == POLICY_EXTEND)
				extends++;
			if (!ASSERT_EQ(m.d[i].offences, 1, "one offence all along") ||
			    !ASSERT_EQ(m.d[i].ttl_s, 600, "the rule's first TTL all along"))
				goto out;
			last = &m.d[i];
		}
	}
	ASSERT_TRUE(extends >= 300, "renewed each window");
	ASSERT_TRUE(last && last->expires_ns >= 3600 * SEC, "renewed up to the end");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, &off, NULL), 0, "tracked");
	ASSERT_EQ(off, 1, "still one offence");
out:
	sim_done(&m);
}

/* An EXTEND never shortens a promotion, nor weakens its action. */
static void test_policy_extend_keeps_longer(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	c.rules[0] = rule("conns", POLICY_NEW_CONNS, 100, 10, FENCE_ACT_DROP);
	c.rules[0].ttl_s = 1800;
	c.rules[0].max_ttl_s = 3600;
	c.rules[1] = rule("pkts", POLICY_PACKETS, 1000, 5, FENCE_ACT_MONITOR);
	c.rules[1].ttl_s = 60;
	c.rules[1].max_ttl_s = 3600;
	c.n_rules = 2;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_at(&m, 0);
	for (unsigned t = 1; t <= 15; t++) {
		m.flow[a].new_conns += 150;
		m.flow[a].packets += 2000;
		sim_tick_at(&m, t * SEC);
	}
	ASSERT_EQ(m.nd, 1, "extend at 15");
	if (m.nd == 1) {
		ASSERT_EQ(m.d[0].action, FENCE_ACT_DROP, "still drop");
		ASSERT_STREQ(m.d[0].rule, "pkts", "by pkts");
	}
	m.on[a] = false;
	sim_tick_at(&m, 255 * SEC);
	sim_tick_at(&m, 1815 * SEC);
	ASSERT_STREQ(m.log,
		     "5 promote 198.51.100.0/24 off=1 ttl=60 exp=65\n"
		     "10 extend 198.51.100.0/24 off=1 ttl=1800 exp=1810\n"
		     "15 extend 198.51.100.0/24 off=1 ttl=1800 exp=1815\n"
		     "1815 expire 198.51.100.0/24 off=1 ttl=1800 exp=1815\n", "log");
	sim_done(&m);
}

/* Two rules: the shorter window promotes first (monitor); the drop rule then
 * extends with the stronger action. Both completing in one tick: one
 * decision, the strongest action. */
static void test_policy_two_rules(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a, b;

	c.rules[0] = rule("pkts", POLICY_PACKETS, 1000, 5, FENCE_ACT_MONITOR);
	c.rules[1] = rule("conns", POLICY_NEW_CONNS, 100, 10, FENCE_ACT_DROP);
	c.n_rules = 2;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	b = sim_flow(&m, "192.0.2.0/24");
	sim_tick_at(&m, 0);
	for (unsigned k = 1; k <= 10; k++) {
		m.flow[a].packets += 2000;
		m.flow[a].new_conns += 150;
		m.flow[b].new_conns += 150;
		if (k > 5)
			m.flow[b].packets += 2000;	/* both of b's windows end at 10 */
		sim_tick(&m, SEC);
		if (k == 5) {
			ASSERT_EQ(m.nd, 1, "pkts fires at 5");
			ASSERT_EQ(m.d[0].action, FENCE_ACT_MONITOR, "monitor");
			ASSERT_STREQ(m.d[0].rule, "pkts", "rule pkts");
			ASSERT_STREQ(m.d[0].metric, "packets", "metric packets");
			expect_dbl(m.d[0].value, 2000, "packets per second");
		}
	}
	ASSERT_EQ(m.nd, 2, "a extended, b promoted at 10");
	ASSERT_EQ(m.d[0].type, POLICY_EXTEND, "a: extend");
	ASSERT_EQ(m.d[0].action, FENCE_ACT_DROP, "a: the stronger action");
	ASSERT_STREQ(m.d[0].rule, "conns", "a: rule");
	ASSERT_EQ(m.d[1].type, POLICY_PROMOTE, "b: promote");
	ASSERT_EQ(m.d[1].action, FENCE_ACT_DROP, "b: drop wins a tie of windows");
	ASSERT_STREQ(m.d[1].rule, "conns", "b: rule");
	ASSERT_STREQ(m.log,
		     "5 promote 198.51.100.0/24 off=1 ttl=600 exp=605\n"
		     "10 extend 198.51.100.0/24 off=1 ttl=600 exp=610\n"
		     "10 promote 192.0.2.0/24 off=1 ttl=600 exp=610\n", "log");
	sim_done(&m);
}

/* An allowlisted prefix is never promoted; its neighbour is. */
static void test_policy_allowlist(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a, b;

	if (!sim_init(&m, &c, 1))
		return;
	m.allow.list[m.allow.n++] = pfx("198.51.100.7/32");
	a = sim_flow(&m, "198.51.100.0/24");
	b = sim_flow(&m, "198.51.101.0/24");
	sim_tick_at(&m, 0);
	for (unsigned k = 0; k < 50; k++) {
		m.flow[a].new_conns += 1000;
		m.flow[b].new_conns += 150;
		sim_tick(&m, SEC);
	}
	ASSERT_STREQ(m.log,
		     "10 promote 198.51.101.0/24 off=1 ttl=600 exp=610\n"
		     "20 extend 198.51.101.0/24 off=1 ttl=600 exp=620\n"
		     "30 extend 198.51.101.0/24 off=1 ttl=600 exp=630\n"
		     "40 extend 198.51.101.0/24 off=1 ttl=600 exp=640\n"
		     "50 extend 198.51.101.0/24 off=1 ttl=600 exp=650\n", "log");
	ASSERT_EQ(m.allow.calls, 10, "asked once per completed window");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, NULL, NULL), -ENOENT, "no record");
	sim_done(&m);
}

/* Four promoted /24s in a /16: the /16 is promoted for the longest remaining
 * term, the children unbanned; a fifth /24 is covered until the /16 expires. */
static void test_policy_aggregate_v4(void)
{
	struct policy_config c = base_cfg();
	struct policy_stats st;
	struct sim m;
	unsigned c1, c2, c3, c4, c5, o;
	__u32 off;
	__u64 exp;

	c.v4_children = 4;
	c.v4_parent_len = 16;
	if (!sim_init(&m, &c, 1))
		return;
	c1 = sim_flow(&m, "198.18.1.0/24");
	sim_tick_at(&m, 0);
	sim_run(&m, c1, 150, 10);		/* t=10: c1 promoted */
	ASSERT_EQ(policy_forget(m.p, &m.flow[c1].prefix), 0, "forget");
	ASSERT_EQ(policy_forget(m.p, &m.flow[c1].prefix), -ENOENT, "forget twice");
	sim_run(&m, c1, 150, 10);		/* t=20: again, 1200 s: ends 1220 */
	m.on[c1] = false;

	c2 = sim_flow(&m, "198.18.2.0/24");
	c3 = sim_flow(&m, "198.18.3.0/24");
	c4 = sim_flow(&m, "198.18.4.0/24");
	o = sim_flow(&m, "198.19.0.0/24");
	c5 = sim_flow(&m, "198.18.5.0/24");
	m.on[c5] = false;
	sim_tick_at(&m, 100 * SEC);
	for (unsigned t = 101; t <= 1230; t++) {
		if (t == 105)
			m.on[c5] = true;	/* baseline at 105 */
		m.flow[c2].new_conns += 150;
		m.flow[c3].new_conns += 150;
		m.flow[c4].new_conns += 150;
		m.flow[c5].new_conns += 150;
		m.flow[o].new_conns += 150;
		if (t == 111)
			m.on[c2] = m.on[c3] = m.on[c4] = m.on[o] = false;
		sim_tick_at(&m, t * SEC);
		if (t == 110) {
			ASSERT_EQ(m.nd, 9, "4 promote, aggregate, 4 unban");
			if (m.nd == 9) {
				ASSERT_EQ(m.d[4].type, POLICY_AGGREGATE, "aggregate after the promotions");
				ASSERT_STREQ(m.d[4].rule, "conns", "aggregate: rule");
				ASSERT_STREQ(m.d[4].metric, "children", "aggregate: metric");
				expect_dbl(m.d[4].value, 4, "aggregate: value");
				expect_dbl(m.d[4].threshold, 4, "aggregate: threshold");
				ASSERT_EQ(m.d[4].action, FENCE_ACT_DROP, "aggregate: action");
				ASSERT_STREQ(m.d[5].rule, "conns", "unban: rule");
			}
			policy_get_stats(m.p, &st);
			ASSERT_EQ(st.active, 2, "active: the /16 and 198.19.0.0/24");
			ASSERT_EQ(policy_lookup(m.p, &m.flow[c1].prefix, &off, &exp), 0, "c1 known");
			ASSERT_EQ(off, 2, "c1 keeps its offences");
			ASSERT_EQ(exp, 0, "c1 not promoted");
		}
	}
	ASSERT_STREQ(m.log,
		     "10 promote 198.18.1.0/24 off=1 ttl=600 exp=610\n"
		     "20 promote 198.18.1.0/24 off=2 ttl=1200 exp=1220\n"
		     "110 promote 198.18.2.0/24 off=1 ttl=600 exp=710\n"
		     "110 promote 198.18.3.0/24 off=1 ttl=600 exp=710\n"
		     "110 promote 198.18.4.0/24 off=1 ttl=600 exp=710\n"
		     "110 promote 198.19.0.0/24 off=1 ttl=600 exp=710\n"
		     "110 aggregate 198.18.0.0/16 off=1 ttl=1110 exp=1220"
		     " kids=198.18.1.0/24,198.18.2.0/24,198.18.3.0/24,198.18.4.0/24\n"
		     "110 unban 198.18.1.0/24 off=2 ttl=1200 exp=1220 why=aggregated into 198.18.0.0/16\n"
		     "110 unban 198.18.2.0/24 off=1 ttl=600 exp=710 why=aggregated into 198.18.0.0/16\n"
		     "110 unban 198.18.3.0/24 off=1 ttl=600 exp=710 why=aggregated into 198.18.0.0/16\n"
		     "110 unban 198.18.4.0/24 off=1 ttl=600 exp=710 why=aggregated into 198.18.0.0/16\n"
		     "710 expire 198.19.0.0/24 off=1 ttl=600 exp=710\n"
		     "1220 expire 198.18.0.0/16 off=1 ttl=1110 exp=1220\n"
		     "1225 promote 198.18.5.0/24 off=1 ttl=600 exp=1825\n", "log");
	sim_done(&m);
}

/* /64s into a /48; an allowlisted parent is never aggregated. */
static void test_policy_aggregate_v6(void)
{
	struct policy_config c = base_cfg();
	struct sim m;

	c.v6_children = 3;
	c.v6_parent_len = 48;
	if (!sim_init(&m, &c, 1))
		return;
	sim_flow(&m, "2001:db8:1:1::/64");
	sim_flow(&m, "2001:db8:1:2::/64");
	sim_flow(&m, "2001:db8:2:1::/64");
	sim_flow(&m, "2001:db8:2:2::/64");
	sim_flow(&m, "2001:db8:1:3::/64");
	sim_flow(&m, "2001:db8:2:3::/64");
	m.allow.list[m.allow.n++] = pfx("2001:db8:2:77::1/128");
	sim_tick_at(&m, 0);
	for (unsigned t = 1; t <= 10; t++) {
		for (unsigned i = 0; i < m.n_flows; i++)
			m.flow[i].new_conns += 150;
		sim_tick_at(&m, t * SEC);
	}
	ASSERT_STREQ(m.log,
		     "10 promote 2001:db8:1:1::/64 off=1 ttl=600 exp=610\n"
		     "10 promote 2001:db8:1:2::/64 off=1 ttl=600 exp=610\n"
		     "10 promote 2001:db8:2:1::/64 off=1 ttl=600 exp=610\n"
		     "10 promote 2001:db8:2:2::/64 off=1 ttl=600 exp=610\n"
		     "10 promote 2001:db8:1:3::/64 off=1 ttl=600 exp=610\n"
		     "10 promote 2001:db8:2:3::/64 off=1 ttl=600 exp=610\n"
		     "10 aggregate 2001:db8:1::/48 off=1 ttl=600 exp=610"
		     " kids=2001:db8:1:1::/64,2001:db8:1:2::/64,2001:db8:1:3::/64\n"
		     "10 unban 2001:db8:1:1::/64 off=1 ttl=600 exp=610 why=aggregated into 2001:db8:1::/48\n"
		     "10 unban 2001:db8:1:2::/64 off=1 ttl=600 exp=610 why=aggregated into 2001:db8:1::/48\n"
		     "10 unban 2001:db8:1:3::/64 off=1 ttl=600 exp=610 why=aggregated into 2001:db8:1::/48\n",
		     "log");
	sim_done(&m);
}

/* 1000 promotions in one tick, jitter 0.1: expiries within +-10% of 600 s,
 * spread, reproducible from the seed. */
static void test_policy_jitter(void)
{
	static __u64 first[1000];
	struct policy_config c = base_cfg();
	__u64 lo = UINT64_MAX, hi = 0, sum = 0;
	size_t distinct = 0, expired = 0;
	struct sim m;
	char s[32];

	c.rules[0].jitter = 0.1;
	for (int run = 0; run < 3; run++) {
		if (!sim_init(&m, &c, run == 2 ? 43 : 42))
			return;
		for (unsigned i = 0; i < 1000; i++) {
			snprintf(s, sizeof(s), "198.18.%u.%u/32", i / 256, i % 256);
			sim_flow(&m, s);
		}
		sim_tick_at(&m, 0);
		for (unsigned t = 1; t <= 10; t++) {
			for (unsigned i = 0; i < 1000; i++)
				m.flow[i].new_conns += 150;
			sim_tick_at(&m, t * SEC);
		}
		if (!ASSERT_EQ(m.nd, 1000, "1000 promotions"))
			return sim_done(&m);
		if (run == 0) {
			for (unsigned i = 0; i < 1000; i++) {
				__u64 e = m.d[i].expires_ns - 10 * SEC;

				first[i] = m.d[i].expires_ns;
				lo = e < lo ? e : lo;
				hi = e > hi ? e : hi;
				sum += e / MS;
				ASSERT_EQ(m.d[i].ttl_s, 600, "nominal ttl");
				distinct += !i || m.d[i].expires_ns != m.d[i - 1].expires_ns;
			}
			ASSERT_TRUE(lo >= 540 * SEC, "no earlier than -10%");
			ASSERT_TRUE(hi <= 660 * SEC, "no later than +10%");
			ASSERT_TRUE(lo < 542 * SEC, "spread reaches the low end");
			ASSERT_TRUE(hi > 658 * SEC, "spread reaches the high end");
			ASSERT_TRUE(sum / 1000 > 596000 && sum / 1000 < 604000, "centred on 600 s");
			ASSERT_TRUE(distinct > 990, "not all equal");
			for (unsigned i = 0; i < 1000; i++)
				m.on[i] = false;
			sim_tick_at(&m, 580 * SEC);
			expired += m.nd;
			ASSERT_TRUE(m.nd > 200 && m.nd < 300, "a quarter expired by -30 s");
			sim_tick_at(&m, 640 * SEC);
			expired += m.nd;
			ASSERT_TRUE(m.nd > 440 && m.nd < 560, "half in the next 60 s");
			sim_tick_at(&m, 671 * SEC);
			expired += m.nd;
			ASSERT_EQ(expired, 1000, "all expired by +10%");
		} else {
			size_t same = 0;

			for (unsigned i = 0; i < 1000; i++)
				same += m.d[i].expires_ns == first[i];
			ASSERT_EQ(same, run == 1 ? 1000 : 0, run == 1 ? "same seed, same expiries"
								     : "other seed, other expiries");
		}
		sim_done(&m);
	}
}

/* A smaller cumulative counter is a recycled entry: counted from 0, never a
 * negative (or huge) rate. */
static void test_policy_counter_reset(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	m.flow[a].new_conns = 1000000000000ULL;
	sim_tick_at(&m, 0);
	sim_run(&m, a, 150, 5);
	m.flow[a].new_conns = 5;		/* recycled, 5 since: below */
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "", "no promotion from a reset");
	sim_run(&m, a, 150, 9);			/* t=15 */
	ASSERT_STREQ(m.log, "", "a: 9 s since its reset");
	sim_run(&m, a, 150, 1);			/* t=16 */
	ASSERT_STREQ(m.log, "16 promote 198.51.100.0/24 off=1 ttl=600 exp=616\n", "log");
	expect_dbl(m.d[0].value, 150.0, "value");
	sim_done(&m);

	/* the reset interval itself above the rate keeps the streak going */
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	m.flow[a].new_conns = 1000000;
	sim_tick_at(&m, 0);
	sim_run(&m, a, 150, 5);
	m.flow[a].new_conns = 150;
	sim_tick(&m, SEC);
	sim_run(&m, a, 150, 4);
	ASSERT_STREQ(m.log, "10 promote 198.51.100.0/24 off=1 ttl=600 exp=610\n", "reset above rate");
	expect_dbl(m.d[0].value, 150.0, "value");
	sim_done(&m);
}

/* Rates come from the actual interval: 290 in 3 s is below 100/s. */
static void test_policy_variable_ticks(void)
{
	static const struct { __u64 ms, conns; } steps[] = {
		{ 1000, 150 }, { 3000, 290 },			/* the second is 96.7/s */
		{ 500, 60 }, { 2000, 250 }, { 1000, 110 },	/* 120, 125, 110 /s */
		{ 1500, 300 }, { 3000, 330 }, { 2000, 250 },	/* 200, 110, 125 /s */
	};
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_at(&m, 0);
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		m.flow[a].new_conns += steps[i].conns;
		sim_tick(&m, steps[i].ms * MS);
	}
	ASSERT_STREQ(m.log, "14 promote 198.51.100.0/24 off=1 ttl=600 exp=614\n", "log");
	expect_dbl(m.d[0].value, 130.0, "1300 over 10 s");
	sim_done(&m);

	/* timer jitter: ten ticks of 995 ms cover the window, of 950 ms not */
	for (int slow = 0; slow < 2; slow++) {
		__u64 dt = slow ? 950 * MS : 995 * MS;

		if (!sim_init(&m, &c, 1))
			return;
		a = sim_flow(&m, "198.51.100.0/24");
		sim_tick_at(&m, 0);
		for (unsigned k = 1; k <= 11; k++) {
			m.flow[a].new_conns += 150;
			sim_tick(&m, dt);
			if (k == 10)
				ASSERT_EQ(m.nd, slow ? 0 : 1, slow ? "9.5 s: not yet" : "9.95 s: covered");
			if (k == 10 && m.nd == 1)
				expect_dbl(m.d[0].value, 1500.0 * 1e9 / (double)(10 * dt), "value");
			if (k == 11)
				ASSERT_EQ(m.nd, slow ? 1 : 0, slow ? "10.45 s: covered" : "then nothing");
		}
		sim_done(&m);
	}
}

/* A prefix absent for a tick (no traffic, or evicted from the LRU) restarts:
 * its next sample is only a baseline. */
static void test_policy_gap(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_at(&m, 0);
	sim_run(&m, a, 150, 8);
	m.on[a] = false;
	sim_run(&m, a, 150, 1);			/* t=9: missing */
	m.on[a] = true;
	sim_run(&m, a, 150, 1);			/* t=10: baseline */
	sim_run(&m, a, 150, 9);
	ASSERT_STREQ(m.log, "", "not before 10 s after the gap");
	sim_run(&m, a, 150, 1);
	ASSERT_STREQ(m.log, "20 promote 198.51.100.0/24 off=1 ttl=600 exp=620\n", "log");
	sim_done(&m);
}

/* policy_gap: the prefix's counters are about to come from elsewhere (the
 * engine switches between a prefix's own and its drop entry's), so its
 * next sample is a baseline, even the very next tick: a jump in the
 * counter is no rate. */
static void test_policy_gap_asked(void)
{
	struct policy_config c = base_cfg();
	struct cidr other = pfx("192.0.2.0/24");
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_at(&m, 0);
	sim_run(&m, a, 150, 8);
	ASSERT_EQ(policy_gap(m.p, &m.flow[a].prefix), 0, "gap asked");
	ASSERT_EQ(policy_gap(m.p, &other), -ENOENT, "not tracked");
	m.flow[a].new_conns += 100000;		/* t=9: another counter: baseline */
	sim_tick(&m, SEC);
	sim_run(&m, a, 150, 9);
	ASSERT_STREQ(m.log, "", "not before 10 s after the gap");
	sim_run(&m, a, 150, 1);
	ASSERT_STREQ(m.log, "19 promote 198.51.100.0/24 off=1 ttl=600 exp=619\n", "log");
	sim_done(&m);
}

/* POLICY_TICK_CHANGED: a prefix missing from ticks of changed prefixes
 * was idle there (its streak breaks), and its delta when it comes back
 * falls in the interval that just ended; one missing from a whole tick is
 * gone (its next sample a baseline). */
static size_t sim_tick_changed(struct sim *m, __u64 dt, bool changed)
{
	size_t n = 0;

	for (unsigned i = 0; i < m->n_flows; i++)
		if (m->on[i])
			m->buf[n++] = m->flow[i];
	m->now += dt;
	m->err = policy_tick_ex(m->p, m->now, m->buf, n, changed ? POLICY_TICK_CHANGED : 0,
				allow_fn, &m->allow, &m->d, &m->nd);
	if (!ASSERT_EQ(m->err, 0, "policy_tick_ex"))
		m->nd = 0;
	for (size_t i = 0; i < m->nd; i++)
		sim_logf(m, &m->d[i]);
	return m->nd;
}

static void test_policy_changed_only(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	c.rules[0].window_s = 1;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_changed(&m, SEC, false);		/* t=1: whole, baseline */
	m.on[a] = false;
	sim_tick_changed(&m, SEC, true);		/* t=2..4: not counted */
	sim_tick_changed(&m, SEC, true);
	sim_tick_changed(&m, SEC, true);
	m.on[a] = true;
	m.flow[a].new_conns += 150;			/* t=5: 150 in the last second */
	sim_tick_changed(&m, SEC, true);
	ASSERT_STREQ(m.log, "5 promote 198.51.100.0/24 off=1 ttl=600 exp=605\n",
		     "idle in between, its delta in the last interval");
	sim_done(&m);

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	sim_tick_changed(&m, SEC, false);		/* t=1: baseline */
	m.on[a] = false;
	sim_tick_changed(&m, SEC, false);		/* t=2: whole, and missing: gone */
	sim_tick_changed(&m, SEC, true);
	m.on[a] = true;
	m.flow[a].new_conns += 150;
	sim_tick_changed(&m, SEC, true);		/* t=4: a baseline, not a rate */
	ASSERT_STREQ(m.log, "", "missing from a whole tick: back as a baseline");
	m.flow[a].new_conns += 150;
	sim_tick_changed(&m, SEC, true);
	ASSERT_STREQ(m.log, "5 promote 198.51.100.0/24 off=1 ttl=600 exp=605\n", "then rates");
	sim_done(&m);
}

/* A tick of changed prefixes with a sample of the fleet's counts alone
 * (no_local) for a prefix idle here: its own counters stay its baseline,
 * so what it counts here next is a delta from them, not from 0. */
static void test_policy_changed_fleet_only(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a;

	c.rules[0].window_s = 1;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	m.flow[a].new_conns = 1000;
	sim_tick_changed(&m, SEC, false);		/* t=1: baseline 1000 */
	m.flow[a].new_conns += 50;
	sim_tick_changed(&m, SEC, true);		/* t=2: 50/s */
	{
		struct policy_sample keep = m.flow[a];

		m.flow[a] = (struct policy_sample){ .prefix = keep.prefix, .no_local = true,
						    .fleet_new_conns = 10 };
		sim_tick_changed(&m, SEC, true);	/* t=3: idle here, the fleet's only */
		m.flow[a] = keep;
	}
	m.flow[a].new_conns += 50;
	sim_tick_changed(&m, SEC, true);		/* t=4: 50/s again */
	ASSERT_STREQ(m.log, "", "50 a second: nothing (not 1100 from a baseline of 0)");
	sim_done(&m);
}

/* The operator's `ban del`: no EXPIRE later, history kept. */
static void test_policy_forget(void)
{
	struct policy_config c = base_cfg();
	struct cidr other = pfx("192.0.2.0/24");
	struct sim m;
	unsigned a;
	__u32 off = 0;
	__u64 exp = 1;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	offend_at(&m, a, 10);
	ASSERT_EQ(policy_forget(m.p, &other), -ENOENT, "unknown prefix");
	ASSERT_EQ(policy_forget(m.p, &m.flow[a].prefix), 0, "forget");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, &off, &exp), 0, "history");
	ASSERT_EQ(off, 1, "offences kept");
	ASSERT_EQ(exp, 0, "not promoted");
	sim_tick_at(&m, 700 * SEC);
	offend_at(&m, a, 800);
	ASSERT_STREQ(m.log,
		     "10 promote 198.51.100.0/24 off=1 ttl=600 exp=610\n"
		     "800 promote 198.51.100.0/24 off=2 ttl=1200 exp=2000\n", "log");
	sim_done(&m);
}

static char *save_text(struct policy *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ASSERT_EQ(policy_save(p, f), 0, "policy_save");
	fclose(f);
	return buf;
}

static int load_text(struct policy *p, const char *text, __u64 now)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	if (!f)
		return -errno;
	err = policy_load(p, f, now);
	fclose(f);
	return err;
}

/* Offences and promotions survive a restart exactly; expiry stays on time. */
static void test_policy_save_load(void)
{
	struct policy_config c = base_cfg();
	char *text = NULL, *again = NULL, *bad;
	struct sim m, n;
	unsigned a, b, h;
	__u32 off;
	__u64 exp;

	snprintf(c.rules[0].name, sizeof(c.rules[0].name), "conn flood%%");
	c.v4_children = 4;
	c.v4_parent_len = 16;
	if (!sim_init(&m, &c, 7))
		return;
	a = sim_flow(&m, "198.18.1.0/24");
	b = sim_flow(&m, "2001:db8::/64");
	h = sim_flow(&m, "203.0.113.0/24");
	sim_tick_at(&m, 0);
	for (unsigned t = 1; t <= 10; t++) {
		m.flow[a].new_conns += 150;
		m.flow[b].new_conns += 150;
		m.flow[h].new_conns += 150;
		sim_tick_at(&m, t * SEC);	/* t=10: a, b, h promoted */
	}
	ASSERT_EQ(policy_forget(m.p, &m.flow[b].prefix), 0, "forget b");
	ASSERT_EQ(policy_forget(m.p, &m.flow[h].prefix), 0, "forget h");
	for (unsigned t = 11; t <= 20; t++) {
		m.flow[b].new_conns += 150;
		sim_tick_at(&m, t * SEC);	/* t=20: b again, 1200 s */
	}
	text = save_text(m.p);
	if (!ASSERT_TRUE(text != NULL, "saved"))
		return sim_done(&m);
	ASSERT_STREQ(text,
		     "xdpfence-policy 1\n"
		     "# clock_ns rng; rec prefix expires_ns decay_ns offences ttl_s action "
		     "throttle_rate throttle_burst metric value threshold rule (expires_ns 0 = "
		     "history only)\n"
		     /* splitmix64 state: seed 7 plus 4 draws of 0x9e3779b97f4a7c15 */
		     "clock 20000000000 rng 78dde6e5fd29f05b\n"
		     "rec 198.18.1.0/24 610000000000 2610000000000 1 600 0 10 20 0 0x1.2cp+7 "
		     "0x1.9p+6 conn%20flood%25\n"
		     "rec 2001:db8::/64 1220000000000 3220000000000 2 1200 0 10 20 0 0x1.2cp+7 "
		     "0x1.9p+6 conn%20flood%25\n"
		     "rec 203.0.113.0/24 0 2010000000000 1 600 0 10 20 0 0x1.2cp+7 0x1.9p+6 "
		     "conn%20flood%25\n"
		     "end 3\n", "state text");

	/* same boot: absolute times, and saving again gives the same text */
	if (!sim_init(&n, &c, 99))
		goto out;
	ASSERT_EQ(load_text(n.p, text, 20 * SEC), 0, "load");
	again = save_text(n.p);
	ASSERT_STREQ(again, text, "round trip");
	ASSERT_EQ(policy_lookup(n.p, &m.flow[h].prefix, &off, &exp), 0, "h known");
	ASSERT_EQ(off, 1, "h offences");
	ASSERT_EQ(exp, 0, "h history only");
	n.n_flows = 3;
	memcpy(n.flow, m.flow, sizeof(n.flow[0]) * 3);
	n.on[0] = n.on[1] = false;
	n.on[2] = true;
	n.flow[2].new_conns = 0;
	sim_tick_at(&n, 600 * SEC);
	for (unsigned t = 601; t <= 610; t++) {
		n.flow[2].new_conns += 150;
		sim_tick_at(&n, t * SEC);
	}
	sim_tick_at(&n, 1220 * SEC);
	ASSERT_STREQ(n.log,
		     "610 expire 198.18.1.0/24 off=1 ttl=600 exp=610\n"
		     "610 promote 203.0.113.0/24 off=2 ttl=1200 exp=1810\n"
		     "1220 expire 2001:db8::/64 off=2 ttl=1200 exp=1220\n", "after load");
	sim_done(&n);

	/* another boot (the clock went back): remaining times kept */
	if (!sim_init(&n, &c, 99))
		goto out;
	ASSERT_EQ(load_text(n.p, text, 5 * SEC), 0, "load, other boot");
	ASSERT_EQ(policy_lookup(n.p, &m.flow[a].prefix, &off, &exp), 0, "a known");
	ASSERT_EQ(exp, 595 * SEC, "a rebased");
	ASSERT_EQ(policy_lookup(n.p, &m.flow[b].prefix, &off, &exp), 0, "b known");
	ASSERT_EQ(exp, 1205 * SEC, "b rebased");
	ASSERT_EQ(off, 2, "b offences");
	/* h's offence memory, due to end at 2010, now ends at 1995 */
	n.n_flows = 3;
	memcpy(n.flow, m.flow, sizeof(n.flow[0]) * 3);
	n.on[2] = true;
	sim_tick_at(&n, 1990 * SEC);
	sim_run(&n, 2, 150, 10);
	ASSERT_STREQ(n.log,
		     "1990 expire 198.18.1.0/24 off=1 ttl=600 exp=595\n"
		     "1990 expire 2001:db8::/64 off=2 ttl=1200 exp=1205\n"
		     "2000 promote 203.0.113.0/24 off=1 ttl=600 exp=2600\n", "rebased decay");
	sim_done(&n);
	if (!sim_init(&n, &c, 99))
		goto out;
	ASSERT_EQ(load_text(n.p, text, 5 * SEC), 0, "load, other boot, again");

	/* bad files change nothing */
	ASSERT_EQ(load_text(n.p, "xdpfence-policy 1\nclock 1 rng 0\nend 0\n", 5 * SEC), 0, "empty");
	ASSERT_EQ(policy_lookup(n.p, &m.flow[a].prefix, NULL, NULL), -ENOENT, "replaced");
	ASSERT_EQ(load_text(n.p, text, 20 * SEC), 0, "reload");
	bad = strdup(text);
	if (bad) {
		*strstr(bad, "end 3") = '\0';
		ASSERT_EQ(load_text(n.p, bad, 30 * SEC), -EINVAL, "truncated");
		strcpy(strstr(text, "end 3"), "end 4\n");
		ASSERT_EQ(load_text(n.p, text, 30 * SEC), -EINVAL, "count mismatch");
		strcpy(strstr(bad, "2001:db8::/64"), "198.18.1.0/24 1 1 1 1 0 0 0 0 0 0 x\nend 2\n");
		ASSERT_EQ(load_text(n.p, bad, 30 * SEC), -EINVAL, "duplicate");
		ASSERT_EQ(load_text(n.p, "xdpfence-policy 1\nclock 1 rng 0\nrec 198.18.1.0/24 "
				    "1 1 1 1 9 0 0 0 0 0 x\nend 1\n", 30 * SEC), -EINVAL, "action 9");
		ASSERT_EQ(load_text(n.p, "xdpfence-policy 2\n", 30 * SEC), -EINVAL, "version");
		free(bad);
	}
	ASSERT_EQ(policy_lookup(n.p, &m.flow[a].prefix, &off, &exp), 0, "state kept");
	ASSERT_EQ(exp, 610 * SEC, "a unchanged");
	sim_done(&n);
out:
	free(again);
	free(text);
	sim_done(&m);
}

/* SIGHUP: promotions stay, a rule that stays keeps its streak, a rule whose
 * rate changed starts over. */
static void test_policy_set_config(void)
{
	struct policy_config c = base_cfg(), c2;
	struct sim m;
	unsigned a, b, d;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.51.100.0/24");
	b = sim_flow(&m, "192.0.2.0/24");
	d = sim_flow(&m, "203.0.113.0/24");
	m.on[b] = m.on[d] = false;
	sim_tick_at(&m, 0);
	sim_run(&m, a, 150, 10);		/* t=10: a promoted */
	m.on[a] = false;
	m.on[b] = true;
	sim_tick(&m, SEC);			/* t=11: b baseline */
	for (unsigned k = 0; k < 5; k++) {
		m.flow[b].new_conns += 150;
		sim_tick(&m, SEC);		/* t=16: b 5 s into its window */
	}
	c2 = c;
	c2.rules[1] = c.rules[0];
	c2.rules[0] = rule("pkts", POLICY_PACKETS, 1000, 5, FENCE_ACT_MONITOR);
	c2.n_rules = 2;
	ASSERT_EQ(policy_set_config(m.p, &c2), 0, "reload");
	for (unsigned k = 0; k < 5; k++) {
		m.flow[b].new_conns += 150;
		sim_tick(&m, SEC);		/* t=21: b promoted */
	}
	m.on[b] = false;
	m.on[d] = true;
	sim_tick_at(&m, 30 * SEC);
	sim_run(&m, d, 150, 5);			/* t=35 */
	c2.rules[1].rate = 120;
	ASSERT_EQ(policy_set_config(m.p, &c2), 0, "reload, new rate");
	sim_run(&m, d, 150, 9);			/* t=44: 9 s under the new rate */
	sim_run(&m, d, 150, 1);
	m.on[d] = false;
	sim_tick_at(&m, 610 * SEC);
	c2.n_rules = 17;
	ASSERT_EQ(policy_set_config(m.p, &c2), -EINVAL, "bad config refused");
	sim_tick_at(&m, 621 * SEC);
	ASSERT_STREQ(m.log,
		     "10 promote 198.51.100.0/24 off=1 ttl=600 exp=610\n"
		     "21 promote 192.0.2.0/24 off=1 ttl=600 exp=621\n"
		     "45 promote 203.0.113.0/24 off=1 ttl=600 exp=645\n"
		     "610 expire 198.51.100.0/24 off=1 ttl=600 exp=610\n"
		     "621 expire 192.0.2.0/24 off=1 ttl=600 exp=621\n", "log");
	sim_done(&m);
}

/* max_tracked: the table stays bounded under churn, least recently seen
 * first, and never loses an active promotion. */
static void test_policy_max_tracked(void)
{
	struct policy_config c = base_cfg();
	struct policy_stats st;
	size_t most = 0;
	struct sim m;
	unsigned a, hot, churn;
	char s[32];
	__u32 off;
	__u64 exp;

	c.max_tracked = 100;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "192.0.2.0/24");
	sim_tick_at(&m, 0);
	sim_run(&m, a, 150, 10);		/* t=10: a promoted, then silent */
	m.on[a] = false;
	churn = m.n_flows;
	for (unsigned i = 0; i < 30; i++) {
		snprintf(s, sizeof(s), "198.18.0.%u/32", i);
		sim_flow(&m, s);
	}
	hot = sim_flow(&m, "198.51.100.0/24");	/* last: after each tick's evictions */
	for (unsigned t = 11; t <= 700; t++) {
		/* 30 new prefixes a tick: each seen once */
		for (unsigned i = 0; i < 30; i++) {
			unsigned v = (t * 30 + i) % 65536;

			m.flow[churn + i].prefix.addr[2] = (__u8)(v >> 8);
			m.flow[churn + i].prefix.addr[3] = (__u8)v;
		}
		if (t >= 100 && t < 110)
			m.on[hot] = false;	/* a gap: the next window ends at 120 */
		else
			m.on[hot] = true;
		m.flow[hot].new_conns += t <= 120 ? 150 : 0;
		sim_tick_at(&m, t * SEC);
		policy_get_stats(m.p, &st);
		most = st.tracked > most ? st.tracked : most;
	}
	ASSERT_STREQ(m.log,
		     "10 promote 192.0.2.0/24 off=1 ttl=600 exp=610\n"
		     "21 promote 198.51.100.0/24 off=1 ttl=600 exp=621\n"
		     "31 extend 198.51.100.0/24 off=1 ttl=600 exp=631\n"
		     "41 extend 198.51.100.0/24 off=1 ttl=600 exp=641\n"
		     "51 extend 198.51.100.0/24 off=1 ttl=600 exp=651\n"
		     "61 extend 198.51.100.0/24 off=1 ttl=600 exp=661\n"
		     "71 extend 198.51.100.0/24 off=1 ttl=600 exp=671\n"
		     "81 extend 198.51.100.0/24 off=1 ttl=600 exp=681\n"
		     "91 extend 198.51.100.0/24 off=1 ttl=600 exp=691\n"
		     "120 extend 198.51.100.0/24 off=1 ttl=600 exp=720\n"
		     "610 expire 192.0.2.0/24 off=1 ttl=600 exp=610\n", "log");
	policy_get_stats(m.p, &st);
	ASSERT_TRUE(most <= 100, "tracked never above max_tracked");
	ASSERT_TRUE(st.evicted > 20000, "churn evicted");
	ASSERT_EQ(st.untracked, 0, "every sample tracked");
	ASSERT_EQ(st.active, 1, "the hot prefix");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, &off, &exp), 0, "history of a kept");
	ASSERT_EQ(off, 1, "a offences");
	ASSERT_EQ(exp, 0, "a expired");

	/* more prefixes in one tick than max_tracked: history goes after the
	 * plain entries, the promoted one stays, the rest is not tracked */
	for (unsigned i = 0; i < m.n_flows; i++)
		m.on[i] = false;
	for (unsigned i = 0; i < 150; i++) {
		snprintf(s, sizeof(s), "198.19.0.%u/32", i);
		sim_flow(&m, s);
	}
	sim_tick_at(&m, 701 * SEC);
	policy_get_stats(m.p, &st);
	ASSERT_EQ(st.tracked, 100, "bounded");
	ASSERT_EQ(st.active, 1, "hot still promoted");
	ASSERT_EQ(st.untracked, 51, "150 less the 99 beside hot");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, NULL, NULL), -ENOENT, "a's history went last");
	sim_done(&m);
}

/* --- farms: distinct hosts; the API tier's reports ------------------------- */

static struct policy_rule count_rule(const char *name, enum policy_metric metric, __u32 count,
				     __u32 window_s, __u8 action)
{
	struct policy_rule r = rule(name, metric, 0, window_s, action);

	r.count = count;
	return r;
}

static void test_policy_hosts_bad_config(void)
{
	struct policy_config c = base_cfg();
	struct policy *p = NULL;
	char err[160] = "";

	c.rules[0].count = 5;
	ASSERT_EQ(policy_config_check(&c, err, sizeof(err)), -EINVAL, "a rate rule with a count");
	c = base_cfg();
	c.rules[0] = count_rule("r", POLICY_ACCOUNTS, 0, 60, FENCE_ACT_DROP);
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "count 0");
	c.rules[0] = count_rule("r", POLICY_ACCOUNTS, 5, 60, FENCE_ACT_DROP);
	c.rules[0].rate = 3;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "a count rule with a rate");
	c.rules[0] = count_rule("r", POLICY_SIGNALS, 5, 60, FENCE_ACT_DROP);
	c.rules[0].min_hosts = 2;
	ASSERT_EQ(policy_config_check(&c, err, sizeof(err)), -EINVAL, "min_hosts on signals");
	ASSERT_STREQ(err, "rule \"r\": min_hosts/max_hosts are for new_conns, packets, bytes, hosts",
		     "reason");
	c = base_cfg();
	c.rules[0].min_hosts = 5;
	c.rules[0].max_hosts = 4;
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "min above max");
	c.rules[0] = count_rule("r", POLICY_CHILDREN, 5, 60, FENCE_ACT_DROP);
	ASSERT_EQ(policy_new(&p, &c, 1), -EINVAL, "children is not a rule's metric");
	c.rules[0] = count_rule("r", POLICY_HOSTS, 20, 3, FENCE_ACT_DROP);
	c.rules[0].max_hosts = 300;
	ASSERT_EQ(policy_new(&p, &c, 1), 0, "a hosts rule");
	policy_free(p);
	ASSERT_STREQ(policy_metric_name(POLICY_HOSTS), "hosts", "hosts");
	ASSERT_STREQ(policy_metric_name(POLICY_SIGNALS), "signals", "signals");
	ASSERT_STREQ(policy_metric_name(POLICY_ACCOUNTS), "accounts", "accounts");
}

static struct policy_config farm_cfg(void)
{
	struct policy_config c;

	memset(&c, 0, sizeof(c));
	c.rules[0] = rule("farm", POLICY_NEW_CONNS, 30, 3, FENCE_ACT_DROP);
	c.rules[0].min_hosts = 20;
	c.rules[1] = rule("heavy-host", POLICY_NEW_CONNS, 30, 3, FENCE_ACT_THROTTLE);
	c.rules[1].max_hosts = 2;
	c.rules[1].throttle_rate = 5;
	c.n_rules = 2;
	return c;
}

/* 64 hosts of one /24 at 0.7 conns/s each (45/s in all) are a farm: the
 * /24 is banned. One host of another /24 at 300/s is throttled, alone: its
 * /32, not its neighbours. */
static void test_policy_hosts_farm(void)
{
	struct policy_config c = farm_cfg();
	__u64 bits_a[4] = { ~0ULL, 0, 0, 0 }, bits_b[4] = { 1ULL << 7, 0, 0, 0 };
	char buf[CIDR_STR_MAX];
	struct sim m;
	unsigned a, b;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.18.1.0/24");
	b = sim_flow(&m, "198.18.2.0/24");
	m.flow[a].hosts = 64;
	m.flow[a].host_bits = bits_a;
	m.flow[b].hosts = 1;
	m.flow[b].host_bits = bits_b;
	sim_tick(&m, SEC);			/* t=1: baseline */
	for (unsigned k = 0; k < 3; k++) {
		m.flow[a].new_conns += 45;
		m.flow[b].new_conns += 300;
		sim_tick(&m, SEC);
	}
	ASSERT_STREQ(m.log,
		     "4 promote 198.18.1.0/24 off=1 ttl=600 exp=604\n"
		     "4 promote 198.18.2.7/32 off=1 ttl=600 exp=604\n", "log");
	if (ASSERT_EQ(m.nd, 2, "two decisions")) {
		ASSERT_STREQ(m.d[0].rule, "farm", "farm rule");
		ASSERT_EQ(m.d[0].action, FENCE_ACT_DROP, "farm: ban");
		ASSERT_EQ(m.d[0].hosts, 64, "farm: hosts in the decision");
		expect_dbl(m.d[0].value, 45.0, "farm: the rate");
		ASSERT_STREQ(m.d[1].rule, "heavy-host", "heavy rule");
		ASSERT_EQ(m.d[1].action, FENCE_ACT_THROTTLE, "heavy: throttle");
		ASSERT_EQ(m.d[1].throttle_rate, 5, "heavy: its rate");
		ASSERT_EQ(m.d[1].hosts, 1, "heavy: one host");
		ASSERT_STREQ(cidr_str(&m.d[1].prefix, buf, sizeof(buf)), "198.18.2.7/32", "the host");
	}
	ASSERT_EQ(policy_lookup(m.p, &m.flow[b].prefix, NULL, NULL), -ENOENT,
		  "the heavy host's /24 is not promoted");
	sim_done(&m);
}

/* A banned farm offends on: its samples are now its drop entry's counters,
 * whose hosts are unknown (hosts_unknown). The hosts of its promotion
 * stand in: the farm rule extends the ban, with them; the heavy-host rule
 * (max_hosts) does not take it for one host. A prefix with no promotion
 * and unknown hosts: rules on hosts skip it. */
static void test_policy_hosts_unknown(void)
{
	struct policy_config c = farm_cfg();
	__u64 bits_a[4] = { ~0ULL, 0, 0, 0 };
	struct sim m;
	unsigned a, b;

	c.rules[2] = rule("plain", POLICY_NEW_CONNS, 1000, 3, FENCE_ACT_DROP);
	c.n_rules = 3;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.18.1.0/24");
	b = sim_flow(&m, "198.18.2.0/24");
	m.flow[a].hosts = 64;
	m.flow[a].host_bits = bits_a;
	m.flow[b].hosts_unknown = true;		/* never promoted, hosts unseen */
	sim_tick(&m, SEC);			/* t=1: baseline */
	for (unsigned k = 0; k < 3; k++) {
		m.flow[a].new_conns += 45;
		m.flow[b].new_conns += 45;
		sim_tick(&m, SEC);
	}
	ASSERT_STREQ(m.log, "4 promote 198.18.1.0/24 off=1 ttl=600 exp=604\n",
		     "the farm; not b, whose hosts are unknown");
	/* banned: the entry's counters from here, a gap first */
	m.flow[a] = (struct policy_sample){ .prefix = m.flow[a].prefix, .hosts_unknown = true };
	ASSERT_EQ(policy_gap(m.p, &m.flow[a].prefix), 0, "gap");
	sim_tick(&m, SEC);			/* t=5: baseline of the entry */
	for (unsigned k = 0; k < 3; k++) {
		m.flow[a].new_conns += 45;
		m.flow[b].new_conns += 2000;	/* b: over the plain rule */
		sim_tick(&m, SEC);
	}
	ASSERT_STREQ(m.log, "4 promote 198.18.1.0/24 off=1 ttl=600 exp=604\n"
		     "8 extend 198.18.1.0/24 off=1 ttl=600 exp=608\n"
		     "8 promote 198.18.2.0/24 off=1 ttl=600 exp=608\n",
		     "extended by the farm rule; b by the rule without hosts");
	if (ASSERT_EQ(m.nd, 2, "two decisions")) {
		ASSERT_STREQ(m.d[0].rule, "farm", "extended by the farm rule");
		ASSERT_EQ(m.d[0].hosts, 64, "with the hosts of its promotion");
		ASSERT_STREQ(m.d[1].rule, "plain", "b: the rule without hosts");
	}
	sim_done(&m);
}

/* The rate is over but the hosts are too few: the farm rule waits, its
 * streak kept, and fires at the first tick the hosts are enough. */
static void test_policy_hosts_wait(void)
{
	struct policy_config c = farm_cfg();
	struct sim m;
	unsigned a;

	c.n_rules = 1;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.18.1.0/24");
	m.flow[a].hosts = 5;
	sim_tick(&m, SEC);
	sim_run(&m, a, 100, 6);			/* t=7: 6 s over, 5 hosts */
	ASSERT_STREQ(m.log, "", "too few hosts");
	m.flow[a].hosts = 20;
	sim_run(&m, a, 100, 1);
	ASSERT_STREQ(m.log, "8 promote 198.18.1.0/24 off=1 ttl=600 exp=608\n", "fires with 20 hosts");
	sim_done(&m);
}

/* max_hosts where the hosts are not listed (IPv6): the prefix itself. */
static void test_policy_hosts_unlisted(void)
{
	struct policy_config c = farm_cfg();
	struct sim m;
	unsigned a;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "2001:db8:1:2::/64");
	m.flow[a].hosts = 1;
	sim_tick(&m, SEC);
	sim_run(&m, a, 300, 3);
	ASSERT_STREQ(m.log, "4 promote 2001:db8:1:2::/64 off=1 ttl=600 exp=604\n", "the /64");
	sim_done(&m);
}

/* metric hosts: at least count hosts, for the window. */
static void test_policy_hosts_metric(void)
{
	struct policy_config c;
	struct sim m;
	unsigned a;

	memset(&c, 0, sizeof(c));
	c.rules[0] = count_rule("many", POLICY_HOSTS, 50, 3, FENCE_ACT_MONITOR);
	c.n_rules = 1;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.18.3.0/24");
	m.flow[a].hosts = 60;
	sim_tick(&m, SEC);
	sim_tick(&m, SEC);
	sim_tick(&m, SEC);
	m.flow[a].hosts = 49;			/* one tick short: starts again */
	sim_tick(&m, SEC);
	m.flow[a].hosts = 70;
	sim_tick(&m, SEC);
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "", "not yet");
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "7 promote 198.18.3.0/24 off=1 ttl=600 exp=607\n", "log");
	if (ASSERT_EQ(m.nd, 1, "one")) {
		ASSERT_STREQ(m.d[0].metric, "hosts", "metric");
		expect_dbl(m.d[0].value, 70, "value: the hosts");
		expect_dbl(m.d[0].threshold, 50, "threshold: the count");
		ASSERT_EQ(m.d[0].action, FENCE_ACT_MONITOR, "monitor: would-ban");
	}
	sim_done(&m);
}

static struct policy_signal sig(const char *pfx_s, __u64 account, __u32 weight, const char *kind)
{
	return (struct policy_signal){ .prefix = pfx(pfx_s), .account = account, .weight = weight,
				       .kind = kind };
}

static struct policy_config reported_cfg(void)
{
	struct policy_config c;

	memset(&c, 0, sizeof(c));
	c.rules[0] = count_rule("reported", POLICY_ACCOUNTS, 5, 600, FENCE_ACT_DROP);
	c.rules[0].ttl_s = 3600;
	c.rules[0].max_ttl_s = 86400;
	c.n_rules = 1;
	return c;
}

/* 5 distinct accounts from one /24 ban it; 4 (one of them twice) do not;
 * the reports are used up by the ban, so a quiet tick extends nothing. */
static void test_policy_signals_accounts(void)
{
	struct policy_config c = reported_cfg();
	struct policy_signal v[6];
	struct sim m;

	if (!sim_init(&m, &c, 1))
		return;
	sim_tick(&m, SEC);
	v[0] = sig("198.51.100.0/24", 1, 1, "distillation");
	v[1] = sig("198.51.100.0/24", 2, 1, "distillation");
	v[2] = sig("198.51.100.0/24", 2, 1, "scraping");
	v[3] = sig("198.51.100.0/24", 3, 1, "distillation");
	v[4] = sig("198.51.100.0/24", 0, 1, "distillation");	/* no account */
	v[5] = sig("198.51.100.0/24", 4, 1, "distillation");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 6), 0, "reports");
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "", "4 accounts are not 5");
	v[0] = sig("198.51.100.0/24", 9, 1, "scraping");
	ASSERT_EQ(policy_signals(m.p, m.now + SEC / 2, v, 1), 0, "the fifth");
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "3 promote 198.51.100.0/24 off=1 ttl=3600 exp=3603\n", "banned");
	if (ASSERT_EQ(m.nd, 1, "one")) {
		ASSERT_STREQ(m.d[0].metric, "accounts", "metric");
		expect_dbl(m.d[0].value, 5, "5 accounts");
		expect_dbl(m.d[0].threshold, 5, "count");
		ASSERT_STREQ(m.d[0].kind, "distillation", "the kind reported most");
	}
	sim_tick(&m, SEC);
	ASSERT_EQ(m.nd, 0, "spent: no extension without new reports");
	sim_done(&m);
}

/* Other gateways' reports (remote) count for a rule of scope fleet only:
 * 3 accounts here and 3 at another gateway are 6 for the fleet, 3 here. */
static void test_policy_signals_fleet(void)
{
	struct policy_config c = reported_cfg();
	struct policy_signal v[6];
	struct sim m;

	c.rules[1] = count_rule("fleet-reported", POLICY_ACCOUNTS, 6, 600, FENCE_ACT_THROTTLE);
	c.rules[1].scope = POLICY_FLEET;
	c.n_rules = 2;
	if (!sim_init(&m, &c, 1))
		return;
	sim_tick(&m, SEC);
	for (unsigned i = 0; i < 6; i++) {
		v[i] = sig("198.51.100.0/24", 10 + i, 1, i < 3 ? "distillation" : "scraping");
		v[i].remote = i >= 3;
	}
	ASSERT_EQ(policy_signals(m.p, m.now, v, 6), 0, "3 here, 3 from the fleet");
	sim_tick(&m, SEC);
	if (ASSERT_EQ(m.nd, 1, "one decision")) {
		ASSERT_STREQ(m.d[0].rule, "fleet-reported", "the fleet's rule (the local one sees 3)");
		expect_dbl(m.d[0].value, 6, "6 accounts fleet-wide");
		ASSERT_STREQ(m.d[0].kind, "distillation", "ties go to the kind named first");
	}
	sim_done(&m);

	/* the same reports all remote: the local rule (5 accounts) never fires */
	c.rules[1].count = 100;
	if (!sim_init(&m, &c, 1))
		return;
	sim_tick(&m, SEC);
	for (unsigned i = 0; i < 6; i++) {
		v[i] = sig("198.51.100.0/24", 10 + i, 1, "distillation");
		v[i].remote = true;
	}
	ASSERT_EQ(policy_signals(m.p, m.now, v, 6), 0, "6 from the fleet");
	sim_tick(&m, SEC);
	ASSERT_EQ(m.nd, 0, "a local rule counts no remote report");
	sim_done(&m);
}

/* Only reports within the window count; weights add up for metric signals. */
static void test_policy_signals_window(void)
{
	struct policy_config c = reported_cfg();
	struct policy_signal v[3];
	struct policy_stats st;
	struct sim m;

	c.rules[1] = count_rule("weighty", POLICY_SIGNALS, 10, 60, FENCE_ACT_THROTTLE);
	c.n_rules = 2;
	if (!sim_init(&m, &c, 1))
		return;
	sim_tick(&m, SEC);
	for (unsigned i = 0; i < 3; i++)
		v[i] = sig("203.0.113.0/24", 100 + i, 3, "");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 3), 0, "t=1: 3 accounts, weight 9");
	sim_tick_at(&m, 100 * SEC);
	policy_get_stats(m.p, &st);
	ASSERT_EQ(st.signals, 3, "held for the accounts rule's 600 s");
	v[0] = sig("203.0.113.0/24", 200, 3, "");
	v[1] = sig("203.0.113.0/24", 201, 1, "");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 2), 0, "t=100: 2 more accounts, weight 4");
	sim_tick_at(&m, 101 * SEC);
	ASSERT_STREQ(m.log, "101 promote 203.0.113.0/24 off=1 ttl=3600 exp=3701\n",
		     "5 accounts in 600 s; weight 4 in the last 60 s is not 10");
	if (ASSERT_EQ(m.nd, 1, "one"))
		ASSERT_STREQ(m.d[0].rule, "reported", "the accounts rule");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 2), 0, "2 more");
	sim_tick_at(&m, 1000 * SEC);
	policy_get_stats(m.p, &st);
	ASSERT_EQ(st.signals, 0, "out of every window: dropped");
	ASSERT_EQ(st.signal_prefixes, 0, "and the prefix");
	v[0] = sig("203.0.113.0/24", 0, 0, "");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 1), -EINVAL, "weight 0");
	sim_done(&m);
}

/* Reports from an allowlisted range ban nothing; they are spent. */
static void test_policy_signals_allowlist(void)
{
	struct policy_config c = reported_cfg();
	struct policy_signal v[8];
	struct policy_stats st;
	struct sim m;

	if (!sim_init(&m, &c, 1))
		return;
	m.allow.list[m.allow.n++] = pfx("198.51.100.0/24");
	sim_tick(&m, SEC);
	for (unsigned i = 0; i < 8; i++)
		v[i] = sig("198.51.100.0/24", i + 1, 1, "distillation");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 8), 0, "8 accounts");
	sim_tick(&m, SEC);
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "", "allowlisted: nothing");
	ASSERT_TRUE(m.allow.calls > 0, "the allowlist was asked");
	policy_get_stats(m.p, &st);
	ASSERT_EQ(st.signals, 0, "spent");
	sim_done(&m);
}

/* A rate rule and a reports rule on the same prefix in one tick: one
 * decision; the reports, not spent, extend it at the next tick. */
static void test_policy_signals_one_decision(void)
{
	struct policy_config c = reported_cfg();
	struct policy_signal v[5];
	struct sim m;
	unsigned a;

	c.rules[1] = rule("conns", POLICY_NEW_CONNS, 100, 2, FENCE_ACT_DROP);
	c.n_rules = 2;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.18.9.0/24");
	sim_tick(&m, SEC);
	m.flow[a].new_conns += 500;
	sim_tick(&m, SEC);
	for (unsigned i = 0; i < 5; i++)
		v[i] = sig("198.18.9.0/24", i + 1, 1, "distillation");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 5), 0, "5 accounts");
	m.flow[a].new_conns += 500;
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "3 promote 198.18.9.0/24 off=1 ttl=600 exp=603\n", "one decision");
	sim_tick(&m, SEC);
	ASSERT_STREQ(m.log, "3 promote 198.18.9.0/24 off=1 ttl=600 exp=603\n"
		     "4 extend 198.18.9.0/24 off=1 ttl=3600 exp=3604\n", "the reports extend it");
	sim_done(&m);
}

/* max_signals bounds what is held; the rest is counted as dropped. */
static void test_policy_signals_bounded(void)
{
	struct policy_config c = reported_cfg();
	struct policy_signal v[10];
	struct policy_stats st;
	struct sim m;

	c.max_signals = 6;
	if (!sim_init(&m, &c, 1))
		return;
	sim_tick(&m, SEC);
	for (unsigned i = 0; i < 10; i++)
		v[i] = sig(i & 1 ? "198.18.0.0/24" : "2001:db8::/64", i + 1, 1, "x");
	ASSERT_EQ(policy_signals(m.p, m.now, v, 10), 0, "10 offered");
	sim_tick(&m, SEC);
	policy_get_stats(m.p, &st);
	ASSERT_EQ(st.signals, 6, "6 held");
	ASSERT_EQ(st.signals_dropped, 4, "4 dropped");
	ASSERT_EQ(st.signal_prefixes, 2, "two prefixes");
	sim_done(&m);
}

/* A rule of scope fleet adds the other gateways' counts to this one's: a
 * third of the rate here plus two thirds reported by the others promotes,
 * a local rule on the same rate does not, nor does the fleet rule on this
 * gateway's third alone. */
static void test_policy_fleet_scope(void)
{
	struct policy_config c = base_cfg();
	struct sim m;
	unsigned a, b;

	c.rules[0].scope = POLICY_FLEET;
	c.rules[1] = rule("local", POLICY_NEW_CONNS, 100, 10, FENCE_ACT_DROP);
	c.n_rules = 2;
	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "198.18.2.0/24");	/* split over three gateways */
	b = sim_flow(&m, "198.18.3.0/24");	/* a third here, nothing elsewhere */
	sim_tick_at(&m, 0);
	for (int k = 0; k < 12; k++) {
		m.flow[a].new_conns += 50;
		m.flow[a].fleet_new_conns = 100;	/* per interval, not cumulative */
		m.flow[b].new_conns += 50;
		sim_tick(&m, SEC);
	}
	ASSERT_STREQ(m.log, "10 promote 198.18.2.0/24 off=1 ttl=600 exp=610\n", "log");
	sim_done(&m);
}

/* Another gateway's offender: learned with its offences and ban, it is
 * extended here while the ban lasts (no new offence, no EXPIRE of the
 * learned ban), and its next promotion here escalates from them. */
static void test_policy_learn(void)
{
	struct policy_config c = base_cfg();
	struct policy_offender o = {
		.offences = 2, .ttl_s = 1200, .action = FENCE_ACT_DROP, .rule = "elsewhere",
	};
	struct sim m;
	unsigned a, b;
	__u32 off = 0;
	__u64 exp = 0;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "203.0.113.0/24");
	b = sim_flow(&m, "198.51.100.0/24");
	m.on[a] = m.on[b] = false;
	sim_tick_at(&m, 5 * SEC);
	o.expires_ns = 100 * SEC;
	o.decay_ns = 2100 * SEC;
	ASSERT_EQ(policy_learn(m.p, &m.flow[a].prefix, &o, m.now), 0, "learn a");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, &off, &exp), 0, "a known");
	ASSERT_EQ(off, 2, "a offences");
	ASSERT_EQ(exp, 100 * SEC, "a banned until");
	o.expires_ns = 0;			/* an old offender, its ban over */
	o.offences = 1;
	ASSERT_EQ(policy_learn(m.p, &m.flow[b].prefix, &o, m.now), 0, "learn b");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[b].prefix, &off, &exp), 0, "b known");
	ASSERT_EQ(exp, 0, "b not banned");
	o.action = FENCE_ACT_MAX;
	ASSERT_EQ(policy_learn(m.p, &m.flow[b].prefix, &o, m.now), -EINVAL, "bad action");
	offend_at(&m, a, 60);			/* while banned there: extend */
	sim_tick_at(&m, 200 * SEC);		/* a learned ban expires silently */
	offend_at(&m, b, 300);			/* offence 2 of b: escalated */
	offend_at(&m, a, 2000);			/* offence 3 of a: 2400 capped */
	ASSERT_STREQ(m.log,
		     "60 extend 203.0.113.0/24 off=2 ttl=1200 exp=1260\n"
		     "300 promote 198.51.100.0/24 off=2 ttl=1200 exp=1500\n"
		     "1990 expire 203.0.113.0/24 off=2 ttl=1200 exp=1260\n"
		     "1990 expire 198.51.100.0/24 off=2 ttl=1200 exp=1500\n"
		     "2000 promote 203.0.113.0/24 off=3 ttl=2000 exp=4000\n", "log");
	sim_done(&m);
}

/* A learned ban that ends before one of this gateway's own is not
 * shortened by it, and expires silently only if it was never extended. */
static void test_policy_learn_silent(void)
{
	struct policy_config c = base_cfg();
	struct policy_offender o = { .offences = 1, .ttl_s = 600, .action = FENCE_ACT_MONITOR };
	struct sim m;
	unsigned a;
	__u64 exp = 0;

	if (!sim_init(&m, &c, 1))
		return;
	a = sim_flow(&m, "203.0.113.0/24");
	m.on[a] = false;
	sim_tick_at(&m, 1 * SEC);
	o.expires_ns = 50 * SEC;
	ASSERT_EQ(policy_learn(m.p, &m.flow[a].prefix, &o, m.now), 0, "learn");
	sim_tick_at(&m, 49 * SEC);
	o.expires_ns = 30 * SEC;		/* shorter: changes nothing */
	ASSERT_EQ(policy_learn(m.p, &m.flow[a].prefix, &o, m.now), 0, "learn shorter");
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, NULL, &exp), 0, "known");
	ASSERT_EQ(exp, 50 * SEC, "keeps the later end");
	sim_tick_at(&m, 51 * SEC);
	ASSERT_EQ(policy_lookup(m.p, &m.flow[a].prefix, NULL, &exp), 0, "still known");
	ASSERT_EQ(exp, 0, "ended");
	ASSERT_STREQ(m.log, "", "no decision at all");
	sim_done(&m);
}


TEST_MAIN(T(test_policy_names), T(test_policy_bad_config), T(test_policy_bad_tick),
	  T(test_policy_burst_short), T(test_policy_sustained), T(test_policy_dip_resets),
	  T(test_policy_escalate), T(test_policy_decay), T(test_policy_extend),
	  T(test_policy_extend_keeps_longer), T(test_policy_extend_no_runaway),
	  T(test_policy_two_rules), T(test_policy_allowlist), T(test_policy_aggregate_v4),
	  T(test_policy_aggregate_v6), T(test_policy_jitter), T(test_policy_counter_reset),
	  T(test_policy_variable_ticks), T(test_policy_gap), T(test_policy_gap_asked),
	  T(test_policy_changed_only), T(test_policy_changed_fleet_only), T(test_policy_forget),
	  T(test_policy_save_load), T(test_policy_set_config), T(test_policy_max_tracked),
	  T(test_policy_hosts_bad_config), T(test_policy_hosts_farm), T(test_policy_hosts_wait),
	  T(test_policy_hosts_unlisted), T(test_policy_hosts_unknown), T(test_policy_hosts_metric), T(test_policy_signals_accounts),
	  T(test_policy_signals_window), T(test_policy_signals_allowlist),
	  T(test_policy_signals_one_decision), T(test_policy_signals_bounded), T(test_policy_signals_fleet),
	  T(test_policy_fleet_scope), T(test_policy_learn), T(test_policy_learn_silent))
