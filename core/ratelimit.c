/*
 * ratelimit.c — rate-limit keys, checks and counting (see ratelimit.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "ratelimit.h"
#include "../sql/store.h"

#define RATELIMIT_VALUE_MAX 512 /* bytes of a value that enter the HMAC */

_Static_assert(RATELIMIT_KEY_LEN == STORE_HASH_LEN,
	       "a rate-limit key is a store hash");

/* Indexed by enum ratelimit_kind: the prefix that separates key spaces. */
static const char *const kind_prefix[RATELIMIT_KIND__MAX] = {
    [RATELIMIT_ADDRESS] = "addr:",
    [RATELIMIT_TOKFAIL] = "tokfail:",
    [RATELIMIT_IDENTIFIER] = "id:",
    [RATELIMIT_MEMBER] = "member:",
};

_Static_assert(sizeof(kind_prefix) / sizeof(kind_prefix[0]) ==
		   RATELIMIT_KIND__MAX,
	       "prefix table out of step with enum ratelimit_kind");

/* Log a store failure as what; RATELIMIT_UNDER when rc is no failure. */
static enum ratelimit_rc
from_store(struct store *st, enum store_rc rc, const char *what)
{
	switch (rc) {
	case STORE_OK:
	case STORE_NOT_FOUND:
		return RATELIMIT_UNDER;
	case STORE_UNAVAILABLE:
		log_warn("%s: database unavailable: %s", what,
			 store_errmsg(st));
		return RATELIMIT_UNAVAILABLE;
	case STORE_SCHEMA_OLD:
		/* Once per worker, not per request: it names the fix. */
		if (store_schema_old_first(st))
			log_error("%s", store_errmsg(st));
		return RATELIMIT_UNAVAILABLE;
	case STORE_CONFLICT:
	case STORE_ERROR:
	default:
		log_error("%s: database error: %s", what, store_errmsg(st));
		return RATELIMIT_ERROR;
	}
}

enum ratelimit_rc
ratelimit_key(struct ratelimit *rl, struct store *st, enum ratelimit_kind kind,
	      const char *value, struct ratelimit_key *out)
{
	const char *prefix = kind_prefix[kind];
	unsigned char buf[RATELIMIT_VALUE_MAX + 16];
	unsigned int len = RATELIMIT_KEY_LEN;
	size_t kl = strlen(prefix), vl = strlen(value);

	if (!rl->loaded) {
		enum store_rc rc = store_secret(st, "ratelimit", rl->secret);
		enum ratelimit_rc r;

		if (rc == STORE_NOT_FOUND)
			rc = STORE_ERROR; /* migrations not applied */
		if ((r = from_store(st, rc, "rate-limit key")) !=
		    RATELIMIT_UNDER)
			return r;
		rl->loaded = true;
		/* The address counter is hit by every request: each process
		 * adds to a sub-row of its own (workers of one host differ
		 * in pid), so workers do not queue on one row lock; the
		 * other counters must be exact and stay in shard 0. */
		rl->shard = 1 + (int)(getpid() % (STORE_COUNTER_SHARDS - 1));
	}
	out->shard = kind == RATELIMIT_ADDRESS ? rl->shard : 0;
	if (vl > RATELIMIT_VALUE_MAX)
		vl = RATELIMIT_VALUE_MAX;
	memcpy(buf, prefix, kl);
	memcpy(buf + kl, value, vl);
	HMAC(EVP_sha256(), rl->secret, sizeof rl->secret, buf, kl + vl, out->b,
	     &len);
	explicit_bzero(buf, sizeof buf);
	return RATELIMIT_UNDER;
}

enum ratelimit_rc
ratelimit_check(struct store *st, const struct ratelimit_key *key, int window_s,
		int weight, int limit)
{
	int64_t count = 0;
	enum ratelimit_rc r;

	r = from_store(st,
		       store_ratelimit_hit(st, key->b, key->shard, window_s,
					   weight, &count),
		       "rate limit");
	if (r != RATELIMIT_UNDER)
		return r;
	return count > limit ? RATELIMIT_OVER : RATELIMIT_UNDER;
}

enum ratelimit_rc
ratelimit_check_value(struct ratelimit *rl, struct store *st,
		      enum ratelimit_kind kind, const char *value, int window_s,
		      int weight, int limit, struct ratelimit_key *key_out)
{
	struct ratelimit_key k;
	enum ratelimit_rc r;

	r = ratelimit_key(rl, st, kind, value, &k);
	if (r == RATELIMIT_UNDER)
		r = ratelimit_check(st, &k, window_s, weight, limit);
	if (key_out != NULL)
		*key_out = k;
	return r;
}

void
ratelimit_client_value(const char *client, int ipv6_prefix, char *out,
		       size_t outlen)
{
	struct in6_addr a;
	char net[INET6_ADDRSTRLEN];
	int bits = ipv6_prefix < 0 ? 0 : ipv6_prefix > 128 ? 128 : ipv6_prefix;
	int i;

	/* An IPv4-mapped address (::ffff:a.b.c.d) is one IPv4 client. */
	if (inet_pton(AF_INET6, client, &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a)) {
		snprintf(out, outlen, "%s", client);
		return;
	}
	for (i = 0; i < 16; i++) {
		int keep = bits - i * 8;

		if (keep <= 0)
			a.s6_addr[i] = 0;
		else if (keep < 8)
			a.s6_addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
	if (inet_ntop(AF_INET6, &a, net, sizeof net) == NULL)
		snprintf(out, outlen, "%s", client);
	else
		snprintf(out, outlen, "%s/%d", net, bits);
}

void
ratelimit_wipe(struct ratelimit *rl)
{
	explicit_bzero(rl, sizeof *rl);
}
