/*
 * response.c — rendering answers (see response.h).
 */
#include <mxml.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/utf8.h"
#include "response.h"
#include "urlenc.h"

/* Indexed by enum pwr_err; sized by its last initialiser so that a new
 * error appended to the enum without a status here fails to compile. */
static const int http_status[] = {
    [PWR_OK] = 200,
    [PWR_E_NO_IDENTIFIER] = 400,
    [PWR_E_EMAIL_INVALID] = 400,
    [PWR_E_MEMBER_UNKNOWN] = 400,
    [PWR_E_API_ACCOUNT] = 400,
    [PWR_E_LOCKED] = 400,
    [PWR_E_NO_EMAIL] = 400,
    [PWR_E_TOKEN_INVALID] = 400,
    [PWR_E_KEY_INVALID] = 400,
    [PWR_E_PASSWORD_WEAK] = 400,
    [PWR_E_PASSWORD_USER] = 400,
    [PWR_E_UNKNOWN_SERVICE] = 404,
    [PWR_E_METHOD] = 400,
    [PWR_E_UNKNOWN_GROUP] = 404,
    [PWR_E_MALFORMED] = 400,
    [PWR_E_TOO_LARGE] = 413,
    [PWR_E_CONTENT_TYPE] = 415,
    [PWR_E_RATE_LIMITED] = 429,
    [PWR_E_INTERNAL] = 500,
    [PWR_E_UNAVAILABLE] = 503,
};

_Static_assert(sizeof(http_status) / sizeof(http_status[0]) == PWR_E__MAX,
	       "HTTP status table out of step with enum pwr_err");

static const struct {
	int status;
	const char *reason;
} reasons[] = {
    {200, "OK"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {413, "Content Too Large"},
    {415, "Unsupported Media Type"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
};

static const char *const status_names[] = {
    [RESET_REQUEST_SUCCESSFUL] = "request-successful",
    [RESET_PASSWORD_CHANGED] = "password-changed",
    [RESET_PENDING] = "pending",
};

_Static_assert(sizeof(status_names) / sizeof(status_names[0]) ==
		   RESET_PENDING + 1,
	       "status name table out of step with enum reset_status");

static const char *const content_types[FORMAT__MAX] = {
    [FORMAT_XML] = "application/xml;charset=utf-8",
    [FORMAT_JSON] = "application/json;charset=utf-8",
};

_Static_assert(sizeof(content_types) / sizeof(content_types[0]) == FORMAT__MAX,
	       "content type table out of step with enum format");

int
response_http_status(enum pwr_err e)
{
	if ((unsigned)e >= PWR_E__MAX || http_status[e] == 0)
		return 500;
	return http_status[e];
}

const char *
response_reason(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Internal Server Error";
}

const char *
response_status_name(enum reset_status s)
{
	if ((unsigned)s > RESET_PENDING)
		return status_names[RESET_REQUEST_SUCCESSFUL];
	return status_names[s];
}

/* U+FFFE and U+FFFF: valid UTF-8, but not XML 1.0 characters (its Char
 * production stops at U+FFFD), so not even a character reference helps. */
static bool
is_xml_nonchar(const char *s, size_t n)
{
	return n == 3 && memcmp(s, "\xef\xbf", 2) == 0 &&
	       ((unsigned char)s[2] == 0xbe || (unsigned char)s[2] == 0xbf);
}

/*
 * The path as it may appear in XML or JSON: valid UTF-8, no control
 * characters (XML 1.0 cannot even escape most of them) and no U+FFFE or
 * U+FFFF, at most RESPONSE_PATH_MAX input bytes.  Anything else becomes
 * U+FFFD.
 */
static void
path_clean(struct buf *out, const char *path, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";
	size_t i = 0;
	bool capped = len > RESPONSE_PATH_MAX;

	if (capped)
		len = RESPONSE_PATH_MAX;
	while (i < len) {
		unsigned char c = (unsigned char)path[i];
		size_t n = utf8_lead_len(c);

		if (n == 3 && n <= len - i && is_xml_nonchar(path + i, n)) {
			buf_add(out, repl, sizeof(repl) - 1);
			i += n;
			continue;
		}
		if (n == 0 || n > len - i || !utf8_valid(path + i, n) ||
		    urlenc_has_control(path + i, n)) {
			/* A sequence cut by the length cap ends the path. */
			if (capped && n > len - i)
				break;
			buf_add(out, repl, sizeof(repl) - 1);
			i++;
			continue;
		}
		buf_add(out, path + i, n);
		i += n;
	}
}

void
response_json_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	buf_add(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			buf_adds(out, "\\\"");
			break;
		case '\\':
			buf_adds(out, "\\\\");
			break;
		case '\n':
			buf_adds(out, "\\n");
			break;
		case '\r':
			buf_adds(out, "\\r");
			break;
		case '\t':
			buf_adds(out, "\\t");
			break;
		default:
			if (ascii_is_control((char)c)) {
				char u[6] = {'\\', 'u',		'0',
					     '0',  hex[c >> 4], hex[c & 15]};
				buf_add(out, u, sizeof(u));
			} else {
				buf_add(out, &s[i], 1);
			}
		}
	}
	buf_add(out, "\"", 1);
}

