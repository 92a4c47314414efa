#include "claimer/etcd.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/util.h"

/* Any answer (or watch line) kiwi expects is small; a bigger one is not. */
#define ETCD_RESP_MAX ((size_t)1 << 20)
#define ETCD_MAX_MEMBERS 16
#define ETCD_ERR_MAX (EJ_ERRLEN + 256)
/* The claimer's peers, plus its status and metrics clients. */
#define ETCD_MAX_FDS 32

struct etcd_req {
	struct etcd *e;
	struct etcd_req *prev, *next;
	CURL *curl;
	const char *path;
	char *body;
	char *resp;
	size_t resplen;
	size_t respcap;
	long status;
	int64_t start;
	int64_t end; /* 0: none (streams) */
	size_t member;
	size_t tried;
	etcd_done_fn fn;
	etcd_line_fn line;
	void *arg;
	int64_t tag;
	bool running; /* added to the multi handle */
	bool ready; /* ended; the callback is still to run */
	bool done; /* the callback ran, or runs now */
	bool canceled;
	int r;
	char err[ETCD_ERR_MAX];
	char curlerr[CURL_ERROR_SIZE];
};

struct etcd {
	CURLM *multi;
	struct curl_slist *headers;
	char *members[ETCD_MAX_MEMBERS];
	size_t nmembers;
	size_t cur;
	int64_t deadline;
	long attempt_ms;
	struct etcd_req *reqs;
	bool performing; /* inside curl: handles may not be removed */
	char err[ETCD_ERR_MAX];
};

static void set_err(struct etcd_req *rq, const char *fmt, ...)
    KIWI_PRINTF(2, 3);

static void
set_err(struct etcd_req *rq, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rq->err, sizeof(rq->err), fmt, ap);
	va_end(ap);
}

static int
add_member(struct etcd *e, const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 &&
	    (isspace((unsigned char)s[len - 1]) || s[len - 1] == '/'))
		len--;
	if (e->nmembers == ETCD_MAX_MEMBERS)
		return -E2BIG;
	if (len == 0 ||
	    (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
		return -EINVAL;
	e->members[e->nmembers] = strndup(s, len);
	if (e->members[e->nmembers] == NULL)
		return -ENOMEM;
	e->nmembers++;
	return 0;
}

static int
parse_members(struct etcd *e, const char *list)
{
	const char *p = list, *comma;
	int r;

	for (;;) {
		comma = strchr(p, ',');
		r = add_member(e, p, comma ? (size_t)(comma - p) : strlen(p));
		if (r == -EINVAL)
			log_warnx("etcd endpoint %zu in \"%s\" is not an "
			          "http:// or https:// URL",
			    e->nmembers + 1, list);
		if (r == -E2BIG) {
			log_warnx("etcd endpoints \"%s\": more than %d", list,
			    ETCD_MAX_MEMBERS);
			r = -EINVAL;
		}
		if (r < 0 || comma == NULL)
			return r;
		p = comma + 1;
	}
}

int
etcd_open(struct etcd **ep, const char *endpoints)
{
	struct etcd *e;
	int r;

	*ep = NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	r = parse_members(e, endpoints);
	if (r == 0) {
		e->multi = curl_multi_init();
		e->headers =
		    curl_slist_append(NULL, "Content-Type: application/json");
		if (e->multi == NULL || e->headers == NULL)
			r = -ENOMEM;
	}
	if (r < 0) {
		etcd_close(e);
		return r;
	}
	*ep = e;
	return 0;
}

static void
req_free(struct etcd_req *rq)
{
	struct etcd *e = rq->e;

	if (rq->running)
		curl_multi_remove_handle(e->multi, rq->curl);
	if (rq->prev != NULL)
		rq->prev->next = rq->next;
	else
		e->reqs = rq->next;
	if (rq->next != NULL)
		rq->next->prev = rq->prev;
	curl_easy_cleanup(rq->curl);
	free(rq->body);
	free(rq->resp);
	free(rq);
}

void
etcd_cancel_all(struct etcd *e)
{
	/* req_free unlinks each from the list before freeing it. */
	while (e->reqs != NULL)
		req_free(e->reqs); /* NOLINT(clang-analyzer-unix.Malloc) */
}

void
etcd_close(struct etcd *e)
{
	size_t i;

	if (e == NULL)
		return;
	etcd_cancel_all(e);
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	curl_slist_free_all(e->headers);
	for (i = 0; i < e->nmembers; i++)
		free(e->members[i]);
	free(e);
}

void
etcd_set_deadline(struct etcd *e, int64_t ms)
{
	e->deadline = ms;
}

void
etcd_set_attempt(struct etcd *e, long ms)
{
	e->attempt_ms = ms;
}

const char *
etcd_error(const struct etcd *e)
{
	return e->err;
}

const char *
etcd_member(const struct etcd *e)
{
	return e->members[e->cur];
}

const char *
etcd_req_error(const struct etcd_req *rq)
{
	return rq->err;
}

const char *
etcd_req_answer(const struct etcd_req *rq)
{
	return rq->resp != NULL ? rq->resp : "";
}

const char *
etcd_req_member(const struct etcd_req *rq)
{
	return rq->e->members[rq->member];
}

static bool
append(struct etcd_req *rq, const char *data, size_t len)
{
	char *p;

	if (rq->resplen + len + 1 > ETCD_RESP_MAX)
		return false;
	if (rq->resplen + len + 1 > rq->respcap) {
		p = realloc(rq->resp, rq->resplen + len + 1);
		if (p == NULL)
			return false;
		rq->resp = p;
		rq->respcap = rq->resplen + len + 1;
	}
	memcpy(rq->resp + rq->resplen, data, len);
	rq->resplen += len;
	rq->resp[rq->resplen] = '\0';
	return true;
}

/* Hand every complete line of a stream on, keep the rest. */
static void
split_lines(struct etcd_req *rq)
{
	char *nl;
	size_t used;

	while (!rq->canceled &&
	    (nl = memchr(rq->resp, '\n', rq->resplen)) != NULL) {
		used = (size_t)(nl - rq->resp) + 1;
		if (used > 1)
			rq->line(rq->arg, rq->resp, used - 1);
		memmove(rq->resp, rq->resp + used, rq->resplen - used + 1);
		rq->resplen -= used;
	}
}

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct etcd_req *rq = arg;
	size_t len = size * n;

	if (rq->canceled || !append(rq, data, len))
		return 0;
	if (rq->line != NULL && rq->status == 0)
		curl_easy_getinfo(
		    rq->curl, CURLINFO_RESPONSE_CODE, &rq->status);
	/* An error status has a plain body: leave it for check_answer. */
	if (rq->line != NULL && rq->status == 200)
		split_lines(rq);
	return rq->canceled ? 0 : len;
}

