// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_config.c - the `xdpfence run` config file: good and bad. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "engine/config.h"
#include "maps/keys.h"

static char path[64];

static int load_text(const char *text, struct config *c, char *err, size_t len)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/xdpfence-cfg-%d.ini", getpid());
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	return config_load(path, c, err, len);
}

static void test_config_issue_example(void)
{
	static const char text[] =
		"[interface eth0]\n"
		"mode = native\n"
		"[interface eth1]\n"
		"[feed spamhaus]\n"
		"source = https://example.invalid/drop_v4.json\n"
		"format = spamhaus-json\n"
		"refresh = 1h\n"
		"action = throttle\n"
		"throttle_rate = 7/s\n"
		"throttle_burst = 9\n"
		"[rule syn-burst]\n"
		"metric = new_conns          ; new_conns | packets | bytes\n"
		"rate = 200/s\n"
		"window = 10s                ; sustained over the whole window\n"
		"action = ban                ; ban | throttle | monitor\n"
		"ttl = 10m\n"
		"escalate = 2                ; each repeat offence multiplies the TTL\n"
		"max_ttl = 24h\n"
		"jitter = 10%\n"
		"[rule slow-scrape]\n"
		"metric = packets\n"
		"rate = 30/m\n"
		"window = 1m\n"
		"action = throttle\n"
		"throttle_rate = 5/s\n"
		"throttle_burst = 10\n"
		"[aggregate]\n"
		"v4_children = 4 within /16  ; 4 promoted /24s inside one /16 -> promote the /16\n"
		"v6_children = 4 within /48\n"
		"[daemon]\n"
		"tick = 500ms\n"
		"metrics = 127.0.0.1:9469\n"
		"state_file = /var/lib/xdpfence/state.json\n";
	char err[256] = "";
	struct config c;

	if (!ASSERT_EQ(load_text(text, &c, err, sizeof(err)), 0, "loads")) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	ASSERT_EQ(c.n_ifaces, 2, "interfaces");
	ASSERT_STREQ(c.ifaces[0].name, "eth0", "eth0");
	ASSERT_EQ(c.ifaces[0].skb, 0, "native");
	ASSERT_STREQ(c.ifaces[1].name, "eth1", "an interface with no keys still counts");
	ASSERT_EQ(c.n_feeds, 1, "feeds");
	ASSERT_EQ(c.feeds[0].format, FEED_FMT_SPAMHAUS_JSON, "format");
	ASSERT_EQ(c.feeds[0].refresh_s, 3600, "refresh");
	ASSERT_EQ(c.feeds[0].min_len_v4, 8, "default guardrail");
	ASSERT_EQ(c.feeds[0].action, FENCE_ACT_THROTTLE, "feed action");
	ASSERT_EQ(c.feeds[0].throttle_rate, 7, "feed throttle rate");
	ASSERT_EQ(c.feeds[0].throttle_burst, 9, "feed throttle burst");
	ASSERT_EQ(c.n_rules, 2, "rules");
	ASSERT_STREQ(c.rules[0].name, "syn-burst", "rule name");
	ASSERT_EQ(c.rules[0].metric, CONFIG_NEW_CONNS, "metric");
	ASSERT_EQ((long long)c.rules[0].rate, 200, "rate");
	ASSERT_EQ(c.rules[0].window_s, 10, "window");
	ASSERT_EQ(c.rules[0].action, FENCE_ACT_DROP, "ban = drop");
	ASSERT_EQ(c.rules[0].ttl_s, 600, "ttl");
	ASSERT_EQ(c.rules[0].max_ttl_s, 86400, "max_ttl");
	ASSERT_EQ((long long)(c.rules[0].escalate * 10), 20, "escalate");
	ASSERT_EQ((long long)llround(c.rules[0].jitter * 100), 10, "jitter 10%");
	ASSERT_EQ((long long)llround(c.rules[1].rate * 1000), 500, "30/m = 0.5/s");
	ASSERT_EQ(c.rules[1].action, FENCE_ACT_THROTTLE, "throttle");
	ASSERT_EQ(c.rules[1].throttle_rate, 5, "throttle_rate");
	ASSERT_EQ(c.rules[1].throttle_burst, 10, "throttle_burst");
	ASSERT_EQ(c.v4_children, 4, "v4 children");
	ASSERT_EQ(c.v4_parent_len, 16, "v4 parent");
	ASSERT_EQ(c.v6_parent_len, 48, "v6 parent");
	ASSERT_EQ(c.tick_ms, 500, "tick");
	ASSERT_STREQ(c.metrics, "127.0.0.1:9469", "metrics");
	unlink(path);
}

