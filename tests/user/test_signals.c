// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_signals.c - the API tier's reports: the format, and the
 * intake's all-or-nothing (rate per client, queue bound). The HTTP server
 * and the socket are tested live in tests/integration/signals.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "engine/signals.h"

static int parse(const char *text, struct signal_in **v, size_t *n, char *why, size_t len)
{
	return signals_parse(text, strlen(text), 100, v, n, why, len);
}

static void test_signals_parse_good(void)
{
	struct signal_in *v = NULL;
	char why[256] = "", a[CIDR_STR_MAX];
	size_t n = 0;

	if (!ASSERT_EQ(parse("{\"ip\":\"198.18.7.10\",\"account\":\"acct-123\",\"kind\":\"distillation\","
			     "\"weight\":1}", &v, &n, why, sizeof(why)), 0, why))
		return;
	ASSERT_EQ(n, 1, "one report");
	ASSERT_STREQ(cidr_str(&v[0].ip, a, sizeof(a)), "198.18.7.10/32", "ip");
	ASSERT_STREQ(v[0].account, "acct-123", "account");
	ASSERT_STREQ(v[0].kind, "distillation", "kind");
	ASSERT_EQ(v[0].weight, 1, "weight");
	free(v);
	if (!ASSERT_EQ(parse(" [ {\"ip\":\"2001:db8::7\"}, {\"ip\":\"192.0.2.1\",\"weight\":1000} ]\n",
			     &v, &n, why, sizeof(why)), 0, why))
		return;
	ASSERT_EQ(n, 2, "an array");
	ASSERT_STREQ(cidr_str(&v[0].ip, a, sizeof(a)), "2001:db8::7/128", "v6");
	ASSERT_STREQ(v[0].account, "", "no account");
	ASSERT_EQ(v[0].weight, 1, "default weight");
	ASSERT_EQ(v[1].weight, 1000, "weight 1000");
	free(v);
}

static void test_signals_parse_bad(void)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "", "not JSON" },
		{ "{\"ip\":", "not JSON: it ends early" },
		{ "{\"ip\":\"192.0.2.1\"} x", "not JSON: data after the value" },
		{ "[]", "0 reports: want 1..100" },
		{ "\"192.0.2.1\"", "report 1: want a JSON object" },
		{ "{}", "report 1: no ip" },
		{ "{\"ip\":\"192.0.2.0/24\"}", "report 1: ip 192.0.2.0/24: want an IPv4 or IPv6 address" },
		{ "{\"ip\":\"300.1.1.1\"}", "report 1: ip 300.1.1.1: want" },
		{ "{\"ip\":7}", "report 1: ip 7: want" },
		{ "[{\"ip\":\"192.0.2.1\"},{\"ip\":\"192.0.2.2\",\"wieght\":2}]",
		  "report 2: unknown key \"wieght\" (ip, account, kind, weight)" },
		{ "{\"ip\":\"192.0.2.1\",\"weight\":0}", "report 1: weight: want a whole number from 1 to 1000" },
		{ "{\"ip\":\"192.0.2.1\",\"weight\":1001}", "report 1: weight:" },
		{ "{\"ip\":\"192.0.2.1\",\"weight\":1.5}", "report 1: weight:" },
		{ "{\"ip\":\"192.0.2.1\",\"weight\":\"2\"}", "report 1: weight:" },
		{ "{\"ip\":\"192.0.2.1\",\"kind\":\"a b\"}", "report 1: kind: want 1..32 of [A-Za-z0-9_.-]" },
		{ "{\"ip\":\"192.0.2.1\",\"kind\":\"\"}", "report 1: kind:" },
		{ "{\"ip\":\"192.0.2.1\",\"account\":\"a\\nb\"}", "report 1: account: want a string" },
		{ "{\"ip\":\"192.0.2.1\",\"account\":3}", "report 1: account:" },
	};
	struct signal_in *v = NULL;
	char why[256], text[512];
	size_t n = 7;
	int k;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		ASSERT_EQ(parse(bad[i].text, &v, &n, why, sizeof(why)), -EINVAL, bad[i].want);
		if (!ASSERT_TRUE(strstr(why, bad[i].want) == why, bad[i].want))
			fprintf(stderr, "  got: %s\n", why);
		ASSERT_TRUE(v == NULL && n == 0, "nothing out");
	}
	/* an account of 129 characters; more reports than allowed */
	k = snprintf(text, sizeof(text), "{\"ip\":\"192.0.2.1\",\"account\":\"");
	memset(text + k, 'a', 129);
	snprintf(text + k + 129, sizeof(text) - k - 129, "\"}");
	ASSERT_EQ(parse(text, &v, &n, why, sizeof(why)), -EINVAL, "129-character account");
	snprintf(text, sizeof(text), "[{\"ip\":\"192.0.2.1\"},{\"ip\":\"192.0.2.2\"}]");
	ASSERT_EQ(signals_parse(text, strlen(text), 1, &v, &n, why, sizeof(why)), -EINVAL,
		  "two, at most one");
	ASSERT_STREQ(why, "2 reports: want 1..1 in one request", "why");
}

