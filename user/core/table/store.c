// SPDX-License-Identifier: GPL-2.0
/* user/core/table/store.c - the table writer's bookkeeping, kept in pinned maps
 * of its own (struct fence_store, maps/keys.h): the index of live entries by
 * prefix, the rings of freed slots and tbl8 groups, the live counts.
 *
 * Why: a one-shot `xdpfence ban add` with a million entries loaded used to
 * scan every slot to index them, to find free slots and groups and to count
 * what is live, before changing one entry. With the bookkeeping kept across
 * processes a small commit touches the few pages it needs.
 *
 * Owns creating, opening, mapping and rebuilding those maps, and the slot
 * and group allocators over them. Only a writer (the pin dir's lock held)
 * uses them; a commit keeps them in line as it publishes (publish.c), and a
 * repair rebuilds them. Must not write the data path's maps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "core/table/internal.h"
#include "core/keyload.h"
#include "lib/util.h"

static const char *const store_names[FS_COUNT] = {
#define X(id, name) [FS_##id] = #name,
	FENCE_STORE_MAPS(X)
#undef X
};

/* What each map must be for maps m: value size, entries. */
static void store_shape(const struct fence_maps *m, int i, __u32 *vsz, __u32 *n)
{
	__u32 cells = 1024;

	while (cells < 2 * m->n_slots)
		cells <<= 1;
	switch (i) {
	case FS_INDEX: *vsz = sizeof(fence_index_cell); *n = cells; break;
	case FS_STORE: *vsz = sizeof(struct fence_store); *n = 1; break;
	case FS_FREE: *vsz = sizeof(__u32); *n = m->n_slots; break;
	case FS_LIMITS: *vsz = sizeof(struct fence_limits); *n = 1; break;
	case FS_HOSTS:
		*vsz = FENCE_HOSTS_PER_ELEM;
		*n = FENCE_TBL24_ENTRIES / FENCE_HOSTS_PER_ELEM;
		break;
	default: *vsz = sizeof(__u32); *n = m->n_groups ? m->n_groups : 1; break;
	}
}

static bool shape_ok(int fd, __u32 vsz, __u32 n)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_ARRAY &&
	       info.value_size == vsz && info.max_entries == n &&
	       (info.map_flags & BPF_F_MMAPABLE);
}

void tbl_store_close(struct table *t)
{
	struct tbl_store *st = &t->st;

	for (int i = 0; i < FS_COUNT; i++) {
		lazymap_close(&st->lz[i]);
		if (st->fd[i] >= 0)
			close(st->fd[i]);
		st->fd[i] = -1;
	}
	st->hdr = NULL;
	st->on = false;
	if (t->idx_store) {
		t->idx.e = NULL;
		t->idx_store = false;
	}
}

int table_store_attach(struct table *t, const char *pin_dir, bool writer)
{
	LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = BPF_F_MMAPABLE);
	struct tbl_store *st = &t->st;
	char path[PATH_MAX];
	bool fresh = false;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	for (int i = 0; i < FS_COUNT; i++)
		st->fd[i] = -1;
	if (!writer)
		return 0;	/* readers index in memory when they must */
	for (int i = 0; i < FS_COUNT && !ret; i++) {
		__u32 vsz, n;

		store_shape(t->m, i, &vsz, &n);
		if (pin_dir) {
			snprintf(path, sizeof(path), "%s/%s", pin_dir, store_names[i]);
			st->fd[i] = bpf_obj_get(path);
			if (st->fd[i] >= 0 && !shape_ok(st->fd[i], vsz, n)) {
				/* made for other sizes (or by another build): anew */
				close(st->fd[i]);
				st->fd[i] = -1;
				unlink(path);
			}
		}
		if (st->fd[i] < 0) {
			st->fd[i] = bpf_map_create(BPF_MAP_TYPE_ARRAY, store_names[i], sizeof(__u32),
						   vsz, n, &co);
			if (st->fd[i] < 0) {
				ret = -errno;
				break;
			}
			if (pin_dir && bpf_obj_pin(st->fd[i], path)) {
				ret = -errno;
				break;
			}
			fresh = true;
			st->blank[i] = true;	/* the kernel zeroed it */
		}
		lazymap_init(&st->lz[i], st->fd[i], (size_t)((vsz + 7) & ~7U) * n);
	}
	if (!ret) {
		st->hdr = lazymap_at(&st->lz[FS_STORE], 0, sizeof(*st->hdr));
		if (!st->hdr)
			ret = -ENOMEM;
	}
	if (ret) {
		tbl_store_close(t);
		return ret;
	}
	st->on = true;
	store_shape(t->m, FS_INDEX, &(__u32){ 0 }, &st->cells);
	if (fresh || st->hdr->magic != FENCE_STORE_MAGIC || st->hdr->version != FENCE_STORE_VERSION ||
	    st->hdr->n_slots != t->m->n_slots || st->hdr->n_groups != t->m->n_groups ||
	    st->hdr->index_cells != st->cells)
		st->hdr->valid = 0;
	return 0;
}

