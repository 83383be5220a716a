/*
 * test-route.c — routing and format selection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

static enum pwr_err
parse(const char *prefix, const char *method, const char *uri,
      const char *accept, struct route_match *m)
{
	return route_parse(prefix, method, uri, accept, m);
}

static void
test_every_route(void **state)
{
	static const struct {
		const char *uri;
		enum route route;
	} cases[] = {
	    {"/ps/service/members/resetpassword", ROUTE_SERVICE_MEMBERS},
	    {"/ps/api/members/resetpassword", ROUTE_API_MEMBERS},
	    {"/ps/service/groups/acme/members/resetpassword",
	     ROUTE_SERVICE_GROUP},
	    {"/ps/api/groups/acme/members/resetpassword", ROUTE_API_GROUP},
	};
	struct route_match m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse("/ps", "POST", cases[i].uri, NULL, &m),
				 PWR_OK);
		assert_int_equal(m.route, cases[i].route);
		assert_int_equal(m.format, FORMAT_XML);
	}
	assert_int_equal(route_kind(ROUTE_SERVICE_MEMBERS),
			 RESET_ROUTE_MEMBERS);
	assert_int_equal(route_kind(ROUTE_API_GROUP), RESET_ROUTE_GROUP);
	assert_string_equal(route_name(ROUTE_API_GROUP), "api-group");
	assert_string_equal(route_name(ROUTE__MAX), "unknown");
}

static void
test_group_name(void **state)
{
	struct route_match m;

	(void)state;
	assert_int_equal(parse("/ps", "POST",
			       "/ps/service/groups/acme-dev/members/"
			       "resetpassword",
			       NULL, &m),
			 PWR_OK);
	assert_string_equal(m.group, "acme-dev");
	/* ~name and digits are passed through for the core to interpret. */
	assert_int_equal(parse("/ps", "POST",
			       "/ps/api/groups/~acme/members/resetpassword",
			       NULL, &m),
			 PWR_OK);
	assert_string_equal(m.group, "~acme");
	assert_int_equal(parse("/ps", "POST",
			       "/ps/api/groups/1234/members/resetpassword.json",
			       NULL, &m),
			 PWR_OK);
	assert_string_equal(m.group, "1234");
	assert_int_equal(m.format, FORMAT_JSON);
	/* Members routes have no group. */
	assert_int_equal(
	    parse("/ps", "POST", "/ps/api/members/resetpassword", NULL, &m),
	    PWR_OK);
	assert_string_equal(m.group, "");
}

static void
test_group_encoded(void **state)
{
	struct route_match m;
	char uri[512], name[128];

	(void)state;
	assert_int_equal(parse("/ps", "POST",
			       "/ps/service/groups/my%20group%C3%A9/members/"
			       "resetpassword",
			       NULL, &m),
			 PWR_OK);
	assert_string_equal(m.group, "my group\xc3\xa9");
	/* '+' is not a space in a path. */
	assert_int_equal(parse("/ps", "POST",
			       "/ps/service/groups/a+b/members/resetpassword",
			       NULL, &m),
			 PWR_OK);
	assert_string_equal(m.group, "a+b");

	static const char *const bad[] = {
	    "a%2Fb",  /* '/' */
	    "a%00b",  /* NUL */
	    "a%2",    /* short escape */
	    "a%zz",   /* not hex */
	    "%C0%AF", /* overlong */
	    "%80",    /* lone continuation */
	    "a%0Ab",  /* control */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(uri, sizeof(uri),
			 "/ps/service/groups/%s/members/resetpassword", bad[i]);
		assert_int_equal(parse("/ps", "POST", uri, NULL, &m),
				 PWR_E_MALFORMED);
	}

	/* 100 bytes pass, 101 do not. */
	memset(name, 'g', 100);
	name[100] = '\0';
	snprintf(uri, sizeof(uri), "/ps/api/groups/%s/members/resetpassword",
		 name);
	assert_int_equal(parse("/ps", "POST", uri, NULL, &m), PWR_OK);
	assert_int_equal(strlen(m.group), 100);
	snprintf(uri, sizeof(uri),
		 "/ps/api/groups/%s%%41/members/resetpassword", name);
	assert_int_equal(parse("/ps", "POST", uri, NULL, &m), PWR_E_MALFORMED);
}

