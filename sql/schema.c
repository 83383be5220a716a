/*
 * schema.c — store_migrate(): the compiled-in migrations (migrations.h),
 * each applied once, in its own transaction, under an advisory lock so
 * that several hosts starting at once apply each migration once; and the
 * schema version check: every statement outside the connection's and this
 * file's own needs every compiled-in migration applied, else it answers
 * STORE_SCHEMA_OLD (a worker's 0503) instead of failing on a missing
 * table or column (0500).
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/migrations.h"
#include "sql/store_impl.h"

/* pg_advisory_lock() key of store_migrate(): "pwreset!" as a bigint. */
#define MIGRATE_LOCK_KEY "8104071834529788961"

/* How often a store on an old schema reads the version again. */
#define SCHEMA_RECHECK_MS 1000

/* The first seven need no table of ours: prepared on every connect. */
enum schema_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SET_TIMEOUTS,
	STMT_LOCK,
	STMT_UNLOCK,
	STMT_SCHEMA_EXISTS,
	STMT_SCHEMA_CREATE,
	STMT_SCHEMA_VERSIONS,
	STMT_SCHEMA_RECORD,
	SCHEMA_STMT__MAX
};

static const struct stmt_def stmts[] = {
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
    /* Asks without failing on a database never migrated. */
    [STMT_SCHEMA_EXISTS] = {"schema_exists", 0,
			    "SELECT to_regclass('pwreset_schema') IS NOT NULL"},
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
};
_Static_assert(sizeof stmts / sizeof stmts[0] == SCHEMA_STMT__MAX,
	       "stmts[] and enum schema_stmt out of step");
_Static_assert(SCHEMA_STMT__MAX <= STORE_PART_MAX, "raise STORE_PART_MAX");

const struct store_part store_part_schema = {PART_SCHEMA, stmts,
					     SCHEMA_STMT__MAX};

