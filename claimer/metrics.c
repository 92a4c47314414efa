/*
 * --metrics-address: a minimal HTTP/1.0 responder in the claimer's
 * loop.  GET /metrics answers in the Prometheus text format, GET
 * /healthz 200 "ok" once the first full set is handled while the
 * lease is trusted, 503 otherwise.  Anything else gets 404, a request
 * that is not a GET line 400.  Every connection is non-blocking, gets
 * one answer and is closed; at most CONN_MAX at once, each cut off
 * after CONN_MS, requests bounded by REQUEST_MAX.
 *
 * The watcher's counters come in its STATS, the netagent's (its
 * operations and the histogram of its commit times) in its NA_STATS;
 * both are running totals, shown as they last came.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "claimer/claimer_int.h"
#include "claimer/conn.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

#define REQUEST_MAX 2048

struct metrics_srv {
	struct listener l;
	char in[CONN_MAX][REQUEST_MAX + 1];
	size_t inlen[CONN_MAX];
};

/* The histogram's upper bounds, in seconds. */
static const double bounds[LAT_BUCKETS] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
	1, 5 };

void
metrics_observe_latency(struct claimer *c, int64_t ms)
{
	size_t i;

	for (i = 0; i < LAT_BUCKETS; i++)
		if ((double)ms / 1000 <= bounds[i])
			c->counts.lat_bucket[i]++;
	c->counts.lat_count++;
	c->counts.lat_sum_ms += (uint64_t)ms;
}

void
metrics_on_stats(struct claimer *c, const struct kiwi_msg *m)
{
	uint64_t v[KIWI_STATS_N];

	if (msg_decode_stats(m->body, m->len, v) < 0) {
		log_warnx("ignoring a malformed STATS from the watcher");
		return;
	}
	memcpy(c->counts.watcher, v, sizeof(v));
}

/* Whether every running total in b is at least what it was in a. */
static bool
nastats_grew(const struct kiwi_nastats *a, const struct kiwi_nastats *b)
{
	size_t i;

	for (i = 0; i <= KIWI_COMMIT_BUCKETS; i++)
		if (b->bucket[i] < a->bucket[i])
			return false;
	return b->added >= a->added && b->removed >= a->removed &&
	    b->commits >= a->commits && b->retries >= a->retries &&
	    b->failures >= a->failures && b->refused >= a->refused &&
	    b->commit_us >= a->commit_us;
}

/*
 * The netagent lives as long as this claimer (the supervisor restarts
 * them together), so its totals never go back.
 */
void
metrics_on_nastats(struct claimer *c, const struct kiwi_msg *m)
{
	struct kiwi_nastats st;

	if (msg_decode_nastats(m->body, m->len, &st) < 0) {
		log_warnx("ignoring a malformed NA_STATS from the netagent");
		return;
	}
	if (!nastats_grew(&c->counts.netagent, &st)) {
		log_warnx("ignoring an NA_STATS from the netagent whose totals "
		          "went back");
		return;
	}
	c->counts.netagent = st;
}

static void
tally(const struct claimer *c, unsigned int *held, unsigned int *standby,
    unsigned int *wanted)
{
	size_t i;

	*held = *standby = *wanted = 0;
	for (i = 0; i < c->table.n; i++) {
		*wanted += c->table.v[i]->wanted;
		*held += c->table.v[i]->shown == SHOW_HELD;
		*standby += c->table.v[i]->shown == SHOW_STANDBY;
	}
}

static void
metric(FILE *f, const char *name, const char *type, const char *help, double v)
{
	fprintf(f, "# HELP kiwi_%s %s\n# TYPE kiwi_%s %s\nkiwi_%s %.*f\n", name,
	    help, name, type, name, v == (double)(int64_t)v ? 0 : 3, v);
}

static void
histogram(FILE *f, const struct claimer_counts *k)
{
	size_t i;

	fprintf(f,
	    "# HELP kiwi_netagent_claim_seconds From a claim sent to "
	    "the netagent to its answer.\n"
	    "# TYPE kiwi_netagent_claim_seconds histogram\n");
	for (i = 0; i < LAT_BUCKETS; i++)
		fprintf(f,
		    "kiwi_netagent_claim_seconds_bucket{le=\"%g\"} %" PRIu64
		    "\n",
		    bounds[i], k->lat_bucket[i]);
	fprintf(f,
	    "kiwi_netagent_claim_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
	    "kiwi_netagent_claim_seconds_sum %.3f\n"
	    "kiwi_netagent_claim_seconds_count %" PRIu64 "\n",
	    k->lat_count, (double)k->lat_sum_ms / 1000, k->lat_count);
}

