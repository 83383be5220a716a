/*
 * config_values.h — the checks of single string values in the key table
 * of config.c (a URL, a path, a user name, ...), private to config.c and
 * config_values.c.  Each returns false and writes why when it refuses v.
 */
#ifndef PWR_CONFIG_VALUES_H
#define PWR_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>

/* inih's line buffer (INI_MAX_LINE in the packaged library): no value is
 * longer. */
#define CONFIG_LINE_BUF 200

bool config_value_hosturl(const char *v, char *why, size_t whylen);
bool config_value_site_prefix(const char *v, char *why, size_t whylen);
bool config_value_opt_url_path(const char *v, char *why, size_t whylen);
bool config_value_domain(const char *v, char *why, size_t whylen);
bool config_value_listen(const char *v, char *why, size_t whylen);
bool config_value_user(const char *v, char *why, size_t whylen);
bool config_value_abs_path(const char *v, char *why, size_t whylen);
bool config_value_opt_abs_path(const char *v, char *why, size_t whylen);
bool config_value_set_name(const char *v, char *why, size_t whylen);
bool config_value_link_template(const char *v, char *why, size_t whylen);
bool config_value_proxies(const char *v, char *why, size_t whylen);
bool config_value_host(const char *v, char *why, size_t whylen);
bool config_value_from(const char *v, char *why, size_t whylen);

/* Full strtol check: digits only (an optional leading '-'), no overflow,
 * nothing after the number; base 8 takes octal digits only. */
bool config_parse_long(const char *v, int base, long *out);

#endif
