#include "etcd_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

char *
ej_b64_encode(const void *p, size_t n)
{
	char *out;

	if (n > (SIZE_MAX / 4) - 3 || n > INT32_MAX / 2)
		return NULL;
	out = malloc(4 * ((n + 2) / 3) + 1);
	if (out == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static bool
b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Number of '=' at the end, or -1 when s is not strict base64. */
static int
b64_padding(const char *s, size_t len)
{
	size_t i, body;
	int pad = 0;

	if (len % 4 != 0)
		return -1;
	while (pad < 2 && len > 0 && s[len - 1 - pad] == '=')
		pad++;
	body = len - pad;
	for (i = 0; i < body; i++)
		if (!b64_char(s[i]))
			return -1;
	return pad;
}

int
ej_b64_decode(const char *s, char **out, size_t *n)
{
	size_t len = strlen(s);
	char *buf;
	int pad, got;

	*out = NULL;
	*n = 0;
	pad = b64_padding(s, len);
	if (pad < 0 || len > INT32_MAX)
		return -EINVAL;
	buf = malloc(len / 4 * 3 + 1);
	if (buf == NULL)
		return -ENOMEM;
	got = EVP_DecodeBlock(
	    (unsigned char *)buf, (const unsigned char *)s, (int)len);
	if (got < 0) {
		free(buf);
		return -EINVAL;
	}
	/* DecodeBlock counts the padding as decoded zero bytes. */
	got -= pad;
	buf[got] = '\0';
	*out = buf;
	*n = (size_t)got;
	return 0;
}

int
ej_prefix_end(const char *prefix, size_t len, char **out, size_t *n)
{
	char *end;

	while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
		len--;
	end = malloc(len > 0 ? len : 1);
	if (end == NULL)
		return -ENOMEM;
	if (len == 0) {
		end[0] = '\0';
		*n = 1;
	} else {
		memcpy(end, prefix, len);
		end[len - 1]++;
		*n = len;
	}
	*out = end;
	return 0;
}

static char *
dump(json_t *root)
{
	char *s;

	if (root == NULL)
		return NULL;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

char *
ej_lease_grant_body(unsigned int ttl)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", ttl);
	return dump(json_pack("{s:s}", "TTL", buf));
}

char *
ej_lease_id_body(int64_t id)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, id);
	return dump(json_pack("{s:s}", "ID", buf));
}

char *
ej_claim_body(const char *key, const char *value, int64_t lease)
{
	char *k = ej_b64_encode(key, strlen(key));
	char *v = ej_b64_encode(value, strlen(value));
	char id[24];
	char *s = NULL;

	if (k == NULL || v == NULL)
		goto out;
	snprintf(id, sizeof(id), "%" PRId64, lease);
	s = dump(json_pack("{s:[{s:s,s:s,s:s,s:s}],s:[{s:{s:s,s:s,s:s}}],"
	                   "s:[{s:{s:s}}]}",
	    "compare", "key", k, "target", "CREATE", "result", "EQUAL",
	    "create_revision", "0", "success", "request_put", "key", k, "value",
	    v, "lease", id, "failure", "request_range", "key", k));
out:
	free(k);
	free(v);
	return s;
}

/* One key's compare, put and range of a many-key claim. */
static int
claims_add(json_t *cmp, json_t *put, json_t *get, const char *key,
    const char *value, const char *id)
{
	char *k = ej_b64_encode(key, strlen(key));
	char *v = ej_b64_encode(value, strlen(value));
	int r = -ENOMEM;

	if (k == NULL || v == NULL)
		goto out;
	if (json_array_append_new(cmp,
	        json_pack("{s:s,s:s,s:s,s:s}", "key", k, "target", "CREATE",
	            "result", "EQUAL", "create_revision", "0")) < 0 ||
	    json_array_append_new(put,
	        json_pack("{s:{s:s,s:s,s:s}}", "request_put", "key", k, "value",
	            v, "lease", id)) < 0 ||
	    json_array_append_new(
	        get, json_pack("{s:{s:s}}", "request_range", "key", k)) < 0)
		goto out;
	r = 0;
out:
	free(k);
	free(v);
	return r;
}

char *
ej_claims_body(
    const char *const *keys, const char *const *values, size_t n, int64_t lease)
{
	json_t *cmp = json_array(), *put = json_array(), *get = json_array();
	char id[24];
	size_t i;

	snprintf(id, sizeof(id), "%" PRId64, lease);
	for (i = 0; i < n && cmp && put && get; i++)
		if (claims_add(cmp, put, get, keys[i], values[i], id) < 0)
			break;
	if (i < n || n == 0) {
		json_decref(cmp);
		json_decref(put);
		json_decref(get);
		return NULL;
	}
	return dump(json_pack(
	    "{s:o,s:o,s:o}", "compare", cmp, "success", put, "failure", get));
}

