// SPDX-License-Identifier: GPL-2.0
/* user/engine/signals.c - see signals.h. */
#define _GNU_SOURCE		/* struct ucred, SCM_CREDENTIALS */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <microhttpd.h>

#include "engine/http.h"
#include "engine/signals.h"

#define CLIENTS		1024		/* rate buckets; a newcomer takes the stalest */
#define REFUSED_KEPT	64		/* refusals kept for the log between ticks */
#define SIGNALS_PATH	"/v1/signals"

struct bucket {
	char client[48];
	double tokens;
	double at;			/* CLOCK_MONOTONIC s of the last refill */
};

struct signals {
	struct config_signals cfg;
	struct http_tokens tokens;
	struct MHD_Daemon *d;
	int sock, stop_fd;		/* the datagram socket; wakes its thread */
	pthread_t th;
	bool th_started;
	char sock_path[108];

	pthread_mutex_t lock;		/* what follows */
	struct signal_in *q;
	size_t n, cap;
	struct bucket b[CLIENTS];
	struct signal_refused ref[REFUSED_KEPT];
	size_t n_ref;
	struct signals_stats st;
};

const char *signal_source_name(enum signal_source s)
{
	static const char *const n[] = { [SIGNAL_HTTP] = "http", [SIGNAL_SOCKET] = "socket",
					 [SIGNAL_CLI] = "cli" };

	return (unsigned)s < SIGNAL_SOURCES ? n[s] : "?";
}

const char *signal_refusal_name(enum signal_refusal r)
{
	static const char *const n[] = {
		[SIGNAL_BAD_REQUEST] = "bad_request", [SIGNAL_UNAUTHORIZED] = "unauthorized",
		[SIGNAL_TOO_LARGE] = "too_large", [SIGNAL_RATE_LIMITED] = "rate_limited",
		[SIGNAL_BUSY] = "busy",
	};

	return (unsigned)r < SIGNAL_REFUSALS ? n[r] : "?";
}

/* --- the format ------------------------------------------------------------ */

static bool kind_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > SIGNAL_KIND_MAX)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

static bool account_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > SIGNAL_ACCOUNT_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool addr_parse(const char *s, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, s, c->addr) == 1) {
		c->family = AF_INET;
		c->len = 32;
		return true;
	}
	if (inet_pton(AF_INET6, s, c->addr) == 1) {
		c->family = AF_INET6;
		c->len = 128;
		return true;
	}
	return false;
}

#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); return -EINVAL; } while (0)

static int report_parse(json_object *o, size_t i, struct signal_in *r, char *why, size_t whylen)
{
	bool have_ip = false;

	memset(r, 0, sizeof(*r));
	r->weight = 1;
	if (!json_object_is_type(o, json_type_object))
		BAD("report %zu: want a JSON object", i + 1);
	json_object_object_foreach(o, key, val) {
		const char *s = json_object_is_type(val, json_type_string) ?
				json_object_get_string(val) : NULL;

		if (!strcmp(key, "ip")) {
			if (!s || !addr_parse(s, &r->ip))
				BAD("report %zu: ip %.64s: want an IPv4 or IPv6 address (no prefix length)",
				    i + 1, s ? s : json_object_to_json_string(val));
			have_ip = true;
		} else if (!strcmp(key, "account")) {
			if (!s || !account_ok(s))
				BAD("report %zu: account: want a string of 1..%d printable characters",
				    i + 1, SIGNAL_ACCOUNT_MAX);
			snprintf(r->account, sizeof(r->account), "%s", s);
		} else if (!strcmp(key, "kind")) {
			if (!s || !kind_ok(s))
				BAD("report %zu: kind: want 1..%d of [A-Za-z0-9_.-]", i + 1, SIGNAL_KIND_MAX);
			snprintf(r->kind, sizeof(r->kind), "%s", s);
		} else if (!strcmp(key, "weight")) {
			int64_t w = json_object_get_int64(val);

			if (!json_object_is_type(val, json_type_int) || w < 1 || w > SIGNAL_WEIGHT_MAX)
				BAD("report %zu: weight: want a whole number from 1 to %d", i + 1,
				    SIGNAL_WEIGHT_MAX);
			r->weight = (__u32)w;
		} else {
			BAD("report %zu: unknown key \"%.32s\" (ip, account, kind, weight)", i + 1, key);
		}
	}
	if (!have_ip)
		BAD("report %zu: no ip", i + 1);
	return 0;
}

