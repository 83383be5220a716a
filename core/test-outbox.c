/*
 * test-outbox.c — the outbox seal: key files, round trip, and every way a
 * sealed text must refuse to open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outbox.h"

#define KIND "reset-password-confirm"
#define RCPT "bob@example.org"
#define TEXT                                                                   \
	"Subject: Update your password\r\n\r\n"                                \
	"https://x.test/email/changepassword?member=1&token=SECRET\r\n"

static char dir[] = "/tmp/test-outbox-XXXXXX";

static void
path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* Write a key file holding text with the given mode. */
static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	path_of(path, sizeof(path), name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static struct outbox_key *
load(const char *name, char *err, size_t errlen)
{
	char path[512];

	path_of(path, sizeof(path), name);
	err[0] = '\0';
	return outbox_key_load(path, err, errlen);
}

static struct outbox_key *
make_key(const char *name)
{
	char path[512], err[256];
	struct outbox_key *k;

	path_of(path, sizeof(path), name);
	unlink(path);
	assert_int_equal(outbox_key_create(path, err, sizeof(err)), 0);
	k = outbox_key_load(path, err, sizeof(err));
	if (k == NULL)
		fail_msg("%s", err);
	return k;
}

static void
test_create(void **state)
{
	char path[512], err[256], buf[128];
	struct outbox_key *a, *b;
	struct stat st;
	ssize_t n;
	int fd;

	(void)state;
	umask(0);
	a = make_key("created.key");
	path_of(path, sizeof(path), "created.key");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 65);
	assert_int_equal(buf[64], '\n');
	assert_int_equal(strspn(buf, "0123456789abcdef"), 64);
	/* Never overwritten. */
	assert_int_equal(outbox_key_create(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists"));
	b = make_key("other.key");
	assert_memory_not_equal(a->k, b->k, OUTBOX_KEY_LEN);
	assert_string_equal(a->path, path);
	outbox_key_free(a);
	outbox_key_free(b);
	outbox_key_free(NULL);
	umask(022);
}

static void
test_key_file_errors(void **state)
{
	static const char good[] = "000102030405060708090a0b0c0d0e0f"
				   "101112131415161718191A1B1C1D1E1F";
	char err[256], text[256];
	struct outbox_key *k;

	(void)state;
	assert_null(load("absent.key", err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));

	write_file("ok.key", good, 0600);
	k = load("ok.key", err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(k->k[0], 0);
	assert_int_equal(k->k[31], 0x1f);
	outbox_key_free(k);
	snprintf(text, sizeof(text), "%s\r\n", good);
	write_file("crlf.key", text, 0640);
	k = load("crlf.key", err, sizeof(err));
	assert_non_null(k);
	outbox_key_free(k);

	write_file("short.key", "00112233\n", 0600);
	assert_null(load("short.key", err, sizeof(err)));
	assert_non_null(strstr(err, "64 hexadecimal digits"));
	snprintf(text, sizeof(text), "%s00\n", good);
	write_file("long.key", text, 0600);
	assert_null(load("long.key", err, sizeof(err)));
	assert_non_null(strstr(err, "64 hexadecimal digits"));
	write_file("empty.key", "", 0600);
	assert_null(load("empty.key", err, sizeof(err)));
	snprintf(text, sizeof(text), "%s\n", good);
	text[10] = 'g';
	write_file("nothex.key", text, 0600);
	assert_null(load("nothex.key", err, sizeof(err)));
	assert_non_null(strstr(err, "nothing else"));
	snprintf(text, sizeof(text), "%s\n\n", good);
	write_file("twolines.key", text, 0600);
	assert_null(load("twolines.key", err, sizeof(err)));

	write_file("world.key", good, 0644);
	assert_null(load("world.key", err, sizeof(err)));
	assert_non_null(strstr(err, "chmod o-rwx"));
	assert_null(load("", err, sizeof(err)));
	assert_null(load(".", err, sizeof(err)));
}

static void
test_round_trip(void **state)
{
	struct outbox_key *k = make_key("rt.key");
	char *s, *s2, *p;

	(void)state;
	s = outbox_seal(k, TEXT, KIND, RCPT);
	assert_non_null(s);
	assert_int_equal(strncmp(s, "v1:", 3), 0);
	assert_null(strstr(s, "SECRET"));
	assert_null(strstr(s, "Subject"));
	p = outbox_open(k, s, KIND, RCPT);
	assert_non_null(p);
	assert_string_equal(p, TEXT);
	free(p);
	/* A fresh nonce each time. */
	s2 = outbox_seal(k, TEXT, KIND, RCPT);
	assert_string_not_equal(s, s2);
	free(s2);
	free(s);
	/* Empty text. */
	s = outbox_seal(k, "", KIND, RCPT);
	p = outbox_open(k, s, KIND, RCPT);
	assert_non_null(p);
	assert_string_equal(p, "");
	free(p);
	free(s);
	outbox_key_free(k);
}

static void
test_refused(void **state)
{
	struct outbox_key *k = make_key("a.key"), *other = make_key("b.key");
	char *s, *t;
	size_t len;

	(void)state;
	s = outbox_seal(k, TEXT, KIND, RCPT);
	len = strlen(s);
	/* Wrong key, kind or recipient. */
	assert_null(outbox_open(other, s, KIND, RCPT));
	assert_null(outbox_open(k, s, "change-password", RCPT));
	assert_null(outbox_open(k, s, KIND, "eve@example.org"));
	assert_null(outbox_open(k, s, KIND "b", "ob@example.org"));
	/* Every character changed in turn (nonce, ciphertext, tag). */
	t = strdup(s);
	for (size_t i = 3; i < len; i++) {
		char c = t[i];

		t[i] = c == 'A' ? 'B' : 'A';
		if (c != '=')
			assert_null(outbox_open(k, t, KIND, RCPT));
		t[i] = c;
	}
	/* Truncated, extended, no prefix, another version, not base64. */
	t[len - 4] = '\0';
	assert_null(outbox_open(k, t, KIND, RCPT));
	free(t);
	len = strlen(s);
	t = malloc(len + 8 + 1);
	assert_non_null(t);
	memcpy(t, s, len);
	memcpy(t + len, "AAAAAAAA", 8 + 1);
	assert_null(outbox_open(k, t, KIND, RCPT));
	free(t);
	assert_null(outbox_open(k, s + 3, KIND, RCPT));
	t = strdup(s);
	t[1] = '2';
	assert_null(outbox_open(k, t, KIND, RCPT));
	t[1] = '1';
	t[10] = '*';
	assert_null(outbox_open(k, t, KIND, RCPT));
	free(t);
	assert_null(outbox_open(k, TEXT, KIND, RCPT));
	assert_null(outbox_open(k, "v1:", KIND, RCPT));
	assert_null(outbox_open(k, "v1:AAAA", KIND, RCPT));
	assert_null(outbox_open(k, "", KIND, RCPT));
	free(s);
	outbox_key_free(k);
	outbox_key_free(other);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create),
	    cmocka_unit_test(test_key_file_errors),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
