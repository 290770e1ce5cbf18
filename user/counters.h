/* user/counters.h - reading the per-source-prefix counters (prefix_v4,
 * prefix_v6) with batch lookups, summed over CPUs. Shared by `top` and the
 * behaviour engine's tick. */
#ifndef XDPFENCE_COUNTERS_H
#define XDPFENCE_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "fence.h"

struct pfx_sample {
	__u8 family;			/* 4 or 6 */
	__u8 addr[16];			/* the aggregated prefix's address */
	struct fence_counters c;	/* summed over CPUs */
	double rate[4];			/* for `top`: conns, packets, drops, bytes per second */
};

/* Every entry of both maps into *v (malloc-ed; sorted by family and
 * address if asked), 16k entries per syscall. Returns 0 or -errno. */
int counters_read(const struct fence_maps *m, struct pfx_sample **v, size_t *n, bool sorted);

int counters_cmp_key(const void *a, const void *b);

#endif
