/*
 * test-store.c — the store against a real PostgreSQL.
 *
 * PWRESET_TEST_PG is the libpq conninfo of an empty throwaway database: the
 * test drops every table and function in its current schema first.  Unset,
 * the test is skipped (exit 77).  Concurrency is tested with forked
 * processes, each with its own connection, started together through a pipe.
 * A second, raw libpq connection sets up states the store API cannot reach
 * (held row locks, old rows) and checks what the API does not return.
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

#include "sql/migrations.h"
#include "sql/store.h"

#define RACERS	   20 /* concurrent reset_complete calls on one token */
#define CLAIMERS   4
#define CLAIM_ROWS 40
#define PHC	   "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"

static const char *conninfo;
static PGconn *raw;
static struct store *st;
static int64_t alice, bob, carol; /* member ids, made by test_members */

static const struct store_mail mail_reset = {
    .kind = "reset-password-confirm",
    .recipient = "bob@example.org",
    .subject = "Update your password",
    .message = "Subject: Update your password\r\n\r\ntoken=SECRET\r\n",
};
static const struct store_mail mail_changed = {
    .kind = "change-password",
    .recipient = "bob@example.org",
    .subject = "Your password has been updated",
    .message = "Subject: Your password has been updated\r\n\r\nDone.\r\n",
};

/* ---- helpers ------------------------------------------------------------- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A distinct, recognisable 32-byte hash per n. */
static void
hash_of(uint8_t h[STORE_HASH_LEN], int n)
{
	for (int i = 0; i < STORE_HASH_LEN; i++)
		h[i] = (uint8_t)(n * 37 + i);
}

