/*
 * test-request.c — CGI parameters and form bodies → fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "request.h"

/* A body held in memory; reads at most `chunk` bytes a call (0: all). */
struct mem {
	const char *p;
	size_t len, pos, chunk;
	int calls;
};

static ssize_t
mem_read(void *arg, char *buf, size_t len)
{
	struct mem *m = arg;
	size_t n = m->len - m->pos;

	m->calls++;
	if (n > len)
		n = len;
	if (m->chunk > 0 && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t
fail_read(void *arg, char *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return -1;
}

struct fixture {
	struct cgi cgi;
	struct request rq;
	struct mem mem;
	char clen[32];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cgi.v[CGI_REQUEST_METHOD] = "POST";
	f->cgi.v[CGI_REMOTE_ADDR] = "192.0.2.7";
	f->cgi.v[CGI_CONTENT_TYPE] = "application/x-www-form-urlencoded";
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	request_free(&f->rq);
	request_free(&f->rq); /* twice-safe */
	free(f);
	return 0;
}

/* Parse body (may be NULL) with the query string qs (may be NULL). */
static enum pwr_err
run(struct fixture *f, const char *qs, const char *body)
{
	request_free(&f->rq);
	f->cgi.v[CGI_QUERY_STRING] = qs;
	f->mem =
	    (struct mem){.p = body ? body : "", .len = body ? strlen(body) : 0};
	if (body != NULL) {
		snprintf(f->clen, sizeof(f->clen), "%zu", strlen(body));
		f->cgi.v[CGI_CONTENT_LENGTH] = f->clen;
	} else {
		f->cgi.v[CGI_CONTENT_LENGTH] = NULL;
	}
	request_init(&f->rq, &f->cgi, NULL);
	return request_parse(&f->rq, &f->cgi, 16384, mem_read, &f->mem);
}

#define FIELD(f, x) ((f)->rq.field[FIELD_##x])

static void
test_valid_body(void **state)
{
	struct fixture *f = *state;
	struct route_match m = {.route = ROUTE_SERVICE_GROUP, .group = "acme"};
	struct reset_request r;

	assert_int_equal(run(f, NULL,
			     "email=jo%40example.org&member-username=jo&token="
			     "abc&key=def&member-password=s3cret%21&notify-"
			     "async=true"),
			 PWR_OK);
	assert_string_equal(FIELD(f, EMAIL), "jo@example.org");
	assert_string_equal(FIELD(f, MEMBER_USERNAME), "jo");
	assert_string_equal(FIELD(f, TOKEN), "abc");
	assert_string_equal(FIELD(f, KEY), "def");
	assert_string_equal(FIELD(f, MEMBER_PASSWORD), "s3cret!");
	assert_true(f->rq.notify_async);
	assert_true(f->rq.body_read);

	request_to_reset(&f->rq, &m, &r);
	assert_int_equal(r.route, RESET_ROUTE_GROUP);
	assert_string_equal(r.group, "acme");
	assert_string_equal(r.email, "jo@example.org");
	assert_string_equal(r.username, "jo");
	assert_string_equal(r.token, "abc");
	assert_string_equal(r.key, "def");
	assert_string_equal(r.password, "s3cret!");
	assert_true(r.notify_async);
	assert_null(r.bearer);
	assert_string_equal(r.client, "192.0.2.7");

	m.route = ROUTE_API_MEMBERS;
	request_to_reset(&f->rq, &m, &r);
	assert_int_equal(r.route, RESET_ROUTE_MEMBERS);
	assert_null(r.group);
}

static void
test_no_body(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, NULL, NULL), PWR_OK);
	for (int i = 0; i < FIELD__MAX; i++)
		assert_null(f->rq.field[i]);
	assert_false(f->rq.notify_async);
	assert_int_equal(f->mem.calls, 0);
	/* Without a body the content type does not matter. */
	f->cgi.v[CGI_CONTENT_TYPE] = "text/plain";
	assert_int_equal(run(f, "email=a%40b.c", NULL), PWR_OK);
	assert_string_equal(FIELD(f, EMAIL), "a@b.c");
	f->cgi.v[CGI_CONTENT_TYPE] = NULL;
	assert_int_equal(run(f, NULL, ""), PWR_OK);
}

