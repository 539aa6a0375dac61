/* End-to-end tests of app/token's commands against the emulated token running the real
 * firmware core: put (signed with keys/test/appliance-TEST.key through app/sig), list, stat,
 * get with read-back equality, mark collected, delete, enrolment, and every refusal the
 * appliance must surface with the right RL_E* code and an actionable message: unsigned,
 * wrongly signed, tampered file or comment, unenrolled key, replays, drill/production
 * mismatch, names, full token, delete before collected. Run under umockdev-wrapper. */
#include <unistd.h>

#include "tokfix.h"

static tf_keys *keys;

typedef struct {
    emu *e;
    emu_dev *d;
    usbtoken *t;
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

/* A provisioned token with the appliance TEST key enrolled, opened. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->e = emu_new();
    if (f->e == NULL)
        return -1;
    f->d = tf_plug(f->e, "RLTEST0001", 0, 0);
    f->t = tf_open("RLTEST0001");
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

/* Nothing was stored: no files, counter unchanged. */
static void expect_unchanged(usbtoken *t, size_t nfiles, uint64_t counter)
{
    usbtoken_entry files[PROTO_MAX_FILES];
    uint64_t c = 99;
    assert_int_equal(tf_list(t, files, &c), nfiles);
    assert_int_equal(c, counter);
}

static void test_put_list_get(void **state)
{
    fixture *f = *state;
    usbtoken_receipt r;
    usbtoken_entry files[PROTO_MAX_FILES];
    usbtoken_filestat st;
    usbtoken_info info;
    uint8_t hash[64];
    uint64_t counter = 0;
    const size_t n = 10000;
    uint8_t *data = tf_data(n, 7);

    tf_ok(tf_put(f->t, keys->app, "pay-drill.xml", USBTOKEN_DRILL, data, n,
                 "mode=drill file=pay-drill.xml", &r));
    assert_int_equal(r.counter, 1);
    crypto_generichash(hash, sizeof hash, data, n, NULL, 0);
    assert_memory_equal(r.hash_id, hash, PROTO_HASH_ID_LEN);

    assert_int_equal(tf_list(f->t, files, &counter), 1);
    assert_int_equal(counter, 1);
    assert_string_equal(files[0].name, "pay-drill.xml");
    assert_int_equal(files[0].size, n);
    assert_int_equal(files[0].counter, 1);
    assert_int_equal(files[0].flags, PROTO_FILE_DRILL);
    assert_memory_equal(files[0].hash_id, hash, PROTO_HASH_ID_LEN);

    tf_ok(usbtoken_stat(f->t, "pay-drill.xml", &st));
    assert_string_equal(st.tc, "mode=drill file=pay-drill.xml");
    assert_memory_equal(st.key_id, keys->app_pub.key_id, 8);
    assert_memory_equal(st.prehash, hash, 64);
    tf_check_get(f->t, "pay-drill.xml", data, n);

    /* A production file: seq= is required and recorded per key. */
    uint8_t *prod = tf_data(3000, 8);
    tf_ok(tf_put(f->t, keys->app, "pay-2025-03.xml", USBTOKEN_PRODUCTION, prod, 3000,
                 "mode=production seq=1 file=pay-2025-03.xml", &r));
    assert_int_equal(r.counter, 2);
    assert_int_equal(tf_list(f->t, files, &counter), 2);
    assert_int_equal(files[1].flags, PROTO_FILE_PRODUCTION);
    tf_ok(usbtoken_get_info(f->t, &info));
    assert_int_equal(info.counter, 2);
    assert_int_equal(info.nfiles, 2);
    assert_int_equal(info.keys[0].last_seq, 1);
    tf_check_get(f->t, "pay-2025-03.xml", prod, 3000);
    free(prod);
    free(data);
}

/* get_file writes the file and its signature as stored on the token; the standard check on
 * the receiving side (minisign -V, here app/sig) accepts it. */
static void test_get_file_verifies(void **state)
{
    fixture *f = *state;
    char dir[256], path[512], tc[600];
    const size_t n = 6000;
    uint8_t *data = tf_data(n, 9);
    snprintf(dir, sizeof dir, "%s/rl-tok.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/pay.xml", dir);
    tf_ok(tf_put(f->t, keys->app, "pay.xml", USBTOKEN_PRODUCTION, data, n,
                 "mode=production seq=42 file=pay.xml", NULL));
    tf_ok(usbtoken_get_file(f->t, "pay.xml", path));
    tf_ok(minisig_verify_file(&keys->app_pub, path, tc, sizeof tc));
    assert_string_equal(tc, "mode=production seq=42 file=pay.xml");
    /* And put_file takes such a pair back (here onto a name the signature does not bind). */
    tf_expect(usbtoken_put_file(f->t, path, "again.xml", USBTOKEN_PRODUCTION, NULL),
              RL_EDATA, "E_NAME");
    snprintf(tc, sizeof tc, "%s.minisig", path);
    unlink(tc);
    tf_expect(usbtoken_put_file(f->t, path, "again.xml", USBTOKEN_PRODUCTION, NULL),
              RL_EINTEGRITY, "no usable signature file");
    unlink(path);
    rmdir(dir);
    free(data);
}

/* Frames that end exactly on a packet boundary (the ZLP rule) both ways, empty and
 * multi-chunk files, at full and high speed. */
static void test_packet_boundaries(void **state)
{
    fixture *f = *state;
    /* PUT_DATA frame = n + 24 bytes, GET answer = n + 20, chunks of 4096. */
    const size_t sizes[] = {0, 1, 40, 44, 488, 492, 4096, 4097, 4096 + 40, 3 * 4096 + 44};
    char name[32], tc[64];
    emu_dev *hs = tf_plug(f->e, "RLTEST0512", 512, 0);
    usbtoken *t512 = tf_open("RLTEST0512");
    (void)hs;
    tf_provision(t512, keys);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *data = tf_data(sizes[i], (uint32_t)i + 100);
        snprintf(name, sizeof name, "f%zu.bin", i);
        snprintf(tc, sizeof tc, "mode=drill file=%s", name);
        tf_ok(tf_put(f->t, keys->app, name, USBTOKEN_DRILL, data, sizes[i], tc, NULL));
        tf_check_get(f->t, name, data, sizes[i]);
        tf_ok(tf_put(t512, keys->app, name, USBTOKEN_DRILL, data, sizes[i], tc, NULL));
        tf_check_get(t512, name, data, sizes[i]);
        free(data);
    }
    usbtoken_stats st;
    usbtoken_get_stats(f->t, &st);
    assert_int_equal(st.resends, 0);
    assert_int_equal(st.bad_frames, 0);
    usbtoken_close(t512);
}

