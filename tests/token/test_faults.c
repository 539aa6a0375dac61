/* End-to-end fault tests of app/token against the emulated token running the real firmware
 * core: damaged answers and requests (CRC), lost answers (retry by resend, executed exactly
 * once), a device that stops answering (timeouts), a transfer cut mid-upload by a hung
 * device, an unplug or a power cut during the commit (previous contents intact, a retry
 * succeeds), and the transfer throughput for the benchmark (printed, not asserted).
 * Run under umockdev-wrapper. */
#include "tokfix.h"

#include "../../firmware/hal/host/hal_host.h"

/* Short, so that timeouts are quick; the messages below quote it. */
#define FAULT_TIMEOUT_MS 250u

static tf_keys *keys;

typedef struct {
    emu *e;
    emu_dev *d;
    usbtoken *t;
    /* what the progress hook does once the upload's last chunk is acknowledged */
    enum { AT_END_NOTHING, AT_END_LOSE, AT_END_MUTE, AT_END_POWER_CUT, AT_VERIFY_ROT } at_end;
    const uint8_t *rot_pattern; /* AT_VERIFY_ROT: bytes of the file to find in flash */
    uint32_t at_end_n;
    hal_host_fault at_end_kind;
    int fired;
} fixture;

static int group_setup(void **state)
{
    (void)state;
    tf_timeout_ms = FAULT_TIMEOUT_MS;
    keys = tf_keys_load();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tf_keys_free(keys);
    return 0;
}

/* Flips one bit of a stored file in the token's flash, found by 64 of its bytes. */
static void rot_flash(emu_dev *d, const uint8_t *pattern)
{
    size_t len = 0;
    emu_lock(d);
    uint8_t *flash = hal_host_flash_bytes(emu_hal(d), &len);
    uint8_t *at = memmem(flash, len, pattern, 64);
    assert_non_null(at);
    at[10] ^= 0x20;
    emu_unlock(d);
}

/* Runs inside usbtoken_put after each acknowledged chunk: arms a fault for the commit, or
 * damages the stored file just before the read-back. */
static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    fixture *f = ctx;
    if (f->at_end == AT_VERIFY_ROT) {
        if (strcmp(what, "verify") == 0 && done == 0 && !f->fired) {
            f->fired = 1;
            rot_flash(f->d, f->rot_pattern);
        }
        return;
    }
    if (strcmp(what, "put") != 0 || done != total || total == 0 || f->fired)
        return;
    f->fired = 1;
    switch (f->at_end) {
    case AT_END_LOSE:
        emu_lose_in(f->d, f->at_end_n);
        break;
    case AT_END_MUTE:
        emu_cut_after_out(f->d, 1, EMU_CUT_MUTE); /* the commit arrives, its answer not */
        break;
    case AT_END_POWER_CUT:
        emu_lock(f->d);
        hal_host_flash_fault(emu_hal(f->d), f->at_end_n, f->at_end_kind);
        emu_unlock(f->d);
        break;
    default:
        break;
    }
}

static usbtoken *open_hooked(fixture *f)
{
    usbtoken_config cfg;
    usbtoken *t = NULL;
    const char *list[1] = {"RLTEST0001"};
    tf_config(&cfg, list, 1);
    cfg.progress = on_progress;
    cfg.progress_ctx = f;
    tf_ok(usbtoken_open(&cfg, &t));
    return t;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->e = emu_new();
    if (f->e == NULL)
        return -1;
    f->d = tf_plug(f->e, "RLTEST0001", 0, 0);
    f->t = open_hooked(f);
    tf_provision(f->t, keys);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    usbtoken_close(f->t);
    emu_free(f->e);
    free(f);
    return 0;
}

/* Power cycle and re-enumerate, as someone pulling the token out and plugging it back. */
static void replug(fixture *f)
{
    usbtoken_close(f->t);
    f->t = NULL;
    emu_replug(f->d);
    f->t = open_hooked(f);
}

