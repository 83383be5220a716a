/*
 * token.h — reset and admin tokens: 24 bytes from getrandom(2), written as
 * 32 characters of base64url without padding.  Only token_hash() of a token
 * is ever stored.  No allocation; callers own every buffer.
 */
#ifndef PWR_TOKEN_H
#define PWR_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_BYTES    24
#define TOKEN_LEN      32 /* base64url characters, no padding */
#define TOKEN_HASH_LEN 32 /* SHA-256 */

/* len bytes from getrandom(2), retried on EINTR and short reads; the one
 * source of randomness of the core (tokens, salts).  0, or -1 (errno). */
int token_random(uint8_t *buf, size_t len);

/* Fill out with a new token and its NUL.  Returns 0, or -1 (errno set). */
int token_new(char out[TOKEN_LEN + 1]);

/* base64url without padding of len bytes; out holds 4*ceil(len/3)+1. */
void token_encode(const uint8_t *in, size_t len, char *out);

/* true when s is exactly TOKEN_LEN characters of [A-Za-z0-9_-]. */
bool token_well_formed(const char *s);

/* SHA-256 of the token's text. */
void token_hash(const char *token, uint8_t out[TOKEN_HASH_LEN]);

/* Constant-time equality of two hashes (CRYPTO_memcmp). */
bool token_hash_equal(const uint8_t a[TOKEN_HASH_LEN],
		      const uint8_t b[TOKEN_HASH_LEN]);

#endif
