/* Unit tests for app/sig: minisign-format signatures.
 *
 * Three kinds of evidence: our own round trips; interoperability both ways with the real
 * `minisign` tool (run through system() on temporary files); and a tamper suite in which
 * every modification of data, signature, trusted comment, key or file structure must fail
 * with RL_EINTEGRITY (signatures) or RL_EDATA (keys) and a precise message.
 * Runs from the repository root (TOP if set) so keys/test/ is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"
#include "sig/minisig.h"

static const char *top(void)
{
    const char *t = getenv("TOP");
    return t != NULL && t[0] != '\0' ? t : ".";
}

static void key_path(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/keys/test/%s", top(), name);
    assert_true(n > 0 && (size_t)n < cap);
}

typedef struct {
    char dir[256];
    minisig_seckey *sk;     /* export-TEST.key */
    minisig_pubkey pk;      /* export-TEST.pub */
    minisig_pubkey other;   /* appliance-TEST.pub: a valid key that did not sign */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char p[512];
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/rl-minisig.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    key_path(p, sizeof p, "export-TEST.key");
    if (minisig_seckey_load(p, &f->sk) != 0) {
        fprintf(stderr, "setup: %s\n", err_msg());
        return -1;
    }
    key_path(p, sizeof p, "export-TEST.pub");
    if (minisig_pubkey_load(p, &f->pk) != 0)
        return -1;
    key_path(p, sizeof p, "appliance-TEST.pub");
    if (minisig_pubkey_load(p, &f->other) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[512];
    minisig_seckey_free(f->sk);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void tmp_path(const fixture *f, char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", f->dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static void write_file(const char *path, const void *data, size_t len)
{
    assert_int_equal(file_write_atomic(path, data, len, 0600), 0);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const uint8_t DATA[] = "{\"format\":\"reservlon-snapshot\",\"version\":1}\n";
#define DATA_LEN (sizeof DATA - 1)

/* Splits a signature text into its 4 lines (copies, without line ends). */
typedef struct {
    char l[4][MINISIG_TC_MAX + 64];
} sig_lines;

static void sig_split(const char *text, sig_lines *s)
{
    const char *p = text;
    for (int i = 0; i < 4; i++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        size_t n = (size_t)(nl - p);
        assert_true(n < sizeof s->l[i]);
        memcpy(s->l[i], p, n);
        s->l[i][n] = '\0';
        p = nl + 1;
    }
}

static void sig_join(const sig_lines *s, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s\n%s\n%s\n%s\n", s->l[0], s->l[1], s->l[2], s->l[3]);
    assert_true(n > 0 && (size_t)n < cap);
}

/* Decodes base64 line i, lets fn modify the bytes, and re-encodes it, so a tamper test
 * changes the binary content while keeping the text well-formed. */
static void sig_edit_line(sig_lines *s, int i, size_t expect_len, void (*fn)(uint8_t *, size_t))
{
    uint8_t bin[128];
    size_t bl = 0;
    assert_int_equal(sodium_base642bin(bin, sizeof bin, s->l[i], strlen(s->l[i]), NULL, &bl,
                                       NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(bl, expect_len);
    fn(bin, bl);
    sodium_bin2base64(s->l[i], sizeof s->l[i], bin, bl, sodium_base64_VARIANT_ORIGINAL);
}

static void sign_data(fixture *f, const char *tc, char *out, size_t cap)
{
    int rc = minisig_sign(f->sk, DATA, DATA_LEN, tc, out, cap);
    if (rc != 0)
        fail_msg("sign: %s", err_msg());
}

/* Expects verification of text over DATA to fail with code and a message containing want. */
static void expect_verify_fail(fixture *f, const minisig_pubkey *pk, const uint8_t *data,
                               size_t len, const char *text, int code, const char *want)
{
    char tc[64] = "untouched";
    int rc = minisig_verify(pk, data, len, text, strlen(text), tc, sizeof tc);
    (void)f;
    if (rc != code || strstr(err_msg(), want) == NULL)
        fail_msg("expected %d '%s', got %d '%s'", code, want, rc, err_msg());
    assert_string_equal(tc, ""); /* never a trusted comment from a failed verification */
}

/* --- round trips and interoperability ------------------------------------------------ */

static void test_round_trip(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX];
    char tc[MINISIG_TC_MAX + 1];
    sign_data(f, "timestamp:1795480058\tfile:manifest.json", sig, sizeof sig);
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, sig, strlen(sig), tc, sizeof tc), 0);
    assert_string_equal(tc, "timestamp:1795480058\tfile:manifest.json");
    /* tc may be NULL. */
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, sig, strlen(sig), NULL, 0), 0);
    /* The public half of the secret key is the public key file's. */
    minisig_pubkey derived;
    minisig_seckey_pubkey(f->sk, &derived);
    assert_memory_equal(&derived, &f->pk, sizeof derived);
    /* Empty data and an empty trusted comment are legitimate. */
    sign_data(f, "", sig, sizeof sig);
    assert_int_equal(minisig_sign(f->sk, (const uint8_t *)"", 0, "", sig, sizeof sig), 0);
    assert_int_equal(minisig_verify(&f->pk, (const uint8_t *)"", 0, sig, strlen(sig), tc,
                                    sizeof tc), 0);
    assert_string_equal(tc, "");
}

