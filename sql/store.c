/*
 * store.c — the store's connection (see store.h for the contract, and
 * store_impl.h for how the files of sql/ share it).
 *
 * The statements live with their concerns (schema.c, reset.c, admin.c,
 * outbox.c, stats.c, limits.c), each a table registered in parts[] below;
 * exec.c runs them.  Right after connecting every statement is prepared,
 * part by part, for as long as the schema allows (on a fresh database the
 * tables appear only with store_migrate(), so the rest are prepared on
 * first use).  The only SQL sent otherwise is the text of the compiled-in
 * migrations.
 *
 * Ownership: struct store owns its PGconn and a copy of the conninfo (which
 * may hold a password: wiped on close).  Nothing is logged from here; the
 * last error is kept in st->errmsg without secrets.
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

#include "sql/store_impl.h"

#define STORE_DEFAULT_TIMEOUT_S 5
#define STORE_MAX_TIMEOUT_S	3600
#define STORE_HOLD_MS		1000  /* no new connect attempt sooner, */
#define STORE_HOLD_MAX_MS	30000 /* doubling per slow failure up to this */
#define STORE_SLOW_CONNECT_MS	500   /* a failed attempt this long is slow */
#define KEEPALIVE_IDLE_S	"10"
#define KEEPALIVE_INTERVAL_S	"3"
#define KEEPALIVE_COUNT		"3"

/* The connection's own statement: a mailer's LISTEN is made again on
 * every new connection once store_listen() was called. */
enum conn_stmt { STMT_LISTEN, CONN_STMT__MAX };

static const struct stmt_def stmts[] = {
    [STMT_LISTEN] = {"listen", 0, "LISTEN pwreset_mail"},
};
_Static_assert(sizeof stmts / sizeof stmts[0] == CONN_STMT__MAX,
	       "stmts[] and enum conn_stmt out of step");
_Static_assert(CONN_STMT__MAX <= STORE_PART_MAX, "raise STORE_PART_MAX");

const struct store_part store_part_conn = {PART_CONN, stmts, CONN_STMT__MAX};

/* Every part's statements, in the order they are prepared on connect. */
static const struct store_part *const parts[] = {
    [PART_CONN] = &store_part_conn,	[PART_SCHEMA] = &store_part_schema,
    [PART_RESET] = &store_part_reset,	[PART_ADMIN] = &store_part_admin,
    [PART_OUTBOX] = &store_part_outbox, [PART_STATS] = &store_part_stats,
    [PART_LIMITS] = &store_part_limits,
};
_Static_assert(sizeof parts / sizeof parts[0] == PART__MAX,
	       "parts[] and enum store_part_id out of step");

const struct stmt_def *
store_stmt(enum store_part_id id, int s)
{
	const struct store_part *part = parts[id];

	/* A part out of place, a statement past its table or a hole in it. */
	if (part->id != id || s < 0 || s >= part->count ||
	    part->count > STORE_PART_MAX || part->stmts[s].sql == NULL)
		abort();
	return &part->stmts[s];
}

const struct stmt_def *
store_stmt_named(const char *name)
{
	for (int id = 0; id < PART__MAX; id++)
		for (int s = 0; s < parts[id]->count; s++)
			if (strcmp(parts[id]->stmts[s].name, name) == 0)
				return store_stmt((enum store_part_id)id, s);
	return NULL;
}

/* ---- small helpers ------------------------------------------------------ */

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		abort();
	return p;
}

int64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

