/*
 * validate.c — PageSeeder's rules for member data.
 *
 * Everything here works on bytes and ASCII classes (common/ascii.h), not
 * <ctype.h>: that depends on the locale, and these answers must not.
 */
#include <stdint.h>
#include <string.h>

#include "common/ascii.h"
#include "common/utf8.h"
#include "validate.h"

#define EMAIL_LOCAL_MAX 64 /* RFC 5321 */
#define EMAIL_LABEL_MAX 63 /* RFC 1035 */

bool
validate_username(const char *s)
{
	size_t len;
	bool all_digits = true;

	if (s == NULL)
		return false;
	len = strlen(s);
	if (len == 0 || len > USERNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!ascii_is_alpha(s[i]) && !ascii_is_digit(s[i]) &&
		    s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
		if (!ascii_is_digit(s[i]))
			all_digits = false;
	}
	return !all_digits;
}

/* Printable ASCII without space and the RFC 5322 specials (and '"': we
 * take no quoted local parts). */
static bool
email_local_char(char ch)
{
	return ch > 0x20 && ch < 0x7f && strchr("\"(),:;<>[\\]@", ch) == NULL;
}

static bool
email_local_valid(const char *s, size_t len)
{
	if (len == 0 || len > EMAIL_LOCAL_MAX || s[0] == '.' ||
	    s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!email_local_char(s[i]))
			return false;
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

static bool
email_domain_valid(const char *s)
{
	size_t label = 0;
	int dots = 0;

	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > EMAIL_LABEL_MAX ||
			    *(p - 1) == '-' || *(p - label) == '-')
				return false;
			if (*p == '\0')
				break;
			dots++;
			label = 0;
		} else if (ascii_is_alpha(*p) || ascii_is_digit(*p) ||
			   *p == '-') {
			label++;
		} else {
			return false;
		}
	}
	return dots > 0;
}

bool
validate_email(const char *s)
{
	const char *at;
	size_t len;

	if (s == NULL)
		return false;
	len = strlen(s);
	if (len == 0 || len > EMAIL_MAX)
		return false;
	at = strchr(s, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return false;
	return email_local_valid(s, (size_t)(at - s)) &&
	       email_domain_valid(at + 1);
}

bool
validate_name(const char *s)
{
	size_t len, count = 0;
	uint32_t cp;

	if (s == NULL)
		return false;
	len = strlen(s);
	while (len > 0) {
		size_t n = utf8_decode(s, len, &cp);
		if (n == 0)
			return false;
		/* C0, DEL, C1, and the Unicode line/paragraph separators,
		 * which break lines as surely as LF does. */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
		    cp == 0x2029)
			return false;
		if (++count > NAME_MAX_CP)
			return false;
		s += n;
		len -= n;
	}
	return true;
}

bool
validate_status(const char *s)
{
	static const char *const statuses[] = {"activated", "unactivated",
					       "disabled"};

	if (s == NULL)
		return false;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(s, statuses[i]) == 0)
			return true;
	return false;
}
