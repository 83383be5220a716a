/*
 * fuzz-route.c — libFuzzer target for the router (fcgi/route.c) and for
 * the answer that echoes the request path (fcgi/response.c).
 *
 * The input is split at NUL bytes:
 *
 *	MODE \0 REQUEST_METHOD \0 REQUEST_URI \0 HTTP_ACCEPT
 *
 * MODE's first byte picks the site prefix ("/ps", "" or "/a/b") and which
 * of the three values are absent instead of empty.
 *
 * Checked beyond "no crash": route.h's promises (a matched group route has
 * a non-empty, valid UTF-8 {group} without '/' or control characters), and
 * that the error answer for the path is well-formed: the XML parses with
 * expat (when built with it) and gives the path back when it was clean;
 * the JSON passes a small strict parser.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_EXPAT
#include <expat.h>
#endif

#include "core/validate.h"
#include "fcgi/buf.h"
#include "fcgi/response.h"
#include "fcgi/route.h"
#include "fcgi/urlenc.h"
#include "slots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const prefixes[] = {"/ps", "", "/a/b"};

enum slot { SLOT_MODE, SLOT_METHOD, SLOT_URI, SLOT_ACCEPT, SLOT__MAX };

/* ---- a strict parser for the JSON answers ----------------------------- */

static const char *
json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static const char *
json_string(const char *p, const char *end)
{
	if (p >= end || *p++ != '"')
		return NULL;
	while (p < end && *p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= end)
				return NULL;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (p + i >= end ||
					    !strchr("0123456789abcdefABCDEF",
						    p[i]) ||
					    p[i] == '\0')
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || *p == '\0') {
				return NULL;
			}
		}
		p++;
	}
	return p < end ? p + 1 : NULL;
}

/* {"k":"v"|true,...} and nothing after but white space. */
static bool
json_valid(const char *p, size_t len)
{
	const char *end = p + len;

	p = json_ws(p, end);
	if (p >= end || *p++ != '{')
		return false;
	p = json_ws(p, end);
	for (;;) {
		if ((p = json_string(p, end)) == NULL)
			return false;
		p = json_ws(p, end);
		if (p >= end || *p++ != ':')
			return false;
		p = json_ws(p, end);
		if ((size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0)
			p += 4;
		else if ((p = json_string(p, end)) == NULL)
			return false;
		p = json_ws(p, end);
		if (p < end && *p == ',') {
			p = json_ws(p + 1, end);
			continue;
		}
		break;
	}
	if (p >= end || *p++ != '}')
		return false;
	return json_ws(p, end) == end;
}

/* ---- XML ------------------------------------------------------------- */

#ifdef HAVE_EXPAT
struct xml_state {
	int depth, in_request;
	struct buf request;
};

static void XMLCALL
xml_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xml_state *st = ud;

	(void)atts;
	st->depth++;
	if (strcmp(name, "request") == 0)
		st->in_request = st->depth;
}

static void XMLCALL
xml_end(void *ud, const XML_Char *name)
{
	struct xml_state *st = ud;

	(void)name;
	if (st->in_request == st->depth)
		st->in_request = 0;
	st->depth--;
}

static void XMLCALL
xml_text(void *ud, const XML_Char *s, int len)
{
	struct xml_state *st = ud;

	if (st->in_request)
		buf_add(&st->request, s, (size_t)len);
}

/* Parse body; the text of <request> into st->request. */
static bool
xml_valid(const char *body, size_t len, struct xml_state *st)
{
	XML_Parser p = XML_ParserCreate("UTF-8");
	bool ok;

	if (p == NULL)
		abort();
	XML_SetUserData(p, st);
	XML_SetElementHandler(p, xml_start, xml_end);
	XML_SetCharacterDataHandler(p, xml_text);
	ok = XML_Parse(p, body, (int)len, 1) == XML_STATUS_OK;
	XML_ParserFree(p);
	buf_add(&st->request, "", 0);
	return ok;
}
#endif

/* Is path[0..len) echoed unchanged (valid UTF-8, no controls, no U+FFFE
 * or U+FFFF, short)? */
