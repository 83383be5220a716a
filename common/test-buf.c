/*
 * test-buf.c — the growable buffer, plain and wiping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static void
test_append(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	buf_add(&b, "", 0);
	assert_string_equal(b.p, "");
	buf_adds(&b, "a=");
	buf_addu(&b, 18446744073709551615ULL);
	buf_addc(&b, ';');
	buf_addf(&b, " %s/%d", "x", -3);
	assert_string_equal(b.p, "a=18446744073709551615; x/-3");
	assert_int_equal(b.len, strlen(b.p));
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	/* growth past the first block keeps the content */
	for (int i = 0; i < 1000; i++)
		buf_add(&b, "0123456789", 10);
	assert_int_equal(b.len, 10000);
	assert_true(b.cap > b.len);
	assert_memory_equal(b.p + 9990, "0123456789", 11);
	s = buf_detach(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(strlen(s), 10000);
	free(s);
	s = buf_detach(&b); /* empty: "" , never NULL */
	assert_string_equal(s, "");
	free(s);
	buf_free(&b);
	buf_free(&b); /* twice */
	buf_free(NULL);
}

static void
test_trim(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_trim(&b); /* nothing yet */
	buf_adds(&b, " \t subject line\t ");
	buf_trim(&b);
	assert_string_equal(b.p, "subject line");
	assert_int_equal(b.len, 12);
	buf_reset(&b);
	buf_adds(&b, "  ");
	buf_trim(&b);
	assert_string_equal(b.p, "");
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_wipe(void **state)
{
	struct buf b = BUF_INIT_WIPE;
	char *s;

	(void)state;
	assert_true(b.wipe);
	for (int i = 0; i < 100; i++)
		buf_addf(&b, "secret-%03d ", i);
	assert_int_equal(b.len, 1100);
	assert_memory_equal(b.p, "secret-000 secret-001", 21);
	buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.cap, 0);

	buf_adds(&b, "token");
	assert_true(b.wipe); /* the flag outlives free and detach */
	s = buf_detach(&b);
	assert_string_equal(s, "token");
	assert_true(b.wipe);
	buf_wipe_str(s);
	buf_wipe_str(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
