/*
 * ctl.h — pwreset-ctl, the administration command (SPEC §8).
 *
 * main.c loads the configuration, finds the command in the one const table
 * of commands (cmd.c), parses its options and arguments with the table's
 * rules and calls its handler with a struct ctl.  Handlers live in
 * cmd_<group>.c and return an exit code; they speak to the database only
 * through sql/store.h.
 *
 * Ownership: struct ctl and everything in it belongs to main(); handlers
 * borrow it.  opt[] and arg[] point into argv.
 */
#ifndef PWR_CTL_H
#define PWR_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "sql/store.h"

#define CTL_PROG "pwreset-ctl"

/* A password read from stdin: at most this many bytes, line end excluded. */
#define CTL_SECRET_MAX 1024

enum ctl_exit { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

/* Every option any command takes; a command's table row says which. */
enum ctl_opt {
	OPT_EMAIL,
	OPT_FIRSTNAME,
	OPT_LASTNAME,
	OPT_ADMIN,
	OPT_API,
	OPT_STATUS,
	OPT_PASSWORD_STDIN,
	OPT_MINUTES,
	OPT_TEMPLATE,
	OPT_DESCRIPTION,
	OPT_FAILED,
	OPT_ALL_FAILED,
	OPT_ONCE,
	OPT_SCHEMA_STATUS, /* "--status" of migrate: a flag, not OPT_STATUS */
	OPT_DRY_RUN,
	OPT__MAX
};

#define OPTBIT(o) (1u << (o))
_Static_assert(OPT__MAX <= 32, "option bits must fit an unsigned int");

enum ctl_cmd_id {
	CMD_MIGRATE,
	CMD_MEMBER_ADD,
	CMD_MEMBER_SHOW,
	CMD_MEMBER_LOCK,
	CMD_MEMBER_UNLOCK,
	CMD_MEMBER_DISABLE,
	CMD_MEMBER_CHECK_PASSWORD,
	CMD_GROUP_ADD,
	CMD_GROUP_ADD_MEMBER,
	CMD_TOKEN_ISSUE,
	CMD_TOKEN_REVOKE,
	CMD_MAIL_LIST,
	CMD_MAIL_RETRY,
	CMD_MAIL_DELIVER,
	CMD_PURGE,
	CMD_CHECK,
	CMD_STATS,
	CMD_OUTBOX_KEY,
	CMD__MAX
};

/* The most positional arguments any command takes. */
#define CTL_ARGS_MAX 2

struct ctl_cmd;

/* What a handler gets: the loaded configuration, an opened (not yet
 * connected) store when the command needs one, and its parsed command
 * line.  opt[o] is NULL when the option was not given; a flag given is
 * the non-NULL string "". */
struct ctl {
	const char *config_path;
	struct config cfg;
	struct store *st; /* NULL unless the command has CMD_F_DB */
	const struct ctl_cmd *cmd;
	const char *opt[OPT__MAX];
	const char *arg[CTL_ARGS_MAX];
	int nargs;
	/* Numbers from the command line, set by the command's check. */
	int minutes; /* member lock */
	int64_t id;  /* mail retry; 0 → --all-failed */
};

typedef int ctl_handler(struct ctl *c);

#define CMD_F_DB     0x1u /* open a store before running */
#define CMD_F_CHECK  0x2u /* a config error is printed as a check line */
#define CMD_F_NOCONF 0x4u /* runs without reading the configuration */

struct ctl_cmd {
	const char *group; /* "member", or the whole command ("migrate") */
	const char *name;  /* "add", or NULL for a one-word command */
	ctl_handler *run;
	/* NULL, or checks the parsed command line before the configuration
	 * is read: CTL_EXIT_OK or CTL_EXIT_USAGE (after printing why). */
	ctl_handler *check;
	int min_args;
	int max_args;
	unsigned opts;	   /* OPTBIT()s the command accepts */
	unsigned flags;	   /* CMD_F_* */
	const char *usage; /* the arguments after the command words */
	/* NULL, or what the command does, for "COMMAND --help": one or more
	 * lines, each ending in '\n' (the options are described from the
	 * option table). */
	const char *help;
};

/* cmd.c: the table and its usage text. */
extern const struct ctl_cmd ctl_cmds[CMD__MAX];
/* NULL when argv names no command; *words receives how many words the
 * command took (1 or 2).  *group_known is set when argv[0] is a command
 * group whose sub-command is missing or unknown. */
const struct ctl_cmd *ctl_cmd_find(int argc, char **argv, int *words,
				   bool *group_known);
/* Parse the options and arguments after the command words into c:
 * 0; 1 when -h/--help asked for the command's usage; -1 after printing
 * why (and the usage) to stderr. */
int ctl_cmd_parse(struct ctl *c, int argc, char **argv);
/* Usage of one command, of every command of a group (group != NULL), or
 * of all commands (both NULL). */
void ctl_usage(FILE *fp, const struct ctl_cmd *cmd, const char *group);
/* "COMMAND --help": the usage, what it does and each of its options. */
void ctl_help(FILE *fp, const struct ctl_cmd *cmd);

/* util.c */
/* Strict decimal: the whole string, no sign or space unless min < 0. */
int ctl_parse_long(const char *s, long min, long max, long *out);
int ctl_parse_id(const char *s, int64_t *out); /* 1..INT64_MAX */
/*
 * Read one line (a secret) from stdin into buf (len bytes, room for the
 * NUL): strips the line end, refuses a line that does not fit, a NUL byte
 * or invalid UTF-8.  Echo is turned off when stdin is a terminal.  0, or
 * -1 after printing why; buf is wiped on failure.  The caller wipes buf.
 */
int ctl_read_secret(const char *what, char *buf, size_t len);
/* Write s to fp on one line: runs of CR, LF and tab become one space
 * (none at the end), other control characters (C0, DEL, C1) '?'. */
void ctl_put_clean(FILE *fp, const char *s);
/* true when s holds a C0 or C1 control character or DEL. */
bool ctl_has_control(const char *s);
/* Print the store's failure as SPEC §8 wants it; returns CTL_EXIT_FAIL. */
int ctl_store_fail(const struct ctl *c, enum store_rc rc);
/* Print "no such member: USERNAME"; returns CTL_EXIT_FAIL. */
int ctl_no_member(const char *username);
/* Find the member USERNAME: CTL_EXIT_OK, or CTL_EXIT_FAIL after printing
 * "no such member" or the store's failure. */
int ctl_member_get(struct ctl *c, const char *username, struct store_member *m);

/* Handlers, by file. */
/* cmd_db.c */
ctl_handler cmd_migrate_check, cmd_migrate, cmd_purge;
/* cmd_member.c */
ctl_handler cmd_member_add, cmd_member_show, cmd_member_lock_check,
    cmd_member_lock, cmd_member_unlock, cmd_member_disable,
    cmd_member_check_password;
/* cmd_group.c */
ctl_handler cmd_group_add, cmd_group_add_member;
/* cmd_token.c */
ctl_handler cmd_token_issue, cmd_token_revoke;
/* cmd_mail.c */
ctl_handler cmd_mail_list, cmd_mail_retry_check, cmd_mail_retry,
    cmd_mail_deliver;
/* cmd_check.c */
ctl_handler cmd_check;
/* cmd_stats.c */
ctl_handler cmd_stats;

/* cmd_outbox.c */
ctl_handler cmd_outbox_key;

#endif
