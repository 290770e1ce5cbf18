// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "plant.h"

__u64 plant_log(const struct fence_maps *m, int family, const void *key, int ncpus)
{
	struct fence_active_meta *am = m->active;
	__u64 epoch = __atomic_load_n(&am->epoch, __ATOMIC_ACQUIRE);
	__u32 half = epoch & 1;

	if (!epoch || !m->active_log)
		return 0;
	for (int c = 0; c < ncpus; c++) {
		__u32 i = __atomic_fetch_add(&am->n[half], 1, __ATOMIC_RELAXED);
		struct fence_active_rec *r;

		if (i >= am->cap)
			break;	/* overflowed: the engine reads every prefix */
		r = &m->active_log[(size_t)half * am->cap + i];
		memset(r->addr, 0, sizeof(r->addr));
		memcpy(r->addr, key, family == 4 ? 4 : 16);
		r->family = (__u8)family;
		__atomic_store_n(&r->mark, epoch, __ATOMIC_RELEASE);
	}
	return epoch;
}