bool tbl_store_valid(const struct table *t)
{
	return t->st.on && t->st.hdr->valid;
}

void tbl_store_invalidate(struct table *t)
{
	if (t->st.on)
		__atomic_store_n(&t->st.hdr->valid, 0, __ATOMIC_RELEASE);
}

/* --- rebuild ------------------------------------------------------------ */

struct aged { __u64 freed; __u32 id; };

static int aged_cmp(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;

	return x->freed < y->freed ? -1 : x->freed > y->freed ? 1 : (int)x->id - (int)y->id;
}

/* Everything again from the slots and the table: after a repair, on maps
 * an older build made, or the first time. The lock must be held and the
 * table whole (no commit cut off since). Slots from slot_hwm and groups
 * from group_hwm on are known never used (blank: maps grown from a store
 * that said so); pass the sizes of the maps when nothing is known. */
static int store_rebuild(struct table *t, __u32 slot_hwm, __u32 group_hwm)
{
	struct tbl_store *st = &t->st;
	const struct fence_maps *m = t->m;
	struct fence_store *h = st->hdr;
	struct aged *v = NULL;
	__u8 *gref = NULL;
	__u32 used, hwm = 1, n = 0;
	int ret;

	__u32 *free_ring, *gfree_ring;
	fence_index_cell *index;
	__u8 *hosts;

	if (!st->on)
		return 0;
	ret = fence_maps_full(t->m);	/* a scan of every slot and leaf */
	if (ret)
		return ret;
	ret = -ENOMEM;
	index = lazymap_full(&st->lz[FS_INDEX]);
	free_ring = lazymap_full(&st->lz[FS_FREE]);
	gfree_ring = lazymap_full(&st->lz[FS_GFREE]);
	hosts = lazymap_full(&st->lz[FS_HOSTS]);
	if (!index || !free_ring || !gfree_ring || !hosts)
		return -ENOMEM;
	h->valid = 0;
	/* maps just made are zero already (on the maps a growth makes, ~48 MB
	 * not written twice) */
	if (!st->blank[FS_INDEX])
		memset(index, 0, (size_t)st->cells * sizeof(*index));
	if (!st->blank[FS_HOSTS])
		memset(hosts, 0, FENCE_TBL24_ENTRIES);
	memset(st->blank, 0, sizeof(st->blank));
	if (!t->idx_store)
		free(t->idx.e);
	t->idx.e = NULL;
	t->idx.mask = st->cells - 1;
	t->idx_store = true;
	memset(h->live, 0, sizeof(h->live));
	for (__u32 s = 1; s < slot_hwm && s < m->n_slots; s++) {
		const struct fence_rule *r = &m->rules[s];

		if (r->kind != FENCE_KIND_FREE) {
			tbl_idx_insert(t, s);
			h->live[r->family == 6][r->kind]++;
			if (r->family == 4 && r->kind == FENCE_KIND_DENY && m->info[s].prefixlen == 32) {
				__u8 *c = &hosts[tbl_v4_host(m->info[s].addr) >> 8];

				*c += *c < FENCE_HOSTS_MANY;
			}
			hwm = s + 1;
		} else if (m->info[s].freed_ns || m->info[s].created_unix) {
			hwm = s + 1;
		}
	}
	v = malloc(((size_t)(m->n_slots > m->n_groups ? m->n_slots : m->n_groups) + 1) * sizeof(*v));
	if (!v)
		goto out;
	for (__u32 s = 1; s < hwm; s++)
		if (m->rules[s].kind == FENCE_KIND_FREE)
			v[n++] = (struct aged){ m->info[s].freed_ns, s };
	qsort(v, n, sizeof(*v), aged_cmp);
	for (__u32 i = 0; i < n; i++)
		free_ring[i] = v[i].id;
	h->slot_hwm = hwm;
	h->free_head = 0;
	h->free_n = n;
	/* groups: those a leaf names are taken; below the highest one ever
	 * used (named, stamped freed, or not blank) the rest are free */
	/* no group ever used (maps grown from a store that said so): none
	 * named, and no scan of tbl24 to learn it */
	gref = group_hwm ? tbl_groups_named(m, &used) : calloc(m->n_groups + 1, 1);
	if (!gref)
		goto out;
	hwm = 0;
	for (__u32 g = 0; g < group_hwm && g < m->n_groups; g++) {
		const __u32 *leaf = &m->tbl8[(size_t)g * FENCE_TBL8_GROUP];
		bool blank = true;

		for (int j = 0; j < FENCE_TBL8_GROUP && blank; j++)
			blank = !leaf[j];
		if (gref[g] || m->tbl8_state[g].freed_ns || !blank)
			hwm = g + 1;
	}
	n = 0;
	for (__u32 g = 0; g < hwm; g++)
		if (!gref[g])
			v[n++] = (struct aged){ m->tbl8_state[g].freed_ns, g };
	qsort(v, n, sizeof(*v), aged_cmp);
	for (__u32 i = 0; i < n; i++)
		gfree_ring[i] = v[i].id;
	h->group_hwm = hwm;
	h->gfree_head = 0;
	h->gfree_n = n;
	h->magic = FENCE_STORE_MAGIC;
	h->version = FENCE_STORE_VERSION;
	h->n_slots = m->n_slots;
	h->n_groups = m->n_groups;
	h->index_cells = st->cells;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	h->valid = 1;
	ret = 0;
out:
	free(v);
	free(gref);
	return ret;
}