static bool
path_is_clean(const char *path, size_t len)
{
	return len <= RESPONSE_PATH_MAX && utf8_valid(path, len) &&
	       !urlenc_has_control(path, len) &&
	       !memmem(path, len, "\xef\xbf\xbe", 3) &&
	       !memmem(path, len, "\xef\xbf\xbf", 3);
}

static void
check_answer(enum format fmt, enum pwr_err e, const char *uri)
{
	struct reset_result res = {.err = e};
	size_t plen = route_path_len(uri);
	struct buf out = {0};

	response_body(&out, fmt, &res, uri, plen);
	buf_add(&out, "", 0);
	if (!utf8_valid(out.p, out.len))
		abort();
	if (fmt == FORMAT_JSON) {
		if (!json_valid(out.p, out.len))
			abort();
	} else {
#ifdef HAVE_EXPAT
		struct xml_state st = {0};

		if (!xml_valid(out.p, out.len, &st))
			abort();
		if (uri != NULL && path_is_clean(uri, plen) &&
		    (st.request.len != plen ||
		     memcmp(st.request.p, uri, plen) != 0))
			abort();
		buf_free(&st.request);
#endif
	}
	buf_reset(&out);
	response_render(&out, fmt, &res, uri, plen);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *slot[SLOT__MAX];
	struct route_match m;
	const char *prefix;
	size_t i;
	unsigned mode;
	enum pwr_err e;

	copy = fuzz_slots(data, size, slot, SLOT__MAX, NULL);
	mode = slot[SLOT_MODE] ? (unsigned char)slot[SLOT_MODE][0] : 0;
	prefix = prefixes[mode % (sizeof(prefixes) / sizeof(prefixes[0]))];
	for (i = SLOT_METHOD; i < SLOT__MAX; i++)
		if (slot[i] != NULL && slot[i][0] == '\0' && (mode & 8))
			slot[i] = NULL;

	e = route_parse(prefix, slot[SLOT_METHOD], slot[SLOT_URI],
			slot[SLOT_ACCEPT], &m);
	if ((unsigned)m.format >= FORMAT__MAX)
		abort();
	if (e == PWR_OK) {
		size_t n = strlen(m.group);

		if ((unsigned)m.route >= ROUTE__MAX)
			abort();
		if (route_kind(m.route) == RESET_ROUTE_GROUP &&
		    (n == 0 || n > ROUTE_GROUP_MAX || !utf8_valid(m.group, n) ||
		     memchr(m.group, '/', n) != NULL ||
		     urlenc_has_control(m.group, n)))
			abort();
		if (route_kind(m.route) != RESET_ROUTE_GROUP && n != 0)
			abort();
	} else if (e != PWR_E_UNKNOWN_SERVICE && e != PWR_E_METHOD &&
		   e != PWR_E_MALFORMED) {
		abort();
	}
	(void)route_name(m.route);
	(void)route_accepts_json(slot[SLOT_ACCEPT]);
	{
		struct route_match pm;

		/* The pages and the token check (SPEC §9): {member} decoded as
		 * strictly as {group}. */
		if (route_parse_page(prefix, prefix, slot[SLOT_URI],
				     slot[SLOT_ACCEPT], &pm)) {
			size_t n = strlen(pm.member);

			if (pm.route < ROUTE_PAGE_CHANGE ||
			    pm.route >= ROUTE__MAX ||
			    (unsigned)pm.format >= FORMAT__MAX)
				abort();
			if (pm.route == ROUTE_SERVICE_MEMBER &&
			    (n == 0 || n > ROUTE_MEMBER_MAX ||
			     !utf8_valid(pm.member, n) ||
			     memchr(pm.member, '/', n) != NULL ||
			     urlenc_has_control(pm.member, n)))
				abort();
			if (pm.route != ROUTE_SERVICE_MEMBER && n != 0)
				abort();
		}
	}
	check_answer(m.format, e == PWR_OK ? PWR_E_UNKNOWN_GROUP : e,
		     slot[SLOT_URI]);
	free(copy);
	return 0;
}
