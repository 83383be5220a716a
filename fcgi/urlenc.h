/*
 * urlenc.h — strict percent-decoding, shared by the router ({group}) and
 * the form parser.
 *
 * "%XX" needs exactly two hex digits (either case); a lone '%' or a bad
 * digit is an error, never passed through.  No allocation: dst must hold
 * len bytes (decoding never grows), and may be src itself (in place).
 * The result is NOT NUL-terminated and may contain any byte, NUL
 * included: the caller checks UTF-8 and control characters.
 */
#ifndef PWR_FCGI_URLENC_H
#define PWR_FCGI_URLENC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Decode len bytes of src into dst; plus_space turns '+' into ' ' (form
 * encoding).  Returns the decoded length, or -1 on a bad escape. */
ssize_t urlenc_decode(char *dst, const char *src, size_t len, bool plus_space);

/* true when s[0..len) holds a C0 control, DEL or a C1 control (U+0080 to
 * U+009F, as UTF-8).  NUL counts. */
bool urlenc_has_control(const char *s, size_t len);

#endif
