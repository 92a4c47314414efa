/*
 * One address at a time: claiming its key, telling the netagent to
 * hold it, withdrawing it and releasing the key.  The rule it serves:
 * a CLAIM goes out only for a key won on a lease whose last renewal
 * is still trusted, and an address is withdrawn before its key goes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claimer/claimer_int.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

const char *
claim_ip(const struct claim *cl, char *buf)
{
	return addr_fmt(&cl->want.addr, buf, KIWI_ADDRSTRLEN);
}

static void
make_key(const struct claim *cl, char *key)
{
	char ip[KIWI_ADDRSTRLEN];

	snprintf(key, KEY_MAX, "%s%s", KIWI_KEY_PREFIX, claim_ip(cl, ip));
}

void
mark_all_dirty(struct claimer *c)
{
	size_t i;

	for (i = 0; i < c->table.n; i++)
		c->table.v[i]->dirty = true;
}

/*
 * The netagent is gone.  What it added may still be on the interface
 * (a killed netagent removes nothing), so the keys stay ours: another
 * node taking an address now could have it on two nodes.  The
 * supervisor restarts the workers; the next netagent sweeps what is
 * left, and the next claimer inherits the lease.
 */
void
netagent_gone(struct claimer *c, const char *why)
{
	size_t i;

	if (c->na_fd < 0)
		return;
	log_warnx("netagent %s: the addresses it added may still be on "
	          "this node, so their claims are kept and nothing more is "
	          "claimed or released until the workers are restarted",
	    why);
	c->na_fd = -1;
	for (i = 0; i < c->table.n; i++) {
		if (c->table.v[i]->state == CL_HELD)
			c->table.v[i]->state = CL_KEY;
		c->table.v[i]->pending = 0;
	}
}

static void
na_failed(struct claimer *c, int r)
{
	netagent_gone(c,
	    r == -ENOBUFS ? "stopped reading its socket"
	                  : "cannot be written to");
}

int
na_send(struct claimer *c, uint8_t type, const void *body, size_t len)
{
	int r;

	if (c->na_fd < 0)
		return -EPIPE;
	if ((r = sendq_msg(&c->naq, c->na_fd, type, body, len)) < 0)
		na_failed(c, r);
	return r;
}

int
na_send_addr(struct claimer *c, uint8_t type, const struct kiwi_addr *a)
{
	uint8_t buf[KIWI_ADDR_WIRELEN];
	ssize_t n = msg_encode_addr(a, buf, sizeof(buf));

	return n < 0 ? (int)n : na_send(c, type, buf, (size_t)n);
}

int
na_send_ipset(struct claimer *c, uint8_t type, const struct kiwi_ipset *s)
{
	static uint8_t buf[KIWI_MSG_MAX - KIWI_MSG_HDRLEN];
	ssize_t n = msg_encode_ipset(s, buf, sizeof(buf));

	return n < 0 ? (int)n : na_send(c, type, buf, (size_t)n);
}

int
na_send_u64(struct claimer *c, uint8_t type, uint64_t v)
{
	uint8_t buf[KIWI_U64_WIRELEN];

	memcpy(buf, &v, sizeof(v));
	return na_send(c, type, buf, sizeof(buf));
}

void
na_flush(struct claimer *c)
{
	int r;

	if (c->na_fd < 0 || !sendq_pending(&c->naq))
		return;
	if ((r = sendq_flush(&c->naq, c->na_fd)) < 0)
		na_failed(c, r);
}

static void
to_netagent(struct claimer *c, uint8_t type, struct claim *cl)
{
	int r;

	if (c->na_fd < 0)
		return;
	if (type == MSG_CLAIM)
		r = na_send_ipset(c, type, &cl->want);
	else
		r = na_send_addr(c, type, &cl->want.addr);
	if (r == 0 && type == MSG_CLAIM)
		cl->pending++;
}

/*
 * Withdraw everything at once.  The keys stay ours unless the lease
 * is lost, which took them all.
 */
void
release_all(struct claimer *c, bool lost)
{
	size_t i;

	if (c->na_fd >= 0)
		(void)na_send(c, MSG_RELEASE_ALL, NULL, 0);
	for (i = 0; i < c->table.n; i++) {
		struct claim *cl = c->table.v[i];

		if (lost && cl->state != CL_STANDBY)
			cl->state = CL_NONE;
		else if (cl->state == CL_HELD)
			cl->state = CL_KEY;
		cl->pending = 0;
		cl->dirty = true;
	}
}

/* etcd failures that say nothing about one key. */
static bool
etcd_transport(int r)
{
	return r != -EINVAL && r != -EPROTO && r != -ENOENT;
}

