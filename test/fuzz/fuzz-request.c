/*
 * fuzz-request.c — libFuzzer target for the form parser (fcgi/request.c).
 *
 * The input is split at NUL bytes into the CGI parameters the parser
 * reads, then the body:
 *
 *	MODE \0 QUERY_STRING \0 CONTENT_TYPE \0 CONTENT_LENGTH \0
 *	HTTP_AUTHORIZATION \0 REMOTE_ADDR \0 HTTP_X_FORWARDED_FOR \0
 *	trusted_proxies \0 BODY...
 *
 * MODE's first byte picks how many bytes each body read returns (so short
 * reads are exercised) and whether a parameter is absent rather than
 * empty.  The body is the rest of the input, NUL bytes included; a
 * CONTENT_LENGTH larger than what is left is a short body.
 *
 * Beyond "no crash", a successful parse must honour request.h's promises:
 * every field valid UTF-8 without NUL, within its limit, no control
 * character but in member-password; an empty value is absent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "fcgi/proxy.h"
#include "fcgi/request.h"
#include "fcgi/urlenc.h"
#include "slots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 16384 /* [service] max_body default */

enum slot {
	SLOT_MODE,
	SLOT_QUERY,
	SLOT_CTYPE,
	SLOT_CLEN,
	SLOT_AUTH,
	SLOT_ADDR,
	SLOT_XFF,
	SLOT_PROXIES,
	SLOT__MAX
};

struct body {
	const char *p;
	size_t len, pos, chunk;
};

static ssize_t
body_read(void *arg, char *buf, size_t len)
{
	struct body *b = arg;
	size_t n = b->len - b->pos;

	if (n > len)
		n = len;
	if (b->chunk > 0 && n > b->chunk)
		n = b->chunk;
	memcpy(buf, b->p + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

static const size_t field_max[FIELD__MAX] = {
    [FIELD_EMAIL] = FIELD_EMAIL_MAX,
    [FIELD_MEMBER_USERNAME] = FIELD_USERNAME_MAX,
    [FIELD_TOKEN] = FIELD_TOKEN_MAX,
    [FIELD_KEY] = FIELD_KEY_MAX,
    [FIELD_MEMBER_PASSWORD] = FIELD_PASSWORD_MAX,
    [FIELD_NOTIFY_ASYNC] = FIELD_NOTIFY_ASYNC_MAX,
    [FIELD_MEMBER] = FIELD_MEMBER_MAX,
    [FIELD_GROUP] = FIELD_GROUP_MAX,
    [FIELD_PASSWORD_CONFIRM] = FIELD_PASSWORD_MAX,
};
/* A field added to the parser without a limit here would "crash". */
_Static_assert(sizeof(field_max) / sizeof(field_max[0]) == FIELD__MAX,
	       "field_max out of step with enum field");

static void
check(const struct request *rq)
{
	for (int i = 0; i < FIELD__MAX; i++) {
		const char *v = rq->field[i];
		size_t n;

		if (v == NULL)
			continue;
		n = strlen(v);
		if (field_max[i] == 0 || n == 0 || n > field_max[i] ||
		    !utf8_valid(v, n))
			abort();
		/* Passwords may hold any character; nothing else may hold a
		 * control character. */
		if (i != FIELD_MEMBER_PASSWORD && i != FIELD_PASSWORD_CONFIRM &&
		    urlenc_has_control(v, n))
			abort();
	}
	if (rq->bearer != NULL &&
	    (rq->bearer[0] == '\0' || strlen(rq->bearer) > REQUEST_BEARER_MAX))
		abort();
	if (memchr(rq->client, '\0', sizeof(rq->client)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *slot[SLOT__MAX];
	struct proxy_list proxies = {0};
	struct request rq;
	struct cgi cgi = {{0}};
	struct body body = {0};
	char err[256];
	size_t i, pos;
	unsigned mode;

	copy = fuzz_slots(data, size, slot, SLOT__MAX, &pos);
	mode = slot[SLOT_MODE] ? (unsigned char)slot[SLOT_MODE][0] : 0;

	/* Bit 3: an empty slot is an absent parameter. */
	for (i = SLOT_QUERY; i < SLOT__MAX; i++)
		if (slot[i] != NULL && slot[i][0] == '\0' && (mode & 8))
			slot[i] = NULL;
	cgi.v[CGI_REQUEST_METHOD] = "POST";
	cgi.v[CGI_REQUEST_URI] = "/ps/service/members/resetpassword";
	cgi.v[CGI_QUERY_STRING] = slot[SLOT_QUERY];
	cgi.v[CGI_CONTENT_TYPE] = slot[SLOT_CTYPE];
	cgi.v[CGI_CONTENT_LENGTH] = slot[SLOT_CLEN];
	cgi.v[CGI_HTTP_AUTHORIZATION] = slot[SLOT_AUTH];
	cgi.v[CGI_REMOTE_ADDR] = slot[SLOT_ADDR];
	cgi.v[CGI_HTTP_X_FORWARDED_FOR] = slot[SLOT_XFF];

	if (slot[SLOT_PROXIES] != NULL &&
	    proxy_list_parse(&proxies, slot[SLOT_PROXIES], err, sizeof(err)) !=
		0)
		proxy_list_free(&proxies); /* must still be usable: empty */

	body.p = (const char *)data + pos;
	body.len = size - pos;
	body.chunk = mode & 7;

	request_init(&rq, &cgi, &proxies);
	if (request_parse(&rq, &cgi, MAX_BODY, body_read, &body) == PWR_OK) {
		struct route_match m = {.route = ROUTE_SERVICE_MEMBERS};
		struct reset_request rr;

		check(&rq);
		request_to_reset(&rq, &m, &rr);
	}
	request_free(&rq);
	request_free(&rq);
	proxy_list_free(&proxies);
	free(copy);
	return 0;
}
