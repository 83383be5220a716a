/*
 * test-config.c — config_load() against real files, and the log line
 * format (log.c has no test program of its own and reads config.h's enums).
 *
 * Files are written to a private mkdtemp() directory removed at the end.
 * SRCDIR (set by meson) points at the project root, for the sample config.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char tmpdir[256];
static char conf[300]; /* the file each test writes */

static int
group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/pwreset-test-config.XXXXXX",
		 base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/t.conf", tmpdir);
	return 0;
}

static int
group_teardown(void **state)
{
	DIR *d;
	struct dirent *e;
	char path[600];

	(void)state;
	d = opendir(tmpdir);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", tmpdir,
				 e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	return rmdir(tmpdir);
}

static void
write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load text; expect failure with "conf:LINE: ...what...". */
static void
expect_error(const char *text, int line, const char *what)
{
	struct config c;
	char err[512], prefix[400];

	write_conf(text);
	memset(&c, 0xa5, sizeof(c)); /* config_load must not read garbage */
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), -1);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, what) == NULL)
		fail_msg("got \"%s\", want \"%s...%s\"", err, prefix, what);
	/* failure leaves the struct freed */
	assert_null(c.path);
	assert_null(c.service.hosturl);
	assert_null(c.database.conninfo);
}

static void
load_ok(const char *text, struct config *c)
{
	char err[512] = "";

	write_conf(text);
	if (config_load(c, conf, err, sizeof(err)) != 0)
		fail_msg("config_load: %s", err);
}

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_null(c.path);
	assert_string_equal(c.database.conninfo, "");
	assert_int_equal(c.database.timeout, 5);
	assert_string_equal(c.service.site_prefix, "/ps");
	assert_string_equal(c.service.hosturl, "http://localhost:8080");
	assert_string_equal(c.service.emaildomain, "localhost");
	assert_int_equal(c.service.token_ttl, 43200);
	assert_int_equal(c.service.workers, 0);
	assert_int_equal(c.service.max_requests, 10000);
	assert_int_equal(c.service.max_body, 16384);
	assert_string_equal(c.service.listen, "");
	assert_int_equal(c.service.listen_mode, 0660);
	assert_string_equal(c.service.status_path, "");
	assert_string_equal(c.service.ping_path, "");
	assert_string_equal(c.service.user, "");
	assert_int_equal(c.service.shutdown_timeout, 10);
	assert_int_equal(c.service.io_timeout, 30);
	assert_string_equal(c.service.template_dir,
			    "/usr/share/pwreset/mail-templates");
	assert_string_equal(c.service.global_template, "");
	assert_string_equal(c.service.link_template,
			    "{hosturl}/email/changepassword?member={member.id}"
			    "&token={token}");
	assert_string_equal(c.service.trusted_proxies, "");
	assert_int_equal(c.argon2.m_cost, 19456);
	assert_int_equal(c.argon2.t_cost, 2);
	assert_int_equal(c.argon2.parallelism, 1);
	assert_string_equal(c.smtp.host, "localhost");
	assert_int_equal(c.smtp.port, 25);
	assert_int_equal(c.smtp.starttls, STARTTLS_TRY);
	assert_string_equal(c.smtp.user, "");
	assert_string_equal(c.smtp.password_file, "");
	assert_int_equal(c.smtp.timeout, 10);
	assert_int_equal(c.smtp.final_timeout, 600);
	assert_string_equal(c.mail.from, "pwreset <noreply@localhost>");
	assert_int_equal(c.mail.max_attempts, 8);
	assert_int_equal(c.mail.retry_base, 30);
	assert_string_equal(c.mail.outbox_key_file, "/etc/pwreset/outbox.key");
	assert_int_equal(c.password.policy, POLICY_PAGESEEDER);
	assert_int_equal(c.password.min_length, 15);
	assert_string_equal(c.password.banned_file,
			    "/usr/share/john/password.lst");
	assert_false(c.privacy.hide_account_state);
	assert_int_equal(c.privacy.step1_floor_ms, 0);
	assert_int_equal(c.ratelimit.per_identifier, 5);
	assert_int_equal(c.ratelimit.per_address, 60);
	assert_int_equal(c.ratelimit.window, 3600);
	assert_int_equal(c.ratelimit.token_failures, 10);
	assert_int_equal(c.ratelimit.ipv6_prefix, 64);
	assert_int_equal(c.log.target, LOG_TARGET_STDERR);
	assert_int_equal(c.log.level, LOG_LEVEL_INFO);
	config_free(&c);
	assert_null(c.service.hosturl);
	config_free(&c); /* twice is fine */
	config_free(NULL);
}

static void
test_empty_file(void **state)
{
	struct config c;

	(void)state;
	load_ok("# nothing\n\n; at all\n", &c);
	assert_string_equal(c.path, conf);
	assert_int_equal(c.service.token_ttl, 43200);
	assert_string_equal(c.smtp.host, "localhost");
	config_free(&c);
}

