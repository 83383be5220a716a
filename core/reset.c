/*
 * reset.c — the decision procedure of SPEC §4, in order, first rule wins.
 *
 * Every store call may fail with STORE_UNAVAILABLE (answer 0503) or
 * STORE_ERROR (0500, details in the log only); nothing is half-written
 * because each change is one statement in the store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "mailer.h"
#include "outbox.h"
#include "password.h"
#include "reset.h"
#include "token.h"
#include "validate.h"
#include "../mail-templates/mail.h"
#include "../sql/store.h"

#define RETRY_AFTER_UNAVAILABLE 5   /* seconds */
#define IDENT_MAX		512 /* normalised identifier, bytes */

/* One request's working state; lives on reset_handle()'s stack. */
struct ctx {
	struct reset_env *env;
	const struct reset_request *req;
	struct reset_result *res;
	bool admin_caller;
	struct store_member caller;
	bool on_group;
	struct store_group group;
	struct store_member member;
	struct ratelimit_key idkey; /* step 1: the identifier's key */
	/* Step 1 without an admin token counts the client address in its
	 * lookup statement: until then the hit is pending. */
	bool addr_pending;
	struct ratelimit_key addrkey;
	bool id_over; /* step 1: the identifier's budget is spent */
};

/* Step 1's write, handed back by reset_handle() (see reset.h): issue a
 * token to a known, allowed member within the member's budget. */
struct reset_deferred {
	struct store_member member;
	bool on_group;
	struct store_group group;
	bool by_admin; /* an admin asked for someone else: reason "admin" */
};

static void
answer(struct ctx *c, enum reset_status st)
{
	c->res->err = PWR_OK;
	c->res->status = st;
}

static void
fail(struct ctx *c, enum pwr_err e)
{
	c->res->err = e;
	if (e == PWR_E_UNAVAILABLE)
		c->res->retry_after = RETRY_AFTER_UNAVAILABLE;
}

/* Map a store failure onto the answer; true when the call did not succeed
 * with STORE_OK or STORE_NOT_FOUND. */
static bool
store_failed(struct ctx *c, enum store_rc rc, const char *what)
{
	switch (rc) {
	case STORE_OK:
	case STORE_NOT_FOUND:
		return false;
	case STORE_UNAVAILABLE:
		log_warn("%s: database unavailable: %s", what,
			 store_errmsg(c->env->store));
		fail(c, PWR_E_UNAVAILABLE);
		return true;
	case STORE_SCHEMA_OLD:
		/* Once per worker, not per request: it names the fix. */
		if (store_schema_old_first(c->env->store))
			log_error("%s", store_errmsg(c->env->store));
		fail(c, PWR_E_UNAVAILABLE);
		return true;
	case STORE_CONFLICT:
	case STORE_ERROR:
	default:
		log_error("%s: database error: %s", what,
			  store_errmsg(c->env->store));
		fail(c, PWR_E_INTERNAL);
		return true;
	}
}

/* Map a rate-limit failure onto the answer (logged already); true when
 * rc is one. */
static bool
ratelimit_failed(struct ctx *c, enum ratelimit_rc rc)
{
	switch (rc) {
	case RATELIMIT_UNDER:
	case RATELIMIT_OVER:
		return false;
	case RATELIMIT_UNAVAILABLE:
		fail(c, PWR_E_UNAVAILABLE);
		return true;
	case RATELIMIT_ERROR:
	default:
		fail(c, PWR_E_INTERNAL);
		return true;
	}
}

/* A check's outcome onto the answer; true when the request stops here. */
static bool
ratelimit_stops(struct ctx *c, enum ratelimit_rc rc)
{
	if (ratelimit_failed(c, rc))
		return true;
	if (rc == RATELIMIT_OVER) {
		fail(c, PWR_E_RATE_LIMITED);
		c->res->retry_after = c->env->cfg->ratelimit.window;
		return true;
	}
	return false;
}

