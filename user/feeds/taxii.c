// SPDX-License-Identifier: GPL-2.0
/* user/feeds/taxii.c - see taxii.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "feeds/http.h"
#include "feeds/stix_out.h"
#include "feeds/taxii.h"

#define PAGE_LIMIT	1000
#define PAGES_MAX	100000

bool taxii_is_source(const char *s)
{
	return !strncasecmp(s, "taxii+http://", 13) || !strncasecmp(s, "taxii+https://", 14);
}

/* The token of a token file: the last word of its first non-comment line. */
static int read_token(const char *path, char *out, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (!f) {
		int e = errno;

		snprintf(err, errlen, "--token-file %s: %s", path, strerror(e));
		return -e;
	}
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		char a[256], b[256];
		int k = sscanf(line, "%255s %255s", a, b);

		if (k <= 0 || a[0] == '#')
			continue;
		snprintf(out, len, "%s", k == 2 ? b : a);
		break;
	}
	fclose(f);
	if (!out[0]) {
		snprintf(err, errlen, "%s: no token in it (want \"TOKEN\" or \"NAME TOKEN\")", path);
		return -EINVAL;
	}
	return 0;
}

static void cache_path(const struct taxii_poll_opts *o, char *buf, size_t len)
{
	const char *dir = o->cache_dir ? o->cache_dir : TAXII_CACHE_DIR_DEFAULT;
	uint8_t u[16];
	char s[37];
	struct stat st;

	buf[0] = 0;
	if (!*dir || stat(dir, &st) || !S_ISDIR(st.st_mode))
		return;
	stix_uuid5((const uint8_t *)"xdpfence-taxii-c", o->source, strlen(o->source), u);
	stix_uuid_str(u, s);
	snprintf(buf, len, "%s/taxii-%s.json", dir, s);
}

/* {"source", "added_last", "objects": {id: newest version}, "identities": {id: name}} */
static json_object *cache_load(const char *path, const char *source)
{
	json_object *c = path[0] ? json_object_from_file(path) : NULL, *x;

	if (c && (!json_object_object_get_ex(c, "source", &x) ||
		  strcmp(json_object_get_string(x), source) ||
		  !json_object_object_get_ex(c, "objects", &x) || !json_object_is_type(x, json_type_object))) {
		json_object_put(c);
		c = NULL;
	}
	if (!c) {
		c = json_object_new_object();
		json_object_object_add(c, "source", json_object_new_string(source));
		json_object_object_add(c, "added_last", json_object_new_string(""));
		json_object_object_add(c, "objects", json_object_new_object());
		json_object_object_add(c, "identities", json_object_new_object());
	}
	return c;
}

static int cache_save(const char *path, json_object *c)
{
	char tmp[600];
	int ret = 0;

	if (!path[0])
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if (json_object_to_file_ext(tmp, c, JSON_C_TO_STRING_PLAIN) || rename(tmp, path)) {
		ret = -errno;
		unlink(tmp);
	}
	return ret;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
}

/* One object of the peer into the cache: the newest version wins. */
static void cache_merge(json_object *c, json_object *o)
{
	json_object *objs, *ids, *cur;
	const char *id = jstr(o, "id"), *type = jstr(o, "type"), *mod, *cmod;

	if (!id || !type)
		return;
	json_object_object_get_ex(c, "objects", &objs);
	json_object_object_get_ex(c, "identities", &ids);
	if (!strcmp(type, "identity")) {
		const char *name = jstr(o, "name");

		if (name)
			json_object_object_add(ids, id, json_object_new_string(name));
		return;
	}
	if (strcmp(type, "indicator"))
		return;
	mod = jstr(o, "modified");
	if (json_object_object_get_ex(objs, id, &cur) && (cmod = jstr(cur, "modified")) && mod &&
	    strcmp(cmod, mod) >= 0)
		return;	/* we have this version or a newer one (RFC 3339 UTC sorts as text) */
	json_object_object_add(objs, id, json_object_get(o));
}

/* Revoked and expired indicators leave the cache; the rest become the
 * bundle, and the identity that made most of them the reason. */
