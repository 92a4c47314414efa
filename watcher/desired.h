/*
 * The desired state: every Service that asks for an address, and for
 * each wanted address the ipset last told to the claimer.
 */
#ifndef KIWI_DESIRED_H
#define KIWI_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"
#include "service.h"

/*
 * An address and what the claimer is told of it: DESIRE with the
 * rules, or, for one kiwi will not claim, NOTE with why (no rules).
 */
struct ipstate {
	struct kiwi_ipset set;
	uint8_t why; /* enum addr_class */
	bool truncated; /* more than KIWI_MAX_RULES rules were wanted */
};

struct desired {
	struct service *svcs; /* sorted by key; each wants an address */
	size_t nsvcs;
	size_t capsvcs;
	struct ipstate *ips; /* sorted by address */
	size_t nips;
	size_t capips;
};

/*
 * One thing to tell the claimer: MSG_DESIRE set, MSG_NOTE set's
 * address and service with why, or MSG_UNDESIRE its address.
 */
struct change {
	uint8_t type;
	uint8_t why;
	struct kiwi_ipset set;
};

struct changes {
	struct change *v;
	size_t n;
	size_t cap;
};

void desired_init(struct desired *d);
void desired_free(struct desired *d);

/*
 * Take svc (ownership passes, even on error) in place of any Service of
 * the same key, and append to ch what that changes.  0 or -ENOMEM.
 */
int desired_upsert(struct desired *d, struct service *svc, struct changes *ch);
/* Forget the Service key; append to ch what that changes. */
int desired_remove(struct desired *d, const char *key, struct changes *ch);

/*
 * For building a state from a list: take svc without computing ipsets;
 * desired_rebuild computes them all once the list is complete.
 */
int desired_put(struct desired *d, struct service *svc);
int desired_rebuild(struct desired *d);

void changes_init(struct changes *ch);
void changes_clear(struct changes *ch);
void changes_free(struct changes *ch);

#endif
