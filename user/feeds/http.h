/* SPDX-License-Identifier: GPL-2.0 */
/* user/feeds/http.h - one HTTP request with headers and a body, for the
 * intelligence exchanges (a TAXII server's API, a CrowdSec local API).
 *
 * Owns talking HTTP through libcurl for requests that fetch.c's plain GET
 * cannot make: extra request headers (Accept, Authorization, X-Api-Key), a
 * method and a body, chosen response headers kept. Bounded like fetch.c: a
 * size cap, a timeout, a cancel flag; http and https only, no redirects to
 * anything else. Never prints: -errno and a message.
 */
#ifndef XDPFENCE_HTTP_H
#define XDPFENCE_HTTP_H

#include <signal.h>
#include <stddef.h>

#include "feeds/fetch.h"

#define HTTP_HEADERS_MAX	8
#define HTTP_KEEP_MAX		4

struct http_req {
	const char *method;		/* NULL: GET */
	const char *url;
	const char *headers[HTTP_HEADERS_MAX];	/* "Name: value", NULL-terminated */
	const char *body;		/* sent as is (POST, PUT), or NULL */
	const char *ca_file;		/* trust this CA bundle for https, or NULL */
	unsigned timeout_s;		/* 0: 30 s */
	size_t max_bytes;		/* 0: 64 MiB */
	const volatile sig_atomic_t *cancel;
	const char *keep[HTTP_KEEP_MAX];	/* response headers to keep (names) */
};

struct http_resp {
	struct fetch_result body;	/* data, len; status */
	char kept[HTTP_KEEP_MAX][128];	/* values of req->keep[i], "" if absent */
};

/* 0 when a response came (whatever its status: resp->body.status), or
 * -errno with err saying why (-ETIMEDOUT, -ECANCELED, -EFBIG, -EIO). Free
 * resp->body with fetch_result_free. */
int http_request(const struct http_req *req, struct http_resp *resp, char *err, size_t errlen);

/* The first line of a file, trimmed (an API key, a token): 0 or -errno. */
int http_read_secret(const char *path, char *out, size_t len, char *err, size_t errlen);

#endif
