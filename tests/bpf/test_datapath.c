// SPDX-License-Identifier: GPL-2.0
/* tests/bpf/test_datapath.c - the XDP program through BPF_PROG_TEST_RUN.
 *
 * Every parse path, every verdict, every counter, with crafted frames and
 * exact expectations. Policy goes in through table.c, as in production.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "test.h"
#include "lib/util.h"
#include "fixture.h"
#include "core/counters.h"
#include "core/pin.h"
#include "xdpfence.skel.h"
#include "bench_lpm.skel.h"

#define SRC4 "198.51.100.7"
#define PFX4 "198.51.100.0"
#define SRC6 "2001:db8:1:2::7"
#define PFX6 "2001:db8:1:2::"

static bool open_fx(struct fx *f)
{
	int err = fx_open(f, NULL);

	return ASSERT_EQ(err, 0, "fx_open");
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The entry's counters (entry_hits, summed over CPUs); all ~0 when
 * there is no such entry. */
static struct fence_entry_counters entry_ctr(struct fx *f, const char *cidr_text,
					    enum fence_kind kind)
{
	struct fence_entry_counters v = { ~0ULL, ~0ULL, ~0ULL };
	struct cidr c;
	__u32 slot = 0;

	cidr_parse(cidr_text, &c, 0, NULL, 0);
	if (!table_get(f->t, &c, kind, &slot) || !slot || counters_entry(&f->m, slot, &v))
		return (struct fence_entry_counters){ ~0ULL, ~0ULL, ~0ULL };
	return v;
}

static __u64 rule_hits(struct fx *f, const char *cidr_text, enum fence_kind kind)
{
	return entry_ctr(f, cidr_text, kind).packets;
}

/* Send s once with no policy and once with its source denied: proves the
 * source was parsed; returns new_conns counted for one send (the passed one
 * on its source prefix, the dropped one on the entry that dropped it: the
 * two must agree). */
static __u64 parsed_and_judged(const struct pkt_spec *s, const char *what)
{
	const char *deny = strchr(s->saddr, ':') ? "2001:db8:1::/48" : "198.51.100.0/24";
	struct fence_entry_counters e;
	struct fence_counters c;
	struct fx f;
	int v6 = strchr(s->saddr, ':') != NULL;
	__u64 nc = ~0ULL;

	if (!open_fx(&f))
		return nc;
	ASSERT_EQ(fx_send(&f, s), XDP_PASS, what);
	ASSERT_EQ(fx_deny(&f, deny), 0, "deny");
	ASSERT_EQ(fx_send(&f, s), XDP_DROP, what);
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_PASS), 1, "stat pass");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_MANUAL), 1, "stat drop_manual");
	e = entry_ctr(&f, deny, FENCE_KIND_DENY);
	ASSERT_EQ(e.packets, 1, "the drop counted on the entry");
	if (ASSERT_EQ(fx_prefix(&f, v6 ? PFX6 : PFX4, &c), 0, "prefix entry")) {
		ASSERT_EQ(c.packets, 1, "only the passed one counted on the prefix");
		ASSERT_EQ(c.drops, 0, "prefix drops");
		ASSERT_EQ(c.bytes, e.bytes, "same frame, same bytes");
		nc = c.new_conns;
		ASSERT_EQ(e.new_conns, c.new_conns, "new_conns alike on entry and prefix");
	}
	fx_close(&f);
	return nc;
}

static void test_datapath_v4_tcp(void)
{
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN }, "v4 syn"),
		  1, "v4 SYN is a new connection");
}

static void test_datapath_v6_tcp(void)
{
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC6, .tcp_flags = TH_SYN }, "v6 syn"),
		  1, "v6 SYN is a new connection");
}

static void test_datapath_vlan(void)
{
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN,
							 .n_vlan = 1 }, "802.1Q"), 1, "vlan syn");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC6, .tcp_flags = TH_SYN,
							 .n_vlan = 1 }, "802.1Q v6"), 1, "vlan v6 syn");
}

static void test_datapath_qinq(void)
{
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN, .n_vlan = 2,
							 .tpid = { 0x88a8, 0x8100 } }, "QinQ"), 1, "qinq syn");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN, .n_vlan = 2,
							 .tpid = { 0x8100, 0x8100 } }, "double 802.1Q"), 1, "q-in-q 8100");
}

static void test_datapath_three_vlan_tags(void)
{
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "198.51.100.0/24"), 0, "deny");
	/* a third tag is not walked: a parse error with the malformed verdict */
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = SRC4, .n_vlan = 3 }), XDP_PASS, "3 tags");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_ERR_VLAN), 1, "err_vlan");
	ASSERT_EQ(fx_stat_total(&f), 1, "counted once");
	fx_close(&f);
}

static void test_datapath_v4_options(void)
{
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN,
							 .v4_opt_len = 40 }, "ihl 15"), 1, "options syn");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN,
							 .v4_opt_len = 4 }, "ihl 6"), 1, "options syn");
}

static void test_datapath_v4_fragments(void)
{
	/* first fragment (MF, offset 0) carries the TCP header */
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN,
							 .v4_frag = 0x2000 }, "first frag"), 1, "first fragment syn");
	/* later fragments: bytes where a header would be are payload */
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN,
							 .v4_frag = 0x2000 | 185 }, "middle frag"), 0,
		  "non-first fragment is not parsed as L4");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN,
							 .v4_frag = 185 }, "last frag"), 0, "last fragment");
}

static void test_datapath_v6_ext_headers(void)
{
	static const struct { __u8 type; const char *name; } ext[] = {
		{ IPPROTO_HOPOPTS, "hop-by-hop" }, { IPPROTO_ROUTING, "routing" },
		{ IPPROTO_DSTOPTS, "destination options" }, { IPPROTO_FRAGMENT, "fragment (first)" },
	};

	for (unsigned i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		struct pkt_spec s = { .saddr = SRC6, .tcp_flags = TH_SYN, .n_ext = 1,
				      .ext = { ext[i].type }, .v6_frag = 1 };

		ASSERT_EQ(parsed_and_judged(&s, ext[i].name), 1, ext[i].name);
	}
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC6, .tcp_flags = TH_SYN, .n_ext = 1,
							 .ext = { IPPROTO_FRAGMENT }, .v6_frag = 64 << 3 },
				    "non-first fragment"), 0, "v6 non-first fragment");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC6, .tcp_flags = TH_SYN, .n_ext = 6,
							 .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS,
								  IPPROTO_ROUTING, IPPROTO_DSTOPTS,
								  IPPROTO_FRAGMENT, IPPROTO_DSTOPTS } },
				    "six ext"), 1, "six extension headers");
}

static void test_datapath_v6_too_many_ext(void)
{
	struct pkt_spec s = { .saddr = SRC6, .tcp_flags = TH_SYN, .n_ext = 7,
			      .ext = { 0, 60, 43, 60, 60, 60, 60 } };
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_send(&f, &s), XDP_PASS, "7 ext, no policy");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_ERR_IPV6_EXT), 1, "err_ipv6_ext");
	/* the source is known: seven headers are no way around a ban */
	ASSERT_EQ(fx_deny(&f, "2001:db8:1::/48"), 0, "deny");
	ASSERT_EQ(fx_send(&f, &s), XDP_DROP, "7 ext, denied");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_MANUAL), 1, "drop_manual");
	fx_close(&f);
}

static void test_datapath_tcp_flags(void)
{
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_SYN | TH_ACK },
				    "syn-ack"), 0, "SYN-ACK is not new");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_ACK | TH_PSH,
							 .payload = 100 }, "data"), 0, "data is not new");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC4, .tcp_flags = TH_RST }, "rst"), 0,
		  "RST is not new");
	ASSERT_EQ(parsed_and_judged(&(struct pkt_spec){ .saddr = SRC6, .tcp_flags = TH_SYN | TH_ACK },
				    "v6 syn-ack"), 0, "v6 SYN-ACK is not new");
}

static void test_datapath_quic(void)
{
	struct {
		struct pkt_spec s;
		__u64 want;
		const char *name;
	} cases[] = {
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0xc3,
		    .quic_version = 1 }, 1, "v1 Initial" },
		{ { .saddr = SRC6, .proto = IPPROTO_UDP, .payload = 1250, .quic_first = 0xc0,
		    .quic_version = 1 }, 1, "v1 Initial over IPv6" },
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0xd3,
		    .quic_version = 0x6b3343cf }, 1, "v2 Initial (type 1)" },
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0xc3,
		    .quic_version = 0x6b3343cf }, 0, "v2 type 0 is 0-RTT" },
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0x43,
		    .quic_version = 1 }, 0, "short header" },
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0xe3,
		    .quic_version = 1 }, 0, "v1 Handshake" },
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0xc3,
		    .quic_version = 0 }, 0, "version negotiation" },
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 100, .quic_first = 0xc3,
		    .quic_version = 1 }, 0, "unpadded (< 1200)" },
		{ { .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0xc3,
		    .quic_version = 1, .dport = 8443 }, 0, "not port 443" },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(parsed_and_judged(&cases[i].s, cases[i].name), cases[i].want, cases[i].name);
}

static void test_datapath_non_ip(void)
{
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = SRC4, .eth_proto = ETH_P_ARP }), XDP_PASS,
		  "arp");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = SRC4, .eth_proto = 0x88cc, .n_vlan = 1 }),
		  XDP_PASS, "lldp in vlan");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_NON_IP), 2, "non_ip");
	ASSERT_EQ(fx_stat_total(&f), 2, "nothing else");
	fx_close(&f);
}

/* verdict for one source address */
static int verdict(struct fx *f, const char *src)
{
	return fx_send(f, &(struct pkt_spec){ .saddr = src });
}

static void test_datapath_allow_beats_deny(void)
{
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "198.51.100.0/24"), 0, "deny /24");
	ASSERT_EQ(fx_allow(&f, "198.51.100.0/25"), 0, "allow /25");
	ASSERT_EQ(fx_deny(&f, "198.51.100.5/32"), 0, "deny /32 inside allow");
	ASSERT_EQ(fx_deny(&f, "198.51.100.64/26"), 0, "deny /26 inside allow");
	ASSERT_EQ(fx_allow(&f, "203.0.113.0/24"), 0, "allow /24");
	ASSERT_EQ(fx_deny(&f, "203.0.0.0/16"), 0, "deny /16 around allow");
	ASSERT_EQ(fx_allow(&f, "2001:db8:5::/48"), 0, "allow v6");
	ASSERT_EQ(fx_deny(&f, "2001:db8:5:1::/64"), 0, "deny v6 inside");

	ASSERT_EQ(verdict(&f, "198.51.100.5"), XDP_PASS, "/32 deny under /25 allow");
	ASSERT_EQ(verdict(&f, "198.51.100.70"), XDP_PASS, "/26 deny under /25 allow");
	ASSERT_EQ(verdict(&f, "198.51.100.200"), XDP_DROP, "outside the allow");
	ASSERT_EQ(verdict(&f, "203.0.113.9"), XDP_PASS, "allow inside deny /16");
	ASSERT_EQ(verdict(&f, "203.0.114.9"), XDP_DROP, "rest of the /16");
	ASSERT_EQ(verdict(&f, "2001:db8:5:1::9"), XDP_PASS, "v6 allow beats longer deny");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_ALLOW), 4, "allow counted");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_MANUAL), 2, "drops counted");
	fx_close(&f);
}

