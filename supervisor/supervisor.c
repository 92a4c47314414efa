#include "supervisor.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "claimer/claimer.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/priv.h"
#include "common/util.h"
#include "netagent/dryrun.h"
#include "netagent/netagent.h"
#include "supervisor/logsink.h"
#include "supervisor/notify.h"
#include "supervisor/rundir.h"
#include "watcher/watcher.h"

/*
 * How long each worker may take to finish after SHUTDOWN.  The claimer
 * may be in a 3 s etcd call, then waits up to 3 s for the netagent and
 * revokes its lease in at most 3 s more; the netagent only talks to the
 * kernel.
 */
#define CLAIMER_GRACE_MS 10000
#define NETAGENT_GRACE_MS 5000
#define WATCHER_GRACE_MS 3000

/*
 * Restarts after a worker failed: doubling from the minimum, capped
 * below the systemd watchdog's usual 30 s, and back to the minimum once
 * a generation ran this long.
 */
#define RESTART_MIN_MS 250
#define RESTART_MAX_MS 15000
#define RESTART_RESET_MS 60000

enum { W_NETAGENT, W_CLAIMER, W_WATCHER, W_COUNT };

struct worker {
	const char *name;
	pid_t pid;
	int fd; /* the supervisor's end of its socketpair */
	bool running;
};

/* Both ends of every socketpair, [0] for the first named, [1] second. */
struct channels {
	int sup_w[2], sup_c[2], sup_n[2];
	int w_c[2]; /* watcher, claimer */
	int c_n[2]; /* claimer, netagent */
};

/* Whether the claimer has said the first full set is handled. */
static bool ready;
/* How often every worker was restarted, for the metrics. */
static unsigned int restarts;
/* The lease the last claimer reported, for the next one to adopt. */
static int64_t lease_id;

static struct worker workers[W_COUNT] = {
	[W_NETAGENT] = { "kiwi-netagent", -1, -1, false },
	[W_CLAIMER] = { "kiwi-claimer", -1, -1, false },
	[W_WATCHER] = { "kiwi-watcher", -1, -1, false },
};

static int
make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair");
		return -errno;
	}
	return 0;
}

static int
make_channels(struct channels *ch)
{
	if (make_pair(ch->sup_w) < 0 || make_pair(ch->sup_c) < 0 ||
	    make_pair(ch->sup_n) < 0 || make_pair(ch->w_c) < 0 ||
	    make_pair(ch->c_n) < 0)
		return -1;
	return 0;
}

static void
close_pair(int sv[2])
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

/* The parent keeps only its own ends of the supervisor channels. */
static void
close_worker_ends(struct channels *ch)
{
	close(ch->sup_w[1]);
	close(ch->sup_c[1]);
	close(ch->sup_n[1]);
	ch->sup_w[1] = ch->sup_c[1] = ch->sup_n[1] = -1;
	close_pair(ch->w_c);
	close_pair(ch->c_n);
}

/*
 * The xtables lock is root-owned, and the netagent is not root by the
 * time it needs it, so it inherits an open descriptor.
 */
static int
open_xtables_lock(void)
{
	const char *path = getenv("XTABLES_LOCKFILE");
	int fd;

	if (path == NULL || *path == '\0')
		path = KIWI_XTABLES_LOCK;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* flock needs no write access, so a readable lock will do. */
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		log_warn("cannot open the xtables lock %s; rule changes may"
		         " race with iptables and kube-proxy",
		    path);
	return fd;
}

/* Clear close-on-exec is not needed: workers never exec. */
static int
run_worker(int idx, const struct kiwi_config *cfg, const struct kiwi_user *u,
    struct channels *ch, int lock_fd)
{
	switch (idx) {
	case W_NETAGENT:
		dryrun_set(cfg->dry_run);
		priv_drop(u, true);
		return netagent_main(cfg, ch->sup_n[1], ch->c_n[1], lock_fd);
	case W_CLAIMER:
		priv_drop(u, false);
		claimer_inherit_lease(lease_id);
		claimer_inherit_restarts(restarts);
		return claimer_main(cfg, ch->sup_c[1], ch->w_c[1], ch->c_n[0]);
	case W_WATCHER:
		/* Credentials may be root's only: read them before the drop. */
		if (watcher_prepare(cfg) < 0)
			return 1;
		priv_drop(u, false);
		return watcher_main(cfg, ch->sup_w[1], ch->w_c[0]);
	}
	return 1;
}