static usbtoken_stats stats(usbtoken *t)
{
    usbtoken_stats s;
    usbtoken_get_stats(t, &s);
    return s;
}

static void test_damaged_answer(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    emu_damage_in(f->d, 1);
    tf_ok(usbtoken_get_info(f->t, &info));
    assert_int_equal(stats(f->t).bad_frames, 1);
    assert_int_equal(stats(f->t).resends, 1);
    assert_int_equal(info.epoch, 2);
}

static void test_damaged_request(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    emu_damage_out(f->d, 1);
    tf_ok(usbtoken_get_info(f->t, &info));
    /* The token answered with an error frame (E_CRC); the identical frame went again. */
    assert_int_equal(stats(f->t).resends, 1);
    assert_int_equal(stats(f->t).bad_frames, 0);
}

/* Damage both ways throughout an upload: every request is still executed exactly once. */
static void test_damage_during_put(void **state)
{
    fixture *f = *state;
    usbtoken_receipt r;
    const size_t n = 30000;
    uint8_t *data = tf_data(n, 1);
    emu_damage_in(f->d, 2);
    emu_damage_out(f->d, 2);
    tf_ok(tf_put(f->t, keys->app, "d.xml", USBTOKEN_DRILL, data, n, "mode=drill", &r));
    assert_int_equal(r.counter, 1);
    /* PUT_BEGIN arrives damaged twice, and both error frames the token sends back for it
     * are damaged too: two resends, two bad frames, then clean. */
    assert_int_equal(stats(f->t).resends, 2);
    assert_int_equal(stats(f->t).bad_frames, 2);
    tf_check_get(f->t, "d.xml", data, n);
    free(data);
}

/* The commit's answer lost twice: the resent commit is answered from the token's cache, not
 * executed again (the counter moves by one, no E_STATE or E_REPLAY). */
static void test_lost_commit_answer_exactly_once(void **state)
{
    fixture *f = *state;
    usbtoken_receipt r;
    usbtoken_info info;
    const size_t n = 12000;
    uint8_t *data = tf_data(n, 2);
    f->at_end = AT_END_LOSE;
    f->at_end_n = 2;
    tf_ok(tf_put(f->t, keys->app, "l.xml", USBTOKEN_PRODUCTION, data, n,
                 "mode=production seq=3", &r));
    assert_int_equal(f->fired, 1);
    assert_int_equal(r.counter, 1);
    assert_int_equal(stats(f->t).resends, 2);
    assert_true(stats(f->t).stale_frames == 0);
    tf_ok(usbtoken_get_info(f->t, &info));
    assert_int_equal(info.counter, 1);
    assert_int_equal(info.keys[0].last_seq, 3);
    free(data);
}

/* Every answer to the commit lost: the put cannot know, reconnects, asks the token, finds
 * the file committed with its hash, and completes the read-back. */
static void test_commit_outcome_resolved(void **state)
{
    fixture *f = *state;
    usbtoken_receipt r;
    const size_t n = 8000;
    uint8_t *data = tf_data(n, 3);
    f->at_end = AT_END_LOSE;
    f->at_end_n = TF_RETRIES + 1;
    tf_ok(tf_put(f->t, keys->app, "c.xml", USBTOKEN_DRILL, data, n, "mode=drill", &r));
    assert_int_equal(r.counter, 1);
    assert_int_equal(stats(f->t).resyncs, 2);
    tf_check_get(f->t, "c.xml", data, n);
    free(data);
}

static void test_persistent_damage(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    emu_damage_in(f->d, 1000);
    tf_expect(usbtoken_get_info(f->t, &info), RL_EIO, "damaged in transfer");
    assert_non_null(strstr(err_msg(), "after 3 attempts"));
    emu_damage_in(f->d, 0);
    /* The link is fine again: the next call opens a new session and works. */
    tf_ok(usbtoken_get_info(f->t, &info));
    assert_int_equal(stats(f->t).resyncs, 2);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    emu_set_mute(f->d, 1);
    double t0 = tf_now();
    tf_expect(usbtoken_get_info(f->t, &info), RL_EIO, "did not take the request within 250 ms");
    double dt = tf_now() - t0;
    /* One timeout per attempt, no more: the caller hears back in bounded time. */
    assert_true(dt >= 0.7 && dt < 3.0);
    assert_int_equal(stats(f->t).timeouts, TF_RETRIES + 1);
    emu_set_mute(f->d, 0);
    tf_ok(usbtoken_get_info(f->t, &info));
    assert_int_equal(stats(f->t).resyncs, 2);
}

