/*
 * test-response.c — answers, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "response.h"

#define XML_DECL "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
#define SECURITY_HEADERS                                                       \
	"Cache-Control: no-store\r\n"                                          \
	"X-Content-Type-Options: nosniff\r\n"                                  \
	"Referrer-Policy: no-referrer\r\n"

static void
body_is(enum format fmt, const struct reset_result *res, const char *path,
	const char *want)
{
	struct buf b = {0};

	response_body(&b, fmt, res, path, path ? strlen(path) : 0);
	assert_string_equal(b.p, want);
	assert_int_equal(b.len, strlen(want));
	buf_free(&b);
}

static void
test_success_xml(void **state)
{
	struct reset_result r = {.err = PWR_OK};

	(void)state;
	r.status = RESET_REQUEST_SUCCESSFUL;
	body_is(FORMAT_XML, &r, "/x",
		XML_DECL "<reset-password status=\"request-successful\" />\n");
	r.status = RESET_PASSWORD_CHANGED;
	body_is(FORMAT_XML, &r, "/x",
		XML_DECL "<reset-password status=\"password-changed\" />\n");
	r.status = RESET_PENDING;
	body_is(FORMAT_XML, &r, "/x",
		XML_DECL "<reset-password status=\"pending\" />\n");
	r.admin = true;
	body_is(FORMAT_XML, &r, "/x",
		XML_DECL
		"<reset-password status=\"pending\" admin=\"true\" />\n");
	/* admin only ever goes with pending */
	r.status = RESET_PASSWORD_CHANGED;
	body_is(FORMAT_XML, &r, "/x",
		XML_DECL "<reset-password status=\"password-changed\" />\n");
}

static void
test_success_json(void **state)
{
	struct reset_result r = {.err = PWR_OK};

	(void)state;
	r.status = RESET_REQUEST_SUCCESSFUL;
	body_is(FORMAT_JSON, &r, "/x", "{\"status\":\"request-successful\"}\n");
	r.status = RESET_PASSWORD_CHANGED;
	body_is(FORMAT_JSON, &r, "/x", "{\"status\":\"password-changed\"}\n");
	r.status = RESET_PENDING;
	body_is(FORMAT_JSON, &r, "/x", "{\"status\":\"pending\"}\n");
	r.admin = true;
	body_is(FORMAT_JSON, &r, "/x",
		"{\"status\":\"pending\",\"admin\":true}\n");
}

static void
test_error(void **state)
{
	struct reset_result r = {.err = PWR_E_TOKEN_INVALID};

	(void)state;
	body_is(FORMAT_XML, &r, "/ps/service/members/resetpassword",
		XML_DECL "<error id=\"102A\"><request>/ps/service/members/"
			 "resetpassword</request><message>Invalid reset "
			 "password token</message></error>\n");
	body_is(FORMAT_JSON, &r, "/ps/service/members/resetpassword",
		"{\"id\":\"102A\",\"request\":\"/ps/service/members/"
		"resetpassword\",\"message\":\"Invalid reset password "
		"token\"}\n");
	r.err = PWR_E_UNKNOWN_GROUP;
	body_is(FORMAT_XML, &r, "/g",
		XML_DECL "<error id=\"0202\"><request>/g</request><message>"
			 "Failed @Requires check: missing Group "
			 "instance</message></error>\n");
}

