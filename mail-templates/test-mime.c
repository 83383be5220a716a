/*
 * test-mime.c — the message mime.c builds: RFC 2047 subjects, headers,
 * quoted-printable parts, checked byte by byte and parsed by
 * /usr/bin/python3's email package (testdata/check_message.py).
 *
 * Needs TEMPLATE_DIR (this folder).
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_subject_rfc2047),
	    cmocka_unit_test(test_message_parses),
	};
	int rc;

	if (testmail_init("test-mime") != 0)
		return 1;
	rc = cmocka_run_group_tests_name("mime", tests, NULL, NULL);
	testmail_done();
	return rc;
}
