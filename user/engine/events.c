// SPDX-License-Identifier: GPL-2.0
/* user/engine/events.c - the daemon's event log: one JSON line per decision,
 * load, command served or lifecycle step, on stderr or appended to a file.
 * Must not decide anything: it writes what it is handed. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#include "cli/cli.h"
#include "engine/daemon.h"
#include "lib/log.h"
#include "lib/util.h"

void event_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

void event_write(struct daemon *d, json_object *o)
{
	fprintf(d->events, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(d->events);
	json_object_put(o);
	d->snap.events++;
}

json_object *event_new(const char *type, const struct cidr *c)
{
	json_object *o = json_object_new_object();
	char buf[CIDR_STR_MAX], t[64];

	event_time(t, sizeof(t));
	json_object_object_add(o, "time", json_object_new_string(t));
	json_object_object_add(o, "event", json_object_new_string(type));
	if (c)
		json_object_object_add(o, "prefix", json_object_new_string(cidr_str(c, buf, sizeof(buf))));
	return o;
}

/* A number with at most two decimals, written as such ("63.67", not
 * json-c's 63.670000000000002). */
static json_object *num2(double v)
{
	char buf[32];
	size_t n;

	snprintf(buf, sizeof(buf), "%.2f", v);
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = 0;
	return json_object_new_double_s(round(v * 100) / 100, buf);
}

void event_decision(struct daemon *d, const struct policy_decision *x, __u64 now)
{
	json_object *o = event_new(policy_event_name(x->type), &x->prefix);

	if (x->rule && x->rule[0])
		json_object_object_add(o, "rule", json_object_new_string(x->rule));
	if (x->type != POLICY_EXPIRE && x->type != POLICY_UNBAN) {
		json_object_object_add(o, "metric", json_object_new_string(x->metric ? x->metric : ""));
		json_object_object_add(o, "value", num2(x->value));
		json_object_object_add(o, "threshold", num2(x->threshold));
		json_object_object_add(o, "action", json_object_new_string(action_name(x->action)));
		json_object_object_add(o, "ttl_s", json_object_new_int64(x->ttl_s));
		json_object_object_add(o, "expires_in_s", json_object_new_int64(
			x->expires_ns > now ? (x->expires_ns - now) / 1000000000ULL : 0));
	}
	if (x->hosts)
		json_object_object_add(o, "hosts", json_object_new_int64(x->hosts));
	if (x->kind && x->kind[0])
		json_object_object_add(o, "kind", json_object_new_string(x->kind));
	if (x->type == POLICY_PROMOTE || x->type == POLICY_EXTEND) {
		char why[160];

		if (x->metric && (!strcmp(x->metric, "signals") || !strcmp(x->metric, "accounts"))) {
			snprintf(why, sizeof(why), "%.0f %s reported%s%s", x->value, x->metric,
				 x->kind && x->kind[0] ? ": " : "", x->kind ? x->kind : "");
			json_object_object_add(o, "why", json_object_new_string(why));
		}
	}
	json_object_object_add(o, "offences", json_object_new_int64(x->offences));
	if (x->why && x->why[0])
		json_object_object_add(o, "why", json_object_new_string(x->why));
	if (x->n_children) {
		json_object *a = json_object_new_array();
		char buf[CIDR_STR_MAX];

		for (unsigned i = 0; i < x->n_children && i < 64; i++)
			json_object_array_add(a, json_object_new_string(cidr_str(&x->children[i], buf,
										 sizeof(buf))));
		json_object_object_add(o, "children", a);
	}
	event_write(d, o);
}

int events_open(const char *path, FILE **out, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	*out = NULL;
	if (!strcmp(path, "stderr")) {
		*out = stderr;
		return 0;
	}
	/* never through a symlink, never a FIFO or a device (which would
	 * block or mislead every write); readable by root's group at most */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "events file %s: %s%s", path, strerror(errno),
			 errno == ELOOP ? " (a symlink: give the real path)" : "");
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "events file %s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	*out = fdopen(fd, "a");
	if (!*out) {
		ret = -errno;
		snprintf(err, errlen, "events file %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return 0;
}

void engine_set_events(struct daemon *d, FILE *f)
{
	if (d->events && d->events != stderr)
		fclose(d->events);
	d->events = f;
}
