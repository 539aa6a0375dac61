/* keyring: per-operator wrapping of the vault data key (see keyring.h). */
#include "vault/keyring.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

#define MAGIC "RLKEYRG1"
#define VERSION 1u
#define SALT_LEN 16
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define WRAPPED_LEN (32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)

typedef struct {
    char name[KEYRING_NAME_MAX + 1];
    uint32_t alg;
    uint64_t opslimit;
    uint64_t memlimit;
    uint8_t salt[SALT_LEN];
    uint8_t nonce[NONCE_LEN];
    uint8_t wrapped[WRAPPED_LEN];
    uint32_t failures;
} entry;

struct keyring {
    uint8_t vault_id[16];
    size_t count;
    entry entries[KEYRING_MAX_ENTRIES];
};

_Static_assert(SALT_LEN == crypto_pwhash_SALTBYTES, "Argon2id salt length");

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int keyring_new(keyring **out)
{
    keyring *kr = calloc(1, sizeof *kr);
    *out = NULL;
    if (kr == NULL)
        return err_set(RL_ENOMEM, "keyring: out of memory");
    randombytes_buf(kr->vault_id, sizeof kr->vault_id);
    *out = kr;
    return RL_OK;
}

void keyring_free(keyring *kr)
{
    if (kr == NULL)
        return;
    sodium_memzero(kr, sizeof *kr);
    free(kr);
}

const uint8_t *keyring_vault_id(const keyring *kr) { return kr->vault_id; }

static entry *find(const keyring *kr, const char *name)
{
    for (size_t i = 0; i < kr->count; i++)
        if (strcmp(kr->entries[i].name, name) == 0)
            return (entry *)&kr->entries[i];
    return NULL;
}

int keyring_has(const keyring *kr, const char *name) { return find(kr, name) != NULL; }

uint32_t keyring_failures(const keyring *kr, const char *name)
{
    const entry *e = find(kr, name);
    return e ? e->failures : 0;
}

int keyring_load(const char *path, keyring **out)
{
    int rc = RL_EINTEGRITY;
    char *buf = NULL;
    size_t len = 0;
    keyring *kr = NULL;
    *out = NULL;
    rc = file_read_all(path, 1 << 20, &buf, &len);
    if (rc != RL_OK)
        goto cleanup;
    rc = RL_EINTEGRITY;
    const uint8_t *p = (const uint8_t *)buf;
    const uint8_t *end = p + len;
    if (len < 8 + 4 + 16 + 4 || memcmp(p, MAGIC, 8) != 0) {
        err_set(rc, "%s: not a Reservlön keyring", path);
        goto cleanup;
    }
    if (get32(p + 8) != VERSION) {
        err_set(rc, "%s: keyring version %u is not supported", path, get32(p + 8));
        goto cleanup;
    }
    kr = calloc(1, sizeof *kr);
    if (kr == NULL) {
        rc = err_set(RL_ENOMEM, "keyring: out of memory");
        goto cleanup;
    }
    memcpy(kr->vault_id, p + 12, 16);
    uint32_t count = get32(p + 28);
    p += 32;
    if (count > KEYRING_MAX_ENTRIES) {
        err_set(rc, "%s: keyring damaged (entry count)", path);
        goto cleanup;
    }
    for (uint32_t i = 0; i < count; i++) {
        entry *e = &kr->entries[i];
        if (p >= end || *p == 0 || *p > KEYRING_NAME_MAX ||
            (size_t)(end - p) < 1u + *p + 4 + 8 + 8 + SALT_LEN + NONCE_LEN + WRAPPED_LEN + 4) {
            err_set(rc, "%s: keyring damaged (entry %u)", path, i + 1);
            goto cleanup;
        }
        size_t nl = *p++;
        memcpy(e->name, p, nl);
        e->name[nl] = '\0';
        if (strlen(e->name) != nl) {
            err_set(rc, "%s: keyring damaged (entry %u name)", path, i + 1);
            goto cleanup;
        }
        p += nl;
        e->alg = get32(p);
        e->opslimit = get64(p + 4);
        e->memlimit = get64(p + 12);
        p += 20;
        memcpy(e->salt, p, SALT_LEN);
        p += SALT_LEN;
        memcpy(e->nonce, p, NONCE_LEN);
        p += NONCE_LEN;
        memcpy(e->wrapped, p, WRAPPED_LEN);
        p += WRAPPED_LEN;
        e->failures = get32(p);
        p += 4;
    }
    if (p != end) {
        err_set(rc, "%s: keyring damaged (trailing bytes)", path);
        goto cleanup;
    }
    kr->count = count;
    *out = kr;
    kr = NULL;
    rc = RL_OK;
cleanup:
    keyring_free(kr);
    free(buf);
    return rc;
}

