/*
 * The Kubernetes list and watch protocol for Services: request URLs,
 * list pages and watch events.
 */
#ifndef KIWI_KUBE_H
#define KIWI_KUBE_H

#include <jansson.h>
#include <stddef.h>

/* resourceVersion and continue are opaque; longer ones are refused. */
#define KUBE_RV_MAX 256
#define KUBE_CONTINUE_MAX 4096
#define KUBE_PAGE_LIMIT 500
/* The largest list page accepted. */
#define KUBE_PAGE_MAX (64u << 20)

enum kube_evtype {
	KUBE_ADDED,
	KUBE_MODIFIED,
	KUBE_DELETED,
	KUBE_BOOKMARK,
	KUBE_ERROR,
};

struct kube_event {
	enum kube_evtype type;
	json_t *root; /* owns what the pointers below point into */
	json_t *object; /* the Service, or the Status of an ERROR */
	const char *rv; /* object.metadata.resourceVersion, or NULL */
	long code; /* ERROR: Status code */
	const char *reason;
	const char *message;
};

struct kube_page {
	json_t *root;
	json_t *items; /* array */
	const char *rv; /* metadata.resourceVersion */
	const char *cont; /* metadata.continue, "" on the last page */
};

/*
 * Both 0, or -ENAMETOOLONG when the URL does not fit.  ns names one
 * namespace; NULL or "" means every namespace.
 */
int kube_list_url(char *buf, size_t len, const char *endpoint, const char *ns,
    unsigned int limit, const char *cont);
int kube_watch_url(char *buf, size_t len, const char *endpoint, const char *ns,
    const char *rv, unsigned int timeout_s);

/* 0, or -EBADMSG after logging what was wrong with the line. */
int kube_event_parse(const char *line, size_t len, struct kube_event *ev);
void kube_event_free(struct kube_event *ev);
/* 0, or -EBADMSG after logging what was wrong with the page. */
int kube_page_parse(const char *body, size_t len, struct kube_page *pg);
void kube_page_free(struct kube_page *pg);

/* A Status body's message, else the body's first line, for a log line. */
void kube_status_text(const char *body, size_t len, char *out, size_t outlen);

#endif