static void
test_every_key(void **state)
{
	struct config c;

	(void)state;
	load_ok("[database]\n"
		"conninfo = host=/run/postgresql dbname=pwreset\n"
		"timeout = 7\n"
		"[service]\n"
		"site_prefix =\n"
		"hosturl = https://example.org\n"
		"emaildomain = example.org\n"
		"token_ttl = 60\n"
		"workers = 256\n"
		"max_requests = 1\n"
		"max_body = 1048576\n"
		"listen = unix:/run/pwreset/sock\n"
		"listen_mode = 0600\n"
		"user = pwreset\n"
		"shutdown_timeout = 3600\n"
		"template_dir = /etc/pwreset/templates\n"
		"global_template = corporate\n"
		"link_template = {hosturl}/reset?t={token}\n"
		"trusted_proxies = 127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8\n"
		"[argon2]\n"
		"m_cost = 65536\n"
		"t_cost = 3\n"
		"parallelism = 4\n"
		"[smtp]\n"
		"host = mail.example.org\n"
		"port = 587\n"
		"starttls = required\n"
		"user = mailer\n"
		"password_file = /etc/pwreset/smtp.pw\n"
		"timeout = 300\n"
		"[mail]\n"
		"from = Example <noreply@example.org>\n"
		"max_attempts = 100\n"
		"[password]\n"
		"policy = nist\n"
		"min_length = 8\n"
		"banned_file =\n"
		"[privacy]\n"
		"hide_account_state = yes\n"
		"step1_floor_ms = 10000\n"
		"[ratelimit]\n"
		"per_identifier = 1\n"
		"per_address = 1000000\n"
		"window = 86400\n"
		"[log]\n"
		"target = syslog\n"
		"level = debug\n",
		&c);
	assert_string_equal(c.database.conninfo,
			    "host=/run/postgresql dbname=pwreset");
	assert_int_equal(c.database.timeout, 7);
	assert_string_equal(c.service.site_prefix, "");
	assert_string_equal(c.service.hosturl, "https://example.org");
	assert_string_equal(c.service.emaildomain, "example.org");
	assert_int_equal(c.service.token_ttl, 60);
	assert_int_equal(c.service.workers, 256);
	assert_int_equal(c.service.max_requests, 1);
	assert_int_equal(c.service.max_body, 1048576);
	assert_string_equal(c.service.listen, "unix:/run/pwreset/sock");
	assert_int_equal(c.service.listen_mode, 0600);
	assert_string_equal(c.service.user, "pwreset");
	assert_int_equal(c.service.shutdown_timeout, 3600);
	assert_string_equal(c.service.template_dir, "/etc/pwreset/templates");
	assert_string_equal(c.service.global_template, "corporate");
	assert_string_equal(c.service.link_template,
			    "{hosturl}/reset?t={token}");
	assert_string_equal(c.service.trusted_proxies,
			    "127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8");
	assert_int_equal(c.argon2.m_cost, 65536);
	assert_int_equal(c.argon2.t_cost, 3);
	assert_int_equal(c.argon2.parallelism, 4);
	assert_string_equal(c.smtp.host, "mail.example.org");
	assert_int_equal(c.smtp.port, 587);
	assert_int_equal(c.smtp.starttls, STARTTLS_REQUIRED);
	assert_string_equal(c.smtp.user, "mailer");
	assert_string_equal(c.smtp.password_file, "/etc/pwreset/smtp.pw");
	assert_int_equal(c.smtp.timeout, 300);
	assert_string_equal(c.mail.from, "Example <noreply@example.org>");
	assert_int_equal(c.mail.max_attempts, 100);
	assert_int_equal(c.password.policy, POLICY_NIST);
	assert_int_equal(c.password.min_length, 8);
	assert_string_equal(c.password.banned_file, "");
	assert_true(c.privacy.hide_account_state);
	assert_int_equal(c.privacy.step1_floor_ms, 10000);
	assert_int_equal(c.ratelimit.per_identifier, 1);
	assert_int_equal(c.ratelimit.per_address, 1000000);
	assert_int_equal(c.ratelimit.window, 86400);
	assert_int_equal(c.log.target, LOG_TARGET_SYSLOG);
	assert_int_equal(c.log.level, LOG_LEVEL_DEBUG);
	config_free(&c);
	assert_null(c.path);
	assert_null(c.smtp.host);
}

/* A key given twice is an error naming both lines, even in a repeated
 * section and even with the same value; the same name in two sections is
 * two keys. */