static void test_datapath_longest_prefix_wins(void)
{
	static const struct {
		const char *cidr;
		enum fence_action act;
	} rules[] = {
		{ "198.18.0.0/15", FENCE_ACT_DROP },
		{ "198.18.5.0/24", FENCE_ACT_MONITOR },
		{ "198.18.5.128/25", FENCE_ACT_DROP },
		{ "198.18.5.192/27", FENCE_ACT_MONITOR },
		{ "198.18.5.200/32", FENCE_ACT_DROP },
		{ "198.18.5.130/32", FENCE_ACT_MONITOR },
		{ "2001:db8::/32", FENCE_ACT_DROP },
		{ "2001:db8:7::/48", FENCE_ACT_MONITOR },
		{ "2001:db8:7::9/128", FENCE_ACT_DROP },
	};
	static const struct {
		const char *src;
		int verdict;
	} probes[] = {
		{ "198.19.200.1", XDP_DROP },	/* /15 */
		{ "198.18.5.1", XDP_PASS },	/* /24 monitor */
		{ "198.18.5.129", XDP_DROP },	/* /25 */
		{ "198.18.5.130", XDP_PASS },	/* /32 monitor inside /25 */
		{ "198.18.5.193", XDP_PASS },	/* /27 monitor */
		{ "198.18.5.200", XDP_DROP },	/* /32 drop inside /27 */
		{ "198.18.4.255", XDP_DROP },	/* /15 again */
		{ "198.20.0.1", XDP_PASS },	/* nothing */
		{ "2001:db8:1::1", XDP_DROP },
		{ "2001:db8:7::1", XDP_PASS },
		{ "2001:db8:7::9", XDP_DROP },
	};
	struct fx f;

	if (!open_fx(&f))
		return;
	for (unsigned i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		ASSERT_EQ(fx_entry(&f, rules[i].cidr, FENCE_KIND_DENY, rules[i].act, 0, FENCE_OWN_FEED),
			  0, rules[i].cidr);
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		ASSERT_EQ(verdict(&f, probes[i].src), probes[i].verdict, probes[i].src);
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_FEED), 6, "drop_feed");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_MONITOR), 4, "monitor");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_PASS), 1, "pass");

	/* removing the /25 hands its addresses back to the /24 */
	ASSERT_EQ(fx_remove(&f, "198.18.5.128/25", FENCE_KIND_DENY), 0, "remove /25");
	ASSERT_EQ(verdict(&f, "198.18.5.129"), XDP_PASS, "/24 monitor again");
	ASSERT_EQ(verdict(&f, "198.18.5.200"), XDP_DROP, "/32 still there");
	fx_close(&f);
}

static void test_datapath_expiry(void)
{
	struct fence_rule_info info = {
		.owners = FENCE_OWN_MANUAL, .manual_action = FENCE_ACT_DROP,
		.manual_expires_ns = 1,	/* long past */
	};
	struct cidr c;
	struct fx f;

	if (!open_fx(&f))
		return;
	/* expired on arrival: not banned, counted as such */
	cidr_parse("198.51.100.0/24", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY, &info), 0, "put");
	ASSERT_EQ(table_commit(f.t, NULL, NULL, 0), 0, "commit");
	ASSERT_EQ(verdict(&f, "198.51.100.1"), XDP_PASS, "expired entry passes");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_EXPIRED_PASS), 1, "expired_pass");

	/* an expired /32 falls back to the live /16 around it */
	ASSERT_EQ(fx_deny(&f, "203.0.0.0/16"), 0, "deny /16");
	cidr_parse("203.0.113.9/32", &c, 0, NULL, 0);
	info.manual_action = FENCE_ACT_MONITOR;
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY, &info), 0, "put /32");
	ASSERT_EQ(table_commit(f.t, NULL, NULL, 0), 0, "commit");
	ASSERT_EQ(verdict(&f, "203.0.113.9"), XDP_DROP, "parent of expired /32 drops");

	/* a live TTL runs out while we watch */
	ASSERT_EQ(fx_entry(&f, "192.0.2.0/24", FENCE_KIND_DENY, FENCE_ACT_DROP, 300000000ULL,
			   FENCE_OWN_MANUAL), 0, "ttl 300ms");
	ASSERT_EQ(verdict(&f, "192.0.2.77"), XDP_DROP, "banned before expiry");
	sleep_ms(400);
	ASSERT_EQ(verdict(&f, "192.0.2.77"), XDP_PASS, "not banned after expiry");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_EXPIRED_PASS), 2, "expired_pass again");

	/* same on IPv6, with a parent */
	ASSERT_EQ(fx_deny(&f, "2001:db8::/32"), 0, "deny v6 /32");
	cidr_parse("2001:db8:9::/48", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY, &info), 0, "put v6");
	ASSERT_EQ(table_commit(f.t, NULL, NULL, 0), 0, "commit v6");
	ASSERT_EQ(verdict(&f, "2001:db8:9::1"), XDP_DROP, "v6 parent of expired drops");
	fx_close(&f);
}

static void test_datapath_monitor(void)
{
	struct fence_counters c;
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_entry(&f, "198.51.100.0/24", FENCE_KIND_DENY, FENCE_ACT_MONITOR, 0,
			   FENCE_OWN_PROMOTED), 0, "monitor");
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(verdict(&f, SRC4), XDP_PASS, "monitor passes");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_MONITOR), 5, "would-drop counted");
	ASSERT_EQ(rule_hits(&f, "198.51.100.0/24", FENCE_KIND_DENY), 5, "rule hits");
	ASSERT_EQ(fx_prefix(&f, PFX4, &c), 0, "prefix");
	ASSERT_EQ(c.drops, 0, "nothing dropped");
	/* promoted drop counts as promoted */
	ASSERT_EQ(fx_entry(&f, "198.51.100.0/24", FENCE_KIND_DENY, FENCE_ACT_DROP, 0,
			   FENCE_OWN_PROMOTED), 0, "promote to drop");
	ASSERT_EQ(verdict(&f, SRC4), XDP_DROP, "dropped");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_PROMOTED), 1, "drop_promoted");
	ASSERT_EQ(rule_hits(&f, "198.51.100.0/24", FENCE_KIND_DENY), 6, "hits kept on update");
	fx_close(&f);
}

/* Where a packet is counted: one a drop entry drops on the entry and not
 * on its source prefix; one a monitor or throttle entry passes on both
 * (the entry's hits, the prefix's traffic); a new connection a throttle
 * drops on both, and as a drop of the prefix; one no entry matches on the
 * prefix only. */
static void test_datapath_counted_where(void)
{
	struct pkt_spec syn = { .saddr = "203.0.113.9", .tcp_flags = TH_SYN };
	struct fence_entry_counters e;
	struct fence_counters c;
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_entry(&f, "198.51.100.0/24", FENCE_KIND_DENY, FENCE_ACT_DROP, 0,
			   FENCE_OWN_PROMOTED), 0, "drop /24");
	ASSERT_EQ(fx_entry(&f, "198.51.100.128/25", FENCE_KIND_DENY, FENCE_ACT_MONITOR, 0,
			   FENCE_OWN_FEED), 0, "monitor /25 inside it");
	ASSERT_EQ(fx_entry(&f, "203.0.113.0/24", FENCE_KIND_DENY, FENCE_ACT_THROTTLE, 0,
			   FENCE_OWN_MANUAL), 0, "throttle /24, burst 3");
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(verdict(&f, "198.51.100.7"), XDP_DROP, "dropped");
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(verdict(&f, "198.51.100.200"), XDP_PASS, "monitored");
	for (int i = 0; i < 5; i++)
		fx_send(&f, &syn);
	ASSERT_EQ(verdict(&f, "192.0.2.1"), XDP_PASS, "no entry");

	e = entry_ctr(&f, "198.51.100.0/24", FENCE_KIND_DENY);
	ASSERT_EQ(e.packets, 3, "drop entry: its drops");
	e = entry_ctr(&f, "198.51.100.128/25", FENCE_KIND_DENY);
	ASSERT_EQ(e.packets, 2, "monitor entry: its hits");
	ASSERT_EQ(fx_prefix(&f, "198.51.100.0", &c), 0, "the /24's prefix counters");
	ASSERT_EQ(c.packets, 2, "only the monitored packets on the prefix");
	ASSERT_EQ(c.drops, 0, "no drops there");
	e = entry_ctr(&f, "203.0.113.0/24", FENCE_KIND_DENY);
	ASSERT_EQ(e.packets, 5, "throttle entry: every SYN");
	ASSERT_EQ(e.new_conns, 5, "as new connections");
	ASSERT_EQ(fx_prefix(&f, "203.0.113.0", &c), 0, "throttled prefix");
	ASSERT_EQ(c.packets, 5, "throttled traffic on the prefix too");
	ASSERT_EQ(c.drops, 2, "with the throttle's drops");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_THROTTLE), 2, "drop_throttle");
	ASSERT_EQ(fx_prefix(&f, "192.0.2.0", &c), 0, "unmatched prefix");
	ASSERT_EQ(c.packets, 1, "on the prefix");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_PROMOTED), 3, "drop_promoted");
	ASSERT_EQ(fx_stat_total(&f), 11, "every packet once per reason");
	fx_close(&f);
}

/* The IPv6 table against a plain reference, over commits that add and
 * remove entries of many lengths (so the lengths present, the search's
 * markers and the slots they carry all change), with allows among the
 * denies: an allow covering an address wins, else the longest deny. */
#define V6R_MAX 600
struct v6ref {
	__u8 a[16], len, allow, live;
};

static bool v6_covers(const struct v6ref *r, const __u8 *x)
{
	int full = r->len / 8, rem = r->len % 8;

	if (memcmp(r->a, x, full))
		return false;
	return !rem || ((r->a[full] ^ x[full]) & (0xff << (8 - rem))) == 0;
}

static __u64 v6rng = 88172645463325252ULL;

static __u32 v6rnd(void)
{
	v6rng ^= v6rng << 13;
	v6rng ^= v6rng >> 7;
	v6rng ^= v6rng << 17;
	return (__u32)(v6rng >> 11);
}

static void v6_text(const __u8 *a, int len, char *buf, size_t n)
{
	char t[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, t, sizeof(t));
	if (len >= 0)
		snprintf(buf, n, "%s/%d", t, len);
	else
		snprintf(buf, n, "%s", t);
}

