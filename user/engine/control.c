// SPDX-License-Identifier: GPL-2.0
/* user/engine/control.c - see control.h. */
#define _GNU_SOURCE		/* accept4, memfd_create, struct ucred, POLLRDHUP */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/control.h"
#include "lib/log.h"

#define CTL_MAGIC	0x78666332	/* "xfc2": bump with any change below */
#define CTL_MSG_MAX	8192
#define CTL_ARGS_MAX	63

struct ctl_req {
	__u32 magic;
	__u32 json;
	__s32 verbose;
	__u32 argc;
	char command[32];
	/* then argc NUL-terminated strings; one fd: the source */
};

enum { CTL_ACK = 1, CTL_DONE = 2 };

struct ctl_rep {
	__u32 magic;
	__u32 type;		/* CTL_ACK: request taken; CTL_DONE: with the
				 * stdout and stderr memory files, unless refused */
	__s32 code;
	__u32 refused;
	__s32 pid;
};

/* A source worth handing over: a regular file on a local filesystem,
 * whose reads cannot block for long (not a FIFO, a terminal, tracefs'
 * trace_pipe, or a hung network mount: the daemon would stop with it). */
static bool source_ok(int fd)
{
	static const unsigned long local[] = {
		0xEF53,		/* ext2/3/4 */
		0x58465342,	/* xfs */
		0x9123683E,	/* btrfs */
		0x01021994,	/* tmpfs */
		0x794C7630,	/* overlayfs */
		0xF2F52010,	/* f2fs */
	};
	struct statfs fs;
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || fstatfs(fd, &fs))
		return false;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if ((unsigned long)fs.f_type == local[i])
			return true;
	return false;
}

static bool cred_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static int peer_uid(int s, struct ucred *cr)
{
	socklen_t len = sizeof(*cr);

	return getsockopt(s, SOL_SOCKET, SO_PEERCRED, cr, &len) ? -errno : 0;
}

/* The socket file for a pin dir: a hash of its real path (one name
 * whatever way the path is written). */
static int ctl_addr(const char *pin_dir, struct sockaddr_un *a)
{
	char real[PATH_MAX];
	__u64 h = 1469598103934665603ULL;	/* FNV-1a */

	if (!realpath(pin_dir, real))
		return -errno;
	for (const char *p = real; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/ctl-%016llx.sock", CONTROL_DIR,
		 (unsigned long long)h);
	return 0;
}

/* CONTROL_DIR as it must be: a directory of root or ours, which no one
 * else may write to or (mode 0700 when we make it) enter. */
static bool dir_trusted(void)
{
	struct stat st;

	return !lstat(CONTROL_DIR, &st) && S_ISDIR(st.st_mode) && cred_ok(st.st_uid) &&
	       !(st.st_mode & 022);
}

/* Who holds the lock file at path (the pid it holds), or 0. */
static pid_t lock_holder(const char *path)
{
	char buf[24] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? (pid_t)atoi(buf) : 0;
}

int control_lock(struct control *c, const char *pin_dir, pid_t *holder)
{
	struct sockaddr_un a;
	int ret = ctl_addr(pin_dir, &a);

	c->fd = c->lock_fd = -1;
	c->path[0] = c->lock_path[0] = 0;
	*holder = 0;
	if (ret)
		return ret;
	if (mkdir(CONTROL_DIR, 0700) && errno != EEXIST)
		return -errno;
	if (!dir_trusted())
		return -EPERM;
	snprintf(c->path, sizeof(c->path), "%s", a.sun_path);
	snprintf(c->lock_path, sizeof(c->lock_path), "%.*s.lock", (int)(strlen(a.sun_path) - 5),
		 a.sun_path);
	/* the lock file goes with its daemon (control_close): one that got
	 * the lock of a file unlinked meanwhile tries again on the new one */
	for (int tries = 0; tries < 8; tries++) {
		struct stat fst, pst;
		char pid[24];

		c->lock_fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (c->lock_fd < 0)
			return -errno;
		if (flock(c->lock_fd, LOCK_EX | LOCK_NB)) {
			ret = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
			close(c->lock_fd);
			c->lock_fd = -1;
			if (ret == -EADDRINUSE)
				*holder = lock_holder(c->lock_path);
			return ret;
		}
		if (fstat(c->lock_fd, &fst) || stat(c->lock_path, &pst) || fst.st_ino != pst.st_ino ||
		    fst.st_dev != pst.st_dev) {
			close(c->lock_fd);
			c->lock_fd = -1;
			continue;
		}
		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		/* the pid is for messages only: a failed write is no failure */
		(void)!ftruncate(c->lock_fd, 0);
		(void)!pwrite(c->lock_fd, pid, strlen(pid), 0);
		return 0;
	}
	return -EAGAIN;
}

