/* Firmware core: every command, its success path and its refusals (unsigned, wrongly signed,
 * tampered, replayed, drill-as-production, delete before collected, enrolment without the
 * authority), the upload state machine and a file signed by the real minisign tool. */
#include "fwtest.h"

#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    fwt *f;
    fwt_key auth, app, other;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    c->f = fwt_new();
    fwt_key_make(&c->auth, 1);
    fwt_key_make(&c->app, 2);
    fwt_key_make(&c->other, 3);
    fwt_provision(c->f, &c->auth, &c->app);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    assert_int_equal(hal_host_flash_violations(c->f->dev), 0);
    fwt_free(c->f);
    free(c);
    return 0;
}

/* LIST parsed: returns nfiles, fills counter. */
static int list(fwt *f, uint64_t *counter)
{
    assert_int_equal(fwt_req(f, PROTO_CMD_LIST, NULL, 0), PROTO_OK);
    if (counter)
        *counter = proto_load64(f->rsp_payload);
    int n = f->rsp_payload[8];
    assert_int_equal(f->rsp_plen, PROTO_LIST_HDR + (uint32_t)n * PROTO_LIST_ENTRY);
    return n;
}

static const uint8_t *list_entry(fwt *f, int i)
{
    return f->rsp_payload + PROTO_LIST_HDR + (size_t)i * PROTO_LIST_ENTRY;
}

static void test_put_list_get_stat(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t *data = fwt_file(10000, 1);
    assert_int_equal(fwt_put(f, &c->app, "pay-2025-03.xml", PROTO_CLASS_PRODUCTION, data, 10000,
                             "timestamp:1741000000\tfile:pay-2025-03.xml\tmode=production seq=7"),
                     PROTO_OK);
    assert_true(proto_load64(f->rsp_payload) == 1);
    uint8_t ph[64];
    crypto_generichash(ph, 64, data, 10000, NULL, 0);
    assert_memory_equal(f->rsp_payload + 8, ph, 32);

    uint64_t counter;
    assert_int_equal(list(f, &counter), 1);
    assert_true(counter == 1);
    const uint8_t *e = list_entry(f, 0);
    assert_string_equal((const char *)e + PROTO_LE_NAME, "pay-2025-03.xml");
    assert_int_equal(proto_load32(e + PROTO_LE_SIZE), 10000);
    assert_true(proto_load64(e + PROTO_LE_COUNTER) == 1);
    assert_int_equal(proto_load32(e + PROTO_LE_FLAGS), PROTO_FILE_PRODUCTION);
    assert_memory_equal(e + PROTO_LE_HASH_ID, ph, 32);

    static uint8_t back[10000];
    assert_int_equal(fwt_get_all(f, "pay-2025-03.xml", back, sizeof back), 10000);
    assert_memory_equal(back, data, 10000);

    /* STAT gives back a signature anyone can verify (what minisign -V checks). */
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_STAT, "pay-2025-03.xml"), PROTO_OK);
    const uint8_t *p = f->rsp_payload;
    assert_int_equal(proto_load32(p + PROTO_STAT_SIZE), 10000);
    assert_memory_equal(p + PROTO_STAT_KEY_ID, c->app.key_id, 8);
    assert_memory_equal(p + PROTO_STAT_PREHASH, ph, 64);
    assert_int_equal(crypto_sign_verify_detached(p + PROTO_STAT_SIG, ph, 64, c->app.pk), 0);
    uint16_t tl = proto_load16(p + PROTO_STAT_TC_LEN);
    uint8_t gm[64 + 256];
    memcpy(gm, p + PROTO_STAT_SIG, 64);
    memcpy(gm + 64, p + PROTO_STAT_TC, tl);
    assert_int_equal(crypto_sign_verify_detached(p + PROTO_STAT_GSIG, gm, 64u + tl, c->app.pk), 0);

    /* INFO shows the counter and the key's last seq */
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    p = f->rsp_payload;
    assert_true(proto_load64(p + PROTO_INFO_COUNTER) == 1);
    assert_int_equal(p[PROTO_INFO_NFILES], 1);
    assert_int_equal(p[PROTO_INFO_NKEYS], 1);
    assert_memory_equal(p + PROTO_INFO_KEYS, c->app.key_id, 8);
    assert_true(proto_load64(p + PROTO_INFO_KEYS + 8) == 7);
    assert_memory_equal(p + PROTO_INFO_AUTH_ID, c->auth.key_id, 8);

    /* and it survives a reboot */
    fwt_reboot(f);
    fwt_hello(f);
    assert_int_equal(fwt_get_all(f, "pay-2025-03.xml", back, sizeof back), 10000);
    assert_memory_equal(back, data, 10000);
    assert_true(fwt_counter(f) == 1);
    free(data);
}

