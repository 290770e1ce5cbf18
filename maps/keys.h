/* SPDX-License-Identifier: GPL-2.0 */
/* maps/keys.h - key and value structs of every pinned map; shared by bpf/ and user/.
 *
 * The layout here is ABI for maps pinned under the pin dir: a controller of a
 * newer build must still read maps pinned by an older one. Only fixed-width
 * types, padding spelled out, a size assert on every struct. Byte order is
 * noted on every address field. No libc, no kernel-only headers.
 *
 * IPv4 lookup is a DIR-24-8 table (as DPDK's rte_lpm): `tbl24` has one leaf per
 * /24; a leaf either names a rule slot directly or points at a 256-leaf group
 * in `tbl8` for /25../31 detail. /32 deny entries are not painted into tbl8
 * (a million scattered /32s would need a million groups): the tbl24 leaf of
 * their /24 carries FENCE_LEAF_HOST and the data path looks the address up in
 * the `deny_v4` hash. Allow and deny share the table: the controller paints
 * allow entries above all deny entries, so one lookup yields the verdict.
 */
#ifndef XDPFENCE_MAPS_KEYS_H
#define XDPFENCE_MAPS_KEYS_H

#include <linux/types.h>
#include <linux/bpf.h>		/* struct bpf_spin_lock */

#define FENCE_TBL24_ENTRIES	(1U << 24)	/* leaves: one per /24 */
#define FENCE_TBL24_LINE	16		/* leaves per tbl24 element (one cache line) */
#define FENCE_TBL8_GROUP	256		/* leaves per tbl8 element (one /24 in /32s) */
#define FENCE_TBL8_GROUPS	1024		/* tbl8 groups at first (1 MiB); they grow as needed */
#define FENCE_RULES_MAX		(1U << 16)	/* rule slots at first, shared by v4/v6, allow/deny;
						 * they grow as needed (core/grow.c) */
#define FENCE_PREFIX_MAX	(1U << 18)	/* default entries of each per-prefix LRU */
#define FENCE_V6_RULES_MAX	(1U << 16)	/* deny_v6 entries at first (no preallocation); grows */
#define FENCE_THROTTLE_MAX	65536		/* throttle buckets (one per throttled entry) */
#define FENCE_FEEDS_MAX		32		/* feed ids 0..31: one bit each in fence_rule_info.feeds */
#define FENCE_V6_EXT_MAX	6		/* IPv6 extension headers walked before giving up */
#define FENCE_VLAN_MAX		2		/* 802.1Q / 802.1ad tags */
#define FENCE_PARENT_DEPTH	4		/* expired entries skipped per lookup */
#define FENCE_V4_AGG_LEN_DEFAULT 24		/* per-prefix counters: default /len of IPv4 sources */
#define FENCE_V6_AGG_LEN_DEFAULT 64		/* per-prefix counters: default /len of IPv6 sources */

/* tbl24/tbl8 leaf: a __u32 written atomically by the controller. */
#define FENCE_LEAF_EXT		(1U << 31)	/* tbl24 only: low bits are a tbl8 group */
#define FENCE_LEAF_HOST		(1U << 30)	/* tbl24 only: /32 denies exist in this /24 */
#define FENCE_LEAF_IDX		((1U << 30) - 1)	/* rule slot (0 = none) or group */

/* Array maps store elements at an 8-byte stride, so a __u32 leaf per
 * element would waste half the table: tbl24 elements are lines of 16 leaves,
 * tbl8 elements are whole groups. Seen through mmap both are plain __u32
 * arrays, leaf i of tbl24 at index i. */
struct fence_tbl24_line {
	__u32 leaf[FENCE_TBL24_LINE];
};
_Static_assert(sizeof(struct fence_tbl24_line) == 64, "fence_tbl24_line ABI");

struct fence_tbl8_group {
	__u32 leaf[FENCE_TBL8_GROUP];
};
_Static_assert(sizeof(struct fence_tbl8_group) == 1024, "fence_tbl8_group ABI");

