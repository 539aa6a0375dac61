/* vfs: an SQLite VFS shim that seals every database and WAL page at rest.
 *
 * Each 4096-byte page is sealed with XChaCha20-Poly1305 (libsodium) under the vault's
 * data key: bytes [0, 4056) are encrypted, the 40 reserved bytes hold a fresh random
 * nonce (24) and the tag (16). The associated data binds the file kind, the page number
 * and, in the WAL, the frame's offset, so a page moved, swapped or altered fails to open
 * and SQLite sees SQLITE_IOERR_DATA. Only the main database and its WAL may be opened
 * through it: temporary files, statement journals and rollback journals are refused so
 * that nothing unsealed reaches the disk (the vault runs with temp_store=MEMORY,
 * journal_mode=WAL and locking_mode=EXCLUSIVE, so SQLite never needs them).
 *
 * What per-page sealing cannot detect (replay of an older sealed file, deletion of the
 * -wal, truncation to zero) is handled above this layer; see docs/vault.md. */
#ifndef RL_VFS_H
#define RL_VFS_H

#include <stdint.h>

#define VFS_PAGE_SIZE 4096
#define VFS_RESERVE 40

typedef struct vfs_ctx vfs_ctx;

/* Registers a new VFS instance bound to a copy of key (kept in sodium_malloc'd memory).
 * *name receives the VFS name to pass to sqlite3_open_v2 (owned by the context).
 * Returns 0 or a negative RL_E* code. */
int vfs_create(const uint8_t key[32], vfs_ctx **out, const char **name)
    __attribute__((warn_unused_result));

/* Unregisters the VFS and wipes the key. Every connection using it must be closed first.
 * Accepts NULL. */
void vfs_destroy(vfs_ctx *ctx);

/* Copies the data key into out (the caller's sodium_malloc'd 32 bytes), for wrapping it
 * for a new operator. */
int vfs_copy_key(const vfs_ctx *ctx, uint8_t out[32]) __attribute__((warn_unused_result));

/* Authenticates every page of the database file at path (outside SQLite, so free pages
 * are covered too). Returns 0 and the page count, or RL_EINTEGRITY naming the first page
 * that fails (or a size that is not a whole number of pages). */
int vfs_verify_file(vfs_ctx *ctx, const char *path, uint64_t *pages)
    __attribute__((warn_unused_result));

/* Number of pages that failed authentication since the context was created (for
 * reporting: an integrity failure is also returned to SQLite as SQLITE_IOERR_DATA). */
uint64_t vfs_auth_failures(const vfs_ctx *ctx);

/* Counters of seal and open operations, for benchmarks. */
void vfs_stats(const vfs_ctx *ctx, uint64_t *seals, uint64_t *opens);

#endif
