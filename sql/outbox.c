/*
 * outbox.c — the mail outbox: the mailers' claim, sent and failed marks,
 * pwreset-ctl's list and retry, LISTEN/NOTIFY for new rows, and the purge
 * of old tokens, mail and rate-limit windows.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/store_impl.h"

#define STORE_LIST_PAGE	 "500" /* outbox rows per round trip */
#define STORE_REASON_MAX 500   /* bytes of an SMTP reply kept */

#define OUTBOX_COLS                                                            \
	"id, kind, recipient, subject, "                                       \
	"CASE WHEN sent_at IS NOT NULL THEN 'sent' "                           \
	"WHEN failed_at IS NOT NULL THEN 'failed' "                            \
	"WHEN unconfirmed_at IS NOT NULL THEN 'unconfirmed' "                  \
	"ELSE 'pending' END, "                                                 \
	"attempts, " ISO("created_at") ", " ISO("next_attempt_at") ", " ISO(   \
	    "sent_at") ", coalesce(last_error, '')"

/*
 * The mailer's claim: the inner SELECT picks the first due row nobody holds
 * (SKIP LOCKED: a row another mailer is claiming right now is passed over,
 * and FOR UPDATE re-checks the lease on the newest row version, so a row
 * just claimed and committed by another mailer is not taken again).
 */
#define CLAIM_SQL(extra)                                                       \
	"UPDATE mail_outbox SET claimed_until = now() + "                      \
	"make_interval(secs => $1::int), attempts = attempts + 1 "             \
	"WHERE id = (SELECT id FROM mail_outbox "                              \
	"WHERE sent_at IS NULL AND failed_at IS NULL "                         \
	"AND unconfirmed_at IS NULL "                                          \
	"AND message IS NOT NULL AND next_attempt_at <= now() "                \
	"AND (claimed_until IS NULL OR claimed_until < now())" extra           \
	" ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "       \
	"RETURNING id, attempts, recipient, message, kind"

enum outbox_stmt {
	STMT_MAIL_LIST,
	STMT_MAIL_LIST_FAILED,
	STMT_MAIL_RETRY,
	STMT_MAIL_RETRY_ALL,
	STMT_MAIL_CLAIM,
	STMT_MAIL_CLAIM_ID,
	STMT_MAIL_SENT,
	STMT_MAIL_RESCHEDULE,
	STMT_MAIL_FAIL,
	STMT_MAIL_UNCONFIRMED,
	STMT_PURGE,
	OUTBOX_STMT__MAX
};

static const struct stmt_def stmts[] = {
    /* Keyset pages: a big outbox never sits in memory at once. */
    [STMT_MAIL_LIST] = {"mail_list", 1,
			"SELECT " OUTBOX_COLS " FROM mail_outbox "
			"WHERE id > $1::bigint "
			"ORDER BY id LIMIT " STORE_LIST_PAGE},
    [STMT_MAIL_LIST_FAILED] = {"mail_list_failed", 1,
			       "SELECT " OUTBOX_COLS " FROM mail_outbox "
			       "WHERE id > $1::bigint "
			       "AND (failed_at IS NOT NULL "
			       "OR unconfirmed_at IS NOT NULL) "
			       "ORDER BY id LIMIT " STORE_LIST_PAGE},
    /* Only a row that still has its message can be sent again: an
     * unconfirmed one (a failed one's text is wiped). */
    [STMT_MAIL_RETRY] = {"mail_retry", 1,
			 "UPDATE mail_outbox SET failed_at = NULL, "
			 "unconfirmed_at = NULL, "
			 "attempts = 0, next_attempt_at = now(), "
			 "claimed_until = NULL "
			 "WHERE id = $1::bigint AND sent_at IS NULL "
			 "AND (failed_at IS NOT NULL "
			 "OR unconfirmed_at IS NOT NULL) "
			 "AND message IS NOT NULL"},
    [STMT_MAIL_RETRY_ALL] = {"mail_retry_all", 0,
			     "UPDATE mail_outbox SET failed_at = NULL, "
			     "unconfirmed_at = NULL, "
			     "attempts = 0, next_attempt_at = now(), "
			     "claimed_until = NULL "
			     "WHERE sent_at IS NULL AND (failed_at IS NOT NULL "
			     "OR unconfirmed_at IS NOT NULL) "
			     "AND message IS NOT NULL"},
    [STMT_MAIL_CLAIM] = {"mail_claim", 1, CLAIM_SQL("")},
    [STMT_MAIL_CLAIM_ID] = {"mail_claim_id", 2,
			    CLAIM_SQL(" AND id = $2::bigint")},
    [STMT_MAIL_SENT] = {"mail_sent", 1,
			"UPDATE mail_outbox SET sent_at = now(), "
			"message = NULL, claimed_until = NULL "
			"WHERE id = $1::bigint AND sent_at IS NULL"},
    [STMT_MAIL_RESCHEDULE] = {"mail_reschedule", 3,
			      "UPDATE mail_outbox SET next_attempt_at = "
			      "now() + make_interval(secs => $3::int), "
			      "claimed_until = NULL, last_error = $2::text "
			      "WHERE id = $1::bigint AND sent_at IS NULL "
			      "AND failed_at IS NULL"},
    [STMT_MAIL_UNCONFIRMED] = {"mail_unconfirmed", 2,
			       "UPDATE mail_outbox SET unconfirmed_at = now(), "
			       "claimed_until = NULL, last_error = $2::text "
			       "WHERE id = $1::bigint AND sent_at IS NULL "
			       "AND failed_at IS NULL"},
    [STMT_MAIL_FAIL] = {"mail_fail", 2,
			"UPDATE mail_outbox SET failed_at = now(), "
			"message = NULL, "
			"claimed_until = NULL, last_error = $2::text "
			"WHERE id = $1::bigint AND sent_at IS NULL "
			"AND failed_at IS NULL"},
    [STMT_PURGE] = {"purge", 0,
		    "WITH t AS (DELETE FROM reset_token "
		    "WHERE expires_at < now() - interval '1 day' "
		    "OR used_at < now() - interval '1 day' "
		    "OR invalidated_at < now() - interval '1 day' "
		    "RETURNING 1), "
		    "m AS (DELETE FROM mail_outbox "
		    "WHERE sent_at < now() - interval '7 days' "
		    "OR failed_at < now() - interval '7 days' "
		    "OR unconfirmed_at < now() - interval '7 days' "
		    "RETURNING 1), "
		    "r AS (DELETE FROM rate_limit "
		    "WHERE window_end < now() - interval '1 day' "
		    "RETURNING 1) "
		    "SELECT (SELECT count(*) FROM t), "
		    "(SELECT count(*) FROM m), (SELECT count(*) FROM r)"},
};
_Static_assert(sizeof stmts / sizeof stmts[0] == OUTBOX_STMT__MAX,
	       "stmts[] and enum outbox_stmt out of step");
