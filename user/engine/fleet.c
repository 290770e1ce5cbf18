// SPDX-License-Identifier: GPL-2.0
/* user/engine/fleet.c - the fleet's NATS client (see fleet.h): the key and
 * value codec, the merge, and the threads that own the connection.
 *
 * Owns the connection, the bucket, the watcher, the publishing and the
 * per-tick counts subject. Must not touch the pinned maps nor the policy,
 * and must never make the daemon's loop wait on the network: the daemon
 * only queues (fleet_offer, fleet_counts_send) and takes (fleet_take,
 * fleet_counts_get) under one mutex held for memory work only.
 *
 * Threads: the watcher connects (retrying while NATS is away), binds or
 * creates the bucket and reads it: a full snapshot at every (re)connect,
 * then live changes. The publisher merges what the daemon offers with what
 * the bucket holds (the mirror, kept by the watcher: revision and the
 * fields the merge needs) and writes it with the revision expected, as
 * plain publishes whose JetStream acks come to an inbox of ours (on_ack,
 * on nats.c's thread); an ack not back in time is a lost write, sent
 * again. A refused write (someone wrote first) waits for the watcher to
 * bring the revision that won, and merges again.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <nats/nats.h>

#include "engine/fleet.h"
#include "lib/log.h"
#include "maps/keys.h"

#define FLEET_CONNECT_TIMEOUT_MS	2000
#define FLEET_PING_MS			1000	/* a dead link is noticed in ~3 pings */
#define FLEET_RETRY_MS			1000
#define FLEET_MAX_PENDING		8192	/* async publishes in flight */
#define FLEET_PUB_BATCH			512	/* writes planned per hold of the mutex */
#define FLEET_OFFER_SLICE		4096	/* offers taken per hold of the mutex */
#define FLEET_EXTEND_STEP		8	/* an extension is written once it moves the
						 * expiry by 1/8 of the TTL (fleet_merge_worth) */
#define FLEET_CLEAN_EVERY_MS		10000
#define FLEET_CLEAN_GRACE_OWN_MS	60000	/* the origin deletes a forgotten key */
#define FLEET_CLEAN_GRACE_MS		600000	/* anyone, if the origin is gone */
#define FLEET_COUNTS_PER_MSG		16384
#define FLEET_MAX_NODES			64
#define FLEET_REAPERS			4	/* old watchers being destroyed at once */
#define FLEET_SIGNALS_PER_MSG		4096
#define FLEET_SIGNAL_REC		64	/* bytes of a report on the wire */
#define FLEET_SIGNALS_MAX_IN		1000000	/* received, not taken yet */
#define FLEET_KV_OP_HDR			"KV-Operation"	/* the KV protocol's delete marker */
#define FLEET_SEQ_HDR			"Xdpfence-Seq"	/* which write of ours an ack is for */
#define FLEET_ACK_LOST_MS		10000
#define FLEET_API_WAIT_MS		30000	/* JetStream API calls, at most */
#define FLEET_WATCH_WAIT_MS		1000	/* a watcher's creation waits this */
#define FLEET_WATCH_WAIT_KEY_US		25	/* and this per message in the bucket */
#define FLEET_PROBE_WAIT_MS		2000	/* the stream's state */
#define FLEET_STALL_IDLE_MS		2000	/* a quiet watcher checked this often */
#define FLEET_STALL_CONFIRM_MS		2000	/* and again this soon when behind */

static __u64 wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (__u64)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static __u64 mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The client's trace (-v), stamped with the wall clock to the ms: it is read
 * next to the NATS servers' logs and the other gateways' traces. */
#define fleet_debug(fmt, ...)							\
	do {									\
		if (log_verbose) {						\
			__u64 _ms = wall_ms();					\
			time_t _s = _ms / 1000;					\
			struct tm _tm;						\
										\
			localtime_r(&_s, &_tm);					\
			pr_debug("fleet: %02d:%02d:%02d.%03u " fmt, _tm.tm_hour,	\
				 _tm.tm_min, _tm.tm_sec, (unsigned)(_ms % 1000),	\
				 ##__VA_ARGS__);					\
		}								\
	} while (0)

/* --- keys and values ----------------------------------------------------- */

static const char hex_digit[] = "0123456789abcdef";

int fleet_key(const struct cidr *c, char *key, size_t len)
{
	int n;

	if (c->family == AF_INET && c->len <= 32) {
		n = snprintf(key, len, "v4.%u.%u.%u.%u/%u", c->addr[0], c->addr[1], c->addr[2],
			     c->addr[3], c->len);
	} else if (c->family == AF_INET6 && c->len <= 128) {
		char hex[3 + 32 + 1];	/* by hand: a burst encodes every key it writes */

		memcpy(hex, "v6.", 3);
		for (int i = 0; i < 16; i++) {
			hex[3 + 2 * i] = hex_digit[c->addr[i] >> 4];
			hex[4 + 2 * i] = hex_digit[c->addr[i] & 15];
		}
		hex[sizeof(hex) - 1] = 0;
		n = snprintf(key, len, "%s/%u", hex, c->len);
	} else {
		return -EINVAL;
	}
	return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
}

/* A decimal number at *p of 1 to 3 digits, no leading zero, at most max;
 * *p moves past it. */
static bool key_dec(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < 4)
		v = v * 10 + (s[n++] - '0');
	if (!n || n > 3 || (n > 1 && s[0] == '0') || v > max)
		return false;
	*p = s + n;
	*out = v;
	return true;
}

static int hex_val(char h)
{
	return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
}

/* The keys fleet_key writes and no other spelling of them (one key per
 * prefix); by hand: every gateway parses every key of a burst. */
int fleet_key_parse(const char *key, struct cidr *c)
{
	const char *p = key + 3;
	unsigned len;

	memset(c, 0, sizeof(*c));
	if (!strncmp(key, "v4.", 3)) {
		for (int i = 0; i < 4; i++) {
			unsigned b;

			if (!key_dec(&p, 255, &b) || *p++ != (i < 3 ? '.' : '/'))
				return -EINVAL;
			c->addr[i] = b;
		}
		if (!key_dec(&p, 32, &len) || *p)
			return -EINVAL;
		c->family = AF_INET;
	} else if (!strncmp(key, "v6.", 3)) {
		for (int i = 0; i < 16; i++) {
			int hi = hex_val(p[2 * i]), lo = hi < 0 ? -1 : hex_val(p[2 * i + 1]);

			if (lo < 0)
				return -EINVAL;
			c->addr[i] = hi << 4 | lo;
		}
		p += 32;
		if (*p++ != '/' || !key_dec(&p, 128, &len) || *p)
			return -EINVAL;
		c->family = AF_INET6;
	} else {
		return -EINVAL;
	}
	c->len = len;
	{
		struct cidr m = *c;

		cidr_mask(&m);
		if (memcmp(m.addr, c->addr, 16))
			return -EINVAL;	/* host bits set: not a key we write */
	}
	return 0;
}

static const char *act_word(__u8 a)
{
	return a == FENCE_ACT_THROTTLE ? "throttle" : a == FENCE_ACT_MONITOR ? "monitor" : "drop";
}

int fleet_value_encode(const struct fleet_value *v, char *buf, size_t len)
{
	int n = snprintf(buf, len, "xf1 %s %u %u %u %llu %llu %llu %llu %s %s %s %s",
			 act_word(v->action), v->rate, v->burst, v->offences,
			 (unsigned long long)v->expires_ms, (unsigned long long)v->decay_ms,
			 (unsigned long long)v->decided_ms, (unsigned long long)v->ttl_s,
			 v->manual ? "manual" : "promoted", v->origin[0] ? v->origin : "-",
			 v->rule[0] ? v->rule : "-", v->reason);

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	while (n > 0 && buf[n - 1] == ' ')	/* no reason: no trailing blank */
		buf[--n] = 0;
	return n;
}

/* The next blank-separated word of [*p, end) into w (NUL-terminated). */
static bool word(const char **p, const char *end, char *w, size_t len)
{
	const char *s = *p, *e;

	while (s < end && *s == ' ')
		s++;
	for (e = s; e < end && *e != ' '; e++)
		;
	if (e == s || (size_t)(e - s) >= len)
		return false;
	memcpy(w, s, e - s);
	w[e - s] = 0;
	*p = e;
	return true;
}

static bool word_u64(const char **p, const char *end, __u64 *out)
{
	char w[24];
	__u64 v = 0;

	if (!word(p, end, w, sizeof(w)) || !w[0])
		return false;
	for (const char *d = w; *d; d++) {
		if (*d < '0' || *d > '9' || v > (UINT64_MAX - (*d - '0')) / 10)
			return false;
		v = v * 10 + (*d - '0');
	}
	*out = v;
	return true;
}

