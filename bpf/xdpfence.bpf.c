// SPDX-License-Identifier: GPL-2.0
/* bpf/xdpfence.bpf.c - the XDP filter: parse, allow, deny, throttle, count.
 *
 * Per packet, exactly the pipeline in DESIGN.md: bounded parse of what the
 * lookup needs (up to the source address); allowlist wins; the longest deny
 * entry that has not expired decides (drop, throttle new connections, or
 * monitor); the rest of the headers; a packet a drop entry drops is counted
 * on that entry and leaves; every other is counted per source prefix;
 * every packet once per reason on the way out. This file decides verdicts;
 * it never writes policy maps (rules, tables): only counters and throttle
 * buckets.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "parse.h"
#include "maps.h"
#include "lookup.h"
#include "stats.h"

/* Load-time settings, fixed by the controller before load. */
const volatile __u8 v4_agg_len = FENCE_V4_AGG_LEN_DEFAULT;	/* per-prefix counters: /len of IPv4 sources */
const volatile __u8 v6_agg_len = FENCE_V6_AGG_LEN_DEFAULT;	/* per-prefix counters: /len of IPv6 sources */
const volatile __u32 malformed_verdict = XDP_PASS;	/* frames we cannot judge */
const volatile __u8 count_prefixes = 1;	/* 0 disables prefix_v4/prefix_v6 */
const volatile __u8 count_hosts = 1;	/* 0 disables distinct hosts (benchmarks) */
const volatile __u32 entry_slots = FENCE_RULES_MAX;	/* slots: entry_hits holds CPUs x this */
const volatile __u64 pin_dir_id = 0;		/* the pin dir it was loaded for (a hash): never
						 * read here; tells the controller whose it is
						 * when that pin dir is gone */

/* libxdp dispatcher: run early, let the next program run after XDP_PASS. */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(xdpfence_prog);

/* An expired deny entry no longer bans: fall back to the next shorter deny
 * covering it (its parent), a bounded number of times. Sets *expired when an
 * expired entry was skipped. Returns the entry in force, or NULL.
 *
 * Time here is the coarse monotonic clock: same epoch as CLOCK_MONOTONIC, a
 * jiffy behind at most, and on a VM a fraction of the cost of a precise read.
 * A ban may outlive its TTL by up to a jiffy; only the throttle, which meters
 * rates, reads the precise one. */
static __always_inline struct fence_rule *resolve(__u32 *slot, __u64 *now, int *expired)
{
	struct fence_rule *r = rule_at(*slot);
	int i;

#pragma unroll
	for (i = 0; i <= FENCE_PARENT_DEPTH; i++) {
		if (!r || r->kind == FENCE_KIND_FREE)
			return NULL;
		if (r->kind != FENCE_KIND_DENY || !r->expires_ns)
			return r;
		if (!*now)
			*now = bpf_ktime_get_coarse_ns();
		if (r->expires_ns > *now)
			return r;
		*expired = 1;
		if (i == FENCE_PARENT_DEPTH)
			break;
		*slot = r->parent;
		r = rule_at(*slot);
	}
	return NULL;
}

/* GCRA on the entry's slot: true if one more new connection may pass. */
static __always_inline int throttle_admit(__u32 slot, const struct fence_rule *r)
{
	struct fence_bucket *b = bpf_map_lookup_elem(&throttle, &slot);
	__u64 interval, tat, now;
	int ok;

	if (!r->rate || !r->burst)
		return 0;
	if (!b) {
		struct fence_bucket fresh = {};

		bpf_map_update_elem(&throttle, &slot, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&throttle, &slot);
		if (!b)
			return 0;	/* no bucket to account against: fail closed */
	}
	interval = 1000000000ULL / r->rate;
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&b->lock);
	tat = b->tat_ns > now ? b->tat_ns : now;
	ok = tat - now <= (__u64)(r->burst - 1) * interval;
	if (ok)
		b->tat_ns = tat + interval;
	bpf_spin_unlock(&b->lock);
	return ok;
}

static __always_inline void count_prefix(const struct pkt_info *pi, __u64 bytes,
					 __u8 dropped, __u64 now)
{
	if (pi->family == 4) {
		struct fence_pfx_v4 k;
		__u32 mask = v4_agg_len ? ~0U << (32 - v4_agg_len) : 0;

		k.addr = pi->saddr4 & bpf_htonl(mask);
		pfx_count(&prefix_v4, &k, sizeof(k), pi, bytes, dropped, now);
	} else {
		struct fence_pfx_v6 k;
		__u32 w[4];
		int i;

		__builtin_memcpy(w, pi->saddr6, 16);
#pragma unroll
		for (i = 0; i < 4; i++) {
			int keep = (int)v6_agg_len - i * 32;
			__u32 mask = keep >= 32 ? ~0U : keep <= 0 ? 0 : ~0U << (32 - keep);

			w[i] &= bpf_htonl(mask);
		}
		__builtin_memcpy(k.addr, w, 16);
		pfx_count(&prefix_v6, &k, sizeof(k), pi, bytes, dropped, now);
	}
}

/* The long way, for every packet the short way below does not drop: the
 * whole pipeline. hint: FAST_V4 or FAST_V6 | slot when the short way parsed
 * the IP header and looked its source up already, else 0; hint_under, then,
 * what lookup_v4 gave beneath a /32. Counts the packet once per reason and
 * returns the verdict (the caller chains on XDP_PASS). */
#define FAST_V4 (1ULL << 32)
#define FAST_V6 (1ULL << 33)

