// SPDX-License-Identifier: GPL-2.0
/* user/cli/feed.c - `xdpfence feed load|list|del`: the command line of feed.c. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cli/cli.h"
#include "feeds/feed.h"
#include "engine/control.h"
#include "feeds/fetch.h"
#include "feeds/taxii.h"
#include "lib/log.h"
#include "lib/util.h"

static void load_usage(bool asked)
{
	fprintf(usage_out(asked),
"usage: xdpfence feed load NAME SOURCE [--format FMT] [--action drop|throttle|monitor]\n"
"                          [--ttl DUR] [--rate N/s] [--burst N] [--lenient] [--check]\n"
"                          [--min-len-v4 N] [--min-len-v6 N] [--refetch]\n"
"                          [--timeout DUR] [--max-size SIZE] [--direct]\n"
"                          [--token-file FILE] [--ca-file FILE] [--cache-dir DIR]\n"
"  NAME     up to 31 of [A-Za-z0-9_.-]; loading the same NAME again applies the\n"
"           difference: new prefixes added, gone ones removed, the rest kept\n"
"           (with their counters). At most %d feeds.\n"
"  SOURCE   a file, - for stdin, or an http(s) URL (ETag and Last-Modified of\n"
"           the last load are sent back: an unchanged feed loaded with the same\n"
"           options is not re-applied; with --ttl, or other options, it is), or a\n"
"           TAXII 2.1 collection, taxii+https://HOST/API-ROOT/collections/ID/\n"
"           (taxii+http:// too): polled for what was added since the last poll,\n"
"           its indicators' valid_until their expiry, revoked ones released,\n"
"           new entries' reason the peer's identity. --token-file: the Bearer\n"
"           token (\"TOKEN\" or \"NAME TOKEN\"); --ca-file: a CA for https;\n"
"           --cache-dir: where what the peer sent is kept between polls\n"
"           (default " TAXII_CACHE_DIR_DEFAULT "; without one, each poll reads it whole)\n"
"  --format auto (default), plain (one CIDR/address a line, # and ; comments:\n"
"           Spamhaus DROP, abuse.ch, AbuseIPDB), netset (FireHOL), spamhaus-json,\n"
"           ipset (`ipset save`), crowdsec (LAPI decisions stream), stix (2.1)\n"
"  --ttl    lifetime of entries unless the feed gives one (CrowdSec duration,\n"
"           STIX valid_until), renewed by each load that still lists them;\n"
"           default: until the feed drops them\n"
"  --lenient  apply the good lines of a feed with bad ones (default: a bad line\n"
"           rejects the whole load, and each bad line is reported as FILE:LINE)\n"
"  --check  parse and check only; apply nothing\n"
"  --min-len-v4/--min-len-v6  refuse prefixes shorter than this (default /%d, /%d)\n"
"  --timeout  give up a download after DUR (default %us); --max-size: refuse\n"
"           a feed larger than SIZE (default 1G; K, M, G suffixes). The feed is\n"
"           fetched and parsed before the pin dir is locked: a slow server never\n"
"           holds up `ban add` or the daemon's ticks.\n"
"  --direct load in this process even when `xdpfence run` serves the pin dir\n"
"  Prefixes overlapping the allowlist are refused.\n"
"  A regular file SOURCE is loaded by the `xdpfence run` of the pin dir when\n"
"  one runs (the CLI hands it the open file; messages and exit code are the\n"
"  same): a reload there takes half the time a fresh process takes.\n",
		FENCE_FEEDS_MAX, FEED_MIN_LEN_V4, FEED_MIN_LEN_V6, FETCH_TIMEOUT_DEFAULT);
}

struct prepare_job {
	const struct feed_load_opts *o;
	const struct fence_feed *rec;	/* for a conditional fetch, or NULL */
	struct feed_prepared p;
};

static void *prepare_run(void *arg)
{
	struct prepare_job *j = arg;

	feed_prepare(j->o, j->rec, &j->p);
	return NULL;
}

