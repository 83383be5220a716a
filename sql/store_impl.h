/*
 * store_impl.h — the plumbing the files of sql/ share; nothing outside
 * sql/ includes it (callers include sql/store.h).
 *
 * The store is one connection (sql/store.c) and the statements that the
 * statement plumbing (sql/exec.c) runs on it.  Each concern owns its
 * statements: a file-local enum and const table of struct stmt_def, made
 * known to the plumbing as one struct store_part, listed in parts[] of
 * sql/store.c.  A statement is named by its part and its index there;
 * every one is prepared once per connection, on connect in the order of
 * parts[] and of each table, until the first that the schema does not
 * allow yet (the rest are prepared on first use).
 *
 * Nothing here logs; on an error the reason goes to st->errmsg through
 * store_set_err(), never a secret.
 */
#ifndef PWR_STORE_IMPL_H
#define PWR_STORE_IMPL_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/store.h"

#define STORE_SLACK_MS	 1000 /* our wait beyond statement_timeout */
#define STORE_MAX_PARAMS 10
#define STORE_PART_MAX	 32 /* statements of one part */

/* A timestamptz column as ISO 8601 UTC, "" when NULL. */
#define ISO(x)                                                                 \
	"coalesce(to_char((" x ") AT TIME ZONE 'UTC', "                        \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

/* The parts, in the order their statements are prepared on connect: the
 * first two need no table of ours, and the secret comes last (migration
 * 002 makes its table). */
/*
 * Rate-limit counters (rate_limit, migrations 001 and 005), shared by
 * limits.c and step 1's statement in reset.c.  COUNTER_WINDOW(w) is the
 * start of the current window of $w seconds, made available as w.s by a
 * `w AS (SELECT ... AS s)` CTE; COUNTER_HIT adds weight hits to one
 * (key, window, shard) row.  A row's lock is held to the commit, so a
 * counter that many workers hit at once is split into shards, one per
 * worker, summed by COUNTER_OTHERS; the exact ones stay in shard 0.
 */
#define COUNTER_WINDOW(w)                                                      \
	"w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $" w      \
	"::int) * $" w "::int) AS s)"
#define COUNTER_HIT(key, shard, weight, w)                                     \
	"INSERT INTO rate_limit AS r "                                         \
	"(key, shard, window_start, window_end, hits) "                        \
	"SELECT " key ", " shard ", w.s, w.s + make_interval(secs => $" w      \
	"::int), " weight " FROM w "
#define COUNTER_UPSERT                                                         \
	"ON CONFLICT (key, window_start, shard) "                              \
	"DO UPDATE SET hits = r.hits + EXCLUDED.hits RETURNING hits"
#define COUNTER_OTHERS(key, shard)                                             \
	"(SELECT coalesce(sum(o.hits), 0) FROM rate_limit o, w "               \
	"WHERE o.key = " key " AND o.window_start = w.s "                      \
	"AND o.shard <> " shard ")"
/*
 * Commit the statement's implicit transaction without waiting for the WAL
 * flush: step 1's writes and the counters, whose loss in a crash costs at
 * most the last moments' counter ticks or a token the member asks for
 * again (step 2's password change keeps the server's synchronous commit).
 * Local to the transaction, so nothing stays set on the connection (a
 * pooler's server connection included).  A column of the statement, so
 * that it is evaluated; the caller ignores its value.
 */
#define ASYNC_COMMIT "set_config('synchronous_commit', 'off', true)"

enum store_part_id {
	PART_CONN,   /* sql/store.c: LISTEN */
	PART_SCHEMA, /* sql/schema.c: migrations */
	PART_RESET,  /* sql/reset.c: lookups and the two steps */
	PART_ADMIN,  /* sql/admin.c: members, groups, admin tokens */
	PART_OUTBOX, /* sql/outbox.c: the mail queue, purge */
	PART_STATS,  /* sql/stats.c */
	PART_LIMITS, /* sql/limits.c: rate limits, secrets */
	PART__MAX
};

struct stmt_def {
	const char *name; /* of the prepared statement, unique in the store */
	int nparams;
	const char *sql;
};

struct store_part {
	enum store_part_id id; /* its index in parts[] */
	const struct stmt_def *stmts;
	int count; /* <= STORE_PART_MAX */
};

extern const struct store_part store_part_conn, store_part_schema,
    store_part_reset, store_part_admin, store_part_outbox, store_part_stats,
    store_part_limits;

