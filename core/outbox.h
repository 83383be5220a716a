/*
 * outbox.h — the outbox message sealed at rest (SPEC §8, secrets at rest).
 *
 * A queued email holds a reset link, so the text stored in
 * mail_outbox.message is AES-256-GCM ciphertext under a key only the
 * service holds ([mail] outbox_key_file, the same file on every host).
 * Stored form: "v1:" + base64(nonce[12] | ciphertext | tag[16]); the nonce
 * is random per message.  The associated data binds the ciphertext to its
 * row's kind and recipient — known before the row id exists — so a sealed
 * text moved to a row of another recipient does not open.
 *
 * Key file: 64 hexadecimal characters (32 bytes) and an optional line end,
 * nothing else; made by `pwreset-ctl outbox-key FILE`; refused when other
 * users may read or write it.
 *
 * Ownership: outbox_key_load() hands out a key the caller frees with
 * outbox_key_free() (NULL-safe; wipes it).  outbox_seal()/outbox_open()
 * return malloc'd strings the caller frees; outbox_open()'s plaintext
 * holds a token: wipe it (explicit_bzero) before freeing.
 */
#ifndef PWR_OUTBOX_H
#define PWR_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define OUTBOX_KEY_LEN	    32
#define OUTBOX_KEY_FILE_MAX 66 /* 64 hex digits + "\r\n" */

struct outbox_key {
	uint8_t k[OUTBOX_KEY_LEN];
	char path[4096]; /* where it came from, for log lines */
};

/* Read the key file at path: the key, or NULL with "why" in err (the
 * path is not repeated there). */
struct outbox_key *outbox_key_load(const char *path, char *err, size_t errlen);
void outbox_key_free(struct outbox_key *key);

/* Make a new key file at path: 32 bytes from getrandom(), written as 64
 * hex digits and a newline, mode 0600, O_EXCL (an existing file is never
 * overwritten).  0, or -1 with why in err; no file is left on failure. */
int outbox_key_create(const char *path, char *err, size_t errlen);

/* Seal plaintext for a row of kind to recipient: the stored text, or NULL
 * when OpenSSL failed (allocation failure aborts). */
char *outbox_seal(const struct outbox_key *key, const char *plaintext,
		  const char *kind, const char *recipient);

/* Open a stored text: the plaintext, or NULL when it is not a sealed text
 * of this format, was sealed under another key, for another kind or
 * recipient, or was altered. */
char *outbox_open(const struct outbox_key *key, const char *stored,
		  const char *kind, const char *recipient);

#endif
