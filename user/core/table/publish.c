// SPDX-License-Identifier: GPL-2.0
/* user/core/table/publish.c - the commit: plan, begin, build (image.c),
 * publish, free; and what writes the lookup maps' keys.
 *
 * Owns table_commit and the order in which a commit writes the maps,
 * stated once, above commit_publish; the early keys; the key writers (batch
 * syscalls, the key loader, two threads for big batches); rule slot
 * allocation. Must not write the maps outside that order, nor before
 * commit_plan has checked that everything fits.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <bpf/bpf.h>

#include "core/table/internal.h"
#include "core/table/v6.h"
#include "core/keyload.h"
#include "lib/util.h"

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* --- key writers -------------------------------------------------------- */

/* Map-wide batch update in as few syscalls as the kernel allows. vsz is
 * the size of one element's value as the syscall wants it (per-CPU maps:
 * one 8-byte-aligned slot per possible CPU). */
static int batch_update_one(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
			    __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	__u32 done = 0;

	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_update_batch(fd, (const char *)keys + done * ksz,
					 (const char *)vals + done * vsz, &cnt, &o))
			return -errno;
		done += cnt;
	}
	return 0;
}

static int batch_delete(int fd, void *keys, size_t ksz, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 done = 0;

	while (done < n) {
		__u32 cnt = n - done;

		if (bpf_map_delete_batch(fd, (char *)keys + done * ksz, &cnt, &o)) {
			if (errno != ENOENT)
				return -errno;
			/* an entry already gone: skip it and go on */
			cnt++;
		}
		done += cnt;
	}
	return 0;
}

/* Bulk deny_v4/allow_v4 keys go through the key loader (bpf/keyload.bpf.c:
 * less kernel work per key than the batch syscalls) when this kernel runs
 * it and there are enough of them to pay for it. Loading it (the verifier)
 * costs about what the batch syscalls spend on KEYLOAD_MIN_OPEN keys, so
 * it is loaded only for that many; once loaded (for as long as t is open:
 * `xdpfence run` opens t afresh for each commit) it pays from KEYLOAD_MIN.
 * Called first on the thread that owns t: threads it starts then find it
 * ready. */
#define KEYLOAD_MIN_OPEN	65536
#define KEYLOAD_MIN		4096

static struct keyload *keyloader(struct table *t, size_t n)
{
	if (n < (t->kl ? KEYLOAD_MIN : KEYLOAD_MIN_OPEN))
		return NULL;
	if (!t->kl_tried) {
		t->kl = keyload_open(t->m);
		t->kl_tried = true;
	}
	return t->kl;
}

/* A bulk put (vals != NULL) or delete of n keys of one map: by the key
 * loader when kl is set (deny_v4/allow_v4, map = FENCE_KEYLOAD_*), else by
 * the batch syscalls. */
struct bulk {
	struct keyload *kl;
	int map, fd;
	const void *keys, *vals;
	size_t ksz, vsz;
	__u32 n;
	int ret;
};

static void *bulk_run(void *arg)
{
	struct bulk *b = arg;

	if (b->kl)
		b->ret = keyload_run(b->kl, b->map, b->keys, b->vals, b->n);
	else if (b->vals)
		b->ret = batch_update_one(b->fd, b->keys, b->ksz, b->vals, b->vsz, b->n);
	else
		b->ret = batch_delete(b->fd, (void *)b->keys, b->ksz, b->n);
	return NULL;
}

/* fn(a) here and fn(b) on a second thread when split is true; both here,
 * one after the other, when it is not or no thread can be had. */
static void run_halves(void *(*fn)(void *), void *a, void *b, bool split)
{
	pthread_t th;

	if (split && !pthread_create(&th, NULL, fn, b)) {
		fn(a);
		pthread_join(th, NULL);
		return;
	}
	fn(a);
	fn(b);
}

/* Big batches go half to a second thread: a hash insert is dear in the
 * kernel (bucket lock, allocation) and the buckets lock independently, so
 * a second CPU takes half of the work. */
static int bulk_split(struct bulk a)
{
	struct bulk b = a;

	if (a.n < 65536) {
		bulk_run(&a);
		return a.ret;
	}
	a.n /= 2;
	b.keys = (const char *)a.keys + (size_t)a.n * a.ksz;
	b.vals = a.vals ? (const char *)a.vals + (size_t)a.n * a.vsz : NULL;
	b.n -= a.n;
	run_halves(bulk_run, &a, &b, true);
	return a.ret ? a.ret : b.ret;
}

static int batch_update(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, __u32 n)
{
	return bulk_split((struct bulk){ .fd = fd, .keys = keys, .vals = vals, .ksz = ksz,
					 .vsz = vsz, .n = n });
}

