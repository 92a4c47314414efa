#include "check.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

const char *
peer_name(enum peer p)
{
	return p == PEER_SUP ? "supervisor" : "claimer";
}

int
check_sender(enum peer p, uint8_t type, const char **why)
{
	switch (type) {
	case MSG_CLAIM:
	case MSG_RELEASE:
	case MSG_RELEASE_ALL:
	case MSG_VOUCH:
		if (p == PEER_CLAIMER)
			return 0;
		*why = "only the claimer may send it";
		return -EPERM;
	case MSG_SHUTDOWN:
		if (p == PEER_SUP)
			return 0;
		*why = "only the supervisor may send it";
		return -EPERM;
	}
	*why = "the netagent does not accept this type";
	return -EPERM;
}

int
check_addr(
    const struct kiwi_config *cfg, const struct kiwi_addr *a, const char **why)
{
	if (a->family != AF_INET && a->family != AF_INET6) {
		*why = "address is neither IPv4 nor IPv6";
		return -EAFNOSUPPORT;
	}
	if (!addr_is_announceable(a)) {
		*why = "address is unspecified, loopback, multicast,"
		       " link-local, broadcast or IPv4-mapped";
		return -EADDRNOTAVAIL;
	}
	if (!cidr_list_contains(cfg->cidrs, cfg->ncidrs, a)) {
		*why = "address is outside the configured ranges";
		return -EPERM;
	}
	if (cidr_list_edge(cfg->cidrs, cfg->ncidrs, a)) {
		*why = "address is the network or broadcast address of a"
		       " configured range";
		return -EADDRNOTAVAIL;
	}
	return 0;
}

static int
check_rule(const struct kiwi_rule *r, const char **why)
{
	if (r->proto != KIWI_PROTO_TCP && r->proto != KIWI_PROTO_UDP &&
	    r->proto != KIWI_PROTO_SCTP) {
		*why = "rule has an unknown protocol";
		return -EPROTONOSUPPORT;
	}
	if (r->port == 0) {
		*why = "rule has port 0";
		return -EINVAL;
	}
	return 0;
}

int
check_rules(const struct kiwi_rule *rules, size_t n, const char **why)
{
	size_t i, j;
	int rc;

	if (n > KIWI_MAX_RULES) {
		*why = "too many rules";
		return -E2BIG;
	}
	for (i = 0; i < n; i++) {
		if ((rc = check_rule(&rules[i], why)) < 0)
			return rc;
		/* n is at most KIWI_MAX_RULES: quadratic is cheap. */
		for (j = 0; j < i; j++) {
			if (rules[j].proto == rules[i].proto &&
			    rules[j].port == rules[i].port) {
				*why = "two rules for the same protocol"
				       " and port";
				return -EINVAL;
			}
		}
	}
	return 0;
}

int
check_ipset(
    const struct kiwi_config *cfg, const struct kiwi_ipset *s, const char **why)
{
	int rc;

	if ((rc = check_addr(cfg, &s->addr, why)) < 0)
		return rc;
	if (!msg_name_valid(s->service)) {
		*why = "service is not a valid namespace/name";
		return -EINVAL;
	}
	return check_rules(s->rules, s->nrules, why);
}

/*
 * XXX The cap counts addresses only: each may carry KIWI_MAX_RULES
 * rules, so the chain can grow to max_addresses * 256 rules, and every
 * commit rewrites the whole mangle table.
 */
int
check_cap(const struct kiwi_config *cfg, size_t held, const char **why)
{
	if (held >= cfg->max_addresses) {
		*why = "the configured maximum number of addresses is"
		       " already held";
		return -ENOSPC;
	}
	return 0;
}
