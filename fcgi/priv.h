/*
 * priv.h — dropping root.
 *
 * Started as root with [service] user set, the supervisor opens its socket,
 * then becomes that user for good before any child exists.  Every process
 * also sets PR_SET_NO_NEW_PRIVS: pwreset never executes anything, so no
 * path back to more privileges should exist.
 */
#ifndef PWR_FCGI_PRIV_H
#define PWR_FCGI_PRIV_H

#include <stddef.h>
#include <sys/types.h>

/* The uid and primary gid of user.  0, or -1 with a reason in err. */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
		size_t errlen);

/*
 * setgroups(1, {gid}) → setresgid(gid) → setresuid(uid), then check that
 * setuid(0) fails and the ids are what we asked for.  0, or -1 with a
 * reason in err (the caller must then exit: the process may be half
 * dropped).
 */
int priv_drop(uid_t uid, gid_t gid, char *err, size_t errlen);

/* prctl(PR_SET_NO_NEW_PRIVS).  0, or -1 with a reason in err. */
int priv_no_new_privs(char *err, size_t errlen);

/*
 * No core dump: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (a core would hold the
 * database and SMTP passwords; not dumpable also keeps same-uid ptrace and
 * /proc/PID/mem out).  Inherited by the children.  0, or -1 with a reason
 * in err.
 */
int priv_no_core(char *err, size_t errlen);

/*
 * Can uid:gid open path for reading?  Tried for real in a child that drops
 * to uid:gid, so a check made as root says what the service user will
 * meet.  0, or -1 with a reason in err.
 */
int priv_check_readable(uid_t uid, gid_t gid, const char *path, char *err,
			size_t errlen);

#endif
