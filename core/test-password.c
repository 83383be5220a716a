/*
 * test-password.c — strength table, penalties, password_check(), the
 * banned list and Argon2id hashing (at a low cost).
 *
 * SRCDIR (set by meson) points at the project root, for
 * core/testdata/banned.txt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "password.h"

/* SPEC §6, again, written out independently of password.c. */
static const struct {
	const char *pattern; /* repeated; no runs, no sequences */
	int col;	     /* 0: 3-4 classes, 1: 2 classes, 2: 1 class */
} patterns[] = {
    {"aB3", 0}, {"aB3!", 0}, {"x1", 1}, {"Xy", 1},
    {"q!", 1},	{"ab", 2},   {"13", 2}, {"!?", 2},
};
static const size_t table[3][3] = {
    /* MEDIUM */ {7, 8, 12},
    /* GOOD */ {9, 12, 14},
    /* STRONG */ {12, 15, 18},
};

/* pattern repeated (by character) up to n characters */
static char *
repeat(char *buf, const char *pattern, size_t n)
{
	size_t plen = strlen(pattern);

	for (size_t i = 0; i < n; i++)
		buf[i] = pattern[i % plen];
	buf[n] = '\0';
	return buf;
}

static const char *
level_name(enum pw_strength s)
{
	static const char *const names[] = {"WEAK", "MEDIUM", "GOOD", "STRONG"};
	return (unsigned)s < 4 ? names[s] : "?";
}

static void
test_strength_table(void **state)
{
	char buf[64];

	(void)state;
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		int col = patterns[p].col;
		for (int l = 0; l < 3; l++) {
			size_t n = table[l][col];
			enum pw_strength want = (enum pw_strength)(l + 1);
			enum pw_strength got;

			repeat(buf, patterns[p].pattern, n);
			got = password_strength(buf);
			if (got != want)
				fail_msg("\"%s\" (%zu): got %s, want %s", buf,
					 n, level_name(got), level_name(want));
			repeat(buf, patterns[p].pattern, n - 1);
			got = password_strength(buf);
			if (got != want - 1)
				fail_msg("\"%s\" (%zu): got %s, want %s", buf,
					 n - 1, level_name(got),
					 level_name(want - 1));
		}
		/* long enough for STRONG stays STRONG */
		repeat(buf, patterns[p].pattern, 40);
		assert_int_equal(password_strength(buf), PW_STRONG);
	}
	assert_int_equal(password_strength(""), PW_WEAK);
	assert_int_equal(password_strength("a"), PW_WEAK);
	assert_int_equal(password_strength(NULL), PW_WEAK);
	assert_int_equal(password_strength("bad\xc3"), PW_WEAK);
}

/* Length is code points: "é" is 2 bytes and counts once ("other"). */
static void
test_strength_code_points(void **state)
{
	char buf[64] = "";

	(void)state;
	/* lower + other = 2 classes: MEDIUM at 8 code points */
	for (int i = 0; i < 7; i++)
		strcat(buf, i % 2 ? "a" : "\xc3\xa9");
	assert_int_equal(strlen(buf), 11);		   /* 11 bytes ... */
	assert_int_equal(password_strength(buf), PW_WEAK); /* ... 7 cp */
	strcat(buf, "a");
	assert_int_equal(password_strength(buf), PW_MEDIUM);
	/* a 4-byte character is one code point too */
	strcpy(buf, "ab\xf0\x9f\x98\x80"
		    "ab\xf0\x9f\x98\x80"
		    "ab");
	assert_int_equal(password_strength(buf), PW_MEDIUM); /* 8 cp */
	buf[strlen(buf) - 1] = '\0';
	assert_int_equal(password_strength(buf), PW_WEAK); /* 7 cp */
}