int fleet_value_decode(const char *buf, size_t len, struct fleet_value *v)
{
	const char *p = buf, *end = buf + len;
	char w[48];
	__u64 x[4], rate, burst, off;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (!word(&p, end, w, sizeof(w)) || strcmp(w, "xf1") || !word(&p, end, w, sizeof(w)))
		return -EINVAL;
	if (!strcmp(w, "drop"))
		v->action = FENCE_ACT_DROP;
	else if (!strcmp(w, "throttle"))
		v->action = FENCE_ACT_THROTTLE;
	else if (!strcmp(w, "monitor"))
		v->action = FENCE_ACT_MONITOR;
	else
		return -EINVAL;
	if (!word_u64(&p, end, &rate) || !word_u64(&p, end, &burst) || !word_u64(&p, end, &off) ||
	    rate > UINT32_MAX || burst > UINT32_MAX || off > UINT32_MAX)
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		if (!word_u64(&p, end, &x[i]))
			return -EINVAL;
	v->rate = rate;
	v->burst = burst;
	v->offences = off;
	v->expires_ms = x[0];
	v->decay_ms = x[1];
	v->decided_ms = x[2];
	v->ttl_s = x[3];
	if (!word(&p, end, w, sizeof(w)) || (strcmp(w, "manual") && strcmp(w, "promoted")))
		return -EINVAL;
	v->manual = !strcmp(w, "manual");
	if (!word(&p, end, v->origin, sizeof(v->origin)) || !word(&p, end, v->rule, sizeof(v->rule)))
		return -EINVAL;
	if (!strcmp(v->origin, "-"))
		v->origin[0] = 0;
	if (!strcmp(v->rule, "-"))
		v->rule[0] = 0;
	if (p < end && *p == ' ')
		p++;
	n = end - p;
	if (n >= sizeof(v->reason))
		n = sizeof(v->reason) - 1;
	memcpy(v->reason, p, n);
	v->reason[n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v->reason[i] < ' ')
			v->reason[i] = ' ';
	return 0;
}

/* 0 = never: later than any time */
static bool later(__u64 a, __u64 b)
{
	return b && (!a || a > b);
}

bool fleet_merge(const struct fleet_value *cur, const struct fleet_value *mine,
		 struct fleet_value *out)
{
	bool changed = false;

	*out = *cur;
	if (mine->action < cur->action ||
	    (mine->action == cur->action && mine->action == FENCE_ACT_THROTTLE &&
	     mine->rate < cur->rate)) {
		out->action = mine->action;
		out->rate = mine->rate;
		out->burst = mine->burst;
		changed = true;
	}
	if (later(mine->expires_ms, cur->expires_ms)) {
		out->expires_ms = mine->expires_ms;
		changed = true;
	}
	if (mine->offences > cur->offences) {
		out->offences = mine->offences;
		changed = true;
	}
	if (mine->decay_ms > cur->decay_ms) {
		out->decay_ms = mine->decay_ms;
		changed = true;
	}
	if (mine->ttl_s > cur->ttl_s) {
		out->ttl_s = mine->ttl_s;
		changed = true;
	}
	if (mine->manual && !cur->manual) {
		out->manual = 1;
		changed = true;
	}
	if (changed) {
		memcpy(out->origin, mine->origin, sizeof(out->origin));
		memcpy(out->rule, mine->rule, sizeof(out->rule));
		memcpy(out->reason, mine->reason, sizeof(out->reason));
		out->decided_ms = mine->decided_ms;
	}
	return changed;
}

bool fleet_merge_worth(const struct fleet_value *cur, const struct fleet_value *out,
		       __u64 now_ms)
{
	__u64 step = out->ttl_s * 1000 / FLEET_EXTEND_STEP;

	if (out->manual || out->action != cur->action || out->rate != cur->rate ||
	    out->burst != cur->burst || out->offences != cur->offences || out->ttl_s != cur->ttl_s)
		return true;
	if (!out->expires_ms || !cur->expires_ms || cur->expires_ms <= now_ms || !step)
		return true;	/* now for good, or a ban that had ended: a new term */
	if (!out->decay_ms != !cur->decay_ms)
		return true;
	return out->expires_ms - cur->expires_ms >= step || out->decay_ms - cur->decay_ms >= step;
}

bool fleet_value_ended(const struct fleet_value *v, __u64 now_ms)
{
	return v->expires_ms && v->expires_ms <= now_ms;
}

bool fleet_value_forgotten(const struct fleet_value *v, __u64 now_ms)
{
	return fleet_value_ended(v, now_ms) && (!v->decay_ms || v->decay_ms <= now_ms);
}

/* --- a prefix-keyed hash (open addressing, no deletes) ------------------ */

/* Every input bit reaches the low bits the table indexes by (a prefix
 * differs from its neighbours in a few high bits of one word). */
static __u64 mix64(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static __u64 pfx_hash(const struct cidr *c)
{
	__u64 a, b;

	memcpy(&a, c->addr, 8);
	memcpy(&b, c->addr + 8, 8);
	return mix64(mix64(a ^ ((__u64)c->family << 56 | (__u64)c->len << 48)) ^ b);
}

static bool pfx_eq(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

__u32 fleet_map_get(const struct fleet_map *m, const struct cidr *c)
{
	if (!m->cap)
		return 0;
	for (size_t i = pfx_hash(c) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->s[i].idx)
			return 0;
		if (pfx_eq(&m->s[i].c, c))
			return m->s[i].idx;
	}
}

int fleet_map_put(struct fleet_map *m, const struct cidr *c, __u32 idx)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct fleet_map_slot *s = calloc(cap, sizeof(*s));

		if (!s)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->s[i].idx)
				continue;
			for (size_t j = pfx_hash(&m->s[i].c) & (cap - 1);; j = (j + 1) & (cap - 1))
				if (!s[j].idx) {
					s[j] = m->s[i];
					break;
				}
		}
		free(m->s);
		m->s = s;
		m->cap = cap;
	}
	for (size_t i = pfx_hash(c) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->s[i].idx) {
			m->s[i].c = *c;
			m->s[i].idx = idx;
			m->n++;
			return 0;
		}
		if (pfx_eq(&m->s[i].c, c)) {
			m->s[i].idx = idx;
			return 0;
		}
	}
}

void fleet_map_free(struct fleet_map *m)
{
	free(m->s);
	memset(m, 0, sizeof(*m));
}

/* --- the client --------------------------------------------------------- */

/* What the publisher needs of a key: its revision and the fields the merge
 * compares (the strings of a merge result are always the offer's). */
struct mirror {
	struct cidr c;
	__u64 rev;			/* last revision seen (a put or a delete marker) */
	struct fleet_value term;	/* live: the numbers of what the bucket holds */
	__u32 want;			/* index + 1 into wants: an offer to merge in */
	bool live;			/* holds a value (not a delete marker) */
	bool own;			/* the value's origin is this node */
	__u32 sent;			/* index + 1 into wants: the write in flight */
	__u32 seq;			/* of the write in flight (its reply subject) */
	__u64 sent_rev;			/* the revision it expects */
	bool inflight;			/* a write of ours awaits its ack */
	bool stale;			/* a write was refused: wait for the watcher to bring
					 * the key's new revision (or read it, after a while) */
	__u64 stale_ms;			/* CLOCK_MONOTONIC it became stale */
	bool queued;			/* on the publisher's list */
	__u64 cleaning_ms;		/* a delete of ours awaits its ack since (mono) */
};

/* A write in flight, oldest first: an ack not back in time is taken as
 * lost (nats.c's own MaxWait cannot be relied on across reconnects). */
struct flight {
	__u32 idx, seq;
	__u64 sent_ms;			/* CLOCK_MONOTONIC */
};

struct node_counts {
	char name[32];
	__u32 seq;
	__u64 recv_ms;			/* CLOCK_MONOTONIC */
	struct fleet_count *v;
	size_t n, cap;
};

struct fleet {
	struct config_fleet cfg;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* the publisher's wake-up */
	pthread_t watch_th, pub_th;
	bool watch_started, pub_started;
	pthread_t reap_th[FLEET_REAPERS];	/* watchers let go (watcher thread, stop) */
	unsigned n_reap;
	volatile bool stop;
	int wake_fd;

	/* nats.c objects: made by the watcher, used by both threads */
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
	kvWatcher *w;
	/* the watcher's own binding of the bucket (watcher thread): its API
	 * wait is that of the watcher's creation (watch_wait_ms) */
	jsCtx *wjs;
	kvStore *wkv;
	unsigned wjs_wait_ms;
	unsigned watch_timeouts;	/* creations in a row that timed out */
	natsSubscription *counts_sub;
	natsSubscription *ack_sub;	/* our writes' acks */
	char ack_prefix[64];
	volatile bool resnap;		/* reconnected: read the bucket again */
	bool backoff;			/* a write failed: the publisher pauses (mu) */

	/* under mu */
	struct mirror *m;
	size_t n_m, cap_m;
	struct fleet_map by_pfx;
	struct fleet_value *wants;	/* offers waiting and writes in flight */
	struct flight *flights;
	size_t fl_head, fl_n, fl_cap;
	__u32 seq;
	__u32 *free_wants;
	size_t n_wants, cap_wants, n_free_wants;
	__u32 *todo;			/* mirror indexes to publish */
	size_t n_todo, cap_todo;
	struct fleet_change *ch;	/* for the daemon */
	size_t n_ch, cap_ch;
	struct fleet_count *counts_out;	/* this tick's, to send */
	size_t n_counts_out;
	__u64 counts_tick_ms;
	__u32 counts_seq;
	bool counts_due;
	struct node_counts nodes[FLEET_MAX_NODES];
	unsigned n_nodes;
	struct fleet_status st;
	__u64 last_clean_ms;
	char counts_subject[160];	/* every node's (subscribed) */
	char counts_pub[160];		/* ours */
	/* the API tier's reports, shared */
	natsSubscription *sig_sub;
	struct fleet_signal *sig_out, *sig_in;	/* to send; received (under mu) */
	size_t n_sig_out, cap_sig_out, n_sig_in, cap_sig_in;
	char sig_subject[160], sig_pub[160];
};

