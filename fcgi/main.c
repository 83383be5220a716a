/*
 * main.c — pwreset(8): the FastCGI service.
 *
 *	pwreset [-n] [-c FILE] | -V | -h
 *
 * Loads the configuration and everything it names, finds or makes the
 * listening socket, drops root, then hands over to the supervisor, in the
 * foreground.  -n only checks the configuration (and the templates, the
 * banned list, the trusted proxies, the SMTP password file and the user it
 * names: whatever a worker or the mailer would refuse at start) and exits.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "listen.h"
#include "priv.h"
#include "proctitle.h"
#include "supervisor.h"
#include "worker.h"

static void
usage(FILE *out, int status)
{
	fprintf(out, "usage: pwreset [-n] [-c FILE]\n"
		     "       pwreset -V | --version\n"
		     "       pwreset -h | --help\n");
	exit(status);
}

/*
 * The configuration may hold the database password (conninfo); it is
 * installed 0640.  A copy anyone can read is worth a warning, at start and
 * from -n.  Writes the warning into msg, or "" when there is none.
 */
static void
config_mode_warning(const char *path, char *msg, size_t len)
{
	struct stat st;

	msg[0] = '\0';
	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		snprintf(msg, len,
			 "%s is readable by anyone (mode %04o): it may hold "
			 "passwords; make it 0640 (chmod o-r)",
			 path, (unsigned)(st.st_mode & 07777));
}

/*
 * The children read [smtp] password_file after dropping root: when we are
 * root with a service user, check it as that user, not as root (to whom
 * every file is readable).  0, or -1 with a reason in err.
 */
static int
password_file_check(const struct config *cfg, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;
	char why[512];

	if (geteuid() != 0 || cfg->service.user[0] == '\0' ||
	    cfg->smtp.password_file[0] == '\0')
		return 0;
	if (priv_lookup(cfg->service.user, &uid, &gid, why, sizeof(why)) != 0 ||
	    priv_check_readable(uid, gid, cfg->smtp.password_file, why,
				sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: [smtp] password_file as user %s: %s",
			 cfg->path, cfg->service.user, why);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct worker_conf wc = {0};
	struct listener lsn = {.fd = -1};
	const char *carg = NULL, *path;
	const struct config *cfg = &wc.app.cfg;
	bool check = false;
	char err[1024], warn[1024];
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int ch, rc = 1;
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};

	/* Before anything reads the environment through a pointer it keeps:
	 * the environment moves to the heap here. */
	proctitle_init(argc, argv);
	while ((ch = getopt_long(argc, argv, "nc:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'V':
			printf("pwreset %s\n", PWRESET_VERSION);
			return 0;
		case 'n':
			check = true;
			break;
		case 'c':
			carg = optarg;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	path = config_path(carg);
	/* Until the configuration says otherwise: stderr, with the journal's
	 * priorities when it is the journal, so that a configuration error
	 * at start is an error there too. */
	log_init("pwreset", LOG_TARGET_STDERR, LOG_LEVEL_INFO);

	/* Before any secret is read; inherited by every child. */
	if (priv_no_core(err, sizeof(err)) != 0) {
		if (check)
			fprintf(stderr, "%s\n", err);
		else
			log_error("%s", err);
		return 1;
	}
	if (worker_conf_load(&wc, path, err, sizeof(err)) != 0 ||
	    password_file_check(cfg, err, sizeof(err)) != 0) {
		if (check)
			fprintf(stderr, "%s\n", err);
		else
			log_error("%s", err);
		worker_conf_free(&wc);
		return 1;
	}
	config_mode_warning(path, warn, sizeof(warn));
	if (check) {
		if (warn[0] != '\0')
			fprintf(stderr, "warning: %s\n", warn);
		printf("%s: ok\n", path);
		worker_conf_free(&wc);
		return 0;
	}
	log_init("pwreset", cfg->log.target, cfg->log.level);
	/* First, so that two hosts' logs tell which build each runs. */
	log_info("pwreset %s starting, configuration %s", PWRESET_VERSION,
		 path);
	if (warn[0] != '\0')
		log_warn("%s", warn);

	if (geteuid() == 0 && cfg->service.user[0] != '\0') {
		if (priv_lookup(cfg->service.user, &uid, &gid, err,
				sizeof(err)) != 0) {
			log_error("%s", err);
			goto out;
		}
	} else if (geteuid() == 0) {
		log_warn("running as root: set [service] user to run as an "
			 "unprivileged user");
	} else if (cfg->service.user[0] != '\0') {
		log_warn("not started as root: [service] user %s ignored",
			 cfg->service.user);
	}

	if (listen_open(&lsn, cfg->service.listen, cfg->service.listen_mode,
			uid, gid, err, sizeof(err)) != 0) {
		log_error("listen: %s", err);
		goto out;
	}
	if (uid != (uid_t)-1) {
		if (priv_drop(uid, gid, err, sizeof(err)) != 0) {
			log_error("dropping privileges: %s", err);
			goto out;
		}
		/* A change of uid resets "dumpable" to fs.suid_dumpable. */
		if (priv_no_core(err, sizeof(err)) != 0) {
			log_error("%s", err);
			goto out;
		}
		log_info("running as %s", cfg->service.user);
	}
	if (priv_no_new_privs(err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	log_info("listening on %s", lsn.desc);
	rc = supervisor_run(&wc, lsn.fd);
out:
	listen_close(&lsn);
	worker_conf_free(&wc);
	return rc;
}
