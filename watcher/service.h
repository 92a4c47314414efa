/*
 * What the watcher takes from one Kubernetes Service object.
 */
#ifndef KIWI_SERVICE_H
#define KIWI_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/msg.h"

struct svc_port {
	uint8_t proto;
	uint16_t port;
};

struct service {
	char key[KIWI_NAME_LEN]; /* "namespace/name" */
	struct kiwi_addr *addrs; /* every valid one named, no duplicates */
	uint8_t *why; /* per address: enum addr_class, why it is not claimed */
	size_t naddrs;
	struct svc_port *ports;
	size_t nports;
};

/* Addresses already reported as outside the ranges. */
struct addr_seen {
	struct kiwi_addr *v; /* sorted */
	size_t n;
	size_t cap;
};

/* Which addresses a Service may ask for. */
struct svc_filter {
	const struct kiwi_cidr *cidrs;
	size_t ncidrs;
	struct addr_seen *seen; /* NULL: report every time */
	bool lb_ips; /* also the addresses a LoadBalancer was given */
};

void addr_seen_free(struct addr_seen *s);

/*
 * Fill key only, from metadata.namespace and metadata.name.  0,
 * -EINVAL when they are missing or not strings, -ENAMETOOLONG when
 * "namespace/name" does not fit a message.  Logs nothing.
 */
int service_key(const json_t *obj, char *key, size_t len);

/*
 * Parse a Service.  Addresses come from spec.externalIPs and
 * spec.deprecatedPublicIPs, and with f->lb_ips from spec.loadBalancerIP
 * and status.loadBalancer.ingress[].ip; ports from spec.ports.  A bad
 * address or port is logged with the Service and the field, and
 * skipped: the rest still counts.  An address kiwi will not claim
 * (outside the ranges, not announceable) is kept with its reason in
 * why, so that the status can show it.  Returns 0, or a negative errno (logged)
 * when the object cannot be used at all: not an object, no usable name
 * (-EINVAL, -ENAMETOOLONG), or -ENOMEM.
 */
int service_parse(
    const json_t *obj, const struct svc_filter *f, struct service *svc);
void service_free(struct service *svc);
/*
 * Copy text a Service owner chose into out for a log line, at most
 * outlen - 1 bytes, with anything unprintable replaced by '?'.
 */
const char *svc_text(const char *s, char *out, size_t outlen);
/* Whether svc asks for a. */
int service_wants(const struct service *svc, const struct kiwi_addr *a);
/* The class of an address svc asks for (ADDR_CLAIMABLE if it does not). */
uint8_t service_why(const struct service *svc, const struct kiwi_addr *a);

#endif
