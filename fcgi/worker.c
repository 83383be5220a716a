/*
 * worker.c — the responder and mailer processes (see worker.h).
 *
 * A responder loops: wait for work → FCGX_Accept_r → route → parse →
 * reset_handle → answer → FCGX_Finish_r → reset_finish → free the request.
 * After WORKER_TRIM_IDLE_S without a request it trims its heap once.
 *
 * Stopping without a race: SIGTERM and SIGINT stay blocked except inside
 * ppoll(), which unblocks them atomically while waiting for the listening
 * socket (or for the next request on a kept-open connection).  A signal
 * that arrives mid-request is therefore only seen once the answer is out,
 * and one that arrives between two requests always wakes the wait.  The
 * listening socket is non-blocking: when several workers wake for one
 * connection, the losers get EAGAIN from libfcgi's accept() and wait again
 * instead of blocking inside FCGX_Accept_r where no signal could reach
 * them (libfcgi retries accept() on EINTR).
 *
 * A stalled connection cannot hold a worker: the worker accepts itself
 * (libfcgi is given no listening socket, so it never does) and puts
 * [service] io_timeout on the new socket as SO_RCVTIMEO/SO_SNDTIMEO before
 * libfcgi reads a byte.  While libfcgi reads the request's header and
 * parameters nothing has been done for it yet, so SIGTERM is let in there
 * (without SA_RESTART): a silent client cannot delay a stop either.  A
 * kept-open connection (FCGI_KEEP_CONN) idle for io_timeout is closed.
 *
 * A reload retires the old children with SIGUSR2, not SIGTERM: it is let
 * in only where the worker waits, never while libfcgi reads a request the
 * worker has accepted, so a reload cannot drop a request that was on its
 * way (a stalled one is bounded by io_timeout, then by shutdown_timeout).
 */
#include <errno.h>
#include <fcgiapp.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "core/app.h"
#include "page.h"
#include "core/log.h"
#include "core/reset.h"
#include "request.h"
#include "response.h"
#include "route.h"
#include "status.h"
#include "worker.h"

/* Bytes of FCGI_STDIN read and thrown away after the parsed body (all of
 * a body refused as too large, or just the end-of-stream record); beyond
 * this, or after io_timeout seconds of draining, the connection is closed
 * after the answer. */
#define DRAIN_MAX      (64 * 1024 * 1024)
#define METHOD_LOG_MAX 16 /* bytes of REQUEST_METHOD in a log line */
/* Idle time after a request before the worker trims its heap. */
#define WORKER_TRIM_IDLE_S 1

static volatile sig_atomic_t worker_stop;

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

/* ---- configuration -------------------------------------------------- */

void
worker_conf_free(struct worker_conf *wc)
{
	proxy_list_free(&wc->proxies);
	app_conf_free(&wc->app);
}

int
worker_conf_load(struct worker_conf *wc, const char *path, char *err,
		 size_t errlen)
{
	char why[512];

	memset(wc, 0, sizeof(*wc));
	if (app_conf_load(&wc->app, path, err, errlen) != 0)
		return -1;
	if (proxy_list_parse(&wc->proxies, wc->app.cfg.service.trusted_proxies,
			     why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		worker_conf_free(wc);
		return -1;
	}
	return 0;
}

/* ---- signals -------------------------------------------------------- */

/*
 * A child starts with the supervisor's handlers and its blocked mask.
 * Put the child's own in place; *waitmask receives the mask to wait with
 * (SIGTERM and SIGINT unblocked).  block_stop keeps them blocked outside
 * the wait (responders); the mailer cannot wait through us, so it leaves
 * them unblocked and relies on mailer_run() polling its flag.
 */
static void
child_signals(bool block_stop, sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	/* A hang-up of the terminal or the process group is the
	 * supervisor's business (reload), not ours. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	/* A web server that hung up must not kill us mid-write. */
	sigaction(SIGPIPE, &sa, NULL);
	/* Responders: no SA_RESTART, so that where a stop is let in (the
	 * waits, and libfcgi reading a request's header) a read in progress
	 * is cut short; elsewhere the signals are blocked.  The mailer:
	 * SA_RESTART, so that a delivery in progress is not cut short (and
	 * sent twice later). */
	sa.sa_handler = on_stop;
	sa.sa_flags = block_stop ? 0 : SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL); /* retired by a reload */

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_SETMASK, NULL, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGUSR2);
	sigdelset(waitmask, SIGCHLD);
	sigdelset(waitmask, SIGALRM);
	sigdelset(waitmask, SIGHUP);
	if (block_stop) {
		sigset_t mask = *waitmask;
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGUSR2);
		sigprocmask(SIG_SETMASK, &mask, NULL);
	} else {
		sigprocmask(SIG_SETMASK, waitmask, NULL);
	}
}