static void test_datapath_v6_table_vs_reference(void)
{
	static struct v6ref ref[V6R_MAX];
	struct fence_opts o = { .max_rules = 4096, .tbl8_groups = 4, .prefix_entries = 256,
				.v6_rules = 8192 };
	int n = 0, bad = 0, probes = 0;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	for (int round = 0; round < 6; round++) {
		char err[256] = "", text[64];

		/* rounds 0-2 add entries (lengths widen each round), 3 and 5
		 * remove some, 4 adds allows */
		for (int k = 0; k < 120 && round != 3 && round != 5 && n < V6R_MAX; k++) {
			struct v6ref *r = &ref[n];
			struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1,
							.feed_action = FENCE_ACT_DROP };
			int lens_lo = 32 + 8 * (2 - (round > 2 ? 2 : round));
			struct cidr c;
			int dup = 0;

			memset(r, 0, sizeof(*r));
			r->a[0] = 0x20, r->a[1] = 0x01, r->a[2] = 0x0d, r->a[3] = 0xb8;
			r->len = v6rnd() % 8 == 0 ? 128 : lens_lo + v6rnd() % (65 - lens_lo);
			/* few distinct values in the upper bits: prefixes nest */
			for (int b = 4; b < 16; b++)
				r->a[b] = b < 7 ? v6rnd() % 3 : v6rnd();
			for (int b = r->len; b < 128; b++)
				r->a[b / 8] &= ~(0x80 >> (b % 8));
			r->allow = round == 4;
			for (int j = 0; j < n; j++)
				dup |= ref[j].live && ref[j].len == r->len && !memcmp(ref[j].a, r->a, 16);
			if (dup)
				continue;
			r->live = 1;
			v6_text(r->a, r->len, text, sizeof(text));
			cidr_parse(text, &c, 0, NULL, 0);
			table_put(f.t, &c, r->allow ? FENCE_KIND_ALLOW : FENCE_KIND_DENY, &info);
			n++;
		}
		for (int j = 0; (round == 3 || round == 5) && j < n; j++) {
			struct cidr c;

			if (!ref[j].live || v6rnd() % 3)
				continue;
			ref[j].live = 0;
			v6_text(ref[j].a, ref[j].len, text, sizeof(text));
			cidr_parse(text, &c, 0, NULL, 0);
			table_del(f.t, &c, ref[j].allow ? FENCE_KIND_ALLOW : FENCE_KIND_DENY);
		}
		if (!ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "commit")) {
			fprintf(stderr, "  %s\n", err);
			break;
		}
		for (int q = 0; q < 400; q++) {
			__u8 x[16];
			int want = XDP_PASS, best = -1, allow = 0, got;

			/* mostly inside a prefix, with random bits below it */
			memcpy(x, ref[v6rnd() % n].a, 16);
			for (int b = 40 + v6rnd() % 88; b < 128; b++)
				if (v6rnd() & 1)
					x[b / 8] ^= 0x80 >> (b % 8);
			for (int j = 0; j < n; j++) {
				if (!ref[j].live || !v6_covers(&ref[j], x))
					continue;
				if (ref[j].allow)
					allow = 1;
				else if (best < 0 || ref[j].len > ref[best].len)
					best = j;
			}
			if (!allow && best >= 0)
				want = XDP_DROP;
			v6_text(x, -1, text, sizeof(text));
			got = verdict(&f, text);
			probes++;
			if (got != want && bad++ < 5)
				TEST_FAIL_AT("round %d: %s: verdict %d, want %d", round, text, got, want);
		}
	}
	ASSERT_EQ(bad, 0, "every verdict as the reference's");
	ASSERT_TRUE(probes >= 2000, "probed");
	fx_close(&f);
}

/* The program remembers its last IPv6 searches per CPU; a commit that
 * changes the IPv6 table makes them stale, whatever it changes: a new
 * entry, a new length, a removal, an allow. */
static void test_datapath_v6_cache_goes_stale(void)
{
	const char *src = "2001:db8:7:7::9";
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "2001:db8:1::/48"), 0, "a /48 elsewhere");
	ASSERT_EQ(verdict(&f, src), XDP_PASS, "searched: none");
	ASSERT_EQ(verdict(&f, src), XDP_PASS, "remembered: none");
	ASSERT_EQ(fx_deny(&f, "2001:db8:7::/48"), 0, "a /48 of the same length over it");
	ASSERT_EQ(verdict(&f, src), XDP_DROP, "the new /48");
	ASSERT_EQ(fx_deny(&f, "2001:db8:7:7::/64"), 0, "a /64 under it: a new length");
	ASSERT_EQ(verdict(&f, src), XDP_DROP, "still dropped");
	ASSERT_EQ(rule_hits(&f, "2001:db8:7:7::/64", FENCE_KIND_DENY), 1, "by the /64 now");
	ASSERT_EQ(fx_allow(&f, "2001:db8:7:7::9/128"), 0, "an allow of the source");
	ASSERT_EQ(verdict(&f, src), XDP_PASS, "allowed");
	ASSERT_EQ(fx_remove(&f, "2001:db8:7:7::9/128", FENCE_KIND_ALLOW), 0, "the allow removed");
	ASSERT_EQ(verdict(&f, src), XDP_DROP, "dropped again");
	ASSERT_EQ(fx_remove(&f, "2001:db8:7:7::/64", FENCE_KIND_DENY), 0, "the /64 removed");
	ASSERT_EQ(fx_remove(&f, "2001:db8:7::/48", FENCE_KIND_DENY), 0, "the /48 removed");
	ASSERT_EQ(verdict(&f, src), XDP_PASS, "passes again");
	fx_close(&f);
}

/* A set pinned by a build of layout 2 (before tbl6 and entry counters; a
 * layout 3 set lacks only entry_hits, its per-CPU entry_counters unused):
 * the first writer of this build adds the maps it lacks, brings the
 * contents to this layout (tbl6 from the entries) and says so; a program of
 * this build then enforces the IPv6 entries the old set held. */
static void test_datapath_upgrade_from_layout_2(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 1024 };
	char dir[96], path[160], err[256] = "";
	static const char *const gone[] = { "tbl6", "tbl6_meta", "entry_hits" };
	struct pin_repair rep;
	struct fence_meta meta;
	struct pinned p;
	__u32 key = 0;
	struct fx f;
	int fd;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "l2"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a pinned set"))
		goto out;
	ASSERT_EQ(fx_deny(&f, "2001:db8:1::/48"), 0, "an IPv6 deny");
	ASSERT_EQ(fx_deny(&f, "198.51.100.0/24"), 0, "an IPv4 deny");
	fx_close(&f);
	/* as layout 2 left it: none of the maps it did not have */
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, gone[i]);
		ASSERT_EQ(unlink(path), 0, gone[i]);
	}
	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = bpf_obj_get(path);
	ASSERT_TRUE(fd >= 0 && !bpf_map_lookup_elem(fd, &key, &meta), "meta");
	meta.version = 2;
	ASSERT_EQ(bpf_map_update_elem(fd, &key, &meta, BPF_ANY), 0, "layout 2");
	close(fd);

	if (!ASSERT_EQ(pin_open(&p, dir, PIN_WRITE | PIN_CREATE, &rep, err, sizeof(err)), 0,
		       "the first writer opens it")) {
		fprintf(stderr, "  %s\n", err);
		goto out;
	}
	ASSERT_TRUE(rep.outdated && rep.st.recovered, "and brings it up to date");
	ASSERT_EQ(fence_read_meta(&p.m, &meta), 0, "meta");
	ASSERT_EQ(meta.version, FENCE_META_VERSION, "this build's layout recorded");
	pin_close(&p);
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a program of this build on it"))
		goto out;
	ASSERT_EQ(verdict(&f, "2001:db8:1::5"), XDP_DROP, "the old set's IPv6 deny enforced");
	ASSERT_EQ(verdict(&f, "2001:db8:2::5"), XDP_PASS, "nothing else");
	ASSERT_EQ(verdict(&f, "198.51.100.5"), XDP_DROP, "the IPv4 deny too");
	ASSERT_EQ(rule_hits(&f, "2001:db8:1::/48", FENCE_KIND_DENY), 1, "counted on the entry");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

static void text_v6_deny(int i, char *buf, size_t len)
{
	snprintf(buf, len, "2001:db8:2:%x::/64", i);
}

static void text_v6_src(int i, char *buf, size_t len)
{
	snprintf(buf, len, "2001:db8:2:%x::1", i);
}

/* A pinned set whose tbl6 is too small for a change grows it (with the
 * rule slots and deny_v6) in pin_commit: every key placed again in a
 * bigger table under a new seed, the search tree rebuilt; a program on
 * the grown set enforces the old entries and the new. */
static void test_datapath_tbl6_grows(void)
{
	struct fence_opts o = { .max_rules = 1024, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 1024 };
	char dir[96], err[256] = "";
	struct fx f;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "g6"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a pinned set, tbl6 of 1024 positions"))
		goto out;
	ASSERT_EQ(fx_deny(&f, "2001:db8:1::/48"), 0, "a /48 deny");
	ASSERT_EQ(fx_allow(&f, "2001:db8:1:5::/64"), 0, "an allow inside it");
	ASSERT_EQ(f.m.n_tbl6, 1024, "tbl6 starts at 1024");
	fx_close(&f);
	/* more keys than 3/4 of 1024 */
	if (!ASSERT_EQ(fx_pin_deny_many(dir, 1500, text_v6_deny, err, sizeof(err)), 0,
		       "1500 /64 denies committed, growing"))
		fprintf(stderr, "  %s\n", err);

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a program on the grown set"))
		goto out;
	ASSERT_TRUE(f.m.n_tbl6 >= 2048, "tbl6 grew");
	ASSERT_EQ(verdict(&f, "2001:db8:1::5"), XDP_DROP, "the /48 from before the growth");
	ASSERT_EQ(verdict(&f, "2001:db8:1:5::9"), XDP_PASS, "its allow");
	ASSERT_EQ(fx_not_dropped(&f, 1500, text_v6_src), 0, "every new /64 drops");
	ASSERT_EQ(verdict(&f, "2001:db8:2:ffff::1"), XDP_PASS, "and nothing else");
	ASSERT_EQ(fx_deny(&f, "2001:db8:3::/56"), 0, "a commit on the grown table");
	ASSERT_EQ(verdict(&f, "2001:db8:3:0:1::1"), XDP_DROP, "enforced");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

/* The HOST flag of a /24 (its /32 denies are probed in deny_v4) goes
 * when its last /32 deny does, and not before: the count of /32 denies a
 * /24 holds (tbl_hosts) counted again by a writer that opens the set (a
 * store rebuilt), then kept by each commit. */
static void test_datapath_host_flag_follows_32s(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 1024 };
	__u32 x = (198U << 16 | 51 << 8 | 100);	/* 198.51.100.0/24 */
	char dir[96];
	struct fx f;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "host"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a pinned set"))
		goto out;
	ASSERT_EQ(fx_deny(&f, "198.51.100.2"), 0, "a /32 deny");
	ASSERT_EQ(fx_deny(&f, "198.51.100.3"), 0, "another in the same /24");
	ASSERT_EQ(fx_deny(&f, "198.51.100.4"), 0, "and a third");
	fx_close(&f);
	/* another writer: its bookkeeping counted from the entries */
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "opened again"))
		goto out;
	ASSERT_EQ(fx_remove(&f, "198.51.100.2", FENCE_KIND_DENY), 0, "one /32 removed");
	ASSERT_TRUE(*fence_leaf_at(&f.m, x) & FENCE_LEAF_HOST, "the /24 still sends lookups to deny_v4");
	ASSERT_EQ(verdict(&f, "198.51.100.3"), XDP_DROP, "the other /32s still drop");
	ASSERT_EQ(verdict(&f, "198.51.100.2"), XDP_PASS, "the removed one passes");
	{	/* one removed and one added in one commit: two left */
		struct fence_rule_info info = { .owners = FENCE_OWN_MANUAL,
						.manual_action = FENCE_ACT_DROP };
		char err[256] = "";
		struct cidr a, b;

		cidr_parse("198.51.100.3", &a, 0, NULL, 0);
		cidr_parse("198.51.100.9", &b, 0, NULL, 0);
		ASSERT_EQ(table_del(f.t, &a, FENCE_KIND_DENY), 0, "del .3");
		ASSERT_EQ(table_put(f.t, &b, FENCE_KIND_DENY, &info), 0, "add .9");
		ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "in one commit");
	}
	ASSERT_TRUE(*fence_leaf_at(&f.m, x) & FENCE_LEAF_HOST, "the flag stays");
	ASSERT_EQ(verdict(&f, "198.51.100.9"), XDP_DROP, "the new /32 drops");
	ASSERT_EQ(fx_remove(&f, "198.51.100.4", FENCE_KIND_DENY), 0, "another removed");
	ASSERT_EQ(verdict(&f, "198.51.100.9"), XDP_DROP, "the last one still drops");
	ASSERT_EQ(fx_remove(&f, "198.51.100.9", FENCE_KIND_DENY), 0, "the last removed");
	ASSERT_TRUE(!(*fence_leaf_at(&f.m, x) & FENCE_LEAF_HOST), "the flag goes with it");
	ASSERT_EQ(verdict(&f, "198.51.100.9"), XDP_PASS, "nothing drops there");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

