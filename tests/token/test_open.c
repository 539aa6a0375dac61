/* End-to-end tests of app/token discovery: enumeration by VID:PID, the serial allowlist,
 * no token, unknown tokens, several tokens, two tokens used at once, high-speed packets.
 * Real libusb and app/token code against emulated tokens running the firmware core
 * (tests/token/emu.h); run under umockdev-wrapper. */
#include "tokfix.h"

static tf_keys *keys;

typedef struct {
    emu *e;
} fixture;

static int group_setup(void **state)
{
    (void)state;
    keys = tf_keys_load();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tf_keys_free(keys);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->e = emu_new();
    if (f->e == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    emu_free(f->e);
    free(f);
    return 0;
}

/* One allowlisted token: found by VID:PID, opened, INFO as the firmware describes it. */
static void test_open_and_info(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    tf_plug(f->e, "RLTEST0001", 0, 0);
    usbtoken *t = tf_open("RLTEST0001");
    tf_ok(usbtoken_get_info(t, &info));
    assert_int_equal(info.proto_version, PROTO_VERSION);
    assert_string_equal(info.model, "RLTK-1");
    assert_string_equal(info.serial, "RLTEST0001");
    assert_int_equal(info.counter, 0);
    assert_int_equal(info.nfiles, 0);
    assert_int_equal(info.max_files, PROTO_MAX_FILES);
    assert_int_equal(info.max_chunk, PROTO_MAX_CHUNK);
    assert_int_equal(info.max_payload, PROTO_MAX_PAYLOAD);
    /* Empty token: the largest file that fits is the whole capacity (free_bytes counts
     * whole blocks, file headers included). */
    assert_true(info.capacity > 0 && info.largest_file == info.capacity);
    assert_true(info.free_bytes >= info.capacity);
    assert_int_equal(info.flags & PROTO_INFO_FLAG_AUTHORITY, 0);
    assert_int_equal(info.nkeys, 0);
    /* Provisioning through the same transport: authority, then the appliance TEST key. */
    tf_provision(t, keys);
    tf_ok(usbtoken_get_info(t, &info));
    assert_int_equal(info.flags & PROTO_INFO_FLAG_AUTHORITY, PROTO_INFO_FLAG_AUTHORITY);
    assert_memory_equal(info.authority_id, keys->auth_pub.key_id, 8);
    assert_int_equal(info.epoch, 2);
    assert_int_equal(info.nkeys, 1);
    assert_memory_equal(info.keys[0].key_id, keys->app_pub.key_id, 8);
    usbtoken_stats st;
    usbtoken_get_stats(t, &st);
    assert_int_equal(st.resends, 0);
    assert_int_equal(st.bad_frames, 0);
    assert_int_equal(st.resyncs, 1);
    usbtoken_close(t);
    usbtoken_close(NULL);
}

static void test_no_token(void **state)
{
    fixture *f = *state;
    usbtoken_config cfg;
    usbtoken *t = (usbtoken *)&cfg; /* must come back NULL */
    const char *list[1] = {"RLTEST0001"};
    (void)f;
    tf_config(&cfg, list, 1);
    tf_expect(usbtoken_open(&cfg, &t), RL_EIO, "no token found (USB 1209:0001)");
    assert_null(t);
}

/* A device with another VID:PID is not a token, even with an allowlisted serial. */
static void test_other_vid_pid_ignored(void **state)
{
    fixture *f = *state;
    usbtoken_config cfg;
    usbtoken *t = NULL;
    emu_dev_config c;
    const char *list[1] = {"RLTEST0001"};
    emu_dev_config_default(&c);
    c.pid = 0x0002;
    assert_non_null(emu_add(f->e, &c));
    tf_config(&cfg, list, 1);
    tf_expect(usbtoken_open(&cfg, &t), RL_EIO, "no token found");
    assert_null(t);
    /* Configured for that VID:PID, it is found. */
    cfg.pid = 0x0002;
    tf_ok(usbtoken_open(&cfg, &t));
    usbtoken_close(t);
}

/* Only a token whose serial is not on the allowlist: refused, its serial named. */
static void test_unknown_serial(void **state)
{
    fixture *f = *state;
    usbtoken_config cfg;
    usbtoken *t = NULL;
    const char *list[2] = {"RLTEST0001", "RLTEST0002"};
    tf_plug(f->e, "FOREIGN77", 0, 0);
    tf_config(&cfg, list, 2);
    tf_expect(usbtoken_open(&cfg, &t), RL_EINTEGRITY, "serial FOREIGN77) is not on");
    assert_null(t);
    /* The ignored token was only asked for its serial: never claimed, never sent a frame. */
    char found[4][PROTO_SERIAL_LEN + 1];
    size_t n = 0;
    tf_ok(usbtoken_scan(&cfg, found, 4, &n));
    assert_int_equal(n, 1);
    assert_string_equal(found[0], "FOREIGN77");
}

/* A non-allowlisted token next to the allowlisted one is ignored. */
static void test_non_allowlisted_ignored(void **state)
{
    fixture *f = *state;
    emu_stats es;
    emu_dev *foreign = tf_plug(f->e, "FOREIGN77", 0, 0);
    tf_plug(f->e, "RLTEST0002", 0, 0);
    usbtoken *t = tf_open("RLTEST0002");
    usbtoken_close(t);
    emu_get_stats(foreign, &es);
    assert_int_equal(es.out_transfers, 0);
}

/* Two allowlisted tokens: ambiguous, refused; naming one resolves it. */
static void test_several_tokens(void **state)
{
    fixture *f = *state;
    usbtoken_config cfg;
    usbtoken *t = NULL;
    const char *both[2] = {"RLTEST0001", "RLTEST0002"};
    tf_plug(f->e, "RLTEST0001", 0, 0);
    tf_plug(f->e, "RLTEST0002", 0, 0);
    tf_config(&cfg, both, 2);
    tf_expect(usbtoken_open(&cfg, &t), RL_EUSAGE, "several allowlisted tokens");
    assert_non_null(strstr(err_msg(), "RLTEST0001"));
    assert_non_null(strstr(err_msg(), "RLTEST0002"));
    assert_null(t);
    t = tf_open("RLTEST0002");
    usbtoken_close(t);
}

/* Two tokens open at once are independent devices, each with its own state. */
static void test_two_tokens_at_once(void **state)
{
    fixture *f = *state;
    usbtoken_entry files[PROTO_MAX_FILES];
    usbtoken_receipt r;
    uint64_t counter = 0;
    tf_plug(f->e, "RLTEST0001", 0, 0);
    tf_plug(f->e, "RLTEST0002", 0, 0);
    usbtoken *a = tf_open("RLTEST0001");
    usbtoken *b = tf_open("RLTEST0002");
    tf_provision(a, keys);
    tf_provision(b, keys);
    uint8_t *data = tf_data(5000, 1);
    tf_ok(tf_put(a, keys->app, "pay-a.xml", USBTOKEN_DRILL, data, 5000,
                 "mode=drill file=pay-a.xml", &r));
    assert_int_equal(r.counter, 1);
    assert_int_equal(tf_list(b, files, &counter), 0);
    assert_int_equal(counter, 0);
    assert_int_equal(tf_list(a, files, &counter), 1);
    assert_string_equal(files[0].name, "pay-a.xml");
    usbtoken_close(a);
    usbtoken_close(b);
    free(data);
}

/* The USB descriptor names an allowlisted serial, the firmware another: not a genuine
 * token (a copied descriptor) or a faulty one. */
static void test_serial_mismatch(void **state)
{
    fixture *f = *state;
    usbtoken_config cfg;
    usbtoken *t = NULL;
    emu_dev_config c;
    const char *list[1] = {"RLTEST0001"};
    emu_dev_config_default(&c);
    c.serial = "RLTEST0666";
    c.usb_serial = "RLTEST0001";
    assert_non_null(emu_add(f->e, &c));
    tf_config(&cfg, list, 1);
    tf_expect(usbtoken_open(&cfg, &t), RL_EINTEGRITY, "reports serial \"RLTEST0666\" in INFO");
    assert_null(t);
}

/* A high-speed token (512-byte packets) works the same. */
static void test_high_speed(void **state)
{
    fixture *f = *state;
    usbtoken_receipt r;
    tf_plug(f->e, "RLTEST0512", 512, 0);
    usbtoken *t = tf_open("RLTEST0512");
    tf_provision(t, keys);
    uint8_t *data = tf_data(20000, 2);
    tf_ok(tf_put(t, keys->app, "hs.xml", USBTOKEN_DRILL, data, 20000, "mode=drill", &r));
    tf_check_get(t, "hs.xml", data, 20000);
    usbtoken_close(t);
    free(data);
}

static void test_config_errors(void **state)
{
    fixture *f = *state;
    usbtoken_config cfg;
    usbtoken *t = NULL;
    const char *bad[1] = {"THIS-SERIAL-IS-TOO-LONG"};
    tf_plug(f->e, "RLTEST0001", 0, 0);
    tf_config(&cfg, NULL, 0);
    tf_expect(usbtoken_open(&cfg, &t), RL_EUSAGE, "no serial allowlist");
    tf_config(&cfg, bad, 1);
    tf_expect(usbtoken_open(&cfg, &t), RL_EUSAGE, "longer than 16");
    tf_config(&cfg, bad, 0);
    cfg.timeout_ms = 0;
    tf_expect(usbtoken_open(&cfg, &t), RL_EUSAGE, "timeouts");
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_vid_pid_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_serial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_allowlisted_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_tokens_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serial_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_high_speed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
