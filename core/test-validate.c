/*
 * test-validate.c — member data rules (UTF-8 itself: common/test-utf8.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "validate.h"

static void
test_username(void **state)
{
	char name[USERNAME_MAX + 2];

	(void)state;
	assert_true(validate_username("jsmith"));
	assert_true(validate_username("J.Smith-2_x"));
	assert_true(validate_username("a"));
	assert_true(validate_username("1a"));
	assert_true(validate_username("..."));
	assert_true(validate_username("1016x"));
	assert_false(validate_username(NULL));
	assert_false(validate_username(""));
	assert_false(validate_username("1016")); /* all digits */
	assert_false(validate_username("0"));
	assert_false(validate_username("j smith")); /* space */
	assert_false(validate_username("j@smith"));
	assert_false(validate_username("j+smith"));
	assert_false(validate_username("j\tsmith"));
	assert_false(validate_username("j\xc3\xa9r\xc3\xb4me")); /* non-ASCII */

	memset(name, 'a', USERNAME_MAX);
	name[USERNAME_MAX] = '\0';
	assert_true(validate_username(name)); /* 100 */
	name[USERNAME_MAX] = 'a';
	name[USERNAME_MAX + 1] = '\0';
	assert_false(validate_username(name)); /* 101 */
}

static void
test_email(void **state)
{
	static const char *const good[] = {
	    "a@b.co",
	    "john.smith@example.org",
	    "john+tag@example.org",
	    "x_y-z!#$%&'*+/=?^`{|}~@mail.example.co.uk",
	    "a@b-c.d",
	    "a@1.2",
	    "UPPER@EXAMPLE.ORG",
	};
	static const char *const bad[] = {
	    "",
	    "plain",
	    "@example.org",
	    "a@",
	    "a@b", /* no dot in the domain */
	    "a@@b.co",
	    "a@b@c.co",
	    "a b@c.co", /* space */
	    "a@b .co",
	    ".a@b.co",	 /* leading dot */
	    "a.@b.co",	 /* trailing dot */
	    "a..b@c.co", /* double dot */
	    "a@.b.co",
	    "a@b.co.",
	    "a@b..co",
	    "a@-b.co", /* label starting with '-' */
	    "a@b-.co", /* label ending with '-' */
	    "a@b_c.co",
	    "a(b)@c.co",
	    "a,b@c.co",
	    "a:b@c.co",
	    "a;b@c.co",
	    "a<b>@c.co",
	    "a[b]@c.co",
	    "a\\b@c.co",
	    "\"ab\"@c.co",
	    "a\n@b.co",
	    "a\x7f@b.co",
	    "\xc3\xa9@b.co", /* non-ASCII */
	    "a@\xc3\xa9.co",
	};
	char s[200];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!validate_email(good[i]))
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (validate_email(bad[i]))
			fail_msg("accepted %s", bad[i]);
	assert_false(validate_email(NULL));

	/* local part 64 is fine, 65 is not */
	memset(s, 'a', 64);
	strcpy(s + 64, "@b.co");
	assert_true(validate_email(s));
	memset(s, 'a', 65);
	strcpy(s + 65, "@b.co");
	assert_false(validate_email(s));

	/* 99 characters in all is fine, 100 is not */
	memset(s, 'a', 60);
	s[60] = '@';
	memset(s + 61, 'b', 35);
	strcpy(s + 96, ".co");
	assert_int_equal(strlen(s), 99);
	assert_true(validate_email(s));
	memset(s + 61, 'b', 36);
	strcpy(s + 97, ".co");
	assert_int_equal(strlen(s), 100);
	assert_false(validate_email(s));

	/* a domain label of 64 characters */
	s[0] = 'a';
	s[1] = '@';
	memset(s + 2, 'b', 64);
	strcpy(s + 66, ".co");
	assert_false(validate_email(s));
	memset(s + 2, 'b', 63);
	strcpy(s + 65, ".co");
	assert_true(validate_email(s));
}

static void
test_name(void **state)
{
	char s[4 * 60];

	(void)state;
	assert_true(validate_name(""));
	assert_true(validate_name("John"));
	assert_true(validate_name("J\xc3\xa9r\xc3\xb4me O'Brien-Smith"));
	assert_true(validate_name("\xe5\xbc\xa0\xe4\xbc\x9f")); /* CJK */
	assert_false(validate_name(NULL));
	assert_false(validate_name("a\nb"));
	assert_false(validate_name("a\rb"));
	assert_false(validate_name("a\tb"));
	assert_false(validate_name("\x1b[31m"));
	assert_false(validate_name("a\x7f"));
	assert_false(validate_name("a\xc2\x85"));     /* U+0085 NEL */
	assert_false(validate_name("a\xe2\x80\xa8")); /* U+2028 */
	assert_false(validate_name("a\xc3"));	      /* bad UTF-8 */
	assert_false(validate_name("\xed\xa0\x80"));  /* surrogate */

	/* 50 code points fine, 51 not: counted in code points, not bytes */
	s[0] = '\0';
	for (int i = 0; i < NAME_MAX_CP; i++)
		strcat(s, "\xc3\xa9"); /* 2 bytes each */
	assert_true(validate_name(s));
	strcat(s, "e");
	assert_false(validate_name(s));
	memset(s, 'x', 51);
	s[51] = '\0';
	assert_false(validate_name(s));
	s[50] = '\0';
	assert_true(validate_name(s));
}

static void
test_status(void **state)
{
	(void)state;
	assert_true(validate_status("activated"));
	assert_true(validate_status("unactivated"));
	assert_true(validate_status("disabled"));
	assert_false(validate_status("Activated"));
	assert_false(validate_status("locked"));
	assert_false(validate_status(""));
	assert_false(validate_status(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_username),
	    cmocka_unit_test(test_email),
	    cmocka_unit_test(test_name),
	    cmocka_unit_test(test_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
