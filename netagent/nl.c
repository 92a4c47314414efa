#include "nl.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>

#include "common/log.h"

static int
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
	/*
	 * XXX The index is resolved once: if the interface is deleted
	 * and made again, the netagent must be restarted.
	 */
	if ((n->ifindex = (int)if_nametoindex(ifname)) == 0)
		return -errno;
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

/* A libnl address object for a/32 on kiwi's interface, labelled. */
static int
addr_build(const struct kiwi_iface *n, const struct kiwi_addr *a,
    struct rtnl_addr **out)
{
	struct rtnl_addr *ra = NULL;
	struct nl_addr *local = NULL;
	int rc = -ENOMEM;

	if (a->family != AF_INET)
		return -EAFNOSUPPORT;
	if ((ra = rtnl_addr_alloc()) == NULL ||
	    (local = nl_addr_build(AF_INET, &a->u.v4, 4)) == NULL)
		goto fail;
	nl_addr_set_prefixlen(local, 32);
	rtnl_addr_set_ifindex(ra, n->ifindex);
	rtnl_addr_set_family(ra, AF_INET);
	rtnl_addr_set_scope(ra, RT_SCOPE_UNIVERSE);
	if ((rc = iface_errno(rtnl_addr_set_local(ra, local))) < 0 ||
	    (rc = iface_errno(rtnl_addr_set_label(ra, n->label))) < 0)
		goto fail;
	nl_addr_put(local);
	*out = ra;
	return 0;
fail:
	nl_addr_put(local);
	rtnl_addr_put(ra);
	return rc;
}

/* Whether cache object o is an IPv4 address on kiwi's interface. */
static int
addr_on_if(const struct kiwi_iface *n, struct rtnl_addr *o)
{
	return rtnl_addr_get_ifindex(o) == n->ifindex &&
	    rtnl_addr_get_family(o) == AF_INET;
}

static int
addr_is_kiwis(const struct kiwi_iface *n, struct rtnl_addr *o)
{
	const char *l = rtnl_addr_get_label(o);

	return l != NULL && strcmp(l, n->label) == 0;
}

/*
 * XXX Only the same address with the same prefix on this interface is
 * "exists" to the kernel: the address configured elsewhere on the node,
 * or here with another prefix, is not noticed, and kiwi adds its /32
 * beside it (and later removes only that).
 *
 * After "exists": IFACE_PRESENT when the address on the interface carries
 * kiwi's label, -EEXIST when it does not.
 */
static int
addr_owner(struct kiwi_iface *n, const struct kiwi_addr *a)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	struct nl_addr *local;
	int rc;

	if ((rc = iface_errno(rtnl_addr_alloc_cache(n->sk, &cache))) < 0)
		return rc;
	rc = -EEXIST;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;

		if (!addr_on_if(n, ra) ||
		    (local = rtnl_addr_get_local(ra)) == NULL ||
		    nl_addr_get_len(local) != 4 ||
		    memcmp(nl_addr_get_binary_addr(local), &a->u.v4, 4) != 0)
			continue;
		if (nl_addr_get_prefixlen(local) == 32 && addr_is_kiwis(n, ra))
			rc = IFACE_PRESENT;
		break;
	}
	nl_cache_free(cache);
	return rc;
}

int
iface_claim(struct kiwi_iface *n, const struct kiwi_addr *a)
{
	struct rtnl_addr *ra;
	int rc;

	if ((rc = addr_build(n, a, &ra)) < 0)
		return rc;
	rc = iface_errno(rtnl_addr_add(n->sk, ra, NLM_F_EXCL));
	rtnl_addr_put(ra);
	if (rc == -EEXIST)
		return addr_owner(n, a);
	return rc < 0 ? rc : IFACE_ADDED;
}

int
iface_remove(struct kiwi_iface *n, const struct kiwi_addr *a)
{
	struct rtnl_addr *ra;
	int rc;

	if ((rc = addr_build(n, a, &ra)) < 0)
		return rc;
	rc = iface_errno(rtnl_addr_delete(n->sk, ra, 0));
	rtnl_addr_put(ra);
	return rc == -EADDRNOTAVAIL ? 0 : rc;
}

int
iface_sweep(struct kiwi_iface *n)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	char buf[64];
	int rc, err = 0;

	if ((rc = iface_errno(rtnl_addr_alloc_cache(n->sk, &cache))) < 0) {
		log_warnc(rc, "cannot list addresses to sweep %s", n->ifname);
		return rc;
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;

		if (!addr_on_if(n, ra) || !addr_is_kiwis(n, ra))
			continue;
		nl_addr2str(rtnl_addr_get_local(ra), buf, sizeof(buf));
		rc = iface_errno(rtnl_addr_delete(n->sk, ra, 0));
		if (rc < 0 && rc != -EADDRNOTAVAIL) {
			log_warnc(rc, "cannot remove leftover %s from %s", buf,
			    n->ifname);
			err = rc;
			continue;
		}
		log_info("removed leftover %s from %s", buf, n->ifname);
	}
	nl_cache_free(cache);
	return err;
}
