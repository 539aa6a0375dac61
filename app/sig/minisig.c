/* minisig: Ed25519 signatures in the minisign file formats (see minisig.h).
 *
 * Parsing is deliberately stricter than minisign's own: exact line structure, exact
 * prefixes, exact decoded lengths, canonical base64, no NUL bytes, bounded comments. A
 * signature file is input from outside the room, so anything we do not recognise exactly
 * is refused rather than interpreted. Secret key material only ever lives in sodium_malloc
 * memory and is wiped before it is freed. */
#include "sig/minisig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"

#define SIGALG_PREHASHED "ED"
#define SIGALG_LEGACY "Ed"
#define KDFALG_SCRYPT "Sc"
#define CHKALG "B2"
#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define UNTRUSTED_SIG_COMMENT "signature from reservlon"
/* minisign limits the untrusted comment to 1024 bytes; we do the same for every line. */
#define COMMENT_MAX 1024
/* No key or signature file we accept is longer than this: bounds every read. */
#define SIG_FILE_MAX (2 * COMMENT_MAX + MINISIG_TC_MAX + 512)
#define KEY_FILE_MAX (COMMENT_MAX + 512)

enum {
    KEYID_BYTES = 8,
    PK_BYTES = crypto_sign_PUBLICKEYBYTES,  /* 32 */
    SK_BYTES = crypto_sign_SECRETKEYBYTES,  /* 64 */
    SIG_BYTES = crypto_sign_BYTES,          /* 64 */
    PREHASH_BYTES = crypto_generichash_BYTES_MAX, /* 64: BLAKE2b-512 */
    CHK_BYTES = crypto_generichash_BYTES,   /* 32: BLAKE2b-256 */
    PUBKEY_BLOB = 2 + KEYID_BYTES + PK_BYTES,         /* 42 */
    SIG_BLOB = 2 + KEYID_BYTES + SIG_BYTES,           /* 74 */
    SECKEY_BLOB = 2 + 2 + 2 + 32 + 8 + 8 + KEYID_BYTES + SK_BYTES + CHK_BYTES /* 158 */
};

/* Offsets inside the secret key blob (minisign's SeckeyStruct, packed). */
enum {
    SK_OFF_SIGALG = 0,
    SK_OFF_KDFALG = 2,
    SK_OFF_CHKALG = 4,
    SK_OFF_SALT = 6,
    SK_OFF_OPS = 38,
    SK_OFF_MEM = 46,
    SK_OFF_KEYID = 54,
    SK_OFF_SK = 62,
    SK_OFF_CHK = 126
};

struct minisig_seckey {
    uint8_t key_id[KEYID_BYTES];
    uint8_t sk[SK_BYTES]; /* libsodium layout: seed[32] || pk[32] */
};

/* One line of a text file, without its line end. */
typedef struct {
    const char *p;
    size_t n;
} span;

/* A parsed signature file; points into the caller's text. */
typedef struct {
    uint8_t alg[2];
    uint8_t key_id[KEYID_BYTES];
    uint8_t sig[SIG_BYTES];
    span tc;
    uint8_t global_sig[SIG_BYTES];
} parsed_sig;

static int sodium_ready(void)
{
    /* sodium_init is idempotent and thread-safe; calling it on every entry point spares
     * every caller (tests, tools, the CLI) from having to remember it. */
    if (sodium_init() < 0)
        return err_set(RL_EIO, "libsodium: initialisation failed");
    return RL_OK;
}

static uint64_t le64_load(const uint8_t b[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* Splits text into at most max lines. A final line end is optional and does not start an
 * empty line; "\r\n" counts as one line end (files carried through Windows machines). Any
 * NUL byte, or more than max lines (blank ones included), is refused. Returns the number
 * of lines, or -1 for NUL, -2 for too many lines. */
static int split_lines(const char *text, size_t len, span *lines, size_t max)
{
    if (memchr(text, '\0', len) != NULL)
        return -1;
    size_t n = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t ll = end - pos;
        if (nl != NULL && ll > 0 && text[end - 1] == '\r')
            ll--;
        if (n == max)
            return -2;
        lines[n].p = text + pos;
        lines[n].n = ll;
        n++;
        pos = nl != NULL ? end + 1 : len;
    }
    return (int)n;
}

static bool span_has_prefix(span s, const char *prefix)
{
    size_t pl = strlen(prefix);
    return s.n >= pl && memcmp(s.p, prefix, pl) == 0;
}

static bool span_has_byte(span s, char c) { return memchr(s.p, c, s.n) != NULL; }

/* Decodes standard padded base64 into exactly out_len bytes: the whole span must be
 * consumed, padding must be present and the unused bits zero (libsodium checks that), so
 * one binary value has exactly one accepted text. */
static bool b64_exact(span s, uint8_t *out, size_t out_len)
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (s.n == 0 || s.n != sodium_base64_ENCODED_LEN(out_len, sodium_base64_VARIANT_ORIGINAL) - 1)
        return false;
    /* libsodium 1.0.18's decoder lets bytes with bit 7 set stand for '/' (0xaf and 0x80
     * were seen): a second text for one value, found by the tamper campaign
     * (docs/tamper.md). Only the alphabet itself is accepted. */
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return false;
    }
    if (sodium_base642bin(out, out_len, s.p, s.n, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return bin_len == out_len && end == s.p + s.n;
}

/* Appends s to buf at *pos (NUL kept), failing instead of truncating. */
static bool append(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos >= cap || n >= cap - *pos)
        return false;
    memcpy(buf + *pos, s, n);
    *pos += n;
    buf[*pos] = '\0';
    return true;
}