static void
test_error_escaped_path(void **state)
{
	struct reset_result r = {.err = PWR_E_UNKNOWN_SERVICE};

	(void)state;
	body_is(FORMAT_XML, &r, "/ps/x<&>",
		XML_DECL "<error id=\"0102\"><request>/ps/x&lt;&amp;&gt;"
			 "</request><message>Unknown service</message>"
			 "</error>\n");
	body_is(FORMAT_JSON, &r, "/ps/x<&>\"\\",
		"{\"id\":\"0102\",\"request\":\"/ps/x<&>\\\"\\\\\","
		"\"message\":\"Unknown service\"}\n");
	/* Invalid UTF-8 and control characters become U+FFFD. */
	body_is(FORMAT_JSON, &r, "/a\xff\x01\xc3\xa9\xc0\xaf",
		"{\"id\":\"0102\",\"request\":\"/a\xef\xbf\xbd\xef\xbf\xbd"
		"\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\",\"message\":\"Unknown "
		"service\"}\n");
	body_is(FORMAT_XML, &r, "/\x1b[31m",
		XML_DECL "<error id=\"0102\"><request>/\xef\xbf\xbd[31m"
			 "</request><message>Unknown service</message>"
			 "</error>\n");
	/* U+FFFE and U+FFFF are valid UTF-8 but no XML characters: found by
	 * test/fuzz/fuzz-route (expat refused the answer). */
	body_is(FORMAT_XML, &r, "/\xef\xbf\xbf\xef\xbf\xbe\xef\xbf\xbd",
		XML_DECL "<error id=\"0102\"><request>/\xef\xbf\xbd\xef\xbf"
			 "\xbd\xef\xbf\xbd</request><message>Unknown service"
			 "</message></error>\n");
	/* No path at all. */
	body_is(FORMAT_JSON, &r, NULL,
		"{\"id\":\"0102\",\"request\":\"\",\"message\":\"Unknown "
		"service\"}\n");
}

static void
test_long_path(void **state)
{
	struct reset_result r = {.err = PWR_E_UNKNOWN_SERVICE};
	static char path[RESPONSE_PATH_MAX + 64];
	struct buf b = {0};

	(void)state;
	/* A long path is never wrapped by mxml and is cut at the cap, at a
	 * character boundary. */
	memset(path, 'a', sizeof(path) - 1);
	path[RESPONSE_PATH_MAX - 1] = '\xc3';
	path[RESPONSE_PATH_MAX] = '\xa9';
	response_body(&b, FORMAT_XML, &r, path, strlen(path));
	assert_null(memchr(b.p, '\n', b.len - 1));
	assert_non_null(strstr(b.p, "aaaa</request>"));
	assert_null(strstr(b.p, "\xef\xbf\xbd"));
	buf_free(&b);
}

static void
test_json_string(void **state)
{
	struct buf b = {0};

	(void)state;
	response_json_string(&b, "a\"\\\n\r\t\x01\x1f\x7f/\xc3\xa9", 12);
	assert_string_equal(
	    b.p, "\"a\\\"\\\\\\n\\r\\t\\u0001\\u001f\\u007f/\xc3\xa9\"");
	buf_free(&b);
}