int tbl_store_rebuild(struct table *t)
{
	return store_rebuild(t, t->m->n_slots, t->m->n_groups);
}

/* The index, from the store when it is valid. */
bool tbl_store_index(struct table *t)
{
	if (!tbl_store_valid(t))
		return false;
	if (!t->idx_store) {
		free(t->idx.e);
		t->idx.e = NULL;
		t->idx.mask = t->st.cells - 1;
		t->idx_store = true;
	}
	return true;
}

/* The /32 denies of /24 x as committed (FENCE_HOSTS_MANY: that many or
 * more), for a writer with a valid store; -1 otherwise. */
int tbl_store_hosts(struct table *t, __u32 x)
{
	const __u8 *c;

	if (!tbl_store_valid(t))
		return -1;
	c = lazymap_at(&t->st.lz[FS_HOSTS], x, 1);
	return c ? *c : -1;
}

/* A /32 deny of /24 x added (d = 1) or removed (d = -1) by the commit
 * publishing. A count at FENCE_HOSTS_MANY stays there (until a rebuild
 * counts again). */
void tbl_store_hosts_add(struct table *t, __u32 x, int d)
{
	__u8 *c;

	if (!tbl_store_valid(t))
		return;
	c = lazymap_at(&t->st.lz[FS_HOSTS], x, 1);
	if (!c) {		/* a count not kept is a count not trusted */
		tbl_store_invalidate(t);
		return;
	}
	if (*c == FENCE_HOSTS_MANY)
		return;
	if (d > 0)
		(*c)++;
	else if (*c)
		(*c)--;
}

/* Cell i of the store's index, or of the index in memory. */
__u64 *tbl_idx_cell(const struct table *t, __u32 i)
{
	static __u64 none;

	if (!t->idx_store)
		return &t->idx.e[i];
	__u64 *c = lazymap_at((struct lazymap *)&t->st.lz[FS_INDEX], (size_t)i * sizeof(__u64),
			      sizeof(__u64));

	/* out of memory for a window: an empty cell, as if the key were
	 * absent (a put then stages a new entry, which the commit refuses
	 * for want of memory in turn) */
	none = 0;
	return c ? c : &none;
}

static __u32 *ring_at(struct table *t, int which, __u32 i)
{
	static __u32 none;
	__u32 *p = lazymap_at(&t->st.lz[which], (size_t)i * sizeof(__u32), sizeof(__u32));

	return p ? p : &none;
}

/* --- allocation --------------------------------------------------------- */

void tbl_store_pick_reset(struct table *t)
{
	if (!tbl_store_valid(t))
		return;
	t->st.pick_ring = t->st.pick_gring = 0;
	t->st.pick_hwm = t->st.hdr->slot_hwm;
	t->st.pick_ghwm = t->st.hdr->group_hwm;
}

/* Pick n slots from the ring of freed ones (oldest first, out of their
 * quarantine) and from the never used ones; nothing is taken from the
 * store until tbl_store_take (publish). -ENOSPC when there are not n;
 * *wake_ns > 0 when waiting that long for a quarantine would do. */