/* Run q on connection c; false (and c's message) when it failed. */
static bool
try_sql(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	ExecStatusType s = PQresultStatus(r);

	PQclear(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

static void
sql_on(PGconn *c, const char *q)
{
	if (!try_sql(c, q))
		fail_msg("%s: %s", q, PQerrorMessage(c));
}

static void
sql(const char *q)
{
	sql_on(raw, q);
}

__attribute__((format(printf, 1, 2))) static long long
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
static char *
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
static void
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

/* Drop everything a previous run left in the current schema. */
static void
reset_db(void)
{
	sql("DO $$ DECLARE r record; BEGIN "
	    "FOR r IN SELECT tablename FROM pg_tables "
	    "WHERE schemaname = current_schema() LOOP "
	    "EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename); "
	    "END LOOP; "
	    "FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p "
	    "JOIN pg_namespace n ON n.oid = p.pronamespace "
	    "WHERE n.nspname = current_schema() LOOP "
	    "EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.f); "
	    "END LOOP; END $$");
}

/* A TCP port on 127.0.0.1 nobody listens on (just released by us). */
static int
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

static bool
iso_utc(const char *s)
{
	return strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z';
}

/*
 * Fork n children, each with its own connected store; they wait on a
 * pipe and start fn together when the parent closes it.  codes[i]: the
 * exit status of child i (fn's return), or 200+ when setup failed.
 */
typedef int race_fn(struct store *s, int out, void *arg);

static void
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

static int
find(const char *user, const char *email, int64_t group, struct store_member *m)
{
	return store_member_find(st, user, email, group, m);
}

/* ---- schema ----------------------------------------------------------------
 */

static void
test_migrate(void **state)
{
	int applied = -1;

	(void)state;
	reset_db();
	assert_int_equal(store_migrate(st, &applied), STORE_OK);
	assert_int_equal(applied, (int)migrations_count);
	assert_int_equal(store_migrate(st, &applied), STORE_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(sql_int("SELECT count(*) FROM pwreset_schema"),
			 (long long)migrations_count);
	/* The migrations made a 32-byte secret, the same for every caller. */
	{
		uint8_t a[STORE_HASH_LEN] = {0}, b[STORE_HASH_LEN] = {0};
		uint8_t zero[STORE_HASH_LEN] = {0};

		assert_int_equal(store_secret(st, "ratelimit", a), STORE_OK);
		assert_int_equal(store_secret(st, "ratelimit", b), STORE_OK);
		assert_memory_equal(a, b, STORE_HASH_LEN);
		assert_memory_not_equal(a, zero, STORE_HASH_LEN);
		/* a lost secret is made again, not an error */
		sql("DELETE FROM pwreset_secret");
		assert_int_equal(store_secret(st, "ratelimit", b), STORE_OK);
		assert_memory_not_equal(a, b, STORE_HASH_LEN);
	}
	/* No advisory lock left behind. */
	assert_int_equal(sql_int("SELECT count(*) FROM pg_locks "
				 "WHERE locktype = 'advisory'"),
			 0);
}

static int
race_migrate(struct store *s, int out, void *arg)
{
	int applied = -1;

	(void)out;
	(void)arg;
	if (store_migrate(s, &applied) != STORE_OK) {
		fprintf(stderr, "migrate: %s\n", store_errmsg(s));
		return 100;
	}
	return applied;
}

/* Several hosts migrating at once: each migration is applied once. */
static void
test_migrate_concurrent(void **state)
{
	int codes[4], total = 0, applied = -1;

	(void)state;
	reset_db();
	race(4, race_migrate, NULL, -1, codes);
	for (int i = 0; i < 4; i++) {
		assert_true(codes[i] <= (int)migrations_count);
		total += codes[i];
	}
	assert_int_equal(total, (int)migrations_count);
	assert_int_equal(store_migrate(st, &applied), STORE_OK);
	assert_int_equal(applied, 0);
}

/* ---- members ----------------------------------------------------------------
 */

static void
test_members(void **state)
{
	struct store_member_new n = {
	    .username = "Alice",
	    .email = "Alice@Example.org",
	    .firstname = "Alice",
	    .lastname = "Liddell",
	};
	struct store_member m;
	char phc[128];
	int64_t id;

	(void)state;
	assert_int_equal(store_member_add(st, &n, &alice), STORE_OK);
	assert_true(alice > 0);

	/* Case-insensitive uniqueness. */
	n.username = "ALICE";
	n.email = NULL;
	assert_int_equal(store_member_add(st, &n, &id), STORE_CONFLICT);
	n.username = "alice2";
	n.email = "alice@EXAMPLE.ORG";
	assert_int_equal(store_member_add(st, &n, &id), STORE_CONFLICT);
	/* The schema's own checks. */
	n.email = NULL;
	n.username = "12345";
	assert_int_equal(store_member_add(st, &n, &id), STORE_ERROR);
	n.username = "bad name";
	assert_int_equal(store_member_add(st, &n, &id), STORE_ERROR);
	n.username = "dave";
	n.status = "weird";
	assert_int_equal(store_member_add(st, &n, &id), STORE_ERROR);
	assert_null(strstr(store_errmsg(st), "Failing row"));

	n = (struct store_member_new){.username = "bob",
				      .email = "bob@example.org",
				      .firstname = "Bob",
				      .phc = PHC};
	assert_int_equal(store_member_add(st, &n, &bob), STORE_OK);
	n = (struct store_member_new){
	    .username = "carol", .admin = true, .status = "unactivated"};
	assert_int_equal(store_member_add(st, &n, &carol), STORE_OK);

	/* By username, email, both; any case. */
	assert_int_equal(find("aLiCe", NULL, 0, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	assert_string_equal(m.username, "Alice");
	assert_string_equal(m.email, "Alice@Example.org");
	assert_string_equal(m.firstname, "Alice");
	assert_string_equal(m.lastname, "Liddell");
	assert_string_equal(m.status, "activated");
	assert_false(m.admin);
	assert_false(m.api);
	assert_false(m.locked);
	assert_false(m.has_password);
	assert_int_equal(m.failed_logins, 0);
	assert_string_equal(m.locked_until, "");
	assert_string_equal(m.password_changed_at, "");
	assert_int_equal(find(NULL, "ALICE@example.ORG", 0, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	assert_int_equal(find("alice", "alice@example.org", 0, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	/* Both given must name the same member. */
	assert_int_equal(find("alice", "bob@example.org", 0, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find("nobody", NULL, 0, &m), STORE_NOT_FOUND);
	assert_int_equal(find(NULL, "nobody@example.org", 0, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find(NULL, NULL, 0, &m), STORE_ERROR);
	assert_int_equal(find("", "", 0, &m), STORE_ERROR);

	assert_int_equal(find("BOB", NULL, 0, &m), STORE_OK);
	assert_int_equal(m.id, bob);
	assert_true(m.has_password);
	assert_true(iso_utc(m.password_changed_at));
	assert_int_equal(find("carol", NULL, 0, &m), STORE_OK);
	assert_string_equal(m.email, "");
	assert_true(m.admin);
	assert_string_equal(m.status, "unactivated");

	/* Lock and unlock. */
	assert_int_equal(store_member_lock(st, alice, 10), STORE_OK);
	sql("UPDATE member SET failed_logins = 4");
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_true(m.locked);
	assert_true(iso_utc(m.locked_until));
	assert_int_equal(m.failed_logins, 4);
	assert_int_equal(store_member_lock(st, alice, 0), STORE_OK);
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_false(m.locked);
	assert_string_equal(m.locked_until, "");
	assert_int_equal(m.failed_logins, 0);
	assert_int_equal(store_member_lock(st, 999999, 10), STORE_NOT_FOUND);
	assert_int_equal(store_member_lock(st, alice, -1), STORE_ERROR);
	/* An expired lock is no lock. */
	sql("UPDATE member SET locked_until = now() - interval '1 minute'");
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_false(m.locked);
	assert_true(iso_utc(m.locked_until));
	assert_int_equal(store_member_lock(st, alice, 0), STORE_OK);
	assert_int_equal(store_member_lock(st, bob, 0), STORE_OK);
	assert_int_equal(store_member_lock(st, carol, 0), STORE_OK);

	/* Status. */
	assert_int_equal(store_member_set_status(st, alice, "disabled"),
			 STORE_OK);
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_string_equal(m.status, "disabled");
	assert_int_equal(store_member_set_status(st, alice, "activated"),
			 STORE_OK);
	assert_int_equal(store_member_set_status(st, alice, "bogus"),
			 STORE_ERROR);
	assert_int_equal(store_member_set_status(st, 999999, "disabled"),
			 STORE_NOT_FOUND);

	/* The PHC string. */
	assert_int_equal(store_member_password(st, bob, phc, sizeof phc),
			 STORE_OK);
	assert_string_equal(phc, PHC);
	assert_int_equal(store_member_password(st, bob, phc, 8), STORE_ERROR);
	assert_int_equal(store_member_password(st, alice, phc, sizeof phc),
			 STORE_NOT_FOUND);
	assert_int_equal(store_member_password(st, 999999, phc, sizeof phc),
			 STORE_NOT_FOUND);

	/* Audit rows. */
	assert_int_equal(
	    store_audit(st, "test-event", alice, "198.51.100.7", "detail"),
	    STORE_OK);
	assert_int_equal(store_audit(st, "test-anon", 0, NULL, NULL), STORE_OK);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "event = 'test-event' AND member_id = %lld "
				 "AND client = '198.51.100.7' "
				 "AND detail = 'detail'",
				 (long long)alice),
			 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "event = 'test-anon' AND member_id IS NULL"),
			 1);
}

/* ---- groups -----------------------------------------------------------------
 */

static void
test_groups(void **state)
{
	struct store_group g;
	struct store_member m;
	uint8_t h[STORE_HASH_LEN];
	int64_t team, other, mid;

	(void)state;
	assert_int_equal(
	    store_group_add(st, "Team-A", "The A team", "brand", &team),
	    STORE_OK);
	assert_int_equal(store_group_add(st, "team-a", NULL, NULL, &other),
			 STORE_CONFLICT);
	assert_int_equal(store_group_add(st, "bad/name", NULL, NULL, &other),
			 STORE_ERROR);
	assert_int_equal(store_group_add(st, "t", NULL, "../etc", &other),
			 STORE_ERROR);
	assert_int_equal(store_group_add(st, "others", NULL, NULL, &other),
			 STORE_OK);

	assert_int_equal(store_group_by_name(st, "TEAM-A", &g), STORE_OK);
	assert_int_equal(g.id, team);
	assert_string_equal(g.name, "Team-A");
	assert_string_equal(g.description, "The A team");
	assert_string_equal(g.template_set, "brand");
	assert_int_equal(store_group_by_id(st, other, &g), STORE_OK);
	assert_string_equal(g.name, "others");
	assert_string_equal(g.description, "");
	assert_string_equal(g.template_set, "");
	assert_int_equal(store_group_by_id(st, 999999, &g), STORE_NOT_FOUND);
	assert_int_equal(store_group_by_name(st, "nope", &g), STORE_NOT_FOUND);

	assert_int_equal(store_group_add_member(st, team, alice), STORE_OK);
	assert_int_equal(store_group_add_member(st, team, alice),
			 STORE_CONFLICT);
	assert_int_equal(store_group_add_member(st, other, bob), STORE_OK);

	/* The group filter, in each lookup form. */
	assert_int_equal(find("alice", NULL, team, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	assert_int_equal(find(NULL, "alice@example.org", team, &m), STORE_OK);
	assert_int_equal(find("ALICE", "alice@example.org", team, &m),
			 STORE_OK);
	assert_int_equal(find("bob", NULL, team, &m), STORE_NOT_FOUND);
	assert_int_equal(find(NULL, "bob@example.org", team, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find("bob", "bob@example.org", team, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find("alice", NULL, other, &m), STORE_NOT_FOUND);

	hash_of(h, 900);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &mid),
			 STORE_OK);
	assert_int_equal(store_member_by_token(st, h, 0, &m), STORE_OK);
	assert_int_equal(m.id, bob);
	assert_int_equal(store_member_by_token(st, h, other, &m), STORE_OK);
	assert_int_equal(store_member_by_token(st, h, team, &m),
			 STORE_NOT_FOUND);
}

/* ---- tokens
 * ------------------------------------------------------------------- */

static void
test_tokens(void **state)
{
	uint8_t h1[STORE_HASH_LEN], h2[STORE_HASH_LEN], h3[STORE_HASH_LEN];
	uint8_t h4[STORE_HASH_LEN], unknown[STORE_HASH_LEN];
	struct store_member m;
	int64_t mid = 0, mid2 = 0;

	(void)state;
	hash_of(h1, 1);
	hash_of(h2, 2);
	hash_of(h3, 3);
	hash_of(h4, 4);
	hash_of(unknown, 99);

	assert_int_equal(
	    store_reset_issue(st, bob, h1, 3600, &mail_reset, &mid), STORE_OK);
	assert_true(mid > 0);
	assert_int_equal(sql_int("SELECT count(*) FROM mail_outbox WHERE "
				 "id = %lld AND member_id = %lld AND "
				 "kind = 'reset-password-confirm' AND "
				 "message LIKE '%%token=SECRET%%'",
				 (long long)mid, (long long)bob),
			 1);
	assert_int_equal(store_token_valid(st, bob, h1), STORE_OK);
	assert_int_equal(store_token_valid(st, alice, h1), STORE_NOT_FOUND);
	assert_int_equal(store_token_valid(st, bob, unknown), STORE_NOT_FOUND);
	assert_int_equal(store_member_by_token(st, unknown, 0, &m),
			 STORE_NOT_FOUND);

	/* A second issue invalidates the first. */
	assert_int_equal(
	    store_reset_issue(st, bob, h2, 3600, &mail_reset, &mid2), STORE_OK);
	assert_true(mid2 > mid);
	assert_int_equal(store_token_valid(st, bob, h1), STORE_NOT_FOUND);
	assert_int_equal(store_token_valid(st, bob, h2), STORE_OK);
	/* The member of a dead token is still known. */
	assert_int_equal(store_member_by_token(st, h1, 0, &m), STORE_OK);
	assert_int_equal(m.id, bob);
	/* One hash, one token; no member, no token. */
	assert_int_equal(
	    store_reset_issue(st, bob, h2, 3600, &mail_reset, &mid),
	    STORE_CONFLICT);
	assert_int_equal(
	    store_reset_issue(st, 999999, h3, 3600, &mail_reset, &mid),
	    STORE_ERROR);
	assert_int_equal(store_reset_issue(st, bob, h3, 0, &mail_reset, &mid),
			 STORE_ERROR);

	/* Expiry, by the database's clock. */
	assert_int_equal(store_reset_issue(st, bob, h3, 1, &mail_reset, &mid),
			 STORE_OK);
	assert_int_equal(store_token_valid(st, bob, h3), STORE_OK);
	sleep_ms(2000);
	assert_int_equal(store_token_valid(st, bob, h3), STORE_NOT_FOUND);
	assert_int_equal(store_reset_complete(st, bob, h3, PHC, &mail_changed,
					      "192.0.2.1", 0, &mid),
			 STORE_NOT_FOUND);

	/* Step 2: once. */
	assert_int_equal(
	    store_reset_issue(st, bob, h4, 3600, &mail_reset, &mid), STORE_OK);
	/* Another live token of bob's (not possible through issue), a lock
	 * and failed logins: step 2 clears them all. */
	sql("INSERT INTO reset_token (member_id, token_hash, expires_at) "
	    "SELECT id, sha256('other'::bytea), now() + interval '1 hour' "
	    "FROM member WHERE username = 'bob'");
	assert_int_equal(store_member_lock(st, bob, 30), STORE_OK);
	sql("UPDATE member SET failed_logins = 3, password_hash = NULL, "
	    "password_changed_at = NULL WHERE username = 'bob'");

	assert_int_equal(store_reset_complete(st, alice, h4, PHC, &mail_changed,
					      "192.0.2.1", 0, &mid),
			 STORE_NOT_FOUND);
	assert_int_equal(store_reset_complete(st, bob, h4, PHC, &mail_changed,
					      "192.0.2.1", 0, &mid),
			 STORE_OK);
	assert_true(mid > 0);
	assert_int_equal(find("bob", NULL, 0, &m), STORE_OK);
	assert_true(m.has_password);
	assert_false(m.locked);
	assert_string_equal(m.locked_until, "");
	assert_int_equal(m.failed_logins, 0);
	assert_true(iso_utc(m.password_changed_at));
	assert_int_equal(store_token_valid(st, bob, h4), STORE_NOT_FOUND);
	assert_int_equal(sql_int("SELECT count(*) FROM reset_token WHERE "
				 "used_at IS NOT NULL AND "
				 "invalidated_at IS NULL"),
			 1);
	assert_int_equal(sql_int("SELECT count(*) FROM reset_token WHERE "
				 "token_hash = sha256('other'::bytea) AND "
				 "invalidated_at IS NOT NULL AND "
				 "used_at IS NULL"),
			 1);
	assert_int_equal(sql_int("SELECT count(*) FROM mail_outbox WHERE "
				 "id = %lld AND kind = 'change-password' "
				 "AND recipient = 'bob@example.org'",
				 (long long)mid),
			 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "event = 'password-changed' AND "
				 "member_id = %lld AND client = '192.0.2.1'",
				 (long long)bob),
			 1);
	/* No secret in the audit trail. */
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "detail LIKE '%%argon2%%' OR "
				 "client LIKE '%%argon2%%'"),
			 0);

	/* Used: never again, and nothing else changes. */
	assert_int_equal(store_reset_complete(st, bob, h4, "$argon2id$other",
					      &mail_changed, "192.0.2.1", 0,
					      &mid),
			 STORE_NOT_FOUND);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "event = 'password-changed'"),
			 1);
	assert_int_equal(sql_int("SELECT count(*) FROM member WHERE "
				 "password_hash = '$argon2id$other'"),
			 0);
}

struct complete_arg {
	int64_t member;
	uint8_t hash[STORE_HASH_LEN];
};

static int
race_complete(struct store *s, int out, void *arg)
{
	const struct complete_arg *a = arg;
	int64_t mid;

	(void)out;
	return store_reset_complete(s, a->member, a->hash, PHC, &mail_changed,
				    "192.0.2.9", 0, &mid);
}

/* Many requests with one token at once: exactly one wins. */
static void
test_complete_concurrent(void **state)
{
	struct complete_arg a = {.member = bob};
	int codes[RACERS], ok = 0, not_found = 0;
	long long mails;
	int64_t mid;

	(void)state;
	hash_of(a.hash, 5);
	assert_int_equal(
	    store_reset_issue(st, bob, a.hash, 3600, &mail_reset, &mid),
	    STORE_OK);
	mails = sql_int("SELECT count(*) FROM mail_outbox "
			"WHERE kind = 'change-password'");
	race(RACERS, race_complete, &a, -1, codes);
	for (int i = 0; i < RACERS; i++) {
		if (codes[i] == STORE_OK)
			ok++;
		else if (codes[i] == STORE_NOT_FOUND)
			not_found++;
		else
			fail_msg("racer %d: rc %d", i, codes[i]);
	}
	assert_int_equal(ok, 1);
	assert_int_equal(not_found, RACERS - 1);
	assert_int_equal(sql_int("SELECT count(*) FROM mail_outbox "
				 "WHERE kind = 'change-password'"),
			 mails + 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "event = 'password-changed' "
				 "AND client = '192.0.2.9'"),
			 1);
}

/*
 * Step 2 against a transaction that holds the member row and then wants
 * the token row step 2 has just locked: a deadlock.  PostgreSQL fails
 * step 2's statement (its deadlock_timeout fires first) and the store runs
 * it again, so the request still changes the password.
 */
static void
test_complete_deadlock(void **state)
{
	static const char phc[] = "$argon2id$v=19$m=19456,t=2,p=1$"
				  "ZGVhZGxvY2s$ZGVhZGxvY2s";
	uint8_t h[STORE_HASH_LEN];
	PGconn *holder;
	char q[256], *ci;
	int64_t mid;
	int status, go[2];
	bool held;
	pid_t pid;

	(void)state;
	hash_of(h, 11);
	assert_int_equal(
	    store_reset_issue(st, alice, h, 3600, &mail_reset, &mid), STORE_OK);

	/* Step 2 in a child that waits for the holder's lock to be taken;
	 * forked first, so it inherits nothing of the holder (valgrind
	 * would count that as lost in the child). */
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s = store_open(conninfo, 30);
		enum store_rc rc = STORE_ERROR;
		int64_t m;
		char c;

		close(go[1]);
		if (store_connect(s) == STORE_OK && read(go[0], &c, 1) == 0)
			rc = store_reset_complete(s, alice, h, phc,
						  &mail_changed, "192.0.2.10",
						  0, &m);
		store_close(s);
		_exit(rc);
	}
	close(go[0]);

	/* The holder takes the member row; only then does step 2 start. */
	ci = conninfo_named("deadlock-holder");
	holder = PQconnectdb(ci);
	free(ci);
	snprintf(q, sizeof q,
		 "UPDATE member SET firstname = firstname WHERE id = %lld",
		 (long long)alice);
	held = PQstatus(holder) == CONNECTION_OK &&
	       try_sql(holder, "SET deadlock_timeout = '60s'") &&
	       try_sql(holder, "BEGIN") && try_sql(holder, q);
	close(go[1]);
	if (!held) {
		waitpid(pid, &status, 0);
		PQfinish(holder);
		fail_msg("the holder could not lock the member row");
	}

	/* Step 2 holds the token row and waits for the member row. */
	for (int i = 0; sql_int("SELECT count(*) FROM pg_locks "
				"WHERE NOT granted") == 0;
	     i++) {
		assert_true(i < 3000);
		sleep_ms(10);
	}
	/* This wait can only end when step 2's statement is rolled back
	 * (and fails here if the holder were the victim). */
	snprintf(q, sizeof q,
		 "UPDATE reset_token SET expires_at = expires_at "
		 "WHERE member_id = %lld",
		 (long long)alice);
	sql_on(holder, q);
	sql_on(holder, "ROLLBACK");
	PQfinish(holder);

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), STORE_OK);
	assert_int_equal(sql_int("SELECT count(*) FROM member WHERE id = %lld "
				 "AND password_hash = '%s'",
				 (long long)alice, phc),
			 1);
}

/* ---- admin tokens
 * ------------------------------------------------------------- */

static void
test_admin_tokens(void **state)
{
	uint8_t h[STORE_HASH_LEN], hb[STORE_HASH_LEN];
	struct store_member m;
	int count = -1;

	(void)state;
	hash_of(h, 20);
	hash_of(hb, 21);
	assert_int_equal(store_admin_token_add(st, carol, h), STORE_OK);
	assert_int_equal(store_admin_token_add(st, carol, h), STORE_CONFLICT);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_OK);
	assert_int_equal(m.id, carol);
	assert_true(m.admin);

	/* A token of a member who is not an admin is no admin token. */
	assert_int_equal(store_admin_token_add(st, bob, hb), STORE_OK);
	assert_int_equal(store_admin_by_token(st, hb, &m), STORE_NOT_FOUND);

	/* Nor is a disabled admin's. */
	assert_int_equal(store_member_set_status(st, carol, "disabled"),
			 STORE_OK);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_NOT_FOUND);
	assert_int_equal(store_member_set_status(st, carol, "unactivated"),
			 STORE_OK);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_OK);

	assert_int_equal(store_admin_token_revoke(st, carol, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_NOT_FOUND);
	assert_int_equal(store_admin_token_revoke(st, carol, &count), STORE_OK);
	assert_int_equal(count, 0);
	hash_of(h, 22);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_NOT_FOUND);
}

