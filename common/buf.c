/*
 * buf.c — a growable byte buffer (see buf.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "buf.h"
#include "xalloc.h"

#define BUF_MIN 256

static void
buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX / 2 - b->len)
		abort();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : BUF_MIN;
	while (cap < need)
		cap *= 2;
	if (b->wipe) {
		/* Not realloc(): it could leave the old contents in freed
		 * memory. */
		char *p = xmalloc(cap);

		if (b->p != NULL) {
			memcpy(p, b->p, b->len + 1);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		} else {
			p[0] = '\0';
		}
		b->p = p;
	} else {
		bool fresh = b->p == NULL;

		b->p = xrealloc(b->p, cap);
		if (fresh)
			b->p[0] = '\0';
	}
	b->cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void
buf_addu(struct buf *b, unsigned long long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", v);

	buf_add(b, tmp, (size_t)n);
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	buf_add(b, s, (size_t)n);
	/* The formatted copy may hold the same secret as the buffer. */
	if (b->wipe)
		explicit_bzero(s, (size_t)n);
	free(s);
}

void
buf_trim(struct buf *b)
{
	const char *s, *e;

	if (b->p == NULL)
		return;
	s = b->p;
	e = b->p + b->len;
	ascii_trim(&s, &e);
	memmove(b->p, s, (size_t)(e - s));
	b->len = (size_t)(e - s);
	b->p[b->len] = '\0';
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

char *
buf_detach(struct buf *b)
{
	char *p;

	buf_grow(b, 0);
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	if (b->p != NULL && b->wipe)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
buf_wipe_str(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
