/*
 * claimer_main in a child process against a real etcd, with this
 * program playing supervisor, watcher and netagent over socketpairs.
 * Run by claimer_main.sh, which passes KIWI_ETCD_URL, KIWI_ETCD_PID
 * (to stop and continue etcd) and KIWI_ETCD_DEAD (nothing listens).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/claimer/test_env.h"

#include "claimer/claimer.h"
#include "claimer/etcd.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

#define TTL 3

struct child {
	pid_t pid;
	int sup, watcher, na; /* our ends */
	struct etcd *etcd; /* to look at etcd ourselves */
	int log; /* what the child logs, with spawn_notes; else -1 */
	char logbuf[65536]; /* what was read of it, NUL-terminated */
	size_t loglen;
};

/* What arrived on the side channels while waiting for something else. */
struct seen {
	int vouches;
	uint32_t vouch; /* the last one */
	int64_t vouch_at; /* when it arrived */
	int64_t first_vouch_at;
	int leases;
	uint64_t lease; /* the last MSG_LEASE */
};

static char url[512], dead[512], no_watch[512], urls[1100];
static pid_t etcd_pid, member_pid;
static struct seen seen;
static unsigned int spawn_ttl = TTL;
static int64_t spawn_inherit;
static const char *spawn_node = "n1";
static bool spawn_no_link;
/* A control socket, a loopback range, and the log through a pipe. */
static bool spawn_notes;
static unsigned int spawn_max; /* max-addresses; 0: the default */
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int child_log = -1; /* in the child: the pipe to the test */

/* In the child: each line to stderr as usual, and to the test. */
static void
log_to_test(int prio, const char *line, size_t len)
{
	(void)prio;
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nowhere left to report it. */
	}
	if (write(child_log, line, len) < 0) {
		/* Non-blocking: a full pipe loses lines, never stalls. */
	}
}

/*
 * Loopback as a range, so that an address can be inside the ranges
 * and still never announceable.
 */
static void
notes_config(struct kiwi_config *cfg)
{
	assert_int_equal(
	    cidr_parse("127.0.0.0/8", &cfg->cidrs[cfg->ncidrs++]), 0);
	snprintf(
	    cfg->control_socket, sizeof(cfg->control_socket), "%s", sock_path);
}

/* With spawn_notes, the pipe the child logs to; else both -1. */
static void
log_pipe(int lp[2])
{
	lp[0] = lp[1] = -1;
	if (!spawn_notes)
		return;
	assert_int_equal(pipe(lp), 0);
	assert_int_equal(fcntl(lp[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(lp[1], F_SETFL, O_NONBLOCK), 0);
}

static void
spawn(struct child *ch, const char *endpoints)
{
	int sp[2], wp[2], np[2], lp[2];
	struct kiwi_config cfg;

	config_defaults(&cfg);
	snprintf(
	    cfg.etcd_endpoints, sizeof(cfg.etcd_endpoints), "%s", endpoints);
	snprintf(cfg.node_name, sizeof(cfg.node_name), "%s", spawn_node);
	cfg.ttl = spawn_ttl;
	assert_int_equal(cidr_parse("192.168.1.0/24", &cfg.cidrs[0]), 0);
	assert_int_equal(cidr_parse("fd00::/64", &cfg.cidrs[1]), 0);
	cfg.ncidrs = 2;
	if (spawn_notes)
		notes_config(&cfg);
	if (spawn_max > 0)
		cfg.max_addresses = spawn_max;
	log_pipe(lp);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, wp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, np), 0);
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		close(sp[0]);
		close(wp[0]);
		close(np[0]);
		log_init("claimer", 0);
		if (lp[1] >= 0) {
			close(lp[0]);
			child_log = lp[1];
			log_set_sink(log_to_test);
		}
		if (spawn_inherit != 0)
			claimer_inherit_lease(spawn_inherit);
		_exit(claimer_main(&cfg, sp[1], wp[1], np[1]));
	}
	close(sp[1]);
	close(wp[1]);
	close(np[1]);
	if (lp[1] >= 0)
		close(lp[1]);
	ch->log = lp[0];
	ch->sup = sp[0];
	ch->watcher = wp[0];
	ch->na = np[0];
	/* As the netagent does once it has swept the interface. */
	if (!spawn_no_link)
		assert_int_equal(msg_send_u32(ch->na, MSG_LINK, 1), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(etcd_open(&ch->etcd, url), 0);
}

static int
start(void **state, const char *endpoints)
{
	struct child *ch = calloc(1, sizeof(*ch));

	spawn(ch, endpoints);
	*state = ch;
	return 0;
}

static int
setup(void **state)
{
	return start(state, url);
}

static int
setup_dead(void **state)
{
	return start(state, dead);
}

/* The first member is dead, the second answers. */
static int
setup_second(void **state)
{
	char list[1100];

	snprintf(list, sizeof(list), "%s,%s", dead, url);
	return start(state, list);
}

static int
teardown(void **state)
{
	struct child *ch = *state;

	if (ch->pid > 0) {
		kill(ch->pid, SIGKILL);
		waitpid(ch->pid, NULL, 0);
	}
	close(ch->sup);
	close(ch->watcher);
	close(ch->na);
	if (ch->log >= 0)
		close(ch->log);
	etcd_close(ch->etcd);
	free(ch);
	/* A claimer killed above could not remove its socket. */
	if (spawn_notes)
		(void)unlink(sock_path);
	spawn_ttl = TTL;
	spawn_inherit = 0;
	spawn_no_link = false;
	spawn_notes = false;
	spawn_max = 0;
	return 0;
}

static int
setup_no_link(void **state)
{
	spawn_no_link = true;
	return start(state, url);
}

/* What is left of the time a VOUCH vouches until, in ms. */
static uint32_t
vouch_left(const struct kiwi_msg *m)
{
	uint64_t until;
	int64_t left;

	assert_int_equal(msg_decode_u64(m->body, m->len, &until), 0);
	left = (int64_t)until - now_ms();
	assert_true(left >= 0);
	return (uint32_t)left;
}

/* Note a VOUCH or LEASE; true when m was one of them. */
static bool
side_channel(const struct kiwi_msg *m)
{
	uint64_t id;

	if (m->type == MSG_VOUCH) {
		seen.vouch = vouch_left(m);
		seen.vouch_at = now_ms();
		if (seen.vouches++ == 0)
			seen.first_vouch_at = seen.vouch_at;
		return true;
	}
	if (m->type == MSG_LEASE) {
		assert_int_equal(msg_decode_u64(m->body, m->len, &id), 0);
		seen.lease = id;
		seen.leases++;
		return true;
	}
	return false;
}

/*
 * The next message on fd within ms, other than VOUCH and LEASE (which
 * are noted in seen) unless that is what is asked for; 0 for none.
 */
static int
next_msg(int fd, uint8_t type, int ms, struct kiwi_msg *m)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t end = now_ms() + ms;

	m->type = 0;
	m->len = 0;
	for (;;) {
		int64_t left = end - now_ms();

		if (left < 0 || poll(&p, 1, (int)left) != 1)
			return 0;
		assert_int_equal(msg_recv(fd, m), 1);
		if (m->type == type || !side_channel(m))
			return 1;
	}
}

