/*
 * Request bodies and answer parsing for etcd's JSON gateway, against
 * answers shaped as etcd 3.4 writes them (zero fields left out).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "claimer/etcd_json.h"

#define HDR                                                                    \
	"\"header\":{\"cluster_id\":\"14841639068965178418\","                 \
	"\"revision\":\"7\"}"

static void
b64_round(const char *in, size_t n, const char *want)
{
	char *enc, *dec;
	size_t got;

	enc = ej_b64_encode(in, n);
	assert_non_null(enc);
	assert_string_equal(enc, want);
	assert_int_equal(ej_b64_decode(enc, &dec, &got), 0);
	assert_int_equal(got, n);
	assert_memory_equal(dec, in, n);
	assert_int_equal(dec[n], '\0');
	free(enc);
	free(dec);
}

static void
test_b64_round_trips(void **state)
{
	(void)state;
	b64_round("", 0, "");
	b64_round("f", 1, "Zg==");
	b64_round("fo", 2, "Zm8=");
	b64_round("foo", 3, "Zm9v");
	b64_round("foob", 4, "Zm9vYg==");
	b64_round("\0\xff\0", 3, "AP8A");
	b64_round("/kiwi/publicips/192.168.1.41", 28,
	    "L2tpd2kvcHVibGljaXBzLzE5Mi4xNjguMS40MQ==");
}

static void
test_b64_rejects(void **state)
{
	static const char *bad[] = { "abc", "ab=c", "a===", "ab c",
		"====", "Zg=\n", "Zm9v\n", "Z!==", "=Zg=" };
	char *out;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ej_b64_decode(bad[i], &out, &n), -EINVAL);
		assert_null(out);
	}
}

static void
prefix_case(const char *in, size_t len, const char *want, size_t wantlen)
{
	char *out;
	size_t n;

	assert_int_equal(ej_prefix_end(in, len, &out, &n), 0);
	assert_int_equal(n, wantlen);
	assert_memory_equal(out, want, wantlen);
	free(out);
}

static void
test_prefix_end(void **state)
{
	(void)state;
	prefix_case("/kiwi/publicips/", 16, "/kiwi/publicips0", 16);
	prefix_case("a\xff", 2, "b", 1);
	prefix_case("a\xfe\xff\xff", 4, "a\xff", 2);
	prefix_case("\xff\xff", 2, "\0", 1);
	prefix_case("", 0, "\0", 1);
}

/* The string at a JSON pointer-ish path of objects and arrays. */
static const char *
str_at(json_t *root, const char *path)
{
	char buf[256], *tok, *save;
	json_t *v = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok != NULL;
	     tok = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, atoi(tok))
		                     : json_object_get(v, tok);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
test_simple_bodies(void **state)
{
	char *s;

	(void)state;
	s = ej_lease_grant_body(10);
	assert_string_equal(s, "{\"TTL\":\"10\"}");
	free(s);
	s = ej_lease_id_body(7587866284727402513LL);
	assert_string_equal(s, "{\"ID\":\"7587866284727402513\"}");
	free(s);
}

static void
test_claim_body(void **state)
{
	const char *k = "L2tpd2kvcHVibGljaXBzLzE5Mi4xNjguMS40MQ==";
	char *s =
	    ej_claim_body("/kiwi/publicips/192.168.1.41", "{\"a\":1}", 42);
	json_t *root = json_loads(s, 0, NULL);

	(void)state;
	assert_non_null(root);
	assert_string_equal(str_at(root, "compare.0.key"), k);
	assert_string_equal(str_at(root, "compare.0.target"), "CREATE");
	assert_string_equal(str_at(root, "compare.0.result"), "EQUAL");
	assert_string_equal(str_at(root, "compare.0.create_revision"), "0");
	assert_string_equal(str_at(root, "success.0.request_put.key"), k);
	assert_string_equal(
	    str_at(root, "success.0.request_put.value"), "eyJhIjoxfQ==");
	assert_string_equal(str_at(root, "success.0.request_put.lease"), "42");
	assert_string_equal(str_at(root, "failure.0.request_range.key"), k);
	json_decref(root);
	free(s);
}