static void set_error(struct fleet *f, const char *what, natsStatus s)
{
	fleet_debug("%s: %s (%s)", what, natsStatus_GetText(s), nats_GetLastError(NULL));
	pthread_mutex_lock(&f->mu);
	snprintf(f->st.error, sizeof(f->st.error), "%s: %s", what,
		 s == NATS_OK ? "ok" : natsStatus_GetText(s));
	pthread_mutex_unlock(&f->mu);
}

static void wake_daemon(struct fleet *f)
{
	__u64 one = 1;

	if (write(f->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the daemon has plenty to read already */
	}
}

/* The mirror entry of c, created if need be (mu held); NULL for no memory. */
static struct mirror *mirror_get(struct fleet *f, const struct cidr *c, bool create)
{
	__u32 i = fleet_map_get(&f->by_pfx, c);

	if (i)
		return &f->m[i - 1];
	if (!create)
		return NULL;
	if (f->n_m == f->cap_m) {
		size_t cap = f->cap_m ? f->cap_m * 2 : 1024;
		struct mirror *m = realloc(f->m, cap * sizeof(*m));

		if (!m)
			return NULL;
		f->m = m;
		f->cap_m = cap;
	}
	if (fleet_map_put(&f->by_pfx, c, f->n_m + 1))
		return NULL;
	memset(&f->m[f->n_m], 0, sizeof(f->m[0]));
	f->m[f->n_m].c = *c;
	return &f->m[f->n_m++];
}

static int push_change(struct fleet *f, const struct fleet_change *x)
{
	if (f->n_ch == f->cap_ch) {
		size_t cap = f->cap_ch ? f->cap_ch * 2 : 256;
		struct fleet_change *v = realloc(f->ch, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->ch = v;
		f->cap_ch = cap;
	}
	f->ch[f->n_ch++] = *x;
	return 0;
}

static void todo_push(struct fleet *f, struct mirror *e)
{
	if (e->queued)
		return;
	if (f->n_todo == f->cap_todo) {
		size_t cap = f->cap_todo ? f->cap_todo * 2 : 256;
		__u32 *v = realloc(f->todo, cap * sizeof(*v));

		if (!v)
			return;		/* offered again at the next decision */
		f->todo = v;
		f->cap_todo = cap;
	}
	f->todo[f->n_todo++] = e - f->m;
	e->queued = true;
}

/* A value in the pool (mu held): index + 1, 0 for no memory. */
static __u32 val_put(struct fleet *f, const struct fleet_value *v)
{
	__u32 i;

	if (f->n_free_wants) {
		i = f->free_wants[--f->n_free_wants];
	} else {
		if (f->n_wants == f->cap_wants) {
			size_t cap = f->cap_wants ? f->cap_wants * 2 : 256;
			struct fleet_value *w = realloc(f->wants, cap * sizeof(*w));
			__u32 *fr;

			if (!w)
				return 0;
			f->wants = w;
			fr = realloc(f->free_wants, cap * sizeof(*fr));
			if (!fr)
				return 0;
			f->free_wants = fr;
			f->cap_wants = cap;
		}
		i = f->n_wants++;
	}
	f->wants[i] = *v;
	return i + 1;
}

static void val_free(struct fleet *f, __u32 *idx)
{
	if (!*idx)
		return;
	f->free_wants[f->n_free_wants++] = *idx - 1;
	*idx = 0;
}

/* Merge v into e's waiting offer (mu held). */
static void want_merge(struct fleet *f, struct mirror *e, const struct fleet_value *v)
{
	struct fleet_value out;

	if (!e->want)
		e->want = val_put(f, v);
	else if (fleet_merge(&f->wants[e->want - 1], v, &out))
		f->wants[e->want - 1] = out;
}

static void want_drop(struct fleet *f, struct mirror *e)
{
	val_free(f, &e->want);
}

/* The write in flight did not land (refused, lost): it becomes an offer
 * again, merged with anything offered since (mu held). */
static void flight_back(struct fleet *f, struct mirror *e)
{
	if (e->sent) {
		want_merge(f, e, &f->wants[e->sent - 1]);
		val_free(f, &e->sent);
	}
	e->inflight = false;
	todo_push(f, e);
}

static void flight_push(struct fleet *f, struct mirror *e, __u64 now)
{
	if (f->fl_head + f->fl_n == f->fl_cap) {
		if (f->fl_head) {
			memmove(f->flights, f->flights + f->fl_head, f->fl_n * sizeof(*f->flights));
			f->fl_head = 0;
		} else {
			size_t cap = f->fl_cap ? f->fl_cap * 2 : 1024;
			struct flight *v = realloc(f->flights, cap * sizeof(*v));

			if (!v)
				return;		/* no timeout for this one: an ack or a reconnect ends it */
			f->flights = v;
			f->fl_cap = cap;
		}
	}
	f->flights[f->fl_head + f->fl_n++] = (struct flight){
		.idx = e - f->m, .seq = e->seq, .sent_ms = now,
	};
}

/* Writes whose ack is overdue are taken as lost (mu held). */
static void flights_expire(struct fleet *f, __u64 now)
{
	while (f->fl_n) {
		struct flight *x = &f->flights[f->fl_head];
		struct mirror *e = &f->m[x->idx];

		if (e->inflight && e->seq == x->seq) {
			if (now - x->sent_ms < FLEET_ACK_LOST_MS)
				break;
			fleet_debug("no ack for a write after %d ms: sending it again",
				 FLEET_ACK_LOST_MS);
			flight_back(f, e);
			f->backoff = true;
		}
		f->fl_head++;
		f->fl_n--;
	}
	if (!f->fl_n)
		f->fl_head = 0;
}

void fleet_offer(struct fleet *f, const struct fleet_offer *o, size_t n)
{
	for (size_t i = 0; i < n;) {
		/* in slices: the watcher and the acks wait on the mutex too */
		size_t end = n - i > FLEET_OFFER_SLICE ? i + FLEET_OFFER_SLICE : n;

		pthread_mutex_lock(&f->mu);
		for (; i < end; i++) {
			struct mirror *e = mirror_get(f, &o[i].c, true);

			if (!e)
				continue;
			want_merge(f, e, &o[i].v);
			if (e->want)
				todo_push(f, e);
		}
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
	}
}

/* --- nats.c callbacks (its threads) -------------------------------------- */

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct fleet *f = closure;

	(void)nc;
	fleet_debug("disconnected");
	pthread_mutex_lock(&f->mu);
	f->st.connected = false;
	f->st.synced = false;
	f->st.server[0] = 0;
	pthread_mutex_unlock(&f->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct fleet *f = closure;
	char url[128] = "";

	natsConnection_GetConnectedUrl(nc, url, sizeof(url));
	fleet_debug("reconnected to %s", url);
	pthread_mutex_lock(&f->mu);
	f->st.connected = true;
	f->st.reconnects++;
	snprintf(f->st.server, sizeof(f->st.server), "%s", url);
	f->resnap = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* nats.c's asynchronous errors: a subscription's missed heartbeats, an
 * ordered consumer it failed to create again; traced only. */
static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
			   void *closure)
{
	const char *text = nats_GetLastError(NULL);

	(void)nc;
	(void)closure;
	/* sub by address only: nats.c does not hold it for the callback */
	fleet_debug("async error (subscription %p): %s (%s)", (void *)sub,
		    natsStatus_GetText(err), text ? text : "");
}

/* The JetStream ack of one of our writes, on our own inbox: nats.c's
 * asynchronous publish (js_PublishMsgAsync) lost acks for good after a
 * reconnect to a restarted cluster, so writes are plain publishes with a
 * reply subject "INBOX.W.IDX.SEQ" (W: a write, D: a delete), and a
 * missing ack is a lost write after FLEET_ACK_LOST_MS. The ack is the
 * server's JSON: {"stream":..,"seq":N} or {"error":{..,"err_code":N}};
 * a 503 status (no responders) when no stream takes the subject yet. */
static void on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct fleet *f = closure;
	const char *reply = natsMsg_GetSubject(msg) + strlen(f->ack_prefix);
	const char *data = natsMsg_GetData(msg), *status = NULL, *p;
	int len = natsMsg_GetDataLength(msg);
	unsigned long idx, seq = 0, err = 0;
	__u64 stored = 0;
	char kind, buf[512];
	struct mirror *e;

	(void)nc;
	(void)sub;
	if (sscanf(reply, ".%c.%lu.%lu", &kind, &idx, &seq) < 2)
		goto out;
	natsMsgHeader_Get(msg, "Status", &status);
	snprintf(buf, sizeof(buf), "%.*s", len > 0 ? len : 0, data ? data : "");
	if (status && !strcmp(status, "503"))
		err = 503;
	else if ((p = strstr(buf, "\"err_code\":")))
		err = strtoul(p + 11, NULL, 10);
	else if (strstr(buf, "\"error\""))
		err = 1;
	else if ((p = strstr(buf, "\"seq\":")))
		stored = strtoull(p + 6, NULL, 10);
	pthread_mutex_lock(&f->mu);
	if (idx >= f->n_m) {
		pthread_mutex_unlock(&f->mu);
		goto out;
	}
	e = &f->m[idx];
	if (kind == 'D') {			/* a delete of a forgotten key */
		e->cleaning_ms = 0;
	} else if (stored && !err) {
		if (stored > e->rev && e->inflight && e->seq == seq && e->sent) {
			if (!e->live)
				f->st.keys++;	/* the watcher finds it live already */
			e->rev = stored;
			e->term = f->wants[e->sent - 1];
			e->live = true;
			e->own = true;
		}
		f->st.published++;
		if (e->inflight && e->seq == seq) {
			val_free(f, &e->sent);
			e->inflight = false;
			if (e->want)
				todo_push(f, e);
		}
		fleet_debug("write %lu stored at revision %llu", seq, (unsigned long long)stored);
	} else if (e->inflight && e->seq == seq) {
		/* refused (someone wrote first) or no stream yet: what we sent
		 * is an offer again; a conflict reads the key first */
		if (err == JSStreamWrongLastSequenceErr) {
			f->st.conflicts++;
			/* stale unless the watcher brought a newer revision already */
			e->stale = e->rev == e->sent_rev;
			e->stale_ms = mono_ms();
		} else {
			snprintf(f->st.error, sizeof(f->st.error), "write refused: %.100s",
				 err == 503 ? "no responders (JetStream not ready)" : buf);
			f->backoff = true;
		}
		fleet_debug("write %lu refused (%lu)", seq, err);
		flight_back(f, e);
	}
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
out:
	natsMsg_Destroy(msg);
}

/* A node's counts (one part of its tick's). */
static void on_counts(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct fleet *f = closure;
	const char *subj = natsMsg_GetSubject(msg), *node = strrchr(subj, '.');
	const unsigned char *p = (const unsigned char *)natsMsg_GetData(msg);
	int len = natsMsg_GetDataLength(msg);
	__u32 seq, n;
	struct node_counts *nd = NULL;

	(void)nc;
	(void)sub;
	if (!node || !strcmp(node + 1, f->cfg.node) || len < 24 || memcmp(p, "XFC1", 4))
		goto out;
	node++;
	memcpy(&seq, p + 4, 4);
	memcpy(&n, p + 12, 4);
	seq = le32toh(seq);
	n = le32toh(n);
	if ((size_t)len != 24 + (size_t)n * 32)
		goto out;
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < f->n_nodes; i++)
		if (!strcmp(f->nodes[i].name, node))
			nd = &f->nodes[i];
	if (!nd && f->n_nodes < FLEET_MAX_NODES) {
		nd = &f->nodes[f->n_nodes++];
		memset(nd, 0, sizeof(*nd));
		snprintf(nd->name, sizeof(nd->name), "%s", node);
	}
	if (nd) {
		if (nd->seq != seq)
			nd->n = 0;	/* a new tick: its parts replace the last one's */
		nd->seq = seq;
		nd->recv_ms = mono_ms();
		if (nd->n + n > nd->cap) {
			size_t cap = nd->n + n + 1024;
			struct fleet_count *v = realloc(nd->v, cap * sizeof(*v));

			if (v) {
				nd->v = v;
				nd->cap = cap;
			}
		}
		for (__u32 i = 0; i < n && nd->n < nd->cap; i++) {
			const unsigned char *r = p + 24 + i * 32;
			struct fleet_count *x = &nd->v[nd->n];
			__u32 b[3];

			memset(&x->c, 0, sizeof(x->c));
			if ((r[0] != 4 || r[1] > 32) && (r[0] != 6 || r[1] > 128))
				continue;
			x->c.family = r[0] == 4 ? AF_INET : AF_INET6;
			x->c.len = r[1];
			memcpy(x->c.addr, r + 4, 16);
			cidr_mask(&x->c);
			memcpy(b, r + 20, 12);
			for (int k = 0; k < 3; k++)
				b[k] = le32toh(b[k]);
			memcpy(&x->new_conns, &b[0], 4);
			memcpy(&x->packets, &b[1], 4);
			memcpy(&x->bytes, &b[2], 4);
			nd->n++;
		}
	}
	pthread_mutex_unlock(&f->mu);
out:
	natsMsg_Destroy(msg);
}

