/* Unit tests for app/journal/journal.c: the restore journal's checks without a vault.
 *
 * A small journal is built here line by line (seq and prev as the format says), then every
 * kind of damage must be refused with RL_EINTEGRITY naming the first bad line: a line
 * removed, swapped, duplicated or edited, a file cut short, bad JSON, a header out of place,
 * an unknown kind, a missing field. The signed file is checked with a key made here, and
 * the prefix comparison of two exports. */
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
#include "journal/journal.h"
#include "sig/minisig.h"

/* The middle of each line: everything between seq and prev. */
static const char *const bodies[] = {
    "\"id\":\"header\",\"kind\":\"header\",\"format\":\"reservlon-journal\",\"version\":1,"
    "\"vault_id\":\"00112233445566778899aabbccddeeff\",\"snapshot_source\":\"HR\","
    "\"snapshot_export_time\":\"2026-11-20T22:00:00Z\",\"snapshot_manifest_sha256\":\"ab\","
    "\"snapshot_imported_at\":\"2026-11-21T06:00:00Z\"",
    "\"id\":\"u1\",\"kind\":\"registration\",\"type\":\"hire\",\"personnummer\":\"199003151231\","
    "\"employment_id\":\"R-1\",\"effective_date\":\"2026-12-01\",\"end_date\":null,"
    "\"fields\":{\"start_date\":\"2026-12-01\",\"given_name\":\"\\u00c5sa\"},\"corrects\":null,"
    "\"content_hash\":\"cd\",\"author\":\"bob\",\"recorded_at\":\"2026-11-24T10:00:00Z\","
    "\"vault_seq\":1",
    "\"id\":\"u2\",\"kind\":\"registration\",\"type\":\"leave\",\"personnummer\":\"198001011234\","
    "\"employment_id\":\"E1\",\"effective_date\":\"2026-12-02\",\"end_date\":\"2026-12-06\","
    "\"fields\":{},\"corrects\":null,\"content_hash\":\"ef\",\"author\":\"bob\","
    "\"recorded_at\":\"2026-11-24T10:01:00Z\",\"vault_seq\":2",
    "\"id\":\"u1/decision\",\"kind\":\"decision\",\"registration\":\"u1\",\"decision\":\"approved\","
    "\"decided_by\":\"carol\",\"decided_at\":\"2026-11-24T11:00:00Z\",\"reason\":null",
    "\"id\":\"u2/decision\",\"kind\":\"decision\",\"registration\":\"u2\",\"decision\":\"rejected\","
    "\"decided_by\":\"carol\",\"decided_at\":\"2026-11-24T11:01:00Z\",\"reason\":\"twice\"",
    "\"id\":\"RL1\",\"kind\":\"payfile\",\"msg_id\":\"RL1\",\"payrun\":1,\"format\":\"pain.001.001.03\","
    "\"profile\":\"seb\",\"count\":3,\"total_ore\":100,\"left_out\":0,\"left_out_ore\":0,"
    "\"exec_date\":\"2026-12-25\",\"sha256\":\"00\",\"key_id\":\"01\",\"written_by\":\"carol\","
    "\"cosigned_by\":\"dave\",\"written_at\":\"2026-11-25T10:00:00Z\",\"drill\":false",
};
#define NB (sizeof bodies / sizeof bodies[0])

typedef struct {
    char text[8192];
    size_t len;
    size_t start[NB + 1]; /* offset of each line; start[NB] = len */
} jbuf;

/* Builds a journal of the first n bodies (in the given order of indexes). */
static void build(jbuf *j, const size_t *order, size_t n)
{
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    j->len = 0;
    for (size_t i = 0; i < n; i++) {
        j->start[i] = j->len;
        int w = snprintf(j->text + j->len, sizeof j->text - j->len,
                         "{\"seq\":%zu,%s,\"prev\":\"%s\"}\n", i + 1, bodies[order[i]], prev);
        assert_true(w > 0 && (size_t)w < sizeof j->text - j->len);
        journal_line_hash(j->text + j->len, (size_t)w - 1, prev);
        j->len += (size_t)w;
    }
    j->start[n] = j->len;
}

static void build_all(jbuf *j)
{
    size_t order[NB];
    for (size_t i = 0; i < NB; i++)
        order[i] = i;
    build(j, order, NB);
}

static void expect_bad(const char *data, size_t len, const char *msg)
{
    journal_info info;
    assert_int_equal(journal_check(data, len, &info), RL_EINTEGRITY);
    if (strstr(err_msg(), msg) == NULL)
        fail_msg("expected '%s' in '%s'", msg, err_msg());
}

