// SPDX-License-Identifier: GPL-2.0
/* user/core/grow.c - tables that grow: when a change needs more rule slots,
 * tbl8 groups, IPv6 entries or tbl6 positions than the pinned maps hold,
 * bigger ones are made, filled from the old (tbl6's keys placed again for
 * its new size), and every interface's program is switched to them at once.
 *
 * How the switch stays whole: the new maps are complete (a copy of the old,
 * the pin dir's lock held so nothing else writes them) before any program
 * reads them; each interface gets a new instance of the program over the
 * new maps and the maps that did not grow (counters, prefix maps, throttle
 * buckets: the same maps, so they carry over), and one atomic replace
 * (XDP_FLAGS_REPLACE) moves the interface from the old instance to the new:
 * a packet is judged by one or the other, never by a mix. Then the new maps
 * take the old ones' names under the pin dir (pinned aside, renamed over),
 * and the old maps go with the last reference to them.
 *
 * Owns the choice of sizes, the copy, the switch and the re-pinning. Needs
 * the pin dir's lock. Must not change what the maps hold.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "core/pin.h"
#include "xdpfence.skel.h"

/* Maps sized by the rule slots, by the tbl8 groups, by IPv6 denies. */
static const int slot_maps[] = { FM_RULES, FM_RULE_INFO, FM_ENTRY_HITS, FM_DENY_V4 };
static const int group_maps[] = { FM_TBL8, FM_TBL8_STATE };

static bool in_list(const int *v, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* The new size of map id, 0 if it does not grow. */
static __u32 new_size(const struct fence_maps *m, int id, const struct grow_to *g)
{
	if (g->slots > m->n_slots && id == FM_ENTRY_HITS)
		return g->slots * m->ncpus;	/* every CPU's block (maps/keys.h) */
	if (g->slots > m->n_slots && in_list(slot_maps, sizeof(slot_maps) / sizeof(*slot_maps), id))
		return g->slots;
	if (g->groups > m->n_groups &&
	    in_list(group_maps, sizeof(group_maps) / sizeof(*group_maps), id))
		return g->groups;
	/* host_v4's cells are placed again for the new size (table_host_regrow) */
	if (id == FM_HOST_V4 && g->slots > m->n_slots)
		return fence_host_buckets(g->slots) + 1;
	if (id == FM_DENY_V6 && g->v6 > m->max_entries[FM_DENY_V6])
		return g->v6;
	/* tbl6 and its meta together: the keys are placed again for the new
	 * size, under a new seed (table_tbl6_regrow), not copied */
	if (id == FM_TBL6 && g->tbl6 > m->n_tbl6)
		return g->tbl6;
	if (id == FM_TBL6_META && g->tbl6 > m->n_tbl6)
		return 1;
	return 0;
}

/* --- the interfaces running this pin dir's program ---------------------- */

struct ours {
	int ifindex;
	__u32 prog_id;
	__u32 flags;			/* XDP_FLAGS_*_MODE it runs in */
};

static int list_ours(const char *pin_dir, __u32 stats_id, struct ours *v, int max, char *err,
		     size_t errlen)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(i->if_index);
		struct xdp_program *pr;

		if (libxdp_get_error(mp) || !mp)
			continue;
		if (!xdp_multiprog__is_legacy(mp)) {
			for (pr = xdp_multiprog__next_prog(NULL, mp); pr;
			     pr = xdp_multiprog__next_prog(pr, mp))
				if (pin_prog_ours(xdp_program__id(pr), pin_dir, stats_id)) {
					snprintf(err, errlen, "%s runs xdpfence under libxdp's "
						 "dispatcher, where the tables cannot grow in place: "
						 "detach, attach with --max-rules/--tbl8-groups", i->if_name);
					xdp_multiprog__close(mp);
					if_freenameindex(ifs);
					return -EOPNOTSUPP;
				}
		} else if ((pr = xdp_multiprog__main_prog(mp)) &&
			   pin_prog_ours(xdp_program__id(pr), pin_dir, stats_id) && n < max) {
			enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);

			v[n++] = (struct ours){ (int)i->if_index, xdp_program__id(pr),
						mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE :
						mode == XDP_MODE_HW ? XDP_FLAGS_HW_MODE :
						XDP_FLAGS_DRV_MODE };
		}
		xdp_multiprog__close(mp);
	}
	if_freenameindex(ifs);
	return n;
}

