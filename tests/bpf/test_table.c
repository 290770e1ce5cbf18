// SPDX-License-Identifier: GPL-2.0
/* tests/bpf/test_table.c - table.c against a reference model, through the data path.
 *
 * Random allow/deny sets are committed, changed and removed; after every
 * commit, random sources are judged by the XDP program and by a naive
 * longest-prefix model, and the reasons must agree. Plus: capacity errors
 * apply nothing, parents follow inserts and removals, a second writer (a
 * restarted controller) converges, pinned maps dump with named fields.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "fixture.h"
#include "xdpfence.skel.h"
#include "core/pin.h"
#include "feeds/feed.h"
#include "core/keyload.h"
#include "core/table/internal.h"	/* tbl_store_hosts */

static __u64 rng = 0x2545f4914f6cdd1dULL;

static __u32 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (__u32)(rng >> 11);
}

static bool open_fx_default(struct fx *f)
{
	return ASSERT_EQ(fx_open(f, NULL), 0, "fx_open");
}

struct model_entry {
	struct cidr c;
	enum fence_kind kind;
	__u8 owner;
	__u8 action;
	bool live;
};

#define MODEL_MAX 400

static bool contains(const struct cidr *p, const __u8 *addr)
{
	struct cidr a = *p;

	memcpy(a.addr, addr, 16);
	a.len = 128;
	if (p->family == AF_INET)
		a.len = 32;
	return cidr_contains(p, &a);
}

/* The reason the data path must count for addr. */
static unsigned model_reason(const struct model_entry *m, int n, int family, const __u8 *addr)
{
	const struct model_entry *best = NULL;

	for (int i = 0; i < n; i++) {
		if (!m[i].live || m[i].c.family != family || !contains(&m[i].c, addr))
			continue;
		if (m[i].kind == FENCE_KIND_ALLOW)
			return FENCE_STAT_ALLOW;
		if (!best || m[i].c.len > best->c.len)
			best = &m[i];
	}
	if (!best)
		return FENCE_STAT_PASS;
	if (best->action == FENCE_ACT_MONITOR)
		return FENCE_STAT_MONITOR;
	return best->owner == FENCE_OWN_MANUAL ? FENCE_STAT_DROP_MANUAL :
	       best->owner == FENCE_OWN_PROMOTED ? FENCE_STAT_DROP_PROMOTED : FENCE_STAT_DROP_FEED;
}

static int observed_reason(struct fx *f, int family, const __u8 *addr)
{
	struct fence_stat_val b[FENCE_STAT_MAX], a[FENCE_STAT_MAX];
	char text[INET6_ADDRSTRLEN];
	int got = -1;

	inet_ntop(family, addr, text, sizeof(text));
	fence_read_stats(&f->m, b);
	fx_send(f, &(struct pkt_spec){ .saddr = text });
	fence_read_stats(&f->m, a);
	for (int k = 0; k < FENCE_STAT_MAX; k++)
		if (a[k].packets != b[k].packets)
			got = got == -1 ? k : -2;
	return got;
}

/* a random prefix inside 198.18.0.0/15 (v4) or 2001:db8::/32 (v6) */
static void random_prefix(int family, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = family;
	if (family == AF_INET) {
		__u32 a = 0xc6120000 | (rnd() & 0x1ffff);
		__u32 r = rnd() % 100;

		/* weight the interesting lengths: /32s, /25../31, /24, shorter */
		c->len = r < 30 ? 32 : r < 55 ? 25 + rnd() % 7 : r < 75 ? 24 : 15 + rnd() % 9;
		a = htonl(a);
		memcpy(c->addr, &a, 4);
	} else {
		static const __u8 base[4] = { 0x20, 0x01, 0x0d, 0xb8 };
		__u32 r = rnd() % 100;

		memcpy(c->addr, base, 4);
		c->addr[4] = rnd() & 3;	/* a small space so prefixes nest */
		c->addr[5] = rnd() & 3;
		for (int i = 6; i < 16; i++)
			c->addr[i] = rnd() & 1;
		c->len = r < 30 ? 128 : r < 60 ? 48 : r < 80 ? 64 : 32 + rnd() % 96;
	}
	cidr_mask(c);
}

static void random_addr(int family, __u8 *addr, const struct model_entry *m, int n)
{
	/* half the probes land inside a random live entry */
	if (n && rnd() % 2) {
		const struct model_entry *e = &m[rnd() % n];

		memcpy(addr, e->c.addr, 16);
		if (e->c.family == family) {
			int bits = (family == AF_INET ? 32 : 128);

			for (int b = e->c.len; b < bits; b++)
				if (rnd() & 1)
					addr[b / 8] |= 0x80 >> (b % 8);
			return;
		}
	}
	if (family == AF_INET) {
		__u32 a = htonl(0xc6120000 | (rnd() & 0x1ffff));

		memset(addr, 0, 16);
		memcpy(addr, &a, 4);
	} else {
		struct cidr c;

		random_prefix(AF_INET6, &c);
		memcpy(addr, c.addr, 16);
		addr[15] ^= rnd() & 0xff;
	}
}

/* Every live IPv4 deny's parent is the longest live deny around it (a /32
 * has none: the data path takes the leaf beneath it). Mismatches printed. */
static int parents_wrong(struct fx *f, const struct model_entry *m, int n, int round)
{
	int wrong = 0;

	for (int i = 0; i < n; i++) {
		const struct model_entry *e = &m[i], *best = NULL;
		__u32 slot = 0, want = 0;

		if (!e->live || e->kind != FENCE_KIND_DENY || e->c.family != AF_INET)
			continue;
		if (e->c.len < 32)
			for (int j = 0; j < n; j++)
				if (m[j].live && m[j].kind == FENCE_KIND_DENY && m[j].c.family == AF_INET &&
				    m[j].c.len < e->c.len && cidr_contains(&m[j].c, &e->c) &&
				    (!best || m[j].c.len > best->c.len))
					best = &m[j];
		if (!table_get(f->t, &e->c, FENCE_KIND_DENY, &slot) || !slot)
			continue;
		if (best)
			table_get(f->t, &best->c, FENCE_KIND_DENY, &want);
		if (f->m.rules[slot].parent != want) {
			char a[64], b[64];

			if (wrong++ < 5)
				TEST_FAIL_AT("round %d: %s parent %u, want %u (%s)", round,
					     cidr_str(&e->c, a, sizeof(a)), f->m.rules[slot].parent, want,
					     best ? cidr_str(&best->c, b, sizeof(b)) : "none");
		}
	}
	return wrong;
}

/* A second table on the same maps repaints every IPv4 leaf and parent. */
static bool repaint_writes_nothing(struct fx *f, int round)
{
	struct table *t2 = NULL;
	struct table_stats st = {};
	char err[256] = "";
	bool ok;

	if (table_open(&t2, &f->m))
		return false;
	table_repaint(t2);
	ok = table_commit(t2, &st, err, sizeof(err)) == 0 &&
	     !st.tbl24_writes && !st.tbl8_writes && !st.parent_writes;
	if (!ok)
		TEST_FAIL_AT("round %d: repaint wrote %u tbl24, %u tbl8 leaves, %u parents %s", round,
			     st.tbl24_writes, st.tbl8_writes, st.parent_writes, err);
	table_close(t2);
	return ok;
}

/* Random adds, changes and removals, checked after every commit against a
 * model of what the data path must answer, and against a full repaint.
 * DIFF_ALL: everything, IPv6 included, which takes the full build.
 * DIFF_SMALL: IPv4 changes that a small commit (small.c) takes, so that its
 * incremental build is what is checked. DIFF_UNALLOW: IPv4 in two /20s,
 * allows of /21../32 over the denies, every other round one allow removed
 * (a small commit unless another allow lies inside it), with a deny added
 * in one such round of two. DIFF_LAZY: DIFF_SMALL on maps mapped a window
 * at a time, as a one-shot command maps them (the tables are mapped whole
 * again after each commit, to check it). */
enum diff_mode { DIFF_ALL, DIFF_SMALL, DIFF_UNALLOW, DIFF_LAZY };

/* A live allow of the model, picked at random (NULL: none). */
static struct model_entry *random_allow(struct model_entry *m, int n)
{
	int live = 0, k;

	for (int j = 0; j < n; j++)
		live += m[j].live && m[j].kind == FENCE_KIND_ALLOW;
	if (!live)
		return NULL;
	k = rnd() % live;
	for (int j = 0; j < n; j++)
		if (m[j].live && m[j].kind == FENCE_KIND_ALLOW && !k--)
			return &m[j];
	return NULL;
}

static int host_faults(struct fx *f, int *placed);

static void random_differential(enum diff_mode mode)
{
	bool small_only = mode != DIFF_ALL;
	struct fence_opts o = { .max_rules = 4096, .tbl8_groups = 1024, .prefix_entries = 64,
				.v6_rules = 4096 };
	static struct model_entry m[MODEL_MAX];
	int n = 0, mismatches = 0, probes = 0, repaint_diffs = 0, small = 0, full = 0;
	int parent_diffs = 0, unallow_small = 0, unallow_full = 0, host_diffs = 0, hosts = 0;
	char err[256];
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	memset(m, 0, sizeof(m));
	for (int round = 0; round < 40; round++) {
		struct model_entry *gone = mode == DIFF_UNALLOW && round % 2 ? random_allow(m, n) : NULL;

		/* add 10 entries, change 3, remove 4; or remove one allow, and
		 * add an entry or not */
		int adds = 10, changes = 3, removes = 4;

		if (gone) {
			gone->live = false;
			ASSERT_EQ(table_del(f.t, &gone->c, FENCE_KIND_ALLOW), 0, "del allow");
			adds = rnd() % 2;
			changes = removes = 0;
		}
		for (int k = 0; k < adds && n < MODEL_MAX; k++) {
			struct model_entry *e = &m[n];
			struct fence_rule_info info = {};
			bool dup = false;

			random_prefix(small_only || rnd() % 3 ? AF_INET : AF_INET6, &e->c);
			e->kind = rnd() % (mode == DIFF_SMALL || mode == DIFF_LAZY ? 40 :
					   mode == DIFF_UNALLOW ? 10 : 8) ?
				  FENCE_KIND_DENY : FENCE_KIND_ALLOW;
			/* few and small allows: most denies then stay clear of them
			 * (a deny added or removed under one takes the full build) */
			if ((mode == DIFF_SMALL || mode == DIFF_LAZY) && e->kind == FENCE_KIND_ALLOW &&
			    e->c.len < 29) {
				e->c.len = 29 + rnd() % 4;
				cidr_mask(&e->c);
			}
			/* all in 198.18.0.0/20, so that allows hide denies; allows
			 * long enough to be removed by a small commit */
			if (mode == DIFF_UNALLOW) {
				e->c.addr[2] = rnd() & 0x0f;
				e->c.addr[3] = rnd() & 0xff;
				if (e->kind == FENCE_KIND_ALLOW && e->c.len < 20)
					e->c.len = 21 + rnd() % 3;
				cidr_mask(&e->c);
			}
			for (int j = 0; j < n; j++)
				if (m[j].live && m[j].kind == e->kind && m[j].c.family == e->c.family &&
				    m[j].c.len == e->c.len && !memcmp(m[j].c.addr, e->c.addr, 16))
					dup = true;
			if (dup)
				continue;
			e->owner = 1 << (rnd() % 3);
			e->action = rnd() % 4 ? FENCE_ACT_DROP : FENCE_ACT_MONITOR;
			e->live = true;
			info.owners = e->owner;
			info.manual_action = info.promoted_action = info.feed_action = e->action;
			ASSERT_EQ(table_put(f.t, &e->c, e->kind, &info), 0, "put");
			n++;
		}
		for (int k = 0; k < changes && n; k++) {
			struct model_entry *e = &m[rnd() % n];
			struct fence_rule_info info = {};

			if (!e->live || e->kind != FENCE_KIND_DENY)
				continue;
			e->action = e->action == FENCE_ACT_DROP ? FENCE_ACT_MONITOR : FENCE_ACT_DROP;
			info.owners = e->owner;
			info.manual_action = info.promoted_action = info.feed_action = e->action;
			ASSERT_EQ(table_put(f.t, &e->c, e->kind, &info), 0, "change");
		}
		for (int k = 0; k < removes && n; k++) {
			struct model_entry *e = &m[rnd() % n];

			if (!e->live || (small_only && e->kind == FENCE_KIND_ALLOW))
				continue;
			e->live = false;
			ASSERT_EQ(table_del(f.t, &e->c, e->kind), 0, "del");
		}
		struct table_stats st = {};

		if (mode == DIFF_LAZY && !ASSERT_EQ(fence_maps_lazy(&f.m), 0, "mapped lazily"))
			break;
		if (!ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), 0, "commit")) {
			fprintf(stderr, "  %s\n", err);
			break;
		}
		if (mode == DIFF_LAZY && !ASSERT_EQ(fence_maps_full(&f.m), 0, "mapped whole to check"))
			break;
		st.small ? small++ : full++;
		if (gone)
			st.small ? unallow_small++ : unallow_full++;
		if (parents_wrong(&f, m, n, round))
			parent_diffs++;
		{
			int placed = 0;

			host_diffs += host_faults(&f, &placed) != 0;
			hosts += placed;
		}
		/* the commit repainted only what its changes touch (from the live
		 * table alone, for a small one): a repaint of everything must find
		 * nothing left to write */
		if (!repaint_writes_nothing(&f, round))
			repaint_diffs++;
		for (int p = 0; p < 60; p++) {
			int family = rnd() % 3 ? AF_INET : AF_INET6;
			unsigned want;
			__u8 addr[16];
			int got;

			random_addr(family, addr, m, n);
			want = model_reason(m, n, family, addr);
			got = observed_reason(&f, family, addr);
			probes++;
			if (got != (int)want) {
				char t[64];

				inet_ntop(family, addr, t, sizeof(t));
				if (mismatches++ < 10)
					TEST_FAIL_AT("round %d: %s: got %s, want %s", round, t,
						     got >= 0 ? fence_stat_name(got) : "?",
						     fence_stat_name(want));
			}
		}
	}
	ASSERT_EQ(mismatches, 0, "data path agrees with the model");
	ASSERT_TRUE(probes >= 2000, "enough probes");
	ASSERT_EQ(repaint_diffs, 0, "incremental commits leave what a full repaint would");
	ASSERT_EQ(parent_diffs, 0, "every IPv4 deny's parent the longest deny around it");
	ASSERT_EQ(host_diffs, 0, "host_v4 holds every /32 deny, each with deny_v4's slot");
	ASSERT_TRUE(hosts > 0, "  and /32 denies were tried");
	printf("     %d small commits, %d full ones", small, full);
	if (mode == DIFF_UNALLOW)
		printf("; allows removed: %d small, %d full", unallow_small, unallow_full);
	printf("\n");
	if (mode == DIFF_SMALL || mode == DIFF_LAZY)
		ASSERT_TRUE(small >= 25 && full >= 1, "mostly small commits, some given up (allows)");
	else if (mode == DIFF_UNALLOW)
		ASSERT_TRUE(unallow_small >= 10, "allows removed by small commits");
	else
		ASSERT_TRUE(full >= 20, "full builds were tried");
	fx_close(&f);
}

