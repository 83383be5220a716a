/*
 * cmd.c — the table of pwreset-ctl commands and the one parser of their
 * command lines.
 *
 * Every command's words, handler, argument counts, accepted options and
 * usage live in ctl_cmds[]; nothing else in pwreset-ctl knows a command's
 * syntax, so the usage printed on an error always matches what is parsed.
 * Options are long-only ("--minutes 5" or "--minutes=5"), may come before
 * or after the arguments, and "--" ends them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const struct {
	const char *name;
	bool value; /* takes a value */
} opts[OPT__MAX] = {
    [OPT_EMAIL] = {"email", true},
    [OPT_FIRSTNAME] = {"firstname", true},
    [OPT_LASTNAME] = {"lastname", true},
    [OPT_ADMIN] = {"admin", false},
    [OPT_API] = {"api", false},
    [OPT_STATUS] = {"status", true},
    [OPT_PASSWORD_STDIN] = {"password-stdin", false},
    [OPT_MINUTES] = {"minutes", true},
    [OPT_TEMPLATE] = {"template", true},
    [OPT_DESCRIPTION] = {"description", true},
    [OPT_FAILED] = {"failed", false},
    [OPT_ALL_FAILED] = {"all-failed", false},
    [OPT_ONCE] = {"once", false},
};
_Static_assert(sizeof(opts) / sizeof(opts[0]) == OPT__MAX,
	       "option table out of step with enum ctl_opt");

