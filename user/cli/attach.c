// SPDX-License-Identifier: GPL-2.0
/* user/cli/attach.c - `xdpfence attach|detach|status`: the program on interfaces.
 *
 * Attaching goes through libxdp's dispatcher so xdpfence shares an interface
 * with other XDP programs; every interface runs its own copy of the program
 * over the one set of maps pinned under the pin dir. Our program on an
 * interface is recognised by name and by using this pin dir's `stats` map,
 * so instances in other pin dirs are left alone.
 *
 * The dispatcher needs BPF_PROG_TYPE_EXT (freplace), which kernels without
 * BPF trampolines lack; libxdp then attaches one program alone. When such an
 * interface already runs another program, xdpfence takes its place and
 * tail-calls it on XDP_PASS (the `chain` map), and detach puts it back, both
 * with an atomic replace so the interface is never without a program.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <sys/file.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <json-c/json.h>
#include <xdp/libxdp.h>

#include "cli/cli.h"
#include "engine/fleet.h"
#include "lib/log.h"
#include "lib/util.h"
#include "xdpfence.skel.h"


struct attached {
	__u32 prog_id;
	enum xdp_attach_mode mode;
};

/* The ids of the maps a program uses (at most max); 0 if it is gone. */
static __u32 prog_map_ids(__u32 prog_id, __u32 *ids, __u32 max)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0)
		return 0;
	info.nr_map_ids = max;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.nr_map_ids = 0;
	close(fd);
	return info.nr_map_ids < max ? info.nr_map_ids : max;
}

/* Is this pin dir's program on ifindex? (One using its pinned `stats`;
 * with nothing pinned, one loaded for it: the pin dir was removed under
 * it.) Fills *a; returns the program handle for detach in *progp (caller
 * closes mp) when asked. */
static bool find_ours(int ifindex, __u32 stats_id, struct attached *a, struct xdp_multiprog **mpp,
		      struct xdp_program **progp)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;

	if (libxdp_get_error(mp) || !mp)
		return false;
	a->mode = xdp_multiprog__attach_mode(mp);
	if (xdp_multiprog__is_legacy(mp))
		p = xdp_multiprog__main_prog(mp);
	else
		p = xdp_multiprog__next_prog(NULL, mp);
	for (; p; p = xdp_multiprog__is_legacy(mp) ? NULL : xdp_multiprog__next_prog(p, mp)) {
		if (strcmp(xdp_program__name(p), FENCE_PROG_NAME) ||
		    !pin_prog_ours(xdp_program__id(p), g_opts.pin_dir, stats_id))
			continue;
		a->prog_id = xdp_program__id(p);
		if (mpp) {
			*mpp = mp;
			*progp = p;
		} else {
			xdp_multiprog__close(mp);
		}
		return true;
	}
	xdp_multiprog__close(mp);
	return false;
}

static const char *mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE: return "native";
	case XDP_MODE_SKB: return "skb";
	case XDP_MODE_HW: return "hw";
	default: return "unspec";
	}
}

static __u32 xdp_program_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static __u32 xdp_flags(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : m == XDP_MODE_HW ? XDP_FLAGS_HW_MODE :
	       XDP_FLAGS_DRV_MODE;
}

static const char *prog_name(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, len, "?");
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(buf, len, "%s", info.name);
	if (fd >= 0)
		close(fd);
	return buf;
}

/* The program our instance tail-calls (its `chain` slot), 0 if none. */
static __u32 chained_prog(__u32 our_id)
{
	__u32 ids[64], key = 0, found = 0, n = prog_map_ids(our_id, ids, 64);

	for (__u32 i = 0; i < n && !found; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi), id;
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &mlen) && mi.type == BPF_MAP_TYPE_PROG_ARRAY &&
		    !strcmp(mi.name, "chain") && !bpf_map_lookup_elem(mfd, &key, &id))
			found = id;
		close(mfd);
	}
	return found;
}

static void chain_pin_path(int ifindex, char *buf, size_t len)
{
	snprintf(buf, len, "%s/chain_if%d", g_opts.pin_dir, ifindex);
}

