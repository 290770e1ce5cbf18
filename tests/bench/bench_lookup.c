// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_lookup.c - ns/packet of the data path via BPF_PROG_TEST_RUN.
 *
 * Measures, in one run and on the same machine, xdpfence's full program and
 * its lookup alone (prefix counters off) against a plain BPF LPM trie with
 * the same prefixes, and a bare XDP_DROP as the floor, for 0, 100k and 1M
 * IPv4 prefixes, on the drop path (source in a banned /24, in a banned /32)
 * and the pass path. Also times loading the prefixes into each structure.
 * Then IPv6, 100k prefixes (/33../64 and /128): xdpfence, and the same
 * search three ways side by side: tbl6's keys and markers in an array the
 * program probes (as xdpfence), in a BPF hash map, and a BPF LPM trie.
 * Each figure is the best of ROUNDS test runs of REPEAT packets (a shared
 * host only ever adds time). Nothing leaves the machine: test_run frames go
 * nowhere. Lines starting "@ " are figures for tests/bench/run.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>

#include "core/fence.h"
#include "core/table.h"
#include "xdpfence.skel.h"
#include "bench_lpm.skel.h"
#include "../bpf/pkt.h"

#define REPEAT 1000000
#define ROUNDS 9
#define ROUNDS_MAX 64

static int rounds = ROUNDS, repeat = REPEAT;	/* BENCH_ROUNDS, BENCH_REPEAT */

static __u64 rng = 0x9e3779b97f4a7c15ULL;

static __u32 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (__u32)(rng >> 16);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || strstr(fmt, "unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Best ns/run of ROUNDS test runs of REPEAT repetitions. */
static double ns_per_pkt(int prog_fd, const void *pkt, size_t len, int want)
{
	double v[ROUNDS_MAX], t;

	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .repeat = repeat);

		if (bpf_prog_test_run_opts(prog_fd, &o) || (int)o.retval != want) {
			fprintf(stderr, "bench: test_run failed (%s, verdict %u, want %d)\n",
				strerror(errno), o.retval, want);
			exit(1);
		}
		v[r] = o.duration;
	}
	for (int i = 0; i < rounds; i++)
		for (int j = i + 1; j < rounds; j++)
			if (v[j] < v[i])
				t = v[i], v[i] = v[j], v[j] = t;
	return v[0];
}

struct prefix {
	__u32 addr;	/* host order */
	__u8 len;
};

/* A feed-like mix: mostly /32s and /24s, some shorter, a few /25../31.
 * Never inside 198.18.0.0/15, where the probe frames come from. */
static void gen_prefixes(struct prefix *p, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		__u32 r = rnd() % 1000, len, a;

		len = r < 600 ? 32 : r < 900 ? 24 : r < 990 ? 16 + rnd() % 8 : 25 + rnd() % 7;
		do {
			a = rnd() & (len ? ~0U << (32 - len) : 0);
		} while ((a & 0xfffe0000) == 0xc6120000 || (len < 15 && ((0xc6120000 ^ a) >> (32 - len)) == 0));
		p[i].addr = a;
		p[i].len = len;
	}
}

struct row {
	__u32 n;
	double fence_drop24, fence_drop32, fence_pass;
	double lookup_drop24, lookup_drop32, lookup_pass;
	double lpm_drop, lpm_pass, bare;
	double load_table, load_lpm;
};

static int fence_load(struct fence_opts *o, struct xdpfence **skel, struct fence_maps *m,
		      struct table **t)
{
	int err = fence_skel_open(skel, o);

	if (!err)
		err = xdpfence__load(*skel);
	if (!err)
		err = fence_maps_from_skel(m, *skel, o);
	if (!err)
		err = table_open(t, m);
	return err;
}

static int table_fill(struct table *t, const struct prefix *p, __u32 n, double *secs)
{
	struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1,
					.feed_action = FENCE_ACT_DROP };
	struct cidr c = { .family = AF_INET };
	char err[256] = "";
	double t0 = now_s();
	int ret;

	for (__u32 i = 0; i < n; i++) {
		__u32 be = htonl(p[i].addr);

		c.len = p[i].len;
		memcpy(c.addr, &be, 4);
		if ((ret = table_put(t, &c, FENCE_KIND_DENY, &info)))
			return ret;
	}
	ret = table_commit(t, NULL, err, sizeof(err));
	*secs = now_s() - t0;
	if (ret)
		fprintf(stderr, "bench: commit: %s\n", err);
	return ret;
}

