/*
 * Where kiwi's log lines end up.  On stderr each process writes its own
 * lines.  For syslog or a log file the workers, sandboxed, cannot open
 * either, so their stderr is a pipe that the supervisor reads and
 * forwards; the supervisor alone writes the destination, and alone
 * reopens the file on SIGHUP.
 */
#ifndef KIWI_LOGSINK_H
#define KIWI_LOGSINK_H

#include "common/config.h"

/* Open the destination; 0 or a negative errno (logged). */
int logsink_open(const struct kiwi_config *cfg);
/* The pipe end the supervisor polls, or -1 when workers use stderr. */
int logsink_fd(void);
/* In a worker, before dropping privileges: point stderr at the pipe. */
void logsink_child(void);
/* Forward whatever the workers wrote. */
void logsink_drain(void);
/* Reopen the log file (SIGHUP, for logrotate). */
void logsink_reopen(void);

#endif
