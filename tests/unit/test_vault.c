/* Unit tests for the vault: create/open round trip, authentication failures and the
 * growing delay's counter, roles, the audit chain, the commit record that catches a
 * silently rolled-back database, a database from another vault, and the upgrade of an
 * older schema with the pay lines it stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "payrun/payrun.h"
#include "vault/keyring.h"
#include "vault/vault.h"

#define ADMIN_PASS "correct horse battery"
#define REG_PASS "registrar passphrase"

static char base[256];

static void vpath(char *out, size_t cap, const char *leaf)
{
    snprintf(out, cap, "%s/%s", base, leaf);
}

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static vault *open_ok(const char *dir, const char *name, const char *pass)
{
    vault *v = NULL;
    int rc = vault_open(dir, name, pass, strlen(pass), &v);
    if (rc != RL_OK)
        fprintf(stderr, "open failed: %s\n", err_msg());
    assert_int_equal(rc, RL_OK);
    return v;
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/rl-vault-XXXXXX");
    assert_non_null(mkdtemp(base));
    char dir[300];
    vpath(dir, sizeof dir, "v");
    assert_int_equal(vault_create(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS)), RL_OK);
    vault *v = open_ok(dir, "alice", ADMIN_PASS);
    assert_int_equal(vault_operator_add(v, "bob", VAULT_ROLE_REGISTRAR, REG_PASS,
                                        strlen(REG_PASS)),
                     RL_OK);
    assert_int_equal(vault_begin(v), RL_OK);
    assert_int_equal(sqlite3_exec(vault_db(v),
                                  "INSERT INTO org_units VALUES('U1', 'Socialförvaltningen', "
                                  "NULL)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(vault_audit(v, "test.insert", "one org unit"), RL_OK);
    assert_int_equal(vault_commit(v), RL_OK);
    vault_close(v);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf '%s'", base);
    return 0;
}

static void test_round_trip_and_roles(void **state)
{
    (void)state;
    char dir[300];
    vpath(dir, sizeof dir, "v");
    vault *v = open_ok(dir, "bob", REG_PASS);
    assert_string_equal(vault_operator(v), "bob");
    assert_int_equal(vault_operator_role(v), VAULT_ROLE_REGISTRAR);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(vault_db(v), "SELECT name FROM org_units", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "Socialförvaltningen");
    sqlite3_finalize(st);
    /* A registrar cannot add operators; the message names the role needed. */
    assert_int_equal(vault_operator_add(v, "mallory", VAULT_ROLE_ADMIN, "long enough pass", 16),
                     RL_EAUTH);
    assert_non_null(strstr(err_msg(), "administrator"));
    uint64_t entries = 0;
    assert_int_equal(vault_check(v), RL_OK);
    assert_int_equal(vault_audit_verify(v, &entries), RL_OK);
    assert_int_equal(entries, 3); /* init, operator.add, test.insert */
    vault_close(v);
}

static void test_wrong_passphrase_counts_and_resets(void **state)
{
    (void)state;
    char dir[300], kr_path[320];
    vpath(dir, sizeof dir, "v");
    vpath(kr_path, sizeof kr_path, "v/keyring");
    vault *v = NULL;
    assert_int_equal(vault_open(dir, "bob", "not the passphrase", 18, &v), RL_EAUTH);
    assert_null(v);
    assert_non_null(strstr(err_msg(), "wrong passphrase"));
    assert_non_null(strstr(err_msg(), "waits 1 s"));
    keyring *kr;
    assert_int_equal(keyring_load(kr_path, &kr), RL_OK);
    assert_int_equal(keyring_failures(kr, "bob"), 1);
    assert_int_equal(keyring_failures(kr, "alice"), 0);
    keyring_free(kr);
    /* The right passphrase still works (after the delay) and resets the count. */
    v = open_ok(dir, "bob", REG_PASS);
    vault_close(v);
    assert_int_equal(keyring_load(kr_path, &kr), RL_OK);
    assert_int_equal(keyring_failures(kr, "bob"), 0);
    keyring_free(kr);
    /* Unknown operators and too-short new passphrases are refused clearly. */
    assert_int_equal(vault_open(dir, "nobody", REG_PASS, strlen(REG_PASS), &v), RL_EAUTH);
    assert_non_null(strstr(err_msg(), "no operator named"));
    v = open_ok(dir, "alice", ADMIN_PASS);
    assert_int_equal(vault_operator_add(v, "carol", VAULT_ROLE_APPROVER, "short", 5), RL_EDATA);
    assert_int_equal(vault_operator_add(v, "bad name!", VAULT_ROLE_APPROVER, REG_PASS,
                                        strlen(REG_PASS)),
                     RL_EDATA);
    vault_close(v);
}