/* Put (v != NULL) or delete n keys of deny_v4 or allow_v4 (FENCE_KEYLOAD_*). */
static int v4_keys(struct table *t, int map, const struct fence_v4_key *k,
		   const struct fence_slot *v, __u32 n)
{
	bool deny = map == FENCE_KEYLOAD_DENY_V4;
	int ret;

	if (!n)
		return 0;	/* t may be NULL then (early keys never started) */
	if (deny && !v && (ret = tbl_host_keys(t, k, NULL, n, false)))
		return ret;	/* host_v4's cells go before their keys */
	ret = bulk_split((struct bulk){
		.kl = keyloader(t, n), .map = map,
		.fd = t->m->fd[deny ? FM_DENY_V4 : FM_ALLOW_V4],
		.keys = k, .vals = v, .ksz = sizeof(*k), .vsz = sizeof(*v), .n = n });
	if (deny && v && !ret)	/* and come after them */
		tbl_host_keys(t, k, v, n, true);
	return ret;
}

/* --- plan and begin ----------------------------------------------------- */

/* Pick n free slots; waits out the quarantine of recently freed ones when
 * only they are left. Slots in the current stage's deletions are not free
 * yet (they are released after this commit). */
static int alloc_slots(struct table *t, __u32 n, __u32 *out, char *err, size_t errlen)
{
	struct fence_maps *m = t->m;
	__u32 got = 0, waiting = 0;
	__u64 now = fence_now_ns(), wake = 0;

	if (!n)
		return 0;
	if (tbl_store_valid(t)) {	/* the store's rings: no scan */
		int ret = tbl_store_pick_slots(t, n, out, now, &wake);

		if (!ret)
			return 0;
		if (!wake || tbl_store_free_slots(t) < n) {
			tbl_seterr(err, errlen, "no room: %u entries requested, %u rule slots free "
			           "of %u (raise the capacity at first attach)", n,
			           tbl_store_free_slots(t), m->n_slots - 1);
			return -ENOSPC;
		}
		now = fence_now_ns();
		if (wake > now) {
			struct timespec ts = { (wake - now) / 1000000000ULL,
					       (wake - now) % 1000000000ULL };

			nanosleep(&ts, NULL);
		}
		return alloc_slots(t, n, out, err, errlen);
	}
	for (__u32 s = 1; s < m->n_slots && got < n; s++) {
		if (m->rules[s].kind != FENCE_KIND_FREE)
			continue;
		if (tbl_quarantined(m->info[s].freed_ns, now)) {
			waiting++;
			if (!wake || m->info[s].freed_ns + FENCE_QUARANTINE_NS > wake)
				wake = m->info[s].freed_ns + FENCE_QUARANTINE_NS;
			continue;
		}
		out[got++] = s;
	}
	if (got == n)
		return 0;
	if (got + waiting < n) {
		tbl_seterr(err, errlen, "no room: %u entries requested, %u rule slots free of "
		           "%u (raise the capacity at first attach)", n, got + waiting,
		           m->n_slots - 1);
		return -ENOSPC;
	}
	now = fence_now_ns();
	if (wake > now) {
		struct timespec ts = { (wake - now) / 1000000000ULL, (wake - now) % 1000000000ULL };

		nanosleep(&ts, NULL);
	}
	return alloc_slots(t, n, out, err, errlen);
}

/* Plan: classify the ops (new, deleted, changed), give the new ones free
 * slots and check that every map will have room. Writes nothing. */
