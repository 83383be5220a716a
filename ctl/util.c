/*
 * util.c — what several pwreset-ctl commands share: strict number parsing,
 * reading a secret from stdin, printing database values and store errors.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/validate.h"
#include "ctl.h"

int
ctl_parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	/* strtol would skip spaces and take a '+': accept digits only. */
	if (s == NULL)
		return -1;
	if (!isdigit((unsigned char)s[0]) &&
	    !(min < 0 && s[0] == '-' && isdigit((unsigned char)s[1])))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
ctl_parse_id(const char *s, int64_t *out)
{
	char *end = NULL;
	intmax_t v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoimax(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

bool
ctl_has_control(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
		/* U+0080..U+009F are C2 80..C2 9F in UTF-8. */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
	}
	return false;
}

void
ctl_put_clean(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	bool space = false;

	for (; *p != '\0'; p++) {
		/* libpq's messages end with a newline and may hold several */
		if (*p == '\n' || *p == '\r' || *p == '\t') {
			space = true;
			continue;
		}
		if (space) {
			fputc(' ', fp);
			space = false;
		}
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', fp);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			fputc('?', fp);
		} else {
			fputc(*p, fp);
		}
	}
}

/* Set by SIGINT/SIGTERM while the terminal's echo is off, so that the
 * read returns and the echo is restored before the program ends. */
static volatile sig_atomic_t secret_interrupted;

static void
secret_on_signal(int sig)
{
	(void)sig;
	secret_interrupted = 1;
}

int
ctl_read_secret(const char *what, char *buf, size_t len)
{
	struct termios saved, quiet;
	struct sigaction sa, old_int, old_term;
	bool echo_off = false, handlers = false;
	bool too_long = false, nul = false, any = false;
	size_t n = 0;
	int ret = -1;
	char ch = 0;

	if (len == 0)
		return -1;
	secret_interrupted = 0;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = secret_on_signal;
		sigemptyset(&sa.sa_mask);
		/* no SA_RESTART: read(2) must return on the signal */
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		handlers = true;
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
			echo_off = true;
		fprintf(stderr, "%s: ", what);
		fflush(stderr);
	}

	/*
	 * One byte at a time with read(2): stdio would keep a copy of the
	 * secret in its buffer, out of reach of explicit_bzero, and would
	 * read past the line.
	 */
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &ch, 1);

		if (r < 0 && errno == EINTR && !secret_interrupted)
			continue;
		if (r < 0) {
			if (secret_interrupted)
				fprintf(stderr,
					"\n" CTL_PROG ": interrupted\n");
			else
				fprintf(stderr,
					CTL_PROG ": reading the %s: %s\n", what,
					strerror(errno));
			goto out;
		}
		if (r == 0 || ch == '\n')
			break;
		any = true;
		if (ch == '\0')
			nul = true;
		if (n + 1 < len && n < CTL_SECRET_MAX)
			buf[n++] = ch;
		else
			too_long = true;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';

	if (!any && ch != '\n')
		fprintf(stderr, CTL_PROG ": no %s on stdin\n", what);
	else if (too_long)
		fprintf(stderr, CTL_PROG ": the %s is longer than %d bytes\n",
			what, CTL_SECRET_MAX);
	else if (nul)
		fprintf(stderr, CTL_PROG ": the %s holds a NUL byte\n", what);
	else if (!utf8_valid(buf, n))
		fprintf(stderr, CTL_PROG ": the %s is not valid UTF-8\n", what);
	else
		ret = 0;
out:
	explicit_bzero(&ch, sizeof ch);
	if (ret != 0)
		explicit_bzero(buf, len);
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	if (handlers) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	return ret;
}

int
ctl_store_fail(const struct ctl *c, enum store_rc rc)
{
	if (rc == STORE_UNAVAILABLE) {
		fprintf(stderr, CTL_PROG ": cannot reach the database (%s): ",
			store_target(c->st));
	} else if (rc == STORE_SCHEMA_OLD) {
		/* The message says what to run. */
		fprintf(stderr, CTL_PROG ": ");
	} else {
		fprintf(stderr, CTL_PROG ": database error: ");
	}
	ctl_put_clean(stderr, store_errmsg(c->st));
	fputc('\n', stderr);
	return CTL_EXIT_FAIL;
}

int
ctl_no_member(const char *username)
{
	fprintf(stderr, CTL_PROG ": no such member: ");
	ctl_put_clean(stderr, username);
	fputc('\n', stderr);
	return CTL_EXIT_FAIL;
}

int
ctl_member_get(struct ctl *c, const char *username, struct store_member *m)
{
	enum store_rc rc = STORE_NOT_FOUND;

	/* pwreset-ctl stores no other usernames: no need to ask. */
	if (validate_username(username))
		rc = store_member_find(c->st, username, NULL, 0, m);
	if (rc == STORE_NOT_FOUND)
		return ctl_no_member(username);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	return CTL_EXIT_OK;
}
