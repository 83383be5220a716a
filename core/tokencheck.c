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
#include "../sql/store.h"

/* Each field of the core's structs holds the store's column whole. */
#define TOKENCHECK_HOLDS(type, field, size)                                    \
	_Static_assert(sizeof(((struct type *)0)->field) <= (size),            \
		       #type "." #field " does not fit " #size)
TOKENCHECK_HOLDS(store_member, username, TOKENCHECK_USERNAME_SIZE);
TOKENCHECK_HOLDS(store_member, email, TOKENCHECK_EMAIL_SIZE);
TOKENCHECK_HOLDS(store_member, firstname, TOKENCHECK_FIRSTNAME_SIZE);
TOKENCHECK_HOLDS(store_member, lastname, TOKENCHECK_LASTNAME_SIZE);
TOKENCHECK_HOLDS(store_member, status, TOKENCHECK_STATUS_SIZE);
TOKENCHECK_HOLDS(store_group, name, TOKENCHECK_GROUP_NAME_SIZE);
TOKENCHECK_HOLDS(store_group, template_set, TOKENCHECK_TEMPLATE_SET_SIZE);

/* A store column (NUL-terminated within it) into its core field, which is
 * at least as large (asserted above). */
#define TOKENCHECK_COPY(dst, src) memcpy((dst), (src), sizeof(src))

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
		 struct tokencheck_group *out)
{
	enum store_rc rc = STORE_NOT_FOUND;
	struct store_group g;
	int64_t id;

	memset(out, 0, sizeof(*out));
	if (group == NULL || *group == '\0')
		return PWR_E_UNKNOWN_GROUP;
	if (tokencheck_parse_id(group, &id)) {
		if (id > 0)
			rc = store_group_by_id(env->store, id, &g);
	} else {
		if (*group == '~')
			group++;
		if (*group != '\0')
			rc = store_group_by_name(env->store, group, &g);
	}
	if (rc == STORE_NOT_FOUND)
		return PWR_E_UNKNOWN_GROUP;
	if (rc != STORE_OK)
		return tokencheck_store_err(env, rc, "group lookup");
	out->id = g.id;
	TOKENCHECK_COPY(out->name, g.name);
	TOKENCHECK_COPY(out->template_set, g.template_set);
	return PWR_OK;
}

enum pwr_err
tokencheck_member(struct reset_env *env, const char *member, const char *token,
		  int64_t group_id, struct tokencheck_member *out)
{
	uint8_t hash[TOKEN_HASH_LEN];
	struct store_member m;
	enum pwr_err e = PWR_E_TOKEN_INVALID;
	enum store_rc rc;
	int64_t id = 0;
	bool by_id;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	if (member == NULL || token == NULL || !token_well_formed(token))
		return PWR_E_TOKEN_INVALID;
	by_id = tokencheck_parse_id(member, &id);
	token_hash(token, hash);
	/* The token names its member; the member named must be that one. */
	rc = store_member_by_token(env->store, hash, group_id, &m);
	if (rc == STORE_NOT_FOUND)
		goto out;
	if (rc != STORE_OK) {
		e = tokencheck_store_err(env, rc, "token lookup");
		goto out;
	}
	if (by_id ? m.id != id : strcasecmp(m.username, member) != 0)
		goto out;
	rc = store_token_valid(env->store, m.id, hash);
	if (rc == STORE_OK)
		e = PWR_OK;
	else if (rc != STORE_NOT_FOUND)
		e = tokencheck_store_err(env, rc, "token check");
	if (e == PWR_OK) {
		out->id = m.id;
		TOKENCHECK_COPY(out->username, m.username);
		TOKENCHECK_COPY(out->email, m.email);
		TOKENCHECK_COPY(out->firstname, m.firstname);
		TOKENCHECK_COPY(out->lastname, m.lastname);
		TOKENCHECK_COPY(out->status, m.status);
		out->admin = m.admin;
	}
out:
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(&m, sizeof(m));
	return e;
}
