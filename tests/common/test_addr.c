/* Address and CIDR parsing and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "common/addr.h"

static struct kiwi_addr
A(const char *s) {
	struct kiwi_addr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static void
test_addr_parse(void **state)
{
	struct kiwi_addr a;
	char buf[KIWI_ADDRSTRLEN];

	(void)state;
	a = A("192.168.1.41");
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(addr_fmt(&a, buf, sizeof(buf)), "192.168.1.41");
	a = A("2001:db8::1");
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(addr_fmt(&a, buf, sizeof(buf)), "2001:db8::1");
	assert_int_not_equal(addr_parse("192.168.1", &a), 0);
	assert_int_not_equal(addr_parse("192.168.1.256", &a), 0);
	assert_int_not_equal(addr_parse("192.168.1.1 ", &a), 0);
	assert_int_not_equal(addr_parse(" 192.168.1.1", &a), 0);
	assert_int_not_equal(addr_parse("", &a), 0);
	assert_int_not_equal(addr_parse(NULL, &a), 0);
	assert_int_not_equal(addr_parse("010.1.1.1", &a), 0);
	assert_int_not_equal(addr_parse("1.2.3.4/32", &a), 0);
}

static void
test_announceable(void **state)
{
	static const char *no[] = { "0.0.0.0", "127.0.0.1", "224.0.0.1",
		"239.1.2.3", "255.255.255.255", "169.254.1.1", "240.0.0.1",
		"::", "::1", "ff02::1", "fe80::1", "::ffff:192.168.1.1" };
	static const char *yes[] = { "192.168.1.41", "10.0.0.1", "8.8.8.8",
		"2001:db8::1" };
	struct kiwi_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		a = A(no[i]);
		assert_false(addr_is_announceable(&a));
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		a = A(yes[i]);
		assert_true(addr_is_announceable(&a));
	}
}

static void
test_cidr(void **state)
{
	struct kiwi_cidr c, list[2];
	struct kiwi_addr a;
	char buf[KIWI_CIDRSTRLEN];

	(void)state;
	assert_int_equal(cidr_parse("192.168.0.0/16", &c), 0);
	assert_string_equal(cidr_fmt(&c, buf, sizeof(buf)), "192.168.0.0/16");
	a = A("192.168.255.1");
	assert_true(cidr_contains(&c, &a));
	a = A("192.169.0.1");
	assert_false(cidr_contains(&c, &a));
	a = A("2001:db8::1");
	assert_false(cidr_contains(&c, &a));

	assert_int_equal(cidr_parse("10.0.0.0/9", &c), 0);
	a = A("10.127.255.255");
	assert_true(cidr_contains(&c, &a));
	a = A("10.128.0.0");
	assert_false(cidr_contains(&c, &a));

	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	a = A("8.8.8.8");
	assert_true(cidr_contains(&c, &a));
	assert_int_equal(cidr_parse("198.51.100.7/32", &c), 0);
	a = A("198.51.100.7");
	assert_true(cidr_contains(&c, &a));
	a = A("198.51.100.8");
	assert_false(cidr_contains(&c, &a));

	assert_int_equal(cidr_parse("2001:db8::/32", &c), 0);
	a = A("2001:db8:ffff::1");
	assert_true(cidr_contains(&c, &a));
	a = A("2001:db9::1");
	assert_false(cidr_contains(&c, &a));

	/* Host bits, bad prefixes and junk are refused. */
	assert_int_not_equal(cidr_parse("192.168.1.1/16", &c), 0);
	assert_int_not_equal(cidr_parse("192.168.0.0/33", &c), 0);
	assert_int_not_equal(cidr_parse("192.168.0.0/", &c), 0);
	assert_int_not_equal(cidr_parse("192.168.0.0", &c), 0);
	assert_int_not_equal(cidr_parse("192.168.0.0/-1", &c), 0);
	assert_int_not_equal(cidr_parse("192.168.0.0/016", &c), 0);
	assert_int_not_equal(cidr_parse("192.168.0.0/16x", &c), 0);
	assert_int_not_equal(cidr_parse("2001:db8::/129", &c), 0);

	/* No ranges accepts everything; otherwise any one must match. */
	a = A("203.0.113.5");
	assert_true(cidr_list_contains(NULL, 0, &a));
	assert_int_equal(cidr_parse("192.168.0.0/16", &list[0]), 0);
	assert_int_equal(cidr_parse("203.0.113.0/24", &list[1]), 0);
	assert_true(cidr_list_contains(list, 2, &a));
	assert_false(cidr_list_contains(list, 1, &a));

	/* The network and broadcast addresses of a range are its edges. */
	a = A("203.0.113.0");
	assert_true(cidr_list_edge(list, 2, &a));
	a = A("203.0.113.255");
	assert_true(cidr_list_edge(list, 2, &a));
	a = A("203.0.113.254");
	assert_false(cidr_list_edge(list, 2, &a));
	a = A("192.168.255.255");
	assert_true(cidr_list_edge(list, 2, &a));
	assert_false(cidr_list_edge(list + 1, 1, &a));
	assert_int_equal(cidr_parse("198.51.100.8/31", &list[0]), 0);
	a = A("198.51.100.8");
	assert_false(cidr_list_edge(list, 1, &a));
	assert_int_equal(cidr_parse("2001:db8::/64", &list[0]), 0);
	a = A("2001:db8::");
	assert_false(cidr_list_edge(list, 1, &a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_announceable),
		cmocka_unit_test(test_cidr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
