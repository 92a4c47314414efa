/*
 * The control socket that `kiwi status` asks: a Unix stream socket in
 * a directory the supervisor made for the workers' user.  Each client
 * sends one request line ("status" or "cluster") and gets one JSON
 * document back, then the connection is closed.  The socket is
 * read-only by design: no request changes anything.
 *
 * Everything is non-blocking and served from the claimer's loop; a
 * client that is slow to send its line or to read the answer is cut
 * off after CONN_MS, and at most CONN_MAX are served at once.
 *
 * The same file tracks, per address, what the status shows and since
 * when, and counts what changed, for the metrics (metrics.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "claimer/claimer_int.h"
#include "claimer/conn.h"
#include "common/log.h"
#include "common/util.h"

#define REQUEST_MAX 64
#define PROGRESS_MS 2000

struct status_srv {
	struct listener l;
	char in[CONN_MAX][REQUEST_MAX];
	size_t inlen[CONN_MAX];
	bool cluster[CONN_MAX]; /* waits for cluster.c's answer */
};

static const char *state_names[] = {
	[SHOW_NONE] = "",
	[SHOW_WAITING] = "waiting",
	[SHOW_CLAIMING] = "claiming",
	[SHOW_CONFIGURING] = "configuring",
	[SHOW_HELD] = "held",
	[SHOW_STANDBY] = "standby",
	[SHOW_REFUSED] = "refused",
	[SHOW_RELEASING] = "releasing",
};

/*
 * What one address looks like from outside.  Those kiwi does not
 * claim are not in the table but in the notes (notes.c).
 */
static enum claim_show
show_of(const struct claimer *c, const struct claim *cl)
{
	if (!cl->wanted)
		return cl->state == CL_NONE ? SHOW_NONE : SHOW_RELEASING;
	if (cl->failed)
		return SHOW_REFUSED;
	switch (cl->state) {
	case CL_HELD:
		return cl->pending > 0 ? SHOW_CONFIGURING : SHOW_HELD;
	case CL_STANDBY:
		return SHOW_STANDBY;
	case CL_KEY:
		return SHOW_CLAIMING;
	case CL_NONE:
		break;
	}
	return c->link_down || !lease_fresh(c) || c->na_fd < 0 ? SHOW_WAITING
	                                                       : SHOW_CLAIMING;
}

/* A change of one address's state, counted for the metrics. */
static void
count_change(struct claimer *c, const struct claim *cl, enum claim_show to)
{
	enum claim_show from = cl->shown;

	/* A takeover: the address was another node's when last seen. */
	if (to == SHOW_HELD && from != SHOW_HELD) {
		c->counts.won++;
		if (from == SHOW_STANDBY || cl->holder != NULL)
			c->counts.failovers++;
	}
	if (from == SHOW_HELD && to != SHOW_HELD && to != SHOW_CONFIGURING)
		c->counts.lost++;
}

/*
 * The first reconcile of thousands of addresses takes a while: say how
 * far it is every PROGRESS_MS until the claimer is ready.
 */
static void
log_progress(struct claimer *c, size_t settled, size_t wanted)
{
	if (c->ready_sent || !c->synced || wanted == 0)
		return;
	if (c->progress_at == 0)
		c->progress_at = now_ms();
	if (now_ms() - c->progress_at < PROGRESS_MS)
		return;
	c->progress_at = now_ms();
	log_info("first reconcile: %zu of %zu addresses settled (held here, "
	         "held elsewhere or refused)",
	    settled, wanted);
}

void
status_observe(struct claimer *c)
{
	size_t i, settled = 0, wanted = 0;
	enum claim_show s;
	struct claim *cl;

	if (c->etcd_down && !c->counted_down)
		c->counts.etcd_errors++;
	if (!c->etcd_down && c->counted_down)
		c->counts.etcd_reconnects++;
	c->counted_down = c->etcd_down;
	for (i = 0; i < c->table.n; i++) {
		cl = c->table.v[i];
		s = show_of(c, cl);
		wanted += cl->wanted;
		settled += cl->wanted &&
		    (s == SHOW_HELD || s == SHOW_STANDBY || s == SHOW_REFUSED);
		if (s == cl->shown)
			continue;
		count_change(c, cl, s);
		if (cl->shown == SHOW_CONFIGURING && s == SHOW_HELD)
			metrics_observe_latency(c, now_ms() - cl->shown_ms);
		cl->shown = s;
		cl->since = (int64_t)time(NULL);
		cl->shown_ms = now_ms();
		if (s != SHOW_STANDBY && s != SHOW_WAITING &&
		    s != SHOW_CLAIMING) {
			free(cl->holder);
			cl->holder = NULL;
		}
	}
	log_progress(c, settled, wanted);
}