static bool append_str(char *buf, size_t cap, size_t *pos, const char *s)
{
    return append(buf, cap, pos, s, strlen(s));
}

static bool append_b64(char *buf, size_t cap, size_t *pos, const uint8_t *bin, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    if (*pos >= cap || need > cap - *pos)
        return false;
    sodium_bin2base64(buf + *pos, need, bin, n, sodium_base64_VARIANT_ORIGINAL);
    *pos += need - 1;
    return true;
}

/* --- public keys ------------------------------------------------------------------- */

int minisig_pubkey_parse(const char *text, size_t len, minisig_pubkey *out)
{
    span lines[2];
    uint8_t blob[PUBKEY_BLOB];
    span b64;
    memset(out, 0, sizeof *out);
    int rc = sodium_ready();
    if (rc != RL_OK)
        return rc;
    int n = split_lines(text, len, lines, 2);
    if (n == -1)
        return err_set(RL_EDATA, "public key: contains a NUL byte");
    if (n < 1)
        return err_set(RL_EDATA, "public key: expected an untrusted comment line and a "
                                 "base64 key line, or a single base64 key line");
    if (n == 1) {
        b64 = lines[0];
    } else {
        if (!span_has_prefix(lines[0], UNTRUSTED_PREFIX))
            return err_set(RL_EDATA, "public key: line 1 must start with \"%s\"",
                           UNTRUSTED_PREFIX);
        if (lines[0].n > COMMENT_MAX)
            return err_set(RL_EDATA, "public key: comment line longer than %d bytes",
                           COMMENT_MAX);
        b64 = lines[1];
    }
    if (!b64_exact(b64, blob, sizeof blob))
        return err_set(RL_EDATA, "public key: key line is not base64 of a %d-byte "
                                 "minisign public key", PUBKEY_BLOB);
    if (memcmp(blob, SIGALG_LEGACY, 2) != 0)
        return err_set(RL_EDATA, "public key: unsupported algorithm (expected \"Ed\")");
    memcpy(out->key_id, blob + 2, KEYID_BYTES);
    memcpy(out->pk, blob + 2 + KEYID_BYTES, PK_BYTES);
    return RL_OK;
}

int minisig_pubkey_load(const char *path, minisig_pubkey *out)
{
    char *text = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    int rc = file_read_all(path, KEY_FILE_MAX, &text, &len);
    if (rc != RL_OK)
        return err_wrap(rc, "public key: ");
    rc = minisig_pubkey_parse(text, len, out);
    if (rc != RL_OK)
        err_wrap(rc, "%s: ", path);
    free(text);
    return rc;
}

/* --- secret keys ------------------------------------------------------------------- */

/* Checks that sk (libsodium layout seed||pk) is self-consistent: the public half must be
 * the one its seed derives. This catches a corrupted key even when the file carries no
 * checksum (minisign -W). */
static int seckey_consistent(const uint8_t sk[SK_BYTES])
{
    int rc = RL_EDATA;
    uint8_t *derived = sodium_malloc(PK_BYTES + SK_BYTES);
    if (derived == NULL)
        return err_set(RL_ENOMEM, "secret key: out of memory");
    if (crypto_sign_seed_keypair(derived, derived + PK_BYTES, sk) != 0) {
        rc = err_set(RL_EDATA, "secret key: cannot derive the key pair");
        goto cleanup;
    }
    if (sodium_memcmp(derived + PK_BYTES, sk, SK_BYTES) != 0) {
        rc = err_set(RL_EDATA, "secret key: public half does not match the seed "
                               "(corrupted key file)");
        goto cleanup;
    }
    rc = RL_OK;
cleanup:
    sodium_free(derived); /* sodium_free wipes before unmapping */
    return rc;
}

