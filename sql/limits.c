/*
 * limits.c — rate-limit counters (one row per key and window) and the
 * database-made secrets their keys are HMACs with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/store_impl.h"

enum limits_stmt { STMT_RATELIMIT_HIT, STMT_SECRET, LIMITS_STMT__MAX };

static const struct stmt_def stmts[] = {
    /* The count is this shard's row plus the others' as this statement
     * sees them: a sharded counter may overshoot by the hits of workers
     * counting at the same instant (not shard 0's, which is one row). */
    [STMT_RATELIMIT_HIT] = {"ratelimit_hit", 4,
			    "WITH " COUNTER_WINDOW(
				"2") ", "
				     "hit AS (" COUNTER_HIT(
					 "$1::bytea", "$4::int", "$3::int", "2")
					 COUNTER_UPSERT
			    ") "
			    "SELECT (SELECT hits FROM hit) + " COUNTER_OTHERS(
				"$1::bytea", "$4::int") ", " ASYNC_COMMIT},
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
};
_Static_assert(sizeof stmts / sizeof stmts[0] == LIMITS_STMT__MAX,
	       "stmts[] and enum limits_stmt out of step");
_Static_assert(LIMITS_STMT__MAX <= STORE_PART_MAX, "raise STORE_PART_MAX");

const struct store_part store_part_limits = {PART_LIMITS, stmts,
					     LIMITS_STMT__MAX};

enum store_rc
store_ratelimit_hit(struct store *st, const uint8_t key[STORE_HASH_LEN],
		    int shard, int window_s, int weight, int64_t *count)
{
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	*count = 0;
	if (window_s <= 0 || weight < 0 || shard < 0 ||
	    shard >= STORE_COUNTER_SHARDS) {
		store_set_err(st,
			      "store_ratelimit_hit: window must be positive, "
			      "weight not negative, shard in range");
		return STORE_ERROR;
	}
	param_hash(&p, key);
	param_int(&p, window_s);
	param_int(&p, weight);
	param_int(&p, shard);
	rc = store_one(st, PART_LIMITS, STMT_RATELIMIT_HIT, &p, &res);
	if (rc == STORE_OK && !get_int64(res, 0, 0, count))
		rc = store_bad_value(st, PART_LIMITS, STMT_RATELIMIT_HIT);
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
	rc = store_one(st, PART_LIMITS, STMT_SECRET, &p, &res);
	/* Made at the same instant by another process: its row is not in
	 * this statement's snapshot yet, the next statement sees it. */
	if (rc == STORE_NOT_FOUND)
		rc = store_one(st, PART_LIMITS, STMT_SECRET, &p, &res);
	if (rc == STORE_OK) {
		size_t len = 0;
		unsigned char *v = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(res, 0, 0), &len);

		if (v == NULL || len != STORE_HASH_LEN) {
			rc = store_bad_value(st, PART_LIMITS, STMT_SECRET);
		} else {
			memcpy(out, v, STORE_HASH_LEN);
			explicit_bzero(v, len);
		}
		PQfreemem(v);
	}
	PQclear(res);
	return rc;
}
