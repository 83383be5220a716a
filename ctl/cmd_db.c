/*
 * cmd_db.c — pwreset-ctl migrate and purge: the schema and housekeeping.
 *
 * migrate --status and --dry-run only read: they make no table, take no
 * lock and apply nothing.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"

int
cmd_migrate_check(struct ctl *c)
{
	if (c->opt[OPT_SCHEMA_STATUS] != NULL && c->opt[OPT_DRY_RUN] != NULL) {
		fprintf(stderr,
			CTL_PROG ": migrate: give --status or --dry-run, not "
				 "both\n");
		ctl_usage(stderr, c->cmd, NULL);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/* --status: exit 0 when current, 1 when behind (for scripts and units). */
static int
migrate_status(struct ctl *c, const struct store_schema *s)
{
	printf("applied: %d\nneeded: %d\n", s->applied, s->needed);
	if (s->npending == 0) {
		printf("status: current%s\n",
		       s->applied > s->needed ? " (the database is newer than "
						"this build)"
					      : "");
		return CTL_EXIT_OK;
	}
	printf("status: behind, %d migration(s) to apply: run " CTL_PROG
	       " migrate\n",
	       s->npending);
	(void)c;
	return CTL_EXIT_FAIL;
}

static void
migrate_dry_run(const struct store_schema *s)
{
	for (int i = 0; i < s->npending && i < STORE_SCHEMA_PENDING_MAX; i++)
		printf("would apply %03d_%s\n", s->pending[i].version,
		       s->pending[i].name);
	printf("migrate: %d migration(s) would be applied (dry run: nothing "
	       "changed)\n",
	       s->npending);
}

int
cmd_migrate(struct ctl *c)
{
	struct store_schema s;
	enum store_rc rc;
	int applied = 0;

	if (c->opt[OPT_SCHEMA_STATUS] != NULL || c->opt[OPT_DRY_RUN] != NULL) {
		rc = store_schema_status(c->st, &s);
		if (rc != STORE_OK)
			return ctl_store_fail(c, rc);
		if (c->opt[OPT_SCHEMA_STATUS] != NULL)
			return migrate_status(c, &s);
		migrate_dry_run(&s);
		return CTL_EXIT_OK;
	}
	rc = store_migrate(c->st, &applied);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	printf("migrate: %d migration(s) applied\n", applied);
	return CTL_EXIT_OK;
}

int
cmd_purge(struct ctl *c)
{
	enum store_rc rc;
	int64_t tokens = 0, mails = 0, limits = 0;

	rc = store_purge(c->st, &tokens, &mails, &limits);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	printf("purge: %" PRId64 " token(s), %" PRId64 " message(s), %" PRId64
	       " rate-limit row(s) deleted\n",
	       tokens, mails, limits);
	return CTL_EXIT_OK;
}
