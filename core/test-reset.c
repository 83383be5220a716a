/*
 * test-reset.c — the decision procedure of SPEC §4, rule by rule, against
 * a real PostgreSQL (PWRESET_TEST_PG: conninfo of a throwaway database).
 * Exits 77 (skipped) when it is not set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "outbox.h"
#include "password.h"
#include "ratelimit.h"
#include "reset.h"
#include "token.h"
#include "../mail-templates/mail.h"
#include "../sql/store.h"
#include "../test/support/testpg.h"

static struct config cfg;
static struct reset_env env;
static struct store *st;
static struct mail_templates *tmpl;
static struct outbox_key *okey;
static struct banned *banned;
static char admin_token[TOKEN_LEN + 1];
static int run_id;
static char default_client[64]; /* unique per run: limits are per address */

/* Usernames unique to this run so the database needs no cleaning. */
static const char *
uname(const char *base)
{
	static char buf[8][64];
	static int next;
	char *b = buf[next++ % 8];

	snprintf(b, 64, "%s-%d", base, run_id);
	return b;
}

static const char *
mail_of(const char *base)
{
	static char buf[8][96];
	static int next;
	char *b = buf[next++ % 8];

	snprintf(b, 96, "%s-%d@example.test", base, run_id);
	return b;
}

static int64_t
add_member(const char *base, bool with_email, bool admin, bool api,
	   const char *status)
{
	struct store_member_new m = {
	    .username = uname(base),
	    .email = with_email ? mail_of(base) : NULL,
	    .firstname = "Test",
	    .lastname = base,
	    .status = status,
	    .admin = admin,
	    .api = api,
	};
	int64_t id = 0;

	assert_int_equal(store_member_add(st, &m, &id), STORE_OK);
	return id;
}

/* Issue a token for a member the way step 1 does, returning it. */
static void
issue(int64_t member_id, char token[TOKEN_LEN + 1])
{
	uint8_t h[TOKEN_HASH_LEN];
	struct store_mail mail = {"reset-password-confirm", "x@example.test",
				  "s", "m"};
	int64_t mid;

	assert_int_equal(token_new(token), 0);
	token_hash(token, h);
	assert_int_equal(store_reset_issue(st, member_id, h, 3600, &mail, &mid),
			 STORE_OK);
}

static struct reset_result
run(struct reset_request req)
{
	struct reset_result res;

	if (req.client == NULL)
		req.client = default_client;
	reset_handle(&env, &req, &res);
	reset_finish(&env, &res.deferred);
	assert_null(res.deferred);
	return res;
}

#define assert_success(res, st_)                                               \
	do {                                                                   \
		struct reset_result r_ = (res);                                \
		assert_int_equal(r_.err, PWR_OK);                              \
		assert_int_equal(r_.status, (st_));                            \
	} while (0)

struct counter {
	const char *to;
	int n;
};

static void
count_cb(const struct store_outbox_row *row, void *arg)
{
	struct counter *c = arg;

	if (strcmp(row->recipient, c->to) == 0)
		c->n++;
}

static int
count_mails_to(const char *recipient)
{
	struct counter c = {recipient, 0};

	assert_int_equal(store_mail_list(st, false, count_cb, &c), STORE_OK);
	return c.n;
}

