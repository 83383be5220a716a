/*
 * ratelimit.h — the rate limits of SPEC §4: keys, checks and counting.
 *
 * A counter is keyed by an HMAC of (kind, value) under the database's
 * "ratelimit" secret, so the table never holds an identifier or an
 * address, nor a hash of one that could be guessed.  The secret is
 * fetched by the first call that needs it (the database may be down when
 * a worker starts) and kept in the caller's struct ratelimit, which lives
 * as long as the process and is wiped by ratelimit_wipe().  The counters
 * themselves are SQL, in sql/ (store_ratelimit_hit()).
 *
 * Every call that can fail logs the cause and says which kind of failure
 * it was, so the caller only maps it onto an answer.
 */
#ifndef PWR_RATELIMIT_H
#define PWR_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define RATELIMIT_KEY_LEN    32 /* bytes of a counter key (SHA-256) */
#define RATELIMIT_SECRET_LEN 32

struct store;

/* Process-lifetime cache of the database's secret; zero it to start. */
struct ratelimit {
	bool loaded;
	int shard; /* this process's sub-row of the address counters */
	unsigned char secret[RATELIMIT_SECRET_LEN];
};

/* What a counter counts; each kind is a separate key space. */
enum ratelimit_kind {
	RATELIMIT_ADDRESS,    /* every request, per client address */
	RATELIMIT_TOKFAIL,    /* wrong tokens and keys, per client address */
	RATELIMIT_IDENTIFIER, /* step 1, per normalised identifier */
	RATELIMIT_MEMBER,     /* step 1, per member an identifier names */
	RATELIMIT_KIND__MAX
};

/*
 * The outcome of a call.  UNDER and OVER are the two answers of a check;
 * the others are failures, kept apart because the answer differs (0503
 * against 0500).  ratelimit_key() gives RATELIMIT_UNDER on success and
 * never RATELIMIT_OVER.
 */
enum ratelimit_rc {
	RATELIMIT_UNDER,       /* within the budget (or: done) */
	RATELIMIT_OVER,	       /* the budget is spent */
	RATELIMIT_UNAVAILABLE, /* the database is down (logged) */
	RATELIMIT_ERROR,       /* any other failure (logged) */
	RATELIMIT_RC__MAX
};

struct ratelimit_key {
	uint8_t b[RATELIMIT_KEY_LEN];
	int shard; /* the counter's sub-row this process adds to */
};

/* The counter key of value (NUL-terminated; cut at a fixed length). */
enum ratelimit_rc ratelimit_key(struct ratelimit *rl, struct store *st,
				enum ratelimit_kind kind, const char *value,
				struct ratelimit_key *out);

/*
 * Add weight (0: only look) to key's counter in the current window of
 * window_s seconds: RATELIMIT_OVER when the count then exceeds limit.
 */
enum ratelimit_rc ratelimit_check(struct store *st,
				  const struct ratelimit_key *key, int window_s,
				  int weight, int limit);

/* Make value's key and check it in one call; key_out may be NULL. */
enum ratelimit_rc ratelimit_check_value(struct ratelimit *rl, struct store *st,
					enum ratelimit_kind kind,
					const char *value, int window_s,
					int weight, int limit,
					struct ratelimit_key *key_out);

#define RATELIMIT_CLIENT_MAX 64 /* bytes of ratelimit_client_value()'s out */

/*
 * The value a client address is counted by: an IPv6 address cut to its
 * first ipv6_prefix bits and written as "net/prefix" (a subscriber usually
 * holds a whole /64, each address of which would otherwise be a budget of
 * its own); anything else, IPv4 included, unchanged.
 */
void ratelimit_client_value(const char *client, int ipv6_prefix, char *out,
			    size_t outlen);

/* Forget the secret (explicit_bzero). */
void ratelimit_wipe(struct ratelimit *rl);

#endif
