/*
 * The netagent's loop.  The in-memory list of held addresses is the
 * truth: addresses are added and removed one by one as messages
 * arrive, and the chain is rebuilt from the list once per batch of
 * messages, after which the replies of that batch go out.
 *
 * An address is held only while the claimer vouches for it (VOUCH
 * says for how long) and while the interface is up with carrier;
 * either lapsing withdraws every address at once.  The kernel keeps
 * each address only for a lifetime shorter than the TTL, renewed at
 * every VOUCH, so that a frozen or killed netagent stops answering
 * for its addresses on its own.
 */
#include "netagent.h"

#include <errno.h>
#include <inttypes.h>
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
#include "announce.h"
#include "check.h"
#include "dryrun.h"
#include "ipt.h"
#include "link.h"
#include "nl.h"
#include "outbox.h"

#define BATCH_MAX 1024 /* messages read before committing */
#define RETRY_MS 1000 /* after a failed commit */
#define RENEW_CHUNK 256 /* lifetimes renewed between batches */
/*
 * Least time between commits.  Each replaces the whole table, so while
 * CLAIMs keep coming in one commit per batch would cost O(held) per
 * batch; waiting at least as long as the last commit took (and this
 * long) bounds that share of the time, while a lone change after a
 * quiet spell still goes out at once.
 * XXX A commit grows with the chain, so with thousands of addresses a
 * lone change right after a commit waits as long as that one took.
 */
#define COMMIT_GAP_MS 10
/* Replies the claimer may leave unread before it is not read from. */
#define OUTBOX_MAX 65536
/* Least time between two NA_STATS; none goes out while nothing changed. */
#define STATS_MS 1000

struct netagent {
	const struct kiwi_config *cfg;
	int fds[2]; /* by enum peer; -1 once closed */
	int lock_fd;
	struct kiwi_iface nl;
	struct kiwi_link link;
	struct announcer an;
	struct kiwi_ipset *held;
	size_t nheld, held_cap;
	size_t *index; /* of held by address, see held_find */
	size_t index_cap; /* a power of two, or 0 */
	struct outbox out;
	bool usable; /* what the claimer was last told with LINK */
	bool vouched; /* vouch_until is in force */
	int64_t vouch_until; /* ms, CLOCK_MONOTONIC */
	size_t renew_to; /* held[0..renew_to) still have the last lifetime */
	size_t renew_base; /* where the chunk being renewed starts */
	struct kiwi_addr *lapsed; /* whose renewal failed */
	size_t nlapsed, lapsed_cap;
	int families; /* IPT_*: the tables that can be used */
	int dirty; /* IPT_*: the tables whose chain differs from held */
	bool failed; /* the last commit failed */
	int64_t commit_after; /* ms: no commit before, unless it failed */
	struct kiwi_nastats st; /* for the claimer's metrics */
	struct kiwi_nastats st_sent; /* what it was last told */
	int64_t st_at; /* ms: when */
	bool done;
	struct kiwi_msg msg;
};

static const char *
fmt(const struct kiwi_addr *a, char *buf)
{
	return addr_fmt(a, buf, KIWI_ADDRSTRLEN);
}

/*
 * The index of held by address: open addressing with linear probing,
 * each slot the position in held plus one (0: empty), at most half
 * full, so that a CLAIM or RELEASE costs the same at 16384 addresses
 * as at one.
 */
/* FNV-1a over the address bytes: where a's search starts. */
static size_t
home_of(const struct netagent *na, const struct kiwi_addr *a)
{
	size_t i, h = 2166136261u;

	for (i = 0; i < addr_len(a); i++)
		h = (h ^ a->u.bytes[i]) * 16777619u;
	return h & (na->index_cap - 1);
}

/* The slot that holds a, or the empty one where it would go. */
static size_t
slot_of(const struct netagent *na, const struct kiwi_addr *a)
{
	size_t i, mask = na->index_cap - 1;

	for (i = home_of(na, a); na->index[i] != 0; i = (i + 1) & mask)
		if (addr_equal(&na->held[na->index[i] - 1].addr, a))
			break;
	return i;
}

static ssize_t
held_find(const struct netagent *na, const struct kiwi_addr *a)
{
	size_t i;

	if (na->index_cap == 0)
		return -1;
	i = slot_of(na, a);
	return na->index[i] != 0 ? (ssize_t)na->index[i] - 1 : -1;
}

