/* The list and watch protocol: URLs, pages, events. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "watcher/kube.h"
#include "wtest.h"

static int
parse_event(const char *line, struct kube_event *ev)
{
	int rc;

	logcap_begin();
	rc = kube_event_parse(line, strlen(line), ev);
	return rc;
}

static void
test_urls(void **state)
{
	char url[512];

	(void)state;
	assert_int_equal(
	    kube_list_url(url, sizeof(url), "http://h:1/", NULL, 500, ""), 0);
	assert_string_equal(url, "http://h:1/api/v1/services?limit=500");
	assert_int_equal(
	    kube_list_url(url, sizeof(url), "http://h:1", "", 2, "eyJ+/=="), 0);
	assert_string_equal(
	    url, "http://h:1/api/v1/services?limit=2&continue=eyJ%2B%2F%3D%3D");
	assert_int_equal(
	    kube_watch_url(url, sizeof(url), "http://h:1", NULL, "4&x", 300),
	    0);
	assert_string_equal(url,
	    "http://h:1/api/v1/services?watch=1&resourceVersion=4%26x"
	    "&allowWatchBookmarks=true&timeoutSeconds=300");
	assert_int_equal(kube_watch_url(url, 40, "http://h:1", NULL, "4", 300),
	    -ENAMETOOLONG);
	assert_int_equal(
	    kube_list_url(url, 30, "http://h:1", NULL, 5, ""), -ENAMETOOLONG);
}

static void
test_namespace_urls(void **state)
{
	char url[512];

	(void)state;
	assert_int_equal(
	    kube_list_url(url, sizeof(url), "https://h:6443", "web", 5, ""), 0);
	assert_string_equal(
	    url, "https://h:6443/api/v1/namespaces/web/services?limit=5");
	assert_int_equal(
	    kube_watch_url(url, sizeof(url), "https://h:6443/", "web", "7", 60),
	    0);
	assert_string_equal(url,
	    "https://h:6443/api/v1/namespaces/web/services?watch=1"
	    "&resourceVersion=7&allowWatchBookmarks=true&timeoutSeconds=60");
}

static void
test_events(void **state)
{
	struct kube_event ev;

	(void)state;
	assert_int_equal(parse_event("{\"type\":\"MODIFIED\",\"object\":{"
	                             "\"metadata\":{\"name\":\"a\","
	                             "\"resourceVersion\":\"17\"}}}",
	                     &ev),
	    0);
	logcap_end();
	assert_int_equal(ev.type, KUBE_MODIFIED);
	assert_string_equal(ev.rv, "17");
	kube_event_free(&ev);

	assert_int_equal(parse_event("{\"type\":\"BOOKMARK\",\"object\":{"
	                             "\"kind\":\"Service\",\"metadata\":{"
	                             "\"resourceVersion\":\"99\","
	                             "\"creationTimestamp\":null},"
	                             "\"spec\":{}}}",
	                     &ev),
	    0);
	logcap_end();
	assert_int_equal(ev.type, KUBE_BOOKMARK);
	assert_string_equal(ev.rv, "99");
	kube_event_free(&ev);

	assert_int_equal(parse_event("{\"type\":\"ERROR\",\"object\":{"
	                             "\"kind\":\"Status\",\"code\":410,"
	                             "\"reason\":\"Expired\",\"message\":"
	                             "\"too old resource version\"}}",
	                     &ev),
	    0);
	logcap_end();
	assert_int_equal(ev.type, KUBE_ERROR);
	assert_int_equal(ev.code, 410);
	assert_string_equal(ev.reason, "Expired");
	assert_null(ev.rv);
	kube_event_free(&ev);
}

static void
test_bad_events(void **state)
{
	static const char *const bad[] = {
		"{\"type\":\"ADDED\",\"object\":{}",
		"{\"type\":\"SYNC\",\"object\":{}}",
		"{\"type\":\"ADDED\",\"object\":[]}",
		"{\"object\":{}}",
		"[]",
	};
	struct kube_event ev;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_event(bad[i], &ev), -EBADMSG);
		assert_non_null(strstr(logcap_text(), "watch event"));
		logcap_end();
	}
}

static void
test_pages(void **state)
{
	static const char good[] = "{\"kind\":\"ServiceList\",\"metadata\":{"
	                           "\"resourceVersion\":\"5\",\"continue\":"
	                           "\"abc\"},\"items\":[{},{}]}";
	static const char last[] = "{\"metadata\":{\"resourceVersion\":"
	                           "\"6\"},\"items\":null}";
	static const char norv[] = "{\"metadata\":{},\"items\":[]}";
	struct kube_page pg;

	(void)state;
	assert_int_equal(kube_page_parse(good, strlen(good), &pg), 0);
	assert_string_equal(pg.rv, "5");
	assert_string_equal(pg.cont, "abc");
	assert_int_equal(json_array_size(pg.items), 2);
	kube_page_free(&pg);

	assert_int_equal(kube_page_parse(last, strlen(last), &pg), 0);
	assert_string_equal(pg.cont, "");
	assert_int_equal(json_array_size(pg.items), 0);
	kube_page_free(&pg);

	logcap_begin();
	assert_int_equal(kube_page_parse(norv, strlen(norv), &pg), -EBADMSG);
	assert_int_equal(kube_page_parse("{", 1, &pg), -EBADMSG);
	logcap_end();
}

static void
test_status_text(void **state)
{
	static const char st[] = "{\"kind\":\"Status\",\"message\":"
	                         "\"services is forbidden\",\"code\":403}";
	static const char html[] = "<html>\x1b[31mno\r\nmore";
	char out[64];

	(void)state;
	kube_status_text(st, strlen(st), out, sizeof(out));
	assert_string_equal(out, "services is forbidden");
	kube_status_text(html, strlen(html), out, sizeof(out));
	assert_string_equal(out, "<html>?[31mno");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_namespace_urls),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_bad_events),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_status_text),
	};

	log_init("test", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