/* --- copying ------------------------------------------------------------ */

static size_t page_round(size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	return (len + ps - 1) & ~(ps - 1);
}

/* Between mmap-able arrays: n blocks of len bytes, the k-th of the old map
 * at k * from_stride to k * to_stride of the new one. */
static int copy_blocks(int from, int to, int n, size_t len, size_t from_stride, size_t to_stride)
{
	size_t la = page_round(from_stride * (n - 1) + len), lb = page_round(to_stride * (n - 1) + len);
	char *a = mmap(NULL, la, PROT_READ, MAP_SHARED, from, 0), *b;
	int ret = 0;

	if (a == MAP_FAILED)
		return -errno;
	b = mmap(NULL, lb, PROT_READ | PROT_WRITE, MAP_SHARED, to, 0);
	if (b == MAP_FAILED) {
		ret = -errno;
	} else {
		for (int k = 0; k < n; k++)
			memcpy(b + to_stride * k, a + from_stride * k, len);
		munmap(b, lb);
	}
	munmap(a, la);
	return ret;
}

/* An mmap-able array: the old one's bytes at the start of the new one. */
static int copy_array(int from, int to, const struct bpf_map_info *in)
{
	return copy_blocks(from, to, 1,
			   page_round((size_t)((in->value_size + 7) & ~7U) * in->max_entries), 0, 0);
}

/* Any other map: every element, by batches where the map has them. */
static int copy_elems(int from, int to, const struct bpf_map_info *in, int ncpus)
{
	size_t vsz = in->value_size;
	__u32 n = 4096, cnt;
	void *keys, *vals, *in_batch = NULL;
	__u64 out_batch = 0;		/* the kernel's cursor: a bucket or an index */
	int ret = 0;

	if (in->type == BPF_MAP_TYPE_PERCPU_ARRAY || in->type == BPF_MAP_TYPE_PERCPU_HASH ||
	    in->type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
		vsz = (size_t)((vsz + 7) & ~7U) * ncpus;
	keys = malloc((size_t)n * in->key_size);
	vals = malloc((size_t)n * vsz);
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	if (in->type != BPF_MAP_TYPE_LPM_TRIE) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		for (;;) {
			cnt = n;
			ret = bpf_map_lookup_batch(from, in_batch, &out_batch, keys, vals, &cnt, &o) ?
			      -errno : 0;
			if (ret && ret != -ENOENT)
				break;
			if (cnt && bpf_map_update_batch(to, keys, vals, &cnt, &o)) {
				ret = -errno;
				break;
			}
			if (ret == -ENOENT) {
				ret = 0;
				break;
			}
			in_batch = &out_batch;
		}
		goto out;
	}
	/* an LPM trie has no batches: one key after another */
	{
		__u8 k[64], next[64];
		void *prev = NULL;

		while (!bpf_map_get_next_key(from, prev, next)) {
			memcpy(k, next, in->key_size);
			prev = k;
			if (bpf_map_lookup_elem(from, k, vals))
				continue;
			if (bpf_map_update_elem(to, k, vals, BPF_ANY)) {
				ret = -errno;
				break;
			}
		}
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/* entry_hits: each CPU's block of old_slots counters to the start of its
 * block of new_slots (maps/keys.h). */
static int copy_hits(int from, int to, __u32 old_slots, __u32 new_slots, int ncpus)
{
	size_t esz = sizeof(struct fence_entry_counters);

	return copy_blocks(from, to, ncpus, esz * old_slots, esz * old_slots, esz * new_slots);
}

static int copy_map(int from, int to, int ncpus)
{
	struct bpf_map_info in = {};
	__u32 len = sizeof(in);

	if (bpf_obj_get_info_by_fd(from, &in, &len))
		return -errno;
	if (in.type == BPF_MAP_TYPE_ARRAY && (in.map_flags & BPF_F_MMAPABLE))
		return copy_array(from, to, &in);
	return copy_elems(from, to, &in, ncpus);
}

/* --- memory ------------------------------------------------------------- */

/* What a map takes of kernel memory, as the kernel counts it (fdinfo). */
static __u64 map_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

__u64 pin_memory(const struct pinned *p)
{
	static const char *const extra[] = {
#define X(id, name) #name,
		FENCE_STORE_MAPS(X)
#undef X
	};
	char path[PATH_MAX + 32];
	__u64 sum = 0;

	for (int i = 0; i < FM_COUNT; i++)
		sum += map_memlock(p->m.fd[i]);
	for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", p->pin_dir, extra[i]);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			sum += map_memlock(fd);
			close(fd);
		}
	}
	return sum;
}

