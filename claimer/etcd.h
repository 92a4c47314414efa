/*
 * A small etcd v3 client over the JSON gateway: a list of cluster
 * members and one libcurl multi handle, so that every request runs
 * alongside the caller's own poll loop and none can hold it up.
 *
 * A request is started with etcd_start and ends in its callback, run
 * from etcd_poll; a request that cannot reach a member (or gets a
 * 5xx) moves on to the next member while its time lasts.  The
 * synchronous calls below run one request to its end, for tests and
 * for shutdown.
 *
 * Every call returns a negative errno on failure and keeps a line of
 * text saying what went wrong (etcd_error, etcd_req_error); the client
 * itself logs only at debug level, so the caller decides how loudly
 * to report.
 *
 *	-ENOENT        the lease does not exist (any more)
 *	-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -EIO
 *	               no member could be reached in time
 *	-EAGAIN        members answered, but could not serve (5xx)
 *	-EINVAL        etcd refused the request
 *	-EPROTO        the answer made no sense
 *	-ENOMEM
 *	-ECANCELED     the request was cancelled (never passed to callbacks)
 */
#ifndef KIWI_ETCD_H
#define KIWI_ETCD_H

#include <poll.h>
#include <stdint.h>

#include "claimer/etcd_json.h"

/* Time one call may take in all, across every member it tries. */
#define ETCD_CALL_MS 3000
#define ETCD_CONNECT_MS 1000
/*
 * Keys claimed in one txn: a compare and a put each, under etcd's
 * default --max-txn-ops of 128.
 */
#define ETCD_CLAIMS_MAX 64

#define ETCD_GRANT "/v3/lease/grant"
#define ETCD_KEEPALIVE "/v3/lease/keepalive"
#define ETCD_REVOKE "/v3/lease/revoke"
#define ETCD_TXN "/v3/kv/txn"
#define ETCD_RANGE "/v3/kv/range"
#define ETCD_WATCH "/v3/watch"

struct etcd;
struct etcd_req;

/*
 * A request ended with r (0: etcd answered without an error).  tag is
 * what etcd_start was given.  The request is freed after it returns.
 */
typedef void (*etcd_done_fn)(
    void *arg, int64_t tag, struct etcd_req *rq, int r);
/* One line of a streaming answer (a watch), without its newline. */
typedef void (*etcd_line_fn)(void *arg, const char *line, size_t len);

/*
 * endpoints: comma-separated base URLs ("http://10.0.0.1:2379,...").
 * Logs and returns -EINVAL for a malformed list.
 */
int etcd_open(struct etcd **ep, const char *endpoints);
/* Cancels whatever is still running, without callbacks. */
void etcd_close(struct etcd *e);
/*
 * No request started from now on may run past this point on
 * CLOCK_MONOTONIC (now_ms); 0 removes the limit.  Lets the caller
 * keep its own deadlines.
 */
void etcd_set_deadline(struct etcd *e, int64_t ms);
/*
 * The longest one member may take to answer while others are left to
 * try (0: the whole call's time), so that one that hangs does not use
 * up the time of the rest.
 */
void etcd_set_attempt(struct etcd *e, long ms);
const char *etcd_error(const struct etcd *e);
/* The member that answered last (or will be tried first). */
const char *etcd_member(const struct etcd *e);

/*
 * Start a POST of body (taken over, freed here; NULL means out of
 * memory) to path.  NULL when it cannot even start (then fn does not
 * run).  With line set, the answer is a stream: each line goes to
 * line as it comes, the request has no time limit, and it ends (fn)
 * when the stream does.
 */
struct etcd_req *etcd_start(struct etcd *e, const char *path, char *body,
    etcd_done_fn fn, etcd_line_fn line, void *arg, int64_t tag);
/* Stop a request; its callback does not run. */
void etcd_cancel(struct etcd_req *rq);
/* Stop every request (not from a callback). */
void etcd_cancel_all(struct etcd *e);
const char *etcd_req_error(const struct etcd_req *rq);
/* The answer's body (NUL-terminated), once the request ended. */
const char *etcd_req_answer(const struct etcd_req *rq);
/* The member the request went to last. */
const char *etcd_req_member(const struct etcd_req *rq);

/*
 * Wait up to ms for the caller's fds or for etcd, run the requests
 * and the callbacks of those that ended.  fds' revents are filled.
 */
int etcd_poll(struct etcd *e, struct pollfd *fds, unsigned int nfds, int ms);

/* Reading answers: r is what the callback got; they return 0 or <0. */
int etcd_grant_answer(
    struct etcd_req *rq, int r, int64_t *id, int64_t *granted);
int etcd_keepalive_answer(struct etcd_req *rq, int r, int64_t *ttl);
/* 1: the key is on lease; 0: someone else's, h says whose. */
int etcd_claim_answer(
    struct etcd_req *rq, int r, int64_t lease, struct ej_holder *h);
/*
 * The answer to ej_claims_body for n keys (at most ETCD_CLAIMS_MAX):
 * res[i] is 1 when key i is on lease, 0 when someone else holds it
 * (h[i] says who; free with ej_holder_free), -EAGAIN when it did not
 * exist but the txn failed for another key.
 */
int etcd_claims_answer(struct etcd_req *rq, int r, int64_t lease, size_t n,
    int *res, struct ej_holder *h);
/* 1: deleted; 0: it was not ours. */
int etcd_release_answer(struct etcd_req *rq, int r);
int etcd_range_answer(struct etcd_req *rq, int r, struct ej_range *rg);

/* Synchronous calls, built on the above. */
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
/* Every key below prefix. */
int etcd_range(struct etcd *e, const char *prefix, struct ej_range *rg);

#endif
