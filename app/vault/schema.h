/* schema: the vault database's tables, created once and checked at every open. */
#ifndef RL_SCHEMA_H
#define RL_SCHEMA_H

#include <sqlite3.h>

/* Creates every table (inside the caller's transaction) and sets user_version. */
int schema_apply(sqlite3 *db) __attribute__((warn_unused_result));

/* RL_EINTEGRITY unless the database carries the schema version this program knows or one
 * it can upgrade from; *upgrade_from is then that older version (else 0). */
int schema_check(sqlite3 *db, int *upgrade_from) __attribute__((warn_unused_result));

/* Brings a version-*from* database to this program's version (inside the caller's
 * transaction): tables added, nothing rewritten. */
int schema_upgrade(sqlite3 *db, int from) __attribute__((warn_unused_result));

#endif
