/*
 * The control socket's directory, made by the supervisor for the
 * claimer, which binds the socket after it has dropped privileges.
 */
#ifndef KIWI_RUNDIR_H
#define KIWI_RUNDIR_H

#include "common/config.h"
#include "common/priv.h"

/*
 * Make the directory of cfg->control_socket (mode 0750, owned by u
 * when we may change owners) and remove a socket an earlier run left.
 * 0, or a negative errno after logging: kiwi runs on without a
 * control socket then.
 */
int rundir_prepare(const struct kiwi_config *cfg, const struct kiwi_user *u);

/* At exit: remove the directory, if it is empty (the socket went). */
void rundir_remove(const struct kiwi_config *cfg);

#endif
