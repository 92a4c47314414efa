/*
 * Telling neighbours that an address moved here: gratuitous ARP for
 * IPv4 (an Ethernet-broadcast ARP request with sender and target both
 * the address, over an AF_PACKET socket) and an unsolicited neighbour
 * advertisement for IPv6 (to ff02::1, Override set, with the target
 * link-layer address, from a raw ICMPv6 socket with hop limit 255).
 * Each is sent a few times, spaced, from the caller's poll loop; no
 * call blocks.  Both sockets need CAP_NET_RAW.
 */
#ifndef KIWI_NETAGENT_ANNOUNCE_H
#define KIWI_NETAGENT_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "link.h"

struct announcement {
	struct kiwi_addr addr;
	int64_t start; /* ms, CLOCK_MONOTONIC */
	unsigned int sent;
};

struct announcer {
	int arp_fd;
	int na_fd;
	struct announcement *q;
	size_t n, cap;
};

/* 0, or a negative errno; on failure nothing stays open. */
int announce_open(struct announcer *an);
void announce_close(struct announcer *an);
/* Announce a from now on; 0 or -ENOMEM. */
int announce_add(struct announcer *an, const struct kiwi_addr *a, int64_t now);
/* a is no longer held: say nothing more about it. */
void announce_cancel(struct announcer *an, const struct kiwi_addr *a);
void announce_clear(struct announcer *an);
/*
 * Send what is due on l's interface.  Returns the ms until the next
 * is due, or -1 when nothing waits.
 */
int announce_run(struct announcer *an, const struct kiwi_link *l, int64_t now);

#endif
