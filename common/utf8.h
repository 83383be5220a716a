/*
 * utf8.h — strict UTF-8 (RFC 3629), the one decoder every layer uses.
 *
 * Well-formed means: no overlongs, no surrogates, nothing above
 * U+10FFFF, and no NUL (a NUL would cut the string short in C).  Pure
 * functions, no allocation.
 */
#ifndef PWR_COMMON_UTF8_H
#define PWR_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of the sequence a lead byte announces; 0 for a continuation
 * byte, 0xc0, 0xc1 or 0xf5..0xff. */
size_t utf8_lead_len(unsigned char c);
/* Decode one code point of s[0..len) into *cp (may be NULL); returns its
 * length in bytes, or 0 when s does not start with a well-formed
 * sequence. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);
/* s[0..len) is well-formed UTF-8; false for NULL. */
bool utf8_valid(const char *s, size_t len);
/* Number of code points of a valid UTF-8 string. */
size_t utf8_count(const char *s);

#endif
