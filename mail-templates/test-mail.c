/*
 * test-mail.c — template sets: loading, placeholders, fallback and rendering.
 *
 * Needs TEMPLATE_DIR (this folder, holding default/, example-brand/ and
 * testdata/).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail.h"
#include "../test/support/testsupport.h"
#include "testmail.h"

/* ---- templates and rendering ------------------------------------------ */

static void
test_default_set(void **state)
{
	struct mail_templates *t = load_ok(template_dir, NULL);
	const char *const brand[] = {"example-brand", NULL};
	struct mail_message m;
	struct mail_values v;
	char *txt, *html;

	(void)state;
	assert_true(mail_templates_has_set(t, "default"));
	assert_true(mail_templates_has_set(t, "example-brand"));
	assert_false(mail_templates_has_set(t, "testdata"));
	assert_false(mail_templates_has_set(t, "nope"));
	assert_string_equal(mail_kind_name(MAIL_CHANGE_PASSWORD),
			    "change-password");
	assert_string_equal(mail_var_name(MAIL_VAR_MEMBER_FULLNAME),
			    "member.fullname");
	sample_values(&v);

	render_ok(t, NULL, MAIL_RESET_CONFIRM, &v, &m);
	assert_string_equal(m.subject, "Update your password");
	assert_string_equal(m.recipient, "jane@example.org");
	assert_non_null(
	    strstr(m.text, "\r\nSubject: Update your password\r\n"));
	txt = part_decoded(m.text, "text/plain");
	html = part_decoded(m.text, "text/html");
	assert_non_null(strstr(txt, "Hello Jane Smith,"));
	assert_non_null(strstr(txt, "\nhttp://localhost:8080/email/"
				    "changepassword?member=42&token=" TOKEN
				    "&group=Acme\n"));
	assert_non_null(strstr(txt, "valid for 12 hours"));
	assert_non_null(strstr(txt, "did not ask for this, ignore this email"));
	assert_non_null(strstr(html, "Hello Jane Smith,"));
	/* the button and the plain link, with & escaped in HTML */
	assert_non_null(strstr(html, "<a href=\"http://localhost:8080/email/"
				     "changepassword?member=42&amp;token=" TOKEN
				     "&amp;group=Acme\""));
	assert_non_null(strstr(html, "Choose a new password</a>"));
	assert_non_null(strstr(html, ">http://localhost:8080/email/"
				     "changepassword?member=42&amp;token=" TOKEN
				     "&amp;group=Acme</a>"));
	assert_non_null(strstr(html, "<strong>12 hours</strong>"));
	free(txt);
	free(html);
	mail_message_free(&m);

	render_ok(t, NULL, MAIL_CHANGE_PASSWORD, &v, &m);
	assert_string_equal(m.subject, "Your password has been updated");
	txt = part_decoded(m.text, "text/plain");
	assert_non_null(strstr(txt, "Hello Jane Smith,"));
	assert_non_null(strstr(txt, "contact an administrator at once"));
	assert_null(strstr(txt, TOKEN));
	free(txt);
	mail_message_free(&m);
	mail_message_free(&m); /* twice-safe */

	/* example-brand overrides the reset mail only */
	render_ok(t, brand, MAIL_RESET_CONFIRM, &v, &m);
	assert_string_equal(m.subject, "Acme: choose a new password");
	txt = part_decoded(m.text, "text/plain");
	assert_non_null(strstr(txt, "Acme Corporation members"));
	free(txt);
	mail_message_free(&m);
	render_ok(t, brand, MAIL_CHANGE_PASSWORD, &v, &m);
	assert_string_equal(m.subject, "Your password has been updated");
	mail_message_free(&m);
	mail_templates_free(t);
	mail_templates_free(NULL);
}