static void test_good(void **state)
{
    (void)state;
    jbuf j;
    build_all(&j);
    journal_info info;
    assert_int_equal(journal_check(j.text, j.len, &info), RL_OK);
    assert_int_equal(info.lines, NB);
    assert_int_equal(info.count[JOURNAL_REGISTRATION], 2);
    assert_int_equal(info.count[JOURNAL_DECISION], 2);
    assert_int_equal(info.count[JOURNAL_PAYFILE], 1);
    assert_string_equal(info.vault_id, "00112233445566778899aabbccddeeff");
    char h[65];
    journal_line_hash(j.text + j.start[NB - 1], j.start[NB] - j.start[NB - 1] - 1, h);
    assert_string_equal(info.last, h);
}

static void test_removed_swapped_duplicated(void **state)
{
    (void)state;
    jbuf j;
    build_all(&j);
    char t[8192];
    /* Line 3 removed. */
    size_t a = j.start[2], b = j.start[3];
    memcpy(t, j.text, a);
    memcpy(t + a, j.text + b, j.len - b);
    expect_bad(t, j.len - (b - a), "line 3: seq is 4, expected 3 (a line was removed or moved)");
    /* Lines 3 and 4 swapped. */
    size_t c = j.start[4];
    memcpy(t, j.text, a);
    memcpy(t + a, j.text + b, c - b);
    memcpy(t + a + (c - b), j.text + a, b - a);
    memcpy(t + c, j.text + c, j.len - c);
    expect_bad(t, j.len, "line 3: seq is 4");
    /* Line 2 duplicated. */
    size_t l2 = j.start[2] - j.start[1];
    memcpy(t, j.text, j.start[2]);
    memcpy(t + j.start[2], j.text + j.start[1], l2);
    memcpy(t + j.start[2] + l2, j.text + j.start[2], j.len - j.start[2]);
    expect_bad(t, j.len + l2, "line 3: seq is 2, expected 3 (a line was duplicated or moved)");
    /* Lines renumbered after a removal still break the chain. */
    size_t order[] = {0, 1, 3, 4, 5};
    jbuf k;
    build(&k, order, 5);
    memcpy(t, k.text, k.len);
    /* re-chain only line 3 (new seq), keep its old prev: the prev check names it */
    char *p = strstr(t + k.start[2], "\"prev\":\"") + 8;
    memcpy(p, strstr(j.text + j.start[3], "\"prev\":\"") + 8, 64);
    expect_bad(t, k.len, "line 3: prev does not match line 2 (a line was removed, reordered or "
                         "edited)");
}

static void test_edited(void **state)
{
    (void)state;
    jbuf j;
    build_all(&j);
    char t[8192];
    memcpy(t, j.text, j.len);
    char *p = strstr(t + j.start[1], "bob");
    p[0] = 'B';
    expect_bad(t, j.len, "line 3: prev does not match line 2");
    /* The last line edited: the chain cannot tell (nothing follows), the hash changes. */
    memcpy(t, j.text, j.len);
    p = strstr(t + j.start[NB - 1], "carol");
    p[0] = 'C';
    journal_info a, b;
    assert_int_equal(journal_check(j.text, j.len, &a), RL_OK);
    assert_int_equal(journal_check(t, j.len, &b), RL_OK);
    assert_string_not_equal(a.last, b.last);
}

static void test_structure(void **state)
{
    (void)state;
    jbuf j;
    build_all(&j);
    expect_bad(j.text, j.len - 1, "line 6: no newline at its end");
    expect_bad(j.text, j.start[2] + 10, "line 3: no newline at its end");
    expect_bad("", 0, "line 1: the journal is empty");
    char t[8192];
    memcpy(t, j.text, j.len);
    t[j.start[1]] = '[';
    expect_bad(t, j.len, "line 2: not valid JSON");
    /* Built lines whose content is wrong, chain intact. */
    size_t order[] = {1, 0};
    jbuf k;
    build(&k, order, 2);
    expect_bad(k.text, k.len, "line 1: the first line must be the header");
    size_t order2[] = {0, 0};
    build(&k, order2, 2);
    expect_bad(k.text, k.len, "line 2: a header after line 1");
}

/* A line made from a body with one change, chained after the header. */
static void expect_bad_body(const char *body, const char *msg)
{
    char prev[65], t[4096];
    memset(prev, '0', 64);
    prev[64] = '\0';
    int w = snprintf(t, sizeof t, "{\"seq\":1,%s,\"prev\":\"%s\"}\n", bodies[0], prev);
    journal_line_hash(t, (size_t)w - 1, prev);
    int w2 = snprintf(t + w, sizeof t - (size_t)w, "{\"seq\":2,%s,\"prev\":\"%s\"}\n", body, prev);
    expect_bad(t, (size_t)(w + w2), msg);
}

