/*
 * The watcher against the Kubernetes API fixture (see wlive.h), which
 * watcher_live.sh starts with one seeded Service and bookmarks.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "watcher/watcher.h"
#include "watcher/watcher_int.h"
#include "wlive.h"
#include "wtest.h"

static void
test_initial_list(void **state)
{
	struct kiwi_ipset s;
	struct kiwi_msg m;

	(void)state;
	expect_type(MSG_SYNC_BEGIN, &m);
	expect_desire("192.0.2.10", &s);
	assert_string_equal(s.service, "default/seeded");
	assert_int_equal(s.nrules, 1);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 80);
	ipset_free(&s);
	expect_type(MSG_SYNC_END, &m);
}

static void
test_add_change_delete(void **state)
{
	struct kiwi_ipset s;

	(void)state;
	put_svc("web", "new",
	    "{\"externalIPs\":[\"192.0.2.20\"],\"ports\":[{\"port\":80},"
	    "{\"port\":53,\"protocol\":\"UDP\"}]}");
	expect_desire("192.0.2.20", &s);
	assert_string_equal(s.service, "web/new");
	assert_int_equal(s.nrules, 2);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 80);
	assert_rule(&s, 1, KIWI_PROTO_UDP, 53);
	ipset_free(&s);

	put_svc("web", "new",
	    "{\"externalIPs\":[\"192.0.2.20\"],\"ports\":[{\"port\":8080}]}");
	expect_desire("192.0.2.20", &s);
	assert_int_equal(s.nrules, 1);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 8080);
	ipset_free(&s);

	/* A change that touches no address or port says nothing. */
	put_svc("web", "new",
	    "{\"externalIPs\":[\"192.0.2.20\"],\"ports\":[{\"port\":8080}],"
	    "\"sessionAffinity\":\"ClientIP\"}");
	expect_quiet(500);

	del_svc("web", "new");
	expect_undesire("192.0.2.20");
}

/* The events so far reach the claimer in the watcher's next STATS. */
static void
test_stats_counted(void **state)
{
	struct kiwi_msg *m = malloc(sizeof(*m));

	(void)state;
	assert_non_null(m);
	memset(wlive_stats, 0, sizeof(wlive_stats));
	/* Nothing else is due: every message in 6 s is a STATS. */
	assert_int_equal(next_msg(m, 6000), 0);
	free(m);
	assert_true(wlive_stats[STAT_W_EVENTS] >= 3);
	assert_true(wlive_stats[STAT_W_API_ERRORS] == 0);
}

static void
test_out_of_range(void **state)
{
	struct kiwi_ipset s;
	struct kiwi_note n;
	struct kiwi_msg m;

	(void)state;
	put_svc("web", "outside",
	    "{\"externalIPs\":[\"198.51.100.7\",\"not-an-ip\"],"
	    "\"ports\":[{\"port\":80}]}");
	/* Not a DESIRE, but a NOTE that says why, for the status. */
	expect_type(MSG_NOTE, &m);
	assert_int_equal(msg_decode_note(m.body, m.len, &n), 0);
	assert_int_equal(n.why, ADDR_OUT_OF_RANGE);
	assert_string_equal(n.service, "web/outside");
	/* The next event arriving alone shows the last one said no more. */
	put_svc("web", "probe",
	    "{\"externalIPs\":[\"192.0.2.30\"],\"ports\":[{\"port\":81}]}");
	expect_desire("192.0.2.30", &s);
	ipset_free(&s);
	expect_quiet(300);
}

static void
test_drop_rewatches(void **state)
{
	struct kiwi_ipset s;
	struct seen seen;

	(void)state;
	fx_post("/fixture/requests/clear");
	fx_post("/fixture/drop-watches");
	wait_watch(&seen);
	assert_int_equal(seen.lists, 0);
	assert_string_equal(seen.watch_rv, wlive_last_rv);
	expect_quiet(200);

	/* And the new watch works. */
	put_svc("web", "probe",
	    "{\"externalIPs\":[\"192.0.2.30\"],\"ports\":[{\"port\":82}]}");
	expect_desire("192.0.2.30", &s);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 82);
	ipset_free(&s);
}

static void
test_bookmark_advances(void **state)
{
	char bumped[64];
	struct seen seen;
	json_t *j;

	(void)state;
	j = fx("POST", "/fixture/bump", NULL);
	snprintf(bumped, sizeof(bumped), "%s",
	    json_string_value(json_object_get(j, "resourceVersion")));
	json_decref(j);
	assert_string_not_equal(bumped, wlive_last_rv);
	/* The fixture sends a bookmark every 0.5 s. */
	usleep(1500000);
	fx_post("/fixture/requests/clear");
	fx_post("/fixture/drop-watches");
	wait_watch(&seen);
	assert_int_equal(seen.lists, 0);
	assert_string_equal(seen.watch_rv, bumped);
	expect_quiet(200);
}

/* Stop the watcher; change things it then cannot see; wake it. */
static void
unseen_changes(void)
{
	int i;
	char name[32], spec[256];

	assert_int_equal(kill(wlive_child, SIGSTOP), 0);
	fx_post("/fixture/drop-watches");
	fx_post("/fixture/compact");
	fx_post("/fixture/requests/clear");
	del_svc("default", "seeded");
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "many-%d", i);
		snprintf(spec, sizeof(spec),
		    "{\"externalIPs\":[\"192.0.2.%d\"],"
		    "\"ports\":[{\"port\":443}]}",
		    100 + i);
		put_svc("batch", name, spec);
	}
	assert_int_equal(kill(wlive_child, SIGCONT), 0);
}

static void
test_expired_relists_in_pages(void **state)
{
	struct kiwi_ipset s;
	struct kiwi_msg m;
	struct seen seen;
	char ip[32];
	int i;

	(void)state;
	unseen_changes();
	/* Sorted by address: batch/many-* at .100.., web/probe at .30. */
	expect_type(MSG_SYNC_BEGIN, &m);
	expect_desire("192.0.2.30", &s);
	ipset_free(&s);
	for (i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + i);
		expect_desire(ip, &s);
		assert_rule(&s, 0, KIWI_PROTO_TCP, 443);
		ipset_free(&s);
	}
	/* web/outside's address, after them all, is noted again. */
	expect_type(MSG_NOTE, &m);
	/* default/seeded (192.0.2.10) went while nobody watched. */
	expect_type(MSG_SYNC_END, &m);

	/* 7 Services in pages of 2: 4 requests, 3 with a continue. */
	wait_watch(&seen);
	assert_int_equal(seen.lists, 4);
	assert_int_equal(seen.continues, 3);
	assert_string_equal(seen.limit, "2");
	assert_string_not_equal(seen.watch_rv, "");

	del_svc("batch", "many-0");
	expect_undesire("192.0.2.100");
}

static void
test_shutdown(void **state)
{
	int64_t end = now_ms() + 2000;
	int st = 0;
	pid_t r;

	(void)state;
	assert_int_equal(msg_send(wlive_sup_fd, MSG_SHUTDOWN, NULL, 0), 0);
	while ((r = waitpid(wlive_child, &st, WNOHANG)) == 0 && now_ms() < end)
		usleep(10000);
	assert_int_equal(r, wlive_child);
	wlive_child = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_list),
		cmocka_unit_test(test_add_change_delete),
		cmocka_unit_test(test_stats_counted),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_drop_rewatches),
		cmocka_unit_test(test_bookmark_advances),
		cmocka_unit_test(test_expired_relists_in_pages),
		cmocka_unit_test(test_shutdown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, wlive_setup, wlive_teardown);
}
