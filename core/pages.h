/*
 * pages.h — the browser pages of SPEC §9 rendered for the transport.
 *
 * A thin facade over the template sets' mail_page_render(): fcgi/ fills a
 * struct page_values (common/pageview.h) and asks for a page here, so that
 * it needs no header from mail-templates/ (README, "Layout").  The texts
 * of the pages live in the template sets; nothing here decides anything.
 */
#ifndef PWR_PAGES_H
#define PWR_PAGES_H

#include <stddef.h>

#include "reset.h"
#include "../common/pageview.h"

/*
 * Render page kind with vals from env's template sets, along sets (a
 * NULL-ended preference list, "default" the last resort) into *out
 * (malloc'd, NUL-terminated, *outlen bytes; the caller wipes and frees
 * it: a page may carry a token).  0, or -1 with a reason in err.
 */
int pages_render(const struct reset_env *env, const char *const *sets,
		 enum page_kind kind, const struct page_values *vals,
		 char **out, size_t *outlen, char *err, size_t errlen);

/* "page-request", ... (for log lines); "unknown" out of range. */
const char *pages_name(enum page_kind kind);

#endif
