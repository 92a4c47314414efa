/*
 * The connections of the claimer's small servers (status.c, metrics.c):
 * non-blocking, one answer each, closed once it is sent or when their
 * time is up.  A fixed array of slots caps how many are served at once;
 * a listener is the socket that fills them, shared by both servers.
 */
#ifndef KIWI_CLAIMER_CONN_H
#define KIWI_CLAIMER_CONN_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a client has to ask and to read the answer. */
#define CONN_MS 5000
/* Clients one server answers at once; more are closed at accept. */
#define CONN_MAX 8

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

/* A listening socket and the slots of its clients. */
struct listener {
	int fd;
	struct conn cl[CONN_MAX];
};

void listener_init(struct listener *l, int fd);
/* Close the clients and the socket; NULL is fine. */
void listener_close(struct listener *l);
/*
 * Fill at most 1 + CONN_MAX entries: the socket, and each client but
 * those whose slot in held (NULL: none) says they wait for something
 * else than their socket.  Returns how many.
 */
unsigned int listener_pollfds(
    const struct listener *l, const bool *held, struct pollfd *p);
/* conn_serve over the listener's clients. */
int listener_serve(struct listener *l, const struct pollfd *p, unsigned int n,
    void (*rd)(void *, int), void *arg);
int64_t listener_wake(const struct listener *l);

#endif
