#include "supervisor/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/*
 * Only the workers' user (and its group) may reach the socket: the
 * status names every address and Service, which is not for everyone.
 */
#define RUNDIR_MODE 0750

/* Open the directory itself, never a link put in its place. */
static int
open_dir(const char *dir)
{
	int fd;

	if (mkdir(dir, RUNDIR_MODE) < 0 && errno != EEXIST) {
		log_warn("cannot make %s", dir);
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		log_warn("cannot open %s", dir);
	return fd < 0 ? -errno : fd;
}

static int
own_dir(int fd, const char *dir, const struct kiwi_user *u)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		log_warn("cannot stat %s", dir);
		return -errno;
	}
	if (geteuid() == 0 && (st.st_uid != u->uid || st.st_gid != u->gid) &&
	    fchown(fd, u->uid, u->gid) < 0) {
		log_warn("cannot give %s to %s", dir, u->name);
		return -errno;
	}
	if ((st.st_mode & 07777) != RUNDIR_MODE &&
	    fchmod(fd, RUNDIR_MODE) < 0) {
		log_warn("cannot set the mode of %s", dir);
		return -errno;
	}
	return 0;
}

int
rundir_prepare(const struct kiwi_config *cfg, const struct kiwi_user *u)
{
	char dir[KIWI_SOCKPATH_MAX];
	const char *path = cfg->control_socket;
	char *slash;
	int fd, r;

	if (path[0] == '\0')
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return -EINVAL;
	*slash = '\0';
	if ((fd = open_dir(dir)) < 0)
		goto fail;
	r = own_dir(fd, dir, u);
	/* A socket left by a run that was killed refuses connections. */
	if (r == 0 && unlinkat(fd, slash + 1, 0) < 0 && errno != ENOENT)
		log_warn("cannot remove the old %s (ignoring)", path);
	close(fd);
	if (r == 0)
		return 0;
	fd = r;
fail:
	log_warnx("kiwi status will not answer: no control socket at %s", path);
	return fd;
}

void
rundir_remove(const struct kiwi_config *cfg)
{
	char dir[KIWI_SOCKPATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", cfg->control_socket);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	/*
	 * Only when empty; under systemd the directory is its own to
	 * remove, and /run is not ours to write: both fail quietly.
	 */
	(void)rmdir(dir);
}