static int commit_plan(struct commit *c)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	__u32 cnt[2][3] = {};		/* [v6][kind] */
	__u32 i, k, slot;
	int ret;

	tbl_store_index(t);	/* publish keeps the store's index in line */
	tbl_store_pick_reset(t);
	if (!c->small) {	/* the full build skips them in its walk of every slot */
		c->dead = big_calloc(m->n_slots, 1);
		if (!c->dead)
			return -ENOMEM;
	}
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del && o->slot) {
			c->n_del++;
			if (c->dead)
				c->dead[o->slot] = 1;
		}
		if (!o->del && !o->slot)
			c->n_new++;
	}
	c->new_slots = calloc(c->n_new + 1, sizeof(__u32));
	if (!c->new_slots)
		return -ENOMEM;
	ret = alloc_slots(t, c->n_new, c->new_slots, c->err, c->errlen);
	if (ret)
		return ret;
	/* hit counters: a slot that was never used still has the zeros the
	 * map was created with; one used before is reset (commit_publish) */
	c->reused = malloc((c->n_new + 1) * sizeof(__u32));
	if (!c->reused)
		return -ENOMEM;
	for (i = 0; i < c->n_new; i++)
		if (fence_info_at(m, c->new_slots[i])->freed_ns)
			c->reused[c->n_reused++] = c->new_slots[i];

	/* Count what every map will hold (capacity): committed entries that
	 * stay (the store's counts, or the data path's records), plus new
	 * ones. */
	if (tbl_store_valid(t)) {
		const struct fence_store *h = t->st.hdr;

		for (int f = 0; f < 2; f++)
			for (int kd = 1; kd < 3; kd++)
				cnt[f][kd] = h->live[f][kd];
		for (size_t n = 0; n < t->n_ops; n++) {
			const struct op *o = &t->ops[n];

			if (o->del && o->slot)
				cnt[fence_rule_at(m, o->slot)->family == 6]
				   [fence_rule_at(m, o->slot)->kind == FENCE_KIND_DENY ? 2 : 1]--;
		}
	} else {
		for (slot = 1; slot < m->n_slots; slot++) {
			const struct fence_rule *r = &m->rules[slot];

			if (r->kind != FENCE_KIND_FREE && !c->dead[slot])
				cnt[r->family == 6][r->kind == FENCE_KIND_DENY ? 2 : 1]++;
		}
	}
	k = 0;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del || o->slot)
			continue;
		o->slot = c->new_slots[k++];
		o->fresh = 1;
		cnt[o->family == 6][o->kind == FENCE_KIND_DENY ? 2 : 1]++;
	}
	c->n_v4_deny = cnt[0][2], c->n_v4_allow = cnt[0][1];
	c->n_v6_deny = cnt[1][2], c->n_v6_allow = cnt[1][1];
	c->s.slots_used = c->n_v4_deny + c->n_v4_allow + c->n_v6_deny + c->n_v6_allow;
	if (c->n_v4_deny > m->max_entries[FM_DENY_V4] ||
	    c->n_v4_allow > m->max_entries[FM_ALLOW_V4] ||
	    c->n_v6_deny > m->max_entries[FM_DENY_V6] ||
	    c->n_v6_allow > m->max_entries[FM_ALLOW_V6]) {
		tbl_seterr(c->err, c->errlen, "no room: %u/%u IPv4 deny, %u/%u IPv4 allow, "
		           "%u/%u IPv6 deny, %u/%u IPv6 allow entries",
		           c->n_v4_deny, m->max_entries[FM_DENY_V4], c->n_v4_allow,
		           m->max_entries[FM_ALLOW_V4], c->n_v6_deny, m->max_entries[FM_DENY_V6],
		           c->n_v6_allow, m->max_entries[FM_ALLOW_V6]);
		return -ENOSPC;
	}
	return 0;
}

static void *early_thread(void *arg)
{
	struct early *e = arg;

	e->ret = v4_keys(e->t, FENCE_KEYLOAD_DENY_V4, e->k, e->v, e->n);
	if (!e->ret)
		e->ret = v4_keys(e->t, FENCE_KEYLOAD_ALLOW_V4, e->ka, e->va, e->na);
	return NULL;
}

static int early_start(struct table *t, struct early *e)
{
	const struct fence_maps *m = t->m;
	size_t n_max = 0;

	e->t = t;
	for (size_t n = 0; n < t->n_ops; n++)
		n_max += t->ops[n].fresh && t->ops[n].family == 4;
	if (!n_max)
		return 0;
	e->k = malloc(n_max * sizeof(*e->k));
	e->v = malloc(n_max * sizeof(*e->v));
	e->ka = malloc(n_max * sizeof(*e->ka));
	e->va = malloc(n_max * sizeof(*e->va));
	if (!e->k || !e->v || !e->ka || !e->va)
		return -ENOMEM;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];
		bool allow = o->kind == FENCE_KIND_ALLOW;
		struct fence_v4_key *kk;

		if (!o->fresh || o->family != 4 || !tbl_v4_keyed(o->kind, o->len))
			continue;
		if (!allow && (*fence_leaf_at(m, tbl_v4_host(o->addr) >> 8) & FENCE_LEAF_HOST))
			continue;
		kk = allow ? &e->ka[e->na] : &e->k[e->n];
		kk->prefixlen = o->len;
		memcpy(&kk->addr, o->addr, 4);
		(allow ? &e->va[e->na++] : &e->v[e->n++])->slot = o->slot;
		o->early = 1;
	}
	keyloader(t, e->n);	/* here, not on the thread */
	keyloader(t, e->na);
	if (e->n + e->na < 4096) {	/* not worth a thread */
		early_thread(e);
		return e->ret;
	}
	e->started = !pthread_create(&e->th, NULL, early_thread, e);
	return e->started ? 0 : (early_thread(e), e->ret);
}

/* Wait for the early keys; 0 once they are all in. */
static int early_join(struct early *e)
{
	if (e->started) {
		pthread_join(e->th, NULL);
		e->started = false;
	}
	return e->ret;
}

/* The commit failed: the early keys go again. Not 0: some may be left. */
static int early_undo(struct early *e)
{
	int ret;

	early_join(e);
	ret = v4_keys(e->t, FENCE_KEYLOAD_DENY_V4, e->k, NULL, e->n);
	if (!ret)
		ret = v4_keys(e->t, FENCE_KEYLOAD_ALLOW_V4, e->ka, NULL, e->na);
	e->n = e->na = 0;
	return ret;
}

static void early_free(struct early *e)
{
	early_join(e);
	free(e->k);
	free(e->v);
	free(e->ka);
	free(e->va);
}

/* Begin: from here on the maps change. The mark tells a successor if this
 * process dies before the end; the early keys start going in. */
