/*
 * mailer.c — delivering the outbox: claim a row, one SMTP attempt,
 * record the outcome, back off on failure; and the mailer process's loop.
 *
 * Log lines name the row id and the recipient's domain only: never the
 * local part, the message or the token it holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../mail-templates/mail.h"
#include "../mail-templates/smtp.h"
#include "log.h"
#include "mailer.h"
#include "outbox.h"

#define MAILER_PASSWORD_MAX    1024 /* bytes in [smtp] password_file */
#define MAILER_RETRY_MAX_S     3600 /* ... doubling up to an hour */
#define MAILER_JITTER_PERMILLE 200  /* +-20 % */
#define MAILER_LEASE_EXTRA_S   5
#define MAILER_WAIT_MS	       1000
/* After a wake-up, before claiming: see mailer_run(). */
#define MAILER_SETTLE_MS     150
#define MAILER_PURGE_EVERY_S 600
#define MAILER_REASON_MAX    512
#define MAILER_ADDRESS_MAX   320

/* A claim must outlast the attempt, or another mailer (the mailer process
 * against a worker's step-2 attempt, or a second host) claims the row
 * again and the member gets the mail twice.  smtp.c bounds each wait by
 * [smtp] timeout, not the session: connect, greeting, EHLO, STARTTLS, the
 * TLS handshake, EHLO, AUTH, MAIL, RCPT, DATA, the transfer, the final
 * reply and QUIT can each take that long. */
#define MAILER_LEASE_WAITS 16

static const enum smtp_starttls starttls_map[] = {
    [STARTTLS_NO] = SMTP_STARTTLS_NO,
    [STARTTLS_TRY] = SMTP_STARTTLS_TRY,
    [STARTTLS_REQUIRED] = SMTP_STARTTLS_REQUIRED,
};
_Static_assert(sizeof(starttls_map) / sizeof(starttls_map[0]) ==
		   STARTTLS_REQUIRED + 1,
	       "starttls_map out of step with enum starttls_mode");

/* Read the SMTP password: one line, the trailing line break removed.
 * -1 with the reason in err (the password never). */
static int
mailer_read_password(const char *path, char **out, char *err, size_t errlen)
{
	char buf[MAILER_PASSWORD_MAX + 2];
	struct stat st;
	size_t got = 0;
	int fd, rc = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "[smtp] password_file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
			 "[smtp] password_file %s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH))
		log_warn("[smtp] password_file %s is readable or writable by "
			 "everyone: chmod o-rw it",
			 path);
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "[smtp] password_file %s: %s",
				 path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > MAILER_PASSWORD_MAX) {
			snprintf(err, errlen,
				 "[smtp] password_file %s: longer than %d "
				 "bytes",
				 path, MAILER_PASSWORD_MAX);
			goto out;
		}
	}
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
		got--;
	buf[got] = '\0';
	if (got == 0 || strlen(buf) != got || strpbrk(buf, "\r\n") != NULL) {
		snprintf(err, errlen,
			 "[smtp] password_file %s: must hold one non-empty "
			 "line",
			 path);
		goto out;
	}
	if ((*out = strdup(buf)) == NULL)
		abort();
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* What mailer_init() refuses, without logging; *password (may be NULL)
 * receives the SMTP password, owned by the caller. */