static void test_unsigned_refused(void **state)
{
    fixture *f = *state;
    uint8_t *data = tf_data(2000, 1);
    const char *junk = "untrusted comment: x\nnot base64\ntrusted comment: mode=drill\nxx\n";
    tf_expect(usbtoken_put(f->t, "a.xml", USBTOKEN_DRILL, data, 2000, NULL, 0, NULL),
              RL_EINTEGRITY, "no signature");
    tf_expect(usbtoken_put(f->t, "a.xml", USBTOKEN_DRILL, data, 2000, junk, strlen(junk), NULL),
              RL_EINTEGRITY, "not a minisign signature");
    /* A well-formed signature of other data: the token refuses it. */
    char sig[MINISIG_SIG_TEXT_MAX];
    uint8_t *other = tf_data(2000, 2);
    tf_sign(keys->app, other, 2000, "mode=drill", sig);
    tf_expect(usbtoken_put(f->t, "a.xml", USBTOKEN_DRILL, data, 2000, sig, strlen(sig), NULL),
              RL_EINTEGRITY, "E_SIGNATURE");
    expect_unchanged(f->t, 0, 0);
    free(other);
    free(data);
}

static void test_tampered_refused(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX];
    const size_t n = 9000;
    uint8_t *data = tf_data(n, 3);
    tf_sign(keys->app, data, n, "mode=production seq=7 file=p.xml", sig);
    /* One byte of the file changed after signing. */
    data[n / 3] ^= 0x01;
    tf_expect(usbtoken_put(f->t, "p.xml", USBTOKEN_PRODUCTION, data, n, sig, strlen(sig), NULL),
              RL_EINTEGRITY, "E_SIGNATURE");
    data[n / 3] ^= 0x01;
    /* The trusted comment changed (an older seq claimed): the global signature breaks. */
    char *seq = strstr(sig, "seq=7");
    assert_non_null(seq);
    seq[4] = '9';
    tf_expect(usbtoken_put(f->t, "p.xml", USBTOKEN_PRODUCTION, data, n, sig, strlen(sig), NULL),
              RL_EINTEGRITY, "E_SIGNATURE");
    assert_non_null(strstr(err_msg(), "altered"));
    seq[4] = '7';
    /* Untouched, it goes through. */
    tf_ok(usbtoken_put(f->t, "p.xml", USBTOKEN_PRODUCTION, data, n, sig, strlen(sig), NULL));
    expect_unchanged(f->t, 1, 1);
    free(data);
}

static void test_wrong_key_refused(void **state)
{
    fixture *f = *state;
    uint8_t *data = tf_data(1500, 4);
    tf_expect(tf_put(f->t, keys->other, "w.xml", USBTOKEN_DRILL, data, 1500, "mode=drill", NULL),
              RL_EINTEGRITY, "E_KEY");
    assert_non_null(strstr(err_msg(), "not enrolled"));
    expect_unchanged(f->t, 0, 0);
    free(data);
}

