/*
 * cmd_check.c — pwreset-ctl check: can this configuration work here?
 *
 * One line per check, "ok" or "FAILED: reason", and exit 1 when any
 * failed: the configuration loads (main.c already did it), what a worker
 * or the mailer would refuse at start (core/check.h), the database answers
 * and has every migration this build needs, the banned-password list
 * and the outbox key load, and the SMTP relay greets with "220".  The first
 * line names the version, so that two hosts can tell which build each runs.
 * Nothing is written anywhere: migrations are not run and no mail is sent
 * (smtp_probe() of the mail module only reads the greeting and says QUIT).
 */
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "core/outbox.h"
#include "core/password.h"
#include "ctl.h"
#include "mail-templates/smtp.h"

static void
report(bool ok, const char *why, int *failed)
{
	if (ok) {
		printf("ok\n");
	} else {
		printf("FAILED: ");
		ctl_put_clean(stdout, why);
		putchar('\n');
		(*failed)++;
	}
	fflush(stdout);
}

int
cmd_check(struct ctl *c)
{
	const struct config *cfg = &c->cfg;
	char why[512];
	enum store_rc rc;
	struct banned *b;
	struct outbox_key *k;
	int failed = 0;

	printf("version: " CTL_PROG " %s\n", PWRESET_VERSION);
	printf("config %s: ok\n", c->config_path);

	/* What pwreset -n refuses: the workers and the mailer would. */
	printf("start checks: ");
	why[0] = '\0';
	report(app_check_start(cfg, why, sizeof why) == 0, why, &failed);

	printf("database %s: ", store_target(c->st));
	rc = store_connect(c->st);
	report(rc == STORE_OK, store_errmsg(c->st), &failed);
	if (rc == STORE_OK) {
		struct store_schema s;

		rc = store_schema_status(c->st, &s);
		printf("schema version %d (needed %d): ", s.applied, s.needed);
		if (rc == STORE_OK && s.npending > 0)
			snprintf(why, sizeof why,
				 "%d migration(s) missing: run " CTL_PROG
				 " migrate",
				 s.npending);
		report(rc == STORE_OK && s.npending == 0,
		       rc == STORE_OK ? why : store_errmsg(c->st), &failed);
	}

	if (cfg->password.banned_file != NULL &&
	    cfg->password.banned_file[0] != '\0') {
		printf("banned list %s: ", cfg->password.banned_file);
		why[0] = '\0';
		b = banned_load(cfg->password.banned_file, why, sizeof why);
		report(b != NULL, why, &failed);
		banned_free(b);
	}

	printf("outbox key %s: ", cfg->mail.outbox_key_file);
	why[0] = '\0';
	k = outbox_key_load(cfg->mail.outbox_key_file, why, sizeof why);
	report(k != NULL, why, &failed);
	outbox_key_free(k);

	if (strchr(cfg->smtp.host, ':') != NULL)
		printf("smtp [%s]:%d: ", cfg->smtp.host, cfg->smtp.port);
	else
		printf("smtp %s:%d: ", cfg->smtp.host, cfg->smtp.port);
	report(smtp_probe(cfg->smtp.host, cfg->smtp.port, cfg->smtp.timeout,
			  why, sizeof why),
	       why, &failed);

	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
