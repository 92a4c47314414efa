#include "desired.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct pair {
	struct kiwi_addr addr;
	size_t svc;
};

void
desired_init(struct desired *d)
{
	memset(d, 0, sizeof(*d));
}

static void
ips_clear(struct desired *d)
{
	size_t i;

	for (i = 0; i < d->nips; i++)
		ipset_free(&d->ips[i].set);
	d->nips = 0;
}

void
desired_free(struct desired *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nsvcs; i++)
		service_free(&d->svcs[i]);
	ips_clear(d);
	free(d->svcs);
	free(d->ips);
	desired_init(d);
}

void
changes_init(struct changes *ch)
{
	memset(ch, 0, sizeof(*ch));
}

void
changes_clear(struct changes *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		ipset_free(&ch->v[i].set);
	ch->n = 0;
}

void
changes_free(struct changes *ch)
{
	if (ch == NULL)
		return;
	changes_clear(ch);
	free(ch->v);
	changes_init(ch);
}

/* Make room for one more element of an array of size each. */
static int
grow(void **v, size_t n, size_t *cap, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((nv = reallocarray(*v, ncap, size)) == NULL)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* Takes set: on error it is freed. */
static int
change_push(
    struct changes *ch, uint8_t type, uint8_t why, struct kiwi_ipset *set)
{
	if (grow((void **)&ch->v, ch->n, &ch->cap, sizeof(*ch->v)) < 0) {
		ipset_free(set);
		return -ENOMEM;
	}
	ch->v[ch->n].type = type;
	ch->v[ch->n].why = why;
	ch->v[ch->n].set = *set;
	ch->n++;
	return 0;
}

/* Index of key, or where it would go; *found says which. */
static size_t
svc_find(const struct desired *d, const char *key, bool *found)
{
	size_t lo = 0, hi = d->nsvcs, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(d->svcs[mid].key, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static size_t
ip_find(const struct desired *d, const struct kiwi_addr *a, bool *found)
{
	size_t lo = 0, hi = d->nips, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = addr_cmp(&d->ips[mid].set.addr, a);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/*
 * Append a rule unless it is there already (two Services sharing an
 * address may name the same port: one rule marks it for both);
 * -ENOSPC when full.
 */
static int
add_rule(struct kiwi_ipset *set, const struct svc_port *p)
{
	struct kiwi_rule *r;
	size_t i;

	for (i = 0; i < set->nrules; i++) {
		r = &set->rules[i];
		if (r->proto == p->proto && r->port == p->port)
			return 0;
	}
	if (set->nrules == KIWI_MAX_RULES)
		return -ENOSPC;
	r = &set->rules[set->nrules++];
	memset(r, 0, sizeof(*r));
	r->proto = p->proto;
	r->port = p->port;
	return 0;
}

/*
 * The Services after the first that name the set's address, for the
 * status: in key order, as the message wants them.
 * XXX Past KIWI_MAX_ALSO of them the rest go unnamed; they still get
 * their rules.
 */
static int
add_also(const struct desired *d, const size_t *idx, size_t n,
    struct kiwi_ipset *set)
{
	size_t i;

	if (n < 2)
		return 0;
	set->nalso = n - 1 < KIWI_MAX_ALSO ? n - 1 : KIWI_MAX_ALSO;
	if ((set->also = calloc(set->nalso, sizeof(*set->also))) == NULL) {
		set->nalso = 0;
		return -ENOMEM;
	}
	for (i = 0; i < set->nalso; i++)
		msg_name_set(set->also[i], d->svcs[idx[i + 1]].key);
	return 0;
}

/*
 * The ipset for a from the Services at idx[0..n), in key order: the
 * union of their rules, named for the first of them and listing the
 * others.
 */
static int
build_set(const struct desired *d, const struct kiwi_addr *a, const size_t *idx,
    size_t n, struct ipstate *out)
{
	const struct service *s;
	size_t i, j, cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->set.addr = *a;
	/* Not to be claimed: what names it is all the status shows. */
	if ((out->why = service_why(&d->svcs[idx[0]], a)) != ADDR_CLAIMABLE) {
		msg_name_set(out->set.service, d->svcs[idx[0]].key);
		return 0;
	}
	/*
	 * Room for what these Services can ask for, not for the most a
	 * message carries: there is a set for every address of every
	 * Service.
	 */
	for (i = 0; i < n; i++)
		cap += d->svcs[idx[i]].nports;
	if (cap > KIWI_MAX_RULES)
		cap = KIWI_MAX_RULES;
	if (cap > 0 &&
	    (out->set.rules = calloc(cap, sizeof(*out->set.rules))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		s = &d->svcs[idx[i]];
		if (i == 0)
			msg_name_set(out->set.service, s->key);
		for (j = 0; j < s->nports; j++)
			if (add_rule(&out->set, &s->ports[j]) < 0)
				out->truncated = true;
	}
	if ((rc = add_also(d, idx, n, &out->set)) < 0)
		ipset_free(&out->set);
	return rc;
}

static void
warn_truncated(const struct ipstate *st, const struct ipstate *old)
{
	char buf[KIWI_ADDRSTRLEN];

	if (!st->truncated || (old != NULL && old->truncated))
		return;
	log_warnx("address %s: Services want more than %d rules, "
	          "only the first %d will mark traffic",
	    addr_fmt(&st->set.addr, buf, sizeof(buf)), KIWI_MAX_RULES,
	    KIWI_MAX_RULES);
}

static int
ip_insert(struct desired *d, size_t at, struct ipstate *st)
{
	if (grow((void **)&d->ips, d->nips, &d->capips, sizeof(*d->ips)) < 0) {
		ipset_free(&st->set);
		return -ENOMEM;
	}
	memmove(&d->ips[at + 1], &d->ips[at], (d->nips - at) * sizeof(*d->ips));
	d->ips[at] = *st;
	d->nips++;
	return 0;
}

static void
ip_delete(struct desired *d, size_t at)
{
	ipset_free(&d->ips[at].set);
	memmove(
	    &d->ips[at], &d->ips[at + 1], (d->nips - at - 1) * sizeof(*d->ips));
	d->nips--;
}

static int
ip_gone(struct desired *d, const struct kiwi_addr *a, struct changes *ch)
{
	struct kiwi_ipset un;
	size_t at;
	bool found;

	at = ip_find(d, a, &found);
	if (!found)
		return 0;
	ip_delete(d, at);
	ipset_init(&un);
	un.addr = *a;
	return change_push(ch, MSG_UNDESIRE, ADDR_CLAIMABLE, &un);
}

/* Store st for its address, and record a DESIRE if it differs. */
static int
ip_store(struct desired *d, struct ipstate *st, struct changes *ch)
{
	struct kiwi_ipset copy;
	struct ipstate *old;
	size_t at;
	bool found;
	int rc;

	at = ip_find(d, &st->set.addr, &found);
	old = found ? &d->ips[at] : NULL;
	warn_truncated(st, old);
	if (old != NULL && old->why == st->why &&
	    ipset_equal(&old->set, &st->set)) {
		ipset_free(&st->set);
		return 0;
	}
	if ((rc = ipset_copy(&copy, &st->set)) < 0) {
		ipset_free(&st->set);
		return rc;
	}
	if (old != NULL) {
		ipset_free(&old->set);
		*old = *st;
	} else if ((rc = ip_insert(d, at, st)) < 0) {
		ipset_free(&copy);
		return rc;
	}
	return change_push(ch, st->why ? MSG_NOTE : MSG_DESIRE, st->why, &copy);
}

/* Recompute the ipset of one address after a Service changed. */
static int
ip_update(struct desired *d, const struct kiwi_addr *a, struct changes *ch)
{
	struct ipstate st;
	size_t *idx, n = 0, i;
	int rc;

	if ((idx = calloc(d->nsvcs + 1, sizeof(*idx))) == NULL)
		return -ENOMEM;
	for (i = 0; i < d->nsvcs; i++)
		if (service_wants(&d->svcs[i], a))
			idx[n++] = i;
	if (n == 0)
		rc = ip_gone(d, a, ch);
	else if ((rc = build_set(d, a, idx, n, &st)) == 0)
		rc = ip_store(d, &st, ch);
	free(idx);
	return rc;
}

/* Put svc at its place; a Service that wants nothing is not kept. */
static int
svc_replace(struct desired *d, struct service *svc)
{
	size_t at;
	bool found;

	at = svc_find(d, svc->key, &found);
	if (found) {
		service_free(&d->svcs[at]);
		if (svc->naddrs > 0) {
			d->svcs[at] = *svc;
			return 0;
		}
		service_free(svc);
		memmove(&d->svcs[at], &d->svcs[at + 1],
		    (d->nsvcs - at - 1) * sizeof(*d->svcs));
		d->nsvcs--;
		return 0;
	}
	if (svc->naddrs == 0) {
		service_free(svc);
		return 0;
	}
	if (grow((void **)&d->svcs, d->nsvcs, &d->capsvcs, sizeof(*d->svcs)) <
	    0) {
		service_free(svc);
		return -ENOMEM;
	}
	memmove(
	    &d->svcs[at + 1], &d->svcs[at], (d->nsvcs - at) * sizeof(*d->svcs));
	d->svcs[at] = *svc;
	d->nsvcs++;
	return 0;
}

/* The addresses old and new ask for, each once. */
static int
affected(const struct service *old, const struct service *svc,
    struct kiwi_addr **out, size_t *n)
{
	size_t i, cap = svc->naddrs + (old ? old->naddrs : 0);
	struct kiwi_addr *v;

	*n = 0;
	if ((v = calloc(cap + 1, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; old != NULL && i < old->naddrs; i++)
		v[(*n)++] = old->addrs[i];
	for (i = 0; i < svc->naddrs; i++)
		if (old == NULL || !service_wants(old, &svc->addrs[i]))
			v[(*n)++] = svc->addrs[i];
	*out = v;
	return 0;
}

int
desired_upsert(struct desired *d, struct service *svc, struct changes *ch)
{
	struct kiwi_addr *addrs = NULL;
	const struct service *old;
	size_t at, n, i;
	bool found;
	int rc;

	at = svc_find(d, svc->key, &found);
	old = found ? &d->svcs[at] : NULL;
	if ((rc = affected(old, svc, &addrs, &n)) < 0) {
		service_free(svc);
		return rc;
	}
	if ((rc = svc_replace(d, svc)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = ip_update(d, &addrs[i], ch)) < 0)
			goto out;
out:
	free(addrs);
	return rc;
}

int
desired_remove(struct desired *d, const char *key, struct changes *ch)
{
	struct service empty;

	memset(&empty, 0, sizeof(empty));
	if (msg_name_set(empty.key, key) < 0)
		return 0;
	return desired_upsert(d, &empty, ch);
}

int
desired_put(struct desired *d, struct service *svc)
{
	return svc_replace(d, svc);
}

static int
pair_cmp(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int c = addr_cmp(&a->addr, &b->addr);

	if (c != 0)
		return c;
	return a->svc < b->svc ? -1 : a->svc > b->svc;
}

/* Every (address, Service) pair, sorted by address then Service. */
static int
collect_pairs(const struct desired *d, struct pair **out, size_t *n)
{
	size_t i, j, total = 0;
	struct pair *v;

	for (i = 0; i < d->nsvcs; i++)
		total += d->svcs[i].naddrs;
	if ((v = calloc(total + 1, sizeof(*v))) == NULL)
		return -ENOMEM;
	*n = 0;
	for (i = 0; i < d->nsvcs; i++)
		for (j = 0; j < d->svcs[i].naddrs; j++) {
			v[*n].addr = d->svcs[i].addrs[j];
			v[(*n)++].svc = i;
		}
	qsort(v, *n, sizeof(*v), pair_cmp);
	*out = v;
	return 0;
}

/* Build one ipset from the run of pairs starting at p[0]; its length. */
static int
rebuild_one(struct desired *d, const struct pair *p, size_t left, size_t *idx,
    size_t *used)
{
	struct ipstate st;
	size_t n = 0;
	int rc;

	while (n < left && addr_equal(&p[n].addr, &p[0].addr)) {
		idx[n] = p[n].svc;
		n++;
	}
	*used = n;
	if ((rc = build_set(d, &p[0].addr, idx, n, &st)) < 0)
		return rc;
	warn_truncated(&st, NULL);
	return ip_insert(d, d->nips, &st);
}

int
desired_rebuild(struct desired *d)
{
	struct pair *pairs = NULL;
	size_t *idx = NULL, n = 0, i, used;
	int rc;

	ips_clear(d);
	if ((rc = collect_pairs(d, &pairs, &n)) < 0)
		return rc;
	if ((idx = calloc(n + 1, sizeof(*idx))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i += used)
		if ((rc = rebuild_one(d, &pairs[i], n - i, idx, &used)) < 0)
			goto out;
out:
	free(idx);
	free(pairs);
	return rc;
}
