/*
 * `kiwi status`: ask the running daemon over its control socket and
 * print what it says.  Needs no privilege beyond reaching the socket
 * (its directory is the workers' user's, mode 0750, the socket 0660).
 */
#include "supervisor/status_client.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/config.h"
#include "common/util.h"

/* The claimer answers from its loop; a cluster read may take etcd's. */
#define ANSWER_MS 10000
#define ANSWER_MAX (64u << 20)
#define NCOLS 7

struct status_opts {
	bool json;
	bool cluster;
	const char *path; /* --control-socket; NULL: the configuration's */
	const char *config; /* --config; NULL: KIWI_CONFIG_FILE, if any */
	char sock[KIWI_SOCKPATH_MAX]; /* the configuration's socket */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kiwi status [--json] [--cluster] [--config FILE]"
	    " [--control-socket PATH]\n");
}

static int
parse_opts(int argc, char **argv, struct status_opts *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "cluster", no_argument, NULL, 'c' },
		{ "control-socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'j')
			o->json = true;
		else if (ch == 'c')
			o->cluster = true;
		else if (ch == 's')
			o->path = optarg;
		else if (ch == 'f')
			o->config = optarg;
		else {
			usage(ch == 'h' ? stdout : stderr);
			return ch == 'h' ? 1 : -EINVAL;
		}
	}
	if (optind < argc ||
	    (o->path != NULL && strlen(o->path) >= KIWI_SOCKPATH_MAX)) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/*
 * Without --control-socket, the socket the daemon's configuration file
 * names (control-socket =), or the default.  The daemon's own command
 * line cannot be seen from here.  0, or -EINVAL after config.c said
 * what was wrong with the file.
 */
static int
find_socket(struct status_opts *o)
{
	struct kiwi_config *cfg;
	int rc;

	if (o->path != NULL)
		return 0;
	if ((cfg = malloc(sizeof(*cfg))) == NULL)
		return -ENOMEM;
	config_defaults(cfg);
	rc = config_load_file(
	    cfg, o->config ? o->config : KIWI_CONFIG_FILE, o->config == NULL);
	snprintf(o->sock, sizeof(o->sock), "%s",
	    cfg->control_socket[0] ? cfg->control_socket : KIWI_CONTROL_SOCKET);
	free(cfg);
	if (rc < 0) {
		fprintf(stderr,
		    "kiwi status: give --control-socket, or a configuration "
		    "file kiwi can read with --config\n");
		return rc;
	}
	o->path = o->sock;
	return 0;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int
read_some(int fd, char **buf, size_t *len, size_t *cap)
{
	ssize_t n;
	char *nb;

	if (*len + 4096 > *cap) {
		if (*cap >= ANSWER_MAX)
			return -EMSGSIZE;
		nb = realloc(*buf, *cap * 2 + 4096);
		if (nb == NULL)
			return -ENOMEM;
		*buf = nb;
		*cap = *cap * 2 + 4096;
	}
	n = read(fd, *buf + *len, *cap - *len - 1);
	if (n < 0)
		return errno == EINTR ? 1 : -errno;
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return n > 0;
}

/* Send the request, read the answer to EOF; the answer or NULL. */
static char *
ask(int fd, const char *req)
{
	int64_t end = now_ms() + ANSWER_MS;
	size_t len = 0, cap = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char *buf = NULL;
	int r = 1;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(
		    stderr, "kiwi status: cannot send: %s\n", strerror(errno));
		return NULL;
	}
	while (r > 0 && now_ms() < end) {
		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			continue;
		r = read_some(fd, &buf, &len, &cap);
	}
	if (r != 0) {
		fprintf(stderr, "kiwi status: no full answer: %s\n",
		    r < 0 ? strerror(-r) : "timed out");
		free(buf);
		return NULL;
	}
	return buf;
}