static void
test_claims_body(void **state)
{
	const char *keys[] = { "/k", "/l" }, *values[] = { "{}", "[]" };
	char *s = ej_claims_body(keys, values, 2, 42);
	json_t *root = json_loads(s, 0, NULL);

	(void)state;
	assert_non_null(root);
	assert_string_equal(str_at(root, "compare.1.key"), "L2w=");
	assert_string_equal(str_at(root, "compare.1.target"), "CREATE");
	assert_string_equal(str_at(root, "compare.1.create_revision"), "0");
	assert_string_equal(str_at(root, "success.0.request_put.key"), "L2s=");
	assert_string_equal(
	    str_at(root, "success.1.request_put.value"), "W10=");
	assert_string_equal(str_at(root, "success.1.request_put.lease"), "42");
	assert_string_equal(
	    str_at(root, "failure.1.request_range.key"), "L2w=");
	assert_int_equal(json_array_size(json_object_get(root, "failure")), 2);
	json_decref(root);
	free(s);
	assert_null(ej_claims_body(keys, values, 0, 42));
}

static void
test_parse_claims(void **state)
{
	struct ej_holder h[2];
	bool won, found[2];

	(void)state;
	assert_int_equal(
	    ej_parse_claims("{" HDR ",\"succeeded\":true}", 2, &won, found, h),
	    0);
	assert_true(won);
	/* The second key exists; the first does not. */
	assert_int_equal(ej_parse_claims("{" HDR ",\"responses\":["
	                                 "{\"response_range\":{\"header\":{}}},"
	                                 "{\"response_range\":{\"kvs\":[{"
	                                 "\"key\":\"L2w=\",\"lease\":\"7\","
	                                 "\"value\":\"e30=\"}]}}]}",
	                     2, &won, found, h),
	    0);
	assert_false(won);
	assert_false(found[0]);
	assert_true(found[1]);
	assert_int_equal(h[1].lease, 7);
	assert_string_equal(h[1].value, "{}");
	ej_holder_free(&h[0]);
	ej_holder_free(&h[1]);
	/* One range short, or one that is not a range. */
	assert_int_equal(ej_parse_claims("{" HDR ",\"responses\":["
	                                 "{\"response_range\":{}}]}",
	                     2, &won, found, h),
	    -EPROTO);
	assert_int_equal(ej_parse_claims("{" HDR ",\"responses\":["
	                                 "{\"response_range\":{}},{}]}",
	                     2, &won, found, h),
	    -EPROTO);
	assert_null(h[0].value);
}

static void
test_release_and_count_bodies(void **state)
{
	char *s = ej_release_body("/k", 9);
	json_t *root = json_loads(s, 0, NULL);

	(void)state;
	assert_string_equal(str_at(root, "compare.0.key"), "L2s=");
	assert_string_equal(str_at(root, "compare.0.target"), "LEASE");
	assert_string_equal(str_at(root, "compare.0.lease"), "9");
	assert_string_equal(
	    str_at(root, "success.0.request_delete_range.key"), "L2s=");
	assert_null(json_object_get(root, "failure"));
	json_decref(root);
	free(s);

	s = ej_count_body("/kiwi/publicips/");
	root = json_loads(s, 0, NULL);
	assert_string_equal(str_at(root, "key"), "L2tpd2kvcHVibGljaXBzLw==");
	assert_string_equal(
	    str_at(root, "range_end"), "L2tpd2kvcHVibGljaXBzMA==");
	assert_true(json_is_true(json_object_get(root, "count_only")));
	json_decref(root);
	free(s);
}

