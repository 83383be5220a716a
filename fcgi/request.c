/*
 * request.c — CGI parameters and form body → fields (see request.h).
 *
 * The form rules, strict on purpose (a reset service has no reason to be
 * lenient, and every leniency is a parser difference an attacker can use):
 * - pairs are separated by '&'; empty pairs ("a=1&&b=2", a trailing '&')
 *   are skipped; a pair without '=' has an empty value;
 * - '+' is a space, "%XX" needs two hex digits;
 * - decoded names and values are valid UTF-8 without NUL; names and every
 *   value except member-password carry no control character;
 * - at most REQUEST_PARAMS_MAX pairs in all; a value longer than its
 *   field's limit is refused;
 * - the same name twice in the query string, or twice in the body, is
 *   refused; a name in both: the body's value is used;
 * - a non-empty member-password in the query string is refused (SPEC §3);
 * - unknown names are checked like the others, then ignored;
 * - an empty value is an absent one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ascii.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "request.h"
#include "urlenc.h"

static const char *const cgi_names[CGI__MAX] = {
    [CGI_REQUEST_METHOD] = "REQUEST_METHOD",
    [CGI_REQUEST_URI] = "REQUEST_URI",
    [CGI_QUERY_STRING] = "QUERY_STRING",
    [CGI_CONTENT_TYPE] = "CONTENT_TYPE",
    [CGI_CONTENT_LENGTH] = "CONTENT_LENGTH",
    [CGI_HTTP_ACCEPT] = "HTTP_ACCEPT",
    [CGI_HTTP_AUTHORIZATION] = "HTTP_AUTHORIZATION",
    [CGI_REMOTE_ADDR] = "REMOTE_ADDR",
    [CGI_HTTP_X_FORWARDED_FOR] = "HTTP_X_FORWARDED_FOR",
    [CGI_HTTP_ORIGIN] = "HTTP_ORIGIN",
    [CGI_HTTP_SEC_FETCH_SITE] = "HTTP_SEC_FETCH_SITE",
};

_Static_assert(sizeof(cgi_names) / sizeof(cgi_names[0]) == CGI__MAX,
	       "CGI name table out of step with enum cgi_param");

static const struct {
	const char *name;
	size_t max;    /* decoded bytes */
	bool controls; /* control characters allowed */
} fields[FIELD__MAX] = {
    [FIELD_EMAIL] = {"email", FIELD_EMAIL_MAX, false},
    [FIELD_MEMBER_USERNAME] = {"member-username", FIELD_USERNAME_MAX, false},
    [FIELD_TOKEN] = {"token", FIELD_TOKEN_MAX, false},
    [FIELD_KEY] = {"key", FIELD_KEY_MAX, false},
    [FIELD_MEMBER_PASSWORD] = {"member-password", FIELD_PASSWORD_MAX, true},
    [FIELD_NOTIFY_ASYNC] = {"notify-async", FIELD_NOTIFY_ASYNC_MAX, false},
    [FIELD_MEMBER] = {"member", FIELD_MEMBER_MAX, false},
    [FIELD_GROUP] = {"group", FIELD_GROUP_MAX, false},
    [FIELD_PASSWORD_CONFIRM] = {"member-password-confirm", FIELD_PASSWORD_MAX,
				true},
};

_Static_assert(sizeof(fields) / sizeof(fields[0]) == FIELD__MAX,
	       "field table out of step with enum field");

#define FORM_TYPE "application/x-www-form-urlencoded"

const char *
cgi_param_name(enum cgi_param p)
{
	return (unsigned)p < CGI__MAX ? cgi_names[p] : "";
}

const char *
field_name(enum field f)
{
	return (unsigned)f < FIELD__MAX ? fields[f].name : "";
}

/* ---- headers ------------------------------------------------------ */

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
 * "/" ) *"=" */
bool
request_bearer(const char *auth, char out[REQUEST_BEARER_MAX + 1])
{
	static const char scheme[] = "Bearer";
	const char *s, *tok;
	size_t len;

	out[0] = '\0';
	if (auth == NULL || strncasecmp(auth, scheme, sizeof(scheme) - 1) != 0)
		return false;
	s = auth + sizeof(scheme) - 1;
	if (*s != ' ')
		return false;
	while (*s == ' ')
		s++;
	tok = s;
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	       (*s >= '0' && *s <= '9') || (*s != '\0' && strchr("-._~+/", *s)))
		s++;
	if (s == tok)
		return false;
	while (*s == '=')
		s++;
	len = (size_t)(s - tok);
	while (ascii_is_blank(*s))
		s++;
	if (*s != '\0' || len > REQUEST_BEARER_MAX)
		return false;
	memcpy(out, tok, len);
	out[len] = '\0';
	return true;
}

