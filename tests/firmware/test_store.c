/* Firmware core: the flash store under power cuts and flash failures.
 *
 * The campaign: from a saved flash state, run a list of steps (PUT, MARK, DELETE, ENROLL ...)
 * once cleanly to learn the state after each step and the number N of flash operations
 * (page programs + block erases). Then for every k in 0..N-1 restore the flash, run the steps
 * again with the k-th operation torn and power lost (or failed with power kept), reboot and
 * compare what the token reports (INFO, LIST, every file's content) with the learned states:
 * with j steps acknowledged before the cut it must be exactly state j or state j+1 (nothing
 * acknowledged is lost, nothing half-done is visible), the counter never goes back, no flash
 * misuse happened, and the token still accepts new work afterwards. */
#include "fwtest.h"

#include <unistd.h>

#define MAX_STEPS 8
#define OBS_CAP 8192

typedef struct {
    uint8_t b[OBS_CAP];
    size_t len;
    uint64_t counter;
} obs;

typedef struct {
    fwt_key auth, app, k5;
    uint8_t *big;
} world;

static world W;

/* ---- a client that tolerates a dead token ------------------------------------------------------ */

static int soft_req(fwt *f, uint8_t cmd, const void *payload, size_t len)
{
    static uint8_t frame[PROTO_MAX_FRAME];
    if (hal_host_power_lost(f->dev))
        return -1;
    size_t fl = proto_frame_build(frame, sizeof frame, cmd, 0, ++f->seq, payload, (uint32_t)len);
    if (hal_host_usb_send(f->dev, frame, fl) != 0)
        return -1;
    fwt_pump(f);
    f->rsp_len = hal_host_usb_recv(f->dev, f->rsp, sizeof f->rsp);
    if (f->rsp_len < 0 || fwt_parse_rsp(f) != 0 || f->rsp_seq != f->seq)
        return -1;
    return f->rsp_status;
}

static int soft_put(fwt *f, const fwt_key *k, const char *name, uint8_t cls, const uint8_t *data,
                    size_t len, const char *tc)
{
    uint8_t p[PROTO_MAX_PAYLOAD];
    fwt_sig s;
    fwt_sign(k, data, len, tc, &s);
    size_t n = fwt_put_begin_payload(p, name, cls, (uint32_t)len, &s);
    int st = soft_req(f, PROTO_CMD_PUT_BEGIN, p, n);
    for (size_t off = 0; st == PROTO_OK && off < len; off += PROTO_MAX_CHUNK) {
        size_t c = len - off < PROTO_MAX_CHUNK ? len - off : PROTO_MAX_CHUNK;
        proto_store32(p, (uint32_t)off);
        memcpy(p + 4, data + off, c);
        st = soft_req(f, PROTO_CMD_PUT_DATA, p, 4 + c);
    }
    return st == PROTO_OK ? soft_req(f, PROTO_CMD_PUT_COMMIT, NULL, 0) : st;
}

static int soft_enroll_add(fwt *f, const fwt_key *k)
{
    uint8_t st[PROTO_ST_SIZE], p[PROTO_MAX_PAYLOAD];
    if (soft_req(f, PROTO_CMD_INFO, NULL, 0) != PROTO_OK)
        return -1;
    uint32_t epoch = proto_load32(f->rsp_payload + PROTO_INFO_EPOCH);
    char serial[17] = {0};
    memcpy(serial, f->rsp_payload + PROTO_INFO_SERIAL, 16);
    fwt_statement(st, serial, epoch + 1, PROTO_ENROLL_ADD_APPLIANCE, k);
    fwt_sig s;
    fwt_sign(&W.auth, st, PROTO_ST_SIZE, "", &s);
    memcpy(p, st, PROTO_ST_SIZE);
    memset(p + PROTO_EK_ALG, 0, 4);
    p[PROTO_EK_ALG] = 'E';
    p[PROTO_EK_ALG + 1] = 'D';
    memcpy(p + PROTO_EK_KEY_ID, s.key_id, 8);
    memcpy(p + PROTO_EK_SIG, s.sig, 64);
    memcpy(p + PROTO_EK_GSIG, s.gsig, 64);
    proto_store16(p + PROTO_EK_TC_LEN, 0);
    return soft_req(f, PROTO_CMD_ENROLL_KEY, p, PROTO_EK_TC);
}

