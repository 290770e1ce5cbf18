// SPDX-License-Identifier: GPL-2.0
/* user/engine/intake.c - the daemon's side of the API tier's reports
 * (signals.h): start and stop the intake, hand what it took to the policy
 * at each tick (each report its counted prefix and an event), serve
 * `xdpfence signal add`. The policy counts them (policy/signals.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/daemon.h"
#include "engine/fleet.h"
#include "engine/signals.h"
#include "lib/log.h"

#define EVENTS_PER_TICK		200	/* signal events logged one by one; then counted */

int engine_signals_start(struct daemon *d, char *err, size_t errlen)
{
	return signals_start(&d->sig, &d->cfg.signals, err, errlen);
}

/* Nothing taken is lost: what waits goes to the policy first. */
void engine_signals_stop(struct daemon *d)
{
	if (d->sig && d->p)
		engine_signals_drain(d, fence_now_ns());
	signals_stop(d->sig);
	d->sig = NULL;
}

/* FNV-1a: accounts are counted, not kept */
static __u64 account_hash(const char *s)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h ? h : 1;
}

static void log_signal(struct daemon *d, const struct signal_in *r, const struct cidr *pfx)
{
	json_object *o = event_new("signal", pfx);
	char ip[CIDR_STR_MAX];

	cidr_str(&r->ip, ip, sizeof(ip));
	*strchr(ip, '/') = 0;
	json_object_object_add(o, "ip", json_object_new_string(ip));
	if (r->account[0])
		json_object_object_add(o, "account", json_object_new_string(r->account));
	if (r->kind[0])
		json_object_object_add(o, "kind", json_object_new_string(r->kind));
	json_object_object_add(o, "weight", json_object_new_int64(r->weight));
	json_object_object_add(o, "source", json_object_new_string(signal_source_name(r->source)));
	json_object_object_add(o, "client", json_object_new_string(r->client));
	event_write(d, o);
}

/* Another gateway's report, as the fleet brought it: its counted prefix,
 * no address nor account name (only their hash travels). */
static void log_remote(struct daemon *d, const struct fleet_signal *r)
{
	json_object *o = event_new("signal", &r->c);

	if (r->kind[0])
		json_object_object_add(o, "kind", json_object_new_string(r->kind));
	json_object_object_add(o, "weight", json_object_new_int64(r->weight));
	json_object_object_add(o, "source", json_object_new_string("fleet"));
	json_object_object_add(o, "origin", json_object_new_string(r->origin));
	event_write(d, o);
}

/* This gateway's reports to the other gateways (rules of scope fleet
 * count them there). */
_Static_assert(FLEET_KIND_MAX >= SIGNAL_KIND_MAX, "a kind goes whole to the fleet");
static void fleet_share(struct daemon *d, const struct signal_in *v, const struct policy_signal *ps,
			size_t n)
{
	struct fleet_signal *out = calloc(n, sizeof(*out));

	if (!out) {
		pr_err("signals: out of memory: %zu reports not shared with the fleet", n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].c = ps[i].prefix;
		out[i].account = ps[i].account;
		out[i].weight = ps[i].weight;
		snprintf(out[i].kind, sizeof(out[i].kind), "%s", v[i].kind);
	}
	fleet_signals_send(d->fleet, out, n);
	free(out);
}

