/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/http.h - what the daemon's HTTP servers share (libmicrohttpd):
 * the token file and the credentials a request carries, the listen
 * address, the PEM files of TLS. The servers are taxii.c (read-only
 * intelligence) and signals.c (reports of the API tier).
 */
#ifndef XDPFENCE_HTTP_H
#define XDPFENCE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <microhttpd.h>

#define HTTP_TOKENS_MAX		64

struct http_tokens {
	struct http_token {
		char name[64];
		char token[128];
	} t[HTTP_TOKENS_MAX];
	unsigned n;
};

/* The token file: lines "NAME TOKEN", or a bare "TOKEN" (named "token");
 * '#' starts a comment line. Tokens have 16..127 characters. 0, or -errno
 * with err naming the file and line ("[section] token_file ..."). */
int http_tokens_read(struct http_tokens *t, const char *path, const char *section, char *err,
		     size_t errlen);

/* Does the request carry one of the tokens (Authorization: Bearer TOKEN,
 * or basic auth NAME:TOKEN)? Compared in constant time. *who: its name. */
bool http_authorised(const struct http_tokens *t, struct MHD_Connection *c, const char **who);

/* "127.0.0.1:9470", "[::1]:9470" into ss and port; 0 or -EINVAL. */
int http_listen_addr(const char *listen, struct sockaddr_storage *ss, unsigned *port);

/* A PEM file read whole (< 1 MiB), or NULL with err ("[section] what PATH:
 * why"). */
char *http_read_pem(const char *path, const char *section, const char *what, char *err,
		    size_t errlen);

#endif
