/*
 * The messages kiwi's processes exchange.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET socketpairs made by the supervisor,
 * so that one send is one message and a receiver can see truncation.
 *
 * Every message starts with an 8-byte header:
 *
 *	offset 0  u8   version   KIWI_MSG_VERSION
 *	offset 1  u8   type      enum kiwi_msg_type
 *	offset 2  u16  reserved  must be zero
 *	offset 4  u32  length    body length in bytes, after the header
 *
 * followed by the body.  Multi-byte fields are in host byte order: both
 * ends are on one machine and one binary.  A message is at most
 * KIWI_MSG_MAX bytes in all; the receiver checks the version, the
 * reserved field, that the length matches what arrived, and that the
 * body has exactly the size its type implies, before it looks inside.
 *
 * Bodies:
 *
 *   (empty)   SHUTDOWN, SYNC_BEGIN, SYNC_END, RELEASE_ALL, RELEASE_ALL_DONE,
 *             READY, DETACH
 *
 *   addr      UNDESIRE, RELEASE                            20 bytes
 *	offset 0  u8   family     4 or 6
 *	offset 1  u8   reserved[3]
 *	offset 4  u8   address[16] IPv4 in the first 4 bytes, rest zero
 *
 *   ipset     DESIRE, CLAIM     168 + 4 * nrules + 128 * nalso bytes
 *	offset 0   addr (as above)
 *	offset 20  u16  nrules     at most KIWI_MAX_RULES
 *	offset 22  u16  nalso      at most KIWI_MAX_ALSO
 *	offset 24  char service[KIWI_NAME_LEN]  "namespace/name", NUL-padded
 *	offset 152 u32  reserved[4]
 *	offset 168 rule[nrules], each 4 bytes:
 *		offset 0  u8   proto     6 (tcp), 17 (udp) or 132 (sctp)
 *		offset 1  u8   reserved
 *		offset 2  u16  port      1..65535
 *	then       char also[nalso][KIWI_NAME_LEN]  the other Services
 *	           that name the address, each after the one before it
 *	           (and after service) in byte order
 *
 *   result    RESULT                                       24 bytes
 *	offset 0  addr
 *	offset 20 i32  error      0, or a negative errno value
 *
 *   u32       LINK                                          8 bytes
 *	offset 0  u32  value      1 usable, 0 down or no carrier
 *	offset 4  u32  reserved   must be zero
 *
 *   u64       VOUCH, LEASE                                  8 bytes
 *	offset 0  u64  value      VOUCH: the time, in ms on CLOCK_MONOTONIC
 *	                          (one clock for every process of a host),
 *	                          until which every claim sent so far is
 *	                          vouched for; LEASE: the lease id, 0 none
 *
 *   stats     STATS                                        64 bytes
 *	offset 0  u64  counter[KIWI_STATS_N], each a running total since
 *	               the watcher started (enum kiwi_watcher_stat),
 *	               unused ones are zero.  Sent every few seconds to
 *	               the claimer, which serves them as metrics.
 *
 *   nastats   NA_STATS                                    144 bytes
 *	offset 0   u64  added, removed, commits, retries, failures,
 *	                refused: running totals (struct kiwi_nastats)
 *	offset 48  u64  commit_us  the time of every commit, summed
 *	offset 56  u64  bucket[KIWI_COMMIT_BUCKETS + 1]  the commits by
 *	                time, each in the first bucket whose bound in
 *	                kiwi_commit_bounds_us it does not exceed, the last
 *	                for those over every bound.  The buckets add up to
 *	                commits + failures, and commit_us lies within what
 *	                the bounds allow.
 *
 *   note      NOTE                                        152 bytes
 *	offset 0   addr
 *	offset 20  u8   why        enum addr_class, not ADDR_CLAIMABLE
 *	offset 21  u8   reserved[3]
 *	offset 24  char service[KIWI_NAME_LEN]  the first that names it
 *
 * Names (service, comment) are Kubernetes "namespace/name" strings:
 * at most KIWI_NAME_LEN - 1 bytes of [A-Za-z0-9._/-], NUL-terminated,
 * with every byte after the terminator zero.
 */
#ifndef KIWI_MSG_H
#define KIWI_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define KIWI_MSG_VERSION 2
#define KIWI_MSG_HDRLEN 8
#define KIWI_MSG_MAX 65536
#define KIWI_NAME_LEN 128
#define KIWI_MAX_RULES 256
#define KIWI_MAX_ALSO 31 /* other Services named with a shared address */

