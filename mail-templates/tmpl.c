/*
 * tmpl.c — template sets: loading and placeholder parsing.
 *
 * Every template is parsed once, at load, into a list of segments (a
 * literal run or a placeholder); rendering (mail.c) walks that list and
 * never looks at braces again, so a value can never be read as a
 * placeholder.  The file text is kept and literal segments point into it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/setname.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "mail.h"
#include "tmpl.h"

static const char *const part_ext[PART__MAX] = {
    [PART_SUBJECT] = "subject",
    [PART_TEXT] = "txt",
    [PART_HTML] = "html",
};

static const char *const kind_names[MAIL__MAX] = {
    [MAIL_RESET_CONFIRM] = "reset-password-confirm",
    [MAIL_CHANGE_PASSWORD] = "change-password",
};
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == MAIL__MAX,
	       "kind_names out of step with enum mail_kind");

static const char *const var_names[MAIL_VAR__MAX] = {
    [MAIL_VAR_HOSTURL] = "hosturl",
    [MAIL_VAR_EMAILDOMAIN] = "emaildomain",
    [MAIL_VAR_REASON] = "reason",
    [MAIL_VAR_TOKEN] = "token",
    [MAIL_VAR_LINK] = "link",
    [MAIL_VAR_VALIDITY] = "validity",
    [MAIL_VAR_MEMBER_ID] = "member.id",
    [MAIL_VAR_MEMBER_USERNAME] = "member.username",
    [MAIL_VAR_MEMBER_FIRSTNAME] = "member.firstname",
    [MAIL_VAR_MEMBER_LASTNAME] = "member.lastname",
    [MAIL_VAR_MEMBER_FULLNAME] = "member.fullname",
    [MAIL_VAR_MEMBER_EMAIL] = "member.email",
    [MAIL_VAR_MEMBER_STATUS] = "member.status",
    [MAIL_VAR_GROUP_NAME] = "group.name",
    [MAIL_VAR_GROUP_DESCRIPTION] = "group.description",
};
_Static_assert(sizeof(var_names) / sizeof(var_names[0]) == MAIL_VAR__MAX,
	       "var_names out of step with enum mail_var");

/* The pages of SPEC §9 (see the end of this file). */
static const char *const page_names[PAGE__MAX];
static const char *const page_var_names[PAGE_VAR__MAX];
static int page_set_load(int sfd, const char *dir, struct tset *set, char *err,
			 size_t errlen);

const char *
mail_kind_name(enum mail_kind k)
{
	return (unsigned)k < MAIL__MAX ? kind_names[k] : "unknown";
}

const char *
mail_var_name(enum mail_var v)
{
	return (unsigned)v < MAIL_VAR__MAX ? var_names[v] : "unknown";
}

static void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	free(t->src);
	free(t->segs);
	free(t);
}

static void
tmpl_push(struct tmpl *t, size_t *cap, const char *lit, size_t len, int var)
{
	if (var < 0 && len == 0)
		return;
	if (t->nsegs == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		t->segs = xreallocarray(t->segs, *cap, sizeof(*t->segs));
	}
	t->segs[t->nsegs++] = (struct seg){lit, len, var};
}

static const struct var_table mail_vars = {var_names, MAIL_VAR__MAX, -1};
static const struct var_table link_vars = {var_names, MAIL_VAR__MAX,
					   MAIL_VAR_LINK};

static int
var_lookup(const struct var_table *vt, const char *name, size_t n)
{
	int v;

	for (v = 0; v < vt->n; v++)
		if (strlen(vt->names[v]) == n && !memcmp(vt->names[v], name, n))
			return v;
	return -1;
}

/*
 * Split src (taken over, freed on error) into segments.  "{" + [a-z.]+ +
 * "}" is a placeholder and must name a known value; any other brace is
 * literal text.  vt says which names are known and which one is refused
 * ({link} in the link template itself).
 */
