/*
 * test-status.c — which paths the status and ping pages take, and their
 * bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "status.h"

static struct config
conf(const char *status_path, const char *ping_path)
{
	struct config c = {0};

	c.service.status_path = (char *)status_path;
	c.service.ping_path = (char *)ping_path;
	return c;
}

static void
test_page_of(void **state)
{
	struct config on = conf("/status", "/ping");
	struct config off = conf("", "");

	(void)state;
	assert_int_equal(status_page_of(&on, "/status"), STATUS_PAGE_METRICS);
	assert_int_equal(status_page_of(&on, "/status?x=1"),
			 STATUS_PAGE_METRICS);
	assert_int_equal(status_page_of(&on, "/ping"), STATUS_PAGE_PING);
	assert_int_equal(status_page_of(&on, "/ping?"), STATUS_PAGE_PING);
	/* Exact: no prefix, no extension, no trailing slash. */
	assert_int_equal(status_page_of(&on, "/statusx"), STATUS_PAGE_NONE);
	assert_int_equal(status_page_of(&on, "/status/"), STATUS_PAGE_NONE);
	assert_int_equal(status_page_of(&on, "/stat"), STATUS_PAGE_NONE);
	assert_int_equal(status_page_of(&on, "/ps/status"), STATUS_PAGE_NONE);
	assert_int_equal(status_page_of(&on, ""), STATUS_PAGE_NONE);
	assert_int_equal(status_page_of(&on, NULL), STATUS_PAGE_NONE);
	/* Off: an empty path matches nothing, not even "" or "?". */
	assert_int_equal(status_page_of(&off, ""), STATUS_PAGE_NONE);
	assert_int_equal(status_page_of(&off, "?x"), STATUS_PAGE_NONE);
	assert_int_equal(status_page_of(&off, "/status"), STATUS_PAGE_NONE);
}

static char *
render(enum status_page page, const char *method, const struct counters *c,
       bool db_ok)
{
	struct buf out = {0};

	status_render(&out, page, method, "/p", c, db_ok);
	return buf_detach(&out);
}

static void
test_ping(void **state)
{
	char *s;

	(void)state;
	assert_true(status_wants_ping(STATUS_PAGE_PING, "GET"));
	assert_true(status_wants_ping(STATUS_PAGE_PING, "HEAD"));
	assert_false(status_wants_ping(STATUS_PAGE_PING, "POST"));
	assert_false(status_wants_ping(STATUS_PAGE_METRICS, "GET"));

	s = render(STATUS_PAGE_PING, "GET", NULL, true);
	assert_string_equal(s, "Status: 200 OK\r\n"
			       "Content-Type: text/plain; charset=utf-8\r\n"
			       "Content-Length: 5\r\n"
			       "Cache-Control: no-store\r\n"
			       "X-Content-Type-Options: nosniff\r\n"
			       "Referrer-Policy: no-referrer\r\n"
			       "\r\n"
			       "pong\n");
	free(s);
	s = render(STATUS_PAGE_PING, "GET", NULL, false);
	assert_non_null(strstr(s, "Status: 503 Service Unavailable\r\n"));
	assert_null(strstr(s, "pong"));
	free(s);
	/* HEAD: the headers alone. */
	s = render(STATUS_PAGE_PING, "HEAD", NULL, true);
	assert_non_null(strstr(s, "Content-Length: 5\r\n"));
	assert_int_equal(strcmp(s + strlen(s) - 4, "\r\n\r\n"), 0);
	free(s);
}

static void
test_method(void **state)
{
	static const char *const methods[] = {"POST", "PUT", "get", NULL};

	(void)state;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char *s = render(STATUS_PAGE_METRICS, methods[i], NULL, true);
		assert_non_null(strstr(s, "Status: 400 Bad Request\r\n"));
		assert_non_null(strstr(s, "<error id=\"0103\""));
		free(s);
	}
}

