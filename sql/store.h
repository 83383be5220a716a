/*
 * store.h — the PostgreSQL store: the only module that includes libpq-fe.h.
 *
 * A struct store is one connection with its prepared statements; it lives
 * as long as the process that opened it (a worker, the mailer, pwreset-ctl)
 * and is not shared between processes.  Every statement is prepared once per
 * connection and takes only $n parameters.  When the connection is lost a
 * call answers STORE_UNAVAILABLE and the next call reconnects by itself.
 *
 * Time is PostgreSQL's: expiry, locks and retries are decided by now() in
 * the database, never by the host's clock.
 *
 * All out-structs are caller-owned and filled completely on STORE_OK; text
 * fields are NUL-terminated, "" when NULL in the database.  Nothing here
 * logs: on an error the reason (never a secret) is in store_errmsg().
 */
#ifndef PWR_STORE_H
#define PWR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_rc {
	STORE_OK = 0,
	STORE_NOT_FOUND,   /* no such row / the condition did not hold */
	STORE_CONFLICT,	   /* unique violation (username, email, name) */
	STORE_UNAVAILABLE, /* cannot reach the database (answer 0503) */
	STORE_ERROR,	   /* anything else (answer 0500) */
	/* The database lacks migrations these binaries need: run
	 * `pwreset-ctl migrate` (answer 0503). */
	STORE_SCHEMA_OLD
};

#define STORE_HASH_LEN 32 /* SHA-256 of a token */
/* Sub-rows of a rate-limit counter (migration 005's CHECK): shard 0 is the
 * exact one; a worker may add to any other. */
#define STORE_COUNTER_SHARDS 64

struct store_member {
	int64_t id;
	char username[101];
	char email[400]; /* "" when the member has none */
	char firstname[201];
	char lastname[201];
	char status[16]; /* activated | unactivated | disabled */
	bool admin;
	bool api;
	bool locked;	   /* locked_until > now() */
	bool has_password; /* password_hash IS NOT NULL */
	int failed_logins;
	char locked_until[40];	      /* ISO 8601 or "" */
	char password_changed_at[40]; /* ISO 8601 or "" */
};

struct store_group {
	int64_t id;
	char name[101];
	char description[1001];
	char template_set[65]; /* "" → none */
};

/* One outbox row to write with a token or password change.  message is the
 * complete RFC 5322 text (CRLF line ends). */
struct store_mail {
	const char *kind; /* "reset-password-confirm" | "change-password" */
	const char *recipient;
	const char *subject;
	const char *message;
};

/* Open a store.  Never fails except on allocation failure (aborts): the
 * connection is made by the first call that needs it.  timeout_s bounds
 * connecting and every statement. */
struct store *store_open(const char *conninfo, int timeout_s);

/* How the connection reaches PostgreSQL ([database] pooling). */
enum store_pooling {
	STORE_POOLING_SESSION, /* one server session per connection */
	/* A transaction pooler (PgBouncer pool_mode = transaction): each
	 * statement may run on another server session, so none is left
	 * with state: no `options` startup parameter, no named prepared
	 * statement, no LISTEN, and store_migrate() refuses. */
	STORE_POOLING_TRANSACTION
};
/* Call before the first call that connects; the default is
 * STORE_POOLING_SESSION. */
void store_set_pooling(struct store *st, enum store_pooling pooling);
void store_close(struct store *st); /* NULL-safe */
/* The last error, safe to log (no password, no secret), never NULL. */
const char *store_errmsg(const struct store *st);
/* "host=… port=… dbname=…" of the target, without the password. */
const char *store_target(const struct store *st);
/* Connect now if not connected (and prepare).  STORE_OK / _UNAVAILABLE. */
enum store_rc store_connect(struct store *st);

/* ---- schema ------------------------------------------------------- */

/* Apply every migration not yet recorded, under an advisory lock, each in
 * its own transaction.  *applied counts the ones applied now. */
enum store_rc store_migrate(struct store *st, int *applied);

#define STORE_SCHEMA_PENDING_MAX 64

