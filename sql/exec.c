/*
 * exec.c — running the store's statements (see store_impl.h).
 *
 * Waiting is bounded on our side too: a statement is sent asynchronously
 * and its answer awaited with poll() for the statement timeout plus a
 * little, so a server that vanished without closing the TCP connection
 * costs one timeout, not the kernel's retransmission schedule.
 *
 * The last error is kept in st->errmsg without secrets: only the primary
 * message and SQLSTATE of a server error are kept (DETAIL can quote row
 * values such as a password hash), and libpq's connection messages do not
 * contain the password.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/store_impl.h"

#define STORE_TRIES 3 /* runs of a statement that deadlocked */

/* The last error, on one line (libpq's messages end in newlines). */
void
store_set_err(struct store *st, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
	va_end(ap);
	for (char *p = st->errmsg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	n = strlen(st->errmsg);
	while (n > 0 && st->errmsg[n - 1] == ' ')
		st->errmsg[--n] = '\0';
}

enum store_rc
store_bad_value(struct store *st, enum store_part_id id, int s)
{
	store_set_err(st, "%s: unexpected value from the database",
		      store_stmt(id, s)->name);
	return STORE_ERROR;
}

/* The number of rows an INSERT/UPDATE/DELETE touched. */
static int64_t
cmd_rows(PGresult *r)
{
	const char *s = PQcmdTuples(r);
	char *end;
	long long x;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || x < 0)
		return 0;
	return x;
}

/*
 * Classify a failed statement (res may be NULL when sending failed).  A
 * lost connection is dropped, so the next call reconnects.
 */
enum store_rc
store_fail(struct store *st, const PGresult *res, const char *what)
{
	const char *state = NULL, *primary = NULL;
	bool gone;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	gone = PQstatus(st->conn) != CONNECTION_OK ||
	       (state != NULL &&
		(strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
		 strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0));
	if (primary != NULL)
		store_set_err(st, "%s: %s (SQLSTATE %s)", what, primary,
			      state ? state : "?");
	else
		store_set_err(st, "%s: %s", what, PQerrorMessage(st->conn));
	if (gone) {
		store_drop(st);
		return STORE_UNAVAILABLE;
	}
	if (state == NULL)
		return STORE_ERROR;
	if (strcmp(state, "23505") == 0)
		return STORE_CONFLICT;
	if (strcmp(state, "26000") == 0) /* prepared statement vanished */
		memset(st->prepared, 0, sizeof st->prepared);
	return STORE_ERROR;
}