static void
test_metrics(void **state)
{
	static struct counters c; /* zeroed, as the supervisor's mmap */
	char *s;

	(void)state;
	status_count_answer(&c, PWR_E_MALFORMED, RESET_REQUEST_SUCCESSFUL,
			    3000); /* 3 ms */
	status_count_answer(&c, PWR_OK, RESET_PENDING, 30000);
	status_count_answer(&c, PWR_OK, RESET_PENDING, 9000000); /* 9 s */
	status_count_answer(NULL, PWR_OK, RESET_PENDING, 1);	 /* no-op */
	counters_add(&c.mail[COUNTERS_MAIL_DEFERRED], 2);
	atomic_store(&c.seats[0], COUNTERS_SEAT_BUSY);
	atomic_store(&c.seats[7], COUNTERS_SEAT_IDLE);
	atomic_store(&c.seats[9], COUNTERS_SEAT_IDLE);

	s = render(STATUS_PAGE_METRICS, "GET", &c, false);
	assert_non_null(strstr(
	    s, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(s, "\npwreset_requests_total{answer=\"0105\"} "
				  "1\n"));
	assert_non_null(strstr(s, "\npwreset_requests_total{answer=\"0503\"} "
				  "0\n"));
	assert_non_null(
	    strstr(s, "\npwreset_requests_total{answer=\"pending\"} 2\n"));
	assert_non_null(strstr(
	    s, "\npwreset_requests_total{answer=\"request-successful\"} 0\n"));
	assert_non_null(strstr(
	    s, "# TYPE pwreset_request_duration_seconds histogram\n"
	       "pwreset_request_duration_seconds_bucket{le=\"0.005\"} 1\n"
	       "pwreset_request_duration_seconds_bucket{le=\"0.01\"} 1\n"
	       "pwreset_request_duration_seconds_bucket{le=\"0.025\"} 1\n"
	       "pwreset_request_duration_seconds_bucket{le=\"0.05\"} 2\n"
	       "pwreset_request_duration_seconds_bucket{le=\"0.1\"} 2\n"
	       "pwreset_request_duration_seconds_bucket{le=\"0.25\"} 2\n"
	       "pwreset_request_duration_seconds_bucket{le=\"0.5\"} 2\n"
	       "pwreset_request_duration_seconds_bucket{le=\"1\"} 2\n"
	       "pwreset_request_duration_seconds_bucket{le=\"2.5\"} 2\n"
	       "pwreset_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"
	       "pwreset_request_duration_seconds_sum 9.033000\n"
	       "pwreset_request_duration_seconds_count 3\n"));
	assert_non_null(strstr(s, "\npwreset_workers{state=\"busy\"} 1\n"
				  "pwreset_workers{state=\"idle\"} 2\n"));
	assert_non_null(strstr(s, "\npwreset_mail_total{result=\"sent\"} 0\n"
				  "pwreset_mail_total{result=\"deferred\"} 2\n"
				  "pwreset_mail_total{result=\"failed\"} 0\n"));
	free(s);
}

/* A bucket's bound is inclusive: exactly 5 ms is in le="0.005". */
static void
test_bucket_bounds(void **state)
{
	static struct counters c;

	(void)state;
	counters_latency_record(&c, 5000);
	counters_latency_record(&c, 5001);
	counters_latency_record(&c, 2500000);
	counters_latency_record(&c, 2500001);
	assert_int_equal(atomic_load(&c.latency[0]), 1);
	assert_int_equal(atomic_load(&c.latency[1]), 1);
	assert_int_equal(atomic_load(&c.latency[COUNTERS_LATENCY_FINITE - 1]),
			 1);
	assert_int_equal(atomic_load(&c.latency[COUNTERS_LATENCY_FINITE]), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_page_of),
	    cmocka_unit_test(test_ping),
	    cmocka_unit_test(test_method),
	    cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_bucket_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
