/* The message codec: framing, bodies, and strict refusal of bad ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/util.h"

static struct kiwi_msg m;

static void
make_ipset(struct kiwi_ipset *s, size_t n)
{
	size_t i;

	ipset_init(s);
	assert_int_equal(addr_parse("192.168.1.41", &s->addr), 0);
	assert_int_equal(msg_name_set(s->service, "default/web"), 0);
	s->nrules = n;
	s->rules = n ? calloc(n, sizeof(*s->rules)) : NULL;
	for (i = 0; i < n; i++) {
		s->rules[i].proto = i % 2 ? KIWI_PROTO_UDP : KIWI_PROTO_TCP;
		s->rules[i].port = (uint16_t)(1000 + i);
	}
}

static void
test_ipset_roundtrip(void **state)
{
	static uint8_t buf[KIWI_MSG_MAX];
	struct kiwi_ipset a, b;
	size_t n;
	ssize_t len;

	(void)state;
	for (n = 0; n <= KIWI_MAX_RULES; n += 17) {
		make_ipset(&a, n);
		len = msg_encode_ipset(&a, buf, sizeof(buf));
		assert_int_equal(
		    len, KIWI_IPSET_WIRELEN + n * KIWI_RULE_WIRELEN);
		assert_int_equal(msg_decode_ipset(buf, (size_t)len, &b), 0);
		assert_true(ipset_equal(&a, &b));
		ipset_free(&b);
		/* One byte more or less is refused. */
		assert_int_equal(
		    msg_decode_ipset(buf, (size_t)len - 1, &b), -EBADMSG);
		assert_int_equal(
		    msg_decode_ipset(buf, (size_t)len + 1, &b), -EBADMSG);
		ipset_free(&a);
		ipset_free(&b);
	}
	make_ipset(&a, KIWI_MAX_RULES + 1);
	assert_int_equal(msg_encode_ipset(&a, buf, sizeof(buf)), -EINVAL);
	ipset_free(&a);
}

static void expect_bad(
    const uint8_t *good, size_t len, size_t off, uint8_t val);

/* The other Services of a shared address: valid, sorted, counted. */
static void
test_ipset_also(void **state)
{
	static uint8_t buf[KIWI_MSG_MAX];
	size_t at = KIWI_IPSET_WIRELEN + 2 * KIWI_RULE_WIRELEN;
	struct kiwi_ipset a, b;
	ssize_t len;

	(void)state;
	make_ipset(&a, 2);
	a.nalso = 2;
	assert_non_null(a.also = calloc(2, sizeof(*a.also)));
	assert_int_equal(msg_name_set(a.also[0], "default/x"), 0);
	assert_int_equal(msg_name_set(a.also[1], "kube/y"), 0);
	len = msg_encode_ipset(&a, buf, sizeof(buf));
	assert_int_equal(len, at + 2 * (size_t)KIWI_NAME_LEN);
	assert_int_equal(msg_decode_ipset(buf, (size_t)len, &b), 0);
	assert_true(ipset_equal(&a, &b));
	assert_string_equal(b.also[1], "kube/y");
	ipset_free(&b);
	expect_bad(buf, (size_t)len, at, 'a'); /* before the set's own */
	expect_bad(buf, (size_t)len, at + KIWI_NAME_LEN, 'a'); /* unsorted */
	expect_bad(buf, (size_t)len, at + 3, ' '); /* not a name */
	expect_bad(buf, (size_t)len, 22, 3); /* nalso vs length */
	/* The same Service twice. */
	assert_int_equal(msg_name_set(a.also[1], "default/x"), 0);
	len = msg_encode_ipset(&a, buf, sizeof(buf));
	assert_int_equal(msg_decode_ipset(buf, (size_t)len, &b), -EBADMSG);
	a.nalso = KIWI_MAX_ALSO + 1;
	assert_int_equal(msg_encode_ipset(&a, buf, sizeof(buf)), -EINVAL);
	a.nalso = 2;
	ipset_free(&a);
}

/* Flip one field of a valid encoded ipset and expect a refusal. */
static void
expect_bad(const uint8_t *good, size_t len, size_t off, uint8_t val)
{
	static uint8_t buf[KIWI_MSG_MAX];
	struct kiwi_ipset s;

	memcpy(buf, good, len);
	buf[off] = val;
	assert_int_equal(msg_decode_ipset(buf, len, &s), -EBADMSG);
	assert_null(s.rules);
}