static void test_get_ranges(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[100];
    memset(data, 3, sizeof data);
    assert_int_equal(fwt_put(f, &c->app, "g.xml", PROTO_CLASS_DRILL, data, 100, ""), PROTO_OK);
    uint8_t p[PROTO_GET_NAME + 5];
    memcpy(p + PROTO_GET_NAME, "g.xml", 5);
    proto_store32(p, 90);
    proto_store16(p + 4, 50);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, sizeof p), PROTO_OK);
    assert_int_equal(f->rsp_plen, 10);
    proto_store32(p, 100);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, sizeof p), PROTO_OK);
    assert_int_equal(f->rsp_plen, 0);
    proto_store32(p, 101);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, sizeof p), PROTO_E_RANGE);
    proto_store32(p, 0xFFFFFFFFu);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, sizeof p), PROTO_E_RANGE);
    proto_store32(p, 0);
    proto_store16(p + 4, 0);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, sizeof p), PROTO_E_MALFORMED);
    proto_store16(p + 4, PROTO_MAX_CHUNK + 1);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, sizeof p), PROTO_E_MALFORMED);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, 5), PROTO_E_MALFORMED);
    proto_store16(p + 4, 10);
    memcpy(p + PROTO_GET_NAME, "h.xml", 5);
    assert_int_equal(fwt_req(f, PROTO_CMD_GET, p, sizeof p), PROTO_E_NOT_FOUND);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_STAT, "h.xml"), PROTO_E_NOT_FOUND);
}

static void test_zero_length_file(void **state)
{
    ctx *c = *state;
    assert_int_equal(fwt_put(c->f, &c->app, "empty", PROTO_CLASS_DRILL, NULL, 0, ""), PROTO_OK);
    uint8_t b[1];
    assert_int_equal(fwt_get_all(c->f, "empty", b, sizeof b), 0);
}

static void test_unsigned_file_refused(void **state)
{
    ctx *c = *state;
    uint8_t data[500];
    memset(data, 9, sizeof data);
    fwt_sig s;
    fwt_sign(&c->app, data, sizeof data, "", &s);
    memset(s.sig, 0, 64);
    memset(s.gsig, 0, 64);
    assert_int_equal(fwt_put_signed(c->f, "u.xml", PROTO_CLASS_DRILL, data, sizeof data, &s, 4096),
                     PROTO_E_SIGNATURE);
    assert_int_equal(list(c->f, NULL), 0);
    assert_true(fwt_counter(c->f) == 0);
}

static void test_wrong_key_refused(void **state)
{
    ctx *c = *state;
    uint8_t data[500];
    memset(data, 9, sizeof data);
    /* a key that is not enrolled */
    assert_int_equal(fwt_put(c->f, &c->other, "w.xml", PROTO_CLASS_DRILL, data, sizeof data, ""),
                     PROTO_E_KEY);
    /* signed by another key but claiming the enrolled key's id */
    fwt_sig s;
    fwt_sign(&c->other, data, sizeof data, "", &s);
    memcpy(s.key_id, c->app.key_id, 8);
    assert_int_equal(fwt_put_signed(c->f, "w.xml", PROTO_CLASS_DRILL, data, sizeof data, &s, 4096),
                     PROTO_E_SIGNATURE);
    /* the enrolment authority's key is not an appliance key */
    assert_int_equal(fwt_put(c->f, &c->auth, "w.xml", PROTO_CLASS_DRILL, data, sizeof data, ""),
                     PROTO_E_KEY);
    assert_int_equal(list(c->f, NULL), 0);
}

static void test_tampered_byte_refused_at_commit(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t *data = fwt_file(9000, 2);
    fwt_sig s;
    fwt_sign(&c->app, data, 9000, "mode=drill", &s);
    for (size_t pos = 0; pos < 9000; pos += 2999) {
        data[pos] ^= 0x40;
        assert_int_equal(fwt_put_signed(f, "t.xml", PROTO_CLASS_DRILL, data, 9000, &s, 1000),
                         PROTO_E_SIGNATURE);
        assert_int_equal(token_get_state(f->t), TOKEN_IDLE); /* upload abandoned */
        data[pos] ^= 0x40;
    }
    assert_int_equal(list(f, NULL), 0);
    assert_true(fwt_counter(f) == 0);
    /* the intact file still goes in */
    assert_int_equal(fwt_put_signed(f, "t.xml", PROTO_CLASS_DRILL, data, 9000, &s, 1000), PROTO_OK);
    free(data);
}

