// SPDX-License-Identifier: GPL-2.0
/* tests/user/test_feed_parse.c - unit tests for user/feeds/parse/.
 *
 * Every format on good and bad input with exact counts, values, line numbers
 * and messages; the sample feeds under tests/data/feeds/ (documentation and
 * benchmark ranges only) and auto-detection. Run from the repo root.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/parse.h"
#include "feeds/parse/internal.h"
#include "test.h"

#define NOW 1700000000LL	/* 2023-11-14T22:13:20Z */
#define FEEDS "tests/data/feeds/"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f) {
		TEST_FAIL_AT("cannot open %s (run from the repo root)", path);
		n_fail++;
		return NULL;
	}
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
		/* exactly n bytes, no NUL: the parser must not need one */
		buf = malloc(n ? (size_t)n : 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
			*len = (size_t)n;
		else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	if (!buf) {
		TEST_FAIL_AT("cannot read %s", path);
		n_fail++;
	}
	return buf;
}

/* Parse len bytes of s (an exact-size heap copy, so ASan sees overreads). */
static int parse_n(const char *s, size_t len, enum feed_format fmt, struct feed_result *r)
{
	char *copy = calloc(1, len ? len : 1);
	int ret;

	memset(r, 0, sizeof(*r));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	ret = feed_parse(copy, len, fmt, NOW, r);
	free(copy);
	return ret;
}

static int parse_str(const char *s, enum feed_format fmt, struct feed_result *r)
{
	return parse_n(s, strlen(s), fmt, r);
}

static bool parse_file(const char *name, enum feed_format fmt, struct feed_result *r)
{
	size_t len = 0;
	char *buf = read_file(name, &len);
	int ret;

	memset(r, 0, sizeof(*r));
	if (!buf)
		return false;
	ret = feed_parse(buf, len, fmt, NOW, r);
	free(buf);
	return ASSERT_EQ(ret, 0, name);
}

static bool expect_counts(const struct feed_result *r, size_t entries, size_t errors,
			  size_t skipped)
{
	bool ok = ASSERT_EQ(r->n_entries, entries, "n_entries");

	ok &= ASSERT_EQ(r->n_errors, errors, "n_errors");
	ok &= ASSERT_EQ(r->n_skipped, skipped, "n_skipped");
	if (!ok)
		for (size_t i = 0; i < r->n_errors; i++)
			TEST_FAIL_AT("  error %zu: line %u: %s", i, r->errors[i].line,
				     r->errors[i].msg);
	return ok;
}

static void expect_entry(const struct feed_result *r, size_t i, const char *cidr,
			 uint32_t line, uint64_t ttl)
{
	char buf[CIDR_STR_MAX], name[96];

	snprintf(name, sizeof(name), "entry %zu (%s)", i, cidr);
	if (!ASSERT_TRUE(i < r->n_entries, name))
		return;
	ASSERT_STREQ(cidr_str(&r->entries[i].cidr, buf, sizeof(buf)), cidr, name);
	ASSERT_EQ(r->entries[i].line, line, name);
	ASSERT_EQ(r->entries[i].ttl_s, ttl, name);
}

static void expect_error(const struct feed_result *r, size_t i, uint32_t line, const char *msg)
{
	char name[64];

	snprintf(name, sizeof(name), "error %zu", i);
	if (!ASSERT_TRUE(i < r->n_errors, name))
		return;
	ASSERT_EQ(r->errors[i].line, line, name);
	ASSERT_STREQ(r->errors[i].msg, msg, name);
}

/* ---- names ------------------------------------------------------------- */

static void test_feed_format_names(void)
{
	static const char *const names[] = {
		"auto", "plain", "spamhaus-json", "netset", "ipset", "crowdsec", "stix",
	};

	for (int i = 0; i < FEED_FMT_COUNT; i++) {
		ASSERT_STREQ(feed_format_name(i), names[i], names[i]);
		ASSERT_EQ(feed_format_parse(names[i]), i, names[i]);
	}
	ASSERT_EQ(feed_format_parse("json"), -1, "unknown name");
	ASSERT_EQ(feed_format_parse("Plain"), -1, "names are exact");
	ASSERT_EQ(feed_format_parse(""), -1, "empty name");
	ASSERT_EQ(feed_format_parse(NULL), -1, "NULL name");
	ASSERT_STREQ(feed_format_name(FEED_FMT_COUNT), "unknown", "out of range");
}

/* ---- plain / netset --------------------------------------------------------- */

static void test_feed_plain_file(void)
{
	struct feed_result r;

	if (!parse_file(FEEDS "plain.txt", FEED_FMT_PLAIN, &r))
		return;
	ASSERT_EQ(r.format, FEED_FMT_PLAIN, "format");
	if (expect_counts(&r, 5, 5, 3)) {
		expect_entry(&r, 0, "192.0.2.0/24", 4, 0);
		expect_entry(&r, 1, "198.51.100.7/32", 5, 0);
		expect_entry(&r, 2, "203.0.113.0/24", 6, 0);
		expect_entry(&r, 3, "2001:db8::/32", 7, 0);
		expect_entry(&r, 4, "198.18.0.0/15", 13, 0);
		expect_error(&r, 0, 8, "bad prefix \"198.51.100.0/33\": "
				      "prefix length 33 out of range for IPv4");
		expect_error(&r, 1, 9, "bad prefix \"203.0.113.9/24\": "
				      "host bits set (did you mean 203.0.113.0/24?)");
		expect_error(&r, 2, 10, "unexpected text after \"192.0.2.1\": \"192.0.2.2\"");
		expect_error(&r, 3, 11, "bad prefix \"not-an-address\": not an IP address");
		expect_error(&r, 4, 12, "bad prefix \"2001:db8::/129\": "
				       "prefix length 129 out of range for IPv6");
	}
	feed_result_free(&r);
	ASSERT_TRUE(!r.entries && !r.errors && !r.n_entries, "free zeroes");
}

static void test_feed_plain_comments(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("# header\n"
			    ";; also a comment\n"
			    "\n"
			    "   \t \n"
			    "1.10.16.0/20 ; SBL256894\n"	/* Spamhaus DROP legacy shape */
			    "192.0.2.0/24;SBL1\n"
			    "198.51.100.1#no blank before the comment\n"
			    "\t203.0.113.0/24   # indented, trailing blanks   \n"
			    "2001:db8:1::/48 ; ; #\n"
			    "# 192.0.2.99 commented out\n",
			    FEED_FMT_PLAIN, &r), 0, "ret");
	if (expect_counts(&r, 5, 0, 5)) {
		expect_entry(&r, 0, "1.10.16.0/20", 5, 0);
		expect_entry(&r, 1, "192.0.2.0/24", 6, 0);
		expect_entry(&r, 2, "198.51.100.1/32", 7, 0);
		expect_entry(&r, 3, "203.0.113.0/24", 8, 0);
		expect_entry(&r, 4, "2001:db8:1::/48", 9, 0);
	}
	feed_result_free(&r);
}

static void test_feed_plain_crlf(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("# windows\r\n192.0.2.0/24\r\n\r\n198.51.100.7 ; x\r\n"
			    "203.0.113.0/24\r\r\n2001:db8::1",
			    FEED_FMT_PLAIN, &r), 0, "ret");
	if (expect_counts(&r, 4, 0, 2)) {
		expect_entry(&r, 0, "192.0.2.0/24", 2, 0);
		expect_entry(&r, 1, "198.51.100.7/32", 4, 0);
		expect_entry(&r, 2, "203.0.113.0/24", 5, 0);	/* stray CR is a blank */
		expect_entry(&r, 3, "2001:db8::1/128", 6, 0);	/* no final newline */
	}
	feed_result_free(&r);
}

static void test_feed_plain_not_terminated(void)
{
	static const char text[] = "192.0.2.1\n198.51.100.0/24999";
	struct feed_result r;

	/* the buffer ends after "/24"; the "999" beyond it must not be read */
	ASSERT_EQ(parse_n(text, sizeof(text) - 4, FEED_FMT_PLAIN, &r), 0, "ret");
	if (expect_counts(&r, 2, 0, 0))
		expect_entry(&r, 1, "198.51.100.0/24", 2, 0);
	feed_result_free(&r);
}

