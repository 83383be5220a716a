/*
 * ascii.c — byte classes and trimming (see ascii.h).
 */
#include "ascii.h"

bool
ascii_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool
ascii_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool
ascii_is_alnum(char c)
{
	return ascii_is_digit(c) || ascii_is_alpha(c);
}

bool
ascii_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool
ascii_is_control(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

char
ascii_to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

void
ascii_trim(const char **s, const char **e)
{
	while (*s < *e && ascii_is_blank(**s))
		(*s)++;
	while (*e > *s && ascii_is_blank((*e)[-1]))
		(*e)--;
}
