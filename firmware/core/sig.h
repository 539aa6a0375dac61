/* sig.h: minisign signature checks and the trusted-comment grammar, for the token core.
 *
 * minisign's prehashed algorithm "ED": sig = Ed25519(sk, BLAKE2b-512(file)), and the global
 * signature gsig = Ed25519(sk, sig || trusted_comment) binds the trusted comment. Only "ED"
 * is accepted (legacy "Ed", which signs the raw file, is refused: accepting it would be a
 * downgrade, see DESIGN.md lessons). */
#ifndef TOKEN_CORE_SIG_H
#define TOKEN_CORE_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "secbool.h"

/* Returns sectrue only if sig verifies over prehash[64] with pk AND gsig verifies over
 * sig || tc[0..tc_len) with pk. tc_len <= 255. */
secbool sig_verify_minisign(const uint8_t prehash[64], const uint8_t sig[64],
                            const uint8_t gsig[64], const uint8_t *tc, size_t tc_len,
                            const uint8_t pk[32]) __attribute__((warn_unused_result));

/* The trusted comment is a line of whitespace-separated "key=value" or "key:value" items
 * (minisign's own default "timestamp:N\tfile:NAME\thashed" parses too: "hashed" is a bare
 * word and ignored). The token reads three keys; any other key is ignored; a key given twice
 * makes the comment malformed.
 *   mode=production | mode=drill   class of the file; absent means drill
 *   seq=N                          the appliance's own increasing file number (1..2^63-1)
 *   file=NAME                      if present, must equal the name the file is stored under */
typedef struct {
    int production;          /* 1 only for an explicit mode=production */
    int has_seq;
    uint64_t seq;
    const uint8_t *file;     /* points into the comment; NULL if absent */
    size_t file_len;
} sig_tc_info;

/* Parses tc. Returns 0, or -1 if malformed (bad byte, duplicate key, bad mode or seq value). */
int sig_tc_parse(const uint8_t *tc, size_t len, sig_tc_info *out);

#endif
