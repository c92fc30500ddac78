/*
 * Logging in the style of OpenBSD's log.c: the x forms leave out strerror.
 * Messages go to stderr in foreground (-d) mode, to syslog otherwise.
 * Every function preserves errno.
 */
#ifndef MYSIMBDP_LOG_H
#define MYSIMBDP_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#define LOG_FMT(a, b) __attribute__((__format__(__printf__, a, b)))

/* Sets the process name and destination; verbose enables log_debug. */
void log_init(const char *procname, bool foreground, bool verbose);
void log_set_verbose(bool verbose);

void log_warn(const char *fmt, ...) LOG_FMT(1, 2);
void log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
void log_info(const char *fmt, ...) LOG_FMT(1, 2);
void log_debug(const char *fmt, ...) LOG_FMT(1, 2);

/* Replaces s's control bytes with '?', in place: text a tenant or an
 * operator chose (a name, a reason) cannot start a forged line. */
void log_one_line(char *s);
__attribute__((__noreturn__)) void fatal(const char *fmt, ...) LOG_FMT(1, 2);
__attribute__((__noreturn__)) void fatalx(const char *fmt, ...) LOG_FMT(1, 2);

#endif
