/*
 * config.c — the INI configuration file, read with libinih.
 *
 * Every key lives in one const table (keys[KEY__MAX]) that says where it
 * goes in struct config, its type, its range and its default, spelt as the
 * file would spell it: config_defaults() feeds each default through the
 * same setter as a value read from a file, so a default can never escape
 * the checks.
 *
 * libinih hands us no line numbers (Debian builds it without
 * INI_HANDLER_LINENO), so we parse through ini_parse_stream() with our own
 * reader: inih calls the reader once per line it counts, so counting calls
 * gives the same line numbers inih uses in its own return value.  The
 * reader also catches what inih would silently get wrong: lines longer than
 * its fixed 200-byte buffer (inih would read the rest as a new line),
 * continuation lines (inih would append them to the previous key) and
 * sections with no keys (the handler never sees them).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "config.h"
#include "config_values.h"
#include "common/ascii.h"

#define CONFIG_MSG_MAX 256

enum key {
	KEY_DATABASE_CONNINFO,
	KEY_DATABASE_TIMEOUT,
	KEY_DATABASE_POOLING,
	KEY_SERVICE_SITE_PREFIX,
	KEY_SERVICE_HOSTURL,
	KEY_SERVICE_EMAILDOMAIN,
	KEY_SERVICE_TOKEN_TTL,
	KEY_SERVICE_WORKERS,
	KEY_SERVICE_MAX_REQUESTS,
	KEY_SERVICE_MAX_BODY,
	KEY_SERVICE_LISTEN,
	KEY_SERVICE_LISTEN_MODE,
	KEY_SERVICE_USER,
	KEY_SERVICE_SHUTDOWN_TIMEOUT,
	KEY_SERVICE_IO_TIMEOUT,
	KEY_SERVICE_TEMPLATE_DIR,
	KEY_SERVICE_LOCAL_TEMPLATE_DIR,
	KEY_SERVICE_GLOBAL_TEMPLATE,
	KEY_SERVICE_LINK_TEMPLATE,
	KEY_SERVICE_TRUSTED_PROXIES,
	KEY_SERVICE_STATUS_PATH,
	KEY_SERVICE_PING_PATH,
	KEY_ARGON2_M_COST,
	KEY_ARGON2_T_COST,
	KEY_ARGON2_PARALLELISM,
	KEY_SMTP_HOST,
	KEY_SMTP_PORT,
	KEY_SMTP_STARTTLS,
	KEY_SMTP_USER,
	KEY_SMTP_PASSWORD_FILE,
	KEY_SMTP_TIMEOUT,
	KEY_SMTP_FINAL_TIMEOUT,
	KEY_MAIL_FROM,
	KEY_MAIL_MAX_ATTEMPTS,
	KEY_MAIL_RETRY_BASE,
	KEY_MAIL_OUTBOX_KEY_FILE,
	KEY_PASSWORD_POLICY,
	KEY_PASSWORD_MIN_LENGTH,
	KEY_PASSWORD_BANNED_FILE,
	KEY_PRIVACY_HIDE_ACCOUNT_STATE,
	KEY_PRIVACY_STEP1_FLOOR_MS,
	KEY_RATELIMIT_PER_IDENTIFIER,
	KEY_RATELIMIT_PER_ADDRESS,
	KEY_RATELIMIT_WINDOW,
	KEY_RATELIMIT_TOKEN_FAILURES,
	KEY_RATELIMIT_IPV6_PREFIX,
	KEY_LOG_TARGET,
	KEY_LOG_LEVEL,
	KEY__MAX
};

enum ctype {
	CT_STRING, /* char *, owned */
	CT_INT,	   /* int, decimal, [min, max] */
	CT_U32,	   /* uint32_t, decimal, [min, max] */
	CT_SIZE,   /* size_t, decimal, [min, max] */
	CT_OCTAL,  /* int, octal digits only, [min, max] */
	CT_BOOL,   /* bool */
	CT_ENUM	   /* an enum stored as int: index into names */
};

