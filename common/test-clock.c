/*
 * test-clock.c — the monotonic clock helpers agree with each other and
 * with a real sleep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "common/clock.h"

static void
test_clock(void **state)
{
	struct timespec t0 = clock_now();
	int64_t ms0 = clock_now_ms(), ms1, since;
	const struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};

	(void)state;
	assert_true(ms0 >= 0);
	assert_int_equal(nanosleep(&pause, NULL), 0);
	since = clock_since_ms(&t0);
	ms1 = clock_now_ms();
	assert_true(since >= 50);
	assert_true(since < 5000);
	assert_true(ms1 - ms0 >= 50);
	assert_true(ms1 - ms0 >= since - 1);
	/* never backwards */
	assert_true(clock_now_ms() >= ms1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
