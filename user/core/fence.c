// SPDX-License-Identifier: GPL-2.0
/* user/core/fence.c - open, size, find and mmap the data path's maps. See fence.h. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>	/* XDP_PASS */

#include "core/fence.h"
#include "xdpfence.skel.h"

const char *const fence_map_names[FM_COUNT] = {
#define X(id, name) [FM_##id] = #name,
	FENCE_MAPS(X)
#undef X
};

static const char *const stat_names[FENCE_STAT_MAX] = {
#define X(id, name) [FENCE_STAT_##id] = #name,
	FENCE_STATS(X)
#undef X
};

const char *fence_stat_name(unsigned int reason)
{
	return reason < FENCE_STAT_MAX && stat_names[reason] ? stat_names[reason] : "unknown";
}

__u64 fence_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

int fence_prepare_pin_dir(const char *pin_dir)
{
	char path[512];
	size_t len;

	if (!on_bpffs("/sys/fs/bpf") && !strncmp(pin_dir, "/sys/fs/bpf", 11)) {
		mkdir("/sys/fs/bpf", 0755);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
			return -errno;
	}
	len = snprintf(path, sizeof(path), "%s", pin_dir);
	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return on_bpffs(path) ? 0 : -ENOTSUP;
}

/* By member, not by name: a name in FENCE_MAPS that bpf/maps.h does not
 * define fails the build here. */
static struct bpf_map *skel_map(struct xdpfence *skel, enum fence_map_id id)
{
	struct bpf_map *const maps[FM_COUNT] = {
#define X(id, name) [FM_##id] = skel->maps.name,
		FENCE_MAPS(X)
#undef X
	};

	return maps[id];
}

/* Sizes of an existing pinned map, so the new object reuses it. */
static int pinned_info(const char *pin_dir, const char *name, struct bpf_map_info *info)
{
	char path[512];
	__u32 len = sizeof(*info);
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	err = bpf_obj_get_info_by_fd(fd, info, &len);
	close(fd);
	return err ? -errno : 0;
}

int fence_read_pinned_meta(const char *pin_dir, struct fence_meta *meta)
{
	char path[512];
	__u32 key = 0;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, fence_map_names[FM_META]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_map_lookup_elem(fd, &key, meta) ? -errno : 0;
	close(fd);
	if (!err && meta->magic != FENCE_META_MAGIC)
		err = -ENOENT;	/* created but never initialised */
	return err;
}

__u64 fence_pin_dir_id(const char *pin_dir)
{
	char real[PATH_MAX], parent[PATH_MAX];
	const char *path = pin_dir, *base;
	__u64 h = 1469598103934665603ULL;	/* FNV-1a */

	/* one id whatever way the path is written, even once it is gone */
	if (realpath(pin_dir, real)) {
		path = real;
	} else {
		snprintf(parent, sizeof(parent), "%s", pin_dir);
		base = strrchr(parent, '/');
		if (base && base != parent) {
			parent[base - parent] = 0;
			if (realpath(parent, real) &&
			    strlen(real) + strlen(pin_dir + (base - parent)) < sizeof(real)) {
				strcat(real, pin_dir + (base - parent));
				path = real;
			}
		}
	}
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h | 1;	/* never 0: 0 is "loaded by a build that did not say" */
}

int fence_prog_pin_dir_id(__u32 prog_id, __u64 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], n;
	int fd = bpf_prog_get_fd_by_id(prog_id), ret = -ENOENT;

	*id = 0;
	if (fd < 0)
		return -errno;
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	close(fd);
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (__u32 i = 0; i < n && ret; i++) {
		struct bpf_map_info mi = {};
		__u32 ml = sizeof(mi), k = 0;
		int mfd = bpf_map_get_fd_by_id(ids[i]);
		size_t off = offsetof(struct xdpfence__rodata, pin_dir_id);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &ml) && strstr(mi.name, ".rodata") &&
		    mi.value_size >= off + sizeof(__u64) && mi.value_size <= 4096) {
			__u8 val[4096];

			if (!bpf_map_lookup_elem(mfd, &k, val)) {
				memcpy(id, val + off, sizeof(*id));
				ret = 0;
			}
		}
		close(mfd);
	}
	return ret;
}

