/*
 * banned.h — the offline list of common passwords.
 *
 * Loaded once per process, before the workers fork, and owned by the
 * caller (banned_free()).  Matching is case-insensitive (ASCII).
 */
#ifndef PWR_BANNED_H
#define PWR_BANNED_H

#include <stdbool.h>
#include <stddef.h>

struct banned;

/* Load a list, one password per line; lines starting "#!comment:" and
 * blank lines are skipped.  NULL on error with a message in err. */
struct banned *banned_load(const char *path, char *err, size_t errlen);
/* false for a NULL list or pw. */
bool banned_contains(const struct banned *b, const char *pw);
void banned_free(struct banned *b); /* NULL-safe */

#endif