static struct tmpl *
tmpl_parse(const char *label, char *src, const struct var_table *vt, char *err,
	   size_t errlen)
{
	struct tmpl *t;
	size_t i = 0, start = 0, cap = 0;

	t = xcalloc(1, sizeof(*t));
	t->src = src;
	while (src[i] != '\0') {
		size_t j = i + 1;
		int v;

		if (src[i] != '{') {
			i++;
			continue;
		}
		while ((src[j] >= 'a' && src[j] <= 'z') || src[j] == '.')
			j++;
		if (j == i + 1 || src[j] != '}') {
			i++;
			continue;
		}
		v = var_lookup(vt, src + i + 1, j - i - 1);
		if (v < 0 || v == vt->refused) {
			snprintf(err, errlen, "%s: %s placeholder {%.*s}",
				 label, v < 0 ? "unknown" : "self-referring",
				 (int)(j - i - 1), src + i + 1);
			tmpl_free(t);
			return NULL;
		}
		tmpl_push(t, &cap, src + start, i - start, -1);
		tmpl_push(t, &cap, NULL, 0, v);
		i = start = j + 1;
	}
	tmpl_push(t, &cap, src + start, i - start, -1);
	return t;
}

/*
 * Read name under dirfd.  1 with *out (NUL-terminated, malloc'd) when
 * read, 0 when the file does not exist, -1 on error.
 */
static int
read_file(int dirfd, const char *name, const char *label, char **out, char *err,
	  size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = -1;

	*out = NULL;
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", label, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", label);
		goto out;
	}
	if (st.st_size > MAIL_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", label,
			 MAIL_FILE_MAX);
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	/* Read one byte more than fstat said, to notice a growing file. */
	for (;;) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", label, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > (size_t)st.st_size) {
			snprintf(err, errlen, "%s: changed while read", label);
			goto out;
		}
	}
	if (!utf8_valid(buf, got)) {
		snprintf(err, errlen, "%s: not valid UTF-8 (or holds NUL)",
			 label);
		goto out;
	}
	buf[got] = '\0';
	/* A byte-order mark from an editor is not part of the text. */
	if (got >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
		memmove(buf, buf + 3, got - 2);
	*out = buf;
	buf = NULL;
	rc = 1;
out:
	free(buf);
	close(fd);
	return rc;
}

/* The subject is the first line of its file, trimmed. */
static int
subject_line(char *s, const char *label, char *err, size_t errlen)
{
	char *b = s, *e;

	e = b + strcspn(b, "\r\n");
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (b == e) {
		snprintf(err, errlen, "%s: empty subject", label);
		return -1;
	}
	memmove(s, b, (size_t)(e - b));
	s[e - b] = '\0';
	return 0;
}

/* Load the templates of one set folder; 0 with set->parts filled (maybe
 * all NULL), or -1. */
static int
set_load(int dirfd, const char *dir, struct tset *set, char *err, size_t errlen)
{
	char file[128], label[4096];
	int k, p, sfd, rc = 0;

	sfd = openat(dirfd, set->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, set->name,
			 strerror(errno));
		return -1;
	}
	for (k = 0; k < MAIL__MAX && rc == 0; k++) {
		for (p = 0; p < PART__MAX && rc == 0; p++) {
			char *src;
			int r;

			snprintf(file, sizeof(file), "%s.%s", kind_names[k],
				 part_ext[p]);
			snprintf(label, sizeof(label), "%s/%s/%s", dir,
				 set->name, file);
			r = read_file(sfd, file, label, &src, err, errlen);
			if (r <= 0) {
				rc = r;
				continue;
			}
			if (p == PART_SUBJECT &&
			    subject_line(src, label, err, errlen) != 0) {
				free(src);
				rc = -1;
				continue;
			}
			set->parts[k][p] =
			    tmpl_parse(label, src, &mail_vars, err, errlen);
			if (set->parts[k][p] == NULL)
				rc = -1;
		}
	}
	if (rc == 0)
		rc = page_set_load(sfd, dir, set, err, errlen);
	close(sfd);
	return rc;
}

static bool
set_empty(const struct tset *set)
{
	int k, p;

	for (k = 0; k < MAIL__MAX; k++)
		for (p = 0; p < PART__MAX; p++)
			if (set->parts[k][p] != NULL)
				return false;
	for (k = 0; k < PAGE__MAX; k++)
		if (set->pages[k] != NULL)
			return false;
	return true;
}

static void
set_clear(struct tset *set)
{
	int k, p;

	for (k = 0; k < MAIL__MAX; k++)
		for (p = 0; p < PART__MAX; p++) {
			tmpl_free(set->parts[k][p]);
			set->parts[k][p] = NULL;
		}
	for (k = 0; k < PAGE__MAX; k++) {
		tmpl_free(set->pages[k]);
		set->pages[k] = NULL;
	}
}

