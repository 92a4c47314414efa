#include "msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const char *const msg_names[] = {
	[MSG_SHUTDOWN] = "SHUTDOWN",
	[MSG_SYNC_BEGIN] = "SYNC_BEGIN",
	[MSG_SYNC_END] = "SYNC_END",
	[MSG_DESIRE] = "DESIRE",
	[MSG_UNDESIRE] = "UNDESIRE",
	[MSG_CLAIM] = "CLAIM",
	[MSG_RELEASE] = "RELEASE",
	[MSG_RELEASE_ALL] = "RELEASE_ALL",
	[MSG_RESULT] = "RESULT",
	[MSG_RELEASE_ALL_DONE] = "RELEASE_ALL_DONE",
	[MSG_READY] = "READY",
	[MSG_VOUCH] = "VOUCH",
	[MSG_LINK] = "LINK",
	[MSG_LEASE] = "LEASE",
	[MSG_DETACH] = "DETACH",
	[MSG_STATS] = "STATS",
	[MSG_NA_STATS] = "NA_STATS",
	[MSG_NOTE] = "NOTE",
};

/* From half a millisecond to the seconds of a table of 10,000s rules. */
const uint64_t kiwi_commit_bounds_us[KIWI_COMMIT_BUCKETS] = { 500, 1000, 2500,
	5000, 10000, 25000, 50000, 100000, 500000, 2500000 };

const char *
msg_type_name(int type)
{
	if (type <= 0 || type > MSG_TYPE_MAX || msg_names[type] == NULL)
		return "unknown";
	return msg_names[type];
}

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int
msg_send(int fd, uint8_t type, const void *body, size_t len)
{
	uint8_t hdr[KIWI_MSG_HDRLEN];
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;

	if (len > KIWI_MSG_MAX - KIWI_MSG_HDRLEN)
		return -EMSGSIZE;
	hdr[0] = KIWI_MSG_VERSION;
	hdr[1] = type;
	put16(hdr + 2, 0);
	put32(hdr + 4, (uint32_t)len);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(hdr) + len)
		return -EMSGSIZE;
	return 0;
}

ssize_t
msg_frame(uint8_t *dst, size_t cap, uint8_t type, const void *body, size_t len)
{
	if (len > KIWI_MSG_MAX - KIWI_MSG_HDRLEN || cap < KIWI_MSG_HDRLEN + len)
		return -EMSGSIZE;
	dst[0] = KIWI_MSG_VERSION;
	dst[1] = type;
	put16(dst + 2, 0);
	put32(dst + 4, (uint32_t)len);
	if (len > 0)
		memcpy(dst + KIWI_MSG_HDRLEN, body, len);
	return (ssize_t)(KIWI_MSG_HDRLEN + len);
}

int
msg_parse_frame(const uint8_t *buf, size_t n, struct kiwi_msg *m)
{
	uint32_t len;

	if (n < KIWI_MSG_HDRLEN || n > KIWI_MSG_MAX)
		return -EBADMSG;
	if (buf[0] != KIWI_MSG_VERSION || get16(buf + 2) != 0)
		return -EBADMSG;
	len = get32(buf + 4);
	if ((size_t)len != n - KIWI_MSG_HDRLEN)
		return -EBADMSG;
	if (buf[1] == 0 || buf[1] > MSG_TYPE_MAX)
		return -EBADMSG;
	m->type = buf[1];
	m->len = len;
	return 0;
}

