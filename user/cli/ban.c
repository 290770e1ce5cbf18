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
#include "feeds/fetch.h"
#include "engine/config.h"
#include "engine/fleet.h"
#include "lib/log.h"
#include "lib/util.h"

#define MIN_LEN_V4 8
#define MIN_LEN_V6 19
#define BAN_DEFAULT_CONFIG "/etc/xdpfence/xdpfence.conf"	/* as the systemd unit runs it */

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
	struct table_stats st = {};
	char err[256] = "";
	int ret = pin_commit(s, &st, err, sizeof(err));

	if (ret) {
		pr_err("%s: %s", what, err[0] ? err : strerror(-ret));
		return EXIT_RUNTIME;
	}
	pr_debug("%s: %s commit: %u added, %u updated, %u removed; %u tbl24 and %u tbl8 leaves, "
		 "%u parents written", what, st.small ? "small" : "full", st.added, st.updated,
		 st.removed, st.tbl24_writes, st.tbl8_writes, st.parent_writes);
	return EXIT_OK;
}

static void ban_add_usage(bool asked)
{
	fprintf(usage_out(asked),
"usage: xdpfence ban add CIDR [OPTIONS]\n"
"       xdpfence ban add - [OPTIONS]    (one entry a line on stdin)\n"
"  Bans a prefix, or updates the operator's ban of it (its hit counter stays).\n"
"  CIDR            198.51.100.0/24, 2001:db8::/48; a bare address is a /32 or\n"
"                  /128; host bits set (198.51.100.7/24) are refused\n"
"  --ttl DUR       lifetime: 90s, 10m, 1h30m, 2d (default: until removed); the\n"
"                  data path stops enforcing on time even if no controller runs\n"
"  --action A      drop (default); throttle: drop new connections (TCP SYN, QUIC\n"
"                  Initial) beyond --rate with --burst of slack; monitor: count\n"
"                  as would-drop and pass\n"
"  --rate N/s      throttle rate, new connections per second (N/m, N/h too;\n"
"                  default 10/s)\n"
"  --burst N       throttle slack, connections (default 20)\n"
"  --reason TEXT   why, shown by `ban list` (at most %zu characters)\n"
"  --force         allow prefixes shorter than /%d (IPv4) or /%d (IPv6)\n"
"  -j, --json      the result as JSON\n"
"  -h, --help      this text\n"
"  With - each line of stdin is a CIDR and, optionally, its own options\n"
"  (`198.51.100.7 --ttl 1h --reason \"sshd: 5 failures\"`; # starts a\n"
"  comment); options given on the command line are every line's default.\n"
"  The lines go in as one change: a bad line is reported as -:LINE and\n"
"  nothing is applied (exit 2).\n"
"Example: xdpfence ban add 203.0.113.0/24 --ttl 10m --reason \"scraper burst\"\n",
		sizeof(((struct fence_rule_info *)0)->reason) - 1, MIN_LEN_V4, MIN_LEN_V6);
}

/* One ban as asked: the prefix and its options. */
struct ban_req {
	struct cidr pfx;
	__u64 ttl;
	int action;
	__u32 rate, burst;
	const char *reason;
	bool force, rate_set, has_pfx;
};

/* The options (and the CIDR, if given) of argv into *r, over the defaults
 * already there. where prefixes messages ("" or "-:12: "). 0, -1 for
 * --help (usage printed), or EXIT_USAGE with the reason printed. */
