/* schema: the vault database's tables, created once and checked at every open. */
#ifndef RL_SCHEMA_H
#define RL_SCHEMA_H

#include <sqlite3.h>

/* Creates every table (inside the caller's transaction) and sets user_version. */
int schema_apply(sqlite3 *db) __attribute__((warn_unused_result));

/* RL_EINTEGRITY unless the database carries the schema version this program knows. */
int schema_check(sqlite3 *db) __attribute__((warn_unused_result));

#endif
