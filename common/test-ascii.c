/*
 * test-ascii.c — byte classes and trimming, the same in every locale.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <string.h>

#include "common/ascii.h"

static void
test_classes(void **state)
{
	(void)state;
	/* A locale that would widen <ctype.h>'s answers changes nothing. */
	setlocale(LC_ALL, "C.UTF-8");
	for (int c = -128; c < 128; c++) {
		char ch = (char)c;
		bool digit = c >= '0' && c <= '9';
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

		assert_int_equal(ascii_is_digit(ch), digit);
		assert_int_equal(ascii_is_alpha(ch), alpha);
		assert_int_equal(ascii_is_alnum(ch), digit || alpha);
		assert_int_equal(ascii_is_blank(ch), c == ' ' || c == '\t');
		assert_int_equal(ascii_is_control(ch),
				 (c >= 0 && c < 0x20) || c == 0x7f);
		assert_int_equal(ascii_to_lower(ch),
				 c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	/* UTF-8 bytes are never controls, letters or blanks. */
	assert_false(ascii_is_control('\xc2'));
	assert_false(ascii_is_alpha('\xc3'));
	assert_false(ascii_is_blank('\xa0'));
}

static void
trimmed(const char *in, const char *want)
{
	const char *s = in, *e = in + strlen(in);

	ascii_trim(&s, &e);
	assert_int_equal((size_t)(e - s), strlen(want));
	assert_memory_equal(s, want, strlen(want));
}

static void
test_trim(void **state)
{
	(void)state;
	trimmed("", "");
	trimmed("   ", "");
	trimmed("\t \t", "");
	trimmed("a", "a");
	trimmed("  a b\t", "a b");
	trimmed("\ta\t\tb  ", "a\t\tb");
	/* only SP and HTAB: CR, LF and NBSP stay */
	trimmed("\r a \n", "\r a \n");
	trimmed(" \xc2\xa0x ", "\xc2\xa0x");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classes),
	    cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
