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

/* Two rows may share a name (migrate --status, member add --status S):
 * the parser takes the one the command accepts. */
static const struct {
	const char *name;
	bool value;	  /* takes a value */
	const char *arg;  /* the value's name in the help, or NULL */
	const char *help; /* for "COMMAND --help" */
} opts[OPT__MAX] = {
    [OPT_EMAIL] = {"email", true, "E",
		   "email address, under 100 characters, unique"},
    [OPT_FIRSTNAME] = {"firstname", true, "F",
		       "first name, up to 50 characters"},
    [OPT_LASTNAME] = {"lastname", true, "L", "last name, up to 50 characters"},
    [OPT_ADMIN] = {"admin", false, NULL,
		   "an administrator (may use the admin API)"},
    [OPT_API] = {"api", false, NULL, "an API member"},
    [OPT_STATUS] = {"status", true, "S",
		    "activated (default), unactivated or disabled"},
    [OPT_PASSWORD_STDIN] = {"password-stdin", false, NULL,
			    "read a password from standard input (one line)"},
    [OPT_MINUTES] = {"minutes", true, "N",
		     "how long, in minutes, 1 to 525600 (default: 30)"},
    [OPT_TEMPLATE] = {"template", true, "SET",
		      "mail template set of the group's members"},
    [OPT_DESCRIPTION] = {"description", true, "D", "free text"},
    [OPT_FAILED] = {"failed", false, NULL,
		    "only messages given up or unconfirmed"},
    [OPT_ALL_FAILED] = {"all-failed", false, NULL,
			"every message given up or unconfirmed"},
    [OPT_ONCE] = {"once", false, NULL,
		  "deliver what is due now, report and exit"},
    [OPT_SCHEMA_STATUS] = {"status", false, NULL,
			   "show the applied and the needed schema version; "
			   "exit 0 when current, 1 when behind"},
    [OPT_DRY_RUN] = {"dry-run", false, NULL,
		     "list the migrations that would run; change nothing"},
};
_Static_assert(sizeof(opts) / sizeof(opts[0]) == OPT__MAX,
	       "option table out of step with enum ctl_opt");

const struct ctl_cmd ctl_cmds[CMD__MAX] = {
    [CMD_MIGRATE] =
	{
	    .group = "migrate",
	    .run = cmd_migrate,
	    .check = cmd_migrate_check,
	    .min_args = 0,
	    .max_args = 0,
	    .opts = OPTBIT(OPT_SCHEMA_STATUS) | OPTBIT(OPT_DRY_RUN),
	    .flags = CMD_F_DB,
	    .usage = "[--status | --dry-run]",
	    .help = "Apply the schema migrations the database lacks, each in "
		    "its own\ntransaction, under a lock (safe from several "
		    "hosts at once).\n",
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
	    .help = "Add a member.  Without --password-stdin the member has no "
		    "password\nand sets one with a reset.\n",
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
	    .help = "Show a member's record.\n",
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
	    .help =
		"Lock a member for a while (resets answer 1019 meanwhile).\n",
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
	    .help = "Clear a member's lock.\n",
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
	    .help = "Set a member's status to disabled (resets answer 1019).\n",
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
	    .help = "Check a password read from standard input against the "
		    "member's:\nexit 0 when it matches, 1 when not.\n",
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
	    .help = "Add a group.\n",
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
	    .help = "Add a member to a group (GROUP is a name or an id).\n",
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
	    .help = "Issue an admin API token for an admin member; it is "
		    "printed once\nand only its hash is stored.\n",
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
	    .help = "Revoke every admin API token of a member.\n",
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
	    .help =
		"List the outbox, one message a line after a header line:\nID, "
		"STATE, ATTEMPTS, KIND, RECIPIENT, CREATED, SENT_OR_NEXT (the "
		"time\nit was sent, else of the next attempt) and LAST_ERROR, "
		"tab-separated,\n\"-\" for an empty field.\n",
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
	    .help = "Queue a message given up or unconfirmed again, or all of "
		    "them.\n",
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
	    .help = "Run the mailer here, until SIGTERM or SIGINT (for a host "
		    "that runs\nit apart from pwreset).\n",
	},
    [CMD_PURGE] =
	{
	    .group = "purge",
	    .run = cmd_purge,
	    .min_args = 0,
	    .max_args = 0,
	    .flags = CMD_F_DB,
	    .usage = "",
	    .help = "Delete expired tokens, old messages and old rate-limit "
		    "rows (the\nmailer does this every hour by itself).\n",
	},
    [CMD_CHECK] =
	{
	    .group = "check",
	    .run = cmd_check,
	    .min_args = 0,
	    .max_args = 0,
	    .flags = CMD_F_DB | CMD_F_CHECK,
	    .usage = "",
	    .help = "Check the configuration, the start checks of pwreset -n, "
		    "the\ndatabase and its schema version, the banned list and "
		    "the SMTP relay;\none line each, exit 1 when any failed.  "
		    "Writes nothing.\n",
	},
    [CMD_STATS] =
	{
	    .group = "stats",
	    .run = cmd_stats,
	    .min_args = 0,
	    .max_args = 0,
	    .flags = CMD_F_DB,
	    .usage = "",
	    .help = "Print counts from the database: outbox, tokens, password "
		    "changes.\n",
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
		    "       " CTL_PROG " <command> -h | --help\n"
		    "       " CTL_PROG " -h | --help\n"
		    "       " CTL_PROG " -V | --version\n"
		    "\n"
		    "  -c FILE  configuration (default: $PWRESET_CONFIG, "
		    "else " CONFIG_DEFAULT_PATH ")\n"
		    "\n"
		    "commands:\n");
	for (size_t i = 0; i < CMD__MAX; i++)
		usage_line(fp, &ctl_cmds[i], "  ");
	fprintf(fp, "\nexit status: 0 ok, 1 failure, 2 usage\n");
}

void
ctl_help(FILE *fp, const struct ctl_cmd *cmd)
{
	bool any = false;

	ctl_usage(fp, cmd, NULL);
	if (cmd->help != NULL)
		fprintf(fp, "\n%s", cmd->help);
	for (int o = 0; o < OPT__MAX; o++) {
		char name[64];

		if (!(cmd->opts & OPTBIT(o)))
			continue;
		if (!any)
			fprintf(fp, "\noptions:\n");
		any = true;
		snprintf(name, sizeof name, "--%s%s%s", opts[o].name,
			 opts[o].arg ? " " : "",
			 opts[o].arg ? opts[o].arg : "");
		fprintf(fp, "  %-18s %s\n", name, opts[o].help);
	}
	fprintf(fp, "%s  %-18s this text\n", any ? "" : "\noptions:\n",
		"-h, --help");
	fprintf(fp,
		"\nbefore the command:\n  %-18s configuration (default: "
		"$PWRESET_CONFIG, else " CONFIG_DEFAULT_PATH ")\n"
		"\nexit status: 0 ok, 1 failure, 2 usage\n",
		"-c FILE");
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
		if ((c->cmd->opts & OPTBIT(o)) &&
		    strlen(opts[o].name) == namelen &&
		    strncmp(opts[o].name, arg, namelen) == 0)
			break;
	if (o == OPT__MAX)
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
