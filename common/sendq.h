/*
 * Messages waiting to go out on a non-blocking socket, in order.  A
 * peer that is busy for a while (the netagent in a long commit) fills
 * its socket; the sender queues instead of blocking or giving up, and
 * sends the rest when the socket is writable again.
 */
#ifndef KIWI_SENDQ_H
#define KIWI_SENDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sendq {
	uint8_t *buf; /* frames, each behind a u32 length */
	size_t head; /* the next frame to send */
	size_t len;
	size_t cap;
};

/*
 * Send one message, or queue it behind those waiting.  0; -ENOBUFS when
 * more than KIWI_SENDQ_MAX bytes would wait (the peer is not reading);
 * another negative errno when the peer is gone.
 */
int sendq_msg(
    struct sendq *q, int fd, uint8_t type, const void *body, size_t len);
/* Send what waits until the socket is full: 0, or as sendq_msg. */
int sendq_flush(struct sendq *q, int fd);
bool sendq_pending(const struct sendq *q);
void sendq_free(struct sendq *q);

#define KIWI_SENDQ_MAX (64u << 20)

#endif
