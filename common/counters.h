/*
 * counters.h — the live counters the processes of one supervisor share.
 *
 * The supervisor maps one struct counters (anonymous, MAP_SHARED) before
 * it forks anything, so every worker and the mailer it starts, now or
 * after a reload, writes to the same memory; it lives as long as the
 * supervisor.  Every field is a C11 atomic updated with a relaxed
 * fetch-add or store: a reader (the status page) sees each figure
 * exactly, the figures together only nearly in step, and nobody holds a
 * lock across a request.
 *
 * This header knows nothing of the answers' meaning: the transport
 * indexes answers[] (see fcgi/status.h) and the mailer mail[].  It only
 * declares the layout, so that core/ (the mailer) and fcgi/ (workers,
 * the status page) can both include it.
 */
#ifndef PWR_COMMON_COUNTERS_H
#define PWR_COMMON_COUNTERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Room for every answer id; fcgi/status.c asserts that it is enough. */
#define COUNTERS_ANSWERS_MAX 64
/* The latency buckets with an upper bound; one more (+Inf) follows. */
#define COUNTERS_LATENCY_FINITE 9
/* Worker seats: the largest [service] workers, twice (during a reload the
 * old set finishes while the new one already runs). */
#define COUNTERS_SEATS_MAX 512

enum counters_mail {
	COUNTERS_MAIL_SENT,	/* delivered */
	COUNTERS_MAIL_DEFERRED, /* an attempt failed; queued for another */
	COUNTERS_MAIL_FAILED,	/* given up */
	COUNTERS_MAIL__MAX
};

enum counters_seat {
	COUNTERS_SEAT_FREE, /* no worker holds it */
	COUNTERS_SEAT_IDLE, /* a worker waiting for a request */
	COUNTERS_SEAT_BUSY  /* a worker answering one */
};

struct counters {
	atomic_uint_least64_t answers[COUNTERS_ANSWERS_MAX];
	/* Not cumulative: one count per bucket, the last one is +Inf. */
	atomic_uint_least64_t latency[COUNTERS_LATENCY_FINITE + 1];
	atomic_uint_least64_t latency_sum_us;
	atomic_uint_least64_t mail[COUNTERS_MAIL__MAX];
	/* enum counters_seat, set by the supervisor (FREE, IDLE) when a
	 * worker starts or is reaped, and by the worker (IDLE, BUSY). */
	atomic_int seats[COUNTERS_SEATS_MAX];
};

/* Shared between processes, an atomic must work without a lock (a lock
 * would live in one process's memory): C11 promises that only for the
 * always-lock-free types. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2 &&
		   ATOMIC_LLONG_LOCK_FREE == 2,
	       "the shared counters need lock-free atomics");

/* The upper bounds of the finite latency buckets, in milliseconds. */
static const unsigned counters_latency_bounds_ms[COUNTERS_LATENCY_FINITE] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500};

static inline void
counters_add(atomic_uint_least64_t *x, uint_least64_t n)
{
	atomic_fetch_add_explicit(x, n, memory_order_relaxed);
}

/* One answer that took us microseconds, into its bucket and the sum. */
static inline void
counters_latency_record(struct counters *c, uint_least64_t us)
{
	size_t i = 0;

	while (i < COUNTERS_LATENCY_FINITE &&
	       us > (uint_least64_t)counters_latency_bounds_ms[i] * 1000)
		i++;
	counters_add(&c->latency[i], 1);
	counters_add(&c->latency_sum_us, us);
}

#endif