static void test_feed_plain_errors(void)
{
	static const char nul_line[] = "192.0.2.1\n192.0.2.2\0x\n";
	char *big = malloc(2 * FEED_LINE_MAX + 200);
	struct feed_result r;
	size_t o = 0;

	ASSERT_EQ(parse_str("198.51.100.0/24 extra words\n"
			    "2001:db8::1/64\n"
			    "192.0.2.0/\n"
			    "/24\n"
			    "198.51.100.0/024\n"
			    "192.0.2.1-192.0.2.9\n"
			    "\"192.0.2.1\"\n"
			    "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc/128\n"
			    "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd/128\n",
			    FEED_FMT_PLAIN, &r), 0, "ret");
	if (expect_counts(&r, 0, 9, 0)) {
		expect_error(&r, 0, 1, "unexpected text after \"198.51.100.0/24\": \"extra words\"");
		expect_error(&r, 1, 2, "bad prefix \"2001:db8::1/64\": "
				      "host bits set (did you mean 2001:db8::/64?)");
		expect_error(&r, 2, 3, "bad prefix \"192.0.2.0/\": missing prefix length");
		expect_error(&r, 3, 4, "bad prefix \"/24\": missing address before '/'");
		expect_error(&r, 4, 5, "bad prefix \"198.51.100.0/024\": "
				      "bad prefix length \"024\" (leading zero)");
		expect_error(&r, 5, 6, "bad prefix \"192.0.2.1-192.0.2.9\": not an IP address");
		expect_error(&r, 6, 7, "bad prefix \"\\\"192.0.2.1\\\"\": not an IP address");
		expect_error(&r, 7, 8, "bad prefix \"1111:2222:3333:4444:5555:6666:7777:8888:"
				      "9999:aaaa:bb...\": bad IPv6 address");
		expect_error(&r, 8, 9, "bad prefix \"1111:2222:3333:4444:5555:6666:7777:8888:"
				      "9999:aaaa:bb...\": too long");
	}
	feed_result_free(&r);

	ASSERT_EQ(parse_n(nul_line, sizeof(nul_line) - 1, FEED_FMT_PLAIN, &r), 0, "ret NUL");
	if (expect_counts(&r, 1, 1, 0))
		expect_error(&r, 0, 2, "bad prefix \"192.0.2.2\\x00x\": NUL byte inside");
	feed_result_free(&r);

	if (!big)
		return;
	/* a line of exactly FEED_LINE_MAX bytes is fine, one more is an error */
	memcpy(big + o, "192.0.2.1 #", 11);
	memset(big + o + 11, 'c', FEED_LINE_MAX - 11);
	o += FEED_LINE_MAX;
	big[o++] = '\n';
	memset(big + o, 'x', FEED_LINE_MAX + 1);
	o += FEED_LINE_MAX + 1;
	memcpy(big + o, "\r\n198.51.100.1\n", 15);
	o += 15;
	ASSERT_EQ(parse_n(big, o, FEED_FMT_PLAIN, &r), 0, "ret long");
	if (expect_counts(&r, 2, 1, 0)) {
		expect_entry(&r, 0, "192.0.2.1/32", 1, 0);
		expect_error(&r, 0, 2, "line too long (4097 bytes, limit 4096)");
		expect_entry(&r, 1, "198.51.100.1/32", 3, 0);
	}
	feed_result_free(&r);
	free(big);
}

/* IPsum and lists like it: an address, a blank, a count. The count is
 * ignored; the first field must still be an address. */
static void test_feed_plain_counts(void)
{
	static const char ipsum[] =
		"# IPsum Threat Intelligence Feed\n"
		"#\n"
		"# IP\tnumber of (black)lists\n"
		"#\n"
		"203.0.113.20\t10\n"
		"198.51.100.7\t3\n"
		"192.0.2.0/24 2 ; a prefix with a count\n"
		"2001:db8::5\t1\n"
		"not-an-address\t4\n"
		"198.51.100.8\tten\n"
		"198.51.100.9\t4 5\n";
	enum feed_format fmts[] = { FEED_FMT_PLAIN, FEED_FMT_NETSET, FEED_FMT_AUTO };

	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		struct feed_result r;

		ASSERT_EQ(parse_str(ipsum, fmts[f], &r), 0, "ret");
		if (expect_counts(&r, 4, 3, 4)) {
			expect_entry(&r, 0, "203.0.113.20/32", 5, 0);
			expect_entry(&r, 1, "198.51.100.7/32", 6, 0);
			expect_entry(&r, 2, "192.0.2.0/24", 7, 0);
			expect_entry(&r, 3, "2001:db8::5/128", 8, 0);
			expect_error(&r, 0, 9, "bad prefix \"not-an-address\": not an IP address");
			expect_error(&r, 1, 10, "unexpected text after \"198.51.100.8\": \"ten\"");
			expect_error(&r, 2, 11, "unexpected text after \"198.51.100.9\": \"4 5\"");
		}
		feed_result_free(&r);
	}
}

static void test_feed_plain_empty(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_n("", 0, FEED_FMT_PLAIN, &r), 0, "empty");
	expect_counts(&r, 0, 0, 0);
	feed_result_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_EQ(feed_parse(NULL, 0, FEED_FMT_AUTO, NOW, &r), 0, "NULL, 0");
	ASSERT_EQ(r.format, FEED_FMT_PLAIN, "empty is plain");
	expect_counts(&r, 0, 0, 0);
	feed_result_free(&r);
	ASSERT_EQ(parse_str("\n\n\n", FEED_FMT_PLAIN, &r), 0, "blank lines");
	expect_counts(&r, 0, 0, 3);
	feed_result_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_EQ(feed_parse("x", 1, FEED_FMT_COUNT, NOW, &r), -EINVAL, "bad format");
	feed_result_free(&r);
}

static void test_feed_plain_bom(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("\xef\xbb\xbf" "192.0.2.0/24\n", FEED_FMT_AUTO, &r), 0, "ret");
	ASSERT_EQ(r.format, FEED_FMT_PLAIN, "format");
	if (expect_counts(&r, 1, 0, 0))
		expect_entry(&r, 0, "192.0.2.0/24", 1, 0);
	feed_result_free(&r);
}

static void test_feed_netset_file(void)
{
	struct feed_result r;

	if (!parse_file(FEEDS "firehol_level1.netset", FEED_FMT_NETSET, &r))
		return;
	ASSERT_EQ(r.format, FEED_FMT_NETSET, "format");
	if (expect_counts(&r, 4, 0, 16)) {
		expect_entry(&r, 0, "192.0.2.0/24", 17, 0);
		expect_entry(&r, 1, "198.18.0.0/15", 18, 0);
		expect_entry(&r, 2, "198.51.100.0/24", 19, 0);
		expect_entry(&r, 3, "203.0.113.7/32", 20, 0);
	}
	feed_result_free(&r);
}

static void test_feed_many_errors(void)
{
	const size_t bad = FEED_ERRORS_MAX + 5;
	char *buf = malloc(bad * 2 + 16);
	struct feed_result r;
	size_t o = 0;

	if (!ASSERT_TRUE(buf, "malloc"))
		return;
	for (size_t i = 0; i < bad; i++) {
		buf[o++] = 'x';
		buf[o++] = '\n';
	}
	memcpy(buf + o, "192.0.2.1\n", 10);
	o += 10;
	ASSERT_EQ(parse_n(buf, o, FEED_FMT_PLAIN, &r), 0, "ret");
	ASSERT_EQ(r.n_errors, FEED_ERRORS_MAX + 1, "errors capped, plus a summary");
	expect_error(&r, FEED_ERRORS_MAX - 1, FEED_ERRORS_MAX,
		     "bad prefix \"x\": not an IP address");
	expect_error(&r, FEED_ERRORS_MAX, FEED_ERRORS_MAX + 1, "5 more errors not listed");
	ASSERT_EQ(r.n_entries, 1, "good lines still parsed");
	expect_entry(&r, 0, "192.0.2.1/32", (uint32_t)bad + 1, 0);
	/* a further call adds to the count */
	ASSERT_EQ(feed_parse("y\nz\n", 4, FEED_FMT_PLAIN, NOW, &r), 0, "append");
	ASSERT_EQ(r.n_errors, FEED_ERRORS_MAX + 1, "still capped");
	expect_error(&r, FEED_ERRORS_MAX, FEED_ERRORS_MAX + 1, "7 more errors not listed");
	feed_result_free(&r);
	free(buf);
}

