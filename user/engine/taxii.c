// SPDX-License-Identifier: GPL-2.0
/* user/engine/taxii.c - see taxii.h.
 *
 * The store: per collection, an array of objects, each with its versions
 * (oldest first, at most VERSIONS_MAX) as serialised STIX text and the
 * time each was added. Every version gets its own date_added, strictly
 * increasing over the whole store, so `next` and added_after are exact:
 * a page is everything added after the last one handed out.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <microhttpd.h>

#include "engine/http.h"
#include "engine/taxii.h"
#include "feeds/stix_out.h"
#include "lib/log.h"

#define VERSIONS_MAX	16
#define LIMIT_DEFAULT	100
#define LIMIT_MAX	1000
#define MEDIA_TAXII	"application/taxii+json;version=2.1"
#define MEDIA_STIX	"application/stix+json;version=2.1"
#define API_ROOT	"/xdpfence/"

enum { COLL_PROMOTED, COLL_MANUAL, COLL_COUNT };
static const char *const coll_titles[COLL_COUNT] = { "promoted", "manual" };
static const char *const coll_descs[COLL_COUNT] = {
	"Prefixes xdpfence's behaviour engine banned or throttled for their traffic",
	"Prefixes the operators of this gateway banned by hand",
};

struct version {
	int64_t added_us;		/* TAXII date_added */
	int64_t modified_ms;		/* STIX modified: the version */
	char *json;			/* the object, serialised */
};

struct object {
	char id[64];
	char type[24];			/* indicator, identity, marking-definition */
	struct cidr prefix;		/* indicators */
	int64_t created_ms;		/* of the first version: the same in every version */
	/* what the last version says, to see a change */
	int64_t valid_from_ms, valid_until_ms;
	int confidence;
	uint64_t desc_hash;
	bool ended;			/* expired or revoked: final until the prefix returns */
	int64_t ended_ms;
	bool seen;			/* in this update */
	struct version v[VERSIONS_MAX];
	unsigned nv;
};

struct coll {
	char id[48];			/* "<uuid5>" */
	struct object *o;
	size_t n, cap;
	json_object *index;		/* id -> position in o */
};

struct taxii {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	struct stix_producer prod;
	struct coll c[COLL_COUNT];
	int64_t last_added_us;
	struct http_tokens tokens;
	char *tls_cert, *tls_key;	/* PEM, kept for libmicrohttpd's life */
	char history[512];		/* file, or "" */
	uint32_t max_objects;
	uint64_t keep_ms;
	bool dirty;
};

/* --- the store ------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int64_t next_added(struct taxii *t, int64_t now_ms)
{
	int64_t us = now_ms * 1000;

	if (us <= t->last_added_us)
		us = t->last_added_us + 1;
	t->last_added_us = us;
	return us;
}

static struct object *coll_find(struct coll *c, const char *id)
{
	json_object *pos;

	if (!json_object_object_get_ex(c->index, id, &pos))
		return NULL;
	return &c->o[json_object_get_int64(pos)];
}

static struct object *coll_add(struct coll *c, const char *id, const char *type)
{
	struct object *o;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;

		o = realloc(c->o, cap * sizeof(*o));
		if (!o)
			return NULL;
		c->o = o;
		c->cap = cap;
	}
	o = &c->o[c->n];
	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", id);
	snprintf(o->type, sizeof(o->type), "%s", type);
	json_object_object_add(c->index, id, json_object_new_int64(c->n));
	c->n++;
	return o;
}

static void version_push(struct object *o, int64_t added_us, int64_t modified_ms, char *json)
{
	if (o->nv == VERSIONS_MAX) {	/* bounded: the oldest goes */
		free(o->v[0].json);
		memmove(&o->v[0], &o->v[1], (VERSIONS_MAX - 1) * sizeof(o->v[0]));
		o->nv--;
	}
	o->v[o->nv++] = (struct version){ added_us, modified_ms, json };
}

static char *dup_json(json_object *j)
{
	char *s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(j);
	return s;
}

