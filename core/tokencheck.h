/*
 * tokencheck.h — is this reset token valid for this member?  Read only.
 *
 * The pages' GET (SPEC §9) and PageSeeder v6's token check
 * (GET /service/members/{member}?token=…) ask this without changing
 * anything: a mail scanner or a link preview opening a link must not
 * consume the token, nor count against the client's token-failure budget
 * (that budget is the POST's business: step 2 goes through reset_handle()).
 * Nothing here writes to the database, and nothing is logged but store
 * failures.
 */
#ifndef PWR_TOKENCHECK_H
#define PWR_TOKENCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "reset.h"

/* The sizes of the fields below, NUL included; tokencheck.c asserts that
 * each holds the store's column. */
#define TOKENCHECK_USERNAME_SIZE     101
#define TOKENCHECK_EMAIL_SIZE	     400
#define TOKENCHECK_FIRSTNAME_SIZE    201
#define TOKENCHECK_LASTNAME_SIZE     201
#define TOKENCHECK_STATUS_SIZE	     16
#define TOKENCHECK_GROUP_NAME_SIZE   101
#define TOKENCHECK_TEMPLATE_SET_SIZE 65

/* The member a valid token names: what the pages and the token check show
 * (a copy, so that a transport needs no header of the store). */
struct tokencheck_member {
	int64_t id;
	char username[TOKENCHECK_USERNAME_SIZE];
	char email[TOKENCHECK_EMAIL_SIZE]; /* "" when the member has none */
	char firstname[TOKENCHECK_FIRSTNAME_SIZE];
	char lastname[TOKENCHECK_LASTNAME_SIZE];
	char status[TOKENCHECK_STATUS_SIZE]; /* activated | unactivated | … */
	bool admin; /* the password rule is the admins' one */
};

/* A group as the pages brand with it. */
struct tokencheck_group {
	int64_t id;
	char name[TOKENCHECK_GROUP_NAME_SIZE];
	char template_set[TOKENCHECK_TEMPLATE_SET_SIZE]; /* "" → none */
};

/*
 * Resolve a group as the group route does (SPEC §1: all digits → id,
 * leading '~' → name, else name).  PWR_OK with *out, PWR_E_UNKNOWN_GROUP,
 * PWR_E_UNAVAILABLE or PWR_E_INTERNAL.
 */
enum pwr_err tokencheck_group(struct reset_env *env, const char *group,
			      struct tokencheck_group *out);

/*
 * PWR_OK with *out when token is an unused, unexpired token of member (a
 * decimal id or a username, case-insensitive); group_id > 0: the member
 * must also belong to that group.  Every way it can fail — no token, a
 * malformed one, no such member, another member's token — answers
 * PWR_E_TOKEN_INVALID alike; else PWR_E_UNAVAILABLE or PWR_E_INTERNAL.
 */
enum pwr_err tokencheck_member(struct reset_env *env, const char *member,
			       const char *token, int64_t group_id,
			       struct tokencheck_member *out);

#endif
