/*
 * The supervisor: the only process that stays root.  It makes the
 * socketpairs, forks the three workers, watches them, and shuts them
 * down in order.
 */
#ifndef KIWI_SUPERVISOR_H
#define KIWI_SUPERVISOR_H

#include "common/config.h"

/* Run kiwi with a parsed configuration; returns the exit status. */
int supervisor_run(const struct kiwi_config *cfg);

#endif
