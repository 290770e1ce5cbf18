/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/config.h - the `xdpfence run` configuration file (INI, parsed by libinih).
 *
 *   [daemon]           tick, state_file, events, metrics, memory_limit
 *   [interface NAME]   mode = native | skb
 *   [feed NAME]        source, format, refresh, action, ttl, lenient, min_len_v4/v6,
 *                      throttle_rate, throttle_burst, timeout, max_size
 *   [rule NAME]        metric, rate, count, window, min_hosts, max_hosts, action, ttl,
 *                      escalate, max_ttl, jitter, throttle_rate, throttle_burst
 *                      scope = local | fleet
 *   [aggregate]        v4_children = N within /P, v6_children = N within /P
 *   [taxii]            listen, token_file, tls_cert, tls_key, identity, tlp,
 *                      history_file, history_max, history_keep
 *   [crowdsec]         lapi_url, api_key_file, origins, scopes, poll, feed,
 *                      machine_credentials, push, ca_file
 *   [signals]          listen, token_file, socket, socket_group, client_rate,
 *                      client_burst, max_pending, max_signals, max_body
 *   [fleet]            servers, bucket, replicas, node, share, count_floor,
 *                      tls_ca, tls_cert, tls_key, creds
 *
 * Owns reading and validating the file; a bad file is reported as
 * FILE:LINE: [section] key: what, one line per error at the line it is on
 * (err holds them, newline-separated), and nothing of it is used. No line
 * limit bites on comments; a key and value longer than inih's line limit
 * is an error, never split. A section may appear once.
 */
#ifndef XDPFENCE_CONFIG_H
#define XDPFENCE_CONFIG_H

#include <stdbool.h>
#include <linux/types.h>

#include "feeds/parse.h"

#define CONFIG_MAX_IFACES	16
#define CONFIG_MAX_FEEDS	32
#define CONFIG_MAX_RULES	16
#define CONFIG_MAX_SERVERS	8

enum config_metric {
	CONFIG_NEW_CONNS, CONFIG_PACKETS, CONFIG_BYTES,		/* take a rate */
	CONFIG_HOSTS, CONFIG_SIGNALS, CONFIG_ACCOUNTS,		/* take a count */
};

struct config_iface {
	char name[32];
	unsigned line;			/* of its [interface NAME] header */
	bool skb;			/* mode = skb */
};

struct config_feed {
	char name[32];
	unsigned line;			/* of its [feed NAME] header */
	char source[192];
	enum feed_format format;
	__u64 refresh_s;		/* 0 = load once */
	__u8 action;			/* enum fence_action */
	__u64 ttl_s;
	bool lenient;
	__u8 min_len_v4, min_len_v6;
	__u32 throttle_rate, throttle_burst;	/* action = throttle */
	unsigned timeout_s;		/* a download's time cap; 0 = the default */
	__u64 max_bytes;		/* size cap; 0 = the default */
	char token_file[256];		/* taxii+ sources: "NAME TOKEN" or a bare token */
	char ca_file[256];		/* taxii+https: trust this CA bundle */
};

struct config_rule {
	char name[32];
	unsigned line;			/* of its [rule NAME] header */
	enum config_metric metric;
	double rate;			/* per second; 0 for the count metrics */
	__u32 count;			/* hosts, signals, accounts; else 0 */
	__u32 min_hosts, max_hosts;	/* 0 = no condition */
	__u32 window_s;
	__u8 action;			/* enum fence_action: ban = drop */
	__u32 throttle_rate, throttle_burst;
	__u64 ttl_s, max_ttl_s;
	double escalate;		/* TTL multiplier per repeat offence */
	double jitter;			/* fraction, 0.1 = +-10% */
	bool fleet;			/* scope = fleet: the sum over the gateways */
};

/* [fleet]: bans, promotions and per-tick counts shared with the other
 * gateways over NATS JetStream (engine/fleet.h). */
