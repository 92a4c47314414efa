#include "claimer/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

void
conn_init(struct conn *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].fd = -1;
	}
}

void
conn_close(struct conn *k)
{
	if (k->fd >= 0)
		close(k->fd);
	free(k->out);
	conn_init(k, 1);
}

int
conn_accept(int lfd, struct conn *v, size_t n)
{
	size_t i;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	for (i = 0; i < n && v[i].fd >= 0; i++)
		;
	/* Full: the client sees the connection close at once. */
	if (i == n) {
		close(fd);
		return -1;
	}
	v[i].fd = fd;
	v[i].deadline = now_ms() + CONN_MS;
	return (int)i;
}

void
conn_write(struct conn *k)
{
	ssize_t n = send(k->fd, k->out + k->outoff, k->outlen - k->outoff,
	    MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (k->outoff += (size_t)n) == k->outlen)
		conn_close(k);
}

short
conn_revents(const struct pollfd *p, unsigned int n, int fd)
{
	unsigned int i;

	for (i = 0; fd >= 0 && i < n; i++)
		if (p[i].fd == fd)
			return p[i].revents;
	return 0;
}

int
conn_serve(int lfd, struct conn *v, size_t n, const struct pollfd *p,
    unsigned int np, void (*rd)(void *, int), void *arg)
{
	size_t i;
	short ev;

	for (i = 0; i < n; i++) {
		if (v[i].fd >= 0 && now_ms() > v[i].deadline)
			conn_close(&v[i]);
		ev = conn_revents(p, np, v[i].fd);
		if (ev != 0 && v[i].out != NULL)
			conn_write(&v[i]);
		else if (ev != 0)
			rd(arg, (int)i);
	}
	if (conn_revents(p, np, lfd) & POLLIN)
		return conn_accept(lfd, v, n);
	return -1;
}

int64_t
conn_wake(const struct conn *v, size_t n)
{
	int64_t w = INT64_MAX;
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].fd >= 0 && v[i].deadline < w)
			w = v[i].deadline;
	return w;
}

void
listener_init(struct listener *l, int fd)
{
	l->fd = fd;
	conn_init(l->cl, CONN_MAX);
}

void
listener_close(struct listener *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < CONN_MAX; i++)
		conn_close(&l->cl[i]);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

unsigned int
listener_pollfds(const struct listener *l, const bool *held, struct pollfd *p)
{
	const struct conn *k;
	unsigned int n = 0;
	size_t i;

	p[n++] = (struct pollfd){ .fd = l->fd, .events = POLLIN };
	for (i = 0; i < CONN_MAX; i++) {
		k = &l->cl[i];
		if (k->fd < 0 || (k->out == NULL && held != NULL && held[i]))
			continue;
		p[n++] = (struct pollfd){ .fd = k->fd,
			.events = k->out ? POLLOUT : POLLIN };
	}
	return n;
}

int
listener_serve(struct listener *l, const struct pollfd *p, unsigned int n,
    void (*rd)(void *, int), void *arg)
{
	return conn_serve(l->fd, l->cl, CONN_MAX, p, n, rd, arg);
}

int64_t
listener_wake(const struct listener *l)
{
	return conn_wake(l->cl, CONN_MAX);
}
