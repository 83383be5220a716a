/*
 * mail.c — rendering of the parsed templates (tmpl.c): the MIME message of
 * a mail, and the pages of SPEC §9.  Every value is escaped for the part
 * it lands in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "mail.h"
#include "mime.h"
#include "tmpl.h"

/* ---- rendering ------------------------------------------------------ */

static void
add_html_escaped(struct buf *sb, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			buf_adds(sb, "&amp;");
			break;
		case '<':
			buf_adds(sb, "&lt;");
			break;
		case '>':
			buf_adds(sb, "&gt;");
			break;
		case '"':
			buf_adds(sb, "&quot;");
			break;
		case '\'':
			buf_adds(sb, "&#39;");
			break;
		default:
			buf_addc(sb, *s);
		}
	}
}

/* RFC 3986: everything but the unreserved characters is escaped. */
static void
add_url_encoded(struct buf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			buf_addc(sb, (char)c);
		} else {
			buf_addc(sb, '%');
			buf_addc(sb, hex[c >> 4]);
			buf_addc(sb, hex[c & 15]);
		}
	}
}

enum render_mode { RENDER_TEXT, RENDER_HTML, RENDER_SUBJECT, RENDER_URL };

static int
render(const struct tmpl *t, enum render_mode mode,
       const char *const vals[MAIL_VAR__MAX], struct buf *out, char *err,
       size_t errlen)
{
	size_t i;

	for (i = 0; i < t->nsegs; i++) {
		const struct seg *s = &t->segs[i];
		const char *v;

		if (s->var < 0) {
			buf_add(out, s->lit, s->len);
			continue;
		}
		v = vals[s->var];
		switch (mode) {
		case RENDER_HTML:
			add_html_escaped(out, v);
			break;
		case RENDER_SUBJECT:
			/* Header injection stops here. */
			if (strpbrk(v, "\r\n") != NULL) {
				snprintf(err, errlen,
					 "the value of {%s} holds a line "
					 "break and cannot go in a subject",
					 mail_var_name(s->var));
				return -1;
			}
			buf_adds(out, v);
			break;
		case RENDER_URL:
			if (s->var == MAIL_VAR_HOSTURL)
				buf_adds(out, v);
			else
				add_url_encoded(out, v);
			break;
		case RENDER_TEXT:
			buf_adds(out, v);
			break;
		}
	}
	return 0;
}

static const struct tmpl *
tmpl_lookup(const struct mail_templates *t, const char *const *sets,
	    enum mail_kind kind, enum mail_part part)
{
	const struct tset *set;

	for (; sets != NULL && *sets != NULL; sets++) {
		if (**sets == '\0' || (set = tmpl_set_find(t, *sets)) == NULL)
			continue;
		if (set->parts[kind][part] != NULL)
			return set->parts[kind][part];
	}
	return tmpl_set_find(t, MAIL_DEFAULT_SET)->parts[kind][part];
}

void
mail_message_free(struct mail_message *m)
{
	if (m == NULL)
		return;
	free(m->recipient);
	buf_wipe_str(m->subject);
	buf_wipe_str(m->text);
	m->recipient = m->subject = m->text = NULL;
}

int
mail_render(const struct mail_templates *t, const char *const *sets,
	    enum mail_kind kind, const struct mail_values *vals,
	    const char *from, const char *to, const char *emaildomain,
	    struct mail_message *out, char *err, size_t errlen)
{
	struct buf link = BUF_INIT_WIPE, subject = BUF_INIT_WIPE,
		   text = BUF_INIT_WIPE, html = BUF_INIT_WIPE,
		   msg = BUF_INIT_WIPE;
	const char *v[MAIL_VAR__MAX];
	struct mime_input in;
	int i, rc = -1;

