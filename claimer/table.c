#include "claimer/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Index of the first entry not below a. */
static size_t
lower_bound(const struct table *t, const struct kiwi_addr *a)
{
	size_t lo = 0, hi = t->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (addr_cmp(&t->v[mid]->want.addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct claim *
table_find(const struct table *t, const struct kiwi_addr *a)
{
	size_t i = lower_bound(t, a);

	if (i < t->n && addr_equal(&t->v[i]->want.addr, a))
		return t->v[i];
	return NULL;
}

static int
grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct claim **v;

	if (t->n < t->cap)
		return 0;
	v = reallocarray(t->v, cap, sizeof(struct claim *));
	if (v == NULL)
		return -ENOMEM;
	t->v = v;
	t->cap = cap;
	return 0;
}

struct claim *
table_add(struct table *t, const struct kiwi_addr *a)
{
	struct claim *cl;
	size_t i;

	if (grow(t) < 0)
		return NULL;
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return NULL;
	ipset_init(&cl->want);
	cl->want.addr = *a;
	cl->state = CL_NONE;
	i = lower_bound(t, a);
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(struct claim *));
	t->v[i] = cl;
	t->n++;
	return cl;
}

static void
claim_free(struct claim *cl)
{
	if (cl == NULL)
		return;
	ipset_free(&cl->want);
	free(cl->holder);
	free(cl);
}

void
table_sweep(struct table *t)
{
	size_t i, j = 0;

	for (i = 0; i < t->n; i++) {
		struct claim *cl = t->v[i];

		if (!cl->wanted && !cl->busy &&
		    (cl->state == CL_NONE || cl->state == CL_STANDBY))
			claim_free(cl);
		else
			t->v[j++] = cl;
	}
	t->n = j;
}

void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		claim_free(t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}
