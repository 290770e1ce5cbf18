// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_fleet.c - the fleet's figures, driven by tests/bench/bench_fleet.sh
 * against real `xdpfence run` daemons and nats-server processes.
 *
 *   bench_fleet promote A_PIN A_EVENTS WATCH_PINS N BATCH EVERY_MS
 *       make gateway A promote N prefixes (2001:db8:R:i::/64), BATCH of them
 *       every EVERY_MS: their new-connection counters are written into A's
 *       pinned prefix_v6 map, as the data path would count a flood, so A's
 *       own engine decides. Each prefix is then looked for in the data path's
 *       deny_v6 of every gateway in WATCH_PINS (comma-separated) until there,
 *       polled every millisecond. Prints, per gateway, the latency from A's
 *       decision (its "promote" event) to the entry enforced there: p50, p99,
 *       max, and the time from the first decision to the last enforced.
 *   bench_fleet fill SERVERS BUCKET N ORIGIN [FIRST]
 *       write N keys straight into the bucket (fleet.h's codec), as another
 *       gateway would, asynchronously; prints the rate. Key i is
 *       2001:db8:f0XX:XXXX::/64 (i in its low 24 bits), i from FIRST (0).
 *   bench_fleet count PIN N TIMEOUT_S
 *       wait until N deny entries at PIN are owned by the fleet; prints the
 *       seconds it took.
 *
 * Addresses: only 2001:db8::/32. Exit 0 when everything arrived in time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <nats/nats.h>

#include "../bpf/plant.h"

#include "core/fence.h"
#include "engine/fleet.h"

#define MAX_WATCH 4

static double wall(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static __u64 mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/* --- promote ------------------------------------------------------------- */

struct run {
	struct fence_maps a;
	struct fence_maps w[MAX_WATCH];
	const char *w_pin[MAX_WATCH];	/* their pin dirs: the tables grow (new maps) */
	unsigned n_w;
	size_t n, batch;
	unsigned every_ms;
	__u16 tag;			/* this run's third group of the address */
	double *started;		/* wall clock a prefix began flooding, 0 = not yet */
	__u64 *logged;			/* the engine's epoch it was last logged in at A */
	double *seen[MAX_WATCH];	/* wall clock it was enforced there */
	volatile bool done;
	size_t activated;
	pthread_mutex_t mu;
};

static void pfx_addr(const struct run *r, size_t i, __u8 addr[16])
{
	memset(addr, 0, 16);
	addr[0] = 0x20;
	addr[1] = 0x01;
	addr[2] = 0x0d;
	addr[3] = 0xb8;
	addr[4] = (r->tag + (i >> 16)) >> 8;
	addr[5] = (r->tag + (i >> 16)) & 0xff;
	addr[6] = (i >> 8) & 0xff;
	addr[7] = i & 0xff;
}

/* Is the prefix's address denied by an entry at w? */
static bool enforced(const struct fence_maps *w, const __u8 addr[16])
{
	struct fence_v6_key k = { .prefixlen = 128 };
	struct fence_slot s;

	memcpy(k.addr, addr, 16);
	k.addr[15] = 1;
	if (bpf_map_lookup_elem(w->fd[FM_DENY_V6], &k, &s) || !s.slot || s.slot >= w->n_slots)
		return false;
	return w->rules[s.slot].kind == FENCE_KIND_DENY;
}

/* How many of this run's prefixes w enforces: a scan of its entries (a
 * burst is counted so, not looked up one by one). */
static size_t enforced_count(const struct run *r, const struct fence_maps *w)
{
	__u8 lo[16], hi[16];
	size_t n = 0;

	pfx_addr(r, 0, lo);
	pfx_addr(r, r->n - 1, hi);
	for (__u32 s = 1; s < w->n_slots; s++) {
		const struct fence_rule_info *in = &w->info[s];

		if (w->rules[s].kind == FENCE_KIND_DENY && in->family == 6 && in->prefixlen == 64 &&
		    memcmp(in->addr, lo, 8) >= 0 && memcmp(in->addr, hi, 8) <= 0)
			n++;
	}
	return n;
}

/* The flood: every 100 ms, each prefix active for its window and a bit
 * more gets 10 more new connections (100/s) on CPU 0. */
static void *flood_main(void *arg)
{
	struct run *r = arg;
	size_t cap = r->n < 65536 ? r->n : 65536;
	struct fence_pfx_v6 *keys = calloc(cap, sizeof(*keys));
	struct fence_counters *vals = calloc(cap * r->a.ncpus, sizeof(*vals));
	double t0 = wall(), next_batch = t0;

	if (!keys || !vals)
		return NULL;
	while (!r->done) {
		double now = wall();
		size_t k = 0;

		/* a burst floods until A has promoted all of it (no extends) */
		if (r->n > 10000 && r->activated == r->n && enforced_count(r, &r->a) == r->n) {
			usleep(100000);
			continue;
		}
		pthread_mutex_lock(&r->mu);
		while (r->activated < r->n && now >= next_batch) {
			for (size_t j = 0; j < r->batch && r->activated < r->n; j++)
				r->started[r->activated++] = now;
			next_batch += r->every_ms / 1000.0;
		}
		pthread_mutex_unlock(&r->mu);
		for (size_t i = 0; i < r->activated; i++) {
			if (!r->started[i] || now - r->started[i] > 3.0)
				continue;	/* not yet, or promoted long since */
			if (r->n <= 10000 && now - r->started[i] > 1.0) {
				__u8 a[16];

				pfx_addr(r, i, a);
				if (enforced(&r->a, a)) {
					r->started[i] = -1;	/* A promoted it: stop */
					continue;
				}
			}
			/* 100 new connections a second since it began, by the
			 * clock: a slow round does not look like a pause */
			__u64 conns = 100 * (now - r->started[i]) + 1;

			pfx_addr(r, i, keys[k].addr);
			/* as the data path: logged for A's engine once an epoch
			 * (it reads only what was logged) */
			if (r->logged[i] != __atomic_load_n(&r->a.active->epoch, __ATOMIC_ACQUIRE))
				r->logged[i] = plant_log(&r->a, 6, keys[k].addr, 1);
			memset(&vals[k * r->a.ncpus], 0, sizeof(*vals) * r->a.ncpus);
			vals[k * r->a.ncpus].new_conns = conns;
			vals[k * r->a.ncpus].packets = conns;
			vals[k * r->a.ncpus].bytes = conns * 60;
			vals[k * r->a.ncpus].last_seen_ns = mono_ns();
			if (++k == cap) {
				__u32 cnt = k;

				bpf_map_update_batch(r->a.fd[FM_PREFIX_V6], keys, vals, &cnt, NULL);
				k = 0;
			}
		}
		if (k) {
			__u32 cnt = k;

			bpf_map_update_batch(r->a.fd[FM_PREFIX_V6], keys, vals, &cnt, NULL);
		}
		usleep(100000);
	}
	free(keys);
	free(vals);
	return NULL;
}

/* "2026-12-05T14:17:33.445Z" -> Unix seconds */
static double iso_time(const char *s)
{
	struct tm tm = {};
	const char *ms = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	return ms ? timegm(&tm) + (ms[0] == '.' ? atof(ms) : 0) : 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A's promote events for this run's prefixes: decision time per index. */
static size_t read_decisions(const struct run *r, const char *events, double *dec)
{
	char line[1024];
	FILE *f = fopen(events, "r");
	size_t n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "\"event\":\"promote\""), *q, *t;
		unsigned hi, lo = 0;
		size_t i;

		if (!p || !(q = strstr(line, "\"prefix\":\"2001:db8:")) || !(t = strstr(line, "\"time\":\"")))
			continue;
		/* 2001:db8:TAG:HILO::/64 (or 2001:db8:TAG::/64 for index 0) */
		if (sscanf(q + strlen("\"prefix\":\"2001:db8:"), "%x:%x", &hi, &lo) < 1)
			continue;
		if (hi < r->tag)
			continue;
		i = ((size_t)(hi - r->tag) << 16) | lo;
		if (i < r->n && !dec[i]) {
			dec[i] = iso_time(t + 8);
			n++;
		}
	}
	fclose(f);
	return n;
}

static int do_promote(int argc, char **argv)
{
	static struct run r;
	char *watch, *tok, *save = NULL;
	pthread_t th;
	double t_end, *dec, first = 0;
	int ret = 0;

	if (argc != 7) {
		fprintf(stderr, "usage: bench_fleet promote A_PIN A_EVENTS WATCH_PINS N BATCH EVERY_MS\n");
		return 2;
	}
	pthread_mutex_init(&r.mu, NULL);
	r.n = strtoul(argv[4], NULL, 10);
	r.batch = strtoul(argv[5], NULL, 10);
	r.every_ms = strtoul(argv[6], NULL, 10);
	srand(getpid() ^ time(NULL));
	r.tag = 0x1000 + rand() % 0xd000;
	if (fence_maps_from_pins(&r.a, argv[1])) {
		fprintf(stderr, "bench_fleet: %s: no pinned maps\n", argv[1]);
		return 1;
	}
	watch = strdup(argv[3]);
	for (tok = strtok_r(watch, ",", &save); tok && r.n_w < MAX_WATCH; tok = strtok_r(NULL, ",", &save))
		if (r.w_pin[r.n_w] = tok, fence_maps_from_pins(&r.w[r.n_w++], tok)) {
			fprintf(stderr, "bench_fleet: %s: no pinned maps\n", tok);
			return 1;
		}
	r.started = calloc(r.n, sizeof(double));
	r.logged = calloc(r.n, sizeof(*r.logged));
	dec = calloc(r.n, sizeof(double));
	if (!r.started || !r.logged || !dec) {
		fprintf(stderr, "bench_fleet: out of memory\n");
		return 1;
	}
	for (unsigned g = 0; g < r.n_w; g++)
		r.seen[g] = calloc(r.n, sizeof(double));
	pthread_create(&th, NULL, flood_main, &r);
	/* poll: every prefix begun and not yet seen, at every gateway */
	t_end = wall() + r.n * (double)r.every_ms / 1000 / (r.batch ? r.batch : 1) + 60;
	for (;;) {
		size_t pending = 0, act;
		__u8 addr[16];

		pthread_mutex_lock(&r.mu);
		act = r.activated;
		pthread_mutex_unlock(&r.mu);
		for (unsigned g = 0; g < r.n_w; g++)
			fence_maps_refresh(&r.w[g], r.w_pin[g]);	/* grown meanwhile? */
		if (r.n > 10000) {	/* a burst: counted, the time all were there */
			for (unsigned g = 0; g < r.n_w; g++) {
				if (r.seen[g][0])
					continue;
				if (enforced_count(&r, &r.w[g]) == r.n)
					r.seen[g][0] = wall();
				else
					pending++;
			}
			if (!pending)
				break;
			if (wall() > t_end) {
				fprintf(stderr, "bench_fleet: the burst never fully arrived\n");
				ret = 1;
				break;
			}
			usleep(100000);	/* a scan reads every entry: not too often */
			continue;
		}
		for (size_t i = 0; i < act; i++)
			for (unsigned g = 0; g < r.n_w; g++) {
				if (r.seen[g][i])
					continue;
				pfx_addr(&r, i, addr);
				if (enforced(&r.w[g], addr))
					r.seen[g][i] = wall();
				else
					pending++;
			}
		if (act == r.n && !pending)
			break;
		if (wall() > t_end) {
			fprintf(stderr, "bench_fleet: %zu (prefix, gateway) pairs never enforced\n", pending);
			ret = 1;
			break;
		}
		usleep(r.n > 10000 ? 20000 : 1000);
	}
	r.done = true;
	pthread_join(th, NULL);
	usleep(1500000);	/* A's event log is written after its commit */
	if (read_decisions(&r, argv[2], dec) != r.n) {
		fprintf(stderr, "bench_fleet: A logged fewer promotions than prefixes flooded\n");
		ret = 1;
	}
	for (size_t i = 0; i < r.n; i++)
		if (dec[i] && (!first || dec[i] < first))
			first = dec[i];
	if (r.n > 10000) {
		double last_dec = 0;

		for (size_t i = 0; i < r.n; i++)
			if (dec[i] > last_dec)
				last_dec = dec[i];
		printf("  A decided them within %.2f s\n", last_dec - first);
		for (unsigned g = 0; g < r.n_w; g++)
			printf("  gateway %u: first decision -> all %zu enforced: %.2f s\n", g + 1, r.n,
			       r.seen[g][0] - first);
		return ret;
	}
	for (unsigned g = 0; g < r.n_w; g++) {
		double *lat = calloc(r.n, sizeof(double)), last = 0;
		size_t k = 0;

		for (size_t i = 0; i < r.n; i++) {
			if (!dec[i] || !r.seen[g][i])
				continue;
			lat[k++] = (r.seen[g][i] - dec[i]) * 1000;
			if (r.seen[g][i] > last)
				last = r.seen[g][i];
		}
		qsort(lat, k, sizeof(double), cmp_d);
		if (k)
			printf("  gateway %u: %zu promotions, decision -> enforced: p50 %.0f ms, p99 %.0f "
			       "ms, max %.0f ms; first decision -> last enforced %.2f s\n", g + 1, k,
			       lat[k / 2], lat[k * 99 / 100 < k ? k * 99 / 100 : k - 1], lat[k - 1],
			       last - first);
		free(lat);
	}
	return ret;
}

/* --- fill ------------------------------------------------------------------ */

static volatile long acked, failed;

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	(void)pa;
	(void)closure;
	if (pae)
		__sync_fetch_and_add(&failed, 1);
	else
		__sync_fetch_and_add(&acked, 1);
	natsMsg_Destroy(msg);
}

