#include "logsink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* Longer than any line log.c writes, so a line never straddles two. */
#define LINE_MAX_LEN 2048

static enum kiwi_log_target target;
static char file_path[KIWI_PATH_MAX];
static int file_fd = -1;
static int pipe_fds[2] = { -1, -1 };
static char pending[LINE_MAX_LEN];
static size_t npending;

static void
write_file(const char *line, size_t len)
{
	char stamp[64];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(
	    stamp + n, sizeof(stamp) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	/* Two writes under O_APPEND; only this process writes the file. */
	if (write(file_fd, stamp, (size_t)n) < 0 ||
	    write(file_fd, line, len) < 0) {
		/* Nowhere left to report it. */
	}
}

static void
sink(int prio, const char *line, size_t len)
{
	if (target == KIWI_LOG_SYSLOG) {
		syslog(prio, "%.*s", (int)(len > 0 ? len - 1 : 0), line);
		return;
	}
	if (file_fd >= 0)
		write_file(line, len);
}

static int
open_file(void)
{
	int fd;

	fd = open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (file_fd >= 0)
		close(file_fd);
	file_fd = fd;
	return 0;
}

int
logsink_open(const struct kiwi_config *cfg)
{
	int rc;

	target = cfg->log_target;
	if (target == KIWI_LOG_STDERR)
		return 0;
	if (target == KIWI_LOG_FILE) {
		snprintf(file_path, sizeof(file_path), "%s", cfg->log_file);
		if ((rc = open_file()) < 0) {
			log_warnc(rc, "cannot open log file %s", file_path);
			return rc;
		}
	} else
		openlog("kiwi", LOG_NDELAY, LOG_DAEMON);
	if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
		log_warn("cannot make the log pipe");
		return -errno;
	}
	set_nonblock(pipe_fds[0]);
	log_set_sink(sink);
	return 0;
}

int
logsink_fd(void)
{
	return pipe_fds[0];
}

void
logsink_child(void)
{
	log_set_sink(NULL);
	if (pipe_fds[1] < 0)
		return;
	dup2(pipe_fds[1], STDERR_FILENO);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	if (file_fd >= 0)
		close(file_fd);
	if (target == KIWI_LOG_SYSLOG)
		closelog();
}

/* Forward every complete line in pending; keep the partial rest. */
static void
flush_lines(void)
{
	char *start = pending, *nl;
	size_t left = npending;

	while ((nl = memchr(start, '\n', left)) != NULL) {
		size_t len = (size_t)(nl - start) + 1;

		sink(log_line_prio(start, len), start, len);
		start += len;
		left -= len;
	}
	if (left == sizeof(pending)) {
		/* A line longer than any kiwi writes: pass it on cut. */
		sink(LOG_INFO, pending, left);
		left = 0;
	}
	memmove(pending, start, left);
	npending = left;
}

void
logsink_drain(void)
{
	ssize_t n;

	if (pipe_fds[0] < 0)
		return;
	for (;;) {
		n = read(pipe_fds[0], pending + npending,
		    sizeof(pending) - npending);
		if (n <= 0)
			break;
		npending += (size_t)n;
		flush_lines();
	}
}

void
logsink_reopen(void)
{
	int rc;

	if (target != KIWI_LOG_FILE)
		return;
	if ((rc = open_file()) < 0)
		log_warnc(rc,
		    "cannot reopen log file %s; still writing to"
		    " the old one",
		    file_path);
	else
		log_info("reopened log file %s", file_path);
}
