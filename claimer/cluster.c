/*
 * The cluster view for `kiwi status --cluster`: every claim below
 * KIWI_KEY_PREFIX with its owner, and the time left on its lease.
 * One read of the prefix, then one timetolive per distinct lease, all
 * through the claimer's etcd client so that the loop never waits.
 * Clients that ask while a view is being gathered share it.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claimer/claimer_int.h"
#include "common/log.h"

#define ETCD_TIMETOLIVE "/v3/lease/timetolive"
/*
 * Leases asked about for one view.  XXX More (a cluster of more than
 * 64 nodes) are shown without their time left.
 */
#define LEASES_MAX 64

struct cluster_q {
	json_t *claims;
	unsigned int pending; /* requests on the way */
	size_t nleases;
	int64_t leases[LEASES_MAX];
};

static void
finish(struct claimer *c, struct cluster_q *q)
{
	json_t *doc = json_pack("{s:O}", "claims", q->claims);
	char *s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

	status_cluster_done(c, s);
	free(s);
	json_decref(doc);
	json_decref(q->claims);
	free(q);
	c->cluster = NULL;
}

/* Put the time left into every claim on lease id. */
static void
set_ttl(struct cluster_q *q, int64_t id, json_int_t ttl)
{
	size_t i;
	json_t *k;

	json_array_foreach(q->claims, i,
	    k) if (json_integer_value(json_object_get(k, "lease")) == id)
	    json_object_set_new(k, "ttl_left", json_integer(ttl));
}

/* etcd's gateway writes int64 fields as strings. */
static json_int_t
int_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : -1;
}

static void
ttl_done(void *arg, int64_t id, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;
	struct cluster_q *q = c->cluster;
	json_t *ans = NULL;

	if (q == NULL)
		return;
	if (r == 0)
		ans = json_loads(etcd_req_answer(rq), 0, NULL);
	if (ans != NULL)
		set_ttl(q, id, int_field(ans, "TTL"));
	else
		log_debug("cluster view: no time left for lease %" PRId64
		          ": %s",
		    id, etcd_req_error(rq));
	json_decref(ans);
	if (--q->pending == 0)
		finish(c, q);
}

static void
ask_ttl(struct claimer *c, struct cluster_q *q, int64_t id)
{
	char *body = NULL;
	size_t i;

	for (i = 0; i < q->nleases; i++)
		if (q->leases[i] == id)
			return;
	if (id == 0 || q->nleases == LEASES_MAX)
		return;
	q->leases[q->nleases++] = id;
	if (asprintf(&body, "{\"ID\":\"%" PRId64 "\"}", id) < 0)
		body = NULL;
	if (etcd_start(c->etcd, ETCD_TIMETOLIVE, body, ttl_done, NULL, c, id))
		q->pending++;
}

static json_t *
claim_entry(const struct ej_kv *kv)
{
	json_t *v = json_loadb(kv->h.value, kv->h.valuelen, 0, NULL);
	const char *key = kv->key + strlen(KIWI_KEY_PREFIX);
	json_t *k;

	if (kv->keylen < strlen(KIWI_KEY_PREFIX))
		key = kv->key;
	k = json_pack("{s:s, s:s?, s:s?, s:I, s:I}", "address", key, "node",
	    json_string_value(json_object_get(v, "node")), "service",
	    json_string_value(json_object_get(v, "service")), "lease",
	    (json_int_t)kv->h.lease, "ttl_left", (json_int_t)-1);
	json_decref(v);
	return k;
}

static void
range_done(void *arg, int64_t tag, struct etcd_req *rq, int r)
{
	struct claimer *c = arg;
	struct cluster_q *q = c->cluster;
	struct ej_range rg;
	size_t i;

	(void)tag;
	if (q == NULL)
		return;
	q->pending--;
	r = etcd_range_answer(rq, r, &rg);
	if (r < 0) {
		log_debug("cluster view: %s", etcd_req_error(rq));
		status_cluster_done(c, NULL);
		cluster_free(c);
		return;
	}
	for (i = 0; i < rg.n; i++) {
		json_array_append_new(q->claims, claim_entry(&rg.kvs[i]));
		ask_ttl(c, q, rg.kvs[i].h.lease);
	}
	ej_range_free(&rg);
	if (q->pending == 0)
		finish(c, q);
}

int
cluster_start(struct claimer *c)
{
	struct cluster_q *q;

	if (c->cluster != NULL)
		return 0;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	if ((q->claims = json_array()) == NULL) {
		free(q);
		return -ENOMEM;
	}
	c->cluster = q;
	if (etcd_start(c->etcd, ETCD_RANGE, ej_range_body(KIWI_KEY_PREFIX),
	        range_done, NULL, c, 0) == NULL) {
		cluster_free(c);
		return -EIO;
	}
	q->pending = 1;
	return 0;
}

void
cluster_free(struct claimer *c)
{
	if (c->cluster == NULL)
		return;
	json_decref(c->cluster->claims);
	free(c->cluster);
	c->cluster = NULL;
}
