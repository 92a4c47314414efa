#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	OPT_DEBUG,
	OPT_SYSLOG,
	OPT_LOG_FILE,
	OPT_CONFIG,
	OPT_CHECK_CONFIG,
	OPT_KUBECONFIG,
	OPT_NAMESPACE,
	OPT_LB_IPS,
	OPT_DRY_RUN,
	OPT_CONTROL_SOCKET,
	OPT_METRICS_ADDRESS,
};

static const struct option long_opts[] = {
	{ "interface", required_argument, NULL, OPT_INTERFACE },
	{ "cidr-range", required_argument, NULL, OPT_CIDR },
	{ "kube-endpoint", required_argument, NULL, OPT_KUBE },
	{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
	{ "namespace", required_argument, NULL, OPT_NAMESPACE },
	{ "loadbalancer-ips", no_argument, NULL, OPT_LB_IPS },
	{ "etcd-endpoint", required_argument, NULL, OPT_ETCD },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "mark", required_argument, NULL, OPT_MARK },
	{ "node-name", required_argument, NULL, OPT_NODE },
	{ "user", required_argument, NULL, OPT_USER },
	{ "max-addresses", required_argument, NULL, OPT_MAX_ADDRESSES },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
	{ "metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Where the value being parsed came from, for error messages. */
static char where[KIWI_PATH_MAX + 64];

static void
where_option(const char *opt)
{
	snprintf(where, sizeof(where), "--%s", opt);
}

static void __attribute__((format(printf, 1, 2)))
opt_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kiwi: %s: ", where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

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
	    " (default: in-cluster, else\n"
	    "                            http://localhost:8080)\n"
	    "      --kubeconfig PATH     kubeconfig to connect with"
	    " (default $KUBECONFIG)\n"
	    "      --namespace NS        watch Services in NS only\n"
	    "      --loadbalancer-ips    also announce LoadBalancer"
	    " addresses\n"
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
	    "      --dry-run             claim in etcd, but only log what"
	    " would change\n"
	    "                            on the interface and in the"
	    " tables\n"
	    "      --control-socket PATH where 'kiwi status' asks"
	    " (default\n"
	    "                            " KIWI_CONTROL_SOCKET ")\n"
	    "      --metrics-address HOST:PORT  serve /metrics and"
	    " /healthz (default off)\n"
	    "      --config PATH         configuration file "
	    "(default " KIWI_CONFIG_FILE ")\n"
	    "      --check-config        check the configuration, print it,"
	    " exit\n"
	    "      --syslog              log to syslog instead of stderr\n"
	    "      --log-file PATH       log to PATH (reopened on SIGHUP)\n"
	    "  -v, --verbose             log more detail\n"
	    "      --debug               log everything, per request\n"
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
	snprintf(c->config_file, sizeof(c->config_file), KIWI_CONFIG_FILE);
}

static int
parse_uint(
    const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	if (*s == '-' || *s == '+' || *s == '\0' || *s == ' ')
		goto bad;
	*out = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || *out < min || *out > max)
		goto bad;
	return 0;
bad:
	opt_error("'%s' is not a number from %lu to %lu", s, min, max);
	return -EINVAL;
}

static int
copy_opt(char *dst, size_t cap, const char *s)
{
	if (*s == '\0' || strlen(s) >= cap) {
		opt_error("value is empty or longer than %zu bytes", cap - 1);
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

	if (*s == '\0' || strlen(s) > max || strpbrk(s, ":/ \t") != NULL) {
		opt_error("'%s' is not an interface name of 1 to %zu"
		          " characters without ':', '/' or blanks (the address"
		          " label '<if>" KIWI_LABEL_SUFFIX
		          "' must fit %d bytes)",
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
		opt_error("more than %d ranges", KIWI_MAX_CIDRS);
		return -EINVAL;
	}
	if (cidr_parse(s, &c->cidrs[c->ncidrs]) < 0) {
		opt_error("'%s' is not a network in CIDR notation with its"
		          " host bits zero (like 192.168.0.0/16)",
		    s);
		return -EINVAL;
	}
	c->ncidrs++;
	return 0;
}

static int
check_url(const char *s)
{
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
		opt_error("'%s' is not an http:// or https:// URL", s);
		return -EINVAL;
	}
	if (strpbrk(s, " \t\r\n") != NULL) {
		opt_error("'%s' contains blanks", s);
		return -EINVAL;
	}
	return 0;
}

static int
set_url(char *dst, size_t cap, const char *s)
{
	if (copy_opt(dst, cap, s) < 0)
		return -EINVAL;
	return check_url(s);
}

static int
set_etcd(struct kiwi_config *c, const char *s)
{
	char buf[KIWI_URL_MAX], *tok, *save = NULL;

	if (copy_opt(c->etcd_endpoints, sizeof(c->etcd_endpoints), s) < 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save))
		if (check_url(tok) < 0)
			return -EINVAL;
	return 0;
}

