/* keyring: the vault's data key, wrapped once per operator.
 *
 * The keyring file sits next to the database (it must be readable before the database
 * can be opened). Each entry wraps the vault's random 256-bit data key with
 * XChaCha20-Poly1305 under a key derived from the operator's passphrase by Argon2id
 * (crypto_pwhash). The Argon2id parameters are pinned in every entry and must be at least
 * KEYRING_OPSLIMIT / KEYRING_MEMLIMIT (libsodium's MODERATE in 1.0.18: 3 passes, 256 MiB),
 * so a changed library default can never make a vault unopenable. The associated data
 * binds each wrapped key to the vault id and the operator's name, so entries cannot be
 * swapped between operators or vaults.
 *
 * Roles are NOT in the keyring (it is not encrypted): they live in the sealed database.
 * The keyring also keeps a count of consecutive failed unlocks per operator, which drives
 * the growing delay; someone who can edit the file could reset it, but such a person can
 * attack the wrapped keys offline anyway (documented in docs/vault.md).
 *
 * File format (little-endian), version 1:
 *   "RLKEYRG1" | u32 version | u8 vault_id[16] | u32 count | entries
 *   entry: u8 name_len | name | u32 alg | u64 opslimit | u64 memlimit | u8 salt[16] |
 *          u8 nonce[24] | u8 wrapped[48] | u32 failures */
#ifndef RL_KEYRING_H
#define RL_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define KEYRING_OPSLIMIT 3ULL
#define KEYRING_MEMLIMIT (256ULL * 1024 * 1024)
#define KEYRING_NAME_MAX 64
#define KEYRING_MAX_ENTRIES 256

typedef struct keyring keyring;

/* Creates an empty keyring for a new vault with a random vault id (not yet written). */
int keyring_new(keyring **out) __attribute__((warn_unused_result));
/* Reads and parses path. RL_EDATA if missing, RL_EINTEGRITY if malformed. */
int keyring_load(const char *path, keyring **out) __attribute__((warn_unused_result));
/* Writes atomically (mode 0600). */
int keyring_save(const keyring *kr, const char *path) __attribute__((warn_unused_result));
void keyring_free(keyring *kr);

const uint8_t *keyring_vault_id(const keyring *kr);
/* True if an entry for name exists. */
int keyring_has(const keyring *kr, const char *name);
/* Consecutive failed unlocks recorded for name (0 if none or unknown). */
uint32_t keyring_failures(const keyring *kr, const char *name);

/* Wraps data_key for name under passphrase (replacing an existing entry for name). If
 * share_key is not NULL (sodium_malloc'd, 32 bytes) it receives the operator's signing-share
 * key, derived from the same passphrase derivation under another label: only this
 * passphrase yields it, and it changes whenever the passphrase is set (docs/signing.md). */
int keyring_set(keyring *kr, const char *name, const char *passphrase, size_t pass_len,
                const uint8_t data_key[32], uint8_t *share_key)
    __attribute__((warn_unused_result));

/* Unwraps the data key for name into data_key (caller's sodium_malloc'd 32 bytes).
 * On a wrong passphrase returns RL_EAUTH and increments the failure count (the caller
 * saves the keyring); on success resets it. Unknown name: RL_EAUTH. share_key as for
 * keyring_set (NULL: not wanted). */
int keyring_unlock(keyring *kr, const char *name, const char *passphrase, size_t pass_len,
                   uint8_t data_key[32], uint8_t *share_key) __attribute__((warn_unused_result));

/* Removes name's entry; 0 or RL_EDATA if absent. */
int keyring_remove(keyring *kr, const char *name) __attribute__((warn_unused_result));

#endif
