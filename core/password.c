/*
 * password.c — password strength, the whole check of SPEC §4 step 11, and
 * Argon2id hashing.
 *
 * Strength (PageSeeder): the length in code points and the number of
 * character classes used (ASCII lower, ASCII upper, ASCII digit, anything
 * else — non-ASCII letters count as "anything else", which is cheap and
 * never makes a password look weaker than PageSeeder would) give a level
 * from the table of SPEC §6.  A run of three identical characters, or four
 * consecutive characters of the alphabet, the digits or a keyboard row, in
 * either direction and any case, costs exactly one level, however many
 * there are.
 *
 * Under [password] policy = nist the password is NFKC-normalised before
 * hashing and before verifying (NIST SP 800-63B-4 §3.1.1.2), so that the
 * same password typed on two keyboards gives the same hash.  Every copy we
 * make of a password is wiped with explicit_bzero(); libunistring's own
 * scratch buffers are beyond our reach.
 */
#include <argon2.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>

#include "password.h"
#include "token.h"
#include "validate.h"

#define PW_SALT_LEN 16
#define PW_HASH_LEN 32
#define PW_SEQ_LEN  4 /* "abcd", "4321", "qwer" */
#define PW_RUN_LEN  3 /* "aaa" */

enum pw_column { COL_3_CLASSES, COL_2_CLASSES, COL_1_CLASS, COL__MAX };

/* SPEC §6: minimum length in code points for each level and column. */
static const size_t strength_min[PW_STRONG + 1][COL__MAX] = {
    [PW_WEAK] = {0, 0, 0},
    [PW_MEDIUM] = {7, 8, 12},
    [PW_GOOD] = {9, 12, 14},
    [PW_STRONG] = {12, 15, 18},
};

_Static_assert(sizeof(strength_min) / sizeof(strength_min[0]) == PW_STRONG + 1,
	       "strength table out of step with enum pw_strength");

/* Sequences a person types without thinking; all lower case. */
static const char *const sequences[] = {
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "1234567890", /* the keyboard's number row: "7890" */
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
};