#define KIWI_ADDR_WIRELEN 20
#define KIWI_IPSET_WIRELEN 168
#define KIWI_RULE_WIRELEN 4
#define KIWI_RESULT_WIRELEN 24
#define KIWI_U32_WIRELEN 8
#define KIWI_U64_WIRELEN 8
#define KIWI_STATS_N 8
#define KIWI_STATS_WIRELEN (sizeof(uint64_t) * KIWI_STATS_N)
#define KIWI_COMMIT_BUCKETS 10
#define KIWI_NASTATS_WIRELEN (sizeof(uint64_t) * (7 + KIWI_COMMIT_BUCKETS + 1))
#define KIWI_NOTE_WIRELEN 152

enum kiwi_msg_type {
	MSG_SHUTDOWN = 1, /* supervisor -> worker: clean up, exit */
	MSG_SYNC_BEGIN = 2, /* watcher -> claimer: full set follows */
	MSG_SYNC_END = 3, /* watcher -> claimer: drop what was not sent */
	MSG_DESIRE = 4, /* watcher -> claimer: want ip with rules */
	MSG_UNDESIRE = 5, /* watcher -> claimer: no longer want ip */
	MSG_CLAIM = 6, /* claimer -> netagent: hold ip, these rules */
	MSG_RELEASE = 7, /* claimer -> netagent: drop ip */
	MSG_RELEASE_ALL = 8, /* claimer -> netagent: drop every ip */
	MSG_RESULT = 9, /* netagent -> claimer: outcome of CLAIM */
	MSG_RELEASE_ALL_DONE = 10, /* netagent -> claimer: all dropped */
	MSG_READY = 11, /* claimer -> supervisor: first full set handled */
	MSG_VOUCH = 12, /* claimer -> netagent: claims hold until a time */
	MSG_LINK = 13, /* netagent -> claimer: the interface is up or down */
	MSG_LEASE = 14, /* claimer -> supervisor: the lease claims are on */
	MSG_DETACH = 15, /* supervisor -> claimer: withdraw, exit, keep lease */
	MSG_STATS = 16, /* watcher -> claimer: counters */
	MSG_NA_STATS = 17, /* netagent -> claimer: its counters */
	MSG_NOTE = 18, /* watcher -> claimer: an ip named, not to claim */
	MSG_TYPE_MAX = 18,
};

/* The watcher's STATS counters. */
enum kiwi_watcher_stat {
	STAT_W_EVENTS, /* watch events applied */
	STAT_W_API_ERRORS, /* list or watch requests that failed */
	STAT_W_RECONNECTS, /* watches started again after a failure */
};

/*
 * The netagent's counters, each a running total since it started.  A
 * commit is one rebuild of the chain in the tables that changed, from
 * taking the xtables lock to the last table replaced.
 */
struct kiwi_nastats {
	uint64_t added; /* addresses put on the interface */
	uint64_t removed; /* addresses taken off it */
	uint64_t commits; /* commits that succeeded */
	uint64_t retries; /* table replaces tried again: it changed under */
	uint64_t failures; /* commits that failed */
	uint64_t refused; /* CLAIMs refused, messages from a wrong sender */
	uint64_t commit_us; /* the time of every commit, summed */
	uint64_t bucket[KIWI_COMMIT_BUCKETS + 1]; /* see NA_STATS above */
};

/* The upper bounds of the commit time buckets, ascending. */
extern const uint64_t kiwi_commit_bounds_us[KIWI_COMMIT_BUCKETS];

/* An address a Service names that kiwi will not claim, and why. */
struct kiwi_note {
	struct kiwi_addr addr;
	uint8_t why; /* enum addr_class */
	char service[KIWI_NAME_LEN];
};

enum kiwi_proto {
	KIWI_PROTO_TCP = 6,
	KIWI_PROTO_UDP = 17,
	KIWI_PROTO_SCTP = 132,
};

/*
 * A rule is its protocol and port only: the netagent needs no more,
 * and at thousands of addresses a name per rule would be most of the
 * memory each process holds for them.  The set names its Service.
 */
struct kiwi_rule {
	uint8_t proto;
	uint16_t port;
};

/* An address with every rule that marks its traffic. */
struct kiwi_ipset {
	struct kiwi_addr addr;
	char service[KIWI_NAME_LEN]; /* the first Service naming it */
	size_t nrules;
	struct kiwi_rule *rules; /* heap; ipset_free releases it */
	size_t nalso;
	char (*also)[KIWI_NAME_LEN]; /* heap: the others, sorted */
};