static void test_feed_append(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("192.0.2.0/24\nbad\n", FEED_FMT_PLAIN, &r), 0, "first");
	ASSERT_EQ(feed_parse("198.51.100.0/24\n", 16, FEED_FMT_PLAIN, NOW, &r), 0, "second");
	if (expect_counts(&r, 2, 1, 0)) {
		expect_entry(&r, 0, "192.0.2.0/24", 1, 0);
		expect_entry(&r, 1, "198.51.100.0/24", 1, 0);
	}
	feed_result_free(&r);
}

/* ---- spamhaus-json -------------------------------------------------------- */

static void test_feed_spamhaus_file(void)
{
	struct feed_result r;

	if (!parse_file(FEEDS "drop_v4.json", FEED_FMT_SPAMHAUS_JSON, &r))
		return;
	if (expect_counts(&r, 4, 0, 1)) {
		expect_entry(&r, 0, "192.0.2.0/24", 1, 0);
		expect_entry(&r, 1, "198.18.0.0/15", 2, 0);
		expect_entry(&r, 2, "198.51.100.0/24", 3, 0);
		expect_entry(&r, 3, "203.0.113.128/25", 4, 0);
	}
	feed_result_free(&r);
}

static void test_feed_spamhaus_lines(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("{\"type\":\"metadata\",\"timestamp\":1700000000,\"size\":9,\"records\":1}\r\n"
			    "\n"
			    "  {\"cidr\": \"2001:db8::/32\", \"sblid\": \"SBL1\", \"rir\": \"ripencc\"}  \r\n"
			    "{\"cidr\":\"10.0.0.0/33\",\"sblid\":\"SBL2\"}\n"
			    "{\"sblid\":\"SBL3\",\"rir\":\"apnic\"}\n"
			    "{\"cidr\":24}\n"
			    "not json\n"
			    "{\"cidr\":\"192.0.2.0/24\"} trailing\n"
			    "{\"cidr\":\"192.0.2.0/24\"\n"
			    "[\"192.0.2.0/24\"]\n"
			    "{\"cidr\":\"198.51.100.7/24\"}\n"
			    "{\"cidr\":\"192.0.2\\u00000/24\"}\n"
			    "# comment\n"
			    "{\"cidr\":\"203.0.113.0/24\",\"type\":\"drop\"}",
			    FEED_FMT_SPAMHAUS_JSON, &r), 0, "ret");
	if (expect_counts(&r, 2, 10, 2)) {
		expect_entry(&r, 0, "2001:db8::/32", 3, 0);
		expect_entry(&r, 1, "203.0.113.0/24", 14, 0);
		expect_error(&r, 0, 4, "bad prefix \"10.0.0.0/33\": "
				      "prefix length 33 out of range for IPv4");
		expect_error(&r, 1, 5, "missing \"cidr\"");
		expect_error(&r, 2, 6, "\"cidr\" is not a string");
		expect_error(&r, 3, 7, "bad JSON: null expected");
		expect_error(&r, 4, 8, "bad JSON: unexpected character");
		expect_error(&r, 5, 9, "bad JSON: line ends inside a value");
		expect_error(&r, 6, 10, "not a JSON object");
		expect_error(&r, 7, 11, "bad prefix \"198.51.100.7/24\": "
				       "host bits set (did you mean 198.51.100.0/24?)");
		expect_error(&r, 8, 12, "bad prefix \"192.0.2\\x000/24\": NUL byte inside");
		expect_error(&r, 9, 13, "bad JSON: unexpected character");
	}
	feed_result_free(&r);
}

/* ---- ipset --------------------------------------------------------------- */

static void test_feed_ipset_file(void)
{
	struct feed_result r;

	if (!parse_file(FEEDS "blocklist.ipset", FEED_FMT_IPSET, &r))
		return;
	/* two "create" lines and the nomatch exception are skipped */
	if (expect_counts(&r, 4, 0, 3)) {
		expect_entry(&r, 0, "192.0.2.0/24", 2, 300);
		expect_entry(&r, 1, "198.51.100.7/32", 3, 0);
		expect_entry(&r, 2, "203.0.113.0/25", 4, 86400);
		expect_entry(&r, 3, "2001:db8:1::/48", 6, 0);
	}
	feed_result_free(&r);
}

static void test_feed_ipset_lines(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("create s hash:ip family inet timeout 60\r\n"
			    "add s 192.0.2.1 timeout 59\r\n"
			    "add s 192.0.2.2 comment \"timeout 5 in a comment\" timeout 7 skbmark 0x1\n"
			    "add s 192.0.2.3 timeout\n"
			    "add s 192.0.2.4 timeout 1x\n"
			    "add s 192.0.2.5 timeout 12345678901\n"
			    "add s 192.0.2.6 comment \"unterminated\n"
			    "add s\n"
			    "add s 192.0.2.7/24\n"
			    "add s 192.0.2.8,tcp:80\n"
			    "del s 192.0.2.9\n"
			    "flush s\n"
			    "\n"
			    "# saved by hand\n"
			    "add s 2001:db8::/32 timeout 4294967296 nomatch\n"
			    "  add\ts\t203.0.113.0/24\ttimeout\t10  \n",
			    FEED_FMT_IPSET, &r), 0, "ret");
	if (expect_counts(&r, 3, 9, 4)) {
		expect_entry(&r, 0, "192.0.2.1/32", 2, 59);
		expect_entry(&r, 1, "192.0.2.2/32", 3, 7);
		expect_entry(&r, 2, "203.0.113.0/24", 16, 10);
		expect_error(&r, 0, 4, "option \"timeout\" needs a value");
		expect_error(&r, 1, 5, "bad timeout \"1x\"");
		expect_error(&r, 2, 6, "bad timeout \"12345678901\"");
		expect_error(&r, 3, 7, "unterminated quote");
		expect_error(&r, 4, 8, "\"add\" needs a set name and an element");
		expect_error(&r, 5, 9, "bad prefix \"192.0.2.7/24\": "
				      "host bits set (did you mean 192.0.2.0/24?)");
		expect_error(&r, 6, 10, "bad prefix \"192.0.2.8,tcp:80\": not an IP address");
		expect_error(&r, 7, 11, "unexpected ipset command \"del\"");
		expect_error(&r, 8, 12, "unexpected ipset command \"flush\"");
	}
	feed_result_free(&r);
}

/* ---- crowdsec ------------------------------------------------------------ */

static void test_feed_crowdsec_file(void)
{
	struct feed_result r;

	if (!parse_file(FEEDS "crowdsec_stream.json", FEED_FMT_CROWDSEC, &r))
		return;
	/* skipped: captcha, Country, expired "-1s", 192.0.2.50 (deleted) */
	if (expect_counts(&r, 4, 1, 4)) {
		expect_entry(&r, 0, "192.0.2.7/32", 4, 14398);
		expect_entry(&r, 1, "2001:db8::7/128", 5, 604799);
		expect_entry(&r, 2, "198.51.100.0/24", 6, 2700);
		expect_entry(&r, 3, "198.18.0.0/15", 12, 1);
		expect_error(&r, 0, 11, "bad prefix \"192.0.2.300\": bad IPv4 address");
	}
	feed_result_free(&r);
}

/* One "new" decision with the given duration; ttl, or -1 skipped, or -2 error. */
static long long crowdsec_ttl(const char *duration, char *err, size_t errlen)
{
	char doc[256];
	struct feed_result r;
	long long ttl = -3;

	snprintf(doc, sizeof(doc), "{\"new\":[{\"duration\":\"%s\",\"scope\":\"Ip\","
		 "\"type\":\"ban\",\"value\":\"192.0.2.1\"}]}", duration);
	if (parse_str(doc, FEED_FMT_CROWDSEC, &r))
		return -4;
	if (r.n_entries == 1 && !r.n_errors)
		ttl = (long long)r.entries[0].ttl_s;
	else if (r.n_skipped == 1 && !r.n_errors && !r.n_entries)
		ttl = -1;
	else if (r.n_errors == 1 && !r.n_entries) {
		ttl = -2;
		snprintf(err, errlen, "%s", r.errors[0].msg);
	}
	feed_result_free(&r);
	return ttl;
}

