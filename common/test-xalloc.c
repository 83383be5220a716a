/*
 * test-xalloc.c — allocation that aborts instead of returning NULL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"

static void
test_copies(void **state)
{
	char *s, *m;
	int *v;

	(void)state;
	s = xstrdup("abc");
	assert_string_equal(s, "abc");
	m = xmemdup("a\0b", 3);
	assert_memory_equal(m, "a\0b\0", 4);
	v = xcalloc(4, sizeof(*v));
	for (int i = 0; i < 4; i++)
		assert_int_equal(v[i], 0);
	v = xreallocarray(v, 1000, sizeof(*v));
	v[999] = 7;
	v = xrealloc(v, 2000 * sizeof(*v));
	assert_int_equal(v[999], 7);
	/* zero-sized requests still give a pointer to free */
	free(xmalloc(0));
	free(xcalloc(0, 0));
	free(v);
	free(m);
	free(s);
}

/* Run fn in a child; true when it died of SIGABRT. */
static bool
aborts(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void
huge_malloc(void)
{
	free(xmalloc((size_t)-1 / 2));
}

static void
overflow_calloc(void)
{
	free(xcalloc((size_t)-1 / 2, 4));
}

static void
overflow_reallocarray(void)
{
	free(xreallocarray(NULL, (size_t)-1 / 2, 4));
}

static void
small_malloc(void)
{
	free(xmalloc(16));
}

static void
test_failure_aborts(void **state)
{
	(void)state;
	assert_true(aborts(huge_malloc));
	assert_true(aborts(overflow_calloc));
	assert_true(aborts(overflow_reallocarray));
	assert_false(aborts(small_malloc)); /* the check can fail */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copies),
	    cmocka_unit_test(test_failure_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