/* ---- rate limits
 * -------------------------------------------------------------- */

static void
test_ratelimit(void **state)
{
	uint8_t k1[STORE_HASH_LEN], k2[STORE_HASH_LEN], k3[STORE_HASH_LEN];
	int64_t n = -1;

	(void)state;
	hash_of(k1, 30);
	hash_of(k2, 31);
	hash_of(k3, 32);
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 3, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_ratelimit_hit(st, k2, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 1, &n), STORE_ERROR);
	/* weight 0 reads the count without adding to it */
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 0, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_ratelimit_hit(st, k1, 60, -1, &n), STORE_ERROR);
	/* A new window starts from zero. */
	assert_int_equal(store_ratelimit_hit(st, k3, 1, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	sleep_ms(1100);
	assert_int_equal(store_ratelimit_hit(st, k3, 1, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	/* Windows are aligned on the epoch and end window_s later. */
	assert_int_equal(sql_int("SELECT count(*) FROM rate_limit WHERE "
				 "extract(epoch FROM window_start)::bigint "
				 "%% 3600 <> 0 AND hits = 5"),
			 0);
	assert_int_equal(sql_int("SELECT count(*) FROM rate_limit WHERE "
				 "window_end - window_start <> "
				 "interval '1 hour' AND hits = 5"),
			 0);
}

/* ---- the outbox
 * ---------------------------------------------------------------- */

struct listed {
	int64_t id;
	struct store_outbox_row row;
	int rows;
};

static void
list_cb(const struct store_outbox_row *row, void *arg)
{
	struct listed *l = arg;

	l->rows++;
	if (row->id == l->id)
		l->row = *row;
}

static void
drain_outbox(void)
{
	struct store_outbox_job job;

	while (store_mail_claim(st, 0, 60, &job) == STORE_OK) {
		assert_int_equal(store_mail_sent(st, job.id), STORE_OK);
		store_outbox_job_clear(&job);
	}
}

static void
test_outbox(void **state)
{
	struct store_outbox_job job;
	struct listed l;
	uint8_t h[STORE_HASH_LEN];
	int64_t m1, m2;
	int count = -1;

	(void)state;
	drain_outbox();
	hash_of(h, 40);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m1),
			 STORE_OK);

	/* Claim that row: leased, attempt counted, message handed over. */
	assert_int_equal(store_mail_claim(st, m1, 60, &job), STORE_OK);
	assert_int_equal(job.id, m1);
	assert_int_equal(job.attempts, 1);
	assert_string_equal(job.recipient, "bob@example.org");
	assert_string_equal(job.message, mail_reset.message);
	store_outbox_job_clear(&job);
	assert_null(job.message);
	store_outbox_job_clear(&job); /* twice is fine */
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_NOT_FOUND);
	assert_int_equal(store_mail_claim(st, m1, 60, &job), STORE_NOT_FOUND);
	assert_int_equal(store_mail_claim(st, 0, 0, &job), STORE_ERROR);

	/* A transient failure: due again after retry_s. */
	assert_int_equal(
	    store_mail_failed(st, m1, "451 4.3.0 try later\r\n", false, 3600),
	    STORE_OK);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_NOT_FOUND);
	assert_int_equal(store_mail_failed(st, m1, "451 again", false, 0),
			 STORE_OK);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m1);
	assert_int_equal(job.attempts, 2);
	store_outbox_job_clear(&job);

	/* A lease that ran out (a mailer died): the row is due again. */
	sql("UPDATE mail_outbox SET claimed_until = now() - interval '1 s'");
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m1);
	assert_int_equal(job.attempts, 3);
	store_outbox_job_clear(&job);

	/* Permanent: failed, never claimed again; the text is kept so that
	 * mail retry can send it again. */
	assert_int_equal(
	    store_mail_failed(st, m1, "550 5.1.1 no such\x01user", true, 0),
	    STORE_OK);
	assert_int_equal(sql_int("SELECT count(*) FROM mail_outbox WHERE "
				 "id = %lld AND message IS NOT NULL AND "
				 "failed_at IS NOT NULL",
				 (long long)m1),
			 1);
	assert_int_equal(store_mail_claim(st, m1, 60, &job), STORE_NOT_FOUND);
	assert_int_equal(store_mail_failed(st, m1, "x", true, 0),
			 STORE_NOT_FOUND);
	assert_int_equal(store_mail_failed(st, 999999, "x", false, 10),
			 STORE_NOT_FOUND);

	l = (struct listed){.id = m1};
	assert_int_equal(store_mail_list(st, true, list_cb, &l), STORE_OK);
	assert_int_equal(l.rows, 1);
	assert_int_equal(l.row.id, m1);
	assert_string_equal(l.row.state, "failed");
	assert_string_equal(l.row.kind, "reset-password-confirm");
	assert_string_equal(l.row.recipient, "bob@example.org");
	assert_string_equal(l.row.subject, "Update your password");
	assert_string_equal(l.row.last_error, "550 5.1.1 no such user");
	assert_int_equal(l.row.attempts, 3);
	assert_true(iso_utc(l.row.created_at));
	assert_true(iso_utc(l.row.next_attempt_at));
	assert_string_equal(l.row.sent_at, "");

	/* Retry makes it pending again with its attempts reset. */
	assert_int_equal(store_mail_retry(st, m1, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m1);
	assert_int_equal(job.attempts, 1);
	store_outbox_job_clear(&job);
	assert_int_equal(store_mail_sent(st, m1), STORE_OK);
	/* A row whose text is gone (sent) is never made pending again. */
	assert_int_equal(store_mail_retry(st, m1, &count), STORE_OK);
	assert_int_equal(count, 0);
	/* A failed row that kept its message is made pending again. */
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m2),
			 STORE_CONFLICT);
	hash_of(h, 41);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m2),
			 STORE_OK);
	sql("UPDATE mail_outbox SET failed_at = now(), attempts = 8 "
	    "WHERE failed_at IS NULL AND sent_at IS NULL");
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_NOT_FOUND);
	assert_int_equal(store_mail_retry(st, 0, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m2);
	assert_int_equal(job.attempts, 1);
	store_outbox_job_clear(&job);

	/* Sent: message wiped, only once. */
	assert_int_equal(store_mail_sent(st, m2), STORE_OK);
	assert_int_equal(store_mail_sent(st, m2), STORE_NOT_FOUND);
	assert_int_equal(sql_int("SELECT count(*) FROM mail_outbox WHERE "
				 "id = %lld AND message IS NULL AND "
				 "sent_at IS NOT NULL",
				 (long long)m2),
			 1);
	/* More rows than one page of the listing. */
	sql("INSERT INTO mail_outbox (kind, recipient, subject, sent_at) "
	    "SELECT 'change-password', 'x@example.org', 's', now() "
	    "FROM generate_series(1, 1100)");
	l = (struct listed){.id = m2};
	assert_int_equal(store_mail_list(st, false, list_cb, &l), STORE_OK);
	assert_true(l.rows > 1100);
	assert_int_equal(l.rows, sql_int("SELECT count(*) FROM mail_outbox"));
	assert_string_equal(l.row.state, "sent");
	assert_true(iso_utc(l.row.sent_at));
}

