/*
 * reset.h — the reset-password use case: the decision procedure of SPEC §4.
 *
 * Knows nothing of HTTP.  The transport fills a struct reset_request (all
 * strings borrowed, valid UTF-8, NULL when absent or empty), calls
 * reset_handle() and turns the struct reset_result into an answer.
 */
#ifndef PWR_RESET_H
#define PWR_RESET_H

#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "ratelimit.h"

/* Borrowed, opaque here: the transport needs none of their headers. */
struct store;
struct mail_templates;
struct banned;
struct mailer;
struct outbox_key;

/* Process-lifetime state of a worker; everything borrowed but rl. */
struct reset_env {
	const struct config *cfg;
	struct store *store;
	const struct mail_templates *templates;
	const struct banned *banned;
	struct mailer *mailer; /* step 2 with notify-async=false */
	const struct outbox_key *outbox_key; /* seals queued mail */
	struct ratelimit rl; /* the rate-limit secret, fetched lazily */
};

/*
 * Step 1's one write — issue a token and queue its email for a known,
 * allowed member, or only count the identifier — is done after the answer
 * has gone (reset_finish()), so that known and unknown identifiers answer
 * after exactly the same work (SPEC §7, uniform step 1).  reset_handle()
 * hands it back in struct reset_result; reset_finish() consumes it.
 */
struct reset_deferred;

enum reset_route { RESET_ROUTE_MEMBERS, RESET_ROUTE_GROUP };

struct reset_request {
	enum reset_route route;
	const char *group; /* the {group} segment, decoded (group route) */
	const char *email;
	const char *username;
	const char *token;
	const char *key;
	const char *password;
	bool notify_async;
	const char *bearer; /* the Authorization: Bearer value, or NULL */
	const char *client; /* the client address */
};

enum reset_status {
	RESET_REQUEST_SUCCESSFUL,
	RESET_PASSWORD_CHANGED,
	RESET_PENDING
};

struct reset_result {
	enum pwr_err err; /* PWR_OK: status (and admin) is the answer */
	enum reset_status status;
	bool admin;	 /* pending for an admin member */
	int retry_after; /* seconds, with PWR_E_RATE_LIMITED/_UNAVAILABLE */
	/* Step 1's deferred write, or NULL.  Owned by the caller, who must
	 * pass it to reset_finish() (which frees it) once the answer is
	 * out; response rendering ignores it. */
	struct reset_deferred *deferred;
};

/* Fills *res (zeroed first); res->deferred may come back non-NULL. */
void reset_handle(struct reset_env *env, const struct reset_request *req,
		  struct reset_result *res);

/* Call once the answer of reset_handle() has been sent: does the deferred
 * write *d (a no-op when NULL), then wipes and frees it and sets *d to
 * NULL, so a second call does nothing.  A failure is logged only — the
 * answer is out, and it never depended on it. */
void reset_finish(struct reset_env *env, struct reset_deferred **d);

#endif
