/* user/cli/state.c - open (or create) the pinned state under the pin dir. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "xdpfence.skel.h"

int state_load_skel(struct xdpfence **skel, struct fence_opts *o)
{
	int err;

	o->pin_dir = g_opts.pin_dir;
	err = fence_prepare_pin_dir(g_opts.pin_dir);
	if (err) {
		pr_err("pin dir %s: %s%s", g_opts.pin_dir, strerror(-err),
		       err == -ENOTSUP ? " (not on a bpf filesystem)" : "");
		return err;
	}
	err = fence_skel_open(skel, o);
	if (err) {
		pr_err("opening BPF object: %s", strerror(-err));
		return err;
	}
	return 0;
}

static int create_pinned(void)
{
	struct fence_opts o = {};
	struct xdpfence *skel;
	struct fence_maps m;
	int err = state_load_skel(&skel, &o);

	if (err)
		return err;
	err = xdpfence__load(skel);
	if (err) {
		pr_err("loading BPF object: %s", strerror(-err));
		goto out;
	}
	err = fence_maps_from_skel(&m, skel, &o);
	if (!err)
		fence_maps_close(&m);
	else
		pr_err("pinned maps: %s", strerror(-err));
out:
	xdpfence__destroy(skel);
	return err;
}

int state_open(struct state *s, bool write, bool create)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	if (write || create) {
		err = fence_prepare_pin_dir(g_opts.pin_dir);
		if (err) {
			pr_err("pin dir %s: %s", g_opts.pin_dir, strerror(-err));
			return err;
		}
		s->lock_fd = open(g_opts.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX)) {
			err = -errno;
			pr_err("locking %s: %s", g_opts.pin_dir, strerror(errno));
			state_close(s);
			return err;
		}
	}
	err = fence_maps_from_pins(&s->m, g_opts.pin_dir);
	if (err == -ENOENT && create) {
		err = create_pinned();
		if (!err)
			err = fence_maps_from_pins(&s->m, g_opts.pin_dir);
	}
	if (err) {
		if (err == -ENOENT)
			pr_err("nothing pinned under %s: run `xdpfence attach IFACE` first "
			       "(or pass --pin-dir)", g_opts.pin_dir);
		else
			pr_err("opening pinned maps under %s: %s", g_opts.pin_dir, strerror(-err));
		state_close(s);
		return err;
	}
	err = table_open(&s->t, &s->m);
	if (err) {
		pr_err("reading entries: %s", strerror(-err));
		state_close(s);
		return err;
	}
	if (s->lock_fd >= 0) {
		err = state_repair(s->t);
		if (err) {
			state_close(s);
			return err;
		}
	}
	return 0;
}

/* Is a writer at work on the pin dir now (holding its lock)? */
bool state_writer_busy(void)
{
	int fd = open(g_opts.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool busy;

	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);	/* releases the lock if taken */
	return busy;
}

/* Under the lock, a commit mark left behind means its writer died half
 * way: repair before anything reads the entries to change them. */
int state_repair(struct table *t)
{
	struct table_stats st;
	char err[256];
	bool cut = table_interrupted(t);
	int ret;

	if (cut)
		pr_warn("the last change to the tables was cut off half way (a writer killed?): "
			"repairing");
	else if (table_outdated(t))
		pr_info("the tables were written by an older xdpfence: bringing them up to date");
	else
		return 0;
	ret = table_repair(t, &st, err, sizeof(err));
	if (ret)
		pr_err("repairing the tables: %s", err);
	else if (cut)
		pr_warn("repaired: %u lookup keys fixed, %u entries fixed, %u leaves rewritten, "
			"%u live entries", st.keys_fixed, st.entries_fixed,
			st.tbl24_writes + st.tbl8_writes, st.slots_used);
	else
		pr_info("up to date: %u lookup keys changed, %u leaves rewritten, %u live entries",
			st.keys_fixed, st.tbl24_writes + st.tbl8_writes, st.slots_used);
	return ret;
}

void state_close(struct state *s)
{
	table_close(s->t);
	s->t = NULL;
	if (s->m.tbl24)
		fence_maps_close(&s->m);
	if (s->lock_fd >= 0)
		close(s->lock_fd);	/* releases the flock */
	s->lock_fd = -1;
}
