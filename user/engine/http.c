// SPDX-License-Identifier: GPL-2.0
/* user/engine/http.c - see http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/http.h"

int http_tokens_read(struct http_tokens *t, const char *path, const char *section, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[512];
	unsigned ln = 0;

	t->n = 0;
	if (!f) {
		int e = errno;

		snprintf(err, errlen, "[%s] token_file %s: %s", section, path, strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char a[256], b[256], extra[8];
		const char *name = "token", *tok = a;
		int k;

		ln++;
		k = sscanf(line, "%255s %255s %7s", a, b, extra);
		if (k <= 0 || a[0] == '#')
			continue;
		if (k == 2) {
			name = a;
			tok = b;
		}
		if (k > 2 || strlen(name) >= sizeof(t->t[0].name) || strchr(name, ':') ||
		    strlen(tok) >= sizeof(t->t[0].token) || strlen(tok) < 16) {
			snprintf(err, errlen, "%s:%u: want \"NAME TOKEN\" or \"TOKEN\" (a name without "
				 "':', a token of 16..127 characters)", path, ln);
			fclose(f);
			return -EINVAL;
		}
		if (t->n == HTTP_TOKENS_MAX) {
			snprintf(err, errlen, "%s:%u: more than %d tokens", path, ln, HTTP_TOKENS_MAX);
			fclose(f);
			return -EINVAL;
		}
		snprintf(t->t[t->n].name, sizeof(t->t[0].name), "%s", name);
		snprintf(t->t[t->n].token, sizeof(t->t[0].token), "%s", tok);
		t->n++;
	}
	fclose(f);
	if (!t->n) {
		snprintf(err, errlen, "%s: no token in it: nobody could use the server", path);
		return -EINVAL;
	}
	return 0;
}

/* Equal, in a time that depends on a's length only. */
static bool const_eq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	unsigned char d = na != nb;

	for (size_t i = 0; i < na; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i % (nb ? nb : 1)];
	return !d && nb;
}

bool http_authorised(const struct http_tokens *t, struct MHD_Connection *c, const char **who)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	int hit = -1;

	if (h && !strncasecmp(h, "Bearer ", 7)) {
		const char *tok = h + 7;

		while (*tok == ' ')
			tok++;
		for (unsigned i = 0; i < t->n; i++)
			if (const_eq(tok, t->t[i].token))
				hit = (int)i;
	} else if (h && !strncasecmp(h, "Basic ", 6)) {
		char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);

		for (unsigned i = 0; user && pass && i < t->n; i++)
			if (!strcmp(user, t->t[i].name) && const_eq(pass, t->t[i].token))
				hit = (int)i;
		MHD_free(user);
		MHD_free(pass);
	}
	if (who)
		*who = hit >= 0 ? t->t[hit].name : "";
	return hit >= 0;
}

int http_listen_addr(const char *listen, struct sockaddr_storage *ss, unsigned *port)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!colon || sscanf(colon + 1, "%u", port) != 1 || !*port || *port > 65535)
		return -EINVAL;
	hl = colon - listen;
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (void *)ss;

		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(*port);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons(*port);
	return inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1 ? 0 : -EINVAL;
}

char *http_read_pem(const char *path, const char *section, const char *what, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	long sz;

	if (f && !fseek(f, 0, SEEK_END) && (sz = ftell(f)) > 0 && sz < (1 << 20) && !fseek(f, 0, SEEK_SET)) {
		buf = calloc(1, sz + 1);
		if (buf)
			len = fread(buf, 1, sz, f);
	}
	if (!buf || !len) {
		snprintf(err, errlen, "[%s] %s %s: %s", section, what, path,
			 f ? "empty or unreadable" : strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	return buf;
}
