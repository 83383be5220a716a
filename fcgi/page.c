/*
 * page.c — the pages of SPEC §9 (see page.h); the token check is member.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/pages.h"
#include "core/password.h"
#include "core/tokencheck.h"
#include "member.h"
#include "page.h"
#include "response.h"

#define PAGE_CSP                                                               \
	"default-src 'none'; style-src 'self'; script-src 'self'; "            \
	"img-src 'self'; form-action 'self'; frame-ancestors 'none'; "         \
	"base-uri 'none'"

#define PAGE_RULE_MAX	 512
#define PAGE_MESSAGE_MAX 512

/*
 * What a person reads for each answer of the core that is not a form
 * error; NULL where the page shows something else (the form, the
 * "link no longer works" page).  Never a bare error id.
 */
static const struct {
	const char *title;
	const char *text;
} page_says[] = {
    [PWR_OK] = {NULL, NULL},
    [PWR_E_NO_IDENTIFIER] = {NULL, NULL},
    [PWR_E_EMAIL_INVALID] = {NULL, NULL},
    [PWR_E_MEMBER_UNKNOWN] = {NULL, NULL},
    [PWR_E_API_ACCOUNT] = {"This account cannot use this page",
			   "The password of this account is managed another "
			   "way. Contact an administrator."},
    [PWR_E_LOCKED] = {"This account is locked",
		      "The password of a locked or disabled account cannot "
		      "be reset here. Contact an administrator."},
    [PWR_E_NO_EMAIL] = {"This account has no email address",
			"A reset link can only be sent to an email address. "
			"Contact an administrator."},
    [PWR_E_TOKEN_INVALID] = {NULL, NULL},
    [PWR_E_KEY_INVALID] = {NULL, NULL},
    [PWR_E_PASSWORD_WEAK] = {NULL, NULL},
    [PWR_E_PASSWORD_USER] = {NULL, NULL},
    [PWR_E_UNKNOWN_SERVICE] = {"Page not found",
			       "There is no page at this address."},
    [PWR_E_METHOD] = {"This page cannot do that",
		      "Open the page from the link in your email, or ask for "
		      "a new link."},
    [PWR_E_UNKNOWN_GROUP] = {"This link no longer works",
			     "The group this link was sent for no longer "
			     "exists. Ask for a new link."},
    [PWR_E_MALFORMED] = {"Your browser sent something we could not read",
			 "Go back, reload the page and try again."},
    [PWR_E_TOO_LARGE] = {"What you sent is too long",
			 "Go back and try again with shorter values."},
    [PWR_E_CONTENT_TYPE] = {"Your browser sent something we could not read",
			    "Go back, reload the page and try again."},
    [PWR_E_RATE_LIMITED] = {"Too many attempts",
			    "Too many requests came from your network."},
    [PWR_E_INTERNAL] = {"Something went wrong on our side",
			"Nothing was changed. Try again later; if it keeps "
			"happening, contact an administrator."},
    [PWR_E_UNAVAILABLE] = {"The service is busy",
			   "Nothing was changed. Try again in a minute."},
};

_Static_assert(sizeof(page_says) / sizeof(page_says[0]) == PWR_E__MAX,
	       "page_says out of step with enum pwr_err");

/* Everything one page needs while it is being made. */
struct page_ctx {
	struct reset_env *env;
	const struct request *rq;
	struct reset_result *res; /* what the log line says */
	struct page_values vals;
	const char *sets[3]; /* group set, global_template, NULL */
	bool on_group;
	struct tokencheck_group group;
	char group_id[24];
	char member[TOKENCHECK_USERNAME_SIZE];
	char rule[PAGE_RULE_MAX];
	char message[PAGE_MESSAGE_MAX];
	int retry_after; /* seconds; 0: no Retry-After */
};

const char *
page_base(const char *hosturl)
{
	const char *s = hosturl ? strstr(hosturl, "://") : NULL;

	if (s == NULL)
		return "";
	s = strchr(s + 3, '/');
	return s ? s : "";
}

bool
page_same_origin(const char *hosturl, const char *sec_fetch_site,
		 const char *origin)
{
	size_t n;

	if (sec_fetch_site != NULL)
		return strcmp(sec_fetch_site, "cross-site") != 0 &&
		       strcmp(sec_fetch_site, "same-site") != 0;
	if (origin == NULL || strcmp(origin, "null") == 0)
		return true;
	n = strlen(hosturl) - strlen(page_base(hosturl));
	return strlen(origin) == n && strncasecmp(origin, hosturl, n) == 0;
}