static void test_table_random_differential(void)
{
	random_differential(DIFF_ALL);
}

static void test_table_small_differential(void)
{
	random_differential(DIFF_SMALL);
}

static void test_table_small_unallow_differential(void)
{
	random_differential(DIFF_UNALLOW);
}

static void test_table_small_lazy_differential(void)
{
	random_differential(DIFF_LAZY);
}

/* A small table with these denies, each committed alone. */
static bool open_denying(struct fx *f, const char *const *denies, size_t n)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 64, .prefix_entries = 64 };

	if (!ASSERT_EQ(fx_open(f, &o), 0, "open"))
		return false;
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(fx_deny(f, denies[i]), 0, denies[i]);
	return true;
}

/* Remove allows in one commit; *small: the small build took it. */
static int remove_allows(struct fx *f, const char *const *v, int n, bool *small)
{
	struct table_stats st = {};
	char err[256] = "";
	struct cidr c;
	int ret = 0;

	for (int i = 0; i < n && !ret; i++) {
		ret = cidr_parse(v[i], &c, 0, err, sizeof(err));
		if (!ret)
			ret = table_del(f->t, &c, FENCE_KIND_ALLOW);
	}
	if (!ret)
		ret = table_commit(f->t, &st, err, sizeof(err));
	if (ret)
		fprintf(stderr, "  remove: %s\n", err);
	*small = st.small;
	return ret;
}

/* Remove one allow in a commit of its own. */
static int remove_allow(struct fx *f, const char *text, bool *small)
{
	return remove_allows(f, &text, 1, small);
}

/* The slot of a live entry (0: none). */
static __u32 slot_of(struct fx *f, const char *text, enum fence_kind kind)
{
	char err[128];
	struct cidr c;
	__u32 slot = 0;

	if (cidr_parse(text, &c, 0, err, sizeof(err)) || !table_get(f->t, &c, kind, &slot))
		return 0;
	return slot;
}

/* An allow removed by the small build: its leaves go to the allow around
 * it when there is one; else to the deny around it, and the denies it hid
 * come back, each with the deny around it as its parent. One with another
 * allow inside, or too short to probe, takes the full build. */
static void test_table_small_unallow(void)
{
	static const char *const denies[] = {
		"198.18.0.0/16", "198.18.5.128/25", "198.18.6.0/24", "198.18.6.9/32",
		"198.18.6.64/26",
	};
	struct fx f;
	bool small;

	if (!open_denying(&f, denies, sizeof(denies) / sizeof(denies[0])))
		return;
	ASSERT_EQ(fx_allow(&f, "198.18.4.0/22"), 0, "allow /22");
	ASSERT_EQ(fx_allow(&f, "198.18.5.0/24"), 0, "allow /24 inside it");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.6.70" }), XDP_PASS, "hidden");

	/* the inner allow: its leaves go to the /22 allow, nothing comes back */
	ASSERT_EQ(remove_allow(&f, "198.18.5.0/24", &small), 0, "del /24 allow");
	ASSERT_TRUE(small, "small build");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x05\xc8"), FENCE_STAT_ALLOW,
		  "198.18.5.200 still allowed by the /22");
	ASSERT_TRUE(repaint_writes_nothing(&f, 0), "as a full repaint paints it");

	/* the outer one: the denies it hid drop again */
	ASSERT_EQ(remove_allow(&f, "198.18.4.0/22", &small), 0, "del /22 allow");
	ASSERT_TRUE(small, "small build");
	ASSERT_TRUE(repaint_writes_nothing(&f, 1), "as a full repaint paints it");
	for (int i = 0; i < 4; i++) {
		static const char *const src[] = { "198.18.4.1", "198.18.5.200", "198.18.6.70",
						   "198.18.6.9" };

		ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = src[i] }), XDP_DROP, src[i]);
	}
	ASSERT_EQ(f.m.rules[slot_of(&f, "198.18.6.64/26", FENCE_KIND_DENY)].parent,
		  slot_of(&f, "198.18.6.0/24", FENCE_KIND_DENY), "the /26's parent: the /24");
	ASSERT_EQ(f.m.rules[slot_of(&f, "198.18.5.128/25", FENCE_KIND_DENY)].parent,
		  slot_of(&f, "198.18.0.0/16", FENCE_KIND_DENY), "the /25's parent: the /16");

	/* another allow inside, or too many prefixes inside: the full build */
	ASSERT_EQ(fx_allow(&f, "198.18.8.0/22"), 0, "allow /22");
	ASSERT_EQ(fx_allow(&f, "198.18.9.0/24"), 0, "allow /24 inside it");
	ASSERT_EQ(remove_allow(&f, "198.18.8.0/22", &small), 0, "del outer");
	ASSERT_TRUE(!small, "full build");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.9.1" }), XDP_PASS, "inner stays");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.8.1" }), XDP_DROP, "rest drops");
	ASSERT_EQ(fx_remove(&f, "198.18.9.0/24", FENCE_KIND_ALLOW), 0, "del inner");
	ASSERT_EQ(fx_allow(&f, "198.18.0.0/15"), 0, "allow /15");
	ASSERT_EQ(remove_allow(&f, "198.18.0.0/15", &small), 0, "del /15");
	ASSERT_TRUE(!small, "full build");
	ASSERT_TRUE(repaint_writes_nothing(&f, 2), "as a full repaint paints it");
	fx_close(&f);
}

/* The ends of the small build's probes: a /16 (the shortest it takes), a
 * /31 at the top of one, a /31 under a /24, a /32; and the probes of one
 * commit's removed allows bounded (two /16s are in bounds, one /24 more is
 * not: the full build). */
static void test_table_small_unallow_bounds(void)
{
	static const char *const denies[] = {
		"198.18.0.0/16", "198.18.255.254/31", "198.18.255.0/24", "198.18.6.4/31",
		"198.18.200.7/32", "198.19.3.0/25",
	};
	static const char *const gone[] = { "198.18.0.0/16", "198.18.6.0/24", "198.18.200.7/32" };
	static const char *const wide[] = { "198.18.0.0/16", "198.19.0.0/16", "192.0.2.0/24" };
	struct fx f;
	bool small;

	if (!open_denying(&f, denies, sizeof(denies) / sizeof(denies[0])))
		return;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(fx_allow(&f, gone[i]), 0, gone[i]);
		ASSERT_EQ(remove_allow(&f, gone[i], &small), 0, gone[i]);
		ASSERT_TRUE(small, "small build");
		ASSERT_TRUE(repaint_writes_nothing(&f, i), "as a full repaint paints it");
	}
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.255.255" }), XDP_DROP, "/31 at the end");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.6.5" }), XDP_DROP, "/31 under the /24");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.200.7" }), XDP_DROP, "/32 key");

	for (int n = 2; n <= 3; n++) {
		for (int i = 0; i < n; i++)
			ASSERT_EQ(fx_allow(&f, wide[i]), 0, wide[i]);
		ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.19.3.1" }), XDP_PASS, "hidden");
		ASSERT_EQ(remove_allows(&f, wide, n, &small), 0, "remove them at once");
		ASSERT_TRUE(n == 2 ? small : !small, n == 2 ? "two /16s: small" : "and a /24: full");
		ASSERT_TRUE(repaint_writes_nothing(&f, 3 + n), "as a full repaint paints it");
		ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.19.3.1" }), XDP_DROP, "back");
	}
	fx_close(&f);
}

/* A /24's count of /32 denies stays exact through a commit that takes one
 * out and puts another in, also when the commit is big enough for the new
 * entries' bookkeeping to run on a thread of its own: at 254, the new one
 * counted first made it 255 ("that many or more"), where it stayed. */
static void test_table_hosts_count_exact(void)
{
	struct fence_opts o = { .max_rules = 131072, .tbl8_groups = 64, .prefix_entries = 64 };
	struct fence_rule_info info = { .owners = FENCE_OWN_MANUAL };
	__u32 x = 0xc6120700 >> 8;	/* 198.18.7.0/24 */
	char err[256] = "";
	struct cidr c;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	for (int h = 1; h <= 254; h++) {
		snprintf(err, sizeof(err), "198.18.7.%d", h);
		cidr_parse(err, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "254 /32s");
	ASSERT_EQ(tbl_store_hosts(f.t, x), 254, "counted");

	cidr_parse("198.18.7.1", &c, 0, NULL, 0);
	table_del(f.t, &c, FENCE_KIND_DENY);
	cidr_parse("198.18.7.255", &c, 0, NULL, 0);
	table_put(f.t, &c, FENCE_KIND_DENY, &info);
	for (int i = 0; i < 65536; i++) {	/* 198.19.0.0/16: a big commit */
		snprintf(err, sizeof(err), "198.19.%d.%d", i >> 8, i & 255);
		cidr_parse(err, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "one out, one in, 65,536 more");
	ASSERT_EQ(tbl_store_hosts(f.t, x), 254, "still 254");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.7.255" }), XDP_DROP, "the new one");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.7.1" }), XDP_PASS, "the old one");
	fx_close(&f);
}

static int lookup_maps_faults(struct fx *f);

static void test_table_capacity_applies_nothing(void)
{
	struct fence_opts o = { .max_rules = 64, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 64 };
	struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1 };
	struct fence_v4_key key;
	char err[256] = "";
	struct cidr c;
	struct fx f;
	int n;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	ASSERT_EQ(fx_deny(&f, "203.0.113.0/24"), 0, "one entry in");
	ASSERT_EQ(fx_deny(&f, "203.0.113.7"), 0, "and a /32 (keyed in deny_v4)");
	/* 70 more entries in a table of 63 slots */
	for (int i = 0; i < 70; i++) {
		char t[32];

		snprintf(t, sizeof(t), "198.18.%d.0/24", i);
		cidr_parse(t, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), -ENOSPC, "refused");
	ASSERT_TRUE(strstr(err, "rule slots") != NULL, "says why");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.3.1" }), XDP_PASS, "none applied");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "203.0.113.1" }), XDP_DROP, "old one kept");
	for (n = 0; !bpf_map_get_next_key(f.m.fd[FM_DENY_V4], n ? &key : NULL, &key); n++)
		;
	ASSERT_EQ(n, 1, "deny_v4 holds the old /32 only");

	/* five /24s needing detail in a table of four groups */
	for (int i = 0; i < 5; i++) {
		char t[32];

		snprintf(t, sizeof(t), "198.19.%d.128/25", i);
		cidr_parse(t, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	/* and keys a commit puts in early: a /32, an allow */
	cidr_parse("198.19.9.9", &c, 0, NULL, 0);
	table_put(f.t, &c, FENCE_KIND_DENY, &info);
	cidr_parse("198.19.10.0/24", &c, 0, NULL, 0);
	table_put(f.t, &c, FENCE_KIND_ALLOW, &info);
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), -ENOSPC, "groups refused");
	ASSERT_TRUE(strstr(err, "groups") != NULL, "says groups");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.19.0.200" }), XDP_PASS, "none applied");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "no key of the refused commit stays");
	for (n = 0; !bpf_map_get_next_key(f.m.fd[FM_DENY_V4], n ? &key : NULL, &key); n++)
		;
	ASSERT_EQ(n, 1, "deny_v4 holds the old /32 only");
	{
		struct fence_meta meta;

		ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
		ASSERT_EQ(meta.writing, 0, "no mark left: nothing to repair");
	}
	/* four fit */
	for (int i = 0; i < 4; i++) {
		char t[32];

		snprintf(t, sizeof(t), "198.19.%d.128/25", i);
		cidr_parse(t, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "four groups fit");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.19.3.200" }), XDP_DROP, "applied");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.19.3.100" }), XDP_PASS, "lower half");
	fx_close(&f);
}