/* Slow answers: the first comes after the answer timeout. The resend then finds the token
 * still waiting for its answer to be read (it takes no request before); the appliance
 * listens, takes the late answer, which is the one it wanted, and goes on. A commit that
 * takes longer than the transfer timeout is covered by its own, longer timeout. */
static void test_slow_answers(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    usbtoken_receipt r;
    uint8_t *a = tf_data(6000, 13);
    emu_delay_answers(f->d, 1, 2 * FAULT_TIMEOUT_MS - 100);
    tf_ok(usbtoken_get_info(f->t, &info));
    assert_int_equal(stats(f->t).resends, 1);
    assert_int_equal(stats(f->t).timeouts, 2); /* the answer, then the resend not taken */
    assert_int_equal(stats(f->t).stale_frames, 0);
    /* Each of 4 answers of a put (begin, 2 chunks, commit) late, but within the timeout. */
    emu_delay_answers(f->d, 4, FAULT_TIMEOUT_MS / 2);
    tf_ok(tf_put(f->t, keys->app, "s.xml", USBTOKEN_DRILL, a, 6000, "mode=drill", &r));
    assert_int_equal(r.counter, 1);
    assert_int_equal(stats(f->t).resends, 1);
    free(a);
}

/* A file is already on the token; an upload of another one is cut by a device that stops
 * answering (or disappears) after some chunks. The appliance says the transfer was cut and
 * nothing changed; after replugging, the previous contents are intact and putting the file
 * again succeeds. */
static void cut_mid_put(fixture *f, emu_cut how, const char *expect)
{
    usbtoken_entry files[PROTO_MAX_FILES];
    usbtoken_receipt r;
    uint64_t counter;
    uint8_t *a = tf_data(10000, 4), *b = tf_data(40000, 5);
    tf_ok(tf_put(f->t, keys->app, "a.xml", USBTOKEN_PRODUCTION, a, 10000,
                 "mode=production seq=1", NULL));
    emu_cut_after_out(f->d, 4, how); /* PUT_BEGIN and 3 of 10 chunks arrive */
    tf_expect(tf_put(f->t, keys->app, "b.xml", USBTOKEN_PRODUCTION, b, 40000,
                     "mode=production seq=2", NULL),
              RL_EIO, "transfer cut after 8192 of 40000 bytes, before the commit");
    assert_non_null(strstr(err_msg(), expect));
    assert_non_null(strstr(err_msg(), "previous contents"));
    replug(f);
    assert_int_equal(tf_list(f->t, files, &counter), 1);
    assert_int_equal(counter, 1);
    assert_string_equal(files[0].name, "a.xml");
    tf_check_get(f->t, "a.xml", a, 10000);
    tf_ok(tf_put(f->t, keys->app, "b.xml", USBTOKEN_PRODUCTION, b, 40000,
                 "mode=production seq=2", &r));
    assert_int_equal(r.counter, 2);
    tf_check_get(f->t, "b.xml", b, 40000);
    free(a);
    free(b);
}

static void test_cut_mid_put_hung(void **state)
{
    cut_mid_put(*state, EMU_CUT_MUTE, "within 250 ms");
}

static void test_cut_mid_put_unplugged(void **state)
{
    cut_mid_put(*state, EMU_CUT_UNPLUG, "unplugged");
}

