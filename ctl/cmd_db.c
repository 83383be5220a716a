/*
 * cmd_db.c — pwreset-ctl migrate and purge: the schema and housekeeping.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"

int
cmd_migrate(struct ctl *c)
{
	enum store_rc rc;
	int applied = 0;

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