static int limits_fd(const char *pin_dir, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, co);
	char path[PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/tbl_limits", pin_dir);
	fd = bpf_obj_get(path);
	if (fd >= 0 || !create)
		return fd;
	co.map_flags = BPF_F_MMAPABLE;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tbl_limits", sizeof(__u32),
			    sizeof(struct fence_limits), 1, &co);
	if (fd >= 0 && bpf_obj_pin(fd, path)) {
		close(fd);
		return -1;
	}
	return fd;
}

__u64 pin_memory_limit(const char *pin_dir)
{
	struct fence_limits l = {};
	__u32 k = 0;
	int fd = limits_fd(pin_dir, false);

	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &k, &l))
		l.memory = 0;
	close(fd);
	return l.memory;
}

int pin_set_memory_limit(const char *pin_dir, __u64 bytes)
{
	struct fence_limits l = { .memory = bytes };
	__u32 k = 0;
	int fd = limits_fd(pin_dir, true), ret = 0;

	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &k, &l, BPF_ANY))
		ret = -errno;
	close(fd);
	return ret;
}

/* About what growing to g adds, per slot and per group (rules 24 B,
 * rule_info 128 B, per-CPU entry counters 24 B, a preallocated deny_v4 element
 * ~80 B, host_v4 16 B, the store's index 16 B and ring 4 B; a tbl8 group 1 KiB and its
 * state 8 B). An estimate, for the limit: the kernel rounds up. */
static __u64 grow_cost(const struct fence_maps *m, const struct grow_to *g)
{
	__u64 cost = 0;

	if (g->slots > m->n_slots)
		cost += (__u64)(g->slots - m->n_slots) * (24 + 128 + 24 * m->ncpus + 80 + 16 + 16 + 4);
	if (g->groups > m->n_groups)
		cost += (__u64)(g->groups - m->n_groups) * (1024 + 8 + 4);
	if (g->v6 > m->max_entries[FM_DENY_V6])
		cost += 0;	/* a trie takes memory as it fills, not for its size */
	if (g->tbl6 > m->n_tbl6)
		cost += (__u64)g->tbl6 * sizeof(struct fence_v6_ent);	/* the old goes after */
	return cost;
}

/* --- the grow ----------------------------------------------------------- */

#define IFACES_MAX 64

/* An instance that made some of the bigger maps: those g grows. */
struct maker {
	struct xdpfence *sk;
	struct grow_to g;
};

/* An instance over the maps: the pinned ones it keeps, the bigger ones
 * made (n_from 0) or shared from the instance of from[] that made each.
 * With prog, its program is loaded too (for an interface); without, only
 * the maps are made. */
