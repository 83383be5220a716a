/*
 * strbuf.c — a growable byte buffer that wipes what it lets go of.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static void
strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > (size_t)-1 / 2 - sb->len)
		abort();
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap *= 2;
	/* Not realloc(): it could leave the old contents in freed memory. */
	if ((p = malloc(cap)) == NULL)
		abort();
	if (sb->p != NULL) {
		memcpy(p, sb->p, sb->len + 1);
		explicit_bzero(sb->p, sb->cap);
		free(sb->p);
	} else {
		p[0] = '\0';
	}
	sb->p = p;
	sb->cap = cap;
}

void
strbuf_add(struct strbuf *sb, const char *s, size_t n)
{
	strbuf_grow(sb, n);
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

void
strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void
strbuf_addc(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	strbuf_add(sb, s, (size_t)n);
	strbuf_wipe_str(s);
}

char *
strbuf_detach(struct strbuf *sb)
{
	char *p;

	strbuf_grow(sb, 0);
	p = sb->p;
	sb->p = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void
strbuf_free(struct strbuf *sb)
{
	if (sb == NULL || sb->p == NULL)
		return;
	explicit_bzero(sb->p, sb->cap);
	free(sb->p);
	sb->p = NULL;
	sb->len = sb->cap = 0;
}

void
strbuf_wipe_str(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
