/*
 * The watcher: lists and watches Services on the Kubernetes API and
 * tells the claimer which external IPs are wanted, with their rules.
 * Runs unprivileged with no capabilities.
 */
#ifndef KIWI_WATCHER_H
#define KIWI_WATCHER_H

#include "common/config.h"

/*
 * Run until MSG_SHUTDOWN (or EOF) on sup_fd.  claimer_fd carries
 * SYNC_BEGIN/DESIRE/UNDESIRE/SYNC_END to the claimer.  Returns the
 * process exit status.
 */
int watcher_main(const struct kiwi_config *cfg, int sup_fd, int claimer_fd);

#endif