/* All or nothing: a client over its burst, a queue that would overflow. */
static void test_signals_offer(void)
{
	struct config_signals c = { .client_rate = 0.001, .client_burst = 5, .max_pending = 8,
				    .max_body = 4096 };
	struct signal_in in[6], *v = NULL;
	struct signal_refused ref[4];
	struct signals_stats st;
	struct signals *s;
	char why[256], err[256];
	size_t n, n_ref;

	if (!ASSERT_EQ(signals_start(&s, &c, err, sizeof(err)), 0, err))
		return;
	memset(in, 0, sizeof(in));
	ASSERT_EQ(signals_offer(s, in, 6, SIGNAL_CLI, "a", why, sizeof(why)), SIGNAL_RATE_LIMITED + 1,
		  "6 over a burst of 5");
	ASSERT_TRUE(strstr(why, "client_burst 5") != NULL, "why names the setting");
	ASSERT_EQ(signals_offer(s, in, 5, SIGNAL_CLI, "a", why, sizeof(why)), 0, "5 fit");
	ASSERT_EQ(signals_offer(s, in, 1, SIGNAL_CLI, "a", why, sizeof(why)), SIGNAL_RATE_LIMITED + 1,
		  "a's burst is spent");
	ASSERT_EQ(signals_offer(s, in, 4, SIGNAL_HTTP, "b", why, sizeof(why)), SIGNAL_BUSY + 1,
		  "5 + 4 over max_pending 8");
	ASSERT_EQ(signals_offer(s, in, 3, SIGNAL_HTTP, "b", why, sizeof(why)), 0, "5 + 3 fit");
	signals_take(s, &v, &n, ref, 4, &n_ref);
	ASSERT_EQ(n, 8, "8 taken");
	ASSERT_EQ(v[0].source, SIGNAL_CLI, "source");
	ASSERT_STREQ(v[7].client, "b", "client");
	ASSERT_EQ(n_ref, 3, "3 refusals kept");
	ASSERT_EQ(ref[2].why, SIGNAL_BUSY, "the last: busy");
	free(v);
	signals_take(s, &v, &n, ref, 4, &n_ref);
	ASSERT_TRUE(v == NULL && n == 0 && n_ref == 0, "nothing more");
	signals_get_stats(s, &st);
	ASSERT_EQ(st.received[SIGNAL_CLI], 5, "received cli");
	ASSERT_EQ(st.received[SIGNAL_HTTP], 3, "received http");
	ASSERT_EQ(st.refused[SIGNAL_RATE_LIMITED], 2, "rate limited");
	ASSERT_EQ(st.refused[SIGNAL_BUSY], 1, "busy");
	signals_stop(s);
}

TEST_MAIN(T(test_signals_parse_good), T(test_signals_parse_bad), T(test_signals_offer))