/* Decode one code point of valid UTF-8; returns its length. */
static size_t
pw_decode(const char *s, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] < 0xe0) {
		*cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
		return 2;
	}
	if (p[0] < 0xf0) {
		*cp = (uint32_t)(p[0] & 0x0f) << 12 |
		      (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
		return 3;
	}
	*cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
	      (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
	return 4;
}

static uint32_t
ascii_lower_cp(uint32_t c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* w[0..PW_SEQ_LEN) is a run up or down one of the sequences. */
static bool
pw_is_sequence(const uint32_t *w)
{
	for (size_t s = 0; s < sizeof(sequences) / sizeof(sequences[0]); s++) {
		long pos[PW_SEQ_LEN];
		bool up = true, down = true;
		size_t i;

		for (i = 0; i < PW_SEQ_LEN; i++) {
			uint32_t c = ascii_lower_cp(w[i]);
			const char *at;
			if (c == 0 || c >= 0x80 ||
			    (at = strchr(sequences[s], (int)c)) == NULL)
				break;
			pos[i] = at - sequences[s];
		}
		if (i < PW_SEQ_LEN)
			continue;
		for (i = 1; i < PW_SEQ_LEN; i++) {
			up = up && pos[i] == pos[i - 1] + 1;
			down = down && pos[i] == pos[i - 1] - 1;
		}
		if (up || down)
			return true;
	}
	return false;
}

enum pw_strength
password_strength(const char *pw)
{
	uint32_t win[PW_SEQ_LEN] = {0}; /* the last code points, oldest 1st */
	bool lower = false, upper = false, digit = false, other = false;
	bool penalty = false;
	size_t count = 0, col;
	int classes, level;

	if (pw == NULL || !utf8_valid(pw, strlen(pw)))
		return PW_WEAK;
	for (const char *s = pw; *s != '\0'; count++) {
		uint32_t c;
		s += pw_decode(s, &c);
		if (c >= 'a' && c <= 'z')
			lower = true;
		else if (c >= 'A' && c <= 'Z')
			upper = true;
		else if (c >= '0' && c <= '9')
			digit = true;
		else
			other = true;
		memmove(win, win + 1, sizeof(win) - sizeof(win[0]));
		win[PW_SEQ_LEN - 1] = c;
		if (count + 1 >= PW_RUN_LEN &&
		    win[PW_SEQ_LEN - 1] == win[PW_SEQ_LEN - 2] &&
		    win[PW_SEQ_LEN - 2] == win[PW_SEQ_LEN - 3])
			penalty = true;
		if (count + 1 >= PW_SEQ_LEN && pw_is_sequence(win))
			penalty = true;
	}
	explicit_bzero(win, sizeof(win));

	classes = lower + upper + digit + other;
	if (classes == 0)
		return PW_WEAK;
	col = classes >= 3   ? COL_3_CLASSES
	      : classes == 2 ? COL_2_CLASSES
			     : COL_1_CLASS;
	level = PW_WEAK;
	for (int l = PW_MEDIUM; l <= PW_STRONG; l++)
		if (count >= strength_min[l][col])
			level = l;
	if (penalty && level > PW_WEAK)
		level--;
	return (enum pw_strength)level;
}

/* ASCII case-insensitive equality of a[0..alen) and the string b. */
static bool
pw_equal_ci(const char *a, size_t alen, const char *b)
{
	if (strlen(b) != alen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (ascii_lower_cp((unsigned char)a[i]) !=
		    ascii_lower_cp((unsigned char)b[i]))
			return false;
	return true;
}

static bool
pw_blank(const char *pw)
{
	return pw[strspn(pw, " \t\r\n\v\f")] == '\0';
}

static int pw_prepare(const struct config *cfg, const char *pw, uint8_t **norm,
		      const uint8_t **out, size_t *outlen);
static void pw_release(uint8_t *norm, size_t len);

/* password_check() on pw as it will be hashed. */
static enum pwr_err
pw_check_form(const struct config *cfg, const struct banned *b, const char *pw,
	      const char *username, const char *email, bool admin)
{
	size_t len, cp;

	len = strlen(pw);
	if (!utf8_valid(pw, len) || pw_blank(pw))
		return PWR_E_PASSWORD_WEAK;
	cp = utf8_count(pw);
	if (cp >= PASSWORD_MAX_CP)
		return PWR_E_PASSWORD_WEAK;
	if (username != NULL && pw_equal_ci(pw, len, username))
		return PWR_E_PASSWORD_USER;

	/* The banned list: common passwords, the email, its local part and
	 * the site's own domain. */
	if (banned_contains(b, pw))
		return PWR_E_PASSWORD_WEAK;
	if (email != NULL) {
		const char *at = strrchr(email, '@');
		if (pw_equal_ci(pw, len, email))
			return PWR_E_PASSWORD_WEAK;
		if (at != NULL && (size_t)(at - email) == len &&
		    pw_equal_ci(email, len, pw))
			return PWR_E_PASSWORD_WEAK;
	}
	if (cfg->service.emaildomain != NULL &&
	    pw_equal_ci(pw, len, cfg->service.emaildomain))
		return PWR_E_PASSWORD_WEAK;

	switch (cfg->password.policy) {
	case POLICY_NIST:
		/* No composition rules: length and the list only. */
		if (cp < (size_t)cfg->password.min_length)
			return PWR_E_PASSWORD_WEAK;
		return PWR_OK;
	case POLICY_PAGESEEDER:
		break;
	}
	if (password_strength(pw) < (admin ? PW_STRONG : PW_MEDIUM))
		return PWR_E_PASSWORD_WEAK;
	return PWR_OK;
}

enum pwr_err
password_check(const struct config *cfg, const struct banned *b, const char *pw,
	       const char *username, const char *email, bool admin)
{
	uint8_t *norm = NULL;
	const uint8_t *in = NULL;
	size_t inlen = 0;
	char *form;
	enum pwr_err rc;

	if (pw == NULL)
		return PWR_E_PASSWORD_WEAK;
	if (cfg->password.policy != POLICY_NIST)
		return pw_check_form(cfg, b, pw, username, email, admin);
	/* Under nist the hash is of the NFKC form, so the banned list, the
	 * username and the length must judge that form too: "ｐａｓｓｗｏｒｄ"
	 * (full-width) is "password" once normalised. */
	if (pw_prepare(cfg, pw, &norm, &in, &inlen) != 0)
		return PWR_E_PASSWORD_WEAK;
	form = malloc(inlen + 1);
	if (form == NULL)
		abort(); /* as everywhere: allocation failure aborts */
	memcpy(form, in, inlen);
	form[inlen] = '\0';
	/* An embedded NUL cannot come from a C string's normal form, but a
	 * shorter string would then be judged than hashed: refuse it. */
	rc = strlen(form) != inlen
		 ? PWR_E_PASSWORD_WEAK
		 : pw_check_form(cfg, b, form, username, email, admin);
	explicit_bzero(form, inlen + 1);
	free(form);
	pw_release(norm, inlen);
	return rc;
}

/*
 * The bytes to hash for pw: pw itself, or under nist its NFKC form in
 * *norm (malloc'd, the caller wipes and frees it).  -1 when pw is not
 * valid UTF-8 or cannot be normalised.
 */
static int
pw_prepare(const struct config *cfg, const char *pw, uint8_t **norm,
	   const uint8_t **out, size_t *outlen)
{
	size_t len = strlen(pw);

	*norm = NULL;
	if (!utf8_valid(pw, len))
		return -1;
	if (cfg->password.policy != POLICY_NIST) {
		*out = (const uint8_t *)pw;
		*outlen = len;
		return 0;
	}
	*norm =
	    u8_normalize(UNINORM_NFKC, (const uint8_t *)pw, len, NULL, outlen);
	if (*norm == NULL)
		return -1;
	*out = *norm;
	return 0;
}

static void
pw_release(uint8_t *norm, size_t len)
{
	if (norm == NULL)
		return;
	explicit_bzero(norm, len);
	free(norm);
}

int
password_hash(const struct config *cfg, const char *pw, char *phc,
	      size_t phclen)
{
	uint8_t salt[PW_SALT_LEN];
	uint8_t *norm = NULL;
	const uint8_t *in = NULL;
	size_t inlen = 0;
	int rc = -1;

	if (pw == NULL || phc == NULL || phclen == 0)
		return -1;
	if (pw_prepare(cfg, pw, &norm, &in, &inlen) != 0)
		goto out;
	if (token_random(salt, sizeof(salt)) != 0)
		goto out;
	if (argon2id_hash_encoded(cfg->argon2.t_cost, cfg->argon2.m_cost,
				  cfg->argon2.parallelism, in, inlen, salt,
				  sizeof(salt), PW_HASH_LEN, phc,
				  phclen) != ARGON2_OK)
		goto out;
	rc = 0;
out:
	explicit_bzero(salt, sizeof(salt));
	pw_release(norm, inlen);
	if (rc != 0)
		explicit_bzero(phc, phclen);
	return rc;
}

enum password_verdict
password_verify(const struct config *cfg, const char *phc, const char *pw)
{
	uint8_t *norm = NULL;
	const uint8_t *in = NULL;
	size_t inlen = 0;
	enum password_verdict rc = PASSWORD_VERIFY_ERROR;
	int r;

	if (pw == NULL || phc == NULL)
		return PASSWORD_VERIFY_ERROR;
	if (pw_prepare(cfg, pw, &norm, &in, &inlen) != 0)
		goto out;
	r = argon2id_verify(phc, in, inlen);
	if (r == ARGON2_OK)
		rc = PASSWORD_MATCH;
	else if (r == ARGON2_VERIFY_MISMATCH)
		rc = PASSWORD_MISMATCH;
out:
	pw_release(norm, inlen);
	return rc;
}

void
password_rule_text(const struct config *cfg, bool admin, char *out,
		   size_t outlen)
{
	const size_t *m = strength_min[admin ? PW_STRONG : PW_MEDIUM];

	if (cfg->password.policy == POLICY_NIST) {
		snprintf(out, outlen,
			 "Use at least %d characters (spaces count). Common "
			 "passwords and your username are refused.",
			 cfg->password.min_length);
		return;
	}
	snprintf(out, outlen,
		 "Use at least %zu characters mixing three kinds (lower-case "
		 "letters, upper-case letters, digits, other characters), or "
		 "%zu characters of two kinds, or %zu of one kind. A run like "
		 "\"aaa\" or a sequence like \"1234\" or \"abcd\" counts "
		 "against it; common passwords and your username are refused. "
		 "Fewer than %d characters.",
		 m[COL_3_CLASSES], m[COL_2_CLASSES], m[COL_1_CLASS],
		 PASSWORD_MAX_CP);
}
