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
#include <sys/stat.h>
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

/*
 * arg: how to spell JOURNAL_STREAM relative to the captured stderr: "self"
 * for its own device:inode, anything else as it is.
 */
static void
log_journal_some(void *arg)
{
	const char *how = arg;
	char v[64];
	struct stat st;

	if (strcmp(how, "self") == 0) {
		assert_int_equal(fstat(STDERR_FILENO, &st), 0);
		snprintf(v, sizeof(v), "%llu:%llu",
			 (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		how = v;
	}
	assert_int_equal(setenv("JOURNAL_STREAM", how, 1), 0);
	log_init("pwtest", LOG_TARGET_STDERR, LOG_LEVEL_DEBUG);
	log_error("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	unsetenv("JOURNAL_STREAM");
	log_init(NULL, LOG_TARGET_STDERR, LOG_LEVEL_INFO);
}

/* stderr is the journal: syslog priorities, no time stamp. */
static void
test_log_journal(void **state)
{
	char want[256];
	char *out;
	long pid = (long)getpid();

	(void)state;
	out = test_capture_stderr(log_journal_some, "self");
	snprintf(want, sizeof(want),
		 "<3>pwtest[%ld] error: e\n"
		 "<4>pwtest[%ld] warn: w\n"
		 "<6>pwtest[%ld] info: i\n"
		 "<7>pwtest[%ld] debug: d\n",
		 pid, pid, pid, pid);
	assert_string_equal(out, want);
	free(out);
}

/* A JOURNAL_STREAM that names another stream, or is malformed, is not
 * ours: the plain format stays. */
static void
test_log_journal_other(void **state)
{
	static const char *const values[] = {
	    "1:2", "", "x:y", "1:", ":2", "1:2:3", "-1:2"};

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *out =
		    test_capture_stderr(log_journal_some, (void *)values[i]);
		assert_null(strchr(out, '<'));
		assert_non_null(strstr(out, "] warn: w\n"));
		assert_int_equal(out[4], '-'); /* 2026-... */
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_format),
	    cmocka_unit_test(test_log_journal),
	    cmocka_unit_test(test_log_journal_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
