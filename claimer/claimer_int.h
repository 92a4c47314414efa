/*
 * The claimer's state, shared by its parts: claimer.c (the loop and
 * the peers' messages), lease.c (the lease and what the netagent is
 * told about it), claims.c (one address at a time) and prefix.c (the
 * read and the watch of every key below KIWI_KEY_PREFIX).
 */
#ifndef KIWI_CLAIMER_INT_H
#define KIWI_CLAIMER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "claimer/conn.h"
#include "claimer/etcd.h"
#include "claimer/table.h"
#include "common/config.h"
#include "common/msg.h"
#include "common/sendq.h"

#define KEY_MAX (sizeof(KIWI_KEY_PREFIX) + KIWI_ADDRSTRLEN)
/* Most claim and release requests on the way at once. */
#define INFLIGHT_MAX 32
/* Leases of an earlier life on this node revoked, remembered. */
#define PAST_MAX 8

#define LAT_BUCKETS 8

/* What the claimer counts for the metrics (status.c, metrics.c). */
struct claimer_counts {
	uint64_t won; /* addresses that came to be held here */
	uint64_t lost; /* held addresses that were let go */
	uint64_t failovers; /* won from another node that held them */
	uint64_t etcd_errors; /* times etcd stopped answering */
	uint64_t etcd_reconnects; /* times it answered again */
	/* From CLAIM to the netagent's RESULT, as status_observe sees it. */
	uint64_t lat_bucket[LAT_BUCKETS];
	uint64_t lat_count, lat_sum_ms;
	/* The peers' latest STATS and NA_STATS (msg.h says what). */
	uint64_t watcher[KIWI_STATS_N];
	struct kiwi_nastats netagent;
};

/* An address a Service names that kiwi does not claim (notes.c). */
struct note {
	struct kiwi_note note;
	bool seen; /* mentioned since SYNC_BEGIN */
	int64_t since; /* wall clock, seconds: first noted */
};

struct notes {
	struct note *v; /* sorted by address */
	size_t n, cap;
	bool full; /* the cap was reached: said once */
};

struct status_srv;
struct metrics_srv;
struct cluster_q;
struct pollfd;
struct ej_holder;

struct claimer {
	const struct kiwi_config *cfg;
	struct etcd *etcd;
	struct table table;
	struct notes notes;
	int sup_fd;
	int watcher_fd;
	int na_fd;
	struct sendq naq; /* what waits to go to the netagent */

	int64_t lease; /* 0: none */
	int64_t adopt; /* a lease to try to keep before granting one */
	int64_t inherited; /* what the supervisor handed over */
	struct etcd_req *lease_rq; /* grant or keepalive on the way */
	int64_t lease_sent; /* when lease_rq went out */
	int64_t renewed; /* when the last good renewal went out */
	int64_t next_tick;
	int64_t backoff;
	int64_t interval; /* between renewals */
	int64_t safe; /* how long a renewal is trusted */
	bool etcd_down; /* the last call failed; wait for the tick */
	bool withdrawn; /* RELEASE_ALL went out for want of renewals */
	bool vouch_lapsed; /* the netagent let claims go: said once */
	unsigned int inflight;
	unsigned int renewals; /* sent, for the slow standby sweep */

	struct etcd_req *read_rq;
	struct etcd_req *watch_rq;
	bool have_read; /* the prefix was read once: claims may start */
	bool watch_up; /* the watch said created */
	bool watch_warned; /* its loss was logged */
	int64_t watch_next; /* when to read and watch again; 0: not */
	int64_t watch_backoff;
	int64_t past[PAST_MAX];
	size_t npast;

	/*
	 * The netagent says LINK once it has swept what an earlier run
	 * left on the interface; until then nothing is claimed, released,
	 * or revoked, so no other node takes an address still here.
	 */
	bool link_known;
	bool link_down;
	bool syncing;
	bool synced; /* a full set (SYNC_END) has arrived */
	bool ready_sent;
	bool done;
	bool detach; /* leave the lease to the next claimer */

