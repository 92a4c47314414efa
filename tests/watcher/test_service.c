/* Taking what the watcher needs from Service objects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "wtest.h"
#include "watcher/service.h"

static struct kiwi_cidr ranges[3];
static struct svc_filter filter = { ranges, 3, NULL, false };

static int
setup(void **state)
{
	(void)state;
	log_init("test", 1);
	assert_int_equal(cidr_parse("192.0.2.0/24", &ranges[0]), 0);
	assert_int_equal(cidr_parse("2001:db8::/32", &ranges[1]), 0);
	/* In range but never announceable. */
	assert_int_equal(cidr_parse("127.0.0.0/8", &ranges[2]), 0);
	return 0;
}

/* Parse text as a Service; returns service_parse's result. */
static int
parse(const char *text, struct service *svc)
{
	json_t *obj = json_loads(text, JSON_DECODE_ANY, NULL);
	int rc;

	assert_non_null(obj);
	logcap_begin();
	rc = service_parse(obj, &filter, svc);
	json_decref(obj);
	return rc;
}

static void
assert_logged(const char *want)
{
	const char *got = logcap_text();

	if (strstr(got, want) == NULL)
		fail_msg("log lacks \"%s\"; it has:\n%s", want, got);
}

static void
assert_addr(const struct kiwi_addr *a, const char *want)
{
	char buf[KIWI_ADDRSTRLEN];

	assert_string_equal(addr_fmt(a, buf, sizeof(buf)), want);
}

static void
test_both_fields(void **state)
{
	struct service s;

	(void)state;
	assert_int_equal(
	    parse("{\"metadata\":{\"namespace\":\"web\","
	          "\"name\":\"front\"},\"spec\":{"
	          "\"externalIPs\":[\"192.0.2.10\",\"192.0.2.11\"],"
	          "\"deprecatedPublicIPs\":[\"192.0.2.12\","
	          "\"192.0.2.10\"],"
	          "\"ports\":[{\"port\":80},"
	          "{\"port\":53,\"protocol\":\"UDP\"},"
	          "{\"port\":9,\"protocol\":\"SCTP\"}]}}",
	        &s),
	    0);
	logcap_end();
	assert_string_equal(s.key, "web/front");
	assert_int_equal(s.naddrs, 3); /* the duplicate counts once */
	assert_addr(&s.addrs[0], "192.0.2.10");
	assert_addr(&s.addrs[1], "192.0.2.11");
	assert_addr(&s.addrs[2], "192.0.2.12");
	assert_int_equal(s.nports, 3);
	assert_int_equal(s.ports[0].proto, KIWI_PROTO_TCP);
	assert_int_equal(s.ports[0].port, 80);
	assert_int_equal(s.ports[1].proto, KIWI_PROTO_UDP);
	assert_int_equal(s.ports[1].port, 53);
	assert_int_equal(s.ports[2].proto, KIWI_PROTO_SCTP);
	service_free(&s);
}

static void
test_no_spec(void **state)
{
	struct service s;

	(void)state;
	assert_int_equal(
	    parse("{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"}}", &s),
	    0);
	logcap_end();
	assert_string_equal(s.key, "a/b");
	assert_int_equal(s.naddrs, 0);
	assert_int_equal(s.nports, 0);
	service_free(&s);
}

static void
test_bad_addresses(void **state)
{
	struct service s;

	(void)state;
	assert_int_equal(parse("{\"metadata\":{\"namespace\":\"a\","
	                       "\"name\":\"b\"},\"spec\":{\"externalIPs\":["
	                       "\"192.0.2.300\",7,\"198.51.100.1\","
	                       "\"2001:db8::1\",\"127.0.0.1\","
	                       "\"bad\\nline\",\"192.0.2.7\"],"
	                       "\"ports\":[{\"port\":80}]}}",
	                     &s),
	    0);
	assert_logged("service a/b: spec.externalIPs[0]: \"192.0.2.300\" "
	              "is not an IP address");
	assert_logged("service a/b: spec.externalIPs[1]: not a string");
	assert_logged("spec.externalIPs[2] 198.51.100.1: outside the "
	              "configured ranges");
	assert_logged("spec.externalIPs[4] 127.0.0.1: not an address "
	              "that can be announced");
	/* What a Service owner wrote cannot break a log line. */
	assert_logged("\"bad?line\" is not an IP address");
	logcap_end();
	/* IPv6 inside a configured range counts like IPv4. */
	assert_int_equal(s.naddrs, 4);
	assert_addr(&s.addrs[0], "198.51.100.1");
	assert_int_equal(s.why[0], ADDR_OUT_OF_RANGE);
	assert_addr(&s.addrs[1], "2001:db8::1");
	assert_int_equal(s.why[1], ADDR_CLAIMABLE);
	assert_addr(&s.addrs[2], "127.0.0.1");
	assert_int_equal(s.why[2], ADDR_NOT_ANNOUNCEABLE);
	assert_addr(&s.addrs[3], "192.0.2.7");
	assert_int_equal(s.why[3], ADDR_CLAIMABLE);
	assert_int_equal(s.nports, 1);
	service_free(&s);
}

