/*
 * kiwi's configuration, parsed once by the supervisor as root and
 * inherited by every worker across fork.
 */
#ifndef KIWI_CONFIG_H
#define KIWI_CONFIG_H

#include <net/if.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define KIWI_VERSION "0.1.0"
#define KIWI_MAX_CIDRS 64
#define KIWI_URL_MAX 1024
#define KIWI_NODE_MAX 254
#define KIWI_USER_MAX 64
#define KIWI_KEY_PREFIX "/kiwi/publicips/"
#define KIWI_CHAIN "KUBE-PUBLIC"
#define KIWI_LABEL_SUFFIX ":kube"
#define KIWI_DEFAULT_TTL 10
#define KIWI_MIN_TTL 2
#define KIWI_MAX_TTL 3600
#define KIWI_DEFAULT_MAX_ADDRESSES 16384
#define KIWI_XTABLES_LOCK "/run/xtables.lock"
#define KIWI_CONFIG_FILE "/etc/kiwi.conf"
#define KIWI_PATH_MAX 4096
#define KIWI_CONTROL_SOCKET "/run/kiwi/kiwi.sock"
/* sun_path's size: the control socket's path must fit it. */
#define KIWI_SOCKPATH_MAX 108
#define KIWI_HOSTPORT_MAX 64
/* A Kubernetes namespace is a DNS label. */
#define KIWI_NAMESPACE_MAX 63

enum kiwi_log_target {
	KIWI_LOG_STDERR,
	KIWI_LOG_SYSLOG,
	KIWI_LOG_FILE,
};

struct kiwi_config {
	char ifname[IFNAMSIZ];
	char label[IFNAMSIZ]; /* "<ifname>:kube" */
	struct kiwi_cidr cidrs[KIWI_MAX_CIDRS];
	size_t ncidrs;
	char kube_endpoint[KIWI_URL_MAX];
	bool kube_endpoint_given;
	/* Read by the watcher as root before it drops privileges. */
	char kubeconfig[KIWI_PATH_MAX];
	char namespace[KIWI_NAMESPACE_MAX + 1]; /* "": every namespace */
	bool loadbalancer_ips; /* also status.loadBalancer, loadBalancerIP */
	char etcd_endpoints[KIWI_URL_MAX]; /* comma-separated */
	unsigned int ttl;
	uint32_t mark;
	char node_name[KIWI_NODE_MAX + 1];
	char user[KIWI_USER_MAX];
	bool user_given;
	unsigned int max_addresses;
	int verbose; /* 0, 1 with --verbose, 2 with --debug */
	enum kiwi_log_target log_target;
	char log_file[KIWI_PATH_MAX];
	char config_file[KIWI_PATH_MAX];
	bool check_config;
	/* Claim in etcd, but change nothing in the kernel: log it. */
	bool dry_run;
	char control_socket[KIWI_SOCKPATH_MAX]; /* "": none */
	char metrics_address[KIWI_HOSTPORT_MAX]; /* "": none */
};

/* Defaults that need no lookup; node_name is filled by config_parse. */
void config_defaults(struct kiwi_config *c);
/*
 * Read the configuration file (--config, default KIWI_CONFIG_FILE; the
 * default may be missing), then the command line, which overrides it;
 * $KUBECONFIG stands in for a kubeconfig neither names.
 * Returns 0 to run, 1 when --help or --version was handled (exit 0), or
 * -EINVAL after printing what was wrong and where.
 */
int config_parse(struct kiwi_config *c, int argc, char **argv);
/*
 * Apply one configuration file; exposed for tests.  missing_ok
 * says whether a missing file is fine.
 */
int config_load_file(struct kiwi_config *c, const char *path, bool missing_ok);
/* The same from an open stream; name is what errors call it. */
int config_load_stream(struct kiwi_config *c, FILE *f, const char *name);
/* The effective configuration, in the configuration file's syntax. */
void config_print(const struct kiwi_config *c, FILE *f);
void config_usage(FILE *f);

#endif
