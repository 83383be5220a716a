/*
 * validate.h — PageSeeder's rules for member data.  Pure functions, no
 * allocation.  The UTF-8 checks moved to common/utf8.h, included here for
 * the callers that still reach them through this header.
 */
#ifndef PWR_VALIDATE_H
#define PWR_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/utf8.h"

#define USERNAME_MAX 100 /* characters of [A-Za-z0-9_.-] */
#define EMAIL_MAX    99	 /* "under 100 characters" */
#define NAME_MAX_CP  50	 /* first/last name, code points */

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