bool
page_match(const struct config *cfg, const char *uri, const char *accept,
	   struct route_match *m)
{
	return route_parse_page(page_base(cfg->service.hosturl),
				cfg->service.site_prefix, uri, accept, m);
}

/* Render kind with c->vals and answer it with status. */
static int
page_emit(struct page_ctx *c, enum page_kind kind, int status, struct buf *out)
{
	const struct config *cfg = c->env->cfg;
	char *html = NULL, err[256];
	size_t len = 0;

	c->vals.v[PAGE_VAR_BASE] = page_base(cfg->service.hosturl);
	c->vals.v[PAGE_VAR_HOSTURL] = cfg->service.hosturl;
	if (pages_render(c->env, c->sets, kind, &c->vals, &html, &len, err,
			 sizeof(err)) != 0) {
		/* Only a value that is not UTF-8 can get here; the request
		 * parser lets none through. */
		log_error("page %s: %s", pages_name(kind), err);
		response_headers(out, 500, "text/plain;charset=utf-8", 22, 0,
				 PAGE_CSP);
		buf_adds(out, "Something went wrong.\n");
		return 500;
	}
	response_headers(out, status, "text/html;charset=utf-8", len,
			 c->retry_after, PAGE_CSP);
	buf_add(out, html, len);
	explicit_bzero(html, len);
	free(html);
	return status;
}

/* The retry hint of 0108 / 0503 in words. */
static void
page_retry_text(struct page_ctx *c, enum pwr_err e, int retry_after)
{
	int minutes = (retry_after + 59) / 60;

	c->retry_after = retry_after;
	if (e == PWR_E_RATE_LIMITED && retry_after > 0)
		snprintf(c->message, sizeof(c->message),
			 "%s Try again in %d minute%s.", page_says[e].text,
			 minutes, minutes == 1 ? "" : "s");
	else
		snprintf(c->message, sizeof(c->message), "%s",
			 page_says[e].text ? page_says[e].text : "");
}

/* A page that explains an answer of the core in words. */
static int
page_message(struct page_ctx *c, enum pwr_err e, int retry_after, int status,
	     struct buf *out)
{
	page_retry_text(c, e, retry_after);
	c->vals.v[PAGE_VAR_TITLE] = page_says[e].title;
	c->vals.v[PAGE_VAR_MESSAGE] = c->message;
	return page_emit(c, PAGE_MESSAGE, status, out);
}

static void
page_no_errors(struct page_ctx *c)
{
	c->vals.v[PAGE_VAR_INVALID_IDENTIFIER] = "false";
	c->vals.v[PAGE_VAR_INVALID_PASSWORD] = "false";
	c->vals.v[PAGE_VAR_INVALID_CONFIRM] = "false";
}

/* The group of the link or the form: it brands the pages (group set →
 * global_template → default, as the mails).  One that no longer exists
 * brands nothing.  false (answer written) when the database failed. */
static bool
page_group(struct page_ctx *c, const char *group, int *status, struct buf *out)
{
	const struct config *cfg = c->env->cfg;
	enum pwr_err e = PWR_E_UNKNOWN_GROUP;

	if (group != NULL)
		e = tokencheck_group(c->env, group, &c->group);
	c->on_group = e == PWR_OK;
	c->sets[0] = c->on_group ? c->group.template_set : NULL;
	c->sets[c->on_group ? 1 : 0] = cfg->service.global_template;
	if (c->on_group) {
		/* The forms carry the group by id: digits only, safe in a
		 * URL, and read as an id by the group route (SPEC §1). */
		snprintf(c->group_id, sizeof(c->group_id), "%" PRId64,
			 c->group.id);
		c->vals.v[PAGE_VAR_GROUP] = c->group_id;
		c->vals.v[PAGE_VAR_GROUP_NAME] = c->group.name;
	}
	if (e == PWR_E_UNAVAILABLE || e == PWR_E_INTERNAL) {
		*status = page_message(c, e, e == PWR_E_UNAVAILABLE ? 5 : 0,
				       response_http_status(e), out);
		return false;
	}
	return true;
}

/* The choose-a-password form for member m, errors as set in c->vals. */
static int
page_choose(struct page_ctx *c, const struct tokencheck_member *m, int status,
	    struct buf *out)
{
	password_rule_text(c->env->cfg, m->admin, c->rule, sizeof(c->rule));
	/* The form names the member by username: the POST hands it to the
	 * core as the identifier, so that the token is checked against this
	 * member exactly as the service checks it. */
	snprintf(c->member, sizeof(c->member), "%s", m->username);
	c->vals.v[PAGE_VAR_RULE] = c->rule;
	c->vals.v[PAGE_VAR_MEMBER] = c->member;
	c->vals.v[PAGE_VAR_TOKEN] = c->rq->field[FIELD_TOKEN];
	c->vals.v[PAGE_VAR_USERNAME] = m->username;
	return page_emit(c, PAGE_CHOOSE, status, out);
}