/* Make room to index n addresses; -ENOMEM. */
static int
index_reserve(struct netagent *na, size_t n)
{
	size_t cap = na->index_cap ? na->index_cap : 64, i;
	size_t *old = na->index;

	while (cap < 2 * n)
		cap *= 2;
	if (cap == na->index_cap)
		return 0;
	if ((na->index = calloc(cap, sizeof(*na->index))) == NULL) {
		na->index = old;
		return -ENOMEM;
	}
	free(old);
	na->index_cap = cap;
	for (i = 0; i < na->nheld; i++)
		na->index[slot_of(na, &na->held[i].addr)] = i + 1;
	return 0;
}

/* Whether h lies in the cyclic range (i, j]. */
static bool
between(size_t i, size_t h, size_t j)
{
	return i <= j ? (i < h && h <= j) : (i < h || h <= j);
}

/* Empty slot i, moving later entries of its run back into the gap. */
static void
index_remove(struct netagent *na, size_t i)
{
	size_t mask = na->index_cap - 1, j, home;

	na->index[i] = 0;
	for (j = (i + 1) & mask; na->index[j] != 0; j = (j + 1) & mask) {
		home = home_of(na, &na->held[na->index[j] - 1].addr);
		if (between(i, home, j))
			continue;
		na->index[i] = na->index[j];
		na->index[j] = 0;
		i = j;
	}
}

/* Forget entry i without touching the kernel. */
static void
held_drop(struct netagent *na, size_t i)
{
	na->dirty |= ipt_family_bit(na->held[i].addr.family);
	index_remove(na, slot_of(na, &na->held[i].addr));
	ipset_free(&na->held[i]);
	if (i != --na->nheld) {
		na->held[i] = na->held[na->nheld];
		na->index[slot_of(na, &na->held[i].addr)] = i + 1;
	}
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

	if (na->fds[PEER_CLAIMER] < 0)
		return;
	if (outbox_push(&na->out, type, a, error) < 0)
		log_warnx("out of memory; the claimer gets no reply for %s",
		    a ? fmt(a, buf) : msg_type_name(type));
}

static void
refuse(
    struct netagent *na, const struct kiwi_ipset *s, int error, const char *why)
{
	char buf[KIWI_ADDRSTRLEN];

	na->st.refused++;
	log_warnx("refusing CLAIM from claimer for %s (%s): %s",
	    fmt(&s->addr, buf), s->service, why);
	log_debug("refusal of %s answered with %s", buf, strerror(-error));
}

/*
 * Whether a claim may be held now.  A refusal here is expected (the
 * lapse was logged when it happened), so it is only a debug line.
 */
static int
check_state(struct netagent *na, const struct kiwi_ipset *s)
{
	char buf[KIWI_ADDRSTRLEN];
	const char *why;
	int rc;

	if (!na->usable) {
		why = "the interface is down or has no carrier";
		rc = -ENETDOWN;
	} else if (!na->vouched || now_ms() >= na->vouch_until) {
		why = "the claimer does not vouch for its claims";
		rc = -ETIMEDOUT;
	} else {
		return 0;
	}
	na->st.refused++;
	log_debug("refusing CLAIM for %s (%s): %s", fmt(&s->addr, buf),
	    s->service, why);
	return rc;
}

/*
 * The lifetime the kernel gives an address: what is left of the vouch,
 * in whole seconds, at least 1 and always under the TTL, so that the
 * kernel drops it before the lease could pass to another node.
 */
static uint32_t
lifetime(const struct netagent *na)
{
	int64_t left = na->vouch_until - now_ms();
	uint32_t s = left > 0 ? (uint32_t)(left / 1000) : 0;

	if (s > na->cfg->ttl - 1)
		s = na->cfg->ttl - 1;
	return s < 1 ? 1 : s;
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
	announce_cancel(&na->an, &na->held[i].addr);
	if ((rc = iface_remove(&na->nl, &na->held[i].addr)) < 0)
		log_warnc(rc,
		    "cannot remove %s from %s; it stays until the next start",
		    buf, na->cfg->ifname);
	else {
		na->st.removed++;
		if (!dryrun())
			log_info("removed %s from %s", buf, na->cfg->ifname);
	}
	held_drop(na, i);
}