static void
test_ipset_refusals(void **state)
{
	static uint8_t buf[KIWI_MSG_MAX];
	struct kiwi_ipset a;
	size_t r0 = KIWI_IPSET_WIRELEN;
	ssize_t len;

	(void)state;
	make_ipset(&a, 2);
	len = msg_encode_ipset(&a, buf, sizeof(buf));
	assert_true(len > 0);
	expect_bad(buf, (size_t)len, 0, 5); /* family */
	expect_bad(buf, (size_t)len, 1, 1); /* reserved */
	expect_bad(buf, (size_t)len, 10, 1); /* IPv4 tail not zero */
	expect_bad(buf, (size_t)len, 20, 3); /* nrules vs length */
	expect_bad(buf, (size_t)len, 22, 1); /* nalso vs length */
	expect_bad(buf, (size_t)len, 24, 0); /* empty service */
	expect_bad(buf, (size_t)len, 26, ' '); /* bad character */
	expect_bad(buf, (size_t)len, 24 + 20, 'x'); /* junk after NUL */
	expect_bad(buf, (size_t)len, 160, 1); /* reserved */
	expect_bad(buf, (size_t)len, r0, 1); /* proto ICMP */
	expect_bad(buf, (size_t)len, r0 + 1, 1); /* reserved */
	expect_bad(buf, (size_t)len, r0 + 4 + 1, 1); /* the second's too */
	/* Port 0. */
	memset(buf + r0 + 2, 0, 2);
	{
		struct kiwi_ipset s;

		assert_int_equal(
		    msg_decode_ipset(buf, (size_t)len, &s), -EBADMSG);
	}
	ipset_free(&a);
}