static void
test_duplicate_key(void **state)
{
	struct config c;

	(void)state;
	expect_error("[smtp]\nport = 26\nport = 27\n", 3,
		     "[smtp] port: set twice (first on line 2)");
	expect_error("[smtp]\nhost = a\n[service]\nworkers = 2\n[smtp]\n"
		     "host = a\n",
		     6, "[smtp] host: set twice (first on line 2)");
	load_ok("[smtp]\nport = 26\ntimeout = 5\n[database]\ntimeout = 7\n"
		"[service]\nworkers = 2\n",
		&c);
	assert_int_equal(c.smtp.port, 26);
	assert_int_equal(c.smtp.timeout, 5);
	assert_int_equal(c.database.timeout, 7);
	assert_int_equal(c.service.workers, 2);
	config_free(&c);
}

/* [mail] from must hold an address: the mailer refuses to start without
 * one (a worker and the mailer would die and respawn forever). */
static void
test_mail_from(void **state)
{
	struct config c;

	(void)state;
	expect_error("[mail]\nfrom = Reset Service\n", 2,
		     "[mail] from: must hold an email address");
	expect_error("[mail]\nfrom =\n", 2, "[mail] from: must hold");
	expect_error("[mail]\nfrom = Reset <noreply@example.org\n", 2,
		     "[mail] from: must hold");
	load_ok("[mail]\nfrom = Reset Service <noreply@example.org>\n", &c);
	assert_string_equal(c.mail.from, "Reset Service <noreply@example.org>");
	config_free(&c);
	load_ok("[mail]\nfrom = noreply@example.org\n", &c);
	config_free(&c);
}

static void
test_booleans(void **state)
{
	static const char *const yes[] = {"true", "yes",  "on",
					  "1",	  "TRUE", "Yes"};
	static const char *const no[] = {"false", "no", "off", "0", "False"};
	char text[128];
	struct config c;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text),
			 "[privacy]\nhide_account_state = %s\n", yes[i]);
		load_ok(text, &c);
		assert_true(c.privacy.hide_account_state);
		config_free(&c);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text),
			 "[privacy]\nhide_account_state = %s\n", no[i]);
		load_ok(text, &c);
		assert_false(c.privacy.hide_account_state);
		config_free(&c);
	}
	expect_error("[privacy]\nhide_account_state = maybe\n", 2,
		     "must be true or false");
	expect_error("[privacy]\nhide_account_state =\n", 2,
		     "must be true or false");
}

static void
test_unknown(void **state)
{
	(void)state;
	expect_error("[service]\nworkers = 2\n\n[servce]\nworkers = 3\n", 4,
		     "unknown section [servce]");
	/* a section with no keys is still caught */
	expect_error("[service]\n[nothing]\n", 2, "unknown section [nothing]");
	expect_error("[smtp]\nhost = x\n# c\nhots = y\n", 4,
		     "unknown key 'hots' in [smtp]");
	expect_error("workers = 2\n", 1, "outside a section");
	/* keys are per section */
	expect_error("[smtp]\nworkers = 2\n", 2,
		     "unknown key 'workers' in [smtp]");
}

static void
test_syntax(void **state)
{
	(void)state;
	expect_error("[service]\nworkers = 2\njust words\n", 3, "syntax error");
	expect_error("; c\n[service\nworkers = 2\n", 2, "syntax error");
	/* the first error wins, even when a later one is ours */
	expect_error("[smtp]\nbad\nport = 0\n", 2, "syntax error");
	expect_error("[smtp]\nport = 0\nbad\n", 2, "[smtp] port");
	expect_error("[smtp]\nhost = a\n  port = 26\n", 3, "continuation");
}

static void
test_long_line(void **state)
{
	char text[600];
	struct config c;

	(void)state;
	/* 199 bytes and the newline fit inih's 200-byte buffer ... */
	snprintf(text, sizeof(text), "[database]\nconninfo = %0*d\n",
		 199 - (int)strlen("conninfo = "), 0);
	load_ok(text, &c);
	assert_int_equal(strlen(c.database.conninfo),
			 199 - strlen("conninfo = "));
	config_free(&c);
	/* ... without a final newline too ... */
	text[strlen(text) - 1] = '\0';
	load_ok(text, &c);
	config_free(&c);
	/* ... one more does not */
	snprintf(text, sizeof(text), "[database]\nconninfo = %0*d\n",
		 200 - (int)strlen("conninfo = "), 0);
	expect_error(text, 2, "line too long");
	snprintf(text, sizeof(text), "[database]\n\n\nconninfo = %0*d\n", 400,
		 0);
	expect_error(text, 4, "line too long");
}

