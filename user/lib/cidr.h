/* SPDX-License-Identifier: GPL-2.0 */
/* user/lib/cidr.h - IPv4/IPv6 prefixes as the controller sees them.
 *
 * Owns parsing and printing of CIDR text. Strict by default: a bare address is
 * a /32 or /128, host bits set below the prefix length are an error (so a typo
 * such as 198.51.100.7/24 never silently bans a whole /24). No I/O here.
 */
#ifndef XDPFENCE_CIDR_H
#define XDPFENCE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t len;		/* prefix length: 0..32 or 0..128 */
	uint8_t pad[2];
	uint8_t addr[16];	/* network byte order; IPv4 uses addr[0..3], rest zero */
};

#define CIDR_STR_MAX 64		/* enough for "ffff:...:ffff/128" plus NUL */

enum cidr_flags {
	CIDR_ALLOW_HOST_BITS = 1 << 0,	/* mask host bits instead of rejecting them */
};

/* Parse "a.b.c.d[/len]" or "v6addr[/len]". Leading/trailing blanks are not
 * accepted (callers trim). Returns 0, or -EINVAL with a short reason written
 * to err (e.g. "prefix length 33 out of range for IPv4", "host bits set (did
 * you mean 198.51.100.0/24?)"). err may be NULL. */
int cidr_parse(const char *s, struct cidr *out, unsigned flags, char *err, size_t errlen);

/* Canonical text: "198.51.100.0/24", "2001:db8::/32". Always prints /len. */
const char *cidr_str(const struct cidr *c, char *buf, size_t len);

/* true if outer contains inner (same family, outer->len <= inner->len,
 * and inner's address masked to outer->len equals outer's address). */
bool cidr_contains(const struct cidr *outer, const struct cidr *inner);

/* true if the two prefixes share any address (one contains the other). */
bool cidr_overlaps(const struct cidr *a, const struct cidr *b);

/* Zero the bits of addr beyond len. */
void cidr_mask(struct cidr *c);

#endif