static void
test_prefix(void **state)
{
	struct route_match m;

	(void)state;
	assert_int_equal(
	    parse("", "POST", "/service/members/resetpassword", NULL, &m),
	    PWR_OK);
	assert_int_equal(m.route, ROUTE_SERVICE_MEMBERS);
	assert_int_equal(
	    parse("", "POST", "/ps/service/members/resetpassword", NULL, &m),
	    PWR_E_UNKNOWN_SERVICE);
	assert_int_equal(parse("/a/b", "POST",
			       "/a/b/api/groups/x/members/resetpassword", NULL,
			       &m),
			 PWR_OK);
	assert_int_equal(parse("/ps", "POST",
			       "/psx/service/members/resetpassword", NULL, &m),
			 PWR_E_UNKNOWN_SERVICE);
	assert_int_equal(
	    parse("/ps", "POST", "/service/members/resetpassword", NULL, &m),
	    PWR_E_UNKNOWN_SERVICE);
	assert_int_equal(
	    parse(NULL, "POST", "/api/members/resetpassword", NULL, &m),
	    PWR_OK);
}

static void
test_unknown(void **state)
{
	static const char *const uris[] = {
	    "/ps/service/members/resetpassword/",
	    "/ps//service/members/resetpassword",
	    "/ps/service/members/resetPassword",
	    "/ps/service/members/reset%70assword",
	    "/ps/service/groups//members/resetpassword",
	    "/ps/service/groups/a/b/members/resetpassword",
	    "/ps/other/members/resetpassword",
	    "/ps/service/members/resetpassword.html",
	    "/ps/service/members/resetpassword.json.xml.json",
	    "/ps",
	    "",
	    "/",
	};
	struct route_match m;

	(void)state;
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		assert_int_equal(parse("/ps", "POST", uris[i], NULL, &m),
				 PWR_E_UNKNOWN_SERVICE);
		assert_int_equal(m.route, ROUTE__MAX);
	}
	assert_int_equal(parse("/ps", "POST", NULL, NULL, &m),
			 PWR_E_UNKNOWN_SERVICE);
}

static void
test_method(void **state)
{
	struct route_match m;

	(void)state;
	assert_int_equal(
	    parse("/ps", "GET", "/ps/service/members/resetpassword", NULL, &m),
	    PWR_E_METHOD);
	assert_int_equal(m.route, ROUTE_SERVICE_MEMBERS);
	assert_int_equal(
	    parse("/ps", "post", "/ps/service/members/resetpassword", NULL, &m),
	    PWR_E_METHOD);
	assert_int_equal(
	    parse("/ps", NULL, "/ps/service/members/resetpassword", NULL, &m),
	    PWR_E_METHOD);
	/* Unknown path wins over the method. */
	assert_int_equal(parse("/ps", "GET", "/ps/nothing", NULL, &m),
			 PWR_E_UNKNOWN_SERVICE);
}

static void
test_query_string(void **state)
{
	struct route_match m;

	(void)state;
	assert_int_equal(parse("/ps", "POST",
			       "/ps/service/members/resetpassword.json?x=.xml",
			       NULL, &m),
			 PWR_OK);
	assert_int_equal(m.format, FORMAT_JSON);
	assert_int_equal(route_path_len("/a/b?c?d"), 4);
	assert_int_equal(route_path_len("/a/b"), 4);
	assert_int_equal(route_path_len(NULL), 0);
}

static void
test_format(void **state)
{
	struct route_match m;
	const char *u = "/ps/service/members/resetpassword";

	(void)state;
	assert_int_equal(parse("/ps", "POST",
			       "/ps/api/members/resetpassword.xml",
			       "application/json", &m),
			 PWR_OK);
	assert_int_equal(m.format, FORMAT_XML); /* the suffix wins */
	assert_int_equal(parse("/ps", "POST", u, "application/json", &m),
			 PWR_OK);
	assert_int_equal(m.format, FORMAT_JSON);
	parse("/ps", "POST", u, "*/*", &m);
	assert_int_equal(m.format, FORMAT_XML);
	parse("/ps", "POST", u, "text/html, application/xml;q=0.9, */*;q=0.8",
	      &m);
	assert_int_equal(m.format, FORMAT_XML);
	/* Errors know their format too. */
	assert_int_equal(parse("/ps", "POST", "/ps/nothing.json", NULL, &m),
			 PWR_E_UNKNOWN_SERVICE);
	assert_int_equal(m.format, FORMAT_JSON);
	assert_int_equal(parse("/ps", "GET", u, "application/json", &m),
			 PWR_E_METHOD);
	assert_int_equal(m.format, FORMAT_JSON);
}

