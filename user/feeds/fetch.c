// SPDX-License-Identifier: GPL-2.0
/* user/feeds/fetch.c - see fetch.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>

#include "feeds/fetch.h"
#include "lib/util.h"

bool fetch_is_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

static int grow(struct fetch_result *r, size_t more)
{
	size_t cap = r->cap;
	char *p;

	if (r->len + more + 1 <= cap)
		return 0;
	if (r->len + more > r->max)
		return -EFBIG;
	cap = cap ? cap * 2 : more + 1 > 1 << 16 ? more + 1 : 1 << 16;
	while (cap < r->len + more + 1)
		cap *= 2;
	p = realloc(r->data, cap);
	if (!p)
		return -ENOMEM;
	r->data = p;
	prefault(p + r->cap, cap - r->cap);	/* read() into faulted pages */
	r->cap = cap;
	return 0;
}

static int read_fd(int fd, struct fetch_result *r)
{
	struct stat st;
	int err;

	/* a file's size is known: one buffer of that size (and a byte to see
	 * the end in), not a doubling series: fresh memory costs more than the
	 * copy on this kind of VM */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (size_t)st.st_size <= r->max) {
		err = grow(r, (size_t)st.st_size + 1);
		if (err)
			return err;
	}
	for (;;) {
		size_t room = r->cap > r->len + 1 ? r->cap - r->len - 1 : 0;
		ssize_t n;

		if (!room) {
			err = grow(r, r->max - r->len < 1 << 16 ? 1 : 1 << 16);
			if (err)
				return err;
			room = r->cap - r->len - 1;
		}
		n = read(fd, r->data + r->len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		r->len += n;
	}
	if (!r->data && grow(r, 0))
		return -ENOMEM;
	r->data[r->len] = 0;
	return 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct fetch_result *r = ud;

	if (grow(r, sz * n))
		return 0;	/* aborts the transfer */
	memcpy(r->data + r->len, p, sz * n);
	r->len += sz * n;
	return sz * n;
}

/* "ETag: "abc"\r\n" -> dst = "\"abc\"" */
static void header_value(const char *line, size_t len, const char *name, char *dst, size_t dlen)
{
	size_t nl = strlen(name), i;

	if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	for (i = nl + 1; i < len && isspace((unsigned char)line[i]); i++)
		;
	while (len > i && isspace((unsigned char)line[len - 1]))
		len--;
	if (len - i >= dlen)
		return;	/* too long to keep: just don't send it back */
	memcpy(dst, line + i, len - i);
	dst[len - i] = 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct fetch_result *r = ud;

	header_value(p, sz * n, "ETag", r->etag, sizeof(r->etag));
	header_value(p, sz * n, "Last-Modified", r->last_modified, sizeof(r->last_modified));
	return sz * n;
}

/* curl's progress callback: non-zero aborts the transfer */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const volatile sig_atomic_t *cancel = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return cancel && *cancel;
}

static void size_error(const struct fetch_result *r, char *err, size_t errlen)
{
	snprintf(err, errlen, "larger than the size cap of %zu bytes (max_size, --max-size)",
		 r->max);
}

static int fetch_url(const char *url, const struct fetch_opts *o, struct fetch_result *r,
		     char *err, size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "", hdr[160];
	struct curl_slist *hdrs = NULL;
	unsigned timeout = o->timeout_s ? o->timeout_s : FETCH_TIMEOUT_DEFAULT;
	CURL *c;
	CURLcode rc;
	int ret = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "curl: cannot initialise");
		return -ENOMEM;
	}
	if (o->etag && *o->etag) {
		snprintf(hdr, sizeof(hdr), "If-None-Match: %s", o->etag);
		hdrs = curl_slist_append(hdrs, hdr);
	}
	if (o->last_modified && *o->last_modified) {
		snprintf(hdr, sizeof(hdr), "If-Modified-Since: %s", o->last_modified);
		hdrs = curl_slist_append(hdrs, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout < 15 ? timeout : 15));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)o->cancel);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");	/* gzip etc. if offered */
	curl_easy_setopt(c, CURLOPT_USERAGENT, "xdpfence/0.1 (+feed loader)");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(err, errlen, "cancelled");
		ret = -ECANCELED;
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, errlen, "timed out after %u s (timeout, --timeout): %s", timeout, ebuf);
		ret = -ETIMEDOUT;
	} else if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR && r->len + 1 >= r->max)) {
		size_error(r, err, errlen);
		ret = -EFBIG;
	} else if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
		ret = rc == CURLE_WRITE_ERROR ? -ENOMEM : -EIO;
	} else if (r->status == 304) {
		r->not_modified = true;
		free(r->data);
		r->data = NULL;
		r->len = r->cap = 0;
	} else if (r->status < 200 || r->status > 299) {
		snprintf(err, errlen, "HTTP status %ld", r->status);
		ret = -EIO;
	} else if (!r->data && grow(r, 0)) {
		ret = -ENOMEM;
	}
	if (!ret && r->data)
		r->data[r->len] = 0;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return ret;
}

int fetch_open(const char *source)
{
	if (!strncmp(source, "file://", 7))
		source += 7;
	return strcmp(source, "-") ? open(source, O_RDONLY | O_CLOEXEC) : fcntl(0, F_DUPFD_CLOEXEC, 0);
}

int fetch_fd(int fd, size_t max_bytes, struct fetch_result *r, char *err, size_t errlen)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->max = max_bytes ? max_bytes : FETCH_MAX_BYTES_DEFAULT;
	ret = read_fd(fd, r);
	if (ret == -EFBIG)
		size_error(r, err, errlen);
	else if (ret)
		snprintf(err, errlen, "%s", strerror(-ret));
	return ret;
}

int fetch_source(const char *source, const struct fetch_opts *o, struct fetch_result *r,
		 char *err, size_t errlen)
{
	static const struct fetch_opts none;
	int fd, ret;

	if (!o)
		o = &none;
	memset(r, 0, sizeof(*r));
	r->max = o->max_bytes ? o->max_bytes : FETCH_MAX_BYTES_DEFAULT;
	if (fetch_is_url(source))
		return fetch_url(source, o, r, err, errlen);
	fd = fetch_open(source);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return ret;
	}
	ret = fetch_fd(fd, o->max_bytes, r, err, errlen);
	close(fd);
	return ret;
}

void fetch_result_free(struct fetch_result *r)
{
	free(r->data);
	r->data = NULL;
	r->len = r->cap = 0;
}
