/*
 * The netagent against the real kernel and the real libiptc, inside a
 * network namespace that netagent_ns.sh made.  The parent plays the
 * supervisor and the claimer; the child drops to "nobody" with only
 * CAP_NET_ADMIN and CAP_NET_RAW, as the supervisor would, and runs
 * netagent_main.  Every step is checked in what ip(8) and
 * iptables-legacy-save show.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/priv.h"
#include "common/util.h"
#include "netagent/netagent.h"
#include "netagent/nl.h"

#define DEADLINE_MS 5000
#define RANGE "10.50.0.0/16"
#define RANGE6 "2001:db8:50::/64"
#define MARK 0x2a
#define MAX_ADDRESSES 3
#define RENEW_MANY 600 /* more than two of the netagent's renewal chunks */
/* Long enough that no test outlives a vouch unless it means to. */
#define TTL 30
/* Made by netagent_ns.sh before the driver starts. */
#define UNRELATED_RULE "-A PREROUTING -p tcp -m tcp --dport 22 -j ACCEPT"

static const char *ifname;
static const char *peername; /* the other end of the veth pair */
static char lock_path[] = "/tmp/kiwi-xtables-lock.XXXXXX";

struct agent {
	pid_t pid;
	int sup; /* the supervisor's end */
	int claimer; /* the claimer's end */
};

static struct agent ag;
static unsigned int max_addresses = MAX_ADDRESSES; /* for the next fork */

/* ---- what the kernel shows ---- */

static char *
run(const char *fmt, ...)
{
	static char out[256 * 1024];
	char cmd[512];
	va_list ap;
	size_t n;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_non_null(f = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	return out;
}

static void
sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static bool
is6(const char *a)
{
	return strchr(a, ':') != NULL;
}

static const char *
addrs(void)
{
	return run("ip -o addr show dev %s", ifname);
}

static const char *
mangle(void)
{
	/* Without the comments, which carry the time. */
	return run("iptables-legacy-save -t mangle | grep -v '^#'");
}

static const char *
mangle6(void)
{
	return run("ip6tables-legacy-save -t mangle | grep -v '^#'");
}

/* The mangle table that holds a's rules. */
static const char *
mangle_of(const char *a)
{
	return is6(a) ? mangle6() : mangle();
}

/* Whether text holds line as a whole line. */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') &&
		    (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

static int
count(const char *text, const char *needle)
{
	int n = 0;

	while ((text = strstr(text, needle)) != NULL) {
		n++;
		text++;
	}
	return n;
}

/*
 * "inet A/32 scope global dynamic <if>:kube" appears in ip -o addr:
 * "dynamic" is the finite lifetime.
 */
static int
kiwi_addr_shown(const char *a)
{
	char needle[128];

	snprintf(needle, sizeof(needle),
	    "inet %s/32 scope global dynamic %s:kube", a, ifname);
	return strstr(addrs(), needle) != NULL;
}

/*
 * The valid lifetime ip(8) shows for address a, in seconds: -1 for
 * "forever", -2 when the address is not there.
 */
static int
valid_lft(const char *a)
{
	char needle[128];
	const char *p;

	snprintf(needle, sizeof(needle), " %s/", a);
	if ((p = strstr(addrs(), needle)) == NULL ||
	    (p = strstr(p, "valid_lft ")) == NULL)
		return -2;
	p += strlen("valid_lft ");
	return strncmp(p, "forever", 7) == 0 ? -1 : atoi(p);
}

/* How many addresses on the interface have at least min s to live. */
static int
lifetimes_at_least(int min)
{
	const char *p = addrs();
	int n = 0;

	while ((p = strstr(p, "valid_lft ")) != NULL) {
		p += strlen("valid_lft ");
		if (strncmp(p, "forever", 7) != 0 && atoi(p) >= min)
			n++;
	}
	return n;
}

static int
addr_shown(const char *a)
{
	char needle[128];

	snprintf(
	    needle, sizeof(needle), "%s %s/", is6(a) ? "inet6" : "inet", a);
	return strstr(addrs(), needle) != NULL;
}

/*
 * ip(8) here cannot show or set an address's protocol (IFA_PROTO), so
 * the tests speak rtnetlink for it themselves.
 */
struct nlreq {
	struct nlmsghdr h;
	struct ifaddrmsg ifa;
	uint8_t attrs[256];
};

static void
nlreq_attr(struct nlreq *r, int type, const void *data, size_t len)
{
	struct rtattr *rta =
	    (struct rtattr *)((uint8_t *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	rta->rta_type = (unsigned short)type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int
nl_open(void)
{
	int fd;

	assert_true((fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)) >= 0);
	return fd;
}

/* Add a/128 marked with protocol proto, as kiwi would have. */
static void
addr6_add_raw(const char *a, uint8_t proto)
{
	struct nlreq r = { 0 };
	struct in6_addr in;
	uint8_t buf[4096];
	struct nlmsgerr *e;
	uint32_t flags = IFA_F_NODAD;
	int fd = nl_open();

	assert_int_equal(inet_pton(AF_INET6, a, &in), 1);
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(r.ifa));
	r.h.nlmsg_type = RTM_NEWADDR;
	r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
	r.ifa.ifa_family = AF_INET6;
	r.ifa.ifa_prefixlen = 128;
	r.ifa.ifa_index = if_nametoindex(ifname);
	nlreq_attr(&r, IFA_LOCAL, &in, sizeof(in));
	nlreq_attr(&r, IFA_FLAGS, &flags, sizeof(flags));
	nlreq_attr(&r, IFA_PROTO, &proto, 1);
	assert_int_equal(send(fd, &r, r.h.nlmsg_len, 0), r.h.nlmsg_len);
	assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
	e = NLMSG_DATA((struct nlmsghdr *)buf);
	assert_int_equal(e->error, 0);
	close(fd);
}

/* The protocol of a's IPv6 address in one dump message, or -1. */
static int
proto_in(struct nlmsghdr *h, const struct in6_addr *in)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *rta = IFA_RTA(ifa);
	int len = (int)IFA_PAYLOAD(h), proto = 0;
	bool match = false;

	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET6)
		return -1;
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_ADDRESS &&
		    memcmp(RTA_DATA(rta), in, sizeof(*in)) == 0)
			match = true;
		if (rta->rta_type == IFA_PROTO)
			proto = *(uint8_t *)RTA_DATA(rta);
	}
	return match ? proto : -1;
}

/* The protocol the kernel keeps for IPv6 address a, or -1. */
static int
addr6_proto(const char *a)
{
	struct nlreq r = { 0 };
	struct in6_addr in;
	static uint8_t buf[64 * 1024];
	struct nlmsghdr *h;
	int fd = nl_open(), proto = -1, p;
	ssize_t n;
	bool done = false;

	assert_int_equal(inet_pton(AF_INET6, a, &in), 1);
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(r.ifa));
	r.h.nlmsg_type = RTM_GETADDR;
	r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.ifa.ifa_family = AF_INET6;
	assert_int_equal(send(fd, &r, r.h.nlmsg_len, 0), r.h.nlmsg_len);
	while (!done && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR)
				done = true;
			else if ((p = proto_in(h, &in)) >= 0)
				proto = p;
		}
	}
	close(fd);
	return proto;
}