/* ---- observing the whole visible state ------------------------------------------------------------ */

static void obs_add(obs *o, const void *p, size_t n)
{
    assert_true(o->len + n <= sizeof o->b);
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

/* Everything a host can see: INFO (minus the session id), LIST, each file's bytes (hashed). */
static void observe(fwt *f, obs *o)
{
    static uint8_t content[300000];
    memset(o, 0, sizeof *o);
    fwt_hello(f);
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK);
    o->counter = proto_load64(f->rsp_payload + PROTO_INFO_COUNTER);
    assert_int_equal(f->rsp_payload[PROTO_INFO_FLAGS] & PROTO_INFO_FLAG_UPLOADING, 0);
    obs_add(o, f->rsp_payload + PROTO_INFO_COUNTER, f->rsp_plen - PROTO_INFO_COUNTER);
    assert_int_equal(fwt_req(f, PROTO_CMD_LIST, NULL, 0), PROTO_OK);
    uint8_t list[PROTO_MAX_PAYLOAD];
    uint32_t ll = f->rsp_plen;
    memcpy(list, f->rsp_payload, ll);
    obs_add(o, list, ll);
    for (int i = 0; i < list[8]; i++) {
        const char *name = (const char *)list + PROTO_LIST_HDR + i * PROTO_LIST_ENTRY;
        long n = fwt_get_all(f, name, content, sizeof content);
        assert_true(n >= 0);
        assert_int_equal(n, proto_load32(list + PROTO_LIST_HDR + i * PROTO_LIST_ENTRY + PROTO_LE_SIZE));
        uint8_t h[64];
        crypto_generichash(h, 64, content, (size_t)n, NULL, 0);
        /* the stored content is the signed content: its id is its BLAKE2b-512 prefix */
        assert_memory_equal(h, list + PROTO_LIST_HDR + i * PROTO_LIST_ENTRY + PROTO_LE_HASH_ID, 32);
        obs_add(o, h, 64);
        assert_int_equal(fwt_name_cmd(f, PROTO_CMD_STAT, name), PROTO_OK);
        obs_add(o, f->rsp_payload, f->rsp_plen);
    }
}

static int obs_eq(const obs *a, const obs *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* ---- steps ------------------------------------------------------------------------------------ */

typedef int (*step_fn)(fwt *f);

static int step_put_new1(fwt *f)
{
    return soft_put(f, &W.app, "new1.xml", PROTO_CLASS_PRODUCTION, W.big, 10000,
                    "file:new1.xml mode=production seq=20");
}
static int step_mark_old1(fwt *f)
{
    return soft_req(f, PROTO_CMD_MARK_COLLECTED, "old1.xml", 8);
}
static int step_delete_old1(fwt *f)
{
    return soft_req(f, PROTO_CMD_DELETE, "old1.xml", 8);
}
static int step_enroll_k5(fwt *f)
{
    return soft_enroll_add(f, &W.k5);
}
static int step_put_new2(fwt *f)
{
    return soft_put(f, &W.k5, "new2.xml", PROTO_CLASS_DRILL, W.big + 1, 3000, "mode=drill");
}
static int step_put_small(fwt *f)
{
    return soft_put(f, &W.app, "small", PROTO_CLASS_DRILL, W.big + 7, 100, "");
}

/* The saved starting state: authority, one appliance key, old1.xml (marked collected when
 * `collected`) and old2.xml stored. */
static fwt *make_base(const hal_host_config *cfg, int collected)
{
    fwt *f = fwt_new_cfg(cfg);
    fwt_provision(f, &W.auth, &W.app);
    assert_int_equal(fwt_put(f, &W.app, "old1.xml", PROTO_CLASS_PRODUCTION, W.big + 100, 5000,
                             "mode=production seq=1"),
                     PROTO_OK);
    assert_int_equal(fwt_put(f, &W.app, "old2.xml", PROTO_CLASS_DRILL, W.big + 200, 700, ""), PROTO_OK);
    if (collected)
        assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, "old1.xml"), PROTO_OK);
    return f;
}

