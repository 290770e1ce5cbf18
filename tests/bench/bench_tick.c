// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_tick.c - the behaviour engine's tick with 100k and 1M
 * active source prefixes in the counter maps: batch-read the per-CPU LRU
 * maps (counters_reader_read, buffers kept between ticks) and run the policy
 * over every prefix (policy_tick), as `xdpfence run` does each tick. Median
 * of 5 ticks, counters growing between ticks so every prefix is evaluated
 * against a live rate; read with one thread and with one per CPU, same run. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/counters.h"
#include "core/fence.h"
#include "policy/policy.h"
#include "xdpfence.skel.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return l == LIBBPF_WARN && !strstr(f, "unrecognized data section") ? vfprintf(stderr, f, ap) : 0;
}

static bool never(void *ctx, const struct cidr *c)
{
	(void)ctx;
	(void)c;
	return false;
}

/* Fill prefix_v4 with n /24 keys, each CPU's counters grown by round. */
static int fill(const struct fence_maps *m, __u32 n, __u64 round)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 *keys = malloc(sizeof(*keys) * n);
	struct fence_counters *v = calloc((size_t)n * m->ncpus, sizeof(*v));
	__u32 done = 0;
	int ret = 0;

	if (!keys || !v)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		keys[i] = htonl((i + 256) << 8);	/* distinct /24s */
		for (int c = 0; c < m->ncpus; c++) {
			struct fence_counters *x = &v[(size_t)i * m->ncpus + c];

			x->packets = round * (i % 50 + 1);
			x->bytes = x->packets * 100;
			x->new_conns = round * (i % 7);
		}
	}
	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_update_batch(m->fd[FM_PREFIX_V4], keys + done, v + (size_t)done * m->ncpus,
					 &cnt, &o)) {
			ret = -errno;
			break;
		}
		done += cnt;
	}
	free(keys);
	free(v);
	return ret;
}

/* One tick as the daemon runs it; read and policy times in ms. */
static int one_tick(struct counters_reader *rd, struct policy *p, __u64 now,
		    struct policy_sample **ps, size_t *cap, double *rd_ms, double *pol_ms)
{
	const struct policy_decision *d;
	struct pfx_sample *const *seg;
	const size_t *sn;
	unsigned ns;
	size_t n = 0, nd;
	double t = now_s();

	if (counters_reader_read(rd, &seg, &sn, &ns))
		return -1;
	for (unsigned k = 0; k < ns; k++)
		n += sn[k];
	if (n + 1 > *cap) {
		*cap = n + 1;
		*ps = realloc(*ps, *cap * sizeof(**ps));
		if (!*ps)
			return -1;
	}
	n = 0;
	for (unsigned k = 0; k < ns; k++)
		for (size_t i = 0; i < sn[k]; i++, n++) {
			struct policy_sample *x = &(*ps)[n];

			memset(&x->prefix, 0, sizeof(x->prefix));
			x->prefix.family = AF_INET;
			x->prefix.len = 24;
			memcpy(x->prefix.addr, seg[k][i].addr, 16);
			x->packets = seg[k][i].c.packets;
			x->bytes = seg[k][i].c.bytes;
			x->new_conns = seg[k][i].c.new_conns;
		}
	*rd_ms = (now_s() - t) * 1e3;
	t = now_s();
	policy_tick(p, now, *ps, n, never, NULL, &d, &nd);
	*pol_ms = (now_s() - t) * 1e3;
	return 0;
}

static double median5(double *x)
{
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			if (x[j] < x[i]) {
				double t = x[i];

				x[i] = x[j];
				x[j] = t;
			}
	return x[2];
}

int main(void)
{
	static const __u32 sizes[] = { 100000, 1000000 };
	struct policy_config pc = { .n_rules = 2, .v4_children = 4, .v4_parent_len = 16,
				    .v6_children = 4, .v6_parent_len = 48, .max_tracked = 2000000 };
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	libbpf_set_print(quiet);
	snprintf(pc.rules[0].name, sizeof(pc.rules[0].name), "syn-burst");
	pc.rules[0].metric = POLICY_NEW_CONNS;
	pc.rules[0].rate = 200;
	pc.rules[0].window_s = 10;
	pc.rules[0].ttl_s = 600;
	pc.rules[0].max_ttl_s = 86400;
	pc.rules[0].escalate = 2;
	pc.rules[0].jitter = 0.1;
	pc.rules[1] = pc.rules[0];
	snprintf(pc.rules[1].name, sizeof(pc.rules[1].name), "packets");
	pc.rules[1].metric = POLICY_PACKETS;
	pc.rules[1].rate = 10000;

	printf("engine tick (read the counters + policy_tick), median of 5 ticks after a first one,\n"
	       "%d possible CPUs, %ld online; read by batch lookups on 1 thread, on one thread per\n"
	       "online CPU (N), and by the kernel-side walk (bpf/counters.bpf.c) the engine uses\n",
	       libbpf_num_possible_cpus(), online);
	printf("%10s %-14s %10s %10s %10s\n", "prefixes", "read by", "read ms", "policy ms", "tick ms");
	for (unsigned k = 0; k < 2; k++) {
		struct fence_opts fo = { .max_rules = 4096, .tbl8_groups = 16,
					 .prefix_entries = sizes[k] + sizes[k] / 4 };
		struct xdpfence *skel;
		struct fence_maps m;

		if (fence_skel_open(&skel, &fo) || xdpfence__load(skel) ||
		    fence_maps_from_skel(&m, skel, &fo)) {
			fprintf(stderr, "bench_tick: setup failed\n");
			return 1;
		}
		for (unsigned mode = 0; mode < 3; mode++) {
			double rd[5], pol[5], tot[5], x, y;
			struct counters_reader *rdr;
			struct policy_sample *ps = NULL;
			size_t cap = 0;
			struct policy *p;
			__u64 now = 1000000000ULL;
			unsigned threads = mode == 0 ? 1 : (unsigned)(online > 0 ? online : 1);
			unsigned flags = mode < 2 ? COUNTERS_NO_WALK : 0;

			if (counters_reader_new(&rdr, &m, threads, flags) || policy_new(&p, &pc, 1)) {
				fprintf(stderr, "bench_tick: setup failed\n");
				return 1;
			}
			if (mode == 2 && !counters_reader_walks(rdr)) {
				printf("%10u %-14s (not available here)\n", sizes[k], "kernel walk");
				counters_reader_free(rdr);
				policy_free(p);
				continue;
			}
			for (int r = 0; r < 6; r++) {
				if (fill(&m, sizes[k], r + 1)) {
					fprintf(stderr, "bench_tick: filling the LRU failed\n");
					return 1;
				}
				now += 1000000000ULL;
				if (one_tick(rdr, p, now, &ps, &cap, &x, &y)) {
					fprintf(stderr, "bench_tick: tick failed\n");
					return 1;
				}
				if (r) {
					rd[r - 1] = x;
					pol[r - 1] = y;
					tot[r - 1] = x + y;
				}
			}
			x = median5(rd);
			y = median5(pol);
			printf("%10u %-14s %10.1f %10.1f %10.1f\n", sizes[k],
			       mode == 2 ? "kernel walk" : threads == 1 ? "batch, 1 thr" : "batch, N thr", x, y,
			       median5(tot));
			free(ps);
			policy_free(p);
			counters_reader_free(rdr);
		}
		fence_maps_close(&m);
		xdpfence__destroy(skel);
	}
	printf("target: <= 250 ms per tick at 1M\n");
	return 0;
}