/* Another gateway's reports: "XFS1", count (le32), then FLEET_SIGNAL_REC
 * bytes each: family, length, kind length, 0, address[16], account
 * (le64), weight (le32), kind[32]. */
static void on_signals(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct fleet *f = closure;
	const char *subj = natsMsg_GetSubject(msg), *node = strrchr(subj, '.');
	const unsigned char *p = (const unsigned char *)natsMsg_GetData(msg);
	int len = natsMsg_GetDataLength(msg);
	__u32 n;

	(void)nc;
	(void)sub;
	if (!node || !strcmp(node + 1, f->cfg.node) || len < 8 || memcmp(p, "XFS1", 4))
		goto out;
	node++;
	memcpy(&n, p + 4, 4);
	n = le32toh(n);
	if ((size_t)len != 8 + (size_t)n * FLEET_SIGNAL_REC)
		goto out;
	pthread_mutex_lock(&f->mu);
	if (f->n_sig_in + n > f->cap_sig_in && f->n_sig_in + n <= FLEET_SIGNALS_MAX_IN) {
		size_t cap = f->n_sig_in + n + 1024;
		struct fleet_signal *v = realloc(f->sig_in, cap * sizeof(*v));

		if (v) {
			f->sig_in = v;
			f->cap_sig_in = cap;
		}
	}
	for (__u32 i = 0; i < n; i++) {
		const unsigned char *r = p + 8 + (size_t)i * FLEET_SIGNAL_REC;
		struct fleet_signal *x;
		__u64 acc;
		__u32 w;

		if (((r[0] != 4 || r[1] > 32) && (r[0] != 6 || r[1] > 128)) || r[2] > FLEET_KIND_MAX)
			continue;
		memcpy(&w, r + 28, 4);
		if (!le32toh(w))
			continue;
		if (f->n_sig_in >= f->cap_sig_in) {
			f->st.signals_dropped++;
			continue;
		}
		x = &f->sig_in[f->n_sig_in++];
		memset(x, 0, sizeof(*x));
		x->c.family = r[0] == 4 ? AF_INET : AF_INET6;
		x->c.len = r[1];
		memcpy(x->c.addr, r + 4, 16);
		cidr_mask(&x->c);
		memcpy(&acc, r + 20, 8);
		x->account = le64toh(acc);
		x->weight = le32toh(w);
		memcpy(x->kind, r + 32, r[2]);
		for (int k = 0; x->kind[k]; k++)	/* as the intake takes kinds */
			if (!isalnum((unsigned char)x->kind[k]) && !strchr("_.-", x->kind[k]))
				x->kind[k] = '_';
		snprintf(x->origin, sizeof(x->origin), "%s", node);
		f->st.signals_received++;
	}
	pthread_mutex_unlock(&f->mu);
out:
	natsMsg_Destroy(msg);
}

/* --- the watcher thread: connection, bucket, snapshot, changes ---------- */

static natsStatus connect_once(struct fleet *f, natsConnection **nc, const char *role, bool cbs)
{
	const char *urls[CONFIG_MAX_SERVERS];
	natsOptions *o = NULL;
	natsStatus s;
	bool tls = f->cfg.tls_ca[0] || f->cfg.tls_cert[0];

	for (unsigned i = 0; i < f->cfg.n_servers; i++) {
		urls[i] = f->cfg.servers[i];
		tls |= !strncmp(urls[i], "tls://", 6);
	}
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, urls, f->cfg.n_servers);
	if (s == NATS_OK) {
		char name[64];

		snprintf(name, sizeof(name), "xdpfence %s%s", f->cfg.node, role);
		s = natsOptions_SetName(o, name);
	}
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, FLEET_CONNECT_TIMEOUT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 500);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(o, FLEET_PING_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(o, 3);
	if (s == NATS_OK && cbs)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, f);
	if (s == NATS_OK && cbs)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, f);
	if (s == NATS_OK && cbs)
		s = natsOptions_SetErrorHandler(o, on_async_error, f);
	if (s == NATS_OK && tls)
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && f->cfg.tls_ca[0])
		s = natsOptions_LoadCATrustedCertificates(o, f->cfg.tls_ca);
	if (s == NATS_OK && f->cfg.tls_cert[0])
		s = natsOptions_LoadCertificatesChain(o, f->cfg.tls_cert, f->cfg.tls_key);
	if (s == NATS_OK && f->cfg.creds[0])
		s = natsOptions_SetUserCredentialsFromFiles(o, f->cfg.creds, NULL);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, o);
	natsOptions_Destroy(o);
	return s;
}

/* Sleep up to ms, or less when told to stop. */
static void nap(struct fleet *f, unsigned ms)
{
	for (unsigned t = 0; t < ms && !f->stop; t += 50)
		usleep(50000);
}

