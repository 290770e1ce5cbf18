// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_lookup.c - ns/packet of the data path via BPF_PROG_TEST_RUN.
 *
 * Measures, in one run and on the same machine, xdpfence's full program and
 * its lookup alone (prefix counters off) against a plain BPF LPM trie with
 * the same prefixes, and a bare XDP_DROP as the floor, for 0, 100k and 1M
 * IPv4 prefixes, on the drop path (source in a banned /24, in a banned /32)
 * and the pass path. Also times loading the prefixes into each structure.
 * Nothing leaves the machine: test_run frames go nowhere.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/fence.h"
#include "core/table.h"
#include "xdpfence.skel.h"
#include "bench_lpm.skel.h"
#include "../bpf/pkt.h"

#define REPEAT 2000000
#define ROUNDS 5

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

/* Median ns/run of ROUNDS test runs of REPEAT repetitions. */
static double ns_per_pkt(int prog_fd, const void *pkt, size_t len, int want)
{
	double v[ROUNDS], t;

	for (int r = 0; r < ROUNDS; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .repeat = REPEAT);

		if (bpf_prog_test_run_opts(prog_fd, &o) || (int)o.retval != want) {
			fprintf(stderr, "bench: test_run failed (%s, verdict %u, want %d)\n",
				strerror(errno), o.retval, want);
			exit(1);
		}
		v[r] = o.duration;
	}
	for (int i = 0; i < ROUNDS; i++)
		for (int j = i + 1; j < ROUNDS; j++)
			if (v[j] < v[i])
				t = v[i], v[i] = v[j], v[j] = t;
	return v[ROUNDS / 2];
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
	struct prefix *pfx = malloc(sizeof(*pfx) * 1000000);
	FILE *out = argc > 1 && strcmp(argv[1], "--hosts") ? fopen(argv[1], "w") : NULL;
	FILE *fs[2] = { stdout, out };

	libbpf_set_print(quiet);
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
		fprintf(stderr, "bench: %u prefixes...\n", sizes[i]);
		if (run_row(&rows[i], pfx, sizes[i]))
			return 1;
	}
	fprintf(stderr, "bench: host counting...\n");
	if (hosts_rows(hr, 4))
		return 1;
	for (int k = 0; k < 2; k++) {
		FILE *f = fs[k];

		if (!f)
			continue;
		fprintf(f, "ns/packet, BPF_PROG_TEST_RUN, repeat %d, median of %d; IPv4 TCP ACK frames\n",
			REPEAT, ROUNDS);
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
				" lookup-only drop(/24) %.1f ns (target <= 20)\n",
				r->lpm_drop / r->fence_drop24, r->lpm_pass / r->fence_pass,
				r->lookup_drop24);
		}
		fprintf(f, "\ndistinct hosts, ns/packet (on and off measured alternately, median of 5 "
			"medians):\n%-10s %8s %8s %8s\n", "frame", "on", "off", "added");
		for (int i = 0; i < 4; i++)
			fprintf(f, "%-10s %8.1f %8.1f %8.1f\n", hr[i].what, hr[i].on, hr[i].off,
				hr[i].on - hr[i].off);
		fprintf(f, "target (issue 17): <= 3 ns added to a new-connection frame, none to others\n");
	}
	if (out)
		fclose(out);
	free(pfx);
	return 0;
}
