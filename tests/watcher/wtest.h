/* What the watcher's tests share. */
#ifndef KIWI_TEST_WTEST_H
#define KIWI_TEST_WTEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

/* Capturing what kiwi logs (to stderr) so tests can check it. */
void logcap_begin(void);
/* Everything logged since logcap_begin; static, NUL-terminated. */
const char *logcap_text(void);
void logcap_end(void);

/* Rule i of s is proto/port, commented with its Service. */
void assert_rule(
    const struct kiwi_ipset *s, size_t i, uint8_t proto, uint16_t port);

#endif