int keyring_save(const keyring *kr, const char *path)
{
    size_t cap = 32 + kr->count * (1 + KEYRING_NAME_MAX + 20 + SALT_LEN + NONCE_LEN +
                                   WRAPPED_LEN + 4);
    uint8_t *buf = calloc(1, cap);
    if (buf == NULL)
        return err_set(RL_ENOMEM, "keyring: out of memory");
    uint8_t *p = buf;
    memcpy(p, MAGIC, 8);
    put32(p + 8, VERSION);
    memcpy(p + 12, kr->vault_id, 16);
    put32(p + 28, (uint32_t)kr->count);
    p += 32;
    for (size_t i = 0; i < kr->count; i++) {
        const entry *e = &kr->entries[i];
        size_t nl = strlen(e->name);
        *p++ = (uint8_t)nl;
        memcpy(p, e->name, nl);
        p += nl;
        put32(p, e->alg);
        put64(p + 4, e->opslimit);
        put64(p + 12, e->memlimit);
        p += 20;
        memcpy(p, e->salt, SALT_LEN);
        p += SALT_LEN;
        memcpy(p, e->nonce, NONCE_LEN);
        p += NONCE_LEN;
        memcpy(p, e->wrapped, WRAPPED_LEN);
        p += WRAPPED_LEN;
        put32(p, e->failures);
        p += 4;
    }
    int rc = file_write_atomic(path, buf, (size_t)(p - buf), 0600);
    free(buf);
    return rc;
}

static void make_ad(const keyring *kr, const char *name, uint8_t *ad, size_t *ad_len)
{
    size_t nl = strlen(name);
    memcpy(ad, MAGIC, 8);
    memcpy(ad + 8, kr->vault_id, 16);
    memcpy(ad + 24, name, nl);
    *ad_len = 24 + nl;
}

/* Derives the key-encryption key for e; kek must be sodium_malloc'd. */
static int derive(const entry *e, const char *passphrase, size_t pass_len, uint8_t *kek)
{
    if (e->alg != crypto_pwhash_ALG_ARGON2ID13 || e->opslimit < KEYRING_OPSLIMIT ||
        e->memlimit < KEYRING_MEMLIMIT || e->memlimit > (4ULL << 30) || e->opslimit > 64)
        return err_set(RL_EINTEGRITY,
                       "keyring: entry for '%s' has key-derivation parameters below the "
                       "vault's minimum (Argon2id, 3 passes, 256 MiB) or out of range",
                       e->name);
    if (crypto_pwhash(kek, 32, passphrase, pass_len, e->salt, e->opslimit, (size_t)e->memlimit,
                      (int)e->alg) != 0)
        return err_set(RL_ENOMEM, "keyring: Argon2id needs %llu MiB of memory, which is not "
                       "available", (unsigned long long)(e->memlimit >> 20));
    return RL_OK;
}

/* The operator's signing-share key: a separate key from the same Argon2id output, so the
 * data key's wrapping and the signing share never share a key (docs/signing.md). */
static void share_from_kek(const uint8_t *kek, uint8_t *share)
{
    crypto_kdf_derive_from_key(share, 32, 1, "RLSHARE1", kek);
}

