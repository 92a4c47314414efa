#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

void
secret_free(struct secret *s)
{
	if (s == NULL || s->p == NULL)
		return;
	explicit_bzero(s->p, s->n);
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

int
secret_set(struct secret *s, const char *p, size_t n)
{
	char *np;

	if ((np = malloc(n + 1)) == NULL)
		return -ENOMEM;
	memcpy(np, p, n);
	np[n] = '\0';
	secret_free(s);
	s->p = np;
	s->n = n;
	return 0;
}

/* Read fd to its end into s, refusing more than KUBE_CRED_MAX bytes. */
static int
read_all(int fd, struct secret *s)
{
	char *buf;
	size_t n = 0;
	ssize_t r;

	if ((buf = malloc(KUBE_CRED_MAX + 1)) == NULL)
		return -ENOMEM;
	while (n <= KUBE_CRED_MAX &&
	    (r = read(fd, buf + n, KUBE_CRED_MAX + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			n = (size_t)-errno;
			break;
		}
		n += (size_t)r;
	}
	if ((ssize_t)n < 0 || n > KUBE_CRED_MAX) {
		explicit_bzero(buf, KUBE_CRED_MAX + 1);
		free(buf);
		return (ssize_t)n < 0 ? (int)(ssize_t)n : -EFBIG;
	}
	buf[n] = '\0';
	secret_free(s);
	s->p = buf;
	s->n = n;
	return 0;
}

int
secret_read_file(const char *path, struct secret *s)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	rc = read_all(fd, s);
	close(fd);
	return rc;
}

const char *
secret_strerror(int err)
{
	if (err == -EFBIG)
		return "larger than 1 MiB";
	if (err == -EBADMSG)
		return "not a bearer token (empty, or more than one word)";
	return strerror(-err);
}

/* The readers' result, reported with the path when it is an error. */
static int
logged(const char *path, int rc)
{
	if (rc < 0)
		log_warnx("cannot read %s: %s", path, secret_strerror(rc));
	return rc;
}

int
secret_load(const char *path, struct secret *s)
{
	return logged(path, secret_read_file(path, s));
}

int
secret_read_token(const char *path, struct secret *tok)
{
	struct secret s = { NULL, 0 };
	size_t n;
	int rc;

	if ((rc = secret_read_file(path, &s)) < 0)
		return rc;
	n = s.n;
	while (n > 0 && strchr(" \t\r\n", s.p[n - 1]) != NULL)
		n--;
	if (n == 0 || strcspn(s.p, "\r\n\t ") < n)
		rc = -EBADMSG;
	else
		rc = secret_set(tok, s.p, n);
	secret_free(&s);
	return rc;
}

int
secret_load_token(const char *path, struct secret *tok)
{
	return logged(path, secret_read_token(path, tok));
}

static int
in_cluster(struct kube_auth *a, const char *host, const char *port)
{
	int n;

	/* An IPv6 service address needs brackets in a URL. */
	n = snprintf(a->server, sizeof(a->server),
	    strchr(host, ':') != NULL ? "https://[%s]:%s" : "https://%s:%s",
	    host, port);
	if (n < 0 || (size_t)n >= sizeof(a->server)) {
		log_warnx("KUBERNETES_SERVICE_HOST and _PORT make too long "
		          "a URL");
		return -ENAMETOOLONG;
	}
	a->mode = AUTH_IN_CLUSTER;
	snprintf(a->desc, sizeof(a->desc), "the in-cluster service account");
	snprintf(a->token_file, sizeof(a->token_file), "%s/token", KUBE_SA_DIR);
	if (secret_load(KUBE_SA_DIR "/ca.crt", &a->ca) < 0 ||
	    secret_load_token(a->token_file, &a->token) < 0)
		return -EINVAL;
	a->token_read_at = now_ms();
	return 0;
}

int
kube_auth_load(const struct kiwi_config *cfg, struct kube_auth *a)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	int rc;

	memset(a, 0, sizeof(*a));
	if (cfg->kubeconfig[0] != '\0') {
		if ((rc = kubeconfig_load(cfg->kubeconfig, a)) < 0)
			return rc;
		if (a->token_file[0] != '\0')
			a->token_read_at = now_ms();
		if (cfg->kube_endpoint_given)
			snprintf(a->server, sizeof(a->server), "%s",
			    cfg->kube_endpoint);
		return 0;
	}
	if (!cfg->kube_endpoint_given && host != NULL && *host != '\0' &&
	    port != NULL && *port != '\0')
		return in_cluster(a, host, port);
	a->mode = AUTH_ENDPOINT;
	snprintf(a->server, sizeof(a->server), "%s", cfg->kube_endpoint);
	snprintf(a->desc, sizeof(a->desc), "%s",
	    cfg->kube_endpoint_given ? "--kube-endpoint"
	                             : "the default endpoint");
	return 0;
}

void
kube_auth_free(struct kube_auth *a)
{
	if (a == NULL)
		return;
	secret_free(&a->ca);
	secret_free(&a->cert);
	secret_free(&a->key);
	secret_free(&a->token);
}

int
kube_auth_refresh(struct kube_auth *a, bool force)
{
	struct secret tok = { NULL, 0 };
	int changed, rc;

	if (a->token_file[0] == '\0')
		return 0;
	if (!force && now_ms() - a->token_read_at < KUBE_TOKEN_REREAD_MS)
		return 0;
	a->token_read_at = now_ms();
	if ((rc = secret_read_token(a->token_file, &tok)) < 0) {
		if (!a->token_warned)
			log_warnx("cannot read %s again (%s): keeping the "
			          "token read before, a rotated token is not "
			          "seen",
			    a->token_file, secret_strerror(rc));
		a->token_warned = true;
		return 0;
	}
	a->token_warned = false;
	changed = tok.n != a->token.n || memcmp(tok.p, a->token.p, tok.n) != 0;
	secret_free(&a->token);
	a->token = tok;
	if (changed)
		log_info("read a new token from %s", a->token_file);
	return changed;
}
