/*
 * supervisor.h — the pre-fork process manager.
 *
 * Forks [service] workers responders and one mailer, then waits in
 * sigsuspend(); signal handlers only set flags.
 * - a child that dies is replaced; one that dies abnormally within a
 *   second of its start doubles its slot's delay (up to 30 s) first, so a
 *   broken set-up cannot turn into a fork storm;
 * - SIGTERM/SIGINT: every child gets SIGTERM, finishes what it is doing
 *   and exits; after [service] shutdown_timeout the rest get SIGKILL;
 * - SIGHUP: reload.  The file is read again with everything it names (a
 *   reload is validated by loading it); on error the running set-up stays
 *   and the log says why.  On success new children start first, then the
 *   old ones get SIGTERM one at a time: the listening socket stays open
 *   here throughout, so no connection is refused.  The keys that the
 *   configuration table marks restart-only ([service] listen, listen_mode,
 *   user) take effect only at a restart; a reload that changes one warns.
 * - before the first fork it maps the struct counters (common/counters.h)
 *   every child writes to, for the status page; it outlives reloads;
 * - sd_notify(3): READY=1 once the first children are forked, RELOADING=1
 *   and READY=1 around a reload, STOPPING=1 on SIGTERM (nothing without
 *   NOTIFY_SOCKET).
 */
#ifndef PWR_FCGI_SUPERVISOR_H
#define PWR_FCGI_SUPERVISOR_H

#include "worker.h"

/*
 * Run until SIGTERM/SIGINT and every child is gone.  *wc is the caller's;
 * a reload replaces its content (the caller frees whatever is in it on
 * return).  listen_fd is the listening socket, inherited by the
 * responders.  Returns 0, or 1 when the supervisor itself failed.
 */
int supervisor_run(struct worker_conf *wc, int listen_fd);

#endif
