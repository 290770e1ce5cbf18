// SPDX-License-Identifier: GPL-2.0
/* user/cli/cmd.c - command tables: prefix matching, per-object usage. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/util.h"

FILE *usage_out(bool asked)
{
	return asked ? stdout : stderr;
}

bool help_asked(int argc, char **argv)
{
	return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

void cmd_usage(const char *object, const struct cmd *cmds, bool asked)
{
	fprintf(usage_out(asked), "usage:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(usage_out(asked), "  xdpfence %s%s%s %s\n      %s\n", object ? object : "",
			object ? " " : "", c->name, c->args, c->help);
}

int cmd_dispatch(const char *object, const struct cmd *cmds, int argc, char **argv)
{
	const struct cmd *hit = NULL;

	if (argc < 1) {
		cmd_usage(object, cmds, false);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
		cmd_usage(object, cmds, true);
		return EXIT_OK;
	}
	for (const struct cmd *c = cmds; c->name; c++) {
		if (!strcmp(argv[0], c->name)) {
			hit = c;
			break;
		}
		if (matches(argv[0], c->name)) {
			if (hit) {
				pr_err("\"%s\" is ambiguous: %s or %s?", argv[0], hit->name, c->name);
				return EXIT_USAGE;
			}
			hit = c;
		}
	}
	if (!hit) {
		pr_err("unknown %s \"%s\"", object ? "verb" : "object", argv[0]);
		cmd_usage(object, cmds, false);
		return EXIT_USAGE;
	}
	return hit->fn(argc, argv);
}