static void
expect_load_error(const char *dir, const char *link, const char *needle)
{
	char err[1024] = "";

	assert_null(mail_templates_load(dir, link, err, sizeof(err)));
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void
test_load_errors(void **state)
{
	char *d, big[70000];
	struct mail_templates *t;

	(void)state;
	d = mkset_dir("unknown");
	put(d, "bad/reset-password-confirm.txt", "Hi {member.nickname}\n");
	expect_load_error(d, NULL,
			  "/bad/reset-password-confirm.txt: unknown "
			  "placeholder {member.nickname}");
	free(d);

	/* braces that are not [a-z.]+ are literal */
	d = mkset_dir("braces");
	put(d, "css/change-password.html",
	    "<style>p{margin:0} { x } {} {A} {a b}</style>{member.id}\n");
	t = load_ok(d, NULL);
	assert_true(mail_templates_has_set(t, "css"));
	mail_templates_free(t);
	free(d);

	d = mkset_dir("link");
	expect_load_error(d, "{hosturl}/{nope}",
			  "link_template: unknown placeholder {nope}");
	expect_load_error(d, "{hosturl}/{link}", "link_template:");
	free(d);

	d = mkscratch("nodefault");
	put(d, "default/reset-password-confirm.subject", "x\n");
	expect_load_error(d, NULL,
			  "/default/reset-password-confirm.txt: missing");
	free(d);

	/* pages: their own placeholders, checked at load as well */
	d = mkset_dir("pages");
	put(d, "bad/page-choose.html", "<p>{member.fullname}</p>\n");
	expect_load_error(d, NULL,
			  "/bad/page-choose.html: unknown placeholder "
			  "{member.fullname}");
	free(d);
	d = mkset_dir("pagevar");
	put(d, "bad/change-password.txt", "{form.token}\n");
	expect_load_error(d, NULL,
			  "/bad/change-password.txt: unknown placeholder "
			  "{form.token}");
	free(d);

	d = mkset_dir("utf8");
	put(d, "latin1/change-password.txt", "caf\xe9\n");
	expect_load_error(d, NULL,
			  "/latin1/change-password.txt: not valid UTF-8");
	free(d);

	d = mkset_dir("big");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(d, "huge/change-password.html", big);
	expect_load_error(d, NULL, "/huge/change-password.html: larger than");
	free(d);

	d = mkset_dir("emptysubject");
	put(d, "s/change-password.subject", "  \nsecond line\n");
	expect_load_error(d, NULL, "/s/change-password.subject: empty subject");
	free(d);

	expect_load_error("/nonexistent-pwreset-dir", NULL,
			  "/nonexistent-pwreset-dir:");
}

static void
test_fallback(void **state)
{
	const char *const sets[] = {"", "missing-set", "partial", NULL};
	struct mail_templates *t;
	struct mail_message m;
	struct mail_values v;
	char *d, *txt;

	(void)state;
	d = mkset_dir("fallback");
	put(d, "partial/reset-password-confirm.subject",
	    "  Custom {group.name}  \nignored second line\n");
	t = load_ok(d, NULL);
	assert_true(mail_templates_has_set(t, "partial"));
	sample_values(&v);

	render_ok(t, sets, MAIL_RESET_CONFIRM, &v, &m);
	assert_string_equal(m.subject, "Custom Acme");
	txt = part_decoded(m.text, "text/plain");
	assert_non_null(strstr(txt, "did not ask for this, ignore this email"));
	free(txt);
	txt = part_decoded(m.text, "text/html");
	assert_non_null(strstr(txt, "Choose a new password</a>"));
	free(txt);
	mail_message_free(&m);

	render_ok(t, sets, MAIL_CHANGE_PASSWORD, &v, &m);
	assert_string_equal(m.subject, "Your password has been updated");
	mail_message_free(&m);
	mail_templates_free(t);
	free(d);
}

/* local_template_dir: its files win over the package's one by one, it
 * may add a set, a missing folder is no error, a bad file in it is. */
static void
test_local_dir(void **state)
{
	const char *const acme[] = {"acme", NULL};
	struct mail_templates *t;
	struct mail_message m;
	struct mail_values v;
	char err[512] = "", *local, *missing, *bad, *txt;

	(void)state;
	local = mkscratch("local");
	put(local, "default/reset-password-confirm.subject",
	    "Site {hosturl}\n");
	put(local, "acme/change-password.subject", "Acme changed\n");
	t = mail_templates_load_local(template_dir, local, NULL, err,
				      sizeof(err));
	if (t == NULL)
		fail_msg("load_local: %s", err);
	assert_true(mail_templates_has_set(t, "acme"));
	assert_true(mail_templates_has_set(t, "example-brand"));
	sample_values(&v);

	/* Only the subject of default is replaced; its bodies stay. */
	render_ok(t, NULL, MAIL_RESET_CONFIRM, &v, &m);
	assert_string_equal(m.subject, "Site http://localhost:8080");
	txt = part_decoded(m.text, "text/plain");
	assert_non_null(strstr(txt, "Hello Jane Smith,"));
	free(txt);
	mail_message_free(&m);
	render_ok(t, acme, MAIL_CHANGE_PASSWORD, &v, &m);
	assert_string_equal(m.subject, "Acme changed");
	mail_message_free(&m);
	mail_templates_free(t);

	/* Not there, or turned off: the package's templates alone. */
	missing = xasprintf("%s/no-such-dir", scratch);
	t = mail_templates_load_local(template_dir, missing, NULL, err,
				      sizeof(err));
	assert_non_null(t);
	render_ok(t, NULL, MAIL_RESET_CONFIRM, &v, &m);
	assert_string_equal(m.subject, "Update your password");
	mail_message_free(&m);
	mail_templates_free(t);
	t = mail_templates_load_local(template_dir, "", NULL, err, sizeof(err));
	assert_non_null(t);
	mail_templates_free(t);

	/* An unknown placeholder in the local folder stops the load. */
	bad = mkscratch("local-bad");
	put(bad, "default/change-password.txt", "{member.nope}\n");
	assert_null(mail_templates_load_local(template_dir, bad, NULL, err,
					      sizeof(err)));
	assert_non_null(strstr(err, "local-bad/default/change-password.txt"));
	free(local);
	free(missing);
	free(bad);
}

static void
test_html_escaping(void **state)
{
	struct mail_templates *t;
	struct mail_message m;
	struct mail_values v;
	char *d, *txt, *html;

	(void)state;
	d = mkset_dir("escape");
	put(d, "e/change-password.html",
	    "<p title=\"{member.firstname}\">{member.lastname}</p>\n");
	put(d, "e/change-password.txt",
	    "{member.firstname} {member.lastname}\n");
	t = load_ok(d, NULL);
	sample_values(&v);
	v.v[MAIL_VAR_MEMBER_FIRSTNAME] = "<b>&\"x";
	v.v[MAIL_VAR_MEMBER_LASTNAME] = "O'Neil {member.id}";
	render_ok(t, (const char *const[]){"e", NULL}, MAIL_CHANGE_PASSWORD, &v,
		  &m);
	html = part_decoded(m.text, "text/html");
	txt = part_decoded(m.text, "text/plain");
	assert_string_equal(html, "<p title=\"&lt;b&gt;&amp;&quot;x\">"
				  "O&#39;Neil {member.id}</p>\n");
	/* text is inserted as is, and a value is never re-parsed */
	assert_string_equal(txt, "<b>&\"x O'Neil {member.id}\n");
	free(html);
	free(txt);
	mail_message_free(&m);

	/* the default set greets by the full name, escaped */
	v.v[MAIL_VAR_MEMBER_FULLNAME] = "<b>&\"x";
	render_ok(t, NULL, MAIL_RESET_CONFIRM, &v, &m);
	html = part_decoded(m.text, "text/html");
	assert_non_null(strstr(html, "Hello &lt;b&gt;&amp;&quot;x,"));
	assert_null(strstr(html, "<b>&\"x"));
	free(html);
	mail_message_free(&m);
	mail_templates_free(t);
	free(d);
}

static void
test_subject_crlf(void **state)
{
	static const char *const bad[] = {"Eve\r\nBcc: victim@example.org",
					  "Eve\nBcc: victim@example.org",
					  "Eve\rX"};
	struct mail_templates *t;
	struct mail_message m;
	struct mail_values v;
	char err[256];
	char *d;
	size_t i;

	(void)state;
	d = mkset_dir("crlf");
	put(d, "s/reset-password-confirm.subject",
	    "Hello {member.firstname}\n");
	t = load_ok(d, NULL);
	sample_values(&v);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v.v[MAIL_VAR_MEMBER_FIRSTNAME] = bad[i];
		err[0] = '\0';
		assert_int_equal(mail_render(t,
					     (const char *const[]){"s", NULL},
					     MAIL_RESET_CONFIRM, &v, FROM,
					     "jane@example.org", "example.org",
					     &m, err, sizeof(err)),
				 -1);
		assert_non_null(strstr(err, "{member.firstname}"));
		assert_non_null(strstr(err, "line break"));
		assert_null(m.text);
		assert_null(m.subject);
		assert_null(m.recipient);
	}
	/* the same value outside the subject is harmless text */
	render_ok(t, NULL, MAIL_RESET_CONFIRM, &v, &m);
	assert_null(header_line(m.text, "Bcc"));
	mail_message_free(&m);

	/* CR/LF in an address never reaches a header either */
	v.v[MAIL_VAR_MEMBER_FIRSTNAME] = "Jane";
	assert_int_equal(mail_render(t, NULL, MAIL_RESET_CONFIRM, &v, FROM,
				     "jane@example.org\r\nBcc: x@y",
				     "example.org", &m, err, sizeof(err)),
			 -1);
	assert_int_equal(mail_render(t, NULL, MAIL_RESET_CONFIRM, &v,
				     "x\r\nBcc: a@b <noreply@example.org>",
				     "jane@example.org", "example.org", &m, err,
				     sizeof(err)),
			 -1);
	mail_templates_free(t);
	free(d);
}

