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
		assert_int_equal(
		    msg_name_set(s->rules[i].comment, "default/web"), 0);
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
	expect_bad(buf, (size_t)len, 22, 1); /* reserved */
	expect_bad(buf, (size_t)len, 24, 0); /* empty service */
	expect_bad(buf, (size_t)len, 26, ' '); /* bad character */
	expect_bad(buf, (size_t)len, 24 + 20, 'x'); /* junk after NUL */
	expect_bad(buf, (size_t)len, 160, 1); /* reserved */
	expect_bad(buf, (size_t)len, r0, 1); /* proto ICMP */
	expect_bad(buf, (size_t)len, r0 + 1, 1); /* reserved */
	expect_bad(buf, (size_t)len, r0 + 4, '\''); /* comment quote */
	expect_bad(buf, (size_t)len, r0 + 4 + 127, 'x'); /* no NUL */
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
	raw[0] = 2, raw[1] = MSG_SHUTDOWN;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(msg_recv(sv[1], &m), -EBADMSG);
	raw[0] = 1, raw[2] = 1;
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
	assert_int_equal(msg_send_u32(sv[0], MSG_VOUCH, 6666), 0);
	assert_int_equal(msg_recv(sv[1], &m), 1);
	assert_int_equal(m.type, MSG_VOUCH);
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
		cmocka_unit_test(test_ipset_roundtrip),
		cmocka_unit_test(test_ipset_refusals),
		cmocka_unit_test(test_addr_result),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_u32_u64),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