/* Unplugged between commands: clear errors, then "no token" until it is back. */
static void test_unplug_between_commands(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    usbtoken_config cfg;
    usbtoken *t = NULL;
    const char *list[1] = {"RLTEST0001"};
    emu_unplug(f->d);
    tf_expect(usbtoken_get_info(f->t, &info), RL_EIO, "unplugged");
    tf_expect(usbtoken_get_info(f->t, &info), RL_EIO, "unplugged");
    usbtoken_close(f->t);
    f->t = NULL;
    tf_config(&cfg, list, 1);
    tf_expect(usbtoken_open(&cfg, &t), RL_EIO, "no token found");
    emu_replug(f->d);
    f->t = open_hooked(f);
    tf_ok(usbtoken_get_info(f->t, &info));
    assert_int_equal(info.epoch, 2); /* provisioning survived the power cycle */
}

/* The commit reaches the token, then the device hangs: the appliance cannot know whether
 * it committed and says so. After replugging, LIST tells: here the commit was durable. */
static void test_cut_after_commit_sent(void **state)
{
    fixture *f = *state;
    usbtoken_entry files[PROTO_MAX_FILES];
    uint64_t counter;
    uint8_t *a = tf_data(9000, 6);
    f->at_end = AT_END_MUTE;
    tf_expect(tf_put(f->t, keys->app, "a.xml", USBTOKEN_DRILL, a, 9000, "mode=drill", NULL),
              RL_EIO, "transfer cut during the commit");
    assert_non_null(strstr(err_msg(), "either its previous contents or the new file"));
    replug(f);
    assert_int_equal(tf_list(f->t, files, &counter), 1);
    assert_int_equal(counter, 1);
    tf_check_get(f->t, "a.xml", a, 9000);
    /* Putting it again is refused as what it is: already there. */
    tf_expect(tf_put(f->t, keys->app, "a.xml", USBTOKEN_DRILL, a, 9000, "mode=drill", NULL),
              RL_EDATA, "E_EXISTS");
    free(a);
}

/* Power lost at every flash operation of the commit in turn (the file's last page, the
 * snapshot record's erase and pages), torn or completed just before the cut: after
 * replugging the token holds the old state or the new one, the counter matches the files,
 * the flash fake saw no misuse, and the file can be put again if it is not there. */
static void test_power_cut_during_commit(void **state)
{
    fixture *f = *state;
    uint8_t *a = tf_data(5000, 7), *b = tf_data(7000, 8);
    int old_seen = 0, new_seen = 0, points = 0;
    tf_ok(tf_put(f->t, keys->app, "a.xml", USBTOKEN_DRILL, a, 5000, "mode=drill", NULL));
    for (int kind = 0; kind < 2; kind++) {
        for (uint32_t op = 0;; op++) {
            usbtoken_entry files[PROTO_MAX_FILES];
            uint64_t counter;
            f->at_end = AT_END_POWER_CUT;
            f->at_end_kind = kind == 0 ? HAL_HOST_FAULT_CUT : HAL_HOST_FAULT_CUT_AFTER;
            f->at_end_n = op;
            f->fired = 0;
            int rc = tf_put(f->t, keys->app, "b.xml", USBTOKEN_DRILL, b, 7000, "mode=drill",
                            NULL);
            f->at_end = AT_END_NOTHING;
            emu_lock(f->d);
            hal_host_flash_fault(emu_hal(f->d), 0, HAL_HOST_FAULT_NONE);
            emu_unlock(f->d);
            if (rc == RL_OK) {
                /* The commit needed fewer flash operations than op: every point is done. */
                tf_ok(usbtoken_mark_collected(f->t, "b.xml"));
                tf_ok(usbtoken_delete(f->t, "b.xml"));
                b[0]++;
                break;
            }
            assert_true(op < 64);
            points++;
            tf_expect(rc, RL_EIO, "during the commit");
            assert_non_null(strstr(err_msg(), "unplugged"));
            replug(f);
            size_t n = tf_list(f->t, files, &counter);
            assert_true(n == 1 || n == 2);
            tf_check_get(f->t, "a.xml", a, 5000);
            if (n == 2) {
                new_seen++;
                tf_check_get(f->t, "b.xml", b, 7000);
                tf_ok(usbtoken_mark_collected(f->t, "b.xml"));
                tf_ok(usbtoken_delete(f->t, "b.xml"));
                /* A deleted file cannot come back: the next round's file is a new one. */
                b[0]++;
            } else {
                old_seen++;
                /* Not accepted, so no replay: the same file goes on now. */
                tf_ok(tf_put(f->t, keys->app, "b.xml", USBTOKEN_DRILL, b, 7000, "mode=drill",
                             NULL));
                tf_ok(usbtoken_mark_collected(f->t, "b.xml"));
                tf_ok(usbtoken_delete(f->t, "b.xml"));
                b[0]++;
            }
            emu_lock(f->d);
            assert_int_equal(hal_host_flash_violations(emu_hal(f->d)), 0);
            emu_unlock(f->d);
        }
    }
    assert_true(old_seen > 0 && new_seen > 0);
    print_message("power cut during commit: %d cut points, %d recovered old, %d new\n", points,
                  old_seen, new_seen);
    free(a);
    free(b);
}

