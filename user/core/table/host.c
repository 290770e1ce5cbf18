// SPDX-License-Identifier: GPL-2.0
/* user/core/table/host.c - host_v4, the /32 denies' mirror that the data
 * path probes before deny_v4 (maps/keys.h says why it may lag but never
 * lie).
 *
 * Owns the cells: put after deny_v4 takes a /32's key, cleared before the
 * key goes (tbl_host_keys, from publish.c's every deny_v4 write), wiped at
 * a repair and filled again from the live slots, placed again when the
 * slots grow. A cell is one 8-byte word written with one store, so a
 * reader sees an address with its own slot or nothing. The map is mapped
 * for each call and left again (a grow may replace it between commits): a
 * window per bucket touched, or whole for a bulk commit.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>

#include "core/table/internal.h"

struct hostmap {
	struct lazymap lm;		/* a window at a time (a few cells), */
	struct fence_host_bucket *full;	/* or whole (a fill, a regrow, a bulk commit) */
	__u32 n;			/* buckets after the header */
};

/* Element i (0: the header); NULL when it cannot be mapped. */
static struct fence_host_bucket *bk(struct hostmap *h, __u32 i)
{
	if (h->full)
		return &h->full[i];
	return lazymap_at(&h->lm, (size_t)i * sizeof(*h->full), sizeof(*h->full));
}

/* The kernel maps every page of an array at mmap: a commit of a few /32s
 * maps the pages of their buckets alone (host_v4 is 32 MiB at 2M slots). */
static int host_map(int fd, __u32 elems, bool whole, struct hostmap *h)
{
	memset(h, 0, sizeof(*h));
	if (fd < 0 || elems < 2)
		return -ENOENT;
	lazymap_init(&h->lm, fd, (size_t)elems * sizeof(*h->full));
	if (whole && !(h->full = lazymap_full(&h->lm))) {
		lazymap_close(&h->lm);
		return -ENOMEM;
	}
	h->n = elems - 1;
	if (h->n & (h->n - 1))
		h->n = 0;	/* not a size this build makes: left alone */
	return 0;
}

static void host_unmap(struct hostmap *h)
{
	lazymap_close(&h->lm);
	h->full = NULL;
}

/* The header's bucket count; 0: not filled (or not mapped). */
static __u32 host_filled(struct hostmap *h)
{
	struct fence_host_bucket *b = h->n ? bk(h, 0) : NULL;

	return b ? (__u32)__atomic_load_n(&b->cell[0], __ATOMIC_ACQUIRE) : 0;
}

static __u32 elems_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.max_entries : 0;
}

static struct fence_host_bucket *bucket_of(struct hostmap *h, __u32 addr)
{
	return bk(h, fence_host_index(addr, h->n));
}

/* addr (network byte order, as the data path loads it) -> slot in its
 * bucket: the cell that has it, else a free one; none when the bucket is
 * full (the data path then finds it in deny_v4). */
static void cell_put(struct hostmap *h, __u32 addr, __u32 slot)
{
	struct fence_host_bucket *b = bucket_of(h, addr);
	__u64 v = (__u64)slot << 32 | addr;
	int free_at = -1;

	if (!b)
		return;	/* deny_v4 has it */
	for (int j = 0; j < FENCE_HOST_CELLS; j++) {
		__u64 c = __atomic_load_n(&b->cell[j], __ATOMIC_RELAXED);

		if (c && (__u32)c == addr) {
			__atomic_store_n(&b->cell[j], v, __ATOMIC_RELEASE);
			return;
		}
		if (!c && free_at < 0)
			free_at = j;
	}
	if (free_at >= 0)
		__atomic_store_n(&b->cell[free_at], v, __ATOMIC_RELEASE);
}

/* Not 0: a cell that may still name addr (its bucket could not be
 * mapped): the caller must not let the key go. */