/* A new version of indicator o saying ind; modified later than the last. */
static void indicator_version(struct taxii *t, struct object *o, struct stix_ind *ind, int64_t now_ms)
{
	int64_t mod = now_ms;
	char *s;

	if (o->nv && mod <= o->v[o->nv - 1].modified_ms)
		mod = o->v[o->nv - 1].modified_ms + 1;
	ind->created_ms = o->created_ms;
	ind->modified_ms = mod;
	s = dup_json(stix_indicator(&t->prod, ind));
	if (!s)
		return;
	version_push(o, next_added(t, now_ms), mod, s);
	o->valid_from_ms = ind->valid_from_ms;
	o->valid_until_ms = ind->valid_until_ms;
	o->confidence = ind->confidence;
	o->desc_hash = hash_str(ind->description) ^ (ind->revoked ? 1 : 0);
	t->dirty = true;
}

/* The identity and the marking: in every collection, one version each. */
static void coll_seed(struct taxii *t, struct coll *c, int64_t now_ms)
{
	struct object *o;

	if (!coll_find(c, t->prod.identity_id) && (o = coll_add(c, t->prod.identity_id, "identity")))
		version_push(o, next_added(t, now_ms), 0, dup_json(stix_identity(&t->prod)));
	if (!coll_find(c, stix_tlp_marking_id(t->prod.tlp)) &&
	    (o = coll_add(c, stix_tlp_marking_id(t->prod.tlp), "marking-definition")))
		version_push(o, next_added(t, now_ms), 0, dup_json(stix_marking(t->prod.tlp)));
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Drop ended objects kept longer than keep_ms and, over the bound, those
 * that ended first (live objects are never dropped). */
static void coll_prune(struct taxii *t, struct coll *c, int64_t now_ms)
{
	int64_t cut = now_ms - (int64_t)t->keep_ms;
	size_t w = 0;

	if (c->n > t->max_objects) {
		int64_t *e = malloc(c->n * sizeof(*e));
		size_t ne = 0, over = c->n - t->max_objects;

		for (size_t i = 0; e && i < c->n; i++)
			if (c->o[i].ended)
				e[ne++] = c->o[i].ended_ms;
		if (ne) {
			qsort(e, ne, sizeof(*e), i64_cmp);
			if (e[(over < ne ? over : ne) - 1] + 1 > cut)
				cut = e[(over < ne ? over : ne) - 1] + 1;
		}
		free(e);
	}
	for (size_t i = 0; i < c->n; i++) {
		struct object *o = &c->o[i];

		if (o->ended && o->ended_ms < cut) {
			for (unsigned k = 0; k < o->nv; k++)
				free(o->v[k].json);
			t->dirty = true;
			continue;
		}
		c->o[w++] = *o;
	}
	if (w == c->n)
		return;
	c->n = w;
	json_object_put(c->index);
	c->index = json_object_new_object();
	for (size_t i = 0; i < c->n; i++)
		json_object_object_add(c->index, c->o[i].id, json_object_new_int64(i));
}

static void coll_update(struct taxii *t, struct coll *c, int which, const struct export_entry *v,
			size_t n, int64_t now_ms)
{
	uint8_t bit = which == COLL_PROMOTED ? FENCE_OWN_PROMOTED : FENCE_OWN_MANUAL;
	char id[64], desc[256];

	for (size_t i = 0; i < c->n; i++)
		c->o[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct export_entry e = v[i];
		struct stix_ind ind;
		struct object *o;

		if (!(e.owners & bit))
			continue;
		e.owners = bit;	/* the collection says why */
		stix_indicator_id(&t->prod, &e.prefix, id, sizeof(id));
		o = coll_find(c, id);
		if (!o) {
			if (c->n >= t->max_objects)
				coll_prune(t, c, now_ms);
			if (c->n >= t->max_objects + (size_t)t->max_objects / 8)
				continue;	/* full of live objects: the bound holds */
			o = coll_add(c, id, "indicator");
			if (!o)
				continue;
			o->prefix = e.prefix;
			o->created_ms = e.created_unix * 1000;
		}
		o->seen = true;
		export_indicator(&e, now_ms, desc, sizeof(desc), &ind);
		/* a change worth a version: validity (to the second), confidence,
		 * description; or the prefix is back after it ended */
		if (!o->nv || o->ended || o->valid_from_ms / 1000 != ind.valid_from_ms / 1000 ||
		    llabs(o->valid_until_ms - ind.valid_until_ms) >= 2000 ||
		    (!o->valid_until_ms) != (!ind.valid_until_ms) || o->confidence != ind.confidence ||
		    o->desc_hash != hash_str(desc)) {
			o->ended = false;
			indicator_version(t, o, &ind, now_ms);
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		struct object *o = &c->o[i];
		struct stix_ind ind;

		if (o->seen || o->ended || strcmp(o->type, "indicator"))
			continue;
		o->ended = true;
		o->ended_ms = now_ms;
		t->dirty = true;
		if (o->valid_until_ms && o->valid_until_ms <= now_ms + 2000)
			continue;	/* expired: its valid_until says so already */
		/* removed before its time: a last version, revoked */
		memset(&ind, 0, sizeof(ind));
		ind.prefix = o->prefix;
		ind.valid_from_ms = o->valid_from_ms;
		ind.valid_until_ms = now_ms > o->valid_from_ms ? now_ms : o->valid_from_ms + 1;
		ind.confidence = o->confidence;
		ind.description = "removed from xdpfence before its expiry";
		ind.revoked = true;
		indicator_version(t, o, &ind, now_ms);
	}
	coll_prune(t, c, now_ms);
}

void taxii_update(struct taxii *t, const struct export_entry *v, size_t n, int64_t now_ms)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (int k = 0; k < COLL_COUNT; k++)
		coll_update(t, &t->c[k], k, v, n, now_ms);
	pthread_mutex_unlock(&t->lock);
}

/* --- the history file ------------------------------------------------------- */

static json_object *store_json(struct taxii *t)
{
	json_object *root = json_object_new_object(), *cs = json_object_new_array();

	json_object_object_add(root, "xdpfence_taxii_history", json_object_new_int(1));
	json_object_object_add(root, "identity", json_object_new_string(t->prod.name));
	json_object_object_add(root, "last_added_us", json_object_new_int64(t->last_added_us));
	for (int k = 0; k < COLL_COUNT; k++) {
		json_object *jc = json_object_new_object(), *objs = json_object_new_array();

		json_object_object_add(jc, "title", json_object_new_string(coll_titles[k]));
		for (size_t i = 0; i < t->c[k].n; i++) {
			const struct object *o = &t->c[k].o[i];
			json_object *jo = json_object_new_object(), *vs = json_object_new_array();
			char pfx[CIDR_STR_MAX];

			json_object_object_add(jo, "id", json_object_new_string(o->id));
			json_object_object_add(jo, "type", json_object_new_string(o->type));
			if (!strcmp(o->type, "indicator"))
				json_object_object_add(jo, "prefix", json_object_new_string(
					cidr_str(&o->prefix, pfx, sizeof(pfx))));
			json_object_object_add(jo, "created_ms", json_object_new_int64(o->created_ms));
			json_object_object_add(jo, "valid_from_ms", json_object_new_int64(o->valid_from_ms));
			json_object_object_add(jo, "valid_until_ms", json_object_new_int64(o->valid_until_ms));
			json_object_object_add(jo, "confidence", json_object_new_int(o->confidence));
			json_object_object_add(jo, "desc_hash", json_object_new_int64((int64_t)o->desc_hash));
			json_object_object_add(jo, "ended", json_object_new_boolean(o->ended));
			json_object_object_add(jo, "ended_ms", json_object_new_int64(o->ended_ms));
			for (unsigned v = 0; v < o->nv; v++) {
				json_object *jv = json_object_new_object();

				json_object_object_add(jv, "added_us", json_object_new_int64(o->v[v].added_us));
				json_object_object_add(jv, "modified_ms",
						       json_object_new_int64(o->v[v].modified_ms));
				json_object_object_add(jv, "object", json_object_new_string(o->v[v].json));
				json_object_array_add(vs, jv);
			}
			json_object_object_add(jo, "versions", vs);
			json_object_array_add(objs, jo);
		}
		json_object_object_add(jc, "objects", objs);
		json_object_array_add(cs, jc);
	}
	json_object_object_add(root, "collections", cs);
	return root;
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
}

/* Read the history file; one that does not parse is set aside, not used. */
static void store_load(struct taxii *t)
{
	json_object *root, *cs;
	char aside[600];

	if (!t->history[0] || access(t->history, F_OK))
		return;
	root = json_object_from_file(t->history);
	if (!root || !json_object_object_get_ex(root, "collections", &cs) ||
	    !json_object_is_type(cs, json_type_array) || jint(root, "xdpfence_taxii_history") != 1) {
		snprintf(aside, sizeof(aside), "%s.corrupt-%lld", t->history, (long long)time(NULL));
		if (!rename(t->history, aside))
			pr_warn("TAXII history %s unreadable: kept aside as %s", t->history, aside);
		json_object_put(root);
		return;
	}
	t->last_added_us = jint(root, "last_added_us");
	for (size_t k = 0; k < json_object_array_length(cs) && k < COLL_COUNT; k++) {
		json_object *jc = json_object_array_get_idx(cs, k), *objs;
		const char *title = jstr(jc, "title");
		int which = title && !strcmp(title, "manual") ? COLL_MANUAL : COLL_PROMOTED;

		if (!json_object_object_get_ex(jc, "objects", &objs))
			continue;
		for (size_t i = 0; i < json_object_array_length(objs); i++) {
			json_object *jo = json_object_array_get_idx(objs, i), *vs;
			const char *id = jstr(jo, "id"), *type = jstr(jo, "type"), *pfx = jstr(jo, "prefix");
			struct object *o;

			if (!id || !type || coll_find(&t->c[which], id) ||
			    !json_object_object_get_ex(jo, "versions", &vs))
				continue;
			o = coll_add(&t->c[which], id, type);
			if (!o)
				break;
			if (pfx)
				cidr_parse(pfx, &o->prefix, 0, NULL, 0);
			o->created_ms = jint(jo, "created_ms");
			o->valid_from_ms = jint(jo, "valid_from_ms");
			o->valid_until_ms = jint(jo, "valid_until_ms");
			o->confidence = jint(jo, "confidence");
			o->desc_hash = (uint64_t)jint(jo, "desc_hash");
			o->ended_ms = jint(jo, "ended_ms");
			{
				json_object *e;

				o->ended = json_object_object_get_ex(jo, "ended", &e) &&
					   json_object_get_boolean(e);
			}
			for (size_t v = 0; v < json_object_array_length(vs) && o->nv < VERSIONS_MAX; v++) {
				json_object *jv = json_object_array_get_idx(vs, v);
				const char *s = jstr(jv, "object");

				if (s)
					o->v[o->nv++] = (struct version){ jint(jv, "added_us"),
									  jint(jv, "modified_ms"), strdup(s) };
				if (o->v[o->nv - 1].added_us > t->last_added_us)
					t->last_added_us = o->v[o->nv - 1].added_us;
			}
		}
	}
	json_object_put(root);
}

int taxii_save(struct taxii *t, char *err, size_t errlen)
{
	char tmp[600];
	json_object *j;
	int fd, ret = 0;
	FILE *f;

	if (!t || !t->history[0] || !t->dirty)
		return 0;
	pthread_mutex_lock(&t->lock);
	j = store_json(t);
	t->dirty = false;
	pthread_mutex_unlock(&t->lock);
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->history);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
	} else {
		if (fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), f) < 0 ||
		    fflush(f) || fsync(fileno(f)))
			ret = -errno;
		fclose(f);
		if (!ret && rename(tmp, t->history))
			ret = -errno;
		if (ret)
			unlink(tmp);
	}
	json_object_put(j);
	if (ret) {
		snprintf(err, errlen, "TAXII history %s: %s", t->history, strerror(-ret));
		t->dirty = true;
	}
	return ret;
}