/* Close every descriptor the worker idx has no business holding. */
static void
close_foreign(int idx, struct channels *ch, int *lock_fd)
{
	close(ch->sup_w[0]);
	close(ch->sup_c[0]);
	close(ch->sup_n[0]);
	if (idx != W_WATCHER) {
		close(ch->sup_w[1]);
		close(ch->w_c[0]);
	}
	if (idx != W_CLAIMER) {
		close(ch->sup_c[1]);
		close(ch->w_c[1]);
		close(ch->c_n[0]);
	}
	if (idx != W_NETAGENT) {
		close(ch->sup_n[1]);
		close(ch->c_n[1]);
		if (*lock_fd >= 0)
			close(*lock_fd);
		*lock_fd = -1;
	}
}

static void
child_signals(void)
{
	sigset_t all;

	/*
	 * Ctrl-C reaches the whole process group; the supervisor alone
	 * decides the order in which workers stop.
	 */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static int
spawn(int idx, const struct kiwi_config *cfg, const struct kiwi_user *u,
    struct channels *ch, int lock_fd, int sig_fd)
{
	struct worker *w = &workers[idx];
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		log_warn("cannot fork %s", w->name);
		return -errno;
	}
	if (pid == 0) {
		close(sig_fd);
		logsink_child();
		child_signals();
		close_foreign(idx, ch, &lock_fd);
		priv_set_name(w->name);
		log_procname(w->name);
		_exit(run_worker(idx, cfg, u, ch, lock_fd));
	}
	w->pid = pid;
	w->running = true;
	log_debug("started %s as pid %ld", w->name, (long)pid);
	return 0;
}

static void
log_exit(const struct worker *w, int status, bool expected)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && expected)
		log_debug("%s exited", w->name);
	else if (WIFEXITED(status))
		log_warnx(
		    "%s exited with status %d", w->name, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("%s was killed by signal %d (%s)", w->name,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/*
 * Reap what has exited.  Returns how many workers exited with a failure
 * or unexpectedly; *all_ok is cleared on any failure.
 */
static int
reap(bool expected, bool *all_ok)
{
	int status, i, bad = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < W_COUNT; i++) {
			if (workers[i].pid != pid || !workers[i].running)
				continue;
			workers[i].running = false;
			log_exit(&workers[i], status, expected);
			if (!expected || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0) {
				bad++;
				*all_ok = false;
			}
		}
	}
	return bad;
}

/*
 * The signal that asked for shutdown, or 0.  It is kept once read: one
 * that comes while the workers are being stopped for a restart (where
 * nobody acts on it) must still stop kiwi instead of the restart.
 */
static int stop_signal;

static int
read_signals(int sig_fd)
{
	struct signalfd_siginfo si;

	while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stop_signal = (int)si.ssi_signo;
		else if (si.ssi_signo == SIGHUP)
			logsink_reopen();
	}
	return stop_signal;
}

static void
claimer_ready(void)
{
	if (!ready)
		log_info("ready: the first full set of Services is reconciled");
	ready = true;
	notify_send("READY=1\nSTATUS=holding claimed IPs");
}

/*
 * A claimer that dies leaves its keys on a lease nobody renews; the next
 * claimer adopts it if it is still alive, and holds them again at once.
 */
static void
claimer_lease(const struct kiwi_msg *m)
{
	uint64_t id;

	if (msg_decode_u64(m->body, m->len, &id) < 0 || id > INT64_MAX) {
		log_warnx("kiwi-claimer sent a malformed LEASE, ignoring");
		return;
	}
	lease_id = (int64_t)id;
	log_debug("claims are on lease %" PRId64, lease_id);
}

/* A worker's message to the supervisor: the claimer's READY and LEASE. */
static void
worker_message(int idx)
{
	struct worker *w = &workers[idx];
	static struct kiwi_msg m;
	int rc;

	while ((rc = msg_recv(w->fd, &m)) > 0) {
		if (idx == W_CLAIMER && m.type == MSG_READY && m.len == 0)
			claimer_ready();
		else if (idx == W_CLAIMER && m.type == MSG_LEASE)
			claimer_lease(&m);
		else
			log_warnx("%s sent an unexpected %s message, ignoring",
			    w->name, msg_type_name(m.type));
	}
	if (rc == 0 || (rc < 0 && rc != -EAGAIN)) {
		/* Closed or broken: reap() tells the rest. */
		close(w->fd);
		w->fd = -1;
	}
}

/*
 * Wait up to ms for signals, log lines or worker messages, and handle
 * them.  Returns a signal that asks for shutdown, or 0.
 */
static int
sup_wait(int sig_fd, int ms)
{
	struct pollfd pfd[2 + W_COUNT];
	int i;

	pfd[0] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = logsink_fd(), .events = POLLIN };
	for (i = 0; i < W_COUNT; i++)
		pfd[2 + i] =
		    (struct pollfd){ .fd = workers[i].fd, .events = POLLIN };
	if (poll(pfd, 2 + W_COUNT, ms) < 0 && errno != EINTR)
		fatal("poll");
	logsink_drain();
	for (i = 0; i < W_COUNT; i++)
		if (pfd[2 + i].fd >= 0 && pfd[2 + i].revents != 0)
			worker_message(i);
	return read_signals(sig_fd);
}

