// SPDX-License-Identifier: GPL-2.0
/* user/core/pin.c - see pin.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <limits.h>
#include <net/if.h>
#include <xdp/libxdp.h>

#include "core/pin.h"
#include "xdpfence.skel.h"

int pin_load_skel(struct xdpfence **skel, struct fence_opts *o, char *err, size_t errlen)
{
	int ret = fence_prepare_pin_dir(o->pin_dir);

	if (ret) {
		snprintf(err, errlen, "pin dir %s: %s%s", o->pin_dir, strerror(-ret),
			 ret == -ENOTSUP ? " (not on a bpf filesystem)" : "");
		return ret;
	}
	ret = fence_skel_open(skel, o);
	if (ret)
		snprintf(err, errlen, "opening BPF object: %s", strerror(-ret));
	return ret;
}

static int create_pinned(const char *pin_dir, char *err, size_t errlen)
{
	struct fence_opts o = { .pin_dir = pin_dir };
	struct xdpfence *skel;
	struct fence_maps m;
	int ret = pin_load_skel(&skel, &o, err, errlen);

	if (ret)
		return ret;
	ret = xdpfence__load(skel);
	if (ret) {
		snprintf(err, errlen, "loading BPF object: %s", strerror(-ret));
		goto out;
	}
	ret = fence_maps_from_skel(&m, skel, &o);
	if (!ret)
		fence_maps_close(&m);
	else
		snprintf(err, errlen, "pinned maps: %s", strerror(-ret));
out:
	xdpfence__destroy(skel);
	return ret;
}

__u32 pin_map_id(const char *pin_dir, enum fence_map_id map)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, fence_map_names[map]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

bool pin_prog_ours(__u32 prog_id, const char *pin_dir, __u32 stats_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], n;
	__u64 id;
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0)
		return false;
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.nr_map_ids = 0;
	close(fd);
	if (strcmp(info.name, FENCE_PROG_NAME))
		return false;
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	if (stats_id) {
		for (__u32 i = 0; i < n; i++)
			if (ids[i] == stats_id)
				return true;
		return false;
	}
	/* nothing pinned: ours if it was loaded for this pin dir */
	return !fence_prog_pin_dir_id(prog_id, &id) && id == fence_pin_dir_id(pin_dir);
}

int pin_find_stray(const char *pin_dir, char *ifname, size_t len, __u32 *prog_id)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	__u32 stats_id = pin_map_id(pin_dir, FM_STATS);
	__u64 want = fence_pin_dir_id(pin_dir), id;
	int found = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index && !found; i++) {
		struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(i->if_index);
		struct xdp_program *pr;
		bool legacy;

		if (libxdp_get_error(mp) || !mp)
			continue;
		legacy = xdp_multiprog__is_legacy(mp);
		pr = legacy ? xdp_multiprog__main_prog(mp) : xdp_multiprog__next_prog(NULL, mp);
		for (; pr && !found; pr = legacy ? NULL : xdp_multiprog__next_prog(pr, mp)) {
			__u32 pid = xdp_program__id(pr);

			if (strcmp(xdp_program__name(pr), FENCE_PROG_NAME) ||
			    fence_prog_pin_dir_id(pid, &id) || id != want ||
			    (stats_id && pin_prog_ours(pid, pin_dir, stats_id)))
				continue;
			snprintf(ifname, len, "%s", i->if_name);
			*prog_id = pid;
			found = 1;
		}
		xdp_multiprog__close(mp);
	}
	if_freenameindex(ifs);
	return found;
}

/* Creating a fresh set where a program of ours still runs on the old one
 * (the pin dir deleted under it) would split the state: the data path and
 * a running daemon on one set, the CLI on another. */
static int refuse_split(const char *pin_dir, char *err, size_t errlen)
{
	char ifname[IF_NAMESIZE];
	__u32 prog_id;

	if (pin_find_stray(pin_dir, ifname, sizeof(ifname), &prog_id) <= 0)
		return 0;
	snprintf(err, errlen, "%s runs xdpfence (program %u) on maps that were pinned under %s "
		 "and are not any more (the pin dir was removed?): new maps here would not be the "
		 "ones it enforces. Restart `xdpfence run` on this pin dir (it pins its maps "
		 "again), or `xdpfence detach %s` first", ifname, prog_id, pin_dir, ifname);
	return -EEXIST;
}

int pin_open(struct pinned *p, const char *pin_dir, unsigned flags, struct pin_repair *rep,
	     char *err, size_t errlen)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->lock_fd = -1;
	snprintf(p->pin_dir, sizeof(p->pin_dir), "%s", pin_dir);
	if (rep)
		memset(rep, 0, sizeof(*rep));
	if (flags & (PIN_WRITE | PIN_CREATE)) {
		ret = fence_prepare_pin_dir(pin_dir);
		if (ret) {
			snprintf(err, errlen, "pin dir %s: %s", pin_dir, strerror(-ret));
			return ret;
		}
		p->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->lock_fd < 0 || flock(p->lock_fd, LOCK_EX)) {
			ret = -errno;
			snprintf(err, errlen, "locking %s: %s", pin_dir, strerror(errno));
			pin_close(p);
			return ret;
		}
	}
	ret = (flags & PIN_LAZY) ? fence_maps_from_pins_lazy(&p->m, pin_dir) :
				   fence_maps_from_pins(&p->m, pin_dir);
	if (ret == -ENOENT && (flags & PIN_CREATE)) {
		ret = refuse_split(pin_dir, err, errlen);
		if (ret) {
			pin_close(p);
			return ret;
		}
		ret = create_pinned(pin_dir, err, errlen);
		if (ret) {
			pin_close(p);
			return ret;
		}
		ret = (flags & PIN_LAZY) ? fence_maps_from_pins_lazy(&p->m, pin_dir) :
					   fence_maps_from_pins(&p->m, pin_dir);
	}
	if (ret) {
		if (ret == -ENOENT)
			snprintf(err, errlen, "nothing pinned under %s: run `xdpfence attach IFACE` "
				 "first (or pass --pin-dir)", pin_dir);
		else
			snprintf(err, errlen, "opening pinned maps under %s: %s", pin_dir,
				 strerror(-ret));
		pin_close(p);
		return ret;
	}
	ret = pin_table_reopen(p, pin_dir, p->lock_fd >= 0, err, errlen);
	if (ret) {
		pin_close(p);
		return ret;
	}
	if (p->lock_fd >= 0) {
		struct pin_repair r;

		ret = pin_repair(p, rep ? rep : &r, err, errlen);
		if (ret) {
			pin_close(p);
			return ret;
		}
	}
	return 0;
}