int tbl_store_pick_slots(struct table *t, __u32 n, __u32 *out, __u64 now, __u64 *wake_ns)
{
	const struct fence_maps *m = t->m;
	struct fence_store *h = t->st.hdr;
	__u32 got = 0, i = 0, hwm = h->slot_hwm;

	*wake_ns = 0;
	for (; got < n && i < h->free_n; i++) {
		__u32 s = *ring_at(t, FS_FREE, (h->free_head + i) % m->n_slots);

		const struct fence_rule_info *in = fence_info_at(m, s);

		if (in && tbl_quarantined(in->freed_ns, now)) {
			*wake_ns = in->freed_ns + FENCE_QUARANTINE_NS;
			break;
		}
		out[got++] = s;
	}
	t->st.pick_ring = i;
	while (got < n && hwm < m->n_slots)
		out[got++] = hwm++;
	t->st.pick_hwm = hwm;
	if (got == n)
		return 0;
	return -ENOSPC;
}

/* Groups likewise, for the fresh ones a commit needs. */
int tbl_store_pick_groups(struct table *t, __u32 n, __u32 *out, __u64 now, __u64 *wake_ns)
{
	const struct fence_maps *m = t->m;
	struct fence_store *h = t->st.hdr;
	__u32 got = 0, i = 0, hwm = h->group_hwm;

	*wake_ns = 0;
	for (; got < n && i < h->gfree_n; i++) {
		__u32 g = *ring_at(t, FS_GFREE, (h->gfree_head + i) % m->n_groups);

		const struct fence_group_state *gs = fence_gstate_at(m, g);

		if (gs && tbl_quarantined(gs->freed_ns, now)) {
			*wake_ns = gs->freed_ns + FENCE_QUARANTINE_NS;
			break;
		}
		out[got++] = g;
	}
	t->st.pick_gring = i;
	while (got < n && hwm < m->n_groups)
		out[got++] = hwm++;
	t->st.pick_ghwm = hwm;
	return got == n ? 0 : -ENOSPC;
}

bool tbl_store_map_whole(struct table *t)
{
	return lazymap_full(&t->st.lz[FS_INDEX]) && lazymap_full(&t->st.lz[FS_HOSTS]);
}

/* Free slots and groups left, counting those in quarantine. */
__u32 tbl_store_free_slots(const struct table *t)
{
	const struct fence_store *h = t->st.hdr;

	return h->free_n + (t->m->n_slots - h->slot_hwm);
}

__u32 tbl_store_free_groups(const struct table *t)
{
	const struct fence_store *h = t->st.hdr;

	return h->gfree_n + (t->m->n_groups - h->group_hwm);
}

/* The commit publishes: what it picked is taken. */
void tbl_store_take(struct table *t)
{
	struct fence_store *h = t->st.hdr;
	const struct fence_maps *m = t->m;

	h->free_head = (h->free_head + t->st.pick_ring) % m->n_slots;
	h->free_n -= t->st.pick_ring;
	h->slot_hwm = t->st.pick_hwm;
	h->gfree_head = (h->gfree_head + t->st.pick_gring) % (m->n_groups ? m->n_groups : 1);
	h->gfree_n -= t->st.pick_gring;
	h->group_hwm = t->st.pick_ghwm;
	t->st.pick_ring = t->st.pick_gring = 0;
}

void tbl_store_free_slot(struct table *t, __u32 s)
{
	struct fence_store *h = t->st.hdr;

	*ring_at(t, FS_FREE, (h->free_head + h->free_n) % t->m->n_slots) = s;
	h->free_n++;
}

void tbl_store_free_group(struct table *t, __u32 g)
{
	struct fence_store *h = t->st.hdr;

	*ring_at(t, FS_GFREE, (h->gfree_head + h->gfree_n) % t->m->n_groups) = g;
	h->gfree_n++;
}

bool table_store_stale(struct table *t)
{
	return t->st.on && !t->st.hdr->valid;
}

int table_store_rebuild(struct table *t)
{
	return tbl_store_rebuild(t);
}

/* --- capacity ----------------------------------------------------------- */

static __u32 pow2_at_least(__u64 n)
{
	__u32 p = 1024;

	while (p < n && p < (1U << 30))
		p <<= 1;
	return p;
}

/* n and a share more (n / more_div): a power of two up to 64k, then steps
 * of 64k, so kernel memory follows what is loaded (a power of two could
 * take nearly twice that). */
static __u32 room_for(__u64 n, unsigned more_div)
{
	n += n / more_div;
	if (n <= 65536)
		return pow2_at_least(n);
	n = (n + 65535) & ~65535ULL;
	return n > (1U << 30) ? 1U << 30 : (__u32)n;
}