static int cell_clear(struct hostmap *h, __u32 addr)
{
	struct fence_host_bucket *b = bucket_of(h, addr);

	if (!b)
		return -ENOMEM;
	for (int j = 0; j < FENCE_HOST_CELLS; j++) {
		__u64 c = __atomic_load_n(&b->cell[j], __ATOMIC_RELAXED);

		if (c && (__u32)c == addr)
			__atomic_store_n(&b->cell[j], 0, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The header, last: the cells are read from then on. */
static int header_set(struct hostmap *h, __u64 n)
{
	struct fence_host_bucket *b = bk(h, 0);

	if (!b)
		return -ENOMEM;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&b->cell[0], n, __ATOMIC_RELEASE);
	return 0;
}

/* Nothing is read there from now, and the next fill clears every cell
 * first (maps/keys.h: cell[1]). */
static int host_disable(struct hostmap *h)
{
	struct fence_host_bucket *b = bk(h, 0);

	if (!b)
		return -ENOMEM;
	__atomic_store_n(&b->cell[0], 0, __ATOMIC_RELEASE);
	__atomic_store_n(&b->cell[1], 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

/* Every cell cleared, one store each (a reader that took the header before
 * it went may still be in a bucket), then the mark that some may be left. */
static void host_wipe(struct hostmap *h)
{
	for (size_t i = 1; i <= h->n; i++)
		for (int j = 0; j < FENCE_HOST_CELLS; j++)
			if (h->full[i].cell[j])
				__atomic_store_n(&h->full[i].cell[j], 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&h->full[0].cell[1], 0, __ATOMIC_RELEASE);
}

/* Past this many keys a commit maps host_v4 whole: as many windows would
 * cost more mmap calls than the whole map's pages. */
#define HOST_WHOLE_MIN	1024

int tbl_host_keys(struct table *t, const struct fence_v4_key *k, const struct fence_slot *v,
		  __u32 n, bool put)
{
	const struct fence_maps *m = t->m;
	int fd = m->fd[FM_HOST_V4];
	__u32 elems = m->max_entries[FM_HOST_V4];
	struct hostmap h;
	int ret = 0;

	if (!n)
		return 0;
	ret = host_map(fd, elems, n >= HOST_WHOLE_MIN, &h);
	if (ret && ret != -ENOENT)	/* not whole, then: a window at a time */
		ret = host_map(fd, elems, false, &h);
	if (ret)
		return 0;	/* no host_v4 (ENOENT is all host_map can say unmapped) */
	if (!host_filled(&h))
		goto out;	/* not filled yet (tbl_host_fill will), or a size not ours */
	for (__u32 i = 0; i < n && !ret; i++) {
		__u32 addr;

		if (k[i].prefixlen != 32)
			continue;
		memcpy(&addr, &k[i].addr, 4);
		if (!addr)
			continue;	/* 0.0.0.0/32: a free cell's address; deny_v4 has it */
		if (put)
			cell_put(&h, addr, v[i].slot);
		else
			ret = cell_clear(&h, addr);
	}
	/* a cell that could not be cleared: none is read at all, or the keys stay */
	if (ret)
		ret = host_disable(&h);
	if (!put)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* before the keys go */
out:
	host_unmap(&h);
	return ret;
}

int tbl_host_reset(struct table *t)
{
	const struct fence_maps *m = t->m;
	int fd = m->fd[FM_HOST_V4];
	__u32 elems = m->max_entries[FM_HOST_V4];
	struct hostmap h;
	int ret;

	ret = host_map(fd, elems, true, &h);
	if (ret == -ENOENT)
		return 0;
	if (ret) {	/* the fill wipes it, or fails the commit */
		ret = host_map(fd, elems, false, &h);
		if (!ret && h.n)
			ret = host_disable(&h);
		host_unmap(&h);
		return ret;
	}
	if (h.n && !(ret = host_disable(&h)))
		host_wipe(&h);
	host_unmap(&h);
	return ret;
}

int tbl_host_fill(struct table *t)
{
	const struct fence_maps *m = t->m;
	bool none = tbl_store_valid(t) && !t->st.hdr->live[0][FENCE_KIND_DENY];
	struct fence_host_bucket *b;
	struct hostmap h;
	bool dirty;
	int ret;

	ret = host_map(m->fd[FM_HOST_V4], m->max_entries[FM_HOST_V4], false, &h);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (!h.n || host_filled(&h))
		goto out;	/* filled already: the header's page alone was mapped */
	b = bk(&h, 0);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	dirty = __atomic_load_n(&b->cell[1], __ATOMIC_ACQUIRE);
	/* whole to wipe or fill, unless nothing is to be done there (a fresh
	 * map before the first load) */
	if (dirty || !none) {
		host_unmap(&h);
		ret = host_map(m->fd[FM_HOST_V4], m->max_entries[FM_HOST_V4], true, &h);
		if (ret)
			return ret;
	}
	if (dirty)
		host_wipe(&h);
	for (__u32 s = 1; s < m->n_slots && !none; s++) {
		const struct fence_rule *r = fence_rule_at(m, s);
		const struct fence_rule_info *in;
		__u32 addr;

		if (r->kind != FENCE_KIND_DENY || r->family != 4)
			continue;
		in = fence_info_at(m, s);
		if (in->prefixlen != 32)
			continue;
		memcpy(&addr, in->addr, 4);
		if (addr)
			cell_put(&h, addr, s);
	}
	/* an older writer would leave stale cells: it must refuse from here on */
	ret = tbl_mark_layout(t);
	if (!ret)
		ret = header_set(&h, h.n);
out:
	host_unmap(&h);
	return ret;
}

int table_host_regrow(int old_fd, int new_fd)
{
	struct hostmap o, h;
	int ret;

	ret = host_map(new_fd, elems_of(new_fd), true, &h);
	if (ret)
		return ret;
	if (h.n && !host_map(old_fd, elems_of(old_fd), true, &o)) {
		/* not filled (0): the new one is not either, and a fresh map
		 * holds no cells from before */
		if (o.n && host_filled(&o)) {
			for (size_t i = 1; i <= o.n; i++)
				for (int j = 0; j < FENCE_HOST_CELLS; j++)
					if (o.full[i].cell[j])
						cell_put(&h, (__u32)o.full[i].cell[j],
							 (__u32)(o.full[i].cell[j] >> 32));
			ret = header_set(&h, h.n);
		}
		host_unmap(&o);
	}
	host_unmap(&h);
	return ret;
}
