/*
 * banned.c — the offline list of common passwords.
 *
 * Storage: every entry, lower-cased (ASCII), sits NUL-terminated in one
 * arena; a sorted array of pointers into it is searched with bsearch().
 * Chosen over a hash set because the list is built once and then only
 * read: a sorted array needs no hash function, no load factor and no
 * tombstones, takes two allocations whatever the size, and a lookup costs
 * about 23 strcmp() calls at the 10-million-entry limit — and lookups
 * happen once per password change, not per request.  Loaded before the
 * workers fork, the pages stay shared copy-on-write since nothing writes
 * them again.
 *
 * Lines are read byte by byte with a bound (BANNED_LINE_MAX), so a file
 * with one enormous line cannot make us allocate it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"
#include "common/ascii.h"
#include "common/xalloc.h"

#define BANNED_LINE_MAX	 256	  /* bytes of one entry */
#define BANNED_COUNT_MAX 10000000 /* entries */
#define BANNED_COMMENT	 "#!comment:"

struct banned {
	char *arena;	/* every entry, NUL-terminated, lower-cased */
	char **entries; /* sorted, unique, pointing into arena */
	size_t count;
};

static int
banned_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Grow *buf (of *cap elements of size elem) to hold at least need. */
static void
banned_reserve(void **buf, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 4096;

	if (need <= *cap)
		return;
	while (n < need)
		n *= 2;
	*buf = xreallocarray(*buf, n, elem);
	*cap = n;
}

/*
 * Read one line into buf (BANNED_LINE_MAX + 1 bytes), without its line
 * ending.  Returns its length, -1 at EOF, -2 when too long, -3 on a NUL
 * byte, -4 on a read error.
 */
static long
banned_read_line(FILE *f, char *buf)
{
	size_t len = 0;
	int ch;

	while ((ch = getc_unlocked(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return -3;
		if (len == BANNED_LINE_MAX)
			return -2;
		buf[len++] = (char)ch;
	}
	if (ch == EOF && ferror(f))
		return -4;
	if (ch == EOF && len == 0)
		return -1;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return (long)len;
}

struct banned *
banned_load(const char *path, char *err, size_t errlen)
{
	struct banned *b = NULL;
	char line[BANNED_LINE_MAX + 1];
	size_t *offs = NULL, offcap = 0, used = 0, arenacap = 0, count = 0;
	size_t lineno = 0;
	char *arena = NULL;
	FILE *f = NULL;
	long len;

	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((len = banned_read_line(f, line)) != -1) {
		lineno++;
		if (len == -2 || len == -3 || len == -4) {
			if (len == -2)
				snprintf(err, errlen,
					 "%s:%zu: line longer than %d bytes",
					 path, lineno, BANNED_LINE_MAX);
			else
				snprintf(err, errlen, "%s:%zu: %s", path,
					 lineno,
					 len == -3 ? "NUL byte in line"
						   : strerror(errno));
			goto out;
		}
		if (strncmp(line, BANNED_COMMENT, strlen(BANNED_COMMENT)) == 0)
			continue;
		if (line[strspn(line, " \t\v\f")] == '\0')
			continue; /* blank */
		if (count == BANNED_COUNT_MAX) {
			snprintf(err, errlen, "%s:%zu: more than %d entries",
				 path, lineno, BANNED_COUNT_MAX);
			goto out;
		}
		banned_reserve((void **)&arena, &arenacap,
			       used + (size_t)len + 1, 1);
		banned_reserve((void **)&offs, &offcap, count + 1,
			       sizeof(*offs));
		offs[count++] = used;
		for (long i = 0; i <= len; i++)
			arena[used++] = ascii_to_lower(line[i]);
	}

	b = xcalloc(1, sizeof(*b));
	b->arena = arena;
	arena = NULL;
	b->entries = xcalloc(count ? count : 1, sizeof(*b->entries));
	for (size_t i = 0; i < count; i++)
		b->entries[i] = b->arena + offs[i];
	qsort(b->entries, count, sizeof(*b->entries), banned_cmp);
	/* Drop duplicates (the list has both "Password" and "password"). */
	for (size_t i = 0; i < count; i++)
		if (b->count == 0 ||
		    strcmp(b->entries[b->count - 1], b->entries[i]) != 0)
			b->entries[b->count++] = b->entries[i];
out:
	if (f != NULL)
		fclose(f);
	free(offs);
	free(arena);
	return b;
}

bool
banned_contains(const struct banned *b, const char *pw)
{
	char key[BANNED_LINE_MAX + 1];
	const char *kp = key;
	size_t len;
	bool found;

	if (b == NULL || pw == NULL)
		return false;
	len = strlen(pw);
	if (len > BANNED_LINE_MAX)
		return false; /* longer than any entry */
	for (size_t i = 0; i <= len; i++)
		key[i] = ascii_to_lower(pw[i]);
	found = bsearch(&kp, b->entries, b->count, sizeof(*b->entries),
			banned_cmp) != NULL;
	explicit_bzero(key, len);
	return found;
}

void
banned_free(struct banned *b)
{
	if (b == NULL)
		return;
	free(b->entries);
	free(b->arena);
	free(b);
}
