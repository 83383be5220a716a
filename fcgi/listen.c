/*
 * listen.c — finding or making the listening socket (see listen.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

#define SD_LISTEN_FDS_START 3
#define HOST_MAX	    256

/* A listening stream socket? */
static bool
is_listening(int fd)
{
	struct stat st;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int on = 0;
	socklen_t olen = sizeof(on);

	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return false;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) == 0 && on;
}

static int
set_flags(int fd, char *err, size_t errlen)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* systemd socket activation: 1 taken, 0 none, -1 error. */
static int
listen_systemd(struct listener *l, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	char *end;
	long pid, fds;

	if (pid_s == NULL || fds_s == NULL)
		return 0;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno != 0 || end == pid_s || *end != '\0' || pid != getpid())
		return 0;
	errno = 0;
	fds = strtol(fds_s, &end, 10);
	if (errno != 0 || end == fds_s || *end != '\0' || fds < 1)
		return 0;
	/* Not for our children, which are no systemd services. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (!is_listening(SD_LISTEN_FDS_START)) {
		snprintf(err, errlen,
			 "LISTEN_FDS: fd %d is not a listening socket",
			 SD_LISTEN_FDS_START);
		return -1;
	}
	l->fd = SD_LISTEN_FDS_START;
	snprintf(l->desc, sizeof(l->desc), "systemd fd %d%s",
		 SD_LISTEN_FDS_START, fds > 1 ? " (others ignored)" : "");
	return 1;
}

/*
 * The socket's directory must not let others swap what we create for
 * something else between bind() and chown: no write for "other" unless
 * the sticky bit protects our entry (/tmp, /run/user).
 */
static int
dir_trusted(const char *path, char *err, size_t errlen)
{
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen,
			 "%s: directory is writable by anyone and not sticky",
			 dir);
		return -1;
	}
	return 0;
}

/*
 * Give the socket just made at path to uid:gid without following a
 * symbolic link, and only if it still is the socket we made (ours, one
 * link): a path swapped in the meantime is refused, never changed.
 */
static int
chown_socket(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	int pfd, rc = -1;

	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -1;
	if (fstat(pfd, &st) != 0)
		goto out;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		errno = EPERM;
		goto out;
	}
	rc = fchownat(pfd, "", uid, gid, AT_EMPTY_PATH);
out:
	close(pfd);
	return rc;
}

static int
listen_unix(struct listener *l, const char *path, int mode, uid_t uid,
	    gid_t gid, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int fd = -1;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (dir_trusted(path, err, errlen) != 0)
		return -1;

	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s: exists and is not a socket",
				 path);
			return -1;
		}
		/* Somebody still listening there is another pwreset (or
		 * anything else): never take its socket away. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			snprintf(err, errlen, "%s: in use by another process",
				 path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(path) != 0) {
			snprintf(err, errlen,
				 "%s: cannot remove the stale "
				 "socket: %s",
				 path, strerror(errno));
			return -1;
		}
	}

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		goto fail;
	/* No moment with looser permissions than asked for, and nothing
	 * done by path name that could follow a symbolic link: Linux's
	 * bind() gives the new node the socket's own mode less the umask,
	 * so the mode is set on the descriptor before it has a name. */
	if (fchmod(fd, (mode_t)mode) != 0)
		goto fail;
	old = umask(0777 & ~(mode_t)mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	l->unix_path = strdup(path);
	if (l->unix_path == NULL)
		abort();
	if (uid != (uid_t)-1 && chown_socket(path, uid, gid) != 0)
		goto fail;
	if (listen(fd, SOMAXCONN) != 0)
		goto fail;
	l->fd = fd;
	snprintf(l->desc, sizeof(l->desc), "unix:%s", path);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (l->unix_path != NULL) {
		unlink(l->unix_path);
		free(l->unix_path);
		l->unix_path = NULL;
	}
	return -1;
}

static int
listen_tcp(struct listener *l, const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char host[HOST_MAX];
	const char *port, *h = spec;
	size_t hlen;
	int rc, fd = -1, saved = 0;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (rb == NULL || rb[1] != ':')
			goto syntax;
		h = spec + 1;
		hlen = (size_t)(rb - h);
		port = rb + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon == NULL)
			goto syntax;
		hlen = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host) || *port == '\0')
		goto syntax;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port, &hints,
			 &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int on = 1;

		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", spec, strerror(saved));
		return -1;
	}
	l->fd = fd;
	snprintf(l->desc, sizeof(l->desc), "%s", spec);
	return 0;
syntax:
	snprintf(err, errlen,
		 "%s: expected unix:/path, host:port or "
		 "[v6]:port",
		 spec);
	return -1;
}

int
listen_open(struct listener *l, const char *spec, int mode, uid_t uid,
	    gid_t gid, char *err, size_t errlen)
{
	int rc;

	l->fd = -1;
	l->unix_path = NULL;
	l->desc[0] = '\0';

	if (is_listening(0)) {
		l->fd = 0;
		snprintf(l->desc, sizeof(l->desc), "fd 0");
	} else if ((rc = listen_systemd(l, err, errlen)) != 0) {
		if (rc < 0)
			return -1;
	} else if (spec != NULL && strncmp(spec, "unix:", 5) == 0) {
		if (listen_unix(l, spec + 5, mode, uid, gid, err, errlen) != 0)
			return -1;
	} else if (spec != NULL && *spec != '\0') {
		if (listen_tcp(l, spec, err, errlen) != 0)
			return -1;
	} else {
		snprintf(err, errlen,
			 "no socket: fd 0 is not a listening socket, no "
			 "systemd socket was passed and [service] listen is "
			 "empty");
		return -1;
	}
	if (set_flags(l->fd, err, errlen) != 0) {
		listen_close(l);
		return -1;
	}
	return 0;
}

void
listen_close(struct listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->unix_path != NULL) {
		/* May fail once privileges are dropped: nothing to do then,
		 * the next start replaces the stale file. */
		unlink(l->unix_path);
		free(l->unix_path);
		l->unix_path = NULL;
	}
}