/* Take the place of a lone program on ifindex, keeping it as our chain. */
static int attach_chained(struct xdpfence *skel, int ifindex, const char *ifname, __u32 old_id,
			  enum xdp_attach_mode mode, struct fence_opts *o)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	int old_fd = -1, err, key = 0, fd;
	struct fence_maps m;
	char name[32], path[512];

	err = xdpfence__load(skel);
	if (err) {
		pr_err("loading BPF object: %s", strerror(-err));
		return err;
	}
	old_fd = bpf_prog_get_fd_by_id(old_id);
	if (old_fd < 0) {
		err = -errno;
		pr_err("%s: program %u vanished: %s", ifname, old_id, strerror(errno));
		return err;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.chain), &key, &old_fd, BPF_ANY)) {
		err = -errno;
		pr_err("%s: cannot chain to program %u (%s): %s", ifname, old_id,
		       prog_name(old_id, name, sizeof(name)), strerror(errno));
		goto out;
	}
	/* A prog array forgets its programs when its last user reference goes
	 * (the kernel breaks reference cycles that way): a pin keeps one. */
	chain_pin_path(ifindex, path, sizeof(path));
	unlink(path);
	if (bpf_obj_pin(bpf_map__fd(skel->maps.chain), path)) {
		err = -errno;
		pr_err("pinning %s: %s", path, strerror(errno));
		goto out;
	}
	fd = bpf_program__fd(skel->progs.xdpfence_prog);
	ao.old_prog_fd = old_fd;
	if (bpf_xdp_attach(ifindex, fd, XDP_FLAGS_REPLACE | xdp_flags(mode), &ao)) {
		err = -errno;
		pr_err("attaching to %s in %s mode: %s", ifname, mode_name(mode), strerror(errno));
		unlink(path);
		goto out;
	}
	err = fence_maps_from_skel(&m, skel, o);
	if (err) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, back, .old_prog_fd = fd);

		pr_err("pinned maps: %s", strerror(-err));
		bpf_xdp_attach(ifindex, old_fd, XDP_FLAGS_REPLACE | xdp_flags(mode), &back);
		goto out;
	}
	fence_maps_close(&m);
	pr_info("%s: attached (%s mode, program id %u), maps pinned under %s", ifname,
		mode_name(mode), (unsigned)xdp_program_id_of(fd), g_opts.pin_dir);
	pr_info("%s: libxdp's dispatcher is unavailable on this kernel; %s (id %u) runs after "
		"xdpfence on XDP_PASS and is put back by `xdpfence detach`", ifname,
		prog_name(old_id, name, sizeof(name)), old_id);
out:
	close(old_fd);
	return err;
}

static void attach_usage(bool asked)
{
	fprintf(usage_out(asked),
"usage: xdpfence attach IFACE [--mode native|skb] [--max-rules N] [--tbl8-groups N]\n"
"                       [--prefix-entries N] [--agg-v4 LEN] [--agg-v6 LEN] [--malformed pass|drop]\n"
"  Loads the filter (or reuses the maps pinned under the pin dir) and attaches\n"
"  it through libxdp's dispatcher, so other XDP programs can stay on IFACE.\n"
"  --mode            native (driver, default) or skb (generic, any device)\n"
"  Sizing and settings apply when the maps are first created; later attaches\n"
"  reuse what is pinned:\n"
"  --max-rules       rule slots to start with, allow+deny, v4+v6 (default %u;\n"
"                    ~260 bytes of kernel memory each)\n"
"  --tbl8-groups     /24s with /25../31 detail to start with (default %u; 1 KiB\n"
"                    each)\n"
"                    Both grow as entries need (the program is switched to\n"
"                    bigger maps at once): they only set where to begin.\n"
"  --prefix-entries  per-source-prefix counter entries, each family (default %u)\n"
"  --agg-v4/--agg-v6 per-prefix counters aggregate sources to this length (24, 64)\n"
"  --malformed       verdict for frames that cannot be parsed (default pass)\n"
"  --memory-limit    the most kernel memory the tables may grow to, all maps\n"
"                    together (512M, 4G; 0: none, the default): a change that\n"
"                    would need more is refused whole. Kept under the pin dir;\n"
"                    `status` shows what they take.\n",
		FENCE_RULES_MAX, FENCE_TBL8_GROUPS, FENCE_PREFIX_MAX);
}