__noinline int full_path(struct xdp_md *ctx, __u64 hint, __u32 hint_under)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	__u64 bytes = data_end - data, now = 0;
	__u32 reason = FENCE_STAT_PASS, verdict = XDP_PASS, slot, under = 0;
	struct pkt_info pi = {};
	struct fence_rule *r;
	__u32 err = 0;
	int proto, l4 = 0, expired = 0;
	__u8 dropped = 0, nh = 0;

	/* what the verdict needs: the source address */
	proto = parse_eth(&c);
	if (proto < 0) {
		reason = proto == -1 ? FENCE_STAT_ERR_ETH : FENCE_STAT_ERR_VLAN;
		verdict = malformed_verdict;
		goto out;
	}
	if (proto == ETH_P_IP) {
		proto = parse_ipv4(&c, &pi, &l4);
		if (proto < 0) {
			reason = FENCE_STAT_ERR_IPV4;
			verdict = malformed_verdict;
			goto out;
		}
		pi.family = 4;
		if (hint & FAST_V4) {
			slot = (__u32)hint;
			under = hint_under;
		} else {
			slot = lookup_v4(pi.saddr4, &under);
		}
	} else if (proto == ETH_P_IPV6) {
		if (parse_ipv6(&c, &pi, &nh) < 0) {
			reason = FENCE_STAT_ERR_IPV6;
			verdict = malformed_verdict;
			goto out;
		}
		pi.family = 6;
		slot = hint & FAST_V6 ? (__u32)hint : lookup_v6(pi.saddr6);
	} else {
		reason = FENCE_STAT_NON_IP;
		goto out;
	}
	r = resolve(&slot, &now, &expired);
	if (!r && under) {	/* an expired /32: what the table holds beneath it */
		slot = under;
		r = resolve(&slot, &now, &expired);
	}

	/* the rest of the headers, for counting and the throttle: a broken
	 * extension chain or L4 header still has a known source, so it is
	 * judged by it (seven extension headers are no way around a ban) */
	if (pi.family == 6) {
		proto = parse_ipv6_ext(&c, nh, &l4);
		if (proto < 0) {
			err = FENCE_STAT_ERR_IPV6_EXT;
			l4 = 0;
		}
	}
	if (l4 && parse_l4(&c, &pi, proto) < 0)
		err = FENCE_STAT_ERR_L4;

	if (r && r->kind == FENCE_KIND_DENY && r->action == FENCE_ACT_DROP) {
		/* dropped: counted on the entry, not per source prefix */
		entry_count(slot, bytes, pi.new_conn);
		reason = r->stat;
		verdict = XDP_DROP;
		goto out;
	}
	if (r && r->kind == FENCE_KIND_ALLOW) {
		reason = FENCE_STAT_ALLOW;
		goto count;
	}
	if (r) {
		entry_count(slot, bytes, pi.new_conn);
		if (r->action == FENCE_ACT_THROTTLE) {
			reason = FENCE_STAT_THROTTLE_PASS;
			if (pi.new_conn && !throttle_admit(slot, r)) {
				reason = FENCE_STAT_DROP_THROTTLE;
				verdict = XDP_DROP;
				dropped = 1;
			}
		} else {
			reason = FENCE_STAT_MONITOR;
		}
	} else if (expired) {
		reason = FENCE_STAT_EXPIRED_PASS;
	}
	if (!dropped && err) {
		reason = err;
		verdict = malformed_verdict;
	}
count:
	if (count_prefixes) {
		if (!now)
			now = bpf_ktime_get_coarse_ns();
		count_prefix(&pi, bytes, dropped, now);
	}
out:
	stat_count(reason, bytes);
	return verdict;
}

/* The short way, kept short because it is the way of a flood: a packet
 * whose source a drop entry in force covers is counted on that entry and
 * dropped here, its TCP or UDP header read only to count a new connection
 * (an IPv6 one with extension headers goes the long way). Everything else
 * goes the long way (full_path), with the lookup already done. */
SEC("xdp")
int xdpfence_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	struct pkt_info pi = {};
	struct fence_rule *r;
	__u64 hint = 0;
	__u32 slot, under = 0;
	int proto, l4 = 1, verdict;
	__u8 nh;

	proto = parse_plain_ipv4(&c, &pi, &l4);	/* the usual frame, at once */
	if (proto < 0) {
		proto = parse_eth(&c);
		if (proto == ETH_P_IPV6)
			goto v6;
		if (proto != ETH_P_IP)
			goto slow;
		proto = parse_ipv4(&c, &pi, &l4);
		if (proto < 0)
			goto slow;
	}
	slot = lookup_v4(pi.saddr4, &under);
	hint = FAST_V4 | slot;
	goto judge;
v6:
	if (parse_ipv6(&c, &pi, &nh) < 0)
		goto slow;
	slot = lookup_v6(pi.saddr6);
	hint = FAST_V6 | slot;
	proto = nh;
	if (nh != IPPROTO_TCP && nh != IPPROTO_UDP)
		goto slow;	/* extension headers: the long way counts them */
judge:
	r = rule_at(slot);
	if (!r || r->kind != FENCE_KIND_DENY || r->action != FENCE_ACT_DROP)
		goto slow;
	if (r->expires_ns && r->expires_ns <= bpf_ktime_get_coarse_ns())
		goto slow;	/* expired: its parent, or the table under a /32, may rule */
	if (l4)
		parse_l4(&c, &pi, proto);	/* a truncated one is still dropped */
	entry_count(slot, data_end - data, pi.new_conn);
	stat_count(r->stat, data_end - data);
	return XDP_DROP;
slow:
	verdict = full_path(ctx, hint, under);
	if (verdict == XDP_PASS)
		bpf_tail_call(ctx, &chain, 0);	/* falls through when empty */
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