static void test_config_errors_name_line_and_key(void)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "[rule a]\nrate = fast\n", ":2: [rule a] rate: \"fast\"" },
		{ "[rule a]\nrate = 5/s\nwindow = 10s\naction = nuke\n", ":4: [rule a] action: \"nuke\"" },
		{ "[rule a]\nrate = 5/s\nwindw = 10s\n", ":3: [rule a] windw: unknown key" },
		{ "[daemon]\ntick = soon\n", ":2: [daemon] tick:" },
		{ "[aggregate]\nv4_children = 4 inside /16\n", ":2: [aggregate] v4_children:" },
		{ "[interface eth0]\nmode = turbo\n", ":2: [interface eth0] mode: \"turbo\"" },
		{ "[feed x]\nformat = xml\n", ":2: [feed x] format: \"xml\"" },
		{ "[feed x]\nthrottle_rate = lots\n", ":2: [feed x] throttle_rate: \"lots\"" },
		{ "[feed bad name!]\nsource = a\n", ":1: [feed bad name!]: feed name" },
		{ "[weird]\na = b\n", ":1: [weird]: unknown section" },
		{ "[rule a]\nrate = 5/s\n", "[rule a] needs a window" },
		{ "[rule a]\nrate = 5/s\nwindow = 1s\nttl = 1h\nmax_ttl = 10m\n", "max_ttl is shorter" },
		{ "[feed f]\nformat = plain\n", "[feed f] needs a source" },
		{ "[rule a]\nrate = 1/s\nwindow = 1s\n[rule b]\nrate = 1/s\nwindow = 1s\n"
		  "[rule a]\nrate = 2/s\n", "[rule a] appears twice" },
		{ "this is not ini\n", ":1:" },
		{ "[rule a]\njitter = 150%\n", ":2: [rule a] jitter:" },
	};
	char err[256];
	struct config c;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ASSERT_EQ(load_text(bad[i].text, &c, err, sizeof(err)), -EINVAL, bad[i].want);
		if (!ASSERT_TRUE(strstr(err, bad[i].want) != NULL, bad[i].want))
			fprintf(stderr, "  got: %s\n", err);
		ASSERT_TRUE(strncmp(err, path, strlen(path)) == 0, "message starts with the file");
	}
	ASSERT_EQ(config_load("/nonexistent/xdpfence.ini", &c, err, sizeof(err)), -ENOENT, "missing file");
	unlink(path);
}

/* The example shipped beside the systemd unit parses as it stands. */
static void test_config_shipped_example(void)
{
	static struct config c;
	char err[300] = "";

	ASSERT_EQ(config_load("scripts/xdpfence.conf.example", &c, err, sizeof(err)), 0, err);
	ASSERT_EQ(c.n_feeds, 3, "three feeds");
	ASSERT_EQ(c.feeds[2].action, FENCE_ACT_THROTTLE, "the crowdsec feed throttles");
	ASSERT_EQ(c.feeds[2].throttle_rate, 5, "at 5/s");
	ASSERT_EQ(c.feeds[2].throttle_burst, 10, "burst 10");
	ASSERT_EQ(c.feeds[0].throttle_rate, 10, "default rate");
}

/* A long comment is no way to change a value: nothing past the line limit
 * is read as a line of its own (inih splits at 199 characters). */
static void test_config_long_lines(void)
{
	char text[1024], err[512] = "", src[260];
	struct config c;
	int n;

	n = snprintf(text, sizeof(text), "[rule a]\nrate = 1/s\nwindow = 1s\naction = ban ; ");
	while (n < (int)strlen("[rule a]\nrate = 1/s\nwindow = 1s\n") + 199)
		text[n++] = 'x';
	snprintf(text + n, sizeof(text) - n, "action = monitor\n");
	if (ASSERT_EQ(load_text(text, &c, err, sizeof(err)), 0, "a long comment loads"))
		ASSERT_EQ(c.rules[0].action, FENCE_ACT_DROP, "and the action stays ban");
	else
		fprintf(stderr, "  %s\n", err);

	/* a whole-line comment of any length, and blanks around '=' */
	n = snprintf(text, sizeof(text), "# ");
	while (n < 600)
		text[n++] = 'y';
	snprintf(text + n, sizeof(text) - n, "\n[feed f]\nsource          =          /tmp/x\n");
	ASSERT_EQ(load_text(text, &c, err, sizeof(err)), 0, "a 600-character comment line");

	/* a value that cannot fit is refused at its line, not cut */
	memset(src, 'a', sizeof(src) - 1);
	src[sizeof(src) - 1] = 0;
	snprintf(text, sizeof(text), "[feed f]\nformat = plain\nsource = /%s\n", src);
	err[0] = 0;
	ASSERT_EQ(load_text(text, &c, err, sizeof(err)), -EINVAL, "an overlong value");
	if (!ASSERT_TRUE(strstr(err, ":3: line too long") != NULL, "names line 3"))
		fprintf(stderr, "  got: %s\n", err);
	unlink(path);
}

