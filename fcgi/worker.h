/*
 * worker.h — the child processes: FastCGI responders and the mailer.
 *
 * struct worker_conf is everything loaded from files that a responder
 * needs: the application's set-up (core/app.h: the configuration, the mail
 * templates, the banned-password list) and the transport's own parsed
 * trusted proxies.  The supervisor loads it (at start-up and on SIGHUP,
 * which is also how a reload is validated) before forking, so children
 * inherit it copy-on-write and never read those files themselves.  It is
 * owned by whoever loaded it; worker_conf_free() is safe on a zeroed or
 * freed struct.
 *
 * worker_run() and worker_mailer_run() are the bodies of the two kinds of
 * children: each opens its own struct app (core/app.h), sets up its own
 * signals (SIGTERM/SIGINT: finish the current request or delivery, then
 * return) and returns an exit status.
 */
#ifndef PWR_FCGI_WORKER_H
#define PWR_FCGI_WORKER_H

#include <stddef.h>

#include "common/counters.h"
#include "core/app.h"
#include "proxy.h"

struct worker_conf {
	struct app_conf app;
	struct proxy_list proxies;
};

/* Load path and everything it names.  0, or -1 with "FILE: message" in
 * err and *wc left freed. */
int worker_conf_load(struct worker_conf *wc, const char *path, char *err,
		     size_t errlen);
void worker_conf_free(struct worker_conf *wc);

/* Serve FastCGI requests on listen_fd (a listening socket, non-blocking)
 * until [service] max_requests are served or SIGTERM/SIGINT arrives.
 * counters (the supervisor's shared ones, or NULL) count each answer;
 * counters->seats[seat] (seat -1: none) says whether this worker is busy.
 * Returns 0, or 1 when the worker could not start or accept failed. */
int worker_run(const struct worker_conf *wc, int listen_fd,
	       struct counters *counters, int seat);

/* Deliver the outbox (mailer_run) until SIGTERM/SIGINT, counting each
 * attempt in counters (or NULL).  0 or 1. */
int worker_mailer_run(const struct worker_conf *wc, struct counters *counters);

#endif
