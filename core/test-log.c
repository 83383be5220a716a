/*
 * test-log.c — the log line format and what log.c does to hostile text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "test/support/testsupport.h"

static void
log_some(void *arg)
{
	(void)arg;
	log_init("pwtest", LOG_TARGET_STDERR, LOG_LEVEL_INFO);
	log_debug("hidden %d", 1);
	log_info("shown %d", 2);
	errno = ENOENT;
	log_errno("open %s", "x");
	assert_int_equal(errno, ENOENT); /* preserved */
	log_warn("evil\nline\x1b");
	log_init("pwtest", LOG_TARGET_STDERR, LOG_LEVEL_ERROR);
	log_warn("hidden too");
	log_error("last");
	log_init(NULL, LOG_TARGET_STDERR, LOG_LEVEL_INFO);
}

static void
test_log_format(void **state)
{
	char want[128], *out, *line, *save = NULL;
	static const char *const tails[] = {
	    "info: shown 2",
	    "error: open x: No such file or directory",
	    "warn: evil?line?",
	    "error: last",
	};
	size_t i = 0;

	(void)state;
	out = test_capture_stderr(log_some, NULL);
	snprintf(want, sizeof(want), " pwtest[%ld] ", (long)getpid());
	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), i++) {
		int y, mo, d, h, mi, s;
		char z = 0;
		assert_true(i < sizeof(tails) / sizeof(tails[0]));
		/* 2026-11-25T08:49:26Z */
		assert_int_equal(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y,
					&mo, &d, &h, &mi, &s, &z),
				 7);
		assert_int_equal(z, 'Z');
		assert_int_equal(strncmp(line + 20, want, strlen(want)), 0);
		assert_string_equal(line + 20 + strlen(want), tails[i]);
	}
	assert_int_equal(i, sizeof(tails) / sizeof(tails[0]));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
