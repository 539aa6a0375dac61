/* Unit tests for app/restore: the reference importer's edge cases on a hand-made snapshot
 * and hand-built, signed journals (the end-to-end test, tests/e2e/restore.sh, uses real
 * exports). A journal that passes every check of its file but breaks the format's rules
 * (a decision on an unknown or already decided document, a correction of another type, a
 * repeated id, a snapshot the main directory does not hold, a hire without a pay type) is
 * refused and changes nothing; init refuses a non-empty directory and a snapshot file that
 * does not match its manifest, leaving nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"
#include "journal/journal.h"
#include "restore/restore.h"
#include "sig/minisig.h"

static char dir[64];
static char manifest_sha[65];
static minisig_seckey *sk;
static minisig_pubkey pk;

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(file_write_atomic(p, text, strlen(text), 0600), RL_OK);
}

static void hex_sha(const char *text, char out[65])
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)text, strlen(text));
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* A snapshot of one person and one employment in dir/snap. */
static void make_snapshot(void)
{
    static const char *const names[] = {"org_units.csv", "employees.csv", "employments.csv",
                                        "last_payrun.csv", "tax_tables.csv"};
    static const char *const texts[] = {
        "org_unit_id,name,parent_id\nOU1,Unit,\n",
        "personnummer,given_name,family_name,protected_identity,clearing,account,iban\n"
        "19800101-1234,Eva,Ek,0,,,SE45 5000 0000 0583 9825 7466\n",
        "employment_id,personnummer,org_unit_id,start_date,end_date,pay_type,monthly_salary_ore,"
        "hourly_rate_ore,extent_pct,tax_table,tax_column,tax_fixed_pct\n"
        "E1,198001011234,OU1,2020-01-01,,monthly,3000000,,100.00,33,1,\n",
        "employment_id,period,pay_date,gross_ore,tax_ore,deductions_ore,net_ore\n",
        "year,kind,table,income_from,income_to,col1,col2,col3,col4,col5,col6,col7\n"};
    static const int rows[] = {1, 1, 1, 0, 0};
    char p[128], m[2048], sha[65];
    snprintf(p, sizeof p, "%s/snap", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    size_t n = (size_t)snprintf(m, sizeof m, "{\"format\":\"reservlon-snapshot\",\"version\":1,"
                                "\"source_system\":\"HR\",\"export_time\":\"2026-11-20T18:00:00Z\","
                                "\"employer_orgnr\":\"2120001234\",\"files\":{");
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "snap/%s", names[i]);
        put(name, texts[i]);
        hex_sha(texts[i], sha);
        n += (size_t)snprintf(m + n, sizeof m - n, "%s\"%s\":{\"rows\":%d,\"sha256\":\"%s\"}",
                              i ? "," : "", names[i], rows[i], sha);
    }
    snprintf(m + n, sizeof m - n, "}}\n");
    put("snap/manifest.json", m);
    hex_sha(m, manifest_sha);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rl-restore-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    make_snapshot();
    uint8_t pk_raw[32], sk_raw[64], id[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    crypto_sign_keypair(pk_raw, sk_raw);
    assert_int_equal(minisig_seckey_from_raw(sk_raw, id, &sk), RL_OK);
    minisig_seckey_pubkey(sk, &pk);
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    minisig_seckey_free(sk);
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes name (and name.minisig) in dir: a header, then the given line bodies, chained and
 * signed. Bodies are everything between "seq" and "prev". */
static void journal(const char *name, const char *const *bodies, size_t n)
{
    static char text[16384];
    char prev[65], body[1024], tc[300], sig[MINISIG_SIG_TEXT_MAX], p[256];
    size_t len = 0;
    memset(prev, '0', 64);
    prev[64] = '\0';
    for (size_t i = 0; i <= n; i++) {
        if (i == 0)
            snprintf(body, sizeof body,
                     "\"id\":\"header\",\"kind\":\"header\",\"format\":\"reservlon-journal\","
                     "\"version\":1,\"vault_id\":\"00112233445566778899aabbccddeeff\","
                     "\"snapshot_source\":\"HR\",\"snapshot_export_time\":\"2026-11-20T18:00:00Z\","
                     "\"snapshot_manifest_sha256\":\"%s\",\"snapshot_imported_at\":"
                     "\"2026-11-21T06:00:00Z\"", manifest_sha);
        else
            snprintf(body, sizeof body, "%s", bodies[i - 1]);
        int w = snprintf(text + len, sizeof text - len, "{\"seq\":%zu,%s,\"prev\":\"%s\"}\n",
                         i + 1, body, prev);
        assert_true(w > 0 && (size_t)w < sizeof text - len);
        journal_line_hash(text + len, (size_t)w - 1, prev);
        len += (size_t)w;
    }
    snprintf(tc, sizeof tc, "reservlon journal lines=%zu last=%s exported=x by=a+b key=0807",
             n + 1, prev);
    assert_int_equal(minisig_sign(sk, (const uint8_t *)text, len, tc, sig, sizeof sig), RL_OK);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(file_write_atomic(p, text, len, 0600), RL_OK);
    strcat(p, ".minisig");
    assert_int_equal(file_write_atomic(p, sig, strlen(sig), 0600), RL_OK);
}

#define REG(id, type, emp, eff, fields, corrects, seq)                                          \
    "\"id\":\"" id "\",\"kind\":\"registration\",\"type\":\"" type "\",\"personnummer\":"     \
    "\"198001011234\",\"employment_id\":" emp ",\"effective_date\":\"" eff "\","              \
    "\"end_date\":null,\"fields\":" fields ",\"corrects\":" corrects ",\"content_hash\":\"x\"," \
    "\"author\":\"bob\",\"recorded_at\":\"2026-11-24T10:00:00Z\",\"vault_seq\":" seq
#define DEC(id, what)                                                                            \
    "\"id\":\"" id "/decision\",\"kind\":\"decision\",\"registration\":\"" id "\",\"decision\":" \
    "\"" what "\",\"decided_by\":\"carol\",\"decided_at\":\"2026-11-24T11:00:00Z\","            \
    "\"reason\":null"
#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define U3 "33333333-3333-4333-8333-333333333333"
#define HIRE REG(U1, "hire", "\"R-1\"", "2026-12-01",                                            \
                 "{\"org_unit_id\":\"OU1\",\"pay_type\":\"hourly\",\"hourly_rate_ore\":19000,"   \
                 "\"extent_pct\":\"50\",\"tax_fixed_pct\":\"30\"}", "null", "1")
