/* user/log.h - every message the controller prints goes through here.
 *
 * Errors: "xdpfence: what: why" on stderr. libbpf and libxdp output is routed
 * through one printer: warnings always, debug with -v (libbpf) / -vv (libxdp).
 */
#ifndef XDPFENCE_LOG_H
#define XDPFENCE_LOG_H

extern int log_verbose;

void log_setup(int verbose);
void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
