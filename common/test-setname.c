/*
 * test-setname.c — the one template set name rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/setname.h"

static void
test_setname(void **state)
{
	char name[SETNAME_MAX + 2];

	(void)state;
	assert_true(setname_valid("default"));
	assert_true(setname_valid("example-brand"));
	assert_true(setname_valid("Acme_2"));
	assert_true(setname_valid("-"));
	assert_false(setname_valid(NULL));
	assert_false(setname_valid(""));
	/* no '.': a set can never be "." or ".." */
	assert_false(setname_valid("."));
	assert_false(setname_valid(".."));
	assert_false(setname_valid("../etc"));
	assert_false(setname_valid("a.b"));
	assert_false(setname_valid(".hidden"));
	assert_false(setname_valid("a/b"));
	assert_false(setname_valid("a b"));
	assert_false(setname_valid("caf\xc3\xa9"));
	assert_false(setname_valid("a\nb"));

	memset(name, 'x', SETNAME_MAX);
	name[SETNAME_MAX] = '\0';
	assert_true(setname_valid(name));
	name[SETNAME_MAX] = 'x';
	name[SETNAME_MAX + 1] = '\0';
	assert_false(setname_valid(name));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_setname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