/* `host_v4`: the /32 deny entries again, as the data path reads them
 * fastest: an mmap-able array of buckets of FENCE_HOST_CELLS cells, a cell
 * being a /32's address (low half, network byte order as loaded) and its
 * slot (high half), one 8-byte word, written and read whole. Element 0 is
 * the header: cell[0] is how many buckets follow (a power of two; 0 = the
 * controller has not filled them yet, and then nothing is read there);
 * cell[1] is 1 while cells from before a wipe may be left (the controller's
 * alone: its next fill clears every cell first). An address's bucket is
 * element fence_host_index(addr, buckets).
 *
 * A mirror, never the truth: deny_v4 is. A cell names a /32 only while
 * deny_v4 holds the same key with the same slot (the controller puts a cell
 * after the key and clears it before the key goes); a /32 missing from its
 * bucket (full, or not filled yet) is found in deny_v4 as before. So an
 * address found in a cell is banned by that slot, and one not found is
 * looked up in deny_v4: a stale cell could only ever be a missing one. */
#define FENCE_HOST_CELLS	8
struct fence_host_bucket {
	__u64 cell[FENCE_HOST_CELLS];	/* (__u64)slot << 32 | addr; 0 = free */
};
_Static_assert(sizeof(struct fence_host_bucket) == 64, "fence_host_bucket ABI");

/* Buckets for a table of `slots` rule slots: two cells a slot, so a bucket
 * fills up only when far more than its share of /32s land in it. */
static inline __u32 fence_host_buckets(__u32 slots)
{
	__u32 want = slots / (FENCE_HOST_CELLS / 2), b = 1;

	while (b < want && b < (1U << 28))
		b <<= 1;
	return b;
}

/* The element of host_v4 holding the bucket of addr (as loaded: network
 * byte order) in a table of `buckets` buckets (a power of two). */
static inline __u32 fence_host_index(__u32 addr, __u32 buckets)
{
	return 1 + ((__u32)(((__u64)addr * 0x9e3779b97f4a7c15ULL) >> 32) & (buckets - 1));
}

/* Key of deny_v4/allow_v4 (hash, exact prefix) and of the data path's /32 probe. */
struct fence_v4_key {
	__u32 prefixlen;
	__be32 addr;			/* network byte order, host bits zero */
};
_Static_assert(sizeof(struct fence_v4_key) == 8, "fence_v4_key ABI");

/* Key of deny_v6/allow_v6 (LPM tries: prefixlen must come first). */
struct fence_v6_key {
	__u32 prefixlen;
	__u8 addr[16];			/* network byte order, host bits zero */
};
_Static_assert(sizeof(struct fence_v6_key) == 20, "fence_v6_key ABI");

/* Value of deny_v4/allow_v4/deny_v6/allow_v6: where the entry lives in `rules`. */
struct fence_slot {
	__u32 slot;
};
_Static_assert(sizeof(struct fence_slot) == 4, "fence_slot ABI");

enum fence_kind {
	FENCE_KIND_FREE = 0,		/* unused slot (or freed, see fence_rule_info.freed_ns) */
	FENCE_KIND_ALLOW,
	FENCE_KIND_DENY,
};

enum fence_action {
	FENCE_ACT_DROP = 0,		/* drop every packet from the prefix */
	FENCE_ACT_THROTTLE,		/* drop new connections beyond rate/burst */
	FENCE_ACT_MONITOR,		/* count as would-drop, pass */
	FENCE_ACT_MAX
};

/* `rules` array, indexed by slot: what the data path needs of an entry.
 * Written by the controller field by field in an order that keeps every
 * intermediate state a valid policy (rate/burst before action, action
 * before kind); a slot is never reused within FENCE_QUARANTINE_NS of being
 * freed so a reader holding an old leaf never sees someone else's entry. */
struct fence_rule {
	__u64 expires_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0 = never */
	__u32 parent;			/* slot of the next shorter deny covering this one,
					 * used when this one has expired; 0 = none */
	__u32 rate;			/* throttle: new connections per second */
	__u32 burst;			/* throttle: bucket depth (connections) */
	__u8 kind;			/* enum fence_kind */
	__u8 action;			/* enum fence_action */
	__u8 stat;			/* enum fence_stat counted when this entry drops */
	__u8 family;			/* 4 or 6 */
};
_Static_assert(sizeof(struct fence_rule) == 24, "fence_rule ABI");

