/*
 * test-mailer.c — the outbox delivered for real: PostgreSQL (PWRESET_TEST_PG:
 * conninfo of a throwaway, migrated-or-empty database) and an aiosmtpd sink
 * (SRCDIR/mail-templates/testdata/smtp_sink.py).  Exits 77 (skipped) when
 * PWRESET_TEST_PG is not set.
 *
 * Rows are claimed by id so that other rows in a shared test database do
 * not matter; only the mailer_run() test takes whatever is due.
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

#include "../mail-templates/mail.h"
#include "config.h"
#include "log.h"
#include "mailer.h"
#include "outbox.h"
#include "../test/support/testpg.h"
#include "../test/support/testsupport.h"

static const char *conninfo, *srcdir;
static char scratch[] = "/tmp/pwr-test-mailer-XXXXXX";
static struct config cfg;
static struct store *st;
static struct mail_templates *tmpl;
static int run_id;
static struct test_sink sink;
static struct outbox_key *okey, *other_key; /* other_key: another host's */

/* ---- helpers ----------------------------------------------------------- */

static void
set_str(char **field, const char *value)
{
	free(*field);
	assert_non_null(*field = strdup(value));
}

/* Run fn with stderr (where log.c writes) going to a file; return what
 * was written. */
static char *
capture_stderr(void (*fn)(void *), void *arg)
{
	char *path = xasprintf("%s/stderr", scratch), *out;
	int fd, saved;
	FILE *f;
	long n;

	fflush(stderr);
	assert_true((saved = dup(2)) >= 0);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	dup2(fd, 2);
	close(fd);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_non_null(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	free(path);
	fputs(out, stderr); /* still visible in the test log */
	return out;
}

/* Queue a reset mail for a new member, sealed under key; returns the
 * outbox row id. */
static int64_t
enqueue_sealed(const char *local, const struct outbox_key *key)
{
	static int n;
	struct store_member_new nm = {0};
	struct mail_message msg;
	struct mail_values v = {0};
	struct store_mail sm;
	uint8_t hash[STORE_HASH_LEN];
	char *username = xasprintf("mailer-%d-%d", run_id, ++n);
	char *rcpt = xasprintf("%s-%d-%d@example.test", local, run_id, n);
	char err[256], *sealed;
	int64_t member, mail_id = 0;

	nm.username = username;
	nm.email = rcpt;
	assert_int_equal(store_member_add(st, &nm, &member), STORE_OK);
	v.v[MAIL_VAR_TOKEN] = "not-a-real-token";
	v.v[MAIL_VAR_MEMBER_USERNAME] = username;
	v.v[MAIL_VAR_MEMBER_FULLNAME] = username;
	assert_int_equal(mail_render(tmpl, NULL, MAIL_RESET_CONFIRM, &v,
				     cfg.mail.from, rcpt, "example.test", &msg,
				     err, sizeof(err)),
			 0);
	sealed =
	    outbox_seal(key, msg.text, "reset-password-confirm", msg.recipient);
	assert_non_null(sealed);
	sm = (struct store_mail){"reset-password-confirm", msg.recipient,
				 msg.subject, sealed};
	memset(hash, 0, sizeof(hash));
	memcpy(hash, &run_id, sizeof(run_id));
	memcpy(hash + sizeof(run_id), &n, sizeof(n));
	assert_int_equal(
	    store_reset_issue(st, member, hash, 600, &sm, &mail_id), STORE_OK);
	mail_message_free(&msg);
	free(sealed);
	free(username);
	free(rcpt);
	return mail_id;
}

static int64_t
enqueue(const char *local)
{
	return enqueue_sealed(local, okey);
}

struct find_row {
	int64_t id;
	bool found;
	struct store_outbox_row row;
};

static void
find_cb(const struct store_outbox_row *row, void *arg)
{
	struct find_row *f = arg;

	if (row->id == f->id) {
		f->row = *row;
		f->found = true;
	}
}

static struct store_outbox_row
row_of(int64_t id)
{
	struct find_row f = {.id = id};

	assert_int_equal(store_mail_list(st, false, find_cb, &f), STORE_OK);
	assert_true(f.found);
	return f.row;
}

/* The sink's copy of the mail to the row's recipient, or NULL. */
static char *
received(int64_t id)
{
	struct store_outbox_row r = row_of(id);
	char *path = xasprintf("%s/%s.eml", sink.outdir, r.recipient);
	struct stat sb;
	char *out = stat(path, &sb) == 0 ? path : NULL;

	if (out == NULL)
		free(path);
	return out;
}

/* ---- tests ----------------------------------------------------------- */

struct init_call {
	struct mailer *m;
	int rc;
};

static void
do_init(void *arg)
{
	struct init_call *c = arg;

	c->rc = mailer_init(c->m, &cfg, st, okey);
}

static void
test_password_file(void **state)
{
	char *path = xasprintf("%s/smtp-password", scratch), *log;
	struct mailer m;
	struct init_call c = {&m, 0};
	FILE *f;

	(void)state;
	set_str(&cfg.smtp.password_file, path);

	assert_non_null(f = fopen(path, "w"));
	fputs("s3cret pass\r\n", f);
	fclose(f);
	chmod(path, 0600);
	log = capture_stderr(do_init, &c);
	assert_int_equal(c.rc, 0);
	assert_string_equal(m.smtp_password, "s3cret pass");
	assert_null(strstr(log, "readable"));
	assert_null(strstr(log, "s3cret"));
	free(log);
	mailer_fini(&m);
	assert_null(m.smtp_password);
	mailer_fini(&m);

	chmod(path, 0644);
	log = capture_stderr(do_init, &c);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(log, "warn"));
	assert_non_null(strstr(log, "readable"));
	assert_null(strstr(log, "s3cret"));
	free(log);
	mailer_fini(&m);

	assert_non_null(f = fopen(path, "w"));
	fputs("one\ntwo\n", f);
	fclose(f);
	assert_int_equal(mailer_init(&m, &cfg, st, okey), -1);
	mailer_fini(&m);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(mailer_init(&m, &cfg, st, okey), -1);
	mailer_fini(&m);
	unlink(path);
	assert_int_equal(mailer_init(&m, &cfg, st, okey), -1);
	mailer_fini(&m);

	set_str(&cfg.smtp.password_file, "");
	set_str(&cfg.mail.from, "nobody");
	assert_int_equal(mailer_init(&m, &cfg, st, okey), -1);
	mailer_fini(&m);
	set_str(&cfg.mail.from, "pwreset <noreply@example.test>");
	assert_int_equal(mailer_init(&m, &cfg, st, okey), 0);
	assert_null(m.smtp_password);
	mailer_fini(&m);
	free(path);
}

