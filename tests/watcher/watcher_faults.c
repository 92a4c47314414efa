/*
 * The watcher against a misbehaving or merely real API server (see
 * watcher_faults.sh): watches that end at a short timeoutSeconds, a
 * continue token that expires mid-list, broken and over-long event
 * lines; and what counts as an external IP: one namespace only,
 * LoadBalancer addresses, IPv6, addresses that Services share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "watcher/linesplit.h"
#include "wlive.h"
#include "wtest.h"

/* A full set: the seed's three Services in "edge", not "other". */
static void
expect_full_set(void)
{
	struct kiwi_ipset s;
	struct kiwi_msg m;
	char ip[32];
	int i;

	expect_type(MSG_SYNC_BEGIN, &m);
	for (i = 1; i <= 3; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		expect_desire(ip, &s);
		ipset_free(&s);
	}
	expect_type(MSG_SYNC_END, &m);
}

static void
test_initial_list(void **state)
{
	(void)state;
	expect_full_set();
}

/* With timeoutSeconds 1, watches end cleanly and resume at once. */
static void
test_clean_timeout(void **state)
{
	struct seen seen;

	(void)state;
	fx_post("/fixture/requests/clear");
	usleep(3500000);
	requests(&seen);
	assert_true(seen.watches >= 3);
	assert_int_equal(seen.lists, 0);
	assert_string_not_equal(seen.watch_rv, "");
	expect_quiet(100);
}

/*
 * A relist whose continue token expires starts over; the claimer sees
 * one full set, from the list that completed.
 */
static void
test_continue_expired(void **state)
{
	struct seen seen;

	(void)state;
	/*
	 * Stopped, the watcher cannot see the bookmark that follows the
	 * compaction: it must come back with an expired resourceVersion.
	 */
	assert_int_equal(kill(wlive_child, SIGSTOP), 0);
	fx_post("/fixture/drop-watches");
	fx_post("/fixture/compact-on-continue");
	fx_post("/fixture/compact");
	fx_post("/fixture/requests/clear");
	assert_int_equal(kill(wlive_child, SIGCONT), 0);
	expect_full_set();
	wait_watch(&seen);
	/* 3 Services in pages of 2: two lists of 2 pages, 1 page 2 got 410. */
	assert_int_equal(seen.lists, 4);
	assert_int_equal(seen.continues, 2);
}

/* A broken stream is logged and resumed, not trusted and not fatal. */
static void
inject_and_resume(const char *body)
{
	struct kiwi_ipset s;
	struct seen seen;

	fx_post("/fixture/requests/clear");
	json_decref(fx("POST", "/fixture/inject", body));
	wait_watch(&seen);
	assert_int_equal(seen.lists, 0);
	expect_quiet(200);

	put_svc("edge", "after",
	    "{\"externalIPs\":[\"192.0.2.40\"],\"ports\":[{\"port\":80}]}");
	expect_desire("192.0.2.40", &s);
	ipset_free(&s);
	del_svc("edge", "after");
	expect_undesire("192.0.2.40");
}

static void
test_malformed_line(void **state)
{
	(void)state;
	inject_and_resume("{\"type\":\"ADDED\",\"object\":{\"metadata\"\n");
	inject_and_resume("{\"type\":\"SURPRISE\",\"object\":{}}\n");
}

static void
test_long_line(void **state)
{
	size_t n = LINESPLIT_MAX + 4096;
	char *big;

	(void)state;
	assert_non_null(big = malloc(n + 1));
	memset(big, ' ', n);
	big[0] = '{';
	big[n] = '\0';
	inject_and_resume(big);
	free(big);
}

/* Services outside --namespace are not seen at all. */
static void
test_other_namespace(void **state)
{
	(void)state;
	put_svc("other", "elsewhere",
	    "{\"externalIPs\":[\"192.0.2.50\"],\"ports\":[{\"port\":80}]}");
	expect_quiet(1000);
}

static void
test_loadbalancer(void **state)
{
	struct kiwi_ipset s;

	(void)state;
	put_obj("edge", "lb",
	    "{\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":443}]},"
	    "\"status\":{\"loadBalancer\":{\"ingress\":[{\"hostname\":"
	    "\"lb.example\"},{\"ip\":\"192.0.2.60\"}]}}}");
	expect_desire("192.0.2.60", &s);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 443);
	ipset_free(&s);
	put_obj("edge", "lb",
	    "{\"spec\":{\"loadBalancerIP\":\"192.0.2.61\","
	    "\"ports\":[{\"port\":443}]}}");
	expect_undesire("192.0.2.60");
	expect_desire("192.0.2.61", &s);
	ipset_free(&s);
	del_svc("edge", "lb");
	expect_undesire("192.0.2.61");
}

static void
test_ipv6(void **state)
{
	struct kiwi_ipset s;

	(void)state;
	put_svc("edge", "v6",
	    "{\"externalIPs\":[\"2001:db8::5\"],\"ports\":[{\"port\":53,"
	    "\"protocol\":\"UDP\"}]}");
	expect_desire("2001:db8::5", &s);
	assert_int_equal(s.addr.family, AF_INET6);
	assert_rule(&s, 0, KIWI_PROTO_UDP, 53);
	ipset_free(&s);
	del_svc("edge", "v6");
	expect_undesire("2001:db8::5");
}

/* One address, two Services: the union, released with the last. */
static void
test_shared_ip(void **state)
{
	struct kiwi_ipset s;

	(void)state;
	put_svc("edge", "a",
	    "{\"externalIPs\":[\"192.0.2.70\"],\"ports\":[{\"port\":80}]}");
	expect_desire("192.0.2.70", &s);
	ipset_free(&s);
	put_svc("edge", "b",
	    "{\"externalIPs\":[\"192.0.2.70\"],\"ports\":[{\"port\":9,"
	    "\"protocol\":\"SCTP\"}]}");
	expect_desire("192.0.2.70", &s);
	assert_int_equal(s.nrules, 2);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 80);
	assert_rule(&s, 1, KIWI_PROTO_SCTP, 9);
	ipset_free(&s);
	del_svc("edge", "a");
	expect_desire("192.0.2.70", &s);
	assert_int_equal(s.nrules, 1);
	assert_rule(&s, 0, KIWI_PROTO_SCTP, 9);
	ipset_free(&s);
	/* No ports: the address is still wanted, with no rule. */
	put_svc("edge", "b", "{\"externalIPs\":[\"192.0.2.70\"]}");
	expect_desire("192.0.2.70", &s);
	assert_int_equal(s.nrules, 0);
	ipset_free(&s);
	del_svc("edge", "b");
	expect_undesire("192.0.2.70");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_list),
		cmocka_unit_test(test_clean_timeout),
		cmocka_unit_test(test_continue_expired),
		cmocka_unit_test(test_malformed_line),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_other_namespace),
		cmocka_unit_test(test_loadbalancer),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_shared_ip),
	};

	return cmocka_run_group_tests(tests, wlive_setup, wlive_teardown);
}
