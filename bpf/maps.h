/* SPDX-License-Identifier: GPL-2.0 */
/* bpf/maps.h - the map definitions of the data path, all pinned by name.
 *
 * Sizes here are defaults; the controller resizes before load
 * (bpf_map__set_max_entries) or reuses what is already pinned. Maps that a
 * helper program declares too take their type, key, value and flags from
 * map_defs.h. Each pinned map's name is in FENCE_MAPS (maps/names.h).
 */
#ifndef XDPFENCE_BPF_MAPS_H
#define XDPFENCE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../maps/keys.h"
#include "../maps/stats.h"
#include "map_defs.h"

/* Per-reason packet/byte counters, summed over CPUs by the controller. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);		/* enum fence_stat */
	__type(value, struct fence_stat_val);
	__uint(max_entries, FENCE_STAT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

/* DIR-24-8 first level: one leaf per /24 of the IPv4 space, 16 per element. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_tbl24_line);
	__uint(max_entries, FENCE_TBL24_ENTRIES / FENCE_TBL24_LINE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tbl24 SEC(".maps");

/* DIR-24-8 second level: groups of 256 leaves for /25../31 detail. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_tbl8_group);
	__uint(max_entries, FENCE_TBL8_GROUPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tbl8 SEC(".maps");

/* Release time of each tbl8 group (controller only: quarantine before reuse). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_group_state);
	__uint(max_entries, FENCE_TBL8_GROUPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tbl8_state SEC(".maps");

/* Rule slots: action, expiry, throttle rate of every allow/deny entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_rule);
	__uint(max_entries, FENCE_RULES_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rules SEC(".maps");

/* Controller-side detail of each slot: prefix, owners, reason (not read here). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_rule_info);
	__uint(max_entries, FENCE_RULES_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rule_info SEC(".maps");

/* Packets, bytes and new connections each deny entry matched, per CPU;
 * a packet an entry drops is counted here and not per source prefix.
 * Flat, CPU by CPU (maps/keys.h): one allocation however many slots (a
 * per-CPU array allocates each element), sized CPUs x slots by the
 * controller. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_entry_counters);
	__uint(max_entries, FENCE_RULES_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} entry_hits SEC(".maps");

/* IPv4 /32 deny entries -> slot, probed under /24 leaves flagged HOST
 * (shorter denies are painted in tbl24/tbl8). Preallocated: see map_defs.h. */
struct {
	MAP_DEF_DENY_V4(FENCE_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} deny_v4 SEC(".maps");

/* The /32 deny entries again, in buckets probed before deny_v4 (maps/keys.h):
 * a mirror the controller writes through its mmap, sized with the slots. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_host_bucket);
	__uint(max_entries, FENCE_RULES_MAX / (FENCE_HOST_CELLS / 2) + 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} host_v4 SEC(".maps");

/* Every IPv4 allow prefix -> slot (inspection; allows are painted in tbl24/8). */
struct {
	MAP_DEF_ALLOW_V4(65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} allow_v4 SEC(".maps");

/* The IPv6 search table (maps/keys.h): keys and markers -> slot in force,
 * written by the controller through its mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_v6_ent);
	__uint(max_entries, FENCE_TBL6_DEFAULT);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tbl6 SEC(".maps");

/* How to search tbl6: hash seed, size, the prefix lengths present. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_v6_meta);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tbl6_meta SEC(".maps");

/* Per program instance, never pinned: this CPU's last IPv6 searches. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_v6_cached);
	__uint(max_entries, FENCE_V6_CACHE);
} v6_cache SEC(".maps");

/* Every IPv6 deny prefix -> slot: an LPM trie, as older builds' data path
 * searched it; kept for inspection and for a program of such a build still
 * attached. This data path searches tbl6. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct fence_v6_key);
	__type(value, struct fence_slot);
	__uint(max_entries, FENCE_V6_RULES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} deny_v6 SEC(".maps");

/* Every IPv6 allow prefix -> slot (LPM trie; likewise not searched here). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct fence_v6_key);
	__type(value, struct fence_slot);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} allow_v6 SEC(".maps");

/* Token buckets of throttled entries, created on first new connection. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct fence_bucket);
	__uint(max_entries, FENCE_THROTTLE_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} throttle SEC(".maps");

/* Per-source-prefix counters, IPv4; LRU (map_defs.h). */
struct {
	MAP_DEF_PREFIX_V4(FENCE_PREFIX_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} prefix_v4 SEC(".maps");

/* Per-source-prefix counters, IPv6; LRU (map_defs.h). */
struct {
	MAP_DEF_PREFIX_V6(FENCE_PREFIX_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} prefix_v6 SEC(".maps");

/* The epoch of the engine's reads and how much of active_log it took. */
struct {
	MAP_DEF_ACTIVE_META();
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} active_meta SEC(".maps");

/* Source prefixes counted since the engine's last read, in two halves of
 * active_meta.cap records (the controller sizes it to 2 x prefix entries). */
struct {
	MAP_DEF_ACTIVE_LOG(2 * FENCE_PREFIX_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} active_log SEC(".maps");

/* Controller records: feed names and sources, one per feed id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_feed);
	__uint(max_entries, FENCE_FEEDS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} feeds SEC(".maps");

/* How the pinned set was created (aggregation lengths, verdicts). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fence_meta);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meta SEC(".maps");

/* Per program instance, never pinned: the XDP program that was on the
 * interface before xdpfence, tail-called on XDP_PASS. Only used where
 * libxdp's dispatcher cannot load (kernels without BPF trampolines); the
 * controller fills it when it takes over an interface and puts the program
 * back on detach. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 1);
} chain SEC(".maps");

#endif