struct deliver_call {
	struct mailer *m;
	int64_t id;
	enum mailer_rc rc;
};

static void
do_deliver(void *arg)
{
	struct deliver_call *c = arg;

	c->rc = mailer_deliver(c->m, c->id);
}

static void
test_deliver(void **state)
{
	struct mailer m;
	struct store_outbox_row r;
	struct deliver_call c = {&m, 0, MAILER_IDLE};
	char *path, *log;
	int64_t id;

	(void)state;
	assert_int_equal(mailer_init(&m, &cfg, st, okey), 0);

	/* sent */
	c.id = id = enqueue("alice");
	log = capture_stderr(do_deliver, &c);
	assert_int_equal(c.rc, MAILER_SENT);
	assert_non_null(strstr(log, "to *@example.test: sent (attempt 1)"));
	assert_null(strstr(log, "alice-")); /* the local part stays out */
	free(log);
	r = row_of(id);
	assert_string_equal(r.state, "sent");
	assert_int_equal(r.attempts, 1);
	assert_non_null(path = received(id));
	free(path);
	/* not pending any more */
	assert_int_equal(mailer_deliver(&m, id), MAILER_IDLE);

	/* refused recipient: permanent at once */
	c.id = id = enqueue("reject");
	log = capture_stderr(do_deliver, &c);
	assert_int_equal(c.rc, MAILER_FAILED);
	assert_non_null(strstr(log, "failed for good"));
	assert_non_null(strstr(log, "550"));
	assert_null(strstr(log, "reject-")); /* the address is redacted */
	free(log);
	r = row_of(id);
	assert_string_equal(r.state, "failed");
	assert_non_null(strstr(r.last_error, "550"));
	assert_null(received(id));

	/* 4xx: retried with backoff until max_attempts */
	c.id = id = enqueue("later");
	log = capture_stderr(do_deliver, &c);
	assert_int_equal(c.rc, MAILER_RETRY);
	{
		const char *p = strstr(log, "failed, next in ");
		int s;

		assert_non_null(p);
		assert_int_equal(sscanf(p, "failed, next in %d s", &s), 1);
		assert_true(s >= 24 && s <= 36); /* 30 s +- 20 % */
	}
	free(log);
	r = row_of(id);
	assert_string_equal(r.state, "pending");
	assert_int_equal(r.attempts, 1);
	assert_non_null(strstr(r.last_error, "451"));
	/* not due yet, so not claimed again */
	assert_int_equal(mailer_deliver(&m, id), MAILER_IDLE);
	/* the last allowed attempt fails for good */
	cfg.mail.max_attempts = 1;
	id = enqueue("later");
	assert_int_equal(mailer_deliver(&m, id), MAILER_FAILED);
	r = row_of(id);
	assert_string_equal(r.state, "failed");
	assert_int_equal(r.attempts, 1);
	cfg.mail.max_attempts = 2;

	/* relay down: a temporary failure, the row stays */
	cfg.smtp.port = free_port();
	id = enqueue("bob");
	assert_int_equal(mailer_deliver(&m, id), MAILER_RETRY);
	r = row_of(id);
	assert_string_equal(r.state, "pending");
	assert_non_null(strstr(r.last_error, "refused"));
	assert_int_equal(r.attempts, 1);
	cfg.smtp.port = sink.port;

	/* sealed under another host's key: not sent, named in the log,
	 * retried (for a host with the key) until max_attempts */
	c.id = id = enqueue_sealed("otherkey", other_key);
	log = capture_stderr(do_deliver, &c);
	assert_int_equal(c.rc, MAILER_UNREADABLE);
	assert_non_null(strstr(log, "cannot open its sealed text"));
	assert_non_null(strstr(log, okey->path));
	free(log);
	r = row_of(id);
	assert_string_equal(r.state, "pending");
	assert_non_null(strstr(r.last_error, "outbox key"));
	assert_null(received(id));
	cfg.mail.max_attempts = 1;
	id = enqueue_sealed("otherkey", other_key);
	assert_int_equal(mailer_deliver(&m, id), MAILER_UNREADABLE);
	assert_string_equal(row_of(id).state, "failed");
	assert_null(received(id));
	cfg.mail.max_attempts = 2;
	mailer_fini(&m);

	/* no key, no mailer */
	assert_int_equal(mailer_init(&m, &cfg, st, NULL), -1);
	mailer_fini(&m);
}