/* A table that never used a tbl8 group has its groups built in tbl8
 * itself (image.c, sweep_direct): when they run out half way nothing is
 * applied and what was written is blank again; what it builds agrees with
 * the model, and so do the later commits, which build beside it. */
static void test_table_direct_build(void)
{
	struct fence_opts o = { .max_rules = 4096, .tbl8_groups = 8, .prefix_entries = 64,
				.v6_rules = 64 };
	struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1 };
	static struct model_entry m[MODEL_MAX];
	int n = 0, mismatches = 0, blank = 1;
	struct table_stats st = {};
	char err[256] = "", t[64];
	struct cidr c;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	/* twelve /24s needing detail in a table of eight groups; an IPv6
	 * entry keeps the commit from the small build */
	for (int i = 0; i < 12; i++) {
		snprintf(t, sizeof(t), "198.18.%d.64/26", i);
		cidr_parse(t, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	cidr_parse("2001:db8::/48", &c, 0, NULL, 0);
	table_put(f.t, &c, FENCE_KIND_DENY, &info);
	ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), -ENOSPC, "refused");
	ASSERT_TRUE(st.direct && !st.small, "built in tbl8 itself");
	ASSERT_TRUE(strstr(err, "8 tbl8 groups") != NULL, "says groups");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.0.70" }), XDP_PASS, "none applied");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "no key of the refused commit stays");
	for (__u32 g = 0; g < 8; g++) {
		const __u32 *leaf = fence_group_at(&f.m, g);

		for (int j = 0; leaf && j < FENCE_TBL8_GROUP; j++)
			blank &= !leaf[j];
		blank &= leaf != NULL;
	}
	ASSERT_TRUE(blank, "the groups written are blank again");
	/* eight fit */
	for (int i = 0; i < 8; i++) {
		snprintf(t, sizeof(t), "198.18.%d.64/26", i);
		cidr_parse(t, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	cidr_parse("2001:db8::/48", &c, 0, NULL, 0);
	table_put(f.t, &c, FENCE_KIND_DENY, &info);
	ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), 0, "eight fit");
	ASSERT_TRUE(st.direct, "built in tbl8 itself");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.7.70" }), XDP_DROP, "detail");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.7.1" }), XDP_PASS, "beside it");
	fx_close(&f);

	/* random sets: the first commit direct, the next ones not */
	o.tbl8_groups = 1024;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open, bigger"))
		return;
	memset(m, 0, sizeof(m));
	for (int round = 0; round < 2; round++) {
		for (int k = 0; k < (round ? 40 : 300); k++) {
			struct model_entry *e = &m[n];
			bool dup = false;

			random_prefix(AF_INET, &e->c);
			e->kind = rnd() % 8 ? FENCE_KIND_DENY : FENCE_KIND_ALLOW;
			for (int j = 0; j < n; j++)
				dup |= m[j].kind == e->kind && m[j].c.len == e->c.len &&
				       !memcmp(m[j].c.addr, e->c.addr, 4);
			if (dup)
				continue;
			e->owner = FENCE_OWN_FEED;
			e->action = FENCE_ACT_DROP;
			e->live = true;
			ASSERT_EQ(table_put(f.t, &e->c, e->kind, &info), 0, "put");
			n++;
		}
		cidr_parse(round ? "2001:db8:1::/48" : "2001:db8:2::/48", &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);	/* not small */
		m[n].c = c;
		m[n].kind = FENCE_KIND_DENY;
		m[n].owner = FENCE_OWN_FEED;
		m[n].action = FENCE_ACT_DROP;
		m[n++].live = true;
		if (!ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), 0, "commit"))
			fprintf(stderr, "  %s\n", err);
		ASSERT_EQ(st.direct, round == 0, round ? "beside tbl8 once a group is used" :
			  "built in tbl8 itself");
		ASSERT_TRUE(st.tbl8_writes > 0, "groups written");
		ASSERT_EQ(parents_wrong(&f, m, n, round), 0, "parents");
		ASSERT_TRUE(repaint_writes_nothing(&f, round), "a repaint finds nothing to write");
		for (int p = 0; p < 1500; p++) {
			__u8 addr[16];
			unsigned want;
			int got;

			random_addr(AF_INET, addr, m, n);
			want = model_reason(m, n, AF_INET, addr);
			got = observed_reason(&f, AF_INET, addr);
			if (got != (int)want && mismatches++ < 10) {
				inet_ntop(AF_INET, addr, t, sizeof(t));
				TEST_FAIL_AT("round %d: %s: got %s, want %s", round, t,
					     got >= 0 ? fence_stat_name(got) : "?", fence_stat_name(want));
			}
		}
	}
	ASSERT_EQ(mismatches, 0, "data path agrees with the model");
	fx_close(&f);
}

/* A commit of many new entries keeps their bookkeeping on a second
 * thread (publish.c, fresh_index): every entry is found again through
 * the store's index and nothing else is, and the count of /32 denies per
 * /24 holds (the HOST flag goes with the last /32 of a /24, not before). */
static void big_put(struct table *t, const char *text, bool del)
{
	struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1,
					.feed_action = FENCE_ACT_DROP };
	struct cidr c;

	cidr_parse(text, &c, 0, NULL, 0);
	if (del)
		table_del(t, &c, FENCE_KIND_DENY);
	else
		table_put(t, &c, FENCE_KIND_DENY, &info);
}

static void test_table_big_commit_indexes_all(void)
{
	struct fence_opts o = { .max_rules = 81920, .tbl8_groups = 16, .prefix_entries = 64,
				.v6_rules = 64 };
	int missing = 0, extra = 0;
	char err[256] = "", t[64];
	__u32 x = 198U << 16 | 18 << 8 | 5;	/* 198.18.5.0/24 */
	__u32 slot;
	struct cidr c;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	/* 70,000 /32s (.1 to .250 of 280 /24s) and 100 /24s, one commit */
	for (int i = 0; i < 280; i++)
		for (int h = 1; h <= 250; h++) {
			snprintf(t, sizeof(t), "198.%d.%d.%d", 18 + i / 256, i % 256, h);
			big_put(f.t, t, false);
		}
	for (int i = 100; i < 200; i++) {
		snprintf(t, sizeof(t), "198.19.%d.0/24", i);
		big_put(f.t, t, false);
	}
	if (!ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "70,100 in one commit"))
		fprintf(stderr, "  %s\n", err);
	for (int i = 0; i < 280; i++)
		for (int h = 1; h <= 255; h++) {
			snprintf(t, sizeof(t), "198.%d.%d.%d", 18 + i / 256, i % 256, h);
			cidr_parse(t, &c, 0, NULL, 0);
			slot = 0;
			if (h <= 250 && (!table_get(f.t, &c, FENCE_KIND_DENY, &slot) || !slot))
				missing++;
			else if (h > 250 && table_get(f.t, &c, FENCE_KIND_DENY, &slot))
				extra++;
		}
	for (int i = 99; i <= 200; i++) {
		snprintf(t, sizeof(t), "198.19.%d.0/24", i);
		cidr_parse(t, &c, 0, NULL, 0);
		if ((i >= 100 && i < 200) != (table_get(f.t, &c, FENCE_KIND_DENY, &slot) != NULL))
			i >= 100 && i < 200 ? missing++ : extra++;
	}
	ASSERT_EQ(missing, 0, "every entry found through the index");
	ASSERT_EQ(extra, 0, "nothing else found");
	/* all but one /32 of 198.18.5.0/24 removed: the flag stays */
	for (int h = 1; h < 250; h++) {
		snprintf(t, sizeof(t), "198.18.5.%d", h);
		big_put(f.t, t, true);
	}
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "249 removed");
	ASSERT_TRUE(*fence_leaf_at(&f.m, x) & FENCE_LEAF_HOST, "the /24 still has a /32");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.5.250" }), XDP_DROP, "it drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.5.1" }), XDP_PASS,
		  "a removed one passes");
	big_put(f.t, "198.18.5.250", true);
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, "the last removed");
	ASSERT_TRUE(!(*fence_leaf_at(&f.m, x) & FENCE_LEAF_HOST), "the flag goes with it");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.19.150.9" }), XDP_DROP, "a /24 drops");
	fx_close(&f);
}

/* Each /24 of 198.18.0.0/15 with a /26 and 127 /32s above it (65,536
 * entries); below 198/8 one /24 needing detail, which an allow makes
 * uniform; 203.0.113.0/25, and with allow7 an allow of 203.0.113.7. */
static void halves_set(struct table *t, bool allow7)
{
	struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1,
					.feed_action = FENCE_ACT_DROP };
	struct cidr c;
	char a[64];

	for (int i = 0; i < 512; i++) {
		snprintf(a, sizeof(a), "198.%d.%d.0/26", 18 + i / 256, i % 256);
		big_put(t, a, false);
		for (int h = 64; h < 191; h++) {
			snprintf(a, sizeof(a), "198.%d.%d.%d", 18 + i / 256, i % 256, h);
			big_put(t, a, false);
		}
	}
	cidr_parse("192.0.2.0/24", &c, 0, NULL, 0);
	table_put(t, &c, FENCE_KIND_ALLOW, &info);
	big_put(t, "192.0.2.0/26", false);
	big_put(t, "203.0.113.0/25", false);
	if (allow7) {
		cidr_parse("203.0.113.7", &c, 0, NULL, 0);
		table_put(t, &c, FENCE_KIND_ALLOW, &info);
	}
}

/* A direct build of many entries sweeps in two halves at once (image.c,
 * sweep_halves), split at a /8: the second half's groups from the count
 * of /24s the first half could need on. What they build agrees with the
 * entries and with a repaint; a group the first half did not need is
 * given back to the store (the next commit takes it). */
static void test_table_direct_halves(void)
{
	struct fence_opts o = { .max_rules = 81920, .tbl8_groups = 1024, .prefix_entries = 64,
				.v6_rules = 64 };
	static const struct { const char *src; int want; } probe[] = {
		{ "192.0.2.5", XDP_PASS }, { "198.18.0.5", XDP_DROP }, { "198.18.0.64", XDP_DROP },
		{ "198.19.255.190", XDP_DROP }, { "198.19.255.191", XDP_PASS },
		{ "198.18.7.200", XDP_PASS }, { "203.0.113.5", XDP_DROP }, { "203.0.113.7", XDP_PASS },
		{ "203.0.113.200", XDP_PASS },
	};
	__u32 x198 = 198U << 16 | 18 << 8, x100 = 198U << 16 | 51 << 8 | 100;
	struct table_stats st = {};
	char err[256] = "";
	int wrong = 0;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	halves_set(f.t, true);
	if (!ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), 0, "65,540 in one commit"))
		fprintf(stderr, "  %s\n", err);
	ASSERT_TRUE(st.direct && !st.small, "built in tbl8 itself");
	ASSERT_EQ(*fence_leaf_at(&f.m, x198) & (FENCE_LEAF_EXT | FENCE_LEAF_IDX),
		  FENCE_LEAF_EXT | 1, "the second half's groups start after the first half's /24");
	for (size_t i = 0; i < sizeof(probe) / sizeof(*probe); i++)
		if (fx_send(&f, &(struct pkt_spec){ .saddr = probe[i].src }) != probe[i].want) {
			TEST_FAIL_AT("%s: not %s", probe[i].src, probe[i].want == XDP_DROP ? "dropped" : "passed");
			wrong++;
		}
	ASSERT_EQ(wrong, 0, "verdicts");
	ASSERT_TRUE(repaint_writes_nothing(&f, 0), "a repaint finds nothing to write");
	big_put(f.t, "198.51.100.0/25", false);
	ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), 0, "one more needing detail");
	ASSERT_EQ(*fence_leaf_at(&f.m, x100) & (FENCE_LEAF_EXT | FENCE_LEAF_IDX),
		  FENCE_LEAF_EXT | 0, "it takes the group given back");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.51.100.1" }), XDP_DROP, "and drops");
	ASSERT_TRUE(repaint_writes_nothing(&f, 1), "a repaint still finds nothing to write");
	fx_close(&f);

	/* tbl8 just big enough for the 513 groups one sweep takes: the
	 * halves leave group 0 to the first half's /24 (uniform, as it comes
	 * out), run out, and one sweep does it, from group 0 */
	o.tbl8_groups = 513;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open, tight"))
		return;
	halves_set(f.t, false);
	if (!ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), 0, "513 groups in 513"))
		fprintf(stderr, "  %s\n", err);
	ASSERT_EQ(*fence_leaf_at(&f.m, x198) & (FENCE_LEAF_EXT | FENCE_LEAF_IDX),
		  FENCE_LEAF_EXT | 0, "one sweep, from group 0");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "203.0.113.5" }), XDP_DROP, "the last drops");
	ASSERT_TRUE(repaint_writes_nothing(&f, 2), "a repaint finds nothing to write");
	fx_close(&f);
}

/* Stage a deny of each of addrs[0..n), as info says. */
static void deny_all(struct table *t, char (*addrs)[48], int n,
		     const struct fence_rule_info *info)
{
	struct cidr c;

	for (int i = 0; i < n; i++) {
		cidr_parse(addrs[i], &c, 0, NULL, 0);
		table_put(t, &c, FENCE_KIND_DENY, info);
	}
}

/* How many of addrs[0..n) the program drops. */
static __u32 drops_of(struct fx *f, char (*addrs)[48], int n)
{
	__u32 dropped = 0;

	for (int i = 0; i < n; i++)
		dropped += fx_send(f, &(struct pkt_spec){ .saddr = addrs[i] }) == XDP_DROP;
	return dropped;
}

