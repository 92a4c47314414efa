/*
 * The etcd client against a real etcd.  Run by etcd_client.sh, which
 * passes KIWI_ETCD_URL (a live member), KIWI_ETCD_DEAD (a port where
 * nothing listens) and KIWI_ETCD_PEER (etcd's peer port: HTTP, but not
 * the gateway).
 */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/claimer/test_env.h"

#include "claimer/etcd.h"
#include "common/util.h"

static char url[512], dead[512], peer[512];

/* A client for "a" or "a,b". */
static struct etcd *
open_list(const char *a, const char *b)
{
	char list[1100];
	struct etcd *e;

	snprintf(list, sizeof(list), "%s%s%s", a, b ? "," : "", b ? b : "");
	assert_int_equal(etcd_open(&e, list), 0);
	return e;
}

static int64_t
grant(struct etcd *e, unsigned int ttl)
{
	int64_t id, got;

	assert_int_equal(etcd_lease_grant(e, ttl, &id, &got), 0);
	assert_true(id > 0);
	assert_int_equal(got, ttl);
	return id;
}

static int64_t
count(struct etcd *e, const char *prefix)
{
	int64_t n;

	assert_int_equal(etcd_count(e, prefix, &n), 0);
	return n;
}

static int
setup(void **state)
{
	*state = open_list(url, NULL);
	return 0;
}

static int
teardown(void **state)
{
	etcd_close(*state);
	return 0;
}

/* Claiming key on lease loses to holder, whose value is shown. */
static void
loses_to(struct etcd *e, const char *key, int64_t lease, int64_t holder,
    const char *value)
{
	struct ej_holder h;

	assert_int_equal(etcd_claim(e, key, "{\"node\":\"x\"}", lease, &h), 0);
	assert_int_equal(h.lease, holder);
	assert_string_equal(h.value, value);
	ej_holder_free(&h);
}

static void
test_claim_and_holder(void **state)
{
	static const char key[] = "/kiwi/publicips/10.0.0.1";
	struct etcd *e = *state;
	struct ej_holder h;
	int64_t l1 = grant(e, 10), l2 = grant(e, 10);

	assert_int_equal(etcd_claim(e, key, "{\"node\":\"n1\"}", l1, &h), 1);
	/* Asking again on the same lease is still a win. */
	assert_int_equal(etcd_claim(e, key, "{\"node\":\"n1\"}", l1, &h), 1);
	loses_to(e, key, l2, l1, "{\"node\":\"n1\"}");

	/* Releasing on the wrong lease leaves the key alone. */
	assert_int_equal(etcd_release(e, key, l2), 0);
	assert_int_equal(count(e, key), 1);
	assert_int_equal(etcd_release(e, key, l1), 1);
	assert_int_equal(count(e, key), 0);
	assert_int_equal(etcd_release(e, key, l1), 0);

	assert_int_equal(etcd_lease_revoke(e, l1), 0);
	assert_int_equal(etcd_lease_revoke(e, l2), 0);
}

static void
test_foreign_value(void **state)
{
	static const char key[] = "/kiwi/publicips/10.0.0.2";
	struct etcd *e = *state;
	struct ej_holder h;
	int64_t l1 = grant(e, 10), l2 = grant(e, 10);

	assert_int_equal(etcd_claim(e, key, "written by hand", l2, &h), 1);
	loses_to(e, key, l1, l2, "written by hand");
	assert_int_equal(etcd_lease_revoke(e, l1), 0);
	assert_int_equal(etcd_lease_revoke(e, l2), 0);
}

static void
test_keepalive_and_loss(void **state)
{
	static const char key[] = "/kiwi/publicips/10.0.0.3";
	struct etcd *e = *state;
	struct ej_holder h;
	int64_t l = grant(e, 5), ttl;

	assert_int_equal(etcd_lease_keepalive(e, l, &ttl), 0);
	assert_int_equal(ttl, 5);
	assert_int_equal(etcd_lease_revoke(e, l), 0);
	assert_int_equal(etcd_lease_keepalive(e, l, &ttl), -ENOENT);
	assert_int_equal(etcd_claim(e, key, "{}", l, &h), -ENOENT);
	assert_int_equal(etcd_lease_revoke(e, l), -ENOENT);
	assert_non_null(strstr(etcd_error(e), "lease not found"));
	assert_int_equal(count(e, key), 0);
}

