// SPDX-License-Identifier: GPL-2.0
/* tests/bench/bench_commit.c PIN_DIR - one entry at a time into the pinned set,
 * in one resident process, as the engine promotes and fleet entries arrive:
 * a /32 ban, a /24 ban, each removed again, N times; prints the median and
 * the 99th percentile of the commit (stage + pin_commit) and which build
 * they took. The set under PIN_DIR should hold the big feed already.
 * Addresses: 198.18.0.0/15 only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pin.h"
#include "lib/util.h"

#define N 300

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double one(struct pinned *p, const char *text, bool del, int *small)
{
	struct fence_rule_info info = { .owners = FENCE_OWN_PROMOTED,
					.promoted_action = FENCE_ACT_DROP };
	struct table_stats st = {};
	char err[256] = "";
	struct cidr c;
	double t0 = now_s();

	cidr_parse(text, &c, 0, NULL, 0);
	if (del)
		table_del(p->t, &c, FENCE_KIND_DENY);
	else
		table_put(p->t, &c, FENCE_KIND_DENY, &info);
	if (pin_commit(p, &st, err, sizeof(err))) {
		fprintf(stderr, "commit: %s\n", err);
		exit(1);
	}
	*small += st.small;
	return (now_s() - t0) * 1e3;
}

int main(int argc, char **argv)
{
	static double t32[N], t24[N];
	struct pinned p;
	char err[256], a[64];
	int small = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PIN_DIR\n", argv[0]);
		return 2;
	}
	if (pin_open(&p, argv[1], PIN_WRITE, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "198.19.%d.%d", 200 + i / 250, i % 250 + 1);
		t32[i] = one(&p, a, false, &small);
		one(&p, a, true, &small);
		snprintf(a, sizeof(a), "198.18.%d.0/24", 100 + i % 150);
		t24[i] = one(&p, a, false, &small);
		one(&p, a, true, &small);
	}
	qsort(t32, N, sizeof(*t32), dcmp);
	qsort(t24, N, sizeof(*t24), dcmp);
	printf("one entry committed in a resident process, %d of %d commits small:\n",
	       small, 4 * N);
	printf("  %-36s median %.3f ms, p99 %.3f ms\n", "a /32 ban", t32[N / 2], t32[N * 99 / 100]);
	printf("  %-36s median %.3f ms, p99 %.3f ms\n", "a /24 ban", t24[N / 2], t24[N * 99 / 100]);
	pin_close(&p);
	return 0;
}
