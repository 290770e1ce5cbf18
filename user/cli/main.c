// SPDX-License-Identifier: GPL-2.0
/* user/cli/main.c - global options and dispatch to `xdpfence OBJECT VERB`. Nothing else. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/util.h"

struct global_opts g_opts = { .pin_dir = FENCE_PIN_DIR_DEFAULT };

static const struct cmd objects[] = {
	{ "attach", do_attach, "IFACE [--mode native|skb] [sizing options]",
	  "load the filter (or reuse the pinned one) and attach it to IFACE" },
	{ "detach", do_detach, "IFACE", "remove xdpfence from IFACE; other XDP programs stay" },
	{ "status", do_status, "[--json]", "interfaces, modes, program ids, map fill levels" },
	{ "ban", do_ban, "add|del|list ...", "deny entries (drop, throttle or monitor a prefix)" },
	{ "allow", do_allow, "add|del|list ...", "allowlist: always passes, beats every ban" },
	{ "feed", do_feed, "load|list|del ...", "threat feeds from files or http(s) URLs" },
	{ "signal", do_signal, "add IP [--account A] [--kind K] [--weight N]",
	  "report abuse seen by the API tier to the running daemon" },
	{ "stats", do_stats, "[--json]", "packets and bytes per reason, summed over CPUs" },
	{ "run", do_run, "--config FILE", "the behaviour engine: promote, throttle, escalate, expire (daemon)" },
	{ "top", do_top, "[-n N] [--by conns|packets|drops] [--interval DUR] [--json]",
	  "busiest source prefixes with rates" },
	{ NULL }
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: xdpfence [--pin-dir DIR] [--json] [-v] OBJECT VERB [ARGS]\n"
"\n"
"An XDP edge filter: drops banned IPv4/IPv6 ranges at line rate, lets\n"
"allowlisted ranges through first, throttles new connections per prefix,\n"
"loads threat feeds and counts traffic per source prefix (/24, /64).\n"
"\n"
"Objects:\n");
	for (const struct cmd *c = objects; c->name; c++)
		fprintf(f, "  %-7s %-58s\n          %s\n", c->name, c->args, c->help);
	fprintf(f,
"\n"
"Global options:\n"
"  --pin-dir DIR  where maps are pinned (default %s);\n"
"                 several instances can run side by side in different dirs\n"
"  -j, --json     machine-readable output for listings\n"
"  -v             more detail (-vv: libxdp too)\n"
"  -h, --help     this text; `xdpfence OBJECT help` for an object's verbs\n"
"  -V, --version\n"
"\n"
"Examples:\n"
"  xdpfence attach eth0\n"
"  xdpfence ban add 203.0.113.0/24 --ttl 10m --reason \"scraper burst\"\n"
"  xdpfence ban add 2001:db8:bad::/48 --action throttle --rate 20/s --burst 40\n"
"  xdpfence allow add 198.51.100.0/24\n"
"  xdpfence feed load spamhaus https://www.spamhaus.org/drop/drop_v4.json\n"
"  xdpfence top -n 10 --by conns\n"
"  xdpfence signal add 198.51.100.7 --account acct-123 --kind distillation\n"
"  bpftool map dump pinned %s/stats\n"
"\n"
"Exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input.\n",
		FENCE_PIN_DIR_DEFAULT, FENCE_PIN_DIR_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL }
	};
	int c;

	/* '+': stop at the first non-option, the OBJECT */
	while ((c = getopt_long(argc, argv, "+p:jvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			g_opts.pin_dir = optarg;
			break;
		case 'j':
			g_opts.json = true;
			break;
		case 'v':
			g_opts.verbose++;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("xdpfence 0.1\n");
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	log_setup(g_opts.verbose);
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	return cmd_dispatch(NULL, objects, argc - optind, argv + optind);
}