static void
test_query_and_body(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, "email=q%40x.org&token=fromquery",
			     "email=b%40x.org&member-username=bob"),
			 PWR_OK);
	assert_string_equal(FIELD(f, EMAIL), "b@x.org"); /* body wins */
	assert_string_equal(FIELD(f, TOKEN), "fromquery");
	assert_string_equal(FIELD(f, MEMBER_USERNAME), "bob");
	/* The same name in both is no repetition. */
	assert_int_equal(run(f, "token=a", "token=b"), PWR_OK);
	assert_string_equal(FIELD(f, TOKEN), "b");
	/* A password in the query string is refused (access logs), even
	 * when the body carries one; an empty one is absent. */
	assert_int_equal(run(f, "member-password=secret12345", "token=t"),
			 PWR_E_MALFORMED);
	assert_int_equal(
	    run(f, "member-password=a", "member-password=b&token=t"),
	    PWR_E_MALFORMED);
	assert_int_equal(run(f, "member%2Dpassword=a", NULL), PWR_E_MALFORMED);
	assert_int_equal(run(f, "member-password=", "token=t"), PWR_OK);
	assert_int_equal(run(f, NULL, "member-password=secret12345"), PWR_OK);
	/* The body's empty value still wins, and is absent. */
	assert_int_equal(run(f, "token=a", "token="), PWR_OK);
	assert_null(FIELD(f, TOKEN));
}

static void
test_repeated(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, NULL, "email=a%40b.c&email=a%40b.c"),
			 PWR_E_MALFORMED);
	assert_int_equal(run(f, "token=a&token=b", NULL), PWR_E_MALFORMED);
	/* Repetition is found on the decoded name. */
	assert_int_equal(run(f, NULL, "token=a&%74oken=b"), PWR_E_MALFORMED);
	/* Unknown names count too. */
	assert_int_equal(run(f, NULL, "x=1&x=2"), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "x=1&y=2"), PWR_OK);
}

static void
test_bad_escape(void **state)
{
	struct fixture *f = *state;
	static const char *const bodies[] = {
	    "email=%",	"email=%4",   "email=%4g", "email=%g4", "email=a%",
	    "em%ail=x", "email=%%41", "%=1",	   "token=%2",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		assert_int_equal(run(f, NULL, bodies[i]), PWR_E_MALFORMED);
	assert_int_equal(run(f, "email=%zz", NULL), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "email=%41%62"), PWR_OK);
	assert_string_equal(FIELD(f, EMAIL), "Ab");
	assert_int_equal(run(f, NULL, "email=%4a%4A"), PWR_OK);
	assert_string_equal(FIELD(f, EMAIL), "JJ");
}

/* The fields of the pages' forms (SPEC §9). */
static void
test_page_fields(void **state)
{
	struct fixture *f = *state;
	char big[FIELD_MEMBER_MAX + 16];

	assert_int_equal(run(f, "member=1&group=brand",
			     "token=t&member-password=a%09b&"
			     "member-password-confirm=a%09b"),
			 PWR_OK);
	assert_string_equal(FIELD(f, MEMBER), "1");
	assert_string_equal(FIELD(f, GROUP), "brand");
	assert_string_equal(FIELD(f, PASSWORD_CONFIRM), "a\tb");
	assert_int_equal(run(f, NULL, "member-password-confirm=a%00"),
			 PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "group=a%0Ab"), PWR_E_MALFORMED);
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "member=", 7);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(run(f, NULL, big), PWR_E_MALFORMED);
	assert_string_equal(field_name(FIELD_PASSWORD_CONFIRM),
			    "member-password-confirm");
	assert_string_equal(cgi_param_name(CGI_HTTP_SEC_FETCH_SITE),
			    "HTTP_SEC_FETCH_SITE");
}

static void
test_nul_and_controls(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, NULL, "email=a%00b"), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "member-password=a%00b"),
			 PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "unknown=%00"), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "a%00=1"), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "email=a%0Ab"), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "token=a%7F"), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "token=a%C2%85"), PWR_E_MALFORMED);
	assert_int_equal(run(f, NULL, "x%0A=1"), PWR_E_MALFORMED);
	/* A password may hold control characters, not NUL. */
	assert_int_equal(run(f, NULL, "member-password=a%09b%0A"), PWR_OK);
	assert_string_equal(FIELD(f, MEMBER_PASSWORD), "a\tb\n");
}

