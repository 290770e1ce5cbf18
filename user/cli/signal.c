// SPDX-License-Identifier: GPL-2.0
/* user/cli/signal.c - `xdpfence signal add`: a report of the API tier, for
 * scripts, handed to the `xdpfence run` of the pin dir (which counts
 * signals: engine/signals.h). The report is checked here, as the daemon
 * will check it, and goes to it as the JSON its HTTP intake takes. */
#define _GNU_SOURCE		/* memfd_create */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cli/cli.h"
#include "engine/control.h"
#include "engine/signals.h"
#include "lib/log.h"

static void add_usage(FILE *f)
{
	fprintf(f,
"usage: xdpfence signal add IP [--account A] [--kind K] [--weight N]\n"
"       xdpfence signal add --file FILE|-\n"
"\n"
"Hands a report of abuse seen by the API tier to the `xdpfence run` of the\n"
"pin dir, as POST /v1/signals of its [signals] section would. It counts\n"
"at the daemon's next tick: rules of metric signals (sum of weights) and\n"
"accounts (distinct accounts) per source prefix (/24, /64) promote it.\n"
"\n"
"  IP             the reported source address (no prefix length)\n"
"  --account A    the account it used (1..128 printable characters)\n"
"  --kind K       what it did: distillation, scraping, ... (1..32 of\n"
"                 [A-Za-z0-9_.-])\n"
"  --weight N     how much the report counts, 1..1000 (default 1)\n"
"  --file FILE    reports as JSON instead: one object, or an array of them\n"
"                 ({\"ip\": ..., \"account\": ..., \"kind\": ..., \"weight\": ...});\n"
"                 - reads stdin. All are taken, or none.\n"
"\n"
"Exit status: 0 taken, 1 no daemon serves the pin dir or it refused them\n"
"(busy, over the rate of a client), 2 a bad report (named).\n"
"\n"
"Example:\n"
"  xdpfence signal add 198.51.100.7 --account acct-123 --kind distillation\n");
}

/* The reports as the JSON body of a request, in a memory file. */
static int body_fd(const char *text, size_t len)
{
	int fd = memfd_create("xdpfence-signal", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET)) {
		int e = errno ? errno : EIO;

		close(fd);
		return -e;
	}
	return fd;
}

static char *read_all(FILE *f, size_t max, size_t *len)
{
	size_t cap = 4096, n = 0, k;
	char *b = malloc(cap);

	while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n > max)
			break;
		if (n == cap) {
			char *x = realloc(b, cap *= 2);

			if (!x) {
				free(b);
				return NULL;
			}
			b = x;
		}
	}
	*len = n;
	return b;
}

static int signal_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "account", required_argument, NULL, 'a' },
		{ "kind", required_argument, NULL, 'k' },
		{ "weight", required_argument, NULL, 'w' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	const char *account = NULL, *kind = NULL, *weight = NULL, *file = NULL;
	struct signal_in *v = NULL;
	char why[256], *text = NULL;
	size_t len = 0, n;
	int c, fd, ret, code;
	pid_t pid;

	optind = 0;
	while ((c = getopt_long(argc, argv, "a:k:w:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': account = optarg; break;
		case 'k': kind = optarg; break;
		case 'w': weight = optarg; break;
		case 'f': file = optarg; break;
		case 'h':
			add_usage(stdout);
			return EXIT_OK;
		default:
			add_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (file ? (optind != argc || account || kind || weight) : optind + 1 != argc) {
		pr_err("signal add: give one IP (with its options), or --file alone");
		add_usage(stderr);
		return EXIT_USAGE;
	}
	if (file) {
		FILE *f = strcmp(file, "-") ? fopen(file, "re") : stdin;

		if (!f) {
			pr_err("signal add: %s: %s", file, strerror(errno));
			return EXIT_USAGE;
		}
		text = read_all(f, 64 << 20, &len);
		if (f != stdin)
			fclose(f);
		if (!text) {
			pr_err("signal add: %s: out of memory", file);
			return EXIT_RUNTIME;
		}
	} else {
		json_object *o = json_object_new_object();
		char *end;
		long w;

		json_object_object_add(o, "ip", json_object_new_string(argv[optind]));
		if (account)
			json_object_object_add(o, "account", json_object_new_string(account));
		if (kind)
			json_object_object_add(o, "kind", json_object_new_string(kind));
		if (weight) {
			errno = 0;
			w = strtol(weight, &end, 10);
			if (errno || end == weight || *end || w < 1 || w > SIGNAL_WEIGHT_MAX) {
				pr_err("signal add: --weight %s: want a whole number from 1 to %d", weight,
				       SIGNAL_WEIGHT_MAX);
				json_object_put(o);
				return EXIT_USAGE;
			}
			json_object_object_add(o, "weight", json_object_new_int64(w));
		}
		text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		len = text ? strlen(text) : 0;
		json_object_put(o);
		if (!text)
			return EXIT_RUNTIME;
	}
	/* checked here first: a bad report is the operator's to fix */
	ret = signals_parse(text, len, 10000000, &v, &n, why, sizeof(why));
	free(v);
	if (ret) {
		pr_err("signal add: %s%s%s", file ? file : "", file ? ": " : "", why);
		free(text);
		return ret == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
	}
	fd = body_fd(text, len);
	free(text);
	if (fd < 0) {
		pr_err("signal add: a memory file: %s", strerror(-fd));
		return EXIT_RUNTIME;
	}
	ret = control_call(g_opts.pin_dir, "signal add", argc, argv, fd, &code, &pid);
	close(fd);
	if (ret == -ENOENT) {
		pr_err("signal add: no `xdpfence run` serves %s: signals are counted by the daemon "
		       "(start it, or give the --pin-dir it runs on)", g_opts.pin_dir);
		return EXIT_RUNTIME;
	}
	if (ret) {
		pr_err("signal add: the xdpfence run serving %s stopped answering (%s)", g_opts.pin_dir,
		       strerror(-ret));
		return EXIT_RUNTIME;
	}
	pr_debug("signal add: served by xdpfence run (pid %d)", (int)pid);
	return code;
}

static const struct cmd signal_cmds[] = {
	{ "add", signal_add, "IP [--account A] [--kind K] [--weight N] | --file FILE|-",
	  "report abuse seen by the API tier to the daemon (counts toward signals/accounts rules)" },
	{ NULL }
};

int do_signal(int argc, char **argv)
{
	return cmd_dispatch("signal", signal_cmds, argc - 1, argv + 1);
}