static int open_instance(struct pinned *p, const struct grow_to *g, struct xdpfence **out,
			 const struct maker *from, int n_from, int chain_fd, bool prog)
{
	struct fence_opts o = { .max_rules = g->slots > p->m.n_slots ? g->slots : p->m.n_slots,
				.tbl8_groups = g->groups > p->m.n_groups ? g->groups : p->m.n_groups };
	struct fence_meta meta;
	struct xdpfence *skel;
	struct bpf_map *map;
	int ret;

	ret = fence_skel_open(&skel, &o);	/* no pin dir: nothing pinned by libbpf */
	if (ret)
		return ret;
	if (!fence_read_meta(&p->m, &meta)) {
		skel->rodata->v4_agg_len = meta.v4_agg_len;
		skel->rodata->v6_agg_len = meta.v6_agg_len;
		skel->rodata->malformed_verdict = meta.malformed_verdict;
	}
	skel->rodata->pin_dir_id = fence_pin_dir_id(p->pin_dir);
	bpf_object__for_each_map(map, skel->obj) {
		int id = fence_map_id(bpf_map__name(map));

		if (id < 0)
			continue;
		if (new_size(&p->m, id, g)) {
			bpf_map__set_max_entries(map, new_size(&p->m, id, g));
			for (int k = 0; k < n_from; k++) {	/* made already: share */
				struct bpf_map *fm;

				if (!new_size(&p->m, id, &from[k].g))
					continue;
				fm = bpf_object__find_map_by_name(from[k].sk->obj, bpf_map__name(map));
				ret = fm ? bpf_map__reuse_fd(map, bpf_map__fd(fm)) : -ENOENT;
				break;
			}
		} else {
			ret = bpf_map__reuse_fd(map, p->m.fd[id]);
		}
		if (ret)
			goto fail;
	}
	if (chain_fd >= 0 && (ret = bpf_map__reuse_fd(skel->maps.chain, chain_fd)))
		goto fail;
	bpf_program__set_autoload(skel->progs.xdpfence_prog, prog);
	ret = xdpfence__load(skel);
	if (ret)
		goto fail;
	*out = skel;
	return 0;
fail:
	xdpfence__destroy(skel);
	return ret;
}

/* The old maps' contents into the bigger ones of instance nsk, whole
 * before anything reads them. */
