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
check_ids(const struct kiwi_user *u)
{
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		fatalx("regained root after dropping to %s", u->name);
	if (getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid ||
	    getegid() != u->gid)
		fatalx("ids are not those of %s after dropping", u->name);
}

/* Exactly the network pair when keep_net, else nothing at all. */
static void
check_caps(bool keep_net)
{
	int cap, want;

	if (capng_get_caps_process() < 0)
		fatalx("cannot read back capabilities");
	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		want = keep_net && (cap == CAP_NET_ADMIN || cap == CAP_NET_RAW);
		if (capng_have_capability(CAPNG_EFFECTIVE, cap) != want ||
		    capng_have_capability(CAPNG_PERMITTED, cap) != want)
			fatalx("capability %s is %s after dropping",
			    capng_capability_to_name(cap),
			    want ? "missing" : "still held");
		if (capng_have_capability(CAPNG_INHERITABLE, cap) ||
		    capng_have_capability(CAPNG_AMBIENT, cap))
			fatalx("capability %s is inheritable after dropping",
			    capng_capability_to_name(cap));
	}
}

static void
select_caps(bool keep_net)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (keep_net &&
	    capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
	        CAP_NET_ADMIN, CAP_NET_RAW, -1) < 0)
		fatalx("cannot select the network capabilities");
}

void
priv_drop(const struct kiwi_user *u, bool keep_net)
{
	int flags = CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING;

	select_caps(keep_net);
	if (u->uid != getuid()) {
		if (capng_change_id(u->uid, u->gid, flags) < 0)
			fatalx("cannot drop to user %s with only the"
			       " capabilities needed",
			    u->name);
	} else if (capng_apply(CAPNG_SELECT_ALL) < 0 &&
	    capng_apply(CAPNG_SELECT_CAPS) < 0)
		/* Without CAP_SETPCAP the bounding set stays; no exec. */
		fatalx("cannot drop capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("cannot set no-new-privs");
	check_ids(u);
	check_caps(keep_net);
}

bool
priv_can_change_id(void)
{
	return capng_get_caps_process() == 0 &&
	    capng_have_capability(CAPNG_EFFECTIVE, CAP_SETUID) &&
	    capng_have_capability(CAPNG_EFFECTIVE, CAP_SETGID) &&
	    capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
}

int
priv_current_user(struct kiwi_user *u)
{
	struct passwd *pw = getpwuid(getuid());

	u->uid = getuid();
	u->gid = getgid();
	snprintf(u->name, sizeof(u->name), "%s", pw ? pw->pw_name : "?");
	if (capng_get_caps_process() < 0 ||
	    !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN) ||
	    !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_RAW)) {
		log_warnx("kiwi needs root, or CAP_NET_ADMIN and CAP_NET_RAW"
		          " (for example as ambient capabilities)");
		return -EPERM;
	}
	return 0;
}
