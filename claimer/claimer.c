/*
 * The claimer's loop: messages from the supervisor, the watcher and
 * the netagent, and every etcd request, all in one poll; no request
 * ever holds the loop up.
 *
 * The one rule everything here serves: the netagent holds an address
 * only while this node's key for it exists in etcd.  So a CLAIM goes
 * out only after the key was won on a lease renewed recently, every
 * address is withdrawn (RELEASE / RELEASE_ALL) before its key can go,
 * and when renewals stop for too long everything is withdrawn before
 * the lease could expire on etcd's side.  The netagent is told for how
 * long each renewal vouches for the claims, and lets them go by itself
 * when that runs out, should this process hang.
 */
#include "claimer/claimer.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claimer/claimer_int.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

/* How long shutdown waits for the netagent to confirm RELEASE_ALL. */
#define SHUTDOWN_WAIT_MS 3000
/* How long a SHUTDOWN may follow the watcher's close unremarked. */
#define WATCHER_QUIET_MS 1000
/* How long shutdown tries to revoke the lease. */
#define SHUTDOWN_REVOKE_MS 2000

/* Set by the supervisor before claimer_main in a restarted claimer. */
static int64_t inherited_lease;

void
claimer_inherit_lease(int64_t id)
{
	inherited_lease = id;
}

static unsigned int inherited_restarts;

void
claimer_inherit_restarts(unsigned int n)
{
	inherited_restarts = n;
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

	if (c->ready_sent || !c->synced || !lease_fresh(c) || !c->have_read)
		return;
	for (i = 0; i < c->table.n; i++)
		if (c->table.v[i]->dirty || c->table.v[i]->pending > 0 ||
		    c->table.v[i]->busy)
			return;
	c->ready_sent = true;
	if ((rc = msg_send(c->sup_fd, MSG_READY, NULL, 0)) < 0)
		log_warnc(rc, "cannot tell the supervisor kiwi is ready");
	else
		log_info(
		    "first full set handled: %zu addresses known", c->table.n);
}

