/*
 * testmail.h — what the mail module's test programs (test-mail, test-mime,
 * test-smtp) share: a scratch folder, template sets written on the fly,
 * rendering that must succeed, and checks of a message's format (byte by
 * byte here, parsed by /usr/bin/python3's email package through
 * testdata/check_message.py).  Failures end the running test through
 * cmocka's assertions.
 */
#ifndef PWR_TESTMAIL_H
#define PWR_TESTMAIL_H

#include <stddef.h>

#include "mail.h"

#define FROM  "pwreset <noreply@example.org>"
#define TOKEN "Tok_en-0123456789abcdefghijklmnop"

extern const char *template_dir; /* $TEMPLATE_DIR: this folder */
extern char *scratch;		 /* per-run temporary folder */

/* Set template_dir and make scratch ("/tmp/pwr-<prog>-XXXXXX"); 0, or 1
 * with a message on stderr. */
int testmail_init(const char *prog);
/* Remove scratch. */
void testmail_done(void);

char *mkscratch(const char *name);
void put(const char *dir, const char *rel, const char *content);
char *mkset_dir(const char *name);
char *slurp(const char *path);
void sample_values(struct mail_values *v);
char *part_decoded(const char *msg, const char *type);
void check_format(const char *msg);
const char *header_line(const char *msg, const char *name);
int count_headers(const char *msg, const char *name);
int python_check(const char *msg, const char *args);
struct mail_templates *load_ok(const char *dir, const char *link);
void render_ok(const struct mail_templates *t, const char *const *sets,
	       enum mail_kind kind, const struct mail_values *v,
	       struct mail_message *m);

#endif
