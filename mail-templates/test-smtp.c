/*
 * test-smtp.c — delivery with libesmtp against real aiosmtpd servers
 * (testdata/smtp_sink.py): one plain, one offering STARTTLS with a
 * throwaway self-signed certificate, one with a certificate from a test CA.
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

#include "common/clock.h"
#include "smtp.h"
#include "mail.h"
#include "../test/support/testsupport.h"
#include "testmail.h"

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
	struct timespec t0;
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
	t0 = clock_now();
	assert_delivery(smtp_deliver(&o, "noreply@example.org",
				     "later@example.org", msg, reason,
				     sizeof(reason)),
			SMTP_TEMPFAIL);
	assert_true(clock_since_ms(&t0) < 4000); /* the 1 s timeout, not more */
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

	/* AUTH makes STARTTLS required whatever was asked, so an
	 * unverifiable certificate stops it before the password goes. */
	o.starttls = SMTP_STARTTLS_NO;
	deliver_as(&o, "tls4a@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "certificate"));
	o.starttls = SMTP_STARTTLS_TRY;
	deliver_as(&o, "tls4b@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "certificate"));
	assert_null(received(&tls_sink, "tls4b@example.org", "env"));

	/* no TLS at all: the server insists on STARTTLS before MAIL */
	o.user = o.password = NULL;
	o.starttls = SMTP_STARTTLS_NO;
	deliver_as(&o, "tls4@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "MAIL FROM: 530"));

	/* try: opportunistic TLS without AUTH */
	o.starttls = SMTP_STARTTLS_TRY;
	deliver_as(&o, "tls5@example.org", SMTP_SENT, reason, sizeof(reason));
	assert_non_null(env = received(&tls_sink, "tls5@example.org", "env"));
	assert_non_null(strstr(env, "tls=yes\n"));
	assert_non_null(strstr(env, "auth=no\n"));
	free(env);

	/* try + AUTH against a relay offering no STARTTLS: nothing sent */
	o = opts_for(&plain_sink);
	o.tls = tls;
	o.starttls = SMTP_STARTTLS_TRY;
	o.user = "mailer";
	o.password = "s3cret-Pa55";
	deliver_as(&o, "tls6@example.org", SMTP_TEMPFAIL, reason,
		   sizeof(reason));
	assert_non_null(strstr(reason, "STARTTLS"));
	assert_null(received(&plain_sink, "tls6@example.org", "eml"));
	smtp_tls_free(tls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smtp_sent),
	    cmocka_unit_test(test_smtp_permfail),
	    cmocka_unit_test(test_smtp_tempfail),
	    cmocka_unit_test(test_smtp_starttls),
	    cmocka_unit_test(test_smtp_starttls_verified),
	};
	int rc;

	if (testmail_init("test-smtp") != 0)
		return 1;
	rc = cmocka_run_group_tests_name("smtp", tests, smtp_setup,
					 smtp_teardown);
	testmail_done();
	return rc;
}
