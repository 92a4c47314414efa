/*
 * The claimer's loop: messages from the supervisor, the watcher and
 * the netagent, and a timer that renews the lease.
 *
 * The one rule everything here serves: the netagent holds an address
 * only while this node's key for it exists in etcd.  So a CLAIM goes
 * out only after the key was won on a lease renewed recently, every
 * address is withdrawn (RELEASE / RELEASE_ALL) before its key can go,
 * and when renewals stop for too long everything is withdrawn before
 * the lease could expire on etcd's side.
 */
#include "claimer/claimer.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claimer/etcd.h"
#include "claimer/table.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

/* Longest wait between tries to reach etcd without a lease. */
#define BACKOFF_MAX_MS 5000
#define BACKOFF_MIN_MS 250
/* How soon to renew again after a renewal failed. */
#define RETRY_MS 500
/* How long shutdown waits for the netagent to confirm RELEASE_ALL. */
#define SHUTDOWN_WAIT_MS 3000
/* etcd requests per pass before looking at the sockets again. */
#define PASS_MAX 32
#define KEY_MAX (sizeof(KIWI_KEY_PREFIX) + KIWI_ADDRSTRLEN)

struct claimer {
	const struct kiwi_config *cfg;
	struct etcd *etcd;
	struct table table;
	int sup_fd;
	int watcher_fd;
	int na_fd;
	int64_t lease; /* 0: none */
	int64_t renewed; /* last successful grant or renewal */
	int64_t next_tick;
	int64_t backoff;
	int64_t interval; /* between renewals */
	int64_t safe; /* how long a renewal is trusted */
	bool etcd_down; /* the last call failed; wait for the tick */
	bool withdrawn; /* RELEASE_ALL went out for want of renewals */
	bool syncing;
	bool synced; /* a full set (SYNC_END) has arrived */
	bool ready_sent;
	bool done;
};

static const char *
ipstr(const struct claim *cl, char *buf)
{
	return addr_fmt(&cl->want.addr, buf, KIWI_ADDRSTRLEN);
}

static void
make_key(const struct claim *cl, char *key)
{
	char ip[KIWI_ADDRSTRLEN];

	snprintf(key, KEY_MAX, "%s%s", KIWI_KEY_PREFIX, ipstr(cl, ip));
}

static bool
lease_fresh(const struct claimer *c)
{
	return c->lease != 0 && !c->withdrawn &&
	    now_ms() < c->renewed + c->safe;
}

static void
mark_all_dirty(struct claimer *c)
{
	size_t i;

	for (i = 0; i < c->table.n; i++)
		c->table.v[i]->dirty = true;
}

/* The netagent is gone: nothing is held on this node any more. */
static void
netagent_gone(struct claimer *c, const char *why)
{
	size_t i;

	if (c->na_fd < 0)
		return;
	log_warnx("netagent %s: no address is held on this node any more; "
	          "releasing every claim so other nodes can take them",
	    why);
	c->na_fd = -1;
	for (i = 0; i < c->table.n; i++) {
		if (c->table.v[i]->state == CL_HELD)
			c->table.v[i]->state = CL_KEY;
		c->table.v[i]->pending = 0;
	}
	mark_all_dirty(c);
}

static void
to_netagent_addr(struct claimer *c, uint8_t type, struct claim *cl)
{
	int r;

	if (c->na_fd < 0)
		return;
	if (type == MSG_CLAIM)
		r = msg_send_ipset(c->na_fd, type, &cl->want);
	else
		r = msg_send_addr(c->na_fd, type, &cl->want.addr);
	if (r < 0) {
		netagent_gone(c, "cannot be written to");
	} else if (type == MSG_CLAIM)
		cl->pending++;
}

/*
 * Withdraw everything at once.  The keys stay ours unless the lease
 * is lost, which took them all.
 */