void
request_init(struct request *rq, const struct cgi *cgi,
	     const struct proxy_list *proxies)
{
	static const struct proxy_list none;

	memset(rq, 0, sizeof(*rq));
	proxy_client_address(proxies ? proxies : &none, cgi->v[CGI_REMOTE_ADDR],
			     cgi->v[CGI_HTTP_X_FORWARDED_FOR], rq->client);
	if (request_bearer(cgi->v[CGI_HTTP_AUTHORIZATION], rq->bearer_buf))
		rq->bearer = rq->bearer_buf;
}

/* CONTENT_LENGTH: digits only (strtoul alone takes "+1", " 1", "-1"). */
static bool
content_length(const char *s, size_t *out)
{
	unsigned long long v;
	char *end;

	*out = 0;
	if (s == NULL || *s == '\0')
		return true;
	for (const char *p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

/*
 * "application/x-www-form-urlencoded" with optional parameters, of which
 * only charset matters: it must be utf-8 (quoted or not) when present.
 */
static bool
content_type_ok(const char *ct)
{
	const char *s = ct, *e;
	size_t n = sizeof(FORM_TYPE) - 1;

	if (ct == NULL)
		return false;
	while (ascii_is_blank(*s))
		s++;
	if (strncasecmp(s, FORM_TYPE, n) != 0)
		return false;
	s += n;
	for (;;) {
		const char *name, *val;
		size_t nlen, vlen;

		while (ascii_is_blank(*s))
			s++;
		if (*s == '\0')
			return true;
		if (*s++ != ';')
			return false;
		while (ascii_is_blank(*s))
			s++;
		if (*s == '\0')
			return true; /* a trailing ';' */
		name = s;
		while (*s != '\0' && *s != '=' && *s != ';' &&
		       !ascii_is_blank(*s))
			s++;
		nlen = (size_t)(s - name);
		if (*s != '=' || nlen == 0)
			return false;
		s++;
		if (*s == '"') {
			val = ++s;
			e = strchr(s, '"');
			if (e == NULL)
				return false;
			vlen = (size_t)(e - val);
			s = e + 1;
		} else {
			val = s;
			while (*s != '\0' && *s != ';' && !ascii_is_blank(*s))
				s++;
			vlen = (size_t)(s - val);
		}
		if (nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
		    !(vlen == 5 && strncasecmp(val, "utf-8", 5) == 0))
			return false;
	}
}

/* ---- the form ------------------------------------------------------- */

struct form {
	const char *field[FIELD__MAX]; /* NULL: not in this source */
	const char *names[REQUEST_PARAMS_MAX];
	size_t nnames;
};

/*
 * Parse one source (the query string or the body) in place: s holds len
 * bytes and s[len] is writable.  *count counts the pairs of both sources.
 */
static enum pwr_err
form_parse(char *s, size_t len, struct form *f, size_t *count)
{
	char *end = s + len;

	while (s < end) {
		char *amp = memchr(s, '&', (size_t)(end - s));
		char *pend = amp ? amp : end;
		char *eq = memchr(s, '=', (size_t)(pend - s));
		char *name = s, *val = eq ? eq + 1 : pend;
		size_t nraw = (size_t)((eq ? eq : pend) - s);
		size_t vraw = eq ? (size_t)(pend - val) : 0;
		ssize_t nlen, vlen;
		int fi = -1;

		s = pend + (amp != NULL);
		if (pend == name)
			continue; /* empty pair */
		if (++*count > REQUEST_PARAMS_MAX)
			return PWR_E_MALFORMED;
		nlen = urlenc_decode(name, name, nraw, true);
		vlen = urlenc_decode(val, val, vraw, true);
		if (nlen < 0 || vlen < 0)
			return PWR_E_MALFORMED;
		/* A decoded string ends where its raw text did at the
		 * latest, so the '=' and the '&' (or the spare byte at the
		 * end of the buffer) have room for the NULs. */
		name[nlen] = '\0';
		if (eq != NULL)
			val[vlen] = '\0';
		else
			val = "";
		if (!utf8_valid(name, (size_t)nlen) ||
		    urlenc_has_control(name, (size_t)nlen) ||
		    !utf8_valid(val, (size_t)vlen))
			return PWR_E_MALFORMED;
		for (size_t i = 0; i < f->nnames; i++)
			if (strcmp(f->names[i], name) == 0)
				return PWR_E_MALFORMED;
		f->names[f->nnames++] = name;
		for (int i = 0; i < FIELD__MAX; i++)
			if (strcmp(fields[i].name, name) == 0)
				fi = i;
		if (fi < 0) {
			if (urlenc_has_control(val, (size_t)vlen))
				return PWR_E_MALFORMED;
			continue;
		}
		if ((size_t)vlen > fields[fi].max ||
		    (!fields[fi].controls &&
		     urlenc_has_control(val, (size_t)vlen)))
			return PWR_E_MALFORMED;
		f->field[fi] = val;
	}
	return PWR_OK;
}

static enum pwr_err
read_body(struct request *rq, size_t len, request_read_fn *rd, void *arg)
{
	size_t got = 0;

	rq->body = xmalloc(len + 1);
	rq->body_cap = len + 1;
	while (got < len) {
		ssize_t n = rd(arg, rq->body + got, len - got);
		if (n <= 0)
			return PWR_E_MALFORMED; /* short body */
		got += (size_t)n;
	}
	rq->body[len] = '\0';
	rq->body_read = true;
	return PWR_OK;
}

enum pwr_err
request_parse(struct request *rq, const struct cgi *cgi, size_t max_body,
	      request_read_fn *rd, void *arg)
{
	struct form q = {0}, b = {0};
	const char *qs = cgi->v[CGI_QUERY_STRING];
	size_t len, qlen = qs ? strlen(qs) : 0, count = 0;
	enum pwr_err e;

	if (!content_length(cgi->v[CGI_CONTENT_LENGTH], &len))
		return PWR_E_MALFORMED;
	if (len > 0 && !content_type_ok(cgi->v[CGI_CONTENT_TYPE]))
		return PWR_E_CONTENT_TYPE;
	if (len > max_body || qlen > REQUEST_QUERY_MAX)
		return PWR_E_TOO_LARGE;
	if (len > 0) {
		if ((e = read_body(rq, len, rd, arg)) != PWR_OK)
			return e;
	} else {
		rq->body_read = true;
	}

	if (qlen > 0) {
		rq->query = xmemdup(qs, qlen);
		rq->query_cap = qlen + 1;
		if ((e = form_parse(rq->query, qlen, &q, &count)) != PWR_OK)
			return e;
		/* A password in a URL ends up in access logs and browser
		 * histories: refused, even when the body has one too. */
		if (q.field[FIELD_MEMBER_PASSWORD] != NULL &&
		    *q.field[FIELD_MEMBER_PASSWORD] != '\0')
			return PWR_E_MALFORMED;
	}
	if (len > 0 && (e = form_parse(rq->body, len, &b, &count)) != PWR_OK)
		return e;

	for (int i = 0; i < FIELD__MAX; i++) {
		const char *v = b.field[i] ? b.field[i] : q.field[i];
		rq->field[i] = (v != NULL && *v != '\0') ? v : NULL;
	}
	if (rq->field[FIELD_NOTIFY_ASYNC] != NULL) {
		if (strcasecmp(rq->field[FIELD_NOTIFY_ASYNC], "true") == 0)
			rq->notify_async = true;
		else if (strcasecmp(rq->field[FIELD_NOTIFY_ASYNC], "false") !=
			 0)
			return PWR_E_MALFORMED;
	}
	return PWR_OK;
}

void
request_to_reset(const struct request *rq, const struct route_match *m,
		 struct reset_request *out)
{
	memset(out, 0, sizeof(*out));
	out->route = route_kind(m->route);
	out->group = out->route == RESET_ROUTE_GROUP ? m->group : NULL;
	out->email = rq->field[FIELD_EMAIL];
	out->username = rq->field[FIELD_MEMBER_USERNAME];
	out->token = rq->field[FIELD_TOKEN];
	out->key = rq->field[FIELD_KEY];
	out->password = rq->field[FIELD_MEMBER_PASSWORD];
	out->notify_async = rq->notify_async;
	out->bearer = rq->bearer;
	out->client = rq->client;
}

void
request_free(struct request *rq)
{
	/* The body and the query may hold a password or a token. */
	if (rq->body != NULL)
		explicit_bzero(rq->body, rq->body_cap);
	if (rq->query != NULL)
		explicit_bzero(rq->query, rq->query_cap);
	free(rq->body);
	free(rq->query);
	explicit_bzero(rq->bearer_buf, sizeof(rq->bearer_buf));
	rq->body = rq->query = NULL;
	rq->body_cap = rq->query_cap = 0;
	memset(rq->field, 0, sizeof(rq->field));
	rq->bearer = NULL;
}