int control_listen(struct control *c)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, ret;

	if (c->lock_fd < 0)
		return -ENOLCK;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", c->path);
	unlink(a.sun_path);		/* left by a daemon that died */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || chmod(a.sun_path, 0600) ||
	    listen(fd, 16)) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		unlink(a.sun_path);
		return ret;
	}
	c->fd = fd;
	return 0;
}

void control_close(struct control *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);	/* ours: we hold the lock */
	}
	if (c->lock_fd >= 0) {
		unlink(c->lock_path);	/* still ours: nobody else has it */
		close(c->lock_fd);
	}
	c->fd = c->lock_fd = -1;
}

bool control_gone(int conn)
{
	struct pollfd p = { conn, POLLRDHUP, 0 };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* The descriptors a message brought (any message, even an empty one):
 * the first max into fds, the rest closed. */
static void take_fds(struct msghdr *mh, ssize_t n, int *fds, int max)
{
	int kept = 0;

	for (struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(mh) : NULL; h; h = CMSG_NXTHDR(mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (kept < max)
				fds[kept++] = fd;
			else
				close(fd);
		}
	}
}

/* One message of len bytes, with nfds (at most 2) descriptors. */
static int send_msg(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *h;

		memset(cm.buf, 0, sizeof(cm.buf));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
	}
	return sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

/* Run fn with memory files in place of our stdout and stderr (the client's
 * -v/--json meanwhile); ours come back after (this process has no other
 * thread that writes to them while a command runs). -1: not run. */
static int run_captured(const struct ctl_req *q, const char *command, int out, int err,
			control_fn fn, void *ctx, int argc, char **argv, int src, int conn)
{
	int save_out, save_err, code = -1, verbose = log_verbose;
	bool json = g_opts.json;

	fflush(stdout);
	fflush(stderr);
	save_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
	save_err = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (save_out < 0 || save_err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto out;
	g_opts.json = q->json;
	log_verbose = q->verbose;
	code = fn(ctx, command, argc, argv, src, conn);
	fflush(stdout);
	fflush(stderr);
out:
	if (save_out >= 0) {
		dup2(save_out, 1);
		close(save_out);
	}
	if (save_err >= 0) {
		dup2(save_err, 2);
		close(save_err);
	}
	g_opts.json = json;
	log_verbose = verbose;
	return code;
}

int control_serve(struct control *c, control_fn fn, void *ctx, struct control_request *r)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	union {
		struct ctl_req q;
		char b[CTL_MSG_MAX + 1];
	} msg;
	struct iovec iov = { msg.b, CTL_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	struct timeval tv = { 0, 200000 };	/* a client connects and says nothing */
	struct ctl_rep rep = { .magic = CTL_MAGIC, .type = CTL_DONE, .refused = 1, .pid = getpid() };
	struct ucred cred;
	int src = -1, out = -1, err = -1, conn;
	char *argv[CTL_ARGS_MAX + 1];
	ssize_t n;
	size_t off;

	memset(r, 0, sizeof(*r));
	r->refused = true;
	conn = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* who, before reading a byte (the directory's mode keeps others out
	 * already) */
	if (peer_uid(conn, &cred) || !cred_ok(cred.uid)) {
		r->uid = cred.uid;
		close(conn);
		return 0;
	}
	r->pid = cred.pid;
	r->uid = cred.uid;
	if (setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		goto out;
	n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	take_fds(&mh, n, &src, 1);
	if (n < (ssize_t)sizeof(msg.q) || msg.q.magic != CTL_MAGIC ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || msg.q.argc < 1 ||
	    msg.q.argc > CTL_ARGS_MAX || src < 0 || !source_ok(src))
		goto out;
	msg.b[n] = 0;
	memcpy(r->command, msg.q.command, sizeof(r->command) - 1);
	off = sizeof(msg.q);
	for (__u32 i = 0; i < msg.q.argc; i++) {
		if (off >= (size_t)n)
			goto out;
		argv[i] = msg.b + off;
		off += strlen(argv[i]) + 1;
	}
	argv[msg.q.argc] = NULL;
	out = memfd_create("xdpfence-stdout", MFD_CLOEXEC);
	err = memfd_create("xdpfence-stderr", MFD_CLOEXEC);
	if (out < 0 || err < 0 ||
	    send_msg(conn, &(struct ctl_rep){ CTL_MAGIC, CTL_ACK, 0, 0, getpid() },
		     sizeof(struct ctl_rep), NULL, 0))
		goto out;
	rep.code = run_captured(&msg.q, r->command, out, err, fn, ctx, (int)msg.q.argc, argv, src,
				conn);
	rep.refused = rep.code < 0;
	r->code = rep.code;
	r->refused = rep.refused;
out:
	send_msg(conn, &rep, sizeof(rep), (int[]){ out, err }, rep.refused ? 0 : 2);
	if (src >= 0)
		close(src);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	close(conn);
	return 0;
}

/* Copy what the daemon captured to our own fd. */
static void relay(int from, int to)
{
	char buf[16384];
	off_t pos = 0;
	ssize_t n;

	while ((n = pread(from, buf, sizeof(buf), pos)) > 0) {
		for (ssize_t w = 0, k; w < n; w += k) {
			k = write(to, buf + w, n - w);
			if (k <= 0)
				return;
		}
		pos += n;
	}
}

/* One reply: 0 (and its descriptors in fds, up to 2), or -errno; -EPIPE
 * when the daemon closed without one. */
static int recv_rep(int s, struct ctl_rep *rep, int *fds)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	ssize_t n;

	do
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	take_fds(&mh, n, fds, 2);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(*rep) || rep->magic != CTL_MAGIC)
		return -EPIPE;
	return 0;
}

int control_call(const char *pin_dir, const char *command, int argc, char **argv, int src_fd,
		 int *code, pid_t *pid)
{
	union {
		struct ctl_req q;
		char b[CTL_MSG_MAX];
	} msg;
	struct ctl_rep rep;
	struct sockaddr_un a;
	struct ucred cred;
	struct timeval ack_wait = { 10, 0 };
	size_t off = sizeof(msg.q);
	int s, ret, fds[2] = { -1, -1 };

	*pid = 0;
	if (argc > CTL_ARGS_MAX || !source_ok(src_fd))
		return -ENOENT;		/* a pipe or terminal is read here */
	memset(&msg.q, 0, sizeof(msg.q));
	msg.q.magic = CTL_MAGIC;
	msg.q.json = g_opts.json;
	msg.q.verbose = log_verbose;
	msg.q.argc = (__u32)argc;
	snprintf(msg.q.command, sizeof(msg.q.command), "%s", command);
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (off + l > sizeof(msg.b))
			return -ENOENT;	/* too long to send: run it here */
		memcpy(msg.b + off, argv[i], l);
		off += l;
	}
	if (!dir_trusted() || ctl_addr(pin_dir, &a))
		return -ENOENT;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -ENOENT;
	/* the file and our options go only to root or ourselves */
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) || peer_uid(s, &cred) ||
	    !cred_ok(cred.uid)) {
		close(s);
		return -ENOENT;
	}
	if (send_msg(s, msg.b, off, &src_fd, 1)) {
		close(s);
		return -ENOENT;		/* nothing was asked of it */
	}
	/* before the ack nothing has run: a daemon that stops or says no
	 * leaves the command to us */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &ack_wait, sizeof(ack_wait));
	ret = recv_rep(s, &rep, fds);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]), fds[i] = -1;
	if (ret || rep.type != CTL_ACK) {
		close(s);	/* a daemon busy for long, or one that said no */
		return -ENOENT;
	}
	*pid = rep.pid;
	ack_wait.tv_sec = 0;	/* taken: as long as the command runs */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &ack_wait, sizeof(ack_wait));
	ret = recv_rep(s, &rep, fds);
	close(s);
	if (!ret && rep.type == CTL_DONE && rep.refused)
		ret = -ENOENT;
	else if (!ret && (rep.type != CTL_DONE || fds[1] < 0))
		ret = -EPROTO;
	if (!ret) {
		fflush(stdout);
		fflush(stderr);
		relay(fds[1], 2);	/* messages come first, a --json report last */
		relay(fds[0], 1);
		*code = rep.code;
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}