static void
test_revoke_deletes_all(void **state)
{
	static const char *keys[] = { "/kiwi/publicips/10.0.1.1",
		"/kiwi/publicips/10.0.1.2", "/kiwi/publicips/fd00::1" };
	struct etcd *e = *state;
	struct ej_holder h;
	int64_t l = grant(e, 10);
	size_t i;

	for (i = 0; i < 3; i++)
		assert_int_equal(etcd_claim(e, keys[i], "{}", l, &h), 1);
	assert_int_equal(count(e, "/kiwi/publicips/"), 3);
	assert_int_equal(etcd_lease_revoke(e, l), 0);
	assert_int_equal(count(e, "/kiwi/publicips/"), 0);
}

static void
test_failover(void **state)
{
	struct etcd *e = open_list(dead, url);
	int64_t l, ttl;

	(void)state;
	assert_string_equal(etcd_member(e), dead);
	l = grant(e, 10);
	assert_string_equal(etcd_member(e), url);
	/* It stays with the member that answered. */
	assert_int_equal(etcd_lease_keepalive(e, l, &ttl), 0);
	assert_string_equal(etcd_member(e), url);
	assert_int_equal(etcd_lease_revoke(e, l), 0);
	etcd_close(e);
}

static void
test_unreachable(void **state)
{
	struct etcd *e = open_list(dead, " http://127.0.0.1:1/");
	int64_t start = now_ms(), id, ttl;

	(void)state;
	assert_int_equal(etcd_lease_grant(e, 10, &id, &ttl), -ECONNREFUSED);
	assert_true(now_ms() - start < ETCD_CALL_MS);
	assert_non_null(strstr(etcd_error(e), "http://127.0.0.1:1"));
	etcd_close(e);
}

static void
test_deadline(void **state)
{
	struct etcd *e = *state;
	int64_t id, ttl;

	etcd_set_deadline(e, now_ms() - 1);
	assert_int_equal(etcd_lease_grant(e, 10, &id, &ttl), -ETIMEDOUT);
	etcd_set_deadline(e, 0);
	assert_int_equal(etcd_lease_grant(e, 10, &id, &ttl), 0);
	assert_int_equal(etcd_lease_revoke(e, id), 0);
}

static void
test_not_the_gateway(void **state)
{
	struct etcd *e = open_list(peer, NULL);
	int64_t id, ttl;
	int r;

	(void)state;
	r = etcd_lease_grant(e, 10, &id, &ttl);
	assert_true(r == -EPROTO || r == -EINVAL);
	etcd_close(e);
}

struct stream {
	int lines;
	struct ej_watch last;
	bool ended;
	int r;
};

static void
on_line(void *arg, const char *line, size_t len)
{
	struct stream *st = arg;

	ej_watch_free(&st->last);
	assert_int_equal(ej_parse_watch(line, len, &st->last), 0);
	st->lines++;
}

static void
on_end(void *arg, int64_t tag, struct etcd_req *rq, int r)
{
	struct stream *st = arg;

	(void)tag;
	(void)rq;
	st->ended = true;
	st->r = r;
}

/* Run e until st has more than n lines (or ms pass); false on timeout. */
static bool
lines_after(struct etcd *e, struct stream *st, int n, int ms)
{
	int64_t end = now_ms() + ms;

	while (st->lines <= n && !st->ended && now_ms() < end)
		assert_int_equal(etcd_poll(e, NULL, 0, 50), 0);
	return st->lines > n;
}

static int64_t
revision(struct etcd *e)
{
	struct ej_range rg;
	int64_t rev;

	assert_int_equal(etcd_range(e, "/kiwi/none/", &rg), 0);
	rev = rg.revision;
	ej_range_free(&rg);
	return rev;
}