static void
claim_error(struct claimer *c, struct claim *cl, struct etcd_req *rq,
    const char *what, int r)
{
	char ip[KIWI_ADDRSTRLEN];

	if (r == -ENOENT) {
		lease_lost(c);
	} else if (etcd_transport(r)) {
		etcd_failed(c, what, etcd_req_error(rq));
	} else if (cl->last_err != r) {
		cl->last_err = r;
		log_warnx("%s: %s failed: %s; retrying on the next renewal",
		    claim_ip(cl, ip), what, etcd_req_error(rq));
	}
}

static void
log_holder(struct claim *cl, const struct ej_holder *h)
{
	char ip[KIWI_ADDRSTRLEN], node[KIWI_NODE_MAX + 1];

	if (cl->state == CL_STANDBY && cl->holder_lease == h->lease)
		return;
	cl->holder_lease = h->lease;
	claim_ip(cl, ip);
	if (ej_parse_claim_value(h->value, h->valuelen, node, sizeof(node)) < 0)
		log_info("%s is held in etcd by a value that is not kiwi's "
		         "(lease %" PRId64 "); standing by",
		    ip, h->lease);
	else
		log_info("%s is held by node %s; standing by", ip, node);
}

/*
 * The request for cl ended.  false when it no longer matters: it was
 * made on a lease that is gone, which took any key with it.
 */
static bool
request_ended(struct claimer *c, struct claim *cl, int64_t lease)
{
	cl->busy = false;
	c->inflight--;
	if (lease == c->lease)
		return true;
	if (cl->state == CL_KEY)
		cl->state = CL_NONE;
	cl->dirty = true;
	return false;
}

/* etcd said whose cl's key is: 1 ours, 0 another's (h says whose). */
static void
claim_outcome(struct claim *cl, int r, struct ej_holder *h)
{
	char ip[KIWI_ADDRSTRLEN];

	cl->last_err = 0;
	if (r == 0) {
		log_holder(cl, h);
		status_note_holder(cl, h);
		ej_holder_free(h);
		cl->state = CL_STANDBY;
		return;
	}
	log_info("claimed %s for %s", claim_ip(cl, ip), cl->want.service);
	cl->state = CL_KEY;
	cl->dirty = true;
}

static void
claimed(void *arg, int64_t lease, struct etcd_req *rq, int r)
{
	struct claim *cl = arg;
	struct claimer *c = cl->owner;
	struct ej_holder h;

	if (!request_ended(c, cl, lease))
		return;
	r = etcd_claim_answer(rq, r, lease, &h);
	if (r < 0) {
		claim_error(c, cl, rq, "claiming", r);
		return;
	}
	etcd_answered(c);
	claim_outcome(cl, r, &h);
}

static void
released(void *arg, int64_t lease, struct etcd_req *rq, int r)
{
	struct claim *cl = arg;
	struct claimer *c = cl->owner;
	char ip[KIWI_ADDRSTRLEN];

	if (!request_ended(c, cl, lease))
		return;
	r = etcd_release_answer(rq, r);
	/* Without the lease the key went with it. */
	if (r < 0 && r != -ENOENT) {
		claim_error(c, cl, rq, "releasing", r);
		return;
	}
	if (r >= 0)
		etcd_answered(c);
	log_info("released %s%s", claim_ip(cl, ip),
	    r < 0        ? " (its lease is gone, and the key with it)"
	        : r == 0 ? " (its key was no longer ours)"
	                 : "");
	cl->state = CL_NONE;
	cl->last_err = 0;
	cl->dirty = true;
}

/* Send the claim or release txn for cl; false when it cannot start. */
static bool
start_txn(struct claimer *c, struct claim *cl, bool claim)
{
	char key[KEY_MAX], ip[KIWI_ADDRSTRLEN], *body, *value = NULL;
	struct etcd_req *rq;

	make_key(cl, key);
	if (claim)
		value = ej_claim_value(
		    c->cfg->node_name, cl->want.service, claim_ip(cl, ip));
	if (claim)
		body = value ? ej_claim_body(key, value, c->lease) : NULL;
	else
		body = ej_release_body(key, c->lease);
	free(value);
	cl->owner = c;
	rq = etcd_start(c->etcd, ETCD_TXN, body, claim ? claimed : released,
	    NULL, cl, c->lease);
	if (rq == NULL) {
		log_warnx("%s: %s; retrying on the next renewal",
		    claim_ip(cl, ip), etcd_error(c->etcd));
		return false;
	}
	cl->busy = true;
	c->inflight++;
	return true;
}

/*
 * Claims gathered in one pass of reconcile, to go out as one txn: at
 * a cold start nobody holds most keys, and one txn for many is one
 * raft write (and fsync) instead of many.  It counts as one request
 * in flight.
 */
