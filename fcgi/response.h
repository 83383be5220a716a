/*
 * response.h — a reset result → the bytes of a CGI answer.
 *
 * Pure: rendering writes into a caller-owned struct buf and touches no I/O,
 * so the unit tests compare bytes.  XML is built with mxml, JSON by one
 * small escaping writer; user data (the request path) never goes through a
 * format string.  Every answer carries the headers of SPEC §2.
 */
#ifndef PWR_FCGI_RESPONSE_H
#define PWR_FCGI_RESPONSE_H

#include <stddef.h>

#include "common/buf.h"
#include "core/err.h"
#include "core/reset.h"
#include "route.h"

/* Longest request path echoed in an error, in bytes (longer is cut at a
 * character boundary). */
#define RESPONSE_PATH_MAX 2048

/* The HTTP status of an answer: 200 for PWR_OK. */
int response_http_status(enum pwr_err e);
/* "Bad Request", ... for a status response_http_status() returns. */
const char *response_reason(int status);
/* "request-successful" | "password-changed" | "pending" */
const char *response_status_name(enum reset_status s);

/*
 * The body alone: <reset-password status="…"/> or <error id="…">…</error>
 * (or their JSON twins).  path[0..pathlen) is the request path as received;
 * invalid UTF-8 and control characters in it become U+FFFD.
 */
void response_body(struct buf *out, enum format fmt,
		   const struct reset_result *res, const char *path,
		   size_t pathlen);

/* Headers (Status, Content-Type, Content-Length, Cache-Control,
 * X-Content-Type-Options, Referrer-Policy, Retry-After when
 * res->retry_after > 0), the blank line, then the body. */
void response_render(struct buf *out, enum format fmt,
		     const struct reset_result *res, const char *path,
		     size_t pathlen);

/* The status line and the headers of SPEC §2 for a body of len bytes of
 * type, then the blank line; Retry-After when retry_after > 0, and
 * Content-Security-Policy when csp is not NULL (the pages, SPEC §9). */
void response_headers(struct buf *out, int status, const char *type, size_t len,
		      int retry_after, const char *csp);

/* Append s as a JSON string, quotes included. */
void response_json_string(struct buf *out, const char *s, size_t len);

#endif
