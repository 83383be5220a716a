/*
 * teststore.c — see teststore.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "sql/store.h"
#include "sql/teststore.h"
#include "test/support/testpg.h"

const char *conninfo;
PGconn *raw;
struct store *st;
int64_t alice, bob, carol; /* member ids, made by test_members */

const struct store_mail mail_reset = {
    .kind = "reset-password-confirm",
    .recipient = "bob@example.org",
    .subject = "Update your password",
    .message = "Subject: Update your password\r\n\r\ntoken=SECRET\r\n",
};
const struct store_mail mail_changed = {
    .kind = "change-password",
    .recipient = "bob@example.org",
    .subject = "Your password has been updated",
    .message = "Subject: Your password has been updated\r\n\r\nDone.\r\n",
};

/* ---- helpers ------------------------------------------------------------- */

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A distinct, recognisable 32-byte hash per n. */
void
hash_of(uint8_t h[STORE_HASH_LEN], int n)
{
	for (int i = 0; i < STORE_HASH_LEN; i++)
		h[i] = (uint8_t)(n * 37 + i);
}

bool
try_sql(PGconn *c, const char *q)
{
	return testpg_try(c, q);
}

void
sql_on(PGconn *c, const char *q)
{
	if (!try_sql(c, q))
		fail_msg("%s: %s", q, PQerrorMessage(c));
}

void
sql(const char *q)
{
	sql_on(raw, q);
}

long long
sql_int(const char *fmt, ...)
{
	char q[1024];
	va_list ap;
	PGresult *r;
	long long v;

	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	r = PQexec(raw, q);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", q, PQerrorMessage(raw));
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* The conninfo with application_name set, to find that session again. */
char *
conninfo_named(const char *name)
{
	char *s;
	int n;

	if (strncmp(conninfo, "postgres", 8) == 0) /* a URI */
		n = asprintf(&s, "%s%capplication_name=%s", conninfo,
			     strchr(conninfo, '?') ? '&' : '?', name);
	else
		n = asprintf(&s, "%s application_name=%s", conninfo, name);
	assert_true(n > 0);
	return s;
}

/* Terminate the sessions named name and wait until they are gone. */
void
terminate(PGconn *c, const char *name)
{
	const char *v[1] = {name};
	PGresult *r;

	r = PQexecParams(c,
			 "SELECT pg_terminate_backend(pid) FROM "
			 "pg_stat_activity WHERE application_name = $1",
			 1, NULL, v, NULL, NULL, 0);
	PQclear(r);
	for (int i = 0; i < 100; i++) {
		long long left;

		r = PQexecParams(c,
				 "SELECT count(*) FROM pg_stat_activity "
				 "WHERE application_name = $1",
				 1, NULL, v, NULL, NULL, 0);
		left = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if (left == 0)
			break;
		sleep_ms(20);
	}
}

void
reset_db(void)
{
	if (!testpg_reset_schema(raw))
		fail_msg("reset schema: %s", PQerrorMessage(raw));
}

/* A TCP port on 127.0.0.1 nobody listens on (just released by us). */
int
closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

bool
iso_utc(const char *s)
{
	return strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z';
}

/*
 * Fork n children, each with its own connected store; they wait on a
 * pipe and start fn together when the parent closes it.  codes[i]: the
 * exit status of child i (fn's return), or 200+ when setup failed.
 */
void
race(int n, race_fn *fn, void *arg, int out, int *codes)
{
	int ready[2], go[2];
	pid_t pids[64];

	assert_true(n <= 64);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct store *s;
			char c;

			close(ready[0]);
			close(go[1]);
			s = store_open(conninfo, 10);
			if (store_connect(s) != STORE_OK)
				_exit(201);
			if (write(ready[1], "r", 1) != 1)
				_exit(202);
			if (read(go[0], &c, 1) != 0)
				_exit(203);
			/* _exit: the parent's connections are shared
			 * sockets and must not be closed from here. */
			_exit(fn(s, out, arg));
		}
		pids[i] = pid;
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < n; i++) {
		char c;

		assert_int_equal(read(ready[0], &c, 1), 1);
	}
	close(go[1]); /* go */
	for (int i = 0; i < n; i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
	}
	close(ready[0]);
}

int
find(const char *user, const char *email, int64_t group, struct store_member *m)
{
	return store_member_find(st, user, email, group, m);
}

/* ---- group setups ------------------------------------------------------- */

int
teststore_setup(void **state)
{
	(void)state;
	raw = testpg_connect(conninfo);
	if (raw == NULL)
		return -1;
	st = store_open(conninfo, 10);
	return 0;
}

int
teststore_setup_migrated(void **state)
{
	int applied;

	if (teststore_setup(state) != 0)
		return -1;
	if (!testpg_reset_schema(raw)) {
		fprintf(stderr, "reset schema: %s", PQerrorMessage(raw));
		return -1;
	}
	if (store_migrate(st, &applied) != STORE_OK) {
		fprintf(stderr, "migrate: %s\n", store_errmsg(st));
		return -1;
	}
	return 0;
}

int
teststore_setup_members(void **state)
{
	const struct store_member_new a = {.username = "Alice",
					   .email = "Alice@Example.org",
					   .firstname = "Alice",
					   .lastname = "Liddell"};
	const struct store_member_new b = {.username = "bob",
					   .email = "bob@example.org",
					   .firstname = "Bob",
					   .phc = PHC};
	const struct store_member_new c = {
	    .username = "carol", .admin = true, .status = "unactivated"};

	if (teststore_setup_migrated(state) != 0)
		return -1;
	if (store_member_add(st, &a, &alice) != STORE_OK ||
	    store_member_add(st, &b, &bob) != STORE_OK ||
	    store_member_add(st, &c, &carol) != STORE_OK) {
		fprintf(stderr, "members: %s\n", store_errmsg(st));
		return -1;
	}
	return 0;
}

int
teststore_teardown(void **state)
{
	(void)state;
	store_close(st);
	PQfinish(raw);
	return 0;
}
