/*
 * app.c — the application's set-up (see app.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "check.h"
#include "log.h"
#include "mailer.h"
#include "outbox.h"
#include "password.h"
#include "../mail-templates/mail.h"
#include "../sql/store.h"

struct app {
	struct store *store;
	struct mailer mailer;
	struct reset_env env;
};

void
app_conf_free(struct app_conf *ac)
{
	mail_templates_free(ac->templates);
	banned_free(ac->banned);
	outbox_key_free(ac->outbox_key);
	config_free(&ac->cfg);
	ac->templates = NULL;
	ac->banned = NULL;
	ac->outbox_key = NULL;
}

int
app_conf_load(struct app_conf *ac, const char *path, char *err, size_t errlen)
{
	const struct config *c = &ac->cfg;
	char why[512];

	memset(ac, 0, sizeof(*ac));
	if (config_load(&ac->cfg, path, err, errlen) != 0)
		return -1;
	ac->templates = mail_templates_load_local(
	    c->service.template_dir, c->service.local_template_dir,
	    c->service.link_template, err, errlen);
	if (ac->templates == NULL)
		goto fail;
	if (c->service.global_template[0] != '\0' &&
	    !mail_templates_has_set(ac->templates,
				    c->service.global_template)) {
		snprintf(err, errlen, "%s: global_template: no set '%s' in %s",
			 path, c->service.global_template,
			 c->service.template_dir);
		goto fail;
	}
	if (c->password.banned_file[0] != '\0') {
		ac->banned = banned_load(c->password.banned_file, err, errlen);
		if (ac->banned == NULL)
			goto fail;
	}
	/* Read by mailer_init() in every child: a typo would only show as
	 * children dying at start-up. */
	if (c->smtp.password_file[0] != '\0' &&
	    access(c->smtp.password_file, R_OK) != 0) {
		snprintf(err, errlen, "%s: [smtp] password_file %s: %s", path,
			 c->smtp.password_file, strerror(errno));
		goto fail;
	}
	if (app_check_start(c, err, errlen) != 0)
		goto fail;
	/* Every child seals or opens queued messages with it: no key, no
	 * start (and `pwreset -n` says why). */
	ac->outbox_key =
	    outbox_key_load(c->mail.outbox_key_file, why, sizeof(why));
	if (ac->outbox_key == NULL) {
		snprintf(err, errlen,
			 "%s: [mail] outbox_key_file %s: %s (make one with "
			 "`pwreset-ctl outbox-key FILE`)",
			 path, c->mail.outbox_key_file, why);
		goto fail;
	}
	return 0;
fail:
	app_conf_free(ac);
	return -1;
}

struct store *
app_store_open(const struct config *cfg)
{
	struct store *st =
	    store_open(cfg->database.conninfo, cfg->database.timeout);

	store_set_pooling(st, cfg->database.pooling == POOLING_TRANSACTION
				  ? STORE_POOLING_TRANSACTION
				  : STORE_POOLING_SESSION);
	return st;
}

int
app_open(const struct app_conf *ac, struct app **out)
{
	const struct config *cfg = &ac->cfg;
	struct app *a;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		abort();
	a->store = app_store_open(cfg);
	if (mailer_init(&a->mailer, cfg, a->store, ac->outbox_key) != 0) {
		store_close(a->store);
		free(a);
		return -1;
	}
	a->env = (struct reset_env){
	    .cfg = cfg,
	    .store = a->store,
	    .templates = ac->templates,
	    .banned = ac->banned,
	    .mailer = &a->mailer,
	    .outbox_key = ac->outbox_key,
	};
	*out = a;
	return 0;
}

void
app_close(struct app *a)
{
	if (a == NULL)
		return;
	mailer_fini(&a->mailer);
	ratelimit_wipe(&a->env.rl);
	store_close(a->store);
	free(a);
}

struct reset_env *
app_reset_env(struct app *a)
{
	return &a->env;
}

void
app_connect(struct app *a)
{
	if (store_connect(a->store) != STORE_OK)
		log_warn("worker: database: %s", store_errmsg(a->store));
}

bool
app_ping(struct app *a)
{
	struct store_group g;

	/* The store has no statement of its own for this: a lookup of group
	 * id 0, which never exists, costs one indexed read and says the
	 * same: STORE_NOT_FOUND is an answer, STORE_UNAVAILABLE is not. */
	switch (store_group_by_id(a->store, 0, &g)) {
	case STORE_OK:
	case STORE_NOT_FOUND:
		return true;
	default:
		return false;
	}
}

void
app_set_counters(struct app *a, struct counters *c)
{
	a->mailer.counters = c;
}

int
app_mailer_run(struct app *a, volatile sig_atomic_t *stop)
{
	return mailer_run(&a->mailer, stop) == 0 ? 0 : 1;
}
