// SPDX-License-Identifier: GPL-2.0
/* user/cli/state.c - open the pin dir for a command (core/pin.c), printing
 * what goes wrong and what a repair under the lock did. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"

int state_load_skel(struct xdpfence **skel, struct fence_opts *o)
{
	char err[256];
	int ret;

	o->pin_dir = g_opts.pin_dir;
	ret = pin_load_skel(skel, o, err, sizeof(err));
	if (ret)
		pr_err("%s", err);
	return ret;
}

void state_repair_print(const struct pin_repair *r)
{
	if (r->interrupted) {
		pr_warn("the last change to the tables was cut off half way (a writer killed?): "
			"repairing");
		pr_warn("repaired: %u lookup keys fixed, %u entries fixed, %u leaves rewritten, "
			"%u live entries", r->st.keys_fixed, r->st.entries_fixed,
			r->st.tbl24_writes + r->st.tbl8_writes, r->st.slots_used);
	} else if (r->outdated) {
		pr_info("the tables were written by an older xdpfence: bringing them up to date");
		pr_info("up to date: %u lookup keys changed, %u leaves rewritten, %u live entries",
			r->st.keys_fixed, r->st.tbl24_writes + r->st.tbl8_writes, r->st.slots_used);
	}
}

static int open_flags(struct pinned *s, unsigned flags)
{
	struct pin_repair rep;
	char err[512];
	int ret = pin_open(s, g_opts.pin_dir, flags, &rep, err, sizeof(err));

	if (ret)
		pr_err("%s", err);
	else
		state_repair_print(&rep);
	return ret;
}

int state_open(struct pinned *s, bool write, bool create)
{
	return open_flags(s, (write ? PIN_WRITE : 0) | (create ? PIN_CREATE : 0));
}

int state_open_light(struct pinned *s, bool create)
{
	return open_flags(s, PIN_WRITE | PIN_LAZY | (create ? PIN_CREATE : 0));
}
