/*
 * test-mail.c — templates, rendering, MIME and SMTP delivery.
 *
 * Needs TEMPLATE_DIR (this folder, holding default/, example-brand/ and
 * testdata/).  Messages are checked byte by byte here and parsed by
 * /usr/bin/python3's email package (testdata/check_message.py); delivery
 * runs against real aiosmtpd servers (testdata/smtp_sink.py), one plain
 * and one offering STARTTLS with a throwaway self-signed certificate.
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
#include "smtp.h"

#define FROM  "pwreset <noreply@example.org>"
#define TOKEN "Tok_en-0123456789abcdefghijklmnop"

static const char *template_dir;
static char *scratch; /* per-run temporary folder */

/* ---- helpers ----------------------------------------------------------- */

static char *
mkscratch(const char *name)
{
	char *d = xasprintf("%s/%s", scratch, name);

	assert_int_equal(mkdir(d, 0700), 0);
	return d;
}

static void
put(const char *dir, const char *rel, const char *content)
{
	char *path = xasprintf("%s/%s", dir, rel), *slash;
	FILE *f;

	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0700) != 0)
		assert_int_equal(errno, EEXIST);
	*slash = '/';
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* A template folder with the real default set (symlinked) next to the
 * sets a test writes itself. */
static char *
mkset_dir(const char *name)
{
	char *d = mkscratch(name);
	char *src = xasprintf("%s/default", template_dir);
	char *dst = xasprintf("%s/default", d);

	assert_int_equal(symlink(src, dst), 0);
	free(src);
	free(dst);
	return d;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
sample_values(struct mail_values *v)
{
	memset(v, 0, sizeof(*v));
	v->v[MAIL_VAR_HOSTURL] = "http://localhost:8080";
	v->v[MAIL_VAR_EMAILDOMAIN] = "example.org";
	v->v[MAIL_VAR_REASON] = "member";
	v->v[MAIL_VAR_TOKEN] = TOKEN;
	v->v[MAIL_VAR_VALIDITY] = "12 hours";
	v->v[MAIL_VAR_MEMBER_ID] = "42";
	v->v[MAIL_VAR_MEMBER_USERNAME] = "jsmith";
	v->v[MAIL_VAR_MEMBER_FIRSTNAME] = "Jane";
	v->v[MAIL_VAR_MEMBER_LASTNAME] = "Smith";
	v->v[MAIL_VAR_MEMBER_FULLNAME] = "Jane Smith";
	v->v[MAIL_VAR_MEMBER_EMAIL] = "jane@example.org";
	v->v[MAIL_VAR_MEMBER_STATUS] = "activated";
	v->v[MAIL_VAR_GROUP_NAME] = "Acme";
	v->v[MAIL_VAR_GROUP_DESCRIPTION] = "Acme Corporation members";
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The decoded body of the part of this Content-Type (quoted-printable
 * undone, CRLF turned into LF). */
static char *
part_decoded(const char *msg, const char *type)
{
	char *hdr = xasprintf("Content-Type: %s; charset=utf-8\r\n", type);
	const char *b, *e, *p;
	char *out, *o;

	b = strstr(msg, hdr);
	free(hdr);
	assert_non_null(b);
	assert_non_null(b = strstr(b, "\r\n\r\n"));
	b += 4;
	assert_non_null(e = strstr(b, "\r\n--=_"));
	o = out = malloc((size_t)(e - b) + 1);
	for (p = b; p < e;) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 3;
		} else if (p[0] == '=') {
			assert_true(hexval(p[1]) >= 0 && hexval(p[2]) >= 0);
			*o++ = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 3;
		} else if (p[0] == '\r' && p[1] == '\n') {
			*o++ = '\n';
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* CRLF everywhere, 7-bit, lines within limits (76 in bodies). */
static void
check_format(const char *msg)
{
	const char *p, *line = msg;
	bool in_body = false;

	for (p = msg; *p != '\0'; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\r')
			assert_int_equal(p[1], '\n');
		if (*p == '\n') {
			size_t len;

			assert_true(p > line && p[-1] == '\r');
			len = (size_t)(p - 1 - line);
			if (len == 0)
				in_body = true;
			if (in_body && len > 76)
				fail_msg("body line of %zu chars: %.*s", len,
					 (int)len, line);
			assert_true(len <= 78 || !strncmp(line, "To: ", 4));
			line = p + 1;
		}
	}
	assert_true(p > msg && p[-1] == '\n');
}

static const char *
header_line(const char *msg, const char *name)
{
	char *needle = xasprintf("\r\n%s: ", name);
	const char *p;

	if (strncmp(msg, needle + 2, strlen(needle) - 2) == 0)
		p = msg;
	else if ((p = strstr(msg, needle)) != NULL)
		p += 2;
	free(needle);
	return p;
}

static int
count_headers(const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg;
	size_t n = strlen(name);
	int count = 0;

	assert_non_null(end);
	while (p < end) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			count++;
		p = strstr(p, "\r\n") + 2;
	}
	return count;
}

/* Run check_message.py on msg; 0 when every check passed. */
static int
python_check(const char *msg, const char *args)
{
	char *path = xasprintf("%s/check.eml", scratch);
	char *cmd;
	FILE *f;
	int rc;

	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(msg, 1, strlen(msg), f), strlen(msg));
	assert_int_equal(fclose(f), 0);
	cmd = xasprintf("%s %s/testdata/check_message.py %s %s", TEST_PYTHON,
			template_dir, path, args);
	rc = system(cmd);
	free(cmd);
	free(path);
	return rc;
}

static struct mail_templates *
load_ok(const char *dir, const char *link)
{
	char err[512] = "";
	struct mail_templates *t =
	    mail_templates_load(dir, link, err, sizeof(err));

	if (t == NULL)
		fail_msg("load %s: %s", dir, err);
	return t;
}

static void
render_ok(const struct mail_templates *t, const char *const *sets,
	  enum mail_kind kind, const struct mail_values *v,
	  struct mail_message *m)
{
	char err[512] = "";

	if (mail_render(t, sets, kind, v, FROM, "jane@example.org",
			"example.org", m, err, sizeof(err)) != 0)
		fail_msg("render: %s", err);
	check_format(m->text);
}

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
test_subject_rfc2047(void **state)
{
	struct mail_templates *t;
	struct mail_message m;
	struct mail_values v;
	char *d;

	(void)state;
	d = mkset_dir("i18n");
	put(d, "fr/reset-password-confirm.subject",
	    "R\xc3\xa9initialisez votre mot de passe \xe2\x80\x94 "
	    "{group.name} \xe2\x9c\x93 \xf0\x9f\x94\x91\n");
	put(d, "long/reset-password-confirm.subject",
	    "A rather long subject line that goes on and on well beyond "
	    "the seventy-six columns of one header line, {group.name}\n");
	put(d, "tricky/reset-password-confirm.subject",
	    "=?utf-8?B?SGk=?= is not an encoded word here\n");
	t = load_ok(d, NULL);
	sample_values(&v);

	render_ok(t, (const char *const[]){"fr", NULL}, MAIL_RESET_CONFIRM, &v,
		  &m);
	assert_string_equal(m.subject,
			    "R\xc3\xa9initialisez votre mot de passe \xe2\x80"
			    "\x94 Acme \xe2\x9c\x93 \xf0\x9f\x94\x91");
	assert_non_null(strstr(m.text, "\r\nSubject: =?utf-8?B?"));
	assert_int_equal(python_check(m.text, "'subject=R\xc3\xa9initialisez "
					      "votre mot de passe \xe2\x80\x94 "
					      "Acme \xe2\x9c\x93 "
					      "\xf0\x9f\x94\x91'"),
			 0);
	mail_message_free(&m);

	render_ok(t, (const char *const[]){"long", NULL}, MAIL_RESET_CONFIRM,
		  &v, &m);
	assert_non_null(strstr(m.text, "\r\nSubject: A rather long"));
	assert_int_equal(python_check(m.text,
				      "'subject=A rather long subject line "
				      "that goes on and on well beyond the "
				      "seventy-six columns of one header "
				      "line, Acme'"),
			 0);
	mail_message_free(&m);

	render_ok(t, (const char *const[]){"tricky", NULL}, MAIL_RESET_CONFIRM,
		  &v, &m);
	assert_int_equal(python_check(m.text,
				      "'subject==?utf-8?B?SGk=?= is not an "
				      "encoded word here'"),
			 0);
	mail_message_free(&m);
	mail_templates_free(t);
	free(d);
}

static void
test_message_parses(void **state)
{
	struct mail_templates *t = load_ok(template_dir, NULL);
	struct mail_message m;
	struct mail_values v;
	char err[256];

	(void)state;
	sample_values(&v);
	v.v[MAIL_VAR_MEMBER_FULLNAME] = "J\xc3\xa9r\xc3\xb4me <M\xc3\xbcller>";
	assert_int_equal(mail_render(t, NULL, MAIL_RESET_CONFIRM, &v,
				     "\xc3\x89quipe \xc2\xab pwreset \xc2\xbb "
				     "<noreply@example.org>",
				     "jane@example.org", "mail.example.org", &m,
				     err, sizeof(err)),
			 0);
	check_format(m.text);
	assert_int_equal(count_headers(m.text, "Message-ID"), 1);
	assert_int_equal(
	    python_check(m.text, "'subject=Update your password' "
				 "to=jane@example.org "
				 "'from-name=\xc3\x89quipe \xc2\xab pwreset "
				 "\xc2\xbb' from-addr=noreply@example.org "
				 "domain=mail.example.org "
				 "'text=Hello J\xc3\xa9r\xc3\xb4me "
				 "<M\xc3\xbcller>,' "
				 "'html=Hello J\xc3\xa9r\xc3\xb4me "
				 "&lt;M\xc3\xbcller&gt;,' "
				 "'text=changepassword?member=42&token=" TOKEN
				 "' 'html=Choose a new password'"),
	    0);
	mail_message_free(&m);

	/* quoted display name, Message-ID domain from the From address */
	assert_int_equal(mail_render(t, NULL, MAIL_CHANGE_PASSWORD, &v,
				     "\"Support, Acme\" <help@acme.example>",
				     "jane@example.org", "", &m, err,
				     sizeof(err)),
			 0);
	check_format(m.text);
	assert_int_equal(
	    python_check(m.text, "'subject=Your password has been updated' "
				 "'from-name=Support, Acme' "
				 "from-addr=help@acme.example "
				 "domain=acme.example "
				 "'text=contact an administrator at once'"),
	    0);
	mail_message_free(&m);

	/* the checker can fail */
	render_ok(t, NULL, MAIL_CHANGE_PASSWORD, &v, &m);
	assert_int_not_equal(python_check(m.text, "'subject=Something else' "
						  "2>/dev/null"),
			     0);
	mail_message_free(&m);

	/* bad recipient or domain */
	assert_int_equal(mail_render(t, NULL, MAIL_CHANGE_PASSWORD, &v, FROM,
				     "not an address", "example.org", &m, err,
				     sizeof(err)),
			 -1);
	assert_int_equal(mail_render(t, NULL, MAIL_CHANGE_PASSWORD, &v, FROM,
				     "jane@example.org", "exa>mple.org", &m,
				     err, sizeof(err)),
			 -1);
	assert_int_equal(mail_render(t, NULL, MAIL_CHANGE_PASSWORD, &v,
				     "no address here", "jane@example.org",
				     "example.org", &m, err, sizeof(err)),
			 -1);
	v.v[MAIL_VAR_MEMBER_FULLNAME] = "bad \xff utf-8";
	assert_int_equal(mail_render(t, NULL, MAIL_CHANGE_PASSWORD, &v, FROM,
				     "jane@example.org", "example.org", &m, err,
				     sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "{member.fullname}"));
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

/* ---- SMTP against aiosmtpd ------------------------------------------- */

static struct test_sink plain_sink, tls_sink, trusted_sink;
static char *ca_dir; /* holds the test CA, hashed as OpenSSL looks it up */

/* On a mismatch, show why smtp_deliver() answered as it did. */
#define assert_delivery(call, want)                                            \
	do {                                                                   \
		enum smtp_rc rc_ = (call);                                     \
		if (rc_ != (want))                                             \
			fail_msg("smtp_deliver: %d, expected %d: %s", rc_,     \
				 (want), reason);                              \
	} while (0)

/*
 * A test CA in ca_dir (hashed as OpenSSL's directory lookup wants it) and
 * a sink whose certificate it signed for 127.0.0.1, with AUTH.
 */
static int
trusted_sink_start(const char *pypath)
{
	char *cmd, *outdir;
	int rc;

	ca_dir = xasprintf("%s/ca", scratch);
	cmd = xasprintf(
	    "set -e; cd %s; mkdir ca; "
	    "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -days 2 "
	    "-subj /CN=pwreset-test-CA -keyout ca.key -out ca/ca.pem "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign; "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr; "
	    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > srv.ext; "
	    "openssl x509 -req -in srv.csr -CA ca/ca.pem -CAkey ca.key "
	    "-CAcreateserial -days 2 -extfile srv.ext -out srv.pem; "
	    "openssl rehash ca",
	    scratch);
	cmd = xasprintf("(%s) >/dev/null 2>&1", (outdir = cmd));
	free(outdir);
	rc = system(cmd) == 0 ? 0 : -1;
	free(cmd);
	if (rc != 0)
		return -1;
	outdir = xasprintf("%s/trusted", scratch);
	cmd = xasprintf("%s/srv.pem", scratch);
	{
		char *key = xasprintf("%s/srv.key", scratch);

		rc = test_sink_start(
		    &trusted_sink, scratch, "trusted", pypath,
		    (const char *const[]){"--tlscert", cmd, "--tlskey", key,
					  "-c", "smtp_sink.Sink", outdir,
					  "mailer", "s3cret-Pa55", NULL});
		free(key);
	}
	free(cmd);
	free(outdir);
	return rc;
}

static int
smtp_setup(void **state)
{
	char *cert = xasprintf("%s/cert.pem", scratch);
	char *key = xasprintf("%s/key.pem", scratch);
	char *pypath = xasprintf("%s/testdata", template_dir);
	char *cmd, *outdir;
	int rc;

	(void)state;
	outdir = xasprintf("%s/plain", scratch);
	rc = test_sink_start(
	    &plain_sink, scratch, "plain", pypath,
	    (const char *const[]){"-c", "smtp_sink.Sink", outdir, NULL});
	free(outdir);
	if (rc != 0)
		goto out;
	cmd = xasprintf("openssl req -x509 -newkey ec -pkeyopt "
			"ec_paramgen_curve:prime256v1 -nodes -days 2 "
			"-subj /CN=localhost -keyout %s -out %s "
			">/dev/null 2>&1",
			key, cert);
	rc = system(cmd) == 0 ? 0 : -1;
	free(cmd);
	if (rc != 0)
		goto out;
	outdir = xasprintf("%s/tls", scratch);
	rc = test_sink_start(
	    &tls_sink, scratch, "tls", pypath,
	    (const char *const[]){"--tlscert", cert, "--tlskey", key, "-c",
				  "smtp_sink.Sink", outdir, "mailer",
				  "s3cret-Pa55", NULL});
	free(outdir);
	if (rc != 0)
		goto out;
	rc = trusted_sink_start(pypath);
out:
	free(pypath);
	free(cert);
	free(key);
	return rc;
}

static int
smtp_teardown(void **state)
{
	(void)state;
	test_sink_stop(&plain_sink);
	test_sink_stop(&tls_sink);
	test_sink_stop(&trusted_sink);
	free(ca_dir);
	return 0;
}

static char *
render_for(const char *to)
{
	struct mail_templates *t = load_ok(template_dir, NULL);
	struct mail_message m;
	struct mail_values v;
	char err[256], *text;

	sample_values(&v);
	assert_int_equal(mail_render(t, NULL, MAIL_RESET_CONFIRM, &v, FROM, to,
				     "example.org", &m, err, sizeof(err)),
			 0);
	text = m.text;
	m.text = NULL;
	mail_message_free(&m);
	mail_templates_free(t);
	return text;
}

static struct smtp_opts
opts_for(const struct test_sink *s)
{
	return (struct smtp_opts){.host = "127.0.0.1",
				  .port = s->port,
				  .starttls = SMTP_STARTTLS_NO,
				  .timeout_s = 5};
}

static char *
received(const struct test_sink *s, const char *rcpt, const char *ext)
{
	char *path = xasprintf("%s/%s.%s", s->outdir, rcpt, ext);
	char *data = slurp(path);

	free(path);
	return data;
}

/* Render a message for rcpt, deliver it with o, expect want; reason
 * keeps the relay's or the local cause. */
static void
deliver_as(const struct smtp_opts *o, const char *rcpt, enum smtp_rc want,
	   char *reason, size_t reasonlen)
{
	char *msg = render_for(rcpt);

	reason[0] = '\0';
	assert_delivery(smtp_deliver(o, "noreply@example.org", rcpt, msg,
				     reason, reasonlen),
			want);
	free(msg);
}

static void
test_smtp_sent(void **state)
{
	struct smtp_opts o = opts_for(&plain_sink);
	char reason[256] = "x", *msg, *got, *env;
	struct sigaction sa;

	(void)state;
	msg = render_for("alice@example.org");
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "alice@example.org", msg, reason,
				     sizeof(reason)),
			SMTP_SENT);
	assert_non_null(got =
			    received(&plain_sink, "alice@example.org", "eml"));
	/* byte for byte: libesmtp added or changed no header */
	assert_string_equal(got, msg);
	assert_int_equal(python_check(got, "to=alice@example.org "
					   "domain=example.org"),
			 0);
	assert_non_null(env =
			    received(&plain_sink, "alice@example.org", "env"));
	assert_non_null(strstr(env, "from=noreply@example.org\n"));
	assert_non_null(strstr(env, "auth=no\n"));
	/* the signal dispositions are back as they were */
	assert_int_equal(sigaction(SIGALRM, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	free(env);
	free(got);
	free(msg);
}

static void
test_smtp_permfail(void **state)
{
	struct smtp_opts o = opts_for(&plain_sink);
	char reason[256] = "", *msg;

	(void)state;
	msg = render_for("reject.me@example.org");
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "reject.me@example.org", msg, reason,
				     sizeof(reason)),
			SMTP_PERMFAIL);
	assert_non_null(strstr(reason, "550"));
	assert_non_null(strstr(reason, "Recipient address rejected"));
	assert_null(received(&plain_sink, "reject.me@example.org", "eml"));
	free(msg);
}