/* entry_hits holds every CPU's counters of every slot (maps/keys.h): as
 * many slots as `rules`, whatever sized it (the options, or the pinned
 * set), and the program told how many. */
static int size_entry_hits(struct xdpfence *skel)
{
	__u32 slots = bpf_map__max_entries(skel->maps.rules);
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus < 0)
		return ncpus;
	if ((__u64)slots * ncpus > UINT32_MAX / sizeof(struct fence_entry_counters))
		return -E2BIG;
	skel->rodata->entry_slots = slots;
	return bpf_map__set_max_entries(skel->maps.entry_hits, slots * ncpus);
}

int fence_skel_open(struct xdpfence **skelp, const struct fence_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	struct xdpfence *skel;
	struct fence_meta meta;
	bool host_pinned = false;
	struct bpf_map *map;
	int err = 0;

	skel = xdpfence__open_opts(&oo);
	if (!skel)
		return -errno;

	skel->rodata->v4_agg_len = o->v4_agg_len ? o->v4_agg_len : FENCE_V4_AGG_LEN_DEFAULT;
	skel->rodata->v6_agg_len = o->v6_agg_len ? o->v6_agg_len : FENCE_V6_AGG_LEN_DEFAULT;
	skel->rodata->malformed_verdict = o->malformed_drop ? XDP_DROP : XDP_PASS;
	skel->rodata->count_prefixes = !o->no_prefix_counters;
	skel->rodata->count_hosts = !o->no_host_counting;
	if (o->pin_dir)
		skel->rodata->pin_dir_id = fence_pin_dir_id(o->pin_dir);

	if (o->max_rules) {
		bpf_map__set_max_entries(skel->maps.rules, o->max_rules);
		bpf_map__set_max_entries(skel->maps.rule_info, o->max_rules);
		bpf_map__set_max_entries(skel->maps.deny_v4, o->max_rules);
	}
	if (o->tbl8_groups) {
		bpf_map__set_max_entries(skel->maps.tbl8, o->tbl8_groups);
		bpf_map__set_max_entries(skel->maps.tbl8_state, o->tbl8_groups);
	}
	if (o->prefix_entries) {
		bpf_map__set_max_entries(skel->maps.prefix_v4, o->prefix_entries);
		bpf_map__set_max_entries(skel->maps.prefix_v6, o->prefix_entries);
		bpf_map__set_max_entries(skel->maps.active_log, 2 * o->prefix_entries);
	}
	if (o->v6_rules) {
		__u32 pos = 1024;

		while (pos < o->v6_rules && pos < (1U << 30))
			pos <<= 1;
		bpf_map__set_max_entries(skel->maps.deny_v6, o->v6_rules);
		bpf_map__set_max_entries(skel->maps.tbl6, pos);
	}

	if (!o->pin_dir) {
		bpf_object__for_each_map(map, skel->obj)
			bpf_map__set_pin_path(map, NULL);
		goto out;
	}

	/* Reuse what is pinned: its sizes and load-time settings win. */
	if (!fence_read_pinned_meta(o->pin_dir, &meta)) {
		skel->rodata->v4_agg_len = meta.v4_agg_len;
		skel->rodata->v6_agg_len = meta.v6_agg_len;
		skel->rodata->malformed_verdict = meta.malformed_verdict;
	}
	bpf_object__for_each_map(map, skel->obj) {
		struct bpf_map_info info;
		const char *name = bpf_map__name(map);

		if (!bpf_map__pin_path(map))
			continue;	/* .rodata and friends */
		if (pinned_info(o->pin_dir, name, &info))
			continue;
		host_pinned |= map == skel->maps.host_v4;
		/* flags too: an older build pinned deny_v4 with BPF_F_NO_PREALLOC */
		err = bpf_map__set_max_entries(map, info.max_entries);
		if (!err)
			err = bpf_map__set_map_flags(map, info.map_flags);
		if (err)
			goto fail;
	}
out:
	/* host_v4 follows the slots (those pinned, or the options'), unless
	 * pinned itself: one made beside an older set fits that set's slots */
	if (!host_pinned)
		err = bpf_map__set_max_entries(skel->maps.host_v4,
					       fence_host_buckets(bpf_map__max_entries(skel->maps.rules)) + 1);
	if (!err)
		err = size_entry_hits(skel);
	if (err)
		goto fail;
	*skelp = skel;
	return 0;
fail:
	xdpfence__destroy(skel);
	return err;
}

