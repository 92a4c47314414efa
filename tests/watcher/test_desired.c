/* The desired state and what each Service change tells the claimer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "wtest.h"
#include "watcher/desired.h"

static struct kiwi_cidr range;
static struct svc_filter filter = { &range, 1, NULL, false };

static int
setup(void **state)
{
	(void)state;
	log_init("test", 0);
	assert_int_equal(cidr_parse("192.0.2.0/24", &range), 0);
	return 0;
}

/* A Service "ns/name" wanting ips (comma-separated) with ports json. */
static void
mksvc(struct service *s, const char *key, const char *ips, const char *ports)
{
	char text[8192], ns[64], name[128], list[1024] = "";
	const char *slash = strchr(key, '/'), *p;
	json_t *obj;
	size_t n;

	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	snprintf(name, sizeof(name), "%s", slash + 1);
	for (p = ips; *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s\"%.*s\"", list[0] ? "," : "", (int)n, p);
	}
	snprintf(text, sizeof(text),
	    "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\"},"
	    "\"spec\":{\"externalIPs\":[%s],\"ports\":%s}}",
	    ns, name, list, ports);
	assert_non_null(obj = json_loads(text, 0, NULL));
	assert_int_equal(service_parse(obj, &filter, s), 0);
	json_decref(obj);
}

static void
upsert(struct desired *d, const char *key, const char *ips, const char *ports,
    struct changes *ch)
{
	struct service s;

	changes_clear(ch);
	mksvc(&s, key, ips, ports);
	assert_int_equal(desired_upsert(d, &s, ch), 0);
}

static void
assert_change(const struct change *c, uint8_t type, const char *addr)
{
	char buf[KIWI_ADDRSTRLEN];

	assert_int_equal(c->type, type);
	assert_string_equal(addr_fmt(&c->set.addr, buf, sizeof(buf)), addr);
}

static void
test_shared_ip(void **state)
{
	struct desired d;
	struct changes ch;
	const struct kiwi_ipset *s;

	(void)state;
	desired_init(&d);
	changes_init(&ch);

	upsert(&d, "web/b", "192.0.2.1", "[{\"port\":80}]", &ch);
	assert_int_equal(ch.n, 1);
	assert_change(&ch.v[0], MSG_DESIRE, "192.0.2.1");
	assert_string_equal(ch.v[0].set.service, "web/b");

	/* A second Service on the same IP: the union, sorted by Service. */
	upsert(&d, "api/a", "192.0.2.1",
	    "[{\"port\":443},{\"port\":53,\"protocol\":\"UDP\"}]", &ch);
	assert_int_equal(ch.n, 1);
	s = &ch.v[0].set;
	assert_change(&ch.v[0], MSG_DESIRE, "192.0.2.1");
	assert_string_equal(s->service, "api/a");
	assert_int_equal(s->nrules, 3);
	assert_rule(s, 0, KIWI_PROTO_TCP, 443);
	assert_rule(s, 1, KIWI_PROTO_UDP, 53);
	assert_rule(s, 2, KIWI_PROTO_TCP, 80);
	/* The other one is named too, for the status. */
	assert_int_equal(s->nalso, 1);
	assert_string_equal(s->also[0], "web/b");

	/* Unchanged: nothing to say. */
	upsert(&d, "web/b", "192.0.2.1", "[{\"port\":80}]", &ch);
	assert_int_equal(ch.n, 0);

	/* Deleting one keeps the IP with the other's rules. */
	changes_clear(&ch);
	assert_int_equal(desired_remove(&d, "api/a", &ch), 0);
	assert_int_equal(ch.n, 1);
	assert_change(&ch.v[0], MSG_DESIRE, "192.0.2.1");
	assert_string_equal(ch.v[0].set.service, "web/b");
	assert_int_equal(ch.v[0].set.nrules, 1);
	assert_rule(&ch.v[0].set, 0, KIWI_PROTO_TCP, 80);

	/* Deleting the last one lets go of the IP. */
	changes_clear(&ch);
	assert_int_equal(desired_remove(&d, "web/b", &ch), 0);
	assert_int_equal(ch.n, 1);
	assert_change(&ch.v[0], MSG_UNDESIRE, "192.0.2.1");
	assert_int_equal(d.nips, 0);
	assert_int_equal(d.nsvcs, 0);

	/* Deleting what is not there says nothing. */
	changes_clear(&ch);
	assert_int_equal(desired_remove(&d, "web/b", &ch), 0);
	assert_int_equal(ch.n, 0);

	changes_free(&ch);
	desired_free(&d);
}

