// SPDX-License-Identifier: GPL-2.0
/* bpf/keyload.bpf.c - bulk puts and deletes of deny_v4/allow_v4 keys, run by
 * the controller with BPF_PROG_TEST_RUN, never attached (user/core/keyload.c).
 *
 * The batch update syscall copies each key and each value from user memory
 * on its own, with the hardened-usercopy checks each time. This is a
 * syscall program (sleepable), so it reads the caller's arrays
 * FENCE_KEYLOAD_CHUNK entries at a time with bpf_copy_from_user and calls
 * the map helpers directly.
 * deny_v4 and allow_v4 are the pinned maps of the filter (reused by fd
 * before load).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../maps/keys.h"
#include "map_defs.h"

/* The filter's maps, not pinned here: the controller hands their fds in. */
struct {
	MAP_DEF_DENY_V4(1);
} deny_v4 SEC(".maps");

struct {
	MAP_DEF_ALLOW_V4(1);
} allow_v4 SEC(".maps");

/* One chunk: put each key with its value, or (no values) delete it. A key
 * already gone counts as deleted (as the batch delete's caller takes it):
 * the aim is that none of them stays. */
static long chunk(__u32 i, struct fence_keyload *a)
{
	struct fence_v4_key k[FENCE_KEYLOAD_CHUNK];
	struct fence_slot v[FENCE_KEYLOAD_CHUNK];
	__u64 off = (__u64)i * FENCE_KEYLOAD_CHUNK;
	int allow = a->map == FENCE_KEYLOAD_ALLOW_V4;
	long err;

	err = bpf_copy_from_user(k, sizeof(k), (const void *)(a->keys + off * sizeof(k[0])));
	if (!err && a->vals)
		err = bpf_copy_from_user(v, sizeof(v), (const void *)(a->vals + off * sizeof(v[0])));
	if (err) {
		a->err = err;
		return 1;
	}
	for (int j = 0; j < FENCE_KEYLOAD_CHUNK; j++) {
		if (a->vals)
			err = allow ? bpf_map_update_elem(&allow_v4, &k[j], &v[j], BPF_ANY) :
				      bpf_map_update_elem(&deny_v4, &k[j], &v[j], BPF_ANY);
		else
			err = allow ? bpf_map_delete_elem(&allow_v4, &k[j]) :
				      bpf_map_delete_elem(&deny_v4, &k[j]);
		if (err && (a->vals || err != -2 /* ENOENT */)) {
			a->err = err;
			return 1;
		}
		a->done++;
	}
	return 0;
}

SEC("syscall")
int keys_run(struct fence_keyload *ctx)
{
	struct fence_keyload a = *ctx;	/* bpf_loop passes a stack pointer on */

	a.done = 0;
	a.err = 0;
	bpf_loop(a.n / FENCE_KEYLOAD_CHUNK, chunk, &a, 0);
	ctx->done = a.done;
	ctx->err = a.err;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
