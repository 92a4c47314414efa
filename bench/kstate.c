/*
 * Watches what kiwi put in the kernel of the namespace it runs in, for
 * the benchmarks.
 *
 *	kstate INTERVAL_US PREFIX [CHAIN]
 *
 * It keeps, for every address inside PREFIX (such as 198.18.0.0/15),
 * whether it is on an interface and how many rules of the mangle chain
 * CHAIN (default KUBE-PUBLIC) match it as destination, and prints a
 * line when that changes:
 *
 *	<ms since the epoch> <address> <0|1> <rules>
 *	<ms since the epoch> total <addresses> <rules>
 *
 * the second whenever a total changes.  The time is when the change
 * was seen, with microseconds, so that it compares with the fixture's
 * --event-log.  Runs until SIGTERM.
 *
 * The sampler shares the CPUs with what it measures, so it must cost
 * little when nothing changes, even with 10,000 addresses and 20,000
 * rules: addresses come from rtnetlink's notifications (one dump at
 * the start and after an overflow), and the table is read through
 * libiptc only when its entry count or size, which one cheap
 * IPT_SO_GET_INFO reports, changed since the last read; that check
 * runs every INTERVAL_US.  A replace that keeps both the same (one
 * rule swapped for another of the same size) is missed until the next
 * change; kiwi's benchmarks never make one.
 */
#include <errno.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PREFIX_MIN 12 /* the state is an array over the prefix */

struct ipstate {
	uint8_t addr, rep_addr;
	uint16_t rules, rep_rules;
	uint8_t dirty;
};

struct ilist {
	uint32_t *v;
	size_t n, cap;
};

static volatile sig_atomic_t stop;
static uint32_t net, mask;
static const char *chain = "KUBE-PUBLIC";
static struct ipstate *st;
static struct ilist dirty, ruled;
static unsigned long tot_addrs, tot_rules;
static int nlfd, rawfd;
static unsigned int seq;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "kstate: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double
clock_ms(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Wall time, to compare with the fixture's log; monotonic for pauses. */
static double
ms_now(void)
{
	return clock_ms(CLOCK_REALTIME);
}

static double
mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static void
ilist_push(struct ilist *l, uint32_t i)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		if ((l->v = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			die("memory");
	}
	l->v[l->n++] = i;
}

static void
touch(uint32_t i)
{
	if (!st[i].dirty) {
		st[i].dirty = 1;
		ilist_push(&dirty, i);
	}
}

/* The index of ip (network order) in st, or -1 outside the prefix. */
static long
slot(uint32_t ip_n)
{
	uint32_t ip = ntohl(ip_n);

	return (ip & mask) == net ? (long)(ip - net) : -1;
}

static void
set_addr(uint32_t ip_n, uint8_t on)
{
	long i = slot(ip_n);

	if (i < 0 || st[i].addr == on)
		return;
	tot_addrs += on ? 1 : -1ul;
	st[i].addr = on;
	touch((uint32_t)i);
}

static void
on_ifaddr(struct nlmsghdr *h)
{
	struct ifaddrmsg *m = NLMSG_DATA(h);
	struct rtattr *a;
	int alen = IFA_PAYLOAD(h);
	uint32_t ip;

	if (m->ifa_family != AF_INET)
		return;
	for (a = IFA_RTA(m); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		if (a->rta_type != IFA_LOCAL)
			continue;
		memcpy(&ip, RTA_DATA(a), 4);
		set_addr(ip, h->nlmsg_type == RTM_NEWADDR);
	}
}

/* Handle what one recv brought; returns 1 once a dump is done. */
static int
nl_parse(char *buf, ssize_t len)
{
	struct nlmsghdr *h;

	for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
	     h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			fprintf(stderr, "kstate: address dump failed\n");
			exit(2);
		}
		if (h->nlmsg_type == RTM_NEWADDR ||
		    h->nlmsg_type == RTM_DELADDR)
			on_ifaddr(h);
	}
	return 0;
}

/*
 * Read what is queued; with wait, until a dump ends.  Returns -1 when
 * notifications were lost, so that the caller dumps again.
 */
static int
nl_read(int wait)
{
	static char buf[1 << 16];
	ssize_t len;

	for (;;) {
		len = recv(nlfd, buf, sizeof(buf), wait ? 0 : MSG_DONTWAIT);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS)
			return -1;
		if (len < 0 && !wait && errno == EAGAIN)
			return 0;
		if (len < 0)
			die("netlink");
		if (nl_parse(buf, len) && wait)
			return 0;
	}
}

/*
 * Dump every address: those on an interface now are marked present
 * and the rest absent.  The notifications queued meanwhile are read
 * after it, so nothing between is lost.
 */
static void
nl_dump(void)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req = { 0 };
	uint32_t i, size = ~mask + 1;

	for (i = 0; i < size; i++)
		if (st[i].addr) {
			st[i].addr = 0;
			tot_addrs--;
			touch(i);
		}
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETADDR;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = ++seq;
	req.m.ifa_family = AF_INET;
	if (send(nlfd, &req, sizeof(req), 0) < 0)
		die("netlink");
	if (nl_read(1) < 0) {
		fprintf(stderr, "kstate: notifications lost during a dump\n");
		exit(2);
	}
}

