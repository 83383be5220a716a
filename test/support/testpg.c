/*
 * testpg.c — see testpg.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "testpg.h"

const char *
testpg_conninfo(void)
{
	const char *conninfo = getenv("PWRESET_TEST_PG");

	if (conninfo == NULL || *conninfo == '\0') {
		printf("PWRESET_TEST_PG is not set: skipped (it needs the "
		       "conninfo of an empty throwaway database)\n");
		exit(TESTPG_SKIP);
	}
	return conninfo;
}

struct store *
testpg_store(const char *conninfo, int timeout_s)
{
	struct store *st = store_open(conninfo, timeout_s);
	int applied;

	if (store_migrate(st, &applied) != STORE_OK) {
		fprintf(stderr, "migrate: %s\n", store_errmsg(st));
		store_close(st);
		return NULL;
	}
	return st;
}

PGconn *
testpg_connect(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "PWRESET_TEST_PG: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

bool
testpg_try(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	ExecStatusType s = PQresultStatus(r);

	PQclear(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

bool
testpg_reset_schema(PGconn *c)
{
	return testpg_try(
	    c, "DO $$ DECLARE r record; BEGIN "
	       "FOR r IN SELECT tablename FROM pg_tables "
	       "WHERE schemaname = current_schema() LOOP "
	       "EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', "
	       "r.tablename); "
	       "END LOOP; "
	       "FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p "
	       "JOIN pg_namespace n ON n.oid = p.pronamespace "
	       "WHERE n.nspname = current_schema() LOOP "
	       "EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.f); "
	       "END LOOP; END $$");
}