int feed_load_args(int argc, char **argv, struct feed_load_opts *o, bool *direct)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "action", required_argument, NULL, 'a' },
		{ "ttl", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "lenient", no_argument, NULL, 'l' },
		{ "check", no_argument, NULL, 'c' },
		{ "refetch", no_argument, NULL, 'R' },
		{ "min-len-v4", required_argument, NULL, '4' },
		{ "min-len-v6", required_argument, NULL, '6' },
		{ "json", no_argument, NULL, 'j' },
		{ "direct", no_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-size", required_argument, NULL, 'S' },
		{ "token-file", required_argument, NULL, 'K' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "cache-dir", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	int c, fmt;
	__u32 v;

	*o = (struct feed_load_opts){ .format = FEED_FMT_AUTO, .action = FENCE_ACT_DROP, .rate = 10,
				    .burst = 20, .min_len_v4 = FEED_MIN_LEN_V4,
				    .min_len_v6 = FEED_MIN_LEN_V6, .max_errors_shown = 50 };

	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			fmt = feed_format_parse(optarg);
			if (fmt < 0) {
				pr_err("--format \"%s\": want auto, plain, netset, spamhaus-json, ipset, "
				       "crowdsec or stix", optarg);
				return EXIT_USAGE;
			}
			o->format = fmt;
			break;
		case 'a':
			o->action = parse_action(optarg);
			if (o->action < 0) {
				pr_err("--action \"%s\": want drop, throttle or monitor", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (parse_duration(optarg, &o->ttl_s)) {
				pr_err("--ttl \"%s\": want a duration like 90s, 10m, 1h30m, 2d (at most 3650d)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (parse_rate(optarg, &o->rate)) {
				pr_err("--rate \"%s\": want N/s, N/m or N/h", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			if (parse_u32(optarg, 1, 1000000, &o->burst)) {
				pr_err("--burst \"%s\": want 1..1000000", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			o->lenient = true;
			break;
		case 'c':
			o->check = true;
			break;
		case 'R':
			o->refetch = true;
			break;
		case '4':
			if (parse_u32(optarg, 0, 32, &v)) {
				pr_err("--min-len-v4 \"%s\": want 0..32", optarg);
				return EXIT_USAGE;
			}
			o->min_len_v4 = v;
			break;
		case '6':
			if (parse_u32(optarg, 0, 128, &v)) {
				pr_err("--min-len-v6 \"%s\": want 0..128", optarg);
				return EXIT_USAGE;
			}
			o->min_len_v6 = v;
			break;
		case 'j':
			g_opts.json = true;
			break;
		case 'D':
			if (direct)
				*direct = true;
			break;
		case 'T': {
			__u64 t;

			if (parse_duration(optarg, &t) || !t || t > 86400) {
				pr_err("--timeout \"%s\": want a duration from 1s to 1d", optarg);
				return EXIT_USAGE;
			}
			o->timeout_s = t;
			break;
		}
		case 'S': {
			__u64 n;

			if (parse_size(optarg, &n) || !n || n > (1ULL << 40)) {
				pr_err("--max-size \"%s\": want a size like 64M or 2G (at most 1T)",
				       optarg);
				return EXIT_USAGE;
			}
			o->max_bytes = n;
			break;
		}
		case 'K':
			o->token_file = optarg;
			break;
		case 'A':
			o->ca_file = optarg;
			break;
		case 'C':
			o->cache_dir = optarg;
			break;
		case 'h':
			load_usage(true);
			return EXIT_OK;
		default:
			load_usage(false);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		load_usage(false);
		return EXIT_USAGE;
	}
	o->name = argv[optind];
	o->source = argv[optind + 1];
	if (!feed_name_valid(o->name)) {
		pr_err("feed name \"%s\": want 1..31 of [A-Za-z0-9_.-]", o->name);
		return EXIT_USAGE;
	}
	if (strlen(o->source) >= sizeof(((struct fence_feed *)0)->source)) {
		pr_err("source \"%s\": longer than %zu characters", o->source,
		       sizeof(((struct fence_feed *)0)->source) - 1);
		return EXIT_USAGE;
	}
	return -1;
}

void feed_load_print_errors(const struct feed_load_opts *o, const struct feed_load_report *rep,
			    int ret)
{
	for (size_t i = 0; i < rep->n_lines; i++)
		fprintf(stderr, "%s:%u: %s\n", o->source, rep->lines[i].line, rep->lines[i].msg);
	if (rep->errors > rep->n_lines)
		fprintf(stderr, "%s: ... %zu more errors not shown\n", o->source,
			rep->errors - rep->n_lines);
	if (ret && !rep->why_listed)
		pr_err("%s", rep->why);
}

int feed_load_run(struct pinned *s, const struct feed_load_opts *o)
{
	struct feed_load_report rep;
	int ret = feed_load(s, o, &rep);

	feed_load_print_errors(o, &rep, ret);
	feed_load_report_free(&rep);
	if (ret)
		return ret == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	if (g_opts.json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "feed", json_object_new_string(o->name));
		json_object_object_add(j, "not_modified", json_object_new_boolean(rep.not_modified));
		json_object_object_add(j, "entries", json_object_new_int64(rep.entries));
		json_object_object_add(j, "added", json_object_new_int64(rep.added));
		json_object_object_add(j, "removed", json_object_new_int64(rep.removed));
		json_object_object_add(j, "updated", json_object_new_int64(rep.updated));
		json_object_object_add(j, "kept", json_object_new_int64(rep.kept));
		json_object_object_add(j, "skipped_lines", json_object_new_int64(rep.skipped));
		json_object_object_add(j, "refused", json_object_new_int64(rep.errors));
		json_object_object_add(j, "seconds", json_object_new_double(rep.fetch_s + rep.parse_s +
									  rep.apply_s));
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
		json_object_put(j);
	} else if (rep.not_modified) {
		pr_info("feed %s: not modified since the last load (%zu entries kept)", o->name, rep.entries);
	} else if (o->check) {
		pr_info("feed %s: %zu prefixes OK, %zu lines skipped, %zu refused; nothing applied (--check)",
			o->name, rep.entries, rep.skipped, rep.errors);
	} else {
		pr_info("feed %s: %zu prefixes (+%zu -%zu, %zu updated, %zu unchanged), %zu lines skipped%s "
			"in %.2f s", o->name, rep.entries, rep.added, rep.removed, rep.updated, rep.kept,
			rep.skipped, rep.errors ? ", some refused (--lenient)" : "",
			rep.fetch_s + rep.parse_s + rep.apply_s);
	}
	return EXIT_OK;
}

static int feed_load_cmd(int argc, char **argv)
{
	struct feed_load_opts o;
	struct pinned s;
	struct fence_feed rec;
	bool direct = false;
	int ret = feed_load_args(argc, argv, &o, &direct);

	if (ret >= 0)
		return ret;
	/* a file goes to the `xdpfence run` of the pin dir, if one runs */
	if (!o.check && !direct && !fetch_is_url(o.source)) {
		int fd = fetch_open(o.source), code;
		pid_t pid;

		if (fd >= 0) {
			ret = control_call(g_opts.pin_dir, "feed load", argc, argv, fd, &code, &pid);
			close(fd);
			if (!ret) {
				pr_debug("feed %s: loaded by xdpfence run (pid %d)", o.name, (int)pid);
				return code;
			}
			if (ret != -ENOENT) {	/* it may have applied it, or not */
				pr_err("feed %s: the xdpfence run serving %s stopped answering while "
				       "loading it (%s): see its log, and load again", o.name,
				       g_opts.pin_dir, strerror(-ret));
				return EXIT_RUNTIME;
			}
		}
	}
	/* the source is fetched and parsed on a thread, before the lock (a
	 * download never holds it) and while the maps are opened (mapping
	 * hundreds of megabytes of them takes about as long as a big file's
	 * parse); a URL is asked "modified since" the last load's record */
	struct prepare_job pj = { .o = &o };
	pthread_t th;
	bool threaded;

	if (fetch_is_url(o.source) && !feed_record_get(g_opts.pin_dir, o.name, &rec))
		pj.rec = &rec;
	threaded = !pthread_create(&th, NULL, prepare_run, &pj);
	if (!threaded)
		prepare_run(&pj);
	/* the maps are opened meanwhile, but the lock is taken only once the
	 * source is in: a slow server must not hold up other writers */
	char err[512];

	/* lazily: the walk of the slots maps those whole, a small commit
	 * only the pages it touches, a full one the tables whole */
	ret = pin_open(&s, g_opts.pin_dir, PIN_LAZY, NULL, err, sizeof(err));
	if (ret && ret != -ENOENT)
		pr_err("%s", err);
	if (threaded)
		pthread_join(th, NULL);
	o.prepared = &pj.p;
	if (!o.check && ret == -ENOENT) {	/* nothing pinned yet: create it, locked */
		ret = state_open(&s, true, true);
	} else if (!o.check && !ret) {
		struct pin_repair rep;

		ret = pin_lock(&s, g_opts.pin_dir, &rep, err, sizeof(err));
		if (ret)
			pr_err("%s", err);
		else
			state_repair_print(&rep);
	}
	if (ret && !(o.check && ret == -ENOENT)) {
		feed_prepared_free(&pj.p);
		pin_close(&s);
		return EXIT_RUNTIME;
	}
	ret = feed_load_run(ret ? NULL : &s, &o);
	feed_prepared_free(&pj.p);
	pin_close(&s);
	return ret;
}

static int feed_list_cmd(int argc, char **argv)
{
	json_object *arr = NULL;
	struct pinned s;
	int shown = 0;

	for (int i = 1; i < argc; i++) {
		bool help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");

		if (help || (strcmp(argv[i], "--json") && strcmp(argv[i], "-j"))) {
			fprintf(help ? stdout : stderr, "usage: xdpfence feed list [--json]\n"
				"  The feeds loaded: entries, action, ttl, format, when and from where.\n");
			return help ? EXIT_OK : EXIT_USAGE;
		}
		g_opts.json = true;
	}
	if (state_open(&s, false, false))
		return EXIT_RUNTIME;
	if (g_opts.json)
		arr = json_object_new_array();
	else
		printf("%-20s %9s %-9s %-8s %-14s %s\n", "feed", "entries", "action", "ttl", "format",
		       "loaded / source");
	for (__u32 k = 0; k < FENCE_FEEDS_MAX; k++) {
		struct fence_feed f;
		char ttl[32], when[32];
		time_t t;

		if (bpf_map_lookup_elem(s.m.fd[FM_FEEDS], &k, &f) || !f.name[0])
			continue;
		shown++;
		f.name[sizeof(f.name) - 1] = f.source[sizeof(f.source) - 1] = 0;
		f.etag[sizeof(f.etag) - 1] = f.last_modified[sizeof(f.last_modified) - 1] = 0;
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(f.name));
			json_object_object_add(o, "id", json_object_new_int(k));
			json_object_object_add(o, "source", json_object_new_string(f.source));
			json_object_object_add(o, "format", json_object_new_string(feed_format_name(f.format)));
			json_object_object_add(o, "entries", json_object_new_int64(f.entries));
			json_object_object_add(o, "action", json_object_new_string(action_name(f.action)));
			json_object_object_add(o, "ttl_s", json_object_new_int64(f.ttl_s));
			json_object_object_add(o, "loaded_unix", json_object_new_int64(f.loaded_unix));
			json_object_object_add(o, "etag", json_object_new_string(f.etag));
			json_object_object_add(o, "last_modified", json_object_new_string(f.last_modified));
			json_object_array_add(arr, o);
			continue;
		}
		t = f.loaded_unix;
		if (t)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", gmtime(&t));
		else	/* its first load was cut off: `feed del` or a load mends it */
			snprintf(when, sizeof(when), "%-20s", "(load incomplete)");
		printf("%-20s %9u %-9s %-8s %-14s %s %s\n", f.name, f.entries, action_name(f.action),
		       format_duration(f.ttl_s, ttl, sizeof(ttl)), feed_format_name(f.format), when,
		       f.source);
	}
	if (arr) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else if (!shown) {
		printf("(no feeds)\n");
	}
	pin_close(&s);
	return EXIT_OK;
}

static int feed_del_cmd(int argc, char **argv)
{
	struct pinned s;
	char err[256];
	size_t removed;
	int ret;

	bool help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));

	if (argc != 2 || help) {
		fprintf(help ? stdout : stderr, "usage: xdpfence feed del NAME\n"
			"  Drops the feed's ownership of its prefixes (entries nobody else\n"
			"  owns disappear) and forgets the feed.\n");
		return help ? EXIT_OK : EXIT_USAGE;
	}
	if (state_open(&s, true, false))
		return EXIT_RUNTIME;
	ret = feed_delete(&s, argv[1], &removed, err, sizeof(err));
	pin_close(&s);
	if (ret) {
		pr_err("%s", err);
		return ret == -ENOENT ? EXIT_USAGE : EXIT_RUNTIME;
	}
	pr_info("feed %s: deleted (%zu prefixes released)", argv[1], removed);
	return EXIT_OK;
}

static const struct cmd feed_cmds[] = {
	{ "load", feed_load_cmd, "NAME SOURCE [--format FMT] [--action A] [--ttl DUR] [--lenient] "
	  "[--check]", "load or reload a feed from a file or URL (applies the difference)" },
	{ "list", feed_list_cmd, "[--json]", "feeds, their sources, sizes and last load" },
	{ "del", feed_del_cmd, "NAME", "remove a feed and release its prefixes" },
	{ "export", feed_export_cmd, "[--format stix|plain|netset|crowdsec] [--owner LIST] "
	  "[--min-offences N] [-o FILE]", "our promotions and bans as intelligence for others" },
	{ NULL }
};

int do_feed(int argc, char **argv)
{
	return cmd_dispatch("feed", feed_cmds, argc - 1, argv + 1);
}