/* Extra check of a string value; writes why it is refused. */
typedef bool (*check_fn)(const char *v, char *why, size_t whylen);

struct ckey {
	const char *section;
	const char *name;
	enum ctype type;
	size_t off;
	long min, max;		  /* numbers */
	const char *const *names; /* CT_ENUM, NULL-terminated */
	check_fn check;		  /* CT_STRING, or NULL */
	const char *def;	  /* the default, as a file would spell it */
	/* SIGHUP cannot apply it (the socket is made and root dropped once,
	 * before the supervisor starts): it needs a restart.  The reload
	 * warning and pwreset.conf(5) follow this. */
	bool restart;
};

/* Indexed by enum starttls_mode, enum password_policy, ... */
static const char *const starttls_names[] = {"no", "try", "required", "auto",
					     NULL};
static const char *const pooling_names[] = {"session", "transaction", NULL};
static const char *const policy_names[] = {"pageseeder", "nist", NULL};
static const char *const target_names[] = {"stderr", "syslog", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug",
					  NULL};

_Static_assert(STARTTLS_AUTO == 3 && POLICY_NIST == 1 &&
		   POOLING_TRANSACTION == 1 && LOG_TARGET_SYSLOG == 1 &&
		   LOG_LEVEL_DEBUG == 3,
	       "enum name tables out of step with config.h");
_Static_assert(sizeof(enum starttls_mode) == sizeof(int) &&
		   sizeof(enum password_policy) == sizeof(int) &&
		   sizeof(enum db_pooling) == sizeof(int) &&
		   sizeof(enum log_target) == sizeof(int) &&
		   sizeof(enum log_level) == sizeof(int),
	       "CT_ENUM stores enums through an int");

#define OFF(f) offsetof(struct config, f)
#define STR(s, n, f, chk, d)                                                   \
	{                                                                      \
		s, n, CT_STRING, OFF(f), 0, 0, NULL, chk, d                    \
	}
#define NUM(s, n, t, f, lo, hi, d)                                             \
	{                                                                      \
		s, n, t, OFF(f), lo, hi, NULL, NULL, d                         \
	}
/* A key that only a restart applies (see struct ckey). */
#define STR_RESTART(s, n, f, chk, d)                                           \
	{                                                                      \
		s, n, CT_STRING, OFF(f), 0, 0, NULL, chk, d, true              \
	}
#define NUM_RESTART(s, n, t, f, lo, hi, d)                                     \
	{                                                                      \
		s, n, t, OFF(f), lo, hi, NULL, NULL, d, true                   \
	}
#define ENUM(s, n, f, names, d)                                                \
	{                                                                      \
		s, n, CT_ENUM, OFF(f), 0, 0, names, NULL, d                    \
	}