static int commit_begin(struct commit *c)
{
	int ret;

	ret = tbl_mark_writing(c->t, 1, false);
	if (ret) {
		tbl_seterr(c->err, c->errlen, "marking the tables as being written: %s",
		           strerror(-ret));
		return ret;
	}
	ret = early_start(c->t, &c->ek);
	if (ret)
		tbl_seterr(c->err, c->errlen, "updating lookup maps: %s", strerror(-ret));
	return ret;
}

/* --- publish ------------------------------------------------------------ */

#define FRESH_SPLIT_MIN	65536	/* new entries: indexed on a thread of their own */

/* The store's bookkeeping of the commit's new entries: the index, the
 * live counts. */
static void *fresh_index(void *arg)
{
	struct commit *c = arg;
	struct table *t = c->t;

	for (size_t n = 0; (t->idx.e || t->idx_store) && n < t->n_ops; n++)
		if (!t->ops[n].del && t->ops[n].fresh)
			tbl_idx_insert(t, t->ops[n].slot);
	for (size_t n = 0; tbl_store_valid(t) && n < t->n_ops; n++) {
		const struct op *o = &t->ops[n];

		if (!o->del && o->fresh)
			t->st.hdr->live[o->family == 6][o->kind]++;
	}
	return NULL;
}

/* The new /32 denies in the counts per /24, after the removals took
 * theirs out: a /24 at 254 that loses one and gains one stays at 254 (the
 * other way round it would reach 255, "that many or more", which stays
 * until a rebuild and sends every later commit that removes one of its
 * /32s through all 256 of them). */
static void fresh_hosts(struct commit *c)
{
	struct table *t = c->t;

	for (size_t n = 0; tbl_store_valid(t) && n < t->n_ops; n++) {
		const struct op *o = &t->ops[n];

		if (!o->del && o->fresh && o->family == 4 && o->len == 32 &&
		    o->kind == FENCE_KIND_DENY)
			tbl_store_hosts_add(t, tbl_v4_host(o->addr) >> 8, 1);
	}
}

/* Can fresh_index run beside the switch? Only on maps mapped whole: a
 * lazymap maps its windows on first use, which one thread may do. */
static bool fresh_mapped(struct commit *c)
{
	struct table *t = c->t;

	return c->m->full && (!tbl_store_valid(t) || tbl_store_map_whole(t));
}

