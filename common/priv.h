/*
 * Dropping privileges in a worker, right after fork.
 */
#ifndef KIWI_PRIV_H
#define KIWI_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

struct kiwi_user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

/*
 * Resolve the workers' user: the named one (it must exist), or when
 * none was named, "kiwi" if it exists, else "nobody".  Refuses uid 0.
 */
int priv_resolve_user(const char *name, bool given, struct kiwi_user *u);

/*
 * Become u, set no-new-privs, and keep exactly CAP_NET_ADMIN and
 * CAP_NET_RAW when keep_net, else no capability at all (bounding set
 * included).  Then check that root cannot be regained.  Fatal on any
 * failure: a worker must not run with more than it was meant to have.
 */
void priv_drop(const struct kiwi_user *u, bool keep_net);

/* Set the process name (comm) that ps and top show. */
void priv_set_name(const char *name);

#endif
