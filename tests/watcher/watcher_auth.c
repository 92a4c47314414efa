/*
 * The watcher connecting the ways an operator configures it (see
 * watcher_auth.sh): a kubeconfig with a token or a client certificate,
 * the in-cluster service account, an untrusted server.  W_EXPECT_AUTH
 * says how the fixture must see it authenticate; W_TOKEN_FILE names a
 * token file the watcher follows, which the rotation test rewrites;
 * W_UNTRUSTED says the server must not be trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "wlive.h"
#include "wtest.h"

static void
test_lists_over_tls(void **state)
{
	const char *want = getenv("W_EXPECT_AUTH");
	struct kiwi_ipset s;
	struct kiwi_msg m;
	struct seen seen;

	(void)state;
	if (getenv("W_UNTRUSTED") != NULL)
		skip();
	expect_type(MSG_SYNC_BEGIN, &m);
	expect_desire("192.0.2.10", &s);
	assert_string_equal(s.service, "default/seeded");
	ipset_free(&s);
	expect_type(MSG_SYNC_END, &m);
	wait_watch(&seen);
	assert_int_equal(seen.refused, 0);
	assert_non_null(want);
	assert_string_equal(seen.auth, want);

	put_svc("web", "tls",
	    "{\"externalIPs\":[\"192.0.2.21\"],\"ports\":[{\"port\":443}]}");
	expect_desire("192.0.2.21", &s);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 443);
	ipset_free(&s);
	/* The next mode reuses the fixture: leave it as it was. */
	del_svc("web", "tls");
	expect_undesire("192.0.2.21");
}

static void
write_token(const char *path, const char *token)
{
	char tmp[4096];
	FILE *f;

	/* Replace it whole, as the kubelet does, never half-written. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	assert_non_null(f = fopen(tmp, "w"));
	fprintf(f, "%s\n", token);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* The token rotates: the old one gets 401, the watcher reads the new. */
static void
test_token_rotation(void **state)
{
	const char *file = getenv("W_TOKEN_FILE");
	int64_t end = now_ms() + WLIVE_WAIT_MS;
	struct kiwi_ipset s;
	struct seen seen;

	(void)state;
	if (file == NULL)
		skip();
	write_token(file, "rotated-SECRET-2");
	fx("POST", "/fixture/token", "{\"token\":\"rotated-SECRET-2\"}");
	fx_post("/fixture/requests/clear");
	fx_post("/fixture/drop-watches");
	do {
		usleep(50000);
		requests(&seen);
	} while (strcmp(seen.auth, "token") != 0 && now_ms() < end);
	assert_string_equal(seen.auth, "token");
	/* The first try used the old token, which proves the re-read. */
	assert_true(seen.refused >= 1);
	assert_int_equal(seen.lists, 0);

	put_svc("web", "rotated",
	    "{\"externalIPs\":[\"192.0.2.22\"],\"ports\":[{\"port\":80}]}");
	expect_desire("192.0.2.22", &s);
	ipset_free(&s);
	del_svc("web", "rotated");
	expect_undesire("192.0.2.22");
}

/* A server whose certificate nothing here trusts gets no request. */
static void
test_untrusted_server(void **state)
{
	struct seen seen;

	(void)state;
	if (getenv("W_UNTRUSTED") == NULL)
		skip();
	fx_post("/fixture/requests/clear");
	expect_quiet(2000);
	requests(&seen);
	assert_int_equal(seen.lists + seen.watches, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists_over_tls),
		cmocka_unit_test(test_token_rotation),
		cmocka_unit_test(test_untrusted_server),
	};

	return cmocka_run_group_tests(tests, wlive_setup, wlive_teardown);
}
