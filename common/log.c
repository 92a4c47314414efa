#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_name = "kiwi";
static int log_level_verbose;
static log_sink_fn log_sink;

void
log_set_sink(log_sink_fn fn)
{
	log_sink = fn;
}

int
log_line_prio(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t rest;

	if (colon == NULL || (size_t)(colon - line) + 2 > len)
		return LOG_INFO;
	colon += 2;
	rest = len - (size_t)(colon - line);
	if (rest >= 9 && memcmp(colon, "warning: ", 9) == 0)
		return LOG_WARNING;
	if (rest >= 7 && memcmp(colon, "fatal: ", 7) == 0)
		return LOG_ERR;
	if (rest >= 7 && memcmp(colon, "debug: ", 7) == 0)
		return LOG_DEBUG;
	return LOG_INFO;
}

void
log_init(const char *procname, int verbose)
{
	log_name = procname;
	log_level_verbose = verbose;
}

void
log_procname(const char *procname)
{
	log_name = procname;
}

int
log_verbose(void)
{
	return log_level_verbose;
}

/*
 * One write per line, so that lines from the four processes sharing
 * stderr never interleave mid-line.
 */
static void __attribute__((format(printf, 2, 0)))
log_emit(const char *level, const char *fmt, va_list ap, int err)
{
	char line[1024];
	int n, m;

	n = snprintf(line, sizeof(line), "%s: %s", log_name, level);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n >= sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (err != 0)
		n +=
		    snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (log_sink != NULL) {
		log_sink(log_line_prio(line, (size_t)n), line, (size_t)n);
		return;
	}
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning: ", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnc(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning: ", fmt, ap, err < 0 ? -err : err);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning: ", fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("", fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_level_verbose)
		return;
	va_start(ap, fmt);
	log_emit("debug: ", fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal: ", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal: ", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
