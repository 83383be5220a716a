/*
 * config.h — the pwreset configuration: one struct, read from an INI file
 * with libinih.
 *
 * config_load() fills a caller-owned struct config with defaults, then with
 * the file's values, range-checking each key.  Unknown sections or keys, bad
 * values and a missing file are errors reported as "FILE:LINE: message" in
 * the caller's buffer.  Strings in the struct are owned by it and freed by
 * config_free(), which is safe on a zeroed or already-freed struct.
 */
#ifndef PWR_CONFIG_H
#define PWR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH "/etc/pwreset/pwreset.conf"

/* STARTTLS_AUTO only exists while a file is read: config_load() and
 * config_defaults() resolve it to STARTTLS_TRY for a relay on loopback,
 * STARTTLS_REQUIRED for any other. */
enum starttls_mode {
	STARTTLS_NO,
	STARTTLS_TRY,
	STARTTLS_REQUIRED,
	STARTTLS_AUTO
};
enum password_policy { POLICY_PAGESEEDER, POLICY_NIST };
/* How the connection reaches PostgreSQL: directly or through a session
 * pooler (session), or through a transaction pooler such as PgBouncer's
 * pool_mode = transaction (transaction: no session state, sql/store.c). */
enum db_pooling { POOLING_SESSION, POOLING_TRANSACTION };
enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG };
/* Ordered: a message is logged when its level <= the configured level. */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

struct config {
	char *path; /* the file read */

	struct {
		char *conninfo; /* libpq; "" → PG* environment */
		int timeout;	/* seconds: connect + statement timeout */
		enum db_pooling pooling; /* POOLING_SESSION */
	} database;

	struct {
		char *site_prefix;    /* "/ps"; may be "" */
		char *hosturl;	      /* "http://localhost:8080" */
		char *emaildomain;    /* "localhost" */
		int token_ttl;	      /* seconds, 43200 */
		int workers;	      /* 0 → number of CPUs */
		int max_requests;     /* per worker before recycling; 10000 */
		size_t max_body;      /* bytes, 16384 */
		char *listen;	      /* "" (fd 0), "unix:/path", "host:port" */
		int listen_mode;      /* octal mode of a unix socket, 0660 */
		char *user;	      /* "" → keep the current user */
		int shutdown_timeout; /* seconds, 10 */
		int io_timeout; /* seconds a FastCGI read/write may stall, 30 */
		char *template_dir; /* "/usr/share/pwreset/mail-templates" */
		/* "/etc/pwreset/templates"; wins over template_dir */
		char *local_template_dir;
		char *global_template; /* "" → only the default set */
		char *link_template;   /* placeholders {hosturl} {member.id}
					  {token} ... */
		char *trusted_proxies; /* "127.0.0.1,10.0.0.0/8" */
		char *status_path;     /* "" → no status page; "/status" */
		char *ping_path;       /* "" → no ping answer; "/ping" */
	} service;

	struct {
		uint32_t m_cost;      /* KiB, 19456 */
		uint32_t t_cost;      /* 2 */
		uint32_t parallelism; /* 1 */
	} argon2;

	struct {
		char *host; /* "localhost" */
		int port;   /* 25 */
		enum starttls_mode
		    starttls;	     /* never STARTTLS_AUTO once loaded */
		char *user;	     /* "" → no AUTH */
		char *password_file; /* read once, at start-up */
		int timeout;	     /* seconds, 10 */
		int final_timeout;   /* reply to the final ".", seconds, 600 */
	} smtp;

	struct {
		char *from;	  /* "pwreset <noreply@localhost>" */
		int max_attempts; /* 8 */
		int retry_base;	  /* seconds before the first retry, 30 */
		/* seals queued messages (core/outbox.h) */
		char *outbox_key_file; /* "/etc/pwreset/outbox.key" */
	} mail;

	struct {
		enum password_policy policy;
		int min_length;	   /* NIST policy only: 15 (8 allowed) */
		char *banned_file; /* "/usr/share/john/password.lst" */
	} password;

	struct {
		bool hide_account_state;
		int step1_floor_ms; /* 0 → no padding */
	} privacy;

	struct {
		int per_identifier; /* step-1 requests per identifier, 5 */
		int per_address;    /* requests per client address, 60 */
		int window;	    /* seconds, 3600 */
		int token_failures; /* wrong tokens per address, 10 */
		int ipv6_prefix;    /* IPv6 clients counted per /N, 64 */
	} ratelimit;

	struct {
		enum log_target target;
		enum log_level level;
	} log;
};

/* Fill *c with the built-in defaults (no file read). */
void config_defaults(struct config *c);

/*
 * Load PATH into *c (defaults first).  Returns 0 on success; -1 with a
 * "FILE:LINE: message" in err on failure, leaving *c freed.
 */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* The path to use: ARG if not NULL, else $PWRESET_CONFIG, else the default. */
const char *config_path(const char *arg);

void config_free(struct config *c);

/* One key of the table, for pwreset.conf(5)'s test: strings are static. */
struct config_key_info {
	const char *section, *name;
	bool numeric; /* an integer with a range */
	bool octal;   /* spelt in octal (min and max too) */
	long min, max;
	const char *def; /* as a file would spell it */
};

size_t config_key_count(void);
/* false when i >= config_key_count(). */
bool config_key_info(size_t i, struct config_key_info *out);

/*
 * How many keys differ between old and new that SIGHUP cannot apply (the
 * key table says which: they need a restart).  Their "[section] name"s,
 * comma-separated, go into names (cut to len).
 */
size_t config_restart_needed(const struct config *old, const struct config *new,
			     char *names, size_t len);

#endif
