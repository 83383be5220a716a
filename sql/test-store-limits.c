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
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 3600, 3, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_ratelimit_hit(st, k2, 0, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 0, 1, &n), STORE_ERROR);
	/* weight 0 reads the count without adding to it */
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 3600, 0, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_ratelimit_hit(st, k1, 0, 60, -1, &n),
			 STORE_ERROR);
	/* A new window starts from zero. */
	assert_int_equal(store_ratelimit_hit(st, k3, 0, 1, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	sleep_ms(1100);
	assert_int_equal(store_ratelimit_hit(st, k3, 0, 1, 1, &n), STORE_OK);
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

/* A sharded counter is the sum of its sub-rows, each its own row. */
static void
test_ratelimit_shards(void **state)
{
	uint8_t k[STORE_HASH_LEN];
	int64_t n = -1;

	(void)state;
	hash_of(k, 33);
	assert_int_equal(store_ratelimit_hit(st, k, 1, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ratelimit_hit(st, k, 2, 3600, 2, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(store_ratelimit_hit(st, k, 1, 3600, 1, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_ratelimit_hit(st, k, 0, 3600, 0, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(
	    sql_int("SELECT count(*) FROM rate_limit WHERE key = "
		    "(SELECT key FROM rate_limit WHERE shard = 2)"),
	    3); /* shards 1, 2 and the read's 0 */
	assert_int_equal(
	    store_ratelimit_hit(st, k, STORE_COUNTER_SHARDS, 3600, 1, &n),
	    STORE_ERROR);
	assert_int_equal(store_ratelimit_hit(st, k, -1, 3600, 1, &n),
			 STORE_ERROR);
}

/* Step 1's statement: both counters and the lookup, the same writes
 * whether a member is found or not. */
static void
test_step1_lookup(void **state)
{
	uint8_t addr[STORE_HASH_LEN], id1[STORE_HASH_LEN], id2[STORE_HASH_LEN];
	struct store_step1_counts n;
	struct store_member m;
	long long rows;

	(void)state;
	hash_of(addr, 40);
	hash_of(id1, 41);
	hash_of(id2, 42);
	rows = sql_int("SELECT count(*) FROM rate_limit");
	assert_int_equal(store_step1_lookup(st, addr, 5, id1, 3600, "alice",
					    NULL, 0, &n, &m),
			 STORE_OK);
	assert_int_equal(m.id, alice);
	assert_string_equal(m.email, "Alice@Example.org");
	assert_int_equal(n.address, 1);
	assert_int_equal(n.identifier, 1);
	/* Unknown: counted the same, two rows written each time. */
	assert_int_equal(store_step1_lookup(st, addr, 6, id2, 3600, NULL,
					    "nobody@example.org", 0, &n, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(m.id, 0);
	assert_int_equal(n.address, 2); /* shard 5's hit and shard 6's */
	assert_int_equal(n.identifier, 1);
	assert_int_equal(sql_int("SELECT count(*) FROM rate_limit"), rows + 4);
	/* Both identifiers must name the member; in a group, a member. */
	assert_int_equal(store_step1_lookup(st, addr, 5, id1, 3600, "bob",
					    "BOB@example.org", 0, &n, &m),
			 STORE_OK);
	assert_int_equal(m.id, bob);
	assert_int_equal(n.address, 3);
	assert_int_equal(n.identifier, 2);
	assert_int_equal(store_step1_lookup(st, addr, 5, id1, 3600, "bob",
					    "Alice@example.org", 0, &n, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(store_step1_lookup(st, addr, 5, id1, 3600, "alice",
					    NULL, 999999, &n, &m),
			 STORE_NOT_FOUND);
	/* No identifier names nobody; no address key counts no address. */
	assert_int_equal(
	    store_step1_lookup(st, NULL, 0, id1, 3600, NULL, NULL, 0, &n, &m),
	    STORE_NOT_FOUND);
	assert_int_equal(n.address, 0);
	assert_int_equal(n.identifier, 5);
	assert_int_equal(store_step1_lookup(st, addr, 64, id1, 3600, "alice",
					    NULL, 0, &n, &m),
			 STORE_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ratelimit),
	    cmocka_unit_test(test_ratelimit_shards),
	    cmocka_unit_test(test_step1_lookup),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup_members,
				      teststore_teardown);
}
