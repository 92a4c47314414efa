#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"

/* Drop what was sent, then make room for one more. */
static int
outbox_room(struct outbox *o)
{
	size_t ncap;
	void *p;

	if (o->head > 0) {
		memmove(o->r, o->r + o->head, (o->n - o->head) * sizeof(*o->r));
		o->n -= o->head;
		o->ready -= o->head;
		o->head = 0;
	}
	if (o->n < o->cap)
		return 0;
	ncap = o->cap ? o->cap * 2 : 64;
	if ((p = reallocarray(o->r, ncap, sizeof(*o->r))) == NULL)
		return -ENOMEM;
	o->r = p;
	o->cap = ncap;
	return 0;
}

int
outbox_push(
    struct outbox *o, uint8_t type, const struct kiwi_addr *a, int error)
{
	struct reply *r;

	if (o->n == o->cap && outbox_room(o) < 0)
		return -ENOMEM;
	r = &o->r[o->n++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	if (a != NULL)
		r->addr = *a;
	r->error = error;
	return 0;
}

size_t
outbox_backlog(const struct outbox *o)
{
	return o->n - o->head;
}

bool
outbox_sendable(const struct outbox *o)
{
	return o->head < o->ready;
}

struct reply *
outbox_batch(struct outbox *o, size_t *n)
{
	*n = o->n - o->ready;
	return o->r + o->ready;
}

void
outbox_release(struct outbox *o)
{
	o->ready = o->n;
}

static int
reply_send(int fd, const struct reply *r)
{
	if (r->type == MSG_RESULT)
		return msg_send_result(fd, &r->addr, r->error);
	if (r->type == MSG_LINK)
		return msg_send_u32(fd, MSG_LINK, (uint32_t)r->error);
	return msg_send(fd, r->type, NULL, 0);
}

int
outbox_send(struct outbox *o, int fd)
{
	int rc;

	while (o->head < o->ready) {
		if ((rc = reply_send(fd, &o->r[o->head])) == -EAGAIN)
			return 0;
		if (rc < 0)
			return rc;
		o->head++;
	}
	if (o->head == o->n)
		o->head = o->ready = o->n = 0;
	return 0;
}

void
outbox_clear(struct outbox *o)
{
	o->head = o->ready = o->n = 0;
}

void
outbox_free(struct outbox *o)
{
	if (o == NULL)
		return;
	free(o->r);
	memset(o, 0, sizeof(*o));
}
