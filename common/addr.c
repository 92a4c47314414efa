#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int
addr_parse(const char *s, struct kiwi_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL || *s == '\0' || strlen(s) >= KIWI_ADDRSTRLEN)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &out->u.v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->u.v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *
addr_fmt(const struct kiwi_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, &a->u, buf, len) == NULL)
		snprintf(buf, len, "(bad address)");
	return buf;
}

size_t
addr_len(const struct kiwi_addr *a)
{
	switch (a->family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	}
	return 0;
}

bool
addr_equal(const struct kiwi_addr *a, const struct kiwi_addr *b)
{
	return addr_cmp(a, b) == 0;
}

int
addr_cmp(const struct kiwi_addr *a, const struct kiwi_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->u, &b->u, addr_len(a));
}

static bool
addr4_is_announceable(const uint8_t *b)
{
	if (b[0] == 0 || b[0] == 127) /* this network, loopback */
		return false;
	if (b[0] >= 224) /* multicast, reserved, broadcast */
		return false;
	if (b[0] == 169 && b[1] == 254) /* link-local */
		return false;
	return true;
}

static bool
addr6_is_announceable(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a))
		return false;
	if (IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_LINKLOCAL(a))
		return false;
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a))
		return false;
	return true;
}

bool
addr_is_announceable(const struct kiwi_addr *a)
{
	switch (a->family) {
	case AF_INET:
		return addr4_is_announceable(a->u.bytes);
	case AF_INET6:
		return addr6_is_announceable(&a->u.v6);
	}
	return false;
}

static unsigned int
addr_bits(const struct kiwi_addr *a)
{
	return addr_len(a) * 8;
}

/* Whether the first prefix bits of a and b agree. */
static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned int prefix)
{
	unsigned int full = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

static bool
host_bits_clear(const struct kiwi_addr *a, unsigned int prefix)
{
	unsigned int i;

	for (i = prefix; i < addr_bits(a); i++)
		if (a->u.bytes[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int
cidr_parse(const char *s, struct kiwi_cidr *out)
{
	char buf[KIWI_CIDRSTRLEN], *slash, *end;
	unsigned long prefix;

	memset(out, 0, sizeof(*out));
	if (s == NULL || strlen(s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, strlen(s) + 1);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash++ = '\0';
	if (addr_parse(buf, &out->net) < 0)
		return -EINVAL;
	if (*slash < '0' || *slash > '9')
		return -EINVAL;
	errno = 0;
	prefix = strtoul(slash, &end, 10);
	if (errno != 0 || *end != '\0' || prefix > addr_bits(&out->net))
		return -EINVAL;
	if (slash[0] == '0' && slash[1] != '\0')
		return -EINVAL;
	out->prefix = (unsigned int)prefix;
	if (!host_bits_clear(&out->net, out->prefix))
		return -EINVAL;
	return 0;
}

const char *
cidr_fmt(const struct kiwi_cidr *c, char *buf, size_t len)
{
	char a[KIWI_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", addr_fmt(&c->net, a, sizeof(a)), c->prefix);
	return buf;
}

bool
cidr_contains(const struct kiwi_cidr *c, const struct kiwi_addr *a)
{
	if (c->net.family != a->family)
		return false;
	return prefix_match(c->net.u.bytes, a->u.bytes, c->prefix);
}

static bool
cidr_edge(const struct kiwi_cidr *c, const struct kiwi_addr *a)
{
	uint32_t host, mask;

	if (c->net.family != AF_INET || c->prefix > 30 || !cidr_contains(c, a))
		return false;
	mask = c->prefix == 0 ? 0 : ~0u << (32 - c->prefix);
	host = ntohl(a->u.v4.s_addr) & ~mask;
	return host == 0 || host == ~mask;
}

bool
cidr_list_edge(
    const struct kiwi_cidr *list, size_t n, const struct kiwi_addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_edge(&list[i], a))
			return true;
	return false;
}

bool
cidr_list_contains(
    const struct kiwi_cidr *list, size_t n, const struct kiwi_addr *a)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (cidr_contains(&list[i], a))
			return true;
	return false;
}

enum addr_class
addr_classify(const struct kiwi_cidr *list, size_t n, const struct kiwi_addr *a)
{
	if (!cidr_list_contains(list, n, a))
		return ADDR_OUT_OF_RANGE;
	if (!addr_is_announceable(a))
		return ADDR_NOT_ANNOUNCEABLE;
	if (cidr_list_edge(list, n, a))
		return ADDR_RANGE_EDGE;
	return ADDR_CLAIMABLE;
}

const char *
addr_class_text(enum addr_class k)
{
	switch (k) {
	case ADDR_OUT_OF_RANGE:
		return "outside the configured ranges";
	case ADDR_NOT_ANNOUNCEABLE:
		return "not an address that can be announced";
	case ADDR_RANGE_EDGE:
		return "the network or broadcast address of a configured range";
	case ADDR_CLAIMABLE:
		break;
	}
	return "";
}