/* The /24s that this commit's IPv4 additions of /25../31 (and longer
 * allows) may give detail: each a group at most, however many land in it.
 * Those that have a group already are counted too (an upper bound). */
static __u64 groups_added(const struct table *t)
{
	__u64 *seen = calloc(FENCE_TBL24_ENTRIES / 64, sizeof(*seen)), n = 0;

	for (size_t i = 0; i < t->n_ops; i++) {
		const struct op *o = &t->ops[i];

		if (!o->del && !o->slot && o->family == 4 &&
		    tbl_v4_detail(o->kind == FENCE_KIND_ALLOW, o->len)) {
			__u32 x = tbl_v4_host(o->addr) >> 8;

			if (!seen) {	/* no memory for the bitmap: one each */
				n++;
			} else if (!(seen[x / 64] & 1ULL << (x % 64))) {
				seen[x / 64] |= 1ULL << (x % 64);
				n++;
			}
		}
	}
	free(seen);
	return n;
}

int table_needs(struct table *t, struct grow_to *g)
{
	const struct fence_maps *m = t->m;
	__u64 live = 0, v6 = 0, groups = 0;
	__u8 v6_lens[(FENCE_V6_LENS_MAX + 7) / 8] = {};
	__u32 v6_adds = 0;
	int ret;

	memset(g, 0, sizeof(*g));
	if (!t->n_ops)
		return 0;
	if (tbl_store_valid(t)) {
		const struct fence_store *h = t->st.hdr;

		live = (__u64)h->live[0][1] + h->live[0][2] + h->live[1][1] + h->live[1][2];
		v6 = h->live[1][FENCE_KIND_DENY];
		groups = h->group_hwm - h->gfree_n;
	} else {
		__u32 used;
		__u8 *gref;

		ret = fence_maps_full(t->m);
		if (ret)
			return ret;
		for (__u32 s = 1; s < m->n_slots; s++)
			if (m->rules[s].kind != FENCE_KIND_FREE) {
				live++;
				v6 += m->rules[s].family == 6 && m->rules[s].kind == FENCE_KIND_DENY;
			}
		gref = tbl_groups_named(m, &used);
		if (!gref)
			return -ENOMEM;
		free(gref);
		groups = used;
	}
	for (size_t n = 0; n < t->n_ops; n++) {
		const struct op *o = &t->ops[n];
		bool add = !o->del && !o->slot;

		/* removals free their slots only once the commit is done */
		live += add;
		if (o->family == 6 && o->kind == FENCE_KIND_DENY)
			v6 += add;
		if (o->family == 6 && add) {	/* tbl6 keys, allows too */
			v6_adds++;
			v6_lens[o->len / 8] |= 1 << (o->len % 8);
		}
	}
	ret = table_tbl6_needs(t->m, v6_lens, v6_adds, &g->tbl6);
	if (ret)
		return ret;
	groups += groups_added(t);
	if (live + 1 >= m->n_slots)
		g->slots = room_for(live + 1, 4);
	/* groups: an eighth more past 64k, a group being 1 KiB and the count
	 * already an upper bound (every /24 a new detail entry lies in) */
	if (groups > m->n_groups)
		g->groups = room_for(groups, groups > 65536 ? 8 : 4);
	if (v6 > m->max_entries[FM_DENY_V6])
		g->v6 = pow2_at_least(v6 + v6 / 4);
	return g->slots || g->groups || g->v6 || g->tbl6;
}

int table_maps_changed(struct table *t, const char *pin_dir)
{
	/* grown maps hold the old ones' slots and groups at the start and
	 * zeros after: what the store knew was never used stays so */
	bool known = tbl_store_valid(t);
	__u32 slot_hwm = known ? t->st.hdr->slot_hwm : t->m->n_slots;
	__u32 group_hwm = known ? t->st.hdr->group_hwm : t->m->n_groups;

	/* the key loader's program holds the old deny_v4 and allow_v4 */
	keyload_close(t->kl);
	t->kl = NULL;
	t->kl_tried = false;
	free(t->parent);
	t->parent = NULL;
	if (!t->idx_store)
		free(t->idx.e);
	t->idx.e = NULL;
	t->idx_store = false;
	tbl_store_close(t);
	if (table_store_attach(t, pin_dir, true))
		return -ENOMEM;
	return store_rebuild(t, known ? slot_hwm : t->m->n_slots, known ? group_hwm : t->m->n_groups);
}