static void
nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR };
	int sz = 64 << 20;

	if ((nlfd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)) < 0)
		die("netlink");
	/* Renewals notify too: 10,000 of them at once must fit. */
	if (setsockopt(nlfd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(nlfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(nlfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("netlink bind");
}

/* The mangle table's entry count and size, without its entries. */
static int
table_info(unsigned int *n, unsigned int *size)
{
	struct ipt_getinfo gi = { .name = "mangle" };
	socklen_t len = sizeof(gi);

	if (getsockopt(rawfd, IPPROTO_IP, IPT_SO_GET_INFO, &gi, &len) < 0)
		die("IPT_SO_GET_INFO");
	if (gi.num_entries == *n && gi.size == *size)
		return 0;
	*n = gi.num_entries;
	*size = gi.size;
	return 1;
}

static void
rules_set(uint32_t i, uint16_t rules)
{
	if (st[i].rules == rules)
		return;
	tot_rules += rules;
	tot_rules -= st[i].rules;
	st[i].rules = rules;
	touch(i);
}

static void
rules_read(void)
{
	const struct ipt_entry *e;
	struct xtc_handle *h;
	struct ilist old = ruled;
	size_t k;
	long i;

	if ((h = iptc_init("mangle")) == NULL) {
		fprintf(stderr, "kstate: %s\n", iptc_strerror(errno));
		exit(2);
	}
	/* One entry per rule now; the counts are rebuilt from them. */
	memset(&ruled, 0, sizeof(ruled));
	if (iptc_is_chain(chain, h)) {
		for (e = iptc_first_rule(chain, h); e != NULL;
		     e = iptc_next_rule(e, h)) {
			if ((i = slot(e->ip.dst.s_addr)) >= 0)
				ilist_push(&ruled, (uint32_t)i);
		}
	}
	iptc_free(h);
	for (k = 0; k < old.n; k++)
		rules_set(old.v[k], 0);
	for (k = 0; k < ruled.n; k++)
		rules_set(ruled.v[k], (uint16_t)(st[ruled.v[k]].rules + 1));
	free(old.v);
}

/* Print what changed since the last report. */
static void
report(void)
{
	static unsigned long pa, pr;
	double ms = ms_now();
	struct in_addr in;
	size_t k;

	for (k = 0; k < dirty.n; k++) {
		struct ipstate *s = &st[dirty.v[k]];

		s->dirty = 0;
		if (s->addr == s->rep_addr && s->rules == s->rep_rules)
			continue;
		s->rep_addr = s->addr;
		s->rep_rules = s->rules;
		in.s_addr = htonl(net + dirty.v[k]);
		printf("%.3f %s %u %u\n", ms, inet_ntoa(in), s->addr, s->rules);
	}
	dirty.n = 0;
	if (tot_addrs != pa || tot_rules != pr)
		printf("%.3f total %lu %lu\n", ms, tot_addrs, tot_rules);
	pa = tot_addrs;
	pr = tot_rules;
	fflush(stdout);
}

static void
parse_prefix(const char *arg)
{
	char pfx[32], *slash;
	struct in_addr in;
	int bits;

	if (strlen(arg) >= sizeof(pfx))
		exit(2);
	strcpy(pfx, arg);
	if ((slash = strchr(pfx, '/')) == NULL)
		exit(2);
	*slash = '\0';
	bits = atoi(slash + 1);
	if (inet_pton(AF_INET, pfx, &in) != 1 || bits < PREFIX_MIN ||
	    bits > 32) {
		fprintf(stderr, "kstate: need a prefix of /%d or longer\n",
		    PREFIX_MIN);
		exit(2);
	}
	mask = ~0u << (32 - bits);
	net = ntohl(in.s_addr) & mask;
	if ((st = calloc((size_t)~mask + 1, sizeof(*st))) == NULL)
		die("memory");
}

/*
 * Read the table if it changed, at most once per interval, and never
 * for more than a fifth of the time: with 20,000 rules one read costs
 * milliseconds of CPU that kiwi would otherwise have.
 */
static double
rules_check(double interval_ms)
{
	static unsigned int n, size;
	double t0 = mono_ms(), spent;

	if (!table_info(&n, &size))
		return t0 + interval_ms;
	rules_read();
	spent = mono_ms() - t0;
	return t0 + (interval_ms > 5 * spent ? interval_ms : 5 * spent);
}

int
main(int argc, char **argv)
{
	double next, interval, left;
	struct pollfd p;
	long us;

	if (argc < 3 || argc > 4 || (us = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: kstate INTERVAL_US PREFIX [CHAIN]\n");
		return 2;
	}
	interval = (double)us / 1e3;
	parse_prefix(argv[2]);
	if (argc == 4)
		chain = argv[3];
	nl_open();
	if ((rawfd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) < 0)
		die("raw socket");
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	nl_dump();
	next = rules_check(interval);
	report();
	printf("%.3f sampling\n", ms_now());
	fflush(stdout);
	p.fd = nlfd;
	p.events = POLLIN;
	while (!stop) {
		left = next - mono_ms();
		/* poll counts whole milliseconds: sleep off the rest. */
		if (left > 0 && left < 1)
			usleep((useconds_t)(left * 1e3));
		else if (poll(&p, 1, left > 0 ? (int)left : 0) < 0 &&
		    errno != EINTR)
			die("poll");
		if (nl_read(0) < 0)
			nl_dump();
		if (mono_ms() >= next)
			next = rules_check(interval);
		report();
	}
	return 0;
}