int pin_table_reopen(struct pinned *p, const char *pin_dir, bool writer, char *err, size_t errlen)
{
	int ret;

	table_close(p->t);
	p->t = NULL;
	ret = table_open(&p->t, &p->m);
	if (!ret)
		ret = table_store_attach(p->t, pin_dir, writer);
	if (ret)
		snprintf(err, errlen, "reading entries: %s", strerror(-ret));
	return ret;
}

int pin_lock(struct pinned *p, const char *pin_dir, struct pin_repair *rep, char *err,
	     size_t errlen)
{
	int ret;

	if (p->lock_fd < 0) {
		p->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->lock_fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "locking %s: %s", pin_dir, strerror(errno));
			return ret;
		}
	}
	if (flock(p->lock_fd, LOCK_EX)) {
		ret = -errno;
		snprintf(err, errlen, "locking %s: %s", pin_dir, strerror(errno));
		close(p->lock_fd);
		p->lock_fd = -1;
		return ret;
	}
	/* the entries again, as they are now that nobody else writes */
	ret = pin_table_reopen(p, pin_dir, true, err, errlen);
	if (ret)
		return ret;
	return pin_repair(p, rep, err, errlen);
}

bool pin_writer_busy(const char *pin_dir)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool busy;

	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);	/* releases the lock if taken */
	return busy;
}

/* A layout this build does not know: writing it the way this build does,
 * or searching it with this build's program, could undo what the newer
 * one relies on. */
static int newer_layout(const char *pin_dir, const struct fence_meta *meta, char *err,
			size_t errlen)
{
	if (meta->magic != FENCE_META_MAGIC || meta->version <= FENCE_META_VERSION)
		return 0;
	snprintf(err, errlen, "the maps under %s were made by a newer xdpfence (layout %u; "
		 "this build writes layout %u): use that build, or detach, remove the pin "
		 "dir and load the feeds and bans again", pin_dir, meta->version,
		 FENCE_META_VERSION);
	return -EPROTO;
}

int pin_layout_check(const char *pin_dir, char *err, size_t errlen)
{
	struct fence_meta meta;

	if (fence_read_pinned_meta(pin_dir, &meta))
		return 0;	/* no set yet */
	return newer_layout(pin_dir, &meta, err, errlen);
}

int pin_repair(struct pinned *p, struct pin_repair *rep, char *err, size_t errlen)
{
	struct fence_meta meta;
	char why[256];
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (!fence_read_meta(&p->m, &meta) && newer_layout(p->pin_dir, &meta, err, errlen))
		return -EPROTO;
	rep->interrupted = table_interrupted(p->t);
	rep->outdated = !rep->interrupted && table_outdated(p->t);
	if (rep->interrupted || rep->outdated) {
		ret = table_repair(p->t, &rep->st, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "repairing the tables: %s", why);
			return ret;
		}
	}
	/* first use of a pin dir by this build, or after a repair */
	if (table_store_stale(p->t)) {
		ret = table_store_rebuild(p->t);
		if (ret) {
			snprintf(err, errlen, "indexing the entries: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void pin_close(struct pinned *p)
{
	table_close(p->t);
	p->t = NULL;
	if (p->m.tbl24)
		fence_maps_close(&p->m);
	if (p->lock_fd >= 0)
		close(p->lock_fd);	/* releases the flock */
	p->lock_fd = -1;
}

/* Grow to g and take the new maps up; on failure nothing staged stays. */
static int grow_for(struct pinned *p, const struct grow_to *g, char *err, size_t errlen)
{
	int ret = pin_grow(p, g, err, errlen);

	if (!ret)
		ret = table_maps_changed(p->t, p->pin_dir);
	if (ret) {
		if (!err[0])
			snprintf(err, errlen, "growing the tables: %s", strerror(-ret));
		table_abort(p->t);
	}
	return ret;
}

int pin_commit(struct pinned *p, struct table_stats *st, char *err, size_t errlen)
{
	struct grow_to g;
	int ret = table_needs(p->t, &g);

	if (ret > 0 && (ret = grow_for(p, &g, err, errlen)))
		return ret;
	/* tbl6 with room for the keys but none near one's place (a run of
	 * FENCE_V6_PROBES taken under its seed): the operator can do nothing
	 * about that, so tbl6 grows (a new seed too) and the commit runs
	 * again, a few times at most */
	for (int tries = 0; tries < 3; tries++) {
		ret = table_commit_or_crowded(p->t, st, err, errlen);
		if (ret != -EXFULL)
			return ret;
		memset(&g, 0, sizeof(g));
		g.tbl6 = p->m.n_tbl6 * 2;
		err[0] = 0;
		if ((ret = grow_for(p, &g, err, errlen)))
			return ret;
	}
	return table_commit(p->t, st, err, errlen);
}