static void test_longest_trusted_comment(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX];
    char tc[MINISIG_TC_MAX + 1];
    char longest[MINISIG_TC_MAX + 2];
    memset(longest, 'x', MINISIG_TC_MAX);
    longest[MINISIG_TC_MAX] = '\0';
    sign_data(f, longest, sig, sizeof sig);
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, sig, strlen(sig), tc, sizeof tc), 0);
    assert_string_equal(tc, longest);
    /* A caller buffer too small for the comment is an error, not a truncation. */
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, sig, strlen(sig), tc, 100), RL_EDATA);
    /* One byte more is refused when signing. */
    longest[MINISIG_TC_MAX] = 'x';
    longest[MINISIG_TC_MAX + 1] = '\0';
    assert_int_equal(minisig_sign(f->sk, DATA, DATA_LEN, longest, sig, sizeof sig), RL_EUSAGE);
    assert_string_equal(sig, "");
    /* The header's promise: 512 bytes hold a signature with a 255-byte comment. */
    memset(longest, 'z', 255);
    longest[255] = '\0';
    assert_int_equal(minisig_sign(f->sk, DATA, DATA_LEN, longest, sig, 512), 0);
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, sig, strlen(sig), NULL, 0), 0);
    /* Output buffer too small. */
    assert_int_equal(minisig_sign(f->sk, DATA, DATA_LEN, "c", sig, 100), RL_EUSAGE);
    /* Multi-line comments would change the file structure. */
    assert_int_equal(minisig_sign(f->sk, DATA, DATA_LEN, "a\nb", sig, sizeof sig), RL_EUSAGE);
    assert_int_equal(minisig_sign(f->sk, DATA, DATA_LEN, "a\rb", sig, sizeof sig), RL_EUSAGE);
}

static void test_minisign_verifies_ours(void **state)
{
    fixture *f = *state;
    char data[512], pub[512], tc[256];
    tmp_path(f, data, sizeof data, "manifest.json");
    key_path(pub, sizeof pub, "export-TEST.pub");
    write_file(data, DATA, DATA_LEN);
    assert_int_equal(minisig_sign_file(f->sk, data, "snapshot export 2026-11-20 seed 1"), 0);
    assert_int_equal(run("minisign -Vm '%s' -p '%s' >/dev/null 2>&1", data, pub), 0);
    /* Prehash required (-H): ours is the prehashed ED form. */
    assert_int_equal(run("minisign -H -Vm '%s' -p '%s' >/dev/null 2>&1", data, pub), 0);
    assert_int_equal(minisig_verify_file(&f->pk, data, tc, sizeof tc), 0);
    assert_string_equal(tc, "snapshot export 2026-11-20 seed 1");
    /* And minisign notices a change to the file too (the oracle is not a rubber stamp). */
    write_file(data, "changed\n", 8);
    assert_int_not_equal(run("minisign -Vm '%s' -p '%s' >/dev/null 2>&1", data, pub), 0);
}

static void test_ours_verifies_minisign(void **state)
{
    fixture *f = *state;
    char data[512], key[512], tc[256];
    tmp_path(f, data, sizeof data, "payload.bin");
    key_path(key, sizeof key, "export-TEST.key");
    write_file(data, DATA, DATA_LEN);
    assert_int_equal(run("minisign -S -s '%s' -m '%s' -t 'made by minisign' </dev/null "
                         ">/dev/null 2>&1", key, data), 0);
    assert_int_equal(minisig_verify_file(&f->pk, data, tc, sizeof tc), 0);
    assert_string_equal(tc, "made by minisign");
    /* minisign's default trusted comment contains a tab. */
    assert_int_equal(run("minisign -S -s '%s' -m '%s' </dev/null >/dev/null 2>&1", key, data), 0);
    assert_int_equal(minisig_verify_file(&f->pk, data, tc, sizeof tc), 0);
    assert_non_null(strstr(tc, "file:payload.bin"));
}

static void test_legacy_signature_from_minisign_refused(void **state)
{
    fixture *f = *state;
    char data[512], key[512], pub[512];
    tmp_path(f, data, sizeof data, "legacy.txt");
    key_path(key, sizeof key, "export-TEST.key");
    key_path(pub, sizeof pub, "export-TEST.pub");
    write_file(data, DATA, DATA_LEN);
    assert_int_equal(run("minisign -S -l -s '%s' -m '%s' -t legacy </dev/null >/dev/null 2>&1",
                         key, data), 0);
    /* It is a genuine, valid signature to minisign ... */
    assert_int_equal(run("minisign -Vm '%s' -p '%s' >/dev/null 2>&1", data, pub), 0);
    /* ... and refused by us: accepting "Ed" would allow a downgrade. */
    assert_int_equal(minisig_verify_file(&f->pk, data, NULL, 0), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "legacy"));
}

