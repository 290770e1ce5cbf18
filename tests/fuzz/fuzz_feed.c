// SPDX-License-Identifier: GPL-2.0
/* tests/fuzz/fuzz_feed.c - libFuzzer harness for feed_parse.
 *
 * The first byte picks the format (auto included), the rest is the feed. The
 * buffer handed in is an exact-size heap copy so ASan sees any read past its
 * end (the parser must not assume a NUL). Checks that every entry is a valid,
 * canonical prefix and every error message is terminated.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_result res;
	char buf[CIDR_STR_MAX];
	struct cidr again;
	char *copy;
	int ret;

	if (!size)
		return 0;
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	memset(&res, 0, sizeof(res));
	ret = feed_parse(copy, size - 1, (enum feed_format)(data[0] % FEED_FMT_COUNT),
			 1700000000, &res);
	if (ret && ret != -EINVAL && ret != -ENOMEM)
		abort();
	if (res.n_entries > res.cap_entries || res.n_errors > res.cap_errors ||
	    res.n_errors > FEED_ERRORS_MAX + 1)
		abort();
	for (size_t i = 0; i < res.n_entries; i++) {
		const struct feed_entry *e = &res.entries[i];

		cidr_str(&e->cidr, buf, sizeof(buf));
		if (cidr_parse(buf, &again, 0, NULL, 0) || memcmp(&again, &e->cidr, sizeof(again)))
			abort();
	}
	for (size_t i = 0; i < res.n_errors; i++)
		if (!memchr(res.errors[i].msg, '\0', sizeof(res.errors[i].msg)) ||
		    !res.errors[i].msg[0])
			abort();
	feed_result_free(&res);
	free(copy);
	return 0;
}