/* Our writes' acks come to an inbox of ours (at connect). */
static natsStatus ack_subscribe(struct fleet *f)
{
	natsSubscription *sub = NULL;
	natsInbox *inbox = NULL;
	char subj[96];
	natsStatus s = natsInbox_Create(&inbox);

	if (s == NATS_OK) {
		snprintf(subj, sizeof(subj), "%s.>", (const char *)inbox);
		s = natsConnection_Subscribe(&sub, f->nc, subj, on_ack, f);
	}
	if (s == NATS_OK) {
		natsSubscription_SetPendingLimits(sub, -1, -1);
		pthread_mutex_lock(&f->mu);
		snprintf(f->ack_prefix, sizeof(f->ack_prefix), "%s", (const char *)inbox);
		pthread_mutex_unlock(&f->mu);
		f->ack_sub = sub;
	}
	natsInbox_Destroy(inbox);
	return s;
}

/* Connect, the JetStream context, the counts subscription. */
static natsStatus start_conn(struct fleet *f)
{
	jsOptions jo;
	natsStatus s = connect_once(f, &f->nc, "", true);
	char url[128] = "";

	if (s != NATS_OK)
		return s;
	jsOptions_Init(&jo);
	jo.Wait = FLEET_API_WAIT_MS;
	s = natsConnection_JetStream(&f->js, f->nc, &jo);
	if (s == NATS_OK)
		s = natsConnection_Subscribe(&f->counts_sub, f->nc, f->counts_subject, on_counts, f);
	if (s == NATS_OK)
		s = natsConnection_Subscribe(&f->sig_sub, f->nc, f->sig_subject, on_signals, f);
	if (s == NATS_OK)
		s = ack_subscribe(f);

	if (s == NATS_OK) {
		natsSubscription_SetPendingLimits(f->counts_sub, 4096, 256 * 1024 * 1024);
		natsSubscription_SetPendingLimits(f->sig_sub, 4096, 64 * 1024 * 1024);
	}
	natsConnection_GetConnectedUrl(f->nc, url, sizeof(url));
	pthread_mutex_lock(&f->mu);
	f->st.connected = s == NATS_OK;
	snprintf(f->st.server, sizeof(f->st.server), "%s", url);
	pthread_mutex_unlock(&f->mu);
	return s;
}

/* Bind the bucket, or create it (no bucket TTL: values carry theirs). */
static natsStatus bind_bucket(struct fleet *f)
{
	kvConfig kc;
	natsStatus s = js_KeyValue(&f->kv, f->js, f->cfg.bucket);

	if (s != NATS_NOT_FOUND)
		return s;
	kvConfig_Init(&kc);
	kc.Bucket = f->cfg.bucket;
	kc.Description = "xdpfence fleet bans (one key per prefix)";
	kc.History = 1;
	kc.Replicas = (int)f->cfg.replicas;
	kc.StorageType = js_FileStorage;
	s = js_CreateKeyValue(&f->kv, f->js, &kc);
	if (s != NATS_OK)	/* created meanwhile by another gateway? */
		s = js_KeyValue(&f->kv, f->js, f->cfg.bucket);
	return s;
}


/* One entry of the watcher: the mirror, then the daemon's queue. */
static void on_entry(struct fleet *f, kvEntry *e, __u32 gen)
{
	const char *key = kvEntry_Key(e);
	kvOperation op = kvEntry_Operation(e);
	struct fleet_change x = { .gen = gen, .rev = kvEntry_Revision(e), .recv_ms = wall_ms() };
	struct mirror *m;
	bool first;

	if (!key || fleet_key_parse(key, &x.c))
		return;		/* not one of ours */
	if (op == kvOp_Put) {
		if (fleet_value_decode(kvEntry_Value(e), kvEntry_ValueLen(e), &x.v))
			return;
		x.op = FLEET_PUT;
	} else {
		x.op = FLEET_DEL;
	}
	pthread_mutex_lock(&f->mu);
	m = mirror_get(f, &x.c, true);
	if (m && x.rev >= m->rev) {
		if (m->live && x.op == FLEET_DEL)
			f->st.keys--;
		else if (!m->live && x.op == FLEET_PUT)
			f->st.keys++;
		m->rev = x.rev;
		m->live = x.op == FLEET_PUT;
		m->own = m->live && !strcmp(x.v.origin, f->cfg.node);
		if (m->live)
			m->term = x.v;
		if (m->stale)
			pthread_cond_signal(&f->cv);	/* a refused write may go again */
		m->stale = false;
	}
	first = !f->n_ch;
	if (!push_change(f, &x)) {
		f->st.received++;
		if (x.op == FLEET_DEL)
			f->st.deleted++;
	}
	pthread_mutex_unlock(&f->mu);
	if (first)
		wake_daemon(f);
}

static void *reap_main(void *arg)
{
	kvWatcher_Destroy(arg);
	return NULL;
}

/* Let a watcher go. Destroying it deletes its consumer on the server,
 * waiting up to the API's wait (30 s) when the node that held it died: not
 * on the watcher thread, which must follow the bucket again at once. */
static void watcher_drop(struct fleet *f, kvWatcher *w)
{
	if (!w)
		return;
	if (f->n_reap == FLEET_REAPERS) {
		pthread_join(f->reap_th[0], NULL);
		memmove(f->reap_th, f->reap_th + 1, (FLEET_REAPERS - 1) * sizeof(f->reap_th[0]));
		f->n_reap--;
	}
	if (pthread_create(&f->reap_th[f->n_reap], NULL, reap_main, w))
		kvWatcher_Destroy(w);
	else
		f->n_reap++;
}

/* The bucket's stream: the messages it holds and its last sequence. Asked
 * with a short wait: the answer decides what to do next, soon. */
static natsStatus stream_state(struct fleet *f, __u64 *msgs, __u64 *last)
{
	jsStreamInfo *si = NULL;
	jsOptions jo;
	char stream[80];
	natsStatus s;

	jsOptions_Init(&jo);
	jo.Wait = FLEET_PROBE_WAIT_MS;
	snprintf(stream, sizeof(stream), "KV_%s", f->cfg.bucket);
	s = js_GetStreamInfo(&si, f->js, stream, &jo, NULL);
	if (s == NATS_OK) {
		*msgs = si->State.Msgs;
		*last = si->State.LastSeq;
	}
	jsStreamInfo_Destroy(si);
	return s;
}

/* How long a watcher's creation may wait. Its consumer is R1, and server
 * 2.9 places it on any node of the stream, a dead one too, which never
 * answers: so not the API's 30 s, but what the bucket's size needs (the
 * server finds the last message of every key first). A timeout on a
 * bucket that small is most likely such a placement (1 in 3 with one of
 * three nodes down), or a meta leader being elected, and the next
 * creation waits as long; only every third timeout in a row doubles the
 * wait. */
static unsigned watch_wait_ms(__u64 msgs, unsigned timeouts)
{
	__u64 ms = FLEET_WATCH_WAIT_MS + msgs * FLEET_WATCH_WAIT_KEY_US / 1000;

	for (; timeouts >= 3 && ms < FLEET_API_WAIT_MS; timeouts -= 3)
		ms *= 2;
	return ms < FLEET_API_WAIT_MS ? ms : FLEET_API_WAIT_MS;
}

/* A new watcher of the whole bucket (f->w), its creation waiting at most
 * wait_ms: the bucket is bound through a JetStream context of that wait
 * (nats.c creates an ordered consumer again through it too, after missed
 * heartbeats or a reconnect). */
static natsStatus watcher_create(struct fleet *f, unsigned wait_ms)
{
	kvWatchOptions wo;

	if (!f->wkv || f->wjs_wait_ms != wait_ms) {
		jsCtx *js = NULL;
		kvStore *kv = NULL;
		jsOptions jo;
		natsStatus s;

		jsOptions_Init(&jo);
		jo.Wait = wait_ms;
		s = natsConnection_JetStream(&js, f->nc, &jo);
		if (s == NATS_OK)
			s = js_KeyValue(&kv, js, f->cfg.bucket);
		if (s != NATS_OK) {
			jsCtx_Destroy(js);
			return s;
		}
		kvStore_Destroy(f->wkv);	/* watchers being reaped hold their own */
		jsCtx_Destroy(f->wjs);
		f->wkv = kv;
		f->wjs = js;
		f->wjs_wait_ms = wait_ms;
	}
	kvWatchOptions_Init(&wo);
	return kvStore_WatchAll(&f->w, f->wkv, &wo);
}

/* Has the watcher stopped bringing changes? Its consumer lives on one
 * server, not always the one we are connected to: when that server dies
 * the watcher falls silent and nothing else tells us (nats.c sees its
 * heartbeats missing after 10 to 20 s and makes the consumer again, on
 * any node, the dead one too). Asked while it is quiet, every
 * FLEET_STALL_IDLE_MS: the stream's last sequence, which the watcher
 * brings in a few ms; if it holds one the watcher has not brought
 * (seen), asked again FLEET_STALL_CONFIRM_MS later, and stuck if the
 * watcher brought nothing meanwhile. *behind: the sequence waited for. */