/* Check the link's token without a write; the form, or why not. */
static int
page_check_then_choose(struct page_ctx *c, int status, struct buf *out)
{
	const struct request *rq = c->rq;
	struct tokencheck_member m;
	enum pwr_err e;
	int rc;

	e = tokencheck_member(c->env, rq->field[FIELD_MEMBER],
			      rq->field[FIELD_TOKEN],
			      c->on_group ? c->group.id : 0, &m);
	if (e != PWR_OK)
		c->res->err = e;
	if (e == PWR_E_TOKEN_INVALID)
		return page_emit(c, PAGE_INVALID, response_http_status(e), out);
	if (e != PWR_OK)
		return page_message(c, e, e == PWR_E_UNAVAILABLE ? 5 : 0,
				    response_http_status(e), out);
	rc = page_choose(c, &m, status, out);
	explicit_bzero(&m, sizeof(m));
	return rc;
}

/* POST of the choose form: step 2 through the core, as the service. */
static int
page_post_change(struct page_ctx *c, struct buf *out, struct reset_result *res)
{
	const struct request *rq = c->rq;
	const char *pw = rq->field[FIELD_MEMBER_PASSWORD];
	const char *again = rq->field[FIELD_PASSWORD_CONFIRM];
	const char *who;
	struct reset_request rr;

	if (pw == NULL) {
		res->err = PWR_E_PASSWORD_WEAK; /* blank: 1015 (SPEC §2) */
		c->vals.v[PAGE_VAR_ERROR_PASSWORD] = "Type a new password.";
		c->vals.v[PAGE_VAR_INVALID_PASSWORD] = "true";
		return page_check_then_choose(c, 400, out);
	}
	if (again == NULL || strcmp(pw, again) != 0) {
		res->err = PWR_E_PASSWORD_WEAK; /* the core never saw it */
		c->vals.v[PAGE_VAR_ERROR_CONFIRM] =
		    "The two passwords differ. Type the same password in "
		    "both fields.";
		c->vals.v[PAGE_VAR_INVALID_CONFIRM] = "true";
		return page_check_then_choose(c, 400, out);
	}

	/* The member as the form names it (a username; an id, as in the
	 * link, leaves the token to name it); the page never speaks for an
	 * admin, so no bearer. */
	memset(&rr, 0, sizeof(rr));
	rr.route = c->on_group ? RESET_ROUTE_GROUP : RESET_ROUTE_MEMBERS;
	rr.group = c->on_group ? c->vals.v[PAGE_VAR_GROUP] : NULL;
	who = rq->field[FIELD_MEMBER];
	if (who != NULL && strspn(who, "0123456789") != strlen(who))
		rr.username = who;
	rr.token = rq->field[FIELD_TOKEN];
	rr.password = pw;
	rr.client = rq->client;
	if (rr.token == NULL) {
		res->err = PWR_E_TOKEN_INVALID;
		return page_emit(c, PAGE_INVALID, 400, out);
	}
	reset_handle(c->env, &rr, res);
	switch (res->err) {
	case PWR_OK:
		if (res->status == RESET_PASSWORD_CHANGED)
			return page_emit(c, PAGE_DONE, 200, out);
		/* No such member: the core says request-successful to an
		 * anonymous caller, and nothing changed. */
		return page_emit(c, PAGE_INVALID, 400, out);
	case PWR_E_PASSWORD_WEAK:
		c->vals.v[PAGE_VAR_ERROR_PASSWORD] =
		    "This password is not strong enough. Read the rule above "
		    "the field and choose another one.";
		c->vals.v[PAGE_VAR_INVALID_PASSWORD] = "true";
		return page_check_then_choose(c, 400, out);
	case PWR_E_PASSWORD_USER:
		c->vals.v[PAGE_VAR_ERROR_PASSWORD] =
		    "The password must not be your username.";
		c->vals.v[PAGE_VAR_INVALID_PASSWORD] = "true";
		return page_check_then_choose(c, 400, out);
	case PWR_E_TOKEN_INVALID:
	case PWR_E_KEY_INVALID:
		return page_emit(c, PAGE_INVALID, 400, out);
	default:
		return page_message(c, res->err, res->retry_after,
				    response_http_status(res->err), out);
	}
}