static void store32(__u32 *p, __u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void store64(__u64 *p, __u64 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Existing slot: change the fields the data path reads that differ, each
 * atomically, in the order of step 4 of commit_publish; true if any did. */
bool tbl_rule_update(struct fence_rule *cur, const struct fence_rule *r)
{
	bool changed = cur->rate != r->rate || cur->burst != r->burst ||
		       cur->expires_ns != r->expires_ns || cur->stat != r->stat ||
		       cur->action != r->action;

	if (cur->rate != r->rate)
		store32(&cur->rate, r->rate);
	if (cur->burst != r->burst)
		store32(&cur->burst, r->burst);
	if (cur->expires_ns != r->expires_ns)
		store64(&cur->expires_ns, r->expires_ns);
	if (cur->stat != r->stat)
		__atomic_store_n(&cur->stat, r->stat, __ATOMIC_RELEASE);
	if (cur->action != r->action)
		__atomic_store_n(&cur->action, r->action, __ATOMIC_RELEASE);
	return changed;
}

/* Write the records of the new slots among ops [from, to), kinds FREE
 * (the caller publishes them). A big commit (a first load) writes very many
 * of them on two threads: the first touch of each map page faults, and two
 * CPUs take the faults side by side. */
struct slot_job {
	struct table *t;
	size_t from, to;
	__u64 created;
};

static void *slots_write(void *arg)
{
	struct slot_job *j = arg;
	struct fence_maps *m = j->t->m;

	for (size_t n = j->from; n < j->to; n++) {
		const struct op *o = &j->t->ops[n];
		struct fence_rule_info in;
		struct fence_rule r;

		if (o->del || !o->fresh)
			continue;
		tbl_op_info(j->t, o, &in);
		table_rule_from_info(&in, o->kind, &r);
		r.parent = o->kind == FENCE_KIND_DENY ? tbl_parent_of(j->t, o->slot) : 0;
		if (!in.created_unix)
			in.created_unix = j->created;
		*fence_info_at(m, o->slot) = in;
		r.kind = FENCE_KIND_FREE;
		*fence_rule_at(m, o->slot) = r;
	}
	return NULL;
}

/* Keys and values for the batch writes of steps 3 and 6 (deny and allow,
 * IPv4 and IPv6). */
struct keys {
	struct fence_v4_key *k4, *k4a;
	struct fence_v6_key *k6, *k6a;
	struct fence_slot *vs, *vsa, *v6s, *v6sa;
	__u32 n4, n4a, n6, n6a;
};

static int keys_alloc(struct keys *k, __u32 n_keys)
{
	k->k4 = calloc(n_keys, sizeof(*k->k4));
	k->k4a = calloc(n_keys, sizeof(*k->k4a));
	k->k6 = calloc(n_keys, sizeof(*k->k6));
	k->k6a = calloc(n_keys, sizeof(*k->k6a));
	k->vs = calloc(n_keys, sizeof(*k->vs));
	k->vsa = calloc(n_keys, sizeof(*k->vsa));
	k->v6s = calloc(n_keys, sizeof(*k->v6s));
	k->v6sa = calloc(n_keys, sizeof(*k->v6sa));
	if (!k->k4 || !k->k4a || !k->k6 || !k->k6a || !k->vs || !k->vsa || !k->v6s || !k->v6sa)
		return -ENOMEM;
	return 0;
}

static void keys_free(struct keys *k)
{
	free(k->k4);
	free(k->k4a);
	free(k->k6);
	free(k->k6a);
	free(k->vs);
	free(k->vsa);
	free(k->v6s);
	free(k->v6sa);
}

/* 1. New slots; the keys of step 3 are gathered on the way. */
static int publish_slots(struct commit *c, struct keys *k)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	struct slot_job job = { t, 0, t->n_ops / 2, (__u64)time(NULL) };
	struct slot_job job2 = { t, t->n_ops / 2, t->n_ops, job.created };

	run_halves(slots_write, &job, &job2, c->n_new >= 65536);
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del || !o->fresh || o->early)
			continue;
		if (o->family == 4 && !tbl_v4_keyed(o->kind, o->len))
			continue;
		if (o->family == 4) {
			bool d = o->kind == FENCE_KIND_DENY;
			struct fence_v4_key *kk = d ? &k->k4[k->n4] : &k->k4a[k->n4a];
			struct fence_slot *vv = d ? &k->vs[k->n4++] : &k->vsa[k->n4a++];

			kk->prefixlen = o->len;
			memcpy(&kk->addr, o->addr, 4);
			vv->slot = o->slot;
		} else {
			bool d = o->kind == FENCE_KIND_DENY;
			struct fence_v6_key *kk = d ? &k->k6[k->n6] : &k->k6a[k->n6a];
			struct fence_slot *vv = d ? &k->v6s[k->n6++] : &k->v6sa[k->n6a++];

			kk->prefixlen = o->len;
			memcpy(kk->addr, o->addr, 16);
			vv->slot = o->slot;
		}
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (size_t n = 0; n < t->n_ops; n++)
		if (!t->ops[n].del && t->ops[n].fresh)
			__atomic_store_n(&fence_rule_at(m, t->ops[n].slot)->kind, t->ops[n].kind,
					 __ATOMIC_RELEASE);
	/* reused slots count from zero, on every CPU: stores where the
	 * counters lie (a window mapped per page reached) */
	for (__u32 i = 0; i < c->n_reused; i++)
		for (int cpu = 0; cpu < m->ncpus; cpu++) {
			struct fence_entry_counters *e = fence_hits_at(m, cpu, c->reused[i]);

			if (!e)
				return -ENOMEM;
			__atomic_store_n(&e->packets, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&e->bytes, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&e->new_conns, 0, __ATOMIC_RELAXED);
		}
	return 0;
}

struct group_job {
	struct commit *c;
	size_t from, to, writes;
};

/* Fresh groups ext[from, to): no leaf names them yet, so plain copies (a
 * fence follows before any leaf does). */
static void *groups_write(void *arg)
{
	struct group_job *j = arg;
	struct fence_maps *m = j->c->m;
	const struct sweep *w = &j->c->w;

	for (size_t n = j->from; n < j->to; n++) {
		const struct ext *xe = &w->ext[n];
		__u32 *grp;

		if (!xe->fresh)
			continue;
		grp = fence_group_at(m, xe->ph);
		if (!w->direct)	/* else built there */
			memcpy(grp, &w->g[(size_t)xe->lg * FENCE_TBL8_GROUP],
			       FENCE_TBL8_GROUP * sizeof(*grp));
		fence_gstate_at(m, xe->ph)->freed_ns = 0;
		j->writes += FENCE_TBL8_GROUP;
	}
	return NULL;
}

/* 2. Fresh groups, whole: on two threads when there are many and the
 * tables are mapped whole (a window mapped on first use is one thread's). */
static void publish_groups(struct commit *c)
{
	const struct sweep *w = &c->w;
	struct group_job a = { c, 0, w->n_ext / 2, 0 }, b = { c, w->n_ext / 2, w->n_ext, 0 };

	run_halves(groups_write, &a, &b, w->n_ext >= 16384 && c->m->tbl8);
	c->s.tbl8_writes += a.writes + b.writes;
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* 3. The new entries' keys, after the early ones. */
static int publish_keys(struct commit *c, const struct keys *k)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	int ret;

	ret = early_join(&c->ek);
	if (!ret)
		ret = v4_keys(t, FENCE_KEYLOAD_DENY_V4, k->k4, k->vs, k->n4);
	if (!ret)
		ret = v4_keys(t, FENCE_KEYLOAD_ALLOW_V4, k->k4a, k->vsa, k->n4a);
	if (!ret)
		ret = batch_update(m->fd[FM_DENY_V6], k->k6, sizeof(*k->k6), k->v6s,
				   sizeof(*k->v6s), k->n6);
	if (!ret)
		ret = batch_update(m->fd[FM_ALLOW_V6], k->k6a, sizeof(*k->k6a), k->v6sa,
				   sizeof(*k->v6sa), k->n6a);
	if (!ret && c->v6p)
		v6_put(c->v6p);
	return ret;
}

