/* user/counters.h - reading the per-source-prefix counters (prefix_v4,
 * prefix_v6) with batch lookups, summed over CPUs. Shared by `top` and the
 * behaviour engine's tick.
 *
 * A batch lookup of a per-CPU LRU hash costs a bucket lock per non-empty
 * bucket in the kernel (~250-500 ns an entry on a paravirtualised guest), so
 * a million prefixes take half a second on one CPU. The reader splits each
 * map's buckets between threads (the hash map's batch token is the next
 * bucket index; where one thread's last batch runs past its range, the
 * entries read twice are dropped) and keeps its buffers between reads, so a
 * tick pays neither thread-count-times the syscalls nor the page faults of
 * fresh buffers. */
#ifndef XDPFENCE_COUNTERS_H
#define XDPFENCE_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "fence.h"

struct pfx_sample {
	__u8 family;			/* 4 or 6 */
	__u8 addr[16];			/* the aggregated prefix's address */
	struct fence_counters c;	/* summed over CPUs */
};

struct counters_reader;

/* threads: 0 = one per online CPU (at most 8); 1 = no threads. */
int counters_reader_new(struct counters_reader **out, const struct fence_maps *m, unsigned threads);
void counters_reader_free(struct counters_reader *r);

/* Read both maps. The samples come in segments owned by the reader, valid
 * until the next read: segment i is *seg[i] with n[i] samples, i < *n_seg.
 * Every prefix in the maps appears once. Returns 0 or -errno. */
int counters_reader_read(struct counters_reader *r, struct pfx_sample *const **seg,
			 const size_t **n, unsigned *n_seg);

/* Every entry of both maps into *v (malloc-ed; sorted by family and
 * address if asked). Returns 0 or -errno. */
int counters_read(const struct fence_maps *m, struct pfx_sample **v, size_t *n, bool sorted);

int counters_cmp_key(const void *a, const void *b);

#endif
