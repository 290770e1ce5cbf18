// SPDX-License-Identifier: GPL-2.0
/* user/cli/export.c - `xdpfence feed export`: our entries as intelligence
 * for others (STIX 2.1, plain, netset, CrowdSec), to stdout or a file.
 *
 * Owns the command line; what goes out and how it is written is
 * feeds/export.c's. A file is written beside its final name and renamed
 * over it, so a reader never sees half an export.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/entries.h"
#include "engine/config.h"
#include "feeds/export.h"
#include "lib/log.h"
#include "lib/util.h"

static void export_usage(bool asked)
{
	fprintf(usage_out(asked),
"usage: xdpfence feed export [--format stix|plain|netset|crowdsec]\n"
"                            [--owner promoted,manual,feed:NAME,...] [--min-offences N]\n"
"                            [-o FILE] [--identity NAME] [--tlp LEVEL] [--config FILE]\n"
"  Writes our deny entries as intelligence for others. Allowlisted ranges, and\n"
"  bans that overlap one, never go out.\n"
"  --format   stix (default): a STIX 2.1 bundle: our identity, the TLP marking,\n"
"             one indicator per prefix ([ipv4-addr:value = 'a'] for an address,\n"
"             ISSUBSET 'p/len' for a range), valid_from/valid_until from the\n"
"             entry, confidence from its offences, the reason in description;\n"
"             an indicator's id comes from the prefix (UUIDv5), so a later\n"
"             export of the same prefix is a new version of the same object.\n"
"             plain: one prefix a line; netset: FireHOL style; crowdsec: a LAPI\n"
"             decisions stream ({\"new\": [...]}) with origin xdpfence\n"
"  --owner    whose entries: promoted (the behaviour engine), manual (`ban add`),\n"
"             feed:NAME (a feed's, only when named), feed (every feed's);\n"
"             comma-separated. Default: promoted,manual\n"
"  --min-offences N  only entries promoted at least N times (manual bans have 0)\n"
"  -o FILE    write FILE (replaced whole) instead of stdout\n"
"  --identity NAME   the producer named in the bundle (default: [taxii]\n"
"             identity of --config, else \"xdpfence@HOST\")\n"
"  --tlp      clear, green, amber (default), amber+strict or red (TLP 2.0)\n"
"  --config   read identity and tlp from this `xdpfence run` config's [taxii]\n");
}

/* "promoted,manual,feed:spamhaus" -> f; 0, or the exit code */
static int parse_owners(const char *list, const struct feed_names *fn, struct export_filter *f)
{
	char buf[512], *save = NULL, *w;

	if (strlen(list) >= sizeof(buf)) {
		pr_err("--owner: too long");
		return EXIT_USAGE;
	}
	strcpy(buf, list);
	f->owners = 0;
	f->feeds = 0;
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "promoted")) {
			f->owners |= FENCE_OWN_PROMOTED;
		} else if (!strcmp(w, "manual")) {
			f->owners |= FENCE_OWN_MANUAL;
		} else if (!strcmp(w, "feed")) {
			f->feeds = ~0U;
		} else if (!strncmp(w, "feed:", 5)) {
			int k;

			for (k = 0; k < FENCE_FEEDS_MAX; k++)
				if (fn->name[k][0] && !strcmp(fn->name[k], w + 5))
					break;
			if (k == FENCE_FEEDS_MAX) {
				pr_err("--owner: no feed named \"%s\" (`xdpfence feed list`)", w + 5);
				return EXIT_USAGE;
			}
			f->feeds |= 1U << k;
		} else {
			pr_err("--owner \"%s\": want promoted, manual, feed or feed:NAME, comma-separated",
			       w);
			return EXIT_USAGE;
		}
	}
	if (!f->owners && !f->feeds) {
		pr_err("--owner \"%s\": names no owner", list);
		return EXIT_USAGE;
	}
	return 0;
}

struct export_args {
	int format;
	const char *owner, *out, *identity, *tlp, *config;
	__u32 min_offences;
};

