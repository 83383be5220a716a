/*
 * testsupport.c — see testsupport.h.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testsupport.h"

#define SINK_ARGS_MAX 24
#define SINK_WAIT_MS  15000 /* aiosmtpd's start on a loaded machine */
#define SINK_POLL_MS  50

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

char *
test_capture_stderr(void (*fn)(void *), void *arg)
{
	FILE *f = tmpfile();
	int saved;
	long n;
	char *out;

	assert_non_null(f);
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) >= 0);
	assert_int_equal(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) >= 0);
	rewind(f);
	assert_non_null(out = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	fputs(out, stderr);
	return out;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
rm_tree(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

bool
port_open(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok =
	    fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

int
test_sink_start(struct test_sink *s, const char *parent, const char *name,
		const char *pypath, const char *const *extra)
{
	const char *argv[SINK_ARGS_MAX];
	char *listen;
	int n = 0;

	s->pid = 0;
	s->port = free_port();
	s->outdir = xasprintf("%s/%s", parent, name);
	if (mkdir(s->outdir, 0700) != 0)
		return -1;
	listen = xasprintf("127.0.0.1:%d", s->port);
	argv[n++] = TEST_PYTHON;
	argv[n++] = "-m";
	argv[n++] = "aiosmtpd";
	argv[n++] = "-n";
	argv[n++] = "-l";
	argv[n++] = listen;
	for (int i = 0; extra[i] != NULL && n < SINK_ARGS_MAX - 1; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	fflush(NULL);
	if ((s->pid = fork()) < 0) {
		s->pid = 0;
		free(listen);
		return -1;
	}
	if (s->pid == 0) {
		setenv("PYTHONPATH", pypath, 1);
		execv(TEST_PYTHON, (char *const *)argv);
		_exit(127);
	}
	free(listen);
	for (int waited = 0; waited < SINK_WAIT_MS; waited += SINK_POLL_MS) {
		int status;

		if (port_open(s->port))
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0; /* it died: a missing module, a bad flag */
			return -1;
		}
		usleep(SINK_POLL_MS * 1000);
	}
	return -1;
}

void
test_sink_stop(struct test_sink *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	free(s->outdir);
	s->outdir = NULL;
}