/* Only what kiwi may claim is wanted, whatever the watcher says. */
static int
check_addr(struct claimer *c, const struct kiwi_addr *a, const char *type)
{
	enum addr_class k = addr_classify(c->cfg->cidrs, c->cfg->ncidrs, a);
	char ip[KIWI_ADDRSTRLEN];

	if (k == ADDR_CLAIMABLE)
		return 0;
	log_warnx("watcher sent %s for %s, %s; ignoring it", type,
	    addr_fmt(a, ip, sizeof(ip)), addr_class_text(k));
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
	cl->adopted = false;
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
	notes_forget(c, &a);
	cl = table_find(&c->table, &a);
	if (cl == NULL)
		return;
	cl->wanted = false;
	cl->adopted = false;
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
	notes_sync(c, end);
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

/* LINK from the netagent: whether the interface can carry addresses. */
static void
on_link(struct claimer *c, const struct kiwi_msg *m)
{
	uint32_t v;

	if (msg_decode_u32(m->body, m->len, &v) < 0 || v > 1) {
		log_warnx("ignoring a malformed LINK from the netagent");
		return;
	}
	if (!c->link_known) {
		c->link_known = true;
		c->link_down = v == 0;
		if (c->link_down)
			log_warnx("interface %s is down or has no carrier: "
			          "nothing is claimed here until it is up",
			    c->cfg->ifname);
		mark_all_dirty(c);
	} else if (v == 0 && !c->link_down) {
		c->link_down = true;
		log_warnx("interface %s is down or has no carrier: withdrawing "
		          "every address and releasing every claim so other "
		          "nodes can take them; nothing is claimed here until "
		          "it is back",
		    c->cfg->ifname);
		lease_drop(c, "to release every claim at once");
	} else if (v == 1 && c->link_down) {
		c->link_down = false;
		log_info("interface %s is usable again: claiming addresses",
		    c->cfg->ifname);
		mark_all_dirty(c);
	}
}

static void
dispatch(struct claimer *c, int fd, const struct kiwi_msg *m)
{
	const char *peer = fd == c->sup_fd ? "supervisor"
	    : fd == c->watcher_fd          ? "watcher"
	                                   : "netagent";

	if (fd == c->sup_fd &&
	    (m->type == MSG_SHUTDOWN || m->type == MSG_DETACH)) {
		c->done = true;
		c->detach = m->type == MSG_DETACH;
	} else if (fd == c->watcher_fd && m->type == MSG_DESIRE)
		on_desire(c, m);
	else if (fd == c->watcher_fd && m->type == MSG_NOTE)
		notes_on_note(c, m);
	else if (fd == c->watcher_fd && m->type == MSG_UNDESIRE)
		on_undesire(c, m);
	else if (fd == c->watcher_fd &&
	    (m->type == MSG_SYNC_BEGIN || m->type == MSG_SYNC_END))
		on_sync(c, m->type == MSG_SYNC_END);
	else if (fd == c->na_fd && m->type == MSG_RESULT)
		claims_on_result(c, m);
	else if (fd == c->na_fd && m->type == MSG_LINK)
		on_link(c, m);
	else if (fd == c->watcher_fd && m->type == MSG_STATS)
		metrics_on_stats(c, m);
	else if (fd == c->na_fd && m->type == MSG_NA_STATS)
		metrics_on_nastats(c, m);
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
		/*
		 * At shutdown the watcher is stopped first, and its close
		 * may come before our own SHUTDOWN: warn only if none does.
		 */
		log_debug("watcher closed its socket");
		c->watcher_fd = -1;
		c->watcher_closed = now_ms();
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

static void
watcher_check(struct claimer *c)
{
	if (c->watcher_closed == 0 ||
	    now_ms() < c->watcher_closed + WATCHER_QUIET_MS)
		return;
	c->watcher_closed = 0;
	log_warnx("watcher closed its socket: the wanted set stays as it is");
}

static int
poll_timeout(const struct claimer *c)
{
	int64_t now = now_ms(), until = lease_wake(c), w = prefix_wake(c);

	if (w < until)
		until = w;
	if ((w = status_wake(c)) < until)
		until = w;
	if ((w = metrics_wake(c)) < until)
		until = w;
	if (c->watcher_closed != 0 &&
	    (w = c->watcher_closed + WATCHER_QUIET_MS) < until)
		until = w;
	if (until <= now)
		return 0;
	return until - now > 60000 ? 60000 : (int)(until - now);
}

/* Wait for a peer or for etcd; etcd's callbacks run in etcd_poll. */
static void
wait_and_read(struct claimer *c, struct kiwi_msg *m)
{
	struct pollfd p[3 + STATUS_NFDS + METRICS_NFDS];
	int fds[3] = { c->sup_fd, c->watcher_fd, c->na_fd };
	unsigned int i, n = 0, npeers;

	for (i = 0; i < 3; i++)
		if (fds[i] >= 0)
			p[n++] =
			    (struct pollfd){ .fd = fds[i], .events = POLLIN };
	/* The netagent's socket had no room: wait for some too. */
	for (i = 0; i < n; i++)
		if (p[i].fd == c->na_fd && sendq_pending(&c->naq))
			p[i].events |= POLLOUT;
	npeers = n;
	n += status_pollfds(c, p + n);
	n += metrics_pollfds(c, p + n);
	if (etcd_poll(c->etcd, p, n, poll_timeout(c)) < 0)
		fatalx("etcd client: out of memory");
	na_flush(c);
	for (i = 0; i < npeers; i++)
		if (p[i].revents != 0)
			drain(c, p[i].fd, m);
	status_events(c, p + npeers, n - npeers);
	metrics_events(c, p + npeers, n - npeers);
}

static void
run(struct claimer *c, struct kiwi_msg *m)
{
	while (!c->done) {
		wait_and_read(c, m);
		if (c->done)
			break;
		lease_tick(c);
		lease_check_deadline(c);
		prefix_tick(c);
		reconcile(c);
		maybe_ready(c);
		status_observe(c);
		watcher_check(c);
	}
}

/*
 * true when the netagent confirmed in time.  Without a netagent
 * nobody can say the addresses are gone (see netagent_gone).
 */
static bool
withdraw_for_exit(struct claimer *c, struct kiwi_msg *m)
{
	int64_t end = now_ms() + SHUTDOWN_WAIT_MS;
	struct pollfd p;
	int r;

	if (c->na_fd < 0)
		return false;
	if (na_send(c, MSG_RELEASE_ALL, NULL, 0) < 0)
		return false;
	p.fd = c->na_fd;
	while (now_ms() < end && c->na_fd >= 0) {
		p.events = POLLIN | (sendq_pending(&c->naq) ? POLLOUT : 0);
		if (poll(&p, 1, (int)(end - now_ms())) < 0 && errno != EINTR)
			return false;
		na_flush(c);
		if (c->na_fd < 0)
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

	/* No answer may change anything from here on. */
	etcd_cancel_all(c->etcd);
	c->read_rq = c->watch_rq = c->lease_rq = NULL;
	if (c->detach) {
		withdraw_for_exit(c, m);
		if (c->lease != 0)
			log_info(
			    "detached: every address withdrawn, lease %" PRId64
			    " kept for the next claimer (it expires in %u s "
			    "unless renewed)",
			    c->lease, c->cfg->ttl);
		return;
	}
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
	etcd_set_deadline(c->etcd, now_ms() + SHUTDOWN_REVOKE_MS);
	r = etcd_lease_revoke(c->etcd, c->lease);
	if (r < 0 && r != -ENOENT) {
		log_warnx("could not revoke lease %" PRId64 " (%s): its "
		          "claims stay in etcd until it expires in %u s",
		    c->lease, etcd_error(c->etcd), c->cfg->ttl);
		return;
	}
	log_info("revoked lease %" PRId64 ": every claim released", c->lease);
	msg_send_u64(c->sup_fd, MSG_LEASE, 0);
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
	c->backoff = 250;
	c->watch_backoff = 100;
	c->next_tick = now_ms();
	c->adopt = c->inherited = inherited_lease;
	c->restarts = inherited_restarts;
	srandom((unsigned int)(getpid() ^ now_ms()));
	for (i = 0; i < 3; i++) {
		r = set_nonblock(fds[i]);
		if (r < 0) {
			log_warnc(
			    r, "cannot make socket %d non-blocking", fds[i]);
			return r;
		}
	}
	r = etcd_open(&c->etcd, cfg->etcd_endpoints);
	/*
	 * A renewal that meets a hung member must still reach another
	 * before the trust in the last one ends (interval + this < safe).
	 */
	if (r == 0)
		etcd_set_attempt(c->etcd, (long)(c->interval / 2));
	/* Neither is needed to hold addresses: go on without them. */
	if (r == 0) {
		(void)status_open(c);
		(void)metrics_open(c);
	}
	return r;
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
	status_close(&c);
	metrics_close(&c);
	table_free(&c.table);
	notes_free(&c);
	sendq_free(&c.naq);
	etcd_close(c.etcd);
	free(m);
	return status;
}