/* "inet6 A/128 scope global nodad dynamic" appears in ip -o addr. */
static int
kiwi_addr6_shown(const char *a)
{
	char needle[128];

	snprintf(needle, sizeof(needle),
	    "inet6 %s/128 scope global nodad dynamic", a);
	return strstr(addrs(), needle) != NULL &&
	    addr6_proto(a) == KIWI_IFA_PROTO;
}

static void
rule_line(char *buf, size_t len, const char *a, const char *proto, int port)
{
	snprintf(buf, len,
	    "-A KUBE-PUBLIC -d %s/%d -p %s -m %s --dport %d"
	    " -j MARK --set-xmark 0x%x/0xffffffff",
	    a, is6(a) ? 128 : 32, proto, proto, port, MARK);
}

static int
rule_shown(const char *a, const char *proto, int port)
{
	char line[512];

	rule_line(line, sizeof(line), a, proto, port);
	return has_line(mangle_of(a), line);
}

static int
rules_of(const char *a)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "-A KUBE-PUBLIC -d %s/%d ", a,
	    is6(a) ? 128 : 32);
	return count(mangle_of(a), needle);
}

/*
 * The chain exists in m and PREROUTING jumps to it exactly once, for
 * traffic to the one range of m's family.
 */
static int
chain_in(const char *m, const char *range)
{
	char jump[128];

	snprintf(
	    jump, sizeof(jump), "-A PREROUTING -d %s -j KUBE-PUBLIC", range);
	return has_line(m, ":KUBE-PUBLIC - [0:0]") && has_line(m, jump) &&
	    count(m, "-j KUBE-PUBLIC\n") == 1;
}

/* In both tables. */
static int
chain_ready(void)
{
	return chain_in(mangle(), RANGE) && chain_in(mangle6(), RANGE6);
}

static int
chain_gone(void)
{
	return strstr(mangle(), "KUBE-PUBLIC") == NULL &&
	    strstr(mangle6(), "KUBE-PUBLIC") == NULL;
}

/* Poll cond until it holds or the deadline passes. */
#define EVENTUALLY(cond)                                                       \
	do {                                                                   \
		int64_t until_ = now_ms() + DEADLINE_MS;                       \
		while (!(cond) && now_ms() < until_)                           \
			usleep(20 * 1000);                                     \
		if (!(cond))                                                   \
			fail_msg("still not true after %d ms: %s",             \
			    DEADLINE_MS, #cond);                               \
	} while (0)

/* ---- the netagent as a child ---- */

static void
child(int sup, int claimer, int lock_fd)
{
	struct kiwi_config cfg;
	struct kiwi_user u;

	config_defaults(&cfg);
	snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", ifname);
	snprintf(cfg.label, sizeof(cfg.label), "%s:kube", ifname);
	if (cidr_parse(RANGE, &cfg.cidrs[0]) < 0 ||
	    cidr_parse(RANGE6, &cfg.cidrs[1]) < 0)
		_exit(2);
	cfg.ncidrs = 2;
	cfg.mark = MARK;
	cfg.max_addresses = max_addresses;
	cfg.ttl = TTL;
	cfg.verbose = 1;
	log_init("netagent", 1);
	if (priv_resolve_user("nobody", true, &u) < 0)
		_exit(2);
	priv_drop(&u, true);
	_exit(netagent_main(&cfg, sup, claimer, lock_fd));
}

/*
 * Fork the netagent.  With by_path, it opens the lock itself through
 * $XTABLES_LOCKFILE instead of getting it open.
 */
static void
agent_fork(bool by_path)
{
	int s[2], c[2], lock_fd = -1;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c), 0);
	if (!by_path)
		assert_true((lock_fd = open(lock_path, O_RDWR)) >= 0);
	assert_true((ag.pid = fork()) >= 0);
	if (ag.pid == 0) {
		close(s[0]);
		close(c[0]);
		if (by_path)
			setenv("XTABLES_LOCKFILE", lock_path, 1);
		child(s[1], c[1], lock_fd);
	}
	close(s[1]);
	close(c[1]);
	if (lock_fd >= 0)
		close(lock_fd);
	ag.sup = s[0];
	ag.claimer = c[0];
}

static void expect_link(int up);
static void vouch(uint32_t ms);

/* Up, told the claimer the link is usable, and vouched for. */
static void
agent_ready(void)
{
	EVENTUALLY(chain_ready());
	expect_link(1);
	vouch(TTL * 1000);
}

static void
agent_start(void)
{
	agent_fork(false);
	agent_ready();
}

