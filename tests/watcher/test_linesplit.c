/* The line splitter, fed streams cut everywhere. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "watcher/linesplit.h"

struct got {
	char text[4096]; /* every line, each followed by '|' */
	size_t n;
	int lines;
	int stop_after; /* return -EINTR after this many lines, if > 0 */
};

static int
collect(void *arg, char *line, size_t len)
{
	struct got *g = arg;

	assert_int_equal(strlen(line), len);
	assert_true(g->n + len + 1 < sizeof(g->text));
	memcpy(g->text + g->n, line, len);
	g->n += len;
	g->text[g->n++] = '|';
	g->text[g->n] = '\0';
	g->lines++;
	if (g->stop_after > 0 && g->lines == g->stop_after)
		return -EINTR;
	return 0;
}

static const char stream[] = "{\"type\":\"ADDED\"}\n"
                             "\n"
                             "second line\r\n"
                             "x\n"
                             "\n\n"
                             "{\"last\":true}\n"
                             "tail without newline";
static const char want[] = "{\"type\":\"ADDED\"}|second line|x|"
                           "{\"last\":true}|";

static void
test_every_cut(void **state)
{
	size_t len = strlen(stream), cut;
	struct linesplit ls;
	struct got g;

	(void)state;
	for (cut = 0; cut <= len; cut++) {
		memset(&g, 0, sizeof(g));
		linesplit_init(&ls, 1024);
		assert_int_equal(
		    linesplit_feed(&ls, stream, cut, collect, &g), 0);
		assert_int_equal(
		    linesplit_feed(&ls, stream + cut, len - cut, collect, &g),
		    0);
		assert_string_equal(g.text, want);
		assert_int_equal(
		    linesplit_pending(&ls), strlen("tail without newline"));
		linesplit_free(&ls);
	}
}

static void
test_one_byte(void **state)
{
	size_t len = strlen(stream), i;
	struct linesplit ls;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	linesplit_init(&ls, 1024);
	for (i = 0; i < len; i++)
		assert_int_equal(
		    linesplit_feed(&ls, stream + i, 1, collect, &g), 0);
	assert_string_equal(g.text, want);
	assert_int_equal(g.lines, 4);
	linesplit_free(&ls);
}

static void
test_too_long(void **state)
{
	struct linesplit ls;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	linesplit_init(&ls, 8);
	/* Exactly the limit is fine, one more is not. */
	assert_int_equal(linesplit_feed(&ls, "12345678\n", 9, collect, &g), 0);
	assert_int_equal(linesplit_feed(&ls, "1234", 4, collect, &g), 0);
	assert_int_equal(
	    linesplit_feed(&ls, "56789", 5, collect, &g), -EMSGSIZE);
	/* The stream stays broken, even for a good line. */
	assert_int_equal(
	    linesplit_feed(&ls, "\nok\n", 4, collect, &g), -EMSGSIZE);
	assert_string_equal(g.text, "12345678|");
	linesplit_reset(&ls);
	assert_int_equal(linesplit_feed(&ls, "ok\n", 3, collect, &g), 0);
	assert_string_equal(g.text, "12345678|ok|");
	linesplit_free(&ls);
}

static void
test_reset_drops_partial(void **state)
{
	struct linesplit ls;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	linesplit_init(&ls, 64);
	assert_int_equal(linesplit_feed(&ls, "{\"half", 6, collect, &g), 0);
	linesplit_reset(&ls);
	assert_int_equal(linesplit_feed(&ls, "new\n", 4, collect, &g), 0);
	assert_string_equal(g.text, "new|");
	linesplit_free(&ls);
}

static void
test_callback_stops(void **state)
{
	struct linesplit ls;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.stop_after = 1;
	linesplit_init(&ls, 64);
	assert_int_equal(
	    linesplit_feed(&ls, "a\nb\nc\n", 6, collect, &g), -EINTR);
	assert_string_equal(g.text, "a|");
	linesplit_free(&ls);
}

static void
test_only_empty(void **state)
{
	struct linesplit ls;
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	linesplit_init(&ls, 64);
	assert_int_equal(linesplit_feed(&ls, "\n\r\n\n", 4, collect, &g), 0);
	assert_int_equal(linesplit_feed(&ls, "", 0, collect, &g), 0);
	assert_int_equal(g.lines, 0);
	linesplit_free(&ls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_cut),
		cmocka_unit_test(test_one_byte),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_reset_drops_partial),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_only_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
