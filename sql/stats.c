/*
 * stats.c — store_stats(): what the database knows of the service's
 * activity (pwreset-ctl stats), in one statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/store_impl.h"

enum stats_stmt { STMT_STATS, STATS_STMT__MAX };

static const struct stmt_def stmts[] = {
    /*
     * pwreset-ctl stats: what the database knows, in one snapshot.  The
     * pending/deferred/failed counts use the outbox's partial index; the
     * windowed counts scan tables that store_purge() keeps to about a
     * day (tokens) or a week (mail).
     */
    [STMT_STATS] = {"stats", 1,
		    "SELECT "
		    "(SELECT count(*) FROM mail_outbox "
		    "WHERE sent_at IS NULL AND failed_at IS NULL "
		    "AND unconfirmed_at IS NULL), "
		    "(SELECT count(*) FROM mail_outbox "
		    "WHERE sent_at IS NULL AND failed_at IS NULL "
		    "AND unconfirmed_at IS NULL "
		    "AND next_attempt_at > now()), "
		    "(SELECT count(*) FROM mail_outbox "
		    "WHERE failed_at IS NOT NULL "
		    "OR unconfirmed_at IS NOT NULL), "
		    "(SELECT coalesce(floor(extract(epoch FROM "
		    "now() - min(created_at)))::bigint, -1) "
		    "FROM mail_outbox "
		    "WHERE sent_at IS NULL AND failed_at IS NULL "
		    "AND unconfirmed_at IS NULL), "
		    "(SELECT count(*) FROM mail_outbox "
		    "WHERE sent_at > now() - w), "
		    "(SELECT count(*) FROM reset_token "
		    "WHERE issued_at > now() - w), "
		    "(SELECT count(*) FROM reset_token "
		    "WHERE used_at > now() - w), "
		    "(SELECT count(*) FROM reset_token "
		    "WHERE expires_at > now() - w AND expires_at <= now() "
		    "AND used_at IS NULL AND invalidated_at IS NULL), "
		    "(SELECT count(*) FROM reset_token "
		    "WHERE invalidated_at > now() - w), "
		    "(SELECT count(*) FROM audit_log "
		    "WHERE event = 'password-changed' AND at > now() - w) "
		    "FROM make_interval(secs => $1::int) AS w"},
};
_Static_assert(sizeof stmts / sizeof stmts[0] == STATS_STMT__MAX,
	       "stmts[] and enum stats_stmt out of step");
_Static_assert(STATS_STMT__MAX <= STORE_PART_MAX, "raise STORE_PART_MAX");

const struct store_part store_part_stats = {PART_STATS, stmts, STATS_STMT__MAX};

enum store_rc
store_stats(struct store *st, struct store_stats *out)
{
	struct params p = {0};
	int64_t *const cols[] = {
	    &out->outbox_pending,     &out->outbox_deferred,
	    &out->outbox_failed,      &out->oldest_pending_s,
	    &out->mail_sent,	      &out->tokens_issued,
	    &out->tokens_used,	      &out->tokens_expired,
	    &out->tokens_invalidated, &out->password_changes,
	};
	PGresult *res;
	enum store_rc rc;

	memset(out, 0, sizeof *out);
	out->window_s = STORE_STATS_WINDOW_S;
	param_int(&p, STORE_STATS_WINDOW_S);
	rc = store_one(st, PART_STATS, STMT_STATS, &p, &res);
	if (rc != STORE_OK)
		return rc;
	if (PQnfields(res) != (int)(sizeof cols / sizeof cols[0]))
		rc = store_bad_value(st, PART_STATS, STMT_STATS);
	for (int i = 0; rc == STORE_OK && i < PQnfields(res); i++)
		if (!get_int64(res, 0, i, cols[i]))
			rc = store_bad_value(st, PART_STATS, STMT_STATS);
	PQclear(res);
	return rc;
}
