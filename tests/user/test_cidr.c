// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_cidr.c - unit tests for user/lib/cidr.c.
 *
 * Parsing (v4, v6, bare, mapped), every rejection with its exact reason,
 * host-bit masking, canonical printing, contains/overlaps. No I/O.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "lib/cidr.h"
#include "test.h"

/* Parse s strictly; true and *c filled on success. */
static bool parse_ok(const char *s, struct cidr *c, unsigned flags)
{
	char err[128] = "";
	int ret = cidr_parse(s, c, flags, err, sizeof(err));

	if (!ASSERT_EQ(ret, 0, s))
		TEST_FAIL_AT("  reason: %s", err);
	return ret == 0;
}

static void expect_str(const char *in, unsigned flags, const char *want)
{
	char buf[CIDR_STR_MAX];
	struct cidr c;

	if (parse_ok(in, &c, flags))
		ASSERT_STREQ(cidr_str(&c, buf, sizeof(buf)), want, in);
}

static void expect_err(const char *in, const char *want)
{
	struct cidr c;
	char err[128] = "";

	memset(&c, 0xa5, sizeof(c));
	ASSERT_EQ(cidr_parse(in, &c, 0, err, sizeof(err)), -EINVAL, in ? in : "(null)");
	ASSERT_STREQ(err, want, in ? in : "(null)");
	ASSERT_EQ(c.family, 0xa5, "out untouched on error");
}

static void test_cidr_v4(void)
{
	static const uint8_t want[16] = { 198, 51, 100, 0 };
	struct cidr c;

	memset(&c, 0xff, sizeof(c));
	if (!parse_ok("198.51.100.0/24", &c, 0))
		return;
	ASSERT_EQ(c.family, AF_INET, "family");
	ASSERT_EQ(c.len, 24, "len");
	ASSERT_EQ(c.pad[0] | c.pad[1], 0, "pad zeroed");
	ASSERT_EQ(memcmp(c.addr, want, 16), 0, "addr, rest zero");
	expect_str("198.18.0.0/15", 0, "198.18.0.0/15");
	expect_str("0.0.0.0/0", 0, "0.0.0.0/0");
	expect_str("255.255.255.255/32", 0, "255.255.255.255/32");
}

static void test_cidr_v4_bare(void)
{
	struct cidr c;

	if (!parse_ok("192.0.2.7", &c, 0))
		return;
	ASSERT_EQ(c.family, AF_INET, "family");
	ASSERT_EQ(c.len, 32, "bare v4 is /32");
	ASSERT_EQ(c.addr[3], 7, "last octet");
	expect_str("203.0.113.255", 0, "203.0.113.255/32");
}

static void test_cidr_v6(void)
{
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct cidr c;

	if (!parse_ok("2001:db8::/32", &c, 0))
		return;
	ASSERT_EQ(c.family, AF_INET6, "family");
	ASSERT_EQ(c.len, 32, "len");
	ASSERT_EQ(memcmp(c.addr, want, 16), 0, "addr");
	expect_str("2001:db8::1", 0, "2001:db8::1/128");
	expect_str("2001:DB8:0:0:0:0:0:0/32", 0, "2001:db8::/32");
	expect_str("2001:0db8:0000:beef::/64", 0, "2001:db8:0:beef::/64");
	expect_str("2001:db8::8000:0/97", 0, "2001:db8::8000:0/97");
	expect_str("::/0", 0, "::/0");
	expect_str("::", 0, "::/128");
}

static void test_cidr_v4_mapped(void)
{
	struct cidr c;

	/* an IPv4-mapped address is the IPv4 address it stands for */
	if (!parse_ok("::ffff:192.0.2.1", &c, 0))
		return;
	ASSERT_EQ(c.family, AF_INET, "mapped becomes IPv4");
	ASSERT_EQ(c.len, 32, "len");
	ASSERT_EQ(c.addr[0], 192, "embedded v4 first");
	ASSERT_EQ(c.addr[3], 1, "embedded v4 last");
	ASSERT_EQ(c.addr[4] | c.addr[12] | c.addr[15], 0, "the rest zero");
	expect_str("::ffff:192.0.2.1", 0, "192.0.2.1/32");
	expect_str("::ffff:198.51.100.0/120", 0, "198.51.100.0/24");
	expect_str("::ffff:0:0/96", 0, "0.0.0.0/0");
	expect_str("::ffff:c000:200/120", 0, "192.0.2.0/24");
	expect_str("::ffff:198.51.100.0/121", 0, "198.51.100.0/25");
	expect_err("::ffff:0:0/95", "host bits set (did you mean ::fffe:0:0/95?)");
	expect_str("::fffe:0:0/96", 0, "::fffe:0:0/96");
}

