#include "kube.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "service.h"

static const char *const evtypes[] = {
	[KUBE_ADDED] = "ADDED",
	[KUBE_MODIFIED] = "MODIFIED",
	[KUBE_DELETED] = "DELETED",
	[KUBE_BOOKMARK] = "BOOKMARK",
	[KUBE_ERROR] = "ERROR",
};

/* Percent-encode s into out; false when it does not fit. */
static int
urlenc(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (o + 4 > len)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (o >= len)
		return 0;
	out[o] = '\0';
	return 1;
}

/* The endpoint without a trailing slash, so paths join cleanly. */
static int
base_len(const char *endpoint)
{
	size_t n = strlen(endpoint);

	while (n > 0 && endpoint[n - 1] == '/')
		n--;
	return (int)n;
}

/* The endpoint and the collection's path: one namespace, or all. */
static int
collection(char *buf, size_t len, const char *endpoint, const char *ns)
{
	int n;

	if (ns != NULL && *ns != '\0')
		n = snprintf(buf, len, "%.*s/api/v1/namespaces/%s/services",
		    base_len(endpoint), endpoint, ns);
	else
		n = snprintf(buf, len, "%.*s/api/v1/services",
		    base_len(endpoint), endpoint);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}

int
kube_list_url(char *buf, size_t len, const char *endpoint, const char *ns,
    unsigned int limit, const char *cont)
{
	char enc[3 * KUBE_CONTINUE_MAX + 1];
	int n, m;

	if (!urlenc(cont, enc, sizeof(enc)) ||
	    (n = collection(buf, len, endpoint, ns)) < 0)
		return -ENAMETOOLONG;
	m = snprintf(buf + n, len - (size_t)n, "?limit=%u%s%s", limit,
	    *enc ? "&continue=" : "", enc);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

int
kube_watch_url(char *buf, size_t len, const char *endpoint, const char *ns,
    const char *rv, unsigned int timeout_s)
{
	char enc[3 * KUBE_RV_MAX + 1];
	int n, m;

	if (!urlenc(rv, enc, sizeof(enc)) ||
	    (n = collection(buf, len, endpoint, ns)) < 0)
		return -ENAMETOOLONG;
	m = snprintf(buf + n, len - (size_t)n,
	    "?watch=1&resourceVersion=%s&allowWatchBookmarks=true"
	    "&timeoutSeconds=%u",
	    enc, timeout_s);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

/* metadata.resourceVersion of obj, if it is a usable string. */
static const char *
object_rv(const json_t *obj)
{
	const char *rv;

	rv = json_string_value(json_object_get(
	    json_object_get(obj, "metadata"), "resourceVersion"));
	if (rv == NULL || *rv == '\0' || strlen(rv) >= KUBE_RV_MAX)
		return NULL;
	return rv;
}

static int
event_type(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(evtypes) / sizeof(evtypes[0]); i++)
		if (strcmp(s, evtypes[i]) == 0)
			return (int)i;
	return -1;
}

static void
event_status(struct kube_event *ev)
{
	ev->code =
	    (long)json_integer_value(json_object_get(ev->object, "code"));
	ev->reason = json_string_value(json_object_get(ev->object, "reason"));
	ev->message = json_string_value(json_object_get(ev->object, "message"));
	if (ev->reason == NULL)
		ev->reason = "";
	if (ev->message == NULL)
		ev->message = "";
}

int
kube_event_parse(const char *line, size_t len, struct kube_event *ev)
{
	json_error_t jerr;
	int type;

	memset(ev, 0, sizeof(*ev));
	ev->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (ev->root == NULL) {
		log_warnx("watch event, column %d: %s", jerr.column, jerr.text);
		return -EBADMSG;
	}
	type = event_type(json_string_value(json_object_get(ev->root, "type")));
	ev->object = json_object_get(ev->root, "object");
	if (type < 0 || !json_is_object(ev->object)) {
		log_warnx("watch event without a known type and an object");
		kube_event_free(ev);
		return -EBADMSG;
	}
	ev->type = (enum kube_evtype)type;
	if (ev->type == KUBE_ERROR)
		event_status(ev);
	else
		ev->rv = object_rv(ev->object);
	return 0;
}

void
kube_event_free(struct kube_event *ev)
{
	if (ev == NULL)
		return;
	json_decref(ev->root);
	memset(ev, 0, sizeof(*ev));
}

int
kube_page_parse(const char *body, size_t len, struct kube_page *pg)
{
	json_error_t jerr;
	json_t *md;

	memset(pg, 0, sizeof(*pg));
	pg->root = json_loadb(body, len, 0, &jerr);
	if (pg->root == NULL) {
		log_warnx("service list, line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return -EBADMSG;
	}
	md = json_object_get(pg->root, "metadata");
	pg->items = json_object_get(pg->root, "items");
	pg->rv = object_rv(pg->root);
	pg->cont = json_string_value(json_object_get(md, "continue"));
	if (pg->cont == NULL)
		pg->cont = "";
	if (json_is_null(pg->items) || pg->items == NULL)
		pg->items = NULL;
	if ((pg->items != NULL && !json_is_array(pg->items)) ||
	    pg->rv == NULL || strlen(pg->cont) >= KUBE_CONTINUE_MAX) {
		log_warnx("service list without items, a usable "
		          "metadata.resourceVersion or continue");
		kube_page_free(pg);
		return -EBADMSG;
	}
	return 0;
}

void
kube_page_free(struct kube_page *pg)
{
	if (pg == NULL)
		return;
	json_decref(pg->root);
	memset(pg, 0, sizeof(*pg));
}

void
kube_status_text(const char *body, size_t len, char *out, size_t outlen)
{
	char first[201];
	const char *msg;
	json_t *root;
	size_t n;

	root = json_loadb(body, len, 0, NULL);
	msg = json_string_value(json_object_get(root, "message"));
	if (msg != NULL) {
		svc_text(msg, out, outlen);
		json_decref(root);
		return;
	}
	json_decref(root);
	n = strcspn(body, "\r\n");
	snprintf(first, sizeof(first), "%.*s", (int)(n > 200 ? 200 : n), body);
	svc_text(first, out, outlen);
}
