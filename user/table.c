/* user/table.c - stage, validate and publish allow/deny entries. See table.h.
 *
 * A commit rebuilds the whole IPv4 DIR-24-8 image in private memory from the
 * live entries (painting them in priority order: deny by length, then allow
 * by length above every deny), diffs it against the mmap-ed table and writes
 * only the leaves that differ. Rebuilding instead of patching keeps one code
 * path correct for every kind of change and makes a restarted controller
 * converge on exactly the table its entries describe.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "table.h"
#include "util.h"

#define PRIO_LEVELS	(33 * 2)	/* deny /0../32, then allow /0../32 */

struct op {
	struct fence_rule_info info;
	__u32 slot;			/* committed slot, 0 = new entry */
	__u8 kind;			/* enum fence_kind */
	__u8 del;
	__u8 fresh;			/* slot allocated by the commit under way */
};

/* Open addressing with linear probing. An entry is the key's 32-bit hash
 * (high half) and a value (low half, 0 = empty): the hash spares a cache
 * miss on the key for most mismatches, and lets deletion find each entry's
 * home without recomputing it. */
struct hindex {
	__u64 *e;
	__u32 mask;
};

struct table {
	struct fence_maps *m;
	struct hindex idx;		/* committed entries: value = slot; built on first use */
	struct op *ops;			/* staged changes */
	size_t n_ops, cap_ops;
	struct hindex op_idx;		/* value = op number + 1 */
	size_t n_indexed;		/* ops [0, n_indexed) are in op_idx */
	/* scratch, kept between commits */
	__u32 *img24;			/* 16M leaves */
	__u32 *parent;			/* per slot */
};

