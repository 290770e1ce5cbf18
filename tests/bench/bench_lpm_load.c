// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_lpm_load.c PIN_DIR FEED - the live benchmark's plain
 * LPM-trie yardstick: loads tests/bench/bpf/bench_lpm.bpf.c, fills its
 * IPv4 trie with the feed's prefixes (one "a.b.c.d/len" per line) by batch
 * updates, and pins the program (PIN_DIR/xdp_lpm) and its counters
 * (PIN_DIR/lpm_stats) for bpftool to attach and read. Prints the seconds
 * the fill took. A benchmark tool, never part of xdpfence.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps/keys.h"
#include "bench_lpm.skel.h"

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return l == LIBBPF_WARN && !strstr(f, "unrecognized data section") ? vfprintf(stderr, f, ap) : 0;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	struct fence_v4_key *k = NULL;
	struct bench_lpm *skel;
	__u32 *v = NULL, n = 0, cap = 1 << 16, done = 0;
	struct timespec t0, t1;
	char line[128], path[512];
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_lpm_load PIN_DIR FEED\n");
		return 2;
	}
	libbpf_set_print(quiet);
	f = fopen(argv[2], "r");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	k = malloc(cap * sizeof(*k));
	while (k && fgets(line, sizeof(line), f)) {
		char *slash = strchr(line, '/');
		struct in_addr a;

		if (!slash)
			continue;
		*slash = 0;
		if (inet_pton(AF_INET, line, &a) != 1)
			continue;
		if (n == cap) {
			struct fence_v4_key *nk = realloc(k, (cap *= 2) * sizeof(*k));

			if (!nk)
				break;
			k = nk;
		}
		k[n].prefixlen = atoi(slash + 1);
		k[n++].addr = a.s_addr;
	}
	fclose(f);
	v = calloc(n + 1, sizeof(*v));
	if (!k || !v)
		return 1;
	skel = bench_lpm__open_and_load();
	if (!skel) {
		fprintf(stderr, "bench_lpm_load: loading bench_lpm: %s\n", strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_update_batch(bpf_map__fd(skel->maps.lpm_v4), k + done, v + done, &cnt, &o)) {
			fprintf(stderr, "bench_lpm_load: filling the trie: %s\n", strerror(errno));
			return 1;
		}
		done += cnt;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(path, sizeof(path), "%s/xdp_lpm", argv[1]);
	if (bpf_program__pin(skel->progs.xdp_lpm, path))
		return 1;
	snprintf(path, sizeof(path), "%s/lpm_stats", argv[1]);
	if (bpf_map__pin(skel->maps.lpm_stats, path))
		return 1;
	printf("%.2f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