static int
mailer_conf_read(const struct config *cfg, char **password, char *err,
		 size_t errlen)
{
	char addr[MAILER_ADDRESS_MAX];
	char *pw = NULL;

	if (password != NULL)
		*password = NULL;
	if (mail_address_of(cfg->mail.from, addr, sizeof(addr)) != 0) {
		snprintf(err, errlen,
			 "[mail] from \"%s\" holds no valid address",
			 cfg->mail.from);
		return -1;
	}
	if (cfg->smtp.password_file == NULL ||
	    cfg->smtp.password_file[0] == '\0')
		return 0;
	if (mailer_read_password(cfg->smtp.password_file, &pw, err, errlen) !=
	    0)
		return -1;
	if (password != NULL) {
		*password = pw;
	} else {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	return 0;
}

int
mailer_conf_check(const struct config *cfg, char *err, size_t errlen)
{
	return mailer_conf_read(cfg, NULL, err, errlen);
}

int
mailer_init(struct mailer *m, const struct config *cfg, struct store *st,
	    const struct outbox_key *key)
{
	char err[512];

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->store = st;
	m->key = key;
	if (key == NULL) {
		log_error("mailer: no [mail] outbox_key_file key to open "
			  "queued messages with");
		return -1;
	}
	if (mailer_conf_read(cfg, &m->smtp_password, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	if (m->smtp_password == NULL && cfg->smtp.user != NULL &&
	    cfg->smtp.user[0] != '\0')
		log_warn("[smtp] user is set but password_file is not: "
			 "authenticating with an empty password");
	return 0;
}

void
mailer_fini(struct mailer *m)
{
	if (m == NULL)
		return;
	if (m->smtp_password != NULL) {
		explicit_bzero(m->smtp_password, strlen(m->smtp_password));
		free(m->smtp_password);
	}
	m->smtp_password = NULL;
	smtp_tls_free(m->tls);
	m->tls = NULL;
	m->cfg = NULL;
	m->store = NULL;
	m->key = NULL;
}

/* min(3600, retry_base * 2^(attempts - 1)) seconds, then +-20 % so that
 * mail queued together does not retry together. */
static int
mailer_backoff_s(int retry_base, int attempts)
{
	long base = retry_base;
	uint32_t r;
	int i;

	for (i = 1; i < attempts && base < MAILER_RETRY_MAX_S; i++)
		base *= 2;
	if (base > MAILER_RETRY_MAX_S)
		base = MAILER_RETRY_MAX_S;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return (int)base; /* no jitter beats no retry */
	base = base *
	       (1000 - MAILER_JITTER_PERMILLE +
		(long)(r % (2 * MAILER_JITTER_PERMILLE + 1))) /
	       1000;
	return base < 1 ? 1 : (int)base;
}

/* The reason with the recipient's address replaced by "*@domain": SMTP
 * replies often quote the address, and logs get only the domain. */
static void
mailer_redact(char *out, size_t outlen, const char *reason, const char *rcpt,
	      const char *domain)
{
	size_t n = strlen(rcpt), o = 0;
	const char *p = reason;

	while (*p != '\0' && o + 1 < outlen) {
		if (n > 0 && strncasecmp(p, rcpt, n) == 0) {
			int w = snprintf(out + o, outlen - o, "*@%s", domain);

			if (w < 0 || (size_t)w >= outlen - o)
				break;
			o += (size_t)w;
			p += n;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

int
mailer_lease_s(const struct config *cfg)
{
	/* One of the waits is the final reply's, which has its own bound. */
	return MAILER_LEASE_WAITS * cfg->smtp.timeout +
	       cfg->smtp.final_timeout + MAILER_LEASE_EXTRA_S;
}

/* The shared counters see every attempt's outcome (the mailer's and a
 * worker's own first attempt alike). */
static void
mailer_count(struct mailer *m, enum counters_mail what)
{
	if (m->counters != NULL)
		counters_add(&m->counters->mail[what], 1);
}

/* One attempt on a claimed row, and its outcome recorded.  session_s > 0
 * bounds the whole SMTP session (someone waits for it). */
static enum mailer_rc
mailer_attempt(struct mailer *m, const struct store_outbox_job *j,
	       int session_s)
{
	const struct store_outbox_job job = *j;
	const struct config *cfg = m->cfg;
	struct smtp_opts opts;
	char from[MAILER_ADDRESS_MAX], reason[MAILER_REASON_MAX];
	char shown[MAILER_REASON_MAX];
	const char *domain;
	enum mailer_rc rc;
	enum store_rc src;
	enum smtp_rc sr;
	bool permanent;
	int retry_s = 0;

	domain = strrchr(job.recipient, '@');
	domain = domain != NULL ? domain + 1 : "?";

	/* Made at the first delivery, not at start: a worker that never
	 * sends keeps OpenSSL's state out of its memory; one that could not
	 * make it tries again at the next delivery. */
	if (cfg->smtp.starttls != STARTTLS_NO && m->tls == NULL)
		m->tls = smtp_tls_new();
	opts = (struct smtp_opts){
	    .host = cfg->smtp.host,
	    .port = cfg->smtp.port,
	    .starttls = (unsigned)cfg->smtp.starttls <= STARTTLS_REQUIRED
			    ? starttls_map[cfg->smtp.starttls]
			    : SMTP_STARTTLS_REQUIRED,
	    .user = cfg->smtp.user,
	    .password = m->smtp_password != NULL ? m->smtp_password : "",
	    .timeout_s = cfg->smtp.timeout,
	    .session_s = session_s,
	    .final_s = cfg->smtp.final_timeout,
	    .tls = m->tls,
	};
	if (mail_address_of(cfg->mail.from, from, sizeof(from)) != 0) {
		sr = SMTP_TEMPFAIL;
		snprintf(reason, sizeof(reason),
			 "[mail] from holds no address");
	} else {
		sr = smtp_deliver(&opts, from, job.recipient, job.message,
				  reason, sizeof(reason));
	}

	if (sr == SMTP_SENT) {
		rc = MAILER_SENT;
		mailer_count(m, COUNTERS_MAIL_SENT);
		log_info("mail %" PRId64 " to *@%s: sent (attempt %d)", job.id,
			 domain, job.attempts);
		src = store_mail_sent(m->store, job.id);
	} else if (sr == SMTP_UNCONFIRMED) {
		/* The relay may have it: a blind retry could be a second
		 * copy, so the row waits for `pwreset-ctl mail retry`. */
		rc = MAILER_UNCONFIRMED;
		mailer_redact(shown, sizeof(shown), reason, job.recipient,
			      domain);
		log_warn("mail %" PRId64 " to *@%s: not confirmed (attempt "
			 "%d), not sent again by itself: %s",
			 job.id, domain, job.attempts, shown);
		src = store_mail_unconfirmed(m->store, job.id, reason);
	} else {
		permanent = sr == SMTP_PERMFAIL ||
			    job.attempts >= cfg->mail.max_attempts;
		if (!permanent)
			retry_s = mailer_backoff_s(cfg->mail.retry_base,
						   job.attempts);
		rc = permanent ? MAILER_FAILED : MAILER_RETRY;
		mailer_redact(shown, sizeof(shown), reason, job.recipient,
			      domain);
		mailer_count(m, permanent ? COUNTERS_MAIL_FAILED
					  : COUNTERS_MAIL_DEFERRED);
		/* A message given up is an error, an attempt that will be
		 * repeated a warning: a relay outage shows at level = warn. */
		if (permanent)
			log_error("mail %" PRId64 " to *@%s: failed for good "
				  "(attempt %d of %d): %s",
				  job.id, domain, job.attempts,
				  cfg->mail.max_attempts, shown);
		else
			log_warn("mail %" PRId64 " to *@%s: attempt %d of %d "
				 "failed, next in %d s: %s",
				 job.id, domain, job.attempts,
				 cfg->mail.max_attempts, retry_s, shown);
		src = store_mail_failed(m->store, job.id, reason, permanent,
					retry_s);
	}
	if (src == STORE_NOT_FOUND) {
		/* Another mailer recorded an outcome first: the lease ran
		 * out during this attempt.  Not a database failure. */
		log_warn("mail %" PRId64 ": outcome already recorded by "
			 "another mailer (the attempt outlasted its claim)",
			 job.id);
	} else if (src != STORE_OK) {
		/* The row stays leased and comes back after the lease: for a
		 * sent mail that means one duplicate at worst, never a loss. */
		log_error("mail %" PRId64 ": cannot record the outcome: %s",
			  job.id, store_errmsg(m->store));
		rc = MAILER_DB_ERROR;
	}
	return rc;
}

/* Replace a claimed row's sealed text by its plaintext (SPEC §8); false
 * when it does not open under this host's key. */
static bool
mailer_open(struct mailer *m, struct store_outbox_job *job)
{
	char *plain =
	    outbox_open(m->key, job->message, job->kind, job->recipient);

	if (plain == NULL)
		return false;
	explicit_bzero(job->message, strlen(job->message));
	free(job->message);
	job->message = plain; /* store_outbox_job_clear() wipes it */
	return true;
}

/* A row this host cannot open: sealed under another key (a host whose
 * [mail] outbox_key_file differs) or altered in the database.  It counts
 * as a failed attempt, so a host with the right key can still send it
 * before max_attempts, and it is given up (and wiped) after.  Says nothing
 * about the relay: the batch goes on. */
static enum mailer_rc
mailer_unopened(struct mailer *m, const struct store_outbox_job *job)
{
	bool permanent = job->attempts >= m->cfg->mail.max_attempts;
	int retry_s = permanent ? 0
				: mailer_backoff_s(m->cfg->mail.retry_base,
						   job->attempts);
	enum store_rc src;

	log_error("mail %" PRId64 ": cannot open its sealed text with the "
		  "key in %s (sealed under another key, or altered); "
		  "attempt %d of %d%s",
		  job->id, m->key->path, job->attempts,
		  m->cfg->mail.max_attempts,
		  permanent ? ", given up" : ", left for a host with the key");
	src = store_mail_failed(m->store, job->id,
				"cannot open the sealed message with this "
				"host's outbox key",
				permanent, retry_s);
	if (src != STORE_OK && src != STORE_NOT_FOUND) {
		log_error("mail %" PRId64 ": cannot record the outcome: %s",
			  job->id, store_errmsg(m->store));
		return MAILER_DB_ERROR;
	}
	return MAILER_UNREADABLE;
}

enum mailer_rc
mailer_deliver(struct mailer *m, int64_t id)
{
	struct store_outbox_job job;
	enum store_rc src;
	enum mailer_rc rc;

	src = store_mail_claim(m->store, id, mailer_lease_s(m->cfg), &job);
	if (src == STORE_NOT_FOUND)
		return MAILER_IDLE;
	if (src != STORE_OK) {
		/* mailer_run() reports an unavailable database, or one
		 * that needs `pwreset-ctl migrate`, once (the latter not
		 * even at debug level: it cannot change by itself). */
		if (src == STORE_UNAVAILABLE)
			log_debug("mail: cannot claim a row: %s",
				  store_errmsg(m->store));
		else if (src != STORE_SCHEMA_OLD)
			log_error("mail: cannot claim a row: %s",
				  store_errmsg(m->store));
		return MAILER_DB_ERROR;
	}
	rc = mailer_open(m, &job) ? mailer_attempt(m, &job, 0)
				  : mailer_unopened(m, &job);
	store_outbox_job_clear(&job);
	return rc;
}

enum mailer_rc
mailer_send_claimed(struct mailer *m, int64_t id, const char *recipient,
		    const char *message)
{
	struct store_outbox_job job = {.id = id, .attempts = 1};

	snprintf(job.recipient, sizeof job.recipient, "%s", recipient);
	/* Borrowed: mailer_attempt() never frees it. */
	job.message = (char *)message;
	/* A member waits for this answer: [smtp] timeout bounds the whole
	 * attempt, not each step (SPEC §7).  A cut attempt stays queued. */
	return mailer_attempt(m, &job, m->cfg->smtp.timeout);
}

static time_t
mailer_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
mailer_purge(struct mailer *m)
{
	int64_t tokens, mails, limits;

	if (store_purge(m->store, &tokens, &mails, &limits) != STORE_OK) {
		log_warn("purge: %s", store_errmsg(m->store));
		return;
	}
	if (tokens > 0 || mails > 0 || limits > 0)
		log_info("purge: %" PRId64 " tokens, %" PRId64
			 " mails, %" PRId64 " rate-limit rows",
			 tokens, mails, limits);
}

/* Log only the changes between "database available" and not. */
static void
mailer_db_state(struct mailer *m, bool *db_ok, bool ok)
{
	if (*db_ok && !ok)
		log_warn("mailer: database unavailable, will retry: %s",
			 store_errmsg(m->store));
	else if (!*db_ok && ok)
		log_info("mailer: database available again");
	*db_ok = ok;
}

int
mailer_run(struct mailer *m, volatile sig_atomic_t *stop)
{
	time_t last_purge = 0;
	bool db_ok = true, purged = false;

	/* Behind a transaction pooler there is no LISTEN (sql/store.c):
	 * the wait below always lasts MAILER_WAIT_MS, so a new row is seen
	 * within that (plus the settle time). */
	if (m->cfg->database.pooling == POOLING_TRANSACTION)
		log_info("mailer: [database] pooling = transaction: no LISTEN, "
			 "looking for new mail every %d ms",
			 MAILER_WAIT_MS);
	/* Even when this fails the store LISTENs on its next connection. */
	mailer_db_state(m, &db_ok, store_mail_listen(m->store) == STORE_OK);
	while (!*stop) {
		enum mailer_rc rc = MAILER_IDLE;

		/* Deliver what is due.  A failed attempt ends the batch: if
		 * the relay is down, the next row would fail the same way,
		 * so wait a little instead of hammering it. */
		while (!*stop) {
			rc = mailer_deliver(m, 0);
			if (rc != MAILER_SENT && rc != MAILER_FAILED &&
			    rc != MAILER_UNCONFIRMED && rc != MAILER_UNREADABLE)
				break;
		}
		mailer_db_state(m, &db_ok, rc != MAILER_DB_ERROR);
		if (*stop)
			break;
		if (db_ok && (!purged || mailer_now() - last_purge >=
					     MAILER_PURGE_EVERY_S)) {
			mailer_purge(m);
			last_purge = mailer_now();
			purged = true;
		}
		/* Sleeps until a new row is written or a second passes
		 * (also while the database is away: no busy loop). */
		if (store_mail_wait(m->store, MAILER_WAIT_MS) ==
		    STORE_UNAVAILABLE)
			mailer_db_state(m, &db_ok, false);
		/* A step-1 row is written just after its answer left: a
		 * mailer that rendered, decrypted and sent at once would
		 * compete for the CPU with that answer still on its way to
		 * the client, and a known member would answer measurably
		 * slower than an unknown one (SPEC §7, uniform step 1).
		 * Starting a moment later costs the mail nothing. */
		if (!*stop) {
			struct timespec settle = {.tv_nsec = MAILER_SETTLE_MS *
							     1000000L};

			nanosleep(&settle, NULL);
		}
	}
	return 0;
}