static int
setup_handle(struct etcd_req *rq)
{
	CURL *c = curl_easy_init();

	rq->curl = c;
	if (c == NULL ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, rq->e->headers) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, rq) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PRIVATE, rq) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rq->curlerr) != CURLE_OK)
		return -ENOMEM;
	/* A dead peer ends a stream; a stopped one does not (see claimer). */
	if (rq->line != NULL &&
	    (curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L) != CURLE_OK))
		return -ENOMEM;
	return 0;
}

/* Time left for the request; -1 for none at all. */
static long
budget(const struct etcd_req *rq)
{
	int64_t now = now_ms();

	if (rq->end == 0)
		return 0;
	return rq->end > now ? (long)(rq->end - now) : -1;
}

/* The request ended with r; its callback runs from etcd_poll. */
static void
make_ready(struct etcd_req *rq, int r)
{
	rq->r = r;
	rq->ready = true;
}

/* Send to rq->member; 0 or a failure that ends the request. */
static int
attempt(struct etcd_req *rq)
{
	char url[1200];
	long ms = budget(rq);
	size_t left = rq->e->nmembers - rq->tried;

	if (ms < 0) {
		set_err(rq, "no time left to reach etcd");
		return -ETIMEDOUT;
	}
	/* A member that hangs must not use up the time of the others. */
	if (ms > 0 && left > 1 && rq->e->attempt_ms > 0 &&
	    ms > rq->e->attempt_ms)
		ms = rq->e->attempt_ms;
	snprintf(
	    url, sizeof(url), "%s%s", rq->e->members[rq->member], rq->path);
	rq->resplen = 0;
	rq->status = 0;
	rq->curlerr[0] = '\0';
	if (rq->resp != NULL)
		rq->resp[0] = '\0';
	curl_easy_setopt(rq->curl, CURLOPT_URL, url);
	curl_easy_setopt(rq->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    ms > 0 && ms < ETCD_CONNECT_MS ? ms : (long)ETCD_CONNECT_MS);
	curl_easy_setopt(rq->curl, CURLOPT_TIMEOUT_MS, ms);
	if (curl_multi_add_handle(rq->e->multi, rq->curl) != CURLM_OK) {
		set_err(rq, "cannot start a request: out of memory");
		return -ENOMEM;
	}
	rq->running = true;
	return 0;
}