static void test_feed_crowdsec_durations(void)
{
	static const struct {
		const char *in;
		long long ttl;
		const char *err;
	} cases[] = {
		{ "1h2m3s", 3723, NULL },
		{ "45m", 2700, NULL },
		{ "300s", 300, NULL },
		{ "1.5h", 5400, NULL },
		{ "72h0m0s", 259200, NULL },
		{ "3h59m58.5s", 14398, NULL },
		{ "2h45m30.999s", 9930, NULL },
		{ ".5m", 30, NULL },
		{ "1.s", 1, NULL },
		{ "1500ms", 1, NULL },
		{ "0.5s", 1, NULL },
		{ "1ns", 1, NULL },
		{ "90000000us", 90, NULL },
		{ "90000000\xc2\xb5s", 90, NULL },
		{ "+10s", 10, NULL },
		{ "2562047h47m16.854775807s", 9223372036, NULL },
		{ "-1s", -1, NULL },
		{ "-4h59m0.5s", -1, NULL },
		{ "0", -1, NULL },
		{ "0s", -1, NULL },
		{ "-0", -1, NULL },
		{ "", -2, "bad duration \"\": empty" },
		{ "-", -2, "bad duration \"-\": empty" },
		{ "1", -2, "bad duration \"1\": missing unit" },
		{ "4x", -2, "bad duration \"4x\": unknown unit" },
		{ "1d", -2, "bad duration \"1d\": unknown unit" },
		{ "h", -2, "bad duration \"h\": expected a number" },
		{ "--1s", -2, "bad duration \"--1s\": expected a number" },
		{ "1h-2m", -2, "bad duration \"1h-2m\": unknown unit" },
		{ ".s", -2, "bad duration \".s\": expected a number" },
		{ "1 h", -2, "bad duration \"1 h\": unknown unit" },
		{ "2562048h", -2, "bad duration \"2562048h\": out of range" },
		{ "99999999999999999999s", -2, "bad duration \"99999999999999999999s\": out of range" },
	};
	char err[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(crowdsec_ttl(cases[i].in, err, sizeof(err)), cases[i].ttl, cases[i].in);
		if (cases[i].err)
			ASSERT_STREQ(err, cases[i].err, cases[i].in);
	}
}

static void test_feed_crowdsec_decisions(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("{\"new\": [\n"
			    " {\"duration\":\"1h\",\"scope\":\"IP\",\"type\":\"BAN\",\"value\":\"192.0.2.1\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"range\",\"type\":\"ban\",\"value\":\"2001:db8::/48\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Range\",\"type\":\"ban\",\"value\":\"192.0.2.9\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"AS\",\"type\":\"ban\",\"value\":\"64496\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Ip\",\"type\":\"throttle\",\"value\":\"192.0.2.2\"},\n"
			    " {\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.3\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Ip\",\"type\":\"ban\"},\n"
			    " {\"duration\":\"1h\",\"type\":\"ban\",\"value\":\"192.0.2.4\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Ip\",\"value\":\"192.0.2.4\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.0/24\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Ip\",\"type\":\"ban\",\"value\":7},\n"
			    " {\"duration\":3600,\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.5\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Range\",\"type\":\"ban\",\"value\":\"198.51.100.1/24\"},\n"
			    " \"192.0.2.6\",\n"
			    " null,\n"
			    " {\"duration\":\"1h\",\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"2001:DB8::A\"},\n"
			    " {\"duration\":\"1h\",\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"2001:db8::b\"}\n"
			    "], \"deleted\": [\n"
			    " {\"duration\":\"-1s\",\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"2001:db8:0::a\"},\n"
			    " {\"scope\":\"Ip\",\"value\":\"not an address\"},\n"
			    " 42\n"
			    "]}\n",
			    FEED_FMT_CROWDSEC, &r), 0, "ret");
	/* skipped: AS, throttle, 2001:DB8::A (deleted, spelled otherwise) */
	if (expect_counts(&r, 5, 9, 3)) {
		expect_entry(&r, 0, "192.0.2.1/32", 2, 3600);
		expect_entry(&r, 1, "2001:db8::/48", 3, 3600);
		expect_entry(&r, 2, "192.0.2.9/32", 4, 3600);
		expect_entry(&r, 3, "192.0.2.3/32", 7, 0);	/* no duration: feed default */
		expect_entry(&r, 4, "2001:db8::b/128", 18, 3600);
		expect_error(&r, 0, 8, "missing \"value\"");
		expect_error(&r, 1, 9, "missing \"scope\"");
		expect_error(&r, 2, 10, "missing \"type\"");
		expect_error(&r, 3, 11, "bad address \"192.0.2.0/24\": "
				       "scope Ip takes an address, not a range");
		expect_error(&r, 4, 12, "\"value\" is not a string");
		expect_error(&r, 5, 13, "\"duration\" is not a string");
		expect_error(&r, 6, 14, "bad prefix \"198.51.100.1/24\": "
				       "host bits set (did you mean 198.51.100.0/24?)");
		expect_error(&r, 7, 15, "decision is not a JSON object");
		expect_error(&r, 8, 16, "decision is not a JSON object");
	}
	feed_result_free(&r);
}

static void test_feed_crowdsec_minified(void)
{
	struct feed_result r;

	/* LAPI answers on one line; duplicate "new": json-c keeps the last */
	ASSERT_EQ(parse_str("{\"new\":[{\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.1\"}],"
			    "\"new\":[{\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.2\"},"
			    "{\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.2/32\"}],"
			    "\"deleted\":null}",
			    FEED_FMT_CROWDSEC, &r), 0, "ret");
	if (expect_counts(&r, 1, 1, 0)) {
		expect_entry(&r, 0, "192.0.2.2/32", 1, 0);
		expect_error(&r, 0, 1, "bad address \"192.0.2.2/32\": "
				      "scope Ip takes an address, not a range");
	}
	feed_result_free(&r);
}

static void test_feed_crowdsec_empty(void)
{
	struct feed_result r;

	ASSERT_EQ(parse_str("{\"new\":null,\"deleted\":null}", FEED_FMT_CROWDSEC, &r), 0, "nulls");
	expect_counts(&r, 0, 0, 0);
	feed_result_free(&r);
	ASSERT_EQ(parse_str("{\"deleted\":[{\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.1\"}]}",
			    FEED_FMT_CROWDSEC, &r), 0, "only deleted");
	expect_counts(&r, 0, 0, 0);
	feed_result_free(&r);
	ASSERT_EQ(parse_str(" {\"new\":[]}\n\n", FEED_FMT_CROWDSEC, &r), 0, "empty new");
	expect_counts(&r, 0, 0, 0);
	feed_result_free(&r);
}

static void test_feed_crowdsec_bad_document(void)
{
	static const struct {
		const char *doc;
		uint32_t line;
		const char *msg;
	} cases[] = {
		{ "{\"new\":[\n{\"scope\":\"Ip\"},\n", 2, "bad JSON: unexpected end of data" },
		{ "{\"new\":[\n1,,2]}", 2, "bad JSON: unexpected character" },
		{ "{\"new\":[]}\n{\"new\":[]}", 2, "bad JSON: unexpected character" },
		{ "", 1, "bad JSON: unexpected end of data" },
		{ "\n\n[]", 3, "not a CrowdSec decisions stream (want a JSON object)" },
		{ "null", 1, "document is JSON null" },
		{ "{\"decisions\":[]}", 1, "not a CrowdSec decisions stream (no \"new\" or \"deleted\")" },
		{ "{\"new\":{}}", 1, "\"new\" is not an array" },
		{ "{\"new\":[],\"deleted\":\"x\"}", 1, "\"deleted\" is not an array" },
		{ "{\"new\":[],}", 1, "bad JSON: unexpected character" },
	};
	static const char nul[] = "{\"new\":[]}\0{\"new\":[]}";
	struct feed_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(parse_str(cases[i].doc, FEED_FMT_CROWDSEC, &r), -EINVAL, cases[i].msg);
		if (ASSERT_EQ(r.n_errors, 1, cases[i].msg))
			expect_error(&r, 0, cases[i].line, cases[i].msg);
		ASSERT_EQ(r.n_entries, 0, "no entries");
		feed_result_free(&r);
	}
	/* json-c stops at a NUL byte; what follows must not be ignored */
	ASSERT_EQ(parse_n(nul, sizeof(nul) - 1, FEED_FMT_CROWDSEC, &r), -EINVAL, "NUL");
	if (ASSERT_EQ(r.n_errors, 1, "NUL"))
		expect_error(&r, 0, 1, "trailing data after JSON document");
	feed_result_free(&r);
}

