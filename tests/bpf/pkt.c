// SPDX-License-Identifier: GPL-2.0
/* tests/bpf/pkt.c - see pkt.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "pkt.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, struct pkt_layout *lay)
{
	struct pkt_layout dummy;

	uint8_t a4[4], a6[16], d6[16];
	int v6 = strchr(s->saddr, ':') != NULL;
	int proto = s->proto ? s->proto : IPPROTO_TCP;
	size_t off = 0, l4len, ip_off;
	uint8_t *p;

	if (!lay)
		lay = &dummy;
	memset(lay, 0, sizeof(*lay));

	memset(buf, 0, PKT_MAX);
	/* Ethernet: documentation MACs (RFC 7042 00-00-5E-00-53-xx) */
	memcpy(buf, "\x00\x00\x5e\x00\x53\x01\x00\x00\x5e\x00\x53\x02", 12);
	off = 12;
	for (int i = 0; i < s->n_vlan; i++) {
		put16(buf + off, s->tpid[i] ? s->tpid[i] : 0x8100);
		put16(buf + off + 2, 100 + i);	/* TCI: VLAN id */
		off += 4;
	}
	put16(buf + off, s->eth_proto ? s->eth_proto : v6 ? ETH_P_IPV6 : ETH_P_IP);
	off += 2;
	lay->vlan_end = off;
	if (s->eth_proto && s->eth_proto != ETH_P_IP && s->eth_proto != ETH_P_IPV6) {
		memset(buf + off, 0xab, 46);
		lay->len = off + 46;
		return lay->len;
	}

	switch (proto) {
	case IPPROTO_TCP:
		l4len = sizeof(struct tcphdr);
		break;
	case IPPROTO_UDP:
		l4len = sizeof(struct udphdr);
		break;
	default:
		l4len = 8;	/* ICMP echo header */
	}

	ip_off = off;
	if (!v6) {
		struct iphdr *iph = (void *)(buf + off);
		size_t hl = sizeof(*iph) + s->v4_opt_len;

		if (inet_pton(AF_INET, s->saddr, a4) != 1 || s->v4_opt_len % 4 || s->v4_opt_len > 40)
			abort();
		iph->version = 4;
		iph->ihl = hl / 4;
		iph->ttl = 64;
		iph->protocol = proto;
		iph->frag_off = htons(s->v4_frag);
		memcpy(&iph->saddr, a4, 4);
		if (inet_pton(AF_INET, s->daddr ? s->daddr : "192.0.2.1", &iph->daddr) != 1)
			abort();
		/* options: NOPs then EOL, enough for the parser to step over */
		memset(buf + off + sizeof(*iph), 1, s->v4_opt_len);
		if (s->v4_opt_len)
			buf[off + hl - 1] = 0;
		iph->tot_len = htons(hl + l4len + s->payload);
		iph->check = htons(csum(iph, hl));
		off += hl;
		lay->l3_end = lay->ext_end = off;
	} else {
		struct ipv6hdr *ip6h = (void *)(buf + off);
		uint8_t nh = proto;

		if (inet_pton(AF_INET6, s->saddr, a6) != 1 ||
		    inet_pton(AF_INET6, s->daddr ? s->daddr : "2001:db8::1", d6) != 1 ||
		    s->n_ext > 8)
			abort();
		ip6h->version = 6;
		ip6h->hop_limit = 64;
		memcpy(&ip6h->saddr, a6, 16);
		memcpy(&ip6h->daddr, d6, 16);
		ip6h->nexthdr = s->n_ext ? s->ext[0] : nh;
		off += sizeof(*ip6h);
		lay->l3_end = off;
		for (int i = 0; i < s->n_ext; i++) {
			uint8_t next = i + 1 < s->n_ext ? s->ext[i + 1] : nh;

			buf[off] = next;
			if (s->ext[i] == IPPROTO_FRAGMENT) {
				buf[off + 1] = 0;
				put16(buf + off + 2, s->v6_frag);
				off += 8;
			} else {
				buf[off + 1] = 1;	/* 16 bytes: exercises hdrlen */
				buf[off + 2] = 1;	/* PadN option */
				buf[off + 3] = 12;
				off += 16;
			}
		}
		lay->ext_end = off;
		put16((uint8_t *)&ip6h->payload_len, off - ip_off - sizeof(*ip6h) + l4len + s->payload);
	}

	p = buf + off;
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)p;

		th->source = htons(40000);
		th->dest = htons(s->dport ? s->dport : 80);
		th->doff = 5;
		((uint8_t *)th)[13] = s->tcp_flags ? s->tcp_flags : TH_ACK;
		th->window = htons(65535);
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = (void *)p;

		uh->source = htons(40000);
		uh->dest = htons(s->dport ? s->dport : 443);
		uh->len = htons(sizeof(*uh) + s->payload);
		if (s->payload >= 5) {
			p[8] = s->quic_first;
			p[9] = s->quic_version >> 24;
			p[10] = s->quic_version >> 16;
			p[11] = s->quic_version >> 8;
			p[12] = s->quic_version;
		}
	} else {
		p[0] = 8;	/* ICMP echo request */
	}
	lay->l4_end = off + l4len;
	off += l4len + s->payload;
	if (off > PKT_MAX)
		abort();
	if (off < 60)
		off = 60;	/* Ethernet minimum frame (without FCS) */
	lay->len = off;
	return off;
}