char *
ej_release_body(const char *key, int64_t lease)
{
	char *k = ej_b64_encode(key, strlen(key));
	char id[24];
	char *s;

	if (k == NULL)
		return NULL;
	snprintf(id, sizeof(id), "%" PRId64, lease);
	s = dump(json_pack("{s:[{s:s,s:s,s:s,s:s}],s:[{s:{s:s}}]}", "compare",
	    "key", k, "target", "LEASE", "result", "EQUAL", "lease", id,
	    "success", "request_delete_range", "key", k));
	free(k);
	return s;
}

char *
ej_get_body(const char *key)
{
	char *k = ej_b64_encode(key, strlen(key));
	char *s = NULL;

	if (k != NULL)
		s = dump(json_pack("{s:s}", "key", k));
	free(k);
	return s;
}

/* Base64 of prefix and of its range end. */
static int
prefix_range(const char *prefix, char **k, char **e)
{
	char *end = NULL;
	size_t n;

	*k = ej_b64_encode(prefix, strlen(prefix));
	*e = NULL;
	if (*k != NULL && ej_prefix_end(prefix, strlen(prefix), &end, &n) == 0)
		*e = ej_b64_encode(end, n);
	free(end);
	if (*e != NULL)
		return 0;
	free(*k);
	*k = NULL;
	return -ENOMEM;
}

static char *
range_body(const char *prefix, bool count_only)
{
	char *k, *e, *s;

	if (prefix_range(prefix, &k, &e) < 0)
		return NULL;
	s = dump(count_only ? json_pack("{s:s,s:s,s:b}", "key", k, "range_end",
	                          e, "count_only", 1)
	                    : json_pack("{s:s,s:s}", "key", k, "range_end", e));
	free(k);
	free(e);
	return s;
}

char *
ej_count_body(const char *prefix)
{
	return range_body(prefix, true);
}

char *
ej_range_body(const char *prefix)
{
	return range_body(prefix, false);
}

char *
ej_watch_body(const char *prefix, int64_t rev)
{
	char *k, *e, *s, r[24];

	if (prefix_range(prefix, &k, &e) < 0)
		return NULL;
	snprintf(r, sizeof(r), "%" PRId64, rev);
	s = dump(json_pack("{s:{s:s,s:s,s:s,s:b}}", "create_request", "key", k,
	    "range_end", e, "start_revision", r, "prev_kv", 1));
	free(k);
	free(e);
	return s;
}

char *
ej_claim_value(const char *node, const char *service, const char *ip)
{
	return dump(json_pack(
	    "{s:s,s:s,s:s}", "node", node, "service", service, "ip", ip));
}

/* Copy text that ends up in log lines, with control bytes masked. */
static void
copy_printable(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < cap && src[i] != '\0'; i++)
		dst[i] = (src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
	if (cap > 0)
		dst[i] = '\0';
}

int
ej_parse_claim_value(const char *value, size_t len, char *node, size_t cap)
{
	json_t *root, *n;
	int r = -EINVAL;

	root = json_loadb(value, len, 0, NULL);
	n = json_object_get(root, "node");
	if (json_is_string(n) && json_string_length(n) > 0) {
		copy_printable(node, cap, json_string_value(n));
		r = 0;
	}
	json_decref(root);
	return r;
}

/*
 * A 64-bit integer field: a string of digits as the gateway writes
 * it, or a plain number.  Absent means zero.
 */
static int
get_int64(json_t *obj, const char *name, int64_t *out)
{
	json_t *v = json_object_get(obj, name);
	const char *s;
	char *end;

	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EPROTO;
	s = json_string_value(v);
	if (*s != '-' && (*s < '0' || *s > '9'))
		return -EPROTO;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EPROTO;
	return 0;
}

/* An optional boolean; absent means false. */
static int
get_bool(json_t *obj, const char *name, bool *out)
{
	json_t *v = json_object_get(obj, name);

	*out = false;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return -EPROTO;
	*out = json_is_true(v);
	return 0;
}

