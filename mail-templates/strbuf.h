/*
 * strbuf.h — a growable byte buffer, internal to the mail module.
 *
 * Rendered mail holds reset tokens, so the buffer never leaves a copy of
 * its contents behind: growth copies into a new block and wipes the old
 * one, and strbuf_free() wipes before freeing.  Allocation failure aborts.
 * The contents are always NUL-terminated once anything was added.
 */
#ifndef PWR_STRBUF_H
#define PWR_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *p;
	size_t len;
	size_t cap;
};

#define STRBUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void strbuf_add(struct strbuf *sb, const char *s, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the contents to the caller (never NULL: "" when empty) and reset
 * sb.  The caller frees the result. */
char *strbuf_detach(struct strbuf *sb);
/* Wipe and free; NULL-safe and safe to call twice. */
void strbuf_free(struct strbuf *sb);
/* explicit_bzero() a NUL-terminated string and free it; NULL-safe. */
void strbuf_wipe_str(char *s);

#endif
