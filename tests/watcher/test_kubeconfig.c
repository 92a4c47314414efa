/* Reading kubeconfigs with libyaml: what is taken, what is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "watcher/auth.h"
#include "wtest.h"

static char dir[] = "/tmp/kiwi-kc.XXXXXX";
static char path[256];

static void
put_file(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Load a kubeconfig made of a cluster's and a user's lines. */
static int
load(const char *cluster, const char *user, struct kube_auth *a)
{
	char text[4096];
	int rc;

	snprintf(text, sizeof(text),
	    "apiVersion: v1\n"
	    "current-context: c\n"
	    "clusters:\n"
	    "- name: k\n"
	    "  cluster:\n"
	    "    server: https://10.0.0.1:6443\n%s"
	    "contexts:\n"
	    "- name: c\n"
	    "  context: {cluster: k, user: u}\n"
	    "users:\n"
	    "- name: u\n"
	    "  user:\n%s",
	    cluster, user);
	put_file("config", text);
	memset(a, 0, sizeof(*a));
	logcap_begin();
	rc = kubeconfig_load(path, a);
	return rc;
}

static void
expect_refused(const char *cluster, const char *user, const char *why)
{
	struct kube_auth a;
	const char *log;

	assert_int_equal(load(cluster, user, &a), -EINVAL);
	log = logcap_text();
	if (strstr(log, why) == NULL || strstr(log, path) == NULL)
		fail_msg("expected '%s' and the path in: %s", why, log);
	logcap_end();
	kube_auth_free(&a);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test", 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	put_file("ca.pem", "CA BYTES\n");
	put_file("token", "file-token\n");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void
test_token_and_data(void **state)
{
	struct kube_auth a;

	(void)state;
	/* "Q0EgQllURVMK" is "CA BYTES\n". */
	assert_int_equal(load("    certificate-authority-data: Q0EgQllURVMK\n"
	                      "    insecure-skip-tls-verify: false\n",
	                     "    token: s3cret\n", &a),
	    0);
	logcap_end();
	assert_string_equal(a.server, "https://10.0.0.1:6443");
	assert_string_equal(a.ca.p, "CA BYTES\n");
	assert_string_equal(a.token.p, "s3cret");
	assert_string_equal(a.token_file, "");
	assert_false(a.insecure);
	assert_null(strstr(a.desc, "s3cret"));
	kube_auth_free(&a);
}

static void
test_relative_files(void **state)
{
	struct kube_auth a;
	char want[300];

	(void)state;
	put_file("c.pem", "CERT\n");
	put_file("c.key", "KEY\n");
	assert_int_equal(load("    certificate-authority: ca.pem\n"
	                      "    insecure-skip-tls-verify: true\n",
	                     "    client-certificate: c.pem\n"
	                     "    client-key: c.key\n"
	                     "    tokenFile: token\n",
	                     &a),
	    0);
	logcap_end();
	assert_string_equal(a.ca.p, "CA BYTES\n");
	assert_string_equal(a.cert.p, "CERT\n");
	assert_string_equal(a.key.p, "KEY\n");
	assert_string_equal(a.token.p, "file-token");
	snprintf(want, sizeof(want), "%s/token", dir);
	assert_string_equal(a.token_file, want);
	assert_true(a.insecure);
	kube_auth_free(&a);
}

static void
test_refusals(void **state)
{
	(void)state;
	expect_refused(
	    "", "    exec:\n      command: aws\n", "'exec' is not supported");
	expect_refused("", "    auth-provider: {name: gcp}\n",
	    "'auth-provider' is not supported");
	expect_refused("", "    username: admin\n    password: x\n",
	    "'username' is not supported");
	expect_refused("    proxy-url: http://proxy:3128\n", "    token: t\n",
	    "'proxy-url' is not supported");
	expect_refused("", "    client-certificate: ca.pem\n", "needs its key");
	expect_refused("", "    client-key-data: '@@@'\n", "not base64");
	expect_refused("    certificate-authority: ca.pem\n"
	               "    certificate-authority-data: Q0EK\n",
	    "    token: t\n", "give one");
	expect_refused("    certificate-authority: nothere.pem\n",
	    "    token: t\n", "No such file");
	expect_refused("", "    tokenFile: missing\n", "tokenFile");
	expect_refused("", "    token: [a, b]\n", "token: not a string");
}

static void
test_broken_files(void **state)
{
	struct kube_auth a;
	const char *log;

	(void)state;
	put_file("config", "current-context: c\nclusters: [\n");
	memset(&a, 0, sizeof(a));
	logcap_begin();
	assert_int_equal(kubeconfig_load(path, &a), -EINVAL);
	log = logcap_text();
	assert_non_null(strstr(log, "line "));
	logcap_end();

	put_file("config", "current-context: gone\ncontexts: []\n");
	logcap_begin();
	assert_int_equal(kubeconfig_load(path, &a), -EINVAL);
	assert_non_null(strstr(logcap_text(), "no entry named 'gone'"));
	logcap_end();

	put_file("config", "apiVersion: v1\n");
	logcap_begin();
	assert_int_equal(kubeconfig_load(path, &a), -EINVAL);
	assert_non_null(strstr(logcap_text(), "no current-context"));
	logcap_end();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_data),
		cmocka_unit_test(test_relative_files),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_broken_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
