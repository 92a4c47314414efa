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

/* Like log_warn, with an explicit error number (negative or positive). */
void log_warnc(int err, const char *fmt, ...) KIWI_PRINTF(2, 3);

#endif
