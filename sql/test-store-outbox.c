/*
 * test-store-outbox.c — the mail outbox against a real PostgreSQL (see
 * teststore.h): claims, alone and concurrent, marks, list, retry,
 * LISTEN, and the purge.
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

#define CLAIMERS   4
#define CLAIM_ROWS 40

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

	/* Permanent: failed, never claimed again; the text is wiped like a
	 * sent one's (SPEC §8), so mail retry cannot send it again. */
	assert_int_equal(
	    store_mail_failed(st, m1, "550 5.1.1 no such\x01user", true, 0),
	    STORE_OK);
	assert_int_equal(sql_int("SELECT count(*) FROM mail_outbox WHERE "
				 "id = %lld AND message IS NULL AND "
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

	/* Its text is gone: never made pending again. */
	assert_int_equal(store_mail_retry(st, m1, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(store_mail_retry(st, 0, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_NOT_FOUND);
	/* A failed row that kept its message (marked failed by hand here;
	 * an unconfirmed one in service) is made pending again. */
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
	int64_t tokens = -1, mails = -1, limits = -1, hits;
	long long want_t, want_m, want_r, live;
	uint8_t k[STORE_HASH_LEN];

	(void)state;
	/* Recent rows that must stay: the tests above left tokens and mail;
	 * a rate-limit window of this hour (test_ratelimit's, when all of
	 * the store's tests were one program). */
	hash_of(k, 80);
	assert_int_equal(store_ratelimit_hit(st, k, 0, 3600, 1, &hits),
			 STORE_OK);
	sql("INSERT INTO reset_token (member_id, token_hash, issued_at, "
	    "expires_at, invalidated_at) SELECT id, sha256('old1'::bytea), "
	    "now() - interval '3 days', now() - interval '2 days', "
	    "now() - interval '2 days' "
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

/* Handed over with no reply (issue 17): never claimed again by itself,
 * listed among the failed, kept for an operator's retry. */
static void
test_unconfirmed(void **state)
{
	struct store_outbox_job job;
	struct listed l;
	uint8_t h[STORE_HASH_LEN];
	int64_t m;
	int count;

	(void)state;
	drain_outbox();
	hash_of(h, 80);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &m),
			 STORE_OK);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m);
	store_outbox_job_clear(&job);
	assert_int_equal(store_mail_unconfirmed(st, m, "no reply\r\n"),
			 STORE_OK);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_NOT_FOUND);
	assert_int_equal(store_mail_claim(st, m, 60, &job), STORE_NOT_FOUND);
	assert_int_equal(
	    sql_int("SELECT count(*) FROM mail_outbox WHERE "
		    "id = %lld AND message IS NOT NULL AND "
		    "unconfirmed_at IS NOT NULL AND sent_at IS NULL",
		    (long long)m),
	    1);
	l = (struct listed){.id = m};
	assert_int_equal(store_mail_list(st, true, list_cb, &l), STORE_OK);
	assert_int_equal(l.row.id, m);
	assert_string_equal(l.row.state, "unconfirmed");

	/* The operator's retry makes it pending again, attempts reset. */
	assert_int_equal(store_mail_retry(st, m, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_mail_claim(st, 0, 60, &job), STORE_OK);
	assert_int_equal(job.id, m);
	assert_int_equal(job.attempts, 1);
	store_outbox_job_clear(&job);
	assert_int_equal(store_mail_sent(st, m), STORE_OK);
	assert_int_equal(store_mail_unconfirmed(st, m, "late"),
			 STORE_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outbox),
	    cmocka_unit_test(test_claim_skip_locked),
	    cmocka_unit_test(test_claim_concurrent),
	    cmocka_unit_test(test_claim_two_stores),
	    cmocka_unit_test(test_listen),
	    cmocka_unit_test(test_purge),
	    cmocka_unit_test(test_unconfirmed),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup_members,
				      teststore_teardown);
}