static void
test_link_template(void **state)
{
	struct mail_templates *t;
	struct mail_message m;
	struct mail_values v;
	char *txt, *html;

	(void)state;
	t = load_ok(template_dir, "{hosturl}/reset?m={member.id}&t={token}&u="
				  "{member.username}&e={member.email}");
	sample_values(&v);
	v.v[MAIL_VAR_HOSTURL] = "https://example.org/ps";
	v.v[MAIL_VAR_MEMBER_USERNAME] = "a b&c/\xc3\xa9";
	v.v[MAIL_VAR_MEMBER_EMAIL] = "x+y@example.org";
	render_ok(t, NULL, MAIL_RESET_CONFIRM, &v, &m);
	txt = part_decoded(m.text, "text/plain");
	html = part_decoded(m.text, "text/html");
	assert_non_null(strstr(txt,
			       "\nhttps://example.org/ps/reset?m=42&t=" TOKEN
			       "&u=a%20b%26c%2F%C3%A9"
			       "&e=x%2By%40example.org\n"));
	assert_non_null(strstr(html, "href=\"https://example.org/ps/reset?m=42"
				     "&amp;t=" TOKEN "&amp;u=a%20b%26c%2F%C3%A9"
				     "&amp;e=x%2By%40example.org\""));
	free(txt);
	free(html);
	mail_message_free(&m);

	/* a link given by the caller wins */
	v.v[MAIL_VAR_LINK] = "https://elsewhere.example/x";
	render_ok(t, NULL, MAIL_RESET_CONFIRM, &v, &m);
	txt = part_decoded(m.text, "text/plain");
	assert_non_null(strstr(txt, "\nhttps://elsewhere.example/x\n"));
	assert_null(strstr(txt, "/reset?m="));
	free(txt);
	mail_message_free(&m);
	mail_templates_free(t);
}