static void
test_addr_result(void **state)
{
	uint8_t buf[64];
	struct kiwi_addr a, b;
	int err;

	(void)state;
	assert_int_equal(addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(
	    msg_encode_addr(&a, buf, sizeof(buf)), KIWI_ADDR_WIRELEN);
	assert_int_equal(msg_decode_addr(buf, KIWI_ADDR_WIRELEN, &b), 0);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(
	    msg_decode_addr(buf, KIWI_ADDR_WIRELEN - 1, &b), -EBADMSG);
	assert_int_equal(msg_encode_result(&a, -EEXIST, buf, sizeof(buf)),
	    KIWI_RESULT_WIRELEN);
	assert_int_equal(
	    msg_decode_result(buf, KIWI_RESULT_WIRELEN, &b, &err), 0);
	assert_int_equal(err, -EEXIST);
	/* A positive error is not an errno value. */
	buf[20] = 5;
	buf[21] = buf[22] = buf[23] = 0;
	assert_int_equal(
	    msg_decode_result(buf, KIWI_RESULT_WIRELEN, &b, &err), -EBADMSG);
	assert_int_equal(addr_parse("2001:db8::5", &a), 0);
	assert_int_equal(
	    msg_encode_addr(&a, buf, sizeof(buf)), KIWI_ADDR_WIRELEN);
	assert_int_equal(msg_decode_addr(buf, KIWI_ADDR_WIRELEN, &b), 0);
	assert_true(addr_equal(&a, &b));
}

static void
test_frames(void **state)
{
	uint8_t raw[KIWI_MSG_MAX + 16];
	struct kiwi_ipset s;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	make_ipset(&s, 3);
	assert_int_equal(msg_send_ipset(sv[0], MSG_CLAIM, &s), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_CLAIM);
	assert_int_equal(m.len, KIWI_IPSET_WIRELEN + 3 * KIWI_RULE_WIRELEN);
	assert_int_equal(msg_recv(sv[1], &m), -EAGAIN);

	/* Bad version, reserved bits, type, length; a short frame. */
	memset(raw, 0, sizeof(raw));
	raw[0] = KIWI_MSG_VERSION + 1, raw[1] = MSG_SHUTDOWN;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	raw[0] = KIWI_MSG_VERSION - 1;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	raw[0] = KIWI_MSG_VERSION, raw[2] = 1;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	raw[2] = 0, raw[1] = MSG_TYPE_MAX + 1;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	raw[1] = MSG_SHUTDOWN, raw[4] = 4;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	assert_int_equal(send(sv[0], raw, 5, 0), 5);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	/* Oversized: truncated on receipt, and refused. */
	raw[4] = 0, raw[5] = 0, raw[6] = 1;
	assert_int_equal(
	    send(sv[0], raw, KIWI_MSG_MAX + 8, 0), KIWI_MSG_MAX + 8);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	/* The socket is still usable after refusals. */
	assert_int_equal(msg_send(sv[0], MSG_SHUTDOWN, NULL, 0), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_SHUTDOWN);
	assert_int_equal(m.len, 0);
	close(sv[0]);
	assert_int_equal(msg_recv(sv[1], &m), 0);
	close(sv[1]);
	ipset_free(&s);
}

static void
test_u32_u64(void **state)
{
	uint32_t v32;
	uint64_t v64;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(msg_send_u32(sv[0], MSG_LINK, 6666), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_LINK);
	assert_int_equal(msg_decode_u32(m.body, m.len, &v32), 0);
	assert_int_equal(v32, 6666);
	assert_int_equal(msg_decode_u32(m.body, m.len - 1, &v32), -EBADMSG);
	m.body[5] = 1;
	assert_int_equal(msg_decode_u32(m.body, m.len, &v32), -EBADMSG);
	assert_int_equal(
	    msg_send_u64(sv[0], MSG_LEASE, 0x123456789abcdefULL), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(msg_decode_u64(m.body, m.len, &v64), 0);
	assert_true(v64 == 0x123456789abcdefULL);
	assert_int_equal(msg_decode_u64(m.body, 4, &v64), -EBADMSG);
	close(sv[0]);
	close(sv[1]);
}

static void
test_stats(void **state)
{
	uint64_t out[KIWI_STATS_N] = { 0 }, in[KIWI_STATS_N] = { 0 };
	int sv[2];

	(void)state;
	in[STAT_W_EVENTS] = 7;
	in[KIWI_STATS_N - 1] = UINT64_MAX;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(msg_send_stats(sv[0], in), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_STATS);
	assert_int_equal(msg_decode_stats(m.body, m.len, out), 0);
	assert_memory_equal(in, out, sizeof(in));
	/* One counter short, or one byte long: refused. */
	assert_int_equal(msg_decode_stats(m.body, m.len - 8, out), -EBADMSG);
	assert_int_equal(msg_decode_stats(m.body, m.len + 1, out), -EBADMSG);
	assert_string_equal(msg_type_name(MSG_STATS), "STATS");
	close(sv[0]);
	close(sv[1]);
}

/* Commits of known times, counted as the netagent counts them. */
static void
make_nastats(struct kiwi_nastats *st)
{
	memset(st, 0, sizeof(*st));
	st->added = 3;
	st->removed = 1;
	st->retries = 2;
	st->refused = 4;
	nastats_observe(st, 10, true); /* the first bucket */
	nastats_observe(st, 500, true); /* on a bound: still the first */
	nastats_observe(st, 501, false); /* just over it: the second */
	nastats_observe(st, 9000000, true); /* over every bound */
}

static void
test_nastats(void **state)
{
	struct kiwi_nastats in, out;
	uint8_t buf[KIWI_NASTATS_WIRELEN];
	int sv[2];

	(void)state;
	make_nastats(&in);
	assert_int_equal(in.commits, 3);
	assert_int_equal(in.failures, 1);
	assert_int_equal(in.bucket[0], 2);
	assert_int_equal(in.bucket[1], 1);
	assert_int_equal(in.bucket[KIWI_COMMIT_BUCKETS], 1);
	assert_int_equal(in.commit_us, 9001011);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(msg_send_nastats(sv[0], &in), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_NA_STATS);
	assert_int_equal(m.len, KIWI_NASTATS_WIRELEN);
	assert_int_equal(msg_decode_nastats(m.body, m.len, &out), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	assert_string_equal(msg_type_name(MSG_NA_STATS), "NA_STATS");
	close(sv[0]);
	close(sv[1]);

	/* A size off by one byte or by a counter. */
	memcpy(buf, m.body, sizeof(buf));
	assert_int_equal(
	    msg_decode_nastats(buf, sizeof(buf) - 1, &out), -EBADMSG);
	assert_int_equal(
	    msg_decode_nastats(buf, sizeof(buf) - 8, &out), -EBADMSG);
	/* Buckets that do not add up to the commits and failures. */
	out = in;
	out.commits++;
	assert_int_equal(
	    msg_encode_nastats(&out, buf, sizeof(buf)), KIWI_NASTATS_WIRELEN);
	assert_int_equal(msg_decode_nastats(buf, sizeof(buf), &out), -EBADMSG);
	/* A summed time the buckets cannot hold, too little or too much. */
	out = in;
	out.commit_us = 1000;
	msg_encode_nastats(&out, buf, sizeof(buf));
	assert_int_equal(msg_decode_nastats(buf, sizeof(buf), &out), -EBADMSG);
	memset(&out, 0, sizeof(out));
	nastats_observe(&out, 10, true);
	out.commit_us = 501;
	msg_encode_nastats(&out, buf, sizeof(buf));
	assert_int_equal(msg_decode_nastats(buf, sizeof(buf), &out), -EBADMSG);
	/* Counts whose sum does not fit. */
	memset(&out, 0, sizeof(out));
	out.bucket[0] = out.bucket[1] = UINT64_MAX / 2 + 1;
	msg_encode_nastats(&out, buf, sizeof(buf));
	assert_int_equal(msg_decode_nastats(buf, sizeof(buf), &out), -EBADMSG);
	assert_int_equal(msg_encode_nastats(&in, buf, 8), -EMSGSIZE);
}

static void
test_note(void **state)
{
	struct kiwi_note in = { .why = ADDR_OUT_OF_RANGE }, out;
	uint8_t buf[KIWI_NOTE_WIRELEN], good[KIWI_NOTE_WIRELEN];
	static const size_t bad_at[] = { 0, 1, 21, 22, 23, 24 + 127 };
	int sv[2];
	size_t i;

	(void)state;
	assert_int_equal(addr_parse("203.0.113.7", &in.addr), 0);
	assert_int_equal(msg_name_set(in.service, "default/web"), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(msg_send_note(sv[0], &in), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_NOTE);
	assert_int_equal(msg_decode_note(m.body, m.len, &out), 0);
	assert_true(addr_equal(&in.addr, &out.addr));
	assert_int_equal(out.why, ADDR_OUT_OF_RANGE);
	assert_string_equal(out.service, "default/web");
	assert_string_equal(msg_type_name(MSG_NOTE), "NOTE");
	close(sv[0]);
	close(sv[1]);

	memcpy(good, m.body, sizeof(good));
	assert_int_equal(
	    msg_decode_note(good, sizeof(good) - 1, &out), -EBADMSG);
	/* A bad family, reserved bytes set, an unterminated name. */
	for (i = 0; i < KIWI_ARRAY_SIZE(bad_at); i++) {
		memcpy(buf, good, sizeof(buf));
		buf[bad_at[i]] = 9;
		assert_int_equal(
		    msg_decode_note(buf, sizeof(buf), &out), -EBADMSG);
	}
	/* No reason, or one beyond the last, either way. */
	memcpy(buf, good, sizeof(buf));
	buf[20] = ADDR_CLAIMABLE;
	assert_int_equal(msg_decode_note(buf, sizeof(buf), &out), -EBADMSG);
	buf[20] = ADDR_CLASS_MAX + 1;
	assert_int_equal(msg_decode_note(buf, sizeof(buf), &out), -EBADMSG);
	buf[20] = ADDR_RANGE_EDGE;
	assert_int_equal(msg_decode_note(buf, sizeof(buf), &out), 0);
	in.why = ADDR_CLAIMABLE;
	assert_int_equal(msg_encode_note(&in, buf, sizeof(buf)), -EINVAL);
	in.why = ADDR_NOT_ANNOUNCEABLE;
	in.service[0] = '\0';
	assert_int_equal(msg_encode_note(&in, buf, sizeof(buf)), -EINVAL);
}

static void
test_names(void **state)
{
	char name[KIWI_NAME_LEN];
	char longname[KIWI_NAME_LEN + 1];

	(void)state;
	assert_true(msg_name_valid("kube-system/my.svc_1"));
	assert_false(msg_name_valid(""));
	assert_false(msg_name_valid("a b"));
	assert_false(msg_name_valid("a\"b"));
	assert_false(msg_name_valid("a\nb"));
	memset(longname, 'a', KIWI_NAME_LEN);
	longname[KIWI_NAME_LEN] = '\0';
	assert_int_equal(msg_name_set(name, longname), -ENAMETOOLONG);
	longname[KIWI_NAME_LEN - 1] = '\0';
	assert_int_equal(msg_name_set(name, longname), 0);
	assert_int_equal(proto_parse("TCP"), KIWI_PROTO_TCP);
	assert_int_equal(proto_parse("sctp"), KIWI_PROTO_SCTP);
	assert_int_equal(proto_parse("icmp"), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipset_also),
		cmocka_unit_test(test_ipset_roundtrip),
		cmocka_unit_test(test_ipset_refusals),
		cmocka_unit_test(test_addr_result),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_u32_u64),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_nastats),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
