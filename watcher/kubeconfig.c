/*
 * Reading the current context of a kubeconfig with libyaml: its
 * cluster's server and CA, and its user's certificate, key or token.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "auth.h"
#include "common/log.h"

struct kc {
	const char *path;
	yaml_document_t doc;
	int err; /* the first error; later ones are not reported */
};

/* Keys that change how to connect, which kiwi cannot honour. */
static const char *const refused_user[] = { "exec", "auth-provider", "username",
	"password", "as", "as-groups", "as-uid", "as-user-extra" };
static const char *const refused_cluster[] = { "proxy-url", "tls-server-name" };

static void KIWI_PRINTF(3, 4)
    kc_error(struct kc *k, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (k->err != 0)
		return;
	k->err = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at != NULL)
		log_warnx("kubeconfig %s, line %zu: %s", k->path,
		    at->start_mark.line + 1, msg);
	else
		log_warnx("kubeconfig %s: %s", k->path, msg);
}

static const char *
scalar(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* The value of key in the mapping m, or NULL. */
static yaml_node_t *
map_get(struct kc *k, const yaml_node_t *m, const char *key)
{
	yaml_node_pair_t *p;
	const char *s;

	if (m == NULL || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		s = scalar(yaml_document_get_node(&k->doc, p->key));
		if (s != NULL && strcmp(s, key) == 0)
			return yaml_document_get_node(&k->doc, p->value);
	}
	return NULL;
}

/* A string field of m; NULL when absent, an error when not a string. */
static const char *
map_str(struct kc *k, const yaml_node_t *m, const char *key)
{
	yaml_node_t *v = map_get(k, m, key);
	const char *s = scalar(v);

	if (v != NULL && s == NULL)
		kc_error(k, v, "%s: not a string", key);
	if (s != NULL && *s == '\0')
		return NULL;
	return s;
}

/*
 * The mapping under field inner of the entry called name in the list
 * called list (as in "clusters: [{name: x, cluster: {...}}]").
 */
static yaml_node_t *
named(struct kc *k, const char *list, const char *name, const char *inner)
{
	yaml_node_t *root = yaml_document_get_root_node(&k->doc), *seq, *e;
	yaml_node_item_t *it;
	const char *n;

	seq = map_get(k, root, list);
	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE) {
		kc_error(k, seq, "no list '%s', so no entry '%s'", list, name);
		return NULL;
	}
	for (it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		e = yaml_document_get_node(&k->doc, *it);
		n = scalar(map_get(k, e, "name"));
		if (n == NULL || strcmp(n, name) != 0)
			continue;
		if ((e = map_get(k, e, inner)) == NULL ||
		    e->type != YAML_MAPPING_NODE) {
			kc_error(k, seq, "%s '%s' has no '%s' mapping", list,
			    name, inner);
			return NULL;
		}
		return e;
	}
	kc_error(k, seq, "%s has no entry named '%s'", list, name);
	return NULL;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64, blanks ignored, padding optional; -EINVAL if bad. */
static int
b64_decode(const char *in, struct secret *out)
{
	size_t len = strlen(in), o = 0;
	unsigned int acc = 0, bits = 0;
	const char *p;
	int v;

	if ((out->p = malloc(len / 4 * 3 + 4)) == NULL)
		return -ENOMEM;
	for (p = in; *p != '\0' && *p != '='; p++) {
		if (strchr(" \t\r\n", *p) != NULL)
			continue;
		if ((v = b64_value((unsigned char)*p)) < 0)
			goto bad;
		acc = (acc << 6) | (unsigned int)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out->p[o++] = (char)(acc >> bits);
		}
	}
	while (*p == '=' || (*p != '\0' && strchr(" \t\r\n", *p) != NULL))
		p++;
	if (*p != '\0' || bits >= 6)
		goto bad;
	out->p[o] = '\0';
	out->n = o;
	return 0;
bad:
	explicit_bzero(out->p, len / 4 * 3 + 4);
	free(out->p);
	out->p = NULL;
	return -EINVAL;
}

