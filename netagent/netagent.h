/*
 * The netagent: the only process that changes the network.  It keeps
 * CAP_NET_ADMIN and CAP_NET_RAW and nothing else, adds and removes
 * addresses (libnl-3) and MARK rules (libiptc), and checks every
 * message as if its sender were hostile.
 */
#ifndef KIWI_NETAGENT_H
#define KIWI_NETAGENT_H

#include "common/config.h"

/*
 * Sweep leftovers, then run until MSG_SHUTDOWN (or EOF) on sup_fd,
 * obeying CLAIM/RELEASE/RELEASE_ALL/VOUCH from claimer_fd only, and
 * telling the claimer with LINK whether the interface can hold
 * addresses (once at start, then at every change).  A CLAIM is only
 * held while the last VOUCH lasts and the link is up with carrier.  lock_fd is
 * the xtables lock file opened by the supervisor as root, or -1 to open
 * KIWI_XTABLES_LOCK (or $XTABLES_LOCKFILE) itself.  On exit everything
 * kiwi added is removed.  Returns the process exit status.
 */
int netagent_main(
    const struct kiwi_config *cfg, int sup_fd, int claimer_fd, int lock_fd);

#endif