#define FENCE_QUARANTINE_NS	(2ULL * 1000000000ULL)

enum fence_owner {
	FENCE_OWN_MANUAL = 1 << 0,	/* `xdpfence ban add` */
	FENCE_OWN_PROMOTED = 1 << 1,	/* behaviour engine */
	FENCE_OWN_FEED = 1 << 2,	/* at least one bit in feeds */
	FENCE_OWN_FLEET = 1 << 3,	/* another gateway's ban, from the fleet bucket
					 * (`xdpfence run`, [fleet]): its term is the
					 * engine's, promoted_action/promoted_expires_ns,
					 * which then holds the later and stronger of this
					 * gateway's promotion and the fleet's; reason
					 * starts "@ORIGIN " when the fleet's text is kept */
};

/* `rule_info` array, indexed by slot: what only the controller reads. */
struct fence_rule_info {
	__u8 addr[16];			/* network byte order; IPv4 in addr[0..3] */
	__u8 prefixlen;
	__u8 family;			/* 4 or 6 */
	__u8 owners;			/* enum fence_owner bits */
	__u8 manual_action;		/* enum fence_action of each owner class */
	__u8 promoted_action;
	__u8 feed_action;
	__u16 offences;			/* promotions of this prefix so far */
	__u32 feeds;			/* bit n = feed id n (see `feeds` map) */
	__u32 rule_id;			/* promoted: index of the behaviour rule */
	__u64 created_unix;		/* wall clock, seconds */
	__u64 manual_expires_ns;	/* CLOCK_MONOTONIC, 0 = never */
	__u64 promoted_expires_ns;
	__u64 feed_expires_ns;
	__u64 freed_ns;			/* CLOCK_MONOTONIC time the slot was freed */
	__u32 rate;			/* throttle parameters as requested */
	__u32 burst;
	char reason[48];		/* operator text or promoting rule name */
};
_Static_assert(sizeof(struct fence_rule_info) == 128, "fence_rule_info ABI");

/* `tbl8_state` array, one per tbl8 group: when it was last released. */
struct fence_group_state {
	__u64 freed_ns;			/* CLOCK_MONOTONIC; 0 = never used or in use */
};
_Static_assert(sizeof(struct fence_group_state) == 8, "fence_group_state ABI");

/* `throttle` hash value, key = rule slot. GCRA: the bucket holds the
 * theoretical arrival time; a new connection at now passes if
 * tat - now <= (burst - 1) * interval, and moves tat one interval on. */
struct fence_bucket {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 tat_ns;			/* CLOCK_MONOTONIC */
};
_Static_assert(sizeof(struct fence_bucket) == 16, "fence_bucket ABI");

/* IPv6 lookup: `tbl6`, an open-addressing hash table in an mmap-able array
 * that the controller writes directly, searched by binary search on the
 * prefix lengths present (Waldvogel, Varghese, Turner, Plattner, "Scalable
 * high speed IP routing lookups", SIGCOMM 1997). Each key is a length and
 * an address masked to it; it is an entry's own prefix, a marker that
 * sends the search towards longer prefixes below it, or both. Every key
 * carries the slot in force for the addresses under it as far as its
 * length reaches (best matching prefix: an allow covering it if any, else
 * the longest deny), so the search answers with the last key it found. */
#define FENCE_V6_LENS_MAX	129		/* prefix lengths 0..128 */
#define FENCE_V6_SEARCH_STEPS	8		/* binary search over <= 129 lengths */
#define FENCE_V6_PROBES		32		/* positions a key may lie past its home */
#define FENCE_TBL6_DEFAULT	(1U << 20)	/* default tbl6 positions (power of two) */

enum fence_v6_state {
	FENCE_V6_EMPTY = 0,		/* never used: a probe stops here */
	FENCE_V6_LIVE,			/* a key */
	FENCE_V6_DEAD,			/* was a key; probes go on; reused after quarantine */
};

