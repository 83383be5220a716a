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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrate),
	    cmocka_unit_test(test_migrate_concurrent),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup,
				      teststore_teardown);
}