static void test_rolled_back_database_detected(void **state)
{
    (void)state;
    char dir[300], old[300];
    vpath(dir, sizeof dir, "v");
    vpath(old, sizeof old, "old.db");
    /* Keep a validly sealed copy of the database, commit more, then put the copy back:
     * every page authenticates, but the commit record knows the vault is behind. */
    sh("cp '%s/vault.db' '%s'", dir, old);
    vault *v = open_ok(dir, "alice", ADMIN_PASS);
    assert_int_equal(vault_begin(v), RL_OK);
    assert_int_equal(vault_audit(v, "test.more", "a later change"), RL_OK);
    assert_int_equal(vault_commit(v), RL_OK);
    vault_close(v);
    sh("cp '%s/vault.db' '%s.new' && cp '%s' '%s/vault.db'", dir, old, old, dir);
    v = NULL;
    assert_int_equal(vault_open(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS), &v),
                     RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), "behind its commit record"));
    /* The commit record itself missing is an integrity failure too. */
    sh("cp '%s.new' '%s/vault.db' && mv '%s/commits' '%s/commits.bak'", old, dir, dir, dir);
    assert_int_equal(vault_open(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS), &v),
                     RL_EINTEGRITY);
    sh("mv '%s/commits.bak' '%s/commits'", dir, dir);
    v = open_ok(dir, "alice", ADMIN_PASS);
    vault_close(v);
}

static void test_database_from_other_vault_or_emptied(void **state)
{
    (void)state;
    char dir[300], other[300];
    vpath(dir, sizeof dir, "v");
    vpath(other, sizeof other, "w");
    assert_int_equal(vault_create(other, "alice", ADMIN_PASS, strlen(ADMIN_PASS)), RL_OK);
    sh("cp '%s/vault.db' '%s/vault.db.keep'", dir, dir);
    /* Another vault's database under this keyring: its pages do not open with this key. */
    sh("cp '%s/vault.db' '%s/vault.db'", other, dir);
    vault *v = NULL;
    assert_int_equal(vault_open(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS), &v),
                     RL_EINTEGRITY);
    /* Truncated to zero bytes: looks like an empty database to SQLite, not to the vault. */
    sh(": > '%s/vault.db'", dir);
    assert_int_equal(vault_open(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS), &v),
                     RL_EINTEGRITY);
    sh("mv '%s/vault.db.keep' '%s/vault.db'", dir, dir);
    v = open_ok(dir, "alice", ADMIN_PASS);
    vault_close(v);
    /* init refuses to overwrite an existing vault. */
    assert_int_equal(vault_create(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS)), RL_EDATA);
}

/* A crash leaves committed transactions in the -wal. A flipped byte anywhere in it (WAL
 * header, frame header, sealed page) makes SQLite's recovery drop frames silently; the
 * commit record must turn that into an integrity failure, and the intact copy must open. */
