/*
 * config_values.c — the checks of single string values of the key table
 * (config.c): what a URL, a path, a set name, a listen address, the trusted
 * proxies or a From header must look like before the service uses them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/ascii.h"
#include "common/setname.h"
#include "common/utf8.h"
#include "config_values.h"
#include "validate.h"
#include "../mail-templates/mail.h"

/* ---- checks of single string values ---------------------------------- */

/* [from, to) holds no white space; else false with why. */
static bool
no_spaces(const char *from, const char *to, char *why, size_t whylen)
{
	for (const char *s = from; s < to; s++) {
		if (isspace((unsigned char)*s)) {
			snprintf(why, whylen, "must not contain spaces");
			return false;
		}
	}
	return true;
}

/* Characters safe in a URL path or host that we build links from. */
static bool
is_url_char(char ch)
{
	return ascii_is_alnum(ch) || strchr("-._~:/@!$&()*+,;=%[]", ch);
}

bool
config_value_hosturl(const char *v, char *why, size_t whylen)
{
	const char *rest;

	if (strncmp(v, "https://", 8) == 0)
		rest = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		rest = v + 7;
	else {
		snprintf(why, whylen, "must start with http:// or https://");
		return false;
	}
	if (*rest == '\0' || *rest == '/') {
		snprintf(why, whylen, "needs a host after the scheme");
		return false;
	}
	for (const char *s = rest; *s != '\0'; s++) {
		if (!is_url_char(*s)) {
			snprintf(why, whylen,
				 "character '%c' is not allowed (no query, "
				 "fragment or space)",
				 *s);
			return false;
		}
	}
	if (v[strlen(v) - 1] == '/') {
		snprintf(why, whylen, "must not end with '/'");
		return false;
	}
	return true;
}

bool
config_value_site_prefix(const char *v, char *why, size_t whylen)
{
	size_t len = strlen(v);

	if (len == 0)
		return true;
	if (v[0] != '/' || v[len - 1] == '/') {
		snprintf(why, whylen,
			 "must be empty or start with '/' and not end with "
			 "'/'");
		return false;
	}
	for (const char *s = v; *s != '\0'; s++) {
		if (!ascii_is_alnum(*s) && !strchr("-._~/", *s)) {
			snprintf(why, whylen,
				 "only letters, digits and -._~/ are allowed");
			return false;
		}
		if (s[0] == '/' && s[1] == '/') {
			snprintf(why, whylen, "must not contain '//'");
			return false;
		}
	}
	return true;
}

/* status_path, ping_path: "" (off) or an absolute path a request's
 * REQUEST_URI is compared with, spelt like site_prefix. */
bool
config_value_opt_url_path(const char *v, char *why, size_t whylen)
{
	return config_value_site_prefix(v, why, whylen);
}

bool
config_value_domain(const char *v, char *why, size_t whylen)
{
	if (*v == '\0') {
		snprintf(why, whylen, "must not be empty");
		return false;
	}
	for (const char *s = v; *s != '\0'; s++) {
		if (!ascii_is_alnum(*s) && *s != '-' && *s != '.') {
			snprintf(why, whylen,
				 "only letters, digits, '-' and '.' are "
				 "allowed");
			return false;
		}
	}
	return true;
}

bool
config_value_host(const char *v, char *why, size_t whylen)
{
	if (*v == '\0') {
		snprintf(why, whylen, "must not be empty");
		return false;
	}
	if (!no_spaces(v, v + strlen(v), why, whylen))
		return false;
	return true;
}

/* The mailer refuses to start without an address to send from: parsed by
 * the mail module's own rule, the one that writes the From header. */
bool
config_value_from(const char *v, char *why, size_t whylen)
{
	char addr[CONFIG_LINE_BUF];

	if (mail_address_of(v, addr, sizeof(addr)) != 0) {
		snprintf(why, whylen,
			 "must hold an email address, as in "
			 "\"Name <user@example.org>\"");
		return false;
	}
	return true;
}

/* "" (fd 0), "unix:/absolute/path" or "[host]:port". */
bool
config_value_listen(const char *v, char *why, size_t whylen)
{
	const char *colon;
	long port;

	if (*v == '\0')
		return true;
	if (strncmp(v, "unix:", 5) == 0) {
		const char *path = v + 5;
		if (path[0] != '/' ||
		    strlen(path) >=
			sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(why, whylen,
				 "unix: needs an absolute path shorter than "
				 "%zu bytes",
				 sizeof(((struct sockaddr_un *)0)->sun_path));
			return false;
		}
		return true;
	}
	colon = strrchr(v, ':');
	if (colon == NULL || !config_parse_long(colon + 1, 10, &port) ||
	    port < 1 || port > 65535) {
		snprintf(why, whylen,
			 "must be empty, unix:/path or host:port (port 1 to "
			 "65535)");
		return false;
	}
	if (!no_spaces(v, colon, why, whylen))
		return false;
	return true;
}

bool
config_value_user(const char *v, char *why, size_t whylen)
{
	if (*v == '-') {
		snprintf(why, whylen, "must not start with '-'");
		return false;
	}
	for (const char *s = v; *s != '\0'; s++) {
		if (!ascii_is_alnum(*s) && !strchr("_.-", *s)) {
			snprintf(why, whylen,
				 "only letters, digits and _.- are allowed");
			return false;
		}
	}
	return true;
}

bool
config_value_abs_path(const char *v, char *why, size_t whylen)
{
	if (v[0] != '/') {
		snprintf(why, whylen, "must be an absolute path");
		return false;
	}
	return true;
}

bool
config_value_opt_abs_path(const char *v, char *why, size_t whylen)
{
	return *v == '\0' || config_value_abs_path(v, why, whylen);
}

/* A template set is a directory under template_dir: a plain name, by
 * the one rule the loader and pwreset-ctl use too (common/setname.h).
 * Empty: no global set. */
bool
config_value_set_name(const char *v, char *why, size_t whylen)
{
	if (*v == '\0' || setname_valid(v))
		return true;
	snprintf(why, whylen,
		 "only letters, digits, _ and - are allowed (at most %d)",
		 SETNAME_MAX);
	return false;
}

bool
config_value_link_template(const char *v, char *why, size_t whylen)
{
	if (strstr(v, "{token}") == NULL) {
		snprintf(why, whylen, "must contain {token}");
		return false;
	}
	if (!no_spaces(v, v + strlen(v), why, whylen))
		return false;
	return true;
}

/* One entry of trusted_proxies: an IPv4/IPv6 address, optionally /prefix. */
static bool
check_proxy(const char *entry, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 4];
	unsigned char addr[16];
	char *slash;
	long prefix = -1;
	int maxbits;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, entry, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (slash[1] == '-' ||
		    !config_parse_long(slash + 1, 10, &prefix))
			return false;
	}
	if (inet_pton(AF_INET, buf, addr) == 1)
		maxbits = 32;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		maxbits = 128;
	else
		return false;
	return prefix <= maxbits; /* -1: no prefix */
}

bool
config_value_proxies(const char *v, char *why, size_t whylen)
{
	const char *s = v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return true;
	for (;;) {
		const char *start, *end;

		while (*s == ' ' || *s == '\t')
			s++;
		start = s;
		while (*s != '\0' && *s != ',')
			s++;
		end = s;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (!check_proxy(start, (size_t)(end - start))) {
			snprintf(why, whylen,
				 "'%.*s' is not an IPv4/IPv6 address or "
				 "CIDR range",
				 (int)(end - start > 64 ? 64 : end - start),
				 start);
			return false;
		}
		if (*s == '\0')
			return true;
		s++; /* the comma */
	}
}