/* statement_timeout and lock_timeout of the session, in ms (0: none). */
static enum store_rc
store_set_timeouts(struct store *st, int statement_ms, int lock_ms)
{
	struct params p = {0};

	param_int(&p, statement_ms);
	param_int(&p, lock_ms);
	return store_run(st, PART_SCHEMA, STMT_SET_TIMEOUTS, &p);
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
	if (!store_res_ok(res))
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
	/* The lock and the timeouts below belong to a server session, which
	 * a transaction pooler does not keep for us. */
	if (st->pooled) {
		store_set_err(st, "migrations need a session of their own: run "
				  "them with a conninfo that reaches "
				  "PostgreSQL directly and pooling = session");
		return STORE_ERROR;
	}
	rc = store_ready(st);
	if (rc != STORE_OK)
		return rc;
	/* Waiting for another host's migration, or a long ALTER, must not
	 * hit the request-path timeouts. */
	rc = store_set_timeouts(st, 0, 0);
	if (rc != STORE_OK)
		goto out;
	rc = store_exec_t(st, PART_SCHEMA, STMT_LOCK, &none, -1, &res);
	PQclear(res);
	if (rc != STORE_OK)
		goto out;
	locked = true;
	rc = store_run(st, PART_SCHEMA, STMT_SCHEMA_CREATE, &none);
	if (rc != STORE_OK)
		goto out;
	rc =
	    store_exec(st, PART_SCHEMA, STMT_SCHEMA_VERSIONS, &none, &versions);
	if (rc != STORE_OK)
		goto out;

	for (size_t i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		struct params p = {0};

		if (version_recorded(versions, m->version))
			continue;
		param_int(&p, m->version);
		param_text(&p, m->name);
		rc = store_run(st, PART_SCHEMA, STMT_BEGIN, &none);
		if (rc == STORE_OK)
			rc = store_run_script(st, m);
		if (rc == STORE_OK)
			rc = store_run(st, PART_SCHEMA, STMT_SCHEMA_RECORD, &p);
		if (rc == STORE_OK)
			rc = store_run(st, PART_SCHEMA, STMT_COMMIT, &none);
		if (rc != STORE_OK) {
			if (st->conn != NULL) {
				memcpy(saved, st->errmsg, sizeof saved);
				store_run(st, PART_SCHEMA, STMT_ROLLBACK,
					  &none);
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
		store_exec(st, PART_SCHEMA, STMT_UNLOCK, &none, &res);
		PQclear(res);
	}
	if (st->conn != NULL)
		store_set_timeouts(st, st->timeout_s * 1000,
				   st->timeout_s * 1000 / 2);
	if (rc != STORE_OK)
		memcpy(st->errmsg, saved, sizeof saved);
	st->schema_next_ms = 0; /* read the version again on the next call */
	return rc;
}

/* The newest compiled-in migration: the version these binaries need. */
static int
schema_needed(void)
{
	int needed = 0;

	for (size_t i = 0; i < migrations_count; i++)
		if (migrations[i].version > needed)
			needed = migrations[i].version;
	return needed;
}

/* Fill *out from the database, on the live connection; changes nothing. */
static enum store_rc
schema_read(struct store *st, struct store_schema *out)
{
	struct params none = {0};
	PGresult *res = NULL;
	enum store_rc rc;
	bool exists;

	memset(out, 0, sizeof *out);
	out->needed = schema_needed();
	rc = store_one(st, PART_SCHEMA, STMT_SCHEMA_EXISTS, &none, &res);
	if (rc != STORE_OK)
		goto out;
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	res = NULL;
	if (exists) {
		rc = store_exec(st, PART_SCHEMA, STMT_SCHEMA_VERSIONS, &none,
				&res);
		if (rc != STORE_OK)
			goto out;
		for (int i = 0; i < PQntuples(res); i++) {
			int v;

			if (!get_int(res, i, 0, &v)) {
				rc = store_bad_value(st, PART_SCHEMA,
						     STMT_SCHEMA_VERSIONS);
				goto out;
			}
			if (v > out->applied)
				out->applied = v;
		}
	}
	for (size_t i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];

		if (res != NULL && version_recorded(res, m->version))
			continue;
		if (out->npending < STORE_SCHEMA_PENDING_MAX) {
			out->pending[out->npending].version = m->version;
			out->pending[out->npending].name = m->name;
		}
		out->npending++;
	}
out:
	PQclear(res);
	return rc;
}

enum store_rc
store_schema_status(struct store *st, struct store_schema *out)
{
	enum store_rc rc;

	memset(out, 0, sizeof *out);
	out->needed = schema_needed();
	rc = store_ready(st);
	if (rc != STORE_OK)
		return rc;
	return schema_read(st, out);
}

/*
 * Once the schema was found current it stays so for the store's life
 * (migrations only add); while it is old it is read again at most once a
 * second, so a worker notices `pwreset-ctl migrate` without a restart and
 * without a query per request.
 */
enum store_rc
store_ready_current(struct store *st)
{
	struct store_schema s;
	enum store_rc rc;

	rc = store_ready(st);
	if (rc != STORE_OK || st->schema_current)
		return rc;
	if (st->schema_next_ms == 0 || store_now_ms() >= st->schema_next_ms) {
		rc = schema_read(st, &s);
		if (rc != STORE_OK)
			return rc;
		st->schema_applied = s.applied;
		if (s.npending == 0) {
			st->schema_current = true;
			st->schema_told = false;
			st->schema_next_ms = 0;
			return STORE_OK;
		}
		st->schema_next_ms = store_now_ms() + SCHEMA_RECHECK_MS;
	}
	store_set_err(st,
		      "the database schema is at version %d, this build needs "
		      "%d: run pwreset-ctl migrate",
		      st->schema_applied, schema_needed());
	return STORE_SCHEMA_OLD;
}

enum store_rc
store_schema_check(struct store *st)
{
	return store_ready_current(st);
}

bool
store_schema_old_first(struct store *st)
{
	if (st->schema_current || st->schema_told)
		return false;
	st->schema_told = true;
	return true;
}
