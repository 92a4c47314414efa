/*
 * Every key below KIWI_KEY_PREFIX: read once a lease is ours (which
 * says who holds what, and finds keys an earlier life of this node
 * left), then watched from the revision of that read, so that an
 * address another node lets go is claimed the moment its key goes.
 * When the watch breaks it is read and watched again after a backoff;
 * meanwhile standby addresses are retried on each renewal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claimer/claimer_int.h"
#include "common/log.h"
#include "common/util.h"

#define WATCH_BACKOFF_MIN_MS 100
#define WATCH_BACKOFF_MAX_MS 5000

/* The claim entry for a key below the prefix, if kiwi knows it. */
static struct claim *
key_claim(struct claimer *c, const struct ej_kv *kv)
{
	struct kiwi_addr a;
	size_t plen = strlen(KIWI_KEY_PREFIX);

	if (kv->keylen <= plen || strlen(kv->key) != kv->keylen ||
	    memcmp(kv->key, KIWI_KEY_PREFIX, plen) != 0 ||
	    addr_parse(kv->key + plen, &a) < 0)
		return NULL;
	return table_find(&c->table, &a);
}

/* A key of ours found in etcd counts as won. */
static void
found_ours(struct claimer *c, const struct ej_kv *kv)
{
	size_t plen = strlen(KIWI_KEY_PREFIX);
	struct claim *cl = key_claim(c, kv);
	struct kiwi_addr a;

	if (cl == NULL && c->table.n < c->cfg->max_addresses &&
	    addr_parse(kv->key + plen, &a) == 0 &&
	    (cl = table_add(&c->table, &a)) != NULL)
		cl->adopted = true;
	if (cl == NULL || cl->busy ||
	    (cl->state != CL_NONE && cl->state != CL_STANDBY))
		return;
	cl->state = CL_KEY;
	cl->dirty = true;
}

/*
 * A key naming this node on a lease that is not ours was left by an
 * earlier kiwi here that was killed: revoke that lease so its
 * addresses are free at once rather than after its TTL.
 */
static void
found_past(struct claimer *c, const struct ej_kv *kv)
{
	char node[KIWI_NODE_MAX + 1];
	size_t i;

	if (kv->h.lease == 0 || kv->h.lease == c->inherited ||
	    ej_parse_claim_value(
	        kv->h.value, kv->h.valuelen, node, sizeof(node)) < 0 ||
	    strcmp(node, c->cfg->node_name) != 0)
		return;
	for (i = 0; i < c->npast; i++)
		if (c->past[i] == kv->h.lease)
			return;
	log_info("%.100s names this node but is on lease %" PRId64 ", "
	         "left by an earlier kiwi here that was killed: revoking "
	         "that lease; node names must be unique in the cluster, or "
	         "this takes another node's addresses away",
	    kv->key, kv->h.lease);
	if (c->npast == PAST_MAX)
		memmove(c->past, c->past + 1, --c->npast * sizeof(*c->past));
	c->past[c->npast++] = kv->h.lease;
	lease_revoke_async(c, kv->h.lease);
}

static void
found_key(struct claimer *c, const struct ej_kv *kv)
{
	struct claim *cl;

	if (kv->h.lease == c->lease) {
		found_ours(c, kv);
		return;
	}
	/* Only at start: later, such a key can only be a same-named node's. */
	if (!c->have_read)
		found_past(c, kv);
	cl = key_claim(c, kv);
	if (cl != NULL && !cl->busy && cl->state == CL_NONE) {
		cl->state = CL_STANDBY;
		cl->holder_lease = kv->h.lease;
		status_note_holder(cl, &kv->h);
	}
}

/* XXX: every restart of the watch reads the whole prefix again. */
static void
apply_range(struct claimer *c, const struct ej_range *rg)
{
	struct claim *cl;
	size_t i;

	for (i = 0; i < c->table.n; i++)
		c->table.v[i]->in_etcd = false;
	for (i = 0; i < rg->n; i++) {
		found_key(c, &rg->kvs[i]);
		cl = key_claim(c, &rg->kvs[i]);
		if (cl != NULL)
			cl->in_etcd = true;
	}
	/* What went while nothing watched is free now. */
	for (i = 0; i < c->table.n; i++) {
		cl = c->table.v[i];
		if (!cl->in_etcd && cl->state == CL_STANDBY)
			cl->dirty = true;
	}
}

static void
watch_down(struct claimer *c, const char *why)
{
	int64_t b = c->watch_backoff;

	if (!c->watch_warned)
		log_warnx("etcd watch on %s is down (%s): an address another "
		          "node lets go is taken only on the next renewal "
		          "(every %" PRId64 " ms) until it is back",
		    KIWI_KEY_PREFIX, why, c->interval);
	c->watch_warned = true;
	c->watch_up = false;
	c->watch_next = now_ms() + b / 2 + random() % (b / 2 + 1);
	c->watch_backoff =
	    b * 2 > WATCH_BACKOFF_MAX_MS ? WATCH_BACKOFF_MAX_MS : b * 2;
}

static void
stop_watch(struct claimer *c, const char *why)
{
	etcd_cancel(c->watch_rq);
	c->watch_rq = NULL;
	watch_down(c, why);
}

