// SPDX-License-Identifier: GPL-2.0
/* user/lib/log.c - see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "lib/log.h"

int log_verbose;

static int print_lib(int debug_level, int level_is_debug, const char *fmt, va_list ap)
{
	/* libbpf announces sections it does not know; libxdp's run config is one */
	if (strstr(fmt, "unrecognized data section") || strstr(fmt, "Retrying without BTF"))
		return 0;
	if (level_is_debug && log_verbose < debug_level)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return print_lib(1, level == LIBBPF_DEBUG || level == LIBBPF_INFO, fmt, ap);
}

static int print_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return print_lib(2, level == LIBXDP_DEBUG || level == LIBXDP_INFO, fmt, ap);
}

int log_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

void log_setup(int verbose)
{
	log_verbose = verbose;
	libbpf_set_print(print_libbpf);
	libxdp_set_print(print_libxdp);
}

#define DEFINE_PR(name, prefix, min)					\
	void name(const char *fmt, ...)					\
	{								\
		va_list ap;						\
		if (log_verbose < (min))				\
			return;						\
		va_start(ap, fmt);					\
		fputs(prefix, stderr);					\
		vfprintf(stderr, fmt, ap);				\
		fputc('\n', stderr);					\
		va_end(ap);						\
	}

DEFINE_PR(pr_err, "xdpfence: ", 0)
DEFINE_PR(pr_warn, "xdpfence: warning: ", 0)
DEFINE_PR(pr_info, "", 0)
DEFINE_PR(pr_debug, "xdpfence: debug: ", 1)