_Static_assert(OUTBOX_STMT__MAX <= STORE_PART_MAX, "raise STORE_PART_MAX");

const struct store_part store_part_outbox = {PART_OUTBOX, stmts,
					     OUTBOX_STMT__MAX};

enum store_rc
store_mail_list(struct store *st, bool failed_only, store_outbox_cb *cb,
		void *arg)
{
	int s = failed_only ? STMT_MAIL_LIST_FAILED : STMT_MAIL_LIST;
	int64_t after = 0;

	for (;;) {
		struct params p = {0};
		PGresult *res;
		enum store_rc rc;
		int rows;

		param_int(&p, after);
		rc = store_exec(st, PART_OUTBOX, s, &p, &res);
		if (rc != STORE_OK)
			return rc;
		rows = PQntuples(res);
		for (int i = 0; i < rows; i++) {
			struct store_outbox_row row = {0};

			if (!get_int64(res, i, 0, &row.id) ||
			    !get_int(res, i, 5, &row.attempts)) {
				PQclear(res);
				return store_bad_value(st, PART_OUTBOX, s);
			}
			copy_text(row.kind, sizeof row.kind,
				  get_text(res, i, 1));
			copy_text(row.recipient, sizeof row.recipient,
				  get_text(res, i, 2));
			copy_text(row.subject, sizeof row.subject,
				  get_text(res, i, 3));
			copy_text(row.state, sizeof row.state,
				  get_text(res, i, 4));
			copy_text(row.created_at, sizeof row.created_at,
				  get_text(res, i, 6));
			copy_text(row.next_attempt_at,
				  sizeof row.next_attempt_at,
				  get_text(res, i, 7));
			copy_text(row.sent_at, sizeof row.sent_at,
				  get_text(res, i, 8));
			copy_text(row.last_error, sizeof row.last_error,
				  get_text(res, i, 9));
			after = row.id;
			cb(&row, arg);
		}
		PQclear(res);
		if (rows == 0)
			return STORE_OK;
	}
}

enum store_rc
store_mail_retry(struct store *st, int64_t id, int *count)
{
	struct params p = {0};
	int64_t n = 0;
	enum store_rc rc;

	if (id > 0) {
		param_int(&p, id);
		rc = store_change(st, PART_OUTBOX, STMT_MAIL_RETRY, &p, &n);
	} else {
		rc = store_change(st, PART_OUTBOX, STMT_MAIL_RETRY_ALL, &p, &n);
	}
	*count = clamp_int(n, 0, INT_MAX);
	return rc;
}

void
store_outbox_job_clear(struct store_outbox_job *job)
{
	if (job == NULL)
		return;
	if (job->message != NULL) {
		explicit_bzero(job->message, strlen(job->message));
		free(job->message);
	}
	memset(job, 0, sizeof *job);
}

