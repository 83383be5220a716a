/*
 * admin.c — what pwreset-ctl changes: members (add, lock, status, their
 * PHC string), groups and their members, admin API tokens, audit rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sql/store_impl.h"

enum admin_stmt {
	STMT_MEMBER_ADD,
	STMT_MEMBER_LOCK,
	STMT_MEMBER_UNLOCK,
	STMT_MEMBER_SET_STATUS,
	STMT_MEMBER_PASSWORD,
	STMT_GROUP_ADD,
	STMT_GROUP_ADD_MEMBER,
	STMT_ADMIN_TOKEN_ADD,
	STMT_ADMIN_TOKEN_REVOKE,
	STMT_AUDIT,
	ADMIN_STMT__MAX
};

static const struct stmt_def stmts[] = {
    [STMT_MEMBER_ADD] = {"member_add", 8,
			 "INSERT INTO member (username, email, firstname, "
			 "lastname, status, is_admin, is_api, "
			 "password_hash, password_changed_at) "
			 "VALUES ($1::text, $2::text, $3::text, $4::text, "
			 "$5::text, $6::boolean, $7::boolean, $8::text, "
			 "CASE WHEN $8::text IS NULL THEN NULL "
			 "ELSE now() END) RETURNING id"},
    [STMT_MEMBER_LOCK] = {"member_lock", 2,
			  "UPDATE member SET locked_until = now() + "
			  "make_interval(mins => $2::int) "
			  "WHERE id = $1::bigint"},
    [STMT_MEMBER_UNLOCK] = {"member_unlock", 1,
			    "UPDATE member SET locked_until = NULL, "
			    "failed_logins = 0 WHERE id = $1::bigint"},
    [STMT_MEMBER_SET_STATUS] = {"member_set_status", 2,
				"UPDATE member SET status = $2::text "
				"WHERE id = $1::bigint"},
    [STMT_MEMBER_PASSWORD] = {"member_password", 1,
			      "SELECT password_hash FROM member "
			      "WHERE id = $1::bigint "
			      "AND password_hash IS NOT NULL"},
    [STMT_GROUP_ADD] = {"group_add", 3,
			"INSERT INTO member_group "
			"(name, description, template_set) "
			"VALUES ($1::text, $2::text, $3::text) "
			"RETURNING id"},
    [STMT_GROUP_ADD_MEMBER] = {"group_add_member", 2,
			       "INSERT INTO group_membership "
			       "(group_id, member_id) "
			       "VALUES ($1::bigint, $2::bigint)"},
    [STMT_ADMIN_TOKEN_ADD] = {"admin_token_add", 2,
			      "INSERT INTO admin_token "
			      "(member_id, token_hash) "
			      "VALUES ($1::bigint, $2::bytea)"},
    [STMT_ADMIN_TOKEN_REVOKE] = {"admin_token_revoke", 1,
				 "UPDATE admin_token SET revoked_at = now() "
				 "WHERE member_id = $1::bigint "
				 "AND revoked_at IS NULL"},
    [STMT_AUDIT] = {"audit", 4,
		    "INSERT INTO audit_log "
		    "(event, member_id, client, detail) "
		    "VALUES ($1::text, $2::bigint, $3::text, $4::text)"},
};
_Static_assert(sizeof stmts / sizeof stmts[0] == ADMIN_STMT__MAX,
	       "stmts[] and enum admin_stmt out of step");
_Static_assert(ADMIN_STMT__MAX <= STORE_PART_MAX, "raise STORE_PART_MAX");

const struct store_part store_part_admin = {PART_ADMIN, stmts, ADMIN_STMT__MAX};

enum store_rc
store_member_add(struct store *st, const struct store_member_new *m,
		 int64_t *id)
{
	struct params p = {0};

	if (m == NULL || m->username == NULL) {
		store_set_err(st, "store_member_add: no username");
		return STORE_ERROR;
	}
	param_text(&p, m->username);
	param_text(&p, m->email && *m->email ? m->email : NULL);
	param_text(&p, m->firstname ? m->firstname : "");
	param_text(&p, m->lastname ? m->lastname : "");
	param_text(&p, m->status ? m->status : "activated");
	param_bool(&p, m->admin);
	param_bool(&p, m->api);
	param_text(&p, m->phc && *m->phc ? m->phc : NULL);
	return store_returning_id(st, PART_ADMIN, STMT_MEMBER_ADD, &p, id);
}

enum store_rc
store_member_lock(struct store *st, int64_t id, int minutes)
{
	struct params p = {0};

	if (minutes < 0) {
		store_set_err(st, "store_member_lock: negative minutes");
		return STORE_ERROR;
	}
	param_int(&p, id);
	if (minutes == 0)
		return store_change(st, PART_ADMIN, STMT_MEMBER_UNLOCK, &p,
				    NULL);
	param_int(&p, minutes);
	return store_change(st, PART_ADMIN, STMT_MEMBER_LOCK, &p, NULL);
}

enum store_rc
store_member_set_status(struct store *st, int64_t id, const char *status)
{
	struct params p = {0};

	param_int(&p, id);
	param_text(&p, status ? status : "");
	return store_change(st, PART_ADMIN, STMT_MEMBER_SET_STATUS, &p, NULL);
}

enum store_rc
store_member_password(struct store *st, int64_t id, char *phc, size_t len)
{
	struct params p = {0};
	PGresult *res;
	enum store_rc rc;

	if (len > 0)
		phc[0] = '\0';
	param_int(&p, id);
	rc = store_one(st, PART_ADMIN, STMT_MEMBER_PASSWORD, &p, &res);
	if (rc == STORE_OK) {
		char *v = PQgetvalue(res, 0, 0);
		size_t n = strlen(v);

		if (n >= len) { /* a cut PHC string would never verify */
			store_set_err(st, "member_password: buffer too small");
			rc = STORE_ERROR;
		} else {
			memcpy(phc, v, n + 1);
		}
		explicit_bzero(v, n);
	}
	PQclear(res);
	return rc;
}