static int do_fill(int argc, char **argv)
{
	const char *urls[8];
	int n_urls = 0;
	char *list, *tok, *save = NULL;
	natsConnection *nc = NULL;
	natsOptions *o = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	size_t n, first = 0;
	double t0, t1, now_ms;
	natsStatus s;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: bench_fleet fill SERVERS BUCKET N ORIGIN [FIRST]\n");
		return 2;
	}
	n = strtoul(argv[3], NULL, 10);
	if (argc == 6)
		first = strtoul(argv[5], NULL, 10);
	list = strdup(argv[1]);
	for (tok = strtok_r(list, ",", &save); tok && n_urls < 8; tok = strtok_r(NULL, ",", &save))
		urls[n_urls++] = tok;
	natsOptions_Create(&o);
	natsOptions_SetServers(o, urls, n_urls);
	s = natsConnection_Connect(&nc, o);
	if (s != NATS_OK) {
		fprintf(stderr, "bench_fleet: connect: %s\n", natsStatus_GetText(s));
		return 1;
	}
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = 8192;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.StallWait = 5000;
	natsConnection_JetStream(&js, nc, &jo);
	now_ms = wall() * 1000;
	t0 = wall();
	for (size_t i = first; i < first + n; i++) {
		struct fleet_value v = { .action = FENCE_ACT_DROP, .offences = 1, .ttl_s = 3600 };
		struct cidr c = { .family = AF_INET6, .len = 64 };
		char subj[160], key[FLEET_KEY_MAX], val[FLEET_VALUE_MAX];
		natsMsg *m = NULL;
		int len;

		c.addr[0] = 0x20;
		c.addr[1] = 0x01;
		c.addr[2] = 0x0d;
		c.addr[3] = 0xb8;
		c.addr[4] = 0xf0 | (i >> 24);
		c.addr[5] = i >> 16;
		c.addr[6] = i >> 8;
		c.addr[7] = i;
		v.expires_ms = now_ms + 3600 * 1000;
		v.decay_ms = v.expires_ms;
		v.decided_ms = now_ms;
		snprintf(v.origin, sizeof(v.origin), "%s", argv[4]);
		snprintf(v.reason, sizeof(v.reason), "bench fill");
		fleet_key(&c, key, sizeof(key));
		len = fleet_value_encode(&v, val, sizeof(val));
		snprintf(subj, sizeof(subj), "$KV.%s.%s", argv[2], key);
		natsMsg_Create(&m, subj, NULL, val, len);
		while ((s = js_PublishMsgAsync(js, &m, NULL)) == NATS_TIMEOUT)
			;
		if (s != NATS_OK) {
			fprintf(stderr, "bench_fleet: publish: %s\n", natsStatus_GetText(s));
			return 1;
		}
	}
	js_PublishAsyncComplete(js, &(jsPubOptions){ .MaxWait = 120000 });
	t1 = wall();
	printf("  wrote %zu keys in %.1f s (%.0f/s), %ld refused\n", n, t1 - t0, n / (t1 - t0), failed);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(o);
	return failed ? 1 : 0;
}