static int lpm_fill(int fd, const struct prefix *p, __u32 n, double *secs)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	struct fence_v4_key *k = malloc(sizeof(*k) * (n + 1));
	__u32 *v = calloc(n + 1, sizeof(*v)), done = 0;
	double t0 = now_s();

	if (!k || !v)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		k[i].prefixlen = p[i].len;
		k[i].addr = htonl(p[i].addr);
	}
	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_update_batch(fd, k + done, v + done, &cnt, &o))
			return -errno;
		done += cnt;
	}
	*secs = now_s() - t0;
	free(k);
	free(v);
	return 0;
}

static int run_row(struct row *row, const struct prefix *pfx, __u32 n)
{
	struct fence_opts full = { .max_rules = 1100000, .tbl8_groups = 32768 },
			  lookup = { .max_rules = 1100000, .tbl8_groups = 32768,
								     .no_prefix_counters = true };
	struct xdpfence *s_full = NULL, *s_lookup = NULL;
	struct fence_maps m_full = {}, m_lookup = {};
	struct table *t_full = NULL, *t_lookup = NULL;
	struct bench_lpm *lpm = NULL;
	uint8_t drop24[PKT_MAX], drop32[PKT_MAX], pass[PKT_MAX];
	size_t l24, l32, lp;
	struct prefix probes[2] = { { 0xc6120100, 24 }, { 0xc6120207, 32 } };	/* 198.18.1.0/24, 198.18.2.7 */
	double dummy;
	int err, fd_full, fd_lookup;

	memset(row, 0, sizeof(*row));
	row->n = n;
	l24 = pkt_build(&(struct pkt_spec){ .saddr = "198.18.1.9", .tcp_flags = 0x10 }, drop24, NULL);
	l32 = pkt_build(&(struct pkt_spec){ .saddr = "198.18.2.7", .tcp_flags = 0x10 }, drop32, NULL);
	lp = pkt_build(&(struct pkt_spec){ .saddr = "198.19.200.1", .tcp_flags = 0x10 }, pass, NULL);

	err = fence_load(&full, &s_full, &m_full, &t_full);
	if (!err)
		err = fence_load(&lookup, &s_lookup, &m_lookup, &t_lookup);
	if (err) {
		fprintf(stderr, "bench: loading xdpfence: %s\n", strerror(-err));
		return err;
	}
	lpm = bench_lpm__open_and_load();
	if (!lpm) {
		fprintf(stderr, "bench: loading bench_lpm: %s\n", strerror(errno));
		return -errno;
	}
	if (n) {
		if ((err = table_fill(t_full, pfx, n, &row->load_table)) ||
		    (err = table_fill(t_lookup, pfx, n, &dummy)) ||
		    (err = lpm_fill(bpf_map__fd(lpm->maps.lpm_v4), pfx, n, &row->load_lpm)))
			return err;
		if ((err = table_fill(t_full, probes, 2, &dummy)) ||
		    (err = table_fill(t_lookup, probes, 2, &dummy)) ||
		    (err = lpm_fill(bpf_map__fd(lpm->maps.lpm_v4), probes, 2, &dummy)))
			return err;
	}
	fd_full = bpf_program__fd(s_full->progs.xdpfence_prog);
	fd_lookup = bpf_program__fd(s_lookup->progs.xdpfence_prog);

	row->bare = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_drop_all), pass, lp, XDP_DROP);
	row->fence_pass = ns_per_pkt(fd_full, pass, lp, XDP_PASS);
	row->lookup_pass = ns_per_pkt(fd_lookup, pass, lp, XDP_PASS);
	row->lpm_pass = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_lpm), pass, lp, XDP_PASS);
	if (n) {
		row->fence_drop24 = ns_per_pkt(fd_full, drop24, l24, XDP_DROP);
		row->fence_drop32 = ns_per_pkt(fd_full, drop32, l32, XDP_DROP);
		row->lookup_drop24 = ns_per_pkt(fd_lookup, drop24, l24, XDP_DROP);
		row->lookup_drop32 = ns_per_pkt(fd_lookup, drop32, l32, XDP_DROP);
		row->lpm_drop = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_lpm), drop24, l24, XDP_DROP);
	}

	bench_lpm__destroy(lpm);
	table_close(t_full);
	table_close(t_lookup);
	fence_maps_close(&m_full);
	fence_maps_close(&m_lookup);
	xdpfence__destroy(s_full);
	xdpfence__destroy(s_lookup);
	return 0;
}

