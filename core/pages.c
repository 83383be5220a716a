/*
 * pages.c — the pages of SPEC §9 through the template sets (see pages.h).
 */
#include "pages.h"
#include "../mail-templates/mail.h"

int
pages_render(const struct reset_env *env, const char *const *sets,
	     enum page_kind kind, const struct page_values *vals, char **out,
	     size_t *outlen, char *err, size_t errlen)
{
	return mail_page_render(env->templates, sets, kind, vals, out, outlen,
				err, errlen);
}

const char *
pages_name(enum page_kind kind)
{
	return page_name(kind);
}