/* Steps 1 to 3 failed: their keys go and their slots are freed again. */
static void publish_undo(struct commit *c, const struct keys *k, int ret)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;

	c->undone = !early_undo(&c->ek);
	v4_keys(t, FENCE_KEYLOAD_DENY_V4, k->k4, NULL, k->n4);
	v4_keys(t, FENCE_KEYLOAD_ALLOW_V4, k->k4a, NULL, k->n4a);
	batch_delete(m->fd[FM_DENY_V6], k->k6, sizeof(*k->k6), k->n6);
	batch_delete(m->fd[FM_ALLOW_V6], k->k6a, sizeof(*k->k6a), k->n6a);
	if (c->v6p)
		v6_undo(c->v6p);
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (!o->del && o->fresh) {
			fence_info_at(m, o->slot)->freed_ns = fence_now_ns();
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			__atomic_store_n(&fence_rule_at(m, o->slot)->kind, FENCE_KIND_FREE,
					 __ATOMIC_RELEASE);
		}
	}
	tbl_seterr(c->err, c->errlen, "updating lookup maps: %s", strerror(-ret));
}

/* 4. Entries that stay: changed fields, then parents. */
static void publish_updates(struct commit *c)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;

	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];
		struct fence_rule_info in;
		struct fence_rule r;

		if (o->del || o->fresh)
			continue;
		tbl_op_info(t, o, &in);
		table_rule_from_info(&in, o->kind, &r);
		*fence_info_at(m, o->slot) = in;
		tbl_rule_update(fence_rule_at(m, o->slot), &r);
		c->s.updated++;
	}
	for (size_t n = 0; n < c->w.n_par; n++) {
		__u32 slot = c->w.par[n];

		struct fence_rule *r = fence_rule_at(m, slot);

		if (r->parent != tbl_parent_of(t, slot)) {
			store32(&r->parent, tbl_parent_of(t, slot));
			c->s.parent_writes++;
		}
	}
}

/* 5. The switch. */
static void publish_switch(struct commit *c)
{
	struct fence_maps *m = c->m;
	const struct sweep *w = &c->w;

	for (size_t n = 0; n < w->n_ext; n++) {
		const struct ext *xe = &w->ext[n];
		const __u32 *want = &w->g[(size_t)xe->lg * FENCE_TBL8_GROUP];
		__u32 *have = fence_group_at(m, xe->ph);

		if (xe->fresh)
			continue;
		for (int j = 0; j < FENCE_TBL8_GROUP; j++) {
			if (have[j] != want[j]) {
				store32(&have[j], want[j]);
				c->s.tbl8_writes++;
			}
		}
	}
	for (size_t n = 0; n < w->n_runs; n++) {
		for (__u32 i = 0; i < w->runs[n].n; i++)
			store32(fence_leaf_at(m, w->runs[n].x + i), w->runs[n].v);
		c->s.tbl24_writes += w->runs[n].n;
	}
	for (size_t n = 0; n < w->n_ext; n++) {
		const struct ext *xe = &w->ext[n];
		__u32 v = FENCE_LEAF_EXT | xe->ph | xe->host;

		if (*fence_leaf_at(m, xe->x) != v) {
			store32(fence_leaf_at(m, xe->x), v);
			c->s.tbl24_writes++;
		}
	}
	if (c->v6p)
		v6_switch(c->v6p);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* 6. Removed entries and the groups no leaf names any more. */
static void publish_removals(struct commit *c, struct keys *k)
{
	struct table *t = c->t;
	struct fence_maps *m = c->m;
	__u64 now;

	k->n4 = k->n4a = k->n6 = k->n6a = 0;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];
		const struct fence_rule_info *in;
		bool d = o->kind == FENCE_KIND_DENY;

		if (!o->del || !o->slot)
			continue;
		in = fence_info_at(m, o->slot);
		/* a shorter deny has no key in this layout, but an older
		 * controller running beside this one may have put one: its
		 * delete finds that or nothing (which is no error) */
		if (in->family == 4) {
			struct fence_v4_key *kk = d ? &k->k4[k->n4++] : &k->k4a[k->n4a++];

			kk->prefixlen = in->prefixlen;
			memcpy(&kk->addr, in->addr, 4);
		} else {
			struct fence_v6_key *kk = d ? &k->k6[k->n6++] : &k->k6a[k->n6a++];

			kk->prefixlen = in->prefixlen;
			memcpy(kk->addr, in->addr, 16);
		}
	}
	v4_keys(t, FENCE_KEYLOAD_DENY_V4, k->k4, NULL, k->n4);
	v4_keys(t, FENCE_KEYLOAD_ALLOW_V4, k->k4a, NULL, k->n4a);
	batch_delete(m->fd[FM_DENY_V6], k->k6, sizeof(*k->k6), k->n6);
	batch_delete(m->fd[FM_ALLOW_V6], k->k6a, sizeof(*k->k6a), k->n6a);
	if (c->v6p)
		v6_remove(c->v6p);
	now = fence_now_ns();
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (!o->del || !o->slot)
			continue;
		if (t->idx.e || t->idx_store)
			tbl_idx_remove(t, o->slot);
		if (tbl_store_valid(t)) {
			const struct fence_rule_info *in = fence_info_at(m, o->slot);

			t->st.hdr->live[fence_rule_at(m, o->slot)->family == 6]
				       [fence_rule_at(m, o->slot)->kind]--;
			if (in->family == 4 && in->prefixlen == 32 && o->kind == FENCE_KIND_DENY)
				tbl_store_hosts_add(t, tbl_v4_host(in->addr) >> 8, -1);
		}
		if (fence_rule_at(m, o->slot)->action == FENCE_ACT_THROTTLE)
			bpf_map_delete_elem(m->fd[FM_THROTTLE], &o->slot);
		fence_info_at(m, o->slot)->owners = 0;
		fence_info_at(m, o->slot)->freed_ns = now;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&fence_rule_at(m, o->slot)->kind, FENCE_KIND_FREE, __ATOMIC_RELEASE);
		if (tbl_store_valid(t))
			tbl_store_free_slot(t, o->slot);
		c->s.removed++;
	}
	for (size_t n = 0; n < c->w.n_freed; n++) {
		fence_gstate_at(m, c->w.freed[n])->freed_ns = now;
		if (tbl_store_valid(t))
			tbl_store_free_group(t, c->w.freed[n]);
	}
}