/* A slot freed and given to another entry starts its hit counter at zero
 * (a slot never used has the zeros the map was created with). */
static void test_datapath_hits_reset_on_reuse(void)
{
	struct fence_opts o = { .max_rules = 2, .tbl8_groups = 4, .prefix_entries = 128,
				.v6_rules = 256 };
	struct fence_rule_info gone = {};
	struct cidr c;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open with one rule slot"))
		return;
	ASSERT_EQ(fx_deny(&f, "198.51.100.0/24"), 0, "deny A");
	ASSERT_EQ(rule_hits(&f, "198.51.100.0/24", FENCE_KIND_DENY), 0, "never-used slot: no hits");
	for (int i = 0; i < 3; i++)
		verdict(&f, SRC4);
	ASSERT_EQ(rule_hits(&f, "198.51.100.0/24", FENCE_KIND_DENY), 3, "A hit 3 times");
	cidr_parse("198.51.100.0/24", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY, &gone), 0, "delete A");
	ASSERT_EQ(table_commit(f.t, NULL, NULL, 0), 0, "commit delete");
	/* the only slot is quarantined: the commit waits it out, then reuses it */
	ASSERT_EQ(fx_deny(&f, "203.0.113.0/24"), 0, "deny B in A's slot");
	ASSERT_EQ(rule_hits(&f, "203.0.113.0/24", FENCE_KIND_DENY), 0, "B starts at zero");
	verdict(&f, "203.0.113.9");
	ASSERT_EQ(rule_hits(&f, "203.0.113.0/24", FENCE_KIND_DENY), 1, "B counts its own");
	fx_close(&f);
}

static void test_datapath_throttle(void)
{
	struct pkt_spec syn = { .saddr = SRC4, .tcp_flags = TH_SYN };
	struct pkt_spec ack = { .saddr = SRC4, .tcp_flags = TH_ACK };
	struct pkt_spec quic = { .saddr = "2001:db8:1:2::7", .proto = IPPROTO_UDP, .payload = 1200,
				 .quic_first = 0xc3, .quic_version = 1 };
	struct fx f;

	if (!open_fx(&f))
		return;
	/* fixture entries: rate 10/s, burst 3 */
	ASSERT_EQ(fx_entry(&f, "198.51.100.0/24", FENCE_KIND_DENY, FENCE_ACT_THROTTLE, 0,
			   FENCE_OWN_MANUAL), 0, "throttle v4");
	ASSERT_EQ(fx_entry(&f, "2001:db8:1::/48", FENCE_KIND_DENY, FENCE_ACT_THROTTLE, 0,
			   FENCE_OWN_MANUAL), 0, "throttle v6");
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(fx_send(&f, &syn), XDP_PASS, "within burst");
	ASSERT_EQ(fx_send(&f, &syn), XDP_DROP, "4th SYN over burst");
	ASSERT_EQ(fx_send(&f, &syn), XDP_DROP, "5th SYN over burst");
	ASSERT_EQ(fx_send(&f, &ack), XDP_PASS, "established traffic passes");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_THROTTLE_PASS), 4, "throttle_pass");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_THROTTLE), 2, "drop_throttle");
	/* 10/s: one token back after 100 ms, exactly one */
	sleep_ms(150);
	ASSERT_EQ(fx_send(&f, &syn), XDP_PASS, "refilled one");
	ASSERT_EQ(fx_send(&f, &syn), XDP_DROP, "only one");

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(fx_send(&f, &quic), XDP_PASS, "QUIC Initial within burst");
	ASSERT_EQ(fx_send(&f, &quic), XDP_DROP, "QUIC Initial over burst");
	fx_close(&f);
}

static void test_datapath_counters_exact(void)
{
	struct fence_counters c;
	uint8_t buf[PKT_MAX];
	size_t l_syn, l_data, l_v6;
	struct fx f;

	if (!open_fx(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "203.0.113.0/24"), 0, "deny");
	l_syn = pkt_build(&(struct pkt_spec){ .saddr = "198.51.100.7", .tcp_flags = TH_SYN }, buf, NULL);
	for (int i = 0; i < 7; i++)
		fx_run(&f, buf, l_syn);
	l_data = pkt_build(&(struct pkt_spec){ .saddr = "198.51.100.250", .payload = 500 }, buf, NULL);
	for (int i = 0; i < 3; i++)
		fx_run(&f, buf, l_data);
	l_syn = pkt_build(&(struct pkt_spec){ .saddr = "203.0.113.1", .tcp_flags = TH_SYN }, buf, NULL);
	for (int i = 0; i < 4; i++)
		fx_run(&f, buf, l_syn);
	l_v6 = pkt_build(&(struct pkt_spec){ .saddr = "2001:db8:1:2:ffff::1", .tcp_flags = TH_SYN },
			 buf, NULL);
	for (int i = 0; i < 2; i++)
		fx_run(&f, buf, l_v6);

	ASSERT_EQ(fx_prefix(&f, "198.51.100.0", &c), 0, "v4 /24");
	ASSERT_EQ(c.packets, 10, "packets");
	ASSERT_EQ(c.bytes, 7 * l_syn + 3 * l_data, "bytes");
	ASSERT_EQ(c.new_conns, 7, "new_conns");
	ASSERT_EQ(c.drops, 0, "drops");
	ASSERT_TRUE(c.last_seen_ns > 0 && c.last_seen_ns <= fence_now_ns(), "last_seen");
	/* dropped by an entry: counted on the entry, never on the prefix */
	ASSERT_EQ(fx_prefix(&f, "203.0.113.0", &c), -ENOENT, "denied /24: no prefix counters");
	{
		struct fence_entry_counters e = entry_ctr(&f, "203.0.113.0/24", FENCE_KIND_DENY);

		ASSERT_EQ(e.packets, 4, "entry packets");
		ASSERT_EQ(e.bytes, 4 * l_syn, "entry bytes");
		ASSERT_EQ(e.new_conns, 4, "entry new_conns");
	}
	ASSERT_EQ(fx_prefix(&f, "2001:db8:1:2::", &c), 0, "v6 /64");
	ASSERT_EQ(c.packets, 2, "v6 packets");
	ASSERT_EQ(c.bytes, 2 * l_v6, "v6 bytes");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_PASS), 12, "pass");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_MANUAL), 4, "drop_manual");
	ASSERT_EQ(fx_stat_total(&f), 16, "every packet counted once");
	{
		struct fence_stat_val v[FENCE_STAT_MAX];

		fence_read_stats(&f.m, v);
		ASSERT_EQ(v[FENCE_STAT_PASS].bytes, 7 * l_syn + 3 * l_data + 2 * l_v6, "pass bytes");
		ASSERT_EQ(v[FENCE_STAT_DROP_MANUAL].bytes, 4 * l_syn, "drop bytes");
	}
	fx_close(&f);
}

static void test_datapath_aggregation_lengths(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 256, .v4_agg_len = 16, .v6_agg_len = 48 };
	struct fence_counters c;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open /16 /48"))
		return;
	verdict(&f, "198.51.100.7");
	verdict(&f, "198.51.7.7");
	verdict(&f, "2001:db8:1:2::7");
	verdict(&f, "2001:db8:1:3::7");
	ASSERT_EQ(fx_prefix(&f, "198.51.0.0", &c), 0, "/16 key");
	ASSERT_EQ(c.packets, 2, "both /24s in one /16");
	ASSERT_EQ(fx_prefix(&f, "2001:db8:1::", &c), 0, "/48 key");
	ASSERT_EQ(c.packets, 2, "both /64s in one /48");
	fx_close(&f);
}

static void test_datapath_malformed_verdict(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 256, .malformed_drop = true };
	uint8_t buf[PKT_MAX];
	size_t len;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open malformed=drop"))
		return;
	len = pkt_build(&(struct pkt_spec){ .saddr = SRC4 }, buf, NULL);
	buf[14] = 0x44;	/* IHL 4: invalid */
	ASSERT_EQ(fx_run(&f, buf, len), XDP_DROP, "bad IHL dropped");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_ERR_IPV4), 1, "err_ipv4");
	ASSERT_EQ(verdict(&f, SRC4), XDP_PASS, "good frame passes");
	fx_close(&f);
}

static void test_datapath_prefix_lru_bounded(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 128,
				.v6_rules = 256 };
	struct fence_pfx_v4 key, next;
	char src[32];
	int n = 0, err;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	/* a spoofed flood from every /24 of 198.18.0.0/15 (512 of them) */
	for (int i = 0; i < 512; i++) {
		snprintf(src, sizeof(src), "198.%d.%d.1", 18 + (i >> 8), i & 255);
		verdict(&f, src);
	}
	for (err = bpf_map_get_next_key(f.m.fd[FM_PREFIX_V4], NULL, &key); !err;
	     err = bpf_map_get_next_key(f.m.fd[FM_PREFIX_V4], &key, &next), key = next)
		n++;
	ASSERT_TRUE(n > 0 && n <= 128, "LRU never grows past max_entries");
	ASSERT_EQ(fx_stat_total(&f), 512, "every packet still counted per reason");
	fx_close(&f);
}

/* The tick's reader splits the counter maps' buckets between threads: every
 * prefix must come out exactly once, summed over CPUs, whatever the thread
 * count and however sparse the map (a sparse map makes the first thread's
 * batches run through the others' ranges). A third of the prefixes have
 * hosts lately (CPU c marks host 64 * (c % 4) + i % 64; odd CPUs an epoch
 * behind), a third only long ago (never read), the rest none. */
static __u32 fill_epoch;