static void
test_utf8(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, NULL, "member-username=%C3%A9t%C3%A9"), PWR_OK);
	assert_string_equal(FIELD(f, MEMBER_USERNAME), "\xc3\xa9t\xc3\xa9");
	/* overlong '/' */
	assert_int_equal(run(f, NULL, "email=%C0%AF"), PWR_E_MALFORMED);
	/* overlong NUL */
	assert_int_equal(run(f, NULL, "member-password=%C0%80"),
			 PWR_E_MALFORMED);
	/* lone continuation */
	assert_int_equal(run(f, NULL, "email=a%80"), PWR_E_MALFORMED);
	/* truncated sequence */
	assert_int_equal(run(f, NULL, "email=%E2%82"), PWR_E_MALFORMED);
	/* surrogate */
	assert_int_equal(run(f, NULL, "email=%ED%A0%80"), PWR_E_MALFORMED);
	/* raw invalid byte in a name */
	assert_int_equal(run(f, NULL, "\xff=1"), PWR_E_MALFORMED);
	/* raw valid UTF-8 passes */
	assert_int_equal(run(f, NULL, "member-password=\xe2\x82\xac"), PWR_OK);
	assert_string_equal(FIELD(f, MEMBER_PASSWORD), "\xe2\x82\xac");
}

static void
test_plus(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, NULL, "member-password=a+b%2Bc+"), PWR_OK);
	assert_string_equal(FIELD(f, MEMBER_PASSWORD), "a b+c ");
	assert_int_equal(run(f, "member+username=x", NULL), PWR_OK);
	assert_null(FIELD(f, MEMBER_USERNAME)); /* "member username" */
}

static void
test_limits(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *name;
		size_t max;
	} lim[] = {
	    {"email", FIELD_EMAIL_MAX},
	    {"member-username", FIELD_USERNAME_MAX},
	    {"token", FIELD_TOKEN_MAX},
	    {"key", FIELD_KEY_MAX},
	    {"member-password", FIELD_PASSWORD_MAX},
	};
	char body[4096];

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		int n = snprintf(body, sizeof(body), "%s=", lim[i].name);
		memset(body + n, 'a', lim[i].max);
		body[n + lim[i].max] = '\0';
		assert_int_equal(run(f, NULL, body), PWR_OK);
		strcat(body, "a");
		assert_int_equal(run(f, NULL, body), PWR_E_MALFORMED);
	}
	/* The limit is on the decoded value: 320 "%61" are 320 bytes. */
	strcpy(body, "email=");
	for (int i = 0; i < FIELD_EMAIL_MAX; i++)
		strcat(body, "%61");
	assert_int_equal(run(f, NULL, body), PWR_OK);
	assert_int_equal(strlen(FIELD(f, EMAIL)), FIELD_EMAIL_MAX);
	assert_int_equal(run(f, NULL, "notify-async=false1"), PWR_E_MALFORMED);
}

static void
test_too_many(void **state)
{
	struct fixture *f = *state;
	char body[2048] = "", q[64];

	for (int i = 0; i < REQUEST_PARAMS_MAX; i++) {
		char p[16];
		snprintf(p, sizeof(p), "%sp%d=1", i ? "&" : "", i);
		strcat(body, p);
	}
	assert_int_equal(run(f, NULL, body), PWR_OK);
	strcat(body, "&last=1");
	assert_int_equal(run(f, NULL, body), PWR_E_MALFORMED);
	/* The query string counts too. */
	body[strlen(body) - strlen("&last=1")] = '\0';
	snprintf(q, sizeof(q), "q=1");
	assert_int_equal(run(f, q, body), PWR_E_MALFORMED);
	/* Empty pairs are not parameters. */
	assert_int_equal(run(f, NULL, "&&email=a%40b.c&&&"), PWR_OK);
	assert_string_equal(FIELD(f, EMAIL), "a@b.c");
}

static void
test_empty_is_absent(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, NULL,
			     "email=&member-username&token=&member-password="
			     "&notify-async="),
			 PWR_OK);
	for (int i = 0; i < FIELD__MAX; i++)
		assert_null(f->rq.field[i]);
	assert_false(f->rq.notify_async);
}

static void
test_notify_async(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *body;
		enum pwr_err err;
		bool v;
	} cases[] = {
	    {"notify-async=true", PWR_OK, true},
	    {"notify-async=TRUE", PWR_OK, true},
	    {"notify-async=True", PWR_OK, true},
	    {"notify-async=false", PWR_OK, false},
	    {"notify-async=FaLsE", PWR_OK, false},
	    {"notify-async=", PWR_OK, false},
	    {"notify-async=1", PWR_E_MALFORMED, false},
	    {"notify-async=yes", PWR_E_MALFORMED, false},
	    {"notify-async=true+", PWR_E_MALFORMED, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(f, NULL, cases[i].body), cases[i].err);
		if (cases[i].err == PWR_OK)
			assert_int_equal(f->rq.notify_async, cases[i].v);
	}
}

