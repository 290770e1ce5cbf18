// SPDX-License-Identifier: GPL-2.0
/* user/lib/cidr.c - parse, print and compare IPv4/IPv6 prefixes. See cidr.h.
 *
 * Pure string and bit work: no I/O, no allocation, no global state, so the
 * parser can be fuzzed on its own (tests/fuzz/fuzz_cidr.c). Errors are short
 * reasons written to the caller's buffer; the caller adds "path:line: ".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/cidr.h"

/* Longest address text inet_pton can accept, "ffff:...:255.255.255.255". */
#define CIDR_ADDR_MAX 46

static __attribute__((format(printf, 3, 4)))
int cidr_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Why inet_pton refused s[0..n): the reason names the family the text looks like. */
static const char *bad_addr_reason(const char *s, size_t n)
{
	bool v4 = true, v6 = true, colon = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == ':')
			colon = true;
		if (!is_digit(c) && c != '.')
			v4 = false;
		if (!is_hex(c) && c != ':' && c != '.')
			v6 = false;
	}
	if (colon && v6)
		return "bad IPv6 address";
	if (!colon && v4)
		return "bad IPv4 address";
	return "not an IP address";
}

static unsigned int cidr_max_len(const struct cidr *c)
{
	return c->family == AF_INET ? 32 : 128;
}

void cidr_mask(struct cidr *c)
{
	unsigned int max = cidr_max_len(c);
	unsigned int len = c->len < max ? c->len : max;
	unsigned int i = len / 8;

	if (len % 8)
		c->addr[i++] &= (uint8_t)(0xff << (8 - len % 8));
	/* IPv4 keeps addr[4..15] zero, as the struct promises */
	memset(c->addr + i, 0, sizeof(c->addr) - i);
}

/* The part after '/' (n bytes): decimal, no sign, no leading zero. */
static int parse_len(const char *p, size_t n, const struct cidr *c, unsigned int *len,
		     char *err, size_t errlen)
{
	const char *fam = c->family == AF_INET ? "IPv4" : "IPv6";
	const char *more = n > 16 ? "..." : "";
	unsigned int v = 0;

	if (!n)
		return cidr_fail(err, errlen, "missing prefix length");
	for (size_t i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return cidr_fail(err, errlen, "bad prefix length \"%.16s%s\"", p, more);
	if (n > 1 && p[0] == '0')
		return cidr_fail(err, errlen, "bad prefix length \"%.16s%s\" (leading zero)",
				 p, more);
	if (n > 3)
		return cidr_fail(err, errlen, "prefix length %.16s%s out of range for %s",
				 p, more, fam);
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned int)(p[i] - '0');
	if (v > cidr_max_len(c))
		return cidr_fail(err, errlen, "prefix length %u out of range for %s", v, fam);
	*len = v;
	return 0;
}

static bool host_bits_set(const struct cidr *c)
{
	unsigned int i = c->len / 8, end = cidr_max_len(c) / 8;

	if (c->len % 8 && (c->addr[i++] & (0xff >> (c->len % 8))))
		return true;
	for (; i < end; i++)
		if (c->addr[i])
			return true;
	return false;
}

int cidr_parse(const char *s, struct cidr *out, unsigned flags, char *err, size_t errlen)
{
	char addr[CIDR_ADDR_MAX + 1];
	char buf[CIDR_STR_MAX];
	const char *p, *slash = NULL;
	bool colon = false;
	unsigned int len;
	struct cidr c, m;
	size_t alen;
	int ret;

	memset(&c, 0, sizeof(c));
	if (!s || !*s)
		return cidr_fail(err, errlen, "empty prefix");
	/* one pass: this runs once per feed line */
	for (p = s; *p; p++) {
		if (is_blank(*p))
			return cidr_fail(err, errlen, "blank inside prefix");
		if (slash)
			continue;
		if (*p == '/')
			slash = p;
		else if (*p == ':')
			colon = true;
	}
	alen = (size_t)((slash ? slash : p) - s);
	if (!alen)
		return cidr_fail(err, errlen, "missing address before '/'");
	c.family = colon ? AF_INET6 : AF_INET;
	if (alen > CIDR_ADDR_MAX)
		return cidr_fail(err, errlen, "%s", bad_addr_reason(s, alen));
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(c.family, addr, c.addr) != 1)
		return cidr_fail(err, errlen, "%s", bad_addr_reason(s, alen));

	len = cidr_max_len(&c);
	if (slash) {
		ret = parse_len(slash + 1, (size_t)(p - slash - 1), &c, &len, err, errlen);
		if (ret)
			return ret;
	}
	c.len = (uint8_t)len;

	if (host_bits_set(&c)) {
		m = c;
		cidr_mask(&m);
		if (!(flags & CIDR_ALLOW_HOST_BITS))
			return cidr_fail(err, errlen, "host bits set (did you mean %s?)",
					 cidr_str(&m, buf, sizeof(buf)));
		c = m;
	}
	/* IPv4-mapped (::ffff:a.b.c.d, /96 or longer) stands for an IPv4
	 * address: that is what it bans or allows (no packet carries such a
	 * source on the wire), and the IPv4 guardrails see it as one. A
	 * shorter prefix with ffff there has host bits set: refused above. */
	if (c.family == AF_INET6 && c.len >= 96 &&
	    !memcmp(c.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		memmove(c.addr, c.addr + 12, 4);
		memset(c.addr + 4, 0, 12);
		c.family = AF_INET;
		c.len -= 96;
	}
	*out = c;
	return 0;
}

const char *cidr_str(const struct cidr *c, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (!buf || !len)
		return buf;
	if ((c->family != AF_INET && c->family != AF_INET6) ||
	    !inet_ntop(c->family, c->addr, addr, sizeof(addr))) {
		snprintf(buf, len, "(bad family %u)", c->family);
		return buf;
	}
	snprintf(buf, len, "%s/%u", addr, c->len);
	return buf;
}

bool cidr_contains(const struct cidr *outer, const struct cidr *inner)
{
	struct cidr o, i;

	if (outer->family != inner->family || outer->len > inner->len)
		return false;
	o = *outer;
	i = *inner;
	i.len = o.len;
	cidr_mask(&o);
	cidr_mask(&i);
	return memcmp(o.addr, i.addr, sizeof(o.addr)) == 0;
}

bool cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
	/* prefixes nest or are disjoint: there is no partial overlap */
	return cidr_contains(a, b) || cidr_contains(b, a);
}
