/*
 * The claimer: claims wanted IPs in etcd on one lease and tells the
 * netagent to hold the ones it won.  Runs unprivileged with no
 * capabilities.
 */
#ifndef KIWI_CLAIMER_H
#define KIWI_CLAIMER_H

#include <stdint.h>

#include "common/config.h"

/*
 * In a restarted claimer, before claimer_main: the lease the claimer
 * before had (from its MSG_LEASE).  claimer_main then first tries to
 * renew it; if it is alive, it is kept and its keys count as held,
 * else a new lease is granted.
 */
void claimer_inherit_lease(int64_t id);
/* Likewise: how often the workers were restarted, for the metrics. */
void claimer_inherit_restarts(unsigned int n);

/*
 * Run until MSG_SHUTDOWN, MSG_DETACH (or EOF) on sup_fd.  Sends
 * MSG_LEASE on sup_fd whenever the lease changes (0: none).  On
 * shutdown: RELEASE_ALL to the netagent, wait for RELEASE_ALL_DONE
 * (bounded), revoke the lease, return 0.  On DETACH the same, but the
 * lease is left alive for the next claimer to inherit.  Returns the
 * process exit status.
 */
int claimer_main(
    const struct kiwi_config *cfg, int sup_fd, int watcher_fd, int netagent_fd);

#endif