/* IPv6 keys that pile up at one place of tbl6 (more than FENCE_V6_PROBES
 * homed there under its seed) cannot be placed though tbl6 has room: a
 * plain commit says no room and applies nothing; pin_commit grows tbl6
 * (twice the positions, a new seed) and commits the same changes. */
static void test_table_crowded_tbl6_grows(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 64 };
	struct fence_rule_info info = { .owners = FENCE_OWN_MANUAL, .manual_action = FENCE_ACT_DROP };
	char dir[96], err[256] = "", addrs[40][48];
	struct table_stats st = {};
	__u32 n_tbl6, home = 0, n = 0;
	struct pinned s;
	struct cidr c;
	struct fx f;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "crowd"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a pinned set"))
		goto out;
	fx_close(&f);
	if (!ASSERT_EQ(pin_open(&s, dir, PIN_WRITE, NULL, err, sizeof(err)), 0, "opened to write"))
		goto out;
	n_tbl6 = s.m.n_tbl6;
	/* 40 /128s, ::1 of 40 /64s of 2001:db8::/32, with one home under the
	 * seed (under another seed they part: the upper half of an address
	 * is mixed with the seed) */
	for (__u64 i = 1; n < 40 && i < (1ULL << 32); i++) {
		__u64 hi = 0x20010db800000000ULL | i;
		const struct fence_v6_meta *mt = s.m.tbl6_meta;
		__u32 h = (__u32)fence_v6_home(hi, 1, mt->seed ^ 128, fence_v6_lo_mul(mt->keyed, mt->seed),
					       mt->shift);

		if (n && h != home)
			continue;
		home = h;
		snprintf(addrs[n++], sizeof(addrs[0]), "2001:db8:%x:%x::1", (unsigned)(i >> 16),
			 (unsigned)i & 0xffff);
	}
	ASSERT_EQ(n, 40, "40 addresses found");
	/* with IPv4 keys put in early, taken back and put in again */
	deny_all(s.t, addrs, (int)n, &info);
	cidr_parse("198.51.100.7", &c, 0, NULL, 0);
	table_put(s.t, &c, FENCE_KIND_DENY, &info);
	cidr_parse("203.0.113.0/24", &c, 0, NULL, 0);
	table_put(s.t, &c, FENCE_KIND_ALLOW, &info);
	ASSERT_EQ(table_commit(s.t, &st, err, sizeof(err)), -ENOSPC, "a plain commit: no room");
	ASSERT_TRUE(strstr(err, "near a new key's place") != NULL, "near a key's place");
	cidr_parse(addrs[0], &c, 0, NULL, 0);
	ASSERT_TRUE(!table_get(s.t, &c, FENCE_KIND_DENY, NULL), "nothing applied");
	deny_all(s.t, addrs, (int)n, &info);
	cidr_parse("198.51.100.7", &c, 0, NULL, 0);
	table_put(s.t, &c, FENCE_KIND_DENY, &info);
	cidr_parse("203.0.113.0/24", &c, 0, NULL, 0);
	table_put(s.t, &c, FENCE_KIND_ALLOW, &info);
	err[0] = 0;
	if (!ASSERT_EQ(pin_commit(&s, &st, err, sizeof(err)), 0, "pin_commit grows tbl6 and commits"))
		fprintf(stderr, "  %s\n", err);
	ASSERT_EQ(s.m.n_tbl6, 2 * n_tbl6, "twice the positions");
	pin_close(&s);
	/* a program over the maps pinned now: each of the 40 drops */
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "the grown set"))
		goto out;
	ASSERT_EQ(drops_of(&f, addrs, (int)n), n, "every one drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8::1" }), XDP_PASS, "others pass");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.51.100.7" }), XDP_DROP, "the /32 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "203.0.113.5" }), XDP_PASS, "the allow");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "the lookup maps name the live slots");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

/* The inverse of odd a modulo 2^64 (Newton's iteration). */
static __u64 inverse64(__u64 a)
{
	__u64 x = a;	/* right to 3 bits for odd a */

	for (int i = 0; i < 5; i++)
		x *= 2 - a * x;
	return x;
}

/* n /128s inside 2001:db8:0:7::/64 whose low halves, times the fixed
 * multiplier of tables made before layout 5, agree in their top 56 bits:
 * in such a table they share a home under every seed. */
static void one_home_unkeyed(char (*addrs)[48], int n)
{
	__u64 inv = inverse64(fence_v6_lo_mul(0, 0));

	for (int i = 0; i < n; i++) {
		__u64 lo = inv * (0x5555555555555500ULL + (__u64)i);

		snprintf(addrs[i], 48, "2001:db8:0:7:%x:%x:%x:%x", (unsigned)(lo >> 48),
			 (unsigned)(lo >> 32) & 0xffff, (unsigned)(lo >> 16) & 0xffff,
			 (unsigned)lo & 0xffff);
	}
}

/* Keys an attacker picks inside its own /64 cannot crowd tbl6: a table
 * made now is keyed (the low half of a key is hashed under the seed), so
 * 40 /128s that share a home in an unkeyed table spread, and one plain
 * commit places them. A table made before layout 5 (unkeyed, as its
 * program searches it) keeps its hash through the upgrade and is still
 * searched right; the 40 crowd it, and pin_commit's growth makes tbl6
 * anew, keyed. */
static void test_table_tbl6_keyed(void)
{
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 64 };
	struct fence_rule_info info = { .owners = FENCE_OWN_MANUAL, .manual_action = FENCE_ACT_DROP };
	static const char *const few[] = { "2001:db8:1::5", "2001:db8:1::6", "2001:db8:2::/48" };
	char dir[96], err[256] = "", addrs[40][48];
	struct table_stats st = {};
	struct fence_meta meta;
	__u32 n_tbl6, key = 0;
	struct pinned s;
	struct cidr c;
	struct fx f;

	one_home_unkeyed(addrs, 40);
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a set made now"))
		return;
	ASSERT_EQ(f.m.tbl6_meta->keyed, 1, "keyed");
	n_tbl6 = f.m.n_tbl6;
	deny_all(f.t, addrs, 40, &info);
	if (!ASSERT_EQ(table_commit(f.t, &st, err, sizeof(err)), 0, "one plain commit places all 40"))
		fprintf(stderr, "  %s\n", err);
	ASSERT_EQ(f.m.n_tbl6, n_tbl6, "in the positions there were");
	ASSERT_EQ(drops_of(&f, addrs, 40), 40, "every one drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:0:7::1" }), XDP_PASS,
		  "their /64's others pass");
	fx_close(&f);

	/* a set as the build before this layout made it: unkeyed, version 4 */
	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "keyed"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a pinned set"))
		goto out;
	f.m.tbl6_meta->keyed = 0;
	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
	meta.version = 4;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_META], &key, &meta, BPF_ANY), 0, "version 4");
	fx_close(&f);
	if (!ASSERT_EQ(pin_open(&s, dir, PIN_WRITE, NULL, err, sizeof(err)), 0, "opened to write"))
		goto out;
	ASSERT_EQ(fence_read_meta(&s.m, &meta), 0, "meta again");
	ASSERT_EQ(meta.version, FENCE_META_VERSION, "upgraded to this layout");
	ASSERT_EQ(s.m.tbl6_meta->keyed, 0, "tbl6 kept as it was made");
	n_tbl6 = s.m.n_tbl6;
	for (unsigned i = 0; i < sizeof(few) / sizeof(few[0]); i++) {
		cidr_parse(few[i], &c, 0, NULL, 0);
		table_put(s.t, &c, FENCE_KIND_DENY, &info);
	}
	ASSERT_EQ(table_commit(s.t, &st, err, sizeof(err)), 0, "a few keys go in, unkeyed");
	deny_all(s.t, addrs, 40, &info);
	ASSERT_EQ(table_commit(s.t, &st, err, sizeof(err)), -ENOSPC, "the 40 crowd it");
	ASSERT_TRUE(strstr(err, "near a new key's place") != NULL, "near a key's place");
	pin_close(&s);
	/* this build's program over the unkeyed table */
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "the unkeyed set"))
		goto out;
	ASSERT_EQ(f.m.tbl6_meta->keyed, 0, "still unkeyed");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:1::5" }), XDP_DROP, "a /128 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:2:9::1" }), XDP_DROP,
		  "the /48 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:1::7" }), XDP_PASS, "others pass");
	ASSERT_EQ(drops_of(&f, addrs, 40), 0, "none of the 40 went in");
	fx_close(&f);

	if (!ASSERT_EQ(pin_open(&s, dir, PIN_WRITE, NULL, err, sizeof(err)), 0, "opened again"))
		goto out;
	deny_all(s.t, addrs, 40, &info);
	err[0] = 0;
	if (!ASSERT_EQ(pin_commit(&s, &st, err, sizeof(err)), 0, "pin_commit grows tbl6"))
		fprintf(stderr, "  %s\n", err);
	ASSERT_EQ(s.m.n_tbl6, 2 * n_tbl6, "twice the positions");
	ASSERT_EQ(s.m.tbl6_meta->keyed, 1, "made anew, keyed");
	pin_close(&s);
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "the grown set"))
		goto out;
	ASSERT_EQ(drops_of(&f, addrs, 40), 40, "every one of the 40 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:1::6" }), XDP_DROP,
		  "the earlier /128 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:2:9::1" }), XDP_DROP,
		  "the /48 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:0:7::1" }), XDP_PASS,
		  "others pass");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "the lookup maps name the live slots");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

static void test_table_parents_follow_changes(void)
{
	struct fence_rule_info expired = { .owners = FENCE_OWN_MANUAL, .manual_expires_ns = 1 };
	struct cidr c;
	struct fx f;

	if (!open_fx_default(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "198.18.0.0/16"), 0, "/16 drop");
	cidr_parse("198.18.7.0/24", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY, &expired), 0, "expired /24");
	ASSERT_EQ(table_commit(f.t, NULL, NULL, 0), 0, "commit");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x07\x01"),
		  FENCE_STAT_DROP_MANUAL, "falls back to /16");
	/* a /20 between them becomes the parent */
	ASSERT_EQ(fx_entry(&f, "198.18.0.0/20", FENCE_KIND_DENY, FENCE_ACT_MONITOR, 0, FENCE_OWN_FEED),
		  0, "/20 monitor");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x07\x01"), FENCE_STAT_MONITOR,
		  "falls back to /20");
	ASSERT_EQ(fx_remove(&f, "198.18.0.0/20", FENCE_KIND_DENY), 0, "remove /20");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x07\x01"),
		  FENCE_STAT_DROP_MANUAL, "back to /16");
	ASSERT_EQ(fx_remove(&f, "198.18.0.0/16", FENCE_KIND_DENY), 0, "remove /16");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x07\x01"),
		  FENCE_STAT_EXPIRED_PASS, "nothing left but the expired /24");

	/* inside a /24: an expired /32 and /26 fall back to the /25 around
	 * them, not to the /24 */
	ASSERT_EQ(fx_deny(&f, "198.18.9.0/24"), 0, "/24 drop");
	ASSERT_EQ(fx_entry(&f, "198.18.9.128/25", FENCE_KIND_DENY, FENCE_ACT_MONITOR, 0, FENCE_OWN_FEED),
		  0, "/25 monitor");
	cidr_parse("198.18.9.130/32", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY, &expired), 0, "expired /32");
	cidr_parse("198.18.9.192/26", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY, &expired), 0, "expired /26");
	ASSERT_EQ(table_commit(f.t, NULL, NULL, 0), 0, "commit");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x09\x82"), FENCE_STAT_MONITOR,
		  "/32 falls back to the /25");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x09\xc1"), FENCE_STAT_MONITOR,
		  "/26 falls back to the /25");
	ASSERT_EQ(observed_reason(&f, AF_INET, (const __u8 *)"\xc6\x12\x09\x01"),
		  FENCE_STAT_DROP_MANUAL, "the /24 below the /25");
	fx_close(&f);
}

/* Every IPv6 deny's parent is the longest live deny around it, with enough
 * of them that the commit sorts them by radix (hosts of one /64 and a
 * prefix next to its own /128 among them: ties in the first 64 bits). */
static void test_table_v6_parents(void)
{
	struct fence_opts o = { .max_rules = 8192, .tbl8_groups = 64, .prefix_entries = 64,
				.v6_rules = 16384 };
	static struct cidr c[3000];
	static const __u8 lens[] = { 32, 40, 48, 56, 60, 64, 64, 64, 96, 128, 128, 128 };
	int n = 0, wrong = 0;
	char err[256] = "";
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	while (n < (int)(sizeof(c) / sizeof(c[0]))) {
		struct cidr *e = &c[n];
		bool dup = false;

		memset(e, 0, sizeof(*e));
		e->family = AF_INET6;
		memcpy(e->addr, "\x20\x01\x0d\xb8", 4);
		e->addr[4] = rnd() & 1;
		e->addr[5] = rnd() & 3;
		e->addr[6] = rnd() & 7;
		e->addr[7] = rnd() & 3;
		for (int i = 8; i < 16; i++)
			e->addr[i] = rnd() % 4 ? 0 : rnd();
		e->len = lens[rnd() % sizeof(lens)];
		cidr_mask(e);
		for (int j = 0; j < n && !dup; j++)
			dup = c[j].len == e->len && !memcmp(c[j].addr, e->addr, 16);
		if (dup)
			continue;
		{
			struct fence_rule_info info = { .owners = FENCE_OWN_MANUAL,
							.manual_action = FENCE_ACT_DROP };

			if (table_put(f.t, e, FENCE_KIND_DENY, &info))
				break;
		}
		if (++n == 1500 && !ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, err))
			break;
	}
	ASSERT_EQ(n, 3000, "entries put");
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), 0, err);
	for (int i = 0; i < n; i++) {
		const struct cidr *best = NULL;
		__u32 slot = 0, want = 0;

		for (int j = 0; j < n; j++)
			if (c[j].len < c[i].len && cidr_contains(&c[j], &c[i]) &&
			    (!best || c[j].len > best->len))
				best = &c[j];
		if (!table_get(f.t, &c[i], FENCE_KIND_DENY, &slot) || !slot) {
			wrong++;
			continue;
		}
		if (best)
			table_get(f.t, best, FENCE_KIND_DENY, &want);
		if (f.m.rules[slot].parent != want && wrong++ < 5) {
			char a[64], b[64];

			TEST_FAIL_AT("%s parent %u, want %u (%s)", cidr_str(&c[i], a, sizeof(a)),
				     f.m.rules[slot].parent, want, best ? cidr_str(best, b, sizeof(b)) : "none");
		}
	}
	ASSERT_EQ(wrong, 0, "every IPv6 deny's parent the longest deny around it");
	fx_close(&f);
}

