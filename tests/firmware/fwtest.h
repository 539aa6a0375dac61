/* fwtest.h: shared helpers for the firmware core tests (header-only, because each
 * tests/firmware/test_*.c links alone against libtokenfw.a, libsodium and cmocka).
 *
 * A fixture is a host HAL device plus a token over it. A tiny host-side client speaks the
 * wire protocol through the fake endpoints (proto.h layouts, built by hand here so that the
 * tests check the firmware against the specification rather than against itself), keys are
 * made deterministically with libsodium, and files are signed exactly as minisign -S does
 * (prehashed "ED": Ed25519 over BLAKE2b-512 of the file, global signature over
 * sig || trusted comment). */
#ifndef FWTEST_H
#define FWTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../firmware/hal/host/hal_host.h"
#include "proto.h"
#include "token.h"

#define FWT_UNUSED __attribute__((unused))

typedef struct {
    hal_dev *dev;
    token_storage mem;
    token *t;
    uint32_t seq;
    /* last response */
    uint8_t rsp[PROTO_MAX_FRAME + 64];
    long rsp_len;
    uint8_t rsp_cmd;
    uint16_t rsp_status;
    uint32_t rsp_seq;
    uint32_t rsp_plen;
    const uint8_t *rsp_payload;
} fwt;

typedef struct {
    uint8_t pk[32];
    uint8_t sk[64];
    uint8_t key_id[8];
} fwt_key;

typedef struct {
    uint8_t key_id[8];
    uint8_t prehash[64];
    uint8_t sig[64];
    uint8_t gsig[64];
    char tc[256];
} fwt_sig;

/* ---- fixture ------------------------------------------------------------------------------ */

static FWT_UNUSED fwt *fwt_new_cfg(const hal_host_config *cfg)
{
    fwt *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dev = hal_host_create(cfg);
    assert_non_null(f->dev);
    f->t = token_open(&f->mem, f->dev);
    assert_non_null(f->t);
    return f;
}

static FWT_UNUSED fwt *fwt_new(void)
{
    return fwt_new_cfg(NULL);
}

static FWT_UNUSED void fwt_free(fwt *f)
{
    if (!f)
        return;
    token_close(f->t);
    hal_host_destroy(f->dev);
    free(f);
}

/* Power off and on: RAM state gone, flash kept, token mounted again. */
static FWT_UNUSED void fwt_reboot(fwt *f)
{
    token_close(f->t);
    hal_host_power_cycle(f->dev);
    f->t = token_open(&f->mem, f->dev);
    assert_non_null(f->t);
}

static FWT_UNUSED void fwt_pump(fwt *f)
{
    int guard = 0;
    while (token_poll(f->t))
        assert_true(++guard < 10000000);
}

/* Parses one IN transfer already received into f->rsp. Returns 0 if it is a well-formed
 * frame (magic, version, length, CRC all right). */
static FWT_UNUSED int fwt_parse_rsp(fwt *f)
{
    const uint8_t *r = f->rsp;
    if (f->rsp_len < (long)(PROTO_HDR_SIZE + PROTO_CRC_SIZE))
        return -1;
    if (r[0] != 'R' || r[1] != 'L' || r[2] != 'T' || r[3] != 'K' || r[4] != PROTO_VERSION)
        return -1;
    uint32_t plen = proto_load32(r + PROTO_OFF_LEN);
    if ((long)(PROTO_HDR_SIZE + plen + PROTO_CRC_SIZE) != f->rsp_len)
        return -1;
    if (proto_load32(r + PROTO_HDR_SIZE + plen) != proto_crc32(0, r, PROTO_HDR_SIZE + plen))
        return -1;
    f->rsp_cmd = r[PROTO_OFF_CMD];
    f->rsp_status = proto_load16(r + PROTO_OFF_STATUS);
    f->rsp_seq = proto_load32(r + PROTO_OFF_SEQ);
    f->rsp_plen = plen;
    f->rsp_payload = r + PROTO_HDR_SIZE;
    return 0;
}

/* Sends raw bytes as one OUT transfer, runs the token, takes one IN transfer. Returns 0 if a
 * well-formed response frame came back. */
static FWT_UNUSED int fwt_raw(fwt *f, const uint8_t *frame, size_t len)
{
    assert_int_equal(hal_host_usb_send(f->dev, frame, len), 0);
    fwt_pump(f);
    f->rsp_len = hal_host_usb_recv(f->dev, f->rsp, sizeof f->rsp);
    if (f->rsp_len < 0)
        return -1;
    return fwt_parse_rsp(f);
}

/* One request with an explicit sequence number. Returns the response status; fails the test
 * if no well-formed response arrives or it does not echo seq. */
static FWT_UNUSED int fwt_req_seq(fwt *f, uint8_t cmd, uint32_t seq, const void *payload,
                                  size_t len)
{
    static uint8_t frame[PROTO_MAX_FRAME];
    size_t fl = proto_frame_build(frame, sizeof frame, cmd, 0, seq, payload, (uint32_t)len);
    assert_true(fl > 0);
    assert_int_equal(fwt_raw(f, frame, fl), 0);
    assert_int_equal(f->rsp_seq, seq);
    return f->rsp_status;
}

