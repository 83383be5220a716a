/*
 * slots.h — the fuzz targets' input format: fields separated by NUL
 * bytes, so that the fuzzer can grow or shrink one without disturbing the
 * others.  Header-only: each target is its own program.
 */
#ifndef PWR_FUZZ_SLOTS_H
#define PWR_FUZZ_SLOTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A NUL-terminated copy of data (the caller frees it), split at each NUL
 * into at most n C strings in slot[]; slots the input does not reach stay
 * NULL.  *used (when used is not NULL) receives how many bytes of data the
 * slots took, at most size: what follows is the rest of the input.
 */
static inline char *
fuzz_slots(const uint8_t *data, size_t size, char **slot, size_t n,
	   size_t *used)
{
	char *copy = malloc(size + 1), *s;
	size_t pos = 0;

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	s = copy;
	for (size_t i = 0; i < n; i++)
		slot[i] = NULL;
	for (size_t i = 0; i < n && pos < size; i++) {
		size_t len = strlen(s);

		slot[i] = s;
		pos += len + 1;
		s += len + 1;
	}
	if (used != NULL)
		*used = pos > size ? size : pos;
	return copy;
}

#endif