static void
test_strength_penalty(void **state)
{
	static const char *const lowered[] = {
	    "aB3!aB3!aaa!",  /* run of 3 */
	    "aB3!aB3!!!!x",  /* run of 4 is still one run */
	    "aB3!abcd3!aB",  /* abcd */
	    "aB3!dcba3!aB",  /* dcba */
	    "aB3!1234a!aB",  /* 1234 */
	    "aB3!4321a!aB",  /* 4321 */
	    "aB3!qwer3!aB",  /* keyboard row */
	    "aB3!REWQ3!aB",  /* reversed, upper case */
	    "aB3!aSdF3!aB",  /* mixed case */
	    "aB3!zxcv3!aB",  /* bottom row */
	    "aB3!lkjh3!aB",  /* middle row backwards */
	    "aB3!7890a!aB",  /* number row */
	    "aB3!WxYz3!aB",  /* case-insensitive alphabet */
	    "aaa1234qwerBB", /* several: still only one level */
	};
	static const char *const kept[] = {
	    "aB3!aB3!aB3!", /* no penalty: STRONG */
	    "aB3!aa3!abc!", /* two identical, three in a row */
	    "aB3!abce3!aB", /* broken sequence */
	    "aB3!qwea3!aB", /* broken row */
	    "aB3!poiq3!aB", /* broken row backwards */
	    "aB3!aAa!3!aB", /* a/A are not identical */
	    "aB3!xyza3!aB", /* the alphabet does not wrap */
	    "aB3!plmo3!aB", /* not a row */
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(lowered) / sizeof(lowered[0]); i++)
		if (password_strength(lowered[i]) != PW_GOOD)
			fail_msg("\"%s\": %s, want GOOD", lowered[i],
				 level_name(password_strength(lowered[i])));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (password_strength(kept[i]) != PW_STRONG)
			fail_msg("\"%s\": %s, want STRONG", kept[i],
				 level_name(password_strength(kept[i])));
	/* MEDIUM -> WEAK, GOOD -> MEDIUM; WEAK stays WEAK */
	assert_int_equal(password_strength("aB3!aaa"), PW_WEAK);
	assert_int_equal(password_strength("aB3!aB3!a"), PW_GOOD);
	assert_int_equal(password_strength("aB3!1234a"), PW_MEDIUM);
	assert_int_equal(password_strength("aaa"), PW_WEAK);
	assert_int_equal(password_strength("abcd"), PW_WEAK);
	/* one class, STRONG length, with a sequence */
	repeat(buf, "ab", 18);
	assert_int_equal(password_strength(buf), PW_STRONG);
	memcpy(buf + 4, "wxyz", 4);
	assert_int_equal(password_strength(buf), PW_GOOD);
	/* identical non-ASCII characters make a run */
	assert_int_equal(password_strength("aB3!aB3!\xc3\xa9\xc3\xa9\xc3\xa9x"),
			 PW_GOOD);
}

struct fixture {
	struct config cfg;
	struct banned *banned;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *srcdir = getenv("SRCDIR");
	char path[512], err[512] = "";

