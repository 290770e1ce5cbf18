// SPDX-License-Identifier: GPL-2.0
/* user/cli/ban.c - `xdpfence ban ...` and `xdpfence allow ...`: manual entries.
 *
 * An entry can have several owners (the operator, feeds, the behaviour
 * engine); these commands add or remove the operator's ownership and leave
 * the others' alone, so `ban del` of a prefix a feed also lists says so
 * instead of silently undoing the feed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/entries.h"
#include "engine/config.h"
#include "engine/fleet.h"
#include "lib/log.h"
#include "lib/util.h"

#define MIN_LEN_V4 8
#define MIN_LEN_V6 19
#define BAN_DEFAULT_CONFIG "/etc/xdpfence.conf"	/* as scripts/xdpfence.service runs it */

static int parse_prefix(const char *text, struct cidr *c)
{
	char err[160];

	if (cidr_parse(text, c, 0, err, sizeof(err))) {
		pr_err("bad prefix \"%s\": %s", text, err);
		return -EINVAL;
	}
	return 0;
}

/* --reason fits fence_rule_info.reason? */
static bool reason_ok(const char *reason)
{
	if (reason && strlen(reason) >= sizeof(((struct fence_rule_info *)0)->reason)) {
		pr_err("--reason: at most %zu characters",
		       sizeof(((struct fence_rule_info *)0)->reason) - 1);
		return false;
	}
	return true;
}