static size_t map_len(__u32 entries, size_t value_size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)entries * value_size;

	return (len + page - 1) & ~(size_t)(page - 1);
}

static int maps_finish(struct fence_maps *m, bool lazy)
{
	int i, err;

	for (i = 0; i < FM_COUNT; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(m->fd[i], &info, &len))
			return -errno;
		m->max_entries[i] = info.max_entries;
	}
	err = libbpf_num_possible_cpus();
	if (err < 0)
		return err;
	m->ncpus = err;
	m->n_slots = m->max_entries[FM_RULES];
	m->n_groups = m->max_entries[FM_TBL8_STATE];
	m->n_tbl6 = m->max_entries[FM_TBL6];
	if (m->max_entries[FM_TBL24] != FENCE_TBL24_ENTRIES / FENCE_TBL24_LINE ||
	    m->max_entries[FM_RULE_INFO] != m->n_slots ||
	    m->max_entries[FM_TBL8] != m->n_groups ||
	    m->max_entries[FM_ENTRY_HITS] != (__u64)m->n_slots * m->ncpus ||
	    !m->n_tbl6 || (m->n_tbl6 & (m->n_tbl6 - 1)))
		return -EINVAL;

	m->n_active_log = m->max_entries[FM_ACTIVE_LOG] & ~1U;
	m->lz = calloc(FL_COUNT, sizeof(*m->lz));
	if (!m->lz)
		return -ENOMEM;
	lazymap_init(&m->lz[FL_TBL24], m->fd[FM_TBL24], map_len(FENCE_TBL24_ENTRIES, sizeof(__u32)));
	lazymap_init(&m->lz[FL_TBL8], m->fd[FM_TBL8],
		     map_len(m->n_groups * FENCE_TBL8_GROUP, sizeof(__u32)));
	lazymap_init(&m->lz[FL_TBL8_STATE], m->fd[FM_TBL8_STATE],
		     map_len(m->n_groups, sizeof(*m->tbl8_state)));
	lazymap_init(&m->lz[FL_RULES], m->fd[FM_RULES], map_len(m->n_slots, sizeof(*m->rules)));
	lazymap_init(&m->lz[FL_INFO], m->fd[FM_RULE_INFO], map_len(m->n_slots, sizeof(*m->info)));
	lazymap_init(&m->lz[FL_TBL6], m->fd[FM_TBL6], map_len(m->n_tbl6, sizeof(*m->tbl6)));
	lazymap_init(&m->lz[FL_TBL6_META], m->fd[FM_TBL6_META], map_len(1, sizeof(*m->tbl6_meta)));
	lazymap_init(&m->lz[FL_ENTRY_HITS], m->fd[FM_ENTRY_HITS],
		     map_len(m->max_entries[FM_ENTRY_HITS], sizeof(struct fence_entry_counters)));
	lazymap_init(&m->lz[FL_ACTIVE_META], m->fd[FM_ACTIVE_META], map_len(1, sizeof(*m->active)));
	lazymap_init(&m->lz[FL_ACTIVE_LOG], m->fd[FM_ACTIVE_LOG],
		     map_len(m->n_active_log, sizeof(*m->active_log)));
	/* one element each: always mapped */
	m->tbl6_meta = lazymap_full(&m->lz[FL_TBL6_META]);
	m->active = lazymap_full(&m->lz[FL_ACTIVE_META]);
	if (!m->tbl6_meta || !m->active)
		return -errno ? -errno : -ENOMEM;
	return lazy ? 0 : fence_maps_full(m);
}