	memset(out, 0, sizeof(*out));
	if (t == NULL || (unsigned)kind >= MAIL__MAX || from == NULL ||
	    to == NULL) {
		snprintf(err, errlen, "mail_render: bad arguments");
		return -1;
	}
	for (i = 0; i < MAIL_VAR__MAX; i++) {
		v[i] = vals != NULL && vals->v[i] != NULL ? vals->v[i] : "";
		if (!utf8_valid(v[i], strlen(v[i]))) {
			snprintf(err, errlen,
				 "the value of {%s} is not valid UTF-8",
				 mail_var_name(i));
			return -1;
		}
	}
	if (vals == NULL || vals->v[MAIL_VAR_LINK] == NULL) {
		if (render(t->link, RENDER_URL, v, &link, err, errlen) != 0)
			goto out;
		/* The group route's link names the group, so that the pages
		 * it opens carry the group's brand.  All digits would read
		 * as an id: "~" says it is a name (SPEC §1). */
		if (t->link_default && *v[MAIL_VAR_GROUP_NAME] != '\0') {
			const char *g = v[MAIL_VAR_GROUP_NAME];

			buf_adds(&link, "&group=");
			if (strspn(g, "0123456789") == strlen(g))
				buf_addc(&link, '~');
			add_url_encoded(&link, g);
		}
		v[MAIL_VAR_LINK] = link.p != NULL ? link.p : "";
	}

	if (render(tmpl_lookup(t, sets, kind, PART_SUBJECT), RENDER_SUBJECT, v,
		   &subject, err, errlen) != 0 ||
	    render(tmpl_lookup(t, sets, kind, PART_TEXT), RENDER_TEXT, v, &text,
		   err, errlen) != 0 ||
	    render(tmpl_lookup(t, sets, kind, PART_HTML), RENDER_HTML, v, &html,
		   err, errlen) != 0)
		goto out;
	buf_trim(&subject);

	in = (struct mime_input){
	    .from = from,
	    .to = to,
	    .to_name = v[MAIL_VAR_MEMBER_FULLNAME],
	    .subject = subject.p != NULL ? subject.p : "",
	    .text = text.p != NULL ? text.p : "",
	    .html = html.p != NULL ? html.p : "",
	    .domain = emaildomain,
	};
	if (mime_build(&in, &msg, err, errlen) != 0)
		goto out;

	out->recipient = xstrdup(to);
	out->subject = buf_detach(&subject);
	out->text = buf_detach(&msg);
	rc = 0;
out:
	buf_free(&link);
	buf_free(&subject);
	buf_free(&text);
	buf_free(&html);
	buf_free(&msg);
	return rc;
}

/* The parsing is MIME's (write_from() needs it); this is its name for the
 * layers above, which see mail.h only. */
int
mail_address_of(const char *from, char *out, size_t outlen)
{
	return mime_address_of(from, out, outlen);
}

int
mail_page_render(const struct mail_templates *t, const char *const *sets,
		 enum page_kind kind, const struct page_values *vals,
		 char **out, size_t *outlen, char *err, size_t errlen)
{
	struct buf sb = BUF_INIT_WIPE;
	const struct tmpl *tp = NULL;
	const struct tset *set;
	const char *v[PAGE_VAR__MAX];

	*out = NULL;
	*outlen = 0;
	if (t == NULL || (unsigned)kind >= PAGE__MAX) {
		snprintf(err, errlen, "mail_page_render: bad arguments");
		return -1;
	}
	for (int i = 0; i < PAGE_VAR__MAX; i++) {
		v[i] = vals != NULL && vals->v[i] != NULL ? vals->v[i] : "";
		if (!utf8_valid(v[i], strlen(v[i]))) {
			snprintf(err, errlen,
				 "the value of {%s} is not valid UTF-8",
				 page_var_name(i));
			return -1;
		}
	}
	for (; sets != NULL && *sets != NULL && tp == NULL; sets++)
		if (**sets != '\0' && (set = tmpl_set_find(t, *sets)) != NULL)
			tp = set->pages[kind];
	if (tp == NULL)
		tp = tmpl_set_find(t, MAIL_DEFAULT_SET)->pages[kind];
	/* HTML mode only escapes values; it never names them. */
	for (size_t i = 0; i < tp->nsegs; i++) {
		const struct seg *s = &tp->segs[i];

		if (s->var < 0)
			buf_add(&sb, s->lit, s->len);
		else
			add_html_escaped(&sb, v[s->var]);
	}
	*outlen = sb.len;
	*out = buf_detach(&sb);
	if (*out == NULL)
		*out = xstrdup("");
	return 0;
}