static void
test_range_edges(void **state)
{
	static const char text[] = "{\"metadata\":{\"namespace\":\"a\","
	                           "\"name\":\"b\"},\"spec\":{"
	                           "\"externalIPs\":[\"192.0.2.0\","
	                           "\"192.0.2.255\",\"192.0.2.7\"]}}";
	struct service s;

	(void)state;
	assert_int_equal(parse(text, &s), 0);
	assert_logged("192.0.2.0: the network or broadcast address");
	assert_logged("192.0.2.255: the network or broadcast address");
	logcap_end();
	assert_int_equal(s.naddrs, 3);
	assert_int_equal(s.why[0], ADDR_RANGE_EDGE);
	assert_int_equal(s.why[1], ADDR_RANGE_EDGE);
	assert_int_equal(s.why[2], ADDR_CLAIMABLE);
	service_free(&s);
}

static void
test_outside_once(void **state)
{
	static const char text[] = "{\"metadata\":{\"namespace\":\"a\","
	                           "\"name\":\"b\"},\"spec\":{"
	                           "\"externalIPs\":[\"198.51.100.1\"]}}";
	struct addr_seen seen = { 0 };
	struct service s;

	(void)state;
	filter.seen = &seen;
	assert_int_equal(parse(text, &s), 0);
	assert_logged("198.51.100.1: outside the configured ranges");
	logcap_end();
	service_free(&s);
	assert_int_equal(parse(text, &s), 0);
	assert_null(strstr(logcap_text(), "198.51.100.1"));
	logcap_end();
	service_free(&s);
	filter.seen = NULL;
	addr_seen_free(&seen);
}

static void
test_bad_ports(void **state)
{
	struct service s;

	(void)state;
	assert_int_equal(parse("{\"metadata\":{\"namespace\":\"a\","
	                       "\"name\":\"b\"},\"spec\":{\"externalIPs\":["
	                       "\"192.0.2.1\"],\"ports\":[{\"port\":\"80\"},"
	                       "{\"port\":0},{\"port\":65536},"
	                       "{\"port\":443,\"protocol\":\"ICMP\"},"
	                       "{\"port\":444,\"protocol\":6},"
	                       "\"x\",{\"port\":8443,\"protocol\":\"tcp\"}]}}",
	                     &s),
	    0);
	assert_logged("service a/b: spec.ports[0].port: not a number");
	assert_logged("service a/b: spec.ports[1].port");
	assert_logged("service a/b: spec.ports[2].port");
	assert_logged("service a/b: spec.ports[3].protocol: not TCP");
	assert_logged("service a/b: spec.ports[4].protocol");
	assert_logged("service a/b: spec.ports[5]: not an object");
	logcap_end();
	assert_int_equal(s.naddrs, 1);
	assert_int_equal(s.nports, 1);
	assert_int_equal(s.ports[0].port, 8443);
	assert_int_equal(s.ports[0].proto, KIWI_PROTO_TCP);
	service_free(&s);
}

static void
test_wrong_shapes(void **state)
{
	struct service s;

	(void)state;
	assert_int_equal(parse("{\"metadata\":{\"namespace\":\"a\","
	                       "\"name\":\"b\"},\"spec\":{\"externalIPs\":"
	                       "\"192.0.2.1\",\"ports\":{}}}",
	                     &s),
	    0);
	assert_logged("service a/b: spec.externalIPs: not a list");
	assert_logged("service a/b: spec.ports: not a list");
	logcap_end();
	assert_int_equal(s.naddrs, 0);
	service_free(&s);

	assert_int_equal(parse("{\"metadata\":{\"namespace\":\"a\","
	                       "\"name\":\"b\"},\"spec\":[]}",
	                     &s),
	    0);
	assert_logged("service a/b: spec: not an object");
	logcap_end();
	service_free(&s);
}

static void
test_unusable(void **state)
{
	char longname[200], name[154];
	struct service s;

	(void)state;
	assert_int_equal(parse("[1,2]", &s), -EINVAL);
	assert_logged("not a JSON object");
	logcap_end();

	assert_int_equal(parse("{\"metadata\":{\"name\":\"b\"}}", &s), -EINVAL);
	assert_logged("without metadata.namespace and metadata.name");
	logcap_end();

	/* A Service whose name is over 127 bytes long. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(longname, sizeof(longname),
	    "{\"metadata\":{\"namespace\":\"a\",\"name\":\"%s\"}}", name);
	assert_int_equal(parse(longname, &s), -ENAMETOOLONG);
	assert_logged("is longer than 127 bytes");
	logcap_end();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_fields),
		cmocka_unit_test(test_no_spec),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_outside_once),
		cmocka_unit_test(test_range_edges),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_wrong_shapes),
		cmocka_unit_test(test_unusable),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