int fence_maps_slots(struct fence_maps *m)
{
	if (m->rules && m->info)
		return 0;
	m->info = lazymap_full(&m->lz[FL_INFO]);
	m->rules = lazymap_full(&m->lz[FL_RULES]);
	if (!m->rules || !m->info) {
		m->rules = NULL;
		m->info = NULL;
		return -errno ? -errno : -ENOMEM;
	}
	return 0;
}

int fence_maps_full(struct fence_maps *m)
{
	int ret;

	if (m->full)
		return 0;
	ret = fence_maps_slots(m);
	if (ret)
		return ret;
	m->tbl24 = lazymap_full(&m->lz[FL_TBL24]);
	m->tbl8 = lazymap_full(&m->lz[FL_TBL8]);
	m->tbl8_state = lazymap_full(&m->lz[FL_TBL8_STATE]);
	m->tbl6 = lazymap_full(&m->lz[FL_TBL6]);
	m->active_log = lazymap_full(&m->lz[FL_ACTIVE_LOG]);
	if (!m->tbl24 || !m->tbl8 || !m->tbl8_state || !m->tbl6 || !m->active_log) {
		m->tbl24 = m->tbl8 = NULL;
		m->tbl8_state = NULL;
		m->tbl6 = NULL;
		m->active_log = NULL;
		return -errno ? -errno : -ENOMEM;
	}
	m->full = true;
	return 0;
}

void fence_tbl6_init(struct fence_maps *m)
{
	struct fence_v6_meta *mt = m->tbl6_meta;
	__u64 seed = 0;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || !seed)
		seed = fence_now_ns() * 0x9e3779b97f4a7c15ULL | 1;
	memset(mt, 0, sizeof(*mt));
	mt->mask = m->n_tbl6 - 1;
	while ((1U << mt->bits) < m->n_tbl6)
		mt->bits++;
	mt->shift = 64 - mt->bits;
	mt->root[0] = mt->root[1] = FENCE_V6_NONE;
	mt->gen = 1;
	mt->keyed = 1;
	__atomic_store_n(&mt->seed, seed, __ATOMIC_RELEASE);
}

static void maps_reset(struct fence_maps *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < FM_COUNT; i++)
		m->fd[i] = -1;
}

int fence_maps_from_skel(struct fence_maps *m, struct xdpfence *skel, const struct fence_opts *o)
{
	struct fence_meta meta = {}, cur = {};
	__u32 key = 0;
	int i, err;

	maps_reset(m);
	for (i = 0; i < FM_COUNT; i++) {
		struct bpf_map *map = skel_map(skel, i);

		if (!map || bpf_map__fd(map) < 0) {
			err = -ENOENT;
			goto fail;
		}
		m->fd[i] = dup(bpf_map__fd(map));
		if (m->fd[i] < 0) {
			err = -errno;
			goto fail;
		}
	}
	err = maps_finish(m, false);
	if (err)
		goto fail;

	/* First load of this set: record how it was made. */
	if (!bpf_map_lookup_elem(m->fd[FM_META], &key, &cur) && cur.magic != FENCE_META_MAGIC) {
		meta.magic = FENCE_META_MAGIC;
		meta.version = FENCE_META_VERSION;
		meta.v4_agg_len = skel->rodata->v4_agg_len;
		meta.v6_agg_len = skel->rodata->v6_agg_len;
		meta.malformed_verdict = skel->rodata->malformed_verdict;
		if (bpf_map_update_elem(m->fd[FM_META], &key, &meta, BPF_ANY)) {
			err = -errno;
			goto fail;
		}
		fence_tbl6_init(m);
	}
	(void)o;
	return 0;
fail:
	fence_maps_close(m);
	return err;
}

