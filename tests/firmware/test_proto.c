/* Firmware core: frame layer and session rules. Every malformed-frame class must be answered
 * with an error frame, change nothing, and leave the token able to serve the next request. */
#include "fwtest.h"

static uint8_t frame[PROTO_MAX_FRAME + 1024];

static size_t build(uint8_t cmd, uint32_t seq, const void *p, uint32_t len)
{
    size_t n = proto_frame_build(frame, sizeof frame, cmd, 0, seq, p, len);
    assert_true(n > 0);
    return n;
}

/* After any error the token must still answer a correct request in sequence. */
static void still_alive(fwt *f)
{
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
}

static void test_crc32_known_answer(void **state)
{
    (void)state;
    assert_int_equal(proto_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(proto_crc32(0, NULL, 0), 0);
    /* incremental == one shot */
    uint32_t c = proto_crc32(0, (const uint8_t *)"1234", 4);
    assert_int_equal(proto_crc32(c, (const uint8_t *)"56789", 5), 0xCBF43926u);
}

static void test_le_helpers(void **state)
{
    (void)state;
    uint8_t b[8];
    proto_store64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 0x08);
    assert_int_equal(b[7], 0x01);
    assert_true(proto_load64(b) == 0x0102030405060708ull);
    proto_store16(b, 0xBEEF);
    assert_int_equal(b[0], 0xEF);
    assert_int_equal(proto_load16(b), 0xBEEF);
}

static void test_hello_and_info(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    assert_int_equal(token_get_state(f->t), TOKEN_NO_SESSION);
    fwt_hello(f);
    assert_int_equal(token_get_state(f->t), TOKEN_IDLE);
    const uint8_t *p = f->rsp_payload;
    assert_int_equal(p[PROTO_INFO_PROTO], PROTO_VERSION);
    assert_memory_equal(p + PROTO_INFO_MODEL, "RLTK-1", 6);
    assert_memory_equal(p + PROTO_INFO_SERIAL, "RLTEST0001\0\0\0\0\0\0", 16);
    assert_true(proto_load64(p + PROTO_INFO_COUNTER) == 0);
    assert_int_equal(p[PROTO_INFO_MAXFILES], PROTO_MAX_FILES);
    assert_int_equal(proto_load16(p + PROTO_INFO_MAXCHUNK), PROTO_MAX_CHUNK);
    assert_true(proto_load32(p + PROTO_INFO_TOTAL) > 0);
    assert_int_equal(proto_load32(p + PROTO_INFO_FREE) % 4096, 0);
    uint32_t session = proto_load32(p + PROTO_INFO_SESSION);
    still_alive(f);
    assert_int_equal(proto_load32(f->rsp_payload + PROTO_INFO_SESSION), session);
    fwt_hello(f); /* a new session gets a new id */
    assert_int_not_equal(proto_load32(f->rsp_payload + PROTO_INFO_SESSION), session);
    fwt_free(f);
}

static void test_no_session(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_INFO, 1, NULL, 0), PROTO_E_NO_SESSION);
    assert_int_equal(f->rsp_cmd, PROTO_CMD_INFO | PROTO_RSP_FLAG);
    fwt_hello(f);
    still_alive(f);
    fwt_free(f);
}

static void test_bad_magic(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    size_t n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    frame[0] = 'X';
    assert_int_equal(fwt_raw(f, frame, n), 0);
    assert_int_equal(f->rsp_cmd, PROTO_RSP_ERROR);
    assert_int_equal(f->rsp_status, PROTO_E_MAGIC);
    still_alive(f); /* the bad frame consumed no sequence number */
    fwt_free(f);
}

static void test_bad_version(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    size_t n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    frame[PROTO_OFF_VERSION] = 2;
    proto_store32(frame + n - 4, proto_crc32(0, frame, n - 4));
    assert_int_equal(fwt_raw(f, frame, n), 0);
    assert_int_equal(f->rsp_status, PROTO_E_VERSION);
    still_alive(f);
    fwt_free(f);
}

