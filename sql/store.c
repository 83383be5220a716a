/*
 * store.c — the PostgreSQL store (see store.h for the contract).
 *
 * Every statement lives in stmts[], indexed by enum stmt, takes only $n
 * parameters and is prepared once per connection: right after connecting
 * for as long as the schema allows (on a fresh database the tables appear
 * only with store_migrate(), so the rest are prepared on first use).  The
 * only SQL sent otherwise is the text of the compiled-in migrations.
 *
 * Waiting is bounded on our side too: a statement is sent asynchronously
 * and its answer awaited with poll() for the statement timeout plus a
 * little, so a server that vanished without closing the TCP connection
 * costs one timeout, not the kernel's retransmission schedule.
 *
 * Ownership: struct store owns its PGconn and a copy of the conninfo (which
 * may hold a password: wiped on close).  Nothing is logged from here; the
 * last error is kept in st->errmsg without secrets: only the primary
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
#include <time.h>

#include <libpq-fe.h>

#include "sql/migrations.h"
#include "sql/store.h"

#define STORE_DEFAULT_TIMEOUT_S 5
#define STORE_MAX_TIMEOUT_S	3600
#define STORE_HOLD_MS		1000 /* no new connect attempt sooner */
#define STORE_SLACK_MS		1000 /* our wait beyond statement_timeout */
#define STORE_TRIES		3    /* runs of a statement that deadlocked */
#define STORE_MAX_PARAMS	10
#define STORE_LIST_PAGE		"500" /* outbox rows per round trip */
#define STORE_REASON_MAX	500   /* bytes of an SMTP reply kept */
#define KEEPALIVE_IDLE_S	"10"
#define KEEPALIVE_INTERVAL_S	"3"
#define KEEPALIVE_COUNT		"3"

/* pg_advisory_lock() key of store_migrate(): "pwreset!" as a bigint. */
#define MIGRATE_LOCK_KEY "8104071834529788961"

/* A timestamptz column as ISO 8601 UTC, "" when NULL. */
#define ISO(x)                                                                 \
	"coalesce(to_char((" x ") AT TIME ZONE 'UTC', "                        \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

/* The columns read by store_fill_member(), in order. */
#define MEMBER_COLS                                                            \
	"m.id, m.username, coalesce(m.email, ''), m.firstname, m.lastname, "   \
	"m.status, m.is_admin, m.is_api, "                                     \
	"coalesce(m.locked_until > now(), false), "                            \
	"m.password_hash IS NOT NULL, m.failed_logins, " ISO(                  \
	    "m.locked_until") ", " ISO("m.password_changed_at")

/* The group filter: an index probe of group_membership's primary key. */
#define IN_GROUP(n)                                                            \
	" AND EXISTS (SELECT 1 FROM group_membership g"                        \
	" WHERE g.member_id = m.id AND g.group_id = $" n "::bigint)"

#define GROUP_COLS "id, name, description, coalesce(template_set, '')"

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
	"RETURNING id, attempts, recipient, message"

/*
 * Statement order matters once: after connecting they are prepared in this
 * order until the first that fails (the schema is not there yet); those
 * before STMT_SCHEMA_VERSIONS need no table of ours.
 */
enum stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SET_TIMEOUTS,
	STMT_LOCK,
	STMT_UNLOCK,
	STMT_LISTEN,
	STMT_SCHEMA_CREATE,
	STMT_SCHEMA_VERSIONS,
	STMT_SCHEMA_RECORD,
	STMT_GROUP_BY_ID,
	STMT_GROUP_BY_NAME,
	STMT_MEMBER_BY_USERNAME,
	STMT_MEMBER_BY_USERNAME_IN_GROUP,
	STMT_MEMBER_BY_EMAIL,
	STMT_MEMBER_BY_EMAIL_IN_GROUP,
	STMT_MEMBER_BY_BOTH,
	STMT_MEMBER_BY_BOTH_IN_GROUP,
	STMT_MEMBER_BY_TOKEN,
	STMT_MEMBER_BY_TOKEN_IN_GROUP,
	STMT_ADMIN_BY_TOKEN,
	STMT_RESET_ISSUE,
	STMT_RESET_ISSUE_LIMITED,
	STMT_TOKEN_VALID,
	STMT_RESET_COMPLETE,
	STMT_RATELIMIT_HIT,
	STMT_MEMBER_ADD,
	STMT_MEMBER_LOCK,
	STMT_MEMBER_UNLOCK,
	STMT_MEMBER_SET_STATUS,
	STMT_MEMBER_PASSWORD,
	STMT_GROUP_ADD,
	STMT_GROUP_ADD_MEMBER,
	STMT_ADMIN_TOKEN_ADD,
	STMT_ADMIN_TOKEN_REVOKE,
	STMT_AUDIT,
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
	STMT_STATS,
	STMT_PURGE,
	STMT_SECRET,
	STMT__MAX
};

