/*
 * listen.h — the listening socket, found or made once by the supervisor.
 *
 * In order: fd 0 when it is a listening socket (spawn-fcgi, systemd
 * StandardInput=socket); else fd 3 when systemd passed one (LISTEN_PID is
 * us, LISTEN_FDS >= 1); else [service] listen: "unix:/path" (a stale
 * socket file is replaced, a live one is an error) or "host:port" /
 * "[v6]:port" ("*" for any address).  The socket is made non-blocking (the
 * workers rely on it, see worker.c).
 */
#ifndef PWR_FCGI_LISTEN_H
#define PWR_FCGI_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

#define LISTEN_DESC_MAX 128

struct listener {
	int fd;			    /* -1 when closed */
	char *unix_path;	    /* owned: a socket file we made */
	char desc[LISTEN_DESC_MAX]; /* "fd 0", "unix:/run/x.sock", ... */
};

/*
 * Open the listening socket.  spec and mode are [service] listen and
 * listen_mode; a unix socket we create gets mode and, when uid is not
 * (uid_t)-1, that owner and gid (so that it stays ours after the
 * privilege drop).  0, or -1 with a reason in err.
 */
int listen_open(struct listener *l, const char *spec, int mode, uid_t uid,
		gid_t gid, char *err, size_t errlen);

/* Close, and remove a socket file we made.  Safe twice. */
void listen_close(struct listener *l);

#endif