	if (f == NULL)
		return -1;
	config_defaults(&f->cfg);
	f->cfg.argon2.m_cost = 64; /* KiB: fast tests */
	f->cfg.argon2.t_cost = 1;
	snprintf(path, sizeof(path), "%s/core/testdata/banned.txt",
		 srcdir != NULL ? srcdir : "..");
	f->banned = banned_load(path, err, sizeof(err));
	if (f->banned == NULL) {
		fprintf(stderr, "banned_load: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	banned_free(f->banned);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static void
test_banned_list(void **state)
{
	struct fixture *f = *state;

	assert_true(banned_contains(f->banned, "password1"));
	assert_true(banned_contains(f->banned, "PassWord1"));
	assert_true(banned_contains(f->banned, "letmein123"));
	assert_true(banned_contains(f->banned, "LETMEIN123"));
	assert_true(banned_contains(f->banned, "Correct-Horse-Battery-9"));
	assert_true(banned_contains(f->banned, "crlf-entry-2024"));
	assert_true(banned_contains(f->banned, "last-line-no-newline"));
	assert_true(banned_contains(f->banned, "#not-a-comment"));
	assert_false(banned_contains(f->banned, "password"));
	assert_false(banned_contains(f->banned, "password12"));
	assert_false(banned_contains(f->banned, ""));
	assert_false(banned_contains(f->banned, "   "));
	assert_false(banned_contains(
	    f->banned,
	    "#!comment: A small banned-password list for test-password.c."));
	assert_false(banned_contains(NULL, "password1"));
	assert_false(banned_contains(f->banned, NULL));
	banned_free(NULL);
}

static void
test_banned_errors(void **state)
{
	char dir[] = "/tmp/pwreset-test-banned.XXXXXX";
	char path[128], err[256], want[256];
	struct banned *b;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/list", dir);

	b = banned_load(path, err, sizeof(err));
	assert_null(b);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);

	/* 256 bytes are fine, 257 are not, and the line number is told */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "#!comment: x\nabc\n%0256d\n\n%0257d\n", 0, 0);
	fclose(fp);
	b = banned_load(path, err, sizeof(err));
	assert_null(b);
	snprintf(want, sizeof(want), "%s:5: line longer than 256 bytes", path);
	assert_string_equal(err, want);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fwrite("abc\nd\0e\n", 1, 8, fp);
	fclose(fp);
	b = banned_load(path, err, sizeof(err));
	assert_null(b);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	assert_string_equal(err, want);

	/* an empty list is a list */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	b = banned_load(path, err, sizeof(err));
	assert_non_null(b);
	assert_false(banned_contains(b, "password1"));
	banned_free(b);

	unlink(path);
	rmdir(dir);
}

/* The list pwreset ships with by default (Debian's john-data). */
static void
test_banned_john(void **state)
{
	char err[256];
	struct banned *b;

	(void)state;
	if (access("/usr/share/john/password.lst", R_OK) != 0) {
		skip();
		return;
	}
	b = banned_load("/usr/share/john/password.lst", err, sizeof(err));
	if (b == NULL)
		fail_msg("%s", err);
	assert_true(banned_contains(b, "123456"));
	assert_true(banned_contains(b, "Password1"));
	assert_true(banned_contains(b, "letmein"));
	assert_false(banned_contains(b, "Correct-Horse-Battery-9"));
	assert_false(banned_contains(
	    b, "#!comment: For more wordlists, see http://www.openwall.com/"
	       "wordlists/"));
	banned_free(b);
}

static void
test_check(void **state)
{
	struct fixture *f = *state;
	const struct config *cfg = &f->cfg;
	const struct banned *b = f->banned;
	char buf[512] = "";

	/* blank, too long */
	assert_int_equal(password_check(cfg, b, "", "jsmith", NULL, false),
			 PWR_E_PASSWORD_WEAK);
	assert_int_equal(password_check(cfg, b, "   \t", "jsmith", NULL, false),
			 PWR_E_PASSWORD_WEAK);
	assert_int_equal(password_check(cfg, b, NULL, "jsmith", NULL, false),
			 PWR_E_PASSWORD_WEAK);
	repeat(buf, "aB3!", 99);
	assert_int_equal(password_check(cfg, b, buf, "jsmith", NULL, true),
			 PWR_OK);
	repeat(buf, "aB3!", 100);
	assert_int_equal(password_check(cfg, b, buf, "jsmith", NULL, true),
			 PWR_E_PASSWORD_WEAK);
	/* 100 code points, not bytes: 99 x "é" + "a" is 199 bytes */
	buf[0] = '\0';
	for (int i = 0; i < 99; i++)
		strcat(buf, i % 2 ? "\xc3\xa9" : "\xc3\xa8");
	assert_int_equal(password_check(cfg, b, buf, "jsmith", NULL, false),
			 PWR_OK);
	strcat(buf, "a");
	assert_int_equal(password_check(cfg, b, buf, "jsmith", NULL, false),
			 PWR_E_PASSWORD_WEAK);
	assert_int_equal(
	    password_check(cfg, b, "bad\xc3", "jsmith", NULL, false),
	    PWR_E_PASSWORD_WEAK);

	/* the username, any case: 1016 */
	assert_int_equal(password_check(cfg, b, "Long.User-Name42",
					"long.user-name42", NULL, false),
			 PWR_E_PASSWORD_USER);
	assert_int_equal(password_check(cfg, b, "LONG.USER-NAME42",
					"Long.User-Name42", NULL, true),
			 PWR_E_PASSWORD_USER);
	assert_int_equal(password_check(cfg, b, "Long.User-Name42x",
					"long.user-name42", NULL, false),
			 PWR_OK);

	/* the list, any case */
	assert_int_equal(
	    password_check(cfg, b, "PASSWORD1", "jsmith", NULL, false),
	    PWR_E_PASSWORD_WEAK);
	assert_int_equal(password_check(cfg, b, "Correct-Horse-Battery-9",
					"jsmith", NULL, true),
			 PWR_E_PASSWORD_WEAK);
	assert_int_equal(password_check(cfg, NULL, "Correct-Horse-Battery-9",
					"jsmith", NULL, true),
			 PWR_OK);

	/* the email and its local part, any case */
	assert_int_equal(password_check(cfg, b, "strong.person-77@example.org",
					"jsmith",
					"Strong.Person-77@Example.org", false),
			 PWR_E_PASSWORD_WEAK);
	assert_int_equal(password_check(cfg, b, "STRONG.PERSON-77", "jsmith",
					"Strong.Person-77@Example.org", false),
			 PWR_E_PASSWORD_WEAK);
	assert_int_equal(
	    password_check(cfg, b, "Strong.Person-77", "jsmith", NULL, false),
	    PWR_OK);
	assert_int_equal(password_check(cfg, b, "Strong.Person-7", "jsmith",
					"Strong.Person-77@Example.org", false),
			 PWR_OK);
}

static void
test_check_emaildomain(void **state)
{
	struct fixture *f = *state;

	free(f->cfg.service.emaildomain);
	f->cfg.service.emaildomain = strdup("My-Company42.example");
	assert_non_null(f->cfg.service.emaildomain);
	assert_int_equal(password_check(&f->cfg, f->banned,
					"my-company42.EXAMPLE", "jsmith", NULL,
					true),
			 PWR_E_PASSWORD_WEAK);
	assert_int_equal(password_check(&f->cfg, f->banned,
					"my-company42.example!", "jsmith", NULL,
					true),
			 PWR_OK);
}

static void
test_check_levels(void **state)
{
	struct fixture *f = *state;
	const struct config *cfg = &f->cfg;

	/* GOOD is enough for a member, not for an admin */
	assert_int_equal(password_strength("Tr0ub4dor&"), PW_GOOD);
	assert_int_equal(
	    password_check(cfg, f->banned, "Tr0ub4dor&", "jsmith", NULL, false),
	    PWR_OK);
	assert_int_equal(
	    password_check(cfg, f->banned, "Tr0ub4dor&", "jsmith", NULL, true),
	    PWR_E_PASSWORD_WEAK);
	assert_int_equal(password_strength("Tr0ub4dor&3x"), PW_STRONG);
	assert_int_equal(password_check(cfg, f->banned, "Tr0ub4dor&3x",
					"jsmith", NULL, true),
			 PWR_OK);
	/* MEDIUM is the member floor */
	assert_int_equal(password_strength("aB3!aB3"), PW_MEDIUM);
	assert_int_equal(
	    password_check(cfg, f->banned, "aB3!aB3", "jsmith", NULL, false),
	    PWR_OK);
	assert_int_equal(
	    password_check(cfg, f->banned, "aB3!aB", "jsmith", NULL, false),
	    PWR_E_PASSWORD_WEAK);
	/* the penalty counts in the check too */
	assert_int_equal(
	    password_check(cfg, f->banned, "aB3!aaa", "jsmith", NULL, false),
	    PWR_E_PASSWORD_WEAK);
}

static void
test_check_nist(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = &f->cfg;

	cfg->password.policy = POLICY_NIST;
	cfg->password.min_length = 15;
	/* no composition rules: 15 lower-case letters with a run pass */
	assert_int_equal(password_check(cfg, f->banned, "zzzzzzzzzzzzzzz",
					"jsmith", NULL, true),
			 PWR_OK);
	assert_int_equal(password_check(cfg, f->banned, "zzzzzzzzzzzzzz",
					"jsmith", NULL, false),
			 PWR_E_PASSWORD_WEAK);
	/* code points */
	assert_int_equal(password_check(cfg, f->banned,
					"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
					"\xc3\xa9\xc3\xa9\xc3\xa9",
					"jsmith", NULL, false),
			 PWR_E_PASSWORD_WEAK);
	cfg->password.min_length = 8;
	assert_int_equal(
	    password_check(cfg, f->banned, "zzzzzzzz", "jsmith", NULL, false),
	    PWR_OK);
	assert_int_equal(
	    password_check(cfg, f->banned, "zzzzzzz", "jsmith", NULL, false),
	    PWR_E_PASSWORD_WEAK);
	/* the same list, the same username rule, the same upper bound */
	assert_int_equal(
	    password_check(cfg, f->banned, "Letmein123", "jsmith", NULL, false),
	    PWR_E_PASSWORD_WEAK);
	assert_int_equal(
	    password_check(cfg, f->banned, "JSMITH-x", "jsmith-x", NULL, false),
	    PWR_E_PASSWORD_USER);
	cfg->password.policy = POLICY_PAGESEEDER;
}

static void
test_hash_verify(void **state)
{
	struct fixture *f = *state;
	const struct config *cfg = &f->cfg;
	char phc[PHC_MAX], phc2[PHC_MAX], small[20];

	assert_int_equal(password_hash(cfg, "Tr0ub4dor&3x", phc, sizeof(phc)),
			 0);
	assert_int_equal(strncmp(phc, "$argon2id$v=19$m=64,t=1,p=1$", 28), 0);
	assert_int_equal(password_verify(cfg, phc, "Tr0ub4dor&3x"),
			 PASSWORD_MATCH);
	assert_int_equal(password_verify(cfg, phc, "Tr0ub4dor&3X"),
			 PASSWORD_MISMATCH);
	assert_int_equal(password_verify(cfg, phc, ""), PASSWORD_MISMATCH);
	/* a fresh salt every time */
	assert_int_equal(password_hash(cfg, "Tr0ub4dor&3x", phc2, sizeof(phc2)),
			 0);
	assert_string_not_equal(phc, phc2);
	assert_int_equal(password_verify(cfg, phc2, "Tr0ub4dor&3x"),
			 PASSWORD_MATCH);
	/* the cost is read from the hash, not the config */
	f->cfg.argon2.t_cost = 2;
	assert_int_equal(password_verify(cfg, phc, "Tr0ub4dor&3x"),
			 PASSWORD_MATCH);
	f->cfg.argon2.t_cost = 1;
	/* errors */
	assert_int_equal(password_verify(cfg, "$argon2id$garbage", "x"),
			 PASSWORD_VERIFY_ERROR);
	assert_int_equal(password_verify(cfg, "", "x"), PASSWORD_VERIFY_ERROR);
	assert_int_equal(password_verify(cfg, NULL, "x"),
			 PASSWORD_VERIFY_ERROR);
	assert_int_equal(password_verify(cfg, phc, NULL),
			 PASSWORD_VERIFY_ERROR);
	assert_int_equal(password_hash(cfg, "x", small, sizeof(small)), -1);
	assert_int_equal(password_hash(cfg, "bad\xc3", phc2, sizeof(phc2)), -1);
}

/* Under nist every check judges the NFKC form, the one that is hashed:
 * the full-width "ｐａｓｓｗｏｒｄ１" is the banned "password1". */
static void
test_check_nist_nfkc(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = &f->cfg;
	static const char wide_pw1[] = "\xef\xbd\x90\xef\xbd\x81\xef\xbd\x93"
				       "\xef\xbd\x93\xef\xbd\x97\xef\xbd\x8f"
				       "\xef\xbd\x92\xef\xbd\x84\xef\xbc\x91";
	static const char wide_user[] = "\xef\xbd\x8a\xef\xbd\x93\xef\xbd\x8d"
					"\xef\xbd\x89\xef\xbd\x94\xef\xbd\x88"
					"99"; /* ｊｓｍｉｔｈ99 */
	static const char lig4[] = "\xef\xac\x81\xef\xac\x81\xef\xac\x81"
				   "\xef\xac\x81"; /* ﬁﬁﬁﬁ: 8 code points */

	cfg->password.policy = POLICY_NIST;
	cfg->password.min_length = 8;
	assert_int_equal(
	    password_check(cfg, f->banned, wide_pw1, "jsmith", NULL, false),
	    PWR_E_PASSWORD_WEAK);
	assert_int_equal(
	    password_check(cfg, f->banned, wide_user, "jsmith99", NULL, false),
	    PWR_E_PASSWORD_USER);
	assert_int_equal(
	    password_check(cfg, f->banned, lig4, "jsmith", NULL, false),
	    PWR_OK);
	/* pageseeder hashes the bytes as given: no folding there */
	cfg->password.policy = POLICY_PAGESEEDER;
	assert_int_equal(
	    password_check(cfg, f->banned, wide_user, "jsmith99", NULL, false),
	    PWR_OK);
}

/* Under nist, "ﬁ" (U+FB01) and "fi" are the same password. */
static void
test_hash_nfkc(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = &f->cfg;
	static const char lig[] = "\xef\xac\x81sh-and-chips-99"; /* ﬁsh */
	static const char plain[] = "fish-and-chips-99";
	char phc[PHC_MAX];

	cfg->password.policy = POLICY_NIST;
	assert_int_equal(password_hash(cfg, lig, phc, sizeof(phc)), 0);
	assert_int_equal(password_verify(cfg, phc, plain), PASSWORD_MATCH);
	assert_int_equal(password_verify(cfg, phc, lig), PASSWORD_MATCH);
	assert_int_equal(password_verify(cfg, phc, "fish-and-chips-98"),
			 PASSWORD_MISMATCH);
	assert_int_equal(password_hash(cfg, plain, phc, sizeof(phc)), 0);
	assert_int_equal(password_verify(cfg, phc, lig), PASSWORD_MATCH);
	/* composed and decomposed "é" too */
	assert_int_equal(
	    password_hash(cfg, "caf\xc3\xa9-au-lait-77", phc, sizeof(phc)), 0);
	assert_int_equal(password_verify(cfg, phc, "cafe\xcc\x81-au-lait-77"),
			 PASSWORD_MATCH);

	/* pageseeder policy hashes the bytes as given */
	cfg->password.policy = POLICY_PAGESEEDER;
	assert_int_equal(password_hash(cfg, lig, phc, sizeof(phc)), 0);
	assert_int_equal(password_verify(cfg, phc, lig), PASSWORD_MATCH);
	assert_int_equal(password_verify(cfg, phc, plain), PASSWORD_MISMATCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strength_table),
	    cmocka_unit_test(test_strength_code_points),
	    cmocka_unit_test(test_strength_penalty),
	    cmocka_unit_test_setup_teardown(test_banned_list, setup, teardown),
	    cmocka_unit_test(test_banned_errors),
	    cmocka_unit_test(test_banned_john),
	    cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_emaildomain, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_check_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_nist, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_nist_nfkc, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hash_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash_nfkc, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