static void
release_all(struct claimer *c, bool lost)
{
	size_t i;
	int r;

	if (c->na_fd >= 0) {
		r = msg_send(c->na_fd, MSG_RELEASE_ALL, NULL, 0);
		if (r < 0)
			netagent_gone(c, "cannot be written to");
	}
	for (i = 0; i < c->table.n; i++) {
		struct claim *cl = c->table.v[i];

		if (lost && cl->state != CL_STANDBY)
			cl->state = CL_NONE;
		else if (cl->state == CL_HELD)
			cl->state = CL_KEY;
		cl->dirty = true;
	}
}

static void
etcd_failed(struct claimer *c, const char *what)
{
	if (c->etcd_down)
		return;
	c->etcd_down = true;
	log_warnx("etcd: %s failed: %s; retrying", what, etcd_error(c->etcd));
}

static void
etcd_answered(struct claimer *c)
{
	if (!c->etcd_down)
		return;
	c->etcd_down = false;
	log_info("etcd answers again at %s", etcd_member(c->etcd));
}

static void
lease_lost(struct claimer *c)
{
	log_warnx("lease %" PRId64 " is lost in etcd (expired or revoked): "
	          "withdrawing every address and claiming again on a new "
	          "lease",
	    c->lease);
	release_all(c, true);
	c->lease = 0;
	c->withdrawn = false;
	c->next_tick = now_ms();
	c->backoff = BACKOFF_MIN_MS;
}

/* etcd failures that say nothing about one key: stop this pass. */
static bool
etcd_transport(int r)
{
	return r != -EINVAL && r != -EPROTO && r != -ENOENT;
}

static void
claim_error(struct claimer *c, struct claim *cl, const char *what, int r)
{
	char ip[KIWI_ADDRSTRLEN];

	if (r == -ENOENT) {
		lease_lost(c);
	} else if (etcd_transport(r)) {
		etcd_failed(c, what);
	} else if (cl->last_err != r) {
		cl->last_err = r;
		log_warnx("%s: %s failed: %s; retrying on the next renewal",
		    ipstr(cl, ip), what, etcd_error(c->etcd));
	}
}

static void
log_holder(struct claim *cl, const struct ej_holder *h)
{
	char ip[KIWI_ADDRSTRLEN], node[KIWI_NODE_MAX + 1];

	if (cl->state == CL_STANDBY && cl->holder_lease == h->lease)
		return;
	cl->holder_lease = h->lease;
	ipstr(cl, ip);
	if (ej_parse_claim_value(h->value, h->valuelen, node, sizeof(node)) < 0)
		log_info("%s is held in etcd by a value that is not kiwi's "
		         "(lease %" PRId64 "); standing by",
		    ip, h->lease);
	else
		log_info("%s is held by node %s; standing by", ip, node);
}

/* 1: the key is ours; 0: someone else's; <0: failed. */
static int
claim_key(struct claimer *c, struct claim *cl)
{
	char key[KEY_MAX], ip[KIWI_ADDRSTRLEN], *value;
	struct ej_holder h;
	int r;

	make_key(cl, key);
	value =
	    ej_claim_value(c->cfg->node_name, cl->want.service, ipstr(cl, ip));
	if (value == NULL)
		return -ENOMEM;
	r = etcd_claim(c->etcd, key, value, c->lease, &h);
	free(value);
	if (r < 0) {
		claim_error(c, cl, "claiming", r);
		return r;
	}
	cl->last_err = 0;
	if (r == 0) {
		log_holder(cl, &h);
		ej_holder_free(&h);
		cl->state = CL_STANDBY;
		return 0;
	}
	log_info("claimed %s for %s", ip, cl->want.service);
	cl->state = CL_KEY;
	return 1;
}

static int
release_key(struct claimer *c, struct claim *cl)
{
	char key[KEY_MAX], ip[KIWI_ADDRSTRLEN];
	int r;

	make_key(cl, key);
	r = etcd_release(c->etcd, key, c->lease);
	if (r < 0) {
		/* Without the lease the key went with it. */
		if (r != -ENOENT)
			claim_error(c, cl, "releasing", r);
		return r == -ENOENT ? 0 : r;
	}
	log_info("released %s%s", ipstr(cl, ip),
	    r == 0 ? " (its key was no longer ours)" : "");
	cl->state = CL_NONE;
	cl->last_err = 0;
	return 0;
}

