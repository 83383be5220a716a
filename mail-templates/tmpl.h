/*
 * tmpl.h — the parsed template sets, shared by loading (tmpl.c) and
 * rendering (mail.c) and private to mail-templates/: a template is a list
 * of segments, a set holds one template per mail part and page.
 */
#ifndef PWR_TMPL_H
#define PWR_TMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/setname.h"
#include "mail.h"

#define MAIL_SETS_MAX	 64	     /* sets under template_dir */
#define MAIL_FILE_MAX	 (64 * 1024) /* bytes per template file */
#define MAIL_DEFAULT_SET "default"
#define MAIL_DEFAULT_LINK                                                      \
	"{hosturl}/email/changepassword?member={member.id}&token={token}"

enum mail_part { PART_SUBJECT, PART_TEXT, PART_HTML, PART__MAX };

/* One piece of a template: literal text (var < 0) or a placeholder. */
struct seg {
	const char *lit;
	size_t len;
	int var;
};

struct tmpl {
	char *src; /* the file text; literal segments point into it */
	struct seg *segs;
	size_t nsegs;
};

struct tset {
	char name[SETNAME_MAX + 1];
	struct tmpl *parts[MAIL__MAX][PART__MAX]; /* NULL: not in this set */
	struct tmpl *pages[PAGE__MAX];		  /* NULL: not in this set */
};

struct mail_templates {
	struct tset *sets;
	size_t nsets;
	struct tmpl *link;
	bool link_default; /* the default link: gets &group= (SPEC §9) */
};

/* The placeholders a template may use: the mail values or the page
 * values; refused is one that names no value there (-1: none). */
struct var_table {
	const char *const *names;
	int n;
	int refused;
};

/* The set called name, or NULL. */
const struct tset *tmpl_set_find(const struct mail_templates *t,
				 const char *name);

#endif
