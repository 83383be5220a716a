/*
 * testsupport.h — what the cmocka programs that talk to real servers
 * share: formatted strings, scratch trees, loopback ports, and an
 * aiosmtpd sink (mail-templates/testdata/smtp_sink.py).  Failures end the
 * running test through cmocka's assertions.
 */
#ifndef PWR_TESTSUPPORT_H
#define PWR_TESTSUPPORT_H

#include <stdbool.h>
#include <sys/types.h>

/* Debian's interpreter, which sees Debian's python3-aiosmtpd. */
#define TEST_PYTHON "/usr/bin/python3"

char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run fn(arg) with stderr (where log.c writes) going to a temporary
 * file; return what was written (the caller frees it).  The text is
 * written to the real stderr afterwards, so it still shows in the log. */
char *test_capture_stderr(void (*fn)(void *), void *arg);

/* Remove dir and everything below it. */
void rm_tree(const char *dir);

/* A loopback TCP port that was free a moment ago. */
int free_port(void);

/* Something listens on 127.0.0.1:port. */
bool port_open(int port);

struct test_sink {
	pid_t pid;
	int port;
	char *outdir; /* parent/name, made by test_sink_start() */
};

/*
 * Run `python3 -m aiosmtpd -n -l 127.0.0.1:PORT EXTRA...` with
 * PYTHONPATH=pypath on a free port; outdir is made first (EXTRA usually
 * names it for smtp_sink.Sink).  0 once the sink listens, -1 when it could
 * not start.
 */
int test_sink_start(struct test_sink *s, const char *parent, const char *name,
		    const char *pypath, const char *const *extra);
void test_sink_stop(struct test_sink *s);

#endif