static void
test_headers(void **state)
{
	struct reset_result r = {.err = PWR_OK,
				 .status = RESET_REQUEST_SUCCESSFUL};
	struct buf b = {0};
	const char *body = "{\"status\":\"request-successful\"}\n";
	char want[512];

	(void)state;
	response_render(&b, FORMAT_JSON, &r, "/x", 2);
	snprintf(want, sizeof(want),
		 "Status: 200 OK\r\n"
		 "Content-Type: application/json;charset=utf-8\r\n"
		 "Content-Length: %zu\r\n" SECURITY_HEADERS "\r\n%s",
		 strlen(body), body);
	assert_string_equal(b.p, want);
	buf_free(&b);

	r = (struct reset_result){.err = PWR_E_UNAVAILABLE, .retry_after = 30};
	response_render(&b, FORMAT_XML, &r, "/x", 2);
	body = XML_DECL "<error id=\"0503\"><request>/x</request><message>"
			"Service temporarily unavailable</message></error>\n";
	snprintf(want, sizeof(want),
		 "Status: 503 Service Unavailable\r\n"
		 "Content-Type: application/xml;charset=utf-8\r\n"
		 "Content-Length: %zu\r\n" SECURITY_HEADERS
		 "Retry-After: 30\r\n\r\n%s",
		 strlen(body), body);
	assert_string_equal(b.p, want);
	buf_free(&b);

	r = (struct reset_result){.err = PWR_E_RATE_LIMITED,
				  .retry_after = 3600};
	response_render(&b, FORMAT_JSON, &r, "/x", 2);
	assert_non_null(strstr(b.p, "Status: 429 Too Many Requests\r\n"));
	assert_non_null(strstr(b.p, "\r\nRetry-After: 3600\r\n\r\n{"));
	buf_free(&b);

	/* No Retry-After without a value. */
	r = (struct reset_result){.err = PWR_E_TOO_LARGE};
	response_render(&b, FORMAT_XML, &r, "/x", 2);
	assert_non_null(strstr(b.p, "Status: 413 Content Too Large\r\n"));
	assert_null(strstr(b.p, "Retry-After"));
	buf_free(&b);

	/* The path passed is cut at its length (the query string). */
	r = (struct reset_result){.err = PWR_E_METHOD};
	response_render(&b, FORMAT_JSON, &r, "/x?token=secret", 2);
	assert_null(strstr(b.p, "secret"));
	assert_non_null(strstr(b.p, "\"request\":\"/x\""));
	buf_free(&b);
}

static void
test_status_table(void **state)
{
	static const struct {
		enum pwr_err e;
		const char *id;
		int status;
	} cases[] = {
	    {PWR_OK, "0000", 200},
	    {PWR_E_NO_IDENTIFIER, "1008", 400},
	    {PWR_E_EMAIL_INVALID, "1002", 400},
	    {PWR_E_MEMBER_UNKNOWN, "100E", 400},
	    {PWR_E_API_ACCOUNT, "1018", 400},
	    {PWR_E_LOCKED, "1019", 400},
	    {PWR_E_NO_EMAIL, "100F", 400},
	    {PWR_E_TOKEN_INVALID, "102A", 400},
	    {PWR_E_KEY_INVALID, "1024", 400},
	    {PWR_E_PASSWORD_WEAK, "1015", 400},
	    {PWR_E_PASSWORD_USER, "1016", 400},
	    {PWR_E_UNKNOWN_SERVICE, "0102", 404},
	    {PWR_E_METHOD, "0103", 400},
	    {PWR_E_UNKNOWN_GROUP, "0202", 404},
	    {PWR_E_MALFORMED, "0105", 400},
	    {PWR_E_TOO_LARGE, "0106", 413},
	    {PWR_E_CONTENT_TYPE, "0107", 415},
	    {PWR_E_RATE_LIMITED, "0108", 429},
	    {PWR_E_INTERNAL, "0500", 500},
	    {PWR_E_UNAVAILABLE, "0503", 503},
	};

	(void)state;
	assert_int_equal(sizeof(cases) / sizeof(cases[0]), PWR_E__MAX);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reset_result r = {.err = cases[i].e};
		struct buf b = {0};
		char line[64];

		assert_int_equal(response_http_status(cases[i].e),
				 cases[i].status);
		assert_string_equal(pwr_err_id(cases[i].e), cases[i].id);
		response_render(&b, FORMAT_XML, &r, "/", 1);
		snprintf(line, sizeof(line), "Status: %d %s\r\n",
			 cases[i].status, response_reason(cases[i].status));
		assert_memory_equal(b.p, line, strlen(line));
		buf_free(&b);
	}
	assert_int_equal(response_http_status(PWR_E__MAX), 500);
	assert_string_equal(response_reason(404), "Not Found");
	assert_string_equal(response_reason(415), "Unsupported Media Type");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success_xml),
	    cmocka_unit_test(test_success_json),
	    cmocka_unit_test(test_error),
	    cmocka_unit_test(test_error_escaped_path),
	    cmocka_unit_test(test_long_path),
	    cmocka_unit_test(test_json_string),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_status_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