static void test_table_second_writer_converges(void)
{
	struct table *t2 = NULL;
	struct table_stats st;
	struct cidr c;
	__u32 slot = 0;
	struct fx f;

	if (!open_fx_default(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "198.18.0.0/24"), 0, "deny");
	ASSERT_EQ(fx_deny(&f, "198.18.1.7/32"), 0, "deny /32");
	ASSERT_EQ(fx_entry(&f, "198.18.2.128/26", FENCE_KIND_DENY, FENCE_ACT_DROP, 0, FENCE_OWN_FEED),
		  0, "deny /26");
	/* a restarted controller sees the same entries and changes nothing */
	ASSERT_EQ(table_open(&t2, &f.m), 0, "second table");
	cidr_parse("198.18.1.7", &c, 0, NULL, 0);
	ASSERT_TRUE(table_get(t2, &c, FENCE_KIND_DENY, &slot) != NULL && slot, "entry found");
	cidr_parse("203.0.113.0/24", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(t2, &c, FENCE_KIND_DENY,
			    &(struct fence_rule_info){ .owners = FENCE_OWN_MANUAL }), 0, "put");
	ASSERT_EQ(table_commit(t2, &st, NULL, 0), 0, "commit");
	ASSERT_EQ(st.added, 1, "one added");
	ASSERT_EQ(st.tbl24_writes, 1, "one leaf written: the rest already matches");
	ASSERT_EQ(st.tbl8_writes, 0, "groups untouched");
	cidr_parse("198.18.2.128/26", &c, 0, NULL, 0);
	ASSERT_EQ(table_del(t2, &c, FENCE_KIND_DENY), 0, "del");
	ASSERT_EQ(table_commit(t2, &st, NULL, 0), 0, "commit del");
	ASSERT_EQ(st.removed, 1, "removed");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.2.130" }), XDP_PASS, "gone");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.1.7" }), XDP_DROP, "kept");
	table_close(t2);
	fx_close(&f);
}

/* A commit writes only the /24s its changes touch, unless the previous
 * writer died half way through (its mark is still in `meta`): then the
 * whole table is repainted from the entries. */
static void test_table_interrupted_commit_repaints(void)
{
	struct fence_meta meta;
	struct table_stats st;
	__u32 key = 0, leaf = 0xc61200;	/* 198.18.0.0/24 */
	struct cidr c;
	struct fx f;

	if (!open_fx_default(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "198.18.0.0/24"), 0, "deny /24");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.0.1" }), XDP_DROP, "dropped");
	/* what a writer killed between writing an entry and its leaf leaves */
	__atomic_store_n(&f.m.tbl24[leaf], 0, __ATOMIC_RELEASE);
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.0.1" }), XDP_PASS, "leaf lost");
	cidr_parse("203.0.113.0/24", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY,
			    &(struct fence_rule_info){ .owners = FENCE_OWN_MANUAL }), 0, "put");
	ASSERT_EQ(table_commit(f.t, &st, NULL, 0), 0, "commit");
	ASSERT_EQ(st.tbl24_writes, 1, "an unmarked commit writes its own /24 only");
	ASSERT_EQ(f.m.tbl24[leaf], 0, "and leaves the other alone");

	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
	ASSERT_EQ(meta.writing, 0, "no commit under way");
	meta.writing = 1;		/* the mark a killed writer leaves */
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_META], &key, &meta, BPF_ANY), 0, "mark");
	cidr_parse("203.0.113.9", &c, 0, NULL, 0);
	ASSERT_EQ(table_put(f.t, &c, FENCE_KIND_DENY,
			    &(struct fence_rule_info){ .owners = FENCE_OWN_MANUAL }), 0, "put /32");
	ASSERT_EQ(table_commit(f.t, &st, NULL, 0), 0, "commit after the mark");
	ASSERT_EQ(st.tbl24_writes, 2, "the lost leaf and the new /32's");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.0.1" }), XDP_DROP, "repaired");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "203.0.113.9" }), XDP_DROP, "new /32");
	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
	ASSERT_EQ(meta.writing, 0, "mark cleared after the commit");
	fx_close(&f);
}

/* host_v4 (maps/keys.h) against deny_v4 and the slots. Faults: a cell
 * whose slot is not deny_v4's for its /32, or outside its home bucket; a
 * live /32 deny missing from a bucket with a free cell (unless missing is
 * given: they are counted there; a /32 left out of a full bucket stays in
 * deny_v4 alone when a cell frees up, until a repair fills it); no header.
 * *placed: the live /32 denies found in cells. */
static int host_faults_of(struct fx *f, int *placed, int *missing)
{
	int fd = f->m.fd[FM_HOST_V4], faults = 0, in = 0, out = 0;
	struct fence_host_bucket b;
	__u32 zero = 0, n;

	if (bpf_map_lookup_elem(fd, &zero, &b))
		return 1000;
	n = (__u32)b.cell[0];
	if (!n || n + 1 != f->m.max_entries[FM_HOST_V4])
		return 1000;
	for (__u32 i = 1; i <= n; i++) {
		if (bpf_map_lookup_elem(fd, &i, &b))
			return 1000;
		for (int j = 0; j < FENCE_HOST_CELLS; j++) {
			struct fence_v4_key k = { 32, (__u32)b.cell[j] };
			struct fence_slot v;

			if (!b.cell[j])
				continue;
			if (bpf_map_lookup_elem(f->m.fd[FM_DENY_V4], &k, &v) ||
			    v.slot != b.cell[j] >> 32)
				faults++;
			if (fence_host_index(k.addr, n) != i)
				faults++;
		}
	}
	for (__u32 s = 1; s < f->m.n_slots; s++) {
		const struct fence_rule_info *inf = &f->m.info[s];
		bool found = false, full = true;
		__u32 addr, i;

		if (f->m.rules[s].kind != FENCE_KIND_DENY || f->m.rules[s].family != 4 ||
		    inf->prefixlen != 32)
			continue;
		memcpy(&addr, inf->addr, 4);
		i = fence_host_index(addr, n);
		if (bpf_map_lookup_elem(fd, &i, &b))
			return 1000;
		for (int j = 0; j < FENCE_HOST_CELLS; j++) {
			found |= b.cell[j] == ((__u64)s << 32 | addr);
			full &= b.cell[j] != 0;
		}
		if (found)
			in++;
		else if (!full)
			out++;
	}
	if (placed)
		*placed = in;
	if (missing)
		*missing = out;
	else
		faults += out;
	return faults;
}

static int host_faults(struct fx *f, int *placed)
{
	return host_faults_of(f, placed, NULL);
}

/* The bucket of /32 text in host_v4, as the data path finds it: its
 * element in *i, its cells in *b. 0, or -1 with host_v4 not filled. */
static int host_bucket(struct fx *f, const char *text, __u32 *i, struct fence_host_bucket *b)
{
	__u32 zero = 0, addr;

	inet_pton(AF_INET, text, &addr);
	if (bpf_map_lookup_elem(f->m.fd[FM_HOST_V4], &zero, b) || !b->cell[0])
		return -1;
	*i = fence_host_index(addr, (__u32)b->cell[0]);
	return bpf_map_lookup_elem(f->m.fd[FM_HOST_V4], i, b) ? -1 : 0;
}

/* Take the cell of /32 text out of host_v4 (as if it was never put). */
static void host_clear(struct fx *f, const char *text)
{
	struct fence_host_bucket b;
	__u32 addr, i;

	inet_pton(AF_INET, text, &addr);
	if (host_bucket(f, text, &i, &b))
		return;
	for (int j = 0; j < FENCE_HOST_CELLS; j++)
		if ((__u32)b.cell[j] == addr)
			b.cell[j] = 0;
	bpf_map_update_elem(f->m.fd[FM_HOST_V4], &i, &b, BPF_ANY);
}

/* Put a cell naming slot for /32 text in the first free cell of its
 * bucket, as the writer never would for an address without that entry. */
static int host_plant(struct fx *f, const char *text, __u32 slot)
{
	struct fence_host_bucket b;
	__u32 addr, i;

	inet_pton(AF_INET, text, &addr);
	if (host_bucket(f, text, &i, &b))
		return -1;
	for (int j = 0; j < FENCE_HOST_CELLS; j++)
		if (!b.cell[j]) {
			b.cell[j] = (__u64)slot << 32 | addr;
			return bpf_map_update_elem(f->m.fd[FM_HOST_V4], &i, &b, BPF_ANY);
		}
	return -1;
}

/* Every live slot that has a key (all but IPv4 denies shorter than /32)
 * is keyed in its lookup map under its own prefix, and the maps hold
 * nothing else; returns the number of faults found. */
static int lookup_maps_faults(struct fx *f)
{
	static const int maps[2][3] = { { 0, FM_ALLOW_V4, FM_DENY_V4 }, { 0, FM_ALLOW_V6, FM_DENY_V6 } };
	__u32 live[2][3] = {}, keys[2][3] = {};
	int faults = 0;

	for (__u32 s = 1; s < f->m.n_slots; s++) {
		const struct fence_rule_info *in = &f->m.info[s];
		__u8 kind = f->m.rules[s].kind, key[20] = {};
		__u32 len = in->prefixlen;
		struct fence_slot v;
		int v6 = in->family == 6;

		if (kind == FENCE_KIND_FREE)
			continue;
		memcpy(key, &len, 4);
		memcpy(key + 4, in->addr, v6 ? 16 : 4);
		if (!v6 && kind == FENCE_KIND_DENY && len != 32) {
			/* painted only: a key would be one the data path never reads */
			faults += !bpf_map_lookup_elem(f->m.fd[FM_DENY_V4], key, &v);
			continue;
		}
		live[v6][kind]++;
		if (bpf_map_lookup_elem(f->m.fd[maps[v6][kind]], key, &v) || v.slot != s)
			faults++;
	}
	for (int v6 = 0; v6 < 2; v6++)
		for (int kind = 1; kind < 3; kind++) {
			__u8 k[20], prev[20];
			int fd = f->m.fd[maps[v6][kind]];

			for (void *p = NULL; !bpf_map_get_next_key(fd, p, k); p = prev) {
				memcpy(prev, k, sizeof(k));
				keys[v6][kind]++;
			}
			if (keys[v6][kind] != live[v6][kind])
				faults++;
		}
	return faults;
}

static void put_deny(struct table *t, const char *text, bool del)
{
	struct fence_rule_info info = { .owners = del ? 0 : FENCE_OWN_FEED, .feeds = 1 };
	struct cidr c;

	cidr_parse(text, &c, 0, NULL, 0);
	table_put(t, &c, FENCE_KIND_DENY, &info);
}

/* A commit that finds the mark of an interrupted one repairs what such a
 * writer leaves: a live entry missing from its lookup map (not enforced,
 * for /32s and IPv6), a key naming a freed or different slot, a throttle
 * bucket of a slot that no longer throttles, an unlinked group not yet
 * quarantined. */
