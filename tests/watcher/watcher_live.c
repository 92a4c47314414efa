/*
 * The watcher against the Kubernetes API fixture: a child runs
 * watcher_main, this process plays supervisor and claimer, and drives
 * the fixture through its control API.  KUBE_URL names the fixture,
 * which watcher_live.sh starts with one seeded Service and bookmarks.
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
#include "wtest.h"

#define PAGE 2
#define WAIT_MS 5000

static const char *kube_url;
static pid_t child = -1;
static int sup_fd = -1, claimer_fd = -1;
static char last_rv[64]; /* of the last write made through the fixture */

struct buf {
	char data[1 << 20];
	size_t len;
};

static size_t
buf_write(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;

	if (len > sizeof(b->data) - 1 - b->len)
		return 0;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* One control request to the fixture; its JSON answer. */
static json_t *
fx(const char *method, const char *path, const char *body)
{
	static struct buf b;
	char url[1024];
	long status = 0;
	json_t *j;
	CURL *e;

	b.len = 0;
	snprintf(url, sizeof(url), "%s%s", kube_url, path);
	assert_non_null(e = curl_easy_init());
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	if (status < 200 || status > 299)
		fail_msg("%s %s: HTTP %ld: %s", method, path, status, b.data);
	assert_non_null(j = json_loads(b.data, 0, NULL));
	return j;
}

/* A write through the fixture; remember the resourceVersion it made. */
static void
fx_write(const char *method, const char *ns, const char *name, const char *body)
{
	char path[256];
	json_t *j;

	snprintf(path, sizeof(path), "/fixture/services/%s/%s", ns, name);
	j = fx(method, path, body);
	snprintf(last_rv, sizeof(last_rv), "%s",
	    json_string_value(json_object_get(
	        json_object_get(j, "metadata"), "resourceVersion")));
	json_decref(j);
}

static void
put_svc(const char *ns, const char *name, const char *spec)
{
	char body[4096];

	snprintf(body, sizeof(body), "{\"spec\":%s}", spec);
	fx_write("PUT", ns, name, body);
}

static void
del_svc(const char *ns, const char *name)
{
	fx_write("DELETE", ns, name, NULL);
}

static void
fx_post(const char *path)
{
	json_decref(fx("POST", path, NULL));
}

/* The next message from the watcher, within ms; fails otherwise. */
static int
next_msg(struct kiwi_msg *m, int ms)
{
	struct pollfd p = { .fd = claimer_fd, .events = POLLIN };
	int rc;

	if (poll(&p, 1, ms) == 0)
		return 0;
	rc = msg_recv(claimer_fd, m);
	assert_int_equal(rc, 1);
	return 1;
}

static void
expect_type(uint8_t type, struct kiwi_msg *m)
{
	if (!next_msg(m, WAIT_MS))
		fail_msg("no %s from the watcher", msg_type_name(type));
	if (m->type != type)
		fail_msg("got %s, wanted %s", msg_type_name(m->type),
		    msg_type_name(type));
}

static void
expect_quiet(int ms)
{
	struct kiwi_msg m;

	if (next_msg(&m, ms))
		fail_msg("unexpected %s", msg_type_name(m.type));
}

/* A DESIRE for ip; the caller frees s. */
static void
expect_desire(const char *ip, struct kiwi_ipset *s)
{
	static struct kiwi_msg m;
	char buf[KIWI_ADDRSTRLEN];

	expect_type(MSG_DESIRE, &m);
	assert_int_equal(msg_decode_ipset(m.body, m.len, s), 0);
	assert_string_equal(addr_fmt(&s->addr, buf, sizeof(buf)), ip);
}

static void
expect_undesire(const char *ip)
{
	static struct kiwi_msg m;
	char buf[KIWI_ADDRSTRLEN];
	struct kiwi_addr a;

	expect_type(MSG_UNDESIRE, &m);
	assert_int_equal(msg_decode_addr(m.body, m.len, &a), 0);
	assert_string_equal(addr_fmt(&a, buf, sizeof(buf)), ip);
}

/* The API requests the fixture saw: lists, and watches from rv. */
struct seen {
	int lists;
	int continues;
	int watches;
	char watch_rv[64];
	char limit[16];
};

static void
requests(struct seen *s)
{
	json_t *all = fx("GET", "/fixture/requests", NULL), *r, *q;
	const char *rv;
	size_t i;

	memset(s, 0, sizeof(*s));
	json_array_foreach(all, i, r)
	{
		q = json_object_get(r, "query");
		if (json_object_get(q, "watch") == NULL) {
			s->lists++;
			s->continues += json_object_get(q, "continue") != NULL;
			snprintf(s->limit, sizeof(s->limit), "%s",
			    json_string_value(json_object_get(q, "limit")));
			continue;
		}
		s->watches++;
		rv = json_string_value(json_object_get(q, "resourceVersion"));
		snprintf(s->watch_rv, sizeof(s->watch_rv), "%s", rv);
	}
	json_decref(all);
}

/* Wait until the watcher has opened a watch since the last clear. */
static void
wait_watch(struct seen *s)
{
	int64_t end = now_ms() + WAIT_MS;

	do {
		requests(s);
		if (s->watches > 0)
			return;
		usleep(50000);
	} while (now_ms() < end);
	fail_msg("the watcher did not watch again");
}

static void
run_child(int sfd, int cfd)
{
	struct kiwi_config cfg;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	config_defaults(&cfg);
	snprintf(cfg.kube_endpoint, sizeof(cfg.kube_endpoint), "%s", kube_url);
	if (cidr_parse("192.0.2.0/24", &cfg.cidrs[0]) < 0)
		_exit(2);
	cfg.ncidrs = 1;
	log_init("watcher", 1);
	watcher_set_page_limit(PAGE);
	_exit(watcher_main(&cfg, sfd, cfd));
}

static int
setup(void **state)
{
	int sp[2], cp[2];

	(void)state;
	log_init("test", 1);
	if ((kube_url = getenv("KUBE_URL")) == NULL)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, cp) < 0)
		return -1;
	if ((child = fork()) < 0)
		return -1;
	if (child == 0) {
		close(sp[0]);
		close(cp[0]);
		run_child(sp[1], cp[1]);
	}
	close(sp[1]);
	close(cp[1]);
	sup_fd = sp[0];
	claimer_fd = cp[0];
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}

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
	assert_rule(&s, 0, KIWI_PROTO_TCP, 80, "default/seeded");
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
	assert_rule(&s, 0, KIWI_PROTO_TCP, 80, "web/new");
	assert_rule(&s, 1, KIWI_PROTO_UDP, 53, "web/new");
	ipset_free(&s);

	put_svc("web", "new",
	    "{\"externalIPs\":[\"192.0.2.20\"],\"ports\":[{\"port\":8080}]}");
	expect_desire("192.0.2.20", &s);
	assert_int_equal(s.nrules, 1);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 8080, "web/new");
	ipset_free(&s);

	/* A change that touches no address or port says nothing. */
	put_svc("web", "new",
	    "{\"externalIPs\":[\"192.0.2.20\"],\"ports\":[{\"port\":8080}],"
	    "\"sessionAffinity\":\"ClientIP\"}");
	expect_quiet(500);

	del_svc("web", "new");
	expect_undesire("192.0.2.20");
}