static void
test_smtp_tempfail(void **state)
{
	struct smtp_opts o = opts_for(&plain_sink);
	char reason[256] = "", *msg;
	struct timespec t0, t1;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd;

	(void)state;
	msg = render_for("later@example.org");
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "later@example.org", msg, reason,
				     sizeof(reason)),
			SMTP_TEMPFAIL);
	assert_non_null(strstr(reason, "451"));

	/* nobody listening */
	o.port = free_port();
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "later@example.org", msg, reason,
				     sizeof(reason)),
			SMTP_TEMPFAIL);
	assert_non_null(strstr(reason, "refused"));

	/* a server that accepts the connection and never greets */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	o.port = ntohs(sa.sin_port);
	o.timeout_s = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "later@example.org", msg, reason,
				     sizeof(reason)),
			SMTP_TEMPFAIL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec <= 3);
	close(fd);

	/* unusable settings */
	o = opts_for(&plain_sink);
	o.host = "::1";
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "later@example.org", msg, reason,
				     sizeof(reason)),
			SMTP_TEMPFAIL);
	o = opts_for(&plain_sink);
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "bad\r\naddress", msg, reason,
				     sizeof(reason)),
			SMTP_PERMFAIL);
	free(msg);
}

/*
 * starttls = required against a relay whose certificate chains to a CA
 * in OpenSSL's certificate directory: sent over TLS.  The same relay is
 * refused by a context made without that CA, so the directory is where
 * the trust came from.
 */
