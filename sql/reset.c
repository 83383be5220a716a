/*
 * reset.c — the request path: group and member lookups, the member of a
 * reset or admin token, and the two steps (issue a token, change the
 * password), each step one statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/store_impl.h"

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

/*
 * Write a member's one live token (SPEC §4 "One live token"): rows from
 * src, replacing the hash of the live row when there is one.  The
 * conflict target is migration 004's partial unique index.  The hash
 * of the live row given again writes nothing (one hash, one token).
 */
#define UPSERT_TOKEN(src)                                                      \
	"INSERT INTO reset_token (member_id, token_hash, expires_at) " src     \
	" ON CONFLICT (member_id) "                                            \
	"WHERE used_at IS NULL AND invalidated_at IS NULL "                    \
	"DO UPDATE SET token_hash = EXCLUDED.token_hash, issued_at = now(), "  \
	"expires_at = EXCLUDED.expires_at "                                    \
	"WHERE reset_token.token_hash <> EXCLUDED.token_hash "                 \
	"RETURNING member_id"

/* A token that can still be used: unused, not invalidated, unexpired. */
#define LIVE                                                                   \
	" AND t.used_at IS NULL AND t.invalidated_at IS NULL"                  \
	" AND t.expires_at > now()"

#define GROUP_COLS "id, name, description, coalesce(template_set, '')"

/*
 * Step 1 before its answer (store_step1_lookup()): the address hit ($1,
 * in shard $2; none when $1 is NULL), the identifier hit ($3, shard 0),
 * windows of $4 seconds, and the member lookup, one row whatever it
 * finds.  Known and unknown identifiers run the same statement with the
 * same writes, so the answer cannot tell them apart by its cost.
 */
#define STEP1_LOOKUP(match)                                                    \
	"WITH " COUNTER_WINDOW(                                                \
	    "4") ", "                                                          \
		 "addr AS (" COUNTER_HIT(                                      \
		     "$1::bytea", "$2::int", "1",                              \
		     "4") "WHERE $1::bytea IS NOT NULL " COUNTER_UPSERT "), "  \
			  "idh AS (" COUNTER_HIT("$3::bytea", "0", "1", "4")   \
			      COUNTER_UPSERT                                   \
	    ") SELECT (SELECT hits FROM addr) + " COUNTER_OTHERS(              \
		"$1::bytea",                                                   \
		"$2::int") ", (SELECT hits FROM idh), " ASYNC_COMMIT           \
			   ", " MEMBER_COLS " FROM (SELECT 1) AS one LEFT "    \
			   "JOIN member m ON " match
#define STEP1_COLS     3 /* the counts and ASYNC_COMMIT before MEMBER_COLS */
#define BY_USERNAME(n) "lower(m.username) = lower($" n "::text)"
#define BY_EMAIL(n)    "lower(m.email) = lower($" n "::text)"

enum reset_stmt {
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
	STMT_MEMBER_BY_LIVE_TOKEN,
	STMT_MEMBER_BY_LIVE_TOKEN_IN_GROUP,
	STMT_ADMIN_BY_TOKEN,
	STMT_RESET_ISSUE,
	STMT_RESET_ISSUE_LIMITED,
	STMT_STEP1_BY_USERNAME,
	STMT_STEP1_BY_USERNAME_IN_GROUP,
	STMT_STEP1_BY_EMAIL,
	STMT_STEP1_BY_EMAIL_IN_GROUP,
	STMT_STEP1_BY_BOTH,
	STMT_STEP1_BY_BOTH_IN_GROUP,
	STMT_TOKEN_VALID,
	STMT_RESET_COMPLETE,
	RESET_STMT__MAX
};