static void test_cidr_host_bits(void)
{
	struct cidr c;

	expect_err("198.51.100.7/24", "host bits set (did you mean 198.51.100.0/24?)");
	expect_err("2001:db8::1/32", "host bits set (did you mean 2001:db8::/32?)");
	expect_err("192.0.2.1/0", "host bits set (did you mean 0.0.0.0/0?)");
	expect_err("198.19.0.0/15", "host bits set (did you mean 198.18.0.0/15?)");
	expect_str("198.51.100.7/24", CIDR_ALLOW_HOST_BITS, "198.51.100.0/24");
	expect_str("2001:db8:ffff::1/33", CIDR_ALLOW_HOST_BITS, "2001:db8:8000::/33");
	expect_str("192.0.2.1/0", CIDR_ALLOW_HOST_BITS, "0.0.0.0/0");
	if (parse_ok("203.0.113.255/25", &c, CIDR_ALLOW_HOST_BITS))
		ASSERT_EQ(c.addr[3], 128, "masked in place");
}

static void test_cidr_reject(void)
{
	expect_err(NULL, "empty prefix");
	expect_err("", "empty prefix");
	expect_err(" 192.0.2.1", "blank inside prefix");
	expect_err("192.0.2.1 ", "blank inside prefix");
	expect_err("192.0.2.0/ 24", "blank inside prefix");
	expect_err("192.0.2.0\t/24", "blank inside prefix");
	expect_err("+192.0.2.1", "not an IP address");
	expect_err("192.0.2.0/+24", "bad prefix length \"+24\"");
	expect_err("192.0.2.0/-1", "bad prefix length \"-1\"");
	expect_err("/", "missing address before '/'");
	expect_err("/24", "missing address before '/'");
	expect_err("192.0.2.0/", "missing prefix length");
	expect_err("192.0.2.0/024", "bad prefix length \"024\" (leading zero)");
	expect_err("192.0.2.0/00", "bad prefix length \"00\" (leading zero)");
	expect_err("192.0.2.0/2x", "bad prefix length \"2x\"");
	expect_err("192.0.2.0/24/8", "bad prefix length \"24/8\"");
	expect_err("192.0.2.0//24", "bad prefix length \"/24\"");
	expect_err("10.0.0.0/33", "prefix length 33 out of range for IPv4");
	expect_err("192.0.2.0/1000", "prefix length 1000 out of range for IPv4");
	expect_err("192.0.2.0/99999999999999999999",
		   "prefix length 9999999999999999... out of range for IPv4");
	expect_err("2001:db8::/129", "prefix length 129 out of range for IPv6");
	expect_err("10/8", "bad IPv4 address");
	expect_err("10.0.0/8", "bad IPv4 address");
	expect_err("256.0.0.0", "bad IPv4 address");
	expect_err("192.0.2.1.5", "bad IPv4 address");
	expect_err("192.0.2.", "bad IPv4 address");
	expect_err("198.051.100.0/24", "bad IPv4 address");
	expect_err("2001:db8:::1", "bad IPv6 address");
	expect_err("2001:db8::g", "not an IP address");
	expect_err("1:2:3:4:5:6:7:8:9", "bad IPv6 address");
	expect_err("fe80::1%eth0", "not an IP address");
	expect_err("192.0.2.1:80", "bad IPv6 address");
	expect_err("example.com", "not an IP address");
	expect_err("0x7f.0.0.1", "not an IP address");
	expect_err("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa/64", "bad IPv6 address");
}

static void test_cidr_err_optional(void)
{
	struct cidr c;
	char tiny[8];

	ASSERT_EQ(cidr_parse("10.0.0.0/33", &c, 0, NULL, 0), -EINVAL, "err may be NULL");
	ASSERT_EQ(cidr_parse("10.0.0.0/33", &c, 0, tiny, sizeof(tiny)), -EINVAL, "short err");
	ASSERT_STREQ(tiny, "prefix ", "err truncated, terminated");
}

static void test_cidr_str(void)
{
	struct cidr c = { .family = AF_INET6, .len = 128 };
	char buf[CIDR_STR_MAX], small[8];

	memset(c.addr, 0xff, 16);
	ASSERT_STREQ(cidr_str(&c, buf, sizeof(buf)),
		     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "longest v6");
	ASSERT_STREQ(cidr_str(&c, small, sizeof(small)), "ffff:ff", "truncated, terminated");
	c.family = 7;
	ASSERT_STREQ(cidr_str(&c, buf, sizeof(buf)), "(bad family 7)", "bad family");
	expect_str("2001:db8:0:0:1:0:0:1", 0, "2001:db8::1:0:0:1/128");
}