static void
commit_histogram(FILE *f, const struct kiwi_nastats *st)
{
	uint64_t n = 0;
	size_t i;

	fprintf(f,
	    "# HELP kiwi_netagent_commit_seconds Each rule commit of the "
	    "netagent, lock to last table replaced.\n"
	    "# TYPE kiwi_netagent_commit_seconds histogram\n");
	for (i = 0; i < KIWI_COMMIT_BUCKETS; i++) {
		n += st->bucket[i];
		fprintf(f,
		    "kiwi_netagent_commit_seconds_bucket{le=\"%g\"} %" PRIu64
		    "\n",
		    (double)kiwi_commit_bounds_us[i] / 1e6, n);
	}
	n += st->bucket[KIWI_COMMIT_BUCKETS];
	fprintf(f,
	    "kiwi_netagent_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
	    "kiwi_netagent_commit_seconds_sum %.6f\n"
	    "kiwi_netagent_commit_seconds_count %" PRIu64 "\n",
	    n, (double)st->commit_us / 1e6, n);
}

/* The netagent's running totals, each a counter. */
static const struct {
	const char *name, *help;
	size_t off; /* in struct kiwi_nastats */
} na_counters[] = {
	{ "netagent_addresses_added_total",
	    "Addresses the netagent put on the interface.",
	    offsetof(struct kiwi_nastats, added) },
	{ "netagent_addresses_removed_total",
	    "Addresses the netagent took off the interface.",
	    offsetof(struct kiwi_nastats, removed) },
	{ "netagent_commits_total", "Rule commits that succeeded.",
	    offsetof(struct kiwi_nastats, commits) },
	{ "netagent_commit_retries_total",
	    "Table replaces tried again because the table changed.",
	    offsetof(struct kiwi_nastats, retries) },
	{ "netagent_commit_failures_total", "Rule commits that failed.",
	    offsetof(struct kiwi_nastats, failures) },
	{ "netagent_refused_total", "Claims and messages the netagent refused.",
	    offsetof(struct kiwi_nastats, refused) },
};

static void
netagent_metrics(FILE *f, const struct kiwi_nastats *st)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < KIWI_ARRAY_SIZE(na_counters); i++) {
		memcpy(&v, (const char *)st + na_counters[i].off, sizeof(v));
		metric(f, na_counters[i].name, "counter", na_counters[i].help,
		    (double)v);
	}
	commit_histogram(f, st);
}

static void
watcher_metrics(FILE *f, const uint64_t *v)
{
	metric(f, "watch_events_total", "counter",
	    "Service watch events applied.", (double)v[STAT_W_EVENTS]);
	metric(f, "api_errors_total", "counter",
	    "Kubernetes API requests that failed.",
	    (double)v[STAT_W_API_ERRORS]);
	metric(f, "api_reconnects_total", "counter",
	    "Watches started again after a failure.",
	    (double)v[STAT_W_RECONNECTS]);
}

static void
write_metrics(const struct claimer *c, FILE *f)
{
	const struct claimer_counts *k = &c->counts;
	unsigned int held, standby, wanted;

	tally(c, &held, &standby, &wanted);
	metric(f, "ready", "gauge", "1 once ready and the lease is trusted.",
	    claimer_healthy(c));
	metric(
	    f, "addresses_wanted", "gauge", "Addresses Services want.", wanted);
	metric(
	    f, "addresses_held", "gauge", "Addresses held on this node.", held);
	metric(f, "addresses_standby", "gauge",
	    "Wanted addresses another node holds.", standby);
	metric(f, "addresses_not_claimed", "gauge",
	    "Addresses Services name that kiwi does not claim.",
	    (double)c->notes.n);
	metric(f, "claims_won_total", "counter",
	    "Addresses that came to be held here.", (double)k->won);
	metric(f, "claims_lost_total", "counter",
	    "Held addresses that were let go.", (double)k->lost);
	metric(f, "failovers_total", "counter",
	    "Addresses taken over from another node.", (double)k->failovers);
	metric(f, "etcd_errors_total", "counter",
	    "Times etcd stopped answering.", (double)k->etcd_errors);
	metric(f, "etcd_reconnects_total", "counter",
	    "Times etcd answered again after an error.",
	    (double)k->etcd_reconnects);
	metric(f, "lease_renewal_age_seconds", "gauge",
	    "Since the last good lease renewal went out (-1: none yet).",
	    c->renewed ? (double)(now_ms() - c->renewed) / 1000 : -1);
	metric(f, "worker_restarts_total", "counter",
	    "Times the supervisor restarted the workers.", c->restarts);
	histogram(f, k);
	watcher_metrics(f, k->watcher);
	netagent_metrics(f, &k->netagent);
}