int signals_parse(const char *body, size_t len, size_t max, struct signal_in **out, size_t *n,
		  char *why, size_t whylen)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *j = NULL;
	size_t cnt, used;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!tok)
		return -ENOMEM;
	j = json_tokener_parse_ex(tok, body, (int)len);
	used = json_tokener_get_parse_end(tok);
	if (!j || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(why, whylen, "not JSON: %s", e == json_tokener_continue || e ==
			 json_tokener_success ? "it ends early" : json_tokener_error_desc(e));
		ret = -EINVAL;
		goto out;
	}
	while (used < len && (body[used] == ' ' || body[used] == '\n' || body[used] == '\r' ||
			      body[used] == '\t'))
		used++;
	if (used < len) {
		snprintf(why, whylen, "not JSON: data after the value");
		ret = -EINVAL;
		goto out;
	}
	cnt = json_object_is_type(j, json_type_array) ? json_object_array_length(j) : 1;
	if (!cnt || cnt > max) {
		snprintf(why, whylen, "%zu reports: want 1..%zu in one request", cnt, max);
		ret = -EINVAL;
		goto out;
	}
	*out = calloc(cnt, sizeof(**out));
	if (!*out) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cnt && !ret; i++)
		ret = report_parse(json_object_is_type(j, json_type_array) ?
				   json_object_array_get_idx(j, i) : j, i, &(*out)[i], why, whylen);
	if (ret) {
		free(*out);
		*out = NULL;
	} else {
		*n = cnt;
	}
out:
	json_object_put(j);
	json_tokener_free(tok);
	return ret;
}

/* --- intake ------------------------------------------------------------------ */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Take n tokens from client's bucket; false (none taken) if it has not got them. */
static bool bucket_take(struct signals *s, const char *client, size_t n)
{
	double now = mono_s(), burst = s->cfg.client_burst;
	size_t h = 5381, pick;
	struct bucket *b;

	for (const char *c = client; *c; c++)
		h = h * 33 + (unsigned char)*c;
	pick = h % CLIENTS;
	b = &s->b[pick];
	for (size_t k = 0; k < 4; k++) {	/* its own, else the stalest of four */
		struct bucket *x = &s->b[(h + k) % CLIENTS];

		if (!strcmp(x->client, client)) {
			b = x;
			break;
		}
		if (x->at < b->at)
			b = x;
	}
	if (strcmp(b->client, client)) {
		snprintf(b->client, sizeof(b->client), "%s", client);
		b->tokens = burst;
		b->at = now;
	}
	b->tokens += (now - b->at) * s->cfg.client_rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->at = now;
	if (b->tokens < (double)n)
		return false;
	b->tokens -= (double)n;
	return true;
}

/* Count a refusal and keep it for the log (lock held). */
static void refuse(struct signals *s, enum signal_source src, enum signal_refusal r,
		   const char *client, const char *reason)
{
	s->st.refused[r]++;
	if (s->n_ref < REFUSED_KEPT) {
		struct signal_refused *x = &s->ref[s->n_ref++];

		x->source = (__u8)src;
		x->why = (__u8)r;
		snprintf(x->client, sizeof(x->client), "%s", client);
		snprintf(x->reason, sizeof(x->reason), "%s", reason);
	}
}

