/*
 * The netagent's loop.  The in-memory list of held addresses is the
 * truth: addresses are added and removed one by one as messages
 * arrive, and the chain is rebuilt from the list once per batch of
 * messages, after which the replies of that batch go out.
 */
#include "netagent.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "check.h"
#include "ipt.h"
#include "nl.h"
#include "outbox.h"

#define BATCH_MAX 1024 /* messages read before committing */
#define RETRY_MS 1000 /* after a failed commit */
/* Replies the claimer may leave unread before it is not read from. */
#define OUTBOX_MAX 65536

struct netagent {
	const struct kiwi_config *cfg;
	int fds[2]; /* by enum peer; -1 once closed */
	int lock_fd;
	struct kiwi_iface nl;
	struct kiwi_ipset *held;
	size_t nheld, held_cap;
	struct outbox out;
	bool dirty; /* the chain differs from held */
	bool failed; /* the last commit failed */
	bool done;
	struct kiwi_msg msg;
};

static const char *
fmt(const struct kiwi_addr *a, char *buf)
{
	return addr_fmt(a, buf, KIWI_ADDRSTRLEN);
}

static ssize_t
held_find(const struct netagent *na, const struct kiwi_addr *a)
{
	size_t i;

	for (i = 0; i < na->nheld; i++)
		if (addr_equal(&na->held[i].addr, a))
			return (ssize_t)i;
	return -1;
}

