/* SPDX-License-Identifier: GPL-2.0 */
/* tests/bpf/pkt.h - crafted frames for BPF_PROG_TEST_RUN.
 *
 * One builder, driven by a spec, so every parse path is one struct literal:
 * VLAN tags, IPv4 options and fragments, IPv6 extension headers, TCP flags,
 * UDP/QUIC payloads. Addresses are text so tests read like the traffic.
 */
#ifndef XDPFENCE_TEST_PKT_H
#define XDPFENCE_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 1600

struct pkt_spec {
	const char *saddr;		/* IPv4 or IPv6 text; decides the family */
	const char *daddr;		/* NULL: 192.0.2.1 / 2001:db8::1 */
	uint16_t eth_proto;		/* override EtherType (non-IP tests) */
	int n_vlan;			/* tags before the IP header */
	uint16_t tpid[3];		/* 0 = 0x8100 */
	int v4_opt_len;			/* IPv4 option bytes (multiple of 4, <= 40) */
	uint16_t v4_frag;		/* IPv4 frag_off, host order (offset | MF) */
	int n_ext;			/* IPv6 extension headers, in order */
	uint8_t ext[8];			/* IPPROTO_HOPOPTS/ROUTING/DSTOPTS/FRAGMENT */
	uint16_t v6_frag;		/* fragment header offset<<3 | M, host order */
	int proto;			/* IPPROTO_TCP (default), IPPROTO_UDP, IPPROTO_ICMP... */
	uint8_t tcp_flags;		/* TH_SYN etc.; 0 = ACK */
	uint16_t dport;			/* default 80 (TCP) / 443 (UDP) */
	int payload;			/* payload bytes after L4 */
	uint8_t quic_first;		/* first payload byte (QUIC header form/type) */
	uint32_t quic_version;
};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* Where the headers ended up, for truncation tests: a frame cut before
 * vlan_end is a VLAN error, before l3_end an IP error, before ext_end an
 * extension-header error, before l4_end an L4 error. */
struct pkt_layout {
	size_t vlan_end;		/* end of the last VLAN tag (= 14 + 4 * tags) */
	size_t l3_end;			/* end of the IPv4 header with options / IPv6 fixed header */
	size_t ext_end;			/* end of the IPv6 extension headers (= l3_end for v4) */
	size_t l4_end;			/* end of the TCP/UDP header */
	size_t len;			/* frame length (padded to 60) */
};

/* Build into buf (PKT_MAX bytes); returns the frame length. Aborts the test
 * binary on a bad spec (a bug in the test, not in the code under test).
 * lay may be NULL. */
size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, struct pkt_layout *lay);

#endif
