/*
 * route.c — REQUEST_URI → route and answer format (see route.h).
 */
#include <string.h>
#include <strings.h>

#include "core/validate.h"
#include "route.h"
#include "urlenc.h"

static const struct {
	const char *name; /* for logs */
	const char *base; /* the segment after the prefix */
	bool group;	  /* has /groups/{group} */
	enum reset_route kind;
} routes[ROUTE__MAX] = {
    [ROUTE_SERVICE_MEMBERS] = {"service-members", "service", false,
			       RESET_ROUTE_MEMBERS},
    [ROUTE_API_MEMBERS] = {"api-members", "api", false, RESET_ROUTE_MEMBERS},
    [ROUTE_SERVICE_GROUP] = {"service-group", "service", true,
			     RESET_ROUTE_GROUP},
    [ROUTE_API_GROUP] = {"api-group", "api", true, RESET_ROUTE_GROUP},
    /* No base: matched by route_parse_page() alone. */
    [ROUTE_PAGE_CHANGE] = {"page-changepassword", NULL, false,
			   RESET_ROUTE_MEMBERS},
    [ROUTE_PAGE_FORGOT] = {"page-forgotpassword", NULL, false,
			   RESET_ROUTE_MEMBERS},
    [ROUTE_SERVICE_MEMBER] = {"service-member", NULL, false,
			      RESET_ROUTE_MEMBERS},
};

_Static_assert(sizeof(routes) / sizeof(routes[0]) == ROUTE__MAX,
	       "route table out of step with enum route");

static const struct {
	const char *suffix;
	enum format format;
} suffixes[] = {
    {".json", FORMAT_JSON},
    {".xml", FORMAT_XML},
};

#define TAIL "/members/resetpassword"

/* Longest raw {group} segment: every decoded byte written as %XX. */
#define GROUP_RAW_MAX (3 * ROUTE_GROUP_MAX)

const char *
route_name(enum route r)
{
	if ((unsigned)r >= ROUTE__MAX)
		return "unknown";
	return routes[r].name;
}

enum reset_route
route_kind(enum route r)
{
	if ((unsigned)r >= ROUTE__MAX)
		return RESET_ROUTE_MEMBERS;
	return routes[r].kind;
}

size_t
route_path_len(const char *uri)
{
	return uri == NULL ? 0 : strcspn(uri, "?");
}

