/*
 * --dry-run in the netagent: the lowest layers (nl.c, ipt.c,
 * announce.c) log at info what they would change in the kernel and
 * change nothing; everything above them runs as usual.
 */
#ifndef KIWI_NETAGENT_DRYRUN_H
#define KIWI_NETAGENT_DRYRUN_H

#include <stdbool.h>

/* Set once, in the netagent, before netagent_main. */
void dryrun_set(bool on);
bool dryrun(void);

#endif
