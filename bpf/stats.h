/* SPDX-License-Identifier: GPL-2.0 */
/* bpf/stats.h - counting: per reason, per entry, per source prefix. */
#ifndef XDPFENCE_BPF_STATS_H
#define XDPFENCE_BPF_STATS_H

#include "maps.h"
#include "parse.h"

extern const volatile __u8 count_hosts;
extern const volatile __u32 entry_slots;

static __always_inline void stat_count(__u32 reason, __u64 bytes)
{
	struct fence_stat_val *v = bpf_map_lookup_elem(&stats, &reason);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

/* A packet the entry in slot matched (and dropped, unless it throttles
 * or monitors). */
static __always_inline void entry_count(__u32 slot, __u64 bytes, __u8 new_conn)
{
	__u32 i = bpf_get_smp_processor_id() * entry_slots + slot;
	struct fence_entry_counters *e = bpf_map_lookup_elem(&entry_hits, &i);

	if (e) {
		e->packets++;
		e->bytes += bytes;
		e->new_conns += new_conn;
	}
}

/* Find or create the counters of a source prefix. Creation can fail when
 * every LRU node is in flight on other CPUs; the packet then goes uncounted
 * per prefix (still counted per reason). */
static __always_inline struct fence_counters *pfx_counters(void *map, const void *key)
{
	struct fence_counters *c = bpf_map_lookup_elem(map, key);

	if (c)
		return c;
	{
		struct fence_counters zero = {};

		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
	}
	return bpf_map_lookup_elem(map, key);
}

/* The first time a prefix is counted on this CPU in the engine's epoch,
 * log it for the engine's next read (maps/keys.h, fence_active_meta). */
static __always_inline void active_log_add(struct fence_active_meta *am, __u64 epoch, __u8 family,
					   const void *key, __u32 ksz)
{
	__u32 half = epoch & 1, i = __sync_fetch_and_add(&am->n[half], 1), cap = am->cap;
	struct fence_active_rec *rec;

	if (i >= cap)
		return;		/* overflowed: the engine reads every prefix instead */
	i += half * cap;
	rec = bpf_map_lookup_elem(&active_log, &i);
	if (!rec)
		return;
	__builtin_memset(rec->addr, 0, sizeof(rec->addr));
	if (ksz == 4)
		__builtin_memcpy(rec->addr, key, 4);
	else
		__builtin_memcpy(rec->addr, key, 16);
	rec->family = family;
	/* the mark last (x86 keeps stores in order; the compiler must too) */
	asm volatile("" ::: "memory");
	rec->mark = epoch;
}

/* A host of this prefix opened a connection (maps/keys.h: the epochs, the
 * bits). Writes only a bit not set yet. */
static __always_inline void host_mark(struct fence_counters *c, const struct pkt_info *pi, __u64 now)
{
	__u32 e = (__u32)(now >> FENCE_HOST_EPOCH_SHIFT), h;
	__u64 bit, *word;

	if (c->host_epoch != e) {
		int i;

#pragma unroll
		for (i = 0; i < 4; i++) {
			c->hosts[1][i] = c->host_epoch + 1 == e ? c->hosts[0][i] : 0;
			c->hosts[0][i] = 0;
		}
		c->host_epoch = e;
	}
	if (pi->family == 4) {
		h = bpf_ntohl(pi->saddr4) & 0xff;
	} else {
		__u32 w[4];

		/* 4-byte loads: saddr6 is 4-aligned, not 8 */
		__builtin_memcpy(w, pi->saddr6, 16);
		h = fence_host_bit((__u64)w[0] << 32 | w[1], (__u64)w[2] << 32 | w[3]);
	}
	bit = 1ULL << (h & 63);
	word = &c->hosts[0][(h >> 6) & 3];
	if (!(*word & bit))
		*word |= bit;
}

static __always_inline void pfx_count(void *map, const void *key, __u32 ksz,
				      const struct pkt_info *pi, __u64 bytes, __u8 dropped, __u64 now)
{
	struct fence_counters *c = pfx_counters(map, key);
	__u32 zero = 0;
	struct fence_active_meta *am;
	__u64 epoch = 0;

	if (!c)
		return;
	c->packets++;
	c->bytes += bytes;
	c->new_conns += pi->new_conn;
	c->drops += dropped;
	am = bpf_map_lookup_elem(&active_meta, &zero);
	if (am)
		epoch = am->epoch;
	if (c->last_seen_ns < epoch)
		active_log_add(am, epoch, pi->family, key, ksz);
	/* never before the epoch's start, or the next packet logs it again */
	c->last_seen_ns = now > epoch ? now : epoch;
	if (pi->new_conn && count_hosts)
		host_mark(c, pi, now);
}

#endif