static void test_keygen_interoperates(void **state)
{
    fixture *f = *state;
    char pubt[1024], sect[1024];
    char pubp[512], secp[512], data[512];
    minisig_seckey *sk = NULL;
    minisig_pubkey pk, derived;
    assert_int_equal(minisig_keygen("unit test", pubt, sizeof pubt, sect, sizeof sect), 0);
    tmp_path(f, pubp, sizeof pubp, "gen.pub");
    tmp_path(f, secp, sizeof secp, "gen.key");
    tmp_path(f, data, sizeof data, "gen.txt");
    write_file(pubp, pubt, strlen(pubt));
    write_file(secp, sect, strlen(sect));
    write_file(data, DATA, DATA_LEN);
    assert_int_equal(minisig_pubkey_load(pubp, &pk), 0);
    assert_int_equal(minisig_seckey_load(secp, &sk), 0);
    minisig_seckey_pubkey(sk, &derived);
    assert_memory_equal(&derived, &pk, sizeof pk);
    minisig_seckey_free(sk);
    /* minisign signs with our secret key and recreates our public key from it. */
    assert_int_equal(run("minisign -S -s '%s' -m '%s' </dev/null >/dev/null 2>&1", secp, data), 0);
    assert_int_equal(minisig_verify_file(&pk, data, NULL, 0), 0);
    char rpub[512];
    tmp_path(f, rpub, sizeof rpub, "recreated.pub");
    assert_int_equal(run("minisign -R -s '%s' -p '%s' </dev/null >/dev/null 2>&1", secp, rpub), 0);
    minisig_pubkey pk2;
    assert_int_equal(minisig_pubkey_load(rpub, &pk2), 0);
    assert_memory_equal(&pk2, &pk, sizeof pk);
    /* A comment that would break the file structure is refused. */
    assert_int_equal(minisig_keygen("two\nlines", pubt, sizeof pubt, sect, sizeof sect),
                     RL_EUSAGE);
    assert_int_equal(minisig_keygen("c", pubt, 20, sect, sizeof sect), RL_EUSAGE);
}

static void test_minisign_unencrypted_key_loads(void **state)
{
    fixture *f = *state;
    char pubp[512], secp[512], data[512];
    minisig_seckey *sk = NULL;
    minisig_pubkey pk;
    tmp_path(f, pubp, sizeof pubp, "w.pub");
    tmp_path(f, secp, sizeof secp, "w.key");
    tmp_path(f, data, sizeof data, "w.txt");
    assert_int_equal(run("minisign -G -W -p '%s' -s '%s' </dev/null >/dev/null 2>&1", pubp, secp), 0);
    /* minisign -W leaves the checksum all zero; we accept that (see minisig.h). */
    if (minisig_seckey_load(secp, &sk) != 0)
        fail_msg("load: %s", err_msg());
    assert_int_equal(minisig_pubkey_load(pubp, &pk), 0);
    write_file(data, DATA, DATA_LEN);
    assert_int_equal(minisig_sign_file(sk, data, "signed by a minisign -W key"), 0);
    assert_int_equal(minisig_verify_file(&pk, data, NULL, 0), 0);
    assert_int_equal(run("minisign -Vm '%s' -p '%s' >/dev/null 2>&1", data, pubp), 0);
    minisig_seckey_free(sk);
}

/* --- tampering: every change must fail --------------------------------------------- */

static void flip_sig_bit(uint8_t *b, size_t n) { (void)n; b[2 + 8 + 17] ^= 0x04; }
static void flip_keyid_bit(uint8_t *b, size_t n) { (void)n; b[2 + 3] ^= 0x01; }
static void set_legacy(uint8_t *b, size_t n) { (void)n; b[1] = 'd'; }
static void set_unknown_alg(uint8_t *b, size_t n) { (void)n; b[0] = 'X'; }
static void flip_global_bit(uint8_t *b, size_t n) { b[n - 1] ^= 0x80; }

static void test_tamper_data(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX];
    uint8_t data[DATA_LEN];
    sign_data(f, "tc", sig, sizeof sig);
    for (size_t i = 0; i < DATA_LEN * 8; i += 7) {
        memcpy(data, DATA, DATA_LEN);
        data[i / 8] ^= (uint8_t)(1u << (i % 8));
        expect_verify_fail(f, &f->pk, data, DATA_LEN, sig, RL_EINTEGRITY,
                           "signature: invalid");
    }
    /* Truncated and extended data. */
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN - 1, sig, RL_EINTEGRITY, "signature: invalid");
    uint8_t longer[DATA_LEN + 1];
    memcpy(longer, DATA, DATA_LEN);
    longer[DATA_LEN] = '\n';
    expect_verify_fail(f, &f->pk, longer, sizeof longer, sig, RL_EINTEGRITY,
                       "signature: invalid");
}

