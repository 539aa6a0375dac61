/* tokfix.h: shared fixture for the end-to-end token tests (header-only, because each
 * tests/token/test_*.c links alone with emu.o).
 *
 * A test plugs emulated tokens into a fresh umockdev testbed (emu.h), opens them through
 * app/token exactly as the appliance does, provisions them through the same transport
 * (ENROLL_KEY: an enrolment authority made for the test, then the appliance TEST key from
 * keys/test/), and signs files with app/sig's minisig_sign and the TEST key, with trusted
 * comments following the token's contract `mode=production|drill seq=N file=NAME`.
 * Run from the repository root (or with TOP set) so keys/test/ is found. */
#ifndef TOKFIX_H
#define TOKFIX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/err.h"
#include "emu.h"
#include "sig/minisig.h"
#include "token/usbtoken.h"

#define TF_UNUSED __attribute__((unused))

/* The transfer timeout tf_config uses: generous where nothing is meant to time out (a loaded
 * machine must not cause resends the tests count), short in the fault tests, which set it
 * (the emulated token answers within a millisecond). */
static TF_UNUSED unsigned tf_timeout_ms = 2000;
#define TF_RETRIES 2u

typedef struct {
    minisig_seckey *app; /* keys/test/appliance-TEST.key */
    minisig_pubkey app_pub;
    minisig_seckey *auth; /* an enrolment authority made for this run */
    minisig_pubkey auth_pub;
    minisig_seckey *other; /* a valid key that is never enrolled */
} tf_keys;

static TF_UNUSED const char *tf_top(void)
{
    const char *t = getenv("TOP");
    return t != NULL && t[0] != '\0' ? t : ".";
}

/* Fails the test with the last error message when rc is not want or the message lacks
 * `part` (NULL: any message). */
#define tf_expect(rc, want, part) tf_expect_at((rc), (want), (part), __FILE__, __LINE__)
static TF_UNUSED void tf_expect_at(int rc, int want, const char *part, const char *file,
                                   int line)
{
    if (rc != want || (part != NULL && strstr(err_msg(), part) == NULL)) {
        fprintf(stderr, "%s:%d: got %d, wanted %d with \"%s\"; message: %s\n", file, line, rc,
                want, part != NULL ? part : "", rc != RL_OK ? err_msg() : "(none: success)");
        fail();
    }
}

#define tf_ok(rc) tf_expect((rc), RL_OK, NULL)

static TF_UNUSED void tf_random_key(minisig_seckey **sk, minisig_pubkey *pk)
{
    uint8_t raw_pk[32], raw_sk[64], id[8];
    assert_int_equal(crypto_sign_keypair(raw_pk, raw_sk), 0);
    randombytes_buf(id, sizeof id);
    tf_ok(minisig_seckey_from_raw(raw_sk, id, sk));
    sodium_memzero(raw_sk, sizeof raw_sk);
    minisig_seckey_pubkey(*sk, pk);
}

static TF_UNUSED tf_keys *tf_keys_load(void)
{
    char path[1024];
    minisig_pubkey from_file;
    minisig_pubkey unused;
    tf_keys *k = calloc(1, sizeof *k);
    assert_non_null(k);
    assert_true(sodium_init() >= 0);
    snprintf(path, sizeof path, "%s/keys/test/appliance-TEST.key", tf_top());
    tf_ok(minisig_seckey_load(path, &k->app));
    minisig_seckey_pubkey(k->app, &k->app_pub);
    snprintf(path, sizeof path, "%s/keys/test/appliance-TEST.pub", tf_top());
    tf_ok(minisig_pubkey_load(path, &from_file));
    assert_memory_equal(&from_file, &k->app_pub, sizeof from_file);
    tf_random_key(&k->auth, &k->auth_pub);
    tf_random_key(&k->other, &unused);
    return k;
}

static TF_UNUSED void tf_keys_free(tf_keys *k)
{
    if (k == NULL)
        return;
    minisig_seckey_free(k->app);
    minisig_seckey_free(k->auth);
    minisig_seckey_free(k->other);
    free(k);
}

