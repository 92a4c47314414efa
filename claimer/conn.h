/*
 * The connections of the claimer's small servers (status.c, metrics.c):
 * non-blocking, one answer each, closed once it is sent or when their
 * time is up.  A fixed array of slots caps how many are served at once.
 */
#ifndef KIWI_CLAIMER_CONN_H
#define KIWI_CLAIMER_CONN_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* How long a client has to ask and to read the answer. */
#define CONN_MS 5000

struct conn {
	int fd; /* -1: a free slot */
	int64_t deadline;
	char *out; /* the answer once known, malloc'd */
	size_t outlen, outoff;
};

void conn_init(struct conn *v, size_t n);
void conn_close(struct conn *k);
/* Accept one client into a free slot: its index, or -1. */
int conn_accept(int lfd, struct conn *v, size_t n);
/* Send what the socket takes; closes the connection when all went. */
void conn_write(struct conn *k);
/* What poll said about fd, 0 when it was not polled. */
short conn_revents(const struct pollfd *p, unsigned int n, int fd);
/*
 * After poll: close what ran out of time, send answers, call rd(arg,
 * slot) for what became readable, accept a new client.  Returns the
 * new client's slot, or -1.
 */
int conn_serve(int lfd, struct conn *v, size_t n, const struct pollfd *p,
    unsigned int np, void (*rd)(void *, int), void *arg);
/* The soonest deadline among v, or INT64_MAX. */
int64_t conn_wake(const struct conn *v, size_t n);

#endif