static void test_tampered_signature_parts_refused(void **state)
{
    ctx *c = *state;
    uint8_t data[64];
    memset(data, 1, sizeof data);
    fwt_sig s, t;
    fwt_sign(&c->app, data, sizeof data, "mode=drill seq=5", &s);
    t = s;
    t.sig[10] ^= 1;
    assert_int_equal(fwt_put_signed(c->f, "x", PROTO_CLASS_DRILL, data, 64, &t, 64), PROTO_E_SIGNATURE);
    t = s;
    t.gsig[63] ^= 0x80;
    assert_int_equal(fwt_put_signed(c->f, "x", PROTO_CLASS_DRILL, data, 64, &t, 64), PROTO_E_SIGNATURE);
    t = s;
    t.prehash[0] ^= 1;
    assert_int_equal(fwt_put_signed(c->f, "x", PROTO_CLASS_DRILL, data, 64, &t, 64), PROTO_E_SIGNATURE);
    /* trusted comment edited (seq raised): the global signature no longer holds */
    t = s;
    snprintf(t.tc, sizeof t.tc, "mode=drill seq=6");
    assert_int_equal(fwt_put_signed(c->f, "x", PROTO_CLASS_DRILL, data, 64, &t, 64), PROTO_E_SIGNATURE);
    /* drill edited into production */
    t = s;
    snprintf(t.tc, sizeof t.tc, "mode=production seq=5");
    assert_int_equal(fwt_put_signed(c->f, "x", PROTO_CLASS_PRODUCTION, data, 64, &t, 64),
                     PROTO_E_SIGNATURE);
    /* legacy "Ed" algorithm */
    uint8_t p[PROTO_MAX_PAYLOAD];
    size_t n = fwt_put_begin_payload(p, "x", PROTO_CLASS_DRILL, 64, &s);
    p[PROTO_PB_ALG + 1] = 'd';
    assert_int_equal(fwt_req(c->f, PROTO_CMD_PUT_BEGIN, p, n), PROTO_E_MALFORMED);
    assert_int_equal(fwt_put_signed(c->f, "x", PROTO_CLASS_DRILL, data, 64, &s, 64), PROTO_OK);
}

static void test_replay_refused(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[700];
    memset(data, 5, sizeof data);
    fwt_sig s;
    fwt_sign(&c->app, data, sizeof data, "mode=production seq=10", &s);
    assert_int_equal(fwt_put_signed(f, "p1.xml", PROTO_CLASS_PRODUCTION, data, 700, &s, 4096), PROTO_OK);
    /* same file again under another name (while stored) */
    assert_int_equal(fwt_put_signed(f, "p2.xml", PROTO_CLASS_PRODUCTION, data, 700, &s, 4096),
                     PROTO_E_REPLAY);
    /* collected and deleted: still refused, forever for this key (seq) and by id */
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "p1.xml"), PROTO_OK);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "p1.xml"), PROTO_OK);
    assert_int_equal(fwt_put_signed(f, "p1.xml", PROTO_CLASS_PRODUCTION, data, 700, &s, 4096),
                     PROTO_E_REPLAY);
    /* a different, genuinely signed file claiming an older or equal seq */
    data[0] = 6;
    assert_int_equal(fwt_put(f, &c->app, "p3.xml", PROTO_CLASS_PRODUCTION, data, 700,
                             "mode=production seq=10"),
                     PROTO_E_REPLAY);
    assert_int_equal(fwt_put(f, &c->app, "p3.xml", PROTO_CLASS_PRODUCTION, data, 700,
                             "mode=production seq=9"),
                     PROTO_E_REPLAY);
    assert_int_equal(fwt_put(f, &c->app, "p3.xml", PROTO_CLASS_PRODUCTION, data, 700,
                             "mode=production seq=11"),
                     PROTO_OK);
    assert_true(fwt_counter(f) == 2);
    /* a drill file without seq is replay-checked by its id */
    data[0] = 7;
    assert_int_equal(fwt_put(f, &c->app, "d.xml", PROTO_CLASS_DRILL, data, 700, "mode=drill"), PROTO_OK);
    assert_int_equal(fwt_put(f, &c->app, "d2.xml", PROTO_CLASS_DRILL, data, 700, "mode=drill"),
                     PROTO_E_REPLAY);
}

static void test_replay_survives_reboot(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[100] = {1};
    assert_int_equal(fwt_put(f, &c->app, "a", PROTO_CLASS_DRILL, data, 100, "seq=3"), PROTO_OK);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "a"), PROTO_OK);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "a"), PROTO_OK);
    fwt_reboot(f);
    fwt_hello(f);
    assert_int_equal(fwt_put(f, &c->app, "a", PROTO_CLASS_DRILL, data, 100, "seq=3"), PROTO_E_REPLAY);
    data[1] = 1;
    assert_int_equal(fwt_put(f, &c->app, "a", PROTO_CLASS_DRILL, data, 100, "seq=2"), PROTO_E_REPLAY);
    assert_int_equal(fwt_put(f, &c->app, "a", PROTO_CLASS_DRILL, data, 100, "seq=4"), PROTO_OK);
}