/* A raw transaction holding one pending row: SKIP LOCKED passes it by. */
static void
test_claim_skip_locked(void **state)
{
	struct store_outbox_job job;
	uint8_t h[STORE_HASH_LEN];
	int64_t m1, m2;
	char q[128];

	(void)state;
	drain_outbox();
	hash_of(h, 50);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m1),
			 STORE_OK);
	hash_of(h, 51);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m2),
			 STORE_OK);
	sql("BEGIN");
	snprintf(q, sizeof q,
		 "SELECT 1 FROM mail_outbox WHERE id = %lld FOR UPDATE",
		 (long long)m1);
	sql(q);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m2);
	store_outbox_job_clear(&job);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_NOT_FOUND);
	sql("ROLLBACK");
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m1);
	store_outbox_job_clear(&job);
	assert_int_equal(store_mail_sent(st, m1), STORE_OK);
	assert_int_equal(store_mail_sent(st, m2), STORE_OK);
}

static int
race_claim(struct store *s, int out, void *arg)
{
	struct store_outbox_job job;
	enum store_rc rc;

	(void)arg;
	while ((rc = store_mail_claim(s, 0, 60, &job)) == STORE_OK) {
		if (write(out, &job.id, sizeof job.id) != sizeof job.id)
			return 1;
		store_outbox_job_clear(&job);
	}
	return rc == STORE_NOT_FOUND ? 0 : 2;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Several mailers draining one queue: every row claimed exactly once. */
static void
test_claim_concurrent(void **state)
{
	int64_t ids[CLAIM_ROWS + 8];
	int codes[CLAIMERS], fd[2];
	size_t got = 0;
	ssize_t n;

	(void)state;
	drain_outbox();
	sql("INSERT INTO mail_outbox (kind, recipient, subject, message) "
	    "SELECT 'change-password', 'x@example.org', 's', 'm' "
	    "FROM generate_series(1, 40)");
	assert_int_equal(pipe(fd), 0);
	race(CLAIMERS, race_claim, NULL, fd[1], codes);
	close(fd[1]);
	while ((n = read(fd[0], (char *)ids + got, sizeof ids - got)) > 0)
		got += (size_t)n;
	close(fd[0]);
	for (int i = 0; i < CLAIMERS; i++)
		assert_int_equal(codes[i], 0);
	assert_int_equal(got, CLAIM_ROWS * sizeof ids[0]);
	qsort(ids, CLAIM_ROWS, sizeof ids[0], cmp_id);
	for (int i = 1; i < CLAIM_ROWS; i++)
		assert_true(ids[i] != ids[i - 1]);
	assert_int_equal(sql_int("SELECT count(*) FROM mail_outbox WHERE "
				 "claimed_until > now() AND attempts = 1 "
				 "AND sent_at IS NULL"),
			 CLAIM_ROWS);
	sql("UPDATE mail_outbox SET sent_at = now(), message = NULL "
	    "WHERE sent_at IS NULL");
}

/* Two stores claiming in turn: a leased row is not handed out twice. */
static void
test_claim_two_stores(void **state)
{
	struct store *other = store_open(conninfo, 5);
	struct store_outbox_job a, b;
	uint8_t h[STORE_HASH_LEN];
	int64_t m;

	(void)state;
	hash_of(h, 60);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m),
			 STORE_OK);
	assert_int_equal(store_mail_claim(st, 0, 60, &a), STORE_OK);
	assert_int_equal(a.id, m);
	assert_int_equal(store_mail_claim(other, 0, 60, &b), STORE_NOT_FOUND);
	assert_int_equal(store_mail_claim(other, m, 60, &b), STORE_NOT_FOUND);
	assert_int_equal(store_mail_sent(st, a.id), STORE_OK);
	store_outbox_job_clear(&a);
	store_close(other);
}