/* A DNS label, as Kubernetes requires of namespace names. */
static int
set_namespace(struct kiwi_config *c, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > KIWI_NAMESPACE_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
	    s[0] == '-' || s[n - 1] == '-') {
		opt_error("'%s' is not a namespace name (1 to %d lower-case"
		          " letters, digits and '-', not at either end)",
		    s, KIWI_NAMESPACE_MAX);
		return -EINVAL;
	}
	memcpy(c->namespace, s, n + 1);
	return 0;
}

static int
set_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned int *dst)
{
	unsigned long v;

	if (parse_uint(s, min, max, &v) < 0)
		return -EINVAL;
	*dst = (unsigned int)v;
	return 0;
}

static int
set_log_file(struct kiwi_config *c, const char *s)
{
	if (s[0] != '/') {
		opt_error("'%s' is not an absolute path", s);
		return -EINVAL;
	}
	c->log_target = KIWI_LOG_FILE;
	return copy_opt(c->log_file, sizeof(c->log_file), s);
}

/*
 * The socket's directory is made by the supervisor for the workers'
 * user, so the path must name a file inside a directory.
 */
static int
set_control_socket(struct kiwi_config *c, const char *s)
{
	const char *slash = strrchr(s, '/');

	if (s[0] != '/' || slash == s || slash[1] == '\0' ||
	    strlen(s) >= sizeof(c->control_socket)) {
		opt_error("'%s' is not an absolute path of a file in a"
		          " directory, shorter than %zu bytes",
		    s, sizeof(c->control_socket));
		return -EINVAL;
	}
	memcpy(c->control_socket, s, strlen(s) + 1);
	return 0;
}

/* HOST:PORT, HOST an IPv4 address or [IPv6]; checked again at bind. */
static int
set_metrics(struct kiwi_config *c, const char *s)
{
	const char *colon = strrchr(s, ':');
	unsigned long port;

	if (colon == NULL || colon == s || colon[1] == '\0' ||
	    strpbrk(s, " \t") != NULL) {
		opt_error("'%s' is not HOST:PORT", s);
		return -EINVAL;
	}
	if (parse_uint(colon + 1, 1, 65535, &port) < 0)
		return -EINVAL;
	return copy_opt(c->metrics_address, sizeof(c->metrics_address), s);
}

static int
parse_one(struct kiwi_config *c, int ch, const char *arg)
{
	switch (ch) {
	case OPT_INTERFACE:
		return set_interface(c, arg);
	case OPT_CIDR:
		return add_cidr(c, arg);
	case OPT_KUBE:
		c->kube_endpoint_given = true;
		return set_url(c->kube_endpoint, sizeof(c->kube_endpoint), arg);
	case OPT_KUBECONFIG:
		return copy_opt(c->kubeconfig, sizeof(c->kubeconfig), arg);
	case OPT_NAMESPACE:
		return set_namespace(c, arg);
	case OPT_LB_IPS:
		c->loadbalancer_ips = true;
		return 0;
	case OPT_ETCD:
		return set_etcd(c, arg);
	case OPT_TTL:
		return set_ulong(arg, KIWI_MIN_TTL, KIWI_MAX_TTL, &c->ttl);
	case OPT_MARK:
		return set_ulong(arg, 1, UINT32_MAX, &c->mark);
	case OPT_NODE:
		return copy_opt(c->node_name, sizeof(c->node_name), arg);
	case OPT_USER:
		c->user_given = true;
		return copy_opt(c->user, sizeof(c->user), arg);
	case OPT_MAX_ADDRESSES:
		return set_ulong(arg, 1, 1000000, &c->max_addresses);
	case OPT_DRY_RUN:
		c->dry_run = true;
		return 0;
	case OPT_CONTROL_SOCKET:
		return set_control_socket(c, arg);
	case OPT_METRICS_ADDRESS:
		return set_metrics(c, arg);
	case OPT_VERBOSE:
		if (c->verbose < 1)
			c->verbose = 1;
		return 0;
	case OPT_DEBUG:
		c->verbose = 2;
		return 0;
	case OPT_SYSLOG:
		c->log_target = KIWI_LOG_SYSLOG;
		return 0;
	case OPT_LOG_FILE:
		return set_log_file(c, arg);
	}
	return -EINVAL;
}