static void
withdraw_all(struct netagent *na)
{
	while (na->nheld > 0)
		withdraw(na, na->nheld - 1);
	announce_clear(&na->an);
}

/* Withdraw everything, telling the claimer each is not held. */
static void
withdraw_all_answer(struct netagent *na, int error)
{
	while (na->nheld > 0) {
		reply_queue(
		    na, MSG_RESULT, &na->held[na->nheld - 1].addr, error);
		withdraw(na, na->nheld - 1);
	}
	announce_clear(&na->an);
}

static void
announce(struct netagent *na, const struct kiwi_addr *a)
{
	char buf[KIWI_ADDRSTRLEN];

	if (announce_add(&na->an, a, now_ms()) < 0)
		log_warnx("out of memory: %s is not announced, ignoring",
		    fmt(a, buf));
}

/*
 * Put s's address on the interface; 0, or the error for the reply.
 * XXX An address or rule removed by someone else is only noticed at
 * the next CLAIM or VOUCH for it: nothing watches the addresses.
 */
static int
claim_addr(struct netagent *na, const struct kiwi_ipset *s, ssize_t idx)
{
	char buf[KIWI_ADDRSTRLEN];
	int rc;

	fmt(&s->addr, buf);
	rc = iface_claim(&na->nl, &s->addr, lifetime(na));
	if (rc == -EEXIST) {
		refuse(na, s, rc,
		    "the address is configured on the interface and is not "
		    "kiwi's; leaving it alone");
		if (idx >= 0)
			held_drop(na, (size_t)idx);
		return rc;
	}
	if (rc < 0) {
		log_warnc(rc, "cannot add %s to %s", buf, na->cfg->ifname);
		return rc;
	}
	if (rc == IFACE_ADDED)
		na->st.added++;
	/* A dry run said what it would do; nothing was added. */
	if (rc == IFACE_ADDED && !dryrun())
		log_info(
		    "added %s to %s for %s", buf, na->cfg->ifname, s->service);
	else if (rc != IFACE_ADDED && idx < 0)
		log_info("adopted %s on %s, which is marked as kiwi's", buf,
		    na->cfg->ifname);
	if (rc == IFACE_ADDED || idx < 0)
		announce(na, &s->addr);
	return 0;
}