static void test_replay_refused(void **state)
{
    fixture *f = *state;
    char sig[MINISIG_SIG_TEXT_MAX];
    uint8_t *a = tf_data(2500, 10), *b = tf_data(2500, 11), *c = tf_data(2500, 12);
    tf_sign(keys->app, a, 2500, "mode=production seq=5", sig);
    tf_ok(usbtoken_put(f->t, "a.xml", USBTOKEN_PRODUCTION, a, 2500, sig, strlen(sig), NULL));
    /* The same signed file again, under another name. */
    tf_expect(usbtoken_put(f->t, "a2.xml", USBTOKEN_PRODUCTION, a, 2500, sig, strlen(sig), NULL),
              RL_EINTEGRITY, "E_REPLAY");
    /* Another file claiming the same or an older seq. */
    tf_expect(tf_put(f->t, keys->app, "b.xml", USBTOKEN_PRODUCTION, b, 2500,
                     "mode=production seq=5", NULL),
              RL_EINTEGRITY, "E_REPLAY");
    tf_expect(tf_put(f->t, keys->app, "b.xml", USBTOKEN_PRODUCTION, b, 2500,
                     "mode=production seq=4", NULL),
              RL_EINTEGRITY, "E_REPLAY");
    /* Collected and deleted, it still cannot come back. */
    tf_ok(usbtoken_mark_collected(f->t, "a.xml"));
    tf_ok(usbtoken_delete(f->t, "a.xml"));
    tf_expect(usbtoken_put(f->t, "a.xml", USBTOKEN_PRODUCTION, a, 2500, sig, strlen(sig), NULL),
              RL_EINTEGRITY, "E_REPLAY");
    tf_ok(tf_put(f->t, keys->app, "c.xml", USBTOKEN_PRODUCTION, c, 2500,
                 "mode=production seq=6", NULL));
    expect_unchanged(f->t, 1, 2);
    free(a);
    free(b);
    free(c);
}

static void test_delete_needs_collected(void **state)
{
    fixture *f = *state;
    usbtoken_entry files[PROTO_MAX_FILES];
    uint64_t counter;
    uint8_t *data = tf_data(1000, 5);
    tf_ok(tf_put(f->t, keys->app, "d.xml", USBTOKEN_DRILL, data, 1000, "mode=drill", NULL));
    tf_expect(usbtoken_delete(f->t, "d.xml"), RL_EDATA, "E_NOT_COLLECTED");
    assert_non_null(strstr(err_msg(), "mark it collected first"));
    expect_unchanged(f->t, 1, 1);
    tf_ok(usbtoken_mark_collected(f->t, "d.xml"));
    tf_ok(usbtoken_mark_collected(f->t, "d.xml")); /* idempotent */
    assert_int_equal(tf_list(f->t, files, &counter), 1);
    assert_int_equal(files[0].flags, PROTO_FILE_DRILL | PROTO_FILE_COLLECTED);
    tf_ok(usbtoken_delete(f->t, "d.xml"));
    expect_unchanged(f->t, 0, 1); /* the counter never goes back */
    tf_expect(usbtoken_delete(f->t, "d.xml"), RL_EDATA, "E_NOT_FOUND");
    tf_expect(usbtoken_mark_collected(f->t, "nope.xml"), RL_EDATA, "E_NOT_FOUND");
    uint8_t *back = NULL;
    size_t blen = 0;
    tf_expect(usbtoken_get(f->t, "d.xml", &back, &blen, NULL), RL_EDATA, "no such file");
    assert_null(back);
    free(data);
}

static void test_class_mismatch_refused(void **state)
{
    fixture *f = *state;
    uint8_t *data = tf_data(1200, 6);
    tf_expect(tf_put(f->t, keys->app, "x.xml", USBTOKEN_PRODUCTION, data, 1200,
                     "mode=drill seq=3", NULL),
              RL_EINTEGRITY, "E_CLASS");
    tf_expect(tf_put(f->t, keys->app, "x.xml", USBTOKEN_DRILL, data, 1200,
                     "mode=production seq=3", NULL),
              RL_EINTEGRITY, "E_CLASS");
    /* No mode= means drill: it can never be production. */
    tf_expect(tf_put(f->t, keys->app, "x.xml", USBTOKEN_PRODUCTION, data, 1200, "seq=3", NULL),
              RL_EINTEGRITY, "E_CLASS");
    expect_unchanged(f->t, 0, 0);
    free(data);
}