static void
test_listen(void **state)
{
	char *name = conninfo_named("pwreset-test-listen");
	struct store *l = store_open(name, 5);
	uint8_t h[STORE_HASH_LEN];
	int64_t t0, m;

	(void)state;
	assert_int_equal(store_mail_listen(l), STORE_OK);
	t0 = mono_ms();
	assert_int_equal(store_mail_wait(l, 300), STORE_OK);
	assert_true(mono_ms() - t0 >= 250);

	hash_of(h, 70);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m),
			 STORE_OK);
	t0 = mono_ms();
	assert_int_equal(store_mail_wait(l, 10000), STORE_OK);
	assert_true(mono_ms() - t0 < 2000);

	/* After losing its connection the store LISTENs again. */
	terminate(raw, "pwreset-test-listen");
	assert_int_equal(store_mail_wait(l, 100), STORE_OK);
	hash_of(h, 71);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m),
			 STORE_OK);
	t0 = mono_ms();
	assert_int_equal(store_mail_wait(l, 10000), STORE_OK);
	assert_true(mono_ms() - t0 < 2000);
	drain_outbox();
	store_close(l);
	free(name);
}

/* ---- housekeeping
 * --------------------------------------------------------------- */

static void
test_purge(void **state)
{
	int64_t tokens = -1, mails = -1, limits = -1;
	long long want_t, want_m, want_r, live;

	(void)state;
	sql("INSERT INTO reset_token (member_id, token_hash, issued_at, "
	    "expires_at) SELECT id, sha256('old1'::bytea), "
	    "now() - interval '3 days', now() - interval '2 days' "
	    "FROM member WHERE username = 'bob'");
	sql("INSERT INTO reset_token (member_id, token_hash, expires_at, "
	    "used_at) SELECT id, sha256('old2'::bytea), "
	    "now() + interval '1 hour', now() - interval '25 hours' "
	    "FROM member WHERE username = 'bob'");
	sql("INSERT INTO mail_outbox (kind, recipient, subject, sent_at) "
	    "VALUES ('change-password', 'x@example.org', 's', "
	    "now() - interval '8 days')");
	sql("INSERT INTO rate_limit (key, window_start, window_end, hits) "
	    "VALUES (sha256('k'::bytea), now() - interval '3 days', "
	    "now() - interval '2 days', 1)");
	want_t = sql_int("SELECT count(*) FROM reset_token WHERE "
			 "expires_at < now() - interval '1 day' OR "
			 "used_at < now() - interval '1 day' OR "
			 "invalidated_at < now() - interval '1 day'");
	want_m = sql_int("SELECT count(*) FROM mail_outbox WHERE "
			 "sent_at < now() - interval '7 days'");
	want_r = sql_int("SELECT count(*) FROM rate_limit WHERE "
			 "window_end < now() - interval '1 day'");
	live = sql_int("SELECT count(*) FROM reset_token");
	assert_true(want_t >= 2);
	assert_int_equal(want_m, 1);
	assert_int_equal(want_r, 1);

	assert_int_equal(store_purge(st, &tokens, &mails, &limits), STORE_OK);
	assert_int_equal(tokens, want_t);
	assert_int_equal(mails, want_m);
	assert_int_equal(limits, want_r);
	/* Recent rows stay. */
	assert_int_equal(sql_int("SELECT count(*) FROM reset_token"),
			 live - want_t);
	assert_true(live - want_t > 0);
	assert_true(sql_int("SELECT count(*) FROM rate_limit") > 0);
	assert_true(sql_int("SELECT count(*) FROM mail_outbox") > 0);
	assert_int_equal(store_purge(st, &tokens, &mails, &limits), STORE_OK);
	assert_int_equal(tokens + mails + limits, 0);
}

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

