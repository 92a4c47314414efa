/*
 * The watcher: lists and watches Services on the Kubernetes API and
 * tells the claimer which external IPs are wanted, with their rules.
 * Runs unprivileged with no capabilities.
 */
#ifndef KIWI_WATCHER_H
#define KIWI_WATCHER_H

#include "common/config.h"

/*
 * Read what connecting to the API needs while still root: call it in
 * the watcher's process after fork and before dropping privileges (see
 * auth.h for why there).  0, or -EINVAL after saying what was wrong.
 * Without it, watcher_main reads the same as whatever user it runs as.
 */
int watcher_prepare(const struct kiwi_config *cfg);

/*
 * Run until MSG_SHUTDOWN (or EOF) on sup_fd.  claimer_fd carries
 * SYNC_BEGIN/DESIRE/UNDESIRE/SYNC_END to the claimer.  Returns the
 * process exit status.
 */
int watcher_main(const struct kiwi_config *cfg, int sup_fd, int claimer_fd);

#endif