static void test_drill_never_production(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[100] = {2};
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_PRODUCTION, data, 100, "mode=drill seq=1"),
                     PROTO_E_CLASS);
    /* no mode at all means drill */
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_PRODUCTION, data, 100, "seq=1"), PROTO_E_CLASS);
    /* production signed, sent as drill: also a mismatch */
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_DRILL, data, 100, "mode=production seq=1"),
                     PROTO_E_CLASS);
    /* production needs a seq */
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_PRODUCTION, data, 100, "mode=production"),
                     PROTO_E_MALFORMED);
    /* ambiguous comments are malformed */
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_PRODUCTION, data, 100,
                             "mode=production mode=drill seq=1"),
                     PROTO_E_MALFORMED);
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_DRILL, data, 100, "mode=Drill"),
                     PROTO_E_MALFORMED);
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_DRILL, data, 100, "seq=01"), PROTO_E_MALFORMED);
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_DRILL, data, 100, "seq=1 seq=2"),
                     PROTO_E_MALFORMED);
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_DRILL, data, 100, "seq=99999999999999999999"),
                     PROTO_E_MALFORMED);
    assert_int_equal(fwt_put(f, &c->app, "d", PROTO_CLASS_DRILL, data, 100, "mode=drill"), PROTO_OK);
    assert_int_equal(list(f, NULL), 1);
    assert_int_equal(proto_load32(list_entry(f, 0) + PROTO_LE_FLAGS), PROTO_FILE_DRILL);
    /* collecting a drill file keeps it a drill file */
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "d"), PROTO_OK);
    assert_int_equal(list(f, NULL), 1);
    assert_int_equal(proto_load32(list_entry(f, 0) + PROTO_LE_FLAGS),
                     PROTO_FILE_DRILL | PROTO_FILE_COLLECTED);
}

static void test_signed_name_binding(void **state)
{
    ctx *c = *state;
    uint8_t data[10] = {4};
    assert_int_equal(fwt_put(c->f, &c->app, "b.xml", PROTO_CLASS_DRILL, data, 10, "file:a.xml"),
                     PROTO_E_NAME);
    assert_int_equal(fwt_put(c->f, &c->app, "a.xml", PROTO_CLASS_DRILL, data, 10, "file:a.xml"),
                     PROTO_OK);
}

static void test_names(void **state)
{
    ctx *c = *state;
    uint8_t data[10] = {5};
    const char *bad[] = {".hidden", "a/b", "a b", "..", "ä", "a\\b",
                         "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fwt_put(c->f, &c->app, bad[i], PROTO_CLASS_DRILL, data, 10, ""), PROTO_E_NAME);
    assert_int_equal(fwt_put(c->f, &c->app, "ok_name-1.xml", PROTO_CLASS_DRILL, data, 10, ""), PROTO_OK);
    data[0] = 6;
    assert_int_equal(fwt_put(c->f, &c->app, "ok_name-1.xml", PROTO_CLASS_DRILL, data, 10, ""),
                     PROTO_E_EXISTS);
    /* empty name */
    fwt_sig s;
    fwt_sign(&c->app, data, 10, "", &s);
    assert_int_equal(fwt_put_begin(c->f, "", PROTO_CLASS_DRILL, 10, &s), PROTO_E_NAME);
}

static void test_put_begin_malformed(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[10] = {0};
    fwt_sig s;
    fwt_sign(&c->app, data, 10, "abc", &s);
    uint8_t p[PROTO_MAX_PAYLOAD];
    size_t n = fwt_put_begin_payload(p, "m", PROTO_CLASS_DRILL, 10, &s);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(fwt_req(f, PROTO_CMD_PUT_BEGIN, p, cut), PROTO_E_MALFORMED);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_BEGIN, p, n + 1), PROTO_E_MALFORMED);
    proto_store16(p + PROTO_PB_TC_LEN, 0xFFFF);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_BEGIN, p, n), PROTO_E_MALFORMED);
    n = fwt_put_begin_payload(p, "m", 0, 10, &s);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_BEGIN, p, n), PROTO_E_MALFORMED);
    n = fwt_put_begin_payload(p, "m", 3, 10, &s);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_BEGIN, p, n), PROTO_E_MALFORMED);
    /* a trusted comment with a newline or NUL */
    fwt_sig t;
    fwt_sign(&c->app, data, 10, "a\nb", &t);
    assert_int_equal(fwt_put_signed(f, "m", PROTO_CLASS_DRILL, data, 10, &t, 10), PROTO_E_MALFORMED);
    assert_int_equal(token_get_state(f->t), TOKEN_IDLE);
    assert_int_equal(list(f, NULL), 0);
}

