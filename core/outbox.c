/*
 * outbox.c — the outbox message sealed at rest (see outbox.h).
 *
 * OpenSSL's EVP AES-256-GCM does the cryptography; this file only frames
 * it: the version prefix, the random nonce, the associated data and the
 * base64 text the database column holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../common/xalloc.h"
#include "outbox.h"

#define OUTBOX_PREFIX	 "v1:"
#define OUTBOX_NONCE_LEN 12
#define OUTBOX_TAG_LEN	 16
/* A rendered email is a few kilobytes; this only keeps every length far
 * from INT_MAX, which EVP counts in. */
#define OUTBOX_TEXT_MAX (16u * 1024 * 1024)
/* First part of the associated data: a text sealed for another use of
 * the same key can never pass for an outbox message. */
#define OUTBOX_AD_LABEL "pwreset outbox v1"

struct outbox_key *
outbox_key_load(const char *path, char *err, size_t errlen)
{
	char buf[OUTBOX_KEY_FILE_MAX + 2];
	struct outbox_key *key = NULL;
	struct stat st;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	/* Whoever can read the key can read every queued reset link. */
	if (st.st_mode & S_IRWXO) {
		snprintf(err, errlen,
			 "other users may read or write it (mode %04o): "
			 "chmod o-rwx it",
			 (unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > OUTBOX_KEY_FILE_MAX)
			break;
	}
	if (got > 0 && buf[got - 1] == '\n')
		got--;
	if (got > 0 && buf[got - 1] == '\r')
		got--;
	if (got != 2 * OUTBOX_KEY_LEN) {
		snprintf(err, errlen,
			 "must hold %d hexadecimal digits (made by "
			 "`pwreset-ctl outbox-key FILE`)",
			 2 * OUTBOX_KEY_LEN);
		goto out;
	}
	key = xcalloc(1, sizeof(*key));
	for (size_t i = 0; i < OUTBOX_KEY_LEN; i++) {
		unsigned v = 0;

		for (size_t j = 0; j < 2; j++) {
			char c = buf[2 * i + j];
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else {
				snprintf(err, errlen,
					 "must hold %d hexadecimal digits "
					 "and nothing else",
					 2 * OUTBOX_KEY_LEN);
				outbox_key_free(key);
				key = NULL;
				goto out;
			}
			v = v << 4 | d;
		}
		key->k[i] = (uint8_t)v;
	}
	snprintf(key->path, sizeof(key->path), "%s", path);
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return key;
}

void
outbox_key_free(struct outbox_key *key)
{
	if (key == NULL)
		return;
	explicit_bzero(key, sizeof(*key));
	free(key);
}

int
outbox_key_create(const char *path, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t k[OUTBOX_KEY_LEN];
	char text[2 * OUTBOX_KEY_LEN + 1];
	size_t off = 0;
	int fd, rc = -1;

	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < OUTBOX_KEY_LEN; i++) {
		text[2 * i] = hex[k[i] >> 4];
		text[2 * i + 1] = hex[k[i] & 0xf];
	}
	text[2 * OUTBOX_KEY_LEN] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	/* The umask may have narrowed it, never widened: make it exact. */
	if (fchmod(fd, 0600) != 0) {
		snprintf(err, errlen, "chmod: %s", strerror(errno));
		goto unlink;
	}
	while (off < sizeof(text)) {
		ssize_t w = write(fd, text + off, sizeof(text) - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			goto unlink;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "fsync: %s", strerror(errno));
		goto unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "close: %s", strerror(errno));
		goto unlink;
	}
	fd = -1;
	rc = 0;
	goto out;
unlink:
	unlink(path);
out:
	if (fd >= 0)
		close(fd);
	explicit_bzero(k, sizeof(k));
	explicit_bzero(text, sizeof(text));
	return rc;
}

/* Feed the associated data: label, kind and recipient, each with its
 * terminating NUL so that no two (kind, recipient) pairs run together. */
static int
outbox_ad(EVP_CIPHER_CTX *ctx, bool enc, const char *kind,
	  const char *recipient)
{
	const char *parts[] = {OUTBOX_AD_LABEL, kind, recipient};
	int n;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const unsigned char *p = (const unsigned char *)parts[i];
		size_t len = strlen(parts[i]) + 1;

		if (len > OUTBOX_TEXT_MAX)
			return -1;
		if ((enc ? EVP_EncryptUpdate(ctx, NULL, &n, p, (int)len)
			 : EVP_DecryptUpdate(ctx, NULL, &n, p, (int)len)) != 1)
			return -1;
	}
	return 0;
}

