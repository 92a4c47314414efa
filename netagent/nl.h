/*
 * Addresses on kiwi's interface, through libnl-3.  Functions return a
 * negative errno and leave logging to the caller, except the sweep,
 * which reports each address it removes.
 */
#ifndef KIWI_NETAGENT_NL_H
#define KIWI_NETAGENT_NL_H

#include "common/addr.h"

struct nl_sock;

struct kiwi_iface {
	struct nl_sock *sk;
	int ifindex;
	const char *ifname;
	const char *label;
};

/* What iface_claim found. */
enum {
	IFACE_ADDED = 0, /* kiwi added the address just now */
	IFACE_PRESENT = 1, /* it was there already, with kiwi's label */
};

int iface_open(struct kiwi_iface *n, const char *ifname, const char *label);
void iface_close(struct kiwi_iface *n);
/*
 * Add a/32 with kiwi's label: IFACE_ADDED, IFACE_PRESENT, -EEXIST when the
 * address is there without kiwi's label, or another negative errno.
 */
int iface_claim(struct kiwi_iface *n, const struct kiwi_addr *a);
/* Remove kiwi's a/32; a missing address is not an error. */
int iface_remove(struct kiwi_iface *n, const struct kiwi_addr *a);
/* Remove every address on the interface with kiwi's label. */
int iface_sweep(struct kiwi_iface *n);

#endif
