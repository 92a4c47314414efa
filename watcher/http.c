#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"

/* A connection that does not open in this long is retried later. */
#define HTTP_CONNECT_TIMEOUT_MS 10000

int
http_init(struct http *h)
{
	memset(h, 0, sizeof(*h));
	if ((h->multi = curl_multi_init()) == NULL) {
		log_warnx("curl_multi_init failed");
		return -ENOMEM;
	}
	return 0;
}

void
http_cancel(struct http *h)
{
	if (h->easy == NULL)
		return;
	curl_multi_remove_handle(h->multi, h->easy);
	curl_easy_cleanup(h->easy);
	h->easy = NULL;
}

void
http_set_auth(struct http *h, const struct kube_auth *a)
{
	h->auth = a;
}

void
http_free(struct http *h)
{
	if (h == NULL || h->multi == NULL)
		return;
	http_cancel(h);
	secret_free(&h->authz);
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
}

bool
http_busy(const struct http *h)
{
	return h->easy != NULL;
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct http *h = arg;
	size_t len = size * n, keep;
	long status = 0;

	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		if ((h->body_err = h->cb(h->arg, p, len)) < 0)
			return CURL_WRITEFUNC_ERROR;
		return len;
	}
	keep = HTTP_ERRBODY_MAX - h->errlen;
	if (keep > len)
		keep = len;
	memcpy(h->errbody + h->errlen, p, keep);
	h->errlen += keep;
	h->errbody[h->errlen] = '\0';
	return len;
}

static CURLcode
set_blob(CURL *e, CURLoption opt, const struct secret *s)
{
	/* No copy: the only copy of a key stays the one that is wiped. */
	struct curl_blob b = { s->p, s->n, CURL_BLOB_NOCOPY };

	return curl_easy_setopt(e, opt, &b);
}

/*
 * The token travels in a header list made here rather than with
 * curl_slist_append, which would leave an unwiped copy behind.
 * XXX libcurl still builds each request in a buffer of its own and
 * frees it without clearing it; only our copies are wiped.
 */
static CURLcode
set_token(struct http *h)
{
	static const char pfx[] = "Authorization: Bearer ";
	const struct secret *t = &h->auth->token;
	size_t n = sizeof(pfx) - 1 + t->n;

	secret_free(&h->authz);
	if ((h->authz.p = malloc(n + 1)) == NULL)
		return CURLE_OUT_OF_MEMORY;
	memcpy(h->authz.p, pfx, sizeof(pfx) - 1);
	memcpy(h->authz.p + sizeof(pfx) - 1, t->p, t->n + 1);
	h->authz.n = n;
	h->header.data = h->authz.p;
	h->header.next = NULL;
	return curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, &h->header);
}

/* TLS trust, a client certificate and a token, when configured. */
static CURLcode
setup_auth(struct http *h)
{
	const struct kube_auth *a = h->auth;
	CURL *e = h->easy;
	CURLcode rc = CURLE_OK;

	if (a == NULL)
		return CURLE_OK;
	/* The configured CA replaces the system's: trust no other. */
	if (a->ca.n > 0)
		rc = curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	if (rc == CURLE_OK && a->ca.n > 0)
		rc = curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
	if (rc == CURLE_OK && a->ca.n > 0)
		rc = set_blob(e, CURLOPT_CAINFO_BLOB, &a->ca);
	if (rc == CURLE_OK && a->cert.n > 0)
		rc = set_blob(e, CURLOPT_SSLCERT_BLOB, &a->cert);
	if (rc == CURLE_OK && a->key.n > 0)
		rc = set_blob(e, CURLOPT_SSLKEY_BLOB, &a->key);
	if (rc == CURLE_OK && a->insecure)
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	if (rc == CURLE_OK && a->insecure)
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	if (rc == CURLE_OK && a->token.n > 0)
		rc = set_token(h);
	return rc;
}

static int
setup(struct http *h, const char *url, long timeout_ms)
{
	CURL *e = h->easy;
	CURLcode rc = CURLE_OK;

	/* Order: stop at the first option that fails. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->curl_error);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)HTTP_CONNECT_TIMEOUT_MS);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(
		    e, CURLOPT_USERAGENT, "kiwi/" KIWI_VERSION);
	if (rc == CURLE_OK)
		rc = setup_auth(h);
	if (rc != CURLE_OK) {
		log_warnx("%s: %s", url, curl_easy_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

int
http_get(struct http *h, const char *url, long timeout_ms, http_body_cb cb,
    void *arg)
{
	CURLMcode mc;

	http_cancel(h);
	if ((h->easy = curl_easy_init()) == NULL) {
		log_warnx("curl_easy_init failed");
		return -ENOMEM;
	}
	h->cb = cb;
	h->arg = arg;
	h->body_err = 0;
	h->errlen = 0;
	h->errbody[0] = '\0';
	h->curl_error[0] = '\0';
	if (setup(h, url, timeout_ms) < 0)
		goto fail;
	if ((mc = curl_multi_add_handle(h->multi, h->easy)) != CURLM_OK) {
		log_warnx("%s: %s", url, curl_multi_strerror(mc));
		goto fail;
	}
	return 0;
fail:
	curl_easy_cleanup(h->easy);
	h->easy = NULL;
	return -EINVAL;
}

int
http_wait(struct http *h, int fd, int timeout_ms)
{
	struct curl_waitfd wfd = { .fd = fd, .events = CURL_WAIT_POLLIN };
	CURLMcode mc;
	int running;

	mc = curl_multi_poll(h->multi, &wfd, 1, timeout_ms, NULL);
	if (mc == CURLM_OK)
		mc = curl_multi_perform(h->multi, &running);
	if (mc != CURLM_OK) {
		log_warnx("curl: %s", curl_multi_strerror(mc));
		return -EIO;
	}
	return (wfd.revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI)) != 0;
}

int
http_done(struct http *h, struct http_result *r)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE || m->easy_handle != h->easy)
			continue;
		memset(r, 0, sizeof(*r));
		r->code = m->data.result;
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r->status);
		r->body_err = h->body_err;
		r->curl_error = h->curl_error[0] ? h->curl_error
		                                 : curl_easy_strerror(r->code);
		r->errbody = h->errbody;
		r->errlen = h->errlen;
		curl_multi_remove_handle(h->multi, h->easy);
		curl_easy_cleanup(h->easy);
		h->easy = NULL;
		return 1;
	}
	return 0;
}
