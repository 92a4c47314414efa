#include "announce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "netagent/dryrun.h"

/* When each announcement goes out, in ms after the address came. */
static const int64_t announce_at[] = { 0, 250, 1000 };
/* After a full socket buffer. */
#define RESEND_MS 10

struct arp_packet {
	struct arphdr h;
	uint8_t sha[ETH_ALEN];
	uint8_t spa[4];
	uint8_t tha[ETH_ALEN];
	uint8_t tpa[4];
} __attribute__((packed));

struct na_packet {
	struct nd_neighbor_advert na;
	struct nd_opt_hdr opt;
	uint8_t lladdr[ETH_ALEN];
} __attribute__((packed));

/* Hop limit 255, nothing received, nothing looped back to us. */
static int
na_socket(void)
{
	struct icmp6_filter f;
	int fd, rc, hops = 255, loop = 0;

	fd = socket(
	    AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (fd < 0)
		return -errno;
	ICMP6_FILTER_SETBLOCKALL(&f);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops,
	        sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop,
	        sizeof(loop)) < 0 ||
	    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int
announce_open(struct announcer *an)
{
	int rc;

	memset(an, 0, sizeof(*an));
	an->arp_fd = an->na_fd = -1;
	/* Protocol 0: the socket sends and never receives. */
	an->arp_fd =
	    socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (an->arp_fd < 0) {
		rc = -errno;
		log_warnc(rc, "cannot open a packet socket for gratuitous ARP");
		return rc;
	}
	if ((an->na_fd = na_socket()) == -EAFNOSUPPORT) {
		log_info("IPv6 is disabled: no neighbour advertisements");
	} else if (an->na_fd < 0) {
		rc = an->na_fd;
		log_warnc(rc,
		    "cannot open an ICMPv6 socket for neighbour "
		    "advertisements");
		announce_close(an);
		return rc;
	}
	return 0;
}

void
announce_close(struct announcer *an)
{
	if (an == NULL)
		return;
	if (an->arp_fd >= 0)
		close(an->arp_fd);
	if (an->na_fd >= 0)
		close(an->na_fd);
	free(an->q);
	memset(an, 0, sizeof(*an));
	an->arp_fd = an->na_fd = -1;
}

int
announce_add(struct announcer *an, const struct kiwi_addr *a, int64_t now)
{
	size_t ncap;
	void *p;

	announce_cancel(an, a);
	/* Announcing an address not really here would misdirect traffic. */
	if (dryrun())
		return 0;
	if (an->n == an->cap) {
		ncap = an->cap ? an->cap * 2 : 16;
		if ((p = reallocarray(an->q, ncap, sizeof(*an->q))) == NULL)
			return -ENOMEM;
		an->q = p;
		an->cap = ncap;
	}
	an->q[an->n].addr = *a;
	an->q[an->n].start = now;
	an->q[an->n].sent = 0;
	an->n++;
	return 0;
}

static void
drop(struct announcer *an, size_t i)
{
	an->q[i] = an->q[--an->n];
}

/* Only addresses that came within the last second wait here. */
void
announce_cancel(struct announcer *an, const struct kiwi_addr *a)
{
	size_t i;

	for (i = 0; i < an->n; i++)
		if (addr_equal(&an->q[i].addr, a)) {
			drop(an, i);
			return;
		}
}

void
announce_clear(struct announcer *an)
{
	an->n = 0;
}

static int
send_arp(const struct announcer *an, const struct kiwi_link *l,
    const struct kiwi_addr *a)
{
	struct sockaddr_ll to = { 0 };
	struct arp_packet p = { 0 };

	p.h.ar_hrd = htons(ARPHRD_ETHER);
	p.h.ar_pro = htons(ETH_P_IP);
	p.h.ar_hln = ETH_ALEN;
	p.h.ar_pln = 4;
	p.h.ar_op = htons(ARPOP_REQUEST);
	memcpy(p.sha, l->hwaddr, ETH_ALEN);
	memcpy(p.spa, &a->u.v4, 4);
	memcpy(p.tpa, &a->u.v4, 4);
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_ARP);
	to.sll_ifindex = l->ifindex;
	to.sll_halen = ETH_ALEN;
	memset(to.sll_addr, 0xff, ETH_ALEN);
	if (sendto(an->arp_fd, &p, sizeof(p), 0, (struct sockaddr *)&to,
	        sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* From the address itself, so that no other source is chosen. */
static int
send_na(const struct announcer *an, const struct kiwi_link *l,
    const struct kiwi_addr *a)
{
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl = { 0 };
	struct sockaddr_in6 to = { 0 };
	struct na_packet p = { 0 };
	struct iovec iov = { &p, sizeof(p) };
	struct msghdr mh = { &to, sizeof(to), &iov, 1, ctl.b, sizeof(ctl), 0 };
	struct in6_pktinfo *pi;

	if (an->na_fd < 0)
		return -EAFNOSUPPORT;
	p.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	p.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	p.na.nd_na_target = a->u.v6;
	p.opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
	p.opt.nd_opt_len = 1; /* in units of 8 bytes */
	memcpy(p.lladdr, l->hwaddr, ETH_ALEN);
	to.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	to.sin6_scope_id = (uint32_t)l->ifindex;
	ctl.h.cmsg_level = IPPROTO_IPV6;
	ctl.h.cmsg_type = IPV6_PKTINFO;
	ctl.h.cmsg_len = CMSG_LEN(sizeof(*pi));
	pi = (struct in6_pktinfo *)CMSG_DATA(&ctl.h);
	pi->ipi6_addr = a->u.v6;
	pi->ipi6_ifindex = (unsigned int)l->ifindex;
	if (sendmsg(an->na_fd, &mh, 0) < 0)
		return -errno;
	return 0;
}

static int
send_one(const struct announcer *an, const struct kiwi_link *l,
    const struct kiwi_addr *a)
{
	int rc;

	rc = a->family == AF_INET ? send_arp(an, l, a) : send_na(an, l, a);
	return rc == -EWOULDBLOCK || rc == -ENOBUFS ? -EAGAIN : rc;
}

static void
soonest(int *next, int64_t ms)
{
	if (*next < 0 || ms < *next)
		*next = (int)ms;
}

int
announce_run(struct announcer *an, const struct kiwi_link *l, int64_t now)
{
	char buf[KIWI_ADDRSTRLEN];
	struct announcement *p;
	int64_t due;
	size_t i = 0;
	int rc, next = -1;

	/* XXX Only Ethernet: other link types move without a word. */
	if (an->n > 0 && (!link_usable(l) || !l->ether)) {
		log_debug("%s is not an Ethernet link that is up: no "
		          "announcements",
		    l->ifname);
		announce_clear(an);
	}
	while (i < an->n) {
		p = &an->q[i];
		if ((due = p->start + announce_at[p->sent]) > now) {
			soonest(&next, due - now);
			i++;
		} else if ((rc = send_one(an, l, &p->addr)) == -EAGAIN) {
			soonest(&next, RESEND_MS);
			i++;
		} else if (rc < 0) {
			log_warnc(rc,
			    "cannot announce %s on %s; neighbours "
			    "may keep sending its traffic elsewhere "
			    "until their caches expire, ignoring",
			    addr_fmt(&p->addr, buf, sizeof(buf)), l->ifname);
			drop(an, i);
		} else if (++p->sent == KIWI_ARRAY_SIZE(announce_at)) {
			drop(an, i);
		}
	}
	return next;
}
