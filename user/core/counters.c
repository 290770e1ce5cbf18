// SPDX-License-Identifier: GPL-2.0
/* user/core/counters.c - see counters.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "core/counters.h"
#include "counters.skel.h"
#include "lib/log.h"

#define BATCH_MAX	16384		/* entries per syscall, at most... */
#define BATCH_BYTES	(4u << 20)	/* ...and at most this much per-CPU value buffer */
#define BATCH_MIN	32		/* near the end of a range: small batches overshoot little */
#define HEAD_LOG	64		/* first batches of a part remembered, for the overlap check */
#define PART_MIN	32768		/* buckets per thread, at least */
#define THREADS_MAX	8

/* One thread's share of one map: buckets [start, end). The last part of a
 * map runs to the end of the table whatever its end says. */
struct part {
	int fd;
	__u8 family;
	__u8 ksz;
	bool last;
	__u32 start, end;
	int ncpus;
	__u8 *keys;			/* batch buffers, kept between reads */
	struct fence_counters *vals;
	struct pfx_sample *v;		/* samples, kept between reads */
	size_t n, cap;
	struct fence_walk_hosts *hv;	/* their host sets (while reading, a sample's
					 * c.pad is its index + 1 here), kept likewise */
	size_t nh, hcap;
	__u32 hosts_from;		/* counters_hosts_from of this read */
	/* the batch that ran past end: samples [cross_from, n), next token cross_tok */
	size_t cross_from;
	__u32 cross_tok;
	struct {
		__u32 tok;		/* next token after the batch */
		size_t n;		/* samples read up to and including it */
	} head[HEAD_LOG];
	unsigned n_head;
	__u32 batch_max;		/* entries per syscall: buffers stay small with many CPUs */
	int err;
	pthread_t thread;
};

/* The kernel-side walk (bpf/counters.bpf.c): one region per CPU, at most
 * FENCE_WALK_CPUS_MAX of them. */
#define RESYNC_WINDOW	32

struct walker {
	struct counters *skel;
	int prog_fd, ncpus;
	__u64 gen;
	const struct fence_walk_rec *out[2];	/* v4, v6 regions, mmap-ed */
	struct fence_walk_hosts *hout[2];	/* their host sets, mmap-ed writable: the
						 * sums point there, joined in place */
	size_t out_len[2], hout_len[2];
	__u32 per_cpu[2];
	struct pfx_sample *merged;	/* the sums, kept between reads */
	size_t merged_cap;
	struct pfx_sample *orphans;	/* keys not seen by every CPU's walk */
	size_t n_orphans, orphans_cap;
	struct fence_walk_hosts *ohosts;	/* the host sets of those read whole */
	size_t ohosts_cap;
	__u64 *vals;			/* one lookup's per-CPU values */
	bool failed;			/* walks keep failing: batch reads from now on */
	unsigned misses;		/* reads in a row where a walk did not run */
	/* COUNTERS_CHANGES: epochs of active_log, counters_sum */
	bool changes;			/* asked for, and counters_sum loaded */
	bool epoch_on;			/* this reader started an epoch */
	int sum_fd;
	__u32 cap;			/* records per half of active_log */
	struct fence_active_rec *sum_in;	/* mmap-ed */
	const struct fence_walk_rec *sum_out;
	struct fence_walk_hosts *sum_hosts;	/* mmap-ed writable, as hout */
	size_t sum_in_len, sum_out_len, sum_hosts_len;
	__u32 *set;			/* dedupe: index + 1 into sum_in, open addressing */
	size_t set_cap;
};

struct counters_reader {
	const struct fence_maps *m;
	struct walker *wk;		/* NULL: batch lookups */
	unsigned threads;
	struct part parts[2 * THREADS_MAX];
	unsigned n_parts;
	struct pfx_sample *seg[2 * THREADS_MAX];
	size_t seg_n[2 * THREADS_MAX];
	__u32 *idx;			/* scratch for the overlap check */
	size_t idx_cap;
	struct pfx_sample *wseg[1];
	size_t wseg_n[1];
	struct counters_stats st;
	bool last_changes;		/* the last read gave the changed prefixes only */
};

int counters_cmp_key(const void *a, const void *b)
{
	const struct pfx_sample *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->addr, y->addr, 16);
}

static __u32 buckets_of(__u32 max_entries)
{
	__u32 b = 1;

	while (b < max_entries && b < (1U << 31))
		b <<= 1;
	return b;
}

static void hosts_or(__u64 *dst, const __u64 *src)
{
	for (int i = 0; i < 4; i++)
		dst[i] |= src[i];
}

/* Host sets src (of epoch e and the one before) into the sum d (of *de):
 * both as of the later epoch; sets one epoch behind give their current
 * hosts as the sum's previous; older ones are too old to count. */
static void hosts_join(__u32 *de, __u64 (*d)[4], __u32 e, const __u64 (*src)[4])
{
	if (e > *de) {
		if (e == *de + 1)
			memcpy(d[1], d[0], sizeof(d[1]));
		else
			memset(d[1], 0, sizeof(d[1]));
		memset(d[0], 0, sizeof(d[0]));
		*de = e;
	}
	if (e == *de) {
		hosts_or(d[0], src[0]);
		hosts_or(d[1], src[1]);
	} else if (e + 1 == *de) {
		hosts_or(d[1], src[0]);
	}
}

void counters_add(struct fence_counters *s, const struct fence_counters *c)
{
	s->packets += c->packets;
	s->bytes += c->bytes;
	s->new_conns += c->new_conns;
	s->drops += c->drops;
	if (c->last_seen_ns > s->last_seen_ns)
		s->last_seen_ns = c->last_seen_ns;
	hosts_join(&s->host_epoch, s->hosts, c->host_epoch, (const __u64 (*)[4])c->hosts);
}