static void test_wal_flip_detected(void **state)
{
    (void)state;
    char dir[300], crash[300];
    vpath(dir, sizeof dir, "v");
    vpath(crash, sizeof crash, "crash");
    vault *v = open_ok(dir, "alice", ADMIN_PASS);
    assert_int_equal(vault_begin(v), RL_OK);
    assert_int_equal(sqlite3_exec(vault_db(v),
                                  "INSERT INTO org_units VALUES('U2', 'Kulturförvaltningen', NULL)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(vault_audit(v, "test.wal", "a commit that stays in the WAL"), RL_OK);
    assert_int_equal(vault_commit(v), RL_OK);
    /* What a power cut would leave: every file as it is while the vault is open. */
    sh("rm -rf '%s' && mkdir -m 700 '%s' && cp '%s'/vault.db '%s'/vault.db-wal '%s'/keyring "
       "'%s'/commits '%s'/",
       crash, crash, dir, dir, dir, dir, crash);
    vault_close(v);
    char wal[340];
    snprintf(wal, sizeof wal, "%s/vault.db-wal", crash);
    FILE *f = fopen(wal, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    assert_true(len > 32 + 24 + 4096);
    long offsets[] = {12, 32 + 4, 32 + 24 + 100, len - 4096 + 7, len - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        sh("rm -rf '%s.t' && cp -r '%s' '%s.t'", crash, crash, crash);
        /* Inverted, not overwritten: these bytes are ciphertext or a MAC, so writing a fixed
         * value left one in 256 of them unchanged (a flaky pass that was no detection). */
        char t[320], tw[360];
        snprintf(t, sizeof t, "%s.t", crash);
        snprintf(tw, sizeof tw, "%s/vault.db-wal", t);
        FILE *g = fopen(tw, "r+b");
        assert_non_null(g);
        assert_int_equal(fseek(g, offsets[i], SEEK_SET), 0);
        int byte = fgetc(g);
        assert_true(byte != EOF);
        assert_int_equal(fseek(g, offsets[i], SEEK_SET), 0);
        assert_int_equal(fputc(byte ^ 0xFF, g), byte ^ 0xFF);
        assert_int_equal(fclose(g), 0);
        vault *w = NULL;
        int rc = vault_open(t, "alice", ADMIN_PASS, strlen(ADMIN_PASS), &w);
        if (rc != RL_EINTEGRITY)
            fail_msg("flip at WAL offset %ld: expected an integrity failure, got %d (%s)",
                     offsets[i], rc, err_msg());
        vault_close(w);
    }
    /* The untouched crash copy recovers with the commit in place. */
    v = open_ok(crash, "alice", ADMIN_PASS);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(vault_db(v), "SELECT count(*) FROM org_units", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    assert_int_equal(vault_check(v), RL_OK);
    vault_close(v);
}

/* Reads a whole file (test sizes: a few pages). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spill(const char *path, const unsigned char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* An older, validly sealed copy of one page put back at its own place: the page seal binds
 * the page number, not its version. The audit table's last page used to pass (the newest
 * entries gone, the rest of the chain intact); the audit head kept in meta beside the
 * commit counter catches it, and an older meta page is behind the commit record. */
static void test_older_page_put_back_detected(void **state)
{
    (void)state;
    char dir[300], db[320];
    vpath(dir, sizeof dir, "v");
    vpath(db, sizeof db, "v/vault.db");
    size_t old_len, new_len;
    unsigned char *old = slurp(db, &old_len);
    vault *v = open_ok(dir, "alice", ADMIN_PASS);
    assert_int_equal(vault_begin(v), RL_OK);
    assert_int_equal(vault_audit(v, "test.later", "a later entry"), RL_OK);
    assert_int_equal(vault_commit(v), RL_OK);
    /* An entry outside a caller's transaction takes one of its own, head included. */
    assert_int_equal(vault_audit(v, "test.alone", "an entry on its own"), RL_OK);
    assert_int_equal(vault_check(v), RL_OK);
    vault_close(v);
    unsigned char *cur = slurp(db, &new_len);
    assert_true(old_len % 4096 == 0 && new_len % 4096 == 0 && old_len <= new_len);
    unsigned char *mixed = malloc(new_len);
    assert_non_null(mixed);
    int differing = 0, by_head = 0;
    for (size_t p = 0; p < old_len / 4096; p++) {
        if (memcmp(old + p * 4096, cur + p * 4096, 4096) == 0)
            continue;
        differing++;
        memcpy(mixed, cur, new_len);
        memcpy(mixed + p * 4096, old + p * 4096, 4096);
        spill(db, mixed, new_len);
        v = NULL;
        int rc = vault_open(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS), &v);
        if (rc == RL_OK) {
            rc = vault_check(v);
            vault_close(v);
        }
        if (rc != RL_EINTEGRITY)
            fail_msg("older page %zu put back: expected an integrity failure, got %d (%s)", p,
                     rc, rc ? err_msg() : "accepted");
        if (strstr(err_msg(), "the audit log ends at entry") != NULL)
            by_head++;
    }
    spill(db, cur, new_len);
    assert_true(differing >= 2); /* at least meta and the audit table's last page */
    assert_int_equal(by_head, 1);
    v = open_ok(dir, "alice", ADMIN_PASS);
    assert_int_equal(vault_check(v), RL_OK);
    vault_close(v);
    free(mixed);
    free(cur);
    free(old);
}

static void test_second_process_refused(void **state)
{
    (void)state;
    char dir[300];
    vpath(dir, sizeof dir, "v");
    vault *v = open_ok(dir, "alice", ADMIN_PASS);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vault *w = NULL;
        int rc = vault_open(dir, "alice", ADMIN_PASS, strlen(ADMIN_PASS), &w);
        _exit(rc == RL_EBUSY ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    vault_close(v);
}

static int64_t scalar_int(vault *v, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(vault_db(v), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* payrun_show --json of run id into a string (malloc'd) and its return code. */
static char *show_json(vault *v, int64_t id, int *rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *rc = payrun_show(v, id, 1, f);
    fclose(f);
    return text;
}

/* Runs sql in a vault transaction, committed. */
static void commit_sql(vault *v, const char *sql)
{
    assert_int_equal(vault_begin(v), RL_OK);
    assert_int_equal(sqlite3_exec(vault_db(v), sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(vault_commit(v), RL_OK);
}

/* payrun_show of run id refuses it as an integrity failure with message why. */
static void show_refused(vault *v, int64_t id, const char *why)
{
    int rc;
    char *text = show_json(v, id, &rc);
    assert_int_equal(rc, RL_EINTEGRITY);
    assert_non_null(strstr(err_msg(), why));
    free(text);
}

#define RUN_ROW(id)                                                                            \
    "INSERT INTO payruns(id, period, pay_date, policy, status, created_by, created_at,"        \
    " rules_sha256, employments, paid, gross_ore, tax_ore, deductions_ore, net_ore,"           \
    " last_net_ore, pending_ignored, second_needed) VALUES(" #id ", '2026-11', '2026-11-25',"   \
    " 'recalculate', 'created', 'alice', '2026-11-24T10:00:00Z', 'ab', 1, 1, 100, 20, 0, 80,"  \
    " 50, 0, 0);"

/* A vault of schema version 2 (no payrun_texts; results' lines stored as JSON) is upgraded
 * at the next login, in the audit log; its stored lines still show as they were. Lines
 * stored by this version (numbers into the run's texts) show as the same JSON, and damaged
 * ones are refused. */
static void test_schema_upgrade_and_stored_lines(void **state)
{
    (void)state;
    char dir[300];
    vpath(dir, sizeof dir, "v2");
    sh("cp -a '%s/v' '%s'", base, dir);
    vault *v = open_ok(dir, "alice", ADMIN_PASS);
    const char *old_lines = "[{\"code\":\"GROSS_SALARY\",\"amount_ore\":100,\"text\":\"monthly "
                            "salary\"},{\"code\":\"TAX\",\"amount_ore\":20,\"text\":\"tax table 33 "
                            "column 1\"}]";
    char sql[1200];
    snprintf(sql, sizeof sql,
             "DROP TABLE payrun_texts; PRAGMA user_version=2; " RUN_ROW(1)
             " INSERT INTO payrun_results VALUES(1, 'E1', '199001011234', 100, 20, 0, 80, 50,"
             " '%s', '', '');",
             old_lines);
    commit_sql(v, sql);
    vault_close(v);

    v = open_ok(dir, "alice", ADMIN_PASS);
    assert_int_equal(scalar_int(v, "PRAGMA user_version"), 3);
    assert_int_equal(scalar_int(v, "SELECT count(*) FROM audit WHERE action = 'vault.upgrade'"
                                   " AND detail = 'schema upgraded from version 2'"),
                     1);
    int rc;
    char *text = show_json(v, 1, &rc);
    assert_int_equal(rc, RL_OK);
    char want[600];
    snprintf(want, sizeof want, "\"lines\":%s}", old_lines);
    assert_non_null(strstr(text, want));
    free(text);

    /* The same lines as this version stores them: the same JSON. */
    commit_sql(v, RUN_ROW(2) " INSERT INTO payrun_texts VALUES(2, 0, 'GROSS_SALARY',"
                  " 'monthly salary'), (2, 1, 'TAX', 'tax table 33 column 1');"
                  " INSERT INTO payrun_results VALUES(2, 'E1', '199001011234', 100, 20, 0, 80,"
                  " 50, '0:100,1:20', '', ''),"
                  " (2, 'E2', '199001011234', 0, 0, 0, 0, 50, '', '', ''),"
                  " (2, 'E3', '199001011234', -5, 0, 0, -5, 50, '0:-5', '', ''),"
                  " (2, 'E4', '199001011234', 0, 0, 0, 1, 50,"
                  " '0:9223372036854775807,1:-9223372036854775808', '', '');");
    text = show_json(v, 2, &rc);
    assert_int_equal(rc, RL_OK);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\"employment_id\":\"E2\",\"personnummer\":\"19900101-1234\","
                                 "\"net_ore\":0,\"last_net_ore\":50,\"difference_ore\":-50,"
                                 "\"why\":\"\",\"lines\":[]}"));
    assert_non_null(strstr(text, "\"lines\":[{\"code\":\"GROSS_SALARY\",\"amount_ore\":-5,"
                                 "\"text\":\"monthly salary\"}]}"));
    /* Any amount the rules may return (an int64) is stored and shown whole. */
    assert_non_null(strstr(text, "\"amount_ore\":9223372036854775807,\"text\":\"monthly "
                                 "salary\"},{\"code\":\"TAX\",\"amount_ore\":-9223372036854775808,"));
    free(text);

    /* Damaged lines (a number with no text, a missing amount, a stray separator or
     * character) and texts with a gap in their numbers: each refused, naming the run and,
     * for lines, the employment. */
    const char *bad[] = {"0:100,2:20", "0:", "0:100;1:20", "0:100,", "x",
                         "0:9223372036854775808", "0:-9223372036854775809", "0:12345678901234567890"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(sql, sizeof sql, "UPDATE payrun_results SET lines = '%s' WHERE payrun_id = 2"
                                  " AND employment_id = 'E1'", bad[i]);
        commit_sql(v, sql);
        show_refused(v, 2, "pay run 2, employment E1: malformed stored pay lines");
    }
    commit_sql(v, "UPDATE payrun_results SET lines = '0:100,1:20' WHERE payrun_id = 2 AND"
                  " employment_id = 'E1'; UPDATE payrun_texts SET idx = 5 WHERE payrun_id = 2"
                  " AND idx = 1;");
    show_refused(v, 2, "pay run 2: its stored line texts are damaged");
    vault_close(v);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_roles),
        cmocka_unit_test(test_wrong_passphrase_counts_and_resets),
        cmocka_unit_test(test_rolled_back_database_detected),
        cmocka_unit_test(test_database_from_other_vault_or_emptied),
        cmocka_unit_test(test_wal_flip_detected),
        cmocka_unit_test(test_older_page_put_back_detected),
        cmocka_unit_test(test_second_process_refused),
        cmocka_unit_test(test_schema_upgrade_and_stored_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