struct kiwi_msg {
	uint8_t type;
	size_t len; /* body length */
	uint8_t body[KIWI_MSG_MAX - KIWI_MSG_HDRLEN];
};

const char *msg_type_name(int type);

/*
 * Send one message; 0 or a negative errno.  EINTR is retried; a full
 * socket blocks, since the peers drain their sockets promptly.
 */
int msg_send(int fd, uint8_t type, const void *body, size_t len);
/*
 * Receive one message into m.  Returns 1 for a message, 0 when the peer
 * closed, -EAGAIN when nothing is waiting on a non-blocking socket, and
 * -EBADMSG for a frame that is truncated, oversized or has a bad header.
 */
int msg_recv(int fd, struct kiwi_msg *m);
/* Write header and body into dst; the frame's length or -EMSGSIZE. */
ssize_t msg_frame(
    uint8_t *dst, size_t cap, uint8_t type, const void *body, size_t len);
/* Check a raw frame; fills type and len.  0 or -EBADMSG. */
int msg_parse_frame(const uint8_t *buf, size_t n, struct kiwi_msg *m);

/* Body codecs.  Encoders return the length, or -EMSGSIZE/-EINVAL. */
ssize_t msg_encode_addr(const struct kiwi_addr *a, uint8_t *buf, size_t cap);
int msg_decode_addr(const uint8_t *body, size_t len, struct kiwi_addr *a);
ssize_t msg_encode_ipset(const struct kiwi_ipset *s, uint8_t *buf, size_t cap);
/* Allocates s->rules; on error nothing is left allocated. */
int msg_decode_ipset(const uint8_t *body, size_t len, struct kiwi_ipset *s);
ssize_t msg_encode_result(
    const struct kiwi_addr *a, int error, uint8_t *buf, size_t cap);
int msg_decode_result(
    const uint8_t *body, size_t len, struct kiwi_addr *a, int *error);

/* The VOUCH/LINK and LEASE bodies; -EBADMSG unless exactly right. */
int msg_decode_u32(const uint8_t *body, size_t len, uint32_t *v);
int msg_decode_u64(const uint8_t *body, size_t len, uint64_t *v);
int msg_send_u32(int fd, uint8_t type, uint32_t v);
int msg_send_u64(int fd, uint8_t type, uint64_t v);
/* The STATS body; -EBADMSG unless exactly KIWI_STATS_WIRELEN. */
int msg_decode_stats(const uint8_t *body, size_t len, uint64_t *v);
int msg_send_stats(int fd, const uint64_t *v);

/* Count one commit of us microseconds that succeeded or failed. */
void nastats_observe(struct kiwi_nastats *st, uint64_t us, bool ok);
/* The NA_STATS body; -EBADMSG unless exactly right and consistent. */
ssize_t msg_encode_nastats(
    const struct kiwi_nastats *st, uint8_t *buf, size_t cap);
int msg_decode_nastats(
    const uint8_t *body, size_t len, struct kiwi_nastats *st);
int msg_send_nastats(int fd, const struct kiwi_nastats *st);
/* The NOTE body: the address, a reason and a valid service name. */
ssize_t msg_encode_note(const struct kiwi_note *n, uint8_t *buf, size_t cap);
int msg_decode_note(const uint8_t *body, size_t len, struct kiwi_note *n);
int msg_send_note(int fd, const struct kiwi_note *n);

/* Convenience senders built on the codecs. */
int msg_send_addr(int fd, uint8_t type, const struct kiwi_addr *a);
int msg_send_ipset(int fd, uint8_t type, const struct kiwi_ipset *s);
int msg_send_result(int fd, const struct kiwi_addr *a, int error);

/* Whether a name is non-empty, short enough and of allowed characters. */
int msg_name_valid(const char *name);
/* Copy into a NUL-padded name field; -ENAMETOOLONG or -EINVAL. */
int msg_name_set(char *dst, const char *src);
const char *proto_name(uint8_t proto);
/* "tcp", "udp", "sctp" (any case) to the protocol number, or -EINVAL. */
int proto_parse(const char *s);

void ipset_init(struct kiwi_ipset *s);
void ipset_free(struct kiwi_ipset *s);
/* Deep copy; 0 or -ENOMEM. */
int ipset_copy(struct kiwi_ipset *dst, const struct kiwi_ipset *src);
/* Same address and rules in the same order. */
int ipset_same_rules(const struct kiwi_ipset *a, const struct kiwi_ipset *b);
/* The same, and the same Services. */
int ipset_equal(const struct kiwi_ipset *a, const struct kiwi_ipset *b);

#endif
