/*
 * member.c — PageSeeder v6's token check (see member.h).
 */
#include <inttypes.h>
#include <mxml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tokencheck.h"
#include "member.h"
#include "response.h"

static void
member_json_field(struct buf *b, const char *name, const char *v, bool first)
{
	if (!first)
		buf_adds(b, ",");
	response_json_string(b, name, strlen(name));
	buf_adds(b, ":");
	response_json_string(b, v, strlen(v));
}

static void
member_body(struct buf *b, enum format fmt, const struct tokencheck_member *m)
{
	char id[24], fullname[sizeof(m->firstname) + sizeof(m->lastname) + 1];

	snprintf(id, sizeof(id), "%" PRId64, m->id);
	snprintf(fullname, sizeof(fullname), "%s%s%s", m->firstname,
		 m->firstname[0] && m->lastname[0] ? " " : "", m->lastname);
	if (fmt == FORMAT_JSON) {
		buf_adds(b, "{\"id\":");
		buf_adds(b, id);
		member_json_field(b, "username", m->username, false);
		member_json_field(b, "firstname", m->firstname, false);
		member_json_field(b, "surname", m->lastname, false);
		member_json_field(b, "email", m->email, false);
		member_json_field(b, "status", m->status, false);
		member_json_field(b, "fullname", fullname, false);
		buf_adds(b, "}\n");
	} else {
		mxml_node_t *xml = mxmlNewXML("1.0"), *el;
		char *s;

		el = mxmlNewElement(xml, "member");
		mxmlElementSetAttr(el, "id", id);
		mxmlElementSetAttr(el, "username", m->username);
		mxmlElementSetAttr(el, "firstname", m->firstname);
		mxmlElementSetAttr(el, "surname", m->lastname);
		mxmlElementSetAttr(el, "email", m->email);
		mxmlElementSetAttr(el, "status", m->status);
		mxmlNewOpaque(mxmlNewElement(el, "fullname"), fullname);
		mxmlSetWrapMargin(0);
		if ((s = mxmlSaveAllocString(xml, MXML_NO_CALLBACK)) == NULL)
			abort();
		buf_adds(b, s);
		free(s);
		mxmlDelete(xml);
	}
}

int
member_serve(struct reset_env *env, const struct route_match *m,
	     const struct cgi *cgi, const struct request *rq,
	     enum pwr_err parse, struct buf *out, struct reset_result *res)
{
	static const char *const types[FORMAT__MAX] = {
	    [FORMAT_XML] = "application/xml;charset=utf-8",
	    [FORMAT_JSON] = "application/json;charset=utf-8",
	};
	const char *method = cgi->v[CGI_REQUEST_METHOD];
	const char *uri = cgi->v[CGI_REQUEST_URI];
	struct tokencheck_member mem;
	struct buf body = {0};

	/* Only GET makes this a route: a POST to /service/members/x was an
	 * unknown service before the token check existed, and stays one. */
	res->err = parse;
	if (method == NULL || (strcmp(method, "GET") && strcmp(method, "HEAD")))
		res->err = PWR_E_UNKNOWN_SERVICE;
	if (res->err == PWR_OK) {
		res->err = tokencheck_member(env, m->member,
					     rq->field[FIELD_TOKEN], 0, &mem);
		if (res->err == PWR_E_UNAVAILABLE)
			res->retry_after = 5;
	}
	if (res->err != PWR_OK) {
		response_render(out, m->format, res, uri, route_path_len(uri));
		return response_http_status(res->err);
	}
	res->status = RESET_PENDING; /* the token stays valid */
	member_body(&body, m->format, &mem);
	response_headers(out, 200, types[m->format], body.len, 0, NULL);
	buf_add(out, body.p, body.len);
	buf_free(&body);
	explicit_bzero(&mem, sizeof(mem));
	return 200;
}
