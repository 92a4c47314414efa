#include "nl.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "common/log.h"
#include "netagent/dryrun.h"

/* Requests in flight at once while refreshing lifetimes. */
#define REFRESH_WINDOW 64
#define DUMP_TRIES 5

/* One address as a dump shows it. */
struct iface_addr {
	struct kiwi_addr addr;
	unsigned int prefixlen;
	char label[IFNAMSIZ];
	uint8_t proto;
};

struct addr_list {
	int ifindex;
	struct iface_addr *a;
	size_t n, cap;
	int err;
};

int
iface_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_SUCCESS:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_NOADDR:
	case NLE_OBJ_NOTFOUND:
		return -EADDRNOTAVAIL;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
	case NLE_NOACCESS:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_INVAL:
	case NLE_RANGE:
		return -EINVAL;
	case NLE_AGAIN:
	case NLE_DUMP_INTR:
		return -EAGAIN;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	}
	return -EIO;
}

int
iface_open(struct kiwi_iface *n, const char *ifname, const char *label)
{
	int rc;

	memset(n, 0, sizeof(*n));
	n->ifname = ifname;
	n->label = label;
	if ((n->sk = nl_socket_alloc()) == NULL)
		return -ENOMEM;
	if ((rc = nl_connect(n->sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(n->sk);
		n->sk = NULL;
		return iface_errno(rc);
	}
	return 0;
}

void
iface_close(struct kiwi_iface *n)
{
	if (n == NULL || n->sk == NULL)
		return;
	nl_socket_free(n->sk);
	n->sk = NULL;
}

static unsigned int
host_prefix(const struct kiwi_addr *a)
{
	return a->family == AF_INET6 ? 128 : 32;
}

/*
 * RTM_NEWADDR or RTM_DELADDR for kiwi's a.  A deletion of an IPv4
 * address names kiwi's label, so that the kernel itself refuses to
 * remove an address that is not kiwi's.
 */
static struct nl_msg *
addr_msg(const struct kiwi_iface *n, int type, int flags,
    const struct kiwi_addr *a, uint32_t lft)
{
	struct ifaddrmsg ifa = { 0 };
	struct ifa_cacheinfo ci = { 0 };
	size_t len = addr_len(a);
	struct nl_msg *m;

	ifa.ifa_family = (uint8_t)a->family;
	ifa.ifa_prefixlen = (uint8_t)host_prefix(a);
	ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	ifa.ifa_index = (uint32_t)n->ifindex;
	ci.ifa_prefered = ci.ifa_valid = lft;
	if ((m = nlmsg_alloc_simple(type, flags)) == NULL)
		return NULL;
	if (nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	    nla_put(m, IFA_LOCAL, (int)len, a->u.bytes) < 0 ||
	    nla_put(m, IFA_ADDRESS, (int)len, a->u.bytes) < 0 ||
	    (a->family == AF_INET &&
	        nla_put_string(m, IFA_LABEL, n->label) < 0) ||
	    (type == RTM_NEWADDR &&
	        (nla_put_u32(m, IFA_FLAGS,
	             a->family == AF_INET6 ? IFA_F_NODAD : 0) < 0 ||
	            nla_put(m, IFA_CACHEINFO, sizeof(ci), &ci) < 0 ||
	            nla_put_u8(m, IFA_PROTO, KIWI_IFA_PROTO) < 0))) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/*
 * What addr_request would have done; the renewals of lifetimes that
 * keep an address are not worth a line at info.
 */
static int
dry_request(
    struct kiwi_iface *n, int type, int flags, const struct kiwi_addr *a)
{
	char buf[KIWI_ADDRSTRLEN];

	addr_fmt(a, buf, sizeof(buf));
	if (type == RTM_DELADDR)
		log_info("dry-run: would remove %s/%d from %s", buf,
		    host_prefix(a), n->ifname);
	else if (flags & NLM_F_EXCL)
		log_info("dry-run: would add %s/%d to %s", buf, host_prefix(a),
		    n->ifname);
	else
		log_debug("dry-run: would renew %s/%d on %s", buf,
		    host_prefix(a), n->ifname);
	return 0;
}

/* Send one request and wait for its answer. */
static int
addr_request(struct kiwi_iface *n, int type, int flags,
    const struct kiwi_addr *a, uint32_t lft)
{
	struct nl_msg *m;

	if (n->ifindex <= 0)
		return -ENODEV;
	if (dryrun())
		return dry_request(n, type, flags, a);
	if ((m = addr_msg(n, type, flags, a, lft)) == NULL)
		return -ENOMEM;
	return iface_errno(nl_send_sync(n->sk, m));
}

/* The kernel's own view, attribute by attribute. */
static int
addr_parse_nl(struct nl_msg *msg, struct iface_addr *ia, int *ifindex)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[IFA_MAX + 1], *where;
	struct ifaddrmsg *ifa = nlmsg_data(h);

	if (h->nlmsg_type != RTM_NEWADDR ||
	    nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return -EINVAL;
	memset(ia, 0, sizeof(*ia));
	ia->addr.family = ifa->ifa_family;
	ia->prefixlen = ifa->ifa_prefixlen;
	*ifindex = (int)ifa->ifa_index;
	where = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (where == NULL || addr_len(&ia->addr) == 0 ||
	    nla_len(where) != (int)addr_len(&ia->addr))
		return -EINVAL;
	memcpy(ia->addr.u.bytes, nla_data(where), addr_len(&ia->addr));
	if (tb[IFA_LABEL])
		nla_strlcpy(ia->label, tb[IFA_LABEL], sizeof(ia->label));
	if (tb[IFA_PROTO])
		ia->proto = nla_get_u8(tb[IFA_PROTO]);
	return 0;
}

static int
list_add(struct nl_msg *msg, void *arg)
{
	struct addr_list *l = arg;
	struct iface_addr ia;
	int ifindex;
	void *p;

	if (addr_parse_nl(msg, &ia, &ifindex) < 0 || ifindex != l->ifindex)
		return NL_OK;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((p = reallocarray(l->a, l->cap, sizeof(*l->a))) == NULL) {
			l->err = -ENOMEM;
			return NL_STOP;
		}
		l->a = p;
	}
	l->a[l->n++] = ia;
	return NL_OK;
}

static int
list_dump(struct kiwi_iface *n, struct addr_list *l)
{
	struct ifaddrmsg ifa = { 0 };
	struct nl_cb *cb;
	int rc;

	ifa.ifa_family = AF_UNSPEC;
	if ((cb = nl_cb_alloc(NL_CB_DEFAULT)) == NULL)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, list_add, l);
	rc = nl_send_simple(n->sk, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	if (rc >= 0)
		rc = nl_recvmsgs(n->sk, cb);
	nl_cb_put(cb);
	return l->err < 0 ? l->err : iface_errno(rc);
}

/* Every address on kiwi's interface, retried if changes cut the dump. */
static int
addr_list(struct kiwi_iface *n, struct addr_list *l)
{
	int i, rc = -EAGAIN;

	for (i = 0; i < DUMP_TRIES && rc == -EAGAIN; i++) {
		free(l->a);
		memset(l, 0, sizeof(*l));
		l->ifindex = n->ifindex;
		rc = list_dump(n, l);
	}
	return rc;
}

static bool
addr_is_kiwis(const struct kiwi_iface *n, const struct iface_addr *ia)
{
	if (ia->prefixlen != host_prefix(&ia->addr))
		return false;
	if (ia->addr.family == AF_INET)
		return strcmp(ia->label, n->label) == 0;
	return ia->proto == KIWI_IFA_PROTO;
}

/*
 * XXX Only the same address on this interface is "exists" to the
 * kernel: the address configured elsewhere on the node is not noticed,
 * and kiwi adds its own beside it (and later removes only that).
 *
 * After "exists": IFACE_PRESENT when the address on the interface is
 * kiwi's, -EEXIST when it is not.
 */
static int
addr_owner(struct kiwi_iface *n, const struct kiwi_addr *a)
{
	struct addr_list l = { 0 };
	size_t i;
	int rc;

	if ((rc = addr_list(n, &l)) < 0)
		goto out;
	rc = -EEXIST;
	for (i = 0; i < l.n; i++) {
		if (!addr_equal(&l.a[i].addr, a))
			continue;
		if (addr_is_kiwis(n, &l.a[i]))
			rc = IFACE_PRESENT;
		break;
	}
out:
	free(l.a);
	return rc;
}

int
iface_claim(struct kiwi_iface *n, const struct kiwi_addr *a, uint32_t lft)
{
	int rc;

	rc = addr_request(n, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, a, lft);
	if (rc != -EEXIST)
		return rc < 0 ? rc : IFACE_ADDED;
	if ((rc = addr_owner(n, a)) != IFACE_PRESENT)
		return rc;
	rc = addr_request(n, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, a, lft);
	return rc < 0 ? rc : IFACE_PRESENT;
}

/* Send the requests for sets[from, to) without waiting. */
static int
refresh_send(struct kiwi_iface *n, const struct kiwi_ipset *sets, size_t from,
    size_t to, uint32_t lft)
{
	struct nl_msg *m;
	size_t i;
	int rc;

	for (i = from; i < to; i++) {
		m = addr_msg(n, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
		    &sets[i].addr, lft);
		if (m == NULL)
			return -ENOMEM;
		rc = nl_send_auto(n->sk, m);
		nlmsg_free(m);
		if (rc < 0)
			return iface_errno(rc);
	}
	return 0;
}

/*
 * The kernel answers each request with its own message, in order, so
 * one wait per request pairs them up.
 * XXX A replace also creates: an address the kernel dropped comes back
 * unannounced, and one with the same address that someone else added
 * since the claim gets kiwi's lifetime.
 */
int
iface_refresh(struct kiwi_iface *n, const struct kiwi_ipset *sets, size_t nsets,
    uint32_t lft, void (*fail)(void *, size_t, int), void *arg)
{
	size_t from, to, i;
	int rc;

	if (n->ifindex <= 0 && nsets > 0)
		return -ENODEV;
	if (dryrun()) {
		log_debug("dry-run: would renew %zu addresses on %s", nsets,
		    n->ifname);
		return 0;
	}
	for (from = 0; from < nsets; from = to) {
		to = from + REFRESH_WINDOW < nsets ? from + REFRESH_WINDOW
		                                   : nsets;
		if ((rc = refresh_send(n, sets, from, to, lft)) < 0)
			return rc;
		for (i = from; i < to; i++) {
			rc = iface_errno(nl_wait_for_ack(n->sk));
			if (rc == -ENOMEM || rc == -EIO)
				return rc;
			if (rc < 0)
				fail(arg, i, rc);
		}
	}
	return 0;
}

int
iface_remove(struct kiwi_iface *n, const struct kiwi_addr *a)
{
	int rc;

	if (n->ifindex <= 0)
		return 0; /* the interface went, and its addresses with it */
	rc = addr_request(n, RTM_DELADDR, 0, a, 0);
	if (rc == -EADDRNOTAVAIL || rc == -ENODEV)
		return 0;
	return rc;
}

int
iface_sweep(struct kiwi_iface *n)
{
	struct addr_list l = { 0 };
	char buf[KIWI_ADDRSTRLEN];
	size_t i;
	int rc, err = 0;

	if ((rc = addr_list(n, &l)) < 0) {
		log_warnc(rc, "cannot list addresses to sweep %s", n->ifname);
		free(l.a);
		return rc;
	}
	for (i = 0; i < l.n; i++) {
		if (!addr_is_kiwis(n, &l.a[i]))
			continue;
		addr_fmt(&l.a[i].addr, buf, sizeof(buf));
		/* iface_remove says what it would do. */
		if (dryrun()) {
			(void)iface_remove(n, &l.a[i].addr);
			continue;
		}
		if ((rc = iface_remove(n, &l.a[i].addr)) < 0) {
			log_warnc(rc, "cannot remove leftover %s from %s", buf,
			    n->ifname);
			err = rc;
			continue;
		}
		log_info("removed leftover %s from %s", buf, n->ifname);
	}
	free(l.a);
	return err;
}
