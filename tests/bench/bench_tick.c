// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_tick.c - the behaviour engine's tick: read the per-prefix
 * counters (counters_reader_read, buffers kept between ticks) and run the
 * policy over the samples (policy_tick), as `xdpfence run` does each tick.
 *
 * With 100k and 1M source prefixes in the counter maps, every one of them
 * counted between two ticks ("100%"), and with 1M of which a tenth were
 * ("10%", a different tenth each tick): read by batch lookups (1 thread,
 * one per CPU), by the kernel-side walk of every prefix (what the engine
 * did until it read changes only), and as the engine reads now (the
 * prefixes the data path logged since the last read, COUNTERS_CHANGES; a
 * whole read when too many were). The data path's log is written here as
 * the data path writes it: a record per prefix and CPU that counted it
 * since the epoch began. Median of 5 ticks after a first one.
 * `bench_tick [PREFIXES/PERCENT [MODE]]` runs one scenario (and the modes
 * whose name contains MODE) alone, for profiling: `bench_tick 1000000/100
 * walk`. Lines
 * starting "@ " are figures for tests/bench/run.sh. */
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
#include "../bpf/plant.h"

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

/* Prefixes i < n with i % every == round % every (every 1: all) counted
 * between two ticks: each CPU's counters grown, the data path's log
 * written. The first round puts all n in. */
static int fill(const struct fence_maps *m, __u32 n, __u64 round, unsigned every)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 *keys = malloc(sizeof(*keys) * n), k = 0, done = 0;
	struct fence_counters *v = calloc((size_t)n * m->ncpus, sizeof(*v));
	__u64 epoch = m->active->epoch;
	int ret = 0;

	if (!keys || !v)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		if (round > 1 && i % every != round % every)
			continue;
		keys[k] = htonl((i + 256) << 8);	/* distinct /24s */
		for (int c = 0; c < m->ncpus; c++) {
			struct fence_counters *x = &v[(size_t)k * m->ncpus + c];

			x->packets = round * (i % 50 + 1);
			x->bytes = x->packets * 100;
			x->new_conns = round * (i % 7);
			x->last_seen_ns = epoch;
		}
		k++;
	}
	while (done < k) {
		__u32 cnt = k - done;

		if (bpf_map_update_batch(m->fd[FM_PREFIX_V4], keys + done, v + (size_t)done * m->ncpus,
					 &cnt, &o)) {
			ret = -errno;
			break;
		}
		done += cnt;
	}
	for (__u32 i = 0; i < k && !ret; i++)
		plant_log(m, 4, &keys[i], m->ncpus);
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
			/* as the engine's tick does (user/engine/tick.c) */
			x->hosts = counters_sample_hosts(&seg[k][i], now);
			x->host_bits = x->hosts ? seg[k][i].c.hosts[0] : NULL;
			x->fleet_packets = x->fleet_bytes = x->fleet_new_conns = 0;
			x->no_local = x->hosts_unknown = false;
		}
	*rd_ms = (now_s() - t) * 1e3;
	t = now_s();
	policy_tick_ex(p, now, *ps, n, counters_reader_changes_only(rd) ? POLICY_TICK_CHANGED : 0,
		       never, NULL, &d, &nd);
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

enum { BATCH_1, BATCH_N, WALK, ENGINE };

static const char *const mode_name[] = { "batch, 1 thr", "batch, N thr", "walk, all", "engine" };

/* One row: n prefixes, 1 in `every` counted per tick, read by mode. The
 * median tick in *tick_ms. */