/* Publish: write what plan and build made ready, in an order that never
 * shows the data path a half-written state. This comment is where that
 * order is stated; the steps' functions carry its numbers.
 *
 * Before: commit_begin sets fence_meta.writing, so that a writer that dies
 * half way leaves its successor a repair (recover, then a full repaint),
 * and puts in the early keys, those no packet can reach before the switch
 * (5). The data path probes deny_v4 for /32s only, and only under a /24
 * leaf with the HOST flag; allow_v4 it never probes. So every allow key and
 * every /32 whose /24 has no HOST flag yet goes in before its slot is
 * written. A /32 under a HOST leaf waits for its slot (3): there a key
 * naming a slot not yet published would hide the deny covering it.
 *
 * 1. New slots, complete before anything names them: record and rule (kind
 *    FREE, parent already computed), then one fence, then the kinds. Then
 *    the hit counters of reused slots go back to zero.
 * 2. Fresh tbl8 groups, whole, and unstamped: no leaf names them yet.
 * 3. The exact-prefix hashes and IPv6 tries learn the new entries (those
 *    not in early), once the early keys are in; tbl6 its new keys (v6.c),
 *    live from here on. If 1-3 fail, undo: nothing that was
 *    there before has changed yet. The keys go, and the new slots go back
 *    to FREE, freed_ns first: a slot that shows FREE with freed_ns 0 is one
 *    never used (no hits to reset).
 * 4. Entries that stay: record, then each changed field of the rule
 *    atomically, in an order where every intermediate state is a policy
 *    someone asked for (rate, burst, expiry, stat, action: tbl_rule_update);
 *    then parents (a new or removed deny in between changes them).
 * 5. The switch: changed leaves of tbl8 groups that stay, then tbl24 (plain
 *    leaves, then those that name a group), then tbl6's changed slots and
 *    lengths, then a fence.
 * 6. Removed entries: out of the hashes, tries and tbl6, throttle buckets gone,
 *    no owners, then freed: freed_ns before FREE (as in the undo), each
 *    behind a fence. Groups no leaf names any more are stamped freed. Freed
 *    slots and groups are quarantined (FENCE_QUARANTINE_NS) before reuse: a
 *    reader may still hold an old leaf.
 * After: the mark is cleared (a repair also records this build's layout);
 * if it stays, the next commit repairs, which is harmless. A commit that
 * fails before 4 applies nothing: its early keys go again, and the mark
 * with them unless a repair is due or a key may be left over. */