static void test_upload_state_machine(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t *data = fwt_file(10000, 4);
    fwt_sig s;
    fwt_sign(&c->app, data, 10000, "", &s);
    /* data/commit without an upload */
    assert_int_equal(fwt_put_data(f, 0, data, 10), PROTO_E_STATE);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_COMMIT, NULL, 0), PROTO_E_STATE);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_ABORT, NULL, 0), PROTO_OK);

    assert_int_equal(fwt_put_begin(f, "s.xml", PROTO_CLASS_DRILL, 10000, &s), PROTO_OK);
    assert_int_equal(token_get_state(f->t), TOKEN_RECEIVING);
    assert_int_equal(hal_host_led(f->dev), HAL_LED_BUSY);
    /* other commands are refused during an upload, INFO works and shows it */
    assert_int_equal(fwt_req(f, PROTO_CMD_LIST, NULL, 0), PROTO_E_STATE);
    assert_int_equal(fwt_put_begin(f, "s2.xml", PROTO_CLASS_DRILL, 10, &s), PROTO_E_STATE);
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    assert_int_equal(f->rsp_payload[PROTO_INFO_FLAGS] & PROTO_INFO_FLAG_UPLOADING,
                     PROTO_INFO_FLAG_UPLOADING);
    /* wrong offsets: refused with the expected offset, upload continues */
    assert_int_equal(fwt_put_data(f, 1, data + 1, 100), PROTO_E_OFFSET);
    assert_int_equal(proto_load32(f->rsp_payload), 0);
    assert_int_equal(fwt_put_data(f, 0, data, 4000), PROTO_OK);
    assert_int_equal(fwt_put_data(f, 0, data, 4000), PROTO_E_OFFSET);
    assert_int_equal(proto_load32(f->rsp_payload), 4000);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_COMMIT, NULL, 0), PROTO_E_INCOMPLETE);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_COMMIT, "x", 1), PROTO_E_MALFORMED);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_DATA, "\xa0\x0f\0\0", 4), PROTO_E_MALFORMED);
    /* more than announced */
    static uint8_t big[4096];
    assert_int_equal(fwt_put_data(f, 4000, big, 4096), PROTO_OK);
    assert_int_equal(fwt_put_data(f, 8096, big, 4096), PROTO_E_MALFORMED);
    assert_int_equal(fwt_put_data(f, 8096, data + 8096, 1904), PROTO_OK);
    /* content differs from the signed file (we sent zeros in the middle) */
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_COMMIT, NULL, 0), PROTO_E_SIGNATURE);
    assert_int_equal(token_get_state(f->t), TOKEN_IDLE);

    /* abort in the middle, then a clean upload of the same name */
    assert_int_equal(fwt_put_begin(f, "s.xml", PROTO_CLASS_DRILL, 10000, &s), PROTO_OK);
    assert_int_equal(fwt_put_data(f, 0, data, 4000), PROTO_OK);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_ABORT, NULL, 0), PROTO_OK);
    assert_int_equal(token_get_state(f->t), TOKEN_IDLE);
    assert_int_equal(list(f, NULL), 0);
    assert_int_equal(fwt_put_signed(f, "s.xml", PROTO_CLASS_DRILL, data, 10000, &s, 777), PROTO_OK);
    free(data);
}

static void test_upload_timeout(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[100] = {0};
    fwt_sig s;
    fwt_sign(&c->app, data, 100, "", &s);
    assert_int_equal(fwt_put_begin(f, "slow", PROTO_CLASS_DRILL, 100, &s), PROTO_OK);
    hal_host_clock_advance(f->dev, TOKEN_UPLOAD_TIMEOUT_MS - 1);
    fwt_pump(f);
    assert_int_equal(fwt_put_data(f, 0, data, 50), PROTO_OK); /* activity resets the timer */
    hal_host_clock_advance(f->dev, TOKEN_UPLOAD_TIMEOUT_MS + 1);
    token_poll(f->t);
    assert_int_equal(token_get_state(f->t), TOKEN_IDLE);
    assert_int_equal(fwt_put_data(f, 50, data + 50, 50), PROTO_E_STATE);
    assert_int_equal(list(f, NULL), 0);
}

static void test_delete_requires_collected(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[100] = {8};
    assert_int_equal(fwt_put(f, &c->app, "k.xml", PROTO_CLASS_DRILL, data, 100, ""), PROTO_OK);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "k.xml"), PROTO_E_NOT_COLLECTED);
    assert_int_equal(list(f, NULL), 1);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "nope"), PROTO_E_NOT_FOUND);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "nope"), PROTO_E_NOT_FOUND);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "k.xml"), PROTO_OK);
    uint64_t ops = hal_host_flash_ops(f->dev);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "k.xml"), PROTO_OK); /* idempotent */
    assert_true(hal_host_flash_ops(f->dev) == ops);
    uint64_t before = fwt_counter(f);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "k.xml"), PROTO_OK);
    assert_int_equal(list(f, NULL), 0);
    assert_true(fwt_counter(f) == before); /* the counter never goes back */
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "k.xml"), PROTO_E_NOT_FOUND);
}