static int ban_parse(int argc, char **argv, struct ban_req *r, const char *where)
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
	char buf[CIDR_STR_MAX], why[160];
	int c;

	optind = 0;
	opterr = !*where;	/* a line's unknown option is reported with its line */
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_duration(optarg, &r->ttl)) {
				pr_err("%s--ttl \"%s\": want a duration like 90s, 10m, 1h30m, 2d (at most "
				       "3650d)", where, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'a':
			r->action = parse_action(optarg);
			if (r->action < 0) {
				pr_err("%s--action \"%s\": want drop, throttle or monitor", where, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (parse_rate(optarg, &r->rate)) {
				pr_err("%s--rate \"%s\": want N/s, N/m or N/h", where, optarg);
				return EXIT_USAGE;
			}
			r->rate_set = true;
			break;
		case 'b':
			if (parse_u32(optarg, 1, 1000000, &r->burst)) {
				pr_err("%s--burst \"%s\": want 1..1000000", where, optarg);
				return EXIT_USAGE;
			}
			r->rate_set = true;
			break;
		case 'R':
			r->reason = optarg;
			break;
		case 'f':
			r->force = true;
			break;
		case 'h':
			ban_add_usage(true);
			return -1;
		default:
			if (*where)
				pr_err("%s\"%s\": not an option of ban add", where, argv[optind - 1]);
			else
				ban_add_usage(false);
			return EXIT_USAGE;
		}
	}
	opterr = 1;
	if (optind < argc - 1 || (optind == argc - 1 && !strcmp(argv[optind], "-") && *where)) {
		pr_err("%s%s", where, *where ? "one CIDR a line" : "one CIDR (or -)");
		return EXIT_USAGE;
	}
	if (optind == argc - 1 && strcmp(argv[optind], "-")) {
		if (cidr_parse(argv[optind], &r->pfx, 0, why, sizeof(why))) {
			pr_err("%sbad prefix \"%s\": %s", where, argv[optind], why);
			return EXIT_USAGE;
		}
		r->has_pfx = true;
	}
	if (r->rate_set && r->action != FENCE_ACT_THROTTLE) {
		pr_err("%s--rate/--burst only apply to --action throttle", where);
		return EXIT_USAGE;
	}
	if (r->has_pfx && !r->force &&
	    r->pfx.len < (r->pfx.family == AF_INET ? MIN_LEN_V4 : MIN_LEN_V6)) {
		pr_err("%srefusing to ban %s: shorter than /%d (use --force if you mean it)", where,
		       cidr_str(&r->pfx, buf, sizeof(buf)),
		       r->pfx.family == AF_INET ? MIN_LEN_V4 : MIN_LEN_V6);
		return EXIT_USAGE;
	}
	if (r->reason && strlen(r->reason) >= sizeof(((struct fence_rule_info *)0)->reason)) {
		pr_err("%s--reason: at most %zu characters", where,
		       sizeof(((struct fence_rule_info *)0)->reason) - 1);
		return EXIT_USAGE;
	}
	return 0;
}

/* Stage r; *was says whether it was banned already. */
static int ban_stage(struct pinned *s, const struct ban_req *r, __u64 now, bool *was)
{
	struct fence_rule_info info = {};
	const struct fence_rule_info *cur = table_get(s->t, &r->pfx, FENCE_KIND_DENY, NULL);

	*was = cur != NULL;
	if (cur)
		info = *cur;
	info.owners |= FENCE_OWN_MANUAL;
	info.manual_action = r->action;
	info.manual_expires_ns = r->ttl ? now + r->ttl * 1000000000ULL : 0;
	if (r->action == FENCE_ACT_THROTTLE) {
		info.rate = r->rate;
		info.burst = r->burst;
	}
	if (r->reason)
		snprintf(info.reason, sizeof(info.reason), "%s", r->reason);
	else if (!cur)
		info.reason[0] = 0;
	return table_put(s->t, &r->pfx, FENCE_KIND_DENY, &info);
}

/* Split a line into words in place (double or single quotes keep blanks;
 * # outside quotes ends it). The number of words, at most max; -1 for an
 * unclosed quote. */
static int split_words(char *p, char **w, int max)
{
	int n = 0;

	for (;;) {
		char *out;

		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == max)
			return max + 1;
		w[n++] = out = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
			if (*p == '"' || *p == '\'') {
				char q = *p++;

				while (*p && *p != q)
					*out++ = *p++;
				if (!*p)
					return -1;
				p++;
				continue;
			}
			*out++ = *p++;
		}
		if (*p)
			p++;
		*out = 0;
	}
}

/* The lines of stdin, for a batch: the whole of it, NUL terminated. */
static int read_stdin(struct fetch_result *fr)
{
	char err[160];
	int ret = fetch_fd(0, 64UL << 20, fr, err, sizeof(err));

	if (ret)
		pr_err("reading stdin: %s", err);
	return ret;
}

#define BATCH_WORDS 16

/* `ban add - [defaults]`: every line checked, then all staged and one
 * commit; a bad line applies nothing. */
