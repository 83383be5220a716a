/*
 * testmail.c — helpers of the mail module's tests (see testmail.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../test/support/testsupport.h"
#include "testmail.h"

const char *template_dir;
char *scratch;

int
testmail_init(const char *prog)
{
	static char tmpl[64];

	if ((template_dir = getenv("TEMPLATE_DIR")) == NULL) {
		fprintf(stderr, "TEMPLATE_DIR is not set\n");
		return 1;
	}
	snprintf(tmpl, sizeof(tmpl), "/tmp/pwr-%s-XXXXXX", prog);
	if ((scratch = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	return 0;
}

void
testmail_done(void)
{
	rm_tree(scratch);
}

char *
mkscratch(const char *name)
{
	char *d = xasprintf("%s/%s", scratch, name);

	assert_int_equal(mkdir(d, 0700), 0);
	return d;
}

void
put(const char *dir, const char *rel, const char *content)
{
	char *path = xasprintf("%s/%s", dir, rel), *slash;
	FILE *f;

	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0700) != 0)
		assert_int_equal(errno, EEXIST);
	*slash = '/';
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* A template folder with the real default set (symlinked) next to the
 * sets a test writes itself. */
char *
mkset_dir(const char *name)
{
	char *d = mkscratch(name);
	char *src = xasprintf("%s/default", template_dir);
	char *dst = xasprintf("%s/default", d);

	assert_int_equal(symlink(src, dst), 0);
	free(src);
	free(dst);
	return d;
}

char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

void
sample_values(struct mail_values *v)
{
	memset(v, 0, sizeof(*v));
	v->v[MAIL_VAR_HOSTURL] = "http://localhost:8080";
	v->v[MAIL_VAR_EMAILDOMAIN] = "example.org";
	v->v[MAIL_VAR_REASON] = "member";
	v->v[MAIL_VAR_TOKEN] = TOKEN;
	v->v[MAIL_VAR_VALIDITY] = "12 hours";
	v->v[MAIL_VAR_MEMBER_ID] = "42";
	v->v[MAIL_VAR_MEMBER_USERNAME] = "jsmith";
	v->v[MAIL_VAR_MEMBER_FIRSTNAME] = "Jane";
	v->v[MAIL_VAR_MEMBER_LASTNAME] = "Smith";
	v->v[MAIL_VAR_MEMBER_FULLNAME] = "Jane Smith";
	v->v[MAIL_VAR_MEMBER_EMAIL] = "jane@example.org";
	v->v[MAIL_VAR_MEMBER_STATUS] = "activated";
	v->v[MAIL_VAR_GROUP_NAME] = "Acme";
	v->v[MAIL_VAR_GROUP_DESCRIPTION] = "Acme Corporation members";
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The decoded body of the part of this Content-Type (quoted-printable
 * undone, CRLF turned into LF). */
char *
part_decoded(const char *msg, const char *type)
{
	char *hdr = xasprintf("Content-Type: %s; charset=utf-8\r\n", type);
	const char *b, *e, *p;
	char *out, *o;

	b = strstr(msg, hdr);
	free(hdr);
	assert_non_null(b);
	assert_non_null(b = strstr(b, "\r\n\r\n"));
	b += 4;
	assert_non_null(e = strstr(b, "\r\n--=_"));
	o = out = malloc((size_t)(e - b) + 1);
	for (p = b; p < e;) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 3;
		} else if (p[0] == '=') {
			assert_true(hexval(p[1]) >= 0 && hexval(p[2]) >= 0);
			*o++ = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 3;
		} else if (p[0] == '\r' && p[1] == '\n') {
			*o++ = '\n';
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* CRLF everywhere, 7-bit, lines within limits (76 in bodies). */
void
check_format(const char *msg)
{
	const char *p, *line = msg;
	bool in_body = false;

	for (p = msg; *p != '\0'; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\r')
			assert_int_equal(p[1], '\n');
		if (*p == '\n') {
			size_t len;

			assert_true(p > line && p[-1] == '\r');
			len = (size_t)(p - 1 - line);
			if (len == 0)
				in_body = true;
			if (in_body && len > 76)
				fail_msg("body line of %zu chars: %.*s", len,
					 (int)len, line);
			assert_true(len <= 78 || !strncmp(line, "To: ", 4));
			line = p + 1;
		}
	}
	assert_true(p > msg && p[-1] == '\n');
}

const char *
header_line(const char *msg, const char *name)
{
	char *needle = xasprintf("\r\n%s: ", name);
	const char *p;

	if (strncmp(msg, needle + 2, strlen(needle) - 2) == 0)
		p = msg;
	else if ((p = strstr(msg, needle)) != NULL)
		p += 2;
	free(needle);
	return p;
}

int
count_headers(const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg;
	size_t n = strlen(name);
	int count = 0;

	assert_non_null(end);
	while (p < end) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			count++;
		p = strstr(p, "\r\n") + 2;
	}
	return count;
}

/* Run check_message.py on msg; 0 when every check passed. */
int
python_check(const char *msg, const char *args)
{
	char *path = xasprintf("%s/check.eml", scratch);
	char *cmd;
	FILE *f;
	int rc;

	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(msg, 1, strlen(msg), f), strlen(msg));
	assert_int_equal(fclose(f), 0);
	cmd = xasprintf("%s %s/testdata/check_message.py %s %s", TEST_PYTHON,
			template_dir, path, args);
	rc = system(cmd);
	free(cmd);
	free(path);
	return rc;
}

struct mail_templates *
load_ok(const char *dir, const char *link)
{
	char err[512] = "";
	struct mail_templates *t =
	    mail_templates_load(dir, link, err, sizeof(err));

	if (t == NULL)
		fail_msg("load %s: %s", dir, err);
	return t;
}

void
render_ok(const struct mail_templates *t, const char *const *sets,
	  enum mail_kind kind, const struct mail_values *v,
	  struct mail_message *m)
{
	char err[512] = "";

	if (mail_render(t, sets, kind, v, FROM, "jane@example.org",
			"example.org", m, err, sizeof(err)) != 0)
		fail_msg("render: %s", err);
	check_format(m->text);
}
