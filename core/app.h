/*
 * app.h — the application's set-up, apart from any transport.
 *
 * struct app_conf is everything the service loads from files: the
 * configuration, the mail templates, the banned-password list, the key
 * that seals queued messages ([mail] outbox_key_file) (and the
 * check that [smtp] password_file is readable, so that a typo shows at
 * start-up instead of as children dying).  The transport loads it once
 * before forking — and again on SIGHUP, which is how a reload is
 * validated — so children inherit it copy-on-write.  It is owned by whoever
 * loaded it; app_conf_free() is safe on a zeroed or freed struct.
 *
 * struct app is one child's process-lifetime state: its own database
 * handle, its mailer and the struct reset_env the reset use case runs in.
 * app_open() makes it, app_close() (NULL-safe) ends it; the app_conf it
 * was opened from must outlive it.  Nothing here includes a database or
 * mail header, so the transport needs only core/ headers.
 */
#ifndef PWR_APP_H
#define PWR_APP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "reset.h"

struct mail_templates;
struct banned;
struct counters;
struct outbox_key;

struct app_conf {
	struct config cfg;
	struct mail_templates *templates;
	struct banned *banned; /* NULL when [password] banned_file = "" */
	struct outbox_key *outbox_key; /* [mail] outbox_key_file, wiped */
};

/* Load path and everything it names.  0, or -1 with "FILE: message" in
 * err and *ac left freed. */
int app_conf_load(struct app_conf *ac, const char *path, char *err,
		  size_t errlen);
void app_conf_free(struct app_conf *ac);

struct store;

/* The database handle [database] describes (conninfo, timeout, pooling),
 * not connected yet: a child's, and pwreset-ctl's.  Caller-owned
 * (store_close()). */
struct store *app_store_open(const struct config *cfg);

struct app;

/* A child's state for ac (borrowed): the database handle (not connected
 * yet) and the mailer.  0 with *out set, or -1 (logged) with *out NULL. */
int app_open(const struct app_conf *ac, struct app **out);
void app_close(struct app *a);

/* The environment reset_handle() and reset_finish() run in; a's. */
struct reset_env *app_reset_env(struct app *a);

/* Connect to the database now, so that a broken one shows in the log at
 * start-up rather than at the first request; a failure is only logged
 * (the requests would answer 0503 either way). */
void app_connect(struct app *a);

/* Whether the database answers now: one round trip (connecting first if
 * needed).  For [service] ping_path; a failure is not logged (a monitor
 * asks often, and the requests log the outage anyway). */
bool app_ping(struct app *a);

/* Count deliveries (the mailer's and a worker's own attempts) in c, the
 * supervisor's shared counters (borrowed; NULL: none). */
void app_set_counters(struct app *a, struct counters *c);

/* The mailer process's loop until *stop becomes non-zero: 0 on a clean
 * stop, 1 otherwise. */
int app_mailer_run(struct app *a, volatile sig_atomic_t *stop);

#endif
