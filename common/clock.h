/*
 * clock.h — the monotonic clock, for timeouts and durations.
 *
 * CLOCK_MONOTONIC never jumps with the wall clock (NTP, an admin's
 * date(1)), so a deadline computed from it holds.  Never use these for
 * timestamps that leave the process.
 */
#ifndef PWR_COMMON_CLOCK_H
#define PWR_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

struct timespec clock_now(void);
/* Milliseconds since an arbitrary fixed point (boot). */
int64_t clock_now_ms(void);
/* Milliseconds from t0 (a clock_now()) until now. */
int64_t clock_since_ms(const struct timespec *t0);

#endif