static json_t *
load_object(const char *body)
{
	json_t *root = json_loads(body, 0, NULL);

	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/*
 * Every answer of the KV and lease calls carries a header; requiring
 * it keeps an empty or foreign object from reading as "all zero".
 */
static json_t *
load_answer(const char *body)
{
	json_t *root = load_object(body);

	if (root != NULL && !json_is_object(json_object_get(root, "header"))) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int
ej_parse_error(const char *body, int *code, char *msg, size_t cap)
{
	json_t *root = load_object(body), *err, *m, *c;
	int r = -ENOENT;

	err = json_object_get(root, "error");
	if (err == NULL)
		goto out;
	/* Streaming calls nest the error: {"error":{"grpc_code",...}}. */
	if (json_is_object(err)) {
		m = json_object_get(err, "message");
		c = json_object_get(err, "grpc_code");
	} else {
		m = json_object_get(root, "message");
		if (m == NULL)
			m = err;
		c = json_object_get(root, "code");
	}
	*code = json_is_integer(c) ? (int)json_integer_value(c) : -1;
	copy_printable(msg, cap,
	    json_is_string(m) ? json_string_value(m) : "(no message)");
	r = 0;
out:
	json_decref(root);
	return r;
}

int
ej_parse_grant(const char *body, int64_t *id, int64_t *ttl)
{
	json_t *root = load_answer(body);
	int r = -EPROTO;

	if (root == NULL || get_int64(root, "ID", id) < 0 ||
	    get_int64(root, "TTL", ttl) < 0 || *id <= 0 || *ttl <= 0)
		goto out;
	r = 0;
out:
	json_decref(root);
	return r;
}

int
ej_parse_keepalive(const char *body, int64_t *ttl)
{
	json_t *root = load_object(body), *res;
	int r = -EPROTO;

	res = json_object_get(root, "result");
	if (!json_is_object(json_object_get(res, "header")) ||
	    get_int64(res, "TTL", ttl) < 0 || *ttl < 0)
		goto out;
	r = 0;
out:
	json_decref(root);
	return r;
}

void
ej_holder_free(struct ej_holder *h)
{
	if (h == NULL)
		return;
	free(h->value);
	h->value = NULL;
	h->valuelen = 0;
}

static int
parse_holder(json_t *kv, struct ej_holder *h)
{
	json_t *v = json_object_get(kv, "value");

	if (!json_is_object(kv) || get_int64(kv, "lease", &h->lease) < 0)
		return -EPROTO;
	if (v == NULL)
		return ej_b64_decode("", &h->value, &h->valuelen);
	if (!json_is_string(v) ||
	    ej_b64_decode(json_string_value(v), &h->value, &h->valuelen) < 0)
		return -EPROTO;
	return 0;
}

/* The first pair of a range answer, which must have one. */
static int
parse_kv(json_t *range, struct ej_holder *h)
{
	int r =
	    parse_holder(json_array_get(json_object_get(range, "kvs"), 0), h);

	if (r < 0) {
		ej_holder_free(h);
		r = -EPROTO;
	}
	return r;
}

int
ej_parse_claim(const char *body, bool *won, struct ej_holder *h)
{
	json_t *root = load_answer(body), *resp;
	int r = -EPROTO;

	h->lease = 0;
	h->value = NULL;
	h->valuelen = 0;
	if (root == NULL || get_bool(root, "succeeded", won) < 0)
		goto out;
	if (*won) {
		r = 0;
		goto out;
	}
	/* The compare failed, so the key exists: the range must show it. */
	resp = json_array_get(json_object_get(root, "responses"), 0);
	r = parse_kv(json_object_get(resp, "response_range"), h);
out:
	json_decref(root);
	return r;
}

/* One range of a failed many-key claim: the key may be absent. */
static int
parse_maybe_kv(json_t *resp, bool *found, struct ej_holder *h)
{
	json_t *range = json_object_get(resp, "response_range");

	if (!json_is_object(range))
		return -EPROTO;
	*found = json_array_size(json_object_get(range, "kvs")) > 0;
	return *found ? parse_kv(range, h) : 0;
}

int
ej_parse_claims(
    const char *body, size_t n, bool *won, bool *found, struct ej_holder *h)
{
	json_t *root = load_answer(body), *resp;
	size_t i;
	int r = -EPROTO;

	memset(h, 0, n * sizeof(*h));
	memset(found, 0, n * sizeof(*found));
	if (root == NULL || get_bool(root, "succeeded", won) < 0)
		goto out;
	if (*won) {
		r = 0;
		goto out;
	}
	resp = json_object_get(root, "responses");
	if (json_array_size(resp) != n)
		goto out;
	for (i = 0; i < n; i++)
		if (parse_maybe_kv(json_array_get(resp, i), &found[i], &h[i]) <
		    0)
			break;
	r = i == n ? 0 : -EPROTO;
out:
	for (i = 0; r < 0 && i < n; i++)
		ej_holder_free(&h[i]);
	json_decref(root);
	return r;
}

int
ej_parse_release(const char *body, bool *deleted)
{
	json_t *root = load_answer(body);
	int r = -EPROTO;

	if (root != NULL && get_bool(root, "succeeded", deleted) == 0)
		r = 0;
	json_decref(root);
	return r;
}

int
ej_parse_count(const char *body, int64_t *count)
{
	json_t *root = load_answer(body);
	int r = -EPROTO;

	if (root != NULL && get_int64(root, "count", count) == 0 && *count >= 0)
		r = 0;
	json_decref(root);
	return r;
}

int
ej_parse_get(const char *body, bool *found, struct ej_holder *h)
{
	json_t *root = load_answer(body);
	int r = -EPROTO;

	h->lease = 0;
	h->value = NULL;
	h->valuelen = 0;
	*found = json_object_get(root, "kvs") != NULL;
	if (root != NULL)
		r = *found ? parse_kv(root, h) : 0;
	json_decref(root);
	return r;
}

static void
kv_free(struct ej_kv *kv)
{
	free(kv->key);
	kv->key = NULL;
	ej_holder_free(&kv->h);
}

static int
parse_pair(json_t *kv, struct ej_kv *out)
{
	json_t *k = json_object_get(kv, "key");

	memset(out, 0, sizeof(*out));
	if (!json_is_string(k) ||
	    ej_b64_decode(json_string_value(k), &out->key, &out->keylen) < 0 ||
	    parse_holder(kv, &out->h) < 0) {
		kv_free(out);
		return -EPROTO;
	}
	return 0;
}

void
ej_range_free(struct ej_range *rg)
{
	size_t i;

	if (rg == NULL)
		return;
	for (i = 0; i < rg->n; i++)
		kv_free(&rg->kvs[i]);
	free(rg->kvs);
	rg->kvs = NULL;
	rg->n = 0;
}

/* The pairs of array a into a new array *out of *n. */
static int
parse_pairs(json_t *a, struct ej_kv **out, size_t *n)
{
	size_t i, len = json_array_size(a);

	*n = 0;
	*out = len ? calloc(len, sizeof(**out)) : NULL;
	if (len && *out == NULL)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		if (parse_pair(json_array_get(a, i), &(*out)[i]) < 0)
			return -EPROTO;
		(*n)++;
	}
	return 0;
}

int
ej_parse_range(const char *body, struct ej_range *rg)
{
	json_t *root = load_answer(body), *kvs;
	int r = -EPROTO;

	memset(rg, 0, sizeof(*rg));
	if (root == NULL ||
	    get_int64(json_object_get(root, "header"), "revision",
	        &rg->revision) < 0 ||
	    rg->revision <= 0)
		goto out;
	kvs = json_object_get(root, "kvs");
	if (kvs != NULL && !json_is_array(kvs))
		goto out;
	r = parse_pairs(kvs, &rg->kvs, &rg->n);
	if (r < 0)
		ej_range_free(rg);
out:
	json_decref(root);
	return r;
}

void
ej_watch_free(struct ej_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++) {
		kv_free(&w->ev[i].kv);
		ej_holder_free(&w->ev[i].prev);
	}
	free(w->ev);
	w->ev = NULL;
	w->n = 0;
}

