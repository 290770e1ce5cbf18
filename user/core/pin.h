/* SPDX-License-Identifier: GPL-2.0 */
/* user/core/pin.h - the pin dir as a command sees it: the pinned maps, the
 * table over them, and the writers' lock.
 *
 * Writers hold an exclusive flock on the pin dir for the whole command, so
 * two controllers never interleave commits; under the lock, a commit mark
 * left by a writer that died half way is repaired before anything reads the
 * entries to change them. Owns creating a fresh pinned set (load the object
 * with pinning, write `meta`) when asked. Never prints: -errno and a message.
 */
#ifndef XDPFENCE_PIN_H
#define XDPFENCE_PIN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/fence.h"
#include "core/table.h"

struct xdpfence;

struct pinned {
	struct fence_maps m;
	struct table *t;
	int lock_fd;			/* flock held on the pin dir (writers), or -1 */
	char pin_dir[PATH_MAX];
};

/* What a change needs the tables to hold at least (0: as they are). */
struct grow_to {
	__u32 slots, groups, v6;
	__u32 tbl6;			/* positions of tbl6 (its keys placed again) */
};

/* Bigger maps for what want says, every interface's program switched to
 * them at once, the pins renamed to them (core/grow.c); the lock held.
 * 0, or -errno with err (nothing changed then). */
int pin_grow(struct pinned *p, const struct grow_to *want, char *err, size_t errlen);

/* Kernel memory all the pinned maps take (the controller's too), as the
 * kernel counts it. */
__u64 pin_memory(const struct pinned *p);
/* The operator's limit on it (0 = none), kept under the pin dir. */
__u64 pin_memory_limit(const char *pin_dir);
int pin_set_memory_limit(const char *pin_dir, __u64 bytes);

/* Commit what p->t has staged, the tables grown first if it needs more
 * room than they have. As table_commit otherwise. */
int pin_commit(struct pinned *p, struct table_stats *st, char *err, size_t errlen);

enum {
	PIN_WRITE = 1 << 0,		/* take the writers' lock (and repair under it) */
	PIN_CREATE = 1 << 1,		/* nothing pinned yet: create a fresh set */
	PIN_LAZY = 1 << 2,		/* map the tables a window at a time (a command
					 * that changes a few entries) */
};

/* What pin_open's repair found and did (the caller reports it). */
struct pin_repair {
	bool interrupted;		/* the last commit was cut off half way */
	bool outdated;			/* the layout was an older xdpfence's */
	struct table_stats st;
};

/* Open the set pinned under pin_dir. -ENOENT when nothing is pinned there
 * (and PIN_CREATE was not given); -EEXIST when nothing is pinned but an
 * interface runs a program of ours on a set once pinned there (creating
 * another would split the state); other -errno with err filled. With
 * PIN_WRITE, *rep (may be NULL) says what the repair under the lock did. */
int pin_open(struct pinned *p, const char *pin_dir, unsigned flags, struct pin_repair *rep,
	     char *err, size_t errlen);
void pin_close(struct pinned *p);

/* The table over p's maps again (entries as committed now), with the
 * writer's bookkeeping when the lock is held. */
int pin_table_reopen(struct pinned *p, const char *pin_dir, bool writer, char *err, size_t errlen);

/* Take the writers' lock on a set opened without it, and read the entries
 * again under it (another writer may have changed them meanwhile); then
 * repair as pin_open does. Released by pin_close. */
int pin_lock(struct pinned *p, const char *pin_dir, struct pin_repair *rep, char *err,
	     size_t errlen);

/* Repair what an interrupted commit (or an older layout) left, the lock
 * held. 0 with nothing to do leaves rep zeroed. */
int pin_repair(struct pinned *p, struct pin_repair *rep, char *err, size_t errlen);

/* Is a writer at work on pin_dir now (holding its lock)? */
bool pin_writer_busy(const char *pin_dir);

/* 0, or -EPROTO (err says so) when the maps pinned under pin_dir were made
 * by a newer xdpfence than this build: a program this build loads would
 * search them the way they no longer are. No maps pinned there: 0. */
int pin_layout_check(const char *pin_dir, char *err, size_t errlen);

/* The id of map pinned under pin_dir, 0 if none is. */
__u32 pin_map_id(const char *pin_dir, enum fence_map_id map);

/* Is prog_id xdpfence's program of pin_dir: one using the `stats` map
 * pinned there (stats_id), or, with nothing pinned (stats_id 0), one
 * loaded for that pin dir? */
bool pin_prog_ours(__u32 prog_id, const char *pin_dir, __u32 stats_id);

/* An interface whose xdpfence program was loaded for pin_dir but does not
 * run on the maps pinned there (the pin dir removed or replaced under it):
 * 1 with its name and program id, 0 if none, -errno. */
int pin_find_stray(const char *pin_dir, char *ifname, size_t len, __u32 *prog_id);

/* Open the object with pinning under opts->pin_dir (reusing what is
 * pinned), the pin dir prepared; the caller loads, attaches or destroys. */
int pin_load_skel(struct xdpfence **skel, struct fence_opts *opts, char *err, size_t errlen);

#endif
