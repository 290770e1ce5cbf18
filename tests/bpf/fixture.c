// SPDX-License-Identifier: GPL-2.0
/* tests/bpf/fixture.c - see fixture.h. */
#define _XOPEN_SOURCE 700	/* nftw */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "core/counters.h"
#include "core/pin.h"
#include "xdpfence.skel.h"

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int fx_open(struct fx *f, const struct fence_opts *o)
{
	struct fence_opts def = { .max_rules = 4096, .tbl8_groups = 64, .prefix_entries = 1024,
				  .v6_rules = 4096 };
	int err;

	libbpf_set_print(silent);
	memset(f, 0, sizeof(*f));
	if (!o)
		o = &def;
	err = fence_skel_open(&f->skel, o);
	if (err)
		return err;
	err = xdpfence__load(f->skel);
	if (err)
		goto fail;
	err = fence_maps_from_skel(&f->m, f->skel, o);
	if (err)
		goto fail;
	err = table_open(&f->t, &f->m);
	if (!err)	/* a writer's bookkeeping, unpinned: small commits use it */
		err = table_store_attach(f->t, NULL, true);
	if (!err)
		err = table_store_rebuild(f->t);
	if (err)
		goto fail;
	f->prog_fd = bpf_program__fd(f->skel->progs.xdpfence_prog);
	return 0;
fail:
	fx_close(f);
	return err;
}

void fx_close(struct fx *f)
{
	table_close(f->t);
	if (f->m.tbl24)
		fence_maps_close(&f->m);
	xdpfence__destroy(f->skel);
	memset(f, 0, sizeof(*f));
}

int fx_pin_dir(char *dir, size_t len, const char *tag)
{
	if ((size_t)snprintf(dir, len, "/sys/fs/bpf/xdpfence-test-%s-%d", tag, getpid()) >= len)
		return -ENAMETOOLONG;
	fx_pin_dir_remove(dir);	/* a dir a killed run of this pid left */
	return fence_prepare_pin_dir(dir);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) ? errno : 0;
}

int fx_pin_dir_remove(const char *dir)
{
	int ret = nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	if (ret > 0)
		return -ret;	/* remove_one's errno */
	if (ret < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int fx_run(struct fx *f, const void *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);

	if (bpf_prog_test_run_opts(f->prog_fd, &o))
		return -errno;
	return o.retval;
}

int fx_send(struct fx *f, const struct pkt_spec *s)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(s, buf, NULL);

	return fx_run(f, buf, len);
}

__u64 fx_stat(struct fx *f, enum fence_stat reason)
{
	struct fence_stat_val v[FENCE_STAT_MAX];

	if (fence_read_stats(&f->m, v))
		return ~0ULL;
	return v[reason].packets;
}

__u64 fx_stat_total(struct fx *f)
{
	struct fence_stat_val v[FENCE_STAT_MAX];
	__u64 sum = 0;

	if (fence_read_stats(&f->m, v))
		return ~0ULL;
	for (int i = 0; i < FENCE_STAT_MAX; i++)
		sum += v[i].packets;
	return sum;
}

int fx_prefix(struct fx *f, const char *prefix_addr, struct fence_counters *out)
{
	struct fence_counters *v = calloc(f->m.ncpus, sizeof(*v));
	__u8 key[16];
	int fd, err = 0;

	if (!v)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (strchr(prefix_addr, ':')) {
		fd = f->m.fd[FM_PREFIX_V6];
		inet_pton(AF_INET6, prefix_addr, key);
	} else {
		fd = f->m.fd[FM_PREFIX_V4];
		inet_pton(AF_INET, prefix_addr, key);
	}
	if (bpf_map_lookup_elem(fd, key, v)) {
		err = -errno;
		goto out;
	}
	for (int c = 0; c < f->m.ncpus; c++)
		counters_add(out, &v[c]);
out:
	free(v);
	return err;
}

int fx_entry(struct fx *f, const char *text, enum fence_kind kind, enum fence_action act,
	     __u64 ttl_ns, __u8 owner)
{
	struct fence_rule_info info = {};
	char err[256];
	struct cidr c;
	__u64 exp = ttl_ns ? fence_now_ns() + ttl_ns : 0;
	int ret;

	ret = cidr_parse(text, &c, 0, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "fixture: %s: %s\n", text, err);
		return ret;
	}
	info.owners = owner;
	info.manual_action = info.promoted_action = info.feed_action = act;
	if (owner & FENCE_OWN_MANUAL)
		info.manual_expires_ns = exp;
	if (owner & FENCE_OWN_PROMOTED)
		info.promoted_expires_ns = exp;
	if (owner & FENCE_OWN_FEED) {
		info.feed_expires_ns = exp;
		info.feeds = 1;
	}
	info.rate = 10;
	info.burst = 3;
	ret = table_put(f->t, &c, kind, &info);
	if (!ret)
		ret = table_commit(f->t, NULL, err, sizeof(err));
	if (ret)
		fprintf(stderr, "fixture: commit %s: %s\n", text, err);
	return ret;
}

int fx_deny(struct fx *f, const char *cidr)
{
	return fx_entry(f, cidr, FENCE_KIND_DENY, FENCE_ACT_DROP, 0, FENCE_OWN_MANUAL);
}

int fx_allow(struct fx *f, const char *cidr)
{
	return fx_entry(f, cidr, FENCE_KIND_ALLOW, FENCE_ACT_DROP, 0, FENCE_OWN_MANUAL);
}

int fx_remove(struct fx *f, const char *text, enum fence_kind kind)
{
	char err[256] = "";
	struct cidr c;
	int ret = cidr_parse(text, &c, 0, err, sizeof(err));

	if (!ret)
		ret = table_del(f->t, &c, kind);
	if (!ret)
		ret = table_commit(f->t, NULL, err, sizeof(err));
	if (ret)
		fprintf(stderr, "fixture: remove %s: %s\n", text, err);
	return ret;
}

int fx_pin_deny_many(const char *dir, int n, fx_text_fn text, char *err, size_t errlen)
{
	struct fence_rule_info info = { .owners = FENCE_OWN_MANUAL,
					.manual_action = FENCE_ACT_DROP };
	struct pin_repair rep;
	struct pinned p;
	char src[64];
	struct cidr c;
	int ret;

	ret = pin_open(&p, dir, PIN_WRITE, &rep, err, errlen);
	if (ret)
		return ret;
	for (int i = 0; i < n && !ret; i++) {
		text(i, src, sizeof(src));
		ret = cidr_parse(src, &c, 0, err, errlen) ? -EINVAL :
		      table_put(p.t, &c, FENCE_KIND_DENY, &info);
	}
	if (!ret)
		ret = pin_commit(&p, NULL, err, errlen);
	pin_close(&p);
	return ret;
}

int fx_not_dropped(struct fx *f, int n, fx_text_fn text)
{
	char src[64];
	int bad = 0;

	for (int i = 0; i < n; i++) {
		text(i, src, sizeof(src));
		bad += fx_send(f, &(struct pkt_spec){ .saddr = src }) != XDP_DROP;
	}
	return bad;
}
