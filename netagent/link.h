/*
 * The state of kiwi's interface, followed through rtnetlink link
 * notifications: whether it exists (and under which index, which
 * changes when it is deleted and made again), whether it is up with
 * carrier, and its hardware address for announcements.
 */
#ifndef KIWI_NETAGENT_LINK_H
#define KIWI_NETAGENT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl_sock;

#define LINK_HWADDR_MAX 32

struct kiwi_link {
	struct nl_sock *sk; /* subscribed to RTNLGRP_LINK */
	const char *ifname;
	int ifindex; /* 0 while the interface does not exist */
	bool up; /* IFF_UP and IFF_LOWER_UP (carrier) */
	bool ether; /* an Ethernet interface, with a 6-byte address */
	uint8_t hwaddr[LINK_HWADDR_MAX];
	/* Called after each message that changed ifindex or up. */
	void (*changed)(
	    void *arg, const struct kiwi_link *l, int old_ifindex, bool was_up);
	void *arg;
	bool dumping;
	bool seen; /* in this dump */
};

/*
 * Subscribe, then read the interface's current state (before
 * returning).  0, or a negative errno.
 */
int link_open(struct kiwi_link *l, const char *ifname);
void link_close(struct kiwi_link *l);
int link_fd(const struct kiwi_link *l);
/* Whether the interface can carry kiwi's addresses now. */
bool link_usable(const struct kiwi_link *l);
/*
 * Handle every notification waiting, without blocking.  After lost
 * notifications the state is read again.  0, or a negative errno.
 */
int link_read(struct kiwi_link *l);

#endif
