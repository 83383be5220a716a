/*
 * validate.c — PageSeeder's rules for member data, and strict UTF-8.
 *
 * Everything here works on bytes and ASCII classes by hand: <ctype.h>
 * depends on the locale, and these answers must not.
 */
#include <stdint.h>
#include <string.h>

#include "validate.h"

#define EMAIL_LOCAL_MAX 64 /* RFC 5321 */
#define EMAIL_LABEL_MAX 63 /* RFC 1035 */

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/*
 * Decode one code point of s[0..len); returns its length in bytes, or 0
 * when the sequence is not well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF, no NUL).
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (len == 0 || s[0] == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0; /* continuation byte, 0xc0/0xc1 or 0xf5..0xff */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	if (s == NULL)
		return false;
	while (len > 0) {
		size_t n = utf8_decode(p, len, &cp);
		if (n == 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

size_t
utf8_count(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

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
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-')
			return false;
		if (!is_digit(s[i]))
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
		} else if (is_alpha(*p) || is_digit(*p) || *p == '-') {
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
	const unsigned char *p = (const unsigned char *)s;
	size_t len, count = 0;
	uint32_t cp;

	if (s == NULL)
		return false;
	len = strlen(s);
	while (len > 0) {
		size_t n = utf8_decode(p, len, &cp);
		if (n == 0)
			return false;
		/* C0, DEL, C1, and the Unicode line/paragraph separators,
		 * which break lines as surely as LF does. */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
		    cp == 0x2029)
			return false;
		if (++count > NAME_MAX_CP)
			return false;
		p += n;
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