/* --- HTTP --------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

/* Does Accept take TAXII 2.1? No header, any type, application/any,
 * application/taxii+json (the latest is 2.1) and ...;version=2.1 do. */
static bool accept_ok(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	char buf[512], *save = NULL, *r;

	if (!h || !*h)
		return true;
	snprintf(buf, sizeof(buf), "%s", h);
	for (r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		char m[128] = "", *q = m;

		/* squeeze blanks: "application/taxii+json; version=2.1" */
		for (const char *s = r; *s && q < m + sizeof(m) - 1; s++)
			if (!isspace((unsigned char)*s))
				*q++ = tolower((unsigned char)*s);
		*q = 0;
		if (!strncmp(m, "*/*", 3) || !strncmp(m, "application/*", 13))
			return true;
		if (!strncmp(m, "application/taxii+json", 22)) {
			const char *rest = m + 22;

			if (!*rest || !strncmp(rest, ";q=", 3))
				return true;
			if (!strncmp(rest, ";version=2.1", 12) && (!rest[12] || rest[12] == ';'))
				return true;
		}
	}
	return false;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_object *j,
				 const char *first, const char *last)
{
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), (void *)s,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	json_object_put(j);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, MEDIA_TAXII);
	if (first && *first)
		MHD_add_response_header(r, "X-TAXII-Date-Added-First", first);
	if (last && *last)
		MHD_add_response_header(r, "X-TAXII-Date-Added-Last", last);
	if (status == MHD_HTTP_UNAUTHORIZED) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"xdpfence\"");
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"xdpfence\"");
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *title,
				  const char *desc)
{
	json_object *j = json_object_new_object();
	char st[8];

	snprintf(st, sizeof(st), "%u", status);
	json_object_object_add(j, "title", json_object_new_string(title));
	if (desc)
		json_object_object_add(j, "description", json_object_new_string(desc));
	json_object_object_add(j, "http_status", json_object_new_string(st));
	return send_json(c, status, j, NULL, NULL);
}