/* The next message on fd within ms, which must be of type. */
static void
expect(int fd, uint8_t type, int ms, struct kiwi_msg *m)
{
	if (!next_msg(fd, type, ms, m))
		fail_msg("no %s within %d ms", msg_type_name(type), ms);
	if (m->type != type)
		fail_msg("wanted %s, got %s", msg_type_name(type),
		    msg_type_name(m->type));
}

static void
expect_none(int fd, int ms)
{
	struct kiwi_msg m;

	if (next_msg(fd, 0, ms, &m))
		fail_msg("unexpected %s", msg_type_name(m.type));
}

/* Read what the supervisor was sent, without waiting. */
static void
read_sup(struct child *ch)
{
	struct kiwi_msg m;

	while (next_msg(ch->sup, 0, 0, &m))
		assert_int_equal(m.type, MSG_READY);
}

static void
make_set(struct kiwi_ipset *s, const char *ip, uint16_t port)
{
	ipset_init(s);
	assert_int_equal(addr_parse(ip, &s->addr), 0);
	assert_int_equal(msg_name_set(s->service, "default/web"), 0);
	s->nrules = 1;
	s->rules = calloc(1, sizeof(*s->rules));
	s->rules[0].proto = KIWI_PROTO_TCP;
	s->rules[0].port = port;
}

static void
desire(struct child *ch, const char *ip, uint16_t port)
{
	struct kiwi_ipset s;

	make_set(&s, ip, port);
	assert_int_equal(msg_send_ipset(ch->watcher, MSG_DESIRE, &s), 0);
	ipset_free(&s);
}

static void
undesire(struct child *ch, const char *ip)
{
	struct kiwi_addr a;

	assert_int_equal(addr_parse(ip, &a), 0);
	assert_int_equal(msg_send_addr(ch->watcher, MSG_UNDESIRE, &a), 0);
}

/* Wait for CLAIM of ip with one rule on port; answer it with err. */
static void
expect_claim(struct child *ch, const char *ip, uint16_t port, int ms, int err)
{
	struct kiwi_ipset got, want;
	struct kiwi_msg m;

	expect(ch->na, MSG_CLAIM, ms, &m);
	assert_int_equal(msg_decode_ipset(m.body, m.len, &got), 0);
	make_set(&want, ip, port);
	assert_true(ipset_equal(&got, &want));
	assert_int_equal(msg_send_result(ch->na, &got.addr, err), 0);
	ipset_free(&got);
	ipset_free(&want);
}

/* CLAIMs of both ips (port 80), in either order; answered with 0. */
static void
expect_claims2(struct child *ch, const char *ip1, const char *ip2, int ms)
{
	struct kiwi_ipset got;
	struct kiwi_addr a1, a2;
	struct kiwi_msg m;
	bool had1 = false, had2 = false;
	int i;

	assert_int_equal(addr_parse(ip1, &a1), 0);
	assert_int_equal(addr_parse(ip2, &a2), 0);
	for (i = 0; i < 2; i++) {
		expect(ch->na, MSG_CLAIM, ms, &m);
		assert_int_equal(msg_decode_ipset(m.body, m.len, &got), 0);
		had1 = had1 || addr_equal(&got.addr, &a1);
		had2 = had2 || addr_equal(&got.addr, &a2);
		assert_int_equal(got.rules[0].port, 80);
		assert_int_equal(msg_send_result(ch->na, &got.addr, 0), 0);
		ipset_free(&got);
	}
	assert_true(had1 && had2);
}

static void
expect_addr(struct child *ch, uint8_t type, const char *ip, int ms)
{
	struct kiwi_addr a, want;
	struct kiwi_msg m;

	expect(ch->na, type, ms, &m);
	assert_int_equal(msg_decode_addr(m.body, m.len, &a), 0);
	assert_int_equal(addr_parse(ip, &want), 0);
	assert_true(addr_equal(&a, &want));
}

/* The lease of ip's key, 0 if there is no key; node is its holder. */
static int64_t
key_lease(struct child *ch, const char *ip, char *node, size_t cap)
{
	char key[128];
	struct ej_holder h;
	int64_t lease = 0;
	int r;

	snprintf(key, sizeof(key), "/kiwi/publicips/%s", ip);
	r = etcd_get(ch->etcd, key, &h);
	assert_true(r >= 0);
	if (r == 1) {
		lease = h.lease;
		assert_true(lease != 0);
		if (node != NULL &&
		    ej_parse_claim_value(h.value, h.valuelen, node, cap) < 0)
			snprintf(node, cap, "(not kiwi's)");
		ej_holder_free(&h);
	}
	return lease;
}

static void
wait_key_gone(struct child *ch, const char *ip, int ms)
{
	int64_t end = now_ms() + ms;

	while (key_lease(ch, ip, NULL, 0) != 0) {
		if (now_ms() > end)
			fail_msg("the key of %s is still there", ip);
		usleep(20000);
	}
}

static int64_t
count_keys(struct child *ch)
{
	int64_t n;

	assert_int_equal(etcd_count(ch->etcd, KIWI_KEY_PREFIX, &n), 0);
	return n;
}

