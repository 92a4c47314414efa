/*
 * Request bodies for etcd's v3 JSON gateway, and parsers for its
 * answers.  Pure functions: no I/O, so they are tested without a
 * server.
 *
 * The gateway's conventions: keys and values are base64, 64-bit
 * integers are JSON strings, and fields with a zero value are left
 * out (a failed txn has no "succeeded", an empty range no "kvs", a
 * keepalive for a lost lease no "TTL").
 *
 * Builders return a string from malloc, or NULL when out of memory.
 * Parsers return 0, or -EPROTO for an answer that is not what the
 * call should get back; they never keep pointers into the input.
 */
#ifndef KIWI_ETCD_JSON_H
#define KIWI_ETCD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest error text kept from an etcd answer, with its NUL. */
#define EJ_ERRLEN 256

/* A key's current holder, from the failure branch of a claim. */
struct ej_holder {
	int64_t lease; /* 0: the key has no lease */
	char *value; /* malloc'd, NUL-terminated; may hold other NULs */
	size_t valuelen;
};

/* Base64 of n bytes, NUL-terminated. */
char *ej_b64_encode(const void *p, size_t n);
/*
 * Decode strict base64 (padded, no whitespace) into a malloc'd buffer
 * with a NUL after the n bytes.  0, -EINVAL or -ENOMEM.
 */
int ej_b64_decode(const char *s, char **out, size_t *n);

/*
 * The range end that selects every key starting with prefix: the last
 * byte below 0xff incremented and the rest cut.  A prefix of only
 * 0xff bytes (or none) gives the single byte "\0": all keys.
 */
int ej_prefix_end(const char *prefix, size_t len, char **out, size_t *n);

char *ej_lease_grant_body(unsigned int ttl);
/* {"ID":"<id>"}: keepalive and revoke take the same body. */
char *ej_lease_id_body(int64_t id);
/*
 * The claim txn: put key=value on lease if the key does not exist,
 * else read it.
 */
char *ej_claim_body(const char *key, const char *value, int64_t lease);
/*
 * The claim txn for n keys at once: all n put on lease if none of them
 * exists, else every one read.  NULL for n == 0.
 */
char *ej_claims_body(const char *const *keys, const char *const *values,
    size_t n, int64_t lease);
/* Delete key only if it is on lease. */
char *ej_release_body(const char *key, int64_t lease);
/* Read one key. */
char *ej_get_body(const char *key);
/* Range over every key below prefix, counting only. */
char *ej_count_body(const char *prefix);
/* Range over every key below prefix, with the pairs. */
char *ej_range_body(const char *prefix);
/*
 * Watch every key below prefix from revision rev on, with the value
 * each event replaced (prev_kv), so a DELETE says whose key it was.
 */
char *ej_watch_body(const char *prefix, int64_t rev);

/* kiwi's value for a claimed key: who holds it, for what. */
char *ej_claim_value(const char *node, const char *service, const char *ip);
/*
 * The node name in a kiwi value.  -EINVAL for a value some other
 * writer left (not a JSON object with a string "node").
 */
int ej_parse_claim_value(const char *value, size_t len, char *node, size_t cap);

/*
 * An error answer {"error", "message", "code"}: 0 and its gRPC code
 * and text, or -ENOENT when the body is not one.
 */
int ej_parse_error(const char *body, int *code, char *msg, size_t cap);

int ej_parse_grant(const char *body, int64_t *id, int64_t *ttl);
/* *ttl is 0 when the lease is gone. */
int ej_parse_keepalive(const char *body, int64_t *ttl);
/*
 * A claim txn's answer: *won when the put happened; otherwise h is
 * filled from the range (free with ej_holder_free).
 */
int ej_parse_claim(const char *body, bool *won, struct ej_holder *h);
void ej_holder_free(struct ej_holder *h);
/*
 * A many-key claim's answer: *won when all n were put; otherwise
 * found[i] says whether key i exists, and h[i] who holds it (free
 * each with ej_holder_free).
 */
int ej_parse_claims(
    const char *body, size_t n, bool *won, bool *found, struct ej_holder *h);

/* A release txn's answer: *deleted when the key was ours. */
int ej_parse_release(const char *body, bool *deleted);
int ej_parse_count(const char *body, int64_t *count);
/* A one-key range: *found, and h filled when it is. */
int ej_parse_get(const char *body, bool *found, struct ej_holder *h);

/* One pair of a range, or of a watch event. */
struct ej_kv {
	char *key; /* malloc'd, NUL-terminated */
	size_t keylen;
	struct ej_holder h;
};

/* A prefix range: the pairs, and the revision it was read at. */
struct ej_range {
	int64_t revision;
	struct ej_kv *kvs;
	size_t n;
};

int ej_parse_range(const char *body, struct ej_range *rg);
void ej_range_free(struct ej_range *rg);

struct ej_event {
	bool deleted; /* else a PUT */
	struct ej_kv kv; /* a DELETE's kv has only the key */
	bool has_prev;
	struct ej_holder prev; /* the pair before, with prev_kv */
};

/* One line of a watch stream. */
struct ej_watch {
	bool created;
	bool canceled;
	int64_t revision; /* of the header */
	int64_t compact_revision; /* with canceled, when compacted */
	struct ej_event *ev;
	size_t n;
};

/*
 * -EPROTO for a line that is not a watch result; an error line
 * ({"error":{...}}) is also -EPROTO, after ej_parse_error can read it.
 */
int ej_parse_watch(const char *line, size_t len, struct ej_watch *w);
void ej_watch_free(struct ej_watch *w);

#endif