static void
test_claim_value(void **state)
{
	char node[64];
	char *v = ej_claim_value("n1", "default/web", "192.168.1.41");

	(void)state;
	assert_string_equal(v,
	    "{\"node\":\"n1\",\"service\":\"default/web\","
	    "\"ip\":\"192.168.1.41\"}");
	assert_int_equal(ej_parse_claim_value(v, strlen(v), node, 64), 0);
	assert_string_equal(node, "n1");
	free(v);

	assert_int_equal(ej_parse_claim_value("hello", 5, node, 64), -EINVAL);
	assert_int_equal(ej_parse_claim_value("[1]", 3, node, 64), -EINVAL);
	assert_int_equal(
	    ej_parse_claim_value("{\"node\":5}", 10, node, 64), -EINVAL);
	assert_int_equal(
	    ej_parse_claim_value("{\"node\":\"\"}", 11, node, 64), -EINVAL);
	assert_int_equal(ej_parse_claim_value("", 0, node, 64), -EINVAL);
	/* A NUL inside the value ends nothing early and breaks nothing. */
	assert_int_equal(
	    ej_parse_claim_value("{\"node\":\"a\"}\0x", 14, node, 64), -EINVAL);
	/* Control bytes never reach a log line. */
	assert_int_equal(
	    ej_parse_claim_value("{\"node\":\"a\\nb\"}", 15, node, 64), 0);
	assert_string_equal(node, "a?b");
	assert_int_equal(
	    ej_parse_claim_value("{\"node\":\"abcdef\"}", 17, node, 4), 0);
	assert_string_equal(node, "abc");
}

