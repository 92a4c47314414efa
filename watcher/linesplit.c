#include "linesplit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
linesplit_init(struct linesplit *ls, size_t max)
{
	memset(ls, 0, sizeof(*ls));
	ls->max = max;
}

void
linesplit_reset(struct linesplit *ls)
{
	ls->len = 0;
	ls->broken = false;
}

void
linesplit_free(struct linesplit *ls)
{
	if (ls == NULL)
		return;
	free(ls->buf);
	linesplit_init(ls, ls->max);
}

size_t
linesplit_pending(const struct linesplit *ls)
{
	return ls->len;
}

static int
append(struct linesplit *ls, const char *p, size_t n)
{
	size_t need, cap;
	char *nb;

	if (n > ls->max - ls->len) {
		ls->broken = true;
		return -EMSGSIZE;
	}
	need = ls->len + n + 1;
	if (need > ls->cap) {
		cap = ls->cap ? ls->cap : 4096;
		while (cap < need)
			cap *= 2;
		if (cap > ls->max + 1)
			cap = ls->max + 1;
		if ((nb = realloc(ls->buf, cap)) == NULL)
			return -ENOMEM;
		ls->buf = nb;
		ls->cap = cap;
	}
	memcpy(ls->buf + ls->len, p, n);
	ls->len += n;
	ls->buf[ls->len] = '\0';
	return 0;
}

static int
emit(struct linesplit *ls, linesplit_cb cb, void *arg)
{
	size_t n = ls->len;
	int rc = 0;

	if (n > 0 && ls->buf[n - 1] == '\r')
		ls->buf[--n] = '\0';
	if (n > 0)
		rc = cb(arg, ls->buf, n);
	ls->len = 0;
	return rc;
}

int
linesplit_feed(struct linesplit *ls, const char *data, size_t n,
    linesplit_cb cb, void *arg)
{
	const char *nl;
	size_t seg;
	int rc;

	if (ls->broken)
		return -EMSGSIZE;
	while (n > 0) {
		nl = memchr(data, '\n', n);
		seg = nl ? (size_t)(nl - data) : n;
		if ((rc = append(ls, data, seg)) < 0)
			return rc;
		if (nl == NULL)
			break;
		if ((rc = emit(ls, cb, arg)) < 0)
			return rc;
		data += seg + 1;
		n -= seg + 1;
	}
	return 0;
}
