#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

static struct sockaddr_un addr;
static socklen_t addr_len;
static int sock = -1;
static bool warned;

static int
parse_socket(const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(addr.sun_path) ||
	    (path[0] != '/' && path[0] != '@')) {
		log_warnx(
		    "NOTIFY_SOCKET '%s' is not a socket path, ignoring", path);
		return -EINVAL;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, n);
	/* A leading '@' names a socket in the abstract namespace. */
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return 0;
}

static int
watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1000 || v > 3600000000ULL) {
		log_warnx("WATCHDOG_USEC '%s' is not usable, ignoring", usec);
		return 0;
	}
	return (int)(v / 1000);
}

int
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");

	if (path == NULL || parse_socket(path) < 0)
		return 0;
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		log_warn("cannot open a socket to notify systemd, ignoring");
		return 0;
	}
	return watchdog_ms();
}

void
notify_send(const char *state)
{
	if (sock < 0)
		return;
	if (sendto(sock, state, strlen(state), MSG_NOSIGNAL,
	        (struct sockaddr *)&addr, addr_len) >= 0)
		return;
	if (!warned)
		log_warn("cannot notify systemd (%s), ignoring", state);
	warned = true;
}