/* One request with the next sequence number (HELLO restarts the numbering). */
static FWT_UNUSED int fwt_req(fwt *f, uint8_t cmd, const void *payload, size_t len)
{
    int st = fwt_req_seq(f, cmd, ++f->seq, payload, len);
    assert_true(f->rsp_cmd == (uint8_t)(cmd | PROTO_RSP_FLAG));
    return st;
}

static FWT_UNUSED void fwt_hello(fwt *f)
{
    f->seq = 1000;
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_HELLO, f->seq, NULL, 0), PROTO_OK);
    assert_int_equal(f->rsp_cmd, PROTO_CMD_HELLO | PROTO_RSP_FLAG);
}

/* ---- keys and signatures ------------------------------------------------------------------- */

static FWT_UNUSED void fwt_key_make(fwt_key *k, uint8_t seedbyte)
{
    uint8_t seed[32];
    memset(seed, seedbyte, sizeof seed);
    assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
    crypto_generichash(k->key_id, 8, k->pk, 32, NULL, 0);
}

static FWT_UNUSED void fwt_sign(const fwt_key *k, const uint8_t *data, size_t len, const char *tc,
                                fwt_sig *s)
{
    uint8_t msg[64 + 256];
    memset(s, 0, sizeof *s);
    memcpy(s->key_id, k->key_id, 8);
    snprintf(s->tc, sizeof s->tc, "%s", tc);
    crypto_generichash(s->prehash, 64, data, len, NULL, 0);
    crypto_sign_detached(s->sig, NULL, s->prehash, 64, k->sk);
    memcpy(msg, s->sig, 64);
    memcpy(msg + 64, s->tc, strlen(s->tc));
    crypto_sign_detached(s->gsig, NULL, msg, 64 + strlen(s->tc), k->sk);
}

/* ---- commands --------------------------------------------------------------------------------- */

static FWT_UNUSED size_t fwt_put_begin_payload(uint8_t *p, const char *name, uint8_t cls,
                                               uint32_t size, const fwt_sig *s)
{
    size_t nl = strlen(name), tl = strlen(s->tc);
    memset(p, 0, PROTO_PB_VAR);
    p[PROTO_PB_NAME_LEN] = (uint8_t)nl;
    p[PROTO_PB_CLASS] = cls;
    proto_store16(p + PROTO_PB_TC_LEN, (uint16_t)tl);
    proto_store32(p + PROTO_PB_SIZE, size);
    p[PROTO_PB_ALG] = 'E';
    p[PROTO_PB_ALG + 1] = 'D';
    memcpy(p + PROTO_PB_KEY_ID, s->key_id, 8);
    memcpy(p + PROTO_PB_PREHASH, s->prehash, 64);
    memcpy(p + PROTO_PB_SIG, s->sig, 64);
    memcpy(p + PROTO_PB_GSIG, s->gsig, 64);
    memcpy(p + PROTO_PB_VAR, name, nl);
    memcpy(p + PROTO_PB_VAR + nl, s->tc, tl);
    return PROTO_PB_VAR + nl + tl;
}

static FWT_UNUSED int fwt_put_begin(fwt *f, const char *name, uint8_t cls, uint32_t size,
                                    const fwt_sig *s)
{
    uint8_t p[PROTO_MAX_PAYLOAD];
    size_t n = fwt_put_begin_payload(p, name, cls, size, s);
    return fwt_req(f, PROTO_CMD_PUT_BEGIN, p, n);
}

static FWT_UNUSED int fwt_put_data(fwt *f, uint32_t off, const uint8_t *data, size_t n)
{
    uint8_t p[PROTO_MAX_PAYLOAD];
    assert_true(n <= PROTO_MAX_CHUNK);
    proto_store32(p, off);
    memcpy(p + 4, data, n);
    return fwt_req(f, PROTO_CMD_PUT_DATA, p, 4 + n);
}

/* Whole upload with a signature supplied by the caller (possibly a bad one). Returns the
 * first non-OK status, or PROTO_OK after a successful commit. */
static FWT_UNUSED int fwt_put_signed(fwt *f, const char *name, uint8_t cls, const uint8_t *data,
                                     size_t len, const fwt_sig *s, size_t chunk)
{
    int st = fwt_put_begin(f, name, cls, (uint32_t)len, s);
    if (st != PROTO_OK)
        return st;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        st = fwt_put_data(f, (uint32_t)off, data + off, n);
        if (st != PROTO_OK)
            return st;
    }
    return fwt_req(f, PROTO_CMD_PUT_COMMIT, NULL, 0);
}

