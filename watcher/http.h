/*
 * One HTTP GET at a time over the curl multi interface, so that the
 * watcher's loop can wait on the transfer and on its own sockets
 * together.
 */
#ifndef KIWI_HTTP_H
#define KIWI_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

/* Called with body bytes of a 2xx answer; negative aborts the transfer. */
typedef int (*http_body_cb)(void *arg, const char *p, size_t n);

#define HTTP_ERRBODY_MAX 4096

struct http_result {
	CURLcode code;
	long status; /* 0 when no answer arrived */
	int body_err; /* what the body callback returned, when negative */
	const char *curl_error;
	const char *errbody; /* start of a non-2xx body, NUL-terminated */
	size_t errlen;
};

struct http {
	CURLM *multi;
	CURL *easy;
	http_body_cb cb;
	void *arg;
	int body_err;
	char errbody[HTTP_ERRBODY_MAX + 1];
	size_t errlen;
	char curl_error[CURL_ERROR_SIZE];
	const struct kube_auth *auth; /* NULL: no TLS or token settings */
	struct secret authz; /* "Authorization: Bearer ..." */
	struct curl_slist header; /* points at authz, not a copy */
};

int http_init(struct http *h);
/* Credentials for every later request; a must outlive h's use. */
void http_set_auth(struct http *h, const struct kube_auth *a);
void http_free(struct http *h);
/* Start a GET of url; 0 or a negative errno (logged). */
int http_get(struct http *h, const char *url, long timeout_ms, http_body_cb cb,
    void *arg);
bool http_busy(const struct http *h);
/*
 * Move the transfer along, waiting at most timeout_ms for it or for fd
 * to become readable.  Returns 1 when fd is readable, else 0, or a
 * negative errno (logged).
 */
int http_wait(struct http *h, int fd, int timeout_ms);
/* 1 and r filled when the transfer has ended (r valid until the next
 * http_get), else 0. */
int http_done(struct http *h, struct http_result *r);
void http_cancel(struct http *h);

#endif