/* Work on one address that is not (or no longer) to be held here. */
static int
settle_unheld(struct claimer *c, struct claim *cl)
{
	if (cl->state == CL_HELD)
		to_netagent_addr(c, MSG_RELEASE, cl);
	if (cl->state == CL_HELD)
		cl->state = CL_KEY;
	if (cl->state != CL_KEY || c->lease == 0) {
		cl->state = cl->state == CL_KEY ? CL_NONE : cl->state;
		cl->dirty = false;
		return 0;
	}
	if (c->etcd_down)
		return 0;
	if (release_key(c, cl) < 0)
		return 1;
	cl->dirty = false;
	return 1;
}

/*
 * Bring one dirty address closer to what is wanted.  Returns the
 * number of etcd requests it made.
 */
static int
settle(struct claimer *c, struct claim *cl)
{
	int calls = 0;

	if (!cl->wanted || cl->failed || c->na_fd < 0)
		return settle_unheld(c, cl);
	if (cl->state == CL_HELD) {
		if (cl->changed)
			to_netagent_addr(c, MSG_CLAIM, cl);
		cl->changed = false;
		cl->dirty = false;
		return 0;
	}
	if (!lease_fresh(c) || c->etcd_down)
		return 0;
	/* Failures and standbys are tried again on the next renewal. */
	cl->dirty = false;
	if (cl->state != CL_KEY) {
		calls = 1;
		if (claim_key(c, cl) <= 0)
			return calls;
	}
	to_netagent_addr(c, MSG_CLAIM, cl);
	if (c->na_fd >= 0)
		cl->state = CL_HELD;
	cl->changed = false;
	return calls;
}

/* One pass over the dirty addresses; true when work is left. */
static bool
reconcile(struct claimer *c)
{
	size_t i;
	int calls = 0;
	bool left = false;

	for (i = 0; i < c->table.n; i++) {
		if (!c->table.v[i]->dirty)
			continue;
		if (calls >= PASS_MAX) {
			left = true;
			break;
		}
		calls += settle(c, c->table.v[i]);
	}
	table_sweep(&c->table);
	return left;
}

/*
 * Ready once the first full set is handled: every address claimed and
 * confirmed by the netagent, or known to be held elsewhere.  The
 * supervisor tells systemd; it is said once.
 */
static void
maybe_ready(struct claimer *c)
{
	size_t i;
	int rc;

	if (c->ready_sent || !c->synced || !lease_fresh(c))
		return;
	for (i = 0; i < c->table.n; i++)
		if (c->table.v[i]->dirty || c->table.v[i]->pending > 0)
			return;
	c->ready_sent = true;
	if ((rc = msg_send(c->sup_fd, MSG_READY, NULL, 0)) < 0)
		log_warnc(rc, "cannot tell the supervisor kiwi is ready");
	else
		log_info(
		    "first full set handled: %zu addresses known", c->table.n);
}

/*
 * A renewal at now holds for ttl seconds in etcd; trust it for two
 * thirds of that, leaving the rest as margin for delays on the way.
 */
static void
trust(struct claimer *c, int64_t now, int64_t ttl)
{
	if (ttl > c->cfg->ttl)
		ttl = c->cfg->ttl;
	c->renewed = now;
	c->safe = ttl * 2000 / 3;
	c->next_tick = now + c->interval;
}

static void
grant(struct claimer *c, int64_t now)
{
	int64_t id, ttl;
	int r;

	r = etcd_lease_grant(c->etcd, c->cfg->ttl, &id, &ttl);
	if (r < 0) {
		etcd_failed(c, "granting a lease");
		c->next_tick = now + c->backoff;
		c->backoff = c->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
		                                             : c->backoff * 2;
		return;
	}
	etcd_answered(c);
	c->lease = id;
	trust(c, now, ttl);
	log_info("lease %" PRId64 " granted by %s (ttl %" PRId64 " s)", id,
	    etcd_member(c->etcd), ttl);
	mark_all_dirty(c);
}