static void test_full_file_table_and_flash(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    uint8_t data[50];
    char name[16];
    for (int i = 0; i < (int)PROTO_MAX_FILES; i++) {
        memset(data, i, sizeof data);
        snprintf(name, sizeof name, "f%02d", i);
        assert_int_equal(fwt_put(f, &c->app, name, PROTO_CLASS_DRILL, data, sizeof data, ""), PROTO_OK);
    }
    memset(data, 0xEE, sizeof data);
    assert_int_equal(fwt_put(f, &c->app, "f99", PROTO_CLASS_DRILL, data, sizeof data, ""), PROTO_E_FULL);
    assert_int_equal(list(f, NULL), (int)PROTO_MAX_FILES);
    /* free one, put again */
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "f03"), PROTO_OK);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "f03"), PROTO_OK);
    assert_int_equal(fwt_put(f, &c->app, "f99", PROTO_CLASS_DRILL, data, sizeof data, ""), PROTO_OK);
    /* flash: the default device has 64 blocks of 4 KiB, 8 for metadata, so a file larger than
     * what is free is refused as FULL, larger than the device as TOO_BIG */
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    uint32_t total = proto_load32(f->rsp_payload + PROTO_INFO_TOTAL);
    uint32_t largest = proto_load32(f->rsp_payload + PROTO_INFO_LARGEST);
    assert_true(largest < total);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "f04"), PROTO_OK);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "f04"), PROTO_OK);
    fwt_sig s;
    fwt_sign(&c->app, data, 1, "", &s);
    assert_int_equal(fwt_put_begin(f, "huge", PROTO_CLASS_DRILL, total + 1, &s), PROTO_E_TOO_BIG);
    assert_int_equal(fwt_put_begin(f, "huge", PROTO_CLASS_DRILL, 0xFFFFFFFFu, &s), PROTO_E_TOO_BIG);
}

static void test_full_flash_exact(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    uint32_t largest = proto_load32(f->rsp_payload + PROTO_INFO_LARGEST);
    uint8_t *data = fwt_file(largest, 9);
    assert_int_equal(fwt_put(f, &c->app, "max", PROTO_CLASS_DRILL, data, largest, ""), PROTO_OK);
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    assert_int_equal(proto_load32(f->rsp_payload + PROTO_INFO_FREE), 0);
    assert_int_equal(proto_load32(f->rsp_payload + PROTO_INFO_LARGEST), 0);
    uint8_t one = 1;
    assert_int_equal(fwt_put(f, &c->app, "more", PROTO_CLASS_DRILL, &one, 1, ""), PROTO_E_FULL);
    static uint8_t back[300000];
    assert_true(largest <= sizeof back);
    assert_int_equal(fwt_get_all(f, "max", back, sizeof back), (long)largest);
    assert_memory_equal(back, data, largest);
    /* freeing it makes the space usable again (blocks are erased before reuse) */
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "max"), PROTO_OK);
    assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, "max"), PROTO_OK);
    data[0] ^= 1;
    assert_int_equal(fwt_put(f, &c->app, "max2", PROTO_CLASS_DRILL, data, largest, ""), PROTO_OK);
    free(data);
}

/* ---- enrolment ------------------------------------------------------------------------------- */

static void test_blank_token_enrolment(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_key auth, app, rogue;
    fwt_key_make(&auth, 1);
    fwt_key_make(&app, 2);
    fwt_key_make(&rogue, 4);
    fwt_hello(f);
    /* nothing but a self-signed SET_AUTHORITY on a blank token */
    assert_int_equal(fwt_enroll(f, &app, PROTO_ENROLL_ADD_APPLIANCE, &app), PROTO_E_AUTHORITY);
    uint8_t st[PROTO_ST_SIZE];
    fwt_statement(st, "RLTEST0001", 1, PROTO_ENROLL_SET_AUTHORITY, &auth);
    assert_int_equal(fwt_enroll_stmt(f, st, &rogue), PROTO_E_AUTHORITY); /* not self-signed */
    uint8_t data[10] = {0};
    assert_int_equal(fwt_put(f, &app, "x", PROTO_CLASS_DRILL, data, 10, ""), PROTO_E_KEY);
    assert_int_equal(fwt_enroll_stmt(f, st, &auth), PROTO_OK);
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    assert_int_equal(f->rsp_payload[PROTO_INFO_FLAGS] & PROTO_INFO_FLAG_AUTHORITY,
                     PROTO_INFO_FLAG_AUTHORITY);
    assert_memory_equal(f->rsp_payload + PROTO_INFO_AUTH_ID, auth.key_id, 8);
    assert_int_equal(proto_load32(f->rsp_payload + PROTO_INFO_EPOCH), 1);
    /* from now on a self-signed authority change is refused */
    fwt_statement(st, "RLTEST0001", 2, PROTO_ENROLL_SET_AUTHORITY, &rogue);
    assert_int_equal(fwt_enroll_stmt(f, st, &rogue), PROTO_E_AUTHORITY);
    assert_int_equal(fwt_epoch(f), 1);
    fwt_free(f);
}