static void fill_prefixes(struct fx *f, int fd, __u32 n, size_t ksz, __u32 seed)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u8 *keys = calloc(n, ksz);
	struct fence_counters *v = calloc((size_t)n * f->m.ncpus, sizeof(*v));
	__u32 done = 0, e = (__u32)(fence_now_ns() >> FENCE_HOST_EPOCH_SHIFT);

	fill_epoch = e;

	for (__u32 i = 0; i < n; i++) {
		__u32 a = htonl((i * seed + 1) << 8);

		memcpy(keys + (size_t)i * ksz, &a, 4);
		for (int c = 0; c < f->m.ncpus; c++) {
			struct fence_counters *x = &v[(size_t)i * f->m.ncpus + c];

			x->packets = (__u64)i * 3 + c + 1;
			x->bytes = x->packets * 64;
			x->new_conns = i % 5 + c;
			x->drops = c;
			x->last_seen_ns = (__u64)i * 10 + c;
			if (i % 3 == 0) {
				x->host_epoch = e - (c & 1);
				x->hosts[0][c % 4] = 1ULL << (i % 64);
			} else if (i % 3 == 1) {
				x->host_epoch = e - 3;
				x->hosts[0][0] = x->hosts[1][0] = ~0ULL;
			}
		}
	}
	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_update_batch(fd, keys + (size_t)done * ksz, v + (size_t)done * f->m.ncpus,
					 &cnt, &o))
			break;
		done += cnt;
	}
	ASSERT_EQ(done, n, "counter map filled");
	free(keys);
	free(v);
}

static void check_reader(struct fx *f, __u32 n4, __u32 n6, __u32 seed, unsigned threads,
			 unsigned flags)
{
	struct counters_reader *r;
	struct pfx_sample *const *seg;
	const size_t *sn;
	unsigned ns;
	__u32 seen4 = 0, seen6 = 0, bad = 0, bad_hosts = 0, with_hosts = 0;
	__u8 *hit4 = calloc(n4 + 1, 1);
	char what[96];

	snprintf(what, sizeof(what), "%u+%u prefixes, %s", n4, n6,
		 flags & COUNTERS_NO_WALK ? (threads == 1 ? "1 batch thread" : "batch threads") :
		 "kernel walk");
	if (!ASSERT_EQ(counters_reader_new(&r, &f->m, threads, flags), 0, "reader"))
		return;
	/* this kernel has for_each and every CPU online: the walk must be used */
	ASSERT_EQ(counters_reader_walks(r), !(flags & COUNTERS_NO_WALK), "walk in use as asked");
	/* twice: the second read reuses the buffers of the first */
	for (int round = 0; round < 2; round++) {
		seen4 = seen6 = bad = bad_hosts = with_hosts = 0;
		memset(hit4, 0, n4 + 1);
		if (!ASSERT_EQ(counters_reader_read(r, &seg, &sn, &ns), 0, "read"))
			break;
		for (unsigned k = 0; k < ns; k++)
			for (size_t i = 0; i < sn[k]; i++) {
				struct pfx_sample *s = &seg[k][i];
				__u32 a, idx = 0, h, nc = f->m.ncpus < 4 ? (__u32)f->m.ncpus : 4;
				__u64 want = 0, now = fence_now_ns();

				if (s->family == 6) {
					seen6++;
					continue;
				}
				memcpy(&a, s->addr, 4);
				a = ntohl(a) >> 8;
				/* i * seed + 1 == a: find i (seed is odd: invertible mod 2^24) */
				for (idx = 0; idx < n4 && ((idx * seed + 1) & 0xffffff) != a; idx++)
					;
				if (idx == n4 || hit4[idx]++) {
					bad++;
					continue;
				}
				for (int c = 0; c < f->m.ncpus; c++)
					want += (__u64)idx * 3 + c + 1;
				if (s->c.packets != want || s->c.bytes != want * 64 ||
				    s->c.last_seen_ns != (__u64)idx * 10 + f->m.ncpus - 1)
					bad++;
				seen4++;
				if ((__u32)(now >> FENCE_HOST_EPOCH_SHIFT) != fill_epoch)
					continue;	/* an epoch went by: the hosts moved on */
				with_hosts += s->c.hosts != NULL;
				if (idx % 3) {
					bad_hosts += s->c.hosts != NULL;
					continue;
				}
				h = counters_sample_hosts(s, now);
				if (h != nc || !s->c.hosts)
					bad_hosts++;
				else
					for (__u32 c = 0; c < nc; c++)
						bad_hosts += s->c.hosts[0][c] != 1ULL << (idx % 64);
			}
		ASSERT_EQ(seen4, n4, what);
		ASSERT_EQ(seen6, n6, what);
		ASSERT_EQ(bad, 0, "no prefix twice, none unknown, counters summed over CPUs");
		ASSERT_EQ(bad_hosts, 0, "hosts of lately ORed over CPUs, none of long ago");
		if (n4 >= 3 && (__u32)(fence_now_ns() >> FENCE_HOST_EPOCH_SHIFT) == fill_epoch)
			ASSERT_EQ(with_hosts, (n4 + 2) / 3, "host sets only where there are hosts");
		ASSERT_EQ(counters_reader_walks(r), !(flags & COUNTERS_NO_WALK), "walk still in use");
	}
	counters_reader_free(r);
	free(hit4);
}

static void test_datapath_counters_reader(void)
{
	static const __u32 sizes[] = { 0, 1, 37, 5000, 60000 };
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 300000,
				.v6_rules = 256 };
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		__u32 zero = 0;

		/* empty both maps, then n v4 prefixes and a few v6 ones */
		while (!bpf_map_get_next_key(f.m.fd[FM_PREFIX_V4], NULL, &zero))
			bpf_map_delete_elem(f.m.fd[FM_PREFIX_V4], &zero);
		fill_prefixes(&f, f.m.fd[FM_PREFIX_V4], sizes[k], sizeof(struct fence_pfx_v4), 40503);
		if (k == 2)
			fill_prefixes(&f, f.m.fd[FM_PREFIX_V6], 3, sizeof(struct fence_pfx_v6), 7);
		for (unsigned th = 1; th <= 8; th *= 2)
			check_reader(&f, sizes[k], k >= 2 ? 3 : 0, 40503, th, COUNTERS_NO_WALK);
		check_reader(&f, sizes[k], k >= 2 ? 3 : 0, 40503, 0, 0);
	}
	fx_close(&f);
}

/* Reads while two threads add and remove prefixes: the per-CPU walks see
 * different sets (a new prefix goes to the head of its bucket, ahead of
 * stable ones), so the merge has lists to bring back in line. Every stable
 * prefix must come out once with its sums, no prefix twice. */
#define CHURN_STABLE 100000
struct churn {
	int fd, ncpus, id;
	volatile int *stop;
	__u32 rounds;
};

static void *churn_thread(void *arg)
{
	struct churn *ch = arg;
	struct fence_counters *v = calloc(ch->ncpus, sizeof(*v));

	for (__u32 x = 0; v && !*ch->stop; x++) {
		__u32 base = 0x80000000U | (__u32)ch->id << 30;
		__u32 k = htonl(base | (x % 4096) << 8), old = htonl(base | ((x - 256) % 4096) << 8);

		for (int c = 0; c < ch->ncpus; c++)
			v[c].packets = 1;
		bpf_map_update_elem(ch->fd, &k, v, BPF_ANY);
		if (x >= 256)
			bpf_map_delete_elem(ch->fd, &old);
		ch->rounds++;
	}
	free(v);
	return NULL;
}

static void test_datapath_counters_reader_churn(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 262144,
				.v6_rules = 256 };
	struct fence_counters *v = NULL;
	static __u32 keys[CHURN_STABLE];
	static __u8 hit[CHURN_STABLE];
	struct counters_reader *r = NULL;
	struct churn ch[2] = {};
	volatile int stop = 0;
	pthread_t th[2];
	__u32 bad = 0, missing = 0, dup_churn = 0, done = 0;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	v = calloc((size_t)CHURN_STABLE * f.m.ncpus, sizeof(*v));
	if (!ASSERT_TRUE(v != NULL, "memory"))
		goto out;
	for (__u32 i = 0; i < CHURN_STABLE; i++) {
		keys[i] = htonl((i + 1) << 8);
		for (int c = 0; c < f.m.ncpus; c++)
			v[(size_t)i * f.m.ncpus + c] = (struct fence_counters){
				.packets = (__u64)i * 3 + c + 1, .last_seen_ns = i };
	}
	while (done < CHURN_STABLE) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		__u32 cnt = CHURN_STABLE - done;

		if (bpf_map_update_batch(f.m.fd[FM_PREFIX_V4], keys + done, v + (size_t)done * f.m.ncpus,
					 &cnt, &bo))
			break;
		done += cnt;
	}
	ASSERT_EQ(done, CHURN_STABLE, "stable prefixes in");
	if (!ASSERT_EQ(counters_reader_new(&r, &f.m, 0, 0), 0, "reader") ||
	    !ASSERT_TRUE(counters_reader_walks(r), "the kernel walk reads"))
		goto out;
	/* two threads, so that the walks on the two CPUs start apart */
	for (int i = 0; i < 2; i++) {
		ch[i] = (struct churn){ f.m.fd[FM_PREFIX_V4], f.m.ncpus, i, &stop, 0 };
		if (!ASSERT_EQ(pthread_create(&th[i], NULL, churn_thread, &ch[i]), 0, "churn thread"))
			goto out;
	}
	for (int round = 0; round < 20; round++) {
		static __u8 churn_seen[2 * 4096];
		struct pfx_sample *const *seg;
		const size_t *sn;
		unsigned ns;

		memset(hit, 0, sizeof(hit));
		memset(churn_seen, 0, sizeof(churn_seen));
		if (!ASSERT_EQ(counters_reader_read(r, &seg, &sn, &ns), 0, "read"))
			break;
		for (unsigned k = 0; k < ns; k++)
			for (size_t i = 0; i < sn[k]; i++) {
				__u32 a;
				__u64 want = 0;

				memcpy(&a, seg[k][i].addr, 4);
				a = ntohl(a);
				if (a & 0x80000000U) {
					dup_churn += churn_seen[(a >> 30 & 1) * 4096 + ((a >> 8) & 4095)]++ > 0;
					continue;
				}
				a = (a >> 8) - 1;
				if (a >= CHURN_STABLE || hit[a]++) {
					bad++;
					continue;
				}
				for (int c = 0; c < f.m.ncpus; c++)
					want += (__u64)a * 3 + c + 1;
				bad += seg[k][i].c.packets != want;
			}
		for (__u32 i = 0; i < CHURN_STABLE; i++)
			missing += !hit[i];
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ASSERT_TRUE(ch[0].rounds + ch[1].rounds > 1000, "the map churned during the reads");
	ASSERT_EQ(missing, 0, "every stable prefix read, every time");
	ASSERT_EQ(bad, 0, "none twice, each with its sums");
	ASSERT_EQ(dup_churn, 0, "no churned prefix twice");
out:
	free(v);
	counters_reader_free(r);
	fx_close(&f);
}

/* A walk that stops short (its region fills: in a map that churns under a
 * spoofed flood, a walk can meet prefixes moved ahead of it again) must
 * not fail the read: batch lookups read it, and the read says so. Regions
 * half the map's size make every walk of a fuller map stop short. */
