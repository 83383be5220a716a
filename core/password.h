/*
 * password.h — password rules and hashing.
 *
 * Strength follows PageSeeder (SPEC §6) or, with [password] policy = nist,
 * NIST SP 800-63B-4.  Hashes are Argon2id PHC strings from libargon2.
 * The banned list is its own module (banned.h), included here because
 * password_check() takes one.
 */
#ifndef PWR_PASSWORD_H
#define PWR_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banned.h"
#include "config.h"
#include "err.h"

enum pw_strength { PW_WEAK, PW_MEDIUM, PW_GOOD, PW_STRONG };

#define PASSWORD_MAX_CP 100 /* 100 code points or more is refused */
#define PHC_MAX		128 /* room for an Argon2id PHC string */

/* PageSeeder strength of a valid UTF-8 password (table + run/sequence
 * penalty), without the banned list. */
enum pw_strength password_strength(const char *pw);

/*
 * The whole check of SPEC §4 step 11: PWR_OK, PWR_E_PASSWORD_WEAK (too
 * weak for the level — MEDIUM for members, STRONG for admins —, blank, 100
 * code points or more, banned: the list, the username, the email, the
 * emaildomain) or PWR_E_PASSWORD_USER (equals the username, any case).
 * email may be NULL.
 */
enum pwr_err password_check(const struct config *cfg, const struct banned *b,
			    const char *pw, const char *username,
			    const char *email, bool admin);

/*
 * Hash pw with Argon2id at the configured cost and a fresh 16-byte salt;
 * under policy = nist the password is NFKC-normalised first.  Writes a PHC
 * string to phc.  Returns 0, or -1 on failure.
 */
int password_hash(const struct config *cfg, const char *pw, char *phc,
		  size_t phclen);

/* What password_verify() found.  The values are the old int answers
 * (0 match, 1 mismatch, -1 error) so that a caller not yet using the
 * names keeps its meaning; compare with the names, never with 0. */
enum password_verdict {
	PASSWORD_VERIFY_ERROR = -1, /* bad PHC string, NULL, or libargon2 */
	PASSWORD_MATCH = 0,
	PASSWORD_MISMATCH = 1,
};

/* Whether pw matches the PHC string.  Applies the same normalisation as
 * password_hash under policy = nist. */
enum password_verdict password_verify(const struct config *cfg, const char *phc,
				      const char *pw);

/* What makes a password strong enough (SPEC §6) for this policy and
 * level, in words for a person, from the same table the check uses. */
void password_rule_text(const struct config *cfg, bool admin, char *out,
			size_t outlen);

#endif
