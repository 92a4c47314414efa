#include "sendq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "msg.h"

static int
reserve(struct sendq *q, size_t more)
{
	size_t need, cap;
	uint8_t *nb;

	/* Sent frames at the front make room first. */
	if (q->head > 0) {
		memmove(q->buf, q->buf + q->head, q->len - q->head);
		q->len -= q->head;
		q->head = 0;
	}
	need = q->len + more;
	if (need > KIWI_SENDQ_MAX)
		return -ENOBUFS;
	if (need <= q->cap)
		return 0;
	cap = q->cap ? q->cap : 65536;
	while (cap < need)
		cap *= 2;
	if ((nb = realloc(q->buf, cap)) == NULL)
		return -ENOMEM;
	q->buf = nb;
	q->cap = cap;
	return 0;
}

static int
push(struct sendq *q, uint8_t type, const void *body, size_t len)
{
	uint32_t n = (uint32_t)(KIWI_MSG_HDRLEN + len);
	ssize_t w;
	int rc;

	if ((rc = reserve(q, sizeof(n) + n)) < 0)
		return rc;
	w = msg_frame(q->buf + q->len + sizeof(n), n, type, body, len);
	if (w < 0)
		return (int)w;
	memcpy(q->buf + q->len, &n, sizeof(n));
	q->len += sizeof(n) + n;
	return 0;
}

int
sendq_flush(struct sendq *q, int fd)
{
	uint32_t n;
	ssize_t w;

	while (q->head < q->len) {
		memcpy(&n, q->buf + q->head, sizeof(n));
		do {
			w = send(fd, q->buf + q->head + sizeof(n), n,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (w < 0 && errno == EINTR);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0)
			return -errno;
		q->head += sizeof(n) + n;
	}
	q->head = q->len = 0;
	return 0;
}

int
sendq_msg(struct sendq *q, int fd, uint8_t type, const void *body, size_t len)
{
	int rc;

	if ((rc = push(q, type, body, len)) < 0)
		return rc;
	return sendq_flush(q, fd);
}

bool
sendq_pending(const struct sendq *q)
{
	return q->head < q->len;
}

void
sendq_free(struct sendq *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}