static int ban_add_batch(const struct ban_req *defaults)
{
	struct fetch_result fr;
	struct ban_req *req = NULL;
	size_t n = 0, cap = 0, bad = 0, updated = 0;
	unsigned lineno = 0;
	struct pinned s;
	char *line, *next;
	int ret;

	if (read_stdin(&fr))
		return EXIT_RUNTIME;
	for (line = fr.data; line && *line; line = next) {
		char *w[BATCH_WORDS + 2], where[32];
		struct ban_req r = *defaults;
		int nw;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		snprintf(where, sizeof(where), "-:%u: ", lineno);
		w[0] = "add";
		nw = split_words(line, w + 1, BATCH_WORDS);
		if (!nw)
			continue;
		if (nw < 0 || nw > BATCH_WORDS) {
			pr_err("%s%s", where, nw < 0 ? "unclosed quote" : "too many words");
			bad++;
			continue;
		}
		ret = ban_parse(nw + 1, w, &r, where);
		if (!ret && !r.has_pfx) {
			pr_err("%sno CIDR", where);
			ret = EXIT_USAGE;
		}
		if (ret) {
			bad++;
			continue;
		}
		if (n == cap) {
			struct ban_req *v = realloc(req, (cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!v) {
				pr_err("out of memory");
				goto fail;
			}
			req = v;
		}
		req[n++] = r;
	}
	if (bad) {
		pr_err("-: %zu bad line%s: nothing applied", bad, bad == 1 ? "" : "s");
		ret = EXIT_USAGE;
		goto out;
	}
	if (state_open_light(&s, true))
		goto fail;
	table_reserve(s.t, n);
	ret = 0;
	for (size_t i = 0; i < n && !ret; i++) {
		bool was;

		ret = ban_stage(&s, &req[i], fence_now_ns(), &was);
		updated += was;
	}
	ret = ret ? EXIT_RUNTIME : commit(&s, "ban add -");
	pin_close(&s);
	if (!ret) {
		if (g_opts.json)
			printf("{\"banned\": %zu, \"new\": %zu, \"updated\": %zu}\n", n, n - updated,
			       updated);
		else
			pr_info("banned %zu entries (%zu new, %zu updated)", n, n - updated, updated);
	}
out:
	free(req);
	fetch_result_free(&fr);
	return ret;
fail:
	ret = EXIT_RUNTIME;
	goto out;
}

static int ban_add(int argc, char **argv)
{
	struct ban_req r = { .action = FENCE_ACT_DROP, .rate = 10, .burst = 20 };
	char buf[CIDR_STR_MAX], ttlbuf[32];
	struct pinned s;
	__u32 allow;
	bool was;
	int ret;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
			g_opts.json = true;
			memmove(&argv[i], &argv[i + 1], (argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	ret = ban_parse(argc, argv, &r, "");
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (!r.has_pfx) {
		bool dash = argc > 1 && !strcmp(argv[argc - 1], "-");

		if (!dash) {
			ban_add_usage(false);
			return EXIT_USAGE;
		}
		return ban_add_batch(&r);
	}
	if (state_open_light(&s, true))
		return EXIT_RUNTIME;
	allow = entries_allow_overlap(&s, &r.pfx);
	ret = ban_stage(&s, &r, fence_now_ns(), &was);
	ret = ret ? EXIT_RUNTIME : commit(&s, "ban add");
	if (!ret) {
		cidr_str(&r.pfx, buf, sizeof(buf));
		pr_info("%s %s: %s%s%s", was ? "updated" : "banned", buf, action_name(r.action),
			r.ttl ? " for " : "", r.ttl ? format_duration(r.ttl, ttlbuf, sizeof(ttlbuf)) : "");
		if (allow) {
			struct cidr a;
			char abuf[CIDR_STR_MAX];

			table_info_cidr(fence_info_at(&s.m, allow), &a);
			pr_warn("%s overlaps allowlisted %s: the allowlist wins there", buf,
				cidr_str(&a, abuf, sizeof(abuf)));
		}
	}
	pin_close(&s);
	return ret;
}

/* The owners `ban del` removes here: the operator's, the engine's, and a
 * fleet entry's local copy. */
#define UNBAN_OWNERS	(FENCE_OWN_MANUAL | FENCE_OWN_PROMOTED | FENCE_OWN_FLEET)

/* Stage the removal of pfx's bans by UNBAN_OWNERS. 0, 1 when none of them
 * banned it (nothing staged), -errno. *info is the entry as it will be,
 * *was its owners before. */
static int unban_stage(struct pinned *s, const struct cidr *pfx, struct fence_rule_info *info,
		       __u8 *was)
{
	const struct fence_rule_info *cur = table_get(s->t, pfx, FENCE_KIND_DENY, NULL);

	*was = cur ? cur->owners : 0;
	if (!cur || !(cur->owners & UNBAN_OWNERS)) {
		if (cur)
			*info = *cur;
		else
			memset(info, 0, sizeof(*info));
		return 1;
	}
	*info = *cur;
	info->owners &= ~UNBAN_OWNERS;
	return table_put(s->t, pfx, FENCE_KIND_DENY, info);
}

/* `ban del -`: a CIDR a line; all checked, then one commit. Prefixes not
 * banned are said and skipped (an unban is idempotent, as fail2ban wants). */
static int ban_del_batch(void)
{
	struct fetch_result fr;
	struct cidr *v = NULL;
	size_t n = 0, cap = 0, bad = 0, skipped = 0;
	unsigned lineno = 0;
	struct pinned s;
	char *line, *next;
	int ret = EXIT_RUNTIME;

	if (read_stdin(&fr))
		return EXIT_RUNTIME;
	for (line = fr.data; line && *line; line = next) {
		char *w[3], why[160];
		int nw;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		nw = split_words(line, w, 2);
		if (!nw)
			continue;
		if (nw != 1) {
			pr_err("-:%u: %s", lineno, nw < 0 ? "unclosed quote" : "one CIDR a line");
			bad++;
			continue;
		}
		if (n == cap) {
			struct cidr *nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*nv));

			if (!nv)
				goto out;
			v = nv;
		}
		if (cidr_parse(w[0], &v[n], 0, why, sizeof(why))) {
			pr_err("-:%u: bad prefix \"%s\": %s", lineno, w[0], why);
			bad++;
			continue;
		}
		n++;
	}
	if (bad) {
		pr_err("-: %zu bad line%s: nothing applied", bad, bad == 1 ? "" : "s");
		ret = EXIT_USAGE;
		goto out;
	}
	if (state_open_light(&s, false))
		goto out;
	ret = 0;
	for (size_t i = 0; i < n && ret >= 0; i++) {
		struct fence_rule_info info;
		char buf[CIDR_STR_MAX];
		__u8 was;

		ret = unban_stage(&s, &v[i], &info, &was);
		if (ret == 1) {
			pr_info("%s: not banned (skipped)", cidr_str(&v[i], buf, sizeof(buf)));
			skipped++;
			ret = 0;
		}
	}
	ret = ret ? EXIT_RUNTIME : commit(&s, "ban del -");
	pin_close(&s);
	if (!ret) {
		if (g_opts.json)
			printf("{\"unbanned\": %zu, \"skipped\": %zu}\n", n - skipped, skipped);
		else
			pr_info("unbanned %zu entries (%zu not banned)", n - skipped, skipped);
	}
out:
	free(v);
	fetch_result_free(&fr);
	return ret;
}

static int ban_del_usage(bool asked)
{
	fprintf(usage_out(asked),
"usage: xdpfence ban del CIDR [--fleet [--config FILE]] [--json]\n"
"       xdpfence ban del -      (a CIDR a line on stdin, one change)\n"
"  Removes the operator's and the behaviour engine's ban here, and a ban the\n"
"  fleet gave this gateway (owner fleet) here only: the other gateways keep\n"
"  it, and this one does not take it again until the fleet changes it. A\n"
"  prefix a feed also lists stays until the feed drops it (or `allow add`).\n"
"  --fleet   also delete it from the fleet's bucket: every gateway drops it\n"
"            (their shared promotions and manual bans of it too). Needs the\n"
"            [fleet] section of the daemon's config; nothing changes here if\n"
"            the bucket cannot be reached\n"
"  --config  the config with [fleet] (default " BAN_DEFAULT_CONFIG ")\n"
"  -j, --json  the result as JSON\n"
"  -h, --help  this text\n");
	return asked ? EXIT_OK : EXIT_USAGE;
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
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	const char *config = BAN_DEFAULT_CONFIG;
	struct fence_rule_info info;
	char buf[CIDR_STR_MAX], where[96] = "", origin[48] = "";
	bool fleet = false;
	struct pinned s;
	struct cidr pfx;
	__u8 was;
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'F':
			fleet = true;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			g_opts.json = true;
			break;
		case 'h':
			return ban_del_usage(true);
		default:
			return ban_del_usage(false);
		}
	}
	if (optind != argc - 1)
		return ban_del_usage(false);
	if (!strcmp(argv[optind], "-")) {
		if (fleet) {
			pr_err("ban del -: --fleet takes one CIDR (delete fleet-wide one at a time)");
			return EXIT_USAGE;
		}
		return ban_del_batch();
	}
	if (parse_prefix(argv[optind], &pfx))
		return EXIT_USAGE;
	cidr_str(&pfx, buf, sizeof(buf));
	if (fleet && (ret = del_fleet(config, &pfx, where, sizeof(where))) >= 0)
		return ret;
	if (state_open_light(&s, false))
		return EXIT_RUNTIME;
	{
		const struct fence_rule_info *cur = table_get(s.t, &pfx, FENCE_KIND_DENY, NULL);

		if (cur)
			entry_reason(cur, origin, sizeof(origin));
	}
	ret = unban_stage(&s, &pfx, &info, &was);
	if (ret == 1) {
		if (fleet) {
			pr_info("%s: deleted fleet-wide (%s); %s here", buf, where,
				info.owners ? "only feeds list it" : "not banned");
			pin_close(&s);
			return EXIT_OK;
		}
		pr_err("%s: %s", buf, info.owners ? "only feeds list it: `xdpfence feed del` or "
		       "`allow add`" : "not banned");
		pin_close(&s);
		return EXIT_RUNTIME;
	}
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