/* The schema the database has and the one these binaries need. */
struct store_schema {
	int applied;  /* the newest migration recorded; 0: none */
	int needed;   /* the newest compiled in */
	int npending; /* compiled-in migrations not recorded (may exceed the
			 array: only the first STORE_SCHEMA_PENDING_MAX are
			 listed) */
	struct {
		int version;
		const char *name; /* static */
	} pending[STORE_SCHEMA_PENDING_MAX];
};

/* Read the schema state; writes nothing (no table is made).  out->needed
 * is set whatever the outcome. */
enum store_rc store_schema_status(struct store *st, struct store_schema *out);
/* Connect if needed: STORE_OK when every compiled-in migration is applied,
 * STORE_SCHEMA_OLD (store_errmsg() says to run pwreset-ctl migrate),
 * STORE_UNAVAILABLE or STORE_ERROR.  Every statement outside the
 * migrations answers STORE_SCHEMA_OLD the same way. */
enum store_rc store_schema_check(struct store *st);
/* True once when a call met an old schema (for a caller to log it once;
 * again only after the schema was current in between). */
bool store_schema_old_first(struct store *st);

/* ---- lookups on the request path ------------------------------------- */

enum store_rc store_group_by_id(struct store *st, int64_t id,
				struct store_group *out);
/* case-insensitive */
enum store_rc store_group_by_name(struct store *st, const char *name,
				  struct store_group *out);

/*
 * Find a member by username and/or email (case-insensitive; either may be
 * NULL, not both; when both are given they must name the same member).
 * group_id > 0: the member must also belong to that group.
 */
enum store_rc store_member_find(struct store *st, const char *username,
				const char *email, int64_t group_id,
				struct store_member *out);

/* The member of the reset token with this hash, whatever the token's state
 * (used, expired, invalidated).  group_id > 0 as above. */
enum store_rc store_member_by_token(struct store *st,
				    const uint8_t hash[STORE_HASH_LEN],
				    int64_t group_id, struct store_member *out);

/* The member of the reset token with this hash while it can be used
 * (unused, not invalidated, unexpired); group_id > 0 as above.  One
 * STORE_NOT_FOUND for every way the token can fail. */
enum store_rc store_member_by_live_token(struct store *st,
					 const uint8_t hash[STORE_HASH_LEN],
					 int64_t group_id,
					 struct store_member *out);

/* The member behind an admin API token: OK only when the token is not
 * revoked and the member is an admin. */
enum store_rc store_admin_by_token(struct store *st,
				   const uint8_t hash[STORE_HASH_LEN],
				   struct store_member *out);

/* ---- the two steps -------------------------------------------------- */

/*
 * Step 1, atomically (one statement): invalidate the member's unused
 * tokens, store the new token's hash valid until now() + ttl_s, write the
 * mail to the outbox.  *mail_id receives the outbox row id.
 */
enum store_rc store_reset_issue(struct store *st, int64_t member_id,
				const uint8_t hash[STORE_HASH_LEN], int ttl_s,
				const struct store_mail *mail,
				int64_t *mail_id);

/* What step 1's statement counted: hits in the current windows, these
 * included. */
struct store_step1_counts {
	int64_t address; /* 0 when no address key was given */
	int64_t identifier;
};

/*
 * Step 1 before its answer, in one statement, the same work whether the
 * identifiers name a member or not: count one hit on addr_key (NULL: none)
 * in its shard and one on idkey (shard 0), both in windows of window_s
 * seconds, and look the member up as store_member_find() does — except
 * that username and email may both be NULL (they name nobody: only the
 * counters are hit).  STORE_NOT_FOUND with *counts filled when no member
 * matched.  Commits without waiting for the WAL flush.
 */
enum store_rc store_step1_lookup(struct store *st, const uint8_t *addr_key,
				 int shard, const uint8_t idkey[STORE_HASH_LEN],
				 int window_s, const char *username,
				 const char *email, int64_t group_id,
				 struct store_step1_counts *counts,
				 struct store_member *out);

/*
 * Step 1's write after its answer, in one statement: count one hit on
 * key (the member's budget, shard 0, window_s seconds); while the count
 * is within limit, do what store_reset_issue() does.  *count receives the
 * hits, *mail_id the outbox row (0 when over the limit and nothing was
 * written).  Commits without waiting for the WAL flush.
 */
