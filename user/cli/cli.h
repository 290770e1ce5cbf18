/* SPDX-License-Identifier: GPL-2.0 */
/* user/cli/cli.h - what every command shares: global options, the command
 * tables, exit codes, and opening the pinned state. */
#ifndef XDPFENCE_CLI_H
#define XDPFENCE_CLI_H

#include <stdbool.h>

#include "core/fence.h"
#include "core/pin.h"
#include "core/table.h"

enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,	/* the system said no: BPF, files, network */
	EXIT_USAGE = 2,		/* the operator's input is wrong */
};

struct global_opts {
	const char *pin_dir;
	bool json;
	int verbose;
};
extern struct global_opts g_opts;

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);	/* argv[0] is the verb */
	const char *args;
	const char *help;
};

/* Pick argv[0] from cmds (unique prefix), run it; usage on error. */
int cmd_dispatch(const char *object, const struct cmd *cmds, int argc, char **argv);
void cmd_usage(const char *object, const struct cmd *cmds, bool asked);

/* Where a verb's usage goes: stdout when asked for (--help, exit 0),
 * stderr after a mistake (exit 2). */
FILE *usage_out(bool asked);
/* argv is only the verb and "--help" or "-h"? */
bool help_asked(int argc, char **argv);

/* The pin dir of g_opts (core/pin.h), errors and repairs printed. write:
 * take the writers' lock; create: load and pin a fresh set when nothing is
 * pinned yet. Close with pin_close. */
int state_open(struct pinned *s, bool write, bool create);
/* For a writer that changes a few entries: the tables mapped a window at a
 * time (whatever walks them all maps them whole first, by itself). */
int state_open_light(struct pinned *s, bool create);
void state_repair_print(const struct pin_repair *r);

/* Load the object with pinning under g_opts.pin_dir (reusing what is pinned);
 * the caller attaches or destroys. */
int state_load_skel(struct xdpfence **skel, struct fence_opts *opts);

/* Attach to one interface (see `xdpfence attach`); an EXIT_* code. */
int fence_attach(const char *ifname, bool skb, struct fence_opts *o);

/* `feed load` in two halves, for `xdpfence run` to serve it (control.h):
 * its arguments into o (and --direct into *direct, if asked; -1 to go on,
 * else the exit code, usage printed), then the load into s, the lock held,
 * and its report (the exit code). */
struct feed_load_opts;
int feed_load_args(int argc, char **argv, struct feed_load_opts *o, bool *direct);
int feed_load_run(struct pinned *s, const struct feed_load_opts *o);
/* A load's bad lines as SOURCE:LINE: what, then why it failed (ret). */
struct feed_load_report;
void feed_load_print_errors(const struct feed_load_opts *o, const struct feed_load_report *rep,
			    int ret);

int do_attach(int argc, char **argv);
int do_detach(int argc, char **argv);
int do_status(int argc, char **argv);
int do_ban(int argc, char **argv);
int do_allow(int argc, char **argv);
int do_feed(int argc, char **argv);
int feed_export_cmd(int argc, char **argv);	/* export.c: `feed export` */
int do_stats(int argc, char **argv);
int do_top(int argc, char **argv);
int do_run(int argc, char **argv);
int do_signal(int argc, char **argv);

#endif
