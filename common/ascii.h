/*
 * ascii.h — byte classes and trimming, by hand.
 *
 * <ctype.h> answers by locale and takes an int that must not be a
 * negative char; protocol and config text wants fixed ASCII answers.
 * Pure functions, no allocation.
 */
#ifndef PWR_COMMON_ASCII_H
#define PWR_COMMON_ASCII_H

#include <stdbool.h>
#include <stddef.h>

bool ascii_is_digit(char c);
bool ascii_is_alpha(char c);
bool ascii_is_alnum(char c);
/* SP or HTAB: RFC 5322 WSP, RFC 9110 OWS, an INI value's blanks. */
bool ascii_is_blank(char c);
/* A C0 control (NUL included) or DEL. */
bool ascii_is_control(char c);
/* 'A'..'Z' to 'a'..'z'; every other byte unchanged. */
char ascii_to_lower(char c);
/* Move *s forward and *e back over SP and HTAB; [*s, *e) stays a valid
 * (maybe empty) span. */
void ascii_trim(const char **s, const char **e);

#endif
