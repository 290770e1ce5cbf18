// SPDX-License-Identifier: GPL-2.0
/* user/policy/statefile.c - the state file: policy_save and policy_load, and
 * the encoders of its fields.
 *
 * Owns the format (text, one record a line, an exact round trip) and the
 * rebasing of saved times onto the loading boot's clock. Must not read a
 * clock (the caller passes now), touch a map or do I/O beyond the FILE it
 * is handed; a load builds a new state aside and swaps it in whole, so a bad
 * file changes nothing.
 */
#include <errno.h>
#include <math.h>

#include "policy/internal.h"

#define POLICY_FILE_MAGIC	"xdpfence-policy 1"

/* Rule names may hold blanks: "%XX" for '%', blanks, controls and non-ASCII;
 * "-" is the empty name. */
static void name_encode(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (!*s || !strcmp(s, "-")) {
		snprintf(out, len, "%s", *s ? "%2D" : "-");
		return;
	}
	for (; *s && n + 4 <= len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || c == '%') {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool name_decode(const char *s, char *out, size_t len)
{
	size_t n = 0;

	if (!strcmp(s, "-")) {
		*out = '\0';
		return true;
	}
	for (; *s; s++) {
		char c = *s;

		if (c == '%') {
			int hi = hex_digit(s[1]), lo = hi < 0 ? -1 : hex_digit(s[2]);

			if (lo < 0)
				return false;
			c = (char)(hi << 4 | lo);
			s += 2;
		}
		if (!c || n + 1 >= len)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n > 0;
}

int policy_save(const struct policy *p, FILE *f)
{
	char pfx[CIDR_STR_MAX], name[3 * 32 + 1];
	size_t n = 0;

	fprintf(f, "%s\n", POLICY_FILE_MAGIC);
	fprintf(f, "# clock_ns rng; rec prefix expires_ns decay_ns offences ttl_s action throttle_rate "
		"throttle_burst metric value threshold rule (expires_ns 0 = history only)\n");
	fprintf(f, "clock %llu rng %016llx\n", (unsigned long long)p->clock_ns,
		(unsigned long long)p->rng);
	for (__u32 i = 1; i < p->n_recs; i++) {
		const struct policy_rec *r = &p->recs[i];

		if (!r->used || (!r->expires_ns && !r->offences))
			continue;
		name_encode(name_of(p, r->rule), name, sizeof(name));
		fprintf(f, "rec %s %llu %llu %u %llu %u %u %u %u %a %a %s\n",
			cidr_str(&r->pfx, pfx, sizeof(pfx)), (unsigned long long)r->expires_ns,
			(unsigned long long)r->decay_ns, r->offences, (unsigned long long)r->ttl_s,
			r->action, r->throttle_rate, r->throttle_burst, r->metric, r->value,
			r->threshold, name);
		n++;
	}
	fprintf(f, "end %zu\n", n);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

static bool parse_u64(const char *s, __u64 *out, __u64 max)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && isfinite(*out);
}

/* "rec ..." into a fresh record of q. */
static int load_rec(struct policy *q, char *line)
{
	char *tok[13], *save = NULL, name[32];
	__u64 v[8];
	struct policy_entry *e;
	struct policy_rec *r;
	struct cidr c;
	unsigned n = 0;
	__u16 id;
	__u32 i;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (n == 13)
			return -EINVAL;
		tok[n++] = t;
	}
	if (n != 13 || cidr_parse(tok[1], &c, 0, NULL, 0) ||
	    !parse_u64(tok[2], &v[0], UINT64_MAX) || !parse_u64(tok[3], &v[1], UINT64_MAX) ||
	    !parse_u64(tok[4], &v[2], UINT32_MAX) || !parse_u64(tok[5], &v[3], UINT64_MAX) ||
	    !parse_u64(tok[6], &v[4], FENCE_ACT_MAX - 1) || !parse_u64(tok[7], &v[5], UINT32_MAX) ||
	    !parse_u64(tok[8], &v[6], UINT32_MAX) || !parse_u64(tok[9], &v[7], POLICY_METRICS - 1) ||
	    !name_decode(tok[12], name, sizeof(name)))
		return -EINVAL;
	if (policy_name_intern(q, name, &id))
		return -ENOMEM;
	e = policy_table_get(q, &c, cidr_hash(&c), 0, true);
	if (!e)
		return -ENOMEM;
	if (e->rec)
		return -EINVAL;		/* the same prefix twice */
	i = policy_rec_alloc(q, &c);
	if (!i)
		return -ENOMEM;
	e->rec = i;
	r = &q->recs[i];
	r->expires_ns = v[0];
	r->decay_ns = v[1];
	r->offences = (__u32)v[2];
	r->ttl_s = v[3];
	r->action = (__u8)v[4];
	r->throttle_rate = (__u32)v[5];
	r->throttle_burst = (__u32)v[6];
	r->metric = (__u8)v[7];
	r->rule = id;
	if (!parse_double(tok[10], &r->value) || !parse_double(tok[11], &r->threshold))
		return -EINVAL;
	return 0;
}

/* The file's lines into q's records: magic, clock and rng, records, "end"
 * and their count, nothing after. */
static int load_lines(struct policy *q, FILE *f, unsigned long long *clock, unsigned long long *rng)
{
	unsigned long long end = 0;
	size_t cap = 0, n_rec = 0;
	char *line = NULL, tail;
	int err, state = 0;	/* 0 magic, 1 clock, 2 records, 3 after end */
	ssize_t len;

	while ((len = getline(&line, &cap, f)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (line[0] == '#' || (!len && state))
			continue;
		err = -EINVAL;
		if (state == 0) {
			if (strcmp(line, POLICY_FILE_MAGIC))
				goto out;
		} else if (state == 1) {
			if (sscanf(line, "clock %llu rng %llx%c", clock, rng, &tail) != 2)
				goto out;
		} else if (state == 2 && !strncmp(line, "rec ", 4)) {
			err = load_rec(q, line);
			if (err)
				goto out;
			n_rec++;
			continue;
		} else if (state == 2) {
			if (sscanf(line, "end %llu%c", &end, &tail) != 1 || end != n_rec)
				goto out;
		} else {
			goto out;	/* nothing after "end" */
		}
		state++;
	}
	err = ferror(f) ? -EIO : -EINVAL;
	if (ferror(f) || state != 3)
		goto out;
	err = 0;
out:
	free(line);
	return err;
}

/* Rebases each time saved at clock if now is before it (another boot: keep
 * what remained of each), then puts the promotions on the heap. */
static int load_activate(struct policy *q, __u64 clock, __u64 now)
{
	for (__u32 i = 1; i < q->n_recs; i++) {
		struct policy_rec *r = &q->recs[i];
		int err;

		if (now < clock) {
			if (r->expires_ns) {
				r->expires_ns = r->expires_ns > clock ? now + (r->expires_ns - clock) : now;
				if (!r->expires_ns)
					r->expires_ns = 1;	/* 0 means "not promoted" */
			}
			r->decay_ns = r->decay_ns > clock ? now + (r->decay_ns - clock) : now;
		}
		if (r->expires_ns) {
			q->n_active++;
			err = policy_heap_push(q, i);
			if (err)
				return err;
		}
	}
	return 0;
}

int policy_load(struct policy *p, FILE *f, __u64 now)
{
	unsigned long long clock = 0, rng = 0;
	struct policy *q, tmp;
	int err;

	err = policy_new(&q, &p->cfg, 0);
	if (err)
		return err;
	err = load_lines(q, f, &clock, &rng);
	if (err)
		goto out;
	err = load_activate(q, clock, now);
	if (err)
		goto out;
	q->rng = rng;
	q->clock_ns = now;
	q->st = p->st;
	err = policy_relink(q);
	if (err)
		goto out;
	tmp = *p;
	*p = *q;
	*q = tmp;
out:
	policy_free(q);
	return err;
}