static void
test_out_of_range(void **state)
{
	struct kiwi_ipset s;

	(void)state;
	put_svc("web", "outside",
	    "{\"externalIPs\":[\"198.51.100.7\",\"not-an-ip\"],"
	    "\"ports\":[{\"port\":80}]}");
	/* The next event arriving alone shows the last one said nothing. */
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
	assert_string_equal(seen.watch_rv, last_rv);
	expect_quiet(200);

	/* And the new watch works. */
	put_svc("web", "probe",
	    "{\"externalIPs\":[\"192.0.2.30\"],\"ports\":[{\"port\":82}]}");
	expect_desire("192.0.2.30", &s);
	assert_rule(&s, 0, KIWI_PROTO_TCP, 82, "web/probe");
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
	assert_string_not_equal(bumped, last_rv);
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

	assert_int_equal(kill(child, SIGSTOP), 0);
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
	assert_int_equal(kill(child, SIGCONT), 0);
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
		assert_rule(&s, 0, KIWI_PROTO_TCP, 443, s.service);
		ipset_free(&s);
	}
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
	assert_int_equal(msg_send(sup_fd, MSG_SHUTDOWN, NULL, 0), 0);
	while ((r = waitpid(child, &st, WNOHANG)) == 0 && now_ms() < end)
		usleep(10000);
	assert_int_equal(r, child);
	child = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_list),
		cmocka_unit_test(test_add_change_delete),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_drop_rewatches),
		cmocka_unit_test(test_bookmark_advances),
		cmocka_unit_test(test_expired_relists_in_pages),
		cmocka_unit_test(test_shutdown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