/* Hold s (taking its rules) in place of any earlier claim. */
static int
hold(struct netagent *na, struct kiwi_ipset *s, ssize_t idx)
{
	if (idx >= 0) {
		/* Only the rules are in the chain; names change nothing. */
		if (!ipset_same_rules(&na->held[idx], s))
			na->dirty |= ipt_family_bit(s->addr.family);
		ipset_free(&na->held[idx]);
		na->held[idx] = *s;
		ipset_init(s);
		return 0;
	}
	if (grow((void **)&na->held, &na->held_cap, na->nheld + 1,
	        sizeof(*na->held)) < 0 ||
	    index_reserve(na, na->nheld + 1) < 0)
		return -ENOMEM;
	na->dirty |= ipt_family_bit(s->addr.family);
	na->index[slot_of(na, &s->addr)] = na->nheld + 1;
	na->held[na->nheld++] = *s;
	ipset_init(s);
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
		refuse(na, &s, rc, why);
	else if ((rc = check_state(na, &s)) < 0)
		;
	else if (!(na->families & ipt_family_bit(a.family)))
		refuse(na, &s, rc = -EAFNOSUPPORT,
		    "ip6tables could not be set up at start");
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

/*
 * The claimer vouches for every claim so far until a time on the
 * monotonic clock, which it and the netagent share; never for longer
 * than the TTL from now, whatever it says.  One that waited in the
 * socket while the netagent was stalled may have run out already.
 */
static int
on_vouch(struct netagent *na, const struct kiwi_msg *m)
{
	int64_t now = now_ms(), ms, ttl = (int64_t)na->cfg->ttl * 1000;
	uint64_t until;

	if (msg_decode_u64(m->body, m->len, &until) < 0)
		return -EBADMSG;
	ms = until > (uint64_t)(now + ttl) ? ttl : (int64_t)until - now;
	if (ms < 0)
		ms = 0;
	if (!na->vouched)
		log_info("the claimer vouches for its claims for %" PRId64
		         " ms",
		    ms);
	else
		log_debug("the claimer vouches for its claims for %" PRId64
		          " ms",
		    ms);
	na->vouch_until = now + ms;
	na->vouched = true;
	na->renew_to = na->nheld;
	return 0;
}

/* The vouch ran out: what is held may be another node's by now. */
static void
vouch_check(struct netagent *na)
{
	if (!na->vouched || now_ms() < na->vouch_until)
		return;
	na->vouched = false;
	if (na->nheld == 0) {
		log_info("the claimer's vouch ran out; refusing claims until "
		         "it vouches again");
		return;
	}
	log_warnx("the claimer did not renew its vouch in time; withdrawing "
	          "all %zu addresses, since their leases may have passed to "
	          "another node",
	    na->nheld);
	withdraw_all_answer(na, -ETIMEDOUT);
}

static void
renew_failed(void *arg, size_t i, int error)
{
	struct netagent *na = arg;
	const struct kiwi_addr *a = &na->held[na->renew_base + i].addr;
	char buf[KIWI_ADDRSTRLEN];

	log_warnc(error,
	    "cannot renew the lifetime of %s on %s; withdrawing it",
	    fmt(a, buf), na->cfg->ifname);
	if (grow((void **)&na->lapsed, &na->lapsed_cap, na->nlapsed + 1,
	        sizeof(*na->lapsed)) == 0)
		na->lapsed[na->nlapsed++] = *a;
}

/*
 * Give the held addresses the new vouch's lifetime, RENEW_CHUNK at a
 * time from the end of held down, between batches of messages: each
 * renewal walks the interface's address list in the kernel, so all
 * 10,000 at once would keep the netagent from CLAIMs and RELEASEs for
 * most of a second, every VOUCH.  Going down keeps it right while held
 * changes: what is appended got the new lifetime with its CLAIM, and
 * withdraw moves the last address, renewed or not, into the gap, so an
 * address is at worst renewed twice, never skipped.  The old lifetime
 * lasts a third of the TTL after the VOUCH, far longer than a round.
 * XXX Every address is still renewed every VOUCH: O(N^2) in the kernel
 * per TTL/3.  The MARK rules have no lifetime: after a freeze or a kill
 * they stay until the next start sweeps the chain.
 */
static void
renew(struct netagent *na)
{
	ssize_t idx;
	size_t i, n;
	int rc;

	if (na->renew_to > na->nheld)
		na->renew_to = na->nheld;
	/* A vouch that ran out withdraws them all next; nothing to renew. */
	if (na->renew_to == 0 || now_ms() >= na->vouch_until)
		return;
	n = na->renew_to < RENEW_CHUNK ? na->renew_to : RENEW_CHUNK;
	na->renew_to -= n;
	na->renew_base = na->renew_to;
	na->nlapsed = 0;
	rc = iface_refresh(&na->nl, na->held + na->renew_base, n, lifetime(na),
	    renew_failed, na);
	if (rc < 0) {
		na->renew_to = 0; /* the rest of the round would fail too */
		log_warnc(rc,
		    "cannot renew the lifetimes of the addresses on "
		    "%s; the kernel drops them within %u s unless "
		    "the next VOUCH renews them",
		    na->cfg->ifname, na->cfg->ttl - 1);
	}
	for (i = 0; i < na->nlapsed; i++) {
		if ((idx = held_find(na, &na->lapsed[i])) < 0)
			continue;
		reply_queue(na, MSG_RESULT, &na->lapsed[i], -EADDRNOTAVAIL);
		withdraw(na, (size_t)idx);
	}
}

/*
 * After each change of the interface.  Losing it (down, no carrier,
 * deleted, or made again under another index, which took kiwi's
 * addresses along) withdraws everything, so that another node can
 * take the addresses at once.
 */
static void
link_changed(void *arg, const struct kiwi_link *l, int old_ifindex, bool was_up)
{
	struct netagent *na = arg;
	bool usable = link_usable(l);

	(void)was_up;
	na->nl.ifindex = l->ifindex;
	if (na->usable && (!usable || l->ifindex != old_ifindex)) {
		log_warnx("%s %s; withdrawing all %zu addresses so that "
		          "another node can take them",
		    l->ifname,
		    l->ifindex == 0 ? "is gone"
		        : !usable   ? "is down or has no carrier"
		                    : "was made again",
		    na->nheld);
		na->usable = false;
		reply_queue(na, MSG_LINK, NULL, 0);
		withdraw_all_answer(na, -ENETDOWN);
	}
	if (usable && !na->usable) {
		log_info(
		    "%s is up with carrier (index %d)", l->ifname, l->ifindex);
		na->usable = true;
		reply_queue(na, MSG_LINK, NULL, 1);
	}
}

static void
link_check(struct netagent *na)
{
	int rc;

	if ((rc = link_read(&na->link)) < 0)
		log_warnc(rc, "cannot follow the state of %s, ignoring",
		    na->cfg->ifname);
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
	/* A claimer that exits in order has had everything withdrawn. */
	if (na->nheld == 0)
		log_debug("%s; no address was held", reason);
	else
		log_warnx("%s; withdrawing all %zu addresses, since nobody "
		          "vouches for them any more",
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
		na->st.refused++;
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
	case MSG_VOUCH:
		return on_vouch(na, m);
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
	int64_t start, took;
	int rc;

	if (!na->dirty)
		return 0;
	start = now_us();
	rc = ipt_sync(na->lock_fd, na->dirty, na->cfg, na->held, na->nheld);
	took = now_us() - start;
	nastats_observe(&na->st, (uint64_t)took, rc == 0);
	na->st.retries = ipt_retries();
	took /= 1000;
	na->commit_after =
	    now_ms() + (took > COMMIT_GAP_MS ? took : COMMIT_GAP_MS);
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
	if (rc == 0)
		na->dirty = 0;
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

/*
 * Whether the batch may be committed and answered now.  A failed
 * commit is retried at once, as before, when more arrives.
 */
static bool
commit_due(const struct netagent *na)
{
	return !na->dirty || na->failed || now_ms() >= na->commit_after;
}

static bool
stats_changed(const struct netagent *na)
{
	return memcmp(&na->st, &na->st_sent, sizeof(na->st)) != 0;
}

/*
 * The counters, at most every STATS_MS and only when they changed.
 * Losing one is harmless (the totals come again), so a full socket
 * only puts it off.
 */
static void
send_stats(struct netagent *na)
{
	int rc;

	if (na->fds[PEER_CLAIMER] < 0 || !stats_changed(na) ||
	    now_ms() - na->st_at < STATS_MS)
		return;
	rc = msg_send_nastats(na->fds[PEER_CLAIMER], &na->st);
	na->st_at = now_ms();
	/* A full socket: again in STATS_MS, not in a busy loop. */
	if (rc == -EAGAIN)
		return;
	if (rc < 0)
		log_debug("cannot send the counters: %s", strerror(-rc));
	na->st_sent = na->st;
}

static void
soonest(int *timeout, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (*timeout < 0 || ms < *timeout)
		*timeout = (int)ms;
}

/* How long poll may wait: the next retry, announcement or deadline. */
static int
timeout(struct netagent *na, int announce_ms)
{
	int t = -1;

	if (na->dirty)
		soonest(
		    &t, na->failed ? RETRY_MS : na->commit_after - now_ms());
	if (announce_ms >= 0)
		soonest(&t, announce_ms);
	if (na->vouched)
		soonest(&t, na->vouch_until - now_ms());
	if (na->fds[PEER_CLAIMER] >= 0 && stats_changed(na))
		soonest(&t, na->st_at + STATS_MS - now_ms());
	if (na->renew_to > 0)
		t = 0;
	return t;
}

static void
loop(struct netagent *na)
{
	struct pollfd pfd[3];
	int next = -1;

	while (!na->done) {
		pfd[PEER_SUP].fd = na->fds[PEER_SUP];
		pfd[PEER_SUP].events = POLLIN;
		pfd[PEER_CLAIMER].fd = na->fds[PEER_CLAIMER];
		pfd[PEER_CLAIMER].events = (backlogged(na) ? 0 : POLLIN) |
		    (outbox_sendable(&na->out) ? POLLOUT : 0);
		pfd[2].fd = link_fd(&na->link);
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, timeout(na, next)) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll failed; shutting down");
			return;
		}
		/* Lapses first: what waits in the sockets comes later. */
		link_check(na);
		vouch_check(na);
		drain(na, PEER_SUP);
		drain(na, PEER_CLAIMER);
		renew(na);
		/* Losing the claimer while answering dirties the chain. */
		while (
		    !na->done && commit_due(na) && flush(na) == 0 && na->dirty)
			;
		next = announce_run(&na->an, &na->link, now_ms());
		send_stats(na);
	}
}

/* Remove a previous run's leftover chain from f, then put in an empty one. */
static int
setup_table(struct netagent *na, int f, const char *table)
{
	int rc;

	if ((rc = ipt_teardown(na->lock_fd, f)) < 0) {
		log_warnc(rc, "cannot remove leftover chain %s from %s",
		    KIWI_CHAIN, table);
		return rc;
	}
	if (rc > 0)
		log_info(
		    "removed leftover chain %s from %s", KIWI_CHAIN, table);
	if ((rc = ipt_sync(na->lock_fd, f, na->cfg, NULL, 0)) < 0) {
		log_warnc(
		    rc, "cannot set up chain %s in %s", KIWI_CHAIN, table);
		return rc;
	}
	na->families |= f;
	log_debug("chain %s is in place in %s, jumped to from PREROUTING",
	    KIWI_CHAIN, table);
	return 0;
}

/*
 * Remove a previous run's leftovers, then put the empty chains in
 * place.  Without ip6tables kiwi still serves IPv4.
 */
static int
setup(struct netagent *na)
{
	if (na->nl.ifindex > 0 && iface_sweep(&na->nl) < 0)
		log_warnx("some leftover addresses on %s remain, ignoring",
		    na->cfg->ifname);
	if (setup_table(na, IPT_V4, "mangle") < 0) {
		log_warnx("no traffic could be marked; giving up");
		return -1;
	}
	if (setup_table(na, IPT_V6, "ip6 mangle") < 0)
		log_warnx("IPv6 claims will be refused, since their traffic "
		          "could not be marked");
	na->dirty = 0;
	return 0;
}

static int
teardown(struct netagent *na)
{
	int rc;

	withdraw_all(na);
	if ((rc = ipt_teardown(na->lock_fd, na->families)) < 0) {
		log_warnc(rc,
		    "cannot remove chain %s from mangle; it stays until the "
		    "next start",
		    KIWI_CHAIN);
		return rc;
	}
	if (!dryrun())
		log_info(
		    "removed chain %s and its jump from mangle", KIWI_CHAIN);
	return 0;
}

/* The netlink sockets and the announcer's raw sockets. */
static int
open_all(struct netagent *na)
{
	const char *ifname = na->cfg->ifname;
	int rc;

	if ((rc = iface_open(&na->nl, ifname, na->cfg->label)) < 0 ||
	    (rc = link_open(&na->link, ifname)) < 0) {
		log_warnc(rc, "cannot use interface %s", ifname);
		return rc;
	}
	if ((na->nl.ifindex = na->link.ifindex) == 0)
		log_warnx("%s does not exist; no address is held until it "
		          "appears",
		    ifname);
	else if (!link_usable(&na->link))
		log_warnx("%s is down or has no carrier; no address is held "
		          "until it is up",
		    ifname);
	return announce_open(&na->an);
}

static void
netagent_free(struct netagent *na)
{
	size_t i;

	for (i = 0; i < na->nheld; i++)
		ipset_free(&na->held[i]);
	free(na->held);
	free(na->index);
	free(na->lapsed);
	outbox_free(&na->out);
	announce_close(&na->an);
	link_close(&na->link);
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
	na->an.arp_fd = na->an.na_fd = -1;
	na->fds[PEER_SUP] = sup_fd;
	na->fds[PEER_CLAIMER] = claimer_fd;
	if ((rc = set_nonblock(claimer_fd)) < 0) {
		log_warnc(rc, "cannot make the claimer's channel non-blocking");
		goto fail;
	}
	if (own_lock && (lock_fd = ipt_lock_open()) < 0)
		goto fail;
	na->lock_fd = lock_fd;
	if (open_all(na) < 0 || setup(na) < 0)
		goto fail;
	log_info("ready on %s, %zu address ranges, at most %u addresses",
	    cfg->ifname, cfg->ncidrs, cfg->max_addresses);
	/* Claims wait for LINK 1 and a VOUCH. */
	na->usable = link_usable(&na->link);
	na->link.changed = link_changed;
	na->link.arg = na;
	reply_queue(na, MSG_LINK, NULL, na->usable);
	outbox_release(&na->out);
	answer(na);
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