int minisig_seckey_from_raw(const uint8_t sk[64], const uint8_t key_id[8], minisig_seckey **out)
{
    *out = NULL;
    int rc = sodium_ready();
    if (rc != RL_OK)
        return rc;
    rc = seckey_consistent(sk);
    if (rc != RL_OK)
        return rc;
    minisig_seckey *k = sodium_malloc(sizeof *k);
    if (k == NULL)
        return err_set(RL_ENOMEM, "secret key: out of memory");
    memcpy(k->key_id, key_id, KEYID_BYTES);
    memcpy(k->sk, sk, SK_BYTES);
    /* Read-only from here on: a stray write through a bad pointer faults instead of
     * silently changing the key. */
    sodium_mprotect_readonly(k);
    *out = k;
    return RL_OK;
}

void minisig_seckey_free(minisig_seckey *sk)
{
    if (sk == NULL)
        return;
    sodium_mprotect_readwrite(sk);
    sodium_memzero(sk, sizeof *sk);
    sodium_free(sk);
}

void minisig_seckey_pubkey(const minisig_seckey *sk, minisig_pubkey *out)
{
    memcpy(out->key_id, sk->key_id, KEYID_BYTES);
    memcpy(out->pk, sk->sk + 32, PK_BYTES); /* libsodium's sk carries pk in its 2nd half */
}

static void seckey_checksum(const uint8_t blob[SECKEY_BLOB], uint8_t chk[CHK_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CHK_BYTES);
    crypto_generichash_update(&st, blob + SK_OFF_SIGALG, 2);
    crypto_generichash_update(&st, blob + SK_OFF_KEYID, KEYID_BYTES);
    crypto_generichash_update(&st, blob + SK_OFF_SK, SK_BYTES);
    crypto_generichash_final(&st, chk, CHK_BYTES);
    sodium_memzero(&st, sizeof st);
}

/* Reads a key file into sodium_malloc memory so the secret never sits in the ordinary
 * heap. Same checks as file_read_all: no symlink at the last component, regular file,
 * bounded size. On success *buf (cap KEY_FILE_MAX + 1, NUL-terminated) is the caller's to
 * sodium_free. */
