#include "watcher.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "auth.h"
#include "desired.h"
#include "http.h"
#include "kube.h"
#include "linesplit.h"
#include "service.h"
#include "watcher_int.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* client-go's range for a watch's server-side timeout. */
#define WATCH_MIN_S 300
#define WATCH_MAX_S 600
/* Beyond timeoutSeconds, how long a silent stream may stay open. */
#define WATCH_SLACK_MS 60000
/* Long lists and reconciles say how far they are this often. */
#define PROGRESS_MS 2000
/* How often the counters go to the claimer. */
#define STATS_MS 5000
#define LIST_TIMEOUT_MS 60000
/* A watch that lasted this long was healthy even without events. */
#define WATCH_HEALTHY_MS 10000
#define URL_MAX (KIWI_URL_MAX + 3 * KUBE_CONTINUE_MAX + 256)

enum phase {
	PH_LIST,
	PH_WATCH,
};

struct watcher {
	const struct kiwi_config *cfg;
	struct kube_auth auth;
	bool reread; /* a 401: read the token file before the next request */
	struct svc_filter filter;
	struct addr_seen seen;
	int sup_fd;
	int claimer_fd;
	struct http http;
	enum phase phase;
	int64_t retry_at; /* when to start the next request */
	unsigned int backoff_ms;
	bool stop;
	int status; /* exit status once stopping */

	char rv[KUBE_RV_MAX];

	/* list */
	struct desired cur;
	struct desired next;
	char cont[KUBE_CONTINUE_MAX];
	char *page;
	size_t pagelen;
	size_t listed;
	int64_t progress_at; /* when the list last said how far it is */
	uint64_t stats[KIWI_STATS_N]; /* for the claimer's metrics */
	int64_t stats_at; /* when they were last sent */

	/* watch */
	struct linesplit ls;
	struct changes ch;
	int64_t watch_start;
	unsigned int watch_s; /* the timeoutSeconds asked for */
	unsigned int nevents;
	bool expired; /* the watch said 410: relist */
};

static unsigned int page_limit = KUBE_PAGE_LIMIT;
static unsigned int watch_min_s = WATCH_MIN_S, watch_max_s = WATCH_MAX_S;

/* What watcher_prepare read, until watcher_main takes it. */
static struct kube_auth prepared;
static bool have_prepared;

void
watcher_set_page_limit(unsigned int limit)
{
	page_limit = limit > 0 ? limit : KUBE_PAGE_LIMIT;
}

void
watcher_set_watch_timeout(unsigned int min_s, unsigned int max_s)
{
	watch_min_s = min_s > 0 ? min_s : WATCH_MIN_S;
	watch_max_s = max_s >= watch_min_s ? max_s : watch_min_s;
}

int
watcher_prepare(const struct kiwi_config *cfg)
{
	kube_auth_free(&prepared);
	have_prepared = kube_auth_load(cfg, &prepared) == 0;
	return have_prepared ? 0 : -EINVAL;
}

/* Stop with an exit status; 1 is a failure. */
static void
halt(struct watcher *w, int status)
{
	w->stop = true;
	w->status = status;
}

static unsigned int
jitter(unsigned int ms)
{
	return ms / 2 + (unsigned int)(random() % (ms / 2 + 1));
}

/* Try again after the current backoff, and back off further. */
static void
retry_later(struct watcher *w)
{
	unsigned int d = jitter(w->backoff_ms);

	w->retry_at = now_ms() + d;
	w->backoff_ms *= 2;
	if (w->backoff_ms > BACKOFF_MAX_MS)
		w->backoff_ms = BACKOFF_MAX_MS;
}

/* Start the list over, from its first page. */
static void
list_reset(struct watcher *w)
{
	w->phase = PH_LIST;
	w->cont[0] = '\0';
	desired_free(&w->next);
	w->listed = 0;
	w->progress_at = now_ms();
}

static void
relist(struct watcher *w, const char *why)
{
	log_info("relisting services: %s", why);
	list_reset(w);
}