static __u32 hosts_fold(__u32 *epoch, __u64 (*h)[4], int family, __u64 now_ns)
{
	__u32 e = (__u32)(now_ns >> FENCE_HOST_EPOCH_SHIFT), set = 0;

	if (*epoch == e)
		hosts_or(h[0], h[1]);
	else if (*epoch + 1 != e)
		memset(h[0], 0, sizeof(h[0]));
	memset(h[1], 0, sizeof(h[1]));
	*epoch = e;
	for (int i = 0; i < 4; i++)
		set += (__u32)__builtin_popcountll(h[0][i]);
	if (family == 4 || !set)
		return set;
	/* IPv6, linear counting: n = -m ln(empty / m); every bit set, at
	 * least m ln m (the most it tells) */
	if (set == 256)
		return (__u32)(256 * log(256.0) + 0.5);
	return (__u32)(-256 * log((256.0 - set) / 256) + 0.5);
}

__u32 counters_hosts(struct fence_counters *c, int family, __u64 now_ns)
{
	return hosts_fold(&c->host_epoch, c->hosts, family, now_ns);
}

__u32 counters_sample_hosts(struct pfx_sample *s, __u64 now_ns)
{
	return s->c.hosts ? hosts_fold(&s->c.host_epoch, s->c.hosts, s->family, now_ns) : 0;
}