static void test_tamper_signature(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX], bad[2 * MINISIG_SIG_TEXT_MAX];
    sig_lines s;
    sign_data(f, "tc", sig, sizeof sig);

    sig_split(sig, &s);
    sig_edit_line(&s, 1, 74, flip_sig_bit);
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "signature: invalid");

    sig_split(sig, &s);
    sig_edit_line(&s, 1, 74, flip_keyid_bit);
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY,
                       "signature: key id does not match public key");

    sig_split(sig, &s);
    sig_edit_line(&s, 1, 74, set_legacy);
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "legacy");

    sig_split(sig, &s);
    sig_edit_line(&s, 1, 74, set_unknown_alg);
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "unsupported algorithm");
}

static void test_tamper_trusted_comment(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX], bad[2 * MINISIG_SIG_TEXT_MAX];
    sig_lines s;
    sign_data(f, "file:manifest.json\tseed:1", sig, sizeof sig);
    const char *variants[] = {
        "trusted comment: file:manifest.json\tseed:2", /* one character changed */
        "trusted comment: file:manifest.json\tseed:1 ", /* appended space */
        "trusted comment: file:manifest.json",          /* truncated */
        "trusted comment: ",                            /* emptied */
        "trusted comment: File:manifest.json\tseed:1",  /* case */
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        sig_split(sig, &s);
        snprintf(s.l[2], sizeof s.l[2], "%s", variants[i]);
        sig_join(&s, bad, sizeof bad);
        expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY,
                           "signature: global signature (trusted comment) invalid");
    }
    /* The prefix itself is exact. */
    const char *prefixes[] = {"Trusted comment: x", "trusted comment:x", "trusted  comment: x",
                              "x"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        sig_split(sig, &s);
        snprintf(s.l[2], sizeof s.l[2], "%s", prefixes[i]);
        sig_join(&s, bad, sizeof bad);
        expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "line 3");
    }
    /* Too long (even though the rest would be checked by the global signature). */
    sig_split(sig, &s);
    memcpy(s.l[2], "trusted comment: ", 17);
    memset(s.l[2] + 17, 'y', MINISIG_TC_MAX + 1);
    s.l[2][17 + MINISIG_TC_MAX + 1] = '\0';
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "longer than");
    /* A carriage return inside the comment. */
    sig_split(sig, &s);
    snprintf(s.l[2], sizeof s.l[2], "trusted comment: a\rb");
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "carriage return");
}

static void test_tamper_global_signature(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX], bad[2 * MINISIG_SIG_TEXT_MAX];
    sig_lines s;
    sign_data(f, "tc", sig, sizeof sig);
    sig_split(sig, &s);
    sig_edit_line(&s, 3, 64, flip_global_bit);
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY,
                       "signature: global signature (trusted comment) invalid");
    /* A global signature copied from another signature by the same key. */
    char other[MINISIG_SIG_TEXT_MAX];
    sig_lines o;
    sign_data(f, "other", other, sizeof other);
    sig_split(other, &o);
    sig_split(sig, &s);
    memcpy(s.l[3], o.l[3], sizeof s.l[3]);
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY,
                       "signature: global signature (trusted comment) invalid");
}

static void test_wrong_key(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX];
    sign_data(f, "tc", sig, sizeof sig);
    expect_verify_fail(f, &f->other, DATA, DATA_LEN, sig, RL_EINTEGRITY,
                       "signature: key id does not match public key");
    /* Same key id, different key: the key id is not a secret and cannot be trusted. */
    minisig_pubkey forged = f->other;
    memcpy(forged.key_id, f->pk.key_id, sizeof forged.key_id);
    expect_verify_fail(f, &forged, DATA, DATA_LEN, sig, RL_EINTEGRITY, "signature: invalid");
}