static const struct stmt_def stmts[] = {
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
    [STMT_MEMBER_BY_LIVE_TOKEN] = {"member_by_live_token", 1,
				   "SELECT " MEMBER_COLS " FROM reset_token t "
				   "JOIN member m ON m.id = t.member_id "
				   "WHERE t.token_hash = $1::bytea" LIVE},
    [STMT_MEMBER_BY_LIVE_TOKEN_IN_GROUP] = {"member_by_live_token_in_group", 2,
					    "SELECT " MEMBER_COLS
					    " FROM reset_token t "
					    "JOIN member m ON m.id = "
					    "t.member_id "
					    "WHERE t.token_hash = "
					    "$1::bytea" LIVE IN_GROUP("2")},
    /* A disabled admin's token is refused as well. */
    [STMT_ADMIN_BY_TOKEN] = {"admin_by_token", 1,
			     "SELECT " MEMBER_COLS " FROM admin_token a "
			     "JOIN member m ON m.id = a.member_id "
			     "WHERE a.token_hash = $1::bytea "
			     "AND a.revoked_at IS NULL AND m.is_admin "
			     "AND m.status <> 'disabled'"},
    /*
     * Step 1 in one statement.  The partial unique index of migration 004
     * allows one live row per member; the upsert replaces that row's hash
     * and expiry (an expired row not yet marked included), so the old
     * token is dead in the same statement.  Concurrent issues for one
     * member serialise on the index entry: the last one's token is the
     * only valid one.
     */
    [STMT_RESET_ISSUE] =
	{"reset_issue", 7,
	 "WITH tok AS (" UPSERT_TOKEN(
	     "VALUES ($1::bigint, "
	     "$2::bytea, now() + "
	     "make_interval(secs => "
	     "$3::int))") "), "
			  "mail AS ("
			  "INSERT INTO mail_outbox "
			  "(kind, member_id, recipient, subject, message) "
			  "SELECT $4::text, member_id, $5::text, $6::text, "
			  "$7::text FROM tok RETURNING id) "
			  "SELECT id FROM mail"},
    /*
     * Step 1's write after the answer, under the member's budget: the hit
     * is counted first, and the token and mail are written only while the
     * count is within $9.  Of concurrent step 1s for one member, exactly
     * the first $9 to count write (shard 0 is one row).
     */
    [STMT_RESET_ISSUE_LIMITED] =
	{"reset_issue_limited", 10,
	 "WITH " COUNTER_WINDOW("10") ", "
				      "hit AS (" COUNTER_HIT("$8::bytea", "0",
							     "1", "10")
					  COUNTER_UPSERT
	 "), "
	 "go AS (SELECT 1 FROM hit WHERE hits <= $9::int), "
	 "tok AS (" UPSERT_TOKEN(
	     "SELECT $1::bigint, $2::bytea, "
	     "now() + make_interval(secs => $3::int) "
	     "FROM go") "), "
			"mail AS (INSERT INTO mail_outbox (kind, member_id, "
			"recipient, "
			"subject, message) "
			"SELECT $4::text, member_id, $5::text, $6::text, "
			"$7::text FROM tok "
			"RETURNING id) "
			"SELECT (SELECT hits FROM hit), (SELECT id FROM "
			"mail), " ASYNC_COMMIT},
    [STMT_STEP1_BY_USERNAME] = {"step1_by_username", 5,
				STEP1_LOOKUP(BY_USERNAME("5"))},
    [STMT_STEP1_BY_USERNAME_IN_GROUP] = {"step1_by_username_in_group", 6,
					 STEP1_LOOKUP(BY_USERNAME("5")
							  IN_GROUP("6"))},
    [STMT_STEP1_BY_EMAIL] = {"step1_by_email", 5, STEP1_LOOKUP(BY_EMAIL("5"))},
    [STMT_STEP1_BY_EMAIL_IN_GROUP] = {"step1_by_email_in_group", 6,
				      STEP1_LOOKUP(BY_EMAIL("5")
						       IN_GROUP("6"))},
    [STMT_STEP1_BY_BOTH] = {"step1_by_both", 6,
			    STEP1_LOOKUP(
				BY_USERNAME("5") " AND " BY_EMAIL("6"))},
    [STMT_STEP1_BY_BOTH_IN_GROUP] = {"step1_by_both_in_group", 7,
				     STEP1_LOOKUP(
					 BY_USERNAME("5") " AND " BY_EMAIL("6")
					     IN_GROUP("7"))},
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
};
_Static_assert(sizeof stmts / sizeof stmts[0] == RESET_STMT__MAX,
	       "stmts[] and enum reset_stmt out of step");
