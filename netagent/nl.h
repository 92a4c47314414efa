/*
 * Addresses on kiwi's interface, through rtnetlink (libnl-3 for the
 * socket and message helpers).  Functions return a negative errno and
 * leave logging to the caller, except the sweep, which reports each
 * address it removes.
 *
 * kiwi knows its own addresses by what the kernel keeps with each: the
 * address protocol (IFA_PROTO, Linux 5.18) is KIWI_IFA_PROTO on every
 * address kiwi adds, and IPv4 addresses also carry the label
 * "<if>:kube".  IPv6 addresses have no label, so for them the protocol
 * alone decides.
 */
#ifndef KIWI_NETAGENT_NL_H
#define KIWI_NETAGENT_NL_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/msg.h"

/*
 * Not one of the kernel's IFAPROT_* values; "k" for kiwi.
 * XXX Nothing reserves it: another program using the same value would
 * have its IPv6 addresses on this interface swept.
 */
#define KIWI_IFA_PROTO 0x6b

struct nl_sock;

struct kiwi_iface {
	struct nl_sock *sk;
	int ifindex; /* 0 while the interface is missing */
	const char *ifname;
	const char *label;
};

/* What iface_claim found. */
enum {
	IFACE_ADDED = 0, /* kiwi added the address just now */
	IFACE_PRESENT = 1, /* it was there already, and kiwi's */
};

/* A libnl error (negative or not) as a negative errno. */
int iface_errno(int nle);
/* Connect; the caller sets ifindex (see link.h). */
int iface_open(struct kiwi_iface *n, const char *ifname, const char *label);
void iface_close(struct kiwi_iface *n);
/*
 * Add a/32 (IPv4, labelled) or a/128 (IPv6, without DAD), valid and
 * preferred for lft seconds, marked as kiwi's: IFACE_ADDED,
 * IFACE_PRESENT (its lifetimes renewed), -EEXIST when the address is
 * there and not kiwi's, or another negative errno.
 */
int iface_claim(struct kiwi_iface *n, const struct kiwi_addr *a, uint32_t lft);
/*
 * Give every address of sets the lifetime lft, adding it again if the
 * kernel dropped it.  The requests are pipelined; fail is called with
 * the index and error of each that failed.  0, or a negative errno
 * when the socket itself failed (then fail is not called for the rest).
 */
int iface_refresh(struct kiwi_iface *n, const struct kiwi_ipset *sets,
    size_t nsets, uint32_t lft, void (*fail)(void *, size_t, int), void *arg);
/*
 * Remove kiwi's a; a missing address (or interface) is not an error.
 */
int iface_remove(struct kiwi_iface *n, const struct kiwi_addr *a);
/* Remove every address on the interface that is kiwi's. */
int iface_sweep(struct kiwi_iface *n);

#endif