static void test_malformed_signature_files(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX], bad[2 * MINISIG_SIG_TEXT_MAX];
    sig_lines s;
    sign_data(f, "tc", sig, sizeof sig);
    size_t len = strlen(sig);

    /* Every truncation fails (the last one only loses the final newline, which is fine). */
    for (size_t cut = 0; cut + 1 < len; cut++) {
        char tc[8];
        int rc = minisig_verify(&f->pk, DATA, DATA_LEN, sig, cut, tc, sizeof tc);
        if (rc != RL_EINTEGRITY)
            fail_msg("truncated at %zu: got %d (%s)", cut, rc, err_msg());
    }
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, sig, len - 1, NULL, 0), 0);

    /* Missing lines. */
    for (int drop = 0; drop < 4; drop++) {
        sig_split(sig, &s);
        bad[0] = '\0';
        for (int i = 0; i < 4; i++) {
            if (i == drop)
                continue;
            strcat(bad, s.l[i]);
            strcat(bad, "\n");
        }
        expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "malformed");
    }
    /* An extra line, even an empty one. */
    snprintf(bad, sizeof bad, "%s\n", sig);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "expected 4 lines");
    snprintf(bad, sizeof bad, "%sextra\n", sig);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "expected 4 lines");

    /* Untrusted comment prefix. */
    sig_split(sig, &s);
    snprintf(s.l[0], sizeof s.l[0], "untrusted comment %s", "x");
    sig_join(&s, bad, sizeof bad);
    expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "line 1");

    /* Garbage base64 in either binary line: invalid characters, wrong length, missing
     * padding, non-canonical trailing bits, embedded space. */
    const char *garbage[] = {"!!!!", "", "RUQ=", "not base64 at all", "====="};
    for (int line = 1; line <= 3; line += 2) {
        for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
            sig_split(sig, &s);
            snprintf(s.l[line], sizeof s.l[line], "%s", garbage[i]);
            sig_join(&s, bad, sizeof bad);
            expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "base64");
        }
        sig_split(sig, &s);
        size_t n = strlen(s.l[line]);
        assert_true(s.l[line][n - 1] == '='); /* 74 and 64 bytes both end in padding */
        s.l[line][n - 1] = '\0';              /* padding removed */
        sig_join(&s, bad, sizeof bad);
        expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "base64");
        sig_split(sig, &s);
        /* The character before the padding carries unused low bits: set one. */
        char *c = strchr(s.l[line], '=') - 1;
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        int idx = (int)(strchr(alpha, *c) - alpha);
        *c = alpha[idx ^ 1];
        sig_join(&s, bad, sizeof bad);
        expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "base64");
        sig_split(sig, &s);
        memmove(s.l[line] + 11, s.l[line] + 10, strlen(s.l[line] + 10) + 1);
        s.l[line][10] = ' ';
        sig_join(&s, bad, sizeof bad);
        expect_verify_fail(f, &f->pk, DATA, DATA_LEN, bad, RL_EINTEGRITY, "base64");
    }

    /* A NUL byte anywhere. */
    memcpy(bad, sig, len + 1);
    bad[30] = '\0';
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, bad, len, NULL, 0), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "NUL"));

    /* CRLF line ends (a file that passed through Windows) are the same signature. */
    sig_split(sig, &s);
    int n = snprintf(bad, sizeof bad, "%s\r\n%s\r\n%s\r\n%s\r\n", s.l[0], s.l[1], s.l[2], s.l[3]);
    assert_true(n > 0);
    char tc[16];
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, bad, (size_t)n, tc, sizeof tc), 0);
    assert_string_equal(tc, "tc");

    /* Empty input. */
    assert_int_equal(minisig_verify(&f->pk, DATA, DATA_LEN, "", 0, NULL, 0), RL_EINTEGRITY);
}

/* Bytes with bit 7 set never pass as base64: libsodium 1.0.18 decodes 0xAB and 0xAF as '+'
 * and '/' (it compares the low 8 bits of a signed char), which gave a signature file a
 * second spelling (found by the tamper campaign, docs/tamper.md). */
static void test_base64_high_bytes(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX], bad[MINISIG_SIG_TEXT_MAX];
    sign_data(f, "tc", sig, sizeof sig);
    size_t len = strlen(sig);
    size_t tried = 0;
    /* Every '+' and '/' of the signature and global-signature lines, with bit 7 set (the
     * alias), and every high byte at the first of them. */
    for (size_t i = 0; i < len; i++) {
        if (sig[i] != '+' && sig[i] != '/')
            continue;
        for (int c = tried ? (sig[i] | 0x80) : 0x80; c <= (tried ? (sig[i] | 0x80) : 0xff); c++) {
            memcpy(bad, sig, len + 1);
            bad[i] = (char)c;
            if (minisig_verify(&f->pk, DATA, DATA_LEN, bad, len, NULL, 0) != RL_EINTEGRITY)
                fail_msg("byte 0x%02x for '%c' at %zu accepted", c, sig[i], i);
        }
        tried++;
    }
    if (tried == 0)
        skip(); /* no '+' or '/' in this signature (about 1 run in 400) */
}

static void test_verify_file_errors(void **state)
{
    fixture *f = *state;
    char data[512], sigp[512];
    tmp_path(f, data, sizeof data, "f.txt");
    tmp_path(f, sigp, sizeof sigp, "f.txt.minisig");
    write_file(data, DATA, DATA_LEN);
    /* No signature file: nothing vouches for the data. */
    assert_int_equal(minisig_verify_file(&f->pk, data, NULL, 0), RL_EINTEGRITY);
    assert_int_equal(minisig_sign_file(f->sk, data, "tc"), 0);
    assert_int_equal(minisig_verify_file(&f->pk, data, NULL, 0), 0);
    /* The data changed after signing. */
    write_file(data, "x", 1);
    assert_int_equal(minisig_verify_file(&f->pk, data, NULL, 0), RL_EINTEGRITY);
    /* The data is gone. */
    assert_int_equal(unlink(data), 0);
    assert_int_equal(minisig_verify_file(&f->pk, data, NULL, 0), RL_EDATA);
    /* Signing a missing file. */
    assert_int_not_equal(minisig_sign_file(f->sk, data, "tc"), 0);
    /* Signature file is a huge file: refused before parsing. */
    write_file(data, DATA, DATA_LEN);
    char *big = calloc(1, 1 << 16);
    assert_non_null(big);
    memset(big, 'A', 1 << 16);
    write_file(sigp, big, 1 << 16);
    free(big);
    assert_int_equal(minisig_verify_file(&f->pk, data, NULL, 0), RL_EINTEGRITY);
}