static int from_pins(struct fence_maps *m, const char *pin_dir, bool lazy)
{
	char path[512];
	int i, err;

	maps_reset(m);
	for (i = 0; i < FM_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, fence_map_names[i]);
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] < 0) {
			err = -errno;
			goto fail;
		}
	}
	err = maps_finish(m, lazy);
	if (err)
		goto fail;
	return 0;
fail:
	fence_maps_close(m);
	return err;
}

int fence_map_id(const char *name)
{
	for (int i = 0; i < FM_COUNT; i++)
		if (!strcmp(fence_map_names[i], name))
			return i;
	return -1;
}

/* Every mapping dropped, and the set mapped again: lazily, or whole. */
static int maps_remap(struct fence_maps *m, bool lazy)
{
	for (int i = 0; m->lz && i < FL_COUNT; i++)
		lazymap_close(&m->lz[i]);
	free(m->lz);
	m->lz = NULL;
	m->tbl24 = m->tbl8 = NULL;
	m->tbl8_state = NULL;
	m->rules = NULL;
	m->info = NULL;
	m->tbl6 = NULL;
	m->tbl6_meta = NULL;
	m->active = NULL;
	m->active_log = NULL;
	m->full = false;
	return maps_finish(m, lazy);
}

int fence_maps_refresh(struct fence_maps *m, const char *pin_dir)
{
	bool lazy = !m->full, changed = false;
	char path[512];
	int ret;

	for (int i = 0; i < FM_COUNT; i++) {
		struct bpf_map_info a = {}, b = {};
		__u32 la = sizeof(a), lb = sizeof(b);
		int fd;

		snprintf(path, sizeof(path), "%s/%s", pin_dir, fence_map_names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			return -errno;
		if (!bpf_obj_get_info_by_fd(fd, &a, &la) && !bpf_obj_get_info_by_fd(m->fd[i], &b, &lb) &&
		    a.id == b.id) {
			close(fd);
			continue;
		}
		/* the same descriptor number, now the pinned map: whoever holds
		 * the number (another thread) keeps a valid one */
		if (dup2(fd, m->fd[i]) < 0) {
			ret = -errno;
			close(fd);
			return ret;
		}
		close(fd);
		changed = true;
	}
	if (!changed)
		return 0;
	ret = maps_remap(m, lazy);
	return ret ? ret : 1;
}

int fence_maps_lazy(struct fence_maps *m)
{
	return maps_remap(m, true);
}

int fence_maps_from_pins(struct fence_maps *m, const char *pin_dir)
{
	return from_pins(m, pin_dir, false);
}

int fence_maps_from_pins_lazy(struct fence_maps *m, const char *pin_dir)
{
	return from_pins(m, pin_dir, true);
}

void fence_maps_close(struct fence_maps *m)
{
	for (int i = 0; m->lz && i < FL_COUNT; i++)
		lazymap_close(&m->lz[i]);
	free(m->lz);
	for (int i = 0; i < FM_COUNT; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	maps_reset(m);
}

int fence_read_meta(const struct fence_maps *m, struct fence_meta *meta)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(m->fd[FM_META], &key, meta))
		return -errno;
	return meta->magic == FENCE_META_MAGIC ? 0 : -ENOENT;
}

int fence_read_stats(const struct fence_maps *m, struct fence_stat_val *out)
{
	struct fence_stat_val *v = calloc(m->ncpus, sizeof(*v));
	__u32 key;
	int err = 0;

	if (!v)
		return -ENOMEM;
	for (key = 0; key < FENCE_STAT_MAX; key++) {
		out[key].packets = out[key].bytes = 0;
		if (bpf_map_lookup_elem(m->fd[FM_STATS], &key, v)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < m->ncpus; c++) {
			out[key].packets += v[c].packets;
			out[key].bytes += v[c].bytes;
		}
	}
	free(v);
	return err;
}
