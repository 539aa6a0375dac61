/* vault: the appliance's encrypted store, its operators and its audit log.
 *
 * A vault is a directory (mode 0700) holding:
 *   vault.db   the SQLite database, every page sealed by the vfs shim (vfs.h)
 *   keyring    the data key wrapped per operator (keyring.h)
 *   lock       an flock(2) file: one process uses a vault at a time
 * Opening a vault authenticates an operator: the passphrase unwraps the data key, the
 * sealed database must open and carry the same vault id as the keyring, and the operator
 * must be active in the database, which alone holds the roles.
 *
 * Every change goes through vault_begin/vault_commit and appends to the audit log, a
 * hash chain (BLAKE2b-256 over the previous hash and the entry) inside the database. */
#ifndef RL_VAULT_H
#define RL_VAULT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct vault vault;

typedef enum {
    VAULT_ROLE_REGISTRAR = 1,
    VAULT_ROLE_APPROVER = 2,
    VAULT_ROLE_ADMIN = 4
} vault_role;

/* Minimum length of a new passphrase, in bytes. */
#define VAULT_PASSPHRASE_MIN 10

/* Creates a new vault in dir (which must not exist, or be empty) with one administrator.
 * Returns 0 or RL_EDATA (dir in use, weak passphrase), RL_EIO. */
int vault_create(const char *dir, const char *admin, const char *pass, size_t pass_len)
    __attribute__((warn_unused_result));

/* Opens dir as operator name. Before the key derivation it waits a delay that grows with
 * the operator's consecutive failures (1, 2, 4 ... 30 s). Returns 0 and *out, or RL_EAUTH
 * (wrong passphrase, unknown or removed operator), RL_EINTEGRITY (tampered or damaged
 * vault), RL_EBUSY (in use), RL_EDATA (no vault there). */
int vault_open(const char *dir, const char *name, const char *pass, size_t pass_len,
               vault **out) __attribute__((warn_unused_result));

/* Closes (checkpointing the WAL into the database) and wipes the key. Accepts NULL. */
void vault_close(vault *v);

/* The connection, for modules that keep their tables in the vault. Do not close it. */
sqlite3 *vault_db(vault *v);
const char *vault_dir(const vault *v);
const char *vault_operator(const vault *v);
vault_role vault_operator_role(const vault *v);

/* The number of transactions committed to this vault so far (the commit record's value):
 * shown by status so operators can note it; a later, lower number means a rolled-back vault. */
uint64_t vault_commits(const vault *v);

/* The connection's page cache in KiB, and setting it (PRAGMA cache_size) for one large
 * operation, which puts it back after: best effort, only a size, nothing depends on it. */
int64_t vault_cache_kib(vault *v);
void vault_cache_set(vault *v, int64_t kib);

/* RL_EAUTH with a message naming the action unless the operator has one of roles (a mask). */
int vault_require_role(const vault *v, unsigned roles, const char *action)
    __attribute__((warn_unused_result));

const char *vault_role_name(vault_role r);
int vault_role_parse(const char *s, vault_role *out) __attribute__((warn_unused_result));

/* One write transaction (BEGIN IMMEDIATE). vault_commit bumps the vault's commit counter
 * in the same transaction. vault_rollback is a no-op outside a transaction. */
int vault_begin(vault *v) __attribute__((warn_unused_result));
int vault_commit(vault *v) __attribute__((warn_unused_result));
void vault_rollback(vault *v);

/* Appends an audit entry by the current operator (inside the caller's transaction). */
int vault_audit(vault *v, const char *action, const char *detail)
    __attribute__((warn_unused_result));

/* Verifies the whole audit chain; RL_EINTEGRITY naming the first bad entry. */
int vault_audit_verify(vault *v, uint64_t *entries) __attribute__((warn_unused_result));

/* Prints the audit log (sequence, time, operator, action, detail), text or JSON. */
int vault_audit_list(vault *v, int json, FILE *out) __attribute__((warn_unused_result));

/* Adds an operator (administrators only), or re-keys an existing one's passphrase. */
int vault_operator_add(vault *v, const char *name, vault_role role, const char *pass,
                       size_t pass_len) __attribute__((warn_unused_result));

/* Two-person control (docs/signing.md). The logged-in operator's signing-share key (32
 * bytes, derived from their passphrase; wiped at vault_close). */
const uint8_t *vault_share_key(const vault *v);

/* Authenticates a second operator, name, in the open vault for action (an audit line):
 * must differ from the logged-in operator, know their passphrase (with the same growing
 * delay and failure count as a login), belong to this vault and hold one of roles.
 * Writes their share key into share (sodium_malloc'd, 32 bytes). RL_EAUTH otherwise. */
int vault_authenticate_second(vault *v, const char *name, const char *pass, size_t pass_len,
                              unsigned roles, const char *action, uint8_t *share)
    __attribute__((warn_unused_result));

/* Unwraps approver name's X25519 secret key with their share key into box_sk
 * (sodium_malloc'd, 32 bytes) and gives its public half. RL_EAUTH if it does not open. */
int vault_signer_unwrap(vault *v, const char *name, const uint8_t *share, uint8_t *box_sk,
                        uint8_t box_pk[32]) __attribute__((warn_unused_result));

/* Maps an SQLite result to an RL_E* code and records a message that starts with what. */
int vault_sql_error(vault *v, int sqlite_rc, const char *what);

/* PRAGMA integrity_check plus the audit chain: 0 or RL_EINTEGRITY. */
int vault_check(vault *v) __attribute__((warn_unused_result));

/* Reads/writes a configuration value in the vault (meta table, key prefixed "config.").
 * vault_config_get returns RL_EDATA if the key is absent; out is NUL-terminated. */
int vault_config_get(vault *v, const char *key, char *out, size_t cap)
    __attribute__((warn_unused_result));
int vault_config_set(vault *v, const char *key, const char *value)
    __attribute__((warn_unused_result));

#ifdef RL_BENCH_PLAIN
/* Benchmarks only: open and create vaults on plain SQLite (no sealing). */
void vault_bench_set_plain(int on);
#endif

/* Current time as ISO 8601 UTC ("2026-11-24T10:00:00Z") into out[21]. */
void vault_now(char out[21]);

#endif
