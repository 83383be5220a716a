/*
 * test-page.c — the pure parts of the pages (SPEC §9): where they live
 * under hosturl, and which POSTs count as coming from another site.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "page.h"

static void
test_base(void **state)
{
	(void)state;
	assert_string_equal(page_base("http://127.0.0.1:8080"), "");
	assert_string_equal(page_base("https://example.org/ps"), "/ps");
	assert_string_equal(page_base("https://example.org/a/b"), "/a/b");
	assert_string_equal(page_base("nonsense"), "");
	assert_string_equal(page_base(NULL), "");
}

static void
test_same_origin(void **state)
{
	const char *h = "https://reset.example.org/ps";

	(void)state;
	/* Sec-Fetch-Site decides when it is there */
	assert_true(page_same_origin(h, "same-origin", NULL));
	assert_true(page_same_origin(h, "none", NULL));
	assert_false(page_same_origin(h, "cross-site", NULL));
	assert_false(page_same_origin(h, "same-site", NULL));
	assert_false(
	    page_same_origin(h, "cross-site", "https://reset.example.org"));
	/* else Origin: hosturl's origin, "null" or none */
	assert_true(page_same_origin(h, NULL, "https://reset.example.org"));
	assert_true(page_same_origin(h, NULL, "https://RESET.example.org"));
	assert_true(page_same_origin(h, NULL, "null"));
	assert_true(page_same_origin(h, NULL, NULL));
	assert_false(page_same_origin(h, NULL, "https://evil.example"));
	assert_false(page_same_origin(h, NULL, "http://reset.example.org"));
	assert_false(
	    page_same_origin(h, NULL, "https://reset.example.org:8443"));
	assert_false(
	    page_same_origin(h, NULL, "https://reset.example.org.evil"));
	assert_false(page_same_origin(h, NULL, "https://reset.example.or"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base),
	    cmocka_unit_test(test_same_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