/* minisig_verify_bytes checks the bytes the caller holds, not the file as it is now: a
 * file swapped between the read and the check cannot slip other bytes past it. */
static void test_verify_bytes(void **state)
{
    fixture *f = *state;
    char data[512];
    char tc[256];
    tmp_path(f, data, sizeof data, "b.txt");
    write_file(data, DATA, DATA_LEN);
    assert_int_equal(minisig_verify_bytes(&f->pk, (const uint8_t *)DATA, DATA_LEN, data, tc,
                                          sizeof tc),
                     RL_EINTEGRITY); /* no signature yet */
    assert_int_equal(minisig_sign_file(f->sk, data, "bytes"), 0);
    write_file(data, "swapped", 7);
    assert_int_equal(minisig_verify_bytes(&f->pk, (const uint8_t *)DATA, DATA_LEN, data, tc,
                                          sizeof tc),
                     0);
    assert_string_equal(tc, "bytes");
    assert_int_equal(minisig_verify_bytes(&f->pk, (const uint8_t *)"swapped", 7, data, tc,
                                          sizeof tc),
                     RL_EINTEGRITY);
}

/* The payment file's path: sign a buffer through its prehash, write it, read it back. The
 * signature equals minisig_sign's over the same bytes (Ed25519 is deterministic) and Debian's
 * minisign accepts the file; every way the written file can differ is refused. */
static void test_sign_prehash_and_verify_written(void **state)
{
    fixture *f = *state;
    char data[512], sigp[512];
    char sig1[MINISIG_SIG_TEXT_MAX], sig2[MINISIG_SIG_TEXT_MAX];
    uint8_t h[MINISIG_PREHASH_BYTES], other[MINISIG_PREHASH_BYTES];
    tmp_path(f, data, sizeof data, "written.txt");
    tmp_path(f, sigp, sizeof sigp, "written.txt.minisig");
    minisig_prehash(DATA, DATA_LEN, h);
    assert_int_equal(minisig_sign_prehash(f->sk, h, "written", sig1, sizeof sig1), 0);
    assert_int_equal(minisig_sign(f->sk, DATA, DATA_LEN, "written", sig2, sizeof sig2), 0);
    assert_string_equal(sig1, sig2);
    /* Not written yet. */
    assert_int_equal(minisig_verify_written(&f->pk, data, DATA, DATA_LEN, h), RL_EIO);
    write_file(data, DATA, DATA_LEN);
    write_file(sigp, sig1, strlen(sig1));
    assert_int_equal(minisig_verify_written(&f->pk, data, DATA, DATA_LEN, h), 0);
    char key[512];
    key_path(key, sizeof key, "export-TEST.pub");
    assert_int_equal(run("minisign -Vq -p '%s' -m '%s'", key, data), 0);
    /* Another key, or a hash of other bytes: the signature does not verify. */
    assert_int_equal(minisig_verify_written(&f->other, data, DATA, DATA_LEN, h), RL_EINTEGRITY);
    minisig_prehash((const uint8_t *)"other", 5, other);
    assert_int_equal(minisig_verify_written(&f->pk, data, DATA, DATA_LEN, other), RL_EINTEGRITY);
    /* One byte changed, one missing, one more: the file is not what was signed. */
    uint8_t buf[sizeof DATA + 1];
    memcpy(buf, DATA, DATA_LEN);
    buf[DATA_LEN / 2] ^= 0x01;
    write_file(data, buf, DATA_LEN);
    assert_int_equal(minisig_verify_written(&f->pk, data, DATA, DATA_LEN, h), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "differs from what was signed"));
    write_file(data, DATA, DATA_LEN - 1);
    assert_int_equal(minisig_verify_written(&f->pk, data, DATA, DATA_LEN, h), RL_EINTEGRITY);
    memcpy(buf, DATA, DATA_LEN);
    buf[DATA_LEN] = '\n';
    write_file(data, buf, DATA_LEN + 1);
    assert_int_equal(minisig_verify_written(&f->pk, data, DATA, DATA_LEN, h), RL_EINTEGRITY);
    /* The right file, its signature file gone. */
    write_file(data, DATA, DATA_LEN);
    assert_int_equal(unlink(sigp), 0);
    assert_int_equal(minisig_verify_written(&f->pk, data, DATA, DATA_LEN, h), RL_EINTEGRITY);
}