int
msg_recv(int fd, struct kiwi_msg *m)
{
	uint8_t buf[KIWI_MSG_MAX];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do {
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return 0;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EBADMSG;
	if (msg_parse_frame(buf, (size_t)n, m) < 0)
		return -EBADMSG;
	memcpy(m->body, buf + KIWI_MSG_HDRLEN, m->len);
	return 1;
}

static void
encode_addr_at(const struct kiwi_addr *a, uint8_t *p)
{
	memset(p, 0, KIWI_ADDR_WIRELEN);
	p[0] = a->family == AF_INET ? 4 : 6;
	memcpy(p + 4, &a->u, addr_len(a));
}

static int
decode_addr_at(const uint8_t *p, struct kiwi_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (!all_zero(p + 1, 3))
		return -EBADMSG;
	switch (p[0]) {
	case 4:
		if (!all_zero(p + 8, 12))
			return -EBADMSG;
		a->family = AF_INET;
		memcpy(&a->u.v4, p + 4, 4);
		return 0;
	case 6:
		a->family = AF_INET6;
		memcpy(&a->u.v6, p + 4, 16);
		return 0;
	}
	return -EBADMSG;
}

ssize_t
msg_encode_addr(const struct kiwi_addr *a, uint8_t *buf, size_t cap)
{
	if (addr_len(a) == 0)
		return -EINVAL;
	if (cap < KIWI_ADDR_WIRELEN)
		return -EMSGSIZE;
	encode_addr_at(a, buf);
	return KIWI_ADDR_WIRELEN;
}

int
msg_decode_addr(const uint8_t *body, size_t len, struct kiwi_addr *a)
{
	if (len != KIWI_ADDR_WIRELEN)
		return -EBADMSG;
	return decode_addr_at(body, a);
}

int
msg_name_valid(const char *name)
{
	size_t i, n = strnlen(name, KIWI_NAME_LEN);

	if (n == 0 || n >= KIWI_NAME_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '/' || c == '-')
			continue;
		return 0;
	}
	return 1;
}

