/*
 * mail.h — email rendering: template sets, placeholders and MIME.
 *
 * A template set is a folder under template_dir holding, for each kind,
 * KIND.subject, KIND.txt and KIND.html (KIND = reset-password-confirm |
 * change-password).  A set may hold only some of them: lookup is per file
 * along the caller's preference list, ending at "default".
 *
 * Placeholders are {name} with name one of mail_var_name(); anything else
 * between braces that is not [a-z.]+ is literal text.  An unknown name is
 * an error found by mail_templates_load(), never at send time.  Values are
 * HTML-escaped in .html parts; a value with CR or LF never reaches a header.
 *
 * struct mail_templates is loaded once per process and freed by its owner.
 */
#ifndef PWR_MAIL_H
#define PWR_MAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/pageview.h"

enum mail_kind { MAIL_RESET_CONFIRM, MAIL_CHANGE_PASSWORD, MAIL__MAX };

enum mail_var {
	MAIL_VAR_HOSTURL,
	MAIL_VAR_EMAILDOMAIN,
	MAIL_VAR_REASON, /* member | admin */
	MAIL_VAR_TOKEN,
	MAIL_VAR_LINK,	   /* computed from link_template when NULL */
	MAIL_VAR_VALIDITY, /* "12 hours" */
	MAIL_VAR_MEMBER_ID,
	MAIL_VAR_MEMBER_USERNAME,
	MAIL_VAR_MEMBER_FIRSTNAME,
	MAIL_VAR_MEMBER_LASTNAME,
	MAIL_VAR_MEMBER_FULLNAME,
	MAIL_VAR_MEMBER_EMAIL,
	MAIL_VAR_MEMBER_STATUS,
	MAIL_VAR_GROUP_NAME,
	MAIL_VAR_GROUP_DESCRIPTION,
	MAIL_VAR__MAX
};

/* "reset-password-confirm" / "change-password" */
const char *mail_kind_name(enum mail_kind k);
/* "hosturl", "member.id", ... */
const char *mail_var_name(enum mail_var v);

struct mail_values {
	const char *v[MAIL_VAR__MAX]; /* NULL → "" (LINK: computed) */
};

struct mail_templates;

/*
 * Load every set under dir and the link template ({hosturl}/… using the
 * same placeholders).  The "default" set must hold all three files of both
 * kinds.  NULL on error, with "FILE: message" in err.
 */
struct mail_templates *mail_templates_load(const char *dir,
					   const char *link_template, char *err,
					   size_t errlen);
/*
 * The same, then the admin's own folder over it: each file found in
 * local_dir/SET/ replaces that file of SET (or makes SET), so a site
 * changes one template without editing the package's files.  local_dir
 * NULL, "" or missing: nothing is laid over.
 */
struct mail_templates *mail_templates_load_local(const char *dir,
						 const char *local_dir,
						 const char *link_template,
						 char *err, size_t errlen);
void mail_templates_free(struct mail_templates *t); /* NULL-safe */
bool mail_templates_has_set(const struct mail_templates *t, const char *set);

struct mail_message {
	char *recipient; /* bare address */
	char *subject;	 /* decoded, UTF-8 */
	char *text;	 /* whole RFC 5322 message, CRLF line ends */
};

/*
 * Render kind for the recipient `to` (bare address; the To header shows
 * member.fullname as its display name) from `from` (a header
 * value such as "pwreset <noreply@example.org>").  sets is a NULL-ended
 * preference list (NULL or "" entries are skipped); "default" is always
 * the last resort.  Message-ID is unique, on emaildomain.  Returns 0, or -1
 * with a reason in err (out left empty).  out is freed by
 * mail_message_free().
 */
int mail_render(const struct mail_templates *t, const char *const *sets,
		enum mail_kind kind, const struct mail_values *vals,
		const char *from, const char *to, const char *emaildomain,
		struct mail_message *out, char *err, size_t errlen);
void mail_message_free(struct mail_message *m); /* NULL-safe, twice-safe */

/* The bare address of a From value: "a <b@c>" → "b@c", "b@c" → "b@c".
 * Returns 0, or -1 when it holds no address. */
int mail_address_of(const char *from, char *out, size_t outlen);

/* ---- pages (SPEC §9) ------------------------------------------------
 *
 * A set may also hold the pages a person sees in a browser, one file each,
 * KIND.html (KIND = page_name()), with the page values as placeholders
 * (HTML-escaped, never markup).  Lookup and fallback are those of the
 * mails; the default set must hold every page, and mail_templates_load()
 * checks them (so does `pwreset -n`).  The kinds, the placeholders and
 * struct page_values are common/pageview.h, shared with the transport.
 */

/* "page-request", ... (the file is NAME.html) */
const char *page_name(enum page_kind k);
/* "page.base", "form.token", ... */
const char *page_var_name(enum page_var v);

/*
 * Render page kind along sets (as mail_render()) into *out (malloc'd,
 * NUL-terminated, *outlen bytes; the caller frees it, wiped: a page may
 * carry a token).  0, or -1 with a reason in err.
 */
int mail_page_render(const struct mail_templates *t, const char *const *sets,
		     enum page_kind kind, const struct page_values *vals,
		     char **out, size_t *outlen, char *err, size_t errlen);

#endif
