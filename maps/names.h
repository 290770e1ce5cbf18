/* SPDX-License-Identifier: GPL-2.0 */
/* maps/names.h - names under the pin dir; the operator-facing contract.
 *
 * FENCE_MAPS is the one list of the pinned maps: X(ID, name) for each. The
 * name is the map's variable in bpf/maps.h (libbpf pins a map under its
 * name) and so its file under the pin dir; the controller makes its map ids
 * (FM_ID) and its table of names from this list, and does not build if a
 * name here is not a map of bpf/maps.h. Names are a contract with
 * operators: add, never rename (`rule_hits`, layout 2 and before, and
 * `entry_counters`, layout 3, per-CPU arrays, are superseded by the flat
 * `entry_hits`: a set upgraded in place keeps them pinned, unused). The order is the controller's own, not ABI.
 * Each map is described where bpf/maps.h defines it.
 */
#ifndef XDPFENCE_MAPS_NAMES_H
#define XDPFENCE_MAPS_NAMES_H

/* The filter's XDP program, as the kernel names it (bpf_prog_info.name). */
#define FENCE_PROG_NAME		"xdpfence_prog"

#define FENCE_PIN_DIR_DEFAULT	"/sys/fs/bpf/xdpfence"

#define FENCE_MAPS(X)			\
	X(STATS, stats)			\
	X(TBL24, tbl24)			\
	X(TBL8, tbl8)			\
	X(TBL8_STATE, tbl8_state)	\
	X(RULES, rules)			\
	X(RULE_INFO, rule_info)		\
	X(ENTRY_HITS, entry_hits)	\
	X(DENY_V4, deny_v4)		\
	X(ALLOW_V4, allow_v4)		\
	X(DENY_V6, deny_v6)		\
	X(ALLOW_V6, allow_v6)		\
	X(THROTTLE, throttle)		\
	X(PREFIX_V4, prefix_v4)		\
	X(PREFIX_V6, prefix_v6)		\
	X(FEEDS, feeds)			\
	X(META, meta)			\
	X(TBL6, tbl6)			\
	X(TBL6_META, tbl6_meta)		\
	X(ACTIVE_META, active_meta)	\
	X(ACTIVE_LOG, active_log)	\
	X(HOST_V4, host_v4)

/* The table writer's bookkeeping (struct fence_store in keys.h), pinned
 * under the same pin dir but made by the controller, not by the BPF
 * object: X(ID, name). */
#define FENCE_STORE_MAPS(X)	\
	X(INDEX, tbl_index)	\
	X(STORE, tbl_store)	\
	X(FREE, tbl_free)	\
	X(GFREE, tbl_gfree)	\
	X(LIMITS, tbl_limits)	\
	X(HOSTS, tbl_hosts)

#endif
