/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/signals.h - reports of abuse from the API tier behind the
 * gateway ("account acct-123 was caught distilling from 198.18.7.10").
 *
 * Three ways in, one format: HTTP (POST /v1/signals, Authorization: Bearer
 * TOKEN, on a libmicrohttpd thread), a unix datagram socket (one report or
 * a JSON array of them per datagram, root or socket_group only, on a thread
 * of its own), and `xdpfence signal add` through the control socket. A
 * report is {"ip": ADDRESS, "account": A, "kind": K, "weight": N}: ip
 * required, account 1..128 printable characters, kind 1..32 of
 * [A-Za-z0-9_.-], weight 1..1000 (default 1); nothing else.
 *
 * Intake is all or nothing per request or datagram: one bad report, a
 * client over its rate (client_rate, client_burst; a client is an address
 * for HTTP, a uid for the socket and the CLI) or a full queue
 * (max_pending) and none of it is taken. What is taken waits in a queue
 * for the main loop's next tick (signals_take), which counts it in the
 * policy. Refusals are counted and kept, few, for the event log. Owns no
 * policy state and never touches a map.
 */
#ifndef XDPFENCE_SIGNALS_H
#define XDPFENCE_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "engine/config.h"
#include "lib/cidr.h"

#define SIGNAL_ACCOUNT_MAX	128
#define SIGNAL_KIND_MAX		32
#define SIGNAL_WEIGHT_MAX	1000

enum signal_source { SIGNAL_HTTP, SIGNAL_SOCKET, SIGNAL_CLI, SIGNAL_SOURCES };

/* One report taken. */
struct signal_in {
	struct cidr ip;				/* /32 or /128 */
	char account[SIGNAL_ACCOUNT_MAX + 1];	/* "" = none given */
	char kind[SIGNAL_KIND_MAX + 1];		/* "" = none given */
	__u32 weight;
	__u8 source;				/* enum signal_source */
	char client[48];			/* "192.0.2.9", "uid 0" */
};

/* Why a request was refused; the metric's label. */
enum signal_refusal {
	SIGNAL_BAD_REQUEST,		/* 400: bad JSON, a bad report */
	SIGNAL_UNAUTHORIZED,		/* 401: no or a wrong token */
	SIGNAL_TOO_LARGE,		/* 413: over max_body */
	SIGNAL_RATE_LIMITED,		/* 429: the client is over its rate */
	SIGNAL_BUSY,			/* 503: the queue is full */
	SIGNAL_REFUSALS
};

struct signals_stats {
	__u64 received[SIGNAL_SOURCES];		/* reports taken */
	__u64 refused[SIGNAL_REFUSALS];		/* requests or datagrams */
};

/* A refusal, for the event log. */
struct signal_refused {
	__u8 source, why;			/* enum signal_source, signal_refusal */
	char client[48];
	char reason[160];
};

struct signals;

/* Parse one request's body: a report or an array of them (at most max).
 * 0 and *out (malloc'd, *n reports), or -EINVAL with why ("report 3: ip
 * \"x\": not an IPv4 or IPv6 address"); -ENOMEM. */
int signals_parse(const char *body, size_t len, size_t max, struct signal_in **out, size_t *n,
		  char *why, size_t whylen);

/* Start what c asks for (c->line 0: the queue only, for the CLI). 0, or
 * -errno with err. */
int signals_start(struct signals **sp, const struct config_signals *c, char *err, size_t errlen);
void signals_stop(struct signals *s);

/* Offer reports from client (all or none, as above). 0, or the refusal
 * (>= 0 is the enum + 1) with why. */
int signals_offer(struct signals *s, struct signal_in *v, size_t n, enum signal_source src,
		  const char *client, char *why, size_t whylen);

/* Main loop: the reports taken since the last call (*v malloc'd, or NULL
 * when none), and up to max_ref refusals kept meanwhile (*n_ref; those
 * beyond were only counted). */
void signals_take(struct signals *s, struct signal_in **v, size_t *n, struct signal_refused *ref,
		  size_t max_ref, size_t *n_ref);

void signals_get_stats(struct signals *s, struct signals_stats *st);

const char *signal_source_name(enum signal_source s);
const char *signal_refusal_name(enum signal_refusal r);

#endif