static int read_secret_file(const char *path, char **buf, size_t *len)
{
    int rc = RL_EIO;
    char *data = NULL;
    size_t used = 0;
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = err_set(errno == ENOENT ? RL_EDATA : RL_EIO, "secret key: %s: %s", path,
                     strerror(errno));
        goto cleanup;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = err_set(RL_EDATA, "secret key: %s: not a regular file", path);
        goto cleanup;
    }
    data = sodium_malloc(KEY_FILE_MAX + 1);
    if (data == NULL) {
        rc = err_set(RL_ENOMEM, "secret key: out of memory");
        goto cleanup;
    }
    for (;;) {
        if (used == KEY_FILE_MAX) {
            /* One more byte tells "exactly at the limit" from "too long". */
            char extra;
            ssize_t m = read(fd, &extra, 1);
            if (m > 0) {
                rc = err_set(RL_EDATA, "secret key: %s: file too large (limit %d bytes)",
                             path, KEY_FILE_MAX);
                goto cleanup;
            }
            if (m < 0 && errno == EINTR)
                continue;
            break;
        }
        ssize_t m = read(fd, data + used, KEY_FILE_MAX - used);
        if (m < 0) {
            if (errno == EINTR)
                continue;
            rc = err_set(RL_EIO, "secret key: %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (m == 0)
            break;
        used += (size_t)m;
    }
    data[used] = '\0';
    *buf = data;
    *len = used;
    data = NULL;
    rc = RL_OK;
cleanup:
    if (data != NULL)
        sodium_free(data);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Parses secret key file text into a seckey. text stays the caller's. */
static int seckey_parse(const char *text, size_t len, minisig_seckey **out)
{
    int rc = RL_EDATA;
    span lines[2];
    uint8_t *blob = NULL;
    uint8_t chk[CHK_BYTES];
    *out = NULL;
    int n = split_lines(text, len, lines, 2);
    if (n == -1) {
        rc = err_set(RL_EDATA, "secret key: contains a NUL byte");
        goto cleanup;
    }
    if (n != 2) {
        rc = err_set(RL_EDATA, "secret key: expected exactly two lines (untrusted comment, "
                               "base64 key)");
        goto cleanup;
    }
    if (!span_has_prefix(lines[0], UNTRUSTED_PREFIX) || lines[0].n > COMMENT_MAX) {
        rc = err_set(RL_EDATA, "secret key: line 1 must start with \"%s\" (at most %d bytes)",
                     UNTRUSTED_PREFIX, COMMENT_MAX);
        goto cleanup;
    }
    blob = sodium_malloc(SECKEY_BLOB);
    if (blob == NULL) {
        rc = err_set(RL_ENOMEM, "secret key: out of memory");
        goto cleanup;
    }
    if (!b64_exact(lines[1], blob, SECKEY_BLOB)) {
        rc = err_set(RL_EDATA, "secret key: key line is not base64 of a %d-byte minisign "
                               "secret key", SECKEY_BLOB);
        goto cleanup;
    }
    if (memcmp(blob + SK_OFF_SIGALG, SIGALG_LEGACY, 2) != 0) {
        rc = err_set(RL_EDATA, "secret key: unsupported signature algorithm (expected \"Ed\")");
        goto cleanup;
    }
    if (memcmp(blob + SK_OFF_KDFALG, KDFALG_SCRYPT, 2) == 0) {
        rc = err_set(RL_EDATA, "secret key: the key is encrypted with a password; reservlon "
                               "needs an unencrypted key (minisign -G -W) that it protects "
                               "itself");
        goto cleanup;
    }
    if (blob[SK_OFF_KDFALG] != 0 || blob[SK_OFF_KDFALG + 1] != 0) {
        rc = err_set(RL_EDATA, "secret key: unsupported key derivation function");
        goto cleanup;
    }
    if (memcmp(blob + SK_OFF_CHKALG, CHKALG, 2) != 0) {
        rc = err_set(RL_EDATA, "secret key: unsupported checksum function (expected \"B2\")");
        goto cleanup;
    }
    /* minisign 0.10/0.11 leave the checksum zero for unencrypted keys (see minisig.h);
     * any other value must be right. */
    if (!sodium_is_zero(blob + SK_OFF_CHK, CHK_BYTES)) {
        seckey_checksum(blob, chk);
        if (sodium_memcmp(chk, blob + SK_OFF_CHK, CHK_BYTES) != 0) {
            rc = err_set(RL_EDATA, "secret key: checksum mismatch (corrupted key file)");
            goto cleanup;
        }
    }
    rc = minisig_seckey_from_raw(blob + SK_OFF_SK, blob + SK_OFF_KEYID, out);
cleanup:
    sodium_memzero(chk, sizeof chk);
    if (blob != NULL)
        sodium_free(blob);
    return rc;
}

int minisig_seckey_load(const char *path, minisig_seckey **out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = sodium_ready();
    if (rc != RL_OK)
        return rc;
    rc = read_secret_file(path, &text, &len);
    if (rc != RL_OK)
        return rc;
    rc = seckey_parse(text, len, out);
    if (rc != RL_OK)
        err_wrap(rc, "%s: ", path);
    sodium_free(text);
    return rc;
}

/* --- key generation ---------------------------------------------------------------- */

static bool comment_ok(const char *c)
{
    return strlen(c) <= 200 && strchr(c, '\n') == NULL && strchr(c, '\r') == NULL;
}

int minisig_keygen(const char *comment, char *pub_text, size_t pub_cap, char *sec_text,
                   size_t sec_cap)
{
    int rc = RL_EDATA;
    uint8_t *blob = NULL;
    uint8_t pub[PUBKEY_BLOB];
    char idhex[17];
    size_t pos = 0;
    if (pub_cap > 0)
        pub_text[0] = '\0';
    if (sec_cap > 0)
        sec_text[0] = '\0';
    rc = sodium_ready();
    if (rc != RL_OK)
        goto cleanup;
    if (!comment_ok(comment)) {
        rc = err_set(RL_EUSAGE, "keygen: comment must be one line of at most 200 bytes");
        goto cleanup;
    }
    blob = sodium_malloc(SECKEY_BLOB);
    if (blob == NULL) {
        rc = err_set(RL_ENOMEM, "keygen: out of memory");
        goto cleanup;
    }
    /* Unencrypted layout exactly as minisign -G -W writes it (zero salt and limits), but
     * with the checksum filled in so the key can be checked on load. */
    memset(blob, 0, SECKEY_BLOB);
    memcpy(blob + SK_OFF_SIGALG, SIGALG_LEGACY, 2);
    memcpy(blob + SK_OFF_CHKALG, CHKALG, 2);
    randombytes_buf(blob + SK_OFF_KEYID, KEYID_BYTES);
    memcpy(pub, SIGALG_LEGACY, 2);
    memcpy(pub + 2, blob + SK_OFF_KEYID, KEYID_BYTES);
    crypto_sign_keypair(pub + 2 + KEYID_BYTES, blob + SK_OFF_SK);
    seckey_checksum(blob, blob + SK_OFF_CHK);
    snprintf(idhex, sizeof idhex, "%016" PRIX64, le64_load(blob + SK_OFF_KEYID));

    rc = RL_EDATA;
    pos = 0;
    if (!append_str(pub_text, pub_cap, &pos, UNTRUSTED_PREFIX "minisign public key ") ||
        !append_str(pub_text, pub_cap, &pos, idhex) ||
        !append_str(pub_text, pub_cap, &pos, " ") ||
        !append_str(pub_text, pub_cap, &pos, comment) ||
        !append_str(pub_text, pub_cap, &pos, "\n") ||
        !append_b64(pub_text, pub_cap, &pos, pub, sizeof pub) ||
        !append_str(pub_text, pub_cap, &pos, "\n")) {
        rc = err_set(RL_EUSAGE, "keygen: public key buffer too small");
        goto cleanup;
    }
    pos = 0;
    if (!append_str(sec_text, sec_cap, &pos, UNTRUSTED_PREFIX) ||
        !append_str(sec_text, sec_cap, &pos, comment) ||
        !append_str(sec_text, sec_cap, &pos, " (unencrypted minisign secret key ") ||
        !append_str(sec_text, sec_cap, &pos, idhex) ||
        !append_str(sec_text, sec_cap, &pos, ")\n") ||
        !append_b64(sec_text, sec_cap, &pos, blob, SECKEY_BLOB) ||
        !append_str(sec_text, sec_cap, &pos, "\n")) {
        rc = err_set(RL_EUSAGE, "keygen: secret key buffer too small");
        goto cleanup;
    }
    rc = RL_OK;
cleanup:
    if (blob != NULL)
        sodium_free(blob);
    if (rc != RL_OK) {
        if (pub_cap > 0)
            pub_text[0] = '\0';
        if (sec_cap > 0)
            sodium_memzero(sec_text, sec_cap);
    }
    return rc;
}

void minisig_seckey_raw(const minisig_seckey *sk, uint8_t raw[64], uint8_t key_id[8])
{
    memcpy(raw, sk->sk, SK_BYTES);
    memcpy(key_id, sk->key_id, KEYID_BYTES);
}

int minisig_pubkey_format(const minisig_pubkey *pk, const char *comment, char *out, size_t cap)
{
    uint8_t pub[PUBKEY_BLOB];
    char idhex[17];
    size_t pos = 0;
    if (cap > 0)
        out[0] = '\0';
    if (!comment_ok(comment))
        return err_set(RL_EUSAGE, "public key comment must be one line of at most 200 bytes");
    memcpy(pub, SIGALG_LEGACY, 2);
    memcpy(pub + 2, pk->key_id, KEYID_BYTES);
    memcpy(pub + 2 + KEYID_BYTES, pk->pk, 32);
    snprintf(idhex, sizeof idhex, "%016" PRIX64, le64_load(pk->key_id));
    if (!append_str(out, cap, &pos, UNTRUSTED_PREFIX "minisign public key ") ||
        !append_str(out, cap, &pos, idhex) || !append_str(out, cap, &pos, " ") ||
        !append_str(out, cap, &pos, comment) || !append_str(out, cap, &pos, "\n") ||
        !append_b64(out, cap, &pos, pub, sizeof pub) || !append_str(out, cap, &pos, "\n")) {
        if (cap > 0)
            out[0] = '\0';
        return err_set(RL_EUSAGE, "public key buffer too small");
    }
    return RL_OK;
}

/* --- signatures -------------------------------------------------------------------- */

/* Parses a .minisig text. Every failure is RL_EINTEGRITY: a signature we cannot read is
 * a signature that does not vouch for anything. */
static int sig_parse(const char *text, size_t len, parsed_sig *ps)
{
    span lines[4];
    uint8_t blob[SIG_BLOB];
    if (len > SIG_FILE_MAX)
        return err_set(RL_EINTEGRITY, "signature: malformed: longer than %d bytes",
                       SIG_FILE_MAX);
    int n = split_lines(text, len, lines, 4);
    if (n == -1)
        return err_set(RL_EINTEGRITY, "signature: malformed: contains a NUL byte");
    if (n != 4)
        return err_set(RL_EINTEGRITY, "signature: malformed: expected 4 lines (untrusted "
                                      "comment, signature, trusted comment, global "
                                      "signature), found %s",
                       n < 0 ? "more" : n == 0 ? "none" : n == 1 ? "1" : n == 2 ? "2" : "3");
    if (!span_has_prefix(lines[0], UNTRUSTED_PREFIX))
        return err_set(RL_EINTEGRITY, "signature: malformed: line 1 must start with \"%s\"",
                       UNTRUSTED_PREFIX);
    if (lines[0].n > COMMENT_MAX)
        return err_set(RL_EINTEGRITY, "signature: malformed: untrusted comment longer than "
                                      "%d bytes", COMMENT_MAX);
    if (!b64_exact(lines[1], blob, sizeof blob))
        return err_set(RL_EINTEGRITY, "signature: malformed: line 2 is not base64 of a %d-byte "
                                      "minisign signature", SIG_BLOB);
    if (memcmp(blob, SIGALG_LEGACY, 2) == 0)
        return err_set(RL_EINTEGRITY, "signature: legacy non-prehashed algorithm \"Ed\" "
                                      "refused (only prehashed \"ED\" is accepted; re-sign "
                                      "with minisign 0.11 or later)");
    if (memcmp(blob, SIGALG_PREHASHED, 2) != 0)
        return err_set(RL_EINTEGRITY, "signature: unsupported algorithm (expected \"ED\")");
    if (!span_has_prefix(lines[2], TRUSTED_PREFIX))
        return err_set(RL_EINTEGRITY, "signature: malformed: line 3 must start with \"%s\"",
                       TRUSTED_PREFIX);
    span tc = {lines[2].p + strlen(TRUSTED_PREFIX), lines[2].n - strlen(TRUSTED_PREFIX)};
    if (tc.n > MINISIG_TC_MAX)
        return err_set(RL_EINTEGRITY, "signature: trusted comment longer than %d bytes",
                       MINISIG_TC_MAX);
    if (span_has_byte(tc, '\r'))
        return err_set(RL_EINTEGRITY, "signature: malformed: carriage return in trusted comment");
    if (!b64_exact(lines[3], ps->global_sig, SIG_BYTES))
        return err_set(RL_EINTEGRITY, "signature: malformed: line 4 is not base64 of a %d-byte "
                                      "global signature", SIG_BYTES);
    memcpy(ps->alg, blob, 2);
    memcpy(ps->key_id, blob + 2, KEYID_BYTES);
    memcpy(ps->sig, blob + 2 + KEYID_BYTES, SIG_BYTES);
    ps->tc = tc;
    return RL_OK;
}

/* Verifies a signature text over a BLAKE2b-512 prehash. */
static int verify_prehashed(const minisig_pubkey *pk, const uint8_t hash[PREHASH_BYTES],
                            const char *sig_text, size_t sig_len, char *tc, size_t tc_cap)
{
    parsed_sig ps;
    uint8_t buf[SIG_BYTES + MINISIG_TC_MAX];
    if (tc != NULL && tc_cap > 0)
        tc[0] = '\0';
    int rc = sig_parse(sig_text, sig_len, &ps);
    if (rc != RL_OK)
        return rc;
    if (memcmp(ps.key_id, pk->key_id, KEYID_BYTES) != 0)
        return err_set(RL_EINTEGRITY, "signature: key id does not match public key");
    if (crypto_sign_verify_detached(ps.sig, hash, PREHASH_BYTES, pk->pk) != 0)
        return err_set(RL_EINTEGRITY, "signature: invalid (the data does not match the "
                                      "signature)");
    memcpy(buf, ps.sig, SIG_BYTES);
    memcpy(buf + SIG_BYTES, ps.tc.p, ps.tc.n);
    if (crypto_sign_verify_detached(ps.global_sig, buf, SIG_BYTES + ps.tc.n, pk->pk) != 0)
        return err_set(RL_EINTEGRITY, "signature: global signature (trusted comment) invalid");
    if (tc != NULL) {
        if (ps.tc.n >= tc_cap)
            return err_set(RL_EDATA, "signature: trusted comment (%zu bytes) does not fit the "
                                     "caller's buffer", ps.tc.n);
        memcpy(tc, ps.tc.p, ps.tc.n);
        tc[ps.tc.n] = '\0';
    }
    return RL_OK;
}

/* Signs a prehash and formats the .minisig text, then verifies that text with the key's
 * own public half through the full parser: a signature we would refuse is never output. */
static int sign_prehashed(const minisig_seckey *sk, const uint8_t hash[PREHASH_BYTES],
                          const char *trusted_comment, char *out, size_t cap)
{
    int rc = RL_EDATA;
    uint8_t blob[SIG_BLOB];
    uint8_t global[SIG_BYTES];
    uint8_t buf[SIG_BYTES + MINISIG_TC_MAX];
    size_t tcl = strlen(trusted_comment);
    size_t pos = 0;
    minisig_pubkey pk;
    if (cap > 0)
        out[0] = '\0';
    if (tcl > MINISIG_TC_MAX || strchr(trusted_comment, '\n') != NULL ||
        strchr(trusted_comment, '\r') != NULL) {
        rc = err_set(RL_EUSAGE, "sign: trusted comment must be one line of at most %d bytes",
                     MINISIG_TC_MAX);
        goto cleanup;
    }
    memcpy(blob, SIGALG_PREHASHED, 2);
    memcpy(blob + 2, sk->key_id, KEYID_BYTES);
    if (crypto_sign_detached(blob + 2 + KEYID_BYTES, NULL, hash, PREHASH_BYTES, sk->sk) != 0) {
        rc = err_set(RL_EINTEGRITY, "sign: signing failed");
        goto cleanup;
    }
    memcpy(buf, blob + 2 + KEYID_BYTES, SIG_BYTES);
    memcpy(buf + SIG_BYTES, trusted_comment, tcl);
    if (crypto_sign_detached(global, NULL, buf, SIG_BYTES + tcl, sk->sk) != 0) {
        rc = err_set(RL_EINTEGRITY, "sign: signing the trusted comment failed");
        goto cleanup;
    }
    if (!append_str(out, cap, &pos, UNTRUSTED_PREFIX UNTRUSTED_SIG_COMMENT "\n") ||
        !append_b64(out, cap, &pos, blob, sizeof blob) ||
        !append_str(out, cap, &pos, "\n" TRUSTED_PREFIX) ||
        !append(out, cap, &pos, trusted_comment, tcl) ||
        !append_str(out, cap, &pos, "\n") ||
        !append_b64(out, cap, &pos, global, sizeof global) ||
        !append_str(out, cap, &pos, "\n")) {
        rc = err_set(RL_EUSAGE, "sign: output buffer too small (%zu bytes)", cap);
        goto cleanup;
    }
    minisig_seckey_pubkey(sk, &pk);
    rc = verify_prehashed(&pk, hash, out, pos, NULL, 0);
    if (rc != RL_OK)
        err_wrap(rc, "sign: own signature does not verify: ");
cleanup:
    if (rc != RL_OK && cap > 0)
        out[0] = '\0';
    return rc;
}

static void prehash(const uint8_t *data, size_t len, uint8_t hash[PREHASH_BYTES])
{
    crypto_generichash(hash, PREHASH_BYTES, data, len, NULL, 0);
}

/* BLAKE2b-512 of a file, read as a stream so any size works. */
static int prehash_file(const char *path, uint8_t hash[PREHASH_BYTES])
{
    int rc = RL_EIO;
    crypto_generichash_state st;
    uint8_t chunk[65536];
    crypto_generichash_init(&st, NULL, 0, PREHASH_BYTES);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = err_set(errno == ENOENT ? RL_EDATA : RL_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = err_set(RL_EDATA, "%s: not a regular file", path);
        goto cleanup;
    }
    for (;;) {
        ssize_t m = read(fd, chunk, sizeof chunk);
        if (m < 0) {
            if (errno == EINTR)
                continue;
            rc = err_set(RL_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (m == 0)
            break;
        crypto_generichash_update(&st, chunk, (size_t)m);
    }
    crypto_generichash_final(&st, hash, PREHASH_BYTES);
    rc = RL_OK;
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

int minisig_sign(const minisig_seckey *sk, const uint8_t *data, size_t len,
                 const char *trusted_comment, char *out, size_t cap)
{
    uint8_t hash[PREHASH_BYTES];
    int rc = sodium_ready();
    if (rc != RL_OK)
        return rc;
    prehash(data, len, hash);
    return sign_prehashed(sk, hash, trusted_comment, out, cap);
}

int minisig_verify(const minisig_pubkey *pk, const uint8_t *data, size_t len,
                   const char *sig_text, size_t sig_len, char *tc, size_t tc_cap)
{
    uint8_t hash[PREHASH_BYTES];
    if (tc != NULL && tc_cap > 0)
        tc[0] = '\0';
    int rc = sodium_ready();
    if (rc != RL_OK)
        return rc;
    prehash(data, len, hash);
    return verify_prehashed(pk, hash, sig_text, sig_len, tc, tc_cap);
}

static int sig_path(const char *path, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.minisig", path);
    if (n < 0 || (size_t)n >= cap)
        return err_set(RL_EDATA, "%s: path too long", path);
    return RL_OK;
}

/* Reads a signature file; a missing one is an integrity failure (nothing vouches for the
 * data), other read errors keep their own code. */
static int read_sig_file(const char *spath, char **text, size_t *len)
{
    int rc = file_read_all(spath, SIG_FILE_MAX, text, len);
    if (rc == RL_EDATA)
        return err_wrap(RL_EINTEGRITY, "signature: ");
    if (rc != RL_OK)
        return err_wrap(rc, "signature: ");
    return RL_OK;
}

int minisig_verify_file(const minisig_pubkey *pk, const char *path, char *tc, size_t tc_cap)
{
    char spath[4096];
    char *text = NULL;
    size_t len = 0;
    uint8_t hash[PREHASH_BYTES];
    if (tc != NULL && tc_cap > 0)
        tc[0] = '\0';
    int rc = sodium_ready();
    if (rc != RL_OK)
        goto cleanup;
    rc = sig_path(path, spath, sizeof spath);
    if (rc != RL_OK)
        goto cleanup;
    rc = read_sig_file(spath, &text, &len);
    if (rc != RL_OK)
        goto cleanup;
    rc = prehash_file(path, hash);
    if (rc != RL_OK)
        goto cleanup;
    rc = verify_prehashed(pk, hash, text, len, tc, tc_cap);
    if (rc != RL_OK)
        err_wrap(rc, "%s: ", spath);
cleanup:
    free(text);
    return rc;
}

_Static_assert(MINISIG_PREHASH_BYTES == PREHASH_BYTES, "the prehash is BLAKE2b-512");

void minisig_prehash(const uint8_t *data, size_t len, uint8_t hash[MINISIG_PREHASH_BYTES])
{
    prehash(data, len, hash);
}

int minisig_sign_prehash(const minisig_seckey *sk, const uint8_t hash[MINISIG_PREHASH_BYTES],
                         const char *trusted_comment, char *out, size_t cap)
{
    int rc = sodium_ready();
    if (rc != RL_OK)
        return rc;
    return sign_prehashed(sk, hash, trusted_comment, out, cap);
}

int minisig_verify_written(const minisig_pubkey *pk, const char *path, const uint8_t *data,
                           size_t len, const uint8_t hash[MINISIG_PREHASH_BYTES])
{
    char spath[4096];
    char *text = NULL;
    size_t tlen = 0, off = 0;
    uint8_t chunk[65536];
    int rc = sodium_ready();
    int fd = -1;
    if (rc != RL_OK)
        goto cleanup;
    if ((rc = sig_path(path, spath, sizeof spath)) != RL_OK)
        goto cleanup;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = err_set(RL_EIO, "%s: cannot read it back: %s", path, strerror(errno));
        goto cleanup;
    }
    for (;;) {
        ssize_t m = read(fd, chunk, sizeof chunk);
        if (m < 0 && errno == EINTR)
            continue;
        if (m < 0) {
            rc = err_set(RL_EIO, "%s: cannot read it back: %s", path, strerror(errno));
            goto cleanup;
        }
        if (m == 0)
            break;
        if ((size_t)m > len - off || memcmp(chunk, data + off, (size_t)m) != 0) {
            rc = err_set(RL_EINTEGRITY, "%s: the file read back differs from what was signed "
                                        "(at byte %zu)", path, off);
            goto cleanup;
        }
        off += (size_t)m;
    }
    if (off != len) {
        rc = err_set(RL_EINTEGRITY, "%s: the file read back is %zu bytes, %zu were signed",
                     path, off, len);
        goto cleanup;
    }
    if ((rc = read_sig_file(spath, &text, &tlen)) != RL_OK)
        goto cleanup;
    if ((rc = verify_prehashed(pk, hash, text, tlen, NULL, 0)) != RL_OK)
        err_wrap(rc, "%s: ", spath);
cleanup:
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

void minisig_key_id_hex(const uint8_t key_id[8], char out[17])
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[key_id[7 - i] >> 4];
        out[2 * i + 1] = hex[key_id[7 - i] & 15];
    }
    out[16] = '\0';
}

int minisig_verify_bytes(const minisig_pubkey *pk, const uint8_t *data, size_t len,
                         const char *path, char *tc, size_t tc_cap)
{
    char spath[4096];
    char *text = NULL;
    size_t tlen = 0;
    if (tc != NULL && tc_cap > 0)
        tc[0] = '\0';
    int rc = sodium_ready();
    if (rc == RL_OK)
        rc = sig_path(path, spath, sizeof spath);
    if (rc == RL_OK)
        rc = read_sig_file(spath, &text, &tlen);
    if (rc == RL_OK && (rc = minisig_verify(pk, data, len, text, tlen, tc, tc_cap)) != RL_OK)
        err_wrap(rc, "%s: ", spath);
    free(text);
    return rc;
}

int minisig_sign_file(const minisig_seckey *sk, const char *path, const char *trusted_comment)
{
    char spath[4096];
    char out[MINISIG_SIG_TEXT_MAX];
    char *back = NULL;
    size_t back_len = 0;
    uint8_t hash[PREHASH_BYTES];
    minisig_pubkey pk;
    int rc = sodium_ready();
    if (rc != RL_OK)
        goto cleanup;
    rc = sig_path(path, spath, sizeof spath);
    if (rc != RL_OK)
        goto cleanup;
    rc = prehash_file(path, hash);
    if (rc != RL_OK)
        goto cleanup;
    rc = sign_prehashed(sk, hash, trusted_comment, out, sizeof out);
    if (rc != RL_OK)
        goto cleanup;
    rc = file_write_atomic(spath, out, strlen(out), 0644);
    if (rc != RL_OK)
        goto cleanup;
    /* Read back what reached the disk and check it against the file as it is now: catches
     * a file changed while we signed it and a signature the disk did not keep. */
    rc = read_sig_file(spath, &back, &back_len);
    if (rc != RL_OK)
        goto cleanup;
    rc = prehash_file(path, hash);
    if (rc != RL_OK)
        goto cleanup;
    minisig_seckey_pubkey(sk, &pk);
    rc = verify_prehashed(&pk, hash, back, back_len, NULL, 0);
    if (rc != RL_OK)
        err_wrap(rc, "%s: read back: ", spath);
cleanup:
    free(back);
    return rc;
}