enum store_rc
store_mail_claim(struct store *st, int64_t id, int lease_s,
		 struct store_outbox_job *job)
{
	int s = id > 0 ? STMT_MAIL_CLAIM_ID : STMT_MAIL_CLAIM;
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	memset(job, 0, sizeof *job);
	if (lease_s <= 0) {
		store_set_err(st, "store_mail_claim: lease must be positive");
		return STORE_ERROR;
	}
	param_int(&p, lease_s);
	if (id > 0)
		param_int(&p, id);
	rc = store_one(st, PART_OUTBOX, s, &p, &res);
	if (rc != STORE_OK)
		return rc;
	if (!get_int64(res, 0, 0, &job->id) ||
	    !get_int(res, 0, 1, &job->attempts)) {
		rc = store_bad_value(st, PART_OUTBOX, s);
	} else {
		char *msg = PQgetvalue(res, 0, 3);

		copy_text(job->recipient, sizeof job->recipient,
			  get_text(res, 0, 2));
		copy_text(job->kind, sizeof job->kind, get_text(res, 0, 4));
		job->message = store_xstrdup(msg);
		/* The message may hold a token: do not leave it in the
		 * freed result. */
		explicit_bzero(msg, strlen(msg));
	}
	PQclear(res);
	if (rc != STORE_OK)
		store_outbox_job_clear(job);
	return rc;
}

enum store_rc
store_mail_sent(struct store *st, int64_t id)
{
	struct params p = {0};

	param_int(&p, id);
	return store_change(st, PART_OUTBOX, STMT_MAIL_SENT, &p, NULL);
}

/* An SMTP reply is not ours: keep printable ASCII only, bounded, so it is
 * always valid text for the database and safe on a terminal. */
static void
clean_reason(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; src != NULL && *src != '\0' && n + 1 < len; src++) {
		unsigned char c = (unsigned char)*src;

		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	dst[n] = '\0';
}

enum store_rc
store_mail_failed(struct store *st, int64_t id, const char *reason,
		  bool permanent, int retry_s)
{
	struct params p = {0};
	char why[STORE_REASON_MAX + 1];

	clean_reason(why, sizeof why, reason);
	param_int(&p, id);
	param_text(&p, why);
	if (permanent)
		return store_change(st, PART_OUTBOX, STMT_MAIL_FAIL, &p, NULL);
	param_int(&p, retry_s > 0 ? retry_s : 0);
	return store_change(st, PART_OUTBOX, STMT_MAIL_RESCHEDULE, &p, NULL);
}

enum store_rc
store_mail_unconfirmed(struct store *st, int64_t id, const char *reason)
{
	struct params p = {0};
	char why[STORE_REASON_MAX + 1];

	clean_reason(why, sizeof why, reason);
	param_int(&p, id);
	param_text(&p, why);
	return store_change(st, PART_OUTBOX, STMT_MAIL_UNCONFIRMED, &p, NULL);
}

enum store_rc
store_mail_listen(struct store *st)
{
	return store_listen(st); /* made again on every new connection */
}

/* Free the queued notifications; true when there was one. */
static bool
drain_notifies(PGconn *conn)
{
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(conn)) != NULL) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

enum store_rc
store_mail_wait(struct store *st, int timeout_ms)
{
	struct pollfd pfd;
	enum store_rc rc;
	int n;

	if (timeout_ms < 0)
		timeout_ms = 0;
	rc = store_ready(st);
	if (rc != STORE_OK) {
		/* No busy loop in a mailer while the database is away. */
		poll(NULL, 0, timeout_ms);
		return rc;
	}
	/* Notifications read while other statements ran wait in libpq. */
	if (drain_notifies(st->conn))
		return STORE_OK;
	pfd = (struct pollfd){PQsocket(st->conn), POLLIN, 0};
	n = poll(&pfd, 1, timeout_ms);
	if (n > 0) {
		if (!store_idle_input(st)) {
			store_set_err(st, "waiting for mail: %s",
				      st->doomed
					  ? "the server closed the connection"
					  : PQerrorMessage(st->conn));
			store_drop(st);
			return STORE_UNAVAILABLE;
		}
		drain_notifies(st->conn);
	}
	return STORE_OK; /* woken, timed out or interrupted by a signal */
}

enum store_rc
store_purge(struct store *st, int64_t *tokens, int64_t *mails, int64_t *limits)
{
	struct params none = {0};
	PGresult *res;
	enum store_rc rc;

	*tokens = *mails = *limits = 0;
	rc = store_one(st, PART_OUTBOX, STMT_PURGE, &none, &res);
	if (rc == STORE_OK &&
	    (!get_int64(res, 0, 0, tokens) || !get_int64(res, 0, 1, mails) ||
	     !get_int64(res, 0, 2, limits)))
		rc = store_bad_value(st, PART_OUTBOX, STMT_PURGE);
	PQclear(res);
	return rc;
}
