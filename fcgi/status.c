/*
 * status.c — the status page and the ping answer (see status.h).
 *
 * answers[] of struct counters is indexed by enum pwr_err for errors and
 * by PWR_E__MAX + enum reset_status for successes; every id is shown,
 * zero or not, so that a dashboard sees a series before its first hit.
 */
#include <string.h>

#include "response.h"
#include "route.h"
#include "status.h"

#define STATUS_SUCCESSES (RESET_PENDING + 1)

_Static_assert(PWR_E__MAX + STATUS_SUCCESSES <= COUNTERS_ANSWERS_MAX,
	       "common/counters.h has too few answer counters");

static const char *const mail_results[COUNTERS_MAIL__MAX] = {
    [COUNTERS_MAIL_SENT] = "sent",
    [COUNTERS_MAIL_DEFERRED] = "deferred",
    [COUNTERS_MAIL_FAILED] = "failed",
};

static bool
path_is(const char *want, const char *uri, size_t len)
{
	return want[0] != '\0' && strlen(want) == len &&
	       memcmp(want, uri, len) == 0;
}

enum status_page
status_page_of(const struct config *cfg, const char *uri)
{
	size_t len;

	if (uri == NULL)
		return STATUS_PAGE_NONE;
	len = route_path_len(uri);
	if (path_is(cfg->service.status_path, uri, len))
		return STATUS_PAGE_METRICS;
	if (path_is(cfg->service.ping_path, uri, len))
		return STATUS_PAGE_PING;
	return STATUS_PAGE_NONE;
}

static bool
method_ok(const char *method)
{
	return method != NULL &&
	       (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
}

bool
status_wants_ping(enum status_page page, const char *method)
{
	return page == STATUS_PAGE_PING && method_ok(method);
}

void
status_count_answer(struct counters *c, enum pwr_err err,
		    enum reset_status status, uint_least64_t us)
{
	size_t i;

	if (c == NULL)
		return;
	if (err != PWR_OK)
		i = (unsigned)err < PWR_E__MAX ? (size_t)err : PWR_E_INTERNAL;
	else
		i = PWR_E__MAX +
		    ((unsigned)status < STATUS_SUCCESSES ? (size_t)status : 0);
	counters_add(&c->answers[i], 1);
	counters_latency_record(c, us);
}

static uint_least64_t
get(const atomic_uint_least64_t *x)
{
	return atomic_load_explicit(x, memory_order_relaxed);
}

static void
metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_answers(struct buf *b, const struct counters *c)
{
	metric_head(b, "pwreset_requests_total", "counter",
		    "Answers given, by answer id (an error id, or the status "
		    "of a success).");
	for (size_t i = PWR_E__MAX; i < PWR_E__MAX + STATUS_SUCCESSES; i++)
		buf_addf(
		    b, "pwreset_requests_total{answer=\"%s\"} %llu\n",
		    response_status_name((enum reset_status)(i - PWR_E__MAX)),
		    (unsigned long long)get(&c->answers[i]));
	for (size_t i = PWR_OK + 1; i < PWR_E__MAX; i++)
		buf_addf(b, "pwreset_requests_total{answer=\"%s\"} %llu\n",
			 pwr_err_id((enum pwr_err)i),
			 (unsigned long long)get(&c->answers[i]));
}

static void
metrics_latency(struct buf *b, const struct counters *c)
{
	const char *name = "pwreset_request_duration_seconds";
	uint_least64_t total = 0;

	metric_head(b, name, "histogram",
		    "Time from a request's arrival to its answer's last byte.");
	for (size_t i = 0; i < COUNTERS_LATENCY_FINITE; i++) {
		total += get(&c->latency[i]);
		buf_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
			 counters_latency_bounds_ms[i] / 1000.0,
			 (unsigned long long)total);
	}
	total += get(&c->latency[COUNTERS_LATENCY_FINITE]);
	buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
		 (unsigned long long)total);
	buf_addf(b, "%s_sum %.6f\n", name, get(&c->latency_sum_us) / 1e6);
	buf_addf(b, "%s_count %llu\n", name, (unsigned long long)total);
}

static void
metrics_workers(struct buf *b, const struct counters *c)
{
	unsigned long busy = 0, idle = 0;

	for (size_t i = 0; i < COUNTERS_SEATS_MAX; i++) {
		int v =
		    atomic_load_explicit(&c->seats[i], memory_order_relaxed);
		busy += v == COUNTERS_SEAT_BUSY;
		idle += v == COUNTERS_SEAT_IDLE;
	}
	metric_head(b, "pwreset_workers", "gauge",
		    "Worker processes, answering a request (busy) or "
		    "waiting for one (idle).");
	buf_addf(b, "pwreset_workers{state=\"busy\"} %lu\n", busy);
	buf_addf(b, "pwreset_workers{state=\"idle\"} %lu\n", idle);
}

static void
metrics_mail(struct buf *b, const struct counters *c)
{
	metric_head(b, "pwreset_mail_total", "counter",
		    "Delivery attempts, by outcome: sent, deferred (failed, "
		    "queued for another attempt), failed (given up).");
	for (size_t i = 0; i < COUNTERS_MAIL__MAX; i++)
		buf_addf(b, "pwreset_mail_total{result=\"%s\"} %llu\n",
			 mail_results[i], (unsigned long long)get(&c->mail[i]));
}

static void
answer(struct buf *out, int status, const char *ctype, const struct buf *body,
       bool head)
{
	/* The headers every answer carries (SPEC §2), written once. */
	response_headers(out, status, ctype, body->len, 0, NULL);
	if (!head)
		buf_add(out, body->p, body->len);
}

void
status_render(struct buf *out, enum status_page page, const char *method,
	      const char *uri, const struct counters *c, bool db_ok)
{
	static const struct counters none; /* all zero */
	struct buf body = {0};
	bool head = method != NULL && strcmp(method, "HEAD") == 0;

	if (c == NULL)
		c = &none;
	if (!method_ok(method)) {
		/* The service's own answer to a wrong method: 0103. */
		const struct reset_result res = {.err = PWR_E_METHOD};

		response_render(out, FORMAT_XML, &res, uri,
				route_path_len(uri));
	} else if (page == STATUS_PAGE_PING) {
		buf_adds(&body, db_ok ? "pong\n" : "database unavailable\n");
		answer(out, db_ok ? 200 : 503, "text/plain; charset=utf-8",
		       &body, head);
	} else {
		metrics_answers(&body, c);
		metrics_latency(&body, c);
		metrics_workers(&body, c);
		metrics_mail(&body, c);
		answer(out, 200, "text/plain; version=0.0.4; charset=utf-8",
		       &body, head);
	}
	buf_free(&body);
}