/* `tbl6` element, written by the controller only: the key fields first,
 * then state (a reader checks state before the key); a position is reused
 * only FENCE_QUARANTINE_NS after it died, so a reader holding it never sees
 * another key there. */
struct fence_v6_ent {
	__u64 hi;			/* address bits 0..63, host byte order, masked to len */
	__u64 lo;			/* address bits 64..127, likewise */
	__u32 slot;			/* rule slot in force under this key, 0 = none */
	__u8 len;
	__u8 state;			/* enum fence_v6_state */
	__u8 pad[2];
	union {				/* the controller's alone; the data path never reads it */
		struct {
			__u32 deny;	/* LIVE: the deny entry whose own prefix this is, 0 = none */
			__u32 allow;	/* LIVE: likewise, the allow entry */
		};
		__u64 freed_ns;		/* DEAD: CLOCK_MONOTONIC it died */
	};
};
_Static_assert(sizeof(struct fence_v6_ent) == 32, "fence_v6_ent ABI");

/* A step of the search: a length present, as a node of the binary search
 * tree over them (a hit goes to the longer half, a miss to the shorter),
 * with the masks of the length so that a probe computes none. */
struct fence_v6_node {
	__u64 mask_hi;			/* address bits 0..63 of a /len */
	__u64 mask_lo;			/* bits 64..127 */
	__u64 salt;			/* seed ^ len: what the home hashes besides the address */
	__u8 len;
	__u8 hit;			/* next node after a hit, FENCE_V6_NONE: done */
	__u8 miss;			/* next node after a miss, likewise */
	__u8 pad[5];
};
_Static_assert(sizeof(struct fence_v6_node) == 32, "fence_v6_node ABI");
#define FENCE_V6_NONE		0xff

/* `tbl6_meta` array, one element: how to search tbl6. Two trees of the
 * lengths present; the controller writes the one not in use and then
 * switches `active`, so a reader never sees a tree half written. */
struct fence_v6_meta {
	__u32 active;			/* tree active & 1 is searched */
	__u32 mask;			/* tbl6 positions - 1 */
	__u64 seed;			/* hash seed, chosen when the set is made */
	__u32 gen;			/* bumped by each write to tbl6 or the trees (>= 1) */
	__u8 bits;			/* log2 of tbl6's positions */
	__u8 shift;			/* 64 - bits */
	__u8 root[2];			/* first node of each tree, FENCE_V6_NONE: empty */
	__u8 n[2];			/* lengths in each tree */
	__u8 keyed;			/* 1: the low 64 bits of a key hash under the seed
					 * (fence_v6_lo_mul); 0: a table made before layout 5,
					 * under a fixed multiplier */
	__u8 pad[5];
	struct fence_v6_node node[2][FENCE_V6_LENS_MAX];	/* by rank of length */
};
_Static_assert(sizeof(struct fence_v6_meta) == 8288, "fence_v6_meta ABI");

/* What a program remembers of its last searches, per CPU, in a small
 * direct-mapped cache of its own (never pinned): a source address, the
 * slot the search gave and the tbl6_meta.gen it was searched under; any
 * later write to the table makes it stale. A flood repeats its sources. */
#define FENCE_V6_CACHE		4096
struct fence_v6_cached {
	__u64 hi, lo;			/* the source address, host byte order */
	__u32 gen;			/* 0: empty */
	__u32 slot;
};
_Static_assert(sizeof(struct fence_v6_cached) == 24, "fence_v6_cached layout");

/* Home position of a tbl6 key: multiplicative hashing, the top `64 -
 * shift` bits of the product (the masked-off low address bits are zero, so
 * the high ones must decide); salt is the table's seed ^ the key's length,
 * lo_mul what the low 64 bits are multiplied by (fence_v6_lo_mul). The same
 * function on both sides of the ABI. */
static inline __u64 fence_v6_home(__u64 hi, __u64 lo, __u64 salt, __u64 lo_mul, __u32 shift)
{
	return ((hi ^ salt) * 0x9e3779b97f4a7c15ULL ^ lo * lo_mul) >> shift;
}

