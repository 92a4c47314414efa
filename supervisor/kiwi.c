/*
 * kiwi: holds the external IPs of Kubernetes Services on the nodes that
 * win them in etcd.
 */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "supervisor/status_client.h"
#include "supervisor/supervisor.h"

/* --check-config: the configuration parsed; say what the host lacks. */
static int
check_config(const struct kiwi_config *cfg)
{
	config_print(cfg, stdout);
	if (if_nametoindex(cfg->ifname) == 0)
		printf("# note: interface %s does not exist on this host\n",
		    cfg->ifname);
	printf("# configuration is valid\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct kiwi_config cfg;
	int rc;

	/* A client of the running daemon, not a daemon option. */
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_main(argc - 1, argv + 1);
	config_defaults(&cfg);
	rc = config_parse(&cfg, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (cfg.check_config)
		return check_config(&cfg);
	log_init("kiwi", cfg.verbose);
	return supervisor_run(&cfg);
}