/* DESIRE, or NOTE for an address that is not to be claimed. */
static int
send_ipstate(struct watcher *w, const struct kiwi_ipset *set, uint8_t why)
{
	struct kiwi_note n = { .addr = set->addr, .why = why };

	if (why == ADDR_CLAIMABLE)
		return msg_send_ipset(w->claimer_fd, MSG_DESIRE, set);
	memcpy(n.service, set->service, sizeof(n.service));
	return msg_send_note(w->claimer_fd, &n);
}

/*
 * Tell the claimer each change; the claimer gone ends the watcher.
 * XXX a full socket blocks here, and SHUTDOWN waits until the claimer
 * drains it.
 */
static int
send_changes(struct watcher *w)
{
	char buf[KIWI_ADDRSTRLEN];
	struct change *c;
	size_t i;
	int rc = 0;

	for (i = 0; i < w->ch.n && rc == 0; i++) {
		c = &w->ch.v[i];
		log_debug("%s %s (%zu rules, %s)", msg_type_name(c->type),
		    addr_fmt(&c->set.addr, buf, sizeof(buf)), c->set.nrules,
		    c->type != MSG_UNDESIRE ? c->set.service : "-");
		if (c->type != MSG_UNDESIRE)
			rc = send_ipstate(w, &c->set, c->why);
		else
			rc =
			    msg_send_addr(w->claimer_fd, c->type, &c->set.addr);
	}
	changes_clear(&w->ch);
	if (rc < 0) {
		log_warnc(rc, "sending to the claimer");
		halt(w, 1);
	}
	return rc;
}

static int
send_sync(struct watcher *w)
{
	size_t i;
	int rc;

	if ((rc = msg_send(w->claimer_fd, MSG_SYNC_BEGIN, NULL, 0)) < 0)
		goto fail;
	for (i = 0; i < w->cur.nips; i++)
		if ((rc = send_ipstate(
		         w, &w->cur.ips[i].set, w->cur.ips[i].why)) < 0)
			goto fail;
	if ((rc = msg_send(w->claimer_fd, MSG_SYNC_END, NULL, 0)) < 0)
		goto fail;
	return 0;
fail:
	log_warnc(rc, "sending to the claimer");
	halt(w, 1);
	return rc;
}

static int
apply_service(struct watcher *w, const struct kube_event *ev)
{
	struct service svc;
	char key[KIWI_NAME_LEN];
	int rc;

	if (ev->type == KUBE_DELETED) {
		if (service_key(ev->object, key, sizeof(key)) < 0)
			return 0;
		rc = desired_remove(&w->cur, key, &w->ch);
	} else {
		rc = service_parse(ev->object, &w->filter, &svc);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			return 0;
		rc = desired_upsert(&w->cur, &svc, &w->ch);
	}
	if (rc < 0) {
		log_warnc(rc, "applying a watch event");
		changes_clear(&w->ch);
		return rc;
	}
	return send_changes(w);
}

static int
watch_error(struct watcher *w, const struct kube_event *ev)
{
	if (ev->code == 410) {
		w->expired = true;
		return -ECANCELED;
	}
	log_warnx("watch from resourceVersion %s: error %ld %s: %s", w->rv,
	    ev->code, ev->reason, ev->message);
	return -EPROTO;
}

static int
on_event(void *arg, char *line, size_t len)
{
	struct watcher *w = arg;
	struct kube_event ev;
	int rc = 0;

	if ((rc = kube_event_parse(line, len, &ev)) < 0)
		return rc;
	if (ev.type == KUBE_ERROR)
		rc = watch_error(w, &ev);
	else if (ev.type != KUBE_BOOKMARK)
		rc = apply_service(w, &ev);
	if (rc == 0 && ev.rv != NULL)
		snprintf(w->rv, sizeof(w->rv), "%s", ev.rv);
	if (rc == 0) {
		w->nevents++;
		w->stats[STAT_W_EVENTS]++;
	}
	kube_event_free(&ev);
	return rc;
}