enum store_rc store_reset_issue_limited(
    struct store *st, const uint8_t key[STORE_HASH_LEN], int window_s,
    int limit, int64_t member_id, const uint8_t hash[STORE_HASH_LEN], int ttl_s,
    const struct store_mail *mail, int64_t *count, int64_t *mail_id);

/* STORE_OK when hash is an unused, unexpired, not invalidated token of
 * this member; STORE_NOT_FOUND otherwise. */
enum store_rc store_token_valid(struct store *st, int64_t member_id,
				const uint8_t hash[STORE_HASH_LEN]);

/*
 * Step 2, atomically (one statement): consume the token only if it is
 * still valid (of N concurrent calls exactly one gets STORE_OK, the others
 * STORE_NOT_FOUND), store phc, set password_changed_at, clear the lock and
 * the failed-login count, invalidate the member's other tokens, write the
 * mail to the outbox and an audit row (client address, no secret).
 * claim_s > 0 writes the mail already claimed by the caller for claim_s
 * seconds, its first attempt counted (the caller sends it itself, see
 * mailer_send_claimed()); 0 leaves it to the mailers.
 */
enum store_rc store_reset_complete(struct store *st, int64_t member_id,
				   const uint8_t hash[STORE_HASH_LEN],
				   const char *phc,
				   const struct store_mail *mail,
				   const char *client, int claim_s,
				   int64_t *mail_id);

/* ---- rate limits ---------------------------------------------------- */

/* Count weight hits on key (an HMAC, never the identifier itself) in the
 * current window of window_s seconds, in its sub-row shard (0 for a count
 * that must be exact under concurrency, see STORE_COUNTER_SHARDS); *count
 * receives the hits of all shards in it, these included.  weight 0 only
 * reads the count.  Commits without waiting for the WAL flush. */
enum store_rc store_ratelimit_hit(struct store *st,
				  const uint8_t key[STORE_HASH_LEN], int shard,
				  int window_s, int weight, int64_t *count);

/* ---- members, groups, admin tokens (pwreset-ctl) --------------------- */

struct store_member_new {
	const char *username;
	const char *email;     /* NULL → none */
	const char *firstname; /* NULL → "" */
	const char *lastname;  /* NULL → "" */
	const char *status;    /* NULL → "activated" */
	bool admin;
	bool api;
	const char *phc; /* NULL → no password */
};

enum store_rc store_member_add(struct store *st,
			       const struct store_member_new *m, int64_t *id);
/* minutes > 0: lock until now() + minutes; 0: unlock (also clears the
 * failed-login count). */
enum store_rc store_member_lock(struct store *st, int64_t id, int minutes);
enum store_rc store_member_set_status(struct store *st, int64_t id,
				      const char *status);
/* Copy the member's PHC string; STORE_NOT_FOUND when it has none. */
enum store_rc store_member_password(struct store *st, int64_t id, char *phc,
				    size_t len);

enum store_rc store_group_add(struct store *st, const char *name,
			      const char *description, const char *template_set,
			      int64_t *id);
enum store_rc store_group_add_member(struct store *st, int64_t group_id,
				     int64_t member_id);

enum store_rc store_admin_token_add(struct store *st, int64_t member_id,
				    const uint8_t hash[STORE_HASH_LEN]);
/* Revoke every token of the member; *count receives how many. */
enum store_rc store_admin_token_revoke(struct store *st, int64_t member_id,
				       int *count);

enum store_rc store_audit(struct store *st, const char *event,
			  int64_t member_id, const char *client,
			  const char *detail);

/* ---- the mail outbox -------------------------------------------------- */

struct store_outbox_row {
	int64_t id;
	char kind[32];
	char recipient[400];
	char subject[400];
	char state[16]; /* pending | sent | failed */
	int attempts;
	char created_at[40];
	char next_attempt_at[40];
	char sent_at[40];
	char last_error[512];
};

