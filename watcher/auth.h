/*
 * How the watcher reaches and authenticates to the Kubernetes API: an
 * explicit --kube-endpoint, a kubeconfig, or the in-cluster service
 * account.
 *
 * Who reads what: the kubeconfig and the files it names may be
 * readable by root only, so the watcher reads them in its own process
 * right after fork, before it drops privileges (watcher_prepare).  The
 * supervisor, the claimer and the netagent never hold a credential.
 * What the watcher keeps is only what a request needs: the server, and
 * the CA, client certificate, key and token as bytes, wiped when it
 * exits.  A token file (in-cluster, or a kubeconfig's tokenFile) is
 * read again after the drop, every minute and after a 401, because
 * bound service-account tokens rotate; in a pod the watcher stays uid 0
 * without capabilities and can read it.
 */
#ifndef KIWI_AUTH_H
#define KIWI_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* Where a pod finds its service account. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* The largest credential file read (a CA bundle, a key, a token): 1 MiB. */
#define KUBE_CRED_MAX (1u << 20)
/* How often a token file is read again. */
#define KUBE_TOKEN_REREAD_MS 60000

/* Bytes that are wiped before they are freed. */
struct secret {
	char *p; /* NUL-terminated */
	size_t n;
};

enum auth_mode {
	AUTH_ENDPOINT, /* --kube-endpoint, or the default */
	AUTH_KUBECONFIG,
	AUTH_IN_CLUSTER,
};

struct kube_auth {
	enum auth_mode mode;
	char server[KIWI_URL_MAX];
	char desc[KIWI_PATH_MAX + 64]; /* for log lines; no secret */
	struct secret ca; /* PEM; empty: the system's CA store */
	struct secret cert; /* client certificate, PEM */
	struct secret key; /* its key, PEM */
	struct secret token; /* bearer token */
	char token_file[KIWI_PATH_MAX]; /* "" when the token is fixed */
	bool insecure; /* insecure-skip-tls-verify */
	int64_t token_read_at; /* now_ms() of the last read */
	bool token_warned; /* a failed re-read was reported */
};

void secret_free(struct secret *s);
/*
 * Read a whole file of at most KUBE_CRED_MAX bytes into s.  0, or a
 * negative errno (-EFBIG when it is larger); logs nothing.
 */
int secret_read_file(const char *path, struct secret *s);
/* The same, logging the path and what was wrong. */
int secret_load(const char *path, struct secret *s);
/*
 * A token file: one word, maybe with a newline after it (-EBADMSG
 * otherwise); the quiet and the logging variant.
 */
int secret_read_token(const char *path, struct secret *tok);
int secret_load_token(const char *path, struct secret *tok);
/* What a negative value from the readers above means. */
const char *secret_strerror(int err);
/* Take a copy of n bytes of p.  0 or -ENOMEM. */
int secret_set(struct secret *s, const char *p, size_t n);

/*
 * Decide how to connect from cfg and the environment, and read every
 * credential that needs reading once.  Precedence: --kubeconfig (or
 * $KUBECONFIG), whose server --kube-endpoint overrides; else an
 * explicit --kube-endpoint; else in-cluster when
 * KUBERNETES_SERVICE_HOST and _PORT are set; else the default
 * endpoint.  0, or a negative errno after saying what was wrong.
 */
int kube_auth_load(const struct kiwi_config *cfg, struct kube_auth *a);
void kube_auth_free(struct kube_auth *a);
/*
 * Read the token file again when force is set (after a 401) or when
 * KUBE_TOKEN_REREAD_MS have passed.  A failed read keeps the old token
 * and is reported once until a read works again.  Returns 1 when the
 * token changed, else 0.
 */
int kube_auth_refresh(struct kube_auth *a, bool force);

/* The kubeconfig part of kube_auth_load; exposed for tests. */
int kubeconfig_load(const char *path, struct kube_auth *a);

#endif
