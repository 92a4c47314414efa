/* Address and range parsing, from the configuration and from Services. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[KIWI_CIDRSTRLEN + 8], out[KIWI_CIDRSTRLEN];
	struct kiwi_addr a, b;
	struct kiwi_cidr c;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (addr_parse(buf, &a) == 0) {
		/* The text form parses back to the same address. */
		if (addr_parse(addr_fmt(&a, out, sizeof(out)), &b) != 0 ||
		    !addr_equal(&a, &b))
			__builtin_trap();
		(void)addr_is_announceable(&a);
	}
	if (cidr_parse(buf, &c) == 0) {
		struct kiwi_cidr d;

		if (cidr_parse(cidr_fmt(&c, out, sizeof(out)), &d) != 0 ||
		    !addr_equal(&c.net, &d.net) || c.prefix != d.prefix ||
		    !cidr_contains(&c, &c.net))
			__builtin_trap();
	}
	return 0;
}
