/*
 * member.h — GET {prefix}/service/members/{member}?token=… (SPEC §9):
 * PageSeeder v6's way to check a token.  A valid token of that member
 * ({member}: an id or a username) answers the <member> element (or its
 * JSON twin); anything else answers 102A like the service.  Never
 * consumes the token, never counts it (core/tokencheck.h).  Only GET (and
 * HEAD) makes this a route: any other method is the unknown service it
 * was before.  Pure like response.c: writes into the caller's buf.
 */
#ifndef PWR_FCGI_MEMBER_H
#define PWR_FCGI_MEMBER_H

#include "buf.h"
#include "core/reset.h"
#include "request.h"
#include "route.h"

/* Answer m (ROUTE_SERVICE_MEMBER); parse is what request_parse() said.
 * *res receives the answer for the log; returns the HTTP status. */
int member_serve(struct reset_env *env, const struct route_match *m,
		 const struct cgi *cgi, const struct request *rq,
		 enum pwr_err parse, struct buf *out, struct reset_result *res);

#endif