/* The read-back is what makes a put trustworthy: a stored file that differs from what was
 * sent (here: flash rot between commit and read-back) fails the put, and a get of a file
 * that rotted later fails on the signed hash. */
static void test_flash_rot_detected(void **state)
{
    fixture *f = *state;
    uint8_t *a = tf_data(9000, 10), *b = tf_data(9000, 11);
    uint8_t *back = NULL;
    size_t blen = 0;
    f->at_end = AT_VERIFY_ROT;
    f->rot_pattern = a + 4096;
    tf_expect(tf_put(f->t, keys->app, "a.xml", USBTOKEN_DRILL, a, 9000, "mode=drill", NULL),
              RL_EINTEGRITY, "read back differs from what was sent, at bytes 4096..8191");
    assert_int_equal(f->fired, 1);
    f->at_end = AT_END_NOTHING;
    tf_ok(tf_put(f->t, keys->app, "b.xml", USBTOKEN_DRILL, b, 9000, "mode=drill", NULL));
    rot_flash(f->d, b + 64);
    tf_expect(usbtoken_get(f->t, "b.xml", &back, &blen, NULL), RL_EINTEGRITY,
              "does not hash to the value signed");
    assert_null(back);
    free(a);
    free(b);
}

/* A token whose answers are well-formed but untrue (a firmware fault or a forged token):
 * the appliance's own comparisons catch what no CRC can. */
static void test_untrue_answers_detected(void **state)
{
    fixture *f = *state;
    uint8_t *a = tf_data(3000, 12);
    /* STAT after the commit shows another signature than the one sent. */
    emu_forge_answer(f->d, PROTO_CMD_STAT, PROTO_STAT_SIG + 5);
    tf_expect(tf_put(f->t, keys->app, "a.xml", USBTOKEN_DRILL, a, 3000, "mode=drill", NULL),
              RL_EINTEGRITY, "differs from what was sent: do not use this copy");
    /* STAT with another counter than the commit reported. */
    a[0]++;
    emu_forge_answer(f->d, PROTO_CMD_STAT, PROTO_STAT_COUNTER);
    tf_expect(tf_put(f->t, keys->app, "b.xml", USBTOKEN_DRILL, a, 3000, "mode=drill", NULL),
              RL_EINTEGRITY, "as stored (size, hash, signature, class or counter) differs");
    /* The commit reports a hash id that is not the file's. */
    a[0]++;
    emu_forge_answer(f->d, PROTO_CMD_PUT_COMMIT, 8 + 3);
    tf_expect(tf_put(f->t, keys->app, "c.xml", USBTOKEN_DRILL, a, 3000, "mode=drill", NULL),
              RL_EINTEGRITY, "with a hash that is not the file's");
    /* GET returns other bytes than were stored. */
    a[0]++;
    emu_forge_answer(f->d, PROTO_CMD_GET, 100);
    tf_expect(tf_put(f->t, keys->app, "d.xml", USBTOKEN_DRILL, a, 3000, "mode=drill", NULL),
              RL_EINTEGRITY, "read back differs from what was sent, at bytes 0..2999");
    emu_forge_answer(f->d, PROTO_CMD_GET, 2999);
    uint8_t *back = NULL;
    size_t blen = 0;
    tf_expect(usbtoken_get(f->t, "d.xml", &back, &blen, NULL), RL_EINTEGRITY,
              "does not hash to the value signed");
    free(a);
}

