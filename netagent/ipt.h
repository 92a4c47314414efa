/*
 * kiwi's chain in the mangle tables, through libiptc and libip6tc.
 * Every change is one transaction per table: take the xtables lock,
 * read the table, edit, commit the whole table, release the lock; the
 * transaction is retried a few times when the kernel says the table
 * changed underneath.
 */
#ifndef KIWI_NETAGENT_IPT_H
#define KIWI_NETAGENT_IPT_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/msg.h"

/*
 * Open the xtables lock file, $XTABLES_LOCKFILE or KIWI_XTABLES_LOCK:
 * a descriptor, or a negative errno.
 */
int ipt_lock_open(void);
/* Which tables a call is about: iptables, ip6tables or both. */
#define IPT_V4 1
#define IPT_V6 2
#define IPT_ALL (IPT_V4 | IPT_V6)

/* IPT_V4 or IPT_V6 for an address family. */
int ipt_family_bit(int family);
/*
 * In each table of families, make KUBE-PUBLIC hold exactly the rules
 * of the sets of that family, one per (address, protocol, port), each
 * marking with cfg->mark, and PREROUTING jump to it once for each of
 * cfg's ranges of that family.  One commit per table.  0 or a negative
 * errno; a table that failed is unchanged.
 */
int ipt_sync(int lock_fd, int families, const struct kiwi_config *cfg,
    const struct kiwi_ipset *sets, size_t n);
/*
 * Remove the PREROUTING jumps and the chain from each table of
 * families: 1 when a chain existed, 0 when none did, or a negative
 * errno.
 */
int ipt_teardown(int lock_fd, int families);
/* Table replaces tried again since the start, for the metrics. */
uint64_t ipt_retries(void);

#endif
