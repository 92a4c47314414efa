/*
 * The addresses Services name that kiwi does not claim: outside the
 * configured ranges, or never announceable.  The watcher tells them in
 * NOTEs, apart from DESIREs, so that nothing here can lead to a claim;
 * they are kept only for the status, in their own table sorted by
 * address, a few hundred bytes each and no work per loop.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claimer/claimer_int.h"
#include "common/log.h"

/* Where a is, or where it would go; *found says which. */
static size_t
note_find(const struct notes *t, const struct kiwi_addr *a, bool *found)
{
	size_t lo = 0, hi = t->n, mid;
	int k;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((k = addr_cmp(&t->v[mid].note.addr, a)) == 0) {
			*found = true;
			return mid;
		}
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Say once that n is not listed, and why. */
static void
note_refused(struct claimer *c, const struct kiwi_note *n, const char *why)
{
	char ip[KIWI_ADDRSTRLEN];

	if (!c->notes.full)
		log_warnx("not listing %s in the status, nor any more "
		          "addresses kiwi does not claim: %s",
		    addr_fmt(&n->addr, ip, sizeof(ip)), why);
	c->notes.full = true;
}

/*
 * Room for one more, within the cap of max-addresses; 0, or -1 when
 * full or out of memory (logged once).
 */
static int
note_room(struct claimer *c, const struct kiwi_note *n)
{
	struct notes *t = &c->notes;
	size_t cap;
	void *v;

	if (t->n >= c->cfg->max_addresses) {
		note_refused(c, n, "max-addresses are listed already");
		return -1;
	}
	if (t->n < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 64;
	if ((v = reallocarray(t->v, cap, sizeof(*t->v))) == NULL) {
		note_refused(c, n, "out of memory");
		return -1;
	}
	t->v = v;
	t->cap = cap;
	return 0;
}

/* Whether the watcher's reason is what this claimer finds itself. */
static bool
note_valid(const struct claimer *c, const struct kiwi_note *n)
{
	enum addr_class k =
	    addr_classify(c->cfg->cidrs, c->cfg->ncidrs, &n->addr);
	char ip[KIWI_ADDRSTRLEN];

	if (k == n->why)
		return true;
	log_warnx("ignoring a NOTE for %s from the watcher: it says %s, "
	          "but the address is %s",
	    addr_fmt(&n->addr, ip, sizeof(ip)),
	    addr_class_text((enum addr_class)n->why),
	    k == ADDR_CLAIMABLE ? "one kiwi claims" : addr_class_text(k));
	return false;
}

void
notes_on_note(struct claimer *c, const struct kiwi_msg *m)
{
	struct notes *t = &c->notes;
	struct kiwi_note n;
	struct note *e;
	size_t at;
	bool found;
	int r;

	if ((r = msg_decode_note(m->body, m->len, &n)) < 0) {
		log_warnc(r, "ignoring a malformed NOTE from the watcher");
		return;
	}
	if (!note_valid(c, &n))
		return;
	at = note_find(t, &n.addr, &found);
	if (!found) {
		if (note_room(c, &n) < 0)
			return;
		memmove(&t->v[at + 1], &t->v[at], (t->n - at) * sizeof(*t->v));
		t->n++;
		t->v[at].since = (int64_t)time(NULL);
	}
	e = &t->v[at];
	e->note = n;
	e->seen = true;
}

void
notes_forget(struct claimer *c, const struct kiwi_addr *a)
{
	struct notes *t = &c->notes;
	bool found;
	size_t at = note_find(t, a, &found);

	if (!found)
		return;
	memmove(&t->v[at], &t->v[at + 1], (t->n - at - 1) * sizeof(*t->v));
	t->n--;
	t->full = false;
}

void
notes_sync(struct claimer *c, bool end)
{
	struct notes *t = &c->notes;
	size_t i, kept = 0;

	for (i = 0; i < t->n; i++) {
		if (!end)
			t->v[i].seen = false;
		else if (t->v[i].seen)
			t->v[kept++] = t->v[i];
	}
	if (end && kept < t->n) {
		t->n = kept;
		t->full = false;
	}
}

void
notes_free(struct claimer *c)
{
	free(c->notes.v);
	memset(&c->notes, 0, sizeof(c->notes));
}