struct key {
	__u8 kind, family, len;
	const __u8 *addr;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static __u32 key_hash(const struct key *k)
{
	__u64 a, b, h;

	memcpy(&a, k->addr, 8);
	memcpy(&b, k->addr + 8, 8);
	h = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
	h ^= (__u64)k->len << 40 | (__u64)k->family << 48 | (__u64)k->kind << 56;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (__u32)h;
}

static bool key_eq_slot(const struct table *t, const struct key *k, __u32 slot)
{
	const struct fence_rule_info *in = &t->m->info[slot];

	return t->m->rules[slot].kind == k->kind && in->family == k->family &&
	       in->prefixlen == k->len && memcmp(in->addr, k->addr, 16) == 0;
}

static bool key_eq_op(const struct op *o, const struct key *k)
{
	return o->kind == k->kind && o->info.family == k->family &&
	       o->info.prefixlen == k->len && memcmp(o->info.addr, k->addr, 16) == 0;
}

static void key_of_slot(const struct table *t, __u32 slot, struct key *k)
{
	const struct fence_rule_info *in = &t->m->info[slot];

	k->kind = t->m->rules[slot].kind;
	k->family = in->family;
	k->len = in->prefixlen;
	k->addr = in->addr;
}

static void key_of_cidr(const struct cidr *c, enum fence_kind kind, struct key *k)
{
	k->kind = kind;
	k->family = c->family == AF_INET ? 4 : 6;
	k->len = c->len;
	k->addr = c->addr;
}

/* --- indexes ---------------------------------------------------------- */

typedef bool (*hx_eq_fn)(const struct table *t, __u32 val, const struct key *k);

static bool eq_slot(const struct table *t, __u32 slot, const struct key *k)
{
	return key_eq_slot(t, k, slot);
}

static bool eq_op(const struct table *t, __u32 op1, const struct key *k)
{
	return key_eq_op(&t->ops[op1 - 1], k);
}

static __u64 *hx_find(const struct table *t, const struct hindex *h, __u32 hash, hx_eq_fn eq,
		      const struct key *k)
{
	for (__u32 i = hash & h->mask;; i = (i + 1) & h->mask) {
		__u64 e = h->e[i];

		if (!e || ((__u32)(e >> 32) == hash && eq(t, (__u32)e, k)))
			return &h->e[i];
	}
}

static __u64 hx_entry(__u32 hash, __u32 val)
{
	return (__u64)hash << 32 | val;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void hx_remove(struct hindex *h, __u64 *slotp)
{
	__u32 i = slotp - h->e, j;

	h->e[i] = 0;
	for (j = (i + 1) & h->mask; h->e[j]; j = (j + 1) & h->mask) {
		__u32 home = (__u32)(h->e[j] >> 32) & h->mask;

		/* move j back to i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			h->e[i] = h->e[j];
			h->e[j] = 0;
			i = j;
		}
	}
}

static int hx_init(struct hindex *h, __u32 want)
{
	__u32 cap = 1024;

	while (cap < want * 2)
		cap <<= 1;
	h->e = big_calloc(cap, sizeof(*h->e));
	h->mask = cap - 1;
	return h->e ? 0 : -ENOMEM;
}

static void idx_insert(struct table *t, __u32 slot)
{
	struct key k;
	__u32 hash;

	key_of_slot(t, slot, &k);
	hash = key_hash(&k);
	*hx_find(t, &t->idx, hash, eq_slot, &k) = hx_entry(hash, slot);
}

/* Call while info[slot] still holds the entry's key. */
static void idx_remove(struct table *t, __u32 slot)
{
	struct key k;
	__u64 *e;

	key_of_slot(t, slot, &k);
	e = hx_find(t, &t->idx, key_hash(&k), eq_slot, &k);
	if ((__u32)*e != slot)
		return;
	hx_remove(&t->idx, e);
}

/* The index of committed entries, built the first time a lookup needs it:
 * bulk diffs that scan the slots themselves (table_put_at) never pay for it. */
static int idx_ready(struct table *t)
{
	if (t->idx.e)
		return 0;
	if (hx_init(&t->idx, t->m->n_slots))
		return -ENOMEM;
	for (__u32 slot = 1; slot < t->m->n_slots; slot++)
		if (t->m->rules[slot].kind != FENCE_KIND_FREE)
			idx_insert(t, slot);
	return 0;
}

static __u32 idx_lookup(const struct table *t, const struct key *k, __u32 hash)
{
	return (__u32)*hx_find(t, &t->idx, hash, eq_slot, k);
}

/* --- staged ops ------------------------------------------------------- */

/* Large buffers come pre-faulted: one populate is far cheaper than a page
 * fault per 4 KiB, which costs microseconds on a paravirtualised guest. */
static void *big_realloc(void *old, size_t old_len, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (old) {
		memcpy(p, old, old_len);
		munmap(old, old_len);
	}
	return p;
}

/* Ops staged by table_put_at go into op_idx only when a lookup needs it. */
static void op_catch_up(struct table *t)
{
	for (; t->n_indexed < t->n_ops; t->n_indexed++) {
		const struct op *o = &t->ops[t->n_indexed];
		struct key k = { o->kind, o->info.family, o->info.prefixlen, o->info.addr };
		__u32 hash = key_hash(&k);

		*hx_find(t, &t->op_idx, hash, eq_op, &k) = hx_entry(hash, (__u32)t->n_indexed + 1);
	}
}

static int op_grow_to(struct table *t, size_t cap)
{
	struct op *ops = big_realloc(t->ops, t->cap_ops * sizeof(*ops), cap * sizeof(*ops));

	if (!ops)
		return -ENOMEM;
	t->ops = ops;
	t->cap_ops = cap;
	/* an index that exists grows with the ops, so a lookup never fails
	 * for room once one has succeeded */
	if (t->op_idx.e) {
		free(t->op_idx.e);
		t->op_idx.e = NULL;
		if (hx_init(&t->op_idx, (__u32)t->cap_ops))
			return -ENOMEM;
		t->n_indexed = 0;
		op_catch_up(t);
	}
	return 0;
}

static int op_grow(struct table *t)
{
	return op_grow_to(t, t->cap_ops ? t->cap_ops * 2 : 1024);
}

int table_reserve(struct table *t, size_t n)
{
	return n > t->cap_ops ? op_grow_to(t, n) : 0;
}

/* The index of staged ops, sized for cap_ops and up to date. */
static int op_index_ready(struct table *t)
{
	if (!t->op_idx.e || (size_t)t->op_idx.mask + 1 < t->cap_ops * 2) {
		free(t->op_idx.e);
		t->op_idx.e = NULL;
		if (hx_init(&t->op_idx, (__u32)t->cap_ops))
			return -ENOMEM;
		t->n_indexed = 0;
	}
	op_catch_up(t);
	return 0;
}

/* A new op for key k whose committed slot is known (0 = none), as committed
 * (or deleted). */
static struct op *op_new(struct table *t, const struct key *k, __u32 slot)
{
	struct op *o;

	if (t->n_ops == t->cap_ops && op_grow(t))
		return NULL;
	o = &t->ops[t->n_ops++];
	o->kind = k->kind;
	o->fresh = 0;
	o->slot = slot;
	o->del = !slot;		/* nothing there until put */
	if (slot) {
		o->info = t->m->info[slot];
	} else {
		memset(&o->info, 0, sizeof(o->info));
		o->info.family = k->family;
		o->info.prefixlen = k->len;
		memcpy(o->info.addr, k->addr, 16);
	}
	return o;
}

static struct op *op_get(struct table *t, const struct cidr *c, enum fence_kind kind, bool create)
{
	struct key k;
	__u32 hash;
	__u64 *p;

	key_of_cidr(c, kind, &k);
	hash = key_hash(&k);
	if (t->n_ops) {
		if (op_index_ready(t))
			return NULL;
		p = hx_find(t, &t->op_idx, hash, eq_op, &k);
		if (*p)
			return &t->ops[(__u32)*p - 1];
	}
	if (!create || idx_ready(t))
		return NULL;
	return op_new(t, &k, idx_lookup(t, &k, hash));	/* indexed at the next lookup */
}

/* --- derived rule ----------------------------------------------------- */

void table_rule_from_info(const struct fence_rule_info *in, enum fence_kind kind,
			  struct fence_rule *r)
{
	__u8 action = FENCE_ACT_MAX;
	__u64 exp = 0;
	bool forever = false;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->family = in->family;
	if (kind != FENCE_KIND_DENY)
		return;
#define OWNER(bit, act, expires)					\
	if (in->owners & (bit)) {					\
		if ((act) < action)					\
			action = (act);					\
		if (!(expires))						\
			forever = true;					\
		else if ((expires) > exp)				\
			exp = (expires);				\
	}
	OWNER(FENCE_OWN_MANUAL, in->manual_action, in->manual_expires_ns)
	OWNER(FENCE_OWN_PROMOTED, in->promoted_action, in->promoted_expires_ns)
	OWNER(FENCE_OWN_FEED, in->feed_action, in->feed_expires_ns)
#undef OWNER
	r->action = action < FENCE_ACT_MAX ? action : FENCE_ACT_DROP;
	r->expires_ns = forever ? 0 : exp;
	r->rate = in->rate;
	r->burst = in->burst;
	if (in->owners & FENCE_OWN_MANUAL)
		r->stat = FENCE_STAT_DROP_MANUAL;
	else if (in->owners & FENCE_OWN_PROMOTED)
		r->stat = FENCE_STAT_DROP_PROMOTED;
	else
		r->stat = FENCE_STAT_DROP_FEED;
}

void table_info_cidr(const struct fence_rule_info *in, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = in->family == 4 ? AF_INET : AF_INET6;
	c->len = in->prefixlen;
	memcpy(c->addr, in->addr, 16);
}

/* --- public: open/close/stage ------------------------------------------ */

int table_open(struct table **tp, struct fence_maps *m)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->m = m;
	t->parent = big_calloc(m->n_slots, sizeof(*t->parent));
	if (!t->parent) {
		table_close(t);
		return -ENOMEM;
	}
	*tp = t;
	return 0;
}

void table_close(struct table *t)
{
	if (!t)
		return;
	free(t->idx.e);
	if (t->ops)
		munmap(t->ops, t->cap_ops * sizeof(*t->ops));
	free(t->op_idx.e);
	free(t->img24);
	free(t->parent);
	free(t);
}

const struct fence_rule_info *table_get(struct table *t, const struct cidr *c,
					enum fence_kind kind, __u32 *slot)
{
	struct op *o = op_get(t, c, kind, false);
	struct key k;
	__u32 s;

	if (o) {
		if (slot)
			*slot = o->slot;
		return o->del ? NULL : &o->info;
	}
	key_of_cidr(c, kind, &k);
	s = idx_ready(t) ? 0 : idx_lookup(t, &k, key_hash(&k));
	if (slot)
		*slot = s;
	return s ? &t->m->info[s] : NULL;
}

/* The staged entry becomes info at c (no owners: deleted). */
static void op_set(struct op *o, const struct cidr *c, const struct fence_rule_info *info)
{
	o->info = *info;
	o->info.family = c->family == AF_INET ? 4 : 6;
	o->info.prefixlen = c->len;
	memcpy(o->info.addr, c->addr, 16);
	o->info.freed_ns = 0;
	o->del = !info->owners;
}

int table_put(struct table *t, const struct cidr *c, enum fence_kind kind,
	      const struct fence_rule_info *info)
{
	struct op *o;

	if (!info->owners)
		return table_del(t, c, kind);
	o = op_get(t, c, kind, true);
	if (!o)
		return -ENOMEM;
	op_set(o, c, info);
	return 0;
}

int table_put_at(struct table *t, __u32 slot, const struct cidr *c, enum fence_kind kind,
		 const struct fence_rule_info *info)
{
	struct op *o = NULL;
	struct key k;

	if (t->op_idx.e)	/* lookups staged ops too: the key may be staged already */
		o = op_get(t, c, kind, false);
	if (!o) {
		key_of_cidr(c, kind, &k);
		o = op_new(t, &k, slot);
	}
	if (!o)
		return -ENOMEM;
	op_set(o, c, info);
	return 0;
}

int table_del(struct table *t, const struct cidr *c, enum fence_kind kind)
{
	struct op *o = op_get(t, c, kind, true);

	if (!o)
		return -ENOMEM;
	o->del = 1;
	return 0;
}

size_t table_staged(const struct table *t)
{
	return t->n_ops;
}

void table_abort(struct table *t)
{
	t->n_ops = 0;
	t->n_indexed = 0;
	if (t->op_idx.e)
		memset(t->op_idx.e, 0, ((size_t)t->op_idx.mask + 1) * sizeof(*t->op_idx.e));
}

__u32 table_next(const struct table *t, __u32 after)
{
	for (__u32 s = after + 1; s < t->m->n_slots; s++)
		if (t->m->rules[s].kind != FENCE_KIND_FREE)
			return s;
	return 0;
}

/* --- IPv4 image ---------------------------------------------------------- */

struct img {
	__u32 *t24;
	__u32 *g;			/* local groups of 256 leaves */
	__u32 ng, gcap;
	__u8 *host;			/* bit per /24: /32 denies inside */
};

static int img_group(struct img *im, __u32 fill)
{
	if (im->ng == im->gcap) {
		__u32 cap = im->gcap ? im->gcap * 2 : 256;
		__u32 *g = realloc(im->g, (size_t)cap * FENCE_TBL8_GROUP * sizeof(*g));

		if (!g)
			return -ENOMEM;
		im->g = g;
		im->gcap = cap;
	}
	for (int i = 0; i < FENCE_TBL8_GROUP; i++)
		im->g[(size_t)im->ng * FENCE_TBL8_GROUP + i] = fill;
	return im->ng++;
}

static __u32 img_peek(const struct img *im, __u32 addr)
{
	__u32 v = im->t24[addr >> 8];

	if (v & FENCE_LEAF_EXT)
		v = im->g[(size_t)(v & FENCE_LEAF_IDX) * FENCE_TBL8_GROUP + (addr & 0xff)];
	return v;
}

/* Paint slot over the prefix; everything painted before has lower priority. */
static int img_paint(struct img *im, __u32 addr, __u8 len, __u32 slot)
{
	if (len <= 24) {
		__u32 first = addr >> 8, n = 1U << (24 - len);

		for (__u32 i = 0; i < n; i++)
			im->t24[first + i] = slot;	/* drops any group: all of it was lower */
		return 0;
	}
	__u32 i = addr >> 8, v = im->t24[i];
	int g;

	if (v & FENCE_LEAF_EXT) {
		g = v & FENCE_LEAF_IDX;
	} else {
		g = img_group(im, v);
		if (g < 0)
			return g;
		im->t24[i] = FENCE_LEAF_EXT | g;
	}
	__u32 *leaf = &im->g[(size_t)g * FENCE_TBL8_GROUP + (addr & 0xff)];
	for (__u32 n = 0; n < 1U << (32 - len); n++)
		leaf[n] = slot;
	return 0;
}

static __u32 v4_host(const __u8 *addr)
{
	__u32 a;

	memcpy(&a, addr, 4);
	return ntohl(a);
}

/* --- commit ------------------------------------------------------------ */

struct plan {
	__u32 *new_slots;		/* slot of each new op, in op order */
	__u32 *reused;			/* those of them used before (hit counters to reset) */
	__u32 n_reused;
	__u32 *order;			/* live v4 slots by priority */
	__u32 prio_start[PRIO_LEVELS + 1];
	__u32 *phys;			/* local group -> physical group */
	__u32 *fresh;			/* physical groups written from scratch */
	__u32 n_fresh;
	__u32 *freed_groups;
	__u32 n_freed_groups;
	__u32 *t24_changes;
	__u32 n_t24;
	__u32 *t8_changes;		/* physical leaf indexes in reused groups */
	__u32 n_t8;
};

static void plan_free(struct plan *p, struct img *im)
{
	free(p->new_slots);
	free(p->reused);
	free(p->order);
	free(p->phys);
	free(p->fresh);
	free(p->freed_groups);
	free(p->t24_changes);
	free(p->t8_changes);
	free(im->g);
	free(im->host);
}

static bool quarantined(__u64 freed, __u64 now)
{
	return freed && now - freed < FENCE_QUARANTINE_NS;
}

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
	for (__u32 s = 1; s < m->n_slots && got < n; s++) {
		if (m->rules[s].kind != FENCE_KIND_FREE)
			continue;
		if (quarantined(m->info[s].freed_ns, now)) {
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
		seterr(err, errlen, "no room: %u entries requested, %u rule slots free of %u "
		       "(raise the capacity at first attach)", n, got + waiting, m->n_slots - 1);
		return -ENOSPC;
	}
	now = fence_now_ns();
	if (wake > now) {
		struct timespec ts = { (wake - now) / 1000000000ULL, (wake - now) % 1000000000ULL };

		nanosleep(&ts, NULL);
	}
	return alloc_slots(t, n, out, err, errlen);
}

static void store32(__u32 *p, __u32 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void store64(__u64 *p, __u64 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Existing slot: change the fields the data path reads, each atomically, in
 * an order where every intermediate state is a policy someone asked for. */
static void rule_update(struct fence_rule *cur, const struct fence_rule *r)
{
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
}

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

struct batch_job {
	int fd;
	const void *keys, *vals;
	size_t ksz, vsz;
	__u32 n;
	int ret;
};

static void *batch_thread(void *arg)
{
	struct batch_job *j = arg;

	j->ret = batch_update_one(j->fd, j->keys, j->ksz, j->vals, j->vsz, j->n);
	return NULL;
}

/* Big batches go half to a second thread: hash inserts cost about a
 * microsecond each in the kernel (bucket lock, allocation) and the buckets
 * lock independently, so two CPUs nearly halve a million-entry load. */
static int batch_update(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, __u32 n)
{
	struct batch_job j = { fd, (const char *)keys + (size_t)(n / 2) * ksz,
			       (const char *)vals + (size_t)(n / 2) * vsz, ksz, vsz, n - n / 2, 0 };
	pthread_t th;
	int ret;

	if (n < 65536 || pthread_create(&th, NULL, batch_thread, &j))
		return batch_update_one(fd, keys, ksz, vals, vsz, n);
	ret = batch_update_one(fd, keys, ksz, vals, vsz, n / 2);
	pthread_join(th, NULL);
	return ret ? ret : j.ret;
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

struct v6ent {
	__u8 addr[16];
	__u8 len;
	__u32 slot;
};

static int v6_cmp(const void *a, const void *b)
{
	const struct v6ent *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : (int)x->len - (int)y->len;
}

static bool v6_contains(const struct v6ent *o, const struct v6ent *i)
{
	int full = o->len / 8, rem = o->len % 8;

	if (o->len > i->len || memcmp(o->addr, i->addr, full))
		return false;
	return !rem || ((o->addr[full] ^ i->addr[full]) & (0xff << (8 - rem))) == 0;
}

int table_commit(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	struct fence_maps *m = t->m;
	struct table_stats s = {};
	struct plan p = {};
	struct img im = {};
	struct timespec t0;
	__u32 n_new = 0, n_del = 0, n_v4_deny = 0, n_v4_allow = 0, n_v6_deny = 0, n_v6_allow = 0;
	__u32 i, k, slot;
	__u8 *dead = NULL;		/* slots deleted by this commit */
	struct v6ent *v6 = NULL;
	__u32 n_v6 = 0;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!t->n_ops)
		goto done;

	dead = big_calloc(m->n_slots, 1);
	if (!dead) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del && o->slot)
			dead[o->slot] = 1, n_del++;
		if (!o->del && !o->slot)
			n_new++;
	}
	p.new_slots = calloc(n_new + 1, sizeof(__u32));
	if (!p.new_slots) {
		ret = -ENOMEM;
		goto out;
	}
	ret = alloc_slots(t, n_new, p.new_slots, err, errlen);
	if (ret)
		goto out;
	/* hit counters: a slot that was never used still has the zeros the
	 * map was created with; one used before is reset (below) */
	p.reused = malloc((n_new + 1) * sizeof(__u32));
	if (!p.reused) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n_new; i++)
		if (m->info[p.new_slots[i]].freed_ns)
			p.reused[p.n_reused++] = p.new_slots[i];

	/* Every live entry after the commit, as (slot, kind, family, len, addr):
	 * committed ones read from info[], new ones from their op. Count them
	 * per map for the capacity checks, and bucket IPv4 ones by priority. */
	struct fence_rule_info **view = NULL;
	__u8 *vkind = NULL;

	view = big_calloc(m->n_slots, sizeof(*view));
	vkind = big_calloc(m->n_slots, 1);
	if (!view || !vkind) {
		free(view);
		free(vkind);
		ret = -ENOMEM;
		goto out;
	}
	for (slot = 1; slot < m->n_slots; slot++) {
		if (m->rules[slot].kind == FENCE_KIND_FREE || dead[slot])
			continue;
		view[slot] = &m->info[slot];
		vkind[slot] = m->rules[slot].kind;
	}
	k = 0;
	for (size_t n = 0; n < t->n_ops; n++) {
		struct op *o = &t->ops[n];

		if (o->del)
			continue;
		if (!o->slot) {
			o->slot = p.new_slots[k++];
			o->fresh = 1;
		}
		view[o->slot] = &o->info;
		vkind[o->slot] = o->kind;
	}

	__u32 counts[PRIO_LEVELS] = { 0 };
	for (slot = 1; slot < m->n_slots; slot++) {
		const struct fence_rule_info *in = view[slot];

		if (!in)
			continue;
		s.slots_used++;
		if (in->family == 4) {
			if (vkind[slot] == FENCE_KIND_DENY)
				n_v4_deny++, counts[in->prefixlen]++;
			else
				n_v4_allow++, counts[33 + in->prefixlen]++;
		} else {
			if (vkind[slot] == FENCE_KIND_DENY)
				n_v6_deny++;
			else
				n_v6_allow++;
		}
	}
	if (n_v4_deny > m->max_entries[FM_DENY_V4] || n_v4_allow > m->max_entries[FM_ALLOW_V4] ||
	    n_v6_deny > m->max_entries[FM_DENY_V6] || n_v6_allow > m->max_entries[FM_ALLOW_V6]) {
		seterr(err, errlen, "no room: %u/%u IPv4 deny, %u/%u IPv4 allow, %u/%u IPv6 deny, "
		       "%u/%u IPv6 allow entries", n_v4_deny, m->max_entries[FM_DENY_V4],
		       n_v4_allow, m->max_entries[FM_ALLOW_V4], n_v6_deny, m->max_entries[FM_DENY_V6],
		       n_v6_allow, m->max_entries[FM_ALLOW_V6]);
		ret = -ENOSPC;
		goto out_view;
	}
	p.order = big_calloc(n_v4_deny + n_v4_allow + 1, sizeof(__u32));
	if (!p.order) {
		ret = -ENOMEM;
		goto out_view;
	}
	p.prio_start[0] = 0;
	for (i = 0; i < PRIO_LEVELS; i++)
		p.prio_start[i + 1] = p.prio_start[i] + counts[i];
	memset(counts, 0, sizeof(counts));
	for (slot = 1; slot < m->n_slots; slot++) {
		const struct fence_rule_info *in = view[slot];
		int prio;

		if (!in || in->family != 4)
			continue;
		prio = (vkind[slot] == FENCE_KIND_DENY ? 0 : 33) + in->prefixlen;
		p.order[p.prio_start[prio] + counts[prio]++] = slot;
	}

	/* Paint. Before a deny is painted, the leaf under its first address is
	 * the longest shorter deny covering it: its parent. */
	if (!t->img24) {
		t->img24 = big_calloc(FENCE_TBL24_ENTRIES, sizeof(__u32));
		if (!t->img24) {
			ret = -ENOMEM;
			goto out_view;
		}
	}
	im.t24 = t->img24;
	memset(im.t24, 0, (size_t)FENCE_TBL24_ENTRIES * sizeof(__u32));
	im.host = big_calloc(FENCE_TBL24_ENTRIES / 8, 1);
	if (!im.host) {
		ret = -ENOMEM;
		goto out_view;
	}
	for (i = 0; i < p.prio_start[PRIO_LEVELS]; i++) {
		const struct fence_rule_info *in;
		__u32 addr;

		slot = p.order[i];
		in = view[slot];
		addr = v4_host(in->addr);
		if (vkind[slot] == FENCE_KIND_DENY) {
			t->parent[slot] = img_peek(&im, addr);
			if (in->prefixlen == 32) {
				im.host[addr >> 11] |= 1 << ((addr >> 8) & 7);
				continue;
			}
		}
		ret = img_paint(&im, addr, in->prefixlen, slot);
		if (ret)
			goto out_view;
	}

	/* IPv6 deny parents: sort by (address, length); an enclosing prefix
	 * sorts before what it encloses, so a stack of open ancestors works. */
	v6 = malloc((n_v6_deny + 1) * sizeof(*v6));
	if (!v6) {
		ret = -ENOMEM;
		goto out_view;
	}
	for (slot = 1; slot < m->n_slots; slot++) {
		const struct fence_rule_info *in = view[slot];

		if (!in || in->family != 6 || vkind[slot] != FENCE_KIND_DENY)
			continue;
		memcpy(v6[n_v6].addr, in->addr, 16);
		v6[n_v6].len = in->prefixlen;
		v6[n_v6++].slot = slot;
	}
	qsort(v6, n_v6, sizeof(*v6), v6_cmp);
	{
		__u32 *stack = malloc((n_v6 + 1) * sizeof(*stack)), depth = 0;

		if (!stack) {
			ret = -ENOMEM;
			goto out_view;
		}
		for (i = 0; i < n_v6; i++) {
			while (depth && !v6_contains(&v6[stack[depth - 1]], &v6[i]))
				depth--;
			t->parent[v6[i].slot] = depth ? v6[stack[depth - 1]].slot : 0;
			stack[depth++] = i;
		}
		free(stack);
	}

	/* Collapse uniform groups, then give the rest physical groups: a /24
	 * that had one keeps it (leaves change in place), others get a group
	 * that no leaf names and that is out of quarantine. */
	p.phys = malloc((im.ng + 1) * sizeof(__u32));
	p.fresh = malloc((im.ng + 1) * sizeof(__u32));
	if (!p.phys || !p.fresh) {
		ret = -ENOMEM;
		goto out_view;
	}
	__u8 *gref = calloc(m->n_groups, 1);	/* physical groups named by the current table */
	__u32 n_need = 0;

	if (!gref) {
		ret = -ENOMEM;
		goto out_view;
	}
	for (i = 0; i < FENCE_TBL24_ENTRIES; i++) {
		__u32 cur = m->tbl24[i], v = im.t24[i];

		if ((cur & FENCE_LEAF_EXT) && (cur & FENCE_LEAF_IDX) < m->n_groups)
			gref[cur & FENCE_LEAF_IDX] = 1;
		if (v & FENCE_LEAF_EXT) {
			__u32 *g = &im.g[(size_t)(v & FENCE_LEAF_IDX) * FENCE_TBL8_GROUP];
			int j;

			for (j = 1; j < FENCE_TBL8_GROUP && g[j] == g[0]; j++)
				;
			if (j == FENCE_TBL8_GROUP)
				im.t24[i] = g[0];
			else
				n_need++;
		}
	}
	if (n_need > m->n_groups) {
		seterr(err, errlen, "no room: %u /24s need /25../31 detail, the table has %u groups "
		       "(raise the capacity at first attach)", n_need, m->n_groups);
		ret = -ENOSPC;
		free(gref);
		goto out_view;
	}
	{
		__u64 now = fence_now_ns(), wake = 0;
		__u32 next = 0;

	retry_groups:
		next = 0;
		p.n_fresh = 0;
		for (i = 0; i < FENCE_TBL24_ENTRIES; i++) {
			__u32 cur = m->tbl24[i], v = im.t24[i], ph;

			if (!(v & FENCE_LEAF_EXT))
				continue;
			if (cur & FENCE_LEAF_EXT) {
				ph = cur & FENCE_LEAF_IDX;
			} else {
				while (next < m->n_groups &&
				       (gref[next] || quarantined(m->tbl8_state[next].freed_ns, now))) {
					if (!gref[next] && (!wake || m->tbl8_state[next].freed_ns < wake))
						wake = m->tbl8_state[next].freed_ns;
					next++;
				}
				if (next == m->n_groups) {
					if (!wake) {
						seterr(err, errlen, "no room: out of tbl8 groups (%u)",
						       m->n_groups);
						ret = -ENOSPC;
						free(gref);
						goto out_view;
					}
					wake += FENCE_QUARANTINE_NS;
					now = fence_now_ns();
					if (wake > now) {
						struct timespec ts = { (wake - now) / 1000000000ULL,
								       (wake - now) % 1000000000ULL };
						nanosleep(&ts, NULL);
					}
					now = fence_now_ns();
					wake = 0;
					goto retry_groups;
				}
				ph = next++;
				p.fresh[p.n_fresh++] = v & FENCE_LEAF_IDX;
			}
			p.phys[v & FENCE_LEAF_IDX] = ph;
		}
	}
	free(gref);

	/* Final leaves and the diff against what the data path sees now. */
	p.t24_changes = malloc(sizeof(__u32) * 65536);
	__u32 t24_cap = 65536, t8_cap = 65536;
	p.t8_changes = malloc(sizeof(__u32) * t8_cap);
	if (!p.t24_changes || !p.t8_changes) {
		ret = -ENOMEM;
		goto out_view;
	}
	for (i = 0; i < FENCE_TBL24_ENTRIES; i++) {
		__u32 v = im.t24[i], cur = m->tbl24[i];

		if (v & FENCE_LEAF_EXT) {
			__u32 lg = v & FENCE_LEAF_IDX, ph = p.phys[lg];

			if ((cur & FENCE_LEAF_EXT) && (cur & FENCE_LEAF_IDX) == ph) {
				const __u32 *want = &im.g[(size_t)lg * FENCE_TBL8_GROUP];
				const __u32 *have = &m->tbl8[(size_t)ph * FENCE_TBL8_GROUP];

				for (int j = 0; j < FENCE_TBL8_GROUP; j++) {
					if (want[j] == have[j])
						continue;
					if (p.n_t8 == t8_cap) {
						__u32 *n = realloc(p.t8_changes, sizeof(__u32) * t8_cap * 2);

						if (!n) {
							ret = -ENOMEM;
							goto out_view;
						}
						p.t8_changes = n;
						t8_cap *= 2;
					}
					p.t8_changes[p.n_t8++] = (lg << 8) | j;
				}
			}
			v = FENCE_LEAF_EXT | ph;
		}
		if (im.host[i >> 3] & (1 << (i & 7)))
			v |= FENCE_LEAF_HOST;
		im.t24[i] = v;
		if (v != cur) {
			if (p.n_t24 == t24_cap) {
				__u32 *n = realloc(p.t24_changes, sizeof(__u32) * t24_cap * 2);

				if (!n) {
					ret = -ENOMEM;
					goto out_view;
				}
				p.t24_changes = n;
				t24_cap *= 2;
			}
			p.t24_changes[p.n_t24++] = i;
		}
		if ((cur & FENCE_LEAF_EXT) && !(v & FENCE_LEAF_EXT) &&
		    (cur & FENCE_LEAF_IDX) < m->n_groups) {
			if (!p.freed_groups)
				p.freed_groups = malloc(sizeof(__u32) * m->n_groups);
			if (!p.freed_groups) {
				ret = -ENOMEM;
				goto out_view;
			}
			p.freed_groups[p.n_freed_groups++] = cur & FENCE_LEAF_IDX;
		}
	}
	s.build_ms = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	/* ---- Everything is validated: write. ---- */
	{
		__u32 n_keys = n_new + n_del + 1, n4 = 0, n4a = 0, n6 = 0, n6a = 0;
		struct fence_v4_key *k4 = calloc(n_keys, sizeof(*k4));
		struct fence_v4_key *k4a = calloc(n_keys, sizeof(*k4a));
		struct fence_v6_key *k6 = calloc(n_keys, sizeof(*k6));
		struct fence_v6_key *k6a = calloc(n_keys, sizeof(*k6a));
		struct fence_slot *vs = calloc(n_keys, sizeof(*vs));
		struct fence_slot *vsa = calloc(n_keys, sizeof(*vsa));
		struct fence_slot *v6s = calloc(n_keys, sizeof(*v6s));
		struct fence_slot *v6sa = calloc(n_keys, sizeof(*v6sa));
		void *zeros = calloc(p.n_reused + 1, (size_t)m->ncpus * sizeof(__u64));

		if (!k4 || !k4a || !k6 || !k6a || !vs || !vsa || !v6s || !v6sa || !zeros) {
			ret = -ENOMEM;
			goto out_w;
		}

		/* 1. New slots, complete before anything names them; kinds last,
		 * all behind one fence. */
		__u64 created = (__u64)time(NULL);

		for (size_t n = 0; n < t->n_ops; n++) {
			struct op *o = &t->ops[n];
			struct fence_rule r;

			if (o->del || !o->fresh)
				continue;
			table_rule_from_info(&o->info, o->kind, &r);
			r.parent = t->parent[o->slot];
			if (!o->info.created_unix)
				o->info.created_unix = created;
			m->info[o->slot] = o->info;
			r.kind = FENCE_KIND_FREE;
			m->rules[o->slot] = r;
			if (o->info.family == 4) {
				bool d = o->kind == FENCE_KIND_DENY;
				struct fence_v4_key *kk = d ? &k4[n4] : &k4a[n4a];
				struct fence_slot *vv = d ? &vs[n4++] : &vsa[n4a++];

				kk->prefixlen = o->info.prefixlen;
				memcpy(&kk->addr, o->info.addr, 4);
				vv->slot = o->slot;
			} else {
				bool d = o->kind == FENCE_KIND_DENY;
				struct fence_v6_key *kk = d ? &k6[n6] : &k6a[n6a];
				struct fence_slot *vv = d ? &v6s[n6++] : &v6sa[n6a++];

				kk->prefixlen = o->info.prefixlen;
				memcpy(kk->addr, o->info.addr, 16);
				vv->slot = o->slot;
			}
		}
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (size_t n = 0; n < t->n_ops; n++)
			if (!t->ops[n].del && t->ops[n].fresh)
				__atomic_store_n(&m->rules[t->ops[n].slot].kind, t->ops[n].kind,
						 __ATOMIC_RELEASE);
		/* hit counters of new slots start at zero */
		if (p.n_reused)
			ret = batch_update(m->fd[FM_RULE_HITS], p.reused, sizeof(__u32), zeros,
					   (size_t)m->ncpus * sizeof(__u64), p.n_reused);
		/* 2. Fresh groups, whole: no leaf names them yet. */
		for (i = 0; !ret && i < p.n_fresh; i++) {
			__u32 lg = p.fresh[i], ph = p.phys[lg];

			for (int j = 0; j < FENCE_TBL8_GROUP; j++)
				store32(&m->tbl8[(size_t)ph * FENCE_TBL8_GROUP + j],
					im.g[(size_t)lg * FENCE_TBL8_GROUP + j]);
			m->tbl8_state[ph].freed_ns = 0;
			s.tbl8_writes += FENCE_TBL8_GROUP;
		}
		/* 3. Exact-prefix hashes and IPv6 tries learn the new entries.
		 * The tries are live: the new slots answer from here on. */
		if (!ret)
			ret = batch_update(m->fd[FM_DENY_V4], k4, sizeof(*k4), vs, sizeof(*vs), n4);
		if (!ret)
			ret = batch_update(m->fd[FM_ALLOW_V4], k4a, sizeof(*k4a), vsa, sizeof(*vsa), n4a);
		if (!ret)
			ret = batch_update(m->fd[FM_DENY_V6], k6, sizeof(*k6), v6s, sizeof(*v6s), n6);
		if (!ret)
			ret = batch_update(m->fd[FM_ALLOW_V6], k6a, sizeof(*k6a), v6sa, sizeof(*v6sa), n6a);
		if (ret) {
			/* Undo: nothing that was there before has changed yet. */
			batch_delete(m->fd[FM_DENY_V4], k4, sizeof(*k4), n4);
			batch_delete(m->fd[FM_ALLOW_V4], k4a, sizeof(*k4a), n4a);
			batch_delete(m->fd[FM_DENY_V6], k6, sizeof(*k6), n6);
			batch_delete(m->fd[FM_ALLOW_V6], k6a, sizeof(*k6a), n6a);
			for (size_t n = 0; n < t->n_ops; n++) {
				struct op *o = &t->ops[n];

				if (!o->del && o->fresh) {
					/* freed_ns first: a slot that shows FREE with
					 * freed_ns 0 is one never used (no hits to reset) */
					m->info[o->slot].freed_ns = fence_now_ns();
					__atomic_thread_fence(__ATOMIC_SEQ_CST);
					__atomic_store_n(&m->rules[o->slot].kind, FENCE_KIND_FREE,
							 __ATOMIC_RELEASE);
				}
			}
			seterr(err, errlen, "updating lookup maps: %s", strerror(-ret));
			goto out_w;
		}
		/* 4. Entries that stay: changed fields, then parents (a new or
		 * removed deny in between changes them). */
		for (size_t n = 0; n < t->n_ops; n++) {
			struct op *o = &t->ops[n];
			struct fence_rule r;

			if (o->del || o->fresh)
				continue;
			table_rule_from_info(&o->info, o->kind, &r);
			m->info[o->slot] = o->info;
			rule_update(&m->rules[o->slot], &r);
			s.updated++;
		}
		for (slot = 1; slot < m->n_slots; slot++) {
			if (!view[slot] || vkind[slot] != FENCE_KIND_DENY)
				continue;
			if (m->rules[slot].parent != t->parent[slot])
				store32(&m->rules[slot].parent, t->parent[slot]);
		}
		/* 5. The switch: changed leaves of groups that stay, tbl24. */
		for (i = 0; i < p.n_t8; i++) {
			__u32 lg = p.t8_changes[i] >> 8, j = p.t8_changes[i] & 0xff;

			store32(&m->tbl8[(size_t)p.phys[lg] * FENCE_TBL8_GROUP + j],
				im.g[(size_t)lg * FENCE_TBL8_GROUP + j]);
			s.tbl8_writes++;
		}
		for (i = 0; i < p.n_t24; i++)
			store32(&m->tbl24[p.t24_changes[i]], im.t24[p.t24_changes[i]]);
		s.tbl24_writes = p.n_t24;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);

		/* 6. Removed entries: out of the hashes and tries, then freed
		 * (quarantined: a reader may still hold an old leaf). */
		n4 = n4a = n6 = n6a = 0;
		for (size_t n = 0; n < t->n_ops; n++) {
			struct op *o = &t->ops[n];
			const struct fence_rule_info *in;
			bool d = o->kind == FENCE_KIND_DENY;

			if (!o->del || !o->slot)
				continue;
			in = &m->info[o->slot];
			if (in->family == 4) {
				struct fence_v4_key *kk = d ? &k4[n4++] : &k4a[n4a++];

				kk->prefixlen = in->prefixlen;
				memcpy(&kk->addr, in->addr, 4);
			} else {
				struct fence_v6_key *kk = d ? &k6[n6++] : &k6a[n6a++];

				kk->prefixlen = in->prefixlen;
				memcpy(kk->addr, in->addr, 16);
			}
		}
		batch_delete(m->fd[FM_DENY_V4], k4, sizeof(*k4), n4);
		batch_delete(m->fd[FM_ALLOW_V4], k4a, sizeof(*k4a), n4a);
		batch_delete(m->fd[FM_DENY_V6], k6, sizeof(*k6), n6);
		batch_delete(m->fd[FM_ALLOW_V6], k6a, sizeof(*k6a), n6a);
		{
			__u64 now = fence_now_ns();

			for (size_t n = 0; n < t->n_ops; n++) {
				struct op *o = &t->ops[n];

				if (!o->del || !o->slot)
					continue;
				if (t->idx.e)
					idx_remove(t, o->slot);
				if (m->rules[o->slot].action == FENCE_ACT_THROTTLE)
					bpf_map_delete_elem(m->fd[FM_THROTTLE], &o->slot);
				m->info[o->slot].owners = 0;
				m->info[o->slot].freed_ns = now;	/* before FREE: see the undo above */
				__atomic_thread_fence(__ATOMIC_SEQ_CST);
				__atomic_store_n(&m->rules[o->slot].kind, FENCE_KIND_FREE, __ATOMIC_RELEASE);
				s.removed++;
			}
			for (i = 0; i < p.n_freed_groups; i++)
				m->tbl8_state[p.freed_groups[i]].freed_ns = now;
		}
		for (size_t n = 0; t->idx.e && n < t->n_ops; n++)
			if (!t->ops[n].del && t->ops[n].fresh)
				idx_insert(t, t->ops[n].slot);
		s.added = n_new;
out_w:
		free(k4);
		free(k4a);
		free(k6);
		free(k6a);
		free(vs);
		free(vsa);
		free(v6s);
		free(v6sa);
		free(zeros);
	}
	s.write_ms = ms_since(&t0);
	s.groups_used = n_need;
out_view:
	free(view);
	free(vkind);
out:
	free(dead);
	free(v6);
	plan_free(&p, &im);
done:
	table_abort(t);
	if (st)
		*st = s;
	return ret;
}