const struct tset *
tmpl_set_find(const struct mail_templates *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nsets; i++)
		if (strcmp(t->sets[i].name, name) == 0)
			return &t->sets[i];
	return NULL;
}

void
mail_templates_free(struct mail_templates *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nsets; i++)
		set_clear(&t->sets[i]);
	free(t->sets);
	tmpl_free(t->link);
	free(t);
}

struct mail_templates *
mail_templates_load(const char *dir, const char *link_template, char *err,
		    size_t errlen)
{
	struct mail_templates *t;
	const struct tset *def;
	struct dirent *de;
	DIR *d = NULL;
	char *src;
	int k, p;

	t = xcalloc(1, sizeof(*t));
	t->sets = xcalloc(MAIL_SETS_MAX, sizeof(*t->sets));

	if (link_template == NULL || *link_template == '\0')
		link_template = MAIL_DEFAULT_LINK;
	if (strlen(link_template) > MAIL_FILE_MAX ||
	    !utf8_valid(link_template, strlen(link_template))) {
		snprintf(err, errlen, "link_template: too long or not UTF-8");
		goto fail;
	}
	t->link_default = strcmp(link_template, MAIL_DEFAULT_LINK) == 0;
	src = xstrdup(link_template);
	if ((t->link = tmpl_parse("link_template", src, &link_vars, err,
				  errlen)) == NULL)
		goto fail;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct tset *set = &t->sets[t->nsets];
		struct stat st;

		/* Anything else in the folder (sources, README) is not a
		 * set; neither is a folder without templates (testdata). */
		if (!setname_valid(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (t->nsets == MAIL_SETS_MAX) {
			snprintf(err, errlen, "%s: more than %d template sets",
				 dir, MAIL_SETS_MAX);
			goto fail;
		}
		memcpy(set->name, de->d_name, strlen(de->d_name) + 1);
		if (set_load(dirfd(d), dir, set, err, errlen) != 0) {
			t->nsets++; /* so that mail_templates_free sees it */
			goto fail;
		}
		if (!set_empty(set))
			t->nsets++;
	}
	if (errno != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	closedir(d);
	d = NULL;

	if ((def = tmpl_set_find(t, MAIL_DEFAULT_SET)) == NULL) {
		snprintf(err, errlen, "%s/%s: no default template set", dir,
			 MAIL_DEFAULT_SET);
		goto fail;
	}
	for (k = 0; k < MAIL__MAX; k++)
		for (p = 0; p < PART__MAX; p++)
			if (def->parts[k][p] == NULL) {
				snprintf(err, errlen,
					 "%s/%s/%s.%s: missing (the default "
					 "set must hold every template)",
					 dir, MAIL_DEFAULT_SET, kind_names[k],
					 part_ext[p]);
				goto fail;
			}
	for (k = 0; k < PAGE__MAX; k++)
		if (def->pages[k] == NULL) {
			snprintf(err, errlen,
				 "%s/%s/%s.html: missing (the default set must "
				 "hold every page)",
				 dir, MAIL_DEFAULT_SET, page_names[k]);
			goto fail;
		}
	return t;
fail:
	if (d != NULL)
		closedir(d);
	mail_templates_free(t);
	return NULL;
}

/* Lay the sets of local_dir over t, file by file; 0 or -1 with err. */
static int
sets_overlay(struct mail_templates *t, const char *local_dir, char *err,
	     size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int rc = -1;

	if ((d = opendir(local_dir)) == NULL) {
		if (errno == ENOENT)
			return 0; /* nothing customised */
		snprintf(err, errlen, "%s: %s", local_dir, strerror(errno));
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct tset local, *set = NULL;
		struct stat st;
		size_t i;
		int k, p;

		if (!setname_valid(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		memset(&local, 0, sizeof(local));
		memcpy(local.name, de->d_name, strlen(de->d_name) + 1);
		if (set_load(dirfd(d), local_dir, &local, err, errlen) != 0) {
			set_clear(&local);
			goto out;
		}
		if (set_empty(&local))
			continue;
		for (i = 0; i < t->nsets && set == NULL; i++)
			if (strcmp(t->sets[i].name, local.name) == 0)
				set = &t->sets[i];
		if (set == NULL) {
			if (t->nsets == MAIL_SETS_MAX) {
				snprintf(err, errlen,
					 "%s: more than %d template sets",
					 local_dir, MAIL_SETS_MAX);
				set_clear(&local);
				goto out;
			}
			set = &t->sets[t->nsets++];
			memcpy(set->name, local.name, sizeof(set->name));
		}
		for (k = 0; k < MAIL__MAX; k++)
			for (p = 0; p < PART__MAX; p++) {
				if (local.parts[k][p] == NULL)
					continue;
				tmpl_free(set->parts[k][p]);
				set->parts[k][p] = local.parts[k][p];
			}
	}
	if (errno != 0) {
		snprintf(err, errlen, "%s: %s", local_dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

struct mail_templates *
mail_templates_load_local(const char *dir, const char *local_dir,
			  const char *link_template, char *err, size_t errlen)
{
	struct mail_templates *t =
	    mail_templates_load(dir, link_template, err, errlen);

	if (t == NULL || local_dir == NULL || *local_dir == '\0')
		return t;
	if (sets_overlay(t, local_dir, err, errlen) != 0) {
		mail_templates_free(t);
		return NULL;
	}
	return t;
}

bool
mail_templates_has_set(const struct mail_templates *t, const char *set)
{
	return t != NULL && set != NULL && tmpl_set_find(t, set) != NULL;
}

/* ---- pages (SPEC §9) ------------------------------------------------ */

static const char *const page_names[PAGE__MAX] = {
    [PAGE_REQUEST] = "page-request", [PAGE_SENT] = "page-sent",
    [PAGE_CHOOSE] = "page-choose",   [PAGE_INVALID] = "page-invalid",
    [PAGE_DONE] = "page-done",	     [PAGE_MESSAGE] = "page-message",
};
_Static_assert(sizeof(page_names) / sizeof(page_names[0]) == PAGE__MAX,
	       "page_names out of step with enum page_kind");

static const char *const page_var_names[PAGE_VAR__MAX] = {
    [PAGE_VAR_BASE] = "page.base",
    [PAGE_VAR_HOSTURL] = "hosturl",
    [PAGE_VAR_TITLE] = "page.title",
    [PAGE_VAR_MESSAGE] = "page.message",
    [PAGE_VAR_RULE] = "page.rule",
    [PAGE_VAR_MEMBER] = "form.member",
    [PAGE_VAR_TOKEN] = "form.token",
    [PAGE_VAR_GROUP] = "form.group",
    [PAGE_VAR_USERNAME] = "form.username",
    [PAGE_VAR_IDENTIFIER] = "form.identifier",
    [PAGE_VAR_ERROR_IDENTIFIER] = "error.identifier",
    [PAGE_VAR_ERROR_PASSWORD] = "error.password",
    [PAGE_VAR_ERROR_CONFIRM] = "error.confirm",
    [PAGE_VAR_INVALID_IDENTIFIER] = "invalid.identifier",
    [PAGE_VAR_INVALID_PASSWORD] = "invalid.password",
    [PAGE_VAR_INVALID_CONFIRM] = "invalid.confirm",
    [PAGE_VAR_GROUP_NAME] = "group.name",
};
_Static_assert(sizeof(page_var_names) / sizeof(page_var_names[0]) ==
		   PAGE_VAR__MAX,
	       "page_var_names out of step with enum page_var");

static const struct var_table page_vars = {page_var_names, PAGE_VAR__MAX, -1};

const char *
page_name(enum page_kind k)
{
	return (unsigned)k < PAGE__MAX ? page_names[k] : "unknown";
}

const char *
page_var_name(enum page_var v)
{
	return (unsigned)v < PAGE_VAR__MAX ? page_var_names[v] : "unknown";
}

/* The pages of one set folder (sfd); 0 with set->pages filled (maybe all
 * NULL), or -1. */
static int
page_set_load(int sfd, const char *dir, struct tset *set, char *err,
	      size_t errlen)
{
	char file[128], label[4096];

	for (int k = 0; k < PAGE__MAX; k++) {
		char *src;
		int r;

		snprintf(file, sizeof(file), "%s.html", page_names[k]);
		snprintf(label, sizeof(label), "%s/%s/%s", dir, set->name,
			 file);
		if ((r = read_file(sfd, file, label, &src, err, errlen)) < 0)
			return -1;
		if (r == 0)
			continue;
		set->pages[k] = tmpl_parse(label, src, &page_vars, err, errlen);
		if (set->pages[k] == NULL)
			return -1;
	}
	return 0;
}