/* The normalised identifier: lower-cased username and email. */
static void
identifier_of(const struct reset_request *req, char *out, size_t outlen)
{
	size_t i;

	snprintf(out, outlen, "u=%s\ne=%s", req->username ? req->username : "",
		 req->email ? req->email : "");
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
}

/* Rule 1: {group} all digits → id; leading '~' → name; else name. */
static bool
resolve_group(struct ctx *c)
{
	const char *g = c->req->group ? c->req->group : "";
	enum store_rc rc;
	char *end;

	if (*g != '\0' && strspn(g, "0123456789") == strlen(g)) {
		long long id;

		errno = 0;
		id = strtoll(g, &end, 10);
		if (errno != 0 || *end != '\0' || id <= 0)
			rc = STORE_NOT_FOUND;
		else
			rc = store_group_by_id(c->env->store, id, &c->group);
	} else {
		if (*g == '~')
			g++;
		rc = *g == '\0'
			 ? STORE_NOT_FOUND
			 : store_group_by_name(c->env->store, g, &c->group);
	}
	if (store_failed(c, rc, "group lookup"))
		return false;
	if (rc == STORE_NOT_FOUND) {
		fail(c, PWR_E_UNKNOWN_GROUP);
		return false;
	}
	c->on_group = true;
	return true;
}

/* The caller is an admin only with a valid, unrevoked admin token. */
static bool
resolve_caller(struct ctx *c)
{
	uint8_t h[TOKEN_HASH_LEN];
	enum store_rc rc;

	if (c->req->bearer == NULL || !token_well_formed(c->req->bearer))
		return true;
	token_hash(c->req->bearer, h);
	rc = store_admin_by_token(c->env->store, h, &c->caller);
	explicit_bzero(h, sizeof h);
	if (store_failed(c, rc, "admin token"))
		return false;
	c->admin_caller = rc == STORE_OK;
	return true;
}

