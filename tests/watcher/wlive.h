/*
 * The watcher against the Kubernetes API fixture: a child runs
 * watcher_main, the test plays supervisor and claimer and drives the
 * fixture through its control API.
 *
 * The environment says what to run against:
 *   KUBE_URL         the fixture (control calls, and the endpoint)
 *   KUBE_CA          CA file for HTTPS control calls
 *   W_KUBECONFIG     connect with this kubeconfig instead of KUBE_URL
 *   W_IN_CLUSTER     set: connect as a pod does (KUBERNETES_SERVICE_*)
 *   W_NAMESPACE      --namespace
 *   W_LB             set: --loadbalancer-ips
 *   W_CIDRS          comma-separated ranges (default 192.0.2.0/24)
 *   W_WATCH_TIMEOUT  "MIN:MAX" seconds for a watch's timeoutSeconds
 */
#ifndef KIWI_TEST_WLIVE_H
#define KIWI_TEST_WLIVE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/msg.h"

#define WLIVE_PAGE 2
#define WLIVE_WAIT_MS 5000

extern pid_t wlive_child;
extern int wlive_sup_fd;
extern char wlive_last_rv[64]; /* of the last write through the fixture */
/* The watcher's latest STATS counters, as next_msg passed them by. */
extern uint64_t wlive_stats[KIWI_STATS_N];

/* cmocka group setup and teardown: start and kill the watcher. */
int wlive_setup(void **state);
int wlive_teardown(void **state);

/* One control request to the fixture; its JSON answer. */
json_t *fx(const char *method, const char *path, const char *body);
void fx_post(const char *path);
void put_svc(const char *ns, const char *name, const char *spec);
/* The whole object after "metadata": {"spec":...,"status":...}. */
void put_obj(const char *ns, const char *name, const char *body);
void del_svc(const char *ns, const char *name);

/* The next message from the watcher within ms: 1, or 0 if none. */
int next_msg(struct kiwi_msg *m, int ms);
void expect_type(uint8_t type, struct kiwi_msg *m);
void expect_quiet(int ms);
/* A DESIRE for ip; the caller frees s. */
void expect_desire(const char *ip, struct kiwi_ipset *s);
void expect_undesire(const char *ip);

/* The API requests the fixture saw since the last clear. */
struct seen {
	int lists;
	int continues;
	int watches;
	int refused; /* answered 401 */
	char watch_rv[64];
	char limit[16];
	char auth[16]; /* how the last one authenticated */
	char path[128]; /* of the last one */
};

void requests(struct seen *s);
/* Wait until the watcher has opened a watch since the last clear. */
void wait_watch(struct seen *s);

#endif
