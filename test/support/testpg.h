/*
 * testpg.h — the preamble every cmocka program that needs PostgreSQL
 * shares: PWRESET_TEST_PG (the libpq conninfo of a throwaway database)
 * or a skip (exit 77), a migrated store, a raw libpq connection for what
 * the store API does not reach, and an emptied schema.
 */
#ifndef PWR_TESTPG_H
#define PWR_TESTPG_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "../../sql/store.h" /* relative: found from core/ and sql/ alike */

#define TESTPG_SKIP 77 /* meson's "skipped" exit status */

/* PWRESET_TEST_PG; when unset or empty, says so and exits TESTPG_SKIP. */
const char *testpg_conninfo(void);

/* A store on conninfo with every migration applied; NULL (the reason on
 * stderr) when migrating failed. */
struct store *testpg_store(const char *conninfo, int timeout_s);

/* A raw connection that prints only warnings; NULL (the reason on
 * stderr) when it cannot connect. */
PGconn *testpg_connect(const char *conninfo);

/* Run q on c; false when it failed (c's message says why). */
bool testpg_try(PGconn *c, const char *q);

/* Drop every table and function in c's current schema. */
bool testpg_reset_schema(PGconn *c);

#endif
