/*
 * buf.h — the growable byte buffer every layer renders into.
 *
 * The buffer owns its bytes; buf_free() releases them and is safe on a
 * zeroed or already-freed struct.  The content is NUL-terminated once
 * anything was added (the NUL is not counted in len).  Allocation failure
 * aborts (see xalloc.h).
 *
 * A buffer that will hold a secret (a rendered mail carries a reset
 * token) is made with BUF_INIT_WIPE: it then never leaves a copy behind —
 * growth copies into a new block and wipes the old one instead of
 * realloc(), and buf_free() wipes before freeing.
 */
#ifndef PWR_COMMON_BUF_H
#define PWR_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
	bool wipe; /* explicit_bzero() whatever the buffer lets go of */
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0, false                                              \
	}
#define BUF_INIT_WIPE                                                          \
	{                                                                      \
		NULL, 0, 0, true                                               \
	}

void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
/* Append the decimal form of v. */
void buf_addu(struct buf *b, unsigned long long v);
void buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drop the leading and trailing SP and HTAB of the content. */
void buf_trim(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
/* Hand the contents to the caller (never NULL: "" when empty) and reset
 * b (its wipe flag stays).  The caller frees the result — with
 * buf_wipe_str() when b was a wiping buffer. */
char *buf_detach(struct buf *b);
/* Release the memory (wiped first when b->wipe); NULL-safe, safe twice. */
void buf_free(struct buf *b);
/* explicit_bzero() a NUL-terminated string and free it; NULL-safe. */
void buf_wipe_str(char *s);

#endif