bool
store_res_ok(const PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/*
 * Collect the answer to what was just sent, waiting at most timeout_ms
 * (< 0: no limit).  *res: the first failed result, else the last one; the
 * caller PQclear()s it.  STORE_OK means an answer came (check *res);
 * STORE_UNAVAILABLE means the connection was lost or silent and is gone.
 */
enum store_rc
store_collect(struct store *st, int timeout_ms, PGresult **res,
	      const char *what)
{
	int64_t deadline = timeout_ms < 0 ? -1 : store_now_ms() + timeout_ms;
	PGresult *keep = NULL, *r;

	*res = NULL;
	for (;;) {
		while (PQisBusy(st->conn)) {
			struct pollfd pfd = {PQsocket(st->conn), POLLIN, 0};
			int wait = -1, n;

			if (deadline >= 0) {
				int64_t left = deadline - store_now_ms();

				if (left <= 0) {
					store_set_err(st,
						      "%s: no answer from %s "
						      "within %d ms",
						      what, st->target,
						      timeout_ms);
					goto gone;
				}
				wait = clamp_int(left, 1, INT_MAX);
			}
			n = poll(&pfd, 1, wait);
			if (n < 0 && errno != EINTR) {
				store_set_err(st, "%s: poll: %s", what,
					      strerror(errno));
				goto gone;
			}
			if (n > 0 && !PQconsumeInput(st->conn)) {
				store_set_err(st, "%s: %s", what,
					      PQerrorMessage(st->conn));
				goto gone;
			}
		}
		r = PQgetResult(st->conn);
		if (r == NULL)
			break;
		if (keep != NULL && !store_res_ok(keep)) {
			PQclear(r);
		} else {
			PQclear(keep);
			keep = r;
		}
	}
	if (keep == NULL) { /* cannot happen after a successful send */
		store_set_err(st, "%s: no result", what);
		return STORE_ERROR;
	}
	*res = keep;
	return STORE_OK;
gone:
	PQclear(keep);
	store_drop(st);
	return STORE_UNAVAILABLE;
}

enum store_rc
store_prepare(struct store *st, enum store_part_id id, int s)
{
	const struct stmt_def *d = store_stmt(id, s);
	PGresult *res;
	enum store_rc rc;

	if (!PQsendPrepare(st->conn, d->name, d->sql, d->nparams, NULL))
		return store_fail(st, NULL, d->name);
	rc = store_collect(st, st->timeout_s * 1000 + STORE_SLACK_MS, &res,
			   d->name);
	if (rc != STORE_OK)
		return rc;
	if (store_res_ok(res))
		st->prepared[id][s] = true;
	else
		rc = store_fail(st, res, d->name);
	PQclear(res);
	return rc;
}

/*
 * Every statement here is a transaction of its own, so one that PostgreSQL
 * chose as a deadlock victim (40P01) or could not serialise (40001) was
 * rolled back whole and can simply run again: two requests for one member
 * that lock its token and member rows in opposite orders (step 1 and step
 * 2 at the same moment) then both succeed.  Inside an explicit transaction
 * (the migrations) the failure stands.
 */
static bool
store_retryable(struct store *st, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL &&
	       (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0) &&
	       PQtransactionStatus(st->conn) == PQTRANS_IDLE;
}

/* Run statement s (prepared, or unnamed behind a transaction pooler); on
 * STORE_OK *out is its result (PQclear it).
 * Up to STORE_TRIES times when it failed as store_retryable() says. */
enum store_rc
store_exec_t(struct store *st, enum store_part_id id, int s,
	     const struct params *p, int timeout_ms, PGresult **out)
{
	const struct stmt_def *d = store_stmt(id, s);
	PGresult *res;
	enum store_rc rc;

	*out = NULL;
	if (p->n != d->nparams)
		abort(); /* a caller out of step with its table */
	/* The migrations and LISTEN work on any schema; the rest need the
	 * one these binaries were built for. */
	rc = (id == PART_CONN || id == PART_SCHEMA) ? store_ready(st)
						    : store_ready_current(st);
	if (rc != STORE_OK)
		return rc;
	/* Behind a transaction pooler the next statement may run on another
	 * server session, where a statement prepared here does not exist:
	 * each is sent unnamed, with its text (Parse, Bind, Execute in one
	 * round trip; the parameter types are inferred as PQprepare() does
	 * with none given). */
	if (!st->pooled && !st->prepared[id][s]) {
		rc = store_prepare(st, id, s);
		if (rc != STORE_OK)
			return rc;
	}
	for (int attempt = 1;; attempt++) {
		int sent = st->pooled
			       ? PQsendQueryParams(st->conn, d->sql, p->n, NULL,
						   p->val, p->len, p->fmt, 0)
			       : PQsendQueryPrepared(st->conn, d->name, p->n,
						     p->val, p->len, p->fmt, 0);

		if (!sent)
			return store_fail(st, NULL, d->name);
		rc = store_collect(st, timeout_ms, &res, d->name);
		if (rc != STORE_OK)
			return rc;
		if (store_res_ok(res)) {
			*out = res;
			return STORE_OK;
		}
		if (attempt >= STORE_TRIES || !store_retryable(st, res))
			break;
		PQclear(res);
	}
	rc = store_fail(st, res, d->name);
	PQclear(res);
	return rc;
}

enum store_rc
store_exec(struct store *st, enum store_part_id id, int s,
	   const struct params *p, PGresult **out)
{
	return store_exec_t(st, id, s, p, st->timeout_s * 1000 + STORE_SLACK_MS,
			    out);
}

/* A statement whose result is not needed. */
enum store_rc
store_run(struct store *st, enum store_part_id id, int s,
	  const struct params *p)
{
	PGresult *res;
	enum store_rc rc = store_exec(st, id, s, p, &res);

	PQclear(res);
	return rc;
}

/* A statement that must return a row: STORE_NOT_FOUND when none. */
enum store_rc
store_one(struct store *st, enum store_part_id id, int s,
	  const struct params *p, PGresult **out)
{
	enum store_rc rc = store_exec(st, id, s, p, out);

	if (rc == STORE_OK && PQntuples(*out) < 1) {
		PQclear(*out);
		*out = NULL;
		return STORE_NOT_FOUND;
	}
	return rc;
}

/* An UPDATE/DELETE: *count (may be NULL) gets the rows touched;
 * STORE_NOT_FOUND when none and count is NULL. */
enum store_rc
store_change(struct store *st, enum store_part_id id, int s,
	     const struct params *p, int64_t *count)
{
	PGresult *res;
	enum store_rc rc = store_exec(st, id, s, p, &res);
	int64_t n;

	if (rc != STORE_OK)
		return rc;
	n = cmd_rows(res);
	PQclear(res);
	if (count != NULL)
		*count = n;
	else if (n == 0)
		return STORE_NOT_FOUND;
	return STORE_OK;
}

/* The id a statement RETURNs; STORE_NOT_FOUND when it returned no row. */
enum store_rc
store_returning_id(struct store *st, enum store_part_id id, int s,
		   const struct params *p, int64_t *out)
{
	PGresult *res;
	enum store_rc rc = store_one(st, id, s, p, &res);
	int64_t v = 0;

	if (rc == STORE_OK && !get_int64(res, 0, 0, &v))
		rc = store_bad_value(st, id, s);
	PQclear(res);
	if (out != NULL)
		*out = v;
	return rc;
}