static const struct option *
find_key(const char *key)
{
	const struct option *o;

	for (o = long_opts; o->name != NULL; o++)
		if (strcmp(o->name, key) == 0)
			break;
	if (o->name == NULL || o->val == OPT_CONFIG ||
	    o->val == OPT_CHECK_CONFIG || o->val == OPT_HELP ||
	    o->val == OPT_VERSION)
		return NULL;
	return o;
}

/* A flag in the file takes a boolean; "false" leaves it unset. */
static int
parse_bool(const char *s, bool *out)
{
	static const char *yes[] = { "true", "yes", "on", "1" };
	static const char *no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	opt_error("'%s' is not true or false", s);
	return -EINVAL;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\n", end[-1]) != NULL)
		*--end = '\0';
	return s;
}

/* A '#' starts a comment at the start of a line or after a blank. */
static void
strip_comment(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

static int
apply_line(struct kiwi_config *c, char *line)
{
	const struct option *o;
	char *eq, *key, *val;
	bool on;

	strip_comment(line);
	line = trim(line);
	if (*line == '\0')
		return 0;
	if ((eq = strchr(line, '=')) == NULL) {
		opt_error("expected 'key = value', found '%s'", line);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if ((o = find_key(key)) == NULL) {
		opt_error("unknown key '%s'", key);
		return -EINVAL;
	}
	if (o->has_arg == required_argument)
		return parse_one(c, o->val, val);
	if (parse_bool(val, &on) < 0)
		return -EINVAL;
	return on ? parse_one(c, o->val, val) : 0;
}

int
config_load_stream(struct kiwi_config *c, FILE *f, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned int lineno = 0;
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", name, lineno);
		if (memchr(line, '\0', (size_t)n) != NULL) {
			opt_error("a NUL byte in the line");
			rc = -EINVAL;
		} else
			rc = apply_line(c, line);
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "kiwi: %s: read error\n", name);
		rc = -EINVAL;
	}
	free(line);
	return rc;
}

int
config_load_file(struct kiwi_config *c, const char *path, bool missing_ok)
{
	FILE *f;
	int rc;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		fprintf(stderr, "kiwi: %s: %s\n", path, strerror(errno));
		return -EINVAL;
	}
	rc = config_load_stream(c, f, path);
	fclose(f);
	return rc;
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

/*
 * First pass over the command line: only what decides how the rest is
 * read (--config, --check-config) or ends the run (--help, --version).
 */
static int
scan_meta(struct kiwi_config *c, int argc, char **argv, bool *given)
{
	int ch;

	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "i:c:k:e:vhV", long_opts, NULL)) !=
	    -1) {
		switch (ch) {
		case OPT_HELP:
			config_usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("kiwi " KIWI_VERSION "\n");
			return 1;
		case OPT_CONFIG:
			where_option("config");
			if (copy_opt(c->config_file, sizeof(c->config_file),
			        optarg) < 0)
				return -EINVAL;
			*given = true;
			break;
		case OPT_CHECK_CONFIG:
			c->check_config = true;
			break;
		case '?':
			fprintf(stderr, "kiwi: try 'kiwi --help'\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(
		    stderr, "kiwi: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static const char *
opt_name(int ch)
{
	const struct option *o;

	for (o = long_opts; o->name != NULL; o++)
		if (o->val == ch)
			return o->name;
	return "?";
}

/* Second pass: every other option, over what the file said. */
static int
apply_args(struct kiwi_config *c, int argc, char **argv)
{
	bool cidrs_reset = false;
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "i:c:k:e:vhV", long_opts, NULL)) !=
	    -1) {
		if (ch == OPT_CONFIG || ch == OPT_CHECK_CONFIG)
			continue;
		/* Ranges on the command line replace the file's. */
		if (ch == OPT_CIDR && !cidrs_reset) {
			c->ncidrs = 0;
			cidrs_reset = true;
		}
		if (ch == '?') {
			fprintf(stderr, "kiwi: try 'kiwi --help'\n");
			return -EINVAL;
		}
		where_option(opt_name(ch));
		if (parse_one(c, ch, optarg) < 0)
			return -EINVAL;
	}
	return 0;
}

