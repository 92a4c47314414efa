#include "netagent/dryrun.h"

/*
 * A process-wide flag rather than a field passed down: it is fixed for
 * the netagent's life, and the layers that honour it share no struct.
 */
static bool dry;

void
dryrun_set(bool on)
{
	dry = on;
}

bool
dryrun(void)
{
	return dry;
}
