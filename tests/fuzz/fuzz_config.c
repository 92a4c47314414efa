/* The configuration file parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

/* Refusals print to stderr: run with -close_fd_mask=2. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiwi_config c;
	FILE *f;

	if (size == 0)
		return 0;
	if ((f = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	config_defaults(&c);
	(void)config_load_stream(&c, f, "fuzz");
	fclose(f);
	return 0;
}
