#include "wlive.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
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
#include "common/util.h"
#include "watcher/watcher.h"
#include "watcher/watcher_int.h"

static const char *kube_url;
static int claimer_fd = -1;
pid_t wlive_child = -1;
int wlive_sup_fd = -1;
char wlive_last_rv[64];
uint64_t wlive_stats[KIWI_STATS_N];

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

json_t *
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
	if (getenv("KUBE_CA") != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, getenv("KUBE_CA"));
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
	snprintf(wlive_last_rv, sizeof(wlive_last_rv), "%s",
	    json_string_value(json_object_get(
	        json_object_get(j, "metadata"), "resourceVersion")));
	json_decref(j);
}

void
put_obj(const char *ns, const char *name, const char *body)
{
	fx_write("PUT", ns, name, body);
}

void
put_svc(const char *ns, const char *name, const char *spec)
{
	char body[4096];

	snprintf(body, sizeof(body), "{\"spec\":%s}", spec);
	fx_write("PUT", ns, name, body);
}

void
del_svc(const char *ns, const char *name)
{
	fx_write("DELETE", ns, name, NULL);
}

void
fx_post(const char *path)
{
	json_decref(fx("POST", path, NULL));
}

/*
 * The next message that is not the watcher's counters, which come
 * every few seconds whatever else happens; the latest are kept.
 */
int
next_msg(struct kiwi_msg *m, int ms)
{
	struct pollfd p = { .fd = claimer_fd, .events = POLLIN };
	int64_t end = now_ms() + ms;
	int rc;

	do {
		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			return 0;
		rc = msg_recv(claimer_fd, m);
		assert_int_equal(rc, 1);
		if (m->type != MSG_STATS)
			return 1;
		assert_int_equal(
		    msg_decode_stats(m->body, m->len, wlive_stats), 0);
	} while (now_ms() < end);
	return 0;
}

void
expect_type(uint8_t type, struct kiwi_msg *m)
{
	if (!next_msg(m, WLIVE_WAIT_MS))
		fail_msg("no %s from the watcher", msg_type_name(type));
	if (m->type != type)
		fail_msg("got %s, wanted %s", msg_type_name(m->type),
		    msg_type_name(type));
}

void
expect_quiet(int ms)
{
	struct kiwi_msg m;

	if (next_msg(&m, ms))
		fail_msg("unexpected %s", msg_type_name(m.type));
}

void
expect_desire(const char *ip, struct kiwi_ipset *s)
{
	static struct kiwi_msg m;
	char buf[KIWI_ADDRSTRLEN];

	expect_type(MSG_DESIRE, &m);
	assert_int_equal(msg_decode_ipset(m.body, m.len, s), 0);
	assert_string_equal(addr_fmt(&s->addr, buf, sizeof(buf)), ip);
}

void
expect_undesire(const char *ip)
{
	static struct kiwi_msg m;
	char buf[KIWI_ADDRSTRLEN];
	struct kiwi_addr a;

	expect_type(MSG_UNDESIRE, &m);
	assert_int_equal(msg_decode_addr(m.body, m.len, &a), 0);
	assert_string_equal(addr_fmt(&a, buf, sizeof(buf)), ip);
}

/* What every request tells, whether a list or a watch. */
static void
note(struct seen *s, const json_t *r)
{
	const char *auth = json_string_value(json_object_get(r, "auth"));

	snprintf(s->auth, sizeof(s->auth), "%s", auth ? auth : "");
	snprintf(s->path, sizeof(s->path), "%s",
	    json_string_value(json_object_get(r, "path")));
	s->refused += auth != NULL && strcmp(auth, "refused") == 0;
}

void
requests(struct seen *s)
{
	json_t *all = fx("GET", "/fixture/requests", NULL), *r, *q;
	const char *rv;
	size_t i;

	memset(s, 0, sizeof(*s));
	json_array_foreach(all, i, r)
	{
		q = json_object_get(r, "query");
		note(s, r);
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

void
wait_watch(struct seen *s)
{
	int64_t end = now_ms() + WLIVE_WAIT_MS;

	do {
		requests(s);
		if (s->watches > 0)
			return;
		usleep(50000);
	} while (now_ms() < end);
	fail_msg("the watcher did not watch again");
}

static void
child_cidrs(struct kiwi_config *cfg)
{
	const char *env = getenv("W_CIDRS");
	char buf[512], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", env ? env : "192.0.2.0/24");
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save))
		if (cidr_parse(tok, &cfg->cidrs[cfg->ncidrs++]) < 0)
			_exit(2);
}

/* The configuration the supervisor would pass, from the environment. */
static void
child_config(struct kiwi_config *cfg)
{
	const char *kc = getenv("W_KUBECONFIG"), *ns = getenv("W_NAMESPACE");
	const char *wt = getenv("W_WATCH_TIMEOUT");
	unsigned int lo, hi;

	config_defaults(cfg);
	if (kc != NULL)
		snprintf(cfg->kubeconfig, sizeof(cfg->kubeconfig), "%s", kc);
	else if (getenv("W_IN_CLUSTER") == NULL) {
		snprintf(cfg->kube_endpoint, sizeof(cfg->kube_endpoint), "%s",
		    kube_url);
		cfg->kube_endpoint_given = true;
	}
	if (ns != NULL)
		snprintf(cfg->namespace, sizeof(cfg->namespace), "%s", ns);
	cfg->loadbalancer_ips = getenv("W_LB") != NULL;
	child_cidrs(cfg);
	if (wt != NULL && sscanf(wt, "%u:%u", &lo, &hi) == 2)
		watcher_set_watch_timeout(lo, hi);
}

static void
run_child(int sfd, int cfd)
{
	struct kiwi_config cfg;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	log_init("watcher", 1);
	child_config(&cfg);
	watcher_set_page_limit(WLIVE_PAGE);
	if (watcher_prepare(&cfg) < 0)
		_exit(3);
	_exit(watcher_main(&cfg, sfd, cfd));
}

int
wlive_setup(void **state)
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
	if ((wlive_child = fork()) < 0)
		return -1;
	if (wlive_child == 0) {
		close(sp[0]);
		close(cp[0]);
		run_child(sp[1], cp[1]);
	}
	close(sp[1]);
	close(cp[1]);
	wlive_sup_fd = sp[0];
	claimer_fd = cp[0];
	return 0;
}

int
wlive_teardown(void **state)
{
	(void)state;
	if (wlive_child > 0) {
		kill(wlive_child, SIGKILL);
		waitpid(wlive_child, NULL, 0);
	}
	return 0;
}