void engine_signals_drain(struct daemon *d, __u64 now)
{
	struct signal_refused ref[16];
	struct fleet_signal *fl = NULL;
	struct policy_signal *ps;
	struct signal_in *v;
	size_t n, n_ref, n_fl = 0;
	int ret;

	if (!d->sig)
		return;
	{
		struct signals_stats st;

		_Static_assert(sizeof(st.received) == sizeof(d->snap.signals_received) &&
			       sizeof(st.refused) == sizeof(d->snap.signals_refused), "metrics");
		signals_get_stats(d->sig, &st);
		memcpy(d->snap.signals_received, st.received, sizeof(st.received));
		memcpy(d->snap.signals_refused, st.refused, sizeof(st.refused));
	}
	signals_take(d->sig, &v, &n, ref, sizeof(ref) / sizeof(ref[0]), &n_ref);
	for (size_t i = 0; i < n_ref; i++) {
		json_object *o = event_new("signal_refused", NULL);

		json_object_object_add(o, "source", json_object_new_string(signal_source_name(ref[i].source)));
		json_object_object_add(o, "client", json_object_new_string(ref[i].client));
		json_object_object_add(o, "refusal", json_object_new_string(signal_refusal_name(ref[i].why)));
		json_object_object_add(o, "why", json_object_new_string(ref[i].reason));
		event_write(d, o);
	}
	if (d->fleet)
		n_fl = fleet_signals_take(d->fleet, &fl);
	if (!n && !n_fl)
		return;
	ps = calloc(n + n_fl, sizeof(*ps));
	if (!ps) {
		pr_err("signals: out of memory: %zu reports not counted", n + n_fl);
		free(v);
		free(fl);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct cidr *c = &ps[i].prefix;

		*c = v[i].ip;
		c->len = c->family == AF_INET ? d->meta.v4_agg_len : d->meta.v6_agg_len;
		cidr_mask(c);
		ps[i].account = v[i].account[0] ? account_hash(v[i].account) : 0;
		ps[i].weight = v[i].weight;
		ps[i].kind = v[i].kind;
		if (i < EVENTS_PER_TICK)
			log_signal(d, &v[i], c);
	}
	if (n && d->fleet)
		fleet_share(d, v, ps, n);
	for (size_t i = 0; i < n_fl; i++) {
		ps[n + i] = (struct policy_signal){
			.prefix = fl[i].c, .account = fl[i].account, .weight = fl[i].weight,
			.kind = fl[i].kind, .remote = true,
		};
		if (n + i < EVENTS_PER_TICK)
			log_remote(d, &fl[i]);
	}
	if (n + n_fl > EVENTS_PER_TICK) {
		json_object *o = event_new("signal", NULL);

		json_object_object_add(o, "more", json_object_new_int64((int64_t)(n + n_fl - EVENTS_PER_TICK)));
		json_object_object_add(o, "why", json_object_new_string(
			"more reports this tick than are logged one by one"));
		event_write(d, o);
	}
	ret = policy_signals(d->p, now, ps, n + n_fl);
	if (ret)
		pr_err("signals: %zu reports: %s", n + n_fl, strerror(-ret));
	free(ps);
	free(v);
	free(fl);
}

/* `xdpfence signal add`: the client's reports are in src_fd, as JSON. */
int engine_signal_serve(struct daemon *d, int src_fd)
{
	size_t max = d->cfg.signals.max_body ? d->cfg.signals.max_body : 1 << 20;
	char *buf = malloc(max + 1), why[256];
	struct signal_in *v = NULL;
	ssize_t len;
	size_t n;
	int ret;

	if (!buf || !d->sig)
		return -1;
	len = pread(src_fd, buf, max + 1, 0);
	if (len < 0 || (size_t)len > max) {
		fprintf(stderr, "signal add: %s (max_body %zu bytes)\n",
			len < 0 ? strerror(errno) : "too large", max);
		free(buf);
		return EXIT_USAGE;
	}
	ret = signals_parse(buf, (size_t)len, d->cfg.signals.max_pending, &v, &n, why, sizeof(why));
	free(buf);
	if (ret) {
		fprintf(stderr, "signal add: %s: nothing recorded\n", why);
		return EXIT_USAGE;
	}
	ret = signals_offer(d->sig, v, n, SIGNAL_CLI, "cli", why, sizeof(why));
	free(v);
	if (ret) {
		fprintf(stderr, "signal add: refused: %s: nothing recorded\n", why);
		return EXIT_RUNTIME;
	}
	printf("signal: %zu report%s taken by xdpfence run (pid %d); counted at its next tick\n", n,
	       n == 1 ? "" : "s", (int)getpid());
	return EXIT_OK;
}