static void test_bad_crc_every_byte(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    uint8_t payload[40];
    memset(payload, 'n', sizeof payload);
    size_t n = build(PROTO_CMD_STAT, f->seq + 1, payload, sizeof payload);
    /* Flip each byte after the magic/version/length fields in turn (those have their own
     * errors): every single-byte corruption is caught. */
    for (size_t i = PROTO_OFF_CMD; i < n; i++) {
        if (i >= PROTO_OFF_LEN && i < PROTO_OFF_LEN + 4)
            continue;
        build(PROTO_CMD_STAT, f->seq + 1, payload, sizeof payload);
        frame[i] ^= 0x01;
        assert_int_equal(fwt_raw(f, frame, n), 0);
        assert_int_equal(f->rsp_cmd, PROTO_RSP_ERROR);
        assert_int_equal(f->rsp_status, PROTO_E_CRC);
    }
    still_alive(f);
    fwt_free(f);
}

static void test_oversized_length(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    size_t n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    proto_store32(frame + PROTO_OFF_LEN, PROTO_MAX_PAYLOAD + 1);
    assert_int_equal(fwt_raw(f, frame, n), 0);
    assert_int_equal(f->rsp_status, PROTO_E_LENGTH);
    proto_store32(frame + PROTO_OFF_LEN, 0xFFFFFFFFu);
    assert_int_equal(fwt_raw(f, frame, n), 0);
    assert_int_equal(f->rsp_status, PROTO_E_LENGTH);
    still_alive(f);
    fwt_free(f);
}

static void test_transfer_longer_than_any_frame(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    /* A valid header claiming a small payload, then 3x the buffer of garbage in one transfer:
     * discarded up to the short packet, one error, no overflow. */
    static uint8_t big[3 * PROTO_MAX_FRAME + 7];
    memset(big, 0xA5, sizeof big);
    size_t n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    memcpy(big, frame, n);
    assert_int_equal(fwt_raw(f, big, sizeof big), 0);
    assert_int_equal(f->rsp_status, PROTO_E_LENGTH);
    /* Same with a header that claims the maximum payload. */
    n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    proto_store32(frame + PROTO_OFF_LEN, PROTO_MAX_PAYLOAD);
    memcpy(big, frame, PROTO_HDR_SIZE);
    assert_int_equal(fwt_raw(f, big, sizeof big), 0);
    assert_int_equal(f->rsp_status, PROTO_E_LENGTH);
    still_alive(f);
    fwt_free(f);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    size_t n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    frame[n] = 0;
    assert_int_equal(fwt_raw(f, frame, n + 1), 0);
    assert_int_equal(f->rsp_status, PROTO_E_LENGTH);
    still_alive(f);
    fwt_free(f);
}

static void test_truncated(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    uint8_t payload[100];
    memset(payload, 1, sizeof payload);
    size_t n = build(PROTO_CMD_STAT, f->seq + 1, payload, sizeof payload);
    /* Every possible cut point of the transfer. */
    for (size_t cut = 1; cut < n; cut++) {
        build(PROTO_CMD_STAT, f->seq + 1, payload, sizeof payload);
        assert_int_equal(fwt_raw(f, frame, cut), 0);
        assert_int_equal(f->rsp_cmd, PROTO_RSP_ERROR);
        if (cut < 4)
            assert_true(f->rsp_status == PROTO_E_TRUNCATED);
        else
            assert_int_equal(f->rsp_status, PROTO_E_TRUNCATED);
    }
    still_alive(f);
    fwt_free(f);
}

static void test_lone_zlp_ignored(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    assert_int_equal(hal_host_usb_send(f->dev, NULL, 0), 0); /* one ZLP */
    fwt_pump(f);
    assert_int_equal(hal_host_usb_in_queued(f->dev), 0);
    still_alive(f);
    fwt_free(f);
}

static void test_reserved_status(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    size_t n = proto_frame_build(frame, sizeof frame, PROTO_CMD_INFO, 7, f->seq + 1, NULL, 0);
    assert_int_equal(fwt_raw(f, frame, n), 0);
    assert_int_equal(f->rsp_status, PROTO_E_RESERVED);
    still_alive(f);
    fwt_free(f);
}