static const struct ckey keys[KEY__MAX] = {
    [KEY_DATABASE_CONNINFO] =
	STR("database", "conninfo", database.conninfo, NULL, ""),
    [KEY_DATABASE_TIMEOUT] =
	NUM("database", "timeout", CT_INT, database.timeout, 1, 300, "5"),
    [KEY_DATABASE_POOLING] =
	ENUM("database", "pooling", database.pooling, pooling_names, "session"),
    [KEY_SERVICE_SITE_PREFIX] =
	STR("service", "site_prefix", service.site_prefix,
	    config_value_site_prefix, "/ps"),
    [KEY_SERVICE_HOSTURL] = STR("service", "hosturl", service.hosturl,
				config_value_hosturl, "http://localhost:8080"),
    [KEY_SERVICE_EMAILDOMAIN] =
	STR("service", "emaildomain", service.emaildomain, config_value_domain,
	    "localhost"),
    [KEY_SERVICE_TOKEN_TTL] = NUM("service", "token_ttl", CT_INT,
				  service.token_ttl, 1, 604800, "43200"),
    [KEY_SERVICE_WORKERS] =
	NUM("service", "workers", CT_INT, service.workers, 0, 256, "0"),
    [KEY_SERVICE_MAX_REQUESTS] =
	NUM("service", "max_requests", CT_INT, service.max_requests, 1,
	    10000000, "10000"),
    [KEY_SERVICE_MAX_BODY] = NUM("service", "max_body", CT_SIZE,
				 service.max_body, 256, 1048576, "16384"),
    [KEY_SERVICE_LISTEN] = STR_RESTART("service", "listen", service.listen,
				       config_value_listen, ""),
    [KEY_SERVICE_LISTEN_MODE] =
	NUM_RESTART("service", "listen_mode", CT_OCTAL, service.listen_mode, 0,
		    0777, "0660"),
    [KEY_SERVICE_USER] =
	STR_RESTART("service", "user", service.user, config_value_user, ""),
    [KEY_SERVICE_SHUTDOWN_TIMEOUT] =
	NUM("service", "shutdown_timeout", CT_INT, service.shutdown_timeout, 1,
	    3600, "10"),
    [KEY_SERVICE_IO_TIMEOUT] =
	NUM("service", "io_timeout", CT_INT, service.io_timeout, 1, 3600, "30"),
    [KEY_SERVICE_TEMPLATE_DIR] =
	STR("service", "template_dir", service.template_dir,
	    config_value_abs_path, "/usr/share/pwreset/mail-templates"),
    [KEY_SERVICE_LOCAL_TEMPLATE_DIR] =
	STR("service", "local_template_dir", service.local_template_dir,
	    config_value_opt_abs_path, "/etc/pwreset/templates"),
    [KEY_SERVICE_GLOBAL_TEMPLATE] =
	STR("service", "global_template", service.global_template,
	    config_value_set_name, ""),
    [KEY_SERVICE_LINK_TEMPLATE] =
	STR("service", "link_template", service.link_template,
	    config_value_link_template,
	    "{hosturl}/email/changepassword?member={member.id}&token={token}"),
    [KEY_SERVICE_TRUSTED_PROXIES] =
	STR("service", "trusted_proxies", service.trusted_proxies,
	    config_value_proxies, ""),
    [KEY_SERVICE_STATUS_PATH] =
	STR("service", "status_path", service.status_path,
	    config_value_opt_url_path, ""),
    [KEY_SERVICE_PING_PATH] = STR("service", "ping_path", service.ping_path,
				  config_value_opt_url_path, ""),
    [KEY_ARGON2_M_COST] =
	NUM("argon2", "m_cost", CT_U32, argon2.m_cost, 8, 4194304, "19456"),
    [KEY_ARGON2_T_COST] =
	NUM("argon2", "t_cost", CT_U32, argon2.t_cost, 1, 100, "2"),
    [KEY_ARGON2_PARALLELISM] =
	NUM("argon2", "parallelism", CT_U32, argon2.parallelism, 1, 64, "1"),
    [KEY_SMTP_HOST] =
	STR("smtp", "host", smtp.host, config_value_host, "localhost"),
    [KEY_SMTP_PORT] = NUM("smtp", "port", CT_INT, smtp.port, 1, 65535, "25"),
    [KEY_SMTP_STARTTLS] =
	ENUM("smtp", "starttls", smtp.starttls, starttls_names, "auto"),
    [KEY_SMTP_USER] = STR("smtp", "user", smtp.user, NULL, ""),
    [KEY_SMTP_PASSWORD_FILE] = STR("smtp", "password_file", smtp.password_file,
				   config_value_opt_abs_path, ""),
    [KEY_SMTP_TIMEOUT] =
	NUM("smtp", "timeout", CT_INT, smtp.timeout, 1, 300, "10"),
    [KEY_SMTP_FINAL_TIMEOUT] = NUM("smtp", "final_timeout", CT_INT,
				   smtp.final_timeout, 1, 3600, "600"),
    [KEY_MAIL_FROM] = STR("mail", "from", mail.from, config_value_from,
			  "pwreset <noreply@localhost>"),
    [KEY_MAIL_MAX_ATTEMPTS] =
	NUM("mail", "max_attempts", CT_INT, mail.max_attempts, 1, 100, "8"),
    [KEY_MAIL_RETRY_BASE] =
	NUM("mail", "retry_base", CT_INT, mail.retry_base, 1, 3600, "30"),
    [KEY_MAIL_OUTBOX_KEY_FILE] =
	STR("mail", "outbox_key_file", mail.outbox_key_file,
	    config_value_abs_path, "/etc/pwreset/outbox.key"),
    [KEY_PASSWORD_POLICY] =
	ENUM("password", "policy", password.policy, policy_names, "pageseeder"),
    [KEY_PASSWORD_MIN_LENGTH] =
	NUM("password", "min_length", CT_INT, password.min_length, 8, 64, "15"),
    [KEY_PASSWORD_BANNED_FILE] =
	STR("password", "banned_file", password.banned_file,
	    config_value_opt_abs_path, "/usr/share/john/password.lst"),
    [KEY_PRIVACY_HIDE_ACCOUNT_STATE] =
	NUM("privacy", "hide_account_state", CT_BOOL,
	    privacy.hide_account_state, 0, 1, "false"),
    [KEY_PRIVACY_STEP1_FLOOR_MS] = NUM("privacy", "step1_floor_ms", CT_INT,
				       privacy.step1_floor_ms, 0, 10000, "0"),
    [KEY_RATELIMIT_PER_IDENTIFIER] =
	NUM("ratelimit", "per_identifier", CT_INT, ratelimit.per_identifier, 1,
	    1000000, "5"),
    [KEY_RATELIMIT_PER_ADDRESS] = NUM("ratelimit", "per_address", CT_INT,
				      ratelimit.per_address, 1, 1000000, "60"),
    [KEY_RATELIMIT_WINDOW] =
	NUM("ratelimit", "window", CT_INT, ratelimit.window, 1, 86400, "3600"),
    [KEY_RATELIMIT_TOKEN_FAILURES] =
	NUM("ratelimit", "token_failures", CT_INT, ratelimit.token_failures, 1,
	    1000000, "10"),
    [KEY_RATELIMIT_IPV6_PREFIX] = NUM("ratelimit", "ipv6_prefix", CT_INT,
				      ratelimit.ipv6_prefix, 32, 128, "64"),
    [KEY_LOG_TARGET] =
	ENUM("log", "target", log.target, target_names, "stderr"),
    [KEY_LOG_LEVEL] = ENUM("log", "level", log.level, level_names, "info"),
};

