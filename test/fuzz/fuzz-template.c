/*
 * fuzz-template.c — libFuzzer target for the mail templates
 * (mail-templates/mail.c): loading, placeholder parsing, rendering and
 * the MIME message around it.
 *
 * The input is split at NUL bytes:
 *
 *	MODE \0 SUBJECT \0 TXT \0 HTML \0 LINK_TEMPLATE \0 FROM \0 TO \0
 *	VALUE(hosturl) \0 VALUE(emaildomain) \0 ... one per enum mail_var
 *
 * SUBJECT, TXT and HTML are written as the files of a template set "fuzz"
 * (or, MODE bit 4, over the "default" set itself) in a private temporary
 * folder, for the kind MODE bit 0 picks; MODE bits 1–3 leave a file out.
 * The set is loaded with mail_templates_load() and both kinds are rendered
 * with the values from the input.  A complete minimal "default" set is
 * written once at start.  Empty FROM / TO slots use fixed good ones.
 *
 * Checked beyond "no crash": a rendered message is 7-bit, CRLF only,
 * every line at most 998 bytes, and its header block holds exactly one
 * From, To and Subject (no injected header).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail-templates/mail.h"
#include "slots.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum slot {
	SLOT_MODE,
	SLOT_SUBJECT,
	SLOT_TXT,
	SLOT_HTML,
	SLOT_LINK,
	SLOT_FROM,
	SLOT_TO,
	SLOT_VALUES,
	SLOT__MAX = SLOT_VALUES + MAIL_VAR__MAX
};

static const char *const exts[3] = {"subject", "txt", "html"};

/* Minimal default set: every placeholder once, in each part. */
static const char default_subject[] = "Reset {member.username} on {hosturl}";
static const char default_body[] =
    "{hosturl} {emaildomain} {reason} {token} {link} {validity} "
    "{member.id} {member.username} {member.firstname} {member.lastname} "
    "{member.fullname} {member.email} {member.status} {group.name} "
    "{group.description}\n";

static char root[4096]; /* the temporary template_dir */

static void
write_file(const char *set, const char *name, const char *s, size_t n)
{
	char path[8192];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", root, set, name);
	/* A fresh file, not O_TRUNC: ext4 flushes a truncated-and-rewritten
	 * file on close (auto_da_alloc), which would make every run wait. */
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (n > 0 && write(fd, s, n) != (ssize_t)n)) {
		perror(path);
		abort();
	}
	close(fd);
}

static void
remove_file(const char *set, const char *name)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s/%s", root, set, name);
	(void)unlink(path);
}

static void
write_default(void)
{
	char name[128];

	for (int k = 0; k < MAIL__MAX; k++)
		for (int p = 0; p < 3; p++) {
			const char *s = p == 0 ? default_subject : default_body;

			snprintf(name, sizeof(name), "%s.%s",
				 mail_kind_name((enum mail_kind)k), exts[p]);
			write_file("default", name, s, strlen(s));
		}
	/* The default set must also hold every page (SPEC §9). */
	for (int k = 0; k < PAGE__MAX; k++) {
		static const char page[] = "<p>{page.message}</p>";

		snprintf(name, sizeof(name), "%s.html",
			 page_name((enum page_kind)k));
		write_file("default", name, page, sizeof(page) - 1);
	}
}