static json_object *collection_json(const struct taxii *t, int k)
{
	json_object *o = json_object_new_object(), *m = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_string(t->c[k].id));
	json_object_object_add(o, "title", json_object_new_string(coll_titles[k]));
	json_object_object_add(o, "description", json_object_new_string(coll_descs[k]));
	json_object_object_add(o, "can_read", json_object_new_boolean(true));
	json_object_object_add(o, "can_write", json_object_new_boolean(false));
	json_object_array_add(m, json_object_new_string(MEDIA_STIX));
	json_object_object_add(o, "media_types", m);
	return o;
}

/* A version picked by a request: object and version index. */
struct pick {
	const struct object *o;
	unsigned v;
	int64_t added_us;
};

static int pick_cmp(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;

	return x->added_us < y->added_us ? -1 : x->added_us > y->added_us;
}

/* Is s in the comma-separated list (NULL: no filter)? */
static bool in_list(const char *list, const char *s)
{
	size_t n = strlen(s);

	if (!list)
		return true;
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, s, n))
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

/* The version's STIX "version" timestamp: modified, or created for an
 * object without one (a marking definition). */
static void version_stamp(const struct object *o, unsigned v, char *buf, size_t len)
{
	json_object *j = json_tokener_parse(o->v[v].json), *x;

	buf[0] = 0;
	if (j && (json_object_object_get_ex(j, "modified", &x) ||
		  json_object_object_get_ex(j, "created", &x)))
		snprintf(buf, len, "%s", json_object_get_string(x));
	json_object_put(j);
}