/* Wait for the child to exit; its status. */
static int
agent_wait(void)
{
	int64_t until = now_ms() + DEADLINE_MS;
	int st;

	while (waitpid(ag.pid, &st, WNOHANG) == 0) {
		if (now_ms() > until) {
			kill(ag.pid, SIGKILL);
			waitpid(ag.pid, &st, 0);
			fail_msg("netagent did not exit");
		}
		usleep(20 * 1000);
	}
	ag.pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
agent_stop(void)
{
	assert_int_equal(msg_send(ag.sup, MSG_SHUTDOWN, NULL, 0), 0);
	assert_int_equal(agent_wait(), 0);
	close(ag.sup);
	if (ag.claimer >= 0)
		close(ag.claimer);
	EVENTUALLY(chain_gone());
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[1024];

	max_addresses = MAX_ADDRESSES;
	if (ag.pid <= 0)
		return 0;
	/* A test failed: kill the agent, so that the next starts clean. */
	kill(ag.pid, SIGKILL);
	waitpid(ag.pid, NULL, 0);
	ag.pid = 0;
	snprintf(cmd, sizeof(cmd),
	    "{ iptables-legacy -w -t mangle -D PREROUTING -j KUBE-PUBLIC;"
	    " iptables-legacy -w -t mangle -D PREROUTING -d " RANGE
	    " -j KUBE-PUBLIC;"
	    " iptables-legacy -w -t mangle -F KUBE-PUBLIC;"
	    " iptables-legacy -w -t mangle -X KUBE-PUBLIC;"
	    " ip6tables-legacy -w -t mangle -D PREROUTING -j KUBE-PUBLIC;"
	    " ip6tables-legacy -w -t mangle -D PREROUTING -d " RANGE6
	    " -j KUBE-PUBLIC;"
	    " ip6tables-legacy -w -t mangle -F KUBE-PUBLIC;"
	    " ip6tables-legacy -w -t mangle -X KUBE-PUBLIC;"
	    " ip -6 addr flush dev %s scope global;"
	    " ip addr flush dev %s label %s:kube; } 2>/dev/null",
	    ifname, ifname, ifname);
	if (system(cmd) != 0)
		print_message("cleanup after the failure was incomplete\n");
	return 0;
}

/* ---- the claimer's side ---- */

struct claim {
	const char *addr;
	const char *service;
	size_t nrules;
	struct kiwi_rule rules[4];
};

static void
ipset_fill(struct kiwi_ipset *s, const struct claim *c)
{
	ipset_init(s);
	assert_int_equal(addr_parse(c->addr, &s->addr), 0);
	memcpy(s->service, c->service, strlen(c->service));
	s->nrules = c->nrules;
	s->rules = (struct kiwi_rule *)c->rules;
}

static void
send_claim(int fd, const struct claim *c)
{
	struct kiwi_ipset s;

	ipset_fill(&s, c);
	assert_int_equal(msg_send_ipset(fd, MSG_CLAIM, &s), 0);
}

/* The netagent's latest NA_STATS, which may come between any two. */
static struct kiwi_nastats last_stats;
static unsigned int nstats;

/* The next message from the netagent, NA_STATS aside; 1, or 0 at EOF. */
static int
next_msg(int fd, struct kiwi_msg *m, int timeout_ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	int rc;

	for (;;) {
		assert_int_equal(poll(&pfd, 1, timeout_ms), 1);
		rc = msg_recv(fd, m);
		assert_true(rc >= 0);
		if (rc == 0 || m->type != MSG_NA_STATS)
			return rc;
		assert_int_equal(
		    msg_decode_nastats(m->body, m->len, &last_stats), 0);
		nstats++;
	}
}

/* The next message from the netagent, of this type. */
static void
expect_msg(int fd, uint8_t type, struct kiwi_msg *m)
{
	/* Long enough for the netagent to give up on the xtables lock. */
	assert_int_equal(next_msg(fd, m, 2 * DEADLINE_MS), 1);
	assert_string_equal(msg_type_name(m->type), msg_type_name(type));
}

/* The next message is the RESULT for address s; its error. */
static int
result_for(const char *s)
{
	struct kiwi_addr a, want;
	struct kiwi_msg m;
	int err;

	expect_msg(ag.claimer, MSG_RESULT, &m);
	assert_int_equal(msg_decode_result(m.body, m.len, &a, &err), 0);
	assert_int_equal(addr_parse(s, &want), 0);
	assert_true(addr_equal(&a, &want));
	return err;
}

static int
claim(const struct claim *c)
{
	send_claim(ag.claimer, c);
	return result_for(c->addr);
}

static void
release(const char *s)
{
	struct kiwi_addr a;

	assert_int_equal(addr_parse(s, &a), 0);
	assert_int_equal(msg_send_addr(ag.claimer, MSG_RELEASE, &a), 0);
}

/* VOUCH until ms from now, as the claimer says it: a time. */
static void
vouch(uint32_t ms)
{
	assert_int_equal(msg_send_u64(ag.claimer, MSG_VOUCH,
	                     (uint64_t)(now_ms() + (int64_t)ms)),
	    0);
}

/* The next message is LINK with this value. */
static void
expect_link(int up)
{
	struct kiwi_msg m;
	uint32_t v;

	expect_msg(ag.claimer, MSG_LINK, &m);
	assert_int_equal(msg_decode_u32(m.body, m.len, &v), 0);
	assert_int_equal(v, up);
}

/*
 * The next n messages are RESULTs with this error, for the n addresses
 * of want, in any order.
 */
static void
expect_results(const char *const *want, size_t n, int error)
{
	struct kiwi_addr a, w;
	struct kiwi_msg m;
	bool seen[8] = { false };
	size_t i, j;
	int err;

	assert_true(n <= KIWI_ARRAY_SIZE(seen));
	for (i = 0; i < n; i++) {
		expect_msg(ag.claimer, MSG_RESULT, &m);
		assert_int_equal(msg_decode_result(m.body, m.len, &a, &err), 0);
		assert_int_equal(err, error);
		for (j = 0; j < n; j++) {
			assert_int_equal(addr_parse(want[j], &w), 0);
			if (addr_equal(&a, &w) && !seen[j])
				break;
		}
		assert_true(j < n);
		seen[j] = true;
	}
}

/* The netagent closes its end of the claimer's channel. */
static void
expect_claimer_closed(void)
{
	struct kiwi_msg m;

	assert_int_equal(next_msg(ag.claimer, &m, DEADLINE_MS), 0);
}

#define R(p, port)                                                             \
	{                                                                      \
		KIWI_PROTO_##p, port                                           \
	}

static const struct claim web = { "10.50.0.1", "default/web", 3,
	{ R(TCP, 8080), R(UDP, 53), R(SCTP, 9999) } };
static const struct claim web2 = { "10.50.0.1", "default/web", 2,
	{ R(TCP, 443), R(TCP, 8443) } };
static const struct claim api = { "10.50.0.2", "kube-system/api", 1,
	{ R(TCP, 6443) } };

/* ---- the tests ---- */

/* A previous run's address and chain are gone once the agent is up. */
static void
test_sweep(void **state)
{
	(void)state;
	/* As a killed netagent leaves it, lifetimes and all. */
	sh("ip addr add 10.50.7.7/32 dev %s label %s:kube valid_lft 100"
	   " preferred_lft 100",
	    ifname, ifname);
	sh("iptables-legacy -w -t mangle -N KUBE-PUBLIC");
	sh("iptables-legacy -w -t mangle -A KUBE-PUBLIC -d 10.50.7.7/32"
	   " -p tcp -m tcp --dport 80 -j MARK --set-mark 1");
	sh("iptables-legacy -w -t mangle -A PREROUTING -j KUBE-PUBLIC");
	sh("ip addr add 10.50.7.8/32 dev %s label %s:other", ifname, ifname);
	assert_true(kiwi_addr_shown("10.50.7.7"));

	agent_start();
	EVENTUALLY(!addr_shown("10.50.7.7"));
	assert_int_equal(rules_of("10.50.7.7"), 0);
	assert_true(addr_shown("10.99.0.1"));
	assert_true(addr_shown("10.50.7.8"));
	assert_true(has_line(mangle(), UNRELATED_RULE));
	agent_stop();
	assert_true(addr_shown("10.50.7.8"));
	sh("ip addr del 10.50.7.8/32 dev %s", ifname);
}

static void
test_claim_replace_release(void **state)
{
	(void)state;
	agent_start();
	assert_int_equal(claim(&web), 0);
	assert_true(kiwi_addr_shown("10.50.0.1"));
	assert_true(rule_shown("10.50.0.1", "tcp", 8080));
	assert_true(rule_shown("10.50.0.1", "udp", 53));
	assert_true(rule_shown("10.50.0.1", "sctp", 9999));
	assert_int_equal(rules_of("10.50.0.1"), 3);

	assert_int_equal(claim(&api), 0);
	assert_true(kiwi_addr_shown("10.50.0.2"));
	assert_true(rule_shown("10.50.0.2", "tcp", 6443));

	/* A new claim for a held address replaces its rules. */
	assert_int_equal(claim(&web2), 0);
	assert_int_equal(rules_of("10.50.0.1"), 2);
	assert_true(rule_shown("10.50.0.1", "tcp", 443));
	assert_true(rule_shown("10.50.0.1", "tcp", 8443));
	assert_false(rule_shown("10.50.0.1", "tcp", 8080));
	assert_int_equal(rules_of("10.50.0.2"), 1);
	assert_int_equal(count(addrs(), "inet 10.50.0.1/32"), 1);

	release("10.50.0.1");
	EVENTUALLY(!addr_shown("10.50.0.1") && rules_of("10.50.0.1") == 0);
	assert_true(kiwi_addr_shown("10.50.0.2"));
	assert_int_equal(rules_of("10.50.0.2"), 1);
	assert_true(chain_ready());

	/* A RELEASE of what is not held changes nothing. */
	release("10.50.0.77");
	assert_int_equal(claim(&web), 0);
	assert_true(kiwi_addr_shown("10.50.0.2"));

	agent_stop();
	assert_false(addr_shown("10.50.0.1"));
	assert_false(addr_shown("10.50.0.2"));
	assert_true(addr_shown("10.99.0.1"));
	assert_true(has_line(mangle(), UNRELATED_RULE));
}

/* Well-formed claims that make no sense get an error and change nothing. */
static void
test_refusals(void **state)
{
	struct claim c = web;
	const char *before_addrs;
	char *before;

	(void)state;
	agent_start();
	assert_int_equal(claim(&api), 0);
	before = strdup(mangle());
	before_addrs = strdup(addrs());

	c.addr = "10.60.0.1";
	assert_int_equal(claim(&c), -EPERM);
	c.addr = "0.0.0.0";
	assert_int_equal(claim(&c), -EADDRNOTAVAIL);
	c.addr = "127.0.0.1";
	assert_int_equal(claim(&c), -EADDRNOTAVAIL);
	c.addr = "224.0.0.5";
	assert_int_equal(claim(&c), -EADDRNOTAVAIL);
	c.addr = "2001:db8::1";
	assert_int_equal(claim(&c), -EPERM);
	c.addr = "fe80::1";
	assert_int_equal(claim(&c), -EADDRNOTAVAIL);
	c.addr = "::ffff:10.50.0.1";
	assert_int_equal(claim(&c), -EADDRNOTAVAIL);

	c = web;
	c.rules[2] = (struct kiwi_rule)R(TCP, 8080);
	assert_int_equal(claim(&c), -EINVAL);

	assert_string_equal(mangle(), before);
	assert_string_equal(addrs(), before_addrs);
	free(before);
	free((char *)before_addrs);

	/* A refused claim for a held address withdraws it. */
	c = api;
	c.nrules = 2;
	c.rules[1] = c.rules[0];
	assert_int_equal(claim(&c), -EINVAL);
	assert_false(addr_shown("10.50.0.2"));
	assert_int_equal(rules_of("10.50.0.2"), 0);
	agent_stop();
}

/* Read until an NA_STATS with at least these totals came; whether. */
static bool
stats_reach(uint64_t added, uint64_t removed, uint64_t refused)
{
	struct pollfd pfd = { ag.claimer, POLLIN, 0 };
	int64_t until = now_ms() + DEADLINE_MS;
	struct kiwi_msg m;

	while (now_ms() < until) {
		if (last_stats.added >= added &&
		    last_stats.removed >= removed &&
		    last_stats.refused >= refused)
			return true;
		if (poll(&pfd, 1, 100) == 1 && msg_recv(ag.claimer, &m) == 1 &&
		    m.type == MSG_NA_STATS)
			assert_int_equal(
			    msg_decode_nastats(m.body, m.len, &last_stats), 0);
	}
	return false;
}

/*
 * The counters come as NA_STATS: at most one a second, none while
 * nothing changes, and the commit histogram counts every commit.
 */
static void
test_stats(void **state)
{
	struct claim c = web;
	struct pollfd pfd = { ag.claimer, POLLIN, 0 };
	uint64_t n = 0;
	size_t i;

	(void)state;
	memset(&last_stats, 0, sizeof(last_stats));
	agent_start();
	assert_int_equal(claim(&web), 0);
	assert_int_equal(claim(&api), 0);
	c.addr = "10.60.0.1";
	assert_int_equal(claim(&c), -EPERM);
	assert_int_equal(msg_send(ag.claimer, MSG_SHUTDOWN, NULL, 0), 0);
	release(web.addr);
	assert_true(stats_reach(2, 1, 2));
	assert_int_equal(last_stats.added, 2);
	assert_int_equal(last_stats.removed, 1);
	assert_int_equal(last_stats.refused, 2);
	assert_true(last_stats.commits >= 2);
	assert_int_equal(last_stats.failures, 0);
	for (i = 0; i <= KIWI_COMMIT_BUCKETS; i++)
		n += last_stats.bucket[i];
	assert_int_equal(n, last_stats.commits);
	assert_true(last_stats.commit_us > 0);
	/* Nothing changes: nothing more is sent. */
	assert_int_equal(poll(&pfd, 1, 1500), 0);
	agent_stop();
}

/* Messages from the wrong peer are refused; the agent carries on. */
static void
test_wrong_sender(void **state)
{
	(void)state;
	agent_start();
	send_claim(ag.sup, &web);
	assert_int_equal(msg_send(ag.claimer, MSG_SHUTDOWN, NULL, 0), 0);
	assert_int_equal(
	    msg_send(ag.claimer, MSG_RELEASE_ALL_DONE, NULL, 0), 0);
	assert_int_equal(msg_send(ag.sup, MSG_RELEASE_ALL, NULL, 0), 0);

	/* Still serving the claimer, and the sup's CLAIM did nothing. */
	assert_int_equal(claim(&api), 0);
	assert_false(addr_shown("10.50.0.1"));
	assert_int_equal(rules_of("10.50.0.1"), 0);
	assert_true(kiwi_addr_shown("10.50.0.2"));
	agent_stop();
}

static void
test_cap(void **state)
{
	struct claim c = api;

	(void)state;
	agent_start();
	c.addr = "10.50.1.1";
	assert_int_equal(claim(&c), 0);
	c.addr = "10.50.1.2";
	assert_int_equal(claim(&c), 0);
	c.addr = "10.50.1.3";
	assert_int_equal(claim(&c), 0);
	c.addr = "10.50.1.4";
	assert_int_equal(claim(&c), -ENOSPC);
	assert_false(addr_shown("10.50.1.4"));
	assert_int_equal(rules_of("10.50.1.4"), 0);
	/* A held address may still change its rules. */
	c.addr = "10.50.1.3";
	c.rules[0].port = 7;
	assert_int_equal(claim(&c), 0);
	assert_true(rule_shown("10.50.1.3", "tcp", 7));

	/* RELEASE_ALL empties it, and there is room again. */
	assert_int_equal(msg_send(ag.claimer, MSG_RELEASE_ALL, NULL, 0), 0);
	{
		struct kiwi_msg m;

		expect_msg(ag.claimer, MSG_RELEASE_ALL_DONE, &m);
	}
	assert_false(addr_shown("10.50.1.1"));
	assert_int_equal(count(mangle(), "-A KUBE-PUBLIC"), 0);
	c.addr = "10.50.1.4";
	assert_int_equal(claim(&c), 0);
	agent_stop();
}

/* An address someone else configured is not kiwi's to take or remove. */
static void
test_foreign_address(void **state)
{
	struct claim c = api;

	(void)state;
	sh("ip addr add 10.50.9.9/32 dev %s", ifname);
	agent_start();
	c.addr = "10.50.9.9";
	assert_int_equal(claim(&c), -EEXIST);
	assert_int_equal(rules_of("10.50.9.9"), 0);
	release("10.50.9.9");
	assert_int_equal(claim(&api), 0); /* the RELEASE was read */
	assert_true(addr_shown("10.50.9.9"));
	agent_stop();
	assert_true(addr_shown("10.50.9.9"));
	assert_false(kiwi_addr_shown("10.50.9.9"));
	sh("ip addr del 10.50.9.9/32 dev %s", ifname);
}

/* The claimer going away withdraws everything it claimed. */
static void
test_claimer_eof(void **state)
{
	(void)state;
	agent_start();
	assert_int_equal(claim(&web), 0);
	assert_int_equal(claim(&api), 0);
	close(ag.claimer);
	ag.claimer = -1;
	EVENTUALLY(!addr_shown("10.50.0.1") && !addr_shown("10.50.0.2"));
	EVENTUALLY(count(mangle(), "-A KUBE-PUBLIC") == 0);
	assert_true(chain_ready());
	agent_stop();
}

static void
test_sup_eof(void **state)
{
	(void)state;
	agent_start();
	assert_int_equal(claim(&web), 0);
	close(ag.sup);
	assert_int_equal(agent_wait(), 0);
	close(ag.claimer);
	assert_false(addr_shown("10.50.0.1"));
	assert_true(chain_gone());
	assert_true(addr_shown("10.99.0.1"));
}

/*
 * A claimer that sends many claims before it reads any answer: the
 * netagent keeps reading while its replies wait, so neither side ends
 * up waiting for the other.
 */
static void
test_unread_replies(void **state)
{
	struct timeval tv = { DEADLINE_MS / 1000, 0 };
	struct kiwi_ipset s;
	struct kiwi_msg m;
	struct kiwi_addr a;
	int i, err, n = 5000;

	(void)state;
	agent_start();
	assert_int_equal(
	    setsockopt(ag.claimer, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)),
	    0);
	ipset_fill(&s, &api);
	for (i = 0; i < n; i++)
		assert_int_equal(msg_send_ipset(ag.claimer, MSG_CLAIM, &s), 0);
	for (i = 0; i < n; i++) {
		expect_msg(ag.claimer, MSG_RESULT, &m);
		assert_int_equal(msg_decode_result(m.body, m.len, &a, &err), 0);
		assert_int_equal(err, 0);
	}
	assert_int_equal(rules_of("10.50.0.2"), 1);
	agent_stop();
}