/* The child exits, with status 0. */
static void
reap(struct child *ch)
{
	int status;

	assert_int_equal(waitpid(ch->pid, &status, 0), ch->pid);
	ch->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* SHUTDOWN: RELEASE_ALL, we confirm, the child exits 0. */
static void
stop(struct child *ch)
{
	struct pollfd p = { .fd = ch->na, .events = POLLIN };
	struct kiwi_msg m;

	assert_int_equal(msg_send(ch->sup, MSG_SHUTDOWN, NULL, 0), 0);
	for (;;) {
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(msg_recv(ch->na, &m), 1);
		/* Answers to CLAIMs may still be on the way. */
		if (m.type != MSG_CLAIM && m.type != MSG_VOUCH)
			break;
	}
	assert_int_equal(m.type, MSG_RELEASE_ALL);
	assert_int_equal(msg_send(ch->na, MSG_RELEASE_ALL_DONE, NULL, 0), 0);
	reap(ch);
}

/*
 * Until the netagent's first LINK, which it sends once it has swept
 * what an earlier run left, nothing is claimed.
 */
static void
test_waits_for_link(void **state)
{
	struct child *ch = *state;

	desire(ch, "192.168.1.44", 80);
	expect_none(ch->na, 1500);
	assert_int_equal(msg_send_u32(ch->na, MSG_LINK, 1), 0);
	expect_claim(ch, "192.168.1.44", 80, 3000, 0);
}

static void
test_claim_change_release(void **state)
{
	struct child *ch = *state;
	char node[64];
	struct ej_holder h;

	desire(ch, "192.168.1.41", 80);
	expect_claim(ch, "192.168.1.41", 80, 3000, 0);
	assert_true(key_lease(ch, "192.168.1.41", node, sizeof(node)) != 0);
	assert_string_equal(node, "n1");
	assert_int_equal(
	    etcd_get(ch->etcd, "/kiwi/publicips/192.168.1.41", &h), 1);
	assert_string_equal(h.value,
	    "{\"node\":\"n1\",\"service\":"
	    "\"default/web\",\"ip\":\"192.168.1.41\"}");
	ej_holder_free(&h);

	/* The same set again changes nothing; new rules are sent on. */
	desire(ch, "192.168.1.41", 80);
	expect_none(ch->na, 300);
	desire(ch, "192.168.1.41", 443);
	expect_claim(ch, "192.168.1.41", 443, 2000, 0);

	/*
	 * Withdraw before release: with etcd stopped the key cannot go,
	 * yet RELEASE must come at once.
	 */
	assert_int_equal(kill(etcd_pid, SIGSTOP), 0);
	undesire(ch, "192.168.1.41");
	expect_addr(ch, MSG_RELEASE, "192.168.1.41", 400);
	assert_int_equal(kill(etcd_pid, SIGCONT), 0);
	wait_key_gone(ch, "192.168.1.41", 3000);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

static void
test_standby_then_takeover(void **state)
{
	struct child *ch = *state;
	struct ej_holder h;
	int64_t other, ttl, start;
	char node[64];

	assert_int_equal(etcd_lease_grant(ch->etcd, 30, &other, &ttl), 0);
	assert_int_equal(etcd_claim(ch->etcd, "/kiwi/publicips/192.168.1.42",
	                     "{\"node\":\"n2\"}", other, &h),
	    1);
	desire(ch, "192.168.1.42", 80);
	/* Several renewal ticks pass without a claim. */
	expect_none(ch->na, 2500);
	assert_int_equal(
	    key_lease(ch, "192.168.1.42", node, sizeof(node)), other);
	assert_string_equal(node, "n2");

	start = now_ms();
	assert_int_equal(etcd_lease_revoke(ch->etcd, other), 0);
	expect_claim(ch, "192.168.1.42", 80, 3 * 1000 * TTL / 3 + 500, 0);
	assert_true(now_ms() - start < 1000L * TTL);
	key_lease(ch, "192.168.1.42", node, sizeof(node));
	assert_string_equal(node, "n1");
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

/*
 * Keys asked for together go out in one txn; one that another lease
 * holds fails it, and the others are claimed on the next pass while
 * that one stands by.
 */
static void
test_batch_with_held_key(void **state)
{
	struct child *ch = *state;
	struct ej_holder h;
	int64_t other, ttl;
	char node[64];

	assert_int_equal(etcd_lease_grant(ch->etcd, 30, &other, &ttl), 0);
	assert_int_equal(etcd_claim(ch->etcd, "/kiwi/publicips/192.168.1.51",
	                     "{\"node\":\"n2\"}", other, &h),
	    1);
	desire(ch, "192.168.1.50", 80);
	desire(ch, "192.168.1.51", 80);
	desire(ch, "192.168.1.52", 80);
	expect_claims2(ch, "192.168.1.50", "192.168.1.52", 3000);
	expect_none(ch->na, 1500);
	assert_int_equal(
	    key_lease(ch, "192.168.1.51", node, sizeof(node)), other);
	assert_string_equal(node, "n2");
	assert_int_equal(etcd_lease_revoke(ch->etcd, other), 0);
	expect_claim(ch, "192.168.1.51", 80, 3 * 1000 * TTL / 3 + 500, 0);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

static void
test_result_error_releases(void **state)
{
	struct child *ch = *state;

	desire(ch, "192.168.1.43", 80);
	expect_claim(ch, "192.168.1.43", 80, 3000, -EADDRNOTAVAIL);
	expect_addr(ch, MSG_RELEASE, "192.168.1.43", 2000);
	wait_key_gone(ch, "192.168.1.43", 3000);
	/* Not tried again, not even after renewals, until the set changes. */
	desire(ch, "192.168.1.43", 80);
	expect_none(ch->na, 2500);
	assert_int_equal(key_lease(ch, "192.168.1.43", NULL, 0), 0);
	desire(ch, "192.168.1.43", 8080);
	expect_claim(ch, "192.168.1.43", 8080, 3000, 0);
	stop(ch);
}

static void
test_sync_drops_unmentioned(void **state)
{
	struct child *ch = *state;

	desire(ch, "192.168.1.44", 80);
	expect_claim(ch, "192.168.1.44", 80, 3000, 0);
	desire(ch, "fd00::45", 80);
	expect_claim(ch, "fd00::45", 80, 3000, 0);
	assert_int_equal(msg_send(ch->watcher, MSG_SYNC_BEGIN, NULL, 0), 0);
	desire(ch, "192.168.1.44", 80);
	expect_none(ch->na, 300);
	assert_int_equal(msg_send(ch->watcher, MSG_SYNC_END, NULL, 0), 0);
	expect_addr(ch, MSG_RELEASE, "fd00::45", 2000);
	wait_key_gone(ch, "fd00::45", 3000);
	assert_true(key_lease(ch, "192.168.1.44", NULL, 0) != 0);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

static void
test_bad_messages_ignored(void **state)
{
	static const uint8_t junk[] = { 9, 9, 9 };
	struct child *ch = *state;
	struct kiwi_ipset s;

	/* A truncated frame, a wrong type, an address out of range. */
	assert_int_equal(send(ch->watcher, junk, sizeof(junk), 0), 3);
	make_set(&s, "192.168.1.46", 80);
	assert_int_equal(msg_send_ipset(ch->watcher, MSG_CLAIM, &s), 0);
	ipset_free(&s);
	desire(ch, "10.9.9.9", 80);
	undesire(ch, "192.168.1.99");
	assert_int_equal(msg_send(ch->watcher, MSG_SYNC_END, NULL, 0), 0);
	assert_int_equal(msg_send(ch->watcher, MSG_DESIRE, "x", 1), 0);
	assert_int_equal(msg_send(ch->na, MSG_RESULT, "x", 1), 0);
	expect_none(ch->na, 500);
	assert_int_equal(count_keys(ch), 0);

	desire(ch, "192.168.1.46", 80);
	expect_claim(ch, "192.168.1.46", 80, 3000, 0);
	stop(ch);
}

static void
test_netagent_gone(void **state)
{
	struct child *ch = *state;
	int64_t lease;

	desire(ch, "192.168.1.51", 80);
	expect_claim(ch, "192.168.1.51", 80, 3000, 0);
	lease = key_lease(ch, "192.168.1.51", NULL, 0);
	/*
	 * A netagent that died may have left the address on the
	 * interface: the key must stay, over several ttls, and the lease
	 * is not revoked at shutdown either.
	 */
	close(ch->na);
	ch->na = -1;
	usleep(2000 * 1000 * TTL);
	assert_int_equal(key_lease(ch, "192.168.1.51", NULL, 0), lease);
	assert_int_equal(msg_send(ch->sup, MSG_SHUTDOWN, NULL, 0), 0);
	reap(ch);
	assert_int_equal(key_lease(ch, "192.168.1.51", NULL, 0), lease);
	assert_int_equal(etcd_lease_revoke(ch->etcd, lease), 0);
}

static void
test_lease_revoked_outside(void **state)
{
	struct child *ch = *state;
	struct kiwi_addr a, want;
	struct kiwi_msg m;
	int64_t lease, again;

	desire(ch, "192.168.1.47", 80);
	expect_claim(ch, "192.168.1.47", 80, 3000, 0);
	lease = key_lease(ch, "192.168.1.47", NULL, 0);
	assert_int_equal(etcd_lease_revoke(ch->etcd, lease), 0);
	/* The watch may see the key go before a renewal sees the lease go. */
	assert_int_equal(next_msg(ch->na, 0, 2000, &m), 1);
	if (m.type == MSG_RELEASE) {
		assert_int_equal(msg_decode_addr(m.body, m.len, &a), 0);
		assert_int_equal(addr_parse("192.168.1.47", &want), 0);
		assert_true(addr_equal(&a, &want));
		expect(ch->na, MSG_RELEASE_ALL, 2000, &m);
	}
	assert_int_equal(m.type, MSG_RELEASE_ALL);
	expect_claim(ch, "192.168.1.47", 80, 3000, 0);
	again = key_lease(ch, "192.168.1.47", NULL, 0);
	assert_true(again != 0 && again != lease);
	stop(ch);
}

static void
test_etcd_stopped(void **state)
{
	struct child *ch = *state;
	struct kiwi_msg m;
	int64_t stopped;

	desire(ch, "192.168.1.48", 80);
	expect_claim(ch, "192.168.1.48", 80, 3000, 0);
	assert_int_equal(kill(etcd_pid, SIGSTOP), 0);
	stopped = now_ms();
	/* The last renewal was before the stop: withdraw within the ttl. */
	expect(ch->na, MSG_RELEASE_ALL, 1000 * TTL, &m);
	assert_true(now_ms() - stopped < 1000L * TTL);
	assert_int_equal(kill(etcd_pid, SIGCONT), 0);

	/* Back: the lease held, or was lost and a new one is taken. */
	expect(ch->na, MSG_CLAIM, 8000, &m);
	while (m.type == MSG_RELEASE_ALL)
		expect(ch->na, MSG_CLAIM, 8000, &m);
	stop(ch);
}

static void
test_etcd_unreachable(void **state)
{
	struct child *ch = *state;
	int64_t start;

	desire(ch, "192.168.1.49", 80);
	expect_none(ch->na, 2000);
	/* Shutdown is prompt though etcd never answered. */
	start = now_ms();
	stop(ch);
	assert_true(now_ms() - start < 5000);
}

static void
test_failover_to_second_member(void **state)
{
	struct child *ch = *state;

	desire(ch, "192.168.1.50", 80);
	expect_claim(ch, "192.168.1.50", 80, 3000, 0);
	/* Renewals keep working: nothing is withdrawn over several ttls. */
	expect_none(ch->na, 2 * 1000 * TTL);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

/* Another node's key for ip on a new lease of ttl seconds. */
static int64_t
other_holds(
    struct child *ch, const char *ip, unsigned int ttl, const char *node)
{
	char key[128], value[128];
	struct ej_holder h;
	int64_t id, got;

	assert_int_equal(etcd_lease_grant(ch->etcd, ttl, &id, &got), 0);
	snprintf(key, sizeof(key), "/kiwi/publicips/%s", ip);
	snprintf(value, sizeof(value),
	    "{\"node\":\"%s\",\"service\":\"default/web\",\"ip\":\"%s\"}", node,
	    ip);
	assert_int_equal(etcd_claim(ch->etcd, key, value, id, &h), 1);
	return id;
}

/*
 * Revoking the holder's lease: our CLAIM must follow at once, not on a
 * renewal (every 1 s here).  Three times, so that a renewal cannot
 * happen to fall in the window each time.
 */
static void
test_watch_takeover(void **state)
{
	static const char *ips[] = { "192.168.1.60", "192.168.1.61",
		"192.168.1.62" };
	struct child *ch = *state;
	int64_t other[3], start, took;
	size_t i;

	for (i = 0; i < 3; i++) {
		other[i] = other_holds(ch, ips[i], 30, "n2");
		desire(ch, ips[i], 80);
	}
	expect_none(ch->na, 1500);
	for (i = 0; i < 3; i++) {
		usleep(333000 * (unsigned int)i);
		start = now_ms();
		assert_int_equal(etcd_lease_revoke(ch->etcd, other[i]), 0);
		expect_claim(ch, ips[i], 80, 3000, 0);
		took = now_ms() - start;
		printf("watch takeover of %s: %" PRId64 " ms\n", ips[i], took);
		assert_true(took < 150);
		assert_true(key_lease(ch, ips[i], NULL, 0) != 0);
	}
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

/* A holder that stops renewing: its key expires, we take it. */
static void
test_expiry_takeover(void **state)
{
	struct child *ch = *state;
	int64_t start, took;
	char node[64];

	/* Our own lease first, so that only the other one's expiry counts. */
	desire(ch, "192.168.1.63", 80);
	expect_claim(ch, "192.168.1.63", 80, 3000, 0);
	start = now_ms();
	other_holds(ch, "192.168.1.64", 2, "n2");
	desire(ch, "192.168.1.64", 80);
	expect_claim(ch, "192.168.1.64", 80, 4000, 0);
	took = now_ms() - start;
	printf("expiry takeover with ttl 2: %" PRId64 " ms\n", took);
	/* etcd looks for expired leases every 500 ms: that is the margin. */
	assert_true(took < 2600);
	key_lease(ch, "192.168.1.64", node, sizeof(node));
	assert_string_equal(node, "n1");
	stop(ch);
}

static int
setup_ttl2(void **state)
{
	spawn_ttl = 2;
	return start(state, url);
}

/* VOUCH first, then after every renewal, for what trust is left. */
static void
test_vouch(void **state)
{
	struct child *ch = *state;
	struct kiwi_msg m;
	int64_t at;

	desire(ch, "192.168.1.65", 80);
	expect(ch->na, MSG_VOUCH, 3000, &m);
	seen.vouch = vouch_left(&m);
	/* Trust is two thirds of the ttl, less the time the grant took. */
	assert_true(
	    seen.vouch > 1000 * TTL / 3 && seen.vouch <= 2000 * TTL / 3);
	expect_claim(ch, "192.168.1.65", 80, 1000, 0);
	at = now_ms();
	expect(ch->na, MSG_VOUCH, 1000 * TTL / 3 + 500, &m);
	seen.vouch = vouch_left(&m);
	assert_true(
	    seen.vouch > 1000 * TTL / 3 && seen.vouch <= 2000 * TTL / 3);
	expect(ch->na, MSG_VOUCH, 1000 * TTL / 3 + 500, &m);
	assert_true(now_ms() - at > 1000 * TTL / 3 - 100);
	stop(ch);
}

static void
send_link(struct child *ch, uint32_t up)
{
	assert_int_equal(msg_send_u32(ch->na, MSG_LINK, up), 0);
}

/* LINK 0: everything goes at once; LINK 1: claimed again. */
static void
test_link(void **state)
{
	struct child *ch = *state;
	struct kiwi_msg m;
	int64_t start, first;

	send_link(ch, 1);
	desire(ch, "192.168.1.66", 80);
	desire(ch, "192.168.1.67", 80);
	expect_claims2(ch, "192.168.1.66", "192.168.1.67", 3000);
	read_sup(ch);
	first = (int64_t)seen.lease;
	assert_true(first != 0);

	start = now_ms();
	send_link(ch, 0);
	expect(ch->na, MSG_RELEASE_ALL, 300, &m);
	wait_key_gone(ch, "192.168.1.66", 300);
	wait_key_gone(ch, "192.168.1.67", 300);
	printf("link down to keys gone: %" PRId64 " ms\n", now_ms() - start);
	expect_none(ch->na, 1500);
	assert_int_equal(count_keys(ch), 0);
	read_sup(ch);
	assert_true(seen.leases >= 2);
	assert_true((int64_t)seen.lease != first);

	send_link(ch, 1);
	expect_claims2(ch, "192.168.1.66", "192.168.1.67", 2000);
	read_sup(ch);
	assert_true(seen.lease != 0 && (int64_t)seen.lease != first);
	assert_int_equal(key_lease(ch, "192.168.1.66", NULL, 0), seen.lease);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

static int64_t inherit_id;

static int
setup_inherit(void **state)
{
	struct etcd *e;
	struct ej_holder h;
	int64_t ttl;

	assert_int_equal(etcd_open(&e, url), 0);
	assert_int_equal(etcd_lease_grant(e, TTL, &inherit_id, &ttl), 0);
	assert_int_equal(etcd_claim(e, "/kiwi/publicips/192.168.1.70",
	                     "{\"node\":\"n1\",\"service\":\"default/web\","
	                     "\"ip\":\"192.168.1.70\"}",
	                     inherit_id, &h),
	    1);
	etcd_close(e);
	spawn_inherit = inherit_id;
	return start(state, url);
}

/* A live lease handed over is kept, with its keys. */
static void
test_inherit_alive(void **state)
{
	struct child *ch = *state;

	desire(ch, "192.168.1.70", 80);
	desire(ch, "192.168.1.71", 80);
	expect_claims2(ch, "192.168.1.70", "192.168.1.71", 2000);
	read_sup(ch);
	assert_int_equal(seen.leases, 1);
	assert_int_equal((int64_t)seen.lease, inherit_id);
	assert_int_equal(key_lease(ch, "192.168.1.70", NULL, 0), inherit_id);
	assert_int_equal(key_lease(ch, "192.168.1.71", NULL, 0), inherit_id);
	/* It is renewed: still there after twice its ttl. */
	expect_none(ch->na, 2000 * TTL);
	assert_int_equal(key_lease(ch, "192.168.1.70", NULL, 0), inherit_id);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

static int
setup_inherit_dead(void **state)
{
	struct etcd *e;
	int64_t ttl;

	assert_int_equal(etcd_open(&e, url), 0);
	assert_int_equal(etcd_lease_grant(e, TTL, &inherit_id, &ttl), 0);
	assert_int_equal(etcd_lease_revoke(e, inherit_id), 0);
	etcd_close(e);
	spawn_inherit = inherit_id;
	return start(state, url);
}

static void
test_inherit_dead(void **state)
{
	struct child *ch = *state;

	desire(ch, "192.168.1.72", 80);
	expect_claim(ch, "192.168.1.72", 80, 3000, 0);
	read_sup(ch);
	assert_int_equal(seen.leases, 1);
	assert_true(seen.lease != 0 && (int64_t)seen.lease != inherit_id);
	assert_int_equal(key_lease(ch, "192.168.1.72", NULL, 0), seen.lease);
	stop(ch);
}

static int
setup_past(void **state)
{
	struct child tmp = { 0 };

	assert_int_equal(etcd_open(&tmp.etcd, url), 0);
	inherit_id = other_holds(&tmp, "192.168.1.73", 60, "n1");
	etcd_close(tmp.etcd);
	return start(state, url);
}

/* A key of an earlier life of this node: its lease is revoked. */
static void
test_previous_life(void **state)
{
	struct child *ch = *state;
	int64_t start = now_ms(), ttl;

	desire(ch, "192.168.1.73", 80);
	expect_claim(ch, "192.168.1.73", 80, 3000, 0);
	printf(
	    "previous life's key taken in %" PRId64 " ms\n", now_ms() - start);
	assert_true(key_lease(ch, "192.168.1.73", NULL, 0) != inherit_id);
	assert_int_equal(
	    etcd_lease_keepalive(ch->etcd, inherit_id, &ttl), -ENOENT);
	stop(ch);
}

/*
 * DETACH (before a restart): withdrawn, the lease and keys kept; a
 * claimer that inherits the lease holds the address again without a
 * new lease.
 */
static void
test_detach_then_inherit(void **state)
{
	struct child *ch = *state;
	struct kiwi_msg m;
	int64_t lease;

	desire(ch, "192.168.1.78", 80);
	expect_claim(ch, "192.168.1.78", 80, 3000, 0);
	read_sup(ch);
	lease = (int64_t)seen.lease;
	assert_int_equal(key_lease(ch, "192.168.1.78", NULL, 0), lease);
	assert_int_equal(msg_send(ch->sup, MSG_DETACH, NULL, 0), 0);
	expect(ch->na, MSG_RELEASE_ALL, 300, &m);
	assert_int_equal(msg_send(ch->na, MSG_RELEASE_ALL_DONE, NULL, 0), 0);
	reap(ch);
	assert_int_equal(key_lease(ch, "192.168.1.78", NULL, 0), lease);

	teardown(state);
	spawn_inherit = lease;
	start(state, url);
	ch = *state;
	desire(ch, "192.168.1.78", 80);
	expect_claim(ch, "192.168.1.78", 80, 2000, 0);
	read_sup(ch);
	assert_int_equal(seen.leases, 1);
	assert_int_equal((int64_t)seen.lease, lease);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

/*
 * Two claimers, two nodes.  The holder shuts down: the other does not
 * claim while the holder's netagent has not confirmed the withdrawal,
 * and claims at once after the holder revoked its lease.
 */
static void
test_two_nodes_handover(void **state)
{
	struct child *a = *state;
	struct child *b = calloc(1, sizeof(*b));
	struct kiwi_msg m;
	char node[64];
	int64_t start;

	desire(a, "192.168.1.90", 80);
	expect_claim(a, "192.168.1.90", 80, 3000, 0);
	spawn_node = "n2";
	spawn(b, url);
	spawn_node = "n1";
	desire(b, "192.168.1.90", 80);
	expect_none(b->na, 1500);

	assert_int_equal(msg_send(a->sup, MSG_SHUTDOWN, NULL, 0), 0);
	expect(a->na, MSG_RELEASE_ALL, 300, &m);
	/* The holder's lease lives until its netagent confirms. */
	expect_none(b->na, 300);
	start = now_ms();
	assert_int_equal(msg_send(a->na, MSG_RELEASE_ALL_DONE, NULL, 0), 0);
	expect_claim(b, "192.168.1.90", 80, 1000, 0);
	printf("handover from the withdrawal to the other node's CLAIM: "
	       "%" PRId64 " ms\n",
	    now_ms() - start);
	assert_true(now_ms() - start < 300);
	reap(a);
	key_lease(b, "192.168.1.90", node, sizeof(node));
	assert_string_equal(node, "n2");
	stop(b);
	assert_int_equal(count_keys(b), 0);
	teardown((void **)&b);
}

static int
setup_no_watch(void **state)
{
	return start(state, no_watch);
}

/* Without a watch, a renewal still finds the address free. */
static void
test_watch_down_fallback(void **state)
{
	struct child *ch = *state;
	int64_t other, start;

	other = other_holds(ch, "192.168.1.91", 30, "n2");
	desire(ch, "192.168.1.91", 80);
	expect_none(ch->na, 1500);
	start = now_ms();
	assert_int_equal(etcd_lease_revoke(ch->etcd, other), 0);
	expect_claim(ch, "192.168.1.91", 80, 1000 * TTL / 3 + 500, 0);
	printf("takeover without a watch: %" PRId64 " ms\n", now_ms() - start);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

/* Another node's live lease is never taken over, however long. */
static void
test_no_flapping(void **state)
{
	struct child *ch = *state;
	int64_t other, ttl;
	int i;

	other = other_holds(ch, "192.168.1.74", TTL, "n2");
	desire(ch, "192.168.1.74", 80);
	for (i = 0; i < 3; i++) {
		assert_int_equal(
		    etcd_lease_keepalive(ch->etcd, other, &ttl), 0);
		expect_none(ch->na, 1000);
	}
	assert_int_equal(key_lease(ch, "192.168.1.74", NULL, 0), other);
	assert_int_equal(etcd_lease_revoke(ch->etcd, other), 0);
	expect_claim(ch, "192.168.1.74", 80, 1000, 0);
	stop(ch);
}

/* The loop never waits for etcd: SHUTDOWN is answered at once. */
static void
test_shutdown_etcd_stopped(void **state)
{
	struct child *ch = *state;
	struct kiwi_msg m;
	int64_t start;

	desire(ch, "192.168.1.75", 80);
	expect_claim(ch, "192.168.1.75", 80, 3000, 0);
	assert_int_equal(kill(etcd_pid, SIGSTOP), 0);
	/* A request is on the way to the stopped etcd by now. */
	usleep(1200 * 1000);
	start = now_ms();
	assert_int_equal(msg_send(ch->sup, MSG_SHUTDOWN, NULL, 0), 0);
	expect(ch->na, MSG_RELEASE_ALL, 200, &m);
	printf("RELEASE_ALL %" PRId64 " ms after SHUTDOWN\n", now_ms() - start);
	assert_int_equal(msg_send(ch->na, MSG_RELEASE_ALL_DONE, NULL, 0), 0);
	reap(ch);
	assert_int_equal(kill(etcd_pid, SIGCONT), 0);
	assert_true(now_ms() - start < 3000);
}

/*
 * The netagent let a claim go on its own (its vouch ran out): the key
 * stays ours, and the address is claimed again after the next VOUCH.
 */
static void
test_vouch_lapsed(void **state)
{
	struct child *ch = *state;
	struct kiwi_addr a;
	struct kiwi_msg m;
	int64_t lease;
	int vouches;

	desire(ch, "192.168.1.76", 80);
	expect_claim(ch, "192.168.1.76", 80, 3000, 0);
	lease = key_lease(ch, "192.168.1.76", NULL, 0);
	assert_int_equal(addr_parse("192.168.1.76", &a), 0);
	vouches = seen.vouches;
	assert_int_equal(msg_send_result(ch->na, &a, -ETIMEDOUT), 0);
	/* Nothing is released; the next message is a VOUCH, then CLAIM. */
	expect(ch->na, MSG_VOUCH, 1000 * TTL / 3 + 500, &m);
	assert_true(side_channel(&m));
	assert_true(seen.vouches == vouches + 1);
	expect_claim(ch, "192.168.1.76", 80, 500, 0);
	assert_int_equal(key_lease(ch, "192.168.1.76", NULL, 0), lease);
	stop(ch);
}

/* Our key deleted by someone else: withdrawn at once, claimed again. */
static void
test_key_deleted_outside(void **state)
{
	struct child *ch = *state;
	int64_t lease;

	desire(ch, "192.168.1.77", 80);
	expect_claim(ch, "192.168.1.77", 80, 3000, 0);
	lease = key_lease(ch, "192.168.1.77", NULL, 0);
	assert_int_equal(
	    etcd_release(ch->etcd, "/kiwi/publicips/192.168.1.77", lease), 1);
	expect_addr(ch, MSG_RELEASE, "192.168.1.77", 300);
	expect_claim(ch, "192.168.1.77", 80, 1000, 0);
	assert_int_equal(key_lease(ch, "192.168.1.77", NULL, 0), lease);
	stop(ch);
}

static int
setup_notes(void **state)
{
	spawn_notes = true;
	return start(state, url);
}

static void
note(struct child *ch, const char *ip, enum addr_class why)
{
	struct kiwi_note n = { .why = (uint8_t)why };

	assert_int_equal(addr_parse(ip, &n.addr), 0);
	assert_int_equal(msg_name_set(n.service, "default/web"), 0);
	assert_int_equal(msg_send_note(ch->watcher, &n), 0);
}

/*
 * The watcher's socket is read in order: once a DESIRE sent after
 * them is claimed, every earlier message has been handled, and no
 * CLAIM came for any of them first.
 */
static void
barrier(struct child *ch, const char *ip)
{
	desire(ch, ip, 80);
	expect_claim(ch, ip, 80, 3000, 0);
}

/* Read what the child logged so far, waiting at most ms for more. */
static bool
read_log(struct child *ch, int ms)
{
	struct pollfd p = { .fd = ch->log, .events = POLLIN };
	size_t room = sizeof(ch->logbuf) - 1 - ch->loglen;
	ssize_t n;

	assert_true(ch->log >= 0);
	if (room == 0)
		fail_msg("the claimer logged more than this test keeps");
	if (poll(&p, 1, ms) != 1)
		return false;
	n = read(ch->log, ch->logbuf + ch->loglen, room);
	if (n <= 0)
		return false;
	ch->loglen += (size_t)n;
	ch->logbuf[ch->loglen] = '\0';
	return true;
}

static bool
logged(struct child *ch, const char *text)
{
	while (read_log(ch, 0))
		continue;
	return strstr(ch->logbuf, text) != NULL;
}

static void
expect_log(struct child *ch, const char *text, int ms)
{
	int64_t end = now_ms() + ms;

	while (!logged(ch, text))
		if (!read_log(ch, (int)(end - now_ms())) && now_ms() >= end)
			fail_msg(
			    "the claimer did not log \"%s\"; it logged:\n%s",
			    text, ch->logbuf);
}

/* Connect to the control socket, which the child may not have yet. */
static int
control_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t end = now_ms() + 2000;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (now_ms() > end)
			fail_msg("cannot connect to %s", sock_path);
		usleep(20000);
	}
}

/* What `kiwi status` would be told. */
static json_t *
status_doc(void)
{
	struct pollfd p = { .events = POLLIN };
	static char buf[65536];
	json_error_t err;
	size_t len = 0;
	ssize_t n;
	json_t *doc;

	p.fd = control_connect();
	assert_int_equal(write(p.fd, "status\n", 7), 7);
	do {
		assert_int_equal(poll(&p, 1, 2000), 1);
		n = read(p.fd, buf + len, sizeof(buf) - 1 - len);
		assert_true(n >= 0);
		len += (size_t)n;
	} while (n > 0 && len < sizeof(buf) - 1);
	close(p.fd);
	buf[len] = '\0';
	if ((doc = json_loads(buf, 0, &err)) == NULL)
		fail_msg("status is not JSON (%s): %s", err.text, buf);
	return doc;
}

/* ip's entry in the status, borrowed from doc; NULL if not listed. */
static json_t *
status_entry(json_t *doc, const char *ip)
{
	json_t *list = json_object_get(doc, "addresses"), *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *a =
		    json_string_value(json_object_get(e, "address"));

		if (a != NULL && strcmp(a, ip) == 0)
			return e;
	}
	return NULL;
}

static bool
listed(const char *ip)
{
	json_t *doc = status_doc();
	bool r = status_entry(doc, ip) != NULL;

	json_decref(doc);
	return r;
}

/*
 * Wait until the status lists ip as a note: in state, with reason
 * (NULL: none), the Service that NOTE named, and no ports.
 */
static void
expect_note(const char *ip, const char *state, const char *reason)
{
	int64_t end = now_ms() + 2000;
	const char *why;
	json_t *doc, *e;

	for (;;) {
		doc = status_doc();
		if ((e = status_entry(doc, ip)) != NULL)
			break;
		json_decref(doc);
		if (now_ms() > end)
			fail_msg("the status does not list %s", ip);
		usleep(20000);
	}
	assert_string_equal(
	    json_string_value(json_object_get(e, "state")), state);
	/* No reason is a JSON null. */
	why = json_string_value(json_object_get(e, "reason"));
	if (reason == NULL)
		assert_null(why);
	else
		assert_string_equal(why != NULL ? why : "(none)", reason);
	assert_string_equal(
	    json_string_value(json_object_get(e, "service")), "default/web");
	assert_int_equal(json_array_size(json_object_get(e, "ports")), 0);
	assert_true(json_is_array(json_object_get(e, "ports")));
	json_decref(doc);
}

static void
wait_unlisted(const char *ip, int ms)
{
	int64_t end = now_ms() + ms;

	while (listed(ip)) {
		if (now_ms() > end)
			fail_msg("the status still lists %s", ip);
		usleep(20000);
	}
}

/*
 * A NOTE with the claimer's own reason is listed, and nothing is ever
 * claimed for it: no CLAIM, no key, over several renewals.
 */
static void
test_note_kept(void **state)
{
	struct child *ch = *state;

	note(ch, "10.9.9.9", ADDR_OUT_OF_RANGE);
	note(ch, "192.168.1.255", ADDR_RANGE_EDGE);
	note(ch, "127.0.0.5", ADDR_NOT_ANNOUNCEABLE);
	barrier(ch, "192.168.1.84");
	expect_none(ch->na, 1500);
	expect_note("10.9.9.9", "out of range", NULL);
	expect_note("192.168.1.255", "refused",
	    "the network or broadcast address of a configured range");
	expect_note(
	    "127.0.0.5", "refused", "not an address that can be announced");
	assert_int_equal(key_lease(ch, "10.9.9.9", NULL, 0), 0);
	assert_int_equal(key_lease(ch, "192.168.1.255", NULL, 0), 0);
	assert_int_equal(key_lease(ch, "127.0.0.5", NULL, 0), 0);
	assert_int_equal(count_keys(ch), 1);
	assert_false(logged(ch, "ignoring a NOTE"));
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

/*
 * A NOTE whose reason is not the claimer's own is ignored and said
 * so: not listed, and one for an address kiwi claims is not claimed.
 */
static void
test_note_wrong_reason_ignored(void **state)
{
	struct child *ch = *state;

	note(ch, "192.168.1.85", ADDR_OUT_OF_RANGE);
	note(ch, "10.9.9.9", ADDR_RANGE_EDGE);
	note(ch, "192.168.1.0", ADDR_NOT_ANNOUNCEABLE);
	note(ch, "127.0.0.5", ADDR_OUT_OF_RANGE);
	expect_log(ch,
	    "claimer: warning: ignoring a NOTE for 192.168.1.85 from the "
	    "watcher: it says outside the configured ranges, but the "
	    "address is one kiwi claims\n",
	    2000);
	expect_log(ch,
	    "ignoring a NOTE for 10.9.9.9 from the watcher: it says the "
	    "network or broadcast address of a configured range, but the "
	    "address is outside the configured ranges\n",
	    2000);
	expect_log(ch,
	    "ignoring a NOTE for 192.168.1.0 from the watcher: it says not "
	    "an address that can be announced, but the address is the "
	    "network or broadcast address of a configured range\n",
	    2000);
	expect_log(ch,
	    "ignoring a NOTE for 127.0.0.5 from the watcher: it says "
	    "outside the configured ranges, but the address is not an "
	    "address that can be announced\n",
	    2000);
	barrier(ch, "192.168.1.86");
	expect_none(ch->na, 1500);
	assert_false(listed("192.168.1.85"));
	assert_false(listed("10.9.9.9"));
	assert_false(listed("192.168.1.0"));
	assert_false(listed("127.0.0.5"));
	assert_int_equal(key_lease(ch, "192.168.1.85", NULL, 0), 0);
	assert_int_equal(count_keys(ch), 1);
	stop(ch);
}

/* A DESIRE kiwi may not claim: refused, said so, never in etcd. */
static void
test_desire_unclaimable_refused(void **state)
{
	static const char *ips[] = { "10.9.9.9", "192.168.1.255", "192.168.1.0",
		"127.0.0.5", "fd01::1" };
	static const char *why[] = { "outside the configured ranges",
		"the network or broadcast address of a configured range",
		"the network or broadcast address of a configured range",
		"not an address that can be announced",
		"outside the configured ranges" };
	struct child *ch = *state;
	char line[256];
	size_t i;

	for (i = 0; i < 5; i++)
		desire(ch, ips[i], 80);
	for (i = 0; i < 5; i++) {
		snprintf(line, sizeof(line),
		    "claimer: warning: watcher sent DESIRE for %s, %s; "
		    "ignoring it\n",
		    ips[i], why[i]);
		expect_log(ch, line, 2000);
	}
	barrier(ch, "192.168.1.87");
	expect_none(ch->na, 1500);
	for (i = 0; i < 5; i++)
		assert_int_equal(key_lease(ch, ips[i], NULL, 0), 0);
	assert_int_equal(count_keys(ch), 1);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

/*
 * A note goes with UNDESIRE, or with a full set that does not name
 * it; one the full set names again stays.
 */
static void
test_note_removed(void **state)
{
	struct child *ch = *state;

	note(ch, "10.9.9.9", ADDR_OUT_OF_RANGE);
	note(ch, "10.9.9.10", ADDR_OUT_OF_RANGE);
	note(ch, "192.168.1.255", ADDR_RANGE_EDGE);
	expect_note("10.9.9.9", "out of range", NULL);
	expect_note("10.9.9.10", "out of range", NULL);
	expect_note("192.168.1.255", "refused",
	    "the network or broadcast address of a configured range");

	undesire(ch, "10.9.9.9");
	wait_unlisted("10.9.9.9", 2000);
	assert_true(listed("10.9.9.10"));

	assert_int_equal(msg_send(ch->watcher, MSG_SYNC_BEGIN, NULL, 0), 0);
	note(ch, "192.168.1.255", ADDR_RANGE_EDGE);
	note(ch, "10.9.9.11", ADDR_OUT_OF_RANGE);
	assert_int_equal(msg_send(ch->watcher, MSG_SYNC_END, NULL, 0), 0);
	wait_unlisted("10.9.9.10", 2000);
	expect_note("10.9.9.11", "out of range", NULL);
	expect_note("192.168.1.255", "refused",
	    "the network or broadcast address of a configured range");
	expect_none(ch->na, 500);
	assert_int_equal(count_keys(ch), 0);
	stop(ch);
}

static int
setup_notes_cap(void **state)
{
	spawn_max = 3;
	return setup_notes(state);
}

/* Notes are capped at max-addresses too; the cap is said once. */
static void
test_note_cap(void **state)
{
	struct child *ch = *state;
	char ip[32];
	int i;

	for (i = 1; i <= 5; i++) {
		snprintf(ip, sizeof(ip), "10.9.9.%d", i);
		note(ch, ip, ADDR_OUT_OF_RANGE);
	}
	barrier(ch, "192.168.1.50");
	expect_note("10.9.9.3", "out of range", NULL);
	assert_false(listed("10.9.9.4"));
	assert_false(listed("10.9.9.5"));
	expect_log(ch,
	    "not listing 10.9.9.4 in the status, nor any more addresses "
	    "kiwi does not claim: max-addresses are listed already",
	    1000);
	assert_false(logged(ch, "not listing 10.9.9.5"));
	stop(ch);
}

/*
 * Three members; the claimer talks to the first.  When sig hits that
 * member, the lease and every claim stay (no withdrawal, no new
 * lease) over several ttls, and the watch moves on to another member:
 * takeover of ip2, which another node holds, is still at once.
 */
static void
member_fails(struct child *ch, int sig, const char *ip1, const char *ip2)
{
	struct kiwi_msg m;
	int64_t lease, other, start;

	desire(ch, ip1, 80);
	expect_claim(ch, ip1, 80, 3000, 0);
	lease = key_lease(ch, ip1, NULL, 0);
	other = other_holds(ch, ip2, 30, "n2");
	desire(ch, ip2, 80);
	expect_none(ch->na, 500);

	assert_int_equal(kill(member_pid, sig), 0);
	if (next_msg(ch->na, 0, 3000 * TTL, &m))
		fail_msg("unexpected %s", msg_type_name(m.type));
	read_sup(ch);
	assert_int_equal(seen.leases, 1);
	assert_int_equal(key_lease(ch, ip1, NULL, 0), lease);

	start = now_ms();
	assert_int_equal(etcd_lease_revoke(ch->etcd, other), 0);
	expect_claim(ch, ip2, 80, 3000, 0);
	printf("watch takeover after %s to the member: %" PRId64 " ms\n",
	    strsignal(sig), now_ms() - start);
	assert_true(now_ms() - start < 300);
}

/* A member that hangs: renewals move on in time, the watch follows. */
static void
test_cluster_member_hangs(void **state)
{
	struct child *ch = *state;

	member_fails(ch, SIGSTOP, "192.168.1.82", "192.168.1.83");
	assert_int_equal(kill(member_pid, SIGCONT), 0);
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

static void
test_cluster_member_dies(void **state)
{
	struct child *ch = *state;

	member_fails(ch, SIGKILL, "192.168.1.80", "192.168.1.81");
	stop(ch);
	assert_int_equal(count_keys(ch), 0);
}

static int
setup_cluster(void **state)
{
	return start(state, urls);
}

static int
cluster_main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cluster_member_hangs, setup_cluster, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cluster_member_dies, setup_cluster, teardown),
	};
	char pid[32];

	env(urls, sizeof(urls), "KIWI_ETCD_URLS");
	env(pid, sizeof(pid), "KIWI_ETCD_MEMBER_PID");
	member_pid = (pid_t)atol(pid);
	/* Our own client talks to a member that stays. */
	snprintf(url, sizeof(url), "%s", strrchr(urls, ',') + 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_claim_change_release, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_standby_then_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_batch_with_held_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_result_error_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sync_drops_unmentioned, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_messages_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_netagent_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lease_revoked_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_etcd_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_etcd_unreachable, setup_dead, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failover_to_second_member, setup_second, teardown),
		cmocka_unit_test_setup_teardown(
		    test_watch_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_expiry_takeover, setup_ttl2, teardown),
		cmocka_unit_test_setup_teardown(test_vouch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_waits_for_link, setup_no_link, teardown),
		cmocka_unit_test_setup_teardown(
		    test_inherit_alive, setup_inherit, teardown),
		cmocka_unit_test_setup_teardown(
		    test_inherit_dead, setup_inherit_dead, teardown),
		cmocka_unit_test_setup_teardown(
		    test_previous_life, setup_past, teardown),
		cmocka_unit_test_setup_teardown(
		    test_detach_then_inherit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_flapping, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_two_nodes_handover, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_watch_down_fallback, setup_no_watch, teardown),
		cmocka_unit_test_setup_teardown(
		    test_shutdown_etcd_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_vouch_lapsed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_key_deleted_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_note_kept, setup_notes, teardown),
		cmocka_unit_test_setup_teardown(
		    test_note_wrong_reason_ignored, setup_notes, teardown),
		cmocka_unit_test_setup_teardown(
		    test_desire_unclaimable_refused, setup_notes, teardown),
		cmocka_unit_test_setup_teardown(
		    test_note_removed, setup_notes, teardown),
		cmocka_unit_test_setup_teardown(
		    test_note_cap, setup_notes_cap, teardown),
	};
	char pid[32];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "cluster") == 0)
		return cluster_main();

	env(url, sizeof(url), "KIWI_ETCD_URL");
	env(dead, sizeof(dead), "KIWI_ETCD_DEAD");
	env(no_watch, sizeof(no_watch), "KIWI_ETCD_NO_WATCH");
	env(pid, sizeof(pid), "KIWI_ETCD_PID");
	etcd_pid = (pid_t)atol(pid);
	snprintf(sock_path, sizeof(sock_path),
	    "/tmp/kiwi-claimer-loop-%ld.sock", (long)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
