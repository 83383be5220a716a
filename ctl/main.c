/*
 * main.c — pwreset-ctl: global options, the configuration, dispatch.
 *
 *	pwreset-ctl [-c FILE] <command> [args]
 *	pwreset-ctl <command> -h | --help
 *	pwreset-ctl -V | --version
 *
 * The command line is checked completely (exit 2) before the configuration
 * is read (exit 1 on an error, reported as "FILE:LINE: message") and before
 * any connection is made, so a typo never touches the database.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/app.h"
#include "core/config.h"
#include "core/log.h"
#include "ctl.h"

static bool
is_help(const char *s)
{
	return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

/* No command, or no such command: say so, then the fitting usage. */
static int
unknown_command(int argc, char **argv)
{
	bool group_known;
	int words;

	if (argc == 0) {
		fprintf(stderr, CTL_PROG ": no command given\n");
		ctl_usage(stderr, NULL, NULL);
		return CTL_EXIT_USAGE;
	}
	/* Only to learn whether argv[0] is a group like "member". */
	(void)ctl_cmd_find(argc, argv, &words, &group_known);
	if (!group_known) {
		fprintf(stderr, CTL_PROG ": unknown command \"");
		ctl_put_clean(stderr, argv[0]);
		fprintf(stderr, "\"\n");
		ctl_usage(stderr, NULL, NULL);
		return CTL_EXIT_USAGE;
	}
	if (argc > 1 && is_help(argv[1])) {
		ctl_usage(stdout, NULL, argv[0]);
		return CTL_EXIT_OK;
	}
	if (argc == 1) {
		fprintf(stderr, CTL_PROG ": %s: missing sub-command\n",
			argv[0]);
	} else {
		fprintf(stderr, CTL_PROG ": %s: unknown sub-command \"",
			argv[0]);
		ctl_put_clean(stderr, argv[1]);
		fprintf(stderr, "\"\n");
	}
	ctl_usage(stderr, NULL, argv[0]);
	return CTL_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct ctl c;
	const char *cfgarg = NULL;
	char err[1024];
	bool group_known;
	int ch, words, ret;

	memset(&c, 0, sizeof c);
	log_init(CTL_PROG, LOG_TARGET_STDERR, LOG_LEVEL_WARN);

	/* '+': stop at the command, whose own options come after it. */
	while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgarg = optarg;
			break;
		case 'h':
			ctl_usage(stdout, NULL, NULL);
			return CTL_EXIT_OK;
		case 'V':
			printf("pwreset-ctl %s\n", PWRESET_VERSION);
			return CTL_EXIT_OK;
		default:
			ctl_usage(stderr, NULL, NULL);
			return CTL_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	c.cmd = ctl_cmd_find(argc, argv, &words, &group_known);
	if (c.cmd == NULL)
		return unknown_command(argc, argv);
	switch (ctl_cmd_parse(&c, argc - words, argv + words)) {
	case 0:
		break;
	case 1:
		ctl_help(stdout, c.cmd);
		return CTL_EXIT_OK;
	default:
		return CTL_EXIT_USAGE;
	}
	if (c.cmd->check != NULL && c.cmd->check(&c) != CTL_EXIT_OK)
		return CTL_EXIT_USAGE;

	/* A command that needs no configuration runs before it is read:
	 * outbox-key makes a file the configuration will name. */
	if (c.cmd->flags & CMD_F_NOCONF) {
		ret = c.cmd->run(&c);
		goto out;
	}
	c.config_path = config_path(cfgarg);
	if (config_load(&c.cfg, c.config_path, err, sizeof err) != 0) {
		if (c.cmd->flags & CMD_F_CHECK)
			printf("config %s: FAILED: %s\n", c.config_path, err);
		else
			fprintf(stderr, "%s\n", err);
		return CTL_EXIT_FAIL;
	}
	/* Always stderr: this is a command run by a person or a unit whose
	 * output is collected; the level still comes from the file. */
	log_init(CTL_PROG, LOG_TARGET_STDERR, c.cfg.log.level);

	if (c.cmd->flags & CMD_F_DB)
		c.st = app_store_open(&c.cfg);

	ret = c.cmd->run(&c);

	store_close(c.st);
	config_free(&c.cfg);
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, CTL_PROG ": cannot write to stdout\n");
		if (ret == CTL_EXIT_OK)
			ret = CTL_EXIT_FAIL;
	}
	return ret;
}