/* ---- one request ---------------------------------------------------- */

struct worker {
	const struct worker_conf *wc;
	struct app *app;
	struct reset_env *env;	   /* app's */
	struct counters *counters; /* the supervisor's, or NULL */
	int seat;		   /* this worker's in counters->seats, or -1 */
};

static ssize_t
fcgx_read(void *arg, char *buf, size_t len)
{
	int n = FCGX_GetStr(buf, len > INT_MAX ? INT_MAX : (int)len, arg);

	return n < 0 ? -1 : n;
}

static long
elapsed_us(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000;
}

/*
 * Throw away what is left of the body, so that the web server gets to
 * reading the answer, and so that on a connection it keeps open
 * (FCGI_KEEP_CONN) unread FCGI_STDIN records are not taken for the next
 * request's.  Beyond DRAIN_MAX or io_timeout seconds, give up on the
 * connection instead: libfcgi then shuts it down after the answer and
 * reads what still comes until the web server hangs up or is silent for
 * 2 s.
 */
static void
worker_drain(FCGX_Request *req, int io_timeout_s)
{
	char scratch[16384];
	struct timespec t0;
	size_t total = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (total < DRAIN_MAX && elapsed_us(&t0) < io_timeout_s * 1000000L) {
		int n = FCGX_GetStr(scratch, sizeof(scratch), req->in);
		if (n <= 0)
			return;
		total += (size_t)n;
	}
	/* keepConnection is below libfcgi's "don't use" line, but it is
	 * the only way to ask FCGX_Finish_r to close. */
	req->keepConnection = 0;
}

/* The status page or the ping: answered here, not counted, not logged
 * at info (a monitor asks every few seconds). */
static void
worker_serve_status(struct worker *w, FCGX_Request *req, enum status_page page,
		    const char *method, const char *uri)
{
	struct buf out = {0};
	bool ask = status_wants_ping(page, method);
	bool db_ok = ask && app_ping(w->app);
	char m[METHOD_LOG_MAX + 1]; /* the params die with the request */

	snprintf(m, sizeof(m), "%s", method != NULL ? method : "-");
	status_render(&out, page, method, uri, w->counters, db_ok);
	worker_drain(req, w->wc->app.cfg.service.io_timeout);
	FCGX_PutStr(out.p, (int)out.len, req->out);
	FCGX_Finish_r(req);
	log_debug("%s %s%s", m, page == STATUS_PAGE_PING ? "ping" : "status",
		  ask && !db_ok ? ": database unavailable" : "");
	buf_free(&out);
}

static void
worker_seat(struct worker *w, enum counters_seat state)
{
	if (w->counters != NULL && w->seat >= 0)
		atomic_store_explicit(&w->counters->seats[w->seat], (int)state,
				      memory_order_relaxed);
}