struct etcd_req *
etcd_start(struct etcd *e, const char *path, char *body, etcd_done_fn fn,
    etcd_line_fn line, void *arg, int64_t tag)
{
	struct etcd_req *rq;
	int r;

	rq = calloc(1, sizeof(*rq));
	if (rq == NULL || body == NULL) {
		free(rq);
		free(body);
		snprintf(e->err, sizeof(e->err), "out of memory for %s", path);
		return NULL;
	}
	*rq = (struct etcd_req){ .e = e,
		.path = path,
		.body = body,
		.fn = fn,
		.line = line,
		.arg = arg,
		.tag = tag,
		.member = e->cur,
		.start = now_ms(),
		.next = e->reqs };
	if (line == NULL) {
		rq->end = rq->start + ETCD_CALL_MS;
		if (e->deadline != 0 && e->deadline < rq->end)
			rq->end = e->deadline;
	}
	if (e->reqs != NULL)
		e->reqs->prev = rq;
	e->reqs = rq;
	r = setup_handle(rq);
	if (r < 0)
		set_err(rq, "out of memory for %s", path);
	else
		r = attempt(rq);
	if (r < 0)
		make_ready(rq, r);
	return rq;
}

void
etcd_cancel(struct etcd_req *rq)
{
	if (rq == NULL || rq->done)
		return;
	rq->canceled = true;
	/* Inside curl the handle must stay; etcd_poll frees it after. */
	if (!rq->e->performing)
		req_free(rq);
}

static int
curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/*
 * Turn an answer into an errno: error bodies (whatever the status),
 * then any status but 200.
 */
static int
check_answer(struct etcd_req *rq)
{
	char msg[EJ_ERRLEN];
	const char *body = etcd_req_answer(rq);
	int code;

	if (ej_parse_error(body, &code, msg, sizeof(msg)) == 0) {
		set_err(rq, "%s: etcd says: %s (code %d, HTTP %ld)", rq->path,
		    msg, code, rq->status);
		/* gRPC NOT_FOUND: etcd's "requested lease not found". */
		return code == 5 ? -ENOENT : -EINVAL;
	}
	if (rq->status != 200) {
		set_err(rq, "%s: unexpected HTTP %ld: %.200s", rq->path,
		    rq->status, body);
		return -EPROTO;
	}
	return 0;
}

/* What one attempt came to: 0 for an answer below 500. */
static int
attempt_result(struct etcd_req *rq, CURLcode c)
{
	const char *m = rq->e->members[rq->member];

	if (c != CURLE_OK) {
		set_err(rq, "%s%s: %s", m, rq->path,
		    rq->curlerr[0] ? rq->curlerr : curl_easy_strerror(c));
		return curl_errno(c);
	}
	curl_easy_getinfo(rq->curl, CURLINFO_RESPONSE_CODE, &rq->status);
	if (rq->status >= 500) {
		set_err(rq, "%s%s: HTTP %ld: %.200s", m, rq->path, rq->status,
		    etcd_req_answer(rq));
		return -EAGAIN;
	}
	return 0;
}

/*
 * One attempt ended.  On a connection failure or a 5xx, move on to
 * the next member while time is left; streams are not retried here.
 */
static void
attempt_done(struct etcd_req *rq, CURLcode c)
{
	struct etcd *e = rq->e;
	int r = attempt_result(rq, c);

	log_debug("POST %s%s: %s (%" PRId64 " ms)", e->members[rq->member],
	    rq->path, r < 0 ? rq->err : "answered", now_ms() - rq->start);
	if (r == 0) {
		e->cur = rq->member;
		make_ready(rq, check_answer(rq));
		return;
	}
	/* Others may have moved on already. */
	if (rq->member == e->cur)
		e->cur = (e->cur + 1) % e->nmembers;
	rq->member = e->cur;
	if (rq->line != NULL || ++rq->tried >= e->nmembers) {
		make_ready(rq, r);
		return;
	}
	r = attempt(rq);
	if (r < 0)
		make_ready(rq, r);
}

