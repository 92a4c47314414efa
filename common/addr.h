/*
 * IP addresses and CIDR ranges, IPv4 and IPv6.
 */
#ifndef KIWI_ADDR_H
#define KIWI_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text form of an address, with its NUL (INET6_ADDRSTRLEN). */
#define KIWI_ADDRSTRLEN 46
/* Longest text form of a range, "addr/128" and a NUL. */
#define KIWI_CIDRSTRLEN (KIWI_ADDRSTRLEN + 4)

struct kiwi_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	} u;
};

struct kiwi_cidr {
	struct kiwi_addr net; /* host bits are zero */
	unsigned int prefix;
};

/* Strict parse of one address; 0, or -EINVAL. */
int addr_parse(const char *s, struct kiwi_addr *out);
/* Text form into buf (KIWI_ADDRSTRLEN); returns buf. */
const char *addr_fmt(const struct kiwi_addr *a, char *buf, size_t len);
bool addr_equal(const struct kiwi_addr *a, const struct kiwi_addr *b);
int addr_cmp(const struct kiwi_addr *a, const struct kiwi_addr *b);
/* Length of the address in bytes: 4, 16, or 0 for an unknown family. */
size_t addr_len(const struct kiwi_addr *a);
/*
 * Whether an address may be announced at all: not unspecified,
 * loopback, multicast, link-local, broadcast or IPv4-mapped.
 */
bool addr_is_announceable(const struct kiwi_addr *a);

/*
 * Parse "a.b.c.d/n" or "x::y/n".  Host bits set below the prefix are an
 * error, so that a typo does not widen a range silently.
 */
int cidr_parse(const char *s, struct kiwi_cidr *out);
const char *cidr_fmt(const struct kiwi_cidr *c, char *buf, size_t len);
bool cidr_contains(const struct kiwi_cidr *c, const struct kiwi_addr *a);
/*
 * Whether a is the network or the broadcast address of an IPv4 range
 * in the list that holds it (ranges of /31 and /32 have neither).
 */
bool cidr_list_edge(
    const struct kiwi_cidr *list, size_t n, const struct kiwi_addr *a);
/* True when n == 0 (no ranges: everything is accepted) or one matches. */
bool cidr_list_contains(
    const struct kiwi_cidr *list, size_t n, const struct kiwi_addr *a);

/* Whether kiwi may claim an address, and why not. */
enum addr_class {
	ADDR_CLAIMABLE,
	ADDR_OUT_OF_RANGE, /* outside every configured range */
	ADDR_NOT_ANNOUNCEABLE, /* see addr_is_announceable */
	ADDR_RANGE_EDGE, /* see cidr_list_edge */
	ADDR_CLASS_MAX = ADDR_RANGE_EDGE,
};

/* The class of a, for the ranges in list; the checks in that order. */
enum addr_class addr_classify(
    const struct kiwi_cidr *list, size_t n, const struct kiwi_addr *a);
/* Why an address of class k is not claimed, for people; "" if it is. */
const char *addr_class_text(enum addr_class k);

#endif