static int row(const struct fence_maps *m, const struct policy_config *pc, __u32 n, unsigned every,
	       unsigned mode, long online, double *tick_ms)
{
	double rd[5], pol[5], tot[5], x, y;
	struct counters_reader *rdr;
	struct policy_sample *ps = NULL;
	size_t cap = 0;
	struct policy *p;
	__u64 now = 1000000000ULL;
	unsigned threads = mode == BATCH_1 ? 1 : (unsigned)(online > 0 ? online : 1);
	unsigned flags = mode <= BATCH_N ? COUNTERS_NO_WALK : mode == ENGINE ? COUNTERS_CHANGES : 0;
	char what[32];

	*tick_ms = 0;
	snprintf(what, sizeof(what), "%3u%%", 100 / every);
	if (counters_reader_new(&rdr, m, threads, flags) || policy_new(&p, pc, 1)) {
		fprintf(stderr, "bench_tick: setup failed\n");
		return -1;
	}
	if (mode >= WALK && !counters_reader_walks(rdr)) {
		printf("%10u %6s %-14s (not available here)\n", n, what, mode_name[mode]);
		counters_reader_free(rdr);
		policy_free(p);
		return 0;
	}
	for (int r = 0; r < 6; r++) {
		if (fill(m, n, r + 1, every)) {
			fprintf(stderr, "bench_tick: filling the LRU failed\n");
			return -1;
		}
		now += 1000000000ULL;
		if (one_tick(rdr, p, now, &ps, &cap, &x, &y)) {
			fprintf(stderr, "bench_tick: tick failed\n");
			return -1;
		}
		if (r) {
			rd[r - 1] = x;
			pol[r - 1] = y;
			tot[r - 1] = x + y;
		}
	}
	x = median5(rd);
	y = median5(pol);
	*tick_ms = median5(tot);
	printf("%10u %6s %-14s %10.1f %10.1f %10.1f\n", n, what, mode_name[mode], x, y, *tick_ms);
	free(ps);
	policy_free(p);
	counters_reader_free(rdr);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct { __u32 n; unsigned every; } scen[] = {
		{ 100000, 1 }, { 1000000, 1 }, { 1000000, 10 },
	};
	struct policy_config pc = { .n_rules = 2, .v4_children = 4, .v4_parent_len = 16,
				    .v6_children = 4, .v6_parent_len = 48, .max_tracked = 2000000 };
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	double all = 0, tenth = 0, before_all = 0, before_tenth = 0, t = 0;

	if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
		bool help = !strcmp(argv[1], "--help");

		fprintf(help ? stdout : stderr,
			"usage: %s [PREFIXES/ACTIVE_PCT [MODE]]\n"
			"  the engine's tick (counters read + policy) at 100000/100, 1000000/100\n"
			"  and 1000000/10 (needs root); one scenario, and the read modes whose\n"
			"  name holds MODE (batch, walk, engine), when given.\n", argv[0]);
		return help ? 0 : 2;
	}
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
	       "%d possible CPUs, %ld online; `active`: the prefixes counted between two ticks;\n"
	       "read by batch lookups (1 thread, one per CPU), by the kernel walk of every prefix\n"
	       "(the engine until now), and as the engine reads now (what changed)\n",
	       libbpf_num_possible_cpus(), online);
	printf("%10s %6s %-14s %10s %10s %10s\n", "prefixes", "active", "read by", "read ms",
	       "policy ms", "tick ms");
	for (unsigned k = 0; k < sizeof(scen) / sizeof(scen[0]); k++) {
		char sname[32];
		struct fence_opts fo = { .max_rules = 4096, .tbl8_groups = 16,
					 .prefix_entries = scen[k].n + scen[k].n / 4 };
		struct xdpfence *skel;
		struct fence_maps m;

		snprintf(sname, sizeof(sname), "%u/%u", scen[k].n, 100 / scen[k].every);
		if (argc > 1 && strcmp(argv[1], sname))
			continue;	/* one scenario only (profiling) */
		if (fence_skel_open(&skel, &fo) || xdpfence__load(skel) ||
		    fence_maps_from_skel(&m, skel, &fo)) {
			fprintf(stderr, "bench_tick: setup failed\n");
			return 1;
		}
		for (unsigned mode = scen[k].every > 1 ? WALK : BATCH_1; mode <= ENGINE; mode++) {
			if (argc > 2 && !strstr(mode_name[mode], argv[2]))
				continue;
			if (row(&m, &pc, scen[k].n, scen[k].every, mode, online, &t))
				return 1;
			if (scen[k].n == 1000000 && mode == WALK)
				*(scen[k].every == 1 ? &before_all : &before_tenth) = t;
			if (scen[k].n == 1000000 && mode == ENGINE)
				*(scen[k].every == 1 ? &all : &tenth) = t;
		}
		fence_maps_close(&m);
		xdpfence__destroy(skel);
	}
	printf("targets: <= 250 ms a tick at 1M prefixes all active (%.1f), <= 100 ms with 10%% active (%.1f)\n",
	       all, tenth);
	printf("@ tick_1m_all %.1f\n@ tick_1m_tenth %.1f\n", all, tenth);
	printf("@ tick_1m_all_walk %.1f\n@ tick_1m_tenth_walk %.1f\n", before_all, before_tenth);
	return 0;
}