struct query {
	int64_t added_after_us;		/* -1: none */
	int64_t next_us;		/* -1: none */
	unsigned limit;
	const char *ids, *types, *versions;
	const char *only_id;		/* the object of the URL */
};

/* Every version the query selects, by date_added; -EINVAL for a bad
 * parameter (why says which). */
static int select_versions(const struct coll *c, const struct query *q, struct pick **out, size_t *n)
{
	size_t cap = 0;
	struct pick *v = NULL;

	*n = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct object *o = &c->o[i];
		bool all = q->versions && in_list(q->versions, "all");

		if ((q->only_id && strcmp(q->only_id, o->id)) || !in_list(q->ids, o->id) ||
		    !in_list(q->types, o->type) || !o->nv)
			continue;
		for (unsigned k = 0; k < o->nv; k++) {
			bool want;

			if (all)
				want = true;
			else if (!q->versions)
				want = k == o->nv - 1;
			else {
				char stamp[40];

				version_stamp(o, k, stamp, sizeof(stamp));
				want = (in_list(q->versions, "last") && k == o->nv - 1) ||
				       (in_list(q->versions, "first") && k == 0) || in_list(q->versions, stamp);
			}
			if (!want || o->v[k].added_us <= q->added_after_us || o->v[k].added_us <= q->next_us)
				continue;
			if (*n == cap) {
				struct pick *p = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*p));

				if (!p) {
					free(v);
					return -ENOMEM;
				}
				v = p;
			}
			v[(*n)++] = (struct pick){ o, k, o->v[k].added_us };
		}
	}
	if (*n)
		qsort(v, *n, sizeof(*v), pick_cmp);
	*out = v;
	return 0;
}