static void
test_no_identifier(void **state)
{
	(void)state;
	assert_success(run((struct reset_request){0}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(run((struct reset_request){.bearer = admin_token}).err,
			 PWR_E_NO_IDENTIFIER);
}

static void
test_wrong_bearer_is_anonymous(void **state)
{
	char other[TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(token_new(other), 0);
	assert_success(run((struct reset_request){.bearer = other}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_success(run((struct reset_request){.bearer = "nonsense"}),
		       RESET_REQUEST_SUCCESSFUL);
}

static void
test_invalid_email(void **state)
{
	(void)state;
	assert_int_equal(
	    run((struct reset_request){.email = "not-an-email"}).err,
	    PWR_E_EMAIL_INVALID);
	assert_int_equal(
	    run((struct reset_request){.email = "a@b", .bearer = admin_token})
		.err,
	    PWR_E_EMAIL_INVALID);
}

static void
test_unknown_member(void **state)
{
	(void)state;
	assert_success(run((struct reset_request){.username = "nobody-here"}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(run((struct reset_request){.username = "nobody-here",
						    .bearer = admin_token})
			     .err,
			 PWR_E_MEMBER_UNKNOWN);
}

static void
test_step1_queues_mail(void **state)
{
	(void)state;
	add_member("bob", true, false, false, NULL);
	assert_int_equal(count_mails_to(mail_of("bob")), 0);
	assert_success(run((struct reset_request){.username = uname("bob")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(count_mails_to(mail_of("bob")), 1);
	/* by email, other case */
	char upper[96];
	snprintf(upper, sizeof upper, "%s", mail_of("bob"));
	upper[0] = 'B';
	assert_success(run((struct reset_request){.email = upper}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(count_mails_to(mail_of("bob")), 2);
}

static void
test_both_identifiers_must_match(void **state)
{
	(void)state;
	add_member("carl", true, false, false, NULL);
	add_member("dora", true, false, false, NULL);
	assert_success(run((struct reset_request){.username = uname("carl"),
						  .email = mail_of("dora")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(count_mails_to(mail_of("dora")), 0);
	assert_int_equal(count_mails_to(mail_of("carl")), 0);
	assert_int_equal(run((struct reset_request){.username = uname("carl"),
						    .email = mail_of("dora"),
						    .bearer = admin_token})
			     .err,
			 PWR_E_MEMBER_UNKNOWN);
}

static void
test_account_states(void **state)
{
	(void)state;
	add_member("api", true, false, true, NULL);
	add_member("dis", true, false, false, "disabled");
	add_member("noem", false, false, false, NULL);
	int64_t lid = add_member("lck", true, false, false, NULL);
	assert_int_equal(store_member_lock(st, lid, 10), STORE_OK);

	assert_int_equal(
	    run((struct reset_request){.username = uname("api")}).err,
	    PWR_E_API_ACCOUNT);
	assert_int_equal(
	    run((struct reset_request){.username = uname("dis")}).err,
	    PWR_E_LOCKED);
	assert_int_equal(
	    run((struct reset_request){.username = uname("lck")}).err,
	    PWR_E_LOCKED);
	assert_int_equal(
	    run((struct reset_request){.username = uname("noem")}).err,
	    PWR_E_NO_EMAIL);

	cfg.privacy.hide_account_state = true;
	assert_success(run((struct reset_request){.username = uname("api")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_success(run((struct reset_request){.username = uname("lck")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(count_mails_to(mail_of("lck")), 0);
	assert_int_equal(run((struct reset_request){.username = uname("lck"),
						    .bearer = admin_token})
			     .err,
			 PWR_E_LOCKED);
	cfg.privacy.hide_account_state = false;
}

static void
test_step2_full(void **state)
{
	char tok[TOKEN_LEN + 1], phc[PHC_MAX];
	struct store_member m;
	int64_t id;

	(void)state;
	id = add_member("erin", true, false, false, NULL);
	assert_int_equal(store_member_lock(st, id, 10), STORE_OK);
	issue(id, tok);

	/* Rule 10: pending; the token stays valid. */
	assert_success(run((struct reset_request){.username = uname("erin"),
						  .token = tok}),
		       RESET_PENDING);
	/* Rule 11: weak, username; the token stays valid. */
	assert_int_equal(run((struct reset_request){.username = uname("erin"),
						    .token = tok,
						    .password = "abc"})
			     .err,
			 PWR_E_PASSWORD_WEAK);
	char upper[64];
	snprintf(upper, sizeof upper, "%s", uname("erin"));
	upper[0] = 'E';
	assert_int_equal(run((struct reset_request){.username = uname("erin"),
						    .token = tok,
						    .password = upper})
			     .err,
			 PWR_E_PASSWORD_USER);
	/* Rule 12; step 2 ignores the lock and clears it. */
	assert_success(run((struct reset_request){.username = uname("erin"),
						  .token = tok,
						  .password = "Tr0ub4dor&x"}),
		       RESET_PASSWORD_CHANGED);
	assert_int_equal(store_member_find(st, uname("erin"), NULL, 0, &m),
			 STORE_OK);
	assert_false(m.locked);
	assert_int_equal(store_member_password(st, id, phc, sizeof phc),
			 STORE_OK);
	assert_int_equal(password_verify(&cfg, phc, "Tr0ub4dor&x"),
			 PASSWORD_MATCH);
	/* Single use. */
	assert_int_equal(run((struct reset_request){.username = uname("erin"),
						    .token = tok,
						    .password = "Tr0ub4dor&y"})
			     .err,
			 PWR_E_TOKEN_INVALID);
	assert_int_equal(run((struct reset_request){.username = uname("erin"),
						    .key = tok,
						    .password = "Tr0ub4dor&y"})
			     .err,
			 PWR_E_KEY_INVALID);
}

static void
test_token_of_another_member(void **state)
{
	char tok[TOKEN_LEN + 1];
	int64_t fid;

	(void)state;
	fid = add_member("fred", true, false, false, NULL);
	add_member("gina", true, false, false, NULL);
	issue(fid, tok);
	assert_int_equal(
	    run((struct reset_request){.username = uname("gina"), .token = tok})
		.err,
	    PWR_E_TOKEN_INVALID);
	/* with no identifier the token names its member */
	assert_success(run((struct reset_request){.token = tok}),
		       RESET_PENDING);
	/* a malformed secret */
	assert_int_equal(run((struct reset_request){.username = uname("fred"),
						    .key = "short"})
			     .err,
			 PWR_E_KEY_INVALID);
}

static void
test_new_request_kills_old_token(void **state)
{
	char old[TOKEN_LEN + 1];
	int64_t id;

	(void)state;
	id = add_member("hank", true, false, false, NULL);
	issue(id, old);
	assert_success(run((struct reset_request){.username = uname("hank")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(
	    run((struct reset_request){.username = uname("hank"), .token = old})
		.err,
	    PWR_E_TOKEN_INVALID);
}

static void
test_disabled_after_issue(void **state)
{
	char tok[TOKEN_LEN + 1];
	int64_t id;

	(void)state;
	id = add_member("ivy", true, false, false, NULL);
	issue(id, tok);
	assert_int_equal(store_member_set_status(st, id, "disabled"), STORE_OK);
	assert_int_equal(run((struct reset_request){.username = uname("ivy"),
						    .token = tok,
						    .password = "Tr0ub4dor&x"})
			     .err,
			 PWR_E_LOCKED);
}

static void
test_admin_member_needs_strong(void **state)
{
	char tok[TOKEN_LEN + 1];
	struct reset_result r;
	int64_t id;

	(void)state;
	id = add_member("jack", true, true, false, NULL);
	issue(id, tok);
	r = run(
	    (struct reset_request){.username = uname("jack"), .token = tok});
	assert_success(r, RESET_PENDING);
	assert_true(r.admin);
	/* MEDIUM is enough for a member, not for an admin */
	assert_int_equal(run((struct reset_request){.username = uname("jack"),
						    .token = tok,
						    .password = "Tr0ub4dor&x"})
			     .err,
			 PWR_E_PASSWORD_WEAK);
	assert_success(
	    run((struct reset_request){.username = uname("jack"),
				       .token = tok,
				       .password = "Tr0ub4dor&x-Zq9"}),
	    RESET_PASSWORD_CHANGED);
}

static void
test_group_route(void **state)
{
	int64_t gid, kid;
	char num[32];

	(void)state;
	char gname[64];
	snprintf(gname, sizeof gname, "team-%d", run_id);
	assert_int_equal(store_group_add(st, gname, "The team", NULL, &gid),
			 STORE_OK);
	kid = add_member("kim", true, false, false, NULL);
	add_member("lou", true, false, false, NULL);
	assert_int_equal(store_group_add_member(st, gid, kid), STORE_OK);

	assert_int_equal(run((struct reset_request){.route = RESET_ROUTE_GROUP,
						    .group = "no-such-group",
						    .username = uname("kim")})
			     .err,
			 PWR_E_UNKNOWN_GROUP);
	assert_success(run((struct reset_request){.route = RESET_ROUTE_GROUP,
						  .group = gname,
						  .username = uname("kim")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(count_mails_to(mail_of("kim")), 1);
	snprintf(num, sizeof num, "%lld", (long long)gid);
	assert_success(run((struct reset_request){.route = RESET_ROUTE_GROUP,
						  .group = num,
						  .username = uname("kim")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(count_mails_to(mail_of("kim")), 2);
	/* lou is not in the group: not found */
	assert_success(run((struct reset_request){.route = RESET_ROUTE_GROUP,
						  .group = gname,
						  .username = uname("lou")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(count_mails_to(mail_of("lou")), 0);
	assert_int_equal(run((struct reset_request){.route = RESET_ROUTE_GROUP,
						    .group = gname,
						    .username = uname("lou"),
						    .bearer = admin_token})
			     .err,
			 PWR_E_MEMBER_UNKNOWN);
}

static void
test_identifier_limit(void **state)
{
	int i;

	(void)state;
	add_member("max", true, false, false, NULL);
	cfg.ratelimit.per_identifier = 2;
	for (i = 0; i < 4; i++)
		assert_success(
		    run((struct reset_request){.username = uname("max")}),
		    RESET_REQUEST_SUCCESSFUL);
	cfg.ratelimit.per_identifier = 1000;
	assert_int_equal(count_mails_to(mail_of("max")), 2);
}

static void
test_address_limit(void **state)
{
	char addr[64];
	int i;

	(void)state;
	snprintf(addr, sizeof addr, "198.51.100.%d", run_id % 250);
	cfg.ratelimit.per_address = 3;
	for (i = 0; i < 3; i++)
		assert_success(run((struct reset_request){.client = addr}),
			       RESET_REQUEST_SUCCESSFUL);
	struct reset_result r = run((struct reset_request){.client = addr});
	cfg.ratelimit.per_address = 100000;
	assert_int_equal(r.err, PWR_E_RATE_LIMITED);
	assert_true(r.retry_after > 0);
}

static void
test_token_failure_budget(void **state)
{
	char tok[TOKEN_LEN + 1], wrong[TOKEN_LEN + 1], addr[64];
	int64_t id;
	int i;

	(void)state;
	id = add_member("nell", true, false, false, NULL);
	issue(id, tok);
	snprintf(addr, sizeof addr, "203.0.113.%d", run_id % 250);
	cfg.ratelimit.token_failures = 3;
	for (i = 0; i < 3; i++) {
		assert_int_equal(token_new(wrong), 0);
		assert_int_equal(
		    run((struct reset_request){.username = uname("nell"),
					       .token = wrong,
					       .client = addr})
			.err,
		    PWR_E_TOKEN_INVALID);
	}
	/* the budget is spent, yet a valid token is never refused by it
	 * (SPEC §8): offices behind one address keep working */
	assert_success(run((struct reset_request){.username = uname("nell"),
						  .token = tok,
						  .client = addr}),
		       RESET_PENDING);
	/* a failing one answers 0108 instead of 102A, whatever it names */
	assert_int_equal(token_new(wrong), 0);
	assert_int_equal(run((struct reset_request){.username = uname("nell"),
						    .token = wrong,
						    .client = addr})
			     .err,
			 PWR_E_RATE_LIMITED);
	assert_int_equal(run((struct reset_request){.username = "nobody-here",
						    .key = wrong,
						    .client = addr})
			     .err,
			 PWR_E_RATE_LIMITED);
	/* the member is not locked out: another address goes through */
	assert_success(run((struct reset_request){.username = uname("nell"),
						  .token = tok,
						  .client = "192.0.2.99"}),
		       RESET_PENDING);
	cfg.ratelimit.token_failures = 10;
}

/* Token first (SPEC §4): an anonymous caller with a token that fails
 * learns nothing about the identifier, whatever it names. */
static void
test_token_first(void **state)
{
	char tok[TOKEN_LEN + 1], wrong[TOKEN_LEN + 1], used[TOKEN_LEN + 1];
	char gname[64], addr[64];
	int64_t oid, gid, aid, did, nid;
	const char *names[5];
	int i;

	(void)state;
	snprintf(addr, sizeof addr, "203.0.113.%d", (run_id + 7) % 250);
	cfg.ratelimit.token_failures = 1000;
	oid = add_member("olga", true, false, false, NULL);
	aid = add_member("papi", true, false, true, NULL);
	did = add_member("quin", true, false, false, "disabled");
	nid = add_member("rosa", false, false, false, NULL);
	snprintf(gname, sizeof gname, "tf-%d", run_id);
	assert_int_equal(store_group_add(st, gname, "g", NULL, &gid), STORE_OK);
	issue(oid, tok);
	issue(did, used); /* then made dead: a used token */
	assert_int_equal(token_new(wrong), 0);

	names[0] = "nobody-here";
	names[1] = uname("olga");
	names[2] = uname("papi");
	names[3] = uname("quin");
	names[4] = uname("rosa");
	for (int hide = 0; hide < 2; hide++) {
		cfg.privacy.hide_account_state = hide;
		for (i = 0; i < 5; i++) {
			assert_int_equal(
			    run((struct reset_request){.username = names[i],
						       .token = wrong,
						       .client = addr})
				.err,
			    PWR_E_TOKEN_INVALID);
			assert_int_equal(
			    run((struct reset_request){.username = names[i],
						       .key = wrong,
						       .client = addr})
				.err,
			    PWR_E_KEY_INVALID);
		}
	}
	cfg.privacy.hide_account_state = false;
	/* a valid token of another member, or for a member not in the
	 * group, or with an email naming someone else */
	assert_int_equal(run((struct reset_request){.username = uname("quin"),
						    .token = tok,
						    .client = addr})
			     .err,
			 PWR_E_TOKEN_INVALID);
	assert_int_equal(run((struct reset_request){.route = RESET_ROUTE_GROUP,
						    .group = gname,
						    .username = uname("olga"),
						    .token = tok,
						    .client = addr})
			     .err,
			 PWR_E_TOKEN_INVALID);
	assert_int_equal(run((struct reset_request){.username = uname("olga"),
						    .email = mail_of("papi"),
						    .token = tok,
						    .client = addr})
			     .err,
			 PWR_E_TOKEN_INVALID);
	/* a token alone matching nothing, and a dead one */
	assert_int_equal(
	    run((struct reset_request){.token = wrong, .client = addr}).err,
	    PWR_E_TOKEN_INVALID);
	assert_int_equal(store_member_set_status(st, did, "activated"),
			 STORE_OK);
	assert_success(run((struct reset_request){.username = uname("quin"),
						  .token = used,
						  .password = "Tr0ub4dor&x",
						  .client = addr}),
		       RESET_PASSWORD_CHANGED);
	assert_int_equal(store_member_set_status(st, did, "disabled"),
			 STORE_OK);
	assert_int_equal(
	    run((struct reset_request){.token = used, .client = addr}).err,
	    PWR_E_TOKEN_INVALID);
	/* the state of an account is told to the holder of its token */
	issue(aid, tok);
	assert_int_equal(run((struct reset_request){.username = uname("papi"),
						    .token = tok,
						    .client = addr})
			     .err,
			 PWR_E_API_ACCOUNT);
	issue(nid, tok);
	assert_int_equal(
	    run((struct reset_request){.token = tok, .client = addr}).err,
	    PWR_E_NO_EMAIL);
	/* admin callers keep the old order */
	assert_int_equal(run((struct reset_request){.username = uname("quin"),
						    .token = wrong,
						    .bearer = admin_token})
			     .err,
			 PWR_E_LOCKED);
	assert_int_equal(run((struct reset_request){.username = "nobody-here",
						    .token = wrong,
						    .bearer = admin_token})
			     .err,
			 PWR_E_MEMBER_UNKNOWN);
	cfg.ratelimit.token_failures = 10;
}

/* Username, email and both name one member: one budget (SPEC §8). */
static void
test_member_limit(void **state)
{
	(void)state;
	add_member("sven", true, false, false, NULL);
	cfg.ratelimit.per_identifier = 1;
	assert_success(run((struct reset_request){.username = uname("sven")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_success(run((struct reset_request){.email = mail_of("sven")}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_success(run((struct reset_request){.username = uname("sven"),
						  .email = mail_of("sven")}),
		       RESET_REQUEST_SUCCESSFUL);
	cfg.ratelimit.per_identifier = 1000;
	assert_int_equal(count_mails_to(mail_of("sven")), 1);
}

/* IPv6 clients share one budget per [ratelimit] ipv6_prefix. */
static void
test_ipv6_prefix(void **state)
{
	char a[64], b[64], c[64], other[64], v[RATELIMIT_CLIENT_MAX];
	int x = run_id & 0xffff;

	(void)state;
	ratelimit_client_value("2001:db8:1:2:3:4:5:6", 64, v, sizeof v);
	assert_string_equal(v, "2001:db8:1:2::/64");
	ratelimit_client_value("2001:db8:1:2:3:4:5:6", 56, v, sizeof v);
	assert_string_equal(v, "2001:db8:1::/56");
	ratelimit_client_value("2001:db8::1", 128, v, sizeof v);
	assert_string_equal(v, "2001:db8::1/128");
	ratelimit_client_value("192.0.2.7", 64, v, sizeof v);
	assert_string_equal(v, "192.0.2.7");
	ratelimit_client_value("::ffff:192.0.2.7", 64, v, sizeof v);
	assert_string_equal(v, "::ffff:192.0.2.7");

	snprintf(a, sizeof a, "2001:db8:%x:1::1", x);
	snprintf(b, sizeof b, "2001:db8:%x:1:ffff::2", x);
	snprintf(c, sizeof c, "2001:db8:%x:1:abcd:1:2:3", x);
	snprintf(other, sizeof other, "2001:db8:%x:2::1", x);
	cfg.ratelimit.per_address = 2;
	assert_success(run((struct reset_request){.client = a}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_success(run((struct reset_request){.client = b}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_int_equal(run((struct reset_request){.client = c}).err,
			 PWR_E_RATE_LIMITED);
	assert_success(run((struct reset_request){.client = other}),
		       RESET_REQUEST_SUCCESSFUL);
	cfg.ratelimit.per_address = 100000;
}

static int64_t
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* 0108 is not padded to step1_floor_ms: it must not hold a worker. */
static void
test_floor_spares_0108(void **state)
{
	char addr[64];
	struct reset_result r;
	int64_t t0;

	(void)state;
	snprintf(addr, sizeof addr, "198.51.100.%d", (run_id + 3) % 250);
	cfg.ratelimit.per_address = 1;
	cfg.privacy.step1_floor_ms = 1500;
	t0 = now_ms();
	assert_success(run((struct reset_request){.client = addr}),
		       RESET_REQUEST_SUCCESSFUL);
	assert_true(now_ms() - t0 >= 1500);
	t0 = now_ms();
	r = run((struct reset_request){.client = addr});
	assert_int_equal(r.err, PWR_E_RATE_LIMITED);
	assert_true(now_ms() - t0 < 1000);
	cfg.privacy.step1_floor_ms = 0;
	cfg.ratelimit.per_address = 100000;
}

int
main(void)
{
	const char *pg = testpg_conninfo();
	const char *src = getenv("SRCDIR");
	char dir[4096], err[512];
	int64_t aid;
	int rc;

	if (src == NULL)
		src = ".";
	run_id = (int)getpid();
	snprintf(default_client, sizeof default_client, "10.%d.%d.%d",
		 (run_id >> 16) & 255, (run_id >> 8) & 255, run_id & 255);
	log_init("test-reset", LOG_TARGET_STDERR, LOG_LEVEL_WARN);
	config_defaults(&cfg);
	cfg.argon2.m_cost = 1024;
	cfg.argon2.t_cost = 1;
	cfg.ratelimit.per_identifier = 1000;
	cfg.ratelimit.per_address = 100000;
	cfg.ratelimit.token_failures = 10;

	snprintf(dir, sizeof dir, "%s/mail-templates", src);
	tmpl = mail_templates_load(dir, cfg.service.link_template, err,
				   sizeof err);
	if (tmpl == NULL) {
		fprintf(stderr, "templates: %s\n", err);
		return 1;
	}
	banned = banned_load(cfg.password.banned_file, err, sizeof err);
	if (banned == NULL) {
		fprintf(stderr, "banned: %s\n", err);
		return 1;
	}
	st = testpg_store(pg, 5);
	if (st == NULL)
		return 1;
	env = (struct reset_env){
	    .cfg = &cfg, .store = st, .templates = tmpl, .banned = banned};
	{
		/* Queued mail is sealed (core/outbox.h). */
		char kdir[] = "/tmp/test-reset-key-XXXXXX", kpath[64];

		assert_non_null(mkdtemp(kdir));
		snprintf(kpath, sizeof kpath, "%s/outbox.key", kdir);
		if (outbox_key_create(kpath, err, sizeof err) != 0 ||
		    (okey = outbox_key_load(kpath, err, sizeof err)) == NULL) {
			fprintf(stderr, "outbox key: %s\n", err);
			return 1;
		}
		unlink(kpath);
		rmdir(kdir);
		env.outbox_key = okey;
	}

	aid = add_member("boss", true, true, false, NULL);
	{
		uint8_t h[TOKEN_HASH_LEN];

		token_new(admin_token);
		token_hash(admin_token, h);
		if (store_admin_token_add(st, aid, h) != STORE_OK) {
			fprintf(stderr, "admin token: %s\n", store_errmsg(st));
			return 1;
		}
	}

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_identifier),
	    cmocka_unit_test(test_wrong_bearer_is_anonymous),
	    cmocka_unit_test(test_invalid_email),
	    cmocka_unit_test(test_unknown_member),
	    cmocka_unit_test(test_step1_queues_mail),
	    cmocka_unit_test(test_both_identifiers_must_match),
	    cmocka_unit_test(test_account_states),
	    cmocka_unit_test(test_step2_full),
	    cmocka_unit_test(test_token_of_another_member),
	    cmocka_unit_test(test_new_request_kills_old_token),
	    cmocka_unit_test(test_disabled_after_issue),
	    cmocka_unit_test(test_admin_member_needs_strong),
	    cmocka_unit_test(test_group_route),
	    cmocka_unit_test(test_identifier_limit),
	    cmocka_unit_test(test_address_limit),
	    cmocka_unit_test(test_token_failure_budget),
	    cmocka_unit_test(test_token_first),
	    cmocka_unit_test(test_member_limit),
	    cmocka_unit_test(test_ipv6_prefix),
	    cmocka_unit_test(test_floor_spares_0108),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	store_close(st);
	mail_templates_free(tmpl);
	banned_free(banned);
	outbox_key_free(okey);
	config_free(&cfg);
	return rc;
}