void
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
		store_set_err(st, "the database conninfo does not parse");
		return NULL;
	}
	max = 16;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		max++;
	kw = xcalloc(max, sizeof *kw);
	val = xcalloc(max, sizeof *val);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL ||
		    (!st->pooled && strcmp(o->keyword, "options") == 0) ||
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
	 *   of STMT_RESET_COMPLETE (reset.c) relies on its re-check of
	 *   the WHERE after a row lock (REPEATABLE READ would raise 40001
	 *   instead).
	 * Behind a transaction pooler (st->pooled) none of this is sent:
	 * PgBouncer 1.18 refuses a connection with an `options` startup
	 * parameter, and a SET would stay on whichever server session ran
	 * it.  The timeouts and the isolation level are then the role's
	 * settings (ALTER ROLE … SET, pwreset.conf(5)); our own wait
	 * (store_collect) stays bounded by the timeout either way.
	 * enable_seqscan is not needed there: an unnamed statement is
	 * planned for each execution with the table's current size.  The
	 * conninfo's own options, if any, are passed as written.
	 */
	if (!st->pooled) {
		user_options = opt_value(opts, "options");
		if (asprintf(
			&options,
			"%s%s-c statement_timeout=%d -c lock_timeout=%d "
			"-c idle_in_transaction_session_timeout=%d "
			"-c enable_seqscan=off "
			"-c default_transaction_isolation=read\\ committed",
			user_options ? user_options : "",
			user_options ? " " : "", ms, ms / 2, 2 * ms) < 0)
			abort();
		kw[n] = "options";
		val[n++] = options;
	}
	kw[n] = NULL;
	val[n] = NULL;

	conn = PQconnectdbParams(kw, val, 0);
	if (conn == NULL)
		abort();
	if (PQstatus(conn) != CONNECTION_OK) {
		store_set_err(st, "cannot connect to %s: %s", st->target,
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

enum store_rc
store_connect(struct store *st)
{
	struct params none = {0};
	PGresult *res = NULL;
	enum store_rc rc;
	int64_t started;

	if (st->conn != NULL)
		return STORE_OK;
	/* Right after a failed attempt, answer at once: a worker then
	 * returns 0503 quickly and the server is not stormed. */
	if (store_now_ms() < st->hold_until_ms)
		return STORE_UNAVAILABLE;
	started = store_now_ms();
	st->conn = store_dial(st);
	if (st->conn == NULL)
		goto fail;
	PQsetNoticeReceiver(st->conn, notice_receive, st);
	memset(st->prepared, 0, sizeof st->prepared);
	store_target_update(st);

	/* Prepare what the schema allows; the rest on first use.  Behind a
	 * transaction pooler nothing is prepared (sql/exec.c). */
	rc = STORE_OK;
	for (int id = 0; !st->pooled && rc == STORE_OK && id < PART__MAX; id++)
		for (int s = 0; rc == STORE_OK && s < parts[id]->count; s++)
			rc = store_prepare(st, (enum store_part_id)id, s);
	if (rc == STORE_UNAVAILABLE)
		goto fail;
	st->errmsg[0] = '\0';
	if (st->listening) {
		rc = store_exec_t(st, PART_CONN, STMT_LISTEN, &none,
				  st->timeout_s * 1000 + STORE_SLACK_MS, &res);
		PQclear(res);
		if (rc != STORE_OK)
			goto fail;
	}
	st->hold_until_ms = 0;
	st->hold_ms = 0;
	return STORE_OK;
fail:
	if (st->conn != NULL)
		store_drop(st);
	/* A refused connection costs nothing: try again after a second, so
	 * a restarted server is used at once.  A slow failure (a database
	 * that drops packets costs each attempt the whole connect timeout)
	 * doubles the hold, else the worker would spend most requests
	 * waiting on it. */
	if (store_now_ms() - started < STORE_SLOW_CONNECT_MS)
		st->hold_ms = STORE_HOLD_MS;
	else if (st->hold_ms >= STORE_HOLD_MAX_MS / 2)
		st->hold_ms = STORE_HOLD_MAX_MS;
	else
		st->hold_ms =
		    st->hold_ms > 0 ? st->hold_ms * 2 : 2 * STORE_HOLD_MS;
	st->hold_until_ms = store_now_ms() + st->hold_ms;
	return STORE_UNAVAILABLE;
}

/*
 * Read what arrived on an idle connection: notifications (kept for
 * PQnotifies), or the server saying goodbye (a FATAL notice, then EOF).
 * PQconsumeInput() reads once and PQisBusy() parses; EOF shows on a later
 * read, hence the loop, bounded against a stream of notifications.
 * False when the connection is dead.
 */
bool
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
enum store_rc
store_ready(struct store *st)
{
	if (st->conn != NULL && !store_idle_input(st))
		store_drop(st);
	return store_connect(st);
}

/* ---- lifetime --------------------------------------------------------- */

struct store *
store_open(const char *conninfo, int timeout_s)
{
	struct store *st = xcalloc(1, sizeof *st);

	st->conninfo = store_xstrdup(conninfo ? conninfo : "");
	st->timeout_s = timeout_s > 0
			    ? clamp_int(timeout_s, 1, STORE_MAX_TIMEOUT_S)
			    : STORE_DEFAULT_TIMEOUT_S;
	store_target_init(st);
	return st;
}

void
store_set_pooling(struct store *st, enum store_pooling pooling)
{
	st->pooled = pooling == STORE_POOLING_TRANSACTION;
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

/* ---- LISTEN ------------------------------------------------------------- */

enum store_rc
store_listen(struct store *st)
{
	struct params none = {0};
	bool fresh = st->conn == NULL;
	enum store_rc rc;

	/* A LISTEN behind a transaction pooler would hold one server
	 * session for as long as we live (PgBouncer refuses it in
	 * transaction mode anyway): the mailer polls instead. */
	if (st->pooled)
		return store_ready(st);
	st->listening = true;
	rc = store_ready(st); /* a new connection LISTENs by itself */
	if (rc != STORE_OK || fresh)
		return rc;
	return store_run(st, PART_CONN, STMT_LISTEN, &none);
}