int signals_offer(struct signals *s, struct signal_in *v, size_t n, enum signal_source src,
		  const char *client, char *why, size_t whylen)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->n + n > s->cfg.max_pending) {
		snprintf(why, whylen, "busy: %zu reports wait for the next tick (max_pending %u)",
			 s->n, s->cfg.max_pending);
		ret = SIGNAL_BUSY + 1;
	} else if (!bucket_take(s, client, n)) {
		snprintf(why, whylen, "over the rate of a client (client_rate %g/s, client_burst %u)",
			 s->cfg.client_rate, s->cfg.client_burst);
		ret = SIGNAL_RATE_LIMITED + 1;
	} else if (s->n + n > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		struct signal_in *q;

		while (cap < s->n + n)
			cap *= 2;
		q = realloc(s->q, cap * sizeof(*q));
		if (!q) {
			snprintf(why, whylen, "out of memory");
			ret = SIGNAL_BUSY + 1;
		} else {
			s->q = q;
			s->cap = cap;
		}
	}
	if (ret) {
		refuse(s, src, ret - 1, client, why);
	} else {
		for (size_t i = 0; i < n; i++) {
			v[i].source = (__u8)src;
			snprintf(v[i].client, sizeof(v[i].client), "%s", client);
		}
		memcpy(s->q + s->n, v, n * sizeof(*v));
		s->n += n;
		s->st.received[src] += n;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* A refusal before any report was read (401, 413, 400). */
static void refuse_locked(struct signals *s, enum signal_source src, enum signal_refusal r,
			  const char *client, const char *reason)
{
	pthread_mutex_lock(&s->lock);
	refuse(s, src, r, client, reason);
	pthread_mutex_unlock(&s->lock);
}

void signals_take(struct signals *s, struct signal_in **v, size_t *n, struct signal_refused *ref,
		  size_t max_ref, size_t *n_ref)
{
	pthread_mutex_lock(&s->lock);
	*v = s->n ? s->q : NULL;
	*n = s->n;
	if (s->n) {
		s->q = NULL;
		s->n = s->cap = 0;
	}
	*n_ref = s->n_ref < max_ref ? s->n_ref : max_ref;
	memcpy(ref, s->ref, *n_ref * sizeof(*ref));
	s->n_ref = 0;
	pthread_mutex_unlock(&s->lock);
}

void signals_get_stats(struct signals *s, struct signals_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

/* --- HTTP ---------------------------------------------------------------------- */

struct req {
	char *buf;
	size_t len;
	bool too_big;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *key,
			     json_object *val)
{
	json_object *j = json_object_new_object();
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *txt;

	json_object_object_add(j, key, val);
	txt = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	r = MHD_create_response_from_buffer(strlen(txt), (void *)txt, MHD_RESPMEM_MUST_COPY);
	json_object_put(j);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"xdpfence\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result fail(struct signals *s, struct MHD_Connection *c, const char *client,
			    enum signal_refusal r, unsigned status, const char *why)
{
	refuse_locked(s, SIGNAL_HTTP, r, client, why);
	return reply(c, status, "error", json_object_new_string(why));
}

static void peer(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, len, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	struct signals *s = cls;
	struct req *q = *state;
	struct signal_in *v = NULL;
	char client[48], why[256];
	const char *ct;
	size_t n;
	int ret;

	(void)version;
	peer(c, client, sizeof(client));
	if (!q) {		/* the headers: refuse early what needs no body */
		if (!http_authorised(&s->tokens, c, NULL))
			return fail(s, c, client, SIGNAL_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED,
				    "send Authorization: Bearer TOKEN (the [signals] token_file)");
		if (strcmp(url, SIGNALS_PATH))
			return reply(c, MHD_HTTP_NOT_FOUND, "error",
				     json_object_new_string("not found: POST reports to " SIGNALS_PATH));
		if (strcmp(method, "POST"))
			return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "error",
				     json_object_new_string("POST reports here"));
		ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		if (ct && strncasecmp(ct, "application/json", 16))
			return fail(s, c, client, SIGNAL_BAD_REQUEST, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				    "send Content-Type: application/json");
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*state = q;
		return MHD_YES;
	}
	if (*upload_len) {
		if (!q->too_big && q->len + *upload_len <= s->cfg.max_body) {
			char *b = realloc(q->buf, q->len + *upload_len + 1);

			if (!b)
				return MHD_NO;
			memcpy(b + q->len, upload, *upload_len);
			q->buf = b;
			q->len += *upload_len;
		} else {
			q->too_big = true;
		}
		*upload_len = 0;
		return MHD_YES;
	}
	if (q->too_big) {
		snprintf(why, sizeof(why), "body over max_body (%u bytes): nothing recorded",
			 s->cfg.max_body);
		return fail(s, c, client, SIGNAL_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE, why);
	}
	ret = signals_parse(q->buf ? q->buf : "", q->len, s->cfg.max_pending, &v, &n, why, sizeof(why));
	if (ret == -ENOMEM)
		return MHD_NO;
	if (ret) {
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ": nothing recorded");
		return fail(s, c, client, SIGNAL_BAD_REQUEST, MHD_HTTP_BAD_REQUEST, why);
	}
	ret = signals_offer(s, v, n, SIGNAL_HTTP, client, why, sizeof(why));
	free(v);
	if (ret)
		return reply(c, ret - 1 == SIGNAL_BUSY ? MHD_HTTP_SERVICE_UNAVAILABLE :
			     MHD_HTTP_TOO_MANY_REQUESTS, "error", json_object_new_string(why));
	return reply(c, MHD_HTTP_ACCEPTED, "accepted", json_object_new_int64((int64_t)n));
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode how)
{
	struct req *q = *state;

	(void)cls;
	(void)c;
	(void)how;
	if (q) {
		free(q->buf);
		free(q);
	}
	*state = NULL;
}

/* --- the datagram socket ------------------------------------------------------- */

static void sock_one(struct signals *s, char *buf, size_t len, const struct ucred *cr)
{
	struct signal_in *v = NULL;
	char client[48], why[256];
	size_t n;
	int ret;

	snprintf(client, sizeof(client), "uid %u", cr ? (unsigned)cr->uid : 0U);
	ret = signals_parse(buf, len, s->cfg.max_pending, &v, &n, why, sizeof(why));
	if (ret) {
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ": nothing recorded");
		refuse_locked(s, SIGNAL_SOCKET, SIGNAL_BAD_REQUEST, client, why);
		return;
	}
	signals_offer(s, v, n, SIGNAL_SOCKET, client, why, sizeof(why));
	free(v);
}