/* Forget entry i without touching the kernel. */
static void
held_drop(struct netagent *na, size_t i)
{
	ipset_free(&na->held[i]);
	na->held[i] = na->held[--na->nheld];
	na->dirty = true;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *np;

	if (need <= *cap)
		return 0;
	if ((np = reallocarray(*p, ncap, size)) == NULL)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static void
reply_queue(
    struct netagent *na, uint8_t type, const struct kiwi_addr *a, int error)
{
	char buf[KIWI_ADDRSTRLEN];

	if (outbox_push(&na->out, type, a, error) < 0)
		log_warnx("out of memory; the claimer gets no reply for %s",
		    a ? fmt(a, buf) : msg_type_name(type));
}

static void
refuse(const struct kiwi_ipset *s, int error, const char *why)
{
	char buf[KIWI_ADDRSTRLEN];

	log_warnx("refusing CLAIM from claimer for %s (%s): %s",
	    fmt(&s->addr, buf), s->service, why);
	log_debug("refusal of %s answered with %s", buf, strerror(-error));
}

/*
 * Remove one held address from the interface and forget it.  A failure
 * is logged and the address forgotten anyway: the sweep at the next
 * start removes what carries kiwi's label.
 */
static void
withdraw(struct netagent *na, size_t i)
{
	char buf[KIWI_ADDRSTRLEN];
	int rc;

	fmt(&na->held[i].addr, buf);
	if ((rc = iface_remove(&na->nl, &na->held[i].addr)) < 0)
		log_warnc(rc,
		    "cannot remove %s from %s; it stays until the next start",
		    buf, na->cfg->ifname);
	else
		log_info("removed %s from %s", buf, na->cfg->ifname);
	held_drop(na, i);
}

static void
withdraw_all(struct netagent *na)
{
	while (na->nheld > 0)
		withdraw(na, na->nheld - 1);
}

/*
 * Put s's address on the interface; 0, or the error for the reply.
 * XXX No gratuitous ARP is sent, so neighbours keep the old node's MAC
 * until their cache expires, and an address or rule removed by someone
 * else is only noticed at the next CLAIM for it: nothing watches.
 */
static int
claim_addr(struct netagent *na, const struct kiwi_ipset *s, ssize_t idx)
{
	char buf[KIWI_ADDRSTRLEN];
	int rc;

	fmt(&s->addr, buf);
	rc = iface_claim(&na->nl, &s->addr);
	if (rc == -EEXIST) {
		refuse(s, rc,
		    "the address is configured on the interface without kiwi's "
		    "label; leaving it alone");
		if (idx >= 0)
			held_drop(na, (size_t)idx);
		return rc;
	}
	if (rc < 0) {
		log_warnc(rc, "cannot add %s to %s", buf, na->cfg->ifname);
		return rc;
	}
	if (rc == IFACE_ADDED)
		log_info(
		    "added %s to %s for %s", buf, na->cfg->ifname, s->service);
	else if (idx < 0)
		log_info("adopted %s on %s, which carries label %s", buf,
		    na->cfg->ifname, na->cfg->label);
	return 0;
}

/* Hold s (taking its rules) in place of any earlier claim. */
static int
hold(struct netagent *na, struct kiwi_ipset *s, ssize_t idx)
{
	if (idx >= 0) {
		if (!ipset_equal(&na->held[idx], s))
			na->dirty = true;
		ipset_free(&na->held[idx]);
		na->held[idx] = *s;
		ipset_init(s);
		return 0;
	}
	if (grow((void **)&na->held, &na->held_cap, na->nheld + 1,
	        sizeof(*na->held)) < 0)
		return -ENOMEM;
	na->held[na->nheld++] = *s;
	ipset_init(s);
	na->dirty = true;
	return 0;
}

/*
 * A RESULT 0 means the address is held with exactly the claimed rules;
 * any error means it is not held, so an earlier hold is withdrawn.
 */
static int
on_claim(struct netagent *na, const struct kiwi_msg *m)
{
	struct kiwi_ipset s;
	struct kiwi_addr a;
	const char *why = NULL;
	ssize_t idx;
	int rc;

	if ((rc = msg_decode_ipset(m->body, m->len, &s)) == -ENOMEM) {
		log_warnx("out of memory reading a CLAIM; refusing it");
		msg_decode_addr(m->body, KIWI_ADDR_WIRELEN, &a);
		goto done;
	}
	if (rc < 0)
		return -EBADMSG;
	a = s.addr; /* hold() takes s over */
	idx = held_find(na, &a);
	if ((rc = check_ipset(na->cfg, &s, &why)) < 0 ||
	    (idx < 0 && (rc = check_cap(na->cfg, na->nheld, &why)) < 0))
		refuse(&s, rc, why);
	else if ((rc = claim_addr(na, &s, idx)) == 0 &&
	    (rc = hold(na, &s, idx)) < 0) {
		log_warnx("out of memory holding %s; removing it", s.service);
		iface_remove(&na->nl, &a);
	}
	if (rc < 0 && (idx = held_find(na, &a)) >= 0)
		withdraw(na, (size_t)idx);
done:
	reply_queue(na, MSG_RESULT, &a, rc);
	ipset_free(&s);
	return 0;
}

static int
on_release(struct netagent *na, const struct kiwi_msg *m)
{
	struct kiwi_addr a;
	char buf[KIWI_ADDRSTRLEN];
	ssize_t idx;

	if (msg_decode_addr(m->body, m->len, &a) < 0)
		return -EBADMSG;
	if ((idx = held_find(na, &a)) < 0) {
		log_debug(
		    "RELEASE of %s, which is not held; ignoring", fmt(&a, buf));
		return 0;
	}
	withdraw(na, (size_t)idx);
	return 0;
}

static int
on_release_all(struct netagent *na, const struct kiwi_msg *m)
{
	if (m->len != 0)
		return -EBADMSG;
	log_info("releasing all %zu addresses", na->nheld);
	withdraw_all(na);
	reply_queue(na, MSG_RELEASE_ALL_DONE, NULL, 0);
	return 0;
}

static int
on_shutdown(struct netagent *na, const struct kiwi_msg *m)
{
	if (m->len != 0)
		return -EBADMSG;
	log_info("shutting down");
	na->done = true;
	return 0;
}

/* Nobody vouches for the claims any more: withdraw them all. */
static void
claimer_end(struct netagent *na, const char *reason)
{
	log_warnx("%s; withdrawing all %zu addresses, since nobody vouches for "
	          "them any more",
	    reason, na->nheld);
	close(na->fds[PEER_CLAIMER]);
	na->fds[PEER_CLAIMER] = -1;
	outbox_clear(&na->out);
	withdraw_all(na);
}

/* Send what may go out; the claimer's end when that fails. */
static void
answer(struct netagent *na)
{
	char reason[128];
	int rc;

	if (na->fds[PEER_CLAIMER] < 0)
		return;
	if ((rc = outbox_send(&na->out, na->fds[PEER_CLAIMER])) < 0) {
		snprintf(reason, sizeof(reason),
		    "cannot answer the claimer: %s", strerror(-rc));
		claimer_end(na, reason);
	}
}

/* One message from p; -EBADMSG when it is malformed. */
static int
dispatch(struct netagent *na, enum peer p, const struct kiwi_msg *m)
{
	const char *why = NULL;

	if (check_sender(p, m->type, &why) < 0) {
		log_warnx("refusing %s from %s: %s", msg_type_name(m->type),
		    peer_name(p), why);
		return 0;
	}
	switch (m->type) {
	case MSG_CLAIM:
		return on_claim(na, m);
	case MSG_RELEASE:
		return on_release(na, m);
	case MSG_RELEASE_ALL:
		return on_release_all(na, m);
	case MSG_SHUTDOWN:
		return on_shutdown(na, m);
	}
	return 0;
}

/* Whether the claimer has left too many replies unread. */
static bool
backlogged(const struct netagent *na)
{
	return outbox_backlog(&na->out) >= OUTBOX_MAX;
}

/* The end of a peer: EOF, a read error or a malformed message. */
static void
peer_end(struct netagent *na, enum peer p, const char *reason)
{
	if (p == PEER_CLAIMER) {
		claimer_end(na, reason);
		return;
	}
	log_warnx("%s; shutting down", reason);
	na->done = true;
}

/* Read and apply what p has waiting, up to BATCH_MAX messages. */
static void
drain(struct netagent *na, enum peer p)
{
	const char *who = peer_name(p);
	char reason[128];
	int i, rc;

	for (i = 0; i < BATCH_MAX && na->fds[p] >= 0 && !na->done; i++) {
		if (p == PEER_CLAIMER && backlogged(na))
			return;
		rc = msg_recv(na->fds[p], &na->msg);
		if (rc == -EAGAIN)
			return;
		if (rc == 1 && dispatch(na, p, &na->msg) == 0)
			continue;
		if (rc == 1)
			snprintf(reason, sizeof(reason),
			    "malformed %s body from %s",
			    msg_type_name(na->msg.type), who);
		else if (rc == 0)
			snprintf(reason, sizeof(reason),
			    "%s closed its channel", who);
		else if (rc == -EBADMSG)
			snprintf(reason, sizeof(reason),
			    "malformed frame from %s", who);
		else
			snprintf(reason, sizeof(reason),
			    "cannot read from %s: %s", who, strerror(-rc));
		peer_end(na, p, reason);
	}
}

/* Rebuild the chain from held, if it changed; 0 or a negative errno. */
static int
commit(struct netagent *na)
{
	int rc;

	if (!na->dirty)
		return 0;
	rc = ipt_sync(na->lock_fd, na->cfg->mark, na->held, na->nheld);
	if (rc == -ETIMEDOUT)
		log_warnx("cannot update chain %s in mangle: the xtables lock "
		          "stayed taken; retrying in %d ms",
		    KIWI_CHAIN, RETRY_MS);
	else if (rc < 0)
		log_warnc(rc,
		    "cannot update chain %s in mangle; retrying in %d ms",
		    KIWI_CHAIN, RETRY_MS);
	else if (na->failed)
		log_info("chain %s in mangle is up to date again", KIWI_CHAIN);
	na->failed = rc < 0;
	na->dirty = rc < 0;
	return rc;
}

/*
 * Commit, then answer the batch.  A RESULT 0 promises address and
 * rules, so when the commit fails every address claimed in the batch
 * is withdrawn and its RESULT carries the commit's error.
 */
static int
flush(struct netagent *na)
{
	char buf[KIWI_ADDRSTRLEN];
	struct reply *r;
	ssize_t idx;
	size_t i, n;
	int rc;

	rc = commit(na);
	r = outbox_batch(&na->out, &n);
	for (i = 0; i < n && rc < 0; i++) {
		if (r[i].type != MSG_RESULT || r[i].error != 0)
			continue;
		log_warnx("rules for %s are not in place; withdrawing it, its"
		          " traffic is not marked",
		    fmt(&r[i].addr, buf));
		if ((idx = held_find(na, &r[i].addr)) >= 0)
			withdraw(na, (size_t)idx);
		r[i].error = rc;
	}
	outbox_release(&na->out);
	answer(na);
	return rc;
}

static void
loop(struct netagent *na)
{
	struct pollfd pfd[2];

	while (!na->done) {
		pfd[PEER_SUP].fd = na->fds[PEER_SUP];
		pfd[PEER_SUP].events = POLLIN;
		pfd[PEER_CLAIMER].fd = na->fds[PEER_CLAIMER];
		pfd[PEER_CLAIMER].events = (backlogged(na) ? 0 : POLLIN) |
		    (outbox_sendable(&na->out) ? POLLOUT : 0);
		if (poll(pfd, 2, na->dirty ? RETRY_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll failed; shutting down");
			return;
		}
		drain(na, PEER_SUP);
		drain(na, PEER_CLAIMER);
		/* Losing the claimer while answering dirties the chain. */
		while (!na->done && flush(na) == 0 && na->dirty)
			;
	}
}

/* Remove a previous run's leftovers, then put the empty chain in place. */
static int
setup(struct netagent *na)
{
	int rc;

	if (iface_sweep(&na->nl) < 0)
		log_warnx("some leftover addresses on %s remain, ignoring",
		    na->cfg->ifname);
	if ((rc = ipt_teardown(na->lock_fd)) < 0) {
		log_warnc(rc, "cannot remove leftover chain %s from mangle",
		    KIWI_CHAIN);
		return rc;
	}
	if (rc > 0)
		log_info("removed leftover chain %s from mangle", KIWI_CHAIN);
	if ((rc = ipt_sync(na->lock_fd, na->cfg->mark, NULL, 0)) < 0) {
		log_warnc(rc,
		    "cannot set up chain %s in mangle; no traffic could be "
		    "marked",
		    KIWI_CHAIN);
		return rc;
	}
	na->dirty = false;
	log_debug(
	    "chain %s is in place, jumped to from PREROUTING", KIWI_CHAIN);
	return 0;
}

static int
teardown(struct netagent *na)
{
	int rc;

	withdraw_all(na);
	if ((rc = ipt_teardown(na->lock_fd)) < 0) {
		log_warnc(rc,
		    "cannot remove chain %s from mangle; it stays until the "
		    "next start",
		    KIWI_CHAIN);
		return rc;
	}
	log_info("removed chain %s and its jump from mangle", KIWI_CHAIN);
	return 0;
}

static void
netagent_free(struct netagent *na)
{
	size_t i;

	for (i = 0; i < na->nheld; i++)
		ipset_free(&na->held[i]);
	free(na->held);
	outbox_free(&na->out);
	iface_close(&na->nl);
	free(na);
}

int
netagent_main(
    const struct kiwi_config *cfg, int sup_fd, int claimer_fd, int lock_fd)
{
	struct netagent *na;
	int rc, own_lock = lock_fd < 0, status = 1;

	/* A terminal's ^C reaches the whole group: the supervisor decides. */
	signal(SIGINT, SIG_IGN);
	if ((na = calloc(1, sizeof(*na))) == NULL) {
		log_warnx("out of memory");
		return 1;
	}
	na->cfg = cfg;
	na->fds[PEER_SUP] = sup_fd;
	na->fds[PEER_CLAIMER] = claimer_fd;
	if ((rc = set_nonblock(claimer_fd)) < 0) {
		log_warnc(rc, "cannot make the claimer's channel non-blocking");
		goto fail;
	}
	if (own_lock && (lock_fd = ipt_lock_open()) < 0)
		goto fail;
	na->lock_fd = lock_fd;
	if ((rc = iface_open(&na->nl, cfg->ifname, cfg->label)) < 0) {
		log_warnc(rc, "cannot use interface %s", cfg->ifname);
		goto fail;
	}
	if (setup(na) < 0)
		goto fail;
	log_info("ready on %s, %zu address ranges, at most %u addresses",
	    cfg->ifname, cfg->ncidrs, cfg->max_addresses);
	loop(na);
	status = teardown(na) < 0 ? 1 : 0;
fail:
	if (own_lock && lock_fd >= 0)
		close(lock_fd);
	if (na->fds[PEER_CLAIMER] >= 0)
		close(na->fds[PEER_CLAIMER]);
	netagent_free(na);
	return status;
}
