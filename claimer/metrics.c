/*
 * Metrics in the Prometheus text format, and a health check.
 */
#include <stdint.h>

#include "claimer/claimer_int.h"

int
metrics_open(struct claimer *c)
{
	(void)c;
	return 0;
}

void
metrics_close(struct claimer *c)
{
	(void)c;
}

unsigned int
metrics_pollfds(const struct claimer *c, struct pollfd *p)
{
	(void)c;
	(void)p;
	return 0;
}

void
metrics_events(struct claimer *c, const struct pollfd *p, unsigned int n)
{
	(void)c;
	(void)p;
	(void)n;
}

int64_t
metrics_wake(const struct claimer *c)
{
	(void)c;
	return INT64_MAX;
}
