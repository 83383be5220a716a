/*
 * test-store-admin.c — members, groups, admin tokens and audit rows as
 * pwreset-ctl makes them, and the lookups that find them (see
 * teststore.h).  test_members makes alice, bob and carol for the rest.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "sql/store.h"
#include "sql/teststore.h"
#include "test/support/testpg.h"

/* ---- members ----------------------------------------------------------------
 */

static void
test_members(void **state)
{
	struct store_member_new n = {
	    .username = "Alice",
	    .email = "Alice@Example.org",
	    .firstname = "Alice",
	    .lastname = "Liddell",
	};
	struct store_member m;
	char phc[128];
	int64_t id;

	(void)state;
	assert_int_equal(store_member_add(st, &n, &alice), STORE_OK);
	assert_true(alice > 0);

	/* Case-insensitive uniqueness. */
	n.username = "ALICE";
	n.email = NULL;
	assert_int_equal(store_member_add(st, &n, &id), STORE_CONFLICT);
	n.username = "alice2";
	n.email = "alice@EXAMPLE.ORG";
	assert_int_equal(store_member_add(st, &n, &id), STORE_CONFLICT);
	/* The schema's own checks. */
	n.email = NULL;
	n.username = "12345";
	assert_int_equal(store_member_add(st, &n, &id), STORE_ERROR);
	n.username = "bad name";
	assert_int_equal(store_member_add(st, &n, &id), STORE_ERROR);
	n.username = "dave";
	n.status = "weird";
	assert_int_equal(store_member_add(st, &n, &id), STORE_ERROR);
	assert_null(strstr(store_errmsg(st), "Failing row"));

	n = (struct store_member_new){.username = "bob",
				      .email = "bob@example.org",
				      .firstname = "Bob",
				      .phc = PHC};
	assert_int_equal(store_member_add(st, &n, &bob), STORE_OK);
	n = (struct store_member_new){
	    .username = "carol", .admin = true, .status = "unactivated"};
	assert_int_equal(store_member_add(st, &n, &carol), STORE_OK);

	/* By username, email, both; any case. */
	assert_int_equal(find("aLiCe", NULL, 0, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	assert_string_equal(m.username, "Alice");
	assert_string_equal(m.email, "Alice@Example.org");
	assert_string_equal(m.firstname, "Alice");
	assert_string_equal(m.lastname, "Liddell");
	assert_string_equal(m.status, "activated");
	assert_false(m.admin);
	assert_false(m.api);
	assert_false(m.locked);
	assert_false(m.has_password);
	assert_int_equal(m.failed_logins, 0);
	assert_string_equal(m.locked_until, "");
	assert_string_equal(m.password_changed_at, "");
	assert_int_equal(find(NULL, "ALICE@example.ORG", 0, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	assert_int_equal(find("alice", "alice@example.org", 0, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	/* Both given must name the same member. */
	assert_int_equal(find("alice", "bob@example.org", 0, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find("nobody", NULL, 0, &m), STORE_NOT_FOUND);
	assert_int_equal(find(NULL, "nobody@example.org", 0, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find(NULL, NULL, 0, &m), STORE_ERROR);
	assert_int_equal(find("", "", 0, &m), STORE_ERROR);

	assert_int_equal(find("BOB", NULL, 0, &m), STORE_OK);
	assert_int_equal(m.id, bob);
	assert_true(m.has_password);
	assert_true(iso_utc(m.password_changed_at));
	assert_int_equal(find("carol", NULL, 0, &m), STORE_OK);
	assert_string_equal(m.email, "");
	assert_true(m.admin);
	assert_string_equal(m.status, "unactivated");

	/* Lock and unlock. */
	assert_int_equal(store_member_lock(st, alice, 10), STORE_OK);
	sql("UPDATE member SET failed_logins = 4");
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_true(m.locked);
	assert_true(iso_utc(m.locked_until));
	assert_int_equal(m.failed_logins, 4);
	assert_int_equal(store_member_lock(st, alice, 0), STORE_OK);
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_false(m.locked);
	assert_string_equal(m.locked_until, "");
	assert_int_equal(m.failed_logins, 0);
	assert_int_equal(store_member_lock(st, 999999, 10), STORE_NOT_FOUND);
	assert_int_equal(store_member_lock(st, alice, -1), STORE_ERROR);
	/* An expired lock is no lock. */
	sql("UPDATE member SET locked_until = now() - interval '1 minute'");
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_false(m.locked);
	assert_true(iso_utc(m.locked_until));
	assert_int_equal(store_member_lock(st, alice, 0), STORE_OK);
	assert_int_equal(store_member_lock(st, bob, 0), STORE_OK);
	assert_int_equal(store_member_lock(st, carol, 0), STORE_OK);

	/* Status. */
	assert_int_equal(store_member_set_status(st, alice, "disabled"),
			 STORE_OK);
	assert_int_equal(find("alice", NULL, 0, &m), STORE_OK);
	assert_string_equal(m.status, "disabled");
	assert_int_equal(store_member_set_status(st, alice, "activated"),
			 STORE_OK);
	assert_int_equal(store_member_set_status(st, alice, "bogus"),
			 STORE_ERROR);
	assert_int_equal(store_member_set_status(st, 999999, "disabled"),
			 STORE_NOT_FOUND);

	/* The PHC string. */
	assert_int_equal(store_member_password(st, bob, phc, sizeof phc),
			 STORE_OK);
	assert_string_equal(phc, PHC);
	assert_int_equal(store_member_password(st, bob, phc, 8), STORE_ERROR);
	assert_int_equal(store_member_password(st, alice, phc, sizeof phc),
			 STORE_NOT_FOUND);
	assert_int_equal(store_member_password(st, 999999, phc, sizeof phc),
			 STORE_NOT_FOUND);

	/* Audit rows. */
	assert_int_equal(
	    store_audit(st, "test-event", alice, "198.51.100.7", "detail"),
	    STORE_OK);
	assert_int_equal(store_audit(st, "test-anon", 0, NULL, NULL), STORE_OK);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "event = 'test-event' AND member_id = %lld "
				 "AND client = '198.51.100.7' "
				 "AND detail = 'detail'",
				 (long long)alice),
			 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_log WHERE "
				 "event = 'test-anon' AND member_id IS NULL"),
			 1);
}

/* ---- groups -----------------------------------------------------------------
 */

static void
test_groups(void **state)
{
	struct store_group g;
	struct store_member m;
	uint8_t h[STORE_HASH_LEN];
	int64_t team, other, mid;

	(void)state;
	assert_int_equal(
	    store_group_add(st, "Team-A", "The A team", "brand", &team),
	    STORE_OK);
	assert_int_equal(store_group_add(st, "team-a", NULL, NULL, &other),
			 STORE_CONFLICT);
	assert_int_equal(store_group_add(st, "bad/name", NULL, NULL, &other),
			 STORE_ERROR);
	assert_int_equal(store_group_add(st, "t", NULL, "../etc", &other),
			 STORE_ERROR);
	assert_int_equal(store_group_add(st, "others", NULL, NULL, &other),
			 STORE_OK);

	assert_int_equal(store_group_by_name(st, "TEAM-A", &g), STORE_OK);
	assert_int_equal(g.id, team);
	assert_string_equal(g.name, "Team-A");
	assert_string_equal(g.description, "The A team");
	assert_string_equal(g.template_set, "brand");
	assert_int_equal(store_group_by_id(st, other, &g), STORE_OK);
	assert_string_equal(g.name, "others");
	assert_string_equal(g.description, "");
	assert_string_equal(g.template_set, "");
	assert_int_equal(store_group_by_id(st, 999999, &g), STORE_NOT_FOUND);
	assert_int_equal(store_group_by_name(st, "nope", &g), STORE_NOT_FOUND);

	assert_int_equal(store_group_add_member(st, team, alice), STORE_OK);
	assert_int_equal(store_group_add_member(st, team, alice),
			 STORE_CONFLICT);
	assert_int_equal(store_group_add_member(st, other, bob), STORE_OK);

	/* The group filter, in each lookup form. */
	assert_int_equal(find("alice", NULL, team, &m), STORE_OK);
	assert_int_equal(m.id, alice);
	assert_int_equal(find(NULL, "alice@example.org", team, &m), STORE_OK);
	assert_int_equal(find("ALICE", "alice@example.org", team, &m),
			 STORE_OK);
	assert_int_equal(find("bob", NULL, team, &m), STORE_NOT_FOUND);
	assert_int_equal(find(NULL, "bob@example.org", team, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find("bob", "bob@example.org", team, &m),
			 STORE_NOT_FOUND);
	assert_int_equal(find("alice", NULL, other, &m), STORE_NOT_FOUND);

	hash_of(h, 900);
	assert_int_equal(store_reset_issue(st, bob, h, 3600, &mail_reset, &mid),
			 STORE_OK);
	assert_int_equal(store_member_by_token(st, h, 0, &m), STORE_OK);
	assert_int_equal(m.id, bob);
	assert_int_equal(store_member_by_token(st, h, other, &m), STORE_OK);
	assert_int_equal(store_member_by_token(st, h, team, &m),
			 STORE_NOT_FOUND);
}

/* ---- admin tokens
 * ------------------------------------------------------------- */

static void
test_admin_tokens(void **state)
{
	uint8_t h[STORE_HASH_LEN], hb[STORE_HASH_LEN];
	struct store_member m;
	int count = -1;

	(void)state;
	hash_of(h, 20);
	hash_of(hb, 21);
	assert_int_equal(store_admin_token_add(st, carol, h), STORE_OK);
	assert_int_equal(store_admin_token_add(st, carol, h), STORE_CONFLICT);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_OK);
	assert_int_equal(m.id, carol);
	assert_true(m.admin);

	/* A token of a member who is not an admin is no admin token. */
	assert_int_equal(store_admin_token_add(st, bob, hb), STORE_OK);
	assert_int_equal(store_admin_by_token(st, hb, &m), STORE_NOT_FOUND);

	/* Nor is a disabled admin's. */
	assert_int_equal(store_member_set_status(st, carol, "disabled"),
			 STORE_OK);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_NOT_FOUND);
	assert_int_equal(store_member_set_status(st, carol, "unactivated"),
			 STORE_OK);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_OK);

	assert_int_equal(store_admin_token_revoke(st, carol, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_NOT_FOUND);
	assert_int_equal(store_admin_token_revoke(st, carol, &count), STORE_OK);
	assert_int_equal(count, 0);
	hash_of(h, 22);
	assert_int_equal(store_admin_by_token(st, h, &m), STORE_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_members),
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_admin_tokens),
	};

	conninfo = testpg_conninfo();
	return cmocka_run_group_tests(tests, teststore_setup_migrated,
				      teststore_teardown);
}
