/*
 * request.h — CGI parameters and form body → the fields of a reset request.
 *
 * Knows nothing of libfcgi: the caller hands over the CGI parameters as a
 * struct cgi (borrowed strings, NULL when absent) and a read function for
 * the body, so the parser runs the same under the unit tests.
 *
 * Memory: a struct request is the whole per-request state of the parser.
 * Every pointer it hands out (fields, bearer) points into storage it owns,
 * and request_free() wipes (tokens and passwords pass through it) and frees
 * all of it in one place, after FCGX_Finish_r.  request_free() is safe on a
 * request that request_init() has seen, and twice.
 */
#ifndef PWR_FCGI_REQUEST_H
#define PWR_FCGI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"
#include "core/reset.h"
#include "proxy.h"
#include "route.h"

/* The CGI parameters pwreset reads; cgi_param_name() gives their names. */
enum cgi_param {
	CGI_REQUEST_METHOD,
	CGI_REQUEST_URI,
	CGI_QUERY_STRING,
	CGI_CONTENT_TYPE,
	CGI_CONTENT_LENGTH,
	CGI_HTTP_ACCEPT,
	CGI_HTTP_AUTHORIZATION,
	CGI_REMOTE_ADDR,
	CGI_HTTP_X_FORWARDED_FOR,
	CGI_HTTP_ORIGIN,	 /* the pages' cross-site check (SPEC §9) */
	CGI_HTTP_SEC_FETCH_SITE, /* idem */
	CGI__MAX
};

struct cgi {
	const char *v[CGI__MAX]; /* borrowed; NULL when absent */
};

/* "REQUEST_METHOD", ... */
const char *cgi_param_name(enum cgi_param p);

/* The form fields of SPEC §3; anything else is checked and ignored. */
enum field {
	FIELD_EMAIL,
	FIELD_MEMBER_USERNAME,
	FIELD_TOKEN,
	FIELD_KEY,
	FIELD_MEMBER_PASSWORD,
	FIELD_NOTIFY_ASYNC,
	/* the pages' forms (SPEC §9); the service ignores them */
	FIELD_MEMBER,
	FIELD_GROUP,
	FIELD_PASSWORD_CONFIRM,
	FIELD__MAX
};

/* Longest decoded value of each field, in bytes. */
#define FIELD_EMAIL_MAX	       320
#define FIELD_USERNAME_MAX     256
#define FIELD_TOKEN_MAX	       256
#define FIELD_KEY_MAX	       256
#define FIELD_PASSWORD_MAX     1024
#define FIELD_NOTIFY_ASYNC_MAX 5
#define FIELD_MEMBER_MAX       256
#define FIELD_GROUP_MAX	       256

#define REQUEST_PARAMS_MAX 64	/* name=value pairs, query and body */
#define REQUEST_QUERY_MAX  8192 /* bytes of QUERY_STRING */
#define REQUEST_BEARER_MAX 256	/* bytes of an Authorization token */

/* "email", "member-username", ... */
const char *field_name(enum field f);

/*
 * Read up to len bytes of the body into buf: the count read (0 at the
 * end), or -1 on an error.
 */
typedef ssize_t request_read_fn(void *arg, char *buf, size_t len);

struct request {
	/* decoded, NUL-terminated, valid UTF-8; NULL when absent or empty */
	const char *field[FIELD__MAX];
	bool notify_async;
	const char *bearer; /* Authorization: Bearer value, or NULL */
	char client[PROXY_ADDR_MAX];
	bool body_read; /* the whole body was consumed */

	/* owned storage (values are decoded in place) */
	char *query;
	char *body;
	size_t query_cap, body_cap;
	char bearer_buf[REQUEST_BEARER_MAX + 1];
};

/* Start a request: the client address (SPEC §2, via proxies) and the
 * bearer token.  Never fails. */
void request_init(struct request *rq, const struct cgi *cgi,
		  const struct proxy_list *proxies);

/*
 * Check the headers, read the body through rd and parse the query string
 * and the body.  In order: a bad CONTENT_LENGTH or body → PWR_E_MALFORMED;
 * a non-empty body that is not application/x-www-form-urlencoded (UTF-8)
 * → PWR_E_CONTENT_TYPE; CONTENT_LENGTH > max_body → PWR_E_TOO_LARGE
 * before anything is read; then the form rules (see request.c) →
 * PWR_E_MALFORMED.  PWR_OK fills rq->field and rq->notify_async.
 */
enum pwr_err request_parse(struct request *rq, const struct cgi *cgi,
			   size_t max_body, request_read_fn *rd, void *arg);

/* The bearer token of an Authorization value, into out (REQUEST_BEARER_MAX
 * + 1 bytes); false when it is not "Bearer <token>". */
bool request_bearer(const char *authorization,
		    char out[REQUEST_BEARER_MAX + 1]);

/* Fill a core request; its strings borrow from rq and m. */
void request_to_reset(const struct request *rq, const struct route_match *m,
		      struct reset_request *out);

void request_free(struct request *rq);

#endif