__u32 counters_hosts_from(__u64 now_ns)
{
	__u32 e = (__u32)(now_ns >> FENCE_HOST_EPOCH_SHIFT);

	return e ? e - 1 : 0;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* Sample arrays double, in 2 MiB units on huge pages: they are rewritten every
 * tick, and a page table entry per 4 KiB costs (more so under a
 * paravirtualised guest's shadow paging). */
static int part_grow(struct part *p, size_t want)
{
	const size_t huge = 2u << 20;
	struct pfx_sample *nv;
	size_t len;

	if (want <= p->cap)
		return 0;
	if (want < p->cap * 2)
		want = p->cap * 2;
	len = (want * sizeof(*p->v) + huge - 1) & ~(huge - 1);
	nv = aligned_alloc(huge, len);
	if (!nv)
		return -ENOMEM;
	madvise(nv, len, MADV_HUGEPAGE);
	if (p->n)
		memcpy(nv, p->v, p->n * sizeof(*nv));
	free(p->v);
	p->v = nv;
	p->cap = len / sizeof(*nv);
	return 0;
}

/* A host-set slot for the part's sample being made; -1 without room. */
static long part_hosts_slot(struct part *p)
{
	if (p->nh == p->hcap) {
		size_t nc = p->hcap ? p->hcap * 2 : 1024;
		struct fence_walk_hosts *nh = realloc(p->hv, nc * sizeof(*nh));

		if (!nh)
			return -1;
		p->hv = nh;
		p->hcap = nc;
	}
	return (long)p->nh++;
}

static int part_append(struct part *p, __u32 cnt)
{
	for (__u32 i = 0; i < cnt; i++) {
		const struct fence_counters *pc = &p->vals[(size_t)i * p->ncpus];
		struct pfx_sample *s = &p->v[p->n++];

		s->family = p->family;
		memcpy(s->addr, p->keys + (size_t)i * p->ksz, p->ksz);
		memset(s->addr + p->ksz, 0, sizeof(s->addr) - p->ksz);
		memset(s->pad, 0, sizeof(s->pad));
		memset(&s->c, 0, sizeof(s->c));
		for (int c = 0; c < p->ncpus; c++) {
			s->c.packets += pc[c].packets;
			s->c.bytes += pc[c].bytes;
			s->c.new_conns += pc[c].new_conns;
			s->c.drops += pc[c].drops;
			if (pc[c].last_seen_ns > s->c.last_seen_ns)
				s->c.last_seen_ns = pc[c].last_seen_ns;
			if (pc[c].host_epoch < p->hosts_from)
				continue;	/* no hosts lately */
			if (!s->c.pad) {
				long k = part_hosts_slot(p);

				if (k < 0)
					return -ENOMEM;
				memset(&p->hv[k], 0, sizeof(p->hv[k]));
				s->c.host_epoch = pc[c].host_epoch;
				s->c.pad = (__u32)k + 1;
			}
			hosts_join(&s->c.host_epoch, p->hv[s->c.pad - 1].hosts, pc[c].host_epoch,
				   (const __u64 (*)[4])pc[c].hosts);
		}
	}
	return 0;
}

/* Batches sized so the one that reaches end runs past it by little: aim at
 * most of the entries the rest of the range should hold at the density
 * seen so far. */
static __u32 next_want(const struct part *p, __u32 tok)
{
	double load, rest;

	if (p->last || tok <= p->start)
		return p->batch_max;
	load = (double)p->n / (double)(tok - p->start);
	rest = (double)(p->end - tok) * load * 0.8;
	if (rest >= p->batch_max)
		return p->batch_max;
	return rest > BATCH_MIN ? (__u32)rest : BATCH_MIN;
}

static void *part_read(void *arg)
{
	struct part *p = arg;
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 tok = p->start, next = 0, want = p->batch_max;
	bool first = true;

	p->n = 0;
	p->nh = 0;
	p->cross_from = 0;
	p->cross_tok = 0;
	p->n_head = 0;
	p->err = 0;
	for (;;) {
		__u32 cnt = want;
		size_t before = p->n;
		int err;

		if ((err = part_grow(p, p->n + want))) {
			p->err = err;
			return NULL;
		}
		/* the hash map's token is the next bucket index: a part that
		 * starts at 0 starts without one, as the kernel expects */
		err = bpf_map_lookup_batch(p->fd, first && !p->start ? NULL : &tok, &next, p->keys,
					   p->vals, &cnt, &o) ? -errno : 0;
		if (err == -ENOSPC && want < p->batch_max) {
			/* a bucket holds more */
			want = want * 4 < p->batch_max ? want * 4 : p->batch_max;
			continue;
		}
		if (err && err != -ENOENT) {
			p->err = err;
			return NULL;
		}
		first = false;
		if (part_append(p, cnt)) {
			p->err = -ENOMEM;
			return NULL;
		}
		if (err)
			next = UINT32_MAX;	/* the table's end */
		if (p->n_head < HEAD_LOG) {
			p->head[p->n_head].tok = next;
			p->head[p->n_head++].n = p->n;
		}
		if (!p->last && next > p->end) {
			p->cross_from = before;	/* this batch ran into the next parts */
			p->cross_tok = next;
		}
		if (err || (!p->last && next >= p->end))
			break;
		tok = next;
		want = next_want(p, tok);
	}
	/* the host sets' room is final now: the samples point there */
	for (size_t i = 0; p->nh && i < p->n; i++)
		if (p->v[i].c.pad) {
			p->v[i].c.hosts = p->hv[p->v[i].c.pad - 1].hosts;
			p->v[i].c.pad = 0;
		}
	return NULL;
}

/* Samples of part j read from buckets before tok (all it read, if its log
 * does not reach that far). */
static size_t head_before(const struct part *q, __u32 tok)
{
	for (unsigned h = 0; h < q->n_head; h++)
		if (q->head[h].tok >= tok)
			return q->head[h].n;
	return q->n;
}

static const struct part *cmp_part;

static int cmp_idx(const void *a, const void *b)
{
	return memcmp(cmp_part->v[*(const __u32 *)a].addr, cmp_part->v[*(const __u32 *)b].addr, 16);
}

/* Part p's last batch ran into the following parts' buckets: drop from p
 * every sample a following part read too (a key lives in one bucket). */
static int drop_overlap(struct counters_reader *r, unsigned k)
{
	struct part *p = &r->parts[k];
	size_t nc = p->n - p->cross_from, keep;
	bool *dup;

	if (!p->cross_tok || !nc)
		return 0;
	if (nc > r->idx_cap) {
		__u32 *ni = realloc(r->idx, nc * sizeof(*ni));

		if (!ni)
			return -ENOMEM;
		r->idx = ni;
		r->idx_cap = nc;
	}
	dup = calloc(nc, sizeof(*dup));
	if (!dup)
		return -ENOMEM;
	for (size_t i = 0; i < nc; i++)
		r->idx[i] = (__u32)(p->cross_from + i);
	cmp_part = p;
	qsort(r->idx, nc, sizeof(*r->idx), cmp_idx);
	for (unsigned j = k + 1; j < r->n_parts; j++) {
		const struct part *q = &r->parts[j];
		size_t h;

		if (q->fd != p->fd || q->start >= p->cross_tok)
			continue;
		h = head_before(q, p->cross_tok);
		for (size_t i = 0; i < h; i++) {
			size_t lo = 0, hi = nc;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				int c = memcmp(p->v[r->idx[mid]].addr, q->v[i].addr, 16);

				if (!c) {
					dup[r->idx[mid] - p->cross_from] = true;
					break;
				}
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
	}
	keep = p->cross_from;
	for (size_t i = 0; i < nc; i++)
		if (!dup[i])
			p->v[keep++] = p->v[p->cross_from + i];
	p->n = keep;
	free(dup);
	return 0;
}

/* --- the kernel-side walk ------------------------------------------------ */

static void walker_free(struct walker *w)
{
	if (!w)
		return;
	for (int f = 0; f < 2; f++) {
		if (w->out[f])
			munmap((void *)w->out[f], w->out_len[f]);
		if (w->hout[f])
			munmap(w->hout[f], w->hout_len[f]);
	}
	if (w->sum_in)
		munmap(w->sum_in, w->sum_in_len);
	if (w->sum_out)
		munmap((void *)w->sum_out, w->sum_out_len);
	if (w->sum_hosts)
		munmap(w->sum_hosts, w->sum_hosts_len);
	free(w->set);
	counters__destroy(w->skel);
	free(w->merged);
	free(w->orphans);
	free(w->ohosts);
	free(w->vals);
	free(w);
}

/* The walker needs every possible CPU online and reachable by this process
 * (each walk reads the counters of the CPU it runs on), for_each and mmap-able
 * arrays in the kernel. NULL when any of it is missing: batch reads then. */
static struct walker *walker_open(const struct fence_maps *m, unsigned flags)
{
	static const int which[2] = { FM_PREFIX_V4, FM_PREFIX_V6 };
	libbpf_print_fn_t old;
	struct walker *w;
	cpu_set_t cs;
	int err;

	if (m->ncpus > FENCE_WALK_CPUS_MAX || sysconf(_SC_NPROCESSORS_ONLN) != m->ncpus ||
	    sched_getaffinity(0, sizeof(cs), &cs) || CPU_COUNT(&cs) != m->ncpus)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->ncpus = m->ncpus;
	w->skel = counters__open();
	if (!w->skel)
		goto fail;
	for (int f = 0; f < 2; f++) {
		struct bpf_map *pm = f ? w->skel->maps.prefix_v6 : w->skel->maps.prefix_v4;
		struct bpf_map *om = f ? w->skel->maps.out_v6 : w->skel->maps.out_v4;
		struct bpf_map *hm = f ? w->skel->maps.hosts_v6 : w->skel->maps.hosts_v4;

		w->per_cpu[f] = m->max_entries[which[f]];
		if (flags & COUNTERS_SHORT_REGIONS)
			w->per_cpu[f] = w->per_cpu[f] / 2 ? w->per_cpu[f] / 2 : 1;
		/* regions are indexed in 32 bits and mmap-ed whole */
		if ((__u64)w->per_cpu[f] * w->ncpus > (1ULL << 27))
			goto fail;
		if (bpf_map__reuse_fd(pm, m->fd[which[f]]) ||
		    bpf_map__set_max_entries(om, w->per_cpu[f] * (__u32)w->ncpus) ||
		    bpf_map__set_max_entries(hm, w->per_cpu[f] * (__u32)w->ncpus))
			goto fail;
	}
	w->skel->rodata->per_cpu_v4 = w->per_cpu[0];
	w->skel->rodata->per_cpu_v6 = w->per_cpu[1];
	w->skel->rodata->n_cpus = w->ncpus;
	/* the changed prefixes of an epoch: at most a half of active_log */
	w->changes = (flags & COUNTERS_CHANGES) && m->active_log && m->n_active_log >= 2;
	w->cap = m->n_active_log / 2;
	if (w->changes && (bpf_map__set_max_entries(w->skel->maps.sum_in, w->cap) ||
			   bpf_map__set_max_entries(w->skel->maps.sum_out, w->cap) ||
			   bpf_map__set_max_entries(w->skel->maps.sum_hosts, w->cap)))
		goto fail;
	old = libbpf_set_print(log_quiet);	/* a kernel without it is not an error */
	err = counters__load(w->skel);
	libbpf_set_print(old);
	if (err)
		goto fail;
	for (int f = 0; f < 2; f++) {
		int fd = bpf_map__fd(f ? w->skel->maps.out_v6 : w->skel->maps.out_v4);
		int hfd = bpf_map__fd(f ? w->skel->maps.hosts_v6 : w->skel->maps.hosts_v4);
		void *p;

		w->out_len[f] = (size_t)w->per_cpu[f] * w->ncpus * sizeof(struct fence_walk_rec);
		p = mmap(NULL, w->out_len[f], PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			w->out_len[f] = 0;
			goto fail;
		}
		w->out[f] = p;
		w->hout_len[f] = (size_t)w->per_cpu[f] * w->ncpus * sizeof(struct fence_walk_hosts);
		p = mmap(NULL, w->hout_len[f], PROT_READ | PROT_WRITE, MAP_SHARED, hfd, 0);
		if (p == MAP_FAILED) {
			w->hout_len[f] = 0;
			goto fail;
		}
		w->hout[f] = p;
	}
	w->prog_fd = bpf_program__fd(w->skel->progs.counters_walk);
	w->sum_fd = bpf_program__fd(w->skel->progs.counters_sum);
	w->vals = calloc(w->ncpus, sizeof(struct fence_counters));
	if (!w->vals)
		goto fail;
	if (w->changes) {
		void *p;

		w->sum_in_len = (size_t)w->cap * sizeof(*w->sum_in);
		p = mmap(NULL, w->sum_in_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 bpf_map__fd(w->skel->maps.sum_in), 0);
		w->sum_in = p == MAP_FAILED ? NULL : p;
		w->sum_out_len = (size_t)w->cap * sizeof(*w->sum_out);
		p = mmap(NULL, w->sum_out_len, PROT_READ, MAP_SHARED,
			 bpf_map__fd(w->skel->maps.sum_out), 0);
		w->sum_out = p == MAP_FAILED ? NULL : p;
		w->sum_hosts_len = (size_t)w->cap * sizeof(*w->sum_hosts);
		p = mmap(NULL, w->sum_hosts_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 bpf_map__fd(w->skel->maps.sum_hosts), 0);
		w->sum_hosts = p == MAP_FAILED ? NULL : p;
		if (!w->sum_in || !w->sum_out || !w->sum_hosts)
			goto fail;
	}
	return w;
fail:
	walker_free(w);
	return NULL;
}

struct cpu_job {
	int prog_fd;
	int cpu;
	pthread_t thread;
	bool started;
};

static void *run_on_cpu(void *arg)
{
	struct cpu_job *j = arg;
	__u8 frame[64] = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = sizeof(frame),
		    .repeat = 1);
	cpu_set_t cs;

	CPU_ZERO(&cs);
	CPU_SET(j->cpu, &cs);
	if (!pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs))
		bpf_prog_test_run_opts(j->prog_fd, &o);
	return NULL;
}

/* Run prog_fd once on each of CPUs 0..ncpus-1, all at once; whether each
 * ran shows in what the program wrote (ran[cpu], sum_ran[cpu]). */
static void run_on_cpus(int prog_fd, int ncpus)
{
	struct cpu_job jobs[FENCE_WALK_CPUS_MAX];

	for (int c = 0; c < ncpus; c++) {
		jobs[c] = (struct cpu_job){ .prog_fd = prog_fd, .cpu = c };
		jobs[c].started = !pthread_create(&jobs[c].thread, NULL, run_on_cpu, &jobs[c]);
	}
	for (int c = 0; c < ncpus; c++)
		if (jobs[c].started)
			pthread_join(jobs[c].thread, NULL);
}

static int grow_samples(struct pfx_sample **v, size_t *cap, size_t want)
{
	const size_t huge = 2u << 20;
	struct pfx_sample *nv;
	size_t len;

	if (want <= *cap)
		return 0;
	if (want < *cap * 2)
		want = *cap * 2;
	len = (want * sizeof(**v) + huge - 1) & ~(huge - 1);
	nv = aligned_alloc(huge, len);
	if (!nv)
		return -ENOMEM;
	madvise(nv, len, MADV_HUGEPAGE);
	free(*v);
	*v = nv;
	*cap = len / sizeof(*nv);
	return 0;
}

static int orphan(struct walker *w, const struct fence_walk_rec *r)
{
	struct pfx_sample *o;

	if (w->n_orphans == w->orphans_cap) {
		size_t nc = w->orphans_cap ? w->orphans_cap * 2 : 1024;
		struct pfx_sample *n = realloc(w->orphans, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		w->orphans = n;
		w->orphans_cap = nc;
	}
	o = &w->orphans[w->n_orphans++];
	memset(o, 0, sizeof(*o));
	o->family = r->family;
	memcpy(o->addr, r->addr, sizeof(o->addr));
	return 0;
}

static bool same_key(const struct fence_walk_rec *a, const struct fence_walk_rec *b)
{
	return !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Where each prefix of a list is: built only for a list that a window
 * could not bring back in line (a long run of prefixes one walk saw and
 * list 0's did not). Open addressing; value = position + 1. */
struct pos_index {
	__u32 *e;
	__u32 mask;
};

/* Every input bit reaches the low bits the index masks by: an IPv6 /64's
 * varying bits are the high ones of a little-endian load, and a multiply
 * alone carries bits only upwards. */
static __u32 rec_hash(const struct fence_walk_rec *r)
{
	__u64 a, b;

	memcpy(&a, r->addr, 8);
	memcpy(&b, r->addr + 8, 8);
	a ^= b * 0x9e3779b97f4a7c15ULL;
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdULL;
	a ^= a >> 33;
	a *= 0xc4ceb9fe1a85ec53ULL;
	return (__u32)(a ^ a >> 33);
}

static int pos_index_build(struct pos_index *h, const struct fence_walk_rec *l, __u32 n)
{
	__u32 cap = 64;

	while (cap < 2 * (size_t)n)
		cap *= 2;
	h->e = calloc(cap, sizeof(*h->e));
	if (!h->e)
		return -ENOMEM;
	h->mask = cap - 1;
	for (__u32 i = 0; i < n; i++) {
		__u32 j = rec_hash(&l[i]) & h->mask;

		while (h->e[j])
			j = (j + 1) & h->mask;
		h->e[j] = i + 1;
	}
	return 0;
}

/* The first position > after holding x's prefix, or UINT32_MAX. */
static __u32 pos_index_find(const struct pos_index *h, const struct fence_walk_rec *l,
			    const struct fence_walk_rec *x, __u32 after)
{
	for (__u32 j = rec_hash(x) & h->mask; h->e[j]; j = (j + 1) & h->mask)
		if (h->e[j] - 1 > after && same_key(&l[h->e[j] - 1], x))
			return h->e[j] - 1;
	return UINT32_MAX;
}

/* A sum begins with one CPU's record r, its host sets (if it has any) at
 * *rh, where the sum then points: the other CPUs' are joined there. */
static void sample_start(struct pfx_sample *s, const struct fence_walk_rec *r,
			 struct fence_walk_hosts *rh)
{
	s->family = r->family;
	memcpy(s->addr, r->addr, sizeof(s->addr));
	memset(s->pad, 0, sizeof(s->pad));
	s->c.packets = r->packets;
	s->c.bytes = r->bytes;
	s->c.new_conns = r->new_conns;
	s->c.drops = r->drops;
	s->c.last_seen_ns = r->last_seen_ns;
	s->c.pad = 0;
	s->c.host_epoch = 0;
	s->c.hosts = NULL;
	if (r->hosts && rh) {
		s->c.host_epoch = r->host_epoch;
		s->c.hosts = rh->hosts;
	}
}

static void sample_add(struct pfx_sample *s, const struct fence_walk_rec *r,
		       struct fence_walk_hosts *rh)
{
	s->c.packets += r->packets;
	s->c.bytes += r->bytes;
	s->c.new_conns += r->new_conns;
	s->c.drops += r->drops;
	if (r->last_seen_ns > s->c.last_seen_ns)
		s->c.last_seen_ns = r->last_seen_ns;
	if (!r->hosts || !rh)
		return;
	if (!s->c.hosts) {
		s->c.host_epoch = r->host_epoch;
		s->c.hosts = rh->hosts;
	} else {
		hosts_join(&s->c.host_epoch, s->c.hosts, r->host_epoch,
			   (const __u64 (*)[4])rh->hosts);
	}
}

/* Add up one family's per-CPU lists. Every walk visits the buckets in the
 * same order, so the lists line up but where the data path added or evicted
 * a prefix between two walks: there the lists are brought back in line
 * (within a window, or past it through an index of the list), and the
 * prefixes not seen by every walk are set aside (orphans) to be read whole
 * afterwards. out has room for list 0 + ... */
int counters_merge(const struct fence_walk_rec *const *l, struct fence_walk_hosts *const *h,
		   const __u32 *n, int k, struct pfx_sample *out, size_t *n_out,
		   int (*orphan_fn)(void *ctx, const struct fence_walk_rec *r), void *ctx)
{
	__u32 pos[FENCE_WALK_CPUS_MAX] = {};
	struct pos_index hx[FENCE_WALK_CPUS_MAX] = {};
	size_t o = *n_out;
	int ret = 0;

	for (;;) {
		const struct fence_walk_rec *x;
		bool aligned = true, gone = false;
		int c;

		for (c = 0; c < k; c++)
			if (pos[c] >= n[c])
				break;
		if (c < k)
			break;
		x = &l[0][pos[0]];
		for (c = 1; c < k && aligned; c++) {
			__u32 q, end;

			if (same_key(&l[c][pos[c]], x))
				continue;
			/* look for x a little further in list c; what is skipped
			 * there was not in list 0 (here) */
			end = pos[c] + RESYNC_WINDOW < n[c] ? pos[c] + RESYNC_WINDOW : n[c];
			for (q = pos[c] + 1; q < end && !same_key(&l[c][q], x); q++)
				;
			if (q == end && end < n[c]) {
				/* past the window: ask the list's index */
				if (!hx[c].e && (ret = pos_index_build(&hx[c], l[c], n[c])))
					goto out;
				q = pos_index_find(&hx[c], l[c], x, pos[c]);
			}
			if (q < n[c]) {
				for (; pos[c] < q; pos[c]++)
					if ((ret = orphan_fn(ctx, &l[c][pos[c]])))
						goto out;
			} else {
				gone = true;	/* not in list c: x is the orphan */
				aligned = false;
			}
		}
		if (gone) {
			if ((ret = orphan_fn(ctx, x)))
				goto out;
			pos[0]++;
			continue;
		}
		sample_start(&out[o], x, h ? &h[0][pos[0]] : NULL);
		pos[0]++;
		for (c = 1; c < k; c++) {
			sample_add(&out[o], &l[c][pos[c]], h ? &h[c][pos[c]] : NULL);
			pos[c]++;
		}
		o++;
	}
	for (int c = 0; c < k; c++)
		for (; pos[c] < n[c]; pos[c]++)
			if ((ret = orphan_fn(ctx, &l[c][pos[c]])))
				goto out;
	*n_out = o;
out:
	for (int c = 0; c < k; c++)
		free(hx[c].e);
	return ret;
}

static int orphan_cb(void *ctx, const struct fence_walk_rec *r)
{
	return orphan(ctx, r);
}

int counters_settle(const struct fence_maps *m, struct pfx_sample *orphans, size_t n,
		    void *scratch, struct fence_walk_hosts *hosts, __u32 hosts_from,
		    struct pfx_sample *out, size_t *n_out)
{
	size_t nh = 0;

	if (!n)
		return 0;	/* orphans may be NULL: qsort must not see it */
	qsort(orphans, n, sizeof(*orphans), counters_cmp_key);
	for (size_t i = 0; i < n; i++) {
		const struct pfx_sample *x = &orphans[i];
		struct fence_counters *v = scratch;
		int fd = m->fd[x->family == 4 ? FM_PREFIX_V4 : FM_PREFIX_V6];
		struct pfx_sample *s;

		if (i && !counters_cmp_key(x, &orphans[i - 1]))
			continue;
		if (bpf_map_lookup_elem(fd, x->addr, v)) {
			if (errno == ENOENT)
				continue;	/* gone since the walks saw it */
			return -errno;
		}
		s = &out[(*n_out)++];
		*s = *x;
		memset(&s->c, 0, sizeof(s->c));
		for (int c = 0; c < m->ncpus; c++) {
			s->c.packets += v[c].packets;
			s->c.bytes += v[c].bytes;
			s->c.new_conns += v[c].new_conns;
			s->c.drops += v[c].drops;
			if (v[c].last_seen_ns > s->c.last_seen_ns)
				s->c.last_seen_ns = v[c].last_seen_ns;
			if (v[c].host_epoch < hosts_from)
				continue;
			if (!s->c.hosts) {
				memset(&hosts[nh], 0, sizeof(hosts[nh]));
				s->c.hosts = hosts[nh++].hosts;
				s->c.host_epoch = v[c].host_epoch;
			}
			hosts_join(&s->c.host_epoch, s->c.hosts, v[c].host_epoch,
				   (const __u64 (*)[4])v[c].hosts);
		}
	}
	return 0;
}

/* One walk on every CPU at once, then the sums. -EAGAIN: a walk did not
 * run where it had to; -ERANGE: one stopped short. The caller reads in
 * batches instead. */
static int walker_read(struct walker *w, const struct fence_maps *m, struct pfx_sample **v,
		       size_t *n)
{
	size_t want = 0;
	int err;

	w->skel->bss->gen = ++w->gen;
	w->skel->bss->hosts_from = counters_hosts_from(mono_ns());
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	run_on_cpus(w->prog_fd, w->ncpus);
	for (int c = 0; c < w->ncpus; c++) {
		if (w->skel->bss->ran[c] != w->gen)
			return -EAGAIN;
		/* stopped short (more prefixes than a region holds: the map
		 * changed under the walk): this read goes by batch lookups */
		if (w->skel->bss->cut[c])
			return -ERANGE;
		want += (size_t)w->skel->bss->n_v4[c] + w->skel->bss->n_v6[c];	/* at worst */
	}
	if ((err = grow_samples(&w->merged, &w->merged_cap, want + 1)))
		return err;
	*n = 0;
	w->n_orphans = 0;
	for (int f = 0; f < 2; f++) {
		const struct fence_walk_rec *l[FENCE_WALK_CPUS_MAX];
		struct fence_walk_hosts *h[FENCE_WALK_CPUS_MAX];
		__u32 cnt[FENCE_WALK_CPUS_MAX];

		for (int c = 0; c < w->ncpus; c++) {
			l[c] = w->out[f] + (size_t)c * w->per_cpu[f];
			h[c] = w->hout[f] + (size_t)c * w->per_cpu[f];
			cnt[c] = f ? w->skel->bss->n_v6[c] : w->skel->bss->n_v4[c];
		}
		if ((err = counters_merge(l, h, cnt, w->ncpus, w->merged, n, orphan_cb, w)))
			return err;
	}
	/* orphans, once each, read whole with a lookup (gone since: dropped) */
	if (w->n_orphans > w->ohosts_cap) {
		struct fence_walk_hosts *oh = realloc(w->ohosts, w->n_orphans * sizeof(*oh));

		if (!oh)
			return -ENOMEM;
		w->ohosts = oh;
		w->ohosts_cap = w->n_orphans;
	}
	if ((err = counters_settle(m, w->orphans, w->n_orphans, w->vals, w->ohosts,
				   w->skel->bss->hosts_from, w->merged, n)))
		return err;
	*v = w->merged;
	return 0;
}

/* --- only what changed (COUNTERS_CHANGES) ----------------------------------- */

/* Start a new epoch of active_log (maps/keys.h) in the other half, its
 * count zeroed first. Returns the epoch that ended. */
static __u64 epoch_turn(struct walker *w, const struct fence_maps *m)
{
	struct fence_active_meta *am = m->active;
	__u64 ended = am->epoch;
	__u32 next = (ended & 1) ^ 1;
	struct timespec ts;
	__u64 now;

	if (am->cap != w->cap)
		am->cap = w->cap;	/* a set made before active_log: this reader sizes it */
	__atomic_store_n(&am->n[next], 0, __ATOMIC_SEQ_CST);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	/* after every last_seen_ns written so far (the coarse clock may not
	 * have moved since the last turn), so each prefix counted from now
	 * on is logged once more */
	if (now < (ended & ~1ULL))
		now = ended & ~1ULL;
	__atomic_store_n(&am->epoch, ((now + 2) & ~1ULL) | next, __ATOMIC_SEQ_CST);
	w->epoch_on = true;
	return ended;
}

static __u32 arec_hash(const struct fence_active_rec *r)
{
	__u64 a, b;

	memcpy(&a, r->addr, 8);
	memcpy(&b, r->addr + 8, 8);
	a = (a ^ (b * 0x9e3779b97f4a7c15ULL) ^ r->family) * 0xff51afd7ed558ccdULL;
	return (__u32)(a >> 32 ^ a);
}

/* The first n records of the half epoch filled, those that are its, each
 * prefix once, into sum_in. Returns how many, or -ENOMEM. */
static long changes_collect(struct walker *w, const struct fence_maps *m, __u64 epoch, __u32 n)
{
	const struct fence_active_rec *log = m->active_log + (size_t)(epoch & 1) * w->cap;
	size_t need = 64, u = 0;

	while (need < 2 * (size_t)n)
		need *= 2;
	if (need > w->set_cap) {
		__u32 *set = realloc(w->set, need * sizeof(*set));

		if (!set)
			return -ENOMEM;
		w->set = set;
		w->set_cap = need;
	}
	memset(w->set, 0, need * sizeof(*w->set));
	for (__u32 i = 0; i < n; i++) {
		const struct fence_active_rec *r = &log[i];
		__u8 fam;
		size_t j;

		if (__atomic_load_n(&r->mark, __ATOMIC_ACQUIRE) != epoch)
			continue;	/* not written (a packet still at it): next epoch */
		fam = r->family;
		if (fam != 4 && fam != 6)
			continue;
		for (j = arec_hash(r) & (need - 1); w->set[j]; j = (j + 1) & (need - 1)) {
			const struct fence_active_rec *x = &w->sum_in[w->set[j] - 1];

			if (x->family == fam && !memcmp(x->addr, r->addr, sizeof(x->addr)))
				break;
		}
		if (!w->set[j]) {
			memcpy(&w->sum_in[u], r, sizeof(*r));
			w->sum_in[u].family = fam;
			w->set[j] = (__u32)++u;
		}
	}
	return (long)u;
}

/* The prefixes counted since the last read, summed over CPUs. -ENODATA:
 * this read must read every prefix (the first read, an epoch whose log
 * overflowed, or one where so many changed that reading all is cheaper);
 * the new epoch has begun either way. -EAGAIN: a CPU's share did not run. */
static int changes_read(struct walker *w, const struct fence_maps *m, struct pfx_sample **v,
			size_t *n_out)
{
	struct timespec pause = { 0, 50000 };
	__u32 n, per;
	__u64 ended;
	long u;
	int err;

	if (!w->epoch_on) {
		epoch_turn(w, m);
		return -ENODATA;
	}
	ended = epoch_turn(w, m);
	/* a packet that read the old epoch may still be writing its record */
	nanosleep(&pause, NULL);
	n = __atomic_load_n(&m->active->n[ended & 1], __ATOMIC_SEQ_CST);
	if (n > w->cap)
		return -ENODATA;
	u = changes_collect(w, m, ended, n);
	if (u < 0)
		return (int)u;
	/* past half the maps' room, a walk reads it all about as fast */
	if ((__u64)u * 2 > (__u64)w->per_cpu[0] + w->per_cpu[1])
		return -ENODATA;
	if ((err = grow_samples(&w->merged, &w->merged_cap, (size_t)u + 1)))
		return err;
	w->skel->bss->gen = ++w->gen;
	w->skel->bss->hosts_from = counters_hosts_from(mono_ns());
	per = ((__u32)u + w->ncpus - 1) / w->ncpus;
	for (int c = 0; c < w->ncpus; c++) {
		__u32 start = per * c < u ? per * c : (__u32)u;

		w->skel->bss->sum_arg[c].start = start;
		w->skel->bss->sum_arg[c].n = start + per <= u ? per : (__u32)u - start;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	run_on_cpus(w->sum_fd, w->ncpus);
	for (int c = 0; c < w->ncpus; c++)
		if (w->skel->bss->sum_ran[c] != w->gen)
			return -EAGAIN;
	*n_out = 0;
	for (long i = 0; i < u; i++)
		if (w->sum_out[i].family)	/* 0: gone since it was logged */
			sample_start(&w->merged[(*n_out)++], &w->sum_out[i], &w->sum_hosts[i]);
	*v = w->merged;
	return 0;
}

int counters_reader_new(struct counters_reader **out, const struct fence_maps *m, unsigned threads,
			unsigned flags)
{
	static const int which[2] = { FM_PREFIX_V4, FM_PREFIX_V6 };
	struct counters_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	if (!threads) {
		long on = sysconf(_SC_NPROCESSORS_ONLN);

		threads = on < 1 ? 1 : on > THREADS_MAX ? THREADS_MAX : (unsigned)on;
	}
	if (threads > THREADS_MAX)
		threads = THREADS_MAX;
	r->m = m;
	r->threads = threads;
	if (!(flags & COUNTERS_NO_WALK))
		r->wk = walker_open(m, flags);
	for (int f = 0; f < 2; f++) {
		__u32 nb = buckets_of(m->max_entries[which[f]]), np = nb / PART_MIN;

		if (np > threads)
			np = threads;
		if (np < 1)
			np = 1;
		for (__u32 i = 0; i < np; i++) {
			struct part *p = &r->parts[r->n_parts++];

			p->fd = m->fd[which[f]];
			p->family = f ? 6 : 4;
			p->ksz = f ? sizeof(struct fence_pfx_v6) : sizeof(struct fence_pfx_v4);
			p->ncpus = m->ncpus;
			p->start = (__u32)((__u64)nb * i / np);
			p->end = (__u32)((__u64)nb * (i + 1) / np);
			p->last = i == np - 1;
			p->batch_max = BATCH_BYTES / (m->ncpus * sizeof(*p->vals));
			if (p->batch_max > BATCH_MAX)
				p->batch_max = BATCH_MAX;
			if (p->batch_max < BATCH_MIN * 4)
				p->batch_max = BATCH_MIN * 4;
			p->keys = malloc((size_t)p->batch_max * p->ksz);
			p->vals = malloc((size_t)p->batch_max * m->ncpus * sizeof(*p->vals));
			if (!p->keys || !p->vals) {
				counters_reader_free(r);
				return -ENOMEM;
			}
		}
	}
	*out = r;
	return 0;
}

bool counters_reader_walks(const struct counters_reader *r)
{
	return r->wk && !r->wk->failed;
}

bool counters_reader_changes_only(const struct counters_reader *r)
{
	return r->last_changes;
}

void counters_reader_free(struct counters_reader *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n_parts; i++) {
		free(r->parts[i].keys);
		free(r->parts[i].vals);
		free(r->parts[i].v);
		free(r->parts[i].hv);
	}
	free(r->idx);
	walker_free(r->wk);
	free(r);
}

void counters_reader_stats(const struct counters_reader *r, struct counters_stats *st)
{
	*st = r->st;
}

int counters_reader_read(struct counters_reader *r, struct pfx_sample *const **seg,
			 const size_t **n, unsigned *n_seg)
{
	bool started[2 * THREADS_MAX] = {};
	int err = 0;

	r->st.reads++;
	r->last_changes = false;
	if (r->wk && !r->wk->failed && r->wk->changes) {
		err = changes_read(r->wk, r->m, &r->wseg[0], &r->wseg_n[0]);
		if (!err) {
			r->last_changes = true;
			r->st.changed++;
			*seg = r->wseg;
			*n = r->wseg_n;
			*n_seg = 1;
			return 0;
		}
		if (err != -ENODATA && err != -EAGAIN) {
			r->st.failed++;
			if (r->wk)
				r->wk->epoch_on = false;	/* lost: read all next */
			return err;
		}
		/* the epoch turned: a whole read now misses nothing */
	}
	if (r->wk && !r->wk->failed) {
		err = walker_read(r->wk, r->m, &r->wseg[0], &r->wseg_n[0]);
		if (!err) {
			r->wk->misses = 0;
			*seg = r->wseg;
			*n = r->wseg_n;
			*n_seg = 1;
			return 0;
		}
		if (err != -EAGAIN && err != -ERANGE) {
			r->st.failed++;
			if (r->wk)
				r->wk->epoch_on = false;	/* lost: read all next */
			return err;
		}
		/* a CPU out of reach three reads in a row: batch reads from now on */
		if (err == -EAGAIN && ++r->wk->misses >= 3)
			r->wk->failed = true;
		/* this read goes by batch lookups: what it finds is the answer */
		r->st.fallbacks++;
		err = 0;
	}

	/* one thread per part; the first part runs here */
	for (unsigned i = 0; i < r->n_parts; i++)
		r->parts[i].hosts_from = counters_hosts_from(mono_ns());
	for (unsigned i = 1; i < r->n_parts; i++)
		started[i] = !pthread_create(&r->parts[i].thread, NULL, part_read, &r->parts[i]);
	part_read(&r->parts[0]);
	for (unsigned i = 1; i < r->n_parts; i++) {
		if (started[i])
			pthread_join(r->parts[i].thread, NULL);
		else
			part_read(&r->parts[i]);
	}
	for (unsigned i = 0; i < r->n_parts && !err; i++)
		err = r->parts[i].err;
	for (unsigned i = 0; i < r->n_parts && !err; i++)
		err = drop_overlap(r, i);
	if (err) {
		r->st.failed++;
		if (r->wk)
			r->wk->epoch_on = false;	/* lost: read all next */
		return err;
	}
	for (unsigned i = 0; i < r->n_parts; i++) {
		r->seg[i] = r->parts[i].v;
		r->seg_n[i] = r->parts[i].n;
	}
	*seg = r->seg;
	*n = r->seg_n;
	*n_seg = r->n_parts;
	return 0;
}

int counters_reader_copy(struct counters_reader *r, struct pfx_sample **v, size_t *n, bool sorted)
{
	struct pfx_sample *const *seg;
	const size_t *sn;
	unsigned ns;
	size_t total = 0;
	int err;

	*v = NULL;
	*n = 0;
	if ((err = counters_reader_read(r, &seg, &sn, &ns)))
		return err;
	for (unsigned i = 0; i < ns; i++)
		total += sn[i];
	*v = malloc((total + 1) * sizeof(**v));
	if (!*v)
		return -ENOMEM;
	for (unsigned i = 0; i < ns; i++) {
		if (!sn[i])
			continue;	/* an empty segment may be NULL */
		memcpy(*v + *n, seg[i], sn[i] * sizeof(**v));
		*n += sn[i];
	}
	if (*n > 1 && sorted)
		qsort(*v, *n, sizeof(**v), counters_cmp_key);
	return 0;
}

/* --- per-entry counters ---------------------------------------------------- */

/* entry_hits is read where it lies (mapped, core/fence.h): CPU by CPU. */
int counters_entry(const struct fence_maps *m, __u32 slot, struct fence_entry_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (slot >= m->n_slots)
		return -ENOENT;
	for (int c = 0; c < m->ncpus; c++) {
		const struct fence_entry_counters *v = fence_hits_at(m, c, slot);

		if (!v)
			return -ENOMEM;
		out->packets += __atomic_load_n(&v->packets, __ATOMIC_RELAXED);
		out->bytes += __atomic_load_n(&v->bytes, __ATOMIC_RELAXED);
		out->new_conns += __atomic_load_n(&v->new_conns, __ATOMIC_RELAXED);
	}
	return 0;
}

int counters_entries_read(const struct fence_maps *m, struct fence_entry_counters **out)
{
	const struct fence_entry_counters *all = lazymap_full(&m->lz[FL_ENTRY_HITS]);

	*out = NULL;
	if (!all)
		return -errno ? -errno : -ENOMEM;
	*out = calloc(m->n_slots + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int c = 0; c < m->ncpus; c++) {
		const struct fence_entry_counters *v = all + (size_t)c * m->n_slots;

		for (__u32 s = 0; s < m->n_slots; s++) {
			(*out)[s].packets += v[s].packets;
			(*out)[s].bytes += v[s].bytes;
			(*out)[s].new_conns += v[s].new_conns;
		}
	}
	return 0;
}
