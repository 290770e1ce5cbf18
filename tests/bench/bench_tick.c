/* tests/bench/bench_tick.c - the behaviour engine's tick with 100k and 1M
 * active source prefixes in the counter maps: batch-read the per-CPU LRU
 * maps (counters_read) and run the policy over every prefix (policy_tick),
 * as `xdpfence run` does each tick. Median of 5 ticks, counters growing
 * between ticks so every prefix is evaluated against a live rate. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "counters.h"
#include "fence.h"
#include "policy.h"
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

int main(void)
{
	static const __u32 sizes[] = { 100000, 1000000 };
	struct policy_config pc = { .n_rules = 2, .v4_children = 4, .v4_parent_len = 16,
				    .v6_children = 4, .v6_parent_len = 48, .max_tracked = 2000000 };

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

	printf("engine tick (counters_read + policy_tick), median of 5 ticks, %d possible CPUs\n",
	       libbpf_num_possible_cpus());
	printf("%10s %10s %10s %10s\n", "prefixes", "read ms", "policy ms", "tick ms");
	for (unsigned k = 0; k < 2; k++) {
		struct fence_opts fo = { .max_rules = 4096, .tbl8_groups = 16,
					 .prefix_entries = sizes[k] + sizes[k] / 4 };
		double rd[5], pol[5], tot[5], t;
		struct xdpfence *skel;
		struct fence_maps m;
		struct policy *p;
		__u64 now = 1000000000ULL;

		if (fence_skel_open(&skel, &fo) || xdpfence__load(skel) ||
		    fence_maps_from_skel(&m, skel, &fo) || policy_new(&p, &pc, 1)) {
			fprintf(stderr, "bench_tick: setup failed\n");
			return 1;
		}
		for (int r = 0; r < 5; r++) {
			const struct policy_decision *d;
			struct policy_sample *ps;
			struct pfx_sample *v;
			size_t n, nd;

			if (fill(&m, sizes[k], r + 1)) {
				fprintf(stderr, "bench_tick: filling the LRU failed\n");
				return 1;
			}
			now += 1000000000ULL;
			t = now_s();
			if (counters_read(&m, &v, &n, false))
				return 1;
			ps = malloc(sizeof(*ps) * (n + 1));
			for (size_t i = 0; i < n; i++) {
				memset(&ps[i].prefix, 0, sizeof(ps[i].prefix));
				ps[i].prefix.family = AF_INET;
				ps[i].prefix.len = 24;
				memcpy(ps[i].prefix.addr, v[i].addr, 16);
				ps[i].packets = v[i].c.packets;
				ps[i].bytes = v[i].c.bytes;
				ps[i].new_conns = v[i].c.new_conns;
			}
			rd[r] = (now_s() - t) * 1e3;
			t = now_s();
			policy_tick(p, now, ps, n, never, NULL, &d, &nd);
			pol[r] = (now_s() - t) * 1e3;
			tot[r] = rd[r] + pol[r];
			free(ps);
			free(v);
		}
		for (int i = 0; i < 5; i++)
			for (int j = i + 1; j < 5; j++) {
				if (tot[j] < tot[i])
					t = tot[i], tot[i] = tot[j], tot[j] = t;
				if (rd[j] < rd[i])
					t = rd[i], rd[i] = rd[j], rd[j] = t;
				if (pol[j] < pol[i])
					t = pol[i], pol[i] = pol[j], pol[j] = t;
			}
		printf("%10u %10.1f %10.1f %10.1f\n", sizes[k], rd[2], pol[2], tot[2]);
		policy_free(p);
		fence_maps_close(&m);
		xdpfence__destroy(skel);
	}
	printf("target: <= 250 ms per tick at 1M\n");
	return 0;
}
