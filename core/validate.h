/*
 * validate.h — PageSeeder's rules for member data and the UTF-8 checks the
 * rest of pwreset leans on.  Pure functions, no allocation.
 */
#ifndef PWR_VALIDATE_H
#define PWR_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define USERNAME_MAX 100 /* characters of [A-Za-z0-9_.-] */
#define EMAIL_MAX    99	 /* "under 100 characters" */
#define NAME_MAX_CP  50	 /* first/last name, code points */

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool utf8_valid(const char *s, size_t len);
/* Number of code points of a valid UTF-8 string. */
size_t utf8_count(const char *s);

/* 1–100 of [A-Za-z0-9_.-], not all digits. */
bool validate_username(const char *s);
/* local@domain, under 100 characters, no space or control, a dot in the
 * domain, no leading/trailing/double dot. */
bool validate_email(const char *s);
/* valid UTF-8, at most 50 code points, no control characters. */
bool validate_name(const char *s);
/* one of "activated", "unactivated", "disabled". */
bool validate_status(const char *s);

#endif
