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

/* Any answer kiwi expects is small; a bigger one is not etcd's. */
#define ETCD_RESP_MAX (1024 * 1024)
#define ETCD_MAX_MEMBERS 16

struct etcd {
	CURL *curl;
	struct curl_slist *headers;
	char *members[ETCD_MAX_MEMBERS];
	size_t nmembers;
	size_t cur;
	int64_t deadline;
	char *resp;
	size_t resplen;
	size_t respcap;
	long status;
	char err[EJ_ERRLEN + 256];
	char curlerr[CURL_ERROR_SIZE];
};

static void set_err(struct etcd *e, const char *fmt, ...) KIWI_PRINTF(2, 3);

static void
set_err(struct etcd *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
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

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct etcd *e = arg;
	size_t len = size * n;
	char *p;

	if (e->resplen + len + 1 > ETCD_RESP_MAX)
		return 0;
	if (e->resplen + len + 1 > e->respcap) {
		p = realloc(e->resp, e->resplen + len + 1);
		if (p == NULL)
			return 0;
		e->resp = p;
		e->respcap = e->resplen + len + 1;
	}
	memcpy(e->resp + e->resplen, data, len);
	e->resplen += len;
	e->resp[e->resplen] = '\0';
	return len;
}

static int
setup_handle(struct etcd *e)
{
	e->curl = curl_easy_init();
	e->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (e->curl == NULL || e->headers == NULL)
		return -ENOMEM;
	if (curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers) !=
	        CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_data) !=
	        CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, e) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->curlerr) !=
	        CURLE_OK)
		return -ENOMEM;
	return 0;
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
	if (r == 0)
		r = setup_handle(e);
	if (r < 0) {
		etcd_close(e);
		return r;
	}
	*ep = e;
	return 0;
}

void
etcd_close(struct etcd *e)
{
	size_t i;

	if (e == NULL)
		return;
	if (e->curl != NULL)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	for (i = 0; i < e->nmembers; i++)
		free(e->members[i]);
	free(e->resp);
	free(e);
}

void
etcd_set_deadline(struct etcd *e, int64_t ms)
{
	e->deadline = ms;
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

/* One POST to one member within ms milliseconds; fills e->status. */
static int
post_once(struct etcd *e, const char *member, const char *path,
    const char *body, long ms)
{
	char url[1200];
	CURLcode c;

	snprintf(url, sizeof(url), "%s%s", member, path);
	e->resplen = 0;
	e->status = 0;
	e->curlerr[0] = '\0';
	if (e->resp != NULL)
		e->resp[0] = '\0';
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    ms < ETCD_CONNECT_MS ? ms : (long)ETCD_CONNECT_MS);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, ms);
	c = curl_easy_perform(e->curl);
	if (c != CURLE_OK) {
		set_err(e, "%s: %s", url,
		    e->curlerr[0] ? e->curlerr : curl_easy_strerror(c));
		return curl_errno(c);
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &e->status);
	if (e->resp == NULL && on_data("", 0, 0, e) != 0)
		return -ENOMEM;
	return 0;
}

/* Time left for a call that started at start. */
static long
budget(const struct etcd *e, int64_t start)
{
	int64_t now = now_ms(), end = start + ETCD_CALL_MS;

	if (e->deadline != 0 && e->deadline < end)
		end = e->deadline;
	return end > now ? (long)(end - now) : 0;
}

/*
 * POST to the current member; on a connection failure or a 5xx,
 * move on to the next one while time is left.  0 means some member
 * gave an answer below 500, in e->resp and e->status.
 */
static int
post(struct etcd *e, const char *path, const char *body)
{
	int64_t start = now_ms();
	size_t tried;
	long ms;
	int r = -ETIMEDOUT;

	set_err(e, "no time left to reach etcd");
	if (body == NULL) {
		set_err(e, "out of memory building %s", path);
		return -ENOMEM;
	}
	for (tried = 0; tried < e->nmembers; tried++) {
		ms = budget(e, start);
		if (ms == 0)
			break;
		r = post_once(e, e->members[e->cur], path, body, ms);
		log_debug("POST %s%s: %s (%ld ms)", e->members[e->cur], path,
		    r < 0 ? e->err : "answered", (long)(now_ms() - start));
		if (r == 0 && e->status < 500)
			return 0;
		if (r == 0) {
			set_err(e, "%s%s: HTTP %ld: %.200s", e->members[e->cur],
			    path, e->status, e->resp);
			r = -EAGAIN;
		}
		e->cur = (e->cur + 1) % e->nmembers;
	}
	return r;
}