static int
on_watch_body(void *arg, const char *p, size_t n)
{
	struct watcher *w = arg;
	int rc;

	rc = linesplit_feed(&w->ls, p, n, on_event, w);
	if (rc == -EMSGSIZE)
		log_warnx("watch event longer than %u bytes", LINESPLIT_MAX);
	return rc;
}

static int
on_list_body(void *arg, const char *p, size_t n)
{
	struct watcher *w = arg;
	char *np;

	if (n > KUBE_PAGE_MAX - w->pagelen) {
		log_warnx(
		    "service list page larger than %u bytes", KUBE_PAGE_MAX);
		return -EMSGSIZE;
	}
	if ((np = realloc(w->page, w->pagelen + n + 1)) == NULL)
		return -ENOMEM;
	w->page = np;
	memcpy(w->page + w->pagelen, p, n);
	w->pagelen += n;
	w->page[w->pagelen] = '\0';
	return 0;
}

static int
start_list(struct watcher *w)
{
	char url[URL_MAX];
	int rc;

	w->pagelen = 0;
	rc = kube_list_url(url, sizeof(url), w->auth.server, w->cfg->namespace,
	    page_limit, w->cont);
	if (rc == 0)
		rc = http_get(&w->http, url, LIST_TIMEOUT_MS, on_list_body, w);
	return rc;
}

static int
start_watch(struct watcher *w)
{
	unsigned int t;
	char url[URL_MAX];
	int rc;

	t = watch_min_s +
	    (unsigned int)(random() % (watch_max_s - watch_min_s + 1));
	linesplit_reset(&w->ls);
	w->nevents = 0;
	w->expired = false;
	w->watch_start = now_ms();
	w->watch_s = t;
	rc = kube_watch_url(
	    url, sizeof(url), w->auth.server, w->cfg->namespace, w->rv, t);
	if (rc == 0)
		rc = http_get(&w->http, url, t * 1000L + WATCH_SLACK_MS,
		    on_watch_body, w);
	if (rc == 0)
		log_info("watching services from resourceVersion %s", w->rv);
	return rc;
}

static void
start(struct watcher *w)
{
	int rc;

	kube_auth_refresh(&w->auth, w->reread);
	w->reread = false;
	if (w->phase == PH_LIST)
		rc = start_list(w);
	else
		rc = start_watch(w);
	if (rc == -ENAMETOOLONG)
		log_warnx("request URL too long for %s", w->auth.server);
	if (rc < 0)
		retry_later(w);
}

/* A list page arrived: keep its Services, then ask for the next. */
static int
list_page(struct watcher *w)
{
	struct kube_page pg;
	struct service svc;
	json_t *item;
	size_t i;
	int rc;

	if ((rc = kube_page_parse(w->page, w->pagelen, &pg)) < 0)
		return rc;
	json_array_foreach(pg.items, i, item)
	{
		w->listed++;
		rc = service_parse(item, &w->filter, &svc);
		if (rc == 0)
			rc = desired_put(&w->next, &svc);
		if (rc == -ENOMEM)
			break;
		rc = 0;
	}
	snprintf(w->cont, sizeof(w->cont), "%s", pg.cont);
	snprintf(w->rv, sizeof(w->rv), "%s", pg.rv);
	kube_page_free(&pg);
	/* A list of thousands takes a while: say how far, now and then. */
	if (w->cont[0] != '\0' && now_ms() - w->progress_at >= PROGRESS_MS) {
		w->progress_at = now_ms();
		log_info("listing services: %zu so far", w->listed);
	}
	return rc;
}

/* The last page arrived: the list is the new state. */
static int
list_done(struct watcher *w)
{
	struct desired old = w->cur;
	int rc;

	if ((rc = desired_rebuild(&w->next)) < 0)
		return rc;
	w->cur = w->next;
	desired_init(&w->next);
	desired_free(&old);
	log_info("listed %zu services, %zu addresses named, at "
	         "resourceVersion %s",
	    w->listed, w->cur.nips, w->rv);
	w->phase = PH_WATCH;
	w->retry_at = 0;
	return send_sync(w);
}