static int copy_maps(struct pinned *p, const struct grow_to *g, struct xdpfence *nsk, char *err,
		     size_t errlen)
{
	for (int id = 0; id < FM_COUNT; id++) {
		struct bpf_map *nm;
		int ret;

		if (!new_size(&p->m, id, g) || id == FM_TBL6_META)	/* written with tbl6 */
			continue;
		nm = bpf_object__find_map_by_name(nsk->obj, fence_map_names[id]);
		if (id == FM_TBL6) {
			struct bpf_map *nmt = bpf_object__find_map_by_name(nsk->obj,
								fence_map_names[FM_TBL6_META]);

			ret = nm && nmt ? table_tbl6_regrow(&p->m, bpf_map__fd(nm), g->tbl6,
							    bpf_map__fd(nmt)) : -ENOENT;
		} else if (id == FM_HOST_V4) {
			ret = nm ? table_host_regrow(p->m.fd[id], bpf_map__fd(nm)) : -ENOENT;
		} else if (id == FM_ENTRY_HITS) {
			ret = nm ? copy_hits(p->m.fd[id], bpf_map__fd(nm), p->m.n_slots, g->slots,
					     p->m.ncpus) : -ENOENT;
		} else {
			ret = nm ? copy_map(p->m.fd[id], bpf_map__fd(nm), p->m.ncpus) : -ENOENT;
		}
		if (ret) {
			snprintf(err, errlen, "copying %s into its bigger map: %s", fence_map_names[id],
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* The interfaces' programs over the maps of sk[0], into sk[1..]: done of
 * them loaded, ret the first failure. */
struct prog_job {
	struct pinned *p;
	const struct grow_to *g;
	const struct ours *ifs;
	int n_if;
	struct xdpfence **sk;
	pthread_t th;
	int done, ret;
};

static void *progs_load(void *arg)
{
	struct prog_job *j = arg;
	char path[PATH_MAX + 64];

	for (int i = 0; i < j->n_if && !j->ret; i++) {
		int chain;

		snprintf(path, sizeof(path), "%s/chain_if%d", j->p->pin_dir, j->ifs[i].ifindex);
		chain = bpf_obj_get(path);
		j->ret = open_instance(j->p, j->g, &j->sk[1 + i], &(struct maker){ j->sk[0], *j->g },
				       1, chain, true);
		if (chain >= 0)
			close(chain);
		j->done += !j->ret;
	}
	return NULL;
}

/* Half of the bigger maps, made on a thread. */
struct make_job {
	struct pinned *p;
	struct maker mk;
	pthread_t th;
	int ret;
};

static void *make_run(void *arg)
{
	struct make_job *j = arg;

	j->ret = open_instance(j->p, &j->mk.g, &j->mk.sk, NULL, 0, -1, false);
	return NULL;
}

/* The bigger maps, by an instance that loads no program (*out). Making a
 * map is mostly the kernel zeroing its memory: when both the slot maps and
 * the groups grow, each half is made by an instance of its own, the groups
 * on a second thread, and *out shares them. */
static int make_maps(struct pinned *p, const struct grow_to *g, struct xdpfence **out)
{
	struct make_job j = { .p = p, .mk.g = { .groups = g->groups } };
	struct maker mine = { .g = *g };
	int ret;

	mine.g.groups = 0;
	if (!g->groups || !(g->slots || g->v6 || g->tbl6) || pthread_create(&j.th, NULL, make_run, &j))
		return open_instance(p, g, out, NULL, 0, -1, false);
	ret = open_instance(p, &mine.g, &mine.sk, NULL, 0, -1, false);
	pthread_join(j.th, NULL);
	if (!ret)
		ret = j.ret;
	if (!ret)
		ret = open_instance(p, g, out, (struct maker[]){ mine, j.mk }, 2, -1, false);
	if (mine.sk)
		xdpfence__destroy(mine.sk);	/* *out holds the maps */
	if (j.mk.sk)
		xdpfence__destroy(j.mk.sk);
	return ret;
}

int pin_grow(struct pinned *p, const struct grow_to *want, char *err, size_t errlen)
{
	struct grow_to g = *want;
	struct ours ifs[IFACES_MAX];
	struct xdpfence *sk[IFACES_MAX + 1] = {};
	struct prog_job pj;
	int old[IFACES_MAX], n_if, n_sk = 0, ret = 0, switched = 0;
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];

	g.slots = g.slots > p->m.n_slots ? g.slots : 0;
	g.groups = g.groups > p->m.n_groups ? g.groups : 0;
	g.v6 = g.v6 > p->m.max_entries[FM_DENY_V6] ? g.v6 : 0;
	g.tbl6 = g.tbl6 > p->m.n_tbl6 ? g.tbl6 : 0;
	if (!g.slots && !g.groups && !g.v6 && !g.tbl6)
		return 0;
	{
		__u64 limit = pin_memory_limit(p->pin_dir), now, more;

		if (limit) {
			now = pin_memory(p);
			more = grow_cost(&p->m, &g);
			if (now + more > limit) {
				snprintf(err, errlen, "the tables would grow to %u rule slots and %u tbl8 "
					 "groups, about %llu MiB of kernel memory in all: over the "
					 "limit of %llu MiB (attach --memory-limit, [daemon] "
					 "memory_limit)", g.slots ? g.slots : p->m.n_slots,
					 g.groups ? g.groups : p->m.n_groups,
					 (unsigned long long)((now + more) >> 20),
					 (unsigned long long)(limit >> 20));
				return -ENOSPC;
			}
		}
	}
	n_if = list_ours(p->pin_dir, pin_map_id(p->pin_dir, FM_STATS), ifs, IFACES_MAX, err, errlen);
	if (n_if < 0) {
		if (!err[0])
			snprintf(err, errlen, "listing interfaces: %s", strerror(-n_if));
		return n_if;
	}
	/* the bigger maps, made by an instance that loads no program; then
	 * one instance per interface (each keeps its own `chain` to the
	 * program it runs before), its program verified on a thread while
	 * the maps are copied (the two take about as long) */
	ret = make_maps(p, &g, &sk[0]);
	if (ret) {
		snprintf(err, errlen, "making the bigger maps: %s", strerror(-ret));
		goto out;
	}
	n_sk = 1;
	pj = (struct prog_job){ p, &g, ifs, n_if, sk };
	if (n_if && (ret = -pthread_create(&pj.th, NULL, progs_load, &pj))) {
		snprintf(err, errlen, "starting a thread: %s", strerror(-ret));
		goto out;
	}
	ret = copy_maps(p, &g, sk[0], err, errlen);
	if (n_if) {
		pthread_join(pj.th, NULL);
		n_sk += pj.done;
		if (!ret && pj.ret) {
			ret = pj.ret;
			snprintf(err, errlen, "loading the program over bigger maps: %s",
				 strerror(-ret));
		}
	}
	if (ret)
		goto out;
	/* the new maps pinned aside first: if that fails nothing has moved
	 * (bpffs refuses dots in names: NAME_grow) */
	for (int id = 0; id < FM_COUNT; id++) {
		struct bpf_map *nm;

		if (!new_size(&p->m, id, &g))
			continue;
		nm = bpf_object__find_map_by_name(sk[0]->obj, fence_map_names[id]);
		snprintf(tmp, sizeof(tmp), "%s/%s_grow", p->pin_dir, fence_map_names[id]);
		unlink(tmp);
		if (bpf_obj_pin(bpf_map__fd(nm), tmp)) {
			ret = -errno;
			snprintf(err, errlen, "pinning the bigger %s: %s", fence_map_names[id],
				 strerror(errno));
			goto unpin;
		}
	}
	/* the switch, interface by interface, each at once; if one fails,
	 * those switched go back, and the old maps stay the pinned ones */
	for (int i = 0; i < n_if; i++) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao);

		old[i] = bpf_prog_get_fd_by_id(ifs[i].prog_id);
		ao.old_prog_fd = old[i];
		ret = old[i] < 0 ? -errno :
		      bpf_xdp_attach(ifs[i].ifindex, bpf_program__fd(sk[1 + i]->progs.xdpfence_prog),
				     XDP_FLAGS_REPLACE | ifs[i].flags, &ao) ? -errno : 0;
		if (ret) {
			char name[IF_NAMESIZE] = "?";

			if_indextoname(ifs[i].ifindex, name);
			snprintf(err, errlen, "switching %s to the bigger maps: %s", name,
				 strerror(-ret));
			for (int j = 0; j < switched; j++) {
				LIBBPF_OPTS(bpf_xdp_attach_opts, back);

				back.old_prog_fd = bpf_program__fd(sk[1 + j]->progs.xdpfence_prog);
				bpf_xdp_attach(ifs[j].ifindex, old[j], XDP_FLAGS_REPLACE | ifs[j].flags,
					       &back);
			}
			switched++;	/* old[i] to close too */
			goto unpin;
		}
		switched++;
	}
	/* the names: each renamed over the old, so that it names a whole map
	 * at every moment */
	for (int id = 0; id < FM_COUNT; id++) {
		if (!new_size(&p->m, id, &g))
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->pin_dir, fence_map_names[id]);
		snprintf(tmp, sizeof(tmp), "%s/%s_grow", p->pin_dir, fence_map_names[id]);
		if (rename(tmp, path)) {
			ret = -errno;	/* cannot be, short of someone else at work */
			snprintf(err, errlen, "renaming %s over %s: %s", tmp, path, strerror(errno));
			goto out;
		}
	}
	ret = fence_maps_refresh(&p->m, p->pin_dir);
	if (ret > 0)
		ret = 0;
	if (ret)
		snprintf(err, errlen, "reopening the maps: %s", strerror(-ret));
	goto out;
unpin:
	for (int id = 0; id < FM_COUNT; id++)
		if (new_size(&p->m, id, &g)) {
			snprintf(tmp, sizeof(tmp), "%s/%s_grow", p->pin_dir, fence_map_names[id]);
			unlink(tmp);
		}
out:
	for (int i = 0; i < switched && i < n_if; i++)
		if (old[i] >= 0)
			close(old[i]);
	for (int i = 0; i < n_sk; i++)
		xdpfence__destroy(sk[i]);	/* attached programs and pinned maps stay */
	return ret;
}