struct batch {
	struct claimer *c;
	size_t n;
	struct claim *cl[ETCD_CLAIMS_MAX];
};

/*
 * Most keys per txn; halved when etcd refuses one (a --max-txn-ops
 * below 128).  XXX One value per process, not per claimer: fine for
 * the daemon, which has one claimer.
 */
static size_t batch_max = ETCD_CLAIMS_MAX;

/* Until the answer says otherwise, every key of b is to be tried again. */
static void
batch_retry(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		b->cl[i]->busy = false;
		b->cl[i]->dirty = true;
	}
}

/*
 * The txn failed as a whole.  Its keys wait for the next renewal, as
 * a single key's would, unless etcd only found it too large.
 */
static void
batch_refused(struct claimer *c, struct batch *b, struct etcd_req *rq, int r)
{
	size_t i;

	if (r != -EINVAL || batch_max == 1) {
		claim_error(c, b->cl[0], rq, "claiming", r);
		for (i = 0; i < b->n; i++)
			b->cl[i]->dirty = false;
		return;
	}
	batch_max /= 2;
	log_info("etcd refused a claim of %zu keys in one txn (%s); "
	         "claiming at most %zu at a time",
	    b->n, etcd_req_error(rq), batch_max);
}

/*
 * A key that did not exist while another did is left dirty: the next
 * pass claims it again, without the keys now known to be held, so
 * every failed txn settles at least one key and the rest get through.
 */
static void
batch_claimed(void *arg, int64_t lease, struct etcd_req *rq, int r)
{
	struct batch *b = arg;
	struct claimer *c = b->c;
	struct ej_holder h[ETCD_CLAIMS_MAX];
	int res[ETCD_CLAIMS_MAX];
	size_t i;

	c->inflight--;
	batch_retry(b);
	if (lease != c->lease)
		goto out;
	if ((r = etcd_claims_answer(rq, r, lease, b->n, res, h)) < 0) {
		batch_refused(c, b, rq, r);
		goto out;
	}
	etcd_answered(c);
	for (i = 0; i < b->n; i++) {
		if (res[i] < 0)
			continue;
		/* A standby waits for news of the key, as after one claim. */
		b->cl[i]->dirty = false;
		claim_outcome(b->cl[i], res[i], &h[i]);
	}
out:
	free(b);
}

/* The claim txn for every key of b; false when it cannot start. */
static bool
batch_start(struct claimer *c, struct batch *b)
{
	char keys[ETCD_CLAIMS_MAX][KEY_MAX], ip[KIWI_ADDRSTRLEN];
	const char *kp[ETCD_CLAIMS_MAX], *vp[ETCD_CLAIMS_MAX];
	char *values[ETCD_CLAIMS_MAX] = { NULL };
	char *body = NULL;
	size_t i;

	for (i = 0; i < b->n; i++) {
		make_key(b->cl[i], keys[i]);
		kp[i] = keys[i];
		values[i] = ej_claim_value(c->cfg->node_name,
		    b->cl[i]->want.service, claim_ip(b->cl[i], ip));
		if ((vp[i] = values[i]) == NULL)
			break;
	}
	if (i == b->n)
		body = ej_claims_body(kp, vp, b->n, c->lease);
	for (i = 0; i < b->n; i++)
		free(values[i]);
	if (etcd_start(c->etcd, ETCD_TXN, body, batch_claimed, NULL, b,
	        c->lease) != NULL)
		return true;
	log_warnx("claiming %zu addresses: %s; retrying on the next renewal",
	    b->n, etcd_error(c->etcd));
	return false;
}

/*
 * Send what *bp gathered and forget it.  A lone key goes as its own
 * txn, as in the steady state.  Claims that cannot start stay dirty.
 */
static void
batch_send(struct claimer *c, struct batch **bp)
{
	struct batch *b = *bp;
	size_t i;

	*bp = NULL;
	if (b == NULL)
		return;
	if (b->n > 1 && batch_start(c, b))
		return;
	c->inflight--;
	for (i = 0; i < b->n; i++) {
		b->cl[i]->busy = false;
		b->cl[i]->dirty = true;
	}
	if (b->n == 1 && start_txn(c, b->cl[0], true))
		b->cl[0]->dirty = false;
	free(b);
}

/* Add cl to the claims of this pass, if a request may start. */
static void
batch_add(struct claimer *c, struct batch **bp, struct claim *cl)
{
	if (*bp == NULL) {
		if (c->inflight >= INFLIGHT_MAX ||
		    (*bp = calloc(1, sizeof(**bp))) == NULL)
			return;
		(*bp)->c = c;
		c->inflight++;
	}
	cl->owner = c;
	cl->busy = true;
	cl->dirty = false;
	(*bp)->cl[(*bp)->n++] = cl;
	if ((*bp)->n >= batch_max)
		batch_send(c, bp);
}