/* --- count ----------------------------------------------------------------- */

static __u64 fleet_owned(const struct fence_maps *m)
{
	__u64 n = 0;

	for (__u32 s = 1; s < m->n_slots; s++)
		n += m->rules[s].kind == FENCE_KIND_DENY && (m->info[s].owners & FENCE_OWN_FLEET);
	return n;
}

static int do_count(int argc, char **argv)
{
	struct fence_maps m;
	__u64 want, have = 0;
	double t0 = wall(), limit;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_fleet count PIN N TIMEOUT_S\n");
		return 2;
	}
	want = strtoull(argv[2], NULL, 10);
	limit = atof(argv[3]);
	if (fence_maps_from_pins(&m, argv[1])) {
		fprintf(stderr, "bench_fleet: %s: no pinned maps\n", argv[1]);
		return 1;
	}
	while (wall() - t0 < limit) {
		fence_maps_refresh(&m, argv[1]);	/* the tables grow as the keys come */
		have = fleet_owned(&m);
		if (have >= want) {
			printf("%.2f\n", wall() - t0);
			return 0;
		}
		usleep(20000);
	}
	fprintf(stderr, "bench_fleet: %llu of %llu entries after %.0f s\n", (unsigned long long)have,
		(unsigned long long)want, limit);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "promote"))
		return do_promote(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "fill"))
		return do_fill(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "count"))
		return do_count(argc - 1, argv + 1);
	fprintf(stderr, "usage: bench_fleet promote|fill|count ... (see tests/bench/bench_fleet.c)\n");
	return 2;
}
