/*
 * clock.c — the monotonic clock (see clock.h).
 */
#include "clock.h"

struct timespec
clock_now(void)
{
	struct timespec t;

	/* Cannot fail with a valid clock id and pointer. */
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

int64_t
clock_now_ms(void)
{
	struct timespec t = clock_now();

	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t
clock_since_ms(const struct timespec *t0)
{
	struct timespec t1 = clock_now();

	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}
