/*
 * mailer.h — delivering the outbox.
 *
 * mailer_deliver() claims one row (any due row, or a given one), opens its
 * sealed text with the outbox key (core/outbox.h) and makes one delivery
 * attempt; mailer_run() is the mailer process: it LISTENs for
 * new rows, delivers what is due, reschedules failures with exponential
 * backoff and jitter until [mail] max_attempts, purges periodically, and
 * returns when *stop becomes non-zero.
 */
#ifndef PWR_MAILER_H
#define PWR_MAILER_H

#include <signal.h>
#include <stdint.h>

#include "../common/counters.h"
#include "config.h"
#include "../sql/store.h"

struct smtp_tls;
struct outbox_key;

struct mailer {
	const struct config *cfg;
	struct store *store;  /* borrowed */
	char *smtp_password;  /* owned, read from [smtp] password_file */
	struct smtp_tls *tls; /* owned, made at the first delivery */
	/* borrowed, or NULL: the supervisor's shared counters */
	struct counters *counters;
	const struct outbox_key *key; /* borrowed: opens claimed rows */
};

/* Prepare a mailer (reads the SMTP password file); key (borrowed, must
 * outlive it) opens the sealed messages it claims.  0, or -1 (logged). */
int mailer_init(struct mailer *m, const struct config *cfg, struct store *st,
		const struct outbox_key *key);
void mailer_fini(struct mailer *m); /* wipes the password */
/* The checks of mailer_init() alone (From address, password file), for
 * `pwreset -n`: 0, or -1 with the reason in err; logs nothing but the
 * world-readable password file warning. */
int mailer_conf_check(const struct config *cfg, char *err, size_t errlen);

enum mailer_rc {
	MAILER_SENT,
	MAILER_RETRY,
	MAILER_FAILED,
	MAILER_UNCONFIRMED, /* handed over, no reply: see SMTP_UNCONFIRMED */
	MAILER_UNREADABLE,  /* does not open with this host's outbox key */
	MAILER_IDLE,
	MAILER_DB_ERROR
};

/* One attempt on row id (id > 0) or on any due row (id == 0). */
enum mailer_rc mailer_deliver(struct mailer *m, int64_t id);

/* How long a claim lasts: one whole SMTP session at its slowest. */
int mailer_lease_s(const struct config *cfg);

/* One attempt on a row the caller wrote already claimed (its first attempt
 * counted, see store_reset_complete()) and whose text it holds: no other
 * mailer can take it first.  message is borrowed. */
enum mailer_rc mailer_send_claimed(struct mailer *m, int64_t id,
				   const char *recipient, const char *message);

/* The mailer process's loop; 0 on a clean stop. */
int mailer_run(struct mailer *m, volatile sig_atomic_t *stop);

#endif