static bool watcher_stuck(struct fleet *f, __u64 seen, __u64 *behind, __u64 *next_check)
{
	__u64 msgs, last;
	natsStatus s = stream_state(f, &msgs, &last);

	if (s != NATS_OK) {
		/* no answer is no evidence: the stream may be electing a leader */
		*next_check = mono_ms() + FLEET_STALL_CONFIRM_MS;
		return false;
	}
	if (*behind && *behind > seen)
		return true;
	*behind = last > seen ? last : 0;
	*next_check = mono_ms() + (*behind ? FLEET_STALL_CONFIRM_MS : FLEET_STALL_IDLE_MS);
	return false;
}

/* Read the bucket whole (a new watcher), then follow it, until the
 * connection needs a new snapshot, the watcher is stuck, or we stop. */
static void watch_bucket(struct fleet *f)
{
	__u64 msgs = 0, last = 0, seen = 0, behind = 0, next_check, t0;
	unsigned wait_ms;
	__u32 gen;
	natsStatus s;

	watcher_drop(f, f->w);
	f->w = NULL;
	f->resnap = false;	/* a reconnect from now on reads the bucket again */
	/* what a snapshot taken from now covers; and the stream has a leader */
	s = stream_state(f, &msgs, &last);
	if (s != NATS_OK) {
		set_error(f, "reading the bucket's state", s);
		if (s != NATS_TIMEOUT)
			nap(f, FLEET_RETRY_MS);
		return;
	}
	wait_ms = watch_wait_ms(msgs, f->watch_timeouts);
	t0 = mono_ms();
	fleet_debug("creating a watcher (%llu messages, last %llu; wait %u ms)",
		    (unsigned long long)msgs, (unsigned long long)last, wait_ms);
	s = watcher_create(f, wait_ms);
	fleet_debug("watcher: %s after %llu ms", natsStatus_GetText(s),
		    (unsigned long long)(mono_ms() - t0));
	if (s != NATS_OK) {
		set_error(f, "watching the bucket", s);
		/* a timeout waited already: again at once, and longer */
		if (s == NATS_TIMEOUT && f->watch_timeouts < 24)
			f->watch_timeouts++;
		else if (s != NATS_TIMEOUT)
			nap(f, FLEET_RETRY_MS);
		return;
	}
	f->watch_timeouts = 0;
	pthread_mutex_lock(&f->mu);
	gen = ++f->st.gen;
	fleet_debug("reading the bucket whole (snapshot %u)", gen);
	f->st.synced = false;
	f->st.keys = 0;
	for (size_t i = 0; i < f->n_m; i++)
		f->m[i].live = false;	/* the snapshot says again what is */
	pthread_mutex_unlock(&f->mu);
	next_check = mono_ms() + FLEET_STALL_IDLE_MS;
	while (!f->stop && !f->resnap) {
		kvEntry *e = NULL;

		s = kvWatcher_Next(&e, f->w, 200);
		if (s == NATS_TIMEOUT) {
			if (mono_ms() < next_check || !watcher_stuck(f, seen, &behind, &next_check))
				continue;
			fleet_debug("watcher stuck (quiet; the stream is at %llu, it brought %llu): "
				    "reading the bucket again", (unsigned long long)behind,
				    (unsigned long long)seen);
			set_error(f, "watcher stuck", NATS_TIMEOUT);
			return;
		}
		if (s != NATS_OK) {
			set_error(f, "watcher", s);
			nap(f, 200);
			return;
		}
		behind = 0;
		next_check = mono_ms() + FLEET_STALL_IDLE_MS;
		if (!e) {	/* the snapshot is complete */
			struct fleet_change x = { .op = FLEET_SYNCED, .gen = gen, .recv_ms = wall_ms() };
			bool first;

			if (seen < last)
				seen = last;	/* what was deleted before it is covered too */
			pthread_mutex_lock(&f->mu);
			fleet_debug("snapshot %u read: %llu keys", gen, (unsigned long long)f->st.keys);
			f->st.synced = true;
			f->st.last_sync_ms = x.recv_ms;
			first = !f->n_ch;
			push_change(f, &x);
			for (size_t i = 0; i < f->n_m; i++)	/* offered meanwhile */
				if (f->m[i].want)
					todo_push(f, &f->m[i]);
			pthread_cond_signal(&f->cv);
			pthread_mutex_unlock(&f->mu);
			if (first)
				wake_daemon(f);
			continue;
		}
		if (kvEntry_Revision(e) > seen)
			seen = kvEntry_Revision(e);
		on_entry(f, e, gen);
		kvEntry_Destroy(e);
	}
}

static void *watch_main(void *arg)
{
	struct fleet *f = arg;
	natsStatus s;

	while (!f->stop) {
		if (!f->nc) {
			s = start_conn(f);
			if (s != NATS_OK) {
				set_error(f, "connecting", s);
				natsSubscription_Destroy(f->counts_sub);
				natsSubscription_Destroy(f->sig_sub);
				natsSubscription_Destroy(f->ack_sub);
				jsCtx_Destroy(f->js);
				natsConnection_Destroy(f->nc);
				f->counts_sub = NULL;
				f->sig_sub = NULL;
				f->ack_sub = NULL;
				f->js = NULL;
				f->nc = NULL;
				nap(f, FLEET_RETRY_MS);
				continue;
			}
		}
		if (!f->kv) {
			kvStore *kv = NULL;

			s = bind_bucket(f);
			if (s != NATS_OK) {
				set_error(f, "binding the bucket", s);
				nap(f, FLEET_RETRY_MS);
				continue;
			}
			kv = f->kv;
			pthread_mutex_lock(&f->mu);
			f->kv = kv;
			f->st.error[0] = 0;
			pthread_mutex_unlock(&f->mu);
		}
		watch_bucket(f);
	}
	return NULL;
}

/* --- the publisher thread ------------------------------------------------ */

static void publish_counts(struct fleet *f, struct fleet_count *v, size_t n, __u64 tick_ms,
			   __u32 seq)
{
	size_t parts = n ? (n + FLEET_COUNTS_PER_MSG - 1) / FLEET_COUNTS_PER_MSG : 1;
	unsigned char *buf = malloc(24 + (size_t)FLEET_COUNTS_PER_MSG * 32);

	if (!buf)
		return;
	for (size_t part = 0; part < parts; part++) {
		size_t from = part * FLEET_COUNTS_PER_MSG, k = n - from;
		__u32 x;
		__u16 y;
		__u64 t = htole64(tick_ms);

		if (k > FLEET_COUNTS_PER_MSG)
			k = FLEET_COUNTS_PER_MSG;
		memcpy(buf, "XFC1", 4);
		x = htole32(seq);
		memcpy(buf + 4, &x, 4);
		y = htole16(part);
		memcpy(buf + 8, &y, 2);
		y = htole16(parts);
		memcpy(buf + 10, &y, 2);
		x = htole32(k);
		memcpy(buf + 12, &x, 4);
		memcpy(buf + 16, &t, 8);
		for (size_t i = 0; i < k; i++) {
			const struct fleet_count *c = &v[from + i];
			unsigned char *r = buf + 24 + i * 32;
			__u32 b[3];

			memset(r, 0, 32);
			r[0] = c->c.family == AF_INET ? 4 : 6;
			r[1] = c->c.len;
			memcpy(r + 4, c->c.addr, 16);
			memcpy(&b[0], &c->new_conns, 4);
			memcpy(&b[1], &c->packets, 4);
			memcpy(&b[2], &c->bytes, 4);
			for (int j = 0; j < 3; j++)
				b[j] = htole32(b[j]);
			memcpy(r + 20, b, 12);
		}
		natsConnection_Publish(f->nc, f->counts_pub, buf, 24 + k * 32);
	}
	free(buf);
}

static void publish_signals(struct fleet *f, const struct fleet_signal *v, size_t n)
{
	unsigned char *buf = malloc(8 + (size_t)FLEET_SIGNALS_PER_MSG * FLEET_SIGNAL_REC);

	if (!buf)
		return;
	for (size_t from = 0; from < n; from += FLEET_SIGNALS_PER_MSG) {
		size_t k = n - from < FLEET_SIGNALS_PER_MSG ? n - from : FLEET_SIGNALS_PER_MSG;
		__u32 x = htole32(k);

		memcpy(buf, "XFS1", 4);
		memcpy(buf + 4, &x, 4);
		for (size_t i = 0; i < k; i++) {
			const struct fleet_signal *g = &v[from + i];
			unsigned char *r = buf + 8 + i * FLEET_SIGNAL_REC;
			__u64 acc = htole64(g->account);
			__u32 w = htole32(g->weight);

			memset(r, 0, FLEET_SIGNAL_REC);
			r[0] = g->c.family == AF_INET ? 4 : 6;
			r[1] = g->c.len;
			r[2] = (unsigned char)strnlen(g->kind, FLEET_KIND_MAX);
			memcpy(r + 4, g->c.addr, 16);
			memcpy(r + 20, &acc, 8);
			memcpy(r + 28, &w, 4);
			memcpy(r + 32, g->kind, r[2]);
		}
		if (natsConnection_Publish(f->nc, f->sig_pub, buf, 8 + (int)(k * FLEET_SIGNAL_REC)) ==
		    NATS_OK) {
			pthread_mutex_lock(&f->mu);
			f->st.signals_sent += k;
			pthread_mutex_unlock(&f->mu);
		}
	}
	free(buf);
}

/* Forgotten keys (ban over, offences decayed) are deleted, by their origin
 * after a grace, by anyone after a longer one; a compare-and-swap on the
 * revision, so a key renewed meanwhile stays. mu held; the messages are
 * sent by the caller. */