/* --- IPv6 ----------------------------------------------------------------- */

struct row6 {
	double fence_drop, fence_pass, lookup_drop, lookup_pass;
	double tbl6_drop, tbl6_pass, hash6_drop, hash6_pass, lpm6_drop, lpm6_pass, bare;
	double load_table, load_lpm;
	size_t keys;
	unsigned lens;
};

/* 100k prefixes inside 2001:db8::/32, 90% /33../64 and 10% /128, none
 * covering or inside 2001:db8:db8::/48, where the probes come from; and
 * that /48's first 512 /64s banned (as bench_live.sh). */
#define N6 100000
static void gen_v6(struct cidr *c, __u32 *n)
{
	*n = 0;
	while (*n < N6) {
		struct cidr *x = &c[*n];
		__u32 len = rnd() % 10 == 0 ? 128 : 33 + rnd() % 32;

		memset(x, 0, sizeof(*x));
		x->family = AF_INET6;
		x->len = len;
		x->addr[0] = 0x20, x->addr[1] = 0x01, x->addr[2] = 0x0d, x->addr[3] = 0xb8;
		for (int b = 4; b < 16; b++)
			x->addr[b] = rnd();
		cidr_mask(x);
		/* bits 32..47 of the sources' /48 are 0x0db8 */
		if (len < 48 ? ((x->addr[4] << 8 | x->addr[5]) >> (48 - len)) == (0x0db8 >> (48 - len)) :
		    (x->addr[4] == 0x0d && x->addr[5] == 0xb8))
			continue;
		(*n)++;
	}
	for (__u32 i = 0; i < 512; i++) {
		struct cidr *x = &c[(*n)++];

		memset(x, 0, sizeof(*x));
		x->family = AF_INET6;
		x->len = 64;
		x->addr[0] = 0x20, x->addr[1] = 0x01, x->addr[2] = 0x0d, x->addr[3] = 0xb8;
		x->addr[4] = 0x0d, x->addr[5] = 0xb8, x->addr[6] = i >> 8, x->addr[7] = i & 255;
	}
}