/* Our key went, yet not by our hand: the address may not stay. */
static void
ours_deleted(struct claimer *c, struct claim *cl)
{
	char ip[KIWI_ADDRSTRLEN];

	log_warnx("the key of %s was deleted in etcd by someone else: "
	          "withdrawing it from this node and claiming it again",
	    claim_ip(cl, ip));
	if (cl->state == CL_HELD && c->na_fd >= 0)
		(void)na_send_addr(c, MSG_RELEASE, &cl->want.addr);
	cl->state = CL_NONE;
	cl->pending = 0;
	cl->dirty = true;
}

static void
on_event(struct claimer *c, const struct ej_event *ev)
{
	struct claim *cl = key_claim(c, &ev->kv);

	if (cl == NULL)
		return;
	if (!ev->deleted) {
		if (ev->kv.h.lease != c->lease && cl->state == CL_NONE &&
		    !cl->busy)
			cl->state = CL_STANDBY;
		return;
	}
	if (ev->has_prev && ev->prev.lease == c->lease && c->lease != 0 &&
	    !cl->busy && (cl->state == CL_KEY || cl->state == CL_HELD)) {
		ours_deleted(c, cl);
		return;
	}
	if (cl->wanted && cl->state != CL_HELD && cl->state != CL_KEY) {
		log_debug("%s was let go in etcd; claiming it", ev->kv.key);
		cl->dirty = true;
	}
}

static void
on_line(void *arg, const char *line, size_t len)
{
	struct claimer *c = arg;
	struct ej_watch w;
	size_t i;

	if (c->watch_rq == NULL)
		return;
	if (ej_parse_watch(line, len, &w) < 0) {
		log_debug("etcd watch: not a watch result: %.*s",
		    (int)(len > 200 ? 200 : len), line);
		stop_watch(c, "etcd sent something that is not a watch result");
		return;
	}
	if (w.canceled) {
		log_info("etcd cancelled the watch%s; reading %s again",
		    w.compact_revision ? " (its revision was compacted)" : "",
		    KIWI_KEY_PREFIX);
		stop_watch(c, "cancelled by etcd");
		c->watch_next = now_ms();
	} else if (w.created) {
		c->watch_up = true;
		c->watch_backoff = WATCH_BACKOFF_MIN_MS;
		log_info("watching %s in etcd at %s: addresses other nodes "
		         "let go are taken at once",
		    KIWI_KEY_PREFIX, etcd_member(c->etcd));
		c->watch_warned = false;
	}
	for (i = 0; i < w.n; i++)
		on_event(c, &w.ev[i]);
	ej_watch_free(&w);
}

static void
watch_ended(void *arg, int64_t tag, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;
	char why[300];

	(void)tag;
	c->watch_rq = NULL;
	snprintf(why, sizeof(why), "%s",
	    r < 0 ? etcd_req_error(rq) : "etcd ended the stream");
	watch_down(c, why);
}

static void
read_done(void *arg, int64_t lease, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;
	struct ej_range rg;
	char *body;

	c->read_rq = NULL;
	r = etcd_range_answer(rq, r, &rg);
	if (r < 0) {
		watch_down(c, etcd_req_error(rq));
		return;
	}
	/* A read on a lease since replaced cannot tell which keys are ours. */
	if (lease == c->lease)
		apply_range(c, &rg);
	c->have_read = c->have_read || lease == c->lease;
	body = ej_watch_body(KIWI_KEY_PREFIX, rg.revision + 1);
	ej_range_free(&rg);
	if (lease != c->lease) {
		c->watch_next = now_ms();
		free(body);
		return;
	}
	c->watch_rq =
	    etcd_start(c->etcd, ETCD_WATCH, body, watch_ended, on_line, c, 0);
	if (c->watch_rq == NULL)
		watch_down(c, etcd_error(c->etcd));
}

/* Read the prefix (then watch it) when due and a lease is ours. */
void
prefix_tick(struct claimer *c)
{
	/* The first read may revoke an earlier life's lease: see LINK. */
	if (c->read_rq != NULL || c->watch_rq != NULL || c->lease == 0 ||
	    !c->link_known || now_ms() < c->watch_next)
		return;
	c->watch_next = INT64_MAX;
	c->read_rq = etcd_start(c->etcd, ETCD_RANGE,
	    ej_range_body(KIWI_KEY_PREFIX), read_done, NULL, c, c->lease);
	if (c->read_rq == NULL)
		watch_down(c, etcd_error(c->etcd));
}

/*
 * A member that is stopped or cut off keeps a watch open and silent:
 * once renewals go to another member, watch there.
 *
 * XXX: a watch that falls silent is noticed only this way: a member
 * that still renews the lease but sends no events (a bug, or a
 * partition the renewals do not show) is trusted, and takeover then
 * waits for the slow retry of standby addresses (lease.c).
 */
void
prefix_member_changed(struct claimer *c, const char *member)
{
	if (c->watch_rq == NULL ||
	    strcmp(etcd_req_member(c->watch_rq), member) == 0)
		return;
	log_info("etcd renewals now go to %s: moving the watch there", member);
	etcd_cancel(c->watch_rq);
	c->watch_rq = NULL;
	c->watch_up = false;
	c->watch_next = now_ms();
}

int64_t
prefix_wake(const struct claimer *c)
{
	if (c->read_rq != NULL || c->watch_rq != NULL || c->lease == 0)
		return INT64_MAX;
	return c->watch_next;
}
