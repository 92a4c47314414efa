/* Command-line parsing: the original tool's options and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

static int
parse(struct kiwi_config *c, int argc, const char **argv)
{
	config_defaults(c);
	return config_parse(c, argc, (char **)argv);
}

static void
test_original_command_line(void **state)
{
	const char *argv[] = {"kiwi", "--interface=em1", "--cidr-range",
	    "192.168.0.0/16", "--kube-endpoint", "http://localhost:8080",
	    "--etcd-endpoint", "http://localhost:2379", "--verbose"};
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
	const char *argv[] = {"kiwi", "-i", "eth0", "-c", "10.0.0.0/8", "-c",
	    "2001:db8::/64", "--ttl", "3", "--mark", "0x4000", "--node-name",
	    "n1", "--user", "daemon", "-e", "http://a:2379,http://b:2379",
	    "--max-addresses", "5"};
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
	const char *no_if[] = {"kiwi"};
	const char *host_bits[] = {"kiwi", "-i", "x", "-c", "10.0.0.1/8"};
	const char *ttl_low[] = {"kiwi", "-i", "x", "--ttl", "1"};
	const char *ttl_neg[] = {"kiwi", "-i", "x", "--ttl", "-5"};
	const char *ttl_junk[] = {"kiwi", "-i", "x", "--ttl", "5s"};
	const char *mark0[] = {"kiwi", "-i", "x", "--mark", "0"};
	const char *long_if[] = {"kiwi", "-i", "abcdefghijk"};
	const char *colon_if[] = {"kiwi", "-i", "eth0:1"};
	const char *bad_url[] = {"kiwi", "-i", "x", "-k", "localhost:8080"};
	const char *extra[] = {"kiwi", "-i", "x", "stray"};

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
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_original_command_line),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