static void
body_json(struct buf *out, const struct reset_result *res, const char *path)
{
	if (res->err == PWR_OK) {
		const char *st = response_status_name(res->status);

		buf_adds(out, "{\"status\":");
		response_json_string(out, st, strlen(st));
		if (res->status == RESET_PENDING && res->admin)
			buf_adds(out, ",\"admin\":true");
		buf_adds(out, "}\n");
		return;
	}
	buf_adds(out, "{\"id\":");
	response_json_string(out, pwr_err_id(res->err),
			     strlen(pwr_err_id(res->err)));
	buf_adds(out, ",\"request\":");
	response_json_string(out, path, strlen(path));
	buf_adds(out, ",\"message\":");
	response_json_string(out, pwr_err_message(res->err),
			     strlen(pwr_err_message(res->err)));
	buf_adds(out, "}\n");
}

static void
body_xml(struct buf *out, const struct reset_result *res, const char *path)
{
	mxml_node_t *xml = mxmlNewXML("1.0"), *el;
	char *s;

	if (res->err == PWR_OK) {
		el = mxmlNewElement(xml, "reset-password");
		mxmlElementSetAttr(el, "status",
				   response_status_name(res->status));
		if (res->status == RESET_PENDING && res->admin)
			mxmlElementSetAttr(el, "admin", "true");
	} else {
		el = mxmlNewElement(xml, "error");
		mxmlElementSetAttr(el, "id", pwr_err_id(res->err));
		mxmlNewOpaque(mxmlNewElement(el, "request"), path);
		mxmlNewOpaque(mxmlNewElement(el, "message"),
			      pwr_err_message(res->err));
	}
	/* mxml wraps long lines at column 72 by default. */
	mxmlSetWrapMargin(0);
	s = mxmlSaveAllocString(xml, MXML_NO_CALLBACK);
	if (s == NULL)
		abort(); /* mxml out of memory: the rule of common/xalloc.h */
	buf_adds(out, s);
	free(s);
	mxmlDelete(xml);
}

void
response_body(struct buf *out, enum format fmt, const struct reset_result *res,
	      const char *path, size_t pathlen)
{
	struct buf clean = {0};

	path_clean(&clean, path ? path : "", path ? pathlen : 0);
	buf_add(&clean, "", 0); /* NUL-terminated even when empty */
	if (fmt == FORMAT_JSON)
		body_json(out, res, clean.p);
	else
		body_xml(out, res, clean.p);
	buf_free(&clean);
}

void
response_headers(struct buf *out, int status, const char *type, size_t len,
		 int retry_after, const char *csp)
{
	buf_adds(out, "Status: ");
	buf_addu(out, (unsigned)status);
	buf_adds(out, " ");
	buf_adds(out, response_reason(status));
	buf_adds(out, "\r\nContent-Type: ");
	buf_adds(out, type);
	buf_adds(out, "\r\nContent-Length: ");
	buf_addu(out, len);
	buf_adds(out, "\r\nCache-Control: no-store"
		      "\r\nX-Content-Type-Options: nosniff"
		      "\r\nReferrer-Policy: no-referrer\r\n");
	if (csp != NULL) {
		buf_adds(out, "Content-Security-Policy: ");
		buf_adds(out, csp);
		buf_adds(out, "\r\n");
	}
	if (retry_after > 0) {
		buf_adds(out, "Retry-After: ");
		buf_addu(out, (unsigned)retry_after);
		buf_adds(out, "\r\n");
	}
	buf_adds(out, "\r\n");
}

void
response_render(struct buf *out, enum format fmt,
		const struct reset_result *res, const char *path,
		size_t pathlen)
{
	struct buf body = {0};
	int status = response_http_status(res->err);

	if ((unsigned)fmt >= FORMAT__MAX)
		fmt = FORMAT_XML;
	response_body(&body, fmt, res, path, pathlen);
	response_headers(out, status, content_types[fmt], body.len,
			 res->retry_after, NULL);
	buf_add(out, body.p, body.len);
	buf_free(&body);
}