static TF_UNUSED void tf_config(usbtoken_config *cfg, const char *const *serials, size_t n)
{
    usbtoken_config_default(cfg);
    cfg->serials = serials;
    cfg->nserials = n;
    cfg->timeout_ms = tf_timeout_ms;
    cfg->commit_timeout_ms = 2 * tf_timeout_ms;
    cfg->retries = TF_RETRIES;
}

/* Opens the token with this serial (the only allowlisted one); fails the test if it cannot. */
static TF_UNUSED usbtoken *tf_open(const char *serial)
{
    usbtoken_config cfg;
    usbtoken *t = NULL;
    const char *list[1] = {serial};
    tf_config(&cfg, list, 1);
    tf_ok(usbtoken_open(&cfg, &t));
    assert_non_null(t);
    assert_string_equal(usbtoken_serial(t), serial);
    return t;
}

static TF_UNUSED emu_dev *tf_plug(emu *e, const char *serial, uint32_t max_packet,
                                  uint32_t blocks)
{
    emu_dev_config c;
    emu_dev_config_default(&c);
    c.serial = serial;
    if (max_packet != 0)
        c.max_packet = max_packet;
    if (blocks != 0)
        c.block_count = blocks;
    emu_dev *d = emu_add(e, &c);
    assert_non_null(d);
    return d;
}

/* Signs data the way the appliance's payment-file signer does (minisign "ED"). */
static TF_UNUSED void tf_sign(const minisig_seckey *k, const uint8_t *data, size_t len,
                              const char *tc, char out[MINISIG_SIG_TEXT_MAX])
{
    tf_ok(minisig_sign(k, data, len, tc, out, MINISIG_SIG_TEXT_MAX));
}

/* ENROLL_KEY of key with operation op, the statement signed by `signer`. */
static TF_UNUSED int tf_enroll(usbtoken *t, const minisig_seckey *signer, unsigned op,
                               const minisig_pubkey *key)
{
    usbtoken_info info;
    uint8_t st[PROTO_ST_SIZE];
    char sig[MINISIG_SIG_TEXT_MAX];
    tf_ok(usbtoken_get_info(t, &info));
    tf_ok(usbtoken_statement_build(st, info.serial, info.epoch + 1, op, key->key_id, key->pk));
    tf_sign(signer, st, sizeof st, "reservlon enrolment statement", sig);
    return usbtoken_enroll(t, st, sig, strlen(sig), NULL, NULL);
}

/* The key ceremony's provisioning step, then enrolment of the appliance TEST key. */
static TF_UNUSED void tf_provision(usbtoken *t, const tf_keys *k)
{
    tf_ok(tf_enroll(t, k->auth, PROTO_ENROLL_SET_AUTHORITY, &k->auth_pub));
    tf_ok(tf_enroll(t, k->auth, PROTO_ENROLL_ADD_APPLIANCE, &k->app_pub));
}

static TF_UNUSED int tf_put(usbtoken *t, const minisig_seckey *k, const char *name,
                            usbtoken_class cls, const uint8_t *data, size_t len, const char *tc,
                            usbtoken_receipt *rcpt)
{
    char sig[MINISIG_SIG_TEXT_MAX];
    tf_sign(k, data, len, tc, sig);
    return usbtoken_put(t, name, cls, data, len, sig, strlen(sig), rcpt);
}

/* A deterministic test file of n bytes (xorshift). */
static TF_UNUSED uint8_t *tf_data(size_t n, uint32_t salt)
{
    uint8_t *b = malloc(n > 0 ? n : 1);
    assert_non_null(b);
    uint32_t x = 2463534242u ^ (salt * 2654435761u);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
    return b;
}

/* Files on the token and its counter. */
static TF_UNUSED size_t tf_list(usbtoken *t, usbtoken_entry files[PROTO_MAX_FILES],
                                uint64_t *counter)
{
    size_t n = 0;
    tf_ok(usbtoken_list(t, files, PROTO_MAX_FILES, &n, counter));
    return n;
}

/* Reads a file back and checks it equals data. */
static TF_UNUSED void tf_check_get(usbtoken *t, const char *name, const uint8_t *data, size_t len)
{
    uint8_t *back = NULL;
    size_t blen = 0;
    tf_ok(usbtoken_get(t, name, &back, &blen, NULL));
    assert_int_equal(blen, len);
    if (len > 0)
        assert_memory_equal(back, data, len);
    free(back);
}

static TF_UNUSED double tf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
