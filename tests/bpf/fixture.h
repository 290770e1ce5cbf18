/* SPDX-License-Identifier: GPL-2.0 */
/* tests/bpf/fixture.h - a loaded xdpfence object to run crafted frames through.
 *
 * Each test opens its own (small) instance so counters start at zero: maps
 * unpinned, rule slots and groups sized down, the real table.c writing the
 * policy. Entries go in exactly as the controller puts them.
 */
#ifndef XDPFENCE_TEST_FIXTURE_H
#define XDPFENCE_TEST_FIXTURE_H

#include "core/fence.h"
#include "core/table.h"
#include "pkt.h"

struct fx {
	struct xdpfence *skel;
	struct fence_maps m;
	struct table *t;
	int prog_fd;
};

/* o may be NULL: 4096 slots, 64 groups, 1024 prefix entries. */
int fx_open(struct fx *f, const struct fence_opts *o);
void fx_close(struct fx *f);

/* A pin dir of the test's own on bpffs, /sys/fs/bpf/xdpfence-test-TAG-PID,
 * into dir (len bytes); 0 or -errno. Remove it, and what is pinned under
 * it, with fx_pin_dir_remove (0, or -errno of the first thing that stayed). */
int fx_pin_dir(char *dir, size_t len, const char *tag);
int fx_pin_dir_remove(const char *dir);

/* Run one frame; returns the XDP verdict or -errno from the syscall. */
int fx_run(struct fx *f, const void *pkt, size_t len);
int fx_send(struct fx *f, const struct pkt_spec *s);

/* Packets counted under a reason, summed over CPUs. */
__u64 fx_stat(struct fx *f, enum fence_stat reason);
__u64 fx_stat_total(struct fx *f);

/* Per-prefix counters of the prefix holding addr (masked by the caller's
 * aggregation length), summed over CPUs; all zero when absent. */
int fx_prefix(struct fx *f, const char *prefix_addr, struct fence_counters *out);

/* Stage one entry with a single owner class and commit it. ttl_ns 0 = never. */
int fx_entry(struct fx *f, const char *cidr, enum fence_kind kind, enum fence_action act,
	     __u64 ttl_ns, __u8 owner);
int fx_deny(struct fx *f, const char *cidr);
int fx_allow(struct fx *f, const char *cidr);
int fx_remove(struct fx *f, const char *cidr, enum fence_kind kind);

/* Many entries, each named by text(i, buf, len) for i < n: */
typedef void (*fx_text_fn)(int i, char *buf, size_t len);
/* staged as manual drop denies in the pinned set at dir and committed by
 * pin_commit, as a writer does (it grows the maps they need): 0, or -errno
 * with err saying why; */
int fx_pin_deny_many(const char *dir, int n, fx_text_fn text, char *err, size_t errlen);
/* how many of the sources text names are not dropped by f. */
int fx_not_dropped(struct fx *f, int n, fx_text_fn text);

#endif