static void test_feed_crowdsec_escaped_key(void)
{
	struct feed_result r;

	/* "\u006eew" is "new" to json-c (the last one wins); lines are not guessed */
	ASSERT_EQ(parse_str("{\"new\":[\n"
			    "{\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.1\"}],\n"
			    "\"\\u006eew\":[\n"
			    "{\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.2\"}]}",
			    FEED_FMT_CROWDSEC, &r), 0, "ret");
	if (expect_counts(&r, 1, 0, 0))
		expect_entry(&r, 0, "192.0.2.2/32", 0, 0);
	feed_result_free(&r);
}

/* ---- stix ---------------------------------------------------------------- */

static void test_feed_stix_file(void)
{
	struct feed_result r;

	if (!parse_file(FEEDS "stix_bundle.json", FEED_FMT_STIX, &r))
		return;
	/* skipped: identity, domain-name, revoked, expired, relationship */
	if (expect_counts(&r, 3, 1, 5)) {
		expect_entry(&r, 0, "198.51.100.1/32", 14, 86400);
		expect_entry(&r, 1, "203.0.113.0/24", 26, 0);
		expect_entry(&r, 2, "2001:db8:beef::/48", 26, 0);
		expect_error(&r, 0, 68, "bad prefix \"198.51.100.300\": bad IPv4 address");
	}
	feed_result_free(&r);
}

/* One indicator with this pattern; the entries as "a b c", or "skip", or the error. */
static void expect_pattern(const char *pattern, const char *want)
{
	char doc[1024], got[512] = "", buf[CIDR_STR_MAX];
	struct feed_result r;
	size_t o = 0;

	o += (size_t)snprintf(doc, sizeof(doc), "{\"type\":\"indicator\",\"pattern\":\"");
	for (const char *p = pattern; *p && o < sizeof(doc) - 8; p++) {
		if (*p == '"' || *p == '\\')
			doc[o++] = '\\';
		doc[o++] = *p;
	}
	snprintf(doc + o, sizeof(doc) - o, "\"}");
	if (!ASSERT_EQ(parse_str(doc, FEED_FMT_STIX, &r), 0, pattern))
		return;
	if (r.n_errors)
		snprintf(got, sizeof(got), "%s", r.errors[0].msg);
	else if (!r.n_entries)
		snprintf(got, sizeof(got), "%s", r.n_skipped == 1 ? "skip" : "?");
	for (size_t i = 0; i < r.n_entries && !r.n_errors; i++) {
		size_t n = strlen(got);

		snprintf(got + n, sizeof(got) - n, "%s%s", i ? " " : "",
			 cidr_str(&r.entries[i].cidr, buf, sizeof(buf)));
	}
	ASSERT_STREQ(got, want, pattern);
	feed_result_free(&r);
}

static void test_feed_stix_patterns(void)
{
	expect_pattern("[ipv4-addr:value = '198.51.100.1']", "198.51.100.1/32");
	expect_pattern("[ipv6-addr:value = '2001:db8::/32']", "2001:db8::/32");
	expect_pattern("[ipv4-addr:value='192.0.2.0/24']", "192.0.2.0/24");
	expect_pattern("[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2']",
		       "192.0.2.1/32 192.0.2.2/32");
	expect_pattern("[ipv4-addr:value = '192.0.2.1'] OR [ipv6-addr:value = '2001:db8::1']",
		       "192.0.2.1/32 2001:db8::1/128");
	expect_pattern("([ipv4-addr:value = '192.0.2.1'] OR ([ipv4-addr:value = '192.0.2.2']))",
		       "192.0.2.1/32 192.0.2.2/32");
	expect_pattern("[(ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2')]",
		       "192.0.2.1/32 192.0.2.2/32");
	expect_pattern("[ipv4-addr:value ISSUBSET '198.18.0.0/15']", "198.18.0.0/15");
	expect_pattern("[ipv4-addr:value = '192.0.2.1' OR domain-name:value = 'x.example']",
		       "192.0.2.1/32");
	expect_pattern("[file:hashes.'SHA-256' = 'aa' OR ipv4-addr:value = '192.0.2.3']",
		       "192.0.2.3/32");
	expect_pattern("[file:size = 12 OR ipv4-addr:value = '192.0.2.4']", "192.0.2.4/32");
	expect_pattern("[network-traffic:src_ref[*].value = '192.0.2.5' OR "
		       "ipv4-addr:value = '192.0.2.6']", "192.0.2.6/32");
	expect_pattern("[ipv6-addr:value = '::ffff:192.0.2.7']", "192.0.2.7/32");
	expect_pattern("[ipv4-addr:value = '::ffff:192.0.2.7']", "192.0.2.7/32");
	expect_pattern("[ipv4-addr:value = '2001:db8::7']",
		       "bad prefix \"2001:db8::7\": not an IPv4 address");
	/* nothing to use */
	expect_pattern("[domain-name:value = 'malware.example']", "skip");
	expect_pattern("[url:value = 'http://malware.example/x']", "skip");
	expect_pattern("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", "skip");
	expect_pattern("[ipv4-addr:value = '192.0.2.1' AND ipv4-addr:value = '192.0.2.2']", "skip");
	expect_pattern("[ipv4-addr:value != '192.0.2.1']", "skip");
	expect_pattern("[ipv4-addr:value = '192.0.2.1'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.2']",
		       "skip");
	expect_pattern("[ipv4-addr:value = '192.0.2.1'] WITHIN 300 SECONDS", "skip");
	expect_pattern("[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')]", "skip");
	expect_pattern("[ipv4-addr:value MATCHES '^192']", "skip");
	expect_pattern("[ipv4-addr:resolves_to_refs[*].value = '00:00:5e:00:53:01']", "skip");
	/* errors */
	expect_pattern("[ipv4-addr:value = '2001:db8::1']",
		       "bad prefix \"2001:db8::1\": not an IPv4 address");
	expect_pattern("[ipv6-addr:value = '192.0.2.1']",
		       "bad prefix \"192.0.2.1\": not an IPv6 address");
	expect_pattern("[ipv4-addr:value = '192.0.2.1/24']",
		       "bad prefix \"192.0.2.1/24\": host bits set (did you mean 192.0.2.0/24?)");
	expect_pattern("[ipv4-addr:value = '192.0.2.1'",
		       "bad pattern \"[ipv4-addr:value = '192.0.2.1'\": unbalanced brackets");
	expect_pattern("[ipv4-addr:value = '192.0.2.1]",
		       "bad pattern \"[ipv4-addr:value = '192.0.2.1]\": "
		       "unterminated string or stray character");
	expect_pattern("ipv4-addr:value = '192.0.2.1'",
		       "bad pattern \"ipv4-addr:value = '192.0.2.1'\": comparison outside '[ ]'");
	expect_pattern("[ipv4-addr:value = 1]",
		       "bad pattern \"[ipv4-addr:value = 1]\": address is not a string");
	expect_pattern("[ipv4-addr:value '192.0.2.1']",
		       "bad pattern \"[ipv4-addr:value '192.0.2.1']\": "
		       "expected an operator after the object path");
	expect_pattern("[ipv4-addr:value = '192.0.2.1' OR]",
		       "bad pattern \"[ipv4-addr:value = '192.0.2.1' OR]\": expected a comparison");
	expect_pattern("[[ipv4-addr:value = '192.0.2.1']]",
		       "bad pattern \"[[ipv4-addr:value = '192.0.2.1']]\": '[' inside '[ ]'");
	expect_pattern("", "bad pattern \"\": ends where a comparison is expected");
	expect_pattern("[ipv4-addr:value = '192.0.2.1'] [ipv4-addr:value = '192.0.2.2']",
		       "bad pattern \"[ipv4-addr:value = '192.0.2.1'] [ipv4-addr:value = '...\": "
		       "expected OR or a closing bracket");
}

