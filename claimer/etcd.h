/*
 * A small etcd v3 client over the JSON gateway: one reusable libcurl
 * handle, a list of cluster members, and short timeouts so that the
 * claimer's loop is never held for long.
 *
 * Every call returns a negative errno on failure and keeps a line of
 * text saying what went wrong (etcd_error); the client itself logs
 * only at debug level, so the caller decides how loudly to report.
 *
 *	-ENOENT        the lease does not exist (any more)
 *	-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -EIO
 *	               no member could be reached in time
 *	-EAGAIN        members answered, but could not serve (5xx)
 *	-EINVAL        etcd refused the request
 *	-EPROTO        the answer made no sense
 *	-ENOMEM
 */
#ifndef KIWI_ETCD_H
#define KIWI_ETCD_H

#include <stdint.h>

#include "claimer/etcd_json.h"

/* Time one call may take in all, across every member it tries. */
#define ETCD_CALL_MS 3000
#define ETCD_CONNECT_MS 1000

struct etcd;

/*
 * endpoints: comma-separated base URLs ("http://10.0.0.1:2379,...").
 * Logs and returns -EINVAL for a malformed list.
 */
int etcd_open(struct etcd **ep, const char *endpoints);
void etcd_close(struct etcd *e);
/*
 * No call may run past this point on CLOCK_MONOTONIC (now_ms); 0
 * removes the limit.  Lets the caller keep its own deadlines.
 */
void etcd_set_deadline(struct etcd *e, int64_t ms);
const char *etcd_error(const struct etcd *e);
/* The member that answered last (or will be tried first). */
const char *etcd_member(const struct etcd *e);

int etcd_lease_grant(
    struct etcd *e, unsigned int ttl, int64_t *id, int64_t *granted);
/* One renewal; *ttl is what etcd granted.  -ENOENT: the lease is lost. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl);
int etcd_lease_revoke(struct etcd *e, int64_t id);

/*
 * Create key=value on lease unless the key exists.  1: created (or
 * already on this lease); 0: someone else holds it, h says who (free
 * with ej_holder_free).
 */
int etcd_claim(struct etcd *e, const char *key, const char *value,
    int64_t lease, struct ej_holder *h);
/* Delete key if it is on lease.  1: deleted; 0: it was not ours. */
int etcd_release(struct etcd *e, const char *key, int64_t lease);
/* Read key: 1 and h filled when it exists, else 0. */
int etcd_get(struct etcd *e, const char *key, struct ej_holder *h);
/* Number of keys below prefix. */
int etcd_count(struct etcd *e, const char *prefix, int64_t *n);

#endif
