/*
 * buf.h — a growable byte buffer for rendering answers.
 *
 * The buffer owns its bytes; buf_free() releases them and is safe on a
 * zeroed or already-freed struct.  The content is always NUL-terminated
 * (the NUL is not counted in len).  Allocation failure aborts: there is no
 * sensible answer to give without memory.
 */
#ifndef PWR_FCGI_BUF_H
#define PWR_FCGI_BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
/* Append the decimal form of v. */
void buf_addu(struct buf *b, unsigned long long v);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
void buf_free(struct buf *b);

#endif