static void
test_address_of(void **state)
{
	char a[64];

	(void)state;
	assert_int_equal(
	    mail_address_of("pwreset <noreply@example.org>", a, sizeof(a)), 0);
	assert_string_equal(a, "noreply@example.org");
	assert_int_equal(mail_address_of("  b@c.example  ", a, sizeof(a)), 0);
	assert_string_equal(a, "b@c.example");
	assert_int_equal(
	    mail_address_of("\"x <y>\" <b@c.example>", a, sizeof(a)), 0);
	assert_string_equal(a, "b@c.example");
	assert_int_equal(mail_address_of("pwreset", a, sizeof(a)), -1);
	assert_int_equal(mail_address_of("a <b@c", a, sizeof(a)), -1);
	assert_int_equal(mail_address_of("a <b@c> x", a, sizeof(a)), -1);
	assert_int_equal(mail_address_of("<>", a, sizeof(a)), -1);
	assert_int_equal(mail_address_of("a <b c@d>", a, sizeof(a)), -1);
	assert_int_equal(mail_address_of("a <b@c\r\n>", a, sizeof(a)), -1);
	assert_int_equal(mail_address_of("x@y.example", a, 5), -1);
	assert_int_equal(mail_address_of(NULL, a, sizeof(a)), -1);
}

