/*
 * test-store-limits.c — rate-limit counters against a real PostgreSQL (see
 * teststore.h).
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

#include "sql/store.h"
#include "sql/teststore.h"
#include "test/support/testpg.h"

/* ---- rate limits
 * -------------------------------------------------------------- */

static void
test_ratelimit(void **state)
{
	uint8_t k1[STORE_HASH_LEN], k2[STORE_HASH_LEN], k3[STORE_HASH_LEN];
	int64_t n = -1;

	(void)state;
	hash_of(k1, 30);
	hash_of(k2, 31);
	hash_of(k3, 32);
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 3, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_ratelimit_hit(st, k2, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 1, &n), STORE_ERROR);
	/* weight 0 reads the count without adding to it */
	assert_int_equal(store_ratelimit_hit(st, k1, 3600, 0, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_ratelimit_hit(st, k1, 60, -1, &n), STORE_ERROR);
	/* A new window starts from zero. */
	assert_int_equal(store_ratelimit_hit(st, k3, 1, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	sleep_ms(1100);
	assert_int_equal(store_ratelimit_hit(st, k3, 1, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	/* Windows are aligned on the epoch and end window_s later. */
	assert_int_equal(sql_int("SELECT count(*) FROM rate_limit WHERE "
				 "extract(epoch FROM window_start)::bigint "
				 "%% 3600 <> 0 AND hits = 5"),
			 0);
	assert_int_equal(sql_int("SELECT count(*) FROM rate_limit WHERE "
				 "window_end - window_start <> "
				 "interval '1 hour' AND hits = 5"),
			 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ratelimit),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup_members,
				      teststore_teardown);
}
