// SPDX-License-Identifier: GPL-2.0
/* tests/bench/trafficgen.c - live traffic for benchmarks, from inside a lab namespace.
 *
 * usage: trafficgen --ifname IF [--packets N] [--prefixes N] [--hosts H] [--syn-pct P] [--v6] [--threads T]
 *
 * Builds a 64-byte TCP frame from 198.18.0.0/15 (or 2001:db8::/32) to
 * 192.0.2.1, and sends it N times out of IF with BPF_PROG_TEST_RUN in
 * BPF_F_TEST_XDP_LIVE_FRAMES mode: tests/bench/bpf/trafficgen.bpf.c rewrites the source
 * (spread over --prefixes /24s or /64s) and the TCP flags (--syn-pct SYNs)
 * of every copy and transmits it to IF's veth peer. Run it in the sender's
 * namespace (the ifindex is looked up there). Prints packets and seconds.
 * Only ever used on veth pairs the lab created.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "trafficgen.skel.h"
#include "../bpf/pkt.h"

struct job {
	int prog_fd, ifindex, repeat;
	uint8_t *frame;
	size_t len;
	int err;
};

static void *send_thread(void *arg)
{
	struct job *j = arg;
	struct xdp_md ctx = { .data_end = j->len, .ingress_ifindex = j->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = j->frame, .data_size_in = j->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = j->repeat,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);

	j->err = bpf_prog_test_run_opts(j->prog_fd, &o) ? -errno : 0;
	return NULL;
}

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, ap) : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ifname", required_argument, NULL, 'i' }, { "packets", required_argument, NULL, 'n' },
		{ "prefixes", required_argument, NULL, 'p' }, { "syn-pct", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' }, { "v6", no_argument, NULL, '6' },
		{ "hosts", required_argument, NULL, 'H' },
		{ NULL }
	};
	const char *ifname = NULL;
	long packets = 10000000, prefixes = 256, syn = 10, threads = 1, hosts = 254;
	bool v6 = false;
	struct trafficgen *skel;
	struct job jobs[8];
	pthread_t th[8];
	uint8_t frame[PKT_MAX];
	struct timespec t0, t1;
	double secs;
	int c, ifindex, err = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 'n': packets = atol(optarg); break;
		case 'p': prefixes = atol(optarg); break;
		case 's': syn = atol(optarg); break;
		case 't': threads = atol(optarg); break;
		case '6': v6 = true; break;
		case 'H': hosts = atol(optarg); break;
		default: goto usage;
		}
	}
	/* 512 /24s in 198.18.0.0/15; up to 16M /64s in 2001:db8::/32 (a
	 * spoofed flood that churns the per-prefix LRU) */
	if (!ifname || packets <= 0 || prefixes <= 0 || prefixes > (v6 ? 1L << 24 : 512) ||
	    syn < 0 || syn > 100 ||
	    threads < 1 || threads > 8 || hosts < 1 || hosts > 254)
		goto usage;
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "trafficgen: no interface %s here\n", ifname);
		return 1;
	}
	libbpf_set_print(quiet);
	skel = trafficgen__open();
	if (!skel)
		return 1;
	skel->rodata->n_prefixes = prefixes;
	skel->rodata->syn_pct = syn;
	skel->rodata->hosts = hosts;
	if (trafficgen__load(skel)) {
		fprintf(stderr, "trafficgen: load failed\n");
		return 1;
	}
	size_t len = pkt_build(&(struct pkt_spec){ .saddr = v6 ? "2001:db8::1" : "198.18.0.1",
						  .tcp_flags = TH_ACK }, frame, NULL);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < threads; i++) {
		jobs[i] = (struct job){ bpf_program__fd(skel->progs.xdp_gen), ifindex,
					(int)(packets / threads), frame, len, 0 };
		pthread_create(&th[i], NULL, send_thread, &jobs[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].err)
			err = jobs[i].err;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	trafficgen__destroy(skel);
	if (err) {
		fprintf(stderr, "trafficgen: test_run: %s\n", strerror(-err));
		return 1;
	}
	printf("%ld %.6f\n", packets / threads * threads, secs);
	return 0;
usage:
	fprintf(stderr, "usage: trafficgen --ifname IF [--packets N] [--prefixes 1..512] "
		"[--hosts 1..254] [--syn-pct 0..100] [--threads 1..8] [--v6]\n");
	return 2;
}