static void test_datapath_counters_reader_cut_short(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 4096,
				.v6_rules = 256 };
	struct counters_reader *r = NULL;
	struct counters_stats st = {};
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	fill_prefixes(&f, f.m.fd[FM_PREFIX_V4], 3000, sizeof(struct fence_pfx_v4), 40503);
	if (!ASSERT_EQ(counters_reader_new(&r, &f.m, 0, COUNTERS_SHORT_REGIONS), 0, "reader") ||
	    !ASSERT_TRUE(counters_reader_walks(r), "the kernel walk reads"))
		goto out;
	counters_reader_free(r);
	r = NULL;
	check_reader(&f, 3000, 0, 40503, 0, COUNTERS_SHORT_REGIONS);
	if (!ASSERT_EQ(counters_reader_new(&r, &f.m, 0, COUNTERS_SHORT_REGIONS), 0, "reader"))
		goto out;
	for (int i = 0; i < 3; i++) {
		struct pfx_sample *const *seg;
		const size_t *sn;
		unsigned ns;

		ASSERT_EQ(counters_reader_read(r, &seg, &sn, &ns), 0, "a walk cut short still reads");
	}
	counters_reader_stats(r, &st);
	ASSERT_EQ(st.reads, 3, "three reads");
	ASSERT_EQ(st.fallbacks, 3, "each by batch lookups, and counted");
	ASSERT_EQ(st.failed, 0, "none failed");
out:
	counters_reader_free(r);
	fx_close(&f);
}

/* The engine's reader reads only what the data path counted since its
 * last read (active_log): the first read is a whole one; then each read
 * gives the prefixes counted since, with their counters summed over the
 * CPUs that counted them (those of other CPUs too), and nothing else; an
 * epoch whose log overflowed is read whole again. */
static int read_changed(struct counters_reader *r, struct pfx_sample *out, int max, bool *changes)
{
	struct pfx_sample *const *seg;
	const size_t *sn;
	unsigned ns;
	int n = 0;

	if (counters_reader_read(r, &seg, &sn, &ns))
		return -1;
	for (unsigned k = 0; k < ns; k++)
		for (size_t i = 0; i < sn[k] && n < max; i++)
			out[n++] = seg[k][i];
	*changes = counters_reader_changes_only(r);
	return n;
}

static const struct pfx_sample *find_v4(const struct pfx_sample *v, int n, const char *pfx)
{
	__u8 a[4];

	inet_pton(AF_INET, pfx, a);
	for (int i = 0; i < n; i++)
		if (v[i].family == 4 && !memcmp(v[i].addr, a, 4))
			return &v[i];
	return NULL;
}

static void on_cpu(int cpu)
{
	cpu_set_t cs;

	CPU_ZERO(&cs);
	CPU_SET(cpu, &cs);
	sched_setaffinity(0, sizeof(cs), &cs);
}

static void test_datapath_counters_changes_only(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 1024,
				.v6_rules = 256 };
	static struct pfx_sample v[4096];
	struct counters_reader *r = NULL;
	const struct pfx_sample *a, *b;
	cpu_set_t all;
	char src[32];
	bool ch;
	int n;
	struct fx f;

	sched_getaffinity(0, sizeof(all), &all);
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	if (!ASSERT_EQ(counters_reader_new(&r, &f.m, 0, COUNTERS_CHANGES), 0, "reader"))
		goto out;
	ASSERT_EQ(verdict(&f, "198.51.100.1"), XDP_PASS, "before any epoch");
	n = read_changed(r, v, 4096, &ch);
	ASSERT_TRUE(n == 1 && !ch, "the first read is whole");

	on_cpu(0);
	for (int i = 0; i < 3; i++)
		verdict(&f, "198.51.100.1");
	verdict(&f, "203.0.113.5");
	on_cpu(f.m.ncpus > 1 ? 1 : 0);
	for (int i = 0; i < 2; i++)
		verdict(&f, "198.51.100.9");
	sched_setaffinity(0, sizeof(all), &all);
	n = read_changed(r, v, 4096, &ch);
	ASSERT_TRUE(ch, "then only what changed");
	ASSERT_EQ(n, 2, "the two prefixes counted since");
	a = find_v4(v, n, "198.51.100.0");
	b = find_v4(v, n, "203.0.113.0");
	ASSERT_TRUE(a && a->c.packets == 6, "summed over the CPUs that counted it, from the start");
	ASSERT_TRUE(b && b->c.packets == 1, "the other one");

	verdict(&f, "203.0.113.77");
	n = read_changed(r, v, 4096, &ch);
	ASSERT_TRUE(ch && n == 1, "one counted since");
	b = find_v4(v, n, "203.0.113.0");
	ASSERT_TRUE(b && b->c.packets == 2, "its counters whole");
	n = read_changed(r, v, 4096, &ch);
	ASSERT_TRUE(ch && n == 0, "nothing counted: nothing read");

	/* more first packets than the log holds: the next read is whole */
	for (int i = 0; i < 1100; i++) {
		snprintf(src, sizeof(src), "198.%d.%d.1", 18 + (i >> 8), i & 255);
		verdict(&f, src);
	}
	n = read_changed(r, v, 4096, &ch);
	ASSERT_TRUE(!ch && n > 0, "an overflowed epoch is read whole");
	verdict(&f, "203.0.113.77");
	n = read_changed(r, v, 4096, &ch);
	ASSERT_TRUE(ch && n == 1, "and only what changed after it");
out:
	counters_reader_free(r);
	fx_close(&f);
}

static void syn_from(struct fx *f, const char *src)
{
	uint8_t buf[PKT_MAX];
	size_t l = pkt_build(&(struct pkt_spec){ .saddr = src, .tcp_flags = TH_SYN }, buf, NULL);

	fx_run(f, buf, l);
}

/* The engine's read of what changed (counters_sum in the kernel) carries
 * the hosts as the walk and the batch reads do: ORed over the CPUs that
 * counted the prefix, as of the latest host epoch among them. */
static void test_datapath_hosts_changes_only(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 1024,
				.v6_rules = 256 };
	static struct pfx_sample v[4096];
	struct counters_reader *r = NULL;
	struct pfx_sample *a;
	int n, cpu1;
	__u8 k6[16];
	cpu_set_t all;
	char src[64];
	bool ch;
	struct fx f;

	sched_getaffinity(0, sizeof(all), &all);
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	cpu1 = f.m.ncpus > 1 ? 1 : 0;
	if (!ASSERT_EQ(counters_reader_new(&r, &f.m, 0, COUNTERS_CHANGES), 0, "reader"))
		goto out;
	read_changed(r, v, 4096, &ch);		/* the first read is whole */

	on_cpu(0);
	for (int i = 1; i <= 10; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		syn_from(&f, src);
	}
	syn_from(&f, "2001:db8:9::1");
	syn_from(&f, "2001:db8:9::2");
	on_cpu(cpu1);
	for (int i = 5; i <= 20; i++) {	/* .5 to .10 on both CPUs */
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		syn_from(&f, src);
	}
	syn_from(&f, "2001:db8:9::2");
	syn_from(&f, "2001:db8:9::3");
	sched_setaffinity(0, sizeof(all), &all);
	n = read_changed(r, v, 4096, &ch);
	ASSERT_TRUE(ch && n == 2, "only what changed: a /24 and a /64");
	a = (struct pfx_sample *)find_v4(v, n, "198.51.100.0");
	if (ASSERT_TRUE(a != NULL, "the /24 read")) {
		ASSERT_EQ(a->c.new_conns, 26, "new connections summed");
		ASSERT_EQ(counters_sample_hosts(a, fence_now_ns()), 20, "20 hosts, ORed over CPUs");
		ASSERT_EQ(a->c.hosts[0][0], 0x1ffffeULL, "hosts .1 to .20");
	}
	inet_pton(AF_INET6, "2001:db8:9::", k6);
	a = NULL;
	for (int i = 0; i < n; i++)
		if (v[i].family == 6 && !memcmp(v[i].addr, k6, 16))
			a = &v[i];
	if (ASSERT_TRUE(a != NULL, "the /64 read"))
		ASSERT_EQ(counters_sample_hosts(a, fence_now_ns()), 3, "3 IPv6 hosts");

	on_cpu(0);
	syn_from(&f, "198.51.100.30");
	sched_setaffinity(0, sizeof(all), &all);
	n = read_changed(r, v, 4096, &ch);
	a = (struct pfx_sample *)find_v4(v, n, "198.51.100.0");
	ASSERT_TRUE(ch && n == 1 && a, "read again once counted again");
	if (a)
		ASSERT_EQ(counters_sample_hosts(a, fence_now_ns()), 21, "its hosts of the epoch kept");

	/* CPUs an epoch apart, planted: the one behind gives its current
	 * hosts as the previous epoch's, and its previous ones are too old */
	if (f.m.ncpus > 1) {
		struct fence_counters *pc = calloc(f.m.ncpus, sizeof(*pc));
		__u32 e = (__u32)(fence_now_ns() >> FENCE_HOST_EPOCH_SHIFT);
		__be32 k4 = htonl(0xcb007100);	/* 203.0.113.0 */

		if (!pc)
			goto out;
		pc[0].host_epoch = e;
		pc[0].hosts[0][0] = 1;		/* .0, now */
		pc[1].host_epoch = e - 1;
		pc[1].hosts[0][1] = 1;		/* .64, the epoch before */
		pc[1].hosts[1][2] = 1;		/* .128, two before */
		ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_PREFIX_V4], &k4, pc, BPF_ANY), 0, "planted");
		free(pc);
		on_cpu(0);
		verdict(&f, "203.0.113.200");	/* logs it; opens nothing */
		sched_setaffinity(0, sizeof(all), &all);
		n = read_changed(r, v, 4096, &ch);
		a = (struct pfx_sample *)find_v4(v, n, "203.0.113.0");
		if (ASSERT_TRUE(ch && a && a->c.hosts, "the planted prefix read, with hosts")) {
			ASSERT_EQ(a->c.host_epoch, e, "as of the latest epoch");
			ASSERT_EQ(a->c.hosts[0][0], 1ULL, "CPU 0's current");
			ASSERT_EQ(a->c.hosts[1][1], 1ULL, "CPU 1's current as the previous");
			ASSERT_EQ(a->c.hosts[1][2] | a->c.hosts[0][2], 0, "CPU 1's previous dropped");
			ASSERT_EQ(counters_sample_hosts(a, fence_now_ns()), 2, ".0 and .64");
		}
	}
out:
	sched_setaffinity(0, sizeof(all), &all);
	counters_reader_free(r);
	fx_close(&f);
}

/* What the merge set aside is read whole: each prefix once however often
 * it was set aside, summed over CPUs, appended; one gone since left out. */