static void test_names_and_comments(void **state)
{
    fixture *f = *state;
    emu_stats before, after;
    char longname[80], longtc[300];
    uint8_t *data = tf_data(800, 7);
    tf_ok(tf_put(f->t, keys->app, "n.xml", USBTOKEN_DRILL, data, 800, "mode=drill", NULL));
    uint8_t *other = tf_data(800, 8);
    tf_expect(tf_put(f->t, keys->app, "n.xml", USBTOKEN_DRILL, other, 800, "mode=drill", NULL),
              RL_EDATA, "E_EXISTS");
    /* The signed file= name binds the name. */
    tf_expect(tf_put(f->t, keys->app, "m.xml", USBTOKEN_DRILL, other, 800,
                     "mode=drill file=other.xml", NULL),
              RL_EDATA, "E_NAME");
    /* Production without seq=. */
    tf_expect(tf_put(f->t, keys->app, "m.xml", USBTOKEN_PRODUCTION, other, 800,
                     "mode=production", NULL),
              RL_EDATA, "E_MALFORMED");
    /* Refused before anything is sent: bad names, a comment longer than the token takes. */
    emu_get_stats(f->d, &before);
    memset(longname, 'a', 64);
    longname[64] = '\0';
    const char *bad[] = {"", ".hidden", "a/b.xml", "a b.xml", longname};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        tf_expect(tf_put(f->t, keys->app, bad[i], USBTOKEN_DRILL, other, 800, "mode=drill", NULL),
                  RL_EDATA, "cannot be used on the token");
    memset(longtc, 'x', 256);
    memcpy(longtc, "mode=drill ", 11);
    longtc[256] = '\0';
    tf_expect(tf_put(f->t, keys->app, "m.xml", USBTOKEN_DRILL, other, 800, longtc, NULL),
              RL_EDATA, "at most 255");
    emu_get_stats(f->d, &after);
    assert_int_equal(after.out_transfers, before.out_transfers);
    expect_unchanged(f->t, 1, 1);
    free(other);
    free(data);
}

static void test_token_full(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    tf_ok(usbtoken_get_info(f->t, &info));
    size_t big = (size_t)info.capacity + 1;
    uint8_t *data = tf_data(big, 9);
    tf_expect(tf_put(f->t, keys->app, "big.xml", USBTOKEN_DRILL, data, big, "mode=drill", NULL),
              RL_EDATA, "E_TOO_BIG");
    size_t half = info.capacity / 2 + 4096;
    tf_ok(tf_put(f->t, keys->app, "h1.xml", USBTOKEN_DRILL, data, half, "mode=drill", NULL));
    tf_expect(tf_put(f->t, keys->app, "h2.xml", USBTOKEN_DRILL, data + 1, half, "mode=drill",
                     NULL),
              RL_EDATA, "E_FULL");
    assert_non_null(strstr(err_msg(), "token is full"));
    expect_unchanged(f->t, 1, 1);
    free(data);
}

static void test_enroll_refusals(void **state)
{
    fixture *f = *state;
    usbtoken_info info;
    uint8_t st[PROTO_ST_SIZE];
    char sig[MINISIG_SIG_TEXT_MAX];
    minisig_pubkey other_pub;
    minisig_seckey_pubkey(keys->other, &other_pub);
    /* Not signed by the authority. */
    tf_expect(tf_enroll(f->t, keys->other, PROTO_ENROLL_ADD_APPLIANCE, &other_pub),
              RL_EINTEGRITY, "E_AUTHORITY");
    /* A statement used twice. */
    tf_ok(usbtoken_get_info(f->t, &info));
    tf_ok(usbtoken_statement_build(st, info.serial, info.epoch + 1, PROTO_ENROLL_ADD_APPLIANCE,
                                   other_pub.key_id, other_pub.pk));
    tf_sign(keys->auth, st, sizeof st, "statement", sig);
    uint32_t epoch = 0;
    unsigned nkeys = 0;
    tf_ok(usbtoken_enroll(f->t, st, sig, strlen(sig), &epoch, &nkeys));
    assert_int_equal(epoch, info.epoch + 1);
    assert_int_equal(nkeys, 2);
    tf_expect(usbtoken_enroll(f->t, st, sig, strlen(sig), NULL, NULL), RL_EINTEGRITY,
              "E_REPLAY");
    /* For another token. */
    tf_ok(usbtoken_statement_build(st, "RLTEST9999", info.epoch + 2,
                                   PROTO_ENROLL_REMOVE_APPLIANCE, other_pub.key_id, other_pub.pk));
    tf_sign(keys->auth, st, sizeof st, "statement", sig);
    tf_expect(usbtoken_enroll(f->t, st, sig, strlen(sig), NULL, NULL), RL_EINTEGRITY,
              "another token");
    /* The newly enrolled key now signs acceptable files. */
    uint8_t *data = tf_data(700, 10);
    tf_ok(tf_put(f->t, keys->other, "o.xml", USBTOKEN_DRILL, data, 700, "mode=drill", NULL));
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_list_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_file_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packet_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_needs_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_class_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_comments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
