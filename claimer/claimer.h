/*
 * The claimer: claims wanted IPs in etcd on one lease and tells the
 * netagent to hold the ones it won.  Runs unprivileged with no
 * capabilities.
 */
#ifndef KIWI_CLAIMER_H
#define KIWI_CLAIMER_H

#include "common/config.h"

/*
 * Run until MSG_SHUTDOWN (or EOF) on sup_fd.  On shutdown: RELEASE_ALL
 * to the netagent, wait for RELEASE_ALL_DONE (bounded), revoke the
 * lease, return 0.  Returns the process exit status.
 */
int claimer_main(const struct kiwi_config *cfg, int sup_fd, int watcher_fd,
    int netagent_fd);

#endif
