/*
 * kiwi: holds the external IPs of Kubernetes Services on the nodes that
 * win them in etcd.
 */
#include <stdlib.h>

#include "common/config.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

int
main(int argc, char **argv)
{
	struct kiwi_config cfg;
	int rc;

	config_defaults(&cfg);
	rc = config_parse(&cfg, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_init("kiwi", cfg.verbose);
	return supervisor_run(&cfg);
}
