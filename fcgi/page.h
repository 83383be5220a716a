/*
 * page.h — the pages a person sees in a browser (SPEC §9); page_serve()
 * also hands PageSeeder v6's token check
 * (GET {prefix}/service/members/{member}?token=…) to member.h.
 *
 * Pure like response.c: a page is rendered into a caller-owned struct buf
 * (headers, blank line, body) from the request the worker parsed; no I/O
 * of its own.  Every rule stays in the core: a POST runs reset_handle()
 * exactly as the service does (so the worker's reset_finish() afterwards
 * does step 1's deferred write), and a GET only reads (tokencheck.h).
 * Page texts live in the template sets (core/pages.h); the
 * sentences that explain an answer are here, one per error.
 */
#ifndef PWR_FCGI_PAGE_H
#define PWR_FCGI_PAGE_H

#include <stdbool.h>

#include "buf.h"
#include "core/config.h"
#include "core/reset.h"
#include "request.h"
#include "route.h"

/* Is uri a page or the token check?  (Asked when route_parse() found no
 * service.)  true with *m filled. */
bool page_match(const struct config *cfg, const char *uri, const char *accept,
		struct route_match *m);

/*
 * Answer a request page_match() took.  parse is what request_parse()
 * said of rq.  Writes the whole CGI answer into out; *res receives what
 * the core answered (for the log) and the return value is the HTTP status.
 */
int page_serve(struct reset_env *env, const struct route_match *m,
	       const struct cgi *cgi, const struct request *rq,
	       enum pwr_err parse, struct buf *out, struct reset_result *res);

/* The page path of a hosturl: "http://h:1/x" → "/x", "http://h" → "". */
const char *page_base(const char *hosturl);

/*
 * May this POST go ahead?  false when Sec-Fetch-Site says cross-site or
 * same-site, or, without it, when Origin names an origin other than
 * hosturl's ("null" alone is same-origin under no-referrer).
 */
bool page_same_origin(const char *hosturl, const char *sec_fetch_site,
		      const char *origin);

#endif
