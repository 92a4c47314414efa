/* Command-line parsing: the original tool's options and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

/*
 * Parse with --config pointing at an empty file, so that whatever is in
 * /etc/kiwi.conf on the test machine does not count.
 */
static int
parse(struct kiwi_config *c, int argc, const char **argv)
{
	const char *args[32];
	int i;

	assert_true(argc < 30);
	args[0] = argv[0];
	args[1] = "--config=/dev/null";
	for (i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	args[argc + 1] = NULL;
	config_defaults(c);
	return config_parse(c, argc + 1, (char **)args);
}

/* Run config_parse with stderr captured into err. */
static int
parse_capture(
    struct kiwi_config *c, int argc, const char **argv, char *err, size_t cap)
{
	FILE *tmp = tmpfile();
	int saved = dup(2), rc;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	config_defaults(c);
	rc = config_parse(c, argc, (char **)argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, cap - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

/* config_print without its first line, which names the file. */
static void
assert_printed(const struct kiwi_config *c, const char *golden)
{
	char path[4096], *out = NULL, *body, *want;
	size_t outlen = 0, n;
	FILE *f = open_memstream(&out, &outlen);
	FILE *g;

	config_print(c, f);
	fclose(f);
	body = strchr(out, '\n') + 1;
	snprintf(
	    path, sizeof(path), KIWI_SRC_DIR "/tests/common/config/%s", golden);
	assert_non_null(g = fopen(path, "r"));
	want = calloc(1, 65536);
	n = fread(want, 1, 65535, g);
	want[n] = '\0';
	fclose(g);
	assert_string_equal(body, want);
	free(want);
	free(out);
}

static void
test_file_golden(void **state)
{
	const char *argv[] = { "kiwi",
		"--config=" KIWI_SRC_DIR "/tests/common/config/node.conf" };
	const char *over[] = { "kiwi",
		"--config=" KIWI_SRC_DIR "/tests/common/config/node.conf", "-i",
		"em2", "--cidr-range", "203.0.113.0/24", "--ttl=7", "--debug" };
	struct kiwi_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse_capture(&c, 2, argv, err, sizeof(err)), 0);
	assert_printed(&c, "node.ok");
	assert_int_equal(c.log_target, KIWI_LOG_FILE);
	/* The command line overrides the file; its ranges replace. */
	assert_int_equal(parse_capture(&c, 8, over, err, sizeof(err)), 0);
	assert_printed(&c, "override.ok");
}

/* A bad file: refused, with its path, the line and the reason. */
static void
expect_file_error(const char *text, unsigned int line, const char *why)
{
	char path[] = "/tmp/kiwi-conf.XXXXXX", arg[64], err[1024];
	char want[128];
	const char *argv[] = { "kiwi", arg, "-i", "x" };
	struct kiwi_config c;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(arg, sizeof(arg), "--config=%s", path);
	assert_int_equal(parse_capture(&c, 4, argv, err, sizeof(err)), -EINVAL);
	unlink(path);
	snprintf(want, sizeof(want), "kiwi: %s:%u: ", path, line);
	if (strstr(err, want) == NULL || strstr(err, why) == NULL)
		fail_msg("expected '%s' and '%s' in: %s", want, why, err);
}

static void
test_file_errors(void **state)
{
	const char *missing[] = { "kiwi", "--config=/nonexistent/kiwi.conf",
		"-i", "x" };
	struct kiwi_config c;
	char err[1024];

	(void)state;
	expect_file_error(
	    "interface = em1\nfrobnicate = 3\n", 2, "unknown key 'frobnicate'");
	expect_file_error("# c\n\ncidr-range = 10.0.0.1/8\n", 3,
	    "'10.0.0.1/8' is not a network");
	expect_file_error("ttl = fast\n", 1, "not a number from 2 to");
	expect_file_error("ttl\n", 1, "expected 'key = value'");
	expect_file_error("verbose = maybe\n", 1, "not true or false");
	expect_file_error(
	    "interface = averyverylongname\n", 1, "not an interface name");
	expect_file_error("config = /etc/other.conf\n", 1, "unknown key");
	expect_file_error(
	    "namespace = Web\n", 1, "'Web' is not a namespace name");
	expect_file_error(
	    "etcd-endpoint = http://a:1,b:2\n", 1, "'b:2' is not an http");
	/* A named file must exist; the default one may be missing. */
	assert_int_equal(
	    parse_capture(&c, 4, missing, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/kiwi.conf"));
}

static void
test_original_command_line(void **state)
{
	const char *argv[] = { "kiwi", "--interface=em1", "--cidr-range",
		"192.168.0.0/16", "--kube-endpoint", "http://localhost:8080",
		"--etcd-endpoint", "http://localhost:2379", "--verbose" };
	struct kiwi_config c;
	char buf[KIWI_CIDRSTRLEN];

	(void)state;
	assert_int_equal(parse(&c, 9, argv), 0);
	assert_string_equal(c.ifname, "em1");
	assert_string_equal(c.label, "em1:kube");
	assert_int_equal(c.ncidrs, 1);
	assert_string_equal(
	    cidr_fmt(&c.cidrs[0], buf, sizeof(buf)), "192.168.0.0/16");
	assert_string_equal(c.kube_endpoint, "http://localhost:8080");
	assert_string_equal(c.etcd_endpoints, "http://localhost:2379");
	assert_int_equal(c.verbose, 1);
	assert_int_equal(c.ttl, 10);
	assert_int_equal(c.mark, 1);
	assert_true(c.node_name[0] != '\0');
}

static void
test_options(void **state)
{
	const char *argv[] = { "kiwi", "-i", "eth0", "-c", "10.0.0.0/8", "-c",
		"2001:db8::/64", "--ttl", "3", "--mark", "0x4000",
		"--node-name", "n1", "--user", "daemon", "-e",
		"http://a:2379,http://b:2379", "--max-addresses", "5" };
	struct kiwi_config c;

	(void)state;
	assert_int_equal(parse(&c, 19, argv), 0);
	assert_int_equal(c.ncidrs, 2);
	assert_int_equal(c.ttl, 3);
	assert_int_equal(c.mark, 0x4000);
	assert_string_equal(c.node_name, "n1");
	assert_string_equal(c.user, "daemon");
	assert_true(c.user_given);
	assert_string_equal(c.etcd_endpoints, "http://a:2379,http://b:2379");
	assert_int_equal(c.max_addresses, 5);
}

static void
expect_refused(int argc, const char **argv)
{
	struct kiwi_config c;

	assert_int_equal(parse(&c, argc, argv), -EINVAL);
}

static void
test_refusals(void **state)
{
	const char *no_if[] = { "kiwi" };
	const char *host_bits[] = { "kiwi", "-i", "x", "-c", "10.0.0.1/8" };
	const char *ttl_low[] = { "kiwi", "-i", "x", "--ttl", "1" };
	const char *ttl_neg[] = { "kiwi", "-i", "x", "--ttl", "-5" };
	const char *ttl_junk[] = { "kiwi", "-i", "x", "--ttl", "5s" };
	const char *mark0[] = { "kiwi", "-i", "x", "--mark", "0" };
	const char *long_if[] = { "kiwi", "-i", "abcdefghijk" };
	const char *colon_if[] = { "kiwi", "-i", "eth0:1" };
	const char *bad_url[] = { "kiwi", "-i", "x", "-k", "localhost:8080" };
	const char *extra[] = { "kiwi", "-i", "x", "stray" };
	const char *sock_rel[] = { "kiwi", "-i", "x", "--control-socket",
		"kiwi.sock" };
	const char *sock_root[] = { "kiwi", "-i", "x", "--control-socket",
		"/kiwi.sock" };
	const char *sock_dir[] = { "kiwi", "-i", "x", "--control-socket",
		"/run/kiwi/" };
	const char *metrics_noport[] = { "kiwi", "-i", "x", "--metrics-address",
		"127.0.0.1" };
	const char *metrics_port0[] = { "kiwi", "-i", "x", "--metrics-address",
		"127.0.0.1:0" };

	(void)state;
	expect_refused(1, no_if);
	expect_refused(5, host_bits);
	expect_refused(5, ttl_low);
	expect_refused(5, ttl_neg);
	expect_refused(5, ttl_junk);
	expect_refused(5, mark0);
	expect_refused(3, long_if);
	expect_refused(3, colon_if);
	expect_refused(5, bad_url);
	expect_refused(4, extra);
	expect_refused(5, sock_rel);
	expect_refused(5, sock_root);
	expect_refused(5, sock_dir);
	expect_refused(5, metrics_noport);
	expect_refused(5, metrics_port0);
}

static void
test_api_options(void **state)
{
	const char *argv[] = { "kiwi", "-i", "x", "--kubeconfig",
		"/etc/kiwi/kc", "--namespace", "edge-1", "--loadbalancer-ips" };
	const char *bad_ns[] = { "kiwi", "-i", "x", "--namespace", "Edge" };
	const char *dash_ns[] = { "kiwi", "-i", "x", "--namespace", "edge-" };
	const char *plain[] = { "kiwi", "-i", "x" };
	struct kiwi_config c;

	(void)state;
	unsetenv("KUBECONFIG");
	assert_int_equal(parse(&c, 8, argv), 0);
	assert_string_equal(c.kubeconfig, "/etc/kiwi/kc");
	assert_string_equal(c.namespace, "edge-1");
	assert_true(c.loadbalancer_ips);
	assert_false(c.kube_endpoint_given);
	expect_refused(5, bad_ns);
	expect_refused(5, dash_ns);

	/* $KUBECONFIG stands in for --kubeconfig, and only for it. */
	setenv("KUBECONFIG", "/root/.kube/config", 1);
	assert_int_equal(parse(&c, 3, plain), 0);
	assert_string_equal(c.kubeconfig, "/root/.kube/config");
	assert_int_equal(parse(&c, 8, argv), 0);
	assert_string_equal(c.kubeconfig, "/etc/kiwi/kc");
	setenv("KUBECONFIG", "/a:/b", 1);
	expect_refused(3, plain);
	unsetenv("KUBECONFIG");
	assert_int_equal(parse(&c, 3, plain), 0);
	assert_string_equal(c.kubeconfig, "");
	assert_false(c.loadbalancer_ips);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_original_command_line),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_api_options),
		cmocka_unit_test(test_file_golden),
		cmocka_unit_test(test_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
