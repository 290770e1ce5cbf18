/* user/core/pin.c - see pin.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "core/pin.h"
#include "xdpfence.skel.h"

int pin_load_skel(struct xdpfence **skel, struct fence_opts *o, char *err, size_t errlen)
{
	int ret = fence_prepare_pin_dir(o->pin_dir);

	if (ret) {
		snprintf(err, errlen, "pin dir %s: %s%s", o->pin_dir, strerror(-ret),
			 ret == -ENOTSUP ? " (not on a bpf filesystem)" : "");
		return ret;
	}
	ret = fence_skel_open(skel, o);
	if (ret)
		snprintf(err, errlen, "opening BPF object: %s", strerror(-ret));
	return ret;
}

static int create_pinned(const char *pin_dir, char *err, size_t errlen)
{
	struct fence_opts o = { .pin_dir = pin_dir };
	struct xdpfence *skel;
	struct fence_maps m;
	int ret = pin_load_skel(&skel, &o, err, errlen);

	if (ret)
		return ret;
	ret = xdpfence__load(skel);
	if (ret) {
		snprintf(err, errlen, "loading BPF object: %s", strerror(-ret));
		goto out;
	}
	ret = fence_maps_from_skel(&m, skel, &o);
	if (!ret)
		fence_maps_close(&m);
	else
		snprintf(err, errlen, "pinned maps: %s", strerror(-ret));
out:
	xdpfence__destroy(skel);
	return ret;
}

int pin_open(struct pinned *p, const char *pin_dir, unsigned flags, struct pin_repair *rep,
	     char *err, size_t errlen)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->lock_fd = -1;
	if (rep)
		memset(rep, 0, sizeof(*rep));
	if (flags & (PIN_WRITE | PIN_CREATE)) {
		ret = fence_prepare_pin_dir(pin_dir);
		if (ret) {
			snprintf(err, errlen, "pin dir %s: %s", pin_dir, strerror(-ret));
			return ret;
		}
		p->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->lock_fd < 0 || flock(p->lock_fd, LOCK_EX)) {
			ret = -errno;
			snprintf(err, errlen, "locking %s: %s", pin_dir, strerror(errno));
			pin_close(p);
			return ret;
		}
	}
	ret = fence_maps_from_pins(&p->m, pin_dir);
	if (ret == -ENOENT && (flags & PIN_CREATE)) {
		ret = create_pinned(pin_dir, err, errlen);
		if (ret) {
			pin_close(p);
			return ret;
		}
		ret = fence_maps_from_pins(&p->m, pin_dir);
	}
	if (ret) {
		if (ret == -ENOENT)
			snprintf(err, errlen, "nothing pinned under %s: run `xdpfence attach IFACE` "
				 "first (or pass --pin-dir)", pin_dir);
		else
			snprintf(err, errlen, "opening pinned maps under %s: %s", pin_dir,
				 strerror(-ret));
		pin_close(p);
		return ret;
	}
	ret = table_open(&p->t, &p->m);
	if (ret) {
		snprintf(err, errlen, "reading entries: %s", strerror(-ret));
		pin_close(p);
		return ret;
	}
	if (p->lock_fd >= 0) {
		struct pin_repair r;

		ret = pin_repair(p, rep ? rep : &r, err, errlen);
		if (ret) {
			pin_close(p);
			return ret;
		}
	}
	return 0;
}

bool pin_writer_busy(const char *pin_dir)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool busy;

	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);	/* releases the lock if taken */
	return busy;
}

int pin_repair(struct pinned *p, struct pin_repair *rep, char *err, size_t errlen)
{
	char why[256];
	int ret;

	memset(rep, 0, sizeof(*rep));
	rep->interrupted = table_interrupted(p->t);
	rep->outdated = !rep->interrupted && table_outdated(p->t);
	if (!rep->interrupted && !rep->outdated)
		return 0;
	ret = table_repair(p->t, &rep->st, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "repairing the tables: %s", why);
	return ret;
}

void pin_close(struct pinned *p)
{
	table_close(p->t);
	p->t = NULL;
	if (p->m.tbl24)
		fence_maps_close(&p->m);
	if (p->lock_fd >= 0)
		close(p->lock_fd);	/* releases the flock */
	p->lock_fd = -1;
}