void
status_note_holder(struct claim *cl, const struct ej_holder *h)
{
	char node[KIWI_NODE_MAX + 1];

	if (ej_parse_claim_value(h->value, h->valuelen, node, sizeof(node)) < 0)
		snprintf(node, sizeof(node), "(not kiwi's)");
	if (cl->holder != NULL && strcmp(cl->holder, node) == 0)
		return;
	free(cl->holder);
	cl->holder = strdup(node);
}

static json_t *
ports_json(const struct kiwi_ipset *s)
{
	json_t *a = json_array();
	char buf[32];
	size_t i;

	for (i = 0; a != NULL && i < s->nrules; i++) {
		snprintf(buf, sizeof(buf), "%u/%s", s->rules[i].port,
		    proto_name(s->rules[i].proto));
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

/* Every Service naming the address: the set's own, then the others. */
static json_t *
services_json(const struct kiwi_ipset *s)
{
	json_t *a = json_array();
	size_t i;

	if (a != NULL)
		json_array_append_new(a, json_string(s->service));
	for (i = 0; a != NULL && i < s->nalso; i++)
		json_array_append_new(a, json_string(s->also[i]));
	return a;
}

static const char *
reason_of(const struct claim *cl)
{
	int e = cl->refused < 0 ? -cl->refused : cl->refused;

	if (cl->shown != SHOW_REFUSED)
		return NULL;
	return e != 0 ? strerror(e) : "refused by the netagent";
}

static json_t *
claim_json(const struct claimer *c, const struct claim *cl)
{
	char ip[KIWI_ADDRSTRLEN], mark[16];
	const char *reason = reason_of(cl);

	snprintf(mark, sizeof(mark), "0x%x", c->cfg->mark);
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:o, s:o, s:s, s:I}",
	    "address", claim_ip(cl, ip), "state", state_names[cl->shown],
	    "holder", cl->holder, "reason", reason, "service", cl->want.service,
	    "services", services_json(&cl->want), "ports",
	    ports_json(&cl->want), "mark", mark, "since",
	    (json_int_t)cl->since);
}

/*
 * An address kiwi does not claim: "out of range", or "refused" with
 * the reason it can never be announced.
 */
static json_t *
note_json(const struct claimer *c, const struct note *e)
{
	char ip[KIWI_ADDRSTRLEN], mark[16];
	bool out = e->note.why == ADDR_OUT_OF_RANGE;

	snprintf(mark, sizeof(mark), "0x%x", c->cfg->mark);
	return json_pack("{s:s, s:s, s:s?, s:s, s:[], s:s, s:I}", "address",
	    addr_fmt(&e->note.addr, ip, sizeof(ip)), "state",
	    out ? "out of range" : "refused", "reason",
	    out ? NULL : addr_class_text((enum addr_class)e->note.why),
	    "service", e->note.service, "ports", "mark", mark, "since",
	    (json_int_t)e->since);
}

/* The netagent's totals (NA_STATS), as the metrics have them. */
static json_t *
netagent_json(const struct kiwi_nastats *st)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "added",
	    (json_int_t)st->added, "removed", (json_int_t)st->removed,
	    "commits", (json_int_t)st->commits, "commit_retries",
	    (json_int_t)st->retries, "commit_failures",
	    (json_int_t)st->failures, "refused", (json_int_t)st->refused);
}