/* "3m12s", "2h5m", "4d3h": the age of a wall-clock time. */
static void
fmt_age(json_int_t now, json_int_t t, char *buf, size_t cap)
{
	json_int_t d = now > t ? now - t : 0;

	if (t <= 0)
		snprintf(buf, cap, "-");
	else if (d < 60)
		snprintf(buf, cap, "%llds", (long long)d);
	else if (d < 3600)
		snprintf(buf, cap, "%lldm%llds", (long long)d / 60,
		    (long long)d % 60);
	else if (d < 86400)
		snprintf(buf, cap, "%lldh%lldm", (long long)d / 3600,
		    (long long)d / 60 % 60);
	else
		snprintf(buf, cap, "%lldd%lldh", (long long)d / 86400,
		    (long long)d / 3600 % 24);
}

static const char *
str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL && *s != '\0' ? s : dflt;
}

/* The strings of a JSON array joined with commas, or "-". */
static char *
join_list(json_t *list)
{
	size_t i, n = 0;
	json_t *p;
	size_t off = 0;
	char *s;

	json_array_foreach(list, i, p) n +=
	    strlen(json_string_value(p) ? json_string_value(p) : "") + 1;
	if ((s = calloc(1, n + 2)) == NULL)
		return NULL;
	json_array_foreach(list, i, p)
	{
		const char *v =
		    json_string_value(p) ? json_string_value(p) : "";

		off += (size_t)snprintf(
		    s + off, n + 2 - off, "%s%s", i > 0 ? "," : "", v);
	}
	if (*s == '\0')
		snprintf(s, n + 2, "-");
	return s;
}

/* One row of cells; each cell is malloc'd. */
struct row {
	char *cell[NCOLS];
};

static void
print_rows(struct row *rows, size_t n, int ncols)
{
	size_t w[NCOLS] = { 0 }, i;
	int j;

	for (i = 0; i < n; i++)
		for (j = 0; j < ncols; j++)
			if (strlen(rows[i].cell[j]) > w[j])
				w[j] = strlen(rows[i].cell[j]);
	for (i = 0; i < n; i++) {
		for (j = 0; j + 1 < ncols; j++)
			printf("%-*s  ", (int)w[j], rows[i].cell[j]);
		printf("%s\n", rows[i].cell[ncols - 1]);
	}
}

static void
free_rows(struct row *rows, size_t n)
{
	size_t i;
	int j;

	for (i = 0; rows != NULL && i < n; i++)
		for (j = 0; j < NCOLS; j++)
			free(rows[i].cell[j]);
	free(rows);
}

static char *
state_cell(json_t *a)
{
	const char *st = str_or(a, "state", "?");
	const char *why = str_or(a, "reason", NULL);
	char *s;

	if (why == NULL)
		return strdup(st);
	if (asprintf(&s, "%s (%s)", st, why) < 0)
		return NULL;
	return s;
}

static void
address_row(json_t *doc, json_t *a, struct row *r)
{
	const char *holder = str_or(a, "holder", "-");
	char age[32];

	if (strcmp(str_or(a, "state", ""), "held") == 0)
		holder = str_or(doc, "node", "-");
	fmt_age(json_integer_value(json_object_get(doc, "now")),
	    json_integer_value(json_object_get(a, "since")), age, sizeof(age));
	r->cell[0] = strdup(str_or(a, "address", "?"));
	r->cell[1] = state_cell(a);
	r->cell[2] = strdup(holder);
	r->cell[3] = json_is_array(json_object_get(a, "services"))
	    ? join_list(json_object_get(a, "services"))
	    : strdup(str_or(a, "service", "-"));
	r->cell[4] = join_list(json_object_get(a, "ports"));
	r->cell[5] = strdup(str_or(a, "mark", "-"));
	r->cell[6] = strdup(age);
}

