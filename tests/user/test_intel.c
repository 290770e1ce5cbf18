// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_intel.c - the pieces of the intelligence exchange that need
 * no network: UUIDs, STIX timestamps and patterns, TLP markings, the export
 * formats read back by our own parsers, CrowdSec's durations. */
#include <errno.h>
#include <stdlib.h>

#include "test.h"
#include "cli/cli.h"
#include "engine/crowdsec.h"
#include "feeds/export.h"
#include "feeds/parse.h"
#include "feeds/stix_out.h"

/* crowdsec.c lives in the daemon, which reads the CLI's global options */
struct global_opts g_opts = { .pin_dir = FENCE_PIN_DIR_DEFAULT };

static void test_intel_uuid(void)
{
	/* RFC 4122 appendix namespace DNS; uuid5(NAMESPACE_DNS, "python.org") */
	static const uint8_t dns[16] = { 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
					 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
	uint8_t u[16];
	char s[37];

	stix_uuid5(dns, "python.org", 10, u);
	stix_uuid_str(u, s);
	ASSERT_STREQ(s, "886313e1-3b8a-5372-9b90-0c9aee199e5d", "uuid5 known vector");
	stix_uuid4(u);
	ASSERT_EQ(u[6] >> 4, 4, "uuid4 version");
	ASSERT_EQ(u[8] >> 6, 2, "uuid4 variant");
}

static void test_intel_time(void)
{
	char buf[40];
	int64_t us;

	stix_time_ms(1796477903123LL, buf, sizeof(buf));
	ASSERT_STREQ(buf, "2026-12-05T13:38:23.123Z", "ms");
	stix_time_us(1796477903123456LL, buf, sizeof(buf));
	ASSERT_STREQ(buf, "2026-12-05T13:38:23.123456Z", "us");
	ASSERT_EQ(stix_time_parse_us(buf, &us), 0, "parse");
	ASSERT_EQ(us, 1796477903123456LL, "round trip");
	ASSERT_EQ(stix_time_parse_us("2026-12-05T13:38:23Z", &us), 0, "no fraction");
	ASSERT_EQ(us, 1796477903000000LL, "whole seconds");
	ASSERT_EQ(stix_time_parse_us("2026-12-05 13:38:23Z", &us), -EINVAL, "no T");
	ASSERT_EQ(stix_time_parse_us("2026-12-05T13:38:23.1", &us), -EINVAL, "no Z");
}

static void test_intel_patterns_and_tlp(void)
{
	struct cidr c;
	char buf[160];

	cidr_parse("198.51.100.0/24", &c, 0, NULL, 0);
	stix_pattern(&c, buf, sizeof(buf));
	ASSERT_STREQ(buf, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "v4 range");
	cidr_parse("198.51.100.7", &c, 0, NULL, 0);
	stix_pattern(&c, buf, sizeof(buf));
	ASSERT_STREQ(buf, "[ipv4-addr:value = '198.51.100.7']", "v4 address");
	cidr_parse("2001:db8::/48", &c, 0, NULL, 0);
	stix_pattern(&c, buf, sizeof(buf));
	ASSERT_STREQ(buf, "[ipv6-addr:value ISSUBSET '2001:db8::/48']", "v6 range");
	ASSERT_EQ(stix_tlp_parse("amber+strict"), STIX_TLP_AMBER_STRICT, "amber+strict");
	ASSERT_EQ(stix_tlp_parse("TLP:RED"), STIX_TLP_RED, "TLP: prefix");
	ASSERT_EQ(stix_tlp_parse("white"), -1, "TLP 1.0 white is not 2.0");
	ASSERT_STREQ(stix_tlp_marking_id(STIX_TLP_CLEAR),
		     "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "clear id");
}

/* Each export format, read back by the feed parser of the same name. */
static void test_intel_export_reads_back(void)
{
	static const char *const pfx[] = { "198.51.100.0/24", "203.0.113.9", "2001:db8:1::/48" };
	static const struct { enum export_format f; enum feed_format p; } fmts[] = {
		{ EXPORT_STIX, FEED_FMT_STIX }, { EXPORT_PLAIN, FEED_FMT_PLAIN },
		{ EXPORT_NETSET, FEED_FMT_NETSET }, { EXPORT_CROWDSEC, FEED_FMT_CROWDSEC },
	};
	struct export_entry v[3] = {};
	struct stix_producer p;
	int64_t now_ms = 1796477903000LL;

	stix_producer_init(&p, "test producer", STIX_TLP_GREEN);
	for (int i = 0; i < 3; i++) {
		cidr_parse(pfx[i], &v[i].prefix, 0, NULL, 0);
		v[i].owners = FENCE_OWN_MANUAL;
		v[i].created_unix = now_ms / 1000 - 60;
		v[i].expires_ms = i ? now_ms + 3600 * 1000 : 0;
	}
	for (unsigned k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
		struct feed_result res = {};
		char err[128], *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		ASSERT_EQ(export_write(f, fmts[k].f, v, 3, &p, now_ms, err, sizeof(err)), 0, "write");
		fclose(f);
		ASSERT_EQ(feed_parse(text, len, fmts[k].p, now_ms / 1000, &res), 0, "parse back");
		ASSERT_EQ(res.n_entries, 3, feed_format_name(fmts[k].p));
		ASSERT_EQ(res.n_errors, 0, "no errors");
		if (fmts[k].f == EXPORT_STIX || fmts[k].f == EXPORT_CROWDSEC)
			ASSERT_EQ(res.n_entries == 3 ? res.entries[1].ttl_s : 0, 3600, "lifetime kept");
		feed_result_free(&res);
		free(text);
	}
}

static void test_intel_crowdsec_durations(void)
{
	static const struct { const char *in; double want; } good[] = {
		{ "4h", 14400 }, { "29m59.5s", 1799.5 }, { "-30ms", -0.03 }, { "1h2m3s", 3723 },
		{ "750ms", 0.75 }, { "0", 0 }, { "2562047h47m16.854775807s", 9223372036.854775807 },
	};
	static const char *const bad[] = { "", "h", "4x", "1h-", "ms" };
	double s;

	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ASSERT_EQ(crowdsec_duration(good[i].in, &s), 0, good[i].in);
		ASSERT_EQ((long long)(s * 1000), (long long)(good[i].want * 1000), good[i].in);
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(crowdsec_duration(bad[i], &s), -EINVAL, bad[i]);
}

TEST_MAIN(T(test_intel_uuid), T(test_intel_time), T(test_intel_patterns_and_tlp),
	  T(test_intel_export_reads_back), T(test_intel_crowdsec_durations))
