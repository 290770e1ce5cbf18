// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_feed_resident.c PIN_DIR FEED FEED_1... - feed loads in one
 * long-lived process, as `xdpfence run` refreshes its [feed] sections: the
 * maps stay mapped and the process's memory stays warm between loads.
 * Each FEED_n is the one before with 1% changed. Prints the first load (of
 * FEED), then a reload of each FEED_n in turn, and an unchanged reload (the
 * last again). The maps under PIN_DIR must exist (any `xdpfence` command
 * that writes creates them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pin.h"
#include "feeds/feed.h"
#include "lib/log.h"
#include "lib/util.h"

static double load(struct pinned *s, const char *src, struct feed_load_report *rep)
{
	struct feed_load_opts o = {
		.name = "big", .source = src, .format = FEED_FMT_PLAIN, .action = FENCE_ACT_DROP,
		.min_len_v4 = 8, .min_len_v6 = 19, .refetch = true,
	};
	double t0 = now_s();

	if (feed_load(s, &o, rep) != 0) {
		fprintf(stderr, "feed load of %s failed: %s\n", src, rep->why);
		exit(1);
	}
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	struct pinned s = { .lock_fd = -1 };
	struct feed_load_report r;
	char err[256];
	double t;

	if (argc < 4) {
		fprintf(stderr, "usage: %s PIN_DIR FEED FEED_1...\n", argv[0]);
		return 2;
	}
	keep_freed_memory();	/* as `xdpfence run` does */
	log_setup(getenv("BENCH_VERBOSE") ? 1 : 0);	/* 1: where each load spends its time */
	/* as the daemon holds them: the writers' lock, so the tables may grow */
	if (pin_open(&s, argv[1], PIN_WRITE, NULL, err, sizeof(err))) {
		fprintf(stderr, "cannot open the maps under %s: %s\n", argv[1], err);
		return 1;
	}
	printf("feed load in one resident process (as `xdpfence run` refreshes feeds):\n");
	t = load(&s, argv[2], &r);
	printf("%-44s %6.2f s   (+%zu -%zu)\n", "first load into empty maps", t, r.added, r.removed);
	for (int i = 3; i < argc; i++) {
		t = load(&s, argv[i], &r);
		printf("%-44s %6.2f s   (+%zu -%zu)\n", "reload, 1% changed", t, r.added, r.removed);
	}
	t = load(&s, argv[argc - 1], &r);
	printf("%-44s %6.2f s   (+%zu -%zu)\n", "reload, unchanged file", t, r.added, r.removed);
	pin_close(&s);
	return 0;
}