static void
claim_row(json_t *k, struct row *r)
{
	json_t *ttl = json_object_get(k, "ttl_left");
	char lease[32], left[32];

	snprintf(lease, sizeof(lease), "%" JSON_INTEGER_FORMAT,
	    json_integer_value(json_object_get(k, "lease")));
	if (json_is_integer(ttl) && json_integer_value(ttl) >= 0)
		snprintf(left, sizeof(left), "%" JSON_INTEGER_FORMAT "s",
		    json_integer_value(ttl));
	else
		snprintf(left, sizeof(left), "-");
	r->cell[0] = strdup(str_or(k, "address", "?"));
	r->cell[1] = strdup(str_or(k, "node", "-"));
	r->cell[2] = strdup(str_or(k, "service", "-"));
	r->cell[3] = strdup(lease);
	r->cell[4] = strdup(left);
}

static const char *const status_head[] = { "ADDRESS", "STATE", "HOLDER",
	"SERVICES", "PORTS", "MARK", "SINCE" };
static const char *const cluster_head[] = { "ADDRESS", "NODE", "SERVICE",
	"LEASE", "TTL_LEFT" };

static int
print_table(json_t *doc, bool cluster)
{
	json_t *list = json_object_get(doc, cluster ? "claims" : "addresses");
	const char *const *head = cluster ? cluster_head : status_head;
	int j, ncols = cluster ? 5 : NCOLS;
	size_t i, n = json_array_size(list);
	struct row *rows;
	json_t *a;

	if ((rows = calloc(n + 1, sizeof(*rows))) == NULL)
		return -ENOMEM;
	for (j = 0; j < ncols; j++)
		rows[0].cell[j] = strdup(head[j]);
	json_array_foreach(list, i, a)
	{
		if (cluster)
			claim_row(a, &rows[i + 1]);
		else
			address_row(doc, a, &rows[i + 1]);
	}
	for (i = 0; i <= n; i++)
		for (j = 0; j < ncols; j++)
			if (rows[i].cell[j] == NULL) {
				free_rows(rows, n + 1);
				return -ENOMEM;
			}
	print_rows(rows, n + 1, ncols);
	free_rows(rows, n + 1);
	return 0;
}

static void
print_summary(json_t *doc)
{
	printf("node %s: %s%s\n", str_or(doc, "node", "?"),
	    json_is_true(json_object_get(doc, "ready")) ? "ready" : "not ready",
	    json_is_true(json_object_get(doc, "dry_run"))
	        ? " (dry run: nothing is changed in the kernel)"
	        : "");
}

/* Print the answer as asked: 0, or 1 when it is not what we expect. */
static int
show(const char *answer, const struct status_opts *o)
{
	json_error_t err;
	json_t *doc;
	int rc = 0;

	if (o->json) {
		fputs(answer, stdout);
		return 0;
	}
	if ((doc = json_loads(answer, 0, &err)) == NULL) {
		fprintf(stderr, "kiwi status: the answer is not JSON: %s\n",
		    err.text);
		return 1;
	}
	if (json_object_get(doc, "error") != NULL) {
		fprintf(stderr, "kiwi status: kiwi says: %s\n",
		    str_or(doc, "error", "?"));
		rc = 1;
	} else {
		if (!o->cluster)
			print_summary(doc);
		if (print_table(doc, o->cluster) < 0)
			rc = 1;
	}
	json_decref(doc);
	return rc;
}

int
status_main(int argc, char **argv)
{
	struct status_opts o = { 0 };
	char *answer;
	int fd, rc;

	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc > 0 ? 0 : 2;
	if (find_socket(&o) < 0)
		return 2;
	if ((fd = connect_to(o.path)) < 0) {
		if (fd == -ENOENT || fd == -ECONNREFUSED) {
			fprintf(stderr,
			    "kiwi is not running (no socket at %s)\n", o.path);
			return 3;
		}
		fprintf(stderr, "kiwi status: cannot connect to %s: %s\n",
		    o.path, strerror(-fd));
		return 3;
	}
	answer = ask(fd, o.cluster ? "cluster\n" : "status\n");
	close(fd);
	if (answer == NULL)
		return 1;
	rc = show(answer, &o);
	free(answer);
	return rc;
}
