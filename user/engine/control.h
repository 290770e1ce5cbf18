/* SPDX-License-Identifier: GPL-2.0 */
/* user/engine/control.h - `xdpfence run` serves commands of the one-shot CLI over
 * a local socket, so they run in its long-lived process.
 *
 * Why: a fresh process pays for every page it touches for the first time
 * (microseconds each on a paravirtualised guest): its own buffers, and the
 * hundreds of megabytes of pinned maps a feed reload reads and writes. The
 * daemon has touched them before (figures: docs/benchmarks.md).
 *
 * Trust, both ways: the socket is a file in CONTROL_DIR (/run/xdpfence,
 * 0700, the daemon's user), named after the pin dir; each side checks the
 * other's credentials (SO_PEERCRED: root or its own user) before it sends
 * anything. The client passes the source as a descriptor it opened itself
 * (a regular file on a local filesystem only: the daemon never waits on a
 * pipe, a terminal or a network mount);
 * the daemon reads it whole before it takes the pin dir's lock, captures
 * what the command prints in memory files and hands them back with the
 * exit code, for the client to print. A client gone before the lock is
 * taken cancels the command.
 */
#ifndef XDPFENCE_CONTROL_H
#define XDPFENCE_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

#define CONTROL_DIR	"/run/xdpfence"

struct control {
	int fd;			/* listening, non-blocking */
	int lock_fd;		/* flock on ctl-HASH.lock: the daemon of the pin dir */
	char path[108];		/* the socket file, removed by control_close */
	char lock_path[116];	/* the lock file (holds the pid), removed likewise */
};

/* Daemon: become the one daemon of pin_dir, for its life (the lock file
 * holds its pid). 0, or -errno: -EADDRINUSE when another live process is
 * (its pid in *holder, 0 if unknown). */
int control_lock(struct control *c, const char *pin_dir, pid_t *holder);
/* Daemon, the lock held: listen for the pin dir's clients. 0 or -errno. */
int control_listen(struct control *c);
/* Stop listening, give up the lock; both files go. */
void control_close(struct control *c);

/* What a served request was, for the daemon's event log. */
struct control_request {
	pid_t pid;
	uid_t uid;
	char command[32];	/* "feed load" */
	int code;		/* the exit code sent back */
	bool refused;		/* not root nor our user, a malformed request, or
				 * one fn would not serve: the client runs it */
};

/* Run one command on a client's behalf: argv as the client had it from
 * the verb on, src_fd the regular file it opened; what it prints to
 * stdout and stderr goes back to the client. conn is the client's
 * connection (control_gone). The exit code, or -1 for a command it does
 * not serve, having done nothing (the client then runs it itself). */
typedef int (*control_fn)(void *ctx, const char *command, int argc, char **argv, int src_fd,
			  int conn);

/* Daemon: serve one waiting client. 0 when one was served or refused (see
 * r), -EAGAIN when none is waiting, other -errno when accepting fails. */
int control_serve(struct control *c, control_fn fn, void *ctx, struct control_request *r);

/* Has the client hung up (killed, interrupted)? */
bool control_gone(int conn);

/* Client: have the daemon serving pin_dir run command ("feed load") with
 * argv (from the verb on) on src_fd, a regular file. 0: it ran, its
 * output is printed here and *code is its exit code; -ENOENT: no daemon
 * serves pin_dir, or it did not take the command: run it here (nothing
 * was done); other -errno: it failed midway (it may or may not have
 * applied the command). */
int control_call(const char *pin_dir, const char *command, int argc, char **argv, int src_fd,
		 int *code, pid_t *pid);

#endif