static char *
reply(int code, const char *type, const char *body, size_t len)
{
	const char *why = code == 200 ? "OK"
	    : code == 503             ? "Service Unavailable"
	    : code == 404             ? "Not Found"
	                              : "Bad Request";
	char *s = NULL;

	if (asprintf(&s,
	        "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
	        "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
	        code, why, type, len, (int)len, body) < 0)
		return NULL;
	return s;
}

static char *
answer_metrics(const struct claimer *c)
{
	char *body = NULL, *s;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (f == NULL)
		return NULL;
	write_metrics(c, f);
	fclose(f);
	s = reply(200, "text/plain; version=0.0.4", body, len);
	free(body);
	return s;
}

static char *
answer(const struct claimer *c, const char *req)
{
	char path[256];

	if (sscanf(req, "GET %255s HTTP/1.%*[01]", path) != 1)
		return reply(400, "text/plain", "bad request\n", 12);
	if (strcmp(path, "/metrics") == 0)
		return answer_metrics(c);
	if (strcmp(path, "/healthz") != 0)
		return reply(404, "text/plain", "not found\n", 10);
	if (claimer_healthy(c))
		return reply(200, "text/plain", "ok\n", 3);
	return reply(503, "text/plain", "not ready\n", 10);
}

static void
mread(const struct claimer *c, int i)
{
	struct metrics_srv *s = c->metrics;
	struct conn *k = &s->l.cl[i];
	char *in = s->in[i];
	ssize_t n = read(k->fd, in + s->inlen[i], REQUEST_MAX - s->inlen[i]);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(k);
		return;
	}
	s->inlen[i] += (size_t)n;
	in[s->inlen[i]] = '\0';
	/* The headers say nothing we need: answer at their end. */
	if (strstr(in, "\r\n\r\n") == NULL && strstr(in, "\n\n") == NULL) {
		if (s->inlen[i] < REQUEST_MAX)
			return;
		k->out = reply(400, "text/plain", "bad request\n", 12);
	} else
		k->out = answer(c, in);
	if (k->out == NULL) {
		conn_close(k);
		return;
	}
	k->outlen = strlen(k->out);
}

/* HOST:PORT or [HOST]:PORT, numeric only: no lookups at start. */
static int
listen_on(const char *hostport)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM };
	char host[KIWI_HOSTPORT_MAX], *port;
	struct addrinfo *ai = NULL;
	int fd = -1, one = 1, r;

	snprintf(host, sizeof(host), "%s", hostport);
	port = strrchr(host, ':');
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if ((r = getaddrinfo(host, port, &hints, &ai)) != 0) {
		log_warnx(
		    "--metrics-address %s: %s", hostport, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(
	    ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, CONN_MAX) < 0) {
		r = -errno;
		log_warn("--metrics-address %s", hostport);
		if (fd >= 0)
			close(fd);
		fd = r;
	}
	freeaddrinfo(ai);
	return fd;
}

int
metrics_open(struct claimer *c)
{
	struct metrics_srv *s;
	int fd;

	if (c->cfg->metrics_address[0] == '\0')
		return 0;
	if ((fd = listen_on(c->cfg->metrics_address)) < 0) {
		log_warnx("no metrics are served (ignoring)");
		return fd;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	listener_init(&s->l, fd);
	c->metrics = s;
	log_info(
	    "serving metrics on http://%s/metrics", c->cfg->metrics_address);
	return 0;
}

void
metrics_close(struct claimer *c)
{
	if (c->metrics == NULL)
		return;
	listener_close(&c->metrics->l);
	free(c->metrics);
	c->metrics = NULL;
}

unsigned int
metrics_pollfds(const struct claimer *c, struct pollfd *p)
{
	return c->metrics ? listener_pollfds(&c->metrics->l, NULL, p) : 0;
}

static void
mreadable(void *arg, int i)
{
	mread(arg, i);
}

void
metrics_events(struct claimer *c, const struct pollfd *p, unsigned int n)
{
	struct metrics_srv *s = c->metrics;
	int i;

	if (s == NULL)
		return;
	i = listener_serve(&s->l, p, n, mreadable, c);
	if (i >= 0)
		s->inlen[i] = 0;
}

int64_t
metrics_wake(const struct claimer *c)
{
	return c->metrics ? listener_wake(&c->metrics->l) : INT64_MAX;
}