static void test_enroll_key_requires_authority(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    fwt_key k5;
    fwt_key_make(&k5, 5);
    uint32_t e = fwt_epoch(f);
    uint8_t st[PROTO_ST_SIZE];
    /* signed by the appliance key, by an unknown key, or with the authority's id but a
     * signature from another key */
    assert_int_equal(fwt_enroll(f, &c->app, PROTO_ENROLL_ADD_APPLIANCE, &k5), PROTO_E_AUTHORITY);
    assert_int_equal(fwt_enroll(f, &k5, PROTO_ENROLL_ADD_APPLIANCE, &k5), PROTO_E_AUTHORITY);
    fwt_key fake = c->other;
    memcpy(fake.key_id, c->auth.key_id, 8);
    assert_int_equal(fwt_enroll(f, &fake, PROTO_ENROLL_ADD_APPLIANCE, &k5), PROTO_E_AUTHORITY);
    /* for another token */
    fwt_statement(st, "RLTEST0002", e + 1, PROTO_ENROLL_ADD_APPLIANCE, &k5);
    assert_int_equal(fwt_enroll_stmt(f, st, &c->auth), PROTO_E_AUTHORITY);
    /* tampered statement after signing: sign one, send another */
    fwt_statement(st, "RLTEST0001", e + 1, PROTO_ENROLL_ADD_APPLIANCE, &k5);
    {
        uint8_t p[PROTO_MAX_PAYLOAD];
        fwt_sig s;
        fwt_sign(&c->auth, st, PROTO_ST_SIZE, "", &s);
        memcpy(p, st, PROTO_ST_SIZE);
        p[PROTO_ST_PK] ^= 1; /* a different key than the one signed */
        memset(p + PROTO_EK_ALG, 0, 4);
        p[PROTO_EK_ALG] = 'E';
        p[PROTO_EK_ALG + 1] = 'D';
        memcpy(p + PROTO_EK_KEY_ID, s.key_id, 8);
        memcpy(p + PROTO_EK_SIG, s.sig, 64);
        memcpy(p + PROTO_EK_GSIG, s.gsig, 64);
        proto_store16(p + PROTO_EK_TC_LEN, 0);
        assert_int_equal(fwt_req(f, PROTO_CMD_ENROLL_KEY, p, PROTO_EK_TC), PROTO_E_AUTHORITY);
        for (size_t cut = 0; cut < PROTO_EK_TC; cut += 7)
            assert_int_equal(fwt_req(f, PROTO_CMD_ENROLL_KEY, p, cut), PROTO_E_MALFORMED);
        p[PROTO_ST_PK] ^= 1;
        p[PROTO_ST_MAGIC] = 'X';
        assert_int_equal(fwt_req(f, PROTO_CMD_ENROLL_KEY, p, PROTO_EK_TC), PROTO_E_MALFORMED);
    }
    assert_int_equal(fwt_epoch(f), e);
    /* the real thing */
    assert_int_equal(fwt_enroll_stmt(f, st, &c->auth), PROTO_OK);
    assert_int_equal(proto_load32(f->rsp_payload), e + 1);
    assert_int_equal(f->rsp_payload[4], 2);
    /* replaying the same statement: epoch no longer next */
    assert_int_equal(fwt_enroll_stmt(f, st, &c->auth), PROTO_E_REPLAY);
    /* add again with a fresh epoch: exists */
    assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_ADD_APPLIANCE, &k5), PROTO_E_EXISTS);
    uint8_t data[10] = {1};
    assert_int_equal(fwt_put(f, &k5, "k5", PROTO_CLASS_DRILL, data, 10, ""), PROTO_OK);
}

static void test_enroll_remove_and_table_full(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    fwt_key k[5];
    for (int i = 0; i < 5; i++)
        fwt_key_make(&k[i], (uint8_t)(10 + i));
    for (int i = 0; i < (int)PROTO_MAX_APPLIANCE_KEYS - 1; i++)
        assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_ADD_APPLIANCE, &k[i]), PROTO_OK);
    assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_ADD_APPLIANCE, &k[4]), PROTO_E_FULL);
    assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_REMOVE_APPLIANCE, &c->app), PROTO_OK);
    assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_REMOVE_APPLIANCE, &c->app), PROTO_E_NOT_FOUND);
    uint8_t data[10] = {1};
    assert_int_equal(fwt_put(f, &c->app, "gone", PROTO_CLASS_DRILL, data, 10, ""), PROTO_E_KEY);
    assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_ADD_APPLIANCE, &k[4]), PROTO_OK);
    assert_int_equal(fwt_put(f, &k[4], "k4", PROTO_CLASS_DRILL, data, 10, ""), PROTO_OK);
}

static void test_authority_rotation(void **state)
{
    ctx *c = *state;
    fwt *f = c->f;
    fwt_key newauth, k;
    fwt_key_make(&newauth, 20);
    fwt_key_make(&k, 21);
    assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_SET_AUTHORITY, &newauth), PROTO_OK);
    assert_int_equal(fwt_enroll(f, &c->auth, PROTO_ENROLL_ADD_APPLIANCE, &k), PROTO_E_AUTHORITY);
    assert_int_equal(fwt_enroll(f, &newauth, PROTO_ENROLL_ADD_APPLIANCE, &k), PROTO_OK);
    fwt_reboot(f);
    fwt_hello(f);
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    assert_memory_equal(f->rsp_payload + PROTO_INFO_AUTH_ID, newauth.key_id, 8);
    assert_int_equal(f->rsp_payload[PROTO_INFO_NKEYS], 2);
}

/* ---- interoperability with the real minisign tool ---------------------------------------------- */

static int b64(const char *line, uint8_t *out, size_t cap, size_t *len)
{
    return sodium_base642bin(out, cap, line, strlen(line), NULL, len, NULL,
                             sodium_base64_VARIANT_ORIGINAL);
}

