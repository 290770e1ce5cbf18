// SPDX-License-Identifier: GPL-2.0
/* user/core/table/repair.c - what a commit cut off half way leaves behind, and
 * the maps of an older layout: the writing mark and version that tell,
 * recovery, repaint and repair.
 *
 * Owns fence_meta.writing and .version and tbl_recover, which brings the
 * rules, exact-prefix maps, throttle buckets and tbl8 group stamps back in
 * line with the live slots. Must not touch tbl24 or tbl8 leaves: the full
 * repaint of the commit that follows recovery rewrites those, in order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "core/table/internal.h"

/* Did a writer die half way through a commit (it left the mark below)? */
bool table_interrupted(struct table *t)
{
	struct fence_meta meta;

	return !fence_read_meta(t->m, &meta) && meta.writing;
}

bool table_outdated(struct table *t)
{
	struct fence_meta meta;

	return !fence_read_meta(t->m, &meta) && meta.version < FENCE_META_VERSION;
}

/* The commit mark; a repair that ends (on == 0, upgrade) also records
 * that the maps now follow this build's layout (fence_meta.version). */
int tbl_mark_writing(struct table *t, __u8 on, bool upgrade)
{
	struct fence_meta meta;
	__u32 key = 0;
	int ret;

	ret = fence_read_meta(t->m, &meta);
	if (ret)
		return ret;
	if (upgrade && meta.version < FENCE_META_VERSION)
		meta.version = FENCE_META_VERSION;
	else if (meta.writing == on)
		return 0;
	meta.writing = on;
	return bpf_map_update_elem(t->m->fd[FM_META], &key, &meta, BPF_ANY) ? -errno : 0;
}

/* Record this build's layout now, the mark left as it is: before a commit
 * writes what an older writer would not keep (host_v4's cells). */
int tbl_mark_layout(struct table *t)
{
	struct fence_meta meta;
	int ret = fence_read_meta(t->m, &meta);

	return ret ? ret : tbl_mark_writing(t, meta.writing, true);
}

/* Is slot s a live entry of this kind and family, keyed by (len, addr)? */
static bool slot_keyed(const struct fence_maps *m, __u32 s, __u8 kind, __u8 family, __u32 len,
		       const __u8 *addr)
{
	return s && s < m->n_slots && m->rules[s].kind == kind && m->rules[s].family == family &&
	       m->info[s].prefixlen == len && !memcmp(m->info[s].addr, addr, family == 4 ? 4 : 16);
}

/* Delete the keys of map fd (ksz bytes each) that keep() refuses, each
 * counted in *fixed. Deletes after the walk: deleting the key a hash walk
 * stands on restarts it from the first bucket. */
static int map_prune(int fd, size_t ksz, bool (*keep)(const void *key, void *ctx), void *ctx,
		     __u32 *fixed)
{
	__u8 key[32], next[32], *stale = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int ret = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		if (keep(key, ctx))
			continue;
		if (n == cap) {
			void *p = realloc(stale, (cap = cap ? cap * 2 : 64) * ksz);

			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			stale = p;
		}
		memcpy(stale + n++ * ksz, key, ksz);
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_delete_elem(fd, stale + i * ksz) && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		(*fixed)++;
	}
out:
	free(stale);
	return ret;
}

struct resync {
	const struct fence_maps *m;
	int fd;
	__u8 kind, family;
	__u8 *seen;			/* per slot: a key names it */
};

/* A key that names a live slot of the map's kind and family under its own
 * prefix stays (the first one for each slot). */
static bool key_live(const void *key, void *ctx)
{
	struct resync *r = ctx;
	struct fence_slot v;
	__u32 len;

	memcpy(&len, key, 4);
	if (r->family == 4 && !tbl_v4_keyed(r->kind, len))
		return false;	/* maps of an older layout keyed every deny */
	if (bpf_map_lookup_elem(r->fd, key, &v))
		return true;	/* gone under us: no other writer, so cannot be */
	if (!slot_keyed(r->m, v.slot, r->kind, r->family, len, (const __u8 *)key + 4) ||
	    r->seen[v.slot])
		return false;
	r->seen[v.slot] = 1;
	return true;
}

/* Make one exact-prefix map (hash or trie) name exactly the live slots of
 * its kind and family that have a key (IPv4: tbl_v4_keyed): keys whose
 * slot is free or holds another entry go, live slots it lacks come in. A writer that dies between publishing a slot
 * and keying it (or between unkeying and freeing one) leaves such gaps. */
static int keys_resync(struct table *t, int fd, __u8 kind, __u8 family, struct table_stats *st)
{
	const struct fence_maps *m = t->m;
	size_t ksz = family == 4 ? sizeof(struct fence_v4_key) : sizeof(struct fence_v6_key);
	struct resync r = { m, fd, kind, family, calloc(m->n_slots, 1) };
	__u8 key[sizeof(struct fence_v6_key)];
	int ret;

	if (!r.seen)
		return -ENOMEM;
	ret = map_prune(fd, ksz, key_live, &r, &st->keys_fixed);
	for (__u32 s = 1; !ret && s < m->n_slots; s++) {
		struct fence_slot v = { s };
		__u32 len;

		if (r.seen[s] || m->rules[s].kind != kind || m->rules[s].family != family ||
		    (family == 4 && !tbl_v4_keyed(kind, m->info[s].prefixlen)))
			continue;
		memset(key, 0, sizeof(key));
		len = m->info[s].prefixlen;
		memcpy(key, &len, 4);
		memcpy(key + 4, m->info[s].addr, family == 4 ? 4 : 16);
		if (bpf_map_update_elem(fd, key, &v, BPF_ANY))
			ret = -errno;
		else
			st->keys_fixed++;
	}
	free(r.seen);
	return ret;
}

