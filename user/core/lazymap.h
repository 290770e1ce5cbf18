/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/lazymap.h - an mmap-able BPF array seen a window at a time.
 *
 * The kernel maps every page of a BPF array when it is mmap-ed (it remaps
 * the whole vmalloc area at once), so mapping the tables whole costs a
 * command that changes one entry hundreds of megabytes of page table and
 * milliseconds per hundred megabytes, to map and to unmap. A lazymap maps
 * windows of it on first use instead (the map's pages from an offset), or
 * the whole of it when asked (lazymap_full: for scans). Either way a
 * pointer it hands out stays valid until lazymap_close, and stores through
 * it reach the map (MAP_SHARED): the data path sees them as the controller
 * writes them, one atomic store at a time.
 */
#ifndef XDPFENCE_LAZYMAP_H
#define XDPFENCE_LAZYMAP_H

#include <stdbool.h>
#include <stddef.h>

struct lazymap {
	int fd;
	size_t size;			/* bytes of data: entries * 8-byte-rounded value size */
	void *full;			/* the whole map, once lazymap_full has run */
	void **win;			/* windows by number, NULL until used */
	size_t n_win;
};

/* fd stays the caller's. */
void lazymap_init(struct lazymap *lm, int fd, size_t size);
void lazymap_close(struct lazymap *lm);

/* Bytes [off, off + len) of the map, len at most a page: a pointer into a
 * window (mapped now if need be), or into the whole map. NULL when mapping
 * fails (out of memory, or off past the end). */
void *lazymap_at(struct lazymap *lm, size_t off, size_t len);

/* The whole map, mapped (and populated) now if it was not: for scans.
 * Windows mapped before stay valid. NULL when mapping fails. */
void *lazymap_full(struct lazymap *lm);

#endif