static int export_args(int argc, char **argv, struct export_args *a)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "owner", required_argument, NULL, 'O' },
		{ "min-offences", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' },
		{ "identity", required_argument, NULL, 'i' },
		{ "tlp", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	int c;

	*a = (struct export_args){ .format = EXPORT_STIX, .owner = "promoted,manual" };
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			a->format = export_format_parse(optarg);
			if (a->format < 0) {
				pr_err("--format \"%s\": want stix, plain, netset or crowdsec", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'O':
			a->owner = optarg;
			break;
		case 'm':
			if (parse_u32(optarg, 0, 65535, &a->min_offences)) {
				pr_err("--min-offences \"%s\": want 0..65535", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'i':
			a->identity = optarg;
			break;
		case 't':
			a->tlp = optarg;
			break;
		case 'c':
			a->config = optarg;
			break;
		case 'h':
			export_usage(true);
			return EXIT_OK;
		default:
			export_usage(false);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		pr_err("unexpected argument \"%s\"", argv[optind]);
		export_usage(false);
		return EXIT_USAGE;
	}
	return -1;
}

/* The producer: --identity/--tlp, else the config's [taxii], else defaults. */
static int export_producer(const struct export_args *a, struct stix_producer *p)
{
	char name[128], host[64] = "localhost";
	int tlp = STIX_TLP_AMBER;

	gethostname(host, sizeof(host) - 1);
	snprintf(name, sizeof(name), "xdpfence@%s", host);
	if (a->config) {
		static struct config cfg;	/* large */
		char err[4096];

		if (config_load(a->config, &cfg, err, sizeof(err))) {
			pr_err("%s", err);
			return EXIT_USAGE;
		}
		if (cfg.taxii.identity[0])
			snprintf(name, sizeof(name), "%s", cfg.taxii.identity);
		tlp = cfg.taxii.tlp;
	}
	if (a->identity) {
		if (!*a->identity || strlen(a->identity) >= sizeof(name)) {
			pr_err("--identity: want 1..%zu characters", sizeof(name) - 1);
			return EXIT_USAGE;
		}
		snprintf(name, sizeof(name), "%s", a->identity);
	}
	if (a->tlp) {
		tlp = stix_tlp_parse(a->tlp);
		if (tlp < 0) {
			pr_err("--tlp \"%s\": want clear, green, amber, amber+strict or red", a->tlp);
			return EXIT_USAGE;
		}
	}
	stix_producer_init(p, name, tlp);
	return 0;
}

/* Write to path through path.tmp, renamed over it once whole. */
static int export_to_file(const char *path, enum export_format fmt, const struct export_entry *v,
			  size_t n, const struct stix_producer *p, int64_t now_ms)
{
	char tmp[PATH_MAX], err[256];
	FILE *f;
	int ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		pr_err("-o %s: path too long", path);
		return EXIT_USAGE;
	}
	f = fopen(tmp, "wex");
	if (!f && errno == EEXIST && !unlink(tmp))
		f = fopen(tmp, "wex");
	if (!f) {
		pr_err("-o %s: %s", tmp, strerror(errno));
		return EXIT_RUNTIME;
	}
	ret = export_write(f, fmt, v, n, p, now_ms, err, sizeof(err));
	if (fsync(fileno(f)) && !ret) {
		ret = -errno;
		snprintf(err, sizeof(err), "fsync: %s", strerror(errno));
	}
	if (fclose(f) && !ret) {
		ret = -errno;
		snprintf(err, sizeof(err), "%s", strerror(errno));
	}
	if (!ret && rename(tmp, path)) {
		ret = -errno;
		snprintf(err, sizeof(err), "renaming the .tmp file: %s", strerror(errno));
	}
	if (ret) {
		unlink(tmp);
		pr_err("-o %s: %s: nothing written", path, err);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int feed_export_cmd(int argc, char **argv)
{
	struct export_filter f = {};
	struct export_entry *v = NULL;
	struct stix_producer prod;
	struct feed_names fn;
	struct export_args a;
	struct timespec ts;
	struct pinned s;
	char err[256];
	size_t n = 0;
	int64_t now_ms;
	int ret = export_args(argc, argv, &a);

	if (ret >= 0)
		return ret;
	ret = export_producer(&a, &prod);
	if (ret)
		return ret;
	if (state_open(&s, false, false))
		return EXIT_RUNTIME;
	if (feed_names_read(&s.m, &fn)) {
		pr_err("reading feed names: %s", strerror(errno));
		pin_close(&s);
		return EXIT_RUNTIME;
	}
	ret = parse_owners(a.owner, &fn, &f);
	if (ret) {
		pin_close(&s);
		return ret;
	}
	f.min_offences = a.min_offences;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	ret = export_collect(&s, &f, now_ms, fence_now_ns(), &v, &n, err, sizeof(err));
	pin_close(&s);
	if (ret) {
		pr_err("export: %s", err);
		return EXIT_RUNTIME;
	}
	if (a.out) {
		ret = export_to_file(a.out, a.format, v, n, &prod, now_ms);
		if (!ret)
			pr_info("exported %zu entries to %s", n, a.out);
	} else if (export_write(stdout, a.format, v, n, &prod, now_ms, err, sizeof(err))) {
		pr_err("export: %s", err);
		ret = EXIT_RUNTIME;
	}
	free(v);
	return ret;
}
