/*
 * test-store-schema.c — the migrations against a real PostgreSQL (see
 * teststore.h), from an emptied schema, alone and from several hosts
 * at once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "sql/migrations.h"
#include "sql/store.h"
#include "sql/teststore.h"
#include "test/support/testpg.h"

/* ---- schema ----------------------------------------------------------------
 */

static void
test_migrate(void **state)
{
	int applied = -1;

	(void)state;
	reset_db();
	assert_int_equal(store_migrate(st, &applied), STORE_OK);
	assert_int_equal(applied, (int)migrations_count);
	assert_int_equal(store_migrate(st, &applied), STORE_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(sql_int("SELECT count(*) FROM pwreset_schema"),
			 (long long)migrations_count);
	/* The migrations made a 32-byte secret, the same for every caller. */
	{
		uint8_t a[STORE_HASH_LEN] = {0}, b[STORE_HASH_LEN] = {0};
		uint8_t zero[STORE_HASH_LEN] = {0};

		assert_int_equal(store_secret(st, "ratelimit", a), STORE_OK);
		assert_int_equal(store_secret(st, "ratelimit", b), STORE_OK);
		assert_memory_equal(a, b, STORE_HASH_LEN);
		assert_memory_not_equal(a, zero, STORE_HASH_LEN);
		/* a lost secret is made again, not an error */
		sql("DELETE FROM pwreset_secret");
		assert_int_equal(store_secret(st, "ratelimit", b), STORE_OK);
		assert_memory_not_equal(a, b, STORE_HASH_LEN);
	}
	/* No advisory lock left behind. */
	assert_int_equal(sql_int("SELECT count(*) FROM pg_locks "
				 "WHERE locktype = 'advisory'"),
			 0);
}

static int
race_migrate(struct store *s, int out, void *arg)
{
	int applied = -1;

	(void)out;
	(void)arg;
	if (store_migrate(s, &applied) != STORE_OK) {
		fprintf(stderr, "migrate: %s\n", store_errmsg(s));
		return 100;
	}
	return applied;
}

/* Several hosts migrating at once: each migration is applied once. */
static void
test_migrate_concurrent(void **state)
{
	int codes[4], total = 0, applied = -1;

	(void)state;
	reset_db();
	race(4, race_migrate, NULL, -1, codes);
	for (int i = 0; i < 4; i++) {
		assert_true(codes[i] <= (int)migrations_count);
		total += codes[i];
	}
	assert_int_equal(total, (int)migrations_count);
	assert_int_equal(store_migrate(st, &applied), STORE_OK);
	assert_int_equal(applied, 0);
}

static int
newest_version(void)
{
	int v = 0;

	for (size_t i = 0; i < migrations_count; i++)
		if (migrations[i].version > v)
			v = migrations[i].version;
	return v;
}

/* The schema version: status reads without writing; an old schema is
 * STORE_SCHEMA_OLD for every statement outside the migrations, told once,
 * and a store notices a migration made elsewhere without reconnecting. */
static void
test_schema_status(void **state)
{
	struct store *s, *s2;
	struct store_schema sc;
	struct store_member m;
	int applied = -1, needed = newest_version();
	char q[200];

	(void)state;
	reset_db();
	s = store_open(conninfo, 5);

	/* Never migrated: everything pending, and nothing made. */
	assert_int_equal(store_schema_status(s, &sc), STORE_OK);
	assert_int_equal(sc.applied, 0);
	assert_int_equal(sc.needed, needed);
	assert_int_equal(sc.npending, (int)migrations_count);
	assert_int_equal(sc.pending[0].version, migrations[0].version);
	assert_string_equal(sc.pending[0].name, migrations[0].name);
	assert_int_equal(sql_int("SELECT count(*) FROM pg_class "
				 "WHERE relname = 'pwreset_schema'"),
			 0);

	/* A distinct answer, not STORE_ERROR, naming the fix. */
	assert_int_equal(store_schema_check(s), STORE_SCHEMA_OLD);
	assert_non_null(strstr(store_errmsg(s), "run pwreset-ctl migrate"));
	assert_int_equal(store_member_find(s, "alice", NULL, 0, &m),
			 STORE_SCHEMA_OLD);
	assert_true(store_schema_old_first(s));
	assert_false(store_schema_old_first(s));
	assert_int_equal(store_member_find(s, "alice", NULL, 0, &m),
			 STORE_SCHEMA_OLD);
	assert_false(store_schema_old_first(s));

	/* Migrated through the same store: current at once. */
	assert_int_equal(store_migrate(s, &applied), STORE_OK);
	assert_int_equal(applied, (int)migrations_count);
	assert_int_equal(store_schema_check(s), STORE_OK);
	assert_int_equal(store_member_find(s, "alice", NULL, 0, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(store_schema_status(s, &sc), STORE_OK);
	assert_int_equal(sc.applied, needed);
	assert_int_equal(sc.npending, 0);

	/* One migration missing (the newest): another store sees it... */
	snprintf(q, sizeof q, "DELETE FROM pwreset_schema WHERE version = %d",
		 needed);
	sql(q);
	s2 = store_open(conninfo, 5);
	assert_int_equal(store_schema_status(s2, &sc), STORE_OK);
	assert_int_equal(sc.npending, 1);
	assert_int_equal(sc.pending[0].version, needed);
	assert_true(sc.applied < needed);
	assert_int_equal(store_member_find(s2, "alice", NULL, 0, &m),
			 STORE_SCHEMA_OLD);
	assert_true(store_schema_old_first(s2));
	/* ...and notices it applied, within a second, on its connection. */
	snprintf(q, sizeof q,
		 "INSERT INTO pwreset_schema (version, name) VALUES (%d, 'x')",
		 needed);
	sql(q);
	sleep_ms(1100);
	assert_int_equal(store_member_find(s2, "alice", NULL, 0, &m),
			 STORE_NOT_FOUND);
	assert_false(store_schema_old_first(s2));
	store_close(s2);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrate),
	    cmocka_unit_test(test_migrate_concurrent),
	    cmocka_unit_test(test_schema_status),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup,
				      teststore_teardown);
}