static void
test_parse_error(void **state)
{
	char msg[EJ_ERRLEN];
	int code;

	(void)state;
	assert_int_equal(ej_parse_error("{\"error\":\"etcdserver: requested "
	                                "lease not found\",\"message\":"
	                                "\"etcdserver: requested lease not "
	                                "found\",\"code\":5}",
	                     &code, msg, sizeof(msg)),
	    0);
	assert_int_equal(code, 5);
	assert_string_equal(msg, "etcdserver: requested lease not found");
	assert_int_equal(ej_parse_error("{\"error\":{\"grpc_code\":14,"
	                                "\"http_code\":503,\"message\":"
	                                "\"no leader\"}}",
	                     &code, msg, sizeof(msg)),
	    0);
	assert_int_equal(code, 14);
	assert_string_equal(msg, "no leader");
	assert_int_equal(
	    ej_parse_error("{\"error\":\"x\"}", &code, msg, sizeof(msg)), 0);
	assert_int_equal(code, -1);
	assert_string_equal(msg, "x");
	assert_int_equal(
	    ej_parse_error("{" HDR "}", &code, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(
	    ej_parse_error("Not Found\n", &code, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(ej_parse_error("", &code, msg, sizeof(msg)), -ENOENT);
}

static void
test_parse_grant(void **state)
{
	int64_t id, ttl;

	(void)state;
	assert_int_equal(ej_parse_grant("{" HDR ",\"ID\":\"7587866284727402513"
	                                "\",\"TTL\":\"10\"}",
	                     &id, &ttl),
	    0);
	assert_int_equal(id, 7587866284727402513LL);
	assert_int_equal(ttl, 10);
	assert_int_equal(
	    ej_parse_grant("{" HDR ",\"ID\":12,\"TTL\":3}", &id, &ttl), 0);
	assert_int_equal(id, 12);
	assert_int_equal(
	    ej_parse_grant("{" HDR ",\"TTL\":\"10\"}", &id, &ttl), -EPROTO);
	assert_int_equal(
	    ej_parse_grant("{" HDR ",\"ID\":\"1\",\"TTL\":true}", &id, &ttl),
	    -EPROTO);
	assert_int_equal(
	    ej_parse_grant("{" HDR ",\"ID\":\"1x\",\"TTL\":\"1\"}", &id, &ttl),
	    -EPROTO);
	assert_int_equal(ej_parse_grant("{" HDR ",\"ID\":\"99999999999999999999"
	                                "\",\"TTL\":\"1\"}",
	                     &id, &ttl),
	    -EPROTO);
	assert_int_equal(
	    ej_parse_grant("{\"ID\":\"1\",\"TTL\":\"1\"}", &id, &ttl), -EPROTO);
	assert_int_equal(ej_parse_grant("[]", &id, &ttl), -EPROTO);
	assert_int_equal(
	    ej_parse_grant("{\"error\":\"x\",\"code\":3}", &id, &ttl), -EPROTO);
}

static void
test_parse_keepalive(void **state)
{
	int64_t ttl;

	(void)state;
	assert_int_equal(ej_parse_keepalive("{\"result\":{" HDR ",\"ID\":\"5\","
	                                    "\"TTL\":\"10\"}}\n",
	                     &ttl),
	    0);
	assert_int_equal(ttl, 10);
	/* A lost lease: HTTP 200, no TTL. */
	assert_int_equal(ej_parse_keepalive("{\"result\":{" HDR ",\"ID\":\"5"
	                                    "\"}}\n",
	                     &ttl),
	    0);
	assert_int_equal(ttl, 0);
	assert_int_equal(
	    ej_parse_keepalive("{\"result\":{" HDR ",\"TTL\":{}}}", &ttl),
	    -EPROTO);
	assert_int_equal(ej_parse_keepalive("{\"result\":{" HDR ",\"TTL\":"
	                                    "\"-3\"}}",
	                     &ttl),
	    -EPROTO);
	assert_int_equal(
	    ej_parse_keepalive("{" HDR ",\"TTL\":\"10\"}", &ttl), -EPROTO);
	assert_int_equal(ej_parse_keepalive("{\"result\":[]}", &ttl), -EPROTO);
	assert_int_equal(ej_parse_keepalive("{\"result\":{}}", &ttl), -EPROTO);
	assert_int_equal(
	    ej_parse_keepalive("{\"result\":{\"header\":{}", &ttl), -EPROTO);
}

static void
test_parse_claim_won(void **state)
{
	struct ej_holder h;
	bool won;

	(void)state;
	assert_int_equal(ej_parse_claim("{" HDR ",\"succeeded\":true,"
	                                "\"responses\":[{\"response_put\":"
	                                "{\"header\":{\"revision\":\"2\"}}}]}",
	                     &won, &h),
	    0);
	assert_true(won);
	assert_null(h.value);
}

static void
test_parse_claim_lost(void **state)
{
	struct ej_holder h;
	bool won;

	(void)state;
	/* No "succeeded": the compare failed and the range shows the key. */
	assert_int_equal(
	    ej_parse_claim("{" HDR ",\"responses\":[{\"response_"
	                   "range\":{\"header\":{},\"kvs\":[{\"key"
	                   "\":\"L2s=\",\"create_revision\":\"2\","
	                   "\"value\":\"eyJub2RlIjoibjIifQ==\","
	                   "\"lease\":\"77\"}],\"count\":\"1\"}}]}",
	        &won, &h),
	    0);
	assert_false(won);
	assert_int_equal(h.lease, 77);
	assert_int_equal(h.valuelen, 13);
	assert_string_equal(h.value, "{\"node\":\"n2\"}");
	ej_holder_free(&h);
	ej_holder_free(&h);
	ej_holder_free(NULL);

	/* A key put without a lease and with an empty value. */
	assert_int_equal(ej_parse_claim("{" HDR ",\"responses\":[{\"response_"
	                                "range\":{\"kvs\":[{\"key\":\"L2s=\"}]}"
	                                "}]}",
	                     &won, &h),
	    0);
	assert_int_equal(h.lease, 0);
	assert_int_equal(h.valuelen, 0);
	assert_string_equal(h.value, "");
	ej_holder_free(&h);
}

static void
test_parse_claim_bad(void **state)
{
	static const char *bad[] = {
		/* failed, but the range has no kvs */
		"{" HDR ",\"responses\":[{\"response_range\":{}}]}",
		"{" HDR "}",
		"{" HDR ",\"succeeded\":\"true\"}",
		"{" HDR ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"value\":\"!!\",\"lease\":\"1\"}]}}]}",
		"{" HDR ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"value\":7}]}}]}",
		"{" HDR ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"lease\":[]}]}}]}",
		"{" HDR ",\"responses\":[{\"response_range\":{\"kvs\":[3]}}]}",
		"{\"succeeded\":true}",
		"{\"error\":\"etcdserver: requested lease not found\"}",
		"",
		"null",
	};
	struct ej_holder h;
	size_t i;
	bool won;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ej_parse_claim(bad[i], &won, &h), -EPROTO);
		assert_null(h.value);
	}
}

static void
test_parse_release_and_count(void **state)
{
	bool deleted;
	int64_t n;

	(void)state;
	assert_int_equal(ej_parse_release("{" HDR ",\"succeeded\":true,"
	                                  "\"responses\":[{\"response_delete_"
	                                  "range\":{\"header\":{},\"deleted\":"
	                                  "\"1\"}}]}",
	                     &deleted),
	    0);
	assert_true(deleted);
	assert_int_equal(ej_parse_release("{" HDR "}", &deleted), 0);
	assert_false(deleted);
	assert_int_equal(
	    ej_parse_release("{" HDR ",\"succeeded\":1}", &deleted), -EPROTO);
	assert_int_equal(ej_parse_release("{}", &deleted), -EPROTO);

	assert_int_equal(ej_parse_count("{" HDR ",\"count\":\"3\"}", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ej_parse_count("{" HDR "}", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    ej_parse_count("{" HDR ",\"count\":null}", &n), -EPROTO);
	assert_int_equal(
	    ej_parse_count("{" HDR ",\"count\":\"\"}", &n), -EPROTO);
}

#define K41 "L2tpd2kvcHVibGljaXBzLzE5Mi4xNjguMS40MQ=="

static void
test_range_and_watch_bodies(void **state)
{
	char *s = ej_range_body("/kiwi/publicips/");
	json_t *root = json_loads(s, 0, NULL);

	(void)state;
	assert_string_equal(str_at(root, "key"), "L2tpd2kvcHVibGljaXBzLw==");
	assert_string_equal(
	    str_at(root, "range_end"), "L2tpd2kvcHVibGljaXBzMA==");
	assert_null(json_object_get(root, "count_only"));
	json_decref(root);
	free(s);

	s = ej_watch_body("/kiwi/publicips/", 12);
	root = json_loads(s, 0, NULL);
	assert_string_equal(
	    str_at(root, "create_request.key"), "L2tpd2kvcHVibGljaXBzLw==");
	assert_string_equal(str_at(root, "create_request.range_end"),
	    "L2tpd2kvcHVibGljaXBzMA==");
	assert_string_equal(
	    str_at(root, "create_request.start_revision"), "12");
	assert_true(json_is_true(json_object_get(
	    json_object_get(root, "create_request"), "prev_kv")));
	json_decref(root);
	free(s);
}

static void
test_parse_range(void **state)
{
	struct ej_range rg;

	(void)state;
	assert_int_equal(ej_parse_range("{" HDR "}", &rg), 0);
	assert_int_equal(rg.revision, 7);
	assert_int_equal(rg.n, 0);
	ej_range_free(&rg);

	assert_int_equal(ej_parse_range("{" HDR ",\"kvs\":[{\"key\":\"" K41
	                                "\",\"value\":\"eyJhIjoxfQ==\","
	                                "\"lease\":\"42\"},{\"key\":\"L2s=\"}"
	                                "],\"count\":\"2\"}",
	                     &rg),
	    0);
	assert_int_equal(rg.n, 2);
	assert_string_equal(rg.kvs[0].key, "/kiwi/publicips/192.168.1.41");
	assert_int_equal(rg.kvs[0].h.lease, 42);
	assert_string_equal(rg.kvs[0].h.value, "{\"a\":1}");
	assert_string_equal(rg.kvs[1].key, "/k");
	assert_int_equal(rg.kvs[1].h.lease, 0);
	assert_int_equal(rg.kvs[1].h.valuelen, 0);
	ej_range_free(&rg);

	/* No header, a pair without a key, bad base64. */
	assert_int_equal(ej_parse_range("{\"kvs\":[]}", &rg), -EPROTO);
	assert_int_equal(
	    ej_parse_range("{" HDR ",\"kvs\":[{\"lease\":\"1\"}]}", &rg),
	    -EPROTO);
	assert_int_equal(
	    ej_parse_range("{" HDR ",\"kvs\":[{\"key\":\"%%\"}]}", &rg),
	    -EPROTO);
	assert_int_equal(ej_parse_range("{" HDR ",\"kvs\":{}}", &rg), -EPROTO);
}

static void
watch_line(const char *line, struct ej_watch *w)
{
	assert_int_equal(ej_parse_watch(line, strlen(line), w), 0);
}

static void
test_parse_watch(void **state)
{
	struct ej_watch w;
	const char *bad[] = { "", "{}", "[1]", "{\"result\":5}",
		"{\"error\":{\"grpc_code\":3,\"message\":\"x\"}}",
		"{\"result\":{" HDR ",\"events\":[{\"kv\":{}}]}}",
		"{\"result\":{" HDR ",\"events\":[{\"type\":\"X\",\"kv\":"
		"{\"key\":\"L2s=\"}}]}}" };
	size_t i;

	(void)state;
	/* The first watch has id 0, which is left out. */
	watch_line("{\"result\":{" HDR ",\"created\":true}}", &w);
	assert_true(w.created);
	assert_false(w.canceled);
	assert_int_equal(w.revision, 7);
	assert_int_equal(w.n, 0);
	ej_watch_free(&w);

	/* A PUT has no type; a DELETE carries the pair before. */
	watch_line("{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"" K41
	           "\",\"value\":\"eyJhIjoxfQ==\",\"lease\":\"9\"}},"
	           "{\"type\":\"DELETE\",\"kv\":{\"key\":\"" K41
	           "\",\"mod_revision\":\"8\"},\"prev_kv\":{\"key\":\"" K41
	           "\",\"value\":\"eyJhIjoxfQ==\",\"lease\":\"9\"}}]}}",
	    &w);
	assert_false(w.created);
	assert_int_equal(w.n, 2);
	assert_false(w.ev[0].deleted);
	assert_int_equal(w.ev[0].kv.h.lease, 9);
	assert_false(w.ev[0].has_prev);
	assert_true(w.ev[1].deleted);
	assert_string_equal(w.ev[1].kv.key, "/kiwi/publicips/192.168.1.41");
	assert_int_equal(w.ev[1].kv.h.lease, 0);
	assert_true(w.ev[1].has_prev);
	assert_int_equal(w.ev[1].prev.lease, 9);
	ej_watch_free(&w);

	/* A compacted start: cancelled, the stream stays open. */
	watch_line("{\"result\":{" HDR ",\"watch_id\":\"1\",\"canceled\":true,"
	           "\"compact_revision\":\"5\"}}",
	    &w);
	assert_true(w.canceled);
	assert_int_equal(w.compact_revision, 5);
	ej_watch_free(&w);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    ej_parse_watch(bad[i], strlen(bad[i]), &w), -EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_round_trips),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_simple_bodies),
		cmocka_unit_test(test_claim_body),
		cmocka_unit_test(test_release_and_count_bodies),
		cmocka_unit_test(test_claim_value),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_parse_grant),
		cmocka_unit_test(test_parse_keepalive),
		cmocka_unit_test(test_parse_claim_won),
		cmocka_unit_test(test_parse_claim_lost),
		cmocka_unit_test(test_parse_claim_bad),
		cmocka_unit_test(test_claims_body),
		cmocka_unit_test(test_parse_claims),
		cmocka_unit_test(test_parse_release_and_count),
		cmocka_unit_test(test_range_and_watch_bodies),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