static int render(json_object *c, int64_t now_us, struct fetch_result *r, char *reason, size_t rlen)
{
	json_object *objs, *ids, *arr = json_object_new_array(), *b, *keep = json_object_new_object();
	json_object_object_get_ex(c, "objects", &objs);
	json_object_object_get_ex(c, "identities", &ids);
	const char *s;

	reason[0] = 0;
	json_object_object_foreach(objs, id, o) {
		json_object *rv, *name;
		const char *vu = jstr(o, "valid_until"), *by = jstr(o, "created_by_ref");
		int64_t until;

		if (json_object_object_get_ex(o, "revoked", &rv) && json_object_get_boolean(rv))
			continue;
		if (vu && !stix_time_parse_us(vu, &until) && until <= now_us)
			continue;
		json_object_object_add(keep, id, json_object_get(o));
		json_object_array_add(arr, json_object_get(o));
		if (!reason[0] && by && json_object_object_get_ex(ids, by, &name))
			snprintf(reason, rlen, "%s", json_object_get_string(name));
	}
	json_object_object_add(c, "objects", keep);
	b = json_object_new_object();
	json_object_object_add(b, "type", json_object_new_string("bundle"));
	json_object_object_add(b, "id", json_object_new_string(
		"bundle--00000000-0000-4000-8000-000000000000"));
	json_object_object_add(b, "objects", arr);
	s = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
	memset(r, 0, sizeof(*r));
	r->len = strlen(s);
	r->data = malloc(r->len + 1);
	if (r->data)
		memcpy(r->data, s, r->len + 1);
	r->cap = r->max = r->len + 1;
	json_object_put(b);
	return r->data ? 0 : -ENOMEM;
}

int taxii_poll(const struct taxii_poll_opts *o, struct fetch_result *r, char *reason, size_t rlen,
	       char *err, size_t errlen)
{
	char base[512], url[1024], path[600], token[300] = "", auth[340], after[64];
	const char *src = o->source + 6;	/* past "taxii+" */
	size_t total = 0, max = o->max_bytes ? o->max_bytes : FETCH_MAX_BYTES_DEFAULT;
	json_object *c;
	struct timespec ts;
	char next[64] = "";
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (strlen(src) + 2 >= sizeof(base)) {
		snprintf(err, errlen, "source too long");
		return -EINVAL;
	}
	snprintf(base, sizeof(base), "%s%s", src, src[strlen(src) - 1] == '/' ? "" : "/");
	if (o->token_file && *o->token_file) {
		ret = read_token(o->token_file, token, sizeof(token), err, errlen);
		if (ret)
			return ret;
	}
	cache_path(o, path, sizeof(path));
	c = cache_load(path, o->source);
	snprintf(after, sizeof(after), "%s", o->full ? "" : jstr(c, "added_last"));
	if (o->full) {
		json_object_object_add(c, "objects", json_object_new_object());
		json_object_object_add(c, "identities", json_object_new_object());
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	for (int page = 0; page < PAGES_MAX; page++) {
		struct http_req req = { .url = url, .ca_file = o->ca_file, .cancel = o->cancel,
					.timeout_s = o->timeout_s ? o->timeout_s : 60,
					.max_bytes = max - total,
					.keep = { "X-TAXII-Date-Added-Last" } };
		struct http_resp resp;
		json_object *env, *objs, *more;

		snprintf(url, sizeof(url), "%sobjects/?limit=%d%s%s%s%s", base, PAGE_LIMIT,
			 after[0] ? "&added_after=" : "", after, next[0] ? "&next=" : "", next);
		req.headers[0] = "Accept: application/taxii+json;version=2.1";
		req.headers[1] = token[0] ? auth : NULL;
		ret = http_request(&req, &resp, err, errlen);
		if (ret) {
			fetch_result_free(&resp.body);
			break;
		}
		total += resp.body.len;
		if (resp.body.status != 200) {
			snprintf(err, errlen, "HTTP status %ld%s", resp.body.status,
				 resp.body.status == 401 || resp.body.status == 403 ?
				 " (credentials refused: --token-file, token_file)" :
				 resp.body.status == 404 ? " (no such collection)" : "");
			fetch_result_free(&resp.body);
			ret = -EIO;
			break;
		}
		env = json_tokener_parse(resp.body.data);
		fetch_result_free(&resp.body);
		if (!env || !json_object_is_type(env, json_type_object)) {
			snprintf(err, errlen, "not a TAXII envelope (JSON object)");
			json_object_put(env);
			ret = -EINVAL;
			break;
		}
		if (json_object_object_get_ex(env, "objects", &objs) &&
		    json_object_is_type(objs, json_type_array))
			for (size_t i = 0; i < json_object_array_length(objs); i++)
				cache_merge(c, json_object_array_get_idx(objs, i));
		if (resp.kept[0][0])
			json_object_object_add(c, "added_last", json_object_new_string(resp.kept[0]));
		more = NULL;
		json_object_object_get_ex(env, "more", &more);
		if (more && json_object_get_boolean(more) && jstr(env, "next")) {
			snprintf(next, sizeof(next), "%s", jstr(env, "next"));
			json_object_put(env);
			continue;
		}
		json_object_put(env);
		break;
	}
	if (!ret) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ret = render(c, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, r, reason, rlen);
		if (!ret)
			cache_save(path, c);	/* no cache: the next poll reads whole */
	}
	json_object_put(c);
	return ret;
}