/* ---- main
 * ---------------------------------------------------------------------------
 */

static int
setup(void **state)
{
	(void)state;
	raw = PQconnectdb(conninfo);
	if (PQstatus(raw) != CONNECTION_OK) {
		fprintf(stderr, "PWRESET_TEST_PG: %s", PQerrorMessage(raw));
		return -1;
	}
	PQclear(PQexec(raw, "SET client_min_messages = warning"));
	st = store_open(conninfo, 10);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_close(st);
	PQfinish(raw);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrate),
	    cmocka_unit_test(test_migrate_concurrent),
	    cmocka_unit_test(test_members),
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_complete_concurrent),
	    cmocka_unit_test(test_complete_deadlock),
	    cmocka_unit_test(test_admin_tokens),
	    cmocka_unit_test(test_ratelimit),
	    cmocka_unit_test(test_outbox),
	    cmocka_unit_test(test_claim_skip_locked),
	    cmocka_unit_test(test_claim_concurrent),
	    cmocka_unit_test(test_claim_two_stores),
	    cmocka_unit_test(test_listen),
	    cmocka_unit_test(test_purge),
	    cmocka_unit_test(test_unavailable),
	    cmocka_unit_test(test_reconnect_idle),
	    cmocka_unit_test(test_reconnect_busy),
	    cmocka_unit_test(test_timeout),
	};

	conninfo = getenv("PWRESET_TEST_PG");
	if (conninfo == NULL || *conninfo == '\0') {
		printf("PWRESET_TEST_PG is not set: skipped (it needs the "
		       "conninfo of an empty throwaway database)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
