/*
 * sqldump.c — print the store's SQL, so the database ceiling of
 * test/bench/run.sh runs the very statements pwreset prepares.
 *
 *   sqldump NAME...     one line "NAME<TAB>SQL" per prepared-statement name
 *                       (stmts[].name of sql/store.c, e.g. ratelimit_hit)
 *
 * Built by run.sh with `cc -I. … test/bench/sqldump.c -lpq`: it includes
 * sql/store.c itself, so the text can never drift from the store's.  The
 * statements are single lines (C string concatenation, no newlines).
 */
#include "sql/store.c"

/* store.c refers to the compiled-in migrations; none are needed here. */
const struct migration migrations[] = {{0, "", ""}};
const size_t migrations_count = 0;

int
main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		int s;

		for (s = 0; s < STMT__MAX; s++)
			if (strcmp(stmts[s].name, argv[i]) == 0)
				break;
		if (s == STMT__MAX) {
			fprintf(stderr, "sqldump: no statement '%s'\n",
				argv[i]);
			rc = 1;
			continue;
		}
		printf("%s\t%s\n", stmts[s].name, stmts[s].sql);
	}
	return rc;
}