int fence_attach(const char *ifname, bool skb, struct fence_opts *o)
{
	enum xdp_attach_mode mode = skb ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	struct xdp_program *prog = NULL;
	struct xdpfence *skel = NULL;
	struct fence_maps m;
	struct attached a;
	int ifindex, err, lock_fd, ret = EXIT_RUNTIME;

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		pr_err("no interface \"%s\"", ifname);
		return EXIT_USAGE;
	}
	/* hold the writer lock: creating maps and attaching is one step */
	err = fence_prepare_pin_dir(g_opts.pin_dir);
	if (err) {
		pr_err("pin dir %s: %s", g_opts.pin_dir, strerror(-err));
		return EXIT_RUNTIME;
	}
	lock_fd = open(g_opts.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX)) {
		pr_err("locking %s: %s", g_opts.pin_dir, strerror(errno));
		if (lock_fd >= 0)
			close(lock_fd);
		return EXIT_RUNTIME;
	}
	{
		char why[512];

		if (pin_layout_check(g_opts.pin_dir, why, sizeof(why))) {
			pr_err("%s", why);
			goto out;
		}
	}
	if (find_ours(ifindex, pin_map_id(g_opts.pin_dir, FM_STATS), &a, NULL, NULL)) {
		if (!pin_map_id(g_opts.pin_dir, FM_STATS)) {
			pr_err("%s runs xdpfence (program %u) on maps that were pinned under %s and "
			       "are not any more (the pin dir was removed?): restart `xdpfence run` "
			       "on this pin dir (it pins its maps again), or `xdpfence detach %s` and "
			       "attach again", ifname, a.prog_id, g_opts.pin_dir, ifname);
			goto out;
		}
		pr_info("%s: already attached (%s mode, program id %u)", ifname,
			mode_name(a.mode), a.prog_id);
		ret = EXIT_OK;
		goto out;
	}
	if (!pin_map_id(g_opts.pin_dir, FM_STATS)) {
		char other[IF_NAMESIZE];
		__u32 id;

		/* a fresh set here would not be the one the data path uses */
		if (pin_find_stray(g_opts.pin_dir, other, sizeof(other), &id) > 0) {
			pr_err("%s runs xdpfence (program %u) on maps that were pinned under %s and "
			       "are not any more (the pin dir was removed?): attaching here would "
			       "start a second, separate set. Restart `xdpfence run` on this pin dir "
			       "(it pins its maps again), or `xdpfence detach %s` first", other, id,
			       g_opts.pin_dir, other);
			goto out;
		}
	}
	if (state_load_skel(&skel, o))
		goto out;
	/* libxdp's dispatcher needs freplace programs; where the kernel has
	 * none, let libxdp go straight to a single program instead of
	 * failing loudly at its probe first */
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_EXT, NULL) != 1)
		setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
	{
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		struct xdp_multiprog *mp;
		bool lone;

		if (!bpf_xdp_query(ifindex, 0, &q) && q.prog_id &&
		    q.attach_mode != XDP_ATTACHED_MULTI) {
			mp = xdp_multiprog__get_from_ifindex(ifindex);
			lone = !libxdp_get_error(mp) && mp && xdp_multiprog__is_legacy(mp);
			if (!libxdp_get_error(mp))
				xdp_multiprog__close(mp);
			if (lone) {
				enum xdp_attach_mode have = q.attach_mode == XDP_ATTACHED_SKB ?
							    XDP_MODE_SKB : XDP_MODE_NATIVE;

				if (have != mode)
					pr_warn("%s runs a program in %s mode: attaching in %s mode too",
						ifname, mode_name(have), mode_name(have));
				err = attach_chained(skel, ifindex, ifname, q.prog_id, have, o);
				ret = err ? EXIT_RUNTIME : EXIT_OK;
				goto out;
			}
		}
	}
	prog = xdp_program__from_bpf_obj(skel->obj, "xdp");
	err = libxdp_get_error(prog);
	if (err) {
		pr_err("preparing program: %s", strerror(-err));
		prog = NULL;
		goto out;
	}
	err = xdp_program__attach(prog, ifindex, mode, 0);
	if (err) {
		char msg[256];

		libxdp_strerror(err, msg, sizeof(msg));
		pr_err("attaching to %s in %s mode: %s%s", ifname, mode_name(mode), msg,
		       mode == XDP_MODE_NATIVE ? " (the driver may lack native XDP: try --mode skb)" : "");
		goto out;
	}
	err = fence_maps_from_skel(&m, skel, o);
	if (err) {
		pr_err("pinned maps: %s", strerror(-err));
		xdp_program__detach(prog, ifindex, mode, 0);
		goto out;
	}
	fence_maps_close(&m);
	pr_info("%s: attached (%s mode, program id %u), maps pinned under %s", ifname,
		mode_name(mode), xdp_program__id(prog), g_opts.pin_dir);
	ret = EXIT_OK;