static size_t plan_cleanup(struct fleet *f, natsMsg **out, size_t max)
{
	__u64 now = wall_ms();
	size_t n = 0;

	for (size_t i = 0; i < f->n_m && n < max; i++) {
		struct mirror *e = &f->m[i];
		char subj[FLEET_KEY_MAX + 80], key[FLEET_KEY_MAX], rev[24], reply[96];
		__u64 grace = e->own ? FLEET_CLEAN_GRACE_OWN_MS : FLEET_CLEAN_GRACE_MS;
		natsMsg *msg = NULL;

		if (!e->live || e->inflight || e->want || (e->cleaning_ms && mono_ms() - e->cleaning_ms <
							   FLEET_ACK_LOST_MS) ||
		    !fleet_value_forgotten(&e->term, now - grace) || fleet_key(&e->c, key, sizeof(key)))
			continue;
		snprintf(subj, sizeof(subj), "$KV.%s.%s", f->cfg.bucket, key);
		snprintf(rev, sizeof(rev), "%llu", (unsigned long long)e->rev);
		snprintf(reply, sizeof(reply), "%s.D.%zu", f->ack_prefix, i);
		if (natsMsg_Create(&msg, subj, reply, NULL, 0) != NATS_OK)
			break;
		natsMsgHeader_Set(msg, FLEET_KV_OP_HDR, "DEL");
		natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence", rev);
		e->cleaning_ms = mono_ms();
		out[n++] = msg;
	}
	return n;
}

/* Up to FLEET_PUB_BATCH offers into messages (mu held): each merged with
 * what the bucket holds, dropped if it would change nothing. */
static size_t plan_publish(struct fleet *f, natsMsg **out, size_t max, __u32 *stale,
			   size_t *n_stale)
{
	size_t n = 0, keep = 0;
	__u64 now_ms = wall_ms();
	size_t k;

	*n_stale = 0;

	for (k = 0; k < f->n_todo && n < max; k++) {
		struct mirror *e = &f->m[f->todo[k]];
		struct fleet_value merged;
		char subj[FLEET_KEY_MAX + 80], key[FLEET_KEY_MAX], val[FLEET_VALUE_MAX], reply[96];
		natsMsg *msg = NULL;
		int len;

		if (f->fl_n >= FLEET_MAX_PENDING)
			break;
		if (e->inflight || (e->cleaning_ms && mono_ms() - e->cleaning_ms < FLEET_ACK_LOST_MS)) {
			f->todo[keep++] = f->todo[k];	/* its turn comes */
			continue;
		}
		e->queued = false;
		if (!e->want)
			continue;
		if (e->stale) {
			/* refused: the watcher brings the new revision (which
			 * clears this); read it only if that takes long */
			e->queued = true;
			if (mono_ms() - e->stale_ms >= 3000 && *n_stale < max)
				stale[(*n_stale)++] = f->todo[k];
			else
				f->todo[keep++] = f->todo[k];
			continue;
		}
		if (!e->live) {
			merged = f->wants[e->want - 1];	/* nothing there: the offer whole */
		} else if (!fleet_merge(&e->term, &f->wants[e->want - 1], &merged) ||
			   !fleet_merge_worth(&e->term, &merged, now_ms)) {
			want_drop(f, e);	/* the bucket says as much already, or near enough */
			continue;
		}
		if (fleet_key(&e->c, key, sizeof(key)) ||
		    (len = fleet_value_encode(&merged, val, sizeof(val))) < 0) {
			want_drop(f, e);
			continue;
		}
		snprintf(subj, sizeof(subj), "$KV.%s.%s", f->cfg.bucket, key);
		snprintf(reply, sizeof(reply), "%s.W.%u.%u", f->ack_prefix, f->todo[k], f->seq + 1);
		if (natsMsg_Create(&msg, subj, reply, val, len) != NATS_OK ||
		    !(e->sent = val_put(f, &merged))) {
			natsMsg_Destroy(msg);
			f->todo[keep++] = f->todo[k];
			e->queued = true;
			continue;
		}
		e->seq = ++f->seq;
		e->sent_rev = e->rev;
		if (e->rev) {
			char rev[24];

			snprintf(rev, sizeof(rev), "%llu", (unsigned long long)e->rev);
			natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence", rev);
		} else {
			natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence", "0");
		}
		want_drop(f, e);
		e->inflight = true;
		flight_push(f, e, mono_ms());
		fleet_debug("writing %s at revision %llu", key, (unsigned long long)e->rev);
		out[n++] = msg;
	}
	memmove(f->todo + keep, f->todo + k, (f->n_todo - k) * sizeof(*f->todo));
	f->n_todo = keep + (f->n_todo - k);
	return n;
}

/* Keys whose write was refused: read their last message again (outside
 * mu), a delete marker included (kvStore_Get would hide its revision). */
static void refresh_stale(struct fleet *f, jsCtx *js, const __u32 *idx, size_t n)
{
	char stream[80];

	snprintf(stream, sizeof(stream), "KV_%s", f->cfg.bucket);
	for (size_t i = 0; i < n; i++) {
		char subj[FLEET_KEY_MAX + 80], key[FLEET_KEY_MAX];
		const char *op = NULL;
		natsMsg *msg = NULL;
		struct fleet_value v;
		struct mirror *m;
		struct cidr c;
		natsStatus s;

		pthread_mutex_lock(&f->mu);
		c = f->m[idx[i]].c;
		pthread_mutex_unlock(&f->mu);
		if (fleet_key(&c, key, sizeof(key)))
			continue;
		snprintf(subj, sizeof(subj), "$KV.%s.%s", f->cfg.bucket, key);
		s = js_GetLastMsg(&msg, js, stream, subj, NULL, NULL);
		pthread_mutex_lock(&f->mu);
		m = &f->m[idx[i]];
		if (s == NATS_OK && natsMsg_GetSequence(msg) >= m->rev) {
			m->rev = natsMsg_GetSequence(msg);
			natsMsgHeader_Get(msg, FLEET_KV_OP_HDR, &op);
			m->live = !op && !fleet_value_decode(natsMsg_GetData(msg),
							     natsMsg_GetDataLength(msg), &v);
			if (m->live) {
				m->term = v;
				m->own = !strcmp(v.origin, f->cfg.node);
			}
		} else if (s == NATS_NOT_FOUND) {
			m->rev = 0;	/* purged: no message for the key at all */
			m->live = false;
		}
		if (s == NATS_OK || s == NATS_NOT_FOUND)
			m->stale = false;
		m->queued = false;
		todo_push(f, m);
		pthread_mutex_unlock(&f->mu);
		natsMsg_Destroy(msg);
		if (s != NATS_OK && s != NATS_NOT_FOUND)
			nap(f, 100);
	}
}

static void *pub_main(void *arg)
{
	struct fleet *f = arg;
	natsMsg **msgs = calloc(FLEET_PUB_BATCH, sizeof(*msgs));
	__u32 *stale = calloc(FLEET_PUB_BATCH, sizeof(*stale));

	if (!msgs || !stale)
		goto out;
	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		/* no need to wait for a snapshot after a reconnect: a write on a
		 * stale revision is refused and the key read again */
		bool ready = f->kv && f->st.connected && f->st.gen;
		struct fleet_count *counts = NULL;
		struct fleet_signal *sigs = NULL;
		size_t n = 0, n_counts = 0, n_clean = 0, n_stale = 0, n_sigs = 0;
		__u64 tick_ms = 0;
		__u32 seq = 0;
		jsCtx *js = f->js;

		flights_expire(f, mono_ms());
		if (f->backoff) {	/* writes failing (no stream leader?): not in a loop */
			struct timespec until;

			f->backoff = false;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 200 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&f->cv, &f->mu, &until);
			continue;
		}
		if (ready && f->n_todo)
			n = plan_publish(f, msgs, FLEET_PUB_BATCH, stale, &n_stale);
		if (f->counts_due && f->nc && f->st.connected) {
			counts = f->counts_out;
			n_counts = f->n_counts_out;
			tick_ms = f->counts_tick_ms;
			seq = ++f->counts_seq;
			f->counts_out = NULL;
			f->n_counts_out = 0;
			f->counts_due = false;
		}
		if (f->n_sig_out && f->nc && f->st.connected) {
			sigs = f->sig_out;
			n_sigs = f->n_sig_out;
			f->sig_out = NULL;
			f->n_sig_out = f->cap_sig_out = 0;
		}
		if (ready && mono_ms() - f->last_clean_ms >= FLEET_CLEAN_EVERY_MS) {
			f->last_clean_ms = mono_ms();
			n_clean = plan_cleanup(f, msgs + n, FLEET_PUB_BATCH - n);
		}
		if (!n && !n_counts && !counts && !n_clean && !n_stale && !n_sigs) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&f->cv, &f->mu, &until);
			continue;
		}
		pthread_mutex_unlock(&f->mu);
		for (size_t i = 0; i < n + n_clean; i++) {
			/* buffered while reconnecting; an ack not back in time is
			 * taken as lost (flights_expire) */
			natsStatus ps = natsConnection_PublishMsg(f->nc, msgs[i]);

			if (ps != NATS_OK) {
				fleet_debug("publish: %s", natsStatus_GetText(ps));
				f->backoff = true;
			}
			natsMsg_Destroy(msgs[i]);
			msgs[i] = NULL;
		}
		if (n_stale)
			refresh_stale(f, js, stale, n_stale);
		if (counts || n_counts)
			publish_counts(f, counts, n_counts, tick_ms, seq);
		free(counts);
		if (n_sigs)
			publish_signals(f, sigs, n_sigs);
		free(sigs);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