static void
read_messages(struct etcd *e)
{
	struct etcd_req *rq;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &rq);
		curl_multi_remove_handle(e->multi, rq->curl);
		rq->running = false;
		if (!rq->canceled)
			attempt_done(rq, msg->data.result);
	}
}

/* Run the callbacks of the requests that ended; free them. */
static void
finish_ready(struct etcd *e)
{
	struct etcd_req *rq, *next;
	bool again = true;

	while (again) {
		again = false;
		/* After a free the walk starts again from the head. */
		for (rq = e->reqs; rq != NULL; rq = next) {
			next =
			    rq->next; /* NOLINT(clang-analyzer-unix.Malloc) */
			if (rq->canceled) {
				req_free(rq);
				again = true;
				break;
			}
			if (!rq->ready || rq->done)
				continue;
			rq->done = true;
			if (rq->r < 0)
				memcpy(e->err, rq->err, sizeof(e->err));
			if (rq->fn == NULL)
				continue;
			rq->fn(rq->arg, rq->tag, rq, rq->r);
			req_free(rq);
			/* The callback may have changed the list. */
			again = true;
			break;
		}
	}
}

static bool
any_ready(const struct etcd *e)
{
	const struct etcd_req *rq;

	for (rq = e->reqs; rq != NULL; rq = rq->next)
		if ((rq->ready && !rq->done) || rq->canceled)
			return true;
	return false;
}

int
etcd_poll(struct etcd *e, struct pollfd *fds, unsigned int nfds, int ms)
{
	struct curl_waitfd w[ETCD_MAX_FDS];
	unsigned int i;
	int running;
	CURLMcode mc;

	if (nfds > ETCD_MAX_FDS)
		return -EINVAL;
	for (i = 0; i < nfds; i++)
		w[i] = (struct curl_waitfd){ .fd = fds[i].fd,
			.events = fds[i].events };
	mc = curl_multi_poll(e->multi, w, nfds, any_ready(e) ? 0 : ms, NULL);
	for (i = 0; i < nfds; i++)
		fds[i].revents = mc == CURLM_OK ? w[i].revents : 0;
	e->performing = true;
	if (mc == CURLM_OK)
		mc = curl_multi_perform(e->multi, &running);
	e->performing = false;
	read_messages(e);
	finish_ready(e);
	return mc == CURLM_OK ? 0 : -ENOMEM;
}

/* Run one request to its end; *rqp is to be freed with req_free. */
static int
run_sync(struct etcd *e, const char *path, char *body, struct etcd_req **rqp)
{
	struct etcd_req *rq = etcd_start(e, path, body, NULL, NULL, NULL, 0);

	*rqp = rq;
	if (rq == NULL)
		return -ENOMEM;
	while (!rq->done)
		etcd_poll(e, NULL, 0, 1000);
	return rq->r;
}

static int
bad_answer(struct etcd_req *rq)
{
	set_err(rq, "%s: answer is not what etcd sends: %.200s", rq->path,
	    etcd_req_answer(rq));
	memcpy(rq->e->err, rq->err, sizeof(rq->err));
	return -EPROTO;
}

int
etcd_grant_answer(struct etcd_req *rq, int r, int64_t *id, int64_t *granted)
{
	if (r == 0 && ej_parse_grant(etcd_req_answer(rq), id, granted) < 0)
		r = bad_answer(rq);
	return r;
}

int
etcd_keepalive_answer(struct etcd_req *rq, int r, int64_t *ttl)
{
	if (r < 0)
		return r;
	if (ej_parse_keepalive(etcd_req_answer(rq), ttl) < 0)
		return bad_answer(rq);
	if (*ttl == 0) {
		set_err(rq, "the lease is gone");
		memcpy(rq->e->err, rq->err, sizeof(rq->err));
		return -ENOENT;
	}
	return 0;
}

int
etcd_claim_answer(
    struct etcd_req *rq, int r, int64_t lease, struct ej_holder *h)
{
	bool won;

	h->value = NULL;
	if (r < 0)
		return r;
	if (ej_parse_claim(etcd_req_answer(rq), &won, h) < 0)
		return bad_answer(rq);
	if (!won && h->lease != lease)
		return 0;
	ej_holder_free(h);
	return 1;
}