static void *sock_thread(void *arg)
{
	struct signals *s = arg;
	char *buf = malloc((size_t)s->cfg.max_body + 1);

	while (buf) {
		struct pollfd p[2] = { { s->sock, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };
		union {
			char b[CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { buf, (size_t)s->cfg.max_body + 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b) };
		const struct ucred *cr = NULL;
		ssize_t len;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		len = recvmsg(s->sock, &m, MSG_DONTWAIT | MSG_TRUNC);
		if (len < 0)
			continue;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS)
				cr = (const struct ucred *)CMSG_DATA(h);
		if ((size_t)len > s->cfg.max_body || (m.msg_flags & MSG_TRUNC)) {
			char client[48], why[128];

			snprintf(client, sizeof(client), "uid %u", cr ? (unsigned)cr->uid : 0U);
			snprintf(why, sizeof(why), "datagram over max_body (%u bytes): nothing recorded",
				 s->cfg.max_body);
			refuse_locked(s, SIGNAL_SOCKET, SIGNAL_TOO_LARGE, client, why);
			continue;
		}
		sock_one(s, buf, (size_t)len, cr);
	}
	free(buf);
	return NULL;
}

static int sock_open(struct signals *s, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	gid_t gid = 0;
	struct stat st;
	int one = 1, sz = (int)s->cfg.max_body * 4;

	if (s->cfg.socket_group[0]) {
		struct group *g = getgrnam(s->cfg.socket_group);

		if (!g) {
			snprintf(err, errlen, "[signals] socket_group %s: no such group", s->cfg.socket_group);
			return -ENOENT;
		}
		gid = g->gr_gid;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->cfg.socket);
	/* a socket left by a daemon that died goes; anything else stays */
	if (!lstat(a.sun_path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "[signals] socket %s: exists and is not a socket", a.sun_path);
			return -EEXIST;
		}
		unlink(a.sun_path);
	}
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->sock < 0 || setsockopt(s->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(s->sock, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		snprintf(err, errlen, "[signals] socket %s: %s", a.sun_path, strerror(e));
		return -e;
	}
	snprintf(s->sock_path, sizeof(s->sock_path), "%s", a.sun_path);
	setsockopt(s->sock, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* root, and the group if one is named: nobody else may send */
	if (chown(a.sun_path, 0, gid) || chmod(a.sun_path, s->cfg.socket_group[0] ? 0660 : 0600)) {
		int e = errno;

		snprintf(err, errlen, "[signals] socket %s: %s", a.sun_path, strerror(e));
		return -e;
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0)
		return -errno;
	if (pthread_create(&s->th, NULL, sock_thread, s)) {
		snprintf(err, errlen, "[signals] socket: no thread");
		return -EAGAIN;
	}
	s->th_started = true;
	return 0;
}

/* --- start, stop ----------------------------------------------------------------- */

int signals_start(struct signals **sp, const struct config_signals *c, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct signals *s;
	unsigned port;
	sigset_t all, old;
	int ret = 0;

	*sp = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *c;
	s->sock = s->stop_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	/* the threads leave every signal to the main one */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (c->listen[0]) {
		if (http_listen_addr(c->listen, &ss, &port)) {
			snprintf(err, errlen, "[signals] listen \"%s\": want ADDRESS:PORT", c->listen);
			ret = -EINVAL;
			goto out;
		}
		ret = http_tokens_read(&s->tokens, c->token_file, "signals", err, errlen);
		if (ret)
			goto out;
		s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
					(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
					port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
					MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
					MHD_OPTION_CONNECTION_LIMIT, 64, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 8,
					MHD_OPTION_CONNECTION_TIMEOUT, 10, MHD_OPTION_END);
		if (!s->d) {
			snprintf(err, errlen, "[signals] listen %s: cannot serve there (in use?)", c->listen);
			ret = -EADDRINUSE;
			goto out;
		}
	}
	if (c->socket[0])
		ret = sock_open(s, err, errlen);
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		signals_stop(s);
		return ret;
	}
	*sp = s;
	return 0;
}

void signals_stop(struct signals *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	if (s->th_started) {
		__u64 one = 1;

		if (write(s->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(s->th, NULL);
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->sock >= 0)
		close(s->sock);
	if (s->sock_path[0])
		unlink(s->sock_path);
	pthread_mutex_destroy(&s->lock);
	free(s->q);
	free(s);
}
