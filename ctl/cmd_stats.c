/*
 * cmd_stats.c — pwreset-ctl stats: what the database knows about the
 * service, for an operator or a monitoring check.
 *
 * One "key: value" line per figure, in a fixed order, so that a script can
 * grep it.  The windowed figures cover the last STORE_STATS_WINDOW_S
 * seconds.  pwreset keeps no per-request table (on purpose: the database
 * holds what a reset needs, not a traffic log), so the number of requests
 * and their outcomes are not here: they live in the running service's
 * memory, and the last line points at [service] status_path, the page
 * that shows them (or says how to turn it on).  Two outcomes do leave a trace
 * and are shown: a step 1 that issued a token, and a step 2 that changed a
 * password.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"

static void
stats_line(const char *key, int64_t v)
{
	printf("%s: %" PRId64 "\n", key, v);
}

int
cmd_stats(struct ctl *c)
{
	struct store_stats s;
	enum store_rc rc;

	rc = store_stats(c->st, &s);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	stats_line("outbox_pending", s.outbox_pending);
	stats_line("outbox_deferred", s.outbox_deferred);
	stats_line("outbox_failed", s.outbox_failed);
	if (s.oldest_pending_s < 0)
		printf("outbox_oldest_pending_s: -\n");
	else
		stats_line("outbox_oldest_pending_s", s.oldest_pending_s);
	printf("window_s: %d\n", s.window_s);
	stats_line("mail_sent", s.mail_sent);
	stats_line("tokens_issued", s.tokens_issued);
	stats_line("tokens_used", s.tokens_used);
	stats_line("tokens_expired", s.tokens_expired);
	stats_line("tokens_invalidated", s.tokens_invalidated);
	stats_line("password_changes", s.password_changes);
	if (c->cfg.service.status_path[0] != '\0')
		printf("requests: live counters at [service] status_path %s "
		       "(Prometheus text, through the web server)\n",
		       c->cfg.service.status_path);
	else
		printf("requests: live counters off; set [service] "
		       "status_path to see them (pwreset.conf(5))\n");
	return CTL_EXIT_OK;
}
