/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/counters.h - reading the per-source-prefix counters (prefix_v4,
 * prefix_v6) and the per-entry ones (entry_hits), summed over CPUs.
 * Shared by `top`, `ban list` and the behaviour engine's tick.
 *
 * By default the maps are walked in the kernel (bpf/counters.bpf.c, one run
 * per CPU at once, no bucket locks). Where that cannot run, batch lookups,
 * which take a bucket lock per non-empty bucket (dear on a paravirtualised
 * guest): the reader then splits each map's buckets between threads (the
 * hash map's batch token is the next bucket index; where one thread's last
 * batch runs past its range, the entries read twice are dropped). Either
 * way it keeps its buffers between reads, so a tick pays neither the page
 * faults of fresh buffers nor more syscalls than it must. */
#ifndef XDPFENCE_COUNTERS_H
#define XDPFENCE_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/fence.h"

/* A prefix's counters summed over CPUs, as fence_counters but for the
 * host sets, which most prefixes have none of lately: they are the
 * reader's, pointed to only where some CPU marked hosts in the host epoch
 * of the read or the one before (older sets count for nothing). */
struct pfx_counts {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;
	__u64 drops;
	__u64 last_seen_ns;
	__u32 host_epoch;		/* of hosts[0], when hosts is not NULL */
	__u32 pad;
	__u64 (*hosts)[4];		/* [2][4] as fence_counters.hosts, ORed over CPUs;
					 * the reader's memory, valid until its next read;
					 * NULL: no hosts lately */
};

struct pfx_sample {
	__u8 family;			/* 4 or 6 */
	__u8 addr[16];			/* the aggregated prefix's address */
	__u8 pad[7];
	struct pfx_counts c;		/* summed over CPUs */
};
_Static_assert(sizeof(struct pfx_sample) == 80, "pfx_sample stays small");

struct counters_reader;

/* How many distinct hosts of the prefix opened connections lately (its
 * current and previous host epoch, as of now_ns: CLOCK_MONOTONIC), from a
 * sample's hosts (maps/keys.h): exact for IPv4 (family 4), an estimate by
 * linear counting for IPv6 (within ~10% up to 500 hosts; past ~1000 all
 * 256 bits are set and it says 1420: at least that many). Folds them into c->hosts[0] as of now (for IPv4, the bitmap of
 * those hosts), so it is for a sample the caller owns. */
__u32 counters_hosts(struct fence_counters *c, int family, __u64 now_ns);

/* The same for a sample the reader gave: 0 when it has no hosts lately;
 * else s->c.hosts[0] is, after it, the bitmap of those hosts (IPv4). */
__u32 counters_sample_hosts(struct pfx_sample *s, __u64 now_ns);

/* The oldest host epoch whose sets still count for a read at now_ns: the
 * one before now's. */
__u32 counters_hosts_from(__u64 now_ns);

/* One CPU's counters c into the sum s: added up, the
 * latest last seen, the hosts joined as of the later epoch. */
void counters_add(struct fence_counters *s, const struct fence_counters *c);

#define COUNTERS_NO_WALK	1U	/* batch lookups even where the kernel walk works */
#define COUNTERS_SHORT_REGIONS	2U	/* tests: walk regions half the map, so a walk of a
					 * fuller map stops short, as one of a map that churns
					 * under it may (and batch lookups read it) */
#define COUNTERS_CHANGES	4U	/* after a first whole read, read only the prefixes
					 * counted since the last read (active_log): the
					 * engine's reader, one per pin dir (it starts the
					 * data path's epochs); see counters_reader_changes_only */

/* By default the reader walks the maps in the kernel (bpf/counters.bpf.c,
 * one run per CPU, no bucket locks) and falls back to batch lookups where
 * it cannot (a CPU offline or out of reach, an old kernel). threads: batch
 * lookups' threads, 0 = one per online CPU (at most 8). */
int counters_reader_new(struct counters_reader **out, const struct fence_maps *m, unsigned threads,
			unsigned flags);

/* Add up k <= FENCE_WALK_CPUS_MAX per-CPU lists of one family's records
 * that line up but where a walk saw a prefix another did not (see
 * counters.c); sums go to out from *n_out on, the rest to orphan_fn. h[c]:
 * list c's host sets (NULL: no list has any), joined in place, which the
 * sums then point to. For tests. */
int counters_merge(const struct fence_walk_rec *const *l, struct fence_walk_hosts *const *h,
		   const __u32 *n, int k, struct pfx_sample *out, size_t *n_out,
		   int (*orphan_fn)(void *ctx, const struct fence_walk_rec *r), void *ctx);

/* The prefixes the merge set aside, each once (sorted here, duplicates
 * skipped), read whole from the maps and summed over CPUs into out from
 * *n_out on; one gone since is left out. scratch holds one value per CPU,
 * hosts room for n prefixes' host sets; hosts_from as
 * counters_hosts_from. For tests. */
int counters_settle(const struct fence_maps *m, struct pfx_sample *orphans, size_t n,
		    void *scratch, struct fence_walk_hosts *hosts, __u32 hosts_from,
		    struct pfx_sample *out, size_t *n_out);
void counters_reader_free(struct counters_reader *r);

/* What the reader's reads came to, since it was made. */
struct counters_stats {
	__u64 reads;
	__u64 fallbacks;		/* the kernel walk stopped short (the maps changed
					 * under it) or could not run: batch lookups read it */
	__u64 failed;			/* nothing could be read */
	__u64 changed;			/* COUNTERS_CHANGES: reads of the changed prefixes only */
};
void counters_reader_stats(const struct counters_reader *r, struct counters_stats *st);

/* true while the reader walks the maps in the kernel (not batch lookups). */
bool counters_reader_walks(const struct counters_reader *r);

/* Did the last read give only the prefixes counted since the read before
 * it (COUNTERS_CHANGES)? Every other prefix of the maps was not counted in
 * between: its counters are what that read gave. Else it gave every prefix. */
bool counters_reader_changes_only(const struct counters_reader *r);

/* Read both maps. The samples come in segments owned by the reader, valid
 * until the next read: segment i is *seg[i] with n[i] samples, i < *n_seg.
 * Every prefix in the maps appears once (with COUNTERS_CHANGES, after the
 * first read: every prefix counted since the last read, unless
 * counters_reader_changes_only says this read was whole). 0 or -errno; a
 * failed read makes the next one whole. */
int counters_reader_read(struct counters_reader *r, struct pfx_sample *const **seg,
			 const size_t **n, unsigned *n_seg);

/* One read, every entry of both maps copied into *v (malloc-ed; sorted
 * by family and address if asked; host sets still the reader's, valid
 * until its next read). Returns 0 or -errno. */
int counters_reader_copy(struct counters_reader *r, struct pfx_sample **v, size_t *n, bool sorted);

int counters_cmp_key(const void *a, const void *b);

/* The per-entry counters (entry_hits, summed over CPUs): what each deny
 * entry matched; for a drop entry, what it dropped. One slot's: */
int counters_entry(const struct fence_maps *m, __u32 slot, struct fence_entry_counters *out);
/* Every slot's, in *out (malloc-ed, m->n_slots long). */
int counters_entries_read(const struct fence_maps *m, struct fence_entry_counters **out);

#endif