int
msg_name_set(char *dst, const char *src)
{
	memset(dst, 0, KIWI_NAME_LEN);
	if (strlen(src) >= KIWI_NAME_LEN)
		return -ENAMETOOLONG;
	if (!msg_name_valid(src))
		return -EINVAL;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* A name field must be a valid name followed only by zero bytes. */
static int
decode_name_at(const uint8_t *p, char *dst)
{
	size_t n = strnlen((const char *)p, KIWI_NAME_LEN);

	if (n == KIWI_NAME_LEN || !all_zero(p + n, KIWI_NAME_LEN - n))
		return -EBADMSG;
	memcpy(dst, p, KIWI_NAME_LEN);
	if (!msg_name_valid(dst))
		return -EBADMSG;
	return 0;
}

const char *
proto_name(uint8_t proto)
{
	switch (proto) {
	case KIWI_PROTO_TCP:
		return "tcp";
	case KIWI_PROTO_UDP:
		return "udp";
	case KIWI_PROTO_SCTP:
		return "sctp";
	}
	return "unknown";
}

int
proto_parse(const char *s)
{
	if (strcasecmp(s, "tcp") == 0)
		return KIWI_PROTO_TCP;
	if (strcasecmp(s, "udp") == 0)
		return KIWI_PROTO_UDP;
	if (strcasecmp(s, "sctp") == 0)
		return KIWI_PROTO_SCTP;
	return -EINVAL;
}

static int
proto_valid(uint8_t proto)
{
	return proto == KIWI_PROTO_TCP || proto == KIWI_PROTO_UDP ||
	    proto == KIWI_PROTO_SCTP;
}

ssize_t
msg_encode_ipset(const struct kiwi_ipset *s, uint8_t *buf, size_t cap)
{
	size_t need, i;
	uint8_t *p;

	if (s->nrules > KIWI_MAX_RULES || s->nalso > KIWI_MAX_ALSO ||
	    addr_len(&s->addr) == 0)
		return -EINVAL;
	need = KIWI_IPSET_WIRELEN + s->nrules * KIWI_RULE_WIRELEN +
	    s->nalso * KIWI_NAME_LEN;
	if (cap < need)
		return -EMSGSIZE;
	memset(buf, 0, need);
	encode_addr_at(&s->addr, buf);
	put16(buf + 20, (uint16_t)s->nrules);
	put16(buf + 22, (uint16_t)s->nalso);
	memcpy(buf + 24, s->service, strnlen(s->service, KIWI_NAME_LEN - 1));
	p = buf + KIWI_IPSET_WIRELEN + s->nrules * KIWI_RULE_WIRELEN;
	for (i = 0; i < s->nalso; i++, p += KIWI_NAME_LEN)
		memcpy(p, s->also[i], strnlen(s->also[i], KIWI_NAME_LEN - 1));
	for (i = 0; i < s->nrules; i++) {
		const struct kiwi_rule *r = &s->rules[i];

		p = buf + KIWI_IPSET_WIRELEN + i * KIWI_RULE_WIRELEN;
		p[0] = r->proto;
		put16(p + 2, r->port);
	}
	return (ssize_t)need;
}

static int
decode_rule_at(const uint8_t *p, struct kiwi_rule *r)
{
	r->proto = p[0];
	r->port = get16(p + 2);
	if (!proto_valid(r->proto) || p[1] != 0 || r->port == 0)
		return -EBADMSG;
	return 0;
}

/*
 * The other Services of s, from p: each a valid name after the one
 * before it, so that one set has one spelling.
 */
static int
decode_also_at(const uint8_t *p, size_t n, struct kiwi_ipset *s)
{
	const char *prev = s->service;
	size_t i;

	if (n > 0 && (s->also = calloc(n, KIWI_NAME_LEN)) == NULL)
		return -ENOMEM;
	s->nalso = n;
	for (i = 0; i < n; i++, p += KIWI_NAME_LEN) {
		if (decode_name_at(p, s->also[i]) < 0 ||
		    strcmp(prev, s->also[i]) >= 0)
			return -EBADMSG;
		prev = s->also[i];
	}
	return 0;
}

int
msg_decode_ipset(const uint8_t *body, size_t len, struct kiwi_ipset *s)
{
	size_t n, nalso, i;
	int rc;

	ipset_init(s);
	if (len < KIWI_IPSET_WIRELEN)
		return -EBADMSG;
	n = get16(body + 20);
	nalso = get16(body + 22);
	if (n > KIWI_MAX_RULES || nalso > KIWI_MAX_ALSO ||
	    len !=
	        KIWI_IPSET_WIRELEN + n * KIWI_RULE_WIRELEN +
	            nalso * KIWI_NAME_LEN)
		return -EBADMSG;
	if (!all_zero(body + 152, 16))
		return -EBADMSG;
	if ((rc = decode_addr_at(body, &s->addr)) < 0 ||
	    (rc = decode_name_at(body + 24, s->service)) < 0)
		return rc;
	if (n > 0 && (s->rules = calloc(n, sizeof(*s->rules))) == NULL)
		return -ENOMEM;
	s->nrules = n;
	for (i = 0; i < n; i++) {
		rc = decode_rule_at(
		    body + KIWI_IPSET_WIRELEN + i * KIWI_RULE_WIRELEN,
		    &s->rules[i]);
		if (rc < 0) {
			ipset_free(s);
			return rc;
		}
	}
	rc = decode_also_at(
	    body + KIWI_IPSET_WIRELEN + n * KIWI_RULE_WIRELEN, nalso, s);
	if (rc < 0)
		ipset_free(s);
	return rc;
}

ssize_t
msg_encode_result(
    const struct kiwi_addr *a, int error, uint8_t *buf, size_t cap)
{
	if (addr_len(a) == 0 || error > 0)
		return -EINVAL;
	if (cap < KIWI_RESULT_WIRELEN)
		return -EMSGSIZE;
	encode_addr_at(a, buf);
	put32(buf + 20, (uint32_t)error);
	return KIWI_RESULT_WIRELEN;
}

int
msg_decode_result(
    const uint8_t *body, size_t len, struct kiwi_addr *a, int *error)
{
	int32_t e;

	if (len != KIWI_RESULT_WIRELEN)
		return -EBADMSG;
	e = (int32_t)get32(body + 20);
	if (e > 0 || e < -4095)
		return -EBADMSG;
	*error = e;
	return decode_addr_at(body, a);
}

int
msg_decode_u32(const uint8_t *body, size_t len, uint32_t *v)
{
	if (len != KIWI_U32_WIRELEN || get32(body + 4) != 0)
		return -EBADMSG;
	*v = get32(body);
	return 0;
}

int
msg_decode_u64(const uint8_t *body, size_t len, uint64_t *v)
{
	if (len != KIWI_U64_WIRELEN)
		return -EBADMSG;
	memcpy(v, body, sizeof(*v));
	return 0;
}

int
msg_send_u32(int fd, uint8_t type, uint32_t v)
{
	uint8_t buf[KIWI_U32_WIRELEN];

	put32(buf, v);
	put32(buf + 4, 0);
	return msg_send(fd, type, buf, sizeof(buf));
}

int
msg_send_u64(int fd, uint8_t type, uint64_t v)
{
	uint8_t buf[KIWI_U64_WIRELEN];

	memcpy(buf, &v, sizeof(v));
	return msg_send(fd, type, buf, sizeof(buf));
}

int
msg_decode_stats(const uint8_t *body, size_t len, uint64_t *v)
{
	if (len != KIWI_STATS_WIRELEN)
		return -EBADMSG;
	memcpy(v, body, KIWI_STATS_WIRELEN);
	return 0;
}

int
msg_send_stats(int fd, const uint64_t *v)
{
	return msg_send(fd, MSG_STATS, v, KIWI_STATS_WIRELEN);
}

void
nastats_observe(struct kiwi_nastats *st, uint64_t us, bool ok)
{
	size_t i;

	for (i = 0; i < KIWI_COMMIT_BUCKETS; i++)
		if (us <= kiwi_commit_bounds_us[i])
			break;
	st->bucket[i]++;
	st->commit_us += us;
	if (ok)
		st->commits++;
	else
		st->failures++;
}

/* The struct is the wire layout: u64 fields in order, no padding. */
_Static_assert(sizeof(struct kiwi_nastats) == KIWI_NASTATS_WIRELEN,
    "struct kiwi_nastats is not the NA_STATS body");

ssize_t
msg_encode_nastats(const struct kiwi_nastats *st, uint8_t *buf, size_t cap)
{
	if (cap < KIWI_NASTATS_WIRELEN)
		return -EMSGSIZE;
	memcpy(buf, st, KIWI_NASTATS_WIRELEN);
	return KIWI_NASTATS_WIRELEN;
}

/* a + b * c, or UINT64_MAX when that does not fit. */
static uint64_t
mul_add_sat(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t r;

	if (__builtin_mul_overflow(b, c, &r) ||
	    __builtin_add_overflow(a, r, &r))
		return UINT64_MAX;
	return r;
}

/*
 * Whether the buckets add up to the commits, and the summed time lies
 * between what the buckets' bounds allow (past UINT64_MAX: unchecked).
 */
static bool
nastats_consistent(const struct kiwi_nastats *st)
{
	uint64_t n = 0, lo = 0, hi = 0, total;
	size_t i;

	for (i = 0; i <= KIWI_COMMIT_BUCKETS; i++) {
		if (__builtin_add_overflow(n, st->bucket[i], &n))
			return false;
		if (i > 0)
			lo = mul_add_sat(
			    lo, st->bucket[i], kiwi_commit_bounds_us[i - 1]);
		if (i < KIWI_COMMIT_BUCKETS)
			hi = mul_add_sat(
			    hi, st->bucket[i], kiwi_commit_bounds_us[i]);
	}
	if (__builtin_add_overflow(st->commits, st->failures, &total) ||
	    n != total)
		return false;
	if (lo != UINT64_MAX && st->commit_us < lo)
		return false;
	return st->bucket[KIWI_COMMIT_BUCKETS] > 0 || hi == UINT64_MAX ||
	    st->commit_us <= hi;
}

int
msg_decode_nastats(const uint8_t *body, size_t len, struct kiwi_nastats *st)
{
	if (len != KIWI_NASTATS_WIRELEN)
		return -EBADMSG;
	memcpy(st, body, KIWI_NASTATS_WIRELEN);
	if (!nastats_consistent(st)) {
		memset(st, 0, sizeof(*st));
		return -EBADMSG;
	}
	return 0;
}

int
msg_send_nastats(int fd, const struct kiwi_nastats *st)
{
	uint8_t buf[KIWI_NASTATS_WIRELEN];

	msg_encode_nastats(st, buf, sizeof(buf));
	return msg_send(fd, MSG_NA_STATS, buf, sizeof(buf));
}

ssize_t
msg_encode_note(const struct kiwi_note *n, uint8_t *buf, size_t cap)
{
	if (addr_len(&n->addr) == 0 || n->why == ADDR_CLAIMABLE ||
	    n->why > ADDR_CLASS_MAX || !msg_name_valid(n->service))
		return -EINVAL;
	if (cap < KIWI_NOTE_WIRELEN)
		return -EMSGSIZE;
	memset(buf, 0, KIWI_NOTE_WIRELEN);
	encode_addr_at(&n->addr, buf);
	buf[20] = n->why;
	memcpy(buf + 24, n->service, strnlen(n->service, KIWI_NAME_LEN - 1));
	return KIWI_NOTE_WIRELEN;
}

int
msg_decode_note(const uint8_t *body, size_t len, struct kiwi_note *n)
{
	int rc;

	memset(n, 0, sizeof(*n));
	if (len != KIWI_NOTE_WIRELEN || !all_zero(body + 21, 3))
		return -EBADMSG;
	if (body[20] == ADDR_CLAIMABLE || body[20] > ADDR_CLASS_MAX)
		return -EBADMSG;
	n->why = body[20];
	if ((rc = decode_addr_at(body, &n->addr)) < 0 ||
	    (rc = decode_name_at(body + 24, n->service)) < 0)
		return rc;
	return 0;
}

int
msg_send_note(int fd, const struct kiwi_note *n)
{
	uint8_t buf[KIWI_NOTE_WIRELEN];
	ssize_t len;

	if ((len = msg_encode_note(n, buf, sizeof(buf))) < 0)
		return (int)len;
	return msg_send(fd, MSG_NOTE, buf, (size_t)len);
}

int
msg_send_addr(int fd, uint8_t type, const struct kiwi_addr *a)
{
	uint8_t buf[KIWI_ADDR_WIRELEN];
	ssize_t n;

	if ((n = msg_encode_addr(a, buf, sizeof(buf))) < 0)
		return (int)n;
	return msg_send(fd, type, buf, (size_t)n);
}

int
msg_send_ipset(int fd, uint8_t type, const struct kiwi_ipset *s)
{
	static uint8_t buf[KIWI_MSG_MAX - KIWI_MSG_HDRLEN];
	ssize_t n;

	if ((n = msg_encode_ipset(s, buf, sizeof(buf))) < 0)
		return (int)n;
	return msg_send(fd, type, buf, (size_t)n);
}

int
msg_send_result(int fd, const struct kiwi_addr *a, int error)
{
	uint8_t buf[KIWI_RESULT_WIRELEN];
	ssize_t n;

	if ((n = msg_encode_result(a, error, buf, sizeof(buf))) < 0)
		return (int)n;
	return msg_send(fd, MSG_RESULT, buf, (size_t)n);
}

void
ipset_init(struct kiwi_ipset *s)
{
	memset(s, 0, sizeof(*s));
}

void
ipset_free(struct kiwi_ipset *s)
{
	if (s == NULL)
		return;
	free(s->rules);
	s->rules = NULL;
	s->nrules = 0;
	free(s->also);
	s->also = NULL;
	s->nalso = 0;
}

/* A heap copy of n elements of size at src, or NULL (also for 0). */
static void *
dup_array(const void *src, size_t n, size_t size)
{
	void *p;

	if (n == 0 || (p = calloc(n, size)) == NULL)
		return NULL;
	return memcpy(p, src, n * size);
}

int
ipset_copy(struct kiwi_ipset *dst, const struct kiwi_ipset *src)
{
	*dst = *src;
	dst->rules = dup_array(src->rules, src->nrules, sizeof(*src->rules));
	dst->also = dup_array(src->also, src->nalso, sizeof(*src->also));
	if ((src->nrules > 0 && dst->rules == NULL) ||
	    (src->nalso > 0 && dst->also == NULL)) {
		ipset_free(dst);
		return -ENOMEM;
	}
	return 0;
}

int
ipset_same_rules(const struct kiwi_ipset *a, const struct kiwi_ipset *b)
{
	size_t i;

	if (!addr_equal(&a->addr, &b->addr) || a->nrules != b->nrules)
		return 0;
	for (i = 0; i < a->nrules; i++) {
		const struct kiwi_rule *x = &a->rules[i], *y = &b->rules[i];

		if (x->proto != y->proto || x->port != y->port)
			return 0;
	}
	return 1;
}

int
ipset_equal(const struct kiwi_ipset *a, const struct kiwi_ipset *b)
{
	size_t i;

	if (!ipset_same_rules(a, b) || a->nalso != b->nalso ||
	    strcmp(a->service, b->service) != 0)
		return 0;
	for (i = 0; i < a->nalso; i++)
		if (strcmp(a->also[i], b->also[i]) != 0)
			return 0;
	return 1;
}
