/*
 * Replies to the claimer, waiting to go out.  A reply is held back
 * until the commit of its batch, so that a RESULT 0 is only sent once
 * address and rules are in place, and then sent without blocking: the
 * netagent never waits for the claimer to read, so the two cannot each
 * wait for the other with full sockets.
 */
#ifndef KIWI_NETAGENT_OUTBOX_H
#define KIWI_NETAGENT_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

struct reply {
	uint8_t type; /* MSG_RESULT, MSG_RELEASE_ALL_DONE or MSG_LINK */
	struct kiwi_addr addr;
	int error; /* for MSG_LINK: the value */
};

struct outbox {
	struct reply *r;
	size_t head; /* the next to send */
	size_t ready; /* [head, ready) may go out */
	size_t n; /* [ready, n) wait for their commit */
	size_t cap;
};

/* Queue a reply behind the current batch; 0 or -ENOMEM. */
int outbox_push(
    struct outbox *o, uint8_t type, const struct kiwi_addr *a, int error);
/* Replies not yet sent, committed or not. */
size_t outbox_backlog(const struct outbox *o);
bool outbox_sendable(const struct outbox *o);
/* The replies of the batch being committed; count in *n. */
struct reply *outbox_batch(struct outbox *o, size_t *n);
/* The batch is committed: its replies may go out. */
void outbox_release(struct outbox *o);
/*
 * Send what may go out until the socket is full: 0, or the negative
 * errno of a failed send.
 */
int outbox_send(struct outbox *o, int fd);
void outbox_clear(struct outbox *o);
void outbox_free(struct outbox *o);

#endif
