/*
 * Splitting a byte stream that arrives in arbitrary pieces into lines.
 */
#ifndef KIWI_LINESPLIT_H
#define KIWI_LINESPLIT_H

#include <stdbool.h>
#include <stddef.h>

/* The longest line a Kubernetes watch event may take. */
#define LINESPLIT_MAX (4u << 20)

/*
 * Called with one complete line, NUL-terminated, without its "\n" (or
 * "\r\n").  Empty lines are not passed on.  A negative return stops
 * the feed and is returned by linesplit_feed.
 */
typedef int (*linesplit_cb)(void *arg, char *line, size_t len);

struct linesplit {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	bool broken; /* a line overflowed: nothing more until reset */
};

void linesplit_init(struct linesplit *ls, size_t max);
/* Forget a partial line, e.g. when a new stream starts. */
void linesplit_reset(struct linesplit *ls);
void linesplit_free(struct linesplit *ls);
/*
 * Feed n bytes.  Returns 0, -EMSGSIZE once a line exceeds max bytes
 * (and on every feed after that until reset), -ENOMEM, or the first
 * negative value a callback returned.
 */
int linesplit_feed(struct linesplit *ls, const char *data, size_t n,
    linesplit_cb cb, void *arg);
/* Bytes of an unfinished line held back. */
size_t linesplit_pending(const struct linesplit *ls);

#endif