int
etcd_claims_answer(struct etcd_req *rq, int r, int64_t lease, size_t n,
    int *res, struct ej_holder *h)
{
	bool won, found[ETCD_CLAIMS_MAX];
	size_t i;

	if (r < 0)
		return r;
	if (n > ETCD_CLAIMS_MAX ||
	    ej_parse_claims(etcd_req_answer(rq), n, &won, found, h) < 0)
		return bad_answer(rq);
	for (i = 0; i < n; i++) {
		if (won || (found[i] && h[i].lease == lease))
			res[i] = 1;
		else
			res[i] = found[i] ? 0 : -EAGAIN;
		if (res[i] != 0)
			ej_holder_free(&h[i]);
	}
	return 0;
}

int
etcd_release_answer(struct etcd_req *rq, int r)
{
	bool deleted;

	if (r < 0)
		return r;
	if (ej_parse_release(etcd_req_answer(rq), &deleted) < 0)
		return bad_answer(rq);
	return deleted ? 1 : 0;
}

int
etcd_range_answer(struct etcd_req *rq, int r, struct ej_range *rg)
{
	memset(rg, 0, sizeof(*rg));
	if (r == 0 && ej_parse_range(etcd_req_answer(rq), rg) < 0)
		r = bad_answer(rq);
	return r;
}

int
etcd_lease_grant(
    struct etcd *e, unsigned int ttl, int64_t *id, int64_t *granted)
{
	struct etcd_req *rq;
	int r = run_sync(e, ETCD_GRANT, ej_lease_grant_body(ttl), &rq);

	if (rq != NULL)
		r = etcd_grant_answer(rq, r, id, granted);
	if (rq != NULL)
		req_free(rq);
	return r;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	struct etcd_req *rq;
	int r = run_sync(e, ETCD_KEEPALIVE, ej_lease_id_body(id), &rq);

	if (rq != NULL)
		r = etcd_keepalive_answer(rq, r, ttl);
	if (rq != NULL)
		req_free(rq);
	return r;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id)
{
	struct etcd_req *rq;
	int r = run_sync(e, ETCD_REVOKE, ej_lease_id_body(id), &rq);

	if (rq != NULL)
		req_free(rq);
	return r;
}

int
etcd_claim(struct etcd *e, const char *key, const char *value, int64_t lease,
    struct ej_holder *h)
{
	struct etcd_req *rq;
	int r = run_sync(e, ETCD_TXN, ej_claim_body(key, value, lease), &rq);

	h->value = NULL;
	if (rq != NULL)
		r = etcd_claim_answer(rq, r, lease, h);
	if (rq != NULL)
		req_free(rq);
	return r;
}

int
etcd_release(struct etcd *e, const char *key, int64_t lease)
{
	struct etcd_req *rq;
	int r = run_sync(e, ETCD_TXN, ej_release_body(key, lease), &rq);

	if (rq != NULL)
		r = etcd_release_answer(rq, r);
	if (rq != NULL)
		req_free(rq);
	return r;
}

int
etcd_count(struct etcd *e, const char *prefix, int64_t *n)
{
	struct etcd_req *rq;
	int r = run_sync(e, ETCD_RANGE, ej_count_body(prefix), &rq);

	if (r == 0 && ej_parse_count(etcd_req_answer(rq), n) < 0)
		r = bad_answer(rq);
	if (rq != NULL)
		req_free(rq);
	return r;
}

int
etcd_get(struct etcd *e, const char *key, struct ej_holder *h)
{
	struct etcd_req *rq;
	bool found = false;
	int r = run_sync(e, ETCD_RANGE, ej_get_body(key), &rq);

	h->value = NULL;
	if (r == 0 && ej_parse_get(etcd_req_answer(rq), &found, h) < 0)
		r = bad_answer(rq);
	if (rq != NULL)
		req_free(rq);
	return r < 0 ? r : found ? 1 : 0;
}

int
etcd_range(struct etcd *e, const char *prefix, struct ej_range *rg)
{
	struct etcd_req *rq;
	int r = run_sync(e, ETCD_RANGE, ej_range_body(prefix), &rq);

	memset(rg, 0, sizeof(*rg));
	if (rq != NULL)
		r = etcd_range_answer(rq, r, rg);
	if (rq != NULL)
		req_free(rq);
	return r;
}