static void test_datapath_counters_settle(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 1024,
				.v6_rules = 256 };
	struct pfx_sample orphans[5] = {}, out[8] = {};
	struct fence_walk_hosts hosts[5];
	struct fence_counters *v, *scratch;
	__u32 e = (__u32)(fence_now_ns() >> FENCE_HOST_EPOCH_SHIFT);
	__u32 keys[3] = { htonl(0xc6120100), htonl(0xc6120200), htonl(0xc6120300) };
	int order[5] = { 1, 0, 1, 2, 0 };	/* B A B C A; C is not in the map */
	size_t n_out = 1;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	v = calloc(f.m.ncpus, sizeof(*v));
	scratch = calloc(f.m.ncpus, sizeof(*scratch));
	for (int k = 0; k < 2; k++) {
		for (int c = 0; c < f.m.ncpus; c++) {
			v[c] = (struct fence_counters){ .packets = 10 * (k + 1) + c, .drops = 1 };
			/* A: hosts .c on CPU c lately; B: long ago only */
			v[c].host_epoch = k ? e - 2 : e;
			v[c].hosts[0][0] = 1ULL << (c % 64);
		}
		ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_PREFIX_V4], &keys[k], v, BPF_ANY), 0, "prefix in");
	}
	for (int i = 0; i < 5; i++) {
		orphans[i].family = 4;
		memcpy(orphans[i].addr, &keys[order[i]], 4);
		orphans[i].c.packets = 999;	/* one CPU's count: not what comes out */
	}
	ASSERT_EQ(counters_settle(&f.m, orphans, 5, scratch, hosts, e ? e - 1 : 0, out, &n_out), 0,
		  "settle");
	ASSERT_EQ(n_out, 3, "appended: A and B once each, C left out");
	for (size_t i = 1; i < n_out && i < 3; i++) {
		__u32 k;
		__u64 want = 0;

		memcpy(&k, out[i].addr, 4);
		k = ntohl(k) == 0xc6120100 ? 0 : 1;
		for (int c = 0; c < f.m.ncpus; c++)
			want += 10 * (k + 1) + c;
		ASSERT_EQ(out[i].c.packets, want, "summed over CPUs from the map");
		ASSERT_EQ(out[i].c.drops, (__u64)f.m.ncpus, "every counter summed");
		if (k)
			ASSERT_TRUE(!out[i].c.hosts, "hosts of long ago left out");
		else if (ASSERT_TRUE(out[i].c.hosts != NULL, "hosts of lately read"))
			ASSERT_EQ(out[i].c.hosts[0][0],
				  f.m.ncpus >= 64 ? ~0ULL : (1ULL << f.m.ncpus) - 1, "ORed over CPUs");
	}
	free(v);
	free(scratch);
	fx_close(&f);
}

/* The walk's merge: per-CPU lists that line up but where one walk saw a
 * prefix another did not. Aligned prefixes are summed, the others set
 * aside once per list (to be read whole), none lost, none summed twice. */
static struct fence_walk_rec mrec(__u32 key, __u64 packets)
{
	struct fence_walk_rec r = { .family = 4 };

	memcpy(r.addr, &key, 4);
	r.packets = packets;
	r.last_seen_ns = packets;
	return r;
}

static int collect(void *ctx, const struct fence_walk_rec *r)
{
	__u32 *seen = ctx, key;

	memcpy(&key, r->addr, 4);
	seen[key]++;
	return 0;
}

static void test_datapath_counters_merge(void)
{
	/* CPU 1's walk missed key 3 (added after it passed) and saw key 9
	 * (added after CPU 0 passed); key 7 moved out of the window in list 2;
	 * list 2 ends early */
	static const __u32 k0[] = { 1, 2, 3, 4, 5, 6, 7, 8 }, k1[] = { 1, 2, 9, 4, 5, 6, 7, 8 };
	static const __u32 k2[] = { 1, 2, 3, 4, 5, 6 };
	struct fence_walk_rec a[8], b[8], c[6];
	const struct fence_walk_rec *l[3] = { a, b, c };
	__u32 n[3] = { 8, 8, 6 }, seen[16] = {};
	struct pfx_sample out[32];
	size_t n_out = 0;
	__u64 sum[16] = {};

	for (int i = 0; i < 8; i++) {
		a[i] = mrec(k0[i], 100 + k0[i]);
		b[i] = mrec(k1[i], 200 + k1[i]);
	}
	for (int i = 0; i < 6; i++)
		c[i] = mrec(k2[i], 300 + k2[i]);
	ASSERT_EQ(counters_merge(l, NULL, n, 3, out, &n_out, collect, seen), 0, "merge");
	for (size_t i = 0; i < n_out; i++) {
		__u32 key;

		memcpy(&key, out[i].addr, 4);
		sum[key] += out[i].c.packets;
		ASSERT_EQ(out[i].c.last_seen_ns, 300 + key, "last seen: the latest of the CPUs");
	}
	ASSERT_EQ(n_out, 5, "aligned prefixes summed: 1 2 4 5 6");
	for (__u32 key = 1; key <= 6; key++)
		if (key != 3)
			ASSERT_EQ(sum[key], 600 + 3 * key, "summed over the three CPUs");
	ASSERT_TRUE(seen[3] == 2 && seen[9] == 1 && seen[7] == 2 && seen[8] == 2,
		    "the prefixes not seen by every walk are set aside, once per list");
	ASSERT_TRUE(!sum[3] && !sum[7] && !sum[8] && !sum[9], "and never summed in part");
}

/* Runs longer than the resync window: list 1 saw 100 prefixes list 0 did
 * not (a burst of new sources between the two walks), list 0 saw 100 that
 * list 1 did not (evicted in between). Only those are set aside. */
static void test_datapath_counters_merge_long_runs(void)
{
	static struct fence_walk_rec a[300], b[300];
	const struct fence_walk_rec *l[2] = { a, b };
	static __u32 seen[2000];
	static struct pfx_sample out[600];
	__u32 n[2] = { 0, 0 }, orphans = 0;
	size_t n_out = 0;
	bool sums = true;

	for (__u32 key = 1; key <= 200; key++) {
		if (key == 51)		/* list 1 only */
			for (__u32 x = 1000; x < 1100; x++)
				b[n[1]++] = mrec(x, 1);
		if (key == 121)		/* list 0 only */
			for (__u32 x = 1500; x < 1600; x++)
				a[n[0]++] = mrec(x, 1);
		a[n[0]++] = mrec(key, 100 + key);
		b[n[1]++] = mrec(key, 200 + key);
	}
	ASSERT_EQ(counters_merge(l, NULL, n, 2, out, &n_out, collect, seen), 0, "merge");
	ASSERT_EQ(n_out, 200, "every prefix both walks saw is summed");
	for (size_t i = 0; i < n_out; i++) {
		__u32 key;

		memcpy(&key, out[i].addr, 4);
		sums &= key <= 200 && out[i].c.packets == 300 + 2 * key;
	}
	ASSERT_TRUE(sums, "each once, with both CPUs' counts");
	for (__u32 x = 0; x < 2000; x++)
		orphans += seen[x];
	ASSERT_EQ(orphans, 200, "only the runs are set aside");
	ASSERT_TRUE(seen[1000] == 1 && seen[1099] == 1 && seen[1500] == 1 && seen[1599] == 1,
		    "both runs, once each");
}

static struct fence_walk_rec mrec6(__u32 i, __u64 packets)
{
	struct fence_walk_rec r = { .family = 6 };

	/* 2001:db8:I::/64, I in the third and fourth groups: the high bytes
	 * of a little-endian load, as a flood of /64s varies them */
	memcpy(r.addr, "\x20\x01\x0d\xb8", 4);
	r.addr[4] = i >> 24;
	r.addr[5] = i >> 16;
	r.addr[6] = i >> 8;
	r.addr[7] = i;
	r.packets = packets;
	r.last_seen_ns = packets;
	return r;
}

static int count_orphan(void *ctx, const struct fence_walk_rec *r)
{
	(void)r;
	++*(__u32 *)ctx;
	return 0;
}

/* IPv6 /64s that two walks saw in different orders (the map changed
 * between them: blocks of 100 swapped pairwise), after a burst of 50,000
 * that only the second saw: list 0's prefixes are looked up in list 1's
 * index a thousand times, and its hash must spread /64s (it once kept
 * their varying bits out of its low bits: thousands of probes a lookup,
 * seconds a tick for a gateway under an IPv6 flood). */
static void test_datapath_counters_merge_v6_burst(void)
{
	static struct fence_walk_rec a[100000], b[150000];
	static struct pfx_sample out[150000];
	const struct fence_walk_rec *l[2] = { a, b };
	__u32 n[2] = { 0, 0 }, orphans = 0;
	size_t n_out = 0;
	bool sums = true;
	struct timespec t0, t1;
	double took;

	for (__u32 x = 0; x < 50000; x++)
		b[n[1]++] = mrec6(0x10000000 + x, 1);
	for (__u32 i = 0; i < 100000; i++) {
		__u32 block = i / 100, j = (block ^ 1) * 100 + i % 100;

		a[n[0]++] = mrec6(i, 1);
		b[n[1]++] = mrec6(j, 2);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(counters_merge(l, NULL, n, 2, out, &n_out, count_orphan, &orphans), 0, "merge");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (size_t i = 0; i < n_out; i++)
		sums &= out[i].c.packets == 3;
	ASSERT_TRUE(n_out >= 49000, "half the reordered prefixes, at least, summed");
	ASSERT_TRUE(sums, "each with both CPUs' counts");
	ASSERT_EQ(orphans, n[0] + n[1] - 2 * n_out, "every other prefix set aside, once per list");
	/* a few ms here; the clustered hash took seconds */
	if (!ASSERT_TRUE(took < 1.0, "merged in well under a second"))
		fprintf(stderr, "  merge took %.3f s\n", took);
}

/* Where libxdp's dispatcher cannot load, the program that was on the
 * interface runs after xdpfence through the `chain` prog array. */
static void test_datapath_chain(void)
{
	struct bench_lpm *next = bench_lpm__open_and_load();
	int key = 0, fd;
	struct fx f;

	if (!ASSERT_TRUE(next != NULL, "load a program to chain to"))
		return;
	if (!open_fx(&f))
		goto out;
	ASSERT_EQ(fx_deny(&f, "203.0.113.0/24"), 0, "deny");
	ASSERT_EQ(verdict(&f, SRC4), XDP_PASS, "nothing chained: pass");
	fd = bpf_program__fd(next->progs.xdp_drop_all);
	ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(f.skel->maps.chain), &key, &fd, BPF_ANY), 0,
		  "chain xdp_drop_all");
	ASSERT_EQ(verdict(&f, SRC4), XDP_DROP, "passed by us, dropped by the next program");
	ASSERT_EQ(verdict(&f, "203.0.113.5"), XDP_DROP, "dropped by us");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_PASS), 2, "our verdict still counted");
	ASSERT_EQ(fx_stat(&f, FENCE_STAT_DROP_MANUAL), 1, "our drop counted");
	fx_close(&f);
out:
	bench_lpm__destroy(next);
}

/* Every truncation length of every test frame: a verdict, no fault, and the
 * parse error counted exactly where the headers end. */
