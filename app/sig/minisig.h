/* minisig: Ed25519 signatures in the minisign file formats.
 *
 * We write and read exactly what `minisign -S` / `minisign -V` do, so any receiver can
 * verify with the standard tool. Signing always uses the prehashed algorithm "ED"
 * (BLAKE2b-512 of the file, then Ed25519); verification accepts "ED" only (legacy "Ed"
 * is refused: we never produce it and accepting it would allow a downgrade). The trusted
 * comment is covered by the global signature and is how we bind metadata (file name,
 * time) to a signature.
 *
 * Formats (all base64 lines after an "untrusted comment: " line):
 *   public key:  "Ed" | key_id[8] | pk[32]
 *   secret key:  "Ed" | kdf "\0\0" (unencrypted only) | chk "B2" | salt[32] | ops[8] |
 *                mem[8] | key_id[8] | sk[64] | checksum[32] (BLAKE2b-256 of "Ed"|key_id|sk)
 *   signature:   "ED" | key_id[8] | sig[64], then "trusted comment: ...",
 *                then base64(global_sig[64]) over sig[64] || trusted comment bytes. */
#ifndef RL_MINISIG_H
#define RL_MINISIG_H

#include <stddef.h>
#include <stdint.h>

/* Longest trusted comment we write or accept (minisign allows more; we bound what an
 * attacker can make us copy, and 1024 is ample for "file, time, purpose" metadata). */
#define MINISIG_TC_MAX 1024
/* A buffer this large always holds a signature text we produce (comment at the limit). */
#define MINISIG_SIG_TEXT_MAX (MINISIG_TC_MAX + 512)

typedef struct {
    uint8_t key_id[8];
    uint8_t pk[32];
} minisig_pubkey;

/* A secret key lives in sodium_malloc'd memory; free with minisig_seckey_free. */
typedef struct minisig_seckey minisig_seckey;

/* A key id as minisign prints it (the 8 bytes as a little-endian number, 16 upper-case hex
 * digits): what operators compare between the appliance, the bank and a token. */
void minisig_key_id_hex(const uint8_t key_id[8], char out[17]);

/* Parses a public key file's text (two lines) or a bare base64 line. */
int minisig_pubkey_parse(const char *text, size_t len, minisig_pubkey *out)
    __attribute__((warn_unused_result));
/* Reads and parses a public key file. */
int minisig_pubkey_load(const char *path, minisig_pubkey *out)
    __attribute__((warn_unused_result));

/* Loads an unencrypted minisign secret key (minisign -G -W); checks its checksum and that
 * the Ed25519 secret key's public half matches its seed. minisign 0.10/0.11 write an
 * all-zero checksum for unencrypted keys (they only compute it when encrypting), so an
 * all-zero checksum is accepted and the seed check alone guards the key. Encrypted keys
 * are refused with RL_EDATA (the appliance unwraps its keys itself). The file is read
 * into sodium_malloc memory and wiped. */
int minisig_seckey_load(const char *path, minisig_seckey **out)
    __attribute__((warn_unused_result));
/* Creates a seckey from raw Ed25519 material (sk[64] as libsodium's, key_id[8]). */
int minisig_seckey_from_raw(const uint8_t sk[64], const uint8_t key_id[8], minisig_seckey **out)
    __attribute__((warn_unused_result));
void minisig_seckey_free(minisig_seckey *sk);
/* The raw material back (for sealing it elsewhere): raw must be sodium_malloc'd. */
void minisig_seckey_raw(const minisig_seckey *sk, uint8_t raw[64], uint8_t key_id[8]);
/* The public half of a secret key. */
void minisig_seckey_pubkey(const minisig_seckey *sk, minisig_pubkey *out);

/* Generates a new key pair; writes the public key file text into pub_text (NUL-terminated)
 * and the unencrypted secret key file text into sec_text. Both buffers >= 512 bytes. */
int minisig_keygen(const char *comment, char *pub_text, size_t pub_cap, char *sec_text,
                   size_t sec_cap) __attribute__((warn_unused_result));

/* Writes pk as a public key file's text (as minisign -G writes it: an untrusted comment
 * naming the key id and comment, then the base64 line) into out (>= 512 bytes). */
int minisig_pubkey_format(const minisig_pubkey *pk, const char *comment, char *out, size_t cap)
    __attribute__((warn_unused_result));

/* Signs data; writes the .minisig file text (NUL-terminated) into out (cap >= 512 for a
 * trusted comment up to 255 bytes, MINISIG_SIG_TEXT_MAX for any). trusted_comment must be
 * one line without '\n' or '\r' (at most MINISIG_TC_MAX bytes). Verifies the signature it
 * made before returning (DESIGN: verify our own signature right after signing). */
int minisig_sign(const minisig_seckey *sk, const uint8_t *data, size_t len,
                 const char *trusted_comment, char *out, size_t cap)
    __attribute__((warn_unused_result));

/* Verifies a .minisig text over data with pk. On success copies the trusted comment
 * (without the "trusted comment: " prefix) into tc (cap bytes, may be NULL). Returns 0, or
 * RL_EINTEGRITY with a precise message (malformed, wrong key id, bad signature, bad
 * global signature). */
int minisig_verify(const minisig_pubkey *pk, const uint8_t *data, size_t len,
                   const char *sig_text, size_t sig_len, char *tc, size_t tc_cap)
    __attribute__((warn_unused_result));

/* Convenience: verify file `path` against `path.minisig`. The data file is hashed as a
 * stream (no size limit); the signature file is read whole. A missing or unreadable
 * signature file is RL_EINTEGRITY (nothing can be trusted), a missing data file RL_EDATA. */
int minisig_verify_file(const minisig_pubkey *pk, const char *path, char *tc, size_t tc_cap)
    __attribute__((warn_unused_result));

/* Verifies bytes already read from path (data, len) against path.minisig: the bytes a
 * caller goes on to parse are the bytes verified, even if the file changes meanwhile. */
int minisig_verify_bytes(const minisig_pubkey *pk, const uint8_t *data, size_t len,
                         const char *path, char *tc, size_t tc_cap)
    __attribute__((warn_unused_result));

/* For a caller that signs a large buffer it then writes (the payment file): the prehash
 * (BLAKE2b-512, what the signature covers) computed once, signed, and after writing the
 * read-back check without hashing the data again. */
#define MINISIG_PREHASH_BYTES 64
void minisig_prehash(const uint8_t *data, size_t len, uint8_t hash[MINISIG_PREHASH_BYTES]);

/* minisig_sign over data whose prehash is hash (from minisig_prehash). */
int minisig_sign_prehash(const minisig_seckey *sk, const uint8_t hash[MINISIG_PREHASH_BYTES],
                         const char *trusted_comment, char *out, size_t cap)
    __attribute__((warn_unused_result));

/* The file `path` must hold exactly data (read back as a stream and compared byte for byte)
 * and `path.minisig` must verify with pk over hash, which the caller computed from data with
 * minisig_prehash: so the file on disk is data and its signature file is valid for it.
 * RL_EINTEGRITY naming what differs; RL_EIO if the file cannot be read. */
int minisig_verify_written(const minisig_pubkey *pk, const char *path, const uint8_t *data,
                           size_t len, const uint8_t hash[MINISIG_PREHASH_BYTES])
    __attribute__((warn_unused_result));

/* Convenience: sign file `path` and write `path.minisig` atomically (temp + rename), then
 * read the signature file back and verify it against the file (DESIGN: write atomically
 * and read back). */
int minisig_sign_file(const minisig_seckey *sk, const char *path, const char *trusted_comment)
    __attribute__((warn_unused_result));

#endif
