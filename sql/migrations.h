/*
 * migrations.h — the schema migrations compiled into the store.
 *
 * sql/embed.py generates the table from sql/migrations/NNN_name.sql at
 * build time, sorted by version (NNN).  Everything is static, read-only
 * data; store_migrate() applies the versions the database lacks.
 *
 * A migration runs inside the transaction that records it, so it must not
 * hold BEGIN/COMMIT nor anything that refuses a transaction block (CREATE
 * INDEX CONCURRENTLY, VACUUM).  A shipped migration is never edited: add
 * the next number.
 */
#ifndef PWR_MIGRATIONS_H
#define PWR_MIGRATIONS_H

#include <stddef.h>

struct migration {
	int version;	  /* the file's number prefix, unique, > 0 */
	const char *name; /* the rest of the file name, without ".sql" */
	const char *sql;  /* the file's text: one or more statements */
};

extern const struct migration migrations[];
extern const size_t migrations_count;

#endif