struct store {
	char *conninfo; /* owned; may hold a password: wiped on close */
	int timeout_s;
	PGconn *conn; /* NULL: (re)connect on the next call */
	/* STORE_POOLING_TRANSACTION: statements go unnamed, no session
	 * settings, no LISTEN (sql/store.c, sql/exec.c). */
	bool pooled;
	bool prepared[PART__MAX][STORE_PART_MAX];
	bool listening;	       /* LISTEN again after a reconnect */
	bool doomed;	       /* the server said goodbye while we idled */
	int64_t hold_until_ms; /* CLOCK_MONOTONIC; no connect attempt before */
	/* The schema version check (sql/schema.c). */
	bool schema_current;	/* every compiled-in migration is applied */
	bool schema_told;	/* store_schema_old_first() said true */
	int schema_applied;	/* the newest applied, when not current */
	int64_t schema_next_ms; /* no new read before (0: at once) */
	int64_t hold_ms;	/* the last hold; 0 after a success */
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

/* ---- the connection (sql/store.c) -------------------------------------- */

/* The statement s of part id (aborts on a hole in a table). */
const struct stmt_def *store_stmt(enum store_part_id id, int s);
/* The statement with this prepared-statement name, NULL when none
 * (test/bench/sqldump). */
const struct stmt_def *store_stmt_named(const char *name);
/* Close the connection; the next call reconnects. */
void store_drop(struct store *st);
/* Make sure there is a live connection (reconnects). */
enum store_rc store_ready(struct store *st);
/* Read what arrived on an idle connection; false when it is dead. */
bool store_idle_input(struct store *st);
int64_t store_now_ms(void);
/* store_ready(), then STORE_SCHEMA_OLD unless every compiled-in migration
 * is applied (sql/schema.c); the statements of every part but the
 * connection's and the schema's run only through it. */
enum store_rc store_ready_current(struct store *st);
/* LISTEN for new outbox rows, now and after every reconnect. */
enum store_rc store_listen(struct store *st);

/* ---- statements (sql/exec.c) ------------------------------------------- */

/* The last error, on one line (libpq's messages end in newlines). */
__attribute__((format(printf, 2, 3))) void store_set_err(struct store *st,
							 const char *fmt, ...);
/* A value of statement s that does not parse: STORE_ERROR. */
enum store_rc store_bad_value(struct store *st, enum store_part_id id, int s);
/* Classify a failed statement (res NULL when sending failed); a lost
 * connection is dropped. */
enum store_rc store_fail(struct store *st, const PGresult *res,
			 const char *what);
bool store_res_ok(const PGresult *r);
/* Collect the answer to what was just sent, waiting at most timeout_ms
 * (< 0: no limit); the caller PQclear()s *res. */
enum store_rc store_collect(struct store *st, int timeout_ms, PGresult **res,
			    const char *what);
enum store_rc store_prepare(struct store *st, enum store_part_id id, int s);
/* Run a prepared statement; on STORE_OK *out is its result (PQclear it).
 * A deadlock victim runs again (see sql/exec.c). */
enum store_rc store_exec_t(struct store *st, enum store_part_id id, int s,
			   const struct params *p, int timeout_ms,
			   PGresult **out);
/* The same with the statement timeout plus STORE_SLACK_MS. */
enum store_rc store_exec(struct store *st, enum store_part_id id, int s,
			 const struct params *p, PGresult **out);
/* A statement whose result is not needed. */
enum store_rc store_run(struct store *st, enum store_part_id id, int s,
			const struct params *p);
/* A statement that must return a row: STORE_NOT_FOUND when none. */
enum store_rc store_one(struct store *st, enum store_part_id id, int s,
			const struct params *p, PGresult **out);
/* An UPDATE/DELETE: *count (may be NULL) gets the rows touched;
 * STORE_NOT_FOUND when none and count is NULL. */
enum store_rc store_change(struct store *st, enum store_part_id id, int s,
			   const struct params *p, int64_t *count);
/* The id a statement RETURNs; STORE_NOT_FOUND when it returned no row. */
enum store_rc store_returning_id(struct store *st, enum store_part_id id, int s,
				 const struct params *p, int64_t *out);

/* ---- small helpers ------------------------------------------------------ */

static inline char *
store_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		abort();
	return p;
}

/* Copy src (NULL → "") into dst[len], cutting at a UTF-8 character
 * boundary when it does not fit. */
static inline void
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

static inline void
param_text(struct params *p, const char *s)
{
	if (p->n >= STORE_MAX_PARAMS)
		abort();
	p->val[p->n] = s; /* NULL → SQL NULL */
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static inline void
param_int(struct params *p, int64_t v)
{
	if (p->n >= STORE_MAX_PARAMS)
		abort();
	snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
	param_text(p, p->num[p->n]);
}

static inline void
param_bool(struct params *p, bool v)
{
	param_text(p, v ? "true" : "false");
}

/* A token hash, sent as binary bytea. */
static inline void
param_hash(struct params *p, const uint8_t hash[STORE_HASH_LEN])
{
	if (p->n >= STORE_MAX_PARAMS)
		abort();
	p->val[p->n] = (const char *)hash;
	p->len[p->n] = STORE_HASH_LEN;
	p->fmt[p->n] = 1;
	p->n++;
}

static inline const char *
get_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

static inline bool
get_bool(const PGresult *r, int row, int col)
{
	return get_text(r, row, col)[0] == 't';
}

static inline bool
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

static inline bool
get_int(const PGresult *r, int row, int col, int *v)
{
	int64_t x;

	if (!get_int64(r, row, col, &x) || x < INT_MIN || x > INT_MAX)
		return false;
	*v = (int)x;
	return true;
}

static inline int
clamp_int(int64_t v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

#endif