static void
renew(struct claimer *c, int64_t now)
{
	int64_t ttl;
	int r;

	r = etcd_lease_keepalive(c->etcd, c->lease, &ttl);
	if (r == -ENOENT) {
		lease_lost(c);
		return;
	}
	if (r < 0) {
		etcd_failed(c, "renewing the lease");
		c->next_tick = now + RETRY_MS;
		return;
	}
	etcd_answered(c);
	trust(c, now, ttl);
	if (c->withdrawn)
		log_info("lease %" PRId64 " is still valid: claiming every "
		         "address again",
		    c->lease);
	c->withdrawn = false;
}

/*
 * XXX: failover by polling: standby addresses are tried again on
 * every renewal, so takeover waits up to a renewal interval after the
 * holder's key goes; a watch on the prefix would see it at once.
 */
static void
tick(struct claimer *c)
{
	int64_t now = now_ms();
	size_t i;

	if (c->lease == 0)
		grant(c, now);
	else
		renew(c, now);
	if (!lease_fresh(c))
		return;
	for (i = 0; i < c->table.n; i++)
		if (c->table.v[i]->state != CL_HELD)
			c->table.v[i]->dirty = true;
}

/* Renewals stopped for too long: the lease may expire unseen. */
static void
check_deadline(struct claimer *c)
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

static int
check_addr(struct claimer *c, const struct kiwi_addr *a, const char *type)
{
	char ip[KIWI_ADDRSTRLEN];

	if (cidr_list_contains(c->cfg->cidrs, c->cfg->ncidrs, a))
		return 0;
	log_warnx("watcher sent %s for %s, outside the configured ranges; "
	          "ignoring it",
	    type, addr_fmt(a, ip, sizeof(ip)));
	return -EINVAL;
}

static struct claim *
desire_entry(struct claimer *c, const struct kiwi_addr *a)
{
	char ip[KIWI_ADDRSTRLEN];
	struct claim *cl = table_find(&c->table, a);

	if (cl != NULL)
		return cl;
	if (c->table.n >= c->cfg->max_addresses) {
		log_warnx("ignoring DESIRE for %s: %u addresses are wanted "
		          "already, the most allowed",
		    addr_fmt(a, ip, sizeof(ip)), c->cfg->max_addresses);
		return NULL;
	}
	cl = table_add(&c->table, a);
	if (cl == NULL)
		log_warnx("ignoring DESIRE for %s: out of memory",
		    addr_fmt(a, ip, sizeof(ip)));
	return cl;
}

/*
 * XXX: when only the Service name changes while an address is held,
 * the value in etcd keeps naming the old one until it is claimed anew.
 */
static void
on_desire(struct claimer *c, const struct kiwi_msg *m)
{
	struct kiwi_ipset s;
	struct claim *cl;
	int r;

	r = msg_decode_ipset(m->body, m->len, &s);
	if (r < 0) {
		log_warnc(r, "ignoring a malformed DESIRE from the watcher");
		return;
	}
	if (check_addr(c, &s.addr, "DESIRE") < 0 ||
	    (cl = desire_entry(c, &s.addr)) == NULL) {
		ipset_free(&s);
		return;
	}
	cl->seen = true;
	if (cl->wanted && ipset_equal(&cl->want, &s)) {
		ipset_free(&s);
		return;
	}
	ipset_free(&cl->want);
	cl->want = s;
	cl->wanted = true;
	cl->failed = false;
	cl->changed = true;
	cl->dirty = true;
}

static void
on_undesire(struct claimer *c, const struct kiwi_msg *m)
{
	struct kiwi_addr a;
	struct claim *cl;
	int r;

	r = msg_decode_addr(m->body, m->len, &a);
	if (r < 0) {
		log_warnc(r, "ignoring a malformed UNDESIRE from the watcher");
		return;
	}
	cl = table_find(&c->table, &a);
	if (cl == NULL)
		return;
	cl->wanted = false;
	cl->dirty = true;
}