typedef struct {
    unsigned points, old_state, new_state;
} campaign_result;

static obs states[MAX_STEPS + 1];

static campaign_result campaign(const char *label, const hal_host_config *cfg, int collected,
                                step_fn *steps, int nsteps, hal_host_fault kind)
{
    campaign_result r = {0, 0, 0};
    fwt *base = make_base(cfg, collected);
    fwt *w = fwt_new_cfg(cfg);

    /* reference run */
    assert_int_equal(hal_host_flash_copy(w->dev, base->dev), 0);
    fwt_reboot(w);
    observe(w, &states[0]);
    uint64_t ops0 = hal_host_flash_ops(w->dev);
    for (int i = 0; i < nsteps; i++) {
        assert_int_equal(steps[i](w), PROTO_OK);
        observe(w, &states[i + 1]);
        assert_false(obs_eq(&states[i], &states[i + 1]));
    }
    uint64_t nops = hal_host_flash_ops(w->dev) - ops0;
    assert_true(nops > 0);

    /* A power cut is tried twice at each operation: tearing it, and right after it. */
    uint64_t runs = kind == HAL_HOST_FAULT_CUT ? 2 * nops : nops;
    for (uint64_t run = 0; run < runs; run++) {
        uint64_t k = kind == HAL_HOST_FAULT_CUT ? run / 2 : run;
        hal_host_fault this_kind =
            kind == HAL_HOST_FAULT_CUT && (run & 1) ? HAL_HOST_FAULT_CUT_AFTER : kind;
        assert_int_equal(hal_host_flash_copy(w->dev, base->dev), 0);
        fwt_reboot(w);
        fwt_hello(w);
        hal_host_flash_fault(w->dev, k, this_kind);
        int acked = 0;
        while (acked < nsteps && steps[acked](w) == PROTO_OK)
            acked++;
        assert_true(acked < nsteps); /* the fault did hit something */
        obs seen, after;
        if (kind == HAL_HOST_FAULT_FAIL) {
            assert_false(hal_host_power_lost(w->dev));
            /* what the token says right after the failure is what is on flash */
            observe(w, &seen);
        }
        fwt_reboot(w);
        observe(w, &after);
        if (kind == HAL_HOST_FAULT_FAIL)
            assert_true(obs_eq(&seen, &after));
        if (obs_eq(&after, &states[acked])) {
            r.old_state++;
        } else if (obs_eq(&after, &states[acked + 1])) {
            r.new_state++;
        } else {
            fail_msg("%s: fault at op %llu of %llu after %d acknowledged steps: state is neither "
                     "old nor new",
                     label, (unsigned long long)k, (unsigned long long)nops, acked);
        }
        assert_true(after.counter >= states[acked].counter);
        assert_int_equal(hal_host_flash_violations(w->dev), 0);
        /* still usable: the remaining steps and one more file go through */
        for (int i = acked; i < nsteps; i++) {
            if (i == acked && obs_eq(&after, &states[acked + 1]))
                continue; /* that step did complete */
            int st = steps[i](w);
            assert_int_equal(st, PROTO_OK);
        }
        obs final;
        observe(w, &final);
        assert_true(obs_eq(&final, &states[nsteps]));
        assert_int_equal(step_put_small(w), PROTO_OK);
        assert_int_equal(hal_host_flash_violations(w->dev), 0);
        r.points++;
    }
    print_message("%s: %llu flash operations, %u faults injected, recovered to the old state "
                  "%u times, to the new state %u times\n",
                  label, (unsigned long long)nops, r.points, r.old_state, r.new_state);
    fwt_free(w);
    fwt_free(base);
    return r;
}

static int setup_world(void **state)
{
    (void)state;
    fwt_key_make(&W.auth, 1);
    fwt_key_make(&W.app, 2);
    fwt_key_make(&W.k5, 5);
    W.big = fwt_file(20000, 42);
    return 0;
}

static int teardown_world(void **state)
{
    (void)state;
    free(W.big);
    return 0;
}

static void test_powercut_put(void **state)
{
    (void)state;
    step_fn steps[] = {step_put_new1};
    campaign_result r = campaign("power cut during PUT", NULL, 0, steps, 1, HAL_HOST_FAULT_CUT);
    assert_true(r.points > 20);
}