static int
lock_take(void)
{
	int fd;

	assert_true((fd = open(lock_path, O_RDWR)) >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	return fd;
}

/* While iptables holds the lock, the netagent waits, then answers. */
static void
claim_behind_lock(void)
{
	struct pollfd pfd = { ag.claimer, POLLIN, 0 };
	int fd;

	fd = lock_take();
	send_claim(ag.claimer, &web);
	assert_int_equal(poll(&pfd, 1, 500), 0);
	assert_int_equal(rules_of("10.50.0.1"), 0);
	close(fd);
	assert_int_equal(result_for(web.addr), 0);
	assert_int_equal(rules_of("10.50.0.1"), 3);
}

static void
test_lock_wait(void **state)
{
	(void)state;
	agent_start();
	claim_behind_lock();
	agent_stop();
}

/*
 * A lock that never comes fails the CLAIM, since its rules are not in
 * place, and the address is withdrawn: an error means "not held".
 */
static void
test_lock_timeout(void **state)
{
	int fd;

	(void)state;
	agent_start();
	assert_int_equal(claim(&api), 0);
	fd = lock_take();
	assert_int_equal(claim(&web), -ETIMEDOUT);
	assert_false(addr_shown("10.50.0.1"));
	assert_int_equal(rules_of("10.50.0.1"), 0);
	close(fd);

	/* The rest stays in place, and a new claim works. */
	assert_int_equal(rules_of("10.50.0.2"), 1);
	assert_true(kiwi_addr_shown("10.50.0.2"));
	assert_int_equal(claim(&web), 0);
	assert_int_equal(rules_of("10.50.0.1"), 3);
	agent_stop();
}

/* Without an open lock, the netagent opens $XTABLES_LOCKFILE itself. */
static void
test_lock_by_path(void **state)
{
	(void)state;
	assert_int_equal(chmod(lock_path, 0666), 0);
	agent_fork(true);
	agent_ready();
	claim_behind_lock();
	agent_stop();
	assert_int_equal(chmod(lock_path, 0600), 0);
}

/* A lock it cannot open, as an unprivileged user: it says so, exits 1. */
static void
test_lock_unopenable(void **state)
{
	(void)state;
	assert_int_equal(chmod(lock_path, 0600), 0);
	agent_fork(true);
	assert_int_equal(agent_wait(), 1);
	close(ag.sup);
	close(ag.claimer);
	assert_true(chain_gone());
}

/*
 * A malformed frame from the claimer ends that peer: its end closes,
 * its claims are withdrawn, and the agent stays up for the supervisor.
 */
static void
malformed(const void *frame, size_t len)
{
	agent_start();
	assert_int_equal(claim(&web), 0);
	assert_int_equal(
	    send(ag.claimer, frame, len, MSG_NOSIGNAL), (ssize_t)len);
	expect_claimer_closed();
	EVENTUALLY(!addr_shown("10.50.0.1") && rules_of("10.50.0.1") == 0);
	assert_true(chain_ready());
	agent_stop();
}

/* A header for a body of len bytes, which the caller may lie about. */
static void
frame_hdr(uint8_t *buf, uint8_t type, uint32_t len)
{
	memset(buf, 0, KIWI_MSG_HDRLEN);
	buf[0] = KIWI_MSG_VERSION;
	buf[1] = type;
	memcpy(buf + 4, &len, 4);
}

/* A CLAIM frame for web with one field forged. */
static size_t
forged(uint8_t *buf, size_t cap, void (*forge)(struct claim *))
{
	struct claim c = web;
	struct kiwi_ipset s;
	ssize_t n;

	forge(&c);
	ipset_fill(&s, &c);
	n = msg_encode_ipset(&s, buf + KIWI_MSG_HDRLEN, cap - KIWI_MSG_HDRLEN);
	assert_true(n > 0);
	frame_hdr(buf, MSG_CLAIM, (uint32_t)n);
	return KIWI_MSG_HDRLEN + (size_t)n;
}

static void
port0(struct claim *c)
{
	c->rules[1].port = 0;
}

static void
proto1(struct claim *c)
{
	c->rules[0].proto = 1;
}

static void
bad_service(struct claim *c)
{
	c->service = "default/web; rm";
}

static void
test_malformed_port0(void **state)
{
	uint8_t buf[4096];

	(void)state;
	malformed(buf, forged(buf, sizeof(buf), port0));
}

static void
test_malformed_proto(void **state)
{
	uint8_t buf[4096];

	(void)state;
	malformed(buf, forged(buf, sizeof(buf), proto1));
}

static void
test_malformed_service(void **state)
{
	uint8_t buf[4096];

	(void)state;
	malformed(buf, forged(buf, sizeof(buf), bad_service));
}

static void
test_malformed_oversize(void **state)
{
	size_t n = KIWI_MSG_MAX + 4096;
	uint8_t *buf = calloc(1, n);

	(void)state;
	assert_non_null(buf);
	frame_hdr(buf, MSG_CLAIM, (uint32_t)(n - KIWI_MSG_HDRLEN));
	malformed(buf, n);
	free(buf);
}

/* The header promises a whole CLAIM; only part of it comes. */
static void
test_malformed_truncated(void **state)
{
	uint8_t buf[4096];

	(void)state;
	forged(buf, sizeof(buf), port0);
	frame_hdr(buf, MSG_CLAIM, KIWI_IPSET_WIRELEN + 3 * KIWI_RULE_WIRELEN);
	malformed(buf, KIWI_MSG_HDRLEN + 40);
}

/* A frame that is whole but whose body is too short for a CLAIM. */
static void
test_malformed_short_body(void **state)
{
	uint8_t buf[KIWI_MSG_HDRLEN + 100];

	(void)state;
	memset(buf, 0, sizeof(buf));
	frame_hdr(buf, MSG_CLAIM, 100);
	buf[KIWI_MSG_HDRLEN] = 4;
	malformed(buf, sizeof(buf));
}

static void
test_malformed_release_all(void **state)
{
	uint8_t buf[KIWI_MSG_HDRLEN + 4];

	(void)state;
	memset(buf, 0, sizeof(buf));
	frame_hdr(buf, MSG_RELEASE_ALL, 4);
	malformed(buf, sizeof(buf));
}

static void
test_malformed_version(void **state)
{
	uint8_t buf[KIWI_MSG_HDRLEN];

	(void)state;
	frame_hdr(buf, MSG_RELEASE_ALL, 0);
	buf[0] = KIWI_MSG_VERSION + 1;
	malformed(buf, sizeof(buf));
}

static const char *const both[] = { "10.50.0.1", "10.50.0.2" };
static const char *const api_only[] = { "10.50.0.2" };

/* Forked and told the link is up, but not vouched for. */
static void
agent_unvouched(void)
{
	agent_fork(false);
	EVENTUALLY(chain_ready());
	expect_link(1);
}

/* Without a new VOUCH in time, everything is withdrawn by itself. */
static void
test_vouch_expiry(void **state)
{
	int64_t t0;

	(void)state;
	agent_start();
	assert_int_equal(claim(&web), 0);
	assert_int_equal(claim(&api), 0);
	t0 = now_ms();
	vouch(1500);
	expect_results(both, 2, -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 1400);
	assert_false(addr_shown("10.50.0.1"));
	assert_false(addr_shown("10.50.0.2"));
	assert_int_equal(count(mangle(), "-A KUBE-PUBLIC"), 0);
	assert_true(chain_ready());

	/* Refused until the claimer vouches again. */
	assert_int_equal(claim(&web), -ETIMEDOUT);
	assert_false(addr_shown("10.50.0.1"));
	vouch(TTL * 1000);
	assert_int_equal(claim(&web), 0);
	assert_true(kiwi_addr_shown("10.50.0.1"));
	agent_stop();
}

/*
 * A VOUCH that waited in the socket while the netagent was stopped
 * counts from when the claimer sent it, not from when it is read: one
 * that ran out meanwhile vouches for nothing.
 */
static void
test_vouch_stale(void **state)
{
	int64_t t0;

	(void)state;
	agent_unvouched();
	vouch(4000);
	assert_int_equal(claim(&api), 0);
	assert_int_equal(kill(ag.pid, SIGSTOP), 0);
	vouch(1000);
	usleep(1500 * 1000);
	assert_true(kiwi_addr_shown("10.50.0.2")); /* the kernel's 3 s */
	t0 = now_ms();
	assert_int_equal(kill(ag.pid, SIGCONT), 0);
	assert_int_equal(result_for("10.50.0.2"), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 500);
	assert_false(addr_shown("10.50.0.2"));
	agent_stop();
}

static void
test_claim_unvouched(void **state)
{
	(void)state;
	agent_unvouched();
	assert_int_equal(claim(&web), -ETIMEDOUT);
	assert_false(addr_shown("10.50.0.1"));
	assert_int_equal(rules_of("10.50.0.1"), 0);
	/* A VOUCH of 0 ms vouches for nothing. */
	vouch(0);
	assert_int_equal(claim(&web), -ETIMEDOUT);
	vouch(TTL * 1000);
	assert_int_equal(claim(&web), 0);
	agent_stop();
}

/* The kernel's lifetime follows the vouch, capped under the TTL. */
static void
test_lifetimes(void **state)
{
	int lft;

	(void)state;
	agent_unvouched();
	vouch(5500);
	assert_int_equal(claim(&api), 0);
	lft = valid_lft("10.50.0.2");
	assert_in_range(lft, 4, 5);
	assert_non_null(strstr(addrs(), "preferred_lft 5sec"));

	/* A VOUCH renews it, never beyond the TTL whatever it says. */
	sleep(2);
	assert_in_range(valid_lft("10.50.0.2"), 2, 3);
	vouch(600 * 1000);
	EVENTUALLY(valid_lft("10.50.0.2") >= TTL - 2);
	assert_true(valid_lft("10.50.0.2") <= TTL - 1);
	assert_true(kiwi_addr_shown("10.50.0.2"));
	assert_int_equal(rules_of("10.50.0.2"), 1);
	agent_stop();
}

static void
many_addr(char *buf, size_t len, int i)
{
	snprintf(buf, len, "10.50.%d.%d", 10 + i / 200, 1 + i % 200);
}

/*
 * Lifetimes are renewed a chunk at a time while held changes: with
 * RENEW_MANY held and a third released as the VOUCH's round runs,
 * every address left gets the new lifetime, none is skipped.
 */
static void
test_renew_many(void **state)
{
	struct claim c = api;
	char a[32];
	int i, left = RENEW_MANY - (RENEW_MANY + 2) / 3;

	(void)state;
	max_addresses = RENEW_MANY;
	agent_unvouched();
	vouch(20 * 1000);
	for (i = 0; i < RENEW_MANY; i++) {
		many_addr(a, sizeof(a), i);
		c.addr = a;
		send_claim(ag.claimer, &c);
	}
	for (i = 0; i < RENEW_MANY; i++) {
		many_addr(a, sizeof(a), i);
		assert_int_equal(result_for(a), 0);
	}
	assert_int_equal(lifetimes_at_least(21), 0);
	vouch(TTL * 1000);
	for (i = 0; i < RENEW_MANY; i += 3) {
		many_addr(a, sizeof(a), i);
		release(a);
		usleep(100);
	}
	EVENTUALLY(count(addrs(), ":kube") == left);
	EVENTUALLY(lifetimes_at_least(TTL - 2) == left);
	agent_stop();
	max_addresses = MAX_ADDRESSES;
}

/* Wait until the kernel drops a by itself; ms since t0. */
static int64_t
dropped_after(const char *a, int64_t t0, int64_t limit)
{
	while (addr_shown(a) && now_ms() - t0 < limit)
		usleep(20 * 1000);
	assert_false(addr_shown(a));
	return now_ms() - t0;
}

/*
 * A frozen netagent loses its address to the kernel within the
 * lifetime (2 s here) and a second; woken, it knows its vouch lapsed.
 */
static void
test_frozen(void **state)
{
	int64_t t0;

	(void)state;
	agent_unvouched();
	vouch(2900);
	t0 = now_ms();
	assert_int_equal(claim(&api), 0);
	assert_in_range(valid_lft("10.50.0.2"), 1, 2);
	assert_int_equal(kill(ag.pid, SIGSTOP), 0);
	assert_true(dropped_after("10.50.0.2", t0, 3000 + 300) >= 1800);
	assert_int_equal(kill(ag.pid, SIGCONT), 0);
	expect_results(api_only, 1, -ETIMEDOUT);
	EVENTUALLY(rules_of("10.50.0.2") == 0);
	agent_stop();
}

/*
 * A killed netagent's address goes the same way; its rules stay until
 * the next start sweeps them.
 */
static void
test_killed(void **state)
{
	int64_t t0;

	(void)state;
	agent_unvouched();
	vouch(2500);
	t0 = now_ms();
	assert_int_equal(claim(&api), 0);
	assert_int_equal(kill(ag.pid, SIGKILL), 0);
	waitpid(ag.pid, NULL, 0);
	ag.pid = 0;
	close(ag.sup);
	close(ag.claimer);
	assert_true(dropped_after("10.50.0.2", t0, 3000 + 300) >= 1800);
	assert_int_equal(rules_of("10.50.0.2"), 1);
	agent_start();
	assert_int_equal(rules_of("10.50.0.2"), 0);
	agent_stop();
}

/*
 * down loses the link: LINK 0, every claim withdrawn with -ENETDOWN,
 * new ones refused; up brings LINK 1 and claims work again.
 */
static void
link_cycle(const char *down, const char *up)
{
	agent_start();
	assert_int_equal(claim(&web), 0);
	assert_int_equal(claim(&api), 0);
	sh("%s", down);
	expect_link(0);
	expect_results(both, 2, -ENETDOWN);
	assert_false(addr_shown("10.50.0.1"));
	assert_false(addr_shown("10.50.0.2"));
	assert_int_equal(count(mangle(), "-A KUBE-PUBLIC"), 0);
	assert_int_equal(claim(&web), -ENETDOWN);
	assert_false(addr_shown("10.50.0.1"));

	sh("%s", up);
	expect_link(1);
	assert_int_equal(claim(&web), 0);
	assert_true(kiwi_addr_shown("10.50.0.1"));
	assert_int_equal(rules_of("10.50.0.1"), 3);
	agent_stop();
}

/* dev down and up again. */
static void
link_cycle_dev(const char *dev)
{
	char down[128], up[128];

	snprintf(down, sizeof(down), "ip link set dev %s down", dev);
	snprintf(up, sizeof(up), "ip link set dev %s up", dev);
	link_cycle(down, up);
}

static void
test_link_down(void **state)
{
	(void)state;
	link_cycle_dev(ifname);
}

/* The peer going down takes the carrier. */
static void
test_carrier_loss(void **state)
{
	(void)state;
	link_cycle_dev(peername);
}

/* Deleted and made again, under a new index. */
static void
test_link_recreate(void **state)
{
	char down[128], up[512];
	unsigned int before = if_nametoindex(ifname);

	(void)state;
	snprintf(down, sizeof(down), "ip link del %s", ifname);
	snprintf(up, sizeof(up),
	    "ip link add %s type veth peer name %s && ip link set %s up &&"
	    " ip link set %s up && ip addr add 10.99.0.1/24 dev %s",
	    ifname, peername, ifname, peername, ifname);
	link_cycle(down, up);
	assert_int_not_equal(if_nametoindex(ifname), before);
}

/* A packet socket on the peer that sees every frame of proto. */
static int
capture_open(uint16_t proto)
{
	struct sockaddr_ll sll = { 0 };
	int fd;

	assert_true((fd = socket(AF_PACKET, SOCK_RAW, htons(proto))) >= 0);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = (int)if_nametoindex(peername);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

static void
hwaddr(const char *dev, uint8_t mac[ETH_ALEN])
{
	const char *s = run("cat /sys/class/net/%s/address", dev);

	assert_int_equal(sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0],
	                     &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]),
	    6);
}

