/*
 * What the integration scripts pass to the claimer's test programs.
 */
#ifndef KIWI_TEST_ENV_H
#define KIWI_TEST_ENV_H

#include <stdio.h>
#include <stdlib.h>

/* Copy environment variable name into dst, or exit if it is unset. */
static inline void
env(char *dst, size_t cap, const char *name)
{
	const char *v = getenv(name);

	if (v == NULL) {
		fprintf(
		    stderr, "%s is not set: run this from its script\n", name);
		exit(1);
	}
	snprintf(dst, cap, "%s", v);
}

#endif