static volatile sig_atomic_t child_stop;

static void
on_term(int sig)
{
	(void)sig;
	child_stop = 1;
}

static void
test_run(void **state)
{
	struct sigaction sa;
	int64_t id;
	char *path = NULL;
	pid_t pid;
	int i, status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *own = store_open(conninfo, 5);
		struct mailer m;
		int rc;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		if (mailer_init(&m, &cfg, own, okey) != 0)
			_exit(3);
		rc = mailer_run(&m, &child_stop);
		mailer_fini(&m);
		store_close(own);
		_exit(rc == 0 ? 0 : 4);
	}
	/* written after the mailer started: LISTEN/NOTIFY (or the 1 s
	 * wake-up) brings it */
	usleep(300 * 1000);
	id = enqueue("carol");
	for (i = 0; i < 100 && (path = received(id)) == NULL; i++)
		usleep(100 * 1000);
	assert_non_null(path);
	free(path);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (i = 0; i < 50 && strcmp(row_of(id).state, "sent") != 0; i++)
		usleep(100 * 1000);
	assert_string_equal(row_of(id).state, "sent");
}

/* ---- setup ------------------------------------------------------------ */

static int
setup(void **state)
{
	char *pypath, *sink_dir, *tdir, err[512];
	int rc;

	(void)state;
	if (mkdtemp(scratch) == NULL)
		return -1;
	run_id = (int)getpid();
	st = testpg_store(conninfo, 5);
	if (st == NULL)
		return -1;
	tdir = xasprintf("%s/mail-templates", srcdir);
	tmpl = mail_templates_load(tdir, NULL, err, sizeof(err));
	free(tdir);
	if (tmpl == NULL) {
		fprintf(stderr, "templates: %s\n", err);
		return -1;
	}

	pypath = xasprintf("%s/mail-templates/testdata", srcdir);
	sink_dir = xasprintf("%s/mail", scratch);
	rc = test_sink_start(
	    &sink, scratch, "mail", pypath,
	    (const char *const[]){"-c", "smtp_sink.Sink", sink_dir, NULL});
	free(pypath);
	free(sink_dir);
	if (rc != 0)
		return -1;

	for (int i = 0; i < 2; i++) {
		char *kpath = xasprintf("%s/outbox-%d.key", scratch, i);
		struct outbox_key **k = i == 0 ? &okey : &other_key;

		if (outbox_key_create(kpath, err, sizeof(err)) != 0 ||
		    (*k = outbox_key_load(kpath, err, sizeof(err))) == NULL) {
			fprintf(stderr, "outbox key: %s\n", err);
			free(kpath);
			return -1;
		}
		free(kpath);
	}

	config_defaults(&cfg);
	set_str(&cfg.smtp.host, "127.0.0.1");
	cfg.smtp.port = sink.port;
	cfg.smtp.starttls = STARTTLS_NO;
	cfg.smtp.timeout = 5;
	set_str(&cfg.mail.from, "pwreset <noreply@example.test>");
	cfg.mail.max_attempts = 2;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	test_sink_stop(&sink);
	mail_templates_free(tmpl);
	outbox_key_free(okey);
	outbox_key_free(other_key);
	store_close(st);
	config_free(&cfg);
	rm_tree(scratch);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_password_file),
	    cmocka_unit_test(test_deliver),
	    cmocka_unit_test(test_run),
	};

	conninfo = testpg_conninfo();
	if ((srcdir = getenv("SRCDIR")) == NULL) {
		fprintf(stderr, "SRCDIR is not set\n");
		return 1;
	}
	log_init("test-mailer", LOG_TARGET_STDERR, LOG_LEVEL_INFO);
	return cmocka_run_group_tests(tests, setup, teardown);
}