/*
 * The times (ms since t0) of the frames on fd within ms that match,
 * at most max of them; how many.
 */
static int
capture(int fd, int64_t t0, int ms, bool (*match)(const uint8_t *, size_t),
    int64_t *at, int max)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	uint8_t f[2048];
	ssize_t len;
	int n = 0;

	while (n < max && now_ms() - t0 < ms) {
		if (poll(&pfd, 1, (int)(ms - (now_ms() - t0))) <= 0)
			continue;
		if ((len = recv(fd, f, sizeof(f), 0)) > 0 &&
		    match(f, (size_t)len))
			at[n++] = now_ms() - t0;
	}
	return n;
}

static uint8_t want_mac[ETH_ALEN];
static uint8_t want_ip[16];
static const uint8_t bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* An Ethernet-broadcast ARP request, sender and target want_ip. */
static bool
is_garp(const uint8_t *f, size_t n)
{
	static const uint8_t arp[] = { 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1 };

	return n >= 42 && memcmp(f, bcast, 6) == 0 &&
	    memcmp(f + 6, want_mac, 6) == 0 &&
	    memcmp(f + 12, arp, sizeof(arp)) == 0 &&
	    memcmp(f + 22, want_mac, 6) == 0 &&
	    memcmp(f + 28, want_ip, 4) == 0 && memcmp(f + 38, want_ip, 4) == 0;
}

