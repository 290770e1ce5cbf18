// SPDX-License-Identifier: GPL-2.0
/* user/engine/serve.c - commands of the one-shot CLI run in the daemon's
 * process (control.h): accept, check, run under the pin dir's lock, log. */
#include <arpa/inet.h>
#include <errno.h>
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
#include "feeds/feed.h"

/* A command of the one-shot CLI, run here on its behalf (control.h): `feed
 * load`, whose cost is the fresh process, and `signal add`, which only the
 * daemon can count. The file
 * is read and parsed before the lock: a client gone by then (interrupted)
 * cancels it, as it would have cancelled its own load. */
static int serve(void *ctx, const char *command, int argc, char **argv, int src_fd, int conn)
{
	struct daemon *d = ctx;
	struct feed_load_opts o;
	struct feed_prepared p;
	int ret;

	if (!strcmp(command, "signal add"))
		return engine_signal_serve(d, src_fd);
	if (strcmp(command, "feed load") || engine_pins(d) != PINS_OURS)
		return -1;
	ret = feed_load_args(argc, argv, &o, NULL);
	if (ret >= 0)
		return ret;
	snprintf(d->served, sizeof(d->served), "%s", o.name);
	o.from_fd = true;
	o.source_fd = src_fd;
	feed_prepare(&o, NULL, &p);
	o.prepared = &p;
	if (control_gone(conn)) {
		feed_prepared_free(&p);
		return -1;
	}
	ret = engine_lock_fresh(d);
	if (ret == -EINTR || (!ret && control_gone(conn))) {
		/* stopping while it waited, or the client gave up waiting:
		 * nothing done (the client, if still there, loads it itself) */
		if (!ret)
			engine_unlock(d);
		feed_prepared_free(&p);
		return -1;
	}
	if (ret) {
		pr_err("feed %s: taking the pin dir's lock: %s", o.name, strerror(-ret));
		feed_prepared_free(&p);
		return EXIT_RUNTIME;
	}
	ret = feed_load_run(&d->s, &o);
	engine_unlock(d);
	feed_prepared_free(&p);
	return ret;
}

/* Serve the clients waiting (a few at a time: ticks come first), each
 * logged as a `control` event; clients turned away are counted, and
 * logged at most every 10 s. <0: accepting fails, leave it for a tick. */
int engine_serve_clients(struct daemon *d)
{
	struct control_request r;
	json_object *o;
	int ret = 0;

	for (int k = 0; k < 8 && !got_term && d->ctl.fd >= 0; k++) {
		d->served[0] = 0;
		ret = control_serve(&d->ctl, serve, d, &r);
		if (ret)
			break;
		if (r.refused && !r.command[0]) {	/* not even heard */
			__u64 now = fence_now_ns();

			d->refused++;
			if (now - d->refused_logged_ns < 10000000000ULL)
				continue;
			d->refused_logged_ns = now;
		}
		o = event_new("control", NULL);
		json_object_object_add(o, "command", json_object_new_string(r.command));
		if (d->served[0])
			json_object_object_add(o, "feed", json_object_new_string(d->served));
		json_object_object_add(o, "pid", json_object_new_int(r.pid));
		json_object_object_add(o, "uid", json_object_new_int64(r.uid));
		json_object_object_add(o, "refused", json_object_new_boolean(r.refused));
		if (r.refused && !r.command[0])
			json_object_object_add(o, "refused_total", json_object_new_int64(d->refused));
		if (!r.refused)
			json_object_object_add(o, "exit", json_object_new_int(r.code));
		event_write(d, o);
	}
	return ret == -EAGAIN ? 0 : ret;
}