static void
on_sync(struct claimer *c, bool end)
{
	size_t i;

	if (end && !c->syncing) {
		log_warnx("ignoring SYNC_END from the watcher without "
		          "SYNC_BEGIN");
		return;
	}
	c->syncing = !end;
	c->synced = c->synced || end;
	for (i = 0; i < c->table.n; i++) {
		struct claim *cl = c->table.v[i];

		if (!end)
			cl->seen = false;
		else if (cl->wanted && !cl->seen) {
			cl->wanted = false;
			cl->dirty = true;
		}
	}
}

static void
on_result(struct claimer *c, const struct kiwi_msg *m)
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
	cl->dirty = true;
}

static void
dispatch(struct claimer *c, int fd, const struct kiwi_msg *m)
{
	const char *peer = fd == c->sup_fd ? "supervisor"
	    : fd == c->watcher_fd          ? "watcher"
	                                   : "netagent";

	if (fd == c->sup_fd && m->type == MSG_SHUTDOWN)
		c->done = true;
	else if (fd == c->watcher_fd && m->type == MSG_DESIRE)
		on_desire(c, m);
	else if (fd == c->watcher_fd && m->type == MSG_UNDESIRE)
		on_undesire(c, m);
	else if (fd == c->watcher_fd &&
	    (m->type == MSG_SYNC_BEGIN || m->type == MSG_SYNC_END))
		on_sync(c, m->type == MSG_SYNC_END);
	else if (fd == c->na_fd && m->type == MSG_RESULT)
		on_result(c, m);
	else if (fd == c->na_fd && m->type == MSG_RELEASE_ALL_DONE)
		log_debug("netagent confirmed RELEASE_ALL");
	else
		log_warnx("ignoring %s (%u) from the %s, which may not send "
		          "it",
		    msg_type_name(m->type), m->type, peer);
}

static void
peer_closed(struct claimer *c, int fd)
{
	if (fd == c->sup_fd) {
		log_info("supervisor closed its socket; shutting down");
		c->done = true;
	} else if (fd == c->watcher_fd) {
		log_warnx("watcher closed its socket: the wanted set stays "
		          "as it is");
		c->watcher_fd = -1;
	} else {
		netagent_gone(c, "closed its socket");
	}
}

/* Read every message waiting on fd. */
static void
drain(struct claimer *c, int fd, struct kiwi_msg *m)
{
	int r;

	while (!c->done && fd >= 0) {
		r = msg_recv(fd, m);
		if (r == -EAGAIN)
			return;
		if (r == 0 || (r < 0 && r != -EBADMSG)) {
			peer_closed(c, fd);
			return;
		}
		if (r < 0)
			log_warnx("ignoring a malformed frame");
		else
			dispatch(c, fd, m);
		/* The peer's fd may have been dropped by dispatch. */
		if (fd != c->sup_fd && fd != c->watcher_fd && fd != c->na_fd)
			return;
	}
}

static int
poll_timeout(const struct claimer *c, bool busy)
{
	int64_t now = now_ms(), until = c->next_tick;

	if (busy)
		return 0;
	if (c->lease != 0 && !c->withdrawn && c->renewed + c->safe < until)
		until = c->renewed + c->safe;
	if (until <= now)
		return 0;
	return until - now > 60000 ? 60000 : (int)(until - now);
}

static void
wait_and_read(struct claimer *c, struct kiwi_msg *m, bool busy)
{
	struct pollfd p[3] = {
		{ .fd = c->sup_fd, .events = POLLIN },
		{ .fd = c->watcher_fd, .events = POLLIN },
		{ .fd = c->na_fd, .events = POLLIN },
	};
	size_t i;

	if (poll(p, 3, poll_timeout(c, busy)) < 0) {
		if (errno != EINTR)
			fatal("poll");
		return;
	}
	for (i = 0; i < 3; i++)
		if (p[i].fd >= 0 && p[i].revents != 0)
			drain(c, p[i].fd, m);
}