/* One indicator for 192.0.2.1 with these extra members; ttl, -1 skipped, -2 error. */
static long long stix_ttl(const char *members, char *err, size_t errlen)
{
	char doc[512];
	struct feed_result r;
	long long ttl = -3;

	snprintf(doc, sizeof(doc), "[{\"type\":\"indicator\",\"pattern\":"
		 "\"[ipv4-addr:value = '192.0.2.1']\"%s}]", members);
	if (parse_str(doc, FEED_FMT_STIX, &r))
		return -4;
	if (r.n_entries == 1 && !r.n_errors)
		ttl = (long long)r.entries[0].ttl_s;
	else if (r.n_skipped == 1 && !r.n_errors && !r.n_entries)
		ttl = -1;
	else if (r.n_errors == 1 && !r.n_entries) {
		ttl = -2;
		snprintf(err, errlen, "%s", r.errors[0].msg);
	}
	feed_result_free(&r);
	return ttl;
}

static void test_feed_stix_fields(void)
{
	static const struct {
		const char *members;
		long long ttl;
		const char *err;
	} cases[] = {
		{ "", 0, NULL },
		{ ",\"valid_until\":\"2023-11-15T22:13:20Z\"", 86400, NULL },
		{ ",\"valid_until\":\"2023-11-14T22:13:21Z\"", 1, NULL },
		{ ",\"valid_until\":\"2023-11-14T22:13:20.001Z\"", 1, NULL },
		{ ",\"valid_until\":\"2023-11-14T22:13:22.999999Z\"", 2, NULL },
		{ ",\"valid_until\":\"2023-11-14T22:13:20Z\"", -1, NULL },
		{ ",\"valid_until\":\"2023-11-14T22:13:20.000Z\"", -1, NULL },
		{ ",\"valid_until\":\"2023-11-14T22:13:19.999Z\"", -1, NULL },
		{ ",\"valid_until\":\"2020-01-01T00:00:00Z\"", -1, NULL },
		{ ",\"valid_until\":\"2023-11-15T00:13:20+01:00\"", 3600, NULL },
		{ ",\"valid_until\":\"2023-11-14T21:13:20-02:00\"", 3600, NULL },
		{ ",\"valid_until\":\"2023-11-14t22:23:20z\"", 600, NULL },
		{ ",\"valid_until\":\"2024-02-29T22:13:20Z\"", 9244800, NULL },
		{ ",\"valid_until\":\"9999-12-31T23:59:59Z\"", 251702300799, NULL },
		{ ",\"valid_until\":null", 0, NULL },
		{ ",\"revoked\":true", -1, NULL },
		{ ",\"revoked\":false,\"valid_until\":\"2023-11-14T22:14:20Z\"", 60, NULL },
		{ ",\"pattern_type\":\"stix\"", 0, NULL },
		{ ",\"pattern_type\":\"snort\"", -1, NULL },
		{ ",\"pattern_type\":\"STIX\"", -1, NULL },
		{ ",\"valid_until\":\"2023-02-29T00:00:00Z\"", -2,
		  "bad valid_until \"2023-02-29T00:00:00Z\": field out of range" },
		{ ",\"valid_until\":\"2023-13-01T00:00:00Z\"", -2,
		  "bad valid_until \"2023-13-01T00:00:00Z\": month out of range" },
		{ ",\"valid_until\":\"2023-11-14 22:13:20Z\"", -2,
		  "bad valid_until \"2023-11-14 22:13:20Z\": not an RFC 3339 timestamp" },
		{ ",\"valid_until\":\"2023-11-14T22:13:20\"", -2,
		  "bad valid_until \"2023-11-14T22:13:20\": missing time zone" },
		{ ",\"valid_until\":\"2023-11-14T22:13:20.Z\"", -2,
		  "bad valid_until \"2023-11-14T22:13:20.Z\": no digits after '.'" },
		{ ",\"valid_until\":\"2023-11-14T22:13:20+0100\"", -2,
		  "bad valid_until \"2023-11-14T22:13:20+0100\": bad time zone offset" },
		{ ",\"valid_until\":\"2023-11-14T22:13:20ZZ\"", -2,
		  "bad valid_until \"2023-11-14T22:13:20ZZ\": trailing text" },
		{ ",\"valid_until\":\"2023-11-14T24:00:00Z\"", -2,
		  "bad valid_until \"2023-11-14T24:00:00Z\": field out of range" },
		{ ",\"valid_until\":1700000000", -2, "\"valid_until\" is not a string" },
		{ ",\"revoked\":\"yes\"", -2, "\"revoked\" is not a boolean" },
		{ ",\"pattern_type\":1", -2, "\"pattern_type\" is not a string" },
	};
	char err[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(stix_ttl(cases[i].members, err, sizeof(err)), cases[i].ttl,
			  cases[i].members);
		if (cases[i].err)
			ASSERT_STREQ(err, cases[i].err, cases[i].members);
	}
}

static void test_feed_stix_shapes(void)
{
	struct feed_result r;

	/* a bare array, with its elements' lines */
	ASSERT_EQ(parse_str("[\n"
			    "  {\"type\":\"indicator\",\"pattern\":\"[ipv4-addr:value = '192.0.2.1']\"},\n"
			    "  {\"type\":\"malware\",\"name\":\"x\"},\n"
			    "  {\"pattern\":\"[ipv4-addr:value = '192.0.2.2']\"},\n"
			    "  {\"type\":\"indicator\"},\n"
			    "  {\"type\":\"indicator\",\"pattern\":[\"x\"]},\n"
			    "  \"indicator\",\n"
			    "  {\"type\":\"indicator\",\n"
			    "   \"pattern\":\"[ipv6-addr:value = '2001:db8::/33']\"}\n"
			    "]\n", FEED_FMT_STIX, &r), 0, "array");
	if (expect_counts(&r, 2, 4, 1)) {
		expect_entry(&r, 0, "192.0.2.1/32", 2, 0);
		expect_entry(&r, 1, "2001:db8::/33", 8, 0);
		expect_error(&r, 0, 4, "missing \"type\"");
		expect_error(&r, 1, 5, "missing \"pattern\"");
		expect_error(&r, 2, 6, "\"pattern\" is not a string");
		expect_error(&r, 3, 7, "STIX object is not a JSON object");
	}
	feed_result_free(&r);

	/* one indicator on its own */
	ASSERT_EQ(parse_str("\n{\"type\":\"indicator\",\"pattern\":\"[ipv4-addr:value = '192.0.2.3']\","
			    "\"valid_until\":\"2023-11-14T23:13:20Z\"}\n", FEED_FMT_STIX, &r), 0, "object");
	if (expect_counts(&r, 1, 0, 0))
		expect_entry(&r, 0, "192.0.2.3/32", 2, 3600);
	feed_result_free(&r);

	/* empty and object-less bundles */
	ASSERT_EQ(parse_str("{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[]}", FEED_FMT_STIX, &r),
		  0, "empty bundle");
	expect_counts(&r, 0, 0, 0);
	feed_result_free(&r);
	ASSERT_EQ(parse_str("{\"type\":\"bundle\",\"id\":\"bundle--1\"}", FEED_FMT_STIX, &r), 0,
		  "no objects");
	expect_counts(&r, 0, 0, 0);
	feed_result_free(&r);
}

static void test_feed_stix_bad_document(void)
{
	static const struct {
		const char *doc;
		uint32_t line;
		const char *msg;
	} cases[] = {
		{ "{\"type\":\"bundle\",\n\"objects\":[\n{\"type\":\"indicator\"}", 3,
		  "bad JSON: unexpected end of data" },
		{ "{\"type\":\"bundle\",\"objects\":{}}", 1, "bundle \"objects\" is not an array" },
		{ "\"bundle\"", 1, "not a STIX bundle, object or array" },
		{ "[{'type':'indicator'}]", 1, "bad JSON: unexpected character" },
		{ "[1] x", 1, "bad JSON: unexpected character" },
	};
	struct feed_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(parse_str(cases[i].doc, FEED_FMT_STIX, &r), -EINVAL, cases[i].msg);
		if (ASSERT_EQ(r.n_errors, 1, cases[i].msg))
			expect_error(&r, 0, cases[i].line, cases[i].msg);
		feed_result_free(&r);
	}
}

/* ---- auto ---------------------------------------------------------------- */

