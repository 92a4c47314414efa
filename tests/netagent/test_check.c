/*
 * What the netagent accepts from its peers, without a kernel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/msg.h"
#include "netagent/check.h"

static struct kiwi_config cfg;

static int
setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_addresses = 2;
	assert_int_equal(cidr_parse("192.168.1.0/24", &cfg.cidrs[0]), 0);
	assert_int_equal(cidr_parse("10.0.0.0/8", &cfg.cidrs[1]), 0);
	assert_int_equal(cidr_parse("2001:db8:1::/64", &cfg.cidrs[2]), 0);
	cfg.ncidrs = 3;
	return 0;
}

/* check_addr's verdict on text address s. */
static int
addr_verdict(const char *s)
{
	struct kiwi_addr a;
	const char *why = NULL;
	int rc;

	assert_int_equal(addr_parse(s, &a), 0);
	rc = check_addr(&cfg, &a, &why);
	if (rc < 0)
		assert_non_null(why);
	return rc;
}

static void
test_sender(void **state)
{
	const char *why = NULL;
	int t;

	(void)state;
	assert_int_equal(check_sender(PEER_CLAIMER, MSG_CLAIM, &why), 0);
	assert_int_equal(check_sender(PEER_CLAIMER, MSG_RELEASE, &why), 0);
	assert_int_equal(check_sender(PEER_CLAIMER, MSG_RELEASE_ALL, &why), 0);
	assert_int_equal(check_sender(PEER_CLAIMER, MSG_VOUCH, &why), 0);
	assert_int_equal(check_sender(PEER_SUP, MSG_VOUCH, &why), -EPERM);
	assert_int_equal(check_sender(PEER_SUP, MSG_SHUTDOWN, &why), 0);
	assert_int_equal(check_sender(PEER_SUP, MSG_CLAIM, &why), -EPERM);
	assert_non_null(why);
	assert_int_equal(check_sender(PEER_SUP, MSG_RELEASE_ALL, &why), -EPERM);
	assert_int_equal(
	    check_sender(PEER_CLAIMER, MSG_SHUTDOWN, &why), -EPERM);
	/* Nothing the netagent sends or the watcher speaks comes in. */
	for (t = 0; t <= 255; t++) {
		if (t == MSG_CLAIM || t == MSG_RELEASE ||
		    t == MSG_RELEASE_ALL || t == MSG_VOUCH || t == MSG_SHUTDOWN)
			continue;
		assert_int_equal(
		    check_sender(PEER_CLAIMER, (uint8_t)t, &why), -EPERM);
		assert_int_equal(
		    check_sender(PEER_SUP, (uint8_t)t, &why), -EPERM);
	}
}

static void
test_addr(void **state)
{
	(void)state;
	assert_int_equal(addr_verdict("192.168.1.41"), 0);
	assert_int_equal(addr_verdict("10.200.3.4"), 0);
	assert_int_equal(addr_verdict("192.168.2.1"), -EPERM);
	assert_int_equal(addr_verdict("8.8.8.8"), -EPERM);
	assert_int_equal(addr_verdict("0.0.0.0"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("127.0.0.1"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("224.0.0.1"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("169.254.0.5"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("255.255.255.255"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("2001:db8:1::41"), 0);
	assert_int_equal(addr_verdict("2001:db8::1"), -EPERM);
	assert_int_equal(addr_verdict("::"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("::1"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("ff02::1"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("fe80::1"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("::ffff:192.168.1.41"), -EADDRNOTAVAIL);
	/* A range's own network and broadcast addresses are not hosts. */
	assert_int_equal(addr_verdict("192.168.1.0"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("192.168.1.255"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("10.255.255.255"), -EADDRNOTAVAIL);
	assert_int_equal(addr_verdict("10.0.1.0"), 0);
}

/* A family the codec never makes is refused all the same. */
static void
test_family(void **state)
{
	struct kiwi_addr a = { 0 };
	const char *why = NULL;

	(void)state;
	a.family = AF_UNIX;
	assert_int_equal(check_addr(&cfg, &a, &why), -EAFNOSUPPORT);
	assert_non_null(why);
}

static void
test_no_ranges(void **state)
{
	(void)state;
	cfg.ncidrs = 0;
	assert_int_equal(addr_verdict("8.8.8.8"), 0);
	assert_int_equal(addr_verdict("127.0.0.1"), -EADDRNOTAVAIL);
}

static void
rule_set(struct kiwi_rule *r, uint8_t proto, uint16_t port)
{
	memset(r, 0, sizeof(*r));
	r->proto = proto;
	r->port = port;
}

static int
rules_verdict(const struct kiwi_rule *r, size_t n)
{
	const char *why = NULL;
	int rc;

	rc = check_rules(r, n, &why);
	if (rc < 0)
		assert_non_null(why);
	return rc;
}

static void
test_rules(void **state)
{
	struct kiwi_rule r[3];

	(void)state;
	memset(r, 0, sizeof(r));
	assert_int_equal(rules_verdict(r, 0), 0);
	rule_set(&r[0], KIWI_PROTO_TCP, 80);
	rule_set(&r[1], KIWI_PROTO_UDP, 80);
	rule_set(&r[2], KIWI_PROTO_SCTP, 65535);
	assert_int_equal(rules_verdict(r, 3), 0);

	rule_set(&r[2], KIWI_PROTO_TCP, 80);
	assert_int_equal(rules_verdict(r, 3), -EINVAL);
	rule_set(&r[2], KIWI_PROTO_SCTP, 0);
	assert_int_equal(rules_verdict(r, 3), -EINVAL);
	rule_set(&r[2], 1, 80);
	assert_int_equal(rules_verdict(r, 3), -EPROTONOSUPPORT);
	assert_int_equal(rules_verdict(r, KIWI_MAX_RULES + 1), -E2BIG);
}

static void
test_ipset(void **state)
{
	struct kiwi_rule r[1];
	struct kiwi_ipset s;
	const char *why = NULL;

	(void)state;
	ipset_init(&s);
	assert_int_equal(addr_parse("10.1.2.3", &s.addr), 0);
	rule_set(&r[0], KIWI_PROTO_TCP, 443);
	s.rules = r;
	s.nrules = 1;
	memcpy(s.service, "ns/svc", 6);
	assert_int_equal(check_ipset(&cfg, &s, &why), 0);

	memcpy(s.service, "ns/sv;", 6);
	assert_int_equal(check_ipset(&cfg, &s, &why), -EINVAL);
	assert_non_null(why);

	memcpy(s.service, "ns/svc", 6);
	r[0].port = 0;
	assert_int_equal(check_ipset(&cfg, &s, &why), -EINVAL);

	r[0].port = 443;
	assert_int_equal(addr_parse("11.1.2.3", &s.addr), 0);
	assert_int_equal(check_ipset(&cfg, &s, &why), -EPERM);
}

static void
test_cap(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_int_equal(check_cap(&cfg, 0, &why), 0);
	assert_int_equal(check_cap(&cfg, 1, &why), 0);
	assert_int_equal(check_cap(&cfg, 2, &why), -ENOSPC);
	assert_non_null(why);
	cfg.max_addresses = 0;
	assert_int_equal(check_cap(&cfg, 0, &why), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sender, setup),
		cmocka_unit_test_setup(test_addr, setup),
		cmocka_unit_test_setup(test_family, setup),
		cmocka_unit_test_setup(test_no_ranges, setup),
		cmocka_unit_test_setup(test_rules, setup),
		cmocka_unit_test_setup(test_ipset, setup),
		cmocka_unit_test_setup(test_cap, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