/* --- key files --------------------------------------------------------------------- */

static void test_pubkey_parse(void **state)
{
    fixture *f = *state;
    char pubp[512];
    char *text = NULL;
    size_t len = 0;
    minisig_pubkey pk;
    key_path(pubp, sizeof pubp, "export-TEST.pub");
    assert_int_equal(file_read_all(pubp, 4096, &text, &len), 0);
    assert_int_equal(minisig_pubkey_parse(text, len, &pk), 0);
    assert_memory_equal(&pk, &f->pk, sizeof pk);
    /* The bare base64 line (as minisign -P takes it), with or without newline. */
    char *line2 = strchr(text, '\n') + 1;
    assert_int_equal(minisig_pubkey_parse(line2, strlen(line2), &pk), 0);
    assert_memory_equal(&pk, &f->pk, sizeof pk);
    assert_int_equal(minisig_pubkey_parse(line2, strlen(line2) - 1, &pk), 0);

    char bad[1024];
    /* Wrong comment prefix. */
    snprintf(bad, sizeof bad, "comment: x\n%s", line2);
    assert_int_equal(minisig_pubkey_parse(bad, strlen(bad), &pk), RL_EDATA);
    /* Three lines. */
    snprintf(bad, sizeof bad, "%s\n", text);
    assert_int_equal(minisig_pubkey_parse(bad, strlen(bad), &pk), RL_EDATA);
    /* Empty. */
    assert_int_equal(minisig_pubkey_parse("", 0, &pk), RL_EDATA);
    /* A secret key is not a public key. */
    free(text);
    key_path(pubp, sizeof pubp, "export-TEST.key");
    assert_int_equal(file_read_all(pubp, 4096, &text, &len), 0);
    assert_int_equal(minisig_pubkey_parse(text, len, &pk), RL_EDATA);
    free(text);
    /* Wrong algorithm: "ED" is a signature algorithm, not a key's. */
    uint8_t blob[42] = {'E', 'D'};
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(minisig_pubkey_parse(b64, strlen(b64), &pk), RL_EDATA);
    assert_non_null(strstr(err_msg(), "algorithm"));
    /* Wrong length (41 bytes). */
    sodium_bin2base64(b64, sizeof b64, blob, 41, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(minisig_pubkey_parse(b64, strlen(b64), &pk), RL_EDATA);
    /* Missing file. */
    assert_int_equal(minisig_pubkey_load("/nonexistent/x.pub", &pk), RL_EDATA);
}

/* Writes a secret key file whose binary blob is the TEST export key's, changed by fn. */
static void write_modified_seckey(fixture *f, const char *path, void (*fn)(uint8_t *))
{
    char keyp[512];
    char *text = NULL;
    size_t len = 0;
    uint8_t blob[158];
    size_t bl = 0;
    char out[1024];
    (void)f;
    key_path(keyp, sizeof keyp, "export-TEST.key");
    assert_int_equal(file_read_all(keyp, 4096, &text, &len), 0);
    char *l2 = strchr(text, '\n') + 1;
    char *end = strchr(l2, '\n');
    assert_int_equal(sodium_base642bin(blob, sizeof blob, l2, (size_t)(end - l2), NULL, &bl,
                                       NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(bl, 158);
    fn(blob);
    int n = snprintf(out, sizeof out, "untrusted comment: modified\n");
    sodium_bin2base64(out + n, sizeof out - (size_t)n, blob, sizeof blob,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(out, "\n");
    write_file(path, out, strlen(out));
    sodium_memzero(blob, sizeof blob);
    sodium_memzero(text, len);
    free(text);
}

static void mod_none(uint8_t *b) { (void)b; }
static void mod_checksum(uint8_t *b) { b[157] ^= 1; }
static void mod_zero_checksum(uint8_t *b) { memset(b + 126, 0, 32); }
static void mod_sk_zero_checksum(uint8_t *b) { memset(b + 126, 0, 32); b[62 + 40] ^= 1; }
static void mod_sk(uint8_t *b) { b[62 + 5] ^= 1; }
static void mod_keyid(uint8_t *b) { b[54] ^= 1; }
/* What `minisign -G` (with a password) writes: scrypt parameters and a random salt. Made by
 * hand because a real encrypted key costs seconds of scrypt to create. */
static void mod_scrypt(uint8_t *b)
{
    memcpy(b + 2, "Sc", 2);
    memset(b + 6, 0xa5, 32);          /* salt */
    b[38 + 3] = 0x02; /* opslimit 33554432, little-endian */
    b[46 + 3] = 0x40; /* memlimit 1 GiB */
}
static void mod_kdf(uint8_t *b) { memcpy(b + 2, "Zz", 2); }
static void mod_alg(uint8_t *b) { memcpy(b, "ED", 2); }
static void mod_chkalg(uint8_t *b) { memcpy(b + 4, "B3", 2); }

static void test_seckey_files(void **state)
{
    fixture *f = *state;
    char p[512];
    minisig_seckey *sk = NULL;
    tmp_path(f, p, sizeof p, "mod.key");
    struct {
        void (*fn)(uint8_t *);
        int rc;
        const char *msg;
    } cases[] = {
        {mod_none, 0, ""},
        {mod_zero_checksum, 0, ""},
        {mod_checksum, RL_EDATA, "checksum"},
        {mod_sk, RL_EDATA, "checksum"},
        {mod_keyid, RL_EDATA, "checksum"},
        {mod_sk_zero_checksum, RL_EDATA, "does not match the seed"},
        {mod_scrypt, RL_EDATA, "encrypted"},
        {mod_kdf, RL_EDATA, "key derivation"},
        {mod_alg, RL_EDATA, "algorithm"},
        {mod_chkalg, RL_EDATA, "checksum function"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unlink(p);
        write_modified_seckey(f, p, cases[i].fn);
        int rc = minisig_seckey_load(p, &sk);
        if (rc != cases[i].rc || strstr(err_msg(), cases[i].msg) == NULL)
            fail_msg("case %zu: expected %d '%s', got %d '%s'", i, cases[i].rc, cases[i].msg,
                     rc, err_msg());
        if (rc == 0) {
            minisig_pubkey pk;
            minisig_seckey_pubkey(sk, &pk);
            assert_memory_equal(&pk, &f->pk, sizeof pk);
        } else {
            assert_null(sk);
        }
        minisig_seckey_free(sk);
        sk = NULL;
    }
    /* Structure: one line, three lines, bad prefix, truncated base64, missing file. */
    const char *texts[] = {
        "untrusted comment: x\n",
        "RWQAAEIy\n",
        "comment: x\nRWQAAEIy\n",
        "untrusted comment: x\nRWQAAEIyAAAA\n",
        "untrusted comment: x\nRWQAAEIyAAAA\nmore\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        unlink(p);
        write_file(p, texts[i], strlen(texts[i]));
        assert_int_equal(minisig_seckey_load(p, &sk), RL_EDATA);
        assert_null(sk);
    }
    assert_int_equal(minisig_seckey_load("/nonexistent/x.key", &sk), RL_EDATA);
    /* A symlink to a key is refused (O_NOFOLLOW): key paths must be exact. */
    char keyp[512], link[512];
    key_path(keyp, sizeof keyp, "export-TEST.key");
    tmp_path(f, link, sizeof link, "link.key");
    char abs[4096];
    assert_non_null(realpath(keyp, abs));
    assert_int_equal(symlink(abs, link), 0);
    assert_int_not_equal(minisig_seckey_load(link, &sk), 0);
    assert_null(sk);
    minisig_seckey_free(NULL); /* accepts NULL */
}

static void test_seckey_from_raw(void **state)
{
    fixture *f = *state;
    uint8_t pk[32], sk[64], id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    minisig_seckey *k = NULL;
    minisig_pubkey mp;
    char sig[MINISIG_SIG_TEXT_MAX];
    (void)f;
    crypto_sign_keypair(pk, sk);
    assert_int_equal(minisig_seckey_from_raw(sk, id, &k), 0);
    minisig_seckey_pubkey(k, &mp);
    assert_memory_equal(mp.pk, pk, 32);
    assert_memory_equal(mp.key_id, id, 8);
    assert_int_equal(minisig_sign(k, DATA, DATA_LEN, "raw", sig, sizeof sig), 0);
    assert_int_equal(minisig_verify(&mp, DATA, DATA_LEN, sig, strlen(sig), NULL, 0), 0);
    minisig_seckey_free(k);
    /* An inconsistent raw key (public half not from this seed) is refused. */
    sk[63] ^= 1;
    assert_int_equal(minisig_seckey_from_raw(sk, id, &k), RL_EDATA);
    assert_null(k);
    sodium_memzero(sk, sizeof sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_longest_trusted_comment),
        cmocka_unit_test(test_minisign_verifies_ours),
        cmocka_unit_test(test_ours_verifies_minisign),
        cmocka_unit_test(test_legacy_signature_from_minisign_refused),
        cmocka_unit_test(test_keygen_interoperates),
        cmocka_unit_test(test_minisign_unencrypted_key_loads),
        cmocka_unit_test(test_tamper_data),
        cmocka_unit_test(test_tamper_signature),
        cmocka_unit_test(test_tamper_trusted_comment),
        cmocka_unit_test(test_tamper_global_signature),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_malformed_signature_files),
        cmocka_unit_test(test_base64_high_bytes),
        cmocka_unit_test(test_verify_bytes),
        cmocka_unit_test(test_sign_prehash_and_verify_written),
        cmocka_unit_test(test_verify_file_errors),
        cmocka_unit_test(test_pubkey_parse),
        cmocka_unit_test(test_seckey_files),
        cmocka_unit_test(test_seckey_from_raw),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