/* A transfer that keeps failing mid-upload, then works again on the same handle: the retry
 * opens a new session (which drops the half upload) and succeeds. */
static void test_retry_same_handle(void **state)
{
    fixture *f = *state;
    usbtoken_receipt r;
    uint8_t *a = tf_data(20000, 9);
    emu_cut_after_out(f->d, 3, EMU_CUT_MUTE);
    tf_expect(tf_put(f->t, keys->app, "a.xml", USBTOKEN_DRILL, a, 20000, "mode=drill", NULL),
              RL_EIO, "transfer cut");
    emu_set_mute(f->d, 0);
    uint64_t timeouts = stats(f->t).timeouts;
    tf_ok(tf_put(f->t, keys->app, "a.xml", USBTOKEN_DRILL, a, 20000, "mode=drill", &r));
    assert_int_equal(r.counter, 1);
    /* The answer left unread by the cut was read away first (drain), so the new session's
     * HELLO went through at once: no timeout at all on the way back. */
    assert_int_equal(stats(f->t).timeouts, timeouts);
    assert_true(stats(f->t).stale_frames == 0);
    free(a);
}

/* Throughput of put (upload, commit and full read-back) and get, printed for the later
 * benchmark; not asserted (it measures the emulation as much as the protocol). */
static void measure(emu *e, const char *serial, uint32_t max_packet, uint32_t blocks, size_t n)
{
    emu_stats es;
    uint8_t *data = tf_data(n, 77);
    emu_dev *d = tf_plug(e, serial, max_packet, blocks);
    tf_timeout_ms = 2000; /* a loaded machine must not cause resends here */
    usbtoken *t = tf_open(serial);
    tf_timeout_ms = FAULT_TIMEOUT_MS;
    tf_provision(t, keys);
    double t0 = tf_now();
    tf_ok(tf_put(t, keys->app, "bench.xml", USBTOKEN_PRODUCTION, data, n,
                 "mode=production seq=1 file=bench.xml", NULL));
    double t1 = tf_now();
    uint8_t *back = NULL;
    size_t blen = 0;
    tf_ok(usbtoken_get(t, "bench.xml", &back, &blen, NULL));
    double t2 = tf_now();
    assert_int_equal(blen, n);
    assert_memory_equal(back, data, n);
    usbtoken_stats st;
    usbtoken_get_stats(t, &st);
    assert_int_equal(st.resends, 0);
    emu_get_stats(d, &es);
    print_message("throughput %s (%u-byte packets): %zu bytes: put+verify %.3f s = %.0f B/s "
                  "(upload+read-back), get %.3f s = %.0f B/s; %llu requests, %llu OUT / %llu IN "
                  "bytes on the bus\n",
                  serial, max_packet, n, t1 - t0, (double)n / (t1 - t0), t2 - t1,
                  (double)n / (t2 - t1), (unsigned long long)st.requests,
                  (unsigned long long)es.out_bytes, (unsigned long long)es.in_bytes);
    usbtoken_close(t);
    free(back);
    free(data);
}

static void test_throughput(void **state)
{
    fixture *f = *state;
    /* 4 MiB of flash; a 100,000-employee file is larger, see docs/token-transport.md. */
    measure(f->e, "RLBENCH512", 512, 1024, 2u << 20);
    measure(f->e, "RLBENCH064", 64, 256, 512u << 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_damaged_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_during_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_commit_answer_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_outcome_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_mid_put_hung, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_mid_put_unplugged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unplug_between_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_after_commit_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_during_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flash_rot_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrue_answers_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_same_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