static int commit(struct pinned *s, const char *what)
{
	char err[256] = "";
	int ret = table_commit(s->t, NULL, err, sizeof(err));

	if (ret) {
		pr_err("%s: %s", what, err[0] ? err : strerror(-ret));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static void ban_add_usage(void)
{
	fprintf(stderr,
"usage: xdpfence ban add CIDR [--ttl DUR] [--action drop|throttle|monitor]\n"
"                             [--rate N/s] [--burst N] [--reason TEXT] [--force]\n"
"  CIDR      198.51.100.0/24, 2001:db8::/48; a bare address is a /32 or /128;\n"
"            host bits set (198.51.100.7/24) are refused\n"
"  --ttl     lifetime: 90s, 10m, 1h30m, 2d (default: until removed); the data\n"
"            path stops enforcing on time even if no controller runs\n"
"  --action  drop (default); throttle: drop new connections (TCP SYN, QUIC\n"
"            Initial) beyond --rate with --burst of slack; monitor: count as\n"
"            would-drop and pass\n"
"  --force   allow prefixes shorter than /%d (IPv4) or /%d (IPv6)\n"
"  Adding an existing entry updates it (and keeps its hit counter).\n",
		MIN_LEN_V4, MIN_LEN_V6);
}

static int ban_add(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "action", required_argument, NULL, 'a' },
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "reason", required_argument, NULL, 'R' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	struct fence_rule_info info = {};
	const struct fence_rule_info *cur;
	__u64 ttl = 0;
	__u32 rate = 10, burst = 20, allow;
	int c, action = FENCE_ACT_DROP, ret;
	const char *reason = NULL;
	bool force = false, rate_set = false;
	char buf[CIDR_STR_MAX], ttlbuf[32];
	struct pinned s;
	struct cidr pfx;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_duration(optarg, &ttl)) {
				pr_err("--ttl \"%s\": want a duration like 90s, 10m, 1h30m, 2d (at most 3650d)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'a':
			action = parse_action(optarg);
			if (action < 0) {
				pr_err("--action \"%s\": want drop, throttle or monitor", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (parse_rate(optarg, &rate)) {
				pr_err("--rate \"%s\": want N/s, N/m or N/h", optarg);
				return EXIT_USAGE;
			}
			rate_set = true;
			break;
		case 'b':
			if (parse_u32(optarg, 1, 1000000, &burst)) {
				pr_err("--burst \"%s\": want 1..1000000", optarg);
				return EXIT_USAGE;
			}
			rate_set = true;
			break;
		case 'R':
			reason = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			ban_add_usage();
			return EXIT_OK;
		default:
			ban_add_usage();
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		ban_add_usage();
		return EXIT_USAGE;
	}
	if (parse_prefix(argv[optind], &pfx))
		return EXIT_USAGE;
	if (rate_set && action != FENCE_ACT_THROTTLE) {
		pr_err("--rate/--burst only apply to --action throttle");
		return EXIT_USAGE;
	}
	if (!force && pfx.len < (pfx.family == AF_INET ? MIN_LEN_V4 : MIN_LEN_V6)) {
		pr_err("refusing to ban %s: shorter than /%d (use --force if you mean it)",
		       cidr_str(&pfx, buf, sizeof(buf)), pfx.family == AF_INET ? MIN_LEN_V4 : MIN_LEN_V6);
		return EXIT_USAGE;
	}
	if (!reason_ok(reason))
		return EXIT_USAGE;
	if (state_open(&s, true, true))
		return EXIT_RUNTIME;
	cur = table_get(s.t, &pfx, FENCE_KIND_DENY, NULL);
	if (cur)
		info = *cur;
	info.owners |= FENCE_OWN_MANUAL;
	info.manual_action = action;
	info.manual_expires_ns = ttl ? fence_now_ns() + ttl * 1000000000ULL : 0;
	if (action == FENCE_ACT_THROTTLE) {
		info.rate = rate;
		info.burst = burst;
	}
	if (reason)
		snprintf(info.reason, sizeof(info.reason), "%s", reason);
	else if (!cur)
		info.reason[0] = 0;
	allow = entries_allow_overlap(&s, &pfx);
	ret = table_put(s.t, &pfx, FENCE_KIND_DENY, &info);
	ret = ret ? EXIT_RUNTIME : commit(&s, "ban add");
	if (!ret) {
		cidr_str(&pfx, buf, sizeof(buf));
		pr_info("%s %s: %s%s%s", cur ? "updated" : "banned", buf, action_name(action),
			ttl ? " for " : "", ttl ? format_duration(ttl, ttlbuf, sizeof(ttlbuf)) : "");
		if (allow) {
			struct cidr a;
			char abuf[CIDR_STR_MAX];

			table_info_cidr(&s.m.info[allow], &a);
			pr_warn("%s overlaps allowlisted %s: the allowlist wins there", buf,
				cidr_str(&a, abuf, sizeof(abuf)));
		}
	}
	pin_close(&s);
	return ret;
}

static void ban_del_usage(void)
{
	fprintf(stderr,
"usage: xdpfence ban del CIDR [--fleet [--config FILE]]\n"
"  Removes the operator's and the behaviour engine's ban here, and a ban the\n"
"  fleet gave this gateway (owner fleet) here only: the other gateways keep\n"
"  it, and this one does not take it again until the fleet changes it. A\n"
"  prefix a feed also lists stays until the feed drops it (or `allow add`).\n"
"  --fleet   also delete it from the fleet's bucket: every gateway drops it\n"
"            (their shared promotions and manual bans of it too). Needs the\n"
"            [fleet] section of the daemon's config; nothing changes here if\n"
"            the bucket cannot be reached\n"
"  --config  the config with [fleet] (default " BAN_DEFAULT_CONFIG ")\n");
}

/* `--fleet`: the key out of the bucket first (nothing here changes if
 * that fails). EXIT_* or -1 to go on. */
static int del_fleet(const char *config, const struct cidr *pfx, char *where, size_t len)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	char err[4096];
	int ret;

	if (!cfg) {
		pr_err("out of memory");
		return EXIT_RUNTIME;
	}
	ret = config_load(config, cfg, err, sizeof(err));
	if (ret) {
		pr_err("%s", err);
		free(cfg);
		return ret == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (!cfg->fleet.on) {
		pr_err("%s: no [fleet] section: --fleet needs the fleet's servers and bucket", config);
		free(cfg);
		return EXIT_USAGE;
	}
	ret = fleet_delete_now(&cfg->fleet, pfx, err, sizeof(err));
	if (ret) {
		pr_err("deleting fleet-wide: %s (nothing changed here)", err);
		free(cfg);
		return EXIT_RUNTIME;
	}
	snprintf(where, len, "bucket %s", cfg->fleet.bucket);
	free(cfg);
	return -1;
}

static int ban_del(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "fleet", no_argument, NULL, 'F' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	const __u8 here = FENCE_OWN_MANUAL | FENCE_OWN_PROMOTED | FENCE_OWN_FLEET;
	const char *config = BAN_DEFAULT_CONFIG;
	struct fence_rule_info info;
	const struct fence_rule_info *cur;
	char buf[CIDR_STR_MAX], where[96] = "", origin[48] = "";
	bool fleet = false;
	struct pinned s;
	struct cidr pfx;
	__u8 was;
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'F':
			fleet = true;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			ban_del_usage();
			return EXIT_OK;
		default:
			ban_del_usage();
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		ban_del_usage();
		return EXIT_USAGE;
	}
	if (parse_prefix(argv[optind], &pfx))
		return EXIT_USAGE;
	cidr_str(&pfx, buf, sizeof(buf));
	if (fleet && (ret = del_fleet(config, &pfx, where, sizeof(where))) >= 0)
		return ret;
	if (state_open(&s, true, false))
		return EXIT_RUNTIME;
	cur = table_get(s.t, &pfx, FENCE_KIND_DENY, NULL);
	if (!cur || !(cur->owners & here)) {
		if (fleet) {
			pr_info("%s: deleted fleet-wide (%s); %s here", buf, where,
				cur ? "only feeds list it" : "not banned");
			pin_close(&s);
			return EXIT_OK;
		}
		pr_err("%s: %s", buf, cur ? "only feeds list it: `xdpfence feed del` or `allow add`" :
		       "not banned");
		pin_close(&s);
		return EXIT_RUNTIME;
	}
	info = *cur;
	entry_reason(cur, origin, sizeof(origin));
	was = cur->owners;	/* cur is stale after the put */
	info.owners &= ~here;
	ret = table_put(s.t, &pfx, FENCE_KIND_DENY, &info);
	ret = ret ? EXIT_RUNTIME : commit(&s, "ban del");
	if (!ret) {
		if (fleet)
			pr_info("%s: deleted fleet-wide (%s), and here:", buf, where);
		else if (was & FENCE_OWN_FLEET)
			pr_info("%s: removed here only: the fleet still lists it (from %s); `ban del "
				"--fleet` deletes it on every gateway", buf, origin[0] ? origin : "?");
		if (info.owners) {
			struct feed_names fn;
			char own[256];

			feed_names_read(&s.m, &fn);
			pr_info("%s: ban removed; still listed by %s", buf,
				owners_str(&info, &fn, own, sizeof(own)));
		} else {
			pr_info("%s: unbanned", buf);
		}
	}
	pin_close(&s);
	return ret;
}

static int list_usage(const char *object)
{
	fprintf(stderr, "usage: xdpfence %s list [--json] [--owner manual|promoted|fleet|feed[:NAME]]\n",
		object);
	return EXIT_USAGE;
}

static int do_list(const char *object, enum fence_kind kind, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "owner", required_argument, NULL, 'o' },
		{ NULL }
	};
	const char *owner = NULL;
	__u8 filter = 0;
	int c, feed_id = -1, ret;
	struct pinned s;

	optind = 0;
	while ((c = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
		if (c == 'j')
			g_opts.json = true;
		else if (c == 'o')
			owner = optarg;
		else
			return list_usage(object);
	}
	if (optind != argc)
		return list_usage(object);
	if (state_open(&s, false, false))
		return EXIT_RUNTIME;
	if (owner) {
		if (!strcmp(owner, "manual"))
			filter = FENCE_OWN_MANUAL;
		else if (!strcmp(owner, "promoted"))
			filter = FENCE_OWN_PROMOTED;
		else if (!strcmp(owner, "fleet"))
			filter = FENCE_OWN_FLEET;
		else if (!strcmp(owner, "feed"))
			filter = FENCE_OWN_FEED;
		else if (!strncmp(owner, "feed:", 5)) {
			struct feed_names fn;

			feed_names_read(&s.m, &fn);
			for (int k = 0; k < FENCE_FEEDS_MAX; k++)
				if (!strcmp(fn.name[k], owner + 5))
					feed_id = k;
			if (feed_id < 0) {
				pr_err("--owner: no feed named \"%s\"", owner + 5);
				pin_close(&s);
				return EXIT_USAGE;
			}
		} else {
			pr_err("--owner \"%s\": want manual, promoted, fleet, feed or feed:NAME", owner);
			pin_close(&s);
			return EXIT_USAGE;
		}
	}
	ret = entries_list(&s, kind, filter, feed_id);
	pin_close(&s);
	return ret;
}

static int ban_list(int argc, char **argv)
{
	return do_list("ban", FENCE_KIND_DENY, argc, argv);
}

static int allow_add(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "reason", required_argument, NULL, 'R' },
		{ NULL }
	};
	struct fence_rule_info info = {};
	const struct fence_rule_info *cur;
	const char *reason = NULL;
	char buf[CIDR_STR_MAX];
	struct pinned s;
	struct cidr pfx;
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'R')
			goto usage;
		reason = optarg;
	}
	if (optind != argc - 1)
		goto usage;
	if (parse_prefix(argv[optind], &pfx))
		return EXIT_USAGE;
	if (!reason_ok(reason))
		return EXIT_USAGE;
	if (state_open(&s, true, true))
		return EXIT_RUNTIME;
	cur = table_get(s.t, &pfx, FENCE_KIND_ALLOW, NULL);
	if (cur)
		info = *cur;
	info.owners |= FENCE_OWN_MANUAL;
	if (reason)
		snprintf(info.reason, sizeof(info.reason), "%s", reason);
	ret = table_put(s.t, &pfx, FENCE_KIND_ALLOW, &info);
	ret = ret ? EXIT_RUNTIME : commit(&s, "allow add");
	if (!ret)
		pr_info("allowed %s: passes before any ban", cidr_str(&pfx, buf, sizeof(buf)));
	pin_close(&s);
	return ret;
