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

#include "err.h"
#include "reset.h"
#include "../mail-templates/mail.h"
#include "../sql/store.h"

/*
 * Resolve a group as the group route does (SPEC §1: all digits → id,
 * leading '~' → name, else name).  PWR_OK with *out, PWR_E_UNKNOWN_GROUP,
 * PWR_E_UNAVAILABLE or PWR_E_INTERNAL.
 */
enum pwr_err tokencheck_group(struct reset_env *env, const char *group,
			      struct store_group *out);

/*
 * PWR_OK with *out when token is an unused, unexpired token of member (a
 * decimal id or a username, case-insensitive); group_id > 0: the member
 * must also belong to that group.  Every way it can fail — no token, a
 * malformed one, no such member, another member's token — answers
 * PWR_E_TOKEN_INVALID alike; else PWR_E_UNAVAILABLE or PWR_E_INTERNAL.
 */
enum pwr_err tokencheck_member(struct reset_env *env, const char *member,
			       const char *token, int64_t group_id,
			       struct store_member *out);

#endif
