/* SPDX-License-Identifier: GPL-2.0 */
/* user/lib/log.h - every message the controller prints goes through here.
 *
 * Errors: "xdpfence: what: why" on stderr. libbpf and libxdp output is routed
 * through one printer: warnings always, debug with -v (libbpf) / -vv (libxdp).
 */
#ifndef XDPFENCE_LOG_H
#define XDPFENCE_LOG_H

#include <stdarg.h>
#include <bpf/libbpf.h>

extern int log_verbose;

void log_setup(int verbose);
/* A libbpf printer that prints nothing: for loads whose failure is not an
 * error (an optional program the kernel may not run). */
int log_quiet(enum libbpf_print_level level, const char *fmt, va_list ap);
void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
