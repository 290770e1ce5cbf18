/* SPDX-License-Identifier: GPL-2.0 */
/* tests/bpf/plant.h - what the data path writes beside the counters it
 * grows, for benchmarks that plant counters in the maps themselves. */
#ifndef XDPFENCE_TESTS_PLANT_H
#define XDPFENCE_TESTS_PLANT_H

#include "core/fence.h"

/* A prefix counted on ncpus CPUs for the first time in the engine's
 * epoch: a record for each in active_log, as bpf/stats.h writes it (the
 * engine reads only the prefixes logged there). family 4: key is a
 * prefix_v4 key (4 bytes), 6: a prefix_v6 key (16). Returns the epoch it
 * logged in, 0 when no engine has started one (nothing is logged then). */
__u64 plant_log(const struct fence_maps *m, int family, const void *key, int ncpus);

#endif
