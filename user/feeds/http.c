// SPDX-License-Identifier: GPL-2.0
/* user/feeds/http.c - see http.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "feeds/http.h"

struct ctx {
	const struct http_req *req;
	struct http_resp *resp;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct fetch_result *r = &((struct ctx *)ud)->resp->body;
	size_t more = sz * n;

	if (r->len + more > r->max)
		return 0;	/* aborts: over the cap */
	if (r->len + more + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 16384;
		char *d;

		while (cap < r->len + more + 1)
			cap *= 2;
		d = realloc(r->data, cap);
		if (!d)
			return 0;
		r->data = d;
		r->cap = cap;
	}
	memcpy(r->data + r->len, p, more);
	r->len += more;
	r->data[r->len] = 0;
	return more;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct ctx *c = ud;
	size_t len = sz * n;

	for (int k = 0; k < HTTP_KEEP_MAX && c->req->keep[k]; k++) {
		size_t nl = strlen(c->req->keep[k]), i, e = len;

		if (len <= nl + 1 || strncasecmp(p, c->req->keep[k], nl) || p[nl] != ':')
			continue;
		for (i = nl + 1; i < len && isspace((unsigned char)p[i]); i++)
			;
		while (e > i && isspace((unsigned char)p[e - 1]))
			e--;
		if (e - i < sizeof(c->resp->kept[k])) {
			memcpy(c->resp->kept[k], p + i, e - i);
			c->resp->kept[k][e - i] = 0;
		}
	}
	return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	const volatile sig_atomic_t *cancel = ud;

	(void)a, (void)b, (void)c, (void)d;
	return cancel && *cancel;
}

int http_request(const struct http_req *req, struct http_resp *resp, char *err, size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct ctx ctx = { req, resp };
	unsigned timeout = req->timeout_s ? req->timeout_s : 30;
	CURLcode rc;
	CURL *c;
	int ret = 0;

	memset(resp, 0, sizeof(*resp));
	resp->body.max = req->max_bytes ? req->max_bytes : 64UL << 20;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "curl: cannot initialise");
		return -ENOMEM;
	}
	for (int i = 0; i < HTTP_HEADERS_MAX && req->headers[i]; i++)
		hdrs = curl_slist_append(hdrs, req->headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (req->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
	}
	if (req->ca_file && *req->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &ctx);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout < 10 ? timeout : 10));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req->cancel);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "xdpfence/0.1 (+intel exchange)");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->body.status);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(err, errlen, "cancelled");
		ret = -ECANCELED;
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, errlen, "timed out after %u s: %s", timeout, ebuf);
		ret = -ETIMEDOUT;
	} else if (rc == CURLE_WRITE_ERROR) {
		snprintf(err, errlen, "answer larger than %zu bytes", resp->body.max);
		ret = -EFBIG;
	} else if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
		ret = -EIO;
	} else if (!resp->body.data) {
		resp->body.data = calloc(1, 1);
		if (!resp->body.data)
			ret = -ENOMEM;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return ret;
}

int http_read_secret(const char *path, char *out, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[512];
	size_t n;

	if (!f) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	n = strlen(line);
	while (n && isspace((unsigned char)line[n - 1]))
		line[--n] = 0;
	if (!n || n >= len) {
		snprintf(err, errlen, "%s:1: %s", path, n ? "longer than expected" : "empty: want the "
			 "key on the first line");
		return -EINVAL;
	}
	memcpy(out, line, n + 1);
	return 0;
}