/* A watch stream: created, a PUT without type, a DELETE with prev_kv. */
static void
test_watch_events(void **state)
{
	static const char key[] = "/kiwi/publicips/10.0.2.1";
	struct etcd *e = *state;
	struct stream st = { 0 };
	struct etcd_req *rq;
	struct ej_holder h;
	int64_t l = grant(e, 10);

	rq = etcd_start(e, ETCD_WATCH,
	    ej_watch_body("/kiwi/publicips/", revision(e) + 1), on_end, on_line,
	    &st, 0);
	assert_non_null(rq);
	assert_true(lines_after(e, &st, 0, 2000));
	assert_true(st.last.created);

	assert_int_equal(etcd_claim(e, key, "{}", l, &h), 1);
	assert_true(lines_after(e, &st, 1, 2000));
	assert_int_equal(st.last.n, 1);
	assert_false(st.last.ev[0].deleted);
	assert_string_equal(st.last.ev[0].kv.key, key);
	assert_int_equal(st.last.ev[0].kv.h.lease, l);

	assert_int_equal(etcd_lease_revoke(e, l), 0);
	assert_true(lines_after(e, &st, 2, 2000));
	assert_int_equal(st.last.n, 1);
	assert_true(st.last.ev[0].deleted);
	assert_true(st.last.ev[0].has_prev);
	assert_int_equal(st.last.ev[0].prev.lease, l);
	assert_false(st.ended);
	etcd_cancel(rq);
	ej_watch_free(&st.last);
}

static void
compact(struct etcd *e, int64_t rev)
{
	struct stream st = { 0 };
	char body[64];

	snprintf(body, sizeof(body), "{\"revision\":\"%lld\"}", (long long)rev);
	assert_non_null(etcd_start(
	    e, "/v3/kv/compaction", strdup(body), on_end, NULL, &st, 0));
	while (!st.ended)
		assert_int_equal(etcd_poll(e, NULL, 0, 100), 0);
	assert_int_equal(st.r, 0);
}

/* From a compacted revision: cancelled, and the stream stays open. */
static void
test_watch_compacted(void **state)
{
	struct etcd *e = *state;
	struct stream st = { 0 };
	struct etcd_req *rq;
	int64_t l = grant(e, 10);
	struct ej_holder h;

	assert_int_equal(
	    etcd_claim(e, "/kiwi/publicips/10.0.2.2", "{}", l, &h), 1);
	assert_int_equal(etcd_lease_revoke(e, l), 0);
	compact(e, revision(e));
	rq = etcd_start(e, ETCD_WATCH, ej_watch_body("/kiwi/publicips/", 1),
	    on_end, on_line, &st, 0);
	assert_non_null(rq);
	while (lines_after(e, &st, st.lines, 2000) && !st.last.canceled)
		;
	assert_true(st.last.canceled);
	assert_true(st.last.compact_revision > 1);
	assert_false(lines_after(e, &st, st.lines, 500));
	assert_false(st.ended);
	etcd_cancel(rq);
	ej_watch_free(&st.last);
}

static void
test_bad_lists(void **state)
{
	static const char *bad[] = { "", ",", "localhost:2379",
		"http://a:1,,http://b:2", "ftp://a" };
	struct etcd *e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(etcd_open(&e, bad[i]), -EINVAL);
		assert_null(e);
	}
	etcd_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_and_holder),
		cmocka_unit_test(test_foreign_value),
		cmocka_unit_test(test_keepalive_and_loss),
		cmocka_unit_test(test_revoke_deletes_all),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_not_the_gateway),
		cmocka_unit_test(test_bad_lists),
		cmocka_unit_test(test_watch_events),
		cmocka_unit_test(test_watch_compacted),
	};

	env(url, sizeof(url), "KIWI_ETCD_URL");
	env(dead, sizeof(dead), "KIWI_ETCD_DEAD");
	env(peer, sizeof(peer), "KIWI_ETCD_PEER");
	return cmocka_run_group_tests(tests, setup, teardown);
}
