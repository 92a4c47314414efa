/*
 * Watches which node holds each address, for the multi-node tests.
 *
 *	sampler INTERVAL_MS PREFIX NETNS...
 *
 * Every INTERVAL_MS it dumps the IPv4 and IPv6 addresses of every named
 * network namespace and looks at those inside PREFIX (an address range
 * such as 198.51.100.0/24).  It prints a line whenever an address
 * changes holder:
 *
 *	<ms since the epoch> <address> <netns|-> [<netns>...]
 *
 * and on any address held by two namespaces at once it prints
 * "OVERLAP ..." and exits 1.  It runs until SIGTERM, then exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"

#define MAX_NS 8
#define MAX_ADDRS 256

struct holding {
	struct kiwi_addr addr;
	unsigned int mask; /* bit i: namespace i holds it */
};

static struct nl_sock *socks[MAX_NS];
static const char *names[MAX_NS];
static size_t nns;
static struct holding held[MAX_ADDRS];
static size_t nheld;
static volatile sig_atomic_t stop;
static struct kiwi_cidr range;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Wall-clock ms, so that the test's own `date` can be compared. */
static long long
ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A netlink socket opened inside the named namespace. */
static struct nl_sock *
open_in(const char *ns)
{
	char path[256];
	struct nl_sock *sk;
	int self, fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	if ((self = open("/proc/self/ns/net", O_RDONLY)) < 0 ||
	    (fd = open(path, O_RDONLY)) < 0 || setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "sampler: cannot enter %s: %s\n", ns,
		    strerror(errno));
		exit(2);
	}
	sk = nl_socket_alloc();
	if (sk == NULL || nl_connect(sk, NETLINK_ROUTE) < 0) {
		fprintf(stderr, "sampler: no netlink socket in %s\n", ns);
		exit(2);
	}
	if (setns(self, CLONE_NEWNET) < 0)
		exit(2);
	close(fd);
	close(self);
	return sk;
}

static struct holding *
slot(const struct kiwi_addr *a)
{
	size_t i;

	for (i = 0; i < nheld; i++)
		if (addr_equal(&held[i].addr, a))
			return &held[i];
	if (nheld == MAX_ADDRS)
		return NULL;
	held[nheld].addr = *a;
	held[nheld].mask = 0;
	return &held[nheld++];
}

struct scan {
	unsigned int bit;
	unsigned int *now; /* per slot, this round */
};

static void
one_addr(struct nl_object *obj, void *arg)
{
	struct scan *sc = arg;
	struct nl_addr *local = rtnl_addr_get_local((struct rtnl_addr *)obj);
	struct kiwi_addr a = { 0 };
	struct holding *h;

	if (local == NULL)
		return;
	a.family = nl_addr_get_family(local);
	if (nl_addr_get_len(local) != addr_len(&a))
		return;
	memcpy(&a.u, nl_addr_get_binary_addr(local), addr_len(&a));
	if (!cidr_contains(&range, &a) || (h = slot(&a)) == NULL)
		return;
	sc->now[h - held] |= sc->bit;
}

static void
print_change(long long ms, const struct holding *h, unsigned int mask)
{
	char buf[KIWI_ADDRSTRLEN];
	size_t i;

	printf("%lld %s", ms, addr_fmt(&h->addr, buf, sizeof(buf)));
	if (mask == 0)
		printf(" -");
	for (i = 0; i < nns; i++)
		if (mask & (1u << i))
			printf(" %s", names[i]);
	printf("\n");
	fflush(stdout);
}

static int
round_once(void)
{
	unsigned int now[MAX_ADDRS] = { 0 };
	struct nl_cache *cache;
	struct scan sc = { 0, now };
	size_t i;
	int bad = 0;

	for (i = 0; i < nns; i++) {
		if (rtnl_addr_alloc_cache(socks[i], &cache) < 0)
			continue;
		sc.bit = 1u << i;
		nl_cache_foreach(cache, one_addr, &sc);
		nl_cache_free(cache);
	}
	for (i = 0; i < nheld; i++) {
		if (now[i] == held[i].mask)
			continue;
		print_change(ms_now(), &held[i], now[i]);
		held[i].mask = now[i];
		if (__builtin_popcount(now[i]) > 1) {
			printf("OVERLAP at %lld\n", ms_now());
			bad = 1;
		}
	}
	return bad;
}

int
main(int argc, char **argv)
{
	struct timespec pause;
	int interval, i;

	if (argc < 4 || (interval = atoi(argv[1])) <= 0 ||
	    cidr_parse(argv[2], &range) < 0 || argc - 3 > MAX_NS) {
		fprintf(stderr, "usage: sampler INTERVAL_MS PREFIX NETNS...\n");
		return 2;
	}
	for (i = 3; i < argc; i++) {
		names[nns] = argv[i];
		socks[nns++] = open_in(argv[i]);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	pause.tv_sec = interval / 1000;
	pause.tv_nsec = (long)(interval % 1000) * 1000000;
	printf("sampling\n");
	fflush(stdout);
	while (!stop) {
		if (round_once())
			return 1;
		nanosleep(&pause, NULL);
	}
	return 0;
}
