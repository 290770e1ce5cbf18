/* SPDX-License-Identifier: GPL-2.0 */
/* bpf/map_defs.h - what a map is (type, key, value, flags) for the maps
 * that more than one program declares.
 *
 * The filter defines these maps (bpf/maps.h) and pins them; its helper
 * programs (counters.bpf.c, keyload.bpf.c) declare them from the same macro
 * and reuse the filter's maps by fd before load, so the declarations cannot
 * drift apart. Each declarer gives its own size (max) and pinning. A map
 * gets a macro here when a second program declares it; the rest stay in
 * maps.h.
 */
#ifndef XDPFENCE_BPF_MAP_DEFS_H
#define XDPFENCE_BPF_MAP_DEFS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../maps/keys.h"

/* deny_v4: IPv4 deny prefixes -> slot, exact match. Preallocated (no
 * BPF_F_NO_PREALLOC): inserts then allocate nothing, so they are faster
 * and a commit cannot fail half way for want of kernel memory; the price
 * is the memory of max_entries elements taken up front. Maps pinned with
 * BPF_F_NO_PREALLOC by an older build are reused as they are. */
#define MAP_DEF_DENY_V4(max)						\
	__uint(type, BPF_MAP_TYPE_HASH);				\
	__type(key, struct fence_v4_key);				\
	__type(value, struct fence_slot);				\
	__uint(max_entries, max)

/* allow_v4: IPv4 allow prefixes -> slot, exact match. */
#define MAP_DEF_ALLOW_V4(max)						\
	__uint(type, BPF_MAP_TYPE_HASH);				\
	__type(key, struct fence_v4_key);				\
	__type(value, struct fence_slot);				\
	__uint(max_entries, max);					\
	__uint(map_flags, BPF_F_NO_PREALLOC)

/* prefix_v4/prefix_v6: per-source-prefix counters; LRU so spoofed floods
 * recycle entries, never grow the map. */
#define MAP_DEF_PREFIX_V4(max)						\
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);			\
	__type(key, struct fence_pfx_v4);				\
	__type(value, struct fence_counters);				\
	__uint(max_entries, max)

#define MAP_DEF_PREFIX_V6(max)						\
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);			\
	__type(key, struct fence_pfx_v6);				\
	__type(value, struct fence_counters);				\
	__uint(max_entries, max)

/* active_meta/active_log: what the data path counted since the engine's
 * last read (maps/keys.h); the counters walker reads them too. */
#define MAP_DEF_ACTIVE_META()						\
	__uint(type, BPF_MAP_TYPE_ARRAY);				\
	__type(key, __u32);						\
	__type(value, struct fence_active_meta);			\
	__uint(max_entries, 1);						\
	__uint(map_flags, BPF_F_MMAPABLE)

#define MAP_DEF_ACTIVE_LOG(max)						\
	__uint(type, BPF_MAP_TYPE_ARRAY);				\
	__type(key, __u32);						\
	__type(value, struct fence_active_rec);				\
	__uint(max_entries, max);					\
	__uint(map_flags, BPF_F_MMAPABLE)

#endif
