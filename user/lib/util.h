/* SPDX-License-Identifier: GPL-2.0 */
/* user/lib/util.h - small parsers and printers shared by the commands:
 * durations, rates, actions, iproute2-style prefix matching. No I/O. */
#ifndef XDPFENCE_UTIL_H
#define XDPFENCE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* The longest duration (a ban's TTL, a feed's lifetime) anything takes:
 * ten years. Beyond it, input is refused, and a feed's lifetime counts as
 * none (the entry stays until the feed drops it): nanoseconds past it
 * would come close to wrapping the 64-bit clock arithmetic. */
#define DURATION_MAX_S		(3650ULL * 86400)

/* "90s", "10m", "1h30m", "2d", "1w", "45" (seconds), "0" (= none).
 * Returns 0 and seconds in *out, -EINVAL, or -ERANGE past DURATION_MAX_S. */
int parse_duration(const char *s, __u64 *out);

/* "1h2m3s"-style; "-" for 0. */
const char *format_duration(__u64 secs, char *buf, size_t len);

/* "200/s", "200", "12000/m", "100/h" -> per second (rounded up, >= 1 when
 * non-zero). Returns 0 or -EINVAL. */
int parse_rate(const char *s, __u32 *per_sec);

/* "drop" "throttle" "monitor" -> enum fence_action, or -1 */
int parse_action(const char *s);
const char *action_name(int action);

/* true if word is a non-empty prefix of full (iproute2's matches()) */
bool matches(const char *word, const char *full);

/* "512", "64K", "100M", "2G", "1T" (powers of 1024) -> bytes; -EINVAL */
int parse_size(const char *s, __u64 *out);

/* strtoul with full validation; -EINVAL on trailing junk or out of range */
int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);

/* Map in every page of a large buffer now, in one call, as 2 MiB pages
 * where they can be had: on a paravirtualised guest a 4 KiB page costs
 * microseconds at first touch, a huge page a fraction of that per byte
 * (docs/benchmarks.md). For buffers about to be written or scanned whole;
 * returns p. */
void *prefault(void *p, size_t len);

/* The same huge pages for a buffer that may be written only in part, left
 * to fault in as it is written: a fault then maps 2 MiB, not 4 KiB. */
void huge_pages(void *p, size_t len);

/* For long-lived processes (`xdpfence run`): buffers of up to 32 MiB that
 * are freed stay in the heap for the next feed refresh or commit instead of
 * going back to the kernel, so the next one does not pay the first touch
 * of every page again. The cost: the process keeps its peak scratch memory. */
void keep_freed_memory(void);

/* CLOCK_MONOTONIC in seconds. */
double now_s(void);

/* calloc, prefaulted when large. */
void *big_calloc(size_t n, size_t size);

/* Sort n elements of size sz, each starting with a __u64 (native order),
 * in cmp's order, which must order by that number first: an LSD radix sort
 * on the number (digits of up to 13 bits over the bits the numbers use, a
 * pass skipped where every element has the same digit), then each run of
 * elements equal in it by cmp. Under 1,024 elements, or with no memory to
 * spare, qsort. For the IPv6 tables (sorted by their first 64 bits:
 * prefixes mostly differ there, and qsort's comparisons were most of a
 * commit's time) and the IPv4 entries of a commit (a 39-bit key: three
 * passes). */
void sort_by_u64(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *));

#endif