_Static_assert(RESET_STMT__MAX <= STORE_PART_MAX, "raise STORE_PART_MAX");

const struct store_part store_part_reset = {PART_RESET, stmts, RESET_STMT__MAX};

static enum store_rc
store_fill_group(struct store *st, int s, const PGresult *r,
		 struct store_group *out)
{
	memset(out, 0, sizeof *out);
	if (!get_int64(r, 0, 0, &out->id))
		return store_bad_value(st, PART_RESET, s);
	copy_text(out->name, sizeof out->name, get_text(r, 0, 1));
	copy_text(out->description, sizeof out->description, get_text(r, 0, 2));
	copy_text(out->template_set, sizeof out->template_set,
		  get_text(r, 0, 3));
	return STORE_OK;
}

static enum store_rc
store_group_get(struct store *st, int s, const struct params *p,
		struct store_group *out)
{
	PGresult *res;
	enum store_rc rc = store_one(st, PART_RESET, s, p, &res);

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

/* MEMBER_COLS, starting at column b of the first row. */
static enum store_rc
store_fill_member(struct store *st, int s, const PGresult *r, int b,
		  struct store_member *out)
{
	memset(out, 0, sizeof *out);
	if (!get_int64(r, 0, b, &out->id) ||
	    !get_int(r, 0, b + 10, &out->failed_logins))
		return store_bad_value(st, PART_RESET, s);
	copy_text(out->username, sizeof out->username, get_text(r, 0, b + 1));
	copy_text(out->email, sizeof out->email, get_text(r, 0, b + 2));
	copy_text(out->firstname, sizeof out->firstname, get_text(r, 0, b + 3));
	copy_text(out->lastname, sizeof out->lastname, get_text(r, 0, b + 4));
	copy_text(out->status, sizeof out->status, get_text(r, 0, b + 5));
	out->admin = get_bool(r, 0, b + 6);
	out->api = get_bool(r, 0, b + 7);
	out->locked = get_bool(r, 0, b + 8);
	out->has_password = get_bool(r, 0, b + 9);
	copy_text(out->locked_until, sizeof out->locked_until,
		  get_text(r, 0, b + 11));
	copy_text(out->password_changed_at, sizeof out->password_changed_at,
		  get_text(r, 0, b + 12));
	return STORE_OK;
}

static enum store_rc
store_member_get(struct store *st, int s, const struct params *p,
		 struct store_member *out)
{
	PGresult *res;
	enum store_rc rc = store_one(st, PART_RESET, s, p, &res);