static void
worker_serve(struct worker *w, FCGX_Request *req)
{
	const struct config *cfg = &w->wc->app.cfg;
	struct timespec t0;
	struct cgi cgi;
	struct request rq;
	struct route_match m;
	struct reset_request rr;
	struct reset_result res = {0};
	struct buf out = {0};
	const char *uri;
	bool page;
	int status;
	char method[METHOD_LOG_MAX + 1]; /* the params die with the request */
	enum status_page spage;
	enum pwr_err e;
	long us;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < CGI__MAX; i++)
		cgi.v[i] = FCGX_GetParam(cgi_param_name(i), req->envp);
	uri = cgi.v[CGI_REQUEST_URI];
	if ((spage = status_page_of(cfg, uri)) != STATUS_PAGE_NONE) {
		worker_serve_status(w, req, spage, cgi.v[CGI_REQUEST_METHOD],
				    uri);
		return;
	}
	snprintf(method, sizeof(method), "%s",
		 cgi.v[CGI_REQUEST_METHOD] ? cgi.v[CGI_REQUEST_METHOD] : "-");

	request_init(&rq, &cgi, &w->wc->proxies);
	e = route_parse(cfg->service.site_prefix, cgi.v[CGI_REQUEST_METHOD],
			uri, cgi.v[CGI_HTTP_ACCEPT], &m);
	/* The pages of SPEC §9 and the token check: see page.h. */
	page = e == PWR_E_UNKNOWN_SERVICE &&
	       page_match(cfg, uri, cgi.v[CGI_HTTP_ACCEPT], &m);
	if (e == PWR_OK || page)
		e = request_parse(&rq, &cgi, cfg->service.max_body, fcgx_read,
				  req->in);
	if (page) {
		status = page_serve(w->env, &m, &cgi, &rq, e, &out, &res);
	} else if (e == PWR_OK) {
		request_to_reset(&rq, &m, &rr);
		reset_handle(w->env, &rr, &res);
	} else {
		res.err = e;
	}

	/* What is left of the body is read before the answer, never after:
	 * nginx stops sending a body once it has an answer's header, so a
	 * body drained after the answer (one refused as too large) would
	 * stall both sides.  Before it, the web server is still writing,
	 * whatever its own body limit; a body beyond DRAIN_MAX or slower
	 * than io_timeout gets its answer on a connection closed after it.
	 *
	 * The answer fits libfcgi's 8 KiB buffer and leaves with
	 * FCGI_END_REQUEST in one write from FCGX_Finish_r: flushed early,
	 * a web server may see the client leave before the end record and
	 * drop its kept-open connection. */
	worker_drain(req, cfg->service.io_timeout);
	if (!page) {
		response_render(&out, m.format, &res, uri, route_path_len(uri));
		status = response_http_status(res.err);
	}
	if (FCGX_PutStr(out.p, (int)out.len, req->out) != (int)out.len)
		log_warn("%s: the web server went away before the answer",
			 route_name(m.route));
	FCGX_Finish_r(req);

	us = elapsed_us(&t0);
	status_count_answer(w->counters, res.err, res.status,
			    (uint_least64_t)us);
	log_info("%s %s %d %s %ldms %s", method, route_name(m.route), status,
		 res.err == PWR_OK ? response_status_name(res.status)
				   : pwr_err_id(res.err),
		 us / 1000, rq.client);
	/* Step 1's write comes after the answer has gone, so that known and
	 * unknown identifiers answer after the same work. */
	reset_finish(w->env, &res.deferred);

	/* Everything of this request dies here, in one place. */
	request_free(&rq);
	buf_free(&out);
}

/* ---- the loops ------------------------------------------------------ */

enum worker_wake {
	WORKER_READY,	/* fd is readable */
	WORKER_STOP,	/* SIGTERM or SIGINT arrived */
	WORKER_TIMEOUT, /* timeout passed with nothing to do */
	WORKER_ERROR	/* ppoll failed (logged) */
};

/*
 * Wait until fd is readable or a stop is asked for, at most timeout (NULL:
 * no limit).
 */
static enum worker_wake
worker_wait(int fd, const struct timespec *timeout, const sigset_t *waitmask)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n;

	for (;;) {
		if (worker_stop)
			return WORKER_STOP;
		if ((n = ppoll(&p, 1, timeout, waitmask)) >= 0)
			return worker_stop ? WORKER_STOP
			       : n == 0	   ? WORKER_TIMEOUT
					   : WORKER_READY;
		if (errno != EINTR) {
			log_errno("worker: ppoll");
			return WORKER_ERROR;
		}
	}
}

/*
 * Accept one connection on the non-blocking listening socket and bound
 * every read and write on it by io_timeout_s.  Returns the socket, or -1:
 * *fatal tells a broken listening socket (logged) from a lost race or a
 * client that left already.
 */
static int
worker_accept(int listen_fd, int io_timeout_s, bool *fatal)
{
	struct timeval tv = {.tv_sec = io_timeout_s};
	int fd;

	*fatal = false;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		switch (errno) {
		case EAGAIN:
#if EAGAIN != EWOULDBLOCK
		case EWOULDBLOCK:
#endif
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			return -1; /* another worker took it, or it left */
		default:
			log_errno("worker: accept");
			*fatal = true;
			return -1;
		}
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		/* Never serve a connection that could stall us for ever. */
		log_errno("worker: setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)");
		close(fd);
		return -1;
	}
	return fd;
}