/* POST of the request form: step 1 through the core, as the service. */
static int
page_post_forgot(struct page_ctx *c, struct buf *out, struct reset_result *res)
{
	const struct request *rq = c->rq;
	const char *id = rq->field[FIELD_MEMBER_USERNAME];
	struct reset_request rr;

	if (id == NULL)
		id = rq->field[FIELD_EMAIL];
	c->vals.v[PAGE_VAR_IDENTIFIER] = id;
	if (id == NULL) {
		res->err = PWR_E_NO_IDENTIFIER;
		c->vals.v[PAGE_VAR_ERROR_IDENTIFIER] =
		    "Type your username or your email address.";
		c->vals.v[PAGE_VAR_INVALID_IDENTIFIER] = "true";
		return page_emit(c, PAGE_REQUEST, 400, out);
	}
	memset(&rr, 0, sizeof(rr));
	rr.route = c->on_group ? RESET_ROUTE_GROUP : RESET_ROUTE_MEMBERS;
	rr.group = c->on_group ? c->vals.v[PAGE_VAR_GROUP] : NULL;
	if (strchr(id, '@') != NULL)
		rr.email = id;
	else
		rr.username = id;
	rr.client = rq->client;
	reset_handle(c->env, &rr, res);
	switch (res->err) {
	case PWR_OK:
		/* Known member or not: the same page (SPEC §9). */
		c->vals.v[PAGE_VAR_IDENTIFIER] = NULL;
		return page_emit(c, PAGE_SENT, 200, out);
	case PWR_E_EMAIL_INVALID:
		c->vals.v[PAGE_VAR_ERROR_IDENTIFIER] =
		    "This is not a valid email address.";
		c->vals.v[PAGE_VAR_INVALID_IDENTIFIER] = "true";
		return page_emit(c, PAGE_REQUEST, 400, out);
	case PWR_E_RATE_LIMITED:
		page_retry_text(c, res->err, res->retry_after);
		c->vals.v[PAGE_VAR_MESSAGE] = c->message;
		return page_emit(c, PAGE_REQUEST, 429, out);
	default:
		return page_message(c, res->err, res->retry_after,
				    response_http_status(res->err), out);
	}
}

/* ---- dispatch ------------------------------------------------------- */

int
page_serve(struct reset_env *env, const struct route_match *m,
	   const struct cgi *cgi, const struct request *rq, enum pwr_err parse,
	   struct buf *out, struct reset_result *res)
{
	const struct config *cfg = env->cfg;
	const char *method = cgi->v[CGI_REQUEST_METHOD];
	struct page_ctx c;
	bool get, post;
	int status;

	memset(res, 0, sizeof(*res));
	if (m->route == ROUTE_SERVICE_MEMBER)
		return member_serve(env, m, cgi, rq, parse, out, res);

	memset(&c, 0, sizeof(c));
	c.env = env;
	c.rq = rq;
	c.res = res;
	page_no_errors(&c);
	c.sets[0] = cfg->service.global_template;
	get = method != NULL &&
	      (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
	post = method != NULL && strcmp(method, "POST") == 0;

	if (post && !page_same_origin(cfg->service.hosturl,
				      cgi->v[CGI_HTTP_SEC_FETCH_SITE],
				      cgi->v[CGI_HTTP_ORIGIN])) {
		res->err = PWR_E_MALFORMED;
		c.vals.v[PAGE_VAR_TITLE] =
		    "This form was sent from another site";
		c.vals.v[PAGE_VAR_MESSAGE] =
		    "Nothing was changed. Open the link from your email "
		    "again.";
		return page_emit(&c, PAGE_MESSAGE, 403, out);
	}
	if (!get && !post)
		parse = PWR_E_METHOD;
	if (parse != PWR_OK) {
		res->err = parse;
		return page_message(&c, parse, 0, response_http_status(parse),
				    out);
	}
	if (!page_group(&c, rq->field[FIELD_GROUP], &status, out)) {
		res->err = PWR_E_UNAVAILABLE;
		return status;
	}

	if (m->route == ROUTE_PAGE_FORGOT) {
		if (post)
			return page_post_forgot(&c, out, res);
		return page_emit(&c, PAGE_REQUEST, 200, out);
	}
	if (post)
		return page_post_change(&c, out, res);
	/* A GET reads only: mail scanners and link previews open links. */
	res->status = RESET_PENDING;
	return page_check_then_choose(&c, 200, out);
}
