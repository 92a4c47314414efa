/*
 * Logging shared by every kiwi process.
 *
 * Each line is tagged with the process that wrote it.  The levels mean:
 *   log_warn/log_warnx   something failed; the line says what it means
 *   log_info             a state change an operator wants to see
 *   log_debug            detail, only with --verbose
 *   fatal/fatalx         a setup failure or protocol violation; exits 1
 * The plain variants append the text of errno, the "x" variants do not.
 */
#ifndef KIWI_LOG_H
#define KIWI_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define KIWI_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(const char *procname, int verbose);
void log_procname(const char *procname);
int log_verbose(void);

void log_warn(const char *fmt, ...) KIWI_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) KIWI_PRINTF(1, 2);
void log_info(const char *fmt, ...) KIWI_PRINTF(1, 2);
void log_debug(const char *fmt, ...) KIWI_PRINTF(1, 2);
void fatal(const char *fmt, ...) KIWI_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) KIWI_PRINTF(1, 2) __attribute__((noreturn));

/*
 * Where this process's lines go: by default one write(2) per line to
 * stderr.  The supervisor installs a sink to write to syslog or a file;
 * prio is a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
 */
typedef void (*log_sink_fn)(int prio, const char *line, size_t len);
void log_set_sink(log_sink_fn fn);
/* The syslog priority of a line as written by this module. */
int log_line_prio(const char *line, size_t len);

/* Like log_warn, with an explicit error number (negative or positive). */
void log_warnc(int err, const char *fmt, ...) KIWI_PRINTF(2, 3);

#endif