typedef void store_outbox_cb(const struct store_outbox_row *row, void *arg);
enum store_rc store_mail_list(struct store *st, bool failed_only,
			      store_outbox_cb *cb, void *arg);
/* Make a failed row (id > 0) or every failed row (id == 0) pending again
 * with attempts reset; *count receives how many. */
enum store_rc store_mail_retry(struct store *st, int64_t id, int *count);

struct store_outbox_job {
	int64_t id;
	int attempts; /* including this one */
	char kind[32];
	char recipient[400];
	char *message; /* malloc'd; store_outbox_job_clear() frees it */
};
void store_outbox_job_clear(struct store_outbox_job *job);

/*
 * Claim one due row (id == 0) or that row (id > 0) if it is pending:
 * FOR UPDATE SKIP LOCKED, so two mailers never claim the same row; the row
 * is leased for lease_s seconds and its attempt counted.  STORE_NOT_FOUND
 * when nothing is due.
 */
enum store_rc store_mail_claim(struct store *st, int64_t id, int lease_s,
			       struct store_outbox_job *job);
/* Delivered: sent_at = now(), the message text (which may hold a token) is
 * wiped. */
enum store_rc store_mail_sent(struct store *st, int64_t id);
/* Handed over with no reply to it (SMTP_UNCONFIRMED): unconfirmed_at =
 * now(); the row is never claimed again until `pwreset-ctl mail retry`,
 * and keeps its text for that; store_purge() deletes it after 7 days. */
enum store_rc store_mail_unconfirmed(struct store *st, int64_t id,
				     const char *reason);
/* Not delivered: retry in retry_s seconds, or, when permanent, mark failed.
 * A failed row's text is wiped, like a sent one's (SPEC §8): `pwreset-ctl
 * mail retry` cannot send it again; store_purge() deletes the row after 7
 * days.  reason is the SMTP reply text. */
enum store_rc store_mail_failed(struct store *st, int64_t id,
				const char *reason, bool permanent,
				int retry_s);

/* LISTEN for new outbox rows; store_mail_wait() then sleeps until one is
 * written or timeout_ms passes (returns STORE_OK either way).  With
 * STORE_POOLING_TRANSACTION there is no LISTEN: store_mail_listen() only
 * connects and store_mail_wait() always waits out timeout_ms. */
enum store_rc store_mail_listen(struct store *st);
enum store_rc store_mail_wait(struct store *st, int timeout_ms);

/* ---- secrets ------------------------------------------------------- */

/* The 32-byte secret `name` ("ratelimit"), made by the database if it does
 * not exist yet. */
enum store_rc store_secret(struct store *st, const char *name,
			   uint8_t out[STORE_HASH_LEN]);

/* ---- statistics (pwreset-ctl stats) ---------------------------------- */

#define STORE_STATS_WINDOW_S 3600 /* the "recent" counts: the last hour */

/* What the database knows about the service's activity.  There is no
 * per-request table: requests show only through what they wrote. */
struct store_stats {
	int window_s;		    /* of the windowed counts below */
	int64_t outbox_pending;	    /* neither sent nor given up */
	int64_t outbox_deferred;    /* pending, next attempt in the future */
	int64_t outbox_failed;	    /* given up (text wiped), kept 7 days */
	int64_t oldest_pending_s;   /* age of the oldest pending row; -1 none */
	int64_t mail_sent;	    /* in the window */
	int64_t tokens_issued;	    /* reset tokens issued in the window */
	int64_t tokens_used;	    /* consumed by a password change */
	int64_t tokens_expired;	    /* expired unused in the window */
	int64_t tokens_invalidated; /* replaced by a newer token or a change */
	int64_t password_changes;   /* audit_log 'password-changed' */
};

/* Fill *out in one statement (one snapshot). */
enum store_rc store_stats(struct store *st, struct store_stats *out);

/* ---- housekeeping ----------------------------------------------------- */

/* Delete tokens expired/used/invalidated for more than a day, mail sent or
 * failed more than 7 days ago, rate-limit rows of past windows. */
enum store_rc store_purge(struct store *st, int64_t *tokens, int64_t *mails,
			  int64_t *limits);

#endif