/*
 * Turn an answer into an errno: error bodies (whatever the status),
 * then any status but 200.
 */
static int
check_answer(struct etcd *e, const char *path)
{
	char msg[EJ_ERRLEN];
	int code;

	if (ej_parse_error(e->resp, &code, msg, sizeof(msg)) == 0) {
		set_err(e, "%s: etcd says: %s (code %d, HTTP %ld)", path, msg,
		    code, e->status);
		/* gRPC NOT_FOUND: etcd's "requested lease not found". */
		return code == 5 ? -ENOENT : -EINVAL;
	}
	if (e->status != 200) {
		set_err(e, "%s: unexpected HTTP %ld: %.200s", path, e->status,
		    e->resp);
		return -EPROTO;
	}
	return 0;
}

/* POST body (freed here), check the answer. */
static int
call(struct etcd *e, const char *path, char *body)
{
	int r = post(e, path, body);

	free(body);
	if (r == 0)
		r = check_answer(e, path);
	return r;
}

static int
bad_answer(struct etcd *e, const char *path)
{
	set_err(e, "%s: answer is not what etcd sends: %.200s", path, e->resp);
	return -EPROTO;
}

int
etcd_lease_grant(
    struct etcd *e, unsigned int ttl, int64_t *id, int64_t *granted)
{
	static const char path[] = "/v3/lease/grant";
	int r = call(e, path, ej_lease_grant_body(ttl));

	if (r == 0 && ej_parse_grant(e->resp, id, granted) < 0)
		r = bad_answer(e, path);
	return r;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	static const char path[] = "/v3/lease/keepalive";
	int r = call(e, path, ej_lease_id_body(id));

	if (r < 0)
		return r;
	if (ej_parse_keepalive(e->resp, ttl) < 0)
		return bad_answer(e, path);
	if (*ttl == 0) {
		set_err(e, "lease %" PRId64 " is gone", id);
		return -ENOENT;
	}
	return 0;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id)
{
	return call(e, "/v3/lease/revoke", ej_lease_id_body(id));
}

int
etcd_claim(struct etcd *e, const char *key, const char *value, int64_t lease,
    struct ej_holder *h)
{
	static const char path[] = "/v3/kv/txn";
	bool won;
	int r = call(e, path, ej_claim_body(key, value, lease));

	h->value = NULL;
	if (r < 0)
		return r;
	if (ej_parse_claim(e->resp, &won, h) < 0)
		return bad_answer(e, path);
	if (!won && h->lease != lease)
		return 0;
	ej_holder_free(h);
	return 1;
}

int
etcd_release(struct etcd *e, const char *key, int64_t lease)
{
	static const char path[] = "/v3/kv/txn";
	bool deleted;
	int r = call(e, path, ej_release_body(key, lease));

	if (r < 0)
		return r;
	if (ej_parse_release(e->resp, &deleted) < 0)
		return bad_answer(e, path);
	return deleted ? 1 : 0;
}

int
etcd_count(struct etcd *e, const char *prefix, int64_t *n)
{
	static const char path[] = "/v3/kv/range";
	int r = call(e, path, ej_count_body(prefix));

	if (r == 0 && ej_parse_count(e->resp, n) < 0)
		r = bad_answer(e, path);
	return r;
}

int
etcd_get(struct etcd *e, const char *key, struct ej_holder *h)
{
	static const char path[] = "/v3/kv/range";
	bool found;
	int r = call(e, path, ej_get_body(key));

	h->value = NULL;
	if (r < 0)
		return r;
	if (ej_parse_get(e->resp, &found, h) < 0)
		return bad_answer(e, path);
	return found ? 1 : 0;
}