/*
 * The API refused a request: say so.  A 401 may mean the token rotated,
 * so the next request reads the token file first.
 */
static void
log_refused(struct watcher *w, const char *what, const struct http_result *r)
{
	char text[256];

	kube_status_text(r->errbody, r->errlen, text, sizeof(text));
	if (r->status == 401 && w->auth.token_file[0] != '\0') {
		w->reread = true;
		log_warnx("%s: HTTP 401, reading %s again and retrying: %s",
		    what, w->auth.token_file, text);
		return;
	}
	log_warnx("%s: HTTP %ld, retrying: %s", what, r->status, text);
}

static void
list_finished(struct watcher *w, const struct http_result *r)
{
	if (r->code == CURLE_OK && r->status == 200) {
		if (list_page(w) == 0 &&
		    (w->cont[0] != '\0' || list_done(w) == 0))
			return;
		if (!w->stop)
			retry_later(w);
		return;
	}
	if (r->status == 410 && w->cont[0] != '\0') {
		relist(w, "the list's continue token expired");
		return;
	}
	if (r->status != 0)
		log_refused(w, "listing services", r);
	else if (r->body_err == 0)
		log_warnx(
		    "listing services failed, retrying: %s", r->curl_error);
	w->stats[STAT_W_API_ERRORS]++;
	list_reset(w);
	retry_later(w);
}

/*
 * A watch that carried events, or that stayed open a while, shows the
 * server is fine.  "A while" is shorter for short watches (tests).
 */
static bool
watch_healthy(const struct watcher *w, const struct http_result *r)
{
	int64_t enough = WATCH_HEALTHY_MS;

	if (r->status != 200)
		return false;
	if (enough > w->watch_s * 500L)
		enough = w->watch_s * 500L;
	return w->nevents > 0 || now_ms() - w->watch_start >= enough;
}

static void
watch_finished(struct watcher *w, const struct http_result *r)
{
	if (watch_healthy(w, r))
		w->backoff_ms = BACKOFF_MIN_MS;
	if (w->stop)
		return;
	if (w->expired || r->status == 410) {
		relist(w, "the watch's resourceVersion expired");
		if (w->nevents > 0)
			w->retry_at = 0;
		else
			retry_later(w);
		return;
	}
	if (r->code == CURLE_OK && watch_healthy(w, r)) {
		/* The server ended the watch at its timeout: carry on. */
		log_debug("the watch ended cleanly after %u events; watching "
		          "again",
		    w->nevents);
		w->retry_at = 0;
		return;
	}
	if (r->status != 200 && r->status != 0)
		log_refused(w, "watching services", r);
	else if (r->body_err == 0 && r->code != CURLE_OK)
		log_warnx("watch from resourceVersion %s broke, resuming: %s",
		    w->rv, r->curl_error);
	w->stats[STAT_W_API_ERRORS]++;
	w->stats[STAT_W_RECONNECTS]++;
	retry_later(w);
}

static void
finished(struct watcher *w, const struct http_result *r)
{
	if (r->body_err == -ENOMEM) {
		log_warnc(r->body_err, "reading from the Kubernetes API");
		halt(w, 1);
		return;
	}
	if (w->phase == PH_LIST)
		list_finished(w, r);
	else
		watch_finished(w, r);
}

static void
read_sup(struct watcher *w)
{
	struct kiwi_msg m;
	int rc;

	while ((rc = msg_recv(w->sup_fd, &m)) == 1) {
		if (m.type != MSG_SHUTDOWN)
			fatalx("unexpected %s from the supervisor",
			    msg_type_name(m.type));
		log_debug("shutting down");
		halt(w, 0);
	}
	if (rc == 0) {
		log_debug("supervisor closed the channel, shutting down");
		halt(w, 0);
	} else if (rc == -EBADMSG)
		fatalx("malformed message from the supervisor");
	else if (rc != -EAGAIN) {
		log_warnc(rc, "reading from the supervisor");
		halt(w, 1);
	}
}