static int list_usage(const char *object, bool asked)
{
	fprintf(usage_out(asked), "usage: xdpfence %s list [--json] [--owner manual|promoted|fleet|feed[:NAME]]\n"
		"  Every %s entry: prefix, %s.\n"
		"  -j, --json      one JSON array, for scripts\n"
		"  --owner OWNER   only entries OWNER holds: manual (`%s add`), promoted\n"
		"                  (the behaviour engine), fleet (another gateway's, by\n"
		"                  the fleet), feed (any feed) or feed:NAME\n"
		"  -h, --help      this text\n",
		object, !strcmp(object, "ban") ? "deny" : "allow",
		!strcmp(object, "ban") ? "owners, action, remaining TTL, hits, reason" : "owners, reason",
		object);
	return asked ? EXIT_OK : EXIT_USAGE;
}

static int do_list(const char *object, enum fence_kind kind, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "owner", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	const char *owner = NULL;
	__u8 filter = 0;
	int c, feed_id = -1, ret;
	struct pinned s;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		if (c == 'j')
			g_opts.json = true;
		else if (c == 'o')
			owner = optarg;
		else
			return list_usage(object, c == 'h');
	}
	if (optind != argc)
		return list_usage(object, false);
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	struct fence_rule_info info = {};
	const struct fence_rule_info *cur;
	const char *reason = NULL;
	char buf[CIDR_STR_MAX];
	bool asked = false;
	struct pinned s;
	struct cidr pfx;
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c != 'R') {
			asked = c == 'h';
			goto usage;
		}
		reason = optarg;
	}
	if (optind != argc - 1)
		goto usage;
	if (parse_prefix(argv[optind], &pfx))
		return EXIT_USAGE;
	if (!reason_ok(reason))
		return EXIT_USAGE;
	if (state_open_light(&s, true))
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
	fprintf(usage_out(asked), "usage: xdpfence allow add CIDR [--reason TEXT]\n"
		"  Sources in CIDR always pass, whatever feeds, bans or the behaviour\n"
		"  engine say; the engine never promotes an allowlisted prefix.\n"
		"  --reason TEXT   why, shown by `allow list`\n"
		"  -h, --help      this text\n");
	return asked ? EXIT_OK : EXIT_USAGE;
}

static int allow_del(int argc, char **argv)
{
	char buf[CIDR_STR_MAX];
	struct pinned s;
	struct cidr pfx;
	int ret;

	if (argc != 2 || help_asked(argc, argv)) {
		fprintf(usage_out(help_asked(argc, argv)), "usage: xdpfence allow del CIDR\n"
			"  Removes the allowlist entry of exactly CIDR.\n");
		return help_asked(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	if (parse_prefix(argv[1], &pfx))
		return EXIT_USAGE;
	if (state_open_light(&s, false))
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
	  "[--burst N] [--reason TEXT] [--force]", "ban a prefix (or update its ban)" },
	{ "del", ban_del, "CIDR [--fleet [--config FILE]] | -",
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