/* Consume the literal lit at *p (within end); true when it was there. */
static bool
eat(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/*
 * Is "q=…" zero?  RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")].
 * Returns 1 for q > 0, 0 for q = 0, -1 when malformed.
 */
static int
qvalue_positive(const char *s, size_t len)
{
	size_t i;
	bool nonzero = false;

	if (len == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	nonzero = s[0] == '1';
	if (len == 1)
		return nonzero;
	if (s[1] != '.' || len > 5)
		return -1;
	for (i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (s[i] != '0') {
			if (s[0] == '1')
				return -1;
			nonzero = true;
		}
	}
	return nonzero;
}

static const char *
skip_ows(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static const char *
trim_ows(const char *start, const char *end)
{
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}

/* One media range "type/sub;p=v;q=0.5" of an Accept value. */
static bool
range_is_json(const char *s, const char *end)
{
	static const char json[] = "application/json";
	const char *semi = memchr(s, ';', (size_t)(end - s));
	const char *tend = trim_ows(s, semi ? semi : end);

	s = skip_ows(s, end);
	if ((size_t)(tend - s) != sizeof(json) - 1 ||
	    strncasecmp(s, json, sizeof(json) - 1) != 0)
		return false;
	/* Parameters: only q matters. */
	while (semi != NULL) {
		const char *p = skip_ows(semi + 1, end);
		const char *pend;

		semi = p < end ? memchr(p, ';', (size_t)(end - p)) : NULL;
		pend = trim_ows(p, semi ? semi : end);
		if (pend - p >= 2 && (p[0] == 'q' || p[0] == 'Q') &&
		    p[1] == '=')
			return qvalue_positive(p + 2, (size_t)(pend - p - 2)) ==
			       1;
	}
	return true;
}

bool
route_accepts_json(const char *accept)
{
	const char *s = accept, *end;

	if (accept == NULL)
		return false;
	end = accept + strlen(accept);
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *rend = comma ? comma : end;

		if (range_is_json(s, rend))
			return true;
		s = rend + (comma != NULL);
	}
	return false;
}

/* Decode a raw {group} segment into out; false when it is not a name. */
static bool
group_decode(const char *raw, size_t len, char out[ROUTE_GROUP_MAX + 1])
{
	char tmp[GROUP_RAW_MAX];
	ssize_t n;

	if (len == 0 || len > GROUP_RAW_MAX)
		return false;
	n = urlenc_decode(tmp, raw, len, false);
	if (n < 1 || n > ROUTE_GROUP_MAX)
		return false;
	/* utf8_valid() also refuses NUL. */
	if (!utf8_valid(tmp, (size_t)n) || memchr(tmp, '/', (size_t)n) ||
	    urlenc_has_control(tmp, (size_t)n))
		return false;
	memcpy(out, tmp, (size_t)n);
	out[n] = '\0';
	return true;
}

/*
 * Match rest (the path after the prefix, suffix removed) against route r.
 * On a match of a group route, *graw and *glen give the raw segment.
 */
static bool
route_match_one(enum route r, const char *rest, const char *end,
		const char **graw, size_t *glen)
{
	const char *p = rest;

	if (!eat(&p, end, "/") || !eat(&p, end, routes[r].base))
		return false;
	if (routes[r].group) {
		const char *seg;

		if (!eat(&p, end, "/groups/"))
			return false;
		seg = p;
		while (p < end && *p != '/')
			p++;
		*graw = seg;
		*glen = (size_t)(p - seg);
		if (*glen == 0)
			return false;
	}
	return eat(&p, end, TAIL) && p == end;
}

enum pwr_err
route_parse(const char *prefix, const char *method, const char *uri,
	    const char *accept, struct route_match *out)
{
	const char *path = uri ? uri : "";
	size_t len = route_path_len(uri), plen;
	const char *graw = NULL, *end;
	size_t glen = 0;

	memset(out, 0, sizeof(*out));
	out->route = ROUTE__MAX;
	out->format = route_accepts_json(accept) ? FORMAT_JSON : FORMAT_XML;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i].suffix);

		if (len > sl &&
		    memcmp(path + len - sl, suffixes[i].suffix, sl) == 0) {
			out->format = suffixes[i].format;
			len -= sl;
			break;
		}
	}

	if (prefix == NULL)
		prefix = "";
	plen = strlen(prefix);
	if (len < plen || memcmp(path, prefix, plen) != 0)
		return PWR_E_UNKNOWN_SERVICE;
	end = path + len;
	for (enum route r = 0; r < ROUTE__MAX; r++) {
		if (routes[r].base == NULL ||
		    !route_match_one(r, path + plen, end, &graw, &glen))
			continue;
		out->route = r;
		if (method == NULL || strcmp(method, "POST") != 0)
			return PWR_E_METHOD;
		if (routes[r].group && !group_decode(graw, glen, out->group))
			return PWR_E_MALFORMED;
		return PWR_OK;
	}
	return PWR_E_UNKNOWN_SERVICE;
}

/* The format of a path of len bytes: *len loses a ".json"/".xml". */
static enum format
route_suffix(const char *path, size_t *len, const char *accept)
{
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i].suffix);

		if (*len > sl &&
		    memcmp(path + *len - sl, suffixes[i].suffix, sl) == 0) {
			*len -= sl;
			return suffixes[i].format;
		}
	}
	return route_accepts_json(accept) ? FORMAT_JSON : FORMAT_XML;
}

bool
route_parse_page(const char *page, const char *prefix, const char *uri,
		 const char *accept, struct route_match *out)
{
	static const struct {
		const char *tail;
		enum route route;
	} pages[] = {
	    {"/email/changepassword", ROUTE_PAGE_CHANGE},
	    {"/email/forgotpassword", ROUTE_PAGE_FORGOT},
	};
	static const char members[] = "/service/members/";
	const char *path = uri ? uri : "", *p, *end;
	size_t len = route_path_len(uri), n;

	memset(out, 0, sizeof(*out));
	out->route = ROUTE__MAX;
	out->format = FORMAT_XML;
	page = page ? page : "";
	prefix = prefix ? prefix : "";
	n = strlen(page);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (len == n + strlen(pages[i].tail) &&
		    memcmp(path, page, n) == 0 &&
		    memcmp(path + n, pages[i].tail, len - n) == 0) {
			out->route = pages[i].route;
			return true;
		}

	out->format = route_suffix(path, &len, accept);
	p = path;
	end = path + len;
	if (!eat(&p, end, prefix) || !eat(&p, end, members) ||
	    memchr(p, '/', (size_t)(end - p)) != NULL ||
	    !group_decode(p, (size_t)(end - p), out->member))
		return false;
	out->route = ROUTE_SERVICE_MEMBER;
	return true;
}
