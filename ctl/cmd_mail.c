/*
 * cmd_mail.c — pwreset-ctl mail list|retry|deliver: the outbox.
 *
 * "mail deliver" is the mailer of core/mailer.c run by hand: --once drains
 * what is due now and reports; without it, it is the mailer process itself
 * until SIGTERM or SIGINT (for hosts that run it apart from pwreset).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/mailer.h"
#include "core/outbox.h"
#include "ctl.h"

/* One tab-separated line per row after a header line; "-" for an empty
 * field. */
static void
list_field(const char *s, bool last)
{
	ctl_put_clean(stdout, s[0] != '\0' ? s : "-");
	putchar(last ? '\n' : '\t');
}

static void
list_row(const struct store_outbox_row *r, void *arg)
{
	bool sent = strcmp(r->state, "sent") == 0;

	(void)arg;
	printf("%" PRId64 "\t", r->id);
	list_field(r->state, false);
	printf("%d\t", r->attempts);
	list_field(r->kind, false);
	list_field(r->recipient, false);
	list_field(r->created_at, false);
	list_field(sent ? r->sent_at : r->next_attempt_at, false);
	list_field(r->last_error, true);
}

int
cmd_mail_list(struct ctl *c)
{
	enum store_rc rc;

	/* Always, even with no row: a script skips one line. */
	printf("ID\tSTATE\tATTEMPTS\tKIND\tRECIPIENT\tCREATED\tSENT_OR_NEXT\t"
	       "LAST_ERROR\n");
	rc = store_mail_list(c->st, c->opt[OPT_FAILED] != NULL, list_row, NULL);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	return CTL_EXIT_OK;
}

int
cmd_mail_retry_check(struct ctl *c)
{
	bool all = c->opt[OPT_ALL_FAILED] != NULL;

	if (all == (c->nargs == 1)) {
		fprintf(stderr, CTL_PROG ": mail retry: give either a message "
					 "id or --all-failed\n");
		ctl_usage(stderr, c->cmd, NULL);
		return CTL_EXIT_USAGE;
	}
	c->id = 0;
	if (!all && ctl_parse_id(c->arg[0], &c->id) != 0) {
		fprintf(stderr, CTL_PROG ": mail retry: ID must be a positive "
					 "number\n");
		ctl_usage(stderr, c->cmd, NULL);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

int
cmd_mail_retry(struct ctl *c)
{
	enum store_rc rc;
	int count = 0;

	rc = store_mail_retry(c->st, c->id, &count);
	if (rc == STORE_NOT_FOUND)
		count = 0;
	else if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	if (c->id > 0 && count == 0) {
		fprintf(stderr,
			CTL_PROG ": mail retry: no message %" PRId64
				 " that can be sent again (only an "
				 "unconfirmed one can: a failed message's "
				 "text is wiped)\n",
			c->id);
		return CTL_EXIT_FAIL;
	}
	printf("%d message(s) requeued\n", count);
	return CTL_EXIT_OK;
}

static volatile sig_atomic_t deliver_stop;

static void
deliver_on_signal(int sig)
{
	(void)sig;
	deliver_stop = 1;
}

/* The mailer said MAILER_DB_ERROR: tell "unreachable" from the rest. */
static int
deliver_db_fail(struct ctl *c)
{
	enum store_rc rc = store_connect(c->st);

	return ctl_store_fail(c, rc == STORE_UNAVAILABLE ? rc : STORE_ERROR);
}

static int
deliver_once(struct ctl *c, struct mailer *m)
{
	unsigned long sent = 0, retry = 0, failed = 0, unconfirmed = 0;
	unsigned long unreadable = 0;
	enum store_rc rc;

	rc = store_connect(c->st);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	/* A retried row is rescheduled into the future, so this ends. */
	while (!deliver_stop) {
		enum mailer_rc r = mailer_deliver(m, 0);

		if (r == MAILER_IDLE)
			break;
		switch (r) {
		case MAILER_SENT:
			sent++;
			break;
		case MAILER_RETRY:
			retry++;
			break;
		case MAILER_FAILED:
			failed++;
			break;
		case MAILER_UNCONFIRMED:
			unconfirmed++;
			break;
		case MAILER_UNREADABLE:
			unreadable++;
			break;
		case MAILER_DB_ERROR:
		default:
			printf("delivered %lu, retry %lu, failed %lu\n", sent,
			       retry, failed);
			return deliver_db_fail(c);
		}
	}
	printf("delivered %lu, retry %lu, failed %lu", sent, retry, failed);
	if (unconfirmed > 0)
		printf(", unconfirmed %lu", unconfirmed);
	if (unreadable > 0)
		printf(", unreadable %lu (another outbox key?)", unreadable);
	printf("\n");
	return CTL_EXIT_OK;
}

int
cmd_mail_deliver(struct ctl *c)
{
	struct mailer m;
	struct outbox_key *key;
	struct sigaction sa;
	char err[512];
	int ret;

	memset(&m, 0, sizeof m);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = deliver_on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a wait in the mailer must end on the signal */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	key = outbox_key_load(c->cfg.mail.outbox_key_file, err, sizeof err);
	if (key == NULL) {
		fprintf(stderr,
			CTL_PROG ": mail deliver: [mail] outbox_key_file %s: "
				 "%s\n",
			c->cfg.mail.outbox_key_file, err);
		return CTL_EXIT_FAIL;
	}
	if (mailer_init(&m, &c->cfg, c->st, key) != 0) {
		fprintf(stderr, CTL_PROG ": mail deliver: cannot start the "
					 "mailer (see above)\n");
		outbox_key_free(key);
		return CTL_EXIT_FAIL;
	}
	if (c->opt[OPT_ONCE] != NULL)
		ret = deliver_once(c, &m);
	else
		ret = mailer_run(&m, &deliver_stop) == 0 ? CTL_EXIT_OK
							 : CTL_EXIT_FAIL;
	mailer_fini(&m);
	outbox_key_free(key);
	return ret;
}