static void
test_port_and_ip_changes(void **state)
{
	struct desired d;
	struct changes ch;

	(void)state;
	desired_init(&d);
	changes_init(&ch);
	upsert(&d, "a/x", "192.0.2.1,192.0.2.2", "[{\"port\":80}]", &ch);
	assert_int_equal(ch.n, 2);
	assert_change(&ch.v[0], MSG_DESIRE, "192.0.2.1");
	assert_change(&ch.v[1], MSG_DESIRE, "192.0.2.2");

	/* A port change re-announces every IP of the Service. */
	upsert(&d, "a/x", "192.0.2.1,192.0.2.2", "[{\"port\":8080}]", &ch);
	assert_int_equal(ch.n, 2);
	assert_rule(&ch.v[0].set, 0, KIWI_PROTO_TCP, 8080);
	assert_rule(&ch.v[1].set, 0, KIWI_PROTO_TCP, 8080);

	/* Moving one IP: the old one goes, the new one comes. */
	upsert(&d, "a/x", "192.0.2.1,192.0.2.3", "[{\"port\":8080}]", &ch);
	assert_int_equal(ch.n, 2);
	assert_change(&ch.v[0], MSG_UNDESIRE, "192.0.2.2");
	assert_change(&ch.v[1], MSG_DESIRE, "192.0.2.3");

	/* An out-of-range IP is only noted, without rules. */
	upsert(&d, "a/x", "198.51.100.1", "[{\"port\":8080}]", &ch);
	assert_int_equal(ch.n, 3);
	assert_change(&ch.v[0], MSG_UNDESIRE, "192.0.2.1");
	assert_change(&ch.v[1], MSG_UNDESIRE, "192.0.2.3");
	assert_change(&ch.v[2], MSG_NOTE, "198.51.100.1");
	assert_int_equal(ch.v[2].why, ADDR_OUT_OF_RANGE);
	assert_int_equal(ch.v[2].set.nrules, 0);
	assert_string_equal(ch.v[2].set.service, "a/x");
	assert_int_equal(d.nsvcs, 1);
	/* A port change changes nothing for it. */
	upsert(&d, "a/x", "198.51.100.1", "[{\"port\":80}]", &ch);
	assert_int_equal(ch.n, 0);

	changes_free(&ch);
	desired_free(&d);
}

static void
test_dedup_and_cap(void **state)
{
	char ports[16384];
	struct desired d;
	struct changes ch;
	size_t n, i;

	(void)state;
	desired_init(&d);
	changes_init(&ch);
	upsert(&d, "a/x", "192.0.2.1",
	    "[{\"port\":80},{\"port\":80,\"protocol\":\"TCP\"},"
	    "{\"port\":80,\"protocol\":\"UDP\"}]",
	    &ch);
	assert_int_equal(ch.n, 1);
	assert_int_equal(ch.v[0].set.nrules, 2);

	n = snprintf(ports, sizeof(ports), "[");
	for (i = 1; i <= KIWI_MAX_RULES + 10; i++)
		n += snprintf(ports + n, sizeof(ports) - n, "%s{\"port\":%zu}",
		    i > 1 ? "," : "", i);
	snprintf(ports + n, sizeof(ports) - n, "]");
	logcap_begin();
	upsert(&d, "a/y", "192.0.2.1", ports, &ch);
	if (strstr(logcap_text(), "more than 256 rules") == NULL)
		fail_msg("no warning about the cap: %s", logcap_text());
	logcap_end();
	assert_int_equal(ch.n, 1);
	assert_int_equal(ch.v[0].set.nrules, KIWI_MAX_RULES);
	assert_rule(&ch.v[0].set, 2, KIWI_PROTO_TCP, 1);
	/* a/y's 80/TCP is a/x's rule already: one rule marks it for both. */
	assert_rule(&ch.v[0].set, 80, KIWI_PROTO_TCP, 79);
	assert_rule(&ch.v[0].set, 81, KIWI_PROTO_TCP, 81);
	assert_rule(&ch.v[0].set, KIWI_MAX_RULES - 1, KIWI_PROTO_TCP,
	    KIWI_MAX_RULES - 1);

	changes_free(&ch);
	desired_free(&d);
}

static void
test_rebuild_matches_incremental(void **state)
{
	struct desired inc, full;
	struct changes ch;
	struct service s;
	static const char *const svcs[][3] = {
		{ "c/one", "192.0.2.5,192.0.2.1", "[{\"port\":1}]" },
		{ "a/two", "192.0.2.1", "[{\"port\":2}]" },
		{ "b/three", "192.0.2.9,192.0.2.5", "[{\"port\":3}]" },
		{ "b/none", "198.51.100.1", "[{\"port\":4}]" },
	};
	size_t i;

	(void)state;
	desired_init(&inc);
	desired_init(&full);
	changes_init(&ch);
	for (i = 0; i < 4; i++) {
		upsert(&inc, svcs[i][0], svcs[i][1], svcs[i][2], &ch);
		mksvc(&s, svcs[i][0], svcs[i][1], svcs[i][2]);
		assert_int_equal(desired_put(&full, &s), 0);
	}
	assert_int_equal(desired_rebuild(&full), 0);
	/* b/none names only an out-of-range IP: kept, for its NOTE. */
	assert_int_equal(full.nsvcs, 4);
	assert_int_equal(full.nips, 4);
	assert_int_equal(inc.nips, 4);
	for (i = 0; i < full.nips; i++) {
		assert_true(ipset_equal(&full.ips[i].set, &inc.ips[i].set));
		assert_int_equal(full.ips[i].why, inc.ips[i].why);
	}
	assert_int_equal(full.ips[3].why, ADDR_OUT_OF_RANGE);
	assert_string_equal(full.ips[0].set.service, "a/two");
	assert_int_equal(full.ips[0].set.nrules, 2);
	changes_free(&ch);
	desired_free(&inc);
	desired_free(&full);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_ip),
		cmocka_unit_test(test_port_and_ip_changes),
		cmocka_unit_test(test_dedup_and_cap),
		cmocka_unit_test(test_rebuild_matches_incremental),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
