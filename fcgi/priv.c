/*
 * priv.c — dropping root (see priv.h), in OpenBSD's order: supplementary
 * groups first (they need root), then the gid, then the uid last.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "priv.h"

int
priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "user %s: %s", user,
			 errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user %s: is root", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
priv_drop(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (setgroups(1, &gid) != 0) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) != 0) {
		snprintf(err, errlen, "setresgid: %s", strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		snprintf(err, errlen, "setresuid: %s", strerror(errno));
		return -1;
	}
	/* Trust, but verify: there must be no way back. */
	if (setuid(0) != -1 || seteuid(0) != -1) {
		snprintf(err, errlen, "could regain root after dropping it");
		return -1;
	}
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid) {
		snprintf(err, errlen, "ids are not the ones asked for");
		return -1;
	}
	return 0;
}

int
priv_no_new_privs(char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

int
priv_no_core(char *err, size_t errlen)
{
	const struct rlimit none = {0, 0};

	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		snprintf(err, errlen, "setrlimit(RLIMIT_CORE): %s",
			 strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, errlen, "prctl(PR_SET_DUMPABLE): %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

int
priv_check_readable(uid_t uid, gid_t gid, const char *path, char *err,
		    size_t errlen)
{
	pid_t pid;
	int status;

	/* A child, because dropping root cannot be undone. */
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char why[256];
		int fd;

		if (priv_drop(uid, gid, why, sizeof(why)) != 0)
			_exit(255);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		_exit(fd < 0 ? (errno > 0 && errno < 255 ? errno : 254) : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) < 254)
		snprintf(err, errlen, "%s: %s", path,
			 strerror(WEXITSTATUS(status)));
	else
		snprintf(err, errlen, "%s: cannot check as the service user",
			 path);
	return -1;
}