static void test_table_recovery_repairs_lookup_maps(void)
{
	struct fence_v4_key k4 = { 32 };
	struct fence_v6_key k6 = { 64 };
	struct fence_slot v;
	struct fence_meta meta;
	struct table_stats st;
	__u32 key = 0, s32, s64, s24, g;
	struct cidr c;
	struct fx f;

	if (!open_fx_default(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "198.18.7.9/32"), 0, "deny /32");
	ASSERT_EQ(fx_deny(&f, "2001:db8:1:2::/64"), 0, "deny /64");
	ASSERT_EQ(fx_deny(&f, "198.18.9.0/24"), 0, "deny /24");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "consistent after plain commits");
	cidr_parse("198.18.7.9", &c, 0, NULL, 0);
	ASSERT_TRUE(table_get(f.t, &c, FENCE_KIND_DENY, &s32) && s32, "slot of /32");
	cidr_parse("2001:db8:1:2::/64", &c, 0, NULL, 0);
	ASSERT_TRUE(table_get(f.t, &c, FENCE_KIND_DENY, &s64) && s64, "slot of /64");

	/* the gaps: live entries unkeyed, stale keys, a stray bucket */
	inet_pton(AF_INET, "198.18.7.9", &k4.addr);
	inet_pton(AF_INET6, "2001:db8:1:2::", k6.addr);
	ASSERT_EQ(bpf_map_delete_elem(f.m.fd[FM_DENY_V4], &k4), 0, "unkey /32");
	host_clear(&f, "198.18.7.9");	/* the data path finds it there first */
	ASSERT_EQ(bpf_map_delete_elem(f.m.fd[FM_DENY_V6], &k6), 0, "unkey /64");
	/* the data path searches tbl6, not deny_v6: lose the /64 there too */
	for (__u32 pos = 0; pos < f.m.n_tbl6; pos++)
		if (f.m.tbl6[pos].state == FENCE_V6_LIVE && f.m.tbl6[pos].deny == s64)
			f.m.tbl6[pos].state = FENCE_V6_DEAD;
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.7.9" }), XDP_PASS, "/32 lost");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:1:2::5" }), XDP_PASS, "/64 lost");
	inet_pton(AF_INET, "198.18.8.1", &k4.addr);
	v.slot = f.m.n_slots - 1;	/* free */
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_DENY_V4], &k4, &v, BPF_ANY), 0, "stale v4 key");
	inet_pton(AF_INET6, "2001:db8:9::", k6.addr);
	k6.prefixlen = 48;
	v.slot = s32;			/* live, but another entry */
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_DENY_V6], &k6, &v, BPF_ANY), 0, "stale v6 key");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:9::1" }), XDP_PASS,
		  "a stale deny_v6 key judges no traffic (tbl6 does)");
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_THROTTLE], &s32,
				      &(struct fence_bucket){ 0 }, BPF_ANY), 0, "stray bucket");
	ASSERT_EQ(lookup_maps_faults(&f), 2, "the checker sees both unkeyed entries");
	/* a group unlinked but not stamped (killed between steps 5 and 6) */
	ASSERT_EQ(fx_deny(&f, "198.18.20.128/25"), 0, "deny /25: a group");
	ASSERT_EQ(fx_remove(&f, "198.18.20.128/25", FENCE_KIND_DENY), 0, "and gone");
	for (g = 0; g < f.m.n_groups; g++)
		if (f.m.tbl8_state[g].freed_ns)
			break;
	if (!ASSERT_TRUE(g < f.m.n_groups, "the freed group"))
		goto out;
	f.m.tbl8_state[g].freed_ns = 0;
	/* an entry being removed (no owner left, not freed) and a rule that
	 * disagrees with its record (killed between the two) */
	cidr_parse("198.18.9.0/24", &c, 0, NULL, 0);
	ASSERT_TRUE(table_get(f.t, &c, FENCE_KIND_DENY, &s24) && s24, "slot of /24");
	f.m.info[s24].owners = 0;
	f.m.rules[s32].action = FENCE_ACT_MONITOR;
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.9.1" }), XDP_DROP, "/24 still drops");
	/* a /24's key, as maps of layout 1 had them: stale now */
	k4.prefixlen = 24;
	inet_pton(AF_INET, "198.18.9.0", &k4.addr);
	v.slot = s24;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_DENY_V4], &k4, &v, BPF_ANY), 0, "/24 key");
	table_abort(f.t);

	/* an unmarked commit does not look */
	put_deny(f.t, "203.0.113.0/24", false);
	ASSERT_EQ(table_commit(f.t, &st, NULL, 0), 0, "unmarked commit");
	ASSERT_TRUE(!st.recovered, "no repair without the mark");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.7.9" }), XDP_PASS, "still lost");

	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
	meta.writing = 1;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_META], &key, &meta, BPF_ANY), 0, "mark");
	ASSERT_EQ(table_commit(f.t, &st, NULL, 0), 0, "commit of nothing after the mark");
	ASSERT_TRUE(st.recovered, "repaired");
	ASSERT_EQ(st.keys_fixed, 5 + 1, "two keys in, two out, one bucket, the /24's key");
	ASSERT_EQ(st.entries_fixed, 2, "the ownerless /24 freed, the /32's rule derived again");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.9.1" }), XDP_PASS, "ownerless /24 gone");
	ASSERT_EQ(f.m.rules[s32].action, FENCE_ACT_DROP, "the /32 drops again, as its record says");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "consistent again");
	{
		int placed = 0;

		ASSERT_EQ(host_faults(&f, &placed), 0, "host_v4 filled again");
		ASSERT_EQ(placed, 1, "  with the /32");
	}
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.7.9" }), XDP_DROP, "/32 enforced");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:1:2::5" }), XDP_DROP, "/64 enforced");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "2001:db8:9::1" }), XDP_PASS, "stale v6 gone");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.8.1" }), XDP_PASS, "stale v4 gone");
	ASSERT_TRUE(bpf_map_lookup_elem(f.m.fd[FM_THROTTLE], &s32, &(struct fence_bucket){ 0 }),
		    "stray bucket gone");
	ASSERT_TRUE(f.m.tbl8_state[g].freed_ns != 0, "the unlinked group quarantined");
	ASSERT_EQ(f.m.tbl8_state[f.m.n_groups - 1].freed_ns, 0,
		  "a group never used is not: it can be taken at once");
	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
	ASSERT_EQ(meta.writing, 0, "mark cleared");
out:
	fx_close(&f);
}

static int verdict_at(struct fx *f, const char *src)
{
	return fx_send(f, &(struct pkt_spec){ .saddr = src });
}

/* host_v4 (maps/keys.h): the /32 denies in cells, each with deny_v4's
 * slot; read by the data path first (a planted cell rules); a full bucket
 * leaves its ninth /32 to deny_v4; a removal clears the cell; a table
 * whose header was wiped is filled again by the next commit. */
static void test_table_host_cells(void)
{
	char addrs[FENCE_HOST_CELLS + 1][32];
	struct fence_host_bucket hdr;
	__u32 zero = 0, n, home = 0, slot;
	int got = 0, placed = 0, bad = 0, missing = 0;
	struct cidr c;
	struct fx f;

	if (!open_fx_default(&f))
		return;
	ASSERT_EQ(fx_deny(&f, "198.18.7.9/32"), 0, "a /32 deny");
	ASSERT_EQ(host_faults(&f, &placed), 0, "in host_v4");
	ASSERT_EQ(placed, 1, "  once");
	ASSERT_EQ(verdict_at(&f, "198.18.7.9"), XDP_DROP, "dropped");
	ASSERT_EQ(verdict_at(&f, "198.18.7.10"), XDP_PASS, "its neighbour passes");

	/* a cell planted for the neighbour, naming the /32's slot: the data
	 * path believes it (so it reads the cells, not deny_v4 alone) */
	cidr_parse("198.18.7.9/32", &c, 0, NULL, 0);
	ASSERT_TRUE(table_get(f.t, &c, FENCE_KIND_DENY, &slot) && slot, "slot of the /32");
	ASSERT_EQ(bpf_map_lookup_elem(f.m.fd[FM_HOST_V4], &zero, &hdr), 0, "header");
	n = (__u32)hdr.cell[0];
	ASSERT_EQ(n, 1024, "4096 slots: 1024 buckets");
	ASSERT_EQ(host_plant(&f, "198.18.7.10", slot), 0, "planted");
	ASSERT_EQ(verdict_at(&f, "198.18.7.10"), XDP_DROP, "a planted cell rules");
	host_clear(&f, "198.18.7.10");
	ASSERT_EQ(verdict_at(&f, "198.18.7.10"), XDP_PASS, "and no more once gone");

	/* nine /32s of one bucket: eight cells, the ninth in deny_v4 alone */
	for (__u32 x = 0; got < FENCE_HOST_CELLS + 1 && x < 65536; x++) {
		__u32 ad = htonl(0xc6124000U + x);	/* 198.18.64.0/18 */

		if (!got)
			home = fence_host_index(ad, n);
		if (fence_host_index(ad, n) != home)
			continue;
		inet_ntop(AF_INET, &ad, addrs[got], sizeof(addrs[got]));
		got++;
	}
	if (!ASSERT_EQ(got, FENCE_HOST_CELLS + 1, "nine addresses of one bucket"))
		goto out;
	for (int k = 0; k < got; k++)
		bad += fx_deny(&f, addrs[k]) != 0;
	ASSERT_EQ(bad, 0, "denied");
	ASSERT_EQ(host_faults(&f, &placed), 0, "host_v4 in line");
	ASSERT_EQ(placed, 1 + FENCE_HOST_CELLS, "  eight of them in cells, and the first /32");
	for (int k = 0; k < got; k++)
		bad += verdict_at(&f, addrs[k]) != XDP_DROP;
	ASSERT_EQ(bad, 0, "all nine dropped, the ninth found in deny_v4");
	ASSERT_EQ(fx_remove(&f, addrs[0], FENCE_KIND_DENY), 0, "one removed");
	ASSERT_EQ(host_faults_of(&f, &placed, &missing), 0, "its cell cleared");
	ASSERT_EQ(missing, 1, "  the ninth stays in deny_v4 alone (a cell is free now)");
	ASSERT_EQ(verdict_at(&f, addrs[0]), XDP_PASS, "it passes");
	ASSERT_EQ(verdict_at(&f, addrs[FENCE_HOST_CELLS]), XDP_DROP, "the ninth still drops");

	/* the header wiped (as a fresh map's): deny_v4 alone, then filled */
	hdr.cell[0] = 0;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_HOST_V4], &zero, &hdr, BPF_ANY), 0, "header 0");
	ASSERT_EQ(verdict_at(&f, "198.18.7.9"), XDP_DROP, "deny_v4 answers");
	ASSERT_EQ(fx_deny(&f, "203.0.113.77/32"), 0, "a commit");
	ASSERT_EQ(host_faults(&f, &placed), 0, "filled again");
	ASSERT_EQ(placed, 2 + FENCE_HOST_CELLS, "  every /32: the ninth and the new one too");
	ASSERT_EQ(verdict_at(&f, "203.0.113.77"), XDP_DROP, "the new /32 drops");

	/* turned off where a cell could not be cleared (header 0, cell[1]
	 * 1): a cell left naming a live slot for an address with no entry is
	 * wiped by the next fill, not kept under the new header */
	ASSERT_EQ(host_plant(&f, "198.18.7.10", slot), 0, "a cell left");
	hdr.cell[0] = 0;
	hdr.cell[1] = 1;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_HOST_V4], &zero, &hdr, BPF_ANY), 0, "turned off");
	ASSERT_EQ(verdict_at(&f, "198.18.7.10"), XDP_PASS, "nothing read while off");
	ASSERT_EQ(fx_deny(&f, "203.0.113.78/32"), 0, "a commit");
	ASSERT_EQ(host_faults(&f, &placed), 0, "filled again, the left cell gone");
	ASSERT_EQ(verdict_at(&f, "198.18.7.10"), XDP_PASS, "the neighbour passes");
	ASSERT_EQ(bpf_map_lookup_elem(f.m.fd[FM_HOST_V4], &zero, &hdr), 0, "header");
	ASSERT_EQ(hdr.cell[1], 0, "  and no longer marked");
out:
	fx_close(&f);
}

static void text_v4_host(int i, char *buf, size_t len)
{
	snprintf(buf, len, "198.18.%d.%d", 8 + i / 200, i % 200 + 1);
}

/* A set pinned by a build before host_v4 (here: host_v4 unpinned) gets
 * one made beside it, sized for the slots pinned there, not for the
 * options of the program that makes it; its first commit fills it. */
static void test_table_host_made_beside_older(void)
{
	struct fence_opts o = { .max_rules = 1 << 15, .tbl8_groups = 16, .prefix_entries = 64,
				.v6_rules = 1024 };
	struct fence_opts later = { .tbl8_groups = 16, .prefix_entries = 64, .v6_rules = 1024 };
	char dir[96], path[160];
	int placed = 0;
	struct fx f;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "h4old"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = later.pin_dir = dir;
	later.max_rules = 4096;	/* what a program opened without the pinned sizes would take */
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a pinned set of 32768 slots"))
		goto out;
	ASSERT_EQ(fx_deny(&f, "198.18.0.1/32"), 0, "a /32");
	fx_close(&f);
	snprintf(path, sizeof(path), "%s/host_v4", dir);
	ASSERT_EQ(unlink(path), 0, "host_v4 unpinned, as an older build left it");
	if (!ASSERT_EQ(fx_open(&f, &later), 0, "a program of this build over it"))
		goto out;
	ASSERT_EQ(f.m.n_slots, 1U << 15, "the pinned slots kept");
	ASSERT_EQ(f.m.max_entries[FM_HOST_V4], fence_host_buckets(1 << 15) + 1,
		  "host_v4 made for them");
	ASSERT_EQ(fx_deny(&f, "198.18.0.2/32"), 0, "a commit");
	ASSERT_EQ(host_faults(&f, &placed), 0, "filled");
	ASSERT_EQ(placed, 2, "  the /32 from before too");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

/* A pinned set whose rule slots grow (pin_commit): host_v4 grows with
 * them, its cells placed again for the new size. */
static void test_table_host_grows(void)
{
	struct fence_opts o = { .max_rules = 1024, .tbl8_groups = 16, .prefix_entries = 64,
				.v6_rules = 1024 };
	char dir[96], err[256] = "";
	int placed = 0;
	struct fx f;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "h4"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a pinned set of 1024 slots"))
		goto out;
	ASSERT_EQ(fx_deny(&f, "198.18.0.1/32"), 0, "a /32 before");
	ASSERT_EQ(f.m.max_entries[FM_HOST_V4], 256 + 1, "256 buckets");
	fx_close(&f);
	if (!ASSERT_EQ(fx_pin_deny_many(dir, 1500, text_v4_host, err, sizeof(err)), 0,
		       "1500 /32 denies committed, growing"))
		fprintf(stderr, "  %s\n", err);
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "a program on the grown set"))
		goto out;
	ASSERT_TRUE(f.m.n_slots >= 2048, "the slots grew");
	ASSERT_EQ(f.m.max_entries[FM_HOST_V4], fence_host_buckets(f.m.n_slots) + 1,
		  "host_v4 with them");
	ASSERT_EQ(host_faults(&f, &placed), 0, "its cells in line");
	ASSERT_TRUE(placed >= 1490, "  nearly every /32 in a cell");
	ASSERT_EQ(verdict_at(&f, "198.18.0.1"), XDP_DROP, "the /32 from before");
	ASSERT_EQ(fx_not_dropped(&f, 1500, text_v4_host), 0, "every new /32 drops");
	ASSERT_EQ(verdict_at(&f, "198.18.8.201"), XDP_PASS, "and nothing else");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

