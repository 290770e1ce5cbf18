/* SPDX-License-Identifier: GPL-2.0 */
/* bpf/parse.h - bounded header parsers for the XDP data path.
 *
 * One static __always_inline helper per header: it takes the cursor, checks
 * that the whole header lies before data_end, advances the cursor and returns
 * the next protocol, or -1 when the header is truncated or malformed. Nothing
 * here looks at maps or decides a verdict.
 */
#ifndef XDPFENCE_BPF_PARSE_H
#define XDPFENCE_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../maps/keys.h"

#define IP_OFFSET_MASK 0x1fff		/* fragment offset bits of frag_off */

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

struct cursor {
	void *pos;
	void *end;
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;			/* encapsulated EtherType */
};

/* What the parser learned about one packet. */
struct pkt_info {
	__u8 family;			/* 0 = not IP, 4, 6 */
	__u8 l4_proto;			/* IPPROTO_TCP/UDP when l4 was parsed, else 0 */
	__u8 new_conn;			/* TCP SYN without ACK, or QUIC Initial */
	__u8 l4_err;			/* first fragment / unfragmented, L4 truncated */
	__be32 saddr4;
	__u8 saddr6[16];
};

/* struct ethhdr is packed, so the compiler reads its h_proto a byte at a
 * time; this one is not (XDP frames start 2-byte aligned at least). */
struct eth_hdr {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
};

static __always_inline int parse_eth(struct cursor *c)
{
	struct eth_hdr *eth = c->pos;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	proto = eth->proto;

	/* Up to FENCE_VLAN_MAX tags (QinQ: 802.1ad outer, 802.1Q inner). A
	 * third tag is reported as an error rather than passed as non-IP so an
	 * extra tag cannot be used to walk around the filter. */
#pragma unroll
	for (i = 0; i < FENCE_VLAN_MAX + 1; i++) {
		struct vlan_tag *vh = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			return bpf_ntohs(proto);
		if (i == FENCE_VLAN_MAX)
			return -2;
		if ((void *)(vh + 1) > c->end)
			return -2;
		c->pos = vh + 1;
		proto = vh->proto;
	}
	return -2;
}

/* Returns the L4 protocol, or -1. *l4 is set to 0 for non-first fragments:
 * their payload is the middle of someone's datagram, not a header. */
static __always_inline int parse_ipv4(struct cursor *c, struct pkt_info *pi, int *l4)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end || iph->version != 4 || iph->ihl < 5)
		return -1;
	hlen = iph->ihl * 4;
	if (c->pos + hlen > c->end)
		return -1;
	c->pos += hlen;
	pi->saddr4 = iph->saddr;
	*l4 = !(iph->frag_off & bpf_htons(IP_OFFSET_MASK));
	return iph->protocol;
}

/* The usual frame at once: untagged, IPv4 without options (its first
 * byte 0x45), with one bound check and no loop. The same as parse_eth and
 * then parse_ipv4 give for it; -1 for any other frame, which those two
 * then read (the cursor is left where it was). */
static __always_inline int parse_plain_ipv4(struct cursor *c, struct pkt_info *pi, int *l4)
{
	struct eth_hdr *eth = c->pos;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > c->end || eth->proto != bpf_htons(ETH_P_IP) ||
	    *(__u8 *)iph != 0x45)
		return -1;
	c->pos = iph + 1;
	pi->saddr4 = iph->saddr;
	*l4 = !(iph->frag_off & bpf_htons(IP_OFFSET_MASK));
	return iph->protocol;
}

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;			/* 8-octet units beyond the first 8 (not for fragment) */
	__be16 frag_off;		/* fragment header: offset << 3 | M */
	__be32 id;
};

/* The fixed header: the source, and the first next header in *nh.
 * Returns 0, or -1 when it is truncated or not IPv6. */
static __always_inline int parse_ipv6(struct cursor *c, struct pkt_info *pi, __u8 *nh)
{
	struct ipv6hdr *ip6h = c->pos;

	if ((void *)(ip6h + 1) > c->end || ip6h->version != 6)
		return -1;
	c->pos = ip6h + 1;
	__builtin_memcpy(pi->saddr6, &ip6h->saddr, 16);
	*nh = ip6h->nexthdr;
	return 0;
}

/* Walks at most FENCE_V6_EXT_MAX extension headers from nh. Returns the
 * upper-layer protocol, or -2 on a truncated or excess extension header.
 * *l4 is set to 0 for a fragment other than the first. */
static __always_inline int parse_ipv6_ext(struct cursor *c, __u8 nh, int *l4)
{
	int i;

	*l4 = 1;
#pragma unroll
	for (i = 0; i < FENCE_V6_EXT_MAX + 1; i++) {
		struct ipv6_ext *eh = c->pos;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_FRAGMENT:
			break;
		default:
			return nh;
		}
		if (i == FENCE_V6_EXT_MAX)
			return -2;
		/* Every one of the four starts with 8 octets we may read. */
		if ((void *)eh + 8 > c->end)
			return -2;
		if (nh == IPPROTO_FRAGMENT) {
			if (eh->frag_off & bpf_htons(0xfff8))
				*l4 = 0;	/* not the first fragment */
			c->pos = (void *)eh + 8;
		} else {
			__u32 len = ((__u32)eh->hdrlen + 1) * 8;

			if (c->pos + len > c->end)
				return -2;
			c->pos += len;
		}
		nh = eh->nexthdr;
	}
	return -2;
}

/* QUIC long header (RFC 9000 17.2, RFC 9369 for v2): form bit and fixed bit
 * set, a non-zero version (zero is version negotiation), and the Initial type
 * (0 in v1, 1 in v2). Clients pad Initial datagrams to 1200 bytes, which
 * keeps short DNS-like probes to 443 from counting. */
#define QUIC_V2			0x6b3343cf
#define QUIC_MIN_INITIAL	1200

static __always_inline int parse_l4(struct cursor *c, struct pkt_info *pi, int proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;

		if ((void *)(th + 1) > c->end)
			return -1;
		pi->l4_proto = IPPROTO_TCP;
		pi->new_conn = th->syn && !th->ack;
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;
		__u8 *q = (void *)(uh + 1);
		__u32 version;
		__u8 type;

		if ((void *)(uh + 1) > c->end)
			return -1;
		pi->l4_proto = IPPROTO_UDP;
		if (uh->dest != bpf_htons(443) ||
		    bpf_ntohs(uh->len) < sizeof(*uh) + QUIC_MIN_INITIAL)
			return 0;
		if ((void *)(q + 5) > c->end)
			return 0;	/* a short datagram is not an Initial */
		if ((q[0] & 0xc0) != 0xc0)
			return 0;	/* short header: established connection */
		version = (__u32)q[1] << 24 | (__u32)q[2] << 16 | (__u32)q[3] << 8 | q[4];
		type = (q[0] >> 4) & 3;
		if (version == 0)
			return 0;
		pi->new_conn = version == QUIC_V2 ? type == 1 : type == 0;
		return 0;
	}
	return 0;
}

#endif
