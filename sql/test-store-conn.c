/*
 * test-store-conn.c — the connection against a real PostgreSQL (see
 * teststore.h): no server, a lost connection (idle or busy), the session
 * timeouts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "sql/store.h"
#include "sql/teststore.h"
#include "test/support/testpg.h"

/* ---- failures
 * -------------------------------------------------------------------- */

/* Nobody listening: UNAVAILABLE at once, then at once again (no retry
 * within a second), and the password never shows. */
static void
test_unavailable(void **state)
{
	struct store_member m;
	struct store *u;
	char ci[256], want[256];
	int port = closed_port(), applied;
	int64_t t0;

	(void)state;
	snprintf(ci, sizeof ci,
		 "host=127.0.0.1 port=%d dbname=nope user=nobody "
		 "password=sekrit",
		 port);
	snprintf(want, sizeof want,
		 "host=127.0.0.1 port=%d dbname=nope user=nobody", port);
	u = store_open(ci, 3);
	assert_string_equal(store_target(u), want);

	t0 = mono_ms();
	assert_int_equal(store_member_find(u, "alice", NULL, 0, &m),
			 STORE_UNAVAILABLE);
	assert_true(mono_ms() - t0 < 1000);
	assert_true(strlen(store_errmsg(u)) > 0);
	assert_null(strstr(store_errmsg(u), "sekrit"));
	assert_null(strchr(store_errmsg(u), '\n'));
	t0 = mono_ms();
	assert_int_equal(store_connect(u), STORE_UNAVAILABLE);
	assert_int_equal(store_migrate(u, &applied), STORE_UNAVAILABLE);
	assert_true(mono_ms() - t0 < 50);
	assert_null(strstr(store_errmsg(u), "sekrit"));
	sleep_ms(1100);
	assert_int_equal(store_connect(u), STORE_UNAVAILABLE);
	/* A mailer waiting on a dead database sleeps instead of spinning. */
	t0 = mono_ms();
	assert_int_equal(store_mail_wait(u, 200), STORE_UNAVAILABLE);
	assert_true(mono_ms() - t0 >= 150);
	store_close(u);

	u = store_open("port=notanumber", 1);
	assert_int_equal(store_connect(u), STORE_UNAVAILABLE);
	store_close(u);
	u = store_open("this is = not a conninfo '", 1);
	assert_string_equal(store_target(u), "(invalid conninfo)");
	assert_int_equal(store_connect(u), STORE_UNAVAILABLE);
	store_close(u);
	store_close(NULL);
}

/* The server closed an idle connection (restart): the next call
 * reconnects without failing. */
static void
test_reconnect_idle(void **state)
{
	char *name = conninfo_named("pwreset-test-idle");
	struct store *v = store_open(name, 5);
	struct store_member m;

	(void)state;
	assert_int_equal(store_connect(v), STORE_OK);
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	terminate(raw, "pwreset-test-idle");
	assert_int_equal(store_member_find(v, "alice", NULL, 0, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	store_close(v);
	free(name);
}

/* Lost in the middle of a statement: UNAVAILABLE, then a reconnect. */
static void
test_reconnect_busy(void **state)
{
	char *name = conninfo_named("pwreset-test-busy");
	struct store *v = store_open(name, 10);
	char q[128];
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(store_connect(v), STORE_OK);
	sql("BEGIN");
	snprintf(q, sizeof q, "SELECT 1 FROM member WHERE id = %lld FOR UPDATE",
		 (long long)alice);
	sql(q);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		PGconn *c;

		sleep_ms(300);
		c = PQconnectdb(conninfo);
		if (PQstatus(c) != CONNECTION_OK)
			_exit(1);
		terminate(c, "pwreset-test-busy");
		PQfinish(c);
		_exit(0);
	}
	assert_int_equal(store_member_lock(v, alice, 5), STORE_UNAVAILABLE);
	assert_null(strchr(store_errmsg(v), '\n'));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sql("ROLLBACK");
	assert_int_equal(store_member_lock(v, alice, 0), STORE_OK);
	store_close(v);
	free(name);
}

/* The session's lock_timeout/statement_timeout come from timeout_s. */
static void
test_timeout(void **state)
{
	struct store *t = store_open(conninfo, 1);
	char q[128];
	int64_t t0, took;

	(void)state;
	assert_int_equal(store_connect(t), STORE_OK);
	sql("BEGIN");
	snprintf(q, sizeof q, "SELECT 1 FROM member WHERE id = %lld FOR UPDATE",
		 (long long)alice);
	sql(q);
	t0 = mono_ms();
	assert_int_equal(store_member_lock(t, alice, 5), STORE_ERROR);
	took = mono_ms() - t0;
	sql("ROLLBACK");
	assert_true(took >= 400 && took < 2000);
	assert_non_null(strstr(store_errmsg(t), "55P03"));
	/* The connection is still good. */
	assert_int_equal(store_member_lock(t, alice, 0), STORE_OK);
	store_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unavailable),
	    cmocka_unit_test(test_reconnect_idle),
	    cmocka_unit_test(test_reconnect_busy),
	    cmocka_unit_test(test_timeout),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup_members,
				      teststore_teardown);
}