static void truncations(const struct pkt_spec *s, const char *name)
{
	uint8_t buf[PKT_MAX];
	struct pkt_layout lay;
	size_t len = pkt_build(s, buf, &lay);
	int v6 = strchr(s->saddr, ':') != NULL, l4 = s->proto != IPPROTO_ICMP &&
		 !(s->v4_frag & 0x1fff) && !(s->n_ext && s->ext[s->n_ext - 1] == IPPROTO_FRAGMENT &&
					      (s->v6_frag & 0xfff8));
	struct fence_stat_val before[FENCE_STAT_MAX], after[FENCE_STAT_MAX];
	struct fx f;
	int bad = 0;

	if (!open_fx(&f))
		return;
	for (size_t cut = 0; cut <= len; cut++) {
		unsigned want;
		int r;

		fence_read_stats(&f.m, before);
		r = fx_run(&f, buf, cut);
		if (cut < ETH_HLEN) {
			/* the kernel never hands XDP less than an Ethernet header */
			if (r != -EINVAL)
				bad++, TEST_FAIL_AT("%s: cut %zu: got %d, want -EINVAL", name, cut, r);
			continue;
		}
		if (cut < lay.vlan_end)
			want = FENCE_STAT_ERR_VLAN;
		else if (cut < lay.l3_end)
			want = v6 ? FENCE_STAT_ERR_IPV6 : FENCE_STAT_ERR_IPV4;
		else if (cut < lay.ext_end)
			want = FENCE_STAT_ERR_IPV6_EXT;
		else if (l4 && cut < lay.l4_end)
			want = FENCE_STAT_ERR_L4;
		else
			want = FENCE_STAT_PASS;
		fence_read_stats(&f.m, after);
		if (r != XDP_PASS)
			bad++, TEST_FAIL_AT("%s: cut %zu: verdict %d", name, cut, r);
		for (unsigned k = 0; k < FENCE_STAT_MAX; k++) {
			__u64 d = after[k].packets - before[k].packets;

			if (d != (k == want))
				bad++, TEST_FAIL_AT("%s: cut %zu: %s counted %llu, want %d", name, cut,
						    fence_stat_name(k), (unsigned long long)d, k == want);
		}
	}
	/* with the source denied, any cut that still holds the IP source drops */
	ASSERT_EQ(fx_deny(&f, v6 ? "2001:db8:1::/48" : "198.51.100.0/24"), 0, "deny");
	for (size_t cut = lay.l3_end; cut <= len; cut++)
		if (fx_run(&f, buf, cut) != XDP_DROP)
			bad++, TEST_FAIL_AT("%s: cut %zu with source denied: not dropped", name, cut);
	bad ? n_fail++ : n_pass++;
	fx_close(&f);
}

static void test_datapath_truncation(void)
{
	static const struct pkt_spec specs[] = {
		{ .saddr = SRC4, .tcp_flags = TH_SYN },
		{ .saddr = SRC6, .tcp_flags = TH_SYN },
		{ .saddr = SRC4, .n_vlan = 1, .tcp_flags = TH_SYN },
		{ .saddr = SRC6, .n_vlan = 2, .tpid = { 0x88a8, 0x8100 }, .tcp_flags = TH_SYN },
		{ .saddr = SRC4, .v4_opt_len = 40, .tcp_flags = TH_SYN },
		{ .saddr = SRC4, .v4_frag = 0x2000, .tcp_flags = TH_SYN },
		{ .saddr = SRC4, .v4_frag = 185, .payload = 40 },
		{ .saddr = SRC6, .n_ext = 1, .ext = { IPPROTO_HOPOPTS }, .tcp_flags = TH_SYN },
		{ .saddr = SRC6, .n_ext = 1, .ext = { IPPROTO_ROUTING }, .tcp_flags = TH_SYN },
		{ .saddr = SRC6, .n_ext = 1, .ext = { IPPROTO_DSTOPTS }, .tcp_flags = TH_SYN },
		{ .saddr = SRC6, .n_ext = 1, .ext = { IPPROTO_FRAGMENT }, .v6_frag = 1, .tcp_flags = TH_SYN },
		{ .saddr = SRC6, .n_ext = 1, .ext = { IPPROTO_FRAGMENT }, .v6_frag = 8 << 3, .payload = 40 },
		{ .saddr = SRC6, .n_ext = 6, .ext = { 0, 60, 43, 60, 44, 60 }, .tcp_flags = TH_SYN },
		{ .saddr = SRC4, .tcp_flags = TH_SYN | TH_ACK },
		{ .saddr = SRC4, .tcp_flags = TH_ACK, .payload = 64 },
		{ .saddr = SRC4, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0xc3, .quic_version = 1 },
		{ .saddr = SRC6, .proto = IPPROTO_UDP, .payload = 1200, .quic_first = 0x43, .quic_version = 1 },
		{ .saddr = SRC4, .proto = IPPROTO_ICMP },
	};
	char name[64];

	for (unsigned i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		snprintf(name, sizeof(name), "frame %u", i);
		truncations(&specs[i], name);
	}
}

/* Distinct hosts: each SYN's source marks its host, other packets none;
 * exact for an IPv4 /24, an estimate for an IPv6 /64. */
static void test_datapath_hosts(void)
{
	struct fence_counters c;
	uint8_t buf[PKT_MAX];
	char a[64];
	struct fx f;
	size_t l;
	__u32 n;

	if (!open_fx(&f))
		return;
	for (int i = 1; i <= 64; i++) {
		snprintf(a, sizeof(a), "198.18.7.%d", i);
		l = pkt_build(&(struct pkt_spec){ .saddr = a, .tcp_flags = TH_SYN }, buf, NULL);
		fx_run(&f, buf, l);
		fx_run(&f, buf, l);		/* twice: one host */
	}
	l = pkt_build(&(struct pkt_spec){ .saddr = "198.18.7.100", .payload = 100 }, buf, NULL);
	fx_run(&f, buf, l);			/* not a new connection */
	l = pkt_build(&(struct pkt_spec){ .saddr = "198.18.7.101", .tcp_flags = TH_SYN | TH_ACK },
		      buf, NULL);
	fx_run(&f, buf, l);			/* a SYN-ACK opens nothing */
	if (!ASSERT_EQ(fx_prefix(&f, "198.18.7.0", &c), 0, "v4 /24"))
		goto out;
	ASSERT_EQ(c.new_conns, 128, "new connections");
	n = counters_hosts(&c, 4, fence_now_ns());
	ASSERT_EQ(n, 64, "64 hosts, exactly");
	ASSERT_EQ(c.hosts[0][0], ~1ULL, "hosts .1 to .63");
	ASSERT_EQ(c.hosts[0][1], 1ULL, "and .64 (.65 not)");
	ASSERT_EQ(c.hosts[0][2] | c.hosts[0][3], 0, "not .100 nor .101");
	ASSERT_EQ(counters_hosts(&c, 4, fence_now_ns() + (2ULL << FENCE_HOST_EPOCH_SHIFT)), 0,
		  "two epochs later: none");

	for (int i = 1; i <= 400; i++) {
		snprintf(a, sizeof(a), "2001:db8:7::%x:%x", i * 7919 % 65536, i);
		l = pkt_build(&(struct pkt_spec){ .saddr = a, .tcp_flags = TH_SYN }, buf, NULL);
		fx_run(&f, buf, l);
	}
	if (ASSERT_EQ(fx_prefix(&f, "2001:db8:7::", &c), 0, "v6 /64")) {
		n = counters_hosts(&c, 6, fence_now_ns());
		if (!ASSERT_TRUE(n >= 340 && n <= 460, "400 hosts: an estimate within 15%"))
			fprintf(stderr, "  estimate %u\n", n);
	}
	for (int i = 1; i <= 5; i++) {
		snprintf(a, sizeof(a), "2001:db8:8::%d", i);
		l = pkt_build(&(struct pkt_spec){ .saddr = a, .tcp_flags = TH_SYN }, buf, NULL);
		fx_run(&f, buf, l);
	}
	if (ASSERT_EQ(fx_prefix(&f, "2001:db8:8::", &c), 0, "v6 /64, 5 hosts")) {
		n = counters_hosts(&c, 6, fence_now_ns());
		if (!ASSERT_TRUE(n >= 4 && n <= 6, "5 hosts: 4 to 6"))
			fprintf(stderr, "  estimate %u\n", n);
	}
out:
	fx_close(&f);
}

/* Summing CPUs: hosts of one epoch join; a CPU an epoch behind gives its
 * hosts as the previous epoch's; older ones do not count. */
static void test_datapath_hosts_epochs(void)
{
	__u32 e = (__u32)(fence_now_ns() >> FENCE_HOST_EPOCH_SHIFT);
	__u64 now = fence_now_ns();
	struct fence_counters s = {}, c[3] = {};

	c[0].host_epoch = e;
	c[0].hosts[0][0] = 1;			/* .0, now */
	c[0].hosts[1][0] = 2;			/* .1, the epoch before */
	c[1].host_epoch = e - 1;
	c[1].hosts[0][1] = 1;			/* .64, the epoch before */
	c[1].hosts[1][1] = 2;			/* .65, two before: too old */
	c[2].host_epoch = e - 5;
	c[2].hosts[0][2] = 1;			/* long ago */
	for (int i = 0; i < 3; i++)
		counters_add(&s, &c[(i + 1) % 3]);
	ASSERT_EQ(s.host_epoch, e, "the latest epoch");
	ASSERT_EQ(counters_hosts(&s, 4, now), 3, ".0, .1 and .64");
	ASSERT_EQ(s.hosts[0][0], 3ULL, ".0 .1");
	ASSERT_EQ(s.hosts[0][1], 1ULL, ".64 only");
	ASSERT_EQ(s.hosts[0][2], 0, "nothing from long ago");
	memset(&s, 0, sizeof(s));
	counters_add(&s, &c[1]);
	ASSERT_EQ(counters_hosts(&s, 4, now), 1, "read an epoch later: its current only");
	memset(&s, 0, sizeof(s));
	counters_add(&s, &c[0]);
	counters_add(&s, &c[1]);
	ASSERT_EQ(counters_hosts(&s, 6, now), 3, "IPv6: the same bits, 3 hosts (no collision)");
}

TEST_MAIN(T(test_datapath_hosts), T(test_datapath_hosts_epochs), T(test_datapath_v4_tcp), T(test_datapath_v6_tcp), T(test_datapath_vlan),
	  T(test_datapath_qinq), T(test_datapath_three_vlan_tags), T(test_datapath_v4_options),
	  T(test_datapath_v4_fragments), T(test_datapath_v6_ext_headers),
	  T(test_datapath_v6_too_many_ext), T(test_datapath_tcp_flags), T(test_datapath_quic),
	  T(test_datapath_non_ip), T(test_datapath_allow_beats_deny),
	  T(test_datapath_longest_prefix_wins), T(test_datapath_expiry), T(test_datapath_monitor), T(test_datapath_hits_reset_on_reuse),
	  T(test_datapath_host_flag_follows_32s),
	  T(test_datapath_counted_where), T(test_datapath_v6_table_vs_reference),
	  T(test_datapath_v6_cache_goes_stale), T(test_datapath_upgrade_from_layout_2),
	  T(test_datapath_tbl6_grows),
	  T(test_datapath_throttle), T(test_datapath_counters_exact),
	  T(test_datapath_aggregation_lengths), T(test_datapath_malformed_verdict),
	  T(test_datapath_prefix_lru_bounded), T(test_datapath_counters_reader),
	  T(test_datapath_counters_merge), T(test_datapath_counters_merge_long_runs),
	  T(test_datapath_counters_merge_v6_burst),
	  T(test_datapath_counters_reader_churn), T(test_datapath_counters_reader_cut_short),
	  T(test_datapath_counters_settle), T(test_datapath_counters_changes_only),
	  T(test_datapath_hosts_changes_only),
	  T(test_datapath_chain), T(test_datapath_truncation))
