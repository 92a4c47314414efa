#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/util.h"

/* The address lists a Service may carry, in the order they are read. */
static const char *const addr_fields[] = { "externalIPs",
	"deprecatedPublicIPs" };

int
service_key(const json_t *obj, char *key, size_t len)
{
	const char *ns, *name;
	json_t *md;
	int n;

	if (!json_is_object(obj))
		return -EINVAL;
	md = json_object_get(obj, "metadata");
	ns = json_string_value(json_object_get(md, "namespace"));
	name = json_string_value(json_object_get(md, "name"));
	if (ns == NULL || name == NULL || *ns == '\0' || *name == '\0')
		return -EINVAL;
	n = snprintf(key, len, "%s/%s", ns, name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

const char *
svc_text(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; outlen > 0 && i < outlen - 1 && s[i] != '\0'; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (outlen > 0)
		out[i] = '\0';
	return out;
}

void
service_free(struct service *svc)
{
	if (svc == NULL)
		return;
	free(svc->addrs);
	free(svc->why);
	free(svc->ports);
	memset(svc, 0, sizeof(*svc));
}

int
service_wants(const struct service *svc, const struct kiwi_addr *a)
{
	size_t i;

	for (i = 0; i < svc->naddrs; i++)
		if (addr_equal(&svc->addrs[i], a))
			return 1;
	return 0;
}

uint8_t
service_why(const struct service *svc, const struct kiwi_addr *a)
{
	size_t i;

	for (i = 0; i < svc->naddrs; i++)
		if (addr_equal(&svc->addrs[i], a))
			return svc->why[i];
	return ADDR_CLAIMABLE;
}

/* Addresses outside the ranges are normal; report each only once. */
#define ADDR_SEEN_MAX 4096

void
addr_seen_free(struct addr_seen *s)
{
	if (s == NULL)
		return;
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Whether a is new to s; remembers it. */
static int
addr_seen_first(struct addr_seen *s, const struct kiwi_addr *a)
{
	size_t lo = 0, hi, mid;
	struct kiwi_addr *nv;
	int c;

	if (s == NULL)
		return 1;
	for (hi = s->n; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if ((c = addr_cmp(&s->v[mid], a)) == 0)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* XXX past the cap, repeats are reported again: memory is bounded. */
	if (s->n == ADDR_SEEN_MAX)
		return 1;
	if (s->n == s->cap) {
		nv = reallocarray(s->v, s->cap ? s->cap * 2 : 64, sizeof(*nv));
		if (nv == NULL)
			return 1;
		s->v = nv;
		s->cap = s->cap ? s->cap * 2 : 64;
	}
	memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof(*s->v));
	s->v[lo] = *a;
	s->n++;
	return 1;
}

/*
 * Whether kiwi may claim an address; says why not when it may not.
 * where names the field, like "spec.externalIPs[2]".
 */
static enum addr_class
addr_check(const struct service *svc, const char *where,
    const struct kiwi_addr *a, const struct svc_filter *f)
{
	enum addr_class k = addr_classify(f->cidrs, f->ncidrs, a);
	char buf[KIWI_ADDRSTRLEN];

	addr_fmt(a, buf, sizeof(buf));
	if (k == ADDR_OUT_OF_RANGE && addr_seen_first(f->seen, a))
		log_debug("service %s: %s %s: %s, not claimed", svc->key, where,
		    buf, addr_class_text(k));
	else if (k != ADDR_CLAIMABLE && k != ADDR_OUT_OF_RANGE)
		log_warnx("service %s: %s %s: %s, not claimed", svc->key, where,
		    buf, addr_class_text(k));
	return k;
}

static int
add_addr(struct service *svc, const struct kiwi_addr *a, enum addr_class k)
{
	struct kiwi_addr *n;
	uint8_t *w;

	if (service_wants(svc, a))
		return 0;
	if ((w = realloc(svc->why, svc->naddrs + 1)) == NULL)
		return -ENOMEM;
	svc->why = w;
	n = reallocarray(svc->addrs, svc->naddrs + 1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	svc->addrs = n;
	svc->why[svc->naddrs] = (uint8_t)k;
	svc->addrs[svc->naddrs++] = *a;
	return 0;
}

/* One address field; v may be NULL (absent), which is fine. */
static int
parse_addr(struct service *svc, const char *where, const json_t *v,
    const struct svc_filter *f)
{
	const char *s = json_string_value(v);
	char text[65];
	struct kiwi_addr a;

	if (v == NULL || json_is_null(v))
		return 0;
	if (s == NULL) {
		log_warnx(
		    "service %s: %s: not a string, ignoring", svc->key, where);
		return 0;
	}
	if (addr_parse(s, &a) < 0) {
		log_warnx("service %s: %s: \"%s\" is not an IP address, "
		          "ignoring",
		    svc->key, where, svc_text(s, text, sizeof(text)));
		return 0;
	}
	return add_addr(svc, &a, addr_check(svc, where, &a, f));
}

/* The list at obj.field ("spec.externalIPs"); NULL, after a log, if odd. */
static const json_t *
get_list(const struct service *svc, const json_t *obj, const char *path,
    const char *field)
{
	const json_t *list = json_object_get(obj, field);

	if (list == NULL || json_is_null(list))
		return NULL;
	if (!json_is_array(list)) {
		log_warnx("service %s: %s.%s: not a list, ignoring", svc->key,
		    path, field);
		return NULL;
	}
	return list;
}

static int
parse_addrs(struct service *svc, const json_t *spec, const char *field,
    const struct svc_filter *f)
{
	const json_t *list = get_list(svc, spec, "spec", field), *v;
	char where[64];
	size_t i;
	int rc;

	json_array_foreach(list, i, v)
	{
		snprintf(where, sizeof(where), "spec.%s[%zu]", field, i);
		if ((rc = parse_addr(svc, where, v, f)) < 0)
			return rc;
	}
	return 0;
}

/*
 * What a LoadBalancer allocator assigned: status.loadBalancer.ingress[]
 * .ip, and the deprecated spec.loadBalancerIP that asked for one.
 * Ingress entries with only a hostname are not addresses.
 */
static int
parse_lb(struct service *svc, const json_t *obj, const json_t *spec,
    const struct svc_filter *f)
{
	const json_t *lb, *list, *e;
	char where[64];
	size_t i;
	int rc;

	if ((rc = parse_addr(svc, "spec.loadBalancerIP",
	         json_object_get(spec, "loadBalancerIP"), f)) < 0)
		return rc;
	lb = json_object_get(json_object_get(obj, "status"), "loadBalancer");
	list = get_list(svc, lb, "status.loadBalancer", "ingress");
	json_array_foreach(list, i, e)
	{
		snprintf(where, sizeof(where),
		    "status.loadBalancer.ingress[%zu].ip", i);
		if ((rc = parse_addr(svc, where, json_object_get(e, "ip"), f)) <
		    0)
			return rc;
	}
	return 0;
}

static int
port_proto(const struct service *svc, size_t i, const json_t *p)
{
	const json_t *v = json_object_get(p, "protocol");
	const char *s;
	int proto;

	if (v == NULL || json_is_null(v))
		return KIWI_PROTO_TCP;
	if ((s = json_string_value(v)) == NULL ||
	    (proto = proto_parse(s)) < 0) {
		log_warnx("service %s: spec.ports[%zu].protocol: not TCP, UDP "
		          "or SCTP, ignoring the port",
		    svc->key, i);
		return -EINVAL;
	}
	return proto;
}

static int
parse_port(struct service *svc, size_t i, const json_t *p)
{
	const json_t *v = json_object_get(p, "port");
	struct svc_port *n;
	json_int_t port;
	int proto;

	if (!json_is_object(p)) {
		log_warnx("service %s: spec.ports[%zu]: not an object, "
		          "ignoring",
		    svc->key, i);
		return 0;
	}
	if (!json_is_integer(v) || (port = json_integer_value(v)) < 1 ||
	    port > 65535) {
		log_warnx("service %s: spec.ports[%zu].port: not a number "
		          "from 1 to 65535, ignoring the port",
		    svc->key, i);
		return 0;
	}
	if ((proto = port_proto(svc, i, p)) < 0)
		return 0;
	n = reallocarray(svc->ports, svc->nports + 1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	svc->ports = n;
	svc->ports[svc->nports].proto = (uint8_t)proto;
	svc->ports[svc->nports].port = (uint16_t)port;
	svc->nports++;
	return 0;
}

static int
parse_ports(struct service *svc, const json_t *spec)
{
	const json_t *list = get_list(svc, spec, "spec", "ports"), *p;
	size_t i;
	int rc;

	json_array_foreach(list, i, p)
	{
		if ((rc = parse_port(svc, i, p)) < 0)
			return rc;
	}
	return 0;
}

static int
parse_key(const json_t *obj, struct service *svc)
{
	char text[KIWI_NAME_LEN];
	int rc;

	if (!json_is_object(obj)) {
		log_warnx("service object is not a JSON object, ignoring");
		return -EINVAL;
	}
	rc = service_key(obj, svc->key, sizeof(svc->key));
	if (rc == -EINVAL)
		log_warnx("service without metadata.namespace and "
		          "metadata.name, ignoring");
	else if (rc == -ENAMETOOLONG || (rc == 0 && !msg_name_valid(svc->key)))
		log_warnx("service %s: \"namespace/name\" is longer than %d "
		          "bytes or has unexpected characters, ignoring it",
		    svc_text(svc->key, text, sizeof(text)), KIWI_NAME_LEN - 1);
	if (rc == 0 && !msg_name_valid(svc->key))
		rc = -EINVAL;
	return rc;
}

int
service_parse(
    const json_t *obj, const struct svc_filter *f, struct service *svc)
{
	const json_t *spec;
	size_t i;
	int rc;

	memset(svc, 0, sizeof(*svc));
	if ((rc = parse_key(obj, svc)) < 0)
		return rc;
	spec = json_object_get(obj, "spec");
	if (spec != NULL && !json_is_object(spec)) {
		log_warnx(
		    "service %s: spec: not an object, ignoring it", svc->key);
		return 0;
	}
	for (i = 0; i < KIWI_ARRAY_SIZE(addr_fields); i++)
		if ((rc = parse_addrs(svc, spec, addr_fields[i], f)) < 0)
			goto fail;
	if (f->lb_ips && (rc = parse_lb(svc, obj, spec, f)) < 0)
		goto fail;
	if ((rc = parse_ports(svc, spec)) < 0)
		goto fail;
	return 0;
fail:
	log_warnc(rc, "service %s", svc->key);
	service_free(svc);
	return rc;
}
