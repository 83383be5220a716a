/*
 * check.c — the start checks run ahead (see check.h).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mailer.h"

int
app_check_start(const struct config *cfg, char *err, size_t errlen)
{
	char why[512];

	/* Checked even when not started as root (the key is then ignored
	 * with a warning): the same file goes to the production host. */
	if (cfg->service.user[0] != '\0') {
		struct passwd *pw;

		errno = 0;
		pw = getpwnam(cfg->service.user);
		if (pw == NULL) {
			snprintf(err, errlen, "%s: [service] user %s: %s",
				 cfg->path, cfg->service.user,
				 errno != 0 ? strerror(errno) : "no such user");
			return -1;
		}
	}
	if (mailer_conf_check(cfg, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", cfg->path, why);
		return -1;
	}
	return 0;
}