/* Each error at its own line, with its own text; nothing silently merged,
 * wrapped or dropped. */
static void test_config_every_error_at_its_line(void)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "[rule a]\nrate = 1/s\nwindow = 1s\n[rule a]\naction = monitor\n",
		  ":4: [rule a] appears twice (first at line 1)" },
		{ "[aggregate]\nv4_children = 4294967298 within /16\n", ":2: [aggregate] v4_children:" },
		{ "[aggregate]\nv4_children = 4 within /4294967312\n", ":2: [aggregate] v4_children:" },
		{ "[daemon]\nmetrics = nonsense:80\n", ":2: [daemon] metrics:" },
		{ "[daemon]\nmetrics = 127.0.0.1:99999\n", ":2: [daemon] metrics:" },
		{ "[daemon]\nmetrics = 127.0.0.1:\n", ":2: [daemon] metrics:" },
		{ "[daemon]\nmetrics = 9469\n", ":2: [daemon] metrics:" },
		{ "[rule a]\nrate = fast\nwindow = soon\n", ":2: [rule a] rate: \"fast\"" },
		{ "[rule a]\nrate = fast\nwindow = soon\n", ":3: [rule a] window: \"soon\"" },
		{ "[rule\n", ":1: \"[rule\": want a section header" },
	};
	char err[1024], text[2048];
	struct config c;
	int n = 0;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ASSERT_EQ(load_text(bad[i].text, &c, err, sizeof(err)), -EINVAL, bad[i].want);
		if (!ASSERT_TRUE(strstr(err, bad[i].want) != NULL, bad[i].want))
			fprintf(stderr, "  got: %s\n", err);
	}
	/* [daemon] metrics takes IPv6 in brackets */
	ASSERT_EQ(load_text("[daemon]\nmetrics = [::1]:9469\n", &c, err, sizeof(err)), 0, "[::1]:9469");

	/* one interface too many is an error at its header, not dropped */
	for (int i = 0; i <= CONFIG_MAX_IFACES; i++)
		n += snprintf(text + n, sizeof(text) - n, "[interface if%d]\n", i);
	err[0] = 0;
	ASSERT_EQ(load_text(text, &c, err, sizeof(err)), -EINVAL, "17 interfaces");
	if (!ASSERT_TRUE(strstr(err, ":17: [interface if16]: more than 16 interfaces") != NULL,
			 "the 17th interface is named"))
		fprintf(stderr, "  got: %s\n", err);
	unlink(path);
}

/* The rules of the farms issue and a [signals] section, as written there. */
static void test_config_farm_rules(void)
{
	static const char text[] =
		"[rule farm]                 ; many hosts: ban\n"
		"metric = new_conns\n"
		"rate = 30/s\n"
		"window = 3s\n"
		"min_hosts = 20\n"
		"action = ban\n"
		"[rule heavy-host]           ; one or two heavy addresses: throttle\n"
		"metric = new_conns\n"
		"rate = 30/s\n"
		"window = 3s\n"
		"max_hosts = 2\n"
		"action = throttle\n"
		"throttle_rate = 5/s\n"
		"[rule reported]\n"
		"metric = accounts\n"
		"count = 5\n"
		"window = 10m\n"
		"action = ban\n"
		"ttl = 1h\n"
		"[signals]\n"
		"listen = 127.0.0.1:9472\n"
		"token_file = /etc/xdpfence/signals.token\n"
		"socket = /run/xdpfence/signals.sock\n"
		"client_rate = 50/s\n"
		"max_body = 64K\n";
	static struct config c;
	char err[512] = "";

	if (!ASSERT_EQ(load_text(text, &c, err, sizeof(err)), 0, "loads")) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	ASSERT_EQ(c.n_rules, 3, "three rules");
	ASSERT_EQ(c.rules[0].min_hosts, 20, "min_hosts");
	ASSERT_EQ(c.rules[0].max_hosts, 0, "no max_hosts");
	ASSERT_EQ(c.rules[1].max_hosts, 2, "max_hosts");
	ASSERT_EQ(c.rules[1].throttle_rate, 5, "throttle_rate");
	ASSERT_EQ(c.rules[2].metric, CONFIG_ACCOUNTS, "accounts");
	ASSERT_EQ(c.rules[2].count, 5, "count");
	ASSERT_EQ(c.rules[2].window_s, 600, "window");
	ASSERT_EQ(c.rules[2].ttl_s, 3600, "ttl");
	ASSERT_TRUE(c.signals.line == 20, "[signals] at line 20");
	ASSERT_STREQ(c.signals.listen, "127.0.0.1:9472", "listen");
	ASSERT_STREQ(c.signals.socket, "/run/xdpfence/signals.sock", "socket");
	ASSERT_EQ((long long)c.signals.client_rate, 50, "client_rate");
	ASSERT_EQ(c.signals.client_burst, 1000, "default burst");
	ASSERT_EQ(c.signals.max_pending, 100000, "default max_pending");
	ASSERT_EQ(c.signals.max_body, 65536, "max_body");
	unlink(path);
}

