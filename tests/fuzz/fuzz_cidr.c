// SPDX-License-Identifier: GPL-2.0
/* tests/fuzz/fuzz_cidr.c - libFuzzer harness for cidr_parse and friends.
 *
 * Feeds arbitrary text to cidr_parse (strict and masking) and checks the
 * invariants a caller relies on: a parsed prefix prints, reparses to itself,
 * has no host bits, and contains and overlaps itself. Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cidr.h"

static void check(const struct cidr *c)
{
	char buf[CIDR_STR_MAX], err[128];
	struct cidr again, m = *c;

	if (c->family != AF_INET && c->family != AF_INET6)
		abort();
	if (c->len > (c->family == AF_INET ? 32 : 128))
		abort();
	cidr_mask(&m);
	if (memcmp(&m, c, sizeof(m)))
		abort();	/* host bits or junk past addr[3] survived */
	cidr_str(c, buf, sizeof(buf));
	if (cidr_parse(buf, &again, 0, err, sizeof(err)) || memcmp(&again, c, sizeof(again)))
		abort();
	if (!cidr_contains(c, c) || !cidr_overlaps(c, c))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256], err[128];
	struct cidr a, b;
	int ra, rb;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	ra = cidr_parse(s, &a, 0, err, sizeof(err));
	rb = cidr_parse(s, &b, CIDR_ALLOW_HOST_BITS, err, sizeof(err));
	if (!ra && (rb || memcmp(&a, &b, sizeof(a))))
		abort();	/* masking mode must accept all strict mode does */
	if (!ra)
		check(&a);
	if (!rb) {
		check(&b);
		/* text before and after the first NUL as a second prefix */
		if (!cidr_parse(s + strlen(s) + (strlen(s) < size), &a, CIDR_ALLOW_HOST_BITS,
				NULL, 0) &&
		    cidr_overlaps(&a, &b) != cidr_overlaps(&b, &a))
			abort();
	}
	return 0;
}