/* The multiplier of a key's low 64 bits. Keyed (layout 5 on): the seed,
 * odd, so that which keys inside one /64 share a home changes with the
 * seed (multiply-shift hashing under a random odd multiplier). A table
 * made before layout 5 keeps its fixed one (a program of that build may
 * still search it): under it, /65../128 keys chosen inside one /64 share
 * a home under every seed, until a growth makes the table anew, keyed. */
static inline __u64 fence_v6_lo_mul(__u8 keyed, __u64 seed)
{
	return keyed ? seed | 1 : 0xc2b2ae3d27d4eb4fULL;
}

/* `entry_hits`: the packets each deny entry matched (any action), per
 * CPU, in one flat array: the element of slot s on CPU c is at index
 * c * slots + s (slots: the size of `rules`), so each CPU counts in a
 * block of its own. A packet an entry drops is counted here and not per
 * source prefix: that is what the engine reads to extend a promoted ban,
 * and `top` and `ban list` to show drops. Reset when a slot is reused. */
struct fence_entry_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;		/* TCP SYN without ACK, QUIC Initial */
};
_Static_assert(sizeof(struct fence_entry_counters) == 24, "fence_entry_counters ABI");

/* Per-source-prefix counters: keys of prefix_v4 / prefix_v6 (LRU per-CPU). */
struct fence_pfx_v4 {
	__be32 addr;			/* source address masked to the v4 aggregation length */
};
_Static_assert(sizeof(struct fence_pfx_v4) == 4, "fence_pfx_v4 ABI");

struct fence_pfx_v6 {
	__u8 addr[16];			/* source address masked to the v6 aggregation length */
};
_Static_assert(sizeof(struct fence_pfx_v6) == 16, "fence_pfx_v6 ABI");

/* Distinct hosts that open connections, per prefix, by epoch: 2^32 ns
 * (about 4.3 s) of CLOCK_MONOTONIC each. hosts[0] is of epoch host_epoch,
 * hosts[1] of the one before (zero if this CPU saw none then); a new epoch
 * shifts them, so user space never resets anything. 256 bits each. IPv4:
 * bit i is the host whose last byte is i (exact for a /24 and longer; for a
 * shorter prefix, hosts that share a last byte count once). IPv6: bit
 * fence_host_bit(address), for linear counting (an estimate, user space's).
 * Only packets that open a connection touch them. Per CPU: user space ORs
 * them over CPUs (user/core/counters.c). */
#define FENCE_HOST_EPOCH_SHIFT	32

struct fence_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;		/* TCP SYN without ACK, QUIC Initial */
	__u64 drops;			/* new connections a throttle dropped (what a drop entry
					 * drops is counted on the entry: entry_counters) */
	__u64 last_seen_ns;		/* CLOCK_MONOTONIC (coarse) of the last packet on this
					 * CPU; never before the start of the epoch it was
					 * counted in (see fence_active_meta) */
	__u32 host_epoch;		/* CLOCK_MONOTONIC >> FENCE_HOST_EPOCH_SHIFT of hosts[0] */
	__u32 pad;
	__u64 hosts[2][4];		/* this epoch's bits, the one before's */
};
_Static_assert(sizeof(struct fence_counters) == 112, "fence_counters ABI");

/* IPv6 hosts: the bit of an address (hi, lo: its two halves as loaded):
 * the top 8 bits of a multiplicative hash, one multiply. */
static inline __u32 fence_host_bit(__u64 hi, __u64 lo)
{
	return (__u32)(((hi + lo) * 0x9e3779b97f4a7c15ULL) >> 56);
}

/* What bpf/counters.bpf.c writes per prefix for the controller (never
 * pinned): the prefix and one CPU's counters, without the host sets, which
 * most prefixes have none of lately: the hot part of fence_counters, one
 * cache line. The walker keeps a region and its results for CPUs
 * 0..FENCE_WALK_CPUS_MAX-1; on a machine with more possible CPUs the
 * controller reads by batch lookups instead. */