const struct ctl_cmd ctl_cmds[CMD__MAX] = {
    [CMD_MIGRATE] =
	{
	    .group = "migrate",
	    .run = cmd_migrate,
	    .min_args = 0,
	    .max_args = 0,
	    .flags = CMD_F_DB,
	    .usage = "",
	},
    [CMD_MEMBER_ADD] =
	{
	    .group = "member",
	    .name = "add",
	    .run = cmd_member_add,
	    .min_args = 1,
	    .max_args = 1,
	    .opts = OPTBIT(OPT_EMAIL) | OPTBIT(OPT_FIRSTNAME) |
		    OPTBIT(OPT_LASTNAME) | OPTBIT(OPT_ADMIN) | OPTBIT(OPT_API) |
		    OPTBIT(OPT_STATUS) | OPTBIT(OPT_PASSWORD_STDIN),
	    .flags = CMD_F_DB,
	    .usage = "USERNAME [--email E] [--firstname F] [--lastname L] "
		     "[--admin] [--api] [--status S] [--password-stdin]",
	},
    [CMD_MEMBER_SHOW] =
	{
	    .group = "member",
	    .name = "show",
	    .run = cmd_member_show,
	    .min_args = 1,
	    .max_args = 1,
	    .flags = CMD_F_DB,
	    .usage = "USERNAME",
	},
    [CMD_MEMBER_LOCK] =
	{
	    .group = "member",
	    .name = "lock",
	    .run = cmd_member_lock,
	    .check = cmd_member_lock_check,
	    .min_args = 1,
	    .max_args = 1,
	    .opts = OPTBIT(OPT_MINUTES),
	    .flags = CMD_F_DB,
	    .usage = "USERNAME [--minutes N]",
	},
    [CMD_MEMBER_UNLOCK] =
	{
	    .group = "member",
	    .name = "unlock",
	    .run = cmd_member_unlock,
	    .min_args = 1,
	    .max_args = 1,
	    .flags = CMD_F_DB,
	    .usage = "USERNAME",
	},
    [CMD_MEMBER_DISABLE] =
	{
	    .group = "member",
	    .name = "disable",
	    .run = cmd_member_disable,
	    .min_args = 1,
	    .max_args = 1,
	    .flags = CMD_F_DB,
	    .usage = "USERNAME",
	},
    [CMD_MEMBER_CHECK_PASSWORD] =
	{
	    .group = "member",
	    .name = "check-password",
	    .run = cmd_member_check_password,
	    .min_args = 1,
	    .max_args = 1,
	    .flags = CMD_F_DB,
	    .usage = "USERNAME  (password on stdin)",
	},
    [CMD_GROUP_ADD] =
	{
	    .group = "group",
	    .name = "add",
	    .run = cmd_group_add,
	    .min_args = 1,
	    .max_args = 1,
	    .opts = OPTBIT(OPT_TEMPLATE) | OPTBIT(OPT_DESCRIPTION),
	    .flags = CMD_F_DB,
	    .usage = "NAME [--template SET] [--description D]",
	},
    [CMD_GROUP_ADD_MEMBER] =
	{
	    .group = "group",
	    .name = "add-member",
	    .run = cmd_group_add_member,
	    .min_args = 2,
	    .max_args = 2,
	    .flags = CMD_F_DB,
	    .usage = "GROUP USERNAME",
	},
    [CMD_TOKEN_ISSUE] =
	{
	    .group = "token",
	    .name = "issue",
	    .run = cmd_token_issue,
	    .min_args = 1,
	    .max_args = 1,
	    .flags = CMD_F_DB,
	    .usage = "USERNAME",
	},
    [CMD_TOKEN_REVOKE] =
	{
	    .group = "token",
	    .name = "revoke",
	    .run = cmd_token_revoke,
	    .min_args = 1,
	    .max_args = 1,
	    .flags = CMD_F_DB,
	    .usage = "USERNAME",
	},
    [CMD_MAIL_LIST] =
	{
	    .group = "mail",
	    .name = "list",
	    .run = cmd_mail_list,
	    .min_args = 0,
	    .max_args = 0,
	    .opts = OPTBIT(OPT_FAILED),
	    .flags = CMD_F_DB,
	    .usage = "[--failed]",
	},
    [CMD_MAIL_RETRY] =
	{
	    .group = "mail",
	    .name = "retry",
	    .run = cmd_mail_retry,
	    .check = cmd_mail_retry_check,
	    .min_args = 0,
	    .max_args = 1,
	    .opts = OPTBIT(OPT_ALL_FAILED),
	    .flags = CMD_F_DB,
	    .usage = "ID | --all-failed",
	},
    [CMD_MAIL_DELIVER] =
	{
	    .group = "mail",
	    .name = "deliver",
	    .run = cmd_mail_deliver,
	    .min_args = 0,
	    .max_args = 0,
	    .opts = OPTBIT(OPT_ONCE),
	    .flags = CMD_F_DB,
	    .usage = "[--once]",
	},
    [CMD_PURGE] =
	{
	    .group = "purge",
	    .run = cmd_purge,
	    .min_args = 0,
	    .max_args = 0,
	    .flags = CMD_F_DB,
	    .usage = "",
	},
    [CMD_CHECK] =
	{
	    .group = "check",
	    .run = cmd_check,
	    .min_args = 0,
	    .max_args = 0,
	    .flags = CMD_F_DB | CMD_F_CHECK,
	    .usage = "",
	},
    [CMD_STATS] =
	{
	    .group = "stats",
	    .run = cmd_stats,
	    .min_args = 0,
	    .max_args = 0,
	    .flags = CMD_F_DB,
	    .usage = "",
	},
    [CMD_OUTBOX_KEY] =
	{
	    .group = "outbox-key",
	    .run = cmd_outbox_key,
	    .min_args = 1,
	    .max_args = 1,
	    .flags = CMD_F_NOCONF,
	    .usage = "FILE",
	},
};
_Static_assert(sizeof(ctl_cmds) / sizeof(ctl_cmds[0]) == CMD__MAX,
	       "command table out of step with enum ctl_cmd_id");

const struct ctl_cmd *
ctl_cmd_find(int argc, char **argv, int *words, bool *group_known)
{
	*group_known = false;
	*words = 0;
	if (argc < 1)
		return NULL;
	for (size_t i = 0; i < CMD__MAX; i++) {
		const struct ctl_cmd *cmd = &ctl_cmds[i];

		if (strcmp(argv[0], cmd->group) != 0)
			continue;
		if (cmd->name == NULL) {
			*words = 1;
			return cmd;
		}
		*group_known = true;
		if (argc >= 2 && strcmp(argv[1], cmd->name) == 0) {
			*words = 2;
			return cmd;
		}
	}
	return NULL;
}

