/*
 * route.h — which service a request asks for, and in which format.
 *
 * The path comes from the web server's REQUEST_URI (the query string is cut
 * off here) and must be, after the configured site prefix,
 *
 *	/service/members/resetpassword
 *	/api/members/resetpassword
 *	/service/groups/{group}/members/resetpassword
 *	/api/groups/{group}/members/resetpassword
 *
 * with an optional ".xml" or ".json" on the last segment.  Fixed segments
 * are compared byte for byte (no decoding, no "//", no trailing '/');
 * {group} is percent-decoded strictly into struct route_match.
 *
 * No allocation: everything lands in the caller's struct route_match.
 */
#ifndef PWR_FCGI_ROUTE_H
#define PWR_FCGI_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/reset.h"

enum route {
	ROUTE_SERVICE_MEMBERS,
	ROUTE_API_MEMBERS,
	ROUTE_SERVICE_GROUP,
	ROUTE_API_GROUP,
	/* route_parse_page(): */
	ROUTE_PAGE_CHANGE,    /* {page}/email/changepassword */
	ROUTE_PAGE_FORGOT,    /* {page}/email/forgotpassword */
	ROUTE_SERVICE_MEMBER, /* {prefix}/service/members/{member} */
	ROUTE__MAX
};

enum format { FORMAT_XML, FORMAT_JSON, FORMAT__MAX };

#define ROUTE_GROUP_MAX	 100 /* bytes of a decoded {group} */
#define ROUTE_MEMBER_MAX 100 /* bytes of a decoded {member} */

struct route_match {
	enum route route;   /* ROUTE__MAX with PWR_E_UNKNOWN_SERVICE */
	enum format format; /* always set, errors included */
	char group[ROUTE_GROUP_MAX + 1];   /* group routes: decoded, else "" */
	char member[ROUTE_MEMBER_MAX + 1]; /* ROUTE_SERVICE_MEMBER: decoded */
};

/*
 * Route one request.  prefix is [service] site_prefix ("" or "/x/y", no
 * trailing '/'); method, uri and accept are REQUEST_METHOD, REQUEST_URI and
 * HTTP_ACCEPT, each possibly NULL.  Returns PWR_OK, PWR_E_UNKNOWN_SERVICE
 * (no such path), PWR_E_METHOD (known path, not POST) or PWR_E_MALFORMED
 * (bad {group}).  out->format is set in every case: a ".json"/".xml"
 * suffix wins, else route_accepts_json(accept), else XML.
 */
enum pwr_err route_parse(const char *prefix, const char *method,
			 const char *uri, const char *accept,
			 struct route_match *out);

/*
 * The routes of SPEC §9, tried when route_parse() found no service:
 * page is the path of [service] hosturl ("" or "/x", no trailing '/'),
 * prefix as above.  Pages: {page}/email/changepassword and
 * {page}/email/forgotpassword, any method (the page says which it takes).
 * The token check: {prefix}/service/members/{member} with an optional
 * ".xml"/".json", {member} percent-decoded strictly like {group}.  true
 * with *out filled when one matched (out->format as route_parse()).
 */
bool route_parse_page(const char *page, const char *prefix, const char *uri,
		      const char *accept, struct route_match *out);

/* true when an Accept value names application/json with q > 0. */
bool route_accepts_json(const char *accept);

/* Bytes of uri before its query string (uri may be NULL → 0). */
size_t route_path_len(const char *uri);

/* "service-members", ... for logs; never NULL. */
const char *route_name(enum route r);
/* What the core must do for this route. */
enum reset_route route_kind(enum route r);

#endif