static void
test_numbers(void **state)
{
	struct config c;

	(void)state;
	expect_error("[service]\ntoken_ttl = abc\n", 2,
		     "[service] token_ttl: must be an integer from 1 to "
		     "604800");
	expect_error("[service]\ntoken_ttl = 12x\n", 2, "must be an integer");
	expect_error("[service]\ntoken_ttl =\n", 2, "must be an integer");
	expect_error("[service]\ntoken_ttl = +600\n", 2, "must be an integer");
	expect_error("[service]\ntoken_ttl = 0x100\n", 2, "must be an integer");
	expect_error("[service]\ntoken_ttl = 99999999999999999999999\n", 2,
		     "must be an integer");
	expect_error("[service]\ntoken_ttl = 0\n", 2, "from 1 to 604800");
	expect_error("[service]\ntoken_ttl = 604801\n", 2, "from 1 to");
	expect_error("[service]\nworkers = -1\n", 2, "from 0 to 256");
	expect_error("[service]\nworkers = 257\n", 2, "from 0 to 256");
	expect_error("[service]\nmax_body = 255\n", 2, "from 256 to 1048576");
	expect_error("[service]\nmax_requests = 10000001\n", 2, "to 10000000");
	expect_error("[database]\ntimeout = 0\n", 2, "from 1 to 300");
	expect_error("[smtp]\nport = 65536\n", 2, "from 1 to 65535");
	expect_error("[smtp]\ntimeout = 301\n", 2, "from 1 to 300");
	expect_error("[smtp]\n\nfinal_timeout = 3601\n", 3, "from 1 to 3600");
	expect_error("[mail]\nmax_attempts = 101\n", 2, "from 1 to 100");
	expect_error("[argon2]\nm_cost = 7\n", 2, "from 8 to 4194304");
	expect_error("[argon2]\nm_cost = 4194305\n", 2, "from 8 to 4194304");
	expect_error("[argon2]\nt_cost = 0\n", 2, "from 1 to 100");
	expect_error("[argon2]\nparallelism = 65\n", 2, "from 1 to 64");
	expect_error("[password]\nmin_length = 7\n", 2, "from 8 to 64");
	expect_error("[password]\nmin_length = 65\n", 2, "from 8 to 64");
	expect_error("[privacy]\nstep1_floor_ms = 10001\n", 2,
		     "from 0 to 10000");
	expect_error("[ratelimit]\nper_identifier = 0\n", 2,
		     "from 1 to 1000000");
	expect_error("[ratelimit]\nper_address = 1000001\n", 2,
		     "from 1 to 1000000");
	expect_error("[ratelimit]\nwindow = 86401\n", 2, "from 1 to 86400");
	expect_error("[service]\nshutdown_timeout = 0\n", 2, "from 1 to 3600");
	/* octal */
	expect_error("[service]\nlisten_mode = 0668\n", 2, "octal mode");
	expect_error("[service]\nlisten_mode = 01777\n", 2, "octal mode");
	expect_error("[service]\nlisten_mode = rw\n", 2, "octal mode");
	load_ok("[service]\nlisten_mode = 777\n", &c);
	assert_int_equal(c.service.listen_mode, 0777);
	config_free(&c);
	/* argon2 needs 8 KiB per lane: reported on the later of the two */
	expect_error("[argon2]\nparallelism = 4\nm_cost = 31\n", 3,
		     "at least 8 x parallelism");
	expect_error("[argon2]\nm_cost = 31\n\nparallelism = 4\n", 4,
		     "at least 8 x parallelism");
	load_ok("[argon2]\nm_cost = 32\nparallelism = 4\n", &c);
	config_free(&c);
}

/* [database] pooling: session by default, transaction when asked, any
 * other word refused with the choices named. */
static void
test_pooling(void **state)
{
	struct config c, d;

	(void)state;
	config_defaults(&d);
	assert_int_equal(d.database.pooling, POOLING_SESSION);
	config_free(&d);
	load_ok("[database]\npooling = transaction\n", &c);
	assert_int_equal(c.database.pooling, POOLING_TRANSACTION);
	config_free(&c);
	load_ok("[database]\npooling = session\n", &c);
	assert_int_equal(c.database.pooling, POOLING_SESSION);
	config_free(&c);
	expect_error("[database]\npooling = statement\n", 2,
		     "must be one of: session, transaction");
	expect_error("[database]\npooling = Transaction\n", 2,
		     "must be one of: session, transaction");
}

static void
test_enums(void **state)
{
	struct config c;

	(void)state;
	expect_error("[smtp]\nstarttls = maybe\n", 2,
		     "must be one of: no, try, required");
	expect_error("[password]\npolicy = strict\n", 2,
		     "must be one of: pageseeder, nist");
	expect_error("[log]\ntarget = file\n", 2, "stderr, syslog");
	expect_error("[log]\nlevel = trace\n", 2, "error, warn, info, debug");
	load_ok("[smtp]\nstarttls = no\n[log]\nlevel = warn\n", &c);
	assert_int_equal(c.smtp.starttls, STARTTLS_NO);
	assert_int_equal(c.log.level, LOG_LEVEL_WARN);
	config_free(&c);
}

/* starttls = auto (the default): "try" on loopback, "required" elsewhere;
 * SMTP AUTH only with "required". */
