/* user/feeds/fetch.h - bring a feed's bytes in: a file, stdin ("-") or an http(s)
 * URL through libcurl, with conditional requests (ETag, Last-Modified) so an
 * unchanged feed costs one round trip and no parsing. */
#ifndef XDPFENCE_FETCH_H
#define XDPFENCE_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#define FETCH_MAX_BYTES (1UL << 30)

struct fetch_result {
	char *data;		/* malloc-ed, NUL terminated (len excludes it) */
	size_t len;
	size_t cap;		/* allocated */
	bool not_modified;	/* HTTP 304: data is NULL */
	long status;		/* HTTP status, 0 for files */
	char etag[96];
	char last_modified[40];
};

bool fetch_is_url(const char *source);

/* etag/last_modified: from the previous load of the same source, or NULL. */
int fetch_source(const char *source, const char *etag, const char *last_modified,
		 struct fetch_result *r, char *err, size_t errlen);
/* A file source ("file://" and "-" for stdin as fetch_source takes them)
 * opened for fetch_fd: an fd, or -1 with errno set. */
int fetch_open(const char *source);
/* All of an open file's bytes from where it stands (not closed). */
int fetch_fd(int fd, struct fetch_result *r, char *err, size_t errlen);
void fetch_result_free(struct fetch_result *r);

#endif
