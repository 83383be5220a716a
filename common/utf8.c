/*
 * utf8.c — strict UTF-8 (see utf8.h).
 */
#include "utf8.h"

size_t
utf8_lead_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

size_t
utf8_decode(const char *str, size_t len, uint32_t *cp)
{
	/* The smallest code point each length may encode (no overlongs). */
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	const unsigned char *s = (const unsigned char *)str;
	size_t n;
	uint32_t c;

	if (len == 0 || s[0] == 0 || (n = utf8_lead_len(s[0])) == 0 || len < n)
		return 0;
	c = s[0] & lead_mask[n];
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (cp != NULL)
		*cp = c;
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	if (s == NULL)
		return false;
	while (len > 0) {
		size_t n = utf8_decode(s, len, NULL);
		if (n == 0)
			return false;
		s += n;
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