static int run_v6(struct row6 *row)
{
	/* room for 100k IPv6 entries from the start (the tables of a bare
	 * table_commit do not grow), and tbl6 at its default size */
	struct fence_opts full = { .max_rules = 1 << 17, .tbl8_groups = 16, .v6_rules = 1 << 20 },
			  lookup = { .max_rules = 1 << 17, .tbl8_groups = 16, .v6_rules = 1 << 20,
				     .no_prefix_counters = true };
	struct fence_rule_info info = { .owners = FENCE_OWN_FEED, .feeds = 1,
					.feed_action = FENCE_ACT_DROP };
	struct xdpfence *s_full = NULL, *s_lookup = NULL;
	struct fence_maps m_full = {}, m_lookup = {};
	struct table *t_full = NULL, *t_lookup = NULL;
	struct cidr *c = malloc(sizeof(*c) * (N6 + 512));
	uint8_t drop[PKT_MAX], pass[PKT_MAX], bare4[PKT_MAX];
	size_t ld, lp, lb;
	struct bench_lpm *lpm;
	char err[256] = "";
	double t0;
	__u32 n, fd;
	int ret;

	memset(row, 0, sizeof(*row));
	if (!c)
		return -ENOMEM;
	gen_v6(c, &n);
	ld = pkt_build(&(struct pkt_spec){ .saddr = "2001:db8:db8:5::1", .tcp_flags = 0x10 }, drop, NULL);
	lp = pkt_build(&(struct pkt_spec){ .saddr = "2001:db8:db8:f000::1", .tcp_flags = 0x10 }, pass, NULL);
	lb = pkt_build(&(struct pkt_spec){ .saddr = "198.19.200.1", .tcp_flags = 0x10 }, bare4, NULL);
	if ((ret = fence_load(&full, &s_full, &m_full, &t_full)) ||
	    (ret = fence_load(&lookup, &s_lookup, &m_lookup, &t_lookup)))
		return ret;
	t0 = now_s();
	for (__u32 i = 0; i < n; i++)
		table_put(t_full, &c[i], FENCE_KIND_DENY, &info);
	if ((ret = table_commit(t_full, NULL, err, sizeof(err)))) {
		fprintf(stderr, "bench: v6 commit: %s\n", err);
		return ret;
	}
	row->load_table = now_s() - t0;
	for (__u32 i = 0; i < n; i++)
		table_put(t_lookup, &c[i], FENCE_KIND_DENY, &info);
	if ((ret = table_commit(t_lookup, NULL, err, sizeof(err))))
		return ret;
	{
		const struct fence_v6_meta *mt = m_full.tbl6_meta;

		row->lens = mt->n[mt->active & 1];
		for (__u32 i = 0; i < m_full.n_tbl6; i++)
			row->keys += m_full.tbl6[i].state == FENCE_V6_LIVE;
	}

	lpm = bench_lpm__open();
	if (!lpm)
		return -errno;
	bpf_map__set_max_entries(lpm->maps.arr6, m_full.n_tbl6);
	if ((ret = bench_lpm__load(lpm)))
		return ret;
	/* the same keys: the array a copy of tbl6, the hash its live keys */
	{
		size_t len = (size_t)m_full.n_tbl6 * sizeof(struct fence_v6_ent);
		void *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       bpf_map__fd(lpm->maps.arr6), 0);
		size_t mlen = (sizeof(struct fence_v6_meta) + 4095) & ~4095UL;
		void *mt = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED,
				bpf_map__fd(lpm->maps.meta6), 0);

		if (a == MAP_FAILED || mt == MAP_FAILED)
			return -errno;
		memcpy(a, m_full.tbl6, len);
		memcpy(mt, m_full.tbl6_meta, sizeof(struct fence_v6_meta));
		munmap(a, len);
		munmap(mt, mlen);
	}
	fd = bpf_map__fd(lpm->maps.hash6);
	for (__u32 i = 0; i < m_full.n_tbl6; i++) {
		const struct fence_v6_ent *e = &m_full.tbl6[i];
		struct { __u32 len, pad; __u64 hi, lo; } k = { e->len, 0, e->hi, e->lo };

		if (e->state == FENCE_V6_LIVE && bpf_map_update_elem(fd, &k, &e->slot, BPF_ANY))
			return -errno;
	}
	t0 = now_s();
	{
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		struct fence_v6_key *k = calloc(n, sizeof(*k));
		__u32 *v = calloc(n, sizeof(*v)), done = 0;

		if (!k || !v)
			return -ENOMEM;
		for (__u32 i = 0; i < n; i++) {
			k[i].prefixlen = c[i].len;
			memcpy(k[i].addr, c[i].addr, 16);
			v[i] = i + 1;
		}
		while (done < n) {
			__u32 cnt = n - done;

			if (bpf_map_update_batch(bpf_map__fd(lpm->maps.lpm_v6), k + done, v + done, &cnt, &o))
				return -errno;
			done += cnt;
		}
		free(k);
		free(v);
	}
	row->load_lpm = now_s() - t0;

	row->bare = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_drop_all), bare4, lb, XDP_DROP);
	row->fence_drop = ns_per_pkt(bpf_program__fd(s_full->progs.xdpfence_prog), drop, ld, XDP_DROP);
	row->fence_pass = ns_per_pkt(bpf_program__fd(s_full->progs.xdpfence_prog), pass, lp, XDP_PASS);
	row->lookup_drop = ns_per_pkt(bpf_program__fd(s_lookup->progs.xdpfence_prog), drop, ld, XDP_DROP);
	row->lookup_pass = ns_per_pkt(bpf_program__fd(s_lookup->progs.xdpfence_prog), pass, lp, XDP_PASS);
	row->tbl6_drop = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_tbl6), drop, ld, XDP_DROP);
	row->tbl6_pass = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_tbl6), pass, lp, XDP_PASS);
	row->hash6_drop = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_hash6), drop, ld, XDP_DROP);
	row->hash6_pass = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_hash6), pass, lp, XDP_PASS);
	row->lpm6_drop = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_lpm6), drop, ld, XDP_DROP);
	row->lpm6_pass = ns_per_pkt(bpf_program__fd(lpm->progs.xdp_lpm6), pass, lp, XDP_PASS);

	bench_lpm__destroy(lpm);
	table_close(t_full);
	table_close(t_lookup);
	fence_maps_close(&m_full);
	fence_maps_close(&m_lookup);
	xdpfence__destroy(s_full);
	xdpfence__destroy(s_lookup);
	free(c);
	return 0;
}