static int parse_query(struct MHD_Connection *c, struct query *q, const char **why)
{
	const char *aa = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "added_after");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *next = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "next");
	const char *sv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "match[spec_version]");
	char *end;

	q->added_after_us = q->next_us = -1;
	q->limit = LIMIT_DEFAULT;
	q->ids = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "match[id]");
	q->types = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "match[type]");
	q->versions = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "match[version]");
	if (aa && stix_time_parse_us(aa, &q->added_after_us)) {
		*why = "added_after: want a timestamp like 2026-12-05T13:38:23.123456Z";
		return -EINVAL;
	}
	if (lim) {
		unsigned long l = strtoul(lim, &end, 10);

		if (end == lim || *end || !l) {
			*why = "limit: want a positive number";
			return -EINVAL;
		}
		q->limit = l > LIMIT_MAX ? LIMIT_MAX : l;
	}
	if (next) {
		long long x = strtoll(next, &end, 10);

		if (end == next || *end || x < 0) {
			*why = "next: not a value this server handed out";
			return -EINVAL;
		}
		q->next_us = x;
	}
	if (sv && !in_list(sv, "2.1")) {
		q->types = "";	/* only 2.1 objects here: nothing matches */
	}
	return 0;
}

static enum MHD_Result serve_objects(struct taxii *t, struct MHD_Connection *c, const struct coll *cl,
				     const char *oid, int what)
{
	enum { OBJECTS, MANIFEST, VERSIONS };
	json_object *j = json_object_new_object(), *arr = json_object_new_array();
	char first[40] = "", last[40] = "", nb[32];
	struct query q = { .only_id = oid };
	const char *why = NULL;
	struct pick *v = NULL;
	size_t n = 0, shown;
	int ret;

	if (parse_query(c, &q, &why)) {
		json_object_put(j);
		json_object_put(arr);
		return send_error(c, MHD_HTTP_BAD_REQUEST, "bad query parameter", why);
	}
	if (what == VERSIONS && !q.versions)
		q.versions = "all";
	ret = select_versions(cl, &q, &v, &n);
	if (ret) {
		json_object_put(j);
		json_object_put(arr);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
	}
	if (oid && !n && !coll_find((struct coll *)cl, oid)) {
		free(v);
		json_object_put(j);
		json_object_put(arr);
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such object", oid);
	}
	shown = n < q.limit ? n : q.limit;
	for (size_t i = 0; i < shown; i++) {
		const struct object *o = v[i].o;
		char stamp[40];

		version_stamp(o, v[i].v, stamp, sizeof(stamp));
		if (what == OBJECTS) {
			json_object_array_add(arr, json_tokener_parse(o->v[v[i].v].json));
		} else if (what == VERSIONS) {
			json_object_array_add(arr, json_object_new_string(stamp));
		} else {
			json_object *m = json_object_new_object();
			char added[40];

			stix_time_us(v[i].added_us, added, sizeof(added));
			json_object_object_add(m, "id", json_object_new_string(o->id));
			json_object_object_add(m, "date_added", json_object_new_string(added));
			json_object_object_add(m, "version", json_object_new_string(stamp));
			json_object_object_add(m, "media_type", json_object_new_string(MEDIA_STIX));
			json_object_array_add(arr, m);
		}
	}
	if (shown) {
		stix_time_us(v[0].added_us, first, sizeof(first));
		stix_time_us(v[shown - 1].added_us, last, sizeof(last));
	}
	json_object_object_add(j, "more", json_object_new_boolean(shown < n));
	if (shown < n) {
		snprintf(nb, sizeof(nb), "%lld", (long long)v[shown - 1].added_us);
		json_object_object_add(j, "next", json_object_new_string(nb));
	}
	json_object_object_add(j, what == VERSIONS ? "versions" : "objects", arr);
	free(v);
	(void)t;
	return send_json(c, MHD_HTTP_OK, j, first, last);
}

/* "/a/b/c/" -> up to max segments (no empty ones) in a copy */
static int split_path(const char *url, char *buf, size_t len, char **seg, int max)
{
	int n = 0;
	char *save = NULL, *s;

	snprintf(buf, len, "%s", url);
	for (s = strtok_r(buf, "/", &save); s && n < max; s = strtok_r(NULL, "/", &save))
		seg[n++] = s;
	return s ? -1 : n;
}

