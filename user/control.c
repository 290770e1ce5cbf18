/* user/control.c - see control.h. */
#define _GNU_SOURCE		/* accept4, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "log.h"

#define CTL_MAGIC	0x78666331	/* "xfc1": bump with any change below */
#define CTL_MSG_MAX	8192
#define CTL_FDS		3		/* stdout, stderr, source (or stdin again) */

struct ctl_req {
	__u32 magic;
	__u32 json;
	__s32 verbose;
	__u32 argc;
	__u32 has_src;
	char command[32];
	/* then argc NUL-terminated strings */
};

struct ctl_rep {
	__u32 magic;
	__s32 code;
	__u32 refused;
	__s32 pid;
};

/* The abstract name for a pin dir: its real path, or a hash of it when
 * that does not fit in sun_path. */
static int ctl_addr(const char *pin_dir, struct sockaddr_un *a, socklen_t *len)
{
	char real[PATH_MAX];
	size_t n;

	if (!realpath(pin_dir, real))
		return -errno;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = (size_t)snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "xdpfence:%s", real);
	if (n >= sizeof(a->sun_path) - 1) {
		__u64 h = 1469598103934665603ULL;	/* FNV-1a */

		for (const char *p = real; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		n = (size_t)snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "xdpfence#%016llx",
				     (unsigned long long)h);
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	return 0;
}

int control_listen(const char *pin_dir)
{
	struct sockaddr_un a;
	socklen_t len;
	int fd, ret = ctl_addr(pin_dir, &a, &len);

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, len) || listen(fd, 16)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static void reply(int c, int code, bool refused)
{
	struct ctl_rep rep = { CTL_MAGIC, code, refused, getpid() };

	if (send(c, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
		pr_debug("control: reply: %s", strerror(errno));
}

/* Run fn with the client's stdout and stderr in place of ours, and its
 * -v/--json; ours come back after (this process has no other thread that
 * writes to them while a command runs). */
static int run_as_client(const struct ctl_req *q, const char *command, int out, int err,
			 control_fn fn, void *ctx, int argc, char **argv, int src)
{
	int save_out, save_err, code, verbose = log_verbose;
	bool json = g_opts.json;

	fflush(stdout);
	fflush(stderr);
	save_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
	save_err = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (save_out < 0 || save_err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
		code = EXIT_RUNTIME;
		goto out;
	}
	g_opts.json = q->json;
	log_verbose = q->verbose;
	code = fn(ctx, command, argc, argv, src);
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

int control_serve(int lfd, control_fn fn, void *ctx, struct control_request *r)
{
	union {
		char buf[CMSG_SPACE(CTL_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	char msg[CTL_MSG_MAX + 1];
	struct iovec iov = { msg, CTL_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	struct timeval tv = { 2, 0 };	/* a client that connects and says nothing */
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fds[CTL_FDS] = { -1, -1, -1 }, nfds = 0, c;
	char *argv[64];
	const struct ctl_req *q = (const void *)msg;
	ssize_t n;
	size_t off;

	memset(r, 0, sizeof(*r));
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
		close(c);
		return -errno;
	}
	r->pid = cred.pid;
	r->uid = cred.uid;
	n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (nfds < CTL_FDS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	r->refused = true;
	if (n < (ssize_t)sizeof(*q) || q->magic != CTL_MAGIC || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    nfds != 2 + !!q->has_src || q->argc < 1 || q->argc >= sizeof(argv) / sizeof(argv[0]))
		goto out;
	msg[n] = 0;
	memcpy(r->command, q->command, sizeof(r->command) - 1);
	if (cred.uid != 0 && cred.uid != geteuid())
		goto out;
	off = sizeof(*q);
	for (__u32 i = 0; i < q->argc; i++) {
		if (off >= (size_t)n)
			goto out;
		argv[i] = msg + off;
		off += strlen(argv[i]) + 1;
	}
	argv[q->argc] = NULL;
	r->code = run_as_client(q, r->command, fds[0], fds[1], fn, ctx, (int)q->argc, argv,
				q->has_src ? fds[2] : -1);
	r->refused = r->code < 0;
out:
	reply(c, r->code, r->refused);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(c);
	return 0;
}

int control_call(const char *pin_dir, const char *command, int argc, char **argv, int src_fd,
		 int *code, pid_t *pid)
{
	union {
		char buf[CMSG_SPACE(CTL_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	char msg[CTL_MSG_MAX];
	struct ctl_req *q = (void *)msg;
	struct ctl_rep rep;
	struct sockaddr_un a;
	socklen_t alen;
	int fds[CTL_FDS] = { 1, 2, src_fd }, nfds = src_fd >= 0 ? 3 : 2, s, ret;
	size_t off = sizeof(*q);
	struct iovec iov = { msg, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) };
	struct cmsghdr *h;
	ssize_t n;

	*pid = 0;
	memset(q, 0, sizeof(*q));
	q->magic = CTL_MAGIC;
	q->json = g_opts.json;
	q->verbose = log_verbose;
	q->argc = (__u32)argc;
	q->has_src = src_fd >= 0;
	snprintf(q->command, sizeof(q->command), "%s", command);
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (off + l > sizeof(msg) || argc >= 63)
			return -ENOENT;		/* too long to send: run it here */
		memcpy(msg + off, argv[i], l);
		off += l;
	}
	iov.iov_len = off;
	if (ctl_addr(pin_dir, &a, &alen))
		return -ENOENT;			/* no pin dir: nobody serves it */
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -ENOENT;
	if (connect(s, (struct sockaddr *)&a, alen)) {
		close(s);
		return -ENOENT;
	}
	memset(cm.buf, 0, sizeof(cm.buf));
	h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
	fflush(stdout);
	fflush(stderr);
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)off) {
		close(s);
		return -ENOENT;			/* nothing was asked of it */
	}
	do
		n = recv(s, &rep, sizeof(rep), 0);
	while (n < 0 && errno == EINTR);
	ret = n < 0 ? -errno : -EPIPE;
	close(s);
	if (n != (ssize_t)sizeof(rep) || rep.magic != CTL_MAGIC)
		return ret;
	*pid = rep.pid;
	if (rep.refused)
		return -ENOENT;
	*code = rep.code;
	return 0;
}