/* Three announcements, spaced over about a second, and no more. */
static void
expect_announced(int fd, int64_t t0, bool (*match)(const uint8_t *, size_t))
{
	int64_t at[4] = { 0 };

	assert_int_equal(capture(fd, t0, 2500, match, at, 4), 3);
	assert_true(at[0] < 500);
	assert_true(at[2] - at[0] >= 800);
}

static void
test_garp(void **state)
{
	struct claim c = web;
	int64_t at[1];
	int fd;

	(void)state;
	agent_start();
	hwaddr(ifname, want_mac);
	assert_int_equal(inet_pton(AF_INET, api.addr, want_ip), 1);
	fd = capture_open(ETH_P_ARP);
	assert_int_equal(claim(&api), 0);
	expect_announced(fd, now_ms(), is_garp);

	/* A new claim for what is held changes rules, announces nothing. */
	c.addr = api.addr;
	assert_int_equal(claim(&c), 0);
	assert_int_equal(capture(fd, now_ms(), 500, is_garp, at, 1), 0);
	close(fd);
	agent_stop();
}

static const struct claim web6 = { "2001:db8:50::1", "default/web6", 2,
	{ R(TCP, 8080), R(UDP, 53) } };

/* An IPv6 claim: /128 without DAD, marked as kiwi's, rules in ip6tables. */
static void
test_ipv6(void **state)
{
	(void)state;
	agent_start();
	assert_int_equal(claim(&web6), 0);
	assert_true(kiwi_addr6_shown("2001:db8:50::1"));
	assert_in_range(valid_lft("2001:db8:50::1"), TTL - 3, TTL - 1);
	assert_true(rule_shown("2001:db8:50::1", "tcp", 8080));
	assert_true(rule_shown("2001:db8:50::1", "udp", 53));

	/* Dual stack: each table holds only its own family's rules. */
	assert_int_equal(claim(&api), 0);
	assert_int_equal(count(mangle(), "-A KUBE-PUBLIC"), 1);
	assert_int_equal(count(mangle6(), "-A KUBE-PUBLIC"), 2);

	/* A VOUCH renews IPv6 lifetimes too. */
	vouch(5500);
	EVENTUALLY(valid_lft("2001:db8:50::1") <= 5);
	assert_true(kiwi_addr6_shown("2001:db8:50::1"));

	release("2001:db8:50::1");
	EVENTUALLY(
	    !addr_shown("2001:db8:50::1") && rules_of("2001:db8:50::1") == 0);
	assert_int_equal(rules_of("10.50.0.2"), 1);
	assert_true(chain_ready());
	agent_stop();
	assert_false(addr_shown("10.50.0.2"));
}

