#include "link.h"

#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "nl.h"

#define DUMP_WAIT_MS 5000
/* linux/if.h has it, but cannot be included beside net/if.h. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

struct link_state {
	int ifindex;
	bool up;
	bool ether;
	const struct nlattr *hwaddr;
};

static void
link_set(struct kiwi_link *l, const struct link_state *s)
{
	int old = l->ifindex;
	bool was_up = l->up;

	l->ifindex = s->ifindex;
	l->up = s->up;
	l->ether = s->ether && s->hwaddr != NULL && nla_len(s->hwaddr) == 6;
	memset(l->hwaddr, 0, sizeof(l->hwaddr));
	if (l->ether)
		memcpy(l->hwaddr, nla_data(s->hwaddr), 6);
	if ((old != l->ifindex || was_up != l->up) && l->changed != NULL)
		l->changed(l->arg, l, old, was_up);
}

/*
 * A link by kiwi's name is the interface now; a link by its index but
 * another name, or deleted, means the interface went away.
 */
static int
link_msg(struct nl_msg *msg, void *arg)
{
	struct kiwi_link *l = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[IFLA_MAX + 1];
	struct link_state s = { 0 };
	struct ifinfomsg *ifi;
	char name[IFNAMSIZ] = "";

	if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
	    nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return NL_OK;
	ifi = nlmsg_data(h);
	if (tb[IFLA_IFNAME] != NULL)
		nla_strlcpy(name, tb[IFLA_IFNAME], sizeof(name));
	if (h->nlmsg_type == RTM_NEWLINK && strcmp(name, l->ifname) == 0) {
		s.ifindex = ifi->ifi_index;
		s.up = (ifi->ifi_flags & IFF_UP) &&
		    (ifi->ifi_flags & IFF_LOWER_UP);
		s.ether = ifi->ifi_type == ARPHRD_ETHER;
		s.hwaddr = tb[IFLA_ADDRESS];
		l->seen = true;
		link_set(l, &s);
	} else if (l->ifindex != 0 && ifi->ifi_index == l->ifindex) {
		link_set(l, &s);
	}
	return NL_OK;
}

static int
link_done(struct nl_msg *msg, void *arg)
{
	struct kiwi_link *l = arg;
	struct link_state gone = { 0 };

	(void)msg;
	if (l->dumping && !l->seen && l->ifindex != 0)
		link_set(l, &gone);
	l->dumping = false;
	return NL_OK;
}

/*
 * Read what is waiting: 1 when something was read, 0 when nothing
 * was (libnl reports an empty non-blocking socket either way).
 */
static int
link_recv(struct kiwi_link *l)
{
	struct nl_cb *cb = nl_socket_get_cb(l->sk);
	int rc = nl_recvmsgs_report(l->sk, cb);

	nl_cb_put(cb);
	if (rc > 0)
		return 1;
	rc = iface_errno(rc);
	return rc == -EAGAIN ? 0 : rc;
}

/* Ask for every link and read until the answer is complete. */
static int
link_dump(struct kiwi_link *l)
{
	struct ifinfomsg ifi = { 0 };
	struct pollfd pfd = { nl_socket_get_fd(l->sk), POLLIN, 0 };
	int rc;

	ifi.ifi_family = AF_UNSPEC;
	l->dumping = true;
	l->seen = false;
	rc = nl_send_simple(l->sk, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	if (rc < 0)
		return iface_errno(rc);
	while (l->dumping) {
		if ((rc = link_recv(l)) < 0)
			return rc;
		if (rc == 0 && poll(&pfd, 1, DUMP_WAIT_MS) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

int
link_open(struct kiwi_link *l, const char *ifname)
{
	int rc;

	l->ifname = ifname;
	l->ifindex = 0;
	l->up = false;
	if ((l->sk = nl_socket_alloc()) == NULL)
		return -ENOMEM;
	/* Notifications carry no sequence of ours. */
	nl_socket_disable_seq_check(l->sk);
	nl_socket_modify_cb(l->sk, NL_CB_VALID, NL_CB_CUSTOM, link_msg, l);
	nl_socket_modify_cb(l->sk, NL_CB_FINISH, NL_CB_CUSTOM, link_done, l);
	if ((rc = iface_errno(nl_connect(l->sk, NETLINK_ROUTE))) < 0 ||
	    (rc = iface_errno(nl_socket_add_membership(l->sk, RTNLGRP_LINK))) <
	        0 ||
	    (rc = iface_errno(nl_socket_set_nonblocking(l->sk))) < 0)
		goto fail;
	/* Subscribed first, so that no change falls between. */
	if ((rc = link_dump(l)) < 0)
		goto fail;
	return 0;
fail:
	link_close(l);
	return rc;
}

void
link_close(struct kiwi_link *l)
{
	if (l == NULL || l->sk == NULL)
		return;
	nl_socket_free(l->sk);
	l->sk = NULL;
}

int
link_fd(const struct kiwi_link *l)
{
	return l->sk != NULL ? nl_socket_get_fd(l->sk) : -1;
}

bool
link_usable(const struct kiwi_link *l)
{
	return l->ifindex > 0 && l->up;
}

int
link_read(struct kiwi_link *l)
{
	int rc;

	for (;;) {
		if ((rc = link_recv(l)) == 0)
			return 0;
		if (rc == -ENOMEM) {
			/* libnl's word for ENOBUFS: notifications were lost. */
			if ((rc = link_dump(l)) < 0)
				return rc;
			continue;
		}
		if (rc < 0)
			return rc;
	}
}