#define FENCE_WALK_CPUS_MAX	64
struct fence_walk_rec {
	__u8 family;			/* 4 or 6 */
	__u8 hosts;			/* 1: this CPU marked hosts in the host epoch the
					 * reader asked from (walk_hosts_from) or later:
					 * its host sets are in the hosts region at the same
					 * index; 0: they are of no use (not written) */
	__u8 pad[2];
	__u32 host_epoch;		/* fence_counters.host_epoch, when hosts */
	__u8 addr[16];			/* the key of prefix_v4 (addr[0..3]) or prefix_v6 */
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;
	__u64 drops;
	__u64 last_seen_ns;
};
_Static_assert(sizeof(struct fence_walk_rec) == 64, "fence_walk_rec layout");

/* The host sets of a fence_walk_rec whose hosts is 1 (fence_counters.hosts). */
struct fence_walk_hosts {
	__u64 hosts[2][4];
};
_Static_assert(sizeof(struct fence_walk_hosts) == 64, "fence_walk_hosts layout");

/* What changed since the engine's last read: the data path logs a source
 * prefix in `active_log` the first time it counts it in an epoch (its
 * counters' last_seen_ns, on the CPU counting it, is before the epoch's
 * start), so the engine reads the counters of those prefixes alone, not
 * every prefix the maps hold. `active_meta` says the epoch; the engine
 * starts a new one at each read and reads the log of the one that ended.
 * Nothing is logged while no engine ever started one (epoch 0). */
struct fence_active_meta {
	__u64 epoch;			/* start (CLOCK_MONOTONIC_COARSE, after every
					 * last_seen_ns written before it), bit 0: which
					 * half of active_log this epoch fills */
	__u32 n[2];			/* records each half took (more than cap: overflowed) */
	__u32 cap;			/* records in each half */
	__u32 pad;
};
_Static_assert(sizeof(struct fence_active_meta) == 24, "fence_active_meta ABI");

/* `active_log` element: half h's record i is element h * cap + i. mark is
 * written last: a record is the epoch's only when its mark is the epoch
 * (one that does not is not written yet, or left from an earlier epoch), so
 * nobody ever has to empty a half. */
struct fence_active_rec {
	__u64 mark;			/* fence_active_meta.epoch it was logged in */
	__u8 family;			/* 4 or 6 */
	__u8 pad[7];
	__u8 addr[16];			/* the key of prefix_v4 (addr[0..3]) or prefix_v6 */
};
_Static_assert(sizeof(struct fence_active_rec) == 32, "fence_active_rec ABI");

/* Not a map: each CPU's share of the prefixes bpf/counters.bpf.c's
 * counters_sum adds up (its global sum_arg[cpu]). */
struct fence_sum_arg {
	__u32 start, n;
};
_Static_assert(sizeof(struct fence_sum_arg) == 8, "fence_sum_arg layout");

/* Not a map: the context the controller passes to bpf/keyload.bpf.c with
 * BPF_PROG_TEST_RUN. keys/vals are the caller's arrays (struct
 * fence_v4_key, struct fence_slot), n a multiple of FENCE_KEYLOAD_CHUNK. */
#define FENCE_KEYLOAD_CHUNK	32
enum { FENCE_KEYLOAD_DENY_V4, FENCE_KEYLOAD_ALLOW_V4 };
struct fence_keyload {
	__u64 keys;			/* user address */
	__u64 vals;			/* user address; 0: delete the keys */
	__u32 n;
	__u32 map;			/* FENCE_KEYLOAD_* */
	__u32 done;			/* out: keys put or deleted (or found gone) */
	__s32 err;			/* out: the first error, 0 if none */
};
_Static_assert(sizeof(struct fence_keyload) == 32, "fence_keyload ABI");

