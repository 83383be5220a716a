/*
 * setname.c — the template set name rule (see setname.h).
 */
#include <stddef.h>

#include "ascii.h"
#include "setname.h"

bool
setname_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if (n == SETNAME_MAX ||
		    (!ascii_is_alnum(s[n]) && s[n] != '_' && s[n] != '-'))
			return false;
	return n > 0;
}