static const struct stmt_def {
	const char *name; /* of the prepared statement */
	int nparams;
	const char *sql;
} stmts[] = {
    [STMT_BEGIN] = {"begin", 0, "BEGIN"},
    [STMT_COMMIT] = {"commit", 0, "COMMIT"},
    [STMT_ROLLBACK] = {"rollback", 0, "ROLLBACK"},
    [STMT_SET_TIMEOUTS] = {"set_timeouts", 2,
			   "SELECT set_config('statement_timeout', "
			   "$1::text, false), "
			   "set_config('lock_timeout', $2::text, false)"},
    [STMT_LOCK] = {"lock", 0, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")"},
    [STMT_UNLOCK] = {"unlock", 0,
		     "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"},
    [STMT_LISTEN] = {"listen", 0, "LISTEN pwreset_mail"},
    [STMT_SCHEMA_CREATE] = {"schema_create", 0,
			    "CREATE TABLE IF NOT EXISTS pwreset_schema ("
			    "version integer PRIMARY KEY, "
			    "name text NOT NULL, "
			    "applied_at timestamptz NOT NULL "
			    "DEFAULT now())"},
    [STMT_SCHEMA_VERSIONS] = {"schema_versions", 0,
			      "SELECT version FROM pwreset_schema "
			      "ORDER BY version"},
    [STMT_SCHEMA_RECORD] = {"schema_record", 2,
			    "INSERT INTO pwreset_schema (version, name) "
			    "VALUES ($1::int, $2::text)"},
    [STMT_GROUP_BY_ID] = {"group_by_id", 1,
			  "SELECT " GROUP_COLS " FROM member_group "
			  "WHERE id = $1::bigint"},
    [STMT_GROUP_BY_NAME] = {"group_by_name", 1,
			    "SELECT " GROUP_COLS " FROM member_group "
			    "WHERE lower(name) = lower($1::text)"},
    [STMT_MEMBER_BY_USERNAME] = {"member_by_username", 1,
				 "SELECT " MEMBER_COLS " FROM member m "
				 "WHERE lower(m.username) = "
				 "lower($1::text)"},
    [STMT_MEMBER_BY_USERNAME_IN_GROUP] = {"member_by_username_in_group", 2,
					  "SELECT " MEMBER_COLS
					  " FROM member m "
					  "WHERE lower(m.username) = "
					  "lower($1::text)" IN_GROUP("2")},
    [STMT_MEMBER_BY_EMAIL] = {"member_by_email", 1,
			      "SELECT " MEMBER_COLS " FROM member m "
			      "WHERE lower(m.email) = lower($1::text)"},
    [STMT_MEMBER_BY_EMAIL_IN_GROUP] = {"member_by_email_in_group", 2,
				       "SELECT " MEMBER_COLS " FROM member m "
				       "WHERE lower(m.email) = "
				       "lower($1::text)" IN_GROUP("2")},
    [STMT_MEMBER_BY_BOTH] = {"member_by_both", 2,
			     "SELECT " MEMBER_COLS " FROM member m "
			     "WHERE lower(m.username) = lower($1::text) "
			     "AND lower(m.email) = lower($2::text)"},
    [STMT_MEMBER_BY_BOTH_IN_GROUP] = {"member_by_both_in_group", 3,
				      "SELECT " MEMBER_COLS " FROM member m "
				      "WHERE lower(m.username) = "
				      "lower($1::text) "
				      "AND lower(m.email) = "
				      "lower($2::text)" IN_GROUP("3")},
    [STMT_MEMBER_BY_TOKEN] = {"member_by_token", 1,
			      "SELECT " MEMBER_COLS " FROM reset_token t "
			      "JOIN member m ON m.id = t.member_id "
			      "WHERE t.token_hash = $1::bytea"},
    [STMT_MEMBER_BY_TOKEN_IN_GROUP] = {"member_by_token_in_group", 2,
				       "SELECT " MEMBER_COLS
				       " FROM reset_token t "
				       "JOIN member m ON m.id = t.member_id "
				       "WHERE t.token_hash = "
				       "$1::bytea" IN_GROUP("2")},
    /* A disabled admin's token is refused as well. */
    [STMT_ADMIN_BY_TOKEN] = {"admin_by_token", 1,
			     "SELECT " MEMBER_COLS " FROM admin_token a "
			     "JOIN member m ON m.id = a.member_id "
			     "WHERE a.token_hash = $1::bytea "
			     "AND a.revoked_at IS NULL AND m.is_admin "
			     "AND m.status <> 'disabled'"},
    /*
     * Step 1 in one statement.  All parts see one snapshot, so `old`
     * cannot touch the token `tok` inserts.  Two concurrent issues for one
     * member may both leave their token valid (neither sees the other's
     * uncommitted row): both went to the member's own mailbox, which is
     * harmless.
     */
    [STMT_RESET_ISSUE] = {"reset_issue", 7,
			  "WITH old AS ("
			  "UPDATE reset_token SET invalidated_at = now() "
			  "WHERE member_id = $1::bigint "
			  "AND used_at IS NULL AND invalidated_at IS NULL "
			  "RETURNING id), "
			  "tok AS ("
			  "INSERT INTO reset_token "
			  "(member_id, token_hash, expires_at) "
			  "VALUES ($1::bigint, $2::bytea, "
			  "now() + make_interval(secs => $3::int)) "
			  "RETURNING member_id), "
			  "mail AS ("
			  "INSERT INTO mail_outbox "
			  "(kind, member_id, recipient, subject, message) "
			  "SELECT $4::text, member_id, $5::text, $6::text, "
			  "$7::text FROM tok RETURNING id) "
			  "SELECT id FROM mail"},
    /*
     * Step 1 with the per-identifier limit in the same statement: the hit
     * is counted first, and the token and mail are written only while the
     * count is within $9.  An unknown identifier runs STMT_RATELIMIT_HIT
     * instead: one round trip and one commit either way, so known and
     * unknown identifiers cost the same (SPEC §7, uniform step 1).
     */
    [STMT_RESET_ISSUE_LIMITED] =
	{"reset_issue_limited", 10,
	 "WITH hit AS ("
	 "INSERT INTO rate_limit AS r (key, window_start, window_end, hits) "
	 "SELECT $8::bytea, w, w + make_interval(secs => $10::int), 1 "
	 "FROM to_timestamp(floor(extract(epoch FROM now()) / $10::int) "
	 "* $10::int) AS w "
	 "ON CONFLICT (key, window_start) DO UPDATE SET hits = r.hits + 1 "
	 "RETURNING hits), "
	 "go AS (SELECT 1 FROM hit WHERE hits <= $9::int), "
	 "old AS ("
	 "UPDATE reset_token SET invalidated_at = now() "
	 "WHERE member_id = $1::bigint "
	 "AND used_at IS NULL AND invalidated_at IS NULL "
	 "AND EXISTS (SELECT 1 FROM go) RETURNING id), "
	 "tok AS ("
	 "INSERT INTO reset_token (member_id, token_hash, expires_at) "
	 "SELECT $1::bigint, $2::bytea, "
	 "now() + make_interval(secs => $3::int) FROM go "
	 "RETURNING member_id), "
	 "mail AS ("
	 "INSERT INTO mail_outbox (kind, member_id, recipient, subject, "
	 "message) "
	 "SELECT $4::text, member_id, $5::text, $6::text, $7::text FROM tok "
	 "RETURNING id) "
	 "SELECT (SELECT hits FROM hit), (SELECT id FROM mail)"},
    [STMT_TOKEN_VALID] = {"token_valid", 2,
			  "SELECT 1 FROM reset_token "
			  "WHERE token_hash = $1::bytea "
			  "AND member_id = $2::bigint "
			  "AND used_at IS NULL AND invalidated_at IS NULL "
			  "AND expires_at > now()"},
    /*
     * Step 2 in one statement, driven by `used`: of concurrent callers
     * with one token, the first takes the row lock; the others wait, then
     * (READ COMMITTED) re-check the WHERE on the committed row, find
     * used_at set and update nothing, so every later part is empty too.
     * `other` excludes the used token because it still looks unused in
     * the statement's snapshot.
     */
    [STMT_RESET_COMPLETE] = {"reset_complete", 9,
			     "WITH used AS ("
			     "UPDATE reset_token SET used_at = now() "
			     "WHERE token_hash = $1::bytea "
			     "AND member_id = $2::bigint "
			     "AND used_at IS NULL "
			     "AND invalidated_at IS NULL "
			     "AND expires_at > now() "
			     "RETURNING id, member_id), "
			     "mem AS ("
			     "UPDATE member m SET password_hash = $3::text, "
			     "password_changed_at = now(), "
			     "locked_until = NULL, failed_logins = 0 "
			     "FROM used WHERE m.id = used.member_id "
			     "RETURNING m.id), "
			     "other AS ("
			     "UPDATE reset_token t "
			     "SET invalidated_at = now() FROM used "
			     "WHERE t.member_id = used.member_id "
			     "AND t.id <> used.id "
			     "AND t.used_at IS NULL "
			     "AND t.invalidated_at IS NULL "
			     "RETURNING t.id), "
			     "mail AS ("
			     "INSERT INTO mail_outbox "
			     "(kind, member_id, recipient, subject, "
			     "message, claimed_until, attempts) "
			     "SELECT $4::text, id, $5::text, $6::text, "
			     "$7::text, CASE WHEN $9::int > 0 THEN now() + "
			     "make_interval(secs => $9::int) END, "
			     "CASE WHEN $9::int > 0 THEN 1 ELSE 0 END "
			     "FROM mem RETURNING id), "
			     "audit AS ("
			     "INSERT INTO audit_log "
			     "(event, member_id, client) "
			     "SELECT 'password-changed', id, $8::text "
			     "FROM mem) "
			     "SELECT id FROM mail"},
    [STMT_RATELIMIT_HIT] = {"ratelimit_hit", 3,
			    "INSERT INTO rate_limit AS r "
			    "(key, window_start, window_end, hits) "
			    "SELECT $1::bytea, w, "
			    "w + make_interval(secs => $2::int), $3::int "
			    "FROM to_timestamp(floor(extract(epoch FROM "
			    "now()) / $2::int) * $2::int) AS w "
			    "ON CONFLICT (key, window_start) "
			    "DO UPDATE SET hits = r.hits + EXCLUDED.hits "
			    "RETURNING hits"},
    [STMT_MEMBER_ADD] = {"member_add", 8,
			 "INSERT INTO member (username, email, firstname, "
			 "lastname, status, is_admin, is_api, "
			 "password_hash, password_changed_at) "
			 "VALUES ($1::text, $2::text, $3::text, $4::text, "
			 "$5::text, $6::boolean, $7::boolean, $8::text, "
			 "CASE WHEN $8::text IS NULL THEN NULL "
			 "ELSE now() END) RETURNING id"},
    [STMT_MEMBER_LOCK] = {"member_lock", 2,
			  "UPDATE member SET locked_until = now() + "
			  "make_interval(mins => $2::int) "
			  "WHERE id = $1::bigint"},
    [STMT_MEMBER_UNLOCK] = {"member_unlock", 1,
			    "UPDATE member SET locked_until = NULL, "
			    "failed_logins = 0 WHERE id = $1::bigint"},
    [STMT_MEMBER_SET_STATUS] = {"member_set_status", 2,
				"UPDATE member SET status = $2::text "
				"WHERE id = $1::bigint"},
    [STMT_MEMBER_PASSWORD] = {"member_password", 1,
			      "SELECT password_hash FROM member "
			      "WHERE id = $1::bigint "
			      "AND password_hash IS NOT NULL"},
    [STMT_GROUP_ADD] = {"group_add", 3,
			"INSERT INTO member_group "
			"(name, description, template_set) "
			"VALUES ($1::text, $2::text, $3::text) "
			"RETURNING id"},
    [STMT_GROUP_ADD_MEMBER] = {"group_add_member", 2,
			       "INSERT INTO group_membership "
			       "(group_id, member_id) "
			       "VALUES ($1::bigint, $2::bigint)"},
    [STMT_ADMIN_TOKEN_ADD] = {"admin_token_add", 2,
			      "INSERT INTO admin_token "
			      "(member_id, token_hash) "
			      "VALUES ($1::bigint, $2::bytea)"},
    [STMT_ADMIN_TOKEN_REVOKE] = {"admin_token_revoke", 1,
				 "UPDATE admin_token SET revoked_at = now() "
				 "WHERE member_id = $1::bigint "
				 "AND revoked_at IS NULL"},
    [STMT_AUDIT] = {"audit", 4,
		    "INSERT INTO audit_log "
		    "(event, member_id, client, detail) "
		    "VALUES ($1::text, $2::bigint, $3::text, $4::text)"},
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
    /* Only a row that still has its message can be sent again. */
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
			"claimed_until = NULL, last_error = $2::text "
			"WHERE id = $1::bigint AND sent_at IS NULL "
			"AND failed_at IS NULL"},
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
    /* Get or make: migration 002 makes "ratelimit", but a secret lost
     * (restored dump, truncated table) is made again rather than failing
     * every request. */
    [STMT_SECRET] = {"secret", 1,
		     "WITH made AS (INSERT INTO pwreset_secret (name, value) "
		     "VALUES ($1::text, decode(replace(gen_random_uuid()::text "
		     "|| gen_random_uuid()::text, '-', ''), 'hex')) "
		     "ON CONFLICT (name) DO NOTHING RETURNING value) "
		     "SELECT value FROM made UNION ALL "
		     "SELECT value FROM pwreset_secret WHERE name = $1::text"},
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
_Static_assert(sizeof stmts / sizeof stmts[0] == STMT__MAX,
	       "stmts[] and enum stmt out of step");