static char *
status_document(const struct claimer *c)
{
	json_t *doc, *list;
	char *s = NULL;
	size_t i;

	list = json_array();
	for (i = 0; list != NULL && i < c->table.n; i++)
		if (c->table.v[i]->shown != SHOW_NONE)
			json_array_append_new(
			    list, claim_json(c, c->table.v[i]));
	for (i = 0; list != NULL && i < c->notes.n; i++)
		json_array_append_new(list, note_json(c, &c->notes.v[i]));
	doc = json_pack("{s:s, s:b, s:b, s:b, s:I, s:I, s:I, s:o?, s:o?}",
	    "node", c->cfg->node_name, "ready", claimer_healthy(c), "dry_run",
	    c->cfg->dry_run, "lease_fresh", lease_fresh(c), "lease",
	    (json_int_t)c->lease, "renewed_ms_ago",
	    (json_int_t)(c->renewed ? now_ms() - c->renewed : -1), "now",
	    (json_int_t)time(NULL), "addresses", list, "netagent",
	    netagent_json(&c->counts.netagent));
	if (doc != NULL)
		s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

/* The answer to give, with its newline; a client sees it at EOF. */
static void
client_answer(struct conn *k, char *doc)
{
	char *out;
	size_t n;

	if (doc == NULL) {
		log_warnx("control socket: out of memory building an answer");
		conn_close(k);
		return;
	}
	n = strlen(doc);
	if ((out = realloc(doc, n + 2)) == NULL) {
		free(doc);
		conn_close(k);
		return;
	}
	k->out = out;
	memcpy(k->out + n, "\n", 2);
	k->outlen = n + 1;
	k->outoff = 0;
}

static void
client_request(struct claimer *c, int i)
{
	struct status_srv *s = c->status;
	struct conn *k = &s->l.cl[i];

	if (strcmp(s->in[i], "status") == 0)
		client_answer(k, status_document(c));
	else if (strcmp(s->in[i], "cluster") == 0) {
		s->cluster[i] = true;
		if (cluster_start(c) < 0)
			client_answer(k,
			    strdup("{\"error\":\"etcd request "
			           "could not start\"}"));
	} else
		client_answer(k, strdup("{\"error\":\"unknown request\"}"));
}

static void
client_read(struct claimer *c, int i)
{
	struct status_srv *s = c->status;
	char *in = s->in[i], *nl;
	ssize_t n;

	n = read(
	    s->l.cl[i].fd, in + s->inlen[i], REQUEST_MAX - 1 - s->inlen[i]);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(&s->l.cl[i]);
		return;
	}
	s->inlen[i] += (size_t)n;
	in[s->inlen[i]] = '\0';
	if ((nl = strchr(in, '\n')) == NULL) {
		if (s->inlen[i] == REQUEST_MAX - 1)
			client_answer(&s->l.cl[i],
			    strdup("{\"error\":\"request too long\"}"));
		return;
	}
	*nl = '\0';
	if (nl > in && nl[-1] == '\r')
		nl[-1] = '\0';
	client_request(c, i);
}

int
status_open(struct claimer *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = c->cfg->control_socket;
	struct status_srv *s;
	mode_t old;
	int fd, r;

	if (path[0] == '\0')
		return 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* A socket left by an earlier life; the directory is ours. */
	(void)unlink(path);
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, CONN_MAX) < 0)
		goto fail;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	listener_init(&s->l, fd);
	c->status = s;
	log_debug("serving status on %s", path);
	return 0;
fail:
	r = -errno;
	log_warn("control socket %s: kiwi status will not answer; "
	         "ignoring",
	    path);
	if (fd >= 0)
		close(fd);
	return r;
}

void
status_close(struct claimer *c)
{
	cluster_free(c);
	if (c->status == NULL)
		return;
	listener_close(&c->status->l);
	(void)unlink(c->cfg->control_socket);
	free(c->status);
	c->status = NULL;
}

/* A client waiting for the cluster view is not polled meanwhile. */
unsigned int
status_pollfds(const struct claimer *c, struct pollfd *p)
{
	const struct status_srv *s = c->status;

	return s ? listener_pollfds(&s->l, s->cluster, p) : 0;
}

static void
client_readable(void *arg, int i)
{
	client_read(arg, i);
}

void
status_events(struct claimer *c, const struct pollfd *p, unsigned int n)
{
	struct status_srv *s = c->status;
	int i;

	if (s == NULL)
		return;
	i = listener_serve(&s->l, p, n, client_readable, c);
	if (i >= 0) {
		s->inlen[i] = 0;
		s->cluster[i] = false;
	}
}

/* The cluster view is ready (doc) or failed (NULL): answer who waits. */
void
status_cluster_done(struct claimer *c, const char *doc)
{
	struct status_srv *s = c->status;
	struct conn *k;
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < CONN_MAX; i++) {
		k = &s->l.cl[i];
		if (k->fd >= 0 && s->cluster[i] && k->out == NULL)
			client_answer(k,
			    strdup(doc
			            ? doc
			            : "{\"error\":\"etcd did not answer\"}"));
	}
}

int64_t
status_wake(const struct claimer *c)
{
	return c->status ? listener_wake(&c->status->l) : INT64_MAX;
}

bool
claimer_healthy(const struct claimer *c)
{
	return c->ready_sent && lease_fresh(c);
}