static void test_fields(void **state)
{
    (void)state;
    expect_bad_body("\"id\":\"x\",\"kind\":\"bonus\"", "line 2: kind is missing or unknown");
    expect_bad_body("\"kind\":\"decision\"", "line 2: id is missing or empty");
    expect_bad_body("\"id\":\"u/decision\",\"kind\":\"decision\",\"registration\":\"u\","
                    "\"decision\":\"approved\",\"decided_at\":\"t\",\"reason\":null",
                    "line 2: decision u/decision: decided_by is missing or not a string");
    expect_bad_body("\"id\":\"u/decision\",\"kind\":\"decision\",\"registration\":\"u\","
                    "\"decision\":\"maybe\",\"decided_by\":\"c\",\"decided_at\":\"t\","
                    "\"reason\":null",
                    "line 2: decision must be approved or rejected");
    expect_bad_body("\"id\":\"RL\",\"kind\":\"payfile\",\"msg_id\":\"RL\",\"payrun\":\"1\"",
                    "line 2: payfile RL: payrun is missing or not an integer");
}

static void test_signed_file_and_diff(void **state)
{
    (void)state;
    char dir[] = "/tmp/rl-journal-test.XXXXXX", path[128], sig_path[160], old_path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/j.jsonl", dir);
    snprintf(sig_path, sizeof sig_path, "%s.minisig", path);
    snprintf(old_path, sizeof old_path, "%s/old.jsonl", dir);
    uint8_t pk_raw[32], sk_raw[64], id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    crypto_sign_keypair(pk_raw, sk_raw);
    minisig_seckey *sk = NULL;
    assert_int_equal(minisig_seckey_from_raw(sk_raw, id, &sk), RL_OK);
    minisig_pubkey pk;
    minisig_seckey_pubkey(sk, &pk);
    jbuf j;
    build_all(&j);
    journal_info info;
    assert_int_equal(journal_check(j.text, j.len, &info), RL_OK);
    char tc[300], sig[MINISIG_SIG_TEXT_MAX];
    assert_int_equal(file_write_atomic(path, j.text, j.len, 0600), RL_OK);
    /* No signature file: an integrity failure. */
    assert_int_equal(journal_verify_file(path, &pk, &info), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "no usable signature"));
    assert_int_equal(journal_check(j.text, j.len, &info), RL_OK);
    snprintf(tc, sizeof tc, "reservlon journal lines=%zu last=%s exported=x by=a+b key=0102",
             NB, info.last);
    assert_int_equal(minisig_sign(sk, (const uint8_t *)j.text, j.len, tc, sig, sizeof sig), RL_OK);
    assert_int_equal(file_write_atomic(sig_path, sig, strlen(sig), 0600), RL_OK);
    if (journal_verify_file(path, &pk, &info) != RL_OK)
        fail_msg("%s", err_msg());
    assert_int_equal(info.lines, NB);
    assert_string_equal(info.by, "a+b");
    /* Signed, but the comment counts another number of lines: the end was cut off. */
    snprintf(tc, sizeof tc, "reservlon journal lines=%zu last=%s exported=x by=a+b key=0102",
             NB + 1, info.last);
    assert_int_equal(minisig_sign(sk, (const uint8_t *)j.text, j.len, tc, sig, sizeof sig), RL_OK);
    assert_int_equal(file_write_atomic(sig_path, sig, strlen(sig), 0600), RL_OK);
    assert_int_equal(journal_verify_file(path, &pk, &info), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "says lines=7 but the file has 6 lines"));
    /* A changed file under the old signature: the signature fails, and the line is named. */
    char t[8192];
    memcpy(t, j.text, j.len);
    *strstr(t + j.start[1], "bob") = 'B';
    assert_int_equal(file_write_atomic(path, t, j.len, 0600), RL_OK);
    assert_int_equal(journal_verify_file(path, &pk, &info), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "line 3: prev does not match line 2"));

    /* diff: the first four lines are a prefix of all six; an edited copy is not. */
    assert_int_equal(file_write_atomic(path, j.text, j.len, 0600), RL_OK);
    assert_int_equal(file_write_atomic(old_path, j.text, j.start[4], 0600), RL_OK);
    journal_diff_info d;
    assert_int_equal(journal_diff(old_path, path, &d), RL_OK);
    assert_int_equal(d.old_lines, 4);
    assert_int_equal(d.new_lines, 6);
    assert_int_equal(d.added[JOURNAL_DECISION], 1);
    assert_int_equal(d.added[JOURNAL_PAYFILE], 1);
    assert_int_equal(journal_diff(path, old_path, &d), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "line 5 is missing"));
    size_t order[] = {0, 2, 1};
    jbuf k;
    build(&k, order, 3);
    assert_int_equal(file_write_atomic(old_path, k.text, k.len, 0600), RL_OK);
    assert_int_equal(journal_diff(old_path, path, &d), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "line 2 differs"));

    minisig_seckey_free(sk);
    unlink(path);
    unlink(sig_path);
    unlink(old_path);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_removed_swapped_duplicated),
        cmocka_unit_test(test_edited),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_signed_file_and_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