out:
	xdp_program__close(prog);
	xdpfence__destroy(skel);
	close(lock_fd);
	return ret;
}

int do_attach(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "max-rules", required_argument, NULL, 'r' },
		{ "tbl8-groups", required_argument, NULL, 'g' },
		{ "prefix-entries", required_argument, NULL, 'P' },
		{ "agg-v4", required_argument, NULL, '4' },
		{ "agg-v6", required_argument, NULL, '6' },
		{ "malformed", required_argument, NULL, 'M' },
		{ "memory-limit", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	enum xdp_attach_mode mode = XDP_MODE_NATIVE;
	struct fence_opts o = {};
	int c, li = 0, ret;
	__u64 limit = 0;
	bool limit_set = false;
	__u32 v;

	optind = 0;
	while ((c = getopt_long(argc, argv, "m:h", lo, &li)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "native") || !strcmp(optarg, "drv"))
				mode = XDP_MODE_NATIVE;
			else if (!strcmp(optarg, "skb") || !strcmp(optarg, "generic"))
				mode = XDP_MODE_SKB;
			else {
				pr_err("--mode \"%s\": want native or skb", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (parse_u32(optarg, 16, 1U << 28, &o.max_rules))
				goto bad_num;
			break;
		case 'g':
			if (parse_u32(optarg, 1, 1U << 20, &o.tbl8_groups))
				goto bad_num;
			break;
		case 'P':
			if (parse_u32(optarg, 64, 1U << 28, &o.prefix_entries))
				goto bad_num;
			break;
		case '4':
			if (parse_u32(optarg, 1, 32, &v))
				goto bad_num;
			o.v4_agg_len = v;
			break;
		case '6':
			if (parse_u32(optarg, 1, 128, &v))
				goto bad_num;
			o.v6_agg_len = v;
			break;
		case 'M':
			if (strcmp(optarg, "pass") && strcmp(optarg, "drop")) {
				pr_err("--malformed \"%s\": want pass or drop", optarg);
				return EXIT_USAGE;
			}
			o.malformed_drop = !strcmp(optarg, "drop");
			break;
		case 'L':
			if (parse_size(optarg, &limit) || (limit && limit < (64ULL << 20))) {
				pr_err("--memory-limit \"%s\": want a size like 512M or 4G (at least 64M; "
				       "0 for none)", optarg);
				return EXIT_USAGE;
			}
			limit_set = true;
			break;
		case 'h':
			attach_usage(true);
			return EXIT_OK;
		default:
			attach_usage(false);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		attach_usage(false);
		return EXIT_USAGE;
	}
	ret = fence_attach(argv[optind], mode == XDP_MODE_SKB, &o);
	if (!ret && limit_set) {
		ret = pin_set_memory_limit(g_opts.pin_dir, limit);
		if (ret) {
			pr_err("setting the memory limit: %s", strerror(-ret));
			return EXIT_RUNTIME;
		}
	}
	return ret;
bad_num:
	pr_err("--%s \"%s\": not a number in range", lo[li].name, optarg);
	return EXIT_USAGE;
}

int do_detach(int argc, char **argv)
{
	struct xdp_multiprog *mp = NULL;
	struct xdp_program *prog = NULL;
	struct attached a;
	__u32 chained;
	int ifindex, err;

	if (argc != 2 || help_asked(argc, argv)) {
		fprintf(usage_out(help_asked(argc, argv)), "usage: xdpfence detach IFACE\n"
			"  Detaches xdpfence from IFACE (other XDP programs there stay); the\n"
			"  pinned maps stay, enforcing on other interfaces it is attached to.\n");
		return help_asked(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		pr_err("no interface \"%s\"", argv[1]);
		return EXIT_USAGE;
	}
	if (!find_ours(ifindex, pin_map_id(g_opts.pin_dir, FM_STATS), &a, &mp, &prog)) {
		pr_err("%s: xdpfence (pin dir %s) is not attached", argv[1], g_opts.pin_dir);
		return EXIT_RUNTIME;
	}
	if (xdp_multiprog__is_legacy(mp) && (chained = chained_prog(a.prog_id))) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
		int old_fd = bpf_prog_get_fd_by_id(a.prog_id);
		int next_fd = bpf_prog_get_fd_by_id(chained);
		char name[32];

		ao.old_prog_fd = old_fd;
		err = old_fd < 0 || next_fd < 0 ? -ENOENT :
		      bpf_xdp_attach(ifindex, next_fd, XDP_FLAGS_REPLACE | xdp_flags(a.mode), &ao) ? -errno : 0;
		if (old_fd >= 0)
			close(old_fd);
		if (next_fd >= 0)
			close(next_fd);
		xdp_multiprog__close(mp);
		if (err) {
			pr_err("detaching from %s (putting back program %u): %s", argv[1], chained,
			       strerror(-err));
			return EXIT_RUNTIME;
		}
		{
			char path[512];

			chain_pin_path(ifindex, path, sizeof(path));
			unlink(path);
		}
		pr_info("%s: detached; %s (id %u) is back on the interface", argv[1],
			prog_name(chained, name, sizeof(name)), chained);
		return EXIT_OK;
	}
	err = xdp_program__detach(prog, ifindex, a.mode, 0);
	xdp_multiprog__close(mp);
	if (err) {
		char msg[256];

		libxdp_strerror(err, msg, sizeof(msg));
		pr_err("detaching from %s: %s", argv[1], msg);
		return EXIT_RUNTIME;
	}
	pr_info("%s: detached (maps stay pinned under %s)", argv[1], g_opts.pin_dir);
	return EXIT_OK;
}

/* Keys in a hash map, at most max: in an LRU map that churns, a key
 * evicted under the walk sends get_next_key back to the first bucket, so
 * an unbounded walk counts some keys again and again (millions, in a map
 * of 262,144). */
static __u32 count_keys(int fd, size_t key_size, __u32 max)
{
	char key[64], next[64];
	__u32 n = 0;

	if (key_size > sizeof(key))
		return 0;
	for (int err = bpf_map_get_next_key(fd, NULL, key); !err && n < max;
	     err = bpf_map_get_next_key(fd, key, next), memcpy(key, next, key_size))
		n++;
	return n;
}

/* The fleet's state as the daemon last wrote it (engine/fleet.h), or NULL
 * when no daemon of this pin dir runs a [fleet]. */
static json_object *fleet_state(void)
{
	char path[PATH_MAX];
	json_object *o, *pid;

	if (fleet_status_path(g_opts.pin_dir, path, sizeof(path)))
		return NULL;
	o = json_object_from_file(path);
	if (!o)
		return NULL;
	if (!json_object_object_get_ex(o, "pid", &pid) ||
	    (kill(json_object_get_int(pid), 0) && errno == ESRCH)) {
		json_object_put(o);	/* its daemon is gone */
		return NULL;
	}
	return o;
}

static __s64 jint(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

static void fleet_print(json_object *f)
{
	json_object *v;
	struct timespec ts;
	__s64 now_ms, sync = f ? jint(f, "last_sync_unix_ms") : 0;
	char ago[32];
	bool up = f && json_object_object_get_ex(f, "connected", &v) && json_object_get_boolean(v);

	if (!f) {
		printf("fleet     none (no daemon with a [fleet] section runs on this pin dir)\n");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (__s64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (!sync)
		snprintf(ago, sizeof(ago), "never");
	else if (now_ms - sync < 2000)
		snprintf(ago, sizeof(ago), "now");
	else {
		char d[24];

		format_duration((now_ms - sync) / 1000, d, sizeof(d));
		snprintf(ago, sizeof(ago), "%s ago", d);
	}
	if (up)
		printf("fleet     %s, connected to %s, bucket %s\n", jstr(f, "node"), jstr(f, "server"),
		       jstr(f, "bucket"));
	else
		printf("fleet     %s, NOT connected%s%s (enforcing what it has; publishes when back)\n",
		       jstr(f, "node"), jstr(f, "error")[0] ? ": " : "", jstr(f, "error"));
	printf("          entries here %lld, keys in the bucket %lld, last sync %s, lag %lld ms "
	       "(max %lld ms), pending %lld\n", (long long)jint(f, "entries"),
	       (long long)jint(f, "keys"), ago,
	       (long long)jint(f, "lag_ms"), (long long)jint(f, "lag_max_ms"),
	       (long long)jint(f, "pending"));
	printf("          API tier reports shared %lld, received %lld\n",
	       (long long)jint(f, "signals_sent"), (long long)jint(f, "signals_received"));
}

int do_status(int argc, char **argv)
{
	struct if_nameindex *ifs, *i;
	struct pinned s;
	__u32 stats_id, n[2][3] = { { 0 } }, groups = 0, feeds = 0;
	__u32 pfx4, pfx6;
	bool interrupted;
	json_object *jo = NULL, *ja = NULL;

	if (argc > 2 || (argc > 1 && strcmp(argv[1], "--json") && strcmp(argv[1], "-j"))) {
		bool asked = help_asked(argc, argv);

		fprintf(usage_out(asked), "usage: xdpfence status [--json]\n"
			"  Interfaces, modes, program ids, map fill levels and kernel memory;\n"
			"  the fleet's connection with [fleet]; a warning when a writer died\n"
			"  half way.\n"
			"  -j, --json  one JSON object, for scripts\n");
		return asked ? EXIT_OK : EXIT_USAGE;
	}
	if (argc > 1)
		g_opts.json = true;
	if (state_open(&s, false, false))
		return EXIT_RUNTIME;
	stats_id = pin_map_id(g_opts.pin_dir, FM_STATS);
	for (__u32 slot = table_next(s.t, 0); slot; slot = table_next(s.t, slot)) {
		int fam = s.m.info[slot].family == 6;

		n[fam][s.m.rules[slot].kind]++;
	}
	for (__u32 i = 0; i < FENCE_TBL24_ENTRIES; i++)
		groups += !!(s.m.tbl24[i] & FENCE_LEAF_EXT);
	for (__u32 k = 0; k < FENCE_FEEDS_MAX; k++) {
		struct fence_feed f;

		if (!bpf_map_lookup_elem(s.m.fd[FM_FEEDS], &k, &f) && f.name[0])
			feeds++;
	}
	/* the mark is also up while a writer works: only one that holds no
	 * lock any more was cut off */
	interrupted = table_interrupted(s.t) && !pin_writer_busy(g_opts.pin_dir);
	pfx4 = count_keys(s.m.fd[FM_PREFIX_V4], sizeof(struct fence_pfx_v4),
			  s.m.max_entries[FM_PREFIX_V4]);
	pfx6 = count_keys(s.m.fd[FM_PREFIX_V6], sizeof(struct fence_pfx_v6),
			  s.m.max_entries[FM_PREFIX_V6]);

	if (g_opts.json) {
		jo = json_object_new_object();
		ja = json_object_new_array();
		json_object_object_add(jo, "pin_dir", json_object_new_string(g_opts.pin_dir));
		json_object_object_add(jo, "interfaces", ja);
	} else {
		printf("pin dir %s\n", g_opts.pin_dir);
		printf("%-16s %-8s %s\n", "interface", "mode", "program");
	}
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index; i++) {
		struct attached a;

		if (!find_ours(i->if_index, stats_id, &a, NULL, NULL))
			continue;
		if (ja) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "name", json_object_new_string(i->if_name));
			json_object_object_add(e, "mode", json_object_new_string(mode_name(a.mode)));
			json_object_object_add(e, "prog_id", json_object_new_int64(a.prog_id));
			json_object_object_add(e, "chained_prog_id",
					       json_object_new_int64(chained_prog(a.prog_id)));
			json_object_array_add(ja, e);
		} else {
			__u32 next = chained_prog(a.prog_id);
			char name[32];

			printf("%-16s %-8s %u", i->if_name, mode_name(a.mode), a.prog_id);
			if (next)
				printf(" (then %s, id %u)", prog_name(next, name, sizeof(name)), next);
			printf("\n");
		}
	}
	if_freenameindex(ifs);
	if (jo) {
		json_object *mp = json_object_new_object();

#define ADD(k, v) json_object_object_add(mp, k, json_object_new_int64(v))
		ADD("deny_v4", n[0][FENCE_KIND_DENY]);
		ADD("allow_v4", n[0][FENCE_KIND_ALLOW]);
		ADD("deny_v6", n[1][FENCE_KIND_DENY]);
		ADD("allow_v6", n[1][FENCE_KIND_ALLOW]);
		ADD("rule_slots", s.m.n_slots - 1);
		ADD("tbl8_groups_used", groups);
		ADD("tbl8_groups", s.m.n_groups);
		ADD("prefix_v4", pfx4);
		ADD("prefix_v4_max", s.m.max_entries[FM_PREFIX_V4]);
		ADD("prefix_v6", pfx6);
		ADD("prefix_v6_max", s.m.max_entries[FM_PREFIX_V6]);
		ADD("feeds", feeds);
		ADD("kernel_memory_bytes", pin_memory(&s));
		ADD("memory_limit_bytes", pin_memory_limit(g_opts.pin_dir));
#undef ADD
		json_object_object_add(jo, "maps", mp);
		json_object_object_add(jo, "interrupted_commit",
				       json_object_new_boolean(interrupted));
		json_object_object_add(jo, "fleet", fleet_state());
		printf("%s\n", json_object_to_json_string_ext(jo, JSON_C_TO_STRING_PRETTY));
		json_object_put(jo);
	} else {
		printf("\nentries   deny v4 %u, allow v4 %u, deny v6 %u, allow v6 %u "
		       "(%u of %u rule slots)\n", n[0][FENCE_KIND_DENY], n[0][FENCE_KIND_ALLOW],
		       n[1][FENCE_KIND_DENY], n[1][FENCE_KIND_ALLOW],
		       n[0][1] + n[0][2] + n[1][1] + n[1][2], s.m.n_slots - 1);
		printf("tbl8      %u of %u groups (/24s with /25../31 detail)\n", groups, s.m.n_groups);
		printf("prefixes  v4 %u of %u, v6 %u of %u (per-source counters, LRU)\n", pfx4,
		       s.m.max_entries[FM_PREFIX_V4], pfx6, s.m.max_entries[FM_PREFIX_V6]);
		printf("feeds     %u of %u\n", feeds, FENCE_FEEDS_MAX);
		{
			__u64 mem = pin_memory(&s), lim = pin_memory_limit(g_opts.pin_dir);

			printf("memory    %llu MiB of kernel memory (the tables grow as entries need)",
			       (unsigned long long)(mem >> 20));
			if (lim)
				printf(", limit %llu MiB\n", (unsigned long long)(lim >> 20));
			else
				printf(", no limit (attach --memory-limit)\n");
		}
		{
			json_object *f = fleet_state();

			fleet_print(f);
			json_object_put(f);
		}
		if (interrupted)
			printf("WARNING   the last change to the tables was cut off half way: the "
			       "next ban, allow or feed change (or `xdpfence run`) repairs them first\n");
	}
	pin_close(&s);
	return EXIT_OK;
}