/* Work on one address that is not (or no longer) to be held here. */
static void
settle_unheld(struct claimer *c, struct claim *cl)
{
	if (cl->state == CL_HELD) {
		to_netagent(c, MSG_RELEASE, cl);
		cl->state = CL_KEY;
		cl->pending = 0;
	}
	/*
	 * Until the first full set, a key found on our lease may be
	 * wanted.  XXX: a watcher that never completes a set keeps such
	 * keys until shutdown.
	 */
	if (cl->adopted && !c->synced && cl->state == CL_KEY)
		return;
	if (cl->state != CL_KEY || c->lease == 0) {
		if (cl->state == CL_KEY)
			cl->state = CL_NONE;
		cl->dirty = false;
		return;
	}
	if (c->etcd_down || c->inflight >= INFLIGHT_MAX)
		return;
	cl->dirty = false;
	start_txn(c, cl, false);
}

/* Bring one dirty address closer to what is wanted. */
static void
settle(struct claimer *c, struct claim *cl, struct batch **b)
{
	if (cl->busy)
		return;
	if (c->na_fd < 0) {
		cl->dirty = false;
		return;
	}
	if (!cl->wanted || cl->failed || c->link_down) {
		settle_unheld(c, cl);
		return;
	}
	if (cl->state == CL_HELD) {
		if (cl->changed)
			to_netagent(c, MSG_CLAIM, cl);
		cl->changed = false;
		cl->dirty = false;
		return;
	}
	if (!lease_fresh(c) || c->etcd_down || !c->have_read)
		return;
	if (cl->await_vouch) {
		cl->dirty = false;
		return;
	}
	if (cl->state != CL_KEY) {
		batch_add(c, b, cl);
		return;
	}
	/*
	 * Hold new CLAIMs back while the netagent's socket is full, so
	 * that a VOUCH never waits behind seconds of its work (it counts
	 * from when it is read).  What is held back stays dirty.
	 */
	if (sendq_pending(&c->naq))
		return;
	cl->dirty = false;
	to_netagent(c, MSG_CLAIM, cl);
	if (c->na_fd >= 0)
		cl->state = CL_HELD;
	cl->changed = false;
}

/* Start what the dirty addresses need; answers come back later. */
void
reconcile(struct claimer *c)
{
	struct batch *b = NULL;
	size_t i;

	if (!c->link_known)
		return;
	/* No claim or release may outlast the trust in the last renewal. */
	etcd_set_deadline(c->etcd, lease_fresh(c) ? c->renewed + c->safe : 0);
	for (i = 0; i < c->table.n; i++)
		if (c->table.v[i]->dirty)
			settle(c, c->table.v[i], &b);
	batch_send(c, &b);
	etcd_set_deadline(c->etcd, 0);
	table_sweep(&c->table);
}

void
claims_withdrawn(struct claimer *c, struct claim *cl)
{
	char ip[KIWI_ADDRSTRLEN];

	if (!c->vouch_lapsed)
		log_warnx("the netagent withdrew %s and may withdraw more: "
		          "this node's claims were not vouched for in time; "
		          "they are claimed again once the lease is renewed",
		    claim_ip(cl, ip));
	c->vouch_lapsed = true;
	if (cl->pending > 0)
		cl->pending--;
	if (cl->state == CL_HELD)
		cl->state = CL_KEY;
	cl->await_vouch = true;
	cl->dirty = true;
}

void
claims_on_result(struct claimer *c, const struct kiwi_msg *m)
{
	char ip[KIWI_ADDRSTRLEN];
	struct kiwi_addr a;
	struct claim *cl;
	int r, err;

	r = msg_decode_result(m->body, m->len, &a, &err);
	if (r < 0) {
		log_warnc(r, "ignoring a malformed RESULT from the netagent");
		return;
	}
	cl = table_find(&c->table, &a);
	if (cl != NULL && err == -ETIMEDOUT) {
		claims_withdrawn(c, cl);
		return;
	}
	/* Only the answer to the latest CLAIM counts. */
	if (cl == NULL || cl->pending == 0 || --cl->pending > 0 ||
	    cl->state != CL_HELD)
		return;
	addr_fmt(&a, ip, sizeof(ip));
	if (err == 0) {
		log_debug("%s is configured on this node", ip);
		return;
	}
	log_warnx("%s is claimed here but could not be configured: %s; "
	          "releasing it so another node can take it",
	    ip, strerror(err < 0 ? -err : err));
	cl->failed = true;
	cl->refused = err;
	cl->dirty = true;
}
