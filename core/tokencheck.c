/*
 * tokencheck.c — a reset token checked without a write (see tokencheck.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "token.h"
#include "tokencheck.h"

static enum pwr_err
tokencheck_store_err(struct reset_env *env, enum store_rc rc, const char *what)
{
	if (rc == STORE_UNAVAILABLE) {
		log_warn("%s: database unavailable: %s", what,
			 store_errmsg(env->store));
		return PWR_E_UNAVAILABLE;
	}
	log_error("%s: database error: %s", what, store_errmsg(env->store));
	return PWR_E_INTERNAL;
}

/* A decimal id > 0 in *id; false when s is not all digits. */
static bool
tokencheck_parse_id(const char *s, int64_t *id)
{
	long long v;
	char *end;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	*id = errno == 0 && *end == '\0' && v > 0 ? (int64_t)v : 0;
	return true;
}

enum pwr_err
tokencheck_group(struct reset_env *env, const char *group,
		 struct store_group *out)
{
	enum store_rc rc = STORE_NOT_FOUND;
	int64_t id;

	if (group == NULL || *group == '\0')
		return PWR_E_UNKNOWN_GROUP;
	if (tokencheck_parse_id(group, &id)) {
		if (id > 0)
			rc = store_group_by_id(env->store, id, out);
	} else {
		if (*group == '~')
			group++;
		if (*group != '\0')
			rc = store_group_by_name(env->store, group, out);
	}
	if (rc == STORE_NOT_FOUND)
		return PWR_E_UNKNOWN_GROUP;
	return rc == STORE_OK ? PWR_OK
			      : tokencheck_store_err(env, rc, "group lookup");
}

enum pwr_err
tokencheck_member(struct reset_env *env, const char *member, const char *token,
		  int64_t group_id, struct store_member *out)
{
	uint8_t hash[TOKEN_HASH_LEN];
	enum pwr_err e = PWR_E_TOKEN_INVALID;
	enum store_rc rc;
	int64_t id = 0;
	bool by_id;

	memset(out, 0, sizeof(*out));
	if (member == NULL || token == NULL || !token_well_formed(token))
		return PWR_E_TOKEN_INVALID;
	by_id = tokencheck_parse_id(member, &id);
	token_hash(token, hash);
	/* The token names its member; the member named must be that one. */
	rc = store_member_by_token(env->store, hash, group_id, out);
	if (rc == STORE_NOT_FOUND)
		goto out;
	if (rc != STORE_OK) {
		e = tokencheck_store_err(env, rc, "token lookup");
		goto out;
	}
	if (by_id ? out->id != id : strcasecmp(out->username, member) != 0)
		goto out;
	rc = store_token_valid(env->store, out->id, hash);
	if (rc == STORE_OK)
		e = PWR_OK;
	else if (rc != STORE_NOT_FOUND)
		e = tokencheck_store_err(env, rc, "token check");
out:
	explicit_bzero(hash, sizeof(hash));
	if (e != PWR_OK)
		memset(out, 0, sizeof(*out));
	return e;
}
