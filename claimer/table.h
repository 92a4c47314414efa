/*
 * The claimer's table of addresses: what the watcher wants, and where
 * each address stands in etcd and at the netagent.
 */
#ifndef KIWI_CLAIMER_TABLE_H
#define KIWI_CLAIMER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/msg.h"

enum claim_state {
	CL_NONE, /* no key of ours in etcd */
	CL_KEY, /* the key is ours; the netagent does not hold it */
	CL_HELD, /* the key is ours and the netagent was told CLAIM */
	CL_STANDBY, /* another holder has the key */
};

struct claimer;

/* What `kiwi status` shows for an address (status.c). */
enum claim_show {
	SHOW_NONE, /* not wanted, nothing held: not listed */
	SHOW_WAITING, /* for etcd, the lease, the interface or the netagent */
	SHOW_CLAIMING,
	SHOW_CONFIGURING, /* claimed; the netagent has not answered yet */
	SHOW_HELD,
	SHOW_STANDBY,
	SHOW_REFUSED,
	SHOW_RELEASING,
};

struct claim {
	struct claimer *owner; /* for the callbacks of its requests */
	struct kiwi_ipset want;
	enum claim_state state;
	bool wanted;
	bool failed; /* the netagent refused this set: wait for a new one */
	bool dirty; /* there is work to do for it */
	bool changed; /* the set changed while held: send CLAIM again */
	bool seen; /* mentioned since SYNC_BEGIN */
	bool busy; /* an etcd request for it is on the way */
	bool adopted; /* our key found in etcd, not yet named by the watcher */
	bool await_vouch; /* the netagent let it go unvouched: wait */
	bool in_etcd; /* seen by the latest read of the prefix */
	unsigned int pending; /* CLAIMs not yet answered by a RESULT */
	int last_err; /* last etcd failure logged for it */
	int64_t holder_lease;
	/* For the status and the metrics, kept by status.c. */
	enum claim_show shown;
	int64_t since; /* wall clock, seconds: when shown last changed */
	int64_t shown_ms; /* the same on the monotonic clock */
	char *holder; /* the node holding it when standby; NULL: unknown */
	int refused; /* the netagent's error for the set, or 0 */
};

/* Sorted by address, so lookups are a binary search. */
struct table {
	struct claim **v;
	size_t n;
	size_t cap;
};

struct claim *table_find(const struct table *t, const struct kiwi_addr *a);
/* A new, unwanted entry for a, in order; NULL when out of memory. */
struct claim *table_add(struct table *t, const struct kiwi_addr *a);
/*
 * Drop the entries nobody wants that hold nothing any more and have
 * no request on the way.
 */
void table_sweep(struct table *t);
void table_free(struct table *t);

#endif