usage:
	fprintf(stderr, "usage: xdpfence allow add CIDR [--reason TEXT]\n"
		"  Sources in CIDR always pass, whatever feeds, bans or the behaviour\n"
		"  engine say; the engine never promotes an allowlisted prefix.\n");
	return EXIT_USAGE;
}

static int allow_del(int argc, char **argv)
{
	char buf[CIDR_STR_MAX];
	struct pinned s;
	struct cidr pfx;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: xdpfence allow del CIDR\n");
		return EXIT_USAGE;
	}
	if (parse_prefix(argv[1], &pfx))
		return EXIT_USAGE;
	if (state_open(&s, true, false))
		return EXIT_RUNTIME;
	cidr_str(&pfx, buf, sizeof(buf));
	if (!table_get(s.t, &pfx, FENCE_KIND_ALLOW, NULL)) {
		pr_err("%s: not in the allowlist", buf);
		pin_close(&s);
		return EXIT_RUNTIME;
	}
	ret = table_del(s.t, &pfx, FENCE_KIND_ALLOW) ? EXIT_RUNTIME : commit(&s, "allow del");
	if (!ret)
		pr_info("%s: removed from the allowlist", buf);
	pin_close(&s);
	return ret;
}

static int allow_list(int argc, char **argv)
{
	return do_list("allow", FENCE_KIND_ALLOW, argc, argv);
}

static const struct cmd ban_cmds[] = {
	{ "add", ban_add, "CIDR [--ttl DUR] [--action drop|throttle|monitor] [--rate N/s] "
	  "[--burst N] [--reason TEXT]", "ban a prefix (or update its ban)" },
	{ "del", ban_del, "CIDR [--fleet [--config FILE]]",
	  "remove a prefix's ban here (--fleet: on every gateway of the fleet)" },
	{ "list", ban_list, "[--json] [--owner manual|promoted|fleet|feed[:NAME]]",
	  "every deny entry: owners, action, remaining TTL, hits, reason" },
	{ NULL }
};

static const struct cmd allow_cmds[] = {
	{ "add", allow_add, "CIDR [--reason TEXT]", "always pass this prefix" },
	{ "del", allow_del, "CIDR", "remove an allowlist entry" },
	{ "list", allow_list, "[--json]", "the allowlist" },
	{ NULL }
};

int do_ban(int argc, char **argv)
{
	return cmd_dispatch("ban", ban_cmds, argc - 1, argv + 1);
}

int do_allow(int argc, char **argv)
{
	return cmd_dispatch("allow", allow_cmds, argc - 1, argv + 1);
}