_Static_assert(sizeof(keys) / sizeof(keys[0]) == KEY__MAX,
	       "key table out of step with enum key");

static const char *const sections[] = {
    "database", "service", "argon2",	"smtp", "mail",
    "password", "privacy", "ratelimit", "log",	NULL,
};

/* Parser state shared by the reader and the handler. */
struct parse {
	struct config *c;
	FILE *f;
	int line;	     /* lines handed to inih so far */
	bool key_in_section; /* an indented line now would be a continuation */
	int err_line;	     /* 0: no error yet */
	char msg[CONFIG_MSG_MAX];
	int key_line[KEY__MAX]; /* where each key was last set; 0: default */
};

/* Full strtol check: digits only (an optional leading '-'), no overflow,
 * nothing after the number. */
bool
config_parse_long(const char *v, int base, long *out)
{
	char *end = NULL;
	const char *d = (*v == '-') ? v + 1 : v;

	if (!ascii_is_digit(*d))
		return false;
	if (base == 8)
		for (const char *p = d; *p != '\0'; p++)
			if (*p < '0' || *p > '7')
				return false;
	errno = 0;
	long n = strtol(v, &end, base);
	if (errno != 0 || end == v || *end != '\0')
		return false;
	*out = n;
	return true;
}

static bool
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Store v into the field of key k; false with a reason in why. */
static bool
key_set(struct config *c, enum key k, const char *v, char *why, size_t whylen)
{
	const struct ckey *ck = &keys[k];
	void *field = (char *)c + ck->off;
	long n = 0;
	bool b = false;

	switch (ck->type) {
	case CT_STRING:
		/* inih cuts lines at '\n'; a lone '\r' or other control
		 * character could still end up in a header or a log line.
		 * A tab is only white space. */
		for (const char *p = v; *p != '\0'; p++) {
			if (((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f) {
				snprintf(why, whylen,
					 "control characters are not allowed");
				return false;
			}
		}
		if (!utf8_valid(v, strlen(v))) {
			snprintf(why, whylen, "not valid UTF-8");
			return false;
		}
		if (ck->check != NULL && !ck->check(v, why, whylen))
			return false;
		char **s = field;
		char *copy = xstrdup(v);
		free(*s);
		*s = copy;
		return true;
	case CT_INT:
	case CT_U32:
	case CT_SIZE:
	case CT_OCTAL:
		if (!config_parse_long(v, ck->type == CT_OCTAL ? 8 : 10, &n) ||
		    n < ck->min || n > ck->max) {
			if (ck->type == CT_OCTAL)
				snprintf(why, whylen,
					 "must be an octal mode from %lo to "
					 "0%lo",
					 ck->min, ck->max);
			else
				snprintf(why, whylen,
					 "must be an integer from %ld to %ld",
					 ck->min, ck->max);
			return false;
		}
		if (ck->type == CT_U32)
			*(uint32_t *)field = (uint32_t)n;
		else if (ck->type == CT_SIZE)
			*(size_t *)field = (size_t)n;
		else
			*(int *)field = (int)n;
		return true;
	case CT_BOOL:
		if (!parse_bool(v, &b)) {
			snprintf(why, whylen,
				 "must be true or false (yes/no, on/off, "
				 "1/0)");
			return false;
		}
		*(bool *)field = b;
		return true;
	case CT_ENUM:
		for (int i = 0; ck->names[i] != NULL; i++) {
			if (strcmp(v, ck->names[i]) == 0) {
				*(int *)field = i;
				return true;
			}
		}
		size_t used = (size_t)snprintf(why, whylen, "must be one of:");
		for (int i = 0; ck->names[i] != NULL && used < whylen; i++)
			used +=
			    (size_t)snprintf(why + used, whylen - used, "%s %s",
					     i ? "," : "", ck->names[i]);
		return false;
	}
	snprintf(why, whylen, "internal error: bad key type");
	return false;
}

/* The table's defaults, STARTTLS_AUTO left as is. */
static void
config_defaults_raw(struct config *c)
{
	char why[CONFIG_MSG_MAX];

	memset(c, 0, sizeof(*c));
	for (int k = 0; k < KEY__MAX; k++)
		if (!key_set(c, (enum key)k, keys[k].def, why, sizeof(why)))
			abort(); /* a default that fails its own check */
}

/*
 * True when host names this machine's loopback: "localhost", 127.0.0.0/8
 * or ::1.  Only a name that cannot leave the machine counts: a name that
 * merely resolves to loopback today may not tomorrow.
 */
static bool
host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char v6[INET6_ADDRSTRLEN];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n >= 2 && n - 2 < sizeof(v6) && host[0] == '[' &&
	    host[n - 1] == ']') {
		memcpy(v6, host + 1, n - 2);
		v6[n - 2] = '\0';
		host = v6;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * starttls = auto (the default): a relay on loopback is reached without
 * crossing a network, so "try" is enough; for any other, a missing or
 * stripped STARTTLS must stop delivery rather than send tokens in clear.
 */
static void
config_resolve_starttls(struct config *c)
{
	if (c->smtp.starttls == STARTTLS_AUTO)
		c->smtp.starttls = host_is_loopback(c->smtp.host)
				       ? STARTTLS_TRY
				       : STARTTLS_REQUIRED;
}

void
config_defaults(struct config *c)
{
	config_defaults_raw(c);
	config_resolve_starttls(c);
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (int k = 0; k < KEY__MAX; k++) {
		if (keys[k].type != CT_STRING)
			continue;
		char **s = (char **)((char *)c + keys[k].off);
		free(*s);
		*s = NULL;
	}
	free(c->path);
	c->path = NULL;
}

const char *
config_path(const char *arg)
{
	const char *env;

	if (arg != NULL)
		return arg;
	env = getenv("PWRESET_CONFIG");
	if (env != NULL && *env != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}

static void parse_fail(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
parse_fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err_line != 0)
		return; /* keep the first error */
	p->err_line = p->line;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
}

static bool
section_known(const char *name)
{
	for (int i = 0; sections[i] != NULL; i++)
		if (strcmp(name, sections[i]) == 0)
			return true;
	return false;
}

/* fgets-style reader for ini_parse_stream(); see the file comment. */
static char *
config_read_line(char *buf, int size, void *user)
{
	struct parse *p = user;
	size_t n;
	const char *s;

	if (p->err_line != 0 || fgets(buf, size, p->f) == NULL)
		return NULL; /* stop at our first error, or at EOF */
	p->line++;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] != '\n' && n == (size_t)size - 1) {
		/* A full buffer: fine only when the newline or EOF is next. */
		int next = getc(p->f);
		if (next != '\n' && next != EOF) {
			parse_fail(p, "line too long (at most %d bytes)",
				   size - 1);
			return NULL;
		}
	}
	for (s = buf; *s == ' ' || *s == '\t'; s++)
		;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (end != NULL) {
			char name[CONFIG_LINE_BUF];
			size_t len = (size_t)(end - s - 1);
			if (len >= sizeof(name))
				len = sizeof(name) - 1;
			memcpy(name, s + 1, len);
			name[len] = '\0';
			if (!section_known(name)) {
				parse_fail(p, "unknown section [%s]", name);
				return NULL;
			}
		}
		p->key_in_section = false;
	} else if (s != buf && p->key_in_section &&
		   !isspace((unsigned char)*s) && *s != ';' && *s != '#') {
		parse_fail(p, "indented line: continuation lines are not "
			      "supported");
		return NULL;
	}
	return buf;
}

