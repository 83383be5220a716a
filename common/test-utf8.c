/*
 * test-utf8.c — strict UTF-8: the one decoder every layer uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/utf8.h"

static void
test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
	    {"", 0, true},
	    {"plain ascii", 11, true},
	    {"caf\xc3\xa9", 5, true},	    /* U+00E9 */
	    {"\xe2\x82\xac", 3, true},	    /* U+20AC */
	    {"\xf0\x9f\x98\x80", 4, true},  /* U+1F600 */
	    {"\xf4\x8f\xbf\xbf", 4, true},  /* U+10FFFF */
	    {"\xed\x9f\xbf", 3, true},	    /* U+D7FF */
	    {"\xee\x80\x80", 3, true},	    /* U+E000 */
	    {"\xc2\x80", 2, true},	    /* U+0080, shortest 2 */
	    {"\xe0\xa0\x80", 3, true},	    /* U+0800, shortest 3 */
	    {"\xf0\x90\x80\x80", 4, true},  /* U+10000, shortest 4 */
	    {"\xc0\xaf", 2, false},	    /* overlong '/' */
	    {"\xc1\xbf", 2, false},	    /* overlong */
	    {"\xe0\x80\xaf", 3, false},	    /* overlong '/' */
	    {"\xe0\x9f\xbf", 3, false},	    /* overlong U+07FF */
	    {"\xf0\x80\x80\xaf", 4, false}, /* overlong '/' */
	    {"\xf0\x8f\xbf\xbf", 4, false}, /* overlong U+FFFF */
	    {"\xed\xa0\x80", 3, false},	    /* U+D800 surrogate */
	    {"\xed\xbf\xbf", 3, false},	    /* U+DFFF surrogate */
	    {"\xf4\x90\x80\x80", 4, false}, /* U+110000 */
	    {"\xf5\x80\x80\x80", 4, false}, /* lead byte F5 */
	    {"\xff", 1, false},		    /* never in UTF-8 */
	    {"\x80", 1, false},		    /* lone continuation */
	    {"a\xc3", 2, false},	    /* truncated */
	    {"\xe2\x82", 2, false},	    /* truncated */
	    {"\xe2\x28\xa1", 3, false},	    /* bad continuation */
	    {"\xc3\xa9", 1, false},	    /* len cuts a sequence */
	    {"a\0b", 3, false},		    /* NUL inside len */
	    {"ab\0", 2, true},		    /* NUL outside len */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (utf8_valid(cases[i].s, cases[i].len) != cases[i].ok)
			fail_msg("case %zu: want %d", i, cases[i].ok);
	assert_false(utf8_valid(NULL, 0));
}

static void
test_utf8_count(void **state)
{
	(void)state;
	assert_int_equal(utf8_count(""), 0);
	assert_int_equal(utf8_count("abc"), 3);
	assert_int_equal(utf8_count("caf\xc3\xa9"), 4);
	assert_int_equal(utf8_count("\xe2\x82\xac\xf0\x9f\x98\x80"), 2);
}

static void
test_utf8_decode(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 0x41);
	assert_int_equal(utf8_decode("\xc3\xa9x", 3, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(utf8_decode("\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(utf8_decode("\xf0\x9f\x98\x80", 4, NULL), 4);
	/* overlongs, a surrogate, NUL, a cut sequence, an empty span */
	assert_int_equal(utf8_decode("\xc0\xaf", 2, &cp), 0);
	assert_int_equal(utf8_decode("\xe0\x80\xaf", 3, &cp), 0);
	assert_int_equal(utf8_decode("\xf0\x80\x80\xaf", 4, &cp), 0);
	assert_int_equal(utf8_decode("\xed\xa0\x80", 3, &cp), 0);
	assert_int_equal(utf8_decode("\0", 1, &cp), 0);
	assert_int_equal(utf8_decode("\xe2\x82\xac", 2, &cp), 0);
	assert_int_equal(utf8_decode("a", 0, &cp), 0);
}

static void
test_utf8_lead_len(void **state)
{
	(void)state;
	assert_int_equal(utf8_lead_len(0x00), 1);
	assert_int_equal(utf8_lead_len(0x7f), 1);
	assert_int_equal(utf8_lead_len(0x80), 0);
	assert_int_equal(utf8_lead_len(0xbf), 0);
	assert_int_equal(utf8_lead_len(0xc1), 0);
	assert_int_equal(utf8_lead_len(0xc2), 2);
	assert_int_equal(utf8_lead_len(0xdf), 2);
	assert_int_equal(utf8_lead_len(0xe0), 3);
	assert_int_equal(utf8_lead_len(0xef), 3);
	assert_int_equal(utf8_lead_len(0xf0), 4);
	assert_int_equal(utf8_lead_len(0xf4), 4);
	assert_int_equal(utf8_lead_len(0xf5), 0);
	assert_int_equal(utf8_lead_len(0xff), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_utf8_count),
	    cmocka_unit_test(test_utf8_decode),
	    cmocka_unit_test(test_utf8_lead_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
