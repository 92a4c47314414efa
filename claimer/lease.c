/*
 * The claimer's one lease: granted, renewed every third of the TTL,
 * trusted for two thirds of it after the renewal went out.  The
 * netagent is told how long the trust lasts (VOUCH), and the
 * supervisor which lease the claims are on (LEASE).
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

/* Longest wait between tries to reach etcd without a lease. */
#define BACKOFF_MAX_MS 5000
#define BACKOFF_MIN_MS 250
/* How soon to renew again after a renewal failed. */
#define RETRY_MS 500
/* With the watch up, standby addresses are retried this seldom. */
#define SWEEP_EVERY 10

bool
lease_fresh(const struct claimer *c)
{
	return c->lease != 0 && !c->withdrawn &&
	    now_ms() < c->renewed + c->safe;
}

void
etcd_failed(struct claimer *c, const char *what, const char *err)
{
	if (c->etcd_down)
		return;
	c->etcd_down = true;
	log_warnx("etcd: %s failed: %s; retrying", what, err);
}

void
etcd_answered(struct claimer *c)
{
	if (!c->etcd_down)
		return;
	c->etcd_down = false;
	log_info("etcd answers again at %s", etcd_member(c->etcd));
	mark_all_dirty(c);
}

static void
tell_supervisor(struct claimer *c, int64_t id)
{
	int r = msg_send_u64(c->sup_fd, MSG_LEASE, (uint64_t)id);

	if (r < 0)
		log_warnc(r,
		    "cannot tell the supervisor lease %" PRId64
		    " (ignoring: only a restart needs it)",
		    id);
}

/*
 * Tell the netagent until when every claim sent so far holds; it lets
 * them go by itself then.  A time, not a length, so that a VOUCH that
 * waits in the socket while the netagent is busy or stopped does not
 * stretch the trust.  Addresses it let go for want of a vouch may be
 * claimed again now.
 */
static void
vouch(struct claimer *c)
{
	int64_t until = c->renewed + c->safe;
	size_t i;

	if (c->na_fd < 0 || until <= now_ms())
		return;
	if (na_send_u64(c, MSG_VOUCH, (uint64_t)until) < 0)
		return;
	c->vouch_lapsed = false;
	for (i = 0; i < c->table.n; i++) {
		if (!c->table.v[i]->await_vouch)
			continue;
		c->table.v[i]->await_vouch = false;
		c->table.v[i]->dirty = true;
	}
}

/*
 * A renewal sent at sent holds for ttl seconds in etcd; trust it for
 * two thirds of that, leaving the rest as margin for delays.
 */
static void
trust(struct claimer *c, int64_t sent, int64_t ttl)
{
	if (ttl > c->cfg->ttl)
		ttl = c->cfg->ttl;
	c->renewed = sent;
	c->safe = ttl * 2000 / 3;
	c->next_tick = sent + c->interval;
	vouch(c);
}

/* A lease is ours from now: grant or adoption. */
static void
lease_taken(struct claimer *c, int64_t id, int64_t ttl)
{
	c->lease = id;
	c->withdrawn = false;
	c->backoff = BACKOFF_MIN_MS;
	etcd_answered(c);
	trust(c, c->lease_sent, ttl);
	tell_supervisor(c, id);
	mark_all_dirty(c);
}

static void
lease_retry(struct claimer *c)
{
	c->next_tick = now_ms() + c->backoff;
	c->backoff =
	    c->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff * 2;
}

static void
granted(void *arg, int64_t tag, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;
	int64_t id, ttl;

	(void)tag;
	c->lease_rq = NULL;
	r = etcd_grant_answer(rq, r, &id, &ttl);
	if (r < 0) {
		etcd_failed(c, "granting a lease", etcd_req_error(rq));
		lease_retry(c);
		return;
	}
	log_info("lease %" PRId64 " granted by %s (ttl %" PRId64 " s)", id,
	    etcd_req_member(rq), ttl);
	lease_taken(c, id, ttl);
}

static void
adopted(void *arg, int64_t id, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;
	int64_t ttl;

	c->lease_rq = NULL;
	r = etcd_keepalive_answer(rq, r, &ttl);
	if (r == -ENOENT) {
		log_info("lease %" PRId64 " of the claimer before is gone; "
		         "granting a new one",
		    id);
		c->adopt = 0;
		c->next_tick = now_ms();
		return;
	}
	if (r < 0) {
		etcd_failed(
		    c, "renewing the lease handed over", etcd_req_error(rq));
		lease_retry(c);
		return;
	}
	c->adopt = 0;
	log_info("kept lease %" PRId64 " of the claimer before (ttl %" PRId64
	         " s): its claims are still ours",
	    id, ttl);
	lease_taken(c, id, ttl);
}