static void test_powercut_delete(void **state)
{
    (void)state;
    step_fn steps[] = {step_delete_old1};
    campaign_result r = campaign("power cut during DELETE", NULL, 1, steps, 1, HAL_HOST_FAULT_CUT);
    assert_true(r.points > 10);
}

static step_fn sequence[] = {step_put_new1, step_mark_old1, step_delete_old1, step_enroll_k5,
                             step_put_new2};

static void test_powercut_sequence(void **state)
{
    (void)state;
    campaign_result r = campaign("power cut during PUT,MARK,DELETE,ENROLL,PUT", NULL, 0, sequence,
                                 5, HAL_HOST_FAULT_CUT);
    assert_true(r.points > 60);
}

static void test_flash_failure_sequence(void **state)
{
    (void)state;
    campaign("flash failure (power kept) during the sequence", NULL, 0, sequence, 5,
             HAL_HOST_FAULT_FAIL);
}

/* Small pages and blocks: the metadata areas span several blocks, files many blocks. */
static void test_powercut_small_geometry(void **state)
{
    (void)state;
    hal_host_config cfg;
    hal_host_config_default(&cfg);
    cfg.page_size = 64;
    cfg.block_size = 1024;
    cfg.block_count = 256;
    campaign("power cut, 64 B pages / 1 KiB blocks", &cfg, 0, sequence, 5, HAL_HOST_FAULT_CUT);
}

/* Big pages and blocks (QSPI NOR with 64 KiB sectors): one block per area, 16 records. */
static void test_powercut_large_geometry(void **state)
{
    (void)state;
    hal_host_config cfg;
    hal_host_config_default(&cfg);
    cfg.page_size = 4096;
    cfg.block_size = 65536;
    cfg.block_count = 8;
    campaign("power cut, 4 KiB pages / 64 KiB blocks", &cfg, 0, sequence, 5, HAL_HOST_FAULT_CUT);
}

/* Many commits in one session and across sessions: the metadata areas rotate many times and
 * the state stays right. */
static void test_many_commits_rotate_areas(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_provision(f, &W.auth, &W.app);
    char name[16];
    for (int i = 0; i < 60; i++) {
        if (i > 0 && (i - 1) % 4 != 0) { /* keep every 4th file, delete the others later */
            snprintf(name, sizeof name, "r%d", i - 1);
            assert_int_equal(fwt_name_cmd(f, PROTO_CMD_DELETE, name), PROTO_OK);
        }
        snprintf(name, sizeof name, "r%d", i);
        assert_int_equal(fwt_put(f, &W.app, name, PROTO_CLASS_DRILL, W.big + i, 300 + 97 * i, ""),
                         PROTO_OK);
        assert_int_equal(fwt_name_cmd(f, PROTO_CMD_MARK_COLLECTED, name), PROTO_OK);
        if (i % 7 == 0) {
            fwt_reboot(f);
            fwt_hello(f);
        }
    }
    assert_int_equal(fwt_req(f, PROTO_CMD_LIST, NULL, 0), PROTO_OK);
    assert_int_equal(f->rsp_payload[8], 15 + 1); /* r0, r4, ... r56 and the last one, r59 */
    static uint8_t back[300 + 97 * 60];
    for (int i = 0; i < 60; i += 4) {
        snprintf(name, sizeof name, "r%d", i);
        assert_int_equal(fwt_get_all(f, name, back, sizeof back), 300 + 97 * i);
        assert_memory_equal(back, W.big + i, (size_t)(300 + 97 * i));
    }
    assert_true(fwt_counter(f) == 60);
    assert_int_equal(hal_host_flash_violations(f->dev), 0);
    fwt_free(f);
}

/* Bit rot in the newest snapshot (not a power cut: the store cannot prevent this, see
 * README "not protected"): the token mounts the newest intact one and keeps working. */