/* --- distinct hosts ---------------------------------------------------- */

/* What counting distinct hosts adds: a new-connection frame (TCP SYN, IPv4
 * and IPv6) and a plain one (ACK), with host counting on and off, measured
 * alternately HOST_ROUNDS times; the least of each (a shared, noisy
 * machine only ever adds). test_run repeats one frame: one host, its bit
 * set after the first, as for most of a busy host's SYNs. */
#define HOST_ROUNDS 11
struct hosts_row {
	const char *what;
	double on, off;
};

static int hosts_rows(struct hosts_row *h, int n)
{
	struct fence_opts on = { .max_rules = 1024, .tbl8_groups = 16 },
			  off = { .max_rules = 1024, .tbl8_groups = 16, .no_host_counting = true };
	struct xdpfence *s_on = NULL, *s_off = NULL;
	struct fence_maps m_on = {}, m_off = {};
	struct table *t_on = NULL, *t_off = NULL;
	static const struct pkt_spec spec[] = {
		{ .saddr = "198.18.1.9", .tcp_flags = 0x02 },
		{ .saddr = "2001:db8:1::9", .tcp_flags = 0x02 },
		{ .saddr = "198.18.1.9", .tcp_flags = 0x10 },
		{ .saddr = "2001:db8:1::9", .tcp_flags = 0x10 },
	};
	static const char *what[] = { "IPv4 SYN", "IPv6 SYN", "IPv4 ACK", "IPv6 ACK" };
	double v[2][4][HOST_ROUNDS];
	uint8_t pkt[PKT_MAX];
	int err;

	err = fence_load(&on, &s_on, &m_on, &t_on);
	if (!err)
		err = fence_load(&off, &s_off, &m_off, &t_off);
	if (err) {
		fprintf(stderr, "bench: loading xdpfence: %s\n", strerror(-err));
		return err;
	}
	for (int r = 0; r < HOST_ROUNDS; r++)
		for (int i = 0; i < n; i++) {
			size_t l = pkt_build(&spec[i], pkt, NULL);

			v[r & 1][i][r] = ns_per_pkt(bpf_program__fd(s_on->progs.xdpfence_prog), pkt, l,
						   XDP_PASS);
			v[!(r & 1)][i][r] = ns_per_pkt(bpf_program__fd(s_off->progs.xdpfence_prog), pkt,
						      l, XDP_PASS);
		}
	for (int i = 0; i < n; i++) {
		double a = 1e9, b = 1e9;

		for (int r = 0; r < HOST_ROUNDS; r++) {
			a = v[r & 1][i][r] < a ? v[r & 1][i][r] : a;	/* on */
			b = v[!(r & 1)][i][r] < b ? v[!(r & 1)][i][r] : b;	/* off */
		}
		h[i] = (struct hosts_row){ .what = what[i], .on = a, .off = b };
	}
	table_close(t_on);
	table_close(t_off);
	fence_maps_close(&m_on);
	fence_maps_close(&m_off);
	xdpfence__destroy(s_on);
	xdpfence__destroy(s_off);
	return 0;
}