char *
outbox_seal(const struct outbox_key *key, const char *plaintext,
	    const char *kind, const char *recipient)
{
	size_t plen = strlen(plaintext);
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	char *out = NULL;
	size_t rawlen, outlen;
	int n, fin;

	if (key == NULL || plen > OUTBOX_TEXT_MAX)
		return NULL;
	rawlen = OUTBOX_NONCE_LEN + plen + OUTBOX_TAG_LEN;
	raw = xmalloc(rawlen);
	if (getrandom(raw, OUTBOX_NONCE_LEN, 0) != OUTBOX_NONCE_LEN)
		goto fail;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->k, raw) !=
		1 ||
	    outbox_ad(ctx, true, kind, recipient) != 0 ||
	    EVP_EncryptUpdate(ctx, raw + OUTBOX_NONCE_LEN, &n,
			      (const unsigned char *)plaintext,
			      (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + OUTBOX_NONCE_LEN + n, &fin) != 1 ||
	    (size_t)n + (size_t)fin != plen ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, OUTBOX_TAG_LEN,
				raw + OUTBOX_NONCE_LEN + plen) != 1)
		goto fail;
	outlen = strlen(OUTBOX_PREFIX) + 4 * ((rawlen + 2) / 3) + 1;
	out = xmalloc(outlen);
	memcpy(out, OUTBOX_PREFIX, strlen(OUTBOX_PREFIX));
	EVP_EncodeBlock((unsigned char *)out + strlen(OUTBOX_PREFIX), raw,
			(int)rawlen);
	goto done;
fail:
	free(out);
	out = NULL;
done:
	EVP_CIPHER_CTX_free(ctx);
	free(raw); /* ciphertext only: nothing secret */
	return out;
}

/* Strict base64 of the whole string: the length a multiple of 4, the
 * alphabet only, '=' only as the last one or two characters.  The
 * decoded length, or -1. */
static long
outbox_b64_len(const char *s, size_t len)
{
	size_t pad = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -1;
	}
	return (long)(len / 4 * 3 - pad);
}

char *
outbox_open(const struct outbox_key *key, const char *stored, const char *kind,
	    const char *recipient)
{
	size_t plen, b64len;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	char *out = NULL, *canon = NULL;
	long rawlen;
	int n, fin;

	if (key == NULL ||
	    strncmp(stored, OUTBOX_PREFIX, strlen(OUTBOX_PREFIX)) != 0)
		return NULL;
	stored += strlen(OUTBOX_PREFIX);
	b64len = strlen(stored);
	if (b64len > 2 * OUTBOX_TEXT_MAX)
		return NULL;
	rawlen = outbox_b64_len(stored, b64len);
	if (rawlen < OUTBOX_NONCE_LEN + OUTBOX_TAG_LEN)
		return NULL;
	raw = xmalloc(b64len / 4 * 3);
	if (EVP_DecodeBlock(raw, (const unsigned char *)stored, (int)b64len) <
	    rawlen)
		goto done;
	/* One spelling per text: bits base64 leaves unused must be zero. */
	canon = xmalloc(b64len + 1);
	EVP_EncodeBlock((unsigned char *)canon, raw, (int)rawlen);
	if (strcmp(canon, stored) != 0)
		goto done;
	plen = (size_t)rawlen - OUTBOX_NONCE_LEN - OUTBOX_TAG_LEN;
	out = xmalloc(plen + 1);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->k, raw) !=
		1 ||
	    outbox_ad(ctx, false, kind, recipient) != 0 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out, &n,
			      raw + OUTBOX_NONCE_LEN, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, OUTBOX_TAG_LEN,
				raw + OUTBOX_NONCE_LEN + plen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &fin) != 1 ||
	    (size_t)n + (size_t)fin != plen ||
	    memchr(out, '\0', plen) != NULL) {
		/* Unauthenticated bytes never leave this function. */
		explicit_bzero(out, plen + 1);
		free(out);
		out = NULL;
		goto done;
	}
	out[plen] = '\0';
done:
	EVP_CIPHER_CTX_free(ctx);
	free(canon);
	free(raw);
	return out;
}