static struct cidr pfx(const char *s)
{
	struct cidr c;

	memset(&c, 0, sizeof(c));
	if (cidr_parse(s, &c, 0, NULL, 0))
		TEST_FAIL_AT("fixture %s does not parse", s);
	return c;
}

static void test_cidr_contains(void)
{
	struct cidr n24 = pfx("198.51.100.0/24"), n25 = pfx("198.51.100.128/25");
	struct cidr lo = pfx("198.51.100.0/25"), host = pfx("198.51.100.200");
	struct cidr all4 = pfx("0.0.0.0/0"), all6 = pfx("::/0"), v6 = pfx("2001:db8::/32");
	struct cidr v6h = pfx("2001:db8:1::1"), mapped = pfx("::ffff:198.51.100.0/120");

	ASSERT_TRUE(cidr_contains(&n24, &n25), "/24 contains upper /25");
	ASSERT_TRUE(cidr_contains(&n24, &lo), "/24 contains lower /25");
	ASSERT_TRUE(!cidr_contains(&n25, &n24), "/25 does not contain /24");
	ASSERT_TRUE(cidr_contains(&n24, &n24), "contains itself");
	ASSERT_TRUE(cidr_contains(&n25, &host), "/25 contains .200");
	ASSERT_TRUE(!cidr_contains(&lo, &host), "lower /25 lacks .200");
	ASSERT_TRUE(cidr_contains(&all4, &host), "/0 contains all v4");
	ASSERT_TRUE(!cidr_contains(&all4, &v6), "v4 /0 lacks v6");
	ASSERT_TRUE(cidr_contains(&all6, &v6), "::/0 contains v6");
	ASSERT_TRUE(!cidr_contains(&all6, &n24), "::/0 lacks v4");
	ASSERT_TRUE(cidr_contains(&v6, &v6h), "2001:db8::/32 contains host");
	ASSERT_TRUE(cidr_contains(&mapped, &n24), "a mapped /120 is the IPv4 /24");
	ASSERT_TRUE(!cidr_contains(&v6h, &v6), "host lacks /32");
}

static void test_cidr_overlaps(void)
{
	struct cidr n24 = pfx("198.51.100.0/24"), n25 = pfx("198.51.100.128/25");
	struct cidr lo = pfx("198.51.100.0/25"), other = pfx("203.0.113.0/24");
	struct cidr v6 = pfx("2001:db8::/32"), v6b = pfx("2001:db9::/32");

	ASSERT_TRUE(cidr_overlaps(&n24, &n25), "outer/inner");
	ASSERT_TRUE(cidr_overlaps(&n25, &n24), "inner/outer");
	ASSERT_TRUE(!cidr_overlaps(&lo, &n25), "adjacent halves");
	ASSERT_TRUE(!cidr_overlaps(&n24, &other), "disjoint");
	ASSERT_TRUE(!cidr_overlaps(&n24, &v6), "families differ");
	ASSERT_TRUE(!cidr_overlaps(&v6, &v6b), "disjoint v6");
	ASSERT_TRUE(cidr_overlaps(&v6, &v6), "itself");
}

static void test_cidr_mask(void)
{
	struct cidr c = pfx("2001:db8::/32");
	char buf[CIDR_STR_MAX];

	memset(c.addr + 4, 0xff, 12);
	c.len = 65;
	cidr_mask(&c);
	ASSERT_STREQ(cidr_str(&c, buf, sizeof(buf)), "2001:db8:ffff:ffff:8000::/65", "v6 /65");
	c = pfx("198.51.100.0/24");
	c.addr[3] = 0xff;
	c.addr[9] = 0x11;	/* junk past an IPv4 address is cleared too */
	cidr_mask(&c);
	ASSERT_EQ(c.addr[3], 0, "v4 host byte");
	ASSERT_EQ(c.addr[9], 0, "v4 tail");
	c.len = 0;
	c.addr[0] = 0xff;
	cidr_mask(&c);
	ASSERT_EQ(c.addr[0], 0, "/0 clears all");
}

TEST_MAIN(T(test_cidr_v4), T(test_cidr_v4_bare), T(test_cidr_v6), T(test_cidr_v4_mapped),
	  T(test_cidr_host_bits), T(test_cidr_reject), T(test_cidr_err_optional),
	  T(test_cidr_str), T(test_cidr_contains), T(test_cidr_overlaps), T(test_cidr_mask))