static FWT_UNUSED int fwt_put(fwt *f, const fwt_key *k, const char *name, uint8_t cls,
                              const uint8_t *data, size_t len, const char *tc)
{
    fwt_sig s;
    fwt_sign(k, data, len, tc, &s);
    return fwt_put_signed(f, name, cls, data, len, &s, PROTO_MAX_CHUNK);
}

static FWT_UNUSED int fwt_name_cmd(fwt *f, uint8_t cmd, const char *name)
{
    return fwt_req(f, cmd, name, strlen(name));
}

/* Reads a whole file back with GET; returns its length or -1. */
static FWT_UNUSED long fwt_get_all(fwt *f, const char *name, uint8_t *buf, size_t cap)
{
    uint8_t p[PROTO_GET_NAME + 64];
    size_t nl = strlen(name), off = 0;
    for (;;) {
        proto_store32(p + PROTO_GET_OFFSET, (uint32_t)off);
        proto_store16(p + PROTO_GET_LEN, PROTO_MAX_CHUNK);
        memcpy(p + PROTO_GET_NAME, name, nl);
        if (fwt_req(f, PROTO_CMD_GET, p, PROTO_GET_NAME + nl) != PROTO_OK)
            return -1;
        if (f->rsp_plen == 0)
            return (long)off;
        if (off + f->rsp_plen > cap)
            return -1;
        memcpy(buf + off, f->rsp_payload, f->rsp_plen);
        off += f->rsp_plen;
    }
}

/* INFO's counter. */
static FWT_UNUSED uint64_t fwt_counter(fwt *f)
{
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    return proto_load64(f->rsp_payload + PROTO_INFO_COUNTER);
}

/* ---- enrolment ------------------------------------------------------------------------------- */

static FWT_UNUSED void fwt_statement(uint8_t st[PROTO_ST_SIZE], const char *serial, uint32_t epoch,
                                     uint8_t op, const fwt_key *k)
{
    memset(st, 0, PROTO_ST_SIZE);
    memcpy(st + PROTO_ST_MAGIC, "RLTKENR1", 8);
    memcpy(st + PROTO_ST_SERIAL, serial, strlen(serial));
    proto_store32(st + PROTO_ST_EPOCH, epoch);
    st[PROTO_ST_OP] = op;
    memcpy(st + PROTO_ST_KEY_ID, k->key_id, 8);
    memcpy(st + PROTO_ST_PK, k->pk, 32);
}

/* ENROLL_KEY with a statement signed by `signer`. */
static FWT_UNUSED int fwt_enroll_stmt(fwt *f, const uint8_t st[PROTO_ST_SIZE], const fwt_key *signer)
{
    uint8_t p[PROTO_MAX_PAYLOAD];
    fwt_sig s;
    fwt_sign(signer, st, PROTO_ST_SIZE, "enrolment statement", &s);
    size_t tl = strlen(s.tc);
    memcpy(p, st, PROTO_ST_SIZE);
    memset(p + PROTO_EK_ALG, 0, 4);
    p[PROTO_EK_ALG] = 'E';
    p[PROTO_EK_ALG + 1] = 'D';
    memcpy(p + PROTO_EK_KEY_ID, s.key_id, 8);
    memcpy(p + PROTO_EK_SIG, s.sig, 64);
    memcpy(p + PROTO_EK_GSIG, s.gsig, 64);
    proto_store16(p + PROTO_EK_TC_LEN, (uint16_t)tl);
    memcpy(p + PROTO_EK_TC, s.tc, tl);
    return fwt_req(f, PROTO_CMD_ENROLL_KEY, p, PROTO_EK_TC + tl);
}

static FWT_UNUSED uint32_t fwt_epoch(fwt *f)
{
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    return proto_load32(f->rsp_payload + PROTO_INFO_EPOCH);
}

static FWT_UNUSED int fwt_enroll(fwt *f, const fwt_key *signer, uint8_t op, const fwt_key *k)
{
    uint8_t st[PROTO_ST_SIZE];
    char serial[17] = {0};
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    memcpy(serial, f->rsp_payload + PROTO_INFO_SERIAL, 16);
    uint32_t epoch = proto_load32(f->rsp_payload + PROTO_INFO_EPOCH);
    fwt_statement(st, serial, epoch + 1, op, k);
    return fwt_enroll_stmt(f, st, signer);
}

/* HELLO, provision authority (self-signed), enrol one appliance key. */
static FWT_UNUSED void fwt_provision(fwt *f, const fwt_key *auth, const fwt_key *appliance)
{
    fwt_hello(f);
    assert_int_equal(fwt_enroll(f, auth, PROTO_ENROLL_SET_AUTHORITY, auth), PROTO_OK);
    assert_int_equal(fwt_enroll(f, auth, PROTO_ENROLL_ADD_APPLIANCE, appliance), PROTO_OK);
}

/* A deterministic test file of n bytes. */
static FWT_UNUSED uint8_t *fwt_file(size_t n, uint32_t salt)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    uint32_t x = 2463534242u ^ salt;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
    return b;
}

#endif
