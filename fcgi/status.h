/*
 * status.h — the status page and the ping answer ([service] status_path,
 * ping_path), and the request counters behind them.
 *
 * Both are off by default.  A request whose path (the query removed) is
 * exactly one of the two configured paths is answered here, before the
 * reset routes: the status page is Prometheus text (version 0.0.4) read
 * from the supervisor's shared struct counters (common/counters.h);
 * ping answers "pong" (200) when the database answers, else 503.  Only
 * GET and HEAD; another method gets the service's 0103.  Neither is counted as
 * a request, so that scraping does not move the figures it reads.
 *
 * Pure apart from the atomics: rendering writes a whole CGI answer into a
 * caller-owned struct buf, so a unit test can compare bytes.
 */
#ifndef PWR_FCGI_STATUS_H
#define PWR_FCGI_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/counters.h"
#include "core/config.h"
#include "core/err.h"
#include "core/reset.h"

enum status_page {
	STATUS_PAGE_NONE, /* not ours: the reset routes take it */
	STATUS_PAGE_METRICS,
	STATUS_PAGE_PING,
	STATUS_PAGE__MAX
};

/* Which page uri (a REQUEST_URI, may be NULL) asks for under cfg. */
enum status_page status_page_of(const struct config *cfg, const char *uri);

/* The whole answer to method (may be NULL) on page (not NONE) at uri.  c
 * may be NULL (no counters: every figure 0); db_ok is the ping's
 * verdict. */
void status_render(struct buf *out, enum status_page page, const char *method,
		   const char *uri, const struct counters *c, bool db_ok);

/* Whether method needs the database asked (a GET or HEAD of ping). */
bool status_wants_ping(enum status_page page, const char *method);

/* One answer given: its id (err, or status when err is PWR_OK) and how
 * long it took.  NULL-safe on c. */
void status_count_answer(struct counters *c, enum pwr_err err,
			 enum reset_status status, uint_least64_t us);

#endif
