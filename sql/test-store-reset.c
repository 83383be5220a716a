/*
 * test-store-reset.c — the two steps of a reset against a real PostgreSQL
 * (see teststore.h): tokens issued, checked and consumed, alone, in a
 * race and against a deadlock.
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

#define RACERS 20 /* concurrent reset_complete calls on one token */

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
	/* The live row was replaced: the old hash names nobody now, and
	 * bob has one live token (SPEC §4 "One live token"). */
	assert_int_equal(store_member_by_token(st, h1, 0, &m), STORE_NOT_FOUND);
	assert_int_equal(store_member_by_live_token(st, h2, 0, &m), STORE_OK);
	assert_int_equal(m.id, bob);
	assert_int_equal(store_member_by_live_token(st, h2, 999999, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(sql_int("SELECT count(*) FROM reset_token WHERE "
				 "member_id = %lld AND used_at IS NULL AND "
				 "invalidated_at IS NULL",
				 (long long)bob),
			 1);
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
	assert_int_equal(store_member_by_live_token(st, h3, 0, &m),
			 STORE_NOT_FOUND);

	/* Step 2: once. */
	assert_int_equal(
	    store_reset_issue(st, bob, h4, 3600, &mail_reset, &mid), STORE_OK);
	/* The expired row h3 was replaced as well, and the database
	 * refuses a second live token whoever writes it. */
	assert_int_equal(sql_int("SELECT count(*) FROM reset_token WHERE "
				 "member_id = %lld AND used_at IS NULL AND "
				 "invalidated_at IS NULL",
				 (long long)bob),
			 1);
	assert_false(try_sql(raw, "INSERT INTO reset_token (member_id, "
				  "token_hash, expires_at) SELECT id, "
				  "sha256('other'::bytea), now() + "
				  "interval '1 hour' FROM member WHERE "
				  "username = 'bob'"));
	/* A lock and failed logins: step 2 clears them. */
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

static int
race_issue(struct store *s, int out, void *arg)
{
	const int64_t *member = arg;
	uint8_t h[STORE_HASH_LEN];
	int64_t mid;

	(void)out;
	/* Distinct from every other racer's (hash_of() repeats mod 256). */
	pid_t pid = getpid();

	memset(h, 0xa5, sizeof h);
	memcpy(h, &pid, sizeof pid);
	return store_reset_issue(s, *member, h, 3600, &mail_reset, &mid);
}

/* Many step 1s for one member at once leave exactly one live token
 * (SPEC §4 "One live token"), every one of them succeeding. */
static void
test_issue_concurrent(void **state)
{
	int codes[RACERS];

	(void)state;
	for (int round = 0; round < 5; round++) {
		race(RACERS, race_issue, &alice, -1, codes);
		for (int i = 0; i < RACERS; i++)
			if (codes[i] != STORE_OK)
				fail_msg("round %d racer %d: rc %d", round, i,
					 codes[i]);
		assert_int_equal(sql_int("SELECT count(*) FROM reset_token "
					 "WHERE member_id = %lld AND "
					 "used_at IS NULL AND "
					 "invalidated_at IS NULL AND "
					 "expires_at > now()",
					 (long long)alice),
				 1);
	}
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_issue_concurrent),
	    cmocka_unit_test(test_complete_concurrent),
	    cmocka_unit_test(test_complete_deadlock),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup_members,
				      teststore_teardown);
}