static int read_line(FILE *fp, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, fp))
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

/* Signs a file with `minisign -S` and the TEST appliance key from keys/test, enrols that key
 * (raw public key from the .pub file) and puts the file with minisign's own signature. */
static void test_minisign_tool_interop(void **state)
{
    (void)state;
    const char *pub = "keys/test/appliance-TEST.pub", *sec = "keys/test/appliance-TEST.key";
    if (access(pub, R_OK) != 0 || access(sec, R_OK) != 0 || system("minisign -v >/dev/null 2>&1") != 0) {
        print_message("keys/test or minisign missing: skipped\n");
        skip();
    }
    char dir[] = "/tmp/fwtest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[1024], line[512];
    snprintf(path, sizeof path, "%s/pay.xml", dir);
    uint8_t *data = fwt_file(12345, 77);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, 12345, fp), 12345);
    fclose(fp);
    snprintf(cmd, sizeof cmd,
             "minisign -S -s %s -m %s -t 'file:pay.xml mode=production seq=42' </dev/null >/dev/null 2>&1",
             sec, path);
    assert_int_equal(system(cmd), 0);

    fwt_key app;
    memset(&app, 0, sizeof app);
    uint8_t raw[128];
    size_t rl;
    fp = fopen(pub, "r");
    assert_non_null(fp);
    assert_int_equal(read_line(fp, line, sizeof line), 0);
    assert_int_equal(read_line(fp, line, sizeof line), 0);
    fclose(fp);
    assert_int_equal(b64(line, raw, sizeof raw, &rl), 0);
    assert_int_equal(rl, 42);
    memcpy(app.key_id, raw + 2, 8);
    memcpy(app.pk, raw + 10, 32);

    fwt_sig s;
    memset(&s, 0, sizeof s);
    snprintf(path, sizeof path, "%s/pay.xml.minisig", dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(read_line(fp, line, sizeof line), 0); /* untrusted comment */
    assert_int_equal(read_line(fp, line, sizeof line), 0);
    assert_int_equal(b64(line, raw, sizeof raw, &rl), 0);
    assert_int_equal(rl, 74);
    assert_memory_equal(raw, "ED", 2);
    memcpy(s.key_id, raw + 2, 8);
    memcpy(s.sig, raw + 10, 64);
    assert_int_equal(read_line(fp, line, sizeof line), 0);
    assert_int_equal(strncmp(line, "trusted comment: ", 17), 0);
    assert_true(strlen(line + 17) < sizeof s.tc);
    memcpy(s.tc, line + 17, strlen(line + 17) + 1);
    assert_int_equal(read_line(fp, line, sizeof line), 0);
    assert_int_equal(b64(line, raw, sizeof raw, &rl), 0);
    assert_int_equal(rl, 64);
    memcpy(s.gsig, raw, 64);
    fclose(fp);
    crypto_generichash(s.prehash, 64, data, 12345, NULL, 0);

    fwt *f = fwt_new();
    fwt_key auth;
    fwt_key_make(&auth, 1);
    fwt_hello(f);
    assert_int_equal(fwt_enroll(f, &auth, PROTO_ENROLL_SET_AUTHORITY, &auth), PROTO_OK);
    assert_int_equal(fwt_enroll(f, &auth, PROTO_ENROLL_ADD_APPLIANCE, &app), PROTO_OK);
    assert_int_equal(fwt_put_signed(f, "pay.xml", PROTO_CLASS_PRODUCTION, data, 12345, &s, 4096),
                     PROTO_OK);
    /* minisign's own "file:NAME" binds the name */
    assert_int_equal(fwt_put_signed(f, "pay2.xml", PROTO_CLASS_PRODUCTION, data, 12345, &s, 4096),
                     PROTO_E_NAME);
    fwt_free(f);
    /* and on a second token, one flipped bit in the file is refused at commit */
    f = fwt_new();
    fwt_hello(f);
    assert_int_equal(fwt_enroll(f, &auth, PROTO_ENROLL_SET_AUTHORITY, &auth), PROTO_OK);
    assert_int_equal(fwt_enroll(f, &auth, PROTO_ENROLL_ADD_APPLIANCE, &app), PROTO_OK);
    data[100] ^= 1;
    assert_int_equal(fwt_put_signed(f, "pay.xml", PROTO_CLASS_PRODUCTION, data, 12345, &s, 4096),
                     PROTO_E_SIGNATURE);
    fwt_free(f);
    free(data);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_list_get_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_length_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_byte_refused_at_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_signature_parts_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_survives_reboot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drill_never_production, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_name_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_begin_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_state_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_requires_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_file_table_and_flash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_flash_exact, setup, teardown),
        cmocka_unit_test(test_blank_token_enrolment),
        cmocka_unit_test_setup_teardown(test_enroll_key_requires_authority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll_remove_and_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_rotation, setup, teardown),
        cmocka_unit_test(test_minisign_tool_interop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