static enum MHD_Result route(struct taxii *t, struct MHD_Connection *c, const char *url,
			     const char *method)
{
	char buf[512], *seg[8];
	int n = split_path(url, buf, sizeof(buf), seg, 8);
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	const struct coll *cl = NULL;

	if (n == 1 && !strcmp(seg[0], "taxii2")) {
		json_object *j = json_object_new_object(), *roots = json_object_new_array();
		const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_PROTOCOL);
		char root[300];

		if (!get)
			goto not_allowed;
		snprintf(root, sizeof(root), "%s://%s" API_ROOT, ci && ci->protocol ? "https" : "http",
			 host ? host : "localhost");
		json_object_object_add(j, "title", json_object_new_string("xdpfence"));
		json_object_object_add(j, "description", json_object_new_string(
			"Prefixes banned at this gateway, as STIX 2.1 indicators"));
		json_object_object_add(j, "default", json_object_new_string(root));
		json_object_array_add(roots, json_object_new_string(root));
		json_object_object_add(j, "api_roots", roots);
		return send_json(c, MHD_HTTP_OK, j, NULL, NULL);
	}
	if (n < 1 || strcmp(seg[0], "xdpfence"))
		return send_error(c, MHD_HTTP_NOT_FOUND, "not found", "try /taxii2/ or " API_ROOT);
	if (n == 1) {
		json_object *j = json_object_new_object(), *vs = json_object_new_array();

		if (!get)
			goto not_allowed;
		json_object_object_add(j, "title", json_object_new_string("xdpfence"));
		json_object_object_add(j, "description", json_object_new_string(t->prod.name));
		json_object_array_add(vs, json_object_new_string(MEDIA_TAXII));
		json_object_object_add(j, "versions", vs);
		json_object_object_add(j, "max_content_length", json_object_new_int(1 << 20));
		return send_json(c, MHD_HTTP_OK, j, NULL, NULL);
	}
	if (strcmp(seg[1], "collections"))
		return send_error(c, MHD_HTTP_NOT_FOUND, "not found", "try " API_ROOT "collections/");
	if (n == 2) {
		json_object *j = json_object_new_object(), *arr = json_object_new_array();

		if (!get)
			goto not_allowed;
		for (int k = 0; k < COLL_COUNT; k++)
			json_object_array_add(arr, collection_json(t, k));
		json_object_object_add(j, "collections", arr);
		return send_json(c, MHD_HTTP_OK, j, NULL, NULL);
	}
	for (int k = 0; k < COLL_COUNT; k++)
		if (!strcmp(seg[2], t->c[k].id))
			cl = &t->c[k];
	if (!cl)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such collection", seg[2]);
	if (n == 3) {
		if (!get)
			goto not_allowed;
		return send_json(c, MHD_HTTP_OK, collection_json(t, (int)(cl - t->c)), NULL, NULL);
	}
	if (!get) {
		/* objects can be neither added nor deleted: read-only collections */
		if ((n == 4 && !strcmp(seg[3], "objects") && !strcmp(method, "POST")) ||
		    (n == 5 && !strcmp(seg[3], "objects") && !strcmp(method, "DELETE")))
			return send_error(c, MHD_HTTP_FORBIDDEN, "read-only collection",
					  "can_write is false");
		goto not_allowed;
	}
	if (n == 4 && !strcmp(seg[3], "objects"))
		return serve_objects(t, c, cl, NULL, 0);
	if (n == 4 && !strcmp(seg[3], "manifest"))
		return serve_objects(t, c, cl, NULL, 1);
	if (n == 5 && !strcmp(seg[3], "objects"))
		return serve_objects(t, c, cl, seg[4], 0);
	if (n == 6 && !strcmp(seg[3], "objects") && !strcmp(seg[5], "versions"))
		return serve_objects(t, c, cl, seg[4], 2);
	return send_error(c, MHD_HTTP_NOT_FOUND, "not found", url);
not_allowed:
	return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", method);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	struct taxii *t = cls;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	if (!*state) {		/* the first call sees the headers only */
		*state = t;
		return MHD_YES;
	}
	if (*upload_len) {	/* a body we do not want: drop it */
		*upload_len = 0;
		return MHD_YES;
	}
	if (!http_authorised(&t->tokens, c, NULL))
		return send_error(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				  "send Authorization: Bearer TOKEN, or basic auth NAME:TOKEN");
	if (!accept_ok(c))
		return send_error(c, MHD_HTTP_NOT_ACCEPTABLE, "not acceptable",
				  "this server speaks " MEDIA_TAXII);
	pthread_mutex_lock(&t->lock);
	ret = route(t, c, url, method);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* --- start, stop ------------------------------------------------------------- */