static int
parse_event(json_t *ev, struct ej_event *out)
{
	json_t *type = json_object_get(ev, "type"), *prev;

	if (!json_is_object(ev) || (type != NULL && !json_is_string(type)))
		return -EPROTO;
	out->deleted =
	    type != NULL && strcmp(json_string_value(type), "DELETE") == 0;
	if (type != NULL && !out->deleted &&
	    strcmp(json_string_value(type), "PUT") != 0)
		return -EPROTO;
	if (parse_pair(json_object_get(ev, "kv"), &out->kv) < 0)
		return -EPROTO;
	prev = json_object_get(ev, "prev_kv");
	out->has_prev = prev != NULL;
	if (prev != NULL && parse_holder(prev, &out->prev) < 0)
		return -EPROTO;
	return 0;
}

static int
parse_events(json_t *a, struct ej_watch *w)
{
	size_t i, len = json_array_size(a);

	if (len == 0)
		return 0;
	w->ev = calloc(len, sizeof(*w->ev));
	if (w->ev == NULL)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		w->n++;
		if (parse_event(json_array_get(a, i), &w->ev[i]) < 0)
			return -EPROTO;
	}
	return 0;
}

int
ej_parse_watch(const char *line, size_t len, struct ej_watch *w)
{
	json_t *root = json_loadb(line, len, 0, NULL), *res, *evs;
	int r = -EPROTO;

	memset(w, 0, sizeof(*w));
	res = json_object_get(root, "result");
	if (!json_is_object(res) ||
	    get_int64(
	        json_object_get(res, "header"), "revision", &w->revision) < 0 ||
	    get_bool(res, "created", &w->created) < 0 ||
	    get_bool(res, "canceled", &w->canceled) < 0 ||
	    get_int64(res, "compact_revision", &w->compact_revision) < 0)
		goto out;
	evs = json_object_get(res, "events");
	if (evs != NULL && !json_is_array(evs))
		goto out;
	r = parse_events(evs, w);
out:
	if (r < 0)
		ej_watch_free(w);
	json_decref(root);
	return r;
}