static void test_unknown_command(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    for (unsigned c = 0; c < 256; c++) {
        switch (c) {
        case PROTO_CMD_HELLO: case PROTO_CMD_INFO: case PROTO_CMD_LIST: case PROTO_CMD_STAT:
        case PROTO_CMD_GET: case PROTO_CMD_PUT_BEGIN: case PROTO_CMD_PUT_DATA:
        case PROTO_CMD_PUT_COMMIT: case PROTO_CMD_PUT_ABORT: case PROTO_CMD_MARK_COLLECTED:
        case PROTO_CMD_DELETE: case PROTO_CMD_ENROLL_KEY:
            continue;
        default:
            break;
        }
        assert_int_equal(fwt_req_seq(f, (uint8_t)c, f->seq + 1, "x", 1), PROTO_E_UNKNOWN_CMD);
        assert_int_equal(f->rsp_cmd, (uint8_t)(c | PROTO_RSP_FLAG));
    }
    still_alive(f);
    fwt_free(f);
}

static void test_out_of_sequence(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    uint32_t expect = f->seq + 1;
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_INFO, expect + 1, NULL, 0), PROTO_E_SEQUENCE);
    assert_int_equal(proto_load32(f->rsp_payload), expect);
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_INFO, expect - 5, NULL, 0), PROTO_E_SEQUENCE);
    /* Same seq as the HELLO but a different command: not a retransmission. */
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_INFO, f->seq, NULL, 0), PROTO_E_SEQUENCE);
    still_alive(f);
    /* Sequence numbers wrap. */
    f->seq = 0xFFFFFFFFu;
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_HELLO, f->seq, NULL, 0), PROTO_OK);
    f->seq = 0xFFFFFFFFu;
    still_alive(f);
    assert_int_equal(f->rsp_seq, 0);
    fwt_free(f);
}

/* A lost response: the host sends the same request again and must get the same answer,
 * without the request being executed twice. */
static void test_retransmission_is_exactly_once(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_key auth, app;
    fwt_key_make(&auth, 1);
    fwt_key_make(&app, 2);
    fwt_provision(f, &auth, &app);
    uint8_t data[300];
    memset(data, 7, sizeof data);
    fwt_sig s;
    fwt_sign(&app, data, sizeof data, "mode=drill", &s);
    assert_int_equal(fwt_put_begin(f, "a.xml", PROTO_CLASS_DRILL, sizeof data, &s), PROTO_OK);
    assert_int_equal(fwt_put_data(f, 0, data, 100), PROTO_OK);
    uint8_t first[256];
    long first_len = f->rsp_len;
    memcpy(first, f->rsp, (size_t)first_len);
    /* resend the same PUT_DATA (same seq): cached answer, byte for byte */
    uint8_t p[200];
    proto_store32(p, 0);
    memcpy(p + 4, data, 100);
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_PUT_DATA, f->seq, p, 104), PROTO_OK);
    assert_int_equal(f->rsp_len, first_len);
    assert_memory_equal(f->rsp, first, (size_t)first_len);
    /* and the upload continues at 100, not 200 */
    assert_int_equal(fwt_put_data(f, 100, data + 100, 200), PROTO_OK);
    assert_int_equal(proto_load32(f->rsp_payload), 300);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_COMMIT, NULL, 0), PROTO_OK);
    /* a retransmitted COMMIT does not commit twice */
    uint64_t c = proto_load64(f->rsp_payload);
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_PUT_COMMIT, f->seq, NULL, 0), PROTO_OK);
    assert_true(proto_load64(f->rsp_payload) == c);
    assert_true(fwt_counter(f) == 1);
    fwt_free(f);
}

static void test_frame_on_packet_boundary(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    /* 16 + 44 + 4 = 64 bytes: exactly one full packet. Without a ZLP the frame is complete
     * by its length; with a ZLP the ZLP is an empty transfer and ignored. */
    uint8_t name[44];
    memset(name, 'q', sizeof name);
    size_t n = build(PROTO_CMD_STAT, f->seq + 1, name, sizeof name);
    assert_int_equal(n, 64);
    assert_int_equal(hal_host_usb_send_packet(f->dev, frame, n), 0);
    fwt_pump(f);
    f->rsp_len = hal_host_usb_recv(f->dev, f->rsp, sizeof f->rsp);
    assert_int_equal(fwt_parse_rsp(f), 0);
    assert_int_equal(f->rsp_status, PROTO_E_NOT_FOUND);
    f->seq++;
    n = build(PROTO_CMD_STAT, f->seq + 1, name, sizeof name);
    assert_int_equal(fwt_raw(f, frame, n), 0); /* hal_host_usb_send adds the ZLP */
    assert_int_equal(f->rsp_status, PROTO_E_NOT_FOUND);
    f->seq++;
    assert_int_equal(hal_host_usb_in_queued(f->dev), 0);
    still_alive(f);
    fwt_free(f);
}