static void
remove_root(void)
{
	static const char *const sets[] = {"default", "fuzz"};
	char path[8192];

	if (root[0] == '\0')
		return;
	for (size_t i = 0; i < 2; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", root, sets[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				remove_file(sets[i], de->d_name);
		closedir(d);
		(void)rmdir(path);
	}
	(void)rmdir(root);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[8192];

	(void)argc;
	(void)argv;
	snprintf(root, sizeof(root), "%s/fuzz-template.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror(root);
		abort();
	}
	atexit(remove_root);
	snprintf(path, sizeof(path), "%s/default", root);
	if (mkdir(path, 0700) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/fuzz", root);
	if (mkdir(path, 0700) != 0)
		abort();
	write_default();
	return 0;
}

/* A header block line that starts with name (case-insensitive). */
static int
count_header(const char *msg, size_t hlen, const char *name)
{
	size_t n = strlen(name);
	int count = 0;

	for (size_t i = 0; i < hlen; i++)
		if ((i == 0 || msg[i - 1] == '\n') && hlen - i >= n &&
		    strncasecmp(msg + i, name, n) == 0)
			count++;
	return count;
}

static void
check_message(const struct mail_message *m)
{
	const char *t = m->text, *hend;
	size_t len = strlen(t), col = 0, hlen;

	if (strpbrk(m->subject, "\r\n") != NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '\n') {
			if (i == 0 || t[i - 1] != '\r')
				abort(); /* bare LF */
			col = 0;
			continue;
		}
		if (c == '\r') {
			if (i + 1 >= len || t[i + 1] != '\n')
				abort(); /* bare CR */
			continue;
		}
		if (c >= 0x7f || (c < 0x20 && c != '\t'))
			abort(); /* not 7-bit printable */
		if (++col > 998)
			abort();
	}
	if ((hend = strstr(t, "\r\n\r\n")) == NULL)
		abort();
	hlen = (size_t)(hend - t) + 2;
	if (count_header(t, hlen, "From:") != 1 ||
	    count_header(t, hlen, "To:") != 1 ||
	    count_header(t, hlen, "Subject:") != 1 ||
	    count_header(t, hlen, "Bcc:") != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *slot[SLOT__MAX];
	struct mail_templates *t;
	struct mail_values vals = {{0}};
	const char *set, *from, *to, *link;
	const char *sets[] = {"fuzz", NULL};
	char err[512], name[128];
	size_t i;
	unsigned mode;
	enum mail_kind kind;

	copy = fuzz_slots(data, size, slot, SLOT__MAX, NULL);
	mode = slot[SLOT_MODE] ? (unsigned char)slot[SLOT_MODE][0] : 0;
	kind = (mode & 1) ? MAIL_CHANGE_PASSWORD : MAIL_RESET_CONFIRM;
	set = (mode & 16) ? "default" : "fuzz";

	for (int p = 0; p < 3; p++) {
		const char *text = slot[SLOT_SUBJECT + p];

		snprintf(name, sizeof(name), "%s.%s", mail_kind_name(kind),
			 exts[p]);
		if ((mode & (2u << p)) || text == NULL)
			remove_file(set, name);
		else
			write_file(set, name, text, strlen(text));
	}
	for (i = 0; i < MAIL_VAR__MAX; i++)
		vals.v[i] = slot[SLOT_VALUES + i];
	link = slot[SLOT_LINK];
	from = slot[SLOT_FROM] && *slot[SLOT_FROM]
		   ? slot[SLOT_FROM]
		   : "pwreset <noreply@example.org>";
	to = slot[SLOT_TO] && *slot[SLOT_TO] ? slot[SLOT_TO]
					     : "jane@example.org";

	err[0] = '\0';
	t = mail_templates_load(root, link, err, sizeof(err));
	if (t != NULL) {
		if (!mail_templates_has_set(t, "default"))
			abort();
		for (int k = 0; k < MAIL__MAX; k++) {
			struct mail_message m;

			if (mail_render(t, sets, (enum mail_kind)k, &vals, from,
					to, "example.org", &m, err,
					sizeof(err)) == 0)
				check_message(&m);
			else if (m.text != NULL || m.subject != NULL)
				abort(); /* out left empty on failure */
			mail_message_free(&m);
			mail_message_free(&m);
		}
		mail_templates_free(t);
	} else if (err[0] == '\0') {
		abort(); /* a failure always says why */
	}
	/* Leave the default set whole for the next input. */
	if (mode & 16)
		write_default();
	free(copy);
	return 0;
}