static void
test_smtp_starttls_verified(void **state)
{
	struct smtp_opts o = opts_for(&trusted_sink);
	char reason[256] = "", *env, *old = getenv("SSL_CERT_DIR");
	struct smtp_tls *plain_trust, *test_trust;

	(void)state;
	old = old != NULL ? strdup(old) : NULL;
	assert_non_null(plain_trust = smtp_tls_new());
	assert_int_equal(setenv("SSL_CERT_DIR", ca_dir, 1), 0);
	test_trust = smtp_tls_new();
	if (old != NULL)
		setenv("SSL_CERT_DIR", old, 1);
	else
		unsetenv("SSL_CERT_DIR");
	free(old);
	assert_non_null(test_trust);

	/* libesmtp matches the certificate against the host's name. */
	o.host = "localhost";
	o.starttls = SMTP_STARTTLS_REQUIRED;
	o.user = "mailer";
	o.password = "s3cret-Pa55";
	o.tls = test_trust;
	deliver_as(&o, "verified@example.org", SMTP_SENT, reason,
		   sizeof(reason));
	assert_non_null(
	    env = received(&trusted_sink, "verified@example.org", "env"));
	assert_non_null(strstr(env, "tls=yes\n"));
	free(env);

	o.tls = plain_trust;
	deliver_as(&o, "unverified@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "certificate"));
	assert_null(received(&trusted_sink, "unverified@example.org", "eml"));
	smtp_tls_free(plain_trust);
	smtp_tls_free(test_trust);
}

static void
test_smtp_starttls(void **state)
{
	struct smtp_opts o = opts_for(&plain_sink);
	char reason[256] = "", *env;
	struct smtp_tls *tls = smtp_tls_new();

	(void)state;
	assert_non_null(tls);
	/* no TLS context: STARTTLS cannot even be tried */
	o.starttls = SMTP_STARTTLS_TRY;
	deliver_as(&o, "tls0@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "cannot set up TLS"));

	o.tls = tls;
	/* required, not offered */
	o.starttls = SMTP_STARTTLS_REQUIRED;
	deliver_as(&o, "tls1@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "STARTTLS"));
	assert_null(received(&plain_sink, "tls1@example.org", "eml"));

	/* try, not offered: plain delivery */
	o.starttls = SMTP_STARTTLS_TRY;
	deliver_as(&o, "tls2@example.org", SMTP_SENT, reason, sizeof(reason));

	/* required, offered with a self-signed certificate: refused */
	o = opts_for(&tls_sink);
	o.tls = tls; /* the same context serves every session */
	o.starttls = SMTP_STARTTLS_REQUIRED;
	o.user = "mailer";
	o.password = "s3cret-Pa55";
	deliver_as(&o, "tls3@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "certificate"));
	assert_null(strstr(reason, "s3cret"));

	/* no TLS at all: the server insists on STARTTLS before MAIL */
	o.starttls = SMTP_STARTTLS_NO;
	deliver_as(&o, "tls4@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "MAIL FROM: 530"));

	/* try: opportunistic TLS, then AUTH PLAIN */
	o.starttls = SMTP_STARTTLS_TRY;
	deliver_as(&o, "tls5@example.org", SMTP_SENT, reason, sizeof(reason));
	assert_non_null(env = received(&tls_sink, "tls5@example.org", "env"));
	assert_non_null(strstr(env, "tls=yes\n"));
	assert_non_null(strstr(env, "auth=yes\n"));
	free(env);
	smtp_tls_free(tls);
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
	const struct CMUnitTest render_tests[] = {
	    cmocka_unit_test(test_default_set),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_pages),
	    cmocka_unit_test(test_fallback),
	    cmocka_unit_test(test_html_escaping),
	    cmocka_unit_test(test_subject_crlf),
	    cmocka_unit_test(test_link_template),
	    cmocka_unit_test(test_subject_rfc2047),
	    cmocka_unit_test(test_message_parses),
	    cmocka_unit_test(test_address_of),
	};
	const struct CMUnitTest smtp_tests[] = {
	    cmocka_unit_test(test_smtp_sent),
	    cmocka_unit_test(test_smtp_permfail),
	    cmocka_unit_test(test_smtp_tempfail),
	    cmocka_unit_test(test_smtp_starttls),
	    cmocka_unit_test(test_smtp_starttls_verified),
	};
	char tmpl[] = "/tmp/pwr-test-mail-XXXXXX";
	int rc;

	if ((template_dir = getenv("TEMPLATE_DIR")) == NULL) {
		fprintf(stderr, "TEMPLATE_DIR is not set\n");
		return 1;
	}
	if ((scratch = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = cmocka_run_group_tests_name("render", render_tests, NULL, NULL);
	rc |= cmocka_run_group_tests_name("smtp", smtp_tests, smtp_setup,
					  smtp_teardown);
	rm_tree(scratch);
	return rc;
}
