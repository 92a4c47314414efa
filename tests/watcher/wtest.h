/* Capturing what kiwi logs (to stderr) so tests can check it. */
#ifndef KIWI_TEST_LOGCAP_H
#define KIWI_TEST_LOGCAP_H

void logcap_begin(void);
/* Everything logged since logcap_begin; static, NUL-terminated. */
const char *logcap_text(void);
void logcap_end(void);

#endif