#define SALARY REG(U2, "salary_change", "\"E1\"", "2026-12-01",                                  \
                   "{\"monthly_salary_ore\":3500000}", "null", "2")

static char *slurp(const char *name)
{
    char p[256], *buf = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(file_read_all(p, 1 << 20, &buf, &len), RL_OK);
    return buf;
}

static void test_apply_and_state(void **state)
{
    (void)state;
    char main_dir[128], snap[128], j[128], out[128];
    snprintf(main_dir, sizeof main_dir, "%s/main", dir);
    snprintf(snap, sizeof snap, "%s/snap", dir);
    if (restore_init(main_dir, snap) != RL_OK)
        fail_msg("%s", err_msg());
    const char *const ok[] = {HIRE, DEC(U1, "approved"), SALARY, DEC(U2, "approved")};
    journal("ok.jsonl", ok, 4);
    snprintf(j, sizeof j, "%s/ok.jsonl", dir);
    restore_result r;
    if (restore_apply(main_dir, j, &pk, NULL, &r) != RL_OK)
        fail_msg("%s", err_msg());
    assert_int_equal(r.lines, 5);
    assert_int_equal(r.new_lines, 5);
    assert_int_equal(r.registrations, 2);
    assert_int_equal(r.decisions, 2);
    snprintf(out, sizeof out, "%s/state.csv", dir);
    assert_int_equal(restore_state_write(main_dir, out), RL_OK);
    char *s = slurp("state.csv");
    assert_non_null(strstr(s, "\n198001011234,0,,,SE4550000000058398257466,,snapshot\n"));
    assert_non_null(strstr(s, "\nE1,198001011234,OU1,2020-01-01,,monthly,3500000,,100,33,1,,"
                              "snapshot\n"));
    assert_non_null(strstr(s, "\nR-1,198001011234,OU1,2026-12-01,,hourly,,19000,50,,,30," U1
                              "\n"));
    free(s);
    /* Again: nothing new, nothing written. */
    char *before = slurp("main/ledger.json");
    assert_int_equal(restore_apply(main_dir, j, &pk, NULL, &r), RL_OK);
    assert_int_equal(r.new_lines, 0);
    char *after = slurp("main/ledger.json");
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* A refused journal (the rules below) leaves this ledger as it is. */
}