static void
test_accept(void **state)
{
	(void)state;
	assert_true(route_accepts_json("application/json"));
	assert_true(route_accepts_json("APPLICATION/JSON"));
	assert_true(route_accepts_json("text/html, application/json"));
	assert_true(route_accepts_json(" application/json ; q=0.5"));
	assert_true(route_accepts_json("application/json;charset=utf-8;q=1"));
	assert_true(route_accepts_json("application/json;q=1.000"));
	assert_true(route_accepts_json("application/json;q=0.001"));
	assert_false(route_accepts_json(NULL));
	assert_false(route_accepts_json(""));
	assert_false(route_accepts_json("*/*"));
	assert_false(route_accepts_json("application/*"));
	assert_false(route_accepts_json("application/jsonx"));
	assert_false(route_accepts_json("application/json-patch+json"));
	assert_false(route_accepts_json("application/json;q=0"));
	assert_false(route_accepts_json("application/json;q=0.000"));
	assert_false(route_accepts_json("application/json;q=abc"));
	assert_false(route_accepts_json("application/json;q=2"));
	assert_false(route_accepts_json("text/json"));
}

/* The pages and the token check (SPEC §9): only after route_parse(). */
static void
test_pages(void **state)
{
	struct route_match m;

	(void)state;
	assert_true(route_parse_page(
	    "", "/ps", "/email/changepassword?member=1&token=x", NULL, &m));
	assert_int_equal(m.route, ROUTE_PAGE_CHANGE);
	assert_string_equal(route_name(m.route), "page-changepassword");
	assert_true(
	    route_parse_page("/x", "/ps", "/x/email/forgotpassword", NULL, &m));
	assert_int_equal(m.route, ROUTE_PAGE_FORGOT);
	assert_false(
	    route_parse_page("/x", "/ps", "/email/forgotpassword", NULL, &m));
	assert_false(
	    route_parse_page("", "/ps", "/email/changepassword/", NULL, &m));
	assert_false(
	    route_parse_page("", "/ps", "/email/static/pwreset.css", NULL, &m));
	assert_int_equal(m.route, ROUTE__MAX);

	assert_true(route_parse_page(
	    "", "/ps", "/ps/service/members/jane.doe?token=t", NULL, &m));
	assert_int_equal(m.route, ROUTE_SERVICE_MEMBER);
	assert_string_equal(m.member, "jane.doe");
	assert_int_equal(m.format, FORMAT_XML);
	assert_true(route_parse_page("", "/ps", "/ps/service/members/42.json",
				     NULL, &m));
	assert_string_equal(m.member, "42");
	assert_int_equal(m.format, FORMAT_JSON);
	assert_true(route_parse_page("", "/ps", "/ps/service/members/j%40x",
				     "application/json", &m));
	assert_string_equal(m.member, "j@x");
	assert_int_equal(m.format, FORMAT_JSON);
	assert_false(
	    route_parse_page("", "/ps", "/ps/service/members/", NULL, &m));
	assert_false(
	    route_parse_page("", "/ps", "/ps/service/members/a/b", NULL, &m));
	assert_false(
	    route_parse_page("", "/ps", "/ps/service/members/%zz", NULL, &m));
	assert_false(
	    route_parse_page("", "/ps", "/ps/api/members/jane", NULL, &m));
	/* the reset route is route_parse()'s, whatever the method */
	assert_int_equal(
	    parse("/ps", "GET", "/ps/service/members/resetpassword", NULL, &m),
	    PWR_E_METHOD);
	assert_int_equal(
	    parse("/ps", "GET", "/ps/service/members/jane", NULL, &m),
	    PWR_E_UNKNOWN_SERVICE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_route),
	    cmocka_unit_test(test_pages),
	    cmocka_unit_test(test_group_name),
	    cmocka_unit_test(test_group_encoded),
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_method),
	    cmocka_unit_test(test_query_string),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_accept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