struct store {
	char *conninfo; /* owned; may hold a password: wiped on close */
	int timeout_s;
	PGconn *conn; /* NULL: (re)connect on the next call */
	bool prepared[STMT__MAX];
	bool listening;	       /* LISTEN again after a reconnect */
	bool doomed;	       /* the server said goodbye while we idled */
	int64_t hold_until_ms; /* CLOCK_MONOTONIC; no connect attempt before */
	char target[256];
	char errmsg[512];
};

/* Parameters of one statement: text unless binary (bytea hashes). */
struct params {
	int n;
	const char *val[STORE_MAX_PARAMS];
	int len[STORE_MAX_PARAMS];
	int fmt[STORE_MAX_PARAMS];
	char num[STORE_MAX_PARAMS][24];
};

/* ---- small helpers ------------------------------------------------------ */

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		abort();
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		abort();
	return p;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy src (NULL → "") into dst[len], cutting at a UTF-8 character
 * boundary when it does not fit. */
static void
copy_text(char *dst, size_t len, const char *src)
{
	size_t n;

	if (src == NULL)
		src = "";
	n = strlen(src);
	if (n >= len) {
		n = len - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The last error, on one line (libpq's messages end in newlines). */
__attribute__((format(printf, 2, 3))) static void
set_err(struct store *st, const char *fmt, ...)
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

static void
param_text(struct params *p, const char *s)
{
	if (p->n >= STORE_MAX_PARAMS)
		abort();
	p->val[p->n] = s; /* NULL → SQL NULL */
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void
param_int(struct params *p, int64_t v)
{
	if (p->n >= STORE_MAX_PARAMS)
		abort();
	snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
	param_text(p, p->num[p->n]);
}

static void
param_bool(struct params *p, bool v)
{
	param_text(p, v ? "true" : "false");
}

/* A token hash, sent as binary bytea. */
static void
param_hash(struct params *p, const uint8_t hash[STORE_HASH_LEN])
{
	if (p->n >= STORE_MAX_PARAMS)
		abort();
	p->val[p->n] = (const char *)hash;
	p->len[p->n] = STORE_HASH_LEN;
	p->fmt[p->n] = 1;
	p->n++;
}

static const char *
get_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

static bool
get_bool(const PGresult *r, int row, int col)
{
	return get_text(r, row, col)[0] == 't';
}

static bool
get_int64(const PGresult *r, int row, int col, int64_t *v)
{
	const char *s = get_text(r, row, col);
	char *end;
	long long x;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*v = x;
	return true;
}

static bool
get_int(const PGresult *r, int row, int col, int *v)
{
	int64_t x;

	if (!get_int64(r, row, col, &x) || x < INT_MIN || x > INT_MAX)
		return false;
	*v = (int)x;
	return true;
}

static enum store_rc
bad_value(struct store *st, enum stmt s)
{
	set_err(st, "%s: unexpected value from the database", stmts[s].name);
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

static int
clamp_int(int64_t v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

/* ---- the connection --------------------------------------------------- */

/*
 * Server notices (e.g. "relation already exists, skipping") are not ours
 * to print: the store never writes to stderr.  One kind matters: a FATAL
 * error that arrives while no statement runs (the server shutting down or
 * a terminated backend, 57P01) comes as a notice, and dooms the
 * connection.
 */
static void
notice_receive(void *arg, const PGresult *res)
{
	struct store *st = arg;
	const char *sev =
	    PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (sev != NULL &&
	    (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		st->doomed = true;
}

static void
store_drop(struct store *st)
{
	PQfinish(st->conn);
	st->conn = NULL;
	st->doomed = false;
	memset(st->prepared, 0, sizeof st->prepared);
}

/* Free parsed options, wiping the password first. */
static void
opts_free(PQconninfoOption *opts)
{
	for (PQconninfoOption *o = opts; o != NULL && o->keyword; o++)
		if (o->val != NULL && strcmp(o->keyword, "password") == 0)
			explicit_bzero(o->val, strlen(o->val));
	PQconninfoFree(opts);
}

static const char *
opt_value(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o != NULL && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val;
	return NULL;
}

/* "host=… port=… dbname=… user=…" from the conninfo, completed with
 * libpq's defaults (PG* environment); never the password. */
static void
store_target_init(struct store *st)
{
	static const char *const keys[] = {"host", "port", "dbname", "user"};
	PQconninfoOption *opts, *defs;
	char *err = NULL;
	size_t off = 0;

	opts = PQconninfoParse(st->conninfo, &err);
	if (opts == NULL) {
		if (err == NULL)
			abort(); /* out of memory */
		PQfreemem(err);
		copy_text(st->target, sizeof st->target, "(invalid conninfo)");
		return;
	}
	defs = PQconndefaults();
	if (defs == NULL)
		abort();
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *v = opt_value(opts, keys[i]);
		int n;

		if (v == NULL || *v == '\0')
			v = opt_value(defs, keys[i]);
		if (v == NULL || *v == '\0')
			v = "(default)";
		n = snprintf(st->target + off, sizeof st->target - off,
			     "%s%s=%s", i ? " " : "", keys[i], v);
		if (n < 0 || (size_t)n >= sizeof st->target - off)
			break; /* truncated: snprintf left it terminated */
		off += (size_t)n;
	}
	opts_free(defs);
	opts_free(opts);
}

/* The same, from the live connection (the host libpq really used). */
static void
store_target_update(struct store *st)
{
	snprintf(st->target, sizeof st->target,
		 "host=%s port=%s dbname=%s user=%s", PQhost(st->conn),
		 PQport(st->conn), PQdb(st->conn), PQuser(st->conn));
}

/*
 * Connect with the caller's conninfo plus our settings.  The conninfo is
 * parsed and passed back keyword by keyword, so `options` can be merged
 * and our timeouts always win.
 */
static PGconn *
store_dial(struct store *st)
{
	PQconninfoOption *opts;
	const char **kw = NULL, **val = NULL;
	char *err = NULL, *options = NULL;
	const char *user_options;
	char connect_timeout[16], tcp_user_timeout[24];
	PGconn *conn = NULL;
	size_t n = 0, max;
	int ms = st->timeout_s * 1000;

	opts = PQconninfoParse(st->conninfo, &err);
	if (opts == NULL) {
		if (err == NULL)
			abort();
		PQfreemem(err); /* may quote the conninfo: not repeated */
		set_err(st, "the database conninfo does not parse");
		return NULL;
	}
	max = 16;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		max++;
	kw = xcalloc(max, sizeof *kw);
	val = xcalloc(max, sizeof *val);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL || strcmp(o->keyword, "options") == 0 ||
		    strcmp(o->keyword, "connect_timeout") == 0)
			continue;
		kw[n] = o->keyword;
		val[n++] = o->val;
	}
#define DEFAULT_TO(k, v)                                                       \
	do {                                                                   \
		if (opt_value(opts, k) == NULL) {                              \
			kw[n] = k;                                             \
			val[n++] = v;                                          \
		}                                                              \
	} while (0)
	DEFAULT_TO("application_name", "pwreset");
	DEFAULT_TO("keepalives", "1");
	DEFAULT_TO("keepalives_idle", KEEPALIVE_IDLE_S);
	DEFAULT_TO("keepalives_interval", KEEPALIVE_INTERVAL_S);
	DEFAULT_TO("keepalives_count", KEEPALIVE_COUNT);
	snprintf(tcp_user_timeout, sizeof tcp_user_timeout, "%d", ms);
	DEFAULT_TO("tcp_user_timeout", tcp_user_timeout);
#undef DEFAULT_TO
	snprintf(connect_timeout, sizeof connect_timeout, "%d", st->timeout_s);
	kw[n] = "connect_timeout";
	val[n++] = connect_timeout;
	/*
	 * Session settings, after the caller's own options so ours win:
	 * - the timeouts bound every statement and lock wait (a lock wait gives
	 *   up first, at half the time, so its cause is named: 55P03);
	 * - enable_seqscan = off, and PostgreSQL's plan cache left to
	 *   reuse generic plans: every statement here finds its rows
	 *   through an index, but a generic plan made while a table was
	 *   empty and analyzed would pick a sequential scan and keep it as
	 *   the table grows (until the next ANALYZE).  Forbidding the
	 *   sequential scan keeps the index path whatever the statistics
	 *   say; planning every execution anew (force_custom_plan) did the
	 *   same at the cost of a third of the database's CPU on step 1
	 *   (test/bench).  A statement with no usable index still runs,
	 *   with a sequential scan (the purge);
	 * - READ COMMITTED whatever the server's default: the "exactly one
	 *   of N concurrent resets wins, the others see NOT_FOUND" behaviour
	 *   of STMT_RESET_COMPLETE relies on its re-check of the WHERE after
	 *   a row lock (REPEATABLE READ would raise 40001 instead).
	 */
	user_options = opt_value(opts, "options");
	if (asprintf(&options,
		     "%s%s-c statement_timeout=%d -c lock_timeout=%d "
		     "-c idle_in_transaction_session_timeout=%d "
		     "-c enable_seqscan=off "
		     "-c default_transaction_isolation=read\\ committed",
		     user_options ? user_options : "", user_options ? " " : "",
		     ms, ms / 2, 2 * ms) < 0)
		abort();
	kw[n] = "options";
	val[n++] = options;
	kw[n] = NULL;
	val[n] = NULL;

	conn = PQconnectdbParams(kw, val, 0);
	if (conn == NULL)
		abort();
	if (PQstatus(conn) != CONNECTION_OK) {
		set_err(st, "cannot connect to %s: %s", st->target,
			PQerrorMessage(conn));
		PQfinish(conn);
		conn = NULL;
	}
	free(options);
	free(kw);
	free(val);
	opts_free(opts);
	return conn;
}

/*
 * Classify a failed statement (res may be NULL when sending failed).  A
 * lost connection is dropped, so the next call reconnects.
 */
static enum store_rc
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
		set_err(st, "%s: %s (SQLSTATE %s)", what, primary,
			state ? state : "?");
	else
		set_err(st, "%s: %s", what, PQerrorMessage(st->conn));
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

static bool
res_ok(const PGresult *r)
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
static enum store_rc
store_collect(struct store *st, int timeout_ms, PGresult **res,
	      const char *what)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	PGresult *keep = NULL, *r;

	*res = NULL;
	for (;;) {
		while (PQisBusy(st->conn)) {
			struct pollfd pfd = {PQsocket(st->conn), POLLIN, 0};
			int wait = -1, n;

			if (deadline >= 0) {
				int64_t left = deadline - now_ms();

				if (left <= 0) {
					set_err(st,
						"%s: no answer from %s "
						"within %d ms",
						what, st->target, timeout_ms);
					goto gone;
				}
				wait = clamp_int(left, 1, INT_MAX);
			}
			n = poll(&pfd, 1, wait);
			if (n < 0 && errno != EINTR) {
				set_err(st, "%s: poll: %s", what,
					strerror(errno));
				goto gone;
			}
			if (n > 0 && !PQconsumeInput(st->conn)) {
				set_err(st, "%s: %s", what,
					PQerrorMessage(st->conn));
				goto gone;
			}
		}
		r = PQgetResult(st->conn);
		if (r == NULL)
			break;
		if (keep != NULL && !res_ok(keep)) {
			PQclear(r);
		} else {
			PQclear(keep);
			keep = r;
		}
	}
	if (keep == NULL) { /* cannot happen after a successful send */
		set_err(st, "%s: no result", what);
		return STORE_ERROR;
	}
	*res = keep;
	return STORE_OK;
gone:
	PQclear(keep);
	store_drop(st);
	return STORE_UNAVAILABLE;
}

static enum store_rc
store_prepare(struct store *st, enum stmt s)
{
	PGresult *res;
	enum store_rc rc;

	if (stmts[s].sql == NULL)
		abort(); /* a hole in stmts[] */
	if (!PQsendPrepare(st->conn, stmts[s].name, stmts[s].sql,
			   stmts[s].nparams, NULL))
		return store_fail(st, NULL, stmts[s].name);
	rc = store_collect(st, st->timeout_s * 1000 + STORE_SLACK_MS, &res,
			   stmts[s].name);
	if (rc != STORE_OK)
		return rc;
	if (res_ok(res))
		st->prepared[s] = true;
	else
		rc = store_fail(st, res, stmts[s].name);
	PQclear(res);
	return rc;
}

static enum store_rc store_exec_t(struct store *st, enum stmt s,
				  const struct params *p, int timeout_ms,
				  PGresult **out);

enum store_rc
store_connect(struct store *st)
{
	struct params none = {0};
	PGresult *res = NULL;
	enum store_rc rc;

	if (st->conn != NULL)
		return STORE_OK;
	/* Right after a failed attempt, answer at once: a worker then
	 * returns 0503 quickly and the server is not stormed. */
	if (now_ms() < st->hold_until_ms)
		return STORE_UNAVAILABLE;
	st->conn = store_dial(st);
	if (st->conn == NULL)
		goto fail;
	PQsetNoticeReceiver(st->conn, notice_receive, st);
	memset(st->prepared, 0, sizeof st->prepared);
	store_target_update(st);

	/* Prepare what the schema allows; the rest on first use. */
	for (int s = 0; s < STMT__MAX; s++) {
		rc = store_prepare(st, (enum stmt)s);
		if (rc == STORE_UNAVAILABLE)
			goto fail;
		if (rc != STORE_OK)
			break;
	}
	st->errmsg[0] = '\0';
	if (st->listening) {
		rc = store_exec_t(st, STMT_LISTEN, &none,
				  st->timeout_s * 1000 + STORE_SLACK_MS, &res);
		PQclear(res);
		if (rc != STORE_OK)
			goto fail;
	}
	st->hold_until_ms = 0;
	return STORE_OK;
fail:
	if (st->conn != NULL)
		store_drop(st);
	st->hold_until_ms = now_ms() + STORE_HOLD_MS;
	return STORE_UNAVAILABLE;
}

/*
 * Read what arrived on an idle connection: notifications (kept for
 * PQnotifies), or the server saying goodbye (a FATAL notice, then EOF).
 * PQconsumeInput() reads once and PQisBusy() parses; EOF shows on a later
 * read, hence the loop, bounded against a stream of notifications.
 * False when the connection is dead.
 */
static bool
store_idle_input(struct store *st)
{
	for (int i = 0; i < 8; i++) {
		struct pollfd pfd = {PQsocket(st->conn), POLLIN, 0};

		if (PQstatus(st->conn) != CONNECTION_OK || st->doomed)
			return false;
		if (poll(&pfd, 1, 0) <= 0)
			break;
		if (!PQconsumeInput(st->conn))
			return false;
		(void)PQisBusy(st->conn);
	}
	return PQstatus(st->conn) == CONNECTION_OK && !st->doomed;
}

/*
 * Make sure there is a live connection.  Checking the idle connection
 * first lets a restarted server cost only a reconnect, not a failed call.
 */
static enum store_rc
store_ready(struct store *st)
{
	if (st->conn != NULL && !store_idle_input(st))
		store_drop(st);
	return store_connect(st);
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

/* Run prepared statement s; on STORE_OK *out is its result (PQclear it).
 * Up to STORE_TRIES times when it failed as store_retryable() says. */
static enum store_rc
store_exec_t(struct store *st, enum stmt s, const struct params *p,
	     int timeout_ms, PGresult **out)
{
	PGresult *res;
	enum store_rc rc;

	*out = NULL;
	if (p->n != stmts[s].nparams)
		abort(); /* a caller out of step with stmts[] */
	rc = store_ready(st);
	if (rc != STORE_OK)
		return rc;
	if (!st->prepared[s]) {
		rc = store_prepare(st, s);
		if (rc != STORE_OK)
			return rc;
	}
	for (int attempt = 1;; attempt++) {
		if (!PQsendQueryPrepared(st->conn, stmts[s].name, p->n, p->val,
					 p->len, p->fmt, 0))
			return store_fail(st, NULL, stmts[s].name);
		rc = store_collect(st, timeout_ms, &res, stmts[s].name);
		if (rc != STORE_OK)
			return rc;
		if (res_ok(res)) {
			*out = res;
			return STORE_OK;
		}
		if (attempt >= STORE_TRIES || !store_retryable(st, res))
			break;
		PQclear(res);
	}
	rc = store_fail(st, res, stmts[s].name);
	PQclear(res);
	return rc;
}

static enum store_rc
store_exec(struct store *st, enum stmt s, const struct params *p,
	   PGresult **out)
{
	return store_exec_t(st, s, p, st->timeout_s * 1000 + STORE_SLACK_MS,
			    out);
}

/* A statement whose result is not needed. */
static enum store_rc
store_run(struct store *st, enum stmt s, const struct params *p)
{
	PGresult *res;
	enum store_rc rc = store_exec(st, s, p, &res);

	PQclear(res);
	return rc;
}

/* A statement that must return a row: STORE_NOT_FOUND when none. */
static enum store_rc
store_one(struct store *st, enum stmt s, const struct params *p, PGresult **out)
{
	enum store_rc rc = store_exec(st, s, p, out);

	if (rc == STORE_OK && PQntuples(*out) < 1) {
		PQclear(*out);
		*out = NULL;
		return STORE_NOT_FOUND;
	}
	return rc;
}

/* An UPDATE/DELETE: *count (may be NULL) gets the rows touched;
 * STORE_NOT_FOUND when none and count is NULL. */
static enum store_rc
store_change(struct store *st, enum stmt s, const struct params *p,
	     int64_t *count)
{
	PGresult *res;
	enum store_rc rc = store_exec(st, s, p, &res);
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

/* ---- lifetime --------------------------------------------------------- */

struct store *
store_open(const char *conninfo, int timeout_s)
{
	struct store *st = xcalloc(1, sizeof *st);

	st->conninfo = xstrdup(conninfo ? conninfo : "");
	st->timeout_s = timeout_s > 0
			    ? clamp_int(timeout_s, 1, STORE_MAX_TIMEOUT_S)
			    : STORE_DEFAULT_TIMEOUT_S;
	store_target_init(st);
	return st;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	PQfinish(st->conn);
	explicit_bzero(st->conninfo, strlen(st->conninfo));
	free(st->conninfo);
	free(st);
}

const char *
store_errmsg(const struct store *st)
{
	return st->errmsg;
}

const char *
store_target(const struct store *st)
{
	return st->target;
}

/* ---- schema ----------------------------------------------------------- */

/* statement_timeout and lock_timeout of the session, in ms (0: none). */
static enum store_rc
store_set_timeouts(struct store *st, int statement_ms, int lock_ms)
{
	struct params p = {0};

	param_int(&p, statement_ms);
	param_int(&p, lock_ms);
	return store_run(st, STMT_SET_TIMEOUTS, &p);
}

/* One migration's text: several statements, so the simple protocol. */
static enum store_rc
store_run_script(struct store *st, const struct migration *m)
{
	PGresult *res;
	enum store_rc rc;
	char what[96];

	snprintf(what, sizeof what, "migration %03d_%s", m->version, m->name);
	if (!PQsendQuery(st->conn, m->sql))
		return store_fail(st, NULL, what);
	rc = store_collect(st, -1, &res, what);
	if (rc != STORE_OK)
		return rc;
	if (!res_ok(res))
		rc = store_fail(st, res, what);
	PQclear(res);
	return rc;
}

static bool
version_recorded(const PGresult *res, int version)
{
	for (int i = 0; i < PQntuples(res); i++) {
		int v;

		if (get_int(res, i, 0, &v) && v == version)
			return true;
	}
	return false;
}

enum store_rc
store_migrate(struct store *st, int *applied)
{
	struct params none = {0};
	PGresult *versions = NULL, *res = NULL;
	char saved[sizeof st->errmsg];
	bool locked = false;
	enum store_rc rc;

	*applied = 0;
	rc = store_ready(st);
	if (rc != STORE_OK)
		return rc;
	/* Waiting for another host's migration, or a long ALTER, must not
	 * hit the request-path timeouts. */
	rc = store_set_timeouts(st, 0, 0);
	if (rc != STORE_OK)
		goto out;
	rc = store_exec_t(st, STMT_LOCK, &none, -1, &res);
	PQclear(res);
	if (rc != STORE_OK)
		goto out;
	locked = true;
	rc = store_run(st, STMT_SCHEMA_CREATE, &none);
	if (rc != STORE_OK)
		goto out;
	rc = store_exec(st, STMT_SCHEMA_VERSIONS, &none, &versions);
	if (rc != STORE_OK)
		goto out;

	for (size_t i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		struct params p = {0};

		if (version_recorded(versions, m->version))
			continue;
		param_int(&p, m->version);
		param_text(&p, m->name);
		rc = store_run(st, STMT_BEGIN, &none);
		if (rc == STORE_OK)
			rc = store_run_script(st, m);
		if (rc == STORE_OK)
			rc = store_run(st, STMT_SCHEMA_RECORD, &p);
		if (rc == STORE_OK)
			rc = store_run(st, STMT_COMMIT, &none);
		if (rc != STORE_OK) {
			if (st->conn != NULL) {
				memcpy(saved, st->errmsg, sizeof saved);
				store_run(st, STMT_ROLLBACK, &none);
				memcpy(st->errmsg, saved, sizeof saved);
			}
			goto out;
		}
		(*applied)++;
	}
out:
	PQclear(versions);
	memcpy(saved, st->errmsg, sizeof saved);
	if (st->conn != NULL && locked) {
		res = NULL;
		store_exec(st, STMT_UNLOCK, &none, &res);
		PQclear(res);
	}
	if (st->conn != NULL)
		store_set_timeouts(st, st->timeout_s * 1000,
				   st->timeout_s * 1000 / 2);
	if (rc != STORE_OK)
		memcpy(st->errmsg, saved, sizeof saved);
	return rc;
}

/* ---- lookups ------------------------------------------------------------ */

static enum store_rc
store_fill_group(struct store *st, enum stmt s, const PGresult *r,
		 struct store_group *out)
{
	memset(out, 0, sizeof *out);
	if (!get_int64(r, 0, 0, &out->id))
		return bad_value(st, s);
	copy_text(out->name, sizeof out->name, get_text(r, 0, 1));
	copy_text(out->description, sizeof out->description, get_text(r, 0, 2));
	copy_text(out->template_set, sizeof out->template_set,
		  get_text(r, 0, 3));
	return STORE_OK;
}

static enum store_rc
store_group_get(struct store *st, enum stmt s, const struct params *p,
		struct store_group *out)
{
	PGresult *res;
	enum store_rc rc = store_one(st, s, p, &res);

	if (rc == STORE_OK)
		rc = store_fill_group(st, s, res, out);
	PQclear(res);
	return rc;
}

enum store_rc
store_group_by_id(struct store *st, int64_t id, struct store_group *out)
{
	struct params p = {0};

	param_int(&p, id);
	return store_group_get(st, STMT_GROUP_BY_ID, &p, out);
}

enum store_rc
store_group_by_name(struct store *st, const char *name, struct store_group *out)
{
	struct params p = {0};

	if (name == NULL)
		return STORE_NOT_FOUND;
	param_text(&p, name);
	return store_group_get(st, STMT_GROUP_BY_NAME, &p, out);
}

static enum store_rc
store_fill_member(struct store *st, enum stmt s, const PGresult *r,
		  struct store_member *out)
{
	memset(out, 0, sizeof *out);
	if (!get_int64(r, 0, 0, &out->id) ||
	    !get_int(r, 0, 10, &out->failed_logins))
		return bad_value(st, s);
	copy_text(out->username, sizeof out->username, get_text(r, 0, 1));
	copy_text(out->email, sizeof out->email, get_text(r, 0, 2));
	copy_text(out->firstname, sizeof out->firstname, get_text(r, 0, 3));
	copy_text(out->lastname, sizeof out->lastname, get_text(r, 0, 4));
	copy_text(out->status, sizeof out->status, get_text(r, 0, 5));
	out->admin = get_bool(r, 0, 6);
	out->api = get_bool(r, 0, 7);
	out->locked = get_bool(r, 0, 8);
	out->has_password = get_bool(r, 0, 9);
	copy_text(out->locked_until, sizeof out->locked_until,
		  get_text(r, 0, 11));
	copy_text(out->password_changed_at, sizeof out->password_changed_at,
		  get_text(r, 0, 12));
	return STORE_OK;
}

static enum store_rc
store_member_get(struct store *st, enum stmt s, const struct params *p,
		 struct store_member *out)
{
	PGresult *res;
	enum store_rc rc = store_one(st, s, p, &res);

	if (rc == STORE_OK)
		rc = store_fill_member(st, s, res, out);
	PQclear(res);
	return rc;
}

enum store_rc
store_member_find(struct store *st, const char *username, const char *email,
		  int64_t group_id, struct store_member *out)
{
	/* One statement per combination: each is a plain index lookup. */
	static const enum stmt pick[3][2] = {
	    {STMT_MEMBER_BY_USERNAME, STMT_MEMBER_BY_USERNAME_IN_GROUP},
	    {STMT_MEMBER_BY_EMAIL, STMT_MEMBER_BY_EMAIL_IN_GROUP},
	    {STMT_MEMBER_BY_BOTH, STMT_MEMBER_BY_BOTH_IN_GROUP},
	};
	bool has_user = username != NULL && *username != '\0';
	bool has_email = email != NULL && *email != '\0';
	struct params p = {0};
	int which;

	if (!has_user && !has_email) {
		set_err(st, "store_member_find: no username and no email");
		return STORE_ERROR;
	}
	which = has_user && has_email ? 2 : has_email ? 1 : 0;
	if (has_user)
		param_text(&p, username);
	if (has_email)
		param_text(&p, email);
	if (group_id > 0)
		param_int(&p, group_id);
	return store_member_get(st, pick[which][group_id > 0], &p, out);
}

enum store_rc
store_member_by_token(struct store *st, const uint8_t hash[STORE_HASH_LEN],
		      int64_t group_id, struct store_member *out)
{
	struct params p = {0};

	param_hash(&p, hash);
	if (group_id > 0)
		param_int(&p, group_id);
	return store_member_get(st,
				group_id > 0 ? STMT_MEMBER_BY_TOKEN_IN_GROUP
					     : STMT_MEMBER_BY_TOKEN,
				&p, out);
}

enum store_rc
store_admin_by_token(struct store *st, const uint8_t hash[STORE_HASH_LEN],
		     struct store_member *out)
{
	struct params p = {0};

	param_hash(&p, hash);
	return store_member_get(st, STMT_ADMIN_BY_TOKEN, &p, out);
}

/* ---- the two steps ------------------------------------------------------ */

static bool
mail_ok(struct store *st, const struct store_mail *mail)
{
	if (mail == NULL || mail->kind == NULL || mail->recipient == NULL ||
	    mail->subject == NULL || mail->message == NULL) {
		set_err(st, "incomplete mail for the outbox");
		return false;
	}
	return true;
}

/* The id a statement RETURNs; STORE_NOT_FOUND when it returned no row. */
static enum store_rc
store_returning_id(struct store *st, enum stmt s, const struct params *p,
		   int64_t *mail_id)
{
	PGresult *res;
	enum store_rc rc = store_one(st, s, p, &res);
	int64_t id = 0;

	if (rc == STORE_OK && !get_int64(res, 0, 0, &id))
		rc = bad_value(st, s);
	PQclear(res);
	if (mail_id != NULL)
		*mail_id = id;
	return rc;
}

enum store_rc
store_reset_issue(struct store *st, int64_t member_id,
		  const uint8_t hash[STORE_HASH_LEN], int ttl_s,
		  const struct store_mail *mail, int64_t *mail_id)
{
	struct params p = {0};
	enum store_rc rc;

	if (!mail_ok(st, mail))
		return STORE_ERROR;
	if (ttl_s <= 0) {
		set_err(st, "store_reset_issue: ttl must be positive");
		return STORE_ERROR;
	}
	param_int(&p, member_id);
	param_hash(&p, hash);
	param_int(&p, ttl_s);
	param_text(&p, mail->kind);
	param_text(&p, mail->recipient);
	param_text(&p, mail->subject);
	param_text(&p, mail->message);
	rc = store_returning_id(st, STMT_RESET_ISSUE, &p, mail_id);
	if (rc == STORE_NOT_FOUND) { /* an INSERT … VALUES always returns */
		set_err(st, "reset_issue: no row written");
		rc = STORE_ERROR;
	}
	return rc;
}

enum store_rc
store_reset_issue_limited(struct store *st, const uint8_t idkey[STORE_HASH_LEN],
			  int window_s, int limit, int64_t member_id,
			  const uint8_t hash[STORE_HASH_LEN], int ttl_s,
			  const struct store_mail *mail, int64_t *count,
			  int64_t *mail_id)
{
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	*count = 0;
	*mail_id = 0;
	if (!mail_ok(st, mail))
		return STORE_ERROR;
	if (ttl_s <= 0 || window_s <= 0) {
		set_err(st, "store_reset_issue_limited: ttl and window must be "
			    "positive");
		return STORE_ERROR;
	}
	param_int(&p, member_id);
	param_hash(&p, hash);
	param_int(&p, ttl_s);
	param_text(&p, mail->kind);
	param_text(&p, mail->recipient);
	param_text(&p, mail->subject);
	param_text(&p, mail->message);
	param_hash(&p, idkey);
	param_int(&p, limit);
	param_int(&p, window_s);
	rc = store_one(st, STMT_RESET_ISSUE_LIMITED, &p, &res);
	if (rc == STORE_OK &&
	    (!get_int64(res, 0, 0, count) ||
	     (!PQgetisnull(res, 0, 1) && !get_int64(res, 0, 1, mail_id))))
		rc = bad_value(st, STMT_RESET_ISSUE_LIMITED);
	PQclear(res);
	return rc;
}

enum store_rc
store_token_valid(struct store *st, int64_t member_id,
		  const uint8_t hash[STORE_HASH_LEN])
{
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	param_hash(&p, hash);
	param_int(&p, member_id);
	rc = store_one(st, STMT_TOKEN_VALID, &p, &res);
	PQclear(res);
	return rc;
}

enum store_rc
store_reset_complete(struct store *st, int64_t member_id,
		     const uint8_t hash[STORE_HASH_LEN], const char *phc,
		     const struct store_mail *mail, const char *client,
		     int claim_s, int64_t *mail_id)
{
	struct params p = {0};

	if (!mail_ok(st, mail))
		return STORE_ERROR;
	if (phc == NULL || *phc == '\0') {
		set_err(st, "store_reset_complete: no password hash");
		return STORE_ERROR;
	}
	param_hash(&p, hash);
	param_int(&p, member_id);
	param_text(&p, phc);
	param_text(&p, mail->kind);
	param_text(&p, mail->recipient);
	param_text(&p, mail->subject);
	param_text(&p, mail->message);
	param_text(&p, client ? client : "");
	param_int(&p, claim_s > 0 ? claim_s : 0);
	return store_returning_id(st, STMT_RESET_COMPLETE, &p, mail_id);
}

/* ---- rate limits ----------------------------------------------------------
 */

enum store_rc
store_ratelimit_hit(struct store *st, const uint8_t key[STORE_HASH_LEN],
		    int window_s, int weight, int64_t *count)
{
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	*count = 0;
	if (window_s <= 0 || weight < 0) {
		set_err(st, "store_ratelimit_hit: window must be positive, "
			    "weight not negative");
		return STORE_ERROR;
	}
	param_hash(&p, key);
	param_int(&p, window_s);
	param_int(&p, weight);
	rc = store_one(st, STMT_RATELIMIT_HIT, &p, &res);
	if (rc == STORE_OK && !get_int64(res, 0, 0, count))
		rc = bad_value(st, STMT_RATELIMIT_HIT);
	PQclear(res);
	return rc;
}

/* ---- members, groups, admin tokens ------------------------------------ */

enum store_rc
store_member_add(struct store *st, const struct store_member_new *m,
		 int64_t *id)
{
	struct params p = {0};

	if (m == NULL || m->username == NULL) {
		set_err(st, "store_member_add: no username");
		return STORE_ERROR;
	}
	param_text(&p, m->username);
	param_text(&p, m->email && *m->email ? m->email : NULL);
	param_text(&p, m->firstname ? m->firstname : "");
	param_text(&p, m->lastname ? m->lastname : "");
	param_text(&p, m->status ? m->status : "activated");
	param_bool(&p, m->admin);
	param_bool(&p, m->api);
	param_text(&p, m->phc && *m->phc ? m->phc : NULL);
	return store_returning_id(st, STMT_MEMBER_ADD, &p, id);
}

enum store_rc
store_member_lock(struct store *st, int64_t id, int minutes)
{
	struct params p = {0};

	if (minutes < 0) {
		set_err(st, "store_member_lock: negative minutes");
		return STORE_ERROR;
	}
	param_int(&p, id);
	if (minutes == 0)
		return store_change(st, STMT_MEMBER_UNLOCK, &p, NULL);
	param_int(&p, minutes);
	return store_change(st, STMT_MEMBER_LOCK, &p, NULL);
}

enum store_rc
store_member_set_status(struct store *st, int64_t id, const char *status)
{
	struct params p = {0};

	param_int(&p, id);
	param_text(&p, status ? status : "");
	return store_change(st, STMT_MEMBER_SET_STATUS, &p, NULL);
}

enum store_rc
store_member_password(struct store *st, int64_t id, char *phc, size_t len)
{
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	if (len > 0)
		phc[0] = '\0';
	param_int(&p, id);
	rc = store_one(st, STMT_MEMBER_PASSWORD, &p, &res);
	if (rc == STORE_OK) {
		char *v = PQgetvalue(res, 0, 0);
		size_t n = strlen(v);

		if (n >= len) { /* a cut PHC string would never verify */
			set_err(st, "member_password: buffer too small");
			rc = STORE_ERROR;
		} else {
			memcpy(phc, v, n + 1);
		}
		explicit_bzero(v, n);
	}
	PQclear(res);
	return rc;
}

enum store_rc
store_group_add(struct store *st, const char *name, const char *description,
		const char *template_set, int64_t *id)
{
	struct params p = {0};

	param_text(&p, name);
	param_text(&p, description ? description : "");
	param_text(&p, template_set && *template_set ? template_set : NULL);
	return store_returning_id(st, STMT_GROUP_ADD, &p, id);
}

enum store_rc
store_group_add_member(struct store *st, int64_t group_id, int64_t member_id)
{
	struct params p = {0};

	param_int(&p, group_id);
	param_int(&p, member_id);
	return store_run(st, STMT_GROUP_ADD_MEMBER, &p);
}

enum store_rc
store_admin_token_add(struct store *st, int64_t member_id,
		      const uint8_t hash[STORE_HASH_LEN])
{
	struct params p = {0};

	param_int(&p, member_id);
	param_hash(&p, hash);
	return store_run(st, STMT_ADMIN_TOKEN_ADD, &p);
}

enum store_rc
store_admin_token_revoke(struct store *st, int64_t member_id, int *count)
{
	struct params p = {0};
	int64_t n = 0;
	enum store_rc rc;

	param_int(&p, member_id);
	rc = store_change(st, STMT_ADMIN_TOKEN_REVOKE, &p, &n);
	*count = clamp_int(n, 0, INT_MAX);
	return rc;
}

enum store_rc
store_audit(struct store *st, const char *event, int64_t member_id,
	    const char *client, const char *detail)
{
	struct params p = {0};

	if (event == NULL) {
		set_err(st, "store_audit: no event");
		return STORE_ERROR;
	}
	param_text(&p, event);
	if (member_id > 0)
		param_int(&p, member_id);
	else
		param_text(&p, NULL);
	param_text(&p, client ? client : "");
	param_text(&p, detail ? detail : "");
	return store_run(st, STMT_AUDIT, &p);
}

/* ---- the mail outbox ------------------------------------------------------
 */

enum store_rc
store_mail_list(struct store *st, bool failed_only, store_outbox_cb *cb,
		void *arg)
{
	enum stmt s = failed_only ? STMT_MAIL_LIST_FAILED : STMT_MAIL_LIST;
	int64_t after = 0;

	for (;;) {
		struct params p = {0};
		PGresult *res;
		enum store_rc rc;
		int rows;

		param_int(&p, after);
		rc = store_exec(st, s, &p, &res);
		if (rc != STORE_OK)
			return rc;
		rows = PQntuples(res);
		for (int i = 0; i < rows; i++) {
			struct store_outbox_row row = {0};

			if (!get_int64(res, i, 0, &row.id) ||
			    !get_int(res, i, 5, &row.attempts)) {
				PQclear(res);
				return bad_value(st, s);
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
		rc = store_change(st, STMT_MAIL_RETRY, &p, &n);
	} else {
		rc = store_change(st, STMT_MAIL_RETRY_ALL, &p, &n);
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
	enum stmt s = id > 0 ? STMT_MAIL_CLAIM_ID : STMT_MAIL_CLAIM;
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	memset(job, 0, sizeof *job);
	if (lease_s <= 0) {
		set_err(st, "store_mail_claim: lease must be positive");
		return STORE_ERROR;
	}
	param_int(&p, lease_s);
	if (id > 0)
		param_int(&p, id);
	rc = store_one(st, s, &p, &res);
	if (rc != STORE_OK)
		return rc;
	if (!get_int64(res, 0, 0, &job->id) ||
	    !get_int(res, 0, 1, &job->attempts)) {
		rc = bad_value(st, s);
	} else {
		char *msg = PQgetvalue(res, 0, 3);

		copy_text(job->recipient, sizeof job->recipient,
			  get_text(res, 0, 2));
		job->message = xstrdup(msg);
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
	return store_change(st, STMT_MAIL_SENT, &p, NULL);
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
		return store_change(st, STMT_MAIL_FAIL, &p, NULL);
	param_int(&p, retry_s > 0 ? retry_s : 0);
	return store_change(st, STMT_MAIL_RESCHEDULE, &p, NULL);
}

enum store_rc
store_mail_unconfirmed(struct store *st, int64_t id, const char *reason)
{
	struct params p = {0};
	char why[STORE_REASON_MAX + 1];

	clean_reason(why, sizeof why, reason);
	param_int(&p, id);
	param_text(&p, why);
	return store_change(st, STMT_MAIL_UNCONFIRMED, &p, NULL);
}

enum store_rc
store_mail_listen(struct store *st)
{
	struct params none = {0};
	bool fresh = st->conn == NULL;
	enum store_rc rc;

	st->listening = true;
	rc = store_ready(st); /* a new connection LISTENs by itself */
	if (rc != STORE_OK || fresh)
		return rc;
	return store_run(st, STMT_LISTEN, &none);
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
			set_err(st, "waiting for mail: %s",
				st->doomed ? "the server closed the connection"
					   : PQerrorMessage(st->conn));
			store_drop(st);
			return STORE_UNAVAILABLE;
		}
		drain_notifies(st->conn);
	}
	return STORE_OK; /* woken, timed out or interrupted by a signal */
}

/* ---- statistics ------------------------------------------------------------
 */

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
	rc = store_one(st, STMT_STATS, &p, &res);
	if (rc != STORE_OK)
		return rc;
	if (PQnfields(res) != (int)(sizeof cols / sizeof cols[0]))
		rc = bad_value(st, STMT_STATS);
	for (int i = 0; rc == STORE_OK && i < PQnfields(res); i++)
		if (!get_int64(res, 0, i, cols[i]))
			rc = bad_value(st, STMT_STATS);
	PQclear(res);
	return rc;
}

/* ---- housekeeping ---------------------------------------------------------
 */

enum store_rc
store_purge(struct store *st, int64_t *tokens, int64_t *mails, int64_t *limits)
{
	struct params none = {0};
	PGresult *res;
	enum store_rc rc;

	*tokens = *mails = *limits = 0;
	rc = store_one(st, STMT_PURGE, &none, &res);
	if (rc == STORE_OK &&
	    (!get_int64(res, 0, 0, tokens) || !get_int64(res, 0, 1, mails) ||
	     !get_int64(res, 0, 2, limits)))
		rc = bad_value(st, STMT_PURGE);
	PQclear(res);
	return rc;
}

enum store_rc
store_secret(struct store *st, const char *name, uint8_t out[STORE_HASH_LEN])
{
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	param_text(&p, name);
	rc = store_one(st, STMT_SECRET, &p, &res);
	/* Made at the same instant by another process: its row is not in
	 * this statement's snapshot yet, the next statement sees it. */
	if (rc == STORE_NOT_FOUND)
		rc = store_one(st, STMT_SECRET, &p, &res);
	if (rc == STORE_OK) {
		size_t len = 0;
		unsigned char *v = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(res, 0, 0), &len);

		if (v == NULL || len != STORE_HASH_LEN) {
			rc = bad_value(st, STMT_SECRET);
		} else {
			memcpy(out, v, STORE_HASH_LEN);
			explicit_bzero(v, len);
		}
		PQfreemem(v);
	}
	PQclear(res);
	return rc;
}