static void test_config_farm_errors(void)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "[rule a]\nmetric = accounts\nrate = 5/s\nwindow = 1m\n",
		  ":1: [rule a] metric accounts takes a count (and no rate)" },
		{ "[rule a]\nmetric = hosts\nwindow = 1m\n",
		  ":1: [rule a] metric hosts takes a count (and no rate)" },
		{ "[rule a]\nrate = 5/s\ncount = 3\nwindow = 1m\n",
		  ":1: [rule a] metric new_conns takes a rate (and no count)" },
		{ "[rule a]\nmetric = signals\ncount = 3\nwindow = 1m\nmin_hosts = 2\n",
		  ":1: [rule a] min_hosts and max_hosts are for the traffic's metrics" },
		{ "[rule a]\nrate = 5/s\nwindow = 1m\nmin_hosts = 9\nmax_hosts = 3\n",
		  ":1: [rule a] min_hosts 9 is above max_hosts 3" },
		{ "[rule a]\nmetric = accounts\ncount = 0\nwindow = 1m\n", ":3: [rule a] count: \"0\"" },
		{ "[rule a]\nmetric = farms\n", ":2: [rule a] metric: \"farms\": want new_conns" },
		{ "[rule a]\nrate = 5/s\nwindow = 1m\nmax_hosts = -1\n", ":4: [rule a] max_hosts: \"-1\"" },
		{ "[fleet]\nservers = nats://192.0.2.11:4222\n[rule a]\nmetric = hosts\ncount = 9\n"
		  "window = 1m\nscope = fleet\n", ":3: [rule a] scope = fleet is not for hosts" },
		{ "[signals]\n", ":1: [signals] needs listen (ADDRESS:PORT), socket (a path), or both" },
		{ "[signals]\nlisten = 127.0.0.1:9472\n", ":1: [signals] listen needs token_file" },
		{ "[signals]\nsocket = relative.sock\n", ":2: [signals] socket: \"relative.sock\"" },
		{ "[signals]\nlisten = 127.0.0.1\n", ":2: [signals] listen: \"127.0.0.1\"" },
		{ "[signals]\nsocket = /run/s.sock\nmax_body = 10\n", ":3: [signals] max_body: \"10\"" },
		{ "[signals]\nsocket = /run/s.sock\nclient_rate = lots\n", ":3: [signals] client_rate:" },
		{ "[signals]\nsocket = /run/s.sock\ntoken = x\n", ":3: [signals] token: unknown key" },
	};
	char err[1024];
	struct config c;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ASSERT_EQ(load_text(bad[i].text, &c, err, sizeof(err)), -EINVAL, bad[i].want);
		if (!ASSERT_TRUE(strstr(err, bad[i].want) != NULL, bad[i].want))
			fprintf(stderr, "  got: %s\n", err);
	}
	unlink(path);
}