/* Wait for worker idx to exit, at most ms; then kill it. */
static void
await_worker(int idx, int sig_fd, int ms, bool *all_ok)
{
	struct worker *w = &workers[idx];
	int64_t deadline = now_ms() + ms;
	int left;

	reap(true, all_ok);
	while (w->running && (left = (int)(deadline - now_ms())) > 0) {
		sup_wait(sig_fd, left);
		reap(true, all_ok);
	}
	if (!w->running)
		return;
	log_warnx("%s did not finish within %d ms; killing it", w->name, ms);
	kill(w->pid, SIGKILL);
	while (w->running && waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
		;
	w->running = false;
	*all_ok = false;
}

static void
tell(int idx, uint8_t type)
{
	struct worker *w = &workers[idx];
	int rc;

	if (!w->running || w->fd < 0)
		return;
	if ((rc = msg_send(w->fd, type, NULL, 0)) < 0)
		log_debug("cannot tell %s %s: %s", w->name, msg_type_name(type),
		    strerror(-rc));
}

/*
 * The watcher stops first so that nothing new is wanted; the claimer
 * then has the netagent withdraw every address before it revokes its
 * lease, so another node never holds an IP that this one still
 * answers for; last the netagent removes its chain and leftovers.
 *
 * Before a restart the claimer detaches instead: it withdraws but keeps
 * its lease, so the claims stay this node's for the next claimer to
 * adopt, rather than moving to another node and back.  A netagent that
 * died may have left addresses in the kernel; with the lease kept, no
 * other node can take them until the new netagent has swept them or
 * their lifetime has run out.
 */
static bool
shutdown_all(int sig_fd, bool restart)
{
	bool ok = true;

	tell(W_WATCHER, MSG_SHUTDOWN);
	tell(W_CLAIMER, restart ? MSG_DETACH : MSG_SHUTDOWN);
	await_worker(W_CLAIMER, sig_fd, CLAIMER_GRACE_MS, &ok);
	tell(W_NETAGENT, MSG_SHUTDOWN);
	await_worker(W_NETAGENT, sig_fd, NETAGENT_GRACE_MS, &ok);
	await_worker(W_WATCHER, sig_fd, WATCHER_GRACE_MS, &ok);
	return ok;
}

static int
setup_signals(sigset_t *old)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, old) < 0)
		fatal("sigprocmask");
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

static bool
all_running(void)
{
	int i;

	for (i = 0; i < W_COUNT; i++)
		if (!workers[i].running)
			return false;
	return true;
}

/*
 * Run until a signal asks for shutdown or a worker fails.  The watchdog
 * is fed only while every worker is alive.
 */
static int
monitor(int sig_fd, int wd_ms)
{
	int64_t last_ping = 0;
	bool ok = true;
	int sig;

	for (;;) {
		if (wd_ms > 0 && now_ms() - last_ping >= wd_ms / 2 &&
		    all_running()) {
			notify_send("WATCHDOG=1");
			last_ping = now_ms();
		}
		if ((sig = sup_wait(sig_fd, wd_ms > 0 ? wd_ms / 4 : -1)) != 0) {
			log_info("received %s, shutting down", strsignal(sig));
			return 0;
		}
		/*
		 * All three restart together: fresh socketpairs for all,
		 * a netagent that sweeps, a claimer that resends.
		 */
		if (reap(false, &ok) > 0) {
			log_warnx("a worker failed; stopping the others to"
			          " restart them all");
			return 1;
		}
	}
}

static int
check_interface(const struct kiwi_config *cfg)
{
	if (if_nametoindex(cfg->ifname) == 0) {
		log_warnx("interface %s does not exist", cfg->ifname);
		return -ENODEV;
	}
	return 0;
}

/*
 * Started as root, the workers become --user.  Started as another user
 * that holds the network capabilities (systemd's User= with
 * AmbientCapabilities=), or as a root that cannot change its ids (a
 * container with every other capability dropped), they stay who they
 * are and only shed capabilities.
 */
static int
resolve_user(const struct kiwi_config *cfg, struct kiwi_user *u)
{
	if (geteuid() == 0 && priv_can_change_id())
		return priv_resolve_user(cfg->user, cfg->user_given, u);
	if (cfg->user_given)
		log_warnx("cannot change user: ignoring --user %s", cfg->user);
	return priv_current_user(u);
}

