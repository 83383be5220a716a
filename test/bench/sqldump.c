/*
 * sqldump.c — print the store's SQL, so the database ceiling of
 * test/bench/run.sh runs the very statements pwreset prepares.
 *
 *   sqldump NAME...     one line "NAME<TAB>SQL" per prepared-statement name
 *                       (the name in a statement table of sql/, e.g.
 *                       ratelimit_hit)
 *
 * Built by run.sh with `cc -I. … test/bench/sqldump.c BUILD/sql/libpwr_sql.a
 * -lpq`: it looks the statements up in the store's own tables, so the text
 * can never drift from the store's.  The statements are single lines (C
 * string concatenation, no newlines).
 */
#include <stdio.h>

#include "sql/store_impl.h"

int
main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const struct stmt_def *d = store_stmt_named(argv[i]);

		if (d == NULL) {
			fprintf(stderr, "sqldump: no statement '%s'\n",
				argv[i]);
			rc = 1;
			continue;
		}
		printf("%s\t%s\n", d->name, d->sql);
	}
	return rc;
}