static void
renewed(void *arg, int64_t id, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;
	int64_t ttl;

	c->lease_rq = NULL;
	if (id != c->lease)
		return;
	r = etcd_keepalive_answer(rq, r, &ttl);
	if (r == -ENOENT) {
		lease_lost(c);
		return;
	}
	if (r < 0) {
		etcd_failed(c, "renewing the lease", etcd_req_error(rq));
		c->next_tick = now_ms() + RETRY_MS;
		return;
	}
	etcd_answered(c);
	if (c->withdrawn)
		log_info("lease %" PRId64 " is still valid: claiming every "
		         "address again",
		    c->lease);
	if (c->withdrawn)
		mark_all_dirty(c);
	c->withdrawn = false;
	trust(c, c->lease_sent, ttl);
	prefix_member_changed(c, etcd_req_member(rq));
}

static void
send_lease_rq(struct claimer *c, const char *path, char *body, etcd_done_fn fn,
    int64_t id)
{
	c->lease_sent = now_ms();
	c->lease_rq = etcd_start(c->etcd, path, body, fn, NULL, c, id);
	if (c->lease_rq == NULL) {
		etcd_failed(c, "a lease request", etcd_error(c->etcd));
		lease_retry(c);
	}
}

/*
 * What a renewal tries again.  Standby addresses only when the watch
 * is down (it sees every key that goes), and on every SWEEP_EVERY-th
 * renewal, in case the watch has fallen silent.
 */
static void
mark_retries(struct claimer *c)
{
	bool sweep = !c->watch_up || ++c->renewals % SWEEP_EVERY == 0;
	size_t i;

	for (i = 0; i < c->table.n; i++) {
		struct claim *cl = c->table.v[i];

		if (cl->state == CL_HELD || (cl->state == CL_STANDBY && !sweep))
			continue;
		cl->dirty = true;
	}
}

void
lease_tick(struct claimer *c)
{
	if (c->lease_rq != NULL || now_ms() < c->next_tick)
		return;
	if (c->lease != 0)
		mark_retries(c);
	if (c->lease != 0)
		send_lease_rq(c, ETCD_KEEPALIVE, ej_lease_id_body(c->lease),
		    renewed, c->lease);
	else if (c->adopt != 0)
		send_lease_rq(c, ETCD_KEEPALIVE, ej_lease_id_body(c->adopt),
		    adopted, c->adopt);
	else
		send_lease_rq(c, ETCD_GRANT, ej_lease_grant_body(c->cfg->ttl),
		    granted, 0);
}

/* Forget the lease (its keys are gone or going) and take another. */
static void
lease_forget(struct claimer *c)
{
	etcd_cancel(c->lease_rq);
	c->lease_rq = NULL;
	c->lease = 0;
	c->withdrawn = false;
	c->next_tick = now_ms();
	c->backoff = BACKOFF_MIN_MS;
	tell_supervisor(c, 0);
}

void
lease_lost(struct claimer *c)
{
	log_warnx("lease %" PRId64 " is lost in etcd (expired or revoked): "
	          "withdrawing every address and claiming again on a new "
	          "lease",
	    c->lease);
	release_all(c, true);
	lease_forget(c);
}

static bool
is_past(const struct claimer *c, int64_t id)
{
	size_t i;

	for (i = 0; i < c->npast; i++)
		if (c->past[i] == id)
			return true;
	return false;
}

static void
revoked(void *arg, int64_t id, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;

	if (r == 0 || r == -ENOENT) {
		log_debug("lease %" PRId64 " revoked", id);
		mark_all_dirty(c);
	} else if (is_past(c, id))
		log_warnx("could not revoke lease %" PRId64 " (%s): its "
		          "addresses are free once it expires",
		    id, etcd_req_error(rq));
	else
		log_warnx("could not revoke lease %" PRId64 " (%s): its "
		          "claims stay in etcd until it expires in %u s",
		    id, etcd_req_error(rq), c->cfg->ttl);
}

void
lease_revoke_async(struct claimer *c, int64_t id)
{
	if (etcd_start(c->etcd, ETCD_REVOKE, ej_lease_id_body(id), revoked,
	        NULL, c, id) == NULL)
		log_warnx("could not revoke lease %" PRId64 ": %s", id,
		    etcd_error(c->etcd));
}

/*
 * Give up every claim at once: withdraw, then revoke the lease (one
 * request deletes every key on it) and take a new one.
 */
void
lease_drop(struct claimer *c, const char *why)
{
	int64_t old = c->lease;

	release_all(c, true);
	if (old == 0)
		return;
	log_info("revoking lease %" PRId64 " %s", old, why);
	lease_forget(c);
	lease_revoke_async(c, old);
}

/* Renewals stopped for too long: the lease may expire unseen. */
void
lease_check_deadline(struct claimer *c)
{
	if (c->lease == 0 || c->withdrawn || now_ms() < c->renewed + c->safe)
		return;
	log_warnx("no lease renewal for %" PRId64 " ms: withdrawing every "
	          "address from this node, since etcd may let the lease "
	          "expire and give the addresses to another node; they "
	          "return once etcd answers",
	    now_ms() - c->renewed);
	c->withdrawn = true;
	release_all(c, false);
}

/* When the lease next needs the loop. */
int64_t
lease_wake(const struct claimer *c)
{
	int64_t until = INT64_MAX;

	if (c->lease_rq == NULL)
		until = c->next_tick;
	if (c->lease != 0 && !c->withdrawn && c->renewed + c->safe < until)
		until = c->renewed + c->safe;
	return until;
}
