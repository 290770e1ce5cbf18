/* maps/names.h - names under the pin dir; the operator-facing contract. */
#ifndef XDPFENCE_MAPS_NAMES_H
#define XDPFENCE_MAPS_NAMES_H

#define FENCE_PIN_DIR_DEFAULT	"/sys/fs/bpf/xdpfence"

#define FENCE_MAP_STATS		"stats"
#define FENCE_MAP_DENY_V4	"deny_v4"
#define FENCE_MAP_ALLOW_V4	"allow_v4"
#define FENCE_MAP_DENY_V6	"deny_v6"
#define FENCE_MAP_ALLOW_V6	"allow_v6"
#define FENCE_MAP_PREFIX_V4	"prefix_v4"
#define FENCE_MAP_PREFIX_V6	"prefix_v6"
#define FENCE_MAP_RULES		"rules"
#define FENCE_MAP_RULE_INFO	"rule_info"
#define FENCE_MAP_RULE_HITS	"rule_hits"
#define FENCE_MAP_TBL24		"tbl24"
#define FENCE_MAP_TBL8		"tbl8"
#define FENCE_MAP_TBL8_STATE	"tbl8_state"
#define FENCE_MAP_THROTTLE	"throttle"
#define FENCE_MAP_FEEDS		"feeds"
#define FENCE_MAP_META		"meta"

#endif
