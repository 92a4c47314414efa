#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_INTERFACE = 'i',
	OPT_CIDR = 'c',
	OPT_KUBE = 'k',
	OPT_ETCD = 'e',
	OPT_VERBOSE = 'v',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_TTL = 256,
	OPT_MARK,
	OPT_NODE,
	OPT_USER,
	OPT_MAX_ADDRESSES,
};

static const struct option long_opts[] = {
    {"interface", required_argument, NULL, OPT_INTERFACE},
    {"cidr-range", required_argument, NULL, OPT_CIDR},
    {"kube-endpoint", required_argument, NULL, OPT_KUBE},
    {"etcd-endpoint", required_argument, NULL, OPT_ETCD},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"mark", required_argument, NULL, OPT_MARK},
    {"node-name", required_argument, NULL, OPT_NODE},
    {"user", required_argument, NULL, OPT_USER},
    {"max-addresses", required_argument, NULL, OPT_MAX_ADDRESSES},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void
config_usage(FILE *f)
{
	fprintf(f,
	    "usage: kiwi --interface IF [--cidr-range CIDR]... [options]\n"
	    "\n"
	    "Claims the external IPs of Kubernetes Services cluster-wide in"
	    " etcd and\n"
	    "holds the ones this node wins on IF, with a MARK rule per port"
	    " in the\n"
	    "mangle chain " KIWI_CHAIN ".\n"
	    "\n"
	    "  -i, --interface IF        interface to add addresses to"
	    " (required)\n"
	    "  -c, --cidr-range CIDR     accept external IPs in CIDR; may"
	    " repeat;\n"
	    "                            none given accepts every IP\n"
	    "  -k, --kube-endpoint URL   Kubernetes API"
	    " (default http://localhost:8080)\n"
	    "  -e, --etcd-endpoint URLS  etcd, comma-separated"
	    " (default http://localhost:2379)\n"
	    "      --ttl SECONDS         claim lease TTL, %d..%d"
	    " (default %d)\n"
	    "      --mark N              firewall mark to set (default 1)\n"
	    "      --node-name NAME      name in claims (default: host"
	    " name)\n"
	    "      --user USER           user the workers run as (default"
	    " kiwi,\n"
	    "                            else nobody)\n"
	    "      --max-addresses N     most addresses held at once"
	    " (default %d)\n"
	    "  -v, --verbose             log debug detail\n"
	    "  -h, --help                show this help\n"
	    "  -V, --version             show the version\n",
	    KIWI_MIN_TTL, KIWI_MAX_TTL, KIWI_DEFAULT_TTL,
	    KIWI_DEFAULT_MAX_ADDRESSES);
}

void
config_defaults(struct kiwi_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->kube_endpoint, sizeof(c->kube_endpoint),
	    "http://localhost:8080");
	snprintf(c->etcd_endpoints, sizeof(c->etcd_endpoints),
	    "http://localhost:2379");
	c->ttl = KIWI_DEFAULT_TTL;
	c->mark = 1;
	c->max_addresses = KIWI_DEFAULT_MAX_ADDRESSES;
	snprintf(c->user, sizeof(c->user), "kiwi");
}

static int
parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	char *end;

	errno = 0;
	if (*s == '-' || *s == '\0')
		goto bad;
	*out = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || *out < min || *out > max)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "kiwi: --%s: '%s' is not a number from %lu to %lu\n",
	    opt, s, min, max);
	return -EINVAL;
}

