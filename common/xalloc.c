/*
 * xalloc.c — allocation that aborts on failure (see xalloc.h).
 */
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* A zero-byte request may legitimately return NULL; ask for one byte so
 * that NULL always means failure. */
void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		abort();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		abort();
	return q;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *q = reallocarray(p, nmemb ? nmemb : 1, size ? size : 1);

	if (q == NULL)
		abort();
	return q;
}

char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

char *
xmemdup(const void *s, size_t n)
{
	char *d;

	if (n == (size_t)-1)
		abort();
	d = xmalloc(n + 1);
	if (n > 0)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}
