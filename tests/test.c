// SPDX-License-Identifier: GPL-2.0
/* tests/test.c - the runner behind TEST_MAIN: runs cases, prints the summary. */
#include <stdio.h>
#include <string.h>

#include "test.h"

int test_main(const struct test_case *cases, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	int ran = 0;

	for (const struct test_case *t = cases; t->name; t++) {
		int before = n_fail;

		if (only && !strstr(t->name, only))
			continue;
		test_current = t->name;
		t->fn();
		ran++;
		fprintf(stderr, "%s %s\n", n_fail == before ? "ok  " : "FAIL", t->name);
	}
	if (!ran) {
		fprintf(stderr, "no test matched\n");
		n_fail++;
	}
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