const char *taxii_collection_id(const struct taxii *t, const char *title)
{
	for (int k = 0; t && k < COLL_COUNT; k++)
		if (!strcmp(coll_titles[k], title))
			return t->c[k].id;
	return NULL;
}

int taxii_start(struct taxii **tp, const struct config_taxii *cfg, const char *state_file,
		char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct taxii *t;
	char name[128], host[64] = "localhost";
	unsigned port, flags = MHD_USE_INTERNAL_POLLING_THREAD;
	struct timespec ts;
	int ret;

	*tp = NULL;
	if (http_listen_addr(cfg->listen, &ss, &port)) {
		snprintf(err, errlen, "[taxii] listen \"%s\": want ADDRESS:PORT", cfg->listen);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	ret = http_tokens_read(&t->tokens, cfg->token_file, "taxii", err, errlen);
	if (ret)
		goto fail;
	if (cfg->tls_cert[0]) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			snprintf(err, errlen, "[taxii] tls_cert: this libmicrohttpd has no TLS");
			ret = -ENOTSUP;
			goto fail;
		}
		t->tls_cert = http_read_pem(cfg->tls_cert, "taxii", "tls_cert", err, errlen);
		t->tls_key = t->tls_cert ? http_read_pem(cfg->tls_key, "taxii", "tls_key", err, errlen) : NULL;
		if (!t->tls_key) {
			ret = -EINVAL;
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(name, sizeof(name), "xdpfence@%s", host);
	stix_producer_init(&t->prod, cfg->identity[0] ? cfg->identity : name, cfg->tlp);
	for (int k = 0; k < COLL_COUNT; k++) {
		char seed[64], s[37];
		uint8_t u[16];

		snprintf(seed, sizeof(seed), "collection:%s", coll_titles[k]);
		stix_uuid5(t->prod.ns, seed, strlen(seed), u);
		stix_uuid_str(u, s);
		snprintf(t->c[k].id, sizeof(t->c[k].id), "%s", s);
		t->c[k].index = json_object_new_object();
	}
	t->max_objects = cfg->history_max ? cfg->history_max : 100000;
	t->keep_ms = (cfg->history_keep_s ? cfg->history_keep_s : 7 * 86400) * 1000;
	if (cfg->history_file[0]) {
		snprintf(t->history, sizeof(t->history), "%s", cfg->history_file);
	} else if (state_file && state_file[0]) {
		const char *slash = strrchr(state_file, '/');

		snprintf(t->history, sizeof(t->history), "%.*s%staxii-history.json",
			 slash ? (int)(slash - state_file) : 0, state_file, slash ? "/" : "");
	}
	store_load(t);
	clock_gettime(CLOCK_REALTIME, &ts);
	for (int k = 0; k < COLL_COUNT; k++)
		coll_seed(t, &t->c[k], (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	t->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, t, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, 32, MHD_OPTION_CONNECTION_TIMEOUT, 30,
				t->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, t->tls_cert,
				MHD_OPTION_HTTPS_MEM_KEY, t->tls_key, MHD_OPTION_END);
	if (!t->d) {
		snprintf(err, errlen, "[taxii] listen %s: cannot serve there (in use? a bad certificate "
			 "or key?)", cfg->listen);
		ret = -EADDRINUSE;
		goto fail;
	}
	*tp = t;
	return 0;
fail:
	taxii_stop(t);
	return ret;
}

void taxii_stop(struct taxii *t)
{
	if (!t)
		return;
	if (t->d)
		MHD_stop_daemon(t->d);
	for (int k = 0; k < COLL_COUNT; k++) {
		for (size_t i = 0; i < t->c[k].n; i++)
			for (unsigned v = 0; v < t->c[k].o[i].nv; v++)
				free(t->c[k].o[i].v[v].json);
		free(t->c[k].o);
		json_object_put(t->c[k].index);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->tls_cert);
	free(t->tls_key);
	free(t);
}