/*
 * kubectl's variable, when neither the file nor the command line names
 * a kubeconfig.  kubectl merges a list of files; kiwi reads one, and
 * says so rather than guess which.
 */
static int
kubeconfig_env(struct kiwi_config *c)
{
	const char *env = getenv("KUBECONFIG");

	if (c->kubeconfig[0] != '\0' || env == NULL || *env == '\0')
		return 0;
	snprintf(where, sizeof(where), "$KUBECONFIG");
	if (strchr(env, ':') != NULL) {
		opt_error("'%s' lists several files; kiwi reads one: give"
		          " --kubeconfig",
		    env);
		return -EINVAL;
	}
	return copy_opt(c->kubeconfig, sizeof(c->kubeconfig), env);
}

int
config_parse(struct kiwi_config *c, int argc, char **argv)
{
	bool given = false;
	int rc;

	if ((rc = scan_meta(c, argc, argv, &given)) != 0)
		return rc;
	if (config_load_file(c, c->config_file, !given) < 0 ||
	    apply_args(c, argc, argv) < 0 || kubeconfig_env(c) < 0)
		return -EINVAL;
	if (c->ifname[0] == '\0') {
		fprintf(stderr,
		    "kiwi: no interface: give --interface or"
		    " 'interface =' in %s\n",
		    c->config_file);
		return -EINVAL;
	}
	/*
	 * Only a parsed configuration gets the default socket, so that a
	 * test's claimer does not take the one of a kiwi running here.
	 */
	if (c->control_socket[0] == '\0')
		snprintf(c->control_socket, sizeof(c->control_socket),
		    KIWI_CONTROL_SOCKET);
	return fill_node_name(c);
}

static const char *
log_target_name(const struct kiwi_config *c)
{
	switch (c->log_target) {
	case KIWI_LOG_SYSLOG:
		return "syslog";
	case KIWI_LOG_FILE:
		return c->log_file;
	default:
		return "stderr";
	}
}

void
config_print(const struct kiwi_config *c, FILE *f)
{
	char buf[KIWI_CIDRSTRLEN];
	size_t i;

	fprintf(f, "# effective configuration (file %s)\n", c->config_file);
	fprintf(f, "interface = %s\n", c->ifname);
	for (i = 0; i < c->ncidrs; i++)
		fprintf(f, "cidr-range = %s\n",
		    cidr_fmt(&c->cidrs[i], buf, sizeof(buf)));
	if (c->ncidrs == 0)
		fprintf(f, "# no cidr-range: every external IP is accepted\n");
	if (c->kubeconfig[0] != '\0')
		fprintf(f, "kubeconfig = %s\n", c->kubeconfig);
	if (c->kube_endpoint_given || c->kubeconfig[0] == '\0')
		fprintf(f, "kube-endpoint = %s\n", c->kube_endpoint);
	if (c->namespace[0] != '\0')
		fprintf(f, "namespace = %s\n", c->namespace);
	else
		fprintf(f, "# no namespace: Services in every namespace\n");
	fprintf(f, "loadbalancer-ips = %s\n",
	    c->loadbalancer_ips ? "true" : "false");
	fprintf(f, "etcd-endpoint = %s\n", c->etcd_endpoints);
	fprintf(f, "ttl = %u\n", c->ttl);
	fprintf(f, "mark = 0x%x\n", c->mark);
	fprintf(f, "node-name = %s\n", c->node_name);
	fprintf(f, "user = %s\n", c->user);
	fprintf(f, "max-addresses = %u\n", c->max_addresses);
	fprintf(f, "dry-run = %s\n", c->dry_run ? "true" : "false");
	fprintf(f, "control-socket = %s\n", c->control_socket);
	if (c->metrics_address[0] != '\0')
		fprintf(f, "metrics-address = %s\n", c->metrics_address);
	else
		fprintf(f, "# no metrics-address: no metrics served\n");
	fprintf(f, "verbose = %s\n", c->verbose >= 1 ? "true" : "false");
	fprintf(f, "debug = %s\n", c->verbose >= 2 ? "true" : "false");
	fprintf(f, "# logging to %s\n", log_target_name(c));
}