	struct status_srv *status; /* the control socket; NULL: none */
	struct metrics_srv *metrics; /* NULL: --metrics-address not given */
	struct cluster_q *cluster; /* a cluster view being gathered */
	struct claimer_counts counts;
	bool counted_down; /* etcd_down when status_observe last looked */
	unsigned int restarts; /* of the workers, told by the supervisor */
	int64_t watcher_closed; /* when, if no SHUTDOWN came since; or 0 */
	int64_t progress_at; /* the first reconcile last said how far */
};

/* claims.c */
const char *claim_ip(const struct claim *cl, char *buf);
void mark_all_dirty(struct claimer *c);
void netagent_gone(struct claimer *c, const char *why);
/*
 * Everything for the netagent goes through c->naq, in order: 0, or a
 * negative errno after which the netagent counts as gone.
 */
int na_send(struct claimer *c, uint8_t type, const void *body, size_t len);
int na_send_addr(struct claimer *c, uint8_t type, const struct kiwi_addr *a);
int na_send_ipset(struct claimer *c, uint8_t type, const struct kiwi_ipset *s);
int na_send_u64(struct claimer *c, uint8_t type, uint64_t v);
/* Send what waits for the netagent, when its socket has room. */
void na_flush(struct claimer *c);
void release_all(struct claimer *c, bool lost);
void reconcile(struct claimer *c);
void claims_on_result(struct claimer *c, const struct kiwi_msg *m);
/* The netagent withdrew an address on its own (its vouch ran out). */
void claims_withdrawn(struct claimer *c, struct claim *cl);

/* lease.c */
bool lease_fresh(const struct claimer *c);
void lease_tick(struct claimer *c);
void lease_lost(struct claimer *c);
void lease_check_deadline(struct claimer *c);
void lease_drop(struct claimer *c, const char *why);
void lease_revoke_async(struct claimer *c, int64_t id);
void etcd_failed(struct claimer *c, const char *what, const char *err);
void etcd_answered(struct claimer *c);
int64_t lease_wake(const struct claimer *c);

/* prefix.c */
void prefix_tick(struct claimer *c);
/* A lease renewal went to another member than the watch. */
void prefix_member_changed(struct claimer *c, const char *member);
int64_t prefix_wake(const struct claimer *c);

/*
 * status.c: the control socket, and what each address shows.  The
 * pollfds calls add at most STATUS_NFDS (METRICS_NFDS) entries.
 */
#define STATUS_NFDS (1 + CONN_MAX)
int status_open(struct claimer *c);
void status_close(struct claimer *c);
unsigned int status_pollfds(const struct claimer *c, struct pollfd *p);
void status_events(struct claimer *c, const struct pollfd *p, unsigned int n);
/* Bring every address's shown state and the counters up to date. */
void status_observe(struct claimer *c);
/* The node named by a holder's value, kept for a standby address. */
void status_note_holder(struct claim *cl, const struct ej_holder *h);
void status_cluster_done(struct claimer *c, const char *doc);
int64_t status_wake(const struct claimer *c);
/* Ready: the first full set was handled and the lease is trusted. */
bool claimer_healthy(const struct claimer *c);

/*
 * notes.c: NOTE from the watcher, and its address forgotten at UNDESIRE
 * or when a full set (SYNC_BEGIN .. SYNC_END) no longer has it.
 */
void notes_on_note(struct claimer *c, const struct kiwi_msg *m);
void notes_forget(struct claimer *c, const struct kiwi_addr *a);
void notes_sync(struct claimer *c, bool end);
void notes_free(struct claimer *c);

/* cluster.c: every claim in etcd with its lease's time left. */
int cluster_start(struct claimer *c);
void cluster_free(struct claimer *c);

/* metrics.c: GET /metrics and GET /healthz on --metrics-address. */
#define METRICS_NFDS (1 + CONN_MAX)
int metrics_open(struct claimer *c);
void metrics_close(struct claimer *c);
unsigned int metrics_pollfds(const struct claimer *c, struct pollfd *p);
void metrics_events(struct claimer *c, const struct pollfd *p, unsigned int n);
int64_t metrics_wake(const struct claimer *c);
void metrics_observe_latency(struct claimer *c, int64_t ms);
struct kiwi_msg;
void metrics_on_stats(struct claimer *c, const struct kiwi_msg *m);
void metrics_on_nastats(struct claimer *c, const struct kiwi_msg *m);

#endif
