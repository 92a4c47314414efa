/* The message decoder the netagent trusts with hostile frames. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/msg.h"

static struct kiwi_msg m;

/* What the NA_STATS and NOTE decoders accept must encode back the same. */
static void
decode_others(const uint8_t *body, size_t len)
{
	uint8_t buf[KIWI_NOTE_WIRELEN + KIWI_NASTATS_WIRELEN];
	struct kiwi_nastats st;
	struct kiwi_note n;

	if (msg_decode_nastats(body, len, &st) == 0 &&
	    (msg_encode_nastats(&st, buf, sizeof(buf)) != (ssize_t)len ||
	        memcmp(buf, body, len) != 0))
		__builtin_trap();
	if (msg_decode_note(body, len, &n) == 0 &&
	    (msg_encode_note(&n, buf, sizeof(buf)) != (ssize_t)len ||
	        memcmp(buf, body, len) != 0))
		__builtin_trap();
}

static void
decode_all(const uint8_t *body, size_t len)
{
	struct kiwi_ipset s;
	struct kiwi_addr a;
	uint32_t v32;
	uint64_t v64;
	int err;

	if (msg_decode_ipset(body, len, &s) == 0) {
		/* What was accepted must survive a round trip unchanged. */
		static uint8_t buf[KIWI_MSG_MAX];
		struct kiwi_ipset t;
		ssize_t n = msg_encode_ipset(&s, buf, sizeof(buf));

		if (n != (ssize_t)len || memcmp(buf, body, len) != 0 ||
		    msg_decode_ipset(buf, (size_t)n, &t) != 0 ||
		    !ipset_equal(&s, &t))
			__builtin_trap();
		ipset_free(&t);
		ipset_free(&s);
	}
	decode_others(body, len);
	(void)msg_decode_addr(body, len, &a);
	(void)msg_decode_result(body, len, &a, &err);
	(void)msg_decode_u32(body, len, &v32);
	(void)msg_decode_u64(body, len, &v64);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (msg_parse_frame(data, size, &m) == 0) {
		if (m.len != size - KIWI_MSG_HDRLEN)
			__builtin_trap();
		decode_all(data + KIWI_MSG_HDRLEN, m.len);
	}
	decode_all(data, size);
	return 0;
}
