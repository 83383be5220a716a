/*
 * smtp_probe.c — is the SMTP relay there?  pwreset-ctl check's probe.
 *
 * libesmtp cannot open a session without a message to send (no
 * recipient: SMTP_ERR_INVAL before connecting), so the probe speaks the
 * only step it needs itself: connect and read the greeting.  Kept here so
 * that the mail module is the one place that talks SMTP.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "smtp.h"

#define SMTP_PROBE_LINE_MAX 512 /* RFC 5321 §4.5.3.1.5: a reply line */

/* Wait for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int
probe_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline - clock_now_ms();
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
probe_connect_one(const struct addrinfo *ai, int64_t deadline, char *why,
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
	switch (probe_wait_fd(fd, POLLOUT, deadline)) {
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
probe_read_line(int fd, char *buf, size_t len, int64_t deadline, char *why,
		size_t whylen)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r;

		switch (probe_wait_fd(fd, POLLIN, deadline)) {
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

bool
smtp_probe(const char *host, int port, int timeout_s, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL;
	char service[16], line[SMTP_PROBE_LINE_MAX + 1];
	int64_t deadline = clock_now_ms() + (int64_t)timeout_s * 1000;
	int fd = -1, gai;
	bool ret = false;

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
		fd = probe_connect_one(ai, deadline, why, whylen);
	if (fd < 0)
		goto out;
	if (probe_read_line(fd, line, sizeof line, deadline, why, whylen) != 0)
		goto out;
	if (strncmp(line, "220", 3) != 0 ||
	    (line[3] != ' ' && line[3] != '-' && line[3] != '\0')) {
		snprintf(why, whylen, "unexpected greeting \"%.80s\"", line);
		goto out;
	}
	/* Polite, best effort: the relay need not see a dropped client. */
	(void)!send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
	ret = true;
out:
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return ret;
}
