/*
 * Replies wait for their commit, keep their order, and never block the
 * netagent on a full socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/msg.h"
#include "common/util.h"
#include "netagent/outbox.h"

static int fds[2];

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	assert_int_equal(set_nonblock(fds[0]), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	close(fds[0]);
	close(fds[1]);
	return 0;
}

static struct kiwi_addr
addr_n(uint32_t n)
{
	struct kiwi_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.u.v4.s_addr = htonl(0x0a000000 + n);
	return a;
}

/* The next reply on the far end is a RESULT for address n with err. */
static void
expect_result(uint32_t n, int err)
{
	struct kiwi_msg m;
	struct kiwi_addr a, want = addr_n(n);
	int e;

	assert_int_equal(msg_recv(fds[1], &m), 1);
	assert_int_equal(m.type, MSG_RESULT);
	assert_int_equal(msg_decode_result(m.body, m.len, &a, &e), 0);
	assert_true(addr_equal(&a, &want));
	assert_int_equal(e, err);
}

static void
test_wait_for_commit(void **state)
{
	struct outbox o = { 0 };
	struct kiwi_addr a;
	struct kiwi_msg m;
	struct reply *r;
	size_t n;

	(void)state;
	a = addr_n(1);
	assert_int_equal(outbox_push(&o, MSG_RESULT, &a, 0), 0);
	a = addr_n(2);
	assert_int_equal(outbox_push(&o, MSG_RESULT, &a, 0), 0);
	assert_int_equal(outbox_push(&o, MSG_RELEASE_ALL_DONE, NULL, 0), 0);
	assert_false(outbox_sendable(&o));
	assert_int_equal(outbox_send(&o, fds[0]), 0);
	assert_int_equal(msg_recv(fds[1], &m), -EAGAIN);

	/* The batch is what the commit may still change. */
	r = outbox_batch(&o, &n);
	assert_int_equal(n, 3);
	r[1].error = -EAGAIN;
	outbox_release(&o);
	assert_true(outbox_sendable(&o));
	assert_int_equal(outbox_backlog(&o), 3);
	assert_int_equal(outbox_send(&o, fds[0]), 0);
	expect_result(1, 0);
	expect_result(2, -EAGAIN);
	assert_int_equal(msg_recv(fds[1], &m), 1);
	assert_int_equal(m.type, MSG_RELEASE_ALL_DONE);
	assert_int_equal(outbox_backlog(&o), 0);
	outbox_free(&o);
}

/* Every RESULT waiting on the far end, checked in order from *next. */
static void
drain_results(uint32_t *next)
{
	struct kiwi_msg m;
	struct kiwi_addr a, want;
	int e;

	while (msg_recv(fds[1], &m) == 1) {
		want = addr_n((*next)++);
		assert_int_equal(msg_decode_result(m.body, m.len, &a, &e), 0);
		assert_true(addr_equal(&a, &want));
		assert_int_equal(e, 0);
	}
}

/* More than the socket holds: what does not fit waits, in order. */
static void
test_full_socket(void **state)
{
	struct outbox o = { 0 };
	struct kiwi_addr a;
	uint32_t i, next = 0, total = 5000;

	(void)state;
	for (i = 0; i < total; i++) {
		a = addr_n(i);
		assert_int_equal(outbox_push(&o, MSG_RESULT, &a, 0), 0);
	}
	outbox_release(&o);
	assert_int_equal(outbox_send(&o, fds[0]), 0);
	assert_true(outbox_sendable(&o)); /* the socket is full */

	/* A batch arriving meanwhile waits for its own commit. */
	a = addr_n(total);
	assert_int_equal(outbox_push(&o, MSG_RESULT, &a, -1), 0);
	while (outbox_sendable(&o)) {
		drain_results(&next);
		assert_int_equal(outbox_send(&o, fds[0]), 0);
	}
	drain_results(&next);
	assert_int_equal(next, total);
	assert_int_equal(outbox_backlog(&o), 1);
	outbox_release(&o);
	assert_int_equal(outbox_send(&o, fds[0]), 0);
	expect_result(total, -1);
	outbox_free(&o);
}

static void
test_peer_gone(void **state)
{
	struct outbox o = { 0 };
	struct kiwi_addr a = addr_n(7);

	(void)state;
	assert_int_equal(outbox_push(&o, MSG_RESULT, &a, 0), 0);
	outbox_release(&o);
	close(fds[1]);
	fds[1] = -1;
	assert_int_equal(outbox_send(&o, fds[0]), -EPIPE);
	outbox_clear(&o);
	assert_int_equal(outbox_backlog(&o), 0);
	outbox_free(&o);
	outbox_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_wait_for_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_full_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_peer_gone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