static void
test_content_type(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *ct;
		enum pwr_err err;
	} cases[] = {
	    {"application/x-www-form-urlencoded", PWR_OK},
	    {"Application/X-WWW-Form-URLEncoded", PWR_OK},
	    {"application/x-www-form-urlencoded; charset=UTF-8", PWR_OK},
	    {"application/x-www-form-urlencoded;charset=utf-8", PWR_OK},
	    {"application/x-www-form-urlencoded; charset=\"utf-8\"", PWR_OK},
	    {"application/x-www-form-urlencoded; foo=bar", PWR_OK},
	    {"application/x-www-form-urlencoded;", PWR_OK},
	    {"application/x-www-form-urlencoded; charset=iso-8859-1",
	     PWR_E_CONTENT_TYPE},
	    {"application/x-www-form-urlencoded; charset=utf8",
	     PWR_E_CONTENT_TYPE},
	    {"application/x-www-form-urlencodedx", PWR_E_CONTENT_TYPE},
	    {"application/x-www-form-urlencoded foo", PWR_E_CONTENT_TYPE},
	    {"application/x-www-form-urlencoded; charset", PWR_E_CONTENT_TYPE},
	    {"multipart/form-data; boundary=x", PWR_E_CONTENT_TYPE},
	    {"application/json", PWR_E_CONTENT_TYPE},
	    {"text/plain", PWR_E_CONTENT_TYPE},
	    {"", PWR_E_CONTENT_TYPE},
	    {NULL, PWR_E_CONTENT_TYPE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->cgi.v[CGI_CONTENT_TYPE] = cases[i].ct;
		assert_int_equal(run(f, NULL, "email=a%40b.c"), cases[i].err);
		if (cases[i].err != PWR_OK)
			assert_int_equal(f->mem.calls, 0);
	}
}

static void
test_content_length(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
	    "-1", "+5", " 5", "5 ", "0x5", "abc", "99999999999999999999999",
	};
	struct mem m = {.p = "email=a", .len = 7};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		request_free(&f->rq);
		f->cgi.v[CGI_CONTENT_LENGTH] = bad[i];
		request_init(&f->rq, &f->cgi, NULL);
		assert_int_equal(
		    request_parse(&f->rq, &f->cgi, 16384, mem_read, &m),
		    PWR_E_MALFORMED);
	}
	/* Too large: answered without reading anything. */
	request_free(&f->rq);
	f->cgi.v[CGI_CONTENT_LENGTH] = "16385";
	request_init(&f->rq, &f->cgi, NULL);
	assert_int_equal(request_parse(&f->rq, &f->cgi, 16384, fail_read, NULL),
			 PWR_E_TOO_LARGE);
	assert_false(f->rq.body_read);
	/* The content type is checked first. */
	request_free(&f->rq);
	f->cgi.v[CGI_CONTENT_TYPE] = "text/plain";
	request_init(&f->rq, &f->cgi, NULL);
	assert_int_equal(request_parse(&f->rq, &f->cgi, 16384, fail_read, NULL),
			 PWR_E_CONTENT_TYPE);
}

static void
test_short_body(void **state)
{
	struct fixture *f = *state;
	struct mem m = {.p = "email=a", .len = 7, .chunk = 2};

	/* Read in pieces. */
	request_free(&f->rq);
	f->cgi.v[CGI_CONTENT_LENGTH] = "7";
	request_init(&f->rq, &f->cgi, NULL);
	assert_int_equal(request_parse(&f->rq, &f->cgi, 16384, mem_read, &m),
			 PWR_OK);
	assert_int_equal(m.calls, 4);
	assert_string_equal(FIELD(f, EMAIL), "a");
	/* Shorter than announced. */
	request_free(&f->rq);
	m = (struct mem){.p = "email=a", .len = 7};
	f->cgi.v[CGI_CONTENT_LENGTH] = "8";
	request_init(&f->rq, &f->cgi, NULL);
	assert_int_equal(request_parse(&f->rq, &f->cgi, 16384, mem_read, &m),
			 PWR_E_MALFORMED);
	/* A read error. */
	request_free(&f->rq);
	request_init(&f->rq, &f->cgi, NULL);
	assert_int_equal(request_parse(&f->rq, &f->cgi, 16384, fail_read, NULL),
			 PWR_E_MALFORMED);
	/* Only CONTENT_LENGTH bytes are read. */
	request_free(&f->rq);
	m = (struct mem){.p = "email=a&token=b", .len = 15};
	f->cgi.v[CGI_CONTENT_LENGTH] = "7";
	request_init(&f->rq, &f->cgi, NULL);
	assert_int_equal(request_parse(&f->rq, &f->cgi, 16384, mem_read, &m),
			 PWR_OK);
	assert_null(FIELD(f, TOKEN));
	assert_int_equal(m.pos, 7);
}

