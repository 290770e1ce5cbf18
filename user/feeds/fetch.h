/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/fetch.h - bring a feed's bytes in: a file, stdin ("-") or an http(s)
 * URL through libcurl, with conditional requests (ETag, Last-Modified) so an
 * unchanged feed costs one round trip and no parsing.
 *
 * Bounded: a transfer stops at its size cap and its timeout, and when the
 * caller's cancel flag is raised (SIGTERM in the daemon); redirects are
 * followed to http and https only. Callers fetch before they take the pin
 * dir's lock: no lock is ever held across the network. */
#ifndef XDPFENCE_FETCH_H
#define XDPFENCE_FETCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define FETCH_MAX_BYTES_DEFAULT	(1UL << 30)	/* size cap of a feed */
#define FETCH_TIMEOUT_DEFAULT	300		/* seconds, a whole transfer */

struct fetch_opts {
	const char *etag;		/* of the previous load of the same source, or NULL */
	const char *last_modified;
	unsigned timeout_s;		/* 0: FETCH_TIMEOUT_DEFAULT (URLs only) */
	size_t max_bytes;		/* 0: FETCH_MAX_BYTES_DEFAULT */
	const volatile sig_atomic_t *cancel;	/* non-zero: stop (-ECANCELED); may be NULL */
};

struct fetch_result {
	char *data;		/* malloc-ed, NUL terminated (len excludes it) */
	size_t len;
	size_t cap;		/* allocated */
	size_t max;		/* the size cap in force */
	bool not_modified;	/* HTTP 304: data is NULL */
	long status;		/* HTTP status, 0 for files */
	char etag[96];
	char last_modified[40];
};

bool fetch_is_url(const char *source);

/* 0, or -errno with err saying why: -EFBIG over the size cap, -ETIMEDOUT,
 * -ECANCELED, -EIO for an HTTP or transfer error. o may be NULL. */
int fetch_source(const char *source, const struct fetch_opts *o, struct fetch_result *r,
		 char *err, size_t errlen);
/* A file source ("file://" and "-" for stdin as fetch_source takes them)
 * opened for fetch_fd: an fd, or -1 with errno set. */
int fetch_open(const char *source);
/* All of an open file's bytes from where it stands (not closed), up to
 * max_bytes (0: the default cap). */
int fetch_fd(int fd, size_t max_bytes, struct fetch_result *r, char *err, size_t errlen);
void fetch_result_free(struct fetch_result *r);

#endif