/*
 * A leftover IPv6 address marked as kiwi's and a leftover ip6tables
 * chain are swept; an IPv6 address without the mark is left alone and
 * cannot be claimed.
 */
static void
test_ipv6_sweep(void **state)
{
	struct claim c = web6;

	(void)state;
	addr6_add_raw("2001:db8:50::7", KIWI_IFA_PROTO);
	addr6_add_raw("2001:db8:50::8", 42);
	sh("ip addr add 2001:db8:50::9/128 dev %s nodad", ifname);
	sh("ip6tables-legacy -w -t mangle -N KUBE-PUBLIC");
	sh("ip6tables-legacy -w -t mangle -A KUBE-PUBLIC -d 2001:db8:50::7"
	   " -p tcp -m tcp --dport 80 -j MARK --set-mark 1");
	sh("ip6tables-legacy -w -t mangle -A PREROUTING -j KUBE-PUBLIC");
	assert_int_equal(addr6_proto("2001:db8:50::7"), KIWI_IFA_PROTO);

	agent_start();
	assert_false(addr_shown("2001:db8:50::7"));
	assert_int_equal(rules_of("2001:db8:50::7"), 0);
	assert_true(addr_shown("2001:db8:50::8"));
	assert_true(addr_shown("2001:db8:50::9"));
	c.addr = "2001:db8:50::9";
	assert_int_equal(claim(&c), -EEXIST);
	assert_int_equal(rules_of("2001:db8:50::9"), 0);
	agent_stop();
	assert_true(addr_shown("2001:db8:50::8"));
	assert_true(addr_shown("2001:db8:50::9"));
	sh("ip addr del 2001:db8:50::8/128 dev %s", ifname);
	sh("ip addr del 2001:db8:50::9/128 dev %s", ifname);
}

