/*
 * proctitle.c — the process title ps(1) shows for a child (see
 * proctitle.h).
 *
 * The kernel lays out the argv strings and then the environment strings
 * back to back; everything contiguous from argv[0] on is ours to write
 * once the environment lives elsewhere.  The copies of the environment
 * are never freed: they are the process's environment from then on.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "proctitle.h"

extern char **environ;

static char *title_area; /* argv[0], or NULL before proctitle_init() */
static size_t title_len; /* bytes we may write, the last NUL included */

void
proctitle_init(int argc, char **argv)
{
	char *end;
	size_t n = 0;
	char **env;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	for (char **e = environ; *e != NULL; e++, n++)
		if (*e == end)
			end = *e + strlen(*e) + 1;

	/* The environment moves out of the area before it is written on. */
	env = xcalloc(n + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		env[i] = xstrdup(environ[i]);
	environ = env;

	title_area = argv[0];
	title_len = (size_t)(end - argv[0]);
}

void
proctitle_set(const char *title)
{
	size_t n;

	prctl(PR_SET_NAME, title, 0, 0, 0); /* cut to 15 bytes */
	if (title_area == NULL)
		return;
	n = strlen(title);
	if (n > title_len - 1)
		n = title_len - 1;
	memcpy(title_area, title, n);
	/* NULs after the title: the kernel then shows it alone. */
	memset(title_area + n, '\0', title_len - n);
}