	if (rc == STORE_OK)
		rc = store_fill_member(st, s, res, 0, out);
	PQclear(res);
	return rc;
}

enum store_rc
store_member_find(struct store *st, const char *username, const char *email,
		  int64_t group_id, struct store_member *out)
{
	/* One statement per combination: each is a plain index lookup. */
	static const int pick[3][2] = {
	    {STMT_MEMBER_BY_USERNAME, STMT_MEMBER_BY_USERNAME_IN_GROUP},
	    {STMT_MEMBER_BY_EMAIL, STMT_MEMBER_BY_EMAIL_IN_GROUP},
	    {STMT_MEMBER_BY_BOTH, STMT_MEMBER_BY_BOTH_IN_GROUP},
	};
	bool has_user = username != NULL && *username != '\0';
	bool has_email = email != NULL && *email != '\0';
	struct params p = {0};
	int which;

	if (!has_user && !has_email) {
		store_set_err(st,
			      "store_member_find: no username and no email");
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
store_step1_lookup(struct store *st, const uint8_t *addr_key, int shard,
		   const uint8_t idkey[STORE_HASH_LEN], int window_s,
		   const char *username, const char *email, int64_t group_id,
		   struct store_step1_counts *counts, struct store_member *out)
{
	static const int pick[3][2] = {
	    {STMT_STEP1_BY_USERNAME, STMT_STEP1_BY_USERNAME_IN_GROUP},
	    {STMT_STEP1_BY_EMAIL, STMT_STEP1_BY_EMAIL_IN_GROUP},
	    {STMT_STEP1_BY_BOTH, STMT_STEP1_BY_BOTH_IN_GROUP},
	};
	bool has_user = username != NULL && *username != '\0';
	bool has_email = email != NULL && *email != '\0';
	int which = has_user && has_email ? 2
		    : has_email		  ? 1
		    : has_user		  ? 0
					  : 2;
	int s = pick[which][group_id > 0];
	struct params p = {0};
	PGresult *res = NULL;
	enum store_rc rc;

	memset(counts, 0, sizeof *counts);
	memset(out, 0, sizeof *out);
	if (window_s <= 0 || shard < 0 || shard >= STORE_COUNTER_SHARDS) {
		store_set_err(st, "store_step1_lookup: window must be "
				  "positive, shard in range");
		return STORE_ERROR;
	}
	if (addr_key != NULL)
		param_hash(&p, addr_key);
	else
		param_text(&p, NULL);
	param_int(&p, shard);
	param_hash(&p, idkey);
	param_int(&p, window_s);
	/* Neither given (a name that names nobody): "both" with two NULLs
	 * matches no row through the same index probes. */
	if (has_user || which == 2)
		param_text(&p, has_user ? username : NULL);
	if (has_email || which == 2)
		param_text(&p, has_email ? email : NULL);
	if (group_id > 0)
		param_int(&p, group_id);
	rc = store_one(st, PART_RESET, s, &p, &res);
	if (rc != STORE_OK)
		goto out;
	if ((!PQgetisnull(res, 0, 0) &&
	     !get_int64(res, 0, 0, &counts->address)) ||
	    !get_int64(res, 0, 1, &counts->identifier)) {
		rc = store_bad_value(st, PART_RESET, s);
		goto out;
	}
	if (PQgetisnull(res, 0, STEP1_COLS))
		rc = STORE_NOT_FOUND;
	else
		rc = store_fill_member(st, s, res, STEP1_COLS, out);
out:
	PQclear(res);
	return rc;
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
store_member_by_live_token(struct store *st, const uint8_t hash[STORE_HASH_LEN],
			   int64_t group_id, struct store_member *out)
{
	struct params p = {0};

	param_hash(&p, hash);
	if (group_id > 0)
		param_int(&p, group_id);
	return store_member_get(st,
				group_id > 0
				    ? STMT_MEMBER_BY_LIVE_TOKEN_IN_GROUP
				    : STMT_MEMBER_BY_LIVE_TOKEN,
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
		store_set_err(st, "incomplete mail for the outbox");
		return false;
	}
	return true;
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
		store_set_err(st, "store_reset_issue: ttl must be positive");
		return STORE_ERROR;
	}
	param_int(&p, member_id);
	param_hash(&p, hash);
	param_int(&p, ttl_s);
	param_text(&p, mail->kind);
	param_text(&p, mail->recipient);
	param_text(&p, mail->subject);
	param_text(&p, mail->message);
	rc = store_returning_id(st, PART_RESET, STMT_RESET_ISSUE, &p, mail_id);
	if (rc == STORE_NOT_FOUND) { /* the upsert's guard: same hash */
		store_set_err(st, "reset_issue: the hash is this member's "
				  "live token already");
		rc = STORE_CONFLICT;
	}
	return rc;
}

enum store_rc
store_reset_issue_limited(struct store *st, const uint8_t key[STORE_HASH_LEN],
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
		store_set_err(
		    st, "store_reset_issue_limited: ttl and window must be "
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
	param_hash(&p, key);
	param_int(&p, limit);
	param_int(&p, window_s);
	rc = store_one(st, PART_RESET, STMT_RESET_ISSUE_LIMITED, &p, &res);
	if (rc == STORE_OK &&
	    (!get_int64(res, 0, 0, count) ||
	     (!PQgetisnull(res, 0, 1) && !get_int64(res, 0, 1, mail_id))))
		rc = store_bad_value(st, PART_RESET, STMT_RESET_ISSUE_LIMITED);
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
	rc = store_one(st, PART_RESET, STMT_TOKEN_VALID, &p, &res);
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
		store_set_err(st, "store_reset_complete: no password hash");
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
	return store_returning_id(st, PART_RESET, STMT_RESET_COMPLETE, &p,
				  mail_id);
}
