/* user/control.h - `xdpfence run` serves commands of the one-shot CLI over
 * a local socket, so they run in its long-lived process.
 *
 * Why: a fresh process pays for every page it touches for the first time
 * (microseconds each on a paravirtualised guest): its own buffers, and the
 * hundreds of megabytes of pinned maps a feed reload reads and writes. The
 * daemon has touched them before. A 1% reload of a 1M-prefix feed takes
 * ~0.35 s one-shot here and ~0.12 s in the daemon.
 *
 * The socket is abstract (no file to go stale; it goes with the daemon),
 * named after the pin dir, in the daemon's network namespace. Only root or
 * the daemon's own user is served (SO_PEERCRED). The client passes its
 * stdout and stderr, and the source file it opened itself, as descriptors:
 * the daemon writes the messages the CLI would have written to them and
 * reads the file the client could read; the reply is the exit code.
 */
#ifndef XDPFENCE_CONTROL_H
#define XDPFENCE_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

/* Daemon: listen for the pin dir's clients. The fd (non-blocking), or
 * -errno: -EADDRINUSE when another process serves that pin dir already. */
int control_listen(const char *pin_dir);

/* What a served request was, for the daemon's event log. */
struct control_request {
	pid_t pid;
	uid_t uid;
	char command[32];	/* "feed load" */
	int code;		/* the exit code sent back */
	bool refused;		/* not root nor our user, or not a command we serve */
};

/* Run one command on a client's behalf: argv as the client had it from
 * the verb on, src_fd the source it opened (-1: none); stdout and stderr
 * are the client's meanwhile. Returns the client's exit code, or -1 for a
 * command it does not serve (having done nothing: the client runs it). */
typedef int (*control_fn)(void *ctx, const char *command, int argc, char **argv, int src_fd);

/* Daemon: serve one waiting client. 0 when one was served (or refused: see
 * r), -EAGAIN when none is waiting, other -errno on failure. */
int control_serve(int lfd, control_fn fn, void *ctx, struct control_request *r);

/* Client: have the daemon serving pin_dir run command ("feed load") with
 * argv (from the verb on) and src_fd. 0: it ran, *code is its exit code;
 * -ENOENT: no daemon serves pin_dir, or it refused before doing anything:
 * run the command here; other -errno: it failed midway (*pid is the
 * daemon's, when known). */
int control_call(const char *pin_dir, const char *command, int argc, char **argv, int src_fd,
		 int *code, pid_t *pid);

#endif
