/* libFuzzer target: the minisign public-key and signature parsers (app/sig/minisig.c). The
 * input is split at the first NUL: a public key text, then a signature text over "data". */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sig/minisig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            return 0;
        ready = 1;
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t klen = nul ? (size_t)(nul - data) : size;
    minisig_pubkey pk;
    if (minisig_pubkey_parse((const char *)data, klen, &pk) != 0)
        memset(&pk, 0x5a, sizeof pk);
    if (nul) {
        char tc[MINISIG_TC_MAX + 1];
        const char *sig = (const char *)nul + 1;
        size_t slen = size - klen - 1;
        if (minisig_verify(&pk, (const uint8_t *)"data", 4, sig, slen, tc, sizeof tc) == 0)
            __builtin_trap(); /* nothing random may verify */
    }
    return 0;
}