int keyring_set(keyring *kr, const char *name, const char *passphrase, size_t pass_len,
                const uint8_t data_key[32], uint8_t *share_key)
{
    int rc = RL_ENOMEM;
    uint8_t *kek = NULL;
    size_t nl = strlen(name);
    if (nl == 0 || nl > KEYRING_NAME_MAX)
        return err_set(RL_EDATA, "operator name must be 1-%d characters", KEYRING_NAME_MAX);
    entry *e = find(kr, name);
    if (e == NULL) {
        if (kr->count >= KEYRING_MAX_ENTRIES)
            return err_set(RL_EDATA, "keyring: at most %d operators", KEYRING_MAX_ENTRIES);
        e = &kr->entries[kr->count];
    }
    entry fresh = {0};
    memcpy(fresh.name, name, nl + 1);
    fresh.alg = crypto_pwhash_ALG_ARGON2ID13;
    fresh.opslimit = KEYRING_OPSLIMIT;
    fresh.memlimit = KEYRING_MEMLIMIT;
    randombytes_buf(fresh.salt, sizeof fresh.salt);
    randombytes_buf(fresh.nonce, sizeof fresh.nonce);
    kek = sodium_malloc(32);
    if (kek == NULL) {
        err_set(rc, "keyring: cannot allocate protected memory");
        goto cleanup;
    }
    rc = derive(&fresh, passphrase, pass_len, kek);
    if (rc != RL_OK)
        goto cleanup;
    uint8_t ad[24 + KEYRING_NAME_MAX];
    size_t ad_len;
    make_ad(kr, name, ad, &ad_len);
    crypto_aead_xchacha20poly1305_ietf_encrypt(fresh.wrapped, NULL, data_key, 32, ad, ad_len,
                                               NULL, fresh.nonce, kek);
    if (share_key != NULL)
        share_from_kek(kek, share_key);
    if (e == &kr->entries[kr->count])
        kr->count++;
    *e = fresh;
    rc = RL_OK;
cleanup:
    sodium_free(kek);
    sodium_memzero(&fresh, sizeof fresh);
    return rc;
}

int keyring_unlock(keyring *kr, const char *name, const char *passphrase, size_t pass_len,
                   uint8_t data_key[32], uint8_t *share_key)
{
    int rc = RL_EAUTH;
    uint8_t *kek = NULL;
    entry *e = find(kr, name);
    if (e == NULL)
        return err_set(RL_EAUTH, "no operator named '%s' in this vault", name);
    kek = sodium_malloc(32);
    if (kek == NULL) {
        rc = err_set(RL_ENOMEM, "keyring: cannot allocate protected memory");
        goto cleanup;
    }
    rc = derive(e, passphrase, pass_len, kek);
    if (rc != RL_OK)
        goto cleanup;
    uint8_t ad[24 + KEYRING_NAME_MAX];
    size_t ad_len;
    make_ad(kr, name, ad, &ad_len);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(data_key, NULL, NULL, e->wrapped, WRAPPED_LEN,
                                                   ad, ad_len, e->nonce, kek) != 0) {
        sodium_memzero(data_key, 32);
        if (e->failures < UINT32_MAX)
            e->failures++;
        rc = err_set(RL_EAUTH, "wrong passphrase for operator '%s'", name);
        goto cleanup;
    }
    e->failures = 0;
    if (share_key != NULL)
        share_from_kek(kek, share_key);
    rc = RL_OK;
cleanup:
    sodium_free(kek);
    return rc;
}

int keyring_remove(keyring *kr, const char *name)
{
    entry *e = find(kr, name);
    if (e == NULL)
        return err_set(RL_EDATA, "no operator named '%s' in the keyring", name);
    size_t i = (size_t)(e - kr->entries);
    memmove(&kr->entries[i], &kr->entries[i + 1], (kr->count - i - 1) * sizeof(entry));
    kr->count--;
    sodium_memzero(&kr->entries[kr->count], sizeof(entry));
    return RL_OK;
}