static void refused(const char *name, const char *const *bodies, size_t n, const char *why)
{
    char main_dir[128], snap[128], j[128];
    snprintf(main_dir, sizeof main_dir, "%s/rules", dir);
    snprintf(snap, sizeof snap, "%s/snap", dir);
    if (access(main_dir, F_OK) != 0)
        assert_int_equal(restore_init(main_dir, snap), RL_OK);
    char *before = slurp("rules/ledger.json");
    journal(name, bodies, n);
    snprintf(j, sizeof j, "%s/%s", dir, name);
    int rc = restore_apply(main_dir, j, &pk, NULL, NULL);
    if (rc != RL_EDATA || strstr(err_msg(), why) == NULL)
        fail_msg("%s: rc %d, '%s' (wanted '%s')", name, rc, err_msg(), why);
    char *after = slurp("rules/ledger.json");
    assert_string_equal(before, after);
    free(before);
    free(after);
    char p[256];
    snprintf(p, sizeof p, "%s/accepted.jsonl", main_dir);
    assert_int_not_equal(access(p, F_OK), 0);
}

static void test_rules(void **state)
{
    (void)state;
    const char *const unknown[] = {HIRE, DEC(U3, "approved")};
    refused("unknown.jsonl", unknown, 2, "line 3: a decision on " U3 ", which no earlier");
    const char *const twice[] = {HIRE, DEC(U1, "approved"),
                                 "\"id\":\"x\",\"kind\":\"decision\",\"registration\":\"" U1 "\","
                                 "\"decision\":\"rejected\",\"decided_by\":\"d\",\"decided_at\":"
                                 "\"2026-11-24T12:00:00Z\",\"reason\":\"no\""};
    refused("twice.jsonl", twice, 3, "line 4: a second decision on " U1);
    const char *const other_type[] = {
        HIRE, REG(U3, "salary_change", "\"E1\"", "2026-12-01", "{\"monthly_salary_ore\":1}",
                  "\"" U1 "\"", "2")};
    refused("type.jsonl", other_type, 2, "registration " U3 " field corrects");
    const char *const repeated[] = {HIRE, REG(U1, "salary_change", "\"E1\"", "2026-12-01",
                                              "{\"monthly_salary_ore\":1}", "null", "2")};
    refused("repeated.jsonl", repeated, 2, "line 3: its id repeats line 2's");
    const char *const snapshot[] = {
        "\"id\":\"snapshot/x\",\"kind\":\"snapshot\",\"source\":\"HR\",\"export_time\":"
        "\"2026-12-20T18:00:00Z\",\"manifest_sha256\":\"" U1 "\",\"imported_at\":\"x\","
        "\"imported_by\":\"alice\""};
    refused("snapshot.jsonl", snapshot, 1, "line 2: the appliance imported another snapshot");
    const char *const no_pay_type[] = {REG(U1, "hire", "\"R-1\"", "2026-12-01",
                                           "{\"org_unit_id\":\"OU1\",\"extent_pct\":\"50\"}",
                                           "null", "1")};
    refused("paytype.jsonl", no_pay_type, 1, "field pay_type: must be monthly or hourly");
}

static void test_init(void **state)
{
    (void)state;
    char main_dir[128], snap[128], p[160];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    /* Not empty: refused, untouched. */
    snprintf(main_dir, sizeof main_dir, "%s/busy", dir);
    assert_int_equal(mkdir(main_dir, 0700), 0);
    put("busy/keep", "x");
    assert_int_equal(restore_init(main_dir, snap), RL_EDATA);
    assert_non_null(strstr(err_msg(), "is not empty"));
    /* An empty directory is taken (and "dir/" is the same directory). */
    snprintf(main_dir, sizeof main_dir, "%s/empty", dir);
    assert_int_equal(mkdir(main_dir, 0700), 0);
    strcat(main_dir, "/");
    if (restore_init(main_dir, snap) != RL_OK)
        fail_msg("%s", err_msg());
    snprintf(p, sizeof p, "%s/empty/ledger.json", dir);
    assert_int_equal(access(p, F_OK), 0);
    /* A file changed after the export: an integrity failure, and nothing is left. */
    put("snap/employments.csv", "employment_id\n");
    snprintf(main_dir, sizeof main_dir, "%s/changed", dir);
    assert_int_equal(restore_init(main_dir, snap), RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "employments.csv: its SHA-256 is not the manifest's"));
    assert_int_not_equal(access(main_dir, F_OK), 0);
    /* No snapshot there at all. */
    snprintf(p, sizeof p, "%s/nothing", dir);
    assert_int_equal(restore_init(main_dir, p), RL_EDATA);
    assert_int_not_equal(access(main_dir, F_OK), 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_and_state),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_init), /* last: it damages the snapshot */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
