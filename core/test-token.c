/*
 * test-token.c — token generation, base64url, SHA-256, comparison.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "token.h"

static void
test_new(void **state)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	int seen[256] = {0};

	(void)state;
	memset(a, '*', sizeof(a));
	assert_int_equal(token_new(a), 0);
	assert_int_equal(strlen(a), TOKEN_LEN);
	assert_true(token_well_formed(a));
	assert_int_equal(token_new(b), 0);
	assert_string_not_equal(a, b);

	/* Over many tokens every character is from the alphabet and most of
	 * the alphabet shows up (1000 x 32 draws of 64 symbols). */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(token_new(a), 0);
		assert_int_equal(strlen(a), TOKEN_LEN);
		for (size_t j = 0; j < TOKEN_LEN; j++)
			seen[(unsigned char)a[j]]++;
	}
	for (int c = 0; c < 256; c++) {
		bool in = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_';
		if (in && seen[c] == 0)
			fail_msg("'%c' never drawn", c);
		if (!in && seen[c] != 0)
			fail_msg("byte %d drawn", c);
	}
}

static void
test_encode(void **state)
{
	/* RFC 4648 §10, without padding */
	static const struct {
		const char *in, *out;
	} vec[] = {
	    {"", ""},
	    {"f", "Zg"},
	    {"fo", "Zm8"},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"},
	    {"fooba", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy"},
	};
	static const uint8_t url[] = {0xfb, 0xff}; /* "+/8=" in base64 */
	uint8_t ones[TOKEN_BYTES];
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		memset(out, '*', sizeof(out));
		token_encode((const uint8_t *)vec[i].in, strlen(vec[i].in),
			     out);
		assert_string_equal(out, vec[i].out);
	}
	token_encode(url, sizeof(url), out);
	assert_string_equal(out, "-_8");
	memset(ones, 0xff, sizeof(ones));
	token_encode(ones, sizeof(ones), out);
	assert_string_equal(out, "________________________________");
	assert_true(token_well_formed(out));
}

static void
test_well_formed(void **state)
{
	(void)state;
	assert_true(token_well_formed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-_"));
	assert_true(token_well_formed("0123456789012345678901234567890_"));
	assert_false(token_well_formed(NULL));
	assert_false(token_well_formed(""));
	assert_false(token_well_formed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-"));
	assert_false(token_well_formed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-_A"));
	assert_false(token_well_formed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd+/"));
	assert_false(token_well_formed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd=="));
	assert_false(token_well_formed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd \n"));
}

static void
test_hash(void **state)
{
	static const uint8_t abc[TOKEN_HASH_LEN] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	static const uint8_t empty[TOKEN_HASH_LEN] = {
	    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};
	uint8_t h[TOKEN_HASH_LEN];

	(void)state;
	token_hash("abc", h);
	assert_memory_equal(h, abc, TOKEN_HASH_LEN);
	token_hash("", h);
	assert_memory_equal(h, empty, TOKEN_HASH_LEN);
}

static void
test_hash_equal(void **state)
{
	uint8_t a[TOKEN_HASH_LEN], b[TOKEN_HASH_LEN];

	(void)state;
	token_hash("abc", a);
	token_hash("abc", b);
	assert_true(token_hash_equal(a, b));
	for (size_t i = 0; i < TOKEN_HASH_LEN; i++) {
		b[i] ^= 0x01; /* any single bit anywhere matters */
		assert_false(token_hash_equal(a, b));
		b[i] ^= 0x01;
	}
	b[TOKEN_HASH_LEN - 1] ^= 0x80;
	assert_false(token_hash_equal(a, b));
	token_hash("abd", b);
	assert_false(token_hash_equal(a, b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new),		cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_well_formed), cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_hash_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
