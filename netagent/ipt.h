/*
 * kiwi's chain in the mangle table, through libiptc.  Every change is
 * one transaction: take the xtables lock, read the table, edit, commit
 * the whole table, release the lock; the transaction is retried a few
 * times when the kernel says the table changed underneath.
 */
#ifndef KIWI_NETAGENT_IPT_H
#define KIWI_NETAGENT_IPT_H

#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

/*
 * Open the xtables lock file, $XTABLES_LOCKFILE or KIWI_XTABLES_LOCK:
 * a descriptor, or a negative errno.
 */
int ipt_lock_open(void);
/*
 * Make KUBE-PUBLIC hold exactly the rules of sets, one per (address,
 * protocol, port), each marking with mark, and PREROUTING jump to it
 * once.  0 or a negative errno; nothing changes on failure.
 */
int ipt_sync(
    int lock_fd, uint32_t mark, const struct kiwi_ipset *sets, size_t n);
/*
 * Remove the PREROUTING jumps and the chain: 1 when the chain existed,
 * 0 when it did not, or a negative errno.
 */
int ipt_teardown(int lock_fd);

#endif