out:
	free(msgs);
	free(stale);
	return NULL;
}

/* --- the daemon's side of the client ------------------------------------ */

int fleet_start(struct fleet **fp, const struct config_fleet *cfg, char *err, size_t errlen)
{
	struct fleet *f = calloc(1, sizeof(*f));
	int ret;

	*fp = NULL;
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	snprintf(f->counts_subject, sizeof(f->counts_subject), "xdpfence.%s.counts.*", cfg->bucket);
	snprintf(f->counts_pub, sizeof(f->counts_pub), "xdpfence.%s.counts.%s", cfg->bucket, cfg->node);
	snprintf(f->sig_subject, sizeof(f->sig_subject), "xdpfence.%s.signals.*", cfg->bucket);
	snprintf(f->sig_pub, sizeof(f->sig_pub), "xdpfence.%s.signals.%s", cfg->bucket, cfg->node);
	pthread_mutex_init(&f->mu, NULL);
	{
		pthread_condattr_t a;

		pthread_condattr_init(&a);
		pthread_cond_init(&f->cv, &a);
		pthread_condattr_destroy(&a);
	}
	f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->wake_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(f);
		return ret;
	}
	if (nats_Open(-1) != NATS_OK) {
		snprintf(err, errlen, "the NATS library would not start");
		close(f->wake_fd);
		free(f);
		return -EIO;
	}
	ret = pthread_create(&f->watch_th, NULL, watch_main, f);
	f->watch_started = !ret;
	if (!ret) {
		ret = pthread_create(&f->pub_th, NULL, pub_main, f);
		f->pub_started = !ret;
	}
	if (ret) {
		snprintf(err, errlen, "starting the fleet threads: %s", strerror(ret));
		fleet_stop(f);
		return -ret;
	}
	*fp = f;
	return 0;
}

void fleet_stop(struct fleet *f)
{
	if (!f)
		return;
	f->stop = true;
	pthread_mutex_lock(&f->mu);
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->watch_started)
		pthread_join(f->watch_th, NULL);
	if (f->pub_started)
		pthread_join(f->pub_th, NULL);
	kvWatcher_Destroy(f->w);
	kvStore_Destroy(f->wkv);
	jsCtx_Destroy(f->wjs);
	kvStore_Destroy(f->kv);
	natsSubscription_Destroy(f->counts_sub);
	natsSubscription_Destroy(f->sig_sub);
	natsSubscription_Destroy(f->ack_sub);
	if (f->nc)
		natsConnection_Close(f->nc);	/* old watchers' deletions give up now */
	for (unsigned i = 0; i < f->n_reap; i++)
		pthread_join(f->reap_th[i], NULL);
	jsCtx_Destroy(f->js);
	natsConnection_Destroy(f->nc);
	nats_Close();
	for (unsigned i = 0; i < f->n_nodes; i++)
		free(f->nodes[i].v);
	fleet_map_free(&f->by_pfx);
	free(f->m);
	free(f->wants);
	free(f->free_wants);
	free(f->flights);
	free(f->todo);
	free(f->ch);
	free(f->counts_out);
	free(f->sig_out);
	free(f->sig_in);
	close(f->wake_fd);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

int fleet_wake_fd(const struct fleet *f)
{
	return f->wake_fd;
}

size_t fleet_take(struct fleet *f, struct fleet_change **out)
{
	__u64 x;
	size_t n;

	if (read(f->wake_fd, &x, sizeof(x)) < 0) {
		/* nothing signalled: there may still be changes */
	}
	pthread_mutex_lock(&f->mu);
	*out = f->ch;
	n = f->n_ch;
	f->ch = NULL;
	f->n_ch = f->cap_ch = 0;
	pthread_mutex_unlock(&f->mu);
	return n;
}

void fleet_counts_send(struct fleet *f, const struct fleet_count *v, size_t n, __u64 tick_ms)
{
	struct fleet_count *copy = n ? malloc(n * sizeof(*copy)) : NULL;

	if (n && !copy)
		return;
	if (n)
		memcpy(copy, v, n * sizeof(*copy));
	pthread_mutex_lock(&f->mu);
	free(f->counts_out);	/* a tick not sent yet is stale now */
	f->counts_out = copy;
	f->n_counts_out = n;
	f->counts_tick_ms = tick_ms;
	f->counts_due = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

size_t fleet_counts_get(struct fleet *f, __u64 max_age_ms, struct fleet_count **out,
			unsigned *gateways)
{
	__u64 now = mono_ms();
	size_t n = 0;

	*out = NULL;
	*gateways = 0;
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < f->n_nodes; i++)
		if (now - f->nodes[i].recv_ms <= max_age_ms)
			n += f->nodes[i].n;
	if (n)
		*out = malloc(n * sizeof(**out));
	n = 0;
	for (unsigned i = 0; i < f->n_nodes; i++) {
		if (now - f->nodes[i].recv_ms > max_age_ms)
			continue;
		++*gateways;
		if (*out) {
			memcpy(*out + n, f->nodes[i].v, f->nodes[i].n * sizeof(**out));
			n += f->nodes[i].n;
		}
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}

void fleet_signals_send(struct fleet *f, const struct fleet_signal *v, size_t n)
{
	pthread_mutex_lock(&f->mu);
	if (!f->st.connected) {
		/* not persisted: a report is worth sharing while it is fresh */
		f->st.signals_dropped += n;
		pthread_mutex_unlock(&f->mu);
		return;
	}
	if (f->n_sig_out + n > f->cap_sig_out) {
		size_t cap = f->n_sig_out + n + 256;
		struct fleet_signal *x = realloc(f->sig_out, cap * sizeof(*x));

		if (!x) {
			f->st.signals_dropped += n;
			pthread_mutex_unlock(&f->mu);
			return;
		}
		f->sig_out = x;
		f->cap_sig_out = cap;
	}
	memcpy(f->sig_out + f->n_sig_out, v, n * sizeof(*v));
	f->n_sig_out += n;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

size_t fleet_signals_take(struct fleet *f, struct fleet_signal **out)
{
	size_t n;

	pthread_mutex_lock(&f->mu);
	*out = f->sig_in;
	n = f->n_sig_in;
	f->sig_in = NULL;
	f->n_sig_in = f->cap_sig_in = 0;
	pthread_mutex_unlock(&f->mu);
	return n;
}

void fleet_resync(struct fleet *f)
{
	f->resnap = true;
}

void fleet_status_get(struct fleet *f, struct fleet_status *st)
{
	pthread_mutex_lock(&f->mu);
	if (f->st.connected && f->st.synced)
		f->st.last_sync_ms = wall_ms();	/* following the bucket live: in sync now */
	f->st.pending = f->n_wants - f->n_free_wants;	/* offers waiting, writes in flight */
	*st = f->st;
	pthread_mutex_unlock(&f->mu);
}

/* --- the CLI's delete ---------------------------------------------------- */

int fleet_delete_now(const struct config_fleet *cfg, const struct cidr *c, char *err,
		     size_t errlen)
{
	struct fleet f = { .cfg = *cfg };
	char key[FLEET_KEY_MAX];
	natsStatus s;
	int ret = 0;

	if (fleet_key(c, key, sizeof(key))) {
		snprintf(err, errlen, "not a prefix the fleet can hold");
		return -EINVAL;
	}
	if (nats_Open(-1) != NATS_OK) {
		snprintf(err, errlen, "the NATS library would not start");
		return -EIO;
	}
	pthread_mutex_init(&f.mu, NULL);
	s = connect_once(&f, &f.nc, " cli", false);
	if (s != NATS_OK) {
		snprintf(err, errlen, "connecting to %s%s: %s", cfg->servers[0],
			 cfg->n_servers > 1 ? " (and the others listed)" : "", natsStatus_GetText(s));
		ret = -EHOSTUNREACH;
		goto out;
	}
	s = natsConnection_JetStream(&f.js, f.nc, NULL);
	if (s == NATS_OK)
		s = js_KeyValue(&f.kv, f.js, cfg->bucket);
	if (s != NATS_OK) {
		snprintf(err, errlen, "bucket %s: %s", cfg->bucket, natsStatus_GetText(s));
		ret = s == NATS_NOT_FOUND ? -ENOENT : -EIO;
		goto out;
	}
	s = kvStore_Delete(f.kv, key);
	if (s != NATS_OK) {
		snprintf(err, errlen, "deleting %s from bucket %s: %s", key, cfg->bucket,
			 natsStatus_GetText(s));
		ret = -EIO;
	}
out:
	kvStore_Destroy(f.kv);
	jsCtx_Destroy(f.js);
	if (f.nc)
		natsConnection_Close(f.nc);
	natsConnection_Destroy(f.nc);
	pthread_mutex_destroy(&f.mu);
	nats_CloseAndWait(1000);
	return ret;
}