enum store_rc
store_group_add(struct store *st, const char *name, const char *description,
		const char *template_set, int64_t *id)
{
	struct params p = {0};

	param_text(&p, name);
	param_text(&p, description ? description : "");
	param_text(&p, template_set && *template_set ? template_set : NULL);
	return store_returning_id(st, PART_ADMIN, STMT_GROUP_ADD, &p, id);
}

enum store_rc
store_group_add_member(struct store *st, int64_t group_id, int64_t member_id)
{
	struct params p = {0};

	param_int(&p, group_id);
	param_int(&p, member_id);
	return store_run(st, PART_ADMIN, STMT_GROUP_ADD_MEMBER, &p);
}

enum store_rc
store_admin_token_add(struct store *st, int64_t member_id,
		      const uint8_t hash[STORE_HASH_LEN])
{
	struct params p = {0};

	param_int(&p, member_id);
	param_hash(&p, hash);
	return store_run(st, PART_ADMIN, STMT_ADMIN_TOKEN_ADD, &p);
}

enum store_rc
store_admin_token_revoke(struct store *st, int64_t member_id, int *count)
{
	struct params p = {0};
	int64_t n = 0;
	enum store_rc rc;

	param_int(&p, member_id);
	rc = store_change(st, PART_ADMIN, STMT_ADMIN_TOKEN_REVOKE, &p, &n);
	*count = clamp_int(n, 0, INT_MAX);
	return rc;
}

enum store_rc
store_audit(struct store *st, const char *event, int64_t member_id,
	    const char *client, const char *detail)
{
	struct params p = {0};

	if (event == NULL) {
		store_set_err(st, "store_audit: no event");
		return STORE_ERROR;
	}
	param_text(&p, event);
	if (member_id > 0)
		param_int(&p, member_id);
	else
		param_text(&p, NULL);
	param_text(&p, client ? client : "");
	param_text(&p, detail ? detail : "");
	return store_run(st, PART_ADMIN, STMT_AUDIT, &p);
}
