// SPDX-License-Identifier: GPL-2.0
/* user/core/lazymap.c - see lazymap.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/lazymap.h"

/* A window maps WIN_PAGES pages and one more, so that anything up to a page
 * long that starts in it lies whole in it. */
#define WIN_PAGES	16

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

void lazymap_init(struct lazymap *lm, int fd, size_t size)
{
	memset(lm, 0, sizeof(*lm));
	lm->fd = fd;
	lm->size = size;
	lm->n_win = size / (WIN_PAGES * page_size()) + 1;
}

static size_t map_len(const struct lazymap *lm)
{
	return (lm->size + page_size() - 1) & ~(page_size() - 1);
}

void lazymap_close(struct lazymap *lm)
{
	size_t wlen = (WIN_PAGES + 1) * page_size(), total = map_len(lm);

	for (size_t i = 0; lm->win && i < lm->n_win; i++) {
		size_t off = i * WIN_PAGES * page_size();

		if (lm->win[i])
			munmap(lm->win[i], off + wlen > total ? total - off : wlen);
	}
	free(lm->win);
	if (lm->full)
		munmap(lm->full, total);
	lm->win = NULL;
	lm->full = NULL;
}

void *lazymap_at(struct lazymap *lm, size_t off, size_t len)
{
	size_t ps = page_size(), wsize = WIN_PAGES * ps, total = map_len(lm), i, woff, wlen;
	void *p;

	if (off + len > lm->size)
		return NULL;
	if (lm->full)
		return (char *)lm->full + off;
	if (!lm->win) {
		lm->win = calloc(lm->n_win, sizeof(*lm->win));
		if (!lm->win)
			return NULL;
	}
	i = off / wsize;
	if (!lm->win[i]) {
		woff = i * wsize;
		wlen = woff + wsize + ps > total ? total - woff : wsize + ps;
		p = mmap(NULL, wlen, PROT_READ | PROT_WRITE, MAP_SHARED, lm->fd, (off_t)woff);
		if (p == MAP_FAILED)
			return NULL;
		lm->win[i] = p;
	}
	return (char *)lm->win[i] + (off - i * wsize);
}

void *lazymap_full(struct lazymap *lm)
{
	void *p;

	if (lm->full)
		return lm->full;
	p = mmap(NULL, map_len(lm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, lm->fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	lm->full = p;
	return p;
}