/* A refused commit of more changes than the span limit (a whole-table
 * repaint) applies nothing and leaves no mark: nothing to repair. */
static void test_table_refused_big_commit_leaves_no_mark(void)
{
	struct fence_opts o = { .max_rules = 70000, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 64 };
	struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1 };
	struct fence_meta meta;
	char err[256] = "", t[32];
	struct cidr c;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		return;
	for (int i = 0; i < 65600; i++) {
		snprintf(t, sizeof(t), "198.%d.%d.%d", 18 + (i >> 16), (i >> 8) & 255, i & 255);
		cidr_parse(t, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	for (int i = 0; i < 5; i++) {	/* five groups in a table of four */
		snprintf(t, sizeof(t), "203.0.%d.128/25", 100 + i);
		cidr_parse(t, &c, 0, NULL, 0);
		table_put(f.t, &c, FENCE_KIND_DENY, &info);
	}
	ASSERT_EQ(table_commit(f.t, NULL, err, sizeof(err)), -ENOSPC, "refused");
	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
	ASSERT_EQ(meta.writing, 0, "no mark left");
	ASSERT_TRUE(!table_interrupted(f.t), "nothing to repair");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "no key left");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.0.5" }), XDP_PASS, "none applied");
	fx_close(&f);
}

/* Writers killed at points spread over a commit (adds and removes of
 * IPv4 /32s and /24s and IPv6 /64s): the next commit finds the mark and
 * leaves every entry either in or out, its lookup keys and leaves agreeing
 * with the data path. */
#define KW_N 6000
static void test_table_killed_writer_recovers(void)
{
	struct fence_opts o = { .max_rules = 4 * KW_N, .tbl8_groups = 256, .prefix_entries = 64,
				.v6_rules = 4 * KW_N };
	static char names[2 * KW_N][48];
	struct timespec t0, t1;
	double full_us = 0;
	int rounds = 12, marked = 0;
	struct fx f;

	if (!ASSERT_EQ(fx_open(&f, &o), 0, "fx_open"))
		return;
	/* A = [0, KW_N), B = [KW_N, 2 KW_N): a tenth IPv6, a tenth /24s */
	for (int i = 0; i < 2 * KW_N; i++) {
		__u32 a = rnd();

		if (i % 10 == 3)
			snprintf(names[i], sizeof(names[i]), "2001:db8:%x:%x::/64", i, a & 0xffff);
		else if (i % 10 == 7)
			snprintf(names[i], sizeof(names[i]), "198.%u.%u.0/24", 18 + (i & 1), a & 0xff);
		else
			snprintf(names[i], sizeof(names[i]), "198.%u.%u.%u", 18 + (i & 1), (a >> 8) & 0xff,
				 a & 0xff);
	}
	/* until some kill has caught a commit half way: on a busy host a
	 * round's kill may land before the first write or after the last */
	for (int r = -1; r < rounds || (!marked && r < 4 * rounds); r++) {
		struct table *t = NULL;
		struct table_stats st;
		char err[256] = "", c1;
		pid_t pid;
		int status, go[2];

		/* back to A (a restarted controller: a new table) */
		ASSERT_EQ(table_open(&t, &f.m), 0, "table");
		for (int i = 0; i < 2 * KW_N; i++)
			put_deny(t, names[i], i >= KW_N);
		if (!ASSERT_EQ(table_commit(t, &st, err, sizeof(err)), 0, err))
			break;
		table_close(t);
		ASSERT_EQ(lookup_maps_faults(&f), 0, "A consistent");

		/* the writer: half of A out, all of B in; it says when it commits */
		if (!ASSERT_EQ(pipe(go), 0, "pipe"))
			break;
		pid = fork();
		if (pid == 0) {
			struct table *tw = NULL;

			if (table_open(&tw, &f.m))
				_exit(1);
			for (int i = 0; i < 2 * KW_N; i++)
				if (i % 2 == 0 || i >= KW_N)
					put_deny(tw, names[i], i < KW_N);
			if (write(go[1], "", 1) != 1)
				_exit(1);
			_exit(table_commit(tw, NULL, NULL, 0) ? 1 : 0);
		}
		close(go[1]);
		ASSERT_EQ(read(go[0], &c1, 1), 1, "writer staged");
		close(go[0]);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (r >= 0) {
			/* spread over the commit, from before its first write to its end */
			struct timespec d;
			double us = full_us * (r % rounds + (rnd() % 100) / 100.0) / rounds;

			d.tv_sec = 0;
			d.tv_nsec = (long)(us * 1000);
			nanosleep(&d, NULL);
			kill(pid, SIGKILL);
		}
		waitpid(pid, &status, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (r < 0) {
			ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "uninterrupted writer");
			full_us = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
		}

		/* the next controller */
		ASSERT_EQ(table_open(&t, &f.m), 0, "table after the kill");
		ASSERT_EQ(table_commit(t, &st, err, sizeof(err)), 0, err);
		marked += st.recovered;
		if (!ASSERT_EQ(lookup_maps_faults(&f), 0, "consistent after recovery")) {
			fprintf(stderr, "  round %d of %d, commit took %.0f us\n", r, rounds, full_us);
			table_close(t);
			break;
		}
		for (int n = 0; n < 200; n++) {
			int i = rnd() % (2 * KW_N);
			struct cidr c;
			char src[48];
			__u32 slot = 0;
			bool in;

			cidr_parse(names[i], &c, 0, NULL, 0);
			in = table_get(t, &c, FENCE_KIND_DENY, &slot) != NULL;
			snprintf(src, sizeof(src), "%s", names[i]);
			if (strchr(src, '/'))
				*strchr(src, '/') = 0;
			if (i % 10 == 3)
				strcat(src, "1");
			/* an entry that is out may still be covered by a /24 that is in */
			if (!in && i % 10 != 3 && fx_send(&f, &(struct pkt_spec){ .saddr = src }) == XDP_DROP)
				continue;
			if (!ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = src }), in ? XDP_DROP : XDP_PASS,
				       names[i]))
				break;
		}
		table_close(t);
	}
	ASSERT_TRUE(marked > 0, "some kill caught a commit half way");
	fx_close(&f);
}

static int sh(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	if (!p)
		return -1;
	while (n + 1 < len && fgets(out + n, len - n, p))
		n += strlen(out + n);
	out[n] = 0;
	return pclose(p);
}

static void test_table_pinned_maps_dump_named_fields(void)
{
	char dir[128], cmd[512], out[65536];
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 64 };
	struct fx f, g;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "maps"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open pinned"))
		goto out;
	ASSERT_EQ(fx_deny(&f, "198.51.100.0/24"), 0, "deny");
	ASSERT_EQ(fx_deny(&f, "198.18.0.77"), 0, "deny a /32");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.51.100.1" }), XDP_DROP, "drop");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.1.1", .tcp_flags = 0x02 }),
		  XDP_PASS, "pass");

	snprintf(cmd, sizeof(cmd), "bpftool map dump pinned %s/stats 2>&1", dir);
	ASSERT_EQ(sh(cmd, out, sizeof(out)), 0, "bpftool stats");
	ASSERT_TRUE(strstr(out, "\"packets\": 1") && strstr(out, "\"bytes\""), "stats named fields");
	snprintf(cmd, sizeof(cmd), "bpftool map dump pinned %s/deny_v4 2>&1", dir);
	ASSERT_EQ(sh(cmd, out, sizeof(out)), 0, "bpftool deny_v4");
	ASSERT_TRUE(strstr(out, "\"prefixlen\": 32") && strstr(out, "\"slot\""), "deny_v4 named fields");
	snprintf(cmd, sizeof(cmd), "bpftool map dump pinned %s/prefix_v4 2>&1", dir);
	ASSERT_EQ(sh(cmd, out, sizeof(out)), 0, "bpftool prefix_v4");
	ASSERT_TRUE(strstr(out, "\"drops\": 0") && strstr(out, "\"new_conns\": 1"),
		    "prefix_v4 named fields");
	{
		/* entry_hits: CPU c's counters of slot s at c * slots + s; the
		 * packet was counted on whichever CPU ran it */
		struct cidr c;
		__u32 slot = 0;
		int hit = 0, ok = 1;

		cidr_parse("198.51.100.0/24", &c, 0, NULL, 0);
		table_get(f.t, &c, FENCE_KIND_DENY, &slot);
		for (int cpu = 0; cpu < f.m.ncpus; cpu++) {
			__u32 i = cpu * f.m.n_slots + slot;

			snprintf(cmd, sizeof(cmd), "bpftool map lookup pinned %s/entry_hits key %u %u %u %u 2>&1",
				 dir, i & 255, i >> 8 & 255, i >> 16 & 255, i >> 24);
			ok &= sh(cmd, out, sizeof(out)) == 0 && strstr(out, "\"new_conns\": 0");
			hit += strstr(out, "\"packets\": 1") != NULL;
		}
		ASSERT_TRUE(ok, "bpftool entry_hits, named fields");
		ASSERT_EQ(hit, 1, "the drop counted once, on the CPU that ran it");
	}

	/* a second load reuses the pinned maps: the entry is still there */
	if (ASSERT_EQ(fx_open(&g, &o), 0, "reopen pinned")) {
		ASSERT_EQ(fx_send(&g, &(struct pkt_spec){ .saddr = "198.51.100.2" }), XDP_DROP,
			  "policy survives a reload");
		ASSERT_EQ(fx_stat(&g, FENCE_STAT_DROP_MANUAL), 2, "counters survive too");
		fx_close(&g);
	}
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

/* Maps pinned by a build of layout 1 (deny_v4 created with
 * BPF_F_NO_PREALLOC and keying every IPv4 deny): the new build reuses the
 * map as it is, and its first commit, seeing fence_meta.version 1, repairs
 * the keys into this layout (a /32's key only) and records version 2. */
static void test_table_older_layout_upgrades(void)
{
	char dir[128], path[192];
	struct fence_opts o = { .max_rules = 256, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 64 };
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct fence_v4_key k = { 24 };
	struct fence_slot v;
	struct fence_meta meta;
	struct table_stats st;
	struct bpf_map_info info = {};
	__u32 key = 0, len = sizeof(info), s24 = 0, n;
	struct cidr c;
	struct fx f;
	int fd;

	if (!ASSERT_EQ(fx_pin_dir(dir, sizeof(dir), "old"), 0, "pin dir on bpffs"))
		return;
	o.pin_dir = dir;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "deny_v4", sizeof(struct fence_v4_key),
			    sizeof(struct fence_slot), o.max_rules, &mo);
	snprintf(path, sizeof(path), "%s/deny_v4", dir);
	if (!ASSERT_TRUE(fd >= 0 && !bpf_obj_pin(fd, path), "old-style deny_v4 pinned"))
		goto out;
	close(fd);
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open reuses the old map"))
		goto out;
	ASSERT_EQ(bpf_obj_get_info_by_fd(f.m.fd[FM_DENY_V4], &info, &len), 0, "info");
	ASSERT_EQ(info.map_flags, BPF_F_NO_PREALLOC, "the pinned map, as it was made");
	ASSERT_EQ(fx_deny(&f, "198.18.9.0/24"), 0, "deny /24");
	ASSERT_EQ(fx_deny(&f, "198.18.9.7"), 0, "deny /32 inside it");
	cidr_parse("198.18.9.0/24", &c, 0, NULL, 0);
	ASSERT_TRUE(table_get(f.t, &c, FENCE_KIND_DENY, &s24) && s24, "slot of /24");
	ASSERT_TRUE(!table_outdated(f.t), "maps made by this build are current");

	/* as layout 1 left them */
	inet_pton(AF_INET, "198.18.9.0", &k.addr);
	v.slot = s24;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_DENY_V4], &k, &v, BPF_ANY), 0, "/24 key");
	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta");
	meta.version = 1;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_META], &key, &meta, BPF_ANY), 0, "version 1");
	ASSERT_TRUE(table_outdated(f.t) && !table_interrupted(f.t), "outdated, not interrupted");
	ASSERT_EQ(lookup_maps_faults(&f), 2, "the checker sees the /24 key, one key too many");

	ASSERT_EQ(table_commit(f.t, &st, NULL, 0), 0, "commit of nothing");
	ASSERT_TRUE(st.recovered, "repaired into this layout");
	ASSERT_EQ(st.keys_fixed, 1, "the /24 key gone");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "consistent");
	ASSERT_EQ(fence_read_meta(&f.m, &meta), 0, "meta again");
	ASSERT_EQ(meta.version, FENCE_META_VERSION, "version recorded");
	ASSERT_EQ(meta.writing, 0, "no mark left");
	ASSERT_TRUE(!table_outdated(f.t), "current now");
	for (n = 0; !bpf_map_get_next_key(f.m.fd[FM_DENY_V4], n ? &k : NULL, &k); n++)
		;
	ASSERT_EQ(n, 1, "deny_v4 holds the /32 only");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.9.1" }), XDP_DROP, "/24 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.9.7" }), XDP_DROP, "/32 drops");
	ASSERT_EQ(fx_send(&f, &(struct pkt_spec){ .saddr = "198.18.10.1" }), XDP_PASS, "others pass");

	/* an older controller still running beside puts the /24's key again:
	 * removing the entry takes that key with it */
	k.prefixlen = 24;
	inet_pton(AF_INET, "198.18.9.0", &k.addr);
	v.slot = s24;
	ASSERT_EQ(bpf_map_update_elem(f.m.fd[FM_DENY_V4], &k, &v, BPF_ANY), 0, "/24 key again");
	ASSERT_EQ(fx_remove(&f, "198.18.9.0/24", FENCE_KIND_DENY), 0, "remove the /24");
	ASSERT_TRUE(bpf_map_lookup_elem(f.m.fd[FM_DENY_V4], &k, &v) != 0, "its stray key went too");
	ASSERT_EQ(lookup_maps_faults(&f), 0, "consistent");
	fx_close(&f);