/* The [fleet] section of issue 16, a fleet-scope rule, and defaults. */
static void test_config_fleet(void)
{
	static const char text[] =
		"[fleet]\n"
		"servers = nats://192.0.2.11:4222, nats://192.0.2.12:4222, nats://192.0.2.13:4222\n"
		"bucket = xdpfence          ; created if missing\n"
		"replicas = 3\n"
		"node = gw-a                ; default: the host name\n"
		"share = promoted, manual   ; owners this gateway publishes\n"
		"count_floor = 5/s\n"
		"[rule spread]\n"
		"rate = 90/s\n"
		"window = 3s\n"
		"scope = fleet\n"
		"[rule here]\n"
		"rate = 90/s\n"
		"window = 3s\n";
	static const char minimal[] =
		"[fleet]\n"
		"servers = tls://nats.example.invalid:4222\n";
	char err[512] = "";
	struct config c;

	if (!ASSERT_EQ(load_text(text, &c, err, sizeof(err)), 0, "loads")) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	ASSERT_TRUE(c.fleet.on, "fleet on");
	ASSERT_EQ(c.fleet.n_servers, 3, "servers");
	ASSERT_STREQ(c.fleet.servers[2], "nats://192.0.2.13:4222", "third server");
	ASSERT_STREQ(c.fleet.bucket, "xdpfence", "bucket");
	ASSERT_EQ(c.fleet.replicas, 3, "replicas");
	ASSERT_STREQ(c.fleet.node, "gw-a", "node");
	ASSERT_EQ(c.fleet.share, FENCE_OWN_PROMOTED | FENCE_OWN_MANUAL, "share");
	ASSERT_EQ((long long)c.fleet.count_floor, 5, "count floor");
	ASSERT_TRUE(c.rules[0].fleet, "scope fleet");
	ASSERT_TRUE(!c.rules[1].fleet, "scope local by default");
	if (!ASSERT_EQ(load_text(minimal, &c, err, sizeof(err)), 0, "minimal loads"))
		fprintf(stderr, "  %s\n", err);
	ASSERT_EQ(c.fleet.replicas, 1, "one server: one replica");
	ASSERT_EQ(c.fleet.share, FENCE_OWN_PROMOTED, "shares promotions by default");
	ASSERT_TRUE(c.fleet.node[0] != 0, "node: the host name");
	ASSERT_STREQ(c.fleet.bucket, "xdpfence", "default bucket");
	unlink(path);
}

/* Each bad [fleet] value is an error at its line. */
static void test_config_fleet_errors(void)
{
	static const char text[] =
		"[fleet]\n"				/* 1 */
		"servers = nats://192.0.2.11:4222, 192.0.2.12:4222\n"
		"bucket = x.y\n"
		"replicas = 7\n"
		"node = gw a\n"				/* 5 */
		"share = promoted, feeds\n"
		"tls_cert = /etc/cert.pem\n"
		"[rule r]\n"				/* 8 */
		"rate = 1/s\n"
		"window = 1s\n"
		"scope = global\n";			/* 11 */
	static const char no_fleet[] =
		"[rule r]\n"
		"rate = 1/s\n"
		"window = 1s\n"
		"scope = fleet\n";
	char err[2048] = "";
	struct config c;

	ASSERT_EQ(load_text(text, &c, err, sizeof(err)), -EINVAL, "refused");
	ASSERT_TRUE(strstr(err, ":2: [fleet] servers: \"192.0.2.12:4222\": want nats://") != NULL,
		    "server without a scheme");
	ASSERT_TRUE(strstr(err, ":3: [fleet] bucket: \"x.y\"") != NULL, "bucket with a dot");
	ASSERT_TRUE(strstr(err, ":4: [fleet] replicas: \"7\": want 1..5") != NULL, "replicas");
	ASSERT_TRUE(strstr(err, ":5: [fleet] node: \"gw a\"") != NULL, "node with a blank");
	ASSERT_TRUE(strstr(err, ":6: [fleet] share: \"feeds\"") != NULL, "share");
	ASSERT_TRUE(strstr(err, ":1: [fleet] tls_cert and tls_key go together") != NULL, "tls pair");
	ASSERT_TRUE(strstr(err, ":11: [rule r] scope: \"global\": want local or fleet") != NULL,
		    "scope");
	if (strstr(err, "want local or fleet") == NULL)
		fprintf(stderr, "  %s\n", err);
	ASSERT_EQ(load_text(no_fleet, &c, err, sizeof(err)), -EINVAL, "fleet rule alone refused");
	ASSERT_TRUE(strstr(err, ":1: [rule r] scope = fleet needs a [fleet] section") != NULL,
		    "needs [fleet]");
	unlink(path);
}

TEST_MAIN(T(test_config_issue_example), T(test_config_errors_name_line_and_key),
	  T(test_config_shipped_example), T(test_config_long_lines),
	  T(test_config_every_error_at_its_line), T(test_config_farm_rules),
	  T(test_config_farm_errors), T(test_config_fleet), T(test_config_fleet_errors))