/*
 * XXX: etcd calls are synchronous, so while etcd hangs the loop is
 * held up to ETCD_CALL_MS (or the safety deadline) per call before it
 * reads SHUTDOWN or a RESULT; a multi handle would remove the wait.
 */
static void
run(struct claimer *c, struct kiwi_msg *m)
{
	bool busy = false;

	while (!c->done) {
		wait_and_read(c, m, busy);
		if (c->done)
			break;
		if (now_ms() >= c->next_tick)
			tick(c);
		check_deadline(c);
		/* No etcd call may outlast the trust in the last renewal. */
		etcd_set_deadline(
		    c->etcd, lease_fresh(c) ? c->renewed + c->safe : 0);
		busy = reconcile(c);
		if (!busy)
			maybe_ready(c);
	}
}

/* true when the netagent confirmed in time. */
static bool
withdraw_for_exit(struct claimer *c, struct kiwi_msg *m)
{
	int64_t end = now_ms() + SHUTDOWN_WAIT_MS;
	struct pollfd p;
	int r;

	if (c->na_fd < 0)
		return true;
	if (msg_send(c->na_fd, MSG_RELEASE_ALL, NULL, 0) < 0)
		return false;
	p.fd = c->na_fd;
	p.events = POLLIN;
	while (now_ms() < end) {
		if (poll(&p, 1, (int)(end - now_ms())) < 0 && errno != EINTR)
			return false;
		while ((r = msg_recv(c->na_fd, m)) != -EAGAIN) {
			if (r == 1 && m->type == MSG_RELEASE_ALL_DONE)
				return true;
			if (r == 0 || (r < 0 && r != -EBADMSG))
				return false;
		}
	}
	return false;
}

static void
shutdown_claims(struct claimer *c, struct kiwi_msg *m)
{
	int r;

	if (!withdraw_for_exit(c, m) && c->lease != 0) {
		/* Revoking now could leave an address on two nodes. */
		log_warnx("netagent did not confirm it dropped every address; "
		          "leaving lease %" PRId64 " to expire in %u s rather "
		          "than revoking it",
		    c->lease, c->cfg->ttl);
		return;
	}
	if (c->lease == 0)
		return;
	etcd_set_deadline(c->etcd, 0);
	r = etcd_lease_revoke(c->etcd, c->lease);
	if (r < 0 && r != -ENOENT)
		log_warnx("could not revoke lease %" PRId64 " (%s): its "
		          "claims stay in etcd until it expires in %u s",
		    c->lease, etcd_error(c->etcd), c->cfg->ttl);
	else
		log_info("revoked lease %" PRId64 ": every claim released",
		    c->lease);
}

static int
setup(struct claimer *c, const struct kiwi_config *cfg, int fds[3])
{
	int i, r;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->sup_fd = fds[0];
	c->watcher_fd = fds[1];
	c->na_fd = fds[2];
	c->interval = cfg->ttl * 1000LL / 3;
	c->safe = cfg->ttl * 2000LL / 3;
	c->backoff = BACKOFF_MIN_MS;
	c->next_tick = now_ms();
	for (i = 0; i < 3; i++) {
		r = set_nonblock(fds[i]);
		if (r < 0) {
			log_warnc(
			    r, "cannot make socket %d non-blocking", fds[i]);
			return r;
		}
	}
	return etcd_open(&c->etcd, cfg->etcd_endpoints);
}

int
claimer_main(
    const struct kiwi_config *cfg, int sup_fd, int watcher_fd, int netagent_fd)
{
	int fds[3] = { sup_fd, watcher_fd, netagent_fd };
	struct claimer c;
	struct kiwi_msg *m;
	int status = 1;

	m = malloc(sizeof(*m));
	if (m == NULL) {
		log_warnx("out of memory");
		return 1;
	}
	if (setup(&c, cfg, fds) < 0)
		goto out;
	log_info("claiming addresses for node %s in etcd at %s", cfg->node_name,
	    cfg->etcd_endpoints);
	run(&c, m);
	shutdown_claims(&c, m);
	status = 0;
out:
	table_free(&c.table);
	etcd_close(c.etcd);
	free(m);
	return status;
}
