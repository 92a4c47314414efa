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

/* Whether this process may switch to another user (CAP_SETUID...). */
bool priv_can_change_id(void);

/*
 * When kiwi is started by a user other than root, the workers stay that
 * user: fill u with it.  It must hold CAP_NET_ADMIN and CAP_NET_RAW,
 * for the netagent; -EPERM (logged) otherwise.
 */
int priv_current_user(struct kiwi_user *u);

/*
 * As root: become u.  Otherwise stay who we are.  Either way set
 * no-new-privs and keep exactly CAP_NET_ADMIN and CAP_NET_RAW when
 * keep_net, else no capability at all (the bounding set too, where we
 * may), none inheritable or ambient.  Then check that root cannot be
 * regained and that the capabilities are exactly those.  Fatal on any
 * failure: a worker must not run with more than it was meant to have.
 */
void priv_drop(const struct kiwi_user *u, bool keep_net);

/* Set the process name (comm) that ps and top show. */
void priv_set_name(const char *name);

#endif