out:
	ASSERT_EQ(fx_pin_dir_remove(dir), 0, "pin dir removed");
}

/* The key loader (bpf/keyload.bpf.c) runs on this kernel and does what
 * the batch syscalls did: every key put with its value (whole chunks by the
 * program, the tail by syscalls), deletes that find a key gone go on, and a
 * full map is an error, not a silent stop. */
static void test_table_keyload(void)
{
	struct fence_opts o = { .max_rules = 8192, .tbl8_groups = 4, .prefix_entries = 64,
				.v6_rules = 64 };
	enum { N = 5000 + 7 };
	struct fence_v4_key *k = calloc(N + 100, sizeof(*k));
	struct fence_slot *v = calloc(N + 100, sizeof(*v)), got;
	struct keyload *kl = NULL;
	__u32 bad = 0, n, i;
	struct fx f;

	if (!ASSERT_TRUE(k && v, "memory") || !ASSERT_EQ(fx_open(&f, &o), 0, "open"))
		goto out;
	kl = keyload_open(&f.m);
	if (!ASSERT_TRUE(kl != NULL, "loader loads on this kernel"))
		goto close;
	for (i = 0; i < N + 100; i++) {
		k[i].prefixlen = 32;
		k[i].addr = htonl(0xc6120000u + i);	/* 198.18.0.0/15 */
		v[i].slot = i + 1;
	}
	ASSERT_EQ(keyload_run(kl, FENCE_KEYLOAD_DENY_V4, k, v, N), 0, "put");
	for (i = 0; i < N + 100; i++) {
		bool in = !bpf_map_lookup_elem(f.m.fd[FM_DENY_V4], &k[i], &got);

		bad += i < N ? !in || got.slot != i + 1 : in;
	}
	ASSERT_EQ(bad, 0, "exactly the keys put, each with its value");
	ASSERT_EQ(keyload_run(kl, FENCE_KEYLOAD_ALLOW_V4, k, v, 40), 0, "put into allow_v4");
	ASSERT_EQ(bpf_map_lookup_elem(f.m.fd[FM_ALLOW_V4], &k[39], &got), 0, "allow_v4 has them");
	/* delete N + 100: the last 100 were never there */
	ASSERT_EQ(keyload_run(kl, FENCE_KEYLOAD_DENY_V4, k, NULL, N + 100), 0, "delete");
	for (n = 0; !bpf_map_get_next_key(f.m.fd[FM_DENY_V4], n ? &got : NULL, &got); n++)
		;
	ASSERT_EQ(n, 0, "deny_v4 empty again");
	ASSERT_EQ(bpf_map_lookup_elem(f.m.fd[FM_ALLOW_V4], &k[39], &got), 0, "allow_v4 untouched");
	keyload_close(kl);
	fx_close(&f);

	/* a map of 64 entries, 96 keys */
	o.max_rules = 64;
	if (!ASSERT_EQ(fx_open(&f, &o), 0, "open small"))
		goto out;
	kl = keyload_open(&f.m);
	if (ASSERT_TRUE(kl != NULL, "loader on the small maps"))
		ASSERT_EQ(keyload_run(kl, FENCE_KEYLOAD_DENY_V4, k, v, 96), -E2BIG, "full: E2BIG");
close:
	keyload_close(kl);
	fx_close(&f);
out:
	free(k);
	free(v);
}

/* feed_load's diff, through the maps: entries listed twice merge (the
 * longest lifetime wins, none beats any), an entry another owner holds keeps
 * that owner, a reload adds, keeps and releases exactly what changed, and
 * an entry shared by two feeds stays until both drop it. */
static int load_text_opts(struct pinned *s, const char *name, const char *text,
			  enum feed_format fmt, __u64 ttl_s, bool lenient,
			  struct feed_load_report *rep)
{
	char path[] = "/tmp/xdpfence-feed-XXXXXX";
	int fd = mkstemp(path), ret;
	struct feed_load_opts o = { .name = name, .source = path, .format = fmt,
				    .action = FENCE_ACT_DROP, .ttl_s = ttl_s, .min_len_v4 = 8,
				    .min_len_v6 = 19, .refetch = true, .lenient = lenient };

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	close(fd);
	ret = feed_load(s, &o, rep);
	unlink(path);
	return ret;
}

static int load_text(struct pinned *s, const char *name, const char *text, enum feed_format fmt,
		     __u64 ttl_s, struct feed_load_report *rep)
{
	return load_text_opts(s, name, text, fmt, ttl_s, false, rep);
}

static int verdict_of(struct fx *f, const char *src)
{
	return fx_send(f, &(struct pkt_spec){ .saddr = src });
}

static const struct fence_rule_info *entry(struct fx *f, const char *text)
{
	struct cidr c;

	cidr_parse(text, &c, 0, NULL, 0);
	return table_get(f->t, &c, FENCE_KIND_DENY, NULL);
}

static void test_table_feed_diff(void)
{
	struct feed_load_report r;
	const struct fence_rule_info *in;
	struct pinned s;
	struct fx f;
	__u64 t0;

	if (!open_fx_default(&f))
		return;
	s.m = f.m;
	s.t = f.t;
	s.lock_fd = -1;
	ASSERT_EQ(fx_entry(&f, "203.0.113.0/24", FENCE_KIND_DENY, FENCE_ACT_DROP, 0, FENCE_OWN_MANUAL),
		  0, "manual ban first");

	ASSERT_EQ(load_text(&s, "a", "198.51.100.0/24\n203.0.113.0/24\n198.51.100.0/24\n192.0.2.0/25\n",
			    FEED_FMT_PLAIN, 0, &r), 0, "load a");
	ASSERT_EQ(r.entries, 3, "a: a prefix listed twice is one entry");
	ASSERT_EQ(r.added, 3, "a: added");
	in = entry(&f, "203.0.113.0/24");
	ASSERT_TRUE(in && in->owners == (FENCE_OWN_MANUAL | FENCE_OWN_FEED), "manual + feed owners");
	ASSERT_EQ(verdict_of(&f, "192.0.2.9"), XDP_DROP, "a in force");

	ASSERT_EQ(load_text(&s, "a", "198.51.100.0/24\n192.0.2.128/25\n", FEED_FMT_PLAIN, 0, &r), 0,
		  "reload a");
	ASSERT_EQ(r.added, 1, "reload: added");
	ASSERT_EQ(r.removed, 2, "reload: released");
	ASSERT_EQ(r.kept, 1, "reload: kept");
	ASSERT_EQ(r.updated, 0, "reload: updated");
	in = entry(&f, "203.0.113.0/24");
	ASSERT_TRUE(in && in->owners == FENCE_OWN_MANUAL && !in->feeds, "manual ban outlives the feed");
	ASSERT_TRUE(!entry(&f, "192.0.2.0/25"), "dropped prefix gone");
	ASSERT_EQ(verdict_of(&f, "192.0.2.9"), XDP_PASS, "dropped prefix passes");
	ASSERT_EQ(verdict_of(&f, "192.0.2.200"), XDP_DROP, "new prefix drops");

	ASSERT_EQ(load_text(&s, "b", "198.51.100.0/24\n", FEED_FMT_PLAIN, 0, &r), 0, "load b");
	in = entry(&f, "198.51.100.0/24");
	ASSERT_TRUE(in && __builtin_popcount(in->feeds) == 2, "shared by a and b");
	ASSERT_EQ(load_text(&s, "a", "192.0.2.128/25\n", FEED_FMT_PLAIN, 0, &r), 0, "a drops it");
	ASSERT_EQ(r.removed, 1, "a released its share");
	ASSERT_EQ(verdict_of(&f, "198.51.100.1"), XDP_DROP, "b still holds it");
	ASSERT_EQ(load_text(&s, "b", "", FEED_FMT_PLAIN, 0, &r), 0, "b empties");
	ASSERT_TRUE(!entry(&f, "198.51.100.0/24"), "gone with its last feed");

	/* lifetimes of a prefix listed twice: the longer wins, none beats any */
	t0 = fence_now_ns();
	ASSERT_EQ(load_text(&s, "c", "{\"new\":[{\"type\":\"ban\",\"scope\":\"Ip\",\"value\":\"198.18.0.1\",\"duration\":\"1h\"},"
			    "{\"type\":\"ban\",\"scope\":\"Ip\",\"value\":\"198.18.0.1\",\"duration\":\"3h\"},"
			    "{\"type\":\"ban\",\"scope\":\"Ip\",\"value\":\"198.18.0.1\",\"duration\":\"2h\"},"
			    "{\"type\":\"ban\",\"scope\":\"Range\",\"value\":\"198.18.9.0/24\",\"duration\":\"1h\"}],"
			    "\"deleted\":[]}", FEED_FMT_CROWDSEC, 0, &r), 0, "load c");
	ASSERT_EQ(r.entries, 2, "c: two prefixes");
	in = entry(&f, "198.18.0.1/32");
	ASSERT_TRUE(in && in->feed_expires_ns >= t0 + 3 * 3600ULL * 1000000000ULL &&
		    in->feed_expires_ns < t0 + 3 * 3600ULL * 1000000000ULL + 60ULL * 1000000000ULL,
		    "the longest lifetime wins");
	ASSERT_EQ(load_text(&s, "d", "198.18.7.0/24\n198.18.7.0/24\n", FEED_FMT_PLAIN, 600, &r), 0,
		  "load d with a TTL");
	in = entry(&f, "198.18.7.0/24");
	ASSERT_TRUE(in && in->feed_expires_ns > t0, "feed TTL applied");
	ASSERT_EQ(load_text(&s, "d", "198.18.7.0/24\n", FEED_FMT_PLAIN, 0, &r), 0, "reload d, no TTL");
	ASSERT_EQ(r.updated, 1, "lifetime change is an update");
	in = entry(&f, "198.18.7.0/24");
	ASSERT_TRUE(in && !in->feed_expires_ns, "no lifetime now");

	/* --lenient: the lines refused (one inside an allow, one too short)
	 * are left out, and the rest are indexed where they are then: a
	 * reload finds each of them, and nothing new */
	ASSERT_EQ(fx_allow(&f, "198.18.20.0/24"), 0, "an allow");
	for (int k = 0; k < 2; k++) {
		ASSERT_EQ(load_text_opts(&s, "e", "198.18.20.0/25\n198.18.21.0/24\n198.18.22.0/24\n"
					 "16.0.0.0/4\n198.18.23.0/24\n", FEED_FMT_PLAIN, 0, true, &r),
			  0, k ? "reload e, lenient" : "load e, lenient");
		ASSERT_EQ(r.errors, 2, "e: two lines refused");
		ASSERT_EQ(r.entries, 3, "e: the three others");
		ASSERT_EQ(r.added, k ? 0 : 3, "e: added");
		ASSERT_EQ(r.kept, k ? 3 : 0, "e: kept");
		feed_load_report_free(&r);
	}
	ASSERT_TRUE(entry(&f, "198.18.21.0/24") && entry(&f, "198.18.23.0/24"), "e in force");
	ASSERT_TRUE(!entry(&f, "198.18.20.0/25") && !entry(&f, "16.0.0.0/4"), "not the refused");
	fx_close(&f);
}

TEST_MAIN(T(test_table_random_differential), T(test_table_small_differential),
	  T(test_table_small_unallow_differential), T(test_table_small_lazy_differential),
	  T(test_table_small_unallow),
	  T(test_table_small_unallow_bounds), T(test_table_hosts_count_exact),
	  T(test_table_capacity_applies_nothing), T(test_table_direct_build),
	  T(test_table_big_commit_indexes_all), T(test_table_direct_halves),
	  T(test_table_crowded_tbl6_grows), T(test_table_host_cells), T(test_table_host_grows),
	  T(test_table_host_made_beside_older),
	  T(test_table_tbl6_keyed),
	  T(test_table_parents_follow_changes), T(test_table_v6_parents),
	  T(test_table_second_writer_converges),
	  T(test_table_interrupted_commit_repaints), T(test_table_recovery_repairs_lookup_maps),
	  T(test_table_killed_writer_recovers), T(test_table_refused_big_commit_leaves_no_mark), T(test_table_pinned_maps_dump_named_fields),
	  T(test_table_older_layout_upgrades), T(test_table_keyload),
	  T(test_table_feed_diff))