static void test_response_on_packet_boundary_gets_zlp(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_key auth, app;
    fwt_key_make(&auth, 1);
    fwt_key_make(&app, 2);
    fwt_provision(f, &auth, &app);
    /* A GET answer with 44 data bytes is 16 + 44 + 4 = 64 bytes: one full packet, so the
     * token must end the transfer with a zero-length packet. */
    uint8_t data[44];
    memset(data, 'd', sizeof data);
    assert_int_equal(fwt_put(f, &app, "z.xml", PROTO_CLASS_DRILL, data, sizeof data, ""),
                     PROTO_OK);
    uint8_t p[PROTO_GET_NAME + 5];
    proto_store32(p + PROTO_GET_OFFSET, 0);
    proto_store16(p + PROTO_GET_LEN, 100);
    memcpy(p + PROTO_GET_NAME, "z.xml", 5);
    size_t n = build(PROTO_CMD_GET, ++f->seq, p, sizeof p);
    assert_int_equal(hal_host_usb_send(f->dev, frame, n), 0);
    fwt_pump(f);
    assert_int_equal(hal_host_usb_in_queued(f->dev), 2);
    f->rsp_len = hal_host_usb_recv(f->dev, f->rsp, sizeof f->rsp);
    assert_int_equal(f->rsp_len, 64);
    assert_int_equal(fwt_parse_rsp(f), 0);
    assert_int_equal(f->rsp_status, PROTO_OK);
    assert_memory_equal(f->rsp_payload, data, sizeof data);
    assert_int_equal(hal_host_usb_in_queued(f->dev), 0);
    fwt_free(f);
}

static void test_high_speed_packets(void **state)
{
    (void)state;
    hal_host_config cfg;
    hal_host_config_default(&cfg);
    cfg.max_packet = 512;
    fwt *f = fwt_new_cfg(&cfg);
    fwt_key auth, app;
    fwt_key_make(&auth, 1);
    fwt_key_make(&app, 2);
    fwt_provision(f, &auth, &app);
    uint8_t *data = fwt_file(20000, 3);
    assert_int_equal(fwt_put(f, &app, "hs.xml", PROTO_CLASS_DRILL, data, 20000, "mode=drill"),
                     PROTO_OK);
    static uint8_t back[20000];
    assert_int_equal(fwt_get_all(f, "hs.xml", back, sizeof back), 20000);
    assert_memory_equal(back, data, 20000);
    free(data);
    fwt_free(f);
}

static void test_in_endpoint_backpressure(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_hello(f);
    size_t n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    hal_host_usb_in_busy(f->dev, 5);
    assert_int_equal(hal_host_usb_send(f->dev, frame, n), 0);
    /* a second request queued behind; it must not be read before the first reply is out */
    size_t n2 = proto_frame_build(frame + n, sizeof frame - n, PROTO_CMD_INFO, 0, f->seq + 2, NULL, 0);
    assert_int_equal(hal_host_usb_send(f->dev, frame + n, n2), 0);
    fwt_pump(f); /* stops while the endpoint is busy */
    fwt_pump(f);
    for (int i = 0; i < 10; i++)
        token_poll(f->t);
    fwt_pump(f);
    f->rsp_len = hal_host_usb_recv(f->dev, f->rsp, sizeof f->rsp);
    assert_int_equal(fwt_parse_rsp(f), 0);
    assert_int_equal(f->rsp_seq, f->seq + 1);
    f->rsp_len = hal_host_usb_recv(f->dev, f->rsp, sizeof f->rsp);
    assert_int_equal(fwt_parse_rsp(f), 0);
    assert_int_equal(f->rsp_seq, f->seq + 2);
    assert_int_equal(f->rsp_status, PROTO_OK);
    fwt_free(f);
}

