/*
 * log.c — process-wide logging to stderr or syslog.
 *
 * On stderr every message is one line, written with a single write(2) so
 * that the supervisor, the workers and the mailer, which share the stream,
 * never interleave inside a line:
 *
 *	2026-11-25T08:49:26Z pwreset[1234] info: message
 *
 * When stderr is the journal (systemd sets JOURNAL_STREAM to the
 * "device:inode" of the stream it gave us, and fstat(2) of fd 2 agrees),
 * each line instead starts with the syslog priority in angle brackets,
 * the sd-daemon(3) convention journald turns into the entry's PRIORITY,
 * and drops the time stamp the journal adds itself; the "pwreset[PID]"
 * stays, since every process of a supervisor shares its stream:
 *
 *	<4>pwreset[1234] warn: message
 *
 * Control characters in the message (a client-supplied path, say) are
 * replaced by '?' so that nobody can forge a log line.  errno is preserved
 * across every call, so a caller may log and then still look at it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/ascii.h"
#include "log.h"

#define LOG_IDENT_MAX 32   /* openlog() keeps our pointer: a static copy */
#define LOG_LINE_MAX  2048 /* longer messages are cut */

static const struct {
	const char *name;
	int priority;
} levels[] = {
    [LOG_LEVEL_ERROR] = {"error", LOG_ERR},
    [LOG_LEVEL_WARN] = {"warn", LOG_WARNING},
    [LOG_LEVEL_INFO] = {"info", LOG_INFO},
    [LOG_LEVEL_DEBUG] = {"debug", LOG_DEBUG},
};

_Static_assert(sizeof(levels) / sizeof(levels[0]) == LOG_LEVEL_DEBUG + 1,
	       "level table out of step with enum log_level");

static char log_ident[LOG_IDENT_MAX] = "pwreset";
static enum log_target log_target = LOG_TARGET_STDERR;
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_syslog_open;
static bool log_journal; /* stderr is the journal: "<N>" prefixes */

/* One decimal number of a JOURNAL_STREAM value, up to stop. */
static bool
log_parse_id(const char *s, char stop, const char **end,
	     unsigned long long *out)
{
	char *e;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &e, 10);
	if (errno != 0 || *e != stop)
		return false;
	*end = e;
	return true;
}

/* Whether JOURNAL_STREAM names the stream fd 2 is: a stderr redirected
 * elsewhere (by a script, or a test) must get plain lines. */
static bool
log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM"), *p;
	unsigned long long dev, ino;
	struct stat st;

	if (v == NULL || !log_parse_id(v, ':', &p, &dev) ||
	    !log_parse_id(p + 1, '\0', &p, &ino))
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident, enum log_target target, enum log_level level)
{
	if (ident != NULL)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	if (log_syslog_open) {
		closelog();
		log_syslog_open = false;
	}
	log_target = target;
	log_level = level;
	log_journal = target == LOG_TARGET_STDERR && log_stderr_is_journal();
	if (target == LOG_TARGET_SYSLOG) {
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog_open = true;
	}
}

static void
log_sanitise(char *s)
{
	for (; *s != '\0'; s++)
		if (ascii_is_control(*s))
			*s = '?';
}

static void
log_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to complain */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void log_emit(enum log_level level, const char *errstr, const char *fmt,
		     va_list ap) __attribute__((format(printf, 3, 0)));

static void
log_emit(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 128];
	char head[32];
	struct tm tm;
	time_t now;
	int n;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_sanitise(msg);
	if (log_target == LOG_TARGET_SYSLOG) {
		if (errstr != NULL)
			syslog(levels[level].priority, "%s: %s", msg, errstr);
		else
			syslog(levels[level].priority, "%s", msg);
		return;
	}
	/* The line's head: the journal's priority, or our time stamp. */
	if (log_journal) {
		snprintf(head, sizeof(head), "<%d>", levels[level].priority);
	} else {
		now = time(NULL);
		if (gmtime_r(&now, &tm) == NULL ||
		    strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%SZ ", &tm) ==
			0)
			snprintf(head, sizeof(head), "- ");
	}
	n = snprintf(line, sizeof(line), "%s%s[%ld] %s: %s%s%s\n", head,
		     log_ident, (long)getpid(), levels[level].name, msg,
		     errstr != NULL ? ": " : "", errstr != NULL ? errstr : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	log_write(STDERR_FILENO, line, (size_t)n);
}

/* Each entry point keeps errno as it found it. */
void
log_error(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_INFO, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_DEBUG, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}
