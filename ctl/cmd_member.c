/*
 * cmd_member.c — pwreset-ctl member add|show|lock|unlock|disable|
 * check-password.
 *
 * Everything given is checked against PageSeeder's rules (validate.h) and,
 * for a password, against the same strength rules as a reset (members
 * MEDIUM, admins STRONG) before anything is written.  Passwords come only
 * on stdin, never in argv where ps(1) would show them, and are wiped as
 * soon as they are hashed or verified.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/password.h"
#include "core/validate.h"
#include "ctl.h"

#define LOCK_MINUTES_DEFAULT 30
#define LOCK_MINUTES_MAX     525600 /* a year */

static int
refuse(const char *what, const char *why)
{
	fprintf(stderr, CTL_PROG ": member add: %s: %s\n", what, why);
	return CTL_EXIT_FAIL;
}

/* The banned list of [password] banned_file; *b stays NULL when the key
 * is empty. */
static int
load_banned(const struct ctl *c, struct banned **b)
{
	char err[512];

	*b = NULL;
	if (c->cfg.password.banned_file == NULL ||
	    c->cfg.password.banned_file[0] == '\0')
		return 0;
	*b = banned_load(c->cfg.password.banned_file, err, sizeof err);
	if (*b == NULL) {
		fprintf(stderr, CTL_PROG ": %s\n", err);
		return -1;
	}
	return 0;
}

/* Read, check and hash the new member's password into phc. */
static int
member_password(const struct ctl *c, const struct store_member_new *nm,
		char *phc, size_t phclen)
{
	char pw[CTL_SECRET_MAX + 1];
	struct banned *b = NULL;
	enum pwr_err e;
	int ret = CTL_EXIT_FAIL;

	if (ctl_read_secret("password", pw, sizeof pw) != 0)
		goto out;
	if (load_banned(c, &b) != 0)
		goto out;
	e = password_check(&c->cfg, b, pw, nm->username, nm->email, nm->admin);
	if (e != PWR_OK) {
		fprintf(stderr,
			CTL_PROG ": member add: password refused: %s%s\n",
			pwr_err_message(e),
			e == PWR_E_PASSWORD_WEAK
			    ? (nm->admin ? " (an admin needs a strong one)"
					 : " (a member needs at least a "
					   "medium one)")
			    : "");
		goto out;
	}
	if (password_hash(&c->cfg, pw, phc, phclen) != 0) {
		fprintf(stderr,
			CTL_PROG ": member add: cannot hash the password\n");
		goto out;
	}
	ret = CTL_EXIT_OK;
out:
	explicit_bzero(pw, sizeof pw);
	banned_free(b);
	return ret;
}

int
cmd_member_add(struct ctl *c)
{
	struct store_member_new nm;
	char phc[PHC_MAX];
	enum store_rc rc;
	int64_t id = 0;
	int ret = CTL_EXIT_FAIL;

	memset(&nm, 0, sizeof nm);
	memset(phc, 0, sizeof phc);
	nm.username = c->arg[0];
	nm.email = c->opt[OPT_EMAIL];
	nm.firstname = c->opt[OPT_FIRSTNAME];
	nm.lastname = c->opt[OPT_LASTNAME];
	nm.status = c->opt[OPT_STATUS];
	nm.admin = c->opt[OPT_ADMIN] != NULL;
	nm.api = c->opt[OPT_API] != NULL;

	if (!validate_username(nm.username))
		return refuse("invalid username",
			      "1-100 characters of [A-Za-z0-9_.-], "
			      "not all digits");
	if (nm.email != NULL && !validate_email(nm.email))
		return refuse("invalid email address",
			      "local@domain.tld, under 100 characters");
	if (nm.firstname != NULL && !validate_name(nm.firstname))
		return refuse("invalid first name",
			      "at most 50 characters of UTF-8, "
			      "no control characters");
	if (nm.lastname != NULL && !validate_name(nm.lastname))
		return refuse("invalid last name",
			      "at most 50 characters of UTF-8, "
			      "no control characters");
	if (nm.status != NULL && !validate_status(nm.status))
		return refuse("invalid status",
			      "activated, unactivated or disabled");

	if (c->opt[OPT_PASSWORD_STDIN] != NULL) {
		if (member_password(c, &nm, phc, sizeof phc) != CTL_EXIT_OK)
			goto out;
		nm.phc = phc;
	}

	rc = store_member_add(c->st, &nm, &id);
	if (rc == STORE_CONFLICT) {
		fprintf(stderr, CTL_PROG ": member add: username or email "
					 "already in use\n");
		goto out;
	}
	if (rc != STORE_OK) {
		ret = ctl_store_fail(c, rc);
		goto out;
	}
	printf("member %" PRId64 " added\n", id);
	ret = CTL_EXIT_OK;
out:
	explicit_bzero(phc, sizeof phc);
	return ret;
}

