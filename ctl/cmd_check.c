/*
 * cmd_check.c — pwreset-ctl check: can this configuration work here?
 *
 * One line per check, "ok" or "FAILED: reason", and exit 1 when any
 * failed: the configuration loads (main.c already did it), the database
 * answers, the banned-password list loads, and the SMTP relay greets with
 * "220".  Nothing is written anywhere: migrations are not run and no mail
 * is sent (the SMTP probe only reads the greeting and says QUIT).
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/password.h"
#include "ctl.h"

#define SMTP_LINE_MAX 512 /* RFC 5321 §4.5.3.1.5: a reply line */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 0)
			return n < 0 ? -1 : 1;
	}
}

/* A non-blocking connect to one address, bounded by deadline. */
static int
connect_one(const struct addrinfo *ai, long long deadline, char *why,
	    size_t whylen)
{
	int fd, err = 0;
	socklen_t errlen = sizeof err;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		snprintf(why, whylen, "connect: %s", strerror(errno));
		goto fail;
	}
	switch (wait_fd(fd, POLLOUT, deadline)) {
	case 1:
		break;
	case 0:
		snprintf(why, whylen, "connect: timed out");
		goto fail;
	default:
		snprintf(why, whylen, "poll: %s", strerror(errno));
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0)
		err = errno;
	if (err != 0) {
		snprintf(why, whylen, "connect: %s", strerror(err));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Read up to the first line end; 0 with the line in buf, or -1. */
static int
read_line(int fd, char *buf, size_t len, long long deadline, char *why,
	  size_t whylen)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r;

		switch (wait_fd(fd, POLLIN, deadline)) {
		case 1:
			break;
		case 0:
			snprintf(why, whylen, "no greeting: timed out");
			return -1;
		default:
			snprintf(why, whylen, "poll: %s", strerror(errno));
			return -1;
		}
		r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			snprintf(why, whylen, "read: %s", strerror(errno));
			return -1;
		}
		if (r == 0) {
			snprintf(why, whylen,
				 "connection closed before the "
				 "greeting");
			return -1;
		}
		n += (size_t)r;
		buf[n] = '\0';
		if (strchr(buf, '\n') != NULL)
			break;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/*
 * Connect to host:port (every address getaddrinfo gives, in order) and
 * read the greeting, all within timeout_s.  0 when it starts "220".
 */
static int
smtp_probe(const char *host, int port, int timeout_s, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL;
	char service[16], line[SMTP_LINE_MAX + 1];
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	int fd = -1, gai, ret = -1;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof service, "%d", port);
	gai = getaddrinfo(host, service, &hints, &res);
	if (gai != 0) {
		snprintf(why, whylen, "%s",
			 gai == EAI_SYSTEM ? strerror(errno)
					   : gai_strerror(gai));
		goto out;
	}
	snprintf(why, whylen, "no address");
	for (const struct addrinfo *ai = res; ai != NULL && fd < 0;
	     ai = ai->ai_next)
		fd = connect_one(ai, deadline, why, whylen);
	if (fd < 0)
		goto out;
	if (read_line(fd, line, sizeof line, deadline, why, whylen) != 0)
		goto out;
	if (strncmp(line, "220", 3) != 0 ||
	    (line[3] != ' ' && line[3] != '-' && line[3] != '\0')) {
		snprintf(why, whylen, "unexpected greeting \"%.80s\"", line);
		goto out;
	}
	/* Polite, best effort: the relay need not see a dropped client. */
	(void)!send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return ret;
}

static void
report(bool ok, const char *why, int *failed)
{
	if (ok) {
		printf("ok\n");
	} else {
		printf("FAILED: ");
		ctl_put_clean(stdout, why);
		putchar('\n');
		(*failed)++;
	}
	fflush(stdout);
}

int
cmd_check(struct ctl *c)
{
	const struct config *cfg = &c->cfg;
	char why[512];
	enum store_rc rc;
	struct banned *b;
	int failed = 0;

	printf("config %s: ok\n", c->config_path);

	printf("database %s: ", store_target(c->st));
	rc = store_connect(c->st);
	report(rc == STORE_OK, store_errmsg(c->st), &failed);

	if (cfg->password.banned_file != NULL &&
	    cfg->password.banned_file[0] != '\0') {
		printf("banned list %s: ", cfg->password.banned_file);
		why[0] = '\0';
		b = banned_load(cfg->password.banned_file, why, sizeof why);
		report(b != NULL, why, &failed);
		banned_free(b);
	}

	if (strchr(cfg->smtp.host, ':') != NULL)
		printf("smtp [%s]:%d: ", cfg->smtp.host, cfg->smtp.port);
	else
		printf("smtp %s:%d: ", cfg->smtp.host, cfg->smtp.port);
	report(smtp_probe(cfg->smtp.host, cfg->smtp.port, cfg->smtp.timeout,
			  why, sizeof why) == 0,
	       why, &failed);

	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