static void test_corrupt_newest_snapshot(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    fwt_provision(f, &W.auth, &W.app);
    assert_int_equal(fwt_put(f, &W.app, "a", PROTO_CLASS_DRILL, W.big, 100, ""), PROTO_OK);
    /* the metadata areas are blocks 0-3 and 4-7; find the newest record and flip a byte */
    size_t len;
    uint8_t *fl = hal_host_flash_bytes(f->dev, &len);
    uint64_t best = 0;
    size_t at = 0;
    for (size_t off = 0; off < 8 * 4096; off += 4096) {
        if (memcmp(fl + off, "RLTS", 4) == 0 && proto_load64(fl + off + 8) >= best) {
            best = proto_load64(fl + off + 8);
            at = off;
        }
    }
    assert_true(best > 0);
    fl[at + 100] &= 0x7F; /* 1 -> 0 only, like a failing cell */
    fl[at + 101] &= 0x00;
    fwt_reboot(f);
    fwt_hello(f);
    assert_int_equal(token_get_state(f->t), TOKEN_IDLE);
    assert_true(fwt_counter(f) == 0); /* the previous state: file "a" not committed */
    assert_int_equal(fwt_put(f, &W.app, "b", PROTO_CLASS_DRILL, W.big + 1, 100, ""), PROTO_OK);
    fwt_reboot(f);
    fwt_hello(f);
    assert_true(fwt_counter(f) == 1);
    assert_int_equal(hal_host_flash_violations(f->dev), 0);
    fwt_free(f);
}

/* A flash full of garbage (or a foreign image) mounts as an empty token and is usable. */
static void test_garbage_flash(void **state)
{
    (void)state;
    fwt *f = fwt_new();
    size_t len;
    uint8_t *fl = hal_host_flash_bytes(f->dev, &len);
    uint8_t *g = fwt_file(len, 99);
    memcpy(fl, g, len);
    free(g);
    /* a plausible magic in some records too */
    for (size_t off = 0; off < 8 * 4096; off += 4096)
        memcpy(fl + off, "RLTS\x01\x00", 6);
    /* the programmed-state of the fake does not know about this; mark by save/load */
    char path[] = "/tmp/fwflash-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(hal_host_flash_save(f->dev, path), 0);
    assert_int_equal(hal_host_flash_load(f->dev, path), 0);
    unlink(path);
    fwt_reboot(f);
    fwt_provision(f, &W.auth, &W.app);
    assert_int_equal(fwt_put(f, &W.app, "a", PROTO_CLASS_DRILL, W.big, 20000, ""),
                     PROTO_OK);
    fwt_reboot(f);
    fwt_hello(f);
    assert_true(fwt_counter(f) == 1);
    assert_int_equal(hal_host_flash_violations(f->dev), 0);
    fwt_free(f);
}

static void test_bad_geometry_is_fault(void **state)
{
    (void)state;
    hal_host_config cfg;
    hal_host_config_default(&cfg);
    cfg.block_count = 8; /* only the metadata areas, no data block */
    fwt *f = fwt_new_cfg(&cfg);
    assert_int_equal(token_get_state(f->t), TOKEN_FAULT);
    assert_int_equal(hal_host_led(f->dev), HAL_LED_ERROR);
    f->seq = 1;
    assert_int_equal(fwt_req_seq(f, PROTO_CMD_HELLO, 1, NULL, 0), PROTO_E_FAULT);
    assert_int_equal(fwt_req(f, PROTO_CMD_INFO, NULL, 0), PROTO_OK); /* INFO still answers */
    assert_int_equal(fwt_req(f, PROTO_CMD_LIST, NULL, 0), PROTO_E_FAULT);
    fwt_free(f);
}

static void test_file_backed_flash(void **state)
{
    (void)state;
    char path[] = "/tmp/fwflash-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fwt *f = fwt_new();
    fwt_provision(f, &W.auth, &W.app);
    assert_int_equal(fwt_put(f, &W.app, "keep.xml", PROTO_CLASS_DRILL, W.big, 5000, ""), PROTO_OK);
    assert_int_equal(hal_host_flash_save(f->dev, path), 0);
    fwt_free(f);
    f = fwt_new();
    assert_int_equal(hal_host_flash_load(f->dev, path), 0);
    fwt_reboot(f);
    fwt_hello(f);
    static uint8_t back[5000];
    assert_int_equal(fwt_get_all(f, "keep.xml", back, sizeof back), 5000);
    assert_memory_equal(back, W.big, 5000);
    assert_int_equal(fwt_put(f, &W.app, "more", PROTO_CLASS_DRILL, W.big + 3, 100, ""), PROTO_OK);
    assert_int_equal(hal_host_flash_violations(f->dev), 0);
    fwt_free(f);
    unlink(path);
}