static void test_usb_reset_drops_session_and_upload(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_key auth, app;
    fwt_key_make(&auth, 1);
    fwt_key_make(&app, 2);
    fwt_provision(f, &auth, &app);
    uint8_t data[10] = {0};
    fwt_sig s;
    fwt_sign(&app, data, sizeof data, "", &s);
    assert_int_equal(fwt_put_begin(f, "r.xml", PROTO_CLASS_DRILL, 10, &s), PROTO_OK);
    assert_int_equal(token_get_state(f->t), TOKEN_RECEIVING);
    /* half a frame, then a reset */
    size_t n = build(PROTO_CMD_INFO, f->seq + 1, NULL, 0);
    assert_int_equal(hal_host_usb_send_packet(f->dev, frame, 8), 0);
    (void)n;
    hal_host_usb_reset(f->dev);
    fwt_pump(f);
    assert_int_equal(token_get_state(f->t), TOKEN_NO_SESSION);
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_INFO, f->seq + 1, NULL, 0), PROTO_E_NO_SESSION);
    fwt_hello(f);
    assert_int_equal(fwt_req(f, PROTO_CMD_PUT_DATA, "\0\0\0\0x", 5), PROTO_E_STATE);
    fwt_free(f);
}

/* Random frames and random transfers: always an answer or silence, never a crash, and the
 * token still works afterwards. (The fuzz target of the reliability issue goes deeper.) */
static void test_random_garbage(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_key auth, app;
    fwt_key_make(&auth, 1);
    fwt_key_make(&app, 2);
    fwt_provision(f, &auth, &app);
    uint32_t x = 12345;
    static uint8_t buf[PROTO_MAX_FRAME + 200];
    for (int iter = 0; iter < 3000; iter++) {
        x = x * 1103515245u + 12345u;
        size_t len = (x >> 8) % (iter % 10 == 0 ? sizeof buf : 300u);
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        if (iter % 3 == 0 && len >= PROTO_HDR_SIZE + PROTO_CRC_SIZE) {
            /* well-formed frame around a random payload and command */
            uint32_t pl = (uint32_t)(len - PROTO_HDR_SIZE - PROTO_CRC_SIZE);
            if (pl > PROTO_MAX_PAYLOAD)
                pl = PROTO_MAX_PAYLOAD;
            uint8_t cmd = (uint8_t)(buf[0] % 0x32u);
            if (cmd == PROTO_CMD_DELETE || cmd == PROTO_CMD_HELLO)
                cmd = PROTO_CMD_STAT;
            len = proto_frame_build(buf, sizeof buf, cmd, 0, f->seq + 1, buf + PROTO_HDR_SIZE, pl);
            assert_int_equal(fwt_raw(f, buf, len), 0);
            if (f->rsp_status != PROTO_E_UNKNOWN_CMD)
                f->seq++; /* a known command consumed the sequence number */
            if (token_get_state(f->t) == TOKEN_RECEIVING)
                assert_int_equal(fwt_req(f, PROTO_CMD_PUT_ABORT, NULL, 0), PROTO_OK);
            continue;
        }
        assert_int_equal(hal_host_usb_send(f->dev, buf, len), 0);
        fwt_pump(f);
        while (hal_host_usb_recv(f->dev, f->rsp, sizeof f->rsp) != -1)
            ;
    }
    fwt_hello(f);
    still_alive(f);
    assert_int_equal(hal_host_flash_violations(f->dev), 0);
    fwt_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_known_answer),
        cmocka_unit_test(test_le_helpers),
        cmocka_unit_test(test_hello_and_info),
        cmocka_unit_test(test_no_session),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_crc_every_byte),
        cmocka_unit_test(test_oversized_length),
        cmocka_unit_test(test_transfer_longer_than_any_frame),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_lone_zlp_ignored),
        cmocka_unit_test(test_reserved_status),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_out_of_sequence),
        cmocka_unit_test(test_retransmission_is_exactly_once),
        cmocka_unit_test(test_frame_on_packet_boundary),
        cmocka_unit_test(test_response_on_packet_boundary_gets_zlp),
        cmocka_unit_test(test_high_speed_packets),
        cmocka_unit_test(test_in_endpoint_backpressure),
        cmocka_unit_test(test_usb_reset_drops_session_and_upload),
        cmocka_unit_test(test_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