static int
config_on_key(void *user, const char *section, const char *name,
	      const char *value)
{
	struct parse *p = user;
	char why[CONFIG_MSG_MAX];

	p->key_in_section = true;
	if (p->err_line != 0)
		return 1;
	if (*section == '\0') {
		parse_fail(p, "key '%s' outside a section", name);
		return 1;
	}
	if (!section_known(section)) {
		parse_fail(p, "unknown section [%s]", section);
		return 1;
	}
	for (int k = 0; k < KEY__MAX; k++) {
		if (strcmp(keys[k].section, section) != 0 ||
		    strcmp(keys[k].name, name) != 0)
			continue;
		/* inih would let the last one win: a second value is more
		 * likely a paste gone wrong than a choice. */
		if (p->key_line[k] != 0) {
			parse_fail(p, "[%s] %s: set twice (first on line %d)",
				   section, name, p->key_line[k]);
			return 1;
		}
		if (!key_set(p->c, (enum key)k, value, why, sizeof(why)))
			parse_fail(p, "[%s] %s: %s", section, name, why);
		else
			p->key_line[k] = p->line;
		return 1;
	}
	parse_fail(p, "unknown key '%s' in [%s]", name, section);
	return 1;
}

/* Checks that involve more than one key. */
static void
config_check_all(struct parse *p)
{
	const struct config *c = p->c;

	/* libargon2 needs 8 KiB per lane. */
	if (c->argon2.m_cost < 8 * c->argon2.parallelism) {
		int a = p->key_line[KEY_ARGON2_M_COST];
		int b = p->key_line[KEY_ARGON2_PARALLELISM];
		p->line = a > b ? a : b;
		parse_fail(p,
			   "[argon2] m_cost must be at least 8 x parallelism");
	}
	/* One path cannot answer two ways. */
	if (c->service.status_path[0] != '\0' &&
	    strcmp(c->service.status_path, c->service.ping_path) == 0) {
		p->line = p->key_line[KEY_SERVICE_PING_PATH];
		parse_fail(p, "[service] ping_path must differ from "
			      "status_path");
	}
	/* AUTH PLAIN sends the password as it is: only inside TLS, and
	 * only if a relay that drops STARTTLS cannot make us skip it. */
	if (c->smtp.user[0] != '\0' && c->smtp.starttls != STARTTLS_REQUIRED) {
		int a = p->key_line[KEY_SMTP_USER];
		int b = p->key_line[KEY_SMTP_STARTTLS];
		p->line = a > b ? a : b;
		parse_fail(p, "[smtp] user is set: SMTP AUTH needs "
			      "starttls = required (the password must not "
			      "cross the network in clear)");
	}
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	struct parse p;
	int rc = -1;
	int ret;

	config_defaults_raw(c);
	memset(&p, 0, sizeof(p));
	p.c = c;
	c->path = xstrdup(path);

	p.f = fopen(path, "re");
	if (p.f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	ret = ini_parse_stream(config_read_line, &p, config_on_key, &p);
	if (ferror(p.f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (ret == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (ret > 0 && (p.err_line == 0 || ret < p.err_line)) {
		snprintf(err, errlen,
			 "%s:%d: syntax error: expected [section] or "
			 "key = value",
			 path, ret);
		goto out;
	}
	config_resolve_starttls(c);
	if (p.err_line == 0)
		config_check_all(&p);
	if (p.err_line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, p.err_line, p.msg);
		goto out;
	}
	rc = 0;
out:
	if (p.f != NULL)
		fclose(p.f);
	if (rc != 0)
		config_free(c);
	return rc;
}

size_t
config_key_count(void)
{
	return KEY__MAX;
}

bool
config_key_info(size_t i, struct config_key_info *out)
{
	const struct ckey *ck;

	if (i >= KEY__MAX)
		return false;
	ck = &keys[i];
	*out = (struct config_key_info){
	    .section = ck->section,
	    .name = ck->name,
	    .numeric = ck->type == CT_INT || ck->type == CT_U32 ||
		       ck->type == CT_SIZE || ck->type == CT_OCTAL,
	    .octal = ck->type == CT_OCTAL,
	    .min = ck->min,
	    .max = ck->max,
	    .def = ck->def,
	};
	return true;
}

/* Whether key k holds the same value in a and b. */
static bool
key_equal(const struct config *a, const struct config *b, enum key k)
{
	const void *fa = (const char *)a + keys[k].off;
	const void *fb = (const char *)b + keys[k].off;

	switch (keys[k].type) {
	case CT_STRING: {
		const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;

		return strcmp(sa ? sa : "", sb ? sb : "") == 0;
	}
	case CT_U32:
		return *(const uint32_t *)fa == *(const uint32_t *)fb;
	case CT_SIZE:
		return *(const size_t *)fa == *(const size_t *)fb;
	case CT_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CT_INT:
	case CT_OCTAL:
	case CT_ENUM:
		return *(const int *)fa == *(const int *)fb;
	}
	return false;
}

size_t
config_restart_needed(const struct config *old, const struct config *new,
		      char *names, size_t len)
{
	size_t n = 0, used = 0;

	if (len > 0)
		names[0] = '\0';
	for (int k = 0; k < KEY__MAX; k++) {
		if (!keys[k].restart || key_equal(old, new, (enum key)k))
			continue;
		if (used < len)
			used += (size_t)snprintf(names + used, len - used,
						 "%s[%s] %s", n > 0 ? ", " : "",
						 keys[k].section, keys[k].name);
		n++;
	}
	return n;
}