/* The fake itself: it must refuse what real NOR flash would not do. */
static void test_flash_fake_semantics(void **state)
{
    (void)state;
    hal_dev *d = hal_host_create(NULL);
    uint8_t page[256], rd[256];
    memset(page, 0x0F, sizeof page);
    assert_int_equal(hal_flash_program(d, 0, page, 256), HAL_OK);
    assert_int_equal(hal_flash_program(d, 0, page, 256), HAL_EINVAL); /* twice without erase */
    assert_int_equal(hal_flash_program(d, 1, page, 256), HAL_EINVAL);  /* misaligned */
    assert_int_equal(hal_flash_program(d, 256, page, 100), HAL_EINVAL); /* partial page */
    assert_int_equal(hal_flash_program(d, 64 * 4096, page, 256), HAL_EINVAL); /* out of range */
    assert_int_equal(hal_flash_erase(d, 64), HAL_EINVAL);
    assert_true(hal_host_flash_violations(d) == 5);
    hal_host_destroy(d);

    hal_host_config cfg;
    hal_host_config_default(&cfg);
    cfg.program_once = 0; /* plain NOR: a second program may only clear bits */
    d = hal_host_create(&cfg);
    assert_int_equal(hal_flash_program(d, 0, page, 256), HAL_OK);
    memset(page, 0x07, sizeof page);
    assert_int_equal(hal_flash_program(d, 0, page, 256), HAL_OK);
    memset(page, 0xF0, sizeof page);
    assert_int_equal(hal_flash_program(d, 0, page, 256), HAL_EINVAL); /* 0 -> 1 */
    assert_int_equal(hal_flash_read(d, 0, rd, 256), HAL_OK);
    assert_int_equal(rd[0], 0x07);
    /* torn program and power loss */
    assert_int_equal(hal_flash_erase(d, 0), HAL_OK);
    memset(page, 0x00, sizeof page);
    hal_host_flash_fault(d, 0, HAL_HOST_FAULT_CUT);
    assert_int_equal(hal_flash_program(d, 0, page, 256), HAL_EPOWER);
    assert_int_equal(hal_flash_read(d, 0, rd, 256), HAL_EPOWER);
    hal_host_power_cycle(d);
    assert_int_equal(hal_flash_read(d, 0, rd, 256), HAL_OK);
    assert_int_equal(rd[0], 0x00);
    assert_int_equal(rd[255], 0xFF);
    /* torn erase: must be erased again before programming */
    hal_host_flash_fault(d, 0, HAL_HOST_FAULT_FAIL);
    assert_int_equal(hal_flash_erase(d, 0), HAL_EIO);
    assert_false(hal_host_power_lost(d));
    hal_host_destroy(d);
    d = hal_host_create(NULL);
    hal_host_flash_fault(d, 0, HAL_HOST_FAULT_FAIL);
    assert_int_equal(hal_flash_erase(d, 1), HAL_EIO);
    memset(page, 0x55, sizeof page);
    assert_int_equal(hal_flash_program(d, 4096, page, 256), HAL_EINVAL);
    hal_host_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flash_fake_semantics),
        cmocka_unit_test(test_powercut_put),
        cmocka_unit_test(test_powercut_delete),
        cmocka_unit_test(test_powercut_sequence),
        cmocka_unit_test(test_flash_failure_sequence),
        cmocka_unit_test(test_powercut_small_geometry),
        cmocka_unit_test(test_powercut_large_geometry),
        cmocka_unit_test(test_many_commits_rotate_areas),
        cmocka_unit_test(test_corrupt_newest_snapshot),
        cmocka_unit_test(test_garbage_flash),
        cmocka_unit_test(test_bad_geometry_is_fault),
        cmocka_unit_test(test_file_backed_flash),
    };
    return cmocka_run_group_tests(tests, setup_world, teardown_world);
}