static int
wait_timeout(const struct watcher *w)
{
	int64_t left;

	if (http_busy(&w->http))
		return 1000;
	left = w->retry_at - now_ms();
	if (left < 0)
		return 0;
	return left > 1000 ? 1000 : (int)left;
}

/* The counters, for the claimer's metrics; losing some is harmless. */
static void
send_stats(struct watcher *w)
{
	int rc;

	if (now_ms() - w->stats_at < STATS_MS)
		return;
	w->stats_at = now_ms();
	if ((rc = msg_send_stats(w->claimer_fd, w->stats)) < 0)
		log_debug("cannot send the counters: %s", strerror(-rc));
}

static void
step(struct watcher *w)
{
	struct http_result r;
	int rc;

	if (!http_busy(&w->http) && now_ms() >= w->retry_at)
		start(w);
	rc = http_wait(&w->http, w->sup_fd, wait_timeout(w));
	if (rc < 0) {
		halt(w, 1);
		return;
	}
	if (rc == 1)
		read_sup(w);
	if (!w->stop && http_done(&w->http, &r))
		finished(w, &r);
	send_stats(w);
}

/* Take what watcher_prepare read, or read it now when it was not called. */
static int
take_auth(struct watcher *w, const struct kiwi_config *cfg)
{
	if (!have_prepared && watcher_prepare(cfg) < 0)
		return -EINVAL;
	w->auth = prepared;
	memset(&prepared, 0, sizeof(prepared));
	have_prepared = false;
	if (w->auth.insecure)
		log_warnx("insecure-skip-tls-verify: the certificate of %s "
		          "is not checked",
		    w->auth.server);
	if (w->auth.token.n > 0 && strncmp(w->auth.server, "http:", 5) == 0)
		log_warnx("sending a bearer token to %s over plain HTTP",
		    w->auth.server);
	return 0;
}

static int
setup(struct watcher *w, const struct kiwi_config *cfg, int sup_fd,
    int claimer_fd)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->filter.cidrs = cfg->cidrs;
	w->filter.ncidrs = cfg->ncidrs;
	w->filter.seen = &w->seen;
	w->filter.lb_ips = cfg->loadbalancer_ips;
	w->sup_fd = sup_fd;
	w->claimer_fd = claimer_fd;
	w->phase = PH_LIST;
	w->backoff_ms = BACKOFF_MIN_MS;
	desired_init(&w->cur);
	desired_init(&w->next);
	changes_init(&w->ch);
	linesplit_init(&w->ls, LINESPLIT_MAX);
	srandom((unsigned int)(now_ms() ^ getpid()));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("curl_global_init failed");
		return -ENOMEM;
	}
	if (http_init(&w->http) < 0 || take_auth(w, cfg) < 0)
		return -EINVAL;
	http_set_auth(&w->http, &w->auth);
	return 0;
}

static void
teardown(struct watcher *w)
{
	http_free(&w->http);
	curl_global_cleanup();
	desired_free(&w->cur);
	desired_free(&w->next);
	changes_free(&w->ch);
	linesplit_free(&w->ls);
	free(w->page);
	addr_seen_free(&w->seen);
	kube_auth_free(&w->auth);
}

int
watcher_main(const struct kiwi_config *cfg, int sup_fd, int claimer_fd)
{
	struct watcher w;

	if (setup(&w, cfg, sup_fd, claimer_fd) < 0) {
		teardown(&w);
		return 1;
	}
	log_info("watching services%s%s at %s (%s)",
	    cfg->namespace[0] ? " in namespace " : "", cfg->namespace,
	    w.auth.server, w.auth.desc);
	while (!w.stop)
		step(&w);
	teardown(&w);
	return w.status;
}