/* A relative path in a kubeconfig is relative to the kubeconfig. */
static int
resolve(struct kc *k, const char *rel, char *out, size_t len)
{
	const char *slash = strrchr(k->path, '/');
	int n;

	if (rel[0] == '/' || slash == NULL)
		n = snprintf(out, len, "%s", rel);
	else
		n = snprintf(
		    out, len, "%.*s/%s", (int)(slash - k->path), k->path, rel);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Field base (a path) or base-data (base64) of m into s; exactly one
 * of them, or neither.  Returns 1 when one was there.
 */
static int
file_or_data(
    struct kc *k, const yaml_node_t *m, const char *base, struct secret *s)
{
	char key[64], path[KIWI_PATH_MAX];
	const char *file, *data;
	int rc;

	snprintf(key, sizeof(key), "%s-data", base);
	file = map_str(k, m, base);
	data = map_str(k, m, key);
	if (file != NULL && data != NULL) {
		kc_error(k, map_get(k, m, key), "both %s and %s: give one",
		    base, key);
		return 0;
	}
	if (data != NULL && b64_decode(data, s) < 0) {
		kc_error(k, map_get(k, m, key), "%s: not base64", key);
		return 0;
	}
	if (file != NULL && resolve(k, file, path, sizeof(path)) < 0) {
		kc_error(k, map_get(k, m, base), "%s: path too long", base);
		return 0;
	}
	if (file != NULL && (rc = secret_read_file(path, s)) < 0) {
		kc_error(k, map_get(k, m, base), "%s %s: %s", base, path,
		    secret_strerror(rc));
		return 0;
	}
	return file != NULL || data != NULL;
}

static void
refuse(struct kc *k, const yaml_node_t *m, const char *what,
    const char *const *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (map_get(k, m, keys[i]) != NULL)
			kc_error(k, map_get(k, m, keys[i]),
			    "%s: '%s' is not supported by kiwi; use a "
			    "kubeconfig with a token, tokenFile or client "
			    "certificate",
			    what, keys[i]);
}

static void
read_cluster(struct kc *k, const yaml_node_t *c, struct kube_auth *a)
{
	const char *server = map_str(k, c, "server");
	const char *skip = map_str(k, c, "insecure-skip-tls-verify");

	refuse(k, c, "cluster", refused_cluster,
	    sizeof(refused_cluster) / sizeof(*refused_cluster));
	if (server == NULL) {
		kc_error(k, c, "the cluster has no server");
		return;
	}
	if (strncmp(server, "https://", 8) != 0 &&
	    strncmp(server, "http://", 7) != 0) {
		kc_error(k, map_get(k, c, "server"),
		    "server '%s' is not an http:// or https:// URL", server);
		return;
	}
	if (strlen(server) >= sizeof(a->server)) {
		kc_error(k, map_get(k, c, "server"), "server: too long");
		return;
	}
	snprintf(a->server, sizeof(a->server), "%s", server);
	a->insecure = skip != NULL && strcasecmp(skip, "true") == 0;
	file_or_data(k, c, "certificate-authority", &a->ca);
}

static void
read_user(struct kc *k, const yaml_node_t *u, struct kube_auth *a)
{
	const char *token = map_str(k, u, "token");
	const char *file = map_str(k, u, "tokenFile");
	int cert, key, rc;

	refuse(k, u, "user", refused_user,
	    sizeof(refused_user) / sizeof(*refused_user));
	cert = file_or_data(k, u, "client-certificate", &a->cert);
	key = file_or_data(k, u, "client-key", &a->key);
	if (cert != key)
		kc_error(k, u,
		    "a client certificate needs its key, and a "
		    "key its certificate");
	if (token != NULL && secret_set(&a->token, token, strlen(token)) < 0)
		k->err = -ENOMEM;
	if (file == NULL || k->err != 0)
		return;
	if (resolve(k, file, a->token_file, sizeof(a->token_file)) < 0)
		kc_error(k, map_get(k, u, "tokenFile"), "tokenFile: too long");
	else if ((rc = secret_read_token(a->token_file, &a->token)) < 0)
		kc_error(k, map_get(k, u, "tokenFile"), "tokenFile %s: %s",
		    a->token_file, secret_strerror(rc));
}

static void
read_context(struct kc *k, struct kube_auth *a)
{
	yaml_node_t *root = yaml_document_get_root_node(&k->doc), *ctx, *c;
	const char *cur, *cluster, *user;

	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		kc_error(k, root, "not a YAML mapping");
		return;
	}
	if ((cur = map_str(k, root, "current-context")) == NULL) {
		kc_error(k, root, "no current-context");
		return;
	}
	if ((ctx = named(k, "contexts", cur, "context")) == NULL)
		return;
	cluster = map_str(k, ctx, "cluster");
	user = map_str(k, ctx, "user");
	if (cluster == NULL) {
		kc_error(k, ctx, "context '%s' names no cluster", cur);
		return;
	}
	if ((c = named(k, "clusters", cluster, "cluster")) != NULL)
		read_cluster(k, c, a);
	if (user != NULL && k->err == 0 &&
	    (c = named(k, "users", user, "user")) != NULL)
		read_user(k, c, a);
	snprintf(a->desc, sizeof(a->desc), "kubeconfig %s, context %s", k->path,
	    cur);
}

/* The document holds the tokens and keys: clear them before freeing. */
static void
wipe_document(yaml_document_t *doc)
{
	yaml_node_t *n;

	for (n = doc->nodes.start; n != NULL && n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE)
			explicit_bzero(
			    n->data.scalar.value, n->data.scalar.length);
	yaml_document_delete(doc);
}

static int
parse(struct kc *k, const struct secret *text)
{
	yaml_parser_t p;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(
	    &p, (const unsigned char *)text->p, text->n);
	if (!yaml_parser_load(&p, &k->doc)) {
		log_warnx("kubeconfig %s, line %zu: %s", k->path,
		    p.problem_mark.line + 1,
		    p.problem != NULL ? p.problem : "not YAML");
		rc = -EINVAL;
	}
	/*
	 * XXX only the input buffer is cleared: libyaml frees its other
	 * buffers, which may have held pieces of a secret, as they are.
	 */
	if (p.buffer.start != NULL)
		explicit_bzero(
		    p.buffer.start, (size_t)(p.buffer.end - p.buffer.start));
	yaml_parser_delete(&p);
	return rc;
}

int
kubeconfig_load(const char *path, struct kube_auth *a)
{
	struct secret text = { NULL, 0 };
	struct kc k = { .path = path };
	int rc;

	a->mode = AUTH_KUBECONFIG;
	if ((rc = secret_load(path, &text)) < 0)
		return rc;
	rc = parse(&k, &text);
	secret_free(&text);
	if (rc < 0)
		return rc;
	read_context(&k, a);
	wipe_document(&k.doc);
	if (k.err < 0)
		kube_auth_free(a);
	return k.err;
}