/* A throttle bucket stays while its slot is a throttling deny. */
static bool bucket_live(const void *key, void *ctx)
{
	const struct fence_maps *m = ctx;
	__u32 slot;

	memcpy(&slot, key, sizeof(slot));
	return slot < m->n_slots && m->rules[slot].kind == FENCE_KIND_DENY &&
	       m->rules[slot].action == FENCE_ACT_THROTTLE;
}

/* Before a full repaint (asked for, after a writer died half way, or on
 * maps of an older layout): entries left without owners are freed and
 * every other rule is derived again from its record; the exact-prefix maps
 * again name exactly the live slots that have a key; throttle buckets of
 * slots no longer throttled go; tbl8 groups that no leaf names and that are
 * not blank are quarantined as if just freed (the dead writer may have
 * unlinked some without stamping them). The commit that follows repaints
 * the whole IPv4 table from the slots. Sets the writing mark first. */
int tbl_recover(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	struct fence_maps *m = t->m;
	static const struct { int map; __u8 kind, family; } km[] = {
		{ FM_DENY_V4, FENCE_KIND_DENY, 4 }, { FM_ALLOW_V4, FENCE_KIND_ALLOW, 4 },
		{ FM_DENY_V6, FENCE_KIND_DENY, 6 }, { FM_ALLOW_V6, FENCE_KIND_ALLOW, 6 },
	};
	__u8 *gref;
	__u32 used;
	__u64 now = fence_now_ns();
	int ret;

	ret = fence_maps_full(m);	/* a walk of every slot */
	if (ret) {
		tbl_seterr(err, errlen, "mapping the tables: %s", strerror(-ret));
		return ret;
	}
	ret = tbl_mark_writing(t, 1, false);
	if (ret) {
		tbl_seterr(err, errlen, "marking the tables as being written: %s", strerror(-ret));
		return ret;
	}
	/* the bookkeeping is rebuilt after the repaint that follows */
	tbl_store_invalidate(t);
	if (t->idx_store) {
		t->idx.e = NULL;
		t->idx_store = false;
	}
	/* Entries a dead writer was removing (no owner left, not freed yet)
	 * go; every other live entry's rule is derived again from its record
	 * (a writer killed between writing one and the other leaves them
	 * apart). Freeing waits for a repair with nothing staged: a staged
	 * change may name the slot. */
	for (__u32 s = 1; s < m->n_slots; s++) {
		__u8 kind = m->rules[s].kind;
		struct fence_rule r;

		if (kind == FENCE_KIND_FREE)
			continue;
		if (!m->info[s].owners) {
			if (t->n_ops)
				continue;
			if (t->idx.e)
				tbl_idx_remove(t, s);
			m->info[s].freed_ns = now;
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			__atomic_store_n(&m->rules[s].kind, FENCE_KIND_FREE, __ATOMIC_RELEASE);
			st->entries_fixed++;
			continue;
		}
		table_rule_from_info(&m->info[s], kind, &r);
		if (tbl_rule_update(&m->rules[s], &r))
			st->entries_fixed++;
	}
	for (size_t i = 0; i < sizeof(km) / sizeof(km[0]); i++) {
		ret = keys_resync(t, m->fd[km[i].map], km[i].kind, km[i].family, st);
		if (ret) {
			tbl_seterr(err, errlen, "repairing %s after an interrupted commit: %s",
			           fence_map_names[km[i].map], strerror(-ret));
			return ret;
		}
	}
	ret = map_prune(m->fd[FM_THROTTLE], sizeof(__u32), bucket_live, m, &st->keys_fixed);
	if (ret) {
		tbl_seterr(err, errlen, "repairing %s after an interrupted commit: %s",
		           fence_map_names[FM_THROTTLE], strerror(-ret));
		return ret;
	}
	gref = tbl_groups_named(m, &used);
	if (!gref)
		return -ENOMEM;
	/* unlinked, unstamped and not blank: the dead writer's; a group
	 * never used is all zeros and stays free to take at once */
	for (__u32 g = 0; g < m->n_groups; g++) {
		const __u32 *leaf = &m->tbl8[(size_t)g * FENCE_TBL8_GROUP];
		int j = 0;

		if (gref[g] || m->tbl8_state[g].freed_ns)
			continue;
		while (j < FENCE_TBL8_GROUP && !leaf[j])
			j++;
		if (j < FENCE_TBL8_GROUP)
			m->tbl8_state[g].freed_ns = now;
	}
	free(gref);
	st->recovered = 1;
	return 0;
}

void table_repaint(struct table *t)
{
	t->repaint = true;
}

int table_repair(struct table *t, struct table_stats *st, char *err, size_t errlen)
{
	table_abort(t);
	table_repaint(t);
	return table_commit(t, st, err, errlen);
}