static void
usage_line(FILE *fp, const struct ctl_cmd *cmd, const char *lead)
{
	fprintf(fp, "%s%s%s%s%s%s\n", lead, cmd->group, cmd->name ? " " : "",
		cmd->name ? cmd->name : "", cmd->usage[0] ? " " : "",
		cmd->usage);
}

void
ctl_usage(FILE *fp, const struct ctl_cmd *cmd, const char *group)
{
	const char *lead = "usage: " CTL_PROG " [-c FILE] ";

	if (cmd != NULL) {
		usage_line(fp, cmd, lead);
		return;
	}
	if (group != NULL) {
		for (size_t i = 0; i < CMD__MAX; i++) {
			if (strcmp(ctl_cmds[i].group, group) != 0)
				continue;
			usage_line(fp, &ctl_cmds[i], lead);
			lead = "       " CTL_PROG " [-c FILE] ";
		}
		return;
	}
	fprintf(fp, "usage: " CTL_PROG " [-c FILE] <command> [args]\n"
		    "       " CTL_PROG " -h | --help\n"
		    "\n"
		    "  -c FILE  configuration (default: $PWRESET_CONFIG, "
		    "else " CONFIG_DEFAULT_PATH ")\n"
		    "\n"
		    "commands:\n");
	for (size_t i = 0; i < CMD__MAX; i++)
		usage_line(fp, &ctl_cmds[i], "  ");
	fprintf(fp, "\nexit status: 0 ok, 1 failure, 2 usage\n");
}

static int parse_fail(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Say what is wrong with the command line, then the command's usage. */
static int
parse_fail(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, CTL_PROG ": %s%s%s: ", c->cmd->group,
		c->cmd->name ? " " : "", c->cmd->name ? c->cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ctl_usage(stderr, c->cmd, NULL);
	return -1;
}

/* One "--name[=value]" at argv[*i]; may consume argv[*i + 1]. */
static int
parse_option(struct ctl *c, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t namelen = eq ? (size_t)(eq - arg) : strlen(arg);
	int o;

	for (o = 0; o < OPT__MAX; o++)
		if (strlen(opts[o].name) == namelen &&
		    strncmp(opts[o].name, arg, namelen) == 0)
			break;
	if (o == OPT__MAX || !(c->cmd->opts & OPTBIT(o)))
		return parse_fail(c, "unknown option %s", argv[*i]);
	if (c->opt[o] != NULL)
		return parse_fail(c, "option --%s given twice", opts[o].name);
	if (!opts[o].value) {
		if (eq != NULL)
			return parse_fail(c, "option --%s takes no value",
					  opts[o].name);
		c->opt[o] = "";
		return 0;
	}
	if (eq != NULL) {
		c->opt[o] = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc)
		return parse_fail(c, "option --%s needs a value", opts[o].name);
	c->opt[o] = argv[++*i];
	return 0;
}

int
ctl_cmd_parse(struct ctl *c, int argc, char **argv)
{
	bool options = true;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (options && strcmp(a, "--") == 0) {
			options = false;
			continue;
		}
		if (options &&
		    (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0))
			return 1;
		if (options && a[0] == '-' && a[1] == '-') {
			if (parse_option(c, argc, argv, &i) != 0)
				return -1;
			continue;
		}
		/* No command takes single-dash options or negative numbers. */
		if (options && a[0] == '-' && a[1] != '\0')
			return parse_fail(c, "unknown option %s", a);
		if (c->nargs >= c->cmd->max_args || c->nargs >= CTL_ARGS_MAX)
			return parse_fail(c, "unexpected argument \"%s\"", a);
		c->arg[c->nargs++] = a;
	}
	if (c->nargs < c->cmd->min_args)
		return parse_fail(c, "missing argument");
	return 0;
}