/* The pages (SPEC §9): every page in the default set, values escaped,
 * the group's set first, a missing page falls back to default. */
static void
test_pages(void **state)
{
	struct mail_templates *t = load_ok(template_dir, NULL);
	const char *const brand[] = {"example-brand", NULL};
	const char *const nope[] = {"nope", "", NULL};
	struct page_values pv = {{0}};
	char *html, err[256];
	size_t len;

	(void)state;
	assert_string_equal(page_name(PAGE_CHOOSE), "page-choose");
	assert_string_equal(page_var_name(PAGE_VAR_TOKEN), "form.token");
	pv.v[PAGE_VAR_BASE] = "/base";
	pv.v[PAGE_VAR_TOKEN] = "tok\"<x>";
	pv.v[PAGE_VAR_USERNAME] = "jane";
	pv.v[PAGE_VAR_GROUP_NAME] = "Acme & Co";
	for (int k = 0; k < PAGE__MAX; k++) {
		assert_int_equal(mail_page_render(t, nope, k, &pv, &html, &len,
						  err, sizeof(err)),
				 0);
		assert_int_equal(strlen(html), len);
		assert_non_null(strstr(html, "<html lang=\"en\">"));
		assert_non_null(strstr(html, "href=\"/base/email/static/"));
		assert_null(strstr(html, "style=")); /* CSP: no inline style */
		assert_null(strstr(html, "Example Brand"));
		free(html);
	}
	assert_int_equal(mail_page_render(t, nope, PAGE_CHOOSE, &pv, &html,
					  &len, err, sizeof(err)),
			 0);
	assert_non_null(
	    strstr(html, "name=\"token\" value=\"tok&quot;&lt;x&gt;\""));
	assert_null(strstr(html, "<x>"));
	free(html);
	assert_int_equal(mail_page_render(t, brand, PAGE_DONE, &pv, &html, &len,
					  err, sizeof(err)),
			 0);
	assert_non_null(strstr(html, "Example Brand · Acme &amp; Co"));
	free(html);
	pv.v[PAGE_VAR_TOKEN] = "\xff";
	assert_int_equal(mail_page_render(t, NULL, PAGE_CHOOSE, &pv, &html,
					  &len, err, sizeof(err)),
			 -1);
	assert_null(html);
	mail_templates_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_set),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_pages),
	    cmocka_unit_test(test_fallback),
	    cmocka_unit_test(test_local_dir),
	    cmocka_unit_test(test_html_escaping),
	    cmocka_unit_test(test_subject_crlf),
	    cmocka_unit_test(test_link_template),
	    cmocka_unit_test(test_address_of),
	};
	int rc;

	if (testmail_init("test-mail") != 0)
		return 1;
	rc = cmocka_run_group_tests_name("render", tests, NULL, NULL);
	testmail_done();
	return rc;
}