/* `feeds` array, indexed by feed id: the controller's record of each feed. */
struct fence_feed {
	char name[32];			/* "" = id unused */
	char source[192];		/* file path or URL of the last load */
	char etag[96];			/* HTTP ETag of the last load */
	char last_modified[40];		/* HTTP Last-Modified of the last load */
	__u64 loaded_unix;		/* wall clock of the last successful load */
	__u64 ttl_s;			/* default lifetime of entries, 0 = until removed */
	__u32 entries;			/* prefixes owned after the last load */
	__u8 action;			/* enum fence_action */
	__u8 min_len_v4;		/* guardrail: shortest prefix accepted */
	__u8 min_len_v6;
	__u8 format;			/* enum feed_format of the last load */
};
_Static_assert(sizeof(struct fence_feed) == 384, "fence_feed ABI");

/* `meta` array, one entry: how the pinned maps were created. */
#define FENCE_META_MAGIC	0x78647066656e6365ULL	/* "xdpfence" */
#define FENCE_META_VERSION	6	/* 6: host_v4 mirrors the /32 denies (a writer
					 * that did not keep it would leave stale cells);
					 * 5: tbl6 may be keyed (fence_v6_meta.keyed);
					 * 4: entry counters in the flat entry_hits; 3: IPv6
					 * searched in tbl6, drops counted per entry
					 * (entry_counters, per-CPU); 2: deny_v4 keys /32
					 * denies only (1: every IPv4 deny) */

struct fence_meta {
	__u64 magic;
	__u32 version;
	__u8 v4_agg_len;		/* per-prefix counters aggregate sources to /len */
	__u8 v6_agg_len;
	__u8 malformed_verdict;		/* XDP_PASS or XDP_DROP for unparseable frames */
	__u8 writing;			/* 1 while a commit writes the tables: a writer that
					 * finds it set (its predecessor died half way)
					 * repaints the whole IPv4 table */
};
_Static_assert(sizeof(struct fence_meta) == 16, "fence_meta ABI");

/* The table writer's own bookkeeping, pinned beside the data path's maps
 * (never read by it; created by the controller, not by the BPF object), so
 * that a command that changes one entry touches a few pages instead of
 * scanning every slot: the index of entries by prefix, the free slots and
 * groups, the live counts. A writer that dies half way leaves it stale;
 * the repair that follows rebuilds it from the slots (valid = 0 until). */
#define FENCE_STORE_MAGIC	0x78667374726b6970ULL
#define FENCE_STORE_VERSION	2	/* 2: tbl_hosts kept */

struct fence_store {
	__u64 magic;
	__u32 version;
	__u32 valid;			/* 1: in line with rules, rule_info, tbl24, tbl8 */
	__u32 n_slots;			/* sizes it was built for */
	__u32 n_groups;
	__u32 index_cells;		/* cells of tbl_index (a power of two) */
	__u32 slot_hwm;			/* slots >= this were never used */
	__u32 group_hwm;		/* tbl8 groups >= this were never used */
	__u32 free_head, free_n;	/* tbl_free: a ring of freed slots, oldest first */
	__u32 gfree_head, gfree_n;	/* tbl_gfree: a ring of freed groups, oldest first */
	__u32 live[2][3];		/* live entries [IPv6][enum fence_kind] */
	__u32 pad;
};
_Static_assert(sizeof(struct fence_store) == 80, "fence_store ABI");

/* tbl_limits, one element: what the operator allows the tables to grow to. */
struct fence_limits {
	__u64 memory;			/* bytes of kernel memory, all maps together; 0 = no limit */
	__u64 reserved[3];
};
_Static_assert(sizeof(struct fence_limits) == 32, "fence_limits ABI");

/* tbl_hosts: how many IPv4 /32 denies each /24 holds, a byte per /24
 * (FENCE_HOSTS_PER_ELEM to an element, the /24 x at element x / 8, byte
 * x % 8), 255 meaning 255 or more: a commit that removes a /32 clears its
 * /24's HOST flag when none is left without looking for the others. */
#define FENCE_HOSTS_PER_ELEM	8
#define FENCE_HOSTS_MANY	255

/* A cell of tbl_index: the entry key's 32-bit hash (high half) and its
 * slot (low half); 0 = empty. Open addressing, linear probing. */
typedef __u64 fence_index_cell;

#endif
