/*
 * Watches what kiwi put in the kernel of the namespace it runs in, for
 * the benchmarks.
 *
 *	kstate INTERVAL_US PREFIX [CHAIN]
 *
 * Every INTERVAL_US it dumps the IPv4 addresses (rtnetlink) and the
 * mangle chain CHAIN (default KUBE-PUBLIC, through libiptc) and keeps,
 * for every address inside PREFIX (such as 198.18.0.0/15), whether it
 * is on an interface and how many rules of the chain match it as
 * destination.  It prints a line when that changes:
 *
 *	<ms since the epoch> <address> <0|1> <rules>
 *	<ms since the epoch> total <addresses> <rules>
 *
 * the second whenever a total changes.  The time is the end of the
 * round that saw the change, with microseconds, so that it compares
 * with the fixture's --event-log.  Polling, not notifications: an
 * address's lifetime renewal is also a notification, and libiptc has
 * none.  Runs until SIGTERM.
 */
#include <errno.h>
#include <libiptc/libiptc.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ipstate {
	uint32_t ip; /* host order, so that sorting is numeric */
	unsigned int addr;
	unsigned int rules;
};

struct snap {
	struct ipstate *v;
	size_t n, cap;
};

static volatile sig_atomic_t stop;
static uint32_t net, mask;
static const char *chain = "KUBE-PUBLIC";
static int nlfd;
static unsigned int seq;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double
ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void
push(struct snap *s, uint32_t ip, unsigned int addr, unsigned int rules)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (s->v == NULL) {
			perror("kstate");
			exit(2);
		}
	}
	s->v[s->n].ip = ip;
	s->v[s->n].addr = addr;
	s->v[s->n++].rules = rules;
}

static int
by_ip(const void *a, const void *b)
{
	const struct ipstate *x = a, *y = b;

	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

/* Sort and fold the entries of one address into one. */
static void
fold(struct snap *s)
{
	size_t i, o = 0;

	qsort(s->v, s->n, sizeof(*s->v), by_ip);
	for (i = 0; i < s->n; i++) {
		if (o > 0 && s->v[o - 1].ip == s->v[i].ip) {
			s->v[o - 1].addr |= s->v[i].addr;
			s->v[o - 1].rules += s->v[i].rules;
		} else {
			s->v[o++] = s->v[i];
		}
	}
	s->n = o;
}

static void
dump_addrs(struct snap *s)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req = { 0 };
	static char buf[1 << 16];
	struct nlmsghdr *h;
	ssize_t len;

	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETADDR;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = ++seq;
	req.m.ifa_family = AF_INET;
	if (send(nlfd, &req, sizeof(req), 0) < 0) {
		perror("kstate: netlink");
		exit(2);
	}
	for (;;) {
		if ((len = recv(nlfd, buf, sizeof(buf), 0)) < 0) {
			if (errno == EINTR)
				continue;
			perror("kstate: netlink");
			exit(2);
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			struct ifaddrmsg *m = NLMSG_DATA(h);
			struct rtattr *a;
			int alen;

			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return;
			if (h->nlmsg_type == NLMSG_ERROR) {
				fprintf(stderr,
				    "kstate: address dump failed\n");
				exit(2);
			}
			if (h->nlmsg_type != RTM_NEWADDR)
				continue;
			alen = IFA_PAYLOAD(h);
			for (a = IFA_RTA(m); RTA_OK(a, alen);
			     a = RTA_NEXT(a, alen)) {
				uint32_t ip;

				if (a->rta_type != IFA_LOCAL)
					continue;
				memcpy(&ip, RTA_DATA(a), 4);
				ip = ntohl(ip);
				if ((ip & mask) == net)
					push(s, ip, 1, 0);
			}
		}
	}
}

static void
dump_rules(struct snap *s)
{
	const struct ipt_entry *e;
	struct xtc_handle *h;

	if ((h = iptc_init("mangle")) == NULL) {
		fprintf(stderr, "kstate: %s\n", iptc_strerror(errno));
		exit(2);
	}
	if (iptc_is_chain(chain, h)) {
		for (e = iptc_first_rule(chain, h); e != NULL;
		     e = iptc_next_rule(e, h)) {
			uint32_t ip = ntohl(e->ip.dst.s_addr);

			if ((ip & mask) == net)
				push(s, ip, 0, 1);
		}
	}
	iptc_free(h);
}

static void
report(double ms, const struct snap *old, const struct snap *cur)
{
	static const struct ipstate none;
	size_t i = 0, j = 0;

	while (i < old->n || j < cur->n) {
		const struct ipstate *a = i < old->n ? &old->v[i] : NULL;
		const struct ipstate *b = j < cur->n ? &cur->v[j] : NULL;
		struct in_addr in;

		if (b == NULL || (a != NULL && a->ip < b->ip)) {
			b = &none;
			in.s_addr = htonl(a->ip);
			i++;
		} else if (a == NULL || b->ip < a->ip) {
			a = &none;
			in.s_addr = htonl(b->ip);
			j++;
		} else {
			in.s_addr = htonl(a->ip);
			i++;
			j++;
		}
		if (a->addr != b->addr || a->rules != b->rules)
			printf("%.3f %s %u %u\n", ms, inet_ntoa(in), b->addr,
			    b->rules);
	}
}

static void
totals(const struct snap *s, unsigned long *addrs, unsigned long *rules)
{
	size_t i;

	*addrs = *rules = 0;
	for (i = 0; i < s->n; i++) {
		*addrs += s->v[i].addr;
		*rules += s->v[i].rules;
	}
}

int
main(int argc, char **argv)
{
	struct snap a = { 0 }, b = { 0 }, *old = &a, *cur = &b, *t;
	unsigned long pa = 0, pr = 0, na, nr;
	struct timespec pause;
	struct in_addr in;
	char pfx[32], *slash;
	long us;
	int bits;
	double ms;

	if (argc < 3 || argc > 4 || (us = atol(argv[1])) <= 0 ||
	    strlen(argv[2]) >= sizeof(pfx)) {
		fprintf(stderr, "usage: kstate INTERVAL_US PREFIX [CHAIN]\n");
		return 2;
	}
	strcpy(pfx, argv[2]);
	if ((slash = strchr(pfx, '/')) == NULL)
		return 2;
	*slash = '\0';
	bits = atoi(slash + 1);
	if (inet_pton(AF_INET, pfx, &in) != 1 || bits < 0 || bits > 32)
		return 2;
	mask = bits ? ~0u << (32 - bits) : 0;
	net = ntohl(in.s_addr) & mask;
	if (argc == 4)
		chain = argv[3];
	if ((nlfd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)) < 0) {
		perror("kstate: netlink");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	pause.tv_sec = us / 1000000;
	pause.tv_nsec = (us % 1000000) * 1000;
	printf("%.3f sampling\n", ms_now());
	fflush(stdout);
	while (!stop) {
		cur->n = 0;
		dump_addrs(cur);
		dump_rules(cur);
		ms = ms_now();
		fold(cur);
		report(ms, old, cur);
		totals(cur, &na, &nr);
		if (na != pa || nr != pr)
			printf("%.3f total %lu %lu\n", ms, na, nr);
		pa = na;
		pr = nr;
		fflush(stdout);
		t = old;
		old = cur;
		cur = t;
		nanosleep(&pause, NULL);
	}
	return 0;
}