static int commit_publish(struct commit *c)
{
	struct keys k = {};
	pthread_t th;
	bool split;
	int ret;

	ret = keys_alloc(&k, c->n_new + c->n_del + 1);
	if (ret)
		goto out;
	ret = publish_slots(c, &k);
	if (!ret)
		publish_groups(c);
	if (!ret)
		ret = publish_keys(c, &k);
	if (ret) {
		publish_undo(c, &k, ret);
		goto out;
	}
	/* the new entries' bookkeeping beside steps 4 and 5 when there are
	 * many; before the removals, which shift the same index (either order
	 * leaves the same index); their /32 counts after them */
	split = c->n_new >= FRESH_SPLIT_MIN && fresh_mapped(c);
	if (split && pthread_create(&th, NULL, fresh_index, c))
		split = false;
	publish_updates(c);
	publish_switch(c);
	if (split)
		pthread_join(th, NULL);
	publish_removals(c, &k);
	if (!split)
		fresh_index(c);
	fresh_hosts(c);
	if (tbl_store_valid(c->t)) {
		tbl_store_take(c->t);
		for (__u32 g = c->w.gap_lo; g < c->w.gap_hi; g++)
			tbl_store_free_group(c->t, g);	/* never used: no quarantine */
	}
	c->s.added = c->n_new;
out:
	keys_free(&k);
	if (!ret) {
		tbl_mark_writing(c->t, 0, c->repairing);
		c->t->repaint = false;
	}
	return ret;
}

/* --- the commit --------------------------------------------------------- */

/* A small build gave up: what the full build needs that plan left out for
 * it, and a clean slate for the sweep. */
static int commit_to_full(struct commit *c)
{
	struct table *t = c->t;
	int ret = fence_maps_full(c->m);

	if (ret)
		return ret;
	c->small = false;
	tbl_sparent_free(t);
	commit_build_free(c);
	memset(&c->w, 0, sizeof(c->w));
	c->dead = big_calloc(c->m->n_slots, 1);
	if (!c->dead)
		return -ENOMEM;
	for (size_t n = 0; n < t->n_ops; n++)
		if (t->ops[n].del && t->ops[n].slot)
			c->dead[t->ops[n].slot] = 1;
	return 0;
}

/* The commit failed: nothing is applied. */
static void commit_unwind(struct commit *c)
{
	if (early_undo(&c->ek))
		c->undone = false;
	if (!c->repairing && c->undone)
		tbl_mark_writing(c->t, 0, false);
}

static void commit_free(struct commit *c)
{
	tbl_sparent_free(c->t);
	early_free(&c->ek);
	free(c->dead);
	commit_build_free(c);
	free(c->new_slots);
	free(c->reused);
}

int table_commit(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	struct commit c = { .t = t, .m = t->m, .err = err, .errlen = errlen, .undone = true };
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &c.t0);
	c.full = c.repairing = t->repaint || table_interrupted(t) || table_outdated(t);
	if (!t->n_ops && !c.full)
		goto done;
	/* a few changes on a table whose bookkeeping is in order: built from
	 * the live table, touching what they change (small.c); else the
	 * full build, which walks the maps whole */
	c.small = !c.full && tbl_store_valid(t) && tbl_small_ok(t);
	if (!c.small)
		ret = fence_maps_full(c.m);
	if (!ret && c.full) {
		/* keys and slots may disagree until recovered */
		ret = tbl_host_reset(t);
		if (ret)
			tbl_seterr(err, errlen, "wiping host_v4: %s", strerror(-ret));
		else
			ret = tbl_recover(t, &c.s, err, errlen);
	}
	if (!ret)
		ret = commit_plan(&c);
	if (!ret && (ret = tbl_host_fill(t)))	/* a fresh or wiped host_v4: before the keys change */
		tbl_seterr(err, errlen, "filling host_v4: %s", strerror(-ret));
	if (!ret)
		ret = commit_begin(&c);
	if (!ret && c.small) {
		ret = commit_build_small(&c);
		if (ret == -EAGAIN)	/* an allow in the way: the full build */
			ret = commit_to_full(&c);
		else
			goto built;
	}
	if (!ret)
		ret = commit_build(&c);
built:
	c.s.small = c.small;
	c.s.direct = c.w.direct;
	if (!ret) {
		c.s.build_ms = ms_since(&c.t0);
		clock_gettime(CLOCK_MONOTONIC, &c.t0);
		ret = commit_publish(&c);
		c.s.write_ms = ms_since(&c.t0);
	}
	if (ret)
		commit_unwind(&c);
	else if (c.full && table_store_stale(t))
		ret = tbl_store_rebuild(t);	/* a repair (or first) full repaint: from scratch */
	commit_free(&c);
	if (ret == -EXFULL && t->keep_crowded) {
		/* the caller grows tbl6 and commits again: the ops as staged */
		for (size_t n = 0; n < t->n_ops; n++) {
			t->ops[n].early = 0;
			if (t->ops[n].fresh) {
				t->ops[n].slot = 0;
				t->ops[n].fresh = 0;
			}
		}
		goto out;
	}
	if (ret == -EXFULL)
		ret = -ENOSPC;
done:
	table_abort(t);
out:
	if (st)
		*st = c.s;
	return ret;
}

int table_commit_or_crowded(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	int ret;

	t->keep_crowded = true;
	ret = table_commit(t, st, err, errlen);
	t->keep_crowded = false;
	return ret;
}
