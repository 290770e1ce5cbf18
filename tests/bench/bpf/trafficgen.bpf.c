// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bpf/trafficgen.bpf.c - the benchmark traffic generator's XDP side.
 *
 * Run with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES on a veth: every
 * repetition rewrites the template frame's source address (spread over
 * n_prefixes /24s above base_v4, or /64s above the 2001:db8:: base) and its
 * TCP flags (SYN for syn_pct percent, else ACK), then XDP_TX sends it to the
 * peer, where the program under test receives it. Never attached.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "parse.h"

const volatile __u32 n_prefixes = 256;
const volatile __u32 base_v4 = 0xc6120000;	/* 198.18.0.0, host order */
const volatile __u32 syn_pct = 10;
const volatile __u32 hosts = 254;		/* sources per prefix: .1 .. .hosts */

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	struct cursor c = { (void *)(long)ctx->data, (void *)(long)ctx->data_end };
	__u32 r = bpf_get_prandom_u32(), pfx = r % n_prefixes;
	struct tcphdr *th;
	int proto = parse_eth(&c);

	if (proto == ETH_P_IP) {
		struct iphdr *iph = c.pos;

		if ((void *)(iph + 1) > c.end || iph->ihl != 5)
			return XDP_ABORTED;
		iph->saddr = bpf_htonl(base_v4 + (pfx << 8) + 1 + (r >> 24) % hosts);
		/* a valid header checksum, or the stack drops the frame in ip_rcv
		 * before netfilter ever sees it (comparisons d and e) */
		{
			__u16 *w = (void *)iph;
			__u32 sum = 0;
			int i;

			iph->check = 0;
#pragma unroll
			for (i = 0; i < 10; i++)
				sum += w[i];
			sum = (sum & 0xffff) + (sum >> 16);
			sum = (sum & 0xffff) + (sum >> 16);
			iph->check = ~sum;
		}
		th = (void *)(iph + 1);
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6h = c.pos;

		if ((void *)(ip6h + 1) > c.end)
			return XDP_ABORTED;
		/* 2001:db8:db8:PFX::r; past 65536 prefixes the count carries
		 * into the third group, still inside 2001:db8::/32 */
		ip6h->saddr.in6_u.u6_addr32[1] = bpf_htonl(0x0db80000 + pfx);
		ip6h->saddr.in6_u.u6_addr32[3] = bpf_htonl(1 + (r >> 24) % hosts);
		th = (void *)(ip6h + 1);
	} else {
		return XDP_ABORTED;
	}
	if ((void *)(th + 1) > c.end)
		return XDP_ABORTED;
	th->syn = (r >> 8) % 100 < syn_pct;
	th->ack = !th->syn;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
