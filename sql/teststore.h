/*
 * teststore.h — what the test-store-*.c programs share: the fixture
 * (a raw libpq connection, the store under test, three members) and the
 * helpers that reach past the store API.
 *
 * PWRESET_TEST_PG is the libpq conninfo of an empty throwaway database:
 * the setups below drop every table and function in its current schema
 * (test/support/testpg.h).  Concurrency is tested with forked processes,
 * each with its own connection, started together through a pipe.  The raw
 * connection sets up states the store API cannot reach (held row locks,
 * old rows) and checks what the API does not return.  Failures end the
 * running test through cmocka's assertions.
 */
#ifndef PWR_TESTSTORE_H
#define PWR_TESTSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "sql/store.h"

#define PHC "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"

extern const char *conninfo;
extern PGconn *raw;
extern struct store *st;
/* Member ids: made by teststore_setup_members(), or by test_members. */
extern int64_t alice, bob, carol;

extern const struct store_mail mail_reset, mail_changed;

int64_t mono_ms(void);
void sleep_ms(int ms);
/* A distinct, recognisable 32-byte hash per n. */
void hash_of(uint8_t h[STORE_HASH_LEN], int n);
/* Run q on connection c; false (and c's message) when it failed. */
bool try_sql(PGconn *c, const char *q);
void sql_on(PGconn *c, const char *q);
void sql(const char *q); /* on raw */
__attribute__((format(printf, 1, 2))) long long sql_int(const char *fmt, ...);
/* The conninfo with application_name set, to find that session again. */
char *conninfo_named(const char *name);
/* Terminate the sessions named name and wait until they are gone. */
void terminate(PGconn *c, const char *name);
/* Drop everything a previous run left in the current schema. */
void reset_db(void);
/* A TCP port on 127.0.0.1 nobody listens on (just released by us). */
int closed_port(void);
bool iso_utc(const char *s);

/*
 * Fork n children, each with its own connected store; they wait on a
 * pipe and start fn together when the parent closes it.  codes[i]: the
 * exit status of child i (fn's return), or 200+ when setup failed.
 */
typedef int race_fn(struct store *s, int out, void *arg);
void race(int n, race_fn *fn, void *arg, int out, int *codes);

/* store_member_find() on st. */
int find(const char *user, const char *email, int64_t group,
	 struct store_member *m);

/* Group setups (cmocka), from the emptiest: raw and st, nothing else;
 * an emptied schema, migrated; that and alice, bob and carol as
 * test_members (test-store-admin.c) leaves them. */
int teststore_setup(void **state);
int teststore_setup_migrated(void **state);
int teststore_setup_members(void **state);
int teststore_teardown(void **state);

#endif
