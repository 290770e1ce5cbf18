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
 * for each call and left again: a grow may replace it between commits,
 * and what a commit touches is a few pages.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>

#include "core/table/internal.h"

struct hostmap {
	struct fence_host_bucket *b;	/* b[0] the header */
	size_t len;
	__u32 n;			/* buckets after the header */
};

static int host_map(int fd, __u32 elems, struct hostmap *h)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	memset(h, 0, sizeof(*h));
	if (fd < 0 || elems < 2)
		return -ENOENT;	/* an older build's set: no host_v4 */
	h->len = ((size_t)elems * sizeof(*h->b) + page - 1) & ~(size_t)(page - 1);
	p = mmap(NULL, h->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	h->b = p;
	h->n = elems - 1;
	if (h->n & (h->n - 1))
		h->n = 0;	/* not a size this build makes: left alone */
	return 0;
}

static void host_unmap(struct hostmap *h)
{
	if (h->b)
		munmap(h->b, h->len);
	h->b = NULL;
}

static __u32 elems_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.max_entries : 0;
}

static struct fence_host_bucket *bucket_of(const struct hostmap *h, __u32 addr)
{
	return &h->b[1 + (fence_host_home(addr) & (h->n - 1))];
}

/* addr (network byte order, as the data path loads it) -> slot in its
 * bucket: the cell that has it, else a free one; none when the bucket is
 * full (the data path then finds it in deny_v4). */
static void cell_put(const struct hostmap *h, __u32 addr, __u32 slot)
{
	struct fence_host_bucket *b = bucket_of(h, addr);
	__u64 v = (__u64)slot << 32 | addr;
	int free_at = -1;

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

static void cell_clear(const struct hostmap *h, __u32 addr)
{
	struct fence_host_bucket *b = bucket_of(h, addr);

	for (int j = 0; j < FENCE_HOST_CELLS; j++) {
		__u64 c = __atomic_load_n(&b->cell[j], __ATOMIC_RELAXED);

		if (c && (__u32)c == addr)
			__atomic_store_n(&b->cell[j], 0, __ATOMIC_RELEASE);
	}
}

/* The header, last: the cells are read from then on. */
static void header_set(const struct hostmap *h, __u64 n)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&h->b[0].cell[0], n, __ATOMIC_RELEASE);
}

void tbl_host_keys(struct table *t, const struct fence_v4_key *k, const struct fence_slot *v,
		   __u32 n, bool put)
{
	const struct fence_maps *m = t->m;
	struct hostmap h;

	if (!n || host_map(m->fd[FM_HOST_V4], m->max_entries[FM_HOST_V4], &h))
		return;
	/* not filled yet (tbl_host_fill will), or a size not ours */
	if (!h.n || !__atomic_load_n(&h.b[0].cell[0], __ATOMIC_ACQUIRE))
		goto out;
	for (__u32 i = 0; i < n; i++) {
		__u32 addr;

		if (k[i].prefixlen != 32)
			continue;
		memcpy(&addr, &k[i].addr, 4);
		if (!addr)
			continue;	/* 0.0.0.0/32: a free cell's address; deny_v4 has it */
		if (put)
			cell_put(&h, addr, v[i].slot);
		else
			cell_clear(&h, addr);
	}
	if (!put)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* before the keys go */
out:
	host_unmap(&h);
}

void tbl_host_reset(struct table *t)
{
	const struct fence_maps *m = t->m;
	struct hostmap h;

	if (host_map(m->fd[FM_HOST_V4], m->max_entries[FM_HOST_V4], &h))
		return;
	header_set(&h, 0);	/* first: nothing is read there from now */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memset(&h.b[1], 0, (size_t)h.n * sizeof(*h.b));
	host_unmap(&h);
}

int tbl_host_fill(struct table *t)
{
	const struct fence_maps *m = t->m;
	struct hostmap h;
	int ret;

	ret = host_map(m->fd[FM_HOST_V4], m->max_entries[FM_HOST_V4], &h);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (!h.n || __atomic_load_n(&h.b[0].cell[0], __ATOMIC_ACQUIRE))
		goto out;	/* filled already */
	/* what a reset left, or a fresh map's zeros: free cells only (none
	 * is written while the header is 0). No IPv4 deny yet (the first
	 * load): nothing to walk for. */
	for (__u32 s = 1; s < m->n_slots && !(tbl_store_valid(t) && !t->st.hdr->live[0][FENCE_KIND_DENY]);
	     s++) {
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
	header_set(&h, h.n);
out:
	host_unmap(&h);
	return 0;
}

int table_host_regrow(int old_fd, int new_fd)
{
	struct hostmap o, h;
	int ret;

	ret = host_map(new_fd, elems_of(new_fd), &h);
	if (ret)
		return ret;
	if (!h.n)
		goto out;
	if (!host_map(old_fd, elems_of(old_fd), &o)) {
		/* not filled (0): the new one is not either */
		if (o.n && __atomic_load_n(&o.b[0].cell[0], __ATOMIC_ACQUIRE)) {
			for (size_t i = 1; i <= o.n; i++)
				for (int j = 0; j < FENCE_HOST_CELLS; j++)
					if (o.b[i].cell[j])
						cell_put(&h, (__u32)o.b[i].cell[j],
							 (__u32)(o.b[i].cell[j] >> 32));
			header_set(&h, h.n);
		}
		host_unmap(&o);
	}
out:
	host_unmap(&h);
	return 0;
}