/* "12 hours", "30 minutes", "1 day" for the templates' {validity}. */
static void
validity_text(int seconds, char *out, size_t outlen)
{
	static const struct {
		int unit;
		const char *name;
	} units[] = {
	    {86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
	size_t i;

	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (seconds % units[i].unit == 0) {
			int n = seconds / units[i].unit;

			snprintf(out, outlen, "%d %s%s", n, units[i].name,
				 n == 1 ? "" : "s");
			return;
		}
	}
}

/*
 * Render one email of kind for the found member into *msg.  token may be
 * NULL (change-password).  false (answer set) on a rendering failure.
 */
static bool
render(struct ctx *c, enum mail_kind kind, const char *token,
       struct mail_message *msg)
{
	const struct config *cfg = c->env->cfg;
	const struct store_member *m = &c->member;
	struct mail_values v = {{0}};
	const char *sets[3] = {NULL, NULL, NULL};
	char id[24], fullname[sizeof m->firstname + sizeof m->lastname + 1];
	char validity[32], err[256];

	snprintf(id, sizeof id, "%" PRId64, m->id);
	snprintf(fullname, sizeof fullname, "%s%s%s", m->firstname,
		 m->firstname[0] && m->lastname[0] ? " " : "", m->lastname);
	validity_text(cfg->service.token_ttl, validity, sizeof validity);

	v.v[MAIL_VAR_HOSTURL] = cfg->service.hosturl;
	v.v[MAIL_VAR_EMAILDOMAIN] = cfg->service.emaildomain;
	v.v[MAIL_VAR_REASON] =
	    c->admin_caller && c->caller.id != m->id ? "admin" : "member";
	v.v[MAIL_VAR_TOKEN] = token;
	v.v[MAIL_VAR_VALIDITY] = validity;
	v.v[MAIL_VAR_MEMBER_ID] = id;
	v.v[MAIL_VAR_MEMBER_USERNAME] = m->username;
	v.v[MAIL_VAR_MEMBER_FIRSTNAME] = m->firstname;
	v.v[MAIL_VAR_MEMBER_LASTNAME] = m->lastname;
	v.v[MAIL_VAR_MEMBER_FULLNAME] = fullname[0] ? fullname : m->username;
	v.v[MAIL_VAR_MEMBER_EMAIL] = m->email;
	v.v[MAIL_VAR_MEMBER_STATUS] = m->status;
	if (c->on_group) {
		v.v[MAIL_VAR_GROUP_NAME] = c->group.name;
		v.v[MAIL_VAR_GROUP_DESCRIPTION] = c->group.description;
		sets[0] = c->group.template_set;
	}
	sets[c->on_group ? 1 : 0] = cfg->service.global_template;

	if (mail_render(c->env->templates, sets, kind, &v, cfg->mail.from,
			m->email, cfg->service.emaildomain, msg, err,
			sizeof err) != 0) {
		log_error("member %" PRId64 ": cannot render %s: %s", m->id,
			  mail_kind_name(kind), err);
		fail(c, PWR_E_INTERNAL);
		return false;
	}
	return true;
}

/* Seal the rendered text for the outbox row *mail describes (SPEC §8: no
 * token readable in the database): mail->message becomes *sealed, which
 * the caller frees.  false (answer set) on failure. */
static bool
seal(struct ctx *c, struct store_mail *mail, const char *text, char **sealed)
{
	*sealed =
	    outbox_seal(c->env->outbox_key, text, mail->kind, mail->recipient);
	if (*sealed == NULL) {
		log_error("member %" PRId64 ": cannot seal the %s mail",
			  c->member.id, mail->kind);
		fail(c, PWR_E_INTERNAL);
		return false;
	}
	mail->message = *sealed;
	return true;
}

/* Rule 8 within the member's budget (key): invalidate older tokens,
 * issue one, queue the email. */
static void
step1_issue(struct ctx *c, const struct ratelimit_key *key)
{
	const struct config *cfg = c->env->cfg;
	char token[TOKEN_LEN + 1];
	uint8_t h[TOKEN_HASH_LEN];
	struct mail_message msg = {0};
	struct store_mail mail;
	char *sealed = NULL;
	int64_t mail_id = 0, hits = 0;
	enum store_rc rc;

	if (token_new(token) != 0) {
		log_errno("token_new");
		fail(c, PWR_E_INTERNAL);
		goto out;
	}
	token_hash(token, h);
	if (!render(c, MAIL_RESET_CONFIRM, token, &msg))
		goto out;
	mail.kind = mail_kind_name(MAIL_RESET_CONFIRM);
	mail.recipient = msg.recipient;
	mail.subject = msg.subject;
	if (!seal(c, &mail, msg.text, &sealed))
		goto out;
	rc = store_reset_issue_limited(
	    c->env->store, key->b, cfg->ratelimit.window,
	    cfg->ratelimit.per_identifier, c->member.id, h,
	    cfg->service.token_ttl, &mail, &hits, &mail_id);
	if (store_failed(c, rc, "reset issue"))
		goto out;
	if (mail_id == 0)
		log_info("member %" PRId64 ": step 1 over the member limit, "
			 "nothing sent",
			 c->member.id);
	else
		log_debug("member %" PRId64
			  ": reset token issued, mail %" PRId64,
			  c->member.id, mail_id);
	answer(c, RESET_REQUEST_SUCCESSFUL);
out:
	free(sealed);
	if (msg.text != NULL)
		explicit_bzero(msg.text, strlen(msg.text));
	mail_message_free(&msg);
	explicit_bzero(token, sizeof token);
	explicit_bzero(h, sizeof h);
}

/* Rule 12: one statement consumes the token and changes the password. */
static void
step2_complete(struct ctx *c, const uint8_t h[TOKEN_HASH_LEN], bool via_key)
{
	char phc[PHC_MAX];
	struct mail_message msg = {0};
	struct store_mail mail;
	char *sealed = NULL;
	int64_t mail_id = 0;
	enum store_rc rc;
	bool sync;

	/* Hash before the statement: no row lock is held during Argon2. */
	if (password_hash(c->env->cfg, c->req->password, phc, sizeof phc) !=
	    0) {
		log_error("member %" PRId64 ": password hashing failed",
			  c->member.id);
		fail(c, PWR_E_INTERNAL);
		goto out;
	}
	if (!render(c, MAIL_CHANGE_PASSWORD, NULL, &msg))
		goto out;
	mail.kind = mail_kind_name(MAIL_CHANGE_PASSWORD);
	mail.recipient = msg.recipient;
	mail.subject = msg.subject;
	if (!seal(c, &mail, msg.text, &sealed))
		goto out;
	/* notify-async=false: the row is written claimed by this worker, so
	 * the mailer process cannot take it first and the answer really
	 * waits for this one attempt. */
	sync = !c->req->notify_async && c->env->mailer != NULL;
	rc = store_reset_complete(
	    c->env->store, c->member.id, h, phc, &mail, c->req->client,
	    sync ? mailer_lease_s(c->env->cfg) : 0, &mail_id);
	if (store_failed(c, rc, "reset complete"))
		goto out;
	if (rc == STORE_NOT_FOUND) {
		/* Another request consumed the token first. */
		fail(c, via_key ? PWR_E_KEY_INVALID : PWR_E_TOKEN_INVALID);
		goto out;
	}
	log_info("member %" PRId64 ": password changed", c->member.id);
	/* The member proved control of the mailbox: a synchronous attempt
	 * leaks nothing.  Its outcome never changes the answer; a failure
	 * leaves the row to the mailer's retries. */
	if (sync)
		(void)mailer_send_claimed(c->env->mailer, mail_id,
					  msg.recipient, msg.text);
	answer(c, RESET_PASSWORD_CHANGED);
out:
	free(sealed);
	explicit_bzero(phc, sizeof phc);
	mail_message_free(&msg);
}

/* Rules 10–12, once the token hashing to h is known to be the member's
 * and valid. */
static void
step2_checked(struct ctx *c, const uint8_t h[TOKEN_HASH_LEN], bool via_key)
{
	enum pwr_err perr;

	if (c->req->password == NULL) {
		answer(c, RESET_PENDING);
		c->res->admin = c->member.admin;
		return;
	}
	perr = password_check(c->env->cfg, c->env->banned, c->req->password,
			      c->member.username, c->member.email,
			      c->member.admin);
	if (perr != PWR_OK) {
		fail(c, perr);
		return;
	}
	step2_complete(c, h, via_key);
}

/* Rules 9–12, for a member already found and allowed (admin callers). */
static void
step2(struct ctx *c, const char *secret, bool via_key)
{
	enum pwr_err invalid =
	    via_key ? PWR_E_KEY_INVALID : PWR_E_TOKEN_INVALID;
	uint8_t h[TOKEN_HASH_LEN];
	enum store_rc rc;

	if (!token_well_formed(secret)) {
		fail(c, invalid);
		return;
	}
	token_hash(secret, h);
	rc = store_token_valid(c->env->store, c->member.id, h);
	if (store_failed(c, rc, "token check"))
		goto out;
	if (rc == STORE_NOT_FOUND) {
		fail(c, invalid);
		goto out;
	}
	step2_checked(c, h, via_key);
out:
	explicit_bzero(h, sizeof h);
}

/* Rules 5–7: true (answer set) when the found member may not reset. */
static bool
account_refused(struct ctx *c, bool step1)
{
	if (c->member.api)
		fail(c, PWR_E_API_ACCOUNT);
	else if (strcmp(c->member.status, "disabled") == 0 ||
		 (step1 && c->member.locked))
		fail(c, PWR_E_LOCKED);
	else if (c->member.email[0] == '\0')
		fail(c, PWR_E_NO_EMAIL);
	return c->res->err != PWR_OK;
}

/* Whether the identifiers given (if any) name member m: usernames are
 * [A-Za-z0-9_.-] (else they name nobody) and emails ASCII (rule 3), so
 * ASCII case folding is the database's lower() here. */
static bool
names_member(const struct reset_request *req, const struct store_member *m)
{
	if (req->username != NULL &&
	    (!validate_username(req->username) ||
	     strcasecmp(req->username, m->username) != 0))
		return false;
	if (req->email != NULL && strcasecmp(req->email, m->email) != 0)
		return false;
	return true;
}

/*
 * Token first (SPEC §4), for anonymous callers with a token or key: the
 * token is checked before anything about an account is told, and every
 * way it can fail gives the same answer, so a made-up token cannot tell
 * which identifiers exist or what state their account is in.
 */
static void
token_first(struct ctx *c, const char *secret, bool via_key)
{
	enum pwr_err invalid =
	    via_key ? PWR_E_KEY_INVALID : PWR_E_TOKEN_INVALID;
	int64_t gid = c->on_group ? c->group.id : 0;
	uint8_t h[TOKEN_HASH_LEN];
	enum store_rc rc;

	if (!token_well_formed(secret)) {
		fail(c, invalid);
		return;
	}
	token_hash(secret, h);
	rc = store_member_by_live_token(c->env->store, h, gid, &c->member);
	if (store_failed(c, rc, "token check"))
		goto out;
	if (rc == STORE_NOT_FOUND || !names_member(c->req, &c->member)) {
		fail(c, invalid);
		goto out;
	}
	/* The holder of a valid token proved control of the mailbox: the
	 * account's state is theirs to know. */
	if (account_refused(c, false))
		goto out;
	step2_checked(c, h, via_key);
out:
	explicit_bzero(h, sizeof h);
}

/* Pad a step-1 answer to [privacy] step1_floor_ms from start. */
static void
pad_to_floor(const struct timespec *start, int floor_ms)
{
	struct timespec until = *start;

	if (floor_ms <= 0)
		return;
	until.tv_sec += floor_ms / 1000;
	until.tv_nsec += (long)(floor_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
	       EINTR)
		;
}

/* Hand step 1's write back for reset_finish(). */
static void
defer(struct ctx *c)
{
	struct reset_deferred *d = calloc(1, sizeof *d);

	if (d == NULL)
		abort(); /* as everywhere: no untested half-way branch */
	d->member = c->member;
	d->on_group = c->on_group;
	d->group = c->group;
	d->by_admin = c->admin_caller && c->caller.id != c->member.id;
	c->res->deferred = d;
}

void
reset_finish(struct reset_env *env, struct reset_deferred **dp)
{
	struct reset_deferred *d = *dp;
	struct reset_result res = {0};
	struct ctx c = {.env = env, .res = &res};
	struct ratelimit_key mk;
	char who[24];

	if (d == NULL)
		return;
	*dp = NULL;
	/* The per-member budget: username, email or both name one member,
	 * so they share its count, kept in the statement that issues (one
	 * row, so concurrent requests cannot overshoot it). */
	snprintf(who, sizeof who, "%" PRId64, d->member.id);
	if (!ratelimit_failed(&c, ratelimit_key(&env->rl, env->store,
						RATELIMIT_MEMBER, who, &mk))) {
		c.member = d->member;
		c.on_group = d->on_group;
		c.group = d->group;
		c.admin_caller = d->by_admin;
		c.caller.id = -1;
		step1_issue(&c, &mk);
	}
	if (res.err != PWR_OK)
		log_warn("step 1: the answer went out but the deferred write "
			 "failed (%s); the member may ask again",
			 pwr_err_id(res.err));
	explicit_bzero(&mk, sizeof mk);
	explicit_bzero(&c, sizeof c);
	explicit_bzero(d, sizeof *d);
	free(d);
}

/*
 * Step 1's lookup (rule 4), one statement that also counts the identifier
 * and, when pending, the client address.  A username outside
 * [A-Za-z0-9_.-] names no member: the database's Unicode lower() would
 * otherwise fold some onto one ('ALİCE' → 'alice', KELVIN SIGN → 'k'),
 * and each such spelling would be a fresh per-identifier budget (the
 * limit key folds ASCII only).  Emails are ASCII already (rule 3).
 * false (answer set) when the request stops here.
 */
static bool
step1_lookup(struct ctx *c, enum store_rc *rc)
{
	const struct reset_request *req = c->req;
	const struct config *cfg = c->env->cfg;
	bool names = req->username == NULL || validate_username(req->username);
	struct store_step1_counts n;
	bool addr = c->addr_pending;

	c->addr_pending = false; /* counted or failed: not again */
	*rc = store_step1_lookup(
	    c->env->store, addr ? c->addrkey.b : NULL, c->addrkey.shard,
	    c->idkey.b, cfg->ratelimit.window, names ? req->username : NULL,
	    names ? req->email : NULL, c->on_group ? c->group.id : 0, &n,
	    &c->member);
	if (store_failed(c, *rc, "member lookup"))
		return false;
	if (addr && n.address > cfg->ratelimit.per_address) {
		fail(c, PWR_E_RATE_LIMITED);
		c->res->retry_after = cfg->ratelimit.window;
		return false;
	}
	c->id_over = n.identifier > cfg->ratelimit.per_identifier;
	return true;
}

/* Rules 2–12 once the caller and the group are known. */
static void
decide(struct ctx *c, const char *secret, bool via_key)
{
	const struct reset_request *req = c->req;
	const struct config *cfg = c->env->cfg;
	bool step1 = secret == NULL;
	bool hide =
	    step1 && !c->admin_caller && cfg->privacy.hide_account_state;
	int64_t gid = c->on_group ? c->group.id : 0;
	enum store_rc rc;

	/* Rule 2 */
	if (req->email == NULL && req->username == NULL && secret == NULL) {
		if (c->admin_caller)
			fail(c, PWR_E_NO_IDENTIFIER);
		else
			answer(c, RESET_REQUEST_SUCCESSFUL);
		return;
	}
	/* Rule 3 */
	if (req->email != NULL && !validate_email(req->email)) {
		fail(c, PWR_E_EMAIL_INVALID);
		return;
	}
	if (!step1 && !c->admin_caller) {
		token_first(c, secret, via_key);
		return;
	}
	/* Step 1 is limited per normalised identifier, counted by the
	 * lookup's statement whatever it finds, so known and unknown
	 * identifiers do the same database work before the answer. */
	if (step1) {
		char ident[IDENT_MAX];

		identifier_of(req, ident, sizeof ident);
		if (ratelimit_failed(c,
				     ratelimit_key(&c->env->rl, c->env->store,
						   RATELIMIT_IDENTIFIER, ident,
						   &c->idkey)) ||
		    !step1_lookup(c, &rc))
			return;
	} else if (req->username != NULL && !validate_username(req->username)) {
		rc = STORE_NOT_FOUND; /* see step1_lookup() */
	} else if (req->email != NULL || req->username != NULL) {
		rc = store_member_find(c->env->store, req->username, req->email,
				       gid, &c->member);
	} else {
		uint8_t h[TOKEN_HASH_LEN];

		token_hash(secret, h);
		rc = store_member_by_token(c->env->store, h, gid, &c->member);
		explicit_bzero(h, sizeof h);
	}
	if (store_failed(c, rc, "member lookup"))
		return;
	if (rc == STORE_NOT_FOUND) {
		if (c->admin_caller)
			fail(c, PWR_E_MEMBER_UNKNOWN);
		else
			answer(c, RESET_REQUEST_SUCCESSFUL);
		return;
	}
	/* Rules 5–7 */
	if (account_refused(c, step1)) {
		if (hide)
			answer(c, RESET_REQUEST_SUCCESSFUL);
		return;
	}
	/* Rule 8 (after the answer, see reset_finish()), or rules 9–12 */
	if (step1) {
		if (c->id_over)
			log_info("member %" PRId64 ": step 1 over the "
				 "identifier limit, nothing sent",
				 c->member.id);
		else
			defer(c);
		answer(c, RESET_REQUEST_SUCCESSFUL);
	} else {
		step2(c, secret, via_key);
	}
}

/* A step 1 answered before its lookup (no identifier, a bad email, an
 * unknown group) counts the client address alone; over the budget, or
 * failing, that answer replaces the one decided. */
static void
address_alone(struct ctx *c)
{
	const struct config *cfg = c->env->cfg;
	enum ratelimit_rc r =
	    ratelimit_check(c->env->store, &c->addrkey, cfg->ratelimit.window,
			    1, cfg->ratelimit.per_address);

	c->addr_pending = false;
	if (r != RATELIMIT_UNDER) {
		memset(c->res, 0, sizeof *c->res);
		(void)ratelimit_stops(c, r);
	}
}

void
reset_handle(struct reset_env *env, const struct reset_request *req,
	     struct reset_result *res)
{
	struct ctx c = {.env = env, .req = req, .res = res};
	const char *secret = req->token != NULL ? req->token : req->key;
	bool via_key = req->token == NULL && req->key != NULL;
	char client[RATELIMIT_CLIENT_MAX];
	struct timespec start;

	memset(res, 0, sizeof *res);
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* IPv6 clients are counted per prefix ([ratelimit] ipv6_prefix). */
	if (req->client != NULL)
		ratelimit_client_value(req->client,
				       env->cfg->ratelimit.ipv6_prefix, client,
				       sizeof client);

	/* Every request is counted per client address, first.  Step 1
	 * without an admin token counts it in its lookup statement (one
	 * round trip instead of two); if it answers before the lookup, the
	 * address is counted alone below. */
	if (req->client != NULL && secret == NULL && req->bearer == NULL) {
		if (ratelimit_failed(&c, ratelimit_key(&env->rl, env->store,
						       RATELIMIT_ADDRESS,
						       client, &c.addrkey)))
			goto out;
		c.addr_pending = true;
	} else if (req->client != NULL &&
		   ratelimit_stops(
		       &c, ratelimit_check_value(
			       &env->rl, env->store, RATELIMIT_ADDRESS, client,
			       env->cfg->ratelimit.window, 1,
			       env->cfg->ratelimit.per_address, NULL))) {
		goto out;
	}
	if (!resolve_caller(&c))
		goto out;
	if (req->route == RESET_ROUTE_GROUP && !resolve_group(&c))
		goto out;
	decide(&c, secret, via_key);
	if (c.addr_pending)
		address_alone(&c);
	/* Wrong tokens have a budget of their own per client address, so
	 * guessing is throttled without ever locking the member out: only a
	 * request whose token failed is counted, and refused (0108 instead
	 * of 102A) once over; a valid token always proceeds.  Counted and
	 * read in one statement, so concurrent workers cannot overshoot. */
	if ((res->err == PWR_E_TOKEN_INVALID ||
	     res->err == PWR_E_KEY_INVALID) &&
	    req->client != NULL) {
		enum ratelimit_rc r = ratelimit_check_value(
		    &env->rl, env->store, RATELIMIT_TOKFAIL, client,
		    env->cfg->ratelimit.window, 1,
		    env->cfg->ratelimit.token_failures, NULL);

		if (r == RATELIMIT_OVER)
			(void)ratelimit_stops(&c, r);
		else if (r != RATELIMIT_UNDER) /* the answer stands */
			log_warn("token failure not counted");
	}
out:
	/* 0108 is not padded: a client over its budget must not hold a
	 * worker for the floor. */
	if (secret == NULL && res->err != PWR_E_UNAVAILABLE &&
	    res->err != PWR_E_INTERNAL && res->err != PWR_E_RATE_LIMITED)
		pad_to_floor(&start, env->cfg->privacy.step1_floor_ms);
	explicit_bzero(&c.caller, sizeof c.caller);
}