static void cell(FILE *f, double v)
{
	if (v > 0)
		fprintf(f, " %8.1f", v);
	else
		fprintf(f, " %8s", "-");
}

int main(int argc, char **argv)
{
	static const __u32 sizes[] = { 0, 100000, 1000000 };
	struct row rows[3];
	struct row6 r6;
	struct prefix *pfx = malloc(sizeof(*pfx) * 1000000);
	FILE *out = NULL, *fs[2] = { stdout, NULL };

	if (argc > 2 || (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--hosts"))) {
		fprintf(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"usage: %s [OUT | --hosts]\n"
			"  ns/packet of the data path by BPF_PROG_TEST_RUN (needs root): IPv4 at 0,\n"
			"  100k and 1M prefixes, IPv6 at 100k, against bare XDP_DROP and LPM tries;\n"
			"  OUT: a copy of the tables; --hosts: the cost of host counting alone.\n"
			"  BENCH_ROUNDS (best of, 9), BENCH_REPEAT (packets a run, 1000000).\n",
			argv[0]);
		return argc > 1 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	if (argc > 1 && strcmp(argv[1], "--hosts") && !(out = fopen(argv[1], "w"))) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
		return 1;
	}
	fs[1] = out;

	libbpf_set_print(quiet);
	if (getenv("BENCH_ROUNDS"))
		rounds = atoi(getenv("BENCH_ROUNDS"));
	if (getenv("BENCH_REPEAT"))
		repeat = atoi(getenv("BENCH_REPEAT"));
	if (rounds < 1 || rounds > ROUNDS_MAX || repeat < 1) {
		fprintf(stderr, "bench: BENCH_ROUNDS 1..%d, BENCH_REPEAT >= 1\n", ROUNDS_MAX);
		return 2;
	}
	if (!pfx)
		return 1;
	gen_prefixes(pfx, 1000000);
	struct hosts_row hr[4];

	if (argc > 1 && !strcmp(argv[1], "--hosts")) {	/* that table alone */
		if (hosts_rows(hr, 4))
			return 1;
		for (int i = 0; i < 4; i++)
			printf("%-10s %8.1f %8.1f %8.1f\n", hr[i].what, hr[i].on, hr[i].off,
			       hr[i].on - hr[i].off);
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		/* BENCH_ONLY=v6 (when working on it): the IPv4 rows left empty */
		if (getenv("BENCH_ONLY") && !strcmp(getenv("BENCH_ONLY"), "v6")) {
			memset(&rows[i], 0, sizeof(rows[i]));
			continue;
		}
		fprintf(stderr, "bench: %u prefixes...\n", sizes[i]);
		if (run_row(&rows[i], pfx, sizes[i]))
			return 1;
	}
	fprintf(stderr, "bench: IPv6, %u prefixes...\n", N6 + 512);
	if (run_v6(&r6)) {
		fprintf(stderr, "bench: the IPv6 rows failed\n");
		return 1;
	}
	fprintf(stderr, "bench: host counting...\n");
	if (hosts_rows(hr, 4))
		return 1;
	for (int k = 0; k < 2; k++) {
		FILE *f = fs[k];

		if (!f)
			continue;
		fprintf(f, "ns/packet, BPF_PROG_TEST_RUN, repeat %d, best of %d; IPv4 TCP ACK frames\n",
			repeat, rounds);
		fprintf(f, "xdpfence = full program (parse, table, counters); lookup = same, prefix counters off\n");
		fprintf(f, "%9s %8s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "prefixes",
			"bare", "fence", "fence", "fence", "lookup", "lookup", "lookup", "lpm",
			"lpm", "load tbl", "load lpm");
		fprintf(f, "%9s %8s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "", "XDP_DROP",
			"drop/24", "drop/32", "pass", "drop/24", "drop/32", "pass", "drop", "pass",
			"s", "s");
		for (int i = 0; i < 3; i++) {
			struct row *r = &rows[i];

			fprintf(f, "%9u", r->n);
			cell(f, r->bare);
			cell(f, r->fence_drop24);
			cell(f, r->fence_drop32);
			cell(f, r->fence_pass);
			cell(f, r->lookup_drop24);
			cell(f, r->lookup_drop32);
			cell(f, r->lookup_pass);
			cell(f, r->lpm_drop);
			cell(f, r->lpm_pass);
			fprintf(f, " %9.2f %9.2f\n", r->load_table, r->load_lpm);
		}
		{
			struct row *r = &rows[2];

			fprintf(f, "at 1M: LPM drop / xdpfence drop(/24) = %.1fx; LPM pass / xdpfence pass = %.1fx;"
				" xdpfence drop %.1f (/24) %.1f (/32) ns, bare %.1f (target: a drop <= 12)\n",
				r->lpm_drop / r->fence_drop24, r->lpm_pass / r->fence_pass,
				r->fence_drop24, r->fence_drop32, r->bare);
		}
		fprintf(f, "\nIPv6, %u prefixes (/33../64 and /128 in 2001:db8::/32, and 512 /64s): %zu keys and"
			" markers in tbl6, %u lengths; ns/packet, best of %d\n", N6 + 512, r6.keys, r6.lens,
			rounds);
		fprintf(f, "%9s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "bare", "fence",
			"fence", "lookup", "lookup", "array", "array", "hash", "hash", "lpm", "lpm",
			"load tbl6", "load lpm");
		fprintf(f, "%9s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "XDP_DROP", "drop/64",
			"pass", "drop/64", "pass", "drop/64", "pass", "drop/64", "pass", "drop/64", "pass",
			"s", "s");
		fprintf(f, "%9.1f", r6.bare);
		cell(f, r6.fence_drop);
		cell(f, r6.fence_pass);
		cell(f, r6.lookup_drop);
		cell(f, r6.lookup_pass);
		cell(f, r6.tbl6_drop);
		cell(f, r6.tbl6_pass);
		cell(f, r6.hash6_drop);
		cell(f, r6.hash6_pass);
		cell(f, r6.lpm6_drop);
		cell(f, r6.lpm6_pass);
		fprintf(f, " %9.2f %9.2f\n", r6.load_table, r6.load_lpm);
		fprintf(f, "(array: binary search on lengths over tbl6's keys probed by the program, as xdpfence;"
			" hash: the same keys in a BPF hash map; lpm: a BPF LPM trie)\n");
		fprintf(f, "\ndistinct hosts, ns/packet (on and off measured alternately, the least "
			"of %d):\n%-10s %8s %8s %8s\n", HOST_ROUNDS, "frame", "on", "off", "added");
		for (int i = 0; i < 4; i++)
			fprintf(f, "%-10s %8.1f %8.1f %8.1f\n", hr[i].what, hr[i].on, hr[i].off,
				hr[i].on - hr[i].off);
		fprintf(f, "target (issue 17): <= 3 ns added to a new-connection frame, none to others\n");
	}
	{
		struct row *r = &rows[2];

		printf("@ testrun_bare %.1f\n", r->bare);
		printf("@ testrun_drop24_1m %.1f\n", r->fence_drop24);
		printf("@ testrun_drop32_1m %.1f\n", r->fence_drop32);
		printf("@ testrun_pass_1m %.1f\n", r->fence_pass);
		printf("@ testrun_lpm_1m %.1f\n", r->lpm_drop);
		printf("@ testrun_v6_drop %.1f\n", r6.fence_drop);
		printf("@ testrun_v6_array %.1f\n", r6.tbl6_drop);
		printf("@ testrun_v6_hash %.1f\n", r6.hash6_drop);
		printf("@ testrun_v6_lpm %.1f\n", r6.lpm6_drop);
		printf("@ hosts_v4_syn_added %.1f\n", hr[0].on - hr[0].off);
		printf("@ hosts_v6_syn_added %.1f\n", hr[1].on - hr[1].off);
		printf("@ hosts_v4_ack_added %.1f\n", hr[2].on - hr[2].off);
		printf("@ hosts_v6_ack_added %.1f\n", hr[3].on - hr[3].off);
	}
	if (out)
		fclose(out);
	free(pfx);
	return 0;
}