static void
test_starttls_auto(void **state)
{
	static const struct {
		const char *text;
		enum starttls_mode want;
	} cases[] = {
	    {"[smtp]\nport = 25\n", STARTTLS_TRY},
	    {"[smtp]\nhost = localhost\n", STARTTLS_TRY},
	    {"[smtp]\nhost = 127.0.0.1\n", STARTTLS_TRY},
	    {"[smtp]\nhost = 127.9.8.7\n", STARTTLS_TRY},
	    {"[smtp]\nhost = ::1\n", STARTTLS_TRY},
	    {"[smtp]\nhost = [::1]\n", STARTTLS_TRY},
	    {"[smtp]\nhost = mail.example.org\n", STARTTLS_REQUIRED},
	    {"[smtp]\nhost = 128.0.0.1\n", STARTTLS_REQUIRED},
	    {"[smtp]\nhost = localhost.example.org\n", STARTTLS_REQUIRED},
	    {"[smtp]\nhost = ::2\n", STARTTLS_REQUIRED},
	    {"[smtp]\nstarttls = auto\nhost = relay\n", STARTTLS_REQUIRED},
	    {"[smtp]\nhost = relay\nstarttls = try\n", STARTTLS_TRY},
	    {"[smtp]\nhost = relay\nstarttls = no\n", STARTTLS_NO},
	    {"[smtp]\nstarttls = required\n", STARTTLS_REQUIRED},
	};
	struct config c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_ok(cases[i].text, &c);
		if (c.smtp.starttls != cases[i].want)
			fail_msg("%s: got %d", cases[i].text,
				 (int)c.smtp.starttls);
		config_free(&c);
	}
	expect_error("[smtp]\nuser = mailer\n", 2, "starttls = required");
	expect_error("[smtp]\nuser = mailer\nstarttls = try\n", 3,
		     "SMTP AUTH needs starttls = required");
	expect_error("[smtp]\nstarttls = no\nuser = mailer\n", 3,
		     "SMTP AUTH needs starttls = required");
	load_ok("[smtp]\nhost = relay\nuser = mailer\n", &c);
	assert_int_equal(c.smtp.starttls, STARTTLS_REQUIRED);
	config_free(&c);
	load_ok("[smtp]\nuser = mailer\nstarttls = required\n", &c);
	config_free(&c);
}

static void
test_io_timeout(void **state)
{
	struct config c;

	(void)state;
	expect_error("[service]\nio_timeout = 0\n", 2, "io_timeout");
	expect_error("[service]\nio_timeout = 3601\n", 2, "io_timeout");
	load_ok("[service]\nio_timeout = 2\n", &c);
	assert_int_equal(c.service.io_timeout, 2);
	config_free(&c);
}

static void
test_strings(void **state)
{
	struct config c;

	(void)state;
	expect_error("[service]\nhosturl = localhost:8080\n", 2,
		     "http:// or https://");
	expect_error("[service]\nhosturl = ftp://x\n", 2, "http://");
	expect_error("[service]\nhosturl = https://example.org/\n", 2,
		     "must not end with '/'");
	expect_error("[service]\nhosturl = https://\n", 2, "needs a host");
	expect_error("[service]\nhosturl = https://a b\n", 2, "not allowed");
	expect_error("[service]\nhosturl = https://a/?x=1\n", 2, "not allowed");
	load_ok("[service]\nhosturl = https://example.org/pagesed\n", &c);
	config_free(&c);
	expect_error("[service]\nsite_prefix = ps\n", 2, "start with '/'");
	expect_error("[service]\nsite_prefix = /ps/\n", 2, "not end with");
	expect_error("[service]\nsite_prefix = /\n", 2, "not end with");
	expect_error("[service]\nsite_prefix = /a//b\n", 2, "'//'");
	expect_error("[service]\nsite_prefix = /a?b\n", 2, "only letters");
	load_ok("[service]\nsite_prefix = /a/b-c\n", &c);
	assert_string_equal(c.service.site_prefix, "/a/b-c");
	config_free(&c);
	expect_error("[service]\nstatus_path = status\n", 2, "start with '/'");
	expect_error("[service]\nping_path = /ping?x\n", 2, "only letters");
	expect_error("[service]\nstatus_path = /s\nping_path = /s\n", 3,
		     "must differ");
	load_ok("[service]\nstatus_path = /status\nping_path = /ping\n", &c);
	assert_string_equal(c.service.status_path, "/status");
	assert_string_equal(c.service.ping_path, "/ping");
	config_free(&c);
	expect_error("[service]\nemaildomain =\n", 2, "must not be empty");
	expect_error("[service]\nemaildomain = a b\n", 2, "only letters");
	expect_error("[service]\nlisten = unix:run/sock\n", 2, "absolute");
	expect_error("[service]\nlisten = 127.0.0.1\n", 2, "host:port");
	expect_error("[service]\nlisten = 127.0.0.1:0\n", 2, "host:port");
	load_ok("[service]\nlisten = 127.0.0.1:9000\n", &c);
	config_free(&c);
	load_ok("[service]\nlisten = :9000\n", &c);
	config_free(&c);
	expect_error("[service]\nuser = a:b\n", 2, "only letters");
	expect_error("[service]\ntemplate_dir = templates\n", 2, "absolute");
	expect_error("[service]\ntemplate_dir =\n", 2, "absolute");
	/* One set-name rule everywhere (common/setname.h): no '.' at all. */
	expect_error("[service]\nglobal_template = ../etc\n", 2,
		     "only letters");
	expect_error("[service]\nglobal_template = a.b\n", 2, "only letters");
	expect_error("[service]\nglobal_template = a/b\n", 2, "only letters");
	expect_error("[service]\nlink_template = {hosturl}/x\n", 2,
		     "must contain {token}");
	expect_error("[smtp]\nhost =\n", 2, "must not be empty");
	expect_error("[smtp]\npassword_file = smtp.pw\n", 2, "absolute");
	expect_error("[mail]\nfrom =\n", 2, "must hold an email address");
	expect_error("[password]\nbanned_file = list.txt\n", 2, "absolute");
	expect_error("[mail]\nfrom = a\rb <x@y>\n", 2, "control characters");
	expect_error("[mail]\nfrom = \xc3\x28 <x@y>\n", 2, "UTF-8");
	load_ok("[mail]\nfrom = J\xc3\xa9r\xc3\xb4me <x@example.org>\n", &c);
	config_free(&c);
}

