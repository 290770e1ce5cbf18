// SPDX-License-Identifier: GPL-2.0
/* user/core/keyload.c - see keyload.h. */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/keyload.h"
#include "keyload.skel.h"
#include "lib/log.h"

/* entries per program run: a run holds an RCU (tasks trace) read section */
#define RUN_MAX	(64 * 1024)

struct keyload *keyload_open(const struct fence_maps *m)
{
	struct keyload *kl = keyload__open();
	libbpf_print_fn_t old;
	int err;

	if (!kl)
		return NULL;
	if (bpf_map__reuse_fd(kl->maps.deny_v4, m->fd[FM_DENY_V4]) ||
	    bpf_map__reuse_fd(kl->maps.allow_v4, m->fd[FM_ALLOW_V4])) {
		keyload__destroy(kl);
		return NULL;
	}
	old = libbpf_set_print(log_quiet);	/* a kernel without it is not an error */
	err = keyload__load(kl);
	libbpf_set_print(old);
	if (err) {
		pr_debug("key loader: %s: using batch syscalls", strerror(-err));
		keyload__destroy(kl);
		return NULL;
	}
	return kl;
}

void keyload_close(struct keyload *kl)
{
	keyload__destroy(kl);
}

/* The tail that is not a whole chunk: the program reads whole chunks. */
static int tail_run(int fd, const struct fence_v4_key *keys, const struct fence_slot *vals, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		if (vals && bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_ANY))
			return -errno;
		if (!vals && bpf_map_delete_elem(fd, &keys[i]) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int keyload_run(struct keyload *kl, int map, const struct fence_v4_key *keys,
		const struct fence_slot *vals, __u32 n)
{
	int prog = bpf_program__fd(kl->progs.keys_run);
	int fd = bpf_map__fd(map == FENCE_KEYLOAD_ALLOW_V4 ? kl->maps.allow_v4 : kl->maps.deny_v4);
	__u32 whole = n - n % FENCE_KEYLOAD_CHUNK, done = 0;

	while (done < whole) {
		struct fence_keyload a = {
			.keys = (__u64)(unsigned long)(keys + done),
			.vals = vals ? (__u64)(unsigned long)(vals + done) : 0,
			.n = whole - done < RUN_MAX ? whole - done : RUN_MAX,
			.map = (__u32)map,
		};
		LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof(a));

		if (bpf_prog_test_run_opts(prog, &o))
			return -errno;
		if (a.err)
			return a.err;
		if (a.done != a.n)
			return -EIO;
		done += a.n;
	}
	return tail_run(fd, keys + whole, vals ? vals + whole : NULL, n - whole);
}
