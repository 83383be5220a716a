/*
 * xalloc.h — allocation that cannot fail.
 *
 * Like redis, pwreset aborts when the heap is exhausted instead of
 * threading an "out of memory" branch through every caller: such branches
 * are never tested, there is no sensible answer to give without memory,
 * and the supervisor restarts a worker that dies.  Every pointer returned
 * here is the caller's to free().
 */
#ifndef PWR_COMMON_XALLOC_H
#define PWR_COMMON_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
/* Zeroed; aborts on overflow of nmemb * size as well. */
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* realloc() of nmemb * size with the overflow check of calloc(). */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
/* A NUL-terminated copy of the n bytes at s (which may hold NULs). */
char *xmemdup(const void *s, size_t n);

#endif
