#include "priv.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

static int
lookup(const char *name, struct kiwi_user *u)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		return errno ? -errno : -ENOENT;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

int
priv_resolve_user(const char *name, bool given, struct kiwi_user *u)
{
	int rc;

	rc = lookup(name, u);
	if (rc < 0 && !given)
		rc = lookup("nobody", u);
	if (rc < 0) {
		log_warnx("user '%s' does not exist; name an unprivileged"
		          " user with --user",
		    name);
		return rc;
	}
	if (u->uid == 0 || u->gid == 0) {
		log_warnx("user '%s' has uid or gid 0; the workers need an"
		          " unprivileged user",
		    u->name);
		return -EPERM;
	}
	return 0;
}

void
priv_set_name(const char *name)
{
	if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0)
		log_warn("cannot set process name %s, ignoring", name);
}

static void
check_dropped(const struct kiwi_user *u)
{
	if (setuid(0) == 0 || seteuid(0) == 0)
		fatalx("regained root after dropping to %s", u->name);
	if (getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid ||
	    getegid() != u->gid)
		fatalx("ids are not those of %s after dropping", u->name);
}

void
priv_drop(const struct kiwi_user *u, bool keep_net)
{
	int flags = CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING;

	capng_clear(CAPNG_SELECT_BOTH);
	if (keep_net &&
	    capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
	        CAP_NET_ADMIN, CAP_NET_RAW, -1) < 0)
		fatalx("cannot select the network capabilities");
	if (capng_change_id(u->uid, u->gid, flags) < 0)
		fatalx("cannot drop to user %s with only the capabilities"
		       " needed",
		    u->name);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("cannot set no-new-privs");
	check_dropped(u);
	if (capng_get_caps_process() < 0)
		fatalx("cannot read back capabilities");
	if (keep_net) {
		if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_PARTIAL)
			fatalx("capabilities are not exactly"
			       " CAP_NET_ADMIN and CAP_NET_RAW");
	} else if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		fatalx("capabilities remain after dropping them all");
}