int
worker_run(const struct worker_conf *wc, int listen_fd,
	   struct counters *counters, int seat)
{
	const struct config *cfg = &wc->app.cfg;
	struct worker w = {.wc = wc, .counters = counters, .seat = seat};
	struct app *app = NULL;
	bool req_ok = false;
	FCGX_Request req;
	sigset_t waitmask, readmask, blocked;
	const struct timespec trim_idle = {.tv_sec = WORKER_TRIM_IDLE_S};
	bool trim_due = false;
	int served = 0, rc = 1;

	child_signals(true, &waitmask);
	/* Reading an accepted request: a stop, but not a retirement. */
	readmask = waitmask;
	sigaddset(&readmask, SIGUSR2);
	if (app_open(&wc->app, &app) != 0)
		goto out;
	app_set_counters(app, counters);
	w.app = app;
	w.env = app_reset_env(app);
	/* No listening socket for libfcgi: worker_accept() hands it each
	 * connection, so libfcgi's own accept() can only fail (EBADF),
	 * which is how it reports a connection it dropped. */
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, -1, 0) != 0) {
		log_error("worker: cannot initialise libfcgi");
		goto out;
	}
	req_ok = true;
	app_connect(app);

	while (served < cfg->service.max_requests) {
		/* A kept-open connection (FCGI_KEEP_CONN) brings the next
		 * request on itself, not on the listening socket. */
		bool kept = req.ipcFd >= 0;
		int fd = kept ? req.ipcFd : listen_fd;
		/* A kept-open connection may stay idle for io_timeout, no
		 * longer: while we wait on it, the listening socket waits. */
		const struct timespec idle_max = {.tv_sec =
						      cfg->service.io_timeout};
		enum worker_wake r = worker_wait(fd,
						 trim_due ? &trim_idle
						 : kept	  ? &idle_max
							  : NULL,
						 &waitmask);
		int a;

		if (r == WORKER_ERROR)
			goto out;
		if (r == WORKER_STOP)
			break;
		if (r == WORKER_TIMEOUT && !trim_due) {
			/* The kept-open connection stayed idle: close it
			 * (at once: nothing is owed, no linger). */
			req.detached = 1;
			FCGX_Free(&req, 1);
			continue;
		}
		if (r == WORKER_TIMEOUT) {
			/* Idle: give the free heap back.  A password hash
			 * leaves Argon2's block ([argon2] memory_kib, 19 MiB
			 * by default) free in the heap, where glibc keeps it
			 * for the next hash; under load it is reused, when
			 * idle it is returned. */
			malloc_trim(0);
			trim_due = false;
			continue;
		}
		if (req.ipcFd < 0) {
			bool fatal;

			req.ipcFd = worker_accept(
			    listen_fd, cfg->service.io_timeout, &fatal);
			if (fatal)
				goto out;
			if (req.ipcFd < 0)
				continue;
			/* FCGX_Accept_r begins with FCGX_Finish_r, which
			 * would close a connection not marked kept; the
			 * BEGIN_REQUEST record then sets the real value. */
			req.keepConnection = 1;
		}
		sigprocmask(SIG_SETMASK, &readmask, &blocked);
		a = FCGX_Accept_r(&req);
		sigprocmask(SIG_SETMASK, &blocked, NULL);
		if (a == -EBADF || a == -EAGAIN || a == -EWOULDBLOCK ||
		    a == -EINTR)
			continue; /* the connection failed, stalled or left */
		if (a < 0) {
			log_error("worker: accept: %s",
				  a > -9000 ? strerror(-a) : "libfcgi error");
			goto out;
		}
		worker_seat(&w, COUNTERS_SEAT_BUSY);
		worker_serve(&w, &req);
		worker_seat(&w, COUNTERS_SEAT_IDLE);
		served++;
		trim_due = true;
	}
	rc = 0;
out:
	if (req_ok && req.ipcFd >= 0)
		FCGX_Free(&req, 1); /* closes a kept-open connection */
	app_close(app);
	log_debug("worker: exiting after %d requests", served);
	return rc;
}

int
worker_mailer_run(const struct worker_conf *wc, struct counters *counters)
{
	struct app *app = NULL;
	sigset_t waitmask;
	int rc = 1;

	child_signals(false, &waitmask);
	if (app_open(&wc->app, &app) == 0) {
		app_set_counters(app, counters);
		rc = app_mailer_run(app, &worker_stop);
	}
	app_close(app);
	return rc;
}