/*
 * An unsolicited neighbour advertisement to ff02::1 from the address,
 * hop limit 255, Override set, with the target link-layer address.
 */
static bool
is_una(const uint8_t *f, size_t n)
{
	static const uint8_t mcast[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	const uint8_t *ip6 = f + 14, *icmp = f + 54;
	struct in6_addr all;

	inet_pton(AF_INET6, "ff02::1", &all);
	return n >= 86 && memcmp(f, mcast, 6) == 0 &&
	    memcmp(f + 6, want_mac, 6) == 0 && f[12] == 0x86 && f[13] == 0xdd &&
	    ip6[6] == IPPROTO_ICMPV6 && ip6[7] == 255 &&
	    memcmp(ip6 + 8, want_ip, 16) == 0 &&
	    memcmp(ip6 + 24, &all, 16) == 0 && icmp[0] == 136 && icmp[1] == 0 &&
	    icmp[4] == 0x20 && memcmp(icmp + 8, want_ip, 16) == 0 &&
	    icmp[24] == 2 && icmp[25] == 1 &&
	    memcmp(icmp + 26, want_mac, 6) == 0;
}

static void
test_una(void **state)
{
	int fd;

	(void)state;
	agent_start();
	hwaddr(ifname, want_mac);
	assert_int_equal(inet_pton(AF_INET6, web6.addr, want_ip), 1);
	fd = capture_open(ETH_P_IPV6);
	assert_int_equal(claim(&web6), 0);
	expect_announced(fd, now_ms(), is_una);
	close(fd);
	agent_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_sweep, teardown),
		cmocka_unit_test_teardown(test_renew_many, teardown),
		cmocka_unit_test_teardown(test_vouch_stale, teardown),
		cmocka_unit_test_teardown(test_claim_replace_release, teardown),
		cmocka_unit_test_teardown(test_refusals, teardown),
		cmocka_unit_test_teardown(test_wrong_sender, teardown),
		cmocka_unit_test_teardown(test_stats, teardown),
		cmocka_unit_test_teardown(test_cap, teardown),
		cmocka_unit_test_teardown(test_foreign_address, teardown),
		cmocka_unit_test_teardown(test_claimer_eof, teardown),
		cmocka_unit_test_teardown(test_sup_eof, teardown),
		cmocka_unit_test_teardown(test_malformed_port0, teardown),
		cmocka_unit_test_teardown(test_malformed_proto, teardown),
		cmocka_unit_test_teardown(test_malformed_service, teardown),
		cmocka_unit_test_teardown(test_malformed_oversize, teardown),
		cmocka_unit_test_teardown(test_malformed_truncated, teardown),
		cmocka_unit_test_teardown(test_malformed_short_body, teardown),
		cmocka_unit_test_teardown(test_malformed_release_all, teardown),
		cmocka_unit_test_teardown(test_malformed_version, teardown),
		cmocka_unit_test_teardown(test_unread_replies, teardown),
		cmocka_unit_test_teardown(test_lock_wait, teardown),
		cmocka_unit_test_teardown(test_lock_by_path, teardown),
		cmocka_unit_test_teardown(test_lock_unopenable, teardown),
		cmocka_unit_test_teardown(test_lock_timeout, teardown),
		cmocka_unit_test_teardown(test_vouch_expiry, teardown),
		cmocka_unit_test_teardown(test_claim_unvouched, teardown),
		cmocka_unit_test_teardown(test_lifetimes, teardown),
		cmocka_unit_test_teardown(test_frozen, teardown),
		cmocka_unit_test_teardown(test_killed, teardown),
		cmocka_unit_test_teardown(test_link_down, teardown),
		cmocka_unit_test_teardown(test_carrier_loss, teardown),
		cmocka_unit_test_teardown(test_link_recreate, teardown),
		cmocka_unit_test_teardown(test_garp, teardown),
		cmocka_unit_test_teardown(test_ipv6, teardown),
		cmocka_unit_test_teardown(test_ipv6_sweep, teardown),
		cmocka_unit_test_teardown(test_una, teardown),
	};
	int fd, rc;

	ifname = getenv("KIWI_TEST_IF");
	peername = getenv("KIWI_TEST_PEER");
	if (ifname == NULL || peername == NULL) {
		fprintf(stderr,
		    "KIWI_TEST_IF and KIWI_TEST_PEER name the veth"
		    " pair to use\n");
		return 2;
	}
	/* Owned by root; the child gets it open, as from the supervisor. */
	if ((fd = mkstemp(lock_path)) < 0) {
		perror("mkstemp");
		return 2;
	}
	close(fd);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(lock_path);
	return rc;
}
