/*
 * token.c — reset and admin tokens.
 *
 * 24 random bytes encode to exactly 32 base64url characters with no
 * padding and no spare bits, so every well-formed text is the encoding of
 * exactly one byte string.  The raw bytes are wiped as soon as they are
 * encoded; the text is the caller's to wipe.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "token.h"

_Static_assert(TOKEN_LEN == (TOKEN_BYTES / 3) * 4,
	       "a token is a whole number of base64 quanta");

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* getrandom(2) may return short reads for large requests and EINTR when a
 * signal lands; both are retried.  Blocks only before the kernel's pool is
 * first seeded. */
int
token_random(uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
token_new(char out[TOKEN_LEN + 1])
{
	uint8_t raw[TOKEN_BYTES];
	int rc = -1;

	if (token_random(raw, sizeof(raw)) != 0)
		goto out;
	token_encode(raw, sizeof(raw), out);
	rc = 0;
out:
	explicit_bzero(raw, sizeof(raw));
	return rc;
}

void
token_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		*out++ = b64url[(v >> 18) & 0x3f];
		*out++ = b64url[(v >> 12) & 0x3f];
		*out++ = b64url[(v >> 6) & 0x3f];
		*out++ = b64url[v & 0x3f];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*out++ = b64url[(v >> 18) & 0x3f];
		*out++ = b64url[(v >> 12) & 0x3f];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = b64url[(v >> 18) & 0x3f];
		*out++ = b64url[(v >> 12) & 0x3f];
		*out++ = b64url[(v >> 6) & 0x3f];
	}
	*out = '\0';
}

bool
token_well_formed(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < TOKEN_LEN; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false; /* also stops at an early NUL */
	}
	return s[i] == '\0';
}

void
token_hash(const char *token, uint8_t out[TOKEN_HASH_LEN])
{
	unsigned int len = 0;

	/* SHA-256 cannot fail short of a broken libcrypto or no memory;
	 * we treat both like allocation failure. */
	if (EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL) !=
		1 ||
	    len != TOKEN_HASH_LEN)
		abort();
}

bool
token_hash_equal(const uint8_t a[TOKEN_HASH_LEN],
		 const uint8_t b[TOKEN_HASH_LEN])
{
	return CRYPTO_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}
