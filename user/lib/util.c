// SPDX-License-Identifier: GPL-2.0
/* user/lib/util.c - see util.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <sys/mman.h>

#include "lib/util.h"
#include "maps/keys.h"

int parse_duration(const char *s, __u64 *out)
{
	__u64 total = 0;
	bool any = false;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		__u64 v = 0, mul;
		const char *start = s;

		while (isdigit((unsigned char)*s)) {
			if (v > UINT64_MAX / 10)
				return -EINVAL;
			v = v * 10 + (*s++ - '0');
		}
		if (s == start)
			return -EINVAL;
		switch (*s) {
		case 0:
			if (any)	/* "1h30" is ambiguous */
				return -EINVAL;
			mul = 1;
			break;
		case 's': mul = 1; s++; break;
		case 'm': mul = 60; s++; break;
		case 'h': mul = 3600; s++; break;
		case 'd': mul = 86400; s++; break;
		case 'w': mul = 7 * 86400; s++; break;
		default:
			return -EINVAL;
		}
		if (v > (UINT64_MAX - total) / mul)
			return -ERANGE;
		total += v * mul;
		any = true;
	}
	if (total > DURATION_MAX_S)
		return -ERANGE;
	*out = total;
	return 0;
}

const char *format_duration(__u64 secs, char *buf, size_t len)
{
	size_t n = 0;

	if (!secs) {
		snprintf(buf, len, "-");
		return buf;
	}
	buf[0] = 0;
	if (secs >= 86400)
		n += snprintf(buf + n, len - n, "%llud", (unsigned long long)(secs / 86400));
	secs %= 86400;
	if (secs >= 3600 && n < len)
		n += snprintf(buf + n, len - n, "%lluh", (unsigned long long)(secs / 3600));
	secs %= 3600;
	if (secs >= 60 && n < len)
		n += snprintf(buf + n, len - n, "%llum", (unsigned long long)(secs / 60));
	secs %= 60;
	if ((secs || !n) && n < len)
		snprintf(buf + n, len - n, "%llus", (unsigned long long)secs);
	return buf;
}

int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_size(const char *s, __u64 *out)
{
	static const char units[] = "KMGT";
	__u64 v = 0;
	const char *p = s, *u;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (v > UINT64_MAX / 10)
			return -EINVAL;
		v = v * 10 + (*p++ - '0');
	}
	if (*p) {
		u = strchr(units, *p);
		if (!u || p[1])
			return -EINVAL;
		for (int i = 0; i <= u - units; i++) {
			if (v > UINT64_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
	}
	*out = v;
	return 0;
}

int parse_rate(const char *s, __u32 *per_sec)
{
	char num[32];
	const char *slash = strchr(s, '/');
	__u32 v, div = 1;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = 0;
	if (parse_u32(num, 0, 100000000, &v))
		return -EINVAL;
	if (slash) {
		if (!strcmp(slash, "/s"))
			div = 1;
		else if (!strcmp(slash, "/m"))
			div = 60;
		else if (!strcmp(slash, "/h"))
			div = 3600;
		else
			return -EINVAL;
	}
	*per_sec = v ? (v + div - 1) / div : 0;
	return 0;
}

static const char *const actions[FENCE_ACT_MAX] = {
	[FENCE_ACT_DROP] = "drop",
	[FENCE_ACT_THROTTLE] = "throttle",
	[FENCE_ACT_MONITOR] = "monitor",
};

int parse_action(const char *s)
{
	for (int i = 0; i < FENCE_ACT_MAX; i++)
		if (!strcmp(s, actions[i]))
			return i;
	return -1;
}

const char *action_name(int action)
{
	return action >= 0 && action < FENCE_ACT_MAX ? actions[action] : "?";
}

bool matches(const char *word, const char *full)
{
	size_t n = strlen(word);

	return n && !strncmp(word, full, n);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void *prefault(void *p, size_t len)
{
	const uintptr_t page = 4096;
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + len) & ~(page - 1);

	if (!p || len < (256u << 10) || e <= a)
		return p;
	/* best effort, both: faults do the rest */
	huge_pages(p, len);
	madvise((void *)a, e - a, MADV_POPULATE_WRITE);
	return p;
}

void huge_pages(void *p, size_t len)
{
	const uintptr_t huge = 2u << 20;
	uintptr_t ha = ((uintptr_t)p + huge - 1) & ~(huge - 1), he = ((uintptr_t)p + len) & ~(huge - 1);

	if (p && he > ha)
		madvise((void *)ha, he - ha, MADV_HUGEPAGE);	/* best effort */
}

void keep_freed_memory(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);	/* glibc's largest */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void *big_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	return p && n && size <= SIZE_MAX / n ? prefault(p, n * size) : p;
}

static __u64 lead_u64(const char *p)
{
	__u64 k;

	memcpy(&k, p, sizeof(k));
	return k;
}

void sort_by_u64(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	char *a = v, *b, *from, *to;
	size_t *cnt, nb;
	__u64 used = 0;
	int bits, passes, w;

	if (n < 1024 || !(b = malloc(n * sz))) {
		if (n > 1)
			qsort(v, n, sz, cmp);
		return;
	}
	/* digits of up to 13 bits over the bits the numbers use: their counts
	 * stay in cache, where 16-bit ones did not (1M entries of 16 bytes,
	 * 39-bit numbers: 28-31 ms against 38-48) */
	for (size_t i = 0; i < n; i++)
		used |= lead_u64(a + i * sz);
	bits = used ? 64 - __builtin_clzll(used) : 1;
	passes = (bits + 12) / 13;
	w = (bits + passes - 1) / passes;
	nb = (size_t)1 << w;
	cnt = calloc((size_t)passes * nb, sizeof(*cnt));
	if (!cnt) {
		free(b);
		qsort(v, n, sz, cmp);
		return;
	}
	for (size_t i = 0; i < n; i++) {	/* every pass's counts at once */
		__u64 k = lead_u64(a + i * sz);

		for (int p = 0; p < passes; p++)
			cnt[p * nb + (k >> (p * w) & (nb - 1))]++;
	}
	from = a;
	to = b;
	for (int p = 0; p < passes; p++) {
		size_t *c = cnt + p * nb, sum = 0;

		if (c[lead_u64(from) >> (p * w) & (nb - 1)] == n)
			continue;	/* one digit for all: nothing to move */
		for (size_t d = 0; d < nb; d++) {
			size_t x = c[d];

			c[d] = sum;
			sum += x;
		}
		for (size_t i = 0; i < n; i++)
			memcpy(to + c[lead_u64(from + i * sz) >> (p * w) & (nb - 1)]++ * sz,
			       from + i * sz, sz);
		char *t = from;

		from = to;
		to = t;
	}
	if (from != a)
		memcpy(a, from, n * sz);
	for (size_t i = 0, j; i < n; i = j) {	/* runs equal in the number */
		__u64 k = lead_u64(a + i * sz);

		for (j = i + 1; j < n && lead_u64(a + j * sz) == k; j++)
			;
		if (j - i > 1)
			qsort(a + i * sz, j - i, sz, cmp);
	}
	free(cnt);
	free(b);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