struct config_fleet {
	bool on;			/* the section is there */
	unsigned line;			/* of its header */
	char servers[CONFIG_MAX_SERVERS][128];	/* nats://HOST:PORT or tls://HOST:PORT */
	unsigned n_servers;
	char bucket[64];		/* the KV bucket, created if missing */
	unsigned replicas;		/* of a bucket it creates: 1..5 */
	char node[32];			/* this gateway's name: [A-Za-z0-9_.-] */
	__u8 share;			/* FENCE_OWN_PROMOTED and/or FENCE_OWN_MANUAL */
	double count_floor;		/* counts published for prefixes at or above
					 * this many new connections or packets a second */
	char tls_ca[256], tls_cert[256], tls_key[256], creds[256];	/* "" = none */
};

/* [taxii]: the read-only TAXII 2.1 server of our promotions and bans. */
struct config_taxii {
	unsigned line;			/* of its header; 0 = no section */
	char listen[64];		/* "127.0.0.1:9470", "" = off */
	char token_file[256];		/* lines "NAME TOKEN" */
	char tls_cert[256], tls_key[256];	/* PEM; both or neither */
	char identity[128];		/* the producer's name; "" = xdpfence@HOST */
	int tlp;			/* enum stix_tlp (feeds/stix_out.h), default amber */
	char history_file[256];		/* "" = beside state_file (taxii-history.json) */
	__u32 history_max;		/* objects kept, ended ones dropped first */
	__u64 history_keep_s;		/* how long an ended object stays visible */
};

/* [crowdsec]: a CrowdSec local API, as a bouncer and as a watcher. */
struct config_crowdsec {
	unsigned line;			/* of its header; 0 = no section */
	char lapi_url[192];		/* "http://127.0.0.1:8080" */
	char api_key_file[256];		/* bouncer key (`cscli bouncers add`); "" = no bouncer */
	char origins[128];		/* "cscli,crowdsec"; "" = every origin but ours */
	bool scope_ip, scope_range;
	__u32 poll_ms;
	char feed[32];			/* the feed that owns the decisions' entries */
	char machine_credentials[256];	/* `cscli machines add -f` output; "" = no push */
	bool push;			/* push our promotions as alerts */
	char ca_file[256];
};

/* [signals]: reports of abuse from the API tier behind the gateway. */
struct config_signals {
	unsigned line;			/* of its header; 0 = no section */
	char listen[64];		/* HTTP "127.0.0.1:9472", "" = off */
	char token_file[256];		/* "TOKEN" or lines "NAME TOKEN" */
	char socket[108];		/* unix datagram socket path, "" = off */
	char socket_group[32];		/* may send to it besides root; "" = root only */
	double client_rate;		/* reports/s a client may send (sustained) */
	__u32 client_burst;		/* and at once */
	__u32 max_pending;		/* reports waiting for the next tick */
	__u32 max_signals;		/* reports held for the rules' windows */
	__u32 max_body;			/* bytes of one request or datagram */
};

struct config {
	char path[256];
	__u64 tick_ms;
	char state_file[256];
	char events[256];		/* file path, or "stderr" */
	char metrics[64];		/* "127.0.0.1:9469", "" = off */
	__u64 memory_limit;		/* bytes the tables may grow to; 0 = none */
	bool memory_limit_set;		/* memory_limit given: the daemon sets it at start */
	struct config_iface ifaces[CONFIG_MAX_IFACES];
	unsigned n_ifaces;
	struct config_feed feeds[CONFIG_MAX_FEEDS];
	unsigned n_feeds;
	struct config_rule rules[CONFIG_MAX_RULES];
	unsigned n_rules;
	__u8 v4_children, v4_parent_len;	/* 0 children = no aggregation */
	__u8 v6_children, v6_parent_len;
	struct config_taxii taxii;
	struct config_crowdsec crowdsec;
	struct config_signals signals;
	struct config_fleet fleet;
};

/* Returns 0, or -EINVAL with every error as "FILE:LINE: [section] key:
 * what", one a line, in err; -errno when the file cannot be read. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);

#endif
