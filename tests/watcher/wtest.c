#include "wtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int saved = -1;
static FILE *cap;
static char text[65536];

void
logcap_begin(void)
{
	fflush(stderr);
	if ((cap = tmpfile()) == NULL)
		abort();
	saved = dup(STDERR_FILENO);
	if (saved < 0 || dup2(fileno(cap), STDERR_FILENO) < 0)
		abort();
}

const char *
logcap_text(void)
{
	size_t n;

	rewind(cap);
	n = fread(text, 1, sizeof(text) - 1, cap);
	text[n] = '\0';
	return text;
}

void
logcap_end(void)
{
	if (saved < 0)
		return;
	dup2(saved, STDERR_FILENO);
	close(saved);
	saved = -1;
	fclose(cap);
	cap = NULL;
}

void
assert_rule(const struct kiwi_ipset *s, size_t i, uint8_t proto, uint16_t port)
{
	assert_true(i < s->nrules);
	assert_int_equal(s->rules[i].proto, proto);
	assert_int_equal(s->rules[i].port, port);
}