static int
copy_opt(const char *opt, char *dst, size_t cap, const char *s)
{
	if (*s == '\0' || strlen(s) >= cap) {
		fprintf(stderr,
		    "kiwi: --%s: value is empty or longer than"
		    " %zu bytes\n",
		    opt, cap - 1);
		return -EINVAL;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int
set_interface(struct kiwi_config *c, const char *s)
{
	/* The label "<if>:kube" must fit the kernel's 15-byte limit. */
	size_t max = IFNAMSIZ - 1 - strlen(KIWI_LABEL_SUFFIX);

	if (*s == '\0' || strlen(s) > max || strchr(s, ':') != NULL ||
	    strchr(s, '/') != NULL) {
		fprintf(stderr,
		    "kiwi: --interface: '%s' is not an interface"
		    " name of 1 to %zu characters without ':' or '/' (the"
		    " address label '<if>" KIWI_LABEL_SUFFIX "' must fit %d"
		    " bytes)\n",
		    s, max, IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(c->ifname, sizeof(c->ifname), "%s", s);
	snprintf(c->label, sizeof(c->label), "%s" KIWI_LABEL_SUFFIX, s);
	return 0;
}

static int
add_cidr(struct kiwi_config *c, const char *s)
{
	if (c->ncidrs == KIWI_MAX_CIDRS) {
		fprintf(stderr, "kiwi: --cidr-range: more than %d ranges\n",
		    KIWI_MAX_CIDRS);
		return -EINVAL;
	}
	if (cidr_parse(s, &c->cidrs[c->ncidrs]) < 0) {
		fprintf(stderr,
		    "kiwi: --cidr-range: '%s' is not a network"
		    " in CIDR notation with its host bits zero (like"
		    " 192.168.0.0/16)\n",
		    s);
		return -EINVAL;
	}
	c->ncidrs++;
	return 0;
}

static int
check_url(const char *opt, const char *s)
{
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
		fprintf(stderr,
		    "kiwi: --%s: '%s' is not an http:// or"
		    " https:// URL\n",
		    opt, s);
		return -EINVAL;
	}
	return 0;
}

static int
check_etcd(const char *s)
{
	char buf[KIWI_URL_MAX], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save))
		if (check_url("etcd-endpoint", tok) < 0)
			return -EINVAL;
	return 0;
}

static int
parse_one(struct kiwi_config *c, int ch, const char *arg)
{
	unsigned long v;

	switch (ch) {
	case OPT_INTERFACE:
		return set_interface(c, arg);
	case OPT_CIDR:
		return add_cidr(c, arg);
	case OPT_KUBE:
		if (copy_opt("kube-endpoint", c->kube_endpoint,
		        sizeof(c->kube_endpoint), arg) < 0)
			return -EINVAL;
		return check_url("kube-endpoint", arg);
	case OPT_ETCD:
		if (copy_opt("etcd-endpoint", c->etcd_endpoints,
		        sizeof(c->etcd_endpoints), arg) < 0)
			return -EINVAL;
		return check_etcd(arg);
	case OPT_TTL:
		if (parse_uint("ttl", arg, KIWI_MIN_TTL, KIWI_MAX_TTL, &v) < 0)
			return -EINVAL;
		c->ttl = (unsigned int)v;
		return 0;
	case OPT_MARK:
		if (parse_uint("mark", arg, 1, UINT32_MAX, &v) < 0)
			return -EINVAL;
		c->mark = (uint32_t)v;
		return 0;
	case OPT_NODE:
		return copy_opt(
		    "node-name", c->node_name, sizeof(c->node_name), arg);
	case OPT_USER:
		c->user_given = true;
		return copy_opt("user", c->user, sizeof(c->user), arg);
	case OPT_MAX_ADDRESSES:
		if (parse_uint("max-addresses", arg, 1, 1000000, &v) < 0)
			return -EINVAL;
		c->max_addresses = (unsigned int)v;
		return 0;
	case OPT_VERBOSE:
		c->verbose++;
		return 0;
	}
	return -EINVAL;
}

static int
fill_node_name(struct kiwi_config *c)
{
	char host[HOST_NAME_MAX + 1];

	if (c->node_name[0] != '\0')
		return 0;
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0') {
		fprintf(stderr,
		    "kiwi: cannot read the host name; give"
		    " --node-name\n");
		return -EINVAL;
	}
	host[sizeof(host) - 1] = '\0';
	snprintf(c->node_name, sizeof(c->node_name), "%s", host);
	return 0;
}

int
config_parse(struct kiwi_config *c, int argc, char **argv)
{
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "i:c:k:e:vhV", long_opts, NULL)) !=
	    -1) {
		if (ch == OPT_HELP) {
			config_usage(stdout);
			return 1;
		}
		if (ch == OPT_VERSION) {
			printf("kiwi " KIWI_VERSION "\n");
			return 1;
		}
		if (ch == '?' || parse_one(c, ch, optarg) < 0) {
			if (ch == '?')
				fprintf(stderr, "kiwi: try 'kiwi --help'\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(
		    stderr, "kiwi: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (c->ifname[0] == '\0') {
		fprintf(stderr, "kiwi: --interface is required\n");
		return -EINVAL;
	}
	return fill_node_name(c);
}