static void detect_file(const char *name, enum feed_format want)
{
	size_t len = 0;
	char *buf = read_file(name, &len);
	struct feed_result r;

	if (!buf)
		return;
	ASSERT_EQ(feed_detect(buf, len), want, name);
	memset(&r, 0, sizeof(r));
	ASSERT_EQ(feed_parse(buf, len, FEED_FMT_AUTO, NOW, &r), 0, name);
	ASSERT_EQ(r.format, want, name);
	feed_result_free(&r);
	free(buf);
}

static void test_feed_detect(void)
{
	static const struct {
		const char *text;
		enum feed_format want;
	} cases[] = {
		{ "{\"deleted\":[],\"new\":[]}", FEED_FMT_CROWDSEC },
		{ "\n  {\n  \"new\": null\n}", FEED_FMT_CROWDSEC },
		{ "{\"type\":\"bundle\",\"objects\":[]}", FEED_FMT_STIX },
		{ "{\"id\":\"indicator--1\",\"type\":\"indicator\"}", FEED_FMT_STIX },
		{ "[]", FEED_FMT_STIX },
		{ " \r\n[{\"type\":\"indicator\"}]", FEED_FMT_STIX },
		{ "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL1\"}\n{\"cidr\":", FEED_FMT_SPAMHAUS_JSON },
		{ "{\"type\":\"metadata\",\"timestamp\":1}\n", FEED_FMT_SPAMHAUS_JSON },
		{ "{\"ip\":\"192.0.2.1\"}", FEED_FMT_PLAIN },
		{ "{\"cidr\":", FEED_FMT_SPAMHAUS_JSON },
		{ "create s hash:net\nadd s 192.0.2.0/24\n", FEED_FMT_IPSET },
		{ "# saved\n\nadd s 192.0.2.0/24\n", FEED_FMT_IPSET },
		{ "add\ts 192.0.2.0/24", FEED_FMT_IPSET },
		{ "address 192.0.2.1\n", FEED_FMT_PLAIN },
		{ "#\n# firehol\n#\n192.0.2.0/24\n", FEED_FMT_PLAIN },
		{ "192.0.2.1\nadd s 192.0.2.0/24\n", FEED_FMT_PLAIN },
		{ "", FEED_FMT_PLAIN },
		{ "\xef\xbb\xbf{\"new\":[]}", FEED_FMT_CROWDSEC },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(feed_detect(cases[i].text, strlen(cases[i].text)), cases[i].want,
			  cases[i].text);
	ASSERT_EQ(feed_detect(NULL, 0), FEED_FMT_PLAIN, "NULL");
	/* only the bytes in len count */
	ASSERT_EQ(feed_detect("add s 192.0.2.1", 2), FEED_FMT_PLAIN, "len honoured");

	detect_file(FEEDS "drop_v4.json", FEED_FMT_SPAMHAUS_JSON);
	detect_file(FEEDS "firehol_level1.netset", FEED_FMT_PLAIN);
	detect_file(FEEDS "blocklist.ipset", FEED_FMT_IPSET);
	detect_file(FEEDS "crowdsec_stream.json", FEED_FMT_CROWDSEC);
	detect_file(FEEDS "stix_bundle.json", FEED_FMT_STIX);
	detect_file(FEEDS "plain.txt", FEED_FMT_PLAIN);
}


/* The in-place IPv4 line reader against cidr_parse on the same token:
 * every line shape near its edges must come out as the general path
 * words it (same prefix, or an error). */
static void test_feed_plain_fast_path_agrees(void)
{
	static const char *const lines[] = {
		"1.2.3.4", "1.2.3.4/32", "1.2.3.0/24", "0.0.0.0/0", "255.255.255.255",
		"1.2.3.4/0", "1.2.3.4/31", "1.2.3.5/31", "10.0.0.0/8", "10.0.0.0/7",
		"01.2.3.4", "1.2.3.04", "1.2.3.256", "1.2.3.4/33", "1.2.3.4/032", "1.2.3.0/024",
		"1.2.3.4/", "1.2.3", "1.2.3.4.5", "1..3.4", ".1.2.3", "1.2.3.4/3a",
		"1234.1.1.1", "1.2.3.4 5", "\t1.2.3.4 \r", " 1.2.3.4\t# c", "1.2.3.4;x",
		"1.2.3.4#x", "1.2.3.4 junk", "1.2.3.4/24", "198.51.100.0/25 ; note",
		"203.0.113.7/32", "0.0.0.0", "1.2.3.4/00", "2001:db8::/32", "::1.2.3.4",
		"1.2.3.-4", "+1.2.3.4", "1.2.3.4/+8", "1.2.3.4/8/8",
		/* a count after the address (IPsum) */
		"1.2.3.4\t10", "1.2.3.4 10 ", "1.2.3.4 0.5", "1.2.3.0/24 7", "1.2.3.4 10;c",
		"1.2.3.4 10 # c", "1.2.3.4 10 5", "1.2.3.4 1.", "1.2.3.4 .5", "1.2.3.4 10x",
		"1.2.3.4 -1", "1.2.3.4 1.2.3.4", "1.2.3.4 0x10", "1.2.3.5/24 3", "1.2.3.4\t10\r",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct feed_result r = {};
		char tok[64], why[96];
		const char *s = lines[i], *e;
		struct cidr want;
		bool bad;
		size_t n;

		/* the reference: comment cut, one word, cidr_parse */
		e = s + strcspn(s, "#;");
		while (*s == ' ' || *s == '\t')
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		n = (size_t)(e - s);
		memcpy(tok, s, n);
		tok[n] = 0;
		/* a word, then nothing or a count: digits, maybe a fraction */
		{
			size_t w = strcspn(tok, " \t\r"), c = w + strspn(tok + w, " \t\r");
			size_t d = strspn(tok + c, "0123456789");

			if (d && tok[c + d] == '.' && tok[c + d + 1] >= '0' && tok[c + d + 1] <= '9')
				d += 1 + strspn(tok + c + d + 1, "0123456789");
			bad = (c < n && c + d != n);
			tok[w] = 0;
			bad = bad || cidr_parse(tok, &want, 0, why, sizeof(why));
		}

		ASSERT_EQ(feed_parse(lines[i], strlen(lines[i]), FEED_FMT_PLAIN, NOW, &r), 0, lines[i]);
		if (bad) {
			if (!ASSERT_EQ(r.n_errors, 1, lines[i]))
				continue;
			ASSERT_EQ(r.n_entries, 0, lines[i]);
		} else if (ASSERT_EQ(r.n_entries, 1, lines[i]) && ASSERT_EQ(r.n_errors, 0, lines[i])) {
			ASSERT_TRUE(!memcmp(&r.entries[0].cidr, &want, sizeof(want)), lines[i]);
		}
		feed_result_free(&r);
	}
	/* the same lines in one text, ended LF and CRLF by turns: what each
	 * gave alone, on its own line number */
	for (int crlf = 0; crlf < 2; crlf++) {
		struct feed_result all = {}, one;
		size_t k = 0, at = 0, n = sizeof(lines) / sizeof(lines[0]);
		char text[4096];

		for (size_t i = 0; i < n; i++)
			at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%s", lines[i],
					       (i + crlf) % 2 ? "\r\n" : "\n");
		ASSERT_EQ(feed_parse(text, at, FEED_FMT_PLAIN, NOW, &all), 0, "all lines");
		for (size_t i = 0; i < n; i++) {
			memset(&one, 0, sizeof(one));
			feed_parse(lines[i], strlen(lines[i]), FEED_FMT_PLAIN, NOW, &one);
			if (one.n_entries && ASSERT_TRUE(k < all.n_entries, lines[i])) {
				ASSERT_TRUE(!memcmp(&all.entries[k].cidr, &one.entries[0].cidr,
						    sizeof(one.entries[0].cidr)), lines[i]);
				ASSERT_EQ(all.entries[k].line, i + 1, lines[i]);
				k++;
			}
			feed_result_free(&one);
		}
		ASSERT_EQ(k, all.n_entries, "no other entries");
		feed_result_free(&all);
	}
}

/* What a short text alone gives (read with its end in sight) against the
 * same text with a long line after it (read ahead, without bounds):
 * near-prefixes made at random from the pieces a prefix has. */
