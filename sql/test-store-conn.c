/*
 * test-store-conn.c — the connection against a real PostgreSQL (see
 * teststore.h): no server, a lost connection (idle or busy), the session
 * timeouts, and what a session holds with either [database] pooling.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "sql/store.h"
#include "sql/store_impl.h" /* st->conn: what the session holds */
#include "sql/teststore.h"
#include "test/support/testpg.h"

/* ---- failures
 * -------------------------------------------------------------------- */

/* Connection attempts that reached the listener behind fd (each one
 * writes a byte to the pipe), without waiting. */
static int
attempts_seen(int fd)
{
	static int seen;
	char buf[64];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		seen += (int)n;
	return seen;
}

/* A server that accepts and never answers (a database behind a firewall
 * that drops packets): each attempt costs the connect timeout, so the
 * hold between attempts doubles (2 s, 4 s …) instead of staying 1 s. */
static void
test_reconnect_backoff(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	int lfd, pfd[2], flags;
	pid_t pid;
	struct store *u;
	char ci[128];

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Gone by itself should an assertion skip the kill below. */
		alarm(15);
		close(pfd[0]);
		close(STDOUT_FILENO);
		close(STDERR_FILENO);
		for (;;) {
			int c = accept(lfd, NULL, NULL);

			if (c < 0)
				_exit(0);
			/* kept open, never answered */
			if (write(pfd[1], "a", 1) != 1)
				_exit(0);
		}
	}
	close(lfd);
	close(pfd[1]);
	flags = fcntl(pfd[0], F_GETFL);
	assert_int_equal(fcntl(pfd[0], F_SETFL, flags | O_NONBLOCK), 0);
	snprintf(ci, sizeof ci,
		 "host=127.0.0.1 port=%d dbname=x user=x sslmode=disable",
		 ntohs(sa.sin_port));
	u = store_open(ci, 2); /* libpq's shortest connect timeout */

	assert_int_equal(store_connect(u), STORE_UNAVAILABLE); /* slow */
	assert_int_equal(attempts_seen(pfd[0]), 1);
	sleep_ms(1200); /* a fixed 1 s hold would be over */
	assert_int_equal(store_connect(u), STORE_UNAVAILABLE);
	sleep_ms(100);
	assert_int_equal(attempts_seen(pfd[0]), 1);
	sleep_ms(900);
	assert_int_equal(store_connect(u), STORE_UNAVAILABLE); /* slow */
	assert_int_equal(attempts_seen(pfd[0]), 2);
	sleep_ms(3000); /* 3 s into the 4 s hold */
	assert_int_equal(store_connect(u), STORE_UNAVAILABLE);
	sleep_ms(100);
	assert_int_equal(attempts_seen(pfd[0]), 2);
	store_close(u);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	close(pfd[0]);
}

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

/* One text value of q, run on the store's own connection. */
static void
session_value(struct store *v, const char *q, char *out, size_t len)
{
	PGresult *r = PQexec(v->conn, q);

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* STORE_POOLING_TRANSACTION leaves nothing in the server session that the
 * next statement, on another session behind a pooler, would miss: no
 * prepared statement, no LISTEN, no setting from the startup `options`;
 * and the migrations, which need a session, are refused.  The same calls
 * in session mode (the control) leave all three. */
static void
test_pooling_leaves_no_session_state(void **state)
{
	static const enum store_pooling modes[] = {STORE_POOLING_SESSION,
						   STORE_POOLING_TRANSACTION};

	(void)state;
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		bool pooled = modes[i] == STORE_POOLING_TRANSACTION;
		struct store *v = store_open(conninfo, 5);
		struct store_member m;
		char prepared[32], listening[32], seqscan[32];
		int applied = -1;

		store_set_pooling(v, modes[i]);
		assert_int_equal(store_mail_listen(v), STORE_OK);
		for (int n = 0; n < 3; n++) {
			assert_int_equal(
			    store_member_find(v, "alice", NULL, 0, &m),
			    STORE_OK);
			assert_int_equal(m.id, alice);
		}
		session_value(v, "SELECT count(*) FROM pg_prepared_statements",
			      prepared, sizeof prepared);
		session_value(v, "SELECT count(*) FROM pg_listening_channels()",
			      listening, sizeof listening);
		session_value(v, "SHOW enable_seqscan", seqscan,
			      sizeof seqscan);
		if (pooled) {
			assert_string_equal(prepared, "0");
			assert_string_equal(listening, "0");
			assert_string_equal(seqscan, "on");
			assert_int_equal(store_migrate(v, &applied),
					 STORE_ERROR);
			assert_int_equal(applied, 0);
			assert_non_null(
			    strstr(store_errmsg(v), "pooling = session"));
		} else {
			assert_true(strtol(prepared, NULL, 10) > 1);
			assert_string_equal(listening, "1");
			assert_string_equal(seqscan, "off");
		}
		store_close(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unavailable),
	    cmocka_unit_test(test_reconnect_backoff),
	    cmocka_unit_test(test_reconnect_idle),
	    cmocka_unit_test(test_reconnect_busy),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_pooling_leaves_no_session_state),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup_members,
				      teststore_teardown);
}
