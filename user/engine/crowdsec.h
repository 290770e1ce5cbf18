/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/crowdsec.h - xdpfence beside a CrowdSec local API (LAPI).
 *
 * As a bouncer: a thread follows the LAPI's decisions stream (everything
 * at start, then what changed since the last pull; LAPI keeps that mark
 * per API key, so each gateway needs its own key), keeps the live ban
 * decisions of the Ip and Range scopes, and hands the set to the main loop,
 * which loads it as the feed `[crowdsec] feed` (a diff, like any feed;
 * each entry lives as long as its decision). Decisions whose origin is
 * xdpfence are our own: never imported back.
 *
 * As a watcher: the same thread logs in with machine credentials and
 * pushes our promotions as alerts carrying a ban decision (origin
 * xdpfence, the promotion's remaining time), again when a promotion is
 * renewed, so CrowdSec and its other bouncers act on them.
 *
 * Owns talking to the LAPI and the state of the decisions; the entries
 * are changed only by the main loop, through feed_load.
 */
#ifndef XDPFENCE_CROWDSEC_H
#define XDPFENCE_CROWDSEC_H

#include <stdint.h>

#include "lib/cidr.h"

/* "29m59.39s", "4h", "-30ms" (Go's time.Duration text) -> seconds; 0 or
 * -EINVAL. Exposed for tests. */
int crowdsec_duration(const char *s, double *seconds);

#endif