static void
test_trusted_proxies(void **state)
{
	static const char *const good[] = {
	    "127.0.0.1",
	    "10.0.0.0/8",
	    "0.0.0.0/0",
	    "::1",
	    "::/0",
	    "fd00::/8, 2001:db8::/32",
	    " 192.168.1.1 ,\t172.16.0.0/12 ",
	    "::ffff:10.0.0.1/128",
	};
	static const char *const bad[] = {
	    "localhost",   "10.0.0.0/33", "::1/129",	 "10.0.0.1,,10.0.0.2",
	    "10.0.0.1,",   "10.0.0.0/",	  "10.0.0.0/-1", "10.0.0.0/+8",
	    "10.0.0.0/8x", "256.0.0.1",	  "1.2.3",	 ",",
	};
	char text[256];
	struct config c;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
			 "[service]\ntrusted_proxies = %s\n", good[i]);
		load_ok(text, &c);
		config_free(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "[service]\n\ntrusted_proxies = %s\n", bad[i]);
		expect_error(text, 3, "not an IPv4/IPv6 address or CIDR");
	}
}

static void
test_missing_file(void **state)
{
	struct config c;
	char err[512], path[400], want[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_null(c.path);
	assert_null(c.smtp.host);
	config_free(&c); /* harmless after a failed load */

	/* a directory is not a config file either */
	assert_int_equal(config_load(&c, tmpdir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: ", tmpdir);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
}

static void
test_small_err_buffer(void **state)
{
	struct config c;
	char err[8];

	(void)state;
	write_conf("[nope]\n");
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

static const char *const sample_keys[] = {
    "database.conninfo",
    "database.timeout",
    "database.pooling",
    "service.site_prefix",
    "service.hosturl",
    "service.emaildomain",
    "service.token_ttl",
    "service.workers",
    "service.max_requests",
    "service.max_body",
    "service.listen",
    "service.listen_mode",
    "service.user",
    "service.shutdown_timeout",
    "service.io_timeout",
    "service.template_dir",
    "service.local_template_dir",
    "service.global_template",
    "service.link_template",
    "service.trusted_proxies",
    "service.status_path",
    "service.ping_path",
    "argon2.m_cost",
    "argon2.t_cost",
    "argon2.parallelism",
    "smtp.host",
    "smtp.port",
    "smtp.starttls",
    "smtp.user",
    "smtp.password_file",
    "smtp.timeout",
    "smtp.final_timeout",
    "mail.from",
    "mail.max_attempts",
    "mail.retry_base",
    "mail.outbox_key_file",
    "password.policy",
    "password.min_length",
    "password.banned_file",
    "privacy.hide_account_state",
    "privacy.step1_floor_ms",
    "ratelimit.per_identifier",
    "ratelimit.per_address",
    "ratelimit.window",
    "ratelimit.token_failures",
    "ratelimit.ipv6_prefix",
    "log.target",
    "log.level",
};

/* The shipped sample loads, sets every key, each with a comment line
 * just above it, and its values are the built-in defaults. */
static void
test_sample_config(void **state)
{
	const char *srcdir = getenv("SRCDIR");
	char path[512], err[512], line[512], section[64] = "", prev[512] = "";
	bool seen[sizeof(sample_keys) / sizeof(sample_keys[0])] = {false};
	struct config c, d;
	FILE *f;

	(void)state;
	if (srcdir == NULL)
		srcdir = "..";
	snprintf(path, sizeof(path), "%s/contrib/pwreset.conf", srcdir);
	if (config_load(&c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);

	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char key[128], name[64];
		if (sscanf(line, "[%63[^]]]", section) == 1) {
			prev[0] = '\0';
			continue;
		}
		if (line[0] != '#' && line[0] != ';' &&
		    sscanf(line, "%63[a-z0-9_] =", name) == 1) {
			snprintf(key, sizeof(key), "%s.%s", section, name);
			size_t i;
			for (i = 0;
			     i < sizeof(sample_keys) / sizeof(*sample_keys);
			     i++)
				if (strcmp(sample_keys[i], key) == 0)
					break;
			if (i == sizeof(sample_keys) / sizeof(*sample_keys))
				fail_msg("sample sets unexpected key %s", key);
			if (prev[0] != '#')
				fail_msg("%s has no comment above it", key);
			seen[i] = true;
		}
		snprintf(prev, sizeof(prev), "%s", line);
	}
	fclose(f);
	for (size_t i = 0; i < sizeof(sample_keys) / sizeof(*sample_keys); i++)
		if (!seen[i])
			fail_msg("sample lacks %s", sample_keys[i]);

	config_defaults(&d);
	assert_string_equal(c.database.conninfo, d.database.conninfo);
	assert_int_equal(c.database.timeout, d.database.timeout);
	assert_int_equal(c.database.pooling, d.database.pooling);
	assert_string_equal(c.service.site_prefix, d.service.site_prefix);
	assert_string_equal(c.service.hosturl, d.service.hosturl);
	assert_string_equal(c.service.emaildomain, d.service.emaildomain);
	assert_int_equal(c.service.token_ttl, d.service.token_ttl);
	assert_int_equal(c.service.workers, d.service.workers);
	assert_int_equal(c.service.max_requests, d.service.max_requests);
	assert_int_equal(c.service.max_body, d.service.max_body);
	assert_string_equal(c.service.listen, d.service.listen);
	assert_int_equal(c.service.listen_mode, d.service.listen_mode);
	assert_string_equal(c.service.user, d.service.user);
	assert_int_equal(c.service.shutdown_timeout,
			 d.service.shutdown_timeout);
	assert_int_equal(c.service.io_timeout, d.service.io_timeout);
	assert_string_equal(c.service.template_dir, d.service.template_dir);
	assert_string_equal(c.service.global_template,
			    d.service.global_template);
	assert_string_equal(c.service.link_template, d.service.link_template);
	assert_string_equal(c.service.trusted_proxies,
			    d.service.trusted_proxies);
	assert_int_equal(c.argon2.m_cost, d.argon2.m_cost);
	assert_int_equal(c.argon2.t_cost, d.argon2.t_cost);
	assert_int_equal(c.argon2.parallelism, d.argon2.parallelism);
	assert_string_equal(c.smtp.host, d.smtp.host);
	assert_int_equal(c.smtp.port, d.smtp.port);
	assert_int_equal(c.smtp.starttls, d.smtp.starttls);
	assert_string_equal(c.smtp.user, d.smtp.user);
	assert_string_equal(c.smtp.password_file, d.smtp.password_file);
	assert_int_equal(c.smtp.timeout, d.smtp.timeout);
	assert_int_equal(c.smtp.final_timeout, d.smtp.final_timeout);
	assert_string_equal(c.mail.from, d.mail.from);
	assert_int_equal(c.mail.max_attempts, d.mail.max_attempts);
	assert_int_equal(c.mail.retry_base, d.mail.retry_base);
	assert_string_equal(c.mail.outbox_key_file, d.mail.outbox_key_file);
	assert_int_equal(c.password.policy, d.password.policy);
	assert_int_equal(c.password.min_length, d.password.min_length);
	assert_string_equal(c.password.banned_file, d.password.banned_file);
	assert_int_equal(c.privacy.hide_account_state,
			 d.privacy.hide_account_state);
	assert_int_equal(c.privacy.step1_floor_ms, d.privacy.step1_floor_ms);
	assert_int_equal(c.ratelimit.per_identifier,
			 d.ratelimit.per_identifier);
	assert_int_equal(c.ratelimit.per_address, d.ratelimit.per_address);
	assert_int_equal(c.ratelimit.window, d.ratelimit.window);
	assert_int_equal(c.ratelimit.token_failures,
			 d.ratelimit.token_failures);
	assert_int_equal(c.ratelimit.ipv6_prefix, d.ratelimit.ipv6_prefix);
	assert_int_equal(c.log.target, d.log.target);
	assert_int_equal(c.log.level, d.log.level);
	config_free(&c);
	config_free(&d);
}

/* The text of the ".It Cm NAME" item of section SECTION of the man page
 * in buf (lines joined by spaces); false when there is none. */
static bool
man_item(FILE *f, const char *section, const char *name, char *buf, size_t len)
{
	char line[512], cur[512] = "", want[128];
	bool in = false;
	size_t used = 0;

	rewind(f);
	buf[0] = '\0';
	snprintf(want, sizeof(want), ".It Cm %s\n", name);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, ".Ss Section ", 12) == 0) {
			snprintf(cur, sizeof(cur), "%s", line + 12);
			cur[strcspn(cur, "\n")] = '\0';
			in = false;
			continue;
		}
		if (strncmp(line, ".It", 3) == 0 ||
		    strncmp(line, ".El", 3) == 0) {
			if (in)
				return true;
			in = strcmp(cur, section) == 0 &&
			     strcmp(line, want) == 0;
			continue;
		}
		if (in && used < len) {
			line[strcspn(line, "\n")] = ' ';
			used += (size_t)snprintf(buf + used, len - used, "%s",
						 line);
		}
	}
	return in;
}

/* pwreset.conf(5) states every numeric key's range as the key table has
 * it ("MIN\(enMAX") and its default ("[DEFAULT]" or "[DEFAULT, ..."). */
static void
test_man_ranges(void **state)
{
	const char *srcdir = getenv("SRCDIR");
	char path[512], text[4096], range[64], def1[64], def2[64];
	struct config_key_info k;
	FILE *f;
	int numeric = 0;

	(void)state;
	if (srcdir == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/contrib/man/pwreset.conf.5", srcdir);
	f = fopen(path, "r");
	assert_non_null(f);
	for (size_t i = 0; config_key_info(i, &k); i++) {
		if (!k.numeric)
			continue;
		numeric++;
		if (!man_item(f, k.section, k.name, text, sizeof(text)))
			fail_msg("pwreset.conf(5): no item for [%s] %s",
				 k.section, k.name);
		if (k.octal)
			snprintf(range, sizeof(range), "%#lo\\(en%#lo", k.min,
				 k.max);
		else
			snprintf(range, sizeof(range), "%ld\\(en%ld", k.min,
				 k.max);
		if (strstr(text, range) == NULL)
			fail_msg("pwreset.conf(5): [%s] %s: no range \"%s\" in "
				 "\"%s\"",
				 k.section, k.name, range, text);
		snprintf(def1, sizeof(def1), "[%s]", k.def);
		snprintf(def2, sizeof(def2), "[%s,", k.def);
		if (strstr(text, def1) == NULL && strstr(text, def2) == NULL)
			fail_msg("pwreset.conf(5): [%s] %s: no default \"%s\" "
				 "in \"%s\"",
				 k.section, k.name, def1, text);
	}
	assert_true(numeric > 20);
	assert_int_equal(config_key_count() > (size_t)numeric, 1);
	fclose(f);
}

static void
test_config_path(void **state)
{
	(void)state;
	unsetenv("PWRESET_CONFIG");
	assert_string_equal(config_path(NULL), CONFIG_DEFAULT_PATH);
	assert_string_equal(config_path("/x.conf"), "/x.conf");
	setenv("PWRESET_CONFIG", "/from/env.conf", 1);
	assert_string_equal(config_path(NULL), "/from/env.conf");
	assert_string_equal(config_path("/x.conf"), "/x.conf");
	setenv("PWRESET_CONFIG", "", 1);
	assert_string_equal(config_path(NULL), CONFIG_DEFAULT_PATH);
	unsetenv("PWRESET_CONFIG");
}

static void
test_restart_needed(void **state)
{
	struct config a, b;
	char names[128];

	(void)state;
	load_ok("[service]\nlisten = unix:/run/a.sock\nworkers = 2\n", &a);
	load_ok("[service]\nlisten = unix:/run/a.sock\nworkers = 3\n"
		"[log]\nlevel = debug\n",
		&b);
	assert_int_equal(config_restart_needed(&a, &b, names, sizeof(names)),
			 0);
	assert_string_equal(names, "");
	config_free(&b);
	load_ok("[service]\nlisten = unix:/run/b.sock\nlisten_mode = 0600\n"
		"user = www-data\nworkers = 2\n",
		&b);
	assert_int_equal(config_restart_needed(&a, &b, names, sizeof(names)),
			 3);
	assert_string_equal(names, "[service] listen, [service] listen_mode, "
				   "[service] user");
	/* Cut to the buffer, still counted. */
	assert_int_equal(config_restart_needed(&a, &b, names, 10), 3);
	assert_string_equal(names, "[service]");
	config_free(&a);
	config_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_starttls_auto),
	    cmocka_unit_test(test_io_timeout),
	    cmocka_unit_test(test_empty_file),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_duplicate_key),
	    cmocka_unit_test(test_mail_from),
	    cmocka_unit_test(test_man_ranges),
	    cmocka_unit_test(test_booleans),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_enums),
	    cmocka_unit_test(test_pooling),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_trusted_proxies),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_small_err_buffer),
	    cmocka_unit_test(test_sample_config),
	    cmocka_unit_test(test_config_path),
	    cmocka_unit_test(test_restart_needed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