static void
show_line(const char *key, const char *value)
{
	printf("%s: ", key);
	ctl_put_clean(stdout, value);
	putchar('\n');
}

int
cmd_member_show(struct ctl *c)
{
	struct store_member m;
	int ret;

	if ((ret = ctl_member_get(c, c->arg[0], &m)) != CTL_EXIT_OK)
		return ret;
	printf("id: %" PRId64 "\n", m.id);
	show_line("username", m.username);
	show_line("email", m.email);
	show_line("firstname", m.firstname);
	show_line("lastname", m.lastname);
	show_line("status", m.status);
	show_line("admin", m.admin ? "yes" : "no");
	show_line("api", m.api ? "yes" : "no");
	if (m.locked) {
		printf("locked: yes (until ");
		ctl_put_clean(stdout, m.locked_until);
		printf(")\n");
	} else {
		show_line("locked", "no");
	}
	printf("failed_logins: %d\n", m.failed_logins);
	show_line("password", m.has_password ? "set" : "not set");
	show_line("password_changed_at", m.password_changed_at);
	return CTL_EXIT_OK;
}

/* Lock for minutes (> 0) or unlock (0); the store treats both alike. */
static int
member_lock(struct ctl *c, int minutes)
{
	struct store_member m;
	enum store_rc rc;
	int ret;

	if ((ret = ctl_member_get(c, c->arg[0], &m)) != CTL_EXIT_OK)
		return ret;
	rc = store_member_lock(c->st, m.id, minutes);
	if (rc == STORE_NOT_FOUND) /* deleted meanwhile */
		return ctl_no_member(c->arg[0]);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	if (minutes > 0)
		printf("member %s locked for %d minute(s)\n", m.username,
		       minutes);
	else
		printf("member %s unlocked\n", m.username);
	return CTL_EXIT_OK;
}

int
cmd_member_lock_check(struct ctl *c)
{
	long minutes = LOCK_MINUTES_DEFAULT;

	if (c->opt[OPT_MINUTES] != NULL &&
	    ctl_parse_long(c->opt[OPT_MINUTES], 1, LOCK_MINUTES_MAX,
			   &minutes) != 0) {
		fprintf(stderr,
			CTL_PROG ": member lock: --minutes wants a number "
				 "from 1 to %d\n",
			LOCK_MINUTES_MAX);
		ctl_usage(stderr, c->cmd, NULL);
		return CTL_EXIT_USAGE;
	}
	c->minutes = (int)minutes;
	return CTL_EXIT_OK;
}

int
cmd_member_lock(struct ctl *c)
{
	return member_lock(c, c->minutes);
}

int
cmd_member_unlock(struct ctl *c)
{
	return member_lock(c, 0);
}

int
cmd_member_disable(struct ctl *c)
{
	struct store_member m;
	enum store_rc rc;
	int ret;

	if ((ret = ctl_member_get(c, c->arg[0], &m)) != CTL_EXIT_OK)
		return ret;
	rc = store_member_set_status(c->st, m.id, "disabled");
	if (rc == STORE_NOT_FOUND)
		return ctl_no_member(c->arg[0]);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	printf("member %s disabled\n", m.username);
	return CTL_EXIT_OK;
}

int
cmd_member_check_password(struct ctl *c)
{
	struct store_member m;
	char phc[PHC_MAX];
	char pw[CTL_SECRET_MAX + 1];
	enum store_rc rc;
	int ret;

	memset(phc, 0, sizeof phc);
	memset(pw, 0, sizeof pw);
	if ((ret = ctl_member_get(c, c->arg[0], &m)) != CTL_EXIT_OK)
		goto out;
	ret = CTL_EXIT_FAIL;
	rc = store_member_password(c->st, m.id, phc, sizeof phc);
	if (rc == STORE_NOT_FOUND) {
		printf("member %s has no password\n", m.username);
		goto out;
	}
	if (rc != STORE_OK) {
		ret = ctl_store_fail(c, rc);
		goto out;
	}
	if (ctl_read_secret("password", pw, sizeof pw) != 0)
		goto out;
	switch (password_verify(&c->cfg, phc, pw)) {
	case PASSWORD_MATCH:
		printf("password matches\n");
		ret = CTL_EXIT_OK;
		break;
	case PASSWORD_MISMATCH:
		printf("password does not match\n");
		break;
	case PASSWORD_VERIFY_ERROR:
	default:
		fprintf(stderr, CTL_PROG ": member check-password: cannot "
					 "verify the stored hash\n");
		break;
	}
out:
	explicit_bzero(pw, sizeof pw);
	explicit_bzero(phc, sizeof phc);
	return ret;
}