static void test_feed_plain_read_ahead_agrees(void)
{
	static const char *const piece[] = { "0", "1", "9", "25", "255", "256", "300", "01", "00",
					     "1234", ".", ".", ".", "/", "/8", "/24", "/32", "/33",
					     "/08", "/", " ", "\r", "#", "a", "" };
	const char *pad = "\n# a comment long enough to read ahead into\n";
	unsigned seed = 17, differ = 0, entries = 0;

	for (int round = 0; round < 20000; round++) {
		struct feed_result alone = {}, ahead = {};
		char text[64], padded[160];
		size_t n = 0;

		if (round % 2) {	/* a.b.c.d/len with a piece swapped in here and there */
			for (int k = 0; k < 5; k++) {
				seed = seed * 1103515245 + 12345;
				n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s",
						      k ? (k < 4 ? "." : "") : "",
						      (seed >> 16) % 4 ? (k < 4 ? "1" : "/32")
								       : piece[(seed >> 8) % 25]);
			}
		} else {
			for (int k = (int)(seed % 9) + 1; k > 0; k--) {
				seed = seed * 1103515245 + 12345;
				n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
						      piece[(seed >> 16) % 25]);
			}
		}
		if (n > 18)
			continue;	/* alone, it must be read with its end in sight */
		snprintf(padded, sizeof(padded), "%s%s", text, pad);
		feed_parse(text, n, FEED_FMT_PLAIN, NOW, &alone);
		feed_parse(padded, strlen(padded), FEED_FMT_PLAIN, NOW, &ahead);
		entries += alone.n_entries;
		if (alone.n_entries != ahead.n_entries || alone.n_errors != ahead.n_errors ||
		    (alone.n_entries && memcmp(&alone.entries[0].cidr, &ahead.entries[0].cidr,
					       sizeof(alone.entries[0].cidr))) ||
		    (alone.n_errors && strcmp(alone.errors[0].msg, ahead.errors[0].msg))) {
			if (differ++ < 5)
				fprintf(stderr, "  differs: \"%s\"\n", text);
		}
		feed_result_free(&alone);
		feed_result_free(&ahead);
	}
	ASSERT_EQ(differ, 0, "texts read ahead that differ");
	ASSERT_TRUE(entries > 1000, "many of them prefixes");
}

/* The newline count that sizes a feed's entries, eight bytes at a time,
 * against one byte at a time: texts of every length around its blocks
 * of 255 words, at every offset, with bytes next to '\n' in value (a carry
 * from one byte to the next would count them) and runs of '\n'. */
static void test_feed_count_lines(void)
{
	static const char pick[] = { '\n', '\n', 0x0b, 0x09, (char)0x8a, (char)0x0a ^ 0x80, 0, 'a' };
	const size_t max = 255 * 8 * 2 + 40;
	char *buf = malloc(max + 8);
	unsigned seed = 15, bad = 0;

	if (!ASSERT_TRUE(buf != NULL, "memory"))
		return;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < max + 8; i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] = round == 2 ? '\n' : pick[(seed >> 16) % (round ? 8 : 3)];
		}
		for (size_t off = 0; off < 8; off++) {
			for (size_t len = 0; len <= max; len += len < 64 || len > max - 64 ? 1 : 7) {
				size_t want = 0;

				for (size_t i = 0; i < len; i++)
					want += buf[off + i] == '\n';
				bad += feed_count_lines(buf + off, len) != want;
			}
		}
	}
	ASSERT_EQ(bad, 0, "counts that differ from one byte at a time");
	free(buf);
}

/* Feeds of megabytes are parsed in two halves at once: entries, line
 * numbers, skipped lines and errors must be what one pass gives. */
static void test_feed_plain_big_halves(void)
{
	const size_t n_lines = 400000;
	size_t cap = n_lines * 48, len = 0, n_want = 0, skipped = 0;
	char *buf = malloc(cap);
	struct feed_entry *want = calloc(n_lines, sizeof(*want));
	struct feed_result r = {};
	uint64_t x = 88172645463325252ULL;
	size_t bad_at[2] = { 0, 0 }, bad_line[2] = { 0, 0 }, mism = 0;

	if (!ASSERT_TRUE(buf && want, "memory"))
		goto out;
	for (size_t ln = 1; ln <= n_lines; ln++) {
		char *l = buf + len;
		int k;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		k = (int)(x % 16);
		if (k == 0) {
			len += (size_t)sprintf(l, "# comment %zu\n", ln);
			skipped++;
			continue;
		}
		if (k == 1) {
			len += (size_t)sprintf(l, "\n");
			skipped++;
			continue;
		}
		if (k == 2)
			len += (size_t)sprintf(l, "2001:db8:%x::/48\n", (unsigned)(x >> 20) & 0xffff);
		else if (k == 3)
			len += (size_t)sprintf(l, "198.%u.%u.0/24 ; feed note\n", 18 + (unsigned)((x >> 8) & 1),
					       (unsigned)(x >> 16) & 255);
		else
			len += (size_t)sprintf(l, "%u.%u.%u.%u\n", 1 + (unsigned)((x >> 8) % 223),
					       (unsigned)(x >> 16) & 255, (unsigned)(x >> 24) & 255,
					       (unsigned)(x >> 40) & 255);
		char tok[64];

		/* the first entry lines from line 1000 and from 1000 before the end */
		if ((ln >= 1000 && !bad_line[0]) || (ln >= n_lines - 1000 && !bad_line[1])) {
			int b = bad_line[0] ? 1 : 0;

			bad_at[b] = (size_t)(l - buf);
			bad_line[b] = ln;
		}
		sscanf(l, "%63s", tok);
		if (cidr_parse(tok, &want[n_want].cidr, 0, NULL, 0))
			mism++;
		want[n_want++].line = (uint32_t)ln;
	}
	ASSERT_EQ(mism, 0, "reference lines parse");
	ASSERT_TRUE(len >= (4u << 20), "big enough for two halves");
	ASSERT_EQ(feed_parse(buf, len, FEED_FMT_PLAIN, NOW, &r), 0, "parse");
	ASSERT_EQ(r.n_entries, n_want, "entries");
	ASSERT_EQ(r.n_skipped, skipped, "skipped");
	ASSERT_EQ(r.n_errors, 0, "no errors");
	for (size_t i = 0; i < n_want && i < r.n_entries; i++)
		if (r.entries[i].line != want[i].line ||
		    memcmp(&r.entries[i].cidr, &want[i].cidr, sizeof(want[i].cidr)))
			mism++;
	ASSERT_EQ(mism, 0, "every entry and line as one pass gives");
	feed_result_free(&r);

	/* a bad line in each half: both reported, at their lines, in order */
	buf[bad_at[0]] = 'x';
	buf[bad_at[1]] = 'x';
	ASSERT_EQ(feed_parse(buf, len, FEED_FMT_PLAIN, NOW, &r), 0, "parse with bad lines");
	if (ASSERT_EQ(r.n_errors, 2, "two errors")) {
		ASSERT_EQ(r.errors[0].line, bad_line[0], "first half's error line");
		ASSERT_EQ(r.errors[1].line, bad_line[1], "second half's error line");
	}
	ASSERT_EQ(r.n_entries, n_want - 2, "the other lines still parsed");
	feed_result_free(&r);
out:
	free(buf);
	free(want);
}

TEST_MAIN(T(test_feed_format_names), T(test_feed_plain_fast_path_agrees), T(test_feed_count_lines),
	  T(test_feed_plain_read_ahead_agrees),
	  T(test_feed_plain_big_halves),
	  T(test_feed_plain_file), T(test_feed_plain_comments), T(test_feed_plain_crlf),
	  T(test_feed_plain_not_terminated), T(test_feed_plain_errors), T(test_feed_plain_counts),
	  T(test_feed_plain_empty),
	  T(test_feed_plain_bom), T(test_feed_netset_file), T(test_feed_many_errors),
	  T(test_feed_append),
	  T(test_feed_spamhaus_file), T(test_feed_spamhaus_lines),
	  T(test_feed_ipset_file), T(test_feed_ipset_lines),
	  T(test_feed_crowdsec_file), T(test_feed_crowdsec_durations),
	  T(test_feed_crowdsec_decisions), T(test_feed_crowdsec_minified),
	  T(test_feed_crowdsec_empty), T(test_feed_crowdsec_bad_document),
	  T(test_feed_crowdsec_escaped_key),
	  T(test_feed_stix_file), T(test_feed_stix_patterns), T(test_feed_stix_fields),
	  T(test_feed_stix_shapes), T(test_feed_stix_bad_document),
	  T(test_feed_detect))
