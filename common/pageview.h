/*
 * pageview.h — what a browser page of SPEC §9 is made of: its kinds, its
 * placeholders and the values a caller fills in.  Plain enums and one
 * struct, no code.
 *
 * Why in common/, the bottom layer: the template sets (mail-templates/)
 * render these pages and the transport (fcgi/) fills their values, and
 * fcgi/ may not include a header from mail-templates/.  Both may include
 * common/, so the definitions live here once; the rendering itself stays
 * in mail-templates/ (mail_page_render()), reached from fcgi/ through
 * core/pages.h.
 */
#ifndef PWR_COMMON_PAGEVIEW_H
#define PWR_COMMON_PAGEVIEW_H

enum page_kind {
	PAGE_REQUEST, /* the request form (username or email) */
	PAGE_SENT,    /* "if an account exists, an email is on its way" */
	PAGE_CHOOSE,  /* choose a new password */
	PAGE_INVALID, /* the link no longer works, with the request form */
	PAGE_DONE,    /* the password was changed */
	PAGE_MESSAGE, /* anything else the core answered, in words */
	PAGE__MAX
};

enum page_var {
	PAGE_VAR_BASE,	  /* the path of hosturl: "" or "/x" */
	PAGE_VAR_HOSTURL, /* [service] hosturl */
	PAGE_VAR_TITLE,	  /* PAGE_MESSAGE's heading */
	PAGE_VAR_MESSAGE, /* a sentence about the answer, or "" */
	PAGE_VAR_RULE,	  /* what makes a password strong enough */
	PAGE_VAR_MEMBER,  /* form values, echoed into hidden fields */
	PAGE_VAR_TOKEN,
	PAGE_VAR_GROUP,
	PAGE_VAR_USERNAME, /* for password managers */
	PAGE_VAR_IDENTIFIER,
	PAGE_VAR_ERROR_IDENTIFIER, /* errors tied to their field, or "" */
	PAGE_VAR_ERROR_PASSWORD,
	PAGE_VAR_ERROR_CONFIRM,
	PAGE_VAR_INVALID_IDENTIFIER, /* "true" | "false" (aria-invalid) */
	PAGE_VAR_INVALID_PASSWORD,
	PAGE_VAR_INVALID_CONFIRM,
	PAGE_VAR_GROUP_NAME, /* the group's name, or "" */
	PAGE_VAR__MAX
};

struct page_values {
	const char *v[PAGE_VAR__MAX]; /* NULL → "" */
};

#endif