static void
log_start(const struct kiwi_config *cfg, const struct kiwi_user *u)
{
	char buf[KIWI_CIDRSTRLEN];
	size_t i;

	log_info("kiwi %s starting on %s as node %s, workers as %s",
	    KIWI_VERSION, cfg->ifname, cfg->node_name, u->name);
	if (cfg->dry_run)
		log_warnx("dry run: addresses and rules are only logged, not "
		          "made; but this node still claims addresses in etcd, "
		          "so no other node serves the ones it wins");
	if (cfg->ncidrs == 0)
		log_info("no --cidr-range given: every external IP is"
		         " accepted");
	for (i = 0; i < cfg->ncidrs; i++)
		log_debug("accepting external IPs in %s",
		    cidr_fmt(&cfg->cidrs[i], buf, sizeof(buf)));
}

static int
spawn_all(const struct kiwi_config *cfg, const struct kiwi_user *u,
    struct channels *ch, int lock_fd, int sig_fd)
{
	/* The netagent first: it sweeps leftovers before any claim. */
	if (spawn(W_NETAGENT, cfg, u, ch, lock_fd, sig_fd) < 0 ||
	    spawn(W_CLAIMER, cfg, u, ch, lock_fd, sig_fd) < 0 ||
	    spawn(W_WATCHER, cfg, u, ch, lock_fd, sig_fd) < 0)
		return -1;
	workers[W_NETAGENT].fd = ch->sup_n[0];
	workers[W_CLAIMER].fd = ch->sup_c[0];
	workers[W_WATCHER].fd = ch->sup_w[0];
	return 0;
}

/* Sup ends stay open across fork; close them once the workers stop. */
static void
close_sup_ends(void)
{
	int i;

	for (i = 0; i < W_COUNT; i++) {
		if (workers[i].fd >= 0)
			close(workers[i].fd);
		workers[i].fd = -1;
	}
}

/*
 * One generation of workers: fresh socketpairs, fork, watch.  Returns 0
 * when a signal asked for shutdown, 1 when a worker failed; either way
 * every worker has stopped on return.  *stopped_ok tells whether they
 * all stopped cleanly.
 */
static int
run_generation(const struct kiwi_config *cfg, const struct kiwi_user *u,
    int sig_fd, int wd_ms, bool *stopped_ok)
{
	struct channels ch;
	int lock_fd, rc;

	/*
	 * A fresh open of the lock for each netagent: a lock held by a
	 * netagent that died must go with its descriptor, and the
	 * supervisor keeping the same open file would keep it held.
	 */
	lock_fd = open_xtables_lock();
	memset(&ch, -1, sizeof(ch));
	rc = make_channels(&ch) < 0 ? -1
	                            : spawn_all(cfg, u, &ch, lock_fd, sig_fd);
	close_worker_ends(&ch);
	if (lock_fd >= 0)
		close(lock_fd);
	rc = rc == 0 ? monitor(sig_fd, wd_ms) : 1;
	if (rc == 0)
		notify_send("STOPPING=1\nSTATUS=withdrawing addresses");
	*stopped_ok = shutdown_all(sig_fd, rc != 0);
	close_sup_ends();
	return rc;
}

/* Sleep ms while still answering signals; true if one asks to stop. */
static bool
backoff_wait(int sig_fd, int ms)
{
	int64_t end = now_ms() + ms;
	int left, sig;

	while ((left = (int)(end - now_ms())) > 0)
		if ((sig = sup_wait(sig_fd, left)) != 0) {
			log_info("received %s while waiting to restart,"
			         " stopping",
			    strsignal(sig));
			return true;
		}
	return false;
}

int
supervisor_run(const struct kiwi_config *cfg)
{
	struct kiwi_user u;
	sigset_t old;
	int sig_fd, rc, wd_ms, backoff = RESTART_MIN_MS;
	int64_t started;
	bool ok;

	if (logsink_open(cfg) < 0)
		return 1;
	wd_ms = notify_init();
	if (check_interface(cfg) < 0 || resolve_user(cfg, &u) < 0)
		return 1;
	log_start(cfg, &u);
	(void)rundir_prepare(cfg, &u);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("cannot initialise libcurl");
		return 1;
	}
	sig_fd = setup_signals(&old);
	for (;;) {
		started = now_ms();
		rc = run_generation(cfg, &u, sig_fd, wd_ms, &ok);
		if (rc == 0)
			break;
		if (now_ms() - started >= RESTART_RESET_MS)
			backoff = RESTART_MIN_MS;
		log_warnx("restarting the workers in %d ms; until then no"
		          " address is held here",
		    backoff);
		notify_send("STATUS=restarting the workers");
		if (backoff_wait(sig_fd, backoff)) {
			/* Nothing runs: this stop is clean. */
			rc = 0;
			ok = true;
			break;
		}
		backoff =
		    backoff * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : backoff * 2;
		restarts++;
	}
	rundir_remove(cfg);
	log_info("stopped");
	logsink_drain();
	return rc == 0 && ok ? 0 : 1;
}
