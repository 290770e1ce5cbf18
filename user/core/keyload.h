/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/keyload.h - bulk puts and deletes of deny_v4/allow_v4 keys through
 * bpf/keyload.bpf.c (see there for why): the table's bulk path for big
 * commits. Several threads may run one loader at once. */
#ifndef XDPFENCE_KEYLOAD_H
#define XDPFENCE_KEYLOAD_H

#include "core/fence.h"

struct keyload;

/* NULL when this kernel cannot run the loader (no syscall programs or
 * bpf_loop, say): callers then use the batch syscalls. */
struct keyload *keyload_open(const struct fence_maps *m);
void keyload_close(struct keyload *kl);

/* Put the n keys (with their values) into map (FENCE_KEYLOAD_*), or, with
 * vals NULL, delete them (a key already gone is no error). 0 or -errno. */
int keyload_run(struct keyload *kl, int map, const struct fence_v4_key *keys,
		const struct fence_slot *vals, __u32 n);

#endif