static void
test_query_limit(void **state)
{
	struct fixture *f = *state;
	char *q = malloc(REQUEST_QUERY_MAX + 2);

	assert_non_null(q);
	memset(q, 'a', REQUEST_QUERY_MAX + 1);
	q[REQUEST_QUERY_MAX + 1] = '\0';
	assert_int_equal(run(f, q, NULL), PWR_E_TOO_LARGE);
	q[REQUEST_QUERY_MAX] = '\0';
	assert_int_equal(run(f, q, NULL), PWR_OK);
	free(q);
}

static void
test_bearer(void **state)
{
	struct fixture *f = *state;
	char out[REQUEST_BEARER_MAX + 1];
	char big[REQUEST_BEARER_MAX + 16];

	(void)f;
	assert_true(request_bearer("Bearer abcDEF123-._~+/==", out));
	assert_string_equal(out, "abcDEF123-._~+/==");
	assert_true(request_bearer("bearer tok", out));
	assert_string_equal(out, "tok");
	assert_true(request_bearer("BEARER   tok  ", out));
	assert_string_equal(out, "tok");
	assert_false(request_bearer(NULL, out));
	assert_false(request_bearer("", out));
	assert_false(request_bearer("Bearer", out));
	assert_false(request_bearer("Bearer ", out));
	assert_false(request_bearer("Bearertok", out));
	assert_false(request_bearer("Basic dXNlcjpwYXNz", out));
	assert_false(request_bearer("Bearer a b", out));
	assert_false(request_bearer("Bearer a=b", out));
	assert_false(request_bearer("Bearer a\"b", out));
	assert_false(request_bearer("Bearer\ttok", out));
	strcpy(big, "Bearer ");
	memset(big + 7, 'x', REQUEST_BEARER_MAX);
	big[7 + REQUEST_BEARER_MAX] = '\0';
	assert_true(request_bearer(big, out));
	strcat(big, "x");
	assert_false(request_bearer(big, out));

	f->cgi.v[CGI_HTTP_AUTHORIZATION] = "Bearer s3cr3t";
	assert_int_equal(run(f, NULL, NULL), PWR_OK);
	assert_string_equal(f->rq.bearer, "s3cr3t");
	f->cgi.v[CGI_HTTP_AUTHORIZATION] = "Basic s3cr3t";
	assert_int_equal(run(f, NULL, NULL), PWR_OK);
	assert_null(f->rq.bearer);
}

/* The request takes its client address from the proxy list it is given
 * (the rules themselves: test-proxy.c). */
static void
test_client_via_proxies(void **state)
{
	struct proxy_list pl;
	struct cgi cgi = {0};
	struct request rq;
	char err[128];

	(void)state;
	assert_int_equal(proxy_list_parse(&pl, "127.0.0.1", err, sizeof(err)),
			 0);
	cgi.v[CGI_HTTP_X_FORWARDED_FOR] = "203.0.113.9";
	cgi.v[CGI_REMOTE_ADDR] = "127.0.0.1";
	request_init(&rq, &cgi, &pl);
	assert_string_equal(rq.client, "203.0.113.9");
	request_free(&rq);
	cgi.v[CGI_REMOTE_ADDR] = "192.0.2.1";
	request_init(&rq, &cgi, &pl);
	assert_string_equal(rq.client, "192.0.2.1");
	request_free(&rq);
	request_init(&rq, &cgi, NULL);
	assert_string_equal(rq.client, "192.0.2.1");
	request_free(&rq);
	proxy_list_free(&pl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_valid_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_and_body, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_repeated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_escape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_and_controls, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_is_absent, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_notify_async, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_content_type, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_content_length, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_short_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bearer, setup, teardown),
	    cmocka_unit_test(test_client_via_proxies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
